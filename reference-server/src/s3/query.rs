//! Decoded query parameters, in order, as S3 handlers read them.

use std::borrow::Cow;

/// Query parameters decoded once (percent escapes, `+` as space, as Go's `url.ParseQuery`).
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        if raw.is_empty() {
            return Query::default();
        }
        let decode = |s: &str| -> String {
            let s: Cow<'_, str> = if s.contains('+') {
                Cow::Owned(s.replace('+', " "))
            } else {
                Cow::Borrowed(s)
            };
            percent_encoding::percent_decode_str(&s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(p), String::new()),
            })
            .collect();
        Query { pairs }
    }

    /// No parameters at all (the common case: checks that look at parameters skip it).
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// The first value of `name`, if present (`Some("")` for `name` or `name=`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every pair, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}
