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
    match s.trim_end_matches("/s").parse::<i128>() {
        Ok(r) if r > 0 => u64::try_from(r).map_err(|_| format!("{s} is too high a rate")),
        Ok(_) => Err(format!("{s}: the rate must be above 0 requests per second")),
        Err(_) => Err(format!("not a rate: {s} (e.g. 500/s)")),
    }
}

pub(super) fn parse_worker(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or_else(|| format!("not I/N: {s}"))?;
    let (i, n): (usize, usize) = (
        i.parse().map_err(|_| format!("not I/N: {s}"))?,
        n.parse().map_err(|_| format!("not I/N: {s}"))?,
    );
    match (i, n) {
        (_, 0) => Err(format!("{s}: N, the number of shards, must be at least 1")),
        (i, n) if i < n => Ok((i, n)),
        (i, n) => Err(format!(
            "{s}: worker index {i} is not below {n} (shards are numbered 0 to N-1)"
        )),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each refusal says what is wrong with the value (a probe found "not a rate" for `0/s`
    /// and "index 0 is not below 0" for `0/0`).
    #[test]
    fn rates_and_shards_are_refused_saying_why() {
        assert_eq!(parse_rate("500/s"), Ok(500));
        assert!(parse_rate("0/s").unwrap_err().contains("must be above 0"));
        assert!(parse_rate("-5/s").unwrap_err().contains("must be above 0"));
        assert!(parse_rate("abc").unwrap_err().contains("not a rate"));
        assert_eq!(parse_worker("1/2"), Ok((1, 2)));
        assert!(parse_worker("0/0")
            .unwrap_err()
            .contains("must be at least 1"));
        assert!(parse_worker("2/2").unwrap_err().contains("0 to N-1"));
        assert!(parse_max("-5").contains("must be at least 0%"));
    }

    fn parse_max(s: &str) -> String {
        parse_percent(s).unwrap_err()
    }
}
