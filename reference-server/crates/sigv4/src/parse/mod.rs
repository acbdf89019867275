//! Phase one of verification: every check that needs no secret, in the SPEC's order.
//!
//! Spec: SPEC V1 and V3–V6; AWS "Authenticating Requests: Using the Authorization Header" and
//! "Using Query Parameters". Order: SigV2 -> algorithm -> header/scope shape (presigned: the six
//! parameters, `X-Amz-Expires` range) -> date present and parseable -> clock skew (header) or
//! validity window (presigned) -> region and service -> scope date -> `host` and every `x-amz-*`
//! header signed -> `x-amz-content-sha256` form. Before all of it, a signed request with a
//! header these checks read sent twice is refused (400), as is one without `Host` once the
//! signed list is read. Presigned URLs answer a bad algorithm, scope or date with
//! `AuthorizationQueryParametersError` naming the parameter, as AWS does.
//!
//! Invariants: nothing here sees a secret, and `Debug` of a [`Pending`] leaves out the headers,
//! the query and the session token, so it is safe to log; the access key, scope and
//! signed-header list borrow from the request unless the presigned query had to be
//! percent-decoded. The same passes also keep what the canonical request needs (each
//! signed header's value, the query's parameter spans: `prepared`), so verification scans the
//! request no further.

mod date;
mod fields;
mod headers;

pub use date::{parse_amz_date, parse_http_date, Timestamp};

use crate::error::AuthError;
use crate::prepared::{QuerySpans, SignedValues};
use crate::secret::{decode_hex32, Signature};
use crate::swar::same_bytes;
use crate::{AuthKind, Config, PayloadMode, RequestView, Service};
pub(crate) use date::offset_date_time;
use date::{amz_date_seconds, format_amz_date};
use fields::{authz_fields, parse_scope, span_in, QueryAuth, Scope};
pub(crate) use headers::CanonicalValues;
use headers::{Coverage, HeaderScan};
use std::borrow::Cow;
use time::OffsetDateTime;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Longest `X-Amz-Expires`: seven days.
pub const MAX_PRESIGN_EXPIRES: i64 = 604_800;

/// A request whose SigV4 fields passed every secret-free check; [`Pending::verify`] finishes.
/// `Debug` shows what identifies the request, not its headers, query or session token.
pub struct Pending<'a> {
    pub(crate) req: RequestView<'a>,
    pub(crate) kind: AuthKind,
    pub(crate) service: Service,
    /// `AK/yyyymmdd/region/service/aws4_request`; for presigned URLs percent-decoded, unless its
    /// only escapes are the `%2F` separators (then as sent, read in place).
    pub(crate) credential: Cow<'a, str>,
    pub(crate) access_key_len: usize,
    /// Where the region is in `credential`.
    pub(crate) region_span: (usize, usize),
    pub(crate) scope_date: [u8; 8],
    pub(crate) signed_headers: Cow<'a, str>,
    pub(crate) signature: Signature,
    pub(crate) amz_date: [u8; 16],
    /// Seconds since the epoch.
    pub(crate) signed_at: i64,
    pub(crate) payload: PayloadMode,
    /// The payload line of the canonical request exactly as the client declared it; empty for
    /// [`PayloadMode::Absent`].
    pub(crate) payload_text: Cow<'a, [u8]>,
    pub(crate) session_token: Option<Cow<'a, str>>,
    pub(crate) decoded_length: Option<u64>,
    /// Each signed header's value, found while checking coverage (absent: the general path).
    pub(crate) signed_values: Option<SignedValues<'a>>,
    /// Header values already known to be in canonical form, having passed a strict check
    /// as sent (`X-Amz-Date`, `x-amz-content-sha256`).
    pub(crate) canonical_values: CanonicalValues<'a>,
    /// The query's parameters, found while looking for the presigned ones.
    pub(crate) query: Option<QuerySpans>,
}

