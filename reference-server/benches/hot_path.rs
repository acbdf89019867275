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
//! - `assume_role`: issuing STS credentials (one SQLite transaction + snapshot swap).
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
//! valgrind --tool=callgrind --toggle-collect='hot_path::floor' \
//!     target/release/deps/hot_path-* --bench 'floor/user' --profile-time 1
//! ```

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use keygate_server::{HotPath, ServerConfig};
use sha2::{Digest, Sha256};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A signed `GET /bucket/key` head, as a client would send it.
fn signed_get(ak: &str, sk: &str, token: Option<&str>, path: &str) -> http::request::Parts {
    let host = "127.0.0.1:9000";
    let mut headers = vec![
        ("host".to_owned(), host.to_owned()),
        (
            "user-agent".to_owned(),
            "aws-sdk-rust/1.x keygate-bench".to_owned(),
        ),
    ];
    let identity = Credentials::new(ak, sk, token.map(str::to_owned), None, "bench").into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.signature_location = SignatureLocation::Headers;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let uri = format!("http://{host}{path}");
    let signable = SignableRequest::new(
        "GET",
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Precomputed(EMPTY_SHA256.to_owned()),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("signs").into_parts();
    headers.extend(
        instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let mut builder = http::Request::builder().method("GET").uri(path);
    for (k, v) in &headers {
        builder = builder.header(k, v);
    }
    builder.body(()).expect("request").into_parts().0
}

/// The hashing no verifier can avoid: SHA-256 of the canonical request, one HMAC of the string
/// to sign. Not inlined, so callgrind can count it alone (see the module header).
///
/// The hex of the hash goes to the stack and the rest of the string to sign is a constant: the
/// floor counts hashing, not allocation.
#[inline(never)]
fn floor(canonical: &str, key: &[u8; 32]) -> [u8; 32] {
    let mut hex = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(canonical.as_bytes()), &mut hex).expect("64 bytes");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("hmac");
    mac.update(b"AWS4-HMAC-SHA256\n20261129T000000Z\n20261129/us-east-1/s3/aws4_request\n");
    mac.update(&hex);
    mac.finalize().into_bytes().into()
}

/// The canonical request of a signed head, as the server's verifier builds it (the requests
/// are signed by `aws-sigv4` and checked by the server below, so it is the right one).
fn canonical_request(parts: &http::request::Parts) -> String {
    let view = keygate_sigv4::RequestView {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
    };
    let now = time::OffsetDateTime::now_utc();
    let pending = keygate_sigv4::parse(&view, now, &keygate_sigv4::Config::default())
        .expect("parses")
        .expect("signed");
    String::from_utf8(pending.canonical_request(None)).expect("UTF-8")
}

/// A 2 KB custom policy: many statements, wildcards, conditions and a variable.
fn custom_policy() -> String {
    let mut statements = vec![
        r#"{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::bench/locked/*"}"#.to_owned(),
        r#"{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":"arn:aws:s3:::bench","Condition":{"StringLike":{"s3:prefix":["${aws:username}/*","shared/*"]}}}"#.to_owned(),
        r#"{"Effect":"Allow","Action":["s3:Get*","s3:PutObject"],"Resource":"arn:aws:s3:::bench/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.0/8"]},"StringLike":{"aws:UserAgent":"*aws-sdk*"}}}"#.to_owned(),
    ];
    let mut i = 0;
    while statements.iter().map(String::len).sum::<usize>() < 1_800 {
        statements.insert(
            1,
            format!(r#"{{"Effect":"Allow","Action":"s3:Get?bject","Resource":"arn:aws:s3:::archive-{i}/*/2024-??-*"}}"#),
        );
        i += 1;
    }
    let mut doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    );
    while doc.len() < 2048 {
        doc.insert(doc.len() - 1, ' ');
    }
    assert_eq!(doc.len(), 2048);
    doc
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = ServerConfig::new(dir.path());
    cfg.posix_ownership = false;
    cfg.root_access_key = Some("benchroot".into());
    cfg.root_secret_key = Some("bench-root-secret".into());
    let hot = HotPath::open(cfg).expect("hot path opens");
    let ids = hot.identities();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    ids.add_user("rwuser", "Password1", 1000, 1000, now)
        .expect("user");
    ids.attach("readwrite", "rwuser").expect("attach");
    ids.add_user("custom", "Password1", 1001, 1001, now)
        .expect("user");
    ids.put_policy("custom2k", &custom_policy(), now)
        .expect("policy");
    ids.attach("custom2k", "custom").expect("attach");
    let session_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bench/*"}]}"#;
    let sts = ids
        .assume_role("rwuser", 3600, Some(session_policy), now)
        .expect("assume role");
    let sa = ids
        .add_service_account("rwuser", None, now)
        .expect("service account");
    let remote: SocketAddr = "127.0.0.1:50000".parse().expect("addr");

    let user_get = signed_get("rwuser", "Password1", None, "/bench/rwuser/object.txt");
    let custom_get = signed_get("custom", "Password1", None, "/bench/custom/object.txt");
    let custom_denied = signed_get("custom", "Password1", None, "/bench/other/object.txt");
    let sts_get = signed_get(
        &sts.access_key,
        &sts.secret_key,
        sts.session_token.as_deref(),
        "/bench/rwuser/object.txt",
    );
    let sa_get = signed_get(
        &sa.access_key,
        &sa.secret_key,
        None,
        "/bench/rwuser/object.txt",
    );
    for (name, parts) in [
        ("user", &user_get),
        ("custom", &custom_get),
        ("sts", &sts_get),
        ("service account", &sa_get),
    ] {
        assert!(
            hot.check(parts, remote).expect(name).is_allowed(),
            "{name} must be allowed"
        );
    }
    assert!(
        hot.check(&custom_denied, remote).is_err(),
        "outside the home folder is denied"
    );

    let mut g = c.benchmark_group("hot_path");
    g.measurement_time(Duration::from_secs(3));
    // One floor per case, over that case's own canonical request: the STS request also signs
    // its session token, whose hashing no verifier can avoid either.
    let key = [7u8; 32];
    for (name, parts) in [
        ("user", &user_get),
        ("sts", &sts_get),
        ("service account", &sa_get),
    ] {
        let canonical = canonical_request(parts);
        eprintln!("floor/{name}: a {}-byte canonical request", canonical.len());
        g.bench_function(format!("floor/{name}"), |b| {
            b.iter(|| floor(black_box(&canonical), &key))
        });
    }
    g.bench_function("auth+authz/user readwrite", |b| {
        b.iter(|| hot.check(black_box(&user_get), remote))
    });
    g.bench_function("auth+authz/user 2KB policy allow", |b| {
        b.iter(|| hot.check(black_box(&custom_get), remote))
    });
    g.bench_function("auth+authz/user 2KB policy deny", |b| {
        b.iter(|| hot.check(black_box(&custom_denied), remote))
    });
    g.bench_function("auth+authz/sts session token", |b| {
        b.iter(|| hot.check(black_box(&sts_get), remote))
    });
    g.bench_function("auth+authz/service account", |b| {
        b.iter(|| hot.check(black_box(&sa_get), remote))
    });
    g.finish();

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

criterion_group!(benches, bench);
criterion_main!(benches);
