//! A small signed HTTP/1.1 client for the admin API and STS of a running server.
//!
//! One request per connection (`hyper::client::conn::http1` over a tokio `TcpStream`, or over
//! rustls for `https://` endpoints, trusting the CA given with `--ca-file`), a 30-second
//! deadline per call.
//! Failures become one [`Error`]: the server's own code and message when it answered (admin
//! JSON `{"Code","Message"}`, S3 `<Error>` or STS `<ErrorResponse>` XML), otherwise what went
//! wrong locally or on the way.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use keygate_sigv4::Service;
use serde::Deserialize;

use super::sign::{self, Credentials, Scope, ToSign};

/// The admin API's path prefix (see the route table in `admin/mod.rs`).
pub const ADMIN_PREFIX: &str = "/_keygate/admin/v1/";

/// How long one call may take, connect to last byte.
const DEADLINE: Duration = Duration::from_secs(30);

/// Everything a CLI command can fail with; printed as one line after `error: `.
#[derive(Debug)]
pub enum Error {
    /// The server refused the call.
    Server { code: String, message: String },
    /// No connection, or it broke before an answer.
    Unreachable { endpoint: String, cause: String },
    /// The server answered something this client cannot read.
    Protocol(String),
    /// A local problem: missing keys, an unreadable file, a bad endpoint.
    Local(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Server { code, message } => write!(f, "{code}: {message}"),
            Error::Unreachable { endpoint, cause } => write!(f, "cannot reach {endpoint}: {cause}"),
            Error::Protocol(m) => write!(f, "unexpected answer from the server: {m}"),
            Error::Local(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// A parsed `http[s]://host[:port]` endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// As the user gave it, without a trailing `/` (for messages).
    pub display: String,
    host: String,
    port: u16,
    /// The `Host` header value.
    authority: String,
    /// `https://`.
    tls: bool,
}

impl Endpoint {
    pub fn parse(s: &str) -> Result<Endpoint> {
        let bad = |why: &str| Error::Local(format!("invalid endpoint {s:?}: {why}"));
        let uri: http::Uri = s.parse().map_err(|_| bad("not a URL"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(bad("expected http[s]://HOST[:PORT]")),
        };
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(bad("expected no path, only http[s]://HOST[:PORT]"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        Ok(Endpoint {
            display: s.trim_end_matches('/').to_owned(),
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            authority: authority.as_str().to_owned(),
            tls,
        })
    }
}

/// A status and a body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// Signs and sends requests to one server as one identity.
pub struct Client {
    endpoint: Endpoint,
    region: String,
    creds: Credentials,
    /// For an `https://` endpoint: a TLS client trusting the given CA only.
    tls: Option<tokio_rustls::TlsConnector>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("creds", &self.creds)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// A TLS client that trusts the certificates in the PEM file `ca_file` (and nothing else).
fn tls_connector(ca_file: &std::path::Path) -> Result<tokio_rustls::TlsConnector> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let local = |why: String| Error::Local(format!("--ca-file {}: {why}", ca_file.display()));
    let pem = std::fs::read(ca_file).map_err(|e| local(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|_| local("not a PEM certificate file".into()))?;
        roots
            .add(cert)
            .map_err(|e| local(format!("unusable certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(local("holds no certificate".into()));
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Local(format!("TLS set-up: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}

impl Client {
    /// A client for `endpoint`; an `https://` one needs `ca_file`, the CA (PEM) that signed the
    /// server's certificate.
    pub fn new(
        endpoint: Endpoint,
        region: String,
        creds: Credentials,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Client> {
        let tls = match (endpoint.tls, ca_file) {
            (false, _) => None,
            (true, Some(ca)) => Some(tls_connector(ca)?),
            (true, None) => {
                return Err(Error::Local(format!(
                    "{} is https://: give --ca-file with the CA that signed the server's certificate (or KEYGATE_CA_FILE)",
                    endpoint.display
                )))
            }
        };
        Ok(Client {
            endpoint,
            region,
            creds,
            tls,
        })
    }

    /// An admin API call; `path` is relative to the prefix, its segments already encoded.
    /// Any non-2xx answer becomes [`Error::Server`].
    async fn admin(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Answer> {
        let full = format!("{ADMIN_PREFIX}{path}");
        let content_type = body.as_ref().map(|_| "application/json");
        let answer = self
            .send(
                method,
                &full,
                content_type,
                body.unwrap_or_default(),
                Service::S3,
            )
            .await?;
        if answer.status.is_success() {
            Ok(answer)
        } else {
            Err(server_error(&answer))
        }
    }

    /// `GET` an admin path.
    pub async fn get(&self, path: &str) -> Result<Answer> {
        self.admin(Method::GET, path, None).await
    }

    /// `DELETE` an admin path.
    pub async fn delete(&self, path: &str) -> Result<Answer> {
        self.admin(Method::DELETE, path, None).await
    }

    /// Sends `body` (JSON, or a policy document) to an admin path.
    pub async fn send_json(&self, method: Method, path: &str, body: String) -> Result<Answer> {
        self.admin(method, path, Some(body.into_bytes())).await
    }

    /// An STS query-protocol call (`POST /`, form body); the raw XML answer on success.
    pub async fn sts(&self, form: String) -> Result<Bytes> {
        let answer = self
            .send(
                Method::POST,
                "/",
                Some("application/x-www-form-urlencoded; charset=utf-8"),
                form.into_bytes(),
                Service::Sts,
            )
            .await?;
        if answer.status.is_success() {
            Ok(answer.body)
        } else {
            Err(server_error(&answer))
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&'static str>,
        body: Vec<u8>,
        service: Service,
    ) -> Result<Answer> {
        let mut headers = HeaderMap::new();
        let host = HeaderValue::from_str(&self.endpoint.authority)
            .map_err(|_| Error::Local("the endpoint's host is not a valid Host header".into()))?;
        headers.insert(http::header::HOST, host);
        if let Some(ct) = content_type {
            headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        let hash = sign::payload_hash(&body);
        headers.insert(
            "x-amz-content-sha256",
            HeaderValue::from_str(&hash).map_err(|_| Error::Local("bad payload hash".into()))?,
        );
        sign::sign(
            ToSign {
                method: method.as_str(),
                path,
                query: "",
                headers: &mut headers,
                payload_hash: &hash,
            },
            &self.creds,
            Scope {
                region: &self.region,
                service: service.as_str(),
                uri: service.uri_encoding(),
            },
            time::OffsetDateTime::now_utc(),
        )
        .map_err(Error::Local)?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Error::Local(format!("cannot build the request: {e}")))?;
        *request.headers_mut() = headers;

        match tokio::time::timeout(DEADLINE, self.exchange(request)).await {
            Ok(r) => r,
            Err(_) => Err(self.unreachable(format!("no answer within {}s", DEADLINE.as_secs()))),
        }
    }

    async fn exchange(&self, request: Request<Full<Bytes>>) -> Result<Answer> {
        let stream =
            tokio::net::TcpStream::connect((self.endpoint.host.as_str(), self.endpoint.port))
                .await
                .map_err(|e| self.unreachable(e.to_string()))?;
        match &self.tls {
            None => self.over(stream, request).await,
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(self.endpoint.host.clone())
                    .map_err(|e| Error::Local(format!("not a TLS server name: {e}")))?;
                let stream = tls
                    .connect(name, stream)
                    .await
                    .map_err(|e| self.unreachable(format!("TLS: {e}")))?;
                self.over(stream, request).await
            }
        }
    }

    /// One request and its answer over a connected stream.
    async fn over<S>(&self, stream: S, request: Request<Full<Bytes>>) -> Result<Answer>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        let driver = tokio::spawn(conn);
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| self.unreachable(format!("the answer broke off: {e}")))?
            .to_bytes();
        driver.abort();
        Ok(Answer { status, body })
    }

    fn unreachable(&self, cause: String) -> Error {
        Error::Unreachable {
            endpoint: self.endpoint.display.clone(),
            cause,
        }
    }
}

#[derive(Debug, Deserialize)]
struct JsonError {
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

/// `<Error>` (S3) or `<ErrorResponse><Error>` (STS): both carry `Code` and `Message`.
#[derive(Debug, Deserialize)]
struct XmlError {
    #[serde(rename = "Code", default)]
    code: Option<String>,
    #[serde(rename = "Message", default)]
    message: Option<String>,
    #[serde(rename = "Error", default)]
    error: Option<Box<XmlError>>,
}

/// The server's code and message from an error answer, whatever its envelope.
fn server_error(answer: &Answer) -> Error {
    let text = String::from_utf8_lossy(&answer.body);
    if let Ok(e) = serde_json::from_str::<JsonError>(&text) {
        return Error::Server {
            code: e.code,
            message: e.message,
        };
    }
    if let Ok(mut e) = quick_xml::de::from_str::<XmlError>(&text) {
        if let Some(inner) = e.error.take() {
            e = *inner;
        }
        if let Some(code) = e.code {
            return Error::Server {
                code,
                message: e.message.unwrap_or_default(),
            };
        }
    }
    let reason = answer.status.canonical_reason().unwrap_or("error");
    Error::Server {
        code: format!("HTTP{}", answer.status.as_u16()),
        message: format!("{reason} (no error details in the answer)"),
    }
}

/// `s` encoded as one path segment (everything but unreserved characters escaped).
pub fn segment(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    keygate_sigv4::canonical::uri_encode(&mut out, s.as_bytes(), false);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn error_envelopes_give_code_and_message() {
        let cases = [
            (
                r#"{"Code":"NoSuchEntity","Message":"No such user.","RequestId":"1"}"#,
                "NoSuchEntity: No such user.",
            ),
            (
                "<Error><Code>AccessDenied</Code><Message>a &amp; b</Message></Error>",
                "AccessDenied: a & b",
            ),
            (
                r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidParameterValue</Code><Message>bad</Message></Error><RequestId>r</RequestId></ErrorResponse>"#,
                "InvalidParameterValue: bad",
            ),
            ("", "HTTP502: Bad Gateway (no error details in the answer)"),
        ];
        for (body, want) in cases {
            let status = if body.is_empty() { 502 } else { 400 };
            assert_eq!(
                server_error(&answer(status, body)).to_string(),
                want,
                "{body}"
            );
        }
    }

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("http://127.0.0.1:9000/").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.authority.as_str()),
            ("127.0.0.1", 9000, "127.0.0.1:9000")
        );
        assert_eq!(e.display, "http://127.0.0.1:9000");
        let e = Endpoint::parse("http://[::1]").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 80));
        let e = Endpoint::parse("https://x").unwrap();
        assert!(e.tls && e.port == 443);
        assert!(Endpoint::parse("x:9000").is_err());
        assert!(Endpoint::parse("http://x:9000/bucket").is_err());
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(segment("alice-1_x.y~"), "alice-1_x.y~");
    }
}
