//! Shared test fixture: a real server in-process on an ephemeral port with a fresh data dir,
//! and the real AWS SDK pointed at it.
#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the fixture"
)]

use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use keygate_server::{RunningServer, Server, ServerConfig};

pub const ROOT_AK: &str = "keygateroot";
pub const ROOT_SK: &str = "keygate-root-secret-0";

pub struct TestServer {
    pub server: RunningServer,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = ServerConfig::new(dir.path());
        cfg.root_access_key = Some(ROOT_AK.into());
        cfg.root_secret_key = Some(ROOT_SK.into());
        cfg.test_clock = true;
        cfg.posix_ownership = is_root();
        let server = Server::start(cfg).await.expect("server starts");
        TestServer { server, dir }
    }

    pub fn endpoint(&self) -> &str {
        self.server.endpoint()
    }

    /// An S3 client with the SDK's default settings (checksums included), path-style.
    pub fn s3(&self, ak: &str, sk: &str) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(ak, sk, None, None, "test"))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn root_s3(&self) -> aws_sdk_s3::Client {
        self.s3(ROOT_AK, ROOT_SK)
    }
}

pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}
