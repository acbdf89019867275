//! Service accounts (SPEC A1–A7, U5): managed by each S3 user through the admin API with its
//! own keys, used through aws-sdk-s3, revoked with their parent.

mod common;

use common::{allow, outcome, padded_policy, try_get, try_put, Call, Keys, TestServer};
use serde_json::json;

/// The access keys a user's `GET service-accounts` lists, sorted.
async fn listed(t: &TestServer, user: &Keys) -> Vec<String> {
    let body = t.admin_as(user, "GET", "service-accounts", "").await.ok();
    let mut keys: Vec<String> = body["service_accounts"]
        .as_array()
        .expect("service_accounts array")
        .iter()
        .map(|a| a["access_key"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn a1_a2_created_listed_shown_removed_by_the_user_secret_only_at_creation() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readwrite").await;
    let policy = allow(&["s3:GetObject"], &["arn:aws:s3:::bkt/*"]);
    let created = t
        .admin_as(
            &alice,
            "POST",
            "service-accounts",
            json!({"policy": policy}).to_string(),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let ak = created["access_key"].as_str().unwrap().to_owned();
    let sk = created["secret_key"].as_str().unwrap().to_owned();
    assert_eq!((ak.len(), sk.len()), (20, 40));
    assert_eq!(created["parent"], "alice");
    assert!(created.get("session_token").is_none(), "{created}");
    assert!(created.get("expires").is_none(), "A2: no expiry: {created}");
    let plain = t.add_service_account(&alice, None).await;
    let mut expected = vec![ak.clone(), plain.ak.clone()];
    expected.sort();
    assert_eq!(listed(&t, &alice).await, expected);

    // A2: never shown again.
    let list = t.admin_as(&alice, "GET", "service-accounts", "").await;
    let shown = t
        .admin_as(&alice, "GET", &format!("service-accounts/{ak}"), "")
        .await;
    for r in [&list, &shown] {
        assert_eq!(r.status, 200);
        assert!(!r.text().contains(&sk), "secret leaked: {}", r.text());
        assert!(!r.text().contains(&plain.sk), "secret leaked: {}", r.text());
        assert!(!r.text().contains("secret"), "{}", r.text());
    }
    let shown = shown.json();
    assert_eq!(shown["access_key"], ak.as_str());
    assert_eq!(shown["parent"], "alice");
    assert_eq!(shown["policy"], policy.as_str());

    assert_eq!(
        t.admin_as(&alice, "DELETE", &format!("service-accounts/{ak}"), "")
            .await
            .status,
        204
    );
    assert_eq!(listed(&t, &alice).await, [plain.ak.as_str()]);
    assert_eq!(
        outcome(t.s3_as(&Keys::new(&ak, &sk)).list_buckets().send().await),
        "InvalidAccessKeyId",
        "a removed account's key is dead"
    );
}

#[tokio::test]
async fn a1_admin_sts_and_service_accounts_may_not_manage_service_accounts() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readwrite").await;
    let sa = t.add_service_account(&alice, None).await;
    let session = t.assume_role(&alice, None).await;
    for (who, keys) in [
        ("admin", Keys::root()),
        ("STS credentials", session),
        ("service account", sa.clone()),
    ] {
        for (method, path) in [
            ("POST", "service-accounts".to_owned()),
            ("GET", "service-accounts".to_owned()),
            ("GET", format!("service-accounts/{}", sa.ak)),
            ("DELETE", format!("service-accounts/{}", sa.ak)),
        ] {
            let r = t.admin_as(&keys, method, &path, "").await;
            assert_eq!(
                (r.status, r.code()),
                (403, "AccessDenied".to_owned()),
                "{who} {method} {path}: {}",
                r.text()
            );
        }
    }
    assert_eq!(listed(&t, &alice).await, [sa.ak]);
    // A user without a policy manages its own accounts (they inherit nothing usable).
    let bare = t.add_user("bare").await;
    let child = t.add_service_account(&bare, None).await;
    assert_eq!(
        outcome(t.s3_as(&child).list_buckets().send().await),
        "AccessDenied"
    );
}

#[tokio::test]
async fn a3_embedded_policy_intersects_and_none_inherits_live() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    t.object("bkt", "obj", b"x").await;
    let alice = t.user_with("alice", "readwrite").await;
    let inherits = t.s3_as(&t.add_service_account(&alice, None).await);
    let narrowed = t.s3_as(
        &t.add_service_account(
            &alice,
            Some(&allow(&["s3:GetObject"], &["arn:aws:s3:::bkt/*"])),
        )
        .await,
    );
    let broad = t.s3_as(
        &t.add_service_account(&alice, Some(&allow(&["s3:*"], &["*"])))
            .await,
    );
    assert_eq!(try_put(&inherits, "bkt", "a").await, "ok");
    assert_eq!(try_get(&narrowed, "bkt", "obj").await, "ok");
    assert_eq!(try_put(&narrowed, "bkt", "b").await, "AccessDenied");
    assert_eq!(try_put(&broad, "bkt", "c").await, "ok");
    // The parent's policy is read at every request: readonly now bounds them all.
    t.attach("readonly", "alice").await;
    for (name, s3) in [
        ("inherits", &inherits),
        ("narrowed", &narrowed),
        ("broad", &broad),
    ] {
        assert_eq!(try_put(s3, "bkt", "d").await, "AccessDenied", "{name}");
        assert_eq!(try_get(s3, "bkt", "obj").await, "ok", "{name}");
    }
    // No parent policy: nothing.
    t.detach("alice").await;
    for (name, s3) in [
        ("inherits", &inherits),
        ("narrowed", &narrowed),
        ("broad", &broad),
    ] {
        assert_eq!(try_get(s3, "bkt", "obj").await, "AccessDenied", "{name}");
    }
}

#[tokio::test]
async fn a3_embedded_policy_is_validated() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readwrite").await;
    let too_big = padded_policy(2049);
    for (doc, status, code) in [
        ("{}", 400, "MalformedPolicy"),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Fly","Resource":"*"}]}"#,
            400,
            "MalformedPolicy",
        ),
        (too_big.as_str(), 400, "PolicyTooLarge"),
    ] {
        t.admin_as(
            &alice,
            "POST",
            "service-accounts",
            json!({"policy": doc}).to_string(),
        )
        .await
        .expect_error(status, code);
    }
    // The document as a JSON object (MinIO's shape): refused, saying how to send it.
    let object = json!({"policy": {"Version": "2012-10-17", "Statement": []}});
    let got = t.admin_as(&alice, "POST", "service-accounts", object.to_string());
    let got = got.await;
    got.expect_error(400, "InvalidArgument");
    assert!(got.text().contains("as a JSON string"), "{}", got.text());
    assert!(listed(&t, &alice).await.is_empty());
}

