//! Pure SigV4 verification for Keygate (no I/O, no runtime). See SPEC rules V1–V8.
