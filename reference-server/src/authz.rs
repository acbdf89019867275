//! Authorisation: may this caller perform this action on this resource?
//!
//! The root may do everything (as MinIO's root). An S3 user is judged by the policy attached
//! to it, read from the request's snapshot (no policy: denied, SPEC U3). Anonymous requests
//! are judged by the bucket's policy, whose statements for `Principal: "*"` are evaluated as
//! an identity policy (WEKA: bucket policies apply to unsigned requests only). Evaluation
//! itself is the pure `keygate-policy` engine; this module only gathers the request context
//! (condition keys of SPEC E9) and turns a `Decision` into `AccessDenied`.

use keygate_policy::{
    evaluate_all, Action, ConditionKey, ConditionMap, Decision, PrincipalType, Profile,
    RequestContext,
};
use keygate_sigv4::AuthKind;

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
}

impl AuthzRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
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
        Caller::Signed { credential, .. } => {
            let p = &credential.principal;
            match p.kind {
                PrincipalKind::Root => Ok(Decision::Allow { statement: 0 }),
                PrincipalKind::User | PrincipalKind::Sts | PrincipalKind::ServiceAccount => {
                    // The parent's policy is read live from the request's snapshot (S7, A3);
                    // a session or embedded policy can only narrow it (S4, A3).
                    let snapshot = ctx.state.identities.snapshot();
                    let Some(parent) = snapshot.user_policy(&p.username) else {
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
                    let gathered;
                    let values = if needs.is_empty() {
                        &NO_VALUES
                    } else {
                        gathered = condition_values(ctx, action, resource, needs);
                        &gathered
                    };
                    let rc = RequestContext {
                        action,
                        resource,
                        username: &p.username,
                        userid: &p.access_key,
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

/// The condition keys of SPEC E9 this request supplies.
fn condition_values(
    ctx: &AuthzRequest<'_>,
    action: Action,
    resource: &str,
    needs: KeyNeeds,
) -> ConditionMap {
    let mut m = ConditionMap::new();
    let want = |k: ConditionKey| needs.has(k);
    if want(ConditionKey::SourceIp) {
        m.set(ConditionKey::SourceIp, ip_text(ctx.remote.ip()));
    }
    if want(ConditionKey::SecureTransport) {
        m.set(
            ConditionKey::SecureTransport,
            if ctx.secure { "true" } else { "false" },
        );
    }
    // Read only if a time key is wanted.
    let now = std::cell::OnceCell::new();
    let now = || *now.get_or_init(|| ctx.state.clock.now());
    if want(ConditionKey::CurrentTime) {
        if let Ok(t) = now().format(&time::format_description::well_known::Rfc3339) {
            m.set(ConditionKey::CurrentTime, t);
        }
    }
    if want(ConditionKey::EpochTime) {
        m.set(ConditionKey::EpochTime, now().unix_timestamp().to_string());
    }
    for (key, header) in [
        (ConditionKey::UserAgent, "user-agent"),
        (ConditionKey::Referer, "referer"),
        (ConditionKey::ContentSha256, "x-amz-content-sha256"),
        (ConditionKey::CopySource, "x-amz-copy-source"),
        (ConditionKey::MetadataDirective, "x-amz-metadata-directive"),
    ] {
        if want(key) {
            if let Some(v) = ctx.header(header) {
                m.set(key, v);
            }
        }
    }
    if let Some(v) = ctx.caller.verified() {
        if want(ConditionKey::SignatureVersion) {
            m.set(ConditionKey::SignatureVersion, "AWS4-HMAC-SHA256");
        }
        if want(ConditionKey::AuthType) {
            let auth_type = match v.kind() {
                AuthKind::Header => "REST-HEADER",
                AuthKind::Query => "REST-QUERY-STRING",
            };
            m.set(ConditionKey::AuthType, auth_type);
        }
        if want(ConditionKey::SignatureAge) {
            let age_ms = (now() - v.signed_at()).whole_milliseconds().max(0);
            m.set(ConditionKey::SignatureAge, age_ms.to_string());
        }
    }
    if matches!(action, Action::ListBucket) {
        for (key, param) in [
            (ConditionKey::Prefix, "prefix"),
            (ConditionKey::Delimiter, "delimiter"),
            (ConditionKey::MaxKeys, "max-keys"),
        ] {
            if want(key) {
                if let Some(v) = ctx.query.get(param) {
                    m.set(key, v);
                }
            }
        }
    }
    if needs.request_tags {
        if let Some(tagging) = ctx.header("x-amz-tagging") {
            if let Ok(tags) = crate::s3::headers::parse_tag_query(tagging) {
                m.set_many(
                    ConditionKey::RequestObjectTagKeys,
                    tags.iter().map(|(k, _)| k.clone()).collect(),
                );
                for (k, v) in tags {
                    m.request_object_tag(&k, v);
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ips_read_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.9.99.100",
            "255.255.255.255",
            "192.168.1.20",
            "::1",
            "::ffff:10.0.0.1",
            "2001:db8::8a2e:370:7334",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text(ip), ip.to_string());
        }
    }
}
