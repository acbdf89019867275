//! Lexing the SigV4 fields: the `Authorization` value, the credential scope, `SignedHeaders`,
//! the presigned query parameters.
//!
//! Spec: AWS "Authenticating Requests: Using the Authorization Header" / "Using Query
//! Parameters". Everything borrows from the request; only a percent-encoded query value is
//! copied. Splitting is a plain byte scan: the inputs are short and this runs on every request.

use crate::canonical::percent_decode;
use crate::prepared::QuerySpans;
use crate::secret::Signature;
use crate::swar::{each_match, find_byte};
use std::borrow::Cow;

/// Splits `s` at the first `sep` byte (ASCII), or `None`.
pub(crate) fn cut(s: &str, sep: u8) -> Option<(&str, &str)> {
    let p = find_byte(s.as_bytes(), sep)?;
    Some((&s[..p], &s[p + 1..]))
}

/// The three fields of `AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..`.
pub(crate) struct AuthzFields<'a> {
    pub credential: &'a str,
    pub signed_headers: &'a str,
    pub signature: &'a str,
}

/// Parses the fields after the algorithm; the error names what is wrong.
pub(crate) fn authz_fields(rest: &str) -> Result<AuthzFields<'_>, &'static str> {
    sdk_layout(rest).map_or_else(|| any_layout(rest), Ok)
}

/// The layout every AWS SDK sends, `Credential=C, SignedHeaders=H, Signature=S`, read without
/// the general loop; `None` for anything else (other order or spacing, blanks around a value,
/// a `,` in the signature), which [`any_layout`] then reads, so both give the same fields.
fn sdk_layout(rest: &str) -> Option<AuthzFields<'_>> {
    // After a `,`: at most one space, then the next key.
    fn next(s: &str) -> &str {
        s.strip_prefix(' ').unwrap_or(s)
    }
    let r = rest.strip_prefix("Credential=")?;
    let (credential, r) = cut(r, b',')?;
    let r = next(r).strip_prefix("SignedHeaders=")?;
    let (signed_headers, r) = cut(r, b',')?;
    let signature = next(r).strip_prefix("Signature=")?;
    let blank_edge = |v: &str| {
        let b = v.as_bytes();
        b.first().is_some_and(u8::is_ascii_whitespace)
            || b.last().is_some_and(u8::is_ascii_whitespace)
    };
    let plain = ![credential, signed_headers, signature]
        .into_iter()
        .any(blank_edge)
        && find_byte(signature.as_bytes(), b',').is_none();
    plain.then_some(AuthzFields {
        credential,
        signed_headers,
        signature,
    })
}

/// The whole `Authorization` value as every AWS SDK sends it:
/// `AWS4-HMAC-SHA256 Credential=C, SignedHeaders=H, Signature=` and 64 hex digits, nothing
/// before or after. Its fields and decoded signature are then exactly what the general path
/// (trim, algorithm, [`authz_fields`], hex decoding) gives; `None` for anything else, which
/// that path then reads (and names the fault of).
///
/// Cost: no trim, no search for the algorithm's end, and none for a `,` in the signature
/// (hex has none). Inlined: its fields came back through memory, and reading them as wider
/// words than they were written stalled on store forwarding.
#[inline]
pub(crate) fn sdk_authorization(v: &str) -> Option<(AuthzFields<'_>, Signature)> {
    fn next(s: &str) -> &str {
        s.strip_prefix(' ').unwrap_or(s)
    }
    let blank_edge = |s: &str| {
        let b = s.as_bytes();
        b.first().is_some_and(u8::is_ascii_whitespace)
            || b.last().is_some_and(u8::is_ascii_whitespace)
    };
    let r = v.strip_prefix("AWS4-HMAC-SHA256 Credential=")?;
    let (credential, r) = cut(r, b',')?;
    let r = next(r).strip_prefix("SignedHeaders=")?;
    let (signed_headers, r) = cut(r, b',')?;
    let hex = next(r).strip_prefix("Signature=")?;
    let signature = Signature::from_hex(hex.as_bytes())?;
    if blank_edge(credential) || blank_edge(signed_headers) {
        return None;
    }
    Some((
        AuthzFields {
            credential,
            signed_headers,
            signature: hex,
        },
        signature,
    ))
}

