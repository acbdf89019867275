//! Load results: `load.json` (versioned; every histogram serialized as base64 of the V2
//! deflate HDR encoding so runs can be merged), the console summary, and the regression gate
//! (medians over the repeats, compared with a saved `load.json`).

pub use super::console::console;
use super::open_loop::OpenLoopResult;
use super::server_cpu::{Attribution, OpCpu, TxCpu};
use base64::Engine;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const LOAD_REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    let _ = V2DeflateSerializer::new().serialize(h, &mut buf);
    base64::engine::general_purpose::STANDARD.encode(buf)
}

pub fn decode(s: &str) -> anyhow::Result<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(s)?;
    let h = hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))?;
    Ok(h)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TxResult {
    pub name: String,
    pub count: u64,
    pub ok: u64,
    /// Answered 403.
    #[serde(default)]
    pub denied: u64,
    /// Outcomes the plan does not expect, in every phase (warm-up included): what gates.
    pub unexpected: u64,
    /// Of `unexpected`, those among the `count` requests of the steady window (`None` in a
    /// report recorded before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexpected_measured: Option<u64>,
    pub errors: BTreeMap<String, u64>,
    /// Microseconds.
    pub latency_us: Latency,
    pub histogram: String,
    /// Server CPU per request of this type (targets with per-operation metrics; see
    /// `server_cpu` for the method).
    #[serde(default)]
    pub server_cpu: Option<TxCpu>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StageResult {
    pub count: u64,
    pub mean_us: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CoResult {
    pub actual_requests: u64,
    pub synthetic_requests: u64,
    pub synthetic_percentage: f32,
    pub events: usize,
}

/// One attack on one target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunResult {
    /// `server`, `null` or `remote`.
    pub target: String,
    pub steady_seconds: f64,
    /// Requests started in the steady window.
    pub requests: u64,
    pub throughput_rps: f64,
    /// The headline figure: the target process's CPU over the steady window / requests.
    pub server_cpu_us_per_request: Option<f64>,
    pub generator_cpu_us_per_request: Option<f64>,
    /// Time the target's / the generator's threads were runnable but waiting for a CPU
    /// (`/proc/<pid>/task/*/schedstat`), over the steady window / requests: scheduler
    /// contention, which a request's latency includes.
    #[serde(default)]
    pub server_runqueue_wait_us_per_request: Option<f64>,
    #[serde(default)]
    pub generator_runqueue_wait_us_per_request: Option<f64>,
    pub latency_us: Latency,
    pub histogram: String,
    pub transactions: Vec<TxResult>,
    /// Whole run (warm-up included): requests sent by server operation...
    pub sent_by_operation: BTreeMap<String, u64>,
    /// ...those of them answered 403...
    #[serde(default)]
    pub denied_by_operation: BTreeMap<String, u64>,
    /// ...and what the server's `/_keygate/metrics` counted over the same run (all, denied).
    pub server_counted: Option<BTreeMap<String, u64>>,
    #[serde(default)]
    pub server_counted_denied: Option<BTreeMap<String, u64>>,
    /// Steady window, per server `Operation/outcome`: requests and sampled handler CPU.
    #[serde(default)]
    pub server_operations: Option<BTreeMap<String, OpCpu>>,
    /// Steady window: the process's CPU split into handlers' and unattributed.
    #[serde(default)]
    pub cpu_attribution: Option<Attribution>,
    /// `--rate`: how well the generator kept the open-loop schedule.
    #[serde(default)]
    pub open_loop: Option<OpenLoopResult>,
    /// Server stage means over the steady window (targets with `/_keygate/metrics`).
    pub stages: Option<BTreeMap<String, StageResult>>,
    pub coordinated_omission: Option<CoResult>,
    /// Plans with `[revoke]`: how many users were deleted, when, and how long it took.
    #[serde(default)]
    pub revocation: Option<serde_json::Value>,
    /// Requests started in each second of the steady window.
    #[serde(default)]
    pub per_second: Vec<u64>,
    /// The steady window on this machine's clock (Unix milliseconds, start and end), so that
    /// `report merge` can tell shards that ran at the same time from ones that did not.
    /// Absent in reports recorded before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_window_unix_ms: Option<(u64, u64)>,
}

/// Medians over the repeats of one target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub runs: usize,
    pub throughput_rps: f64,
    pub server_cpu_us_per_request: Option<f64>,
    pub p50_us: f64,
    pub p99_us: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadReport {
    pub version: u32,
    pub run_id: String,
    pub plan: String,
    pub settings: serde_json::Value,
    pub machine: serde_json::Value,
    pub runs: Vec<RunResult>,
    pub summary: BTreeMap<String, Summary>,
    /// `--compare`: the first target's figures over the second's (CPU per request, throughput).
    pub ratios: Option<serde_json::Value>,
    /// `--baseline`: what the run was gated on, each comparison and the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    /// How the run came out: its exit code and every reason it failed (a merged report has
    /// none: its shards' own reports say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Outcome>,
}

/// `--baseline FILE --max-regression P`, as recorded in `load.json` (and shown in
/// `summary.txt` and `load.html`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Gate {
    /// The baseline file as given.
    pub baseline: String,
    /// The baseline's own run id.
    pub baseline_run_id: String,
    /// The threshold as a fraction (0.1 = 10%) ...
    pub max_regression: f64,
    /// ... and in per cent, as `--max-regression` takes it.
    pub max_regression_percent: f64,
    /// The settings the baseline was recorded with that differ from this run's (each also
    /// named in a warning when the run started).
    #[serde(default)]
    pub settings_differ: Vec<String>,
    pub comparisons: Vec<Comparison>,
    /// `pass` or `fail`.
    pub verdict: String,
    /// Why it failed; `None` when it passed.
    pub reason: Option<String>,
}

