//! The `keygate` binary's exit codes and messages for bad input, as README documents them: 2
//! for usage, scenario or target file errors (found before any server starts), and quiet
//! handling of a closed stdout. [`stopping`]: runs that stop early (`--fail-fast`, SIGINT,
//! SIGTERM) still report every selected scenario and leave nothing behind. [`known`]:
//! `--known-failures`.

mod known;
#[path = "../support/procs.rs"]
mod procs;
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
fn a_latest_that_is_not_a_directory_is_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let reports = tmp.path().join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    // `latest` is replaced by each run: a file there is the user's, and is named with the fix.
    std::fs::write(reports.join("latest"), "").unwrap();
    let o = run(&s, &["--report-dir", reports.to_str().unwrap()]);
    refused(
        &o,
        &format!(
            "{} is not a directory: keygate replaces `latest` with each run's reports; remove \
             or rename it",
            reports.join("latest").display()
        ),
    );
    assert!(!stderr(&o).contains("os error"), "{}", stderr(&o));
}

/// A report that cannot be written once the run is over (here `latest` turned into a file
/// after the directory was checked) ends the run with exit 2, never a warning beside exit 0.
#[cfg(feature = "embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_that_cannot_be_written_after_the_run_is_not_exit_0() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let reports = tmp.path().join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(reports.join("latest"), "").unwrap();
    let scenarios = keygate::cli::load_paths(&[s]).unwrap();
    let target = keygate::target::embedded::start(None).await.unwrap();
    let args = keygate::cli::RunArgs {
        jobs: 1,
        report_dir: reports.clone(),
        no_progress: true,
        ..Default::default()
    };
    let code = keygate::cli::run_on(&target, &scenarios, &args, None).await;
    keygate::target::Target::shutdown(&target).await;
    assert_eq!(code, 2);
}

#[test]
fn a_selection_of_nothing_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let o = run(&s, &["--filter", "zzz"]);
    refused(&o, "--filter `zzz` selects none of the 1 scenario(s)");
    // A tag no scenario has is a typo, named with the tags there are, even beside good ones.
    for tags in ["zzz", "s3,zzz"] {
        let o = run(&s, &["--tags", tags]);
        refused(
            &o,
            &format!(
                "--tags: no scenario in {} has the tag or area `zzz` (known: s3)",
                s.display()
            ),
        );
    }
    let o = run(&s, &["--filter", "zzz", "--tags", "s3"]);
    refused(&o, "--filter `zzz` with --tags `s3` selects none");
    let o = run(&s, &["--tags", "s3,"]);
    refused(&o, "an empty tag (a stray comma?)");
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
        (
            "remot.toml",
            "version = 1\nkind = \"remot\"\nendpoint = \"http://127.0.0.1:1\"\n",
            "remot.toml: at `kind`: unknown kind `remot`; expected one of `remote`, `command`, \
             `container`",
        ),
        (
            "scheme.toml",
            "version = 1\nendpoint = \"127.0.0.1:19000\"\n\
             root_access_key = \"a\"\nroot_secret_key = \"b\"\n",
            "scheme.toml: at `endpoint`: endpoint must start with http:// or https:// \
             (found `127.0.0.1:19000`)",
        ),
        (
            "empty-secret.toml",
            "version = 1\nendpoint = \"http://127.0.0.1:1\"\n\
             root_access_key = \"a\"\nroot_secret_key = \"\"\n",
            "at `root_secret_key`: empty",
        ),
        (
            "no-host.toml",
            "version = 1\nendpoint = \"http://\"\n\
             root_access_key = \"a\"\nroot_secret_key = \"b\"\n",
            "no-host.toml: at `endpoint`: endpoint names no host (found `http://`)",
        ),
        (
            "empty-region.toml",
            "version = 1\nendpoint = \"http://127.0.0.1:1\"\nregion = \"\"\n\
             root_access_key = \"a\"\nroot_secret_key = \"b\"\n",
            "empty-region.toml: at `region`: empty",
        ),
        (
            "both-keys.toml",
            "version = 1\nendpoint = \"http://127.0.0.1:1\"\n\
             root_access_key = \"a\"\nroot_secret_key = \"b\"\n\
             root_secret_key_env = \"HOME\"\n",
            "at `root_secret_key`: both `root_secret_key` and `root_secret_key_env` are set",
        ),
        (
            "cmd-group.toml",
            "version = 1\nkind = \"command\"\nendpoint = \"http://127.0.0.1:1\"\n\
             root_access_key = \"a\"\nroot_secret_key = \"b\"\n\
             [commands.assume_role]\nrun = \"true\"\nregex = '(?P<acess_key>\\S+)'\n",
            "at `commands.assume_role.regex`: no named group `access_key`",
        ),
        (
            "cmd-key.toml",
            "version = 1\nkind = \"command\"\nendpoint = \"http://127.0.0.1:1\"\n\
             root_access_key = \"a\"\nroot_secret_key = \"b\"\n\
             [commands.user_add]\nrun = \"true\"\ntimeout = 5\n",
            "at `commands.user_add.timeout`: line 8, column 1: unknown field `timeout`, \
             expected one of `run`, `env`, `json`, `regex`",
        ),
        (
            "cmd-clock.toml",
            "version = 1\nkind = \"command\"\nendpoint = \"http://127.0.0.1:1\"\n\
             root_access_key = \"a\"\nroot_secret_key = \"b\"\n\
             [capabilities]\nclock = true\n[commands]\n",
            "at `capabilities.clock`: a command target cannot move the server's clock",
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
    let o = run(
        &s,
        &["--target", tmp.path().join("remot.toml").to_str().unwrap()],
    );
    assert!(!stderr(&o).contains("not supported yet"), "{}", stderr(&o));
}

