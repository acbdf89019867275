//! S3 error codes and their one mapping point to HTTP.
//!
//! Every client-visible failure of the S3 surface ends up as an [`S3Error`]: a code spelled as
//! on the wire, a client-safe message, and the resource it concerns. `http_status` is an
//! exhaustive match, so adding a code forces a decision about its status. Internal failures
//! become `InternalError` whose body says nothing internal: the cause is logged with the
//! request id instead (see [`S3Error::internal`]).

use std::borrow::Cow;
use std::fmt;

/// Error codes exactly as S3 spells them on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3ErrorCode {
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    BadDigest,
    BadRequest,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    EntityTooLarge,
    EntityTooSmall,
    ExpiredToken,
    IllegalLocationConstraintException,
    IncompleteBody,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidDigest,
    InvalidPart,
    InvalidPartOrder,
    InvalidRange,
    InvalidPartNumber,
    InvalidStorageClass,
    InvalidRequest,
    InvalidTag,
    InvalidTokenId,
    InvalidURI,
    KeyTooLongError,
    MalformedPolicy,
    MalformedXML,
    MaxMessageLengthExceeded,
    MetadataTooLarge,
    MethodNotAllowed,
    MissingContentLength,
    NoSuchBucket,
    NoSuchBucketPolicy,
    NoSuchKey,
    NoSuchLifecycleConfiguration,
    NoSuchTagSet,
    NoSuchUpload,
    NotImplemented,
    PreconditionFailed,
    RequestTimeTooSkewed,
    RequestTimeout,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
    ObjectExistsAsDirectory,
    ParentIsObject,
}

