//! Executing scenarios: provision the setup, run each step as its identity, check the
//! outcome, clean up. [`runner`] schedules many scenarios over one target.
//!
//! Verdicts: a transport failure or a refused provisioning call makes the scenario `error` and
//! stops it (later steps would test nothing); a mismatch makes it `fail` and the remaining steps
//! still run, so a matrix reports every wrong cell. Cleanup is best effort and only warns.
//!
//! An interrupt (`crate::interrupt`) abandons a running scenario between or inside its steps:
//! it is `not_run` unless a step already failed or errored (that verdict stands, the evidence
//! is real), and its fault recovery and cleanup still run, so a remote target is left as clean
//! as after a finished scenario.

pub mod clients;
pub mod context;
pub mod expect;
pub mod faults;
pub mod outcome;
pub mod preflight;
pub mod raw;
pub mod runner;
pub mod s3ops;
mod steps;

use crate::interrupt::Interrupt;
use crate::report::{ScenarioResult, Verdict};
use crate::scenario::{Profile, Scenario};
use crate::target::http::HttpClient;
use crate::target::{NewUser, RoleRequest, Target};
use context::Ctx;
use std::time::Instant;

/// A password that satisfies SPEC U1 for generated users.
pub fn default_password(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "Kg1-{}",
        &hex::encode(Sha256::digest(seed.as_bytes()))[..16]
    )
}

/// Run one scenario against `target`; abandon it when `interrupt` comes.
pub async fn run_scenario(
    target: &dyn Target,
    scenario: &Scenario,
    nonce: &str,
    profile: Profile,
    http: &HttpClient,
    interrupt: &Interrupt,
) -> ScenarioResult {
    let started = Instant::now();
    let def = &scenario.def;
    let mut result = ScenarioResult {
        id: def.id.clone(),
        title: def.title.clone(),
        area: def.area.clone(),
        tags: def.tags.clone(),
        rules: def.rules.clone(),
        file: scenario.file.clone(),
        verdict: Verdict::Pass,
        reason: None,
        duration_ms: 0,
        steps: Vec::new(),
        warnings: Vec::new(),
        faults: None,
        known_failure: None,
    };
    let ctx = Ctx::new(target, scenario, nonce);
    let abandoned = tokio::select! {
        biased;
        () = play(&ctx, profile, http, &mut result) => None,
        signal = interrupt.wait() => Some(signal),
    };
    if let Some(signal) = abandoned.filter(|_| result.verdict == Verdict::Pass) {
        result.verdict = Verdict::NotRun;
        result.reason = Some(format!(
            "not run: interrupted by {} while running (abandoned after {} of {} step(s))",
            signal.name(),
            result.steps.len(),
            scenario.steps.len()
        ));
    }
    result.faults = ctx.with_ledger(|l| l.report());
    if let Some(f) = result.faults.filter(|f| f.lost > 0) {
        if result.verdict == Verdict::Pass {
            result.verdict = Verdict::Fail;
            result.reason = Some(format!("{} acknowledged operations lost ({f})", f.lost));
        }
    }
    let recovered = faults::recover(&ctx).await;
    result.warnings = cleanup(&ctx).await;
    result.warnings.extend(recovered);
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

/// Provision, then run the steps, recording them in `result`.
async fn play(ctx: &Ctx<'_>, profile: Profile, http: &HttpClient, result: &mut ScenarioResult) {
    if let Err(e) = provision(ctx).await {
        result.verdict = Verdict::Error;
        result.reason = Some(format!("provisioning: {e}"));
        return;
    }
    for planned in &ctx.scenario.steps {
        let step = steps::run_step(ctx, planned, profile, http).await;
        let verdict = step.verdict;
        if verdict != Verdict::Pass && result.verdict == Verdict::Pass {
            result.verdict = verdict;
            result.reason = Some(format!(
                "{}: {}",
                step.origin,
                step.mismatches
                    .first()
                    .cloned()
                    .unwrap_or_else(|| step.actual.clone())
            ));
        }
        result.steps.push(step);
        if verdict == Verdict::Error {
            break;
        }
    }
}

async fn provision(ctx: &Ctx<'_>) -> Result<(), String> {
    let t = ctx.target;
    let setup = &ctx.scenario.def.setup;
    for p in setup.policies.iter().filter(|p| p.register) {
        let doc = ctx.document(&p.name).unwrap_or_default();
        t.put_policy(&ctx.policy(&p.name), &doc)
            .await
            .map_err(|e| format!("policy `{}`: {e}", p.name))?;
    }
    for u in &setup.users {
        let name = ctx.user(&u.name);
        let password = u
            .password
            .clone()
            .unwrap_or_else(|| default_password(&name));
        let new = NewUser {
            name: name.clone(),
            password: password.clone(),
            uid: u.uid,
            gid: u.gid,
        };
        let creds = t
            .create_user(&new)
            .await
            .map_err(|e| format!("user `{}`: {e}", u.name))?;
        ctx.set_identity(&u.name, creds);
        if let Some(p) = &u.policy {
            t.attach_policy(&name, &ctx.policy(p))
                .await
                .map_err(|e| format!("attach `{p}` to `{}`: {e}", u.name))?;
        }
    }
    let root = ctx.s3("root")?;
    for b in &setup.buckets {
        let real = ctx.bucket(b);
        root.create_bucket()
            .bucket(&real)
            .send()
            .await
            .map_err(|e| format!("bucket `{b}`: {}", outcome::sdk_target_error(e)))?;
    }
    for o in &setup.objects {
        let who = o.as_.as_deref().unwrap_or("root");
        let body: Vec<u8> = match (&o.body, o.size) {
            (Some(b), _) => ctx.expand(b).into_bytes(),
            (None, Some(n)) => vec![b'k'; n],
            _ => Vec::new(),
        };
        ctx.s3(who)?
            .put_object()
            .bucket(ctx.bucket(&o.bucket))
            .key(ctx.expand(&o.key))
            .body(body.into())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "object `{}/{}`: {}",
                    o.bucket,
                    o.key,
                    outcome::sdk_target_error(e)
                )
            })?;
    }
    for s in &setup.sessions {
        let parent = ctx
            .credentials(&s.user)?
            .ok_or("anonymous cannot assume a role")?;
        let req = RoleRequest {
            duration_seconds: s.duration,
            session_policy: s.policy.as_deref().and_then(|p| ctx.document(p)),
        };
        let creds = t
            .assume_role(&parent, &req)
            .await
            .map_err(|e| format!("session `{}`: {e}", s.name))?;
        ctx.set_identity(&s.name, creds);
    }
    for a in &setup.service_accounts {
        let parent = ctx
            .credentials(&a.user)?
            .ok_or("anonymous has no service accounts")?;
        let doc = a.policy.as_deref().and_then(|p| ctx.document(p));
        let creds = t
            .create_service_account(&parent, doc.as_deref())
            .await
            .map_err(|e| format!("service account `{}`: {e}", a.name))?;
        ctx.add_account(&a.name, &a.user, &creds.access_key);
        ctx.set_identity(&a.name, creds);
    }
    Ok(())
}

