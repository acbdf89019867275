//! Where S3 answers differently from the plain operation a request resembles: parameters and
//! subresources not served (501, never the plain operation), version ids without versioning,
//! part numbers, unsatisfiable ranges, listing edges, DeleteObjects' integrity check and
//! bucket names; driven by the real `aws-sdk-s3` and by signed raw requests, against the
//! server in-process. The operations themselves are in `s3_sdk.rs`.

mod common;

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, Tag, Tagging};
use common::{content_md5, Call, Keys, TestServer};

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_owned()
}

/// An SDK call that must fail with `NotImplemented`.
macro_rules! assert_not_implemented {
    ($call:expr) => {
        let e = $call.send().await.unwrap_err();
        assert_eq!(code(&e.into_service_error()), "NotImplemented");
    };
}

/// The HTTP status of a failed call (0 when no response came).
fn status_code<E>(e: &aws_sdk_s3::error::SdkError<E>) -> u16 {
    e.raw_response().map_or(0, |r| r.status().as_u16())
}

/// Code and message of a call that must have failed with 400.
#[track_caller]
fn invalid<E: ProvideErrorMetadata>(e: aws_sdk_s3::error::SdkError<E>) -> (String, String) {
    assert_eq!(status_code(&e), 400);
    (code(&e), e.message().unwrap_or("").to_owned())
}

/// Regression (data loss): a query parameter the plain operation does not know fell through
/// to it: `DELETE /b?publicAccessBlock` deleted the bucket, `PUT /b/k?torrent` overwrote the
/// object, `DELETE /b/k?anything` deleted it. Each is 501 `NotImplemented` naming what is not
/// served, after authorisation, and changes nothing.
#[tokio::test]
async fn unserved_subresources_and_unknown_parameters_are_501_and_change_nothing() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("keep").send().await.unwrap();
    t.object("keep", "k", b"original").await;

    let err = s3
        .delete_public_access_block()
        .bucket("keep")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_code(&err), 501);
    let e = err.into_service_error();
    assert_eq!(code(&e), "NotImplemented");
    assert!(e.message().unwrap_or("").contains("`publicAccessBlock`"));
    assert_not_implemented!(s3.get_public_access_block().bucket("keep"));
    assert_not_implemented!(s3
        .delete_bucket_metrics_configuration()
        .bucket("keep")
        .id("m"));
    assert_not_implemented!(s3
        .delete_bucket_analytics_configuration()
        .bucket("keep")
        .id("a"));
    assert_not_implemented!(s3
        .delete_bucket_inventory_configuration()
        .bucket("keep")
        .id("i"));
    assert_not_implemented!(s3
        .delete_bucket_intelligent_tiering_configuration()
        .bucket("keep")
        .id("t"));
    assert_not_implemented!(s3.get_object_torrent().bucket("keep").key("k"));

    let root = Keys::root();
    for (method, target, name) in [
        (
            "DELETE",
            "/keep?metadataTableConfiguration",
            "metadataTableConfiguration",
        ),
        ("DELETE", "/keep?anything=1", "anything"),
        ("PUT", "/keep?foo", "foo"),
        ("PUT", "/keep/k?torrent", "torrent"),
        ("DELETE", "/keep/k?anything", "anything"),
        ("GET", "/keep/k?torrent", "torrent"),
        ("GET", "/keep?publicAccessBlock", "publicAccessBlock"),
    ] {
        let resp = t
            .send(&root, Call::s3(method, target).body("overwritten"))
            .await;
        resp.expect_error(501, "NotImplemented");
        assert!(
            resp.text().contains(&format!("`{name}`")),
            "{}",
            resp.text()
        );
        assert!(resp.headers.contains_key("x-amz-request-id"));
    }
    // Nothing changed.
    s3.head_bucket().bucket("keep").send().await.unwrap();
    let got = s3
        .get_object()
        .bucket("keep")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"original"
    );
    // Reads ignore parameters they do not take, as S3 does (a cache-buster on a URL).
    let resp = t.send(&root, Call::s3("GET", "/keep/k?v=2")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.body, b"original");
    // Authorisation first: a reader may not delete the bucket, whatever the parameter.
    let reader = t.user_with("reader", "readonly").await;
    t.send(&reader, Call::s3("DELETE", "/keep?anything"))
        .await
        .expect_error(403, "AccessDenied");
    // What the SDK sends for the operations served still works (`x-id`, presigned).
    let url = s3
        .get_object()
        .bucket("keep")
        .key("k")
        .response_content_type("text/x-test")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let got = t.get_url(url.uri()).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, b"original");
}

