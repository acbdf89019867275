//! Checksums of multipart uploads (S3 "Checking object integrity"): the algorithm and type
//! CreateMultipartUpload names, each part's checksum, and the object's, `FULL_OBJECT` (over
//! the whole object) or `COMPOSITE` (over the parts' digests, `-<parts>`), through the real
//! `aws-sdk-s3` against the server in-process; and the checksum a copy computes. Expected
//! values are computed here, with a CRC written out below and the `sha2` crate, not with the
//! server's code.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{crc32, outcome as failed, Call, Keys, TestServer};
use sha2::{Digest, Sha256};

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The two parts every upload here is made of: the first at S3's minimum part size.
fn parts() -> [Vec<u8>; 2] {
    let first: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    [first, b"the last part".to_vec()]
}

/// Uploads [`parts`] to `cks/key` with `alg`, checks that each part's answered checksum is
/// `expected(part)`, and returns the parts as Complete lists them, with those checksums.
async fn upload_parts(
    s3: &aws_sdk_s3::Client,
    (key, id): (&str, &str),
    alg: ChecksumAlgorithm,
    expected: impl Fn(&[u8]) -> String,
) -> Vec<CompletedPart> {
    let mut completed = Vec::new();
    for (i, data) in parts().iter().enumerate() {
        let n = i as i32 + 1;
        let out = s3
            .upload_part()
            .bucket("cks")
            .key(key)
            .upload_id(id)
            .part_number(n)
            .checksum_algorithm(alg.clone())
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        let checksum = expected(data);
        let answered = out.checksum_crc32().or(out.checksum_sha256());
        assert_eq!(answered, Some(checksum.as_str()), "part {n}");
        let part = CompletedPart::builder()
            .part_number(n)
            .e_tag(out.e_tag().unwrap());
        completed.push(match alg {
            ChecksumAlgorithm::Sha256 => part.checksum_sha256(checksum),
            _ => part.checksum_crc32(checksum),
        });
    }
    completed.into_iter().map(|p| p.build()).collect()
}

/// Starts an upload of `cks/key` with SHA-256 checksums (`COMPOSITE`, S3's default type for
/// a SHA) and returns its id.
async fn sha256_upload(s3: &aws_sdk_s3::Client, key: &str) -> String {
    let create = s3.create_multipart_upload().bucket("cks").key(key);
    let created = create
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .unwrap();
    assert_eq!(created.checksum_type(), Some(&ChecksumType::Composite));
    created.upload_id().unwrap().to_owned()
}

/// A `FULL_OBJECT` CRC32 upload: the object's checksum is the CRC of its bytes; Complete's
/// `x-amz-checksum-crc32` is that checksum, not the request body's (regression: a correct
/// one was refused as `BadDigest` against the XML), and a wrong one is `BadDigest` with the
/// upload left to be completed.
#[tokio::test]
async fn a_full_object_checksum_is_the_whole_objects() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    t.bucket("cks").await;
    let create = s3.create_multipart_upload().bucket("cks").key("full");
    let create = create.checksum_algorithm(ChecksumAlgorithm::Crc32);
    let created = create
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.checksum_algorithm(),
        Some(&ChecksumAlgorithm::Crc32)
    );
    assert_eq!(created.checksum_type(), Some(&ChecksumType::FullObject));
    let id = created.upload_id().unwrap();
    let crc = |data: &[u8]| b64(&crc32(data).to_be_bytes());
    let completed = upload_parts(&s3, ("full", id), ChecksumAlgorithm::Crc32, crc).await;
    let whole = parts().concat();
    let expected = b64(&crc32(&whole).to_be_bytes());
    let complete = s3
        .complete_multipart_upload()
        .bucket("cks")
        .key("full")
        .upload_id(id)
        .checksum_type(ChecksumType::FullObject)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        );
    let wrong = b64(&crc32(b"something else").to_be_bytes());
    let e = complete.clone().checksum_crc32(wrong).send().await;
    assert_eq!(failed(e), "BadDigest");
    // A whole-object checksum has no part count.
    let e = complete.clone().checksum_crc32(format!("{expected}-2"));
    assert_eq!(failed(e.send().await), "BadDigest");
    let size = parts().iter().map(Vec::len).sum::<usize>() as i64;
    let e = complete.clone().mpu_object_size(size + 1).send().await;
    assert_eq!(failed(e), "InvalidRequest");
    let complete = complete.mpu_object_size(size);
    let done = complete.checksum_crc32(&expected).send().await.unwrap();
    assert_eq!(done.checksum_crc32(), Some(expected.as_str()));
    assert_eq!(done.checksum_type(), Some(&ChecksumType::FullObject));
    let head = s3.head_object().bucket("cks").key("full");
    let head = head.checksum_mode(ChecksumMode::Enabled).send().await;
    let head = head.unwrap();
    assert_eq!(head.checksum_crc32(), Some(expected.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::FullObject));
    // The same bytes copied keep a whole-object checksum.
    let copy = s3
        .copy_object()
        .bucket("cks")
        .key("copy")
        .copy_source("cks/full");
    let copied = copy.send().await.unwrap();
    let result = copied.copy_object_result().unwrap();
    assert_eq!(result.checksum_crc32(), Some(expected.as_str()));
    let head = s3.head_object().bucket("cks").key("copy");
    let head = head.checksum_mode(ChecksumMode::Enabled).send().await;
    assert_eq!(head.unwrap().checksum_crc32(), Some(expected.as_str()));
}

