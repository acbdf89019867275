//! The cases of `benches/hot_path.rs` (`HotPath::check`: SigV4 verification against the
//! identity snapshot, routing, condition keys, policy evaluation of one request head), each
//! timed beside the floor of its own canonical request as the minimum over many interleaved
//! batches: on a shared, busy machine the minimum is what the code costs, while criterion's
//! means also measure the neighbours. Prints one line per case and the ratio.
//!
//! `cargo run --release -p keygate-server --example hot_path_ratio [ROUNDS]`

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
    let rounds = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);
    let cases = cases::Cases::new();
    let key = [7u8; 32];
    let denied = [("user 2KB policy deny", &cases.custom_denied)];
    for (name, parts) in cases.allowed().into_iter().chain(denied) {
        let canonical = cases::canonical_request(parts);
        timing::report(
            name,
            rounds,
            1000,
            &mut || {
                let _ = black_box(cases.hot.check(black_box(parts), cases.remote));
            },
            &mut || {
                black_box(cases::floor(black_box(&canonical), &key));
            },
        );
    }
}