/// Regression (data loss): `versionId` was ignored, so deleting (or reading, or copying) a
/// version deleted (read, copied) the current object. There are no versions: `null` names the
/// current object, any other id is 400 `InvalidArgument`, per key in DeleteObjects.
#[tokio::test]
async fn version_ids_other_than_null_are_refused_and_delete_nothing() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("ver").send().await.unwrap();
    t.object("ver", "k", b"current").await;

    let e = invalid(
        s3.delete_object()
            .bucket("ver")
            .key("k")
            .version_id("abc")
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(
        e,
        (
            "InvalidArgument".into(),
            "Invalid version id specified".into()
        )
    );
    let e = invalid(
        s3.get_object()
            .bucket("ver")
            .key("k")
            .version_id("abc")
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(e.0, "InvalidArgument");
    invalid(
        s3.head_object()
            .bucket("ver")
            .key("k")
            .version_id("abc")
            .send()
            .await
            .unwrap_err(),
    );
    let e = invalid(
        s3.copy_object()
            .bucket("ver")
            .key("copy")
            .copy_source("ver/k?versionId=abc")
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(e.0, "InvalidArgument");
    let e = invalid(
        s3.get_object_tagging()
            .bucket("ver")
            .key("k")
            .version_id("abc")
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(e.0, "InvalidArgument");
    let tagging = Tagging::builder()
        .tag_set(Tag::builder().key("a").value("b").build().unwrap())
        .build()
        .unwrap();
    let e = invalid(
        s3.put_object_tagging()
            .bucket("ver")
            .key("k")
            .version_id("abc")
            .tagging(tagging)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(e.0, "InvalidArgument");
    let e = invalid(
        s3.delete_object_tagging()
            .bucket("ver")
            .key("k")
            .version_id("abc")
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(e.0, "InvalidArgument");
    let out = s3
        .delete_objects()
        .bucket("ver")
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("k")
                        .version_id("abc")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.deleted().is_empty());
    let errors = out.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].key(), errors[0].version_id(), errors[0].code()),
        (Some("k"), Some("abc"), Some("InvalidArgument"))
    );
    s3.head_object()
        .bucket("ver")
        .key("k")
        .send()
        .await
        .unwrap();

    // The object is untouched; `null` names it.
    let got = s3
        .get_object()
        .bucket("ver")
        .key("k")
        .version_id("null")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"current"
    );
    s3.copy_object()
        .bucket("ver")
        .key("copy")
        .copy_source("ver/k?versionId=null")
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket("ver")
        .key("k")
        .version_id("null")
        .send()
        .await
        .unwrap();
    let e = s3
        .head_object()
        .bucket("ver")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_not_found());
}

