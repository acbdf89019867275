//! The requests `benches/hot_path.rs` and `examples/hot_path_ratio.rs` measure, the identities
//! behind them, and the floor they are compared with (shared, so both time the same work).

use std::net::SocketAddr;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignatureLocation, SigningSettings,
};
use keygate_server::{HotPath, ServerConfig};

use crate::aws_sign::aws_sign;

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A signed `GET /bucket/key` head, as a client would send it.
pub fn signed_get(ak: &str, sk: &str, token: Option<&str>, path: &str) -> http::request::Parts {
    let host = "127.0.0.1:9000";
    let mut headers = vec![
        ("host".to_owned(), host.to_owned()),
        (
            "user-agent".to_owned(),
            "aws-sdk-rust/1.x keygate-bench".to_owned(),
        ),
    ];
    let credentials = Credentials::new(ak, sk, token.map(str::to_owned), None, "bench");
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.signature_location = SignatureLocation::Headers;
    let unsigned: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let signed = aws_sign(
        &credentials,
        "s3",
        settings,
        SystemTime::now(),
        "GET",
        &format!("http://{host}{path}"),
        &unsigned,
        SignableBody::Precomputed(EMPTY_SHA256.to_owned()),
    );
    headers.extend(signed.headers);
    let mut builder = http::Request::builder().method("GET").uri(path);
    for (k, v) in &headers {
        builder = builder.header(k, v);
    }
    builder.body(()).expect("request").into_parts().0
}

/// The hashing no verifier can avoid (`floor.rs`): SHA-256 of the canonical request, one HMAC
/// of the string to sign. Not inlined, so callgrind can count it alone (see the module header).
///
/// The hex of the hash goes to the stack and the rest of the string to sign is a constant: the
/// floor counts hashing, not allocation.
#[inline(never)]
pub fn floor(canonical: &str) -> [u8; 32] {
    crate::floor::floor(&FLOOR_KEY, STS_PREFIX, canonical.as_bytes())
}

/// The floor's signing key (any 32 bytes: the hashing does not depend on them).
const FLOOR_KEY: [u8; 32] = [7; 32];

/// The string to sign up to the hash, for the floor (its length is what counts).
const STS_PREFIX: &[u8] =
    b"AWS4-HMAC-SHA256\n20261129T000000Z\n20261129/us-east-1/s3/aws4_request\n";

/// The canonical request of a signed head, as the server's verifier builds it (the requests
/// are signed by `aws-sigv4` and checked by the server below, so it is the right one), after
/// checking the floor's hashing of it.
pub fn canonical_request(parts: &http::request::Parts) -> String {
    let view = keygate_sigv4::RequestView {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
    };
    let now = time::OffsetDateTime::now_utc();
    let pending = keygate_sigv4::parse(&view, now, &keygate_sigv4::Config::default())
        .expect("parses")
        .expect("signed");
    let canonical = String::from_utf8(pending.canonical_request(None)).expect("UTF-8");
    // Whoever times the floor over this request times the right hashing.
    crate::floor::check(&FLOOR_KEY, STS_PREFIX, canonical.as_bytes());
    canonical
}

/// A 2 KB custom policy: many statements, wildcards, conditions and a variable.
pub fn custom_policy() -> String {
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

/// A server's hot path with its identities, and one signed request per case.
pub struct Cases {
    pub hot: HotPath,
    pub now: i64,
    pub remote: SocketAddr,
    pub user_get: http::request::Parts,
    pub custom_get: http::request::Parts,
    pub custom_denied: http::request::Parts,
    pub sts_get: http::request::Parts,
    pub sa_get: http::request::Parts,
    /// The data directory, removed on drop.
    _dir: tempfile::TempDir,
}

impl Cases {
    /// `rwuser` holding `readwrite`, `custom` holding the 2 KB policy, STS credentials of
    /// `rwuser` with a session policy, a service account of `rwuser`; each request checked.
    pub fn new() -> Self {
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
        Cases {
            hot,
            now,
            remote,
            user_get,
            custom_get,
            custom_denied,
            sts_get,
            sa_get,
            _dir: dir,
        }
    }

    /// The cases that end allowed, with their names.
    pub fn allowed(&self) -> [(&'static str, &http::request::Parts); 4] {
        [
            ("user readwrite", &self.user_get),
            ("user 2KB policy allow", &self.custom_get),
            ("sts session token", &self.sts_get),
            ("service account", &self.sa_get),
        ]
    }
}
