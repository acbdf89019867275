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
//! (`baseline`: another plan's is refused, other settings named in a warning). The gate (its
//! file, threshold, each comparison and the verdict) and the result, with every reason the
//! run failed, are written into `load.json`, `summary.txt` and `load.html`, so a failed run's
//! artifacts say why without its console. All traffic is
//! to 127.0.0.1 (or the profile's endpoint); every attack is bounded by its duration (goose's
//! run time) and 10 s per request.
//!
//! Everything given is checked before any target starts (exit 2): the plan (its values capped,
//! `plan`), the numbers (`--max-regression` from 0% to below 100%), options that cannot apply
//! (`--target-workers` with no target spawned here), the
//! `--target` / `--compare` profiles (remote ones only), `--report-dir` (created and written to
//! once, as `run` checks it) and the `--baseline` file.
//!
//! Interrupts (`crate::interrupt`): SIGINT or SIGTERM stops the phase under way (an attack
//! through goose's killswitch; goose's own Ctrl-C handler, which would exit 1 on a second
//! Ctrl-C, is kept out by [`Interrupt::listen_before_goose`]). What provisioning created on a
//! remote target is removed, as after a failed attack, a spawned target is killed (its
//! handle's `Drop`) and its temporary directory removed; the command exits 130 / 143. The
//! attack cut short measures nothing and is left out; the attacks that finished before it (of
//! `--repeat` or `--compare`) are written as a report marked `INTERRUPTED` and judged by no
//! gate, and the closing line names it (none is written when no attack finished). A second
//! signal exits at once with the same code, without cleanup.
//!
//! What load creates on a target is named after the shard, the repeat, the target's place and
//! a random tag drawn once per invocation (also in the run id): two generators never share a
//! bucket or a user, even in containers where every process is pid 1, and a run killed
//! without cleanup leaves names the next run does not collide with.

pub mod affinity;
mod args;
pub mod attack;
pub mod baseline;
pub mod console;
pub mod html;
pub mod merge;
pub mod null;
mod once;
pub mod open_loop;
mod outcome;
pub mod plan;
pub mod procs;
pub mod remote;
pub mod report;
pub mod server_cpu;
pub mod setup;
pub mod sign;
pub mod teardown;

use args::{check_max_regression, parse_percent, parse_rate, parse_worker};
pub use args::{parse_duration, DEFAULT_MAX_REGRESSION};

use self::affinity::Pinning;
use self::once::{attack_once, How};
use self::outcome::{assemble, failures_of, partial, write_report, PartialReport, UNEXPECTED};
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
    /// The load plan: a TOML file naming the identities to provision (users, STS sessions,
    /// service accounts, `count` of each), the `[[objects]]` to pre-create and a weighted mix
    /// of `[[transactions]]`. Shipped plans are in `scenarios/load/` (auth-only, auth-denied,
    /// hot-path, sts-refresh, revocation-storm; the default is hot-path.toml, from
    /// ./scenarios if there is one, else the library shipped with this build). Values are
    /// capped so a plan cannot exhaust the machine: at most 100 000 objects in all, 64 MiB
    /// per object and 1 GiB in all, 16 MiB per PUT body, 1 000 copies of an identity,
    /// 1 000 000 keys and a weight of 1 000 per transaction; a GET or HEAD that expects `ok`
    /// must read keys an `[[objects]]` entry creates, unless they name the user (`{user}`). A
    /// plan that breaks a rule is refused
    /// (exit 2) naming the file and the key.
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
    #[arg(long, value_parser = parse_rate, allow_hyphen_values = true)]
    pub rate: Option<u64>,
    /// Warm-up, excluded from every figure.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Where the report goes: each run writes `<DIR>/<run id>/` with `load.json` (settings,
    /// every run's figures and HDR histograms, the gate on --baseline and the result with
    /// every reason the run failed), `summary.txt` (what the console shows) and `load.html`
    /// (plots). Created if missing and checked before any attack (exit 2 if it cannot be
    /// written). Default: ./reports when ./scenarios exists, else the workspace's reports/.
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
    /// Largest accepted regression of a median, in per cent of the baseline's figure: a
    /// throughput lower, or a CPU per request higher, by more than this fails the run (exit
    /// 1). `10%` and `10` are the same; 0.1 is 0.1%. One threshold holds for both figures, so
    /// it must be from 0% to below 100%: a throughput cannot drop by more than 100%, and a
    /// threshold of 100% or more could never fail on it (while CPU per request may grow
    /// without bound). Only with --baseline. Default: 10%.
    #[arg(long, value_parser = parse_percent, allow_hyphen_values = true)]
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
    /// Runtime worker threads of a target spawned here (server, null), pinned or not
    /// (`TOKIO_WORKER_THREADS`); default: pinned, one per CPU it is given, unpinned, tokio's
    /// own (one per CPU of the machine). At least 1. Refused when no target is spawned here
    /// (only remote profiles): their threads are their own.
    #[arg(long, value_name = "N")]
    pub target_workers: Option<usize>,
    /// Test only: the null target burns this many µs of CPU per request.
    #[arg(long, default_value_t = 0, hide = true)]
    pub null_spin_us: u64,
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

