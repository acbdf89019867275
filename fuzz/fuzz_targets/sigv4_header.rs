#![no_main]
//! See `keygate_fuzz::sigv4_header` for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzz::sigv4_header(data));
