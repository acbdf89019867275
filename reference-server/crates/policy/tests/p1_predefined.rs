//! P1: the pre-defined documents are exactly WEKA's and allow/deny the expected matrix.

mod common;

use common::req;
use keygate_policy::{predefined, Action, Decision, PolicyDocument, Profile};

/// Actions WEKA's `readonly` lists (SPEC "Pre-defined documents").
const READONLY: [Action; 8] = [
    Action::ListAllMyBuckets,
    Action::ListBucket,
    Action::ListBucketMultipartUploads,
    Action::ListMultipartUploadParts,
    Action::GetBucketLocation,
    Action::GetBucketPolicy,
    Action::GetBucketTagging,
    Action::GetObject,
];

fn resource(action: Action) -> &'static str {
    if action == Action::ListAllMyBuckets {
        "*"
    } else if action.is_object_action() {
        "any-bucket/some/key"
    } else {
        "any-bucket"
    }
}

#[test]
fn p1_names_and_lookup() {
    assert_eq!(predefined::NAMES, ["readonly", "writeonly", "readwrite"]);
    for name in predefined::NAMES {
        let doc = predefined::by_name(name).expect(name);
        assert!(
            std::ptr::eq(doc, predefined::by_name(name).unwrap()),
            "parsed once"
        );
        assert!(predefined::is_predefined(name));
        let reparsed = PolicyDocument::parse(doc.source()).unwrap();
        assert_eq!(reparsed.statement_count(), 1);
    }
    assert!(predefined::by_name("ReadOnly").is_none());
    assert!(predefined::by_name("consoleAdmin").is_none());
}

#[test]
fn p1_documents_are_wekas_text() {
    let compact = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(
        compact(predefined::readonly().source()),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListAllMyBuckets","s3:ListBucket","s3:ListBucketMultipartUploads","s3:ListMultipartUploadParts","s3:GetBucketLocation","s3:GetBucketPolicy","s3:GetBucketTagging","s3:GetObject"],"Resource":["arn:aws:s3:::*"]}]}"#
    );
    assert_eq!(
        compact(predefined::writeonly().source()),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::*"]}]}"#
    );
    assert_eq!(
        compact(predefined::readwrite().source()),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::*"]}]}"#
    );
}

#[test]
fn p1_matrix_for_every_action_and_profile() {
    let ro = predefined::readonly().compile();
    let wo = predefined::writeonly().compile();
    let rw = predefined::readwrite().compile();
    for profile in [Profile::Reference, Profile::Minio, Profile::Aws] {
        for action in Action::ALL {
            let r = req(action, resource(action)).profile(profile);
            let allow = Decision::Allow { statement: 0 };
            let expect = |granted: bool| {
                if granted {
                    allow
                } else {
                    Decision::ImplicitDeny
                }
            };
            assert_eq!(r.on(&rw), allow, "readwrite {action}");
            assert_eq!(
                r.on(&ro),
                expect(READONLY.contains(&action)),
                "readonly {action}"
            );
            assert_eq!(
                r.on(&wo),
                expect(action == Action::PutObject),
                "writeonly {action}"
            );
        }
    }
}

#[test]
fn p1_weka_readonly_differs_from_minio_readonly() {
    // MinIO's readonly lacks the List actions; WEKA's has them.
    let ro = predefined::readonly().compile();
    assert!(req(Action::ListBucket, "b").on(&ro).is_allowed());
    assert!(req(Action::ListAllMyBuckets, "*").on(&ro).is_allowed());
    assert!(!req(Action::PutObject, "b/k").on(&ro).is_allowed());
    assert!(!req(Action::GetObjectTagging, "b/k").on(&ro).is_allowed());
}