impl std::fmt::Debug for Pending<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("method", self.req.method)
            .field("path", &self.req.uri.path())
            .field("kind", &self.kind)
            .field("service", &self.service)
            .field("access_key", &self.access_key())
            .field("region", &self.region())
            .field("signed_headers", &self.signed_headers)
            .field("payload", &self.payload)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl<'a> Pending<'a> {
    /// The access key id from the credential scope.
    pub fn access_key(&self) -> &str {
        &self.credential[..self.access_key_len]
    }
    /// The scope's region (checked equal to the server's).
    pub(crate) fn region(&self) -> &str {
        let (start, end) = self.region_span;
        self.credential.get(start..end).unwrap_or_default()
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
        date::offset_date_time(self.signed_at)
    }
}

/// Parses and checks SigV4 authentication without the secret. `Ok(None)`: anonymous request.
///
/// Inlined so that the [`Pending`] (a few hundred bytes of spans) is built where the caller
/// keeps it instead of being copied out of this frame.
#[inline(always)]
pub fn parse<'a>(
    req: &RequestView<'a>,
    now: impl Into<Timestamp>,
    cfg: &Config,
) -> Result<Option<Pending<'a>>, AuthError> {
    let now = now.into();
    let query = req.uri.query().unwrap_or("");
    let mut q = QueryAuth::default();
    q.scan(query);
    let h = HeaderScan::scan(req.headers);
    if h.authorization.is_some_and(|v| v.starts_with(b"AWS ")) || (q.sigv2 && !q.present()) {
        return Err(AuthError::SigV2NotSupported);
    }
    match (h.authorization, q.present()) {
        (None, false) => Ok(None),
        _ if h.repeated.is_some() => Err(repeated(h.repeated)),
        (Some(_), true) => Err(AuthError::DuplicateAuth),
        (Some(v), false) => parse_header(req, &h, &q, v, now, cfg).map(Some),
        (None, true) => parse_query(req, &h, &q, now, cfg).map(Some),
    }
}

/// A signed request with a header it reads sent twice (see `HeaderScan::repeated`).
#[cold]
fn repeated(name: Option<&'static str>) -> AuthError {
    match name {
        Some("authorization") => {
            AuthError::MalformedAuthorization("the Authorization header is repeated")
        }
        Some(name) => AuthError::RepeatedHeader(name),
        None => AuthError::MalformedAuthorization("a header is repeated"),
    }
}

#[inline(always)]
fn parse_header<'a>(
    req: &RequestView<'a>,
    h: &HeaderScan<'a>,
    q: &QueryAuth<'a>,
    value: &'a [u8],
    now: Timestamp,
    cfg: &Config,
) -> Result<Pending<'a>, AuthError> {
    let malformed = AuthError::MalformedAuthorization;
    // What every SDK sends is read in one step; anything else by the general reader, whose
    // checks (in the SPEC's order) name what is wrong.
    let value = std::str::from_utf8(value).map_err(|_| malformed("it is not ASCII"))?;
    let (f, signature) = match fields::sdk_authorization(value) {
        Some((f, signature)) => (f, Some(signature)),
        None => (general_authorization(value)?, None),
    };
    let scope = parse_scope(f.credential).ok_or(malformed("the Credential is mal-formed"))?;
    let coverage = h.coverage(f.signed_headers);
    if !coverage.valid {
        return Err(malformed("SignedHeaders is mal-formed"));
    }
    if !h.host_sent && req.uri.authority().is_none() {
        return Err(AuthError::MissingHost);
    }
    let signature = match signature {
        Some(s) => s,
        None => Signature::from_hex(f.signature.as_bytes())
            .ok_or(malformed("the Signature is not 64 hex digits"))?,
    };

    let (signed_at, amz_date) = header_date(h)?;
    if now.nanos_since(signed_at).abs() > cfg.max_skew.whole_nanoseconds() {
        return Err(AuthError::RequestTimeTooSkewed);
    }
    let service = check_scope(&scope, &amz_date, cfg)?;
    check_coverage(&coverage)?;
    let (payload, payload_text) = match h.content_sha256 {
        None => (PayloadMode::Absent, Cow::Borrowed(&b""[..])),
        // STS signs the body's hash whatever the header declares (spec-notes 75: MinIO
        // ignores it there), so an STS body can never go unsigned.
        Some(_) if service == Service::Sts => (PayloadMode::Absent, Cow::Borrowed(&b""[..])),
        Some(v) => payload_mode(v)?,
    };
    let session_token = match h.token {
        None => None,
        Some(t) => Some(Cow::Borrowed(
            std::str::from_utf8(t).map_err(|_| malformed("bad token"))?,
        )),
    };
    let canonical_values = h.canonical_values(&amz_date, &payload_text);
    Ok(Pending {
        req: *req,
        kind: AuthKind::Header,
        service,
        credential: Cow::Borrowed(f.credential),
        access_key_len: scope.access_key.len(),
        region_span: span_in(f.credential, scope.region),
        scope_date: scope.date,
        signed_headers: Cow::Borrowed(f.signed_headers),
        signature,
        amz_date,
        signed_at,
        payload,
        payload_text,
        session_token,
        decoded_length: decoded_length(h, payload)?,
        signed_values: coverage.values,
        canonical_values,
        query: q.spans,
    })
}

