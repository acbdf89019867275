//! Numeric condition operators: `NumericEquals`, `NumericNotEquals`, `NumericLessThan`,
//! `NumericLessThanEquals`, `NumericGreaterThan`, `NumericGreaterThanEquals` (SPEC E8).
//!
//! Values are decimal numbers (integers or decimals), compared as `f64`. A policy value that
//! is not a finite number is a validation error (P3); a request value that is not a number
//! satisfies no positive comparison.

use super::Cmp;

/// The positive predicate: does a request value compare `cmp` to any policy value?
#[derive(Clone, Debug)]
pub(crate) struct NumericTest {
    cmp: Cmp,
    values: Box<[f64]>,
}

/// Parses a number as policies and requests write it.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let valid = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'));
    if !valid {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

impl NumericTest {
    /// Compiles the policy values.
    pub(crate) fn compile(values: &[String], cmp: Cmp) -> Result<Self, String> {
        let values = values
            .iter()
            .map(|v| parse_number(v).ok_or_else(|| format!("value {v:?} is not a number")))
            .collect::<Result<Box<[_]>, _>>()?;
        Ok(NumericTest { cmp, values })
    }

    /// Whether `value` compares `cmp` to any policy value.
    pub(crate) fn matches(&self, value: &str) -> bool {
        let Some(n) = parse_number(value) else {
            return false;
        };
        self.values.iter().any(|v| self.cmp.holds(n.partial_cmp(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(values: &[&str], cmp: Cmp) -> NumericTest {
        let values: Vec<String> = values.iter().map(|s| s.to_string()).collect();
        NumericTest::compile(&values, cmp).unwrap()
    }

    #[test]
    fn e8_numeric_comparisons() {
        assert!(t(&["10"], Cmp::Eq).matches("10"));
        assert!(t(&["10"], Cmp::Eq).matches("10.0"));
        assert!(!t(&["10"], Cmp::Eq).matches("11"));
        assert!(t(&["10"], Cmp::Lt).matches("9"));
        assert!(!t(&["10"], Cmp::Lt).matches("10"));
        assert!(t(&["10"], Cmp::Le).matches("10"));
        assert!(t(&["10"], Cmp::Gt).matches("10.5"));
        assert!(t(&["10"], Cmp::Ge).matches("10"));
        assert!(!t(&["10"], Cmp::Ge).matches("-3"));
        assert!(t(&["1", "5"], Cmp::Eq).matches("5"));
    }

    #[test]
    fn e8_numeric_rejects_non_numbers() {
        assert!(!t(&["10"], Cmp::Eq).matches("ten"));
        assert!(!t(&["10"], Cmp::Eq).matches(""));
        assert!(NumericTest::compile(&["ten".into()], Cmp::Eq).is_err());
        assert!(NumericTest::compile(&["inf".into()], Cmp::Eq).is_err());
    }
}
