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
    streaming(t, "PUT", target, chunks)
}

/// [`streaming_put`] with any method.
fn streaming(
    t: &TestServer,
    method: &'static str,
    target: &str,
    chunks: &[&[u8]],
) -> (Req, Vec<String>) {
    let decoded: usize = chunks.iter().map(|c| c.len()).sum();
    let signer = Signer {
        payload: Payload::Declared("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ..root()
    };
    let r = req(t, method, target)
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

/// V2 on requests whose handler reads no body: a declared hex hash is still held to. Without
/// a body it must be the empty body's hash; a body sent with a GET, HEAD or DELETE is read
/// and checked against it.
#[tokio::test]
async fn v2_declared_hash_is_checked_on_requests_without_a_read_body() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    assert_ok(&put_plain(&t, "/kv2/k", b"kept").await);
    let wrong = Signer {
        payload: Payload::Hex(hex::encode(Sha256::digest(b"not empty"))),
        ..root()
    };
    for (method, target) in [
        ("GET", "/kv2/k"),
        ("GET", "/kv2"),
        ("DELETE", "/kv2/k"),
        ("DELETE", "/kv2"),
    ] {
        let (r, _) = wrong.sign(req(&t, method, target));
        assert_error(&r.send(&t).await, 400, "XAmzContentSHA256Mismatch");
    }
    let (r, _) = wrong.sign(req(&t, "HEAD", "/kv2/k"));
    let resp = r.send(&t).await;
    assert_eq!((resp.status, resp.body.len()), (400, 0), "{resp:?}");
    assert_eq!(get_plain(&t, "/kv2/k").await.body, b"kept");
    // The empty body's hash, and a body that matches its declared hash: accepted.
    let (r, _) = root().sign(req(&t, "GET", "/kv2/k").body(b"abc".to_vec()));
    assert_eq!(r.get("x-amz-content-sha256").map(str::len), Some(64));
    assert_eq!(r.send(&t).await.body, b"kept");
    // A body that does not match: the empty hash declared over three bytes.
    let empty = Signer {
        payload: Payload::Declared(EMPTY_SHA256),
        ..root()
    };
    let (r, _) = empty.sign(req(&t, "DELETE", "/kv2/k").body(b"abc".to_vec()));
    assert_error(&r.send(&t).await, 400, "XAmzContentSHA256Mismatch");
    assert_eq!(get_plain(&t, "/kv2/k").await.body, b"kept");
    // Operations that take no body, with one that does not match its declared hash.
    for (method, target, copy) in [
        ("PUT", "/kv2/copy", true),
        ("POST", "/kv2/up?uploads", false),
    ] {
        let mut q = req(&t, method, target).body(b"junkjunk".to_vec());
        if copy {
            q = q.header("x-amz-copy-source", "/kv2/k");
        }
        let (r, _) = empty.sign(q);
        assert_error(&r.send(&t).await, 400, "XAmzContentSHA256Mismatch");
    }
    assert_eq!(get_plain(&t, "/kv2/copy").await.status, 404);
    let (r, _) = root().sign(req(&t, "DELETE", "/kv2/k"));
    assert_eq!(r.send(&t).await.status, 204);
}

/// Regression: an aws-chunked body sent with a GET or DELETE went unread, so a DELETE whose
/// chunk signatures were garbage deleted the object. Every chunk signature is checked (V2)
/// whether or not the operation takes a body.
#[tokio::test]
async fn v2_chunk_signatures_are_checked_on_requests_without_a_read_body() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    assert_ok(&put_plain(&t, "/kv2/k", b"kept").await);
    let chunks: [&[u8]; 1] = [b"ignored"];
    for method in ["GET", "DELETE"] {
        let (r, mut sigs) = streaming(&t, method, "/kv2/k", &chunks);
        let flipped = if sigs[0].starts_with('0') { "1" } else { "0" };
        sigs[0].replace_range(0..1, flipped);
        let resp = r.body(chunked_body(&chunks, &sigs)).send(&t).await;
        assert_error(&resp, 403, "SignatureDoesNotMatch");
    }
    assert_eq!(get_plain(&t, "/kv2/k").await.body, b"kept");
    // Control: the same DELETE with its chunks signed as they are.
    let (r, sigs) = streaming(&t, "DELETE", "/kv2/k", &chunks);
    assert_eq!(
        r.body(chunked_body(&chunks, &sigs)).send(&t).await.status,
        204
    );
    assert_eq!(get_plain(&t, "/kv2/k").await.status, 404);
}

/// A signed request head sent with no `Content-Length` and no `Transfer-Encoding`.
fn without_length(r: &Req) -> Vec<u8> {
    assert!(r.body.is_empty());
    let head = String::from_utf8(r.head_bytes()).unwrap();
    let head = head.replace("content-length: 0\r\n", "");
    assert!(!head.to_ascii_lowercase().contains("content-length"));
    head.into_bytes()
}

/// A PUT of an object or a part without `Content-Length` (or chunked framing) is AWS's 411
/// `MissingContentLength`, not an empty object.
#[tokio::test]
async fn v2_put_without_content_length_is_missing_content_length() {
    let t = TestServer::start().await;
    bucket(&t, "kv2").await;
    let (r, _) = root().sign(req(&t, "PUT", "/kv2/nolen"));
    let resp = exchange(&t, &without_length(&r), b"", false).await.unwrap();
    assert_error(&resp, 411, "MissingContentLength");
    assert_error(&get_plain(&t, "/kv2/nolen").await, 404, "NoSuchKey");
    let upload = t
        .root_s3()
        .create_multipart_upload()
        .bucket("kv2")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let target = format!("/kv2/mp?partNumber=1&uploadId={}", enc(id));
    let (r, _) = root().sign(req(&t, "PUT", &target));
    let resp = exchange(&t, &without_length(&r), b"", false).await.unwrap();
    assert_error(&resp, 411, "MissingContentLength");
    // With a length, even zero, both are accepted.
    assert_ok(&put_plain(&t, "/kv2/nolen", b"").await);
    assert_ok(&put_plain(&t, &target, b"part").await);
}