/// One median of this run against the baseline's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Comparison {
    pub target: String,
    /// `throughput_rps` (lower is worse) or `server_cpu_us_per_request` (higher is worse).
    pub metric: String,
    pub now: Option<f64>,
    pub baseline: Option<f64>,
    /// (now − baseline) / baseline, in per cent; `None` when not compared.
    pub change_percent: Option<f64>,
    /// `ok`, `REGRESSION`, or why it was not compared.
    pub verdict: String,
}

impl Comparison {
    fn regressed(&self) -> bool {
        self.verdict == "REGRESSION" || self.verdict == NOT_IN_BASELINE
    }

    /// How the console and the reports show it.
    fn line(&self) -> String {
        let what = self.line_metric();
        match (self.now, self.baseline, self.change_percent) {
            (Some(n), Some(b), Some(c)) => format!(
                "{} {what}: {} vs baseline {} ({c:+.1}%) {}",
                self.target,
                figure(n),
                figure(b),
                self.verdict
            ),
            _ => format!("{} {what}: {}", self.target, self.verdict),
        }
    }
}

/// How a run came out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub exit_code: u8,
    /// `passed` or `FAILED`.
    pub verdict: String,
    /// Every reason the run failed, one sentence each (empty when it passed).
    pub failures: Vec<String>,
}

impl Outcome {
    pub fn of(failures: Vec<String>, fail_code: u8) -> Outcome {
        Outcome {
            exit_code: if failures.is_empty() { 0 } else { fail_code },
            verdict: if failures.is_empty() {
                "passed"
            } else {
                "FAILED"
            }
            .to_owned(),
            failures,
        }
    }
}

/// A figure with enough digits to tell it from zero (`0.001`, `12.3`, `34637.0`).
fn figure(v: f64) -> String {
    if v != 0.0 && v.abs() < 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.1}")
    }
}

