//! The `keygate` command line: `run`, `list`, `validate`.
//!
//! Exit codes (documented contract for CI gates):
//! 0 every selected scenario passed or was skipped with a reason;
//! 1 at least one scenario failed (the target broke a rule);
//! 2 usage error or a scenario / target file that does not validate;
//! 3 the target could not be started or reached, refused the root keys or region, or is not
//!   S3 (the preflight, before any scenario), or provisioning failed (no failure, but
//!   scenarios in error: the run proves nothing);
//! 130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM (a CI timeout): the run stopped early,
//!   whatever the scenarios that ran found. `run` starts no further scenario, abandons the
//!   running ones (their cleanup still runs), stops what it started (the in-process server,
//!   its temporary data directory removed; a container, removed; a remote or command target
//!   keeps running, and the last line says so) and writes the reports, where
//!   every selected scenario that did not finish is `not_run`; `load` stops its attack, stops
//!   the target it spawned and writes no report. A second signal exits at once with the same
//!   code, without cleanup.
//!
//! Under `--fail-fast` the scenarios never started are in the reports as `not_run`, with the
//! scenario that stopped the run named in their reason.
//!
//! Everything the user gives is checked before a server starts: scenario files, `--filter` /
//! `--tags` (selecting nothing is an error, not a green run; `list` selects as `run` does and
//! refuses the same way, and `validate` refuses an empty library too), `--jobs` (at least 1),
//! the target profile's file and `--report-dir` (created and written to once; its `latest`
//! must be a directory or absent). A report that cannot be written after the run is exit 2
//! as well, never a warning beside exit 0. A closed stdout (`keygate list | head -1`) ends
//! the output quietly; the exit code stands.
//!
//! A target that outlives the run (any but the in-process server) keeps the clock the run's
//! clock scenarios moved: the run ends with a warning to restart it, and `report.json` has
//! the total as `target.clock_advanced_s`.

use crate::interrupt::Interrupt;
use crate::report::{self, RunMeta, RunReport, Verdict};
use crate::run::runner::{self, Plan};
use crate::scenario::{self, LoadError, Profile, Scenario, Transport};
use crate::target::{self, Target};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub const EXIT_PASS: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_TARGET: u8 = 3;

/// The exit codes, as `--help` shows them (the module documentation has the details).
const EXIT_CODES: &str = "\
Exit codes:
  0    every selected scenario passed or was skipped with a reason
  1    at least one scenario failed (load: unexpected outcomes or a regression)
  2    usage error, or a scenario, target or plan file that does not validate
  3    the target could not be started or reached, is not S3, refused the root keys or
       region, or provisioning failed
  130  interrupted by SIGINT (Ctrl-C); 143 by SIGTERM. The target is shut down and
       `run` writes its reports, listing the scenarios that did not run; a second signal
       exits at once, without cleanup";

#[derive(Debug, Parser)]
#[command(
    name = "keygate",
    version,
    about = "Conformance runner: does an S3 service get identity and access right?",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against a target (default: the reference server, in-process).
    Run(RunArgs),
    /// List scenarios: id, area, rule ids, tags (with --filter / --tags: what `run` selects).
    List {
        #[arg(long, default_value_os_t = default_scenarios())]
        scenarios: PathBuf,
        #[command(flatten)]
        select: Select,
    },
    /// Parse and validate scenario files (default: the whole library); finding none is an
    /// error, as for `run`.
    Validate { paths: Vec<PathBuf> },
    /// SigV4 + policy load on a target; server CPU per request is the headline figure.
    Load(crate::load::LoadArgs),
    /// Load reports: `merge DIR...` combines the shards of `load --worker I/N`.
    #[command(subcommand)]
    Report(ReportCommand),
    /// The null target of `load` (answers 200 without authentication), loopback only.
    #[command(hide = true)]
    NullServer {
        #[arg(long)]
        listen: std::net::SocketAddr,
        #[arg(long, default_value_t = 0)]
        spin_us: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge the `load.json` of several shards (directories or files) into one report.
    Merge {
        dirs: Vec<PathBuf>,
        #[arg(long, default_value_os_t = default_reports())]
        report_dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProfileArg {
    Reference,
    Minio,
    Aws,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Reference => Profile::Reference,
            ProfileArg::Minio => Profile::Minio,
            ProfileArg::Aws => Profile::Aws,
        }
    }
}

/// Which scenarios `run` and `list` take.
#[derive(Debug, clap::Args, Default, Clone)]
pub struct Select {
    /// Only scenario ids matching this regular expression.
    #[arg(long)]
    pub filter: Option<String>,
    /// Only scenarios with one of these tags or areas (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub tags: Vec<String>,
}

