//! `keygate report merge DIR...`: one report from the shards of a plan run by
//! `keygate load --worker I/N` on several machines at the same time.
//!
//! Shards run at the same time against one target, so attack by attack (the i-th attack of
//! every shard is the same repeat on the same target; repeats stay apart, for the medians):
//! HDR histograms are added (exactly: they were serialized losslessly), counts, per-second
//! throughput and coordinated-omission counts are summed, the steady window spans the shards'.
//! The merged report gets its own result (1 when an answer was unexpected, as `load` exits,
//! or when a shard's own run failed for another reason, an interrupt or a schedule not kept,
//! each named), which `report merge` exits with. CPU per request (also per transaction type) and
//! the open-loop schedule figures are only kept when a single shard measured them (a remote
//! target's CPU is not visible to the workers).
//!
//! The set is checked first (exit 2 from the command line): all of one plan, no report given
//! twice (a run id seen twice, the same directory or a copy), every report a shard of a
//! `--worker I/N` run, every index from 0 to N-1 exactly once, all of the same N, and all run
//! with the same settings (steady phase, warm-up, users, rate, repeats, targets), and each
//! attack's steady windows (on the shards' clocks) overlapping (under half of the shortest:
//! a warning; a run recorded before windows were kept is not checked); a shard given twice
//! would double the throughput, a missing one understate it, and shards run one after the
//! other report a load that never happened. Reports without
//! `--worker` are refused: they are separate runs, most likely not simultaneous, and adding
//! their throughputs would report a load that never happened (compare them with
//! `--baseline` instead). A merged report is no shard either.

use super::report::{self, decode, encode, LoadReport, RunResult, TxResult};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn read(dir: &Path) -> anyhow::Result<LoadReport> {
    let file = if dir.is_file() {
        dir.to_owned()
    } else {
        dir.join("load.json")
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))?;
    let r: LoadReport = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a load.json: {e}", file.display()))?;
    anyhow::ensure!(
        r.version == report::LOAD_REPORT_VERSION,
        "{}: load.json version {} (expected {})",
        file.display(),
        r.version,
        report::LOAD_REPORT_VERSION
    );
    Ok(r)
}

fn add_runs(into: &mut RunResult, r: &RunResult) -> anyhow::Result<()> {
    let mut h = decode(&into.histogram)?;
    h.add(decode(&r.histogram)?)?;
    into.histogram = encode(&h);
    into.latency_us = report::Latency::of(&h);
    into.requests += r.requests;
    into.steady_seconds = into.steady_seconds.max(r.steady_seconds);
    into.throughput_rps += r.throughput_rps;
    into.server_cpu_us_per_request = None;
    into.generator_cpu_us_per_request = None;
    into.server_runqueue_wait_us_per_request = None;
    into.generator_runqueue_wait_us_per_request = None;
    into.stages = None;
    into.server_counted = None;
    into.server_counted_denied = None;
    into.server_operations = None;
    into.cpu_attribution = None;
    into.open_loop = None;
    into.coordinated_omission = match (&into.coordinated_omission, &r.coordinated_omission) {
        (Some(a), Some(b)) => {
            let (actual, synthetic) = (
                a.actual_requests + b.actual_requests,
                a.synthetic_requests + b.synthetic_requests,
            );
            Some(report::CoResult {
                actual_requests: actual,
                synthetic_requests: synthetic,
                synthetic_percentage: if actual + synthetic == 0 {
                    0.0
                } else {
                    (synthetic as f64 * 100.0 / (actual + synthetic) as f64) as f32
                },
                events: a.events + b.events,
            })
        }
        _ => None,
    };
    into.steady_window_unix_ms = into
        .steady_window_unix_ms
        .zip(r.steady_window_unix_ms)
        .map(|((a0, a1), (b0, b1))| (a0.min(b0), a1.max(b1)));
    for (op, n) in &r.sent_by_operation {
        *into.sent_by_operation.entry(op.clone()).or_default() += n;
    }
    for (op, n) in &r.denied_by_operation {
        *into.denied_by_operation.entry(op.clone()).or_default() += n;
    }
    if into.per_second.len() < r.per_second.len() {
        into.per_second.resize(r.per_second.len(), 0);
    }
    for (a, b) in into.per_second.iter_mut().zip(&r.per_second) {
        *a += b;
    }
    for t in &r.transactions {
        match into.transactions.iter_mut().find(|x| x.name == t.name) {
            Some(x) => add_tx(x, t)?,
            None => into.transactions.push(t.clone()),
        }
    }
    Ok(())
}

