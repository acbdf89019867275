#![no_main]
//! See `keygate_fuzz::key_path` for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzz::key_path(data));
