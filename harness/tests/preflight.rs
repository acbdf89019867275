//! The preflight of `keygate run --target FILE`: a misconfigured target ends the run before any
//! scenario, with exit 3 and one line naming the file, the endpoint and the fix, instead of
//! running the library into `SignatureDoesNotMatch` cells that read as conformance failures.
//!
//! The reference server runs in-process; `keygate` runs as a child process with remote
//! profiles whose secret, access key or region is wrong. A tiny hyper server answering HTML
//! stands for an endpoint that is not S3.
#![cfg(feature = "embedded")]

use keygate_server::{RunningServer, Server, ServerConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[path = "support/html_server.rs"]
mod html_server;
use html_server::html_server;

fn library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// `keygate run --target PROFILE` on the whole library, off the async runtime (the server
/// the child talks to runs on it).
async fn run(profile: &Path, reports: &Path) -> Output {
    run_with(&library(), profile, reports, &[]).await
}

/// `keygate run --target PROFILE` on `scenarios`, with `env` added to its environment.
async fn run_with(
    scenarios: &Path,
    profile: &Path,
    reports: &Path,
    env: &[(&str, &str)],
) -> Output {
    let args = vec![
        "run".to_owned(),
        "--no-progress".to_owned(),
        "--scenarios".to_owned(),
        scenarios.display().to_string(),
        "--report-dir".to_owned(),
        reports.display().to_string(),
        "--target".to_owned(),
        profile.display().to_string(),
    ];
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_keygate"))
            .args(&args)
            .envs(env)
            .stdin(Stdio::null())
            .output()
            .expect("keygate runs")
    })
    .await
    .expect("child joined")
}

fn profile(
    dir: &Path,
    name: &str,
    endpoint: &str,
    access: &str,
    secret: &str,
    region: &str,
) -> PathBuf {
    let file = dir.join(name);
    let text = format!(
        "version = 1\nkind = \"remote\"\nendpoint = \"{endpoint}\"\nregion = \"{region}\"\n\
         root_access_key = \"{access}\"\nroot_secret_key = \"{secret}\"\n"
    );
    std::fs::write(&file, text).expect("profile written");
    file
}

/// Exit 3 before any scenario, with one `error:` line holding each of `needles`.
fn stopped_early(o: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "stderr: {err}\nstdout: {out}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error: target "))
        .unwrap_or_else(|| panic!("no error line in: {err}"));
    for n in needles {
        assert!(line.contains(n), "no `{n}` in: {line}");
    }
    assert!(!out.contains("passed,"), "scenarios ran: {out}");
    assert!(
        !err.contains("keygate: remote target at"),
        "the run started: {err}"
    );
}

