//! Wildcard patterns with policy variables: the matcher behind `Resource`, `StringLike` and
//! (without wildcards) `StringEquals`.
//!
//! Spec: SPEC E2 (`*` any run of characters including `/` and the empty run, `?` exactly one
//! character), E4 (action patterns use the same wildcards), E10 (`${aws:username}`,
//! `${aws:userid}`, `${aws:principaltype}` substituted at evaluation; an unresolvable variable
//! matches nothing).
//!
//! Invariants:
//! * Matching never backtracks exponentially: it is the classic greedy matcher with a single
//!   backtrack point (the last `*` seen), O(len(text) x len(pattern)) in the worst case. On a
//!   retry it jumps to the next occurrence of the literal after that `*` (`str::find`), and a
//!   trailing `*` ends the match at once.
//! * A substituted variable value is matched **literally**: a user name containing `*` or `?`
//!   never turns into a wildcard (security: a name cannot widen its own grant).
//! * `?` consumes one Unicode scalar value, never half of a UTF-8 sequence.
//! * AWS escapes `${*}`, `${?}` and `${$}` compile to the literal characters.
//!
//! The matcher takes variable values through [`Vars`], built from the request context without
//! allocation.

/// A policy variable that may appear in a resource or a condition value (E10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Var {
    /// `${aws:username}`
    Username,
    /// `${aws:userid}`
    Userid,
    /// `${aws:principaltype}`
    PrincipalType,
    /// Any other `${...}`: never resolves, so the pattern matches nothing.
    Unknown,
}

impl Var {
    fn from_name(name: &str) -> Var {
        // Condition keys, and so variable names, are case-insensitive (AWS).
        if name.eq_ignore_ascii_case("aws:username") {
            Var::Username
        } else if name.eq_ignore_ascii_case("aws:userid") {
            Var::Userid
        } else if name.eq_ignore_ascii_case("aws:principaltype") {
            Var::PrincipalType
        } else {
            Var::Unknown
        }
    }
}

/// Values for the policy variables of one request. An empty value is unresolvable.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Vars<'a> {
    pub(crate) username: &'a str,
    pub(crate) userid: &'a str,
    pub(crate) principal_type: &'a str,
}

impl<'a> Vars<'a> {
    fn resolve(&self, var: Var) -> Option<&'a str> {
        let value = match var {
            Var::Username => self.username,
            Var::Userid => self.userid,
            Var::PrincipalType => self.principal_type,
            Var::Unknown => return None,
        };
        (!value.is_empty()).then_some(value)
    }
}

/// One unit of a compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// Literal text (never empty).
    Lit(Box<str>),
    /// A variable, replaced by its value and matched literally.
    Var(Var),
    /// `?`: exactly one character.
    One,
    /// `*`: any run, including the empty one.
    Star,
}

/// A compiled pattern. Built once at policy compile time; matching allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    parts: Box<[Part]>,
    /// The first byte of a leading literal: most resource patterns of a policy name another
    /// bucket than the request's, and are refused on it without a call to the matcher.
    first: Option<u8>,
}

/// How a pattern's text is read at compile time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// `*`, `?` and `${...}` are special (resources, `StringLike`).
    Wildcards,
    /// Only `${...}` is special (`StringEquals`).
    Variables,
    /// Nothing is special except `*` and `?` (action patterns, which have no variables).
    WildcardsNoVars,
}

/// Error from [`Pattern::compile`]: a `${` without its closing `}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UnclosedVariable;

