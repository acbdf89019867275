//! V1: SigV2 refused; unsupported algorithm (V4).

use super::*;

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
    // In a presigned URL the algorithm is a query parameter: V6's code, as AWS answers.
    let r = req(&t, "GET", "/");
    let params = root().presign(&r, 300);
    let mut target = with_query("/", &params, Some("X-Amz-Algorithm"));
    target.push_str("&X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256");
    let resp = req(&t, "GET", &target).send(&t).await;
    assert_error(&resp, 400, "AuthorizationQueryParametersError");
}
