//! Client-side SigV4 header signing for the CLI's own requests.
//!
//! Spec: AWS "Signature Version 4 signing process" (header auth). The canonical request, the
//! string to sign and the signing key come from the pure `keygate-sigv4` crate, the same rules
//! the server verifies with; what this module adds is the client's half: it stamps
//! `x-amz-date` (and `x-amz-security-token` for session credentials), signs *every* header the
//! request carries (the client only sets `host`, `content-type` and `x-amz-*` ones, so V5's
//! "every x-amz-* header signed" holds by construction), and writes `Authorization`.
//!
//! The AWS documentation's worked example is pinned below so a shared canonicalisation bug
//! between this signer and the server's verifier cannot hide.
//!
//! Security: the secret is a [`SecretKey`] (redacted in `Debug`) and never leaves this module
//! except through the key derivation.

use http::{HeaderMap, HeaderValue};
use keygate_sigv4::canonical::{canonical_request, string_to_sign, CanonicalInput, UriEncoding};
use keygate_sigv4::key::derive_signing_key;
use keygate_sigv4::SecretKey;
use time::OffsetDateTime;

/// Keys to sign with.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key: String,
    pub secret: SecretKey,
    /// STS session token, sent as `x-amz-security-token`.
    pub session_token: Option<String>,
}

impl Credentials {
    pub fn new(access_key: String, secret: String) -> Credentials {
        Credentials {
            access_key,
            secret: SecretKey::from(secret),
            session_token: None,
        }
    }
}

/// What is being signed: the request line, its headers (already holding `host`) and the
/// payload hash that goes on the canonical request's last line.
#[derive(Debug)]
pub struct ToSign<'a> {
    pub method: &'a str,
    /// The path as it goes on the wire (percent-encoded).
    pub path: &'a str,
    /// The raw query without `?`.
    pub query: &'a str,
    pub headers: &'a mut HeaderMap,
    /// Hex SHA-256 of the body (or a payload keyword).
    pub payload_hash: &'a str,
}

/// Where and for what the signature is scoped.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
    pub uri: UriEncoding,
}

/// The `x-amz-date` spelling of `t` (UTC).
fn amz_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Signs `req` in place at time `now`: adds `x-amz-date`, the session token if any, and
/// `Authorization`. Fails only if a header value cannot be represented (a token with control
/// characters).
pub fn sign(
    req: ToSign<'_>,
    creds: &Credentials,
    scope: Scope<'_>,
    now: OffsetDateTime,
) -> Result<(), String> {
    let date_time = amz_date(now);
    let header = |v: &str| {
        HeaderValue::from_str(v).map_err(|_| {
            "a credential contains characters not allowed in an HTTP header".to_owned()
        })
    };
    req.headers.insert("x-amz-date", header(&date_time)?);
    if let Some(token) = &creds.session_token {
        req.headers.insert("x-amz-security-token", header(token)?);
    }
    let mut names: Vec<&str> = req.headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let signed_headers = names.join(";");

    let mut canonical = Vec::with_capacity(512);
    canonical_request(
        &mut canonical,
        &CanonicalInput {
            method: req.method,
            path: req.path,
            query: req.query,
            headers: req.headers,
            signed_headers: &signed_headers,
            payload_hash: req.payload_hash,
            uri: scope.uri,
            presigned: false,
            host_fallback: None,
        },
    );
    let date = &date_time[..8];
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let to_sign = string_to_sign(&date_time, &credential_scope, &canonical);
    let key = derive_signing_key(&creds.secret, date, scope.region, scope.service);
    let signature = key.sign(to_sign.as_bytes()).to_hex();
    let signature = String::from_utf8_lossy(&signature);
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key
    );
    req.headers
        .insert(http::header::AUTHORIZATION, header(&authorization)?);
    Ok(())
}

/// Hex SHA-256 of a body.
pub fn payload_hash(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS General Reference, "Signature Version 4 signing process", the IAM `ListUsers`
    /// example (GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08 on
    /// 2015-08-30 12:36:00 UTC, key AKIDEXAMPLE).
    #[test]
    fn aws_documentation_example() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        headers.insert("host", HeaderValue::from_static("iam.amazonaws.com"));
        let creds = Credentials::new(
            "AKIDEXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        );
        let now = time::macros::datetime!(2015-08-30 12:36:00 UTC);
        sign(
            ToSign {
                method: "GET",
                path: "/",
                query: "Action=ListUsers&Version=2010-05-08",
                headers: &mut headers,
                payload_hash: &payload_hash(b""),
            },
            &creds,
            Scope {
                region: "us-east-1",
                service: "iam",
                uri: UriEncoding::Generic { normalize: true },
            },
            now,
        )
        .unwrap();
        assert_eq!(
            headers["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        assert_eq!(headers["x-amz-date"], "20150830T123600Z");
    }

    #[test]
    fn session_token_is_sent_and_signed() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:9000"));
        let mut creds = Credentials::new("AK".into(), "SK".into());
        creds.session_token = Some("tok".into());
        let scope = Scope {
            region: "us-east-1",
            service: "s3",
            uri: UriEncoding::S3,
        };
        let req = ToSign {
            method: "GET",
            path: "/",
            query: "",
            headers: &mut headers,
            payload_hash: "UNSIGNED-PAYLOAD",
        };
        sign(req, &creds, scope, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(headers["x-amz-security-token"], "tok");
        let auth = headers["authorization"].to_str().unwrap();
        assert!(auth.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"));
    }
}
