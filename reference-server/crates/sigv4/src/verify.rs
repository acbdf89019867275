//! Phase two: rebuild the canonical request, sign it with the cached key, compare in constant
//! time; on success, the [`Verified`] identity.
//!
//! Spec: AWS SigV4 "Create a string to sign" and "Calculate the signature"; SPEC V2 (payload
//! line), V7 (constant time). The canonical request streams into SHA-256 and the string to sign
//! into the keyed HMAC, each through a stack buffer ([`BlockSink`]): verifying a request
//! allocates only the `Verified` fields (a long access key, and for signed
//! aws-chunked uploads the boxed chunk-signing context). The pieces come from what parsing
//! prepared (each signed header's value, the query's parameter spans), with the general
//! builders of [`crate::canonical`] as the exact fallback.
//!
//! Security: the expected signature never leaves this module except as a `Signature`, which has
//! no `PartialEq` and prints nothing; errors carry no signature.

use crate::canonical::{canonical_headers_to, canonical_query_to, canonical_uri_to, put_lower};
use crate::checksum::ChecksumAlgorithm;
use crate::chunked::{ChunkDecoder, ChunkSigner};
use crate::error::AuthError;
use crate::hash::State;
use crate::key::{SigningKey, SigningKeyCache};
use crate::parse::Pending;
use crate::secret::{hex_lower, SecretKey, Signature};
use crate::sink::{Block, BlockSink, Sink, BUF};
use crate::{AuthKind, PayloadMode, Service};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// SHA-256 of the empty string, as lowercase hex.
pub(crate) const EMPTY_SHA256_HEX: &[u8; 64] =
    b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// SHA-256 of the empty string.
pub(crate) const EMPTY_SHA256: [u8; 32] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

impl Pending<'_> {
    /// The canonical request this server computes (for diagnostics and tests; never send it
    /// to a client together with a signature).
    pub fn canonical_request(&self, body_sha256: Option<[u8; 32]>) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        self.write_canonical(&mut out, body_sha256);
        out
    }

    /// The string to sign this server computes.
    pub fn string_to_sign(&self, body_sha256: Option<[u8; 32]>) -> String {
        let hash: [u8; 32] = Sha256::digest(self.canonical_request(body_sha256)).into();
        let mut out = Vec::with_capacity(256);
        self.write_string_to_sign(&mut out, &hash);
        String::from_utf8(out).unwrap_or_default()
    }

    fn write_canonical<S: Sink>(&self, out: &mut S, body_sha256: Option<[u8; 32]>) {
        let uri = self.req.uri;
        let query = uri.query().unwrap_or("");
        let presigned = self.kind == AuthKind::Query;
        let host = uri.authority().map(|a| a.as_str());
        out.put(self.req.method.as_str().as_bytes());
        out.byte(b'\n');
        canonical_uri_to(out, uri.path(), self.service.uri_encoding());
        out.byte(b'\n');
        match self.query {
            Some(q) if q.usable() => q.write(out, query, presigned),
            _ => canonical_query_to(out, query, presigned),
        }
        out.byte(b'\n');
        match &self.signed_values {
            Some(v) => {
                v.write(out, &self.signed_headers, host, &self.canonical_values);
                out.byte(b'\n');
                // Prepared only for an all-lowercase list.
                out.put(self.signed_headers.as_bytes());
            }
            None => {
                canonical_headers_to(out, self.req.headers, &self.signed_headers, host);
                out.byte(b'\n');
                put_lower(out, &self.signed_headers);
            }
        }
        out.byte(b'\n');
        if self.payload == PayloadMode::Absent {
            out.put(&hex_lower(&body_sha256.unwrap_or(EMPTY_SHA256)));
        } else {
            out.put(&self.payload_text);
        }
    }

    fn write_string_to_sign<S: Sink>(&self, out: &mut S, canonical_sha256: &[u8; 32]) {
        out.put(b"AWS4-HMAC-SHA256\n");
        out.put(&self.amz_date);
        out.byte(b'\n');
        put_scope(out, &self.scope_date, self.region(), self.service);
        out.byte(b'\n');
        out.put(&hex_lower(canonical_sha256));
    }

    /// The signature under `key`. Inlined into its one caller.
    #[inline(always)]
    fn compute_signature(&self, key: &SigningKey, body_sha256: Option<[u8; 32]>) -> Signature {
        // One buffer for both hashes: zeroed once.
        let mut buf: Block = [0; BUF];
        let hash = {
            let mut creq = BlockSink::new(State::new(), &mut buf);
            self.write_canonical(&mut creq, body_sha256);
            creq.finish()
        };
        key.sign_with(&mut buf, |sts| self.write_string_to_sign(sts, &hash))
    }

    /// Checks the signature with the secret of [`Pending::access_key`]. `body_sha256` is the
    /// SHA-256 of the body as received, needed only for [`PayloadMode::Absent`] (STS); without
    /// it the empty body's hash is used.
    pub fn verify(
        &self,
        secret: &SecretKey,
        cache: &SigningKeyCache,
        body_sha256: Option<[u8; 32]>,
    ) -> Result<Verified, AuthError> {
        let key = cache.get(
            secret,
            &self.scope_date,
            self.region(),
            self.service.as_str(),
        );
        let expected = self.compute_signature(&key, body_sha256);
        if !expected.ct_eq(&self.signature) {
            return Err(AuthError::SignatureDoesNotMatch);
        }
        // Only signed aws-chunked bodies sign again, chunk by chunk, with the key and scope:
        // one allocation for those uploads, and a small `Verified` for every other request.
        let chunked = matches!(
            self.payload,
            PayloadMode::StreamingSigned | PayloadMode::StreamingSignedTrailer
        );
        let signer = chunked.then(|| {
            Box::new(ChunkSigner {
                key,
                amz_date: self.amz_date,
                scope_date: self.scope_date,
                region: self.region().to_owned(),
                service: self.service,
                prev: self.signature,
            })
        });
        Ok(Verified {
            access_key: AccessKey::new(self.access_key()),
            session_token: self.session_token.is_some(),
            service: self.service,
            kind: self.kind,
            payload: self.payload,
            signed_at: self.signed_at,
            signer,
            decoded_length: self.decoded_length,
        })
    }
}

