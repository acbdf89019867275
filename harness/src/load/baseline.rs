//! `--baseline FILE`: the saved `load.json` a run's medians are gated on, and whether the two
//! can be compared at all.
//!
//! A baseline of another plan measures other requests: it is refused before anything starts
//! (exit 2), naming both plans. A baseline of the same plan recorded with other settings
//! (steady phase, warm-up, open-loop rate, users, repeats, pinning, the spawned target's
//! worker threads, the generator's build profile) is
//! accepted, since a vendor may mean it, but a warning names every difference: a debug
//! generator against a release baseline, or 2 users against 8, is a regression by
//! construction.
//!
//! A baseline whose own run failed or was interrupted is named in the same warning; one of
//! another `load.json` version is refused. Refused too (exit 2), since the gate would pass or
//! fail on nothing: a baseline that did not
//! measure every target this run measures (a `null` baseline for a remote run would leave
//! nothing compared, and the gate green), one whose throughput or server CPU figure for such a
//! target is 0 or less (a run too short for the CPU clock's 10 ms ticks records 0 µs), and a
//! baseline merged from several shards, whose throughput is the sum of several generators
//! against one run's.

use super::report::LoadReport;
use serde_json::Value;
use std::path::Path;

/// Read a baseline file.
pub fn read(file: &Path) -> anyhow::Result<LoadReport> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("--baseline {}: cannot read: {e}", file.display()))?;
    let base: LoadReport = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("--baseline {}: not a load.json: {e}", file.display()))?;
    anyhow::ensure!(
        base.version == super::report::LOAD_REPORT_VERSION,
        "--baseline {}: load.json version {} (this keygate writes and reads {})",
        file.display(),
        base.version,
        super::report::LOAD_REPORT_VERSION
    );
    Ok(base)
}

/// The settings compared, as `load.json` records them: (key, what to call it, unit).
const COMPARED: [(&str, &str, &str); 6] = [
    ("duration_s", "duration", " s"),
    ("warmup_s", "warmup", " s"),
    ("rate", "rate", "/s"),
    ("users", "users", ""),
    ("repeat", "repeat", ""),
    ("target_worker_threads", "target worker threads", ""),
];

/// Whether a run was pinned, as one phrase: `pin` records the CPUs as well, which differ
/// between machines and say nothing a comparison needs.
fn pinning(v: Option<&Value>) -> String {
    match v {
        Some(Value::Object(_)) => "pinned".to_owned(),
        other => show(other, "pin", ""),
    }
}

fn show(v: Option<&Value>, key: &str, unit: &str) -> String {
    match v {
        Some(Value::Null) if key == "rate" => "none (closed loop)".to_owned(),
        None | Some(Value::Null) => "not recorded".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => format!("{v}{unit}"),
    }
}

/// A merged report keeps each shard's settings and machine; the first shard's stand for it.
fn first_shard<'a>(v: &'a Value, key: &str) -> &'a Value {
    match v.get(key).and_then(|s| s.get(0)) {
        Some(first) => first,
        None => v.as_array().and_then(|a| a.first()).unwrap_or(v),
    }
}

