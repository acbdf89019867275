//! The `embedded` adapter (the default target): the reference server started in-process on
//! `127.0.0.1:0` with a fresh temporary data directory and its test clock on.
//!
//! This is the only place the harness links `keygate-server`, and it uses only the embedding
//! API (`ServerConfig`, `Server::start`, `RunningServer`). Everything else goes over the wire,
//! exactly as for a remote target. The data directory is the POSIX root for owner checks; it is
//! removed when the run ends unless `keep_data` is set.

use super::admin::{AdminTarget, Guard};
use super::http::HttpClient;
use super::{Capabilities, Credentials, SharedClock, TargetInfo};
use crate::scenario::Profile;
use async_trait::async_trait;
use keygate_server::{RunningServer, Server, ServerConfig};
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

/// Start the reference server and wrap it as a target.
pub async fn start(profile: Option<Profile>) -> anyhow::Result<AdminTarget> {
    let dir = tempfile::Builder::new().prefix("keygate-run-").tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data)?;
    let mut cfg = ServerConfig::new(data.clone());
    cfg.listen = "127.0.0.1:0".parse()?;
    cfg.test_clock = true;
    cfg.posix_ownership = true;
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
        http: HttpClient::new()?,
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
