//! The S3 surface: parse -> authenticate -> route -> authorise -> handle -> render.
//!
//! [`serve`] is the one entry point for every HTTP request. It gives each response an
//! `x-amz-request-id`, renders every failure through [`error_response`] (HEAD errors carry
//! no body, SPEC V8) and never lets an internal detail reach the client. Requests under
//! `/_keygate/` go to the admin API and signed requests scoped to `sts` to the STS surface.

pub mod body;
pub mod bucket_policy;
mod buckets;
pub mod error;
pub mod headers;
mod listing;
mod multipart;
mod objects;
pub(crate) use objects::parse_copy_source;
pub mod query;
pub mod router;
pub mod xml;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use keygate_sigv4::Service;

use self::body::{RequestBody, Source};
use self::error::{S3Error, S3ErrorCode, S3Result};
use self::query::Query;
use self::router::{Operation, Route};
use crate::auth::{authenticate, Caller};
use crate::conn::TimedIncoming;
use crate::http_util::{self, Body};
use crate::metrics::{OpLabel, Outcome, Stage};
use crate::state::AppState;
use crate::store::Owner;

/// Largest single PUT (S3's limit).
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Largest XML request body we read into memory.
pub const MAX_XML_BODY: usize = 1024 * 1024;

/// A request body of at most `limit` bytes (an XML or JSON request, not an object) read
/// whole; a larger one is 400 `MaxMessageLengthExceeded`, as S3 answers such a request, not
/// an object's `EntityTooLarge`.
pub async fn read_small(body: S3Result<RequestBody>, limit: usize) -> S3Result<bytes::Bytes> {
    let too_big = |e: S3Error| match e.code {
        S3ErrorCode::EntityTooLarge => S3Error::new(S3ErrorCode::MaxMessageLengthExceeded),
        _ => e,
    };
    let body = body.map_err(too_big)?;
    Ok(body.collect(limit).await.map_err(too_big)?.0)
}

/// Everything a handler needs about one authenticated, routed request.
#[derive(Debug)]
pub struct Ctx {
    pub state: Arc<AppState>,
    pub parts: http::request::Parts,
    pub route: Route,
    pub query: Query,
    pub caller: Caller,
    pub remote: SocketAddr,
    /// The connection is TLS (`aws:SecureTransport`).
    pub secure: bool,
    source: Option<Source>,
    /// A body read before authorisation (PutObjectTagging's, whose tags a policy may read),
    /// or the error reading it gave, for the handler.
    read_early: Option<S3Result<bytes::Bytes>>,
    /// The tags of that body, when it is a tag set.
    body_tags: Option<Vec<(String, String)>>,
    /// ListBuckets without s3:ListAllMyBuckets: list only buckets the caller may see (E6).
    pub filter_buckets: bool,
}

impl Ctx {
    pub fn bucket(&self) -> &str {
        self.route.bucket(self.parts.uri.path()).unwrap_or_default()
    }

    pub fn key(&self) -> &str {
        self.route.key(self.parts.uri.path()).unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The request body, to be read once.
    pub fn body(&mut self, limit: u64) -> S3Result<RequestBody> {
        let source = self.source.take().unwrap_or(Source::Empty);
        RequestBody::new(source, &self.parts.headers, self.caller.verified(), limit)
    }

    /// The request body, its `x-amz-checksum-*` headers not taken as its checksum (they name
    /// CompleteMultipartUpload's object's).
    pub fn body_without_checksum_headers(&mut self, limit: u64) -> S3Result<RequestBody> {
        let source = self.source.take().unwrap_or(Source::Empty);
        let (headers, verified) = (&self.parts.headers, self.caller.verified());
        RequestBody::with_checksum_headers(source, headers, verified, limit, false)
    }

    /// For PutObject and UploadPart: the body's length must be declared, by `Content-Length`
    /// or chunked framing; without either a request has no body, and AWS answers 411
    /// `MissingContentLength` rather than store an empty object.
    pub fn require_length(&self) -> S3Result<()> {
        let headers = &self.parts.headers;
        if headers.contains_key(header::CONTENT_LENGTH)
            || headers.contains_key(header::TRANSFER_ENCODING)
        {
            return Ok(());
        }
        Err(S3Error::new(S3ErrorCode::MissingContentLength))
    }

    /// A small body (XML, JSON), read and checked; see [`read_small`]. Reading waited on the
    /// client: the caller's policy is read again after it (S7), so that whatever the handler
    /// authorises from here on (DeleteObjects' keys, a copy's source) is judged by the policy
    /// as it is now, as for a body buffered before authentication.
    pub async fn small_body(&mut self) -> S3Result<bytes::Bytes> {
        if let Some(read) = self.read_early.take() {
            return read;
        }
        let read = read_small(self.body(MAX_XML_BODY as u64), MAX_XML_BODY).await;
        let state = self.state.clone();
        self.caller.refresh_policy(&state);
        read
    }

    /// Owner of what this request writes (X1, X2: anonymous writes get the configured owner,
    /// 65534:65534 by default).
    pub fn owner(&self) -> Owner {
        self.caller.owner(self.state.config.anonymous_owner)
    }

    /// Authorises `action` on `resource` for this caller (used for CopyObject's source and
    /// DeleteObjects' keys).
    pub fn authorize(&self, action: keygate_policy::Action, resource: &str) -> S3Result<()> {
        crate::authz::authorize(&self.authz_request(), action, resource)
    }

    /// The parts of this request that authorisation reads.
    pub fn authz_request(&self) -> crate::authz::AuthzRequest<'_> {
        crate::authz::AuthzRequest {
            state: &self.state,
            caller: &self.caller,
            headers: &self.parts.headers,
            query: &self.query,
            remote: self.remote,
            secure: self.secure,
            body_tags: self.body_tags.as_deref(),
        }
    }
}

