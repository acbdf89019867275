//! `keygate load`: SigV4 + policy load on a target, CPU per request as the headline figure.
//!
//! Phases of one attack: spawn the target as its own process (the reference server from its
//! built binary, or `keygate null-server`, the ceiling; pinned to its own CPU, `affinity`),
//! provision the plan (`setup`), run the goose attack (`attack`; open loop with `--rate`,
//! `open_loop`) for warm-up + steady phase, sample the target's and the generator's CPU
//! (`/proc`) and the server's `/_keygate/metrics` at the steady window's edges (server CPU per
//! transaction type from both, `server_cpu`), then stop the target. `--compare null` alternates target and ceiling; `--repeat N` repeats and judges
//! medians; `--baseline` gates on them. All traffic is to 127.0.0.1 (or the profile's
//! endpoint); every attack is bounded by its duration (goose's run time) and 10 s per request.
//!
//! Interrupts (`crate::interrupt`): SIGTERM at any time, and SIGINT until the first attack,
//! drop the run at once, which kills the spawned target (its handle's `Drop`) and removes its
//! temporary directory; the command exits 143 / 130 and writes no report (a cut attack
//! measures nothing). Goose takes SIGINT over when an attack starts (its Ctrl-C handler ends
//! the attack early, and a second Ctrl-C exits at once): an attack that goose reports as
//! cancelled, or a cancel seen before the next attack, ends the run the same way.

pub mod affinity;
pub mod attack;
pub mod console;
pub mod html;
pub mod merge;
pub mod null;
pub mod open_loop;
pub mod plan;
pub mod procs;
pub mod report;
pub mod server_cpu;
pub mod setup;
pub mod sign;

use self::affinity::Pinning;
use self::attack::{AttackSettings, Shared, OPS};
use self::report::{LoadReport, RunResult, TxResult};
use crate::interrupt::{Interrupt, Interrupted, Signal};
use crate::target::http::{host_of, HttpClient};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest steady phase accepted (every loop is bounded).
const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Shortest steady phase accepted: below it the window holds too few requests and CPU
/// samples (`/proc` ticks are 10 ms) for any figure to mean something.
pub const MIN_STEADY: Duration = Duration::from_secs(1);

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// `null` (the ceiling) or a remote target profile (TOML); default: the reference server,
    /// spawned as its own process from its built binary.
    #[arg(long)]
    pub target: Option<String>,
    #[arg(long, default_value_os_t = crate::cli::default_scenarios().join("load/hot-path.toml"))]
    pub plan: PathBuf,
    /// Steady phase (e.g. `30s`, `1500ms`, `2m`); at least 1 s.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Concurrent goose users, each with its own connection (default: 8; with --rate, enough
    /// for 4 ms of the schedule: rate/250, 16 to 512).
    #[arg(long)]
    pub users: Option<usize>,
    /// Open loop at R requests per second (`500/s`), as wrk2: requests are due at fixed
    /// intended start times t0 + k/R whatever the target does, the users take them in turn,
    /// and latency runs from the intended start, so a stall shows up as latency rather than
    /// as fewer requests. The report says how late the generator itself was, and the run
    /// fails when it could not keep the schedule (too few users or too little CPU). Without
    /// --rate the users are a closed loop: each sends its next request when answered.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<u64>,
    /// Warm-up, excluded from every figure.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    #[arg(long, default_value_os_t = crate::cli::default_reports())]
    pub report_dir: PathBuf,
    /// Also run the same plan against `null` (alternating) and report the ratios.
    #[arg(long)]
    pub compare: Option<String>,
    /// Runs per target; figures are medians.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// A saved `load.json` to compare medians with.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Largest accepted regression of a median (throughput down, CPU per request up).
    #[arg(long, default_value = "10%", value_parser = parse_percent)]
    pub max_regression: f64,
    /// Run shard I of N (0-based) of a distributed run: identities and bucket are made unique
    /// per shard; `keygate report merge` combines the shards' `load.json`. Each shard runs
    /// `--users` users, so the whole run has N × users.
    #[arg(long, value_parser = parse_worker)]
    pub worker: Option<(usize, usize)>,
    /// Do not pin a spawned target to its own CPU (by default, with 2 or more CPUs, the target
    /// runs on the last one with one runtime worker thread and the generator on the others).
    #[arg(long)]
    pub no_pin: bool,
    /// Runtime worker threads of a pinned target (default: one per CPU it is given).
    #[arg(long, value_name = "N")]
    pub target_workers: Option<usize>,
    /// Test only: the null target burns this many µs of CPU per request.
    #[arg(long, default_value_t = 0, hide = true)]
    pub null_spin_us: u64,
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: u64 = n.parse().map_err(|_| format!("not a duration: {s}"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(format!("unknown unit in {s} (ms, s, m)")),
    };
    (d <= MAX_DURATION)
        .then_some(d)
        .ok_or_else(|| format!("{s} is longer than an hour"))
}

