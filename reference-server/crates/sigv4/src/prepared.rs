//! What the secret-free phase prepares for the canonical request, so that verification scans
//! nothing twice: the value of each signed header (found while checking which headers are
//! signed) and the spans of the query parameters (found while looking for the presigned ones).
//!
//! Spec: the canonical headers and query rules of [`crate::canonical`]; nothing new.
//!
//! Invariant: the prepared forms are an exact shortcut, with the general builders as fallback.
//! A request that does not fit (more than [`MAX_SIGNED`] signed headers, a signed header sent
//! more than once, an uppercase name in `SignedHeaders`, more than [`MAX_PARAMS`] query parameters,
//! a query component not already in canonical form) has no prepared form, and verification
//! then builds the canonical request exactly as the public `canonical_request` does. The AWS
//! vectors run through both.

use crate::canonical::{push_trimmed, unreserved_lane, unreserved_table};
use crate::parse::CanonicalValues;
use crate::sink::Sink;
use crate::swar::each_match;
use http::HeaderValue;
use std::cmp::Ordering;

/// Most signed headers kept with their values.
pub(crate) const MAX_SIGNED: usize = 16;
/// Most query parameters kept as spans.
pub(crate) const MAX_PARAMS: usize = 16;

/// The signed names (as spans of the `SignedHeaders` list, all lowercase) and the one value of
/// each, `None` when the request lacks the header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedValues<'a> {
    len: usize,
    spans: [(u16, u16); MAX_SIGNED],
    /// By reference to the header value (half the size of a slice: this struct is moved with
    /// the `Pending`).
    values: [Option<&'a HeaderValue>; MAX_SIGNED],
}

impl<'a> SignedValues<'a> {
    pub(crate) fn new() -> Self {
        SignedValues {
            len: 0,
            spans: [(0, 0); MAX_SIGNED],
            values: [None; MAX_SIGNED],
        }
    }

    /// Records the next signed name, `list[start..end]`, with no value yet ([`Self::set`]
    /// gives it one); false when it does not fit.
    pub(crate) fn push(&mut self, start: usize, end: usize) -> bool {
        let (Some(span), Ok(s), Ok(e)) = (
            self.spans.get_mut(self.len),
            u16::try_from(start),
            u16::try_from(end),
        ) else {
            return false;
        };
        *span = (s, e);
        self.len += 1;
        true
    }

    /// How many names are recorded.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The `i`-th recorded name, cut from `list` (the `SignedHeaders` list it was recorded from).
    #[inline]
    pub(crate) fn name<'l>(&self, list: &'l [u8], i: usize) -> &'l [u8] {
        let (s, e) = self.spans[i];
        list.get(usize::from(s)..usize::from(e)).unwrap_or_default()
    }

    /// Gives the `i`-th recorded name its value.
    #[inline]
    pub(crate) fn set(&mut self, i: usize, value: &'a HeaderValue) {
        self.values[i] = Some(value);
    }

    /// The canonical headers block: `name:trimmed-value\n` per signed name, in list order.
    /// The values in `canonical` (by address and length: the very slices of the request)
    /// are copied without the trim check.
    pub(crate) fn write<S: Sink>(
        &self,
        out: &mut S,
        list: &str,
        host_fallback: Option<&str>,
        canonical: &CanonicalValues<'_>,
    ) {
        let list = list.as_bytes();
        for (&(s, e), value) in self.spans[..self.len].iter().zip(&self.values) {
            let name = list.get(usize::from(s)..usize::from(e)).unwrap_or_default();
            out.put(name);
            out.byte(b':');
            match (value, host_fallback) {
                (Some(v), _) if canonical.holds(v.as_bytes()) => {
                    debug_assert!(crate::swar::is_trimmed(v.as_bytes()));
                    out.put(v.as_bytes());
                }
                (Some(v), _) => push_trimmed(out, v.as_bytes()),
                (None, Some(h)) if name == b"host" => push_trimmed(out, h.as_bytes()),
                (None, _) => {}
            }
            out.byte(b'\n');
        }
    }
}