/// The fields of any `Authorization` value: trimmed, the algorithm, then the three
/// fields in any order and spacing.
#[cold]
fn general_authorization(value: &str) -> Result<fields::AuthzFields<'_>, AuthError> {
    let malformed = AuthError::MalformedAuthorization;
    let value = value.trim();
    if value.is_empty() {
        return Err(malformed("it is empty"));
    }
    let (alg, rest) = fields::cut(value, b' ').unwrap_or((value, ""));
    if alg != ALGORITHM {
        return Err(AuthError::UnsupportedAlgorithm);
    }
    authz_fields(rest).map_err(malformed)
}

/// `X-Amz-Date`, else `Date`; returns the time (seconds since the epoch) and its
/// `yyyymmddThhmmssZ` spelling.
fn header_date(h: &HeaderScan<'_>) -> Result<(i64, [u8; 16]), AuthError> {
    match (h.amz_date, h.date) {
        (Some(v), _) => {
            // A strictly parsed `X-Amz-Date` is already the string-to-sign spelling.
            let v = v.trim_ascii();
            let t = amz_date_seconds(v);
            let spelled: Option<[u8; 16]> = v.try_into().ok();
            t.zip(spelled).ok_or(AuthError::MalformedDate)
        }
        (None, Some(v)) => {
            let t = std::str::from_utf8(v).ok().and_then(parse_http_date);
            t.map(|t| (t.unix_timestamp(), format_amz_date(t)))
                .ok_or(AuthError::MalformedDate)
        }
        (None, None) => Err(AuthError::MissingDate),
    }
}

/// Region, service, and the scope date agreeing with the request date.
fn check_scope(scope: &Scope<'_>, amz_date: &[u8; 16], cfg: &Config) -> Result<Service, AuthError> {
    if !same_bytes(scope.region.as_bytes(), cfg.region.as_bytes()) {
        return Err(AuthError::WrongRegion {
            expected: cfg.region.clone(),
        });
    }
    let service = Service::from_scope(scope.service).ok_or(AuthError::WrongService)?;
    if !same_bytes(&scope.date, &amz_date[..8]) {
        return Err(AuthError::MalformedAuthorization(
            "the date in the credential scope is not the request date",
        ));
    }
    Ok(service)
}

/// `host` signed, and every `x-amz-*` header present signed (SPEC V5).
fn check_coverage(c: &Coverage<'_>) -> Result<(), AuthError> {
    if !c.host {
        return Err(AuthError::HostNotSigned);
    }
    if !c.all_amz {
        return Err(AuthError::UnsignedAmzHeader);
    }
    Ok(())
}

