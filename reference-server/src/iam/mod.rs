//! Identities: who a key belongs to and what it may do.
//!
//! The hot path reads an immutable [`Snapshot`] through an atomic pointer swap: no lock is
//! held and no database is read per request. Every committed change builds a new snapshot
//! and swaps it in, so the next request sees it (SPEC P6, S7, U5).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use keygate_sigv4::SecretKey;

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

/// An immutable view of every key the server accepts.
#[derive(Debug, Default)]
pub struct Snapshot {
    keys: HashMap<String, Arc<Credential>>,
}

impl Snapshot {
    pub fn credential(&self, access_key: &str) -> Option<&Arc<Credential>> {
        self.keys.get(access_key)
    }
}

/// The identity service: owns the current snapshot.
#[derive(Debug)]
pub struct Identities {
    current: ArcSwap<Snapshot>,
    root_access_key: String,
}

impl Identities {
    pub fn new(root_access_key: &str, root_secret: SecretKey) -> Identities {
        let root = Credential {
            secret: root_secret,
            principal: Principal {
                access_key: root_access_key.to_owned(),
                kind: PrincipalKind::Root,
                username: root_access_key.to_owned(),
                owner: Owner::ROOT,
            },
        };
        let mut keys = HashMap::new();
        keys.insert(root_access_key.to_owned(), Arc::new(root));
        Identities {
            current: ArcSwap::from_pointee(Snapshot { keys }),
            root_access_key: root_access_key.to_owned(),
        }
    }

    /// The snapshot to use for one request.
    pub fn snapshot(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    pub fn root_access_key(&self) -> &str {
        &self.root_access_key
    }
}
