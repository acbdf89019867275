//! Pure IAM policy engine for Keygate (no I/O, synchronous). See SPEC rules P1–P7, E1–E11.
