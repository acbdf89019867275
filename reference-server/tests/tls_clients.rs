//! `keygate-server serve --tls-cert FILE --tls-key FILE` with real clients: boto3 and the aws
//! CLI over HTTPS, trusting a CA made at test time (rcgen), against the built binary.
//!
//! Python and the aws CLI are found as in `tests/clients.rs` (`KEYGATE_PYTHON`, else
//! `.venv/bin/python`); `KEYGATE_SKIP_CLIENTS=1` skips this test.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

const ROOT_AK: &str = "keygatetls";
const ROOT_SK: &str = "keygate-tls-secret-0";

/// Writes a CA, and a certificate it signed for 127.0.0.1 with its key, into `dir`.
fn write_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Keygate client-test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let key = KeyPair::generate().expect("server key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("server params");
    let cert = leaf
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("server certificate");
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).expect("ca.pem");
    std::fs::write(&paths.1, cert.pem()).expect("cert.pem");
    std::fs::write(&paths.2, key.serialize_pem()).expect("key.pem");
    paths
}

fn python() -> Option<PathBuf> {
    if std::env::var_os("KEYGATE_SKIP_CLIENTS").is_some() {
        eprintln!("KEYGATE_SKIP_CLIENTS is set: skipping the HTTPS client test");
        return None;
    }
    let python = std::env::var_os("KEYGATE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    assert!(
        python.exists(),
        "no Python at {} (see tests/clients.rs for how to create the venv)",
        python.display()
    );
    Some(python)
}

/// Kills the server by its pid if the test fails before it stopped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const BOTO3: &str = r#"
import sys, boto3
from botocore.config import Config
endpoint, ca, ak, sk = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, verify=True if ca == "system" else ca,
                  region_name="us-east-1",
                  aws_access_key_id=ak, aws_secret_access_key=sk,
                  config=Config(s3={"addressing_style": "path"}))
s3.create_bucket(Bucket="tlsbucket")
s3.put_object(Bucket="tlsbucket", Key="hello.txt", Body=b"over https")
assert s3.get_object(Bucket="tlsbucket", Key="hello.txt")["Body"].read() == b"over https"
assert [o["Key"] for o in s3.list_objects_v2(Bucket="tlsbucket")["Contents"]] == ["hello.txt"]
print("boto3 ok")
"#;

#[test]
fn boto3_and_the_aws_cli_over_https_with_the_test_ca() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca, cert, key) = write_pki(dir.path());
    let addr: SocketAddr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_keygate-server"))
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--no-posix-ownership")
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .env("KEYGATE_ROOT_ACCESS_KEY", ROOT_AK)
            .env("KEYGATE_ROOT_SECRET_KEY", ROOT_SK)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starts keygate-server"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(
            server.0.try_wait().expect("status").is_none(),
            "the server exited"
        );
        assert!(Instant::now() < deadline, "the server never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let endpoint = format!("https://{addr}");

    let out = Command::new(&python)
        .arg("-c")
        .arg(BOTO3)
        .args([endpoint.as_str(), ca.to_str().unwrap(), ROOT_AK, ROOT_SK])
        .output()
        .expect("runs python");
    assert!(
        out.status.success(),
        "boto3 over HTTPS failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let aws = python.with_file_name("aws");
    if aws.exists() {
        let out = Command::new(&aws)
            .args(["s3api", "list-buckets", "--endpoint-url", &endpoint])
            .arg("--ca-bundle")
            .arg(&ca)
            .env("AWS_ACCESS_KEY_ID", ROOT_AK)
            .env("AWS_SECRET_ACCESS_KEY", ROOT_SK)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .expect("runs the aws CLI");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("tlsbucket"),
            "aws CLI over HTTPS failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Without the CA, boto3 refuses the certificate.
    let out = Command::new(&python)
        .arg("-c")
        .arg(BOTO3)
        .args([endpoint.as_str(), "system", ROOT_AK, ROOT_SK])
        .output()
        .expect("runs python");
    assert!(
        !out.status.success(),
        "an untrusted certificate was accepted"
    );
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        err.contains("certificate"),
        "refused for another reason: {err}"
    );
    drop(server);
}
