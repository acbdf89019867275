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
    for expires in ["0", "604801", "-1", "abc", "", "+5", " 5", "5.0"] {
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

/// V6: what header auth answers as `InvalidRequest` (algorithm), `AuthorizationHeaderMalformed`
/// (scope) or `AccessDenied` (unparseable date) is, in a presigned URL, a bad query parameter:
/// 400 `AuthorizationQueryParametersError` naming it (spec-notes 76, as AWS answers).
#[tokio::test]
async fn v6_bad_algorithm_scope_or_date_is_authorization_query_parameters_error() {
    let t = TestServer::start().await;
    presign_setup(&t).await;
    let r = req(&t, "GET", "/kv6/k");
    let edit = |signer: &Signer, name: &str, f: &dyn Fn(&str) -> String| {
        let params: Vec<(String, String)> = signer
            .presign(&r, 300)
            .into_iter()
            .map(|(k, v)| {
                if k == name {
                    let v = f(&v);
                    (k, v)
                } else {
                    (k, v)
                }
            })
            .collect();
        with_query("/kv6/k", &params, None)
    };
    let scope_part = |i: usize, to: &'static str| {
        move |v: &str| {
            let mut parts: Vec<&str> = v.split('/').collect();
            parts[i] = to;
            parts.join("/")
        }
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "X-Amz-Algorithm",
            edit(&root(), "X-Amz-Algorithm", &|_| "AWS4-HMAC-SHA512".into()),
        ),
        (
            "X-Amz-Credential",
            edit(
                &Signer {
                    region: "eu-west-1",
                    ..root()
                },
                "",
                &|v| v.to_owned(),
            ),
        ),
        (
            "X-Amz-Credential",
            edit(
                &Signer {
                    service: "iam",
                    ..root()
                },
                "",
                &|v| v.to_owned(),
            ),
        ),
        (
            "X-Amz-Credential",
            edit(&root(), "X-Amz-Credential", &scope_part(1, "20200101")),
        ),
        (
            "X-Amz-Credential",
            edit(&root(), "X-Amz-Credential", &scope_part(4, "aws5_request")),
        ),
        (
            "X-Amz-Date",
            edit(&root(), "X-Amz-Date", &|_| "2024-01-01T00:00:00Z".into()),
        ),
    ];
    for (param, url) in cases {
        let resp = req(&t, "GET", &url).send(&t).await;
        assert_error(&resp, 400, "AuthorizationQueryParametersError");
        assert!(
            resp.text().contains(param) && !resp.text().contains("authorization header"),
            "{url}: {}",
            resp.text()
        );
    }
    // Header auth keeps its codes (V3, V4).
    let (h, _) = Signer {
        region: "eu-west-1",
        ..root()
    }
    .sign(req(&t, "GET", "/kv6/k"));
    assert_error(&h.send(&t).await, 400, "AuthorizationHeaderMalformed");
    let (h, _) = root().sign(req(&t, "GET", "/kv6/k"));
    let bad_date = h.replace("x-amz-date", "2024-01-01T00:00:00Z");
    assert_error(&bad_date.send(&t).await, 403, "AccessDenied");
}
