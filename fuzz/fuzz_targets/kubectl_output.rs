#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    regcred_fuzz::kubectl_output(&String::from_utf8_lossy(data));
});
