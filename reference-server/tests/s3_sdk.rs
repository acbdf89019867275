//! Every S3 operation of SPEC's list, driven by the real `aws-sdk-s3` with its default
//! configuration (so its default CRC checksums and aws-chunked trailers are exercised)
//! against the server in-process; multipart uploads are in `s3_multipart.rs`.

mod common;

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, Tag, Tagging};
use common::{content_md5, Call, Keys, TestServer};
use md5::{Digest, Md5};

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_owned()
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

#[tokio::test]
async fn bucket_lifecycle_and_listing() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("alpha").send().await.unwrap();
    s3.create_bucket().bucket("beta").send().await.unwrap();
    let err = s3.create_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "BucketAlreadyOwnedByYou");
    let err = s3
        .create_bucket()
        .bucket("Bad_Name")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidBucketName");
    // A location constraint: this server's region is accepted, another one refused.
    let constraint = |region: &str| {
        aws_sdk_s3::types::CreateBucketConfiguration::builder()
            .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
            .build()
    };
    let err = s3
        .create_bucket()
        .bucket("gamma")
        .create_bucket_configuration(constraint("eu-west-1"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&err.into_service_error()),
        "IllegalLocationConstraintException"
    );
    s3.create_bucket()
        .bucket("gamma")
        .create_bucket_configuration(constraint("us-east-1"))
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket("gamma").send().await.unwrap();

    let names: Vec<_> = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    s3.head_bucket().bucket("alpha").send().await.unwrap();
    let err = s3.head_bucket().bucket("missing").send().await.unwrap_err();
    assert!(err.into_service_error().is_not_found());
    let loc = s3
        .get_bucket_location()
        .bucket("alpha")
        .send()
        .await
        .unwrap();
    assert!(loc
        .location_constraint()
        .is_none_or(|c| c.as_str().is_empty()));

    s3.put_object()
        .bucket("alpha")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let err = s3.delete_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "BucketNotEmpty");
    s3.delete_object()
        .bucket("alpha")
        .key("k")
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket("alpha").send().await.unwrap();
    let err = s3.delete_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "NoSuchBucket");
}

#[tokio::test]
async fn put_get_head_with_metadata_ranges_and_conditions() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let body = b"0123456789abcdefghij".to_vec();
    let put = s3
        .put_object()
        .bucket("bkt")
        .key("dir/sub/obj.txt")
        .content_type("text/plain")
        .metadata("colour", "blue")
        .tagging("a=1&b=two")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let etag = format!("\"{}\"", hex::encode(Md5::digest(&body)));
    assert_eq!(put.e_tag(), Some(etag.as_str()));
    // Objects are real files at <data>/<bucket>/<key> (X1).
    let on_disk = std::fs::read(t.server.data_dir().join("bkt/dir/sub/obj.txt")).unwrap();
    assert_eq!(on_disk, body);

    let got = s3
        .get_object()
        .bucket("bkt")
        .key("dir/sub/obj.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(
        got.metadata().unwrap().get("colour").map(String::as_str),
        Some("blue")
    );
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    assert_eq!(got.tag_count(), Some(2));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        &body[..]
    );

    let ranged = s3
        .get_object()
        .bucket("bkt")
        .key("dir/sub/obj.txt")
        .range("bytes=5-9")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.content_range(), Some("bytes 5-9/20"));
    assert_eq!(
        ranged.body.collect().await.unwrap().into_bytes().as_ref(),
        b"56789"
    );
    let tail = s3
        .get_object()
        .bucket("bkt")
        .key("dir/sub/obj.txt")
        .range("bytes=-3")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tail.body.collect().await.unwrap().into_bytes().as_ref(),
        b"hij"
    );
    let err = s3
        .get_object()
        .bucket("bkt")
        .key("dir/sub/obj.txt")
        .range("bytes=20-")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidRange");

    let head = s3
        .head_object()
        .bucket("bkt")
        .key("dir/sub/obj.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(20));
    let err = s3
        .head_object()
        .bucket("bkt")
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_not_found());
    let err = s3
        .get_object()
        .bucket("bkt")
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "NoSuchKey");
    let err = s3
        .get_object()
        .bucket("bkt")
        .key("dir/sub/obj.txt")
        .if_match("\"other\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "PreconditionFailed");

    // Overwrite is atomic and replaces content and metadata.
    s3.put_object()
        .bucket("bkt")
        .key("dir/sub/obj.txt")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("bkt")
        .key("dir/sub/obj.txt")
        .send()
        .await
        .unwrap();
    assert!(got.metadata().is_none_or(|m| m.is_empty()));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"new"
    );
}