fn parse_rate(s: &str) -> Result<u64, String> {
    match s.trim_end_matches("/s").parse() {
        Ok(r) if r > 0 => Ok(r),
        _ => Err(format!("not a rate: {s} (e.g. 500/s)")),
    }
}

fn parse_worker(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or_else(|| format!("not I/N: {s}"))?;
    let (i, n): (usize, usize) = (
        i.parse().map_err(|_| format!("not I/N: {s}"))?,
        n.parse().map_err(|_| format!("not I/N: {s}"))?,
    );
    if i < n {
        Ok((i, n))
    } else {
        Err(format!("worker index {i} is not below {n} (0-based)"))
    }
}

fn parse_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("not a percentage: {s}"))?;
    Ok(v / 100.0)
}

/// Which target one attack runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Which {
    Server,
    Null,
    Remote(PathBuf),
}

impl Which {
    fn parse(s: Option<&str>) -> Which {
        match s {
            None | Some("server") => Which::Server,
            Some("null") => Which::Null,
            Some(f) => Which::Remote(PathBuf::from(f)),
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Which::Server => "server",
            Which::Null => "null",
            Which::Remote(_) => "remote",
        }
    }
}

/// What `load` prints on the first SIGINT or SIGTERM, after the signal's name.
const LOAD_NOTICE: &str = "stopping the attack and the target it runs on; no report is written";

/// `keygate load`; returns the exit code (0 ok, 1 regression or unexpected outcomes, 2 usage,
/// 3 target, 130 / 143 interrupted).
pub async fn main(args: LoadArgs) -> u8 {
    let interrupt = Interrupt::listen(LOAD_NOTICE).unwrap_or_else(|e| {
        eprintln!("warning: cannot catch SIGINT/SIGTERM ({e}): an interrupt will skip cleanup");
        Interrupt::never()
    });
    // The interrupt drops the run: a spawned target is killed and its directory removed.
    let outcome = tokio::select! {
        biased;
        signal = interrupt.wait() => Err(Interrupted(signal).into()),
        r = run(&args) => r,
    };
    match outcome {
        Ok((report, code)) => {
            crate::cli::out(&report::console(&report));
            code
        }
        Err(e) if e.is::<Interrupted>() => {
            let signal = e.downcast_ref::<Interrupted>().map_or(Signal::Int, |i| i.0);
            eprintln!(
                "keygate: load {e}: the target it spawned is stopped, no report written; exit {}",
                signal.exit_code()
            );
            signal.exit_code()
        }
        Err(e) if e.is::<BadInput>() => {
            eprintln!("error: {e:#}");
            crate::cli::EXIT_USAGE
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            crate::cli::EXIT_TARGET
        }
    }
}

/// A mistake in what `load` was given (plan, arguments, target profile, baseline), found
/// before anything starts: exit 2, not 3.
#[derive(Debug)]
pub struct BadInput(anyhow::Error);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for BadInput {}

