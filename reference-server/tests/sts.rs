//! STS AssumeRole (SPEC S1–S8, V6's "a presigned URL made from STS credentials dies with
//! them"): aws-sdk-sts end to end, then aws-sdk-s3 with the session credentials; the edge
//! cases the SDK would refuse to send go out as raw requests signed by aws-sigv4.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use aws_sdk_s3::presigning::PresigningConfig;
use common::{allow, outcome, padded_policy, try_get, try_put, Call, Keys, Raw, TestServer};
use serde_json::json;

const FORM: &str = "Action=AssumeRole&Version=2011-06-15";
const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Percent-encodes a form value.
fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The session keys of a successful raw AssumeRole answer.
fn session_keys(r: &Raw) -> Keys {
    assert_eq!(r.status, 200, "{}", r.text());
    Keys::new(
        &r.xml("AccessKeyId").expect("AccessKeyId"),
        &r.xml("SecretAccessKey").expect("SecretAccessKey"),
    )
    .with_token(Some(&r.xml("SessionToken").expect("SessionToken")))
}

/// `Expiration` of a raw AssumeRole answer, Unix seconds.
fn expiration(r: &Raw) -> i64 {
    let text = r.xml("Expiration").expect("Expiration");
    time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .unix_timestamp()
}

fn unix(t: &TestServer) -> i64 {
    t.server_now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Asserts an STS error: status, code and the `ErrorResponse` envelope.
#[track_caller]
fn sts_error(r: &Raw, status: u16, code: &str) {
    r.expect_error(status, code);
    let text = r.text();
    assert!(
        text.contains(&format!("<ErrorResponse xmlns=\"{STS_NS}\">"))
            && text.contains("<Type>Sender</Type>")
            && r.xml("RequestId").is_some(),
        "not an STS ErrorResponse: {text}"
    );
}

#[tokio::test]
async fn s1_s2_sdk_assume_role_end_to_end() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readwrite").await;
    let before = unix(&t);
    let out = t
        .sts(&alice)
        .assume_role()
        .role_arn("arn:aws:iam::000000000000:role/ignored")
        .role_session_name("session-1")
        .send()
        .await
        .expect("AssumeRole");
    let c = out.credentials().expect("credentials");
    assert_eq!(c.access_key_id().len(), 20);
    assert_eq!(c.secret_access_key().len(), 40);
    assert!(!c.session_token().is_empty());
    assert_ne!(c.access_key_id(), "alice");
    let expires = c.expiration().secs();
    assert!(
        (before + 3600..=unix(&t) + 3600).contains(&expires),
        "default duration 3600 s: {expires} vs {before}"
    );
    let keys =
        Keys::new(c.access_key_id(), c.secret_access_key()).with_token(Some(c.session_token()));
    let s3 = t.s3_as(&keys);
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    assert_eq!(try_put(&s3, "bkt", "k").await, "ok");
    let got = s3.get_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"data");
    // Two sessions get different keys.
    let other = t.assume_role(&alice, None).await;
    assert_ne!(other.ak, keys.ak);
    assert_ne!(other.token, keys.token);
}

#[tokio::test]
async fn s3_duration_bounds() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readonly").await;
    for bad in ["899", "604801", "abc", "", "900.5", "-900"] {
        let r = t
            .send(&alice, Call::sts(&format!("{FORM}&DurationSeconds={bad}")))
            .await;
        sts_error(&r, 400, "InvalidParameterValue");
    }
    for (form, seconds) in [
        (format!("{FORM}&DurationSeconds=900"), 900),
        (format!("{FORM}&DurationSeconds=604800"), 604_800),
        (FORM.to_owned(), 3600),
        (
            format!("{FORM}&DurationSeconds=1000&RoleArn=x&RoleSessionName=y"),
            1000,
        ),
    ] {
        let before = unix(&t);
        let r = t.send(&alice, Call::sts(&form)).await;
        let keys = session_keys(&r);
        let expires = expiration(&r);
        assert!(
            (before + seconds..=unix(&t) + seconds).contains(&expires),
            "{form}: expires {expires}, issued at {before}"
        );
        t.s3_as(&keys).list_buckets().send().await.unwrap();
    }
}

