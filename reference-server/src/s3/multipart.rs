//! Multipart uploads: create, upload part, complete, abort, list parts, list uploads.

use http::{Response, StatusCode};

use super::error::{S3Error, S3ErrorCode, S3Result};
use super::headers::{lossy, meta_from_headers};
use super::xml::{self, XmlWriter};
use super::Ctx;
use crate::http_util::{self, set_header, Body};
use crate::store::multipart::{
    checksum_mismatch, checksum_type_name, made_by, Completion, ObjectClaims, UploadChecksum,
    MAX_PART_NUMBER, MAX_PART_SIZE,
};
use crate::store::{ObjectMeta, Precondition};
use keygate_sigv4::{ChecksumAlgorithm, Checksummer};

fn upload_id(ctx: &Ctx) -> String {
    ctx.query.get("uploadId").unwrap_or_default().to_owned()
}

pub async fn create(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    // CreateMultipartUpload takes no body, but one sent is held to its declared hash (V2).
    ctx.small_body().await?;
    let template = meta_from_headers(&ctx.parts.headers)?;
    let checksum = upload_checksum(ctx)?;
    let now = ctx.state.clock.now_ms();
    let (state, bucket, key) = (
        ctx.state.clone(),
        ctx.bucket().to_owned(),
        ctx.key().to_owned(),
    );
    let kept = checksum.clone();
    // Off the reactor: it fsyncs and takes the bucket's directory lock.
    let id = super::offload(move || {
        state
            .store
            .create_upload(&bucket, &key, template, kept, now)
    })
    .await?;
    let mut w = XmlWriter::new("InitiateMultipartUploadResult");
    w.elem("Bucket", ctx.bucket())
        .elem("Key", ctx.key())
        .elem("UploadId", &id);
    let mut resp = http_util::xml(StatusCode::OK, w.finish());
    if let Some(c) = &checksum {
        set_header(&mut resp, "x-amz-checksum-algorithm", &c.algorithm);
        set_header(&mut resp, "x-amz-checksum-type", c.type_name());
    }
    Ok(resp)
}

/// A header's value, not ASCII kept as an invalid value (see [`lossy`]).
fn header_lossy<'h>(ctx: &'h Ctx, name: &str) -> Option<std::borrow::Cow<'h, str>> {
    lossy(&ctx.parts.headers, name)
}

/// `x-amz-checksum-type`: `Some(true)` for `FULL_OBJECT`, `Some(false)` for `COMPOSITE`.
fn checksum_type(ctx: &Ctx) -> S3Result<Option<bool>> {
    match header_lossy(ctx, "x-amz-checksum-type")
        .as_deref()
        .map(str::trim)
    {
        None => Ok(None),
        Some(t) if t.eq_ignore_ascii_case("FULL_OBJECT") => Ok(Some(true)),
        Some(t) if t.eq_ignore_ascii_case("COMPOSITE") => Ok(Some(false)),
        Some(_) => Err(invalid_request(
            "Value for x-amz-checksum-type header is invalid.".to_owned(),
        )),
    }
}

fn invalid_request(message: String) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidRequest, message)
}

/// The checksum CreateMultipartUpload asks the object to get (`x-amz-checksum-algorithm`,
/// `x-amz-checksum-type`), as S3 takes them: a type needs an algorithm; the type defaults to
/// `FULL_OBJECT` for CRC-64/NVME (which has no other) and `COMPOSITE` for the rest;
/// `FULL_OBJECT` takes CRCs only.
fn upload_checksum(ctx: &Ctx) -> S3Result<Option<UploadChecksum>> {
    let Some(alg) = super::headers::checksum_algorithm(&ctx.parts.headers)? else {
        return match checksum_type(ctx)? {
            None => Ok(None),
            Some(_) => Err(invalid_request(
                "The x-amz-checksum-type header can only be used with the \
                 x-amz-checksum-algorithm header."
                    .to_owned(),
            )),
        };
    };
    let full_object = checksum_type(ctx)?.unwrap_or(alg == ChecksumAlgorithm::Crc64Nvme);
    let allowed = match full_object {
        true => alg.is_crc(),
        false => alg != ChecksumAlgorithm::Crc64Nvme,
    };
    if !allowed {
        return Err(invalid_request(format!(
            "The {} checksum type cannot be used with the {} checksum algorithm.",
            checksum_type_name(full_object),
            alg.name()
        )));
    }
    Ok(Some(UploadChecksum {
        algorithm: alg.name().to_owned(),
        full_object,
    }))
}