/// A fraction in per cent with the digits it was given (0.0005 → `0.05`, 0.1 → `10`), at most
/// four decimals.
pub fn percent(fraction: f64) -> String {
    let s = format!("{:.4}", fraction * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

const NOT_IN_BASELINE: &str = "not in the baseline";

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn summarize(runs: &[RunResult]) -> BTreeMap<String, Summary> {
    let mut by: BTreeMap<String, Vec<&RunResult>> = BTreeMap::new();
    for r in runs {
        by.entry(r.target.clone()).or_default().push(r);
    }
    by.into_iter()
        .map(|(t, rs)| {
            let cpu: Vec<f64> = rs
                .iter()
                .filter_map(|r| r.server_cpu_us_per_request)
                .collect();
            let s = Summary {
                runs: rs.len(),
                throughput_rps: median(rs.iter().map(|r| r.throughput_rps).collect()),
                server_cpu_us_per_request: (!cpu.is_empty()).then(|| median(cpu)),
                p50_us: median(rs.iter().map(|r| r.latency_us.p50 as f64).collect()),
                p99_us: median(rs.iter().map(|r| r.latency_us.p99 as f64).collect()),
            };
            (t, s)
        })
        .collect()
}

/// Compares this run's medians with a baseline's, one [`Comparison`] per target and metric.
pub fn compare(report: &LoadReport, baseline: &LoadReport, max: f64) -> Vec<Comparison> {
    let mut out = Vec::new();
    for (t, now) in &report.summary {
        let Some(base) = baseline.summary.get(t) else {
            // `baseline::comparable` refuses such a baseline before the run; should one get
            // here, a target compared with nothing is no pass.
            out.push(Comparison {
                target: t.clone(),
                metric: "throughput_rps".into(),
                now: Some(now.throughput_rps),
                verdict: NOT_IN_BASELINE.into(),
                ..Comparison::default()
            });
            continue;
        };
        let check = |metric: &str, new: f64, old: f64, higher_is_worse: bool| {
            if old <= 0.0 {
                return Comparison {
                    target: t.clone(),
                    metric: metric.into(),
                    now: Some(new),
                    baseline: Some(old),
                    change_percent: None,
                    verdict: "not compared (the baseline's figure is 0)".into(),
                };
            }
            let change = (new - old) / old;
            let worse = if higher_is_worse { change } else { -change };
            Comparison {
                target: t.clone(),
                metric: metric.into(),
                now: Some(new),
                baseline: Some(old),
                change_percent: Some(change * 100.0),
                verdict: if worse > max { "REGRESSION" } else { "ok" }.into(),
            }
        };
        out.push(check(
            "throughput_rps",
            now.throughput_rps,
            base.throughput_rps,
            false,
        ));
        if let (Some(n), Some(b)) = (
            now.server_cpu_us_per_request,
            base.server_cpu_us_per_request,
        ) {
            out.push(check("server_cpu_us_per_request", n, b, true));
        }
    }
    out
}

/// The comparisons that fail the gate, one phrase each.
fn regressions(comparisons: &[Comparison]) -> Vec<String> {
    comparisons
        .iter()
        .filter(|c| c.regressed())
        .map(|c| match c.change_percent {
            Some(p) => format!("{} {} {p:+.1}%", c.target, c.line_metric()),
            None => format!("{} {}", c.target, c.verdict),
        })
        .collect()
}

/// The gate of this run on `baseline` (read from `file`): comparisons, verdict and reason.
pub fn judge(
    report: &LoadReport,
    (file, baseline): (&std::path::Path, &LoadReport),
    max: f64,
    settings_differ: Vec<String>,
) -> Gate {
    let comparisons = compare(report, baseline, max);
    let bad = regressions(&comparisons);
    Gate {
        baseline: file.display().to_string(),
        baseline_run_id: baseline.run_id.clone(),
        max_regression: max,
        max_regression_percent: (max * 100.0 * 1e6).round() / 1e6,
        settings_differ,
        comparisons,
        verdict: if bad.is_empty() { "pass" } else { "fail" }.into(),
        reason: (!bad.is_empty()).then(|| {
            format!(
                "regression beyond the threshold of {}%: {}",
                percent(max),
                bad.join(", ")
            )
        }),
    }
}

impl Comparison {
    fn line_metric(&self) -> &str {
        match self.metric.as_str() {
            "throughput_rps" => "throughput req/s",
            "server_cpu_us_per_request" => "CPU µs/req",
            m => m,
        }
    }
}

impl Gate {
    /// The gate as the console and `summary.txt` show it.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut o = format!(
            "baseline {} (run {}, max regression {}%): {}\n",
            self.baseline,
            self.baseline_run_id,
            percent(self.max_regression),
            if self.verdict == "pass" {
                "passed"
            } else {
                "FAILED"
            }
        );
        for c in &self.comparisons {
            let _ = writeln!(o, "  {}", c.line());
        }
        if !self.settings_differ.is_empty() {
            let _ = writeln!(
                o,
                "  recorded with other settings: {}",
                self.settings_differ.join("; ")
            );
        }
        o
    }
}

/// Compares this run's medians with a baseline's: (the comparisons as text, the regressions).
pub fn gate(report: &LoadReport, baseline: &LoadReport, max: f64) -> (String, Vec<String>) {
    let comparisons = compare(report, baseline, max);
    let text = comparisons
        .iter()
        .map(|c| format!("  {}\n", c.line()))
        .collect();
    let bad = regressions(&comparisons);
    (text, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_show_the_digits_given() {
        assert_eq!(percent(0.001), "0.1");
        assert_eq!(percent(0.0005), "0.05");
        assert_eq!(percent(0.1), "10");
        assert_eq!(percent(0.0), "0");
        assert_eq!(percent(0.125), "12.5");
    }

    #[test]
    fn histograms_round_trip_and_merge() {
        let mut a = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        let mut b = a.clone();
        a.record(100).unwrap();
        b.record(300).unwrap();
        let mut m = decode(&encode(&a)).unwrap();
        m.add(decode(&encode(&b)).unwrap()).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.max(), b.max());
    }

    #[test]
    fn gate_judges_medians_in_the_right_direction() {
        let run = |target: &str, rps: f64, cpu: f64| RunResult {
            target: target.into(),
            steady_seconds: 1.0,
            requests: rps as u64,
            throughput_rps: rps,
            server_cpu_us_per_request: Some(cpu),
            generator_cpu_us_per_request: None,
            latency_us: Latency::default(),
            histogram: String::new(),
            ..RunResult::default()
        };
        let report = |runs: Vec<RunResult>| LoadReport {
            version: 1,
            run_id: "x".into(),
            plan: "p".into(),
            settings: serde_json::Value::Null,
            machine: serde_json::Value::Null,
            summary: summarize(&runs),
            runs,
            ratios: None,
            gate: None,
            result: None,
        };
        let base = report(vec![run("server", 1000.0, 50.0)]);
        // One noisy run of three does not fail the gate (medians).
        let now = report(vec![
            run("server", 990.0, 51.0),
            run("server", 300.0, 200.0),
            run("server", 1010.0, 49.0),
        ]);
        assert!(gate(&now, &base, 0.10).1.is_empty());
        let slower = report(vec![run("server", 700.0, 80.0)]);
        assert_eq!(gate(&slower, &base, 0.10).1.len(), 2);
        let faster = report(vec![run("server", 2000.0, 20.0)]);
        assert!(gate(&faster, &base, 0.10).1.is_empty());
    }
}
