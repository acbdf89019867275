//! Lexing the SigV4 fields: the `Authorization` value, the credential scope, `SignedHeaders`,
//! the presigned query parameters, and one pass over the request headers.
//!
//! Spec: AWS "Authenticating Requests: Using the Authorization Header" / "Using Query
//! Parameters". Everything borrows from the request; only a percent-encoded query value is
//! copied. Splitting is a plain byte scan: the inputs are short and this runs on every request.

use crate::canonical::{percent_decode, signed_names};
use crate::prepared::{classes, QuerySpans, SignedValues};
use crate::swar::find_byte;
use http::{HeaderMap, HeaderName};
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
/// hold `/` (as MinIO allows; SPEC U1 forbids only `=` and `,`).
pub(crate) fn parse_scope(cred: &str) -> Option<Scope<'_>> {
    parse_scope_sep(cred, "/")
}

/// [`parse_scope`] with the parts separated by `sep` (`/`, or `%2F` in an encoded query).
pub(crate) fn parse_scope_sep<'c>(cred: &'c str, sep: &str) -> Option<Scope<'c>> {
    // From the end, so the access key is never scanned: `/aws4_request`, then two short
    // parts, then `/yyyymmdd` (eight bytes that must all be digits).
    let rest = cred.strip_suffix("aws4_request")?.strip_suffix(sep)?;
    let (rest, service) = rest.rsplit_once(sep)?;
    let (rest, region) = rest.rsplit_once(sep)?;
    let (ak, date) = rest.split_at_checked(rest.len().checked_sub(8 + sep.len())?)?;
    let date = date.strip_prefix(sep)?;
    if ak.is_empty() || region.is_empty() || service.is_empty() {
        return None;
    }
    let date: [u8; 8] = date.as_bytes().try_into().ok()?;
    super::date::parse_ymd(&date)?;
    Some(Scope {
        access_key: ak,
        date,
        region,
        service,
    })
}

