//! The request headers SigV4 reads, and what a `SignedHeaders` list covers of them (SPEC V5).
//!
//! Spec: AWS "Authenticating Requests: Using the Authorization Header" (canonical headers,
//! signed headers); SPEC V5 (`host` and every `x-amz-*` header signed).
//!
//! Cost: two walks over the header map, no copy of it. [`HeaderScan::scan`] finds the six
//! headers authentication needs; [`HeaderScan::coverage`] splits the signed list once into
//! name spans and then walks the headers matching each against those spans (a length and an
//! eight-byte word decide almost every comparison), which yields in the same walk whether every
//! `x-amz-*` header is signed and each signed header's value for the canonical request.
//! A list the prepared form cannot hold (more than [`crate::prepared::MAX_SIGNED`] names,
//! uppercase letters, a signed header sent twice) gets the general answers instead, and no
//! values: verification then builds the canonical headers the general way.

use crate::canonical::signed_names;
use crate::prepared::{classes, SignedValues};
use crate::swar::each_match;
use http::{HeaderMap, HeaderName};

/// What a `SignedHeaders` list covers of the request (SPEC V5).
pub(crate) struct Coverage<'a> {
    /// The list is well formed: a non-empty `;` list of non-empty RFC 9110 tokens.
    pub valid: bool,
    /// `host` is signed.
    pub host: bool,
    /// Every `x-amz-*` header present is signed.
    pub all_amz: bool,
    /// The value of each signed header, when the request fits the prepared form.
    pub values: Option<SignedValues<'a>>,
}

/// Whether `name` is in the signed list (case-insensitive).
fn is_signed(signed: &str, name: &str) -> bool {
    signed_names(signed).any(|n| n.len() == name.len() && n.eq_ignore_ascii_case(name))
}

/// What a byte of a `SignedHeaders` list says: outside RFC 9110's token set (and not the `;`
/// separating names), or an uppercase letter.
const BAD: u8 = 1;
const UPPER: u8 = 2;

static LIST_BITS: [u8; 256] = {
    let mut t = classes(&super::fields::token_table(), 0, BAD);
    let mut c = b'A';
    while c <= b'Z' {
        t[c as usize] = UPPER;
        c += 1;
    }
    t[b';' as usize] = 0;
    t
};

/// The first eight bytes of `b` as a word, zero-padded: with the length, it tells two header
/// names apart without a call to `memcmp` in all but a few cases.
#[inline]
fn head_word(b: &[u8]) -> u64 {
    match b.first_chunk::<8>() {
        Some(w) => u64::from_le_bytes(*w),
        None => b.iter().rev().fold(0, |w, &c| w << 8 | u64::from(c)),
    }
}

/// One of 64 bits for a name's first word: a header whose bit is not among the signed names'
/// is not signed, without a comparison.
#[inline]
fn filter_bit(w: u64) -> u64 {
    1 << (w.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58)
}

/// `a == b` for names whose first eight bytes already matched: word by word, the last word
/// overlapping, so short names never reach `memcmp`.
#[inline]
fn same_name(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 8 {
        return true;
    }
    let last = |s: &[u8]| s.last_chunk::<8>().copied();
    a.chunks_exact(8)
        .zip(b.chunks_exact(8))
        .all(|(x, y)| x == y)
        && last(a) == last(b)
}

/// Whether `name` is the name of the previous item of a `HeaderMap` walk: the map yields the
/// extra values of a name with a reference to the same stored name, and each name is stored
/// once, so the address decides (no byte comparison).
#[inline]
fn same_entry(last: Option<&HeaderName>, name: &HeaderName) -> bool {
    last.is_some_and(|l| std::ptr::eq(l, name))
}

/// Header values known to be in canonical form as sent (see [`HeaderScan::canonical_values`],
/// the only place that makes one): their slices of the request, recognised by address and
/// length, are copied into the canonical request without the trim check.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CanonicalValues<'a>([&'a [u8]; 2]);

