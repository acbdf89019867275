//! `keygate load --target FILE` on a remote target, as a vendor runs it against their own
//! endpoint: the reference server in-process stands for it, named by a `kind = "remote"`
//! profile. Load signs for the profile's region and trusts only its CA; it leaves nothing
//! behind (no user, policy or bucket) after an attack, after a provisioning that failed half
//! way, or when SIGTERM or SIGINT stops the attack; and a wrong secret, a region the server
//! does not serve or an endpoint that is not S3 ends the run with one line and exit 3 before
//! anything is provisioned.
//!
//! Short and bounded: attacks of 1.5 s on loopback, one at a time in this process (goose keeps
//! process-wide state).
#![cfg(feature = "embedded")]

use keygate::load::{self, LoadArgs};
use keygate::target::admin::AdminTarget;
use keygate::target::http::{host_of, sign_request, SignSpec};
use keygate_server::{RunningServer, Server, ServerConfig, TlsConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/html_server.rs"]
mod html_server;
use html_server::html_server;

static ONE_ATTACK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn plan(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/load")
        .join(name)
}

fn args(target: &Path, plan_name: &str, reports: &Path) -> LoadArgs {
    LoadArgs {
        target: Some(target.display().to_string()),
        plan: plan(plan_name),
        duration: Duration::from_millis(1500),
        users: Some(2),
        rate: None,
        warmup: Duration::from_millis(300),
        report_dir: reports.to_owned(),
        compare: None,
        repeat: 1,
        baseline: None,
        max_regression: None,
        worker: None,
        no_pin: true,
        target_workers: None,
        null_spin_us: 0,
    }
}

/// A CA and a server certificate for 127.0.0.1 it signed: (CA PEM, the server's TLS config).
fn pki() -> (String, TlsConfig) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let key = KeyPair::generate().expect("server key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("server params")
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("server certificate");
    (
        ca_cert.pem(),
        TlsConfig::from_pem(cert.pem(), key.serialize_pem()),
    )
}

async fn server(dir: &Path, edit: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    let mut cfg = ServerConfig::new(dir.join("data"));
    edit(&mut cfg);
    Server::start(cfg).await.expect("server starts")
}

/// A remote profile for `server` in `dir/name`: its endpoint and root keys, then `extra` lines.
fn profile(dir: &Path, name: &str, server: &RunningServer, extra: &str) -> PathBuf {
    let file = dir.join(name);
    let text = format!(
        "version = 1\nkind = \"remote\"\nendpoint = \"{}\"\n\
         root_access_key = \"{}\"\nroot_secret_key = \"{}\"\n{extra}\n",
        server.endpoint(),
        server.root_access_key(),
        server.root_secret_key(),
    );
    std::fs::write(&file, text).expect("profile written");
    file
}

/// A root-signed admin API read.
async fn admin_get(t: &AdminTarget, path: &str) -> serde_json::Value {
    let endpoint = &t.info.endpoint;
    let mut req = http::Request::get(format!("{endpoint}/_keygate/admin/v1/{path}"))
        .header("host", host_of(endpoint))
        .body(bytes::Bytes::new())
        .unwrap();
    sign_request(
        &mut req,
        &SignSpec {
            credentials: &t.root,
            region: &t.info.region,
            service: "s3",
            time: std::time::SystemTime::now(),
            location: aws_sigv4::http_request::SignatureLocation::Headers,
            expires_in: None,
            content_sha256_header: true,
            payload_override: None,
        },
    )
    .unwrap();
    let resp = t.http.send(req).await.expect("admin API answers");
    assert_eq!(resp.status, 200, "{path}: {}", resp.text());
    serde_json::from_slice(&resp.body).unwrap()
}

/// What load may leave on the server: users and policies named `lt…`, buckets `load-…`
/// (with their object count).
async fn leftovers(t: &AdminTarget) -> Vec<String> {
    let mut left = Vec::new();
    for (path, list) in [("users", "users"), ("policies", "policies")] {
        for item in admin_get(t, path).await[list].as_array().unwrap() {
            let name = item["name"].as_str().unwrap();
            if name.starts_with("lt") {
                left.push(format!("{path}: {name}"));
            }
        }
    }
    let s3 = keygate::run::clients::s3_client(t, Some(&t.root));
    let buckets = s3.list_buckets().send().await.expect("ListBuckets");
    for b in buckets.buckets() {
        let name = b.name().unwrap_or_default();
        if name.starts_with("load-") {
            let objects = s3.list_objects_v2().bucket(name).send().await.unwrap();
            left.push(format!(
                "bucket {name} ({} objects)",
                objects.key_count().unwrap_or(0)
            ));
        }
    }
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_in_another_region_load_trusts_the_ca_signs_for_the_region_and_cleans_up() {
    let _one = ONE_ATTACK.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (ca, tls) = pki();
    let server = server(dir.path(), |c| {
        c.tls = Some(tls);
        c.region = "eu-central-1".into();
    })
    .await;
    std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
    let file = profile(
        dir.path(),
        "vendor.toml",
        &server,
        "region = \"eu-central-1\"\nca_file = \"ca.pem\"",
    );
    // Users, STS sessions and service accounts, half the users deleted mid-run.
    let reports = dir.path().join("reports");
    let (report, code) = load::run(&args(&file, "revocation-storm.toml", &reports))
        .await
        .expect("the attack runs");
    let run = &report.runs[0];
    assert_eq!(code, 0, "unexpected outcomes: {:?}", run.transactions);
    assert_eq!(run.target, "remote");
    assert!(run.requests > 0, "{run:?}");
    assert!(
        run.transactions
            .iter()
            .all(|t| !t.errors.contains_key("transport")),
        "{:?}",
        run.transactions
    );
    let t = keygate::target::remote::open(&file, None).unwrap();
    assert_eq!(leftovers(&t).await, Vec::<String>::new());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_attack_removes_its_users_policies_and_filled_bucket() {
    let _one = ONE_ATTACK.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), |c| c.region = "ap-south-2".into()).await;
    // A profile shared with `run` may say `clock = true` for a server without a test clock:
    // load never moves the clock, so its preflight does not ask (it stopped the attack, exit 3).
    let file = profile(
        dir.path(),
        "vendor.toml",
        &server,
        "region = \"ap-south-2\"\n[capabilities]\nclock = true",
    );
    // Custom policies, STS, service accounts, and PUTs that add objects to the bucket. Pinning
    // left on: it cannot apply to a remote target, and the report says so.
    let mut a = args(&file, "hot-path.toml", &dir.path().join("r"));
    a.no_pin = false;
    let (report, code) = load::run(&a).await.expect("the attack runs");
    assert_eq!(
        report.settings["pin"], "not applicable (no target spawned here)",
        "{}",
        report.settings
    );
    assert!(
        report.settings.get("target_worker_threads").is_none(),
        "{}",
        report.settings
    );
    assert_eq!(
        code, 0,
        "unexpected outcomes: {:?}",
        report.runs[0].transactions
    );
    let put = report.runs[0]
        .transactions
        .iter()
        .find(|t| t.name == "put-small")
        .unwrap();
    assert!(put.ok > 0, "{put:?}");
    let t = keygate::target::remote::open(&file, None).unwrap();
    assert_eq!(leftovers(&t).await, Vec::<String>::new());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioning_that_fails_half_way_leaves_nothing_behind() {
    let _one = ONE_ATTACK.lock().await;
    let dir = tempfile::tempdir().unwrap();
    // hot-path provisions four users: the fourth is refused.
    let server = server(dir.path(), |c| c.limits.users = 3).await;
    let file = profile(dir.path(), "vendor.toml", &server, "");
    let e = load::run(&args(&file, "hot-path.toml", &dir.path().join("r")))
        .await
        .expect_err("provisioning fails");
    let e = format!("{e:#}");
    assert!(
        e.contains("provisioning plan `hot-path` on") && e.contains("LimitExceeded"),
        "{e}"
    );
    let t = keygate::target::remote::open(&file, None).unwrap();
    assert_eq!(leftovers(&t).await, Vec::<String>::new());
    server.shutdown().await;
}

/// `keygate load --target FILE` as a child process with `extra` arguments.
fn spawn_load(file: &Path, reports: &Path, extra: &[&str]) -> std::process::Child {
    spawn_load_env(file, reports, extra, &[])
}

/// [`spawn_load`] with environment variables set for the child.
fn spawn_load_env(
    file: &Path,
    reports: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Child {
    let plan = plan("hot-path.toml");
    Command::new(env!("CARGO_BIN_EXE_keygate"))
        .envs(env.iter().copied())
        .args([
            "load",
            "--target",
            file.to_str().unwrap(),
            "--plan",
            plan.to_str().unwrap(),
            "--users",
            "2",
            "--report-dir",
            reports.to_str().unwrap(),
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("keygate starts")
}

/// Wait (without blocking the runtime the server runs on) for `child` to exit; (code, stderr).
async fn finish(mut child: std::process::Child, within: Duration) -> (Option<i32>, String) {
    let until = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code(), err);
        }
        if Instant::now() > until {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "keygate did not exit within {within:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_or_sigint_during_a_remote_attack_removes_what_it_created() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), |_| {}).await;
    let file = profile(dir.path(), "vendor.toml", &server, "");
    let t = keygate::target::remote::open(&file, None).unwrap();
    let s3 = keygate::run::clients::s3_client(&t, Some(&t.root));
    // The attack runs once it has PUT an object of its own (`put/…`) into its bucket.
    let attacking = || {
        let s3 = s3.clone();
        async move {
            let until = Instant::now() + Duration::from_secs(60);
            loop {
                assert!(Instant::now() < until, "the attack did not start");
                tokio::time::sleep(Duration::from_millis(100)).await;
                let buckets = s3.list_buckets().send().await.unwrap();
                for b in buckets.buckets() {
                    let name = b.name().unwrap_or_default();
                    if !name.starts_with("load-") {
                        continue;
                    }
                    let listed = s3
                        .list_objects_v2()
                        .bucket(name)
                        .prefix("put/")
                        .send()
                        .await;
                    if listed.is_ok_and(|l| l.key_count().unwrap_or(0) > 0) {
                        return;
                    }
                }
            }
        }
    };
    let kill = |signal: &str, child: &std::process::Child| {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    for (signal, code) in [("TERM", 143), ("INT", 130)] {
        let reports = dir.path().join(format!("reports-{signal}"));
        // Phases far longer than the test: the signal comes while the attack runs.
        let child = spawn_load(&file, &reports, &["--warmup", "10m", "--duration", "10m"]);
        attacking().await;
        kill(signal, &child);
        let (exit, err) = finish(child, Duration::from_secs(60)).await;
        assert_eq!(exit, Some(code), "SIG{signal}: {err}");
        assert!(
            err.contains("keygate: removed what load created on")
                && err.contains(&format!("load interrupted by SIG{signal}"))
                && err.contains("what it created on the remote target is removed"),
            "SIG{signal}: {err}"
        );
        assert!(!err.contains("warning: teardown"), "SIG{signal}: {err}");
        assert_eq!(leftovers(&t).await, Vec::<String>::new(), "SIG{signal}");
        assert!(
            !reports.exists() || std::fs::read_dir(&reports).unwrap().count() == 0,
            "a report was written"
        );
    }
    // Ctrl-C twice during an attack is 130, whether the second comes during the cleanup (exit
    // at once) or after it: goose's own handler, had it taken SIGINT over, would stop the
    // attack on the first and exit 1 (the code for a regression) on the second.
    let reports = dir.path().join("reports-INT-twice");
    let child = spawn_load(&file, &reports, &["--warmup", "10m", "--duration", "10m"]);
    attacking().await;
    kill("INT", &child);
    tokio::time::sleep(Duration::from_millis(100)).await;
    kill("INT", &child);
    let (exit, err) = finish(child, Duration::from_secs(60)).await;
    assert_eq!(exit, Some(130), "SIGINT twice: {err}");
    assert!(
        err.contains("keygate: SIGINT received: stopping the attack"),
        "SIGINT twice: {err}"
    );
    // Goose never saw either signal (its handler prints these).
    assert!(
        !err.contains("caught ctrl-c") && !err.contains("caught another ctrl-c"),
        "{err}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_region_or_a_non_s3_endpoint_is_one_line_and_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), |_| {}).await;
    let endpoint = server.endpoint().to_owned();
    let write = |name: &str, endpoint: &str, secret: &str, region: &str| {
        let file = dir.path().join(name);
        let text = format!(
            "version = 1\nkind = \"remote\"\nendpoint = \"{endpoint}\"\nregion = \"{region}\"\n\
             root_access_key = \"{}\"\nroot_secret_key = \"{secret}\"\n",
            server.root_access_key()
        );
        std::fs::write(&file, text).unwrap();
        file
    };
    let (html, task) = html_server().await;
    let secret = server.root_secret_key();
    let cases = [
        (
            write("secret.toml", &endpoint, "not-the-secret", "us-east-1"),
            "SignatureDoesNotMatch",
            "the root secret in {} does not match the server's",
        ),
        (
            write("region.toml", &endpoint, secret, "eu-west-1"),
            "AuthorizationHeaderMalformed",
            "the region `eu-west-1` in {} is not the server's",
        ),
        (
            write("html.toml", &html, secret, "us-east-1"),
            "does not answer as S3 (got 200 text/html",
            "check `endpoint` in {}",
        ),
    ];
    for (file, said, fix) in cases {
        let reports = dir.path().join("reports");
        let child = spawn_load(&file, &reports, &["--duration", "1s", "--warmup", "0s"]);
        let (code, err) = finish(child, Duration::from_secs(30)).await;
        let fix = fix.replace("{}", &file.display().to_string());
        assert_eq!(code, Some(3), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with(&format!("error: target {}: ", file.display()))
                && err.contains(said)
                && err.contains(&fix),
            "{err}"
        );
    }
    task.abort();
    // A secret read from the environment: the fix names the variable, not the file.
    let from_env = dir.path().join("env.toml");
    std::fs::write(
        &from_env,
        format!(
            "version = 1\nkind = \"remote\"\nendpoint = \"{endpoint}\"\n\
             root_access_key = \"{}\"\nroot_secret_key_env = \"KG_LOAD_TEST_SECRET\"\n",
            server.root_access_key()
        ),
    )
    .unwrap();
    let child = spawn_load_env(
        &from_env,
        &dir.path().join("reports"),
        &["--duration", "1s", "--warmup", "0s"],
        &[("KG_LOAD_TEST_SECRET", "not-the-secret")],
    );
    let (code, err) = finish(child, Duration::from_secs(30)).await;
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "the root secret in $KG_LOAD_TEST_SECRET (`root_secret_key_env` in {}) does not match",
            from_env.display()
        )),
        "{err}"
    );
    let t =
        keygate::target::remote::open(&write("root.toml", &endpoint, secret, "us-east-1"), None)
            .unwrap();
    assert_eq!(leftovers(&t).await, Vec::<String>::new());
    server.shutdown().await;
}
