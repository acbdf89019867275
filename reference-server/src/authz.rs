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
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::time::SystemTime;

    use aws_credential_types::Credentials;
    use aws_sign::aws_sign;
    use aws_sigv4::http_request::{
        PayloadChecksumKind, SignableBody, SignatureLocation, SigningSettings,
    };

    use crate::auth::{authenticate_head, Caller};
    use crate::s3::query::Query;

    /// The condition keys as they were gathered before [`RequestValues`] (one map, filled up
    /// front), at the time `now`: the model the lazy values must agree with.
    fn model(
        ctx: &AuthzRequest<'_>,
        action: Action,
        needs: KeyNeeds,
        now: OffsetDateTime,
    ) -> ConditionMap {
        let header = |name: &str| ctx.headers.get(name).and_then(|v| v.to_str().ok());
        let mut m = ConditionMap::new();
        let want = |k: ConditionKey| needs.has(k);
        if want(ConditionKey::SourceIp) {
            m.set(ConditionKey::SourceIp, ctx.remote.ip().to_string());
        }
        if want(ConditionKey::SecureTransport) {
            m.set(
                ConditionKey::SecureTransport,
                if ctx.secure { "true" } else { "false" },
            );
        }
        if want(ConditionKey::CurrentTime) {
            if let Ok(t) = now.format(&time::format_description::well_known::Rfc3339) {
                m.set(ConditionKey::CurrentTime, t);
            }
        }
        if want(ConditionKey::EpochTime) {
            m.set(ConditionKey::EpochTime, now.unix_timestamp().to_string());
        }
        for (key, name) in [
            (ConditionKey::UserAgent, "user-agent"),
            (ConditionKey::Referer, "referer"),
            (ConditionKey::ContentSha256, "x-amz-content-sha256"),
            (ConditionKey::MetadataDirective, "x-amz-metadata-directive"),
        ] {
            if let (true, Some(v)) = (want(key), header(name)) {
                m.set(key, v);
            }
        }
        if let (true, Some(v)) = (want(ConditionKey::CopySource), header("x-amz-copy-source")) {
            // `bucket/key` as CopyObject reads it: no query, escapes decoded, one `/` off.
            let raw = v.split('?').next().unwrap_or(v);
            let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
            let v = decoded.strip_prefix('/').unwrap_or(&decoded);
            m.set(ConditionKey::CopySource, v);
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
                let age_ms = (now - v.signed_at()).whole_milliseconds().max(0);
                m.set(ConditionKey::SignatureAge, age_ms.to_string());
            }
        }
        if matches!(action, Action::ListBucket) {
            for (key, param) in [
                (ConditionKey::Prefix, "prefix"),
                (ConditionKey::Delimiter, "delimiter"),
                (ConditionKey::MaxKeys, "max-keys"),
            ] {
                if let (true, Some(v)) = (want(key), ctx.query.get(param)) {
                    m.set(key, v);
                }
            }
        }
        m
    }

    /// The values as text, an address as `Display` writes it.
    fn texts(values: Option<Values<'_>>) -> Option<Vec<String>> {
        values.map(|v| match v {
            Values::One(s) => vec![s.to_owned()],
            Values::Many(vs) => vs.to_vec(),
            Values::Ip(ip) => vec![ip.to_string()],
        })
    }

    /// A request for `path_and_query` with `extra` headers, signed by `ak`/`sk` in the
    /// headers or the query (AWS's own signer), or unsigned.
    fn request(
        sign_with: Option<(&str, &str, SignatureLocation)>,
        path_and_query: &str,
        extra: &[(&str, &[u8])],
    ) -> http::request::Parts {
        let host = "127.0.0.1:9000";
        let mut builder = http::Request::builder().method("GET").header("host", host);
        for (k, v) in extra {
            builder = builder.header(*k, *v);
        }
        let mut uri = path_and_query.to_owned();
        if let Some((ak, sk, location)) = sign_with {
            let mut settings = SigningSettings::default();
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            settings.signature_location = location;
            if location == SignatureLocation::QueryParams {
                settings.expires_in = Some(std::time::Duration::from_secs(300));
            }
            let full = format!("http://{host}{path_and_query}");
            let headers: Vec<(&str, &str)> = extra
                .iter()
                .filter_map(|(k, v)| Some((*k, std::str::from_utf8(v).ok()?)))
                .chain([("host", host)])
                .collect();
            let signed = aws_sign(
                &Credentials::new(ak, sk, None, None, "test"),
                "s3",
                settings,
                SystemTime::now(),
                "GET",
                &full,
                &headers,
                SignableBody::UnsignedPayload,
            );
            for (k, v) in &signed.headers {
                builder = builder.header(k, v);
            }
            let params: Vec<String> = signed
                .params
                .iter()
                .map(|(k, v)| {
                    let v = percent_encoding::utf8_percent_encode(
                        v,
                        percent_encoding::NON_ALPHANUMERIC,
                    );
                    format!("{k}={v}")
                })
                .collect();
            if !params.is_empty() {
                let sep = if uri.contains('?') { '&' } else { '?' };
                uri = format!("{uri}{sep}{}", params.join("&"));
            }
        }
        builder.uri(uri).body(()).unwrap().into_parts().0
    }

    /// Every condition key the lazy values answer agrees with the up-front model: each key
    /// alone and all together, signed in the headers, in the query and unsigned, with headers
    /// present, absent and not text, query parameters present and empty, both address
    /// families, and actions that do and do not read the listing keys.
    #[test]
    fn lazy_condition_values_agree_with_the_up_front_model() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::state::for_tests(dir.path());
        state
            .identities
            .add_user("alice", "Password1", 0, 0, 0)
            .unwrap();
        let mut needs_list = vec![KeyNeeds::EVERYTHING, KeyNeeds::of("")];
        needs_list.extend(ConditionKey::ALL.iter().map(|k| KeyNeeds::of(k.as_str())));
        let extras: [&[(&str, &[u8])]; 3] = [
            &[],
            &[
                ("user-agent", b"aws-sdk-rust/1.x"),
                ("referer", b"https://example.com/"),
                ("x-amz-copy-source", b"/src/k%65y?versionId=1"),
                ("x-amz-metadata-directive", b"REPLACE"),
            ],
            &[("user-agent", b"caf\xe9"), ("referer", b"")],
        ];
        let signers = [
            None,
            Some(("alice", "Password1", SignatureLocation::Headers)),
            Some(("alice", "Password1", SignatureLocation::QueryParams)),
        ];
        let remotes: [SocketAddr; 2] = [
            "10.1.20.255:5000".parse().unwrap(),
            "[2001:db8::1]:5000".parse().unwrap(),
        ];
        let mut compared = 0;
        for path in [
            "/b/k",
            "/b?prefix=&delimiter=%2F&max-keys=5",
            "/b?prefix=a+b",
        ] {
            for extra in extras {
                for signer in signers {
                    let parts = request(signer, path, extra);
                    let caller = authenticate_head(&state, &parts).unwrap();
                    assert_eq!(
                        matches!(caller, Caller::Signed { .. }),
                        signer.is_some(),
                        "{path}"
                    );
                    let query = Query::parse(parts.uri.query().unwrap_or(""));
                    for (remote, secure) in remotes.into_iter().zip([false, true]) {
                        let ctx = AuthzRequest {
                            state: &state,
                            caller: &caller,
                            headers: &parts.headers,
                            query: &query,
                            remote,
                            secure,
                            body_tags: None,
                        };
                        for action in [Action::ListBucket, Action::GetObject] {
                            for &needs in &needs_list {
                                let lazy = RequestValues::new(&ctx, action, needs);
                                let now = state.clock.now();
                                lazy.now.set(now).unwrap();
                                let model = model(&ctx, action, needs, now);
                                for &key in ConditionKey::ALL {
                                    assert_eq!(
                                        texts(lazy.get_known(key)),
                                        texts(model.get_known(key)),
                                        "{key:?} {path} {extra:?} {signer:?} {action:?}"
                                    );
                                    assert_eq!(
                                        texts(lazy.get(key.lower_name())),
                                        texts(model.get(key.lower_name()))
                                    );
                                    compared += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(compared > 10_000);
    }

    /// `aws:SourceIp` reaches conditions as an address from the lazy values (`Values::Ip`) and
    /// as text from the up-front model: the `IpAddress` operators must decide the same on
    /// both, for both families, inside and outside the range (the agreement test above only
    /// compares the two as text).
    #[test]
    fn source_ip_conditions_decide_alike_on_the_address_and_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::state::for_tests(dir.path());
        let parts = request(None, "/b/k", &[]);
        let caller = authenticate_head(&state, &parts).unwrap();
        let query = Query::parse("");
        let policy = |op: &str, cidr: &str| {
            keygate_policy::PolicyDocument::parse(&format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::b/*","Condition":{{"{op}":{{"aws:SourceIp":"{cidr}"}}}}}}]}}"#
            ))
            .unwrap()
            .compile()
        };
        for (remote, inside, outside) in [
            ("10.1.20.255:5000", "10.1.0.0/16", "10.2.0.0/16"),
            ("[2001:db8::1]:5000", "2001:db8::/32", "2001:db9::/32"),
        ] {
            let ctx = AuthzRequest {
                state: &state,
                caller: &caller,
                headers: &parts.headers,
                query: &query,
                remote: remote.parse().unwrap(),
                secure: false,
                body_tags: None,
            };
            let needs = KeyNeeds::of("aws:SourceIp");
            let lazy = RequestValues::new(&ctx, Action::GetObject, needs);
            let model = model(&ctx, Action::GetObject, needs, state.clock.now());
            assert!(matches!(
                lazy.get_known(ConditionKey::SourceIp),
                Some(Values::Ip(_))
            ));
            for (op, cidr, allowed) in [
                ("IpAddress", inside, true),
                ("IpAddress", outside, false),
                ("NotIpAddress", inside, false),
                ("NotIpAddress", outside, true),
            ] {
                let compiled = policy(op, cidr);
                let decide = |values: &dyn ConditionValues| {
                    compiled
                        .evaluate(&RequestContext {
                            action: Action::GetObject,
                            resource: "b/k",
                            username: "",
                            userid: "",
                            principal_type: PrincipalType::User,
                            values,
                            profile: PROFILE,
                        })
                        .is_allowed()
                };
                assert_eq!(decide(&lazy), allowed, "{op} {cidr} from {remote}, address");
                assert_eq!(decide(&model), allowed, "{op} {cidr} from {remote}, text");
            }
        }
    }

    /// A caller carries the policy of the snapshot it was authenticated with; after a wait
    /// (a buffered body, DeleteObjects' list) `refresh_policy` reads the policy as it is now,
    /// so a detach, or the user's deletion, applies to the request at once (S7).
    #[test]
    fn s7_a_refreshed_caller_is_judged_by_the_current_policy() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::state::for_tests(dir.path());
        let ids = &state.identities;
        ids.add_user("alice", "Password1", 0, 0, 0).unwrap();
        ids.attach("readwrite", "alice").unwrap();
        let parts = request(
            Some(("alice", "Password1", SignatureLocation::Headers)),
            "/b/k",
            &[],
        );
        let query = Query::parse("");
        let decide_for = |caller: &Caller| {
            let ctx = AuthzRequest {
                state: &state,
                caller,
                headers: &parts.headers,
                query: &query,
                remote: "127.0.0.1:5000".parse().unwrap(),
                secure: false,
                body_tags: None,
            };
            decide(&ctx, Action::DeleteObject, "b/k").is_ok()
        };
        let mut caller = authenticate_head(&state, &parts).unwrap();
        assert!(decide_for(&caller));
        ids.detach("alice").unwrap();
        // Judged by the policy it was authenticated with until it is refreshed.
        assert!(decide_for(&caller));
        caller.refresh_policy(&state);
        assert!(!decide_for(&caller));
        ids.attach("readwrite", "alice").unwrap();
        caller.refresh_policy(&state);
        assert!(decide_for(&caller));
        ids.delete_user("alice").unwrap();
        caller.refresh_policy(&state);
        assert!(!decide_for(&caller));
        // Another alice, with another password: not the credential the request was signed
        // with, so her policy is not its policy.
        ids.add_user("alice", "Password2", 0, 0, 0).unwrap();
        ids.attach("readwrite", "alice").unwrap();
        caller.refresh_policy(&state);
        assert!(!decide_for(&caller));
        // With the same password she is the same credential.
        ids.delete_user("alice").unwrap();
        ids.add_user("alice", "Password1", 0, 0, 0).unwrap();
        ids.attach("readwrite", "alice").unwrap();
        caller.refresh_policy(&state);
        assert!(decide_for(&caller));
    }

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
