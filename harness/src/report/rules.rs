//! SPEC rule ids and the coverage table (rule -> scenarios -> result).
//!
//! The rule list is read from `SPEC.md` when one is found (lines starting `- U1 `, `- P12 `,
//! ...); otherwise the built-in list below, copied from SPEC at the time of writing, is used.

use super::{ScenarioResult, Verdict};
use serde::Serialize;
use std::path::Path;

/// Rule ids of SPEC.md as of this harness version (U1–U8, P1–P7, E1–E11, S1–S8, A1–A7, X1–X5, V1–V8).
pub fn builtin() -> Vec<String> {
    let families: &[(char, u32)] = &[
        ('U', 8),
        ('P', 7),
        ('E', 11),
        ('S', 8),
        ('A', 7),
        ('X', 5),
        ('V', 8),
    ];
    families
        .iter()
        .flat_map(|(f, n)| (1..=*n).map(move |i| format!("{f}{i}")))
        .collect()
}

/// `U3`, `P12`: a family letter and a number.
pub fn is_rule_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('U' | 'P' | 'E' | 'S' | 'A' | 'X' | 'V'))
        && s.len() > 1
        && chars.all(|c| c.is_ascii_digit())
}

/// Rule ids defined in a SPEC.md text, in order of appearance.
pub fn parse_spec(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("- ") else {
            continue;
        };
        let id = rest.split_whitespace().next().unwrap_or_default();
        if is_rule_id(id) && !out.iter().any(|r| r == id) {
            out.push(id.to_owned());
        }
    }
    out
}

/// The rules from the first SPEC.md found among `candidates`, else [`builtin`].
pub fn load(candidates: &[&Path]) -> (Vec<String>, String) {
    for c in candidates {
        if let Ok(text) = std::fs::read_to_string(c) {
            let rules = parse_spec(&text);
            if !rules.is_empty() {
                return (rules, c.display().to_string());
            }
        }
    }
    (builtin(), "built-in list".into())
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleCoverage {
    pub rule: String,
    /// (scenario id, verdict)
    pub scenarios: Vec<(String, Verdict)>,
    /// Worst verdict over its scenarios; `None` when no scenario covers it. A rule whose
    /// scenarios passed but one did not run is `not_run`, never `pass`.
    pub verdict: Option<Verdict>,
    /// What the run established about the rule (from `verdict`).
    pub status: RuleStatus,
}

/// What a run established about a rule. Only a rule every one of whose scenarios passed is
/// verified: one skipped, not run or in error leaves it unverified, whatever the others did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    /// Every scenario naming it ran and passed.
    Verified,
    /// A scenario naming it failed: the target broke it.
    Failed,
    /// No failure, but a scenario naming it was skipped, did not run or ended in error.
    Unverified,
    /// No selected scenario names it.
    Uncovered,
}

impl RuleStatus {
    pub fn of(verdict: Option<Verdict>) -> Self {
        match verdict {
            Some(Verdict::Pass) => RuleStatus::Verified,
            Some(Verdict::Fail) => RuleStatus::Failed,
            Some(Verdict::Skip | Verdict::NotRun | Verdict::Error) => RuleStatus::Unverified,
            None => RuleStatus::Uncovered,
        }
    }
}

/// Rules counted by [`RuleStatus`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RuleTotals {
    pub verified: usize,
    pub failed: usize,
    pub unverified: usize,
    pub uncovered: usize,
}

impl RuleTotals {
    pub fn of(rules: &[RuleCoverage]) -> Self {
        let mut t = Self::default();
        for c in rules {
            match c.status {
                RuleStatus::Verified => t.verified += 1,
                RuleStatus::Failed => t.failed += 1,
                RuleStatus::Unverified => t.unverified += 1,
                RuleStatus::Uncovered => t.uncovered += 1,
            }
        }
        t
    }
}

