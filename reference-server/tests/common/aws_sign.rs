//! Signing with AWS's own `aws-sigv4` (never the server's code, so a shared bug cannot
//! hide), for the tests, benches and examples that need independently signed requests. One
//! place builds the signing parameters and reads back what the signer adds.
#![allow(
    dead_code,
    reason = "included by tests, a bench and an example, each using a different part"
)]

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;

/// What the signer adds: headers (`authorization`, `x-amz-date`, ...) and, for a presigned
/// URL, query parameters (raw values: encode them when appending).
pub struct Signed {
    pub headers: Vec<(String, String)>,
    pub params: Vec<(String, String)>,
}

/// Signs `method uri` with `headers` (which must hold `host`) and `body` as `credentials`,
/// for `service` in `us-east-1` at `at`.
#[allow(clippy::too_many_arguments)]
pub fn aws_sign(
    credentials: &Credentials,
    service: &str,
    settings: SigningSettings,
    at: SystemTime,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: SignableBody<'_>,
) -> Signed {
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(at)
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let signable =
        SignableRequest::new(method, uri, headers.iter().copied(), body).expect("signable request");
    let (instructions, _) = sign(signable, &params).expect("signs").into_parts();
    let text = |(k, v): (&str, &str)| (k.to_owned(), v.to_owned());
    Signed {
        headers: instructions.headers().map(text).collect(),
        params: instructions
            .params()
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_string()))
            .collect(),
    }
}
