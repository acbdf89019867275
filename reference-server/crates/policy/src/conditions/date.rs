//! Date condition operators: `DateEquals`, `DateNotEquals`, `DateLessThan`,
//! `DateLessThanEquals`, `DateGreaterThan`, `DateGreaterThanEquals` (SPEC E8).
//!
//! Values are ISO 8601 (`2026-01-01T00:00:00Z`, with an offset, without one meaning UTC, or a
//! date alone meaning midnight UTC) or epoch seconds (`aws:EpochTime`). Compared as Unix
//! nanoseconds. A policy value that is neither is a validation error (P3); a request value
//! that is neither satisfies no positive comparison.

use super::Cmp;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, OffsetDateTime, PrimitiveDateTime};

/// The positive predicate: does a request time compare `cmp` to any policy time?
#[derive(Clone, Debug)]
pub(crate) struct DateTest {
    cmp: Cmp,
    values: Box<[i128]>,
}

/// Parses an ISO 8601 date-time or epoch seconds to Unix nanoseconds.
pub(crate) fn parse_date(text: &str) -> Option<i128> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        if let Ok(secs) = text.parse::<i64>() {
            return Some(i128::from(secs) * 1_000_000_000);
        }
    }
    let at = OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(text, &Iso8601::DEFAULT))
        .or_else(|_| PrimitiveDateTime::parse(text, &Iso8601::DEFAULT).map(|t| t.assume_utc()))
        .or_else(|_| Date::parse(text, &Iso8601::DEFAULT).map(|d| d.midnight().assume_utc()))
        .ok()?;
    Some(at.unix_timestamp_nanos())
}

impl DateTest {
    /// Compiles the policy values.
    pub(crate) fn compile(values: &[String], cmp: Cmp) -> Result<Self, String> {
        let values = values
            .iter()
            .map(|v| {
                parse_date(v)
                    .ok_or_else(|| format!("value {v:?} is not an ISO 8601 date or epoch time"))
            })
            .collect::<Result<Box<[_]>, _>>()?;
        Ok(DateTest { cmp, values })
    }

    /// Whether `value` compares `cmp` to any policy time.
    pub(crate) fn matches(&self, value: &str) -> bool {
        let Some(t) = parse_date(value) else {
            return false;
        };
        self.values.iter().any(|v| self.cmp.holds(Some(t.cmp(v))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e8_dates_accept_iso8601_and_epoch() {
        let z = parse_date("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(parse_date("1767225600"), Some(z));
        assert_eq!(parse_date("2026-01-01T01:00:00+01:00"), Some(z));
        assert_eq!(parse_date("2026-01-01T00:00:00"), Some(z));
        assert_eq!(parse_date("2026-01-01"), Some(z));
        assert_eq!(parse_date("2026-01-01T00:00:00.000Z"), Some(z));
        assert_eq!(parse_date("20260101T000000Z"), Some(z));
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date(""), None);
    }

    #[test]
    fn e8_date_comparisons() {
        let t = |cmp| DateTest::compile(&["2026-01-01T00:00:00Z".into()], cmp).unwrap();
        assert!(t(Cmp::Lt).matches("2025-12-31T23:59:59Z"));
        assert!(!t(Cmp::Lt).matches("2026-01-01T00:00:00Z"));
        assert!(t(Cmp::Le).matches("1767225600"));
        assert!(t(Cmp::Gt).matches("1767225601"));
        assert!(t(Cmp::Eq).matches("2026-01-01"));
        assert!(!t(Cmp::Ge).matches("not a date"));
        assert!(DateTest::compile(&["soon".into()], Cmp::Eq).is_err());
    }
}
