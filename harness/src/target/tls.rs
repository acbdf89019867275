//! Which certificates the harness trusts when a target's endpoint is `https://`.
//!
//! Without a CA the harness trusts the platform's roots. With one (the CA `keygate run --tls`
//! generates, or a profile's `ca_file`) it trusts *only* that CA, as `curl --cacert` does: a
//! test target's certificate is checked against the CA its operator named, never waved
//! through. Both clients honour it: hyper-rustls for the admin API and raw requests
//! ([`super::http::HttpClient`]), and the AWS SDK's own https client for normal calls
//! (`run::clients`). Both are rustls on aws-lc-rs, the stack the SDK already builds; certificate
//! verification is never disabled.
//!
//! The transport a run used (`http` or `https`) follows from the endpoint's scheme
//! ([`Transport::of`]); scenarios state transport-dependent outcomes with it
//! (`outcome_transport.https`, `expect.transport.https`).

use crate::scenario::model::Transport;
use anyhow::Context;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The roots an https endpoint's certificate must chain to. Cheap to clone.
#[derive(Clone, Default)]
pub struct TlsTrust {
    ca: Option<Arc<Ca>>,
}

struct Ca {
    /// The file the CA is in (read from, or written to by `--tls`).
    file: PathBuf,
    pem: Vec<u8>,
    roots: Arc<rustls::RootCertStore>,
    /// The SDK's https client trusting only this CA, built once per run.
    sdk: OnceLock<SharedHttpClient>,
}

impl fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.ca {
            None => f.write_str("TlsTrust(platform roots)"),
            Some(ca) => write!(f, "TlsTrust(CA {})", ca.file.display()),
        }
    }
}

impl TlsTrust {
    /// Trust only the CA certificate(s) in `pem`, which is also in `file` (named in errors and
    /// given to commands that need it).
    pub fn from_pem(pem: impl Into<Vec<u8>>, file: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let pem = pem.into();
        let file = file.into();
        let source = file.display();
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("CA {source}: not PEM certificates: {e}"))?;
        anyhow::ensure!(!certs.is_empty(), "CA {source}: holds no certificate");
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs {
            roots
                .add(cert)
                .with_context(|| format!("CA {source}: not a usable CA certificate"))?;
        }
        Ok(Self {
            ca: Some(Arc::new(Ca {
                file,
                pem,
                roots: Arc::new(roots),
                sdk: OnceLock::new(),
            })),
        })
    }

    /// Trust only the CA certificate(s) in a PEM file.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading the CA file {}", path.display()))?;
        Self::from_pem(pem, path)
    }

    /// The CA's file, when one replaces the platform's roots.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca.as_ref().map(|ca| ca.file.as_path())
    }

    /// The CA as PEM, when one replaces the platform's roots.
    pub fn ca_pem(&self) -> Option<&[u8]> {
        self.ca.as_ref().map(|ca| ca.pem.as_slice())
    }

    /// A rustls client configuration trusting only the CA (`None`: the platform's roots).
    pub fn rustls_config(&self) -> anyhow::Result<Option<rustls::ClientConfig>> {
        let Some(ca) = &self.ca else {
            return Ok(None);
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(ca.roots.clone())
            .with_no_client_auth();
        Ok(Some(config))
    }

    /// The SDK's https client trusting only the CA (`None`: the SDK's default client).
    pub fn sdk_http_client(&self) -> anyhow::Result<Option<SharedHttpClient>> {
        let Some(ca) = &self.ca else {
            return Ok(None);
        };
        if let Some(client) = ca.sdk.get() {
            return Ok(Some(client.clone()));
        }
        let context = TlsContext::builder()
            .with_trust_store(TrustStore::empty().with_pem_certificate(ca.pem.clone()))
            .build()
            .map_err(|e| anyhow::anyhow!("CA {}: {e}", ca.file.display()))?;
        let client = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build_https();
        Ok(Some(ca.sdk.get_or_init(|| client).clone()))
    }
}

impl Transport {
    /// The transport of requests to `endpoint`: `https` for an `https://` URL, else `http`.
    pub fn of(endpoint: &str) -> Transport {
        let scheme = endpoint.split_once("://").map_or("", |(s, _)| s);
        if scheme.eq_ignore_ascii_case("https") {
            Transport::Https
        } else {
            Transport::Http
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_follows_the_scheme() {
        assert_eq!(Transport::of("https://127.0.0.1:9000"), Transport::Https);
        assert_eq!(Transport::of("HTTPS://s3.example"), Transport::Https);
        assert_eq!(Transport::of("http://127.0.0.1:9000"), Transport::Http);
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused_by_name() {
        let err = TlsTrust::from_pem("not a certificate", "ca.pem").expect_err("refused");
        assert!(format!("{err:#}").contains("ca.pem"), "{err:#}");
        assert!(TlsTrust::default().ca_pem().is_none());
    }
}
