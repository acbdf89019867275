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
use std::path::{Path, PathBuf};
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

/// WEKA's pre-defined policy documents (SPEC "Pre-defined documents").
pub fn weka_predefined(name: &str) -> Option<&'static str> {
    Some(match name {
        "readonly" => {
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListAllMyBuckets","s3:ListBucket","s3:ListBucketMultipartUploads","s3:ListMultipartUploadParts","s3:GetBucketLocation","s3:GetBucketPolicy","s3:GetBucketTagging","s3:GetObject"],"Resource":["arn:aws:s3:::*"]}]}"#
        }
        "writeonly" => {
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::*"]}]}"#
        }
        "readwrite" => {
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::*"]}]}"#
        }
        _ => return None,
    })
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
    /// Inspecting the target's files on this host (under `posix_root`) failed: a fact about
    /// the local path, not about reaching the target.
    #[error("local file inspection: {0}")]
    Local(String),
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

    /// The total the target's clock was moved by [`SharedClock::advance`] (seconds): what a
    /// target that outlives the run keeps (a remote server's test clock is not reset).
    pub fn advanced_s(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
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

    /// The document of pre-defined policy `name` as this target should hold it, to restore
    /// one a scenario changed on a target that let it (SPEC P1 refuses such changes). Default:
    /// WEKA's document, as SPEC gives it, for the `reference` profile; none for the others
    /// (MinIO's `readonly` differs, AWS has no such policies).
    fn predefined_document(&self, name: &str) -> Option<String> {
        let weka = self.info().profile == crate::scenario::Profile::Reference;
        weka_predefined(name).filter(|_| weka).map(str::to_owned)
    }

    /// How many S3 users the target holds now, for scenarios that count users against a
    /// limit (`empty_of_users`); `None` when the adapter cannot list them. Default: `None`.
    async fn count_users(&self) -> Result<Option<usize>, TargetError> {
        Ok(None)
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

/// The `kind`s a target profile file may name; `remote` is the default. (Without `--target`
/// the reference server runs in-process: the `embedded` target, which no file describes.)
pub const KINDS: &[&str] = &["remote", "command", "container"];

/// A profile's `kind`, checked against [`KINDS`]; `None` (no `kind`) is `remote`.
fn kind_of(file: &Path, table: &toml::Table) -> anyhow::Result<&'static str> {
    match table.get("kind") {
        None => Ok("remote"),
        Some(toml::Value::String(k)) => match KINDS.iter().find(|known| *known == k) {
            Some(known) => Ok(known),
            None => Err(unknown_kind(file, k)),
        },
        Some(other) => anyhow::bail!(
            "{}: at `kind`: expected a string, found {}; {}",
            file.display(),
            other.type_str(),
            expected_kinds()
        ),
    }
}

fn expected_kinds() -> String {
    let list: Vec<String> = KINDS.iter().map(|k| format!("`{k}`")).collect();
    format!(
        "expected one of {} (`remote` is the default; without --target the embedded \
         reference server runs)",
        list.join(", ")
    )
}

/// The error for a `kind` that is none of [`KINDS`].
pub(crate) fn unknown_kind(file: &Path, kind: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: at `kind`: unknown kind `{kind}`; {}",
        file.display(),
        expected_kinds()
    )
}

fn read_table(file: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))?;
    toml::from_str::<toml::Table>(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}",
            file.display(),
            crate::scenario::toml_error(&text, &e)
        )
    })
}

/// Open the target a profile file describes (`kind`: `remote`, the default, `command` or
/// `container`, which starts it).
pub async fn open(file: &Path, profile: Option<Profile>) -> anyhow::Result<Box<dyn Target>> {
    match kind_of(file, &read_table(file)?)? {
        "command" => Ok(Box::new(command::open(file, profile).await?)),
        "container" => Ok(Box::new(container::start(file, profile).await?)),
        _ => Ok(Box::new(remote::open(file, profile)?)),
    }
}

/// Check a profile file as [`open`] would, without contacting, starting or running anything:
/// a file that fails here is bad input (exit 2), not an unreachable target (exit 3).
pub fn check(file: &Path) -> anyhow::Result<()> {
    match kind_of(file, &read_table(file)?)? {
        "command" => command::check_file(file),
        "container" => container::load_profile(file).map(drop),
        _ => remote::open(file, None).map(drop),
    }
}

/// Where a profile's root keys come from when an environment variable holds them: the
/// variable's name (`root_access_key_env`, `root_secret_key_env`), unless the key itself is
/// in the file (a file with both is refused when the target opens). For messages that name
/// the fix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootKeyEnv {
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
}

impl RootKeyEnv {
    /// Read from a profile file; a file that cannot be read names no variable.
    pub fn of(file: &Path) -> Self {
        let Ok(table) = read_table(file) else {
            return Self::default();
        };
        let var = |what: &str| {
            if table.contains_key(what) {
                return None;
            }
            table
                .get(&format!("{what}_env"))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Self {
            access_key: var("root_access_key"),
            secret_key: var("root_secret_key"),
        }
    }
}

/// An endpoint must name its scheme and a host: `127.0.0.1:9000` would otherwise be taken for
/// a URL with scheme `127.0.0.1`, and `http://` for one with no host; both would fail only when
/// the run starts, as an unreachable target.
pub(crate) fn check_endpoint(file: &Path, endpoint: &str) -> anyhow::Result<()> {
    let at = |why: String| {
        anyhow::anyhow!(
            "{}: at `endpoint`: {why} (found `{endpoint}`)",
            file.display()
        )
    };
    let Some(rest) = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
    else {
        return Err(at("endpoint must start with http:// or https://".into()));
    };
    if rest.trim_end_matches('/').is_empty() {
        return Err(at("endpoint names no host".into()));
    }
    let uri = match endpoint.parse::<::http::Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => uri,
        Ok(_) => return Err(at("endpoint names no host".into())),
        Err(e) => return Err(at(format!("not a URL: {e}"))),
    };
    // Read from the text: `http::Uri` takes any digits for a port.
    let port = uri.authority().and_then(|a| {
        let s = a.as_str();
        let after_host = s.rfind(']').map_or(s, |i| &s[i + 1..]);
        after_host.rsplit_once(':').map(|(_, port)| port)
    });
    if port.is_some_and(|p| !p.parse::<u16>().is_ok_and(|p| p > 0)) {
        return Err(at("the port must be 1 to 65535".into()));
    }
    // Requests and the admin API are addressed from the root: a path or query here would be
    // glued into every URL.
    if !uri.path().trim_end_matches('/').is_empty() || uri.query().is_some() {
        return Err(at(
            "expected scheme://host[:port] only: a path or query is not supported".into(),
        ));
    }
    Ok(())
}