#[tokio::test]
async fn a4_at_most_100_per_user_even_with_200_concurrent_creates() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readonly").await;
    let bob = t.user_with("bob", "readonly").await;
    let (t, alice_ref) = (&t, &alice);
    let creates = (0..200)
        .map(|_| async move { t.admin_as(alice_ref, "POST", "service-accounts", "").await });
    let results = futures_util::future::join_all(creates).await;
    let mut created = 0;
    let mut refused = 0;
    for r in &results {
        match r.status {
            201 => created += 1,
            _ => {
                r.expect_error(409, "LimitExceeded");
                refused += 1;
            }
        }
    }
    assert_eq!((created, refused), (100, 100));
    assert_eq!(listed(t, &alice).await.len(), 100);
    t.admin_as(&alice, "POST", "service-accounts", "")
        .await
        .expect_error(409, "LimitExceeded");
    // The limit is per user; removing one makes room for one.
    t.add_service_account(&bob, None).await;
    let one = listed(t, &alice).await.remove(0);
    t.admin_as(&alice, "DELETE", &format!("service-accounts/{one}"), "")
        .await
        .ok();
    t.add_service_account(&alice, None).await;
    t.admin_as(&alice, "POST", "service-accounts", "")
        .await
        .expect_error(409, "LimitExceeded");
}

#[tokio::test]
async fn a5_others_and_missing_accounts_are_no_such_service_account() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readonly").await;
    let bob = t.user_with("bob", "readonly").await;
    let alices = t.add_service_account(&alice, None).await;
    let bobs = t.add_service_account(&bob, None).await;
    assert_eq!(listed(&t, &alice).await, [alices.ak.as_str()]);
    assert_eq!(listed(&t, &bob).await, [bobs.ak.as_str()]);
    for key in [bobs.ak.as_str(), "NOSUCHKEY00000000000", "bob"] {
        for method in ["GET", "DELETE"] {
            t.admin_as(&alice, method, &format!("service-accounts/{key}"), "")
                .await
                .expect_error(404, "NoSuchServiceAccount");
        }
    }
    // Bob's account survived Alice's attempt.
    t.s3_as(&bobs).list_buckets().send().await.unwrap();
    assert_eq!(listed(&t, &bob).await, [bobs.ak]);
}

#[tokio::test]
async fn a6_no_session_token_and_no_assume_role() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    let alice = t.user_with("alice", "readwrite").await;
    let sa = t.add_service_account(&alice, None).await;
    let session = t.assume_role(&alice, None).await;
    let with_token = sa.clone().with_token(session.token.as_deref());
    t.send(&with_token, Call::s3("GET", "/bkt"))
        .await
        .expect_error(403, "InvalidTokenId");
    let bogus = sa.clone().with_token(Some("anything"));
    t.send(&bogus, Call::s3("GET", "/bkt"))
        .await
        .expect_error(403, "InvalidTokenId");
    assert_eq!(t.send(&sa, Call::s3("GET", "/bkt")).await.status, 200);
    assert_eq!(t.assume_role_refused(&sa).await, "AccessDenied");
}

#[tokio::test]
async fn a7_u5_deleting_the_parent_revokes_everything_and_recreating_does_not_revive() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    let alice = t.user_with("alice", "readwrite").await;
    let sa = t.add_service_account(&alice, None).await;
    let session = t.assume_role(&alice, None).await;
    let bob = t.user_with("bob", "readwrite").await;
    let bobs_sa = t.add_service_account(&bob, None).await;
    // Clients with warm connections, as a client holding live credentials would have.
    let clients = [t.s3_as(&alice), t.s3_as(&sa), t.s3_as(&session)];
    for s3 in &clients {
        assert_eq!(try_put(s3, "bkt", "k").await, "ok");
    }
    t.delete_user("alice").await;
    for (i, s3) in clients.iter().enumerate() {
        assert_eq!(
            outcome(s3.list_objects_v2().bucket("bkt").send().await),
            "InvalidAccessKeyId",
            "client {i}"
        );
    }
    t.add_user("alice").await;
    t.attach("readwrite", "alice").await;
    for (i, s3) in clients[1..].iter().enumerate() {
        assert_eq!(
            outcome(s3.list_objects_v2().bucket("bkt").send().await),
            "InvalidAccessKeyId",
            "revived derived key {i}"
        );
    }
    assert!(listed(&t, &alice).await.is_empty());
    assert_eq!(try_put(&clients[0], "bkt", "again").await, "ok");
    // Other users' accounts are untouched.
    assert_eq!(try_put(&t.s3_as(&bobs_sa), "bkt", "bob").await, "ok");
}