#[tokio::test]
async fn listing_v1_v2_prefix_delimiter_and_pagination() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("list").send().await.unwrap();
    let keys = [
        "a.txt",
        "photos/2024/jan.jpg",
        "photos/2024/feb.jpg",
        "photos/2025/mar.jpg",
        "photos/top.jpg",
        "z+plus sign.txt",
    ];
    for k in keys {
        s3.put_object()
            .bucket("list")
            .key(k)
            .body(ByteStream::from_static(b"1"))
            .send()
            .await
            .unwrap();
    }
    let all = s3.list_objects_v2().bucket("list").send().await.unwrap();
    let mut expected: Vec<_> = keys.to_vec();
    expected.sort();
    let listed: Vec<_> = all.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(listed, expected);

    let dirs = s3
        .list_objects_v2()
        .bucket("list")
        .prefix("photos/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = dirs
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["photos/2024/", "photos/2025/"]);
    let direct: Vec<_> = dirs.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(direct, ["photos/top.jpg"]);

    // Pagination with max-keys 2 visits every key exactly once.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket("list")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        assert!(page.contents().len() <= 2);
        seen.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        if page.is_truncated() != Some(true) {
            break;
        }
        token = page.next_continuation_token().map(str::to_owned);
    }
    assert_eq!(seen, expected);

    let v1 = s3
        .list_objects()
        .bucket("list")
        .prefix("photos/2024")
        .send()
        .await
        .unwrap();
    let v1keys: Vec<_> = v1.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(v1keys, ["photos/2024/feb.jpg", "photos/2024/jan.jpg"]);
    let v1page = s3
        .list_objects()
        .bucket("list")
        .max_keys(1)
        .marker("a.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(v1page.contents()[0].key(), Some("photos/2024/feb.jpg"));
    assert_eq!(v1page.is_truncated(), Some(true));
}

