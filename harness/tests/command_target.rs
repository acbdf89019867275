//! The command adapter against a fake CLI: a shell script written into a temp dir that records
//! each call (its arguments, its environment's `FAKE_USER`, and the policy files it was given)
//! and prints canned output. Checks that templates expand to exactly the arguments expected,
//! that optional words drop, that keys are read by JSON pointer and by regex, that failures
//! carry the CLI's error code, that state (a user's generated key, its attached policy) reaches
//! later commands, and that a missing action is reported as unsupported, never as success.

#[path = "support/procs.rs"]
mod procs;

use keygate::target::command;
use keygate::target::{Credentials, NewUser, RoleRequest, Target, TargetError, UserUpdate};
use std::path::{Path, PathBuf};

const FAKE: &str = r#"#!/bin/sh
# Record the call, one line: the arguments joined by '|', then FAKE_USER if set.
line=""
for a in "$@"; do line="$line|$a"; done
echo "${line#|} user=${FAKE_USER:-}" >> "$FAKE_LOG"
for a in "$@"; do
  case "$a" in *.json) echo "file: $(cat "${a#*=}")" >> "$FAKE_LOG";; esac
done
case "$1 $2" in
  "user add")
    if [ "$3" = "taken" ]; then echo "error: UserAlreadyExists: user taken exists" >&2; exit 1; fi ;;
  "iam create-access-key")
    printf '{"AccessKey":{"UserName":"%s","AccessKeyId":"AKIAFAKE%s","SecretAccessKey":"sec-%s"}}\n' "$3" "$3" "$3" ;;
  "sts assume-role")
    printf 'Access-Key: STSKEY1\nSecret-Key: STSSECRET1\nSession-Token: tok.en.1\n' ;;
  "sa add")
    printf '{"access_key":"SAKEY","secret_key":"SASECRET"}\n' ;;
  "fail "*)
    echo "An error occurred (NoSuchEntity) when calling X: nope" >&2; exit 254 ;;
  "crash "*)
    echo "boom: the CLI broke" >&2; exit 3 ;;
  "leak "*)
    printf 'Secret-Key: LEAKED1\nAKIAEXAMPLE\twJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n' ;
    echo "error: Broken: no" >&2; exit 1 ;;
  "slow "*)
    sleep 30 & echo $! > "$FAKE_LOG.child"; sleep 30 ;;
esac
exit 0
"#;

struct Fake {
    _dir: tempfile::TempDir,
    log: PathBuf,
    profile: PathBuf,
}

fn fake(commands: &str, extra: &str) -> Fake {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cli = dir.path().join("fakecli");
    std::fs::write(&cli, FAKE).unwrap();
    std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = dir.path().join("calls.log");
    let profile = dir.path().join("target.toml");
    let text = format!(
        "version = 1\nkind = \"command\"\nendpoint = \"http://127.0.0.1:1\"\n\
         root_access_key = \"root\"\nroot_secret_key = \"rootsecret\"\n\
         error_code = '(?:error: |An error occurred \\()(?P<code>[A-Za-z]+)'\n{extra}\n\
         [env]\nFAKE_LOG = \"{}\"\n[commands]\n{}",
        log.display(),
        commands.replace("CLI", &cli.display().to_string())
    );
    std::fs::write(&profile, text).unwrap();
    Fake {
        _dir: dir,
        log,
        profile,
    }
}

