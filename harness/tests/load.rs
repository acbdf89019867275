//! `keygate load` end to end, short and bounded (loopback only, seconds): the counts the
//! server saw (its `/_keygate/metrics`) equal the counts the load report claims, and a planted
//! slowdown in the null target makes the regression gate fail. Then what `load` and `report
//! merge` refuse before any attack (exit 2, naming the flag, file or shard): a report
//! directory that cannot be written, `--max-regression` without a baseline, `--target-workers
//! 0`, a profile of another kind, a baseline of another plan, a shard given twice or missing;
//! and what ends a run early with exit 3: a `--compare` target that does not answer (before
//! any attack), a spawned target that dies during its attack.
//!
//! Needs the `keygate-server` binary next to the test executable's directory, as
//! `cargo test --workspace` builds it (`cargo build -p keygate-server` otherwise).

use keygate::load::{self, LoadArgs};

#[path = "support/keygate_cli.rs"]
mod keygate_cli;
use keygate_cli::{keygate, plan_file, short_load};
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
        max_regression: None,
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
    // One count per second begun of the 1.5 s steady window, every request in one.
    assert_eq!(run.per_second.len(), 2, "{:?}", run.per_second);
    assert_eq!(run.per_second.iter().sum::<u64>(), run.requests);
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
    // Two shards of a run (here the same figures, recorded as shards 0/2 and 1/2) merge into
    // twice the counts, histograms added exactly.
    let shards = [0, 1].map(|i| shard_of(&back, dir.path(), (i, 2), &format!("w{i}of2")));
    let (merged, _) = load::merge::merge(&shards, dir.path()).unwrap();
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

/// `report` recorded as shard `index` of `of` under run id `<its id>-<tag>`, written to
/// `dir/<that id>/load.json`; returns the directory.
fn shard_of(
    report: &load::report::LoadReport,
    dir: &std::path::Path,
    (index, of): (u64, u64),
    tag: &str,
) -> PathBuf {
    let mut r = report.clone();
    r.run_id = format!("{}-{tag}", report.run_id);
    r.settings["worker"] = serde_json::json!({"index": index, "of": of});
    let shard = dir.join(&r.run_id);
    std::fs::create_dir_all(&shard).unwrap();
    std::fs::write(
        shard.join("load.json"),
        serde_json::to_vec_pretty(&r).unwrap(),
    )
    .unwrap();
    shard
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
    // The failed gate is in the report, with its reason, not only on the console.
    let gate = slow.gate.as_ref().expect("the gate is recorded");
    assert_eq!(gate.verdict, "fail", "{gate:?}");
    let result = slow.result.as_ref().expect("the result is recorded");
    assert_eq!(result.exit_code, 1);
    assert_eq!(Some(&result.failures[0]), gate.reason.as_ref());
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

/// A report of `plan` with one run of `requests` requests (no attack).
fn recorded(plan: &str, requests: u64) -> load::report::LoadReport {
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for _ in 0..requests {
        h.record(100).unwrap();
    }
    let runs = vec![load::report::RunResult {
        target: "remote".into(),
        steady_seconds: 1.0,
        requests,
        throughput_rps: requests as f64,
        histogram: load::report::encode(&h),
        ..Default::default()
    }];
    load::report::LoadReport {
        version: load::report::LOAD_REPORT_VERSION,
        run_id: "load-1-1".into(),
        plan: plan.into(),
        settings: serde_json::json!({"users": 2, "duration_s": 1.5, "warmup_s": 0.3,
            "repeat": 1, "rate": null}),
        machine: serde_json::json!({"generator_build": "debug"}),
        summary: load::report::summarize(&runs),
        runs,
        ratios: None,
        gate: None,
        result: None,
    }
}

#[test]
fn merge_refuses_a_shard_twice_a_missing_shard_and_the_same_report_twice() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("merged");
    let r = recorded("auth-only", 10);
    let s0 = shard_of(&r, dir.path(), (0, 2), "a");
    let s0_again = shard_of(&r, dir.path(), (0, 2), "b");
    let s1 = shard_of(&r, dir.path(), (1, 2), "c");
    let s1_of_3 = shard_of(&r, dir.path(), (1, 3), "d");
    let error = |dirs: &[PathBuf]| {
        format!(
            "{:#}",
            load::merge::merge(dirs, &out).expect_err("merge refused")
        )
    };

    let e = error(&[s0.clone(), s0_again.clone(), s1.clone()]);
    assert!(
        e.contains("shard 0/2 is given twice")
            && e.contains(&s0.display().to_string())
            && e.contains(&s0_again.display().to_string()),
        "{e}"
    );
    let e = error(std::slice::from_ref(&s0));
    assert!(
        e.contains("incomplete: shard(s) 1 of 2 missing (given: 0)"),
        "{e}"
    );
    let e = error(&[s0.clone(), s0.clone()]);
    assert!(e.contains("are the same report"), "{e}");
    let e = error(&[s0.clone(), s1_of_3]);
    assert!(e.contains("shard 1/3") && e.contains("of 2"), "{e}");
    assert!(!out.exists(), "a refused merge wrote a report");

    // The whole set merges: counts add up once each.
    let (merged, _) = load::merge::merge(&[s1, s0], &out).unwrap();
    assert_eq!(merged.runs[0].requests, 20);
}

