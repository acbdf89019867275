//! Policy evaluation end to end through aws-sdk-s3 (SPEC E1, E3, E5, E6, E7, E10).

mod common;

use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use common::{allow, outcome, try_get, try_put, TestServer};
use serde_json::json;

#[tokio::test]
async fn e6_list_buckets_is_filtered_without_list_all_my_buckets() {
    let t = TestServer::start().await;
    for b in ["alpha", "beta", "gamma"] {
        t.bucket(b).await;
    }
    let names = |out: aws_sdk_s3::operation::list_buckets::ListBucketsOutput| -> Vec<String> {
        out.buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_owned))
            .collect()
    };
    let lister = t
        .user_with_doc(
            "lister",
            &allow(&["s3:ListBucket"], &["arn:aws:s3:::alpha"]),
        )
        .await;
    let out = t.s3_as(&lister).list_buckets().send().await.unwrap();
    assert_eq!(names(out), ["alpha"]);
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::alpha"},
        {"Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": "arn:aws:s3:::gamma"}
    ]});
    let locator = t.user_with_doc("locator", &doc.to_string()).await;
    let out = t.s3_as(&locator).list_buckets().send().await.unwrap();
    assert_eq!(names(out), ["alpha", "gamma"]);
    let all = t.user_with("everything", "readonly").await;
    let out = t.s3_as(&all).list_buckets().send().await.unwrap();
    assert_eq!(names(out), ["alpha", "beta", "gamma"]);
    // Nothing visible: 403.
    let none = t
        .user_with_doc(
            "blind",
            &allow(&["s3:GetObject"], &["arn:aws:s3:::alpha/*"]),
        )
        .await;
    assert_eq!(
        outcome(t.s3_as(&none).list_buckets().send().await),
        "AccessDenied"
    );
}

#[tokio::test]
async fn e7_authorisation_before_existence() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    t.bucket("other").await;
    t.object("other", "obj", b"x").await;
    let keys = t
        .user_with_doc("alice", &allow(&["s3:GetObject"], &["arn:aws:s3:::bkt/*"]))
        .await;
    let s3 = t.s3_as(&keys);
    // With s3:GetObject (and without s3:ListBucket) a missing key is NoSuchKey.
    assert_eq!(try_get(&s3, "bkt", "missing").await, "NoSuchKey");
    assert_eq!(
        t.send(&keys, common::Call::s3("HEAD", "/bkt/missing"))
            .await
            .status,
        404
    );
    // Without the permission: 403, whether the key or the bucket exists or not.
    for (bucket, key) in [("other", "obj"), ("other", "missing"), ("nobucket", "k")] {
        assert_eq!(
            outcome(s3.get_object().bucket(bucket).key(key).send().await),
            "AccessDenied",
            "{bucket}/{key}"
        );
    }
    for bucket in ["other", "nobucket"] {
        assert_eq!(
            outcome(s3.list_objects_v2().bucket(bucket).send().await),
            "AccessDenied",
            "{bucket}"
        );
        assert_eq!(try_put(&s3, bucket, "k").await, "AccessDenied", "{bucket}");
    }
    // The root sees what exists.
    assert_eq!(
        outcome(
            t.root_s3()
                .get_object()
                .bucket("nobucket")
                .key("k")
                .send()
                .await
        ),
        "NoSuchBucket"
    );
}

#[tokio::test]
async fn e3_bucket_slash_star_grants_bucket_level_actions_under_reference() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    t.bucket("other").await;
    t.object("bkt", "obj", b"x").await;
    let keys = t
        .user_with_doc(
            "alice",
            &allow(&["s3:ListBucket", "s3:GetObject"], &["arn:aws:s3:::bkt/*"]),
        )
        .await;
    let s3 = t.s3_as(&keys);
    let listed = s3.list_objects_v2().bucket("bkt").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1));
    s3.head_bucket().bucket("bkt").send().await.unwrap();
    assert_eq!(
        outcome(s3.list_objects_v2().bucket("other").send().await),
        "AccessDenied"
    );
    // Only the actions named: GetBucketLocation is not among them.
    assert_eq!(
        outcome(s3.get_bucket_location().bucket("bkt").send().await),
        "AccessDenied"
    );
}

