//! The writer's in-memory mirror of the database, and the immutable snapshots built from it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::Context;
use keygate_policy::{CompiledPolicy, PolicyDocument};
use keygate_sigv4::SecretKey;
use rusqlite::Connection;

use super::db;
use super::seal::Sealer;
use super::token::TokenSigner;
use super::UserInfo;
use crate::store::Owner;

/// What kind of identity signed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The admin: full S3 access, as MinIO's root.
    Root,
    /// An S3 user (name = access key).
    User,
    /// Temporary credentials from AssumeRole; need their session token.
    Sts,
    /// A user's child key; never takes a session token.
    ServiceAccount,
}

/// An authenticated identity as the rest of the request pipeline sees it. Its `Debug` never
/// shows the session token (SPEC V7).
#[derive(Clone)]
pub struct Principal {
    pub access_key: String,
    pub kind: PrincipalKind,
    /// The user name policy variables resolve to; the parent's for STS credentials and
    /// service accounts (E10), whose parent's policy and uid/gid are read live.
    pub username: String,
    /// Owner of the files a user writes (X1); derived credentials use the parent's, live (X2).
    pub owner: Owner,
    /// The session policy (STS) or embedded policy (service account) narrowing the parent's.
    pub own_policy: Option<Arc<StoredPolicy>>,
    /// STS expiry, Unix seconds.
    pub expires: Option<i64>,
    /// The session token an STS credential must present.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("access_key", &self.access_key)
            .field("kind", &self.kind)
            .field("username", &self.username)
            .field("owner", &self.owner)
            .field("own_policy", &self.own_policy.is_some())
            .field("expires", &self.expires)
            .field("session_token", &redacted(&self.session_token))
            .finish()
    }
}

/// How `Debug` shows an optional secret: whether there is one, never what it is.
pub(crate) fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}

/// A key the server accepts.
#[derive(Debug)]
pub struct Credential {
    pub secret: SecretKey,
    pub principal: Principal,
}

/// A policy document with its compiled form.
#[derive(Debug)]
pub struct StoredPolicy {
    pub document: PolicyDocument,
    pub compiled: CompiledPolicy,
    /// The condition keys the document can read (only those are gathered per request).
    pub needs: crate::authz::KeyNeeds,
}

impl StoredPolicy {
    pub fn new(document: PolicyDocument) -> StoredPolicy {
        let compiled = document.compile();
        let needs = crate::authz::KeyNeeds::of(document.source());
        StoredPolicy {
            document,
            compiled,
            needs,
        }
    }
}

/// A user in the writer's model.
#[derive(Debug, Clone)]
pub struct UserModel {
    pub credential: Arc<Credential>,
    pub owner: Owner,
    pub policy: Option<String>,
}

/// The writer's model: what the database holds, secrets unsealed, policies compiled.
#[derive(Debug)]
pub struct Model {
    root: Arc<Credential>,
    pub users: BTreeMap<String, UserModel>,
    pub policies: BTreeMap<String, Arc<StoredPolicy>>,
    predefined: Vec<(String, Arc<StoredPolicy>)>,
    /// STS credentials and service accounts by access key.
    pub derived: BTreeMap<String, Arc<Credential>>,
}

impl Model {
    pub fn load(
        conn: &Connection,
        sealer: &Sealer,
        tokens: &TokenSigner,
        root_access_key: &str,
        root_secret: SecretKey,
    ) -> anyhow::Result<Model> {
        let root = Arc::new(Credential {
            secret: root_secret,
            principal: Principal {
                access_key: root_access_key.to_owned(),
                kind: PrincipalKind::Root,
                username: root_access_key.to_owned(),
                owner: Owner::ROOT,
                own_policy: None,
                expires: None,
                session_token: None,
            },
        });
        let predefined = keygate_policy::predefined::NAMES
            .iter()
            .map(|n| {
                let doc = keygate_policy::predefined::by_name(n)
                    .expect("listed pre-defined policy exists");
                (n.to_string(), Arc::new(StoredPolicy::new(doc.clone())))
            })
            .collect();
        let mut model = Model {
            root,
            users: BTreeMap::new(),
            policies: BTreeMap::new(),
            predefined,
            derived: BTreeMap::new(),
        };
        for (name, document) in db::policies(conn)? {
            let parsed = PolicyDocument::parse(&document)
                .map_err(|e| anyhow::anyhow!("stored policy {name} no longer parses: {e}"))?;
            model
                .policies
                .insert(name, Arc::new(StoredPolicy::new(parsed)));
        }
        for row in db::users(conn)? {
            let secret = sealer
                .open(&row.name, &row.secret)
                .and_then(|s| String::from_utf8(s).ok())
                .with_context(|| format!("cannot unseal the secret of user {}", row.name))?;
            model.put_user(
                &row.name,
                secret.into(),
                Owner {
                    uid: row.posix_uid,
                    gid: row.posix_gid,
                },
                row.policy,
            );
        }
        for row in db::derived(conn)? {
            let secret = sealer
                .open(&row.access_key, &row.secret)
                .and_then(|s| String::from_utf8(s).ok())
                .with_context(|| format!("cannot unseal the secret of {}", row.access_key))?;
            let own_policy = match &row.policy {
                Some(doc) => Some(Arc::new(StoredPolicy::new(
                    PolicyDocument::parse(doc).map_err(|e| {
                        anyhow::anyhow!("stored policy of {} no longer parses: {e}", row.access_key)
                    })?,
                ))),
                None => None,
            };
            let token = row.expires.map(|e| tokens.issue(&row.access_key, e));
            model.put_derived(
                &row.access_key,
                secret.into(),
                &row.parent,
                own_policy,
                row.expires,
                token,
            );
        }
        Ok(model)
    }

