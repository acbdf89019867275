//! Bucket operations: list, create, head, delete, location, tagging, policy.

use http::{Response, StatusCode};
use keygate_policy::Action;

use super::error::{S3Error, S3ErrorCode, S3Result};
use super::xml::{self, XmlWriter};
use super::Ctx;
use crate::http_util::{self, set_header, Body};

/// Largest bucket policy accepted (as S3).
const MAX_BUCKET_POLICY: usize = 20 * 1024;

pub async fn list_buckets(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let mut buckets = ctx.state.store.list_buckets()?;
    if ctx.filter_buckets {
        buckets.retain(|(name, _)| {
            ctx.authorize(Action::ListBucket, name).is_ok()
                || ctx.authorize(Action::GetBucketLocation, name).is_ok()
        });
        if buckets.is_empty() {
            return Err(S3Error::new(S3ErrorCode::AccessDenied));
        }
    }
    let page = BucketPage::from_query(&ctx.query, &ctx.state.config.region)?;
    let next = page.apply(&mut buckets);
    let owner = ctx
        .caller
        .principal()
        .map(|p| p.username.clone())
        .unwrap_or_default();
    let mut w = XmlWriter::new("ListAllMyBucketsResult");
    w.open("Owner")
        .elem("ID", &owner)
        .elem("DisplayName", &owner)
        .close();
    w.open("Buckets");
    for (name, created) in &buckets {
        w.open("Bucket")
            .elem("Name", name)
            .elem("CreationDate", &xml::timestamp(created * 1000))
            .elem("BucketRegion", &ctx.state.config.region)
            .close();
    }
    w.close();
    if let Some(last) = next {
        w.elem("ContinuationToken", &super::listing::encode_token(&last));
    }
    if let Some(prefix) = &page.prefix {
        w.elem("Prefix", prefix);
    }
    Ok(http_util::xml(StatusCode::OK, w.finish()))
}

/// Largest ListBuckets page, and the page size when the request pages without naming one.
const MAX_BUCKETS_PAGE: usize = 10_000;

/// What a ListBuckets asks of the listing (S3's parameters, added in 2024): names starting
/// with `prefix`, after the continuation token's, at most `max-buckets` (1..=10000) of them,
/// and none when `bucket-region` names another region than the server's one.
#[derive(Debug)]
struct BucketPage {
    prefix: Option<String>,
    after: Option<String>,
    max: Option<usize>,
    other_region: bool,
}

impl BucketPage {
    fn from_query(q: &super::query::Query, region: &str) -> S3Result<BucketPage> {
        let max = match q.get("max-buckets") {
            None => None,
            Some(v) => Some(
                Some(v)
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .filter(|n| (1..=MAX_BUCKETS_PAGE).contains(n))
                    .ok_or_else(|| {
                        S3Error::with_message(
                            S3ErrorCode::InvalidArgument,
                            "max-buckets must be an integer from 1 to 10000.",
                        )
                    })?,
            ),
        };
        // An empty token is the first page (S3 allows a token of length 0).
        let token = q.get("continuation-token").filter(|t| !t.is_empty());
        let after = token.map(super::listing::decode_token).transpose()?;
        let paged = ["prefix", "continuation-token", "bucket-region"]
            .iter()
            .any(|p| q.get(p).is_some());
        Ok(BucketPage {
            prefix: q.get("prefix").map(str::to_owned),
            after,
            // With any of the new parameters S3 pages by 10 000 unless told otherwise; a
            // plain ListBuckets lists every bucket, as it always did.
            max: max.or(paged.then_some(MAX_BUCKETS_PAGE)),
            other_region: q.get("bucket-region").is_some_and(|r| r != region),
        })
    }

    /// Keeps this page of `buckets` (sorted by name); returns the last name kept when more
    /// follow, for the next page's token.
    fn apply(&self, buckets: &mut Vec<(String, i64)>) -> Option<String> {
        buckets.sort_by(|a, b| a.0.cmp(&b.0));
        buckets.retain(|(name, _)| {
            !self.other_region
                && self.prefix.as_deref().is_none_or(|p| name.starts_with(p))
                && self.after.as_deref().is_none_or(|a| name.as_str() > a)
        });
        let max = self.max?;
        if buckets.len() <= max {
            return None;
        }
        buckets.truncate(max);
        buckets.last().map(|(name, _)| name.clone())
    }
}

pub async fn create_bucket(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let bucket = ctx.bucket().to_owned();
    // A client asking for WORM storage is told it cannot have it, not given a plain bucket.
    let lock = ctx.parts.headers.get("x-amz-bucket-object-lock-enabled");
    if !lock.is_none_or(|v| v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"false")) {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "A header you provided implies functionality that is not implemented: Object Lock",
        ));
    }
    let body = ctx.small_body().await?;
    if !body.is_empty() {
        // A bucket lives in this server's region: another one named here is refused, as S3
        // refuses a constraint its endpoint cannot serve.
        let wanted = xml::parse_bucket_configuration(&body)?;
        if wanted
            .as_deref()
            .is_some_and(|r| r != ctx.state.config.region)
        {
            return Err(S3Error::with_message(
                S3ErrorCode::IllegalLocationConstraintException,
                format!(
                    "The {} location constraint is incompatible for the region specific endpoint this request was sent to ({}).",
                    wanted.unwrap_or_default(),
                    ctx.state.config.region
                ),
            ));
        }
    }
    let now = ctx.state.clock.now();
    let (state, owner, name) = (ctx.state.clone(), ctx.owner(), bucket.clone());
    // Off the reactor: it fsyncs under the bucket's directory lock.
    super::offload(move || state.store.create_bucket(&name, owner, now)).await?;
    let mut resp = http_util::empty(StatusCode::OK);
    set_header(&mut resp, "location", &format!("/{bucket}"));
    Ok(resp)
}