fn add_tx(into: &mut TxResult, t: &TxResult) -> anyhow::Result<()> {
    let mut h = decode(&into.histogram)?;
    h.add(decode(&t.histogram)?)?;
    into.histogram = encode(&h);
    into.latency_us = report::Latency::of(&h);
    into.count += t.count;
    into.ok += t.ok;
    into.denied += t.denied;
    into.server_cpu = None;
    into.unexpected += t.unexpected;
    // Unknown in a shard recorded before it was kept: unknown in the sum.
    into.unexpected_measured = into
        .unexpected_measured
        .zip(t.unexpected_measured)
        .map(|(a, b)| a + b);
    for (c, n) in &t.errors {
        *into.errors.entry(c.clone()).or_default() += n;
    }
    Ok(())
}

/// `--worker I/N` as a report's settings record it.
fn worker_of(r: &LoadReport) -> Option<(u64, u64)> {
    let w = r.settings.get("worker")?;
    Some((w.get("index")?.as_u64()?, w.get("of")?.as_u64()?))
}

/// Settings every shard of one run was started with (as `load.json` records them).
const SAME_IN_EVERY_SHARD: [&str; 6] = [
    "duration_s",
    "warmup_s",
    "users",
    "rate",
    "repeat",
    "targets",
];

/// Refuse a set of reports that does not add up to one run (see the module header).
fn check_set(dirs: &[PathBuf], shards: &[LoadReport]) -> anyhow::Result<()> {
    let name = |i: usize| dirs[i].display().to_string();
    let plan = &shards[0].plan;
    if let Some(i) = shards.iter().position(|s| &s.plan != plan) {
        anyhow::bail!(
            "the shards ran different plans: `{plan}` ({}) and `{}` ({})",
            name(0),
            shards[i].plan,
            name(i)
        );
    }
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in shards.iter().enumerate() {
        if let Some(first) = ids.insert(&s.run_id, i) {
            anyhow::bail!(
                "{} and {} are the same report (run {}): give each shard once",
                name(first),
                name(i),
                s.run_id
            );
        }
    }
    let workers: Vec<Option<(u64, u64)>> = shards.iter().map(worker_of).collect();
    let Some(first) = workers.iter().position(Option::is_some) else {
        let what = if shards[0].settings.get("merged_from").is_some() {
            "is a merged report, not a shard"
        } else {
            "is not a shard (it was run without --worker)"
        };
        anyhow::bail!(
            "{} {what}: `report merge` adds up the shards of one run made with `--worker I/N` \
             (N generators started together against one target); separate runs added up would \
             report a load that never happened. Run the shards with `keygate load --worker I/N \
             --report-dir DIR` and merge DIR/*, or compare separate runs with `--baseline`",
            name(0)
        );
    };
    let (_, n) = workers[first].unwrap_or_default();
    let mut by_index: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, w) in workers.iter().enumerate() {
        let Some((index, of)) = *w else {
            anyhow::bail!(
                "{} is not a shard (no --worker) but {} is shard {}/{n}: merge the shards of one \
                 --worker run",
                name(i),
                name(first),
                workers[first].unwrap_or_default().0
            );
        };
        anyhow::ensure!(
            of == n,
            "{} is shard {index}/{of} but {} is of {n}: merge the shards of one --worker run",
            name(i),
            name(first)
        );
        if let Some(j) = by_index.insert(index, i) {
            anyhow::bail!(
                "shard {index}/{n} is given twice: {} and {}",
                name(j),
                name(i)
            );
        }
    }
    for (i, s) in shards.iter().enumerate() {
        if let Some(differ) = SAME_IN_EVERY_SHARD
            .iter()
            .find(|k| s.settings.get(**k) != shards[first].settings.get(**k))
        {
            let show = |r: &LoadReport| {
                r.settings
                    .get(*differ)
                    .map_or("not recorded".to_owned(), |v| v.to_string())
            };
            anyhow::bail!(
                "{} was run with {differ} {} but {} with {differ} {}: the shards of one run \
                 share their settings; merge the shards of one --worker run",
                name(i),
                show(s),
                name(first),
                show(&shards[first])
            );
        }
    }
    let missing: Vec<String> = (0..n)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| i.to_string())
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "incomplete: shard(s) {} of {n} missing (given: {})",
        missing.join(", "),
        by_index
            .keys()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// Below this share of the shortest steady window run by all shards at once, a merge warns:
/// the sum then reports more load than any moment saw. Shards apart by more than their
/// windows (run one after the other) are refused.
const MIN_OVERLAP: f64 = 0.5;

