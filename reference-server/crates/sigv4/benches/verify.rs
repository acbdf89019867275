//! Verification cost against its floor: the hashing no verifier can avoid.
//!
//! * header-signed GET (cached signing key): parse + verify vs SHA-256 of the canonical
//!   request + one HMAC of the string to sign;
//! * presigned GET: the same;
//! * one 64 KiB signed chunk: decoder + push vs SHA-256 of 64 KiB + one HMAC;
//! * a signing-key cache hit, from one thread and from two threads at once on one cache (what
//!   a server's workers do: the per-thread front keeps the second thread from costing the
//!   first).
//!
//! Goal: each verification within 1.3x of its floor. On a busy machine criterion's means
//! swing; `cargo run --release -p keygate-sigv4 --example verify_ratio` times the same cases
//! as the minimum of many interleaved batches.

#[path = "support/floor.rs"]
mod floor;

#[path = "../tests/common/mod.rs"]
mod common;

#[path = "support/cases.rs"]
mod cases;

#[path = "support/two_threads.rs"]
mod two_threads;

use cases::{RequestCase, NOW};
use criterion::{criterion_group, criterion_main, Criterion};
use keygate_sigv4::{parse, SecretKey, SigningKeyCache};
use std::hint::black_box;

fn bench_request(c: &mut Criterion, name: &str, case: &RequestCase) {
    let p = parse(&case.req.view(), NOW, &case.cfg).unwrap().unwrap();
    let mut g = c.benchmark_group(name);
    g.bench_function("verify", |b| b.iter(|| black_box(case.verify())));
    g.bench_function("floor", |b| b.iter(|| black_box(case.floor())));
    // Breakdown: the secret-free checks alone, and the canonical request alone.
    g.bench_function("parse_only", |b| {
        b.iter(|| {
            let view = case.req.view();
            black_box(parse(black_box(&view), NOW, &case.cfg).unwrap().unwrap())
        })
    });
    g.bench_function("canonical_only", |b| {
        b.iter(|| black_box(p.canonical_request(None)))
    });
    g.finish();
}

fn header_get(c: &mut Criterion) {
    bench_request(c, "header_get", &cases::header_get());
}

fn presigned_get(c: &mut Criterion) {
    bench_request(c, "presigned_get", &cases::presigned_get());
}

fn chunk_64k(c: &mut Criterion) {
    let case = cases::chunk_64k();
    let mut out = Vec::with_capacity(65_536);
    let mut g = c.benchmark_group("chunk_64k");
    g.throughput(criterion::Throughput::Bytes(65_536));
    g.bench_function("verify", |b| b.iter(|| black_box(case.verify(&mut out))));
    g.bench_function("floor", |b| b.iter(|| black_box(case.floor())));
    g.finish();
}

fn key_cache(c: &mut Criterion) {
    let cache = SigningKeyCache::new(64);
    let secret = SecretKey::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned());
    let get = || cache.get(black_box(&secret), b"20250115", "us-east-1", "s3");
    let mut g = c.benchmark_group("signing_key_cache");
    g.bench_function("hit", |b| b.iter(|| black_box(get())));
    // Two threads at once, each with its own front of recent entries.
    g.bench_function("hit_two_threads", |b| {
        b.iter_custom(|iters| {
            two_threads::each_of_two(iters, || {
                black_box(get());
            })
        })
    });
    g.finish();
}

criterion_group!(benches, header_get, presigned_get, chunk_64k, key_cache);
criterion_main!(benches);
