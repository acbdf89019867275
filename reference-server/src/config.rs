//! Server configuration, shared by the binary's `serve` and in-process embedding.

use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run one server. `Debug` never shows the root secret.
#[derive(Clone)]
pub struct ServerConfig {
    /// Objects, metadata and the identity database live here.
    pub data_dir: PathBuf,
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The one region the server accepts in credential scopes (SPEC V4).
    pub region: String,
    /// Root keys; generated and stored under the data dir when absent.
    pub root_access_key: Option<String>,
    pub root_secret_key: Option<String>,
    /// Expose the clock-advance admin call (loopback only).
    pub test_clock: bool,
    /// Enables virtual-host-style addressing for `<bucket>.<domain>`.
    pub domain: Option<String>,
    /// Chown written files and directories to the writer's uid/gid (SPEC X1–X3).
    pub posix_ownership: bool,
    /// Seal stored secrets with a key derived from this file instead of the root secret.
    pub kms_key_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<crate::tls::TlsConfig>,
    /// Connection limits and timeouts of the listener.
    pub connection_limits: crate::conn::ConnLimits,
    /// Identity limits (defaults: the contract's).
    pub limits: crate::iam::Limits,
    /// Owner of what anonymous requests (a bucket policy's) write (SPEC X2; default
    /// 65534:65534).
    pub anonymous_owner: crate::store::Owner,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("region", &self.region)
            .field("root_access_key", &self.root_access_key)
            .field(
                "root_secret_key",
                &self.root_secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("test_clock", &self.test_clock)
            .field("domain", &self.domain)
            .field("posix_ownership", &self.posix_ownership)
            .field("kms_key_file", &self.kms_key_file)
            .field("tls", &self.tls)
            .field("connection_limits", &self.connection_limits)
            .field("limits", &self.limits)
            .field("anonymous_owner", &self.anonymous_owner)
            .finish()
    }
}

impl ServerConfig {
    /// Defaults for embedding: loopback on an ephemeral port, `us-east-1`, generated root
    /// keys, POSIX ownership on.
    pub fn new(data_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            region: "us-east-1".to_owned(),
            root_access_key: None,
            root_secret_key: None,
            test_clock: false,
            domain: None,
            posix_ownership: true,
            kms_key_file: None,
            tls: None,
            connection_limits: crate::conn::ConnLimits::default(),
            limits: crate::iam::Limits::default(),
            anonymous_owner: crate::store::Owner::NOBODY,
        }
    }
}
