//! Conditional writes and deletes (`If-None-Match: *`, `If-Match`, DeleteObjects' `<ETag>`),
//! checked as the write or delete takes effect, and the storage classes a write may name;
//! through the real `aws-sdk-s3` and signed raw requests, against the server in-process.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use common::{Call, InFlight, Keys, TestServer};

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_owned()
}

/// The error code of an SDK call that must fail.
fn failed<T, E>(r: Result<T, aws_sdk_s3::error::SdkError<E>>) -> String
where
    aws_sdk_s3::error::SdkError<E>: ProvideErrorMetadata,
{
    match r {
        Ok(_) => panic!("the call succeeded"),
        Err(e) => code(&e),
    }
}

/// The HTTP status of a failed call (0 when no response came).
fn status_code<E>(e: &aws_sdk_s3::error::SdkError<E>) -> u16 {
    e.raw_response().map_or(0, |r| r.status().as_u16())
}

/// Regression: `If-None-Match: *` on PutObject was checked only when the head arrived, so
/// concurrent create-only writes (a lock taken by creating an object, as Terraform's S3
/// backend does) all succeeded, the last overwriting the others. It is checked again as the
/// write takes effect, under the key's lock: exactly one succeeds.
#[tokio::test]
async fn if_none_match_creates_exactly_once() {
    let t = TestServer::start().await;
    let root = Keys::root();
    t.bucket("cond").await;
    let create_only = [("if-none-match", "*")];
    // Both past the check made before the body.
    let first = InFlight::start(&t, &root, "/cond/lock", &create_only).await;
    let second = InFlight::start(&t, &root, "/cond/lock", &create_only).await;
    assert_eq!(first.finish().await, 200);
    assert_eq!(second.finish().await, 412);
    // And the plain case, before the body.
    let again = t
        .send(
            &root,
            Call::s3("PUT", "/cond/lock").header("if-none-match", "*"),
        )
        .await;
    again.expect_error(412, "PreconditionFailed");
}

