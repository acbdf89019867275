//! Runs that stop early. `--fail-fast` and an interrupt (SIGINT, SIGTERM) stop scheduling, yet
//! every selected scenario is in every report, the ones that did not run as `not_run` with
//! why, never counted as passing (the rule coverage included). An interrupted `keygate run`
//! shuts its target down (the in-process server's temporary data directory, holding the root
//! credentials, removed) and exits 128 + the signal; `keygate load` kills the target process
//! it spawned and removes its directory.
//!
//! The temporary directories are observed through `TMPDIR`, which the child's temporary files
//! follow: a fresh one per test. Nothing here waits on a clock to decide a verdict: the signal
//! is sent once the child shows it is running (a progress line, a child process), and the
//! slow scenario sleeps far longer than any test would wait. The only deadlines bound a hung
//! child, which fails the test.

use super::{procs, run, stderr};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a child may take to show progress, or to exit after a signal, before the test
/// calls it hung.
const HUNG: Duration = Duration::from_secs(120);

/// A scenario of area `s3`.
pub(super) fn scenario(dir: &Path, id: &str, rules: &str, body: &str) {
    let text = format!(
        "version = 1\nid = \"{id}\"\ntitle = \"t\"\narea = \"s3\"\nrules = [{rules}]\n{body}"
    );
    std::fs::create_dir_all(dir.join("s3")).unwrap();
    std::fs::write(dir.join(format!("s3/{id}.toml")), text).unwrap();
}

pub(super) const LIST: &str = "[[steps]]\nop = \"list_buckets\"\n";

/// A step sleeping far longer than any test waits: the scenario runs until interrupted.
const SLEEP_LONG: &str = "[[steps]]\nop = \"sleep\"\nmillis = 600000\n";

pub(super) fn report_json(reports: &Path) -> Value {
    let text = std::fs::read(reports.join("latest/report.json")).expect("report.json written");
    serde_json::from_slice(&text).unwrap()
}

fn junit(reports: &Path) -> String {
    std::fs::read_to_string(reports.join("latest/junit.xml")).expect("junit.xml written")
}

/// Each scenario's id, verdict and reason, in report order.
fn verdicts(json: &Value) -> Vec<(String, String, String)> {
    json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
            (text("id"), text("verdict"), text("reason"))
        })
        .collect()
}

fn rule_verdict(json: &Value, rule: &str) -> String {
    let v = rule_field(json, rule, "verdict");
    if v.is_empty() {
        "uncovered".to_owned()
    } else {
        v
    }
}

fn rule_field(json: &Value, rule: &str, field: &str) -> String {
    let c = json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["rule"] == rule)
        .unwrap_or_else(|| panic!("{rule} in the coverage"));
    c[field].as_str().unwrap_or_default().to_owned()
}

