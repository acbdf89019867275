//! The shipped scenario library parses and validates, and the validator's errors name the
//! file, the key path and what was expected.

use keygate::scenario::{self, LoadError};
use std::path::{Path, PathBuf};

fn library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

#[test]
fn every_shipped_scenario_validates() {
    let files = scenario::discover(&library()).expect("scenarios/ is listable");
    assert!(files.len() >= 20, "library too small: {}", files.len());
    let all = scenario::load_all(&files).unwrap_or_else(|errs| {
        panic!(
            "{}",
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    for s in &all {
        assert!(!s.def.rules.is_empty(), "{} lists no rules", s.id());
        assert!(!s.steps.is_empty(), "{} has no steps", s.id());
    }
}

fn errors(text: &str) -> Vec<LoadError> {
    scenario::parse(Path::new("scenarios/x/bad.toml"), text).expect_err("must be refused")
}

const HEAD: &str = "version = 1\nid = \"x\"\ntitle = \"t\"\narea = \"s3\"\nrules = [\"U1\"]\n";

#[test]
fn unknown_key_is_named_with_its_path() {
    let e = errors(&format!(
        "{HEAD}[[steps]]\nop = \"list_buckets\"\nexpect = {{ stauts = 200 }}\n"
    ));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].file, Path::new("scenarios/x/bad.toml"));
    assert_eq!(e[0].path, "steps[0].expect.stauts");
    assert!(
        e[0].message.contains("unknown field `stauts`"),
        "{}",
        e[0].message
    );
    assert!(
        e[0].message.contains("status"),
        "lists the expected keys: {}",
        e[0].message
    );
    assert!(e[0]
        .to_string()
        .starts_with("scenarios/x/bad.toml: at `steps[0].expect.stauts`"));
}

#[test]
fn wrong_type_and_unknown_op_are_named() {
    let e = errors(&format!("{HEAD}[[steps]]\nop = \"list_bukkets\"\n"));
    assert_eq!(e[0].path, "steps[0].op");
    assert!(e[0].message.contains("list_buckets"), "{}", e[0].message);
    let e = errors(&format!(
        "{HEAD}[[steps]]\nop = \"list_buckets\"\nexpect = {{ status = \"ok\" }}\n"
    ));
    assert_eq!(e[0].path, "steps[0].expect.status");
}

#[test]
fn op_parameters_are_checked() {
    let e = errors(&format!(
        "{HEAD}[[steps]]\nop = \"get_object\"\nbucket = \"b\"\nprefix = \"p\"\n"
    ));
    let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"steps[0].key"), "{paths:?}");
    assert!(paths.contains(&"steps[0].prefix"), "{paths:?}");
    let msg = &e
        .iter()
        .find(|e| e.path == "steps[0].prefix")
        .unwrap()
        .message;
    assert!(msg.contains("`get_object` does not take `prefix`"), "{msg}");
}

#[test]
fn a_setup_policy_that_is_not_json_is_a_scenario_error_not_a_target_one() {
    let policy = |doc: &str, register: bool| {
        format!(
            "{HEAD}[setup]\nbuckets = [\"data\"]\n[[setup.policies]]\nname = \"p\"\n\
             document = '{doc}'\nregister = {register}\n\
             [[steps]]\nop = \"list_buckets\"\n"
        )
    };
    let e = errors(&policy("{not json", true));
    assert_eq!(e[0].path, "setup.policies[0].document");
    assert!(
        e[0].message.starts_with("not a JSON document ("),
        "{}",
        e[0].message
    );
    // Templates inside strings are JSON as they stand; an unregistered document (a session
    // policy) may be malformed on purpose.
    let ok = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::{{bucket.data}}"}]}"#,
        true,
    );
    scenario::parse(Path::new("scenarios/x/ok.toml"), &ok).expect("valid");
    scenario::parse(
        Path::new("scenarios/x/ok.toml"),
        &policy("{not json", false),
    )
    .expect("unregistered documents are not checked");
}

