//! Scenario files: loading (strict TOML with key paths in every error), validation, and
//! expansion of matrices into plain steps.
//!
//! Invariant: a [`Scenario`] returned by [`load`] has passed [`validate::validate`]; the runner
//! never meets an unknown identity, a missing parameter or an unreadable policy file. Policy
//! files are read here, so a scenario carries everything it needs once loaded.

pub mod model;
pub mod refs;
pub mod validate;

use model::{Matrix, ScenarioFile, Step};
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

pub use model::{Expect, Mutation, Op, Profile, SignMode, Transport};

/// A scenario file that parsed and validated, with its matrices expanded into steps.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub file: PathBuf,
    pub def: ScenarioFile,
    /// Policy documents by logical name, files read, not yet template-expanded.
    pub documents: Vec<(String, String)>,
    /// The steps in order: `steps`, then each matrix case × identity.
    pub steps: Vec<PlannedStep>,
}

/// A step ready to run, with where it came from for reports.
#[derive(Debug, Clone)]
pub struct PlannedStep {
    /// `steps[3]` or `matrix[0].cases[2] as alice`.
    pub origin: String,
    pub step: Step,
}

impl Scenario {
    pub fn id(&self) -> &str {
        &self.def.id
    }

    pub fn document(&self, name: &str) -> Option<&str> {
        self.documents
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.as_str())
    }

    /// Capabilities the target needs for this scenario (`clock`, `posix`, `sts`,
    /// `service_accounts`, `faults`).
    pub fn needs(&self) -> Vec<&'static str> {
        let mut needs = Vec::new();
        let steps = || self.steps.iter().map(|s| &s.step);
        if steps().any(|s| s.op == Some(Op::AdvanceClock)) {
            needs.push("clock");
        }
        if steps().any(|s| {
            s.op.is_some_and(Op::is_fault) || (s.op == Some(Op::PutStorm) && s.kill_after.is_some())
        }) {
            needs.push("faults");
        }
        let owner = |e: &Option<Expect>| {
            e.as_ref()
                .is_some_and(|e| e.owner.is_some() || e.profile.values().any(|p| p.owner.is_some()))
        };
        if steps().any(|s| owner(&s.expect)) {
            needs.push("posix");
        }
        if !self.def.setup.sessions.is_empty() || steps().any(|s| s.op == Some(Op::AssumeRole)) {
            needs.push("sts");
        }
        if !self.def.setup.service_accounts.is_empty()
            || steps().any(|s| {
                matches!(
                    s.op,
                    Some(Op::CreateServiceAccount | Op::DeleteServiceAccount)
                )
            })
        {
            needs.push("service_accounts");
        }
        needs
    }

    /// Provisioning actions the scenario performs (by the command adapter's names), so a
    /// target whose profile lacks one skips it instead of failing. Clean-up deletions are not
    /// listed: a target that cannot delete leaves its test identities behind, nothing more.
    pub fn actions(&self) -> BTreeSet<&'static str> {
        let setup = &self.def.setup;
        let mut acts = BTreeSet::new();
        if setup.policies.iter().any(|p| p.register) {
            acts.insert("policy_add");
        }
        if !setup.users.is_empty() {
            acts.insert("user_add");
        }
        if setup.users.iter().any(|u| u.policy.is_some()) {
            acts.insert("policy_attach");
        }
        for s in self.steps.iter().map(|s| &s.step) {
            let Some(op) = s.op else { continue };
            match op {
                Op::CreateUser => {
                    acts.insert("user_add");
                    if s.policy.is_some() {
                        acts.insert("policy_attach");
                    }
                }
                Op::UpdateUser => {
                    if s.uid.is_some() || s.gid.is_some() {
                        acts.insert("user_update");
                    }
                    if s.password.is_some() {
                        acts.insert("user_passwd");
                    }
                }
                Op::DeleteUser => {
                    acts.insert("user_delete");
                }
                Op::PutPolicy => {
                    acts.insert("policy_add");
                }
                Op::DeletePolicy => {
                    acts.insert("policy_remove");
                }
                Op::AttachPolicy => {
                    acts.insert("policy_attach");
                }
                Op::DetachPolicy => {
                    acts.insert("policy_detach");
                }
                Op::PutStorm if s.user.is_some() => {
                    acts.extend(["policy_attach", "policy_detach"]);
                }
                _ => {}
            }
        }
        acts
    }

    /// A scenario that moves the target's clock, stops or freezes it, or counts target-wide
    /// resources, must not share the target with others.
    pub fn exclusive(&self) -> bool {
        let needs = self.needs();
        self.def.exclusive || needs.contains(&"clock") || needs.contains(&"faults")
    }
}

