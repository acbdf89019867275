//! Object operations: put, get/head (ranges, conditions), delete, batch delete, copy, tagging.

use http::{HeaderMap, Response, StatusCode};
use http_body_util::BodyExt;
use keygate_policy::Action;
use keygate_sigv4::ChecksumAlgorithm;
use std::borrow::Cow;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::error::{S3Error, S3ErrorCode, S3Result};
use super::headers::{lossy, meta_from_headers, object_headers, parse_http_date, parse_tag_query};
use super::xml::{self, XmlWriter};
use super::{Ctx, MAX_PUT_SIZE};
use crate::http_util::{self, set_header, Body};
use crate::store::keys::{readable_key, validate_put_key};
use crate::store::{ObjectMeta, Precondition};

pub async fn put_object(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    ctx.require_length()?;
    let (bucket, key) = (ctx.bucket().to_owned(), ctx.key().to_owned());
    validate_put_key(&key)?;
    ctx.state.store.bucket_meta(&bucket)?;
    let precondition = write_precondition(ctx)?;
    precondition_now(ctx, &precondition)?;
    let mut meta = meta_from_headers(&ctx.parts.headers)?;
    let mut body = ctx.body(MAX_PUT_SIZE)?;
    let mut tmp = ctx.state.store.temp_object().await?;
    while let Some(chunk) = body.next().await? {
        tmp.write(&chunk).await?;
    }
    let finished = body.finish()?;
    let md5 = tmp.finish().await?;
    meta.etag = hex::encode(md5);
    meta.size = tmp.size();
    meta.modified_ms = ctx.state.clock.now_ms();
    meta.owner = ctx.owner();
    meta.checksum = finished
        .checksum
        .map(|(alg, v)| (alg.header_name().to_owned(), v));
    meta.checksum_type = meta.checksum.as_ref().map(|_| "FULL_OBJECT".to_owned());
    // fsyncs and renames: off the worker thread, which serves other requests meanwhile.
    let (state, staged) = (ctx.state.clone(), meta.clone());
    super::offload(move || {
        state
            .store
            .commit(tmp, &bucket, &key, &staged, &precondition)
    })
    .await?;
    let mut resp = http_util::empty(StatusCode::OK);
    set_header(&mut resp, "etag", &format!("\"{}\"", meta.etag));
    if let Some((name, value)) = &meta.checksum {
        set_header(&mut resp, name, value);
        // Always this type for a PutObject (S3's `PutObjectOutput`).
        set_header(&mut resp, "x-amz-checksum-type", "FULL_OBJECT");
    }
    Ok(resp)
}

/// A byte range resolved against an object's size: `start..=end`.
fn resolve_range(header: &str, size: u64) -> S3Result<Option<(u64, u64)>> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    // RFC 9110's positions are digits without bound: one past u64 is as good as u64::MAX.
    let number = |s: &str| {
        let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| s.parse::<u64>().unwrap_or(u64::MAX))
    };
    let (a, b) = (a.trim(), b.trim());
    // Compared as the numbers they are, however long.
    let after = |x: &str, y: &str| {
        let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
        (x.len(), x) > (y.len(), y)
    };
    let range = match (number(a), number(b)) {
        (Some(start), Some(end)) if !after(a, b) => (start, end.min(size.saturating_sub(1))),
        (Some(start), None) if b.is_empty() => (start, size.saturating_sub(1)),
        (None, Some(n)) if a.is_empty() => {
            if n == 0 {
                return Err(S3Error::new(S3ErrorCode::InvalidRange));
            }
            (size.saturating_sub(n), size.saturating_sub(1))
        }
        _ => return Ok(None),
    };
    if range.0 >= size {
        return Err(S3Error::new(S3ErrorCode::InvalidRange));
    }
    Ok(Some(range))
}

/// Evaluates If-Match / If-None-Match / If-(Un)Modified-Since: `Some(status)` to answer
/// without the object.
fn preconditions(ctx: &Ctx, meta: &ObjectMeta) -> Option<StatusCode> {
    conditions(|name| lossy(&ctx.parts.headers, name), "if-", meta)
}

