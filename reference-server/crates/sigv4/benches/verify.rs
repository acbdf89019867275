//! Verification cost against its floor: the hashing no verifier can avoid.
//!
//! * header-signed GET (cached signing key): parse + verify vs SHA-256 of the canonical
//!   request + one HMAC of the string to sign;
//! * presigned GET: the same;
//! * one 64 KiB signed chunk: decoder + push vs SHA-256 of 64 KiB + one HMAC.
//!
//! Goal: each verification within 1.3x of its floor.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{hdrs, Req, Signer};
use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use keygate_sigv4::{parse, Config, SecretKey, SigningKeyCache};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2025-01-15 10:00:00 UTC);
const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The unavoidable work: hash the canonical request, one HMAC over the string to sign.
fn floor(key: &[u8; 32], sts_prefix: &[u8], creq: &[u8]) -> [u8; 32] {
    let hash = Sha256::digest(creq);
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(sts_prefix);
    mac.update(hex::encode(hash).as_bytes());
    mac.finalize().into_bytes().into()
}

fn bench_request(c: &mut Criterion, name: &str, req: &Req, signer: &Signer) {
    let cfg = Config::default();
    let secret = SecretKey::from(signer.secret.clone());
    let cache = SigningKeyCache::new(64);
    let p = parse(&req.view(), NOW, &cfg).unwrap().unwrap();
    let creq = p.canonical_request(None);
    parse(&req.view(), NOW, &cfg)
        .unwrap()
        .unwrap()
        .verify(&secret, &cache, None)
        .unwrap();
    let key = signer.signing_key();
    let prefix = format!("AWS4-HMAC-SHA256\n{}\n{}\n", signer.date(), signer.scope());
    let mut g = c.benchmark_group(name);
    g.bench_function("verify", |b| {
        b.iter(|| {
            let p = parse(black_box(&req.view()), NOW, &cfg).unwrap().unwrap();
            black_box(p.verify(&secret, &cache, None).unwrap())
        })
    });
    g.bench_function("floor", |b| {
        b.iter(|| black_box(floor(&key, prefix.as_bytes(), black_box(&creq))))
    });
    // Breakdown: the secret-free checks alone, and the canonical request alone.
    g.bench_function("parse_only", |b| {
        b.iter(|| black_box(parse(black_box(&req.view()), NOW, &cfg).unwrap().unwrap()))
    });
    g.bench_function("canonical_only", |b| {
        b.iter(|| black_box(p.canonical_request(None)))
    });
    g.finish();
}

fn header_get(c: &mut Criterion) {
    let signer = Signer::s3(NOW);
    let mut headers = hdrs(&[
        ("host", "bucket.s3.us-east-1.amazonaws.com"),
        ("x-amz-content-sha256", EMPTY),
        ("user-agent", "aws-sdk-rust/1.3 os/linux lang/rust"),
        (
            "amz-sdk-invocation-id",
            "0f0c3c5e-6c1e-4d2c-9b0e-5f1f0f6f6b0a",
        ),
        ("amz-sdk-request", "attempt=1; max=3"),
    ]);
    signer.sign_headers(
        "GET",
        "/bucket/photos/2025/cat.jpg",
        &mut headers,
        EMPTY,
        None,
    );
    let req = Req::new("GET", "/bucket/photos/2025/cat.jpg", &headers);
    bench_request(c, "header_get", &req, &signer);
}

fn presigned_get(c: &mut Criterion) {
    let signer = Signer::s3(NOW);
    let headers = hdrs(&[("host", "bucket.s3.us-east-1.amazonaws.com")]);
    let url = signer.presign(
        "GET",
        "/bucket/photos/2025/cat.jpg",
        &headers,
        3600,
        "host",
        "UNSIGNED-PAYLOAD",
    );
    let req = Req::new("GET", &url, &headers);
    bench_request(c, "presigned_get", &req, &signer);
}

fn chunk_64k(c: &mut Criterion) {
    let signer = Signer::s3(NOW);
    let mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    let mut headers = hdrs(&[("host", "h"), ("x-amz-content-sha256", mode)]);
    signer.sign_headers("PUT", "/b/k", &mut headers, mode, None);
    let seed = headers
        .last()
        .unwrap()
        .1
        .rsplit("Signature=")
        .next()
        .unwrap()
        .to_owned();
    let req = Req::new("PUT", "/b/k", &headers);
    let p = parse(&req.view(), NOW, &Config::default())
        .unwrap()
        .unwrap();
    let v = p
        .verify(
            &SecretKey::from(signer.secret.clone()),
            &SigningKeyCache::new(1),
            None,
        )
        .unwrap();
    let data = vec![b'a'; 65_536];
    let body = signer.chunked_body(Some(&seed), &[&data], None);
    // The first chunk only: size line, 64 KiB, CRLF.
    let first = &body[..88 + 65_536 + 2];
    assert_eq!(&first[first.len() - 2..], b"\r\n");
    let key = signer.signing_key();
    let prefix = format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{seed}\n{EMPTY}\n",
        signer.date(),
        signer.scope()
    );
    let mut out = Vec::with_capacity(65_536);
    let mut g = c.benchmark_group("chunk_64k");
    g.throughput(criterion::Throughput::Bytes(65_536));
    g.bench_function("verify", |b| {
        b.iter(|| {
            out.clear();
            let mut dec = v.chunk_decoder(None).unwrap();
            dec.push(black_box(first), &mut out).unwrap();
            black_box(dec.decoded_len())
        })
    });
    g.bench_function("floor", |b| {
        b.iter(|| black_box(floor(&key, prefix.as_bytes(), black_box(&data))))
    });
    g.finish();
}

criterion_group!(benches, header_get, presigned_get, chunk_64k);
criterion_main!(benches);
