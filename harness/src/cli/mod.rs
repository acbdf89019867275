//! The `keygate` command line: `run`, `list`, `validate`.
//!
//! Exit codes (documented contract for CI gates):
//! 0 every selected scenario passed or was skipped with a reason;
//! 1 at least one scenario failed (the target broke a rule), not counting the failures a
//!   `--known-failures` file lists (in the steps it lists), or a scenario or step that file
//!   lists passed (the list is stale);
//! 2 usage error or a scenario / target file that does not validate;
//! 3 the target could not be started or reached, refused the root keys or region, or is not
//!   S3 (the preflight, before any scenario), or scenarios ended in error (provisioning
//!   failed, no usable answer) and none failed: what they check is unproven;
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

mod run;

use crate::run::runner;
use crate::scenario::{self, LoadError, Profile, Scenario};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use run::{exit_code, run, run_on, run_on_until, tls_ca_file};

pub const EXIT_PASS: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_TARGET: u8 = 3;

/// The exit codes, as `--help` shows them (the module documentation has the details).
const EXIT_CODES: &str = "\
Exit codes:
  0    every selected scenario passed or was skipped with a reason
  1    at least one scenario failed, apart from those --known-failures lists (in the steps
       it lists), or one it lists passed (load: unexpected outcomes or a regression)
  2    usage error, or a scenario, target or plan file that does not validate
  3    the target could not be started or reached, is not S3, refused the root keys or
       region, or scenarios ended in error (provisioning failed, no usable answer) and none
       failed: what they check is unproven
  130  interrupted by SIGINT (Ctrl-C); 143 by SIGTERM. The target is shut down and
       `run` writes its reports, listing the scenarios that did not run; a second signal
       exits at once, without cleanup";

#[derive(Debug, Parser)]
#[command(
    name = "keygate",
    version,
    about = "Conformance runner: does an S3 service get identity and access right?",
    long_about = "Conformance runner: does an S3 service get identity and access right?\n\n\
        Without a command, `keygate` is `keygate run` with its defaults: the whole library \
        against the reference server, in-process (`keygate run --help` says where the library \
        and the reports are).",
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
        /// The scenario library (default: ./scenarios, else the one shipped with this build).
        #[arg(long, default_value_os_t = default_scenarios())]
        scenarios: PathBuf,
        #[command(flatten)]
        select: Select,
    },
    /// Parse and validate scenario files (default: the whole library); finding none is an
    /// error, as for `run`.
    Validate {
        /// Scenario files or directories (default: the library, as `run` takes it).
        paths: Vec<PathBuf>,
    },
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
        /// The shards' report directories (or their `load.json` files), one per `--worker`.
        dirs: Vec<PathBuf>,
        /// Where the merged report goes (`<DIR>/<merged run id>/`).
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
    /// Only scenarios with one of these tags or areas (comma-separated; each must be a tag or
    /// area of some scenario in the library).
    #[arg(long, value_delimiter = ',', value_parser = tag)]
    pub tags: Vec<String>,
}

/// One `--tags` entry, without the blanks around it (`--tags 'sts, iam'`).
fn tag(s: &str) -> Result<String, String> {
    match s.trim() {
        "" => Err("an empty tag (a stray comma?)".to_owned()),
        t => Ok(t.to_owned()),
    }
}

#[derive(Debug, clap::Args, Default)]
pub struct RunArgs {
    /// A target profile (TOML); without it the reference server is started in-process.
    #[arg(long)]
    pub target: Option<PathBuf>,
    #[command(flatten)]
    pub select: Select,
    /// The behaviour profile to expect (overrides the target profile's).
    #[arg(long, value_enum)]
    pub profile: Option<ProfileArg>,
    /// Scenarios run at once (at least 1).
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Where reports go: each run's report.json, junit.xml and report.html in <DIR>/<run id>/,
    /// copied to <DIR>/latest/. Default: ./reports where ./scenarios exists, else the
    /// reports directory beside the library shipped with this build (as shown).
    #[arg(long, default_value_os_t = default_reports())]
    pub report_dir: PathBuf,
    /// Stop scheduling after the first failure or error; the scenarios never started are
    /// reported as not run.
    #[arg(long)]
    pub fail_fast: bool,
    /// The scenario library. Default: ./scenarios where it exists, else the library shipped
    /// with this build (as shown).
    #[arg(long, default_value_os_t = default_scenarios())]
    pub scenarios: PathBuf,
    /// Scenarios the target is known to fail, each with why (TOML: `version = 1` and a
    /// `[known_failures]` table of id = "reason", or id = { reason = "...", steps =
    /// ["steps[2]", ...] } to accept only those steps' failures): they still show as failed,
    /// but do not fail the run; a listed scenario that passes, or fails in a step not listed,
    /// does. A run with failures writes such a file, known-failures.toml, beside its reports.
    #[arg(long, value_name = "FILE")]
    pub known_failures: Option<PathBuf>,
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

/// Say so when `library` is the shipped library because there is no `./scenarios`: someone in
/// the wrong directory would otherwise validate or list another library than they think.
/// (`run` names its library in the line it starts with.)
fn note_library(library: &Path) {
    if !Path::new("scenarios").is_dir() && library == workspace_root().join("scenarios") {
        say!(
            "keygate: no ./scenarios here: using the library shipped with this build, {} \
             (--scenarios DIR to choose)",
            library.display()
        );
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
            say!("error: writing to stdout: {e}");
            false
        }
    }
}

fn print_errors(errors: &[LoadError]) {
    for e in errors {
        say!("error: {e}");
    }
    say!("{} scenario file error(s)", errors.len());
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
    // A file named twice (`validate a.toml a.toml`, a directory and a file in it) is one file,
    // not two scenarios with the same id.
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(f.canonicalize().unwrap_or_else(|_| f.clone())));
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
                let library = default_scenarios();
                note_library(&library);
                vec![library]
            } else {
                paths
            };
            match load_paths(&paths) {
                Ok(s) if s.is_empty() => {
                    let names: Vec<String> =
                        paths.iter().map(|p| p.display().to_string()).collect();
                    say!("error: no scenarios in {}", names.join(", "));
                    EXIT_USAGE
                }
                Ok(s) => {
                    let names: Vec<String> =
                        paths.iter().map(|p| p.display().to_string()).collect();
                    out(&format!(
                        "{} scenario(s) valid in {}\n",
                        s.len(),
                        names.join(", ")
                    ));
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
                    // As the shards' own runs would: 1 when an answer was unexpected.
                    merged.result.map_or(EXIT_PASS, |r| r.exit_code)
                }
                Err(e) => {
                    say!("error: {e:#}");
                    EXIT_USAGE
                }
            }
        }
        Command::NullServer { listen, spin_us } => {
            match crate::load::null::serve(listen, spin_us).await {
                Ok(()) => EXIT_PASS,
                Err(e) => {
                    say!("error: {e:#}");
                    EXIT_TARGET
                }
            }
        }
    };
    ExitCode::from(code)
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
            say!("error: --filter: {e}");
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
        say!("error: {e}");
        EXIT_USAGE
    })?;
    Ok((scenarios, filter))
}

/// `keygate list`: the scenarios `run` would select with the same `--filter` / `--tags`.
fn list(library: &Path, choice: &Select) -> u8 {
    note_library(library);
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