/// `keygate load --target null` with a short run and `extra` arguments.
fn load_null(reports: &std::path::Path, extra: &[&str]) -> (Option<i32>, String) {
    let extra = [&["--no-pin"], extra].concat();
    let (code, _, err) = short_load(&plan_file("auth-only.toml"), reports, &extra);
    (code, err)
}

#[test]
fn a_report_dir_that_cannot_be_written_is_refused_before_the_attack() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let reports = file.join("reports");
    let (code, err) = load_null(&reports, &["--target", "null"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with(&format!(
            "error: --report-dir {}: cannot write reports there",
            reports.display()
        )),
        "{err}"
    );
}

#[test]
fn max_regression_without_a_baseline_and_zero_target_workers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = load_null(dir.path(), &["--target", "null", "--max-regression", "5%"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--max-regression 5% needs --baseline"),
        "{err}"
    );
    let (code, err) = load_null(dir.path(), &["--target", "null", "--target-workers", "0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--target-workers must be at least 1"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a report was written"
    );
}

#[test]
fn a_command_profile_and_an_unreadable_compare_are_refused_naming_their_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cli = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../targets/keygate-cli.toml");
    let (code, err) = load_null(dir.path(), &["--target", cli.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--target: ")
            && err.contains("is a `kind = \"command\"` profile")
            && err.contains("supports only `kind = \"remote\"` targets"),
        "{err}"
    );
    let (code, err) = load_null(dir.path(), &["--target", "null", "--compare", "nosuch"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with("error: --compare: nosuch: cannot read"),
        "{err}"
    );
}

/// A remote profile in `dir` whose endpoint refuses connections (a port just freed), and
/// that endpoint.
fn closed_profile(dir: &std::path::Path) -> (PathBuf, String) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let profile = dir.join("closed.toml");
    std::fs::write(
        &profile,
        format!("version = 1\nkind = \"remote\"\nendpoint = \"{endpoint}\"\nroot_access_key = \"k\"\nroot_secret_key = \"s\"\n"),
    )
    .unwrap();
    (profile, endpoint)
}

#[test]
fn a_baseline_of_another_plan_is_refused_and_other_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let base = dir.path().join("base.json");
    let mut recorded = recorded("hot-path", 10);
    std::fs::write(&base, serde_json::to_vec(&recorded).unwrap()).unwrap();
    let (code, err) = load_null(
        &reports,
        &["--target", "null", "--baseline", base.to_str().unwrap()],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("was recorded with plan `hot-path`, this run's plan is `auth-only`"),
        "{err}"
    );

    // Same plan, other settings: a warning names each, before the target is contacted (here
    // a remote endpoint that refuses connections, so the run stops at its preflight).
    recorded.plan = "auth-only".into();
    recorded.settings["users"] = 8.into();
    recorded.settings["duration_s"] = 30.0.into();
    let (here, there) = if cfg!(debug_assertions) {
        ("debug", "release")
    } else {
        ("release", "debug")
    };
    recorded.machine["generator_build"] = there.into();
    std::fs::write(&base, serde_json::to_vec(&recorded).unwrap()).unwrap();
    let (profile, endpoint) = closed_profile(dir.path());
    let (code, err) = load_null(
        &reports,
        &[
            "--target",
            profile.to_str().unwrap(),
            "--baseline",
            base.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(3), "{err}");
    let warning = err
        .lines()
        .find(|l| l.starts_with("warning: --baseline"))
        .unwrap_or_else(|| panic!("no warning: {err}"));
    for said in [
        "duration 30.0 s there, 1.0 s here",
        "warmup 0.3 s there, 0.0 s here",
        "users 8 there, 1 here",
    ] {
        assert!(warning.contains(said), "no `{said}` in: {warning}");
    }
    assert!(
        warning.contains(&format!("build {there} there, {here} here")),
        "{warning}"
    );
    assert!(err.contains(&format!("{endpoint} unreachable")), "{err}");
}

/// `keygate load` started with `args` and `more`, reports in `reports`, its output piped.
fn spawn_load(reports: &std::path::Path, args: &[&str], more: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_keygate"))
        .arg("load")
        .args(args)
        .args(more)
        .arg("--report-dir")
        .arg(reports)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The processes `pid`'s threads started, by pid.
fn children(pid: u32) -> Vec<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// A spawned target that dies during the attack ends the run at once with exit 3, saying so,
/// and no report. Regression (a probe): the run went on to its end, counted the refused
/// connections as requests (throughput, latency and CPU per request from them) and exited 1
/// for "unexpected outcomes", so a gate read a crashed server as a fast one.
#[test]
fn a_spawned_target_that_dies_ends_the_run_with_exit_3_and_no_report() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let plan = plan_file("auth-only.toml");
    let load = spawn_load(
        &reports,
        &["--plan", &plan, "--duration", "60s", "--warmup", "0s"],
        &["--users", "2", "--no-pin"],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let server = loop {
        match children(load.id()).first() {
            Some(&pid) => break pid,
            None if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            None => panic!("no target spawned"),
        }
    };
    // Provisioned and under attack by then (the ramp is 1 s).
    std::thread::sleep(Duration::from_secs(3));
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &server.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let out = load.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("the server target this run spawned")
            && err.contains("exited during the attack (signal: 9"),
        "{err}"
    );
    // Well before the 60 s the run asked for: it stopped when the target died.
    assert!(started.elapsed() < Duration::from_secs(30), "{err}");
    let written = std::fs::read_dir(&reports).into_iter().flatten().flatten();
    assert_eq!(
        written.filter(|e| e.path().is_dir()).count(),
        0,
        "a report was written"
    );
}

/// A `--compare` target that does not answer ends the run before any attack (exit 3, naming
/// its profile). Regression (a probe): the first target was attacked in full first, and the
/// run then failed without a report, its minutes spent for nothing.
#[test]
fn an_unreachable_compare_target_is_found_before_any_attack() {
    let dir = tempfile::tempdir().unwrap();
    let (profile, _) = closed_profile(dir.path());
    let started = std::time::Instant::now();
    let (plan, reports) = (plan_file("auth-only.toml"), dir.path().join("reports"));
    let (code, _, err) = keygate(&[
        "load",
        "--plan",
        &plan,
        "--duration",
        "60s",
        "--warmup",
        "0s",
        "--report-dir",
        reports.to_str().unwrap(),
        "--target",
        "null",
        "--compare",
        profile.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains(profile.to_str().unwrap()) && err.contains("unreachable"),
        "{err}"
    );
    // The null target's 60 s attack would come first otherwise.
    assert!(started.elapsed() < Duration::from_secs(30), "{err}");
}

/// An interrupt after some attacks finished writes their report, marked interrupted and
/// gated by nothing, and says where (exit 130 for SIGINT). Regression (a probe): nothing was
/// written, so a CI job stopped at its time limit lost the repeats it had measured.
#[test]
fn an_interrupt_keeps_the_attacks_that_finished() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let plan = plan_file("auth-only.toml");
    let load = spawn_load(
        &reports,
        &["--plan", &plan, "--target", "null", "--repeat", "5"],
        &["--duration", "1s", "--warmup", "0s", "--users", "1"],
    );
    // Each attack spawns its own null target: a second one means the first attack is over.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut first = None;
    loop {
        match (first, children(load.id()).first().copied()) {
            (None, Some(pid)) => first = Some(pid),
            (Some(a), Some(b)) if a != b => break,
            _ => {}
        }
        assert!(std::time::Instant::now() < deadline, "no second attack");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &load.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = load.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let file = err
        .split("the report of the ")
        .nth(1)
        .and_then(|r| r.split(" is ").nth(1))
        .and_then(|r| r.split(';').next())
        .unwrap_or_else(|| panic!("no report named: {err}"));
    let report: load::report::LoadReport =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let done = report.runs.len();
    assert!((1..5).contains(&done), "{done} attacks in {file}");
    let result = report.result.unwrap();
    assert_eq!(
        (result.verdict.as_str(), result.exit_code),
        ("INTERRUPTED", 130)
    );
    assert!(
        result.failures[0].contains(&format!("after {done} of 5 attacks")),
        "{result:?}"
    );
    assert!(report.gate.is_none());
}
