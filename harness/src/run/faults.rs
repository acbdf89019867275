//! Fault steps (capability `faults`): restart, SIGKILL and pause the target mid-scenario,
//! write under load around the fault ([`storm`]) and read back what was acknowledged
//! ([`verify`]).
//!
//! The rule they check (SPEC X4, U5, S6 and the durability the issue states): what the target
//! acknowledged before a fault is there after it, whole, with its ETag; what it did not
//! acknowledge may or may not be there, but never in part; revoked keys stay revoked and live
//! ones keep working. Each scenario keeps a [`Ledger`]: faults injected, operations
//! acknowledged, operations lost; any loss fails the scenario.
//!
//! These steps judge themselves (no `expect`): their mismatches name the key or identity.
//! After a restart, a kill or an unpause every cached client is dropped, so no request rides
//! a pooled connection to the old process.

mod held;
pub use held::HELD;
mod storm;
mod verify;

use super::context::Ctx;
use super::outcome::Outcome;
use crate::report::FaultTally;
use crate::scenario::model::Step;
use crate::scenario::Op;
use crate::target::Fault;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// One scenario's record of its storms and faults.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Set by the first fault step: the scenario reports a [`FaultTally`].
    pub used: bool,
    pub tally: FaultTally,
    storms: Vec<StormRecord>,
    /// What brings the target back if the scenario stops while it is paused or killed.
    recovery: Option<Fault>,
    /// Acknowledged operations found missing or changed, each counted once however often
    /// it is verified.
    lost: BTreeSet<String>,
}

impl Ledger {
    /// The tally to report, if the scenario used fault steps.
    pub fn report(&self) -> Option<FaultTally> {
        self.used.then_some(self.tally)
    }

    fn lose(&mut self, ops: Vec<String>) {
        self.lost.extend(ops);
        self.tally.lost = self.lost.len();
    }

    /// Record a fault done: count it if it is one, and remember how to undo it.
    fn record(&mut self, f: Fault) {
        if counts(f) {
            self.tally.injected += 1;
        }
        self.recovery = match f {
            Fault::Pause => Some(Fault::Unpause),
            Fault::Kill => Some(Fault::Start),
            Fault::Restart | Fault::Start | Fault::Unpause => None,
        };
    }
}

/// Bring the target back if the scenario ended with it paused or killed (a step failed before
/// the recovery step), so cleanup and the next scenarios find it serving. Returns a warning.
pub async fn recover(ctx: &Ctx<'_>) -> Option<String> {
    let f = ctx.with_ledger(|l| l.recovery.take())?;
    ctx.drop_clients();
    let done = ctx.target.inject(f).await;
    Some(match done {
        Ok(()) => format!("the scenario ended with the target down: {f:?} done"),
        Err(e) => format!("the scenario ended with the target down; {f:?} failed: {e}"),
    })
}

/// What one `put_storm` sent and what the target acknowledged.
#[derive(Debug, Clone)]
struct StormRecord {
    bucket: String,
    prefix: String,
    /// Every key sent: the SHA-256 of its body and, when acknowledged, the ETag returned.
    puts: BTreeMap<String, Put>,
    churn: Option<ChurnRecord>,
}

#[derive(Debug, Clone)]
struct Put {
    digest: String,
    size: usize,
    etag: Option<String>,
}

/// The policy changes made beside a storm: which states the user may be in afterwards.
#[derive(Debug, Clone)]
struct ChurnRecord {
    /// The user's logical name (its identity in the scenario).
    user: String,
    /// `true`: holds the policy. The last acknowledged state, plus the state of a change
    /// whose answer never came (it may have been applied).
    acceptable: BTreeSet<bool>,
    acknowledged: usize,
}

/// What a fault step did.
#[derive(Debug, Default)]
pub struct Judged {
    pub expected: String,
    pub outcome: Outcome,
    /// A line for the report (what happened, with counts).
    pub actual: String,
    pub mismatches: Vec<String>,
}

impl Judged {
    /// The step ended in `outcome`, which is not what it expected: a transport error makes it
    /// an `error`, any other outcome (an HTTP refusal) a mismatch, never a pass.
    fn failed(expected: &str, outcome: Outcome) -> Self {
        let mismatches = if outcome.transport_error.is_some() {
            Vec::new()
        } else {
            vec![format!("expected {expected}, got {}", outcome.summary())]
        };
        Judged {
            expected: expected.into(),
            actual: outcome.summary(),
            outcome,
            mismatches,
        }
    }

