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
    /// The policy document's text, as submitted (its size is P2's): a JSON string, so that
    /// the 2048 bytes are the bytes the user wrote, not a re-serialisation of them.
    #[serde(default, deserialize_with = "document_text")]
    policy: Option<String>,
}

/// A policy given as a JSON string; a JSON object (as MinIO's API takes it) is refused with
/// how to send it instead of serde's "invalid type: map".
fn document_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(serde::de::Error::custom(
            "\"policy\" is the policy document's text as a JSON string, e.g. \
             {\"policy\": \"{\\\"Version\\\":\\\"2012-10-17\\\",...}\"}",
        )),
    }
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
