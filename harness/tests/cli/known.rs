//! `keygate run --known-failures FILE`: a listed failure no longer fails the run, a listed
//! pass does, and a run with failures writes the list that would accept them.

use super::stopping::{report_json, scenario, LIST};
use super::{refused, run, stderr};
use std::path::Path;

/// A library of one scenario that passes and one that fails against the reference server.
fn library(dir: &Path) -> std::path::PathBuf {
    let lib = dir.join("scenarios");
    scenario(&lib, "k-pass", "\"U1\"", LIST);
    scenario(
        &lib,
        "k-fail",
        "\"U2\"",
        "[[steps]]\nop = \"list_buckets\"\nexpect = { status = 403 }\n",
    );
    lib
}

fn last_line(stdout: &[u8]) -> String {
    let out = String::from_utf8_lossy(stdout);
    // The last line says where the reports went; the totals are the one before.
    out.lines().rev().nth(1).unwrap_or_default().to_owned()
}

#[test]
fn a_listed_failure_passes_the_gate_and_a_listed_pass_fails_it() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let reports = tmp.path().join("reports");
    let dir = reports.to_str().unwrap();

    // Without a list: exit 1, and the list that would accept this run's failures.
    let o = run(&lib, &["--report-dir", dir]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let written = reports.join("latest/known-failures.toml");
    let text = std::fs::read_to_string(&written).expect("known-failures.toml written");
    assert!(
        text.contains("\nk-fail = ") && !text.contains("k-pass"),
        "{text}"
    );

    // That list, as written: the failure is known, the run passes.
    let list = tmp.path().join("known.toml");
    std::fs::copy(&written, &list).unwrap();
    let o = run(
        &lib,
        &[
            "--report-dir",
            dir,
            "--known-failures",
            list.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        last_line(&o.stdout),
        "1 passed, 1 failed (1 known), 0 errors, 0 skipped"
    );
    let json = report_json(&reports);
    assert_eq!(json["totals"]["known_failures"], 1);
    assert_eq!(json["known_failures"], list.to_str().unwrap());
    let failed = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "k-fail")
        .unwrap();
    assert_eq!(failed["verdict"], "fail");
    assert!(failed["known_failure"].is_string(), "{failed}");

    // A list naming a scenario that passes: the list is stale, the run fails.
    std::fs::write(
        &list,
        "version = 1\n[known_failures]\nk-fail = \"T-1\"\nk-pass = \"T-2\"\n",
    )
    .unwrap();
    let o = run(
        &lib,
        &[
            "--report-dir",
            dir,
            "--known-failures",
            list.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!(
            "UNEXPECTED PASS k-pass [U1]: listed in {} as a known failure (T-2)",
            list.display()
        )),
        "{out}"
    );
}

#[test]
fn fail_fast_does_not_stop_on_a_known_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let list = tmp.path().join("known.toml");
    std::fs::write(&list, "version = 1\n[known_failures]\nk-fail = \"T-1\"\n").unwrap();
    let reports = tmp.path().join("reports");
    // One at a time, in id order: the known failure (`k-fail`) first.
    let fail_fast = || {
        run(
            &lib,
            &[
                "--fail-fast",
                "--jobs",
                "1",
                "--report-dir",
                reports.to_str().unwrap(),
                "--known-failures",
                list.to_str().unwrap(),
            ],
        )
    };
    let o = fail_fast();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        last_line(&o.stdout),
        "1 passed, 1 failed (1 known), 0 errors, 0 skipped"
    );
    // A listed scenario that passes stops it, as a failure does.
    std::fs::write(
        &list,
        "version = 1\n[known_failures]\nk-fail = \"T-1\"\nk-pass = \"T-2\"\n",
    )
    .unwrap();
    scenario(&lib, "k-zz-later", "\"U1\"", LIST);
    let o = fail_fast();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(
            "--fail-fast stopped the run after `k-pass` passed though listed as a known failure"
        ),
        "{out}"
    );
}

#[test]
fn a_list_naming_an_unknown_scenario_is_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let list = tmp.path().join("known.toml");
    std::fs::write(
        &list,
        "version = 1\n[known_failures]\nk-renamed = \"T-1\"\n",
    )
    .unwrap();
    let o = run(&lib, &["--known-failures", list.to_str().unwrap()]);
    refused(
        &o,
        &format!(
            "--known-failures {}: at `known_failures.k-renamed`: no scenario with this id",
            list.display()
        ),
    );
}