/// The request's `partNumber`, 1..=10000.
fn part_number(ctx: &Ctx) -> S3Result<u32> {
    ctx.query
        .get("partNumber")
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive.",
            )
        })
}

pub async fn upload_part(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    ctx.require_length()?;
    let number = part_number(ctx)?;
    let id = upload_id(ctx);
    let upload = ctx.state.store.upload(ctx.bucket(), ctx.key(), &id)?;
    // An upload with a checksum algorithm gets every part's checksum in it: the one the part
    // comes with (verified as the body is read), else computed here. One in another
    // algorithm is refused before the body is read.
    let algorithm = upload.checksum.as_ref().and_then(UploadChecksum::algorithm);
    let mut body = ctx.body(MAX_PART_SIZE)?;
    let sent = body.declared_checksum();
    if let (Some(want), Some(sent)) = (algorithm, sent) {
        if sent != want {
            let name = |a: ChecksumAlgorithm| a.name().to_ascii_lowercase();
            return Err(checksum_mismatch(&name(want), &name(sent)));
        }
    }
    let mut computed = algorithm.filter(|_| sent.is_none()).map(Checksummer::new);
    let mut tmp = ctx.state.store.temp_object().await?;
    while let Some(chunk) = body.next().await? {
        if let Some(h) = &mut computed {
            h.update(&chunk);
        }
        tmp.write(&chunk).await?;
    }
    let finished = body.finish()?;
    let checksum = match (finished.checksum, computed) {
        (Some(sent), _) => Some(sent),
        (None, Some(h)) => Some((h.algorithm(), h.finish())),
        (None, None) => None,
    };
    let checksum = checksum.map(|(alg, v)| (alg.header_name().to_owned(), v));
    let md5 = tmp.finish().await?;
    let now = ctx.state.clock.now_ms();
    let state = ctx.state.clone();
    let part =
        super::offload(move || state.store.put_part(&id, number, tmp, md5, checksum, now)).await?;
    let mut resp = http_util::empty(StatusCode::OK);
    set_header(&mut resp, "etag", &format!("\"{}\"", part.etag));
    if let Some((name, value)) = &part.checksum {
        set_header(&mut resp, name, value);
    }
    Ok(resp)
}

/// UploadPartCopy: a part made of an object's bytes, all of them or the
/// `x-amz-copy-source-range` (`bytes=first-last`) asked for, read under the source's
/// conditions (`x-amz-copy-source-if-*`) as CopyObject reads them; `s3:GetObject` on the
/// source besides the route's `s3:PutObject`. The part gets the upload's checksum, computed
/// over the bytes copied.
pub async fn upload_part_copy(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    // No body, but one sent is held to its declared hash (V2), as CopyObject's.
    ctx.small_body().await?;
    let number = part_number(ctx)?;
    let (src_bucket, src_key) = super::objects::copy_source(ctx)?;
    let range = match header_lossy(ctx, "x-amz-copy-source-range") {
        None => None,
        Some(v) => Some(copy_source_range(&v)?),
    };
    let id = upload_id(ctx);
    let upload = ctx.state.store.upload(ctx.bucket(), ctx.key(), &id)?;
    let algorithm = upload.checksum.as_ref().and_then(UploadChecksum::algorithm);
    let (state, headers) = (ctx.state.clone(), ctx.parts.headers.clone());
    let now = ctx.state.clock.now_ms();
    let part = super::offload(move || {
        let mut checksum = algorithm.map(Checksummer::new);
        let source_checks = |src: &ObjectMeta| {
            super::objects::check_copy_source(&headers, src)?;
            resolve_copy_range(range, src.size)
        };
        let (tmp, md5) = state.store.copy_part_source(
            &src_bucket,
            &src_key,
            source_checks,
            checksum.as_mut(),
        )?;
        let checksum = checksum.map(|c| (c.algorithm().header_name().to_owned(), c.finish()));
        state.store.put_part(&id, number, tmp, md5, checksum, now)
    })
    .await?;
    let mut w = XmlWriter::new("CopyPartResult");
    w.elem("LastModified", &xml::timestamp(part.modified_ms))
        .elem("ETag", &format!("\"{}\"", part.etag));
    xml::part_checksum_element(&mut w, part.checksum.as_ref());
    Ok(http_util::xml(StatusCode::OK, w.finish()))
}