const fn token_table() -> [bool; 256] {
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

/// Bytes allowed in a `SignedHeaders` list: RFC 9110 token bytes and the `;` separating names.
static TOKEN_OR_SEMI: [bool; 256] = {
    let mut t = token_table();
    t[b';' as usize] = true;
    t
};

/// A non-empty `;` list of non-empty header-name tokens.
pub(crate) fn valid_signed_headers(list: &str) -> bool {
    !list.is_empty()
        && !list.starts_with(';')
        && !list.ends_with(';')
        && !list.contains(";;")
        && list.bytes().all(|b| TOKEN_OR_SEMI[usize::from(b)])
}

/// What a `SignedHeaders` list covers of the request (SPEC V5), found in one pass.
pub(crate) struct Coverage<'a> {
    /// The list is well formed ([`valid_signed_headers`]).
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
    pub(crate) fn scan(query: &'q str) -> Self {
        let mut q = QueryAuth::default();
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
        q
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
    pub(crate) fn plain_scope(self) -> Option<&'q str> {
        let s = parse_scope_sep(self.raw, "%2F")?;
        let plain = |v: &str| !v.bytes().any(|b| b == b'%' || b == b'+');
        (plain(s.access_key) && plain(s.region) && plain(s.service)).then_some(self.raw)
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

/// Most distinct header names remembered by [`HeaderScan`] before it falls back to walking
/// the map again.
const SNAPSHOT: usize = 16;

/// What a byte of a `SignedHeaders` list says: outside RFC 9110's token set (and not the `;`
/// separating names), or an uppercase letter.
const BAD: u8 = 1;
const UPPER: u8 = 2;

static LIST_BITS: [u8; 256] = {
    let mut t = classes(&token_table(), 0, BAD);
    let mut c = b'A';
    while c <= b'Z' {
        t[c as usize] = UPPER;
        c += 1;
    }
    t[b';' as usize] = 0;
    t
};

/// The headers SigV4 reads, found in one pass over the map, and a snapshot of the first
/// [`SNAPSHOT`] names with their first value.
pub(crate) struct HeaderScan<'a> {
    pub authorization: Option<&'a [u8]>,
    pub amz_date: Option<&'a [u8]>,
    pub date: Option<&'a [u8]>,
    pub content_sha256: Option<&'a [u8]>,
    pub token: Option<&'a [u8]>,
    pub decoded_length: Option<&'a [u8]>,
    names: [&'a str; SNAPSHOT],
    values: [&'a [u8]; SNAPSHOT],
    /// Distinct names seen (more than [`SNAPSHOT`]: the snapshot is incomplete).
    count: usize,
    /// Snapshot entries named `x-amz-*`.
    amz: u32,
    /// Snapshot entries sent more than once.
    multi: u32,
    headers: &'a HeaderMap,
}

impl<'a> HeaderScan<'a> {
    pub(crate) fn scan(headers: &'a HeaderMap) -> Self {
        let mut s = HeaderScan {
            authorization: None,
            amz_date: None,
            date: None,
            content_sha256: None,
            token: None,
            decoded_length: None,
            names: [""; SNAPSHOT],
            values: [&[]; SNAPSHOT],
            count: 0,
            amz: 0,
            multi: 0,
            headers,
        };
        let mut last: Option<&HeaderName> = None;
        for (name, value) in headers.iter() {
            // Values of one name come together: look at each name once.
            if last == Some(name) {
                s.multi |= 1 << (s.count - 1).min(31);
                continue;
            }
            last = Some(name);
            let v = Some(value.as_bytes());
            let n = name.as_str();
            let mut amz = false;
            if let Some(rest) = n.strip_prefix("x-amz-") {
                match rest {
                    "date" => s.amz_date = v,
                    "content-sha256" => s.content_sha256 = v,
                    "security-token" => s.token = v,
                    "decoded-content-length" => s.decoded_length = v,
                    _ => {}
                }
                amz = true;
            } else if name == http::header::AUTHORIZATION {
                s.authorization = v;
            } else if name == http::header::DATE {
                s.date = v;
            }
            if let (Some(slot), Some(val)) = (s.names.get_mut(s.count), s.values.get_mut(s.count)) {
                (*slot, *val) = (n, value.as_bytes());
                s.amz |= u32::from(amz) << s.count;
            }
            s.count += 1;
        }
        s
    }

    /// The snapshot entry named `name` (any case unless `lower`).
    fn find(&self, name: &str, lower: bool) -> Option<usize> {
        self.names[..self.count].iter().position(|n| {
            n.len() == name.len() && (*n == name || (!lower && n.eq_ignore_ascii_case(name)))
        })
    }

    /// Walks `signed` once: is it well formed, is `host` in it, is every `x-amz-*` header
    /// present in it, and what is each signed header's value.
    pub(crate) fn coverage(&self, signed: &str) -> Coverage<'a> {
        if self.count > SNAPSHOT {
            let all_amz = self
                .headers
                .keys()
                .all(|n| !n.as_str().starts_with("x-amz-") || is_signed(signed, n.as_str()));
            return Coverage {
                valid: valid_signed_headers(signed),
                host: is_signed(signed, "host"),
                all_amz,
                values: None,
            };
        }
        let b = signed.as_bytes();
        // Branch-free over the bytes first, then one name at a time.
        let bits = b.iter().fold(0, |acc, &c| acc | LIST_BITS[usize::from(c)]);
        let (mut valid, lower) = (!b.is_empty() && bits & BAD == 0, bits & UPPER == 0);
        let (mut host, mut seen, mut fits) = (false, 0u32, true);
        let mut values = SignedValues::new();
        let mut start = 0;
        loop {
            let end = find_byte(&b[start..], b';').map_or(b.len(), |p| start + p);
            // `;` is ASCII: the cut is a char boundary.
            let name = signed.get(start..end).unwrap_or_default();
            valid &= !name.is_empty();
            host |= name == "host" || (!lower && name.eq_ignore_ascii_case("host"));
            let found = self.find(name, lower);
            if let Some(j) = found {
                seen |= 1 << j;
                fits &= self.multi & (1 << j) == 0;
            }
            fits &= values.push(start, end, found.map(|j| self.values[j]));
            if end == b.len() {
                break;
            }
            start = end + 1;
        }
        Coverage {
            valid,
            host,
            all_amz: self.amz & !seen == 0,
            values: (valid && lower && fits).then_some(values),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let cred = |q: &'static str| QueryAuth::scan(q).credential.unwrap();
        let raw = "AK%2F20150830%2Fus-east-1%2Fs3%2Faws4_request";
        let c = cred("X-Amz-Credential=AK%2F20150830%2Fus-east-1%2Fs3%2Faws4_request");
        assert_eq!(c.plain_scope(), Some(raw));
        let s = parse_scope_sep(raw, "%2F").unwrap();
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
            assert_eq!(cred(q).plain_scope(), None, "{q}");
        }
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
        assert!(valid_signed_headers("host;x-amz-date"));
        for bad in ["", ";host", "host;", "host;;x", "ho st", "host:x"] {
            assert!(!valid_signed_headers(bad), "{bad}");
        }
    }

    #[test]
    fn header_scan_sees_each_name_once_and_overflows_safely() {
        let mut h = HeaderMap::new();
        h.append("x-amz-date", "1".parse().unwrap());
        h.append("x-amz-date", "2".parse().unwrap());
        for i in 0..20 {
            h.insert(
                HeaderName::from_bytes(format!("x-amz-meta-{i}").as_bytes()).unwrap(),
                "v".parse().unwrap(),
            );
        }
        let s = HeaderScan::scan(&h);
        assert_eq!(s.amz_date, Some(&b"1"[..]));
        assert!(!s.coverage("host;x-amz-date").all_amz);
        let all: Vec<String> = h.keys().map(|k| k.to_string()).collect();
        let c = s.coverage(&all.join(";"));
        assert!(c.all_amz && !c.host);
        // Few names: the bitmask path, with a repeated signed name not counted twice.
        let mut h = HeaderMap::new();
        h.insert("x-amz-date", "1".parse().unwrap());
        h.insert("x-amz-meta-a", "1".parse().unwrap());
        let s = HeaderScan::scan(&h);
        assert!(!s.coverage("host;x-amz-date;x-amz-date").all_amz);
        let c = s.coverage("Host;X-Amz-Date;x-amz-meta-a");
        assert!(c.all_amz && c.host && c.valid);
        assert!(!s.coverage("host;;x-amz-date").valid);
    }
}
