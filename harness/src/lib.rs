//! Keygate's conformance harness: scenario files (`scenario`) run against a target (`target`)
//! by the runner (`run`), with results written as JSON, JUnit and HTML (`report`); SIGINT and
//! SIGTERM stop a run cleanly (`interrupt`).
//!
//! The harness is an independent oracle: it speaks to targets only over the wire, through
//! `aws-sdk-s3`/`aws-sdk-sts` and requests signed by `aws-sigv4`. It links the reference server
//! only to start it in-process as the default target (feature `embedded`).

/// `eprintln!` that cannot panic: a stderr that is closed (`2>&1 | head -3`) or full
/// (`2>/dev/full`) loses the line, and the exit code stands (`eprintln!` would panic, 101).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod cli;
pub mod interrupt;
pub mod load;
pub mod report;
pub mod run;
pub mod scenario;
pub mod target;