/// The non-empty parameters of a query string as (start, `=` or end, end) spans, and whether
/// every key and value is already in canonical form (then the canonical query is these spans
/// sorted, with no decoding or encoding).
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuerySpans {
    len: usize,
    canonical: bool,
    spans: [(u16, u16, u16); MAX_PARAMS],
}

/// Byte classes of the one pass over a query string.
const UNRES: u8 = 0;
const PCT: u8 = 1;
const AMP: u8 = 2;
const EQ: u8 = 3;
const PLUS: u8 = 4;
const OTHER: u8 = 5;

static QUERY_CLASS: [u8; 256] = {
    let mut t = classes(&unreserved_table(), UNRES, OTHER);
    t[b'%' as usize] = PCT;
    t[b'&' as usize] = AMP;
    t[b'=' as usize] = EQ;
    t[b'+' as usize] = PLUS;
    t
};

/// A byte-class table: `yes` for the members of `set`, `no` for the rest.
pub(crate) const fn classes(set: &[bool; 256], yes: u8, no: u8) -> [u8; 256] {
    let mut t = [no; 256];
    let mut i = 0;
    while i < 256 {
        if set[i] {
            t[i] = yes;
        }
        i += 1;
    }
    t
}

/// Calls `at(i)`, in order, for each position `i` of a byte of `b` that is not unreserved
/// (sixteen bytes per step: [`each_match`]).
#[inline(always)]
fn each_special(b: &[u8], at: impl FnMut(usize)) {
    each_match(b, |c| !unreserved_lane(c), at);
}

/// Whether `b[i..]` starts with an escape canonical form keeps: `%` and two uppercase hex
/// digits encoding a byte that is not unreserved.
fn canonical_escape(b: &[u8], i: usize) -> bool {
    let upper = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    match (
        b.get(i + 1).and_then(|&c| upper(c)),
        b.get(i + 2).and_then(|&c| upper(c)),
    ) {
        (Some(h), Some(l)) => QUERY_CLASS[usize::from(h << 4 | l)] != UNRES,
        _ => false,
    }
}

/// The query parameter [`QuerySpans::scan`] is reading.
struct Reading {
    start: usize,
    /// Its first `=`.
    eq: Option<usize>,
    /// Whether the part being read (the key before an `=`, the value after) is canonical so far.
    canon: bool,
    /// Whether the key was, once an `=` ended it.
    key_canon: bool,
    /// A `%` or `+` in the key, in the value.
    escaped: (bool, bool),
}

impl Reading {
    fn at(start: usize) -> Self {
        Reading {
            start,
            eq: None,
            canon: true,
            key_canon: true,
            escaped: (false, false),
        }
    }

    /// Notes an escape in the key or the value, whichever is being read.
    fn mark_escape(&mut self) {
        match self.eq {
            None => self.escaped.0 = true,
            Some(_) => self.escaped.1 = true,
        }
    }
}

