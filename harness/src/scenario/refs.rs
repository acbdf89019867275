//! References inside a scenario's strings and to its buckets, checked before anything runs.
//!
//! The template grammar is what the runner substitutes, nothing more: `{{bucket.X}}`,
//! `{{user.X}}`, `{{policy.X}}`, `{{key.IDENTITY}}`, `{{region}}`, `{{prefix}}`, `{{root}}` /
//! `{{root.access_key}}` (`run::context::Ctx::expand`); `{{as}}` in matrix cases (the identity
//! a cell runs as) and `{{i}}` in a step's `user` (the copy of a `parallel` step). Anything else
//! between `{{` and `}}`, or a `{{` never closed, would be sent literally, so it is an error.
//!
//! A bucket a step, an object or a template names must be declared: in `setup.buckets`, or by
//! a `create_bucket` step. A step may name a bucket that is never declared only when every
//! outcome it expects is a refusal (that is how a file tests a missing bucket: `nothere`,
//! `missing`); expecting success from a bucket that never exists is a typo. Objects are written
//! during setup, so their bucket must be in `setup.buckets`.

use super::model::{Expect, Op, ScenarioFile, Step};
use super::validate::PREDEFINED_POLICIES;
use super::LoadError;
use std::collections::BTreeSet;
use std::path::Path;

/// Names a file declares, by kind.
struct Declared {
    setup_buckets: BTreeSet<String>,
    buckets: BTreeSet<String>,
    users: BTreeSet<String>,
    policies: BTreeSet<String>,
    identities: BTreeSet<String>,
}

impl Declared {
    fn of(def: &ScenarioFile) -> Self {
        let setup = &def.setup;
        let setup_buckets: BTreeSet<String> = setup.buckets.iter().cloned().collect();
        let mut d = Declared {
            buckets: setup_buckets.clone(),
            setup_buckets,
            users: setup.users.iter().map(|u| u.name.clone()).collect(),
            policies: setup.policies.iter().map(|p| p.name.clone()).collect(),
            identities: ["root", "anonymous"].map(str::to_owned).into(),
        };
        d.policies
            .extend(PREDEFINED_POLICIES.iter().map(|p| (*p).to_owned()));
        d.identities.extend(d.users.iter().cloned());
        d.identities
            .extend(setup.sessions.iter().map(|s| s.name.clone()));
        d.identities
            .extend(setup.service_accounts.iter().map(|a| a.name.clone()));
        for (_, s) in steps(def) {
            match (s.op, &s.bucket, &s.user, &s.policy) {
                (Some(Op::CreateBucket), Some(b), _, _) => {
                    d.buckets.insert(b.clone());
                }
                (Some(Op::CreateUser), _, Some(u), _) => {
                    d.users.insert(u.clone());
                    d.identities.insert(u.clone());
                }
                (Some(Op::UpdateUser), _, Some(u), _) if s.password.is_some() => {
                    d.identities.insert(format!("{u}.old"));
                }
                (Some(Op::PutPolicy), _, _, Some(p)) => {
                    d.policies.insert(p.clone());
                }
                _ => {}
            }
            if let Some(n) = &s.save_as {
                d.identities.insert(n.clone());
            }
        }
        d
    }
}

/// Every step and matrix case with its key path.
fn steps(def: &ScenarioFile) -> impl Iterator<Item = (String, &Step)> {
    let plain = def
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("steps[{i}]"), s));
    let cases = def.matrix.iter().enumerate().flat_map(|(m, matrix)| {
        matrix
            .cases
            .iter()
            .enumerate()
            .map(move |(n, s)| (format!("matrix[{m}].cases[{n}]"), s))
    });
    plain.chain(cases)
}

/// `name` is in `set`, or matches an entry written per identity or copy (`new-{{as}}`).
fn known(set: &BTreeSet<String>, name: &str) -> bool {
    set.contains(name)
        || set.iter().any(|d| {
            d.split_once("{{").is_some_and(|(head, rest)| {
                let tail = rest.split_once("}}").map_or("", |(_, t)| t);
                name.len() > head.len() + tail.len()
                    && name.starts_with(head)
                    && name.ends_with(tail)
            })
        })
}

/// An expectation that only a refusal (or no answer) meets, in every profile and transport.
fn refusal(e: &Expect) -> bool {
    let own = e.ok != Some(true)
        && (e.transport_error == Some(true)
            || e.code.is_some()
            || e.status.is_some_and(|s| s >= 300));
    own && e
        .profile
        .values()
        .chain(e.transport.values())
        .all(|v| v.ok != Some(true) && v.status.is_none_or(|s| s >= 300))
}

/// Whether the step (or matrix case) at `path` expects only refusals.
fn expects_refusal(def: &ScenarioFile, path: &str) -> bool {
    let Some((_, step)) = steps(def).find(|(p, _)| path == p || path.starts_with(&format!("{p}.")))
    else {
        return false;
    };
    if path.starts_with("matrix[") {
        let cell = |c: &String| c != "ok" && !c.starts_with('2');
        let profiles = step.outcome_profile.iter().flatten().map(|(_, v)| v);
        let transports = step.outcome_transport.iter().flatten().map(|(_, v)| v);
        step.outcome
            .iter()
            .chain(profiles)
            .chain(transports)
            .all(|cells| cells.iter().all(cell))
    } else {
        step.expect.as_ref().is_some_and(refusal)
    }
}

struct Checker<'a> {
    file: &'a Path,
    def: &'a ScenarioFile,
    declared: Declared,
    errors: Vec<LoadError>,
}

