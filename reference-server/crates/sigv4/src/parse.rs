//! Phase one of verification: every check that needs no secret, in the SPEC's order.
//!
//! Spec: SPEC V1 and V3–V6; AWS "Authenticating Requests: Using the Authorization Header" and
//! "Using Query Parameters". Order: SigV2 -> algorithm -> header/scope shape (presigned: the six
//! parameters, `X-Amz-Expires` range) -> date present and parseable -> clock skew (header) or
//! validity window (presigned) -> region and service -> scope date -> `host` and every `x-amz-*`
//! header signed -> `x-amz-content-sha256` form.
//!
//! Invariants: nothing here sees a secret, so a [`Pending`] is safe to log through `Debug`; the
//! access key, scope and signed-header list borrow from the request unless the presigned query
//! had to be percent-decoded.

use crate::canonical::percent_decode;
use crate::error::AuthError;
use crate::secret::Signature;
use crate::{AuthKind, Config, PayloadMode, RequestView, Service};
use std::borrow::Cow;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Longest `X-Amz-Expires`: seven days.
pub const MAX_PRESIGN_EXPIRES: i64 = 604_800;

/// A request whose SigV4 fields passed every secret-free check; [`Pending::verify`] finishes.
#[derive(Debug)]
pub struct Pending<'a> {
    pub(crate) req: RequestView<'a>,
    pub(crate) kind: AuthKind,
    pub(crate) service: Service,
    pub(crate) access_key: Cow<'a, str>,
    pub(crate) scope_date: [u8; 8],
    pub(crate) region: Cow<'a, str>,
    pub(crate) signed_headers: Cow<'a, str>,
    pub(crate) signature: Signature,
    pub(crate) amz_date: [u8; 16],
    pub(crate) signed_at: OffsetDateTime,
    pub(crate) payload: PayloadMode,
    /// The payload line of the canonical request exactly as the client declared it; empty for
    /// [`PayloadMode::Absent`].
    pub(crate) payload_text: Cow<'a, str>,
    pub(crate) session_token: Option<Cow<'a, str>>,
    pub(crate) decoded_length: Option<u64>,
}

impl<'a> Pending<'a> {
    /// The access key id from the credential scope.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }
    /// `x-amz-security-token` header, or the `X-Amz-Security-Token` query parameter.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
    /// The scope's service.
    pub fn service(&self) -> Service {
        self.service
    }
    /// Header or presigned.
    pub fn kind(&self) -> AuthKind {
        self.kind
    }
    /// The declared payload mode.
    pub fn payload(&self) -> &PayloadMode {
        &self.payload
    }
    /// The request time (`X-Amz-Date` or `Date`).
    pub fn signed_at(&self) -> OffsetDateTime {
        self.signed_at
    }
}

/// The raw (still encoded) presigned parameters found in a query string.
#[derive(Default)]
struct QueryAuth<'q> {
    algorithm: Option<&'q str>,
    credential: Option<&'q str>,
    date: Option<&'q str>,
    expires: Option<&'q str>,
    signed_headers: Option<&'q str>,
    signature: Option<&'q str>,
    token: Option<&'q str>,
    content_sha256: Option<&'q str>,
    sigv2: bool,
    duplicate: bool,
}

impl<'q> QueryAuth<'q> {
    fn scan(query: &'q str) -> Self {
        let mut q = QueryAuth::default();
        for piece in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            // Keys are case-sensitive; an encoded key is decoded (rare, so usually no copy).
            let Some(key) = decode(k) else { continue };
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
                    continue;
                }
                _ => continue,
            };
            q.duplicate |= slot.is_some();
            *slot = Some(v);
        }
        q
    }

    /// Whether the query carries SigV4 query authentication at all.
    fn present(&self) -> bool {
        self.algorithm.is_some()
            || self.credential.is_some()
            || self.signature.is_some()
            || self.signed_headers.is_some()
            || self.expires.is_some()
    }
}

/// Percent-decodes a query value, borrowing when there is nothing to decode.
fn decode(v: &str) -> Option<Cow<'_, str>> {
    if !v.contains(['%', '+']) {
        return Some(Cow::Borrowed(v));
    }
    let mut out = Vec::with_capacity(v.len());
    percent_decode(&mut out, v.as_bytes(), true);
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// The five parts of `AK/yyyymmdd/region/service/aws4_request`, borrowed from `cred`.
struct Scope<'c> {
    access_key: &'c str,
    date: [u8; 8],
    region: &'c str,
    service: &'c str,
}

