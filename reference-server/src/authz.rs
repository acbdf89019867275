//! Authorisation: may this caller perform this action on this resource?
//!
//! The root may do everything (as MinIO's root). S3 users, STS credentials and service
//! accounts are judged by their policies (issue: IAM part); anonymous requests by the bucket
//! policy. Until those land, every non-root caller is denied, which is the safe default.

use keygate_policy::Action;

use crate::auth::Caller;
use crate::iam::PrincipalKind;
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};
use crate::state::AppState;

pub fn authorize(
    _state: &AppState,
    caller: &Caller,
    _action: Action,
    _resource: &str,
) -> S3Result<()> {
    match caller.principal() {
        Some(p) if p.kind == PrincipalKind::Root => Ok(()),
        _ => Err(S3Error::new(S3ErrorCode::AccessDenied)),
    }
}
