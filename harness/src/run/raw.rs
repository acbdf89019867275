//! Raw requests: built by hand, signed correctly by AWS's `aws-sigv4`, then altered by named
//! [`Mutation`]s into exactly the malformed or hostile request a rule talks about (SPEC V1–V8,
//! S5, S6, A6). The SDKs refuse to send most of these, which is why this path exists.
//!
//! Mutations that change what is signed (date, region, service, token, payload hash, secret)
//! are applied before signing; those that break a signed request (tampered signature, extra
//! unsigned header, dropped token or date, SigV2, no auth) after it. The request as finally
//! sent is what reports show.

use super::context::Ctx;
use super::outcome::{excerpt, render_request, xml_tag, Outcome};
use crate::scenario::model::RawRequest;
use crate::scenario::{Mutation, SignMode};
use crate::target::http::{host_of, sign_request, SignSpec};
use crate::target::Credentials;
use aws_sigv4::http_request::SignatureLocation;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Percent-encode one path segment or query component (RFC 3986 unreserved kept).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encode an object key, keeping its `/` separators.
pub fn encode_key(key: &str) -> String {
    key.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

fn has(r: &RawRequest, m: Mutation) -> bool {
    r.mutations.contains(&m)
}

fn fail(msg: String) -> Outcome {
    Outcome {
        transport_error: Some(msg),
        ..Default::default()
    }
}

/// Build, sign, mutate and send `r` as `who`.
pub async fn run(
    ctx: &Ctx<'_>,
    who: &str,
    r: &RawRequest,
    http: &crate::target::http::HttpClient,
) -> Outcome {
    let target = ctx.target;
    let creds = match ctx.credentials(who) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let path = ctx.expand(&r.path);
    let query: Vec<(String, String)> = r
        .query
        .iter()
        .map(|(k, v)| {
            (
                encode_segment(&ctx.expand(k)),
                encode_segment(&ctx.expand(v)),
            )
        })
        .collect();
    let mut uri = format!("{}{path}", target.endpoint());
    if !query.is_empty() {
        let q: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    format!("{k}=")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        uri.push('?');
        uri.push_str(&q.join("&"));
    }
    let body = Bytes::from(r.body.as_deref().map(|b| ctx.expand(b)).unwrap_or_default());
    let mut builder = http::Request::builder()
        .method(r.method.as_str())
        .uri(&uri)
        .header("host", host_of(target.endpoint()));
    for (k, v) in &r.headers {
        builder = builder.header(k.as_str(), ctx.expand(v));
    }
    let mut req = match builder.body(body.clone()) {
        Ok(req) => req,
        Err(e) => return fail(format!("building the request: {e}")),
    };

    let service = r.service.clone().unwrap_or_else(|| "s3".into());
    if let (Some(mut creds), false) = (creds, r.sign == SignMode::None) {
        if let Err(e) = prepare_credentials(ctx, r, &mut creds) {
            return fail(e);
        }
        let mut time = target.clock().now();
        if has(r, Mutation::SkewedDate) {
            let skew = r.skew_seconds.unwrap_or(16 * 60);
            time = shift(time, skew);
        }
        let expires = r.expires.unwrap_or(300);
        if has(r, Mutation::ExpiredPresign) {
            time = shift(time, -(expires as i64 + 60));
        }
        let region = if has(r, Mutation::WrongRegion) {
            if target.region() == "eu-west-3" {
                "us-west-2"
            } else {
                "eu-west-3"
            }
            .to_owned()
        } else {
            target.region().to_owned()
        };
        let sign_service = if has(r, Mutation::WrongService) {
            if service == "s3" { "sts" } else { "s3" }.to_owned()
        } else {
            service.clone()
        };
        let query_auth = r.sign == SignMode::Query;
        let payload_override = if has(r, Mutation::BadPayloadHash) {
            Some(hex::encode(Sha256::digest(b"not the body")))
        } else if r.unsigned_payload || query_auth {
            Some("UNSIGNED-PAYLOAD".to_owned())
        } else {
            None
        };
        let spec = SignSpec {
            credentials: &creds,
            region: &region,
            service: &sign_service,
            time,
            location: if query_auth {
                SignatureLocation::QueryParams
            } else {
                SignatureLocation::Headers
            },
            expires_in: query_auth.then(|| Duration::from_secs(expires)),
            content_sha256_header: service == "s3" && !query_auth,
            payload_override,
        };
        if let Err(e) = sign_request(&mut req, &spec) {
            return fail(format!("signing: {e}"));
        }
        post_sign(r, &mut req);
    }
    let request = render_request(
        req.method().as_str(),
        &req.uri().to_string(),
        req.headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap_or("<binary>"))),
    );
    match http.send(req).await {
        Ok(resp) => {
            let text = resp.text();
            let ok = (200..300).contains(&resp.status);
            Outcome {
                status: Some(resp.status),
                code: if ok { None } else { xml_tag(&text, "Code") },
                message: if ok { None } else { xml_tag(&text, "Message") },
                headers: resp.headers.clone(),
                body: excerpt(&text),
                request,
                ..Default::default()
            }
        }
        Err(e) => Outcome {
            request,
            transport_error: Some(e),
            ..Default::default()
        },
    }
}

