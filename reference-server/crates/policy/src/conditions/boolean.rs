//! The `Bool` condition operator (SPEC E8), e.g. `aws:SecureTransport`.
//!
//! Policy values must be `true` or `false` (any case; a JSON boolean is accepted and read as
//! its text); request values compare case-insensitively. A request value that is neither
//! matches nothing.

/// The predicate: does a request value equal any policy value?
#[derive(Clone, Debug)]
pub(crate) struct BoolTest {
    values: Box<[bool]>,
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

impl BoolTest {
    /// Compiles the policy values.
    pub(crate) fn compile(values: &[String]) -> Result<Self, String> {
        let values = values
            .iter()
            .map(|v| parse_bool(v).ok_or_else(|| format!("value {v:?} is not true or false")))
            .collect::<Result<Box<[_]>, _>>()?;
        Ok(BoolTest { values })
    }

    /// Whether `value` equals any policy value.
    pub(crate) fn matches(&self, value: &str) -> bool {
        parse_bool(value).is_some_and(|b| self.values.contains(&b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e8_bool() {
        let t = BoolTest::compile(&["false".into()]).unwrap();
        assert!(t.matches("false"));
        assert!(t.matches("FALSE"));
        assert!(!t.matches("true"));
        assert!(!t.matches("0"));
        assert!(BoolTest::compile(&["yes".into()]).is_err());
    }
}