#[test]
fn fail_fast_reports_the_scenarios_it_did_not_run() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("scenarios");
    scenario(&lib, "ff-a-pass", "\"U1\"", LIST);
    scenario(
        &lib,
        "ff-b-fail",
        "\"U2\"",
        "[[steps]]\nop = \"list_buckets\"\nexpect = { status = 403 }\n",
    );
    scenario(&lib, "ff-c-later", "\"U1\"", LIST);
    scenario(&lib, "ff-d-later", "\"U3\"", LIST);
    let reports = tmp.path().join("reports");
    let o = run(
        &lib,
        &[
            "--fail-fast",
            "--jobs",
            "1",
            "--report-dir",
            reports.to_str().unwrap(),
        ],
    );
    let (out, err) = (String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert_eq!(
        out.lines().rev().nth(1),
        Some("1 passed, 1 failed, 0 errors, 0 skipped, 2 not run"),
        "{out}"
    );
    let why = "not run: --fail-fast stopped the run after `ff-b-fail` failed";
    assert!(
        out.contains(&format!("NOT RUN 2 scenario(s): {why}")),
        "{out}"
    );

    let json = report_json(&reports);
    let got = verdicts(&json);
    let got: Vec<(&str, &str)> = got.iter().map(|(i, v, _)| (&i[..], &v[..])).collect();
    assert_eq!(
        got,
        [
            ("ff-a-pass", "pass"),
            ("ff-b-fail", "fail"),
            ("ff-c-later", "not_run"),
            ("ff-d-later", "not_run"),
        ]
    );
    for (id, _, reason) in verdicts(&json).iter().skip(2) {
        assert_eq!(reason, why, "{id}");
    }
    let t = &json["totals"];
    assert_eq!(
        (
            &t["pass"],
            &t["fail"],
            &t["skip"],
            &t["error"],
            &t["not_run"]
        ),
        (&1.into(), &1.into(), &0.into(), &0.into(), &2.into()),
        "{t}"
    );
    // U1 passed in ff-a-pass but ff-c-later never ran: not a passing rule.
    assert_eq!(rule_verdict(&json, "U1"), "not_run");
    assert_eq!(rule_verdict(&json, "U2"), "fail");
    assert_eq!(rule_verdict(&json, "U3"), "not_run");
    // Nor a verified one, in the JSON as on the console.
    assert_eq!(rule_field(&json, "U1", "status"), "unverified");
    assert_eq!(rule_field(&json, "U2", "status"), "failed");
    assert_eq!(rule_field(&json, "U3", "status"), "unverified");
    let rt = &json["rule_totals"];
    assert_eq!(
        (&rt["verified"], &rt["failed"]),
        (&0.into(), &1.into()),
        "{rt}"
    );
    let unverified = rt["unverified"].as_u64().unwrap();
    let uncovered = rt["uncovered"].as_u64().unwrap();
    assert!(
        out.contains(&format!(
            "rules: 0 verified, 1 failed, {unverified} unverified (skipped, not run or in error)"
        )),
        "{out}"
    );
    assert_eq!(
        unverified + uncovered + 1,
        json["rules"].as_array().unwrap().len() as u64
    );

    let xml = junit(&reports);
    assert!(
        xml.contains("tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"2\""),
        "{xml}"
    );
    for id in ["ff-c-later", "ff-d-later"] {
        let rule = if id == "ff-c-later" { 1 } else { 3 };
        let file = lib.join(format!("s3/{id}.toml"));
        assert!(
            xml.contains(&format!(
                "name=\"{id}\" file=\"{}\" time=\"0.000\">\n      <properties>\n        \
                 <property name=\"rules\" value=\"U{rule}\"/>\n      </properties>\n      \
                 <skipped message=\"{why}\"/>",
                file.display()
            )),
            "{id}: {xml}"
        );
    }
    let html = std::fs::read_to_string(reports.join("latest/report.html")).unwrap();
    assert!(html.contains("2 not run"), "{html}");
}

/// Entries of `dir` whose names start with `prefix`.
fn entries(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect()
}

/// `kill -SIGNAL pid` (the workspace forbids the unsafe a direct `kill(2)` would need).
fn send(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}: {status}");
}

/// A child whose stderr lines arrive on a channel as they are written.
struct Watched {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watched {
    /// `keygate run --jobs 1` of the library `lib` into `reports`, with `extra` arguments, its
    /// temporary files under `tmpdir` (made here).
    fn run_one_at_a_time(lib: &Path, reports: &Path, tmpdir: &Path, extra: &[&str]) -> Self {
        std::fs::create_dir_all(tmpdir).unwrap();
        let mut args = vec![
            "run",
            "--jobs",
            "1",
            "--scenarios",
            lib.to_str().unwrap(),
            "--report-dir",
            reports.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        Self::spawn(&args, tmpdir)
    }

    /// [`Self::run_one_at_a_time`] against the target profile `profile`, reports and temporary
    /// files under `dir`.
    fn on_target(dir: &Path, lib: &Path, profile: &Path) -> Self {
        let (reports, tmpdir) = (dir.join("reports"), dir.join("tmp"));
        let target = ["--target", profile.to_str().unwrap()];
        Self::run_one_at_a_time(lib, &reports, &tmpdir, &target)
    }

    fn spawn(args: &[&str], tmpdir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keygate"))
            .args(args)
            .env("TMPDIR", tmpdir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("keygate starts");
        let err = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watched {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Wait for a stderr line starting with `prefix`.
    fn line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + HUNG;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.starts_with(prefix) {
                        return l;
                    }
                }
                Err(e) => {
                    let _ = self.child.kill();
                    panic!(
                        "no `{prefix}` line ({e:?}); stderr so far:\n{}",
                        self.text()
                    );
                }
            }
        }
    }

