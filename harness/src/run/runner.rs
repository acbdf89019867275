//! Scheduling a run: which scenarios (filter, tags, capabilities, profile skips), in what
//! order, how many at once, with live progress.
//!
//! Progress goes to stderr: a bar when stderr is a terminal; otherwise (a CI log) one plain
//! line per finished scenario, `[12/59] PASS sigv4-presign-expiry (0.4 s)`, with no carriage
//! return or escape sequence, so a long run is visibly alive; nothing with `--no-progress`.
//!
//! Scenarios that move the target's clock run alone, after the parallel batch, because a clock
//! move is visible to every scenario sharing the target.
//!
//! Stopping early: `--fail-fast` stops scheduling new scenarios after the first fail or error
//! (those already running finish); an interrupt ([`Plan::interrupt`]) stops scheduling and
//! abandons those running. Either way every selected scenario is in the results: the ones
//! never started are `not_run` with the reason the run stopped (`not run: --fail-fast stopped
//! the run after `x` failed`, `not run: interrupted by SIGINT`), so a report never has fewer
//! test cases than were selected. They get no progress line (they never ran).

use super::run_scenario;
use crate::interrupt::Interrupt;
use crate::report::known::{self, KnownFailures};
use crate::report::{ScenarioResult, Verdict};
use crate::scenario::{Profile, Scenario};
use crate::target::http::HttpClient;
use crate::target::Target;
use futures_util::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use regex::Regex;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Plan {
    pub filter: Option<Regex>,
    pub tags: Vec<String>,
    pub jobs: usize,
    pub fail_fast: bool,
    pub profile: Profile,
    pub progress: bool,
    /// Stop when it comes ([`Interrupt::never`]: run to the end).
    pub interrupt: Interrupt,
    /// `--known-failures`: marked on each result as it finishes, so that `fail_fast` stops on
    /// what fails the run (a failure not listed, a listed scenario that passes), not on a
    /// known failure.
    pub known: Option<KnownFailures>,
}

/// Whether a scenario is selected by the filter and tags.
pub fn selected(plan: &Plan, s: &Scenario) -> bool {
    matches(plan.filter.as_ref(), &plan.tags, s)
}

/// Whether a scenario's id matches `filter` and it has one of `tags` as a tag or its area.
pub fn matches(filter: Option<&Regex>, tags: &[String], s: &Scenario) -> bool {
    filter.is_none_or(|re| re.is_match(s.id()))
        && (tags.is_empty()
            || tags
                .iter()
                .any(|t| s.def.tags.contains(t) || &s.def.area == t))
}

/// Refuse a selection of nothing: an empty library, or a `--filter` / `--tags` that matches no
/// scenario, would otherwise report "0 passed" and exit 0. `filter_text` is the `--filter` as
/// given, `filter` the same compiled; errors name the options and `library`.
pub fn check_selection(
    library: &std::path::Path,
    filter_text: Option<&str>,
    tags: &[String],
    scenarios: &[Scenario],
    filter: Option<&Regex>,
) -> Result<(), String> {
    if scenarios.is_empty() {
        return Err(format!("no scenarios in {}", library.display()));
    }
    // A tag no scenario has is a typo: selecting by the other tags alone would quietly run
    // less than the gate means to.
    let known = |t: &String| {
        scenarios
            .iter()
            .any(|s| s.def.tags.contains(t) || &s.def.area == t)
    };
    let unknown: Vec<&str> = tags
        .iter()
        .filter(|t| !known(t))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        let mut all: Vec<&str> = scenarios
            .iter()
            .flat_map(|s| s.def.tags.iter().chain(std::iter::once(&s.def.area)))
            .map(String::as_str)
            .collect();
        all.sort_unstable();
        all.dedup();
        return Err(format!(
            "--tags: no scenario in {} has the tag or area `{}` (known: {})",
            library.display(),
            unknown.join("`, `"),
            all.join(", ")
        ));
    }
    if scenarios.iter().any(|s| matches(filter, tags, s)) {
        return Ok(());
    }
    let mut given = Vec::new();
    if let Some(f) = filter_text {
        given.push(format!("--filter `{f}`"));
    }
    if !tags.is_empty() {
        given.push(format!("--tags `{}`", tags.join(",")));
    }
    Err(format!(
        "{} selects none of the {} scenario(s) in {}",
        given.join(" with "),
        scenarios.len(),
        library.display()
    ))
}