impl CanonicalValues<'_> {
    /// Whether `value` is one of them (the very slice, not merely equal bytes).
    #[inline]
    pub(crate) fn holds(&self, value: &[u8]) -> bool {
        self.0.iter().any(|c| std::ptr::eq(*c, value))
    }
}

/// The headers SigV4 reads, found in one walk over the map.
pub(crate) struct HeaderScan<'a> {
    pub authorization: Option<&'a [u8]>,
    pub amz_date: Option<&'a [u8]>,
    pub date: Option<&'a [u8]>,
    pub content_sha256: Option<&'a [u8]>,
    pub token: Option<&'a [u8]>,
    pub decoded_length: Option<&'a [u8]>,
    /// A `Host` header was sent (else a signed `host` would be signed as empty).
    pub host_sent: bool,
    /// The first header authentication reads (see [`watched`]) that was sent more than once:
    /// the checks would read its first value while the signature covers all of them joined.
    pub repeated: Option<&'static str>,
    headers: &'a HeaderMap,
}

/// The first header authentication reads that was sent more than once, if any: a second walk,
/// only for a request with some header sent twice.
#[cold]
fn first_repeated(headers: &HeaderMap) -> Option<&'static str> {
    let mut last: Option<&HeaderName> = None;
    for name in headers.iter().map(|(name, _)| name) {
        if same_entry(last, name) {
            if let Some(w) = watched(name) {
                return Some(w);
            }
        }
        last = Some(name);
    }
    None
}

/// The headers whose value authentication reads, which must therefore come once: `name`'s
/// spelling if it is one of them.
fn watched(name: &HeaderName) -> Option<&'static str> {
    use http::header::{AUTHORIZATION, DATE, HOST};
    [
        AUTHORIZATION.as_str(),
        HOST.as_str(),
        DATE.as_str(),
        "x-amz-date",
        "x-amz-content-sha256",
        "x-amz-security-token",
        "x-amz-decoded-content-length",
    ]
    .into_iter()
    .find(|w| *w == name.as_str())
}

impl<'a> HeaderScan<'a> {
    #[inline]
    pub(crate) fn scan(headers: &'a HeaderMap) -> Self {
        let mut s = HeaderScan {
            authorization: None,
            amz_date: None,
            date: None,
            content_sha256: None,
            token: None,
            decoded_length: None,
            host_sent: false,
            repeated: None,
            headers,
        };
        let (mut last, mut repeats): (Option<&HeaderName>, _) = (None, false);
        for (name, value) in headers.iter() {
            // Values of one name come together: a second one is noted (and refused for the
            // headers read here), never read.
            if same_entry(last, name) {
                repeats = true;
                continue;
            }
            last = Some(name);
            let v = Some(value.as_bytes());
            let n = name.as_str().as_bytes();
            // `x-amz-` by the first word, then the rest by length and bytes.
            if head_word(n) & 0xffff_ffff_ffff == u64::from_le_bytes(*b"x-amz-\0\0") {
                match n.get(6..).unwrap_or_default() {
                    b"date" => s.amz_date = v,
                    b"content-sha256" => s.content_sha256 = v,
                    b"security-token" => s.token = v,
                    b"decoded-content-length" => s.decoded_length = v,
                    _ => {}
                }
            } else if name == http::header::HOST {
                s.host_sent = true;
            } else if name == http::header::AUTHORIZATION {
                s.authorization = v;
            } else if name == http::header::DATE {
                s.date = v;
            }
        }
        if repeats {
            s.repeated = first_repeated(headers);
        }
        s
    }