/// `If-Match` on PutObject, CopyObject's destination, CompleteMultipartUpload and
/// DeleteObject (S3's conditional writes and deletes): the write or delete happens only if
/// the key's object has one of the ETags (412 if not, 404 with no object); `If-None-Match: *`
/// on a copy or a completion refuses an existing key; any other `If-None-Match` on a write is
/// 501. A failed completion leaves the upload to be completed or aborted.
#[tokio::test]
async fn conditional_writes_and_deletes() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    t.bucket("cond").await;
    t.object("cond", "k", b"first").await;
    let etag = s3
        .head_object()
        .bucket("cond")
        .key("k")
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap();
    let wrong = "\"0123456789abcdef0123456789abcdef\"";
    let body = |b: &'static [u8]| aws_sdk_s3::primitives::ByteStream::from_static(b);
    let read = |key: &'static str| {
        let s3 = s3.clone();
        async move {
            let got = s3.get_object().bucket("cond").key(key).send().await;
            match got {
                Ok(o) => o.body.collect().await.unwrap().into_bytes().to_vec(),
                Err(e) => format!("{}", status_code(&e)).into_bytes(),
            }
        }
    };

    let put = || s3.put_object().bucket("cond").key("k");
    let e = put().if_match(wrong).body(body(b"x")).send().await;
    assert_eq!(status_code(&e.unwrap_err()), 412);
    let e = s3.put_object().bucket("cond").key("none").if_match(&etag);
    assert_eq!(status_code(&e.send().await.unwrap_err()), 404);
    let e = put().if_none_match(&etag).body(body(b"x")).send().await;
    assert_eq!(failed(e), "NotImplemented");
    assert_eq!(read("k").await, b"first");
    let ok = put()
        .if_match(&etag)
        .body(body(b"second"))
        .send()
        .await
        .unwrap();
    let etag = ok.e_tag.unwrap();
    assert_eq!(read("k").await, b"second");

    let copy = s3.copy_object().bucket("cond").copy_source("cond/k");
    copy.clone()
        .key("copy")
        .if_none_match("*")
        .send()
        .await
        .unwrap();
    let e = copy.clone().key("copy").if_none_match("*").send().await;
    assert_eq!(status_code(&e.unwrap_err()), 412);
    let e = copy.clone().key("copy").if_match(wrong).send().await;
    assert_eq!(status_code(&e.unwrap_err()), 412);

    let id = s3
        .create_multipart_upload()
        .bucket("cond")
        .key("k")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let part = s3
        .upload_part()
        .bucket("cond")
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .body(body(b"third"))
        .send()
        .await
        .unwrap();
    let parts = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(1)
                .e_tag(part.e_tag.unwrap())
                .build(),
        )
        .build();
    let complete = s3
        .complete_multipart_upload()
        .bucket("cond")
        .key("k")
        .upload_id(&id)
        .multipart_upload(parts);
    let e = complete.clone().if_none_match("*").send().await;
    assert_eq!(status_code(&e.unwrap_err()), 412);
    let e = complete.clone().if_match(wrong).send().await;
    assert_eq!(status_code(&e.unwrap_err()), 412);
    assert_eq!(read("k").await, b"second");
    let done = complete.clone().if_match(&etag).send().await.unwrap();
    assert_eq!(read("k").await, b"third");
    // The same completion repeated (its answer lost) answers as it did: its condition held
    // when it took effect, and is not judged again against the object it made.
    for again in [
        complete.clone().if_none_match("*").send().await,
        complete.clone().if_match(wrong).send().await,
    ] {
        assert_eq!(again.unwrap().e_tag(), done.e_tag());
    }
    // Another part list for the gone upload is no repeat: `NoSuchUpload`, whatever the
    // condition would say of the key.
    let other = aws_sdk_s3::types::CompletedPart::builder()
        .part_number(1)
        .e_tag("\"00000000000000000000000000000000\"")
        .build();
    let other = aws_sdk_s3::types::CompletedMultipartUpload::builder().parts(other);
    let other = complete.clone().multipart_upload(other.build());
    for e in [
        other.clone().if_none_match("*").send().await,
        other.clone().if_match(wrong).send().await,
        other.send().await,
    ] {
        assert_eq!(failed(e), "NoSuchUpload");
    }

    let delete = s3.delete_object().bucket("cond").key("copy");
    let e = delete.clone().if_match(wrong).send().await;
    assert_eq!(status_code(&e.unwrap_err()), 412);
    assert_eq!(read("copy").await, b"second");
    let copy_etag = s3.head_object().bucket("cond").key("copy").send().await;
    delete
        .clone()
        .if_match(copy_etag.unwrap().e_tag.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(read("copy").await, b"404");
    let e = delete.if_match(wrong).send().await;
    assert_eq!(status_code(&e.unwrap_err()), 404);
}

/// One storage class is kept. As MinIO, `STANDARD` and `REDUCED_REDUNDANCY` are taken; any
/// other class is 400 `InvalidStorageClass`, not silently stored as standard.
#[tokio::test]
async fn storage_classes_other_than_standard_are_refused() {
    use aws_sdk_s3::types::StorageClass;
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    t.bucket("classes").await;
    for class in [StorageClass::Standard, StorageClass::ReducedRedundancy] {
        let put = s3
            .put_object()
            .bucket("classes")
            .key("k")
            .storage_class(class);
        put.send().await.unwrap();
    }
    let put = s3.put_object().bucket("classes").key("cold");
    let e = put.storage_class(StorageClass::Glacier).send().await;
    assert_eq!(failed(e), "InvalidStorageClass");
    let create = s3.create_multipart_upload().bucket("classes").key("cold");
    let e = create.storage_class(StorageClass::DeepArchive).send().await;
    assert_eq!(status_code(&e.unwrap_err()), 400);
    t.send(
        &Keys::root(),
        Call::s3("PUT", "/classes/cold").header("x-amz-storage-class", "BOGUS"),
    )
    .await
    .expect_error(400, "InvalidStorageClass");
    // A copy's class too, whatever its metadata directive.
    let copy = s3
        .copy_object()
        .bucket("classes")
        .key("cold")
        .copy_source("classes/k");
    let e = copy.storage_class(StorageClass::Glacier).send().await;
    assert_eq!(failed(e), "InvalidStorageClass");
    let listed = s3.list_objects_v2().bucket("classes").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1), "only k");
}

