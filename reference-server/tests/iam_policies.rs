//! Policies (SPEC P1–P6) end to end: the admin API signed by aws-sigv4, S3 calls through
//! aws-sdk-s3 as users holding them. Their evaluation as users see it is in iam_evaluation.rs.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Tag, Tagging};
use common::{allow, outcome, padded_policy, try_get, try_put, TestServer};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// P1: the pre-defined policies.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn p1_predefined_policies_are_listed_shown_and_immutable() {
    let t = TestServer::start().await;
    let listed = t.admin("GET", "policies", "").await.ok();
    let predefined: Vec<(&str, bool)> = listed["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["predefined"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        predefined,
        [("readonly", true), ("writeonly", true), ("readwrite", true)]
    );
    let readonly = [
        "s3:ListAllMyBuckets",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
        "s3:ListMultipartUploadParts",
        "s3:GetBucketLocation",
        "s3:GetBucketPolicy",
        "s3:GetBucketTagging",
        "s3:GetObject",
    ];
    for (name, actions) in [
        ("readonly", &readonly[..]),
        ("writeonly", &["s3:PutObject"][..]),
        ("readwrite", &["s3:*"][..]),
    ] {
        let doc = t.admin("GET", &format!("policies/{name}"), "").await.ok();
        assert_eq!(
            doc,
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": actions, "Resource": ["arn:aws:s3:::*"]}
            ]}),
            "{name}"
        );
        t.admin("PUT", &format!("policies/{name}"), allow(&["s3:*"], &["*"]))
            .await
            .expect_error(400, "InvalidArgument");
        t.admin("DELETE", &format!("policies/{name}"), "")
            .await
            .expect_error(400, "InvalidArgument");
        let again = t.admin("GET", &format!("policies/{name}"), "").await.ok();
        assert_eq!(again, doc, "{name} unchanged");
    }
}

/// Runs one S3 operation as `s3` against bucket `bkt` prepared by [`predefined_fixture`];
/// `tag` makes the names of what it creates or destroys unique per caller.
async fn run_op(s3: &aws_sdk_s3::Client, op: &str, tag: &str) -> String {
    let body = || ByteStream::from_static(b"data");
    match op {
        "ListBuckets" => outcome(s3.list_buckets().send().await),
        "CreateBucket" => outcome(s3.create_bucket().bucket(format!("new-{tag}")).send().await),
        "DeleteBucket" => outcome(
            s3.delete_bucket()
                .bucket(format!("gone-{tag}"))
                .send()
                .await,
        ),
        "HeadBucket" => outcome(s3.head_bucket().bucket("bkt").send().await),
        "GetBucketLocation" => outcome(s3.get_bucket_location().bucket("bkt").send().await),
        "ListObjects" => outcome(s3.list_objects().bucket("bkt").send().await),
        "ListObjectsV2" => outcome(s3.list_objects_v2().bucket("bkt").send().await),
        "ListMultipartUploads" => outcome(s3.list_multipart_uploads().bucket("bkt").send().await),
        "GetBucketPolicy" => outcome(s3.get_bucket_policy().bucket("bkt").send().await),
        "GetBucketTagging" => outcome(s3.get_bucket_tagging().bucket("bkt").send().await),
        "PutBucketTagging" => outcome(
            s3.put_bucket_tagging()
                .bucket("bkt")
                .tagging(
                    Tagging::builder()
                        .tag_set(Tag::builder().key("k").value(tag).build().unwrap())
                        .build()
                        .unwrap(),
                )
                .send()
                .await,
        ),
        "GetObject" => try_get(s3, "bkt", "obj").await,
        "HeadObject" => outcome(s3.head_object().bucket("bkt").key("obj").send().await),
        "PutObject" => outcome(
            s3.put_object()
                .bucket("bkt")
                .key(format!("put-{tag}"))
                .body(body())
                .send()
                .await,
        ),
        "CopyObject" => outcome(
            s3.copy_object()
                .bucket("bkt")
                .key(format!("copy-{tag}"))
                .copy_source("bkt/obj")
                .send()
                .await,
        ),
        "DeleteObject" => outcome(
            s3.delete_object()
                .bucket("bkt")
                .key(format!("victim-{tag}"))
                .send()
                .await,
        ),
        "GetObjectTagging" => outcome(
            s3.get_object_tagging()
                .bucket("bkt")
                .key("obj")
                .send()
                .await,
        ),
        "CreateMultipartUpload" => outcome(
            s3.create_multipart_upload()
                .bucket("bkt")
                .key(format!("mpu-{tag}"))
                .send()
                .await,
        ),
        other => panic!("no such operation {other}"),
    }
}

