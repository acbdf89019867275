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
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub pass: usize,
    pub fail: usize,
    pub skip: usize,
    pub error: usize,
    pub not_run: usize,
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
    pub target: TargetInfo,
    /// `http` or `https`: how the harness reached the target (from its endpoint's scheme).
    pub transport: Transport,
    pub filter: Option<String>,
    pub tags: Vec<String>,
    pub totals: Totals,
    pub scenarios: Vec<ScenarioResult>,
    /// Rule id -> scenario ids, for every rule the contract names.
    pub rules: Vec<rules::RuleCoverage>,
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
}

impl RunReport {
    pub fn new(meta: RunMeta, scenarios: Vec<ScenarioResult>, spec_rules: &[String]) -> Self {
        Self {
            schema: "keygate-report",
            schema_version: SCHEMA_VERSION,
            run_id: meta.run_id,
            harness_version: env!("CARGO_PKG_VERSION"),
            started_at: meta.started_at,
            duration_ms: meta.duration_ms,
            transport: Transport::of(&meta.target.endpoint),
            target: meta.target,
            filter: meta.filter,
            tags: meta.tags,
            totals: Totals::of(&scenarios),
            rules: rules::coverage(spec_rules, &scenarios),
            scenarios,
        }
    }
}

/// Make sure reports can be written into `dir` before anything runs: create it, and create and
/// remove a file in it. Errors name the directory.
pub fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    let at = |e: std::io::Error| {
        anyhow::anyhow!(
            "--report-dir {}: cannot write reports there: {e}",
            dir.display()
        )
    };
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
    let latest = dir.join("latest");
    if latest.is_dir() {
        std::fs::remove_dir_all(&latest)?;
    }
    std::fs::create_dir_all(&latest)?;
    for f in ["report.json", "junit.xml", "report.html"] {
        std::fs::copy(out.join(f), latest.join(f))?;
    }
    Ok(out)
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
        };
        RunReport::new(meta, scenarios, &[])
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
        }
    }
}