    /// Wait until `ready` holds (checked every 20 ms), failing the test if the child exits or
    /// the check never holds.
    fn until(&mut self, what: &str, mut ready: impl FnMut(u32) -> bool) {
        let deadline = Instant::now() + HUNG;
        while !ready(self.child.id()) {
            self.seen.extend(self.lines.try_iter());
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("exited ({status}) before {what}:\n{}", self.text());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("never {what}; stderr:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for the child to exit: its status, stdout and the whole of stderr.
    fn finish(mut self) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + HUNG;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("did not exit after the signal; stderr:\n{}", self.text());
            }
            self.seen.extend(self.lines.try_iter());
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader thread ends at EOF, so this collects the rest.
        self.seen.extend(self.lines.iter());
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        (status, out, self.text())
    }

    fn text(&self) -> String {
        self.seen.join("\n")
    }
}

/// `keygate run` on three scenarios, one at a time: the first passes, the second sleeps far
/// longer than the test waits, the third comes after it. `signal` is sent once the first has
/// finished (its progress line); then the second is running or about to start.
/// `repeats`: how many times the signal is sent at once (as `timeout` sends one twice).
fn interrupted_run(signal: &str, name: &str, code: i32, repeats: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("scenarios");
    scenario(&lib, "int-a-quick", "\"U1\"", LIST);
    scenario(
        &lib,
        "int-b-slow",
        "\"U2\"",
        &format!("[setup]\nbuckets = [\"held\"]\n{SLEEP_LONG}"),
    );
    scenario(&lib, "int-c-never", "\"U1\"", LIST);
    let (reports, tmpdir) = (tmp.path().join("reports"), tmp.path().join("tmp"));
    let mut child = Watched::run_one_at_a_time(&lib, &reports, &tmpdir, &[]);
    let first = child.line("[1/3] ");
    assert!(first.starts_with("[1/3] PASS int-a-quick"), "{first}");
    // The in-process server's data directory (root credentials inside) is where we look.
    let data = entries(&tmpdir, "keygate-run-");
    assert_eq!(data.len(), 1, "{data:?}");
    let sent = Instant::now();
    send(signal, child.child.id());
    if repeats > 1 {
        // Once the first is surely taken (else the two may arrive as one), the same again at
        // once; the run may already have finished, so a `kill` that finds no process is fine.
        child.line(&format!("keygate: {name} received"));
        for _ in 1..repeats {
            let _ = Command::new("kill")
                .args([&format!("-{signal}"), &child.child.id().to_string()])
                .status();
        }
        // A machine so slow that the repeat came a second or more after the first cannot
        // tell a repeat from a second request: nothing to judge.
        if sent.elapsed() >= std::time::Duration::from_millis(800) {
            eprintln!(
                "inconclusive: the repeated signal took {:?}",
                sent.elapsed()
            );
            let _ = child.finish();
            return;
        }
    }
    let (status, out, err) = child.finish();

    assert_eq!(
        status.code(),
        Some(code),
        "{status}\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(
        err.contains(&format!("keygate: {name} received: stopping")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "keygate: interrupted by {name}: the embedded server is stopped and its data \
             directory removed; exit {code}"
        )),
        "{err}"
    );
    assert!(!data[0].exists(), "{} left behind", data[0].display());
    assert_eq!(entries(&tmpdir, "").len(), 0, "TMPDIR not emptied");
    assert_eq!(
        out.lines().rev().nth(1),
        Some("1 passed, 0 failed, 0 errors, 0 skipped, 2 not run"),
        "{out}"
    );

