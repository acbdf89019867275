//! Request routing: which S3 operation a request is, with its IAM action and resource.
//!
//! `operation` is pure: method, bucket, key and query in, [`Operation`] out; `route_request`
//! adds the resource. The table in the tests pins operation, action and resource per request
//! shape (SPEC E2, E5), so the policy engine always sees the resource S3 would name.
//!
//! Query parameters of the plain operations (the ones S3 tells apart by method and path
//! alone): a write or delete (bucket create/delete, object put/copy/delete) takes an
//! allow-list, since a parameter it does not know most likely names an operation this server
//! does not serve (`DELETE /b?publicAccessBlock` is DeletePublicAccessBlock, not
//! DeleteBucket); a read (listings, object get/head, bucket head) refuses the S3 subresources
//! not served and ignores other parameters, as S3 does. Either way the request routes to
//! `NotImplemented` rather than to the plain operation, authorised as the plain operation's
//! action. A request without a query string is not checked at all.

use std::borrow::Cow;

use keygate_policy::Action;

use super::error::{S3Error, S3ErrorCode, S3Result};
use super::query::Query;

/// Every S3 operation the server recognises. Those outside SPEC's list route to `NotImplemented`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    ListMultipartUploads,
    GetBucketTagging,
    PutBucketTagging,
    DeleteBucketTagging,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    DeleteObjects,
    PutObject,
    CopyObject,
    GetObject,
    HeadObject,
    DeleteObject,
    CreateMultipartUpload,
    UploadPart,
    /// UploadPart with `x-amz-copy-source` (the aws CLI's and s3transfer's copy of an object
    /// over 8 MB): authorised as UploadPart, and its handler checks `s3:GetObject` on the
    /// source, as CopyObject's does.
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    GetObjectTagging,
    PutObjectTagging,
    DeleteObjectTagging,
    /// Recognised but not served (lifecycle, versioning, ACLs, ...): 501 after authorisation.
    NotImplemented(Action),
}

impl Operation {
    /// The IAM action the operation is authorised as (SPEC E5). CopyObject's and
    /// UploadPartCopy's second check (`s3:GetObject` on the source) is made by their handlers.
    pub fn action(self) -> Action {
        use Operation::*;
        match self {
            ListBuckets => Action::ListAllMyBuckets,
            CreateBucket => Action::CreateBucket,
            HeadBucket | ListObjects | ListObjectsV2 => Action::ListBucket,
            DeleteBucket => Action::DeleteBucket,
            GetBucketLocation => Action::GetBucketLocation,
            ListMultipartUploads => Action::ListBucketMultipartUploads,
            GetBucketTagging => Action::GetBucketTagging,
            PutBucketTagging | DeleteBucketTagging => Action::PutBucketTagging,
            GetBucketPolicy => Action::GetBucketPolicy,
            PutBucketPolicy => Action::PutBucketPolicy,
            DeleteBucketPolicy => Action::DeleteBucketPolicy,
            DeleteObjects | DeleteObject => Action::DeleteObject,
            PutObject
            | CopyObject
            | CreateMultipartUpload
            | UploadPart
            | UploadPartCopy
            | CompleteMultipartUpload => Action::PutObject,
            GetObject | HeadObject => Action::GetObject,
            AbortMultipartUpload => Action::AbortMultipartUpload,
            ListParts => Action::ListMultipartUploadParts,
            GetObjectTagging => Action::GetObjectTagging,
            PutObjectTagging => Action::PutObjectTagging,
            DeleteObjectTagging => Action::DeleteObjectTagging,
            NotImplemented(action) => action,
        }
    }
}

/// What a request named that this server does not serve: said in the 501's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unserved {
    /// An S3 subresource (`?publicAccessBlock`, `?versioning`).
    Subresource(String),
    /// A query parameter the operation does not take.
    Parameter(String),
}