/// Serves one HTTP request. Never fails: every error becomes an S3 (or STS) error response.
///
/// Counts it in the server's metrics by operation and outcome, with the handler's thread CPU
/// when the request is one of the sampled ones (`metrics::cpu`).
pub async fn serve(
    state: Arc<AppState>,
    req: Request<TimedIncoming>,
    remote: SocketAddr,
    secure: bool,
) -> Response<Body> {
    let started = Instant::now();
    let served = serve_uncounted(&state, req, remote, secure);
    let ((resp, op), cpu_ns) = match state.metrics.sample_cpu() {
        Some(overhead) => {
            let (out, ns) = crate::metrics::cpu::measured(served, overhead).await;
            (out, Some(ns))
        }
        None => (served.await, None),
    };
    // Scrapes of the metrics endpoint are not counted: scraping must not change what it reports.
    if let Some(op) = op {
        let outcome = Outcome::of(resp.status());
        state
            .metrics
            .request(op, outcome, started.elapsed(), cpu_ns);
    }
    resp
}

/// [`serve`] without the final count: the response and what it counts as (`None` for a scrape
/// of the metrics endpoint).
async fn serve_uncounted(
    state: &Arc<AppState>,
    req: Request<TimedIncoming>,
    remote: SocketAddr,
    secure: bool,
) -> (Response<Body>, Option<OpLabel>) {
    let request_id = state.next_request_id();
    let is_head = req.method() == Method::HEAD;
    let path = req.uri().path().to_owned();
    let (parts, incoming) = req.into_parts();
    let mut op = OpLabel::Unrouted;
    let mut resp = if path == crate::metrics::PATH {
        metrics_response(state, &parts, remote, &path, &request_id, is_head)
    } else if path.starts_with(crate::admin::PREFIX) {
        op = OpLabel::Admin;
        crate::admin::serve(state.clone(), parts, incoming, remote, &request_id).await
    } else if crate::sts::is_sts_request(&parts) {
        op = OpLabel::Sts;
        crate::sts::serve(state.clone(), parts, incoming, remote, &request_id).await
    } else {
        match dispatch(state.clone(), parts, incoming, remote, secure, &mut op).await {
            Ok(resp) => resp,
            Err(e) => {
                state.metrics.error(e.code);
                error_response(&e, &path, &request_id, is_head)
            }
        }
    };
    if matches!(op, OpLabel::Admin | OpLabel::Sts) && resp.status().as_u16() >= 400 {
        state.metrics.other_error();
    }
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amz-request-id", v);
    }
    headers.insert(header::SERVER, HeaderValue::from_static("Keygate"));
    // The server's own clock (which --test-clock may have moved), so clients that correct
    // their clock skew from `Date` sign for the time the server checks against.
    if let Ok(v) = HeaderValue::from_str(&crate::s3::headers::http_date(state.clock.now_ms())) {
        headers.insert(header::DATE, v);
    }
    headers
        .entry("x-amz-id-2")
        .or_insert(HeaderValue::from_static("keygate"));
    let counted = (path != crate::metrics::PATH).then_some(op);
    (resp, counted)
}