/// The four conditions under `prefix` (`if-` for GET and HEAD, `x-amz-copy-source-if-` for
/// CopyObject's source), in S3's precedence: a matching `…match` decides over its date
/// condition. `Some(412)` when a match or unmodified condition fails, `Some(304)` when a
/// none-match or modified one does.
fn conditions<'h>(
    header: impl Fn(&str) -> Option<Cow<'h, str>>,
    prefix: &str,
    meta: &ObjectMeta,
) -> Option<StatusCode> {
    let get = |name: &str| header(&format!("{prefix}{name}"));
    let etag_matches = |list: &str| {
        list.split(',')
            .map(|t| t.trim().trim_matches('"'))
            .any(|t| t == "*" || t == meta.etag)
    };
    let modified = meta.modified_ms / 1000;
    if let Some(v) = get("match") {
        if !etag_matches(&v) {
            return Some(StatusCode::PRECONDITION_FAILED);
        }
    } else if let Some(t) = get("unmodified-since").and_then(|t| parse_http_date(&t)) {
        if modified > t {
            return Some(StatusCode::PRECONDITION_FAILED);
        }
    }
    if let Some(v) = get("none-match") {
        if etag_matches(&v) {
            return Some(StatusCode::NOT_MODIFIED);
        }
    } else if let Some(t) = get("modified-since").and_then(|t| parse_http_date(&t)) {
        if modified <= t {
            return Some(StatusCode::NOT_MODIFIED);
        }
    }
    None
}

pub async fn get_object(ctx: &mut Ctx, head: bool) -> S3Result<Response<Body>> {
    let part = part_number(ctx.query.get("partNumber"))?;
    if part.is_some() && ctx.header("range").is_some() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter",
        ));
    }
    // HEAD needs only the metadata: the data file is not opened.
    let (file, meta) = if head {
        (None, ctx.state.store.head_object(ctx.bucket(), ctx.key())?)
    } else {
        let reader = ctx.state.store.open_object(ctx.bucket(), ctx.key())?;
        (Some(reader.file), reader.meta)
    };
    refuse_sse_c(&ctx.parts.headers, "x-amz-server-side-encryption-customer-")?;
    if let Some(status) = preconditions(ctx, &meta) {
        if status == StatusCode::PRECONDITION_FAILED {
            return Err(S3Error::new(S3ErrorCode::PreconditionFailed));
        }
        let mut resp = http_util::empty(status);
        set_header(&mut resp, "etag", &format!("\"{}\"", meta.etag));
        return Ok(resp);
    }
    // (start, length) of what is asked for, if not the whole object.
    let slice = match (part, ctx.header("range")) {
        (Some(n), _) => Some(part_slice(&meta, n)?),
        // RFC 7233 §4.4: a 416 names the current length.
        (None, Some(r)) => resolve_range(r, meta.size)
            .map_err(|e| e.header("content-range", format!("bytes */{}", meta.size)))?
            .map(|(s, e)| (s, e - s + 1)),
        (None, None) => None,
    };
    let (status, start, len) = match slice {
        Some((s, len)) if len > 0 => (StatusCode::PARTIAL_CONTENT, s, len),
        // An empty part: no range names it.
        Some((s, _)) => (StatusCode::OK, s, 0),
        None => (StatusCode::OK, 0, meta.size),
    };
    // The stored checksum is the whole object's: sent only with the whole object, never for
    // a part of a multipart object (one of a composite upload has its own, below); an object
    // not uploaded in parts is its own part 1.
    let checksum_mode = ctx
        .header("x-amz-checksum-mode")
        .is_some_and(|m| m.eq_ignore_ascii_case("enabled"));
    let with_checksum = start == 0
        && len == meta.size
        && (part.is_none() || stored_parts(&meta).is_empty())
        && ctx.header("range").is_none()
        && checksum_mode;
    let body = if let Some(file) = file.filter(|_| len > 0) {
        let mut file = tokio::fs::File::from_std(file);
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(S3Error::internal)?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), 256 * 1024);
        let frames = futures_util::StreamExt::map(stream, |r| r.map(hyper::body::Frame::data));
        http_body_util::StreamBody::new(frames).boxed()
    } else {
        http_util::empty_body()
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    object_headers(&mut resp, &meta, &ctx.query, with_checksum);
    let parts = stored_parts(&meta);
    if part.is_some() && !parts.is_empty() {
        set_header(&mut resp, "x-amz-mp-parts-count", &parts.len().to_string());
    }
    if let (Some(n), true) = (part, checksum_mode) {
        let own = meta
            .part_checksums
            .get(n as usize - 1)
            .filter(|_| meta.part_checksums.len() == parts.len());
        if let (Some(value), Some((name, _))) = (own, &meta.checksum) {
            set_header(&mut resp, name, value);
            set_header(&mut resp, "x-amz-checksum-type", "COMPOSITE");
        }
    }
    set_header(&mut resp, "content-length", &len.to_string());
    if status == StatusCode::PARTIAL_CONTENT {
        let end = start + len - 1;
        let range = format!("bytes {start}-{end}/{}", meta.size);
        set_header(&mut resp, "content-range", &range);
    }
    Ok(resp)
}

