//! Targets: the S3 services the harness checks, behind one adapter trait.
//!
//! A [`Target`] knows where the service listens (endpoint, region, root keys), what it can do
//! ([`Capabilities`], [`Profile`]) and how to provision identities on it. Everything the
//! scenarios check goes over the wire from `run/`; the adapter is only the provisioning side
//! door. Adapters: [`embedded`] (the reference server in-process, the default), [`remote`] (any
//! endpoint speaking Keygate's admin API), [`command`] (a vendor CLI, each method a command
//! template), [`container`] (started for the run by testcontainers). No method takes or
//! returns anything HTTP-specific; rejections carry a status only when the target has one.
//! [`open`] picks the adapter from a profile file's `kind`.
//!
//! Security: secrets live in [`Credentials`], whose `Debug` redacts them; reports print only
//! access keys.

pub mod admin;
pub mod command;
pub mod container;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod http;
pub mod remote;
pub mod tls;

use crate::scenario::Profile;
use async_trait::async_trait;
use serde::Serialize;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Keys an identity signs with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
    /// STS expiry as the target stated it (RFC 3339), for reports.
    pub expiration: Option<String>,
}

impl Credentials {
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            session_token: None,
            expiration: None,
        }
    }

    pub fn to_aws(&self) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            &self.access_key,
            &self.secret_key,
            self.session_token.clone(),
            None,
            "keygate",
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// What a target supports beyond plain S3; scenarios needing more are skipped with the reason.
#[derive(Debug, Clone, Serialize)]
pub struct Capabilities {
    /// The clock can be moved forward (`advance_clock`).
    pub clock: bool,
    /// Object files can be stat'ed under a POSIX root.
    pub posix: bool,
    pub sts: bool,
    pub service_accounts: bool,
}

impl Capabilities {
    pub fn has(&self, need: &str) -> bool {
        match need {
            "clock" => self.clock,
            "posix" => self.posix,
            "sts" => self.sts,
            "service_accounts" => self.service_accounts,
            _ => false,
        }
    }
}

/// Run-level facts about a target, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    /// `embedded`, `remote`, ...
    pub kind: String,
    pub endpoint: String,
    pub region: String,
    pub profile: Profile,
    pub capabilities: Capabilities,
}

/// A user to create.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub name: String,
    pub password: String,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// Changes to a user; `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub password: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// An AssumeRole call.
#[derive(Debug, Clone, Default)]
pub struct RoleRequest {
    pub duration_seconds: Option<i32>,
    pub session_policy: Option<String>,
}

/// File ownership read under the target's POSIX root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FileOwner {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// Why a provisioning call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The target answered and refused (this may be what a scenario expects).
    #[error("refused: {}{code}: {message}", status.map(|s| format!("{s} ")).unwrap_or_default())]
    Rejected {
        status: Option<u16>,
        code: String,
        message: String,
        /// The target's raw answer, for reports.
        body: String,
    },
    /// The target could not be reached or answered garbage.
    #[error("transport: {0}")]
    Transport(String),
    /// The target does not offer this capability.
    #[error("unsupported by this target: {0}")]
    Unsupported(&'static str),
}

/// A clock offset shared by everything that signs for one target: after `advance_clock`, the
/// harness signs with the target's time, or every request would be skewed.
#[derive(Debug, Clone, Default)]
pub struct SharedClock(Arc<AtomicI64>);