/// `GET /_keygate/metrics`: open to loopback clients, otherwise root-signed only.
fn metrics_response(
    state: &AppState,
    parts: &http::request::Parts,
    remote: SocketAddr,
    path: &str,
    request_id: &str,
    is_head: bool,
) -> Response<Body> {
    if !remote.ip().is_loopback() {
        let root = crate::auth::authenticate_head(state, parts).map(|c| {
            c.principal()
                .is_some_and(|p| p.kind == crate::iam::PrincipalKind::Root)
        });
        match root {
            Ok(true) => {}
            Ok(false) => {
                let e = S3Error::new(S3ErrorCode::AccessDenied);
                return error_response(&e, path, request_id, is_head);
            }
            Err(e) => return error_response(&e, path, request_id, is_head),
        }
    }
    if parts.method != Method::GET {
        let e = S3Error::new(S3ErrorCode::MethodNotAllowed);
        return error_response(&e, path, request_id, is_head);
    }
    http_util::with_body(
        StatusCode::OK,
        "text/plain; version=0.0.4",
        state.metrics.render(),
    )
}

async fn dispatch(
    state: Arc<AppState>,
    parts: http::request::Parts,
    incoming: TimedIncoming,
    remote: SocketAddr,
    secure: bool,
    op: &mut OpLabel,
) -> S3Result<Response<Body>> {
    let t0 = Instant::now();
    let authenticated = authenticate(&state, &parts, incoming).await;
    state.metrics.stage(Stage::Sigv4, t0.elapsed());
    let (caller, source) = authenticated?;
    if caller
        .verified()
        .is_some_and(|v| v.service() == Service::Sts)
    {
        // STS is served as POST / only (see `crate::sts`); a request scoped to sts for
        // anything else has the wrong service in its credential scope (V4).
        return Err(S3Error::with_message(
            S3ErrorCode::AuthorizationHeaderMalformed,
            "The credential scope names service 'sts', which does not serve this request.",
        ));
    }
    let query = Query::parse(parts.uri.query().unwrap_or(""));
    let route = router::route_request(state.config.domain.as_deref(), &parts, &query)?;
    *op = OpLabel::S3(route.op);
    let mut ctx = Ctx {
        state,
        parts,
        route,
        query,
        caller,
        remote,
        secure,
        source: Some(source),
        read_early: None,
        body_tags: None,
        filter_buckets: false,
    };
    if ctx.route.op == Operation::PutObjectTagging {
        // Its tags are in the body, and `s3:RequestObjectTag/…` reads them (E9). A body that
        // cannot be read or is no tag set leaves the keys missing; its error is the
        // handler's to answer, after authorisation.
        let read = ctx.small_body().await;
        ctx.body_tags = read
            .as_ref()
            .ok()
            .and_then(|b| xml::parse_tagging(b, xml::Tagged::Object).ok());
        ctx.read_early = Some(read);
    }
    let t1 = Instant::now();
    let authorized = crate::authz::authorize(
        &ctx.authz_request(),
        ctx.route.op.action(),
        ctx.route.resource(ctx.parts.uri.path()),
    );
    let t2 = Instant::now();
    ctx.state.metrics.stage(Stage::Policy, t2 - t1);
    match authorized {
        Ok(()) => {}
        // E5: DeleteObjects is authorised per key, denied keys coming back as per-key errors.
        Err(e)
            if ctx.route.op == Operation::DeleteObjects && e.code == S3ErrorCode::AccessDenied => {}
        // E6: without s3:ListAllMyBuckets a signed caller still gets the buckets it may see.
        Err(e)
            if ctx.route.op == Operation::ListBuckets
                && e.code == S3ErrorCode::AccessDenied
                && ctx.caller.principal().is_some() =>
        {
            ctx.filter_buckets = true;
        }
        Err(e) => return Err(e),
    }
    let handled = handle(&mut ctx).await;
    ctx.state.metrics.stage(Stage::Storage, t2.elapsed());
    handled
}

async fn handle(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    use Operation::*;
    if !ctx.query.is_empty() && ctx.route.op.takes_version_id() {
        objects::check_version_id(ctx.query.get("versionId"))?;
    }
    match ctx.route.op {
        ListBuckets => buckets::list_buckets(ctx).await,
        CreateBucket => buckets::create_bucket(ctx).await,
        HeadBucket => buckets::head_bucket(ctx).await,
        DeleteBucket => buckets::delete_bucket(ctx).await,
        GetBucketLocation => buckets::get_location(ctx).await,
        GetBucketTagging => buckets::get_tagging(ctx).await,
        PutBucketTagging => buckets::put_tagging(ctx).await,
        DeleteBucketTagging => buckets::delete_tagging(ctx).await,
        GetBucketPolicy => buckets::get_policy(ctx).await,
        PutBucketPolicy => buckets::put_policy(ctx).await,
        DeleteBucketPolicy => buckets::delete_policy(ctx).await,
        ListObjects => listing::list_objects(ctx, false).await,
        ListObjectsV2 => listing::list_objects(ctx, true).await,
        ListMultipartUploads => multipart::list_uploads(ctx).await,
        DeleteObjects => objects::delete_objects(ctx).await,
        PutObject => objects::put_object(ctx).await,
        CopyObject => objects::copy_object(ctx).await,
        GetObject => objects::get_object(ctx, false).await,
        HeadObject => objects::get_object(ctx, true).await,
        DeleteObject => objects::delete_object(ctx).await,
        GetObjectTagging => objects::get_tagging(ctx).await,
        PutObjectTagging => objects::put_tagging(ctx).await,
        DeleteObjectTagging => objects::delete_tagging(ctx).await,
        CreateMultipartUpload => multipart::create(ctx).await,
        UploadPart => multipart::upload_part(ctx).await,
        UploadPartCopy => multipart::upload_part_copy(ctx).await,
        CompleteMultipartUpload => multipart::complete(ctx).await,
        AbortMultipartUpload => multipart::abort(ctx).await,
        ListParts => multipart::list_parts(ctx).await,
        NotImplemented(_) => Err(ctx.route.not_implemented(&ctx.query)),
    }
}