/// `x-amz-copy-source-range`: `bytes=first-last`, both given, first <= last.
fn copy_source_range(v: &str) -> S3Result<(u64, u64)> {
    let range = v.trim().strip_prefix("bytes=").and_then(|r| {
        let (first, last) = r.split_once('-')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(first) || !digits(last) {
            return None;
        }
        Some((first.parse::<u64>().ok()?, last.parse::<u64>().ok()?))
    });
    range.filter(|(first, last)| first <= last).ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first \
             and last are the zero-based offsets of the first and last bytes to copy",
        )
    })
}

/// The bytes of a source of `size` bytes a part copies: the range asked for, which must lie
/// within the object, else all of it, which must fit in a part (5 GiB).
fn resolve_copy_range(range: Option<(u64, u64)>, size: u64) -> S3Result<Option<(u64, u64)>> {
    match range {
        Some((_, last)) if last >= size => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("Range specified is not valid for source object of size: {size}"),
        )),
        Some((first, last)) if last - first + 1 > MAX_PART_SIZE => Err(too_large_source()),
        None if size > MAX_PART_SIZE => Err(too_large_source()),
        range => Ok(range),
    }
}

fn too_large_source() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidRequest,
        format!(
            "The specified copy source is larger than the maximum allowable size for a copy \
             source: {MAX_PART_SIZE}"
        ),
    )
}

/// What CompleteMultipartUpload's headers say of the object: `x-amz-checksum-*` (not the
/// request body's checksum; a composite value may carry its `-<parts>` suffix),
/// `x-amz-checksum-type`, `x-amz-mp-object-size`.
fn object_claims(ctx: &Ctx) -> S3Result<ObjectClaims> {
    let mut value = None;
    for alg in ChecksumAlgorithm::ALL {
        let Some(v) = header_lossy(ctx, alg.header_name()) else {
            continue;
        };
        if value.is_some() {
            return Err(invalid_request(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
                    .to_owned(),
            ));
        }
        let digest = v.trim().split('-').next().unwrap_or_default();
        if alg.decode(digest).is_none() {
            return Err(invalid_request(format!(
                "Value for {} header is invalid.",
                alg.header_name()
            )));
        }
        value = Some((alg, v.trim().to_owned()));
    }
    let size = match header_lossy(ctx, "x-amz-mp-object-size") {
        None => None,
        Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "x-amz-mp-object-size must be a non-negative integer.",
            )
        })?),
    };
    Ok(ObjectClaims {
        value,
        full_object: checksum_type(ctx)?,
        size,
    })
}

/// Largest CompleteMultipartUpload body: S3's 10 000 parts, each listed with its number, ETag
/// and checksum (about 130 bytes with a SHA-256; SDKs list every part's checksum of a
/// `COMPOSITE` upload, as they must), with room for spacing and namespaces. The general
/// [`super::MAX_XML_BODY`] would refuse a SHA-256 upload's list from about 6 300 parts on.
const MAX_COMPLETE_BODY: usize = 4 * 1024 * 1024;

pub async fn complete(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let claimed = object_claims(ctx)?;
    let body = ctx.body_without_checksum_headers(MAX_COMPLETE_BODY as u64);
    let body = super::read_small(body, MAX_COMPLETE_BODY).await?;
    let parts = xml::parse_complete(&body)?;
    let id = upload_id(ctx);
    let (bucket, key) = (ctx.bucket().to_owned(), ctx.key().to_owned());
    let owner = ctx.owner();
    let now = ctx.state.clock.now_ms();
    let state = ctx.state.clone();
    let (b, k) = (bucket.clone(), key.clone());
    let precondition = super::objects::write_precondition(ctx)?;
    // The same completion again (a client retrying after a lost answer), once the upload is
    // gone: answered as the first was while the key holds the object that very request made,
    // as S3 does; its conditions held when it took effect, and are not judged again.
    let repeated = |e: S3Error, ctx: &Ctx, listed: &[_], claimed: &ObjectClaims| {
        if e.code != S3ErrorCode::NoSuchUpload {
            return Err(e);
        }
        let meta = ctx.state.store.object_meta(&bucket, &key).ok();
        meta.filter(|m| made_by(m, &id, listed, claimed)).ok_or(e)
    };
    // Before the parts are assembled, then again as the object is placed; but a missing
    // upload is `NoSuchUpload` (unless this is its completion repeated) whatever the key
    // holds.
    if precondition != Precondition::NONE {
        if let Err(e) = ctx.state.store.upload(&bucket, &key, &id) {
            let meta = repeated(e, ctx, &parts, &claimed)?;
            return Ok(completed(&bucket, &key, &meta));
        }
        super::objects::precondition_now(ctx, &precondition)?;
    }
    let (listed, claims, upload) = (parts.clone(), claimed.clone(), id.clone());
    let done = super::offload(move || {
        let store = &state.store;
        let by = Completion {
            owner,
            now_ms: now,
            precondition: &precondition,
            claimed: &claims,
        };
        store.complete_upload(&b, &k, &upload, &listed, by)
    })
    .await;
    let meta = match done {
        Err(e) => repeated(e, ctx, &parts, &claimed)?,
        Ok(meta) => meta,
    };
    Ok(completed(&bucket, &key, &meta))
}