#[tokio::test]
async fn s4_session_policy_intersects_with_the_parent() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    t.object("bkt", "obj", b"x").await;
    t.object("bkt", "secret/x", b"x").await;
    // Broader than the parent (readonly): grants nothing extra.
    let reader = t.user_with("reader", "readonly").await;
    let broad = t
        .assume_role(&reader, Some(&allow(&["s3:*"], &["*"])))
        .await;
    let s3 = t.s3_as(&broad);
    assert_eq!(try_get(&s3, "bkt", "obj").await, "ok");
    assert_eq!(try_put(&s3, "bkt", "new").await, "AccessDenied");
    assert_eq!(
        outcome(s3.create_bucket().bucket("made").send().await),
        "AccessDenied"
    );
    // Narrower than the parent (readwrite): only what both allow.
    let writer = t.user_with("writer", "readwrite").await;
    let narrow = t
        .assume_role(
            &writer,
            Some(&allow(&["s3:GetObject"], &["arn:aws:s3:::bkt/*"])),
        )
        .await;
    let s3 = t.s3_as(&narrow);
    assert_eq!(try_get(&s3, "bkt", "obj").await, "ok");
    assert_eq!(try_put(&s3, "bkt", "new").await, "AccessDenied");
    assert_eq!(outcome(s3.list_buckets().send().await), "AccessDenied");
    // A Deny in the session policy wins over both Allows.
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/secret/*"}
    ]});
    let denied = t.assume_role(&writer, Some(&doc.to_string())).await;
    let s3 = t.s3_as(&denied);
    assert_eq!(try_get(&s3, "bkt", "obj").await, "ok");
    assert_eq!(try_get(&s3, "bkt", "secret/x").await, "AccessDenied");
    assert_eq!(try_put(&s3, "bkt", "secret/y").await, "ok");
    // The parent itself is unaffected by its sessions' policies.
    assert_eq!(try_get(&t.s3_as(&writer), "bkt", "secret/x").await, "ok");
}

#[tokio::test]
async fn s4_a_deny_in_the_parent_wins_over_the_session_policy() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    t.object("bkt", "secret/x", b"x").await;
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/secret/*"}
    ]});
    let alice = t.user_with_doc("alice", &doc.to_string()).await;
    let session = t
        .assume_role(&alice, Some(&allow(&["s3:GetObject"], &["*"])))
        .await;
    assert_eq!(
        try_get(&t.s3_as(&session), "bkt", "secret/x").await,
        "AccessDenied"
    );
}

#[tokio::test]
async fn s4_invalid_session_policies_are_invalid_parameter_value() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readwrite").await;
    let too_big = padded_policy(2049);
    assert_eq!(too_big.len(), 2049);
    let exact = padded_policy(2048);
    for bad in [
        "not json".to_owned(),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Fly","Resource":"*"}]}"#.to_owned(),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#.to_owned(),
        too_big,
    ] {
        let r = t
            .send(&alice, Call::sts(&format!("{FORM}&Policy={}", enc(&bad))))
            .await;
        sts_error(&r, 400, "InvalidParameterValue");
    }
    let r = t
        .send(&alice, Call::sts(&format!("{FORM}&Policy={}", enc(&exact))))
        .await;
    session_keys(&r);
}

#[tokio::test]
async fn s7_parent_policy_changes_reach_live_sessions_at_once() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    t.object("bkt", "obj", b"x").await;
    let alice = t.user_with("alice", "readwrite").await;
    let session = t.assume_role(&alice, None).await;
    let s3 = t.s3_as(&session);
    assert_eq!(try_put(&s3, "bkt", "k").await, "ok");
    t.detach("alice").await;
    assert_eq!(try_get(&s3, "bkt", "obj").await, "AccessDenied");
    assert_eq!(outcome(s3.list_buckets().send().await), "AccessDenied");
    t.attach("readonly", "alice").await;
    assert_eq!(try_get(&s3, "bkt", "obj").await, "ok");
    assert_eq!(try_put(&s3, "bkt", "k2").await, "AccessDenied");
}

#[tokio::test]
async fn s5_only_s3_users_with_a_policy_may_assume_a_role() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readwrite").await;
    let nopolicy = t.add_user("nobody").await;
    let session = t.assume_role(&alice, None).await;
    let sa = t.add_service_account(&alice, None).await;
    let with_token = Keys::new("alice", common::PW).with_token(session.token.as_deref());
    for (who, keys) in [
        ("STS credentials", &session),
        ("service account", &sa),
        ("admin", &Keys::root()),
        ("user without policy", &nopolicy),
        ("user with a session token", &with_token),
    ] {
        // Through the SDK …
        assert_eq!(t.assume_role_refused(keys).await, "AccessDenied", "{who}");
        // … and raw, with the envelope checked.
        sts_error(&t.send(keys, Call::sts(FORM)).await, 403, "AccessDenied");
    }
}

/// Regression: `RoleSessionName` went into the answer's ARN as sent, so control characters
/// made XML no parser accepts. It is accepted and ignored (S1) whatever it holds; what XML 1.0
/// cannot hold is replaced (U+FFFD) where the answer echoes it.
#[tokio::test]
async fn s1_any_role_session_name_is_accepted_and_echoed_as_well_formed_xml() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readwrite").await;
    let form = |name: &str| Call::sts(&format!("{FORM}&RoleSessionName={}", enc(name)));
    for (sent, echoed) in [
        ("\u{0}a\u{1}", "\u{fffd}a\u{fffd}"),
        ("y", "y"),
        ("a<b&c", "a&lt;b&amp;c"),
        ("ci-run_42+a=b,c.d@e", "ci-run_42+a=b,c.d@e"),
    ] {
        let r = t.send(&alice, form(sent)).await;
        session_keys(&r);
        let arn = r.xml("Arn").expect("Arn");
        assert!(
            arn.ends_with(&format!("assumed-role/alice/{echoed}")),
            "{arn}"
        );
        assert!(!r.text().contains('\u{0}'), "{}", r.text());
    }
}

#[tokio::test]
async fn s5_malformed_requests_and_bad_signatures() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readwrite").await;
    for form in ["Action=AssumeRole&Version=2011-06-14", "Action=AssumeRole"] {
        sts_error(
            &t.send(&alice, Call::sts(form)).await,
            400,
            "MissingParameter",
        );
    }
    // A parameter given twice is refused, whichever copy is valid (regression: the first was
    // acted on, so an invalid second copy, or a second Action, went unnoticed).
    for form in [
        "Action=GetCallerIdentity&Version=2011-06-15",
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15",
        "Action=AssumeRole&Version=2011-06-15&DurationSeconds=900&DurationSeconds=abc",
        "Action=AssumeRole&Version=2011-06-15&Action=GetCallerIdentity",
    ] {
        sts_error(
            &t.send(&alice, Call::sts(form)).await,
            400,
            "InvalidParameterValue",
        );
    }
    for keys in [
        Keys::new("alice", "Wrong-secret-9"),
        Keys::new("unknown-key", common::PW),
    ] {
        sts_error(&t.send(&keys, Call::sts(FORM)).await, 403, "AccessDenied");
    }
    // Unsigned: answered as STS, in its envelope (S5).
    let headers = [
        ("host".to_owned(), t.server.addr().to_string()),
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
    ];
    let r = t
        .send_unsigned("POST", "/", &headers, FORM.as_bytes().to_vec())
        .await;
    sts_error(&r, 403, "AccessDenied");
    // Signed for s3, the same form is an S3 request (for which `POST /` is no operation).
    let as_s3 = Call {
        service: "s3",
        ..Call::sts(FORM)
    };
    let r = t.send(&alice, as_s3).await;
    assert!(
        r.status >= 400 && !r.text().contains("<ErrorResponse"),
        "{r:?}"
    );
}

#[tokio::test]
async fn s6_token_missing_foreign_truncated_or_on_other_keys_is_invalid_token_id() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    let alice = t.user_with("alice", "readwrite").await;
    let one = t.assume_role(&alice, None).await;
    let two = t.assume_role(&alice, None).await;
    let sa = t.add_service_account(&alice, None).await;
    let token = one.token.clone().unwrap();
    let cases = [
        ("token missing", one.clone().with_token(None)),
        (
            "another session's token",
            one.clone().with_token(two.token.as_deref()),
        ),
        (
            "truncated token",
            one.clone().with_token(Some(&token[..token.len() - 1])),
        ),
        (
            "token with a user's key",
            alice.clone().with_token(Some(&token)),
        ),
        (
            "token with a service account's key",
            sa.clone().with_token(Some(&token)),
        ),
    ];
    for (what, keys) in &cases {
        let r = t.send(keys, Call::s3("GET", "/bkt")).await;
        assert_eq!(
            (r.status, r.code()),
            (403, "InvalidTokenId".to_owned()),
            "{what}: {}",
            r.text()
        );
        assert_eq!(
            outcome(t.s3_as(keys).list_buckets().send().await),
            "InvalidTokenId",
            "{what} (SDK)"
        );
    }
    // The real pairs still work.
    for keys in [&one, &two] {
        t.s3_as(keys)
            .list_objects_v2()
            .bucket("bkt")
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn s6_expiry_at_minus_5_and_plus_5_seconds() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    let alice = t.user_with("alice", "readwrite").await;
    let r = t
        .send(&alice, Call::sts(&format!("{FORM}&DurationSeconds=900")))
        .await;
    let keys = session_keys(&r);
    let expires = expiration(&r);
    t.server.advance_clock(expires - 5 - unix(&t));
    // Signed at the server's (moved) clock, so only the credential's age matters.
    let r = t.send(&keys, Call::s3("GET", "/bkt")).await;
    assert_eq!(r.status, 200, "5 s before expiry: {}", r.text());
    t.server.advance_clock(10);
    t.send(&keys, Call::s3("GET", "/bkt"))
        .await
        .expect_error(400, "ExpiredToken");
    // Expiry is told only to who proves the secret: key and token alone learn nothing.
    let mut forged = keys.clone();
    forged.sk = "not-the-secret-0123456789012345678901234".to_owned();
    t.send(&forged, Call::s3("GET", "/bkt"))
        .await
        .expect_error(403, "SignatureDoesNotMatch");
    // Expired STS credentials may not assume a role either (S5: AccessDenied, not expiry).
    sts_error(&t.send(&keys, Call::sts(FORM)).await, 403, "AccessDenied");
    sts_error(&t.send(&forged, Call::sts(FORM)).await, 403, "AccessDenied");
    // A fresh session of the same user works at the moved clock.
    let r = t.send(&alice, Call::sts(FORM)).await;
    let fresh = session_keys(&r);
    assert_eq!(t.send(&fresh, Call::s3("GET", "/bkt")).await.status, 200);
}

#[tokio::test]
async fn s6_parent_deleted_is_invalid_access_key_id() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    let alice = t.user_with("alice", "readwrite").await;
    let session = t.assume_role(&alice, None).await;
    let s3 = t.s3_as(&session);
    s3.list_objects_v2().bucket("bkt").send().await.unwrap();
    t.delete_user("alice").await;
    assert_eq!(
        outcome(s3.list_objects_v2().bucket("bkt").send().await),
        "InvalidAccessKeyId"
    );
}

#[tokio::test]
async fn v6_presigned_url_from_sts_credentials_dies_with_them() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    t.object("bkt", "obj", b"hello").await;
    let alice = t.user_with("alice", "readonly").await;
    let bob = t.user_with("bob", "readonly").await;
    let presign = |keys: Keys| {
        let s3 = t.s3_as(&keys);
        async move {
            let config = PresigningConfig::expires_in(Duration::from_secs(7200)).unwrap();
            let req = s3
                .get_object()
                .bucket("bkt")
                .key("obj")
                .presigned(config)
                .await
                .unwrap();
            req.uri().to_owned()
        }
    };
    // Expiry of the credentials, well within the URL's own lifetime.
    let url = presign(t.assume_role(&alice, None).await).await;
    assert!(url.contains("X-Amz-Security-Token="), "{url}");
    let r = t.get_url(&url).await;
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    // Deleting the parent kills it at once.
    let bobs = presign(t.assume_role(&bob, None).await).await;
    assert_eq!(t.get_url(&bobs).await.status, 200);
    t.delete_user("bob").await;
    t.get_url(&bobs)
        .await
        .expect_error(403, "InvalidAccessKeyId");
    t.server.advance_clock(3605);
    t.get_url(&url).await.expect_error(400, "ExpiredToken");
}

// About 25 s in a debug build on 2 cores (every AssumeRole rebuilds the identity snapshot
// and counts the live credentials, so 5000 of them cost O(n²)): too slow for every CI run.
#[tokio::test]
async fn s8_live_sts_credentials_are_limited() {
    // The contract's limit is the default; the test reaches a smaller one in milliseconds.
    assert_eq!(keygate_server::iam::Limits::default().live_sts, 5000);
    const LIMIT: usize = 60;
    let t = TestServer::start_with(|cfg| cfg.limits.live_sts = LIMIT).await;
    let alice = t.user_with("alice", "readonly").await;
    let t = &t;
    let alice = &alice;
    // Concurrent AssumeRoles at the boundary never exceed it.
    let calls = (0..LIMIT + 20).map(|_| async move {
        t.send(alice, Call::sts(&format!("{FORM}&DurationSeconds=900")))
            .await
    });
    let mut issued = 0;
    for r in futures_util::future::join_all(calls).await {
        match r.status {
            200 => issued += 1,
            _ => sts_error(&r, 400, "LimitExceeded"),
        }
    }
    assert_eq!(issued, LIMIT);
    sts_error(&t.send(alice, Call::sts(FORM)).await, 400, "LimitExceeded");
    // Expired ones do not count.
    t.server.advance_clock(901);
    session_keys(&t.send(alice, Call::sts(FORM)).await);
}

/// V1 on STS: query auth works as AWS's signers do it for services other than S3, which sign
/// the body's hash (boto3's `generate_presigned_url("assume_role")`), not `UNSIGNED-PAYLOAD`;
/// and the credentials it gives work.
#[tokio::test]
async fn v1_presigned_assume_role_signs_the_body_hash() {
    use aws_sigv4::http_request::SignableBody;
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    let alice = t.user_with("alice", "readwrite").await;
    let host = vec![("host".to_owned(), t.server.addr().to_string())];
    let sign = |body: SignableBody<'static>| {
        common::sign_request(
            &alice,
            "sts",
            t.server_now(),
            ("POST", &format!("/?{FORM}&DurationSeconds=900")),
            host.clone(),
            body,
            true,
        )
    };
    let (target, headers) = sign(SignableBody::Bytes(b""));
    assert!(target.contains("X-Amz-Signature="), "{target}");
    let r = t.send_unsigned("POST", &target, &headers, Vec::new()).await;
    let keys = session_keys(&r);
    assert_eq!(try_put(&t.s3_as(&keys), "bkt", "k").await, "ok");
    // S3's form does not sign STS requests: their body is part of what is signed.
    let (target, headers) = sign(SignableBody::UnsignedPayload);
    let r = t.send_unsigned("POST", &target, &headers, Vec::new()).await;
    sts_error(&r, 403, "AccessDenied");
}

/// S5 with spec-notes 45: a scope for another region is an authentication failure on STS,
/// 403 `AccessDenied` in the STS envelope (not S3's 400), saying what is wrong.
#[tokio::test]
async fn s5_a_scope_for_another_region_is_access_denied() {
    use aws_sigv4::http_request::SignableBody;
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readwrite").await;
    let host = vec![
        ("host".to_owned(), t.server.addr().to_string()),
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
    ];
    let (target, headers) = common::sign_request(
        &alice,
        "sts",
        t.server_now(),
        ("POST", "/"),
        host,
        SignableBody::Bytes(FORM.as_bytes()),
        false,
    );
    let headers: Vec<(String, String)> = headers
        .into_iter()
        .map(|(k, v)| (k, v.replace("/us-east-1/", "/eu-west-1/")))
        .collect();
    let r = t
        .send_unsigned("POST", &target, &headers, FORM.as_bytes().to_vec())
        .await;
    sts_error(&r, 403, "AccessDenied");
    assert!(r.text().contains("region is wrong"), "{}", r.text());
}

/// STS signs the body whatever the request declares (spec-notes 75): a signature over
/// `UNSIGNED-PAYLOAD` does not cover an AssumeRole body, which could otherwise be swapped
/// in transit (a longer session, no session policy).
#[tokio::test]
async fn s1_an_sts_body_is_always_signed() {
    use aws_sigv4::http_request::SignableBody;
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readwrite").await;
    for presign in [false, true] {
        let headers = vec![
            ("host".to_owned(), t.server.addr().to_string()),
            (
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ),
            (
                "x-amz-content-sha256".to_owned(),
                "UNSIGNED-PAYLOAD".to_owned(),
            ),
        ];
        let (target, headers) = common::sign_request(
            &alice,
            "sts",
            t.server_now(),
            ("POST", "/"),
            headers,
            SignableBody::UnsignedPayload,
            presign,
        );
        let swapped = format!("{FORM}&DurationSeconds=604800");
        let r = t
            .send_unsigned("POST", &target, &headers, swapped.into_bytes())
            .await;
        sts_error(&r, 403, "AccessDenied");
    }
}