/// No object is encrypted (see `check_write_headers`): SSE-C keys (headers under `prefix`)
/// have nothing to decrypt, which S3 answers so for an object that exists but was not written
/// with them.
fn refuse_sse_c(headers: &HeaderMap, prefix: &str) -> S3Result<()> {
    if headers.keys().any(|k| k.as_str().starts_with(prefix)) {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The encryption parameters are not applicable to this object.",
        ));
    }
    Ok(())
}

pub async fn delete_object(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let (state, bucket, key) = (
        ctx.state.clone(),
        ctx.bucket().to_owned(),
        ctx.key().to_owned(),
    );
    // Off the reactor: it may wait on the bucket's directory lock (see `store`).
    // `If-Match` only: S3 takes no `If-None-Match` on a delete.
    let precondition = Precondition {
        absent: false,
        etag_in: lossy(&ctx.parts.headers, "if-match").map(Cow::into_owned),
    };
    authorize_etag_check(ctx, &precondition, &bucket, &key, Conditional::Delete)?;
    super::offload(move || state.store.delete_object(&bucket, &key, &precondition)).await?;
    Ok(http_util::empty(StatusCode::NO_CONTENT))
}

/// The server keeps no versions. As S3 on an unversioned bucket: `null`, the version id of
/// every object there, names the current object; any other id is 400 `InvalidArgument`.
pub(super) fn check_version_id(version_id: Option<&str>) -> S3Result<()> {
    match version_id {
        None | Some("null") => Ok(()),
        Some(_) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Invalid version id specified",
        )),
    }
}

/// `If-None-Match: *` and `If-Match` on a write (PutObject, CopyObject's destination,
/// CompleteMultipartUpload), as S3 takes them; S3 implements no other `If-None-Match` on a
/// write (501).
pub(super) fn write_precondition(ctx: &Ctx) -> S3Result<Precondition> {
    let absent = match lossy(&ctx.parts.headers, "if-none-match").as_deref() {
        None => false,
        Some(v) if v.trim() == "*" => true,
        Some(_) => {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                "A header you provided implies functionality that is not implemented: \
                 If-None-Match other than * on a write",
            ))
        }
    };
    let precondition = Precondition {
        absent,
        etag_in: lossy(&ctx.parts.headers, "if-match").map(Cow::into_owned),
    };
    authorize_etag_check(
        ctx,
        &precondition,
        ctx.bucket(),
        ctx.key(),
        Conditional::Write,
    )?;
    Ok(precondition)
}

/// Which operation an `If-Match` comes with, for [`authorize_etag_check`].
#[derive(Clone, Copy, PartialEq)]
enum Conditional {
    Write,
    Delete,
}

/// An `If-Match` tells whether the object exists and what its ETag is: as AWS, it also needs
/// `s3:GetObject` on the key (E7: authorisation before existence). A delete's `If-Match: *`
/// only asks whether the object exists, which S3 lets `s3:DeleteObject` alone ask (its
/// conditional-delete guide requires `s3:GetObject` "with a specific ETag value"); for writes
/// S3 documents no such exception.
fn authorize_etag_check(
    ctx: &Ctx,
    p: &Precondition,
    bucket: &str,
    key: &str,
    op: Conditional,
) -> S3Result<()> {
    match &p.etag_in {
        Some(list) if op == Conditional::Delete && Precondition::is_any(list) => Ok(()),
        Some(_) => ctx.authorize(Action::GetObject, &format!("{bucket}/{key}")),
        None => Ok(()),
    }
}