pub async fn run(args: &LoadArgs) -> anyhow::Result<(LoadReport, u8)> {
    let plan = plan::load(&args.plan).map_err(BadInput)?;
    let users = args
        .users
        .unwrap_or_else(|| args.rate.map_or(8, open_loop::default_users));
    for (flag, n) in [("--users", users), ("--repeat", args.repeat)] {
        if n == 0 {
            return Err(BadInput(anyhow::anyhow!("{flag} must be at least 1")).into());
        }
    }
    if args.duration < MIN_STEADY {
        return Err(BadInput(anyhow::anyhow!(
            "--duration {:?} is too short: the steady phase must be at least {:?} to measure anything",
            args.duration,
            MIN_STEADY
        ))
        .into());
    }
    for w in [args.target.as_deref(), args.compare.as_deref()] {
        if let Which::Remote(file) = Which::parse(w) {
            crate::target::remote::open(&file, None)
                .map_err(|e| BadInput(e.context("--target")))?;
        }
    }
    let baseline = match &args.baseline {
        Some(b) => Some((b, read_baseline(b).map_err(BadInput)?)),
        None => None,
    };
    // Applies to targets spawned here only (a remote target's CPUs are not ours to choose).
    let pin = if args.no_pin {
        None
    } else {
        Pinning::split().map(|p| p.with_workers(args.target_workers))
    };
    let mut targets = vec![Which::parse(args.target.as_deref())];
    if let Some(c) = &args.compare {
        targets.push(Which::parse(Some(c)));
    }
    let shard = args
        .worker
        .map_or(String::new(), |(i, n)| format!("-w{i}of{n}"));
    let run_id = format!(
        "load-{}-{}{shard}",
        time::OffsetDateTime::now_utc().unix_timestamp(),
        std::process::id()
    );
    let mut runs = Vec::new();
    for r in 0..args.repeat {
        for (k, w) in targets.iter().enumerate() {
            let shard = args.worker.map_or(0, |(i, _)| i);
            let tag = format!("w{shard}p{}r{r}k{k}", std::process::id() % 100_000);
            let how = How {
                users,
                pin: pin.as_ref(),
            };
            // A Ctrl-C that goose's handler caught after the last attack ended.
            if goose::is_killswitch_triggered() {
                return Err(Interrupted(Signal::Int).into());
            }
            runs.push(attack_once(args, &plan, w, &tag, how).await?);
        }
    }
    let summary = report::summarize(&runs);
    let ratios = (targets.len() == 2).then(|| {
        let (a, b) = (&summary[targets[0].label()], &summary[targets[1].label()]);
        serde_json::json!({
            "server_cpu_per_request": match (a.server_cpu_us_per_request, b.server_cpu_us_per_request) {
                (Some(x), Some(y)) if y > 0.0 => Some(x / y),
                _ => None,
            },
            "throughput": if b.throughput_rps > 0.0 { a.throughput_rps / b.throughput_rps } else { 0.0 },
        })
    });
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let report = LoadReport {
        version: report::LOAD_REPORT_VERSION,
        run_id: run_id.clone(),
        plan: plan.id.clone(),
        settings: serde_json::json!({
            "users": users, "duration_s": args.duration.as_secs_f64(),
            "warmup_s": args.warmup.as_secs_f64(), "repeat": args.repeat,
            "load": match args.rate {
                Some(r) => format!("open loop at {r}/s (latency from intended start times)"),
                None => "closed loop (each user sends when answered)".to_owned(),
            },
            "rate": args.rate,
            "pin": match &pin {
                Some(p) => serde_json::json!({
                    "target_cpus": p.target_cpus(), "generator_cpus": p.generator_cpus(),
                    "target_worker_threads": p.workers(),
                    "applies_to": "spawned targets (server, null)",
                }),
                None if args.no_pin => "off (--no-pin)".into(),
                None => "off (fewer than 2 CPUs)".into(),
            },
            "targets": targets.iter().map(Which::label).collect::<Vec<_>>(),
            "worker": args.worker.map(|(i, n)| serde_json::json!({"index": i, "of": n})),
        }),
        machine: serde_json::json!({
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "generator_build": if cfg!(debug_assertions) { "debug" } else { "release" },
            "loadavg_at_end": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        }),
        runs,
        summary,
        ratios,
    };
    let dir = args.report_dir.join(&run_id);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("load.json"), serde_json::to_vec_pretty(&report)?)?;
    std::fs::write(dir.join("summary.txt"), report::console(&report))?;
    std::fs::write(dir.join("load.html"), html::render(&report))?;
    let mut code = 0;
    if report
        .runs
        .iter()
        .any(|r| r.transactions.iter().any(|t| t.unexpected > 0))
    {
        eprintln!("unexpected outcomes: see the `unexpected` column");
        code = crate::cli::EXIT_FAIL;
    }
    for r in &report.runs {
        if let Some(o) = r.open_loop.as_ref().filter(|o| !o.kept_schedule) {
            eprintln!(
                "[{}] the generator did not keep the {}/s schedule: {}",
                r.target,
                o.rate,
                o.problems.join("; ")
            );
            code = crate::cli::EXIT_FAIL;
        }
    }
    if let Some((b, base)) = &baseline {
        let (text, bad) = report::gate(&report, base, args.max_regression);
        crate::cli::out(&format!(
            "baseline {} (max regression {:.0}%):\n{text}\n",
            b.display(),
            args.max_regression * 100.0
        ));
        if !bad.is_empty() {
            eprintln!("regression beyond the threshold: {}", bad.join(", "));
            code = crate::cli::EXIT_FAIL;
        }
    }
    crate::cli::out(&format!("wrote {}\n", dir.join("load.json").display()));
    Ok((report, code))
}

