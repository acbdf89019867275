//! The harness over HTTPS: `keygate run --tls` (the embedded server on a certificate from a CA
//! generated for the run) and a remote profile naming its server's CA with `ca_file`.
//!
//! Each runs a slice of the library that touches every client the harness has over TLS: the
//! AWS SDK (S3, STS), raw signed requests (header and presigned) and the admin API; and
//! `policy-deny-plain-http`, whose expectations flip with the transport, must pass with the
//! https side asserted. Certificates are checked: a profile without the CA cannot reach the
//! server at all, nor can one naming another CA, nor one whose certificate names another host.
#![cfg(feature = "embedded")]

use keygate::cli::{self, RunArgs};
use keygate_server::{RunningServer, Server, ServerConfig, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use std::path::{Path, PathBuf};

/// Scenarios that exercise each client over TLS, and the transport-dependent policy ones.
const SLICE: &str = "^(policy-deny-plain-http|policy-conditions-bool-ip-null|sigv4-header-auth|\
sigv4-presigned|sts-assume-role|s3-multipart|users-admin-api|service-accounts-lifecycle)$";

fn library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn args(report_dir: &Path) -> RunArgs {
    RunArgs {
        select: keygate::cli::Select {
            filter: Some(SLICE.to_owned()),
            ..Default::default()
        },
        jobs: 4,
        report_dir: report_dir.to_owned(),
        scenarios: library(),
        no_progress: true,
        ..Default::default()
    }
}

/// The latest report, checked to be an https run of the whole slice in which nothing but a
/// pass happened and deny-plain-http expected success (its https side).
fn assert_https_report(report_dir: &Path) {
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(report_dir.join("latest/report.json")).expect("report.json"),
    )
    .expect("report parses");
    assert_eq!(json["transport"], "https");
    assert!(json["target"]["endpoint"]
        .as_str()
        .is_some_and(|e| e.starts_with("https://")));
    let scenarios = json["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 8, "the whole slice ran");
    for s in scenarios {
        assert_eq!(s["verdict"], "pass", "{}: {}", s["id"], s["reason"]);
    }
    let deny = scenarios
        .iter()
        .find(|s| s["id"] == "policy-deny-plain-http")
        .expect("deny-plain-http ran");
    for step in deny["steps"].as_array().expect("steps") {
        assert_eq!(
            step["expected"], "2xx",
            "the https side is asserted: {step}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_tls_passes_the_slice_and_writes_the_ca() {
    let reports = tempfile::tempdir().expect("temp dir");
    let args = RunArgs {
        tls: true,
        ..args(reports.path())
    };
    let ca_file = cli::tls_ca_file(&args);
    assert_eq!(cli::run(args).await, cli::EXIT_PASS);
    assert_https_report(reports.path());
    let ca = std::fs::read_to_string(&ca_file).expect("the CA is written for reuse");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    assert!(
        !ca.contains("PRIVATE KEY"),
        "only the certificate is written"
    );
}

/// A CA and a server certificate for 127.0.0.1 it signed: (CA PEM, TLS config of the server).
fn pki() -> (String, TlsConfig) {
    pki_for("127.0.0.1")
}

/// A CA and a server certificate for `name` it signed.
fn pki_for(name: &str) -> (String, TlsConfig) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let key = KeyPair::generate().expect("server key");
    let cert = CertificateParams::new(vec![name.to_owned()])
        .expect("server params")
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("server certificate");
    (
        ca_cert.pem(),
        TlsConfig::from_pem(cert.pem(), key.serialize_pem()),
    )
}

async fn https_server(dir: &Path, tls: TlsConfig) -> RunningServer {
    let mut cfg = ServerConfig::new(dir.join("data"));
    cfg.tls = Some(tls);
    Server::start(cfg).await.expect("HTTPS server starts")
}

/// A remote profile for `server` in `dir`, with `extra` lines (such as `ca_file`).
fn write_profile(dir: &Path, server: &RunningServer, endpoint: &str, extra: &str) -> PathBuf {
    let file = dir.join("target.toml");
    let text = format!(
        "version = 1\nkind = \"remote\"\nendpoint = \"{endpoint}\"\n\
         root_access_key = \"{}\"\nroot_secret_key = \"{}\"\n{extra}\n",
        server.root_access_key(),
        server.root_secret_key(),
    );
    std::fs::write(&file, text).expect("profile written");
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_profile_with_ca_file_passes_the_slice_over_https() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca_pem, tls) = pki();
    let server = https_server(dir.path(), tls).await;
    let endpoint = server.endpoint().to_owned();
    assert!(endpoint.starts_with("https://"), "{endpoint}");
    // The CA sits beside the profile and is named relative to it.
    std::fs::write(dir.path().join("ca.pem"), &ca_pem).expect("CA written");
    let scenarios = cli::load_paths(&[library()]).expect("library validates");
    let filter = regex::Regex::new(SLICE).expect("filter");

    let trusted = write_profile(dir.path(), &server, &endpoint, "ca_file = \"ca.pem\"");
    let target = keygate::target::open(&trusted, None)
        .await
        .expect("profile opens");
    let reports = tempfile::tempdir().expect("temp dir");
    let code = cli::run_on(&*target, &scenarios, &args(reports.path()), Some(filter)).await;
    assert_eq!(code, cli::EXIT_PASS);
    assert_https_report(reports.path());

    // Without the CA the certificate is refused: the target is unreachable, nothing is judged.
    let untrusted = write_profile(dir.path(), &server, &endpoint, "");
    let target = keygate::target::open(&untrusted, None)
        .await
        .expect("profile opens");
    let filter = regex::Regex::new(SLICE).expect("filter");
    let code = cli::run_on(&*target, &scenarios, &args(reports.path()), Some(filter)).await;
    assert_eq!(code, cli::EXIT_TARGET);
    target.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn ca_file_errors_name_the_profile_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let profile = |endpoint: &str, ca: &str| {
        let file = dir.path().join("target.toml");
        std::fs::write(
            &file,
            format!(
                "version = 1\nendpoint = \"{endpoint}\"\nroot_access_key = \"a\"\n\
                 root_secret_key = \"b\"\nca_file = \"{ca}\"\n"
            ),
        )
        .expect("profile written");
        file
    };
    let missing = profile("https://127.0.0.1:1", "missing.pem");
    let err = open_error(&missing).await;
    assert!(
        err.contains("at `ca_file`") && err.contains("missing.pem"),
        "{err}"
    );

    std::fs::write(dir.path().join("ca.pem"), pki().0).expect("CA written");
    let plain = profile("http://127.0.0.1:1", "ca.pem");
    let err = open_error(&plain).await;
    assert!(
        err.contains("at `ca_file`") && err.contains("not https"),
        "{err}"
    );
}

async fn open_error(profile: &Path) -> String {
    match keygate::target::open(profile, None).await {
        Ok(t) => panic!("{} opened: {t:?}", profile.display()),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn command_profiles_take_ca_file_and_hand_it_to_commands() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("ca.pem"), pki().0).expect("CA written");
    let file = dir.path().join("cli.toml");
    std::fs::write(
        &file,
        "version = 1\nkind = \"command\"\nendpoint = \"https://127.0.0.1:1\"\n\
         root_access_key = \"a\"\nroot_secret_key = \"b\"\nca_file = \"ca.pem\"\n\
         [commands]\nuser_add = \"cp {ca_file} {name}\"\n",
    )
    .expect("profile written");
    let target = keygate::target::open(&file, None)
        .await
        .expect("profile opens");
    let ca = target.tls_trust().ca_file().map(Path::to_owned);
    assert_eq!(ca.as_deref(), Some(dir.path().join("ca.pem").as_path()));
    // `{ca_file}` is the CA's absolute path, whatever the working directory.
    let copy = dir.path().join("copy.pem");
    let user = keygate::target::NewUser {
        name: copy.display().to_string(),
        password: "unused-password".into(),
        ..Default::default()
    };
    target.create_user(&user).await.expect("user_add runs");
    assert_eq!(
        std::fs::read(&copy).expect("the command got the CA's path"),
        std::fs::read(dir.path().join("ca.pem")).expect("CA")
    );
}

#[test]
fn outcome_transport_needs_one_cell_per_identity() {
    let text = r#"
version = 1
id = "t"
title = "t"
area = "policy"
rules = ["E9"]
[setup]
buckets = ["data"]
[[setup.users]]
name = "u"
policy = "readonly"
[[matrix]]
as = ["u", "root"]
cases = [{ op = "list_objects_v2", bucket = "data", outcome = ["ok", "ok"], outcome_transport.https = ["ok"] }]
"#;
    let errors = keygate::scenario::parse(Path::new("t.toml"), text).expect_err("refused");
    assert!(
        errors
            .iter()
            .any(|e| e.path == "matrix[0].cases[0].outcome_transport.https"),
        "{errors:?}"
    );
}

/// What the admin API (not only the SDK's preflight) says when it cannot trust the server.
async fn admin_error(profile: &Path) -> String {
    let target = keygate::target::open(profile, None)
        .await
        .expect("profile opens");
    let user = keygate::target::NewUser {
        name: "tls-probe".into(),
        password: "tls-probe-password".into(),
        ..Default::default()
    };
    let err = target
        .create_user(&user)
        .await
        .expect_err("an untrusted server is refused");
    target.shutdown().await;
    err.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_or_for_another_name_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let scenarios = cli::load_paths(&[library()]).expect("library validates");
    let reports = tempfile::tempdir().expect("temp dir");

    // The server's CA is not the one the profile names.
    let (_, tls) = pki();
    let (other_ca, _) = pki();
    let server = https_server(dir.path(), tls).await;
    let endpoint = server.endpoint().to_owned();
    std::fs::write(dir.path().join("other-ca.pem"), &other_ca).expect("CA written");
    let wrong_ca = write_profile(dir.path(), &server, &endpoint, "ca_file = \"other-ca.pem\"");
    let target = keygate::target::open(&wrong_ca, None).await.expect("opens");
    let filter = regex::Regex::new(SLICE).expect("filter");
    let code = cli::run_on(&*target, &scenarios, &args(reports.path()), Some(filter)).await;
    assert_eq!(code, cli::EXIT_TARGET);
    target.shutdown().await;
    let err = admin_error(&wrong_ca).await;
    assert!(err.contains("invalid peer certificate"), "{err}");
    server.shutdown().await;

    // The trusted CA signed it, but for another host name.
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca, tls) = pki_for("elsewhere.invalid");
    let server = https_server(dir.path(), tls).await;
    let endpoint = server.endpoint().to_owned();
    std::fs::write(dir.path().join("ca.pem"), &ca).expect("CA written");
    let wrong_name = write_profile(dir.path(), &server, &endpoint, "ca_file = \"ca.pem\"");
    let err = admin_error(&wrong_name).await;
    assert!(err.contains("not valid for name"), "{err}");
    server.shutdown().await;
}
