//! The console summary printed at the end of a run: totals, a per-area table, the failures
//! and errors with their first mismatch (a known failure marked so, with why), the unexpected
//! passes, how many scenarios did not run and why, each fault scenario's ledger, the
//! warnings (what cleanup could not remove), and where the reports were written.

use super::{known, RunReport, Totals, Verdict};
use std::collections::BTreeMap;
use std::fmt::Write;

/// `text` on one plain line: control characters (a target's answer may hold any, and a
/// terminal would act on them) become spaces, as in the progress lines.
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Render the end-of-run summary.
pub fn summary(report: &RunReport) -> String {
    let mut s = String::new();
    let mut areas: BTreeMap<&str, Vec<&super::ScenarioResult>> = BTreeMap::new();
    for r in &report.scenarios {
        areas.entry(r.area.as_str()).or_default().push(r);
    }
    let _ = writeln!(
        s,
        "{:<20} {:>5} {:>5} {:>5} {:>5} {:>7}",
        "area", "pass", "fail", "skip", "error", "not run"
    );
    for (area, rs) in &areas {
        let t = Totals::of(rs.iter().copied());
        let _ = writeln!(
            s,
            "{area:<20} {:>5} {:>5} {:>5} {:>5} {:>7}",
            t.pass, t.fail, t.skip, t.error, t.not_run
        );
    }
    let t = &report.totals;
    let _ = writeln!(
        s,
        "{:<20} {:>5} {:>5} {:>5} {:>5} {:>7}",
        "total", t.pass, t.fail, t.skip, t.error, t.not_run
    );
    for r in report
        .scenarios
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error))
    {
        let (what, known) = match &r.known_failure {
            Some(why) if known::is_known(r) => {
                ("KNOWN FAIL".to_owned(), format!(" (known: {why})"))
            }
            // Listed, but an error is not a verdict a list can accept: say so, or the
            // listed entry looks ignored.
            Some(_) => (
                r.verdict.as_str().to_uppercase(),
                " (listed as a known failure, but an error is never accepted: the run could \
                 not judge it)"
                    .to_owned(),
            ),
            None => (r.verdict.as_str().to_uppercase(), String::new()),
        };
        let _ = writeln!(
            s,
            "  {what} {} [{}]: {}{known}",
            r.id,
            r.rules.join(","),
            plain(r.reason.as_deref().unwrap_or_default())
        );
    }
    let list = report.known_failures.as_ref().map_or_else(
        || "--known-failures".to_owned(),
        |f| f.display().to_string(),
    );
    for r in report
        .scenarios
        .iter()
        .filter(|r| known::is_unexpected_pass(r))
    {
        let _ = writeln!(
            s,
            "  UNEXPECTED PASS {} [{}]: listed in {list} as a known failure ({}), it passes \
             now: delete its line",
            r.id,
            r.rules.join(","),
            r.known_failure.as_deref().unwrap_or_default()
        );
    }
    // Scenarios that did not run, grouped by why (one stop reason covers most of them).
    let mut not_run: BTreeMap<&str, usize> = BTreeMap::new();
    for r in report
        .scenarios
        .iter()
        .filter(|r| r.verdict == Verdict::NotRun)
    {
        *not_run
            .entry(r.reason.as_deref().unwrap_or("not run"))
            .or_default() += 1;
    }
    for (reason, n) in not_run {
        let _ = writeln!(s, "  NOT RUN {n} scenario(s): {reason}");
    }
    for r in &report.scenarios {
        if let Some(f) = &r.faults {
            let _ = writeln!(s, "  faults {} ({}): {f}", r.id, r.verdict.as_str());
        }
    }
    // What cleanup left on the target may fail the next run (a scenario that counts users
    // assumes there are no others): said here, not only in report.json.
    for r in &report.scenarios {
        for w in &r.warnings {
            let _ = writeln!(s, "  WARNING {}: {}", r.id, plain(w));
        }
    }
    // A rule counts as verified only when every scenario naming it passed; the same counts
    // as `rule_totals` and each rule's `status` in report.json.
    let _ = writeln!(s, "{}", report.rule_totals);
    // The plain closing line CI tooling reads: the same totals as the table, JSON and JUnit
    // (an error proves nothing about a rule, so it is never counted as a failure). Scenarios
    // that did not run are counted apart from the skipped ones, and only when there are some,
    // so a complete run's line reads as it always has.
    let known = match t.known_failures {
        0 => String::new(),
        n => format!(" ({n} known)"),
    };
    let _ = write!(
        s,
        "{} passed, {} failed{known}, {} errors, {} skipped",
        t.pass, t.fail, t.error, t.skip
    );
    if t.not_run > 0 {
        let _ = write!(s, ", {} not run", t.not_run);
    }
    if t.unexpected_passes > 0 {
        let _ = write!(s, ", {} unexpectedly passed", t.unexpected_passes);
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ScenarioResult;

    fn result(id: &str, verdict: Verdict) -> ScenarioResult {
        crate::report::fixtures::result(id, &["U1"], verdict)
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

    #[test]
    fn control_characters_in_a_reason_do_not_reach_the_terminal() {
        let mut r = result("a", Verdict::Fail);
        r.reason = Some("got \u{1b}[2Jgarbage\u{7}\r\nmore".into());
        let s = summary(&crate::report::fixtures::report(vec![r]));
        assert!(
            s.contains("  FAIL a [U1]: got  [2Jgarbage   more\n"),
            "{s:?}"
        );
    }

    /// Regression: what cleanup left on a target was only in report.json, so a run whose
    /// leftovers would fail the next one read as clean.
    #[test]
    fn cleanup_warnings_are_printed() {
        let mut r = result("users-limit", Verdict::Pass);
        r.warnings = vec!["delete user u418: transport: no answer\u{7}".into()];
        let s = summary(&crate::report::fixtures::report(vec![r]));
        assert!(
            s.contains("\n  WARNING users-limit: delete user u418: transport: no answer \n"),
            "{s}"
        );
    }

    #[test]
    fn known_failures_and_unexpected_passes_are_named_and_counted() {
        let listed = |id: &str, verdict| {
            let mut r = result(id, verdict);
            r.known_failure = Some(format!("VENDOR-{id}"));
            r
        };
        let mut report = crate::report::fixtures::report(vec![
            listed("a", Verdict::Fail),
            listed("b", Verdict::Pass),
            result("c", Verdict::Fail),
            listed("d", Verdict::Error),
        ]);
        report.known_failures = Some("known.toml".into());
        let s = summary(&report);
        assert!(
            s.contains("\n  KNOWN FAIL a [U1]: why a (known: VENDOR-a)\n")
                && s.contains("\n  FAIL c [U1]: why c\n")
                && s.contains(
                    "\n  ERROR d [U1]: why d (listed as a known failure, but an error is never \
                     accepted: the run could not judge it)\n"
                )
                && s.contains(
                    "\n  UNEXPECTED PASS b [U1]: listed in known.toml as a known failure \
                     (VENDOR-b), it passes now: delete its line\n"
                ),
            "{s}"
        );
        assert_eq!(
            s.lines().last(),
            Some("1 passed, 2 failed (1 known), 1 errors, 0 skipped, 1 unexpectedly passed"),
            "{s}"
        );
    }

    #[test]
    fn rules_are_counted_as_verified_only_when_their_scenarios_passed() {
        let results = vec![
            crate::report::fixtures::result("a", &["U1", "U2"], Verdict::Pass),
            crate::report::fixtures::result("b", &["U2"], Verdict::Fail),
            crate::report::fixtures::result("c", &["U3"], Verdict::Skip),
            crate::report::fixtures::result("d", &["U4"], Verdict::NotRun),
        ];
        let report = crate::report::fixtures::report(results);
        let s = summary(&report);
        assert!(
            s.contains(
                "\nrules: 1 verified, 1 failed, 2 unverified (skipped, not run or in error)\n"
            ),
            "{s}"
        );
        assert!(!s.contains("rules covered"), "{s}");
    }

    #[test]
    fn scenarios_that_did_not_run_are_counted_apart_from_skips() {
        let stopped = |id: &str| {
            let mut r = result(id, Verdict::NotRun);
            r.reason = Some("not run: --fail-fast stopped the run after `b` failed".into());
            r
        };
        let results = vec![
            result("a", Verdict::Pass),
            result("b", Verdict::Fail),
            stopped("c"),
            stopped("d"),
            result("e", Verdict::Skip),
        ];
        let report = crate::report::fixtures::report(results);
        let s = summary(&report);
        assert_eq!(
            s.lines().last(),
            Some("1 passed, 1 failed, 0 errors, 1 skipped, 2 not run"),
            "{s}"
        );
        assert!(
            s.contains(
                "  NOT RUN 2 scenario(s): not run: --fail-fast stopped the run after `b` failed\n"
            ),
            "{s}"
        );
        let total = s.lines().find(|l| l.starts_with("total")).unwrap();
        assert_eq!(
            total.split_whitespace().collect::<Vec<_>>(),
            ["total", "1", "1", "1", "0", "2"],
            "{s}"
        );
    }
}
