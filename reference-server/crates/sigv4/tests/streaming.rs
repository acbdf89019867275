//! aws-chunked uploads end to end: the S3 documentation's streaming example through parse ->
//! verify -> ChunkDecoder in many slicings, the trailer modes built by the test signer, and
//! malformed or tampered bodies.

mod common;

use common::{hdrs, read, vectors_dir, Req, Signer};
use keygate_sigv4::{
    parse, AuthError, ChecksumAlgorithm, ChunkDecoder, Config, PayloadMode, SecretKey,
    SigningKeyCache, Trailers, Verified,
};
use time::macros::datetime;
use time::OffsetDateTime;

struct Example {
    req: Req,
    body: Vec<u8>,
    secret: SecretKey,
    creq: String,
    sts: String,
}

fn example() -> Example {
    let dir = vectors_dir().join("sigv4/s3-streaming");
    let ctx: serde_json::Value = serde_json::from_str(&read(&dir.join("context.json"))).unwrap();
    let mut headers: Vec<(String, String)> = ctx["request_headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    headers.push((
        "authorization".into(),
        read(&dir.join("put-chunked.authz")).trim().to_owned(),
    ));
    let body = std::fs::read(dir.join("put-chunked.body")).unwrap();
    assert_eq!(body.len(), 66_824);
    Example {
        req: Req::new("PUT", ctx["path"].as_str().unwrap(), &headers),
        body,
        secret: SecretKey::from(
            ctx["credentials"]["secret_access_key"]
                .as_str()
                .unwrap()
                .to_owned(),
        ),
        creq: read(&dir.join("put-chunked.creq")),
        sts: read(&dir.join("put-chunked.sts")),
    }
}

const EXAMPLE_TIME: OffsetDateTime = datetime!(2013-05-24 00:00:00 UTC);

