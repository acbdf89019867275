//! HTTPS: the listener's certificate and key, and the rustls acceptor built from them.
//!
//! rustls with the aws-lc-rs provider (the crypto stack the AWS SDK already brings; no
//! OpenSSL), TLS 1.2 and 1.3 with rustls's safe defaults, HTTP/1.1 by ALPN, no client
//! certificates. A connection accepted through TLS is *secure*: `aws:SecureTransport` is
//! `"true"` for its requests and `"false"` for plain-HTTP ones (SPEC E9).
//!
//! Security notes: the private key is read once at start and lives only inside rustls;
//! [`TlsConfig`]'s `Debug` never prints PEM bytes, and load errors name the file, never its
//! contents.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Where the certificate chain and its private key come from: files (the binary's
/// `--tls-cert`/`--tls-key`) or PEM bytes (embedding, tests).
#[derive(Clone)]
pub struct TlsConfig {
    cert: Pem,
    key: Pem,
}

#[derive(Clone)]
enum Pem {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl TlsConfig {
    /// A PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_files(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> TlsConfig {
        TlsConfig {
            cert: Pem::File(cert.into()),
            key: Pem::File(key.into()),
        }
    }

    /// The same, already in memory.
    pub fn from_pem(cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> TlsConfig {
        TlsConfig {
            cert: Pem::Bytes(cert.into()),
            key: Pem::Bytes(key.into()),
        }
    }

    /// Reads and checks the certificate and key; the acceptor serving them.
    pub(crate) fn acceptor(&self) -> anyhow::Result<TlsAcceptor> {
        let cert = self.cert.read("certificate")?;
        let key = self.key.read("private key")?;
        let chain = CertificateDer::pem_slice_iter(&cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("reading the TLS certificate {}: {e}", self.cert))?;
        if chain.is_empty() {
            bail!("the TLS certificate {} holds no certificate", self.cert);
        }
        let key = PrivateKeyDer::from_pem_slice(&key)
            .map_err(|e| anyhow::anyhow!("reading the TLS private key {}: {e}", self.key))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("the TLS certificate and private key do not form a usable pair")?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

impl Pem {
    fn read(&self, what: &str) -> anyhow::Result<Vec<u8>> {
        match self {
            Pem::File(path) => std::fs::read(path)
                .with_context(|| format!("reading the TLS {what} {}", path.display())),
            Pem::Bytes(bytes) => Ok(bytes.clone()),
        }
    }
}

impl fmt::Display for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(path) => write!(f, "{}", path.display()),
            Pem::Bytes(_) => f.write_str("(PEM in memory)"),
        }
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("cert", &format_args!("{}", self.cert))
            .field("key", &format_args!("{}", self.key))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_pem_bytes() {
        let cfg = TlsConfig::from_pem("-----BEGIN CERTIFICATE-----", "SECRET-KEY-BYTES");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("SECRET-KEY-BYTES"), "{shown}");
        assert!(!shown.contains("BEGIN"), "{shown}");
    }

    #[test]
    fn garbage_is_refused_without_echoing_it() {
        let cfg = TlsConfig::from_pem("not a certificate", "SECRET-KEY-BYTES");
        let err = format!("{:#}", cfg.acceptor().err().expect("refused"));
        assert!(!err.contains("SECRET-KEY-BYTES"), "{err}");
    }
}
