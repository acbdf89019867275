//! Server CPU per transaction type, from the server's `/_keygate/metrics` and `/proc`.
//!
//! The reference server counts every request by operation and outcome (`allowed`, or `denied`:
//! answered 403) and measures the thread CPU of its handler on a random sample of about 1 in 16
//! requests (`keygate_operation_cpu_seconds`, a summary). Over the steady window (the scrapes
//! at its edges) this gives, per operation and outcome, the **handler CPU** per request:
//! measured, sampled. What the handlers do not account for — hyper parsing and writing,
//! the runtime, the socket, the sampling clock itself — is the **unattributed** CPU: the
//! process's CPU over the window (`/proc/<pid>/stat`) minus the sum over operations of
//! requests × handler CPU. It is spread evenly over the window's requests: an estimate, since
//! a PUT's socket work is larger than a HEAD's.
//!
//! A transaction type maps to the server operation its plan entry sends (AssumeRole: `Sts`)
//! and to the outcomes its answers had (its 403s are `denied`), so its figure is
//! `handler CPU of its (operation, outcome) mix + unattributed share`. Targets without these
//! metrics (the null target, other vendors) get none.

use super::procs::series;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the per-transaction figures are made, written into every report that has them.
pub const METHOD: &str = "per transaction: the server's handler CPU for the transaction's \
operation and outcome (thread CPU of the request future, measured by the server on ~1 request \
in 16) + an even share of the unattributed CPU (process CPU from /proc over the steady window \
minus the handlers' CPU: HTTP parsing and writing, runtime, socket), which is an estimate";

/// One (operation, outcome) of the server over the steady window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpCpu {
    pub requests: u64,
    /// Requests whose handler CPU was measured.
    pub sampled: u64,
    /// Mean handler CPU per request, µs (when any was sampled).
    pub handler_us: Option<f64>,
}

/// The split of the server process's CPU over the steady window.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attribution {
    pub process_cpu_us: f64,
    /// Σ requests × handler CPU over the operations.
    pub attributed_cpu_us: f64,
    /// Requests the server counted in the window.
    pub requests: u64,
    /// (process − attributed) / requests: the even share each request is given (estimate).
    pub unattributed_us_per_request: f64,
    pub method: String,
}

/// One transaction type's server CPU.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TxCpu {
    /// The server operation (and outcomes) it maps to, e.g. `GetObject/denied`.
    pub operation: String,
    /// Measured (sampled) handler CPU, µs per request.
    pub handler_us: f64,
    /// Its even share of the unattributed CPU, µs per request (estimate).
    pub unattributed_us: f64,
    /// handler + unattributed: the estimate of its whole server CPU per request.
    pub estimate_us: f64,
}

const REQUESTS: &str = "keygate_operation_requests_total";
const CPU: &str = "keygate_operation_cpu_seconds";

/// `{operation="X",outcome="Y"}` of a series line starting with `name`.
fn labels_of<'a>(line: &'a str, name: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let rest = line.strip_prefix(name)?.strip_prefix("{operation=\"")?;
    let (op, rest) = rest.split_once("\",outcome=\"")?;
    let (outcome, rest) = rest.split_once("\"}")?;
    Some((op, outcome, rest.trim()))
}

/// Per `Operation/outcome`, what the server did between scrapes `a` and `b`.
pub fn window(a: &str, b: &str) -> BTreeMap<String, OpCpu> {
    let mut out = BTreeMap::new();
    for line in b.lines() {
        let Some((op, outcome, _)) = labels_of(line, REQUESTS) else {
            continue;
        };
        let labels = format!("{{operation=\"{op}\",outcome=\"{outcome}\"}}");
        let delta = |name: &str| {
            series(b, &format!("{name}{labels}")) - series(a, &format!("{name}{labels}"))
        };
        let requests = delta(REQUESTS).max(0.0) as u64;
        let sampled = delta(&format!("{CPU}_count")).max(0.0) as u64;
        let cpu_s = delta(&format!("{CPU}_sum"));
        if requests == 0 {
            continue;
        }
        out.insert(
            format!("{op}/{outcome}"),
            OpCpu {
                requests,
                sampled,
                handler_us: (sampled > 0).then(|| cpu_s * 1e6 / sampled as f64),
            },
        );
    }
    out
}

