//! The `remote` adapter: a running service named by a TOML target profile.
//!
//! ```toml
//! version = 1
//! kind = "remote"
//! endpoint = "http://127.0.0.1:9000"
//! region = "us-east-1"
//! root_access_key_env = "KEYGATE_ROOT_ACCESS_KEY"   # or root_access_key = "..."
//! root_secret_key_env = "KEYGATE_ROOT_SECRET_KEY"   # or root_secret_key = "..."
//! posix_root = "/srv/keygate/data"                  # optional: owner checks (relative: to this file)
//! ca_file = "ca.pem"                                # optional, https only: trust only this CA
//! profile = "reference"                             # reference | minio | aws
//! [capabilities]                                    # optional, these are the defaults
//! clock = false                                   # true: the harness moves the server's clock
//! sts = true
//! service_accounts = true
//! ```
//! Secrets are best given through environment variables so profiles can be committed.
//! `ca_file` (PEM, relative to the profile file) replaces the platform's roots for the
//! endpoint's certificate, for the SDK calls and the admin API alike; it needs `https://`.
//! Parsing is strict like scenario files: unknown keys are refused with their key path; so are
//! an `endpoint` without `http://` or `https://` or without a host, an empty `region`, a
//! `posix_root` that is not an existing directory, a root key that is empty (in the file or in
//! the variable it names), and a root key given both in the file and by `*_env`.
//!
//! `clock = true` lets clock scenarios move the server's test clock forward (the reference
//! server's `--test-clock`). Nothing moves it back: the run reports the total it moved
//! (`target.clock_advanced_s` in `report.json`, and a warning at the end), and the server must
//! be restarted before the next run, whose preflight would otherwise fail with
//! `RequestTimeTooSkewed`.

use super::admin::AdminTarget;
use super::http::HttpClient;
use super::tls::TlsTrust;
use super::{Capabilities, Credentials, SharedClock, TargetInfo};
use crate::scenario::{Profile, Transport};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetProfile {
    pub version: u32,
    #[serde(default)]
    pub kind: Option<String>,
    pub endpoint: String,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default)]
    pub root_access_key: Option<String>,
    #[serde(default)]
    pub root_secret_key: Option<String>,
    #[serde(default)]
    pub root_access_key_env: Option<String>,
    #[serde(default)]
    pub root_secret_key_env: Option<String>,
    #[serde(default)]
    pub posix_root: Option<PathBuf>,
    /// A PEM CA file, relative to the profile file; only with an `https://` endpoint.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_profile")]
    pub profile: Profile,
    #[serde(default)]
    pub capabilities: Option<CapabilitiesDef>,
}

/// A profile's `[capabilities]`; `None` is a key the file does not set (see the accessors for
/// the defaults), so that adapters can refuse a capability asked for explicitly that they
/// cannot provide rather than turn it off in silence.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitiesDef {
    #[serde(default)]
    pub clock: Option<bool>,
    #[serde(default)]
    pub sts: Option<bool>,
    #[serde(default)]
    pub service_accounts: Option<bool>,
}

impl CapabilitiesDef {
    /// Default off.
    pub fn clock(&self) -> bool {
        self.clock.unwrap_or(false)
    }
    /// Default on.
    pub fn sts(&self) -> bool {
        self.sts.unwrap_or(true)
    }
    /// Default on.
    pub fn service_accounts(&self) -> bool {
        self.service_accounts.unwrap_or(true)
    }
}

fn default_region() -> String {
    "us-east-1".into()
}
fn default_profile() -> Profile {
    Profile::Reference
}

/// Read and check a profile file; errors name the file and key path.
pub fn load_profile(file: &Path) -> anyhow::Result<TargetProfile> {
    let mut p = read_profile(file)?;
    p.posix_root = super::resolve_posix_root(file, p.posix_root.take());
    super::check_posix_root(file, p.posix_root.as_deref())?;
    Ok(p)
}

/// [`load_profile`] but for `posix_root`, which names a directory on the server's host.
fn read_profile(file: &Path) -> anyhow::Result<TargetProfile> {
    let p: TargetProfile = super::parse_profile(file)?;
    if p.version != 1 {
        anyhow::bail!(
            "{}: at `version`: expected 1, found {}",
            file.display(),
            p.version
        );
    }
    if let Some(k) = &p.kind {
        if k != "remote" {
            return Err(super::unknown_kind(file, k));
        }
    }
    super::check_endpoint(file, &p.endpoint)?;
    super::check_region(file, &p.region)?;
    Ok(p)
}

/// A root key from the profile (`what`) or from the environment variable it names
/// (`what_env`); an empty value, in either place, is refused like a missing one, and so is a
/// file giving both (which of the two the target expects is ambiguous).
pub(crate) fn secret(
    file: &Path,
    direct: &Option<String>,
    env: &Option<String>,
    what: &str,
) -> anyhow::Result<String> {
    if direct.is_some() && env.is_some() {
        anyhow::bail!(
            "{}: at `{what}`: both `{what}` and `{what}_env` are set, so which key is meant is \
             ambiguous; keep one",
            file.display()
        );
    }
    if let Some(v) = direct {
        if v.is_empty() {
            anyhow::bail!("{}: at `{what}`: empty", file.display());
        }
        return Ok(v.clone());
    }
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(v),
            Ok(_) => Err(anyhow::anyhow!(
                "{}: `{what}_env` names ${var}, which is set but empty",
                file.display()
            )),
            Err(_) => Err(anyhow::anyhow!(
                "{}: `{what}_env` names ${var}, which is not set",
                file.display()
            )),
        };
    }
    anyhow::bail!("{}: expected `{what}` or `{what}_env`", file.display())
}

