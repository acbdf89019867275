//! V5: signed headers.

use super::*;

/// `yyyymmddThhmmssZ` and `yyyymmdd` of `t`.
pub(crate) fn amz_dates(t: SystemTime) -> (String, String) {
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
pub(crate) fn hand_signed_get(req: Req, signed: &[&str]) -> Req {
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
