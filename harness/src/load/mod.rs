//! `keygate load`: SigV4 + policy load on a target, CPU per request as the headline figure.
//!
//! Phases of one attack: spawn the target as its own process (the reference server from its
//! built binary, or `keygate null-server`, the ceiling; pinned to its own CPU, `affinity`), or
//! open a remote profile and preflight it (`remote`: its region, root keys and CA, as `keygate
//! run` reads them), provision the plan (`setup`), run the goose attack (`attack`; open loop
//! with `--rate`, `open_loop`) for warm-up + steady phase, sample the target's and the
//! generator's CPU (`/proc`) and the server's `/_keygate/metrics` at the steady window's edges
//! (server CPU per transaction type from both, `server_cpu`), remove what provisioning created
//! on a remote target (`teardown`), then stop a spawned target. `--compare null` alternates
//! target and ceiling; `--repeat N` repeats and judges medians; `--baseline` gates on them
//! (`baseline`: another plan's is refused, other settings named in a warning). All traffic is
//! to 127.0.0.1 (or the profile's endpoint); every attack is bounded by its duration (goose's
//! run time) and 10 s per request.
//!
//! Everything given is checked before any target starts (exit 2): the plan, the numbers, the
//! `--target` / `--compare` profiles (remote ones only), `--report-dir` (created and written to
//! once, as `run` checks it) and the `--baseline` file.
//!
//! Interrupts (`crate::interrupt`): SIGINT or SIGTERM stops the phase under way (an attack
//! through goose's killswitch; goose's own Ctrl-C handler, which would exit 1 on a second
//! Ctrl-C, is kept out by [`Interrupt::listen_before_goose`]). What provisioning created on a
//! remote target is removed, as after a failed attack, a spawned target is killed (its
//! handle's `Drop`) and its temporary directory removed; the command exits 130 / 143 and
//! writes no report (a cut attack measures nothing). A second signal exits at once with the
//! same code, without cleanup.
//!
//! What load creates on a target is named after the shard, the repeat, the target's place and
//! a random tag drawn once per invocation (also in the run id): two generators never share a
//! bucket or a user, even in containers where every process is pid 1, and a run killed
//! without cleanup leaves names the next run does not collide with.

pub mod affinity;
pub mod attack;
pub mod baseline;
pub mod console;
pub mod html;
pub mod merge;
pub mod null;
mod once;
pub mod open_loop;
pub mod plan;
pub mod procs;
pub mod remote;
pub mod report;
pub mod server_cpu;
pub mod setup;
pub mod sign;
pub mod teardown;

use self::affinity::Pinning;
use self::once::{attack_once, How};
use self::report::LoadReport;
use crate::interrupt::{Interrupt, Interrupted, Signal};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest steady phase accepted (every loop is bounded).
const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Shortest steady phase accepted: below it the window holds too few requests and CPU
/// samples (`/proc` ticks are 10 ms) for any figure to mean something.
pub const MIN_STEADY: Duration = Duration::from_secs(1);

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// `null` (the ceiling) or a `kind = "remote"` target profile (TOML; its endpoint, region,
    /// root keys and `ca_file` are used); default: the reference server, spawned as its own
    /// process from its built binary. What load creates on a remote target (a bucket, users,
    /// policies) is removed after each attack, also when it fails or is interrupted.
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
    /// Also run the same plan against `null` (or a remote profile), alternating, and report
    /// the ratios.
    #[arg(long)]
    pub compare: Option<String>,
    /// Runs per target; figures are medians.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// A saved `load.json` of the same plan to compare medians with (a warning names the
    /// settings it was recorded with that differ from this run's).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Largest accepted regression of a median (throughput down, CPU per request up); only
    /// with --baseline. Default: 10%.
    #[arg(long, value_parser = parse_percent)]
    pub max_regression: Option<f64>,
    /// Run shard I of N (0-based) of a distributed run: identities and bucket are made unique
    /// per shard; `keygate report merge` combines the shards' `load.json`. Each shard runs
    /// `--users` users, so the whole run has N × users.
    #[arg(long, value_parser = parse_worker)]
    pub worker: Option<(usize, usize)>,
    /// Do not pin a spawned target to its own CPU (by default, with 2 or more CPUs, the target
    /// runs on the last one with one runtime worker thread and the generator on the others).
    #[arg(long)]
    pub no_pin: bool,
    /// Runtime worker threads of a pinned target (default: one per CPU it is given); at
    /// least 1.
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

/// `--max-regression` when none is given.
pub const DEFAULT_MAX_REGRESSION: f64 = 0.10;

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

