//! Robustness: malformed framing and garbage never cause a panic or a 5xx.

use super::v2::*;
use super::v5::amz_dates;
use super::*;

/// A streaming-signed PUT whose framing is replaced by `body`; the head is correctly signed.
pub(crate) fn framed(t: &TestServer, target: &str, body: &[u8], decoded: &str) -> Req {
    let signer = Signer {
        payload: Payload::Declared("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ..root()
    };
    let r = req(t, "PUT", target)
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", decoded);
    signer.sign(r).0.body(body.to_vec())
}

pub(crate) async fn send_opt(t: &TestServer, r: &Req) -> Option<Resp> {
    exchange(t, &r.head_bytes(), &r.body, false).await
}

/// The server still serves after the abuse.
pub(crate) async fn still_serves(t: &TestServer) {
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

/// A header authentication reads, sent twice: refused (400) whichever value is the valid one,
/// never checked by its first value while the signature covers both. `Host` twice or not at
/// all is refused the same way (RFC 9112 §3.2; AWS answers 400).
#[tokio::test]
async fn repeated_authentication_headers_and_a_missing_host_are_400() {
    let t = TestServer::start().await;
    bucket(&t, "krb").await;
    let (signed, _) = root().sign(req(&t, "GET", "/krb"));
    assert_ok(&signed.send(&t).await);
    let auth = signed.get("authorization").unwrap().to_owned();
    for (first, second) in [(auth.as_str(), "garbage"), ("garbage", auth.as_str())] {
        let r = signed
            .clone()
            .replace("authorization", first)
            .header("authorization", second);
        assert_error(&r.send(&t).await, 400, "AuthorizationHeaderMalformed");
    }
    let skewed = {
        let (later, _) = amz_dates(shifted(3600, false));
        later
    };
    for (name, value) in [
        ("x-amz-date", skewed.as_str()),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("x-amz-security-token", "token"),
        ("host", "other.example"),
    ] {
        // Twice more: the token, which the request lacked, then comes twice too.
        let resp = signed
            .clone()
            .header(name, value)
            .header(name, value)
            .send(&t)
            .await;
        assert_error(&resp, 400, "InvalidArgument");
        assert!(resp.text().contains(name), "{name}: {}", resp.text());
    }
    // A PUT whose payload is declared twice stores nothing.
    let signer = Signer {
        payload: Payload::Declared("UNSIGNED-PAYLOAD"),
        ..root()
    };
    let (r, _) = signer.sign(req(&t, "PUT", "/krb/twice").body(b"data".to_vec()));
    let hash = hex::encode(Sha256::digest(b"data"));
    let resp = r.header("x-amz-content-sha256", &hash).send(&t).await;
    assert_error(&resp, 400, "InvalidArgument");
    assert_error(&get_plain(&t, "/krb/twice").await, 404, "NoSuchKey");
    // No Host: signed with it, sent without (the server would sign it as empty).
    let resp = signed.clone().without("host").send(&t).await;
    assert_error(&resp, 400, "InvalidArgument");
    let r = req(&t, "GET", "/krb");
    let url = with_query("/krb", &root().presign(&r, 300), None);
    assert_ok(&req(&t, "GET", &url).send(&t).await);
    let resp = Req::new("GET", url).send(&t).await;
    assert_error(&resp, 400, "InvalidArgument");
    still_serves(&t).await;
}

/// A malformed percent-escape in the path is AWS's 400 `InvalidURI`, not a literal key; valid
/// escapes (which SigV4 signs as sent) still work.
#[tokio::test]
async fn malformed_percent_escapes_in_the_path_are_invalid_uri() {
    let t = TestServer::start().await;
    bucket(&t, "krb").await;
    // Anonymous: aws-sigv4 cannot sign such a path as sent (it re-encodes the `%`), and a
    // bucket policy may open a bucket to anonymous writes.
    for target in ["/krb/bad%zz", "/krb/a%", "/krb/a%2", "/krb/%g0x"] {
        let resp = req(&t, "PUT", target).body(b"p".to_vec()).send(&t).await;
        assert_error(&resp, 400, "InvalidURI");
        assert!(
            resp.text().contains("parse the specified URI."),
            "{}",
            resp.text()
        );
        assert_error(&req(&t, "GET", target).send(&t).await, 400, "InvalidURI");
    }
    let list = get_plain(&t, "/krb?list-type=2").await;
    assert!(!list.text().contains("<Key>"), "{}", list.text());
    assert_ok(&put_plain(&t, "/krb/good%20key%2Bplus%25", b"v").await);
    let got = get_plain(&t, "/krb/good%20key%2Bplus%25").await;
    assert_eq!((got.status, got.body.as_slice()), (200, &b"v"[..]));
    assert!(get_plain(&t, "/krb?list-type=2")
        .await
        .text()
        .contains("<Key>good key+plus%</Key>"));
}

/// Regression: a key with control characters was echoed in the error body as `&#x1;`, which
/// XML 1.0 forbids, so boto3 could not parse the body and lost the error code. Such
/// characters are replaced with U+FFFD in error bodies.
#[tokio::test]
async fn error_bodies_replace_characters_xml_1_0_forbids() {
    let t = TestServer::start().await;
    bucket(&t, "krb").await;
    let resp = get_plain(&t, "/krb/a%01b%1Fc").await;
    assert_error(&resp, 404, "NoSuchKey");
    let text = resp.text();
    assert!(
        !text.contains("&#x1;") && !text.contains("&#x1f;"),
        "{text}"
    );
    assert!(
        !text.chars().any(|c| c < ' ' && c != '\n' && c != '\t'),
        "{text:?}"
    );
    assert!(text.contains("a\u{fffd}b\u{fffd}c"), "{text}");
}
