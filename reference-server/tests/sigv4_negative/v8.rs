//! V8: HEAD errors.

use super::*;

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
