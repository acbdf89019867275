//! Provisioning a load plan on a target: the bucket and objects (signed PUTs), then policies,
//! users, STS sessions and service accounts through the harness's [`AdminTarget`] (the admin
//! API and `aws-sdk-sts`, as the conformance runner provisions). The null target gets the same
//! identities with made-up keys, so the generator does the same signing work against it.
//!
//! Everything is named after the attack's tag (`load-<tag>`, `lt<tag>-<name>-<i>`, policies
//! `lt<tag>-<name>`), so attacks and the shards of a distributed run never share anything, and
//! each name is written into a [`Created`] ledger *before* it is asked for: whatever becomes
//! of provisioning (an error, an interrupt that drops it mid-request), the ledger holds every
//! bucket, user and policy that may exist, which `teardown` then removes. A name the target
//! refused is taken off again: it was never ours.

use super::plan::{IdentityKind, Plan};
use super::sign::{Signer, ToSign, EMPTY_SHA256};
use crate::scenario::Profile;
use crate::target::admin::AdminTarget;
use crate::target::http::{host_of, HttpClient};
use crate::target::{
    Capabilities, Credentials, NewUser, RoleRequest, SharedClock, Target, TargetError, TargetInfo,
};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::SystemTime;

/// One provisioned identity.
#[derive(Debug, Clone)]
pub struct Ident {
    pub kind: IdentityKind,
    pub creds: Credentials,
    /// STS: the parent user's keys, the session policy and duration, to re-assume.
    pub parent: Option<Credentials>,
    pub session_policy: Option<String>,
    pub duration_seconds: Option<i32>,
    pub refresh: Option<super::plan::Refresh>,
    /// User name (users and the parents of STS / service accounts), for revocation.
    pub user: String,
}

/// What a plan provisioned: the bucket, and each plan identity's copies.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub bucket: String,
    pub identities: HashMap<String, Vec<Ident>>,
}

/// What provisioning may have created on a target, for `teardown`. STS credentials and
/// service accounts are not listed: they go with their user (SPEC: deleting a user revokes
/// them).
#[derive(Debug, Clone, Default)]
pub struct Created {
    pub bucket: Option<String>,
    pub users: Vec<String>,
    pub policies: Vec<String>,
}

impl Created {
    pub fn is_empty(&self) -> bool {
        self.bucket.is_none() && self.users.is_empty() && self.policies.is_empty()
    }
}

/// The admin side of a target spawned here (the reference server, region `us-east-1`).
pub fn admin_target(endpoint: &str, root: &(String, String)) -> anyhow::Result<AdminTarget> {
    Ok(AdminTarget {
        info: TargetInfo {
            kind: "process".into(),
            endpoint: endpoint.to_owned(),
            region: "us-east-1".into(),
            profile: Profile::Reference,
            capabilities: Capabilities {
                clock: false,
                posix: false,
                sts: true,
                service_accounts: true,
            },
        },
        root: Credentials::new(&root.0, &root.1),
        posix_root: None,
        clock: SharedClock::default(),
        http: HttpClient::new()?,
        guard: None,
    })
}

/// Why a signed PUT did not succeed: the target said no, or never answered.
#[derive(Debug)]
enum PutError {
    Refused(String),
    Transport(String),
}