impl Unserved {
    /// `name` as a subresource when S3 has one of that name, else as a parameter.
    fn of(name: &str) -> Unserved {
        if UNSERVED_SUBRESOURCES.contains(&name) {
            Unserved::Subresource(name.to_owned())
        } else {
            Unserved::Parameter(name.to_owned())
        }
    }
}

/// S3 subresources (query parameters that name an operation) this server does not serve.
const UNSERVED_SUBRESOURCES: &[&str] = &[
    "abac",
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metadataConfiguration",
    "metadataInventoryTable",
    "metadataJournalTable",
    "metadataTable",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policyStatus",
    "publicAccessBlock",
    "renameObject",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "session",
    "torrent",
    "versioning",
    "versions",
    "website",
];

/// A routed request. Bucket and key are read back as slices of one resource string (the
/// text the policy is matched against): for a path-style URL with nothing percent-encoded,
/// the request's own path (no copy: pass its `uri.path()` to the accessors); otherwise a
/// decoded copy. (No `PartialEq`: two routes' spans say nothing without their paths.)
#[derive(Debug, Clone)]
pub struct Route {
    pub op: Operation,
    /// `*` (no bucket), `bucket`, or `bucket/key` (SPEC E2).
    text: Text,
    /// Where the bucket ends in the resource (`None`: no bucket).
    bucket_end: Option<usize>,
    has_key: bool,
    /// For `NotImplemented`: which of the query's pairs names what is not served, when one
    /// does (an index, not the name: a route stays small on the hot path).
    unserved: Option<u16>,
}

/// Where a route's resource text is.
#[derive(Debug, Clone)]
enum Text {
    /// `*`: no bucket.
    All,
    /// `path[start..end]` of the request's path, which is `path_len` bytes long (checked in
    /// debug builds, so every test catches a caller passing another path).
    Path {
        start: usize,
        end: usize,
        path_len: usize,
    },
    Owned(String),
}

impl Route {
    /// The resource the policy is matched against (SPEC E2): `*` for ListBuckets, `bucket`
    /// for bucket-level actions, `bucket/key` for object actions. `path` is the path of the
    /// request this route was made from (its `uri.path()`; only this crate's request context
    /// and hot path hold both).
    pub(crate) fn resource<'a>(&'a self, path: &'a str) -> &'a str {
        match &self.text {
            Text::All => "*",
            Text::Path {
                start,
                end,
                path_len,
            } => {
                debug_assert_eq!(
                    path.len(),
                    *path_len,
                    "a route reads its own request's path"
                );
                path.get(*start..*end).unwrap_or_default()
            }
            Text::Owned(s) => s,
        }
    }

    pub(crate) fn bucket<'a>(&'a self, path: &'a str) -> Option<&'a str> {
        let end = self.bucket_end?;
        self.resource(path).get(..end)
    }

    pub(crate) fn key<'a>(&'a self, path: &'a str) -> Option<&'a str> {
        match self.bucket_end {
            Some(end) if self.has_key => self.resource(path).get(end + 1..),
            _ => None,
        }
    }

    /// What the request named that is not served, read from its query `q`.
    pub(crate) fn unserved(&self, q: &Query) -> Option<Unserved> {
        let (name, _) = q.pairs().get(usize::from(self.unserved?))?;
        Some(Unserved::of(name))
    }

    /// The 501 a `NotImplemented` route answers, naming what is not served when known.
    pub(crate) fn not_implemented(&self, q: &Query) -> S3Error {
        let message = match &self.unserved(q) {
            Some(Unserved::Subresource(name)) => {
                format!("This server does not implement the `{name}` subresource.")
            }
            Some(Unserved::Parameter(name)) => {
                format!("This server does not implement the query parameter `{name}`.")
            }
            None => return S3Error::new(S3ErrorCode::NotImplemented),
        };
        S3Error::with_message(S3ErrorCode::NotImplemented, message)
    }
}