/// Any order and spacing of the three fields.
fn any_layout(mut rest: &str) -> Result<AuthzFields<'_>, &'static str> {
    let (mut cred, mut signed, mut sig) = (None, None, None);
    loop {
        let (field, tail) = cut(rest, b',').unwrap_or((rest, ""));
        let (k, v) = cut(field.trim_ascii(), b'=').ok_or("a field has no '='")?;
        let slot = match k.trim_ascii() {
            "Credential" => &mut cred,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut sig,
            _ => return Err("unknown field"),
        };
        if slot.replace(v.trim_ascii()).is_some() {
            return Err("a field is repeated");
        }
        if tail.is_empty() {
            break;
        }
        rest = tail;
    }
    Ok(AuthzFields {
        credential: cred.ok_or("missing Credential")?,
        signed_headers: signed.ok_or("missing SignedHeaders")?,
        signature: sig.ok_or("missing Signature")?,
    })
}

/// The five parts of `AK/yyyymmdd/region/service/aws4_request`, borrowed from the credential.
pub(crate) struct Scope<'c> {
    pub access_key: &'c str,
    pub date: [u8; 8],
    pub region: &'c str,
    pub service: &'c str,
}

/// The last four parts are fixed, so the access key is everything before them and may itself
/// hold `/` (as MinIO allows; SPEC U1 forbids only `=` and `,`). Inlined, as
/// [`sdk_authorization`] is.
#[inline]
pub(crate) fn parse_scope(cred: &str) -> Option<Scope<'_>> {
    parse_scope_sep(cred, b"/")
}

/// [`parse_scope`] with the parts separated by `sep` (`/`, or `%2F` in an encoded query; a
/// constant, so every comparison with it is inlined).
pub(crate) fn parse_scope_sep<'c, const N: usize>(
    cred: &'c str,
    sep: &[u8; N],
) -> Option<Scope<'c>> {
    // From the end, so the access key is never scanned: `/aws4_request`, then two short
    // parts, then `/yyyymmdd` (eight bytes that must all be digits).
    let rest = cred.strip_suffix("aws4_request")?;
    let rest = rest.get(..rest.len().checked_sub(N)?)?;
    if cred.as_bytes().get(rest.len()..rest.len() + N)? != sep {
        return None;
    }
    let (rest, service) = rsplit_sep(rest, sep)?;
    let (rest, region) = rsplit_sep(rest, sep)?;
    let (ak, date) = rest.split_at_checked(rest.len().checked_sub(8 + N)?)?;
    let (date_sep, date) = date.as_bytes().split_at(N);
    if date_sep != sep || ak.is_empty() || region.is_empty() || service.is_empty() {
        return None;
    }
    let date: [u8; 8] = date.try_into().ok()?;
    super::date::ymd(&date)?;
    Some(Scope {
        access_key: ak,
        date,
        region,
        service,
    })
}

/// `s.rsplit_once(sep)` for an ASCII `sep`, by a backward byte scan: the parts it skips are
/// short (a region, a service), where a substring searcher's set-up costs more than the scan.
fn rsplit_sep<'c, const N: usize>(s: &'c str, sep: &[u8; N]) -> Option<(&'c str, &'c str)> {
    let b = s.as_bytes();
    let at = (0..=b.len().checked_sub(N)?)
        .rev()
        .find(|&i| b[i..].first_chunk::<N>() == Some(sep))?;
    // `sep` is ASCII, so both cuts are char boundaries.
    Some((s.get(..at)?, s.get(at + N..)?))
}

pub(crate) const fn token_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'_' | b'.' | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*'
            )
            || matches!(c, b'+' | b'^' | b'`' | b'|' | b'~');
        i += 1;
    }
    t
}

