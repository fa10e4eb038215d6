#![no_main]

// Pattern and name split at the first NUL; both short enough for the reference matcher.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, name) = text.split_once('\0').unwrap_or((text, ""));
    if pattern.len() <= 64 && name.len() <= 256 {
        regcred_fuzz::glob(pattern, name);
    }
});
