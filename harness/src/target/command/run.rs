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
        // What the output must never show, should a command echo it.
        let secrets: Vec<&str> = SECRET_VARS
            .iter()
            .filter_map(|k| vars.get(k).map(String::as_str))
            .collect();
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
            match self.spawn(action, &argv, &env, &secrets).await {
                Ok(out) => last = out,
                Err(_) if line.ignore_failure => {}
                Err(e) => return Err(e),
            }
        }
        self.parse(action, a, &last, &secrets)
    }

    pub(super) async fn spawn(
        &self,
        action: &str,
        argv: &[String],
        env: &[(String, String)],
        secrets: &[&str],
    ) -> Result<String, TargetError> {
        let _slot = self
            .running
            .acquire()
            .await
            .map_err(|e| TargetError::Transport(format!("{action}: {e}")))?;
        // Its own process group, killed whole if the command times out or the run stops
        // waiting for it: a vendor CLI that is a wrapper script leaves no children behind.
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| {
            TargetError::Transport(format!("{action}: cannot run `{}`: {e}", argv[0]))
        })?;
        let mut group = GroupKill::new(child.id());
        let out = tokio::time::timeout(self.timeout, child.wait_with_output())
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
        group.armed = false;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let message = stderr
            .lines()
            .chain(stdout.lines())
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .trim();
        let message = format!(
            "{action}: `{}` exited with {}: {}",
            argv[0],
            out.status,
            redact_output(message, secrets)
        );
        let code = self.error_code.as_ref().and_then(|re| {
            [&stderr, &stdout]
                .iter()
                .find_map(|t| re.captures(t)?.name("code").map(|m| m.as_str().to_owned()))
        });
        // Without a code the failure says nothing a scenario can judge (the target refusing,
        // or the command itself broken): an error of the run, not a verdict on the target.
        let Some(code) = code else {
            let why = match &self.error_code {
                None => "the profile has no `error_code` to read it with".to_owned(),
                Some(re) => format!("`error_code` (`{re}`) matches nothing in its output"),
            };
            return Err(TargetError::Transport(format!(
                "{message} (no error code: {why})"
            )));
        };
        Err(TargetError::Rejected {
            status: None,
            code,
            message,
            body: crate::run::outcome::excerpt(&redact_output(
                &format!("{stderr}{stdout}"),
                secrets,
            )),
        })
    }

    pub(super) fn parse(
        &self,
        action: &str,
        a: &Action,
        stdout: &str,
        secrets: &[&str],
    ) -> Result<Fields, TargetError> {
        let mut fields = Fields::new();
        if !a.json.is_empty() {
            let v: serde_json::Value = serde_json::from_str(stdout).map_err(|e| {
                TargetError::Transport(format!(
                    "{action}: output is not JSON ({e}): {}",
                    crate::run::outcome::excerpt(&redact_output(stdout, secrets))
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
                    crate::run::outcome::excerpt(&redact_output(stdout, secrets))
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

/// The process groups of the commands running now, for [`kill_running_commands`].
static RUNNING: std::sync::Mutex<std::collections::BTreeSet<u32>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// A running command's process group (its id is the command's pid), killed when dropped
/// armed: on a timeout, or when the run stops waiting (an interrupt).
struct GroupKill {
    pgid: Option<u32>,
    armed: bool,
}

impl GroupKill {
    fn new(pgid: Option<u32>) -> GroupKill {
        if let (Some(id), Ok(mut running)) = (pgid, RUNNING.lock()) {
            running.insert(id);
        }
        GroupKill { pgid, armed: true }
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        let Some(pgid) = self.pgid else { return };
        if self.armed {
            kill_group(pgid);
        }
        if let Ok(mut running) = RUNNING.lock() {
            running.remove(&pgid);
        }
    }
}

/// `kill` of a group needs no `unsafe` through `sh` (`-s KILL --` is the POSIX spelling dash
/// takes).
fn kill_group(pgid: u32) {
    let _ = std::process::Command::new("sh")
        .args(["-c", &format!("kill -s KILL -- -{pgid} 2>/dev/null")])
        .stdin(std::process::Stdio::null())
        .status();
}

/// Kills every command still running: for a process about to exit without unwinding (a
/// second interrupt), whose commands run in their own groups and would outlive it.
pub fn kill_running_commands() {
    let groups: Vec<u32> = match RUNNING.lock() {
        Ok(running) => running.iter().copied().collect(),
        Err(_) => return,
    };
    groups.into_iter().for_each(kill_group);
}

/// The placeholders whose values are secrets: removed from any output quoted.
const SECRET_VARS: [&str; 4] = [
    "root_secret_key",
    "caller_secret_key",
    "caller_session_token",
    "password",
];

/// A command's output as errors and reports show it: what looks like a credential replaced.
/// Output may hold the secrets of the identities it made (`Secret-Key: …`, an STS answer in
/// JSON or XML, an access key pair as text columns) or echo one it was given, and reports
/// print only access keys. Redacted: every `known` secret (the command's own inputs); the
/// credential fields of XML and JSON answers (any JSON key naming a secret, token or
/// password); after a short name with `secret`, `token` or `password` in it and a `:`, `=` or
/// column gap, a first word that could be a credential (6 or more characters, not a
/// lowercase word: `ExpiredToken: The security token …` keeps its message); and any run of 40
/// or more base64 characters mixing upper and lower case and digits (an AWS secret key is 40,
/// session tokens longer; paths and hex digests are not mixed so).
pub(crate) fn redact_output(text: &str, known: &[&str]) -> String {
    use std::sync::OnceLock;
    static NAMED: OnceLock<regex::Regex> = OnceLock::new();
    static LONG: OnceLock<regex::Regex> = OnceLock::new();
    const GONE: &str = "** redacted **";
    let mut text = crate::run::outcome::redact_body(text);
    for secret in known.iter().filter(|s| s.len() >= 4) {
        text = text.replace(secret, GONE);
    }
    let named = NAMED.get_or_init(|| {
        regex::Regex::new(
            r#"(?im)^([ \t]*"?[\w .-]{0,30}(?:secret|token|password)[\w .-]{0,30}?"?(?:[ \t]*[:=][ \t]*|[ \t]{2,}|\t[ \t]*))(\S+)"#,
        )
        .expect("valid regex")
    });
    let text = named.replace_all(&text, |c: &regex::Captures| {
        let word = &c[2];
        let plain_word = word.bytes().all(|b| b.is_ascii_lowercase());
        if word.len() >= 6 && !plain_word {
            format!("{}{GONE}", &c[1])
        } else {
            c[0].to_owned()
        }
    });
    let long =
        LONG.get_or_init(|| regex::Regex::new(r"[A-Za-z0-9+/=_.-]{40,}").expect("valid regex"));
    long.replace_all(&text, |m: &regex::Captures| {
        let run = &m[0];
        let mixed = run.bytes().any(|b| b.is_ascii_uppercase())
            && run.bytes().any(|b| b.is_ascii_lowercase())
            && run.bytes().any(|b| b.is_ascii_digit());
        if mixed {
            GONE.to_owned()
        } else {
            run.to_owned()
        }
    })
    .into_owned()
}

#[cfg(test)]
mod tests {
    use super::redact_output;

    #[test]
    fn credentials_go_and_the_rest_of_the_output_stays() {
        let out = "Access-Key: AK1\nSecret-Key: s3cr3t\n  AWS_SESSION_TOKEN=KG1.abc\n\
                   \"SecretAccessKey\": \"json-secret\"\n\
                   CREDENTIALS\tAKIAX\twJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
        let out = format!(
            "{out}{{\"token\":\"tok-1234\",\"secret\":\"sec-5678\"}}\n\
             Secret Key    Sa5678XyZ\nerror: password 'Abc12345' is too weak\n"
        );
        let r = redact_output(&out, &["Abc12345"]);
        for secret in [
            "s3cr3t",
            "KG1.abc",
            "json-secret",
            "wJalrXUtnFEMI",
            "tok-1234",
            "sec-5678",
            "Sa5678XyZ",
            "Abc12345",
        ] {
            assert!(!r.contains(secret), "{secret} in {r}");
        }
        assert!(r.contains("Access-Key: AK1") && r.contains("AKIAX"), "{r}");
        let kept = [
            "An error occurred (InvalidClientTokenId) when calling X: The security token is invalid.",
            "ExpiredToken: The security token included in the request is expired",
            "Invalid password: must contain a digit",
            "/usr/local/lib/vendor-cli/some/rather/long/path/to/bin/vendor-admin",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "error: PolicyTooLarge: the policy is 2049 bytes; at most 2048",
        ];
        for line in kept {
            assert_eq!(redact_output(line, &[]), line);
        }
    }
}
