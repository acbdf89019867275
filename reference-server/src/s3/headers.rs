//! Object metadata in and out of HTTP headers.

use http::{HeaderMap, Response};
use keygate_sigv4::ChecksumAlgorithm;

use super::error::{S3Error, S3ErrorCode, S3Result};
use super::query::Query;
use super::xml;
use crate::http_util::{set_header, Body};
use crate::store::ObjectMeta;

/// A header's value with bytes outside ASCII replaced, where `Ctx::header` would drop the
/// header: for values that must not go unchecked for being odd (a condition no ETag can meet
/// then fails; a checksum setting that is not ASCII is refused as invalid).
pub fn lossy<'h>(headers: &'h HeaderMap, name: &str) -> Option<std::borrow::Cow<'h, str>> {
    let value = headers.get(name)?;
    Some(String::from_utf8_lossy(value.as_bytes()))
}

/// The algorithm `x-amz-checksum-algorithm` asks a new object's checksum to be computed in
/// (CreateMultipartUpload, CopyObject); a name S3 does not know is 400 `InvalidRequest`.
pub fn checksum_algorithm(headers: &HeaderMap) -> S3Result<Option<ChecksumAlgorithm>> {
    let Some(name) = lossy(headers, "x-amz-checksum-algorithm") else {
        return Ok(None);
    };
    match ChecksumAlgorithm::from_name(&name) {
        Some(alg) => Ok(Some(alg)),
        None => Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Checksum algorithm provided is unsupported. Please try again with any of the valid \
             types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
        )),
    }
}

/// Largest total size of user metadata (names + values), as S3.
pub const MAX_USER_META: usize = 2048;

/// What a write asks of how its object is kept, refused when it cannot be honoured rather
/// than silently dropped. One storage class is kept: as MinIO, the two it answers as standard
/// are taken, any other is `InvalidStorageClass`. Objects are plain files: server-side
/// encryption of any kind (SSE-S3, SSE-KMS, SSE-C) is 501, as MinIO answers it without a KMS.
/// No bucket has Object Lock: a retention or legal hold is 400, as S3 answers it there.
pub fn check_write_headers(headers: &HeaderMap) -> S3Result<()> {
    match headers.get("x-amz-storage-class").map(|v| v.as_bytes()) {
        None | Some(b"STANDARD" | b"REDUCED_REDUNDANCY") => {}
        Some(_) => return Err(S3Error::new(S3ErrorCode::InvalidStorageClass)),
    }
    let names = || headers.keys().map(|k| k.as_str());
    if let Some(sse) = names().find(|k| k.starts_with("x-amz-server-side-encryption")) {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            format!("Server-side encryption is not supported ({sse})."),
        ));
    }
    if names().any(|k| k.starts_with("x-amz-object-lock-")) {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Bucket is missing Object Lock Configuration",
        ));
    }
    Ok(())
}

/// Reads the stored metadata a PUT (or CreateMultipartUpload, or a REPLACE copy) carries.
pub fn meta_from_headers(headers: &HeaderMap) -> S3Result<ObjectMeta> {
    check_write_headers(headers)?;
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut meta = ObjectMeta {
        content_type: get("content-type"),
        content_disposition: get("content-disposition"),
        content_language: get("content-language"),
        cache_control: get("cache-control"),
        expires: get("expires"),
        ..ObjectMeta::default()
    };
    // aws-chunked is a transfer detail, not part of the object's encoding.
    meta.content_encoding = get("content-encoding").and_then(|enc| {
        let kept: Vec<&str> = enc
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty() && *e != "aws-chunked")
            .collect();
        (!kept.is_empty()).then(|| kept.join(","))
    });
    let mut total = 0;
    for (name, value) in headers {
        if let Some(k) = name.as_str().strip_prefix("x-amz-meta-") {
            let v = value.to_str().map_err(|_| {
                S3Error::with_message(S3ErrorCode::InvalidArgument, "User metadata must be ASCII.")
            })?;
            total += k.len() + v.len();
            meta.user.push((k.to_owned(), v.to_owned()));
        }
    }
    if total > MAX_USER_META {
        return Err(S3Error::new(S3ErrorCode::MetadataTooLarge));
    }
    meta.user.sort();
    if let Some(tagging) = get("x-amz-tagging") {
        meta.tags = parse_tag_query(&tagging)?;
    }
    Ok(meta)
}

/// Tags given as a URL query string (`x-amz-tagging: k1=v1&k2=v2`).
pub fn parse_tag_query(raw: &str) -> S3Result<Vec<(String, String)>> {
    let tags = Query::parse(raw).pairs().to_vec();
    xml::validate_tags(&tags, xml::Tagged::Object)?;
    Ok(tags)
}

