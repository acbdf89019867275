//! What each fuzz target checks, as plain functions of the input bytes.
//!
//! The cargo-fuzz targets in `fuzz_targets/` call these; the workspace's regression test
//! (`reference-server/tests/fuzz_corpus.rs`) includes this same file and replays every file of
//! `fuzz/corpus/<target>/` through them on the stable toolchain, so an input that once broke a
//! parser keeps being tested in CI without cargo-fuzz.
//!
//! The same test runs every target on a fixed number of mutants of its corpus
//! ([`mutate`]), the stable toolchain's stand-in for a libFuzzer run.
//!
//! Each check panics only on a broken invariant: a parser may refuse anything, but it must not
//! panic, allocate without bound, or (for object keys) resolve outside the bucket directory.

pub mod mutate;

use std::path::{Component, Path};
use std::sync::OnceLock;

use keygate_policy::{
    evaluate_all, Action, ConditionKey, ConditionMap, PolicyDocument, PrincipalType, Profile,
    RequestContext, OPERATOR_NAMES,
};
use keygate_sigv4::{
    parse, ChecksumAlgorithm, Config, RequestView, SecretKey, SigningKeyCache, Verified,
};
use time::macros::datetime;
use time::OffsetDateTime;

/// A target's check: panics on a broken invariant.
pub type Check = fn(&[u8]);

/// Every target, by the name of its corpus directory.
pub const TARGETS: &[(&str, Check)] = &[
    ("sigv4_header", sigv4_header),
    ("sigv4_presigned", sigv4_presigned),
    ("aws_chunked", aws_chunked),
    ("policy_json", policy_json),
    ("policy_structured", policy_structured),
    ("xml_bodies", xml_bodies),
    ("key_path", key_path),
];

/// The time every SigV4 target runs at (the AWS documentation examples' date).
const NOW: OffsetDateTime = datetime!(2013-05-24 00:00:00 UTC);
const AMZ_DATE: &str = "20130524T000000Z";
/// The AWS documentation's example secret (public).
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn secret() -> SecretKey {
    SecretKey::from(SECRET.to_owned())
}

/// Builds a request from `method`, `target` and `headers`, skipping inputs `http` refuses.
fn request(
    method: &str,
    target: &str,
    headers: &[(&str, &[u8])],
) -> Option<(http::Method, http::Uri, http::HeaderMap)> {
    let method = http::Method::from_bytes(method.as_bytes()).ok()?;
    let uri: http::Uri = target.parse().ok()?;
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).ok()?;
        let value = http::HeaderValue::from_bytes(value).ok()?;
        map.append(name, value);
    }
    Some((method, uri, map))
}

/// Parses, builds the canonical request and string to sign, and verifies against the example
/// secret: none of it may panic.
fn exercise(method: &http::Method, uri: &http::Uri, headers: &http::HeaderMap) {
    let view = RequestView {
        method,
        uri,
        headers,
    };
    if let Ok(Some(pending)) = parse(&view, NOW, &Config::default()) {
        let _ = pending.canonical_request(None);
        let _ = pending.canonical_request(Some([0; 32]));
        let _ = pending.string_to_sign(None);
        let _ = pending.access_key();
        let _ = pending.session_token();
        if let Ok(verified) = pending.verify(&secret(), &SigningKeyCache::new(4), Some([0; 32])) {
            let _ = verified.chunk_decoder(None);
        }
    }
}

/// The Authorization header parser: the first line is the header's value, every further
/// `name: value` line another header (x-amz-date, x-amz-content-sha256, … as the input says).
pub fn sigv4_header(data: &[u8]) {
    let mut lines = data.split(|b| *b == b'\n');
    let authorization = lines.next().unwrap_or_default();
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("host", b"examplebucket.s3.amazonaws.com"),
        ("authorization", authorization),
    ];
    let mut has_date = false;
    for line in lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let Ok(name) = std::str::from_utf8(&line[..colon]) else {
            continue;
        };
        has_date |= name.eq_ignore_ascii_case("x-amz-date");
        headers.push((name, line[colon + 1..].trim_ascii()));
    }
    if !has_date {
        headers.push(("x-amz-date", AMZ_DATE.as_bytes()));
    }
    if let Some((m, u, h)) = request("GET", "/test.txt", &headers) {
        exercise(&m, &u, &h);
    }
}

/// The presigned-URL parser and canonical query builder: the input is the request target
/// (path and query).
pub fn sigv4_presigned(data: &[u8]) {
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    let mut out = Vec::new();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    keygate_sigv4::canonical::canonical_query(&mut out, query, true);
    out.clear();
    keygate_sigv4::canonical::canonical_uri(
        &mut out,
        path,
        keygate_sigv4::Service::S3.uri_encoding(),
    );
    if let Some((m, u, h)) = request(
        "GET",
        target,
        &[("host", b"examplebucket.s3.amazonaws.com")],
    ) {
        exercise(&m, &u, &h);
    }
}