#[test]
fn counts_that_cannot_add_up_and_endless_sleeps_are_refused() {
    let e = errors(&format!(
        "{HEAD}[[steps]]\nop = \"list_buckets\"\nparallel = 10\n\
         expect_counts = {{ ok = 3, Bogus = 2 }}\n"
    ));
    assert_eq!(e[0].path, "steps[0].expect_counts");
    assert!(
        e[0].message.contains("add up to 5, but `parallel` runs 10"),
        "{}",
        e[0].message
    );
    let e = errors(&format!(
        "{HEAD}[[steps]]\nop = \"sleep\"\nmillis = 999999999\n"
    ));
    assert_eq!(e[0].path, "steps[0].millis");
}

/// Regression: values no run can survive passed `validate`; a 99999999999999-byte `size`
/// then aborted the run (exit 134, no report), and a negative `advance_clock` was blamed
/// on the target. Each is refused naming its key; blank areas and tags too.
#[test]
fn values_no_run_survives_and_blank_names_are_refused() {
    let at = |text: &str| -> Vec<String> {
        errors(&format!("{HEAD}{text}"))
            .iter()
            .map(|e| e.path.clone())
            .collect()
    };
    let list = "[[steps]]\nop = \"list_buckets\"\n";
    let put = "[[steps]]\nop = \"put_object\"\nbucket = \"b\"\nkey = \"k\"\n";
    let setup = "[setup]\nbuckets = [\"b\"]\n";
    assert_eq!(
        at(&format!("{setup}{put}size = 99999999999999\n")),
        ["steps[0].size"]
    );
    assert_eq!(
        at(&format!(
            "{setup}[[setup.objects]]\nbucket = \"b\"\nkey = \"k\"\nsize = 99999999999999\n\
             {list}"
        )),
        ["setup.objects[0].size"]
    );
    assert_eq!(
        at(&format!(
            "{list}parallel = 200000\nexpect_counts = {{ ok = 200000 }}\n"
        )),
        ["steps[0].parallel"]
    );
    let clock = "[[steps]]\nop = \"advance_clock\"\n";
    assert_eq!(
        at(&format!("{clock}seconds = -100\n")),
        ["steps[0].seconds"]
    );
    // The largest of each still passes.
    let ok = format!(
        "{HEAD}{setup}{put}size = 268435456\n{list}parallel = 4096\n\
         expect_counts = {{ ok = 4096 }}\n{clock}seconds = 315360000\n"
    );
    scenario::parse(Path::new("scenarios/x/ok.toml"), &ok).expect("at the limits");
    let blank = HEAD.replace("area = \"s3\"", "area = \"\"\ntags = [\"\", \" x\"]");
    let e = errors(&format!("{blank}{list}"));
    let paths: Vec<_> = e.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["area", "tags[0]", "tags[1]"]);
}

#[test]
fn identities_must_be_defined() {
    let e = errors(&format!(
        "{HEAD}[[steps]]\nop = \"list_buckets\"\nas = \"mallory\"\n"
    ));
    assert_eq!(e[0].path, "steps[0].as");
    assert!(e[0].message.contains("unknown identity `mallory`"));
}

#[test]
fn version_rules_and_matrix_width_are_checked() {
    let text = "version = 2\nid = \"Bad Id\"\ntitle = \"t\"\narea = \"s3\"\nrules = [\"Q9\"]\n\
        [[matrix]]\nas = [\"root\", \"anonymous\"]\ncases = [{ op = \"list_buckets\", outcome = [\"ok\"] }]\n";
    let e = errors(text);
    let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
    for p in ["version", "id", "rules[0]", "matrix[0].cases[0].outcome"] {
        assert!(paths.contains(&p), "missing {p} in {paths:?}");
    }
}

