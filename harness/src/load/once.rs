//! One attack on one target: start it (the reference server or the null target, as processes
//! of their own) or open and preflight a remote profile, provision the plan, run goose for
//! ramp + warm-up + steady phase while sampling CPU and metrics at the steady window's edges,
//! and turn what was measured into a [`RunResult`]. On a remote target what provisioning
//! created is removed afterwards whatever happened (`teardown`): after the attack, after an
//! error, after an interrupt. A spawned target is killed when its handle drops.
//!
//! Interrupts: every phase before the attack is dropped where it stands when one comes; the
//! attack itself is stopped through goose's killswitch (so its users stop sending before the
//! teardown starts), within [`STOP_GRACE`].

use super::affinity::Pinning;
use super::attack::{self, AttackSettings, Shared, OPS};
use super::report::{self, RunResult, TxResult};
use super::{
    open_loop, plan, procs, remote, server_cpu, setup, teardown, unless_interrupted, LoadArgs,
    Which,
};
use crate::interrupt::{Interrupt, Interrupted, Signal};
use crate::target::admin::AdminTarget;
use crate::target::http::{host_of, HttpClient};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A point-in-time sample at a window edge.
struct Sample {
    server_cpu: Option<u64>,
    own_cpu: Option<u64>,
    server_wait: Option<u64>,
    own_wait: Option<u64>,
    metrics: Option<String>,
    at: Instant,
}

async fn sample(pid: Option<u32>, http: &HttpClient, endpoint: &str) -> Sample {
    Sample {
        server_cpu: pid.and_then(procs::cpu_us),
        own_cpu: procs::cpu_us(std::process::id()),
        server_wait: pid.and_then(procs::runqueue_wait_us),
        own_wait: procs::runqueue_wait_us(std::process::id()),
        metrics: procs::scrape(http, endpoint).await,
        at: Instant::now(),
    }
}

/// How each attack runs (resolved from the arguments once).
#[derive(Debug, Clone, Copy)]
pub(super) struct How<'a> {
    pub(super) users: usize,
    pub(super) pin: Option<&'a Pinning>,
    /// `--target-workers`: a spawned target's runtime worker threads when it is not pinned
    /// (a pinning carries its own).
    pub(super) workers: Option<usize>,
}

/// Pins the generator while alive; gives its threads their CPUs back when dropped.
struct PinnedGenerator<'a>(Option<&'a Pinning>);

impl<'a> PinnedGenerator<'a> {
    fn new(pin: Option<&'a Pinning>) -> anyhow::Result<Self> {
        if let Some(p) = pin {
            p.pin_generator()
                .map_err(|e| anyhow::anyhow!("pinning the generator: {e}"))?;
        }
        Ok(PinnedGenerator(pin))
    }
}

impl Drop for PinnedGenerator<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            let _ = p.restore_generator();
        }
    }
}

/// The target of one attack, started or opened.
struct Opened {
    /// A process spawned here (killed when dropped).
    spawned: Option<procs::Spawned>,
    endpoint: String,
    /// Provisioning (and a plan's revocation) as the root; `None`: the null target.
    admin: Option<Arc<AdminTarget>>,
    /// Trusting the target's CA, for the metrics scrapes.
    http: HttpClient,
}

/// Start (spawned targets) or open and preflight (remote ones) the target of one attack.
async fn open(args: &LoadArgs, which: &Which, how: How<'_>) -> anyhow::Result<Opened> {
    let (pin, workers) = (how.pin, how.workers);
    Ok(match which {
        Which::Server => {
            let s = procs::spawn_server(pin, workers).await?;
            let admin = setup::admin_target(&s.endpoint, &s.root)?;
            Opened {
                endpoint: s.endpoint.clone(),
                http: admin.http.clone(),
                admin: Some(Arc::new(admin)),
                spawned: Some(s),
            }
        }
        Which::Null => {
            let s = procs::spawn_null(args.null_spin_us, pin, workers).await?;
            Opened {
                endpoint: s.endpoint.clone(),
                http: HttpClient::new()?,
                admin: None,
                spawned: Some(s),
            }
        }
        Which::Remote(file) => {
            let t = remote::open(file).await?;
            Opened {
                endpoint: t.info.endpoint.clone(),
                http: t.http.clone(),
                admin: Some(Arc::new(t)),
                spawned: None,
            }
        }
    })
}