fn verified(ex: &Example) -> Verified {
    let pending = parse(&ex.req.view(), EXAMPLE_TIME, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(*pending.payload(), PayloadMode::StreamingSigned);
    assert_eq!(
        String::from_utf8(pending.canonical_request(None)).unwrap(),
        ex.creq
    );
    assert_eq!(pending.string_to_sign(None), ex.sts);
    pending
        .verify(&ex.secret, &SigningKeyCache::new(8), None)
        .unwrap()
}

/// Feeds `body` in slices of `step` bytes; returns the decoded bytes and the outcome.
fn decode(
    mut dec: ChunkDecoder,
    body: &[u8],
    step: usize,
) -> (Vec<u8>, Result<Trailers, AuthError>) {
    let mut out = Vec::new();
    for piece in body.chunks(step.max(1)) {
        if let Err(e) = dec.push(piece, &mut out) {
            return (out, Err(e));
        }
    }
    (out, dec.finish())
}

#[test]
fn s3_streaming_example_in_every_slicing() {
    let ex = example();
    let v = verified(&ex);
    assert_eq!(v.access_key(), "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(v.decoded_length(), Some(66_560));
    for step in [ex.body.len(), 1, 2, 7, 64, 4096, 65_536, 65_600] {
        let dec = v.chunk_decoder(None).unwrap();
        let (out, r) = decode(dec, &ex.body, step);
        assert_eq!(r, Ok(Trailers { checksum: None }), "step {step}");
        assert_eq!(out.len(), 66_560);
        assert!(out.iter().all(|&b| b == b'a'));
    }
}

#[test]
fn s3_streaming_example_tampering_is_caught() {
    let ex = example();
    let v = verified(&ex);
    // Each of the three chunk signatures, altered in its last hex digit.
    let marker = b"chunk-signature=";
    let sig_ends: Vec<usize> = ex
        .body
        .windows(marker.len())
        .enumerate()
        .filter(|(_, w)| w == marker)
        .map(|(i, _)| i + marker.len() + 63)
        .collect();
    assert_eq!(sig_ends.len(), 3);
    for at in sig_ends {
        let mut body = ex.body.clone();
        body[at] = if body[at] == b'0' { b'1' } else { b'0' };
        let (_, r) = decode(v.chunk_decoder(None).unwrap(), &body, 4096);
        assert_eq!(
            r,
            Err(AuthError::SignatureDoesNotMatch),
            "signature at {at}"
        );
    }
    // A chunk header naming a bogus signature before the right one (regression: the last
    // was checked, so anything could stand before it): refused as malformed.
    let first_header_end = ex.body.windows(2).position(|w| w == b"\r\n").unwrap();
    let mut body = ex.body.clone();
    let bogus = format!(";chunk-signature={}", "0".repeat(64));
    let size_end = body.iter().position(|&b| b == b';').unwrap();
    assert!(size_end < first_header_end);
    body.splice(size_end..size_end, bogus.bytes());
    let (_, r) = decode(v.chunk_decoder(None).unwrap(), &body, 4096);
    assert_eq!(
        r.unwrap_err().code(),
        "InvalidRequest",
        "two chunk signatures"
    );
    // A data byte in the first and in the second chunk.
    for at in [200, 65_700] {
        let mut body = ex.body.clone();
        body[at] = b'b';
        let (_, r) = decode(v.chunk_decoder(None).unwrap(), &body, 1000);
        assert_eq!(
            r.unwrap_err().code(),
            "SignatureDoesNotMatch",
            "data at {at}"
        );
    }
    // Truncated anywhere: never accepted.
    for cut in [
        0,
        1,
        50,
        90,
        65_626,
        65_627,
        66_700,
        ex.body.len() - 3,
        ex.body.len() - 1,
    ] {
        let (_, r) = decode(v.chunk_decoder(None).unwrap(), &ex.body[..cut], 7);
        assert_eq!(r, Err(AuthError::IncompleteBody), "cut at {cut}");
    }
    // Bytes after the final CRLF.
    let mut body = ex.body.clone();
    body.extend_from_slice(b"0\r\n");
    let (_, r) = decode(v.chunk_decoder(None).unwrap(), &body, 4096);
    assert_eq!(r.unwrap_err().code(), "InvalidRequest");
    // A trailer algorithm is ignored in a mode that has no trailer.
    assert_eq!(
        v.chunk_decoder(Some(ChecksumAlgorithm::Crc32)).map(|_| ()),
        Ok(())
    );
}

const NOW: OffsetDateTime = datetime!(2025-01-15 10:00:00 UTC);

fn crc32_b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(data).to_be_bytes())
}

/// A header-signed streaming PUT with the given mode and trailer; returns the verified request
/// and the seed signature.
fn streaming_put(signer: &Signer, mode: &str, decoded_len: usize) -> (Verified, String) {
    let mut headers = hdrs(&[
        ("host", "bucket.s3.amazonaws.com"),
        ("content-encoding", "aws-chunked"),
        ("x-amz-content-sha256", mode),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ]);
    headers.push((
        "x-amz-decoded-content-length".into(),
        decoded_len.to_string(),
    ));
    signer.sign_headers("PUT", "/bucket/key", &mut headers, mode, None);
    let authz = headers.last().unwrap().1.clone();
    let seed = authz.rsplit("Signature=").next().unwrap().to_owned();
    let req = Req::new("PUT", "/bucket/key", &headers);
    let pending = parse(&req.view(), NOW, &Config::default())
        .unwrap()
        .unwrap();
    let secret = SecretKey::from(signer.secret.clone());
    (
        pending
            .verify(&secret, &SigningKeyCache::new(4), None)
            .unwrap(),
        seed,
    )
}

