//! The console summary printed at the end of a run: totals, a per-area table, the failures
//! and errors with their first mismatch, each fault scenario's ledger, and where the reports
//! were written.

use super::{RunReport, Totals, Verdict};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Render the end-of-run summary.
pub fn summary(report: &RunReport) -> String {
    let mut s = String::new();
    let mut areas: BTreeMap<&str, Vec<&super::ScenarioResult>> = BTreeMap::new();
    for r in &report.scenarios {
        areas.entry(r.area.as_str()).or_default().push(r);
    }
    let _ = writeln!(
        s,
        "{:<20} {:>5} {:>5} {:>5} {:>5}",
        "area", "pass", "fail", "skip", "error"
    );
    for (area, rs) in &areas {
        let t = Totals::of(rs.iter().copied());
        let _ = writeln!(
            s,
            "{area:<20} {:>5} {:>5} {:>5} {:>5}",
            t.pass, t.fail, t.skip, t.error
        );
    }
    let t = &report.totals;
    let _ = writeln!(
        s,
        "{:<20} {:>5} {:>5} {:>5} {:>5}",
        "total", t.pass, t.fail, t.skip, t.error
    );
    for r in report
        .scenarios
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error))
    {
        let _ = writeln!(
            s,
            "  {} {} [{}]: {}",
            r.verdict.as_str().to_uppercase(),
            r.id,
            r.rules.join(","),
            r.reason.clone().unwrap_or_default()
        );
    }
    for r in &report.scenarios {
        if let Some(f) = &r.faults {
            let _ = writeln!(s, "  faults {} ({}): {f}", r.id, r.verdict.as_str());
        }
    }
    let covered = report.rules.iter().filter(|r| r.verdict.is_some()).count();
    let _ = writeln!(s, "rules covered: {covered}/{}", report.rules.len());
    // The plain closing line CI tooling reads.
    let _ = writeln!(
        s,
        "{} passed, {} failed, {} skipped",
        t.pass,
        t.fail + t.error,
        t.skip
    );
    s
}
