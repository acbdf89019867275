//! Identities: who a key belongs to and what it may do.
//!
//! The hot path reads an immutable [`Snapshot`] through an atomic pointer swap: no lock is
//! held and no database is read per request. Changes go through [`Identities`]' writer: one
//! SQLite transaction each, committed before the in-memory model is updated and a new
//! snapshot is swapped in, so the server never serves a state that was not committed and the
//! next request sees the change (SPEC P6, S7, U5).

mod db;
mod derived;
pub use derived::Parent;
pub mod error;
mod model;
mod seal;
mod token;
mod validate;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use keygate_sigv4::SecretKey;
use rusqlite::{params, Connection};
use serde::Serialize;

pub use error::{IamCode, IamError, IamResult};
use model::Model;
pub use model::{Credential, KeyEntry, Principal, PrincipalKind, Snapshot, StoredPolicy};
pub use seal::Sealer;
pub use token::{TokenClaims, TokenSigner};

use crate::store::Owner;

/// Identity limits. The defaults are WEKA's and the contract's (SPEC U7, P2, A4, S8); a
/// server may be started with smaller ones (tests reach a limit in milliseconds that way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub users: usize,
    pub custom_policies: usize,
    pub service_accounts_per_user: usize,
    pub service_accounts: usize,
    pub live_sts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            users: 1024,
            custom_policies: 1024,
            service_accounts_per_user: 100,
            service_accounts: 5000,
            live_sts: 5000,
        }
    }
}

/// AssumeRole durations (S3).
pub const MIN_STS_SECONDS: i64 = 900;
pub const MAX_STS_SECONDS: i64 = 604_800;

/// Temporary or child credentials as issued (the secret is shown only here, A2; `Debug`
/// redacts it and the token).
#[derive(Clone, Serialize)]
pub struct IssuedCredentials {
    pub access_key: String,
    pub secret_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// Unix seconds (STS only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    pub parent: String,
    pub policy: Option<String>,
}

impl std::fmt::Debug for IssuedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCredentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("session_token", &model::redacted(&self.session_token))
            .field("expires", &self.expires)
            .field("parent", &self.parent)
            .field("policy", &self.policy)
            .finish()
    }
}

/// A service account as listed (never its secret).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServiceAccountInfo {
    pub access_key: String,
    pub parent: String,
    pub policy: Option<String>,
}

/// A random string of `len` characters from `alphabet`.
pub(crate) fn random_string(len: usize, alphabet: &[u8]) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

pub(crate) const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub(crate) const SECRET_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A user as the admin API shows it (never its secret).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub posix_uid: u32,
    pub posix_gid: u32,
    pub policy: Option<String>,
}

/// Changes to a user; `None` leaves a field alone. `Debug` redacts the password.
#[derive(Default, Clone)]
pub struct UserUpdate {
    pub password: Option<String>,
    pub posix_uid: Option<u32>,
    pub posix_gid: Option<u32>,
}

impl std::fmt::Debug for UserUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserUpdate")
            .field("password", &model::redacted(&self.password))
            .field("posix_uid", &self.posix_uid)
            .field("posix_gid", &self.posix_gid)
            .finish()
    }
}

struct Writer {
    conn: Connection,
    model: Model,
}

/// The identity service: owns the database and the current snapshot.
pub struct Identities {
    current: ArcSwap<Snapshot>,
    writer: Mutex<Writer>,
    sealer: Sealer,
    tokens: TokenSigner,
    limits: Limits,
    root_access_key: String,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities")
            .field("root_access_key", &self.root_access_key)
            .finish_non_exhaustive()
    }
}

impl Identities {
    /// Opens the database at `path` (creating it), checks the sealing key, loads everything.
    /// `key_material` (the root secret or a key file's bytes) yields the sealing key and the
    /// session-token key; neither is stored in the database.
    pub fn open(
        path: &Path,
        root_access_key: &str,
        root_secret: SecretKey,
        key_material: &[u8],
        limits: Limits,
    ) -> anyhow::Result<Identities> {
        let sealer = Sealer::derive(key_material);
        let tokens = TokenSigner::derive(key_material);
        let mut conn = db::open(path)?;
        match db::meta_get(&conn, "key_check")? {
            Some(check) if !sealer.verify_key_check(&check) => anyhow::bail!(
                "the identity database {} was sealed with another key: start with the root secret (or --kms-key-file) it was created with",
                path.display()
            ),
            Some(_) => {}
            None => {
                let tx = conn.transaction()?;
                db::meta_put(&tx, "key_check", &sealer.key_check())?;
                tx.commit()?;
            }
        }
        let model = Model::load(&conn, &sealer, &tokens, root_access_key, root_secret)?;
        // The admin's access key must be its own: a user or a generated key of that name
        // would shadow it, and the admin API would refuse the admin (U8, the other way round).
        if model.users.contains_key(root_access_key) || model.derived.contains_key(root_access_key)
        {
            anyhow::bail!(
                "the root access key {root_access_key:?} is the name of an existing S3 user (or a generated key) in {}: start with another root access key, or with the one the data directory was used with",
                path.display()
            );
        }
        let snapshot = model.snapshot();
        Ok(Identities {
            current: ArcSwap::from_pointee(snapshot),
            writer: Mutex::new(Writer { conn, model }),
            sealer,
            tokens,
            limits,
            root_access_key: root_access_key.to_owned(),
        })
    }