async fn server(dir: &Path) -> RunningServer {
    Server::start(ServerConfig::new(dir.join("data")))
        .await
        .expect("server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_root_keys_or_region_stop_the_run_with_the_fix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = server(dir.path()).await;
    let endpoint = server.endpoint().to_owned();
    let (key, secret) = (server.root_access_key(), server.root_secret_key());
    let reports = dir.path().join("reports");

    let file = profile(
        dir.path(),
        "secret.toml",
        &endpoint,
        key,
        "not-the-secret",
        "us-east-1",
    );
    let o = run(&file, &reports).await;
    let fix = format!(
        "the root secret in {} does not match the server's",
        file.display()
    );
    stopped_early(&o, &[&endpoint, "SignatureDoesNotMatch", &fix]);

    let file = profile(
        dir.path(),
        "key.toml",
        &endpoint,
        "NOSUCHKEY",
        secret,
        "us-east-1",
    );
    let o = run(&file, &reports).await;
    let fix = format!("the root access key in {} is unknown", file.display());
    stopped_early(&o, &[&endpoint, "InvalidAccessKeyId", &fix]);

    let file = profile(
        dir.path(),
        "region.toml",
        &endpoint,
        key,
        secret,
        "eu-west-1",
    );
    let o = run(&file, &reports).await;
    let fix = format!(
        "the region `eu-west-1` in {} is not the server's",
        file.display()
    );
    stopped_early(&o, &[&endpoint, &fix]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_from_the_environment_names_the_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = server(dir.path()).await;
    let endpoint = server.endpoint().to_owned();
    let file = dir.path().join("remote.toml");
    std::fs::write(
        &file,
        format!(
            "version = 1\nkind = \"remote\"\nendpoint = \"{endpoint}\"\n\
             root_access_key = \"{}\"\nroot_secret_key_env = \"KEYGATE_TEST_ROOT_SECRET\"\n",
            server.root_access_key()
        ),
    )
    .expect("profile written");
    let reports = dir.path().join("reports");
    let env = [("KEYGATE_TEST_ROOT_SECRET", "not-the-secret")];
    let o = run_with(&library(), &file, &reports, &env).await;
    let fix = format!(
        "the root secret in $KEYGATE_TEST_ROOT_SECRET (`root_secret_key_env` in {}) does not \
         match the server's",
        file.display()
    );
    stopped_early(&o, &[&endpoint, "SignatureDoesNotMatch", &fix]);
    server.shutdown().await;
}

/// A remote target with `clock = true` keeps the clock the run moved: the run says so at the
/// end and records it in report.json, and the next run's preflight names that as the likely
/// cause of `RequestTimeTooSkewed` rather than this host's clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_moved_on_a_remote_target_is_reported_and_explains_the_next_preflight() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = ServerConfig::new(dir.path().join("data"));
    cfg.test_clock = true;
    let server = Server::start(cfg).await.expect("server starts");
    let endpoint = server.endpoint().to_owned();
    let file = dir.path().join("clock.toml");
    std::fs::write(
        &file,
        format!(
            "version = 1\nkind = \"remote\"\nendpoint = \"{endpoint}\"\n\
             root_access_key = \"{}\"\nroot_secret_key = \"{}\"\n\
             [capabilities]\nclock = true\n",
            server.root_access_key(),
            server.root_secret_key()
        ),
    )
    .expect("profile written");
    let lib = dir.path().join("scenarios");
    std::fs::create_dir_all(lib.join("sts")).unwrap();
    std::fs::write(
        lib.join("sts/clock.toml"),
        "version = 1\nid = \"clock-moves\"\ntitle = \"t\"\narea = \"sts\"\nrules = [\"S1\"]\n\
         [[steps]]\nop = \"advance_clock\"\nseconds = 3600\n\
         [[steps]]\nop = \"list_buckets\"\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");

    let o = run_with(&lib, &file, &reports, &[]).await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "warning: the target's clock was moved forward by 3600 s; restart it before the \
             next run"
        ),
        "{err}"
    );
    assert!(err.contains(&file.display().to_string()), "{err}");
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(reports.join("latest/report.json")).expect("report.json"),
    )
    .unwrap();
    assert_eq!(
        json["target"]["clock_advanced_s"], 3600,
        "{}",
        json["target"]
    );
    assert_eq!(json["target"]["kind"], "remote");

    // The server still runs an hour ahead: the next run stops at the preflight, saying why.
    let o = run_with(&lib, &file, &reports, &[]).await;
    stopped_early(
        &o,
        &[
            &endpoint,
            "RequestTimeTooSkewed",
            "a previous run with `clock = true`",
            "restart the server",
        ],
    );
    server.shutdown().await;
}

/// Regression: a target file declaring `clock = true` for a server without a test clock ran
/// the clock scenarios, which failed and blamed the server for five SPEC rules (exit 1). It
/// is a wrong setup: the preflight asks the clock to move by 0 s and stops the run (exit 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_the_target_cannot_move_stops_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = server(dir.path()).await;
    let (key, secret) = (server.root_access_key(), server.root_secret_key());
    let file = profile(
        dir.path(),
        "clock.toml",
        server.endpoint(),
        key,
        secret,
        "us-east-1",
    );
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("[capabilities]\nclock = true\n");
    std::fs::write(&file, text).unwrap();
    let o = run(&file, &dir.path().join("reports")).await;
    let path = file.display().to_string();
    stopped_early(&o, &[&path, "`clock = true`", "--test-clock"]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_is_not_s3_stops_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (endpoint, task) = html_server().await;
    let file = profile(dir.path(), "html.toml", &endpoint, "k", "s", "us-east-1");
    let o = run(&file, &dir.path().join("reports")).await;
    let said = format!("{endpoint} does not answer as S3 (got 200 text/html");
    stopped_early(&o, &[&said, "Directory listing"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.lines().count(),
        1,
        "one line, not a page per scenario: {err}"
    );
    task.abort();
}