fn skip_reason(target: &dyn Target, profile: Profile, s: &Scenario) -> Option<String> {
    if let Some(why) = s.def.skip_profiles.get(&profile) {
        return Some(format!("profile {}: {why}", profile.as_str()));
    }
    let caps = target.info().capabilities;
    // `faults` is the adapter's to offer (it must control the target), not a profile setting.
    let has = |n: &str| caps.has(n) || (n == "faults" && target.supports_faults());
    let missing: Vec<&str> = s.needs().into_iter().filter(|n| !has(n)).collect();
    if !missing.is_empty() {
        return Some(format!("target lacks: {}", missing.join(", ")));
    }
    let actions: Vec<&str> = s
        .actions()
        .into_iter()
        .filter(|a| !target.supports_action(a))
        .collect();
    (!actions.is_empty()).then(|| format!("target cannot provision: {}", actions.join(", ")))
}

fn skipped(s: &Scenario, reason: String) -> ScenarioResult {
    unstarted(s, Verdict::Skip, reason)
}

/// A scenario the run stopped before: `reason` says why (`not run: …`).
fn not_run(s: &Scenario, reason: String) -> ScenarioResult {
    unstarted(s, Verdict::NotRun, reason)
}

fn unstarted(s: &Scenario, verdict: Verdict, reason: String) -> ScenarioResult {
    ScenarioResult {
        id: s.def.id.clone(),
        title: s.def.title.clone(),
        area: s.def.area.clone(),
        tags: s.def.tags.clone(),
        rules: s.def.rules.clone(),
        file: s.file.clone(),
        verdict,
        reason: Some(reason),
        duration_ms: 0,
        steps: Vec::new(),
        warnings: Vec::new(),
        faults: None,
        known_failure: None,
    }
}

/// Run the selected scenarios; results come back in scenario order, one for each selected
/// scenario whether it ran or not.
pub async fn run_all(
    target: &dyn Target,
    scenarios: &[Scenario],
    plan: &Plan,
    nonce: &str,
) -> anyhow::Result<Vec<ScenarioResult>> {
    let http = HttpClient::trusting(&target.tls_trust())?;
    let chosen: Vec<&Scenario> = scenarios.iter().filter(|s| selected(plan, s)).collect();
    let bar = Progress::new(plan.progress, chosen.len());
    let stop = Mutex::new(None);
    let mut results: Vec<(usize, ScenarioResult)> = Vec::new();
    let mut to_run = Vec::new();
    let mut exclusive = Vec::new();
    for (i, s) in chosen.iter().enumerate() {
        match skip_reason(target, plan.profile, s) {
            Some(reason) => {
                let r = skipped(s, reason);
                bar.finished(&r);
                results.push((i, r));
            }
            None if s.exclusive() => exclusive.push((i, *s)),
            None => to_run.push((i, *s)),
        }
    }
    let env = Env {
        target,
        plan,
        nonce,
        http: &http,
        bar: &bar,
        stop: &stop,
    };
    let parallel: Vec<_> = stream::iter(to_run)
        .map(|(i, s)| env.one(i, s))
        .buffer_unordered(plan.jobs.max(1))
        .collect()
        .await;
    results.extend(parallel);
    for (i, s) in exclusive {
        results.push(env.one(i, s).await);
    }
    bar.finish();
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

/// What every scheduled scenario shares.
struct Env<'a> {
    target: &'a dyn Target,
    plan: &'a Plan,
    nonce: &'a str,
    http: &'a HttpClient,
    bar: &'a Progress,
    /// Why `--fail-fast` stopped the run (the first failure's), once it has.
    stop: &'a Mutex<Option<String>>,
}

impl Env<'_> {
    /// Why a scenario that needs a target without S3 users cannot run now (`empty_of_users`):
    /// the target holds some. A target that cannot say runs it as written.
    async fn held_users(&self, s: &Scenario) -> Option<String> {
        if !s.def.empty_of_users {
            return None;
        }
        match self.target.count_users().await {
            Ok(Some(n)) if n > 0 => Some(format!(
                "the target holds {n} S3 user(s) already: this scenario counts users against \
                 the limit from none (delete them, or run it against an empty target)"
            )),
            _ => None,
        }
    }

    async fn one(&self, i: usize, s: &Scenario) -> (usize, ScenarioResult) {
        if let Some(reason) = self.stopped() {
            return (i, not_run(s, reason));
        }
        if let Some(reason) = self.held_users(s).await {
            let r = skipped(s, reason);
            self.bar.finished(&r);
            return (i, r);
        }
        self.bar.started(s.id());
        let mut r = run_scenario(
            self.target,
            s,
            self.nonce,
            self.plan.profile,
            self.http,
            &self.plan.interrupt,
        )
        .await;
        if let Some(k) = &self.plan.known {
            k.apply(std::slice::from_mut(&mut r));
        }
        let stops = match r.verdict {
            Verdict::Fail if known::is_known(&r) => None,
            Verdict::Fail => Some("failed"),
            Verdict::Error => Some("ended in error"),
            _ if known::is_unexpected_pass(&r) => Some("passed though listed as a known failure"),
            _ => None,
        };
        if let Some(what) = stops.filter(|_| self.plan.fail_fast) {
            if let Ok(mut stop) = self.stop.lock() {
                stop.get_or_insert_with(|| {
                    format!(
                        "not run: --fail-fast stopped the run after `{}` {what}",
                        r.id
                    )
                });
            }
        }
        self.bar.finished(&r);
        (i, r)
    }

    /// Why no further scenario starts, if the run has stopped: the first failure under
    /// `--fail-fast`, or else an interrupt.
    fn stopped(&self) -> Option<String> {
        let fail_fast = self.stop.lock().ok().and_then(|s| s.clone());
        fail_fast.or_else(|| {
            let signal = self.plan.interrupt.received()?;
            Some(format!("not run: interrupted by {}", signal.name()))
        })
    }
}

