//! ListObjects (V1) and ListObjectsV2: prefix, delimiter, max-keys, markers and continuation.

use base64::Engine as _;
use http::{Response, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::{S3Error, S3ErrorCode, S3Result};
use super::xml::{self, XmlWriter};
use super::Ctx;
use crate::http_util::{self, Body};
use crate::store::ListQuery;

/// `encoding-type=url`: everything but unreserved characters and `/` is escaped (so `+`
/// survives clients that decode with unquote_plus, as botocore does).
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Whether a listing's `encoding-type` asks for URL-encoded keys (only `url` exists).
pub(super) fn url_encoding(encoding_type: Option<&str>) -> S3Result<bool> {
    match encoding_type {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(_) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Invalid Encoding Method specified in Request",
        )),
    }
}

/// `s` as a listing returns it: URL-encoded when `url_encode`.
pub(super) fn encode_if(url_encode: bool, s: &str) -> String {
    if url_encode {
        utf8_percent_encode(s, URL_ENCODE).to_string()
    } else {
        s.to_owned()
    }
}

pub async fn list_objects(ctx: &mut Ctx, v2: bool) -> S3Result<Response<Body>> {
    let q = &ctx.query;
    let max_keys = match q.get("max-keys") {
        None => 1000,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "max-keys must be a non-negative integer.",
                )
            })?
            .min(1000) as usize,
    };
    let url_encode = url_encoding(q.get("encoding-type"))?;
    let enc = |s: &str| encode_if(url_encode, s);
    let prefix = q.get("prefix").unwrap_or("").to_owned();
    let delimiter = q
        .get("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let token = q.get("continuation-token");
    let start_after = if v2 {
        match token {
            Some(t) => Some(decode_token(t)?),
            None => q
                .get("start-after")
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        }
    } else {
        q.get("marker").filter(|s| !s.is_empty()).map(str::to_owned)
    };
    let query = ListQuery {
        prefix: prefix.clone(),
        delimiter: delimiter.clone(),
        start_after,
        max_keys,
    };
    let mut page = ctx.state.store.list_objects(ctx.bucket(), &query)?;
    // A page of no keys is not a truncated listing: with nothing returned there is no
    // marker to go on from (S3 answers `false`, ceph's test_bucket_list_maxkeys_zero).
    page.is_truncated &= max_keys > 0;

    let mut w = XmlWriter::new("ListBucketResult");
    w.elem("Name", ctx.bucket()).elem("Prefix", &enc(&prefix));
    if v2 {
        w.opt("StartAfter", q.get("start-after").map(enc).as_deref());
        w.opt("ContinuationToken", token);
        if page.is_truncated {
            if let Some(last) = &page.last {
                w.elem("NextContinuationToken", &encode_token(last));
            }
        }
        w.elem(
            "KeyCount",
            &(page.objects.len() + page.common_prefixes.len()).to_string(),
        );
    } else {
        w.elem("Marker", &enc(q.get("marker").unwrap_or("")));
        if page.is_truncated && delimiter.is_some() {
            w.opt("NextMarker", page.last.as_deref().map(enc).as_deref());
        }
    }
    w.elem("MaxKeys", &max_keys.to_string());
    w.opt("Delimiter", delimiter.as_deref().map(enc).as_deref());
    if url_encode {
        w.elem("EncodingType", "url");
    }
    w.elem(
        "IsTruncated",
        if page.is_truncated { "true" } else { "false" },
    );
    let fetch_owner = !v2 || q.get("fetch-owner") == Some("true");
    for obj in &page.objects {
        w.open("Contents")
            .elem("Key", &enc(&obj.key))
            .elem("LastModified", &xml::timestamp(obj.meta.modified_ms))
            .elem("ETag", &format!("\"{}\"", obj.meta.etag))
            .elem("Size", &obj.meta.size.to_string())
            .elem("StorageClass", "STANDARD");
        if fetch_owner {
            let id = format!("{}:{}", obj.meta.owner.uid, obj.meta.owner.gid);
            w.open("Owner")
                .elem("ID", &id)
                .elem("DisplayName", &id)
                .close();
        }
        w.close();
    }
    for p in &page.common_prefixes {
        w.open("CommonPrefixes").elem("Prefix", &enc(p)).close();
    }
    Ok(http_util::xml(StatusCode::OK, w.finish()))
}

pub(super) fn encode_token(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last.as_bytes())
}

/// The key a continuation token goes on after. We never hand out an empty one, so an empty
/// token is as incorrect as garbage (not "from the start", which would drop `start-after`).
pub(super) fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|last| !last.is_empty())
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "The continuation token provided is incorrect.",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_empty_or_garbage_ones_are_refused() {
        assert_eq!(decode_token(&encode_token("a/b")).unwrap(), "a/b");
        for bad in ["", "!!", "%%%"] {
            let e = decode_token(bad).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::InvalidArgument, "{bad:?}");
            assert_eq!(e.message, "The continuation token provided is incorrect.");
        }
    }
}
