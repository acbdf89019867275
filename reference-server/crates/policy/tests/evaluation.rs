//! E1–E4, E10, E11 and the intersection (S4/A3): table tests named after the rule they pin.

mod common;

use common::{doc, policy, req};
use keygate_policy::{
    evaluate_all, evaluate_all_indexed, Action, Decision, PrincipalType, Profile,
};
use Decision::{Allow, ExplicitDeny, ImplicitDeny};

const PROFILES: [Profile; 3] = [Profile::Reference, Profile::Minio, Profile::Aws];

#[test]
fn e1_deny_wins_over_allow() {
    let p = policy(&doc(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"},
           {"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}"#));
    assert_eq!(
        req(Action::DeleteObject, "b/k").on(&p),
        ExplicitDeny { statement: 1 }
    );
    assert_eq!(req(Action::GetObject, "b/k").on(&p), Allow { statement: 0 });
    assert_eq!(
        req(Action::DeleteObject, "c/k").on(&p),
        Allow { statement: 0 }
    );
}

#[test]
fn e1_nothing_matching_is_an_implicit_deny() {
    let p = policy(&doc(
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    ));
    assert_eq!(req(Action::PutObject, "b/k").on(&p), ImplicitDeny);
    assert_eq!(req(Action::GetObject, "c/k").on(&p), ImplicitDeny);
    assert!(!ImplicitDeny.is_allowed() && !ExplicitDeny { statement: 0 }.is_allowed());
    assert!(Allow { statement: 3 }.is_allowed());
    assert_eq!(Allow { statement: 3 }.statement(), Some(3));
}

#[test]
fn e2_resource_strings_per_action_kind() {
    let bucket = policy(&doc(
        r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b"}"#,
    ));
    let all = policy(&doc(
        r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::*"}"#,
    ));
    let star = policy(&doc(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#));
    let prefix = policy(&doc(
        r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b*"}"#,
    ));
    for profile in PROFILES {
        let r = |a, res| req(a, res).profile(profile);
        assert!(r(Action::ListBucket, "b").on(&bucket).is_allowed());
        assert!(
            !r(Action::GetObject, "b/k").on(&bucket).is_allowed(),
            "b grants bucket-level only"
        );
        assert!(!r(Action::ListAllMyBuckets, "*").on(&bucket).is_allowed());
        for p in [&all, &star] {
            assert!(r(Action::ListAllMyBuckets, "*").on(p).is_allowed());
            assert!(r(Action::GetObject, "x/y/z").on(p).is_allowed());
            assert!(r(Action::CreateBucket, "x").on(p).is_allowed());
        }
        assert!(r(Action::ListBucket, "bb").on(&prefix).is_allowed());
        assert!(r(Action::GetObject, "bucket2/a/b").on(&prefix).is_allowed());
        assert!(!r(Action::GetObject, "a/b").on(&prefix).is_allowed());
    }
}

#[test]
fn e2_question_mark_is_one_character() {
    let p = policy(&doc(
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/file?.txt"}"#,
    ));
    assert!(req(Action::GetObject, "b/file1.txt").on(&p).is_allowed());
    assert!(!req(Action::GetObject, "b/file.txt").on(&p).is_allowed());
    assert!(!req(Action::GetObject, "b/file12.txt").on(&p).is_allowed());
}

#[test]
fn e3_bucket_star_grants_bucket_level_under_minio() {
    let p = policy(&doc(
        r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#,
    ));
    for profile in [Profile::Reference, Profile::Minio] {
        assert_eq!(
            req(Action::ListBucket, "b").profile(profile).on(&p),
            Allow { statement: 0 }
        );
        assert!(req(Action::GetBucketLocation, "b")
            .profile(profile)
            .on(&p)
            .is_allowed());
        assert!(!req(Action::ListBucket, "bb")
            .profile(profile)
            .on(&p)
            .is_allowed());
        assert!(!req(Action::ListAllMyBuckets, "*")
            .profile(profile)
            .on(&p)
            .is_allowed());
    }
}

#[test]
fn e3_bucket_star_does_not_grant_bucket_level_under_aws() {
    let p = policy(&doc(
        r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#,
    ));
    assert_eq!(
        req(Action::ListBucket, "b").profile(Profile::Aws).on(&p),
        ImplicitDeny
    );
    assert!(req(Action::GetObject, "b/k")
        .profile(Profile::Aws)
        .on(&p)
        .is_allowed());
}

#[test]
fn e3_bucket_star_deny_also_covers_the_bucket_under_minio() {
    let p = policy(&doc(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"},
           {"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#));
    assert_eq!(
        req(Action::ListBucket, "b").on(&p),
        ExplicitDeny { statement: 1 }
    );
    assert_eq!(
        req(Action::ListBucket, "b").profile(Profile::Aws).on(&p),
        Allow { statement: 0 }
    );
}

#[test]
fn e3_long_bucket_names_take_the_slow_path_with_the_same_answer() {
    let long = "b".repeat(300);
    let p = policy(&doc(&format!(
        r#"{{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::{long}/*"}}"#
    )));
    assert!(req(Action::ListBucket, &long).on(&p).is_allowed());
    assert!(!req(Action::ListBucket, &long)
        .profile(Profile::Aws)
        .on(&p)
        .is_allowed());
}

#[test]
fn e4_action_patterns_match_with_wildcards() {
    let p = policy(&doc(
        r#"{"Effect":"Allow","Action":["s3:Get*","s3:List?ucket"],"Resource":"*"}"#,
    ));
    assert!(req(Action::GetObject, "b/k").on(&p).is_allowed());
    assert!(req(Action::GetBucketTagging, "b").on(&p).is_allowed());
    assert!(req(Action::ListBucket, "b").on(&p).is_allowed());
    assert!(!req(Action::ListAllMyBuckets, "*").on(&p).is_allowed());
    assert!(!req(Action::PutObject, "b/k").on(&p).is_allowed());
}

#[test]
fn e4_not_action_applies_to_every_other_action() {
    let p = policy(&doc(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"},
           {"Effect":"Deny","NotAction":["s3:GetObject","s3:ListBucket"],"Resource":"arn:aws:s3:::ro/*"}"#));
    assert!(req(Action::GetObject, "ro/k").on(&p).is_allowed());
    assert_eq!(
        req(Action::PutObject, "ro/k").on(&p),
        ExplicitDeny { statement: 1 }
    );
    assert!(req(Action::PutObject, "rw/k").on(&p).is_allowed());
    let allow_not = policy(&doc(
        r#"{"Effect":"Allow","NotAction":"s3:Delete*","Resource":"*"}"#,
    ));
    assert!(req(Action::PutObject, "b/k").on(&allow_not).is_allowed());
    assert!(!req(Action::DeleteObject, "b/k").on(&allow_not).is_allowed());
    assert!(!req(Action::DeleteBucket, "b").on(&allow_not).is_allowed());
}

#[test]
fn e2_not_resource_applies_to_every_other_resource() {
    let p = policy(&doc(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"},
           {"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::mine","arn:aws:s3:::mine/*"]}"#));
    assert!(req(Action::GetObject, "mine/k").on(&p).is_allowed());
    assert!(req(Action::ListBucket, "mine").on(&p).is_allowed());
    assert_eq!(
        req(Action::GetObject, "other/k").on(&p),
        ExplicitDeny { statement: 1 }
    );
    assert_eq!(
        req(Action::ListAllMyBuckets, "*").on(&p),
        ExplicitDeny { statement: 1 }
    );
}

#[test]
fn e10_username_variable_in_resource() {
    let p = policy(&doc(
        r#"{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::home/${aws:username}/*"}"#,
    ));
    for principal in [
        PrincipalType::User,
        PrincipalType::AssumedRole,
        PrincipalType::ServiceAccount,
    ] {
        // STS and service accounts carry the parent's name (the caller's job, E10).
        let r = |res| req(Action::PutObject, res).principal(principal);
        assert!(r("home/alice/x").on(&p).is_allowed());
        assert!(!r("home/bob/x").on(&p).is_allowed());
        assert!(!r("home/alice").on(&p).is_allowed());
    }
    assert!(req(Action::PutObject, "home/bob/x")
        .user("bob")
        .on(&p)
        .is_allowed());
}

#[test]
fn e10_userid_and_principaltype_variables() {
    let p = policy(&doc(
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:principaltype}/${aws:userid}/*"}"#,
    ));
    assert!(req(Action::GetObject, "b/User/alice/k").on(&p).is_allowed());
    let sts = req(Action::GetObject, "b/AssumedRole/alice/k").principal(PrincipalType::AssumedRole);
    assert!(sts.on(&p).is_allowed());
    assert!(!req(Action::GetObject, "b/AssumedRole/alice/k")
        .on(&p)
        .is_allowed());
}

#[test]
fn e10_unresolvable_variable_matches_nothing() {
    let unknown = policy(&doc(
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:SourceIp}/*"}"#,
    ));
    assert!(!req(Action::GetObject, "b/${aws:SourceIp}/k")
        .on(&unknown)
        .is_allowed());
    assert!(!req(Action::GetObject, "b/1.2.3.4/k")
        .on(&unknown)
        .is_allowed());
    let user = policy(&doc(
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}*"}"#,
    ));
    assert!(!req(Action::GetObject, "b/x")
        .user("")
        .on(&user)
        .is_allowed());
    assert!(!req(Action::GetObject, "b/${aws:username}")
        .user("")
        .on(&user)
        .is_allowed());
}

#[test]
fn e11_evaluation_is_deterministic() {
    let p = policy(&doc(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"},
           {"Effect":"Deny","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringLike":{"aws:UserAgent":"bad*"}}}"#));
    let r = req(Action::PutObject, "b/k").insert("aws:UserAgent", &["bad-bot"]);
    let first = r.on(&p);
    for _ in 0..100 {
        assert_eq!(r.on(&p), first);
        assert_eq!(r.on(&p.clone()), first);
    }
    assert_eq!(first, ExplicitDeny { statement: 1 });
}

#[test]
fn s4_intersection_allows_only_what_both_allow() {
    let parent = policy(&doc(
        r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#,
    ));
    let session = policy(&doc(
        r#"{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}"#,
    ));
    let both = [&parent, &session];
    let get = req(Action::GetObject, "b/k");
    assert_eq!(evaluate_all(&both, &get.ctx()), Allow { statement: 0 });
    assert_eq!(
        evaluate_all_indexed(&both, &get.ctx()),
        (Some(0), Allow { statement: 0 })
    );
    assert_eq!(
        evaluate_all(&both, &req(Action::DeleteObject, "b/k").ctx()),
        ImplicitDeny
    );
    // A broader session policy grants nothing the parent lacks.
    assert_eq!(
        evaluate_all(&both, &req(Action::GetObject, "c/k").ctx()),
        ImplicitDeny
    );
}

#[test]
fn s4_deny_in_either_policy_wins() {
    let parent = policy(&doc(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#));
    let session = policy(&doc(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"},
           {"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}"#));
    let del = req(Action::DeleteObject, "b/k");
    assert_eq!(
        evaluate_all(&[&parent, &session], &del.ctx()),
        ExplicitDeny { statement: 1 }
    );
    assert_eq!(
        evaluate_all_indexed(&[&session, &parent], &del.ctx()),
        (Some(0), ExplicitDeny { statement: 1 })
    );
}

#[test]
fn s4_no_policy_denies() {
    assert_eq!(
        evaluate_all(&[], &req(Action::GetObject, "b/k").ctx()),
        ImplicitDeny
    );
    assert_eq!(
        evaluate_all_indexed(&[], &req(Action::GetObject, "b/k").ctx()),
        (None, ImplicitDeny)
    );
}
