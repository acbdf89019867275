//! `keygate run --known-failures FILE`: the scenarios a target is known to fail, each with why,
//! so that a vendor's CI gate fails on what got worse, not on what is already on their list.
//!
//! ```toml
//! version = 1
//!
//! [known_failures]
//! # Only these steps of the scenario may fail (their `origin`s, as reports name them):
//! policy-predefined-matrix = { reason = "VENDOR-7: writeonly may list", steps = ["matrix[1].cases[5] as wo"] }
//! # Any failure of the scenario (a reason alone):
//! users-delete-cascades = "VENDOR-123: revocation reaches the gateways within 5 s"
//! ```
//!
//! A listed scenario that fails is a known failure: still `fail` in every report (its rule is
//! still failed, its steps still say why), marked `known_failure` with the reason, and no
//! longer a reason for exit 1; JUnit shows it as skipped, with the failure in its message, so a
//! dashboard agrees with the exit code. With `steps`, only a failure of those steps is known: a
//! failure of any other step of the scenario (one scenario can hold dozens of checks) fails the
//! run as any new failure does, its reason saying which step broke beyond the list. A listed
//! scenario that passes is an unexpected pass and fails the run (exit 1), naming the file to
//! edit: the list only ever shrinks by someone deleting a line, so it never hides a regression
//! in a scenario that was fixed. A listed scenario that is skipped, errors or does not run is
//! none of these. Ids that are not in the library are refused before anything runs (exit 2): a
//! renamed scenario would otherwise drop out of the list silently.
//!
//! Every run that has failures writes `known-failures.toml` beside its reports, listing them
//! in this format with their failure reasons and failing steps, as a start for such a file.

use super::{RunReport, ScenarioResult, Verdict};
use crate::scenario::Scenario;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The file each run with failures writes beside its reports.
pub const TEMPLATE: &str = "known-failures.toml";

/// The file's contents.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    #[serde(default)]
    known_failures: BTreeMap<String, toml::Value>,
}

/// One listed scenario: why it fails, and the steps it may fail (`None`: any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub reason: String,
    pub steps: Option<BTreeSet<String>>,
}

/// A checked `--known-failures` file.
#[derive(Debug, Clone)]
pub struct KnownFailures {
    pub file: PathBuf,
    /// Scenario id → why it fails, and where.
    pub ids: BTreeMap<String, Known>,
}

