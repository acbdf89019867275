//! String condition operators: `StringEquals`, `StringNotEquals`, `StringEqualsIgnoreCase`,
//! `StringNotEqualsIgnoreCase`, `StringLike`, `StringNotLike` (SPEC E8).
//!
//! Policy values may hold variables (E10), substituted literally at evaluation; an
//! unresolvable variable makes that value match nothing. `StringLike` values use `*` and `?`
//! (E2 wildcards); `StringEquals` values compare exactly, `*` included. The `Not` forms are
//! the negation applied by the caller (`conditions/mod.rs`), not here.

use crate::wildcard::{Pattern, Syntax, UnclosedVariable, Vars};

/// The positive predicate of a string operator: does a request value equal / match any of the
/// policy values?
#[derive(Clone, Debug)]
pub(crate) struct StringTest {
    values: Box<[Pattern]>,
    fold: bool,
}

impl StringTest {
    /// Compiles the policy values; `like` enables wildcards, `fold` ignores case.
    pub(crate) fn compile(values: &[String], like: bool, fold: bool) -> Result<Self, String> {
        let syntax = if like {
            Syntax::Wildcards
        } else {
            Syntax::Variables
        };
        let values = values
            .iter()
            .map(|v| {
                Pattern::compile(v, syntax).map_err(|UnclosedVariable| {
                    format!("value {v:?} has a \"${{\" without its closing \"}}\"")
                })
            })
            .collect::<Result<Box<[_]>, _>>()?;
        Ok(StringTest { values, fold })
    }

    /// Whether `value` matches any policy value.
    pub(crate) fn matches(&self, value: &str, vars: &Vars<'_>) -> bool {
        self.values
            .iter()
            .any(|p| p.matches_with(value, vars, self.fold))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wildcard::NO_VARS;

    fn t(values: &[&str], like: bool, fold: bool) -> StringTest {
        let values: Vec<String> = values.iter().map(|s| s.to_string()).collect();
        StringTest::compile(&values, like, fold).unwrap()
    }

    #[test]
    fn e8_string_equals_is_exact_and_values_are_ored() {
        let s = t(&["a", "b*"], false, false);
        assert!(s.matches("a", &NO_VARS));
        assert!(s.matches("b*", &NO_VARS));
        assert!(!s.matches("bc", &NO_VARS));
        assert!(!s.matches("A", &NO_VARS));
    }

    #[test]
    fn e8_string_equals_ignore_case() {
        let s = t(&["Hello"], false, true);
        assert!(s.matches("hELLO", &NO_VARS));
        assert!(!s.matches("hELLO!", &NO_VARS));
    }

    #[test]
    fn e8_string_like_uses_wildcards() {
        let s = t(&["home/*", "x?"], true, false);
        assert!(s.matches("home/", &NO_VARS));
        assert!(s.matches("home/a/b", &NO_VARS));
        assert!(s.matches("xy", &NO_VARS));
        assert!(!s.matches("x", &NO_VARS));
    }

    #[test]
    fn e10_variables_in_condition_values() {
        let s = t(&["${aws:username}/*"], true, false);
        let v = Vars {
            username: "alice",
            userid: "id",
            principal_type: "User",
        };
        assert!(s.matches("alice/docs", &v));
        assert!(!s.matches("bob/docs", &v));
        assert!(!s.matches("${aws:username}/x", &NO_VARS));
        assert!(StringTest::compile(&["${oops".into()], true, false).is_err());
    }
}