    /// The snapshot to use for one request.
    pub fn snapshot(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    pub fn root_access_key(&self) -> &str {
        &self.root_access_key
    }

    /// Checks a session token; `None` if this server did not issue it.
    pub fn verify_token(&self, token: &str) -> Option<TokenClaims> {
        self.tokens.verify(token)
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&self, w: &Writer) {
        self.current.store(Arc::new(w.model.snapshot()));
    }

    // ---- users ---------------------------------------------------------------------------

    pub fn add_user(
        &self,
        name: &str,
        password: &str,
        uid: u32,
        gid: u32,
        now: i64,
    ) -> IamResult<UserInfo> {
        validate::user_name(name)?;
        validate::password(password)?;
        validate::posix_id("posix_uid", uid)?;
        validate::posix_id("posix_gid", gid)?;
        if name == self.root_access_key {
            return Err(IamError::new(
                IamCode::InvalidArgument,
                "The admin's access key cannot be used as a user name.",
            ));
        }
        let mut w = self.writer();
        // A user's name is its access key (U1): it must not shadow, or be shadowed by, the
        // generated key of a live STS credential or service account.
        if w.model.users.contains_key(name) || w.model.derived.contains_key(name) {
            return Err(IamError::new(
                IamCode::EntityAlreadyExists,
                format!("User {name} already exists."),
            ));
        }
        if w.model.users.len() >= self.limits.users {
            return Err(IamError::new(
                IamCode::LimitExceeded,
                format!("At most {} S3 users are allowed.", self.limits.users),
            ));
        }
        let sealed = self.sealer.seal(name, password.as_bytes());
        w.conn.execute(
            "INSERT INTO users (name, secret, posix_uid, posix_gid, policy, created) VALUES (?1, ?2, ?3, ?4, NULL, ?5)",
            params![name, sealed, uid, gid, now],
        )?;
        w.model
            .put_user(name, password.to_owned().into(), Owner { uid, gid }, None);
        self.publish(&w);
        Ok(w.model.user_info(name).expect("just inserted"))
    }

    pub fn list_users(&self) -> Vec<UserInfo> {
        let w = self.writer();
        w.model
            .users
            .keys()
            .filter_map(|n| w.model.user_info(n))
            .collect()
    }

    pub fn user(&self, name: &str) -> IamResult<UserInfo> {
        self.writer()
            .model
            .user_info(name)
            .ok_or_else(|| no_such_user(name))
    }

    pub fn update_user(&self, name: &str, update: &UserUpdate) -> IamResult<UserInfo> {
        if let Some(pw) = &update.password {
            validate::password(pw)?;
        }
        if let Some(uid) = update.posix_uid {
            validate::posix_id("posix_uid", uid)?;
        }
        if let Some(gid) = update.posix_gid {
            validate::posix_id("posix_gid", gid)?;
        }
        let mut w = self.writer();
        let current = w.model.user(name)?;
        let owner = Owner {
            uid: update.posix_uid.unwrap_or(current.owner.uid),
            gid: update.posix_gid.unwrap_or(current.owner.gid),
        };
        let tx = w.conn.transaction()?;
        tx.execute(
            "UPDATE users SET posix_uid = ?2, posix_gid = ?3 WHERE name = ?1",
            params![name, owner.uid, owner.gid],
        )?;
        if let Some(pw) = &update.password {
            tx.execute(
                "UPDATE users SET secret = ?2 WHERE name = ?1",
                params![name, self.sealer.seal(name, pw.as_bytes())],
            )?;
        }
        tx.commit()?;
        let secret = match &update.password {
            Some(pw) => SecretKey::from(pw.clone()),
            None => current.credential.secret.clone(),
        };
        w.model
            .put_user(name, secret, owner, current.policy.clone());
        self.publish(&w);
        Ok(w.model.user_info(name).expect("just updated"))
    }

    /// Deletes a user and, in the same transaction, its STS credentials and service
    /// accounts (U5). The admin's keys are not a user and cannot be deleted here (U8).
    pub fn delete_user(&self, name: &str) -> IamResult<()> {
        if name == self.root_access_key {
            return Err(IamError::new(
                IamCode::InvalidArgument,
                "The admin cannot delete itself (U8).",
            ));
        }
        let mut w = self.writer();
        if !w.model.users.contains_key(name) {
            return Err(no_such_user(name));
        }
        let tx = w.conn.transaction()?;
        tx.execute("DELETE FROM sts_credentials WHERE parent = ?1", [name])?;
        tx.execute("DELETE FROM service_accounts WHERE parent = ?1", [name])?;
        tx.execute("DELETE FROM users WHERE name = ?1", [name])?;
        tx.commit()?;
        w.model.remove_user(name);
        self.publish(&w);
        Ok(())
    }

    // ---- policies ------------------------------------------------------------------------

    /// Every policy: (name, pre-defined), pre-defined first.
    pub fn list_policies(&self) -> Vec<(String, bool)> {
        let w = self.writer();
        let mut out: Vec<(String, bool)> = keygate_policy::predefined::NAMES
            .iter()
            .map(|n| (n.to_string(), true))
            .collect();
        out.extend(w.model.policies.keys().map(|n| (n.clone(), false)));
        out
    }

    /// A policy's document as submitted.
    pub fn policy(&self, name: &str) -> IamResult<String> {
        if let Some(doc) = keygate_policy::predefined::by_name(name) {
            return Ok(doc.source().to_owned());
        }
        let w = self.writer();
        w.model
            .policies
            .get(name)
            .map(|p| p.document.source().to_owned())
            .ok_or_else(|| no_such_policy(name))
    }

    /// Adds a custom policy, or replaces its document (P2, P3, P6).
    pub fn put_policy(&self, name: &str, document: &str, now: i64) -> IamResult<()> {
        if keygate_policy::predefined::is_predefined(name) {
            return Err(IamError::new(
                IamCode::InvalidArgument,
                format!("The pre-defined policy {name} cannot be overwritten."),
            ));
        }
        validate::policy_name(name)?;
        let parsed = validate::policy_document(document)?;
        let mut w = self.writer();
        if !w.model.policies.contains_key(name)
            && w.model.policies.len() >= self.limits.custom_policies
        {
            return Err(IamError::new(
                IamCode::LimitExceeded,
                format!(
                    "At most {} custom policies are allowed.",
                    self.limits.custom_policies
                ),
            ));
        }
        w.conn.execute(
            "INSERT INTO policies (name, document, created) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET document = excluded.document",
            params![name, document, now],
        )?;
        w.model
            .policies
            .insert(name.to_owned(), Arc::new(StoredPolicy::new(parsed)));
        self.publish(&w);
        Ok(())
    }

    /// Removes a custom policy that no user holds (P1, P5).
    pub fn remove_policy(&self, name: &str) -> IamResult<()> {
        if keygate_policy::predefined::is_predefined(name) {
            return Err(IamError::new(
                IamCode::InvalidArgument,
                format!("The pre-defined policy {name} cannot be removed."),
            ));
        }
        let mut w = self.writer();
        if !w.model.policies.contains_key(name) {
            return Err(no_such_policy(name));
        }
        if let Some(user) = w
            .model
            .users
            .values()
            .find(|u| u.policy.as_deref() == Some(name))
        {
            return Err(IamError::new(
                IamCode::PolicyInUse,
                format!(
                    "The policy cannot be removed, as it is in use (attached to {}).",
                    user.credential.principal.username
                ),
            ));
        }
        w.conn
            .execute("DELETE FROM policies WHERE name = ?1", [name])?;
        w.model.policies.remove(name);
        self.publish(&w);
        Ok(())
    }

    /// Attaches `policy` to `user`, replacing any policy it had (P4).
    pub fn attach(&self, policy: &str, user: &str) -> IamResult<UserInfo> {
        let mut w = self.writer();
        let known = keygate_policy::predefined::is_predefined(policy)
            || w.model.policies.contains_key(policy);
        if !known {
            return Err(no_such_policy(policy));
        }
        let current = w.model.user(user)?;
        w.conn.execute(
            "UPDATE users SET policy = ?2 WHERE name = ?1",
            params![user, policy],
        )?;
        w.model.put_user(
            user,
            current.credential.secret.clone(),
            current.owner,
            Some(policy.to_owned()),
        );
        self.publish(&w);
        Ok(w.model.user_info(user).expect("exists"))
    }

    /// Detaches the user's policy; 404 `NoSuchEntity` when it has none (P4).
    pub fn detach(&self, user: &str) -> IamResult<UserInfo> {
        let mut w = self.writer();
        let current = w.model.user(user)?;
        if current.policy.is_none() {
            return Err(IamError::new(
                IamCode::NoSuchEntity,
                format!("User {user} has no policy attached."),
            ));
        }
        w.conn
            .execute("UPDATE users SET policy = NULL WHERE name = ?1", [user])?;
        w.model
            .put_user(user, current.credential.secret.clone(), current.owner, None);
        self.publish(&w);
        Ok(w.model.user_info(user).expect("exists"))
    }
}

fn no_such_user(name: &str) -> IamError {
    IamError::new(
        IamCode::NoSuchEntity,
        format!("User {name} does not exist."),
    )
}

fn no_such_policy(name: &str) -> IamError {
    IamError::new(
        IamCode::NoSuchEntity,
        format!("Policy {name} does not exist."),
    )
}