/// One attack: open the target, provision, attack, and on a remote target remove what
/// provisioning created whatever happened (an error, an interrupt).
pub(super) async fn attack_once(
    args: &LoadArgs,
    plan: &plan::Plan,
    (which, label): (&Which, &str),
    tag: &str,
    how: How<'_>,
    interrupt: &Interrupt,
) -> anyhow::Result<RunResult> {
    let how = How {
        pin: match which {
            Which::Server | Which::Null => how.pin,
            Which::Remote(_) => None,
        },
        ..how
    };
    let mut opened = unless_interrupted(interrupt, open(args, which, how)).await??;
    let mut created = setup::Created::default();
    let provisioned = unless_interrupted(
        interrupt,
        setup::provision(plan, opened.admin.as_deref(), tag, &mut created),
    )
    .await;
    let mut result = match provisioned {
        Ok(Ok(prov)) => attack(args, plan, (which, label), &opened, prov, how, interrupt).await,
        Ok(Err(e)) => Err(e.context(format!(
            "provisioning plan `{}` on {}",
            plan.id, opened.endpoint
        ))),
        Err(interrupted) => Err(interrupted.into()),
    };
    // A spawned target that died on the way measured nothing after it did: its requests
    // failed fast, which would read as throughput (exit 3, as a target that cannot be used).
    // Unless this run was interrupted: a Ctrl-C reaches the target too (one process group).
    if let Some(status) = opened.spawned.as_mut().and_then(procs::Spawned::exited) {
        if let Some(signal) = interrupt.received() {
            result = Err(Interrupted(signal).into());
        } else if !result.as_ref().is_err_and(|e| e.is::<Interrupted>()) {
            result = Err(anyhow::anyhow!(
                "the {label} target this run spawned ({}) exited during the attack ({status}): \
                 its figures are not a measurement",
                opened.endpoint
            ));
        }
    }
    if let (Which::Remote(_), Some(admin)) = (which, &opened.admin) {
        if !created.is_empty() {
            let removed = teardown::remove(admin, &created).await;
            say!("{}", removed.summary(&opened.endpoint));
            for p in &removed.problems {
                say!("warning: teardown: {p}");
            }
        }
    }
    drop(opened);
    result
}

/// Aborts a spawned task when dropped (an attack that ends early leaves none behind).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long an attack may take to stop after goose's killswitch (a request is bounded at 10 s).
const STOP_GRACE: Duration = Duration::from_secs(15);

