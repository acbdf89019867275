//! STS credentials and service accounts: issued, listed, removed, purged (SPEC S*, A*).
//!
//! Limits are checked under the writer lock, in the same critical section as the insert's
//! transaction, so concurrent creates at a boundary never exceed it (A4, S8).

use std::sync::Arc;

use rusqlite::params;

use super::error::{IamCode, IamError, IamResult};
use super::model::{Model, PrincipalKind, StoredPolicy};
use super::{
    random_string, validate, Identities, IssuedCredentials, ServiceAccountInfo, KEY_ALPHABET,
    SECRET_ALPHABET,
};
use keygate_sigv4::SecretKey;

/// A session or embedded policy, validated like any policy (S4, A3).
fn narrowing_policy(doc: Option<&str>) -> IamResult<Option<Arc<StoredPolicy>>> {
    doc.map(|d| validate::policy_document(d).map(|p| Arc::new(StoredPolicy::new(p))))
        .transpose()
}

/// A fresh key pair whose access key is no user's name and no other credential's key.
fn new_keys(taken: impl Fn(&str) -> bool) -> (String, String) {
    loop {
        let key = random_string(20, KEY_ALPHABET);
        if !taken(&key) {
            return (key, random_string(40, SECRET_ALPHABET));
        }
    }
}

fn no_such_account(key: &str) -> IamError {
    IamError::new(
        IamCode::NoSuchServiceAccount,
        format!("The service account {key} does not exist."),
    )
}

/// Who asks for derived credentials: a user by name (provisioning), or the user whose secret
/// a request was signed with ([`Identities::assume_role_as`]).
#[derive(Clone, Copy, Debug)]
pub enum Parent<'a> {
    Named(&'a str),
    /// The user and the secret its request's signature was checked with. Between that check
    /// and the writer lock the user may have been deleted and another created with its name
    /// (U5: nothing of the old user may live on, nor be issued to the new one); its secret
    /// tells them apart.
    SignedBy(&'a str, &'a SecretKey),
}

impl Parent<'_> {
    fn name(&self) -> &str {
        match self {
            Parent::Named(n) | Parent::SignedBy(n, _) => n,
        }
    }

    /// Why it is refused when it is not in the model: `otherwise` for a name that is no user.
    fn refused(&self, otherwise: &'static str) -> IamError {
        let message = match self {
            Parent::Named(_) => otherwise,
            Parent::SignedBy(..) => {
                "The user that signed this request was deleted or its password changed meanwhile."
            }
        };
        IamError::new(IamCode::AccessDenied, message)
    }

    /// Whether the model's user of that name is this parent.
    fn is_in(&self, model: &Model) -> bool {
        let Some(user) = model.users.get(self.name()) else {
            return false;
        };
        match self {
            Parent::Named(_) => true,
            Parent::SignedBy(_, secret) => keygate_sigv4::ct_eq_bytes(
                user.credential.secret.expose().as_bytes(),
                secret.expose().as_bytes(),
            ),
        }
    }
}

impl Identities {
    /// Issues STS credentials for `parent` valid until `now + seconds`, narrowed by an
    /// already validated session policy (S1–S4, S8).
    pub fn assume_role(
        &self,
        parent: &str,
        seconds: i64,
        session_policy: Option<&str>,
        now: i64,
    ) -> IamResult<IssuedCredentials> {
        self.assume_role_as(Parent::Named(parent), seconds, session_policy, now)
    }

    /// [`Identities::assume_role`] for a request: refused when `parent` is no longer the
    /// user that signed it.
    pub fn assume_role_as(
        &self,
        parent: Parent<'_>,
        seconds: i64,
        session_policy: Option<&str>,
        now: i64,
    ) -> IamResult<IssuedCredentials> {
        let own = narrowing_policy(session_policy)?;
        let mut w = self.writer();
        if !parent.is_in(&w.model) {
            return Err(parent.refused("Only S3 users may assume a role."));
        }
        let parent = parent.name();
        let live = w
            .model
            .derived
            .values()
            .filter(|c| c.principal.expires.is_some_and(|e| e > now))
            .count();
        if live >= self.limits.live_sts {
            return Err(IamError::new(
                IamCode::LimitExceeded,
                format!(
                    "At most {} live STS credentials are allowed.",
                    self.limits.live_sts
                ),
            ));
        }
        let (access_key, secret) =
            new_keys(|k| w.model.users.contains_key(k) || w.model.derived.contains_key(k));
        let expires = now + seconds;
        let token = self.tokens.issue(&access_key, expires);
        w.conn.execute(
            "INSERT INTO sts_credentials (access_key, secret, parent, session_policy, expires, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![access_key, self.sealer.seal(&access_key, secret.as_bytes()), parent, session_policy, expires, now],
        )?;
        w.model.put_derived(
            &access_key,
            secret.clone().into(),
            parent,
            own,
            Some(expires),
            Some(token.clone()),
        );
        self.publish(&w);
        Ok(IssuedCredentials {
            access_key,
            secret_key: secret,
            session_token: Some(token),
            expires: Some(expires),
            parent: parent.to_owned(),
            policy: session_policy.map(str::to_owned),
        })
    }

