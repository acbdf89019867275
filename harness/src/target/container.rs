//! The `container` adapter: the system under test started as a container (testcontainers) for
//! the run, provisioned through Keygate's admin API ([`AdminTarget`]), and removed after it.
//!
//! ```toml
//! version = 1
//! kind = "container"
//! image = "keygate-server"          # looked up locally; nothing is pulled unless the engine can
//! tag = "dev"
//! build = "../scripts/build-image"  # run (relative to this file) when the image is missing
//! port = 9000                       # the S3 port inside; mapped to a free 127.0.0.1 port
//! data_volume = "/data"             # a fresh host directory is bind-mounted here (POSIX root)
//! root_access_key_var = "KEYGATE_ROOT_ACCESS_KEY"   # the container's variables that take the
//! root_secret_key_var = "KEYGATE_ROOT_SECRET_KEY"   # root keys; fresh random keys every run
//! ready = { log = "listening", path = "/", timeout_seconds = 60 }
//! profile = "reference"
//! cmd = []                          # optional arguments after the image's entrypoint
//! [env]                             # more environment
//! KEYGATE_LOG = "info"
//! [capabilities]
//! sts = true
//! service_accounts = true
//! ```
//!
//! Readiness: the log line (stdout or stderr) if given, then any HTTP answer on `path`. The
//! container's own clock cannot be moved (the reference server allows that from loopback
//! only, and the harness is not loopback to it), so `clock` is off, and `clock = true` is
//! refused when the profile is loaded. So is an empty `region`.
//!
//! Faults (capability `faults`, [`ContainerTarget`]): the harness restarts, SIGKILLs and
//! pauses the container it started. The S3 port is published on a host port picked free at
//! start and fixed in the container's configuration, so the endpoint every client uses stays
//! the same across restarts (an ephemeral mapping could move).
//!
//! Security: the root keys are generated per run and live only in the container's environment
//! and this process. The data directory is removed with the container.

mod faults;

use super::admin::{AdminTarget, Guard};
use super::http::HttpClient;
use super::remote::CapabilitiesDef;
use super::{Capabilities, Credentials, SharedClock, TargetInfo};
use crate::scenario::Profile;
use async_trait::async_trait;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testcontainers::core::{IntoContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// A `kind = "container"` target profile.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerProfile {
    pub version: u32,
    pub kind: String,
    pub image: String,
    #[serde(default = "default_tag")]
    pub tag: String,
    #[serde(default)]
    pub build: Option<PathBuf>,
    pub port: u16,
    #[serde(default)]
    pub data_volume: Option<String>,
    pub root_access_key_var: String,
    pub root_secret_key_var: String,
    #[serde(default)]
    pub ready: Ready,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default = "default_profile")]
    pub profile: Profile,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub capabilities: Option<CapabilitiesDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    #[serde(default)]
    pub log: Option<String>,
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default = "default_ready_timeout")]
    pub timeout_seconds: u64,
}

impl Default for Ready {
    fn default() -> Self {
        Self {
            log: None,
            path: default_path(),
            timeout_seconds: default_ready_timeout(),
        }
    }
}

fn default_tag() -> String {
    "latest".into()
}
fn default_region() -> String {
    "us-east-1".into()
}
fn default_profile() -> Profile {
    Profile::Reference
}
fn default_path() -> String {
    "/".into()
}
fn default_ready_timeout() -> u64 {
    60
}

/// Read and check a container profile; errors name the file and key path.
pub fn load_profile(file: &Path) -> anyhow::Result<ContainerProfile> {
    let p: ContainerProfile = super::parse_profile(file)?;
    if p.version != 1 {
        anyhow::bail!("{}: at `version`: expected 1", file.display());
    }
    if p.kind != "container" {
        anyhow::bail!("{}: at `kind`: expected `container`", file.display());
    }
    super::check_region(file, &p.region)?;
    if p.capabilities.as_ref().and_then(|c| c.clock) == Some(true) {
        anyhow::bail!(
            "{}: at `capabilities.clock`: a container target cannot move the server's clock \
             (the reference server allows that from loopback only); remove the key",
            file.display()
        );
    }
    Ok(p)
}

pub use faults::ContainerTarget;

/// The container and its data directory, kept until [`Guard::stop`].
struct Running {
    container: tokio::sync::Mutex<Option<ContainerAsync<GenericImage>>>,
    data: Mutex<Option<tempfile::TempDir>>,
    id: String,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Container({})", self.id)
    }
}

/// The admin target's guard: the same [`Running`] the fault injector holds.
struct Handle(Arc<Running>);

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[async_trait]
impl Guard for Handle {
    async fn stop(&self) {
        if let Some(c) = self.0.container.lock().await.take() {
            let _ = c.rm().await;
        }
        let data = self.0.data.lock().map(|mut d| d.take()).ok().flatten();
        drop(data);
    }
}