/// `partNumber` on GetObject and HeadObject, as S3 answers it: 206 with the part's
/// `Content-Range` (the CRT's first request of every download is `partNumber=1`, and it needs
/// the range to learn the object's size). An object not uploaded in parts is one part; an
/// object completed from a multipart upload has its parts, counted in
/// `x-amz-mp-parts-count`. Beyond the last part 416 `InvalidPartNumber`; a part number that
/// is not 1 to 10000 in digits, or one with a `Range`, 400; a missing object 404.
#[tokio::test]
async fn part_numbers_serve_the_parts() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    let root = Keys::root();
    s3.create_bucket().bucket("parts").send().await.unwrap();
    t.object("parts", "k", b"whole object").await;
    t.object("parts", "empty", b"").await;
    for method in ["GET", "HEAD"] {
        let one = t
            .send(&root, Call::s3(method, "/parts/k?partNumber=1"))
            .await;
        assert_eq!(one.status, 206, "{method} {one:?}");
        assert_eq!(one.headers["content-range"], "bytes 0-11/12");
        assert_eq!(one.headers["content-length"], "12");
        assert!(!one.headers.contains_key("x-amz-mp-parts-count"));
        let empty = t
            .send(&root, Call::s3(method, "/parts/empty?partNumber=1"))
            .await;
        assert_eq!(empty.status, 200, "{method} {empty:?}");
        assert!(!empty.headers.contains_key("content-range"));
    }
    let got = s3
        .get_object()
        .bucket("parts")
        .key("k")
        .part_number(1)
        .send()
        .await
        .unwrap();
    assert_eq!(got.parts_count(), None, "one part: no count");
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"whole object"
    );

    // Three parts: 5 MiB of 'a', 5 MiB of 'b', "tail".
    let mib5 = 5 * 1024 * 1024;
    let parts = [vec![b'a'; mib5], vec![b'b'; mib5], b"tail".to_vec()];
    let id = s3
        .create_multipart_upload()
        .bucket("parts")
        .key("mp")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let mut completed = Vec::new();
    for (n, data) in (1..).zip(&parts) {
        let up = s3
            .upload_part()
            .bucket("parts")
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .body(data.clone().into())
            .send()
            .await
            .unwrap();
        completed.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(n)
                .e_tag(up.e_tag().unwrap())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket("parts")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let total = 2 * mib5 + 4;
    let mut start = 0;
    for (n, data) in (1..).zip(&parts) {
        let got = s3
            .get_object()
            .bucket("parts")
            .key("mp")
            .part_number(n)
            .send()
            .await
            .unwrap();
        let end = start + data.len() - 1;
        assert_eq!(got.parts_count(), Some(3), "part {n}");
        let range = format!("bytes {start}-{end}/{total}");
        assert_eq!(got.content_range(), Some(range.as_str()), "part {n}");
        assert_eq!(got.content_length(), Some(data.len() as i64), "part {n}");
        assert!(
            got.body.collect().await.unwrap().into_bytes() == data[..],
            "part {n}"
        );
        let head = s3
            .head_object()
            .bucket("parts")
            .key("mp")
            .part_number(n)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(data.len() as i64), "part {n}");
        assert_eq!(head.parts_count(), Some(3), "part {n}");
        start = end + 1;
    }
    // A copy is written whole: one part again.
    s3.copy_object()
        .bucket("parts")
        .key("copy")
        .copy_source("parts/mp")
        .send()
        .await
        .unwrap();
    let copy = t
        .send(&root, Call::s3("HEAD", "/parts/copy?partNumber=1"))
        .await;
    assert_eq!(copy.status, 206);
    assert_eq!(
        copy.headers["content-range"],
        format!("bytes 0-{}/{total}", total - 1)
    );
    assert!(!copy.headers.contains_key("x-amz-mp-parts-count"));
    t.send(&root, Call::s3("GET", "/parts/copy?partNumber=2"))
        .await
        .expect_error(416, "InvalidPartNumber");

    for (target, status, code) in [
        ("/parts/k?partNumber=2", 416, "InvalidPartNumber"),
        ("/parts/mp?partNumber=4", 416, "InvalidPartNumber"),
        ("/parts/k?partNumber=x", 400, "InvalidArgument"),
        ("/parts/k?partNumber=%2B1", 400, "InvalidArgument"),
        ("/parts/k?partNumber=0", 400, "InvalidArgument"),
        ("/parts/k?partNumber=10001", 400, "InvalidArgument"),
        ("/parts/missing?partNumber=2", 404, "NoSuchKey"),
    ] {
        let got = t.send(&root, Call::s3("GET", target)).await;
        assert_eq!(
            (got.status, got.code()),
            (status, code.to_owned()),
            "{target}"
        );
    }
    let e = s3
        .head_object()
        .bucket("parts")
        .key("k")
        .part_number(3)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_code(&e), 416);
    t.send(
        &root,
        Call::s3("GET", "/parts/k?partNumber=1").header("range", "bytes=0-1"),
    )
    .await
    .expect_error(400, "InvalidRequest");
}

