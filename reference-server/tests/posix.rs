//! POSIX ownership of what S3 writes (SPEC X1–X4): after each write through aws-sdk-s3 the
//! files and directories under the data dir are `stat`ed for owner and mode. Only meaningful
//! as root (CI runs as root); elsewhere each test says why it skips.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use common::{is_root, try_put, InFlight, Keys, TestServer};
use serde_json::json;

/// Skips the calling test (with the reason printed) when ownership cannot be checked.
macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("skipped: POSIX ownership needs root to chown (CI runs as root)");
            return;
        }
    };
}

const ALICE: (u32, u32) = (1001, 1002);
const BOB: (u32, u32) = (2001, 2002);

/// `(uid, gid, mode & 0o777)` of `bucket/rel` under the data dir.
fn stat(t: &TestServer, rel: &str) -> (u32, u32, u32) {
    let path: PathBuf = t.server.data_dir().join(rel);
    let m = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.uid(), m.gid(), m.mode() & 0o777)
}

fn file(owner: (u32, u32)) -> (u32, u32, u32) {
    (owner.0, owner.1, 0o644)
}

fn dir(owner: (u32, u32)) -> (u32, u32, u32) {
    (owner.0, owner.1, 0o755)
}

/// Alice (1001:1002) and Bob (2001:2002), both `readwrite`.
async fn alice_and_bob(t: &TestServer) -> (Keys, Keys) {
    let alice = t.add_user_posix("alice", ALICE.0, ALICE.1).await;
    t.attach("readwrite", "alice").await;
    let bob = t.add_user_posix("bob", BOB.0, BOB.1).await;
    t.attach("readwrite", "bob").await;
    (alice, bob)
}

#[tokio::test]
async fn x1_x3_put_object_owns_the_file_and_the_directories_it_creates() {
    require_root!();
    let t = TestServer::start().await;
    let (alice, bob) = alice_and_bob(&t).await;
    let a = t.s3_as(&alice);
    let b = t.s3_as(&bob);
    a.create_bucket().bucket("bkt").send().await.unwrap();
    assert_eq!(stat(&t, "bkt"), dir(ALICE), "a bucket takes its creator's");
    assert_eq!(try_put(&a, "bkt", "d1/d2/f.txt").await, "ok");
    assert_eq!(stat(&t, "bkt/d1/d2/f.txt"), file(ALICE));
    assert_eq!(stat(&t, "bkt/d1"), dir(ALICE));
    assert_eq!(stat(&t, "bkt/d1/d2"), dir(ALICE));
    // Bob writes below Alice's directories: they are left alone, his new one is his.
    assert_eq!(try_put(&b, "bkt", "d1/d2/g.txt").await, "ok");
    assert_eq!(try_put(&b, "bkt", "d1/e/h.txt").await, "ok");
    assert_eq!(stat(&t, "bkt/d1/d2/g.txt"), file(BOB));
    assert_eq!(stat(&t, "bkt/d1/e/h.txt"), file(BOB));
    assert_eq!(stat(&t, "bkt/d1/e"), dir(BOB));
    assert_eq!(stat(&t, "bkt/d1"), dir(ALICE));
    assert_eq!(stat(&t, "bkt/d1/d2"), dir(ALICE));
    assert_eq!(stat(&t, "bkt"), dir(ALICE));
    // An overwrite takes the new writer's.
    assert_eq!(try_put(&b, "bkt", "d1/d2/f.txt").await, "ok");
    assert_eq!(stat(&t, "bkt/d1/d2/f.txt"), file(BOB));
    // The admin writes as 0:0.
    assert_eq!(try_put(&t.root_s3(), "bkt", "d1/root.txt").await, "ok");
    assert_eq!(stat(&t, "bkt/d1/root.txt"), file((0, 0)));
    t.bucket("rootbkt").await;
    assert_eq!(stat(&t, "rootbkt"), dir((0, 0)));
}

