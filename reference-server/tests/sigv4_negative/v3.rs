//! V3: dates and clock skew.

use super::*;

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
