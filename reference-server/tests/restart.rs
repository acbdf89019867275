//! What survives a restart on the same data dir (issue 3's restart test, U5/A7 "also on a
//! server restarted afterwards", sealed secrets): identities, policies, attachments, service
//! accounts, live STS credentials and objects come back; revoked keys stay dead; another
//! root secret cannot open the identity database, and no secret is stored in clear.

mod common;

use std::path::Path;

use common::{allow, config_in, outcome, try_get, try_put, Call, Keys, TestServer, PW, ROOT_SK};
use keygate_server::Server;
use serde_json::json;

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test]
async fn restart_keeps_identities_policies_sessions_and_objects() {
    let t = TestServer::start().await;
    let custom = allow(
        &["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
        &["arn:aws:s3:::bkt", "arn:aws:s3:::bkt/*"],
    );
    t.put_policy("custom", &custom).await;
    let alice = t.user_with("alice", "custom").await;
    let bob = t.add_user_posix("bob", 1001, 1002).await;
    t.attach("readonly", "bob").await;
    t.add_user("idle").await;
    t.bucket("bkt").await;
    t.object("bkt", "dir/obj", b"persisted").await;
    let get_only = allow(&["s3:GetObject"], &["arn:aws:s3:::bkt/*"]);
    let sa = t.add_service_account(&alice, Some(&get_only)).await;
    let r = t
        .send(
            &alice,
            Call::sts("Action=AssumeRole&Version=2011-06-15&DurationSeconds=900"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let session = Keys::new(
        &r.xml("AccessKeyId").unwrap(),
        &r.xml("SecretAccessKey").unwrap(),
    )
    .with_token(r.xml("SessionToken").as_deref());
    // Carol and her keys are deleted before the restart.
    let carol = t.user_with("carol", "readwrite").await;
    let carol_sa = t.add_service_account(&carol, None).await;
    let carol_sts = t.assume_role(&carol, None).await;
    t.delete_user("carol").await;
    let users_before = t.admin("GET", "users", "").await.ok();
    let sas_before = t.admin_as(&alice, "GET", "service-accounts", "").await.ok();

    let t = t.restart().await;

    assert_eq!(t.admin("GET", "users", "").await.ok(), users_before);
    assert_eq!(
        users_before["users"].as_array().unwrap().len(),
        3,
        "{users_before}"
    );
    assert_eq!(t.admin("GET", "policies/custom", "").await.text(), custom);
    assert_eq!(
        t.admin_as(&alice, "GET", "service-accounts", "").await.ok(),
        sas_before
    );
    // Users sign with the same secrets and hold the same policies.
    let a = t.s3_as(&alice);
    assert_eq!(try_get(&a, "bkt", "dir/obj").await, "ok");
    assert_eq!(try_put(&a, "bkt", "after").await, "ok");
    assert_eq!(try_get(&a, "other", "x").await, "AccessDenied");
    let b = t.s3_as(&bob);
    let got = b
        .get_object()
        .bucket("bkt")
        .key("dir/obj")
        .send()
        .await
        .unwrap();
    assert_eq!(
        &got.body.collect().await.unwrap().into_bytes()[..],
        b"persisted"
    );
    assert_eq!(try_put(&b, "bkt", "bob").await, "AccessDenied");
    // The service account keeps its secret and its embedded policy.
    let s = t.s3_as(&sa);
    assert_eq!(try_get(&s, "bkt", "dir/obj").await, "ok");
    assert_eq!(try_put(&s, "bkt", "sa").await, "AccessDenied");
    // The live STS session keeps its secret, token and expiry.
    assert_eq!(t.send(&session, Call::s3("GET", "/bkt")).await.status, 200);
    // Deleted stays deleted.
    for (what, keys) in [
        ("user", &carol),
        ("service account", &carol_sa),
        ("STS", &carol_sts),
    ] {
        assert_eq!(
            outcome(t.s3_as(keys).list_buckets().send().await),
            "InvalidAccessKeyId",
            "carol's {what}"
        );
    }
    // Re-creating carol after the restart revives nothing either.
    t.user_with("carol", "readwrite").await;
    for keys in [&carol_sa, &carol_sts] {
        assert_eq!(
            outcome(t.s3_as(keys).list_buckets().send().await),
            "InvalidAccessKeyId"
        );
    }
    t.server.advance_clock(905);
    t.send(&session, Call::s3("GET", "/bkt"))
        .await
        .expect_error(400, "ExpiredToken");
}

#[tokio::test]
async fn restart_with_a_user_s_name_as_root_access_key_is_refused() {
    let t = TestServer::start().await;
    t.add_user("someone").await;
    let TestServer { server, dir } = t;
    server.shutdown().await;
    let mut cfg = config_in(dir.path(), ROOT_SK);
    cfg.root_access_key = Some("someone".into());
    let err = Server::start(cfg)
        .await
        .expect_err("a user would shadow the admin's key");
    let message = format!("{err:#}");
    assert!(
        message.contains("\"someone\"") && message.contains("existing S3 user"),
        "not a clear error: {message}"
    );
    // With its own key again, the server starts and the user is there.
    let t = TestServer {
        server: Server::start(config_in(dir.path(), ROOT_SK)).await.unwrap(),
        dir,
    };
    t.admin("GET", "users/someone", "").await.ok();
}

#[tokio::test]
async fn restart_with_another_root_secret_is_refused_and_secrets_are_sealed() {
    let t = TestServer::start().await;
    let alice = t.user_with("alice", "readwrite").await;
    let sa = t.add_service_account(&alice, None).await;
    let session = t.assume_role(&alice, None).await;
    let TestServer { server, dir } = t;
    server.shutdown().await;

    // No secret in clear anywhere under the data dir.
    let mut all = Vec::new();
    files(dir.path(), &mut all);
    assert!(
        all.iter().any(|p| p.to_string_lossy().contains("iam.db")),
        "{all:?}"
    );
    for path in &all {
        let bytes = std::fs::read(path).unwrap();
        for secret in [PW, sa.sk.as_str(), session.sk.as_str()] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds a secret in clear",
                path.display()
            );
        }
    }

    let err = Server::start(config_in(dir.path(), "another-root-secret-1"))
        .await
        .expect_err("another root secret cannot unseal the identity database");
    let message = format!("{err:#}");
    assert!(
        message.contains("sealed with another key") && message.contains("root secret"),
        "not a clear error: {message}"
    );

    // The right secret still opens it, with everything intact.
    let server = Server::start(config_in(dir.path(), common::ROOT_SK))
        .await
        .expect("the original root secret opens it");
    let t = TestServer { server, dir };
    assert_eq!(
        t.admin("GET", "users/alice", "").await.ok(),
        json!({"name": "alice", "posix_uid": 0, "posix_gid": 0, "policy": "readwrite"})
    );
    for keys in [&alice, &sa, &session] {
        t.s3_as(keys).list_buckets().send().await.unwrap();
    }
}