/// DeleteObjects' `<ETag>` makes that key's delete conditional (as `If-Match`): a stale one
/// is a per-key `PreconditionFailed` and the object stays. An `If-Match` (or `<ETag>`) tells
/// whether the object exists, so, as AWS, it also needs `s3:GetObject` on the key.
#[tokio::test]
async fn conditional_deletes_in_delete_objects_and_their_authorisation() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    t.bucket("cdel").await;
    t.object("cdel", "a", b"a").await;
    t.object("cdel", "b", b"b").await;
    let etag_b = s3.head_object().bucket("cdel").key("b").send().await;
    let etag_b = etag_b.unwrap().e_tag.unwrap();
    let object = |key: &str, etag: &str| {
        ObjectIdentifier::builder()
            .key(key)
            .e_tag(etag)
            .build()
            .unwrap()
    };
    let delete = Delete::builder()
        .objects(object("a", "\"0123456789abcdef0123456789abcdef\""))
        .objects(object("b", &etag_b))
        .build()
        .unwrap();
    let out = s3
        .delete_objects()
        .bucket("cdel")
        .delete(delete)
        .send()
        .await
        .unwrap();
    let deleted: Vec<_> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, ["b"]);
    let errors: Vec<_> = out.errors().iter().map(|e| (e.key(), e.code())).collect();
    assert_eq!(errors, [(Some("a"), Some("PreconditionFailed"))]);
    s3.head_object()
        .bucket("cdel")
        .key("a")
        .send()
        .await
        .unwrap();

    // Write and delete, but not read: no condition on an ETag.
    let doc = common::allow(
        &["s3:PutObject", "s3:DeleteObject"],
        &["arn:aws:s3:::cdel/*"],
    );
    let writer = t.s3_as(&t.user_with_doc("writer", &doc).await);
    let e = writer
        .delete_object()
        .bucket("cdel")
        .key("a")
        .if_match("\"x\"");
    assert_eq!(failed(e.send().await), "AccessDenied");
    let e = writer
        .put_object()
        .bucket("cdel")
        .key("a")
        .if_match("\"x\"");
    assert_eq!(failed(e.send().await), "AccessDenied");
    let e = writer
        .put_object()
        .bucket("cdel")
        .key("new")
        .if_none_match("*");
    e.send().await.unwrap();
    s3.head_object()
        .bucket("cdel")
        .key("a")
        .send()
        .await
        .unwrap();
    // Regression: `If-Match: *` asks only whether the object exists, which a delete may ask
    // without `s3:GetObject` (S3's conditional-delete guide); it needed it here.
    let any = writer.delete_object().bucket("cdel").key("a").if_match("*");
    any.clone().send().await.unwrap();
    assert_eq!(status_code(&any.send().await.unwrap_err()), 404);
    let delete = Delete::builder().objects(object("new", "*")).build();
    let out = writer
        .delete_objects()
        .bucket("cdel")
        .delete(delete.unwrap());
    let out = out.send().await.unwrap();
    assert_eq!(out.deleted().len(), 1, "{:?}", out.errors());
    let head = s3.head_object().bucket("cdel").key("new").send().await;
    assert_eq!(status_code(&head.unwrap_err()), 404);
}

/// Regression: a condition header whose value is not ASCII was taken for no header, so the
/// delete or write went ahead unconditionally (and a GET's `If-Match` was not checked). No
/// ETag can match such a value: 412, or 501 for an `If-None-Match` on a write, and the
/// object stays as it was.
#[tokio::test]
async fn a_condition_no_etag_can_meet_fails() {
    let t = TestServer::start().await;
    let root = Keys::root();
    t.bucket("odd").await;
    t.object("odd", "k", b"kept").await;
    let odd = "\"caf\u{e9}\"";
    for (method, name, status) in [
        ("DELETE", "if-match", 412),
        ("PUT", "if-match", 412),
        ("GET", "if-match", 412),
        ("PUT", "if-none-match", 501),
    ] {
        let call = Call::s3(method, "/odd/k").header(name, odd).body("new");
        let got = t.send(&root, call).await;
        assert_eq!(got.status, status, "{method} {name}: {got:?}");
    }
    let got = t.send(&root, Call::s3("GET", "/odd/k")).await;
    assert_eq!(got.body, b"kept");
}