impl std::fmt::Display for PutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PutError::Refused(m) | PutError::Transport(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for PutError {}

/// A signed PUT (bucket or object) with the lean signer, as the target's root.
async fn put(
    target: &AdminTarget,
    signer: &mut Signer,
    path: &str,
    body: Bytes,
) -> Result<(), PutError> {
    let endpoint = &target.info.endpoint;
    let host = host_of(endpoint);
    let hash = if body.is_empty() {
        EMPTY_SHA256.to_owned()
    } else {
        hex::encode(Sha256::digest(&body))
    };
    let s = signer.sign(
        &ToSign {
            method: "PUT",
            path,
            query: "",
            host: &host,
            payload_sha256: &hash,
        },
        SystemTime::now(),
    );
    let req = http::Request::put(format!("{endpoint}{path}"))
        .header("host", &host)
        .header("authorization", s.authorization)
        .header("x-amz-date", s.amz_date)
        .header("x-amz-content-sha256", s.payload_sha256)
        .body(body)
        .map_err(|e| PutError::Transport(format!("PUT {path}: {e}")))?;
    let resp = target
        .http
        .send(req)
        .await
        .map_err(|e| PutError::Transport(format!("PUT {path}: {e}")))?;
    if (200..300).contains(&resp.status) {
        return Ok(());
    }
    let text = resp.text();
    let code = crate::run::outcome::xml_tag(&text, "Code");
    let message = crate::run::outcome::xml_tag(&text, "Message").unwrap_or_default();
    Err(PutError::Refused(match code {
        Some(code) => format!("PUT {path}: {} {code}: {message}", resp.status),
        None => format!("PUT {path}: {}", resp.status),
    }))
}

/// Whether the target answered a provisioning call with a refusal (nothing was created).
fn refused(e: &TargetError) -> bool {
    matches!(e, TargetError::Rejected { .. })
}

/// Provisions `plan` on `target` (`None`: the null target), writing what it creates into
/// `created` as it goes (see the module header).
pub async fn provision(
    plan: &Plan,
    target: Option<&AdminTarget>,
    run_tag: &str,
    created: &mut Created,
) -> anyhow::Result<Provisioned> {
    let bucket = format!("load-{run_tag}");
    let expand = |doc: &str| doc.replace("{{bucket}}", &bucket);
    let policy_doc = |name: &str| {
        plan.policies
            .iter()
            .find(|p| p.name == name)
            .map(|p| expand(&p.document))
    };
    let Some(target) = target else {
        // Null target: same identities, made-up keys.
        let mut identities = HashMap::new();
        for id in &plan.identities {
            let v = (0..id.count)
                .map(|i| Ident {
                    kind: id.kind,
                    creds: Credentials {
                        session_token: (id.kind == IdentityKind::Sts)
                            .then(|| "null-session-token".repeat(20)),
                        ..Credentials::new(format!("{}{i}", id.name), "null-secret")
                    },
                    parent: None,
                    session_policy: None,
                    duration_seconds: id.duration_seconds,
                    refresh: None,
                    user: format!("{}{i}", id.name),
                })
                .collect();
            identities.insert(id.name.clone(), v);
        }
        return Ok(Provisioned { bucket, identities });
    };
    let root = &target.root;
    let mut root_signer = Signer::new(
        &root.access_key,
        &root.secret_key,
        None,
        &target.info.region,
        "s3",
    );
    created.bucket = Some(bucket.clone());
    if let Err(e) = put(
        target,
        &mut root_signer,
        &format!("/{bucket}"),
        Bytes::new(),
    )
    .await
    {
        if let PutError::Refused(_) = e {
            created.bucket = None;
        }
        return Err(e.into());
    }
    for o in &plan.objects {
        let body = Bytes::from(vec![b'x'; o.size]);
        for i in 0..o.count {
            let path = format!("/{bucket}/{}{i}", o.prefix);
            put(target, &mut root_signer, &path, body.clone()).await?;
        }
    }
    // The plan's policies under names of this attack's own.
    let policy_name = |name: &str| {
        if plan.policies.iter().any(|p| p.name == name) {
            format!("lt{run_tag}-{name}")
        } else {
            name.to_owned()
        }
    };
    for p in &plan.policies {
        let name = policy_name(&p.name);
        created.policies.push(name.clone());
        if let Err(e) = target.put_policy(&name, &expand(&p.document)).await {
            if refused(&e) {
                created.policies.pop();
            }
            return Err(anyhow::anyhow!("policy {name}: {e}"));
        }
    }
    let mut identities: HashMap<String, Vec<Ident>> = HashMap::new();
    // Users first: the others need their parents.
    for id in plan
        .identities
        .iter()
        .filter(|i| i.kind == IdentityKind::User)
    {
        let mut v = Vec::new();
        for i in 0..id.count {
            let name = format!("lt{run_tag}-{}-{i}", id.name);
            let password = format!("Load-secret-{run_tag}-{i}-0123456789");
            created.users.push(name.clone());
            let user = NewUser {
                name: name.clone(),
                password: password.clone(),
                uid: Some(2000 + i as u32),
                gid: Some(2000),
            };
            if let Err(e) = target.create_user(&user).await {
                if refused(&e) {
                    created.users.pop();
                }
                return Err(anyhow::anyhow!("user {name}: {e}"));
            }
            if let Some(p) = &id.policy {
                target
                    .attach_policy(&name, &policy_name(p))
                    .await
                    .map_err(|e| anyhow::anyhow!("user {name}: attaching {p}: {e}"))?;
            }
            v.push(Ident {
                kind: id.kind,
                creds: Credentials::new(&name, &password),
                parent: None,
                session_policy: None,
                duration_seconds: None,
                refresh: None,
                user: name,
            });
        }
        identities.insert(id.name.clone(), v);
    }
    for id in plan
        .identities
        .iter()
        .filter(|i| i.kind != IdentityKind::User)
    {
        let parents = identities[id.parent.as_deref().unwrap_or_default()].clone();
        let policy = id.policy.as_deref().and_then(policy_doc);
        let mut v = Vec::new();
        for i in 0..id.count {
            let parent = &parents[i % parents.len()];
            let creds = match id.kind {
                IdentityKind::Sts => {
                    let request = RoleRequest {
                        duration_seconds: id.duration_seconds,
                        session_policy: policy.clone(),
                    };
                    target.assume_role(&parent.creds, &request).await?
                }
                _ => {
                    target
                        .create_service_account(&parent.creds, policy.as_deref())
                        .await?
                }
            };
            v.push(Ident {
                kind: id.kind,
                creds,
                parent: Some(parent.creds.clone()),
                session_policy: policy.clone(),
                duration_seconds: id.duration_seconds,
                refresh: id.refresh(),
                user: parent.user.clone(),
            });
        }
        identities.insert(id.name.clone(), v);
    }
    Ok(Provisioned { bucket, identities })
}
