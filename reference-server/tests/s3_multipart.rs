//! Multipart uploads through the real `aws-sdk-s3` (default configuration, so its default CRC
//! checksums are exercised) against the server in-process: create, upload part, complete,
//! abort, list parts, and ListMultipartUploads' paging.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use common::TestServer;
use md5::{Digest, Md5};

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_owned()
}

#[tokio::test]
async fn multipart_upload_complete_abort_and_listings() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("mpu").send().await.unwrap();
    let created = s3
        .create_multipart_upload()
        .bucket("mpu")
        .key("big/file")
        .content_type("application/x-test")
        .send()
        .await
        .unwrap();
    let id = created.upload_id().unwrap().to_owned();
    let part1 = vec![b'a'; 5 * 1024 * 1024];
    let part2 = b"tail".to_vec();
    let mut completed = Vec::new();
    let mut md5s = Vec::new();
    for (n, data) in [(1, &part1), (2, &part2)] {
        let up = s3
            .upload_part()
            .bucket("mpu")
            .key("big/file")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        md5s.extend_from_slice(&Md5::digest(data));
        completed.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(up.e_tag().unwrap())
                .set_checksum_crc32(up.checksum_crc32().map(str::to_owned))
                .build(),
        );
    }
    let uploads = s3
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .unwrap();
    assert_eq!(uploads.uploads()[0].upload_id(), Some(id.as_str()));
    let parts = s3
        .list_parts()
        .bucket("mpu")
        .key("big/file")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        parts
            .parts()
            .iter()
            .map(|p| p.size().unwrap())
            .collect::<Vec<_>>(),
        [5 * 1024 * 1024, 4]
    );
    // Nothing is visible as an object before completion (X4).
    assert!(s3
        .list_objects_v2()
        .bucket("mpu")
        .send()
        .await
        .unwrap()
        .contents()
        .is_empty());

    let done = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big/file")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let expected_etag = format!("\"{}-2\"", hex::encode(Md5::digest(&md5s)));
    assert_eq!(done.e_tag(), Some(expected_etag.as_str()));
    let got = s3
        .get_object()
        .bucket("mpu")
        .key("big/file")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/x-test"));
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(bytes.len(), part1.len() + part2.len());
    assert!(bytes.ends_with(b"tail"));
    assert!(s3
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .unwrap()
        .uploads()
        .is_empty());

    let aborted = s3
        .create_multipart_upload()
        .bucket("mpu")
        .key("gone")
        .send()
        .await
        .unwrap();
    let aid = aborted.upload_id().unwrap();
    s3.abort_multipart_upload()
        .bucket("mpu")
        .key("gone")
        .upload_id(aid)
        .send()
        .await
        .unwrap();
    let err = s3
        .list_parts()
        .bucket("mpu")
        .key("gone")
        .upload_id(aid)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "NoSuchUpload");
    let err = s3
        .upload_part()
        .bucket("mpu")
        .key("gone")
        .upload_id("../../etc")
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "NoSuchUpload");
}

