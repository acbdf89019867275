//! The scenario library against a real moto server (PyPI `moto[server]`, installed into `.venv`
//! by `.ci/run`), provisioned through the aws CLI by `targets/moto.toml` with the `aws`
//! profile. moto is not a conformance target: its per-scenario results are kept in
//! `scenarios/expectations/moto.toml`, and this test fails when they change, so a change in
//! moto, in the adapter or in a scenario is seen and the file updated on purpose
//! (`KEYGATE_UPDATE_EXPECTATIONS=1` rewrites it from the run; then review the reasons).
//!
//! moto starts on 127.0.0.1 on a free port with `INITIAL_NO_AUTH_ACTION_COUNT=4`: the first
//! four requests create an admin user, its policy and its keys (the run's root); every later
//! request is authenticated and authorised by moto's IAM.
//!
//! Not run, for time (every provisioning call is an aws CLI process, ~0.5 s of CPU):
//! scenarios tagged `limits` (1024 users, 101 service accounts) and `sts-limit` (500
//! AssumeRoles). The whole rest of the library, the policy area included, takes ~3.5 min on
//! two cores.
//!
//! Without `.venv/bin/moto_server` the test fails saying how to install it; set
//! `KEYGATE_SKIP_MOTO=1` to skip it (it then says so).

