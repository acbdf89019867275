//! STS on the S3 port: AssumeRole in the AWS query protocol (SPEC S1–S6, S8).
//!
//! A request is STS when it is `POST /` signed for service `sts`. Every failure is rendered
//! in the STS `ErrorResponse` envelope; a bad signature, an unknown key or a session token
//! answers 403 `AccessDenied` as S5 says. Only S3 users with a policy may assume a role; the
//! new credentials are narrowed by the optional session policy and die with their user.

use std::net::SocketAddr;
use std::sync::Arc;

use http::request::Parts;
use http::{Method, Response, StatusCode};
use quick_xml::escape::escape;

use crate::auth::{authenticate, Caller};
use crate::conn::TimedIncoming;
use crate::http_util::{self, Body};
use crate::iam::{IamCode, Parent, PrincipalKind, MAX_STS_SECONDS, MIN_STS_SECONDS};
use crate::s3::body::RequestBody;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::query::Query;
use crate::state::AppState;

const NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const MAX_BODY: usize = 64 * 1024;

/// Whether a request is meant for STS: `POST /` with a credential scope naming `sts`.
pub fn is_sts_request(parts: &Parts) -> bool {
    if parts.method != Method::POST || parts.uri.path() != "/" {
        return false;
    }
    let in_header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("/sts/aws4_request"));
    // Decoded: signers escape the credential's `/`, and some also its `-` and `_`.
    let in_query = parts.uri.query().is_some_and(|q| {
        Query::parse(q)
            .get("X-Amz-Credential")
            .is_some_and(|c| c.ends_with("/sts/aws4_request"))
    });
    // An unsigned form POST to `/` without a query is an STS call too (S3 has no such
    // operation: DeleteObjects has `?delete`, browser uploads are multipart/form-data), so it
    // is refused as STS refuses it, in STS's envelope (S5), not as an unknown S3 request. A
    // request signed for `s3` stays S3's, whatever its content type.
    let unsigned = !parts.headers.contains_key(http::header::AUTHORIZATION)
        && parts.uri.query().is_none_or(str::is_empty);
    let form = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    in_header || in_query || (unsigned && form)
}

/// An STS failure: status, code, message.
#[derive(Debug)]
struct StsError {
    status: u16,
    code: &'static str,
    message: String,
}

impl StsError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> StsError {
        StsError {
            status,
            code,
            message: message.into(),
        }
    }

    fn access_denied(message: impl Into<String>) -> StsError {
        StsError::new(403, "AccessDenied", message)
    }

    fn invalid(message: impl Into<String>) -> StsError {
        StsError::new(400, "InvalidParameterValue", message)
    }
}

impl From<S3Error> for StsError {
    fn from(e: S3Error) -> Self {
        match e.code {
            // S5: authentication failures are AccessDenied on STS, and so are expired STS
            // credentials (S5: STS credentials may not assume a role, live or not).
            S3ErrorCode::SignatureDoesNotMatch
            | S3ErrorCode::InvalidAccessKeyId
            | S3ErrorCode::InvalidTokenId
            | S3ErrorCode::ExpiredToken => StsError::access_denied("Access denied."),
            // A scope for another region (or service) is an authentication failure too, as
            // MinIO answers it (spec-notes 45), with S3's message saying what is wrong.
            S3ErrorCode::AuthorizationHeaderMalformed => {
                StsError::access_denied(e.message.into_owned())
            }
            code => StsError::new(code.http_status(), code.as_str(), e.message.into_owned()),
        }
    }
}

/// Serves one STS request; never fails.
pub async fn serve(
    state: Arc<AppState>,
    parts: Parts,
    incoming: TimedIncoming,
    _remote: SocketAddr,
    request_id: &str,
) -> Response<Body> {
    match assume_role(state, parts, incoming, request_id).await {
        Ok(resp) => resp,
        Err(e) => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                e.code,
                escape(&e.message),
                escape(request_id)
            );
            let status =
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            http_util::xml(status, body)
        }
    }
}

