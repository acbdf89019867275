//! `keygate run`: open the target, check it answers S3 (the preflight), run the selected
//! scenarios, write the reports and turn the verdicts into the exit code. The exit codes and
//! what an interrupt does are in the parent module's documentation.

use super::{select, workspace_root, RunArgs, EXIT_FAIL, EXIT_PASS, EXIT_TARGET, EXIT_USAGE};
use crate::interrupt::Interrupt;
use crate::report::known::KnownFailures;
use crate::report::{self, RunMeta, RunReport, Verdict};
use crate::run::runner::{self, Plan};
use crate::scenario::{Profile, Scenario, Transport};
use crate::target::{self, Target};
use std::path::{Path, PathBuf};

fn nonce() -> String {
    use sha2::{Digest, Sha256};
    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    hex::encode(&Sha256::digest(seed.as_bytes())[..3])
}

async fn open_target(args: &RunArgs) -> anyhow::Result<Box<dyn Target>> {
    let profile = args.profile.map(Profile::from);
    match &args.target {
        Some(file) => target::open(file, profile).await,
        None => start_embedded(profile, args.tls.then(|| tls_ca_file(args))).await,
    }
}

/// Where `--tls` writes the run's CA certificate.
pub fn tls_ca_file(args: &RunArgs) -> PathBuf {
    args.report_dir.join("ca.pem")
}

#[cfg(feature = "embedded")]
async fn start_embedded(
    profile: Option<Profile>,
    tls_ca_out: Option<PathBuf>,
) -> anyhow::Result<Box<dyn Target>> {
    Ok(Box::new(match tls_ca_out {
        Some(ca) => target::embedded::start_tls(profile, &ca).await?,
        None => target::embedded::start(profile).await?,
    }))
}

#[cfg(not(feature = "embedded"))]
async fn start_embedded(
    _profile: Option<Profile>,
    _tls_ca_out: Option<PathBuf>,
) -> anyhow::Result<Box<dyn Target>> {
    anyhow::bail!("this keygate was built without the `embedded` feature: pass --target FILE")
}

/// What `run` prints on the first SIGINT or SIGTERM, after the signal's name.
const RUN_NOTICE: &str = "stopping: no further scenario starts, the running ones are \
    abandoned and cleaned up, then what the run started is stopped (the in-process server, \
    a container; a remote server keeps running) and the reports are written";

/// `keygate run`: returns the exit code.
pub async fn run(args: RunArgs) -> u8 {
    // From here on SIGINT and SIGTERM end the run through the same teardown as its end.
    let interrupt = Interrupt::listen(RUN_NOTICE).unwrap_or_else(|e| {
        say!("warning: cannot catch SIGINT/SIGTERM ({e}): an interrupt will skip cleanup");
        Interrupt::never()
    });
    let (scenarios, filter) = match select(&args.scenarios, &args.select) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if args.jobs == 0 {
        say!("error: --jobs must be at least 1");
        return EXIT_USAGE;
    }
    if let Some(file) = &args.target {
        if let Err(e) = target::check(file) {
            say!("error: target: {e:#}");
            return EXIT_USAGE;
        }
    }
    if let Some(file) = &args.known_failures {
        if let Err(e) = KnownFailures::load(file, &scenarios) {
            say!("error: {e:#}");
            return EXIT_USAGE;
        }
    }
    if let Err(e) = report::prepare_run_dir(&args.report_dir) {
        say!("error: {e:#}");
        return EXIT_USAGE;
    }
    if let Some(signal) = interrupt.received() {
        say!(
            "keygate: interrupted by {} before the target started",
            signal.name()
        );
        return signal.exit_code();
    }
    // Not raced with the interrupt: a target dropped half-started (a container being
    // created) could not be torn down. One that starts is then shut down at once.
    let target = match open_target(&args).await {
        Ok(t) => t,
        Err(e) => {
            say!("error: target: {e:#}");
            return interrupt.received().map_or(EXIT_TARGET, |s| s.exit_code());
        }
    };
    let code = run_on_until(&*target, &scenarios, &args, filter, &interrupt).await;
    target.shutdown().await;
    match interrupt.received() {
        Some(signal) => {
            say!(
                "keygate: interrupted by {}: {}; exit {}",
                signal.name(),
                released(&target.info().kind),
                signal.exit_code()
            );
            signal.exit_code()
        }
        None => code,
    }
}

/// What [`Target::shutdown`] did, by target kind: only what the harness started is stopped;
/// a vendor's server (remote, command) keeps running, with this run's identities and
/// buckets removed by each scenario's cleanup.
fn released(kind: &str) -> String {
    match kind {
        "embedded" => "the embedded server is stopped and its data directory removed".into(),
        "container" => "the container is stopped and removed".into(),
        other => {
            format!("cleaned up what this run created on the {other} target, which keeps running")
        }
    }
}

/// Run on an open target and write reports; also used by the integration tests.
pub async fn run_on(
    target: &dyn Target,
    scenarios: &[Scenario],
    args: &RunArgs,
    filter: Option<regex::Regex>,
) -> u8 {
    run_on_until(target, scenarios, args, filter, &Interrupt::never()).await
}

