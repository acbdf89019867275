//! Authorisation: may this caller perform this action on this resource?
//!
//! The root may do everything (as MinIO's root). An S3 user is judged by the policy attached
//! to it, read from the request's snapshot (no policy: denied, SPEC U3). Anonymous requests
//! are judged by the bucket's policy, whose statements for `Principal: "*"` are evaluated as
//! an identity policy (WEKA: bucket policies apply to unsigned requests only). Evaluation
//! itself is the pure `keygate-policy` engine; this module only gathers the request context
//! (condition keys of SPEC E9) and turns a `Decision` into `AccessDenied`.

use std::cell::OnceCell;

use http::HeaderName;
use keygate_policy::{
    evaluate_all, Action, ConditionKey, ConditionMap, ConditionValues, Decision, PrincipalType,
    Profile, RequestContext, Values,
};
use keygate_sigv4::AuthKind;
use time::OffsetDateTime;

use crate::auth::Caller;
use crate::iam::PrincipalKind;
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::query::Query;
use crate::state::AppState;

/// What authorisation reads of a request: who signed it, how, and its headers and query.
#[derive(Debug, Clone, Copy)]
pub struct AuthzRequest<'a> {
    pub state: &'a AppState,
    pub caller: &'a Caller,
    pub headers: &'a http::HeaderMap,
    pub query: &'a Query,
    pub remote: std::net::SocketAddr,
    /// The request came over TLS.
    pub secure: bool,
    /// PutObjectTagging's tags, read from its body before authorisation: its
    /// `s3:RequestObjectTag/…` and `s3:RequestObjectTagKeys` (`None`: any other request, whose
    /// tags are its `x-amz-tagging`, or a body that is no tag set, which the handler refuses).
    pub body_tags: Option<&'a [(String, String)]>,
}