/// Bucket `bkt` with object `obj` and bucket tags; per caller tag a victim object and a
/// bucket to delete.
async fn predefined_fixture(t: &TestServer, tags: &[&str]) {
    t.bucket("bkt").await;
    t.object("bkt", "obj", b"hello").await;
    t.root_s3()
        .put_bucket_tagging()
        .bucket("bkt")
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("team").value("x").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    for tag in tags {
        t.object("bkt", &format!("victim-{tag}"), b"v").await;
        t.bucket(&format!("gone-{tag}")).await;
    }
}

#[tokio::test]
async fn p1_predefined_policies_behave_as_weka_documents() {
    let t = TestServer::start().await;
    predefined_fixture(&t, &["ro", "wo", "rw"]).await;
    // Expected outcome per operation for readonly, writeonly, readwrite. "ok" and the
    // not-found codes mean the call was authorised.
    let table: &[(&str, [&str; 3])] = &[
        // E6: writeonly may neither list nor locate a bucket, so the filtered list is empty.
        ("ListBuckets", ["ok", "AccessDenied", "ok"]),
        ("CreateBucket", ["AccessDenied", "AccessDenied", "ok"]),
        ("DeleteBucket", ["AccessDenied", "AccessDenied", "ok"]),
        ("HeadBucket", ["ok", "<403>", "ok"]),
        ("GetBucketLocation", ["ok", "AccessDenied", "ok"]),
        ("ListObjects", ["ok", "AccessDenied", "ok"]),
        ("ListObjectsV2", ["ok", "AccessDenied", "ok"]),
        ("ListMultipartUploads", ["ok", "AccessDenied", "ok"]),
        (
            "GetBucketPolicy",
            ["NoSuchBucketPolicy", "AccessDenied", "NoSuchBucketPolicy"],
        ),
        ("GetBucketTagging", ["ok", "AccessDenied", "ok"]),
        ("PutBucketTagging", ["AccessDenied", "AccessDenied", "ok"]),
        ("GetObject", ["ok", "AccessDenied", "ok"]),
        ("HeadObject", ["ok", "<403>", "ok"]),
        ("PutObject", ["AccessDenied", "ok", "ok"]),
        // E5: CopyObject needs s3:GetObject on the source and s3:PutObject on the target.
        ("CopyObject", ["AccessDenied", "AccessDenied", "ok"]),
        ("DeleteObject", ["AccessDenied", "AccessDenied", "ok"]),
        // readonly names no object-tagging action.
        ("GetObjectTagging", ["AccessDenied", "AccessDenied", "ok"]),
        ("CreateMultipartUpload", ["AccessDenied", "ok", "ok"]),
    ];
    let users = [("ro", "readonly"), ("wo", "writeonly"), ("rw", "readwrite")];
    let mut clients = Vec::new();
    for (tag, policy) in users {
        let keys = t.user_with(&format!("user-{tag}"), policy).await;
        clients.push(t.s3_as(&keys));
    }
    let mut failures = Vec::new();
    for (op, expected) in table {
        for (i, (tag, policy)) in users.iter().enumerate() {
            let got = run_op(&clients[i], op, tag).await;
            if got != expected[i] {
                failures.push(format!(
                    "{policy} {op}: expected {}, got {got}",
                    expected[i]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // What was refused left no trace; what was allowed happened.
    let root = t.root_s3();
    for (key, exists) in [
        ("put-ro", false),
        ("put-wo", true),
        ("put-rw", true),
        ("victim-ro", true),
        ("victim-wo", true),
        ("victim-rw", false),
        ("copy-rw", true),
        ("copy-wo", false),
    ] {
        let r = root.head_object().bucket("bkt").key(key).send().await;
        assert_eq!(r.is_ok(), exists, "{key}");
    }
}

#[tokio::test]
async fn p1_readonly_reads_multipart_parts_writeonly_uploads_them() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    let ro = t.s3_as(&t.user_with("reader", "readonly").await);
    let wo = t.s3_as(&t.user_with("writer", "writeonly").await);
    let up = wo
        .create_multipart_upload()
        .bucket("bkt")
        .key("big")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = wo
        .upload_part()
        .bucket("bkt")
        .key("big")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        outcome(
            wo.list_parts()
                .bucket("bkt")
                .key("big")
                .upload_id(id)
                .send()
                .await
        ),
        "AccessDenied"
    );
    let parts = ro
        .list_parts()
        .bucket("bkt")
        .key("big")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().len(), 1);
    // AbortMultipartUpload is its own action: neither policy holds it.
    for s3 in [&ro, &wo] {
        assert_eq!(
            outcome(
                s3.abort_multipart_upload()
                    .bucket("bkt")
                    .key("big")
                    .upload_id(id)
                    .send()
                    .await
            ),
            "AccessDenied"
        );
    }
    let done = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(1)
                .e_tag(part.e_tag().unwrap())
                .build(),
        )
        .build();
    assert_eq!(
        outcome(
            ro.complete_multipart_upload()
                .bucket("bkt")
                .key("big")
                .upload_id(id)
                .multipart_upload(done.clone())
                .send()
                .await
        ),
        "AccessDenied"
    );
    wo.complete_multipart_upload()
        .bucket("bkt")
        .key("big")
        .upload_id(id)
        .multipart_upload(done)
        .send()
        .await
        .unwrap();
    let got = ro
        .get_object()
        .bucket("bkt")
        .key("big")
        .send()
        .await
        .unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"part");
}

