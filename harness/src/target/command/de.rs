//! Deserialising the command profile's either-or values (a string or a table, a string or a
//! list) by what the TOML holds, instead of `#[serde(untagged)]`: an untagged enum tries each
//! variant and reports only "data did not match any variant", losing the real error (an
//! unknown key and the allowed ones, a wrong type) and its key path.

use super::{CommandDef, CommandSpec, LineDef, Lines, OneOrMany};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// A visitor taking a string (`on_str`) or, by the same deserialiser, a table or a list.
macro_rules! either {
    ($ty:ty, $expecting:literal, str => $on_str:expr, $($rest:tt)*) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        Ok($on_str(v.to_owned()))
                    }
                    either!(@other $ty, $($rest)*);
                }
                d.deserialize_any(V)
            }
        }
    };
    (@other $ty:ty, map => $inner:ty, $wrap:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<$ty, A::Error> {
            <$inner>::deserialize(MapAccessDeserializer::new(m)).map($wrap)
        }
    };
    (@other $ty:ty, seq => $inner:ty, $wrap:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<$ty, A::Error> {
            <$inner>::deserialize(SeqAccessDeserializer::new(s)).map($wrap)
        }
    };
}

either!(
    CommandDef,
    "a command line (a string) or a table with `run` and optionally `env`, `json`, `regex`",
    str => CommandDef::Line,
    map => CommandSpec, CommandDef::Full
);

either!(
    Lines,
    "a command line (a string) or a list of lines",
    str => Lines::One,
    seq => Vec<LineDef>, Lines::Many
);

either!(
    LineDef,
    "a command line (a string) or a table with `run` and optionally `when`, `ignore_failure`",
    str => LineDef::Plain,
    map => LineSpec, LineSpec::into_def
);

either!(
    OneOrMany,
    "a regex (a string) or a list of regexes",
    str => OneOrMany::One,
    seq => Vec<String>, OneOrMany::Many
);

/// [`LineDef::Full`] as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineSpec {
    run: String,
    /// Run only when this placeholder has a value.
    #[serde(default)]
    when: Option<String>,
    #[serde(default)]
    ignore_failure: bool,
}

impl LineSpec {
    fn into_def(self) -> LineDef {
        LineDef::Full {
            run: self.run,
            when: self.when,
            ignore_failure: self.ignore_failure,
        }
    }
}
