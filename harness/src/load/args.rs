//! The command-line values of `keygate load` that need more than clap's parsing: durations,
//! rates, shards and the regression threshold.

use super::{report, MAX_DURATION};
use std::time::Duration;

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: u64 = n.parse().map_err(|_| format!("not a duration: {s}"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(format!("unknown unit in {s} (ms, s, m)")),
    };
    (d <= MAX_DURATION)
        .then_some(d)
        .ok_or_else(|| format!("{s} is longer than an hour"))
}

pub(super) fn parse_rate(s: &str) -> Result<u64, String> {
    match s.trim_end_matches("/s").parse() {
        Ok(r) if r > 0 => Ok(r),
        _ => Err(format!("not a rate: {s} (e.g. 500/s)")),
    }
}

pub(super) fn parse_worker(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or_else(|| format!("not I/N: {s}"))?;
    let (i, n): (usize, usize) = (
        i.parse().map_err(|_| format!("not I/N: {s}"))?,
        n.parse().map_err(|_| format!("not I/N: {s}"))?,
    );
    if i < n {
        Ok((i, n))
    } else {
        Err(format!("worker index {i} is not below {n} (0-based)"))
    }
}

/// `--max-regression` when none is given.
pub const DEFAULT_MAX_REGRESSION: f64 = 0.10;

/// `--max-regression`: `10%` or `10` (per cent), as a fraction; see [`check_max_regression`].
pub(super) fn parse_percent(s: &str) -> Result<f64, String> {
    let v = s
        .strip_suffix('%')
        .unwrap_or(s)
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("not a percentage: {s} (e.g. 10% or 0.5)"))?;
    let fraction = v / 100.0;
    check_max_regression(fraction)?;
    Ok(fraction)
}

/// A `--max-regression` the gate can trip on: from 0 to below 1 (100%).
pub(super) fn check_max_regression(fraction: f64) -> Result<(), String> {
    let shown = report::percent(fraction);
    if fraction.is_nan() || fraction < 0.0 {
        return Err(format!(
            "{shown}% must be at least 0%: a negative threshold fails every run that is not \
             better than its baseline"
        ));
    }
    if fraction >= 1.0 {
        return Err(format!(
            "{shown}%: a throughput cannot drop by more than 100%, so the throughput check \
             could never fail; give a threshold below 100% (it holds for CPU per request too)"
        ));
    }
    Ok(())
}