#[tokio::test]
async fn copy_delete_objects_and_tagging() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("src").send().await.unwrap();
    s3.create_bucket().bucket("dst").send().await.unwrap();
    s3.put_object()
        .bucket("src")
        .key("o")
        .metadata("m", "1")
        .body(ByteStream::from_static(b"copy me"))
        .send()
        .await
        .unwrap();
    let copied = s3
        .copy_object()
        .bucket("dst")
        .key("copy")
        .copy_source("src/o")
        .send()
        .await
        .unwrap();
    let etag = format!("\"{}\"", hex::encode(Md5::digest(b"copy me")));
    assert_eq!(
        copied.copy_object_result().and_then(|r| r.e_tag()),
        Some(etag.as_str())
    );
    let got = s3
        .get_object()
        .bucket("dst")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.metadata().unwrap().get("m").map(String::as_str),
        Some("1")
    );
    let replaced = s3
        .copy_object()
        .bucket("dst")
        .key("copy")
        .copy_source("dst/copy")
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .metadata("m", "2")
        .send()
        .await;
    replaced.unwrap();
    let got = s3
        .head_object()
        .bucket("dst")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.metadata().unwrap().get("m").map(String::as_str),
        Some("2")
    );
    let err = s3
        .copy_object()
        .bucket("dst")
        .key("copy")
        .copy_source("dst/copy")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidRequest");

    // The source's conditions: each failing one is 412 and copies nothing; passing ones copy.
    let source_etag = etag.clone();
    let copy = || {
        s3.copy_object()
            .bucket("dst")
            .key("guarded")
            .copy_source("src/o")
    };
    let hour = Duration::from_secs(3600);
    let later = aws_sdk_s3::primitives::DateTime::from(std::time::SystemTime::now() + hour);
    let earlier = aws_sdk_s3::primitives::DateTime::from(std::time::SystemTime::now() - hour);
    for (what, refused) in [
        (
            "if-match, other ETag",
            copy().copy_source_if_match("\"0000\""),
        ),
        (
            "if-none-match, its ETag",
            copy().copy_source_if_none_match(&source_etag),
        ),
        (
            "if-modified-since, later",
            copy().copy_source_if_modified_since(later),
        ),
        (
            "if-unmodified-since, earlier",
            copy().copy_source_if_unmodified_since(earlier),
        ),
    ] {
        let err = refused.send().await.unwrap_err();
        assert_eq!(
            code(&err.into_service_error()),
            "PreconditionFailed",
            "{what}"
        );
    }
    let err = s3
        .head_object()
        .bucket("dst")
        .key("guarded")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    copy()
        .copy_source_if_match(&source_etag)
        .copy_source_if_none_match("\"0000\"")
        .copy_source_if_unmodified_since(later)
        .send()
        .await
        .unwrap();

    let tagging = Tagging::builder()
        .tag_set(Tag::builder().key("k").value("v").build().unwrap())
        .build()
        .unwrap();
    s3.put_object_tagging()
        .bucket("dst")
        .key("copy")
        .tagging(tagging.clone())
        .send()
        .await
        .unwrap();
    let tags = s3
        .get_object_tagging()
        .bucket("dst")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_set()[0].key(), "k");
    s3.delete_object_tagging()
        .bucket("dst")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert!(s3
        .get_object_tagging()
        .bucket("dst")
        .key("copy")
        .send()
        .await
        .unwrap()
        .tag_set()
        .is_empty());

    s3.put_bucket_tagging()
        .bucket("dst")
        .tagging(tagging)
        .send()
        .await
        .unwrap();
    assert_eq!(
        s3.get_bucket_tagging()
            .bucket("dst")
            .send()
            .await
            .unwrap()
            .tag_set()[0]
            .value(),
        "v"
    );
    s3.delete_bucket_tagging()
        .bucket("dst")
        .send()
        .await
        .unwrap();
    let err = s3
        .get_bucket_tagging()
        .bucket("dst")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "NoSuchTagSet");

    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::dst/*"}]}"#;
    s3.put_bucket_policy()
        .bucket("dst")
        .policy(policy)
        .send()
        .await
        .unwrap();
    assert_eq!(
        s3.get_bucket_policy()
            .bucket("dst")
            .send()
            .await
            .unwrap()
            .policy(),
        Some(policy)
    );
    s3.delete_bucket_policy()
        .bucket("dst")
        .send()
        .await
        .unwrap();
    let err = s3
        .get_bucket_policy()
        .bucket("dst")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "NoSuchBucketPolicy");

    for k in ["x/1", "x/2", "y"] {
        s3.put_object()
            .bucket("dst")
            .key(k)
            .body(ByteStream::from_static(b"-"))
            .send()
            .await
            .unwrap();
    }
    let ids: Vec<_> = ["x/1", "x/2", "y", "never-existed"]
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
        .collect();
    let deleted = s3
        .delete_objects()
        .bucket("dst")
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.deleted().len(), 4);
    assert!(deleted.errors().is_empty());
    let left: Vec<_> = s3
        .list_objects_v2()
        .bucket("dst")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert_eq!(left, ["copy", "guarded"]);
    // Directories emptied by deletes are removed from the filesystem.
    assert!(!t.server.data_dir().join("dst/x").exists());
}

#[tokio::test]
async fn presigned_get_and_put() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("pre").send().await.unwrap();
    let cfg = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let put = s3
        .put_object()
        .bucket("pre")
        .key("p")
        .presigned(cfg.clone())
        .await
        .unwrap();
    let http = reqwest_like::Client::new();
    let status = http
        .send(
            put.method(),
            put.uri(),
            put.headers(),
            b"presigned body".to_vec(),
        )
        .await;
    assert_eq!(status.0, 200, "{}", status.1);
    let get = s3
        .get_object()
        .bucket("pre")
        .key("p")
        .presigned(cfg)
        .await
        .unwrap();
    let (status, body) = http
        .send(get.method(), get.uri(), get.headers(), Vec::new())
        .await;
    assert_eq!((status, body.as_str()), (200, "presigned body"));
    // Tampering with the presigned URL breaks the signature.
    let tampered = get.uri().replace("/pre/p?", "/pre/q?");
    let (status, body) = http.send("GET", &tampered, get.headers(), Vec::new()).await;
    assert_eq!(status, 403);
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
}

#[tokio::test]
async fn large_streamed_body_uses_aws_chunked_with_crc_trailer() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("large").send().await.unwrap();
    let path = t.dir.path().join("upload.bin");
    let mut data = vec![0u8; 64 * 1024 * 1024 + 17];
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    std::fs::write(&path, &data).unwrap();
    let body = ByteStream::from_path(&path).await.unwrap();
    let put = s3
        .put_object()
        .bucket("large")
        .key("blob")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.e_tag().map(|e| e.trim_matches('"').to_owned()),
        Some(hex::encode(Md5::digest(&data)))
    );
    assert!(
        put.checksum_crc32().is_some(),
        "the SDK's default CRC32 checksum is verified and echoed"
    );
    let got = s3
        .get_object()
        .bucket("large")
        .key("blob")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(bytes.len(), data.len());
    assert!(bytes.as_ref() == data.as_slice());
}

/// A minimal HTTP/1.1 client over a TCP socket for presigned URLs (no extra dependency).
mod reqwest_like {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    pub struct Client;

    impl Client {
        pub fn new() -> Self {
            Client
        }

        pub async fn send<'a>(
            &self,
            method: &str,
            uri: &str,
            headers: impl Iterator<Item = (&'a str, &'a str)>,
            body: Vec<u8>,
        ) -> (u16, String) {
            let rest = uri.strip_prefix("http://").unwrap();
            let (host, path) = rest.split_at(rest.find('/').unwrap());
            let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
            let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
            for (k, v) in headers {
                if !k.eq_ignore_ascii_case("host") && !k.eq_ignore_ascii_case("content-length") {
                    req.push_str(&format!("{k}: {v}\r\n"));
                }
            }
            req.push_str("\r\n");
            stream.write_all(req.as_bytes()).await.unwrap();
            stream.write_all(&body).await.unwrap();
            let mut resp = Vec::new();
            stream.read_to_end(&mut resp).await.unwrap();
            let text = String::from_utf8_lossy(&resp).into_owned();
            let status = text[9..12].parse().unwrap();
            let body = text
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.to_owned())
                .unwrap_or_default();
            (status, body)
        }
    }
}

/// An anonymous write that a bucket policy allows, through the SDK with its default checksum
/// (a CRC32 header), stores exactly the bytes sent. (The SDK cannot send a streamed body
/// unsigned: aws-runtime 1.10 panics looking for a chunk signer; the raw aws-chunked forms are
/// in `sigv4_negative`.)
#[tokio::test]
async fn anonymous_writes_store_the_bytes_sent() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("drop").send().await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::drop/*"}]}"#;
    s3.put_bucket_policy()
        .bucket("drop")
        .policy(policy)
        .send()
        .await
        .unwrap();
    let anonymous = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .endpoint_url(t.endpoint())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .allow_no_auth()
            .force_path_style(true)
            .build(),
    );
    let body: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    anonymous
        .put_object()
        .bucket("drop")
        .key("k")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("drop")
        .key("k")
        .send()
        .await
        .unwrap();
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert!(
        bytes.as_ref() == body.as_slice(),
        "stored {} bytes",
        bytes.len()
    );
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
    let err = s3
        .get_public_access_block()
        .bucket("keep")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "NotImplemented");
    let e = s3
        .delete_bucket_metrics_configuration()
        .bucket("keep")
        .id("m")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NotImplemented");
    let e = s3
        .delete_bucket_analytics_configuration()
        .bucket("keep")
        .id("a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NotImplemented");
    let e = s3
        .delete_bucket_inventory_configuration()
        .bucket("keep")
        .id("i")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NotImplemented");
    let e = s3
        .delete_bucket_intelligent_tiering_configuration()
        .bucket("keep")
        .id("t")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NotImplemented");
    let e = s3
        .get_object_torrent()
        .bucket("keep")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NotImplemented");

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

/// Parts are not kept apart once an upload completes, so every object is one part, as S3
/// counts an object not uploaded in parts: part 1 is the whole object (the AWS transfer
/// managers and the CRT start every download with `partNumber=1`), a higher part is 416
/// `InvalidPartNumber`, a part number that is no number 400.
#[tokio::test]
async fn every_object_is_one_part() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("parts").send().await.unwrap();
    t.object("parts", "k", b"whole object").await;
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
    s3.head_object()
        .bucket("parts")
        .key("k")
        .part_number(1)
        .send()
        .await
        .unwrap();
    let e = s3
        .get_object()
        .bucket("parts")
        .key("k")
        .part_number(2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(416));
    assert_eq!(code(&e.into_service_error()), "InvalidPartNumber");
    let e = s3
        .head_object()
        .bucket("parts")
        .key("k")
        .part_number(3)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(416));
    t.send(&Keys::root(), Call::s3("GET", "/parts/k?partNumber=x"))
        .await
        .expect_error(400, "InvalidArgument");
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