    /// Removes STS credentials that expired before `now`; returns how many.
    pub fn purge_expired(&self, now: i64) -> IamResult<usize> {
        let mut w = self.writer();
        let expired: Vec<String> = w
            .model
            .derived
            .iter()
            .filter(|(_, c)| c.principal.expires.is_some_and(|e| e <= now))
            .map(|(k, _)| k.clone())
            .collect();
        if expired.is_empty() {
            return Ok(0);
        }
        w.conn
            .execute("DELETE FROM sts_credentials WHERE expires <= ?1", [now])?;
        for key in &expired {
            w.model.derived.remove(key);
        }
        self.publish(&w);
        Ok(expired.len())
    }

    /// Creates a service account for `parent` (A1–A4).
    pub fn add_service_account(
        &self,
        parent: &str,
        policy: Option<&str>,
        now: i64,
    ) -> IamResult<IssuedCredentials> {
        self.add_service_account_as(Parent::Named(parent), policy, now)
    }

    /// [`Identities::add_service_account`] for a request: refused when `parent` is no longer
    /// the user that signed it.
    pub fn add_service_account_as(
        &self,
        parent: Parent<'_>,
        policy: Option<&str>,
        now: i64,
    ) -> IamResult<IssuedCredentials> {
        let own = narrowing_policy(policy)?;
        let mut w = self.writer();
        if !parent.is_in(&w.model) {
            return Err(parent.refused("Only S3 users may have service accounts."));
        }
        let parent = parent.name();
        if w.model
            .derived_of(parent, PrincipalKind::ServiceAccount)
            .count()
            >= self.limits.service_accounts_per_user
        {
            return Err(IamError::new(
                IamCode::LimitExceeded,
                format!(
                    "A user may have at most {} service accounts.",
                    self.limits.service_accounts_per_user
                ),
            ));
        }
        let total = w
            .model
            .derived
            .values()
            .filter(|c| c.principal.kind == PrincipalKind::ServiceAccount)
            .count();
        if total >= self.limits.service_accounts {
            return Err(IamError::new(
                IamCode::LimitExceeded,
                format!(
                    "At most {} service accounts are allowed.",
                    self.limits.service_accounts
                ),
            ));
        }
        let (access_key, secret) =
            new_keys(|k| w.model.users.contains_key(k) || w.model.derived.contains_key(k));
        w.conn.execute(
            "INSERT INTO service_accounts (access_key, secret, parent, policy, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![access_key, self.sealer.seal(&access_key, secret.as_bytes()), parent, policy, now],
        )?;
        w.model
            .put_derived(&access_key, secret.clone().into(), parent, own, None, None);
        self.publish(&w);
        Ok(IssuedCredentials {
            access_key,
            secret_key: secret,
            session_token: None,
            expires: None,
            parent: parent.to_owned(),
            policy: policy.map(str::to_owned),
        })
    }

    /// The caller's own service accounts (A5).
    pub fn list_service_accounts(&self, parent: &str) -> Vec<ServiceAccountInfo> {
        let w = self.writer();
        w.model
            .derived_of(parent, PrincipalKind::ServiceAccount)
            .map(|c| ServiceAccountInfo {
                access_key: c.principal.access_key.clone(),
                parent: parent.to_owned(),
                policy: c
                    .principal
                    .own_policy
                    .as_ref()
                    .map(|p| p.document.source().to_owned()),
            })
            .collect()
    }

    /// One of the caller's service accounts; another user's is as missing (A5).
    pub fn service_account(&self, parent: &str, key: &str) -> IamResult<ServiceAccountInfo> {
        self.list_service_accounts(parent)
            .into_iter()
            .find(|a| a.access_key == key)
            .ok_or_else(|| no_such_account(key))
    }

    pub fn delete_service_account(&self, parent: &str, key: &str) -> IamResult<()> {
        let mut w = self.writer();
        let owned = w.model.derived.get(key).is_some_and(|c| {
            c.principal.kind == PrincipalKind::ServiceAccount && c.principal.username == parent
        });
        if !owned {
            return Err(no_such_account(key));
        }
        w.conn
            .execute("DELETE FROM service_accounts WHERE access_key = ?1", [key])?;
        w.model.derived.remove(key);
        self.publish(&w);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// U5: a request signed by a user that was deleted, and another created under its name
    /// before the request reached the writer, gets nothing: neither STS credentials nor a
    /// service account, which would otherwise live on as the new user's.
    #[test]
    fn u5_derived_credentials_go_only_to_the_user_that_signed() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::state::for_tests(dir.path());
        let ids = &state.identities;
        ids.add_user("alice", "Old-password1", 0, 0, 0).unwrap();
        ids.attach("readwrite", "alice").unwrap();
        let signed_by = ids.snapshot().key("alice").unwrap().credential.clone();
        let parent = Parent::SignedBy("alice", &signed_by.secret);
        ids.assume_role_as(parent, 900, None, 0).unwrap();
        ids.delete_user("alice").unwrap();
        ids.add_user("alice", "New-password2", 0, 0, 0).unwrap();
        ids.attach("readwrite", "alice").unwrap();
        let refused = ids.assume_role_as(parent, 900, None, 0).unwrap_err();
        assert_eq!(refused.code, IamCode::AccessDenied);
        let refused = ids.add_service_account_as(parent, None, 0).unwrap_err();
        assert_eq!(refused.code, IamCode::AccessDenied);
        assert!(ids.list_service_accounts("alice").is_empty());
        // The new user, signing with its own secret, is served.
        let now = ids.snapshot().key("alice").unwrap().credential.clone();
        let parent = Parent::SignedBy("alice", &now.secret);
        ids.assume_role_as(parent, 900, None, 0).unwrap();
        ids.add_service_account_as(parent, None, 0).unwrap();
    }
}
