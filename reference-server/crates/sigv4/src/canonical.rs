//! The SigV4 canonical request, the string to sign, and their encoding rules.
//!
//! Spec: AWS "Create a canonical request for Signature Version 4" and the S3 variant
//! ("Authenticating Requests: Using the Authorization Header"):
//!
//! ```text
//! METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n PayloadHash
//! ```
//!
//! * URI: S3 ([`UriEncoding::S3`]) does not normalise the path and encodes it once: each
//!   `/`-separated segment is percent-decoded, then re-encoded (unreserved `A-Za-z0-9-_.~`
//!   kept). Other services ([`UriEncoding::Generic`]) optionally remove dot segments and merge
//!   slashes, then encode the path as received, so an already-encoded path is encoded twice.
//! * Query: each key and value decoded (`+` is a space, as AWS's own signers parse it) and
//!   re-encoded, sorted by key then value; `X-Amz-Signature` left out for presigned URLs.
//! * Headers: the client's `SignedHeaders` list in its order; names lowercase, values trimmed
//!   with inner runs of blanks collapsed, repeated headers joined with `,` in arrival order.
//!
//! Everything writes into a sink: the caller's buffer (the public functions) or, during
//! verification, SHA-256 itself (`sink`). Nothing allocates on the common path (a path or query
//! made only of unreserved characters is copied as is). Verification uses these builders only
//! when a request does not fit what parsing prepared (`prepared`), so they are also the
//! reference the prepared path is tested against.

use crate::sink::Sink;
use crate::swar::{each_match, is_trimmed};
use http::HeaderMap;
use std::borrow::Cow;

/// How the canonical URI is built from the request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriEncoding {
    /// S3: no normalisation; each segment decoded then encoded once.
    S3,
    /// Every other service: optional RFC 3986 normalisation, then the path encoded as received.
    Generic {
        /// Remove `.`/`..` segments and merge repeated slashes first.
        normalize: bool,
    },
}

/// The inputs of a canonical request.
#[derive(Debug, Clone, Copy)]
pub struct CanonicalInput<'x> {
    /// HTTP method, as sent.
    pub method: &'x str,
    /// Path as received on the wire (still percent-encoded), without the query.
    pub path: &'x str,
    /// Raw query string without the `?` (empty if none).
    pub query: &'x str,
    /// Request headers.
    pub headers: &'x HeaderMap,
    /// The client's `SignedHeaders` list (`;`-separated).
    pub signed_headers: &'x str,
    /// The last line: hex SHA-256 or one of the payload keywords.
    pub payload_hash: &'x str,
    /// How to canonicalise the path.
    pub uri: UriEncoding,
    /// Leave `X-Amz-Signature` out of the canonical query (presigned URLs).
    pub presigned: bool,
    /// The `host` value to use when no `Host` header is present (HTTP/2 `:authority`).
    pub host_fallback: Option<&'x str>,
}

pub(crate) const fn unreserved_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.' || c == b'~';
        i += 1;
    }
    t
}

static UNRESERVED: [bool; 256] = unreserved_table();

/// Whether `c` is unreserved (`A-Z a-z 0-9 - . _ ~`), written without branches or tables so
/// that a loop of it over a block becomes vector compares ([`crate::swar::each_match`]).
#[inline(always)]
pub(crate) fn unreserved_lane(c: u8) -> bool {
    let alpha = (c | 0x20).wrapping_sub(b'a') < 26;
    let digit = c.wrapping_sub(b'0') < 10;
    // `-`, `.`
    let punct = c.wrapping_sub(b'-') < 2;
    alpha | digit | punct | (c == b'_') | (c == b'~')
}

/// Whether `s` holds only unreserved bytes and `/` (an S3 path made only of these is its own
/// canonical form), sixteen bytes per step.
fn unreserved_or_slash(s: &[u8]) -> bool {
    let mut other = false;
    each_match(s, |c| !(unreserved_lane(c) | (c == b'/')), |_| other = true);
    !other
}

fn is_unreserved(b: u8) -> bool {
    UNRESERVED[usize::from(b)]
}