impl Checker<'_> {
    fn err(&mut self, path: &str, message: String) {
        self.errors.push(LoadError {
            file: self.file.to_owned(),
            path: path.to_owned(),
            message,
        });
    }

    /// A logical bucket named at `path` (a field or a template).
    fn bucket(&mut self, path: &str, name: &str) {
        if name.starts_with('=')
            || known(&self.declared.buckets, name)
            || expects_refusal(self.def, path)
        {
            return;
        }
        self.err(
            path,
            format!(
                "bucket `{name}` is not declared: expected one of `setup.buckets` ({}) or a \
                 bucket a `create_bucket` step creates (a step may name a missing bucket only \
                 when it expects a refusal)",
                list(&self.declared.buckets)
            ),
        );
    }

    /// Check the `{{...}}` templates of one string at `path`.
    fn templates(&mut self, path: &str, text: &str) {
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                self.err(path, format!("unclosed `{{{{` in `{text}`"));
                return;
            };
            let inner = &after[..close];
            rest = &after[close + 2..];
            self.template(path, inner);
        }
    }

    fn template(&mut self, path: &str, inner: &str) {
        let (name, arg) = match inner.split_once('.') {
            Some((n, a)) => (n, Some(a)),
            None => (inner, None),
        };
        let arg_ok = arg.is_none_or(|a| {
            !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
        let in_matrix = path.starts_with("matrix[");
        let problem = match (name, arg) {
            _ if !arg_ok => Some(format!("`{{{{{inner}}}}}` is not a template")),
            ("bucket", Some(b)) => {
                self.bucket(path, b);
                None
            }
            ("user", Some(u)) if known(&self.declared.users, u) => None,
            ("user", Some(u)) => Some(format!(
                "`{{{{user.{u}}}}}`: `{u}` is not a user of this scenario ({})",
                list(&self.declared.users)
            )),
            ("policy", Some(p)) if known(&self.declared.policies, p) => None,
            ("policy", Some(p)) => Some(format!(
                "`{{{{policy.{p}}}}}`: `{p}` is not a policy of this scenario ({})",
                list(&self.declared.policies)
            )),
            ("key", Some(k)) if known(&self.declared.identities, k) => None,
            ("key", Some(k)) => Some(format!(
                "`{{{{key.{k}}}}}`: `{k}` is not an identity of this scenario ({})",
                list(&self.declared.identities)
            )),
            ("region" | "prefix" | "root", None) | ("root", Some("access_key")) => None,
            ("as", None) if in_matrix => None,
            ("as", None) => Some("`{{as}}` is only substituted in matrix cases".to_owned()),
            ("i", None) if path.ends_with(".user") => None,
            ("i", None) => Some("`{{i}}` is only substituted in a step's `user`".to_owned()),
            ("bucket" | "user" | "policy" | "key", None) => Some(format!(
                "`{{{{{name}}}}}` needs a name: `{{{{{name}.NAME}}}}`"
            )),
            _ => Some(format!(
                "`{{{{{inner}}}}}` is not a template; expected {{{{bucket.NAME}}}}, \
                 {{{{user.NAME}}}}, {{{{policy.NAME}}}}, {{{{key.IDENTITY}}}}, {{{{region}}}}, \
                 {{{{prefix}}}}, {{{{root}}}}, {{{{as}}}} (matrix cases) or {{{{i}}}} (`user`)"
            )),
        };
        if let Some(p) = problem {
            self.err(path, p);
        }
    }

    /// Walk every string of the file, skipping free text (title, description, step names).
    fn walk(&mut self, path: &str, v: &toml::Value) {
        match v {
            toml::Value::String(s) => self.templates(path, s),
            toml::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    self.walk(&format!("{path}[{i}]"), x);
                }
            }
            toml::Value::Table(t) => {
                for (k, x) in t {
                    let free = k == "name" && (path.starts_with("steps[") || in_case(path));
                    if !free {
                        self.walk(&format!("{path}.{k}"), x);
                    }
                }
            }
            _ => {}
        }
    }
}

fn in_case(path: &str) -> bool {
    path.starts_with("matrix[") && path.contains(".cases[")
}

fn list(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        "none declared".to_owned()
    } else {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Check templates and bucket references of a parsed file; `raw` is the same file as a TOML
/// value (for key paths) and `documents` its policy documents, files read.
pub fn check(
    file: &Path,
    def: &ScenarioFile,
    raw: &toml::Table,
    documents: &[(String, String)],
) -> Vec<LoadError> {
    let mut c = Checker {
        file,
        def,
        declared: Declared::of(def),
        errors: Vec::new(),
    };
    for key in ["setup", "steps", "matrix"] {
        if let Some(v) = raw.get(key) {
            c.walk(key, v);
        }
    }
    for (i, p) in def.setup.policies.iter().enumerate() {
        if p.file.is_some() {
            if let Some((_, doc)) = documents.iter().find(|(n, _)| *n == p.name) {
                c.templates(&format!("setup.policies[{i}].file"), doc);
            }
        }
    }
    for (i, o) in def.setup.objects.iter().enumerate() {
        if !o.bucket.starts_with('=') && !c.declared.setup_buckets.contains(&o.bucket) {
            let known = list(&c.declared.setup_buckets);
            c.err(
                &format!("setup.objects[{i}].bucket"),
                format!("bucket `{}` is not in `setup.buckets` ({known})", o.bucket),
            );
        }
    }
    for (path, s) in steps(def) {
        if s.op != Some(Op::CreateBucket) {
            if let Some(b) = &s.bucket {
                c.bucket(&format!("{path}.bucket"), b);
            }
        }
        if let Some(b) = &s.source_bucket {
            c.bucket(&format!("{path}.source_bucket"), b);
        }
        if let Some(b) = s
            .expect
            .as_ref()
            .and_then(|e| e.owner.as_ref()?.bucket.as_ref())
        {
            c.bucket(&format!("{path}.expect.owner.bucket"), b);
        }
    }
    c.errors
}
