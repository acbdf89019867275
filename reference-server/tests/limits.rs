//! Bounded resources: every oversized or stalled input gets an answer (or a closed
//! connection) in bounded time, never a hang or unbounded memory. Each test sends the input
//! over a raw socket so nothing in a client library can soften it.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_s3::presigning::PresigningConfig;
use common::*;
use keygate_server::{ConnLimits, Server};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server with `limits` (the rest as [`TestServer::start`]) and a bucket `data`.
async fn server_with(limits: ConnLimits) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = config_in(dir.path(), ROOT_SK);
    cfg.connection_limits = limits;
    let server = Server::start(cfg).await.expect("server starts");
    let ts = TestServer { server, dir };
    ts.bucket("data").await;
    ts
}

fn short_timeouts() -> ConnLimits {
    ConnLimits {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        ..ConnLimits::default()
    }
}

/// Writes `bytes` (a failed write is fine: the server may close first), then reads until the
/// server closes the connection; what it sent and how long that took. Panics after `within`.
async fn exchange(ts: &TestServer, bytes: &[u8], within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(ts.server.addr())
        .await
        .expect("connects");
    let _ = stream.write_all(bytes).await;
    (read_to_close(&mut stream, within).await, started.elapsed())
}

/// Everything the server sends until it closes the connection. Panics after `within`.
async fn read_to_close(stream: &mut (impl AsyncRead + Unpin), within: Duration) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server neither answered nor closed within {within:?}"
    );
    String::from_utf8_lossy(&got).into_owned()
}

fn status(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"))
}

fn code(response: &str) -> &str {
    let start = response.find("<Code>").map(|i| i + 6).unwrap_or(0);
    let end = response.find("</Code>").unwrap_or(start);
    &response[start..end]
}

/// The path and query of a presigned PutObject (or UploadPart with `part`) URL.
async fn presigned_put(ts: &TestServer, key: &str, part: Option<(&str, i32)>) -> String {
    let s3 = ts.root_s3();
    let cfg = PresigningConfig::expires_in(Duration::from_secs(300)).expect("presigning config");
    let url = match part {
        None => s3
            .put_object()
            .bucket("data")
            .key(key)
            .presigned(cfg)
            .await
            .expect("presigns")
            .uri()
            .to_owned(),
        Some((upload_id, n)) => s3
            .upload_part()
            .bucket("data")
            .key(key)
            .upload_id(upload_id)
            .part_number(n)
            .presigned(cfg)
            .await
            .expect("presigns")
            .uri()
            .to_owned(),
    };
    url.strip_prefix(ts.endpoint())
        .expect("a URL of this server")
        .to_owned()
}

#[tokio::test]
async fn a_request_head_over_64_kib_gets_431() {
    let ts = server_with(ConnLimits::default()).await;
    let big = "a".repeat(70 * 1024);
    let req = format!("GET /data HTTP/1.1\r\nhost: x\r\nx-big: {big}\r\n\r\n");
    let (resp, _) = exchange(&ts, req.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status(&resp), 431, "{resp}");
}