#[tokio::test]
async fn e10_username_home_folder_with_prefix_condition() {
    let t = TestServer::start().await;
    t.bucket("home").await;
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::home",
         "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*", "${aws:username}"]}}},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": "arn:aws:s3:::home/${aws:username}/*"}
    ]});
    t.put_policy("home", &doc.to_string()).await;
    let alice = t.user_with("alice", "home").await;
    let bob = t.user_with("bob", "home").await;
    let put =
        |s3: aws_sdk_s3::Client, key: &'static str| async move { try_put(&s3, "home", key).await };
    let list = |s3: aws_sdk_s3::Client, prefix: Option<&'static str>| async move {
        outcome(
            s3.list_objects_v2()
                .bucket("home")
                .set_prefix(prefix.map(Into::into))
                .send()
                .await,
        )
    };
    let a = t.s3_as(&alice);
    let b = t.s3_as(&bob);
    assert_eq!(put(a.clone(), "alice/notes.txt").await, "ok");
    assert_eq!(put(a.clone(), "bob/notes.txt").await, "AccessDenied");
    assert_eq!(put(b.clone(), "bob/notes.txt").await, "ok");
    assert_eq!(
        put(a.clone(), "alice").await,
        "AccessDenied",
        "the folder, not a prefix"
    );
    assert_eq!(list(a.clone(), Some("alice/")).await, "ok");
    assert_eq!(list(a.clone(), Some("alice")).await, "ok");
    assert_eq!(list(a.clone(), Some("bob/")).await, "AccessDenied");
    assert_eq!(list(a.clone(), Some("")).await, "AccessDenied");
    assert_eq!(
        list(a.clone(), None).await,
        "AccessDenied",
        "absent prefix is a missing key"
    );
    assert_eq!(try_get(&b, "home", "alice/notes.txt").await, "AccessDenied");
    // STS credentials and service accounts resolve ${aws:username} to the parent.
    let sts = t.s3_as(&t.assume_role(&alice, None).await);
    assert_eq!(put(sts.clone(), "alice/from-sts").await, "ok");
    assert_eq!(put(sts, "bob/from-sts").await, "AccessDenied");
    let sa = t.s3_as(&t.add_service_account(&bob, None).await);
    assert_eq!(list(sa.clone(), Some("bob/")).await, "ok");
    assert_eq!(list(sa, Some("alice/")).await, "AccessDenied");
}

#[tokio::test]
async fn e5_delete_objects_reports_denied_keys_per_key() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    for k in ["a", "b", "keep1"] {
        t.object("bkt", k, b"x").await;
    }
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::bkt", "arn:aws:s3:::bkt/*"]},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::bkt/keep*"}
    ]});
    let keys = t.user_with_doc("alice", &doc.to_string()).await;
    let ids = ["a", "keep1", "b"].map(|k| ObjectIdentifier::builder().key(k).build().unwrap());
    let out = t
        .s3_as(&keys)
        .delete_objects()
        .bucket("bkt")
        .delete(
            Delete::builder()
                .set_objects(Some(ids.to_vec()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("DeleteObjects answers 200 with per-key results");
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["a", "b"]);
    let errors: Vec<(&str, &str)> = out
        .errors()
        .iter()
        .map(|e| (e.key().unwrap_or_default(), e.code().unwrap_or_default()))
        .collect();
    assert_eq!(errors, [("keep1", "AccessDenied")]);
    let listed = t
        .root_s3()
        .list_objects_v2()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    let left: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(left, ["keep1"]);
}

#[tokio::test]
async fn e5_copy_object_needs_get_object_on_the_source() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    t.object("bkt", "pub/x", b"public").await;
    t.object("bkt", "priv/x", b"private").await;
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bkt/dst/*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/pub/*"}
    ]});
    let keys = t.user_with_doc("alice", &doc.to_string()).await;
    let s3 = t.s3_as(&keys);
    let copy = |src: &'static str, dst: &'static str| {
        s3.copy_object()
            .bucket("bkt")
            .key(dst)
            .copy_source(src)
            .send()
    };
    assert_eq!(outcome(copy("bkt/pub/x", "dst/a").await), "ok");
    assert_eq!(outcome(copy("bkt/priv/x", "dst/b").await), "AccessDenied");
    assert_eq!(
        outcome(copy("bkt/pub/x", "elsewhere").await),
        "AccessDenied"
    );
    let got = t
        .root_s3()
        .get_object()
        .bucket("bkt")
        .key("dst/a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        &got.body.collect().await.unwrap().into_bytes()[..],
        b"public"
    );
    for key in ["dst/b", "elsewhere"] {
        assert!(t
            .root_s3()
            .head_object()
            .bucket("bkt")
            .key(key)
            .send()
            .await
            .is_err());
    }
}

#[tokio::test]
async fn e1_explicit_deny_wins_over_a_broader_allow() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    t.object("bkt", "open", b"x").await;
    t.object("bkt", "secret/x", b"x").await;
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "s3:Get*", "Resource": "arn:aws:s3:::bkt/secret/*"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    ]});
    let s3 = t.s3_as(&t.user_with_doc("alice", &doc.to_string()).await);
    assert_eq!(try_get(&s3, "bkt", "open").await, "ok");
    assert_eq!(try_get(&s3, "bkt", "secret/x").await, "AccessDenied");
    // Deny of Get* leaves DeleteObject allowed.
    assert_eq!(
        outcome(
            s3.delete_object()
                .bucket("bkt")
                .key("secret/x")
                .send()
                .await
        ),
        "ok"
    );
}