#[tokio::test]
async fn x4_multipart_gets_its_owner_at_completion() {
    require_root!();
    let t = TestServer::start().await;
    let (alice, bob) = alice_and_bob(&t).await;
    t.bucket("bkt").await;
    let a = t.s3_as(&alice);
    for (key, completer, owner) in [("mp/one/obj", &alice, ALICE), ("mp/two/obj", &bob, BOB)] {
        let up = a
            .create_multipart_upload()
            .bucket("bkt")
            .key(key)
            .send()
            .await
            .unwrap();
        let id = up.upload_id().unwrap();
        let part = a
            .upload_part()
            .bucket("bkt")
            .key(key)
            .upload_id(id)
            .part_number(1)
            .body(ByteStream::from_static(b"part one"))
            .send()
            .await
            .unwrap();
        // Nothing is visible before completion.
        assert!(!t.server.data_dir().join("bkt").join(key).exists());
        t.s3_as(completer)
            .complete_multipart_upload()
            .bucket("bkt")
            .key(key)
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(
                        CompletedPart::builder()
                            .part_number(1)
                            .e_tag(part.e_tag().unwrap())
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(stat(&t, &format!("bkt/{key}")), file(owner), "{key}");
        let parent = &key[..key.rfind('/').unwrap()];
        assert_eq!(stat(&t, &format!("bkt/{parent}")), dir(owner), "{parent}");
    }
    assert_eq!(stat(&t, "bkt/mp"), dir(ALICE));
}

#[tokio::test]
async fn x3_copy_object_belongs_to_the_copier() {
    require_root!();
    let t = TestServer::start().await;
    let (alice, bob) = alice_and_bob(&t).await;
    t.bucket("bkt").await;
    assert_eq!(try_put(&t.s3_as(&alice), "bkt", "src/obj").await, "ok");
    t.s3_as(&bob)
        .copy_object()
        .bucket("bkt")
        .key("dst/copy")
        .copy_source("bkt/src/obj")
        .send()
        .await
        .unwrap();
    assert_eq!(stat(&t, "bkt/dst/copy"), file(BOB));
    assert_eq!(stat(&t, "bkt/dst"), dir(BOB));
    assert_eq!(
        stat(&t, "bkt/src/obj"),
        file(ALICE),
        "the source is untouched"
    );
}

#[tokio::test]
async fn x2_sts_credentials_and_service_accounts_write_as_their_parent() {
    require_root!();
    let t = TestServer::start().await;
    let (alice, _) = alice_and_bob(&t).await;
    t.bucket("bkt").await;
    let session = t.s3_as(&t.assume_role(&alice, None).await);
    let sa = t.s3_as(&t.add_service_account(&alice, None).await);
    assert_eq!(try_put(&session, "bkt", "sts/obj").await, "ok");
    assert_eq!(try_put(&sa, "bkt", "sa/obj").await, "ok");
    assert_eq!(stat(&t, "bkt/sts/obj"), file(ALICE));
    assert_eq!(stat(&t, "bkt/sts"), dir(ALICE));
    assert_eq!(stat(&t, "bkt/sa/obj"), file(ALICE));
    assert_eq!(stat(&t, "bkt/sa"), dir(ALICE));
    session
        .copy_object()
        .bucket("bkt")
        .key("sts/copy")
        .copy_source("bkt/sa/obj")
        .send()
        .await
        .unwrap();
    assert_eq!(stat(&t, "bkt/sts/copy"), file(ALICE));
    // The parent's ids are read live: a change reaches the derived keys' next writes.
    t.admin(
        "PATCH",
        "users/alice",
        json!({"posix_uid": 3001, "posix_gid": 3002}).to_string(),
    )
    .await
    .ok();
    assert_eq!(try_put(&session, "bkt", "sts/later").await, "ok");
    assert_eq!(try_put(&sa, "bkt", "sa/later").await, "ok");
    assert_eq!(stat(&t, "bkt/sts/later"), file((3001, 3002)));
    assert_eq!(stat(&t, "bkt/sa/later"), file((3001, 3002)));
}

#[tokio::test]
async fn x3_a_uid_change_applies_to_later_writes_only() {
    require_root!();
    let t = TestServer::start().await;
    let (alice, _) = alice_and_bob(&t).await;
    t.bucket("bkt").await;
    let a = t.s3_as(&alice);
    assert_eq!(try_put(&a, "bkt", "dir/before").await, "ok");
    t.admin(
        "PATCH",
        "users/alice",
        json!({"posix_uid": 1500}).to_string(),
    )
    .await
    .ok();
    assert_eq!(try_put(&a, "bkt", "dir/after").await, "ok");
    assert_eq!(try_put(&a, "bkt", "newdir/after").await, "ok");
    assert_eq!(stat(&t, "bkt/dir/before"), file(ALICE));
    assert_eq!(stat(&t, "bkt/dir"), dir(ALICE));
    assert_eq!(stat(&t, "bkt/dir/after"), file((1500, ALICE.1)));
    assert_eq!(stat(&t, "bkt/newdir"), dir((1500, ALICE.1)));
    assert_eq!(stat(&t, "bkt/newdir/after"), file((1500, ALICE.1)));
}

/// Regression: a write in flight when its user changed uid or was deleted took the parent's
/// uid/gid at commit for STS credentials and service accounts: the new ids, or 0:0 with the
/// parent gone. A request keeps the owner it was authenticated with (X2, X3; U5 lets it
/// finish), as a user's own writes already did.
#[tokio::test]
async fn x2_x3_a_write_in_flight_keeps_the_owner_it_was_authenticated_with() {
    require_root!();
    let t = TestServer::start().await;
    let (alice, bob) = alice_and_bob(&t).await;
    t.bucket("bkt").await;
    let sts = t.assume_role(&alice, None).await;
    let sa = t.add_service_account(&bob, None).await;

    let put = InFlight::start(&t, &sts, "/bkt/sts/obj", &[]).await;
    let patch = json!({"posix_uid": 3001, "posix_gid": 3002}).to_string();
    t.admin("PATCH", "users/alice", patch).await.ok();
    assert_eq!(put.finish().await, 200);
    assert_eq!(stat(&t, "bkt/sts/obj"), file(ALICE));
    assert_eq!(stat(&t, "bkt/sts"), dir(ALICE));

    // Bob deleted while his service account and he himself are each writing.
    let by_sa = InFlight::start(&t, &sa, "/bkt/sa/obj", &[]).await;
    let by_bob = InFlight::start(&t, &bob, "/bkt/bob/obj", &[]).await;
    t.delete_user("bob").await;
    assert_eq!(by_sa.finish().await, 200);
    assert_eq!(by_bob.finish().await, 200);
    assert_eq!(stat(&t, "bkt/sa/obj"), file(BOB));
    assert_eq!(stat(&t, "bkt/sa"), dir(BOB));
    assert_eq!(stat(&t, "bkt/bob/obj"), file(BOB));
}

/// X2: anonymous writes (a bucket policy's) take the configured owner (`--anonymous-owner`;
/// 65534:65534 by default, which `scenarios/posix/anonymous-write.toml` checks).
#[tokio::test]
async fn x2_anonymous_writes_take_the_configured_owner() {
    require_root!();
    const ANON: (u32, u32) = (4001, 4002);
    let t = TestServer::start_with(|c| {
        c.anonymous_owner = keygate_server::store::Owner {
            uid: ANON.0,
            gid: ANON.1,
        }
    })
    .await;
    t.bucket("drop").await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",
        "Action":"s3:PutObject","Resource":"arn:aws:s3:::drop/*"}]}"#;
    let put = t
        .root_s3()
        .put_bucket_policy()
        .bucket("drop")
        .policy(policy);
    put.send().await.unwrap();
    let host = vec![("host".to_owned(), t.server.addr().to_string())];
    let got = t
        .send_unsigned("PUT", "/drop/anon/f", &host, b"x".to_vec())
        .await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(stat(&t, "drop/anon/f"), file(ANON));
    assert_eq!(stat(&t, "drop/anon"), dir(ANON));
}
