//! `keygate load` end to end, short and bounded (loopback only, seconds): the counts the
//! server saw (its `/_keygate/metrics`) equal the counts the load report claims, and a planted
//! slowdown in the null target makes the regression gate fail.
//!
//! Needs the `keygate-server` binary next to the test executable's directory, as
//! `cargo test --workspace` builds it (`cargo build -p keygate-server` otherwise).

use keygate::load::{self, LoadArgs};
use std::path::PathBuf;
use std::time::Duration;

/// Goose keeps process-wide state (its cancel flag): one attack at a time in this process.
static ONE_ATTACK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn args(plan: &str, report_dir: &std::path::Path) -> LoadArgs {
    std::env::set_var("KEYGATE_BIN", env!("CARGO_BIN_EXE_keygate"));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    LoadArgs {
        target: None,
        plan: root.join("scenarios/load").join(plan),
        duration: Duration::from_millis(1500),
        users: Some(2),
        rate: None,
        warmup: Duration::from_millis(300),
        report_dir: report_dir.to_owned(),
        compare: None,
        repeat: 1,
        baseline: None,
        max_regression: 0.10,
        worker: None,
        no_pin: false,
        target_workers: None,
        null_spin_us: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_counts_exactly_what_the_load_report_claims() {
    let _one = ONE_ATTACK.lock().await;
    // The spawned server measures every request's CPU (not 1 in 16 at random), so a rare
    // transaction type (assume-role) always has a figure in a run this short.
    std::env::set_var("KEYGATE_CPU_SAMPLE_EVERY", "1");
    let dir = tempfile::tempdir().unwrap();
    let (report, code) = load::run(&args("hot-path.toml", dir.path())).await.unwrap();
    assert_eq!(code, 0, "unexpected outcomes or regression");
    let run = &report.runs[0];
    assert_eq!(run.target, "server");
    assert!(run.requests > 20, "too few requests: {}", run.requests);
    let counted = run.server_counted.as_ref().expect("the server has metrics");
    assert_eq!(&run.sent_by_operation, counted);
    assert!(
        run.sent_by_operation.values().all(|n| *n > 0),
        "{counted:?}"
    );
    // The server's per-outcome counts agree with the answers: its `denied` are the 403s.
    let denied = run
        .server_counted_denied
        .as_ref()
        .expect("per-outcome counts");
    assert_eq!(&run.denied_by_operation, denied);
    assert!(run.denied_by_operation["GetObject"] > 0, "{denied:?}");
    // Every transaction type gets a server CPU figure: handler (measured) + even share.
    let at = run.cpu_attribution.as_ref().expect("CPU attribution");
    for t in &run.transactions {
        let c = t
            .server_cpu
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no server CPU", t.name));
        assert!(c.handler_us > 0.0, "{}: {c:?}", t.name);
        assert_eq!(c.unattributed_us, at.unattributed_us_per_request);
    }
    let op_of = |name: &str| {
        let t = run.transactions.iter().find(|t| t.name == name).unwrap();
        t.server_cpu.as_ref().unwrap().operation.clone()
    };
    assert_eq!(op_of("get-denied"), "GetObject/denied");
    assert_eq!(op_of("get-small"), "GetObject/allowed");
    assert_eq!(op_of("assume-role"), "Sts/allowed");
    let stages = run.stages.as_ref().unwrap();
    assert!(stages["sigv4"].count > 0 && stages["policy"].mean_us > 0.0);
    assert!(run.server_cpu_us_per_request.is_some_and(|c| c > 0.0));
    let denied = run
        .transactions
        .iter()
        .find(|t| t.name == "get-denied")
        .unwrap();
    assert_eq!(denied.errors.get("AccessDenied"), Some(&denied.count));
    let json = std::fs::read_to_string(dir.path().join(&report.run_id).join("load.json")).unwrap();
    let back: load::report::LoadReport = serde_json::from_str(&json).unwrap();
    assert_eq!(
        load::report::decode(&back.runs[0].histogram).unwrap().len(),
        run.requests
    );
    // Two shards of the same run merge into twice the counts, histograms added exactly.
    let shard = dir.path().join(&report.run_id);
    let (merged, _) = load::merge::merge(&[shard.clone(), shard], dir.path()).unwrap();
    let m = &merged.runs[0];
    assert_eq!(m.requests, 2 * run.requests);
    assert_eq!(
        load::report::decode(&m.histogram).unwrap().len(),
        2 * run.requests
    );
    assert_eq!(
        m.sent_by_operation["GetObject"],
        2 * run.sent_by_operation["GetObject"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_slowdown_in_the_null_target_fails_the_regression_gate() {
    let _one = ONE_ATTACK.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = args("auth-only.toml", dir.path());
    a.target = Some("null".into());
    let (base, _) = load::run(&a).await.unwrap();
    let base_file = dir.path().join(&base.run_id).join("load.json");
    a.baseline = Some(base_file);
    a.null_spin_us = 3000;
    let (slow, code) = load::run(&a).await.unwrap();
    assert_eq!(
        code, 1,
        "the gate passed a 3 ms CPU burn per request: {:?}",
        slow.summary
    );
    // The null target has no per-operation metrics: no per-transaction CPU is made up.
    assert!(slow.runs[0].cpu_attribution.is_none());
    assert!(slow.runs[0]
        .transactions
        .iter()
        .all(|t| t.server_cpu.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_run_sends_the_schedule_and_reports_its_own_lag() {
    let _one = ONE_ATTACK.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = args("auth-only.toml", dir.path());
    a.rate = Some(200);
    a.users = None;
    let (report, _) = load::run(&a).await.unwrap();
    let run = &report.runs[0];
    let ol = run.open_loop.as_ref().expect("open-loop figures");
    // 1.5 s at 200/s: exactly 300 intended starts in the steady window.
    assert_eq!((ol.rate, ol.scheduled, ol.users), (200, 300, 16));
    assert!(ol.started <= ol.scheduled, "{ol:?}");
    assert!(run.requests > 0 && run.requests <= ol.started, "{ol:?}");
    assert!(
        run.coordinated_omission.is_none(),
        "goose's backfill is off"
    );
    assert_eq!(report.settings["rate"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_users_keys_are_refused_at_once_and_nothing_fails() {
    let _one = ONE_ATTACK.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (report, code) = load::run(&args("revocation-storm.toml", dir.path()))
        .await
        .unwrap();
    let run = &report.runs[0];
    assert_eq!(
        code, 0,
        "a victim's key was accepted after the delete, or a 5xx"
    );
    assert!(run.revocation.as_ref().unwrap()["users_deleted"] == 2);
    let victims = run
        .transactions
        .iter()
        .filter(|t| t.name.contains("victim"));
    for t in victims {
        assert!(t.ok > 0 && t.errors.values().sum::<u64>() > 0, "{t:?}");
    }
}
