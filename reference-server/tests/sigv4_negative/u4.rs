//! U4: access key and secret.

use super::*;

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