/// Build the adapter for a profile file. Nothing is contacted yet.
pub fn open(file: &Path, profile_override: Option<Profile>) -> anyhow::Result<AdminTarget> {
    adapter(file, load_profile(file)?, profile_override)
}

/// [`open`] for `keygate load`, which never reads the files behind objects: `posix_root` is
/// neither checked nor used, since a load generator (a shard on another host, say) need not
/// see the server's data directory that `run`'s POSIX scenarios read. Nor does load move the
/// clock: `clock` is off, so its preflight does not ask the target to.
pub fn open_without_posix(file: &Path) -> anyhow::Result<AdminTarget> {
    let mut p = read_profile(file)?;
    p.posix_root = None;
    if let Some(caps) = &mut p.capabilities {
        caps.clock = Some(false);
    }
    adapter(file, p, None)
}

fn adapter(
    file: &Path,
    p: TargetProfile,
    profile_override: Option<Profile>,
) -> anyhow::Result<AdminTarget> {
    let root = Credentials::new(
        secret(
            file,
            &p.root_access_key,
            &p.root_access_key_env,
            "root_access_key",
        )?,
        secret(
            file,
            &p.root_secret_key,
            &p.root_secret_key_env,
            "root_secret_key",
        )?,
    );
    let trust = tls_trust(file, &p.endpoint, p.ca_file.as_deref())?;
    let caps = p.capabilities.unwrap_or_default();
    Ok(AdminTarget {
        info: TargetInfo {
            kind: "remote".into(),
            endpoint: p.endpoint.trim_end_matches('/').to_owned(),
            region: p.region,
            profile: profile_override.unwrap_or(p.profile),
            capabilities: Capabilities {
                clock: caps.clock(),
                posix: p.posix_root.is_some(),
                sts: caps.sts(),
                service_accounts: caps.service_accounts(),
            },
        },
        root,
        posix_root: p.posix_root,
        clock: SharedClock::default(),
        http: HttpClient::trusting(&trust)?,
        guard: None,
    })
}

/// What a profile's endpoint is trusted by: its `ca_file` (relative to the profile file, https
/// endpoints only), else the platform's roots.
pub(crate) fn tls_trust(
    file: &Path,
    endpoint: &str,
    ca_file: Option<&Path>,
) -> anyhow::Result<TlsTrust> {
    let Some(ca) = ca_file else {
        return Ok(TlsTrust::default());
    };
    if Transport::of(endpoint) != Transport::Https {
        anyhow::bail!(
            "{}: at `ca_file`: the endpoint `{endpoint}` is not https://",
            file.display()
        );
    }
    let at = |e: &dyn std::fmt::Display| anyhow::anyhow!("{}: at `ca_file`: {e:#}", file.display());
    let path =
        std::path::absolute(file.parent().unwrap_or(Path::new("")).join(ca)).map_err(|e| at(&e))?;
    TlsTrust::from_file(&path).map_err(|e| at(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Open a remote profile with `body` after its version; the error text if it is refused.
    fn refusal(body: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.toml");
        std::fs::write(&file, format!("version = 1\n{body}")).unwrap();
        let e = open(&file, None).expect_err("refused");
        let e = format!("{e:#}");
        assert!(e.starts_with(&format!("{}: at `", file.display())), "{e}");
        e
    }

    const KEYS: &str = "root_access_key = \"a\"\nroot_secret_key = \"b\"\n";

    #[test]
    fn an_endpoint_without_host_and_an_empty_region_are_refused_at_their_key() {
        let e = refusal(&format!("endpoint = \"http://\"\n{KEYS}"));
        assert!(e.contains("at `endpoint`: endpoint names no host"), "{e}");
        let e = refusal(&format!(
            "endpoint = \"http://127.0.0.1:1\"\nregion = \"\"\n{KEYS}"
        ));
        assert!(e.contains("at `region`: empty"), "{e}");
    }

    #[test]
    fn a_root_key_both_in_the_file_and_in_a_variable_is_ambiguous() {
        for what in ["root_access_key", "root_secret_key"] {
            let e = refusal(&format!(
                "endpoint = \"http://127.0.0.1:1\"\n{KEYS}{what}_env = \"HOME\"\n"
            ));
            assert!(
                e.contains(&format!(
                    "at `{what}`: both `{what}` and `{what}_env` are set"
                )) && e.contains("ambiguous"),
                "{e}"
            );
        }
    }

    #[test]
    fn capabilities_left_out_keep_their_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.toml");
        std::fs::write(
            &file,
            format!(
                "version = 1\nendpoint = \"http://127.0.0.1:1\"\n{KEYS}[capabilities]\nclock = true\n"
            ),
        )
        .unwrap();
        let caps = crate::target::Target::info(&open(&file, None).unwrap()).capabilities;
        assert!(caps.clock && caps.sts && caps.service_accounts, "{caps:?}");
    }
}