/// Writes the headers GET and HEAD return for an object.
pub fn object_headers(
    resp: &mut Response<Body>,
    meta: &ObjectMeta,
    query: &Query,
    with_checksum: bool,
) {
    set_header(resp, "etag", &format!("\"{}\"", meta.etag));
    set_header(resp, "last-modified", &http_date(meta.modified_ms));
    set_header(resp, "accept-ranges", "bytes");
    let content_type = meta
        .content_type
        .as_deref()
        .unwrap_or("binary/octet-stream");
    set_header(resp, "content-type", content_type);
    for (name, value) in [
        ("content-encoding", &meta.content_encoding),
        ("content-disposition", &meta.content_disposition),
        ("content-language", &meta.content_language),
        ("cache-control", &meta.cache_control),
        ("expires", &meta.expires),
    ] {
        if let Some(v) = value {
            set_header(resp, name, v);
        }
    }
    for (k, v) in &meta.user {
        set_header(resp, &format!("x-amz-meta-{k}"), v);
    }
    if !meta.tags.is_empty() {
        set_header(resp, "x-amz-tagging-count", &meta.tags.len().to_string());
    }
    if with_checksum {
        if let Some((name, value)) = &meta.checksum {
            set_header(resp, name, value);
            let kind = meta.checksum_type.as_deref().unwrap_or("FULL_OBJECT");
            set_header(resp, "x-amz-checksum-type", kind);
        }
    }
    // Response-header overrides (commonly used with presigned URLs).
    for (param, name) in [
        ("response-content-type", "content-type"),
        ("response-content-language", "content-language"),
        ("response-expires", "expires"),
        ("response-cache-control", "cache-control"),
        ("response-content-disposition", "content-disposition"),
        ("response-content-encoding", "content-encoding"),
    ] {
        if let Some(v) = query.get(param) {
            set_header(resp, name, v);
        }
    }
}

/// RFC 7231 date, as `Last-Modified` and `Date` want it. Written digit by digit: it is on
/// every response (`Date`) and every GET/HEAD (`Last-Modified`).
pub fn http_date(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day) = t.to_calendar_date();
    let Ok(year) = u32::try_from(year) else {
        return "Thu, 01 Jan 1970 00:00:00 GMT".to_owned();
    };
    let (hour, minute, second) = t.to_hms();
    let mut s = String::with_capacity(29);
    s.push_str(DAYS[t.weekday().number_days_from_monday() as usize]);
    s.push_str(", ");
    push_digits(&mut s, day.into(), 2);
    s.push(' ');
    s.push_str(MONTHS[u8::from(month) as usize - 1]);
    s.push(' ');
    push_digits(&mut s, year, 4);
    s.push(' ');
    push_digits(&mut s, hour.into(), 2);
    s.push(':');
    push_digits(&mut s, minute.into(), 2);
    s.push(':');
    push_digits(&mut s, second.into(), 2);
    s.push_str(" GMT");
    s
}

/// Appends the `width` lowest decimal digits of `n`, zero-padded.
fn push_digits(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
    }
}

/// Parses an HTTP date (RFC 7231 IMF-fixdate) into Unix seconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(s.trim(), &fmt)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_round_trip() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(784_111_777_999), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            http_date(1_795_900_000_000),
            "Sat, 28 Nov 2026 21:06:40 GMT"
        );
        assert_eq!(http_date(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
        assert_eq!(
            http_date(253_402_300_799_000),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(
            parse_http_date(&http_date(784_111_777_000)),
            Some(784111777)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn aws_chunked_is_not_stored_as_content_encoding_and_metadata_is_bounded() {
        let mut h = HeaderMap::new();
        h.insert("content-encoding", "aws-chunked".parse().unwrap());
        h.insert("x-amz-meta-a", "1".parse().unwrap());
        h.insert("x-amz-tagging", "k=v&x=y%20z".parse().unwrap());
        let m = meta_from_headers(&h).unwrap();
        assert_eq!(m.content_encoding, None);
        assert_eq!(m.user, [("a".to_owned(), "1".to_owned())]);
        assert_eq!(
            m.tags,
            [
                ("k".to_owned(), "v".to_owned()),
                ("x".to_owned(), "y z".to_owned())
            ]
        );
        h.insert("x-amz-meta-big", "v".repeat(2048).parse().unwrap());
        assert_eq!(
            meta_from_headers(&h).unwrap_err().code,
            S3ErrorCode::MetadataTooLarge
        );
    }
}
