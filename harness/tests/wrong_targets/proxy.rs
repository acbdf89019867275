//! A deliberately wrong S3 service: an HTTP proxy on 127.0.0.1 in front of the embedded
//! reference server that rewrites who a request is from, then re-signs it with AWS's
//! `aws-sigv4` (through the harness's signer) so the server sees a valid request.
//!
//! Modes:
//! - [`Mode::AllowAllSigned`]: every header-signed S3 request made with a key the proxy has seen
//!   (a user, an STS credential, a service account) is re-signed as the root: policies, session
//!   policies and embedded policies stop denying anything.
//! - [`Mode::IgnoreTokens`]: STS and service-account keys are replaced by their parent user's keys
//!   and session tokens are dropped: tokens are never checked, session and service-account
//!   policies never narrow anything, and STS credentials outlive their expiry.
//!
//! The proxy learns keys the way a server would: user passwords from the admin API requests it
//! forwards, STS and service-account keys from the answers to AssumeRole and service-account
//! creation. Admin API requests are forwarded untouched, and so are presigned URLs except in the
//! token-blind mode; re-signing keeps the client's date, expiry and payload hash, so SigV4 date
//! and body checks behave as upstream. Only identity is wrong, which is what the tests want the
//! library to catch.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use keygate::target::http::{sign_request, HttpClient, SignSpec};
use keygate::target::Credentials;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

const ADMIN: &str = "/_keygate/admin/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    AllowAllSigned,
    IgnoreTokens,
}

#[derive(Debug, Default)]
struct Learned {
    /// User name (= access key) -> password (= secret).
    users: HashMap<String, String>,
    /// STS or service-account access key -> parent user name.
    derived: HashMap<String, String>,
}

struct State {
    mode: Mode,
    upstream: String,
    region: String,
    root: Credentials,
    http: HttpClient,
    learned: Mutex<Learned>,
}

/// The running proxy; abort its task to stop it.
pub struct Proxy {
    pub endpoint: String,
    pub task: tokio::task::JoinHandle<()>,
}

pub async fn start(
    mode: Mode,
    upstream: &str,
    region: &str,
    root: Credentials,
) -> anyhow::Result<Proxy> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let state = Arc::new(State {
        mode,
        upstream: upstream.to_owned(),
        region: region.to_owned(),
        root,
        http: HttpClient::new()?,
        learned: Mutex::default(),
    });
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(state.handle(req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(Proxy { endpoint, task })
}

/// `(access key, service)` of a SigV4 `Authorization` header. Keys may contain `/`, so the
/// scope's last four parts are taken from the right.
fn credential(auth: &str) -> Option<(String, String)> {
    let cred = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")?
        .split(',')
        .find_map(|p| p.trim().strip_prefix("Credential="))?;
    let mut parts = cred.rsplitn(5, '/');
    let _terminator = parts.next()?;
    let service = parts.next()?;
    let _region = parts.next()?;
    let _date = parts.next()?;
    Some((parts.next()?.to_owned(), service.to_owned()))
}

/// `(access key, service, date, expires)` of a presigned URL's query.
fn presigned(query: &str) -> Option<(String, String, String, u64)> {
    let param = |name: &str| {
        query.split('&').find_map(|p| {
            p.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| percent_decode(v))
        })
    };
    let cred = param("X-Amz-Credential")?;
    let (key, service) = credential(&format!("AWS4-HMAC-SHA256 Credential={cred}"))?;
    let expires = param("X-Amz-Expires")?.parse().ok()?;
    Some((key, service, param("X-Amz-Date")?, expires))
}

/// `query` without the presigning parameters.
fn unsigned_query(query: &str) -> String {
    query
        .split('&')
        .filter(|p| !p.starts_with("X-Amz-") && !p.is_empty())
        .collect::<Vec<_>>()
        .join("&")
}

fn amz_date(v: &str) -> Option<SystemTime> {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let t = time::PrimitiveDateTime::parse(v, fmt).ok()?;
    Some(t.assume_utc().into())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn xml_tag(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_owned())
}

/// Headers never carried over when re-signing (hop-by-hop, or replaced by the signer).
const DROP: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "connection",
    "transfer-encoding",
    "expect",
    "keep-alive",
];

impl State {
    fn lock(&self) -> std::sync::MutexGuard<'_, Learned> {
        self.learned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The user an access key finally belongs to.
    fn parent_of(&self, key: &str) -> Option<String> {
        let l = self.lock();
        let mut cur = key.to_owned();
        for _ in 0..4 {
            match l.derived.get(&cur) {
                Some(p) => cur = p.clone(),
                None => break,
            }
        }
        (cur != key || l.users.contains_key(key)).then_some(cur)
    }

    fn user_credentials(&self, name: &str) -> Option<Credentials> {
        self.lock()
            .users
            .get(name)
            .map(|secret| Credentials::new(name, secret))
    }

    /// Whom to re-sign `key`'s request as, if anyone.
    fn impersonate(&self, key: &str, service: &str, has_token: bool) -> Option<Credentials> {
        match self.mode {
            Mode::AllowAllSigned => {
                let known = key != self.root.access_key && self.parent_of(key).is_some();
                (known && service == "s3").then(|| self.root.clone())
            }
            Mode::IgnoreTokens => {
                let derived = self.lock().derived.contains_key(key);
                if derived || has_token {
                    self.user_credentials(&self.parent_of(key)?)
                } else {
                    None
                }
            }
        }
    }

    fn learn_request(&self, method: &http::Method, path: &str, body: &[u8]) {
        let Some(rest) = path.strip_prefix(ADMIN) else {
            return;
        };
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let Some(password) = v["password"].as_str() else {
            return;
        };
        let name = match (method.as_str(), rest.strip_prefix("/users/")) {
            ("POST", _) if rest == "/users" => v["name"].as_str().map(str::to_owned),
            ("PATCH", Some(n)) if !n.contains('/') => Some(percent_decode(n)),
            _ => None,
        };
        if let Some(name) = name {
            self.lock().users.insert(name, password.to_owned());
        }
    }

