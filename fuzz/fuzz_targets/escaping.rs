#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    regcred_fuzz::escaping(&String::from_utf8_lossy(data));
});