impl Operation {
    /// The operations whose object a `versionId` parameter may name.
    fn takes_version_id(self) -> bool {
        use Operation::*;
        matches!(
            self,
            GetObject
                | HeadObject
                | DeleteObject
                | GetObjectTagging
                | PutObjectTagging
                | DeleteObjectTagging
        )
    }
}

/// Renders an S3 error: XML body (none for HEAD), status from the code table.
/// Runs blocking store work (file system calls, fsync, the store's locks) on the blocking
/// pool, so a request waiting on a lock never holds a runtime worker.
pub(crate) async fn offload<T: Send + 'static>(
    work: impl FnOnce() -> S3Result<T> + Send + 'static,
) -> S3Result<T> {
    crate::metrics::cpu::offload(work)
        .await
        .map_err(S3Error::internal)?
}

pub fn error_response(e: &S3Error, path: &str, request_id: &str, is_head: bool) -> Response<Body> {
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = if is_head {
        http_util::empty(status)
    } else {
        error_body(e, path, request_id, status)
    };
    if let Some((name, value)) = e.header.as_deref() {
        http_util::set_header(&mut resp, name, value);
    }
    resp
}

/// The XML body of an S3 error.
fn error_body(e: &S3Error, path: &str, request_id: &str, status: StatusCode) -> Response<Body> {
    // The request's own text (key, path) may hold characters XML 1.0 forbids even as
    // references; replaced, so that any client can parse the body and read the code.
    let mut w = xml::XmlWriter::bare("Error");
    w.elem("Code", e.code.as_str())
        .elem_lossy("Message", &e.message);
    if let Some(bucket) = e.bucket.as_deref() {
        w.elem_lossy("BucketName", bucket);
    }
    if let Some(key) = e.key.as_deref() {
        w.elem_lossy("Key", key);
    }
    w.elem_lossy("Resource", path)
        .elem("RequestId", request_id)
        .elem("HostId", "keygate");
    http_util::xml(status, w.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn v8_head_errors_have_no_body_and_internal_errors_say_nothing_internal() {
        let e = S3Error::new(S3ErrorCode::NoSuchKey);
        let resp = error_response(&e, "/b/k", "RID", true);
        assert_eq!(resp.status(), 404);
        assert!(resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty());
        let e = S3Error::internal("disk on fire at /secret/path");
        let resp = error_response(&e, "/b/k", "RID", false);
        assert_eq!(resp.status(), 500);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains("<Code>InternalError</Code>")
                && text.contains("<RequestId>RID</RequestId>")
        );
        assert!(!text.contains("fire") && !text.contains("/secret"));
    }

    /// Regression: a key with control characters was echoed as `&#x0;`/`&#x1;`, which XML 1.0
    /// forbids, so XML 1.0 parsers (boto3's) failed on the body and lost the code.
    #[tokio::test]
    async fn error_bodies_carry_only_characters_xml_1_0_allows() {
        let e = S3Error::new(S3ErrorCode::NoSuchKey)
            .bucket("b\u{1}")
            .key("a\u{0}b\u{1}c\u{ffff}\r");
        let resp = error_response(&e, "/b%01/a\u{0}b", "RID", false);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains("<Key>a\u{fffd}b\u{fffd}c\u{fffd}&#xd;</Key>")
                && text.contains("<BucketName>b\u{fffd}</BucketName>")
                && text.contains("<Resource>/b%01/a\u{fffd}b</Resource>"),
            "{text}"
        );
        assert!(!text.contains("&#x0;") && !text.contains("&#x1;"), "{text}");
        assert!(!text.chars().any(|c| c < ' ' && c != '\n'), "{text}");
        assert!(text.contains("<Code>NoSuchKey</Code>"));
    }
}
