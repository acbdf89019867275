//! Authentication glue: the pure SigV4 verifier, the identity snapshot and the request body.
//!
//! Order (SPEC V3, U4): everything that needs no secret is checked first by
//! `keygate_sigv4::parse` (skew before the key is looked up), then the key is looked up
//! (unknown: `InvalidAccessKeyId`), then the signature is verified with the key's secret.
//! When the client sent no `x-amz-content-sha256` (STS clients never do) the body is buffered
//! and hashed first, because the signature covers its hash (V2). A declared hex hash is held
//! to even where no handler reads the body: with no body it must be the empty body's hash, and
//! a body sent with a GET, HEAD or DELETE is read and checked here.

use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http_body::Body as _;
use http_body_util::BodyExt;
use keygate_sigv4::{AuthError, PayloadMode, RequestView, Verified};
use sha2::{Digest, Sha256};

use crate::conn::TimedIncoming;
use crate::iam::{KeyEntry, Principal, PrincipalKind};
use crate::s3::body::{RequestBody, Source};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};
use crate::state::AppState;
use crate::store::Owner;

/// Bodies that must be hashed before the signature can be checked are buffered up to this.
pub const MAX_BUFFERED_BODY: usize = 16 * 1024 * 1024;

/// The one mapping from SigV4 failures to S3 errors.
pub fn from_auth(e: AuthError) -> S3Error {
    use S3ErrorCode::*;
    let code = match e.code() {
        "SignatureDoesNotMatch" => SignatureDoesNotMatch,
        "XAmzContentSHA256Mismatch" => XAmzContentSHA256Mismatch,
        "BadDigest" => BadDigest,
        "InvalidDigest" => InvalidDigest,
        "IncompleteBody" => IncompleteBody,
        "RequestTimeTooSkewed" => RequestTimeTooSkewed,
        "AccessDenied" => AccessDenied,
        "InvalidRequest" => InvalidRequest,
        "AuthorizationHeaderMalformed" => AuthorizationHeaderMalformed,
        "AuthorizationQueryParametersError" => AuthorizationQueryParametersError,
        "InvalidArgument" => InvalidArgument,
        "InvalidAccessKeyId" => InvalidAccessKeyId,
        "MissingContentLength" => MissingContentLength,
        "EntityTooLarge" => EntityTooLarge,
        other => return S3Error::internal(format_args!("unmapped SigV4 error code {other}")),
    };
    S3Error::with_message(code, e.message())
}

/// Who is calling.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per request, moved once into the handler's context: not worth a heap allocation"
)]
pub enum Caller {
    Anonymous,
    /// The key's entry is shared with the snapshot it came from: no per-request copy.
    Signed {
        /// The credential, and the policy of its user (the parent's, for STS credentials and
        /// service accounts) in the snapshot the key was found in: read at every request (S7),
        /// with the key, in one look-up.
        key: Arc<KeyEntry>,
        verified: Verified,
    },
}

impl Caller {
    /// Reads the caller's policy again from the current snapshot, for a decision taken after
    /// the request waited on its body: an admin change (a detach, a replaced policy, the user
    /// deleted) that landed meanwhile applies to it, as S7 wants changes to apply at once. A
    /// key no longer in the snapshot has no policy, so its request is denied.
    pub fn refresh_policy(&mut self, state: &AppState) {
        if let Caller::Signed { key, .. } = self {
            let snapshot = state.identities.snapshot();
            let now = snapshot.key(&key.credential.principal.access_key);
            *key = match now {
                // The same credential and owner: the snapshot's entry is exactly the new answer.
                Some(now)
                    if Arc::ptr_eq(&now.credential, &key.credential) && now.owner == key.owner =>
                {
                    now.clone()
                }
                // The owner stays the one the request was authenticated with (X3, U5). A key
                // now holding another secret is not the credential the request was signed
                // with (its user deleted and added again, or its password changed): it has
                // no policy, as a deleted key has none.
                _ => Arc::new(KeyEntry {
                    credential: key.credential.clone(),
                    policy: now
                        .filter(|k| same_secret(&k.credential.secret, &key.credential.secret))
                        .and_then(|k| k.policy.clone()),
                    owner: key.owner,
                }),
            };
        }
    }

    pub fn verified(&self) -> Option<&Verified> {
        match self {
            Caller::Anonymous => None,
            Caller::Signed { verified, .. } => Some(verified),
        }
    }

