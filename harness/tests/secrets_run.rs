//! No secret in the server's log of a full conformance run (SPEC V7, issue 8).
//!
//! Starts the `keygate-server` binary as its own process with every log level on
//! (`KEYGATE_LOG=trace`, its stdout and stderr captured to files), runs the whole scenario
//! library against it as a remote target (test clock on, so the clock scenarios run too), and
//! records every secret issued along the way through [`Recording`], an adapter around the
//! remote target: the root secret, user secrets and passwords, STS secret keys and session
//! tokens, service-account secrets. None may appear in the server's output or in the written
//! reports. Failures name the file and the kind of secret, never the secret.
//!
//! Needs the `keygate-server` binary next to the test executable's directory, as
//! `cargo test --workspace` builds it; it is built here when missing.

use async_trait::async_trait;
use keygate::cli::{self, RunArgs};
use keygate::target::{
    Credentials, FileOwner, NewUser, RoleRequest, SharedClock, Target, TargetError, TargetInfo,
    UserUpdate,
};
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a recorded secret is, for failure messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Root,
    UserSecret,
    Password,
    StsSecret,
    SessionToken,
    ServiceAccountSecret,
}

/// A target that hands every call to `inner` and keeps every secret the calls issue.
struct Recording {
    inner: Box<dyn Target>,
    issued: Mutex<Vec<(Kind, String)>>,
    /// The access keys issued with them (not secret: the log may name them).
    access_keys: Mutex<Vec<String>>,
}

impl fmt::Debug for Recording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recording")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Recording {
    fn new(inner: Box<dyn Target>) -> Recording {
        let root = (Kind::Root, inner.root().secret_key.clone());
        Recording {
            inner,
            issued: Mutex::new(vec![root]),
            access_keys: Mutex::new(Vec::new()),
        }
    }

    fn keep(&self, kind: Kind, secret: &str) {
        self.issued
            .lock()
            .expect("issued secrets")
            .push((kind, secret.to_owned()));
    }

    /// Keeps the secret and session token of `creds` if the call succeeded.
    fn keep_creds(
        &self,
        kind: Kind,
        r: Result<Credentials, TargetError>,
    ) -> Result<Credentials, TargetError> {
        if let Ok(c) = &r {
            self.access_keys
                .lock()
                .expect("access keys")
                .push(c.access_key.clone());
            self.keep(kind, &c.secret_key);
            if let Some(token) = &c.session_token {
                self.keep(Kind::SessionToken, token);
            }
        }
        r
    }

    fn issued(&self) -> Vec<(Kind, String)> {
        self.issued.lock().expect("issued secrets").clone()
    }
}

#[async_trait]
impl Target for Recording {
    fn info(&self) -> TargetInfo {
        self.inner.info()
    }
    fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }
    fn region(&self) -> &str {
        self.inner.region()
    }
    fn root(&self) -> &Credentials {
        self.inner.root()
    }
    fn clock(&self) -> &SharedClock {
        self.inner.clock()
    }
    async fn create_user(&self, user: &NewUser) -> Result<Credentials, TargetError> {
        let r = self.inner.create_user(user).await;
        if r.is_ok() {
            self.keep(Kind::Password, &user.password);
        }
        self.keep_creds(Kind::UserSecret, r)
    }
    async fn update_user(&self, name: &str, update: &UserUpdate) -> Result<(), TargetError> {
        let r = self.inner.update_user(name, update).await;
        if let (Ok(()), Some(password)) = (&r, &update.password) {
            self.keep(Kind::Password, password);
        }
        r
    }
    async fn delete_user(&self, name: &str) -> Result<(), TargetError> {
        self.inner.delete_user(name).await
    }
    async fn put_policy(&self, name: &str, document: &str) -> Result<(), TargetError> {
        self.inner.put_policy(name, document).await
    }
    async fn delete_policy(&self, name: &str) -> Result<(), TargetError> {
        self.inner.delete_policy(name).await
    }
    async fn attach_policy(&self, user: &str, policy: &str) -> Result<(), TargetError> {
        self.inner.attach_policy(user, policy).await
    }
    async fn detach_policy(&self, user: &str) -> Result<(), TargetError> {
        self.inner.detach_policy(user).await
    }
    async fn assume_role(
        &self,
        caller: &Credentials,
        request: &RoleRequest,
    ) -> Result<Credentials, TargetError> {
        let r = self.inner.assume_role(caller, request).await;
        self.keep_creds(Kind::StsSecret, r)
    }
    async fn create_service_account(
        &self,
        caller: &Credentials,
        policy: Option<&str>,
    ) -> Result<Credentials, TargetError> {
        let r = self.inner.create_service_account(caller, policy).await;
        self.keep_creds(Kind::ServiceAccountSecret, r)
    }
    async fn delete_service_account(
        &self,
        caller: &Credentials,
        access_key: &str,
    ) -> Result<(), TargetError> {
        self.inner.delete_service_account(caller, access_key).await
    }
    async fn advance_clock(&self, seconds: i64) -> Result<(), TargetError> {
        self.inner.advance_clock(seconds).await
    }
    async fn stat(&self, relative: &Path) -> Result<FileOwner, TargetError> {
        self.inner.stat(relative).await
    }
    async fn shutdown(&self) {
        self.inner.shutdown().await
    }
}