impl SharedClock {
    pub fn now(&self) -> SystemTime {
        let off = self.0.load(Ordering::SeqCst);
        if off >= 0 {
            SystemTime::now() + Duration::from_secs(off as u64)
        } else {
            SystemTime::now() - Duration::from_secs(off.unsigned_abs())
        }
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

/// An S3 service under test.
#[async_trait]
pub trait Target: Send + Sync + fmt::Debug {
    fn info(&self) -> TargetInfo;
    fn endpoint(&self) -> &str;
    fn region(&self) -> &str;
    /// The admin identity (SPEC: root), used for setup and for `as = "root"` steps.
    fn root(&self) -> &Credentials;
    /// The time the target believes it is, for signing.
    fn clock(&self) -> &SharedClock;
    /// The CA an `https` endpoint's certificate must chain to (default: the platform's roots).
    fn tls_trust(&self) -> tls::TlsTrust {
        tls::TlsTrust::default()
    }

    /// Create a user; returns the keys it signs with (WEKA: its name and password; targets
    /// that generate keys, such as AWS IAM, return those).
    async fn create_user(&self, user: &NewUser) -> Result<Credentials, TargetError>;
    async fn update_user(&self, name: &str, update: &UserUpdate) -> Result<(), TargetError>;
    async fn delete_user(&self, name: &str) -> Result<(), TargetError>;
    /// Add or replace a custom policy (`document` as submitted, byte for byte).
    async fn put_policy(&self, name: &str, document: &str) -> Result<(), TargetError>;
    async fn delete_policy(&self, name: &str) -> Result<(), TargetError>;
    async fn attach_policy(&self, user: &str, policy: &str) -> Result<(), TargetError>;
    async fn detach_policy(&self, user: &str) -> Result<(), TargetError>;
    /// AssumeRole signed by `caller`; returns the STS credentials.
    async fn assume_role(
        &self,
        caller: &Credentials,
        request: &RoleRequest,
    ) -> Result<Credentials, TargetError>;
    /// Create a service account of `caller` (who signs the call).
    async fn create_service_account(
        &self,
        caller: &Credentials,
        policy: Option<&str>,
    ) -> Result<Credentials, TargetError>;
    async fn delete_service_account(
        &self,
        caller: &Credentials,
        access_key: &str,
    ) -> Result<(), TargetError>;

    /// Move the target's clock forward (capability `clock`).
    async fn advance_clock(&self, _seconds: i64) -> Result<(), TargetError> {
        Err(TargetError::Unsupported("clock"))
    }

    /// Owner of `relative` under the target's POSIX root (capability `posix`).
    async fn stat(&self, _relative: &Path) -> Result<FileOwner, TargetError> {
        Err(TargetError::Unsupported("posix"))
    }

    /// One cheap root-signed read of the provisioning side, before any scenario (the
    /// preflight, `run::preflight`): adapters with an admin API ask it something harmless so
    /// that wrong root keys fail the run at once. Default: nothing to ask.
    async fn check_admin(&self) -> Result<(), TargetError> {
        Ok(())
    }

    /// Stop whatever the adapter started. Called once, after the run.
    async fn shutdown(&self) {}

    /// Whether the adapter can perform a provisioning action, by the command adapter's names
    /// (`user_add`, `user_update`, `user_passwd`, `user_delete`, `policy_add`, `policy_remove`,
    /// `policy_attach`, `policy_detach`). A scenario that needs one the target lacks is skipped
    /// with the reason instead of failing.
    fn supports_action(&self, _action: &str) -> bool {
        true
    }

    /// Whether [`Target::inject`] works (capability `faults`): only an adapter that started
    /// the target itself can restart, kill or pause it.
    fn supports_faults(&self) -> bool {
        false
    }

    /// Inject a fault (capability `faults`). `Restart` and `Start` return once the target
    /// answers again; after `Kill` it stays down until `Start`.
    async fn inject(&self, _fault: Fault) -> Result<(), TargetError> {
        Err(TargetError::Unsupported("faults"))
    }
}

/// A fault the harness injects into a target it started (`Target::inject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Stop gracefully (SIGTERM, SIGKILL after a grace period) and start again.
    Restart,
    /// SIGKILL: no chance to finish anything; the target stays down until `Start`.
    Kill,
    /// Start a killed target again.
    Start,
    /// Freeze its processes: connections are accepted, nothing answers.
    Pause,
    Unpause,
}

/// Open the target a profile file describes (`kind`: `remote`, the default, `command` or
/// `container`, which starts it).
pub async fn open(file: &Path, profile: Option<Profile>) -> anyhow::Result<Box<dyn Target>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))?;
    let kind = toml::from_str::<toml::Table>(&text)
        .ok()
        .and_then(|t| t.get("kind").and_then(|k| k.as_str()).map(str::to_owned));
    match kind.as_deref() {
        Some("command") => Ok(Box::new(command::open(file, profile).await?)),
        Some("container") => Ok(Box::new(container::start(file, profile).await?)),
        _ => Ok(Box::new(remote::open(file, profile)?)),
    }
}

/// Check a profile file as [`open`] would, without contacting, starting or running anything:
/// a file that fails here is bad input (exit 2), not an unreachable target (exit 3).
pub fn check(file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))?;
    let table = toml::from_str::<toml::Table>(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}",
            file.display(),
            crate::scenario::toml_error(&text, &e)
        )
    })?;
    match table.get("kind").and_then(|k| k.as_str()) {
        Some("command") => command::check_file(file),
        Some("container") => container::load_profile(file).map(drop),
        _ => remote::open(file, None).map(drop),
    }
}

/// Read a profile file strictly; errors name the file and the key path.
pub(crate) fn parse_profile<T: serde::de::DeserializeOwned>(file: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))?;
    let de = toml::Deserializer::parse(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}",
            file.display(),
            crate::scenario::toml_error(&text, &e)
        )
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        anyhow::anyhow!(
            "{}: at `{}`: {}",
            file.display(),
            e.path(),
            crate::scenario::toml_error(&text, e.inner())
        )
    })
}

/// Stat a file below `root` (shared by adapters whose POSIX root is a local path).
pub fn stat_local(root: &Path, relative: &Path) -> Result<FileOwner, TargetError> {
    use std::os::unix::fs::MetadataExt;
    let path = root.join(relative);
    let md = std::fs::symlink_metadata(&path)
        .map_err(|e| TargetError::Transport(format!("stat {}: {e}", path.display())))?;
    Ok(FileOwner {
        uid: md.uid(),
        gid: md.gid(),
        mode: md.mode() & 0o7777,
    })
}
