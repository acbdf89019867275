//! Timing one piece of shared state from two threads at once, as two server workers use it
//! (`benches/verify.rs`: the signing-key cache; the server's `benches/hot_path.rs`: the
//! metrics).

use std::sync::Barrier;
use std::time::{Duration, Instant};

/// For criterion's `iter_custom`: two new threads each run `f` `iters` times, both starting
/// together at a barrier, so they overlap however short the batch; the time is the slower
/// thread's.
pub fn each_of_two(iters: u64, f: impl Fn() + Sync) -> Duration {
    let start = Barrier::new(2);
    let each = || {
        start.wait();
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        t.elapsed()
    };
    std::thread::scope(|s| {
        let (one, two) = (s.spawn(each), s.spawn(each));
        one.join().unwrap().max(two.join().unwrap())
    })
}
