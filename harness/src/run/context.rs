//! Per-scenario state: the mapping from a file's logical names to names unique to this run,
//! the credentials of every identity, multipart uploads in flight, and what to clean up.
//!
//! Isolation invariant: every bucket, user and custom policy a scenario touches is named
//! `<prefix>-<logical>`, where the prefix carries the run nonce and the scenario id, so
//! scenarios run in parallel (`--jobs`) cannot see each other's state and a failure cannot
//! cascade. Only names written `=literal` escape the mapping.

use crate::scenario::Scenario;
use crate::target::{Credentials, Target};
use regex::Regex;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

/// A multipart upload in flight: its id and the ETags of the parts sent.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub id: String,
    pub parts: BTreeMap<i32, String>,
}

/// The upload id sent for an upload that was never created.
pub const NO_SUCH_UPLOAD: &str = "keygate-no-such-upload";

/// One scenario's run-time state. All maps are behind locks so parallel copies of a step
/// (`parallel = N`) can share it.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub target: &'a dyn Target,
    pub scenario: &'a Scenario,
    pub prefix: String,
    identities: Mutex<HashMap<String, Credentials>>,
    users: Mutex<BTreeMap<String, String>>,
    /// Users made under a literal (`=`) name, which the mapping above does not hold: cleaned
    /// up too, should the scenario not delete them itself (it stopped early). Only those a
    /// step created: a literal name may be one the target held before, never to be deleted.
    literal_users: Mutex<BTreeSet<String>>,
    /// Pre-defined policies a step changed or removed, on a target that let it (SPEC P1
    /// refuses it): restored by cleanup, which says so.
    changed_predefined: Mutex<BTreeSet<String>>,
    policies: Mutex<BTreeMap<String, String>>,
    /// Service accounts: logical name -> (parent logical user, access key).
    accounts: Mutex<BTreeMap<String, (String, String)>>,
    uploads: Mutex<HashMap<String, Upload>>,
    buckets: Mutex<BTreeSet<String>>,
    clients: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    /// What fault steps injected and what the target acknowledged around them.
    ledger: Mutex<super::faults::Ledger>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Build a name of at most `max` characters from `prefix` and `logical`, hashing if needed.
fn scoped(prefix: &str, logical: &str, max: usize) -> String {
    let name = format!("{prefix}-{logical}");
    if name.len() <= max {
        return name;
    }
    let h = hex::encode(&Sha256::digest(logical.as_bytes())[..4]);
    let keep = max.saturating_sub(prefix.len() + 10);
    format!("{prefix}-{}-{h}", &logical[..keep.min(logical.len())])
}

impl<'a> Ctx<'a> {
    pub fn new(target: &'a dyn Target, scenario: &'a Scenario, nonce: &str) -> Self {
        let id: String = scenario.id().chars().take(30).collect();
        let prefix = format!("kg{nonce}-{}", id.trim_end_matches('-'));
        Self {
            target,
            scenario,
            prefix,
            identities: Mutex::default(),
            users: Mutex::default(),
            literal_users: Mutex::default(),
            changed_predefined: Mutex::default(),
            policies: Mutex::default(),
            accounts: Mutex::default(),
            uploads: Mutex::default(),
            buckets: Mutex::default(),
            clients: Mutex::default(),
            ledger: Mutex::default(),
        }
    }

    /// The real bucket name for a logical one (recorded for cleanup).
    pub fn bucket(&self, logical: &str) -> String {
        let real = match logical.strip_prefix('=') {
            Some(lit) => self.expand(lit),
            None => scoped(&self.prefix, &logical.to_ascii_lowercase(), 63),
        };
        lock(&self.buckets).insert(real.clone());
        real
    }

    /// The logical name of one of this scenario's buckets, if `real` is one.
    pub fn logical_bucket(&self, real: &str) -> Option<String> {
        real.strip_prefix(&format!("{}-", self.prefix))
            .map(str::to_owned)
    }