    /// Adds an STS credential (`expires` and `token` set) or a service account.
    pub fn put_derived(
        &mut self,
        access_key: &str,
        secret: SecretKey,
        parent: &str,
        own_policy: Option<Arc<StoredPolicy>>,
        expires: Option<i64>,
        session_token: Option<String>,
    ) {
        let kind = if expires.is_some() {
            PrincipalKind::Sts
        } else {
            PrincipalKind::ServiceAccount
        };
        let credential = Arc::new(Credential {
            secret,
            principal: Principal {
                access_key: access_key.to_owned(),
                kind,
                username: parent.to_owned(),
                owner: Owner::default(),
                own_policy,
                expires,
                session_token,
            },
        });
        self.derived.insert(access_key.to_owned(), credential);
    }

    /// Derived credentials of `parent` of one kind.
    pub fn derived_of(
        &self,
        parent: &str,
        kind: PrincipalKind,
    ) -> impl Iterator<Item = &Arc<Credential>> {
        let parent = parent.to_owned();
        self.derived
            .values()
            .filter(move |c| c.principal.kind == kind && c.principal.username == parent)
    }

    pub fn put_user(
        &mut self,
        name: &str,
        secret: SecretKey,
        owner: Owner,
        policy: Option<String>,
    ) {
        let credential = Arc::new(Credential {
            secret,
            principal: Principal {
                access_key: name.to_owned(),
                kind: PrincipalKind::User,
                username: name.to_owned(),
                owner,
                own_policy: None,
                expires: None,
                session_token: None,
            },
        });
        self.users.insert(
            name.to_owned(),
            UserModel {
                credential,
                owner,
                policy,
            },
        );
    }

    /// Removes a user and every credential derived from it (U5).
    pub fn remove_user(&mut self, name: &str) {
        self.users.remove(name);
        self.derived.retain(|_, c| c.principal.username != name);
    }

    /// A copy of user `name`'s entry, or 404 `NoSuchEntity`.
    pub fn user(&self, name: &str) -> super::IamResult<UserModel> {
        self.users
            .get(name)
            .cloned()
            .ok_or_else(|| super::no_such_user(name))
    }

    pub fn user_info(&self, name: &str) -> Option<UserInfo> {
        self.users.get(name).map(|u| UserInfo {
            name: name.to_owned(),
            posix_uid: u.owner.uid,
            posix_gid: u.owner.gid,
            policy: u.policy.clone(),
        })
    }

    fn policy(&self, name: &str) -> Option<&Arc<StoredPolicy>> {
        self.predefined
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
            .or_else(|| self.policies.get(name))
    }

    /// Builds the immutable view the hot path reads.
    pub fn snapshot(&self) -> Snapshot {
        let mut keys = SnapshotMap::with_capacity_and_hasher(
            self.users.len() + self.derived.len() + 1,
            Default::default(),
        );
        let mut users = SnapshotMap::with_capacity_and_hasher(self.users.len(), Default::default());
        for (name, user) in &self.users {
            let policy = user.policy.as_deref().and_then(|p| self.policy(p)).cloned();
            users.insert(name.clone(), (policy, user.owner));
        }
        let entry = |credential: &Arc<Credential>| {
            let principal = &credential.principal;
            let user = users.get(&principal.username);
            Arc::new(KeyEntry {
                credential: credential.clone(),
                policy: match principal.kind {
                    PrincipalKind::Root => None,
                    _ => user.and_then(|(p, _)| p.clone()),
                },
                owner: match principal.kind {
                    PrincipalKind::Root | PrincipalKind::User => principal.owner,
                    // A parent always exists (U5 deletes its keys with it); were it missing,
                    // its keys would write as nobody, not as root.
                    PrincipalKind::Sts | PrincipalKind::ServiceAccount => {
                        user.map_or(Owner::NOBODY, |(_, o)| *o)
                    }
                },
            })
        };
        keys.insert(self.root.principal.access_key.clone(), entry(&self.root));
        for (name, user) in &self.users {
            keys.insert(name.clone(), entry(&user.credential));
        }
        for (key, credential) in &self.derived {
            keys.insert(key.clone(), entry(credential));
        }
        Snapshot { keys, users }
    }
}