#[derive(Debug, clap::Args, Default)]
pub struct RunArgs {
    /// A target profile (TOML); without it the reference server is started in-process.
    #[arg(long)]
    pub target: Option<PathBuf>,
    /// Only scenario ids matching this regular expression.
    #[arg(long)]
    pub filter: Option<String>,
    /// Only scenarios with one of these tags or areas (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub tags: Vec<String>,
    /// The behaviour profile to expect (overrides the target profile's).
    #[arg(long, value_enum)]
    pub profile: Option<ProfileArg>,
    /// Scenarios run at once (at least 1).
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    #[arg(long, default_value_os_t = default_reports())]
    pub report_dir: PathBuf,
    /// Stop scheduling after the first failure or error; the scenarios never started are
    /// reported as not run.
    #[arg(long)]
    pub fail_fast: bool,
    /// The scenario library.
    #[arg(long, default_value_os_t = default_scenarios())]
    pub scenarios: PathBuf,
    /// No progress output (a bar on a terminal; otherwise one line per finished scenario).
    #[arg(long)]
    pub no_progress: bool,
    /// Serve the in-process reference server over HTTPS, on a certificate for 127.0.0.1 and
    /// localhost from a CA generated for the run; the harness trusts only that CA. The CA
    /// certificate is written to <REPORT_DIR>/ca.pem (replaced by each --tls run) so other
    /// clients can trust the server too (`AWS_CA_BUNDLE`, boto3's `verify=`).
    #[arg(long, conflicts_with = "target")]
    pub tls: bool,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `./scenarios` when it exists, else the library next to the harness sources.
pub fn default_scenarios() -> PathBuf {
    let here = PathBuf::from("scenarios");
    if here.is_dir() {
        here
    } else {
        workspace_root().join("scenarios")
    }
}

pub fn default_reports() -> PathBuf {
    if Path::new("scenarios").is_dir() {
        PathBuf::from("reports")
    } else {
        workspace_root().join("reports")
    }
}

/// Write `text` to stdout. A reader that went away (`keygate list | head -1`) is no error: the
/// text is dropped and `false` returned so the caller can stop printing; the exit code stands.
pub fn out(text: &str) -> bool {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => false,
        Err(e) => {
            eprintln!("error: writing to stdout: {e}");
            false
        }
    }
}

fn print_errors(errors: &[LoadError]) {
    for e in errors {
        eprintln!("error: {e}");
    }
    eprintln!("{} scenario file error(s)", errors.len());
}

/// Load the library (files or directories).
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Scenario>, Vec<LoadError>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            files.extend(scenario::discover(p).map_err(|e| {
                vec![LoadError {
                    file: p.clone(),
                    path: String::new(),
                    message: format!("cannot list: {e}"),
                }]
            })?);
        } else {
            files.push(p.clone());
        }
    }
    scenario::load_all(&files)
}