#[test]
fn matrix_expands_to_one_step_per_cell() {
    let text = format!(
        "{HEAD}[[matrix]]\nas = [\"root\", \"anonymous\"]\n\
        cases = [{{ op = \"list_buckets\", outcome = [\"ok\", \"403:AccessDenied\"] }}]\n"
    );
    let s = scenario::parse(Path::new("m.toml"), &text).unwrap();
    assert_eq!(s.steps.len(), 2);
    let e = s.steps[1].step.expect.as_ref().unwrap();
    assert_eq!(
        (e.status, e.code.as_deref()),
        (Some(403), Some("AccessDenied"))
    );
    assert_eq!(s.steps[1].origin, "matrix[0].cases[0] as anonymous");
}

fn paths_and_messages(e: &[LoadError]) -> Vec<(String, String)> {
    e.iter()
        .map(|e| (e.path.clone(), e.message.clone()))
        .collect()
}

#[test]
fn templates_and_bucket_references_must_resolve() {
    let text = format!(
        "{HEAD}[setup]\nbuckets = [\"data\"]\n\
        [[setup.policies]]\nname = \"p\"\ndocument = '{{\"Resource\":\"arn:aws:s3:::{{{{bucket.x}}}}/*\"}}'\n\
        [[setup.objects]]\nbucket = \"ghost\"\nkey = \"k\"\n\
        [[steps]]\nop = \"get_object\"\nbucket = \"data\"\nkey = \"{{{{bucket.x}}}}/k\"\n\
        [[steps]]\nop = \"get_object\"\nbucket = \"data\"\nkey = \"{{{{nonsense}}}}\"\n\
        [[steps]]\nop = \"get_object\"\nbucket = \"data\"\nkey = \"{{{{bucket.data\"\n\
        [[steps]]\nop = \"put_object\"\nbucket = \"nope\"\nkey = \"k\"\n\
        [[steps]]\nop = \"get_object\"\nbucket = \"data\"\nkey = \"{{{{user.ghost}}}}\"\n"
    );
    let e = paths_and_messages(&errors(&text));
    let has = |path: &str, needle: &str| {
        assert!(
            e.iter().any(|(p, m)| p == path && m.contains(needle)),
            "no `{needle}` at {path} in {e:#?}"
        )
    };
    has("setup.policies[0].document", "bucket `x` is not declared");
    has(
        "setup.objects[0].bucket",
        "bucket `ghost` is not in `setup.buckets`",
    );
    has("steps[0].key", "bucket `x` is not declared");
    has("steps[1].key", "`{{nonsense}}` is not a template");
    has("steps[2].key", "unclosed `{{`");
    has("steps[3].bucket", "bucket `nope` is not declared");
    has("steps[4].key", "`ghost` is not a user");
    assert_eq!(e.len(), 7, "{e:#?}");
}

#[test]
fn a_missing_bucket_is_allowed_where_a_refusal_is_expected() {
    let text = format!(
        "{HEAD}[[steps]]\nop = \"head_bucket\"\nbucket = \"missing\"\nexpect = {{ status = 404 }}\n\
        [[steps]]\nop = \"create_bucket\"\nbucket = \"made\"\n\
        [[steps]]\nop = \"put_object\"\nbucket = \"made\"\nkey = \"{{{{bucket.made}}}}-{{{{region}}}}\"\n\
        [[matrix]]\nas = [\"root\", \"anonymous\"]\n\
        cases = [{{ op = \"list_objects_v2\", bucket = \"nothere\", outcome = [\"404\", \"AccessDenied\"] }}]\n"
    );
    scenario::parse(Path::new("ok.toml"), &text).unwrap_or_else(|e| panic!("{e:#?}"));
    let text = format!(
        "{HEAD}[[matrix]]\nas = [\"root\", \"anonymous\"]\n\
        cases = [{{ op = \"list_objects_v2\", bucket = \"nothere\", outcome = [\"ok\", \"AccessDenied\"] }}]\n"
    );
    assert_eq!(errors(&text)[0].path, "matrix[0].cases[0].bucket");
}

