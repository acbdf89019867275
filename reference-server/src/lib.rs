//! Keygate reference server.
