//! `keygate load` and `keygate report merge` as a user runs them: a failed gate is recorded
//! with its reasons in every report file (not only on the console), `--max-regression` is
//! shown as given and refused where it could never trip, options that cannot apply are refused
//! and the recorded settings are the ones that applied, plans with absurd values are refused
//! before anything starts, the help teaches `--plan` and `--report-dir`, and `report merge`
//! refuses runs that are not shards of one `--worker` run.
//!
//! Deterministic: the only attacks are on the null target, gated on a baseline whose
//! throughput (10¹² req/s) no machine reaches, so the gate fails whatever the machine's speed.

use std::path::{Path, PathBuf};

#[path = "support/keygate_cli.rs"]
mod keygate_cli;
use keygate_cli::{keygate, plan_file, short_load};

/// A `load.json` of `plan` in which `target` did 10¹² req/s at 0.001 µs CPU per request.
fn unbeatable_baseline(file: &Path, plan: &str, target: &str) {
    let json = serde_json::json!({
        "version": 1,
        "run_id": "load-1-abcdef",
        "plan": plan,
        "settings": {"users": 1, "duration_s": 1.0, "warmup_s": 0.0, "repeat": 1, "rate": null,
                     "targets": [target]},
        "machine": {"generator_build": if cfg!(debug_assertions) { "debug" } else { "release" }},
        "runs": [],
        "summary": {target: {"runs": 1, "throughput_rps": 1e12,
                             "server_cpu_us_per_request": 0.001, "p50_us": 1.0, "p99_us": 1.0}},
        "ratios": null,
    });
    std::fs::write(file, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
}

/// The one run directory under `reports`.
fn run_dir(reports: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn a_failed_gate_is_recorded_with_its_reasons_in_every_report_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    unbeatable_baseline(&base, "auth-only", "null");
    let reports = dir.path().join("reports");
    let (code, out, err) = short_load(
        &plan_file("auth-only.toml"),
        &reports,
        &[
            "--target",
            "null",
            "--no-pin",
            "--baseline",
            base.to_str().unwrap(),
            "--max-regression",
            "0.05",
        ],
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(err.contains("regression beyond the threshold"), "{err}");
    // The threshold as given: 0.05 means 0.05%, not "0%".
    assert!(out.contains("max regression 0.05%"), "{out}");
    let run = run_dir(&reports);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("load.json")).unwrap()).unwrap();
    let gate = &json["gate"];
    assert_eq!(gate["baseline"], base.display().to_string(), "{gate}");
    assert_eq!(gate["baseline_run_id"], "load-1-abcdef", "{gate}");
    assert_eq!(gate["max_regression_percent"], 0.05, "{gate}");
    assert_eq!(gate["verdict"], "fail", "{gate}");
    let throughput = gate["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["target"] == "null" && c["metric"] == "throughput_rps")
        .unwrap_or_else(|| panic!("no throughput comparison: {gate}"));
    assert_eq!(throughput["baseline"], 1e12, "{throughput}");
    assert_eq!(throughput["verdict"], "REGRESSION", "{throughput}");
    assert!(
        gate["reason"]
            .as_str()
            .is_some_and(|r| r.contains("null throughput")),
        "{gate}"
    );
    assert_eq!(json["result"]["exit_code"], 1, "{json}");
    let reasons = json["result"]["failures"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r.as_str().unwrap().contains("regression beyond")),
        "{reasons:?}"
    );
    let summary = std::fs::read_to_string(run.join("summary.txt")).unwrap();
    let html = std::fs::read_to_string(run.join("load.html")).unwrap();
    for (name, text) in [("summary.txt", &summary), ("load.html", &html)] {
        for said in [
            base.display().to_string(),
            "max regression 0.05%".to_owned(),
            "REGRESSION".to_owned(),
            "FAILED (exit 1)".to_owned(),
            "regression beyond the threshold".to_owned(),
        ] {
            assert!(
                text.contains(&said),
                "{name} does not say `{said}`:\n{text}"
            );
        }
    }
}