/// What an unsigned (anonymous) request's `x-amz-content-sha256` value declares: the same
/// forms as a signed request's, but the signed aws-chunked ones, whose chunk signatures need a
/// signing key, are refused (`NotChunked`). Without the header the body is unsigned.
pub fn unsigned_payload_mode(value: Option<&[u8]>) -> Result<PayloadMode, AuthError> {
    match value.map(payload_mode).transpose()?.map(|(mode, _)| mode) {
        None => Ok(PayloadMode::Unsigned),
        Some(PayloadMode::StreamingSigned | PayloadMode::StreamingSignedTrailer) => {
            Err(AuthError::NotChunked)
        }
        Some(mode) => Ok(mode),
    }
}

fn payload_mode(v: &[u8]) -> Result<(PayloadMode, Cow<'_, [u8]>), AuthError> {
    // Every GET, HEAD and DELETE an SDK sends declares the empty body's hash: compare, not decode.
    if same_bytes(v, crate::verify::EMPTY_SHA256_HEX) {
        return Ok((
            PayloadMode::Sha256(crate::verify::EMPTY_SHA256),
            Cow::Borrowed(v),
        ));
    }
    if let Some(h) = decode_hex32(v) {
        return Ok((PayloadMode::Sha256(h), Cow::Borrowed(v)));
    }
    let mode = match v {
        b"UNSIGNED-PAYLOAD" => PayloadMode::Unsigned,
        b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => PayloadMode::StreamingSigned,
        b"STREAMING-UNSIGNED-PAYLOAD-TRAILER" => PayloadMode::StreamingUnsignedTrailer,
        b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => PayloadMode::StreamingSignedTrailer,
        _ => return Err(AuthError::InvalidContentSha256),
    };
    Ok((mode, Cow::Borrowed(v)))
}