/// Appends `input` encoded with AWS's rule: unreserved bytes kept, `/` kept when `keep_slash`,
/// everything else `%XX` with uppercase hex.
pub fn uri_encode(out: &mut Vec<u8>, input: &[u8], keep_slash: bool) {
    encode_to(out, input, keep_slash);
}

fn encode_to<S: Sink>(out: &mut S, input: &[u8], keep_slash: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.byte(b);
        } else {
            out.put(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `input` into `out` (a `%` not followed by two hex digits stays literal);
/// with `plus_is_space`, `+` becomes a space as in `application/x-www-form-urlencoded`.
pub fn percent_decode(out: &mut Vec<u8>, input: &[u8], plus_is_space: bool) {
    let special = |b: u8| b == b'%' || (plus_is_space && b == b'+');
    // Runs of plain bytes are copied whole.
    let mut rest = input;
    while let Some(p) = rest.iter().position(|&b| special(b)) {
        out.extend_from_slice(&rest[..p]);
        rest = &rest[p..];
        let hex = |i: usize| rest.get(i).copied().and_then(hex_val);
        let (byte, used) = match (rest[0], hex(1), hex(2)) {
            (b'+', _, _) => (b' ', 1),
            (_, Some(h), Some(l)) => (h << 4 | l, 3),
            _ => (b'%', 1),
        };
        out.push(byte);
        rest = &rest[used..];
    }
    out.extend_from_slice(rest);
}

/// Decodes then re-encodes one component; a component of unreserved bytes is copied.
fn reencode<S: Sink>(out: &mut S, scratch: &mut Vec<u8>, input: &[u8], plus_is_space: bool) {
    if input.iter().all(|&b| is_unreserved(b)) {
        out.put(input);
        return;
    }
    scratch.clear();
    percent_decode(scratch, input, plus_is_space);
    encode_to(out, scratch, false);
}

/// Appends the canonical URI of `path`.
pub fn canonical_uri(out: &mut Vec<u8>, path: &str, enc: UriEncoding) {
    canonical_uri_to(out, path, enc);
}

pub(crate) fn canonical_uri_to<S: Sink>(out: &mut S, path: &str, enc: UriEncoding) {
    let path = if path.is_empty() { "/" } else { path };
    match enc {
        UriEncoding::S3 => {
            if unreserved_or_slash(path.as_bytes()) {
                out.put(path.as_bytes());
                return;
            }
            let mut scratch = Vec::new();
            for (i, seg) in path.as_bytes().split(|&b| b == b'/').enumerate() {
                if i > 0 {
                    out.byte(b'/');
                }
                reencode(out, &mut scratch, seg, false);
            }
        }
        UriEncoding::Generic { normalize: false } => encode_to(out, path.as_bytes(), true),
        UriEncoding::Generic { normalize: true } => {
            let mut kept: Vec<&str> = Vec::new();
            for seg in path.split('/') {
                match seg {
                    "" | "." => {}
                    ".." => {
                        kept.pop();
                    }
                    s => kept.push(s),
                }
            }
            out.byte(b'/');
            for (i, seg) in kept.iter().enumerate() {
                if i > 0 {
                    out.byte(b'/');
                }
                encode_to(out, seg.as_bytes(), true);
            }
            if !kept.is_empty() && path.ends_with('/') {
                out.byte(b'/');
            }
        }
    }
}

/// Whether `input` is already in canonical form: unreserved bytes, and `%XX` (uppercase hex)
/// only for bytes that must be encoded. SDK-built query strings are; they are then copied.
pub(crate) fn is_canonical(input: &[u8]) -> bool {
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            let upper = |c: u8| c.is_ascii_digit() || (b'A'..=b'F').contains(&c);
            match (input.get(i + 1), input.get(i + 2)) {
                (Some(&h), Some(&l)) if upper(h) && upper(l) => {
                    let byte = hex_val(h).unwrap_or(0) << 4 | hex_val(l).unwrap_or(0);
                    if is_unreserved(byte) {
                        return false;
                    }
                }
                _ => return false,
            }
            i += 3;
        } else if is_unreserved(b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// One query component in canonical form, borrowed when it already is.
fn canonical_component(input: &str) -> Cow<'_, [u8]> {
    if is_canonical(input.as_bytes()) {
        return Cow::Borrowed(input.as_bytes());
    }
    let mut decoded = Vec::with_capacity(input.len());
    percent_decode(&mut decoded, input.as_bytes(), true);
    let mut out = Vec::with_capacity(decoded.len() * 3);
    uri_encode(&mut out, &decoded, false);
    Cow::Owned(out)
}

/// A canonical query key and value.
type Pair<'q> = (Cow<'q, [u8]>, Cow<'q, [u8]>);

/// Appends the canonical query string of the raw `query`.
pub fn canonical_query(out: &mut Vec<u8>, query: &str, skip_signature: bool) {
    canonical_query_to(out, query, skip_signature);
}

pub(crate) fn canonical_query_to<S: Sink>(out: &mut S, query: &str, skip_signature: bool) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<Pair<'_>> = Vec::with_capacity(16);
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        if skip_signature && is_param(k, "X-Amz-Signature") {
            continue;
        }
        pairs.push((canonical_component(k), canonical_component(v)));
    }
    pairs.sort_unstable();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.byte(b'&');
        }
        out.put(k);
        out.byte(b'=');
        out.put(v);
    }
}

