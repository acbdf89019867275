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
    // The plain closing line CI tooling reads: the same four totals as the table, JSON and
    // JUnit (an error proves nothing about a rule, so it is never counted as a failure).
    let _ = writeln!(
        s,
        "{} passed, {} failed, {} errors, {} skipped",
        t.pass, t.fail, t.error, t.skip
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ScenarioResult;

    fn result(id: &str, verdict: Verdict) -> ScenarioResult {
        ScenarioResult {
            id: id.into(),
            title: id.into(),
            area: "s3".into(),
            tags: Vec::new(),
            rules: vec!["U1".into()],
            file: "x.toml".into(),
            verdict,
            reason: Some("why".into()),
            duration_ms: 0,
            steps: Vec::new(),
            warnings: Vec::new(),
            faults: None,
        }
    }

    #[test]
    fn closing_line_keeps_errors_apart_from_failures() {
        let results = vec![
            result("a", Verdict::Pass),
            result("b", Verdict::Fail),
            result("c", Verdict::Fail),
            result("d", Verdict::Error),
            result("e", Verdict::Skip),
        ];
        let report = crate::report::fixtures::report(results);
        let s = summary(&report);
        assert_eq!(
            s.lines().last(),
            Some("1 passed, 2 failed, 1 errors, 1 skipped"),
            "{s}"
        );
    }
}
