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
    let p: CommandProfile = crate::target::parse_profile(file)?;
    if p.version != 1 {
        anyhow::bail!("{}: at `version`: expected 1", file.display());
    }
    if p.kind != "command" {
        anyhow::bail!("{}: at `kind`: expected `command`", file.display());
    }
    crate::target::check_endpoint(file, &p.endpoint)?;
    crate::target::check_posix_root(file, p.posix_root.as_deref())?;
    Ok(p)
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
