//! Run results and the sinks that write them: `report.json` (versioned), `junit.xml`,
//! `report.html`, plus the console summary.
//!
//! A scenario's verdict is exactly one of pass, fail, skip (with a reason), error (transport
//! or provisioning, with a reason) or not run (with a reason: the run stopped before it, by
//! `--fail-fast` or an interrupt): an error is never counted as a failure of the rule, and
//! neither a skip nor a scenario that did not run ever as a pass. Every selected scenario is
//! in the report, whether it ran or not. `report.json` carries `schema_version`; readers must
//! check it (`not_run` and `totals.not_run` are additions, compatible with version 1).

pub mod console;
pub mod html;
pub mod junit;
pub mod known;
pub mod rules;

use crate::scenario::Transport;
use crate::target::TargetInfo;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Bump when a field changes meaning or disappears (adding fields is compatible).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
    Error,
    /// Selected but never finished: the run stopped first (`--fail-fast` after a failure, or
    /// an interrupt, which also abandons the scenarios running then). Not a skip decided by
    /// the target's capabilities, and never a pass.
    NotRun,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Skip => "skip",
            Verdict::Error => "error",
            Verdict::NotRun => "not_run",
        }
    }
}

/// One step (or one matrix cell, or one parallel burst).
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    /// Where the step is in the file: `steps[3]`, `matrix[0].cases[2] as alice`.
    pub origin: String,
    pub name: Option<String>,
    pub op: String,
    #[serde(rename = "as")]
    pub as_: String,
    pub verdict: Verdict,
    pub expected: String,
    pub actual: String,
    pub mismatches: Vec<String>,
    /// The request as sent (excerpt; session tokens redacted).
    pub request: String,
    /// The response: status line, headers and body excerpt.
    pub response: String,
    pub duration_ms: u64,
    /// No answer at all (refused, reset, timed out): a fact about reaching the target, not a
    /// rule's verdict. Expected ones (`expect.transport_error`) pass; others are `error`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub transport_error: bool,
}

/// A fault scenario's ledger: faults injected into the target, operations it acknowledged
/// before or around them, and how many of those were missing or changed afterwards. Any loss
/// fails the scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FaultTally {
    pub injected: usize,
    pub acknowledged: usize,
    pub lost: usize,
}

impl std::fmt::Display for FaultTally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "faults injected {}, operations acknowledged {}, operations lost {}",
            self.injected, self.acknowledged, self.lost
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub id: String,
    pub title: String,
    pub area: String,
    pub tags: Vec<String>,
    pub rules: Vec<String>,
    pub file: PathBuf,
    pub verdict: Verdict,
    /// Why it was skipped, errored or not run, or the first mismatch of a failure.
    pub reason: Option<String>,
    pub duration_ms: u64,
    pub steps: Vec<StepResult>,
    /// Cleanup problems: reported, never turned into a verdict.
    pub warnings: Vec<String>,
    /// Scenarios that inject faults: what was injected, acknowledged and lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultTally>,
    /// Listed in `--known-failures` with this reason: a known failure when the verdict is
    /// `fail`, an unexpected pass (which fails the run) when it is `pass` (`known`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_failure: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub pass: usize,
    /// Every failure, known ones included.
    pub fail: usize,
    pub skip: usize,
    pub error: usize,
    pub not_run: usize,
    /// Of `fail`, those listed in `--known-failures`.
    pub known_failures: usize,
    /// Of `pass`, those listed in `--known-failures` (each fails the run).
    pub unexpected_passes: usize,
}

impl Totals {
    pub fn of<'a>(results: impl IntoIterator<Item = &'a ScenarioResult>) -> Self {
        let mut t = Totals::default();
        for r in results {
            match r.verdict {
                Verdict::Pass => t.pass += 1,
                Verdict::Fail => t.fail += 1,
                Verdict::Skip => t.skip += 1,
                Verdict::Error => t.error += 1,
                Verdict::NotRun => t.not_run += 1,
            }
            t.known_failures += usize::from(known::is_known(r));
            t.unexpected_passes += usize::from(known::is_unexpected_pass(r));
        }
        t
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub schema: &'static str,
    pub schema_version: u32,
    pub run_id: String,
    pub harness_version: &'static str,
    pub started_at: String,
    pub duration_ms: u64,
    pub target: TargetReport,
    /// `http` or `https`: how the harness reached the target (from its endpoint's scheme).
    pub transport: Transport,
    pub filter: Option<String>,
    pub tags: Vec<String>,
    pub totals: Totals,
    /// The `--known-failures` file the run was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_failures: Option<PathBuf>,
    pub scenarios: Vec<ScenarioResult>,
    /// Rule id -> scenario ids, for every rule the contract names.
    pub rules: Vec<rules::RuleCoverage>,
    /// How many rules are verified, failed, unverified and uncovered (each entry of `rules`
    /// counted once, by its `status`).
    pub rule_totals: rules::RuleTotals,
}

