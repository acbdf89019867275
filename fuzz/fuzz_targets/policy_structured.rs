#![no_main]
//! See `keygate_fuzz::policy_structured` for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_fuzz::policy_structured(data));
