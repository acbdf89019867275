//! The cases of `benches/hot_path.rs` (`HotPath::check`: SigV4 verification against the
//! identity snapshot, routing, condition keys, policy evaluation of one request head), each
//! timed beside the floor of its own canonical request as the minimum over many interleaved
//! batches: on a shared, busy machine the minimum is what the code costs, while criterion's
//! means also measure the neighbours. Prints one line per case and the ratio.
//!
//! `cargo run --release -p keygate-server --example hot_path_ratio [ROUNDS]`
//!
//! For profilers, `loop CASE N` checks one case N times and nothing else (CASE is a prefix of
//! a case's name: `user r`, `user 2KB policy a`, `sts`, `service`, ...); `cases` prints every
//! case's name, one a line, for scripts (`scripts/ratio-ab --instructions`). Under valgrind build
//! with `RUSTFLAGS=--cfg=rustix_use_libc` (rustix's vDSO set-up crashes there).

#[path = "../crates/sigv4/benches/support/floor.rs"]
mod floor;

// Shared with the bench, which also uses what this example does not (`now`).
#[allow(dead_code)]
#[path = "../benches/support/hot_cases.rs"]
mod cases;

#[path = "../tests/common/aws_sign.rs"]
mod aws_sign;

#[path = "../crates/sigv4/benches/support/timing.rs"]
mod timing;

use std::hint::black_box;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cases = cases::Cases::new();
    let denied = [("user 2KB policy deny", &cases.custom_denied)];
    let all = || cases.allowed().into_iter().chain(denied);
    if args.first().map(String::as_str) == Some("cases") {
        return all().for_each(|(name, _)| println!("{name}"));
    }
    if let [cmd, case, n] = &args[..] {
        if cmd == "loop" {
            let Some((name, parts)) = all().find(|(name, _)| name.starts_with(case.as_str()))
            else {
                eprintln!("loop: no case starts with {case:?}");
                std::process::exit(2);
            };
            let n: u64 = n.parse().unwrap_or(1_000_000);
            let t = std::time::Instant::now();
            for _ in 0..n {
                let _ = black_box(cases.hot.check(black_box(parts), cases.remote));
            }
            eprintln!("{name}: {:.0} ns", t.elapsed().as_nanos() as f64 / n as f64);
            return;
        }
    }
    let rounds = args.first().and_then(|r| r.parse().ok()).unwrap_or(200);
    for (name, parts) in all() {
        let canonical = cases::canonical_request(parts);
        timing::report(
            name,
            rounds,
            1000,
            &mut || {
                let _ = black_box(cases.hot.check(black_box(parts), cases.remote));
            },
            &mut || {
                black_box(cases::floor(black_box(&canonical)));
            },
        );
    }
}
