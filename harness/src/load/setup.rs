//! Provisioning a load plan on a target: the bucket and objects (signed PUTs), then policies,
//! users, STS sessions and service accounts through the harness's [`AdminTarget`] (the admin
//! API and `aws-sdk-sts`, as the conformance runner provisions). The null target gets the same
//! identities with made-up keys, so the generator does the same signing work against it.

use super::plan::{IdentityKind, Plan};
use super::sign::{Signer, ToSign, EMPTY_SHA256};
use crate::scenario::Profile;
use crate::target::admin::AdminTarget;
use crate::target::http::{host_of, HttpClient};
use crate::target::{
    Capabilities, Credentials, NewUser, RoleRequest, SharedClock, Target, TargetInfo,
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

/// A signed PUT (bucket or object) with the lean signer.
async fn put(
    http: &HttpClient,
    endpoint: &str,
    signer: &mut Signer,
    path: &str,
    body: Bytes,
) -> anyhow::Result<()> {
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
        .body(body)?;
    let resp = http.send(req).await.map_err(|e| anyhow::anyhow!(e))?;
    anyhow::ensure!(
        (200..300).contains(&resp.status),
        "PUT {path}: {} {}",
        resp.status,
        resp.text()
    );
    Ok(())
}

/// Provisions `plan` on the target at `endpoint` (`root: None`: the null target).
pub async fn provision(
    plan: &Plan,
    endpoint: &str,
    root: Option<&(String, String)>,
    run_tag: &str,
) -> anyhow::Result<Provisioned> {
    let bucket = format!("load-{run_tag}");
    let expand = |doc: &str| doc.replace("{{bucket}}", &bucket);
    let policy_doc = |name: &str| {
        plan.policies
            .iter()
            .find(|p| p.name == name)
            .map(|p| expand(&p.document))
    };
    let Some(root) = root else {
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
    let target = admin_target(endpoint, root)?;
    let mut root_signer = Signer::new(&root.0, &root.1, None, "us-east-1", "s3");
    put(
        &target.http,
        endpoint,
        &mut root_signer,
        &format!("/{bucket}"),
        Bytes::new(),
    )
    .await?;
    for o in &plan.objects {
        let body = Bytes::from(vec![b'x'; o.size]);
        for i in 0..o.count {
            let path = format!("/{bucket}/{}{i}", o.prefix);
            put(
                &target.http,
                endpoint,
                &mut root_signer,
                &path,
                body.clone(),
            )
            .await?;
        }
    }
    for p in &plan.policies {
        target.put_policy(&p.name, &expand(&p.document)).await?;
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
            target
                .create_user(&NewUser {
                    name: name.clone(),
                    password: password.clone(),
                    uid: Some(2000 + i as u32),
                    gid: Some(2000),
                })
                .await?;
            if let Some(p) = &id.policy {
                target.attach_policy(&name, p).await?;
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
