//! The scenario library through the command adapter: the reference server in-process,
//! provisioned by running its own WEKA-shaped CLI (`targets/keygate-cli.toml`, the built
//! `keygate-server` binary) instead of the admin API. Every scenario must pass, except those
//! that move the clock (a command target has none), which must be skipped saying so, and the
//! ones `targets/keygate-cli.known-failures.toml` lists, which must still fail (each with the
//! reason), as known failures: the run, given that list, exits 0.
#![cfg(feature = "embedded")]

use keygate::cli::{self, RunArgs};
use keygate::target::{command, Target};
use std::path::{Path, PathBuf};

/// The `keygate-server` binary next to this test's, built if `cargo test -p keygate` ran alone.
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("keygate-server");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = std::process::Command::new(cargo)
            .args(["build", "-p", "keygate-server", "--bin", "keygate-server"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok && bin.exists(), "cannot build {}", bin.display());
    }
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_through_the_keygate_cli_profile() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let server = keygate::target::embedded::start(None)
        .await
        .expect("server starts");
    let info = server.info();
    let text = std::fs::read_to_string(root.join("targets/keygate-cli.toml")).unwrap();
    let text = text
        .replace(
            "\"keygate-server ",
            &format!("\"{} ", server_binary().display()),
        )
        .replace("http://127.0.0.1:9000", &info.endpoint)
        .replace(
            "root_access_key_env = \"KEYGATE_ROOT_ACCESS_KEY\"",
            &format!("root_access_key = \"{}\"", server.root().access_key),
        )
        .replace(
            "root_secret_key_env = \"KEYGATE_ROOT_SECRET_KEY\"",
            &format!("root_secret_key = \"{}\"", server.root().secret_key),
        )
        .replace(
            "profile = \"reference\"",
            &format!(
                "profile = \"reference\"\nposix_root = \"{}\"",
                server.posix_root.as_ref().unwrap().display()
            ),
        );
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("keygate-cli.toml");
    std::fs::write(&profile, text).unwrap();
    let target = command::open(&profile, None).await.expect("profile opens");
    assert!(!target.info().capabilities.clock);

    let scenarios = cli::load_paths(&[root.join("scenarios")]).expect("library validates");
    let list = root.join("targets/keygate-cli.known-failures.toml");
    let args = RunArgs {
        jobs: 4,
        report_dir: dir.path().join("reports"),
        no_progress: true,
        known_failures: Some(list.clone()),
        ..Default::default()
    };
    let code = cli::run_on(&target, &scenarios, &args, None).await;
    server.shutdown().await;
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("reports/latest/report.json")).unwrap(),
    )
    .unwrap();
    let mut bad = Vec::new();
    let (mut passed, mut listed) = (0, 0);
    for r in json["scenarios"].as_array().unwrap() {
        let (id, verdict) = (r["id"].as_str().unwrap(), r["verdict"].as_str().unwrap());
        let reason = r["reason"].as_str().unwrap_or_default();
        let known = r["known_failure"].as_str();
        match (verdict, known) {
            ("fail", Some(_)) => listed += 1,
            (v, Some(why)) => bad.push(format!("{id}: {v}, but listed ({why}): remove it")),
            ("pass", None) => passed += 1,
            ("skip", None) if reason.contains("target lacks") && reason.contains("clock") => {}
            ("skip", None) if reason == "target lacks: faults" => {}
            _ => bad.push(format!("{id}: {verdict}: {reason}")),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(passed >= 40, "only {passed} passed");
    let text = std::fs::read_to_string(&list).unwrap();
    let entries = text
        .lines()
        .filter(|l| l.contains(" = ") && !l.starts_with('#') && !l.starts_with("version"))
        .count();
    assert_eq!(listed, entries, "every listed scenario failed, as known");
    assert_eq!(code, cli::EXIT_PASS, "known failures alone pass the gate");
}
