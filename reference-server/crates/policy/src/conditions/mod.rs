//! The `Condition` block: operator names, qualifiers, key look-up and the missing-key rules.
//! One file per operator family beside this one holds each family's values and predicate.
//!
//! Spec: E8 (operators, each with `…IfExists` and `ForAnyValue:`/`ForAllValues:`; keys in one
//! operator ANDed, values for one key ORed, operators in one block ANDed), E9 (missing keys),
//! E10 (variables in values).
//!
//! Semantics of one (operator, key, values) entry, `pos(v)` being "request value `v` matches
//! some policy value":
//! * key missing (absent, or present with no value): `…IfExists` true; else unqualified
//!   positive operators false and their `Not…` forms true (E9), `ForAnyValue:` false,
//!   `ForAllValues:` true (AWS); `Null` is about presence only.
//! * unqualified or `ForAnyValue:`: some `v` with `pos(v)`; the `Not…` forms: unqualified
//!   "no `v` with `pos(v)`", `ForAnyValue:` "some `v` without `pos(v)`".
//! * `ForAllValues:`: every `v` has `pos(v)` (`Not…`: none has).
//!
//! Key names are case-insensitive: compiled to lower case (or to a [`ConditionKey`]).
//! `aws:username`, `aws:userid` and `aws:principaltype` are read from the request context.

mod boolean;
mod date;
mod ip;
mod null;
mod numeric;
mod string;

use crate::values::{ConditionKey, Values};
use crate::wildcard::Vars;
use crate::RequestContext;
use std::cmp::Ordering;
use std::net::IpAddr;

/// A comparison shared by the numeric and date families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, ord: Option<Ordering>) -> bool {
        matches!(
            (self, ord),
            (Cmp::Eq, Some(Ordering::Equal))
                | (Cmp::Lt, Some(Ordering::Less))
                | (Cmp::Le, Some(Ordering::Less | Ordering::Equal))
                | (Cmp::Gt, Some(Ordering::Greater))
                | (Cmp::Ge, Some(Ordering::Greater | Ordering::Equal))
        )
    }
}

/// An operator family with what its name fixes (the `Not` forms set `negated` apart).
#[derive(Clone, Copy, Debug)]
enum Base {
    String { like: bool, fold: bool },
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Ip,
    Null,
}

/// The E8 operators: name, family, negated.
const OPERATORS: &[(&str, Base, bool)] = &[
    (
        "StringEquals",
        Base::String {
            like: false,
            fold: false,
        },
        false,
    ),
    (
        "StringNotEquals",
        Base::String {
            like: false,
            fold: false,
        },
        true,
    ),
    (
        "StringEqualsIgnoreCase",
        Base::String {
            like: false,
            fold: true,
        },
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Base::String {
            like: false,
            fold: true,
        },
        true,
    ),
    (
        "StringLike",
        Base::String {
            like: true,
            fold: false,
        },
        false,
    ),
    (
        "StringNotLike",
        Base::String {
            like: true,
            fold: false,
        },
        true,
    ),
    ("NumericEquals", Base::Numeric(Cmp::Eq), false),
    ("NumericNotEquals", Base::Numeric(Cmp::Eq), true),
    ("NumericLessThan", Base::Numeric(Cmp::Lt), false),
    ("NumericLessThanEquals", Base::Numeric(Cmp::Le), false),
    ("NumericGreaterThan", Base::Numeric(Cmp::Gt), false),
    ("NumericGreaterThanEquals", Base::Numeric(Cmp::Ge), false),
    ("DateEquals", Base::Date(Cmp::Eq), false),
    ("DateNotEquals", Base::Date(Cmp::Eq), true),
    ("DateLessThan", Base::Date(Cmp::Lt), false),
    ("DateLessThanEquals", Base::Date(Cmp::Le), false),
    ("DateGreaterThan", Base::Date(Cmp::Gt), false),
    ("DateGreaterThanEquals", Base::Date(Cmp::Ge), false),
    ("Bool", Base::Bool, false),
    ("IpAddress", Base::Ip, false),
    ("NotIpAddress", Base::Ip, true),
    ("Null", Base::Null, false),
];

/// The E8 operator names without qualifier or suffix.
pub const OPERATOR_NAMES: [&str; 22] = {
    let mut names = [""; 22];
    let mut i = 0;
    while i < OPERATORS.len() {
        names[i] = OPERATORS[i].0;
        i += 1;
    }
    names
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Qualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

/// A parsed operator name such as `ForAnyValue:StringLikeIfExists`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operator {
    base: Base,
    negated: bool,
    qualifier: Qualifier,
    if_exists: bool,
}

impl Operator {
    /// Parses an operator name (case-sensitive); `None` when it is not an E8 operator.
    pub(crate) fn parse(name: &str) -> Option<Operator> {
        let (qualifier, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Qualifier::ForAnyValue, rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Qualifier::ForAllValues, rest)
        } else {
            (Qualifier::Single, name)
        };
        let (if_exists, base_name) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let &(_, base, negated) = OPERATORS.iter().find(|(n, _, _)| *n == base_name)?;
        Some(Operator {
            base,
            negated,
            qualifier,
            if_exists,
        })
    }
}

/// Which request values a condition reads.
#[derive(Clone, Debug)]
enum KeyRef {
    Known(ConditionKey),
    /// Any other key, as [`crate::values::key_name`] keeps it (`s3:existingobjecttag/<Tag>`,
    /// or a key Keygate never fills).
    Other(Box<str>),
}

impl KeyRef {
    fn of(name: &str) -> KeyRef {
        match ConditionKey::from_name(name) {
            Some(k) => KeyRef::Known(k),
            None => KeyRef::Other(crate::values::key_name(name).into_boxed_str()),
        }
    }
}

