//! Fault scenarios (`scenarios/faults/`) on the container target: restart, SIGKILL during
//! concurrent writes and policy changes, pause and unpause. Each must pass with its ledger in
//! the report: at least one fault injected, operations acknowledged, none lost; the pause's
//! unanswered requests reported as transport errors, not as failures. On the embedded target,
//! which cannot be restarted from outside, the same scenarios are skips that say why.
//!
//! Needs the Docker engine (and builds `keygate-server:dev` when missing, as `container.rs`);
//! without it the container test fails saying so (`KEYGATE_SKIP_CONTAINER=1` skips it).

use keygate::cli::{self, RunArgs};
use keygate::target::{container, Target};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn docker_ok() -> bool {
    std::process::Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn only_faults() -> Option<regex::Regex> {
    Some(regex::Regex::new("^faults-").unwrap())
}

/// Run the fault scenarios on `target`; returns the exit code and report.json.
async fn run(target: &dyn Target, dir: &Path) -> (u8, serde_json::Value) {
    let scenarios = cli::load_paths(&[root().join("scenarios")]).expect("library validates");
    let args = RunArgs {
        jobs: 2,
        report_dir: dir.to_owned(),
        no_progress: true,
        ..Default::default()
    };
    let code = cli::run_on(target, &scenarios, &args, only_faults()).await;
    let json = serde_json::from_slice(&std::fs::read(dir.join("latest/report.json")).unwrap())
        .expect("report.json parses");
    (code, json)
}

#[test]
fn bad_fault_steps_are_refused_with_their_key_path() {
    let text = "version = 1\nid = \"x\"\ntitle = \"t\"\narea = \"faults\"\nrules = [\"X4\"]\n\
        [setup]\nbuckets = [\"b\"]\n\
        [[steps]]\nop = \"verify_acknowledged\"\n\
        [[steps]]\nop = \"put_storm\"\nbucket = \"b\"\ncount = 10\nkill_after = 11\nuser = \"u\"\n\
        [[steps]]\nop = \"restart_target\"\nexpect = { ok = true }\n\
        [[steps]]\nop = \"list_buckets\"\nexpect = { transport_error = true, status = 200 }\n";
    let file = Path::new("scenarios/faults/bad.toml");
    let errors = keygate::scenario::parse(file, text).expect_err("refused");
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    for want in [
        "steps[0].op",
        "steps[1].kill_after",
        "steps[1].user",
        "steps[2].expect",
        "steps[3].expect.transport_error",
    ] {
        assert!(paths.contains(&want), "{want} not in {paths:?}");
    }
    assert!(errors.iter().all(|e| e.file == file));
}

const IDS: [&str; 3] = [
    "faults-kill-during-writes",
    "faults-pause",
    "faults-restart",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_scenarios_on_the_container_target() {
    if !docker_ok() {
        if std::env::var_os("KEYGATE_SKIP_CONTAINER").is_some() {
            eprintln!("skipped: KEYGATE_SKIP_CONTAINER is set and no Docker engine answers");
            return;
        }
        panic!("no Docker engine answers `docker version` (KEYGATE_SKIP_CONTAINER=1 skips)");
    }
    let target = container::start(&root().join("targets/container.toml"), None)
        .await
        .expect("container starts");
    assert!(target.supports_faults());
    let endpoint = target.endpoint().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let (code, json) = run(&target, dir.path()).await;
    // The endpoint held across the restarts (the host port is fixed at creation).
    assert_eq!(target.endpoint(), endpoint);
    target.shutdown().await;

    let results = json["scenarios"].as_array().unwrap();
    let ids: Vec<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, IDS);
    let mut bad = Vec::new();
    for r in results {
        let (id, verdict) = (&r["id"], &r["verdict"]);
        if verdict != "pass" {
            bad.push(format!("{id}: {verdict}: {}", r["reason"]));
        }
        let f = &r["faults"];
        let injected = f["injected"].as_u64().unwrap_or(0);
        let acknowledged = f["acknowledged"].as_u64().unwrap_or(0);
        if injected < 1 || acknowledged < 1 || f["lost"] != 0 {
            bad.push(format!("{id}: ledger {f}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert_eq!(code, cli::EXIT_PASS);

    // The kill cut the storm after at least `kill_after` acknowledgements, with the held PUTs
    // mid-body (so writes were in flight at the kill, whatever the machine's speed).
    let kill = &results[0]["steps"][0];
    assert_eq!(kill["op"], "put_storm");
    let actual = kill["actual"].as_str().unwrap();
    assert!(actual.contains("SIGKILL + start"), "{kill}");
    let held = format!("({} held mid-body at the kill)", keygate::run::faults::HELD);
    assert!(actual.contains(&held), "{kill}");
    assert!(results[0]["faults"]["acknowledged"].as_u64().unwrap() >= 60);

    // While paused, requests are transport errors (a distinct mark), and the step passes
    // because it expected exactly that; nothing after the unpause is one.
    let pause: Vec<(&str, bool)> = results[1]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["op"].as_str().unwrap(), s["transport_error"] == true))
        .collect();
    let unpause = pause
        .iter()
        .position(|(op, _)| *op == "unpause_target")
        .unwrap();
    // Both requests sent while the target was frozen (a read and a denied list) got no answer.
    assert_eq!(
        pause[..unpause].iter().filter(|(_, t)| *t).count(),
        2,
        "{pause:?}"
    );
    assert!(pause[unpause..].iter().all(|(_, t)| !t), "{pause:?}");

    let html = std::fs::read_to_string(dir.path().join("latest/report.html")).unwrap();
    assert!(html.contains("<h2>Faults</h2>") && html.contains("operations lost"));
    // The ledger also reaches the file CI gates read.
    let junit = std::fs::read_to_string(dir.path().join("latest/junit.xml")).unwrap();
    for r in results {
        let f = &r["faults"];
        let ledger = format!(
            "<system-out>faults injected {}, operations acknowledged {}, operations lost {}",
            f["injected"], f["acknowledged"], f["lost"]
        );
        assert!(junit.contains(&ledger), "{ledger} in {junit}");
    }
}

#[cfg(feature = "embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_scenarios_are_skipped_where_faults_cannot_be_injected() {
    let target = keygate::target::embedded::start(None)
        .await
        .expect("server starts");
    let dir = tempfile::tempdir().unwrap();
    let (code, json) = run(&target, dir.path()).await;
    target.shutdown().await;
    for r in json["scenarios"].as_array().unwrap() {
        assert_eq!(r["verdict"], "skip", "{r}");
        assert_eq!(r["reason"], "target lacks: faults", "{r}");
        assert!(r.get("faults").is_none(), "{r}");
    }
    assert_eq!(json["scenarios"].as_array().unwrap().len(), IDS.len());
    assert_eq!(code, cli::EXIT_PASS, "skips with a reason are not failures");
}
