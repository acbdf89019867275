//! More V2/V5/V6 edges: signed trailers, declared-but-absent trailers, broken chains.

use super::*;
use super::{robustness::*, v2::*, v5::*, v6::*};

/// A `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` PUT of one chunk with an
/// `x-amz-checksum-crc32` trailer (value `crc_b64`), trailer signature computed by hand per
/// AWS "Signature calculation: trailing headers"; `tamper` flips the trailer signature.
pub(crate) fn signed_trailer_put(
    t: &TestServer,
    target: &str,
    data: &[u8],
    crc_b64: &str,
    tamper: bool,
) -> Req {
    let signer = Signer {
        payload: Payload::Declared("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
        ..root()
    };
    let r = req(t, "PUT", target)
        .header("content-encoding", "aws-chunked")
        .header("x-amz-trailer", "x-amz-checksum-crc32")
        .header("x-amz-decoded-content-length", data.len().to_string());
    let (r, seed) = signer.sign(r);
    let s1 = signer.chunk_signature(data, &seed);
    let s2 = signer.chunk_signature(b"", &s1);
    let trailer = format!("x-amz-checksum-crc32:{crc_b64}\n");
    let (amz_date, date) = amz_dates(signer.time);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{date}/us-east-1/s3/aws4_request\n{s2}\n{}",
        hex::encode(Sha256::digest(trailer.as_bytes()))
    );
    let key = v4::generate_signing_key(ROOT_SK, signer.time, "us-east-1", "s3");
    let mut trailer_sig = v4::calculate_signature(key, string_to_sign.as_bytes());
    if tamper {
        let flipped = if trailer_sig.starts_with('0') {
            "1"
        } else {
            "0"
        };
        trailer_sig.replace_range(0..1, flipped);
    }
    let mut body = format!("{:x};chunk-signature={s1}\r\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(
        format!(
            "\r\n0;chunk-signature={s2}\r\nx-amz-checksum-crc32:{crc_b64}\r\nx-amz-trailer-signature:{trailer_sig}\r\n\r\n"
        )
        .as_bytes(),
    );
    r.body(body)
}

#[tokio::test]
async fn v2_signed_trailer_checks_signature_and_checksum() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    let data = b"signed trailer data".repeat(20);
    let good = B64.encode(crc32(&data).to_be_bytes());
    let wrong = B64.encode((crc32(&data) ^ 1).to_be_bytes());
    let resp = signed_trailer_put(&t, "/kv2/st", &data, &good, false)
        .send(&t)
        .await;
    assert_ok(&resp);
    assert_eq!(get_plain(&t, "/kv2/st").await.body, data);
    let resp = signed_trailer_put(&t, "/kv2/st-sig", &data, &good, true)
        .send(&t)
        .await;
    assert_error(&resp, 403, "SignatureDoesNotMatch");
    let resp = signed_trailer_put(&t, "/kv2/st-crc", &data, &wrong, false)
        .send(&t)
        .await;
    assert_error(&resp, 400, "BadDigest");
    assert_error(&get_plain(&t, "/kv2/st-sig").await, 404, "NoSuchKey");
    assert_error(&get_plain(&t, "/kv2/st-crc").await, 404, "NoSuchKey");
}

#[tokio::test]
async fn v2_declared_trailer_absent_or_of_another_algorithm_is_refused() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    let data = b"declared crc32 trailer";
    for (what, trailer) in [
        ("absent", ""),
        ("crc32c instead", "x-amz-checksum-crc32c:AAAAAA==\r\n"),
    ] {
        let resp = unsigned_trailer_put_raw(&t, "/kv2/nt", data, trailer)
            .send(&t)
            .await;
        assert!(
            (400..500).contains(&resp.status) && resp.code().is_some(),
            "declared x-amz-checksum-crc32, trailer {what}: {resp:?} {}",
            resp.text()
        );
    }
    assert_error(&get_plain(&t, "/kv2/nt").await, 404, "NoSuchKey");
}