/// Regression: a write asking for server-side encryption or an Object Lock retention was
/// stored as a plain object without a word. Encryption of any kind is 501 (objects are plain
/// files; MinIO answers so without a KMS); a retention or legal hold is 400, as S3 answers it
/// on a bucket without Object Lock. Nothing is stored.
#[tokio::test]
async fn encryption_and_object_lock_requests_are_refused() {
    use aws_sdk_s3::types::{ObjectLockMode, ServerSideEncryption};
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    t.bucket("kept-plain").await;
    let put = || s3.put_object().bucket("kept-plain").key("k");
    for sse in [ServerSideEncryption::Aes256, ServerSideEncryption::AwsKms] {
        let e = put().server_side_encryption(sse).send().await.unwrap_err();
        assert_eq!(code(&e.into_service_error()), "NotImplemented");
    }
    let create = s3.create_multipart_upload().bucket("kept-plain").key("k");
    let e = create
        .sse_customer_algorithm("AES256")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_code(&e), 501);
    let e = put()
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(4_000_000_000))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidRequest");
    let listed = s3
        .list_objects_v2()
        .bucket("kept-plain")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(0));
    put().send().await.unwrap();
    // A copy asking for encryption too.
    let copy = s3.copy_object().bucket("kept-plain").key("copy");
    let copy = copy.copy_source("kept-plain/k");
    let e = copy.server_side_encryption(ServerSideEncryption::Aes256);
    let e = e.send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NotImplemented");

    // Regression: a bucket asked for with Object Lock was created without it.
    let create = || s3.create_bucket().bucket("worm");
    let e = create().object_lock_enabled_for_bucket(true).send().await;
    assert_eq!(status_code(&e.unwrap_err()), 501);
    let head = s3.head_bucket().bucket("worm").send().await;
    assert_eq!(status_code(&head.unwrap_err()), 404);
    create()
        .object_lock_enabled_for_bucket(false)
        .send()
        .await
        .unwrap();
}

/// No object is encrypted, so a read with SSE-C keys has nothing to decrypt: 400
/// `InvalidRequest`, as S3 answers for an object not written with them (it was served
/// plain, as if the keys had been used).
#[tokio::test]
async fn a_read_with_customer_keys_is_refused() {
    let t = TestServer::start().await;
    t.bucket("plain").await;
    t.object("plain", "k", b"plain").await;
    for method in ["GET", "HEAD"] {
        let call = Call::s3(method, "/plain/k")
            .header("x-amz-server-side-encryption-customer-algorithm", "AES256");
        let got = t.send(&Keys::root(), call).await;
        assert_eq!(got.status, 400, "{method} {got:?}");
    }
    let got = t.send(&Keys::root(), Call::s3("GET", "/plain/k")).await;
    assert_eq!(got.body, b"plain");
    // The object is looked up first: a missing one is 404 (the keys were refused first).
    let call = Call::s3("GET", "/plain/missing")
        .header("x-amz-server-side-encryption-customer-algorithm", "AES256");
    t.send(&Keys::root(), call)
        .await
        .expect_error(404, "NoSuchKey");
    // Regression: a copy with SSE-C keys for its source copied the plain object.
    let call = Call::s3("PUT", "/plain/copy")
        .header("x-amz-copy-source", "/plain/k")
        .header(
            "x-amz-copy-source-server-side-encryption-customer-algorithm",
            "AES256",
        );
    t.send(&Keys::root(), call)
        .await
        .expect_error(400, "InvalidRequest");
    let got = t.send(&Keys::root(), Call::s3("GET", "/plain/copy")).await;
    got.expect_error(404, "NoSuchKey");
}