/// Why a scenario file was refused: the file, the key path inside it and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    /// Dotted key path (`steps[2].expect.status`); empty for whole-file errors.
    pub path: String,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: at `{}`: {}",
                self.file.display(),
                self.path,
                self.message
            )
        }
    }
}

impl std::error::Error for LoadError {}

/// Parse, validate and expand one scenario file.
pub fn load(file: &Path) -> Result<Scenario, Vec<LoadError>> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        vec![LoadError {
            file: file.to_owned(),
            path: String::new(),
            message: format!("cannot read: {e}"),
        }]
    })?;
    parse(file, &text)
}

/// Parse, validate and expand scenario text; `file` names it in errors and anchors policy files.
pub fn parse(file: &Path, text: &str) -> Result<Scenario, Vec<LoadError>> {
    let err = |path: String, message: String| {
        vec![LoadError {
            file: file.to_owned(),
            path,
            message,
        }]
    };
    let de =
        toml::Deserializer::parse(text).map_err(|e| err(String::new(), toml_error(text, &e)))?;
    let def: ScenarioFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        err(path, toml_error(text, e.inner()))
    })?;
    let (documents, mut errors) = match validate::validate(file, &def) {
        Ok(d) => (d, Vec::new()),
        Err(e) => (Vec::new(), e),
    };
    let raw: toml::Table =
        toml::from_str(text).map_err(|e| err(String::new(), toml_error(text, &e)))?;
    errors.extend(refs::check(file, &def, &raw, &documents));
    if !errors.is_empty() {
        return Err(errors);
    }
    let steps = expand(&def);
    Ok(Scenario {
        file: file.to_owned(),
        def,
        documents,
        steps,
    })
}

/// A TOML error on one line: `line L, column C: message`, the position taken from the error's
/// span in `text` (columns count characters, from 1). A duplicate key is named.
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let mut msg = e.message().trim().to_owned();
    let Some(span) = e.span() else {
        return msg;
    };
    if msg == "duplicate key" {
        if let Some(key) = text.get(span.clone()).map(str::trim) {
            if !key.is_empty() {
                msg = format!("duplicate key `{key}`");
            }
        }
    }
    let (line, column) = line_column(text, span.start);
    format!("line {line}, column {column}: {msg}")
}

