//! Phase two: rebuild the canonical request, sign it with the cached key, compare in constant
//! time; on success, the [`Verified`] identity.
//!
//! Spec: AWS SigV4 "Create a string to sign" and "Calculate the signature"; SPEC V2 (payload
//! line), V7 (constant time). The string to sign is fed to the keyed HMAC piece by piece, so
//! verifying a request allocates only the canonical request buffer and the `Verified` fields.
//!
//! Security: the expected signature never leaves this module except as a `Signature`, which has
//! no `PartialEq` and prints nothing; errors carry no signature.

use crate::canonical::{self, CanonicalInput};
use crate::checksum::ChecksumAlgorithm;
use crate::chunked::{ChunkDecoder, ChunkSigner};
use crate::error::AuthError;
use crate::key::{finish, SigningKey, SigningKeyCache};
use crate::parse::Pending;
use crate::secret::{hex_lower, SecretKey, Signature};
use crate::{AuthKind, PayloadMode, Service};
use hmac::Mac;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

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
        canonical::string_to_sign(
            std::str::from_utf8(&self.amz_date).unwrap_or(""),
            &self.scope(),
            &self.canonical_request(body_sha256),
        )
    }

    fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            std::str::from_utf8(&self.scope_date).unwrap_or(""),
            self.region(),
            self.service.as_str()
        )
    }

    fn write_canonical(&self, out: &mut Vec<u8>, body_sha256: Option<[u8; 32]>) {
        let body_hex;
        let payload_hash = if self.payload == PayloadMode::Absent {
            body_hex = hex_lower(&body_sha256.unwrap_or(EMPTY_SHA256));
            std::str::from_utf8(&body_hex).unwrap_or("")
        } else {
            &self.payload_text
        };
        let input = CanonicalInput {
            method: self.req.method.as_str(),
            path: self.req.uri.path(),
            query: self.req.uri.query().unwrap_or(""),
            headers: self.req.headers,
            signed_headers: &self.signed_headers,
            payload_hash,
            uri: self.service.uri_encoding(),
            presigned: self.kind == AuthKind::Query,
            host_fallback: self.req.uri.authority().map(|a| a.as_str()),
        };
        canonical::canonical_request(out, &input);
    }

    fn compute_signature(&self, key: &SigningKey, body_sha256: Option<[u8; 32]>) -> Signature {
        // Typical SDK requests canonicalise to 400-900 bytes: one allocation, no regrowth.
        let mut creq = Vec::with_capacity(1024);
        self.write_canonical(&mut creq, body_sha256);
        let hash: [u8; 32] = Sha256::digest(&creq).into();
        let mut mac = key.mac();
        mac.update(b"AWS4-HMAC-SHA256\n");
        mac.update(&self.amz_date);
        mac.update(b"\n");
        update_scope(&mut mac, &self.scope_date, self.region(), self.service);
        mac.update(b"\n");
        mac.update(&hex_lower(&hash));
        finish(mac)
    }

    /// Checks the signature with the secret of [`Pending::access_key`]. `body_sha256` is the
    /// SHA-256 of the body as received, needed only for [`PayloadMode::Absent`] (STS); without
    /// it the empty body's hash is used.
    pub fn verify(
        self,
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
        Ok(Verified {
            access_key: self.access_key().to_owned(),
            session_token: self.session_token.as_deref().map(str::to_owned),
            service: self.service,
            kind: self.kind,
            payload: self.payload,
            signed_at: self.signed_at,
            key,
            seed: self.signature,
            amz_date: self.amz_date,
            scope_date: self.scope_date,
            // Only aws-chunked bodies sign again with the scope: skip the copy otherwise.
            region: if self.payload.is_streaming() {
                self.region().to_owned()
            } else {
                String::new()
            },
            decoded_length: self.decoded_length,
        })
    }
}

pub(crate) fn update_scope(mac: &mut impl Mac, date: &[u8; 8], region: &str, service: Service) {
    mac.update(date);
    mac.update(b"/");
    mac.update(region.as_bytes());
    mac.update(b"/");
    mac.update(service.as_str().as_bytes());
    mac.update(b"/aws4_request");
}

/// A request whose SigV4 signature matched: the only way to learn who signed it.
#[derive(Debug)]
pub struct Verified {
    access_key: String,
    session_token: Option<String>,
    service: Service,
    kind: AuthKind,
    payload: PayloadMode,
    signed_at: OffsetDateTime,
    key: SigningKey,
    seed: Signature,
    amz_date: [u8; 16],
    scope_date: [u8; 8],
    region: String,
    decoded_length: Option<u64>,
}

impl Verified {
    /// The authenticated access key id.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }
    /// The session token sent with the request, if any (the caller validates it).
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
    /// The declared payload mode; for [`PayloadMode::Sha256`] the caller checks the body.
    pub fn payload(&self) -> &PayloadMode {
        &self.payload
    }
    /// The request time.
    pub fn signed_at(&self) -> OffsetDateTime {
        self.signed_at
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
        let signer = || ChunkSigner {
            key: self.key.clone(),
            amz_date: self.amz_date,
            scope_date: self.scope_date,
            region: self.region.clone(),
            service: self.service,
            prev: self.seed,
        };
        let (signer, trailer_mode) = match self.payload {
            PayloadMode::StreamingSigned => (Some(signer()), false),
            PayloadMode::StreamingSignedTrailer => (Some(signer()), true),
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