/// Checks `precondition` against the key's object as it is now, so a write that already
/// fails it is answered before its body is read or its parts assembled; the store checks it
/// again as the write takes effect.
pub(super) fn precondition_now(ctx: &Ctx, precondition: &Precondition) -> S3Result<()> {
    if *precondition == Precondition::NONE {
        return Ok(());
    }
    let current = match ctx.state.store.object_meta(ctx.bucket(), ctx.key()) {
        Ok(meta) => Some(meta),
        Err(e) if e.code == S3ErrorCode::NoSuchKey => None,
        Err(e) => return Err(e),
    };
    precondition.check(current.as_ref(), ctx.key())
}

/// `partNumber` on GetObject and HeadObject: 1 to 10000, digits only, else 400.
fn part_number(part: Option<&str>) -> S3Result<Option<u32>> {
    let Some(part) = part else { return Ok(None) };
    match part.parse::<u32>() {
        Ok(n @ 1..=10_000) if part.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
        _ => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive",
        )),
    }
}

/// (start, length) of part `n`, as S3 serves `?partNumber=N` (206 with its `Content-Range`).
/// An object completed from a multipart upload has the parts it was assembled from; any
/// other is one part, the whole object (the AWS transfer managers and the CRT start every
/// download with `partNumber=1`). A part beyond the last is 416 `InvalidPartNumber`.
fn part_slice(meta: &ObjectMeta, n: u32) -> S3Result<(u64, u64)> {
    let parts = stored_parts(meta);
    let i = n as usize - 1;
    match (parts.get(i), parts.is_empty()) {
        (Some(&len), _) => Ok((parts[..i].iter().sum(), len)),
        (None, true) if i == 0 => Ok((0, meta.size)),
        (None, _) => Err(S3Error::new(S3ErrorCode::InvalidPartNumber)),
    }
}

/// The part sizes of an object completed from a multipart upload, trusted only when they add
/// up to its size (so no offset overflows or runs past the data); otherwise none: one part.
fn stored_parts(meta: &ObjectMeta) -> &[u64] {
    let total = meta
        .parts
        .iter()
        .try_fold(0u64, |sum, &p| sum.checked_add(p));
    if total == Some(meta.size) {
        &meta.parts
    } else {
        &[]
    }
}

/// DeleteObjects must carry an integrity check of its body (S3, MinIO): `Content-MD5`, an
/// `x-amz-checksum-<algorithm>` header, or a checksum trailer (`x-amz-trailer`) on an
/// aws-chunked body.
fn require_body_checksum(ctx: &Ctx) -> S3Result<()> {
    let headers = &ctx.parts.headers;
    // A checksum itself: not `x-amz-checksum-mode` or `-type`, which name none.
    let checksum_header = [
        "x-amz-checksum-crc32",
        "x-amz-checksum-crc32c",
        "x-amz-checksum-crc64nvme",
        "x-amz-checksum-sha1",
        "x-amz-checksum-sha256",
    ]
    .iter()
    .any(|name| headers.contains_key(*name));
    // A trailer is only read from an aws-chunked body.
    let trailer = headers.contains_key("x-amz-trailer")
        && headers
            .get("x-amz-content-sha256")
            .is_some_and(|v| v.as_bytes().starts_with(b"STREAMING-"));
    if headers.contains_key("content-md5") || checksum_header || trailer {
        return Ok(());
    }
    Err(S3Error::with_message(
        S3ErrorCode::InvalidRequest,
        "Missing required header for this request: Content-MD5",
    ))
}