impl S3ErrorCode {
    /// The code as it appears in `<Code>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "AccessDenied",
            Self::AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            Self::AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            Self::BadDigest => "BadDigest",
            Self::BadRequest => "BadRequest",
            Self::BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            Self::BucketNotEmpty => "BucketNotEmpty",
            Self::EntityTooLarge => "EntityTooLarge",
            Self::EntityTooSmall => "EntityTooSmall",
            Self::MaxMessageLengthExceeded => "MaxMessageLengthExceeded",
            Self::ExpiredToken => "ExpiredToken",
            Self::IllegalLocationConstraintException => "IllegalLocationConstraintException",
            Self::IncompleteBody => "IncompleteBody",
            Self::InternalError => "InternalError",
            Self::InvalidAccessKeyId => "InvalidAccessKeyId",
            Self::InvalidArgument => "InvalidArgument",
            Self::InvalidBucketName => "InvalidBucketName",
            Self::InvalidDigest => "InvalidDigest",
            Self::InvalidPart => "InvalidPart",
            Self::InvalidPartOrder => "InvalidPartOrder",
            Self::InvalidRange => "InvalidRange",
            Self::InvalidPartNumber => "InvalidPartNumber",
            Self::InvalidStorageClass => "InvalidStorageClass",
            Self::InvalidRequest => "InvalidRequest",
            Self::InvalidTag => "InvalidTag",
            Self::InvalidTokenId => "InvalidTokenId",
            Self::InvalidURI => "InvalidURI",
            Self::KeyTooLongError => "KeyTooLongError",
            Self::MalformedPolicy => "MalformedPolicy",
            Self::MalformedXML => "MalformedXML",
            Self::MetadataTooLarge => "MetadataTooLarge",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::MissingContentLength => "MissingContentLength",
            Self::NoSuchBucket => "NoSuchBucket",
            Self::NoSuchBucketPolicy => "NoSuchBucketPolicy",
            Self::NoSuchKey => "NoSuchKey",
            Self::NoSuchLifecycleConfiguration => "NoSuchLifecycleConfiguration",
            Self::NoSuchTagSet => "NoSuchTagSet",
            Self::NoSuchUpload => "NoSuchUpload",
            Self::NotImplemented => "NotImplemented",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            Self::RequestTimeout => "RequestTimeout",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
            Self::ObjectExistsAsDirectory => "XKeygateObjectExistsAsDirectory",
            Self::ParentIsObject => "XKeygateParentIsObject",
        }
    }

    /// The HTTP status S3 answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::AuthorizationHeaderMalformed
            | Self::AuthorizationQueryParametersError
            | Self::BadDigest
            | Self::BadRequest
            | Self::EntityTooSmall
            | Self::EntityTooLarge
            | Self::ExpiredToken
            | Self::IllegalLocationConstraintException
            | Self::IncompleteBody
            | Self::InvalidArgument
            | Self::InvalidBucketName
            | Self::InvalidDigest
            | Self::InvalidPart
            | Self::InvalidPartOrder
            | Self::InvalidRequest
            | Self::InvalidStorageClass
            | Self::InvalidTag
            | Self::InvalidURI
            | Self::KeyTooLongError
            | Self::MalformedPolicy
            | Self::MaxMessageLengthExceeded
            | Self::MalformedXML
            | Self::MetadataTooLarge
            | Self::RequestTimeout
            | Self::XAmzContentSHA256Mismatch => 400,
            Self::AccessDenied
            | Self::InvalidAccessKeyId
            | Self::InvalidTokenId
            | Self::RequestTimeTooSkewed
            | Self::SignatureDoesNotMatch => 403,
            Self::NoSuchBucket
            | Self::NoSuchBucketPolicy
            | Self::NoSuchKey
            | Self::NoSuchLifecycleConfiguration
            | Self::NoSuchTagSet
            | Self::NoSuchUpload => 404,
            Self::MethodNotAllowed => 405,
            Self::BucketAlreadyOwnedByYou
            | Self::BucketNotEmpty
            | Self::ObjectExistsAsDirectory
            | Self::ParentIsObject => 409,
            Self::MissingContentLength => 411,
            Self::PreconditionFailed => 412,
            Self::InvalidRange | Self::InvalidPartNumber => 416,
            Self::InternalError => 500,
            Self::NotImplemented => 501,
        }
    }

    /// The message S3 uses when there is nothing more specific to say.
    pub fn default_message(self) -> &'static str {
        match self {
            Self::AccessDenied => "Access Denied.",
            Self::AuthorizationHeaderMalformed => "The authorization header is malformed.",
            Self::AuthorizationQueryParametersError => {
                "Error parsing the X-Amz-Credential parameter or another presigned query parameter."
            }
            Self::BadDigest => "The Content-MD5 or checksum you specified did not match what we received.",
            Self::BadRequest => "Bad Request",
            Self::BucketAlreadyOwnedByYou => "Your previous request to create the named bucket succeeded and you already own it.",
            Self::BucketNotEmpty => "The bucket you tried to delete is not empty.",
            Self::EntityTooLarge => "Your proposed upload exceeds the maximum allowed object size.",
            Self::EntityTooSmall => "Your proposed upload is smaller than the minimum allowed object size.",
            Self::MaxMessageLengthExceeded => "Your request was too big.",
            Self::ExpiredToken => "The provided token has expired.",
            Self::IllegalLocationConstraintException => "The location constraint is incompatible with this endpoint's region.",
            Self::IncompleteBody => "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            Self::InternalError => "We encountered an internal error, please try again.",
            Self::InvalidAccessKeyId => "The Access Key Id you provided does not exist in our records.",
            Self::InvalidArgument => "Invalid Argument.",
            Self::InvalidBucketName => "The specified bucket is not valid.",
            Self::InvalidDigest => "The Content-MD5 you specified is not valid.",
            Self::InvalidPart => "One or more of the specified parts could not be found.",
            Self::InvalidPartOrder => "The list of parts was not in ascending order.",
            Self::InvalidRange => "The requested range is not satisfiable.",
            Self::InvalidPartNumber => "The requested partnumber is not satisfiable.",
            Self::InvalidStorageClass => "The storage class you specified is not valid.",
            Self::InvalidRequest => "Invalid Request.",
            Self::InvalidTag => "The tag provided was not a valid tag.",
            Self::InvalidTokenId => "The security token included in the request is invalid.",
            Self::InvalidURI => "Couldn't parse the specified URI.",
            Self::KeyTooLongError => "Your key is too long.",
            Self::MalformedPolicy => "Policy has invalid resource.",
            Self::MalformedXML => "The XML you provided was not well-formed or did not validate against our published schema.",
            Self::MetadataTooLarge => "Your metadata headers exceed the maximum allowed metadata size.",
            Self::MethodNotAllowed => "The specified method is not allowed against this resource.",
            Self::MissingContentLength => "You must provide the Content-Length HTTP header.",
            Self::NoSuchBucket => "The specified bucket does not exist.",
            Self::NoSuchBucketPolicy => "The bucket policy does not exist.",
            Self::NoSuchKey => "The specified key does not exist.",
            Self::NoSuchLifecycleConfiguration => "The lifecycle configuration does not exist.",
            Self::NoSuchTagSet => "The TagSet does not exist.",
            Self::NoSuchUpload => "The specified multipart upload does not exist.",
            Self::NotImplemented => "A header or operation you provided implies functionality that is not implemented.",
            Self::PreconditionFailed => "At least one of the preconditions you specified did not hold.",
            Self::RequestTimeTooSkewed => "The difference between the request time and the server's time is too large.",
            Self::RequestTimeout => "Your socket connection to the server was not read from or written to within the timeout period.",
            Self::SignatureDoesNotMatch => "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            Self::XAmzContentSHA256Mismatch => "The provided 'x-amz-content-sha256' header does not match what was computed.",
            Self::ObjectExistsAsDirectory => "Object name already exists as a directory.",
            Self::ParentIsObject => "Object-prefix is already an object, please choose a different object-prefix name.",
        }
    }
}