/// The 1-based line and column (in characters) of byte `at` of `text`.
pub fn line_column(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// The plan of a scenario: its matrices first, since they state what the setup allows, then
/// its steps, which may change that state (delete a user, replace a policy, move the clock).
fn expand(def: &ScenarioFile) -> Vec<PlannedStep> {
    let mut out = Vec::new();
    for (m, matrix) in def.matrix.iter().enumerate() {
        out.extend(expand_matrix(m, matrix));
    }
    out.extend(def.steps.iter().enumerate().map(|(i, s)| PlannedStep {
        origin: format!("steps[{i}]"),
        step: s.clone(),
    }));
    out
}

fn expand_matrix(m: usize, matrix: &Matrix) -> Vec<PlannedStep> {
    let mut out = Vec::new();
    for (c, case) in matrix.cases.iter().enumerate() {
        for (i, who) in matrix.as_.iter().enumerate() {
            let mut step = case.clone();
            step.as_ = Some(who.clone());
            let mut expect = case
                .outcome
                .as_ref()
                .map(|o| outcome_expect(&o[i]))
                .unwrap_or_default();
            for (profile, cells) in case.outcome_profile.iter().flatten() {
                expect.profile.insert(*profile, outcome_expect(&cells[i]));
            }
            for (transport, cells) in case.outcome_transport.iter().flatten() {
                expect
                    .transport
                    .insert(*transport, outcome_expect(&cells[i]));
            }
            step.expect = Some(expect);
            step.outcome = None;
            step.outcome_profile = None;
            step.outcome_transport = None;
            step.matrix_as(who);
            out.push(PlannedStep {
                origin: format!("matrix[{m}].cases[{c}] as {who}"),
                step,
            });
        }
    }
    out
}

/// A matrix cell: `ok` (any 2xx), a status (`404`), an error code (`AccessDenied`) or both
/// (`403:AccessDenied`).
pub fn outcome_expect(cell: &str) -> Expect {
    let mut e = Expect::default();
    let (status, code) = match cell.split_once(':') {
        Some((s, c)) => (Some(s), Some(c)),
        None if cell.chars().all(|c| c.is_ascii_digit()) => (Some(cell), None),
        None if cell == "ok" => {
            e.ok = Some(true);
            (None, None)
        }
        None => (None, Some(cell)),
    };
    e.status = status.and_then(|s| s.parse().ok());
    e.code = code.map(str::to_owned);
    e
}

impl Step {
    /// Substitute `{{as}}` in a matrix cell's string parameters.
    fn matrix_as(&mut self, who: &str) {
        let sub = |s: &mut Option<String>| {
            if let Some(v) = s {
                *v = v.replace("{{as}}", who);
            }
        };
        sub(&mut self.bucket);
        sub(&mut self.key);
        sub(&mut self.body);
        sub(&mut self.source_key);
        sub(&mut self.prefix);
        sub(&mut self.save_as);
        sub(&mut self.upload);
    }
}

/// The folders directly under a library's root that hold files other than scenarios: load
/// plans (`keygate load --plan`) and per-target expectations. Folders of these names deeper
/// down are scenario folders like any other.
pub const NOT_SCENARIOS: [&str; 2] = ["load", "expectations"];

/// Every `*.toml` under `dir`, sorted, but for the top-level [`NOT_SCENARIOS`] folders. A
/// folder reached twice (a symbolic link back up the tree, or two links to one folder) is
/// read once: a loop would otherwise list the same files under ever longer paths.
pub fn discover(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    walk(dir, true, &mut seen, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(
    dir: &Path,
    top: bool,
    seen: &mut std::collections::BTreeSet<PathBuf>,
    out: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    if !seen.insert(dir.canonicalize()?) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            let skipped = top
                && path
                    .file_name()
                    .is_some_and(|n| NOT_SCENARIOS.iter().any(|s| n == *s));
            if !skipped {
                walk(&path, false, seen, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Load every file; all errors of all files are returned together.
pub fn load_all(files: &[PathBuf]) -> Result<Vec<Scenario>, Vec<LoadError>> {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match load(f) {
            Ok(s) => ok.push(s),
            Err(e) => errors.extend(e),
        }
    }
    let mut seen = std::collections::BTreeMap::new();
    for s in &ok {
        if let Some(first) = seen.insert(s.id().to_owned(), s.file.clone()) {
            errors.push(LoadError {
                file: s.file.clone(),
                path: "id".into(),
                message: format!(
                    "duplicate scenario id `{}` (also in {})",
                    s.id(),
                    first.display()
                ),
            });
        }
    }
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }

    #[test]
    fn only_the_top_level_load_and_expectations_folders_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "load/plan.toml",
            "expectations/moto.toml",
            "s3/a.toml",
            "policies/b.toml",
            "iam/load/c.toml",
            "iam/expectations/d.toml",
        ] {
            touch(&root.join(f));
        }
        let found: Vec<String> = discover(root)
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(
            found,
            [
                "iam/expectations/d.toml",
                "iam/load/c.toml",
                "policies/b.toml",
                "s3/a.toml"
            ]
        );
    }

    #[test]
    fn a_symbolic_link_loop_is_walked_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("s3/a.toml"));
        std::os::unix::fs::symlink("..", root.join("s3/up")).unwrap();
        let found = discover(root).unwrap();
        assert_eq!(found, [root.join("s3/a.toml")]);
    }
}