/// One request value as a test reads it: text, or an address not yet written as text.
#[derive(Clone, Copy)]
enum Value<'a> {
    Text(&'a str),
    Ip(IpAddr),
}

impl Values<'_> {
    fn any(self, mut f: impl FnMut(Value<'_>) -> bool) -> bool {
        match self {
            Values::Many(vs) => vs.iter().any(|v| f(Value::Text(v))),
            Values::One(v) => f(Value::Text(v)),
            Values::Ip(ip) => f(Value::Ip(ip)),
        }
    }

    fn all(self, mut f: impl FnMut(Value<'_>) -> bool) -> bool {
        match self {
            Values::Many(vs) => vs.iter().all(|v| f(Value::Text(v))),
            Values::One(v) => f(Value::Text(v)),
            Values::Ip(ip) => f(Value::Ip(ip)),
        }
    }
}

#[derive(Clone, Debug)]
enum Test {
    String(string::StringTest),
    Numeric(numeric::NumericTest),
    Date(date::DateTest),
    Bool(boolean::BoolTest),
    Ip(ip::IpTest),
    Null(null::NullTest),
}

impl Test {
    fn compile(base: Base, values: &[String]) -> Result<Test, String> {
        Ok(match base {
            Base::String { like, fold } => {
                Test::String(string::StringTest::compile(values, like, fold)?)
            }
            Base::Numeric(cmp) => Test::Numeric(numeric::NumericTest::compile(values, cmp)?),
            Base::Date(cmp) => Test::Date(date::DateTest::compile(values, cmp)?),
            Base::Bool => Test::Bool(boolean::BoolTest::compile(values)?),
            Base::Ip => Test::Ip(ip::IpTest::compile(values)?),
            Base::Null => Test::Null(null::NullTest::compile(values)?),
        })
    }

    /// The positive predicate `pos(v)`. An address is compared as such by IP tests and
    /// read as its text by the others.
    fn matches(&self, value: Value<'_>, vars: &Vars<'_>) -> bool {
        let text;
        let value = match (self, value) {
            (Test::Ip(t), Value::Ip(ip)) => return t.contains(ip),
            (_, Value::Ip(ip)) => {
                text = ip.to_string();
                &text
            }
            (_, Value::Text(value)) => value,
        };
        match self {
            Test::String(t) => t.matches(value, vars),
            Test::Numeric(t) => t.matches(value),
            Test::Date(t) => t.matches(value),
            Test::Bool(t) => t.matches(value),
            Test::Ip(t) => t.matches(value),
            Test::Null(_) => false,
        }
    }
}

/// One compiled (operator, key, values) entry.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    key: KeyRef,
    test: Test,
    negated: bool,
    qualifier: Qualifier,
    if_exists: bool,
}

impl Entry {
    /// Compiles `key: values` under `op`; the error message names no path (the caller adds it).
    pub(crate) fn compile(op: Operator, key: &str, values: &[String]) -> Result<Entry, String> {
        if key.is_empty() {
            return Err("empty condition key".to_string());
        }
        Ok(Entry {
            key: KeyRef::of(key),
            test: Test::compile(op.base, values)?,
            negated: op.negated,
            qualifier: op.qualifier,
            if_exists: op.if_exists,
        })
    }

    fn lookup<'a>(&self, ctx: &RequestContext<'a>) -> Option<Values<'a>> {
        let from_ctx = match &self.key {
            KeyRef::Known(ConditionKey::Username) => ctx.username,
            KeyRef::Known(ConditionKey::Userid) => ctx.userid,
            KeyRef::Known(ConditionKey::PrincipalType) => ctx.principal_type.as_str(),
            _ => "",
        };
        if !from_ctx.is_empty() {
            return Some(Values::One(from_ctx));
        }
        let values = match &self.key {
            KeyRef::Known(k) => ctx.values.get_known(*k),
            KeyRef::Other(name) => ctx.values.get(name),
        };
        values.filter(|v| !v.is_empty())
    }

    /// Whether this entry holds for the request.
    pub(crate) fn holds(&self, ctx: &RequestContext<'_>, vars: &Vars<'_>) -> bool {
        let found = self.lookup(ctx);
        if let Test::Null(t) = &self.test {
            // `NullIfExists` too holds on a missing key, as every `…IfExists` (E8 gives each
            // operator the suffix, E9 its meaning; AWS refuses this one).
            return (self.if_exists && found.is_none()) || t.holds(found.is_some());
        }
        let Some(found) = found else {
            return self.if_exists
                || match self.qualifier {
                    Qualifier::Single => self.negated,
                    Qualifier::ForAnyValue => false,
                    Qualifier::ForAllValues => true,
                };
        };
        let pos = |v: Value<'_>| self.test.matches(v, vars);
        match (self.qualifier, self.negated) {
            (Qualifier::Single | Qualifier::ForAnyValue, false) => found.any(pos),
            (Qualifier::Single, true) => !found.any(pos),
            (Qualifier::ForAnyValue, true) => found.any(|v| !pos(v)),
            (Qualifier::ForAllValues, false) => found.all(pos),
            (Qualifier::ForAllValues, true) => found.all(|v| !pos(v)),
        }
    }
}

/// A statement's whole `Condition` block: every entry must hold.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConditionBlock {
    entries: Box<[Entry]>,
}

impl ConditionBlock {
    /// Builds a block from compiled entries.
    pub(crate) fn new(entries: Vec<Entry>) -> ConditionBlock {
        ConditionBlock {
            entries: entries.into_boxed_slice(),
        }
    }

    /// Whether every entry holds (an empty block holds).
    pub(crate) fn holds(&self, ctx: &RequestContext<'_>, vars: &Vars<'_>) -> bool {
        self.entries.iter().all(|e| e.holds(ctx, vars))
    }
}