pub async fn delete_objects(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    require_body_checksum(ctx)?;
    // Each key is authorised after the body arrived: with the policy as it is now (S7).
    let body = ctx.small_body().await?;
    let (quiet, objects) = xml::parse_delete(&body)?;
    let bucket = ctx.bucket().to_owned();
    if let Err(e) = ctx.state.store.bucket_meta(&bucket) {
        // E7: a caller who may delete none of the keys learns nothing about the bucket.
        let may_delete_some = objects.iter().any(|o| {
            ctx.authorize(Action::DeleteObject, &format!("{bucket}/{}", o.key))
                .is_ok()
        });
        return Err(if may_delete_some {
            e
        } else {
            S3Error::new(S3ErrorCode::AccessDenied)
        });
    }
    // Authorised here, deleted off the reactor (see `delete_object`).
    let checked: Vec<(xml::ObjectToDelete, Precondition, S3Result<()>)> = objects
        .into_iter()
        .map(|o| {
            // An `<ETag>` makes it a conditional delete of that key (as `If-Match`).
            let precondition = Precondition {
                absent: false,
                etag_in: o.etag.clone(),
            };
            let allowed = readable_key(&o.key)
                .and_then(|_| ctx.authorize(Action::DeleteObject, &format!("{bucket}/{}", o.key)))
                .and_then(|()| {
                    authorize_etag_check(ctx, &precondition, &bucket, &o.key, Conditional::Delete)
                })
                .and_then(|()| check_version_id(o.version_id.as_deref()));
            (o, precondition, allowed)
        })
        .collect();
    let state = ctx.state.clone();
    let outcomes = super::offload(move || {
        Ok(checked
            .into_iter()
            .map(|(o, precondition, allowed)| {
                let done = allowed
                    .and_then(|()| state.store.delete_object(&bucket, &o.key, &precondition));
                (o, done)
            })
            .collect::<Vec<_>>())
    })
    .await?;
    let mut w = XmlWriter::new("DeleteResult");
    for (o, outcome) in &outcomes {
        match outcome {
            Ok(()) if quiet => {}
            Ok(()) => {
                w.open("Deleted").elem("Key", &o.key);
                w.opt("VersionId", o.version_id.as_deref()).close();
            }
            Err(e) => {
                // An error body: what XML 1.0 forbids is replaced, so every client can read
                // the codes (see `error_response`).
                w.open("Error").elem_lossy("Key", &o.key);
                if let Some(v) = &o.version_id {
                    w.elem_lossy("VersionId", v);
                }
                w.elem("Code", e.code.as_str())
                    .elem_lossy("Message", &e.message)
                    .close();
            }
        }
    }
    Ok(http_util::xml(StatusCode::OK, w.finish()))
}

/// `x-amz-copy-source`: `[/]bucket/key[?versionId=...]`, URL-encoded.
pub(crate) fn parse_copy_source(raw: &str) -> S3Result<(String, String)> {
    let raw = raw.split('?').next().unwrap_or(raw);
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Invalid copy source encoding.",
            )
        })?;
    let trimmed = decoded.strip_prefix('/').unwrap_or(&decoded);
    match trimmed.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.to_owned(), k.to_owned())),
        _ => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.",
        )),
    }
}

/// The source a copy names (CopyObject, UploadPartCopy) in `x-amz-copy-source`: its bucket
/// and key, authorised (`s3:GetObject`, besides the route's own action) and its version id
/// checked.
pub(super) fn copy_source(ctx: &Ctx) -> S3Result<(String, String)> {
    let source = ctx.header("x-amz-copy-source").unwrap_or("");
    let (src_bucket, src_key) = parse_copy_source(source)?;
    readable_key(&src_key)?;
    ctx.authorize(Action::GetObject, &format!("{src_bucket}/{src_key}"))?;
    check_version_id(copy_source_version(source).as_deref())?;
    Ok((src_bucket, src_key))
}

/// What a copy requires of its source as read: no SSE-C keys for it, and its conditions
/// (`x-amz-copy-source-if-*`) against the very source copied: any failing one is 412 for a
/// copy, the modified conditions included (S3).
pub(super) fn check_copy_source(headers: &HeaderMap, src: &ObjectMeta) -> S3Result<()> {
    refuse_sse_c(
        headers,
        "x-amz-copy-source-server-side-encryption-customer-",
    )?;
    let header = |name: &str| lossy(headers, name);
    if conditions(header, "x-amz-copy-source-if-", src).is_some() {
        return Err(S3Error::new(S3ErrorCode::PreconditionFailed));
    }
    Ok(())
}

/// The `versionId` of an `x-amz-copy-source` header, if it names one.
fn copy_source_version(raw: &str) -> Option<String> {
    let (_, query) = raw.split_once('?')?;
    super::query::Query::parse(query)
        .get("versionId")
        .map(str::to_owned)
}