/// Live progress on stderr.
enum Progress {
    /// A terminal: a bar, failures and errors printed above it.
    Bar(ProgressBar),
    /// Not a terminal: one plain line per finished scenario.
    Lines { total: usize, done: AtomicUsize },
    /// `--no-progress`.
    Off,
}

impl Progress {
    fn new(enabled: bool, total: usize) -> Self {
        if !enabled {
            return Progress::Off;
        }
        if !std::io::stderr().is_terminal() {
            return Progress::Lines {
                total,
                done: AtomicUsize::new(0),
            };
        }
        let b = ProgressBar::new(total as u64);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress::Bar(b)
    }

    fn started(&self, id: &str) {
        if let Progress::Bar(b) = self {
            b.set_message(id.to_owned());
        }
    }

    fn finished(&self, r: &ScenarioResult) {
        match self {
            Progress::Bar(b) => {
                if matches!(r.verdict, Verdict::Fail | Verdict::Error)
                    || known::is_unexpected_pass(r)
                {
                    let reason = r.reason.clone().unwrap_or_default();
                    b.println(format!("{} {}: {reason}", known::label(r), r.id));
                }
                b.inc(1);
            }
            Progress::Lines { total, done } => {
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                say!("{}", progress_line(n, *total, r));
            }
            Progress::Off => {}
        }
    }

    fn finish(&self) {
        if let Progress::Bar(b) = self {
            b.finish_and_clear();
        }
    }
}

/// `[12/59] PASS id (0.4 s)`; a skip, failure or error adds its reason. One line, plain text:
/// control characters in a reason (a target's answer may hold any) become spaces.
fn progress_line(done: usize, total: usize, r: &ScenarioResult) -> String {
    let mut line = format!(
        "[{done}/{total}] {} {} ({:.1} s)",
        known::label(r),
        r.id,
        r.duration_ms as f64 / 1000.0
    );
    if r.verdict != Verdict::Pass {
        if let Some(reason) = &r.reason {
            line.push_str(": ");
            line.extend(reason.chars().map(|c| if c.is_control() { ' ' } else { c }));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(verdict: Verdict, reason: Option<&str>) -> ScenarioResult {
        ScenarioResult {
            id: "sigv4-presign-expiry".into(),
            title: String::new(),
            area: "sigv4".into(),
            tags: Vec::new(),
            rules: Vec::new(),
            file: "x.toml".into(),
            verdict,
            reason: reason.map(str::to_owned),
            duration_ms: 412,
            steps: Vec::new(),
            warnings: Vec::new(),
            faults: None,
            known_failure: None,
        }
    }

    #[test]
    fn a_progress_line_is_one_plain_line() {
        assert_eq!(
            progress_line(12, 59, &result(Verdict::Pass, Some("ignored"))),
            "[12/59] PASS sigv4-presign-expiry (0.4 s)"
        );
        let l = progress_line(
            3,
            59,
            &result(Verdict::Fail, Some("step 2:\r\n\x1b[31mgot 403")),
        );
        assert_eq!(
            l,
            "[3/59] FAIL sigv4-presign-expiry (0.4 s): step 2:   [31mgot 403"
        );
        assert!(!l.contains(['\r', '\n', '\x1b']), "{l:?}");
    }

    /// Regression: a failure listed in `--known-failures` was `FAIL` in the progress lines
    /// while the summary said `KNOWN FAIL`.
    #[test]
    fn progress_lines_name_known_failures_as_the_summary_does() {
        let mut known = result(Verdict::Fail, Some("got 403"));
        known.known_failure = Some("VENDOR-1".into());
        assert_eq!(
            progress_line(1, 2, &known),
            "[1/2] KNOWN FAIL sigv4-presign-expiry (0.4 s): got 403"
        );
        let mut passes = result(Verdict::Pass, None);
        passes.known_failure = Some("VENDOR-1".into());
        assert!(progress_line(2, 2, &passes).starts_with("[2/2] UNEXPECTED PASS "));
    }
}