/// A `COMPOSITE` SHA-256 upload: each part keeps its checksum (ListParts shows it), a part
/// listed in Complete with another checksum than it was stored with is `InvalidPart`, one
/// listed without a checksum or with another algorithm's is `InvalidRequest` (as S3), and the
/// object's checksum is SHA-256 over the parts' digests, `-2`, which Complete's
/// `x-amz-checksum-sha256` may name with its suffix; a `?partNumber` read answers the part's
/// own checksum. A part stored before the server kept
/// checksums (its record without one) is checked against its data.
#[tokio::test]
async fn a_composite_checksum_is_over_the_parts_checksums() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    t.bucket("cks").await;
    let id = &sha256_upload(&s3, "comp").await;
    let sha = |data: &[u8]| b64(&Sha256::digest(data));
    let completed = upload_parts(&s3, ("comp", id), ChecksumAlgorithm::Sha256, sha).await;
    let digests: Vec<u8> = parts().iter().flat_map(Sha256::digest).collect();
    let listed = s3.list_parts().bucket("cks").key("comp").upload_id(id);
    let listed = listed.send().await.unwrap();
    assert_eq!(
        listed.checksum_algorithm(),
        Some(&ChecksumAlgorithm::Sha256)
    );
    let listed: Vec<_> = listed.parts().iter().map(|p| p.checksum_sha256()).collect();
    let sent: Vec<_> = completed.iter().map(|p| p.checksum_sha256()).collect();
    assert_eq!(listed, sent);

    let complete = |parts: Vec<CompletedPart>| {
        s3.complete_multipart_upload()
            .bucket("cks")
            .key("comp")
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
    };
    let uploads = s3.list_multipart_uploads().bucket("cks").send().await;
    let uploads = uploads.unwrap();
    let listed: Vec<_> = uploads
        .uploads()
        .iter()
        .map(|u| u.checksum_algorithm())
        .collect();
    assert_eq!(listed, [Some(&ChecksumAlgorithm::Sha256)]);
    let mut tampered = completed.clone();
    tampered[1] = CompletedPart::builder()
        .part_number(2)
        .e_tag(completed[1].e_tag().unwrap())
        .checksum_sha256(b64(&Sha256::digest(b"not the part")))
        .build();
    assert_eq!(failed(complete(tampered).send().await), "InvalidPart");
    // Asking for another type than the upload's is `BadDigest` (S3's documentation).
    let e = complete(completed.clone()).checksum_type(ChecksumType::FullObject);
    assert_eq!(failed(e.send().await), "BadDigest");
    let bare = |p: &CompletedPart| {
        let part = CompletedPart::builder().part_number(p.part_number().unwrap());
        part.e_tag(p.e_tag().unwrap())
    };
    let unlisted: Vec<_> = completed.iter().map(|p| bare(p).build()).collect();
    assert_eq!(failed(complete(unlisted).send().await), "InvalidRequest");
    let crc: Vec<_> = completed
        .iter()
        .map(|p| bare(p).checksum_crc32("AAAAAA==").build())
        .collect();
    assert_eq!(failed(complete(crc).send().await), "InvalidRequest");

    // Part 1's record as a server before part checksums wrote it.
    let record = t
        .server
        .data_dir()
        .join(format!(".keygate/multipart/{id}/part-00001.json"));
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    assert!(json.as_object_mut().unwrap().remove("checksum").is_some());
    std::fs::write(&record, json.to_string()).unwrap();
    let expected = format!("{}-2", b64(&Sha256::digest(&digests)));
    let wrong_count = expected.replace("-2", "-3");
    let e = complete(completed.clone()).checksum_sha256(wrong_count);
    assert_eq!(failed(e.send().await), "BadDigest");
    let done = complete(completed).checksum_sha256(&expected).send().await;
    let done = done.unwrap();
    assert_eq!(done.checksum_sha256(), Some(expected.as_str()));
    let head = s3.head_object().bucket("cks").key("comp");
    let head = head.checksum_mode(ChecksumMode::Enabled).send().await;
    let head = head.unwrap();
    assert_eq!(head.checksum_sha256(), Some(expected.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::Composite));
    // A part read answers the part's own checksum (the SDK checks the body against it).
    for (n, data) in parts().iter().enumerate() {
        let get = s3.get_object().bucket("cks").key("comp");
        let get = get
            .part_number(n as i32 + 1)
            .checksum_mode(ChecksumMode::Enabled);
        let got = get.send().await.unwrap();
        assert_eq!(got.checksum_sha256(), Some(sha(data).as_str()), "part {n}");
        let body = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(body.as_ref(), data.as_slice());
    }
}