#[tokio::test]
async fn more_than_300_headers_get_431() {
    let ts = server_with(ConnLimits::default()).await;
    let mut req = String::from("GET /data HTTP/1.1\r\nhost: x\r\n");
    for i in 0..350 {
        req.push_str(&format!("x-h{i}: v\r\n"));
    }
    req.push_str("\r\n");
    let (resp, _) = exchange(&ts, req.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status(&resp), 431, "{resp}");
    // 290 is still fine: an S3 answer (403 for an unsigned request).
    let mut req = String::from("GET /data HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
    for i in 0..290 {
        req.push_str(&format!("x-h{i}: v\r\n"));
    }
    req.push_str("\r\n");
    let (resp, _) = exchange(&ts, req.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status(&resp), 403, "{resp}");
}

/// Regression: 90 small `x-amz-meta-*` headers (far under the 2 KB metadata limit) got hyper's
/// bare 431, with no S3 error and no request id. 150 one-character ones are stored.
#[tokio::test]
async fn many_small_metadata_headers_within_the_limit_are_stored() {
    let ts = server_with(ConnLimits::default()).await;
    let mut call = Call::s3("PUT", "/data/many-meta").body("x");
    for i in 0..150 {
        call = call.header(&format!("x-amz-meta-{i}"), "v");
    }
    let resp = ts.send(&Keys::root(), call).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    // Read back over a raw socket: the test client's hyper takes at most 100 response headers.
    let (target, headers) = sign_request(
        &Keys::root(),
        "s3",
        ts.server_now(),
        ("HEAD", "/data/many-meta"),
        vec![("host".to_owned(), ts.server.addr().to_string())],
        aws_sigv4::http_request::SignableBody::Bytes(&[]),
        false,
    );
    let mut req = format!("HEAD {target} HTTP/1.1\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let (head, _) = exchange(&ts, req.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status(&head), 200, "{head}");
    let meta = head
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("x-amz-meta-"))
        .count();
    assert_eq!(meta, 150, "{head}");
}

#[tokio::test]
async fn an_xml_body_over_1_mib_is_a_clear_400() {
    let ts = server_with(ConnLimits::default()).await;
    let mut body = b"<Delete>".to_vec();
    body.resize(1024 * 1024 + 1, b' ');
    let md5 = content_md5(&body);
    let resp = ts
        .send(
            &Keys::root(),
            Call::s3("POST", "/data?delete")
                .header("content-md5", &md5)
                .body(body),
        )
        .await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    // S3's code for a request too big, not an object's `EntityTooLarge`.
    assert_eq!(resp.code(), "MaxMessageLengthExceeded");
    // The admin API (64 KiB) and STS bodies are bounded the same way.
    let resp = ts
        .admin("PUT", "policies/huge", vec![b' '; 65 * 1024])
        .await;
    assert_eq!(resp.status, 400, "{}", resp.text());
}

/// Sends the head of a PUT to `target` claiming `len` body bytes, then `body`; the answer's
/// status and code.
async fn put_claiming(ts: &TestServer, target: &str, len: u64, body: &str) -> (u16, String) {
    let host = ts.server.addr();
    let req = format!(
        "PUT {target} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: {len}\r\n\r\n{body}"
    );
    let (resp, took) = exchange(ts, req.as_bytes(), Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    (status(&resp), code(&resp).to_owned())
}

#[tokio::test]
async fn a_part_or_object_over_5_gib_is_refused_before_any_byte_is_read() {
    let ts = server_with(ConnLimits::default()).await;
    let too_big = 5 * 1024 * 1024 * 1024 + 1;
    let target = presigned_put(&ts, "big", None).await;
    let answer = put_claiming(&ts, &target, too_big, "").await;
    assert_eq!(answer, (400, "EntityTooLarge".to_owned()));

    let upload = ts
        .root_s3()
        .create_multipart_upload()
        .bucket("data")
        .key("parts")
        .send()
        .await
        .expect("creates an upload");
    let id = upload.upload_id().expect("upload id");
    let target = presigned_put(&ts, "parts", Some((id, 1))).await;
    let answer = put_claiming(&ts, &target, too_big, "").await;
    assert_eq!(answer, (400, "EntityTooLarge".to_owned()));

    // Part numbers stop at 10000 (and so does a CompleteMultipartUpload list, within the
    // 1 MiB XML bound).
    let target = presigned_put(&ts, "parts", Some((id, 10_001))).await;
    let answer = put_claiming(&ts, &target, 1, "x").await;
    assert_eq!(answer, (400, "InvalidArgument".to_owned()));
}

#[tokio::test]
async fn slow_loris_heads_and_idle_connections_are_closed() {
    let ts = server_with(short_timeouts()).await;
    // Half a request head, then nothing.
    let (resp, took) = exchange(
        &ts,
        b"GET /data HTTP/1.1\r\nhost: x\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert!(!resp.contains("200 OK"), "{resp}");
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "closed too late: {took:?}");
    // Nothing at all.
    let (_, took) = exchange(&ts, b"", Duration::from_secs(10)).await;
    assert!(
        took < Duration::from_secs(5),
        "idle connection kept {took:?}"
    );
}

#[tokio::test]
async fn a_stalled_body_gets_request_timeout() {
    let ts = server_with(short_timeouts()).await;
    // Streamed to the handler (presigned, unsigned payload): 10 of 100 bytes, then nothing.
    let target = presigned_put(&ts, "stalled", None).await;
    let host = ts.server.addr();
    let req =
        format!("PUT {target} HTTP/1.1\r\nhost: {host}\r\ncontent-length: 100\r\n\r\n0123456789");
    let (resp, took) = exchange(&ts, req.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status(&resp), 400, "{resp}");
    assert_eq!(code(&resp), "RequestTimeout", "{resp}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // Buffered to be hashed (header auth without x-amz-content-sha256): the same.
    let req = format!("{}0123456789", header_signed_put_head("stalled", 100));
    let (resp, took) = exchange(&ts, req.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status(&resp), 400, "{resp}");
    assert_eq!(code(&resp), "RequestTimeout", "{resp}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // Nothing was stored.
    assert_eq!(try_get(&ts.root_s3(), "data", "stalled").await, "NoSuchKey");
}

/// The head of a PUT of `key` signed in its `Authorization` header (with a wrong signature,
/// checked only once the body is in) without `x-amz-content-sha256`, so the server buffers
/// the body to hash it before anything else.
fn header_signed_put_head(key: &str, len: u64) -> String {
    let now = time::OffsetDateTime::now_utc();
    let date = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={ROOT_AK}/{}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
        &date[..8],
        "0".repeat(64)
    );
    format!(
        "PUT /data/{key} HTTP/1.1\r\nhost: x\r\nx-amz-date: {date}\r\nauthorization: {auth}\r\ncontent-length: {len}\r\n\r\n"
    )
}

/// Sends `head`, then one body byte every `every` until the server closes the connection;
/// what it sent and how long that took. Panics after `within`.
/// A trickled body ended by the 1 s total timeout: 400 RequestTimeout, not before the deadline.
fn assert_timed_out_after_the_total(resp: &str, took: Duration) {
    assert_eq!(status(resp), 400, "{resp}");
    assert_eq!(code(resp), "RequestTimeout", "{resp}");
    assert!(
        took >= Duration::from_millis(900),
        "ended too early: {took:?}"
    );
}

async fn trickle(
    ts: &TestServer,
    head: &str,
    every: Duration,
    within: Duration,
) -> (String, Duration) {
    let started = Instant::now();
    let stream = TcpStream::connect(ts.server.addr())
        .await
        .expect("connects");
    let (mut rx, mut tx) = stream.into_split();
    tx.write_all(head.as_bytes())
        .await
        .expect("writes the head");
    let writer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if tx.write_all(b"x").await.is_err() {
                break;
            }
        }
    });
    let answer = read_to_close(&mut rx, within).await;
    writer.abort();
    (answer, started.elapsed())
}

