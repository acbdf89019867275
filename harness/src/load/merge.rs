//! `keygate report merge DIR...`: one report from the shards of a plan run by
//! `keygate load --worker I/N` on several machines at the same time.
//!
//! Shards run at the same time against one target, so per target: HDR histograms are added
//! (exactly: they were serialized losslessly), counts and per-second throughput are summed,
//! the steady window is the longest shard's. CPU per request (also per transaction type) and
//! the open-loop schedule figures are only kept when a single shard measured them (a remote
//! target's CPU is not visible to the workers).
//!
//! The set is checked first (exit 2 from the command line): all of one plan, no report given
//! twice (a run id seen twice, the same directory or a copy), every report a shard of a
//! `--worker I/N` run, every index from 0 to N-1 exactly once, all of the same N, and all run
//! with the same settings (steady phase, warm-up, users, rate, repeats, targets); a shard
//! given twice would double the throughput, a missing one understate it. Reports without
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

/// Merges the shards in `dirs` into `report_dir/<merged id>/`; returns the merged report.
pub fn merge(dirs: &[PathBuf], report_dir: &Path) -> anyhow::Result<(LoadReport, PathBuf)> {
    anyhow::ensure!(!dirs.is_empty(), "nothing to merge");
    let shards: Vec<LoadReport> = dirs.iter().map(|d| read(d)).collect::<Result<_, _>>()?;
    check_set(dirs, &shards)?;
    let plan = shards[0].plan.clone();
    let mut by_target: BTreeMap<String, RunResult> = BTreeMap::new();
    for s in &shards {
        for r in &s.runs {
            match by_target.get_mut(&r.target) {
                Some(m) => add_runs(m, r)?,
                None => {
                    by_target.insert(r.target.clone(), r.clone());
                }
            }
        }
    }
    let runs: Vec<RunResult> = by_target.into_values().collect();
    // A random tag, not the pid: two merges in one second (in containers, all pid 1) must not
    // write into one directory.
    let run_id = format!(
        "merged-{}-{:06x}",
        time::OffsetDateTime::now_utc().unix_timestamp(),
        rand::random::<u32>() & 0xff_ffff
    );
    let merged = LoadReport {
        version: report::LOAD_REPORT_VERSION,
        run_id: run_id.clone(),
        plan,
        settings: serde_json::json!({
            "merged_from": shards.iter().map(|s| s.run_id.clone()).collect::<Vec<_>>(),
            "shards": shards.iter().map(|s| s.settings.clone()).collect::<Vec<_>>(),
        }),
        machine: serde_json::json!(shards.iter().map(|s| s.machine.clone()).collect::<Vec<_>>()),
        summary: report::summarize(&runs),
        runs,
        ratios: None,
        gate: None,
        result: None,
    };
    let dir = report_dir.join(&run_id);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("load.json"), serde_json::to_vec_pretty(&merged)?)?;
    std::fs::write(dir.join("summary.txt"), report::console(&merged))?;
    std::fs::write(dir.join("load.html"), super::html::render(&merged))?;
    Ok((merged, dir))
}