/// A command profile naming `endpoint` without a scheme is refused the same way.
#[test]
fn a_command_profile_endpoint_needs_a_scheme() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let f = tmp.path().join("cmd.toml");
    std::fs::write(
        &f,
        "version = 1\nkind = \"command\"\nendpoint = \"weka01:9000\"\n\
         root_access_key = \"a\"\nroot_secret_key = \"b\"\n[commands]\n",
    )
    .unwrap();
    let o = run(&s, &["--target", f.to_str().unwrap()]);
    refused(
        &o,
        "at `endpoint`: endpoint must start with http:// or https://",
    );
}

#[test]
fn a_posix_root_that_is_not_a_directory_is_refused_naming_key_and_path() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let plain = tmp.path().join("plain-file");
    std::fs::write(&plain, "").unwrap();
    let missing = tmp.path().join("no-such-dir");
    for (kind, extra) in [("remote", ""), ("command", "[commands]\n")] {
        for (root, why) in [(&missing, "does not exist"), (&plain, "is not a directory")] {
            let f = tmp.path().join(format!("{kind}.toml"));
            std::fs::write(
                &f,
                format!(
                    "version = 1\nkind = \"{kind}\"\nendpoint = \"http://127.0.0.1:1\"\n\
                     root_access_key = \"a\"\nroot_secret_key = \"b\"\n\
                     posix_root = \"{}\"\n{extra}",
                    root.display()
                ),
            )
            .unwrap();
            let o = run(&s, &["--target", f.to_str().unwrap()]);
            refused(&o, &format!("at `posix_root`: `{}` {why}", root.display()));
        }
    }
}

/// Regression: a relative `posix_root` was read from the current directory, while `ca_file`
/// is read from the profile's: both are relative to the profile file now.
#[test]
fn a_relative_posix_root_is_relative_to_the_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let profiles = tmp.path().join("profiles");
    std::fs::create_dir_all(profiles.join("data")).unwrap();
    for (kind, extra) in [("remote", ""), ("command", "[commands]\n")] {
        let f = profiles.join(format!("{kind}.toml"));
        let write = |root: &str| {
            let text = format!(
                "version = 1\nkind = \"{kind}\"\nendpoint = \"http://127.0.0.1:1\"\n\
                 root_access_key = \"a\"\nroot_secret_key = \"b\"\n\
                 posix_root = \"{root}\"\n{extra}"
            );
            std::fs::write(&f, text).unwrap();
        };
        write("missing");
        let o = run(&s, &["--target", f.to_str().unwrap()]);
        let resolved = profiles.join("missing");
        refused(
            &o,
            &format!("at `posix_root`: `{}` does not exist", resolved.display()),
        );
        // `data` beside the profile (not in this directory) passes the file check: the run
        // then finds no server at the endpoint (exit 3).
        write("data");
        let o = run(&s, &["--target", f.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(3), "{kind}: {}", stderr(&o));
    }
}

/// A root key variable that is set but empty is refused like an unset one.
#[test]
fn an_empty_root_key_variable_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let f = tmp.path().join("env.toml");
    std::fs::write(
        &f,
        "version = 1\nendpoint = \"http://127.0.0.1:1\"\n\
         root_access_key = \"a\"\nroot_secret_key_env = \"KEYGATE_TEST_EMPTY_SECRET\"\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(["run", "--no-progress", "--scenarios", s.to_str().unwrap()])
        .args(["--target", f.to_str().unwrap()])
        .env("KEYGATE_TEST_EMPTY_SECRET", "")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    refused(
        &o,
        "`root_secret_key_env` names $KEYGATE_TEST_EMPTY_SECRET, which is set but empty",
    );
}