#[test]
fn max_regression_is_refused_where_it_could_never_trip_or_is_no_number() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    unbeatable_baseline(&base, "auth-only", "null");
    let plan = plan_file("auth-only.toml");
    for (given, said) in [
        ("150%", "a throughput cannot drop by more than 100%"),
        ("1000%", "a throughput cannot drop by more than 100%"),
        ("100%", "a throughput cannot drop by more than 100%"),
        ("-5%", "must be at least 0%"),
        ("nan", "not a percentage"),
        ("inf%", "not a percentage"),
    ] {
        let (code, out, err) = short_load(
            &plan,
            &dir.path().join("reports"),
            &[
                "--target",
                "null",
                "--baseline",
                base.to_str().unwrap(),
                &format!("--max-regression={given}"),
            ],
        );
        assert_eq!(code, Some(2), "{given}: {out}{err}");
        assert!(err.contains(said), "{given}: {err}");
    }
    // A negative value given as the next argument reaches the same check (clap took `-5`
    // for an option before).
    let (code, _, err) = short_load(
        &plan,
        &dir.path().join("reports"),
        &[
            "--baseline",
            base.to_str().unwrap(),
            "--max-regression",
            "-5",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("must be at least 0%"), "{err}");
    assert!(!dir.path().join("reports").exists(), "a refused run wrote");
    let (_, help, _) = keygate(&["load", "--help"]);
    assert!(
        help.contains("below 100%") && help.contains("0.1 is 0.1%"),
        "{help}"
    );
}