#[tokio::test]
async fn v2_chunk_chain_dropped_or_unterminated_is_refused() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    let a = vec![b'a'; 1000];
    let b = vec![b'b'; 1000];
    let chunks: [&[u8]; 2] = [&a, &b];
    // The second chunk dropped: its successor's signature no longer chains.
    let (r, sigs) = streaming_put(&t, "/kv2/drop", &chunks);
    let mut body = format!("3e8;chunk-signature={}\r\n", sigs[0]).into_bytes();
    body.extend_from_slice(&a);
    body.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n\r\n", sigs[2]).as_bytes());
    let r = r
        .replace("x-amz-decoded-content-length", "1000")
        .replace("content-length", body.len().to_string());
    let resp = r.body(body).send(&t).await;
    assert!(
        resp.status == 403 || resp.status == 400,
        "{resp:?} {}",
        resp.text()
    );
    assert!(resp.code().is_some());
    // No final zero-length chunk.
    let (r, sigs) = streaming_put(&t, "/kv2/unterminated", &chunks);
    let full = chunked_body(&chunks, &sigs);
    let cut = full.len() - (format!("0;chunk-signature={}\r\n\r\n", sigs[2]).len());
    let body = full[..cut].to_vec();
    let resp = r
        .replace("content-length", body.len().to_string())
        .body(body)
        .send(&t)
        .await;
    assert!(
        (400..500).contains(&resp.status) && resp.code().is_some(),
        "{resp:?} {}",
        resp.text()
    );
    // Decoded length declared larger than what the chunks carry.
    let (r, sigs) = streaming_put(&t, "/kv2/short", &chunks);
    let resp = r
        .replace("x-amz-decoded-content-length", "2001")
        .body(chunked_body(&chunks, &sigs))
        .send(&t)
        .await;
    assert!(
        (400..500).contains(&resp.status),
        "{resp:?} {}",
        resp.text()
    );
    for key in ["drop", "unterminated", "short"] {
        assert_error(
            &get_plain(&t, &format!("/kv2/{key}")).await,
            404,
            "NoSuchKey",
        );
    }
}

#[tokio::test]
async fn v2_unsigned_payload_still_checks_content_md5_and_checksum_headers() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    let signer = Signer {
        payload: Payload::Declared("UNSIGNED-PAYLOAD"),
        ..root()
    };
    let wrong_md5 = B64.encode(Md5::digest(b"other"));
    let (r, _) = signer.sign(
        req(&t, "PUT", "/kv2/um")
            .header("content-md5", &wrong_md5)
            .body(b"payload".to_vec()),
    );
    assert_error(&r.send(&t).await, 400, "BadDigest");
    let wrong_crc = B64.encode((crc32(b"payload") ^ 1).to_be_bytes());
    let (r, _) = signer.sign(
        req(&t, "PUT", "/kv2/uc")
            .header("x-amz-checksum-crc32", &wrong_crc)
            .body(b"payload".to_vec()),
    );
    assert_error(&r.send(&t).await, 400, "BadDigest");
    let right_crc = B64.encode(crc32(b"payload").to_be_bytes());
    let (r, _) = signer.sign(
        req(&t, "PUT", "/kv2/uc")
            .header("x-amz-checksum-crc32", &right_crc)
            .body(b"payload".to_vec()),
    );
    assert_ok(&r.send(&t).await);
    assert_error(&get_plain(&t, "/kv2/um").await, 404, "NoSuchKey");
    // Two checksums: refused whichever comes first and whichever is wrong, as S3 does, and the
    // object stays as it was (never stored with one checksum checked and the other ignored).
    let wrong_sha = B64.encode([0u8; 32]);
    for (first, second) in [
        (
            ("x-amz-checksum-sha256", &wrong_sha),
            ("x-amz-checksum-crc32", &right_crc),
        ),
        (
            ("x-amz-checksum-crc32", &right_crc),
            ("x-amz-checksum-sha256", &wrong_sha),
        ),
    ] {
        let (r, _) = signer.sign(
            req(&t, "PUT", "/kv2/uc")
                .header(first.0, first.1)
                .header(second.0, second.1)
                .body(b"changed".to_vec()),
        );
        assert_error(&r.send(&t).await, 400, "InvalidRequest");
    }
    let kept = get_plain(&t, "/kv2/uc").await;
    assert_eq!(kept.body, b"payload");
}