    /// The step could not be carried out (`error`): it proved nothing about the target.
    fn broken(expected: &str, why: String) -> Self {
        let outcome = Outcome {
            transport_error: Some(why),
            ..Default::default()
        };
        Self::failed(expected, outcome)
    }
}

/// Run a fault-family step as `who`.
pub async fn run(ctx: &Ctx<'_>, who: &str, step: &Step) -> Judged {
    ctx.with_ledger(|l| l.used = true);
    match step.op.expect("validated") {
        Op::RestartTarget => inject(ctx, &[Fault::Restart]).await,
        Op::KillTarget => inject(ctx, &[Fault::Kill, Fault::Start]).await,
        Op::PauseTarget => inject(ctx, &[Fault::Pause]).await,
        Op::UnpauseTarget => inject(ctx, &[Fault::Unpause]).await,
        Op::PutStorm => storm::run(ctx, who, step).await,
        Op::VerifyAcknowledged => verify::run(ctx, who).await,
        other => Judged::broken("a fault step", format!("`{}` is not one", other.name())),
    }
}

/// Faults that count as injected (a `Start` or an `Unpause` is the recovery, not a fault).
fn counts(f: Fault) -> bool {
    matches!(f, Fault::Restart | Fault::Kill | Fault::Pause)
}

/// Inject `faults` in order; the first refusal stops (the scenario errors: it proves nothing).
async fn inject(ctx: &Ctx<'_>, faults: &[Fault]) -> Judged {
    let started = Instant::now();
    let names: Vec<String> = faults
        .iter()
        .map(|f| format!("{f:?}").to_lowercase())
        .collect();
    let expected = format!("{} done, the target serving", names.join(" + "));
    for f in faults {
        let r = ctx.target.inject(*f).await;
        ctx.drop_clients();
        if let Err(e) = r {
            return Judged::failed(&expected, Outcome::from_target_error(e));
        }
        ctx.with_ledger(|l| l.record(*f));
    }
    Judged {
        actual: format!(
            "{} in {} ms",
            names.join(" + "),
            started.elapsed().as_millis()
        ),
        expected,
        ..Default::default()
    }
}

/// The body a storm sends under `key`: the key repeated to `size` bytes, so a read-back names
/// the key it came from and a torn write cannot match.
fn body_for(key: &str, size: usize) -> Vec<u8> {
    let unit = format!("{key}\n");
    unit.bytes().cycle().take(size).collect()
}

fn digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_fault_is_a_mismatch_and_no_answer_an_error() {
        let refused = crate::target::TargetError::Rejected {
            status: Some(409),
            code: "Conflict".into(),
            message: "cannot pause".into(),
            body: String::new(),
        };
        let j = Judged::failed("paused", Outcome::from_target_error(refused));
        assert_eq!(j.mismatches.len(), 1, "{j:?}");
        let gone = crate::target::TargetError::Transport("connection refused".into());
        let j = Judged::failed("paused", Outcome::from_target_error(gone));
        assert!(j.mismatches.is_empty() && j.outcome.transport_error.is_some());
    }

    #[test]
    fn bodies_are_exact_and_differ_by_key() {
        let a = body_for("storm/0001", 100);
        assert_eq!(a.len(), 100);
        assert!(a.starts_with(b"storm/0001\nstorm/0001\n"));
        assert_ne!(digest(&a), digest(&body_for("storm/0002", 100)));
        assert!(body_for("k", 0).is_empty());
    }

    #[test]
    fn the_ledger_counts_each_loss_once_and_knows_how_to_recover() {
        let mut l = Ledger::default();
        l.record(Fault::Pause);
        assert_eq!(l.recovery, Some(Fault::Unpause));
        l.record(Fault::Unpause);
        l.record(Fault::Kill);
        assert_eq!(l.recovery, Some(Fault::Start));
        l.record(Fault::Start);
        assert_eq!((l.recovery, l.tally.injected), (None, 2));
        l.lose(vec!["PUT b/k".into()]);
        l.lose(vec!["PUT b/k".into(), "PUT b/j".into()]);
        assert_eq!(l.tally.lost, 2);
        assert_eq!(l.report(), None, "unused until a fault step runs");
    }

    #[test]
    fn only_faults_count_as_injected() {
        assert!(counts(Fault::Kill) && counts(Fault::Restart) && counts(Fault::Pause));
        assert!(!counts(Fault::Start) && !counts(Fault::Unpause));
    }
}