fn read_baseline(b: &std::path::Path) -> anyhow::Result<LoadReport> {
    let text = std::fs::read_to_string(b)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", b.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a load.json: {e}", b.display()))
}

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
struct How<'a> {
    users: usize,
    pin: Option<&'a Pinning>,
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

async fn attack_once(
    args: &LoadArgs,
    plan: &plan::Plan,
    which: &Which,
    tag: &str,
    how: How<'_>,
) -> anyhow::Result<RunResult> {
    let pin = match which {
        Which::Server | Which::Null => how.pin,
        Which::Remote(_) => None,
    };
    let (spawned, endpoint, root) = match which {
        Which::Server => {
            let s = procs::spawn_server(pin).await?;
            let (e, r) = (s.endpoint.clone(), Some(s.root.clone()));
            (Some(s), e, r)
        }
        Which::Null => {
            let s = procs::spawn_null(args.null_spin_us, pin).await?;
            let e = s.endpoint.clone();
            (Some(s), e, None)
        }
        Which::Remote(file) => {
            let t = crate::target::remote::open(file, None)?;
            let root = (t.root.access_key.clone(), t.root.secret_key.clone());
            (None, t.info.endpoint.clone(), Some(root))
        }
    };
    let pid = spawned.as_ref().map(procs::Spawned::pid);
    let prov = setup::provision(plan, &endpoint, root.as_ref(), tag).await?;
    let http = HttpClient::new()?;
    let before = procs::scrape(&http, &endpoint).await;
    let ramp = Duration::from_secs(1);
    let t0 = Instant::now();
    let from = t0 + ramp + args.warmup;
    let until = from + args.duration;
    let mut shared = Shared::new(plan.clone(), prov, host_of(&endpoint), from, until);
    shared.check_expect = *which != Which::Null;
    shared.pacer = args.rate.map(|rate| {
        let schedule = open_loop::Schedule::new(t0 + ramp, rate);
        open_loop::Pacer::start(schedule, until, from, until)
    });
    let revoke = match (&plan.revoke, &root) {
        (Some(r), Some(root)) => {
            let users: Vec<String> = shared.prov.identities[&r.identity]
                .iter()
                .map(|i| i.user.clone())
                .collect();
            shared.revoked_users = users.clone();
            let at = from + args.duration.mul_f64(r.at);
            Some((users, at, setup::admin_target(&endpoint, root)?))
        }
        _ => None,
    };
    let shared = Arc::new(shared);
    let revoker = revoke.map(|(users, at, admin)| {
        let shared = shared.clone();
        tokio::spawn(async move { revoke_users(&shared, &admin, &users, at).await })
    });
    let sampler = {
        let (http, endpoint) = (http.clone(), endpoint.clone());
        tokio::spawn(async move {
            tokio::time::sleep_until(from.into()).await;
            let a = sample(pid, &http, &endpoint).await;
            tokio::time::sleep_until(until.into()).await;
            let b = sample(pid, &http, &endpoint).await;
            (a, b)
        })
    };
    let settings = AttackSettings {
        endpoint: endpoint.clone(),
        users: how.users,
        run_time: ramp + args.warmup + args.duration + Duration::from_secs(1),
        open_loop: args.rate.is_some(),
    };
    let pinned = PinnedGenerator::new(pin)?;
    let goose = attack::execute(shared.clone(), &settings).await;
    drop(pinned);
    let goose = goose?;
    // Goose's Ctrl-C handler cut the attack short: its figures would be wrong.
    if goose::is_killswitch_triggered() {
        return Err(Interrupted(Signal::Int).into());
    }
    let (a, b) = sampler.await?;
    let open_loop = shared.pacer.as_ref().map(|p| p.finish(how.users));
    let revocation = match revoker {
        Some(h) => Some(h.await??),
        None => None,
    };
    let after = procs::scrape(&http, &endpoint).await;
    drop(spawned);

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
            errors: st.errors.clone(),
            latency_us: report::Latency::of(&st.hist),
            histogram: report::encode(&st.hist),
            server_cpu,
        });
    }
    let secs = (b.at - a.at).as_secs_f64().max(1e-3);
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
        target: which.label().into(),
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
