//! V2: payload hashes, aws-chunked, trailers, Content-MD5.

use super::*;

#[tokio::test]
async fn v2_wrong_content_sha256_is_xamz_content_sha256_mismatch() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    let other = hex::encode(Sha256::digest(b"something else"));
    let signer = Signer {
        payload: Payload::Hex(other),
        ..root()
    };
    let (r, _) = signer.sign(req(&t, "PUT", "/kv2/k").body(b"hello".to_vec()));
    assert_error(&r.send(&t).await, 400, "XAmzContentSHA256Mismatch");
    assert_error(&get_plain(&t, "/kv2/k").await, 404, "NoSuchKey");
    // The correct hash of the same body is accepted.
    assert_ok(&put_plain(&t, "/kv2/k", b"hello").await);
    assert_eq!(get_plain(&t, "/kv2/k").await.body, b"hello");
}

#[tokio::test]
async fn v2_unsigned_payload_is_accepted() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    let signer = Signer {
        payload: Payload::Declared("UNSIGNED-PAYLOAD"),
        ..root()
    };
    let (r, _) = signer.sign(req(&t, "PUT", "/kv2/u").body(b"unsigned body".to_vec()));
    assert_eq!(r.get("x-amz-content-sha256"), Some("UNSIGNED-PAYLOAD"));
    assert_ok(&r.send(&t).await);
    assert_eq!(get_plain(&t, "/kv2/u").await.body, b"unsigned body");
}

#[tokio::test]
async fn v2_missing_content_sha256_uses_the_body_hash() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    let signer = Signer {
        payload: Payload::NoHeader,
        ..root()
    };
    let (r, _) = signer.sign(req(&t, "PUT", "/kv2/n").body(b"no header".to_vec()));
    assert_eq!(r.get("x-amz-content-sha256"), None);
    assert_ok(&r.send(&t).await);
    // Signed over one body, sent with another.
    let (r, _) = signer.sign(req(&t, "PUT", "/kv2/n").body(b"no header".to_vec()));
    let resp = r.body(b"no heades".to_vec()).send(&t).await;
    assert_error(&resp, 403, "SignatureDoesNotMatch");
    assert_eq!(get_plain(&t, "/kv2/n").await.body, b"no header");
}

