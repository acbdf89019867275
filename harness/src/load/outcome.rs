//! What a run's report says beyond its figures: the report assembled from the attacks made
//! (ratios between the two targets, with a note when they were sent unlike mixes), every
//! reason it failed (unexpected answers, an open-loop schedule not kept), the report of an
//! interrupted run's finished attacks, and writing the three report files.

use super::report::{self, LoadReport};
use super::LoadArgs;
use crate::interrupt::{Interrupted, Signal};
use std::path::{Path, PathBuf};

/// The report of `runs` (the attacks made so far), before its result and gate are judged.
pub(super) fn assemble(
    (run_id, plan, build): (&str, &str, &str),
    settings: serde_json::Value,
    labels: &[String],
    runs: Vec<report::RunResult>,
) -> LoadReport {
    let summary = report::summarize(&runs);
    // Both targets measured (an interrupted run may have measured one).
    let ratios = match labels {
        [la, lb] => summary.get(la).zip(summary.get(lb)).map(|(a, b)| {
            let mut ratios = serde_json::json!({
                "server_cpu_per_request": match (a.server_cpu_us_per_request, b.server_cpu_us_per_request) {
                    (Some(x), Some(y)) if y > 0.0 => Some(x / y),
                    _ => None,
                },
                "throughput": if b.throughput_rps > 0.0 { a.throughput_rps / b.throughput_rps } else { 0.0 },
            });
            if let Some(note) = unlike_mixes(&runs, la, lb) {
                ratios["note"] = note.into();
            }
            ratios
        }),
        _ => None,
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    LoadReport {
        version: report::LOAD_REPORT_VERSION,
        run_id: run_id.to_owned(),
        plan: plan.to_owned(),
        settings,
        machine: serde_json::json!({
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "generator_build": build,
            "loadavg_at_end": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        }),
        runs,
        summary,
        ratios,
        gate: None,
        result: None,
    }
}

/// When the two targets were sent different operations (the null target is not sent what
/// needs an identity service, such as AssumeRole), a note saying so: their ratios then compare
/// unlike mixes of requests.
fn unlike_mixes(runs: &[report::RunResult], a: &str, b: &str) -> Option<String> {
    let ops = |t: &str| {
        let mut sent: std::collections::BTreeMap<&str, u64> = Default::default();
        for r in runs.iter().filter(|r| r.target == t) {
            for (op, n) in r.sent_by_operation.iter().filter(|(_, n)| **n > 0) {
                *sent.entry(op.as_str()).or_default() += n;
            }
        }
        sent
    };
    let (x, y) = (ops(a), ops(b));
    let only = |p: &std::collections::BTreeMap<&str, u64>,
                q: &std::collections::BTreeMap<&str, u64>| {
        p.iter()
            .filter(|(op, _)| !q.contains_key(*op))
            .map(|(op, n)| format!("{op} ({n})"))
            .collect::<Vec<_>>()
    };
    let (only_a, only_b) = (only(&x, &y), only(&y, &x));
    if only_a.is_empty() && only_b.is_empty() {
        return None;
    }
    let sent = |t: &str, ops: &[String]| match ops {
        [] => None,
        ops => Some(format!("only {t} was sent {}", ops.join(", "))),
    };
    let parts: Vec<String> = [sent(a, &only_a), sent(b, &only_b)]
        .into_iter()
        .flatten()
        .collect();
    Some(format!(
        "{}: these ratios compare unlike mixes of requests",
        parts.join("; ")
    ))
}

/// A run stopped by `signal` after the attacks in `report` (of `attacks`): when some finished,
/// their report is written, marked interrupted and judged by nothing (no gate), so that a CI
/// job stopped at its time limit keeps what it measured. The error to end the run with.
pub(super) fn partial(
    args: &LoadArgs,
    signal: Signal,
    mut report: LoadReport,
    attacks: usize,
) -> anyhow::Error {
    let done = report.runs.len();
    if done == 0 {
        return Interrupted(signal).into();
    }
    report.result = Some(report::Outcome {
        exit_code: signal.exit_code(),
        verdict: "INTERRUPTED".into(),
        failures: vec![format!(
            "interrupted by {} after {done} of {attacks} attacks: this report holds those, \
             judged by no gate",
            signal.name()
        )],
    });
    let dir = args.report_dir.join(&report.run_id);
    match write_report(&dir, &report) {
        Ok(()) => PartialReport {
            signal,
            file: dir.join("load.json"),
            done,
            attacks,
        }
        .into(),
        Err(e) => {
            say!(
                "warning: writing the partial report to {}: {e:#}",
                dir.display()
            );
            Interrupted(signal).into()
        }
    }
}

/// An interrupted run whose finished attacks were written to `file`.
#[derive(Debug)]
pub struct PartialReport {
    pub signal: Signal,
    pub file: PathBuf,
    pub done: usize,
    pub attacks: usize,
}

impl std::fmt::Display for PartialReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "interrupted by {} after {} of {} attacks",
            self.signal.name(),
            self.done,
            self.attacks
        )
    }
}