/// What each target is called in the report: its kind, except when `--target` and
/// `--compare` are both remote profiles, which are then told apart by file name (or, when the
/// names are the same, by path), so their figures are never pooled under one name.
fn labels(targets: &[Which]) -> Vec<String> {
    let remotes: Vec<&Path> = targets
        .iter()
        .filter_map(|w| match w {
            Which::Remote(p) => Some(p.as_path()),
            _ => None,
        })
        .collect();
    let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned());
    let stems: std::collections::BTreeSet<_> = remotes.iter().map(|p| stem(p)).collect();
    let by_stem = stems.len() == remotes.len();
    targets
        .iter()
        .map(|w| match w {
            Which::Remote(p) if remotes.len() > 1 && by_stem => {
                format!("remote:{}", stem(p).unwrap_or_default())
            }
            Which::Remote(p) if remotes.len() > 1 => format!("remote:{}", p.display()),
            w => w.label().to_owned(),
        })
        .collect()
}

/// The targets each repeat attacks, in turn: `--target`, then `--compare`'s.
fn targets_of(args: &LoadArgs) -> Vec<Which> {
    let mut targets = vec![Which::parse(args.target.as_deref())];
    if let Some(c) = &args.compare {
        targets.push(Which::parse(Some(c)));
    }
    targets
}

/// What `load` prints on the first SIGINT or SIGTERM, after the signal's name.
const LOAD_NOTICE: &str = "stopping the attack, removing what it created on a remote target and \
    stopping a target it spawned; no report is written";

