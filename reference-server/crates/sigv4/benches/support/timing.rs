//! Timing by the minimum of interleaved batches, shared by `examples/verify_ratio.rs` and the
//! server's `examples/hot_path_ratio.rs`: on a shared, busy machine the minimum is what the
//! code costs, while criterion's means also measure the neighbours.

use std::time::Instant;

/// Nanoseconds per call of `f`, the best of `rounds` batches of `batch` calls.
pub fn best(rounds: usize, batch: u32, f: &mut dyn FnMut()) -> f64 {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..batch {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(batch)
        })
        .fold(f64::MAX, f64::min)
}

/// Times `work` and `floor` in `rounds` interleaved batches (so both see the same machine)
/// and prints the best of each and their ratio.
pub fn report(
    name: &str,
    rounds: usize,
    batch: u32,
    work: &mut dyn FnMut(),
    floor: &mut dyn FnMut(),
) {
    let (mut v, mut f) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        v = v.min(best(1, batch, work));
        f = f.min(best(1, batch, floor));
    }
    println!("{name}: {v:.0} ns, floor {f:.0} ns, ratio {:.2}x", v / f);
}