#[tokio::test]
async fn v5_presigned_with_unsigned_amz_header_is_access_denied() {
    let t = TestServer::start().await;
    presign_setup(&t).await;
    let r = req(&t, "GET", "/kv6/k");
    let url = with_query("/kv6/k", &root().presign(&r, 300), None);
    assert_ok(&req(&t, "GET", &url).send(&t).await);
    let resp = req(&t, "GET", &url)
        .header("x-amz-meta-sneaky", "1")
        .send(&t)
        .await;
    assert_error(&resp, 403, "AccessDenied");
}

#[tokio::test]
async fn v8_head_presigned_expired_has_no_body() {
    let t = TestServer::start().await;
    presign_setup(&t).await;
    let r = req(&t, "HEAD", "/kv6/k");
    let url = with_query("/kv6/k", &root().presign(&r, 60), None);
    assert_ok(&req(&t, "HEAD", &url).send(&t).await);
    t.server.advance_clock(120);
    let resp = req(&t, "HEAD", &url).send(&t).await;
    assert_eq!(resp.status, 403, "{resp:?}");
    assert!(resp.body.is_empty(), "{resp:?}");
    assert!(resp.header("x-amz-request-id").is_some());
}

#[tokio::test]
async fn v6_presigned_scope_date_other_than_x_amz_date_is_refused() {
    let t = TestServer::start().await;
    presign_setup(&t).await;
    let r = req(&t, "GET", "/kv6/k");
    let params: Vec<(String, String)> = root()
        .presign(&r, 300)
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "X-Amz-Credential" => {
                let mut parts: Vec<String> = v.split('/').map(str::to_owned).collect();
                parts[1] = "20200101".to_owned();
                (k, parts.join("/"))
            }
            _ => (k, v),
        })
        .collect();
    let resp = req(&t, "GET", &with_query("/kv6/k", &params, None))
        .send(&t)
        .await;
    assert!(
        (400..500).contains(&resp.status) && resp.code().is_some(),
        "{resp:?} {}",
        resp.text()
    );
    assert!(resp.header("x-amz-request-id").is_some());
}

#[tokio::test]
async fn s6_session_token_with_the_root_key_is_invalid_token_id() {
    let t = TestServer::start().await;
    let (r, _) = root().sign(req(&t, "GET", "/").header("x-amz-security-token", "bogus-token"));
    assert_error(&r.send(&t).await, 403, "InvalidTokenId");
}

#[tokio::test]
async fn v2_invalid_content_sha256_value_is_refused() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    for bad in ["abc", "STREAMING-NOPE", "unsigned-payload"] {
        let (r, _) = root().sign(req(&t, "PUT", "/kv2/h").body(b"x".to_vec()));
        let resp = r.replace("x-amz-content-sha256", bad).send(&t).await;
        assert_eq!(resp.status, 400, "{bad}: {resp:?} {}", resp.text());
        assert!(resp.code().is_some(), "{resp:?}");
    }
}

#[tokio::test]
async fn v5_presigned_without_host_signed_is_access_denied() {
    let t = TestServer::start().await;
    presign_setup(&t).await;
    let r = req(&t, "GET", "/kv6/k");
    let params: Vec<(String, String)> = root()
        .presign(&r, 300)
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "X-Amz-SignedHeaders" => (k, "x-amz-date".to_owned()),
            _ => (k, v),
        })
        .collect();
    let resp = req(&t, "GET", &with_query("/kv6/k", &params, None))
        .send(&t)
        .await;
    assert_error(&resp, 403, "AccessDenied");
}

#[tokio::test]
async fn x5_key_segment_over_255_bytes_is_invalid_argument() {
    let t = TestServer::start().await;
    bucket(&t, "kx5").await;
    let long = format!("d/{}", "s".repeat(256));
    let resp = put_plain(&t, &format!("/kx5/{long}"), b"long").await;
    assert_error(&resp, 400, "InvalidArgument");
}