/// Regression: a 416 did not say the object's length (RFC 7233 §4.4: `Content-Range:
/// bytes */<size>`), on GET and HEAD.
#[tokio::test]
async fn unsatisfiable_ranges_name_the_length() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("rng").send().await.unwrap();
    t.object("rng", "k", b"0123456789").await;
    let e = s3
        .get_object()
        .bucket("rng")
        .key("k")
        .range("bytes=20-")
        .send()
        .await
        .unwrap_err();
    let raw = e.raw_response().expect("a response");
    assert_eq!(raw.status().as_u16(), 416);
    assert_eq!(raw.headers().get("content-range"), Some("bytes */10"));
    let e = s3
        .head_object()
        .bucket("rng")
        .key("k")
        .range("bytes=10-")
        .send()
        .await
        .unwrap_err();
    let raw = e.raw_response().expect("a response");
    assert_eq!(raw.status().as_u16(), 416);
    assert_eq!(raw.headers().get("content-range"), Some("bytes */10"));
}

/// Regressions: `max-keys=0` answered `IsTruncated` true with nothing to continue from (S3:
/// false); an empty `continuation-token=` listed from the start, dropping `start-after` (now
/// the 400 a garbage token gets).
#[tokio::test]
async fn listing_edges_max_keys_zero_and_an_empty_token() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("lst").send().await.unwrap();
    t.object("lst", "a", b"1").await;
    t.object("lst", "b", b"2").await;
    let v2 = s3
        .list_objects_v2()
        .bucket("lst")
        .max_keys(0)
        .send()
        .await
        .unwrap();
    assert_eq!((v2.is_truncated(), v2.key_count()), (Some(false), Some(0)));
    assert!(v2.contents().is_empty() && v2.next_continuation_token().is_none());
    let v1 = s3
        .list_objects()
        .bucket("lst")
        .max_keys(0)
        .send()
        .await
        .unwrap();
    assert_eq!(v1.is_truncated(), Some(false));
    assert!(v1.contents().is_empty());

    let root = Keys::root();
    let resp = t
        .send(
            &root,
            Call::s3("GET", "/lst?list-type=2&continuation-token=&start-after=a"),
        )
        .await;
    resp.expect_error(400, "InvalidArgument");
    assert!(
        resp.text().contains("continuation token"),
        "{}",
        resp.text()
    );
    let resp = t
        .send(&root, Call::s3("GET", "/lst?list-type=2&start-after=a"))
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.xml("Key").as_deref(), Some("b"));
}

/// Regressions: DeleteObjects was served without any integrity header (S3 and MinIO want
/// `Content-MD5` or an `x-amz-checksum-*`); its per-key `<Error>` entries wrote control
/// characters of keys as `&#x1;`, which XML 1.0 parsers refuse.
#[tokio::test]
async fn delete_objects_wants_a_checksum_and_writes_errors_xml_1_0_parsers_read() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("del").send().await.unwrap();
    t.object("del", "k", b"x").await;
    let root = Keys::root();
    let body = "<Delete><Object><Key>k</Key></Object></Delete>";
    let resp = t
        .send(&root, Call::s3("POST", "/del?delete").body(body))
        .await;
    resp.expect_error(400, "InvalidRequest");
    assert!(resp.text().contains("Content-MD5"), "{}", resp.text());
    // Headers that name no checksum, and a trailer on a body that has none, are no check.
    for (name, value) in [
        ("x-amz-checksum-mode", "ENABLED"),
        ("x-amz-checksum-type", "FULL_OBJECT"),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ] {
        let resp = t
            .send(
                &root,
                Call::s3("POST", "/del?delete")
                    .body(body)
                    .header(name, value),
            )
            .await;
        resp.expect_error(400, "InvalidRequest");
    }
    s3.head_object()
        .bucket("del")
        .key("k")
        .send()
        .await
        .unwrap();

    let body = "<Delete><Object><Key>a\u{1}b</Key><VersionId>v\u{2}</VersionId></Object>\
                <Object><Key>k</Key><VersionId>null</VersionId></Object></Delete>";
    let resp = t
        .send(
            &root,
            Call::s3("POST", "/del?delete")
                .header("content-md5", &content_md5(body.as_bytes()))
                .body(body),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let text = resp.text();
    assert!(
        text.contains("<Error><Key>a\u{fffd}b</Key><VersionId>v\u{fffd}</VersionId><Code>InvalidArgument</Code>"),
        "{text}"
    );
    assert!(
        text.contains("<Deleted><Key>k</Key><VersionId>null</VersionId></Deleted>"),
        "{text}"
    );
    assert!(!text.chars().any(|c| c < ' ' && c != '\n'), "{text:?}");
    // With a CRC32 header (what the SDK sends) it is served too: the SDK test above.
}