impl Pattern {
    /// Compiles `text` under `syntax`.
    pub(crate) fn compile(text: &str, syntax: Syntax) -> Result<Pattern, UnclosedVariable> {
        let wild = syntax != Syntax::Variables;
        let vars = syntax != Syntax::WildcardsNoVars;
        let mut parts: Vec<Part> = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if vars && rest.starts_with("${") {
                let end = rest.find('}').ok_or(UnclosedVariable)?;
                let name = &rest[2..end];
                rest = &rest[end + 1..];
                match name {
                    "*" | "?" | "$" => lit.push_str(name),
                    _ => {
                        flush(&mut parts, &mut lit);
                        parts.push(Part::Var(Var::from_name(name)));
                    }
                }
                continue;
            }
            rest = &rest[c.len_utf8()..];
            match c {
                '*' if wild => {
                    flush(&mut parts, &mut lit);
                    // `**` is the same as `*`; keeping one makes the matcher's work smaller.
                    if parts.last() != Some(&Part::Star) {
                        parts.push(Part::Star);
                    }
                }
                '?' if wild => {
                    flush(&mut parts, &mut lit);
                    parts.push(Part::One);
                }
                _ => lit.push(c),
            }
        }
        flush(&mut parts, &mut lit);
        let first = match parts.first() {
            Some(Part::Lit(lit)) => lit.as_bytes().first().copied(),
            _ => None,
        };
        Ok(Pattern {
            parts: parts.into_boxed_slice(),
            first,
        })
    }

    /// The first byte of every text the pattern matches case-sensitively, if it starts with
    /// a literal.
    pub(crate) fn first_byte(&self) -> Option<u8> {
        self.first
    }

    /// Matches `text` case-sensitively.
    #[inline]
    pub(crate) fn matches(&self, text: &str, vars: &Vars<'_>) -> bool {
        self.matches_with(text, vars, false)
    }

    /// Matches `text`, comparing literal and variable parts case-insensitively when `fold`.
    #[inline]
    pub(crate) fn matches_with(&self, text: &str, vars: &Vars<'_>, fold: bool) -> bool {
        // The commonest shapes (`*`, `bucket/*`) and a leading literal's first byte are
        // decided here, inline, as the matcher would.
        match (&*self.parts, fold) {
            ([Part::Star], _) => return true,
            ([Part::Lit(lit), Part::Star], false) => {
                return text.as_bytes().starts_with(lit.as_bytes())
            }
            _ => {}
        }
        if let (Some(first), false) = (self.first, fold) {
            if text.as_bytes().first() != Some(&first) {
                return false;
            }
        }
        self.match_parts(text, vars, fold)
    }

    /// The matcher proper: what [`Pattern::matches_with`] answers when its first-byte check
    /// does not decide.
    fn match_parts(&self, text: &str, vars: &Vars<'_>, fold: bool) -> bool {
        let parts = &self.parts;
        let (mut p, mut t) = (0usize, 0usize);
        // The backtrack point: pattern index after the last `*`, text index it resumes from.
        let mut star: Option<(usize, usize)> = None;
        loop {
            let step = match parts.get(p) {
                // A trailing `*` takes whatever is left.
                Some(Part::Star) if p + 1 == parts.len() => return true,
                Some(Part::Star) => {
                    star = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                Some(Part::One) => text[t..].chars().next().map(char::len_utf8),
                Some(Part::Lit(lit)) => prefix_len(&text[t..], lit, fold),
                Some(Part::Var(var)) => match vars.resolve(*var) {
                    Some(value) => prefix_len(&text[t..], value, fold),
                    None => return false,
                },
                None if t == text.len() => return true,
                None => None,
            };
            if let Some(n) = step {
                p += 1;
                t += n;
                continue;
            }
            // Mismatch: let the last `*` swallow one more character and retry after it.
            match star {
                Some((sp, st)) if st < text.len() => {
                    let mut next = st + text[st..].chars().next().map_or(1, char::len_utf8);
                    // Jump straight to the next place the literal after the `*` occurs.
                    if let (Some(Part::Lit(lit)), false) = (parts.get(sp), fold) {
                        match text[next..].find(&**lit) {
                            Some(skip) => next += skip,
                            None => return false,
                        }
                    }
                    star = Some((sp, next));
                    p = sp;
                    t = next;
                }
                _ => return false,
            }
        }
    }
}

fn flush(parts: &mut Vec<Part>, lit: &mut String) {
    if !lit.is_empty() {
        parts.push(Part::Lit(std::mem::take(lit).into_boxed_str()));
    }
}

/// If `text` starts with `lit` (case-folded when `fold`), the number of bytes of `text` used.
fn prefix_len(text: &str, lit: &str, fold: bool) -> Option<usize> {
    if !fold {
        // Most literals of a policy fail on their first byte (another bucket, another
        // prefix): decide those without a call to `memcmp`.
        let (t, l) = (text.as_bytes(), lit.as_bytes());
        let first_ok = match l.first() {
            None => true,
            Some(c) => t.first() == Some(c),
        };
        return (first_ok && t.starts_with(l)).then_some(l.len());
    }
    let mut used = 0;
    let mut chars = text.chars();
    for want in lit.chars() {
        let got = chars.next()?;
        if got != want && !got.to_lowercase().eq(want.to_lowercase()) {
            return None;
        }
        used += got.len_utf8();
    }
    Some(used)
}

/// Matches a plain wildcard pattern (`*`, `?`; no variables) against `text`: action patterns,
/// and the bucket a bucket policy's resource names.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    match Pattern::compile(pattern, Syntax::WildcardsNoVars) {
        Ok(p) => p.matches(text, &NO_VARS),
        Err(UnclosedVariable) => false,
    }
}

