//! The `command` adapter: provisioning through a vendor's command line (WEKA's `weka`, MinIO's
//! `mc admin`, the aws CLI against moto, ...), described by a TOML target profile.
//!
//! ```toml
//! version = 1
//! kind = "command"
//! endpoint = "http://127.0.0.1:9000"      # where the S3 traffic goes, as for `remote`
//! ca_file = "ca.pem"                      # https only, as for `remote`; commands get `{ca_file}`
//! root_access_key_env = "KEYGATE_ROOT_ACCESS_KEY"
//! root_secret_key_env = "KEYGATE_ROOT_SECRET_KEY"
//! profile = "reference"                   # which expectations apply
//! attach_replaces = true                  # false: the adapter detaches before attaching
//! error_code = 'error: (?P<code>\w+):'    # where a failed command says its error code
//! [capabilities]
//! sts = true
//! service_accounts = true
//! [env]                                   # for every command (placeholders expanded)
//! WEKA_HOST = "weka01"
//! [commands]
//! user_add = "weka user add {name} s3 {password} --posix-uid={uid?} --posix-gid={gid?}"
//! policy_attach = "weka s3 policy attach {policy} {name}"
//! assume_role = { run = "weka s3 sts assume-role --access-key {caller_access_key} ...",
//!                 regex = '(?m)^Access-Key: (?P<access_key>\S+)' }
//! ```
//!
//! Each action (`user_add`, `user_update`, `user_passwd`, `user_delete`, `policy_add`,
//! `policy_remove`, `policy_attach`, `policy_detach`, `assume_role`, `service_account_add`,
//! `service_account_remove`) is a template or a table `{ run, env, json, regex }`; `run` is one
//! line or a list of lines, each a string or `{ run, when = "PLACEHOLDER", ignore_failure }`.
//! A missing action is reported as unsupported (`clock` always is); a `[capabilities]` key set to
//! `true` that the profile cannot provide (`clock`; `sts` without `assume_role`;
//! `service_accounts` without `service_account_add`) is refused when loading. Keys, secrets and
//! tokens are read from the last line's standard output, by JSON pointers (`json = { access_key
//! = "/AccessKey/AccessKeyId" }`) or regexes with named groups (`access_key`, `secret_key`,
//! `session_token`, `expiration`), never both for one action. Loading checks that each action
//! reads what it needs and nothing else (`compile::output_fields`). A user whose `user_add`
//! reads no keys signs with its name and password (WEKA's model).
//!
//! Lines are split into words (with '...' and "..." quoting) BEFORE placeholders are
//! expanded, and run without a shell, so a value is always one argument and is never
//! interpreted. `{x?}` makes a word optional: it is dropped when `x` has no value. `{{`/`}}` are
//! literal braces. Policy documents go through a temporary file (`{policy_file}`). Unknown
//! placeholders are refused when the profile is loaded, naming the file and key path. At most
//! `max_parallel` (default 4) commands run at once, each bounded by `timeout_seconds` (default
//! 60); both must be at least 1.
//!
//! Security: secrets reach the commands as arguments or environment (as the vendors' CLIs
//! take them), so they are visible to other local users through `/proc`; run vendor CLIs only
//! on machines you trust. Failure reports carry the command's output (credentials redacted:
//! `run::redact_output`), never its arguments. A failure whose output gives no code through
//! `error_code` is a `Transport` error (an error of the run), not a `Rejected` answer: no
//! scenario can judge a code it was never told. Commands run in their own process group,
//! killed whole on a timeout or when the run stops waiting.

mod compile;
mod de;
mod run;
mod template;

use compile::compile_all;
pub use compile::{check, load_profile};
pub use run::kill_running_commands;
pub use template::split_words;

use super::remote::{secret, CapabilitiesDef};
use super::tls::TlsTrust;
use super::{
    Capabilities, Credentials, NewUser, RoleRequest, SharedClock, Target, TargetError, TargetInfo,
    UserUpdate,
};
use crate::scenario::Profile;
use async_trait::async_trait;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Placeholders every action may use.
const COMMON: &[&str] = &[
    "endpoint",
    "endpoint_scheme",
    "endpoint_host",
    "region",
    "root_access_key",
    "root_secret_key",
    "ca_file",
];