/// A verified request of the AWS S3 streaming example (signed chunks).
fn signed_streaming() -> &'static Verified {
    static V: OnceLock<Verified> = OnceLock::new();
    V.get_or_init(|| {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class, Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
        let (m, u, h) = request(
            "PUT",
            "/examplebucket/chunkObject.txt",
            &[
                ("content-encoding", b"aws-chunked"),
                ("content-length", b"66824"),
                ("host", b"s3.amazonaws.com"),
                ("x-amz-content-sha256", b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
                ("x-amz-date", AMZ_DATE.as_bytes()),
                ("x-amz-decoded-content-length", b"66560"),
                ("x-amz-storage-class", b"REDUCED_REDUNDANCY"),
                ("authorization", auth.as_bytes()),
            ],
        )
        .expect("the example request");
        verify_once(&m, &u, &h)
    })
}

/// A verified `STREAMING-UNSIGNED-PAYLOAD-TRAILER` request, signed here with the example
/// secret.
fn unsigned_trailer_streaming() -> &'static Verified {
    static V: OnceLock<Verified> = OnceLock::new();
    V.get_or_init(|| {
        let base: [(&str, &[u8]); 5] = [
            ("host", b"s3.amazonaws.com"),
            ("x-amz-content-sha256", b"STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("x-amz-date", AMZ_DATE.as_bytes()),
            ("x-amz-decoded-content-length", b"5"),
            ("x-amz-trailer", b"x-amz-checksum-crc32"),
        ];
        let auth = |signature: &str| {
            format!("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-trailer, Signature={signature}")
        };
        let with_auth = |a: &str| {
            let mut headers = base.to_vec();
            headers.push(("authorization", a.as_bytes()));
            request("PUT", "/examplebucket/trailer.txt", &headers).expect("a valid request")
        };
        let unsigned = auth(&"0".repeat(64));
        let (m, u, h) = with_auth(&unsigned);
        let view = RequestView {
            method: &m,
            uri: &u,
            headers: &h,
        };
        let sts = parse(&view, NOW, &Config::default())
            .expect("parses")
            .expect("signed")
            .string_to_sign(None);
        let key = keygate_sigv4::key::derive_signing_key(&secret(), "20130524", "us-east-1", "s3");
        let signature = key.sign(sts.as_bytes()).to_hex();
        let signed = auth(std::str::from_utf8(&signature).expect("hex"));
        let (m, u, h) = with_auth(&signed);
        verify_once(&m, &u, &h)
    })
}

fn verify_once(m: &http::Method, u: &http::Uri, h: &http::HeaderMap) -> Verified {
    let view = RequestView {
        method: m,
        uri: u,
        headers: h,
    };
    parse(&view, NOW, &Config::default())
        .expect("parses")
        .expect("signed")
        .verify(&secret(), &SigningKeyCache::new(1), None)
        .expect("verifies")
}

/// The aws-chunked decoder. First byte: bit 0 picks signed chunks (the AWS example) or
/// unsigned chunks with a trailer, bits 1-3 the trailer's checksum, bits 5-7 how the rest is
/// sliced; the rest is the body.
pub fn aws_chunked(data: &[u8]) {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let trailer = [
        None,
        Some(ChecksumAlgorithm::Crc32),
        Some(ChecksumAlgorithm::Crc32c),
        Some(ChecksumAlgorithm::Crc64Nvme),
        Some(ChecksumAlgorithm::Sha1),
        Some(ChecksumAlgorithm::Sha256),
        Some(ChecksumAlgorithm::Crc32),
        Some(ChecksumAlgorithm::Sha256),
    ][usize::from((control >> 1) & 7)];
    let verified = if control & 1 == 0 {
        signed_streaming()
    } else {
        unsigned_trailer_streaming()
    };
    let Ok(mut decoder) = verified.chunk_decoder(trailer) else {
        return;
    };
    let step = [1, 2, 3, 7, 16, 64, 1000, usize::MAX][usize::from(control >> 5)];
    let mut out = Vec::new();
    for piece in body.chunks(step.min(body.len().max(1))) {
        if decoder.push(piece, &mut out).is_err() {
            return;
        }
        assert!(out.len() <= body.len(), "decoded more bytes than were sent");
    }
    assert_eq!(decoder.decoded_len(), out.len() as u64);
    let _ = decoder.finish();
}

