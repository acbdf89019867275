//! Policy documents with a key given twice in one object are refused (`serde_json` keeps the
//! last one silently, so the stored text would read one way and act another: two `Effect`s,
//! two `Statement`s).

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The path of the first key that appears twice in one object (`Statement[0].Effect`), if
/// any. `json` is already known to parse.
pub(crate) fn duplicate_key(json: &str) -> Option<String> {
    let mut de = serde_json::Deserializer::from_str(json);
    match Walk(String::new()).deserialize(&mut de) {
        Ok(()) => None,
        Err(e) => {
            let message = e.to_string();
            message
                .strip_prefix(MARK)
                .and_then(|rest| rest.split(" at line ").next())
                .map(str::to_owned)
        }
    }
}

/// Prefix of the error [`Walk`] raises, so its path can be told from a parse error.
const MARK: &str = "duplicate key: ";

/// Walks a JSON value, with the path of where it is.
struct Walk(String);

impl Walk {
    fn child(&self, key: &str) -> Walk {
        match self.0.is_empty() {
            true => Walk(key.to_owned()),
            false => Walk(format!("{}.{key}", self.0)),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let child = self.child(&key);
            if !seen.insert(key) {
                return Err(de::Error::custom(format!("{MARK}{}", child.0)));
            }
            map.next_value_seed(child)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(Walk(format!("{}[{i}]", self.0)))?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_repeated_key_with_its_path() {
        assert_eq!(duplicate_key(r#"{"a":1,"b":[{"c":1},{"c":2}]}"#), None);
        assert_eq!(
            duplicate_key(r#"{"Statement":[{"Effect":"Deny","Effect":"Allow"}]}"#).as_deref(),
            Some("Statement[0].Effect")
        );
        assert_eq!(
            duplicate_key(r#"{"Statement":[],"Version":"x","Statement":{}}"#).as_deref(),
            Some("Statement")
        );
        assert_eq!(
            duplicate_key(r#"{"a":{"b":{"c":null,"c":true}}}"#).as_deref(),
            Some("a.b.c")
        );
        // A key with the same text but different escapes is the same key.
        assert_eq!(duplicate_key(r#"{"a":1,"\u0061":2}"#).as_deref(), Some("a"));
    }
}