/// Regression for a reported bug: the metadata file is `<last segment>.meta`, so a last
/// segment of 251..=255 bytes (valid under X5) overflowed NAME_MAX: 500 InternalError, with
/// the object file already renamed into place.
#[tokio::test]
async fn x5_key_segments_of_251_to_255_bytes_are_stored() {
    let t = TestServer::start().await;
    bucket(&t, "kx5").await;
    for len in [250, 251, 255] {
        let key = format!("d/{}", "s".repeat(len));
        let resp = put_plain(&t, &format!("/kx5/{key}"), b"ok").await;
        assert_ok(&resp);
        let got = get_plain(&t, &format!("/kx5/{key}")).await;
        assert_eq!(
            (got.status, got.body.as_slice()),
            (200, &b"ok"[..]),
            "segment {len}"
        );
    }
}

#[tokio::test]
async fn robustness_oversized_headers() {
    let t = TestServer::start().await;
    let (signed, _) = root().sign(req(&t, "GET", "/"));
    let huge = format!("AWS4-HMAC-SHA256 Credential={}", "y".repeat(100 * 1024));
    let resp = send_opt(&t, &signed.clone().replace("authorization", huge)).await;
    if let Some(resp) = &resp {
        // hyper answers an over-long head itself (431) before any S3 code runs.
        assert!((400..500).contains(&resp.status), "{resp:?}");
    }
    let many = (0..2000).fold(signed, |r, i| r.header(&format!("x-junk-{i}"), "v"));
    let resp = send_opt(&t, &many).await;
    if let Some(resp) = &resp {
        assert!((400..500).contains(&resp.status), "{resp:?}");
    }
    still_serves(&t).await;
}

/// An anonymous write (allowed by a bucket policy) declares its payload as a signed one does,
/// and the declaration is held to: a hex hash is checked against the body, an unsigned
/// aws-chunked body is decoded (and its trailer checked) instead of stored with its framing,
/// and a signed aws-chunked body, which has no signature to chain from, is refused.
#[tokio::test]
async fn v2_anonymous_bodies_are_checked_and_decoded() {
    let t = TestServer::start().await;
    bucket(&t, "anon").await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::anon/*"}]}"#;
    t.root_s3()
        .put_bucket_policy()
        .bucket("anon")
        .policy(policy)
        .send()
        .await
        .unwrap();
    let other = hex::encode(Sha256::digest(b"other"));
    let r = req(&t, "PUT", "/anon/hashed")
        .header("x-amz-content-sha256", &other)
        .body(b"payload".to_vec());
    assert_error(&r.send(&t).await, 400, "XAmzContentSHA256Mismatch");
    assert_error(&get_plain(&t, "/anon/hashed").await, 404, "NoSuchKey");

    let chunked = |crc: u32| {
        let crc = B64.encode(crc.to_be_bytes());
        req(&t, "PUT", "/anon/chunked")
            .header("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
            .header("content-encoding", "aws-chunked")
            .header("x-amz-trailer", "x-amz-checksum-crc32")
            .header("x-amz-decoded-content-length", "5")
            .body(format!("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n").into_bytes())
    };
    assert_error(
        &chunked(crc32(b"hello") ^ 1).send(&t).await,
        400,
        "BadDigest",
    );
    assert_error(&get_plain(&t, "/anon/chunked").await, 404, "NoSuchKey");
    assert_ok(&chunked(crc32(b"hello")).send(&t).await);
    assert_eq!(get_plain(&t, "/anon/chunked").await.body, b"hello");

    let r = req(&t, "PUT", "/anon/signed-chunks")
        .header("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", "5")
        .body(b"5;chunk-signature=00\r\nhello\r\n0;chunk-signature=00\r\n\r\n".to_vec());
    assert_error(&r.send(&t).await, 400, "InvalidRequest");
    assert_error(
        &get_plain(&t, "/anon/signed-chunks").await,
        404,
        "NoSuchKey",
    );
}