/// An aws-chunked body of `chunks`, each signed in sequence from `seed`; `sigs` returns the
/// signatures so a test can alter one.
pub(crate) fn chunked_body(chunks: &[&[u8]], sigs: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for (chunk, sig) in chunks
        .iter()
        .copied()
        .chain(std::iter::once(&b""[..]))
        .zip(sigs)
    {
        out.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub(crate) fn chunked_len(chunks: &[&[u8]]) -> usize {
    chunks
        .iter()
        .copied()
        .chain(std::iter::once(&b""[..]))
        .map(|c| format!("{:x}", c.len()).len() + ";chunk-signature=".len() + 64 + 4 + c.len())
        .sum()
}

/// A `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` PUT of `chunks`: the signed request and the chunk
/// signatures (the last one for the final empty chunk).
pub(crate) fn streaming_put(t: &TestServer, target: &str, chunks: &[&[u8]]) -> (Req, Vec<String>) {
    let decoded: usize = chunks.iter().map(|c| c.len()).sum();
    let signer = Signer {
        payload: Payload::Declared("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ..root()
    };
    let r = req(t, "PUT", target)
        .header("content-encoding", "aws-chunked")
        .header("content-length", chunked_len(chunks).to_string())
        .header("x-amz-decoded-content-length", decoded.to_string());
    let (r, seed) = signer.sign(r);
    let mut sigs = Vec::new();
    let mut previous = seed;
    for chunk in chunks.iter().copied().chain(std::iter::once(&b""[..])) {
        previous = signer.chunk_signature(chunk, &previous);
        sigs.push(previous.clone());
    }
    (r, sigs)
}

#[tokio::test]
async fn v2_tampered_chunk_signature_is_signature_does_not_match() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    let a = vec![b'a'; 8192];
    let b = vec![b'b'; 100];
    let chunks: [&[u8]; 2] = [&a, &b];

    // Control: the untouched stream is accepted and stored decoded.
    let (r, sigs) = streaming_put(&t, "/kv2/chunked", &chunks);
    assert_ok(&r.clone().body(chunked_body(&chunks, &sigs)).send(&t).await);
    assert_eq!(
        get_plain(&t, "/kv2/chunked").await.body,
        [a.clone(), b.clone()].concat()
    );

    // One flipped hex digit in each chunk signature in turn, the final one included.
    for i in 0..sigs.len() {
        let (r, mut sigs) = streaming_put(&t, "/kv2/tampered", &chunks);
        let flipped = if sigs[i].starts_with('0') { "1" } else { "0" };
        sigs[i].replace_range(0..1, flipped);
        let resp = r.body(chunked_body(&chunks, &sigs)).send(&t).await;
        assert_error(&resp, 403, "SignatureDoesNotMatch");
    }
    // Chunk data altered under a valid signature.
    let (r, sigs) = streaming_put(&t, "/kv2/tampered", &chunks);
    let mut body = chunked_body(&chunks, &sigs);
    let last_b = body.iter().rposition(|&c| c == b'b').unwrap();
    body[last_b] = b'c';
    assert_error(&r.body(body).send(&t).await, 403, "SignatureDoesNotMatch");
    assert_error(&get_plain(&t, "/kv2/tampered").await, 404, "NoSuchKey");
}

/// IEEE CRC-32 (the `x-amz-checksum-crc32` algorithm), bit by bit.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

pub(crate) fn unsigned_trailer_put(
    t: &TestServer,
    target: &str,
    data: &[u8],
    crc_b64: &str,
) -> Req {
    let trailer = format!("x-amz-checksum-crc32:{crc_b64}\r\n");
    unsigned_trailer_put_raw(t, target, data, &trailer)
}

/// A `STREAMING-UNSIGNED-PAYLOAD-TRAILER` PUT of one chunk declaring an
/// `x-amz-checksum-crc32` trailer, followed by the CRLF-terminated `trailer` lines as given.
pub(crate) fn unsigned_trailer_put_raw(
    t: &TestServer,
    target: &str,
    data: &[u8],
    trailer: &str,
) -> Req {
    let mut body = format!("{:x}\r\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n0\r\n{trailer}\r\n").as_bytes());
    let signer = Signer {
        payload: Payload::Declared("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        ..root()
    };
    let r = req(t, "PUT", target)
        .header("content-encoding", "aws-chunked")
        .header("x-amz-trailer", "x-amz-checksum-crc32")
        .header("x-amz-decoded-content-length", data.len().to_string());
    signer.sign(r).0.body(body)
}

#[tokio::test]
async fn v2_unsigned_trailer_with_wrong_crc32_is_bad_digest() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    let data = b"trailer checked data".repeat(50);
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926, "the CRC-32 check value");
    let good = B64.encode(crc32(&data).to_be_bytes());
    assert_ok(
        &unsigned_trailer_put(&t, "/kv2/good", &data, &good)
            .send(&t)
            .await,
    );
    assert_eq!(get_plain(&t, "/kv2/good").await.body, data);

    let wrong = B64.encode((crc32(&data) ^ 1).to_be_bytes());
    let resp = unsigned_trailer_put(&t, "/kv2/bad", &data, &wrong)
        .send(&t)
        .await;
    assert_error(&resp, 400, "BadDigest");
    assert_error(&get_plain(&t, "/kv2/bad").await, 404, "NoSuchKey");
}

#[tokio::test]
async fn v2_content_md5_mismatch_is_bad_digest() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    let good = B64.encode(Md5::digest(b"payload"));
    let (r, _) = root().sign(
        req(&t, "PUT", "/kv2/md5")
            .header("content-md5", &good)
            .body(b"payload".to_vec()),
    );
    assert_ok(&r.send(&t).await);
    let wrong = B64.encode(Md5::digest(b"other"));
    let (r, _) = root().sign(
        req(&t, "PUT", "/kv2/md5-bad")
            .header("content-md5", &wrong)
            .body(b"payload".to_vec()),
    );
    assert_error(&r.send(&t).await, 400, "BadDigest");
    assert_error(&get_plain(&t, "/kv2/md5-bad").await, 404, "NoSuchKey");
}

#[tokio::test]
async fn v2_malformed_content_md5_is_invalid_digest() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    let short = B64.encode([1u8; 15]);
    for bad in ["not base64!", "AAAA", short.as_str(), ""] {
        let (r, _) = root().sign(
            req(&t, "PUT", "/kv2/md5")
                .header("content-md5", bad)
                .body(b"payload".to_vec()),
        );
        let resp = r.send(&t).await;
        assert_error(&resp, 400, "InvalidDigest");
    }
}