/// Regression: `x.-y` and `x-.y` were accepted as bucket names (S3 and MinIO refuse them).
#[tokio::test]
async fn bucket_names_with_a_dot_next_to_a_hyphen_are_invalid() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    for name in ["x.-y", "x-.y"] {
        let e = s3.create_bucket().bucket(name).send().await.unwrap_err();
        assert_eq!(code(&e.into_service_error()), "InvalidBucketName", "{name}");
    }
}

/// Regression: an empty last part of a multipart object (`?partNumber=N` of it) was answered
/// with the whole object, so a downloader joining the parts wrote it twice.
#[tokio::test]
async fn an_empty_part_is_served_empty() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    t.bucket("empty-part").await;
    let id = s3
        .create_multipart_upload()
        .bucket("empty-part")
        .key("k")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let mut parts = Vec::new();
    for (n, data) in [(1, vec![b'a'; 5 * 1024 * 1024]), (2, Vec::new())] {
        let up = s3
            .upload_part()
            .bucket("empty-part")
            .key("k")
            .upload_id(&id)
            .part_number(n)
            .body(data.into())
            .send()
            .await
            .unwrap();
        let part = aws_sdk_s3::types::CompletedPart::builder().part_number(n);
        parts.push(part.e_tag(up.e_tag.unwrap()).build());
    }
    let upload = aws_sdk_s3::types::CompletedMultipartUpload::builder().set_parts(Some(parts));
    s3.complete_multipart_upload()
        .bucket("empty-part")
        .key("k")
        .upload_id(&id)
        .multipart_upload(upload.build())
        .send()
        .await
        .unwrap();
    let root = Keys::root();
    let got = t
        .send(&root, Call::s3("GET", "/empty-part/k?partNumber=2"))
        .await;
    assert_eq!((got.status, got.body.len()), (200, 0), "{got:?}");
    assert_eq!(got.headers["content-length"], "0");
    assert_eq!(got.headers["x-amz-mp-parts-count"], "2");
    let one = t
        .send(&root, Call::s3("HEAD", "/empty-part/k?partNumber=1"))
        .await;
    assert_eq!(one.status, 206);
    assert_eq!(one.headers["content-length"], (5 * 1024 * 1024).to_string());
}

