//! Target processes for load runs, and what is read from them.
//!
//! The reference server is spawned from its built binary (`keygate-server` next to this
//! executable, or `KEYGATE_SERVER_BIN`) so its CPU time can be read from `/proc/<pid>/stat`
//! apart from the generator's; the null target is `keygate null-server` (this binary, or
//! `KEYGATE_BIN`). Both listen on 127.0.0.1 only, on a port picked here, in a temporary data
//! directory; both are killed (by their own pid) when the handle drops. With a [`Pinning`]
//! the target starts on its CPUs with one runtime worker per CPU (or `--target-workers`);
//! unpinned, with `--target-workers` threads when given, tokio's default otherwise.

use super::affinity::Pinning;
use super::attack::OPS;
use super::report::StageResult;
use crate::target::http::HttpClient;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A spawned target process.
#[derive(Debug)]
pub struct Spawned {
    pub child: Child,
    pub endpoint: String,
    pub root: (String, String),
    _dir: tempfile::TempDir,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Spawned {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How the process ended, if it has (a crash, a kill by someone else).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

/// Finds a sibling binary of the running executable (tests run from `target/debug/deps`).
fn sibling(name: &str, env: &str) -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    if name == "keygate" && exe.file_name().is_some_and(|f| f == "keygate") {
        return Ok(exe);
    }
    let dir = exe.parent().unwrap_or(Path::new("."));
    for d in [Some(dir), dir.parent()].into_iter().flatten() {
        let p = d.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    anyhow::bail!(
        "cannot find the `{name}` binary next to {} (build it: `cargo build -p {}`, or set {env})",
        exe.display(),
        if name == "keygate" {
            "keygate"
        } else {
            "keygate-server"
        }
    )
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Spawns a target: pinned (with the pinning's worker threads), or not, with `workers`
/// runtime worker threads when given (tokio's default otherwise).
fn start(
    mut cmd: Command,
    bin: &Path,
    pin: Option<&Pinning>,
    workers: Option<usize>,
) -> anyhow::Result<Child> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match (pin, workers) {
        (Some(p), _) => p.spawn_target(cmd),
        (None, Some(n)) => cmd.env("TOKIO_WORKER_THREADS", n.to_string()).spawn(),
        (None, None) => cmd.spawn(),
    }
    .map_err(|e| anyhow::anyhow!("starting {}: {e}", bin.display()))
}

/// Starts the reference server as its own process.
pub async fn spawn_server(
    pin: Option<&Pinning>,
    workers: Option<usize>,
) -> anyhow::Result<Spawned> {
    let bin = sibling("keygate-server", "KEYGATE_SERVER_BIN")?;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let (ak, sk) = (
        "loadroot".to_owned(),
        "load-root-secret-key-0123456789".to_owned(),
    );
    let mut cmd = Command::new(&bin);
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env("KEYGATE_ROOT_ACCESS_KEY", &ak)
        .env("KEYGATE_ROOT_SECRET_KEY", &sk)
        .env_remove("KEYGATE_LOG");
    if !running_as_root() {
        cmd.arg("--no-posix-ownership");
    }
    let child = start(cmd, &bin, pin, workers)?;
    let s = Spawned {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
        root: (ak, sk),
        _dir: dir,
    };
    wait_ready(port).await?;
    Ok(s)
}

/// Starts `keygate null-server` (optionally burning `spin_us` of CPU per request).
pub async fn spawn_null(
    spin_us: u64,
    pin: Option<&Pinning>,
    workers: Option<usize>,
) -> anyhow::Result<Spawned> {
    let bin = sibling("keygate", "KEYGATE_BIN")?;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let mut cmd = Command::new(&bin);
    cmd.arg("null-server")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--spin-us")
        .arg(spin_us.to_string());
    let child = start(cmd, &bin, pin, workers)?;
    let s = Spawned {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
        root: (String::new(), String::new()),
        _dir: dir,
    };
    wait_ready(port).await?;
    Ok(s)
}

async fn wait_ready(port: u16) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("the target on 127.0.0.1:{port} did not accept connections within 20 s")
}

/// Whether process `pid` has ended: gone, or a zombie its parent (this process, which reaps
/// a spawned target only when its handle drops) has not reaped yet. A `/proc` file that cannot
/// be read for another reason (no file descriptor left) says nothing: not ended.
pub fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Resolves once process `pid` has ended (polled every 100 ms).
pub async fn ends(pid: u32) {
    while !ended(pid) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// User + system CPU time of a process, in microseconds (`/proc/<pid>/stat`, 100 Hz ticks).
pub fn cpu_us(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15 (1-based, whole line).
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) * 10_000)
}

/// Time all threads of a process spent runnable but waiting for a CPU, in microseconds (the
/// second field of `/proc/<pid>/task/<tid>/schedstat`; threads that ended are not counted, so
/// read it while the process's threads are alive).
pub fn runqueue_wait_us(pid: u32) -> Option<u64> {
    let mut ns = 0u64;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let stat = std::fs::read_to_string(entry.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    }
    Some(ns / 1000)
}

/// `GET /_keygate/metrics` (loopback, unauthenticated); `None` if the target has none.
pub async fn scrape(http: &HttpClient, endpoint: &str) -> Option<String> {
    let req = http::Request::get(format!("{endpoint}/_keygate/metrics"))
        .body(bytes::Bytes::new())
        .ok()?;
    let resp = http.send(req).await.ok()?;
    let text = resp.text();
    (resp.status == 200 && text.contains("keygate_")).then_some(text)
}

/// The value of one series (exact label set) in a Prometheus text page.
pub fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(name_and_labels)?;
            rest.starts_with(' ').then(|| rest.trim().parse().ok())?
        })
        .unwrap_or(0.0)
}