#[test]
fn toml_errors_give_line_and_column_and_name_a_duplicate_key() {
    let e = errors(&format!(
        "{HEAD}[[steps]]\nop = \"list_buckets\"\nname = \"a\"\nname = \"b\"\n"
    ));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].message, "line 9, column 1: duplicate key `name`");
    let e = errors(&format!(
        "{HEAD}[[steps]]\nop = \"list_buckets\"\nexpect = {{ status = }}\n"
    ));
    assert!(
        e[0].message.starts_with("line 8, column "),
        "{}",
        e[0].message
    );
    assert!(!e[0].message.contains("byte"), "{}", e[0].message);
}

#[test]
fn expectations_no_response_could_meet_are_refused() {
    let step =
        |expect: &str| format!("{HEAD}[[steps]]\nop = \"list_buckets\"\nexpect = {expect}\n");
    for (expect, path, says) in [
        (
            "{ status = 999 }",
            "steps[0].expect.status",
            "not an HTTP status",
        ),
        (
            "{ status = 42 }",
            "steps[0].expect.status",
            "not an HTTP status",
        ),
        (
            "{ ok = false }",
            "steps[0].expect.ok",
            "only `true` is meaningful",
        ),
        (
            "{ ok = true, status = 403 }",
            "steps[0].expect.ok",
            "expects a 2xx",
        ),
        (
            "{ status = 200, code = \"AccessDenied\" }",
            "steps[0].expect.code",
            "no error code",
        ),
        (
            "{ ok = true, code = \"NoSuchKey\" }",
            "steps[0].expect.code",
            "no error code",
        ),
        (
            "{ body_empty = true, body_contains = [\"x\"] }",
            "steps[0].expect.body_empty",
            "cannot also",
        ),
        (
            "{ items = [\"a\"], items_include = [\"b\"] }",
            "steps[0].expect.items_include",
            "does not list `b`",
        ),
        (
            "{ items = [\"a\"], items_exclude = [\"a\"] }",
            "steps[0].expect.items_exclude",
            "lists `a`",
        ),
        (
            "{ items_include = [\"a\"], items_exclude = [\"a\"] }",
            "steps[0].expect.items_exclude",
            "both included and excluded",
        ),
        // Overrides are checked too, named by their path.
        (
            "{ status = 403, profile.aws = { ok = true, code = \"NoSuchKey\" } }",
            "steps[0].expect.profile.aws.code",
            "no error code",
        ),
        (
            "{ status = 200, transport.https = { status = 700 } }",
            "steps[0].expect.transport.https.status",
            "not an HTTP status",
        ),
    ] {
        let got = paths_and_messages(&errors(&step(expect)));
        assert!(
            got.iter().any(|(p, m)| p == path && m.contains(says)),
            "{expect}: expected `{path}` saying {says:?}, got {got:?}"
        );
    }
}

#[test]
fn consistent_expectations_pass() {
    for expect in [
        "{ status = 404, code = \"none\" }",
        "{ status = 403, code = \"AccessDenied\", profile.aws = { ok = true } }",
        "{ ok = true, items = [\"a\", \"b\"], items_include = [\"a\"], items_exclude = [\"c\"] }",
        "{ status = 204, body_empty = true }",
    ] {
        let text = format!("{HEAD}[[steps]]\nop = \"list_buckets\"\nexpect = {expect}\n");
        scenario::parse(Path::new("ok.toml"), &text).unwrap_or_else(|e| panic!("{expect}: {e:?}"));
    }
}

#[test]
fn matrix_cells_and_buckets_are_checked() {
    let text = format!(
        "{HEAD}[setup]\nbuckets = [\"data\", \"data\"]\n[[matrix]]\nas = [\"root\", \"anonymous\"]\n\
        cases = [{{ op = \"list_buckets\", outcome = [\"999\", \"200:AccessDenied\"] }}]\n"
    );
    let got = paths_and_messages(&errors(&text));
    let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    for p in [
        "setup.buckets[1]",
        "matrix[0].cases[0].outcome[0]",
        "matrix[0].cases[0].outcome[1]",
    ] {
        assert!(paths.contains(&p), "missing {p} in {got:?}");
    }
}