/// Check `base` against this run's plan id, settings and build. `Err`: the plans differ (a
/// usage error); `Ok`: the settings that differ, one phrase each (empty when none do).
pub fn comparable(
    file: &Path,
    base: &LoadReport,
    plan: &str,
    settings: &Value,
    build: &str,
) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(
        base.plan == plan,
        "--baseline {} was recorded with plan `{}`, this run's plan is `{plan}`: their figures \
         measure different requests",
        file.display(),
        base.plan
    );
    if let Some(n) = base
        .settings
        .get("shards")
        .and_then(Value::as_array)
        .map(Vec::len)
        .filter(|&n| n > 1)
    {
        anyhow::bail!(
            "--baseline {} is merged from {n} shards: its throughput is the sum of {n} \
             generators, this run's is one; gate a single run on a single run's load.json",
            file.display()
        );
    }
    let ours: Vec<&str> = settings
        .get("targets")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let missing: Vec<&str> = ours
        .iter()
        .copied()
        .filter(|t| !base.summary.contains_key(*t))
        .collect();
    if !missing.is_empty() {
        let theirs: Vec<&str> = base.summary.keys().map(String::as_str).collect();
        anyhow::bail!(
            "--baseline {} measured {}, this run measures {}: {} would be compared with \
             nothing",
            file.display(),
            if theirs.is_empty() {
                "no target".to_owned()
            } else {
                theirs.join(", ")
            },
            ours.join(", "),
            missing.join(", ")
        );
    }
    // A figure of 0 (a run too short for the CPU clock's ticks), a negative or a missing
    // one would leave its metric compared with nothing, and the gate green.
    for t in &ours {
        let s = &base.summary[*t];
        let figures = [
            ("throughput_rps", Some(s.throughput_rps)),
            ("server_cpu_us_per_request", s.server_cpu_us_per_request),
        ];
        for (field, value) in figures {
            if let Some(v) = value.filter(|v| !(v.is_finite() && *v > 0.0)) {
                anyhow::bail!(
                    "--baseline {}: its `summary.{t}.{field}` is {v}: a baseline must have \
                     measured it (above 0), or the gate would compare it with nothing; record \
                     a longer run",
                    file.display()
                );
            }
        }
    }
    let theirs = if base.settings.get("shards").is_some() {
        first_shard(&base.settings, "shards")
    } else {
        &base.settings
    };
    let mut differ = Vec::new();
    for (key, name, unit) in COMPARED {
        let (a, b) = (theirs.get(key), settings.get(key));
        let same = match (a.and_then(Value::as_f64), b.and_then(Value::as_f64)) {
            (Some(x), Some(y)) => (x - y).abs() < 1e-9,
            _ => a.unwrap_or(&Value::Null) == b.unwrap_or(&Value::Null),
        };
        if !same {
            differ.push(format!(
                "{name} {} there, {} here",
                show(a, key, unit),
                show(b, key, unit)
            ));
        }
    }
    let (a, b) = (pinning(theirs.get("pin")), pinning(settings.get("pin")));
    if a != b {
        differ.push(format!("pinning {a} there, {b} here"));
    }
    // A baseline whose own run failed or was cut short is still figures, but say so.
    if let Some(r) = base.result.as_ref().filter(|r| r.exit_code != 0) {
        differ.push(format!(
            "its own run ended {} (exit {}{})",
            r.verdict,
            r.exit_code,
            r.failures
                .first()
                .map_or(String::new(), |f| format!(": {f}"))
        ));
    }
    let their_build = first_shard(&base.machine, "").get("generator_build");
    if their_build.and_then(Value::as_str) != Some(build) {
        differ.push(format!(
            "build {} there, {build} here",
            show(their_build, "generator_build", "")
        ));
    }
    Ok(differ)
}

