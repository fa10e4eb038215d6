#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    regcred::fuzzing::pull_secret(data);
});