/// Keys the files behind objects cannot hold (`a//`, `a//b`, a `.` segment) are refused for
/// a write, but a read answers them as missing (404) and a delete as done (204), as S3 answers
/// a key it does not hold; so does a folder marker (`dir/`) never made. Regression: all were
/// 400, so clients probing for a folder marker (`HEAD dir/`: s3fs, Hadoop's S3A) failed hard
/// instead of reading "not found". A key that would escape the bucket stays 400 for every
/// request (X5). Folder markers themselves: `s3_folders.rs`.
#[tokio::test]
async fn keys_no_file_can_hold_read_as_missing() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    t.bucket("keys").await;
    let put = s3.put_object().bucket("keys").key("a//").send().await;
    assert_eq!(invalid(put.unwrap_err()).0, "InvalidArgument");
    for key in ["dir/", "a//", "a//b", "a/./b"] {
        let head = s3.head_object().bucket("keys").key(key).send().await;
        assert_eq!(status_code(&head.unwrap_err()), 404, "HEAD {key}");
        let get = s3.get_object().bucket("keys").key(key).send().await;
        let e = get.unwrap_err().into_service_error();
        assert_eq!(code(&e), "NoSuchKey", "GET {key}");
        let tags = s3.get_object_tagging().bucket("keys").key(key).send().await;
        assert_eq!(code(&tags.unwrap_err()), "NoSuchKey", "tagging {key}");
        s3.delete_object()
            .bucket("keys")
            .key(key)
            .send()
            .await
            .unwrap();
        let copy = s3.copy_object().bucket("keys").key("copy");
        let copy = copy.copy_source(format!("keys/{key}")).send().await;
        assert_eq!(code(&copy.unwrap_err()), "NoSuchKey", "copy of {key}");
    }
    let object = ObjectIdentifier::builder().key("dir/").build().unwrap();
    let delete = Delete::builder().objects(object).build().unwrap();
    let out = s3
        .delete_objects()
        .bucket("keys")
        .delete(delete)
        .send()
        .await;
    let out = out.unwrap();
    assert_eq!((out.deleted().len(), out.errors().len()), (1, 0));
    // Still refused whatever the request: a key out of the bucket, and a missing bucket first.
    let get = Call::s3("GET", "/keys/a/../b");
    t.send(&Keys::root(), get)
        .await
        .expect_error(400, "InvalidArgument");
    let head = s3.get_object().bucket("nobucket").key("dir/").send().await;
    assert_eq!(code(&head.unwrap_err()), "NoSuchBucket");
}

/// ListBuckets' `prefix`, `max-buckets`, `continuation-token` and `bucket-region` (S3 added
/// them in 2024; SDKs expose them). Regression: they were ignored, so a caller filtering by
/// prefix got every bucket.
#[tokio::test]
async fn list_buckets_pages_and_filters() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    for name in ["lb-b1", "lb-a3", "lb-a1", "lb-a2"] {
        t.bucket(name).await;
    }
    let names = |out: &aws_sdk_s3::operation::list_buckets::ListBucketsOutput| {
        let names = out.buckets().iter().filter_map(|b| b.name());
        names.map(str::to_owned).collect::<Vec<_>>()
    };
    let first = s3.list_buckets().prefix("lb-a").max_buckets(2).send().await;
    let first = first.unwrap();
    assert_eq!(names(&first), ["lb-a1", "lb-a2"]);
    assert_eq!(first.prefix(), Some("lb-a"));
    let token = first.continuation_token().expect("a next page").to_owned();
    let second = s3.list_buckets().prefix("lb-a").max_buckets(2);
    let second = second.continuation_token(token).send().await.unwrap();
    assert_eq!(names(&second), ["lb-a3"]);
    assert_eq!(second.continuation_token(), None);
    let all = s3.list_buckets().send().await.unwrap();
    assert_eq!(names(&all), ["lb-a1", "lb-a2", "lb-a3", "lb-b1"]);
    assert_eq!(all.buckets()[0].bucket_region(), Some("us-east-1"));
    let elsewhere = s3.list_buckets().bucket_region("eu-west-1").send().await;
    assert!(names(&elsewhere.unwrap()).is_empty());
    let empty = s3
        .list_buckets()
        .continuation_token("")
        .prefix("lb-b")
        .send()
        .await;
    assert_eq!(
        names(&empty.unwrap()),
        ["lb-b1"],
        "an empty token: the first page"
    );
    for bad in [0, 10_001] {
        let e = s3.list_buckets().max_buckets(bad).send().await.unwrap_err();
        assert_eq!(invalid(e).0, "InvalidArgument", "max-buckets {bad}");
    }
    let e = s3.list_buckets().continuation_token("!!").send().await;
    assert_eq!(invalid(e.unwrap_err()).0, "InvalidArgument");
}
