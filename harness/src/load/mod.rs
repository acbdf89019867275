//! `keygate load`: SigV4 + policy load on a target, CPU per request as the headline figure.
//!
//! Phases of one attack: spawn the target as its own process (the reference server from its
//! built binary, or `keygate null-server`, the ceiling), provision the plan (`setup`), run the
//! goose attack (`attack`) for warm-up + steady phase, sample the target's and the generator's
//! CPU (`/proc`) and the server's `/_keygate/metrics` at the steady window's edges, then stop
//! the target. `--compare null` alternates target and ceiling; `--repeat N` repeats and judges
//! medians; `--baseline` gates on them. All traffic is to 127.0.0.1 (or the profile's
//! endpoint); every attack is bounded by its duration (goose's run time) and 10 s per request.

pub mod attack;
pub mod html;
pub mod merge;
pub mod null;
pub mod plan;
pub mod procs;
pub mod report;
pub mod setup;
pub mod sign;

use self::attack::{AttackSettings, Shared, OPS};
use self::report::{LoadReport, RunResult, StageResult, TxResult};
use crate::target::http::{host_of, HttpClient};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest steady phase accepted (every loop is bounded).
const MAX_DURATION: Duration = Duration::from_secs(3600);

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// `null` (the ceiling) or a remote target profile (TOML); default: the reference server,
    /// spawned as its own process from its built binary.
    #[arg(long)]
    pub target: Option<String>,
    #[arg(long, default_value_os_t = crate::cli::default_scenarios().join("load/hot-path.toml"))]
    pub plan: PathBuf,
    /// Steady phase (e.g. `30s`, `500ms`, `2m`).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Concurrent goose users.
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// Throttle to R requests per second (`500/s`); goose's coordinated-omission mitigation
    /// then backfills what a stalled user did not send.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<usize>,
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

fn parse_rate(s: &str) -> Result<usize, String> {
    s.trim_end_matches("/s")
        .parse()
        .map_err(|_| format!("not a rate: {s} (e.g. 500/s)"))
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

/// `keygate load`; returns the exit code (0 ok, 1 regression or unexpected outcomes, 2 usage,
/// 3 target).
pub async fn main(args: LoadArgs) -> u8 {
    match run(&args).await {
        Ok((report, code)) => {
            print!("{}", report::console(&report));
            code
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            crate::cli::EXIT_TARGET
        }
    }
}

pub async fn run(args: &LoadArgs) -> anyhow::Result<(LoadReport, u8)> {
    let plan = plan::load(&args.plan)?;
    anyhow::ensure!(
        args.users >= 1 && args.repeat >= 1,
        "--users and --repeat must be ≥ 1"
    );
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
            runs.push(attack_once(args, &plan, w, &tag).await?);
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
            "users": args.users, "duration_s": args.duration.as_secs_f64(),
            "warmup_s": args.warmup.as_secs_f64(), "rate": args.rate, "repeat": args.repeat,
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
    if let Some(b) = &args.baseline {
        let text = std::fs::read_to_string(b)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", b.display()))?;
        let base: LoadReport = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: not a load.json: {e}", b.display()))?;
        let (text, bad) = report::gate(&report, &base, args.max_regression);
        println!(
            "baseline {} (max regression {:.0}%):\n{text}",
            b.display(),
            args.max_regression * 100.0
        );
        if !bad.is_empty() {
            eprintln!("regression beyond the threshold: {}", bad.join(", "));
            code = crate::cli::EXIT_FAIL;
        }
    }
    println!("wrote {}", dir.join("load.json").display());
    Ok((report, code))
}

/// Counts by operation from a metrics page.
fn counted(text: &str) -> BTreeMap<String, u64> {
    OPS.iter()
        .map(|op| {
            let v = procs::series(
                text,
                &format!("keygate_requests_total{{operation=\"{op}\"}}"),
            );
            (op.to_string(), v as u64)
        })
        .collect()
}

fn stage_means(a: &str, b: &str) -> BTreeMap<String, StageResult> {
    ["sigv4", "policy", "storage", "total"]
        .iter()
        .map(|s| {
            let c = |t: &str| {
                procs::series(
                    t,
                    &format!("keygate_stage_duration_seconds_count{{stage=\"{s}\"}}"),
                )
            };
            let sum = |t: &str| {
                procs::series(
                    t,
                    &format!("keygate_stage_duration_seconds_sum{{stage=\"{s}\"}}"),
                )
            };
            let n = c(b) - c(a);
            let mean = if n > 0.0 {
                (sum(b) - sum(a)) / n * 1e6
            } else {
                0.0
            };
            (
                s.to_string(),
                StageResult {
                    count: n as u64,
                    mean_us: mean,
                },
            )
        })
        .collect()
}

/// A point-in-time sample at a window edge.
struct Sample {
    server_cpu: Option<u64>,
    own_cpu: Option<u64>,
    metrics: Option<String>,
    at: Instant,
}

async fn sample(pid: Option<u32>, http: &HttpClient, endpoint: &str) -> Sample {
    Sample {
        server_cpu: pid.and_then(procs::cpu_us),
        own_cpu: procs::cpu_us(std::process::id()),
        metrics: procs::scrape(http, endpoint).await,
        at: Instant::now(),
    }
}

async fn attack_once(
    args: &LoadArgs,
    plan: &plan::Plan,
    which: &Which,
    tag: &str,
) -> anyhow::Result<RunResult> {
    let (spawned, endpoint, root) = match which {
        Which::Server => {
            let s = procs::spawn_server().await?;
            let (e, r) = (s.endpoint.clone(), Some(s.root.clone()));
            (Some(s), e, r)
        }
        Which::Null => {
            let s = procs::spawn_null(args.null_spin_us).await?;
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
        users: args.users,
        run_time: ramp + args.warmup + args.duration + Duration::from_secs(1),
        rate: args.rate,
    };
    let goose = attack::execute(shared.clone(), &settings).await?;
    let (a, b) = sampler.await?;
    let revocation = match revoker {
        Some(h) => Some(h.await??),
        None => None,
    };
    let after = procs::scrape(&http, &endpoint).await;
    drop(spawned);

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
        transactions.push(TxResult {
            name: shared.tx_name(i).to_owned(),
            count,
            ok: st.ok,
            unexpected: st.unexpected,
            errors: st.errors.clone(),
            latency_us: report::Latency::of(&st.hist),
            histogram: report::encode(&st.hist),
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
        latency_us: report::Latency::of(&all),
        histogram: report::encode(&all),
        transactions,
        sent_by_operation: OPS
            .iter()
            .zip(&shared.sent)
            .map(|(op, n)| (op.to_string(), n.load(std::sync::atomic::Ordering::Relaxed)))
            .collect(),
        server_counted: match (&before, &after) {
            (Some(x), Some(y)) => Some(
                counted(y)
                    .into_iter()
                    .map(|(op, n)| {
                        let n0 = counted(x)[&op];
                        (op, n - n0)
                    })
                    .collect(),
            ),
            _ => None,
        },
        stages: match (&a.metrics, &b.metrics) {
            (Some(x), Some(y)) => Some(stage_means(x, y)),
            _ => None,
        },
        coordinated_omission: co,
        revocation,
        per_second: shared
            .per_second
            .iter()
            .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            .collect(),
    })
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