/// The warning for settings that differ.
pub fn warning(file: &Path, differ: &[String]) -> String {
    format!(
        "warning: --baseline {} was recorded with other settings, so the gate compares unlike \
         runs: {}",
        file.display(),
        differ.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(plan: &str, settings: Value, build: &str) -> LoadReport {
        LoadReport {
            version: 1,
            run_id: "b".into(),
            plan: plan.into(),
            settings,
            machine: json!({"generator_build": build}),
            runs: Vec::new(),
            summary: [("server".to_owned(), measured())].into(),
            ratios: None,
            gate: None,
            result: None,
        }
    }

    /// A target's summary with figures to compare.
    fn measured() -> super::super::report::Summary {
        super::super::report::Summary {
            runs: 3,
            throughput_rps: 30_000.0,
            server_cpu_us_per_request: Some(24.0),
            p50_us: 200.0,
            p99_us: 700.0,
        }
    }

    fn settings(duration: f64, users: u64, rate: Option<u64>) -> Value {
        json!({"duration_s": duration, "warmup_s": 5.0, "rate": rate, "users": users, "repeat": 3,
               "targets": ["server"]})
    }

    #[test]
    fn another_plan_is_refused_naming_both() {
        let base = report("hot-path", settings(30.0, 8, None), "release");
        let e = comparable(
            Path::new("b.json"),
            &base,
            "auth-only",
            &settings(30.0, 8, None),
            "release",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("b.json") && e.contains("`hot-path`") && e.contains("`auth-only`"),
            "{e}"
        );
    }

    #[test]
    fn differing_settings_are_each_named() {
        let base = report("p", settings(30.0, 8, None), "release");
        let same = comparable(
            Path::new("b.json"),
            &base,
            "p",
            &settings(30.0, 8, None),
            "release",
        )
        .unwrap();
        assert!(same.is_empty(), "{same:?}");
        let differ = comparable(
            Path::new("b.json"),
            &base,
            "p",
            &settings(1.5, 2, Some(500)),
            "debug",
        )
        .unwrap();
        assert_eq!(
            differ,
            [
                "duration 30.0 s there, 1.5 s here",
                "rate none (closed loop) there, 500/s here",
                "users 8 there, 2 here",
                "build release there, debug here",
            ]
        );
    }

    #[test]
    fn a_merged_baseline_is_refused_naming_its_shards() {
        let mut base = report(
            "p",
            json!({"merged_from": ["a", "b"], "shards": [settings(30.0, 8, None), settings(30.0, 8, None)]}),
            "release",
        );
        base.machine = json!([{"generator_build": "release"}, {"generator_build": "release"}]);
        let e = comparable(
            Path::new("b.json"),
            &base,
            "p",
            &settings(30.0, 8, None),
            "release",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("b.json is merged from 2 shards") && e.contains("sum of 2 generators"),
            "{e}"
        );
    }

    #[test]
    fn a_merge_of_one_shard_is_compared_by_it() {
        let mut base = report(
            "p",
            json!({"merged_from": ["a"], "shards": [settings(30.0, 4, None)]}),
            "release",
        );
        base.machine = json!([{"generator_build": "release"}]);
        let differ = comparable(
            Path::new("b.json"),
            &base,
            "p",
            &settings(30.0, 8, None),
            "release",
        )
        .unwrap();
        assert_eq!(differ, ["users 4 there, 8 here"]);
    }

    #[test]
    fn a_baseline_without_this_runs_targets_is_refused() {
        let mut base = report("p", settings(30.0, 8, None), "release");
        base.summary = [("null".to_owned(), measured())].into();
        let mut ours = settings(30.0, 8, None);
        ours["targets"] = json!(["remote", "null"]);
        let e = comparable(Path::new("b.json"), &base, "p", &ours, "release")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "b.json measured null, this run measures remote, null: remote would be \
                        compared with nothing"
            ),
            "{e}"
        );
    }

    /// Regression (a probe): a baseline whose throughput or CPU was 0 (a run too short for
    /// the CPU clock's ticks) or negative was taken, and its metric then "not compared": the
    /// gate passed on nothing.
    #[test]
    fn a_baseline_that_measured_nothing_is_refused_naming_the_figure() {
        let ours = settings(30.0, 8, None);
        for (throughput, cpu, field) in [
            (0.0, Some(24.0), "summary.server.throughput_rps` is 0"),
            (-100.0, Some(24.0), "summary.server.throughput_rps` is -100"),
            (
                30_000.0,
                Some(0.0),
                "summary.server.server_cpu_us_per_request` is 0",
            ),
            (
                30_000.0,
                Some(f64::NAN),
                "server_cpu_us_per_request` is NaN",
            ),
        ] {
            let mut base = report("p", settings(30.0, 8, None), "release");
            let s = base.summary.get_mut("server").unwrap();
            (s.throughput_rps, s.server_cpu_us_per_request) = (throughput, cpu);
            let e = comparable(Path::new("b.json"), &base, "p", &ours, "release")
                .unwrap_err()
                .to_string();
            assert!(e.contains("b.json") && e.contains(field), "{e}");
        }
        // A target without a CPU figure (a remote one) has none to refuse.
        let mut base = report("p", settings(30.0, 8, None), "release");
        base.summary
            .get_mut("server")
            .unwrap()
            .server_cpu_us_per_request = None;
        comparable(Path::new("b.json"), &base, "p", &ours, "release").unwrap();
    }

    /// Regression (a probe): pinning and the target's worker threads, which change the CPU
    /// figures, went unnamed when they differed.
    #[test]
    fn pinning_and_target_workers_are_named_when_they_differ() {
        let mut there = settings(30.0, 8, None);
        there["pin"] =
            json!({"target_cpus": [1], "generator_cpus": [0], "target_worker_threads": 1});
        there["target_worker_threads"] = json!(1);
        let base = report("p", there.clone(), "release");
        let mut other_cpus = there.clone();
        other_cpus["pin"]["target_cpus"] = json!([3]);
        let same = comparable(Path::new("b.json"), &base, "p", &other_cpus, "release").unwrap();
        assert!(same.is_empty(), "{same:?}");
        let mut here = settings(30.0, 8, None);
        here["pin"] = json!("off (--no-pin)");
        here["target_worker_threads"] = json!("tokio's default (one per CPU of the machine)");
        let differ = comparable(Path::new("b.json"), &base, "p", &here, "release").unwrap();
        assert_eq!(
            differ,
            [
                "target worker threads 1 there, tokio's default (one per CPU of the machine) here",
                "pinning pinned there, off (--no-pin) here",
            ]
        );
    }

    /// Regression (a probe): a baseline whose own run FAILED (or was interrupted) was used
    /// without a word, and one of another format version was read as this one.
    #[test]
    fn a_failed_baseline_is_named_and_another_version_refused() {
        let mut base = report("p", settings(30.0, 8, None), "release");
        base.result = Some(super::super::report::Outcome::of(
            vec!["unexpected outcomes: server head-one 12/900".into()],
            1,
        ));
        let ours = settings(30.0, 8, None);
        let differ = comparable(Path::new("b.json"), &base, "p", &ours, "release").unwrap();
        assert_eq!(
            differ,
            ["its own run ended FAILED (exit 1: unexpected outcomes: server head-one 12/900)"]
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.json");
        base.version = 99;
        std::fs::write(&file, serde_json::to_vec(&base).unwrap()).unwrap();
        let e = read(&file).unwrap_err().to_string();
        assert!(e.contains("b.json") && e.contains("version 99"), "{e}");
    }
}
