//! `--baseline FILE`: the saved `load.json` a run's medians are gated on, and whether the two
//! can be compared at all.
//!
//! A baseline of another plan measures other requests: it is refused before anything starts
//! (exit 2), naming both plans. A baseline of the same plan recorded with other settings
//! (steady phase, warm-up, open-loop rate, users, repeats, the generator's build profile) is
//! accepted, since a vendor may mean it, but a warning names every difference: a debug
//! generator against a release baseline, or 2 users against 8, is a regression by
//! construction.
//!
//! Refused too (exit 2), since the gate would pass or fail on nothing: a baseline that did not
//! measure every target this run measures (a `null` baseline for a remote run would leave
//! nothing compared, and the gate green), and a baseline merged from several shards, whose
//! throughput is the sum of several generators against one run's.

use super::report::LoadReport;
use serde_json::Value;
use std::path::Path;

/// Read a baseline file.
pub fn read(file: &Path) -> anyhow::Result<LoadReport> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("--baseline {}: cannot read: {e}", file.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("--baseline {}: not a load.json: {e}", file.display()))
}

/// The settings compared, as `load.json` records them: (key, what to call it, unit).
const COMPARED: [(&str, &str, &str); 5] = [
    ("duration_s", "duration", " s"),
    ("warmup_s", "warmup", " s"),
    ("rate", "rate", "/s"),
    ("users", "users", ""),
    ("repeat", "repeat", ""),
];

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
            summary: [("server".to_owned(), Default::default())].into(),
            ratios: None,
            gate: None,
            result: None,
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
        base.summary = [("null".to_owned(), Default::default())].into();
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
}