/// A request's bucket and key as found in its URL, decoded (borrowed if nothing was encoded),
/// and where they start in the path when they are its own text (path-style, nothing decoded).
type BucketAndKey<'a> = (Option<Cow<'a, str>>, Option<Cow<'a, str>>, Option<usize>);

/// The header that makes a PUT a CopyObject (or UploadPartCopy).
const COPY_SOURCE: http::HeaderName = http::HeaderName::from_static("x-amz-copy-source");

/// Routes a request head: bucket and key from its URL (the bucket from the Host header under
/// `domain`, virtual-host style), the operation from method, query and copy-source header.
pub fn route_request(
    domain: Option<&str>,
    parts: &http::request::Parts,
    q: &Query,
) -> S3Result<Route> {
    let (bucket, key, in_path) = bucket_and_key(domain, parts)?;
    // Only an object PUT reads the header: other requests skip hashing its name.
    let copy_source = key.is_some()
        && parts.method == http::Method::PUT
        && parts.headers.contains_key(COPY_SOURCE);
    let (bucket, key) = (bucket.as_deref(), key.as_deref());
    let (op, unserved) = operation(&parts.method, bucket, key, q, copy_source)?;
    Ok(match (in_path, bucket) {
        // `bucket`, `bucket/` or `bucket/key`, read where it is: no copy.
        (Some(start), Some(b)) => Route {
            op,
            text: Text::Path {
                start,
                end: start + b.len() + key.map_or(0, |k| 1 + k.len()),
                path_len: parts.uri.path().len(),
            },
            bucket_end: Some(b.len()),
            has_key: key.is_some(),
            unserved,
        },
        _ => owned_route(op, unserved, bucket, key),
    })
}

/// Bucket and key of a request, percent-decoded (borrowed when there was nothing to decode):
/// from a path-style URL, or the bucket from the Host header under `domain` (virtual hosts).
fn bucket_and_key<'a>(
    domain: Option<&str>,
    parts: &'a http::request::Parts,
) -> S3Result<BucketAndKey<'a>> {
    let decode = |s: &'a str| -> S3Result<Cow<'a, str>> {
        if !s.contains('%') {
            return Ok(Cow::Borrowed(s));
        }
        // Every `%` must start an escape (`percent_decode_str` would keep `%zz` as text).
        if !well_escaped(s.as_bytes()) {
            return Err(S3Error::new(S3ErrorCode::InvalidURI));
        }
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map_err(|_| {
                S3Error::with_message(S3ErrorCode::InvalidArgument, "The path is not valid UTF-8.")
            })
    };
    let path = parts.uri.path();
    let rest = path.strip_prefix('/').unwrap_or(path);
    if let Some(domain) = domain {
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let host = host.split(':').next().unwrap_or("");
        if let Some(bucket) = host.strip_suffix(domain).and_then(|b| b.strip_suffix('.')) {
            let key = if rest.is_empty() {
                None
            } else {
                Some(decode(rest)?)
            };
            return Ok((Some(Cow::Borrowed(bucket)), key, None));
        }
    }
    if rest.is_empty() {
        return Ok((None, None, None));
    }
    // Byte scans without early exits (paths are short; `contains` would set up a `memchr`
    // for each piece).
    let escaped = rest.bytes().fold(false, |e, b| e | (b == b'%'));
    let decode = |s: &'a str| {
        if escaped {
            decode(s)
        } else {
            Ok(Cow::Borrowed(s))
        }
    };
    // Nothing to decode: bucket and key are the path's own text, from here on.
    let in_path = (!escaped).then_some(path.len() - rest.len());
    match rest.bytes().position(|b| b == b'/') {
        None => Ok((Some(decode(rest)?), None, in_path)),
        Some(i) if i + 1 == rest.len() => Ok((Some(decode(&rest[..i])?), None, in_path)),
        Some(i) => Ok((
            Some(decode(&rest[..i])?),
            Some(decode(&rest[i + 1..])?),
            in_path,
        )),
    }
}