    pub fn buckets(&self) -> Vec<String> {
        lock(&self.buckets).iter().cloned().collect()
    }

    /// The real user name for a logical one (a new mapping if unseen).
    pub fn user(&self, logical: &str) -> String {
        if let Some(lit) = logical.strip_prefix('=') {
            return self.expand(lit);
        }
        lock(&self.users)
            .entry(logical.to_owned())
            .or_insert_with(|| scoped(&self.prefix, logical, 64))
            .clone()
    }

    /// Notes that a step created user `real` (named `logical` in the file). A literal name is
    /// kept for cleanup only when it holds this run's prefix (`={{prefix}}-…`): on a target
    /// where adding an existing user updates it, a plain literal may name a user the target
    /// held before the run, which cleanup must not delete.
    pub fn created_user(&self, logical: &str, real: &str) {
        if logical.starts_with('=') && real.contains(&self.prefix) {
            lock(&self.literal_users).insert(real.to_owned());
        }
    }

    /// Notes a step's change (`put_policy`, `delete_policy`) of policy `real`: one that
    /// went through on a pre-defined policy is restored by cleanup.
    pub fn note_policy_change(&self, real: &str, done: bool) {
        if done && crate::scenario::validate::PREDEFINED_POLICIES.contains(&real) {
            lock(&self.changed_predefined).insert(real.to_owned());
        }
    }

    /// The pre-defined policies a step changed or removed.
    pub fn changed_predefined(&self) -> Vec<String> {
        lock(&self.changed_predefined).iter().cloned().collect()
    }

    /// Every user to clean up: the mapped names, and the literal ones a step created.
    pub fn users(&self) -> Vec<String> {
        let mapped = lock(&self.users).values().cloned().collect::<Vec<_>>();
        let literal = lock(&self.literal_users)
            .iter()
            .cloned()
            .collect::<Vec<_>>();
        mapped.into_iter().chain(literal).collect()
    }

    /// The real policy name: pre-defined names stay as they are.
    pub fn policy(&self, logical: &str) -> String {
        if let Some(lit) = logical.strip_prefix('=') {
            return self.expand(lit);
        }
        if crate::scenario::validate::PREDEFINED_POLICIES.contains(&logical) {
            return logical.to_owned();
        }
        lock(&self.policies)
            .entry(logical.to_owned())
            .or_insert_with(|| scoped(&self.prefix, logical, 64))
            .clone()
    }

    pub fn policies(&self) -> Vec<String> {
        lock(&self.policies).values().cloned().collect()
    }

    pub fn set_identity(&self, name: &str, creds: Credentials) {
        lock(&self.identities).insert(name.to_owned(), creds);
        lock(&self.clients).remove(name);
    }

    pub fn forget_identity(&self, name: &str) {
        lock(&self.clients).remove(name);
    }

    /// Drop every cached client, with its pooled connections (after the target restarted).
    pub fn drop_clients(&self) {
        lock(&self.clients).clear();
    }

    /// Read or update the fault ledger.
    pub fn with_ledger<R>(&self, f: impl FnOnce(&mut super::faults::Ledger) -> R) -> R {
        f(&mut lock(&self.ledger))
    }

    /// Credentials of an identity; `Ok(None)` for anonymous.
    pub fn credentials(&self, name: &str) -> Result<Option<Credentials>, String> {
        match name {
            "root" => Ok(Some(self.target.root().clone())),
            "anonymous" => Ok(None),
            n => lock(&self.identities)
                .get(n)
                .cloned()
                .map(Some)
                .ok_or_else(|| {
                    format!("identity `{n}` has no credentials (was its creation refused?)")
                }),
        }
    }