/// Whether any target of this run is spawned here (server, null), not remote.
fn spawns_target(args: &LoadArgs) -> bool {
    targets_of(args)
        .iter()
        .any(|w| !matches!(w, Which::Remote(_)))
}

/// What `load` prints on the first SIGINT or SIGTERM, after the signal's name.
const LOAD_NOTICE: &str = "stopping the attack, removing what it created on a remote target and \
    stopping a target it spawned; the attacks that finished are reported";

/// `keygate load`; returns the exit code (0 ok, 1 regression or unexpected outcomes, 2 usage,
/// 3 target, 130 / 143 interrupted).
pub async fn main(args: LoadArgs) -> u8 {
    // Where SIGINT cannot be claimed from goose (its one handler already taken), SIGTERM and,
    // until an attack starts, SIGINT still stop the run cleanly.
    let interrupt = Interrupt::listen_before_goose(LOAD_NOTICE)
        .or_else(|e| {
            say!(
                "warning: cannot claim SIGINT before goose ({e}): a Ctrl-C during an attack is \
                 goose's (a second one exits 1 without cleanup)"
            );
            Interrupt::listen(LOAD_NOTICE)
        })
        .unwrap_or_else(|e| {
            say!("warning: cannot catch SIGINT/SIGTERM ({e}): an interrupt will skip cleanup");
            Interrupt::never()
        });
    match run_until(&args, &interrupt).await {
        Ok((report, code)) => {
            crate::cli::out(&report::console(&report));
            code
        }
        Err(e) if e.is::<Interrupted>() || e.is::<PartialReport>() => {
            let partial = e.downcast_ref::<PartialReport>();
            let signal = match (e.downcast_ref::<Interrupted>(), partial) {
                (Some(i), _) => i.0,
                (None, Some(p)) => p.signal,
                (None, None) => Signal::Int,
            };
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
            let written = match partial {
                Some(p) => format!(
                    "the report of the {} attacks that finished is {}",
                    p.done,
                    p.file.display()
                ),
                None => "no report written".to_owned(),
            };
            say!(
                "keygate: load {e}: {}, {written}; exit {}",
                done.join(", "),
                signal.exit_code()
            );
            signal.exit_code()
        }
        Err(e) if e.is::<BadInput>() => {
            say!("error: {e:#}");
            crate::cli::EXIT_USAGE
        }
        Err(e) => {
            say!("error: {e:#}");
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
            "--duration {} s is too short: the steady phase must be at least {} s to measure \
             anything",
            args.duration.as_secs_f64(),
            MIN_STEADY.as_secs_f64()
        )));
    }
    if let Some(m) = args.max_regression {
        check_max_regression(m).map_err(|e| bad(format!("--max-regression {e}")))?;
        if args.baseline.is_none() {
            return Err(bad(format!(
                "--max-regression {}% needs --baseline FILE: without a baseline nothing is gated",
                report::percent(m)
            )));
        }
    }
    if let Some(n) = args.target_workers.filter(|_| !spawns_target(args)) {
        return Err(bad(format!(
            "--target-workers {n} sets the runtime worker threads of a target spawned here \
             (server, null), but no target is spawned here: {} a remote profile, whose threads \
             are its own; drop --target-workers",
            match &args.compare {
                Some(_) => "--target and --compare are",
                None => "--target is",
            }
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
    let spawned = spawns_target(args);
    let pin = if args.no_pin || !spawned {
        None
    } else {
        Pinning::split().map(|p| p.with_workers(args.target_workers))
    };
    let targets = targets_of(args);
    let labels = labels(&targets);
    let mut settings = serde_json::json!({
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
            None if !spawned => "not applicable (no target spawned here)".into(),
            None if args.no_pin => "off (--no-pin)".into(),
            None => "off (fewer than 2 CPUs)".into(),
        },
        "targets": labels,
        "worker": args.worker.map(|(i, n)| serde_json::json!({"index": i, "of": n})),
    });
    if spawned {
        // What the spawned targets were given (`TOKIO_WORKER_THREADS`), pinned or not.
        settings["target_worker_threads"] = match (&pin, args.target_workers) {
            (Some(p), _) => p.workers().into(),
            (None, Some(n)) => n.into(),
            (None, None) => "tokio's default (one per CPU of the machine)".into(),
        };
    }
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
                say!("{}", baseline::warning(b, &differ));
            }
            Some((b, base, differ))
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
    // Every remote target answers before any is attacked: a `--compare` profile that does
    // not would otherwise end the run after the first attack, its figures unreported.
    if targets.len() > 1 {
        for w in &targets {
            if let Which::Remote(file) = w {
                unless_interrupted(interrupt, remote::open(file)).await??;
            }
        }
    }
    let attacks = args.repeat * targets.len();
    let report_of = |runs: Vec<report::RunResult>| {
        assemble((&run_id, &plan.id, build), settings.clone(), &labels, runs)
    };
    let mut runs = Vec::new();
    for r in 0..args.repeat {
        for (k, (w, label)) in targets.iter().zip(&labels).enumerate() {
            let shard = args.worker.map_or(0, |(i, _)| i);
            let tag = format!("w{shard}{nonce}r{r}k{k}");
            let how = How {
                users,
                pin: pin.as_ref(),
                workers: args.target_workers,
            };
            let attacked = match interrupt.received() {
                Some(signal) => Err(Interrupted(signal).into()),
                None => attack_once(args, &plan, (w, label), &tag, how, interrupt).await,
            };
            match attacked {
                Ok(run) => runs.push(run),
                Err(e) => {
                    let signal = e.downcast_ref::<Interrupted>().map(|i| i.0);
                    return Err(match signal {
                        Some(signal) => partial(args, signal, report_of(runs), attacks),
                        None => e,
                    });
                }
            }
        }
    }
    // Interrupted after the last attack: the report says so.
    if let Some(signal) = interrupt.received() {
        return Err(partial(args, signal, report_of(runs), attacks));
    }
    let mut report = report_of(runs);
    // Every reason the run fails, on stderr now and in every report file.
    let mut failures = failures_of(&report);
    if failures.iter().any(|f| f.starts_with(UNEXPECTED)) {
        say!("unexpected outcomes: see the `unexpected` column");
    }
    for f in failures.iter().filter(|f| !f.starts_with(UNEXPECTED)) {
        say!("{f}");
    }
    if let Some((b, base, differ)) = baseline {
        let gate = report::judge(&report, (b, &base), max_regression, differ);
        if let Some(why) = &gate.reason {
            say!("{why}");
            failures.push(why.clone());
        }
        report.gate = Some(gate);
    }
    let result = report::Outcome::of(failures, crate::cli::EXIT_FAIL);
    let code = result.exit_code;
    report.result = Some(result);
    let dir = args.report_dir.join(&run_id);
    write_report(&dir, &report).map_err(|e| {
        BadInput(anyhow::anyhow!(
            "writing the load report to {}: {e:#}",
            dir.display()
        ))
    })?;
    crate::cli::out(&format!("wrote {}\n", dir.join("load.json").display()));
    Ok((report, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_settings_say_what_applied() {
        let remote = |p: &str| LoadArgs {
            target: Some(p.into()),
            ..test_args()
        };
        assert!(spawns_target(&test_args()));
        assert!(!spawns_target(&remote("a.toml")));
        assert!(spawns_target(&LoadArgs {
            compare: Some("null".into()),
            ..remote("a.toml")
        }));
        let e = check_args(
            &LoadArgs {
                target_workers: Some(7),
                ..remote("/nonexistent/a.toml")
            },
            1,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--target-workers 7") && e.contains("--target is a remote"),
            "{e}"
        );
        for (m, said) in [
            (1.5, "could never fail"),
            (1.0, "could never fail"),
            (-0.05, "must be at least 0%"),
            (f64::NAN, "must be at least 0%"),
        ] {
            let e = check_args(
                &LoadArgs {
                    max_regression: Some(m),
                    baseline: Some("b.json".into()),
                    ..test_args()
                },
                1,
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.starts_with("--max-regression ") && e.contains(said),
                "{m}: {e}"
            );
        }
        let near = |s: &str, v: f64| parse_percent(s).is_ok_and(|p| (p - v).abs() < 1e-12);
        assert!(near("0.1", 0.001) && near("0.05%", 0.0005) && near("10%", 0.1));
        assert!(parse_percent("99.99%").is_ok());
    }

    fn test_args() -> LoadArgs {
        LoadArgs {
            target: None,
            plan: "p.toml".into(),
            duration: Duration::from_secs(1),
            users: None,
            rate: None,
            warmup: Duration::ZERO,
            report_dir: "r".into(),
            compare: None,
            repeat: 1,
            baseline: None,
            max_regression: None,
            worker: None,
            no_pin: false,
            target_workers: None,
            null_spin_us: 0,
        }
    }

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