impl AuthzRequest<'_> {
    fn header(&self, name: &HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The server's own behaviour where SPEC names a profile difference (MinIO-style).
pub const PROFILE: Profile = Profile::Reference;

/// Authorises `action` on `resource` for the request in `ctx`.
pub fn authorize(ctx: &AuthzRequest<'_>, action: Action, resource: &str) -> S3Result<()> {
    decide(ctx, action, resource).map(|_| ())
}

/// Like [`authorize`] but returns the decision (for the log and for ListBuckets filtering).
pub fn decide(ctx: &AuthzRequest<'_>, action: Action, resource: &str) -> S3Result<Decision> {
    let denied = || Err(S3Error::new(S3ErrorCode::AccessDenied));
    match ctx.caller {
        Caller::Signed { key, .. } => {
            let (p, policy) = (&key.credential.principal, &key.policy);
            match p.kind {
                PrincipalKind::Root => Ok(Decision::Allow { statement: 0 }),
                PrincipalKind::User | PrincipalKind::Sts | PrincipalKind::ServiceAccount => {
                    // The parent's policy, read live from the snapshot the key was found in
                    // (S7, A3); a session or embedded policy can only narrow it (S4, A3).
                    let Some(parent) = policy.as_deref() else {
                        return denied();
                    };
                    let principal_type = match p.kind {
                        PrincipalKind::Sts => PrincipalType::AssumedRole,
                        PrincipalKind::ServiceAccount => PrincipalType::ServiceAccount,
                        _ => PrincipalType::User,
                    };
                    let needs = match &p.own_policy {
                        Some(own) => parent.needs.union(own.needs),
                        None => parent.needs,
                    };
                    // Keys are found when a condition first reads one (most requests read
                    // none); object tags, from a header or the disk, are gathered up front.
                    let (lazy, gathered);
                    let values: &dyn ConditionValues = if needs.is_empty() {
                        &NO_VALUES
                    } else if needs.request_tags || needs.existing_tags {
                        gathered = condition_values(ctx, action, resource, needs);
                        &gathered
                    } else {
                        lazy = RequestValues::new(ctx, action, needs);
                        &lazy
                    };
                    let rc = RequestContext {
                        action,
                        resource,
                        username: &p.username,
                        // As MinIO: the user's name, the parent's for STS credentials and
                        // service accounts (spec-notes 36/37), like `aws:username` (E10).
                        userid: &p.username,
                        principal_type,
                        values,
                        profile: PROFILE,
                    };
                    let decision = match &p.own_policy {
                        None => parent.compiled.evaluate(&rc),
                        Some(own) => evaluate_all(&[&parent.compiled, &own.compiled], &rc),
                    };
                    tracing::debug!(key = %p.access_key, user = %p.username, action = action.as_str(), resource, ?decision, "authorisation");
                    if decision.is_allowed() {
                        Ok(decision)
                    } else {
                        denied()
                    }
                }
            }
        }
        Caller::Anonymous => {
            // A bucket's policy is its owner's to read and change, whatever it grants (as
            // S3, where only the owning account may): else one `Principal: "*"` grant would
            // let anyone rewrite or remove the policy itself.
            if matches!(
                action,
                Action::GetBucketPolicy | Action::PutBucketPolicy | Action::DeleteBucketPolicy
            ) {
                return denied();
            }
            let Some(policy) = bucket_policy_for_anonymous(ctx, resource) else {
                return denied();
            };
            let values = condition_values(ctx, action, resource, KeyNeeds::EVERYTHING);
            let rc = RequestContext {
                action,
                resource,
                username: "",
                userid: "",
                principal_type: PrincipalType::User,
                values: &values,
                profile: PROFILE,
            };
            let decision = policy.evaluate(&rc);
            if decision.is_allowed() {
                Ok(decision)
            } else {
                denied()
            }
        }
    }
}

/// The statements of the resource's bucket policy that name every principal, as an identity
/// policy. `None` when there is no bucket, no policy, or nothing for anonymous callers.
fn bucket_policy_for_anonymous(
    ctx: &AuthzRequest<'_>,
    resource: &str,
) -> Option<keygate_policy::CompiledPolicy> {
    let bucket = resource.split('/').next().filter(|b| *b != "*")?;
    let text = ctx.state.store.bucket_meta(bucket).ok()?.policy?;
    let doc = crate::s3::bucket_policy::anonymous_part(&text).ok()??;
    Some(doc.compile())
}

/// What a request whose policies read no condition key is evaluated with (most requests).
static NO_VALUES: ConditionMap = ConditionMap::new();

/// The condition keys of SPEC E9 this request supplies, tags included, gathered at once.
fn condition_values(
    ctx: &AuthzRequest<'_>,
    action: Action,
    resource: &str,
    needs: KeyNeeds,
) -> ConditionMap {
    let mut m = ConditionMap::new();
    let lazy = RequestValues::new(ctx, action, needs);
    for &key in ConditionKey::ALL {
        match lazy.get_known(key) {
            Some(Values::One(v)) => {
                m.set(key, v);
            }
            Some(Values::Ip(ip)) => {
                m.set(key, ip_text(ip));
            }
            Some(Values::Many(_)) | None => {}
        }
    }
    if needs.request_tags {
        // The tags the request sets: PutObjectTagging's body, else the `x-amz-tagging` of a
        // PutObject, CopyObject or CreateMultipartUpload (for their s3:PutObject and their
        // s3:PutObjectTagging alike).
        let tags = match ctx.body_tags {
            Some(body) => Some(body.to_vec()),
            None => ctx
                .header(&X_AMZ_TAGGING)
                .and_then(|t| crate::s3::headers::parse_tag_query(t).ok()),
        };
        if let Some(tags) = tags {
            m.set_many(
                ConditionKey::RequestObjectTagKeys,
                tags.iter().map(|(k, _)| k.clone()).collect(),
            );
            for (k, v) in tags {
                m.request_object_tag(&k, v);
            }
        }
    }
    if needs.existing_tags && action.is_object_action() && !matches!(action, Action::PutObject) {
        if let Some((bucket, key)) = resource.split_once('/') {
            if let Ok(meta) = ctx.state.store.object_meta(bucket, key) {
                for (k, v) in meta.tags {
                    m.existing_object_tag(&k, v);
                }
            }
        }
    }
    m
}

const X_AMZ_TAGGING: HeaderName = HeaderName::from_static("x-amz-tagging");
const COPY_SOURCE: HeaderName = HeaderName::from_static("x-amz-copy-source");

/// `s3:x-amz-copy-source` as AWS documents it: `bucket/key` of the object CopyObject reads,
/// whichever way the header spells it (a leading `/`, percent-escapes, `?versionId=`), so a
/// condition on the source cannot be dodged by another spelling of the same object. A header
/// CopyObject cannot read (it answers 400 then) is given as sent.
fn copy_source_value(raw: &str) -> String {
    match crate::s3::parse_copy_source(raw) {
        Ok((bucket, key)) => format!("{bucket}/{key}"),
        Err(_) => raw.to_owned(),
    }
}

/// The request headers condition keys read as sent, by key.
static HEADER_KEYS: [(ConditionKey, HeaderName); 4] = [
    (ConditionKey::UserAgent, http::header::USER_AGENT),
    (ConditionKey::Referer, http::header::REFERER),
    (
        ConditionKey::ContentSha256,
        HeaderName::from_static("x-amz-content-sha256"),
    ),
    (
        ConditionKey::MetadataDirective,
        HeaderName::from_static("x-amz-metadata-directive"),
    ),
];

/// The well-known condition keys (SPEC E9) of one request, each found when a condition first
/// reads it: headers and fixed words are lent without a copy, the source address is given as
/// an address (IP conditions need no text), and the few values that must be written (times,
/// signature age) are written once. Only the keys in
/// `needs` are present, as when they were gathered up front. Tag keys are not here: a policy
/// that reads them is given [`condition_values`].
struct RequestValues<'r, 'a> {
    ctx: &'r AuthzRequest<'a>,
    action: Action,
    needs: KeyNeeds,
    /// The clock, read once, when a time key is first wanted.
    now: OnceCell<OffsetDateTime>,
    current_time: OnceCell<Option<String>>,
    epoch_time: OnceCell<String>,
    signature_age: OnceCell<String>,
    copy_source: OnceCell<Option<String>>,
}

impl<'r, 'a> RequestValues<'r, 'a> {
    fn new(ctx: &'r AuthzRequest<'a>, action: Action, needs: KeyNeeds) -> Self {
        RequestValues {
            ctx,
            action,
            needs,
            now: OnceCell::new(),
            current_time: OnceCell::new(),
            epoch_time: OnceCell::new(),
            signature_age: OnceCell::new(),
            copy_source: OnceCell::new(),
        }
    }

    fn now(&self) -> OffsetDateTime {
        *self.now.get_or_init(|| self.ctx.state.clock.now())
    }

    /// The one value of `key`, if the request has it.
    fn value(&self, key: ConditionKey) -> Option<&str> {
        use ConditionKey::*;
        let ctx = self.ctx;
        match key {
            // Given as an address by `get_known`.
            SourceIp => None,
            SecureTransport => Some(if ctx.secure { "true" } else { "false" }),
            CurrentTime => self
                .current_time
                .get_or_init(|| {
                    self.now()
                        .format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .as_deref(),
            EpochTime => Some(
                self.epoch_time
                    .get_or_init(|| self.now().unix_timestamp().to_string()),
            ),
            CopySource => self
                .copy_source
                .get_or_init(|| ctx.header(&COPY_SOURCE).map(copy_source_value))
                .as_deref(),
            UserAgent | Referer | ContentSha256 | MetadataDirective => {
                let (_, name) = HEADER_KEYS.iter().find(|(k, _)| *k == key)?;
                ctx.header(name)
            }
            SignatureVersion => ctx.caller.verified().map(|_| "AWS4-HMAC-SHA256"),
            AuthType => ctx.caller.verified().map(|v| match v.kind() {
                AuthKind::Header => "REST-HEADER",
                AuthKind::Query => "REST-QUERY-STRING",
            }),
            SignatureAge => {
                let v = ctx.caller.verified()?;
                Some(self.signature_age.get_or_init(|| {
                    let age_ms = (self.now() - v.signed_at()).whole_milliseconds().max(0);
                    age_ms.to_string()
                }))
            }
            Prefix | Delimiter | MaxKeys if matches!(self.action, Action::ListBucket) => {
                let param = match key {
                    Prefix => "prefix",
                    Delimiter => "delimiter",
                    _ => "max-keys",
                };
                ctx.query.get(param)
            }
            // Read from the request context, or (tag keys) gathered up front.
            Prefix | Delimiter | MaxKeys | Username | Userid | PrincipalType
            | RequestObjectTagKeys => None,
        }
    }
}

impl ConditionValues for RequestValues<'_, '_> {
    fn get(&self, key: &str) -> Option<Values<'_>> {
        ConditionKey::from_name(key).and_then(|k| self.get_known(k))
    }

    fn get_known(&self, key: ConditionKey) -> Option<Values<'_>> {
        if !self.needs.has(key) {
            return None;
        }
        if key == ConditionKey::SourceIp {
            return Some(Values::Ip(self.ctx.remote.ip()));
        }
        self.value(key).map(Values::One)
    }
}

/// `aws:SourceIp` as text; an IPv4 address written digit by digit (`Display` goes through
/// `core::fmt`, a third of the condition keys' cost when a policy reads the source address).
fn ip_text(ip: std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut out = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        for (place, shown) in [(100, octet >= 100), (10, octet >= 10), (1, true)] {
            if shown {
                out.push(char::from(b'0' + octet / place % 10));
            }
        }
    }
    out
}

