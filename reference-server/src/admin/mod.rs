//! The admin API: JSON over HTTP under `/_keygate/admin/v1/`, on the S3 port.
//!
//! Requests are SigV4-signed (service `s3`) like any S3 request and authenticated by the same
//! code. Users, policies and the test clock are the admin's (root keys); service accounts are
//! each S3 user's own. Errors are `{"Code","Message","RequestId"}` with the SPEC's codes (an
//! unknown path: 404 `NotFound`; a path of the table with a method it does not take: 405
//! `MethodNotAllowed` and `Allow`); bucket names cannot start with `_`, so the prefix never
//! shadows a bucket.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | POST | `users` | `{"name","password","posix_uid"?,"posix_gid"?}` | 201 user |
//! | GET | `users` | | `{"users":[user…]}` |
//! | GET, PATCH, DELETE | `users/{name}` | PATCH: `{"password"?,"posix_uid"?,"posix_gid"?}` | user / 204 |
//! | PUT, DELETE | `users/{name}/policy` | PUT: `{"policy":NAME}` | user |
//! | GET | `policies` | | `{"policies":[{"name","predefined"}…]}` |
//! | GET, PUT, DELETE | `policies/{name}` | PUT: the document | document / 204 |
//! | POST | `clock/advance` | `{"seconds":N}` | `{"now":RFC3339}` (test clock only) |
//! | POST | `service-accounts` (as the S3 user) | `{"policy"?: DOCUMENT}` | 201 `{"access_key","secret_key","parent","policy"}` |
//! | GET | `service-accounts` (as the S3 user) | | `{"service_accounts":[…]}` |
//! | GET, DELETE | `service-accounts/{key}` (as the S3 user) | | account / 204 |

mod service_accounts;
mod users;

use std::net::SocketAddr;
use std::sync::Arc;

use http::request::Parts;
use http::{Response, StatusCode};
use serde_json::json;

use crate::auth::{authenticate, Caller};
use crate::conn::TimedIncoming;
use crate::http_util::{self, Body};
use crate::iam::{IamCode, IamError, PrincipalKind};
use crate::s3::body::RequestBody;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::state::AppState;
use keygate_sigv4::PayloadMode;

/// The reserved path prefix.
pub const PREFIX: &str = "/_keygate/admin/v1/";

/// Largest admin request body.
const MAX_BODY: usize = 64 * 1024;

/// An admin failure: a wire code, a status and a client-safe message.
#[derive(Debug)]
pub struct AdminError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// The methods a path takes, for a 405's `Allow` header.
    pub allow: Option<&'static str>,
}

impl From<IamError> for AdminError {
    fn from(e: IamError) -> Self {
        AdminError {
            status: e.code.http_status(),
            code: e.code.as_str(),
            message: e.message,
            allow: None,
        }
    }
}

impl From<S3Error> for AdminError {
    fn from(e: S3Error) -> Self {
        AdminError {
            status: e.code.http_status(),
            code: e.code.as_str(),
            message: e.message.into_owned(),
            allow: None,
        }
    }
}

impl AdminError {
    pub fn new(code: IamCode, message: impl Into<String>) -> AdminError {
        IamError::new(code, message).into()
    }

    fn not_found() -> AdminError {
        AdminError {
            status: 404,
            code: "NotFound",
            message: "No such admin API call.".into(),
            allow: None,
        }
    }

    /// A known path with a method it does not take (RFC 9110 §15.5.6: 405 with `Allow`).
    fn method_not_allowed(method: &str, allow: &'static str) -> AdminError {
        AdminError {
            status: 405,
            code: "MethodNotAllowed",
            message: format!("This admin API path does not take {method}; it takes {allow}."),
            allow: Some(allow),
        }
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

/// One authenticated admin request.
#[derive(Debug)]
pub struct AdminRequest {
    pub state: Arc<AppState>,
    pub parts: Parts,
    pub caller: Caller,
    pub body: bytes::Bytes,
}

impl AdminRequest {
    /// The admin (root) only.
    pub fn require_root(&self) -> AdminResult<()> {
        match self.caller.principal() {
            Some(p) if p.kind == PrincipalKind::Root => Ok(()),
            _ => Err(AdminError::new(
                IamCode::AccessDenied,
                "Only the admin may do this.",
            )),
        }
    }

    /// The body as a JSON value of type `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> AdminResult<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            AdminError::new(
                IamCode::InvalidArgument,
                format!("The request body is not the expected JSON: {e}"),
            )
        })
    }

    pub fn now(&self) -> i64 {
        self.state.clock.now().unix_timestamp()
    }
}

/// Serves one admin request; never fails (errors become JSON error responses).
pub async fn serve(
    state: Arc<AppState>,
    parts: Parts,
    incoming: TimedIncoming,
    _remote: SocketAddr,
    request_id: &str,
) -> Response<Body> {
    match dispatch(state, parts, incoming).await {
        Ok(resp) => resp,
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = http_util::with_body(
                status,
                "application/json",
                json!({"Code": e.code, "Message": e.message, "RequestId": request_id}).to_string(),
            );
            if let Some(allow) = e.allow {
                http_util::set_header(&mut resp, "allow", allow);
            }
            resp
        }
    }
}

/// Whether the request adds a policy (the admin's).
fn policy_path(parts: &Parts) -> bool {
    let path = parts.uri.path().strip_prefix(PREFIX).unwrap_or("");
    parts.method == http::Method::PUT && path.starts_with("policies/")
}

/// Whether the request's body is or holds a policy document (adding a policy, creating a
/// service account).
fn carries_policy(parts: &Parts) -> bool {
    let path = parts.uri.path().strip_prefix(PREFIX).unwrap_or("");
    policy_path(parts)
        || (parts.method == http::Method::POST && path.trim_end_matches('/') == "service-accounts")
}

