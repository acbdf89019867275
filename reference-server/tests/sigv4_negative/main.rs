//! SigV4 negative tests over the wire (SPEC V1–V8, U4, X5, "Errors and wire format").
//!
//! Every request is signed by AWS's own `aws-sigv4` crate (never the server's verifier, so a
//! shared bug cannot hide), sent as raw HTTP/1.1 over a TCP socket, and then altered on purpose:
//! a header dropped or added after signing, a date moved, a chunk signature flipped. Each test
//! is named after the rule it checks and asserts the status, the `<Code>` of the XML body and
//! the `x-amz-request-id` header. The robustness tests at the end send malformed framing and
//! garbage headers and accept a 4xx with an S3 error code or a closed connection, never a 5xx.

#[path = "../common/mod.rs"]
mod common;

mod edges;
mod robustness;
mod scope;
mod u4;
mod v1;
mod v2;
mod v3;
mod v5;
mod v6;
mod v8;
mod x5;

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use common::{crc32, TestServer, ROOT_AK, ROOT_SK};
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