/// A region is part of every signature: an empty one would pass the file check and then fail
/// every scenario's request, as if the target refused them.
pub(crate) fn check_region(file: &Path, region: &str) -> anyhow::Result<()> {
    if region.trim().is_empty() {
        anyhow::bail!(
            "{}: at `region`: empty (the region requests are signed for, e.g. `us-east-1`; \
             remove the key for that default)",
            file.display()
        );
    }
    Ok(())
}

/// A `*_seconds` or count that must be at least 1 (0 has no meaning: no time, no slot).
pub(crate) fn check_at_least_one(file: &Path, key: &str, value: u64) -> anyhow::Result<()> {
    if value == 0 {
        anyhow::bail!(
            "{}: at `{key}`: must be at least 1, found 0",
            file.display()
        );
    }
    Ok(())
}

/// A profile's `posix_root`, relative to the profile file's directory as `ca_file` is (an
/// absolute path as it is).
pub(crate) fn resolve_posix_root(file: &Path, root: Option<PathBuf>) -> Option<PathBuf> {
    root.map(|r| file.parent().unwrap_or(Path::new("")).join(r))
}

/// A `posix_root` must be an existing directory on this host: owner checks stat files below
/// it, and a wrong path would otherwise fail every such scenario as if the target broke a rule.
pub(crate) fn check_posix_root(file: &Path, root: Option<&Path>) -> anyhow::Result<()> {
    let Some(root) = root else {
        return Ok(());
    };
    let at = |why: String| {
        anyhow::anyhow!(
            "{}: at `posix_root`: `{}` {why} (the directory on this host that holds the \
             target's buckets, for owner checks; remove the key to skip them)",
            file.display(),
            root.display()
        )
    };
    match std::fs::metadata(root) {
        Ok(md) if md.is_dir() => Ok(()),
        Ok(_) => Err(at("is not a directory".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(at("does not exist".into())),
        Err(e) => Err(at(format!("cannot be read: {e}"))),
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
        .map_err(|e| TargetError::Local(format!("stat {}: {e}", path.display())))?;
    Ok(FileOwner {
        uid: md.uid(),
        gid: md.gid(),
        mode: md.mode() & 0o7777,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_cannot_be_inspected_is_a_local_error_not_transport() {
        let dir = tempfile::tempdir().unwrap();
        let err = stat_local(dir.path(), Path::new("bucket/missing")).unwrap_err();
        assert!(matches!(err, TargetError::Local(_)), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("local file inspection: stat ") && text.contains("bucket/missing"),
            "{text}"
        );
    }

    #[test]
    fn an_endpoint_needs_a_scheme_and_a_host() {
        let f = Path::new("targets/x.toml");
        for ok in [
            "http://127.0.0.1:9000",
            "https://s3.example.internal/",
            "http://[::1]:9000",
        ] {
            check_endpoint(f, ok).unwrap();
        }
        for (bad, why) in [
            (
                "127.0.0.1:9000",
                "endpoint must start with http:// or https://",
            ),
            ("http://", "endpoint names no host"),
            ("https:///", "endpoint names no host"),
            ("http://:9000", "at `endpoint`"),
            ("http://host name", "not a URL"),
            // A probe's: each passed, then failed the run as an unreachable target.
            ("http://127.0.0.1:99999", "the port must be 1 to 65535"),
            ("http://127.0.0.1:0", "the port must be 1 to 65535"),
            (
                "http://127.0.0.1:9000?x=1",
                "a path or query is not supported",
            ),
            (
                "http://127.0.0.1:9000/some/prefix",
                "a path or query is not supported",
            ),
        ] {
            let e = check_endpoint(f, bad).expect_err(bad).to_string();
            assert!(e.starts_with("targets/x.toml: at `endpoint`: "), "{e}");
            assert!(e.contains(why) && e.contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn a_region_must_not_be_empty_and_counts_start_at_one() {
        let f = Path::new("targets/x.toml");
        check_region(f, "us-east-1").unwrap();
        for bad in ["", "  "] {
            let e = check_region(f, bad).unwrap_err().to_string();
            assert!(e.starts_with("targets/x.toml: at `region`: empty"), "{e}");
        }
        check_at_least_one(f, "max_parallel", 1).unwrap();
        let e = check_at_least_one(f, "max_parallel", 0)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "targets/x.toml: at `max_parallel`: must be at least 1, found 0"
        );
    }

    #[test]
    fn the_clock_remembers_how_far_it_was_moved() {
        let clock = SharedClock::default();
        assert_eq!(clock.advanced_s(), 0);
        clock.advance(3600);
        clock.advance(900);
        assert_eq!(clock.advanced_s(), 4500);
    }
}