/// A copy's checksum (S3's CopyObject `x-amz-checksum-algorithm`): computed over the bytes
/// in the algorithm asked for, else the source's; a source's composite checksum becomes its
/// algorithm's whole-object checksum (regression: a copy asked for a checksum got none, and a
/// composite source's copy lost its checksum); an unknown algorithm is `InvalidRequest`.
#[tokio::test]
async fn a_copy_gets_the_checksum_it_asks_for() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    t.bucket("cks").await;
    let data = b"bytes copied with a checksum".to_vec();
    // Written without any checksum (the SDK would send its default CRC32).
    let put = Call::s3("PUT", "/cks/plain").body(data.clone());
    t.send(&Keys::root(), put).await.ok();
    let copy = |from: &str, to: &str| {
        let copy = s3.copy_object().bucket("cks").key(to);
        copy.copy_source(format!("cks/{from}"))
    };
    let sha = b64(&Sha256::digest(&data));
    let asked = copy("plain", "sha").checksum_algorithm(ChecksumAlgorithm::Sha256);
    let out = asked.send().await.unwrap();
    let result = out.copy_object_result().unwrap();
    assert_eq!(result.checksum_sha256(), Some(sha.as_str()));
    assert_eq!(result.checksum_type(), Some(&ChecksumType::FullObject));
    let crc = b64(&crc32(&data).to_be_bytes());
    let other = copy("sha", "crc").checksum_algorithm(ChecksumAlgorithm::Crc32);
    let out = other.send().await.unwrap();
    let result = out.copy_object_result().unwrap();
    assert_eq!(
        (result.checksum_crc32(), result.checksum_sha256()),
        (Some(crc.as_str()), None)
    );
    let head = s3.head_object().bucket("cks").key("crc");
    let head = head.checksum_mode(ChecksumMode::Enabled).send().await;
    let head = head.unwrap();
    assert_eq!(head.checksum_crc32(), Some(crc.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::FullObject));
    let unknown = copy("plain", "x").checksum_algorithm(ChecksumAlgorithm::from("MD5"));
    assert_eq!(failed(unknown.send().await), "InvalidRequest");

    let id = &sha256_upload(&s3, "comp").await;
    let part_sha = |part: &[u8]| b64(&Sha256::digest(part));
    let completed = upload_parts(&s3, ("comp", id), ChecksumAlgorithm::Sha256, part_sha).await;
    let upload = CompletedMultipartUpload::builder().set_parts(Some(completed));
    let complete = s3.complete_multipart_upload().bucket("cks").key("comp");
    let complete = complete.upload_id(id).multipart_upload(upload.build());
    complete.send().await.unwrap();
    let out = copy("comp", "whole").send().await.unwrap();
    let result = out.copy_object_result().unwrap();
    let whole = b64(&Sha256::digest(parts().concat()));
    assert_eq!(result.checksum_sha256(), Some(whole.as_str()));
    assert_eq!(result.checksum_type(), Some(&ChecksumType::FullObject));
}

/// What S3 refuses of multipart checksums: a type without an algorithm, `FULL_OBJECT` with a
/// SHA, `COMPOSITE` with CRC-64/NVME, an unknown algorithm, a part checksummed with another
/// algorithm than its upload's; and a checksum header that is no digest of its algorithm.
#[tokio::test]
async fn checksum_settings_s3_refuses() {
    let t = TestServer::start().await;
    let s3 = t.root_s3();
    t.bucket("cks").await;
    let create = || s3.create_multipart_upload().bucket("cks").key("k");
    let refused = [
        create().checksum_type(ChecksumType::FullObject),
        create()
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_type(ChecksumType::FullObject),
        create()
            .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
            .checksum_type(ChecksumType::Composite),
        create().checksum_algorithm(ChecksumAlgorithm::from("MD5")),
    ];
    for (i, call) in refused.into_iter().enumerate() {
        assert_eq!(failed(call.send().await), "InvalidRequest", "case {i}");
    }
    let out = create()
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .send()
        .await
        .unwrap();
    assert_eq!(out.checksum_type(), Some(&ChecksumType::FullObject));
    let e = s3
        .upload_part()
        .bucket("cks")
        .key("k")
        .upload_id(out.upload_id().unwrap())
        .part_number(1)
        .checksum_algorithm(ChecksumAlgorithm::Sha1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await;
    assert_eq!(failed(e), "InvalidRequest");
    // Refused for its algorithm before its value is checked (it was `BadDigest`, after the
    // whole body was read).
    let id = out.upload_id().unwrap();
    let wrong_sha = b64(&Sha256::digest(b"not the part"));
    let call = Call::s3("PUT", format!("/cks/k?partNumber=1&uploadId={id}"))
        .header("x-amz-checksum-sha256", &wrong_sha)
        .body("part");
    let got = t.send(&Keys::root(), call).await;
    got.expect_error(400, "InvalidRequest");

    for value in ["!!!!", "AAA="] {
        let call = Call::s3("PUT", "/cks/bad")
            .header("x-amz-checksum-crc32", value)
            .body("data");
        let got = t.send(&Keys::root(), call).await;
        got.expect_error(400, "InvalidRequest");
    }
}