/// Puts back pre-defined policy `name`, which a step changed or removed on a target that let
/// it (every other scenario and the target's own users rely on it); what happened, for the
/// warnings.
async fn restore_predefined(t: &dyn crate::target::Target, name: &str) -> String {
    let changed = format!("the target let this scenario change or remove pre-defined policy `{name}` (SPEC P1 refuses it)");
    let Some(doc) = t.predefined_document(name) else {
        return format!("{changed}; no document to restore it with: restore it by hand");
    };
    match t.put_policy(name, &doc).await {
        Ok(()) => format!("{changed}; restored to its pre-defined document"),
        Err(e) => format!("{changed}; restoring it failed ({e}): restore it by hand"),
    }
}

/// Remove what the scenario created; problems become warnings.
async fn cleanup(ctx: &Ctx<'_>) -> Vec<String> {
    let mut warnings = Vec::new();
    let t = ctx.target;
    let users = ctx.users();
    let mut admin_down = false;
    for (i, user) in users.iter().enumerate() {
        match t.delete_user(user).await {
            Ok(()) => {}
            Err(crate::target::TargetError::Rejected { code, .. })
                if code == "NoSuchEntity" || code == "NoSuchUser" || code == "InvalidArgument" => {}
            Err(e @ crate::target::TargetError::Transport(_)) => {
                warnings.push(format!("delete user {user}: {e}"));
                // One failure may be a blip. A target that also fails a cheap read of its
                // admin API has stopped answering it, and every further try would wait out a
                // timeout: the rest are named, not tried (the buckets still are, over S3).
                if t.check_admin().await.is_err() {
                    warnings.push(format!(
                        "the target's admin API no longer answers; not deleted: users [{}], \
                         policies [{}]; not restored: pre-defined policies [{}]",
                        users[i + 1..].join(", "),
                        ctx.policies().join(", "),
                        ctx.changed_predefined().join(", ")
                    ));
                    admin_down = true;
                    break;
                }
            }
            Err(e) => warnings.push(format!("delete user {user}: {e}")),
        }
    }
    if !admin_down {
        for policy in ctx.policies() {
            let _ = t.delete_policy(&policy).await;
        }
        for name in ctx.changed_predefined() {
            warnings.push(restore_predefined(t, &name).await);
        }
    }
    let Ok(root) = ctx.s3("root") else {
        return warnings;
    };
    for bucket in ctx.buckets() {
        if let Ok(ups) = root.list_multipart_uploads().bucket(&bucket).send().await {
            for u in ups.uploads() {
                let _ = root
                    .abort_multipart_upload()
                    .bucket(&bucket)
                    .key(u.key().unwrap_or_default())
                    .upload_id(u.upload_id().unwrap_or_default())
                    .send()
                    .await;
            }
        }
        let mut token = None;
        loop {
            let Ok(page) = root
                .list_objects_v2()
                .bucket(&bucket)
                .set_continuation_token(token)
                .send()
                .await
            else {
                break;
            };
            for o in page.contents() {
                let _ = root
                    .delete_object()
                    .bucket(&bucket)
                    .key(o.key().unwrap_or_default())
                    .send()
                    .await;
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        if let Err(e) = root.delete_bucket().bucket(&bucket).send().await {
            let err = outcome::sdk_target_error(e);
            if !matches!(&err, crate::target::TargetError::Rejected { code, .. } if code == "NoSuchBucket")
            {
                warnings.push(format!("delete bucket {bucket}: {err}"));
            }
        }
    }
    warnings
}