/// Whether every `%` in `s` is followed by two hex digits (AWS: 400 `InvalidURI` otherwise).
fn well_escaped(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(at) = s[i..].iter().position(|&b| b == b'%') {
        let at = i + at;
        match s.get(at + 1..at + 3) {
            Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i = at + 3,
            _ => return false,
        }
    }
    true
}

/// The operation of a request by method, bucket and key, query and the copy-source header;
/// for `NotImplemented`, which query pair names what is not served.
fn operation(
    method: &http::Method,
    bucket: Option<&str>,
    key: Option<&str>,
    q: &Query,
    copy_source: bool,
) -> S3Result<(Operation, Option<u16>)> {
    use Operation::*;
    let m = method.as_str();
    let op = match (bucket, key) {
        (None, _) => match m {
            "GET" => ListBuckets,
            _ => return Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
        },
        (Some(_), None) => bucket_op(m, q)?,
        (Some(_), Some(_)) => object_op(m, q, copy_source)?,
    };
    // The common case, a request without a query string, is not looked at further.
    if q.is_empty() {
        return Ok((op, None));
    }
    let at = |i: usize| u16::try_from(i).ok();
    let pairs = q.pairs();
    Ok(match op {
        NotImplemented(_) => {
            let named = pairs
                .iter()
                .position(|(k, _)| UNSERVED_SUBRESOURCES.contains(&k.as_str()));
            (op, named.and_then(at))
        }
        _ => match unknown_parameter(op, q) {
            Some(i) => (NotImplemented(op.action()), at(i)),
            None => (op, None),
        },
    })
}

/// The first query parameter a plain operation does not take (for the operations a
/// subresource names, the first unserved subresource beside it). Always allowed: the presigned `X-Amz-*`
/// parameters (any case) and `x-id`, which current AWS SDKs add (`?x-id=PutObject`).
///
/// Reads (listings, GetObject, HeadObject, HeadBucket) refuse only the subresources S3 has
/// and this server does not serve: S3 ignores other parameters there, and clients rely on it
/// (a cache-busting `?v=2` on a presigned or public URL). Writes and deletes refuse anything
/// they do not take, since there a parameter most likely names another operation.
fn unknown_parameter(op: Operation, q: &Query) -> Option<usize> {
    use Operation::*;
    let mut keys = q.pairs().iter().map(|(k, _)| k.as_str());
    let known: &[&str] = match op {
        CreateBucket | DeleteBucket | PutObject | CopyObject => &[],
        DeleteObject => &["versionId"],
        // Reads, and the operations a served subresource names (`?tagging`, `?uploads`, …):
        // an unserved one beside it (`?tagging&acl`) would be run as the served one.
        _ => return keys.position(|k| UNSERVED_SUBRESOURCES.contains(&k)),
    };
    keys.position(|k| {
        !(known.contains(&k)
            || k.eq_ignore_ascii_case("x-id")
            || k.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("x-amz-")))
    })
}

/// A route whose resource is its own copy of bucket and key.
fn owned_route(
    op: Operation,
    unserved: Option<u16>,
    bucket: Option<&str>,
    key: Option<&str>,
) -> Route {
    let (text, bucket_end, has_key) = match (bucket, key) {
        (None, _) => (Text::All, None, false),
        (Some(b), None) => (Text::Owned(b.to_owned()), Some(b.len()), false),
        (Some(b), Some(k)) => {
            let mut r = String::with_capacity(b.len() + 1 + k.len());
            r.push_str(b);
            r.push('/');
            r.push_str(k);
            (Text::Owned(r), Some(b.len()), true)
        }
    };
    Route {
        op,
        text,
        bucket_end,
        has_key,
        unserved,
    }
}