    let json = report_json(&reports);
    let got = verdicts(&json);
    assert_eq!(got[0].0, "int-a-quick");
    assert_eq!(got[0].1, "pass");
    for (id, verdict, reason) in &got[1..] {
        assert_eq!(verdict, "not_run", "{id}");
        assert!(
            reason.starts_with(&format!("not run: interrupted by {name}")),
            "{id}: {reason}"
        );
    }
    assert_eq!(json["totals"]["not_run"], 2);
    assert_eq!(rule_verdict(&json, "U1"), "not_run");
    let xml = junit(&reports);
    assert!(
        xml.contains("tests=\"3\" failures=\"0\" errors=\"0\" skipped=\"2\""),
        "{xml}"
    );
    assert_eq!(
        xml.matches(&format!(
            "<skipped message=\"not run: interrupted by {name}"
        ))
        .count(),
        2,
        "{xml}"
    );
}

/// The reference server in-process, on a data directory under `dir`, with the runtime it
/// runs on.
#[cfg(feature = "embedded")]
fn embedded_server(dir: &Path) -> (tokio::runtime::Runtime, keygate_server::RunningServer) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = keygate_server::ServerConfig::new(dir.join("data"));
    let server = rt.block_on(keygate_server::Server::start(config));
    (rt, server.expect("server starts"))
}

/// A target profile's `version`, `endpoint` and root keys for `server` (TOML lines; `kind`
/// may come before them).
#[cfg(feature = "embedded")]
fn profile_head(server: &keygate_server::RunningServer) -> String {
    format!(
        "version = 1\nendpoint = \"{}\"\nroot_access_key = \"{}\"\nroot_secret_key = \"{}\"\n",
        server.endpoint(),
        server.root_access_key(),
        server.root_secret_key()
    )
}

/// On a target the harness did not start (a remote server), an interrupt cleans up what the
/// run created and says so; it never claims to have shut the vendor's server down, and the
/// server keeps answering.
#[cfg(feature = "embedded")]
#[test]
fn sigterm_on_a_remote_target_cleans_up_without_claiming_to_stop_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (rt, server) = embedded_server(tmp.path());
    let profile = tmp.path().join("remote.toml");
    let text = format!("kind = \"remote\"\n{}", profile_head(&server));
    std::fs::write(&profile, text).unwrap();
    let lib = tmp.path().join("scenarios");
    scenario(&lib, "rint-a-quick", "\"U1\"", LIST);
    scenario(
        &lib,
        "rint-b-slow",
        "\"U2\"",
        &format!("[setup]\nbuckets = [\"held\"]\n{SLEEP_LONG}"),
    );
    let mut child = Watched::on_target(tmp.path(), &lib, &profile);
    let first = child.line("[1/2] ");
    assert!(first.starts_with("[1/2] PASS rint-a-quick"), "{first}");
    send("TERM", child.child.id());
    let (status, out, err) = child.finish();
    assert_eq!(
        status.code(),
        Some(143),
        "{status}\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(
        err.contains(
            "keygate: interrupted by SIGTERM: cleaned up what this run created on the remote \
             target, which keeps running; exit 143"
        ),
        "{err}"
    );
    assert!(!err.contains("shut down"), "{err}");
    assert!(err.contains("a remote server keeps running"), "{err}");
    // Still up, and the slow scenario's bucket was removed by its cleanup.
    let buckets = rt.block_on(async {
        let creds = aws_credential_types::Credentials::new(
            server.root_access_key(),
            server.root_secret_key(),
            None,
            None,
            "test",
        );
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .endpoint_url(server.endpoint())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
            .list_buckets()
            .send()
            .await
            .expect("the remote server still answers")
            .buckets()
            .len()
    });
    assert_eq!(buckets, 0, "the run's buckets were cleaned up");
    rt.block_on(server.shutdown());
}

#[test]
fn sigint_shuts_the_target_down_and_reports_what_did_not_run() {
    interrupted_run("INT", "SIGINT", 130, 1);
}

#[test]
fn sigterm_shuts_the_target_down_and_reports_what_did_not_run() {
    interrupted_run("TERM", "SIGTERM", 143, 1);
}

/// Regression: `timeout` delivers its SIGTERM twice (to the process, then to its group), and
/// the second, a moment later, made the run exit at once without cleanup. The same signal
/// within a second is the same interrupt: the run still cleans up.
#[test]
fn a_signal_delivered_twice_is_one_interrupt() {
    interrupted_run("TERM", "SIGTERM", 143, 2);
}

/// Pids of the processes whose parent is `pid` (from `/proc/*/stat`).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After `(comm)`: state, then the parent's pid.
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// Kills the null targets still running when the test ends (only when it failed: they
/// outlived `keygate`), so a failure leaves no process behind.
struct Reap(Vec<u32>);

