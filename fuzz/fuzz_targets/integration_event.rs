#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| amina_fuzz::integration_event(data));