/// Variables that resolve to nothing.
pub(crate) const NO_VARS: Vars<'static> = Vars {
    username: "",
    userid: "",
    principal_type: "",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefixes_match_exactly_empty_ones_included() {
        for (text, lit) in [
            ("abc", ""),
            ("abc", "a"),
            ("abc", "ab"),
            ("abc", "abc"),
            ("abc", "abcd"),
            ("abc", "b"),
            ("", ""),
            ("", "a"),
            ("ébc", "é"),
            ("ébc", "e"),
        ] {
            let want = text.starts_with(lit).then_some(lit.len());
            assert_eq!(prefix_len(text, lit, false), want, "{text:?} {lit:?}");
        }
    }

    fn m(pattern: &str, text: &str) -> bool {
        Pattern::compile(pattern, Syntax::Wildcards)
            .unwrap()
            .matches(text, &NO_VARS)
    }

    #[test]
    fn e2_star_matches_any_run_including_slash_and_empty() {
        assert!(m("b/*", "b/"));
        assert!(m("b/*", "b/k"));
        assert!(m("b/*", "b/a/b/c"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "aXXbYYbZc"));
        assert!(!m("a*b*c", "aXXbYYbZ"));
        assert!(!m("b/*", "b"));
        assert!(!m("b/*", "bb/k"));
    }

    #[test]
    fn e2_question_mark_matches_exactly_one_character() {
        assert!(m("b?", "bc"));
        assert!(!m("b?", "b"));
        assert!(!m("b?", "bcd"));
        assert!(m("b?", "bé"));
        assert!(m("??", "éé"));
        assert!(!m("?", ""));
    }

    #[test]
    fn e2_literal_match_is_exact_and_case_sensitive() {
        assert!(m("bucket", "bucket"));
        assert!(!m("bucket", "Bucket"));
        assert!(!m("bucket", "bucket2"));
        assert!(!m("", "x"));
        assert!(m("", ""));
    }

    #[test]
    fn e2_pathological_pattern_is_linear_not_exponential() {
        let pattern = "*a".repeat(40) + "b";
        let text = "a".repeat(20_000);
        let start = std::time::Instant::now();
        assert!(!m(&pattern, &text));
        assert!(m(&("*a".repeat(40)), &text));
        // Exponential backtracking would not finish; quadratic finishes in milliseconds.
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn e10_variables_are_substituted_literally() {
        let p = Pattern::compile("home/${aws:username}/*", Syntax::Wildcards).unwrap();
        let alice = Vars {
            username: "alice",
            userid: "AID",
            principal_type: "User",
        };
        assert!(p.matches("home/alice/x", &alice));
        assert!(!p.matches("home/bob/x", &alice));
        let star = Vars {
            username: "*",
            ..alice
        };
        assert!(p.matches("home/*/x", &star));
        assert!(!p.matches("home/bob/x", &star));
    }

    #[test]
    fn e10_unresolvable_variable_matches_nothing() {
        let p = Pattern::compile("home/${aws:SourceIp}/*", Syntax::Wildcards).unwrap();
        let v = Vars {
            username: "a",
            userid: "a",
            principal_type: "User",
        };
        assert!(!p.matches("home/${aws:SourceIp}/x", &v));
        let p = Pattern::compile("home/${aws:username}*", Syntax::Wildcards).unwrap();
        assert!(!p.matches("home/", &NO_VARS));
        assert!(!p.matches("home/${aws:username}", &NO_VARS));
    }

    #[test]
    fn e10_escapes_and_case_insensitive_variable_names() {
        let v = Vars {
            username: "alice",
            userid: "id",
            principal_type: "User",
        };
        let p = Pattern::compile("a${*}b${?}${$}", Syntax::Wildcards).unwrap();
        assert!(p.matches("a*b?$", &v));
        assert!(!p.matches("aXb?$", &v));
        let p = Pattern::compile("${AWS:UserName}", Syntax::Wildcards).unwrap();
        assert!(p.matches("alice", &v));
        assert_eq!(
            Pattern::compile("x${aws:username", Syntax::Wildcards),
            Err(UnclosedVariable)
        );
    }

    #[test]
    fn variables_syntax_keeps_wildcards_literal_and_fold_compares_case_insensitively() {
        let p = Pattern::compile("a*?", Syntax::Variables).unwrap();
        assert!(p.matches("a*?", &NO_VARS));
        assert!(!p.matches("abc", &NO_VARS));
        let p = Pattern::compile("HeLLo", Syntax::Variables).unwrap();
        assert!(p.matches_with("hello", &NO_VARS, true));
        assert!(!p.matches_with("hello", &NO_VARS, false));
        assert!(!p.matches_with("hell", &NO_VARS, true));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// What `matches_with` decides inline (`*`, `literal*`, a leading literal's first
        /// byte) is what the matcher decides.
        #[test]
        fn inline_decisions_agree_with_the_matcher(
            pattern in proptest::collection::vec(
                proptest::sample::select(vec!["a", "b", "A", "é", "/", "*", "?", "${aws:username}", "${x}"]),
                0..4,
            ),
            text in proptest::collection::vec(
                proptest::sample::select(vec!["a", "b", "A", "B", "é", "É", "/"]),
                0..6,
            ),
            fold: bool,
        ) {
            let vars = Vars {
                username: "ab",
                userid: "id",
                principal_type: "User",
            };
            let (pattern, text) = (pattern.concat(), text.concat());
            for syntax in [Syntax::Wildcards, Syntax::Variables, Syntax::WildcardsNoVars] {
                let p = Pattern::compile(&pattern, syntax).unwrap();
                proptest::prop_assert_eq!(
                    p.matches_with(&text, &vars, fold),
                    p.match_parts(&text, &vars, fold),
                    "{:?} {:?} {:?}", pattern, text, syntax
                );
            }
        }
    }

    #[test]
    fn e4_action_wildcards() {
        assert!(wildcard_match("s3:Get*", "s3:GetObject"));
        assert!(!wildcard_match("s3:get*", "s3:GetObject"));
        assert!(wildcard_match("*", "s3:GetObject"));
        assert!(wildcard_match("s3:?etObject", "s3:GetObject"));
    }
}