async fn dispatch(
    state: Arc<AppState>,
    parts: Parts,
    incoming: TimedIncoming,
) -> AdminResult<Response<Body>> {
    let (caller, source) = authenticate(&state, &parts, incoming).await?;
    // Admin requests are signed for `s3`, as S3's are; an `sts` scope is for STS only (V4).
    if caller
        .verified()
        .is_some_and(|v| v.service() == keygate_sigv4::Service::Sts)
    {
        return Err(AdminError::from(S3Error::with_message(
            S3ErrorCode::AuthorizationHeaderMalformed,
            "The credential scope names service 'sts', which does not serve this request.",
        )));
    }
    if matches!(caller, Caller::Anonymous) {
        return Err(AdminError::new(
            IamCode::AccessDenied,
            "Admin API requests must be signed.",
        ));
    }
    // The body is the request's meaning (who to create, which policy): it must be signed too.
    // `UNSIGNED-PAYLOAD` (and so any presigned URL) would let whoever holds a signature send
    // another body with it.
    if caller.verified().is_some_and(|v| {
        matches!(
            v.payload(),
            PayloadMode::Unsigned | PayloadMode::StreamingUnsignedTrailer
        )
    }) {
        return Err(AdminError::new(
            IamCode::AccessDenied,
            "Admin API requests must sign their body: send x-amz-content-sha256 with the body's SHA-256 (not UNSIGNED-PAYLOAD, nor a presigned URL).",
        ));
    }
    // A policy document over the limit is `PolicyTooLarge` (P2) whatever its size, also when
    // it is too large to read at all; but only to a caller who may send one there (policies
    // are the admin's: anyone else is refused as the route would refuse them).
    let is_root = matches!(caller.principal(), Some(p) if p.kind == PrincipalKind::Root);
    let too_large = |e: S3Error| match e.code {
        S3ErrorCode::EntityTooLarge if policy_path(&parts) && !is_root => {
            AdminError::new(IamCode::AccessDenied, "Only the admin may do this.")
        }
        S3ErrorCode::EntityTooLarge if carries_policy(&parts) => AdminError::new(
            IamCode::PolicyTooLarge,
            format!(
                "Policy documents are limited to {} bytes; this request's body is over {MAX_BODY}.",
                keygate_policy::MAX_POLICY_BYTES
            ),
        ),
        S3ErrorCode::EntityTooLarge => AdminError::new(
            IamCode::InvalidArgument,
            format!("Admin request bodies are limited to {MAX_BODY} bytes."),
        ),
        _ => AdminError::from(e),
    };
    let body = RequestBody::new(source, &parts.headers, caller.verified(), MAX_BODY as u64)
        .map_err(too_large)?;
    let (body, _) = body.collect(MAX_BODY).await.map_err(too_large)?;
    let path = parts
        .uri
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or("")
        .to_owned();
    let segments: Vec<String> = path
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let req = AdminRequest {
        state,
        parts,
        caller,
        body,
    };
    // Every change is a SQLite transaction (fsync): off the worker thread, which keeps
    // serving S3 requests meanwhile.
    crate::metrics::cpu::offload(move || route(&req, &segments))
        .await
        .map_err(|e| AdminError::from(S3Error::internal(e)))?
}

/// The operation for a method and path below the admin prefix (blocking: SQLite).
fn route(req: &AdminRequest, segments: &[String]) -> AdminResult<Response<Body>> {
    let method = req.parts.method.as_str();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    // `users/` or `users//policy` names no user: no call, not a user called "".
    if segs.iter().any(|s| s.is_empty()) {
        return Err(AdminError::not_found());
    }
    match (method, segs.as_slice()) {
        ("POST", ["users"]) => users::add(req),
        ("GET", ["users"]) => users::list(req),
        ("GET", ["users", name]) => users::show(req, name),
        ("PATCH", ["users", name]) => users::update(req, name),
        ("DELETE", ["users", name]) => users::delete(req, name),
        ("PUT", ["users", name, "policy"]) => users::attach(req, name),
        ("DELETE", ["users", name, "policy"]) => users::detach(req, name),
        ("GET", ["policies"]) => users::list_policies(req),
        ("GET", ["policies", name]) => users::show_policy(req, name),
        ("PUT", ["policies", name]) => users::put_policy(req, name),
        ("DELETE", ["policies", name]) => users::remove_policy(req, name),
        ("POST", ["clock", "advance"]) => users::advance_clock(req),
        ("POST", ["service-accounts"]) => service_accounts::add(req),
        ("GET", ["service-accounts"]) => service_accounts::list(req),
        ("GET", ["service-accounts", key]) => service_accounts::show(req, key),
        ("DELETE", ["service-accounts", key]) => service_accounts::remove(req, key),
        (method, path) => Err(match allowed(path) {
            Some(allow) => AdminError::method_not_allowed(method, allow),
            None => AdminError::not_found(),
        }),
    }
}

/// The methods an admin API path takes (the table in this module's header), if it is one.
fn allowed(path: &[&str]) -> Option<&'static str> {
    Some(match path {
        ["users"] | ["service-accounts"] => "GET, POST",
        ["users", _] => "GET, PATCH, DELETE",
        ["users", _, "policy"] => "PUT, DELETE",
        ["policies"] => "GET",
        ["policies", _] => "GET, PUT, DELETE",
        ["clock", "advance"] => "POST",
        ["service-accounts", _] => "GET, DELETE",
        _ => return None,
    })
}

/// A JSON answer.
pub fn reply(status: StatusCode, value: &serde_json::Value) -> AdminResult<Response<Body>> {
    Ok(http_util::with_body(
        status,
        "application/json",
        value.to_string(),
    ))
}
