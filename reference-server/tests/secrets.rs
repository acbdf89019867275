//! Secrets never leak (SPEC V7, issue 8): not into the server's log at debug level, not into
//! error bodies, not into `Debug` output; the admin API refuses unsigned callers and S3 users
//! outside their own service accounts; secret-bearing files are 0600 and a start with a
//! readable one is refused.
//!
//! The log test installs a process-wide `tracing` subscriber writing into a buffer, which is
//! why it lives in a test binary of its own.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use common::*;
use keygate_server::{HotPath, Server};
use serde_json::json;

/// Everything the server logs in this process.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

fn captured_log() -> Capture {
    static LOG: OnceLock<Capture> = OnceLock::new();
    LOG.get_or_init(|| {
        let capture = Capture::default();
        tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_ansi(false)
            .with_writer(capture.clone())
            .try_init()
            .expect("the only subscriber of this test binary");
        capture
    })
    .clone()
}

/// Fails naming the secret (by its position, never its text) if `haystack` holds one.
fn assert_no_secret(what: &str, haystack: &str, secrets: &[String]) {
    for (i, secret) in secrets.iter().enumerate() {
        assert!(
            !haystack.contains(secret.as_str()),
            "{what} contains issued secret #{i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v7_no_secret_or_token_reaches_the_debug_log_or_an_error_body() {
    let log = captured_log();
    let t = TestServer::start().await;
    let mut secrets = vec![ROOT_SK.to_owned(), PW.to_owned()];
    let mut bodies = Vec::new();

    // Users, one with its own password, changed once.
    let alice = t.user_with("alice", "readwrite").await;
    let carol_pw = "Carol-Secret-9x";
    let carol_new = "Carol-Changed-7y";
    secrets.extend([carol_pw.to_owned(), carol_new.to_owned()]);
    t.admin(
        "POST",
        "users",
        json!({"name": "carol", "password": carol_pw}).to_string(),
    )
    .await
    .ok();
    t.attach("readwrite", "carol").await;
    t.admin(
        "PATCH",
        "users/carol",
        json!({"password": carol_new}).to_string(),
    )
    .await
    .ok();
    let carol = Keys::new("carol", carol_new);
    t.bucket("data").await;
    t.object("data", "a.txt", b"a").await;

    // STS credentials and service accounts, used for S3 calls.
    let session = t.assume_role(&alice, None).await;
    let narrowed = t
        .assume_role(
            &alice,
            Some(&allow(&["s3:GetObject"], &["arn:aws:s3:::data/*"])),
        )
        .await;
    let sa = t.add_service_account(&alice, None).await;
    let sa_narrow = t
        .add_service_account(
            &carol,
            Some(&allow(&["s3:ListBucket"], &["arn:aws:s3:::data"])),
        )
        .await;
    for keys in [&session, &narrowed, &sa, &sa_narrow] {
        secrets.push(keys.credentials().secret_access_key().to_owned());
        if let Some(token) = keys.credentials().session_token() {
            secrets.push(token.to_owned());
        }
    }
    assert_eq!(try_get(&t.s3_as(&session), "data", "a.txt").await, "ok");
    assert_eq!(try_get(&t.s3_as(&narrowed), "data", "a.txt").await, "ok");
    assert_eq!(
        try_put(&t.s3_as(&narrowed), "data", "n").await,
        "AccessDenied"
    );
    assert_eq!(try_put(&t.s3_as(&sa), "data", "s").await, "ok");
    assert_eq!(try_get(&t.s3_as(&carol), "data", "a.txt").await, "ok");
    // A presigned URL made from STS credentials carries the token in its query.
    let url = t
        .s3_as(&session)
        .get_object()
        .bucket("data")
        .key("a.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).expect("config"))
        .await
        .expect("presigns");
    assert_eq!(t.get_url(url.uri()).await.status, 200);
    let listed = t.admin_as(&alice, "GET", "service-accounts", "").await;
    bodies.push(listed.text());

    // Failures of every kind that touches a secret or a token.
    let token = |k: &Keys| k.credentials().session_token().map(str::to_owned);
    let ak = |k: &Keys| k.credentials().access_key_id().to_owned();
    let failures = [
        Keys::new("alice", "Wrong-secret-1"),
        Keys::new(&ak(&session), "Wrong-secret-2").with_token(token(&session).as_deref()),
        Keys::new(&ak(&session), session.credentials().secret_access_key())
            .with_token(token(&narrowed).as_deref()),
        Keys::new(&ak(&session), session.credentials().secret_access_key()),
        sa.clone().with_token(token(&session).as_deref()),
        alice.clone().with_token(token(&session).as_deref()),
    ];
    for keys in &failures {
        let r = t.send(keys, Call::s3("GET", "/data")).await;
        assert!(r.status >= 400, "{}", r.text());
        bodies.push(r.text());
        let r = t
            .send(keys, Call::sts("Action=AssumeRole&Version=2011-06-15"))
            .await;
        bodies.push(r.text());
    }
    t.server.advance_clock(3700).expect("test clock");
    let r = t.send(&session, Call::s3("GET", "/data")).await;
    assert_eq!(r.code(), "ExpiredToken");
    bodies.push(r.text());
    t.delete_user("alice").await;
    let r = t.send(&sa, Call::s3("GET", "/data")).await;
    bodies.push(r.text());

    let text = String::from_utf8_lossy(&log.0.lock().expect("log buffer")).into_owned();
    assert!(
        text.contains("authorisation"),
        "the debug log was not captured"
    );
    assert_no_secret("the server's debug log", &text, &secrets);
    for body in &bodies {
        assert_no_secret("an error body", body, &secrets);
    }
}

#[test]
fn v7_debug_output_shows_no_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = config_in(dir.path(), ROOT_SK);
    assert_no_secret("ServerConfig", &format!("{cfg:?}"), &[ROOT_SK.to_owned()]);
    let hot = HotPath::open(cfg).expect("opens");
    let ids = hot.identities();
    ids.add_user("dbg", "Debug-Secret-123", 0, 0, 0)
        .expect("user");
    ids.attach("readwrite", "dbg").expect("attach");
    let sts = ids.assume_role("dbg", 900, None, 0).expect("sts");
    let sa = ids.add_service_account("dbg", None, 0).expect("sa");
    let secrets = vec![
        ROOT_SK.to_owned(),
        "Debug-Secret-123".to_owned(),
        sts.secret_key.clone(),
        sts.session_token.clone().expect("token"),
        sa.secret_key.clone(),
    ];
    for (what, shown) in [
        ("HotPath", format!("{hot:?}")),
        ("Identities", format!("{ids:?}")),
        ("Snapshot", format!("{:?}", **ids.snapshot())),
        ("IssuedCredentials (STS)", format!("{sts:?}")),
        ("IssuedCredentials (SA)", format!("{sa:?}")),
        (
            "Principal",
            format!(
                "{:?}",
                ids.snapshot()
                    .credential(&sts.access_key)
                    .expect("live")
                    .principal
            ),
        ),
        (
            "Credential",
            format!("{:?}", ids.snapshot().credential("dbg").expect("user")),
        ),
    ] {
        assert_no_secret(what, &shown, &secrets);
    }
}

#[tokio::test]
async fn admin_api_refuses_unsigned_callers_and_users_outside_their_own_accounts() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readwrite").await;
    let bob = t.user_with("bob", "readwrite").await;
    let bobs = t.add_service_account(&bob, None).await;
    let session = t.assume_role(&alice, None).await;
    let alices = t.add_service_account(&alice, None).await;
    let host = t.server.addr().to_string();
    let admin_only = [
        ("GET", "users"),
        ("POST", "users"),
        ("GET", "users/bob"),
        ("PATCH", "users/bob"),
        ("DELETE", "users/bob"),
        ("PUT", "users/bob/policy"),
        ("DELETE", "users/bob/policy"),
        ("GET", "policies"),
        ("GET", "policies/readonly"),
        ("PUT", "policies/mine"),
        ("DELETE", "policies/mine"),
        ("POST", "clock/advance"),
    ];
    let users_own = [
        ("GET", "service-accounts"),
        ("POST", "service-accounts"),
        ("GET", "service-accounts/x"),
        ("DELETE", "service-accounts/x"),
    ];
    for (method, path) in admin_only.iter().chain(&users_own) {
        let r = t
            .send_unsigned(
                method,
                &format!("{ADMIN}{path}"),
                &[("host".into(), host.clone())],
                Vec::new(),
            )
            .await;
        assert_eq!(r.status, 403, "unsigned {method} {path}: {}", r.text());
        for keys in [&alice, &session, &alices] {
            let r = t.admin_as(keys, method, path, "{}").await;
            let own = users_own.contains(&(*method, *path));
            if !own || !std::ptr::eq(keys, &alice) {
                assert_eq!(r.status, 403, "{method} {path}: {}", r.text());
            }
        }
    }
    // Another user's service account is not found, not shown, not removed (A5).
    let bobs_key = bobs.credentials().access_key_id().to_owned();
    for method in ["GET", "DELETE"] {
        t.admin_as(&alice, method, &format!("service-accounts/{bobs_key}"), "")
            .await
            .expect_error(404, "NoSuchServiceAccount");
    }
    assert_eq!(
        try_get(&t.s3_as(&bobs), "nobucket", "k").await,
        "NoSuchBucket"
    );
}

#[tokio::test]
async fn secret_files_are_0600_and_a_readable_one_refuses_the_start() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readwrite").await;
    t.add_service_account(&alice, None).await;
    let dir = t.dir.path().to_owned();
    let meta = dir.join(".keygate");
    let mut checked = 0;
    for entry in std::fs::read_dir(&meta).expect("metadata dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("iam.db") || name == "root-credentials" {
            let mode = std::fs::metadata(&path).expect("mode").permissions().mode();
            assert_eq!(mode & 0o077, 0, "{name} has mode {:o}", mode & 0o777);
            checked += 1;
        }
    }
    assert!(checked >= 1, "no secret file found");
    t.server.shutdown().await;

    // iam.db readable by others: refused, with the reason.
    let db = meta.join("iam.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = Server::start(config_in(&dir, ROOT_SK))
        .await
        .expect_err("a readable iam.db is refused");
    assert!(format!("{err:#}").contains("iam.db"), "{err:#}");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    // A readable key file: refused too.
    let key_file = dir.join("kms.key");
    std::fs::write(&key_file, [7u8; 32]).expect("key file");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let fresh = tempfile::tempdir().expect("temp dir");
    let mut cfg = config_in(fresh.path(), ROOT_SK);
    cfg.kms_key_file = Some(key_file.clone());
    let err = Server::start(cfg)
        .await
        .expect_err("a readable key file is refused");
    assert!(format!("{err:#}").contains("kms.key"), "{err:#}");

    // And the server starts again once the modes are right.
    let server = Server::start(config_in(&dir, ROOT_SK))
        .await
        .expect("starts with 0600 files");
    server.shutdown().await;
}