/// Counts by operation from a metrics page: all requests, or with `outcome` only those.
pub fn counted(text: &str, outcome: Option<&str>) -> BTreeMap<String, u64> {
    OPS.iter()
        .map(|op| {
            let name = match outcome {
                None => format!("keygate_requests_total{{operation=\"{op}\"}}"),
                Some(o) => format!(
                    "keygate_operation_requests_total{{operation=\"{op}\",outcome=\"{o}\"}}"
                ),
            };
            (op.to_string(), series(text, &name) as u64)
        })
        .collect()
}

/// `counted` over the run: the difference between two scrapes.
pub fn counted_between(a: &str, b: &str, outcome: Option<&str>) -> BTreeMap<String, u64> {
    let before = counted(a, outcome);
    counted(b, outcome)
        .into_iter()
        .map(|(op, n)| {
            let n0 = before[&op];
            (op, n.saturating_sub(n0))
        })
        .collect()
}

pub fn stage_means(a: &str, b: &str) -> BTreeMap<String, StageResult> {
    ["sigv4", "policy", "storage", "total"]
        .iter()
        .map(|s| {
            let c = |t: &str| {
                series(
                    t,
                    &format!("keygate_stage_duration_seconds_count{{stage=\"{s}\"}}"),
                )
            };
            let sum = |t: &str| {
                series(
                    t,
                    &format!("keygate_stage_duration_seconds_sum{{stage=\"{s}\"}}"),
                )
            };
            let n = c(b) - c(a);
            let mean = if n > 0.0 {
                (sum(b) - sum(a)) / n * 1e6
            } else {
                0.0
            };
            (
                s.to_string(),
                StageResult {
                    count: n as u64,
                    mean_us: mean,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_unpinned_target_gets_the_worker_threads_asked_for_and_else_tokios_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("env");
        for (workers, want) in [(Some(3), "3"), (None, "unset")] {
            let mut cmd = super::Command::new("sh");
            cmd.args([
                "-c",
                &format!(
                    "echo \"${{TOKIO_WORKER_THREADS-unset}}\" > {}",
                    file.display()
                ),
            ])
            .env_remove("TOKIO_WORKER_THREADS");
            let mut child = super::start(cmd, super::Path::new("sh"), None, workers).unwrap();
            child.wait().unwrap();
            assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), want);
        }
    }

    #[test]
    fn cpu_of_this_process_is_readable_and_series_parse() {
        assert!(super::cpu_us(std::process::id()).is_some());
        assert!(super::runqueue_wait_us(std::process::id()).is_some());
        let t = "a_total{op=\"X\"} 3\na_total{op=\"XY\"} 5\n";
        assert_eq!(super::series(t, "a_total{op=\"X\"}"), 3.0);
        assert_eq!(super::series(t, "a_total{op=\"Z\"}"), 0.0);
    }
}