async fn assume_role(
    state: Arc<AppState>,
    parts: Parts,
    incoming: TimedIncoming,
    request_id: &str,
) -> Result<Response<Body>, StsError> {
    let (caller, source) = authenticate(&state, &parts, incoming).await?;
    // V4: a credential scope for another service is refused before anything is read.
    if caller
        .verified()
        .is_some_and(|v| v.service() != keygate_sigv4::Service::Sts)
    {
        return Err(StsError::new(
            400,
            "AuthorizationHeaderMalformed",
            "The credential scope must name service 'sts' for STS requests.",
        ));
    }
    let body = RequestBody::new(source, &parts.headers, caller.verified(), MAX_BODY as u64)?;
    let (body, _) = body.collect(MAX_BODY).await?;
    let form = std::str::from_utf8(&body)
        .map_err(|_| StsError::invalid("The request body is not UTF-8."))?;
    let mut params = Query::parse(form).pairs().to_vec();
    params.extend(
        Query::parse(parts.uri.query().unwrap_or(""))
            .pairs()
            .iter()
            .cloned(),
    );
    // One value per parameter: with two, which one is acted on would be this server's
    // choice, and a proxy or an audit log reading the other would see another request.
    if let Some(name) = repeated_name(&params) {
        return Err(StsError::invalid(format!(
            "The parameter {name} is given more than once."
        )));
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    match get("Action") {
        Some("AssumeRole") => {}
        Some(other) => {
            return Err(StsError::invalid(format!(
                "Action {other} is not supported."
            )))
        }
        None => return Err(StsError::invalid("Action is required.")),
    }
    if get("Version") != Some("2011-06-15") {
        return Err(StsError::new(
            400,
            "MissingParameter",
            "Version must be 2011-06-15.",
        ));
    }
    let Caller::Signed { key, .. } = &caller else {
        return Err(StsError::access_denied(
            "AssumeRole requests must be signed.",
        ));
    };
    let p = &key.credential.principal;
    if p.kind != PrincipalKind::User {
        return Err(StsError::access_denied("Only S3 users may assume a role."));
    }
    if state
        .identities
        .snapshot()
        .user_policy(&p.username)
        .is_none()
    {
        return Err(StsError::access_denied(
            "A user without a policy cannot assume a role.",
        ));
    }
    let seconds = match get("DurationSeconds") {
        None => 3600,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|s| (MIN_STS_SECONDS..=MAX_STS_SECONDS).contains(s))
            .ok_or_else(|| StsError::invalid(format!("DurationSeconds must be an integer from {MIN_STS_SECONDS} to {MAX_STS_SECONDS}.")))?,
    };
    let now = state.clock.now().unix_timestamp();
    // A SQLite transaction (fsync): off the worker thread, which serves other requests.
    let (iam, credential, policy) = (
        state.clone(),
        key.credential.clone(),
        get("Policy").map(str::to_owned),
    );
    let issued = crate::metrics::cpu::offload(move || {
        // For the user that signed: not another created under its name meanwhile (U5).
        let parent = Parent::SignedBy(&credential.principal.username, &credential.secret);
        iam.identities
            .assume_role_as(parent, seconds, policy.as_deref(), now)
    })
    .await
    .map_err(|e| StsError::from(S3Error::internal(e)))?
    .map_err(|e| match e.code {
        IamCode::PolicyTooLarge | IamCode::MalformedPolicy => StsError::invalid(e.message),
        IamCode::LimitExceeded => StsError::new(400, "LimitExceeded", e.message),
        IamCode::AccessDenied => StsError::access_denied(e.message),
        _ => StsError::new(e.code.http_status(), e.code.as_str(), e.message),
    })?;
    let expiration = time::OffsetDateTime::from_unix_timestamp(issued.expires.unwrap_or(now))
        .map_err(|e| StsError::from(S3Error::internal(e)))?;
    let expiration = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        expiration.year(),
        u8::from(expiration.month()),
        expiration.day(),
        expiration.hour(),
        expiration.minute(),
        expiration.second()
    );
    // Accepted and ignored (S1), but echoed in the ARN: what XML 1.0 cannot hold is
    // replaced, so the answer stays well-formed.
    let session = crate::s3::xml::escape_lossy(get("RoleSessionName").unwrap_or("keygate"));
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AssumeRoleResponse xmlns=\"{NS}\"><AssumeRoleResult>\
         <AssumedRoleUser><Arn>arn:aws:sts::000000000000:assumed-role/{user}/{session}</Arn><AssumedRoleId>{ak}:{session}</AssumedRoleId></AssumedRoleUser>\
         <Credentials><AccessKeyId>{ak}</AccessKeyId><SecretAccessKey>{sk}</SecretAccessKey><SessionToken>{token}</SessionToken><Expiration>{expiration}</Expiration></Credentials>\
         </AssumeRoleResult><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></AssumeRoleResponse>",
        user = escape(&p.username),
        session = session,
        ak = escape(&issued.access_key),
        sk = escape(&issued.secret_key),
        token = escape(issued.session_token.as_deref().unwrap_or_default()),
        rid = escape(request_id),
    );
    Ok(http_util::xml(StatusCode::OK, body))
}

/// The first parameter name given more than once, in the body and the query together.
fn repeated_name(params: &[(String, String)]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    params
        .iter()
        .map(|(k, _)| k.as_str())
        .find(|k| !seen.insert(*k))
}
