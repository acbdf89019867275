//! `keygate run --known-failures FILE`: the scenarios a target is known to fail, each with why,
//! so that a vendor's CI gate fails on what got worse, not on what is already on their list.
//!
//! ```toml
//! version = 1
//!
//! [known_failures]
//! sts-revoked-on-user-delete = "VENDOR-123: revocation reaches the gateways within 5 s"
//! ```
//!
//! A listed scenario that fails is a known failure: still `fail` in every report (its rule is
//! still failed, its steps still say why), marked `known_failure` with the reason, and no
//! longer a reason for exit 1; JUnit shows it as skipped, with the failure in its message, so a
//! dashboard agrees with the exit code. A listed scenario that passes is an unexpected pass and
//! fails the run (exit 1), naming the file to edit: the list only ever shrinks by someone
//! deleting a line, so it never hides a regression in a scenario that was fixed. A listed
//! scenario that is skipped, errors or does not run is none of these. Ids that are not in the
//! library are refused before anything runs (exit 2): a renamed scenario would otherwise drop
//! out of the list silently.
//!
//! Every run that has failures writes `known-failures.toml` beside its reports, listing them
//! in this format with their failure reasons, as a start for such a file.

use super::{RunReport, ScenarioResult, Verdict};
use crate::scenario::Scenario;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file each run with failures writes beside its reports.
pub const TEMPLATE: &str = "known-failures.toml";

/// The file's contents.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    #[serde(default)]
    known_failures: BTreeMap<String, String>,
}

/// A checked `--known-failures` file.
#[derive(Debug, Clone)]
pub struct KnownFailures {
    pub file: PathBuf,
    /// Scenario id → why it fails.
    pub ids: BTreeMap<String, String>,
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
        for (id, why) in &f.known_failures {
            let key = format!("known_failures.{id}");
            if !library.iter().any(|s| s.id() == id) {
                return Err(at(
                    &key,
                    "no scenario with this id in the library (`keygate list` shows them)".into(),
                ));
            }
            if why.trim().is_empty() {
                return Err(at(
                    &key,
                    "empty: say why it fails (a ticket, a reason)".into(),
                ));
            }
        }
        Ok(Self {
            file: file.to_owned(),
            ids: f.known_failures,
        })
    }

    /// Mark the listed scenarios among `results`.
    pub fn apply(&self, results: &mut [ScenarioResult]) {
        for r in results {
            r.known_failure = self.ids.get(&r.id).cloned();
        }
    }
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
         # listed scenario that fails no longer fails the run, one that passes does. Replace\n\
         # each reason with why it fails (a ticket), and delete the lines you mean to fix.\n\
         version = 1\n\n[known_failures]\n",
        report.run_id
    );
    for r in failed {
        let why = r.reason.as_deref().unwrap_or("failed");
        let why = why.lines().next().unwrap_or_default();
        s.push_str(&format!("{} = {}\n", toml_key(&r.id), toml_string(why)));
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
                "at `known_failures.known-one`",
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

    #[test]
    fn the_template_lists_the_failures_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut failed = fixtures::result("known-one", &["U1"], Verdict::Fail);
        failed.reason = Some("step 1: expected \"ok\"\nsecond line".into());
        let report = fixtures::report(vec![
            failed,
            fixtures::result("passed", &["U1"], Verdict::Pass),
        ]);
        let text = template(&report).expect("one failure");
        assert!(
            text.contains("known-one = 'step 1: expected \"ok\"'\n") && !text.contains("passed"),
            "{text}"
        );
        let file = write(dir.path(), &text);
        let known = KnownFailures::load(&file, &library(dir.path())).unwrap();
        assert_eq!(known.ids.len(), 1);
        assert!(template(&fixtures::report(Vec::new())).is_none());
    }
}