impl KnownFailures {
    /// Read `file` and check it against the whole `library` (not only what a run selects, so
    /// one file serves every `--filter`). Errors name the file and the key.
    pub fn load(file: &Path, library: &[Scenario]) -> anyhow::Result<Self> {
        let f: File = crate::target::parse_profile(file)
            .map_err(|e| anyhow::anyhow!("--known-failures {e:#}"))?;
        let at = |key: &str, what: String| {
            anyhow::anyhow!("--known-failures {}: at `{key}`: {what}", file.display())
        };
        if f.version != 1 {
            return Err(at("version", format!("expected 1, found {}", f.version)));
        }
        let mut ids = BTreeMap::new();
        for (id, entry) in f.known_failures {
            let key = format!("known_failures.{id}");
            let Some(scenario) = library.iter().find(|s| s.id() == id) else {
                return Err(at(
                    &key,
                    "no scenario with this id in the library (`keygate list` shows them)".into(),
                ));
            };
            let known =
                read_entry(entry).map_err(|(sub, what)| at(&format!("{key}{sub}"), what))?;
            // A step the scenario does not have would match nothing, ever.
            let origins: BTreeSet<&str> =
                scenario.steps.iter().map(|s| s.origin.as_str()).collect();
            if let Some(bad) = known
                .steps
                .iter()
                .flatten()
                .find(|o| !origins.contains(o.as_str()))
            {
                return Err(at(
                    &format!("{key}.steps"),
                    format!(
                        "`{bad}` is no step of {id} (its steps: {})",
                        origins.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            ids.insert(id, known);
        }
        Ok(Self {
            file: file.to_owned(),
            ids,
        })
    }

    /// Mark the listed scenarios among `results`. A failure of a step the entry does not
    /// list is no known failure: its reason then says so.
    pub fn apply(&self, results: &mut [ScenarioResult]) {
        for r in results {
            r.known_failure = None;
            let Some(known) = self.ids.get(&r.id) else {
                continue;
            };
            if let (Verdict::Fail, Some(steps)) = (r.verdict, &known.steps) {
                if let Some(why) = beyond_the_list(r, steps, &known.reason) {
                    r.reason = Some(why);
                    continue;
                }
            }
            r.known_failure = Some(known.reason.clone());
        }
    }
}

/// Why a failed scenario listed with `steps` is not the known failure: a step not listed that
/// failed or ended in error (after which the rest did not run), a listed step that passes now
/// (the list outlived that bug), or no failed step at all. `None`: exactly listed steps failed.
fn beyond_the_list(r: &ScenarioResult, steps: &BTreeSet<String>, reason: &str) -> Option<String> {
    let listed = |o: &String| steps.contains(o);
    if let Some(s) = r
        .steps
        .iter()
        .find(|s| s.verdict != Verdict::Pass && !listed(&s.origin))
    {
        let why = s.mismatches.first().map_or("", String::as_str);
        let what = match s.verdict {
            Verdict::Fail => "failed",
            _ => "ended in error",
        };
        return Some(format!(
            "{} {what}, beyond the steps listed as known failures ({reason}): {why}",
            s.origin
        ));
    }
    if let Some(s) = r
        .steps
        .iter()
        .find(|s| s.verdict == Verdict::Pass && listed(&s.origin))
    {
        return Some(format!(
            "{} passes now, though listed as a known failure ({reason}): remove it from the list",
            s.origin
        ));
    }
    if !r.steps.iter().any(|s| s.verdict == Verdict::Fail) {
        return Some(format!(
            "failed in none of the steps listed as known failures ({reason})"
        ));
    }
    None
}

/// A `[known_failures]` value: a reason, or `{ reason, steps }`. Errors: the sub-key at fault
/// (empty for the entry itself) and what is wrong.
fn read_entry(entry: toml::Value) -> Result<Known, (String, String)> {
    let reason = |v: Option<&toml::Value>, sub: &str| match v {
        Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(toml::Value::String(_)) => Err((
            sub.to_owned(),
            "empty: say why it fails (a ticket, a reason)".to_owned(),
        )),
        _ => Err((sub.to_owned(), "expected a reason (a string)".to_owned())),
    };
    let toml::Value::Table(t) = entry else {
        return Ok(Known {
            reason: reason(Some(&entry), "").map_err(|(k, w)| {
                let shape =
                    "a reason, or a table { reason = \"...\", steps = [\"steps[2]\", ...] }";
                (
                    k,
                    if w.starts_with("empty") {
                        w
                    } else {
                        format!("expected {shape}")
                    },
                )
            })?,
            steps: None,
        });
    };
    if let Some(other) = t.keys().find(|k| !matches!(k.as_str(), "reason" | "steps")) {
        return Err((
            format!(".{other}"),
            "unknown key (allowed: `reason`, `steps`)".to_owned(),
        ));
    }
    let reason = reason(t.get("reason"), ".reason")?;
    let steps = match t.get("steps") {
        None => None,
        Some(toml::Value::Array(list)) if !list.is_empty() => Some(
            list.iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<BTreeSet<String>>>()
                .ok_or((
                    ".steps".to_owned(),
                    "expected step origins (strings)".to_owned(),
                ))?,
        ),
        Some(_) => {
            return Err((
                ".steps".to_owned(),
                "expected a non-empty list of step origins, as reports name them (`steps[2]`, \
                 `matrix[0].cases[1] as alice`)"
                    .to_owned(),
            ))
        }
    };
    Ok(Known { reason, steps })
}

/// A failure that is on the list.
pub fn is_known(r: &ScenarioResult) -> bool {
    r.verdict == Verdict::Fail && r.known_failure.is_some()
}

/// How consoles name a result: `KNOWN FAIL` and `UNEXPECTED PASS` for the listed ones, else
/// the verdict (`PASS`, `FAIL`, ...), so the progress lines and the summary agree.
pub fn label(r: &ScenarioResult) -> String {
    if is_known(r) {
        "KNOWN FAIL".to_owned()
    } else if is_unexpected_pass(r) {
        "UNEXPECTED PASS".to_owned()
    } else {
        r.verdict.as_str().to_uppercase()
    }
}

/// A pass that is on the list: the list is out of date.
pub fn is_unexpected_pass(r: &ScenarioResult) -> bool {
    r.verdict == Verdict::Pass && r.known_failure.is_some()
}

/// This run's failures as a `--known-failures` file (`None` when nothing failed); each
/// reason is the failure's first line, to be replaced by the real why.
pub fn template(report: &RunReport) -> Option<String> {
    let failed: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .collect();
    if failed.is_empty() {
        return None;
    }
    let mut s = format!(
        "# The scenarios run {} failed, as a `keygate run --known-failures FILE` list: a\n\
         # listed scenario that fails in the steps listed no longer fails the run; one that\n\
         # passes does. Replace each reason with why it fails (a ticket), and delete the lines\n\
         # you mean to fix.\n\
         version = 1\n\n[known_failures]\n",
        report.run_id
    );
    for r in failed {
        let why = r.reason.as_deref().unwrap_or("failed");
        let why = toml_string(why.lines().next().unwrap_or_default());
        let steps: Vec<String> = r
            .steps
            .iter()
            .filter(|s| s.verdict == Verdict::Fail)
            .map(|s| toml_string(&s.origin))
            .collect();
        let entry = match steps.is_empty() {
            true => why,
            false => format!("{{ reason = {why}, steps = [{}] }}", steps.join(", ")),
        };
        s.push_str(&format!("{} = {entry}\n", toml_key(&r.id)));
    }
    Some(s)
}

/// A bare TOML key when the id is one, else a quoted one.
fn toml_key(id: &str) -> String {
    let bare = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        id.to_owned()
    } else {
        toml_string(id)
    }
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    fn library(dir: &Path) -> Vec<Scenario> {
        let file = dir.join("s.toml");
        std::fs::write(
            &file,
            "version = 1\nid = \"known-one\"\ntitle = \"t\"\narea = \"s3\"\nrules = [\"U1\"]\n\n\
             [[steps]]\nop = \"list_buckets\"\nexpect = { status = 200 }\n",
        )
        .unwrap();
        crate::cli::load_paths(&[file]).expect("the scenario validates")
    }

    fn write(dir: &Path, text: &str) -> PathBuf {
        let file = dir.join("known.toml");
        std::fs::write(&file, text).unwrap();
        file
    }

    #[test]
    fn mistakes_name_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let lib = library(dir.path());
        let cases = [
            ("version = 2\n", "at `version`: expected 1, found 2"),
            ("version = 1\nknown = {}\n", "unknown field `known`"),
            (
                "version = 1\n[known_failures]\nrenamed = \"x\"\n",
                "at `known_failures.renamed`: no scenario with this id",
            ),
            (
                "version = 1\n[known_failures]\nknown-one = \" \"\n",
                "at `known_failures.known-one`: empty",
            ),
            (
                "version = 1\n[known_failures]\nknown-one = 3\n",
                "at `known_failures.known-one`: expected a reason, or a table",
            ),
            (
                "version = 1\n[known_failures]\nknown-one = { reason = \"x\", step = [] }\n",
                "at `known_failures.known-one.step`: unknown key",
            ),
            (
                "version = 1\n[known_failures]\nknown-one = { steps = [\"steps[0]\"] }\n",
                "at `known_failures.known-one.reason`: expected a reason",
            ),
            (
                "version = 1\n[known_failures]\nknown-one = { reason = \"x\", steps = [] }\n",
                "at `known_failures.known-one.steps`: expected a non-empty list",
            ),
            (
                "version = 1\n[known_failures]\n\
                 known-one = { reason = \"x\", steps = [\"steps[1]\"] }\n",
                "at `known_failures.known-one.steps`: `steps[1]` is no step of known-one (its \
                 steps: steps[0])",
            ),
        ];
        for (text, said) in cases {
            let file = write(dir.path(), text);
            let e = KnownFailures::load(&file, &lib).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("--known-failures {}: ", file.display()))
                    && e.contains(said),
                "{text:?}: {e}"
            );
        }
    }