/// Whether a raw query key is `name` (decoding it only when it contains `%`).
pub(crate) fn is_param(raw_key: &str, name: &str) -> bool {
    if raw_key == name {
        return true;
    }
    if !raw_key.contains('%') {
        return false;
    }
    let mut d = Vec::new();
    percent_decode(&mut d, raw_key.as_bytes(), true);
    d == name.as_bytes()
}

/// Appends a header value trimmed, with inner runs of spaces and tabs collapsed to one space.
pub(crate) fn push_trimmed<S: Sink>(out: &mut S, value: &[u8]) {
    let blank = |b: u8| b == b' ' || b == b'\t';
    // Fast path: nothing to trim or collapse (hashes, dates, hosts, ids, and single-spaced
    // values such as user agents).
    if is_trimmed(value) {
        out.put(value);
        return;
    }
    // Words separated by single spaces, copied a word at a time (after the trim, a run of
    // blanks always has a word after it).
    let mut rest = value.trim_ascii();
    while let Some(p) = rest.iter().position(|&b| blank(b)) {
        out.put(&rest[..p]);
        out.byte(b' ');
        let skip = rest[p..]
            .iter()
            .position(|&b| !blank(b))
            .unwrap_or(rest.len() - p);
        rest = &rest[p + skip..];
    }
    out.put(rest);
}

/// Appends `s` lowercased (header names; already lowercase in every SDK's list).
pub(crate) fn put_lower<S: Sink>(out: &mut S, s: &str) {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        s.bytes().for_each(|b| out.byte(b.to_ascii_lowercase()));
    } else {
        out.put(s.as_bytes());
    }
}