/// A request context to evaluate policies against, chosen by `seed`.
fn evaluate_both(policy: &keygate_policy::CompiledPolicy, seed: &[u8]) {
    let pick = |i: usize| seed.get(i).copied().unwrap_or(0) as usize;
    let action = Action::ALL[pick(0) % Action::ALL.len()];
    let resources = [
        "*",
        "data",
        "data/a.txt",
        "data/x/y",
        "other/k",
        "",
        "data/",
    ];
    let resource = resources[pick(1) % resources.len()];
    let mut values = ConditionMap::new();
    for (i, key) in ConditionKey::ALL.iter().enumerate() {
        if pick(2 + i) % 3 == 1 {
            values.set(*key, ["true", "127.0.0.1", "1", "x", ""][pick(3 + i) % 5]);
        }
    }
    let ctx = RequestContext {
        action,
        resource,
        username: "alice",
        userid: "alice",
        principal_type: [
            PrincipalType::User,
            PrincipalType::AssumedRole,
            PrincipalType::ServiceAccount,
        ][pick(4) % 3],
        values: &values,
        profile: [Profile::Reference, Profile::Minio, Profile::Aws][pick(5) % 3],
    };
    let first = policy.evaluate(&ctx);
    assert_eq!(first, policy.evaluate(&ctx), "evaluation is pure (E11)");
    let deny_all = PolicyDocument::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
    )
    .expect("deny-all parses")
    .compile();
    assert!(
        !evaluate_all(&[policy, &deny_all], &ctx).is_allowed(),
        "an explicit Deny wins wherever it stands (E1)"
    );
    assert_eq!(
        evaluate_all(&[policy, policy], &ctx).is_allowed(),
        first.is_allowed(),
        "a policy intersected with itself decides as itself"
    );
}

/// The policy parser, validator, compiler and evaluator on raw bytes.
pub fn policy_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(doc) = PolicyDocument::parse(text) {
        evaluate_both(&doc.compile(), data);
    }
}

/// The same on documents built from the input: every byte picks an element among valid ones,
/// so most inputs are well-formed policies and the evaluator, not the JSON parser, is explored.
pub fn policy_structured(data: &[u8]) {
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next().unwrap_or(0) as usize;
    let statements = 1 + next() % 4;
    let mut out = String::from(r#"{"Version":"2012-10-17","Statement":["#);
    for s in 0..statements {
        if s > 0 {
            out.push(',');
        }
        let effect = ["Allow", "Deny"][next() % 2];
        let action_key = ["Action", "NotAction"][usize::from(next() % 5 == 0)];
        let action = match next() % 4 {
            0 => "s3:*".to_owned(),
            1 => "s3:Get*".to_owned(),
            _ => Action::ALL[next() % Action::ALL.len()].as_str().to_owned(),
        };
        let resource_key = ["Resource", "NotResource"][usize::from(next() % 5 == 0)];
        let resource = [
            "*",
            "arn:aws:s3:::*",
            "arn:aws:s3:::data",
            "arn:aws:s3:::data/*",
            "arn:aws:s3:::data/a?.txt",
            "arn:aws:s3:::${aws:username}/*",
            "arn:aws:s3:::d*a/x",
        ][next() % 7];
        out.push_str(&format!(
            r#"{{"Effect":"{effect}","{action_key}":"{action}","{resource_key}":"{resource}""#
        ));
        if next() % 2 == 1 {
            let mut op = OPERATOR_NAMES[next() % OPERATOR_NAMES.len()].to_owned();
            match next() % 4 {
                1 => op.push_str("IfExists"),
                2 => op.insert_str(0, "ForAnyValue:"),
                3 => op.insert_str(0, "ForAllValues:"),
                _ => {}
            }
            let key = ConditionKey::ALL[next() % ConditionKey::ALL.len()].as_str();
            let value = [
                "true",
                "127.0.0.0/8",
                "10",
                "2013-05-24T00:00:00Z",
                "x*",
                "${aws:username}",
                "",
            ][next() % 7];
            out.push_str(&format!(r#","Condition":{{"{op}":{{"{key}":"{value}"}}}}"#));
        }
        out.push('}');
    }
    out.push_str("]}");
    if let Ok(doc) = PolicyDocument::parse(&out) {
        evaluate_both(&doc.compile(), data);
    }
}

/// The XML request bodies: DeleteObjects, CompleteMultipartUpload, object and bucket tagging.
pub fn xml_bodies(data: &[u8]) {
    use keygate_server::s3::xml;
    if let Ok((_, keys)) = xml::parse_delete(data) {
        assert!(!keys.is_empty() && keys.len() <= 1000);
    }
    let _ = xml::parse_complete(data);
    if let Ok(tags) = xml::parse_tagging(data, xml::Tagged::Object) {
        assert!(tags.len() <= 10);
        let _ = xml::tagging(&tags);
    }
    let _ = xml::parse_tagging(data, xml::Tagged::Bucket);
}

/// Object key to path: whatever the key, an accepted one resolves strictly inside the bucket
/// directory, through normal components only (X5).
pub fn key_path(data: &[u8]) {
    let Ok(key) = std::str::from_utf8(data) else {
        return;
    };
    let bucket = Path::new("/data/bucket");
    if let Ok(path) = keygate_server::store::keys::object_path(bucket, key) {
        let rest = path
            .strip_prefix(bucket)
            .expect("inside the bucket directory");
        assert!(
            rest.components().count() >= 1,
            "the bucket directory itself"
        );
        for c in rest.components() {
            assert!(
                matches!(c, Component::Normal(_)),
                "{key:?} resolves through {c:?}"
            );
        }
        assert!(!key.contains('\0'), "NUL accepted");
        assert!(key.len() <= 1024, "over-long key accepted");
    }
}