/// Each action and the placeholders it may use besides [`COMMON`].
const ACTIONS: &[(&str, &[&str])] = &[
    ("user_add", &["name", "password", "uid", "gid"]),
    ("user_update", &["name", "uid", "gid"]),
    ("user_passwd", &["name", "password"]),
    ("user_delete", &["name", "access_key", "policy"]),
    ("policy_add", &["policy", "policy_file"]),
    ("policy_remove", &["policy"]),
    ("policy_attach", &["name", "policy", "access_key"]),
    ("policy_detach", &["name", "policy", "access_key"]),
    (
        "assume_role",
        &[
            "caller_access_key",
            "caller_secret_key",
            "caller_session_token",
            "duration",
            "policy_file",
        ],
    ),
    (
        "service_account_add",
        &[
            "caller_access_key",
            "caller_secret_key",
            "caller_session_token",
            "policy_file",
        ],
    ),
    (
        "service_account_remove",
        &[
            "caller_access_key",
            "caller_secret_key",
            "caller_session_token",
            "access_key",
        ],
    ),
];

/// A `kind = "command"` target profile.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandProfile {
    pub version: u32,
    pub kind: String,
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
    /// Whether `policy_attach` replaces the user's policy (WEKA) or adds one (AWS, MinIO).
    #[serde(default = "yes")]
    pub attach_replaces: bool,
    /// A regex with a `code` group, searched in a failed command's stderr then stdout.
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Commands run at once (a `parallel = 100` burst must not fork 100 CLIs).
    #[serde(default = "default_max_parallel")]
    pub max_parallel: usize,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Policies the scenarios take as pre-defined, created through `policy_add` at start
    /// (for targets that do not ship WEKA's `readonly`, `writeonly`, `readwrite`).
    #[serde(default)]
    pub predefined_policies: BTreeMap<String, String>,
    pub commands: BTreeMap<String, CommandDef>,
}

fn yes() -> bool {
    true
}
fn default_region() -> String {
    "us-east-1".into()
}
fn default_profile() -> Profile {
    Profile::Reference
}
fn default_timeout() -> u64 {
    60
}
fn default_max_parallel() -> usize {
    4
}

/// An action: a bare template or a table (deserialised in `de`, so that a wrong key names
/// itself and the allowed ones).
#[derive(Debug, Clone)]
pub enum CommandDef {
    Line(String),
    Full(CommandSpec),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    pub run: Lines,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Output field -> JSON pointer.
    #[serde(default)]
    pub json: BTreeMap<String, String>,
    /// Regexes whose named groups are output fields.
    #[serde(default)]
    pub regex: OneOrMany,
}

/// One line or a list of lines (deserialised in `de`).
#[derive(Debug, Clone)]
pub enum Lines {
    One(String),
    Many(Vec<LineDef>),
}

/// A line: a bare template or a table `{ run, when, ignore_failure }` (deserialised in `de`).
#[derive(Debug, Clone)]
pub enum LineDef {
    Plain(String),
    Full {
        run: String,
        /// Run only when this placeholder has a value.
        when: Option<String>,
        ignore_failure: bool,
    },
}

/// One regex or a list (deserialised in `de`).
#[derive(Debug, Clone, Default)]
pub enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

/// One line, split into words (placeholders not yet expanded).
#[derive(Debug, Clone)]
struct Line {
    words: Vec<String>,
    when: Option<String>,
    ignore_failure: bool,
}

/// A compiled action.
#[derive(Debug, Clone)]
struct Action {
    lines: Vec<Line>,
    env: BTreeMap<String, String>,
    json: BTreeMap<String, String>,
    regex: Vec<regex::Regex>,
}

/// What the adapter remembers of a user: the keys it was given and its policy.
#[derive(Debug, Clone, Default)]
struct UserState {
    access_key: Option<String>,
    policy: Option<String>,
}

/// A target provisioned by running commands.
#[derive(Debug)]
pub struct CommandTarget {
    info: TargetInfo,
    root: Credentials,
    posix_root: Option<PathBuf>,
    clock: SharedClock,
    trust: TlsTrust,
    attach_replaces: bool,
    error_code: Option<regex::Regex>,
    timeout: Duration,
    running: tokio::sync::Semaphore,
    env: BTreeMap<String, String>,
    actions: HashMap<String, Action>,
    users: Mutex<HashMap<String, UserState>>,
    /// The profile's `[predefined_policies]`: what a changed one is restored to.
    predefined: BTreeMap<String, String>,
}