    /// Who owns the files this caller writes (X1, X2): the key's owner as authenticated;
    /// anonymous writes (a bucket policy's) `anonymous`, the configured owner.
    pub fn owner(&self, anonymous: Owner) -> Owner {
        match self {
            Caller::Anonymous => anonymous,
            Caller::Signed { key, .. } => key.owner,
        }
    }

    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Caller::Anonymous => None,
            Caller::Signed { key, .. } => Some(&key.credential.principal),
        }
    }
}

/// Authenticates a request; returns the caller and the body, buffered if it had to be hashed.
pub async fn authenticate(
    state: &AppState,
    parts: &Parts,
    body: TimedIncoming,
) -> S3Result<(Caller, Source)> {
    let view = RequestView {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
    };
    let now = state.clock.timestamp();
    // Read where `parse` left it, as `authenticate_head` does.
    let parsed = keygate_sigv4::parse(&view, now, &state.sigv4);
    let pending = match parsed {
        Err(e) => return Err(from_auth(e)),
        Ok(None) => return Ok((Caller::Anonymous, Source::Stream(body))),
        Ok(Some(ref pending)) => pending,
    };
    let key = lookup(state, now, pending.access_key(), pending.session_token())?;
    let credential = &key.credential;
    let (verified, source) = if matches!(pending.payload(), PayloadMode::Absent) {
        let bytes = read_limited(body, MAX_BUFFERED_BODY).await?;
        let hash: [u8; 32] = Sha256::digest(&bytes).into();
        let verified = pending
            .verify(&credential.secret, &state.key_cache, Some(hash))
            .map_err(from_auth)?;
        (verified, Source::Buffered(Some(bytes)))
    } else {
        let verified = pending
            .verify(&credential.secret, &state.key_cache, None)
            .map_err(from_auth)?;
        let source = match *pending.payload() {
            // What every SDK's GET, HEAD and DELETE declares, with no body: one compare.
            PayloadMode::Sha256(declared) if body.is_end_stream() => {
                if declared != EMPTY_SHA256 {
                    return Err(S3Error::new(S3ErrorCode::XAmzContentSHA256Mismatch));
                }
                Source::Stream(body)
            }
            // A body no handler will read, but which the request claims something of (a hex
            // hash, aws-chunked framing and chunk signatures): read and checked here.
            PayloadMode::Sha256(_)
            | PayloadMode::StreamingSigned
            | PayloadMode::StreamingUnsignedTrailer
            | PayloadMode::StreamingSignedTrailer
                if reads_no_body(&parts.method) =>
            {
                Source::Buffered(Some(
                    checked_unread_body(body, &parts.headers, &verified).await?,
                ))
            }
            _ => Source::Stream(body),
        };
        (verified, source)
    };
    unexpired(&key, now)?;
    let mut caller = Caller::Signed { key, verified };
    if matches!(source, Source::Buffered(_)) {
        // Buffering the body waited; the policy is read again after it (S7).
        caller.refresh_policy(state);
    }
    Ok((caller, source))
}

/// The SHA-256 of the empty string.
const EMPTY_SHA256: [u8; 32] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Two secrets compared in constant time.
fn same_secret(a: &keygate_sigv4::SecretKey, b: &keygate_sigv4::SecretKey) -> bool {
    keygate_sigv4::ct_eq_bytes(a.expose().as_bytes(), b.expose().as_bytes())
}

/// Methods whose handlers never read a body (no S3 operation takes one with them), so a
/// declared payload hash would go unchecked there.
fn reads_no_body(method: &http::Method) -> bool {
    matches!(
        *method,
        http::Method::GET | http::Method::HEAD | http::Method::DELETE
    )
}

/// A body no handler will read, sent with a declared payload (V2: a hex hash, or aws-chunked
/// with its chunk signatures and trailer): read (up to [`MAX_BUFFERED_BODY`]) and checked
/// here, as the handler of a PUT would.
#[cold]
async fn checked_unread_body(
    body: TimedIncoming,
    headers: &http::HeaderMap,
    verified: &Verified,
) -> S3Result<Bytes> {
    let limit = MAX_BUFFERED_BODY as u64;
    let body = RequestBody::new(Source::Stream(body), headers, Some(verified), limit)?;
    let (bytes, _) = body.collect(MAX_BUFFERED_BODY).await?;
    Ok(bytes)
}