/// A key the snapshot accepts, with the policy of its user (the parent's, for STS credentials
/// and service accounts) in that snapshot: one look-up finds both (S7: still read at every
/// request, from the snapshot the request is authenticated with). Shared, as one `Arc`, by the
/// snapshot and every request authenticated with it: a request takes one reference count,
/// not one for the credential and one for the policy.
#[derive(Debug)]
pub struct KeyEntry {
    pub credential: Arc<Credential>,
    pub policy: Option<Arc<StoredPolicy>>,
    /// Who owns the files this key writes (X1, X2: the parent's uid/gid for STS credentials
    /// and service accounts), as of this snapshot. A request keeps the owner it was
    /// authenticated with, so a write in flight when its user changes uid or is deleted
    /// finishes as that user (X3, U5).
    pub owner: Owner,
}

/// The snapshot's maps, looked up on every request: foldhash (seeded at random per process)
/// instead of SipHash, a third of the lookup's cost. The keys are server-issued access keys
/// and admin-chosen user names; a request's access key is only ever looked up, so it cannot
/// lengthen a chain.
type SnapshotMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// An immutable view of every key the server accepts and every user's policy.
#[derive(Debug, Default)]
pub struct Snapshot {
    keys: SnapshotMap<Arc<KeyEntry>>,
    /// Every user's attached policy and uid/gid, for derived credentials to read live.
    users: SnapshotMap<(Option<Arc<StoredPolicy>>, Owner)>,
}

impl Snapshot {
    pub fn credential(&self, access_key: &str) -> Option<&Arc<Credential>> {
        self.key(access_key).map(|k| &k.credential)
    }

    /// The key `access_key` with its user's policy.
    pub fn key(&self, access_key: &str) -> Option<&Arc<KeyEntry>> {
        self.keys.get(access_key)
    }

    /// The policy attached to `user`, read live (S7).
    pub fn user_policy(&self, user: &str) -> Option<&StoredPolicy> {
        self.users.get(user).and_then(|(p, _)| p.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key's entry carries exactly the policy its user holds in the same snapshot, as
    /// users gain, change and lose policies: the very policy the snapshot holds for the user,
    /// and the one the test attached (compared by its parsed document).
    #[test]
    fn s7_a_key_entry_holds_its_users_policy_in_that_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::state::for_tests(dir.path());
        let ids = &state.identities;
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        ids.put_policy("custom", doc, 0).unwrap();
        for user in ["alice", "bob"] {
            ids.add_user(user, "Password1", 0, 0, 0).unwrap();
        }
        let parsed = |name: &str| {
            let text = ids.policy(name).unwrap();
            format!("{:?}", PolicyDocument::parse(&text).unwrap())
        };
        // (key, the policy attached to its user)
        let check = |expected: &[(&str, Option<&str>)]| {
            let snapshot = ids.snapshot();
            for &(key, policy) in expected {
                let entry = snapshot.key(key).unwrap();
                let p = &entry.credential.principal;
                let of_user = match p.kind {
                    PrincipalKind::Root => None,
                    _ => snapshot.user_policy(&p.username),
                };
                assert_eq!(
                    entry.policy.as_deref().map(std::ptr::from_ref),
                    of_user.map(std::ptr::from_ref),
                    "{key}"
                );
                assert_eq!(
                    entry.policy.as_deref().map(|s| format!("{:?}", s.document)),
                    policy.map(parsed),
                    "{key}"
                );
            }
        };
        check(&[("testroot", None), ("alice", None), ("bob", None)]);
        ids.attach("readwrite", "alice").unwrap();
        let sts = ids.assume_role("alice", 900, None, 0).unwrap().access_key;
        let sa = ids
            .add_service_account("alice", None, 0)
            .unwrap()
            .access_key;
        let alice_keys = ["alice", sts.as_str(), sa.as_str()];
        let with = |alice: Option<&'static str>, bob: Option<&'static str>| {
            let mut v: Vec<(&str, Option<&str>)> = alice_keys.iter().map(|k| (*k, alice)).collect();
            v.extend([("bob", bob), ("testroot", None)]);
            v
        };
        check(&with(Some("readwrite"), None));
        ids.attach("custom", "alice").unwrap();
        ids.attach("readonly", "bob").unwrap();
        check(&with(Some("custom"), Some("readonly")));
        ids.put_policy("custom", doc, 1).unwrap();
        check(&with(Some("custom"), Some("readonly")));
        ids.detach("alice").unwrap();
        check(&with(None, Some("readonly")));
    }
}