/// ListMultipartUploads pages through every upload exactly once, one to a page, with the
/// markers the SDK reads (`NextKeyMarker`, `NextUploadIdMarker`), a key's uploads in the order
/// they were started; and a delimiter rolls keys up into one common prefix.
#[tokio::test]
async fn multipart_upload_listing_pages_and_rolls_up() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    s3.create_bucket().bucket("mpl").send().await.unwrap();
    let mut started = Vec::new();
    for key in ["k1", "k1", "k1", "k2", "dir/a", "dir/b"] {
        let up = s3
            .create_multipart_upload()
            .bucket("mpl")
            .key(key)
            .send()
            .await
            .unwrap();
        started.push((key.to_owned(), up.upload_id().unwrap().to_owned()));
    }
    let mut seen = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    for _ in 0..20 {
        let page = s3
            .list_multipart_uploads()
            .bucket("mpl")
            .max_uploads(1)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .unwrap();
        for u in page.uploads() {
            seen.push((
                u.key().unwrap().to_owned(),
                u.upload_id().unwrap().to_owned(),
            ));
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        id_marker = page.next_upload_id_marker().map(str::to_owned);
        assert!(key_marker.is_some(), "a truncated page names the next key");
    }
    let mut expected = started.clone();
    // Key order; within a key, the order they were started in.
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(seen, expected);
    // A page of none is not truncated: no marker would lead past it (regression: it was,
    // and a paginator asked for the same empty page again).
    let none = s3.list_multipart_uploads().bucket("mpl").max_uploads(0);
    let none = none.send().await.unwrap();
    assert_eq!(
        (none.uploads().len(), none.is_truncated()),
        (0, Some(false))
    );
    let (key, id) = &started[0];
    let part = s3
        .upload_part()
        .bucket("mpl")
        .key(key)
        .upload_id(id)
        .part_number(1);
    part.body(ByteStream::from_static(b"p"))
        .send()
        .await
        .unwrap();
    let parts = s3.list_parts().bucket("mpl").key(key).upload_id(id);
    let parts = parts.max_parts(0).send().await.unwrap();
    assert_eq!(parts.is_truncated(), Some(false));

    let rolled = s3
        .list_multipart_uploads()
        .bucket("mpl")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = rolled
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["dir/"]);
    assert_eq!(rolled.uploads().len(), 4);
    // Past the rolled-up prefix, paging goes on with the keys after it.
    let after = s3
        .list_multipart_uploads()
        .bucket("mpl")
        .delimiter("/")
        .key_marker("dir/")
        .send()
        .await
        .unwrap();
    assert!(after.common_prefixes().is_empty());
    let keys: Vec<_> = after.uploads().iter().filter_map(|u| u.key()).collect();
    assert_eq!(keys, ["k1", "k1", "k1", "k2"]);

    // The marker's upload ended between two pages (a cleanup loop aborting what it lists):
    // the next page still starts right after it.
    let page = |key_marker: Option<String>, id_marker: Option<String>| {
        s3.list_multipart_uploads()
            .bucket("mpl")
            .prefix("k1")
            .max_uploads(1)
            .set_key_marker(key_marker)
            .set_upload_id_marker(id_marker)
            .send()
    };
    let first = page(None, None).await.unwrap();
    let (key, id) = (
        first.next_key_marker().unwrap(),
        first.next_upload_id_marker().unwrap(),
    );
    s3.abort_multipart_upload()
        .bucket("mpl")
        .key(key)
        .upload_id(id)
        .send()
        .await
        .unwrap();
    let second = page(Some(key.to_owned()), Some(id.to_owned()))
        .await
        .unwrap();
    let k1: Vec<_> = started.iter().filter(|(k, _)| k == "k1").collect();
    assert_eq!(second.uploads()[0].upload_id(), Some(k1[1].1.as_str()));

    // A delimiter other than `/`: a marker key that ends with it is a key, not a prefix.
    for key in ["ab", "abc"] {
        s3.create_multipart_upload()
            .bucket("mpl")
            .key(key)
            .send()
            .await
            .unwrap();
    }
    let (mut seen, mut markers) = (Vec::new(), (None::<String>, None::<String>));
    loop {
        let p = s3
            .list_multipart_uploads()
            .bucket("mpl")
            .prefix("ab")
            .delimiter("b")
            .max_uploads(1)
            .set_key_marker(markers.0.clone())
            .set_upload_id_marker(markers.1.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            p.uploads()
                .iter()
                .filter_map(|u| u.key().map(str::to_owned)),
        );
        if p.is_truncated() != Some(true) {
            break;
        }
        markers = (
            p.next_key_marker().map(str::to_owned),
            p.next_upload_id_marker().map(str::to_owned),
        );
    }
    assert_eq!(seen, ["ab", "abc"]);
}

/// Starts an upload of `bucket/key` with checksums in `alg`; its id.
async fn start_upload(
    s3: &aws_sdk_s3::Client,
    (bucket, key): (&str, &str),
    alg: ChecksumAlgorithm,
) -> String {
    let created = s3.create_multipart_upload().bucket(bucket).key(key);
    let created = created.checksum_algorithm(alg).send().await.unwrap();
    created.upload_id().unwrap().to_owned()
}

/// S3 takes a CompleteMultipartUpload listing all of 10 000 parts with their checksums
/// (boto3 lists every part's checksum of a `COMPOSITE` upload). Regression: the general 1 MiB
/// limit on XML bodies refused such a list from about 6 300 SHA-256 parts as `EntityTooLarge`,
/// so large uploads could not be completed; here the list is read (its parts were never
/// uploaded: `InvalidPart`), and a list too big for any upload is `MaxMessageLengthExceeded`.
#[tokio::test]
async fn complete_reads_a_list_of_ten_thousand_checksummed_parts() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    t.bucket("mpu").await;
    let id = start_upload(&s3, ("mpu", "big"), ChecksumAlgorithm::Sha256).await;
    let part = |n: u32| {
        format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>\"{:032x}\"</ETag>\
             <ChecksumSHA256>{}</ChecksumSHA256></Part>",
            n,
            "A".repeat(43) + "="
        )
    };
    let list = |parts: std::ops::RangeInclusive<u32>, padding: usize| {
        let parts: String = parts.map(part).collect();
        let spaces = " ".repeat(padding);
        format!("<CompleteMultipartUpload>{parts}{spaces}</CompleteMultipartUpload>")
    };
    let complete = |body: String| {
        let target = format!("/mpu/big?uploadId={id}");
        common::Call::s3("POST", target).body(body)
    };
    let body = list(1..=10_000, 0);
    assert!(body.len() > 1024 * 1024, "{} bytes", body.len());
    let got = t.send(&common::Keys::root(), complete(body)).await;
    got.expect_error(400, "InvalidPart");
    let huge = list(1..=1, 5 * 1024 * 1024);
    let got = t.send(&common::Keys::root(), complete(huge)).await;
    got.expect_error(400, "MaxMessageLengthExceeded");
}