use keygate::cli::{self, RunArgs};
use keygate::scenario::Scenario;
use keygate::target::{command, Target};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Load-sized scenarios besides those tagged `limits`: 500 AssumeRoles, one aws CLI each.
const NOT_RUN: &[&str] = &["sts-limit"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Kills moto when the test ends, however it ends.
struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_moto(venv: &Path, port: u16) -> Moto {
    let child = Command::new(venv.join("bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "4")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server not listening after 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    moto
}

/// Create the admin user (the run's root) in moto's first, unauthenticated requests.
fn bootstrap_admin(aws: &Path, endpoint: &str, dir: &Path) -> (String, String) {
    let policy = dir.join("admin.json");
    std::fs::write(
        &policy,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(aws)
            .args(args)
            .args(["--endpoint-url", endpoint, "--output", "json"])
            .env("AWS_ACCESS_KEY_ID", "bootstrap")
            .env("AWS_SECRET_ACCESS_KEY", "bootstrap")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .expect("aws runs");
        assert!(
            out.status.success(),
            "aws {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let file = format!("file://{}", policy.display());
    run(&["iam", "create-user", "--user-name", "keygate-admin"]);
    run(&[
        "iam",
        "create-policy",
        "--policy-name",
        "keygate-admin",
        "--policy-document",
        &file,
    ]);
    run(&[
        "iam",
        "attach-user-policy",
        "--user-name",
        "keygate-admin",
        "--policy-arn",
        "arn:aws:iam::123456789012:policy/keygate-admin",
    ]);
    let key: serde_json::Value = serde_json::from_slice(&run(&[
        "iam",
        "create-access-key",
        "--user-name",
        "keygate-admin",
    ]))
    .unwrap();
    let k = &key["AccessKey"];
    (
        k["AccessKeyId"].as_str().unwrap().to_owned(),
        k["SecretAccessKey"].as_str().unwrap().to_owned(),
    )
}

/// `scenarios/expectations/moto.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectations {
    version: u32,
    scenarios: BTreeMap<String, Expected>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    result: String,
    #[serde(default)]
    reason: Option<String>,
}

fn expectations_file() -> PathBuf {
    root().join("scenarios/expectations/moto.toml")
}

/// Rewrite the file from a run, keeping the written reason of every unchanged result.
fn write_expectations(results: &[(String, String, String)]) {
    let old: Option<Expectations> = std::fs::read_to_string(expectations_file())
        .ok()
        .and_then(|t| toml::from_str(&t).ok());
    let mut out = String::from(
        "# moto server's results on the scenario library, through targets/moto.toml (profile aws).\n\
         # Checked by harness/tests/moto.rs: a change in any result fails the test, so it is seen.\n\
         # Regenerate with KEYGATE_UPDATE_EXPECTATIONS=1, then review each reason.\n\
         # Not run against moto (time): scenarios tagged `limits`, sts-limit.\n\
         version = 1\n\n[scenarios]\n",
    );
    for (id, verdict, reason) in results {
        if verdict == "pass" {
            out.push_str(&format!("{id} = {{ result = \"pass\" }}\n"));
        } else {
            let kept = old
                .as_ref()
                .and_then(|o| o.scenarios.get(id))
                .filter(|e| &e.result == verdict)
                .and_then(|e| e.reason.clone());
            let reason = kept.unwrap_or_else(|| reason.clone());
            let reason = reason.replace('\\', "\\\\").replace('"', "\\\"");
            let reason: String = reason.chars().take(300).collect();
            out.push_str(&format!(
                "{id} = {{ result = \"{verdict}\", reason = \"{reason}\" }}\n"
            ));
        }
    }
    std::fs::write(expectations_file(), out).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_against_moto_matches_the_expectations() {
    let venv = root().join(".venv");
    let moto_bin = venv.join("bin/moto_server");
    if !moto_bin.exists() {
        if std::env::var_os("KEYGATE_SKIP_MOTO").is_some() {
            eprintln!(
                "skipped: KEYGATE_SKIP_MOTO is set and {} is missing",
                moto_bin.display()
            );
            return;
        }
        panic!(
            "{} is missing: run .ci/run, or `.venv/bin/pip install 'moto[server]'` \
             (KEYGATE_SKIP_MOTO=1 skips this test)",
            moto_bin.display()
        );
    }
    let aws = venv.join("bin/aws");
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let _moto = start_moto(&venv, port);
    let dir = tempfile::tempdir().unwrap();
    let (key, secret) = bootstrap_admin(&aws, &endpoint, dir.path());

    let text = std::fs::read_to_string(root().join("targets/moto.toml")).unwrap();
    let text = text
        .replace("\"aws ", &format!("\"{} ", aws.display()))
        .replace("http://127.0.0.1:5000", &endpoint)
        .replace(
            "root_access_key_env = \"KEYGATE_ROOT_ACCESS_KEY\"",
            &format!("root_access_key = \"{key}\""),
        )
        .replace(
            "root_secret_key_env = \"KEYGATE_ROOT_SECRET_KEY\"",
            &format!("root_secret_key = \"{secret}\""),
        );
    let profile = dir.path().join("moto.toml");
    std::fs::write(&profile, text).unwrap();
    let target = command::open(&profile, None)
        .await
        .expect("moto profile opens");
    let caps = target.info().capabilities;
    assert!(caps.sts && !caps.service_accounts && !caps.posix && !caps.clock);

    let scenarios: Vec<Scenario> = cli::load_paths(&[root().join("scenarios")])
        .expect("library validates")
        .into_iter()
        .filter(|s| !s.def.tags.iter().any(|t| t == "limits") && !NOT_RUN.contains(&s.id()))
        .collect();
    let args = RunArgs {
        jobs: 4,
        report_dir: dir.path().join("reports"),
        no_progress: true,
        ..Default::default()
    };
    cli::run_on(&target, &scenarios, &args, None).await;
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("reports/latest/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["target"]["profile"], "aws", "{}", json["target"]);
    let results: Vec<(String, String, String)> = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["verdict"].as_str().unwrap().to_owned(),
                r["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    // Capabilities moto lacks are skips that say so, never passes.
    for s in &scenarios {
        let needs = s.needs();
        if needs.contains(&"service_accounts") || needs.contains(&"posix") {
            let (_, v, reason) = results.iter().find(|(id, ..)| id == s.id()).unwrap();
            assert_eq!(v, "skip", "{}: {reason}", s.id());
            assert!(reason.contains("target lacks"), "{}: {reason}", s.id());
        }
    }
    if std::env::var_os("KEYGATE_UPDATE_EXPECTATIONS").is_some() {
        write_expectations(&results);
        return;
    }
    let text = std::fs::read_to_string(expectations_file()).unwrap();
    let expected: Expectations = toml::from_str(&text).expect("expectations parse");
    assert_eq!(expected.version, 1);
    let mut diff = Vec::new();
    for (id, verdict, reason) in &results {
        match expected.scenarios.get(id) {
            None => diff.push(format!("{id}: {verdict} ({reason}), not in the file")),
            Some(e) if &e.result != verdict => diff.push(format!(
                "{id}: expected {}, got {verdict}: {reason}",
                e.result
            )),
            Some(e) if e.result != "pass" && e.reason.as_deref().unwrap_or("").is_empty() => {
                diff.push(format!("{id}: a {} needs a reason in the file", e.result))
            }
            Some(_) => {}
        }
    }
    for id in expected.scenarios.keys() {
        if !results.iter().any(|(r, ..)| r == id) {
            diff.push(format!("{id}: in the file but not run"));
        }
    }
    assert!(
        diff.is_empty(),
        "moto's results changed ({}): update {} on purpose\n{}",
        diff.len(),
        expectations_file().display(),
        diff.join("\n")
    );
}
