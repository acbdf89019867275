//! Criterion bench of `CompiledPolicy::evaluate`: the pre-defined `readwrite` and `readonly`
//! policies and a 2048-byte custom policy (the P2 maximum) with many statements, wildcards,
//! conditions and a variable, each in allow, explicit-deny and implicit-deny outcomes.
//! Goal: the 2 KB worst case under 1 µs per decision.

use criterion::{criterion_group, criterion_main, Criterion};
use keygate_policy::*;
use std::hint::black_box;

/// A custom policy of exactly `MAX_POLICY_BYTES` bytes (checked), built to make evaluation
/// work: deny statements with conditions first, allows with variables and wildcards after.
fn custom_policy() -> String {
    let statements = [
        r#"{"Sid":"DenyInsecure","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
        r#"{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::secure-*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16","2001:db8::/32"]}}}"#,
        r#"{"Effect":"Deny","Action":["s3:Delete*","s3:PutObject"],"Resource":["arn:aws:s3:::archive*/*","arn:aws:s3:::*/locked/*"]}"#,
        r#"{"Sid":"DenyOldAgents","Effect":"Deny","Action":"s3:Get*","Resource":"arn:aws:s3:::*","Condition":{"StringLike":{"aws:UserAgent":["*curl/7.*","*wget*"]}}}"#,
        r#"{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::*/tmp/*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2031-01-01T00:00:00Z"}}}"#,
        r#"{"Sid":"ListHome","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::data","Condition":{"StringLike":{"s3:prefix":["home/${aws:username}/*",""]}}}"#,
        r#"{"Sid":"Shared","Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::data/shared/*/public/*","arn:aws:s3:::pub-??-*/*"],"Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},"NumericLessThanEqualsIfExists":{"s3:max-keys":"1000"}}}"#,
        r#"{"Sid":"Team","Effect":"Allow","NotAction":["s3:Delete*","s3:Put*Policy"],"Resource":"arn:aws:s3:::team-*-*/*","Condition":{"StringEquals":{"aws:principaltype":["User","AssumedRole"]}}}"#,
        r#"{"Sid":"Reports","Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":["arn:aws:s3:::reports-20??/*/summary-*.csv","arn:aws:s3:::reports-*/q?/*"],"Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8"]}}}"#,
        r#"{"Sid":"Tagging","Effect":"Allow","Action":"s3:*Tagging","Resource":"arn:aws:s3:::*","Condition":{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["project","owner"]}}}"#,
        r#"{"Sid":"Home","Effect":"Allow","Action":["s3:Get*","s3:Put*","s3:DeleteObject","s3:AbortMultipartUpload"],"Resource":["arn:aws:s3:::data/home/${aws:username}","arn:aws:s3:::data/home/${aws:username}/*"],"Condition":{"StringNotEqualsIgnoreCase":{"s3:x-amz-metadata-directive":"REPLACE"}}}"#,
    ];
    let mut json = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    );
    assert!(json.len() <= MAX_POLICY_BYTES, "{} bytes", json.len());
    json.push_str(&" ".repeat(MAX_POLICY_BYTES - json.len()));
    assert_eq!(json.len(), MAX_POLICY_BYTES);
    json
}

fn values(agent: &str) -> ConditionMap {
    let mut v = ConditionMap::new();
    v.set(ConditionKey::SecureTransport, "true")
        .set(ConditionKey::SourceIp, "10.1.2.3")
        .set(ConditionKey::UserAgent, agent)
        .set(ConditionKey::CurrentTime, "2026-11-29T10:00:00Z")
        .set(ConditionKey::SignatureVersion, "AWS4-HMAC-SHA256");
    v
}

fn ctx<'a>(action: Action, resource: &'a str, values: &'a ConditionMap) -> RequestContext<'a> {
    RequestContext {
        action,
        resource,
        username: "alice",
        userid: "alice",
        principal_type: PrincipalType::User,
        values,
        profile: Profile::Reference,
    }
}

fn bench(c: &mut Criterion) {
    let sdk = values("aws-sdk-rust/1.157 os/linux");
    let curl = values("curl/7.68.0");
    let mut listing = values("aws-sdk-rust/1.157 os/linux");
    listing.set(ConditionKey::Prefix, "home/alice/docs/");
    let custom_doc = PolicyDocument::parse(&custom_policy()).expect("custom policy parses");
    let custom = custom_doc.compile();
    let readwrite = predefined::readwrite().compile();
    let readonly = predefined::readonly().compile();

    type Case<'a> = (
        &'a str,
        &'a CompiledPolicy,
        RequestContext<'a>,
        fn(&Decision) -> bool,
    );
    let allow: fn(&Decision) -> bool = Decision::is_allowed;
    let deny: fn(&Decision) -> bool = |d| matches!(d, Decision::ExplicitDeny { .. });
    let implicit: fn(&Decision) -> bool = |d| *d == Decision::ImplicitDeny;
    let cases: Vec<Case<'_>> = vec![
        (
            "readwrite/allow",
            &readwrite,
            ctx(Action::PutObject, "bucket/dir/key.bin", &sdk),
            allow,
        ),
        (
            "readonly/allow",
            &readonly,
            ctx(Action::GetObject, "bucket/dir/key.bin", &sdk),
            allow,
        ),
        (
            "readonly/implicit-deny",
            &readonly,
            ctx(Action::PutObject, "bucket/dir/key.bin", &sdk),
            implicit,
        ),
        // Every Get deny statement is tried, then the allows down to the last (Home).
        (
            "custom-2k/allow",
            &custom,
            ctx(
                Action::GetObject,
                "data/home/alice/reports/2026/q1-summary.csv",
                &sdk,
            ),
            allow,
        ),
        (
            "custom-2k/explicit-deny",
            &custom,
            ctx(
                Action::GetObject,
                "data/home/alice/reports/2026/q1-summary.csv",
                &curl,
            ),
            deny,
        ),
        (
            "custom-2k/implicit-deny",
            &custom,
            ctx(
                Action::GetObject,
                "data/home/bob/reports/2026/q1-summary.csv",
                &sdk,
            ),
            implicit,
        ),
        (
            "custom-2k/list-allow",
            &custom,
            ctx(Action::ListBucket, "data", &listing),
            allow,
        ),
    ];
    for (name, policy, ctx, expect) in &cases {
        let decision = policy.evaluate(ctx);
        assert!(expect(&decision), "{name}: {decision:?}");
        c.bench_function(name, |b| {
            b.iter(|| black_box(*policy).evaluate(black_box(ctx)))
        });
    }
    let both = [&custom, &readwrite];
    let home = ctx(
        Action::GetObject,
        "data/home/alice/reports/2026/q1-summary.csv",
        &sdk,
    );
    assert!(evaluate_all(&both, &home).is_allowed());
    c.bench_function("intersection custom-2k+readwrite/allow", |b| {
        b.iter(|| evaluate_all(black_box(&both), black_box(&home)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