pub async fn copy_object(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    // CopyObject takes no body, but one sent is held to its declared hash (V2).
    ctx.small_body().await?;
    // Whatever the metadata directive (see `meta_from_headers`).
    super::headers::check_write_headers(&ctx.parts.headers)?;
    let (src_bucket, src_key) = copy_source(ctx)?;
    let (bucket, key) = (ctx.bucket().to_owned(), ctx.key().to_owned());
    validate_put_key(&key)?;
    let replace_meta = match ctx.header("x-amz-metadata-directive") {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(_) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Unknown metadata directive.",
            ))
        }
    };
    let replace_tags = match ctx.header("x-amz-tagging-directive") {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(_) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Unknown tagging directive.",
            ))
        }
    };
    if src_bucket == bucket && src_key == key && !replace_meta && !replace_tags {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let new_meta = if replace_meta {
        Some(meta_from_headers(&ctx.parts.headers)?)
    } else {
        None
    };
    let asked = super::headers::checksum_algorithm(&ctx.parts.headers)?;
    let new_tags = match (replace_tags, ctx.header("x-amz-tagging")) {
        (true, Some(t)) => Some(parse_tag_query(t)?),
        (true, None) => Some(Vec::new()),
        (false, _) => None,
    };
    let owner = ctx.owner();
    let now_ms = ctx.state.clock.now_ms();
    let state = ctx.state.clone();
    let headers = ctx.parts.headers.clone();
    let precondition = write_precondition(ctx)?;
    precondition_now(ctx, &precondition)?;
    let meta = super::offload(move || {
        state.store.copy_object(
            &src_bucket,
            &src_key,
            &bucket,
            &key,
            |src| {
                check_copy_source(&headers, src)?;
                let mut meta = match new_meta {
                    Some(mut m) => {
                        m.tags = src.tags.clone();
                        m
                    }
                    None => src.clone(),
                };
                if let Some(tags) = new_tags {
                    meta.tags = tags;
                }
                meta.checksum = src.checksum.clone();
                meta.checksum_type = src.checksum_type.clone();
                meta.modified_ms = now_ms;
                meta.owner = owner;
                Ok((meta, copy_checksum(asked, src)))
            },
            &precondition,
        )
    })
    .await?;
    let mut w = XmlWriter::new("CopyObjectResult");
    w.elem("LastModified", &xml::timestamp(meta.modified_ms))
        .elem("ETag", &format!("\"{}\"", meta.etag));
    xml::checksum_elements(&mut w, &meta);
    Ok(http_util::xml(StatusCode::OK, w.finish()))
}

/// The checksum a copy computes over the bytes it copies: in the algorithm the request asks
/// for (`x-amz-checksum-algorithm`), else in the source's, as S3 does. Not computed when the
/// source's whole-object checksum is already in that algorithm (the same bytes: it still
/// holds, and the copy keeps it). A source's composite checksum describes parts the copy does
/// not have: its algorithm's whole-object checksum is computed instead.
fn copy_checksum(asked: Option<ChecksumAlgorithm>, src: &ObjectMeta) -> Option<ChecksumAlgorithm> {
    let held = src
        .checksum
        .as_ref()
        .and_then(|(name, _)| ChecksumAlgorithm::from_header_name(name));
    let whole = src.checksum_type.as_deref() != Some("COMPOSITE");
    match asked.or(held) {
        Some(alg) if whole && Some(alg) == held => None,
        wanted => wanted,
    }
}

pub async fn get_tagging(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let meta = ctx.state.store.object_meta(ctx.bucket(), ctx.key())?;
    Ok(http_util::xml(StatusCode::OK, xml::tagging(&meta.tags)))
}

pub async fn put_tagging(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let body = ctx.small_body().await?;
    let tags = xml::parse_tagging(&body, xml::Tagged::Object)?;
    let (state, bucket, key) = (
        ctx.state.clone(),
        ctx.bucket().to_owned(),
        ctx.key().to_owned(),
    );
    super::offload(move || state.store.update_meta(&bucket, &key, |m| m.tags = tags)).await?;
    Ok(http_util::empty(StatusCode::OK))
}

