//! Scheduling a run: which scenarios (filter, tags, capabilities, profile skips), in what
//! order, how many at once, with live progress.
//!
//! Scenarios that move the target's clock run alone, after the parallel batch, because a clock
//! move is visible to every scenario sharing the target. `--fail-fast` stops scheduling new
//! scenarios after the first fail or error; those not started are not reported.

use super::run_scenario;
use crate::report::{ScenarioResult, Verdict};
use crate::scenario::{Profile, Scenario};
use crate::target::http::HttpClient;
use crate::target::Target;
use futures_util::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use regex::Regex;
use std::sync::atomic::{AtomicBool, Ordering};

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Plan {
    pub filter: Option<Regex>,
    pub tags: Vec<String>,
    pub jobs: usize,
    pub fail_fast: bool,
    pub profile: Profile,
    pub progress: bool,
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
    ScenarioResult {
        id: s.def.id.clone(),
        title: s.def.title.clone(),
        area: s.def.area.clone(),
        tags: s.def.tags.clone(),
        rules: s.def.rules.clone(),
        file: s.file.clone(),
        verdict: Verdict::Skip,
        reason: Some(reason),
        duration_ms: 0,
        steps: Vec::new(),
        warnings: Vec::new(),
        faults: None,
    }
}

/// Run the selected scenarios; results come back in scenario order.
pub async fn run_all(
    target: &dyn Target,
    scenarios: &[Scenario],
    plan: &Plan,
    nonce: &str,
) -> anyhow::Result<Vec<ScenarioResult>> {
    let http = HttpClient::trusting(&target.tls_trust())?;
    let chosen: Vec<&Scenario> = scenarios.iter().filter(|s| selected(plan, s)).collect();
    let bar = if plan.progress {
        let b = ProgressBar::new(chosen.len() as u64);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let stop = AtomicBool::new(false);
    let mut results: Vec<(usize, ScenarioResult)> = Vec::new();
    let mut to_run = Vec::new();
    let mut exclusive = Vec::new();
    for (i, s) in chosen.iter().enumerate() {
        match skip_reason(target, plan.profile, s) {
            Some(reason) => {
                results.push((i, skipped(s, reason)));
                bar.inc(1);
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
    results.extend(parallel.into_iter().flatten());
    for item in exclusive {
        if let Some(r) = env.one(item.0, item.1).await {
            results.push(r);
        }
    }
    bar.finish_and_clear();
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

/// What every scheduled scenario shares.
struct Env<'a> {
    target: &'a dyn Target,
    plan: &'a Plan,
    nonce: &'a str,
    http: &'a HttpClient,
    bar: &'a ProgressBar,
    stop: &'a AtomicBool,
}

impl Env<'_> {
    async fn one(&self, i: usize, s: &Scenario) -> Option<(usize, ScenarioResult)> {
        if self.stop.load(Ordering::SeqCst) {
            return None;
        }
        self.bar.set_message(s.id().to_owned());
        let r = run_scenario(self.target, s, self.nonce, self.plan.profile, self.http).await;
        if matches!(r.verdict, Verdict::Fail | Verdict::Error) {
            let reason = r.reason.clone().unwrap_or_default();
            self.bar.println(format!(
                "{} {}: {reason}",
                r.verdict.as_str().to_uppercase(),
                r.id
            ));
            if self.plan.fail_fast {
                self.stop.store(true, Ordering::SeqCst);
            }
        }
        self.bar.inc(1);
        Some((i, r))
    }
}
