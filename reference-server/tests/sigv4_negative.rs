//! SigV4 negative tests over the wire (SPEC V1–V8, U4, X5, "Errors and wire format").
//!
//! Every request is signed by AWS's own `aws-sigv4` crate (never the server's verifier, so a
//! shared bug cannot hide), sent as raw HTTP/1.1 over a TCP socket, and then altered on purpose:
//! a header dropped or added after signing, a date moved, a chunk signature flipped. Each test
//! is named after the rule it checks and asserts the status, the `<Code>` of the XML body and
//! the `x-amz-request-id` header. The robustness tests at the end send malformed framing and
//! garbage headers and accept a 4xx with an S3 error code or a closed connection, never a 5xx.

mod common;

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use common::{TestServer, ROOT_AK, ROOT_SK};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1 requests and responses.
// ---------------------------------------------------------------------------------------------

/// A request as bytes on the wire: nothing is added but `content-length` (when absent) and
/// `connection: close`.
#[derive(Clone)]
struct Req {
    method: &'static str,
    /// Path and query exactly as sent (already percent-encoded).
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// A response read to EOF.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `<Code>` of an S3 error body.
    fn code(&self) -> Option<String> {
        let text = self.text();
        let start = text.find("<Code>")? + "<Code>".len();
        let end = text[start..].find("</Code>")? + start;
        Some(text[start..end].to_owned())
    }
}

