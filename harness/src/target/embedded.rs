//! The `embedded` adapter (the default target): the reference server started in-process on
//! `127.0.0.1:0` with a fresh temporary data directory and its test clock on; over https with
//! [`start_tls`] (`keygate run --tls`), on a certificate from a CA generated for the run.
//!
//! This is the only place the harness links `keygate-server`, and it uses only the embedding
//! API (`ServerConfig`, `Server::start`, `RunningServer`). Everything else goes over the wire,
//! exactly as for a remote target. The data directory is the POSIX root for owner checks; it is
//! removed when the run ends unless `keep_data` is set.

use super::admin::{AdminTarget, Guard};
use super::http::HttpClient;
use super::tls::TlsTrust;
use super::{Capabilities, Credentials, SharedClock, TargetInfo};
use crate::scenario::Profile;
use anyhow::Context;
use async_trait::async_trait;
use keygate_server::{RunningServer, Server, ServerConfig, TlsConfig};
use std::path::Path;
use std::sync::Mutex;

/// Keeps the server and its data directory alive until [`Guard::stop`].
struct Embedded {
    server: Mutex<Option<RunningServer>>,
    dir: Mutex<Option<tempfile::TempDir>>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbeddedServer")
    }
}

#[async_trait]
impl Guard for Embedded {
    async fn stop(&self) {
        let server = self.server.lock().map(|mut s| s.take()).ok().flatten();
        if let Some(server) = server {
            server.shutdown().await;
        }
        let dir = self.dir.lock().map(|mut d| d.take()).ok().flatten();
        drop(dir);
    }
}

/// Start the reference server (plain http) and wrap it as a target.
pub async fn start(profile: Option<Profile>) -> anyhow::Result<AdminTarget> {
    launch(profile, None).await
}

/// Start the reference server over https with a certificate for `127.0.0.1` and `localhost`
/// signed by a CA generated here; the CA certificate (never its key) is written to `ca_out`
/// so other clients can trust the run's server, and the harness trusts only that CA.
pub async fn start_tls(profile: Option<Profile>, ca_out: &Path) -> anyhow::Result<AdminTarget> {
    let pki = generate_pki()?;
    if let Some(parent) = ca_out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(ca_out, &pki.ca_pem)
        .with_context(|| format!("writing the CA certificate to {}", ca_out.display()))?;
    let trust = TlsTrust::from_pem(pki.ca_pem, ca_out)?;
    let tls = TlsConfig::from_pem(pki.cert_pem, pki.key_pem);
    launch(profile, Some((tls, trust))).await
}

async fn launch(
    profile: Option<Profile>,
    tls: Option<(TlsConfig, TlsTrust)>,
) -> anyhow::Result<AdminTarget> {
    let dir = tempfile::Builder::new().prefix("keygate-run-").tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data)?;
    let mut cfg = ServerConfig::new(data.clone());
    cfg.listen = "127.0.0.1:0".parse()?;
    cfg.test_clock = true;
    cfg.posix_ownership = true;
    let (server_tls, trust) = tls.unzip();
    cfg.tls = server_tls;
    let server = Server::start(cfg).await?;
    let root = Credentials::new(server.root_access_key(), server.root_secret_key());
    let endpoint = server.endpoint().to_owned();
    let data_dir = server.data_dir().to_owned();
    let region = "us-east-1".to_owned();
    // Ownership can only be set (and so checked) when the process may chown.
    let posix = crate::target::stat_local(&data_dir, std::path::Path::new(""))
        .map(|o| o.uid == 0 || is_root())
        .unwrap_or(false);
    Ok(AdminTarget {
        info: TargetInfo {
            kind: "embedded".into(),
            endpoint,
            region,
            profile: profile.unwrap_or(Profile::Reference),
            capabilities: Capabilities {
                clock: true,
                posix,
                sts: true,
                service_accounts: true,
            },
        },
        root,
        posix_root: Some(data_dir),
        clock: SharedClock::default(),
        http: HttpClient::trusting(&trust.unwrap_or_default())?,
        guard: Some(Box::new(Embedded {
            server: Mutex::new(Some(server)),
            dir: Mutex::new(Some(dir)),
        })),
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// A throwaway CA and the server certificate it signed. The CA's key is dropped once the leaf
/// is signed, so nothing can issue further certificates under it.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn generate_pki() -> anyhow::Result<Pki> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "keygate run --tls CA");
    let ca_cert = ca.self_signed(&ca_key).context("signing the CA")?;
    let key = KeyPair::generate().context("generating the server key")?;
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "keygate embedded server");
    let cert = leaf
        .signed_by(&key, &ca_cert, &ca_key)
        .context("signing the server certificate")?;
    Ok(Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}
