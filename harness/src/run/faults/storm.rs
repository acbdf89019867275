//! `put_storm`: `count` PUTs at once as one identity, each acknowledgement (key, ETag)
//! recorded; beside them, when `user` and `policy` are given, the policy is attached to and
//! detached from the user back to back until the PUTs end. With `kill_after = N` the target
//! is SIGKILLed as soon as N PUTs are acknowledged and the last [`HELD`] PUTs are mid-body
//! (their bodies stop halfway until the kill, see `held`), and started again once every request
//! has ended.
//!
//! Without a kill every PUT and every policy change must succeed. With one, what ends without
//! an answer is simply not acknowledged; an HTTP error answer is still a mismatch (the target
//! was up and refused). The held PUTs make "writes in flight at the kill" hold by
//! construction; how many of the others were still in flight depends on the machine's speed
//! and is only reported. `timeout_ms` bounds each request (default 30 s).

use super::held::{HeldBody, HELD};
use super::{body_for, digest, inject, ChurnRecord, Ctx, Judged, Put, StormRecord};
use crate::run::outcome::{sdk_target_error, Outcome};
use crate::scenario::model::Step;
use crate::target::{Fault, TargetError};
use aws_sdk_s3::config::StalledStreamProtectionConfig;
use aws_sdk_s3::primitives::ByteStream;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Body size when the step gives none.
const DEFAULT_SIZE: usize = 16 * 1024;
/// How long one PUT or policy change may take unless the step says (`timeout_ms`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How one request of the storm ended.
enum Ended {
    Acked,
    /// No answer: refused, reset or timed out.
    Transport(String),
    /// An HTTP error answer.
    Refused(TargetError),
}

fn ended<T>(r: Result<Result<T, TargetError>, tokio::time::error::Elapsed>) -> (Option<T>, Ended) {
    match r {
        Ok(Ok(v)) => (Some(v), Ended::Acked),
        Ok(Err(TargetError::Transport(t))) => (None, Ended::Transport(t)),
        Ok(Err(e)) => (None, Ended::Refused(e)),
        Err(_) => (None, Ended::Transport("timed out".into())),
    }
}