impl Drop for Reap {
    fn drop(&mut self) {
        for pid in &self.0 {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains("null-server") {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

#[test]
fn sigterm_during_load_stops_the_spawned_target_and_removes_its_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let tmpdir = tmp.path().join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let reports = tmp.path().join("reports");
    let plan = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/load/auth-only.toml");
    // Long phases: the signal comes while the null target is up, whatever the machine's pace.
    let mut child = Watched::spawn(
        &[
            "load",
            "--target",
            "null",
            "--plan",
            plan.to_str().unwrap(),
            "--warmup",
            "10m",
            "--duration",
            "10m",
            "--users",
            "1",
            "--no-pin",
            "--report-dir",
            reports.to_str().unwrap(),
        ],
        &tmpdir,
    );
    let mut spawned = Vec::new();
    child.until("the null target was spawned", |pid| {
        spawned = children(pid);
        !spawned.is_empty() && !entries(&tmpdir, "").is_empty()
    });
    let _reap = Reap(spawned.clone());
    send("TERM", child.child.id());
    let (status, out, err) = child.finish();
    assert_eq!(
        status.code(),
        Some(143),
        "{status}\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(
        err.contains("keygate: load interrupted by SIGTERM: the target it spawned is stopped"),
        "{err}"
    );
    assert_eq!(entries(&tmpdir, "").len(), 0, "TMPDIR not emptied");
    for pid in spawned {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "the spawned target {pid} outlived keygate"
        );
    }
    assert!(
        !reports.exists() || entries(&reports, "").is_empty(),
        "a report was written"
    );
}

/// A vendor CLI whose `user delete` hangs, with a child of its own: what a second signal must
/// not leave behind.
#[cfg(feature = "embedded")]
const HANGING_DELETE: &str = r#"#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case "$1 $2" in
  "user delete") sleep 600 & echo $! > "$FAKE_LOG.child"; wait ;;
esac
exit 0
"#;

/// A second signal exits at once, and the vendor commands running then (here the cleanup's
/// `user delete`, which runs in its own process group) are killed with their children rather
/// than left running after `keygate` is gone.
#[cfg(feature = "embedded")]
#[test]
fn a_second_signal_kills_the_commands_still_running() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let (rt, server) = embedded_server(tmp.path());
    let cli = tmp.path().join("vendor-cli");
    std::fs::write(&cli, HANGING_DELETE).unwrap();
    std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = tmp.path().join("calls.log");
    let profile = tmp.path().join("vendor.toml");
    std::fs::write(
        &profile,
        format!(
            "kind = \"command\"\n{}[env]\nFAKE_LOG = \"{}\"\n[commands]\n\
             user_add = \"{cli} user add {{name}}\"\nuser_delete = \"{cli} user delete {{name}}\"\n",
            profile_head(&server),
            log.display(),
            cli = cli.display(),
        ),
    )
    .unwrap();
    let lib = tmp.path().join("scenarios");
    scenario(
        &lib,
        "rint-held",
        "\"U1\"",
        &format!("[[setup.users]]\nname = \"held\"\n{SLEEP_LONG}"),
    );
    let mut child = Watched::on_target(tmp.path(), &lib, &profile);
    let calls = || std::fs::read_to_string(&log).unwrap_or_default();
    child.until("the scenario's user was added", |_| {
        calls().contains("user add ")
    });
    send("TERM", child.child.id());
    let first = Instant::now();
    let child_file = PathBuf::from(format!("{}.child", log.display()));
    child.until("the cleanup's user delete started", |_| {
        std::fs::read_to_string(&child_file).is_ok_and(|s| !s.trim().is_empty())
    });
    // Later than the window in which a repeat counts as the same interrupt.
    std::thread::sleep(Duration::from_millis(1500).saturating_sub(first.elapsed()));
    send("TERM", child.child.id());
    let (status, out, err) = child.finish();
    assert_eq!(
        status.code(),
        Some(143),
        "{status}\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(err.contains("received again: exiting now"), "{err}");
    let pid = std::fs::read_to_string(&child_file).unwrap();
    if !procs::stops_within(&pid, Duration::from_secs(10)) {
        let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        panic!(
            "the cleanup command's child {} outlived keygate",
            pid.trim()
        );
    }
    rt.block_on(server.shutdown());
}