fn shift(t: std::time::SystemTime, secs: i64) -> std::time::SystemTime {
    if secs >= 0 {
        t + Duration::from_secs(secs as u64)
    } else {
        t - Duration::from_secs(secs.unsigned_abs())
    }
}

fn prepare_credentials(
    ctx: &Ctx<'_>,
    r: &RawRequest,
    creds: &mut Credentials,
) -> Result<(), String> {
    if has(r, Mutation::SwappedToken) {
        let from = r.token_from.as_deref().unwrap_or_default();
        let other = ctx.credentials(from)?.and_then(|c| c.session_token);
        creds.session_token =
            Some(other.ok_or_else(|| format!("`{from}` has no session token to swap in"))?);
    }
    if has(r, Mutation::WrongSecret) {
        creds.secret_key = wrong_secret(&creds.secret_key);
    }
    Ok(())
}

/// A secret that differs from `secret` in its last character, whatever that character is
/// (replacing it with a fixed one would, one run in 64, give the right secret back).
fn wrong_secret(secret: &str) -> String {
    let mut s = secret.to_owned();
    let last = s.pop();
    s.push(if last == Some('x') { 'y' } else { 'x' });
    s
}

/// Flip the last hex digit of a signature.
fn tamper(sig: &str) -> String {
    let mut s = sig.to_owned();
    if let Some(last) = s.pop() {
        s.push(if last == '0' { '1' } else { '0' });
    }
    s
}

fn post_sign(r: &RawRequest, req: &mut http::Request<Bytes>) {
    let headers = req.headers_mut();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    if let Some(auth) = &auth {
        let mut auth = auth.clone();
        if has(r, Mutation::TamperedSignature) {
            if let Some(i) = auth.find("Signature=") {
                let (head, sig) = auth.split_at(i + "Signature=".len());
                auth = format!("{head}{}", tamper(sig));
            }
        }
        if has(r, Mutation::HostNotSigned) {
            auth = auth.replace("SignedHeaders=host;", "SignedHeaders=");
        }
        if has(r, Mutation::Sigv2) {
            let key = auth
                .split("Credential=")
                .nth(1)
                .and_then(|c| c.split('/').next())
                .unwrap_or_default()
                .to_owned();
            auth = format!("AWS {key}:bm90LWEtcmVhbC1zaWduYXR1cmU=");
        }
        set("authorization", auth);
    }
    if has(r, Mutation::TruncatedToken) {
        if let Some(t) = headers_token(req) {
            let half = t[..t.len() / 2].to_owned();
            let _ = req.headers_mut().insert(
                "x-amz-security-token",
                http::HeaderValue::from_str(&half).unwrap_or(http::HeaderValue::from_static("x")),
            );
        }
    }
    let headers = req.headers_mut();
    if has(r, Mutation::MissingToken) {
        headers.remove("x-amz-security-token");
    }
    if has(r, Mutation::NoDate) {
        headers.remove("x-amz-date");
    }
    if has(r, Mutation::NoAuth) {
        headers.remove("authorization");
    }
    if has(r, Mutation::UnsignedHeader) {
        let (n, v) = r
            .extra_header
            .clone()
            .unwrap_or_else(|| ("x-amz-meta-unsigned".into(), "1".into()));
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(n.as_bytes()),
            http::HeaderValue::from_str(&v),
        ) {
            headers.insert(n, v);
        }
    }
    // Query-signed requests: the same alterations on the URL.
    let uri = req.uri().to_string();
    if let Some((base, q)) = uri.split_once('?') {
        let mut params: Vec<(String, String)> = q
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (p.to_owned(), String::new()),
            })
            .collect();
        let before = params.clone();
        for (k, v) in params.iter_mut() {
            match k.as_str() {
                "X-Amz-Signature" if has(r, Mutation::TamperedSignature) => *v = tamper(v),
                "X-Amz-Security-Token" if has(r, Mutation::TruncatedToken) => {
                    let half = v.len() / 2;
                    v.truncate(half);
                }
                "X-Amz-SignedHeaders" if has(r, Mutation::HostNotSigned) => {
                    *v = v.replace("host%3B", "").replace("host", "")
                }
                _ => {}
            }
        }
        params.retain(|(k, _)| {
            !(k == "X-Amz-Security-Token" && has(r, Mutation::MissingToken)
                || k.starts_with("X-Amz-") && has(r, Mutation::NoAuth)
                || k == "X-Amz-Date" && has(r, Mutation::NoDate))
        });
        if params != before {
            let q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let new = if q.is_empty() {
                base.to_owned()
            } else {
                format!("{base}?{}", q.join("&"))
            };
            if let Ok(u) = new.parse() {
                *req.uri_mut() = u;
            }
        }
    }
}

fn headers_token(req: &http::Request<Bytes>) -> Option<String> {
    req.headers()
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_secret_always_differs() {
        for secret in ["abcx", "abcy", "x", ""] {
            assert_ne!(wrong_secret(secret), secret, "{secret:?}");
        }
    }

    #[test]
    fn encodes_like_s3() {
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
        assert_eq!(encode_key("dir/a b.txt"), "dir/a%20b.txt");
        assert_eq!(tamper("abc0"), "abc1");
    }
}
