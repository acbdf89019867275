//! One step: dispatch by `op` (S3 via the SDK, raw requests, STS and administration via the
//! target adapter, clock moves), optionally as a parallel burst, then judge the outcome.
//! Fault steps (`run::faults`) judge themselves. A step bounded by `timeout_ms` that gets no
//! answer in time has a transport error: `error`, or a pass when it expected exactly that.

use super::context::Ctx;
use super::expect;
use super::outcome::Outcome;
use crate::report::{StepResult, Verdict};
use crate::scenario::{Op, PlannedStep, Profile, Transport};
use crate::target::http::HttpClient;
use crate::target::{Credentials, NewUser, RoleRequest, UserUpdate};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn done(r: Result<(), crate::target::TargetError>) -> Outcome {
    match r {
        Ok(()) => Outcome::default(),
        Err(e) => Outcome::from_target_error(e),
    }
}

/// Run the step once as `who`.
async fn once(
    ctx: &Ctx<'_>,
    planned: &PlannedStep,
    who: &str,
    copy: usize,
    http: &HttpClient,
) -> Outcome {
    let step = &planned.step;
    let t = ctx.target;
    let op = step.op.expect("validated");
    let caller = || -> Result<Credentials, Box<Outcome>> {
        let gone = |e: String| {
            Box::new(Outcome {
                transport_error: Some(e),
                ..Default::default()
            })
        };
        match ctx.credentials(who) {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(gone("anonymous cannot do this".into())),
            Err(e) => Err(gone(e)),
        }
    };
    let policy_doc = |name: &str| ctx.document(name);
    match op {
        Op::Raw => super::raw::run(ctx, who, step.request.as_ref().expect("validated"), http).await,
        Op::AssumeRole => {
            let c = match caller() {
                Ok(c) => c,
                Err(o) => return *o,
            };
            let req = RoleRequest {
                duration_seconds: step.duration,
                session_policy: step.policy.as_deref().and_then(policy_doc),
            };
            match t.assume_role(&c, &req).await {
                Ok(creds) => {
                    if let (Some(name), 0) = (&step.save_as, copy) {
                        ctx.set_identity(name, creds);
                    }
                    Outcome::default()
                }
                Err(e) => Outcome::from_target_error(e),
            }
        }
        Op::CreateServiceAccount => {
            let c = match caller() {
                Ok(c) => c,
                Err(o) => return *o,
            };
            let doc = step.policy.as_deref().and_then(policy_doc);
            match t.create_service_account(&c, doc.as_deref()).await {
                Ok(creds) => {
                    if let (Some(name), 0) = (&step.save_as, copy) {
                        ctx.add_account(name, who, &creds.access_key);
                        ctx.set_identity(name, creds);
                    }
                    Outcome::default()
                }
                Err(e) => Outcome::from_target_error(e),
            }
        }
        Op::DeleteServiceAccount => {
            let c = match caller() {
                Ok(c) => c,
                Err(o) => return *o,
            };
            let account = step.account.as_deref().unwrap_or_default();
            let key = ctx
                .account(account)
                .map(|(_, k)| k)
                .unwrap_or_else(|| ctx.expand(account));
            done(t.delete_service_account(&c, &key).await)
        }
        Op::CreateUser => {
            let logical = step
                .user
                .as_deref()
                .unwrap_or_default()
                .replace("{{i}}", &copy.to_string());
            let logical = logical.as_str();
            let name = ctx.user(logical);
            let password = step
                .password
                .as_deref()
                .map(|p| ctx.expand(p))
                .unwrap_or_else(|| super::default_password(&name));
            let new = NewUser {
                name: name.clone(),
                password: password.clone(),
                uid: step.uid,
                gid: step.gid,
            };
            let r = t.create_user(&new).await;
            if let Ok(creds) = &r {
                ctx.created_user(logical, &name);
                ctx.set_identity(logical, creds.clone());
                if let Some(p) = &step.policy {
                    return done(t.attach_policy(&name, &ctx.policy(p)).await);
                }
            }
            done(r.map(drop))
        }
        Op::UpdateUser => {
            let logical = step.user.as_deref().unwrap_or_default();
            let name = ctx.user(logical);
            let update = UserUpdate {
                password: step.password.as_deref().map(|p| ctx.expand(p)),
                uid: step.uid,
                gid: step.gid,
            };
            let r = t.update_user(&name, &update).await;
            if let (Ok(()), Some(p)) = (&r, &update.password) {
                // Keep the old secret reachable as `<user>.old` for U6 checks.
                if let Ok(Some(old)) = ctx.credentials(logical) {
                    ctx.set_identity(&format!("{logical}.old"), old);
                }
                ctx.set_identity(logical, Credentials::new(&name, p));
            }
            done(r)
        }
        Op::DeleteUser => {
            let name = ctx.user(step.user.as_deref().unwrap_or_default());
            done(t.delete_user(&name).await)
        }
        Op::AttachPolicy => {
            let name = ctx.user(step.user.as_deref().unwrap_or_default());
            done(
                t.attach_policy(
                    &name,
                    &ctx.policy(step.policy.as_deref().unwrap_or_default()),
                )
                .await,
            )
        }
        Op::DetachPolicy => done(
            t.detach_policy(&ctx.user(step.user.as_deref().unwrap_or_default()))
                .await,
        ),
        Op::PutPolicy => {
            let logical = step.policy.as_deref().unwrap_or_default();
            let doc = match &step.document {
                Some(d) => ctx.expand(d),
                None => ctx.document(logical).unwrap_or_default(),
            };
            let name = ctx.policy(logical);
            let r = t.put_policy(&name, &doc).await;
            ctx.note_policy_change(&name, r.is_ok());
            done(r)
        }
        Op::DeletePolicy => {
            let name = ctx.policy(step.policy.as_deref().unwrap_or_default());
            let r = t.delete_policy(&name).await;
            ctx.note_policy_change(&name, r.is_ok());
            done(r)
        }
        Op::AdvanceClock => done(t.advance_clock(step.seconds.unwrap_or(0)).await),
        Op::Sleep => {
            tokio::time::sleep(Duration::from_millis(step.millis.unwrap_or(0))).await;
            Outcome::default()
        }
        _ => super::s3ops::run(ctx, who, step).await,
    }
}

