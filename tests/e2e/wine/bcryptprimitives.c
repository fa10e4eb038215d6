/* Wine 8 (Debian 12) has no bcryptprimitives.dll, whose ProcessPrng Rust's standard library
 * calls for randomness on Windows since Rust 1.78; Windows 10 and newer ship it. For the
 * platform test only (tests/e2e/platforms.sh), this stand-in is put next to the .exe under
 * wine and answers from RtlGenRandom (advapi32's SystemFunction036), which wine implements.
 * It is never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