impl std::error::Error for PartialReport {}

/// How [`failures_of`] starts the reason for unexpected outcomes.
pub(super) const UNEXPECTED: &str = "unexpected outcomes";

/// The reasons a run failed that its figures show (the gate is judged apart): answers the
/// plan does not expect, by target and transaction, and an open-loop schedule not kept.
pub(super) fn failures_of(report: &LoadReport) -> Vec<String> {
    let mut failures = Vec::new();
    let unexpected: Vec<String> = report
        .runs
        .iter()
        .flat_map(|r| {
            r.transactions
                .iter()
                .filter(|t| t.unexpected > 0)
                .map(move |t| format!("[{}] {} {}", r.target, t.name, t.unexpected))
        })
        .collect();
    if !unexpected.is_empty() {
        failures.push(format!(
            "{UNEXPECTED} (answers the plan does not expect; see the `unexpected` column): {}",
            unexpected.join(", ")
        ));
    }
    for r in &report.runs {
        if let Some(o) = r.open_loop.as_ref().filter(|o| !o.kept_schedule) {
            failures.push(format!(
                "[{}] the generator did not keep the {}/s schedule: {}",
                r.target,
                o.rate,
                o.problems.join("; ")
            ));
        }
    }
    failures
}

pub(super) fn write_report(dir: &Path, report: &LoadReport) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("load.json"), serde_json::to_vec_pretty(report)?)?;
    std::fs::write(dir.join("summary.txt"), report::console(report))?;
    std::fs::write(dir.join("load.html"), super::html::render(report))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{html, open_loop};
    use super::*;

    /// Regression (a probe): sts-refresh against `--compare null` printed ratios of 12.9×
    /// CPU and 0.25× throughput without a word that half the server's requests (AssumeRole)
    /// were never sent to the null target.
    #[test]
    fn ratios_of_unlike_mixes_say_so() {
        let run = |target: &str, ops: &[(&str, u64)]| report::RunResult {
            target: target.into(),
            sent_by_operation: ops.iter().map(|(o, n)| ((*o).to_owned(), *n)).collect(),
            ..Default::default()
        };
        let runs = [
            run("server", &[("HeadObject", 660), ("Sts", 660)]),
            run("null", &[("HeadObject", 1300), ("Sts", 0)]),
        ];
        assert_eq!(
            unlike_mixes(&runs, "server", "null").as_deref(),
            Some("only server was sent Sts (660): these ratios compare unlike mixes of requests")
        );
        let same = [
            run("server", &[("HeadObject", 5)]),
            run("null", &[("HeadObject", 9)]),
        ];
        assert_eq!(unlike_mixes(&same, "server", "null"), None);
    }

    #[test]
    fn every_reason_a_run_failed_is_in_its_summary_and_page() {
        let run = report::RunResult {
            target: "server".into(),
            transactions: vec![
                report::TxResult {
                    name: "get-small".into(),
                    count: 2,
                    unexpected: 3,
                    unexpected_measured: Some(2),
                    ..Default::default()
                },
                report::TxResult {
                    name: "head-small".into(),
                    ..Default::default()
                },
            ],
            open_loop: Some(open_loop::OpenLoopResult {
                rate: 5000,
                kept_schedule: false,
                problems: vec!["2.0% of slots waited over 1 ms".into()],
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut r = LoadReport {
            version: report::LOAD_REPORT_VERSION,
            run_id: "load-1-x".into(),
            plan: "p".into(),
            settings: serde_json::json!({}),
            machine: serde_json::json!({}),
            summary: report::summarize(std::slice::from_ref(&run)),
            runs: vec![run],
            ratios: None,
            gate: None,
            result: None,
        };
        let failures = failures_of(&r);
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(
            failures[0].starts_with("unexpected outcomes")
                && failures[0].ends_with("[server] get-small 3"),
            "{failures:?}"
        );
        assert_eq!(
            failures[1],
            "[server] the generator did not keep the 5000/s schedule: 2.0% of slots waited over 1 ms"
        );
        r.result = Some(report::Outcome::of(failures.clone(), 1));
        let summary = report::console(&r);
        let page = html::render(&r);
        for f in &failures {
            assert!(summary.contains(&format!("  - {f}")), "{summary}");
            assert!(page.contains(&html_escape(f)), "{page}");
        }
        assert!(summary.contains("result: FAILED (exit 1)"), "{summary}");
        // Regression: "n=2 unexpected=3" read as more wrong answers than requests; the
        // unexpected column says which are among the measured n and which are in all phases.
        assert!(
            summary.contains("n=2       ok=0       unexpected=2/3 ")
                && summary.contains("unexpected: in it / in every phase")
                // A report recorded before the measured count was kept: unknown, not 0.
                && summary.contains("unexpected=?/0 "),
            "{summary}"
        );
        assert!(page.contains("<b>FAILED (exit 1)</b>"), "{page}");
    }

    fn html_escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }
}
