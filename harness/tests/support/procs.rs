//! Processes seen through `/proc`, for the tests that check no child outlives what started it.

use std::time::{Duration, Instant};

/// Whether process `pid` is still running: gone, or a zombie waiting for a parent that does
/// not reap (PID 1 in a container), is not running.
pub fn running(pid: &str) -> bool {
    pid.trim()
        .parse()
        .is_ok_and(|pid| !keygate::load::procs::ended(pid))
}

/// Waits up to `limit` for `pid` to stop running; whether it did.
pub fn stops_within(pid: &str, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while running(pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    !running(pid)
}