pub async fn delete_tagging(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let (state, bucket, key) = (
        ctx.state.clone(),
        ctx.bucket().to_owned(),
        ctx.key().to_owned(),
    );
    super::offload(move || state.store.update_meta(&bucket, &key, |m| m.tags.clear())).await?;
    Ok(http_util::empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Part sizes are trusted only when they add up to the object's size: none overflows an
    /// offset or runs past the data.
    #[test]
    fn parts_that_do_not_add_up_make_one_part() {
        let meta = |size, parts: &[u64]| ObjectMeta {
            size,
            parts: parts.to_vec(),
            ..ObjectMeta::default()
        };
        let three = meta(12, &[5, 0, 7]);
        assert_eq!(part_slice(&three, 1).unwrap(), (0, 5));
        assert_eq!(part_slice(&three, 2).unwrap(), (5, 0));
        assert_eq!(part_slice(&three, 3).unwrap(), (5, 7));
        assert_eq!(
            part_slice(&three, 4).unwrap_err().code,
            S3ErrorCode::InvalidPartNumber
        );
        for bad in [meta(12, &[u64::MAX, 13]), meta(12, &[5, 8]), meta(12, &[5])] {
            assert!(stored_parts(&bad).is_empty(), "{:?}", bad.parts);
            assert_eq!(part_slice(&bad, 1).unwrap(), (0, 12));
            assert!(part_slice(&bad, 2).is_err());
        }
    }

    #[test]
    fn ranges_resolve_as_s3_does() {
        assert_eq!(resolve_range("bytes=0-9", 100).unwrap(), Some((0, 9)));
        assert_eq!(resolve_range("bytes=90-", 100).unwrap(), Some((90, 99)));
        assert_eq!(resolve_range("bytes=-10", 100).unwrap(), Some((90, 99)));
        assert_eq!(resolve_range("bytes=-1000", 100).unwrap(), Some((0, 99)));
        assert_eq!(resolve_range("bytes=50-1000", 100).unwrap(), Some((50, 99)));
        assert_eq!(
            resolve_range("bytes=100-", 100).unwrap_err().code,
            S3ErrorCode::InvalidRange
        );
        assert_eq!(
            resolve_range("bytes=-0", 100).unwrap_err().code,
            S3ErrorCode::InvalidRange
        );
        assert_eq!(resolve_range("bytes=5-2", 100).unwrap(), None);
        assert_eq!(resolve_range("bytes=0-1,4-5", 100).unwrap(), None);
        assert_eq!(resolve_range("items=0-1", 100).unwrap(), None);
        assert_eq!(resolve_range("bytes=+1-2", 100).unwrap(), None);
        // Both past u64, last before first: ignored, as any such range.
        let (first, last) = ("18446744073709551617", "018446744073709551616");
        let spec = format!("bytes={first}-{last}");
        assert_eq!(resolve_range(&spec, 100).unwrap(), None);
        // Positions past u64: a start beyond any object, an end or suffix past its end.
        assert_eq!(
            resolve_range("bytes=99999999999999999999-", 100)
                .unwrap_err()
                .code,
            S3ErrorCode::InvalidRange
        );
        let huge = "18446744073709551616";
        assert_eq!(
            resolve_range(&format!("bytes=0-{huge}"), 100).unwrap(),
            Some((0, 99))
        );
        assert_eq!(
            resolve_range(&format!("bytes=-{huge}"), 100).unwrap(),
            Some((0, 99))
        );
    }

    #[test]
    fn copy_sources_parse() {
        assert_eq!(
            parse_copy_source("/b/a%20b?versionId=1").unwrap(),
            ("b".into(), "a b".into())
        );
        assert_eq!(
            parse_copy_source("b/k/x").unwrap(),
            ("b".into(), "k/x".into())
        );
        assert!(parse_copy_source("b").is_err());
        assert!(parse_copy_source("%ff%fe/x").is_err());
        assert_eq!(
            copy_source_version("/b/k?versionId=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            copy_source_version("/b/k?versionId=null").as_deref(),
            Some("null")
        );
        assert_eq!(copy_source_version("/b/k"), None);
    }

    #[test]
    fn only_the_null_version_id_names_an_object() {
        assert!(check_version_id(None).is_ok());
        assert!(check_version_id(Some("null")).is_ok());
        for bad in ["abc", "", "NULL", "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"] {
            let e = check_version_id(Some(bad)).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::InvalidArgument, "{bad}");
            assert_eq!(e.message, "Invalid version id specified");
        }
    }
}