fn response_text(o: &Outcome) -> String {
    let mut s = o.summary();
    s.push('\n');
    for (n, v) in &o.headers {
        s.push_str(&format!("{n}: {v}\n"));
    }
    if !o.body.is_empty() {
        s.push('\n');
        s.push_str(&super::outcome::redact_body(&o.body));
    }
    s
}

/// How long a step that expects no answer (`expect.transport_error`) waits, unless it says.
const NO_ANSWER_MS: u64 = 2500;

/// Run the step once, bounded by its `timeout_ms` (or [`NO_ANSWER_MS`] when it expects no
/// answer): a target that never answers is a transport error, not a hung run.
async fn bounded(ctx: &Ctx<'_>, planned: &PlannedStep, who: &str, http: &HttpClient) -> Outcome {
    let step = &planned.step;
    let expects_none = step
        .expect
        .as_ref()
        .is_some_and(|e| e.transport_error == Some(true));
    let limit = step.timeout_ms.or(expects_none.then_some(NO_ANSWER_MS));
    let call = once(ctx, planned, who, 0, http);
    match limit {
        None => call.await,
        Some(ms) => tokio::time::timeout(Duration::from_millis(ms), call)
            .await
            .unwrap_or_else(|_| Outcome {
                transport_error: Some(format!("no answer within {ms} ms")),
                ..Default::default()
            }),
    }
}

/// Run a planned step (once, or as a parallel burst) and judge it.
pub async fn run_step(
    ctx: &Ctx<'_>,
    planned: &PlannedStep,
    profile: Profile,
    http: &HttpClient,
) -> StepResult {
    let step = &planned.step;
    let who = step.as_.clone().unwrap_or_else(|| "root".into());
    // A raw request sent without a signature: not the signer's, whoever would have signed it
    // (it may still carry a hand-written header or a session token).
    let unsigned = step.request.as_ref().is_some_and(|r| {
        r.sign == crate::scenario::model::SignMode::None
            || r.mutations
                .contains(&crate::scenario::model::Mutation::NoAuth)
    });
    let shown = if unsigned {
        "unsigned".to_owned()
    } else {
        who.clone()
    };
    let started = Instant::now();
    let mut result = StepResult {
        origin: planned.origin.clone(),
        name: step.name.clone(),
        op: step.op.map(|o| o.name()).unwrap_or_default(),
        as_: shown,
        verdict: Verdict::Pass,
        expected: String::new(),
        actual: String::new(),
        mismatches: Vec::new(),
        request: String::new(),
        response: String::new(),
        duration_ms: 0,
        transport_error: false,
    };
    if step.op.is_some_and(Op::is_fault_family) {
        let j = super::faults::run(ctx, &who, step).await;
        result.expected = j.expected;
        result.actual = j.actual;
        result.request = j.outcome.request.clone();
        result.response = response_text(&j.outcome);
        result.mismatches = j.mismatches;
        result.transport_error = j.outcome.transport_error.is_some();
        result.verdict = if result.transport_error {
            Verdict::Error
        } else if !result.mismatches.is_empty() {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
    } else if let (Some(n), Some(want)) = (step.parallel, &step.expect_counts) {
        let outcomes =
            futures_util::future::join_all((0..n).map(|i| once(ctx, planned, &who, i, http))).await;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for o in &outcomes {
            *counts.entry(o.label()).or_default() += 1;
        }
        result.expected = format!("{want:?}");
        result.actual = format!("{counts:?}");
        if let Some(o) = outcomes.iter().find(|o| !o.ok()).or(outcomes.first()) {
            result.request = o.request.clone();
            result.response = response_text(o);
        }
        if counts.keys().any(|k| k.starts_with("transport:")) {
            result.verdict = Verdict::Error;
        } else if &counts != want {
            result.verdict = Verdict::Fail;
            result
                .mismatches
                .push(format!("outcome counts: expected {want:?}, got {counts:?}"));
        }
        if let Some(o) = outcomes.iter().find(|o| o.status.is_some_and(|s| s >= 500)) {
            result.verdict = Verdict::Fail;
            result
                .mismatches
                .push(format!("unexpected {}", o.summary()));
        }
    } else {
        let o = bounded(ctx, planned, &who, http).await;
        let transport = Transport::of(ctx.target.endpoint());
        let e = expect::effective(&step.expect.clone().unwrap_or_default(), profile, transport);
        result.expected = expect::describe(&e);
        result.actual = o.summary();
        result.request = o.request.clone();
        result.response = response_text(&o);
        result.transport_error = o.transport_error.is_some();
        if e.transport_error == Some(true) {
            if !result.transport_error {
                // The fault did not take: the step proved nothing about the target's rules.
                result.verdict = Verdict::Error;
                result.mismatches.push(format!(
                    "expected no answer (a transport error), got {}",
                    o.summary()
                ));
            }
        } else if result.transport_error {
            result.verdict = Verdict::Error;
        } else {
            result.mismatches =
                expect::check(ctx, &e, &o, step.bucket.as_deref(), step.key.as_deref()).await;
            if !result.mismatches.is_empty() {
                result.verdict = Verdict::Fail;
            }
        }
    }
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}