/// The `;`-separated names of a `SignedHeaders` list (a plain byte scan: the lists are short).
pub(crate) fn signed_names(list: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(list);
    std::iter::from_fn(move || {
        let s = rest?;
        match s.bytes().position(|b| b == b';') {
            Some(p) => {
                rest = Some(&s[p + 1..]);
                Some(&s[..p])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}

/// Headers snapshotted once per request, so each signed name is a scan of short strings
/// rather than a parse into a `HeaderName` and a hash lookup.
const SNAPSHOT: usize = 16;

/// Appends the canonical headers block (each `name:value\n`) for the signed header list.
pub fn canonical_headers(
    out: &mut Vec<u8>,
    headers: &HeaderMap,
    signed_headers: &str,
    host_fallback: Option<&str>,
) {
    canonical_headers_to(out, headers, signed_headers, host_fallback);
}

pub(crate) fn canonical_headers_to<S: Sink>(
    out: &mut S,
    headers: &HeaderMap,
    signed_headers: &str,
    host_fallback: Option<&str>,
) {
    let mut snap: [(&[u8], &[u8]); SNAPSHOT] = [(&[], &[]); SNAPSHOT];
    let small = headers.len() <= SNAPSHOT;
    if small {
        for (slot, (k, v)) in snap.iter_mut().zip(headers.iter()) {
            *slot = (k.as_str().as_bytes(), v.as_bytes());
        }
    }
    let snap = &snap[..headers.len().min(SNAPSHOT)];
    for name in signed_names(signed_headers) {
        put_lower(out, name);
        // `HeaderMap` names are lowercase.
        let matches: u32 = if small {
            snap.iter()
                .enumerate()
                .filter(|(_, (k, _))| k.eq_ignore_ascii_case(name.as_bytes()))
                .fold(0, |m, (i, _)| m | 1 << i)
        } else {
            0
        };
        out.byte(b':');
        let mut found = 0usize;
        let mut push = |out: &mut S, v: &[u8]| {
            if found > 0 {
                out.byte(b',');
            }
            push_trimmed(out, v);
            found += 1;
        };
        if small {
            for (i, (_, v)) in snap.iter().enumerate() {
                if matches & (1 << i) != 0 {
                    push(out, v);
                }
            }
        } else {
            for v in headers.get_all(name) {
                push(out, v.as_bytes());
            }
        }
        if found == 0 && name.eq_ignore_ascii_case("host") {
            if let Some(h) = host_fallback {
                push_trimmed(out, h.as_bytes());
            }
        }
        out.byte(b'\n');
    }
}

/// Appends the whole canonical request.
pub fn canonical_request(out: &mut Vec<u8>, input: &CanonicalInput<'_>) {
    out.extend_from_slice(input.method.as_bytes());
    out.push(b'\n');
    canonical_uri(out, input.path, input.uri);
    out.push(b'\n');
    canonical_query(out, input.query, input.presigned);
    out.push(b'\n');
    canonical_headers(
        out,
        input.headers,
        input.signed_headers,
        input.host_fallback,
    );
    out.push(b'\n');
    put_lower(out, input.signed_headers);
    out.push(b'\n');
    out.extend_from_slice(input.payload_hash.as_bytes());
}

/// The SigV4 string to sign for a canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hash: [u8; 32] = Sha256::digest(canonical_request).into();
    format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(hash)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(path: &str, enc: UriEncoding) -> String {
        let mut out = Vec::new();
        canonical_uri(&mut out, path, enc);
        String::from_utf8(out).unwrap()
    }

    fn query(q: &str, skip: bool) -> String {
        let mut out = Vec::new();
        canonical_query(&mut out, q, skip);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_path_class_test_agrees_with_the_table_for_every_byte_and_place() {
        for c in 0..=255u8 {
            let want = UNRESERVED[usize::from(c)] || c == b'/';
            for len in [1, 5, 15, 16, 17, 31, 32, 40] {
                for at in [0, len / 2, len - 1] {
                    let mut s = vec![b'a'; len];
                    s[at] = c;
                    assert_eq!(unreserved_or_slash(&s), want, "{c:#x} at {at} of {len}");
                }
            }
        }
        assert!(unreserved_or_slash(b""));
    }

    #[test]
    fn s3_paths_are_not_normalised_and_encoded_once() {
        assert_eq!(uri("/b/a/../k", UriEncoding::S3), "/b/a/../k");
        assert_eq!(uri("//b//k", UriEncoding::S3), "//b//k");
        assert_eq!(uri("/b/my%20key", UriEncoding::S3), "/b/my%20key");
        assert_eq!(uri("/b/a%2Fb", UriEncoding::S3), "/b/a%2Fb");
        assert_eq!(uri("/b/a%2fb", UriEncoding::S3), "/b/a%2Fb");
        assert_eq!(uri("/b/$x+y", UriEncoding::S3), "/b/%24x%2By");
        assert_eq!(uri("/b/%E1%88%B4", UriEncoding::S3), "/b/%E1%88%B4");
        assert_eq!(uri("/b/100%", UriEncoding::S3), "/b/100%25");
        assert_eq!(uri("", UriEncoding::S3), "/");
    }

    #[test]
    fn generic_paths_normalise_and_double_encode() {
        let n = UriEncoding::Generic { normalize: true };
        assert_eq!(uri("/example1/example2/../..", n), "/");
        assert_eq!(uri("//example//", n), "/example/");
        assert_eq!(uri("/./example", n), "/example");
        assert_eq!(uri("/a%20b", n), "/a%2520b");
        let u = UriEncoding::Generic { normalize: false };
        assert_eq!(uri("//example//", u), "//example//");
    }

    #[test]
    fn query_sorted_reencoded_and_signature_skipped() {
        assert_eq!(query("b=2&a=1&a=0", false), "a=0&a=1&b=2");
        assert_eq!(query("key&x=a+b&y=%7e", false), "key=&x=a%20b&y=~");
        assert_eq!(query("X-Amz-Signature=abc&z=1", true), "z=1");
        assert_eq!(
            query("X-Amz-Signature=abc&z=1", false),
            "X-Amz-Signature=abc&z=1"
        );
        assert_eq!(query("&&a=1&", false), "a=1");
        // Already canonical: copied; lowercase escapes and escaped unreserved bytes: redone.
        assert_eq!(query("c=a%2Fb&b=%2f&a=%41", false), "a=A&b=%2F&c=a%2Fb");
        assert_eq!(query("a=%", false), "a=%25");
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        for (raw, want) in [
            ("  a  b\t\tc ", "a b c"),
            ("0123456789abcdef0123", "0123456789abcdef0123"),
            ("0123456789abcdef 0123", "0123456789abcdef 0123"),
            ("01234567\t", "01234567"),
            ("0123456789ab\tcd", "0123456789ab cd"),
            ("", ""),
        ] {
            let mut out = Vec::new();
            push_trimmed(&mut out, raw.as_bytes());
            assert_eq!(String::from_utf8(out).unwrap(), want, "{raw:?}");
        }
    }

    /// The trimming rule as written: trim ASCII whitespace, collapse runs of spaces and tabs
    /// to one space.
    fn trim_rule(v: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut in_blank = false;
        for &c in v.trim_ascii() {
            let blank = c == b' ' || c == b'\t';
            if !(blank && in_blank) {
                out.push(if blank { b' ' } else { c });
            }
            in_blank = blank;
        }
        out
    }

    /// Every value of up to eleven bytes over a letter, a space, a tab and a CR against the
    /// rule. (All of them take the trim check's short path: its block boundaries are tested
    /// in `swar`, and by the next test here.)
    #[test]
    fn trimming_agrees_with_the_rule_for_every_short_value() {
        let alphabet = [b'a', b' ', b'\t', b'\r'];
        for len in 0..=11u32 {
            let count = if len <= 8 {
                4usize.pow(len)
            } else {
                3usize.pow(len)
            };
            for n in 0..count {
                // Past eight bytes, only letters, spaces and tabs (3^11 values, not 4^11).
                let base = if len <= 8 { 4 } else { 3 };
                let v: Vec<u8> = (0..len)
                    .scan(n, |r, _| {
                        let c = alphabet[*r % base];
                        *r /= base;
                        Some(c)
                    })
                    .collect();
                let mut out = Vec::new();
                push_trimmed(&mut out, &v);
                assert_eq!(out, trim_rule(&v), "{v:?}");
            }
        }
    }

    /// Values either side of the trim check's 16-byte blocks, with blanks or a CR at every
    /// position.
    #[test]
    fn trimming_agrees_with_the_rule_across_block_boundaries() {
        for len in [15, 16, 17, 31, 32, 33, 47, 48, 49] {
            for i in 0..len {
                for piece in [&b"  "[..], b" \t", b"\t", b" ", b"\r", b"\t\t\t"] {
                    let mut v = vec![b'a'; len];
                    let end = (i + piece.len()).min(len);
                    v[i..end].copy_from_slice(&piece[..end - i]);
                    let mut out = Vec::new();
                    push_trimmed(&mut out, &v);
                    assert_eq!(out, trim_rule(&v), "{v:?}");
                }
            }
        }
    }

    #[test]
    fn decode_tolerates_bad_escapes() {
        let mut out = Vec::new();
        percent_decode(&mut out, b"%zz%4", false);
        assert_eq!(out, b"%zz%4");
        out.clear();
        percent_decode(&mut out, b"%41%", false);
        assert_eq!(out, b"A%");
    }
}