/// The share of the shortest steady window all shards ran in at once, the least over the
/// attacks (`None`: a shard recorded no window, as reports made before windows were kept).
/// `Err` when for some attack the windows do not overlap at all. The windows are on each
/// shard's own clock: machines whose clocks are apart by more than a window cannot be told
/// from shards run one after the other.
fn check_overlap(dirs: &[PathBuf], shards: &[LoadReport]) -> anyhow::Result<Option<f64>> {
    let mut least: Option<f64> = None;
    for i in 0..shards[0].runs.len() {
        let windows: Option<Vec<(u64, u64)>> = shards
            .iter()
            .map(|s| s.runs.get(i).and_then(|r| r.steady_window_unix_ms))
            .collect();
        let Some(windows) = windows else {
            return Ok(None);
        };
        let start = windows.iter().map(|w| w.0).max().unwrap_or(0);
        let end = windows.iter().map(|w| w.1).min().unwrap_or(0);
        let shortest = windows
            .iter()
            .map(|w| w.1.saturating_sub(w.0))
            .min()
            .unwrap_or(0);
        let share = end.saturating_sub(start) as f64 / shortest.max(1) as f64;
        if end <= start {
            let (a, b) = (
                windows.iter().position(|w| w.0 == start).unwrap_or(0),
                windows.iter().position(|w| w.1 == end).unwrap_or(0),
            );
            anyhow::bail!(
                "the shards did not run at the same time: attack {} of {} began at {} (Unix \
                 ms, its machine's clock) after that of {} had ended at {}; their sum would \
                 report a load that never happened. Start the shards together (one srun, one \
                 Indexed Job; machines whose clocks agree), or compare separate runs with \
                 --baseline",
                i + 1,
                dirs[a].display(),
                start,
                dirs[b].display(),
                end,
            );
        }
        least = Some(least.map_or(share, |l: f64| l.min(share)));
    }
    Ok(least)
}

/// Merges the shards in `dirs` into `report_dir/<merged id>/`; returns the merged report.
pub fn merge(dirs: &[PathBuf], report_dir: &Path) -> anyhow::Result<(LoadReport, PathBuf)> {
    anyhow::ensure!(!dirs.is_empty(), "nothing to merge");
    let shards: Vec<LoadReport> = dirs.iter().map(|d| read(d)).collect::<Result<_, _>>()?;
    check_set(dirs, &shards)?;
    let overlap = check_overlap(dirs, &shards)?;
    if let Some(o) = overlap.filter(|o| *o < MIN_OVERLAP) {
        say!(
            "warning: the shards ran together for only {:.0}% of a steady window (for some \
             attack): the merged throughput is more than any moment of the run saw",
            o * 100.0
        );
    }
    let plan = shards[0].plan.clone();
    // The i-th attack of every shard is the same repeat on the same target (the shards share
    // `repeat` and `targets`, and attack in that order): those ran together and add up; the
    // repeats stay apart, for the medians.
    let mut runs: Vec<RunResult> = shards[0].runs.clone();
    for s in &shards[1..] {
        anyhow::ensure!(
            s.runs.len() == runs.len(),
            "the shards recorded different numbers of attacks ({} and {}): merge the shards of \
             one --worker run",
            runs.len(),
            s.runs.len()
        );
        for (m, r) in runs.iter_mut().zip(&s.runs) {
            anyhow::ensure!(
                m.target == r.target,
                "the shards attacked in another order ({} against {})",
                m.target,
                r.target
            );
            add_runs(m, r)?;
        }
    }
    // A random tag, not the pid: two merges in one second (in containers, all pid 1) must not
    // write into one directory.
    let run_id = format!(
        "merged-{}-{:06x}",
        time::OffsetDateTime::now_utc().unix_timestamp(),
        rand::random::<u32>() & 0xff_ffff
    );
    let mut merged = LoadReport {
        version: report::LOAD_REPORT_VERSION,
        run_id: run_id.clone(),
        plan,
        settings: serde_json::json!({
            "merged_from": shards.iter().map(|s| s.run_id.clone()).collect::<Vec<_>>(),
            "shards": shards.iter().map(|s| s.settings.clone()).collect::<Vec<_>>(),
            "steady_overlap": overlap,
        }),
        machine: serde_json::json!(shards.iter().map(|s| s.machine.clone()).collect::<Vec<_>>()),
        summary: report::summarize(&runs),
        runs,
        ratios: None,
        gate: None,
        result: None,
    };
    // The unexpected answers are counted again from the added runs; every other reason a
    // shard's own run failed (an interrupt, an open-loop schedule not kept) fails the merge.
    let mut failures = super::failures_of(&merged);
    for (d, s) in dirs.iter().zip(&shards) {
        let failed = s.result.iter().filter(|r| r.exit_code != 0);
        for f in failed.flat_map(|r| &r.failures) {
            if !f.starts_with(super::UNEXPECTED) {
                failures.push(format!("shard {}: {f}", d.display()));
            }
        }
    }
    merged.result = Some(report::Outcome::of(failures, crate::cli::EXIT_FAIL));
    let dir = report_dir.join(&run_id);
    super::write_report(&dir, &merged)
        .map_err(|e| anyhow::anyhow!("writing the merged report to {}: {e:#}", dir.display()))?;
    Ok((merged, dir))
}