    /// A cached S3 client for an identity.
    pub fn s3(&self, name: &str) -> Result<aws_sdk_s3::Client, String> {
        if let Some(c) = lock(&self.clients).get(name) {
            return Ok(c.clone());
        }
        let creds = self.credentials(name)?;
        let client = super::clients::s3_client(self.target, creds.as_ref());
        lock(&self.clients).insert(name.to_owned(), client.clone());
        Ok(client)
    }

    pub fn add_account(&self, name: &str, parent: &str, access_key: &str) {
        lock(&self.accounts).insert(name.to_owned(), (parent.to_owned(), access_key.to_owned()));
    }

    pub fn account(&self, name: &str) -> Option<(String, String)> {
        lock(&self.accounts).get(name).cloned()
    }

    /// An upload by logical name. One whose creation was refused gets a placeholder id, so the
    /// next call is still sent and the target's answer (authorisation before existence) judged.
    pub fn upload(&self, name: &str) -> Upload {
        lock(&self.uploads)
            .get(name)
            .cloned()
            .unwrap_or_else(|| Upload {
                id: NO_SUCH_UPLOAD.to_owned(),
                parts: BTreeMap::new(),
            })
    }

    pub fn set_upload(&self, name: &str, id: String) {
        lock(&self.uploads).insert(
            name.to_owned(),
            Upload {
                id,
                parts: BTreeMap::new(),
            },
        );
    }

    pub fn add_part(&self, name: &str, number: i32, etag: String) {
        if let Some(u) = lock(&self.uploads).get_mut(name) {
            u.parts.insert(number, etag);
        }
    }

    /// Expand `{{bucket.x}}`, `{{user.x}}`, `{{policy.x}}`, `{{key.x}}`, `{{region}}`,
    /// `{{prefix}}` and `{{root.access_key}}`.
    pub fn expand(&self, s: &str) -> String {
        static RE: OnceLock<Regex> = OnceLock::new();
        let re = RE.get_or_init(|| {
            Regex::new(r"\{\{([a-z_]+)(?:\.([A-Za-z0-9_-]+))?\}\}").expect("static regex")
        });
        re.replace_all(s, |c: &regex::Captures<'_>| {
            let arg = c.get(2).map_or("", |m| m.as_str());
            match &c[1] {
                "bucket" => self.bucket(arg),
                "user" => self.user(arg),
                "policy" => self.policy(arg),
                "key" => self
                    .credentials(arg)
                    .ok()
                    .flatten()
                    .map(|c| c.access_key)
                    .unwrap_or_default(),
                "region" => self.target.region().to_owned(),
                "prefix" => self.prefix.clone(),
                "root" => self.target.root().access_key.clone(),
                _ => c[0].to_owned(),
            }
        })
        .into_owned()
    }

    /// A policy document by logical name, expanded and padded as the file asks.
    pub fn document(&self, logical: &str) -> Option<String> {
        let raw = self.scenario.document(logical)?;
        let mut doc = self.expand(raw);
        let pad = self
            .scenario
            .def
            .setup
            .policies
            .iter()
            .find(|p| p.name == logical)
            .and_then(|p| p.pad_to);
        if let Some(n) = pad {
            doc = pad_document(doc.trim_end(), n);
        }
        Some(doc)
    }
}

/// Pad a JSON object with spaces before its final `}` to exactly `n` bytes (if it is shorter).
pub fn pad_document(doc: &str, n: usize) -> String {
    match doc.strip_suffix('}') {
        Some(body) if doc.len() < n => format!("{body}{}}}", " ".repeat(n - doc.len())),
        _ => doc.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_names_fit() {
        let n = scoped("kgabc123-some-long-scenario-id-here", &"x".repeat(60), 64);
        assert!(n.len() <= 64, "{n}");
        assert_eq!(scoped("kg1-a", "data", 63), "kg1-a-data");
    }

    #[test]
    fn padding_is_exact() {
        let d = pad_document(r#"{"Version":"2012-10-17"}"#, 2048);
        assert_eq!(d.len(), 2048);
        assert!(d.ends_with('}'));
    }
}