fn bucket_op(m: &str, q: &Query) -> S3Result<Operation> {
    use Operation::*;
    let unsupported_subresources = [
        ("versioning", Action::ListBucket),
        ("acl", Action::GetBucketPolicy),
        ("cors", Action::GetBucketPolicy),
        ("encryption", Action::GetBucketPolicy),
        ("replication", Action::GetBucketPolicy),
        ("notification", Action::GetBucketPolicy),
        ("object-lock", Action::GetBucketPolicy),
        ("website", Action::GetBucketPolicy),
        ("logging", Action::GetBucketPolicy),
        ("versions", Action::ListBucket),
        ("policyStatus", Action::GetBucketPolicy),
        ("accelerate", Action::GetBucketPolicy),
        ("requestPayment", Action::GetBucketPolicy),
        ("ownershipControls", Action::GetBucketPolicy),
        ("publicAccessBlock", Action::GetBucketPolicy),
        ("metrics", Action::GetBucketPolicy),
        ("analytics", Action::GetBucketPolicy),
        ("inventory", Action::GetBucketPolicy),
        ("intelligent-tiering", Action::GetBucketPolicy),
        ("metadataTable", Action::GetBucketPolicy),
        ("metadataConfiguration", Action::GetBucketPolicy),
        ("abac", Action::GetBucketPolicy),
    ];
    let op = match m {
        "GET" if q.has("location") => GetBucketLocation,
        "GET" if q.has("tagging") => GetBucketTagging,
        "GET" if q.has("policy") => GetBucketPolicy,
        "GET" if q.has("uploads") => ListMultipartUploads,
        "GET" if q.has("lifecycle") => NotImplemented(Action::GetLifecycleConfiguration),
        "PUT" if q.has("tagging") => PutBucketTagging,
        "PUT" if q.has("policy") => PutBucketPolicy,
        "PUT" if q.has("lifecycle") => NotImplemented(Action::PutLifecycleConfiguration),
        "DELETE" if q.has("tagging") => DeleteBucketTagging,
        "DELETE" if q.has("policy") => DeleteBucketPolicy,
        "DELETE" if q.has("lifecycle") => NotImplemented(Action::PutLifecycleConfiguration),
        "POST" if q.has("delete") => DeleteObjects,
        _ => {
            if let Some((_, action)) = unsupported_subresources
                .iter()
                .find(|(name, _)| q.has(name))
            {
                return Ok(NotImplemented(*action));
            }
            match m {
                "GET" if q.get("list-type") == Some("2") => ListObjectsV2,
                "GET" => ListObjects,
                "HEAD" => HeadBucket,
                "PUT" => CreateBucket,
                "DELETE" => DeleteBucket,
                _ => return Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
            }
        }
    };
    Ok(op)
}

fn object_op(m: &str, q: &Query, copy_source: bool) -> S3Result<Operation> {
    use Operation::*;
    let op = match m {
        "GET" if q.has("tagging") => GetObjectTagging,
        "GET" if q.has("uploadId") => ListParts,
        "GET"
            if q.has("acl") || q.has("attributes") || q.has("retention") || q.has("legal-hold") =>
        {
            NotImplemented(Action::GetObject)
        }
        "GET" => GetObject,
        "HEAD" => HeadObject,
        "PUT" if q.has("tagging") => PutObjectTagging,
        "PUT" if q.has("uploadId") && q.has("partNumber") => {
            if copy_source {
                UploadPartCopy
            } else {
                UploadPart
            }
        }
        "PUT" if q.has("acl") || q.has("retention") || q.has("legal-hold") => {
            NotImplemented(Action::PutObject)
        }
        "PUT" if copy_source => CopyObject,
        "PUT" => PutObject,
        "POST" if q.has("uploads") => CreateMultipartUpload,
        "POST" if q.has("uploadId") => CompleteMultipartUpload,
        "POST" if q.has("restore") || q.has("select") => NotImplemented(Action::GetObject),
        "DELETE" if q.has("tagging") => DeleteObjectTagging,
        "DELETE" if q.has("uploadId") => AbortMultipartUpload,
        "DELETE" => DeleteObject,
        _ => return Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
    };
    Ok(op)
}

#[cfg(test)]
mod tests;
