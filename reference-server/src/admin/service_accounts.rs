//! Service accounts, managed by each S3 user for itself (SPEC A1–A5).

use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::{reply, AdminError, AdminRequest, AdminResult};
use crate::auth::Caller;
use crate::http_util::{self, Body};
use crate::iam::{IamCode, Parent, PrincipalKind};

/// The calling S3 user's name; the admin, STS credentials and service accounts are refused (A1).
fn calling_user(req: &AdminRequest) -> AdminResult<String> {
    match req.caller.principal() {
        Some(p) if p.kind == PrincipalKind::User => Ok(p.username.clone()),
        _ => Err(AdminError::new(
            IamCode::AccessDenied,
            "Only an S3 user may manage its own service accounts.",
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    #[serde(default)]
    policy: Option<String>,
}

pub fn add(req: &AdminRequest) -> AdminResult<Response<Body>> {
    let user = calling_user(req)?;
    let body: NewAccount = if req.body.is_empty() {
        NewAccount { policy: None }
    } else {
        req.json()?
    };
    // For the user that signed: not another created under its name meanwhile (U5).
    let Caller::Signed { key, .. } = &req.caller else {
        // `calling_user` let no unsigned caller through; refuse rather than trust the name.
        return Err(AdminError::new(
            IamCode::AccessDenied,
            "Only an S3 user may manage its own service accounts.",
        ));
    };
    let parent = Parent::SignedBy(&user, &key.credential.secret);
    let issued =
        req.state
            .identities
            .add_service_account_as(parent, body.policy.as_deref(), req.now())?;
    reply(StatusCode::CREATED, &json!(issued))
}

pub fn list(req: &AdminRequest) -> AdminResult<Response<Body>> {
    let user = calling_user(req)?;
    reply(
        StatusCode::OK,
        &json!({"service_accounts": req.state.identities.list_service_accounts(&user)}),
    )
}

pub fn show(req: &AdminRequest, key: &str) -> AdminResult<Response<Body>> {
    let user = calling_user(req)?;
    reply(
        StatusCode::OK,
        &json!(req.state.identities.service_account(&user, key)?),
    )
}

pub fn remove(req: &AdminRequest, key: &str) -> AdminResult<Response<Body>> {
    let user = calling_user(req)?;
    req.state.identities.delete_service_account(&user, key)?;
    Ok(http_util::empty(StatusCode::NO_CONTENT))
}