/// The target as `report.json` records it: its facts, and what the run did to it that
/// outlasts the run.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    #[serde(flatten)]
    pub info: TargetInfo,
    /// Seconds the run moved the target's clock forward (scenarios that `advance_clock`);
    /// a target that outlives the run keeps that offset until it is restarted.
    pub clock_advanced_s: i64,
}

/// Run-level facts gathered by the runner.
#[derive(Debug, Clone)]
pub struct RunMeta {
    pub run_id: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub target: TargetInfo,
    pub filter: Option<String>,
    pub tags: Vec<String>,
    /// The target clock's total advance over the run ([`crate::target::SharedClock::advanced_s`]).
    pub clock_advanced_s: i64,
    /// The `--known-failures` file, if the run was given one.
    pub known_failures: Option<PathBuf>,
}

impl RunReport {
    pub fn new(meta: RunMeta, scenarios: Vec<ScenarioResult>, spec_rules: &[String]) -> Self {
        let rules = rules::coverage(spec_rules, &scenarios);
        let rule_totals = rules::RuleTotals::of(&rules);
        Self {
            schema: "keygate-report",
            schema_version: SCHEMA_VERSION,
            run_id: meta.run_id,
            harness_version: env!("CARGO_PKG_VERSION"),
            started_at: meta.started_at,
            duration_ms: meta.duration_ms,
            transport: Transport::of(&meta.target.endpoint),
            target: TargetReport {
                info: meta.target,
                clock_advanced_s: meta.clock_advanced_s,
            },
            filter: meta.filter,
            tags: meta.tags,
            totals: Totals::of(&scenarios),
            known_failures: meta.known_failures,
            rules,
            rule_totals,
            scenarios,
        }
    }
}

/// Make sure `run`'s reports can be written into `dir` before anything runs:
/// [`prepare_dir`], and check that its `latest` can be replaced. Errors name the directory.
pub fn prepare_run_dir(dir: &Path) -> anyhow::Result<()> {
    prepare_dir(dir)?;
    check_latest(&dir.join("latest"))
        .map_err(|e| anyhow::anyhow!("--report-dir {}: {e:#}", dir.display()))
}

/// Make sure reports can be written into `dir` before anything runs: create it, create and
/// remove a file in it. Errors name the directory.
pub fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    let at = |e: std::io::Error| {
        anyhow::anyhow!(
            "--report-dir {}: cannot write reports there: {e}",
            dir.display()
        )
    };
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "--report-dir {}: is a file, not a directory: give a directory (it is created if \
             missing)",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).map_err(at)?;
    tempfile::Builder::new()
        .prefix(".keygate-probe")
        .tempfile_in(dir)
        .map_err(at)?;
    Ok(())
}

/// Write all report files into `dir/<run-id>/` and refresh `dir/latest/`.
pub fn write_all(dir: &Path, report: &RunReport) -> anyhow::Result<PathBuf> {
    let out = dir.join(&report.run_id);
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("report.json"), serde_json::to_vec_pretty(report)?)?;
    std::fs::write(out.join("junit.xml"), junit::render(report))?;
    std::fs::write(out.join("report.html"), html::render(report))?;
    let mut files = vec!["report.json", "junit.xml", "report.html"];
    if let Some(list) = known::template(report) {
        std::fs::write(out.join(known::TEMPLATE), list)?;
        files.push(known::TEMPLATE);
    }
    let latest = dir.join("latest");
    check_latest(&latest)
        .map_err(|e| anyhow::anyhow!("{e:#}; this run's reports are in {}", out.display()))?;
    if latest.is_dir() {
        std::fs::remove_dir_all(&latest)?;
    }
    std::fs::create_dir_all(&latest)?;
    for f in files {
        std::fs::copy(out.join(f), latest.join(f))?;
    }
    Ok(out)
}

/// `latest` is replaced by every run, so it must be a directory or absent; anything else
/// (a file, a link to one) is the user's, and is neither removed nor written through.
fn check_latest(latest: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(latest) {
        Ok(md) if md.is_dir() => Ok(()),
        Ok(md) if md.is_symlink() => anyhow::bail!(
            "{} is a symbolic link: keygate replaces `latest` with a directory of each run's \
             reports and neither removes links nor writes through them; remove it",
            latest.display()
        ),
        Ok(_) => anyhow::bail!(
            "{} is not a directory: keygate replaces `latest` with each run's reports; \
             remove or rename it",
            latest.display()
        ),
        Err(_) => Ok(()),
    }
}