/// CompleteMultipartUpload's answer for the object `meta` describes.
fn completed(bucket: &str, key: &str, meta: &ObjectMeta) -> Response<Body> {
    let mut w = XmlWriter::new("CompleteMultipartUploadResult");
    w.elem("Location", &format!("/{bucket}/{key}"))
        .elem("Bucket", bucket)
        .elem("Key", key)
        .elem("ETag", &format!("\"{}\"", meta.etag));
    xml::checksum_elements(&mut w, meta);
    http_util::xml(StatusCode::OK, w.finish())
}

pub async fn abort(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let id = upload_id(ctx);
    let (state, bucket, key) = (
        ctx.state.clone(),
        ctx.bucket().to_owned(),
        ctx.key().to_owned(),
    );
    // The upload's lock, which a completion holds while it assembles: off the reactor.
    super::offload(move || state.store.abort_upload(&bucket, &key, &id)).await?;
    Ok(http_util::empty(StatusCode::NO_CONTENT))
}

fn bounded(ctx: &Ctx, name: &str, default: usize) -> S3Result<usize> {
    match ctx.query.get(name) {
        None => Ok(default),
        Some(v) => v.parse::<usize>().map(|n| n.min(default)).map_err(|_| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Expected a non-negative integer.",
            )
        }),
    }
}

pub async fn list_parts(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let id = upload_id(ctx);
    let upload = ctx.state.store.upload(ctx.bucket(), ctx.key(), &id)?;
    let max = bounded(ctx, "max-parts", 1000)?;
    let marker = match ctx.query.get("part-number-marker") {
        None => 0,
        Some(v) => v.parse::<u32>().map_err(|_| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "part-number-marker must be an integer.",
            )
        })?,
    };
    let parts: Vec<_> = ctx
        .state
        .store
        .list_parts(&id)?
        .into_iter()
        .filter(|p| p.number > marker)
        .collect();
    // A page of none (`max-parts=0`) is not truncated, as ListObjectsV2's `max-keys=0`: with
    // no marker to go on from, "truncated" would send a paginator round the same page forever.
    let truncated = max > 0 && parts.len() > max;
    let mut w = XmlWriter::new("ListPartsResult");
    w.elem("Bucket", ctx.bucket())
        .elem("Key", ctx.key())
        .elem("UploadId", &id);
    w.elem("PartNumberMarker", &marker.to_string());
    if let Some(last) = parts.iter().take(max).next_back() {
        w.elem("NextPartNumberMarker", &last.number.to_string());
    }
    w.elem("MaxParts", &max.to_string())
        .elem("IsTruncated", if truncated { "true" } else { "false" });
    w.elem("StorageClass", "STANDARD");
    if let Some(c) = &upload.checksum {
        w.elem("ChecksumAlgorithm", &c.algorithm)
            .elem("ChecksumType", c.type_name());
    }
    for p in parts.iter().take(max) {
        w.open("Part")
            .elem("PartNumber", &p.number.to_string())
            .elem("LastModified", &xml::timestamp(p.modified_ms))
            .elem("ETag", &format!("\"{}\"", p.etag))
            .elem("Size", &p.size.to_string());
        xml::part_checksum_element(&mut w, p.checksum.as_ref());
        w.close();
    }
    Ok(http_util::xml(StatusCode::OK, w.finish()))
}