fn calls(f: &Fake) -> Vec<String> {
    std::fs::read_to_string(&f.log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

const WEKA_LIKE: &str = r#"
user_add = "CLI user add {name} s3 {password} --posix-uid={uid?} --posix-gid={gid?}"
user_update = "CLI user update {name} --posix-uid={uid?} --posix-gid={gid?}"
user_passwd = "CLI user passwd {password} --username {name}"
user_delete = "CLI user delete {name}"
policy_add = "CLI s3 policy add {policy} {policy_file}"
policy_remove = "CLI s3 policy remove {policy}"
policy_attach = "CLI s3 policy attach {policy} {name}"
policy_detach = "CLI s3 policy detach {name}"
assume_role = { run = "CLI sts assume-role --access-key {caller_access_key} --secret-key {caller_secret_key} --duration {duration}s --policy-file={policy_file?}", regex = ['(?m)^Access-Key: (?P<access_key>\S+)', '(?m)^Secret-Key: (?P<secret_key>\S+)', '(?m)^Session-Token: (?P<session_token>\S+)'] }
service_account_add = { run = "CLI sa add {policy_file?}", env = { FAKE_USER = "{caller_access_key}" }, json = { access_key = "/access_key", secret_key = "/secret_key" } }
service_account_remove = { run = "CLI sa remove {access_key}", env = { FAKE_USER = "{caller_access_key}" } }
"#;

async fn open(f: &Fake) -> command::CommandTarget {
    command::open(&f.profile, None)
        .await
        .expect("profile opens")
}

#[tokio::test]
async fn weka_shaped_templates_expand_to_the_expected_arguments() {
    let f = fake(WEKA_LIKE, "");
    let t = open(&f).await;
    let info = t.info();
    assert_eq!(info.kind, "command");
    assert!(info.capabilities.sts && info.capabilities.service_accounts);
    assert!(!info.capabilities.clock && !info.capabilities.posix);

    let alice = NewUser {
        name: "alice".into(),
        password: "Alice-secret1".into(),
        uid: Some(1000),
        gid: None,
    };
    let creds = t.create_user(&alice).await.unwrap();
    assert_eq!(creds, Credentials::new("alice", "Alice-secret1"));
    t.put_policy("p1", r#"{"Version":"2012-10-17"}"#)
        .await
        .unwrap();
    t.attach_policy("alice", "p1").await.unwrap();
    t.update_user(
        "alice",
        &UserUpdate {
            password: Some("New-secret22".into()),
            uid: Some(7),
            gid: Some(8),
        },
    )
    .await
    .unwrap();
    let sts = t
        .assume_role(
            &creds,
            &RoleRequest {
                duration_seconds: Some(900),
                session_policy: Some(r#"{"s":1}"#.into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(sts.access_key, "STSKEY1");
    assert_eq!(sts.secret_key, "STSSECRET1");
    assert_eq!(sts.session_token.as_deref(), Some("tok.en.1"));
    let plain = t
        .assume_role(&creds, &RoleRequest::default())
        .await
        .unwrap();
    assert_eq!(plain.access_key, "STSKEY1");
    let sa = t.create_service_account(&creds, None).await.unwrap();
    assert_eq!(sa, Credentials::new("SAKEY", "SASECRET"));
    t.delete_service_account(&creds, "SAKEY").await.unwrap();
    t.detach_policy("alice").await.unwrap();
    t.delete_policy("p1").await.unwrap();
    t.delete_user("alice").await.unwrap();

    let calls = calls(&f);
    let policy_file = |line: &str| {
        line.split('|')
            .find(|a| a.ends_with(".json"))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let expected_prefixes = [
        "user|add|alice|s3|Alice-secret1|--posix-uid=1000 user=",
        "s3|policy|add|p1|/",
        r#"file: {"Version":"2012-10-17"}"#,
        "s3|policy|attach|p1|alice user=",
        "user|update|alice|--posix-uid=7|--posix-gid=8 user=",
        "user|passwd|New-secret22|--username|alice user=",
        "sts|assume-role|--access-key|alice|--secret-key|Alice-secret1|--duration|900s|--policy-file=/",
        r#"file: {"s":1}"#,
        "sts|assume-role|--access-key|alice|--secret-key|Alice-secret1|--duration|3600s user=",
        "sa|add user=alice",
        "sa|remove|SAKEY user=alice",
        "s3|policy|detach|alice user=",
        "s3|policy|remove|p1 user=",
        "user|delete|alice user=",
    ];
    assert_eq!(calls.len(), expected_prefixes.len(), "{calls:#?}");
    for (c, want) in calls.iter().zip(expected_prefixes) {
        assert!(c.starts_with(want), "call `{c}` should start with `{want}`");
    }
    // Temporary policy files are gone once the command ran.
    assert!(!Path::new(&policy_file(&calls[1]).replace(" user=", "")).exists());
}

#[tokio::test]
async fn failures_carry_the_cli_error_code_and_missing_actions_are_unsupported() {
    let f = fake(
        r#"
user_add = "CLI user add {name} s3 {password}"
policy_remove = "CLI fail policy {policy}"
"#,
        "",
    );
    let t = open(&f).await;
    let caps = t.info().capabilities;
    assert!(
        !caps.sts && !caps.service_accounts,
        "no template, no capability"
    );
    let taken = NewUser {
        name: "taken".into(),
        password: "Pw-123456".into(),
        ..Default::default()
    };
    match t.create_user(&taken).await {
        Err(TargetError::Rejected {
            status, code, body, ..
        }) => {
            assert_eq!((status, code.as_str()), (None, "UserAlreadyExists"));
            assert!(body.contains("user taken exists"), "{body}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    match t.delete_policy("p").await {
        Err(TargetError::Rejected { code, .. }) => assert_eq!(code, "NoSuchEntity"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(matches!(
        t.delete_user("x").await,
        Err(TargetError::Unsupported("user_delete"))
    ));
    assert!(matches!(
        t.advance_clock(60).await,
        Err(TargetError::Unsupported("clock"))
    ));
}

/// Regression: a command that failed without an error code the profile can read came back
/// as an answer with the code `CommandFailed`, so a broken CLI (or a profile without
/// `error_code`) made a correct server FAIL scenarios. It is an error of the run instead.
#[tokio::test]
async fn a_failure_without_a_readable_code_is_an_error_not_an_answer() {
    let f = fake(r#"user_delete = "CLI crash {name}""#, "");
    let t = open(&f).await;
    match t.delete_user("x").await {
        Err(TargetError::Transport(m)) => {
            assert!(m.contains("boom: the CLI broke"), "{m}");
            assert!(m.contains("`error_code`"), "{m}");
        }
        other => panic!("expected an error of the run, got {other:?}"),
    }
}

/// Regression: a command's output was quoted in errors (and so in every report) as it was,
/// with the secrets of the identities it made. Credentials are redacted; the rest stays.
#[tokio::test]
async fn secrets_in_command_output_are_redacted() {
    let f = fake(
        r#"
user_delete = "CLI leak {name}"
assume_role = { run = "CLI sts assume-role", regex = '(?m)^AccessKey: (?P<access_key>\S+)(?P<secret_key>)(?P<session_token>)' }
"#,
        "",
    );
    let t = open(&f).await;
    let shown = match t.delete_user("x").await {
        Err(TargetError::Rejected {
            code,
            message,
            body,
            ..
        }) => {
            assert_eq!(code, "Broken");
            format!("{message}\n{body}")
        }
        other => panic!("expected a rejection, got {other:?}"),
    };
    for secret in ["LEAKED1", "wJalrXUtnFEMI"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("AKIAEXAMPLE"), "{shown}");
    let root = Credentials::new("root", "rootsecret");
    let role = RoleRequest {
        duration_seconds: None,
        session_policy: None,
    };
    match t.assume_role(&root, &role).await {
        Err(TargetError::Transport(m)) => {
            assert!(
                m.contains("does not match") && m.contains("Access-Key: STSKEY1"),
                "{m}"
            );
            assert!(!m.contains("STSSECRET1") && !m.contains("tok.en.1"), "{m}");
        }
        other => panic!("expected an error of the run, got {other:?}"),
    }
}

/// Regression: a command that timed out was killed, but not the processes it had started
/// (a wrapper script's), which ran on. Its whole process group is killed.
#[tokio::test]
async fn a_timed_out_command_leaves_no_process_behind() {
    let f = fake(r#"user_delete = "CLI slow {name}""#, "timeout_seconds = 1");
    let t = open(&f).await;
    let e = t.delete_user("x").await;
    assert!(
        matches!(&e, Err(TargetError::Transport(m)) if m.contains("did not finish")),
        "{e:?}"
    );
    let child = std::fs::read_to_string(format!("{}.child", f.log.display())).unwrap();
    let stopped = procs::stops_within(&child, std::time::Duration::from_secs(10));
    assert!(stopped, "the command's child {} still runs", child.trim());
}

#[tokio::test]
async fn generated_keys_and_attached_policies_reach_later_commands() {
    // The AWS IAM shape: keys are generated, attach adds (so the adapter detaches first),
    // and delete must remove the key and detach the policy before deleting the user.
    let f = fake(
        r#"
user_add = { run = ["CLI iam create-user {name}", "CLI iam create-access-key {name}"], json = { access_key = "/AccessKey/AccessKeyId", secret_key = "/AccessKey/SecretAccessKey" } }
user_delete = { run = [
  { run = "CLI iam detach {name} {policy}", when = "policy" },
  { run = "CLI iam delete-access-key {name} {access_key}", when = "access_key" },
  { run = "CLI fail delete-user-first {name}", ignore_failure = true },
  "CLI iam delete-user {name}",
] }
policy_add = "CLI iam create-policy {policy} file://{policy_file}"
policy_attach = "CLI iam attach {name} {policy}"
policy_detach = "CLI iam detach {name} {policy}"
"#,
        "attach_replaces = false\n[predefined_policies]\nreadwrite = '{\"rw\":1}'\n",
    );
    let t = open(&f).await;
    let bob = NewUser {
        name: "bob".into(),
        password: "ignored-by-iam".into(),
        ..Default::default()
    };
    let creds = t.create_user(&bob).await.unwrap();
    assert_eq!(creds, Credentials::new("AKIAFAKEbob", "sec-bob"));
    t.attach_policy("bob", "readwrite").await.unwrap();
    t.attach_policy("bob", "other").await.unwrap();
    t.delete_user("bob").await.unwrap();
    let calls: Vec<String> = calls(&f)
        .into_iter()
        .filter(|c| !c.starts_with("file:"))
        .map(|c| c.trim_end_matches(" user=").to_owned())
        .collect();
    let create_policy = calls[0].clone();
    assert!(
        create_policy.starts_with("iam|create-policy|readwrite|file:///"),
        "{create_policy}"
    );
    assert_eq!(
        &calls[1..],
        [
            "iam|create-user|bob",
            "iam|create-access-key|bob",
            "iam|attach|bob|readwrite",
            "iam|detach|bob|readwrite",
            "iam|attach|bob|other",
            "iam|detach|bob|other",
            "iam|delete-access-key|bob|AKIAFAKEbob",
            "fail|delete-user-first|bob",
            "iam|delete-user|bob",
        ]
    );
}

#[test]
fn profile_errors_name_the_file_and_key_path() {
    let f = fake("user_add = \"CLI user add {nmae}\"\n", "");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let e = rt
        .block_on(command::open(&f.profile, None))
        .unwrap_err()
        .to_string();
    assert!(e.contains("target.toml"), "{e}");
    assert!(e.contains("commands.user_add.run[0]"), "{e}");
    let f = fake("user_ad = \"CLI user add {name}\"\n", "");
    let e = rt
        .block_on(command::open(&f.profile, None))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("commands.user_ad") && e.contains("user_add"),
        "{e}"
    );
}

#[test]
fn shipped_command_profiles_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if !text.contains("kind = \"command\"") {
            continue;
        }
        let p = command::load_profile(&path).unwrap_or_else(|e| panic!("{e}"));
        command::check(&path, &p).unwrap_or_else(|e| panic!("{e}"));
        n += 1;
    }
    assert!(n >= 3, "weka, mc and moto profiles: found {n}");
}

/// On a target that lets a scenario overwrite or remove a pre-defined policy (SPEC P1 refuses
/// it), cleanup puts the policy back and says so. Regression: `policy-predefined-immutable`
/// against moto left `readwrite` as Deny-all and `readonly` removed, for every later user.
#[cfg(feature = "embedded")]
#[tokio::test]
async fn a_changed_predefined_policy_is_restored_and_reported() {
    let f = fake(
        r#"
policy_add = "CLI s3 policy add {policy} {policy_file}"
policy_remove = "CLI s3 policy remove {policy}"
"#,
        "",
    );
    // The run's preflight needs an S3 endpoint and its root keys: the reference server's.
    let dir = tempfile::tempdir().unwrap();
    let config = keygate_server::ServerConfig::new(dir.path().join("data"));
    let server = keygate_server::Server::start(config).await.unwrap();
    let profile = std::fs::read_to_string(&f.profile).unwrap();
    let profile = profile
        .replace("http://127.0.0.1:1", server.endpoint())
        .replace("\"root\"", &format!("\"{}\"", server.root_access_key()))
        .replace(
            "\"rootsecret\"",
            &format!("\"{}\"", server.root_secret_key()),
        );
    std::fs::write(&f.profile, profile).unwrap();
    let t = open(&f).await;
    std::fs::create_dir_all(dir.path().join("lib/policy")).unwrap();
    std::fs::write(
        dir.path().join("lib/policy/change.toml"),
        "version = 1\nid = \"change-predefined\"\ntitle = \"t\"\narea = \"policy\"\n\
         rules = [\"P1\"]\n\
         [[steps]]\nop = \"put_policy\"\npolicy = \"readwrite\"\n\
         document = '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}'\n\
         expect = { status = 400, code = \"InvalidArgument\" }\n",
    )
    .unwrap();
    let scenarios = keygate::cli::load_paths(&[dir.path().join("lib")]).unwrap();
    let args = keygate::cli::RunArgs {
        report_dir: dir.path().join("reports"),
        no_progress: true,
        ..Default::default()
    };
    let code = keygate::cli::run_on(&t, &scenarios, &args, None).await;
    assert_eq!(code, keygate::cli::EXIT_FAIL, "the target broke P1");
    let log = calls(&f);
    let adds: Vec<&String> = log.iter().filter(|l| l.starts_with("file: ")).collect();
    assert_eq!(adds.len(), 2, "{log:?}");
    assert!(
        adds[0].contains("Deny"),
        "the scenario's overwrite: {log:?}"
    );
    let weka = keygate::target::weka_predefined("readwrite").unwrap();
    assert_eq!(
        adds[1].as_str(),
        format!("file: {weka}"),
        "restored: {log:?}"
    );
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("reports/latest/report.json")).unwrap(),
    )
    .unwrap();
    let warnings = report["scenarios"][0]["warnings"].to_string();
    assert!(
        warnings.contains("pre-defined policy `readwrite`") && warnings.contains("restored"),
        "{warnings}"
    );
    server.shutdown().await;
}
