//! A small HTTP(S) client and AWS SigV4 signing for the requests the SDKs do not make: the
//! admin API and the raw (possibly malformed) requests of `run::raw`. Over https it trusts the
//! target's CA when one is named ([`TlsTrust`]), else the platform's roots.
//!
//! Signing uses AWS's `aws-sigv4` crate, never the server's verifier, so a bug shared by both
//! cannot hide. Responses are read whole (bodies here are small); a 30-second timeout turns a
//! hung target into a transport error rather than a hung run.

use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4::SigningParams;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::fmt;
use std::time::{Duration, SystemTime};

use super::tls::TlsTrust;
use super::Credentials;

/// An answer, read whole.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

type Inner = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A pooled client for http and https endpoints.
#[derive(Clone)]
pub struct HttpClient {
    inner: Inner,
    trust: TlsTrust,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpClient")
    }
}

impl HttpClient {
    /// A client trusting the platform's roots.
    pub fn new() -> anyhow::Result<Self> {
        Self::trusting(&TlsTrust::default())
    }

    /// A client whose https connections trust what `trust` says (only its CA, when it has one).
    pub fn trusting(trust: &TlsTrust) -> anyhow::Result<Self> {
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match trust.rustls_config()? {
            Some(config) => builder.with_tls_config(config),
            None => builder.with_native_roots()?,
        };
        let https = builder.https_or_http().enable_http1().build();
        let inner = Client::builder(TokioExecutor::new()).build(https);
        Ok(Self {
            inner,
            trust: trust.clone(),
        })
    }

    /// What this client's https connections trust.
    pub fn trust(&self) -> &TlsTrust {
        &self.trust
    }

    /// Send `req`; any error before a status line is a transport error.
    pub async fn send(&self, req: http::Request<Bytes>) -> Result<HttpResponse, String> {
        let (mut parts, body) = req.into_parts();
        // hyper sends no length for an empty body, and S3 answers a PUT or POST without one
        // 411 MissingContentLength (as AWS does): say it is 0, as the SDKs do.
        if body.is_empty()
            && matches!(parts.method, http::Method::PUT | http::Method::POST)
            && !parts.headers.contains_key(http::header::CONTENT_LENGTH)
        {
            parts.headers.insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from_static("0"),
            );
        }
        let req = http::Request::from_parts(parts, Full::new(body));
        let fut = async {
            let resp = self
                .inner
                .request(req)
                .await
                .map_err(|e| crate::run::outcome::error_chain(&e))?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("reading body: {e}"))?
                .to_bytes();
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .map_err(|_| "no answer within 30 s".to_owned())?
    }
}

/// How to sign one request.
#[derive(Debug, Clone)]
pub struct SignSpec<'a> {
    pub credentials: &'a Credentials,
    pub region: &'a str,
    pub service: &'a str,
    pub time: SystemTime,
    pub location: SignatureLocation,
    pub expires_in: Option<Duration>,
    /// Add `x-amz-content-sha256` (S3 does; STS clients do not).
    pub content_sha256_header: bool,
    /// Sign this payload hash instead of the body's (`UNSIGNED-PAYLOAD`, or a wrong one).
    pub payload_override: Option<String>,
}

/// Sign `req` in place with aws-sigv4; returns the signature.
pub fn sign_request(req: &mut http::Request<Bytes>, spec: &SignSpec<'_>) -> anyhow::Result<String> {
    let identity = spec.credentials.to_aws().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = spec.location;
    settings.expires_in = spec.expires_in;
    if spec.content_sha256_header {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    // S3 signs paths as given: no double encoding, no normalisation.
    settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
    settings.uri_path_normalization_mode =
        aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    let params = SigningParams::builder()
        .identity(&identity)
        .region(spec.region)
        .name(spec.service)
        .time(spec.time)
        .settings(settings)
        .build()?
        .into();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = match &spec.payload_override {
        Some(h) => SignableBody::Precomputed(h.clone()),
        None => SignableBody::Bytes(req.body()),
    };
    let uri = req.uri().to_string();
    let signable = SignableRequest::new(
        req.method().as_str(),
        uri,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        body,
    )?;
    let (instructions, signature) = sign(signable, &params)?.into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(signature)
}

/// A `Host` header value for `endpoint` (`http://127.0.0.1:9000` -> `127.0.0.1:9000`).
pub fn host_of(endpoint: &str) -> String {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_owned()
}