/// The attack on a provisioned target, and its figures.
async fn attack(
    args: &LoadArgs,
    plan: &plan::Plan,
    (which, label): (&Which, &str),
    opened: &Opened,
    prov: setup::Provisioned,
    how: How<'_>,
    interrupt: &Interrupt,
) -> anyhow::Result<RunResult> {
    let (endpoint, http, pin) = (&opened.endpoint, &opened.http, how.pin);
    let pid = opened.spawned.as_ref().map(procs::Spawned::pid);
    let before = procs::scrape(http, endpoint).await;
    let ramp = Duration::from_secs(1);
    let t0 = Instant::now();
    let from = t0 + ramp + args.warmup;
    let until = from + args.duration;
    let region = opened
        .admin
        .as_ref()
        .map_or_else(|| "us-east-1".to_owned(), |a| a.info.region.clone());
    let mut shared = Shared::new(plan.clone(), prov, host_of(endpoint), from, until);
    shared.region = region;
    shared.check_expect = *which != Which::Null;
    shared.pacer = args.rate.map(|rate| {
        let schedule = open_loop::Schedule::new(t0 + ramp, rate);
        open_loop::Pacer::start(schedule, until, from, until)
    });
    let revoke = match (&plan.revoke, &opened.admin) {
        (Some(r), Some(admin)) => {
            let users: Vec<String> = shared.prov.identities[&r.identity]
                .iter()
                .map(|i| i.user.clone())
                .collect();
            shared.revoked_users = users.clone();
            let at = from + args.duration.mul_f64(r.at);
            Some((users, at, admin.clone()))
        }
        _ => None,
    };
    let shared = Arc::new(shared);
    let mut revoker = revoke.map(|(users, at, admin)| {
        let shared = shared.clone();
        AbortOnDrop(tokio::spawn(async move {
            revoke_users(&shared, &admin, &users, at).await
        }))
    });
    let mut sampler = {
        let (http, endpoint) = (http.clone(), endpoint.clone());
        AbortOnDrop(tokio::spawn(async move {
            tokio::time::sleep_until(from.into()).await;
            let a = sample(pid, &http, &endpoint).await;
            tokio::time::sleep_until(until.into()).await;
            let b = sample(pid, &http, &endpoint).await;
            (a, b)
        }))
    };
    let trust = http.trust().rustls_config()?;
    let settings = AttackSettings {
        endpoint: endpoint.clone(),
        users: how.users,
        run_time: ramp + args.warmup + args.duration + Duration::from_secs(1),
        open_loop: args.rate.is_some(),
        tls: trust,
    };
    let pinned = PinnedGenerator::new(pin)?;
    let goose = {
        let attack = attack::execute(shared.clone(), &settings);
        tokio::pin!(attack);
        // Goose's killswitch stops its users. Pulled again until the attack ends, since
        // goose clears it when an attack starts.
        let stop = |why: &'static str| async move {
            loop {
                goose::trigger_killswitch(why);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let died = async {
            match pid {
                Some(pid) => procs::ends(pid).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            signal = interrupt.wait() => {
                let _ = tokio::time::timeout(STOP_GRACE, async {
                    tokio::select! {
                        _ = &mut attack => {}
                        () = stop(signal.name()) => {}
                    }
                })
                .await;
                drop(pinned);
                return Err(Interrupted(signal).into());
            }
            () = died => {
                // Every request from here on fails at once: stop, rather than report them.
                let _ = tokio::time::timeout(STOP_GRACE, async {
                    tokio::select! {
                        _ = &mut attack => {}
                        () = stop("the target exited") => {}
                    }
                })
                .await;
                drop(pinned);
                // A Ctrl-C reaches the target too (one process group): then it is the reason.
                if let Some(signal) = interrupt.received() {
                    return Err(Interrupted(signal).into());
                }
                anyhow::bail!("the target exited during the attack");
            }
            g = &mut attack => g,
        }
    };
    drop(pinned);
    let goose = goose?;
    // The killswitch cut the attack short (goose's own Ctrl-C handler, where claiming SIGINT
    // first failed and load went on without catching signals): its figures would be wrong.
    if goose::is_killswitch_triggered() {
        return Err(Interrupted(Signal::Int).into());
    }
    let (a, b) = (&mut sampler.0).await?;
    let open_loop = shared.pacer.as_ref().map(|p| p.finish(how.users));
    let revocation = match revoker.as_mut() {
        Some(h) => Some((&mut h.0).await??),
        None => None,
    };
    let after = procs::scrape(http, endpoint).await;

    // Server CPU over the steady window: per operation and outcome, and the process's split.
    let server_ops = match (&a.metrics, &b.metrics) {
        (Some(x), Some(y)) => Some(server_cpu::window(x, y)).filter(|o| !o.is_empty()),
        _ => None,
    };
    let attribution = match (&server_ops, a.server_cpu, b.server_cpu) {
        (Some(ops), Some(x), Some(y)) => server_cpu::attribute(ops, y.saturating_sub(x) as f64),
        _ => None,
    };
    let mut all = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut transactions = Vec::new();
    let mut requests = 0;
    for (i, st) in shared.stats.iter().enumerate() {
        let st = st.lock().expect("stats lock");
        let count = st.hist.len();
        if count == 0 && i == plan.transactions.len() {
            continue;
        }
        requests += count;
        all.add(&st.hist)?;
        let op = plan
            .transactions
            .get(i)
            .map_or(plan::Op::AssumeRole, |t| t.op);
        let server_cpu = match (&server_ops, &attribution) {
            (Some(ops), Some(at)) => {
                let allowed = count.saturating_sub(st.denied);
                server_cpu::for_tx(ops, at, attack::op_name(op), allowed, st.denied)
            }
            _ => None,
        };
        transactions.push(TxResult {
            name: shared.tx_name(i).to_owned(),
            count,
            ok: st.ok,
            denied: st.denied,
            unexpected: st.unexpected,
            unexpected_measured: Some(st.unexpected_measured),
            errors: st.errors.clone(),
            latency_us: report::Latency::of(&st.hist),
            histogram: report::encode(&st.hist),
            server_cpu,
        });
    }
    let secs = (b.at - a.at).as_secs_f64().max(1e-3);
    // The window on the wall clock: shards on other machines compare theirs with it.
    let unix_ms = |at: Instant| {
        let now = (Instant::now(), std::time::SystemTime::now());
        let wall = now.1 - now.0.saturating_duration_since(at);
        wall.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    let per_req = |x: Option<u64>, y: Option<u64>| match (x, y) {
        (Some(x), Some(y)) if requests > 0 => Some(y.saturating_sub(x) as f64 / requests as f64),
        _ => None,
    };
    let co = goose
        .coordinated_omission_metrics
        .as_ref()
        .map(|c| report::CoResult {
            actual_requests: c.actual_requests,
            synthetic_requests: c.synthetic_requests,
            synthetic_percentage: c.synthetic_percentage,
            events: c.co_events.len(),
        });
    Ok(RunResult {
        target: label.into(),
        steady_seconds: secs,
        requests,
        throughput_rps: requests as f64 / secs,
        server_cpu_us_per_request: per_req(a.server_cpu, b.server_cpu),
        generator_cpu_us_per_request: per_req(a.own_cpu, b.own_cpu),
        server_runqueue_wait_us_per_request: per_req(a.server_wait, b.server_wait),
        generator_runqueue_wait_us_per_request: per_req(a.own_wait, b.own_wait),
        latency_us: report::Latency::of(&all),
        histogram: report::encode(&all),
        transactions,
        sent_by_operation: by_op(&shared.sent),
        denied_by_operation: by_op(&shared.denied),
        server_counted: match (&before, &after) {
            (Some(x), Some(y)) => Some(procs::counted_between(x, y, None)),
            _ => None,
        },
        server_counted_denied: match (&before, &after) {
            (Some(x), Some(y)) if y.contains("keygate_operation_requests_total") => {
                Some(procs::counted_between(x, y, Some("denied")))
            }
            _ => None,
        },
        stages: match (&a.metrics, &b.metrics) {
            (Some(x), Some(y)) => Some(procs::stage_means(x, y)),
            _ => None,
        },
        server_operations: server_ops,
        cpu_attribution: attribution,
        open_loop,
        // Open loop corrects coordinated omission itself (goose's backfill is off).
        coordinated_omission: co.filter(|_| args.rate.is_none()),
        revocation,
        steady_window_unix_ms: Some((unix_ms(a.at), unix_ms(b.at))),
        per_second: shared
            .per_second
            .iter()
            .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            .collect(),
    })
}

/// Counters by [`OPS`] slot, named.
fn by_op(counters: &[std::sync::atomic::AtomicU64; OPS.len()]) -> BTreeMap<String, u64> {
    OPS.iter()
        .zip(counters)
        .map(|(op, n)| (op.to_string(), n.load(std::sync::atomic::Ordering::Relaxed)))
        .collect()
}

/// Deletes `users` at `at`, marking when the deletion began and ended.
async fn revoke_users(
    shared: &Shared,
    admin: &crate::target::admin::AdminTarget,
    users: &[String],
    at: Instant,
) -> anyhow::Result<serde_json::Value> {
    use crate::target::Target;
    tokio::time::sleep_until(at.into()).await;
    let begin = Instant::now();
    *shared.revocation.lock().expect("revocation lock") = Some((begin, None));
    for u in users {
        admin.delete_user(u).await?;
    }
    let end = Instant::now();
    *shared.revocation.lock().expect("revocation lock") = Some((begin, Some(end)));
    Ok(serde_json::json!({
        "users_deleted": users.len(),
        "at_s_into_steady": (begin - shared.steady_from).as_secs_f64(),
        "delete_ms": (end - begin).as_secs_f64() * 1e3,
    }))
}
