//! Real clients against the real binary: `tests/clients/smoke.py` drives boto3 and the aws CLI
//! (default settings: CRC32 checksums, aws-chunked trailers, multipart over 8 MiB) against a
//! `keygate-server serve` process, then the server gets SIGTERM and must drain and exit 0.
//!
//! The interpreter is `KEYGATE_PYTHON`, else `.venv/bin/python` at the workspace root; the aws
//! CLI comes from the same `bin` directory. Without either the test fails and says how to
//! create the venv; `KEYGATE_SKIP_CLIENTS=1` skips it on purpose.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const ROOT_AK: &str = "keygateclients";
const ROOT_SK: &str = "keygate-clients-secret-0";
const VENV_HINT: &str =
    "create it at the workspace root with: python3 -m venv .venv && .venv/bin/pip install boto3 awscli \
     (or point KEYGATE_PYTHON at an interpreter that has boto3 and awscli; \
     KEYGATE_SKIP_CLIENTS=1 skips this test)";

/// The interpreter and the aws CLI beside it, or a panic explaining how to get them.
fn python_and_aws() -> (PathBuf, PathBuf) {
    let python = match std::env::var_os("KEYGATE_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv");
            let python = venv.join("bin/python");
            assert!(
                python.exists(),
                "no Python for the client smoke test: KEYGATE_PYTHON is unset and {} does not exist; {VENV_HINT}",
                python.display()
            );
            python
        }
    };
    let aws = python
        .parent()
        .map(|bin| bin.join("aws"))
        .filter(|aws| aws.exists())
        .unwrap_or_else(|| panic!("no aws CLI beside {}; {VENV_HINT}", python.display()));
    (python, aws)
}

/// A free loopback port: bind port 0, read it, release it.
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().unwrap()
}

/// The server process; killed (by its own pid) if the test panics before SIGTERM.
struct ServerProcess(Option<Child>);

impl ServerProcess {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("server still owned")
    }

    /// Polls until `addr` accepts connections (no fixed sleeps); fails if the process exits.
    fn wait_until_listening(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Some(status) = self.child().try_wait().unwrap() {
                panic!("keygate-server exited before listening: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "keygate-server did not listen on {addr} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits (up to 40 s: the drain allows 30) for the exit status.
    fn terminate(mut self) -> ExitStatus {
        let mut child = self.0.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("keygate-server did not exit within 40 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

#[test]
fn boto3_and_aws_cli_smoke_then_sigterm_drains() {
    if std::env::var("KEYGATE_SKIP_CLIENTS").as_deref() == Ok("1") {
        eprintln!("clients smoke test skipped (KEYGATE_SKIP_CLIENTS=1)");
        return;
    }
    let (python, aws) = python_and_aws();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let config = tmp.path().join("aws-config");
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n    signature_version = s3v4\n",
    )
    .unwrap();

    let addr = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_keygate-server"));
    server
        .arg("serve")
        .arg("--data-dir")
        .arg(&data)
        .arg("--listen")
        .arg(addr.to_string())
        .env("KEYGATE_ROOT_ACCESS_KEY", ROOT_AK)
        .env("KEYGATE_ROOT_SECRET_KEY", ROOT_SK)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if !is_root() {
        server.arg("--no-posix-ownership");
    }
    let mut server = ServerProcess(Some(server.spawn().expect("start keygate-server")));
    server.wait_until_listening(addr);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/smoke.py");
    let out = Command::new(&python)
        .arg(&script)
        .env("KEYGATE_ENDPOINT", format!("http://{addr}"))
        .env("KEYGATE_AWS", &aws)
        .env("KEYGATE_WORK", &work)
        .env("AWS_ACCESS_KEY_ID", ROOT_AK)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SK)
        .env("AWS_CONFIG_FILE", &config)
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            tmp.path().join("no-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_REGION")
        .output()
        .expect("run the smoke script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "smoke.py failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(stdout.contains("all client checks passed"), "{stdout}");
    eprintln!("{stdout}");

    let status = server.terminate();
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM must drain and exit 0, got {status}"
    );
}
