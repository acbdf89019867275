//! The `keygate` binary's exit codes and messages for bad input, as README documents them: 2
//! for usage, scenario or target file errors (found before any server starts), and quiet
//! handling of a closed stdout. [`stopping`]: runs that stop early (`--fail-fast`, SIGINT,
//! SIGTERM) still report every selected scenario and leave nothing behind.

mod stopping;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SCENARIO: &str =
    "version = 1\nid = \"cli-list\"\ntitle = \"t\"\narea = \"s3\"\nrules = [\"U1\"]\n\
    [[steps]]\nop = \"list_buckets\"\n";

/// A scenarios directory with one trivial scenario.
fn library(dir: &Path) -> PathBuf {
    let s = dir.join("scenarios");
    std::fs::create_dir_all(s.join("s3")).unwrap();
    std::fs::write(s.join("s3/list.toml"), SCENARIO).unwrap();
    s
}

fn keygate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("keygate runs")
}

/// `keygate run --no-progress --scenarios SCENARIOS ARGS…`.
fn run(scenarios: &Path, args: &[&str]) -> Output {
    let s = scenarios.to_str().expect("UTF-8 path");
    let mut all = vec!["run", "--no-progress", "--scenarios", s];
    all.extend_from_slice(args);
    keygate(&all)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 2 with `needle` on stderr, and no target started.
fn refused(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(needle), "no `{needle}` in: {err}");
    assert!(!err.contains("target at"), "a target was started: {err}");
}

#[test]
fn an_unwritable_report_dir_is_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let dir = file.join("reports");
    let o = run(&s, &["--report-dir", dir.to_str().unwrap()]);
    refused(&o, &format!("--report-dir {}", dir.display()));
}

#[test]
fn a_report_that_cannot_be_written_after_the_run_is_not_exit_0() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let reports = tmp.path().join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    // `latest` must be a directory; a file there makes the final copy fail.
    std::fs::write(reports.join("latest"), "").unwrap();
    let o = run(&s, &["--report-dir", reports.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("error: writing reports to"), "{err}");
}

#[test]
fn a_selection_of_nothing_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let o = run(&s, &["--filter", "zzz"]);
    refused(&o, "--filter `zzz` selects none of the 1 scenario(s)");
    let o = run(&s, &["--tags", "zzz"]);
    refused(&o, "--tags `zzz` selects none");
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = run(&empty, &[]);
    refused(&o, "no scenarios in");
}

#[test]
fn bad_target_files_are_bad_input_not_an_unreachable_target() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let cases = [
        (
            "syntax.toml",
            "version = 1\nendpoint = \n",
            "line 2, column",
        ),
        (
            "unknown.toml",
            "version = 1\nendpoint = \"http://127.0.0.1:1\"\nfoo = 1\n",
            "unknown field `foo`",
        ),
        ("no-endpoint.toml", "version = 1\n", "endpoint"),
        (
            "kind.toml",
            "version = 1\nkind = \"bogus\"\nendpoint = \"http://127.0.0.1:1\"\n",
            "at `kind`",
        ),
    ];
    for (name, text, needle) in cases {
        let f = tmp.path().join(name);
        std::fs::write(&f, text).unwrap();
        let o = run(&s, &["--target", f.to_str().unwrap()]);
        refused(&o, needle);
    }
    let missing = tmp.path().join("missing.toml");
    let o = run(&s, &["--target", missing.to_str().unwrap()]);
    refused(&o, "cannot read");
}

#[test]
fn bad_load_inputs_are_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/load/auth-only.toml");
    let plan = plan.to_str().unwrap();
    let missing = tmp.path().join("missing.toml");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "version = \n").unwrap();
    for (args, needle) in [
        (
            vec!["load", "--plan", missing.to_str().unwrap()],
            "cannot read",
        ),
        (vec!["load", "--plan", bad.to_str().unwrap()], "bad.toml"),
        (vec!["load", "--plan", plan, "--users", "0"], "--users"),
        (vec!["load", "--plan", plan, "--repeat", "0"], "--repeat"),
        (
            vec!["load", "--plan", plan, "--duration", "0s"],
            "--duration",
        ),
        (
            vec!["load", "--plan", plan, "--duration", "1ms"],
            "--duration",
        ),
        (
            vec!["load", "--plan", plan, "--duration", "999ms"],
            "at least 1s",
        ),
    ] {
        let o = keygate(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: no `{needle}` in {err}");
    }
}

#[test]
fn a_closed_stdout_ends_output_quietly() {
    let library = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut child = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(["list", "--scenarios", library.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before keygate has loaded the library and written a line.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_command_profile_whose_program_is_missing_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let profile = |name: &str, program: &str| {
        let f = tmp.path().join(name);
        let text = format!(
            "version = 1\nkind = \"command\"\nendpoint = \"http://127.0.0.1:9\"\n\
             root_access_key = \"a\"\nroot_secret_key = \"b\"\n[commands]\n\
             user_add = \"{program} user add {{name}} s3 {{password}}\"\n"
        );
        std::fs::write(&f, text).unwrap();
        f
    };
    let f = profile("missing.toml", "/nonexistent/weka");
    let o = run(&s, &["--target", f.to_str().unwrap()]);
    refused(
        &o,
        "missing.toml: at `commands.user_add`: the program `/nonexistent/weka` does not exist",
    );
    let f = profile("not-on-path.toml", "keygate-no-such-cli");
    let o = run(&s, &["--target", f.to_str().unwrap()]);
    refused(&o, "the program `keygate-no-such-cli` is not on PATH");
    // A file that exists but cannot be run.
    let plain = tmp.path().join("plain");
    std::fs::write(&plain, "").unwrap();
    let f = profile("not-exec.toml", plain.to_str().unwrap());
    let o = run(&s, &["--target", f.to_str().unwrap()]);
    refused(&o, "is not executable");
}

#[test]
fn progress_without_a_terminal_is_one_plain_line_per_scenario() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let reports = tmp.path().join("reports");
    // stderr is a pipe here, as in a CI log; no --no-progress.
    let o = keygate(&[
        "run",
        "--scenarios",
        s.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("[1/1] "))
        .unwrap_or_else(|| panic!("no progress line in: {err:?}"));
    assert!(line.starts_with("[1/1] PASS cli-list ("), "{line}");
    assert!(line.ends_with(" s)"), "{line}");
    assert!(!err.contains(['\r', '\x1b']), "{err:?}");

    let o = run(&s, &["--report-dir", reports.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(!err.contains("[1/1]"), "--no-progress prints none: {err}");
}
