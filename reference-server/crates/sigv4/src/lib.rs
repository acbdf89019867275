//! Pure SigV4 verification for Keygate (no I/O, no runtime). See SPEC rules V1–V8.
//!
//! The flow is two-phase so that every check needing no secret runs before the key lookup:
//!
//! 1. [`parse()`] reads the `Authorization` header or the presigned query, dates, scope and
//!    signed-header rules, and returns a [`Pending`] (or `None` for an anonymous request).
//! 2. The caller looks up the secret for [`Pending::access_key`] and calls [`Pending::verify`],
//!    which rebuilds the canonical request and compares signatures in constant time. Only a
//!    [`Verified`] proves authentication; it cannot be built any other way.
//! 3. For aws-chunked uploads, [`Verified::chunk_decoder`] returns a [`ChunkDecoder`] that
//!    checks every chunk signature, the trailer signature and the trailer checksum.
//!
//! Modules: [`canonical`] (canonical request rules), [`mod@parse`] (secret-free checks),
//! `prepared` (what parsing keeps for the canonical request: each signed header's value, the
//! query's parameter spans), `verify` (signature), `sink` (a buffer, or SHA-256 fed through a
//! stack buffer), `hash` (SHA-256 and keyed HMAC as bare states over `sha2`'s block function),
//! `swar` (16-lane byte scans and word-wide compares), [`key`]
//! (signing keys and their cache), `chunked` (aws-chunked framing), [`checksum`] (flexible
//! checksums, `Content-MD5`), `secret` (redacted secret and constant-time signature types),
//! `error` (the one error type and its wire codes).
//!
//! Cost: parsing reads each field once and keeps byte spans rather than copies; verification
//! streams the canonical request into SHA-256 and the string to sign into the cached, already
//! keyed HMAC; it allocates only what a [`Verified`] keeps beyond the fixed fields (an access
//! key over 32 bytes, the chunk-signing context of a signed aws-chunked upload).
//! `benches/verify.rs` and `examples/verify_ratio.rs` compare it with the bare hashing.

pub mod canonical;
pub mod checksum;
mod chunked;
mod error;
mod hash;
pub mod key;
pub mod parse;
mod prepared;
mod secret;
mod sink;
mod swar;
mod verify;

pub use checksum::{content_md5_check, ChecksumAlgorithm, Checksummer};
pub use chunked::{ChunkDecoder, Trailers};
pub use error::AuthError;
pub use key::{SigningKey, SigningKeyCache};
pub use parse::{parse, unsigned_payload_mode, Pending, Timestamp};
pub use secret::{ct_eq_bytes, SecretKey, Signature};
pub use verify::Verified;

/// Server-side SigV4 settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The one region this server answers for.
    pub region: String,
    /// Largest accepted clock difference (header auth), and how far ahead a presigned URL
    /// may be dated.
    pub max_skew: time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            region: "us-east-1".to_owned(),
            max_skew: time::Duration::minutes(15),
        }
    }
}

/// The service named in the credential scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `s3`
    S3,
    /// `sts`
    Sts,
}

impl Service {
    /// The scope spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Sts => "sts",
        }
    }

    /// The service for a scope string, if it is one this server serves.
    pub fn from_scope(s: &str) -> Option<Self> {
        match s {
            "s3" => Some(Service::S3),
            "sts" => Some(Service::Sts),
            _ => None,
        }
    }

    /// How this service canonicalises paths (S3: raw, single-encoded; others: normalised).
    pub fn uri_encoding(self) -> canonical::UriEncoding {
        match self {
            Service::S3 => canonical::UriEncoding::S3,
            Service::Sts => canonical::UriEncoding::Generic { normalize: true },
        }
    }
}

/// Where the signature travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthKind {
    /// `Authorization: AWS4-HMAC-SHA256 ...`
    Header,
    /// Presigned URL (`X-Amz-Signature` in the query).
    Query,
}

/// What the client declared about the payload (`x-amz-content-sha256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// No header (STS clients): the canonical request uses the SHA-256 of the body as received.
    Absent,
    /// `UNSIGNED-PAYLOAD` (and every presigned URL without a content hash).
    Unsigned,
    /// A hex SHA-256 the caller must check against the body (`XAmzContentSHA256Mismatch`).
    Sha256([u8; 32]),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`
    StreamingSigned,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`
    StreamingUnsignedTrailer,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`
    StreamingSignedTrailer,
}

impl PayloadMode {
    /// Whether the body is aws-chunked.
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            PayloadMode::StreamingSigned
                | PayloadMode::StreamingUnsignedTrailer
                | PayloadMode::StreamingSignedTrailer
        )
    }
}

/// The parts of an HTTP request SigV4 reads.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// Method.
    pub method: &'a http::Method,
    /// Request target (path and query as received).
    pub uri: &'a http::Uri,
    /// Headers.
    pub headers: &'a http::HeaderMap,
}

/// A small deterministic generator (xorshift64) for the tests that generate their inputs.
#[cfg(test)]
pub(crate) fn test_rng(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn shared_types_cross_threads() {
        // The server keeps one cache for all connections and moves verified requests across
        // await points.
        send_sync::<SigningKeyCache>();
        send_sync::<Verified>();
        send_sync::<ChunkDecoder>();
        send_sync::<SecretKey>();
        send_sync::<AuthError>();
    }

    #[test]
    fn config_default_is_the_spec_default() {
        let c = Config::default();
        assert_eq!(
            (c.region.as_str(), c.max_skew),
            ("us-east-1", time::Duration::minutes(15))
        );
    }
}