/// What the reporters' unit tests build reports from.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{RunMeta, RunReport, ScenarioResult};
    use crate::scenario::Profile;
    use crate::target::{Capabilities, TargetInfo};

    /// A report of `scenarios`, run against an embedded target with every capability.
    pub(crate) fn report(scenarios: Vec<ScenarioResult>) -> RunReport {
        let meta = RunMeta {
            run_id: "r".into(),
            started_at: "now".into(),
            duration_ms: 1,
            target: TargetInfo {
                kind: "embedded".into(),
                endpoint: "http://127.0.0.1:1".into(),
                region: "us-east-1".into(),
                profile: Profile::Reference,
                capabilities: Capabilities {
                    clock: true,
                    posix: true,
                    sts: true,
                    service_accounts: true,
                },
            },
            filter: None,
            tags: Vec::new(),
            clock_advanced_s: 0,
            known_failures: None,
        };
        RunReport::new(meta, scenarios, &[])
    }

    /// A step's result at `origin`, for reporters' tests: a 403 expected, 200 got when failed.
    pub(crate) fn step(origin: &str, verdict: super::Verdict) -> super::StepResult {
        super::StepResult {
            origin: origin.into(),
            name: None,
            op: "get_object".into(),
            as_: "alice".into(),
            verdict,
            expected: "403 AccessDenied".into(),
            actual: "200".into(),
            mismatches: vec![format!("{origin}: status: expected 403, got 200")],
            request: String::new(),
            response: String::new(),
            duration_ms: 1,
            transport_error: false,
        }
    }

    /// A scenario's result, for reporters' tests: `rules` covered, "why <id>" as its reason.
    pub(crate) fn result(id: &str, rules: &[&str], verdict: super::Verdict) -> ScenarioResult {
        ScenarioResult {
            id: id.into(),
            title: id.into(),
            area: "s3".into(),
            tags: Vec::new(),
            rules: rules.iter().map(|r| r.to_string()).collect(),
            file: "x.toml".into(),
            verdict,
            reason: Some(format!("why {id}")),
            duration_ms: 0,
            steps: Vec::new(),
            warnings: Vec::new(),
            faults: None,
            known_failure: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latest_that_is_not_a_directory_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("latest"), "mine").unwrap();
        prepare_dir(dir.path()).expect("load writes no `latest`");
        let e = prepare_run_dir(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("latest is not a directory") && e.contains("remove or rename it"),
            "{e}"
        );
        // After a run: the reports are written under the run id, and the message says where.
        let report = fixtures::report(vec![fixtures::result("a", &["U1"], Verdict::Pass)]);
        let e = write_all(dir.path(), &report).unwrap_err().to_string();
        assert!(e.contains("latest is not a directory"), "{e}");
        let run = dir.path().join(&report.run_id);
        assert!(
            e.contains(&format!("this run's reports are in {}", run.display())),
            "{e}"
        );
        assert!(run.join("report.json").is_file());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("latest")).unwrap(),
            "mine"
        );
    }

    #[test]
    fn a_report_dir_that_is_a_file_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("reports");
        std::fs::write(&file, "mine").unwrap();
        let e = prepare_dir(&file).unwrap_err().to_string();
        assert!(
            e.ends_with(
                "reports: is a file, not a directory: give a directory (it is created if missing)"
            ),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    }

    #[test]
    fn a_latest_that_links_to_a_directory_is_named_as_a_link_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("r1")).unwrap();
        std::fs::write(dir.path().join("r1/keep"), "mine").unwrap();
        std::os::unix::fs::symlink("r1", dir.path().join("latest")).unwrap();
        let e = prepare_run_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("latest is a symbolic link"), "{e}");
        let report = fixtures::report(Vec::new());
        let e = write_all(dir.path(), &report).unwrap_err().to_string();
        assert!(e.contains("latest is a symbolic link"), "{e}");
        assert!(std::fs::symlink_metadata(dir.path().join("latest"))
            .unwrap()
            .is_symlink());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("r1/keep")).unwrap(),
            "mine"
        );
    }

    #[test]
    fn report_json_records_the_clock_advance_beside_the_target() {
        let mut report = fixtures::report(Vec::new());
        report.target.clock_advanced_s = 4500;
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["target"]["clock_advanced_s"], 4500);
        assert_eq!(json["target"]["kind"], "embedded");
    }
}