/// ListMultipartUploads (S3's paging): uploads in key order, a key's uploads in the order
/// they were initiated; `key-marker` starts after that key, or, with `upload-id-marker`, after
/// that upload of that key; `delimiter` rolls keys up into `CommonPrefixes` (each counted
/// once against `max-uploads`); a truncated page names where the next one starts
/// (`NextKeyMarker`, `NextUploadIdMarker`).
pub async fn list_uploads(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let max = bounded(ctx, "max-uploads", 1000)?;
    let q = &ctx.query;
    let url_encode = super::listing::url_encoding(q.get("encoding-type"))?;
    let enc = |s: &str| super::listing::encode_if(url_encode, s);
    let prefix = q.get("prefix").unwrap_or("").to_owned();
    let delimiter = q
        .get("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let key_marker = q.get("key-marker").unwrap_or("").to_owned();
    // Without a key marker, S3 ignores the upload-id marker.
    let id_marker = match key_marker.as_str() {
        "" => "",
        _ => q.get("upload-id-marker").unwrap_or(""),
    }
    .to_owned();
    // Sorted by key, then id (creation order): the page starts after the key marker, or,
    // with an upload-id marker, after that id of that key (ended or not).
    let uploads = ctx.state.store.list_uploads(ctx.bucket())?;
    let start = match (key_marker.as_str(), id_marker.as_str()) {
        ("", _) => 0,
        (km, "") => uploads.partition_point(|(k, ..)| k.as_str() <= km),
        (km, im) => uploads.partition_point(|(k, i, ..)| (k.as_str(), i.as_str()) <= (km, im)),
    };
    let (mut listed, mut prefixes) = (Vec::new(), Vec::<String>::new());
    let mut truncated = false;
    let mut next: Option<(String, String)> = None;
    for (key, id, initiated, checksum) in &uploads[start..] {
        if !key.starts_with(&prefix) {
            continue;
        }
        let common = delimiter.as_deref().and_then(|d| {
            let rest = &key[prefix.len()..];
            rest.find(d)
                .map(|i| key[..prefix.len() + i + d.len()].to_owned())
        });
        // A key marker that is a common prefix returned earlier: its keys were rolled up.
        let returned = |cp: &String| *cp == key_marker && id_marker.is_empty();
        if common
            .as_ref()
            .is_some_and(|cp| returned(cp) || prefixes.last() == Some(cp))
        {
            continue;
        }
        if listed.len() + prefixes.len() >= max {
            // Not for a page of none (`max-uploads=0`; see `list_parts`).
            truncated = max > 0;
            break;
        }
        match common {
            Some(cp) => {
                next = Some((cp.clone(), String::new()));
                prefixes.push(cp);
            }
            None => {
                next = Some((key.clone(), id.clone()));
                listed.push((key, id, *initiated, checksum));
            }
        }
    }
    let mut w = XmlWriter::new("ListMultipartUploadsResult");
    w.elem("Bucket", ctx.bucket())
        .elem("KeyMarker", &enc(&key_marker))
        .elem("UploadIdMarker", &id_marker);
    if let Some((key, id)) = next.filter(|_| truncated) {
        w.elem("NextKeyMarker", &enc(&key))
            .elem("NextUploadIdMarker", &id);
    }
    w.elem("Prefix", &enc(&prefix));
    if let Some(d) = &delimiter {
        w.elem("Delimiter", &enc(d));
    }
    w.elem("MaxUploads", &max.to_string());
    w.elem("IsTruncated", if truncated { "true" } else { "false" });
    for (key, id, initiated, checksum) in listed {
        w.open("Upload")
            .elem("Key", &enc(key))
            .elem("UploadId", id)
            .elem("Initiated", &xml::timestamp(initiated))
            .elem("StorageClass", "STANDARD");
        if let Some(c) = checksum {
            w.elem("ChecksumAlgorithm", &c.algorithm)
                .elem("ChecksumType", c.type_name());
        }
        w.close();
    }
    for cp in &prefixes {
        w.open("CommonPrefixes").elem("Prefix", &enc(cp)).close();
    }
    if url_encode {
        w.elem("EncodingType", "url");
    }
    Ok(http_util::xml(StatusCode::OK, w.finish()))
}