fn parse_scope(cred: &str) -> Option<Scope<'_>> {
    let mut it = cred.split('/');
    let (ak, date, region, service, term) =
        (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    if it.next().is_some()
        || term != "aws4_request"
        || ak.is_empty()
        || region.is_empty()
        || service.is_empty()
    {
        return None;
    }
    let date: [u8; 8] = date.as_bytes().try_into().ok()?;
    parse_ymd(&date)?;
    Some(Scope {
        access_key: ak,
        date,
        region,
        service,
    })
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn parse_ymd(b: &[u8; 8]) -> Option<Date> {
    let y = i32::try_from(digits(&b[0..4])?).ok()?;
    let m = Month::try_from(u8::try_from(digits(&b[4..6])?).ok()?).ok()?;
    let d = u8::try_from(digits(&b[6..8])?).ok()?;
    Date::from_calendar_date(y, m, d).ok()
}

fn parse_hms(h: &[u8], m: &[u8], s: &[u8]) -> Option<Time> {
    let h = u8::try_from(digits(h)?).ok()?;
    let m = u8::try_from(digits(m)?).ok()?;
    let s = u8::try_from(digits(s)?).ok()?;
    Time::from_hms(h, m, s).ok()
}

/// `yyyymmddThhmmssZ`.
pub fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let date = parse_ymd(b[0..8].try_into().ok()?)?;
    let time = parse_hms(&b[9..11], &b[11..13], &b[13..15])?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the `Date` header form.
pub fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.trim().as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let m = MONTHS.iter().position(|m| *m == &b[8..11])?;
    let month = Month::try_from(u8::try_from(m + 1).ok()?).ok()?;
    let day = u8::try_from(digits(&b[5..7])?).ok()?;
    let year = i32::try_from(digits(&b[12..16])?).ok()?;
    if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
        return None;
    }
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = parse_hms(&b[17..19], &b[20..22], &b[23..25])?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// `yyyymmddThhmmssZ` of a time, for the string to sign.
fn format_amz_date(t: OffsetDateTime) -> [u8; 16] {
    let mut out = *b"00000000T000000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, u32::try_from(t.year()).unwrap_or(0));
    put(4, 2, u32::from(u8::from(t.month())));
    put(6, 2, u32::from(t.day()));
    put(9, 2, u32::from(t.hour()));
    put(11, 2, u32::from(t.minute()));
    put(13, 2, u32::from(t.second()));
    out
}

fn valid_signed_headers(list: &str) -> bool {
    !list.is_empty()
        && list.split(';').all(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b))
        })
}

fn header_str<'a>(req: &RequestView<'a>, name: &str) -> Option<&'a [u8]> {
    req.headers.get(name).map(|v| v.as_bytes())
}

/// Parses and checks SigV4 authentication without the secret. `Ok(None)`: anonymous request.
pub fn parse<'a>(
    req: &RequestView<'a>,
    now: OffsetDateTime,
    cfg: &Config,
) -> Result<Option<Pending<'a>>, AuthError> {
    let query = req.uri.query().unwrap_or("");
    let q = QueryAuth::scan(query);
    let header = req.headers.get(http::header::AUTHORIZATION);
    if let Some(h) = header {
        if h.as_bytes().starts_with(b"AWS ") {
            return Err(AuthError::SigV2NotSupported);
        }
    }
    if q.sigv2 && !q.present() {
        return Err(AuthError::SigV2NotSupported);
    }
    match (header, q.present()) {
        (None, false) => Ok(None),
        (Some(_), true) => Err(AuthError::DuplicateAuth),
        (Some(h), false) => parse_header(req, h.as_bytes(), now, cfg).map(Some),
        (None, true) => parse_query(req, &q, now, cfg).map(Some),
    }
}

