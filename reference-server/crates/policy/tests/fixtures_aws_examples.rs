//! AWS documentation's identity-policy examples for S3, stored as data under
//! `tests/fixtures/*.json` with their source and the decision each request must get.
//!
//! Fixture form: `source`, `title`, `note` (how it was adapted to P7), `policy` (the document),
//! then either `refused_at` (the element P3 must name) or `cases`: `action`, `resource`,
//! optional `user` (default `alice`), `principal`, `profile` (`reference`/`minio`/`aws`),
//! `values` (condition key -> list), `expect` (`Allow`/`ExplicitDeny`/`ImplicitDeny`) and
//! `statement` (the deciding statement).

use keygate_policy::*;
use serde_json::Value;
use std::path::Path;

fn text<'v>(case: &'v Value, key: &str, default: &'v str) -> &'v str {
    case.get(key).and_then(Value::as_str).unwrap_or(default)
}

fn run_case(file: &str, policy: &CompiledPolicy, case: &Value) {
    let action_name = text(case, "action", "");
    let action =
        Action::from_name(action_name).unwrap_or_else(|| panic!("{file}: action {action_name}"));
    let mut values = ConditionMap::new();
    if let Some(Value::Object(map)) = case.get("values") {
        for (k, v) in map {
            let list = v.as_array().expect("values are lists").iter();
            values.insert(
                k,
                list.map(|s| s.as_str().expect("string").to_string())
                    .collect(),
            );
        }
    }
    let user = text(case, "user", "alice");
    let ctx = RequestContext {
        action,
        resource: text(case, "resource", ""),
        username: user,
        userid: user,
        principal_type: match text(case, "principal", "User") {
            "User" => PrincipalType::User,
            "AssumedRole" => PrincipalType::AssumedRole,
            "ServiceAccount" => PrincipalType::ServiceAccount,
            other => panic!("{file}: principal {other}"),
        },
        values: &values,
        profile: match text(case, "profile", "reference") {
            "reference" => Profile::Reference,
            "minio" => Profile::Minio,
            "aws" => Profile::Aws,
            other => panic!("{file}: profile {other}"),
        },
    };
    let statement = case
        .get("statement")
        .and_then(Value::as_u64)
        .map(|s| s as usize);
    let expected = match (text(case, "expect", ""), statement) {
        ("Allow", Some(statement)) => Decision::Allow { statement },
        ("ExplicitDeny", Some(statement)) => Decision::ExplicitDeny { statement },
        ("ImplicitDeny", None) => Decision::ImplicitDeny,
        other => panic!("{file}: bad expectation {other:?}"),
    };
    assert_eq!(policy.evaluate(&ctx), expected, "{file}: {case}");
}

#[test]
fn aws_documentation_examples_decide_as_expected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "fixtures missing: {files:?}");
    let mut cases = 0;
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            text(&fixture, "source", "").starts_with("https://docs.aws.amazon.com/"),
            "{file}"
        );
        let json = fixture["policy"].to_string();
        assert!(
            json.len() <= MAX_POLICY_BYTES,
            "{file}: over the size limit"
        );
        match (PolicyDocument::parse(&json), fixture.get("refused_at")) {
            (Err(e), Some(at)) => assert_eq!(Some(e.element()), at.as_str(), "{file}: {e}"),
            (Ok(_), Some(_)) => panic!("{file}: accepted, should be refused"),
            (Err(e), None) => panic!("{file}: refused: {e}"),
            (Ok(doc), _) => {
                let policy = doc.compile();
                for case in fixture["cases"].as_array().expect("cases") {
                    run_case(&file, &policy, case);
                    cases += 1;
                }
            }
        }
    }
    assert!(cases >= 40, "only {cases} cases");
}