/// Authenticates a request whose signature does not cover a body hash the server must
/// compute (every request with an `x-amz-content-sha256` header, and presigned ones): the
/// synchronous core of [`authenticate`], without I/O.
pub fn authenticate_head(state: &AppState, parts: &Parts) -> S3Result<Caller> {
    let view = RequestView {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
    };
    let now = state.clock.timestamp();
    // Read where `parse` left it: moving a `Pending` (some 600 bytes) out showed in profiles.
    let parsed = keygate_sigv4::parse(&view, now, &state.sigv4);
    let pending = match parsed {
        Err(e) => return Err(from_auth(e)),
        Ok(None) => return Ok(Caller::Anonymous),
        Ok(Some(ref pending)) => pending,
    };
    if matches!(pending.payload(), PayloadMode::Absent) {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The payload hash must be computed from the body.",
        ));
    }
    let key = lookup(state, now, pending.access_key(), pending.session_token())?;
    let verified = pending
        .verify(&key.credential.secret, &state.key_cache, None)
        .map_err(from_auth)?;
    unexpired(&key, now)?;
    Ok(Caller::Signed { key, verified })
}

/// STS credentials past their expiry at `now` (S6), for a request whose signature checked.
fn unexpired(key: &KeyEntry, now: keygate_sigv4::Timestamp) -> S3Result<()> {
    let expires = key.credential.principal.expires;
    if expires.is_some_and(|e| e <= now.unix_seconds()) {
        return Err(S3Error::new(S3ErrorCode::ExpiredToken));
    }
    Ok(())
}

/// Finds the credential (and its user's policy) for `access_key` at `now` (the time the
/// signature was checked against: one clock read per request) and applies the session-token
/// rules (SPEC S6, A6): an STS key needs its own token; any other key refuses a token. Expiry
/// is checked after the signature ([`unexpired`]), but for credentials already purged, known
/// only by their token (which carries its expiry in the clear).
fn lookup(
    state: &AppState,
    now: keygate_sigv4::Timestamp,
    access_key: &str,
    token: Option<&str>,
) -> S3Result<Arc<KeyEntry>> {
    let now = now.unix_seconds();
    let snapshot = state.identities.snapshot();
    let Some(entry) = snapshot.key(access_key).cloned() else {
        // A purged STS credential is still recognisable as expired by its signed token. The
        // purge ran on the precise clock, which may be a tick ahead of the coarse `now`.
        let now = now.max(state.clock.now().unix_timestamp());
        let expired = token
            .and_then(|t| state.identities.verify_token(t))
            .is_some_and(|claims| claims.access_key == access_key && claims.expires <= now);
        return Err(S3Error::new(if expired {
            S3ErrorCode::ExpiredToken
        } else {
            S3ErrorCode::InvalidAccessKeyId
        }));
    };
    drop(snapshot);
    let p = &entry.credential.principal;
    match (p.kind, token) {
        (PrincipalKind::Sts, None) => Err(S3Error::with_message(
            S3ErrorCode::InvalidTokenId,
            "Temporary credentials need their session token.",
        )),
        (PrincipalKind::Sts, Some(t)) => {
            let expected = p.session_token.as_deref().unwrap_or_default();
            // One barrier for the whole token (~90 bytes), not one per byte.
            if !keygate_sigv4::ct_eq_bytes(t.as_bytes(), expected.as_bytes()) {
                return Err(S3Error::new(S3ErrorCode::InvalidTokenId));
            }
            // Expiry is told after the signature is checked (`unexpired`), so a bad
            // signature is answered as one whether or not the credentials still live.
            Ok(entry)
        }
        (_, Some(_)) => Err(S3Error::with_message(
            S3ErrorCode::InvalidTokenId,
            "A session token was sent with credentials that do not take one.",
        )),
        (_, None) => Ok(entry),
    }
}

async fn read_limited(mut body: TimedIncoming, max: usize) -> S3Result<Bytes> {
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(S3Error::from)?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > max {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    "Bodies over 16 MiB must be sent with an x-amz-content-sha256 header.",
                ));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_hash_is_the_hash_of_nothing() {
        assert_eq!(EMPTY_SHA256, <[u8; 32]>::from(Sha256::digest(b"")));
    }
}