#[tokio::test]
async fn a_trickled_body_gets_request_timeout_at_the_total_body_timeout() {
    // A byte every 100 ms never trips the 30 s idle timeout; the 1 s total timeout ends it.
    let ts = server_with(ConnLimits {
        body_read_timeout: Duration::from_secs(30),
        body_total_timeout: Duration::from_secs(1),
        ..ConnLimits::default()
    })
    .await;
    let every = Duration::from_millis(100);
    let within = Duration::from_secs(20);
    // Streamed to the handler (presigned, unsigned payload).
    let target = presigned_put(&ts, "trickled", None).await;
    let host = ts.server.addr();
    let head = format!("PUT {target} HTTP/1.1\r\nhost: {host}\r\ncontent-length: 100000\r\n\r\n");
    let (resp, took) = trickle(&ts, &head, every, within).await;
    assert_timed_out_after_the_total(&resp, took);
    // Buffered to be hashed before the signature is checked: the same.
    let head = header_signed_put_head("trickled", 100_000);
    let (resp, took) = trickle(&ts, &head, every, within).await;
    assert_timed_out_after_the_total(&resp, took);
    // Nothing was stored, and a body that arrives in time is still fine.
    assert_eq!(
        try_get(&ts.root_s3(), "data", "trickled").await,
        "NoSuchKey"
    );
    ts.root_s3()
        .put_object()
        .bucket("data")
        .key("in-time")
        .body(vec![b'x'; 1000].into())
        .send()
        .await
        .expect("a prompt body is accepted");
}

#[tokio::test]
async fn connections_over_the_limit_wait_for_a_free_slot() {
    let ts = server_with(ConnLimits {
        max_connections: 2,
        ..ConnLimits::default()
    })
    .await;
    let held1 = TcpStream::connect(ts.server.addr())
        .await
        .expect("connects");
    let held2 = TcpStream::connect(ts.server.addr())
        .await
        .expect("connects");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(ts.server.addr()).await.expect("queued");
    third
        .write_all(b"GET /data HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .expect("writes");
    let mut buf = Vec::new();
    let early = tokio::time::timeout(Duration::from_millis(700), third.read_to_end(&mut buf)).await;
    assert!(early.is_err(), "served beyond the limit: {buf:?}");
    drop(held1);
    let late = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut buf)).await;
    assert!(late.is_ok(), "not served once a slot was free");
    let resp = String::from_utf8_lossy(&buf);
    assert_eq!(status(&resp), 403, "{resp}");
    drop(held2);
}

/// A request refused before its body is read cannot leave the connection reusable: the
/// answer says `Connection: close` (found by a probe: the connection was closed without it,
/// and a client's next request on it failed). A refusal of a request without a body, or
/// after reading all of it, keeps the connection.
#[tokio::test]
async fn a_refused_request_with_an_unread_body_says_connection_close() {
    let ts = TestServer::start().await;
    ts.bucket("data").await;
    let host = ts.server.addr().to_string();
    let big = "x".repeat(200_000);
    let head = format!(
        "PUT /data/k HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\n\r\n",
        big.len()
    );
    let (resp, _) = exchange(
        &ts,
        format!("{head}{big}").as_bytes(),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(status(&resp), 403, "{resp}");
    let lower = resp.to_ascii_lowercase();
    assert!(lower.contains("\r\nconnection: close\r\n"), "{resp}");
    // No body: the refusal keeps the connection open for the next request.
    let r = ts
        .send_unsigned(
            "GET",
            "/data/k",
            &[("host".into(), host.clone())],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.headers.get("connection").is_none(), "{:?}", r.headers);
    // A refusal after the whole body was read: an STS form with a bad duration.
    let alice = ts.user_with("alice", "readwrite").await;
    let call = Call::sts("Action=AssumeRole&Version=2011-06-15&DurationSeconds=1");
    let r = ts.send(&alice, call).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.headers.get("connection").is_none(), "{:?}", r.headers);
}