impl fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client-visible S3 failure.
#[derive(Debug, Clone)]
pub struct S3Error {
    pub code: S3ErrorCode,
    pub message: Cow<'static, str>,
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// A header the error response carries besides the usual ones (416's `Content-Range`);
    /// boxed, since a result carrying an error is moved on every request's path.
    pub header: Option<Box<(&'static str, String)>>,
}

impl S3Error {
    pub fn new(code: S3ErrorCode) -> Self {
        Self {
            code,
            message: Cow::Borrowed(code.default_message()),
            bucket: None,
            key: None,
            header: None,
        }
    }

    pub fn with_message(code: S3ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            bucket: None,
            key: None,
            header: None,
        }
    }

    /// An internal failure: the cause is logged here, the client sees only `InternalError`.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(S3ErrorCode::InternalError)
    }

    pub fn bucket(mut self, bucket: &str) -> Self {
        self.bucket = Some(bucket.to_owned());
        self
    }

    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    /// Sets a header of the error response.
    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.header = Some(Box::new((name, value)));
        self
    }
}

impl From<S3ErrorCode> for S3Error {
    fn from(code: S3ErrorCode) -> Self {
        Self::new(code)
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for S3Error {}

pub type S3Result<T> = Result<T, S3Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_that_the_contract_names_have_its_statuses() {
        use S3ErrorCode::*;
        let table = [
            (AccessDenied, 403),
            (InvalidAccessKeyId, 403),
            (SignatureDoesNotMatch, 403),
            (RequestTimeTooSkewed, 403),
            (InvalidTokenId, 403),
            (ExpiredToken, 400),
            (AuthorizationHeaderMalformed, 400),
            (AuthorizationQueryParametersError, 400),
            (XAmzContentSHA256Mismatch, 400),
            (BadDigest, 400),
            (InvalidDigest, 400),
            (InvalidRequest, 400),
            (InvalidArgument, 400),
            (NotImplemented, 501),
            (InternalError, 500),
        ];
        for (code, status) in table {
            assert_eq!(code.http_status(), status, "{code}");
        }
    }
}
