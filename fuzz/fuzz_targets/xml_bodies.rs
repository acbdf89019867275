#![no_main]
//! See `keygate_fuzz::xml_bodies` for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzz::xml_bodies(data));
