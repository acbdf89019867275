//! The `keygate-server` client commands against a server started in-process: the real binary
//! is run with `KEYGATE_ENDPOINT` and the keys in its environment (nothing else inherited),
//! its human and `--json` output parsed, and the credentials it prints used with aws-sdk-s3.
//! Failures must exit non-zero with exactly one line `error: <Code>: <Message>` on stderr.

mod common;

use std::path::Path;
use std::process::Command;

use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use common::{TestServer, ROOT_AK, ROOT_SK};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_keygate-server");

#[derive(Debug)]
struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Out {
    /// Stdout of a run that must succeed.
    fn ok(self) -> String {
        assert!(self.ok, "command failed: {self:?}");
        self.stdout
    }

    /// The one error line of a run that must fail.
    fn err(self) -> String {
        assert!(!self.ok, "command succeeded: {self:?}");
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "one line: {:?}",
            self.stderr
        );
        assert!(self.stderr.starts_with("error: "), "{:?}", self.stderr);
        self.stderr.trim_end().to_owned()
    }

    fn json(self) -> Value {
        serde_json::from_str(&self.ok()).expect("--json prints JSON")
    }
}

/// Runs the binary with exactly `env` (plus the endpoint) in its environment.
async fn kg(endpoint: &str, env: &[(&str, &str)], args: &[&str]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("KEYGATE_ENDPOINT", endpoint)
        .envs(env.iter().copied())
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run keygate-server"))
        .await
        .unwrap();
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

const ROOT: &[(&str, &str)] = &[
    ("KEYGATE_ROOT_ACCESS_KEY", ROOT_AK),
    ("KEYGATE_ROOT_SECRET_KEY", ROOT_SK),
];

/// `sts assume-role --access-key carol` and `more`.
async fn assume(endpoint: &str, env: &[(&str, &str)], more: &[&str]) -> Out {
    let mut args = vec!["sts", "assume-role", "--access-key", "carol"];
    args.extend_from_slice(more);
    kg(endpoint, env, &args).await
}

/// The value of `Key: value` in human output.
fn field(stdout: &str, key: &str) -> String {
    let prefix = format!("{key}: ");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key} in {stdout:?}"))
        .to_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn s3_with(ts: &TestServer, ak: &str, sk: &str, token: Option<String>) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(ts.endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(ak, sk, token, None, "cli-test"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_policies_as_the_admin() {
    let ts = TestServer::start().await;
    let ep = ts.endpoint();
    let files = tempfile::tempdir().unwrap();

    let out = kg(
        ep,
        ROOT,
        &[
            "user",
            "add",
            "alice",
            "--password",
            "Alice-secret1",
            "--posix-uid",
            "1000",
            "--posix-gid",
            "1001",
        ],
    )
    .await
    .ok();
    assert!(out.starts_with("Created user alice."), "{out}");
    assert_eq!(field(&out, "POSIX-UID"), "1000");
    kg(
        ep,
        ROOT,
        &[
            "user",
            "add",
            "bob-the-builder",
            "--password",
            "Bob-secret1",
        ],
    )
    .await
    .ok();

    let table = kg(ep, ROOT, &["user", "list"]).await.ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0], "NAME             POSIX-UID  POSIX-GID  POLICY",
        "{table}"
    );
    assert!(
        lines.contains(&"alice            1000       1001       -"),
        "{table}"
    );
    let list = kg(ep, ROOT, &["user", "list", "--json"]).await.json();
    let names: Vec<&str> = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"alice") && names.contains(&"bob-the-builder"),
        "{list}"
    );

    kg(
        ep,
        ROOT,
        &["user", "update", "alice", "--posix-uid", "2000"],
    )
    .await
    .ok();
    let alice = kg(ep, ROOT, &["user", "show", "alice", "--json"])
        .await
        .json();
    assert_eq!(
        (alice["posix_uid"].as_u64(), alice["posix_gid"].as_u64()),
        (Some(2000), Some(1001))
    );
    let nothing = kg(ep, ROOT, &["user", "update", "alice"]).await.err();
    assert!(nothing.starts_with("error: nothing to update"), "{nothing}");
    let weak = kg(ep, ROOT, &["user", "passwd", "alice", "--password", "weak"])
        .await
        .err();
    assert!(weak.starts_with("error: InvalidArgument: "), "{weak}");
    kg(
        ep,
        ROOT,
        &["user", "passwd", "alice", "--password", "Alice-secret2"],
    )
    .await
    .ok();

    // Policies: a refused document, a custom one, attach, in-use refusal, detach, remove.
    let bad = write(
        files.path(),
        "bad.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Permit","Action":"s3:GetObject","Resource":"*"}]}"#,
    );
    let err = kg(ep, ROOT, &["policy", "add", "bad", &bad]).await.err();
    assert!(err.starts_with("error: MalformedPolicy: "), "{err}");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListAllMyBuckets"],"Resource":["*"]}]}"#;
    let good = write(files.path(), "lister.json", doc);
    assert_eq!(
        kg(ep, ROOT, &["policy", "add", "lister", &good]).await.ok(),
        "Added policy lister.\n"
    );
    let policies = kg(ep, ROOT, &["policy", "list"]).await.ok();
    assert!(
        policies
            .lines()
            .any(|l| l.split_whitespace().eq(["lister", "custom"])),
        "{policies}"
    );
    assert!(
        policies
            .lines()
            .any(|l| l.split_whitespace().eq(["readonly", "pre-defined"])),
        "{policies}"
    );
    let shown = kg(ep, ROOT, &["policy", "show", "lister", "--json"])
        .await
        .json();
    assert_eq!(shown, serde_json::from_str::<Value>(doc).unwrap());
    let human = kg(ep, ROOT, &["policy", "show", "writeonly"]).await.ok();
    assert!(human.contains("\"s3:PutObject\""), "{human}");

    kg(ep, ROOT, &["policy", "attach", "lister", "alice"])
        .await
        .ok();
    assert_eq!(
        field(
            &kg(ep, ROOT, &["user", "show", "alice"]).await.ok(),
            "Policy"
        ),
        "lister"
    );
    // The new password works (and the policy applies) at once.
    s3_with(&ts, "alice", "Alice-secret2", None)
        .list_buckets()
        .send()
        .await
        .expect("alice lists");
    let in_use = kg(ep, ROOT, &["policy", "remove", "lister"]).await.err();
    assert!(in_use.starts_with("error: PolicyInUse: "), "{in_use}");
    kg(ep, ROOT, &["policy", "detach", "alice"]).await.ok();
    assert_eq!(
        field(
            &kg(ep, ROOT, &["user", "show", "alice"]).await.ok(),
            "Policy"
        ),
        "(none)"
    );
    let none = kg(ep, ROOT, &["policy", "detach", "alice"]).await.err();
    assert!(none.starts_with("error: NoSuchEntity: "), "{none}");
    kg(ep, ROOT, &["policy", "remove", "lister"]).await.ok();

    assert_eq!(
        kg(ep, ROOT, &["user", "delete", "alice"]).await.ok(),
        "Deleted user alice.\n"
    );
    let gone = kg(ep, ROOT, &["user", "show", "alice"]).await.err();
    assert!(gone.starts_with("error: NoSuchEntity: "), "{gone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_one_line() {
    let ts = TestServer::start().await;
    let ep = ts.endpoint();
    let no_keys = kg(ep, &[], &["user", "list"]).await.err();
    assert!(no_keys.contains("KEYGATE_ROOT_ACCESS_KEY"), "{no_keys}");
    let wrong = [
        ("KEYGATE_ROOT_ACCESS_KEY", ROOT_AK),
        ("KEYGATE_ROOT_SECRET_KEY", "not-the-secret"),
    ];
    let denied = kg(ep, &wrong, &["user", "list"]).await.err();
    assert!(
        denied.starts_with("error: SignatureDoesNotMatch: "),
        "{denied}"
    );
    // A closed port: bind one, then drop it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = format!("http://127.0.0.1:{port}");
    let refused = kg(&closed, ROOT, &["policy", "list"]).await.err();
    assert!(
        refused.starts_with(&format!("error: cannot reach {closed}: ")),
        "{refused}"
    );
    let https = kg("https://127.0.0.1:9000", ROOT, &["policy", "list"])
        .await
        .err();
    assert!(
        https.starts_with("error: https://127.0.0.1:9000 is https://: give --ca-file"),
        "{https}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_and_service_accounts_as_the_user() {
    let ts = TestServer::start().await;
    let ep = ts.endpoint();
    let files = tempfile::tempdir().unwrap();
    ts.root_s3()
        .create_bucket()
        .bucket("photos")
        .send()
        .await
        .unwrap();
    kg(
        ep,
        ROOT,
        &["user", "add", "carol", "--password", "Carol-secret1"],
    )
    .await
    .ok();
    kg(ep, ROOT, &["policy", "attach", "readwrite", "carol"])
        .await
        .ok();
    let carol_secret = [("AWS_SECRET_ACCESS_KEY", "Carol-secret1")];

    // AssumeRole: the printed credentials work with the SDK, session token included.
    let out = assume(ep, &carol_secret, &["--duration", "15m"]).await.ok();
    let (ak, sk, token) = (
        field(&out, "Access-Key"),
        field(&out, "Secret-Key"),
        field(&out, "Session-Token"),
    );
    assert_eq!((ak.len(), sk.len()), (20, 40), "{out}");
    assert!(field(&out, "Expiration").ends_with('Z'), "{out}");
    let listed = s3_with(&ts, &ak, &sk, Some(token))
        .list_buckets()
        .send()
        .await
        .expect("STS keys list");
    assert_eq!(
        listed
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .collect::<Vec<_>>(),
        ["photos"]
    );

    let args = [
        "--secret-key",
        "Carol-secret1",
        "--duration",
        "1w",
        "--json",
    ];
    let v = assume(ep, &[], &args).await.json();
    assert_eq!(
        v["Credentials"]["AccessKeyId"].as_str().map(str::len),
        Some(20),
        "{v}"
    );
    let session = write(
        files.path(),
        "session.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}"#,
    );
    let narrow = assume(
        ep,
        &carol_secret,
        &["--duration", "900s", "--policy-file", &session],
    )
    .await
    .ok();
    let narrow = s3_with(
        &ts,
        &field(&narrow, "Access-Key"),
        &field(&narrow, "Secret-Key"),
        Some(field(&narrow, "Session-Token")),
    );
    assert!(
        narrow.list_buckets().send().await.is_err(),
        "the session policy narrows"
    );

    let no_secret = assume(ep, &[], &["--duration", "15m"]).await.err();
    assert!(no_secret.contains("AWS_SECRET_ACCESS_KEY"), "{no_secret}");
    let short = assume(ep, &carol_secret, &["--duration", "10m"])
        .await
        .err();
    assert!(
        short.starts_with("error: InvalidParameterValue: "),
        "{short}"
    );
    let wrong = assume(
        ep,
        &[],
        &["--secret-key", "Wrong-secret1", "--duration", "15m"],
    )
    .await
    .err();
    assert!(wrong.starts_with("error: AccessDenied: "), "{wrong}");

    // Service accounts, signed by carol herself.
    let carol = [
        ("AWS_ACCESS_KEY_ID", "carol"),
        ("AWS_SECRET_ACCESS_KEY", "Carol-secret1"),
    ];
    let added = kg(ep, &carol, &["service-account", "add"]).await.ok();
    let (sa, sa_secret) = (field(&added, "Access-Key"), field(&added, "Secret-Key"));
    assert_eq!(field(&added, "Policy"), "inherited from the parent user");
    s3_with(&ts, &sa, &sa_secret, None)
        .list_buckets()
        .send()
        .await
        .expect("service account lists");
    let embedded = kg(
        ep,
        &carol,
        &[
            "service-account",
            "add",
            "--policy-file",
            &session,
            "--json",
        ],
    )
    .await
    .json();
    let sa2 = embedded["access_key"].as_str().unwrap().to_owned();
    assert_eq!(
        embedded["secret_key"].as_str().map(str::len),
        Some(40),
        "{embedded}"
    );

    let table = kg(ep, &carol, &["service-account", "list"]).await.ok();
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().eq([sa.as_str(), "inherited"])),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().eq([sa2.as_str(), "embedded"])),
        "{table}"
    );
    let list = kg(ep, &carol, &["service-account", "list", "--json"])
        .await
        .json();
    assert_eq!(
        list["service_accounts"].as_array().map(Vec::len),
        Some(2),
        "{list}"
    );
    let shown = kg(ep, &carol, &["service-account", "show", &sa2])
        .await
        .ok();
    assert_eq!(field(&shown, "Parent"), "carol");
    assert!(shown.contains("\"s3:GetObject\""), "{shown}");
    let by_root = kg(
        ep,
        &[
            ("AWS_ACCESS_KEY_ID", ROOT_AK),
            ("AWS_SECRET_ACCESS_KEY", ROOT_SK),
        ],
        &["service-account", "list"],
    )
    .await
    .err();
    assert!(by_root.starts_with("error: AccessDenied: "), "{by_root}");

    assert_eq!(
        kg(ep, &carol, &["service-account", "remove", &sa])
            .await
            .ok(),
        format!("Removed service account {sa}.\n")
    );
    let missing = kg(ep, &carol, &["service-account", "show", &sa])
        .await
        .err();
    assert!(
        missing.starts_with("error: NoSuchServiceAccount: "),
        "{missing}"
    );
    let list = kg(ep, &carol, &["service-account", "list", "--json"])
        .await
        .json();
    assert_eq!(
        list["service_accounts"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
}
