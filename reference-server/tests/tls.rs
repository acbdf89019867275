//! HTTPS end to end: the server on a certificate from a CA made at test time (rcgen), the real
//! aws-sdk-s3 trusting that CA through its default (rustls, aws-lc-rs) https client, and
//! `aws:SecureTransport` true exactly on TLS connections (SPEC E9).

mod common;

use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use common::*;
use keygate_server::{Server, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// A throwaway CA and a server certificate it signed for `127.0.0.1` and `localhost`.
struct TestPki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn test_pki() -> TestPki {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Keygate test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let key = KeyPair::generate().expect("server key");
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("server params");
    leaf.distinguished_name
        .push(DnType::CommonName, "keygate test server");
    let cert = leaf
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("server certificate");
    TestPki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// An S3 client for `endpoint` whose https client trusts only `ca_pem`.
fn s3_trusting(endpoint: &str, ca_pem: &str, keys: &Keys) -> aws_sdk_s3::Client {
    let tls_context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(ca_pem.as_bytes()))
        .build()
        .expect("TLS context");
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls_context)
        .build_https();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client)
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(keys.credentials())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Allows everything but denies any request not made over TLS (the usual "deny plain HTTP"
/// bucket-hardening statement, as an identity policy).
const DENY_PLAIN_HTTP: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::*"},
 {"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;

/// Allows reads only over TLS.
const ALLOW_ONLY_TLS: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#;

#[tokio::test]
async fn e9_secure_transport_is_true_exactly_over_tls() {
    let pki = test_pki();
    // Provision over plain HTTP, where the policies deny...
    let ts = TestServer::start().await;
    let careful = ts.user_with_doc("careful", DENY_PLAIN_HTTP).await;
    let tlsonly = ts.user_with_doc("tlsonly", ALLOW_ONLY_TLS).await;
    ts.bucket("data").await;
    assert_eq!(
        try_put(&ts.s3_as(&careful), "data", "plain.txt").await,
        "AccessDenied"
    );
    assert_eq!(
        try_get(&ts.s3_as(&tlsonly), "data", "x").await,
        "AccessDenied"
    );

    // ...then serve the same data directory over HTTPS, where they allow.
    let TestServer { server, dir } = ts;
    server.shutdown().await;
    let mut cfg = config_in(dir.path(), ROOT_SK);
    cfg.tls = Some(TlsConfig::from_pem(
        pki.cert_pem.clone(),
        pki.key_pem.clone(),
    ));
    let server = Server::start(cfg).await.expect("HTTPS server starts");
    let endpoint = server.endpoint().to_owned();
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");

    let s3 = s3_trusting(&endpoint, &pki.ca_pem, &careful);
    s3.put_object()
        .bucket("data")
        .key("secure.txt")
        .body(ByteStream::from_static(b"over TLS"))
        .send()
        .await
        .expect("PutObject over HTTPS");
    let got = s3
        .get_object()
        .bucket("data")
        .key("secure.txt")
        .send()
        .await
        .expect("GetObject over HTTPS");
    let body = got.body.collect().await.expect("body").into_bytes();
    assert_eq!(&body[..], b"over TLS");
    let listed = s3_trusting(&endpoint, &pki.ca_pem, &tlsonly)
        .list_objects_v2()
        .bucket("data")
        .send()
        .await
        .expect("ListObjectsV2 over HTTPS");
    assert_eq!(listed.contents().len(), 1);

    // A client that does not trust the CA never gets a response: the certificate is checked.
    let other = test_pki();
    let untrusting = s3_trusting(&endpoint, &other.ca_pem, &careful);
    let refused = untrusting.list_buckets().send().await;
    assert!(refused.is_err(), "a client without the CA must fail");

    server.shutdown().await;
    drop(dir);
}

/// The command line administers an HTTPS server, trusting exactly the CA given with
/// `--ca-file`: without one it says what is missing, with another CA the handshake fails.
#[tokio::test]
async fn the_command_line_reaches_an_https_server_through_its_ca() {
    let pki = test_pki();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = config_in(dir.path(), ROOT_SK);
    cfg.tls = Some(TlsConfig::from_pem(pki.cert_pem, pki.key_pem));
    let server = Server::start(cfg).await.expect("HTTPS server starts");
    let endpoint = server.endpoint().to_owned();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, test_pki().ca_pem).unwrap();
    let cli = move |extra: Vec<String>| {
        let endpoint = endpoint.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_keygate-server"))
                .env_clear()
                .env("KEYGATE_ENDPOINT", endpoint)
                .env("KEYGATE_ROOT_ACCESS_KEY", ROOT_AK)
                .env("KEYGATE_ROOT_SECRET_KEY", ROOT_SK)
                .args(["user", "add", "tlsuser", "--password", PW])
                .args(extra)
                .output()
                .expect("runs")
        })
    };
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let out = cli(vec![]).await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success() && err.contains("--ca-file"), "{err}");
    let out = cli(vec!["--ca-file".into(), path(&other_ca)])
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success() && err.contains("TLS"), "{err}");
    let out = cli(vec!["--ca-file".into(), path(&ca)]).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn plain_http_to_the_tls_port_gets_no_s3_answer() {
    let pki = test_pki();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = config_in(dir.path(), ROOT_SK);
    cfg.tls = Some(TlsConfig::from_pem(pki.cert_pem, pki.key_pem));
    let server = Server::start(cfg).await.expect("HTTPS server starts");
    let mut stream = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connects");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("writes");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut buf),
    )
    .await
    .expect("the server closes the connection");
    let _ = read;
    assert!(
        !String::from_utf8_lossy(&buf).contains("HTTP/1.1"),
        "no HTTP answer on the TLS port"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_certificate_or_key_refuses_to_start() {
    let pki = test_pki();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = config_in(dir.path(), ROOT_SK);
    cfg.tls = Some(TlsConfig::from_pem(pki.cert_pem.clone(), "not a key"));
    let err = Server::start(cfg).await.expect_err("refused");
    assert!(format!("{err:#}").contains("private key"), "{err:#}");

    let other = test_pki();
    let mut cfg = config_in(dir.path(), ROOT_SK);
    cfg.tls = Some(TlsConfig::from_pem(pki.cert_pem, other.key_pem));
    let err = Server::start(cfg)
        .await
        .expect_err("a key of another certificate");
    let shown = format!("{err:#}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
}
