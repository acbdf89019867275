#![no_main]
//! See `keygate_fuzz::policy_json` for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzz::policy_json(data));