impl QuerySpans {
    /// One pass over `query`: calls `param(key, value, escaped)` for each non-empty parameter
    /// (raw, still encoded; `escaped.0`/`.1` when the key/value holds `%` or `+`) and returns
    /// the spans.
    ///
    /// Only the bytes that are not unreserved need a look (`&`, `=`, escapes, and anything
    /// that makes a component non-canonical); [`each_special`] finds them sixteen bytes at a
    /// time, so the plain runs (the signature, the credential, most values) cost no per-byte
    /// step.
    pub(crate) fn scan<'q>(
        query: &'q str,
        mut param: impl FnMut(&'q str, &'q str, (bool, bool)),
    ) -> Self {
        let b = query.as_bytes();
        let mut spans = QuerySpans {
            len: 0,
            canonical: u16::try_from(b.len()).is_ok(),
            spans: [(0, 0, 0); MAX_PARAMS],
        };
        let mut p = Reading::at(0);
        let mut end_param = |p: &Reading, at: usize| {
            if at > p.start {
                let (cut, canon) = match p.eq {
                    Some(cut) => (cut, p.key_canon && p.canon),
                    None => (at, p.canon),
                };
                // `&` and `=` are ASCII: every cut is a char boundary.
                let key = query.get(p.start..cut).unwrap_or_default();
                let value = query.get((cut + 1).min(at)..at).unwrap_or_default();
                param(key, value, p.escaped);
                spans.push(p.start, cut, at, canon);
            }
        };
        each_special(b, |i| match QUERY_CLASS[usize::from(b[i])] {
            AMP => {
                end_param(&p, i);
                p = Reading::at(i + 1);
            }
            EQ if p.eq.is_none() => {
                (p.eq, p.key_canon, p.canon) = (Some(i), p.canon, true);
            }
            // The two hex digits of a canonical escape are unreserved: never reported here.
            PCT => {
                p.mark_escape();
                p.canon &= canonical_escape(b, i);
            }
            PLUS => {
                p.mark_escape();
                p.canon = false;
            }
            _ => p.canon = false,
        });
        end_param(&p, b.len());
        spans
    }

    fn push(&mut self, start: usize, eq: usize, end: usize, canonical: bool) {
        let slot = self.spans.get_mut(self.len);
        match (slot, u16::try_from(end)) {
            (Some(slot), Ok(end)) if canonical => {
                // `start <= eq <= end` fit since `end` does.
                *slot = (start as u16, eq as u16, end);
                self.len += 1;
            }
            _ => self.canonical = false,
        }
    }

    /// Whether [`QuerySpans::write`] gives the canonical query.
    pub(crate) fn usable(&self) -> bool {
        self.canonical
    }

    /// The canonical query: the parameters sorted by key then value, `X-Amz-Signature` left
    /// out when `skip_signature`. Only meaningful when [`QuerySpans::usable`].
    pub(crate) fn write<S: Sink>(&self, out: &mut S, query: &str, skip_signature: bool) {
        let q = query.as_bytes();
        if let Some(end) = self.sorted_prefix(q, skip_signature) {
            out.put(&q[..end]);
            return;
        }
        let mut parts: [(&[u8], &[u8]); MAX_PARAMS] = [(&[], &[]); MAX_PARAMS];
        let mut n = 0;
        for &(s, e, end) in &self.spans[..self.len] {
            let (s, e, end) = (usize::from(s), usize::from(e), usize::from(end));
            let key = q.get(s..e).unwrap_or_default();
            if !(skip_signature && key == b"X-Amz-Signature") {
                parts[n] = (key, q.get((e + 1).min(end)..end).unwrap_or_default());
                n += 1;
            }
        }
        // Short, and usually sorted already (SDKs sort): insertion sort does n - 1 compares.
        parts[..n].sort_by(|(ka, va), (kb, vb)| lex_cmp(ka, kb).then_with(|| lex_cmp(va, vb)));
        for (j, (k, v)) in parts[..n].iter().enumerate() {
            if j > 0 {
                out.byte(b'&');
            }
            out.put(k);
            out.byte(b'=');
            out.put(v);
        }
    }
}

impl QuerySpans {
    /// Where the canonical query ends in the raw one, when it is a prefix of it: what SDKs
    /// send, the parameters already in order, each with a `=`, none empty, and (when
    /// `skip_signature`) `X-Amz-Signature` last. `None` sends [`QuerySpans::write`] to the sort.
    fn sorted_prefix(&self, q: &[u8], skip_signature: bool) -> Option<usize> {
        const SIGNATURE: &[u8] = b"X-Amz-Signature";
        let key = |&(s, e, _): &(u16, u16, u16)| q.get(usize::from(s)..usize::from(e));
        let mut kept = &self.spans[..self.len];
        if let Some(last) = kept.last().filter(|_| skip_signature) {
            if key(last)? == SIGNATURE {
                kept = &kept[..kept.len() - 1];
            }
        }
        let (mut next, mut prev) = (0, None::<(&[u8], &[u8])>);
        for &(s, e, end) in kept {
            let (s, e, end) = (usize::from(s), usize::from(e), usize::from(end));
            if s != next || e == end {
                return None;
            }
            let (k, v) = (q.get(s..e)?, q.get(e + 1..end)?);
            if skip_signature && k == SIGNATURE {
                return None;
            }
            if prev.is_some_and(|(pk, pv)| lex_cmp(pk, k).then_with(|| lex_cmp(pv, v)).is_gt()) {
                return None;
            }
            (next, prev) = (end + 1, Some((k, v)));
        }
        Some(next.saturating_sub(1))
    }
}

