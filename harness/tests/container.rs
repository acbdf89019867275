//! The container target: `targets/container.toml` starts the reference server's image
//! (`FROM scratch` + the statically linked binary, built by `scripts/build-image` when the
//! engine lacks it, so the first run on a fresh machine pays the static build), provisions it
//! through the admin API, runs a few scenarios across the areas, and removes the container.
//!
//! Needs the Docker engine; without it the test fails saying so (`KEYGATE_SKIP_CONTAINER=1`
//! skips it, saying so).

use keygate::cli::{self, RunArgs};
use keygate::target::{container, Target};
use std::path::Path;

fn docker_ok() -> bool {
    std::process::Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_against_the_reference_server_container() {
    if !docker_ok() {
        if std::env::var_os("KEYGATE_SKIP_CONTAINER").is_some() {
            eprintln!("skipped: KEYGATE_SKIP_CONTAINER is set and no Docker engine answers");
            return;
        }
        panic!("no Docker engine answers `docker version` (KEYGATE_SKIP_CONTAINER=1 skips)");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = container::start(&root.join("targets/container.toml"), None)
        .await
        .expect("container starts");
    let info = target.info();
    assert_eq!(info.kind, "container");
    assert!(
        info.endpoint.starts_with("http://127.0.0.1:"),
        "{}",
        info.endpoint
    );
    assert!(info.capabilities.posix && !info.capabilities.clock);
    let id = format!("{:?}", target.guard);
    let cid = id
        .trim_start_matches("Some(Container(")
        .trim_end_matches("))")
        .to_owned();
    // Published on loopback only, never on every interface.
    let ports = std::process::Command::new("docker")
        .args(["port", &cid])
        .output()
        .unwrap();
    let ports = String::from_utf8_lossy(&ports.stdout).into_owned();
    assert!(
        !ports.trim().is_empty() && ports.lines().all(|l| l.contains("-> 127.0.0.1:")),
        "published beyond loopback: {ports}"
    );

    let scenarios = cli::load_paths(&[root.join("scenarios")]).expect("library validates");
    let dir = tempfile::tempdir().unwrap();
    let args = RunArgs {
        jobs: 4,
        report_dir: dir.path().to_owned(),
        no_progress: true,
        ..Default::default()
    };
    let only = regex::Regex::new(
        "^(users-no-policy|users-delete-cascades|s3-listing|sts-assume-role|\
         sts-session-policy-deny|service-accounts-lifecycle|posix-ownership|sigv4-header-auth)$",
    )
    .unwrap();
    let code = cli::run_on(&target, &scenarios, &args, Some(only)).await;
    target.shutdown().await;
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("latest/report.json")).unwrap())
            .unwrap();
    let results = json["scenarios"].as_array().unwrap();
    assert_eq!(results.len(), 8, "{results:#?}");
    let bad: Vec<String> = results
        .iter()
        .filter(|r| r["verdict"] != "pass")
        .map(|r| format!("{}: {} {}", r["id"], r["verdict"], r["reason"]))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert_eq!(code, cli::EXIT_PASS);

    // The container is gone after shutdown.
    let out = std::process::Command::new("docker")
        .args(["ps", "-aq", "--no-trunc", "--filter", &format!("id={cid}")])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "container {cid} still exists"
    );
}
