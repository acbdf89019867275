//! The `command` adapter: provisioning through a vendor's command line (WEKA's `weka`, MinIO's
//! `mc admin`, the aws CLI against moto, ...), described by a TOML target profile.
//!
//! ```toml
//! version = 1
//! kind = "command"
//! endpoint = "http://127.0.0.1:9000"      # where the S3 traffic goes, as for `remote`
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
//! A missing action is reported as unsupported (`clock` always is). Keys, secrets and tokens
//! are read from the last line's standard output, by JSON pointers (`json = { access_key =
//! "/AccessKey/AccessKeyId" }`) or regexes with named groups (`access_key`, `secret_key`,
//! `session_token`, `expiration`). A user whose `user_add` reads no keys signs with its name and
//! password (WEKA's model).
//!
//! Lines are split into words (with '...' and "..." quoting) BEFORE placeholders are
//! expanded, and run without a shell, so a value is always one argument and is never
//! interpreted. `{x?}` makes a word optional: it is dropped when `x` has no value. `{{`/`}}` are
//! literal braces. Policy documents go through a temporary file (`{policy_file}`). Unknown
//! placeholders are refused when the profile is loaded, naming the file and key path. At most
//! `max_parallel` (default 4) commands run at once, each bounded by `timeout_seconds`.
//!
//! Security: secrets reach the commands as arguments or environment (as the vendors' CLIs
//! take them), so they are visible to other local users through `/proc`; run vendor CLIs only
//! on machines you trust. Failure reports carry the command's output, never its arguments.

use super::remote::{secret, CapabilitiesDef};
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

