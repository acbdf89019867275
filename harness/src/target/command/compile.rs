//! Loading a command profile and compiling its actions, with errors naming the file and key.

use super::template::*;
use super::*;

pub(super) fn compile(name: &str, def: &CommandDef, allowed: &[&str]) -> anyhow::Result<Action> {
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
    // The key of regex `i`: `regex` when the profile gives one, `regex[i]` for a list.
    let (regex, regex_at): (Vec<String>, KeyOf) = match spec.regex {
        OneOrMany::None => (Vec::new(), |at, _| format!("{at}.regex")),
        OneOrMany::One(r) => (vec![r], |at, _| format!("{at}.regex")),
        OneOrMany::Many(v) => (v, |at, i| format!("{at}.regex[{i}]")),
    };
    let regex = regex
        .iter()
        .enumerate()
        .map(|(i, r)| {
            regex::Regex::new(r).map_err(|e| anyhow::anyhow!("at `{}`: {e}", regex_at(&at, i)))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (k, p) in &spec.json {
        if !p.is_empty() && !p.starts_with('/') {
            anyhow::bail!("at `{at}.json.{k}`: a JSON pointer starts with `/`");
        }
    }
    check_outputs(name, &at, &spec.json, &regex, regex_at)?;
    Ok(Action {
        lines,
        env: spec.env,
        json: spec.json,
        regex,
    })
}

/// The key path of an action's regex `i`, from the action's path.
type KeyOf = fn(&str, usize) -> String;

/// The fields an action reads from its last line's output: `(needed, optional)`. `user_add`
/// needs both or neither (a user whose `user_add` reads no keys signs with its name and
/// password); the other actions read nothing.
fn output_fields(action: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match action {
        "user_add" | "service_account_add" => (&["access_key", "secret_key"], &[]),
        "assume_role" => (
            &["access_key", "secret_key", "session_token"],
            &["expiration"],
        ),
        _ => (&[], &[]),
    }
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An action's `json` and `regex` must read what it needs ([`output_fields`]) and, where it
/// reads fields, nothing else (a misspelt group would otherwise surface only at run time, as a
/// missing key, or not at all); `json` and `regex` together are ambiguous.
fn check_outputs(
    action: &str,
    at: &str,
    json: &BTreeMap<String, String>,
    regex: &[regex::Regex],
    regex_at: KeyOf,
) -> anyhow::Result<()> {
    if !json.is_empty() && !regex.is_empty() {
        anyhow::bail!(
            "at `{at}`: both `json` and `regex` are given, so where each field comes from is \
             ambiguous; keep one"
        );
    }
    let (needed, optional) = output_fields(action);
    let groups = |re: &regex::Regex| -> Vec<String> {
        re.capture_names().flatten().map(str::to_owned).collect()
    };
    let read: Vec<String> = if regex.is_empty() {
        json.keys().cloned().collect()
    } else {
        regex.iter().flat_map(groups).collect()
    };
    let (key, how) = match (json.is_empty(), regex.is_empty()) {
        (false, _) => (format!("{at}.json"), "pointer for"),
        (_, false) => (format!("{at}.regex"), "named group"),
        _ => (at.to_owned(), "`json` or `regex` for"),
    };
    let reads_some = needed.iter().any(|n| read.iter().any(|r| r == n));
    if !needed.is_empty() && (action != "user_add" || reads_some) {
        if let Some(missing) = needed.iter().find(|n| !read.iter().any(|r| r == *n)) {
            let found = if read.is_empty() {
                String::new()
            } else {
                let names: Vec<&str> = read.iter().map(String::as_str).collect();
                format!(" (found {})", list(&names))
            };
            anyhow::bail!(
                "at `{key}`: no {how} `{missing}`{found}: `{action}` reads {} from its output{}",
                list(needed),
                if action == "user_add" {
                    " (or neither: the user then signs with its name and password)"
                } else {
                    ""
                }
            );
        }
    }
    let known = |n: &str| needed.contains(&n) || optional.contains(&n);
    let unknown = |n: &str| {
        if needed.is_empty() {
            format!("`{action}` reads nothing from its output, so no field `{n}`")
        } else {
            let all: Vec<&str> = needed.iter().chain(optional).copied().collect();
            format!("`{action}` reads no field `{n}` (it reads {})", list(&all))
        }
    };
    if let Some(k) = json.keys().find(|k| !known(k)) {
        anyhow::bail!("at `{at}.json.{k}`: {}", unknown(k));
    }
    // A regex of an action that reads nothing is a must-match check, whose named groups
    // (kept for readability) are harmless; where fields are read, a stray group is a typo.
    let reads_fields = !(needed.is_empty() && optional.is_empty());
    for (i, re) in regex.iter().enumerate().filter(|_| reads_fields) {
        if let Some(n) = groups(re).iter().find(|n| !known(n)) {
            anyhow::bail!(
                "at `{}`: named group `{n}`: {}",
                regex_at(at, i),
                unknown(n)
            );
        }
    }
    Ok(())
}

/// Read and check a command profile; errors name the file and key path.
pub fn load_profile(file: &Path) -> anyhow::Result<CommandProfile> {
    let mut p: CommandProfile = crate::target::parse_profile(file)?;
    p.posix_root = crate::target::resolve_posix_root(file, p.posix_root.take());
    check_loaded(file, &p)?;
    Ok(p)
}

/// [`load_profile`]'s checks of the fields (not of the commands' templates).
fn check_loaded(file: &Path, p: &CommandProfile) -> anyhow::Result<()> {
    if p.version != 1 {
        anyhow::bail!("{}: at `version`: expected 1", file.display());
    }
    if p.kind != "command" {
        anyhow::bail!("{}: at `kind`: expected `command`", file.display());
    }
    crate::target::check_endpoint(file, &p.endpoint)?;
    crate::target::check_region(file, &p.region)?;
    crate::target::check_posix_root(file, p.posix_root.as_deref())?;
    crate::target::check_at_least_one(file, "timeout_seconds", p.timeout_seconds)?;
    crate::target::check_at_least_one(file, "max_parallel", p.max_parallel as u64)?;
    check_capabilities(file, p)
}

/// A capability the file turns on explicitly must be one the profile can provide: `clock`
/// never (no command moves a server's clock), `sts` and `service_accounts` only with the
/// action that provides them. (Left to their defaults, they are on when the action is there.)
fn check_capabilities(file: &Path, p: &CommandProfile) -> anyhow::Result<()> {
    let Some(caps) = &p.capabilities else {
        return Ok(());
    };
    if caps.clock == Some(true) {
        anyhow::bail!(
            "{}: at `capabilities.clock`: a command target cannot move the server's clock (no \
             action does that); remove the key, or use a `remote` target whose server lets the \
             admin API move it",
            file.display()
        );
    }
    for (key, value, action) in [
        ("sts", caps.sts, "assume_role"),
        (
            "service_accounts",
            caps.service_accounts,
            "service_account_add",
        ),
    ] {
        if value == Some(true) && !p.commands.contains_key(action) {
            anyhow::bail!(
                "{}: at `capabilities.{key}`: needs `commands.{action}`, which the profile does \
                 not define; add it, or set `{key} = false`",
                file.display()
            );
        }
    }
    Ok(())
}

/// Check every template, placeholder and regex of a loaded profile (runs nothing).
pub fn check(file: &Path, p: &CommandProfile) -> anyhow::Result<()> {
    compile_all(file, p).map(drop)
}

pub(super) type Compiled = (HashMap<String, Action>, Option<regex::Regex>);

pub(super) fn compile_all(file: &Path, p: &CommandProfile) -> anyhow::Result<Compiled> {
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
    if let Some(re) = &error_code {
        if !re.capture_names().flatten().any(|n| n == "code") {
            anyhow::bail!(
                "{}: at `error_code`: no named group `code`: the error code is what \
                 `(?P<code>...)` matches, e.g. `error: (?P<code>\\w+):`",
                file.display()
            );
        }
    }
    Ok((actions, error_code))
}

/// Check that the program of every command line exists and is executable, as the run would
/// find it (a path with `/` from the working directory, else on `PATH`: the profile's
/// `env.PATH` when it sets one, else ours). Errors name the file and the key. Lines whose
/// program is a placeholder are left to the run.
pub(super) fn check_programs(
    file: &Path,
    p: &CommandProfile,
    actions: &HashMap<String, Action>,
) -> anyhow::Result<()> {
    let path = match p.env.get("PATH") {
        Some(v) if !v.contains('{') => Some(std::ffi::OsString::from(v)),
        _ => std::env::var_os("PATH"),
    };
    let mut names: Vec<&String> = actions.keys().collect();
    names.sort();
    for name in names {
        for (i, line) in actions[name].lines.iter().enumerate() {
            let Some(program) = line.words.first().filter(|w| !w.contains('{')) else {
                continue;
            };
            if let Err(why) = find_program(program, path.as_deref()) {
                let at = match &p.commands[name.as_str()] {
                    CommandDef::Line(_) => format!("commands.{name}"),
                    CommandDef::Full(CommandSpec {
                        run: Lines::One(_), ..
                    }) => format!("commands.{name}.run"),
                    CommandDef::Full(_) => format!("commands.{name}.run[{i}]"),
                };
                anyhow::bail!("{}: at `{at}`: {why}", file.display());
            }
        }
    }
    Ok(())
}

fn find_program(program: &str, path: Option<&std::ffi::OsStr>) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = Path::new(program);
        return match std::fs::metadata(p) {
            Err(_) => Err(format!("the program `{program}` does not exist")),
            Ok(_) if !runnable(p) => Err(format!("the program `{program}` is not executable")),
            Ok(_) => Ok(()),
        };
    }
    let found = path
        .map(|p| std::env::split_paths(p).any(|dir| runnable(&dir.join(program))))
        .unwrap_or(false);
    if found {
        Ok(())
    } else {
        Err(format!("the program `{program}` is not on PATH"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Load and check a command profile whose `[commands]` (and anything after) is `tail`.
    fn check_text(head: &str, tail: &str) -> anyhow::Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            format!(
                "version = 1\nkind = \"command\"\nendpoint = \"http://127.0.0.1:1\"\n\
                 root_access_key = \"a\"\nroot_secret_key = \"b\"\n{head}\n{tail}"
            ),
        )
        .unwrap();
        let p = load_profile(&file)?;
        check(&file, &p)
    }

    fn refused(head: &str, tail: &str, needles: &[&str]) {
        let e = format!("{:#}", check_text(head, tail).unwrap_err());
        assert!(e.contains("t.toml: at `"), "{e}");
        for n in needles {
            assert!(e.contains(n), "no `{n}` in: {e}");
        }
    }

    #[test]
    fn output_fields_an_action_needs_are_checked_when_loading() {
        refused(
            "",
            "[commands.assume_role]\nrun = \"x\"\n\
             regex = '(?P<acess_key>\\S+) (?P<secret_key>\\S+) (?P<session_token>\\S+)'",
            &[
                "at `commands.assume_role.regex`: no named group `access_key`",
                "found `acess_key`, `secret_key`, `session_token`",
            ],
        );
        refused(
            "",
            "[commands.assume_role]\nrun = \"x\"\nregex = ['(?P<access_key>a)', \
             '(?P<secret_key>b)', '(?P<session_token>c)', '(?P<expiry>d)']",
            &[
                "at `commands.assume_role.regex[3]`: named group `expiry`: `assume_role` reads \
               no field `expiry`",
            ],
        );
        refused(
            "",
            "[commands.service_account_add]\nrun = \"x\"\njson = { access_key = \"/a\" }",
            &["at `commands.service_account_add.json`: no pointer for `secret_key`"],
        );
        refused(
            "",
            "[commands]\nassume_role = \"x\"",
            &["at `commands.assume_role`: no `json` or `regex` for `access_key`"],
        );
        refused(
            "",
            "[commands.user_add]\nrun = \"x\"\nregex = '(?P<access_key>\\S+)'",
            &[
                "at `commands.user_add.regex`: no named group `secret_key`",
                "or neither",
            ],
        );
        refused(
            "",
            "[commands.user_delete]\nrun = \"x\"\njson = { access_key = \"/a\" }",
            &["at `commands.user_delete.json.access_key`: `user_delete` reads nothing"],
        );
        refused(
            "",
            "[commands.service_account_add]\nrun = \"x\"\n\
             json = { access_key = \"/a\", secret_key = \"/b\" }\nregex = '(?P<access_key>a)'",
            &["at `commands.service_account_add`: both `json` and `regex`"],
        );
        // A `user_add` reading no keys is WEKA's model; the regex of an action that reads
        // nothing only has to match, named groups or not.
        check_text(
            "",
            "[commands]\nuser_add = \"x\"\nuser_delete = { run = \"x\", regex = 'ok' }\n\
             policy_remove = { run = \"x\", regex = '(?P<ok>done)' }",
        )
        .unwrap();
    }

    #[test]
    fn an_error_code_regex_needs_the_code_group() {
        refused(
            "error_code = 'error: (\\w+):'",
            "[commands]",
            &["at `error_code`: no named group `code`"],
        );
        check_text("error_code = 'error: (?P<code>\\w+):'", "[commands]").unwrap();
    }

    #[test]
    fn an_unknown_key_in_an_action_table_is_named_with_the_allowed_ones() {
        refused(
            "",
            "[commands.user_add]\nrun = \"x\"\ntimeout = 5",
            &[
                "commands.user_add",
                "unknown field `timeout`, expected one of `run`, `env`, `json`, `regex`",
            ],
        );
        refused(
            "",
            "[commands.user_delete]\nrun = [{ run = \"x\", wen = \"policy\" }]",
            &[
                "commands.user_delete.run",
                "unknown field `wen`, expected one of `run`, `when`, `ignore_failure`",
            ],
        );
        refused(
            "",
            "[commands]\nuser_add = 5",
            &[
                "at `commands.user_add`",
                "a command line (a string) or a table",
            ],
        );
    }

    #[test]
    fn capabilities_a_command_target_cannot_provide_are_refused() {
        refused(
            "[capabilities]\nclock = true",
            "[commands]",
            &["at `capabilities.clock`: a command target cannot move the server's clock"],
        );
        refused(
            "[capabilities]\nservice_accounts = true",
            "[commands]",
            &["at `capabilities.service_accounts`: needs `commands.service_account_add`"],
        );
        refused(
            "[capabilities]\nsts = true",
            "[commands]",
            &["at `capabilities.sts`: needs `commands.assume_role`"],
        );
        // Left to their defaults, or turned off, they need nothing.
        check_text("[capabilities]\nclock = false\nsts = false", "[commands]").unwrap();
        check_text("", "[commands]").unwrap();
    }

    #[test]
    fn zero_timeouts_and_parallelism_are_refused() {
        for key in ["timeout_seconds", "max_parallel"] {
            refused(
                &format!("{key} = 0"),
                "[commands]",
                &[&format!("at `{key}`: must be at least 1")],
            );
        }
        check_text("timeout_seconds = 1\nmax_parallel = 1", "[commands]").unwrap();
    }

    #[test]
    fn an_empty_region_is_refused() {
        refused("region = \"\"", "[commands]", &["at `region`: empty"]);
    }
}
