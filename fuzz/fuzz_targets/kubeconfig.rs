#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    regcred::fuzzing::kubeconfig(data);
});