// ---------------------------------------------------------------------------------------------
// P2–P6: the admin's policy calls.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn p2_2048_bytes_accepted_2049_refused() {
    let t = TestServer::start().await;
    let ok = padded_policy(2048);
    assert_eq!(ok.len(), 2048);
    t.admin("PUT", "policies/edge", ok.clone()).await.ok();
    assert_eq!(
        t.admin("GET", "policies/edge", "").await.text(),
        ok,
        "stored as submitted"
    );
    let big = padded_policy(2049);
    assert_eq!(big.len(), 2049);
    t.admin("PUT", "policies/over", big)
        .await
        .expect_error(400, "PolicyTooLarge");
    // Also when the document is larger than any admin request body is read.
    t.admin("PUT", "policies/over", padded_policy(70_000))
        .await
        .expect_error(400, "PolicyTooLarge");
    // Anyone else is refused as for any policy, whatever its size.
    let user = t.user_with("notadmin", "readwrite").await;
    t.admin_as(&user, "PUT", "policies/over", padded_policy(70_000))
        .await
        .expect_error(403, "AccessDenied");
    t.admin("GET", "policies/over", "")
        .await
        .expect_error(404, "NoSuchEntity");
}

#[tokio::test]
async fn p3_malformed_documents_name_the_element() {
    let t = TestServer::start().await;
    let stmt = |extra: serde_json::Value| {
        let mut s = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                s.as_object_mut().unwrap().remove(k);
            } else {
                s[k] = v.clone();
            }
        }
        json!({"Version": "2012-10-17", "Statement": [s]}).to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), ""),
        ("[]".into(), ""),
        (
            r#"{"Version":"2008-10-17","Statement":[]}"#.into(),
            "Version",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#.into(),
            "Version",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
            "Statement",
        ),
        (r#"{"Version":"2012-10-17"}"#.into(), "Statement"),
        // A key given twice would be stored reading one way and act the other.
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#.into(),
            "Statement[0].Effect",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[],"Extra":1}"#.into(),
            "Extra",
        ),
        (stmt(json!({"Effect": "allow"})), "Effect"),
        (stmt(json!({"Effect": null})), "Effect"),
        (stmt(json!({"Action": null})), "Action"),
        (stmt(json!({"NotAction": "s3:PutObject"})), "Action"),
        (stmt(json!({"Resource": null})), "Resource"),
        (stmt(json!({"NotResource": "*"})), "Resource"),
        (stmt(json!({"Principal": "*"})), "Principal"),
        (stmt(json!({"Action": "s3:getobject"})), "Action"),
        (stmt(json!({"Action": "s3:Fly"})), "Action"),
        (stmt(json!({"Action": "s3:Fly*"})), "Action"),
        (
            stmt(json!({"Resource": "arn:aws:iam:::user/x"})),
            "Resource",
        ),
        (
            stmt(json!({"Condition": {"StringLooksLike": {"s3:prefix": "a"}}})),
            "Condition",
        ),
        (stmt(json!({"Sid2": "x"})), "Sid2"),
        (stmt(json!({"effect": "Allow"})), "effect"),
    ];
    for (doc, element) in &cases {
        let r = t.admin("PUT", "policies/bad", doc.as_str()).await;
        r.expect_error(400, "MalformedPolicy");
        let message = r.json()["Message"].as_str().unwrap_or_default().to_owned();
        assert!(
            message.contains(element),
            "{doc}: the message {message:?} does not name {element:?}"
        );
    }
    t.admin("GET", "policies/bad", "")
        .await
        .expect_error(404, "NoSuchEntity");
    // A statement given as one object, and a wildcard that matches supported actions, pass.
    let single = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"s3:Get*","NotResource":"arn:aws:s3:::bkt/*"}}"#;
    t.admin("PUT", "policies/good", single).await.ok();
}