pub(super) async fn run(ctx: &Ctx<'_>, who: &str, step: &Step) -> Judged {
    let expected = "every PUT and policy change acknowledged (or cut off by the fault)";
    let s3 = match ctx.s3(who) {
        Ok(c) => c,
        Err(e) => return Judged::broken(expected, e),
    };
    let started = Instant::now();
    let bucket = ctx.bucket(step.bucket.as_deref().unwrap_or_default());
    let prefix = ctx.expand(step.prefix.as_deref().unwrap_or("storm/"));
    let size = step.size.unwrap_or(DEFAULT_SIZE);
    let limit = step
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_TIMEOUT);
    let count = step.count.unwrap_or(0);
    let keys: Vec<String> = (0..count).map(|i| format!("{prefix}{i:04}")).collect();
    let acked = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let etags: Mutex<BTreeMap<String, String>> = Mutex::default();
    let problems: Mutex<Vec<String>> = Mutex::default();
    let no_answer = AtomicUsize::new(0);
    let note = |m: String| problems.lock().unwrap_or_else(|p| p.into_inner()).push(m);
    // A killing storm holds its last PUTs mid-body until the kill (released afterwards).
    let held_from = if step.kill_after.is_some() {
        count.saturating_sub(HELD)
    } else {
        count
    };
    let (release, released) = tokio::sync::watch::channel(false);
    let mid_body = Arc::new(AtomicUsize::new(0));
    let mut held_at_kill = 0;

    let puts = async {
        futures_util::future::join_all(keys.iter().enumerate().map(|(i, key)| {
            let s3 = s3.clone();
            let (bucket, acked, etags) = (&bucket, &acked, &etags);
            let (note, no_answer) = (&note, &no_answer);
            let (released, mid_body) = (released.clone(), mid_body.clone());
            async move {
                let put = s3.put_object().bucket(bucket).key(key);
                let send = async {
                    if i >= held_from {
                        let body = HeldBody::new(body_for(key, size), released, mid_body);
                        // The held body makes no progress until the kill, which the SDK's
                        // stalled-upload protection would otherwise end first on a slow machine.
                        let no_stall_limit = aws_sdk_s3::config::Builder::default()
                            .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
                        put.body(ByteStream::from_body_1_x(body))
                            .customize()
                            .config_override(no_stall_limit)
                            .send()
                            .await
                    } else {
                        put.body(ByteStream::from(body_for(key, size))).send().await
                    }
                };
                let r = tokio::time::timeout(limit, async { send.await.map_err(sdk_target_error) })
                    .await;
                match ended(r) {
                    (Some(out), _) => {
                        let Some(etag) = out.e_tag().map(str::to_owned) else {
                            note(format!("PUT {key}: acknowledged without an ETag"));
                            return;
                        };
                        etags
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(key.clone(), etag);
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    (None, Ended::Transport(_)) => {
                        no_answer.fetch_add(1, Ordering::SeqCst);
                    }
                    (None, e) => note(refusal(&format!("PUT {key}"), e)),
                }
            }
        }))
        .await;
        done.store(true, Ordering::SeqCst);
    };
    let killer = async {
        let n = step.kill_after?;
        let held = count - held_from;
        loop {
            if acked.load(Ordering::SeqCst) >= n && mid_body.load(Ordering::SeqCst) >= held {
                held_at_kill = mid_body.load(Ordering::SeqCst);
                let killed = ctx.target.inject(Fault::Kill).await;
                let _ = release.send(true);
                return Some(killed);
            }
            if done.load(Ordering::SeqCst) {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    let churn = churn(ctx, step, &done, limit);
    let ((), killed, churn) = tokio::join!(puts, killer, churn);

    let mut j = Judged {
        expected: expected.into(),
        ..Default::default()
    };
    let mut faults = Vec::new();
    match (step.kill_after, killed) {
        (Some(n), None) => j.mismatches.push(format!(
            "the storm ended before {n} PUTs were acknowledged: no fault was injected"
        )),
        (_, Some(Err(e))) => return Judged::failed(expected, Outcome::from_target_error(e)),
        (_, Some(Ok(()))) => {
            ctx.with_ledger(|l| l.record(Fault::Kill));
            faults.push("SIGKILL");
            let back = inject(ctx, &[Fault::Start]).await;
            if back.outcome.transport_error.is_some() {
                return back;
            }
            faults.push("start");
        }
        (None, None) => {}
    }
    let unanswered = no_answer.load(Ordering::SeqCst);
    if step.kill_after.is_none() && unanswered > 0 {
        j.mismatches.push(format!(
            "{unanswered} PUTs got no answer, with no fault injected"
        ));
    }
    let etags = etags.into_inner().unwrap_or_else(|p| p.into_inner());
    let (churn, churn_problem) = churn.unzip();
    j.mismatches.extend(churn_problem.flatten());
    j.mismatches
        .extend(problems.into_inner().unwrap_or_else(|p| p.into_inner()));
    let churned = churn.as_ref().map_or(0, |c| c.acknowledged);
    ctx.with_ledger(|l| {
        l.tally.acknowledged += etags.len() + churned;
        l.storms.push(StormRecord {
            puts: keys
                .iter()
                .map(|k| {
                    let body = body_for(k, size);
                    let put = Put {
                        digest: digest(&body),
                        size,
                        etag: etags.get(k).cloned(),
                    };
                    (k.clone(), put)
                })
                .collect(),
            bucket: bucket.clone(),
            prefix: prefix.clone(),
            churn,
        })
    });
    let held = if held_at_kill > 0 {
        format!(" ({held_at_kill} held mid-body at the kill)")
    } else {
        String::new()
    };
    j.actual = format!(
        "{} of {count} PUTs acknowledged, {unanswered} without an answer{held}; {churned} \
         policy changes acknowledged{}; {} ms",
        etags.len(),
        if faults.is_empty() {
            String::new()
        } else {
            format!("; {}", faults.join(" + "))
        },
        started.elapsed().as_millis()
    );
    j
}

/// A refusal's line: 5xx answers are bugs whatever the fault; others are noted as refusals.
fn refusal(what: &str, e: Ended) -> String {
    match e {
        Ended::Refused(e) => format!("{what}: refused: {e}"),
        Ended::Transport(t) => format!("{what}: no answer: {t}"),
        Ended::Acked => format!("{what}: acknowledged"),
    }
}

/// Attach and detach `step.policy` on `step.user` until `done`; stops at the first change
/// that gets no answer (the target is down), remembering that it may have been applied.
async fn churn(
    ctx: &Ctx<'_>,
    step: &Step,
    done: &AtomicBool,
    limit: Duration,
) -> Option<(ChurnRecord, Option<String>)> {
    let (user, policy) = (step.user.as_ref()?, step.policy.as_ref()?);
    let real_user = ctx.user(user);
    let real_policy = ctx.policy(policy);
    let mut holds = ctx
        .scenario
        .def
        .setup
        .users
        .iter()
        .any(|u| &u.name == user && u.policy.as_ref() == Some(policy));
    let mut acceptable = BTreeSet::new();
    let mut acknowledged = 0;
    let mut problem = None;
    while !done.load(Ordering::SeqCst) {
        let want = !holds;
        let call = async {
            if want {
                ctx.target.attach_policy(&real_user, &real_policy).await
            } else {
                ctx.target.detach_policy(&real_user).await
            }
        };
        match ended(tokio::time::timeout(limit, call).await) {
            (_, Ended::Acked) => {
                holds = want;
                acknowledged += 1;
            }
            (_, Ended::Transport(_)) => {
                acceptable.insert(want);
                if step.kill_after.is_none() {
                    problem = Some(format!(
                        "policy change on {user} got no answer, with no fault injected"
                    ));
                }
                break;
            }
            (_, e) => {
                problem = Some(refusal(&format!("policy change on {user}"), e));
                break;
            }
        }
    }
    acceptable.insert(holds);
    let record = ChurnRecord {
        user: user.clone(),
        acceptable,
        acknowledged,
    };
    Some((record, problem))
}