    #[test]
    fn listed_results_are_marked_and_classified() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "version = 1\n[known_failures]\nknown-one = \"VENDOR-1\"\n",
        );
        let known = KnownFailures::load(&file, &library(dir.path())).unwrap();
        let mut results = vec![
            fixtures::result("known-one", &["U1"], Verdict::Fail),
            fixtures::result("other", &["U1"], Verdict::Fail),
        ];
        known.apply(&mut results);
        assert_eq!(results[0].known_failure.as_deref(), Some("VENDOR-1"));
        assert!(is_known(&results[0]) && !is_unexpected_pass(&results[0]));
        assert!(results[1].known_failure.is_none() && !is_known(&results[1]));
        results[0].verdict = Verdict::Pass;
        assert!(is_unexpected_pass(&results[0]) && !is_known(&results[0]));
    }

    /// Regression: a scenario listed for one failing check hid every other failure in it
    /// (a matrix of dozens of checks): with `steps`, only those steps' failures are known.
    #[test]
    fn listed_steps_are_the_only_known_failures_of_a_scenario() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "version = 1\n[known_failures]\n\
             known-one = { reason = \"VENDOR-1\", steps = [\"steps[0]\"] }\n",
        );
        let known = KnownFailures::load(&file, &library(dir.path())).unwrap();
        let failing = |steps: &[(&str, Verdict)]| {
            let mut r = fixtures::result("known-one", &["U1"], Verdict::Fail);
            r.steps = steps.iter().map(|(o, v)| fixtures::step(o, *v)).collect();
            let mut results = [r];
            known.apply(&mut results);
            let [r] = results;
            r
        };
        let listed = failing(&[("steps[0]", Verdict::Fail), ("steps[1]", Verdict::Pass)]);
        assert!(is_known(&listed), "{listed:?}");
        // A step not listed that ended in error (the rest then did not run): not known.
        let errored = failing(&[("steps[0]", Verdict::Fail), ("steps[1]", Verdict::Error)]);
        assert!(!is_known(&errored));
        let why = errored.reason.unwrap();
        assert!(why.starts_with("steps[1] ended in error, beyond"), "{why}");
        let beyond = failing(&[("steps[0]", Verdict::Fail), ("steps[1]", Verdict::Fail)]);
        assert!(!is_known(&beyond) && beyond.known_failure.is_none());
        let why = beyond.reason.unwrap();
        assert!(
            why.starts_with(
                "steps[1] failed, beyond the steps listed as known failures (VENDOR-1)"
            ),
            "{why}"
        );
        // Failed in no step (a fault scenario's losses): not the listed failure either.
        assert!(!is_known(&failing(&[("steps[1]", Verdict::Pass)])));
        // A listed step that passes now: the list outlived it.
        let stale = failing(&[("steps[0]", Verdict::Pass), ("steps[1]", Verdict::Fail)]);
        assert!(!is_known(&stale));
        let why = stale.reason.unwrap();
        assert!(
            why.starts_with("steps[1] failed") || why.contains("passes now"),
            "{why}"
        );
        let stale = failing(&[("steps[0]", Verdict::Pass)]);
        assert!(stale.reason.unwrap().contains("steps[0] passes now"));
    }

    #[test]
    fn the_template_lists_the_failures_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut failed = fixtures::result("known-one", &["U1"], Verdict::Fail);
        failed.reason = Some("step 1: expected \"ok\"\nsecond line".into());
        failed.steps = vec![
            fixtures::step("steps[0]", Verdict::Fail),
            fixtures::step("matrix[0].cases[0] as a", Verdict::Pass),
        ];
        let report = fixtures::report(vec![
            failed,
            fixtures::result("passed", &["U1"], Verdict::Pass),
        ]);
        let text = template(&report).expect("one failure");
        assert!(
            text.contains(
                "known-one = { reason = 'step 1: expected \"ok\"', steps = [\"steps[0]\"] }\n"
            ) && !text.contains("passed"),
            "{text}"
        );
        let file = write(dir.path(), &text);
        let known = KnownFailures::load(&file, &library(dir.path())).unwrap();
        let steps = BTreeSet::from(["steps[0]".to_owned()]);
        assert_eq!(known.ids["known-one"].steps, Some(steps));
        assert!(template(&fixtures::report(Vec::new())).is_none());
    }
}
