//! Admin calls for users, policies and the test clock (the admin's own; SPEC U*, P*).

use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::{reply, AdminError, AdminRequest, AdminResult};
use crate::http_util::{self, Body};
use crate::iam::{IamCode, UserUpdate};

/// No `Debug`: it holds a password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    password: String,
    #[serde(default)]
    posix_uid: u32,
    #[serde(default)]
    posix_gid: u32,
}

pub fn add(req: &AdminRequest) -> AdminResult<Response<Body>> {
    req.require_root()?;
    let u: NewUser = req.json()?;
    let info =
        req.state
            .identities
            .add_user(&u.name, &u.password, u.posix_uid, u.posix_gid, req.now())?;
    reply(StatusCode::CREATED, &json!(info))
}

pub fn list(req: &AdminRequest) -> AdminResult<Response<Body>> {
    req.require_root()?;
    reply(
        StatusCode::OK,
        &json!({"users": req.state.identities.list_users()}),
    )
}

pub fn show(req: &AdminRequest, name: &str) -> AdminResult<Response<Body>> {
    req.require_root()?;
    reply(StatusCode::OK, &json!(req.state.identities.user(name)?))
}

/// No `Debug`: it holds a password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    password: Option<String>,
    posix_uid: Option<u32>,
    posix_gid: Option<u32>,
}

pub fn update(req: &AdminRequest, name: &str) -> AdminResult<Response<Body>> {
    req.require_root()?;
    let u: Update = req.json()?;
    let update = UserUpdate {
        password: u.password,
        posix_uid: u.posix_uid,
        posix_gid: u.posix_gid,
    };
    reply(
        StatusCode::OK,
        &json!(req.state.identities.update_user(name, &update)?),
    )
}

pub fn delete(req: &AdminRequest, name: &str) -> AdminResult<Response<Body>> {
    req.require_root()?;
    req.state.identities.delete_user(name)?;
    Ok(http_util::empty(StatusCode::NO_CONTENT))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Attach {
    policy: String,
}

pub fn attach(req: &AdminRequest, user: &str) -> AdminResult<Response<Body>> {
    req.require_root()?;
    let a: Attach = req.json()?;
    reply(
        StatusCode::OK,
        &json!(req.state.identities.attach(&a.policy, user)?),
    )
}

pub fn detach(req: &AdminRequest, user: &str) -> AdminResult<Response<Body>> {
    req.require_root()?;
    reply(StatusCode::OK, &json!(req.state.identities.detach(user)?))
}

pub fn list_policies(req: &AdminRequest) -> AdminResult<Response<Body>> {
    req.require_root()?;
    let list: Vec<_> = req
        .state
        .identities
        .list_policies()
        .into_iter()
        .map(|(name, predefined)| json!({"name": name, "predefined": predefined}))
        .collect();
    reply(StatusCode::OK, &json!({"policies": list}))
}

pub fn show_policy(req: &AdminRequest, name: &str) -> AdminResult<Response<Body>> {
    req.require_root()?;
    let doc = req.state.identities.policy(name)?;
    Ok(http_util::with_body(
        StatusCode::OK,
        "application/json",
        doc,
    ))
}

pub fn put_policy(req: &AdminRequest, name: &str) -> AdminResult<Response<Body>> {
    req.require_root()?;
    let doc = std::str::from_utf8(&req.body).map_err(|_| {
        AdminError::new(
            IamCode::MalformedPolicy,
            "The policy document is not UTF-8.",
        )
    })?;
    req.state.identities.put_policy(name, doc, req.now())?;
    Ok(http_util::empty(StatusCode::NO_CONTENT))
}

pub fn remove_policy(req: &AdminRequest, name: &str) -> AdminResult<Response<Body>> {
    req.require_root()?;
    req.state.identities.remove_policy(name)?;
    Ok(http_util::empty(StatusCode::NO_CONTENT))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: i64,
}

pub fn advance_clock(req: &AdminRequest) -> AdminResult<Response<Body>> {
    req.require_root()?;
    let a: Advance = req.json()?;
    if !req.state.clock.is_adjustable() {
        return Err(AdminError::new(
            IamCode::InvalidArgument,
            "The server was not started with --test-clock.",
        ));
    }
    let now = req.state.clock.advance(a.seconds).ok_or_else(|| {
        AdminError::new(
            IamCode::InvalidArgument,
            "The clock only moves forward, and not past 9998-12-31T00:00:00Z.",
        )
    })?;
    let now = now
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(crate::iam::IamError::internal)?;
    reply(StatusCode::OK, &json!({"now": now}))
}