/// UploadPartCopy: parts made of an object's bytes, a range each, as the aws CLI copies an
/// object over 8 MB from one key to another (regression: 501, so `aws s3 cp s3://… s3://…`
/// failed for such objects). Each part's ETag is its bytes' MD5 and its checksum the upload's
/// algorithm over them; the source's conditions and a range outside it are refused.
#[tokio::test]
async fn upload_part_copy_builds_parts_from_ranges() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    t.bucket("mpc").await;
    let data: Vec<u8> = (0..6 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    let put = s3
        .put_object()
        .bucket("mpc")
        .key("src")
        .body(data.clone().into());
    let etag = put.send().await.unwrap().e_tag().unwrap().to_owned();
    let id = start_upload(&s3, ("mpc", "dst"), ChecksumAlgorithm::Crc32).await;
    let copy = |n: i32, range: &str| {
        let copy = s3
            .upload_part_copy()
            .bucket("mpc")
            .key("dst")
            .upload_id(&id);
        copy.part_number(n)
            .copy_source("mpc/src")
            .copy_source_range(range)
    };
    let split = 5 * 1024 * 1024;
    let mut parts = Vec::new();
    for (n, (first, last)) in [(0, split - 1), (split, data.len() - 1)]
        .into_iter()
        .enumerate()
    {
        let n = n as i32 + 1;
        let range = format!("bytes={first}-{last}");
        let out = copy(n, &range)
            .copy_source_if_match(&etag)
            .send()
            .await
            .unwrap();
        let result = out.copy_part_result().unwrap();
        let bytes = &data[first..=last];
        let md5 = format!("\"{}\"", hex::encode(Md5::digest(bytes)));
        assert_eq!(result.e_tag(), Some(md5.as_str()), "part {n}");
        let crc = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            common::crc32(bytes).to_be_bytes(),
        );
        assert_eq!(result.checksum_crc32(), Some(crc.as_str()), "part {n}");
        let part = CompletedPart::builder().part_number(n).e_tag(md5);
        parts.push(part.checksum_crc32(crc).build());
    }
    let past = format!("bytes=0-{}", data.len());
    let e = copy(3, &past).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidArgument");
    let e = copy(3, "bytes=0-9")
        .copy_source_if_match("\"0\"")
        .send()
        .await;
    assert_eq!(
        code(&e.unwrap_err().into_service_error()),
        "PreconditionFailed"
    );
    let upload = CompletedMultipartUpload::builder().set_parts(Some(parts));
    let complete = s3.complete_multipart_upload().bucket("mpc").key("dst");
    let complete = complete.upload_id(&id).multipart_upload(upload.build());
    complete.send().await.unwrap();
    let got = s3
        .get_object()
        .bucket("mpc")
        .key("dst")
        .send()
        .await
        .unwrap();
    let got = got.body.collect().await.unwrap().into_bytes();
    assert!(got.as_ref() == data.as_slice(), "the copy's bytes");
}

/// A completion repeated (a client retrying after it lost the first answer) answers as the
/// first did while the object it made is still the key's, as S3 does. Regression: it was
/// `NoSuchUpload`, so a retry after a dropped answer failed an upload that had succeeded.
/// Once the key holds another object, or for another key, the upload is gone.
#[tokio::test]
async fn a_repeated_completion_answers_as_the_first() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    t.bucket("mpr").await;
    let id = start_upload(&s3, ("mpr", "k"), ChecksumAlgorithm::Crc32).await;
    let part = s3
        .upload_part()
        .bucket("mpr")
        .key("k")
        .upload_id(&id)
        .part_number(1);
    let out = part
        .body(ByteStream::from_static(b"one part"))
        .send()
        .await
        .unwrap();
    let listed = CompletedPart::builder()
        .part_number(1)
        .e_tag(out.e_tag().unwrap())
        .checksum_crc32(out.checksum_crc32().unwrap())
        .build();
    let complete = |key: &str| {
        let upload = CompletedMultipartUpload::builder().parts(listed.clone());
        let complete = s3.complete_multipart_upload().bucket("mpr").key(key);
        complete.upload_id(&id).multipart_upload(upload.build())
    };
    let first = complete("k").send().await.unwrap();
    let again = complete("k").send().await.unwrap();
    assert_eq!(again.e_tag(), first.e_tag());
    assert_eq!(again.checksum_crc32(), first.checksum_crc32());
    // A request that is not that completion (another size claimed) is not answered from it.
    let e = complete("k").mpu_object_size(1).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchUpload");
    // A copy of the object is another object: not this upload's.
    let copy = s3
        .copy_object()
        .bucket("mpr")
        .key("copy")
        .copy_source("mpr/k");
    copy.send().await.unwrap();
    let e = complete("copy").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchUpload");
    let put = s3
        .put_object()
        .bucket("mpr")
        .key("k")
        .body(ByteStream::from_static(b"new"));
    put.send().await.unwrap();
    let e = complete("k").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchUpload");
}