/// `keygate load`; returns the exit code (0 ok, 1 regression or unexpected outcomes, 2 usage,
/// 3 target, 130 / 143 interrupted).
pub async fn main(args: LoadArgs) -> u8 {
    // Where SIGINT cannot be claimed from goose (its one handler already taken), SIGTERM and,
    // until an attack starts, SIGINT still stop the run cleanly.
    let interrupt = Interrupt::listen_before_goose(LOAD_NOTICE)
        .or_else(|e| {
            eprintln!(
                "warning: cannot claim SIGINT before goose ({e}): a Ctrl-C during an attack is \
                 goose's (a second one exits 1 without cleanup)"
            );
            Interrupt::listen(LOAD_NOTICE)
        })
        .unwrap_or_else(|e| {
            eprintln!("warning: cannot catch SIGINT/SIGTERM ({e}): an interrupt will skip cleanup");
            Interrupt::never()
        });
    match run_until(&args, &interrupt).await {
        Ok((report, code)) => {
            crate::cli::out(&report::console(&report));
            code
        }
        Err(e) if e.is::<Interrupted>() => {
            let signal = e.downcast_ref::<Interrupted>().map_or(Signal::Int, |i| i.0);
            let targets = targets_of(&args);
            let remote = targets.iter().any(|w| matches!(w, Which::Remote(_)));
            let spawned = targets.iter().any(|w| !matches!(w, Which::Remote(_)));
            let mut done = Vec::new();
            if spawned {
                done.push("the target it spawned is stopped");
            }
            if remote {
                done.push("what it created on the remote target is removed");
            }
            eprintln!(
                "keygate: load {e}: {}, no report written; exit {}",
                done.join(", "),
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

/// A mistake in what `load` was given (plan, arguments, target profile, baseline, a report
/// directory that cannot be written), found before anything starts: exit 2, not 3. A report
/// that cannot be written after the attacks is exit 2 as well, as for `run`.
#[derive(Debug)]
pub struct BadInput(anyhow::Error);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for BadInput {}

fn bad(message: String) -> anyhow::Error {
    BadInput(anyhow::anyhow!(message)).into()
}

/// `f`, unless an interrupt comes first (then `f` is dropped where it stands).
async fn unless_interrupted<T>(
    interrupt: &Interrupt,
    f: impl Future<Output = T>,
) -> Result<T, Interrupted> {
    tokio::select! {
        biased;
        signal = interrupt.wait() => Err(Interrupted(signal)),
        v = f => Ok(v),
    }
}

/// [`run_until`] without interrupts (library callers and tests).
pub async fn run(args: &LoadArgs) -> anyhow::Result<(LoadReport, u8)> {
    run_until(args, &Interrupt::never()).await
}

/// Check what `load` was given, before anything starts: `Err` is a [`BadInput`].
fn check_args(args: &LoadArgs, users: usize) -> anyhow::Result<()> {
    for (flag, n) in [
        ("--users", Some(users)),
        ("--repeat", Some(args.repeat)),
        ("--target-workers", args.target_workers),
    ] {
        if n == Some(0) {
            return Err(bad(format!("{flag} must be at least 1")));
        }
    }
    if args.duration < MIN_STEADY {
        return Err(bad(format!(
            "--duration {:?} is too short: the steady phase must be at least {:?} to measure anything",
            args.duration, MIN_STEADY
        )));
    }
    if let (Some(m), None) = (args.max_regression, &args.baseline) {
        return Err(bad(format!(
            "--max-regression {:.0}% needs --baseline FILE: without a baseline nothing is gated",
            m * 100.0
        )));
    }
    if let Some(c) = &args.compare {
        let same = |a: &Which, b: &Which| match (a, b) {
            (Which::Remote(x), Which::Remote(y)) => {
                x == y
                    || x.canonicalize()
                        .ok()
                        .is_some_and(|x| y.canonicalize().ok() == Some(x))
            }
            (a, b) => a == b,
        };
        if same(
            &Which::parse(args.target.as_deref()),
            &Which::parse(Some(c)),
        ) {
            return Err(bad(format!(
                "--compare {c} is the target itself: its figures would be pooled with the \
                 target's under one name; compare with `null` or another target"
            )));
        }
    }
    for (flag, w) in [
        ("--target", args.target.as_deref()),
        ("--compare", args.compare.as_deref()),
    ] {
        if let Which::Remote(file) = Which::parse(w) {
            remote::check(flag, &file).map_err(BadInput)?;
        }
    }
    Ok(())
}

/// `keygate load`, stopping when `interrupt` comes (see the module header).
pub async fn run_until(args: &LoadArgs, interrupt: &Interrupt) -> anyhow::Result<(LoadReport, u8)> {
    let plan = plan::load(&args.plan).map_err(BadInput)?;
    let users = args
        .users
        .unwrap_or_else(|| args.rate.map_or(8, open_loop::default_users));
    check_args(args, users)?;
    // Applies to targets spawned here only (a remote target's CPUs are not ours to choose).
    let pin = if args.no_pin {
        None
    } else {
        Pinning::split().map(|p| p.with_workers(args.target_workers))
    };
    let targets = targets_of(args);
    let labels = labels(&targets);
    let settings = serde_json::json!({
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
        "targets": labels,
        "worker": args.worker.map(|(i, n)| serde_json::json!({"index": i, "of": n})),
    });
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let baseline = match &args.baseline {
        Some(b) => {
            let base = baseline::read(b).map_err(BadInput)?;
            let differ =
                baseline::comparable(b, &base, &plan.id, &settings, build).map_err(BadInput)?;
            if !differ.is_empty() {
                eprintln!("{}", baseline::warning(b, &differ));
            }
            Some((b, base))
        }
        None => None,
    };
    // Last of the checks, so that a refused baseline leaves no empty directory behind.
    crate::report::prepare_dir(&args.report_dir).map_err(BadInput)?;
    let max_regression = args.max_regression.unwrap_or(DEFAULT_MAX_REGRESSION);
    let shard = args
        .worker
        .map_or(String::new(), |(i, n)| format!("-w{i}of{n}"));
    let nonce = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let run_id = format!(
        "load-{}-{nonce}{shard}",
        time::OffsetDateTime::now_utc().unix_timestamp(),
    );
    let mut runs = Vec::new();
    for r in 0..args.repeat {
        for (k, (w, label)) in targets.iter().zip(&labels).enumerate() {
            let shard = args.worker.map_or(0, |(i, _)| i);
            let tag = format!("w{shard}{nonce}r{r}k{k}");
            let how = How {
                users,
                pin: pin.as_ref(),
            };
            if let Some(signal) = interrupt.received() {
                return Err(Interrupted(signal).into());
            }
            runs.push(attack_once(args, &plan, (w, label), &tag, how, interrupt).await?);
        }
    }
    // Interrupted after the last attack: no report either.
    if let Some(signal) = interrupt.received() {
        return Err(Interrupted(signal).into());
    }
    let summary = report::summarize(&runs);
    let ratios = (targets.len() == 2).then(|| {
        let (a, b) = (&summary[&labels[0]], &summary[&labels[1]]);
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
        settings,
        machine: serde_json::json!({
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "generator_build": build,
            "loadavg_at_end": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        }),
        runs,
        summary,
        ratios,
    };
    let dir = args.report_dir.join(&run_id);
    write_report(&dir, &report).map_err(|e| {
        BadInput(anyhow::anyhow!(
            "writing the load report to {}: {e:#}",
            dir.display()
        ))
    })?;
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
        let (text, bad) = report::gate(&report, base, max_regression);
        crate::cli::out(&format!(
            "baseline {} (max regression {:.0}%):\n{text}\n",
            b.display(),
            max_regression * 100.0
        ));
        if !bad.is_empty() {
            eprintln!("regression beyond the threshold: {}", bad.join(", "));
            code = crate::cli::EXIT_FAIL;
        }
    }
    crate::cli::out(&format!("wrote {}\n", dir.join("load.json").display()));
    Ok((report, code))
}

fn write_report(dir: &Path, report: &LoadReport) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("load.json"), serde_json::to_vec_pretty(report)?)?;
    std::fs::write(dir.join("summary.txt"), report::console(report))?;
    std::fs::write(dir.join("load.html"), html::render(report))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_remote_profiles_are_told_apart_by_name_else_by_path() {
        let remote = |p: &str| Which::Remote(PathBuf::from(p));
        assert_eq!(labels(&[Which::Server, Which::Null]), ["server", "null"]);
        assert_eq!(
            labels(&[remote("a/x.toml"), Which::Null]),
            ["remote", "null"]
        );
        assert_eq!(
            labels(&[remote("/etc/a.toml"), remote("b/b.toml")]),
            ["remote:a", "remote:b"]
        );
        assert_eq!(
            labels(&[remote("a/x.toml"), remote("b/x.toml")]),
            ["remote:a/x.toml", "remote:b/x.toml"]
        );
    }
}