    fn learn_response(&self, caller: Option<&str>, path: &str, req_body: &[u8], resp: &[u8]) {
        let Some(caller) = caller.and_then(|c| self.parent_of(c)) else {
            return;
        };
        let text = String::from_utf8_lossy(resp);
        let new_key = if path == format!("{ADMIN}/service-accounts") {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            v["access_key"]
                .as_str()
                .or(v["accessKey"].as_str())
                .map(str::to_owned)
        } else if String::from_utf8_lossy(req_body).contains("Action=AssumeRole") {
            xml_tag(&text, "AccessKeyId")
        } else {
            None
        };
        if let Some(k) = new_key {
            self.lock().derived.insert(k, caller);
        }
    }

    async fn handle(
        &self,
        req: http::Request<hyper::body::Incoming>,
    ) -> http::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return answer(502, format!("proxy: reading body: {e}")),
        };
        let path_q = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        let path = parts.uri.path().to_owned();
        self.learn_request(&parts.method, &path, &body);
        let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
        let query = parts.uri.query().unwrap_or_default();
        let signed_query = presigned(query);
        let cred = header("authorization").and_then(credential).or_else(|| {
            signed_query
                .as_ref()
                .map(|(k, s, _, _)| (k.clone(), s.clone()))
        });
        let admin = path.starts_with(ADMIN);
        let has_token =
            header("x-amz-security-token").is_some() || query.contains("X-Amz-Security-Token=");
        let who = match &cred {
            Some((key, service)) if !admin => self.impersonate(key, service, has_token),
            _ => None,
        };
        // Presigned URLs are re-signed only in the token-blind mode (an expired or revoked STS
        // key must keep working there); the allow-all mode is about header-signed requests.
        let presign = signed_query.filter(|_| self.mode == Mode::IgnoreTokens);
        let target_uri = match (&who, &presign) {
            (Some(_), Some(_)) => {
                let q = unsigned_query(query);
                let sep = if q.is_empty() { "" } else { "?" };
                format!("{}{path}{sep}{q}", self.upstream)
            }
            _ => format!("{}{path_q}", self.upstream),
        };
        let mut out = http::Request::builder()
            .method(parts.method.clone())
            .uri(target_uri)
            .body(body.clone())
            .expect("a request rebuilt from a valid one");
        let payload = header("x-amz-content-sha256").map(str::to_owned);
        let streaming = payload
            .as_deref()
            .is_some_and(|p| p.starts_with("STREAMING-"));
        let header_signed = header("authorization").is_some();
        match (who, &cred) {
            (Some(creds), Some((_, service)))
                if !streaming && (header_signed || presign.is_some()) =>
            {
                for (n, v) in &parts.headers {
                    if !DROP.contains(&n.as_str()) {
                        out.headers_mut().append(n, v.clone());
                    }
                }
                let (time, location, expires_in, payload) = match &presign {
                    Some((_, _, date, expires)) => (
                        amz_date(date).unwrap_or_else(SystemTime::now),
                        aws_sigv4::http_request::SignatureLocation::QueryParams,
                        Some(std::time::Duration::from_secs(*expires)),
                        Some("UNSIGNED-PAYLOAD".to_owned()),
                    ),
                    None => (
                        header("x-amz-date")
                            .and_then(amz_date)
                            .unwrap_or_else(SystemTime::now),
                        aws_sigv4::http_request::SignatureLocation::Headers,
                        None,
                        payload.clone(),
                    ),
                };
                let spec = SignSpec {
                    credentials: &creds,
                    region: &self.region,
                    service,
                    time,
                    location,
                    expires_in,
                    content_sha256_header: presign.is_none() && payload.is_some(),
                    payload_override: payload,
                };
                if let Err(e) = sign_request(&mut out, &spec) {
                    return answer(502, format!("proxy: re-signing: {e}"));
                }
            }
            _ => {
                for (n, v) in &parts.headers {
                    if !matches!(n.as_str(), "connection" | "transfer-encoding" | "expect") {
                        out.headers_mut().append(n, v.clone());
                    }
                }
            }
        }
        let resp = match self.http.send(out).await {
            Ok(r) => r,
            Err(e) => return answer(502, format!("proxy: upstream: {e}")),
        };
        if (200..300).contains(&resp.status) {
            let caller = cred.as_ref().map(|(k, _)| k.as_str());
            self.learn_response(caller, &path, &body, &resp.body);
        }
        let mut b = http::Response::builder().status(resp.status);
        for (n, v) in &resp.headers {
            if !matches!(n.as_str(), "connection" | "transfer-encoding") {
                b = b.header(n.as_str(), v.as_str());
            }
        }
        b.body(Full::new(resp.body))
            .unwrap_or_else(|e| answer(502, format!("proxy: response: {e}")))
    }
}

fn answer(status: u16, msg: String) -> http::Response<Full<Bytes>> {
    let mut r = http::Response::new(Full::new(Bytes::from(msg)));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_keeps_slashes_in_keys() {
        let a = "AWS4-HMAC-SHA256 Credential=a/b/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";
        assert_eq!(credential(a), Some(("a/b".into(), "s3".into())));
        assert_eq!(percent_decode("a%2Fb"), "a/b");
        let q = "list-type=2&X-Amz-Credential=AK%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Expires=300";
        assert_eq!(
            presigned(q),
            Some(("AK".into(), "s3".into(), "20250101T000000Z".into(), 300))
        );
        assert_eq!(unsigned_query(q), "list-type=2");
    }
}
