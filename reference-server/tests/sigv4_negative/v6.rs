//! V6: presigned URLs.

use super::*;

pub(crate) const PRESIGN_PARAMS: [&str; 6] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
];

pub(crate) async fn presign_setup(t: &TestServer) {
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
pub(crate) async fn assert_presigned_lifetime(expires: u64) {
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