impl std::fmt::Display for RuleTotals {
    /// `rules: 50 verified, 1 failed, 3 unverified (skipped, not run or in error)`, then
    /// `, 2 uncovered` when some are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rules: {} verified, {} failed, {} unverified (skipped, not run or in error)",
            self.verified, self.failed, self.unverified
        )?;
        if self.uncovered > 0 {
            write!(f, ", {} uncovered", self.uncovered)?;
        }
        Ok(())
    }
}

/// Coverage of `rules` by `results`; rules named by scenarios but absent from SPEC are appended.
pub fn coverage(rules: &[String], results: &[ScenarioResult]) -> Vec<RuleCoverage> {
    let mut all: Vec<String> = rules.to_vec();
    for r in results {
        for id in &r.rules {
            if !all.contains(id) {
                all.push(id.clone());
            }
        }
    }
    all.into_iter()
        .map(|rule| {
            let scenarios: Vec<(String, Verdict)> = results
                .iter()
                .filter(|r| r.rules.contains(&rule))
                .map(|r| (r.id.clone(), r.verdict))
                .collect();
            let verdict = worst(scenarios.iter().map(|(_, v)| *v));
            RuleCoverage {
                rule,
                scenarios,
                verdict,
                status: RuleStatus::of(verdict),
            }
        })
        .collect()
}

fn worst(vs: impl Iterator<Item = Verdict>) -> Option<Verdict> {
    let rank = |v: Verdict| match v {
        Verdict::Pass => 0,
        Verdict::Skip => 1,
        Verdict::NotRun => 2,
        Verdict::Error => 3,
        Verdict::Fail => 4,
    };
    vs.max_by_key(|v| rank(*v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rule_lines() {
        let spec =
            "## Users (U)\n- U1 An S3 user...\n- U2 Users carry\n- not a rule\n### x\n- V8 HEAD";
        assert_eq!(parse_spec(spec), vec!["U1", "U2", "V8"]);
        assert!(is_rule_id("P12") && !is_rule_id("Q1") && !is_rule_id("U") && !is_rule_id("U1a"));
        assert_eq!(builtin().len(), 54);
    }

    use crate::report::fixtures::result;

    #[test]
    fn a_rule_with_a_scenario_that_did_not_run_is_not_passing() {
        let results = [
            result("a", &["U1", "U2"], Verdict::Pass),
            result("b", &["U1"], Verdict::NotRun),
            result("c", &["U2", "U3"], Verdict::Fail),
            result("d", &["U3"], Verdict::NotRun),
        ];
        let rules = ["U1", "U2", "U3", "U4"].map(String::from);
        let got: Vec<(String, Option<Verdict>)> = coverage(&rules, &results)
            .into_iter()
            .map(|c| (c.rule, c.verdict))
            .collect();
        assert_eq!(
            got,
            [
                ("U1".to_owned(), Some(Verdict::NotRun)),
                ("U2".to_owned(), Some(Verdict::Fail)),
                ("U3".to_owned(), Some(Verdict::Fail)),
                ("U4".to_owned(), None),
            ]
        );
    }

    #[test]
    fn only_rules_whose_scenarios_all_passed_are_verified() {
        let results = [
            result("a", &["U1", "U2", "U3"], Verdict::Pass),
            result("b", &["U2"], Verdict::Skip),
            result("c", &["U3"], Verdict::Fail),
            result("d", &["U4"], Verdict::NotRun),
            result("e", &["U5"], Verdict::Error),
            result("f", &["U6"], Verdict::Skip),
        ];
        let rules = ["U1", "U2", "U3", "U4", "U5", "U6", "U7"].map(String::from);
        let cov = coverage(&rules, &results);
        let status: Vec<RuleStatus> = cov.iter().map(|c| c.status).collect();
        use RuleStatus::*;
        assert_eq!(
            status,
            [Verified, Unverified, Failed, Unverified, Unverified, Unverified, Uncovered]
        );
        let totals = RuleTotals::of(&cov);
        assert_eq!(
            totals.to_string(),
            "rules: 1 verified, 1 failed, 4 unverified (skipped, not run or in error), 1 uncovered"
        );
        let json = serde_json::to_value(&cov[1]).unwrap();
        assert_eq!(json["status"], "unverified", "{json}");
    }
}