/// An action: a bare template or a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
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

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Lines {
    One(String),
    Many(Vec<LineDef>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum LineDef {
    Plain(String),
    Full {
        run: String,
        /// Run only when this placeholder has a value.
        #[serde(default)]
        when: Option<String>,
        #[serde(default)]
        ignore_failure: bool,
    },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
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
    attach_replaces: bool,
    error_code: Option<regex::Regex>,
    timeout: Duration,
    running: tokio::sync::Semaphore,
    env: BTreeMap<String, String>,
    actions: HashMap<String, Action>,
    users: Mutex<HashMap<String, UserState>>,
}

type Vars = HashMap<&'static str, String>;

/// Split a line into words: whitespace separates, '...' and "..." group (no escapes inside
/// single quotes; `\"` and `\\` inside double quotes).
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unclosed '".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => cur.push(c),
                            None => return Err("unclosed \"".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unclosed \"".into()),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Placeholders named in a word: `(name, optional)`.
fn placeholders(word: &str) -> Result<Vec<(String, bool)>, String> {
    let mut out = Vec::new();
    let mut rest = word;
    while let Some(i) = rest.find(['{', '}']) {
        let (c, after) = (rest.as_bytes()[i], &rest[i + 1..]);
        if after.starts_with(c as char) {
            rest = &after[1..];
            continue;
        }
        if c == b'}' {
            return Err(format!("unmatched `}}` in `{word}`"));
        }
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in `{word}`"))?;
        let name = &after[..end];
        match name.strip_suffix('?') {
            Some(n) => out.push((n.to_owned(), true)),
            None => out.push((name.to_owned(), false)),
        }
        rest = &after[end + 1..];
    }
    Ok(out)
}

/// Expand a word; `Ok(None)` when an optional placeholder has no value (drop the word).
fn expand(word: &str, vars: &Vars) -> Result<Option<String>, TargetError> {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find(['{', '}']) {
        let c = rest.as_bytes()[i] as char;
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if after.starts_with(c) || c == '}' {
            out.push(c);
            rest = after.strip_prefix(c).unwrap_or(after);
            continue;
        }
        let end = after.find('}').unwrap_or(after.len());
        let raw = &after[..end];
        let (name, optional) = match raw.strip_suffix('?') {
            Some(n) => (n, true),
            None => (raw, false),
        };
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None if optional => return Ok(None),
            None => {
                return Err(TargetError::Transport(format!(
                    "command template needs `{{{name}}}`, which has no value in this call"
                )))
            }
        }
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(Some(out))
}

fn check_template(text: &str, allowed: &[&str], at: &str) -> anyhow::Result<Vec<String>> {
    let words = split_words(text).map_err(|e| anyhow::anyhow!("at `{at}`: {e}"))?;
    for w in &words {
        for (name, _) in placeholders(w).map_err(|e| anyhow::anyhow!("at `{at}`: {e}"))? {
            if !allowed.contains(&name.as_str()) && !COMMON.contains(&name.as_str()) {
                anyhow::bail!(
                    "at `{at}`: unknown placeholder `{{{name}}}`; expected one of {}",
                    allowed
                        .iter()
                        .chain(COMMON)
                        .map(|p| format!("{{{p}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    Ok(words)
}

fn compile(name: &str, def: &CommandDef, allowed: &[&str]) -> anyhow::Result<Action> {
    let at = format!("commands.{name}");
    let spec = match def {
        CommandDef::Line(l) => CommandSpec {
            run: Lines::One(l.clone()),
            env: BTreeMap::new(),
            json: BTreeMap::new(),
            regex: OneOrMany::None,
        },
        CommandDef::Full(s) => s.clone(),
    };
    let defs = match spec.run {
        Lines::One(l) => vec![LineDef::Plain(l)],
        Lines::Many(v) => v,
    };
    let mut lines = Vec::new();
    for (i, d) in defs.into_iter().enumerate() {
        let at = format!("{at}.run[{i}]");
        let (text, when, ignore_failure) = match d {
            LineDef::Plain(t) => (t, None, false),
            LineDef::Full {
                run,
                when,
                ignore_failure,
            } => (run, when, ignore_failure),
        };
        if let Some(w) = &when {
            if !allowed.contains(&w.as_str()) && !COMMON.contains(&w.as_str()) {
                anyhow::bail!("at `{at}.when`: unknown placeholder `{w}`");
            }
        }
        let words = check_template(&text, allowed, &at)?;
        if words.is_empty() {
            anyhow::bail!("at `{at}`: empty command");
        }
        lines.push(Line {
            words,
            when,
            ignore_failure,
        });
    }
    if lines.is_empty() {
        anyhow::bail!("at `{at}.run`: no command");
    }
    for (k, v) in &spec.env {
        check_template(v, allowed, &format!("{at}.env.{k}"))?;
    }
    let regex = match spec.regex {
        OneOrMany::None => Vec::new(),
        OneOrMany::One(r) => vec![r],
        OneOrMany::Many(v) => v,
    };
    let regex = regex
        .iter()
        .enumerate()
        .map(|(i, r)| {
            regex::Regex::new(r).map_err(|e| anyhow::anyhow!("at `{at}.regex[{i}]`: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (k, p) in &spec.json {
        if !p.is_empty() && !p.starts_with('/') {
            anyhow::bail!("at `{at}.json.{k}`: a JSON pointer starts with `/`");
        }
    }
    Ok(Action {
        lines,
        env: spec.env,
        json: spec.json,
        regex,
    })
}

/// Read and check a command profile; errors name the file and key path.
pub fn load_profile(file: &Path) -> anyhow::Result<CommandProfile> {
    let p: CommandProfile = super::parse_profile(file)?;
    if p.version != 1 {
        anyhow::bail!("{}: at `version`: expected 1", file.display());
    }
    if p.kind != "command" {
        anyhow::bail!("{}: at `kind`: expected `command`", file.display());
    }
    Ok(p)
}

/// Check every template, placeholder and regex of a loaded profile (runs nothing).
pub fn check(file: &Path, p: &CommandProfile) -> anyhow::Result<()> {
    compile_all(file, p).map(drop)
}

type Compiled = (HashMap<String, Action>, Option<regex::Regex>);

fn compile_all(file: &Path, p: &CommandProfile) -> anyhow::Result<Compiled> {
    let ctx = |e: anyhow::Error| anyhow::anyhow!("{}: {e}", file.display());
    let mut actions = HashMap::new();
    for (name, def) in &p.commands {
        let allowed = ACTIONS
            .iter()
            .find(|(a, _)| a == name)
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: at `commands.{name}`: unknown action; expected one of {}",
                    file.display(),
                    ACTIONS
                        .iter()
                        .map(|(a, _)| *a)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        actions.insert(name.clone(), compile(name, def, allowed).map_err(ctx)?);
    }
    for (k, v) in &p.env {
        check_template(v, &[], &format!("env.{k}")).map_err(ctx)?;
    }
    let error_code = p
        .error_code
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| anyhow::anyhow!("{}: at `error_code`: {e}", file.display()))?;
    Ok((actions, error_code))
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
                sts: caps.sts && has("assume_role"),
                service_accounts: caps.service_accounts && has("service_account_add"),
            },
        },
        root,
        posix_root: p.posix_root,
        clock: SharedClock::default(),
        attach_replaces: p.attach_replaces,
        error_code,
        timeout: Duration::from_secs(p.timeout_seconds.max(1)),
        running: tokio::sync::Semaphore::new(p.max_parallel.max(1)),
        env: p.env,
        actions,
        users: Mutex::new(HashMap::new()),
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

impl CommandTarget {
    fn base_vars(&self) -> Vars {
        let mut v = Vars::new();
        v.insert("endpoint", self.info.endpoint.clone());
        let (scheme, host) = self
            .info
            .endpoint
            .split_once("://")
            .unwrap_or(("http", &self.info.endpoint));
        v.insert("endpoint_scheme", scheme.to_owned());
        v.insert("endpoint_host", host.to_owned());
        v.insert("region", self.info.region.clone());
        v.insert("root_access_key", self.root.access_key.clone());
        v.insert("root_secret_key", self.root.secret_key.clone());
        v
    }

    fn caller_vars(&self, caller: &Credentials) -> Vars {
        let mut v = self.base_vars();
        v.insert("caller_access_key", caller.access_key.clone());
        v.insert("caller_secret_key", caller.secret_key.clone());
        if let Some(t) = &caller.session_token {
            v.insert("caller_session_token", t.clone());
        }
        v
    }

    fn user_state(&self, name: &str) -> UserState {
        self.users
            .lock()
            .map(|u| u.get(name).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    fn with_user(&self, name: &str, f: impl FnOnce(&mut UserState)) {
        if let Ok(mut u) = self.users.lock() {
            f(u.entry(name.to_owned()).or_default());
        }
    }

    fn user_vars(&self, name: &str) -> Vars {
        let mut v = self.base_vars();
        v.insert("name", name.to_owned());
        let st = self.user_state(name);
        if let Some(k) = st.access_key {
            v.insert("access_key", k);
        }
        if let Some(p) = st.policy {
            v.insert("policy", p);
        }
        v
    }

    /// Run an action; `Unsupported` when the profile does not define it.
    async fn exec(&self, action: &'static str, vars: &Vars) -> Result<Fields, TargetError> {
        let a = self
            .actions
            .get(action)
            .ok_or(TargetError::Unsupported(action))?;
        let mut env = Vec::new();
        for (k, v) in self.env.iter().chain(a.env.iter()) {
            if let Some(v) = expand(v, vars)? {
                env.push((k.clone(), v));
            }
        }
        let mut last = String::new();
        for line in &a.lines {
            if line.when.as_deref().is_some_and(|w| !vars.contains_key(w)) {
                continue;
            }
            let mut argv = Vec::new();
            for w in &line.words {
                if let Some(x) = expand(w, vars)? {
                    argv.push(x);
                }
            }
            match self.spawn(action, &argv, &env).await {
                Ok(out) => last = out,
                Err(_) if line.ignore_failure => {}
                Err(e) => return Err(e),
            }
        }
        self.parse(action, a, &last)
    }

    async fn spawn(
        &self,
        action: &str,
        argv: &[String],
        env: &[(String, String)],
    ) -> Result<String, TargetError> {
        let _slot = self
            .running
            .acquire()
            .await
            .map_err(|e| TargetError::Transport(format!("{action}: {e}")))?;
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(self.timeout, cmd.output())
            .await
            .map_err(|_| {
                TargetError::Transport(format!(
                    "{action}: `{}` did not finish in {:?}",
                    argv[0], self.timeout
                ))
            })?
            .map_err(|e| {
                TargetError::Transport(format!("{action}: cannot run `{}`: {e}", argv[0]))
            })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let code = self
            .error_code
            .as_ref()
            .and_then(|re| {
                [&stderr, &stdout]
                    .iter()
                    .find_map(|t| re.captures(t)?.name("code").map(|m| m.as_str().to_owned()))
            })
            .unwrap_or_else(|| "CommandFailed".into());
        let message = stderr
            .lines()
            .chain(stdout.lines())
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .trim()
            .to_owned();
        Err(TargetError::Rejected {
            status: None,
            code,
            message: format!(
                "{action}: `{}` exited with {}: {message}",
                argv[0], out.status
            ),
            body: crate::run::outcome::excerpt(&format!("{stderr}{stdout}")),
        })
    }

    fn parse(&self, action: &str, a: &Action, stdout: &str) -> Result<Fields, TargetError> {
        let mut fields = Fields::new();
        if !a.json.is_empty() {
            let v: serde_json::Value = serde_json::from_str(stdout).map_err(|e| {
                TargetError::Transport(format!(
                    "{action}: output is not JSON ({e}): {}",
                    crate::run::outcome::excerpt(stdout)
                ))
            })?;
            for (k, ptr) in &a.json {
                match v.pointer(ptr) {
                    Some(serde_json::Value::String(s)) => fields.insert(k.clone(), s.clone()),
                    Some(other) => fields.insert(k.clone(), other.to_string()),
                    None => {
                        return Err(TargetError::Transport(format!(
                            "{action}: output has no `{ptr}` for {k}"
                        )))
                    }
                };
            }
        }
        for re in &a.regex {
            let caps = re.captures(stdout).ok_or_else(|| {
                TargetError::Transport(format!(
                    "{action}: output does not match `{re}`: {}",
                    crate::run::outcome::excerpt(stdout)
                ))
            })?;
            for name in re.capture_names().flatten() {
                if let Some(m) = caps.name(name) {
                    fields.insert(name.to_owned(), m.as_str().to_owned());
                }
            }
        }
        Ok(fields)
    }

    /// Write a policy document where a command can read it.
    fn policy_file(document: &str) -> Result<tempfile::NamedTempFile, TargetError> {
        use std::io::Write;
        let mut f = tempfile::Builder::new()
            .prefix("keygate-policy-")
            .suffix(".json")
            .tempfile()
            .map_err(|e| TargetError::Transport(format!("policy file: {e}")))?;
        f.write_all(document.as_bytes())
            .and_then(|()| f.flush())
            .map_err(|e| TargetError::Transport(format!("policy file: {e}")))?;
        Ok(f)
    }
}

fn field(fields: &Fields, action: &str, name: &str) -> Result<String, TargetError> {
    fields
        .get(name)
        .cloned()
        .ok_or_else(|| TargetError::Transport(format!("{action}: no `{name}` read from output")))
}

#[async_trait]
impl Target for CommandTarget {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_before_expansion() {
        assert_eq!(
            split_words(r#"weka user add {name} s3 '{password}' "a b\"c""#).unwrap(),
            [
                "weka",
                "user",
                "add",
                "{name}",
                "s3",
                "{password}",
                "a b\"c"
            ]
        );
        let mut v = Vars::new();
        v.insert("name", "al ice; rm -rf /".into());
        assert_eq!(
            expand("--user={name}", &v).unwrap().unwrap(),
            "--user=al ice; rm -rf /"
        );
        assert_eq!(expand("--posix-uid={uid?}", &v).unwrap(), None);
        assert!(expand("{uid}", &v).is_err());
        assert_eq!(expand("{{x}}", &v).unwrap().unwrap(), "{x}");
    }

    #[test]
    fn unknown_placeholders_are_refused_with_their_path() {
        let def = CommandDef::Line("weka user add {nmae}".into());
        let e = compile("user_add", &def, &["name"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("commands.user_add.run[0]"), "{e}");
        assert!(e.contains("{nmae}") && e.contains("{name}"), "{e}");
    }
}
