//! The `Null` condition operator (SPEC E8, E9): `"true"` holds when the key is missing,
//! `"false"` when it is present. Several values are ORed. A key present with no value counts
//! as missing.

/// The predicate over the key's presence.
#[derive(Clone, Debug)]
pub(crate) struct NullTest {
    /// For each policy value: whether it asks for the key to be missing.
    expect_missing: Box<[bool]>,
}

impl NullTest {
    /// Compiles the policy values (`true` or `false`, any case).
    pub(crate) fn compile(values: &[String]) -> Result<Self, String> {
        let expect_missing = values
            .iter()
            .map(|v| {
                if v.eq_ignore_ascii_case("true") {
                    Ok(true)
                } else if v.eq_ignore_ascii_case("false") {
                    Ok(false)
                } else {
                    Err(format!("value {v:?} is not true or false"))
                }
            })
            .collect::<Result<Box<[_]>, _>>()?;
        Ok(NullTest { expect_missing })
    }

    /// Whether the condition holds given whether the key is present.
    pub(crate) fn holds(&self, present: bool) -> bool {
        self.expect_missing
            .iter()
            .any(|&missing| missing != present)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e9_null_true_holds_for_a_missing_key() {
        let t = NullTest::compile(&["true".into()]).unwrap();
        assert!(t.holds(false));
        assert!(!t.holds(true));
        let f = NullTest::compile(&["false".into()]).unwrap();
        assert!(f.holds(true));
        assert!(!f.holds(false));
        assert!(NullTest::compile(&["maybe".into()]).is_err());
    }
}