/// `yyyymmdd/region/service/aws4_request`
pub(crate) fn put_scope<S: Sink>(out: &mut S, date: &[u8; 8], region: &str, service: Service) {
    out.put(date);
    out.byte(b'/');
    out.put(region.as_bytes());
    out.byte(b'/');
    out.put(service.as_str().as_bytes());
    out.put(b"/aws4_request");
}

/// An access key id, inline when short (AWS's are 20 bytes), so that verifying a request does
/// not allocate for it.
#[derive(Debug)]
enum AccessKey {
    Inline { len: u8, bytes: [u8; 32] },
    Heap(Box<str>),
}

impl AccessKey {
    fn new(s: &str) -> Self {
        let mut bytes = [0u8; 32];
        match (bytes.get_mut(..s.len()), u8::try_from(s.len())) {
            (Some(dst), Ok(len)) => {
                dst.copy_from_slice(s.as_bytes());
                AccessKey::Inline { len, bytes }
            }
            _ => AccessKey::Heap(s.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // A whole `&str` was copied in: always UTF-8.
            AccessKey::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            AccessKey::Heap(s) => s,
        }
    }
}

/// A request whose SigV4 signature matched: the only way to learn who signed it. `Debug`
/// leaves out the chunk-signing context.
pub struct Verified {
    access_key: AccessKey,
    /// Whether a session token was signed with the request. The token itself is read from
    /// [`Pending::session_token`] (the caller needs it before verifying, to find the secret):
    /// copying it here cost an allocation per STS request and served no caller.
    session_token: bool,
    service: Service,
    kind: AuthKind,
    payload: PayloadMode,
    /// Seconds since the epoch.
    signed_at: i64,
    /// The chunk signing context, for the signed aws-chunked modes only.
    signer: Option<Box<ChunkSigner>>,
    decoded_length: Option<u64>,
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("access_key", &self.access_key())
            .field("service", &self.service)
            .field("kind", &self.kind)
            .field("payload", &self.payload)
            .field("signed_at", &self.signed_at())
            .field("session_token", &self.session_token)
            .field("decoded_length", &self.decoded_length)
            .field("chunk_signed", &self.signer.is_some())
            .finish()
    }
}

impl Verified {
    /// The authenticated access key id.
    pub fn access_key(&self) -> &str {
        self.access_key.as_str()
    }
    /// Whether the request carried a session token (read it, and validate it, from
    /// [`Pending::session_token`]; the signature covered it).
    pub fn has_session_token(&self) -> bool {
        self.session_token
    }
    /// The scope's service.
    pub fn service(&self) -> Service {
        self.service
    }
    /// Header or presigned.
    pub fn kind(&self) -> AuthKind {
        self.kind
    }
    /// The declared payload mode; for [`PayloadMode::Sha256`] the caller checks the body.
    pub fn payload(&self) -> &PayloadMode {
        &self.payload
    }
    /// The request time.
    pub fn signed_at(&self) -> OffsetDateTime {
        crate::parse::offset_date_time(self.signed_at)
    }
    /// `x-amz-decoded-content-length`, for aws-chunked uploads.
    pub fn decoded_length(&self) -> Option<u64> {
        self.decoded_length
    }

    /// A decoder for the aws-chunked body of the three streaming modes. `trailer` is the
    /// checksum named by `x-amz-trailer` (parse it with [`ChecksumAlgorithm::from_header_name`]);
    /// it is ignored for `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, which has no trailer.
    pub fn chunk_decoder(
        &self,
        trailer: Option<ChecksumAlgorithm>,
    ) -> Result<ChunkDecoder, AuthError> {
        // The signed modes always carry a signer (built in `verify`); without one, refuse
        // rather than decode a signed body whose chunk signatures nobody checks.
        let signer = || match self.signer.as_deref() {
            Some(s) => Ok(Some(s.clone())),
            None => Err(AuthError::NotChunked),
        };
        let (signer, trailer_mode) = match self.payload {
            PayloadMode::StreamingSigned => (signer()?, false),
            PayloadMode::StreamingSignedTrailer => (signer()?, true),
            PayloadMode::StreamingUnsignedTrailer => (None, true),
            PayloadMode::Absent | PayloadMode::Unsigned | PayloadMode::Sha256(_) => {
                return Err(AuthError::NotChunked)
            }
        };
        Ok(ChunkDecoder::new(
            signer,
            trailer_mode,
            if trailer_mode { trailer } else { None },
            self.decoded_length,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::AccessKey;

    #[test]
    fn the_empty_hash_constants_agree() {
        use sha2::{Digest, Sha256};
        let h: [u8; 32] = Sha256::digest(b"").into();
        assert_eq!(super::EMPTY_SHA256, h);
        assert_eq!(&super::hex_lower(&h), super::EMPTY_SHA256_HEX);
    }

    #[test]
    fn access_keys_of_any_length_read_back() {
        for s in [
            "",
            "AKIAIOSFODNN7EXAMPLE",
            &"k".repeat(32),
            &"k".repeat(33),
            "team/ak",
        ] {
            assert_eq!(AccessKey::new(s).as_str(), s);
        }
        assert!(matches!(
            AccessKey::new(&"k".repeat(33)),
            AccessKey::Heap(_)
        ));
    }
}