/// [`run_on`], stopping early when `interrupt` comes: the reports are still written, with
/// every selected scenario that did not finish as `not_run`, and the exit code is the
/// signal's. Shutting the target down stays the caller's.
pub async fn run_on_until(
    target: &dyn Target,
    scenarios: &[Scenario],
    args: &RunArgs,
    filter: Option<regex::Regex>,
    interrupt: &Interrupt,
) -> u8 {
    let info = target.info();
    let source = match &args.target {
        Some(file) => crate::run::preflight::Source::profile(file),
        None => crate::run::preflight::Source::file(format!("the {} target", info.kind)),
    };
    let preflight = async {
        match target::http::HttpClient::trusting(&target.tls_trust()) {
            Ok(http) => crate::run::preflight::check_from(target, &http, &source).await,
            Err(e) => Err(crate::run::preflight::Problem::Unreachable(format!(
                "{e:#}"
            ))),
        }
    };
    // Interrupted before or during the preflight: no scenario runs, the reports say so.
    let preflight = tokio::select! {
        biased;
        _ = interrupt.wait() => Ok(()),
        p = preflight => p,
    };
    if let Err(problem) = preflight {
        say!("error: target {}: {problem}", source.file);
        return EXIT_TARGET;
    }
    let started = time::OffsetDateTime::now_utc();
    let nonce = nonce();
    let run_id = format!(
        "{}-{nonce}",
        started
            .format(time::macros::format_description!(
                "[year][month][day]-[hour][minute][second]"
            ))
            .unwrap_or_default()
    );
    let known = match &args.known_failures {
        Some(file) => match KnownFailures::load(file, scenarios) {
            Ok(k) => Some(k),
            Err(e) => {
                say!("error: {e:#}");
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let plan = Plan {
        filter,
        tags: args.select.tags.clone(),
        jobs: args.jobs,
        fail_fast: args.fail_fast,
        profile: info.profile,
        progress: !args.no_progress,
        interrupt: interrupt.clone(),
        known: known.clone(),
    };
    say!(
        "keygate: {} target at {} (profile {}, transport {}), run {run_id}, library {}",
        info.kind,
        info.endpoint,
        info.profile.as_str(),
        Transport::of(&info.endpoint).as_str(),
        args.scenarios.display()
    );
    if let Some(ca) = target.tls_trust().ca_file() {
        say!("keygate: trusting only the CA in {}", ca.display());
    }
    let mut results = match runner::run_all(target, scenarios, &plan, &nonce).await {
        Ok(r) => r,
        Err(e) => {
            say!("error: {e:#}");
            return EXIT_TARGET;
        }
    };
    if let Some(k) = &known {
        k.apply(&mut results);
    }
    let spec_candidates = [
        workspace_root().join("../shared/SPEC.md"),
        PathBuf::from("../shared/SPEC.md"),
    ];
    let refs: Vec<&Path> = spec_candidates.iter().map(PathBuf::as_path).collect();
    let (rules, _source) = report::rules::load(&refs);
    let meta = RunMeta {
        run_id,
        started_at: started
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        duration_ms: (time::OffsetDateTime::now_utc() - started).whole_milliseconds() as u64,
        target: info,
        filter: args.select.filter.clone(),
        tags: args.select.tags.clone(),
        clock_advanced_s: target.clock().advanced_s(),
        known_failures: args.known_failures.clone(),
    };
    let report = RunReport::new(meta, results, &rules);
    super::out(&report::console::summary(&report));
    if let Some(warning) = clock_warning(&report, &source.file) {
        say!("{warning}");
    }
    let code = match report::write_all(&args.report_dir, &report) {
        Ok(dir) => {
            super::out(&format!("reports: {}\n", dir.display()));
            exit_code(&report)
        }
        Err(e) => {
            say!(
                "error: writing reports to {}: {e:#}",
                args.report_dir.display()
            );
            EXIT_USAGE
        }
    };
    match interrupt.received() {
        Some(signal) => {
            say!(
                "keygate: interrupted by {}: {} of {} selected scenario(s) did not run",
                signal.name(),
                report.totals.not_run,
                report.scenarios.len()
            );
            signal.exit_code()
        }
        None => code,
    }
}

/// A target that outlives the run keeps its clock where the run's clock scenarios moved it,
/// and the next run's preflight then fails with `RequestTimeTooSkewed`: say so at the end.
/// (The in-process server goes away with the run.)
fn clock_warning(report: &RunReport, source: &str) -> Option<String> {
    let moved = report.target.clock_advanced_s;
    (moved != 0 && report.target.info.kind != "embedded").then(|| {
        format!(
            "warning: the target's clock was moved forward by {moved} s; restart it before the \
             next run (clock scenarios ran because {source} sets `clock = true`; until the \
             restart the next run fails its preflight with RequestTimeTooSkewed)"
        )
    })
}

pub fn exit_code(report: &RunReport) -> u8 {
    let any = |v| report.scenarios.iter().any(|r| r.verdict == v);
    let failed = report.scenarios.iter().any(|r| {
        (r.verdict == Verdict::Fail && !report::known::is_known(r))
            || report::known::is_unexpected_pass(r)
    });
    if failed {
        EXIT_FAIL
    } else if any(Verdict::Error) {
        EXIT_TARGET
    } else {
        EXIT_PASS
    }
}