    /// The `X-Amz-Date` and `x-amz-content-sha256` values as sent, when already in canonical
    /// form: the date when it is exactly `amz_date` (the request's validated spelling), the
    /// content hash when `payload` is that very value (it then passed its strict check: one
    /// of the fixed forms or 64 hex digits). Else empty.
    pub(crate) fn canonical_values(
        &self,
        amz_date: &[u8; 16],
        payload: &[u8],
    ) -> CanonicalValues<'a> {
        let date = self.amz_date.filter(|v| v == amz_date).unwrap_or_default();
        let hash = self.content_sha256.filter(|v| std::ptr::eq(*v, payload));
        CanonicalValues([date, hash.unwrap_or_default()])
    }

    /// Walks `signed` once and the headers once: is the list well formed, is `host` in it, is
    /// every `x-amz-*` header present in it, and what is each signed header's value.
    ///
    /// A signed name that matches a header's name is lowercase and, but for `"` (which
    /// `HeaderName` accepts from HTTP/2 and `from_static`), a token; so the names that match no
    /// header have their bytes checked, and the list is searched for `"` (for an SDK's
    /// request, that search is the whole check).
    #[inline]
    pub(crate) fn coverage(&self, signed: &str) -> Coverage<'a> {
        let b = signed.as_bytes();
        let mut values = SignedValues::new();
        let mut words = [0u64; crate::prepared::MAX_SIGNED];
        // A 64-bit filter of the names' first words, and whether a name is listed twice.
        let (mut filter, mut repeated) = (0u64, false);
        let (mut fits, mut no_empty, mut host) = (true, !b.is_empty(), false);
        // One pass finds every `;` and any `"` (see above).
        let (mut ends, mut n, mut quote) = ([0usize; crate::prepared::MAX_SIGNED], 0, false);
        each_match(
            b,
            |c| (c == b';') | (c == b'"'),
            |i| match (b[i], ends.get_mut(n)) {
                (b'"', _) => quote = true,
                (_, Some(end)) => {
                    *end = i;
                    n += 1;
                }
                // More names than the prepared form holds.
                (_, None) => fits = false,
            },
        );
        let mut start = 0;
        for k in 0..=n {
            let end = ends.get(k).filter(|_| k < n).copied().unwrap_or(b.len());
            let name = &b[start..end];
            no_empty &= !name.is_empty();
            host |= name == b"host";
            let w = head_word(name);
            let bit = filter_bit(w);
            // A name whose filter bit is not yet set was not listed before.
            repeated |= filter & bit != 0
                && (0..values.len()).any(|i| words[i] == w && same_name(values.name(b, i), name));
            filter |= bit;
            if let Some(slot) = words.get_mut(values.len()) {
                *slot = w;
            }
            fits &= values.push(start, end);
            start = end + 1;
        }
        if !fits {
            return self.general_coverage(signed);
        }
        let (mut all_amz, mut last, mut matched) = (true, None::<&HeaderName>, 0u32);
        for (name, value) in self.headers.iter() {
            let n = name.as_str().as_bytes();
            if same_entry(last, name) {
                // A second value of a signed header: the general path joins them.
                fits &= !(0..values.len()).any(|i| values.name(b, i) == n);
                continue;
            }
            last = Some(name);
            let w = head_word(n);
            let mut signed_here = false;
            if filter & filter_bit(w) != 0 {
                for (i, &nw) in words[..values.len()].iter().enumerate() {
                    if nw == w && same_name(values.name(b, i), n) {
                        values.set(i, value);
                        matched |= 1 << i;
                        signed_here = true;
                        if !repeated {
                            break;
                        }
                    }
                }
            }
            // `x-amz-`, the first six bytes of the name's first word.
            all_amz &= signed_here || w & 0xffff_ffff_ffff != u64::from_le_bytes(*b"x-amz-\0\0");
        }
        // The names no header matched: still to be checked for bad bytes and uppercase.
        let bits = (0..values.len())
            .filter(|&i| matched & (1 << i) == 0)
            .flat_map(|i| values.name(b, i))
            .fold(0, |acc, &c| acc | LIST_BITS[usize::from(c)]);
        if !(fits && no_empty && bits & (BAD | UPPER) == 0) || quote {
            return self.general_coverage(signed);
        }
        Coverage {
            valid: true,
            host,
            all_amz,
            values: Some(values),
        }
    }

    /// The answers for any list (any case, any number of names, a signed header sent twice),
    /// without the values: verification then builds the canonical headers the general way.
    #[cold]
    fn general_coverage(&self, signed: &str) -> Coverage<'a> {
        let b = signed.as_bytes();
        let bits = b.iter().fold(0, |acc, &c| acc | LIST_BITS[usize::from(c)]);
        let valid = !b.is_empty() && bits & BAD == 0 && signed_names(signed).all(|n| !n.is_empty());
        let host = signed_names(signed).any(|n| n.eq_ignore_ascii_case("host"));
        let all_amz = self
            .headers
            .keys()
            .all(|n| !n.as_str().starts_with("x-amz-") || is_signed(signed, n.as_str()));
        Coverage {
            valid,
            host,
            all_amz,
            values: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn word_comparisons_agree_with_byte_comparisons() {
        let names: [&[u8]; 9] = [
            b"",
            b"a",
            b"host",
            b"x-amz-da",
            b"x-amz-date",
            b"x-amz-datE",
            b"x-amz-content-sha256",
            b"x-amz-content-sha257",
            b"amz-sdk-invocation-id",
        ];
        for a in names {
            for b in names {
                let same = head_word(a) == head_word(b) && same_name(a, b);
                assert_eq!(same, a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn scan_keeps_the_first_value_of_each_header() {
        let h = map(&[
            ("x-amz-date", "1"),
            ("x-amz-date", "2"),
            ("authorization", "a"),
        ]);
        let s = HeaderScan::scan(&h);
        assert_eq!(s.amz_date, Some(&b"1"[..]));
        assert_eq!(s.authorization, Some(&b"a"[..]));
        assert_eq!(s.token, None);
        // ... and notes the repeat, which `parse` refuses.
        assert_eq!(s.repeated, Some("x-amz-date"));
        let h = map(&[("host", "h"), ("user-agent", "1"), ("user-agent", "2")]);
        assert_eq!(HeaderScan::scan(&h).repeated, None);
        let h = map(&[("user-agent", "1"), ("host", "h"), ("host", "h2")]);
        assert_eq!(HeaderScan::scan(&h).repeated, Some("host"));
        // Only the exact names count.
        let h = map(&[
            ("x-amz-", "a"),
            ("x-amz-dat", "b"),
            ("x-amz-date2", "c"),
            ("x-amzdate", "d"),
            ("y-amz-date", "e"),
            ("x-amz-security-token", "t"),
        ]);
        let s = HeaderScan::scan(&h);
        assert_eq!((s.amz_date, s.token), (None, Some(&b"t"[..])));
    }

    #[test]
    fn only_values_exactly_in_canonical_form_skip_the_trim() {
        let date = b"20250115T100000Z";
        let exact = map(&[
            ("x-amz-date", "20250115T100000Z"),
            ("x-amz-content-sha256", "h"),
        ]);
        let scan = HeaderScan::scan(&exact);
        let hash = scan.content_sha256.unwrap();
        let CanonicalValues([d, c]) = scan.canonical_values(date, hash);
        let (want_d, want_c) = (
            exact["x-amz-date"].as_bytes(),
            exact["x-amz-content-sha256"].as_bytes(),
        );
        // The very slices of the request, so `SignedValues::write` recognises them by address.
        assert!(std::ptr::eq(d, want_d) && std::ptr::eq(c, want_c));
        let padded = map(&[("x-amz-date", " 20250115T100000Z ")]);
        assert_eq!(
            HeaderScan::scan(&padded).canonical_values(date, hash).0,
            [&b""[..], &b""[..]]
        );
        let other = map(&[("x-amz-date", "20250115T100001Z")]);
        assert_eq!(
            HeaderScan::scan(&other).canonical_values(date, hash).0[0],
            b""
        );
        // A payload line other than the header value itself is not taken, even with equal
        // bytes (a decoded query parameter, say).
        assert_eq!(scan.canonical_values(date, b"x").0[1], b"");
        assert_eq!(scan.canonical_values(date, b"h").0[1], b"");
    }

    #[test]
    fn coverage_finds_values_and_unsigned_amz_headers() {
        let h = map(&[
            ("host", "h"),
            ("x-amz-date", "d"),
            ("x-amz-meta-a", "1"),
            ("amz-sdk-invocation-id", "i"),
        ]);
        let s = HeaderScan::scan(&h);
        let c = s.coverage("amz-sdk-invocation-id;host;x-amz-date;x-amz-meta-a");
        assert!(c.valid && c.host && c.all_amz);
        let mut out = Vec::new();
        let list = "amz-sdk-invocation-id;host;x-amz-date;x-amz-meta-a";
        c.values
            .unwrap()
            .write(&mut out, list, None, &CanonicalValues::default());
        assert_eq!(
            out,
            b"amz-sdk-invocation-id:i\nhost:h\nx-amz-date:d\nx-amz-meta-a:1\n"
        );
        assert!(!s.coverage("host;x-amz-date").all_amz);
        // A signed name the request lacks has an empty value; a repeated one gets it twice.
        let c = s.coverage("host;x-amz-date;x-amz-date;x-amz-meta-a;x-absent");
        assert!(c.all_amz);
        let mut out = Vec::new();
        let list = "host;x-amz-date;x-amz-date;x-amz-meta-a;x-absent";
        c.values
            .unwrap()
            .write(&mut out, list, None, &CanonicalValues::default());
        assert_eq!(
            out,
            b"host:h\nx-amz-date:d\nx-amz-date:d\nx-amz-meta-a:1\nx-absent:\n"
        );
        assert!(s.coverage("host;x-amz-date").valid);
        for bad in [
            "",
            ";host",
            "host;",
            "host;;x",
            "ho st",
            "host:x",
            "Host;;x",
            // Names that match headers beside one that matches none and is not a token.
            "host;x-amz-date;b@d",
            "b@d;host",
        ] {
            assert!(!s.coverage(bad).valid, "{bad}");
        }
        // `HeaderName` takes a `"` from HTTP/2 or `from_static`, though it is no token: a
        // list naming such a header is refused all the same.
        let mut quoted = map(&[("host", "h"), ("x-amz-date", "d")]);
        quoted.insert(HeaderName::from_static("x-\"q"), "v".parse().unwrap());
        let q = HeaderScan::scan(&quoted);
        assert!(!q.coverage("host;x-amz-date;x-\"q").valid);
        assert!(q.coverage("host;x-amz-date").valid);
        // An uppercase name that matches no header: valid, read the general way.
        let c = s.coverage("host;x-amz-date;x-amz-meta-a;X-Absent");
        assert!(c.valid && c.host && c.all_amz && c.values.is_none());
    }

    #[test]
    fn lists_the_prepared_form_cannot_hold_get_the_general_answers() {
        let mut h = map(&[("x-amz-date", "1"), ("x-amz-date", "2"), ("host", "h")]);
        for i in 0..20 {
            h.insert(
                HeaderName::from_bytes(format!("x-amz-meta-{i}").as_bytes()).unwrap(),
                "v".parse().unwrap(),
            );
        }
        let s = HeaderScan::scan(&h);
        // A signed header sent twice.
        let c = s.coverage("host;x-amz-date");
        assert!(c.valid && c.host && !c.all_amz && c.values.is_none());
        // More names than the prepared form holds.
        let all: Vec<String> = h.keys().map(|k| k.to_string()).collect();
        let c = s.coverage(&all.join(";"));
        assert!(c.valid && c.host && c.all_amz && c.values.is_none());
        // Uppercase names.
        let h = map(&[("x-amz-date", "1"), ("x-amz-meta-a", "1"), ("host", "h")]);
        let s = HeaderScan::scan(&h);
        let c = s.coverage("Host;X-Amz-Date;x-amz-meta-a");
        assert!(c.valid && c.host && c.all_amz && c.values.is_none());
        assert!(!s.coverage("Host;X-Amz-Date").all_amz);
    }
}