/// The raw (still encoded) presigned parameters found in a query string.
#[derive(Default)]
pub(crate) struct QueryAuth<'q> {
    pub algorithm: Option<Param<'q>>,
    pub credential: Option<Param<'q>>,
    pub date: Option<Param<'q>>,
    pub expires: Option<Param<'q>>,
    pub signed_headers: Option<Param<'q>>,
    pub signature: Option<Param<'q>>,
    pub token: Option<Param<'q>>,
    pub content_sha256: Option<Param<'q>>,
    pub sigv2: bool,
    pub duplicate: bool,
    /// Every parameter, for the canonical query.
    pub spans: Option<QuerySpans>,
}

impl<'q> QueryAuth<'q> {
    /// Fills an empty (default) `QueryAuth` from `query`, in place: the struct is a few
    /// hundred bytes, and returning it by value copied it on every request.
    pub(crate) fn scan(&mut self, query: &'q str) {
        if query.is_empty() {
            // Most object requests: nothing to find, and no spans to carry (the canonical
            // query of an empty query is empty either way).
            return;
        }
        let q = self;
        let spans = QuerySpans::scan(query, |k, v, (key_escaped, escaped)| {
            // Keys are case-sensitive; an encoded key is decoded (rare).
            let key = match key_escaped {
                false => Cow::Borrowed(k),
                true => match decode(k) {
                    Some(key) => key,
                    None => return,
                },
            };
            let slot = match &*key {
                "X-Amz-Algorithm" => &mut q.algorithm,
                "X-Amz-Credential" => &mut q.credential,
                "X-Amz-Date" => &mut q.date,
                "X-Amz-Expires" => &mut q.expires,
                "X-Amz-SignedHeaders" => &mut q.signed_headers,
                "X-Amz-Signature" => &mut q.signature,
                "X-Amz-Security-Token" => &mut q.token,
                "X-Amz-Content-Sha256" => &mut q.content_sha256,
                "AWSAccessKeyId" => {
                    q.sigv2 = true;
                    return;
                }
                _ => return,
            };
            q.duplicate |= slot.is_some();
            *slot = Some(Param { raw: v, escaped });
        });
        q.spans = Some(spans);
    }

    /// Whether the query carries SigV4 query authentication at all.
    pub(crate) fn present(&self) -> bool {
        self.algorithm.is_some()
            || self.credential.is_some()
            || self.signature.is_some()
            || self.signed_headers.is_some()
            || self.expires.is_some()
    }
}

/// A raw query value, and whether it holds a `%` or `+` to decode.
#[derive(Clone, Copy)]
pub(crate) struct Param<'q> {
    raw: &'q str,
    escaped: bool,
}

impl<'q> Param<'q> {
    /// The decoded value, borrowed when there is nothing to decode.
    pub(crate) fn decode(self) -> Option<Cow<'q, str>> {
        match self.escaped {
            false => Some(Cow::Borrowed(self.raw)),
            true => decode(self.raw),
        }
    }

    /// The raw value, when it is a credential scope whose only escapes are the `%2F`
    /// separators (what every SDK sends): its parts then read the same encoded or decoded, and
    /// nothing needs decoding or copying.
    /// Returned with its parts, read once.
    ///
    /// Read forwards from the escapes themselves: exactly four, all `%2F`, and no `+` (then
    /// the parts between them are what [`parse_scope_sep`] finds from the end, and hold no
    /// escape). One vector pass finds them.
    pub(crate) fn plain_scope(self) -> Option<(&'q str, Scope<'q>)> {
        let b = self.raw.as_bytes();
        let (mut at, mut n, mut other) = ([0usize; 4], 0, false);
        each_match(
            b,
            |c| (c == b'%') | (c == b'+'),
            |i| match (b[i], at.get_mut(n)) {
                (b'%', Some(slot)) => {
                    *slot = i;
                    n += 1;
                }
                // A `+`, or a fifth `%`.
                _ => other = true,
            },
        );
        if other || n != 4 || at.iter().any(|&i| b.get(i + 1..i + 3) != Some(b"2F")) {
            return None;
        }
        let part = |from: usize, to: usize| self.raw.get(from + 3..to);
        let (access_key, date) = (self.raw.get(..at[0])?, part(at[0], at[1])?);
        let (region, service) = (part(at[1], at[2])?, part(at[2], at[3])?);
        let date: [u8; 8] = date.as_bytes().try_into().ok()?;
        let ok = !access_key.is_empty()
            && !region.is_empty()
            && !service.is_empty()
            && self.raw.get(at[3] + 3..) == Some("aws4_request");
        super::date::ymd(&date)?;
        ok.then_some((
            self.raw,
            Scope {
                access_key,
                date,
                region,
                service,
            },
        ))
    }
}