#[test]
fn signed_payload_with_crc32_trailer() {
    let signer = Signer::s3(NOW);
    let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let (v, seed) = streaming_put(
        &signer,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        data.len(),
    );
    assert_eq!(*v.payload(), PayloadMode::StreamingSignedTrailer);
    let chunks: Vec<&[u8]> = data.chunks(65_536).collect();
    let good = crc32_b64(&data);
    let body = signer.chunked_body(
        Some(&seed),
        &chunks,
        Some(&[("x-amz-checksum-crc32", &good)]),
    );
    for step in [body.len(), 1, 7, 4096] {
        let (out, r) = decode(
            v.chunk_decoder(Some(ChecksumAlgorithm::Crc32)).unwrap(),
            &body,
            step,
        );
        assert_eq!(
            r,
            Ok(Trailers {
                checksum: Some((ChecksumAlgorithm::Crc32, good.clone()))
            })
        );
        assert_eq!(out, data);
    }
    // Checksum of other data, correctly signed: BadDigest.
    let bad = crc32_b64(b"other");
    let body = signer.chunked_body(
        Some(&seed),
        &chunks,
        Some(&[("x-amz-checksum-crc32", &bad)]),
    );
    let (_, r) = decode(
        v.chunk_decoder(Some(ChecksumAlgorithm::Crc32)).unwrap(),
        &body,
        4096,
    );
    assert_eq!(r, Err(AuthError::BadDigest));
    // Checksum altered after signing: the trailer signature no longer matches.
    let body = signer.chunked_body(
        Some(&seed),
        &chunks,
        Some(&[("x-amz-checksum-crc32", &good)]),
    );
    let mut body = body;
    let at = body.len() - good.len() - 100;
    let pos = at
        + body[at..]
            .windows(good.len())
            .position(|w| w == good.as_bytes())
            .unwrap();
    body[pos..pos + bad.len()].copy_from_slice(bad.as_bytes());
    let (_, r) = decode(
        v.chunk_decoder(Some(ChecksumAlgorithm::Crc32)).unwrap(),
        &body,
        4096,
    );
    assert_eq!(r, Err(AuthError::SignatureDoesNotMatch));
    // Trailer signature missing.
    let unsigned =
        Signer::chunked_body(&signer, None, &[], Some(&[("x-amz-checksum-crc32", &good)]));
    let mut body = signer.chunked_body(Some(&seed), &chunks, None);
    body.truncate(body.len() - 2);
    body.extend_from_slice(&unsigned[3..]);
    let (_, r) = decode(
        v.chunk_decoder(Some(ChecksumAlgorithm::Crc32)).unwrap(),
        &body,
        4096,
    );
    assert_eq!(r, Err(AuthError::SignatureDoesNotMatch));
}