#[test]
fn target_workers_is_refused_where_no_target_is_spawned_and_recorded_where_it_applies() {
    let dir = tempfile::tempdir().unwrap();
    // A remote profile: its worker threads are not ours to set (refused before the preflight,
    // so the closed port is never contacted).
    let profile = dir.path().join("remote.toml");
    std::fs::write(
        &profile,
        "version = 1\nkind = \"remote\"\nendpoint = \"http://127.0.0.1:9\"\n\
         root_access_key = \"k\"\nroot_secret_key = \"s\"\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let (code, _, err) = short_load(
        &plan_file("auth-only.toml"),
        &reports,
        &[
            "--target",
            profile.to_str().unwrap(),
            "--target-workers",
            "7",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--target-workers 7") && err.contains("no target is spawned here"),
        "{err}"
    );
    assert!(!reports.exists());

    // Unpinned, the spawned target still gets the threads asked for, and the report says so.
    let (code, out, err) = short_load(
        &plan_file("auth-only.toml"),
        &reports,
        &["--target", "null", "--no-pin", "--target-workers", "3"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run_dir(&reports).join("load.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["settings"]["pin"], "off (--no-pin)", "{json}");
    assert_eq!(json["settings"]["target_worker_threads"], 3, "{json}");
}

/// A plan with one `[[objects]]` entry (`objects`) and a HEAD of `key`.
fn plan_with(dir: &Path, objects: &str, key: &str) -> PathBuf {
    let file = dir.join("plan.toml");
    std::fs::write(
        &file,
        format!(
            "version = 1\nid = \"p\"\ntitle = \"t\"\n[[identities]]\nname = \"u\"\nkind = \"user\"\n\
             policy = \"readwrite\"\n[[objects]]\nprefix = \"one/\"\n{objects}\n[[transactions]]\n\
             name = \"head\"\nop = \"head_object\"\nweight = 1\nas = [\"u\"]\nkey = \"{key}\"\n"
        ),
    )
    .unwrap();
    file
}

#[test]
fn plans_with_absurd_or_inconsistent_values_are_refused_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    for (objects, key, said) in [
        (
            "count = 1\nsize = 99999999999999",
            "one/0",
            "objects[0] (one/): `size` 99999999999999 is above",
        ),
        (
            "count = 100000000\nsize = 0",
            "one/0",
            "objects[0] (one/): `count` 100000000 is above",
        ),
        (
            "count = 0\nsize = 0",
            "one/0",
            "objects[0] (one/): `count` must be at least 1",
        ),
        (
            "count = 2\nsize = 0",
            "one/2",
            "transactions[0] (head): reads `one/2`, which objects[0] does not create",
        ),
    ] {
        let plan = plan_with(dir.path(), objects, key);
        let (code, _, err) = short_load(plan.to_str().unwrap(), &reports, &["--target", "null"]);
        assert_eq!(code, Some(2), "{objects}: {err}");
        assert!(
            err.contains(&plan.display().to_string()) && err.contains(said),
            "{objects}: {err}"
        );
    }
    assert!(!reports.exists(), "a refused plan was run");
}

#[test]
fn the_help_teaches_plan_and_report_dir() {
    let (code, help, _) = keygate(&["load", "--help"]);
    assert_eq!(code, Some(0));
    let entry = |flag: &str| -> String {
        let start = help
            .find(&format!("  {flag} "))
            .unwrap_or_else(|| panic!("no {flag}: {help}"));
        let rest = &help[start..];
        let end = rest[2..].find("\n  -").map_or(rest.len(), |e| e + 2);
        rest[..end].to_owned()
    };
    let plan = entry("--plan");
    for said in ["scenarios/load", "hot-path.toml", "[[objects]]"] {
        assert!(plan.contains(said), "--plan does not say `{said}`:\n{plan}");
    }
    let dir = entry("--report-dir");
    for said in [
        "<run id>",
        "load.json",
        "summary.txt",
        "load.html",
        "reports",
    ] {
        assert!(
            dir.contains(said),
            "--report-dir does not say `{said}`:\n{dir}"
        );
    }
}

/// A `load.json` of plan `auth-only` (run `id`, `worker` as its settings record it) in
/// `dir/id/`; returns the directory.
fn recorded(dir: &Path, id: &str, worker: serde_json::Value) -> PathBuf {
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    h.record(100).unwrap();
    let hist = keygate::load::report::encode(&h);
    let json = serde_json::json!({
        "version": 1, "run_id": id, "plan": "auth-only",
        "settings": {"users": 2, "duration_s": 1.0, "warmup_s": 0.0, "repeat": 1, "rate": null,
                     "targets": ["null"], "worker": worker},
        "machine": {"generator_build": "debug"},
        "runs": [{"target": "null", "steady_seconds": 1.0, "requests": 1, "throughput_rps": 1.0,
                  "server_cpu_us_per_request": null, "generator_cpu_us_per_request": null,
                  "latency_us": {"p50": 100, "p90": 100, "p99": 100, "p999": 100, "max": 100,
                                 "mean": 100.0},
                  "histogram": hist, "transactions": [], "sent_by_operation": {},
                  "server_counted": null, "stages": null, "coordinated_omission": null}],
        "summary": {"null": {"runs": 1, "throughput_rps": 1.0, "server_cpu_us_per_request": null,
                             "p50_us": 100.0, "p99_us": 100.0}},
        "ratios": null,
    });
    let d = dir.join(id);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("load.json"), serde_json::to_vec(&json).unwrap()).unwrap();
    d
}

#[test]
fn merge_refuses_runs_that_are_not_shards_of_one_worker_run() {
    let dir = tempfile::tempdir().unwrap();
    let a = recorded(dir.path(), "load-1-aaaaaa", serde_json::Value::Null);
    let b = recorded(dir.path(), "load-2-bbbbbb", serde_json::Value::Null);
    let out = dir.path().join("merged");
    let (code, _, err) = keygate(&[
        "report",
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--report-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("{} is not a shard", a.display()))
            && err.contains("--worker I/N")
            && err.contains("separate runs"),
        "{err}"
    );
    // Shards whose settings differ are not one run either.
    let s0 = recorded(
        dir.path(),
        "load-3-cccccc-w0of2",
        serde_json::json!({"index": 0, "of": 2}),
    );
    let s1 = recorded(
        dir.path(),
        "load-4-dddddd-w1of2",
        serde_json::json!({"index": 1, "of": 2}),
    );
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s1.join("load.json")).unwrap()).unwrap();
    j["settings"]["users"] = 8.into();
    std::fs::write(s1.join("load.json"), serde_json::to_vec(&j).unwrap()).unwrap();
    let (code, _, err) = keygate(&[
        "report",
        "merge",
        s0.to_str().unwrap(),
        s1.to_str().unwrap(),
        "--report-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("users 2") && err.contains("users 8"), "{err}");
    assert!(!out.exists(), "a refused merge wrote a report");
}

/// Shard `index` of 2 (run `id`) of plan `auth-only` on `null` in `dir/id/`, with one attack
/// per `(throughput, steady window)`: the repeats of one `--repeat` run.
fn shard(dir: &Path, id: &str, index: u64, attacks: &[(f64, (u64, u64))]) -> PathBuf {
    let d = recorded(dir, id, serde_json::json!({"index": index, "of": 2}));
    let file = d.join("load.json");
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let one = j["runs"][0].clone();
    j["settings"]["repeat"] = attacks.len().into();
    j["runs"] = attacks
        .iter()
        .map(|(rps, window)| {
            let mut run = one.clone();
            run["throughput_rps"] = (*rps).into();
            run["steady_window_unix_ms"] = serde_json::json!([window.0, window.1]);
            run["coordinated_omission"] = serde_json::json!({"actual_requests": 9,
                "synthetic_requests": 1, "synthetic_percentage": 10.0, "events": 1});
            run
        })
        .collect();
    std::fs::write(&file, serde_json::to_vec(&j).unwrap()).unwrap();
    d
}

/// Regressions (a probe): the repeats of a `--repeat` run were all added into one attack per
/// target (two repeats of two shards: four times a shard's throughput), shards run one after
/// the other were added as if together, and the merged report had no result and the
/// coordinated-omission counts of one shard only.
#[test]
fn merge_adds_shards_attack_by_attack_and_refuses_shards_that_ran_apart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("merged");
    let merge = |a: &Path, b: &Path| {
        keygate(&[
            "report",
            "merge",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--report-dir",
            out.to_str().unwrap(),
        ])
    };
    // Two repeats; shard 1 started 100 ms after shard 0.
    let s0 = shard(
        dir.path(),
        "load-5-eeeeee-w0of2",
        0,
        &[(10.0, (1_000, 2_000)), (20.0, (3_000, 4_000))],
    );
    let s1 = shard(
        dir.path(),
        "load-5-ffffff-w1of2",
        1,
        &[(1.0, (1_100, 2_100)), (2.0, (3_100, 4_100))],
    );
    let (code, stdout, err) = merge(&s0, &s1);
    assert_eq!(code, Some(0), "{err}");
    let written = stdout
        .lines()
        .find_map(|l| l.strip_prefix("wrote "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let merged: keygate::load::report::LoadReport =
        serde_json::from_str(&std::fs::read_to_string(written).unwrap()).unwrap();
    let rps: Vec<f64> = merged.runs.iter().map(|r| r.throughput_rps).collect();
    assert_eq!(rps, [11.0, 22.0]);
    assert_eq!(merged.summary["null"].throughput_rps, 16.5);
    let co = merged.runs[0].coordinated_omission.as_ref().unwrap();
    assert_eq!(
        (co.actual_requests, co.synthetic_requests, co.events),
        (18, 2, 2)
    );
    assert_eq!(merged.runs[0].steady_window_unix_ms, Some((1_000, 2_100)));
    assert_eq!(merged.settings["steady_overlap"], 0.9);
    assert_eq!(merged.result.as_ref().unwrap().verdict, "passed");
    let summary = std::fs::read_to_string(Path::new(written).with_file_name("summary.txt"));
    assert!(summary.unwrap().ends_with("result: passed (exit 0)\n"));

    // A shard whose own run was interrupted, or whose answers were unexpected: the merge
    // fails (exit 1), saying which and why.
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s1.join("load.json")).unwrap()).unwrap();
    let why =
        "interrupted by SIGTERM after 2 of 3 attacks: this report holds those, judged by no gate";
    j["result"] =
        serde_json::json!({"exit_code": 143, "verdict": "INTERRUPTED", "failures": [why]});
    std::fs::write(s1.join("load.json"), serde_json::to_vec(&j).unwrap()).unwrap();
    let (code, stdout, err) = merge(&s0, &s1);
    assert_eq!(code, Some(1), "{stdout}{err}");
    assert!(
        stdout.contains(&format!("shard {}: {why}", s1.display())),
        "{stdout}"
    );
    j["result"] = serde_json::Value::Null;
    j["runs"][0]["transactions"] = serde_json::json!([{"name": "head-one", "count": 1, "ok": 0,
        "denied": 0, "unexpected": 1, "errors": {"NoSuchKey": 1}, "histogram": j["runs"][0]["histogram"],
        "latency_us": j["runs"][0]["latency_us"]}]);
    std::fs::write(s1.join("load.json"), serde_json::to_vec(&j).unwrap()).unwrap();
    let (code, stdout, err) = merge(&s0, &s1);
    assert_eq!(code, Some(1), "{stdout}{err}");
    assert!(stdout.contains("unexpected outcomes"), "{stdout}");

    // Shards that ran together for a third of a window: merged, with a warning.
    let skewed = shard(
        dir.path(),
        "load-7-bbbbbb-w1of2",
        1,
        &[(1.0, (1_700, 2_700)), (2.0, (3_700, 4_700))],
    );
    let (code, _, err) = merge(&s0, &skewed);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("ran together for only 30%"), "{err}");

    // Shard 1 run after shard 0 (its second attack 5 s later): refused, naming both.
    let late = shard(
        dir.path(),
        "load-6-aaaaaa-w1of2",
        1,
        &[(1.0, (1_100, 2_100)), (2.0, (8_000, 9_000))],
    );
    let (code, _, err) = merge(&s0, &late);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("did not run at the same time")
            && err.contains("attack 2")
            && err.contains(s0.to_str().unwrap())
            && err.contains(late.to_str().unwrap()),
        "{err}"
    );
}
