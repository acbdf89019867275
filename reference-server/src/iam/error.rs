//! Errors of identity management, with the SPEC's codes and statuses.

use std::fmt;

/// An identity-management failure as the admin API (and STS) report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamError {
    pub code: IamCode,
    pub message: String,
}

/// Codes the admin API answers with, spelled as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamCode {
    InvalidArgument,
    NoSuchEntity,
    EntityAlreadyExists,
    LimitExceeded,
    PolicyTooLarge,
    MalformedPolicy,
    PolicyInUse,
    AccessDenied,
    NoSuchServiceAccount,
    InternalError,
}

impl IamCode {
    pub fn as_str(self) -> &'static str {
        match self {
            IamCode::InvalidArgument => "InvalidArgument",
            IamCode::NoSuchEntity => "NoSuchEntity",
            IamCode::EntityAlreadyExists => "EntityAlreadyExists",
            IamCode::LimitExceeded => "LimitExceeded",
            IamCode::PolicyTooLarge => "PolicyTooLarge",
            IamCode::MalformedPolicy => "MalformedPolicy",
            IamCode::PolicyInUse => "PolicyInUse",
            IamCode::AccessDenied => "AccessDenied",
            IamCode::NoSuchServiceAccount => "NoSuchServiceAccount",
            IamCode::InternalError => "InternalError",
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            IamCode::InvalidArgument | IamCode::PolicyTooLarge | IamCode::MalformedPolicy => 400,
            IamCode::AccessDenied => 403,
            IamCode::NoSuchEntity | IamCode::NoSuchServiceAccount => 404,
            IamCode::EntityAlreadyExists | IamCode::LimitExceeded | IamCode::PolicyInUse => 409,
            IamCode::InternalError => 500,
        }
    }
}

impl IamError {
    pub fn new(code: IamCode, message: impl Into<String>) -> IamError {
        IamError {
            code,
            message: message.into(),
        }
    }

    /// An internal failure: logged here, reported without detail.
    pub fn internal(cause: impl fmt::Display) -> IamError {
        tracing::error!(%cause, "identity store failure");
        IamError::new(
            IamCode::InternalError,
            "We encountered an internal error, please try again.",
        )
    }
}

impl fmt::Display for IamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for IamError {}

impl From<rusqlite::Error> for IamError {
    fn from(e: rusqlite::Error) -> Self {
        IamError::internal(e)
    }
}

pub type IamResult<T> = Result<T, IamError>;