#[test]
fn list_selects_as_run_does() {
    let tmp = tempfile::tempdir().unwrap();
    let s = tmp.path().join("scenarios");
    for (id, area, tags) in [
        ("sts-a", "sts", "[\"matrix\"]"),
        ("sts-b", "sts", "[]"),
        ("s3-c", "s3", "[\"matrix\"]"),
    ] {
        std::fs::create_dir_all(s.join(area)).unwrap();
        std::fs::write(
            s.join(format!("{area}/{id}.toml")),
            format!(
                "version = 1\nid = \"{id}\"\ntitle = \"t\"\narea = \"{area}\"\n\
                 tags = {tags}\nrules = [\"U1\"]\n[[steps]]\nop = \"list_buckets\"\n"
            ),
        )
        .unwrap();
    }
    let ids = |args: &[&str]| {
        let mut all = vec!["list", "--scenarios", s.to_str().unwrap()];
        all.extend_from_slice(args);
        let o = keygate(&all);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let mut ids: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.split_whitespace().next().unwrap_or_default().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&[]), ["s3-c", "sts-a", "sts-b"]);
    assert_eq!(ids(&["--filter", "^sts-"]), ["sts-a", "sts-b"]);
    // A tag or an area, as `run --tags`.
    assert_eq!(ids(&["--tags", "matrix"]), ["s3-c", "sts-a"]);
    assert_eq!(ids(&["--tags", "s3,sts"]), ["s3-c", "sts-a", "sts-b"]);
    assert_eq!(ids(&["--tags", "s3, sts"]), ["s3-c", "sts-a", "sts-b"]);
    assert_eq!(ids(&["--filter", "sts", "--tags", "matrix"]), ["sts-a"]);
    // Selecting nothing is refused as `run` refuses it.
    let o = keygate(&[
        "list",
        "--scenarios",
        s.to_str().unwrap(),
        "--filter",
        "zzz",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--filter `zzz` selects none of the 3 scenario(s)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn validate_and_list_refuse_an_empty_library_as_run_does() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = empty.to_str().unwrap();
    for args in [vec!["validate", e], vec!["list", "--scenarios", e]] {
        let o = keygate(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("no scenarios in {e}")),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(!String::from_utf8_lossy(&o.stdout).contains("valid"));
    }
    let s = library(tmp.path());
    let o = keygate(&["validate", s.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("1 scenario(s) valid in {}\n", s.display())
    );
}

#[test]
fn the_shipped_library_is_named_when_there_is_no_scenarios_folder_here() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [&["validate"][..], &["list", "--tags", "smoke"][..]] {
        let o = Command::new(env!("CARGO_BIN_EXE_keygate"))
            .args(args)
            .current_dir(tmp.path())
            .stdin(Stdio::null())
            .output()
            .expect("keygate runs");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(
                "keygate: no ./scenarios here: using the library shipped with this build"
            ),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    // In a directory with its own library, nothing is said.
    library(tmp.path());
    let o = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .arg("validate")
        .current_dir(tmp.path())
        .stdin(Stdio::null())
        .output()
        .expect("keygate runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("no ./scenarios"), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "1 scenario(s) valid in scenarios\n"
    );
}

#[test]
fn a_file_named_twice_is_one_scenario() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let file = s.join("s3/list.toml");
    let o = keygate(&["validate", s.to_str().unwrap(), file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("1 scenario(s) valid"));
}

#[test]
fn jobs_zero_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = library(tmp.path());
    let o = run(&s, &["--jobs", "0"]);
    refused(&o, "--jobs must be at least 1");
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
            "must be at least 1 s",
        ),
        (
            vec![
                "load",
                "--plan",
                plan,
                "--target",
                "null",
                "--compare",
                "null",
            ],
            "--compare null is the target itself",
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

#[test]
fn the_shipped_remote_profile_loads() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets/remote.toml");
    let p = keygate::target::remote::load_profile(&f).expect("targets/remote.toml loads");
    assert_eq!(p.endpoint, "http://127.0.0.1:9000");
    // Moving a vendor's clock is opt-in: the file documents what `true` does.
    assert!(!p.capabilities.expect("[capabilities]").clock());
}

/// Regression: with stderr closed or full (`2>&1 | head -3`, `2>/dev/full`), the first
/// message panicked (exit 101) instead of the command's own exit code.
#[test]
fn a_stderr_that_cannot_be_written_keeps_the_exit_code() {
    let Ok(full) = std::fs::File::create("/dev/full") else {
        eprintln!("skipped: no /dev/full here");
        return;
    };
    let o = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(["validate", "/no/such/scenarios"])
        .stderr(full)
        .output()
        .expect("keygate runs");
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}