#[tokio::test]
async fn p4_attach_replaces_and_detach_without_policy_is_no_such_entity() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    t.object("bkt", "obj", b"x").await;
    let keys = t.user_with("alice", "readonly").await;
    let s3 = t.s3_as(&keys);
    assert_eq!(try_get(&s3, "bkt", "obj").await, "ok");
    let shown = t
        .admin(
            "PUT",
            "users/alice/policy",
            json!({"policy": "writeonly"}).to_string(),
        )
        .await
        .ok();
    assert_eq!(shown["policy"], "writeonly");
    assert_eq!(
        try_get(&s3, "bkt", "obj").await,
        "AccessDenied",
        "readonly was replaced, not added to"
    );
    assert_eq!(try_put(&s3, "bkt", "w").await, "ok");
    let shown = t.admin("DELETE", "users/alice/policy", "").await.ok();
    assert_eq!(shown["policy"], serde_json::Value::Null);
    t.admin("DELETE", "users/alice/policy", "")
        .await
        .expect_error(404, "NoSuchEntity");
    assert_eq!(outcome(s3.list_buckets().send().await), "AccessDenied");
    // Attaching a missing policy, or to a missing user.
    t.admin(
        "PUT",
        "users/alice/policy",
        json!({"policy": "nope"}).to_string(),
    )
    .await
    .expect_error(404, "NoSuchEntity");
    t.admin(
        "PUT",
        "users/nobody/policy",
        json!({"policy": "readonly"}).to_string(),
    )
    .await
    .expect_error(404, "NoSuchEntity");
}

#[tokio::test]
async fn p5_removing_an_attached_policy_is_policy_in_use() {
    let t = TestServer::start().await;
    t.put_policy("custom", &allow(&["s3:ListAllMyBuckets"], &["*"]))
        .await;
    t.user_with("alice", "custom").await;
    t.admin("DELETE", "policies/custom", "")
        .await
        .expect_error(409, "PolicyInUse");
    t.admin("GET", "policies/custom", "").await.ok();
    t.detach("alice").await;
    assert_eq!(t.admin("DELETE", "policies/custom", "").await.status, 204);
    t.admin("GET", "policies/custom", "")
        .await
        .expect_error(404, "NoSuchEntity");
    t.admin("DELETE", "policies/custom", "")
        .await
        .expect_error(404, "NoSuchEntity");
}

#[tokio::test]
async fn p6_readding_replaces_the_document_for_users_sts_and_service_accounts() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    t.object("bkt", "obj", b"x").await;
    let get_only = allow(&["s3:GetObject"], &["arn:aws:s3:::bkt/*"]);
    let put_only = allow(&["s3:PutObject"], &["arn:aws:s3:::bkt/*"]);
    t.put_policy("shared", &get_only).await;
    let alice = t.user_with("alice", "shared").await;
    let sts = t.assume_role(&alice, None).await;
    let sa = t.add_service_account(&alice, None).await;
    let clients = [t.s3_as(&alice), t.s3_as(&sts), t.s3_as(&sa)];
    for s3 in &clients {
        assert_eq!(try_get(s3, "bkt", "obj").await, "ok");
    }
    t.put_policy("shared", &put_only).await;
    assert_eq!(t.admin("GET", "policies/shared", "").await.text(), put_only);
    for (i, s3) in clients.iter().enumerate() {
        assert_eq!(
            try_get(s3, "bkt", "obj").await,
            "AccessDenied",
            "client {i}"
        );
        assert_eq!(
            try_put(s3, "bkt", &format!("k{i}")).await,
            "ok",
            "client {i}"
        );
    }
}

/// S7 for copies: the source's `s3:GetObject` is judged after the request's body arrived,
/// with the policy as it is then. Regression: CopyObject and UploadPartCopy judged it with
/// the policy read before the body, so a copy whose body was still coming when the source
/// was taken away from its user still copied the source.
#[tokio::test]
async fn p6_a_copy_in_flight_is_judged_by_the_policy_after_its_body() {
    let t = TestServer::start().await;
    for bucket in ["src", "dst"] {
        t.bucket(bucket).await;
    }
    t.object("src", "obj", b"the source").await;
    let both = allow(&["s3:PutObject", "s3:GetObject"], &["arn:aws:s3:::*"]);
    let dst_only = allow(&["s3:PutObject"], &["arn:aws:s3:::dst/*"]);
    t.put_policy("copier", &both).await;
    let bob = t.user_with("bob", "copier").await;
    let upload = t
        .s3_as(&bob)
        .create_multipart_upload()
        .bucket("dst")
        .key("part");
    let id = upload.send().await.unwrap().upload_id().unwrap().to_owned();
    let source = [("x-amz-copy-source", "src/obj")];
    let part_copy = format!("/dst/part?partNumber=1&uploadId={id}");
    for target in ["/dst/copy", part_copy.as_str()] {
        t.put_policy("copier", &both).await;
        let copy = common::InFlight::start(&t, &bob, target, &source).await;
        t.put_policy("copier", &dst_only).await;
        assert_eq!(copy.finish().await, 403, "{target}");
    }
}