/// A host port nobody listens on now (the engine binds it for the container's lifetime).
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn image_present(name: &str) -> bool {
    std::process::Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Build the image with the profile's `build` command when the engine does not have it.
fn ensure_image(file: &Path, p: &ContainerProfile) -> anyhow::Result<()> {
    let name = format!("{}:{}", p.image, p.tag);
    if image_present(&name) {
        return Ok(());
    }
    let Some(build) = &p.build else {
        return Ok(()); // the engine may pull it
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    let script = dir.join(build);
    say!(
        "keygate: image {name} missing: running {}",
        script.display()
    );
    let status = std::process::Command::new(&script)
        .env("KEYGATE_IMAGE", &name)
        .status()
        .map_err(|e| anyhow::anyhow!("{}: cannot run: {e}", script.display()))?;
    if !status.success() || !image_present(&name) {
        anyhow::bail!("{} did not build {name} ({status})", script.display());
    }
    Ok(())
}

fn random_key(len: usize) -> String {
    use sha2::{Digest, Sha256};
    let mut out = String::new();
    let mut seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    while out.len() < len {
        let d = Sha256::digest(seed.as_bytes());
        seed = hex::encode(d);
        out.push_str(&seed);
    }
    out.truncate(len);
    out
}

/// Start the container a profile file describes and wrap it as a target.
pub async fn start(
    file: &Path,
    profile_override: Option<Profile>,
) -> anyhow::Result<ContainerTarget> {
    let p = load_profile(file)?;
    ensure_image(file, &p)?;
    let root = Credentials::new(
        format!("kgroot{}", random_key(14)),
        format!("Kg-{}", random_key(36)),
    );
    let host_port = free_port()?;
    let mut image =
        GenericImage::new(p.image.clone(), p.tag.clone()).with_exposed_port(p.port.tcp());
    if let Some(line) = &p.ready.log {
        image = image.with_wait_for(WaitFor::message_on_either_std(line.as_bytes()));
    }
    let mut req = image
        .with_env_var(&p.root_access_key_var, &root.access_key)
        .with_env_var(&p.root_secret_key_var, &root.secret_key)
        .with_mapped_port(host_port, p.port.tcp())
        // The engine publishes a mapped port on every interface unless told an address: the
        // server under test, with its generated root keys, is for this machine only.
        .with_host_config_modifier(|host| {
            for binding in host
                .port_bindings
                .iter_mut()
                .flat_map(|b| b.values_mut())
                .flatten()
            {
                for b in binding {
                    b.host_ip = Some("127.0.0.1".to_owned());
                }
            }
        })
        .with_startup_timeout(Duration::from_secs(p.ready.timeout_seconds));
    for (k, v) in &p.env {
        req = req.with_env_var(k, v);
    }
    if !p.cmd.is_empty() {
        req = req.with_cmd(p.cmd.clone());
    }
    let data = match &p.data_volume {
        Some(inside) => {
            let dir = tempfile::Builder::new().prefix("keygate-ctr-").tempdir()?;
            req = req.with_mount(Mount::bind_mount(
                dir.path().display().to_string(),
                inside.clone(),
            ));
            Some(dir)
        }
        None => None,
    };
    let container = req
        .start()
        .await
        .map_err(|e| anyhow::anyhow!("starting {}:{}: {e}", p.image, p.tag))?;
    let port = container.get_host_port_ipv4(p.port.tcp()).await?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let http = HttpClient::new()?;
    wait_ready(&http, &endpoint, &p.ready).await?;
    let caps = p.capabilities.unwrap_or_default();
    let posix_root = data.as_ref().map(|d| d.path().to_owned());
    let running = Arc::new(Running {
        id: container.id().to_owned(),
        container: tokio::sync::Mutex::new(Some(container)),
        data: Mutex::new(data),
    });
    let admin = AdminTarget {
        info: TargetInfo {
            kind: "container".into(),
            endpoint,
            region: p.region,
            profile: profile_override.unwrap_or(p.profile),
            capabilities: Capabilities {
                clock: false,
                posix: posix_root.is_some(),
                sts: caps.sts(),
                service_accounts: caps.service_accounts(),
            },
        },
        root,
        posix_root,
        clock: SharedClock::default(),
        http,
        guard: Some(Box::new(Handle(running.clone()))),
    };
    Ok(ContainerTarget::new(admin, running, p.ready))
}

/// Any HTTP answer on `ready.path` means the server is serving.
async fn wait_ready(http: &HttpClient, endpoint: &str, ready: &Ready) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(ready.timeout_seconds);
    let uri = format!("{endpoint}{}", ready.path);
    loop {
        let req = http::Request::get(&uri).body(bytes::Bytes::new())?;
        match http.send(req).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                anyhow::bail!("{uri} not answering after {}s: {e}", ready.timeout_seconds)
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(extra: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            format!(
                "version = 1\nkind = \"container\"\nimage = \"x\"\nport = 9000\n\
                 root_access_key_var = \"A\"\nroot_secret_key_var = \"B\"\n{extra}"
            ),
        )
        .unwrap();
        format!("{:#}", load_profile(&file).expect_err("refused"))
    }

    #[test]
    fn an_empty_region_and_a_clock_it_cannot_move_are_refused() {
        let e = refusal("region = \"\"\n");
        assert!(e.contains("c.toml: at `region`: empty"), "{e}");
        let e = refusal("[capabilities]\nclock = true\n");
        assert!(
            e.contains("c.toml: at `capabilities.clock`: a container target cannot move"),
            "{e}"
        );
    }
}