fn parse_header<'a>(
    req: &RequestView<'a>,
    value: &'a [u8],
    now: OffsetDateTime,
    cfg: &Config,
) -> Result<Pending<'a>, AuthError> {
    let malformed = AuthError::MalformedAuthorization;
    let value = std::str::from_utf8(value).map_err(|_| malformed("it is not ASCII"))?;
    let value = value.trim();
    if value.is_empty() {
        return Err(malformed("it is empty"));
    }
    let (alg, rest) = value.split_once(' ').unwrap_or((value, ""));
    if alg != ALGORITHM {
        return Err(AuthError::UnsupportedAlgorithm);
    }
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for field in rest.split(',') {
        let field = field.trim();
        let (k, v) = field
            .split_once('=')
            .ok_or(malformed("a field has no '='"))?;
        let slot = match k.trim() {
            "Credential" => &mut cred,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut sig,
            _ => return Err(malformed("unknown field")),
        };
        if slot.replace(v.trim()).is_some() {
            return Err(malformed("a field is repeated"));
        }
    }
    let cred = cred.ok_or(malformed("missing Credential"))?;
    let signed = signed.ok_or(malformed("missing SignedHeaders"))?;
    let sig = sig.ok_or(malformed("missing Signature"))?;
    let scope = parse_scope(cred).ok_or(malformed("the Credential is mal-formed"))?;
    if !valid_signed_headers(signed) {
        return Err(malformed("SignedHeaders is mal-formed"));
    }
    let signature = Signature::from_hex(sig.as_bytes())
        .ok_or(malformed("the Signature is not 64 hex digits"))?;

    let (signed_at, amz_date) = header_date(req)?;
    if (now - signed_at).abs() > cfg.max_skew {
        return Err(AuthError::RequestTimeTooSkewed);
    }
    let service = check_scope(&scope, &amz_date, cfg)?;
    check_signed_headers(req, signed)?;
    let (payload, payload_text) = match header_str(req, "x-amz-content-sha256") {
        None => (PayloadMode::Absent, Cow::Borrowed("")),
        Some(v) => payload_mode(v)?,
    };
    let session_token = match header_str(req, "x-amz-security-token") {
        None => None,
        Some(t) => Some(Cow::Borrowed(
            std::str::from_utf8(t).map_err(|_| malformed("bad token"))?,
        )),
    };
    Ok(Pending {
        req: *req,
        kind: AuthKind::Header,
        service,
        access_key: Cow::Borrowed(scope.access_key),
        scope_date: scope.date,
        region: Cow::Borrowed(scope.region),
        signed_headers: Cow::Borrowed(signed),
        signature,
        amz_date,
        signed_at,
        payload,
        payload_text,
        session_token,
        decoded_length: decoded_length(req, payload)?,
    })
}

/// `X-Amz-Date`, else `Date`; returns the time and its `yyyymmddThhmmssZ` spelling.
fn header_date(req: &RequestView<'_>) -> Result<(OffsetDateTime, [u8; 16]), AuthError> {
    if let Some(v) = header_str(req, "x-amz-date") {
        let s = std::str::from_utf8(v).map_err(|_| AuthError::MalformedDate)?;
        let t = parse_amz_date(s.trim()).ok_or(AuthError::MalformedDate)?;
        return Ok((t, format_amz_date(t)));
    }
    if let Some(v) = header_str(req, "date") {
        let s = std::str::from_utf8(v).map_err(|_| AuthError::MalformedDate)?;
        let t = parse_http_date(s).ok_or(AuthError::MalformedDate)?;
        return Ok((t, format_amz_date(t)));
    }
    Err(AuthError::MissingDate)
}

/// Region, service, and the scope date agreeing with the request date.
fn check_scope(scope: &Scope<'_>, amz_date: &[u8; 16], cfg: &Config) -> Result<Service, AuthError> {
    if scope.region != cfg.region {
        return Err(AuthError::WrongRegion {
            expected: cfg.region.clone(),
        });
    }
    let service = Service::from_scope(scope.service).ok_or(AuthError::WrongService)?;
    if scope.date[..] != amz_date[..8] {
        return Err(AuthError::MalformedAuthorization(
            "the date in the credential scope is not the request date",
        ));
    }
    Ok(service)
}

/// `host` signed, and every `x-amz-*` header present signed (SPEC V5).
fn check_signed_headers(req: &RequestView<'_>, signed: &str) -> Result<(), AuthError> {
    let is_signed = |name: &str| signed.split(';').any(|n| n.eq_ignore_ascii_case(name));
    if !is_signed("host") {
        return Err(AuthError::HostNotSigned);
    }
    for name in req.headers.keys() {
        let name = name.as_str();
        if name.starts_with("x-amz-") && !is_signed(name) {
            return Err(AuthError::UnsignedAmzHeader);
        }
    }
    Ok(())
}

fn payload_mode(v: &[u8]) -> Result<(PayloadMode, Cow<'_, str>), AuthError> {
    let s = std::str::from_utf8(v).map_err(|_| AuthError::InvalidContentSha256)?;
    let mode = match s {
        "UNSIGNED-PAYLOAD" => PayloadMode::Unsigned,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => PayloadMode::StreamingSigned,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => PayloadMode::StreamingUnsignedTrailer,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => PayloadMode::StreamingSignedTrailer,
        hex => {
            let mut h = [0u8; 32];
            hex::decode_to_slice(hex, &mut h).map_err(|_| AuthError::InvalidContentSha256)?;
            PayloadMode::Sha256(h)
        }
    };
    Ok((mode, Cow::Borrowed(s)))
}