/// Which condition keys a policy can read, found once when it is stored, so a request only
/// gathers what its policies look at (most gather nothing) and only reads object tags from
/// disk for a policy that names `s3:ExistingObjectTag/…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyNeeds {
    keys: u32,
    request_tags: bool,
    existing_tags: bool,
}

impl KeyNeeds {
    /// Every key: for bucket policies, parsed per request anyway.
    pub const EVERYTHING: KeyNeeds = KeyNeeds {
        keys: u32::MAX,
        request_tags: true,
        existing_tags: true,
    };

    /// The keys `source` (a policy document) names, matched case-insensitively.
    pub fn of(source: &str) -> KeyNeeds {
        let lower = source.to_ascii_lowercase();
        let mut keys = 0;
        for key in ConditionKey::ALL {
            if lower.contains(key.lower_name()) {
                keys |= KeyNeeds::bit(*key);
            }
        }
        KeyNeeds {
            keys,
            request_tags: lower.contains("requestobjecttag"),
            existing_tags: lower.contains("existingobjecttag"),
        }
    }

    pub fn union(self, other: KeyNeeds) -> KeyNeeds {
        KeyNeeds {
            keys: self.keys | other.keys,
            request_tags: self.request_tags || other.request_tags,
            existing_tags: self.existing_tags || other.existing_tags,
        }
    }

    const fn bit(key: ConditionKey) -> u32 {
        1 << key as u32
    }

    fn has(self, key: ConditionKey) -> bool {
        self.keys & KeyNeeds::bit(key) != 0
    }

    fn is_empty(self) -> bool {
        self.keys == 0 && !self.request_tags && !self.existing_tags
    }
}

/// Signing with AWS's own signer for the tests below, shared with the integration tests.
#[cfg(test)]
#[path = "../tests/common/aws_sign.rs"]
mod aws_sign;

#[cfg(test)]
mod tests;
