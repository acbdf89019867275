//! The one error type of SigV4 verification and aws-chunked decoding.
//!
//! Each variant is one outcome the SPEC names (rules V1–V7); [`AuthError::code`] spells the S3
//! wire code and [`AuthError::http_status`] is an exhaustive match, so adding a variant forces a
//! decision about both. Messages are client-safe: they never contain a secret, a signing key or
//! the signature the server expected (only fixed text and values the client itself sent or the
//! server's configured region).

use std::fmt;

/// Why a request failed SigV4 authentication or its aws-chunked body failed to decode.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// Signature Version 2 (`Authorization: AWS ak:sig` or `AWSAccessKeyId`/`Signature` query).
    SigV2NotSupported,
    /// An `Authorization` algorithm other than `AWS4-HMAC-SHA256` (header or `X-Amz-Algorithm`).
    UnsupportedAlgorithm,
    /// Both an `Authorization` header and presigned query parameters.
    DuplicateAuth,
    /// Missing or malformed `Credential`/`SignedHeaders`/`Signature`, or a bad credential scope.
    MalformedAuthorization(&'static str),
    /// The credential scope names another region than the server's.
    WrongRegion {
        /// The server's configured region (not secret; AWS names it too).
        expected: String,
    },
    /// The credential scope names a service other than `s3` or `sts`.
    WrongService,
    /// A presigned URL lacks one of the six `X-Amz-*` parameters or has a bad one.
    MalformedPresign(&'static str),
    /// A presigned URL's `X-Amz-Algorithm`, `X-Amz-Credential` scope or `X-Amz-Date` is wrong
    /// (what header auth answers as `InvalidRequest`, `AuthorizationHeaderMalformed` or
    /// `AccessDenied`): the whole message, naming the parameter.
    BadPresignParameter(String),
    /// A header authentication reads (`x-amz-date`, `x-amz-content-sha256`, …) was sent more
    /// than once: its name.
    RepeatedHeader(&'static str),
    /// A signed request without a `Host` header.
    MissingHost,
    /// Neither `X-Amz-Date` nor `Date` is present.
    MissingDate,
    /// The request date cannot be parsed.
    MalformedDate,
    /// A header-signed request dated more than the allowed skew from the server clock.
    RequestTimeTooSkewed,
    /// A presigned URL past `X-Amz-Date + X-Amz-Expires`.
    PresignExpired,
    /// A presigned URL dated more than the allowed skew in the future.
    PresignNotYetValid,
    /// `host` is not among the signed headers.
    HostNotSigned,
    /// An `x-amz-*` header is present but not signed.
    UnsignedAmzHeader,
    /// `x-amz-content-sha256` is neither a known keyword nor 64 hex digits.
    InvalidContentSha256,
    /// The request signature (or a chunk or trailer signature) does not match.
    SignatureDoesNotMatch,
    /// The body's SHA-256 differs from `x-amz-content-sha256` (reported by the caller).
    ContentSha256Mismatch,
    /// `Content-MD5` or a trailer checksum does not match the body.
    BadDigest,
    /// `Content-MD5` is not the base64 of 16 bytes.
    InvalidDigest,
    /// The aws-chunked body ended before its framing was complete, or is shorter or longer
    /// than `x-amz-decoded-content-length`.
    IncompleteBody,
    /// The aws-chunked framing is malformed (bad size line, missing CRLF, bad trailer line).
    MalformedChunkedBody(&'static str),
    /// A chunk decoder was asked for a request that is not aws-chunked, or the trailer named
    /// in `x-amz-trailer` is not supported.
    NotChunked,
}

impl AuthError {
    /// The S3 error code as spelled on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::SigV2NotSupported
            | AuthError::UnsupportedAlgorithm
            | AuthError::DuplicateAuth
            | AuthError::MalformedChunkedBody(_)
            | AuthError::NotChunked => "InvalidRequest",
            AuthError::MalformedAuthorization(_)
            | AuthError::WrongRegion { .. }
            | AuthError::WrongService => "AuthorizationHeaderMalformed",
            AuthError::MalformedPresign(_) | AuthError::BadPresignParameter(_) => {
                "AuthorizationQueryParametersError"
            }
            AuthError::MissingDate
            | AuthError::MalformedDate
            | AuthError::PresignExpired
            | AuthError::PresignNotYetValid
            | AuthError::HostNotSigned
            | AuthError::UnsignedAmzHeader => "AccessDenied",
            AuthError::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            AuthError::InvalidContentSha256
            | AuthError::RepeatedHeader(_)
            | AuthError::MissingHost => "InvalidArgument",
            AuthError::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            AuthError::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            AuthError::BadDigest => "BadDigest",
            AuthError::InvalidDigest => "InvalidDigest",
            AuthError::IncompleteBody => "IncompleteBody",
        }
    }

    /// The HTTP status AWS answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::SigV2NotSupported
            | AuthError::UnsupportedAlgorithm
            | AuthError::DuplicateAuth
            | AuthError::MalformedAuthorization(_)
            | AuthError::WrongRegion { .. }
            | AuthError::WrongService
            | AuthError::MalformedPresign(_)
            | AuthError::BadPresignParameter(_)
            | AuthError::RepeatedHeader(_)
            | AuthError::MissingHost
            | AuthError::InvalidContentSha256
            | AuthError::ContentSha256Mismatch
            | AuthError::BadDigest
            | AuthError::InvalidDigest
            | AuthError::IncompleteBody
            | AuthError::MalformedChunkedBody(_)
            | AuthError::NotChunked => 400,
            AuthError::MissingDate
            | AuthError::MalformedDate
            | AuthError::RequestTimeTooSkewed
            | AuthError::PresignExpired
            | AuthError::PresignNotYetValid
            | AuthError::HostNotSigned
            | AuthError::UnsignedAmzHeader
            | AuthError::SignatureDoesNotMatch => 403,
        }
    }

    /// A client-safe message (no secrets, no expected signature).
    pub fn message(&self) -> String {
        match self {
            AuthError::SigV2NotSupported | AuthError::UnsupportedAlgorithm => {
                "The authorization mechanism you have provided is not supported. \
                 Please use AWS4-HMAC-SHA256."
                    .to_owned()
            }
            AuthError::DuplicateAuth => {
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter \
                 or the Authorization header should be specified"
                    .to_owned()
            }
            AuthError::MalformedAuthorization(why) => {
                format!("The authorization header is malformed; {why}.")
            }
            AuthError::WrongRegion { expected } => format!(
                "The authorization header is malformed; the region is wrong; expecting '{expected}'."
            ),
            AuthError::WrongService => {
                "The authorization header is malformed; the service in the credential scope \
                 must be 's3' or 'sts'."
                    .to_owned()
            }
            AuthError::MalformedPresign(why) => {
                format!("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters; {why}.")
            }
            AuthError::BadPresignParameter(message) => message.clone(),
            AuthError::RepeatedHeader(name) => {
                format!("The {name} header must be sent only once.")
            }
            AuthError::MissingHost => "The request has no Host header.".to_owned(),
            AuthError::MissingDate => {
                "AWS authentication requires a valid Date or x-amz-date header".to_owned()
            }
            AuthError::MalformedDate => "Invalid date format in Date or x-amz-date".to_owned(),
            AuthError::RequestTimeTooSkewed => {
                "The difference between the request time and the current time is too large."
                    .to_owned()
            }
            AuthError::PresignExpired => "Request has expired".to_owned(),
            AuthError::PresignNotYetValid => "Request is not valid yet".to_owned(),
            AuthError::HostNotSigned | AuthError::UnsignedAmzHeader => {
                "There were headers present in the request which were not signed".to_owned()
            }
            AuthError::InvalidContentSha256 => {
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value, or a \
                 valid sha256 value."
                    .to_owned()
            }
            AuthError::SignatureDoesNotMatch => {
                "The request signature we calculated does not match the signature you provided. \
                 Check your key and signing method."
                    .to_owned()
            }
            AuthError::ContentSha256Mismatch => {
                "The provided 'x-amz-content-sha256' header does not match what was computed."
                    .to_owned()
            }
            AuthError::BadDigest => {
                "The Content-MD5 or checksum you specified did not match what we received."
                    .to_owned()
            }
            AuthError::InvalidDigest => "The Content-MD5 you specified is not valid.".to_owned(),
            AuthError::IncompleteBody => {
                "You did not provide the number of bytes specified by the Content-Length \
                 HTTP header."
                    .to_owned()
            }
            AuthError::MalformedChunkedBody(why) => {
                format!("The aws-chunked request body is malformed: {why}.")
            }
            AuthError::NotChunked => {
                "The request is not an aws-chunked upload with a supported trailer.".to_owned()
            }
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for AuthError {}