type Vars = HashMap<&'static str, String>;

/// Split a line into words: whitespace separates, '...' and "..." group (no escapes inside
/// single quotes; `\"` and `\\` inside double quotes).
/// Everything [`open`] checks before it runs a command: the profile, its templates, that each
/// command's program exists and is executable, the root keys and the CA file. Nothing is run.
pub fn check_file(file: &Path) -> anyhow::Result<()> {
    let p = load_profile(file)?;
    let (actions, _) = compile_all(file, &p)?;
    compile::check_programs(file, &p, &actions)?;
    secret(
        file,
        &p.root_access_key,
        &p.root_access_key_env,
        "root_access_key",
    )?;
    secret(
        file,
        &p.root_secret_key,
        &p.root_secret_key_env,
        "root_secret_key",
    )?;
    super::remote::tls_trust(file, &p.endpoint, p.ca_file.as_deref()).map(drop)
}

/// Build the adapter for a profile file and create its pre-defined policies.
pub async fn open(file: &Path, profile_override: Option<Profile>) -> anyhow::Result<CommandTarget> {
    let p = load_profile(file)?;
    let (actions, error_code) = compile_all(file, &p)?;
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
    let trust = super::remote::tls_trust(file, &p.endpoint, p.ca_file.as_deref())?;
    let caps = p.capabilities.unwrap_or_default();
    let has = |a: &str| actions.contains_key(a);
    let target = CommandTarget {
        info: TargetInfo {
            kind: "command".into(),
            endpoint: p.endpoint.trim_end_matches('/').to_owned(),
            region: p.region,
            profile: profile_override.unwrap_or(p.profile),
            capabilities: Capabilities {
                clock: false,
                posix: p.posix_root.is_some(),
                sts: caps.sts() && has("assume_role"),
                service_accounts: caps.service_accounts() && has("service_account_add"),
            },
        },
        root,
        posix_root: p.posix_root,
        clock: SharedClock::default(),
        trust,
        attach_replaces: p.attach_replaces,
        error_code,
        timeout: Duration::from_secs(p.timeout_seconds),
        running: tokio::sync::Semaphore::new(p.max_parallel),
        env: p.env,
        actions,
        users: Mutex::new(HashMap::new()),
        predefined: p.predefined_policies.clone(),
    };
    for (name, doc) in &p.predefined_policies {
        target
            .put_policy(name, doc)
            .await
            .map_err(|e| anyhow::anyhow!("pre-defined policy `{name}`: {e}"))?;
    }
    Ok(target)
}

/// The output of one action: named fields read from the last line's stdout.
type Fields = HashMap<String, String>;

fn field(fields: &Fields, action: &str, name: &str) -> Result<String, TargetError> {
    fields
        .get(name)
        .cloned()
        .ok_or_else(|| TargetError::Transport(format!("{action}: no `{name}` read from output")))
}

#[async_trait]
impl Target for CommandTarget {
    fn supports_action(&self, action: &str) -> bool {
        self.actions.contains_key(action)
    }

    fn predefined_document(&self, name: &str) -> Option<String> {
        let weka = self.info.profile == crate::scenario::Profile::Reference;
        match self.predefined.get(name) {
            Some(doc) => Some(doc.clone()),
            None => super::weka_predefined(name)
                .filter(|_| weka)
                .map(str::to_owned),
        }
    }

    fn info(&self) -> TargetInfo {
        self.info.clone()
    }
    fn endpoint(&self) -> &str {
        &self.info.endpoint
    }
    fn region(&self) -> &str {
        &self.info.region
    }
    fn root(&self) -> &Credentials {
        &self.root
    }
    fn clock(&self) -> &SharedClock {
        &self.clock
    }
    fn tls_trust(&self) -> TlsTrust {
        self.trust.clone()
    }

    async fn create_user(&self, user: &NewUser) -> Result<Credentials, TargetError> {
        let mut v = self.base_vars();
        v.insert("name", user.name.clone());
        v.insert("password", user.password.clone());
        if let Some(uid) = user.uid {
            v.insert("uid", uid.to_string());
        }
        if let Some(gid) = user.gid {
            v.insert("gid", gid.to_string());
        }
        let f = self.exec("user_add", &v).await?;
        let creds = match f.get("access_key") {
            Some(k) => Credentials::new(k, field(&f, "user_add", "secret_key")?),
            None => Credentials::new(&user.name, &user.password),
        };
        let key = f.get("access_key").cloned();
        self.with_user(&user.name, |s| {
            *s = UserState {
                access_key: key,
                policy: None,
            }
        });
        Ok(creds)
    }