/// Byte-wise order of `a` and `b`, decided by their first eight bytes (big-endian, zero
/// padded) when those differ: at the first byte where two such words differ either both
/// strings have a byte and the bytes decide, or the shorter one ended, which orders it first
/// either way (a real byte there is above zero, as the words differ). Keys such as
/// `X-Amz-Credential` and `X-Amz-Date` differ within eight bytes, so no `memcmp` call.
fn lex_cmp(a: &[u8], b: &[u8]) -> Ordering {
    fn head(s: &[u8]) -> u64 {
        match s.first_chunk::<8>() {
            Some(w) => u64::from_be_bytes(*w),
            // Shorter than eight: its bytes, then zeros.
            None => s
                .iter()
                .rev()
                .fold(0u64, |w, &c| w >> 8 | u64::from(c) << 56),
        }
    }
    match head(a).cmp(&head(b)) {
        Ordering::Equal => a.cmp(b),
        decided => decided,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::canonical_query;

    fn fast(q: &str, skip: bool) -> Option<String> {
        let spans = QuerySpans::scan(q, |_, _, _| {});
        spans.usable().then(|| {
            let mut out = Vec::new();
            spans.write(&mut out, q, skip);
            String::from_utf8(out).unwrap()
        })
    }

    /// For both `skip` settings: where the prepared form answers, it equals the general
    /// builder. Whether it answered both times.
    fn agrees_with_general(q: &str) -> bool {
        let mut answered = true;
        for skip in [false, true] {
            let mut want = Vec::new();
            canonical_query(&mut want, q, skip);
            match fast(q, skip) {
                Some(got) => assert_eq!(got.as_bytes(), want, "{q:?} skip={skip}"),
                None => answered = false,
            }
        }
        answered
    }

    #[test]
    fn query_spans_agree_with_the_general_builder_or_step_aside() {
        // Whether the prepared form answers: only when every component is canonical already.
        for (q, answers) in [
            ("", true),
            ("b=2&a=1&a=0", true),
            ("&&a=1&", true),
            ("key&x=a%20b&y=%7E", false),
            ("X-Amz-Signature=abc&z=1", true),
            ("c=a%2Fb&b=%2F&a=A", true),
            ("a=1=2", false),
            ("a=%2f", false),
            ("a=%41", false),
            ("a=%", false),
            ("a=x+y", false),
            ("a%2Fb=1&a=2", true),
            ("list-type=2&prefix=photos%2F2025%2F&delimiter=%2F", true),
        ] {
            assert_eq!(agrees_with_general(q), answers, "{q:?}");
        }
        assert!(fast("a=%2f", false).is_none());
        assert!(fast("a=1=2", false).is_none());
        assert!(fast("c=a%2Fb&b=%2F&a=A", false).is_some());
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("k{i}=v")).collect();
        assert!(fast(&many.join("&"), false).is_none());
    }

    #[test]
    fn an_sdk_query_is_its_own_canonical_prefix_and_anything_else_is_sorted() {
        let sdk = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20250115%2Fus-east-1\
                   %2Fs3%2Faws4_request&X-Amz-Date=20250115T100000Z&X-Amz-Expires=3600\
                   &X-Amz-SignedHeaders=host&X-Amz-Signature=ab12";
        let prefix =
            |q: &str, skip| QuerySpans::scan(q, |_, _, _| {}).sorted_prefix(q.as_bytes(), skip);
        assert_eq!(prefix(sdk, true), sdk.rfind("&X-Amz-Signature"));
        // Kept, the signature is out of order (`Signa` < `Signe`): sorted the general way.
        assert_eq!(prefix(sdk, false), None);
        assert_eq!(prefix("", true), Some(0));
        assert_eq!(prefix("a=1&a=1&b=", false), Some(10));
        for q in [
            "b=1&a=2",
            "a=2&a=1",
            "a=1&&b=2",
            "&a=1",
            "a&b=1",
            "X-Amz-Signature=ab&a=1",
            "a=1&X-Amz-Signature=ab&b=2",
        ] {
            assert_eq!(prefix(q, true), None, "{q:?}");
        }
        // A trailing `&` ends no parameter: the prefix stops before it.
        assert_eq!(prefix("a=1&b=2&", true), Some(7));
        for q in [
            sdk,
            "b=1&a=2",
            "a=1&&b=2",
            "a&b=1",
            "a=1&X-Amz-Signature=ab&b=2",
            "a=1&b=2&",
        ] {
            assert!(agrees_with_general(q), "{q:?}");
        }
    }

    #[test]
    fn word_first_order_is_byte_order() {
        let words: [&[u8]; 12] = [
            b"",
            b"\0",
            b"a",
            b"a\0",
            b"ab",
            b"X-Amz-Date",
            b"X-Amz-Da",
            b"X-Amz-Dat\0",
            b"X-Amz-Credential",
            b"X-Amz-Credentiam",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\x01",
            b"\xff\xff\xff\xff\xff\xff\xff\xff",
        ];
        for a in words {
            for b in words {
                assert_eq!(lex_cmp(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn special_bytes_are_found_for_every_byte_at_every_place() {
        for c in 0..=255u8 {
            for len in [1, 7, 15, 16, 17, 31, 32, 33, 47] {
                for at in [0, len / 2, len - 1] {
                    let mut s = vec![b'a'; len];
                    s[at] = c;
                    let mut got = Vec::new();
                    each_special(&s, |i| got.push(i));
                    let want: Vec<usize> = (0..len)
                        .filter(|&i| QUERY_CLASS[usize::from(s[i])] != UNRES)
                        .collect();
                    assert_eq!(got, want, "{c:#x} at {at} of {len}");
                }
            }
        }
        let mut none = Vec::new();
        each_special(b"", |i| none.push(i));
        assert!(none.is_empty());
    }

    /// What `scan` reports, by the definition: `&`-separated non-empty parameters, cut at the
    /// first `=`, escaped when holding `%` or `+`, usable when every part is canonical.
    type Reported<'q> = Vec<(&'q str, &'q str, (bool, bool))>;

    fn scan_by_definition(q: &str) -> (Reported<'_>, bool) {
        use crate::canonical::is_canonical;
        let esc = |s: &str| s.contains(['%', '+']);
        let params: Vec<_> = q
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k, v, (esc(k), esc(v)))
            })
            .collect();
        let canonical = q.split('&').filter(|p| !p.is_empty()).all(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            is_canonical(k.as_bytes()) && is_canonical(v.as_bytes())
        });
        let usable = canonical && params.len() <= MAX_PARAMS;
        (params, usable)
    }

    #[test]
    fn query_scan_agrees_with_its_definition_on_generated_queries() {
        const PIECES: [&str; 19] = [
            "&X-Amz-Signature=ab",
            "a",
            "Z",
            "0",
            "-",
            "~",
            ".",
            "&",
            "=",
            "%",
            "2",
            "F",
            "f",
            "+",
            "/",
            " ",
            "é",
            "%2F",
            "X-Amz-Credential=AKID%2F20250115%2Fus-east-1%2Fs3%2Faws4_request",
        ];
        let mut next = crate::test_rng(0x9e37_79b9_7f4a_7c15u64);
        let mut answered = 0;
        for _ in 0..20_000 {
            let n = next() % 40;
            let q: String = (0..n)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let mut seen = Vec::new();
            let spans = QuerySpans::scan(&q, |k, v, esc| seen.push((k, v, esc)));
            let (want, usable) = scan_by_definition(&q);
            assert_eq!(seen, want, "{q:?}");
            assert_eq!(spans.usable(), usable, "{q:?}");
            answered += usize::from(agrees_with_general(&q));
        }
        // Short queries of plain pieces are canonical (about 1 in 12 here): both answers were
        // exercised, not just the step aside.
        assert!(
            answered > 500,
            "the prepared form answered only {answered} times"
        );
    }

    #[test]
    fn query_scan_reports_raw_parameters() {
        let mut seen = Vec::new();
        QuerySpans::scan("a=1&&b&c%3D=x=y&d+e=2%41", |k, v, esc| {
            seen.push((k, v, esc))
        });
        assert_eq!(
            seen,
            [
                ("a", "1", (false, false)),
                ("b", "", (false, false)),
                ("c%3D", "x=y", (true, false)),
                ("d+e", "2%41", (true, true))
            ]
        );
    }
}
