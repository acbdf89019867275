//! Authorisation's tests: the lazily gathered condition keys against a model, the SPEC's
//! rules on signed requests, and a caller's policy refreshed after a wait (S7).

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
                let v =
                    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC);
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