fn decoded_length(req: &RequestView<'_>, payload: PayloadMode) -> Result<Option<u64>, AuthError> {
    if !payload.is_streaming() {
        return Ok(None);
    }
    match header_str(req, "x-amz-decoded-content-length") {
        None => Ok(None),
        Some(v) => std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or(AuthError::MalformedChunkedBody(
                "x-amz-decoded-content-length is not a number",
            )),
    }
}

fn parse_query<'a>(
    req: &RequestView<'a>,
    q: &QueryAuth<'a>,
    now: OffsetDateTime,
    cfg: &Config,
) -> Result<Pending<'a>, AuthError> {
    let bad = AuthError::MalformedPresign;
    let (Some(alg), Some(cred), Some(date), Some(expires), Some(signed), Some(sig)) = (
        q.algorithm,
        q.credential,
        q.date,
        q.expires,
        q.signed_headers,
        q.signature,
    ) else {
        return Err(bad("a required parameter is missing"));
    };
    if q.duplicate {
        return Err(bad("a parameter is repeated"));
    }
    if decode(alg).as_deref() != Some(ALGORITHM) {
        return Err(AuthError::UnsupportedAlgorithm);
    }
    let cred = decode(cred).ok_or(bad("X-Amz-Credential is not UTF-8"))?;
    let scope = parse_scope(&cred).ok_or(bad("X-Amz-Credential is mal-formed"))?;
    let (access_key, region, scope_date, scope_service) = (
        scope.access_key.to_owned(),
        scope.region.to_owned(),
        scope.date,
        scope.service.to_owned(),
    );
    let expires = match decode(expires).as_deref().map(str::parse::<i64>) {
        Some(Ok(n)) if (1..=MAX_PRESIGN_EXPIRES).contains(&n) => n,
        _ => return Err(bad("X-Amz-Expires must be a number from 1 to 604800")),
    };
    let signed = decode(signed).ok_or(bad("X-Amz-SignedHeaders is not UTF-8"))?;
    if !valid_signed_headers(&signed) {
        return Err(bad("X-Amz-SignedHeaders is mal-formed"));
    }
    let signature = decode(sig)
        .and_then(|s| Signature::from_hex(s.as_bytes()))
        .ok_or(bad("X-Amz-Signature is not 64 hex digits"))?;

    let signed_at = decode(date)
        .and_then(|d| parse_amz_date(&d))
        .ok_or(AuthError::MalformedDate)?;
    let amz_date = format_amz_date(signed_at);
    if now > signed_at + time::Duration::seconds(expires) {
        return Err(AuthError::PresignExpired);
    }
    if signed_at - now > cfg.max_skew {
        return Err(AuthError::PresignNotYetValid);
    }
    let scope = Scope {
        access_key: &access_key,
        date: scope_date,
        region: &region,
        service: &scope_service,
    };
    let service = check_scope(&scope, &amz_date, cfg)?;
    check_signed_headers(req, &signed)?;
    let (payload, payload_text) = match (header_str(req, "x-amz-content-sha256"), q.content_sha256)
    {
        (Some(v), _) => payload_mode(v)?,
        (None, Some(v)) => {
            let v = decode(v).ok_or(AuthError::InvalidContentSha256)?;
            let (mode, _) = payload_mode(v.as_bytes())?;
            (mode, Cow::Owned(v.into_owned()))
        }
        (None, None) => (PayloadMode::Unsigned, Cow::Borrowed("UNSIGNED-PAYLOAD")),
    };
    let session_token = match (header_str(req, "x-amz-security-token"), q.token) {
        (_, Some(t)) => Some(decode(t).ok_or(bad("X-Amz-Security-Token is not UTF-8"))?),
        (Some(t), None) => Some(Cow::Borrowed(
            std::str::from_utf8(t).map_err(|_| bad("x-amz-security-token is not UTF-8"))?,
        )),
        (None, None) => None,
    };
    Ok(Pending {
        req: *req,
        kind: AuthKind::Query,
        service,
        access_key: Cow::Owned(access_key),
        scope_date,
        region: Cow::Owned(region),
        signed_headers: signed,
        signature,
        amz_date,
        signed_at,
        payload,
        payload_text,
        session_token,
        decoded_length: decoded_length(req, payload)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(&format_amz_date(t), b"20150830T123600Z");
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(t));
        for bad in [
            "20150830T123600",
            "20151330T123600Z",
            "20150830T126000Z",
            "2015083OT123600Z",
            "",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad}");
        }
        assert!(parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT").is_none());
        assert!(parse_http_date("garbage").is_none());
    }

    #[test]
    fn scopes() {
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
}