pub async fn main(cli: Cli) -> ExitCode {
    let code = match cli.command.unwrap_or(Command::Run(RunArgs {
        jobs: 4,
        report_dir: default_reports(),
        scenarios: default_scenarios(),
        ..Default::default()
    })) {
        Command::Validate { paths } => {
            let paths = if paths.is_empty() {
                vec![default_scenarios()]
            } else {
                paths
            };
            match load_paths(&paths) {
                Ok(s) if s.is_empty() => {
                    let names: Vec<String> =
                        paths.iter().map(|p| p.display().to_string()).collect();
                    eprintln!("error: no scenarios in {}", names.join(", "));
                    EXIT_USAGE
                }
                Ok(s) => {
                    out(&format!("{} scenario(s) valid\n", s.len()));
                    EXIT_PASS
                }
                Err(e) => {
                    print_errors(&e);
                    EXIT_USAGE
                }
            }
        }
        Command::List { scenarios, select } => list(&scenarios, &select),
        Command::Run(args) => run(args).await,
        Command::Load(args) => crate::load::main(args).await,
        Command::Report(ReportCommand::Merge { dirs, report_dir }) => {
            match crate::load::merge::merge(&dirs, &report_dir) {
                Ok((merged, dir)) => {
                    let _ = out(&crate::load::report::console(&merged))
                        && out(&format!("wrote {}\n", dir.join("load.json").display()));
                    EXIT_PASS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    EXIT_USAGE
                }
            }
        }
        Command::NullServer { listen, spin_us } => {
            match crate::load::null::serve(listen, spin_us).await {
                Ok(()) => EXIT_PASS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    EXIT_TARGET
                }
            }
        }
    };
    ExitCode::from(code)
}

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
        eprintln!("warning: cannot catch SIGINT/SIGTERM ({e}): an interrupt will skip cleanup");
        Interrupt::never()
    });
    let choice = Select {
        filter: args.filter.clone(),
        tags: args.tags.clone(),
    };
    let (scenarios, filter) = match select(&args.scenarios, &choice) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if args.jobs == 0 {
        eprintln!("error: --jobs must be at least 1");
        return EXIT_USAGE;
    }
    if let Some(file) = &args.target {
        if let Err(e) = target::check(file) {
            eprintln!("error: target: {e:#}");
            return EXIT_USAGE;
        }
    }
    if let Err(e) = report::prepare_dir(&args.report_dir) {
        eprintln!("error: {e:#}");
        return EXIT_USAGE;
    }
    if let Some(signal) = interrupt.received() {
        eprintln!(
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
            eprintln!("error: target: {e:#}");
            return interrupt.received().map_or(EXIT_TARGET, |s| s.exit_code());
        }
    };
    let code = run_on_until(&*target, &scenarios, &args, filter, &interrupt).await;
    target.shutdown().await;
    match interrupt.received() {
        Some(signal) => {
            eprintln!(
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

/// Load the library and apply `--filter` / `--tags` as `run` does; errors are printed and
/// come back as the exit code.
fn select(library: &Path, choice: &Select) -> Result<(Vec<Scenario>, Option<regex::Regex>), u8> {
    let scenarios = load_paths(&[library.to_owned()]).map_err(|e| {
        print_errors(&e);
        EXIT_USAGE
    })?;
    let filter = choice
        .filter
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| {
            eprintln!("error: --filter: {e}");
            EXIT_USAGE
        })?;
    runner::check_selection(
        library,
        choice.filter.as_deref(),
        &choice.tags,
        &scenarios,
        filter.as_ref(),
    )
    .map_err(|e| {
        eprintln!("error: {e}");
        EXIT_USAGE
    })?;
    Ok((scenarios, filter))
}

/// `keygate list`: the scenarios `run` would select with the same `--filter` / `--tags`.
fn list(library: &Path, choice: &Select) -> u8 {
    let (all, filter) = match select(library, choice) {
        Ok(s) => s,
        Err(code) => return code,
    };
    for s in all
        .iter()
        .filter(|s| runner::matches(filter.as_ref(), &choice.tags, s))
    {
        let line = format!(
            "{:<40} {:<16} [{}] {}\n",
            s.id(),
            s.def.area,
            s.def.rules.join(","),
            s.def.tags.join(",")
        );
        if !out(&line) {
            break;
        }
    }
    EXIT_PASS
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
        Some(file) => crate::run::preflight::Source {
            file: file.display().to_string(),
            env: target::RootKeyEnv::of(file),
        },
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
        eprintln!("error: target {}: {problem}", source.file);
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
    let plan = Plan {
        filter,
        tags: args.tags.clone(),
        jobs: args.jobs,
        fail_fast: args.fail_fast,
        profile: info.profile,
        progress: !args.no_progress,
        interrupt: interrupt.clone(),
    };
    eprintln!(
        "keygate: {} target at {} (profile {}, transport {}), run {run_id}",
        info.kind,
        info.endpoint,
        info.profile.as_str(),
        Transport::of(&info.endpoint).as_str()
    );
    if let Some(ca) = target.tls_trust().ca_file() {
        eprintln!("keygate: trusting only the CA in {}", ca.display());
    }
    let results = match runner::run_all(target, scenarios, &plan, &nonce).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_TARGET;
        }
    };
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
        filter: args.filter.clone(),
        tags: args.tags.clone(),
        clock_advanced_s: target.clock().advanced_s(),
    };
    let report = RunReport::new(meta, results, &rules);
    out(&report::console::summary(&report));
    if let Some(warning) = clock_warning(&report, &source.file) {
        eprintln!("{warning}");
    }
    let code = match report::write_all(&args.report_dir, &report) {
        Ok(dir) => {
            out(&format!("reports: {}\n", dir.display()));
            exit_code(&report)
        }
        Err(e) => {
            eprintln!(
                "error: writing reports to {}: {e:#}",
                args.report_dir.display()
            );
            EXIT_USAGE
        }
    };
    match interrupt.received() {
        Some(signal) => {
            eprintln!(
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
    if any(Verdict::Fail) {
        EXIT_FAIL
    } else if any(Verdict::Error) {
        EXIT_TARGET
    } else {
        EXIT_PASS
    }
}