/// Splits `process_cpu_us` into the handlers' CPU and the rest; `None` without requests.
pub fn attribute(ops: &BTreeMap<String, OpCpu>, process_cpu_us: f64) -> Option<Attribution> {
    let requests: u64 = ops.values().map(|o| o.requests).sum();
    if requests == 0 {
        return None;
    }
    let attributed: f64 = ops
        .values()
        .map(|o| o.requests as f64 * o.handler_us.unwrap_or(0.0))
        .sum();
    Some(Attribution {
        process_cpu_us,
        attributed_cpu_us: attributed,
        requests,
        unattributed_us_per_request: (process_cpu_us - attributed) / requests as f64,
        method: METHOD.to_owned(),
    })
}

/// A transaction type's figure: `allowed` and `denied` answers of operation `op`.
pub fn for_tx(
    ops: &BTreeMap<String, OpCpu>,
    at: &Attribution,
    op: &str,
    allowed: u64,
    denied: u64,
) -> Option<TxCpu> {
    let mut parts = Vec::new();
    let (mut weighted, mut n) = (0.0, 0u64);
    for (outcome, count) in [("allowed", allowed), ("denied", denied)] {
        if count == 0 {
            continue;
        }
        let handler = ops.get(&format!("{op}/{outcome}"))?.handler_us?;
        weighted += handler * count as f64;
        n += count;
        parts.push(outcome);
    }
    if n == 0 {
        return None;
    }
    let handler_us = weighted / n as f64;
    Some(TxCpu {
        operation: format!("{op}/{}", parts.join("+")),
        handler_us,
        unattributed_us: at.unattributed_us_per_request,
        estimate_us: handler_us + at.unattributed_us_per_request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(rows: &[(&str, &str, u64, u64, f64)]) -> String {
        let mut s = String::from("# TYPE keygate_operation_requests_total counter\n");
        for (op, o, n, sampled, cpu_s) in rows {
            let l = format!("{{operation=\"{op}\",outcome=\"{o}\"}}");
            s += &format!("{REQUESTS}{l} {n}\n{CPU}_sum{l} {cpu_s}\n{CPU}_count{l} {sampled}\n");
        }
        s
    }

    #[test]
    fn handler_cpu_per_outcome_and_the_even_share_of_the_rest() {
        let a = page(&[("GetObject", "allowed", 100, 10, 0.001)]);
        let b = page(&[
            ("GetObject", "allowed", 1100, 70, 0.001 + 60.0 * 20e-6),
            ("GetObject", "denied", 1000, 60, 60.0 * 5e-6),
            ("HeadObject", "allowed", 2000, 0, 0.0),
        ]);
        let ops = window(&a, &b);
        assert_eq!(ops["GetObject/allowed"].requests, 1000);
        assert_eq!(ops["GetObject/allowed"].sampled, 60);
        assert!((ops["GetObject/allowed"].handler_us.unwrap() - 20.0).abs() < 1e-6);
        assert!((ops["GetObject/denied"].handler_us.unwrap() - 5.0).abs() < 1e-6);
        assert_eq!(ops["HeadObject/allowed"].handler_us, None);
        // 4000 requests, 1000 × 20 + 1000 × 5 = 25 000 µs attributed of 65 000.
        let at = attribute(&ops, 65_000.0).unwrap();
        assert_eq!(at.requests, 4000);
        assert!((at.attributed_cpu_us - 25_000.0).abs() < 1e-6);
        assert!((at.unattributed_us_per_request - 10.0).abs() < 1e-9);
        // A transaction answered 3 allowed : 1 denied.
        let t = for_tx(&ops, &at, "GetObject", 300, 100).unwrap();
        assert_eq!(t.operation, "GetObject/allowed+denied");
        assert!((t.handler_us - 16.25).abs() < 1e-9);
        assert!((t.estimate_us - 26.25).abs() < 1e-9);
        let denied = for_tx(&ops, &at, "GetObject", 0, 7).unwrap();
        assert_eq!(denied.operation, "GetObject/denied");
        // No sample for an operation: no figure rather than a made-up one.
        assert!(for_tx(&ops, &at, "HeadObject", 5, 0).is_none());
        assert!(for_tx(&ops, &at, "PutObject", 5, 0).is_none());
        assert!(attribute(&BTreeMap::new(), 1.0).is_none());
    }
}
