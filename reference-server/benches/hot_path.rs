//! The server's hot path: SigV4 verification + policy evaluation of one request head, beside
//! the floor (the hashing no verifier can avoid) measured in the same run.
//!
//! - `floor/*`: SHA-256 of the case's own canonical request + one HMAC of a string to sign
//!   (the user and 2 KB-policy requests share the user's shape; the STS one also signs its
//!   session token);
//! - `auth+authz/*`: `HotPath::check` (parse, key lookup in the snapshot, signature check with a
//!   cached signing key, routing, condition keys, policy evaluation) for a user holding
//!   `readwrite`, a user holding a 2 KB custom policy, STS credentials (session token, session
//!   policy intersected with the parent's) and a service account;
//! - `assume_role`: issuing STS credentials (one SQLite transaction + snapshot swap);
//! - `metrics/per_request`: what the server records of one request (three stage times and
//!   the request's count and total time), from one thread and from each of two threads at
//!   once on one `Metrics` (as two workers do).
//!
//! Requests are signed once with AWS's own `aws-sigv4`, so the server's verifier is checked
//! against an independent signer on every iteration.
//!
//! Timings on a shared machine are noisy; instruction counts are not. Count one case per call
//! of `HotPath::check` (or of `floor`) with callgrind, dividing `Ir` by the call count that
//! `callgrind_annotate --inclusive=yes --tree=caller` shows:
//!
//! ```sh
//! valgrind --tool=callgrind --toggle-collect='keygate_server::hotpath::HotPath::check' \
//!     target/release/deps/hot_path-* --bench 'user readwrite' --profile-time 1
//! valgrind --tool=callgrind --toggle-collect='hot_path::cases::floor' \
//!     target/release/deps/hot_path-* --bench 'floor/user' --profile-time 1
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../crates/sigv4/benches/support/floor.rs"]
mod floor;

#[path = "support/hot_cases.rs"]
mod cases;

#[path = "../crates/sigv4/benches/support/two_threads.rs"]
mod two_threads;

#[path = "../tests/common/aws_sign.rs"]
mod aws_sign;

use cases::{canonical_request, floor, Cases};
use keygate_server::metrics::{Metrics, OpLabel, Outcome, Stage};

fn bench(c: &mut Criterion) {
    let cases = Cases::new();
    let (hot, remote) = (&cases.hot, cases.remote);
    let mut g = c.benchmark_group("hot_path");
    g.measurement_time(Duration::from_secs(3));
    // One floor per case, over that case's own canonical request: the STS request also signs
    // its session token, whose hashing no verifier can avoid either.
    for (name, parts) in [
        ("user", &cases.user_get),
        ("sts", &cases.sts_get),
        ("service account", &cases.sa_get),
    ] {
        let canonical = canonical_request(parts);
        eprintln!("floor/{name}: a {}-byte canonical request", canonical.len());
        g.bench_function(format!("floor/{name}"), |b| {
            b.iter(|| floor(black_box(&canonical)))
        });
    }
    for (name, parts) in cases.allowed() {
        g.bench_function(format!("auth+authz/{name}"), |b| {
            b.iter(|| hot.check(black_box(parts), remote))
        });
    }
    g.bench_function("auth+authz/user 2KB policy deny", |b| {
        b.iter(|| hot.check(black_box(&cases.custom_denied), remote))
    });
    g.finish();

    let (ids, now) = (hot.identities(), cases.now);
    let mut g = c.benchmark_group("sts");
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("assume_role", |b| {
        b.iter(|| {
            let issued = ids
                .assume_role("custom", 900, None, now)
                .expect("assume role");
            // Stay under the 5000 live-credential limit however long criterion runs.
            ids.purge_expired(now + 901).expect("purge");
            black_box(issued)
        })
    });
    g.finish();
}

/// What `s3::serve` records of one HEAD request.
fn record_request(m: &Metrics) {
    m.stage(Stage::Sigv4, black_box(Duration::from_nanos(1_300)));
    m.stage(Stage::Policy, black_box(Duration::from_nanos(100)));
    m.stage(Stage::Storage, black_box(Duration::from_nanos(3_000)));
    let op = OpLabel::S3(keygate_server::s3::router::Operation::HeadObject);
    m.request(
        op,
        Outcome::Allowed,
        black_box(Duration::from_micros(7)),
        None,
    );
}

fn metrics(c: &mut Criterion) {
    let m = Metrics::default();
    let mut g = c.benchmark_group("metrics");
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("per_request", |b| b.iter(|| record_request(&m)));
    // Two threads at once (as two workers: each takes a stripe of its own).
    g.bench_function("per_request_two_threads", |b| {
        b.iter_custom(|iters| two_threads::each_of_two(iters, || record_request(&m)))
    });
    g.finish();
}

criterion_group!(benches, bench, metrics);
criterion_main!(benches);