impl Req {
    fn new(method: &'static str, target: impl Into<String>) -> Req {
        Req {
            method,
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Req {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.body = body.into();
        self
    }

    fn without(mut self, name: &str) -> Req {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self
    }

    fn replace(self, name: &str, value: impl AsRef<[u8]>) -> Req {
        self.without(name).header(name, value)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    fn head_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.target).into_bytes();
        for (k, v) in &self.headers {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        if self.get("content-length").is_none() {
            out.extend_from_slice(format!("content-length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"connection: close\r\n\r\n");
        out
    }

    /// Sends the request and reads the response; panics if the server answered nothing.
    async fn send(&self, t: &TestServer) -> Resp {
        let head = self.head_bytes();
        exchange(t, &head, &self.body, false)
            .await
            .unwrap_or_else(|| panic!("no response to {} {}", self.method, self.target))
    }
}

/// Writes `head` and `body`, half-closes if asked (a client that gives up sending), reads to
/// EOF (`connection: close`). `None`: closed without a response.
async fn exchange(t: &TestServer, head: &[u8], body: &[u8], half_close: bool) -> Option<Resp> {
    let io = async {
        let mut stream = tokio::net::TcpStream::connect(t.server.addr())
            .await
            .unwrap();
        // The server may answer and close before reading everything: write errors are fine.
        let written = stream.write_all(head).await.is_ok() && stream.write_all(body).await.is_ok();
        if written && half_close {
            let _ = stream.shutdown().await;
        }
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
        raw
    };
    let raw = tokio::time::timeout(Duration::from_secs(20), io)
        .await
        .expect("the server neither answered nor closed the connection within 20 s");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Option<Resp> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.get(9..12)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Some(Resp {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let line = String::from_utf8_lossy(&data[..eol]);
        let size =
            usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        data = &data[eol + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

/// Asserts an S3 error response: status, `<Code>`, `x-amz-request-id`.
#[track_caller]
fn assert_error(resp: &Resp, status: u16, code: &str) {
    assert_eq!(
        (resp.status, resp.code().as_deref()),
        (status, Some(code)),
        "{resp:?} {}",
        resp.text()
    );
    assert!(
        resp.header("x-amz-request-id")
            .is_some_and(|v| !v.is_empty()),
        "no x-amz-request-id: {resp:?}"
    );
    assert!(
        resp.header("content-type")
            .is_some_and(|v| v.contains("xml")),
        "an S3 error is XML: {resp:?}"
    );
}

#[track_caller]
fn assert_ok(resp: &Resp) {
    assert!(
        (200..300).contains(&resp.status),
        "expected success, got {resp:?} {}",
        resp.text()
    );
    assert!(resp.header("x-amz-request-id").is_some(), "{resp:?}");
}

/// Robustness: a 4xx carrying an S3 error code, or a connection closed without a response.
#[track_caller]
fn assert_refused_or_closed(resp: &Option<Resp>, what: &str) {
    match resp {
        Some(r) => eprintln!("{what}: {} {:?}", r.status, r.code()),
        None => eprintln!("{what}: connection closed"),
    }
    if let Some(resp) = resp {
        assert!(
            (400..500).contains(&resp.status) && resp.code().is_some(),
            "{what}: expected a 4xx S3 error or a closed connection, got {resp:?} {}",
            resp.text()
        );
        assert!(
            resp.header("x-amz-request-id").is_some(),
            "{what}: {resp:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Signing with aws-sigv4.
// ---------------------------------------------------------------------------------------------

/// What goes on the canonical request's payload line.
#[derive(Clone)]
enum Payload {
    /// The SHA-256 of the request body, sent as `x-amz-content-sha256`.
    BodyHash,
    /// This literal value (a keyword or a hex hash), sent as `x-amz-content-sha256`.
    Declared(&'static str),
    Hex(String),
    /// No `x-amz-content-sha256` header (the server hashes the body as received).
    NoHeader,
}

#[derive(Clone)]
struct Signer<'a> {
    ak: &'a str,
    sk: &'a str,
    region: &'a str,
    service: &'a str,
    time: SystemTime,
    payload: Payload,
}

fn root() -> Signer<'static> {
    Signer {
        ak: ROOT_AK,
        sk: ROOT_SK,
        region: "us-east-1",
        service: "s3",
        time: SystemTime::now(),
        payload: Payload::BodyHash,
    }
}

impl<'a> Signer<'a> {
    fn settings(&self, location: SignatureLocation, expires: Option<u64>) -> SigningSettings {
        let mut s = SigningSettings::default();
        s.percent_encoding_mode = PercentEncodingMode::Single;
        s.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        s.payload_checksum_kind = match self.payload {
            Payload::NoHeader => PayloadChecksumKind::NoHeader,
            _ if location == SignatureLocation::QueryParams => PayloadChecksumKind::NoHeader,
            _ => PayloadChecksumKind::XAmzSha256,
        };
        s.signature_location = location;
        s.expires_in = expires.map(Duration::from_secs);
        s
    }

    /// Signs `req` (whose headers must already hold `host`) in the `Authorization` header;
    /// returns the signed request and the signature (the seed of an aws-chunked body).
    fn sign(&self, mut req: Req) -> (Req, String) {
        let (headers, signature) = self.run(&req, SignatureLocation::Headers, None);
        for (k, v) in headers {
            req = req.header(&k, v);
        }
        (req, signature)
    }

    /// Presigns `req` (its headers must hold `host`): the `X-Amz-*` parameters in order.
    fn presign(&self, req: &Req, expires: u64) -> Vec<(String, String)> {
        self.run(req, SignatureLocation::QueryParams, Some(expires))
            .0
    }

    fn run(
        &self,
        req: &Req,
        location: SignatureLocation,
        expires: Option<u64>,
    ) -> (Vec<(String, String)>, String) {
        let host = req.get("host").expect("sign a request with a host header");
        let uri = format!("http://{host}{}", req.target);
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), std::str::from_utf8(v).expect("ASCII header")))
            .collect();
        let body = match &self.payload {
            // A presigned URL's payload is UNSIGNED-PAYLOAD, as the SDKs presign.
            _ if location == SignatureLocation::QueryParams => SignableBody::UnsignedPayload,
            Payload::BodyHash | Payload::NoHeader => SignableBody::Bytes(&req.body),
            Payload::Declared("UNSIGNED-PAYLOAD") => SignableBody::UnsignedPayload,
            Payload::Declared(v) => SignableBody::Precomputed((*v).to_owned()),
            Payload::Hex(v) => SignableBody::Precomputed(v.clone()),
        };
        let identity = Credentials::new(self.ak, self.sk, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name(self.service)
            .time(self.time)
            .settings(self.settings(location, expires))
            .build()
            .unwrap()
            .into();
        let signable =
            SignableRequest::new(req.method, uri, headers.into_iter(), body).expect("signable");
        let (instructions, signature) = sign(signable, &params).expect("signs").into_parts();
        let mut out: Vec<(String, String)> = instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        out.extend(
            instructions
                .params()
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_string())),
        );
        (out, signature)
    }

    /// Signs one aws-chunked chunk with aws-sigv4's `sign_chunk`.
    fn chunk_signature(&self, chunk: &[u8], previous: &str) -> String {
        let identity = Credentials::new(self.ak, self.sk, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name(self.service)
            .time(self.time)
            .settings(())
            .build()
            .unwrap();
        v4::sign_chunk(&bytes::Bytes::copy_from_slice(chunk), previous, &params)
            .unwrap()
            .signature()
            .to_owned()
    }
}

/// Percent-encodes a query value (everything but the unreserved set).
fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `target` with the presign parameters appended, leaving out `skip`.
fn with_query(target: &str, params: &[(String, String)], skip: Option<&str>) -> String {
    let mut out = target.to_owned();
    for (k, v) in params.iter().filter(|(k, _)| Some(k.as_str()) != skip) {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(&format!("{k}={}", enc(v)));
    }
    out
}

fn host(t: &TestServer) -> String {
    t.server.addr().to_string()
}

/// A request to `target` with only its `host` header.
fn req(t: &TestServer, method: &'static str, target: &str) -> Req {
    Req::new(method, target).header("host", host(t))
}

/// A time whose whole-second `X-Amz-Date` lies `secs` from the server clock, rounded toward
/// "now" (`toward_now`: the skew is at most |secs|) or away from it (at least |secs|). The
/// server clock keeps milliseconds while `X-Amz-Date` truncates them, so this matters at the
/// edge of a 15-minute window.
fn shifted(secs: i64, toward_now: bool) -> SystemTime {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // floor(now) is at most `now`; floor(now) + 1 is later than `now`.
    let base = if (secs >= 0) == toward_now {
        now
    } else {
        now + 1
    };
    UNIX_EPOCH + Duration::from_secs((base + secs) as u64)
}

async fn bucket(t: &TestServer, name: &str) {
    t.root_s3()
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .unwrap();
}

async fn put_plain(t: &TestServer, target: &str, body: &[u8]) -> Resp {
    let (r, _) = root().sign(req(t, "PUT", target).body(body.to_vec()));
    r.send(t).await
}

async fn get_plain(t: &TestServer, target: &str) -> Resp {
    let (r, _) = root().sign(req(t, "GET", target));
    r.send(t).await
}

// ---------------------------------------------------------------------------------------------
// V1: SigV2 refused; unsupported algorithm (V4).
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn v1_sigv2_header_is_invalid_request() {
    let t = TestServer::start().await;
    let resp = req(&t, "GET", "/")
        .header("date", "Tue, 27 Mar 2007 19:36:42 +0000")
        .header(
            "authorization",
            format!("AWS {ROOT_AK}:bWq2s1WEIj+Ydj0vQ697zp+IXMU="),
        )
        .send(&t)
        .await;
    assert_error(&resp, 400, "InvalidRequest");
}

#[tokio::test]
async fn v1_sigv2_query_is_invalid_request() {
    let t = TestServer::start().await;
    bucket(&t, "kv1").await;
    let target = format!(
        "/kv1/k?AWSAccessKeyId={ROOT_AK}&Expires=4102444800&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D"
    );
    let resp = req(&t, "GET", &target).send(&t).await;
    assert_error(&resp, 400, "InvalidRequest");
}

#[tokio::test]
async fn v4_unsupported_algorithm_is_invalid_request() {
    let t = TestServer::start().await;
    let (signed, _) = root().sign(req(&t, "GET", "/"));
    let auth = signed.get("authorization").unwrap().to_owned();
    for alg in [
        "AWS4-HMAC-SHA512",
        "AWS4-ECDSA-P256-SHA256",
        "aws4-hmac-sha256",
    ] {
        let forged = auth.replacen("AWS4-HMAC-SHA256", alg, 1);
        let resp = signed
            .clone()
            .replace("authorization", forged)
            .send(&t)
            .await;
        assert_error(&resp, 400, "InvalidRequest");
    }
    // The same in a presigned URL.
    let r = req(&t, "GET", "/");
    let params = root().presign(&r, 300);
    let mut target = with_query("/", &params, Some("X-Amz-Algorithm"));
    target.push_str("&X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256");
    let resp = req(&t, "GET", &target).send(&t).await;
    assert_error(&resp, 400, "InvalidRequest");
}

// ---------------------------------------------------------------------------------------------
// V2: payload hashes, aws-chunked, trailers, Content-MD5.
// ---------------------------------------------------------------------------------------------

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
fn chunked_body(chunks: &[&[u8]], sigs: &[String]) -> Vec<u8> {
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

fn chunked_len(chunks: &[&[u8]]) -> usize {
    chunks
        .iter()
        .copied()
        .chain(std::iter::once(&b""[..]))
        .map(|c| format!("{:x}", c.len()).len() + ";chunk-signature=".len() + 64 + 4 + c.len())
        .sum()
}

/// A `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` PUT of `chunks`: the signed request and the chunk
/// signatures (the last one for the final empty chunk).
fn streaming_put(t: &TestServer, target: &str, chunks: &[&[u8]]) -> (Req, Vec<String>) {
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
fn crc32(data: &[u8]) -> u32 {
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

fn unsigned_trailer_put(t: &TestServer, target: &str, data: &[u8], crc_b64: &str) -> Req {
    let trailer = format!("x-amz-checksum-crc32:{crc_b64}\r\n");
    unsigned_trailer_put_raw(t, target, data, &trailer)
}

/// A `STREAMING-UNSIGNED-PAYLOAD-TRAILER` PUT of one chunk declaring an
/// `x-amz-checksum-crc32` trailer, followed by the CRLF-terminated `trailer` lines as given.
fn unsigned_trailer_put_raw(t: &TestServer, target: &str, data: &[u8], trailer: &str) -> Req {
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

// ---------------------------------------------------------------------------------------------
// V3: dates and clock skew.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn v3_skew_up_to_15_minutes_is_accepted() {
    let t = TestServer::start().await;
    for secs in [899, -899] {
        let signer = Signer {
            time: shifted(secs, true),
            ..root()
        };
        let (r, _) = signer.sign(req(&t, "GET", "/"));
        assert_ok(&r.send(&t).await);
    }
}

#[tokio::test]
async fn v3_skew_over_15_minutes_is_request_time_too_skewed() {
    let t = TestServer::start().await;
    for secs in [901, -901, 86_400, -86_400] {
        let signer = Signer {
            time: shifted(secs, false),
            ..root()
        };
        let (r, _) = signer.sign(req(&t, "GET", "/"));
        assert_error(&r.send(&t).await, 403, "RequestTimeTooSkewed");
    }
    // The server clock moving forward makes a fresh signature skewed too.
    let (r, _) = root().sign(req(&t, "GET", "/"));
    t.server.advance_clock(16 * 60);
    assert_error(&r.send(&t).await, 403, "RequestTimeTooSkewed");
}

#[tokio::test]
async fn v3_skew_is_checked_before_the_access_key() {
    let t = TestServer::start().await;
    for secs in [901, -901] {
        let signer = Signer {
            ak: "NOSUCHKEY0000000",
            time: shifted(secs, false),
            ..root()
        };
        let (r, _) = signer.sign(req(&t, "GET", "/"));
        assert_error(&r.send(&t).await, 403, "RequestTimeTooSkewed");
    }
}

#[tokio::test]
async fn v3_missing_date_is_access_denied() {
    let t = TestServer::start().await;
    let (r, _) = root().sign(req(&t, "GET", "/"));
    let resp = r.without("x-amz-date").send(&t).await;
    assert_error(&resp, 403, "AccessDenied");
}

#[tokio::test]
async fn v3_unparseable_date_is_access_denied() {
    let t = TestServer::start().await;
    let (r, _) = root().sign(req(&t, "GET", "/"));
    for bad in ["yesterday", "20251301T000000Z", "2025-01-01T00:00:00Z", ""] {
        let resp = r.clone().replace("x-amz-date", bad).send(&t).await;
        assert_error(&resp, 403, "AccessDenied");
    }
    // Only a `Date` header, and an unparseable one.
    let resp = r
        .clone()
        .without("x-amz-date")
        .header("date", "not a date")
        .send(&t)
        .await;
    assert_error(&resp, 403, "AccessDenied");
}

// ---------------------------------------------------------------------------------------------
// U4: access key and secret.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn u4_unknown_access_key_is_invalid_access_key_id() {
    let t = TestServer::start().await;
    let signer = Signer {
        ak: "AKIANOSUCHKEY0000000",
        ..root()
    };
    let (r, _) = signer.sign(req(&t, "GET", "/"));
    assert_error(&r.send(&t).await, 403, "InvalidAccessKeyId");
}

#[tokio::test]
async fn u4_wrong_secret_is_signature_does_not_match() {
    let t = TestServer::start().await;
    let signer = Signer {
        sk: "not-the-root-secret",
        ..root()
    };
    let (r, _) = signer.sign(req(&t, "GET", "/"));
    let resp = r.send(&t).await;
    assert_error(&resp, 403, "SignatureDoesNotMatch");
    assert!(
        !resp.text().contains(ROOT_SK),
        "the secret never appears in an error (V7)"
    );
}

// ---------------------------------------------------------------------------------------------
// V4: credential scope and header shape.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn v4_wrong_region_is_authorization_header_malformed() {
    let t = TestServer::start().await;
    let signer = Signer {
        region: "eu-west-1",
        ..root()
    };
    let (r, _) = signer.sign(req(&t, "GET", "/"));
    let resp = r.send(&t).await;
    assert_error(&resp, 400, "AuthorizationHeaderMalformed");
}

#[tokio::test]
async fn v4_wrong_service_is_authorization_header_malformed() {
    let t = TestServer::start().await;
    for service in ["iam", "execute-api", "S3"] {
        let signer = Signer { service, ..root() };
        let (r, _) = signer.sign(req(&t, "GET", "/"));
        assert_error(&r.send(&t).await, 400, "AuthorizationHeaderMalformed");
    }
}

#[tokio::test]
async fn v4_malformed_authorization_header_is_authorization_header_malformed() {
    let t = TestServer::start().await;
    let (signed, _) = root().sign(req(&t, "GET", "/"));
    let auth = signed.get("authorization").unwrap().to_owned();
    let (alg, rest) = auth.split_once(' ').unwrap();
    let fields: Vec<&str> = rest.split(", ").collect();
    let [cred, headers, sig] = fields[..] else {
        panic!("unexpected Authorization shape: {auth}")
    };
    let cred_value = cred.strip_prefix("Credential=").unwrap();
    let scope_date = cred_value.split('/').nth(1).unwrap();
    let forged = [
        // A field missing.
        format!("{alg} {cred}, {sig}"),
        format!("{alg} {headers}, {sig}"),
        format!("{alg} {cred}, {headers}"),
        // Bad credential scopes.
        format!("{alg} Credential={ROOT_AK}/{scope_date}/us-east-1/s3, {headers}, {sig}"),
        format!(
            "{alg} Credential={ROOT_AK}/{scope_date}/us-east-1/s3/aws5_request, {headers}, {sig}"
        ),
        format!("{alg} Credential={ROOT_AK}/2025-1-1/us-east-1/s3/aws4_request, {headers}, {sig}"),
        format!("{alg} Credential={ROOT_AK}, {headers}, {sig}"),
        format!("{alg} Credential=, {headers}, {sig}"),
        // A signature that is not 64 hex digits, an empty SignedHeaders, a stray field.
        format!("{alg} {cred}, {headers}, Signature=xyz"),
        format!("{alg} {cred}, SignedHeaders=, {sig}"),
        format!("{alg} {cred}, {headers}, {sig}, Extra=1"),
    ];
    for value in forged {
        let resp = signed
            .clone()
            .replace("authorization", &value)
            .send(&t)
            .await;
        assert_eq!(
            (resp.status, resp.code().as_deref()),
            (400, Some("AuthorizationHeaderMalformed")),
            "Authorization: {value}\n{}",
            resp.text()
        );
        assert_error(&resp, 400, "AuthorizationHeaderMalformed");
    }
}

// ---------------------------------------------------------------------------------------------
// V5: signed headers.
// ---------------------------------------------------------------------------------------------

/// `yyyymmddThhmmssZ` and `yyyymmdd` of `t`.
fn amz_dates(t: SystemTime) -> (String, String) {
    let dt = time::OffsetDateTime::from(t);
    let date = format!("{:04}{:02}{:02}", dt.year(), u8::from(dt.month()), dt.day());
    let full = format!(
        "{date}T{:02}{:02}{:02}Z",
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    (full, date)
}

/// A GET signed by hand (AWS "Create a canonical request", step by step) with exactly the
/// headers in `signed`, all of which `req` must carry; aws-sigv4 always signs `host`.
fn hand_signed_get(req: Req, signed: &[&str]) -> Req {
    let when = SystemTime::now();
    let (amz_date, date) = amz_dates(when);
    let req = req
        .header("x-amz-date", &amz_date)
        .header("x-amz-content-sha256", EMPTY_SHA256);
    let mut names: Vec<&str> = signed.to_vec();
    names.sort_unstable();
    let canonical_headers: String = names
        .iter()
        .map(|n| format!("{n}:{}\n", req.get(n).unwrap().trim()))
        .collect();
    let signed_headers = names.join(";");
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let canonical =
        format!("GET\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{EMPTY_SHA256}");
    let scope = format!("{date}/us-east-1/s3/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = v4::generate_signing_key(ROOT_SK, when, "us-east-1", "s3");
    let signature = v4::calculate_signature(key, string_to_sign.as_bytes());
    req.header(
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={ROOT_AK}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
        ),
    )
}

#[tokio::test]
async fn v5_host_not_signed_is_access_denied() {
    let t = TestServer::start().await;
    // Control: the hand signer is right when host is signed.
    let resp = hand_signed_get(
        req(&t, "GET", "/"),
        &["host", "x-amz-content-sha256", "x-amz-date"],
    )
    .send(&t)
    .await;
    assert_ok(&resp);
    let resp = hand_signed_get(req(&t, "GET", "/"), &["x-amz-content-sha256", "x-amz-date"])
        .send(&t)
        .await;
    assert_error(&resp, 403, "AccessDenied");
}

#[tokio::test]
async fn v5_unsigned_amz_header_is_access_denied() {
    let t = TestServer::start().await;
    bucket(&t, "kv5").await;
    let (r, _) = root().sign(req(&t, "PUT", "/kv5/k").body(b"x".to_vec()));
    for (name, value) in [
        ("x-amz-meta-extra", "1"),
        ("x-amz-acl", "public-read"),
        ("X-Amz-Tagging", "a=b"),
    ] {
        let resp = r.clone().header(name, value).send(&t).await;
        assert_error(&resp, 403, "AccessDenied");
    }
    // A signed x-amz-* header is fine; a non-amz unsigned one too.
    let (r, _) = root().sign(
        req(&t, "PUT", "/kv5/k")
            .header("x-amz-meta-extra", "1")
            .body(b"x".to_vec()),
    );
    assert_ok(&r.header("x-custom-unsigned", "1").send(&t).await);
    assert_error(&get_plain(&t, "/kv5/missing").await, 404, "NoSuchKey");
}

// ---------------------------------------------------------------------------------------------
// V6: presigned URLs.
// ---------------------------------------------------------------------------------------------

const PRESIGN_PARAMS: [&str; 6] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
];

async fn presign_setup(t: &TestServer) {
    bucket(t, "kv6").await;
    assert_ok(&put_plain(t, "/kv6/k", b"presigned").await);
}

#[tokio::test]
async fn v6_each_missing_presign_parameter_is_authorization_query_parameters_error() {
    let t = TestServer::start().await;
    presign_setup(&t).await;
    let r = req(&t, "GET", "/kv6/k");
    let params = root().presign(&r, 300);
    let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    for p in PRESIGN_PARAMS {
        assert!(names.contains(&p), "aws-sigv4 emits {p}: {names:?}");
    }
    let resp = req(&t, "GET", &with_query("/kv6/k", &params, None))
        .send(&t)
        .await;
    assert_ok(&resp);
    assert_eq!(resp.body, b"presigned");
    for missing in PRESIGN_PARAMS {
        let target = with_query("/kv6/k", &params, Some(missing));
        let resp = req(&t, "GET", &target).send(&t).await;
        assert_eq!(
            (resp.status, resp.code().as_deref()),
            (400, Some("AuthorizationQueryParametersError")),
            "without {missing}: {}",
            resp.text()
        );
        assert_error(&resp, 400, "AuthorizationQueryParametersError");
    }
}

#[tokio::test]
async fn v6_expires_out_of_range_is_authorization_query_parameters_error() {
    let t = TestServer::start().await;
    presign_setup(&t).await;
    let r = req(&t, "GET", "/kv6/k");
    for expires in ["0", "604801", "-1", "abc", ""] {
        let params: Vec<(String, String)> = root()
            .presign(&r, 300)
            .into_iter()
            .map(|(k, v)| match k.as_str() {
                "X-Amz-Expires" => (k, expires.to_owned()),
                _ => (k, v),
            })
            .collect();
        let resp = req(&t, "GET", &with_query("/kv6/k", &params, None))
            .send(&t)
            .await;
        assert_eq!(
            (resp.status, resp.code().as_deref()),
            (400, Some("AuthorizationQueryParametersError")),
            "X-Amz-Expires={expires}: {}",
            resp.text()
        );
        assert_error(&resp, 400, "AuthorizationQueryParametersError");
    }
}

/// A URL presigned for `expires` seconds works until 5 s before it ends and is refused 5 s
/// after, with 403 AccessDenied "Request has expired" (the server clock is moved, not waited).
async fn assert_presigned_lifetime(expires: u64) {
    let t = TestServer::start().await;
    presign_setup(&t).await;
    let r = req(&t, "GET", "/kv6/k");
    let params = root().presign(&r, expires);
    assert!(params.contains(&("X-Amz-Expires".to_owned(), expires.to_string())));
    let url = with_query("/kv6/k", &params, None);
    assert_ok(&req(&t, "GET", &url).send(&t).await);
    t.server.advance_clock(expires as i64 - 5);
    assert_ok(&req(&t, "GET", &url).send(&t).await);
    t.server.advance_clock(10);
    let resp = req(&t, "GET", &url).send(&t).await;
    assert_error(&resp, 403, "AccessDenied");
    assert!(
        resp.text().contains("Request has expired"),
        "{}",
        resp.text()
    );
}

#[tokio::test]
async fn v6_expires_604800_is_accepted_until_it_expires() {
    assert_presigned_lifetime(604_800).await;
}

#[tokio::test]
async fn v6_expired_presigned_url_is_access_denied() {
    assert_presigned_lifetime(60).await;
}

#[tokio::test]
async fn v6_presigned_dated_over_15_minutes_ahead_is_access_denied() {
    let t = TestServer::start().await;
    presign_setup(&t).await;
    let r = req(&t, "GET", "/kv6/k");
    let ahead = Signer {
        time: shifted(14 * 60, true),
        ..root()
    };
    let url = with_query("/kv6/k", &ahead.presign(&r, 3600), None);
    assert_ok(&req(&t, "GET", &url).send(&t).await);
    for secs in [901, 16 * 60, 86_400] {
        let ahead = Signer {
            time: shifted(secs, false),
            ..root()
        };
        let url = with_query("/kv6/k", &ahead.presign(&r, 3600), None);
        let resp = req(&t, "GET", &url).send(&t).await;
        assert_error(&resp, 403, "AccessDenied");
    }
}

// ---------------------------------------------------------------------------------------------
// V8: HEAD errors.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn v8_head_errors_have_status_and_no_body() {
    let t = TestServer::start().await;
    bucket(&t, "kv8").await;
    let (r, _) = root().sign(req(&t, "HEAD", "/kv8/missing"));
    let resp = r.send(&t).await;
    assert_eq!(resp.status, 404, "{resp:?}");
    assert!(resp.body.is_empty(), "{resp:?}");
    assert!(resp.header("x-amz-request-id").is_some());

    let signer = Signer {
        sk: "wrong-secret",
        ..root()
    };
    let (r, _) = signer.sign(req(&t, "HEAD", "/kv8/missing"));
    let resp = r.send(&t).await;
    assert_eq!(resp.status, 403, "{resp:?}");
    assert!(resp.body.is_empty(), "{resp:?}");
    assert!(resp.header("x-amz-request-id").is_some());

    let (r, _) = root().sign(req(&t, "HEAD", "/no-such-bucket"));
    let resp = r.send(&t).await;
    assert_eq!(resp.status, 404, "{resp:?}");
    assert!(resp.body.is_empty(), "{resp:?}");
}

// ---------------------------------------------------------------------------------------------
// X5: keys that would escape the bucket.
// ---------------------------------------------------------------------------------------------

/// `path` with `.` and `..` resolved lexically.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn files_named(dir: &Path, marker: &str, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.to_string_lossy().contains(marker) {
            found.push(path.clone());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            files_named(&path, marker, found);
        }
    }
}

#[tokio::test]
async fn x5_escaping_keys_are_invalid_argument() {
    let t = TestServer::start().await;
    bucket(&t, "kx5").await;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let marker = format!("kgesc{}x{nanos}", std::process::id());
    let keys = [
        format!("../{marker}"),
        format!("../../{marker}"),
        format!("a/../../{marker}"),
        format!("a/../{marker}"),
        format!("%2E%2E/%2E%2E/{marker}"),
        format!("a%2F..%2F..%2F{marker}"),
        format!("./{marker}"),
        format!("a//{marker}"),
        format!("/{marker}"),
        format!("a%00/{marker}"),
        format!("{marker}%00.txt"),
        "..".to_owned(),
    ];
    for key in &keys {
        let target = format!("/kx5/{key}");
        // Signed over the canonical form of the path (each segment decoded, then encoded
        // once, as the S3 canonical URI is), sent as written.
        let canonical = target.replace("%2E", ".");
        let (mut r, _) = root().sign(req(&t, "PUT", &canonical).body(b"escape".to_vec()));
        r.target = target.clone();
        let resp = r.send(&t).await;
        assert_eq!(
            (resp.status, resp.code().as_deref()),
            (400, Some("InvalidArgument")),
            "PUT {target}: {}",
            resp.text()
        );
        assert_error(&resp, 400, "InvalidArgument");
        if key.contains(&marker) {
            let decoded = key.replace("%2E", ".").replace("%2F", "/");
            let joined = lexical(&t.server.data_dir().join("kx5").join(decoded));
            assert!(!joined.exists(), "{} was created", joined.display());
        }
    }
    // Nothing with the marker anywhere under the data dir's parent (the temp root).
    let root = t.dir.path().parent().unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        if entry.path().to_string_lossy().contains(&marker) {
            found.push(entry.path());
        }
    }
    files_named(t.dir.path(), &marker, &mut found);
    assert!(found.is_empty(), "created outside the bucket: {found:?}");
}

#[tokio::test]
async fn x5_key_over_1024_bytes_is_key_too_long() {
    let t = TestServer::start().await;
    bucket(&t, "kx5").await;
    // Five segments (each under the 255-byte segment limit) joined by '/'.
    let key_of = |len: usize| {
        let seg = (len - 4) / 5;
        let last = len - 4 - 4 * seg;
        let mut parts = vec!["k".repeat(seg); 4];
        parts.push("z".repeat(last));
        parts.join("/")
    };
    let ok = key_of(1024);
    assert_eq!(ok.len(), 1024);
    assert_ok(&put_plain(&t, &format!("/kx5/{ok}"), b"max").await);
    assert_eq!(get_plain(&t, &format!("/kx5/{ok}")).await.body, b"max");
    let long = key_of(1025);
    assert_eq!(long.len(), 1025);
    let resp = put_plain(&t, &format!("/kx5/{long}"), b"long").await;
    assert_error(&resp, 400, "KeyTooLongError");
}

// ---------------------------------------------------------------------------------------------
// Robustness: malformed framing and garbage never cause a panic or a 5xx.
// ---------------------------------------------------------------------------------------------

/// A streaming-signed PUT whose framing is replaced by `body`; the head is correctly signed.
fn framed(t: &TestServer, target: &str, body: &[u8], decoded: &str) -> Req {
    let signer = Signer {
        payload: Payload::Declared("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ..root()
    };
    let r = req(t, "PUT", target)
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", decoded);
    signer.sign(r).0.body(body.to_vec())
}

async fn send_opt(t: &TestServer, r: &Req) -> Option<Resp> {
    exchange(t, &r.head_bytes(), &r.body, false).await
}

/// The server still serves after the abuse.
async fn still_serves(t: &TestServer) {
    assert_ok(&get_plain(t, "/").await);
}

#[tokio::test]
async fn robustness_malformed_chunk_framing() {
    let t = TestServer::start().await;
    bucket(&t, "krb").await;
    let (_, sigs) = streaming_put(&t, "/krb/x", &[b"hello"]);
    let sig = &sigs[0];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "non-hex size",
            format!("zz;chunk-signature={sig}\r\nhello\r\n").into_bytes(),
            "5",
        ),
        (
            "size overflowing u64",
            format!("1ffffffffffffffffffff;chunk-signature={sig}\r\nhello\r\n").into_bytes(),
            "5",
        ),
        (
            "size u64::MAX",
            format!("ffffffffffffffff;chunk-signature={sig}\r\nhello\r\n").into_bytes(),
            "5",
        ),
        (
            "missing CRLF after data",
            format!("5;chunk-signature={sig}\r\nhelloXX0;chunk-signature={sig}\r\n\r\n")
                .into_bytes(),
            "5",
        ),
        (
            "missing CRLF after size line",
            format!("5;chunk-signature={sig}hello\r\n").into_bytes(),
            "5",
        ),
        (
            "truncated body",
            format!("400;chunk-signature={sig}\r\nhello").into_bytes(),
            "1024",
        ),
        (
            "no chunk-signature",
            b"5\r\nhello\r\n0\r\n\r\n".to_vec(),
            "5",
        ),
        ("empty body", Vec::new(), "5"),
        ("only CRLFs", b"\r\n\r\n\r\n".to_vec(), "5"),
        (
            "huge x-amz-decoded-content-length",
            format!("5;chunk-signature={sig}\r\nhello\r\n").into_bytes(),
            "18446744073709551615",
        ),
        (
            "x-amz-decoded-content-length overflowing u64",
            format!("5;chunk-signature={sig}\r\nhello\r\n").into_bytes(),
            "99999999999999999999999999",
        ),
    ];
    for (what, body, decoded) in cases {
        let r = framed(&t, "/krb/x", &body, decoded);
        let resp = send_opt(&t, &r).await;
        assert_refused_or_closed(&resp, what);
    }
    still_serves(&t).await;
    assert_error(&get_plain(&t, "/krb/x").await, 404, "NoSuchKey");
}

#[tokio::test]
async fn robustness_content_length_larger_than_the_body_then_close() {
    let t = TestServer::start().await;
    bucket(&t, "krb").await;
    // Signed over the full body, which is never fully sent.
    let (r, _) = root().sign(req(&t, "PUT", "/krb/short").body(vec![b'x'; 1000]));
    let resp = exchange(&t, &r.head_bytes(), &r.body[..10], true).await;
    assert_refused_or_closed(&resp, "content-length 1000, 10 bytes sent (signed body)");
    // UNSIGNED-PAYLOAD streams the body to disk: the short body must not be stored.
    let signer = Signer {
        payload: Payload::Declared("UNSIGNED-PAYLOAD"),
        ..root()
    };
    let (r, _) = signer.sign(req(&t, "PUT", "/krb/short").body(vec![b'x'; 1000]));
    let resp = exchange(&t, &r.head_bytes(), &r.body[..10], true).await;
    assert_refused_or_closed(
        &resp,
        "content-length 1000, 10 bytes sent (unsigned payload)",
    );
    // No x-amz-content-sha256: the server buffers and hashes.
    let signer = Signer {
        payload: Payload::NoHeader,
        ..root()
    };
    let (r, _) = signer.sign(req(&t, "PUT", "/krb/short").body(vec![b'x'; 1000]));
    let resp = exchange(&t, &r.head_bytes(), &r.body[..10], true).await;
    assert_refused_or_closed(&resp, "content-length 1000, 10 bytes sent (no header)");
    still_serves(&t).await;
    assert_error(&get_plain(&t, "/krb/short").await, 404, "NoSuchKey");
}

#[tokio::test]
async fn robustness_garbage_authorization_headers() {
    let t = TestServer::start().await;
    bucket(&t, "krb").await;
    let (signed, _) = root().sign(req(&t, "GET", "/krb"));
    let junk = "x".repeat(10 * 1024);
    let junk_fields = format!("AWS4-HMAC-SHA256 {}", "Credential=a/b/c/d/e, ".repeat(400));
    let values: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("spaces", b"   ".to_vec()),
        ("only the algorithm", b"AWS4-HMAC-SHA256".to_vec()),
        ("algorithm and space", b"AWS4-HMAC-SHA256 ".to_vec()),
        ("10 KB of junk", junk.into_bytes()),
        ("10 KB of repeated fields", junk_fields.into_bytes()),
        (
            "non-UTF-8",
            b"AWS4-HMAC-SHA256 Credential=\xff\xfe/\x80".to_vec(),
        ),
        ("non-UTF-8 only", vec![0xff; 64]),
        ("commas and equals", b"AWS4-HMAC-SHA256 ,,,===,=,".to_vec()),
        (
            "SigV2 shape without colon",
            b"AWS keygaterootwithoutcolon".to_vec(),
        ),
    ];
    for (what, value) in values {
        let r = signed.clone().replace("authorization", value);
        let resp = send_opt(&t, &r).await;
        assert_refused_or_closed(&resp, what);
        assert!(
            resp.is_some(),
            "{what}: a header-level problem deserves an S3 error"
        );
    }
    still_serves(&t).await;
}

#[tokio::test]
async fn robustness_percent_encoding_garbage_in_the_path() {
    let t = TestServer::start().await;
    bucket(&t, "krb").await;
    for target in [
        "/krb/%zz",
        "/krb/%ff%fe",
        "/krb/a%",
        "/krb/a%2",
        "/%zz/k",
        "/%ff%fe",
        "/krb/%c0%ae%c0%ae/x",
    ] {
        // Anonymous, then signed by aws-sigv4 over the same raw path.
        let resp = send_opt(&t, &req(&t, "GET", target)).await;
        assert_refused_or_closed(&resp, target);
        let (r, _) = root().sign(req(&t, "PUT", target).body(b"p".to_vec()));
        let resp = send_opt(&t, &r).await;
        assert_refused_or_closed(&resp, target);
    }
    still_serves(&t).await;
}

#[tokio::test]
async fn robustness_duplicate_and_conflicting_auth() {
    let t = TestServer::start().await;
    bucket(&t, "krb").await;
    // Header auth and presigned query together.
    let r = req(&t, "GET", "/krb");
    let params = root().presign(&r, 300);
    let (signed, _) = root().sign(req(&t, "GET", &with_query("/krb", &params, None)));
    let resp = signed.send(&t).await;
    assert_eq!(resp.status, 400, "{resp:?}");
    assert!(resp.code().is_some());
    // Two Authorization headers, one valid: never a 5xx (which one counts is not specified).
    let (signed, _) = root().sign(req(&t, "GET", "/krb"));
    let auth = signed.get("authorization").unwrap().to_owned();
    let garbage = "AWS4-HMAC-SHA256 Credential=x";
    for (first, second) in [(auth.as_str(), garbage), (garbage, auth.as_str())] {
        let r = signed
            .clone()
            .replace("authorization", first)
            .header("authorization", second);
        let resp = send_opt(&t, &r).await.expect("an answer");
        assert!(resp.status < 500, "{resp:?}");
    }
    // A presigned parameter repeated.
    let mut target = with_query("/krb", &params, None);
    target.push_str("&X-Amz-Expires=60");
    let resp = req(&t, "GET", &target).send(&t).await;
    assert_error(&resp, 400, "AuthorizationQueryParametersError");
    still_serves(&t).await;
}

#[test]
fn helpers_round_trip() {
    // The helpers themselves: query encoding and response parsing.
    assert_eq!(enc("a/b c+d~"), "a%2Fb%20c%2Bd~");
    let resp = parse_response(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-amz-request-id: 1\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    )
    .unwrap();
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"abcde"[..]));
    assert_eq!(resp.header("X-Amz-Request-Id"), Some("1"));
}

// ---------------------------------------------------------------------------------------------
// More V2/V5/V6 edges: signed trailers, declared-but-absent trailers, broken chains.
// ---------------------------------------------------------------------------------------------

/// A `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` PUT of one chunk with an
/// `x-amz-checksum-crc32` trailer (value `crc_b64`), trailer signature computed by hand per
/// AWS "Signature calculation: trailing headers"; `tamper` flips the trailer signature.
fn signed_trailer_put(
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