pub async fn head_bucket(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    ctx.state.store.bucket_meta(ctx.bucket())?;
    let mut resp = http_util::empty(StatusCode::OK);
    set_header(&mut resp, "x-amz-bucket-region", &ctx.state.config.region);
    Ok(resp)
}

pub async fn delete_bucket(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let (state, bucket) = (ctx.state.clone(), ctx.bucket().to_owned());
    // Off the reactor: it holds the bucket's directory lock while it checks for uploads.
    super::offload(move || state.store.delete_bucket(&bucket)).await?;
    Ok(http_util::empty(StatusCode::NO_CONTENT))
}

pub async fn get_location(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    ctx.state.store.bucket_meta(ctx.bucket())?;
    let region = &ctx.state.config.region;
    // S3 answers an empty constraint for us-east-1.
    let constraint = if region == "us-east-1" {
        ""
    } else {
        region.as_str()
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{}\">{}</LocationConstraint>",
        xml::S3_NS,
        quick_xml::escape::escape(constraint)
    );
    Ok(http_util::xml(StatusCode::OK, body))
}

pub async fn get_tagging(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let meta = ctx.state.store.bucket_meta(ctx.bucket())?;
    match meta.tags {
        Some(tags) => Ok(http_util::xml(StatusCode::OK, xml::tagging(&tags))),
        None => Err(S3Error::new(S3ErrorCode::NoSuchTagSet).bucket(ctx.bucket())),
    }
}

pub async fn put_tagging(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let body = ctx.small_body().await?;
    let tags = xml::parse_tagging(&body, xml::Tagged::Bucket)?;
    let store = &ctx.state.store;
    let mut meta = store.bucket_meta(ctx.bucket())?;
    meta.tags = Some(tags);
    store.write_bucket_meta(ctx.bucket(), &meta)?;
    Ok(http_util::empty(StatusCode::NO_CONTENT))
}

pub async fn delete_tagging(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let store = &ctx.state.store;
    let mut meta = store.bucket_meta(ctx.bucket())?;
    meta.tags = None;
    store.write_bucket_meta(ctx.bucket(), &meta)?;
    Ok(http_util::empty(StatusCode::NO_CONTENT))
}

pub async fn get_policy(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let meta = ctx.state.store.bucket_meta(ctx.bucket())?;
    match meta.policy {
        Some(policy) => Ok(http_util::with_body(
            StatusCode::OK,
            "application/json",
            policy,
        )),
        None => Err(S3Error::new(S3ErrorCode::NoSuchBucketPolicy).bucket(ctx.bucket())),
    }
}

pub async fn put_policy(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let body = ctx.small_body().await?;
    if body.len() > MAX_BUCKET_POLICY {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Policy exceeds the maximum allowed size.",
        ));
    }
    let text =
        std::str::from_utf8(&body).map_err(|_| S3Error::new(S3ErrorCode::MalformedPolicy))?;
    super::bucket_policy::validate(text, ctx.bucket())?;
    let store = &ctx.state.store;
    let mut meta = store.bucket_meta(ctx.bucket())?;
    meta.policy = Some(text.to_owned());
    store.write_bucket_meta(ctx.bucket(), &meta)?;
    Ok(http_util::empty(StatusCode::NO_CONTENT))
}

pub async fn delete_policy(ctx: &mut Ctx) -> S3Result<Response<Body>> {
    let store = &ctx.state.store;
    let mut meta = store.bucket_meta(ctx.bucket())?;
    meta.policy = None;
    store.write_bucket_meta(ctx.bucket(), &meta)?;
    Ok(http_util::empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::query::Query;

    /// With a paging parameter and no `max-buckets`, a page is S3's default 10 000 with a
    /// token for the rest; a plain ListBuckets lists all; `+1` is no number of buckets.
    #[test]
    fn bucket_pages_default_to_ten_thousand_when_paging() {
        let all: Vec<(String, i64)> = (0..10_001).map(|i| (format!("b{i:05}"), 0)).collect();
        let page = |query: &str| {
            let page = BucketPage::from_query(&Query::parse(query), "us-east-1").unwrap();
            let mut buckets = all.clone();
            let next = page.apply(&mut buckets);
            (buckets.len(), next)
        };
        assert_eq!(page("prefix=b"), (10_000, Some("b09999".to_owned())));
        assert_eq!(page(""), (10_001, None));
        assert_eq!(page("max-buckets=2"), (2, Some("b00001".to_owned())));
        for bad in ["max-buckets=%2B1", "max-buckets=0", "max-buckets="] {
            let e = BucketPage::from_query(&Query::parse(bad), "us-east-1").unwrap_err();
            assert_eq!(e.code, S3ErrorCode::InvalidArgument, "{bad}");
        }
    }
}
