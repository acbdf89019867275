//! V4: credential scope and header shape.

use super::*;

#[tokio::test]
async fn v4_wrong_region_is_authorization_header_malformed() {
    let t = TestServer::start().await;
    let signer = Signer {
        region: "eu-west-1",
        ..root()
    };
    let (r, _) = signer.sign(req(&t, "GET", "/"));
    let resp = r.send(&t).await;
    assert_error(&resp, 400, "AuthorizationHeaderMalformed");
}

#[tokio::test]
async fn v4_wrong_service_is_authorization_header_malformed() {
    let t = TestServer::start().await;
    for service in ["iam", "execute-api", "S3"] {
        let signer = Signer { service, ..root() };
        let (r, _) = signer.sign(req(&t, "GET", "/"));
        assert_error(&r.send(&t).await, 400, "AuthorizationHeaderMalformed");
    }
}

#[tokio::test]
async fn v4_malformed_authorization_header_is_authorization_header_malformed() {
    let t = TestServer::start().await;
    let (signed, _) = root().sign(req(&t, "GET", "/"));
    let auth = signed.get("authorization").unwrap().to_owned();
    let (alg, rest) = auth.split_once(' ').unwrap();
    let fields: Vec<&str> = rest.split(", ").collect();
    let [cred, headers, sig] = fields[..] else {
        panic!("unexpected Authorization shape: {auth}")
    };
    let cred_value = cred.strip_prefix("Credential=").unwrap();
    let scope_date = cred_value.split('/').nth(1).unwrap();
    let forged = [
        // A field missing.
        format!("{alg} {cred}, {sig}"),
        format!("{alg} {headers}, {sig}"),
        format!("{alg} {cred}, {headers}"),
        // Bad credential scopes.
        format!("{alg} Credential={ROOT_AK}/{scope_date}/us-east-1/s3, {headers}, {sig}"),
        format!(
            "{alg} Credential={ROOT_AK}/{scope_date}/us-east-1/s3/aws5_request, {headers}, {sig}"
        ),
        format!("{alg} Credential={ROOT_AK}/2025-1-1/us-east-1/s3/aws4_request, {headers}, {sig}"),
        format!("{alg} Credential={ROOT_AK}, {headers}, {sig}"),
        format!("{alg} Credential=, {headers}, {sig}"),
        // A signature that is not 64 hex digits, an empty SignedHeaders, a stray field.
        format!("{alg} {cred}, {headers}, Signature=xyz"),
        format!("{alg} {cred}, SignedHeaders=, {sig}"),
        format!("{alg} {cred}, {headers}, {sig}, Extra=1"),
    ];
    for value in forged {
        let resp = signed
            .clone()
            .replace("authorization", &value)
            .send(&t)
            .await;
        assert_eq!(
            (resp.status, resp.code().as_deref()),
            (400, Some("AuthorizationHeaderMalformed")),
            "Authorization: {value}\n{}",
            resp.text()
        );
        assert_error(&resp, 400, "AuthorizationHeaderMalformed");
    }
}
