//! Running actions: variables, commands with a timeout and a parallelism bound, reading output.

use super::template::*;
use super::*;

impl CommandTarget {
    pub(super) fn base_vars(&self) -> Vars {
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
        if let Some(ca) = self.trust.ca_file() {
            v.insert("ca_file", ca.display().to_string());
        }
        v
    }

    pub(super) fn caller_vars(&self, caller: &Credentials) -> Vars {
        let mut v = self.base_vars();
        v.insert("caller_access_key", caller.access_key.clone());
        v.insert("caller_secret_key", caller.secret_key.clone());
        if let Some(t) = &caller.session_token {
            v.insert("caller_session_token", t.clone());
        }
        v
    }

    pub(super) fn user_state(&self, name: &str) -> UserState {
        self.users
            .lock()
            .map(|u| u.get(name).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    pub(super) fn with_user(&self, name: &str, f: impl FnOnce(&mut UserState)) {
        if let Ok(mut u) = self.users.lock() {
            f(u.entry(name.to_owned()).or_default());
        }
    }

    pub(super) fn user_vars(&self, name: &str) -> Vars {
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
    pub(super) async fn exec(
        &self,
        action: &'static str,
        vars: &Vars,
    ) -> Result<Fields, TargetError> {
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

    pub(super) async fn spawn(
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

    pub(super) fn parse(
        &self,
        action: &str,
        a: &Action,
        stdout: &str,
    ) -> Result<Fields, TargetError> {
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
    pub(super) fn policy_file(document: &str) -> Result<tempfile::NamedTempFile, TargetError> {
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