fn decoded_length(h: &HeaderScan<'_>, payload: PayloadMode) -> Result<Option<u64>, AuthError> {
    if !payload.is_streaming() {
        return Ok(None);
    }
    match h.decoded_length {
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
    h: &HeaderScan<'a>,
    q: &QueryAuth<'a>,
    now: Timestamp,
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
    if alg.decode().as_deref() != Some(ALGORITHM) {
        return Err(AuthError::BadPresignParameter(format!(
            "X-Amz-Algorithm only supports \"{ALGORITHM}\""
        )));
    }
    let (cred, plain) = match cred.plain_scope() {
        Some((raw, scope)) => (Cow::Borrowed(raw), Some(scope)),
        None => (
            cred.decode().ok_or(bad("X-Amz-Credential is not UTF-8"))?,
            None,
        ),
    };
    let scope = match plain {
        Some(scope) => scope,
        None => parse_scope(&cred).ok_or(bad("X-Amz-Credential is mal-formed"))?,
    };
    let expires = match expires.decode().as_deref().and_then(presign_expires) {
        Some(n) if (1..=MAX_PRESIGN_EXPIRES).contains(&n) => n,
        _ => return Err(bad("X-Amz-Expires must be a number from 1 to 604800")),
    };
    let signed = signed
        .decode()
        .ok_or(bad("X-Amz-SignedHeaders is not UTF-8"))?;
    let coverage = h.coverage(&signed);
    if !coverage.valid {
        return Err(bad("X-Amz-SignedHeaders is mal-formed"));
    }
    if !h.host_sent && req.uri.authority().is_none() {
        return Err(AuthError::MissingHost);
    }
    let signature = sig
        .decode()
        .and_then(|s| Signature::from_hex(s.as_bytes()))
        .ok_or(bad("X-Amz-Signature is not 64 hex digits"))?;

    let date = date.decode().ok_or_else(bad_presign_date)?;
    let signed_at = amz_date_seconds(date.as_bytes()).ok_or_else(bad_presign_date)?;
    // A strictly parsed date is already the string-to-sign spelling.
    let amz_date: [u8; 16] = date.as_bytes().try_into().unwrap_or_default();
    // How far the signing time is ahead of now. Expired: now is past the signing time plus
    // `X-Amz-Expires` (in integers, so a date near year 9999 plus a week needs no calendar).
    let ahead = -now.nanos_since(signed_at);
    if ahead + i128::from(expires) * 1_000_000_000 < 0 {
        return Err(AuthError::PresignExpired);
    }
    if ahead > cfg.max_skew.whole_nanoseconds() {
        return Err(AuthError::PresignNotYetValid);
    }
    let service = check_scope(&scope, &amz_date, cfg).map_err(|e| bad_presign_scope(e, &scope))?;
    let (access_key_len, scope_date) = (scope.access_key.len(), scope.date);
    let region_span = span_in(&cred, scope.region);
    check_coverage(&coverage)?;
    let (payload, payload_text) = match (h.content_sha256, q.content_sha256) {
        // S3's presigned URLs do not sign the body; STS signs its hash, whatever the request
        // declares (as with header auth, above).
        _ if service == Service::Sts => (PayloadMode::Absent, Cow::Borrowed(&b""[..])),
        (Some(v), _) => payload_mode(v)?,
        (None, Some(v)) => {
            let v = v.decode().ok_or(AuthError::InvalidContentSha256)?;
            let (mode, _) = payload_mode(v.as_bytes())?;
            (mode, Cow::Owned(v.into_owned().into_bytes()))
        }
        (None, None) => (
            PayloadMode::Unsigned,
            Cow::Borrowed(&b"UNSIGNED-PAYLOAD"[..]),
        ),
    };
    let session_token = match (h.token, q.token) {
        (Some(header), Some(t)) => {
            // Two tokens: which one the credential is judged by must not be this parser's
            // choice. The same one twice is no conflict.
            let t = t.decode().ok_or(bad("X-Amz-Security-Token is not UTF-8"))?;
            if header != t.as_bytes() {
                return Err(bad(
                    "X-Amz-Security-Token and the x-amz-security-token header differ",
                ));
            }
            Some(t)
        }
        (_, Some(t)) => Some(t.decode().ok_or(bad("X-Amz-Security-Token is not UTF-8"))?),
        (Some(t), None) => Some(Cow::Borrowed(
            std::str::from_utf8(t).map_err(|_| bad("x-amz-security-token is not UTF-8"))?,
        )),
        (None, None) => None,
    };
    let canonical_values = h.canonical_values(&amz_date, &payload_text);
    Ok(Pending {
        req: *req,
        kind: AuthKind::Query,
        service,
        credential: cred,
        access_key_len,
        region_span,
        scope_date,
        signed_headers: signed,
        signature,
        amz_date,
        signed_at,
        payload,
        payload_text,
        session_token,
        decoded_length: decoded_length(h, payload)?,
        signed_values: coverage.values,
        canonical_values,
        query: q.spans,
    })
}

/// `X-Amz-Expires` as a number: ASCII digits only (no sign, no spaces), as AWS reads it.
fn presign_expires(v: &str) -> Option<i64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Too many digits to be a valid lifetime: out of range, not unparseable.
    Some(v.parse::<i64>().unwrap_or(i64::MAX))
}

/// A presigned URL's `X-Amz-Date` that is not `yyyymmddThhmmssZ` (a header's answers
/// [`AuthError::MalformedDate`], 403 `AccessDenied`, instead: SPEC V3).
#[cold]
fn bad_presign_date() -> AuthError {
    AuthError::BadPresignParameter(
        "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"".to_owned(),
    )
}

/// A scope error of [`check_scope`] as a presigned URL's: about the `X-Amz-Credential`
/// parameter, not the authorization header (the wording AWS uses).
#[cold]
fn bad_presign_scope(e: AuthError, scope: &Scope<'_>) -> AuthError {
    let why = match e {
        AuthError::WrongRegion { expected } => format!(
            "the region '{}' is wrong; expecting '{expected}'",
            scope.region
        ),
        AuthError::WrongService => format!(
            "incorrect service \"{}\"; expecting \"s3\" or \"sts\"",
            scope.service
        ),
        AuthError::MalformedAuthorization(why) => why.to_owned(),
        other => return other,
    };
    AuthError::BadPresignParameter(format!(
        "Error parsing the X-Amz-Credential parameter; {why}"
    ))
}