/// Where `inner`, a slice of `outer`, starts and ends in it.
pub(crate) fn span_in(outer: &str, inner: &str) -> (usize, usize) {
    let start = (inner.as_ptr() as usize).wrapping_sub(outer.as_ptr() as usize);
    (start, start + inner.len())
}

/// Percent-decodes a query value, borrowing when there is nothing to decode.
pub(crate) fn decode(v: &str) -> Option<Cow<'_, str>> {
    if !v.bytes().any(|b| b == b'%' || b == b'+') {
        return Some(Cow::Borrowed(v));
    }
    let mut out = Vec::with_capacity(v.len());
    percent_decode(&mut out, v.as_bytes(), true);
    String::from_utf8(out).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backward_split_agrees_with_rsplit_once() {
        for s in [
            "",
            "a/b/c",
            "/",
            "ab",
            "a%2Fb%2Fc",
            "a%2F",
            "%2Fb",
            "a%2%2Fb",
            "é/ü%2Fx",
        ] {
            for sep in ["/", "%2F"] {
                let got = match sep {
                    "/" => rsplit_sep(s, b"/"),
                    _ => rsplit_sep(s, b"%2F"),
                };
                assert_eq!(got, s.rsplit_once(sep), "{s:?} {sep:?}");
            }
        }
    }

    #[test]
    fn scopes() {
        let s = parse_scope("team/ak/20150830/us-east-1/s3/aws4_request").unwrap();
        assert_eq!(s.access_key, "team/ak");
        let s = parse_scope("AK/20150830/us-east-1/s3/aws4_request").unwrap();
        assert_eq!(
            (s.access_key, s.region, s.service),
            ("AK", "us-east-1", "s3")
        );
        for bad in [
            "AK/20150830/us-east-1/s3",
            "AK/20150830/us-east-1/s3/aws4_request/x",
            "AK/2015083/us-east-1/s3/aws4_request",
            "AK/20150830/us-east-1/s3/aws5_request",
            "/20150830/us-east-1/s3/aws4_request",
            "AK/20150830//s3/aws4_request",
        ] {
            assert!(parse_scope(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn encoded_scopes_are_read_in_place_only_when_plain() {
        let cred = |query: &'static str| {
            let mut q = QueryAuth::default();
            q.scan(query);
            q.credential.unwrap()
        };
        let raw = "AK%2F20150830%2Fus-east-1%2Fs3%2Faws4_request";
        let c = cred("X-Amz-Credential=AK%2F20150830%2Fus-east-1%2Fs3%2Faws4_request");
        assert_eq!(c.plain_scope().map(|(r, _)| r), Some(raw));
        let s = parse_scope_sep(raw, b"%2F").unwrap();
        assert_eq!(
            (s.access_key, s.region, s.service),
            ("AK", "us-east-1", "s3")
        );
        assert_eq!(span_in(raw, s.region), (16, 25));
        for q in [
            "X-Amz-Credential=team%2Fak%2F20150830%2Fus-east-1%2Fs3%2Faws4_request",
            "X-Amz-Credential=A+K%2F20150830%2Fus-east-1%2Fs3%2Faws4_request",
            "X-Amz-Credential=AK%2f20150830%2fus-east-1%2fs3%2faws4_request",
            "X-Amz-Credential=AK/20150830/us-east-1/s3/aws4_request",
        ] {
            assert!(cred(q).plain_scope().is_none(), "{q}");
        }
    }

    #[test]
    fn the_forward_scope_reader_agrees_with_the_backward_one() {
        // By definition: the scope read from the end, with no escape left in its parts.
        fn by_definition(raw: &str) -> Option<(&str, [u8; 8], &str, &str)> {
            let s = parse_scope_sep(raw, b"%2F")?;
            let plain = |v: &str| !v.contains(['%', '+']);
            (plain(s.access_key) && plain(s.region) && plain(s.service)).then_some((
                s.access_key,
                s.date,
                s.region,
                s.service,
            ))
        }
        const PARTS: [&str; 12] = [
            "AK",
            "%2F",
            "20150830",
            "us-east-1",
            "s3",
            "aws4_request",
            "%2f",
            "+",
            "%",
            "2F",
            "20151399",
            "",
        ];
        let mut next = crate::test_rng(0x2545_f491_4f6c_dd1du64);
        let sdk = [
            "AK",
            "%2F",
            "20150830",
            "%2F",
            "us-east-1",
            "%2F",
            "s3",
            "%2F",
            "aws4_request",
        ];
        let mut agreed = 0;
        for round in 0..30_000 {
            let mut parts = sdk.map(str::to_owned);
            // Mostly the SDK's shape with a part or two changed, sometimes anything.
            for _ in 0..=(next() % 2) {
                let i = (next() % parts.len() as u64) as usize;
                parts[i] = PARTS[(next() % PARTS.len() as u64) as usize].to_owned();
            }
            if round % 3 == 0 {
                let j = (next() % parts.len() as u64) as usize;
                parts.swap(0, j);
            }
            let raw = parts.concat();
            let got = Param {
                raw: &raw,
                escaped: true,
            }
            .plain_scope()
            .map(|(r, s)| (r, (s.access_key, s.date, s.region, s.service)));
            let want = by_definition(&raw).map(|s| (raw.as_str(), s));
            assert_eq!(got, want, "{raw:?}");
            agreed += usize::from(got.is_some());
        }
        // Both answers were exercised.
        assert!(agreed > 1_000, "{agreed}");
    }

    #[test]
    fn authorization_fields_and_signed_header_lists() {
        let f = authz_fields("Credential=a/b, SignedHeaders=host;x-amz-date,Signature=ff").unwrap();
        assert_eq!(
            (f.credential, f.signed_headers, f.signature),
            ("a/b", "host;x-amz-date", "ff")
        );
        assert!(authz_fields("Credential=a, Credential=b, Signature=c").is_err());
        // The SDK layout and the general reader agree, including where the former steps aside.
        for v in [
            "Credential=a/b, SignedHeaders=host, Signature=ff",
            "Credential=a/b,SignedHeaders=host,Signature=ff",
            "Credential=a/b,  SignedHeaders=host, Signature=ff",
            "Credential= a/b, SignedHeaders=host, Signature=ff ",
            "Credential=a/b, SignedHeaders=host, Signature=ff, Signature=ee",
            "Credential=a/b, SignedHeaders=host, Signature=ff,",
            "Credential=a/b, SignedHeaders=host, Signature=",
            "Credential=a=b, SignedHeaders=host, Signature=x=y",
            "Credential=, SignedHeaders=, Signature=",
        ] {
            fn fields(f: AuthzFields<'_>) -> (&str, &str, &str) {
                (f.credential, f.signed_headers, f.signature)
            }
            let general = any_layout(v).map(fields);
            assert_eq!(authz_fields(v).map(fields), general, "{v:?}");
            if let Some(f) = sdk_layout(v) {
                assert_eq!(Ok(fields(f)), general, "{v:?}");
            }
        }
        assert!(authz_fields("Credential=a, SignedHeaders=h").is_err());
        assert!(authz_fields("").is_err());
    }

    #[test]
    fn the_sdk_authorization_reader_agrees_with_the_general_one_or_steps_aside() {
        const SIG: &str = "5db6b97b232e9337f69876315e2bce14b0e78a56393f7df981735cb686173a20";
        let sdk = format!(
            "AWS4-HMAC-SHA256 Credential=AK/20250115/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature={SIG}"
        );
        let upper = sdk.replace(SIG, &SIG.to_uppercase());
        let mut values = vec![
            sdk.clone(),
            upper,
            sdk.replace(", ", ","),
            sdk.replace(", S", ",  S"),
            sdk.replace("Credential=", "Credential= "),
            sdk.replace("/aws4_request,", "/aws4_request ,"),
            sdk.replace("x-amz-date,", "x-amz-date\t,"),
            sdk.replace("=host", "=\thost"),
            sdk.replace("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256  "),
            sdk.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"),
            sdk.replace(&SIG[..2], "5,"),
            sdk.replace(&SIG[..2], "5g"),
            format!("{sdk} "),
            format!(" {sdk}"),
            format!("{sdk}0"),
            sdk[..sdk.len() - 1].to_owned(),
            format!("{sdk}, Signature={SIG}"),
            sdk.replace("SignedHeaders=host;x-amz-date", "SignedHeaders="),
            sdk.replace(
                "Credential=AK/20250115/us-east-1/s3/aws4_request",
                "Credential=",
            ),
            sdk.replace(", SignedHeaders=host;x-amz-date", ""),
            sdk.replace("Credential", "credential"),
            sdk.replace("AK/", "é/"),
        ];
        values.push(values[0].replace("Signature=", "Signature=,"));
        let mut fast_reads = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let general = super::super::general_authorization(v).ok().and_then(|f| {
                let sig = Signature::from_hex(f.signature.as_bytes())?;
                Some((f.credential, f.signed_headers, sig.to_hex()))
            });
            if let Some((f, sig)) = sdk_authorization(v) {
                fast_reads.push(i);
                assert_eq!(
                    Some((f.credential, f.signed_headers, sig.to_hex())),
                    general,
                    "{v:?}"
                );
            }
        }
        // The SDK's layout (either case of hex, with or without the spaces), also with empty
        // or non-ASCII fields, which later checks judge, takes the fast reader; the test
        // fails if it silently never does.
        assert_eq!(fast_reads, [0, 1, 2, 17, 18, 21]);

        // Generated: the SDK value with a few characters replaced, inserted or removed.
        const CHARS: [char; 12] = [
            ' ', ',', '=', '\t', 'a', 'F', '/', ';', 'é', '\u{a0}', '0', 'S',
        ];
        let mut next = crate::test_rng(0x5eed_0fa1_10c8);
        let (mut fast, mut both) = (0, 0);
        for _ in 0..50_000 {
            let mut v: Vec<char> = sdk.chars().collect();
            for _ in 0..=(next() % 3) {
                let at = (next() % (v.len() as u64 + 1)) as usize;
                let c = CHARS[(next() % CHARS.len() as u64) as usize];
                match (next() % 3, at < v.len()) {
                    (0, true) => v[at] = c,
                    (1, true) => drop(v.remove(at)),
                    _ => v.insert(at, c),
                }
            }
            let v: String = v.into_iter().collect();
            let general = super::super::general_authorization(&v).ok().and_then(|f| {
                let sig = Signature::from_hex(f.signature.as_bytes())?;
                Some((f.credential, f.signed_headers, sig.to_hex()))
            });
            both += usize::from(general.is_some());
            if let Some((f, sig)) = sdk_authorization(&v) {
                fast += 1;
                let got = Some((f.credential, f.signed_headers, sig.to_hex()));
                assert_eq!(got, general, "{v:?}");
            }
        }
        // Most changes inside the credential or the list keep the layout: the fast reader
        // answers often, and the general one reads more (other spacing, other order).
        assert!(fast > 5_000 && both > fast, "fast {fast}, general {both}");
    }
}