    async fn update_user(&self, name: &str, update: &UserUpdate) -> Result<(), TargetError> {
        if update.uid.is_some() || update.gid.is_some() {
            let mut v = self.user_vars(name);
            if let Some(uid) = update.uid {
                v.insert("uid", uid.to_string());
            }
            if let Some(gid) = update.gid {
                v.insert("gid", gid.to_string());
            }
            self.exec("user_update", &v).await?;
        }
        if let Some(p) = &update.password {
            let mut v = self.user_vars(name);
            v.insert("password", p.clone());
            self.exec("user_passwd", &v).await?;
        }
        Ok(())
    }

    async fn delete_user(&self, name: &str) -> Result<(), TargetError> {
        self.exec("user_delete", &self.user_vars(name)).await?;
        if let Ok(mut u) = self.users.lock() {
            u.remove(name);
        }
        Ok(())
    }

    async fn put_policy(&self, name: &str, document: &str) -> Result<(), TargetError> {
        let file = Self::policy_file(document)?;
        let mut v = self.base_vars();
        v.insert("policy", name.to_owned());
        v.insert("policy_file", file.path().display().to_string());
        self.exec("policy_add", &v).await.map(drop)
    }

    async fn delete_policy(&self, name: &str) -> Result<(), TargetError> {
        let mut v = self.base_vars();
        v.insert("policy", name.to_owned());
        self.exec("policy_remove", &v).await.map(drop)
    }

    async fn attach_policy(&self, user: &str, policy: &str) -> Result<(), TargetError> {
        if !self.attach_replaces && self.user_state(user).policy.is_some() {
            self.detach_policy(user).await?;
        }
        let mut v = self.user_vars(user);
        v.insert("policy", policy.to_owned());
        self.exec("policy_attach", &v).await?;
        self.with_user(user, |s| s.policy = Some(policy.to_owned()));
        Ok(())
    }

    async fn detach_policy(&self, user: &str) -> Result<(), TargetError> {
        self.exec("policy_detach", &self.user_vars(user)).await?;
        self.with_user(user, |s| s.policy = None);
        Ok(())
    }

    async fn assume_role(
        &self,
        caller: &Credentials,
        request: &RoleRequest,
    ) -> Result<Credentials, TargetError> {
        let mut v = self.caller_vars(caller);
        v.insert(
            "duration",
            request.duration_seconds.unwrap_or(3600).to_string(),
        );
        let file = request
            .session_policy
            .as_deref()
            .map(Self::policy_file)
            .transpose()?;
        if let Some(f) = &file {
            v.insert("policy_file", f.path().display().to_string());
        }
        let f = self.exec("assume_role", &v).await?;
        Ok(Credentials {
            access_key: field(&f, "assume_role", "access_key")?,
            secret_key: field(&f, "assume_role", "secret_key")?,
            session_token: Some(field(&f, "assume_role", "session_token")?),
            expiration: f.get("expiration").cloned(),
        })
    }

    async fn create_service_account(
        &self,
        caller: &Credentials,
        policy: Option<&str>,
    ) -> Result<Credentials, TargetError> {
        let mut v = self.caller_vars(caller);
        let file = policy.map(Self::policy_file).transpose()?;
        if let Some(f) = &file {
            v.insert("policy_file", f.path().display().to_string());
        }
        let f = self.exec("service_account_add", &v).await?;
        Ok(Credentials::new(
            field(&f, "service_account_add", "access_key")?,
            field(&f, "service_account_add", "secret_key")?,
        ))
    }

    async fn delete_service_account(
        &self,
        caller: &Credentials,
        access_key: &str,
    ) -> Result<(), TargetError> {
        let mut v = self.caller_vars(caller);
        v.insert("access_key", access_key.to_owned());
        self.exec("service_account_remove", &v).await.map(drop)
    }

    async fn stat(&self, relative: &Path) -> Result<super::FileOwner, TargetError> {
        match &self.posix_root {
            Some(root) => super::stat_local(root, relative),
            None => Err(TargetError::Unsupported("posix")),
        }
    }
}
