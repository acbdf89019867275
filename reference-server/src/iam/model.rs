//! The writer's in-memory mirror of the database, and the immutable snapshots built from it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::Context;
use keygate_policy::{CompiledPolicy, PolicyDocument};
use keygate_sigv4::SecretKey;
use rusqlite::Connection;

use super::db;
use super::seal::Sealer;
use super::UserInfo;
use crate::store::Owner;

/// What kind of identity signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The admin: full S3 access, as MinIO's root.
    Root,
    /// An S3 user (name = access key).
    User,
}

/// An authenticated identity as the rest of the request pipeline sees it.
#[derive(Debug, Clone)]
pub struct Principal {
    pub access_key: String,
    pub kind: PrincipalKind,
    /// The user name policy variables resolve to (the parent's for derived credentials).
    pub username: String,
    /// Owner of the files this principal writes (X1, X2).
    pub owner: Owner,
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
    /// Whether the document names `s3:ExistingObjectTag/…`: only then does authorisation
    /// read the object's tags (the one piece of I/O it may need).
    pub reads_existing_tags: bool,
}

impl StoredPolicy {
    pub fn new(document: PolicyDocument) -> StoredPolicy {
        let compiled = document.compile();
        let reads_existing_tags = document
            .source()
            .to_ascii_lowercase()
            .contains("existingobjecttag");
        StoredPolicy {
            document,
            compiled,
            reads_existing_tags,
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
}

impl Model {
    pub fn load(
        conn: &Connection,
        sealer: &Sealer,
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
        Ok(model)
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

    pub fn remove_user(&mut self, name: &str) {
        self.users.remove(name);
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
        let mut keys = HashMap::with_capacity(self.users.len() + 1);
        let mut user_policies = HashMap::with_capacity(self.users.len());
        keys.insert(self.root.principal.access_key.clone(), self.root.clone());
        for (name, user) in &self.users {
            keys.insert(name.clone(), user.credential.clone());
            let policy = user.policy.as_deref().and_then(|p| self.policy(p)).cloned();
            user_policies.insert(name.clone(), policy);
        }
        Snapshot {
            keys,
            user_policies,
        }
    }
}

/// An immutable view of every key the server accepts and every user's policy.
#[derive(Debug, Default)]
pub struct Snapshot {
    keys: HashMap<String, Arc<Credential>>,
    user_policies: HashMap<String, Option<Arc<StoredPolicy>>>,
}

impl Snapshot {
    pub fn credential(&self, access_key: &str) -> Option<&Arc<Credential>> {
        self.keys.get(access_key)
    }

    /// The policy attached to `user`, read live (S7).
    pub fn user_policy(&self, user: &str) -> Option<&StoredPolicy> {
        self.user_policies.get(user).and_then(|p| p.as_deref())
    }
}
