use keygate_server::metrics::{Metrics, OpLabel, Outcome, Stage};
use std::hint::black_box;
use std::time::{Duration, Instant};
fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2);
    let m = Metrics::default();
    let mut best = [f64::MAX; 8];
    for _ in 0..100 {
        std::thread::scope(|sc| {
            let hs: Vec<_> = (0..threads)
                .map(|_| {
                    sc.spawn(|| {
                        let t = Instant::now();
                        for i in 0..20000u64 {
                            m.stage(Stage::Sigv4, Duration::from_nanos(black_box(1300 + i % 7)));
                            m.stage(Stage::Policy, Duration::from_nanos(black_box(100)));
                            m.stage(Stage::Storage, Duration::from_nanos(black_box(3000)));
                            m.request(
                                OpLabel::Unrouted,
                                Outcome::Allowed,
                                Duration::from_nanos(black_box(7000)),
                                None,
                            );
                        }
                        t.elapsed().as_nanos() as f64 / 20000.0
                    })
                })
                .collect();
            for (i, h) in hs.into_iter().enumerate() {
                let v = h.join().unwrap();
                if v < best[i] {
                    best[i] = v;
                }
            }
        });
    }
    println!(
        "{threads} threads: best {:?} ns per request's metrics",
        &best[..threads]
    );
}