#[test]
fn unsigned_payload_with_crc32_trailer() {
    let signer = Signer::s3(NOW);
    let data = b"hello aws-chunked world".repeat(1000);
    let (v, _) = streaming_put(&signer, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", data.len());
    let chunks: Vec<&[u8]> = data.chunks(8192).collect();
    let good = crc32_b64(&data);
    let body = signer.chunked_body(None, &chunks, Some(&[("x-amz-checksum-crc32", &good)]));
    for step in [body.len(), 1, 7, 4096] {
        let (out, r) = decode(
            v.chunk_decoder(Some(ChecksumAlgorithm::Crc32)).unwrap(),
            &body,
            step,
        );
        assert_eq!(r.unwrap().checksum.unwrap().1, good);
        assert_eq!(out, data);
    }
    let body = signer.chunked_body(None, &chunks, Some(&[("x-amz-checksum-crc32", "AAAAAA==")]));
    let (_, r) = decode(
        v.chunk_decoder(Some(ChecksumAlgorithm::Crc32)).unwrap(),
        &body,
        4096,
    );
    assert_eq!(r.unwrap_err().code(), "BadDigest");
    // Declared trailer never sent.
    let body = signer.chunked_body(None, &chunks, Some(&[]));
    let (_, r) = decode(
        v.chunk_decoder(Some(ChecksumAlgorithm::Crc32)).unwrap(),
        &body,
        4096,
    );
    assert!(r.is_err());
    // Another algorithm than declared.
    let body = signer.chunked_body(
        None,
        &chunks,
        Some(&[("x-amz-checksum-crc32c", "AAAAAA==")]),
    );
    let (_, r) = decode(
        v.chunk_decoder(Some(ChecksumAlgorithm::Crc32)).unwrap(),
        &body,
        4096,
    );
    assert!(r.is_err());
    // Decoded length differs from x-amz-decoded-content-length.
    let body = signer.chunked_body(None, &chunks[1..], Some(&[("x-amz-checksum-crc32", &good)]));
    let (_, r) = decode(
        v.chunk_decoder(Some(ChecksumAlgorithm::Crc32)).unwrap(),
        &body,
        4096,
    );
    assert_eq!(r, Err(AuthError::IncompleteBody));
}

/// A verified header-signed PUT declaring `mode` in `x-amz-content-sha256`, without trailer.
fn verified_put(mode: &str) -> Verified {
    let signer = Signer::s3(NOW);
    let mut headers = hdrs(&[("host", "h"), ("x-amz-content-sha256", mode)]);
    signer.sign_headers("PUT", "/b/k", &mut headers, mode, None);
    let req = Req::new("PUT", "/b/k", &headers);
    let p = parse(&req.view(), NOW, &Config::default())
        .unwrap()
        .unwrap();
    let secret = SecretKey::from(signer.secret.clone());
    p.verify(&secret, &SigningKeyCache::new(1), None).unwrap()
}

fn unsigned_decoder() -> ChunkDecoder {
    verified_put("STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        .chunk_decoder(None)
        .unwrap()
}

#[test]
fn malformed_framing_is_rejected_without_panicking() {
    let cases: &[(&[u8], &str)] = &[
        (b"ffffffffffffffffff\r\n", "InvalidRequest"), // size overflows u64
        (b"zz\r\n", "InvalidRequest"),                 // not hex
        (b"\r\n", "InvalidRequest"),                   // empty size
        (b"3\nabc\r\n0\r\n\r\n", "InvalidRequest"),    // LF without CR
        (b"3\r\nabcX\r\n0\r\n\r\n", "InvalidRequest"), // missing CRLF after data
        (b"0\r\nno-colon\r\n\r\n", "InvalidRequest"),  // bad trailer line
        (b"0\r\n\r\nextra", "InvalidRequest"),         // bytes after the end
        (b"3\r\nab", "IncompleteBody"),                // truncated data
        (b"3\r\nabc\r\n", "IncompleteBody"),           // no final chunk
        (b"3", "IncompleteBody"),                      // truncated size line
    ];
    for (body, code) in cases {
        for step in [1, 3, 100] {
            let (_, r) = decode(unsigned_decoder(), body, step);
            assert_eq!(
                r.unwrap_err().code(),
                *code,
                "{:?} step {step}",
                String::from_utf8_lossy(body)
            );
        }
    }
    // Over-long size line: capped, not buffered without bound.
    let mut long = b"1".to_vec();
    long.extend(std::iter::repeat_n(b'0', 10_000));
    let (_, r) = decode(unsigned_decoder(), &long, 1000);
    assert_eq!(r.unwrap_err().code(), "InvalidRequest");
    // Absurd but representable size: waits for data, then reports the body incomplete.
    let (_, r) = decode(unsigned_decoder(), b"7fffffffffffffff\r\nabc", 2);
    assert_eq!(r, Err(AuthError::IncompleteBody));
    // Unknown chunk extensions are ignored.
    let (out, r) = decode(
        unsigned_decoder(),
        b"3;foo=bar;baz\r\nabc\r\n0;x=y\r\n\r\n",
        2,
    );
    assert_eq!((out, r), (b"abc".to_vec(), Ok(Trailers { checksum: None })));
    // Pseudo-random garbage never panics.
    const ALPHABET: &[u8] = b"0123456789abcdef;=\r\n:x-";
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..300 {
        let body: Vec<u8> = (0..200)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ALPHABET[(x % ALPHABET.len() as u64) as usize]
            })
            .collect();
        let _ = decode(unsigned_decoder(), &body, (x % 17) as usize + 1);
    }
}

#[test]
fn not_streaming_has_no_decoder() {
    let v = verified_put("UNSIGNED-PAYLOAD");
    assert_eq!(v.chunk_decoder(None).unwrap_err(), AuthError::NotChunked);
}
