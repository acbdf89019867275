#![no_main]
//! See `keygate_fuzz::aws_chunked` for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzz::aws_chunked(data));
