//! Multipart uploads: create, upload part, complete, abort, list parts, list uploads.

use http::{Response, StatusCode};

use super::error::{S3Error, S3ErrorCode, S3Result};
use super::headers::meta_from_headers;
use super::xml::{self, XmlWriter};
use super::Ctx;
use crate::http_util::{self, set_header, Body};
use crate::store::multipart::{MAX_PART_NUMBER, MAX_PART_SIZE};

fn upload_id(ctx: &Ctx) -> String {
    ctx.query.get("uploadId").unwrap_or_default().to_owned()
}

pub async fn create(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let template = meta_from_headers(&ctx.parts.headers)?;
    let now = ctx.state.clock.now_ms();
    let id = ctx
        .state
        .store
        .create_upload(ctx.bucket(), ctx.key(), template, now)?;
    let mut w = XmlWriter::new("InitiateMultipartUploadResult");
    w.elem("Bucket", ctx.bucket())
        .elem("Key", ctx.key())
        .elem("UploadId", &id);
    Ok(http_util::xml(StatusCode::OK, w.finish()))
}

pub async fn upload_part(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let number = ctx
        .query
        .get("partNumber")
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive.",
            )
        })?;
    let id = upload_id(ctx);
    ctx.state.store.upload(ctx.bucket(), ctx.key(), &id)?;
    let mut body = ctx.body(MAX_PART_SIZE)?;
    let mut tmp = ctx.state.store.temp_object().await?;
    while let Some(chunk) = body.next().await? {
        tmp.write(&chunk).await?;
    }
    let finished = body.finish()?;
    let md5 = tmp.finish().await?;
    let now = ctx.state.clock.now_ms();
    let part = ctx.state.store.put_part(&id, number, tmp, md5, now)?;
    let mut resp = http_util::empty(StatusCode::OK);
    set_header(&mut resp, "etag", &format!("\"{}\"", part.etag));
    if let Some((alg, value)) = finished.checksum {
        set_header(&mut resp, alg.header_name(), &value);
    }
    Ok(resp)
}

pub async fn complete(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let body = ctx.small_body().await?;
    let parts = xml::parse_complete(&body)?;
    let id = upload_id(ctx);
    let (bucket, key) = (ctx.bucket().to_owned(), ctx.key().to_owned());
    let owner = ctx.owner();
    let now = ctx.state.clock.now_ms();
    let state = ctx.state.clone();
    let (b, k) = (bucket.clone(), key.clone());
    let meta = crate::metrics::cpu::offload(move || {
        state.store.complete_upload(&b, &k, &id, &parts, owner, now)
    })
    .await
    .map_err(S3Error::internal)??;
    let mut w = XmlWriter::new("CompleteMultipartUploadResult");
    w.elem("Location", &format!("/{bucket}/{key}"))
        .elem("Bucket", &bucket)
        .elem("Key", &key)
        .elem("ETag", &format!("\"{}\"", meta.etag));
    Ok(http_util::xml(StatusCode::OK, w.finish()))
}

pub async fn abort(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let id = upload_id(ctx);
    ctx.state.store.abort_upload(ctx.bucket(), ctx.key(), &id)?;
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
    ctx.state.store.upload(ctx.bucket(), ctx.key(), &id)?;
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
    let truncated = parts.len() > max;
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
    for p in parts.iter().take(max) {
        w.open("Part")
            .elem("PartNumber", &p.number.to_string())
            .elem("LastModified", &xml::timestamp(p.modified_ms))
            .elem("ETag", &format!("\"{}\"", p.etag))
            .elem("Size", &p.size.to_string())
            .close();
    }
    Ok(http_util::xml(StatusCode::OK, w.finish()))
}

pub async fn list_uploads(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let max = bounded(ctx, "max-uploads", 1000)?;
    let prefix = ctx.query.get("prefix").unwrap_or("").to_owned();
    let key_marker = ctx.query.get("key-marker").unwrap_or("").to_owned();
    let uploads: Vec<_> = ctx
        .state
        .store
        .list_uploads(ctx.bucket())?
        .into_iter()
        .filter(|(k, _, _)| k.starts_with(&prefix) && k.as_str() > key_marker.as_str())
        .collect();
    let truncated = uploads.len() > max;
    let mut w = XmlWriter::new("ListMultipartUploadsResult");
    w.elem("Bucket", ctx.bucket())
        .elem("KeyMarker", &key_marker)
        .elem("UploadIdMarker", "");
    w.elem("Prefix", &prefix)
        .elem("MaxUploads", &max.to_string());
    w.elem("IsTruncated", if truncated { "true" } else { "false" });
    for (key, id, initiated) in uploads.iter().take(max) {
        w.open("Upload")
            .elem("Key", key)
            .elem("UploadId", id)
            .elem("Initiated", &xml::timestamp(*initiated))
            .elem("StorageClass", "STANDARD")
            .close();
    }
    Ok(http_util::xml(StatusCode::OK, w.finish()))
}