/// The `keygate-server` binary next to this test's, built if `cargo test -p keygate` ran alone.
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("keygate-server");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "-p", "keygate-server", "--bin", "keygate-server"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(built && bin.exists(), "cannot build {}", bin.display());
    }
    bin
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The server process; stopped (SIGTERM, then SIGKILL) when dropped, by its own pid.
struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    /// Asks the server to stop and waits for it, so its last log lines are written.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts the server on a free loopback port, logging everything into `dir`; its process
/// and endpoint once it says where it listens.
async fn start_server(dir: &Path, root: (&str, &str)) -> (ServerProcess, String) {
    let stdout = dir.join("server.stdout");
    let mut cmd = Command::new(server_binary());
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--listen", "127.0.0.1:0", "--test-clock"])
        .env("KEYGATE_LOG", "trace")
        .env("KEYGATE_ROOT_ACCESS_KEY", root.0)
        .env("KEYGATE_ROOT_SECRET_KEY", root.1)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout).expect("stdout file"))
        .stderr(File::create(dir.join("server.stderr")).expect("stderr file"));
    if !running_as_root() {
        cmd.arg("--no-posix-ownership");
    }
    let mut server = ServerProcess {
        child: cmd.spawn().expect("starts keygate-server"),
    };
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let out = std::fs::read_to_string(&stdout).unwrap_or_default();
        if let Some(rest) = out.split("listening on ").nth(1) {
            let endpoint = rest.lines().next().unwrap_or_default().trim().to_owned();
            return (server, endpoint);
        }
        if Instant::now() > until || matches!(server.child.try_wait(), Ok(Some(_))) {
            server.stop();
            let err = std::fs::read_to_string(dir.join("server.stderr")).unwrap_or_default();
            panic!("keygate-server did not start; its stderr:\n{err}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_issued_secret_reaches_the_server_log_of_a_full_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let nonce = format!("{:x}", std::process::id() ^ 0x5ec7e7);
    let root_secret = format!("root-secret-{nonce}-never-logged");
    let (mut server, endpoint) = start_server(dir.path(), ("secretsroot", &root_secret)).await;

    let posix_root = if running_as_root() {
        format!(
            "posix_root = {:?}\n",
            dir.path().join("data").display().to_string()
        )
    } else {
        String::new()
    };
    let profile = dir.path().join("target.toml");
    std::fs::write(
        &profile,
        format!(
            "version = 1\nkind = \"remote\"\nendpoint = \"{endpoint}\"\n\
             root_access_key = \"secretsroot\"\nroot_secret_key = \"{root_secret}\"\n\
             {posix_root}profile = \"reference\"\n[capabilities]\nclock = true\n"
        ),
    )
    .expect("writes the target profile");
    let target = Recording::new(keygate::target::open(&profile, None).await.expect("opens"));

    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let scenarios = cli::load_paths(&[lib]).expect("library validates");
    let reports = dir.path().join("reports");
    let args = RunArgs {
        jobs: 4,
        report_dir: reports.clone(),
        no_progress: true,
        ..Default::default()
    };
    let code = cli::run_on(&target, &scenarios, &args, None).await;
    target.shutdown().await;
    server.stop();
    assert_ne!(code, cli::EXIT_TARGET, "the run could not use the server");

    // The run issued every kind of secret, in numbers (else the grep proves little).
    let issued = target.issued();
    let count = |k: Kind| issued.iter().filter(|(kind, _)| *kind == k).count();
    for (kind, at_least) in [
        (Kind::UserSecret, 20),
        (Kind::Password, 20),
        (Kind::StsSecret, 10),
        (Kind::SessionToken, 10),
        (Kind::ServiceAccountSecret, 3),
    ] {
        assert!(
            count(kind) >= at_least,
            "only {} {kind:?} issued in the whole run",
            count(kind)
        );
    }

    let stderr = std::fs::read_to_string(dir.path().join("server.stderr")).expect("the log");
    // The per-request debug lines (the authorisation decisions, naming the access key) are
    // there: the grep below reads a verbose log of this run, not an empty one.
    let keys = target.access_keys.lock().expect("access keys").clone();
    assert!(
        stderr.contains("DEBUG") && keys.iter().any(|k| stderr.contains(k.as_str())),
        "the server's log names no issued access key at debug level ({} bytes)",
        stderr.len()
    );
    let mut haystacks = vec![
        dir.path().join("server.stdout"),
        dir.path().join("server.stderr"),
    ];
    haystacks.extend(files_under(&reports));
    // Secrets the scenarios obtain themselves (raw AssumeRole requests) never pass through
    // the target adapter, so they are not in `issued`: any credential element in a log or a
    // report must hold the redaction marker, not a value.
    let unredacted = regex::Regex::new(
        r"<(SecretAccessKey|SessionToken)>[A-Za-z0-9+/=._-]{8}|(?i)x-amz-security-token(=|: )[^&\s…]{9}",
    )
    .unwrap();
    let mut leaks = Vec::new();
    for file in &haystacks {
        let text = String::from_utf8_lossy(&std::fs::read(file).expect("readable")).into_owned();
        for (i, (kind, secret)) in issued.iter().enumerate() {
            if text.contains(secret.as_str()) {
                leaks.push(format!("{}: {kind:?} #{i}", file.display()));
            }
        }
        if unredacted.is_match(&text) {
            leaks.push(format!(
                "{}: an unredacted credential field",
                file.display()
            ));
        }
    }
    assert!(
        leaks.is_empty(),
        "issued secrets found (of {} issued):\n{}",
        issued.len(),
        leaks.join("\n")
    );
}
