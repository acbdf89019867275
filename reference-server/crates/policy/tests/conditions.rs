//! E8 (operators, qualifiers, AND/OR structure) and E9 (missing keys), through whole policies.

mod common;

use common::{doc, policy, req, Req};
use keygate_policy::{Action, CompiledPolicy, ConditionKey, PrincipalType};

/// An Allow on ListBucket `b` under `condition` (the JSON of the Condition block).
fn when(condition: &str) -> CompiledPolicy {
    policy(&doc(&format!(
        r#"{{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{condition}}}"#
    )))
}

fn list() -> Req<'static> {
    req(Action::ListBucket, "b")
}

#[test]
fn e9_missing_key_false_for_positive_operators_true_for_not_forms() {
    let cases: &[(&str, &str, bool)] = &[
        ("StringEquals", r#""x""#, false),
        ("StringNotEquals", r#""x""#, true),
        ("StringEqualsIgnoreCase", r#""x""#, false),
        ("StringNotEqualsIgnoreCase", r#""x""#, true),
        ("StringLike", r#""*""#, false),
        ("StringNotLike", r#""*""#, true),
        ("NumericEquals", "1", false),
        ("NumericNotEquals", "1", true),
        ("NumericLessThan", "1", false),
        ("NumericGreaterThanEquals", "1", false),
        ("DateEquals", r#""2020-01-01""#, false),
        ("DateNotEquals", r#""2020-01-01""#, true),
        ("DateLessThan", r#""2020-01-01""#, false),
        ("Bool", r#""true""#, false),
        ("IpAddress", r#""10.0.0.0/8""#, false),
        ("NotIpAddress", r#""10.0.0.0/8""#, true),
        ("Null", r#""true""#, true),
        ("Null", r#""false""#, false),
    ];
    for (op, value, expected) in cases {
        let p = when(&format!(r#"{{"{op}":{{"s3:max-keys":{value}}}}}"#));
        assert_eq!(
            list().on(&p).is_allowed(),
            *expected,
            "{op} with a missing key"
        );
        // Every operator, `Null` too: E8 gives each the suffix, E9 makes it true on a missing
        // key (AWS refuses `NullIfExists`). Regression: `NullIfExists` was plain `Null`.
        let p = when(&format!(r#"{{"{op}IfExists":{{"s3:max-keys":{value}}}}}"#));
        assert!(
            list().on(&p).is_allowed(),
            "{op}IfExists with a missing key"
        );
    }
}

#[test]
fn e9_null_if_exists_is_null_on_a_present_key() {
    let present = || list().set(ConditionKey::MaxKeys, "5");
    let absent_wanted = when(r#"{"NullIfExists":{"s3:max-keys":"true"}}"#);
    let present_wanted = when(r#"{"NullIfExists":{"s3:max-keys":"false"}}"#);
    assert!(!present().on(&absent_wanted).is_allowed());
    assert!(present().on(&present_wanted).is_allowed());
}

#[test]
fn e9_qualifiers_with_a_missing_key() {
    let any = when(r#"{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":"a"}}"#);
    let all = when(r#"{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":"a"}}"#);
    assert!(!list().on(&any).is_allowed());
    assert!(list().on(&all).is_allowed());
}

#[test]
fn e9_absent_prefix_is_missing_and_empty_prefix_is_a_value() {
    let p = when(r#"{"StringEquals":{"s3:prefix":""}}"#);
    assert!(!list().on(&p).is_allowed());
    assert!(list().set(ConditionKey::Prefix, "").on(&p).is_allowed());
    assert!(!list().set(ConditionKey::Prefix, "a").on(&p).is_allowed());
}

#[test]
fn e8_values_for_one_key_are_ored() {
    let p = when(r#"{"StringEquals":{"s3:prefix":["","home/"]}}"#);
    assert!(list()
        .set(ConditionKey::Prefix, "home/")
        .on(&p)
        .is_allowed());
    assert!(list().set(ConditionKey::Prefix, "").on(&p).is_allowed());
    assert!(!list().set(ConditionKey::Prefix, "etc/").on(&p).is_allowed());
}

#[test]
fn e8_keys_in_one_operator_are_anded() {
    let p = when(r#"{"StringEquals":{"s3:prefix":"home/","s3:delimiter":"/"}}"#);
    let both = list()
        .set(ConditionKey::Prefix, "home/")
        .set(ConditionKey::Delimiter, "/");
    assert!(both.on(&p).is_allowed());
    assert!(!list()
        .set(ConditionKey::Prefix, "home/")
        .on(&p)
        .is_allowed());
}

#[test]
fn e8_operators_in_one_block_are_anded() {
    let p = when(
        r#"{"StringLike":{"s3:prefix":"home/*"},"NumericLessThanEquals":{"s3:max-keys":"100"}}"#,
    );
    let ok = list()
        .set(ConditionKey::Prefix, "home/x")
        .set(ConditionKey::MaxKeys, "100");
    assert!(ok.on(&p).is_allowed());
    let too_many = list()
        .set(ConditionKey::Prefix, "home/x")
        .set(ConditionKey::MaxKeys, "1000");
    assert!(!too_many.on(&p).is_allowed());
}

#[test]
fn e8_condition_keys_are_case_insensitive() {
    let p = when(r#"{"StringEquals":{"S3:PREFIX":"a"},"Bool":{"AWS:securetransport":"true"}}"#);
    let r = list()
        .set(ConditionKey::Prefix, "a")
        .set(ConditionKey::SecureTransport, "true");
    assert!(r.on(&p).is_allowed());
    // The key name is case-insensitive up to the tag key, which S3 keeps case-sensitive:
    // `Project` and `project` are two tags, whichever the request lists first.
    let tag = when(r#"{"StringEquals":{"S3:EXISTINGOBJECTTAG/Project":"x"}}"#);
    let mut r = list();
    r.values.existing_object_tag("Project", "x");
    assert!(r.on(&tag).is_allowed());
    for order in [
        [("project", "y"), ("Project", "x")],
        [("Project", "x"), ("project", "y")],
    ] {
        let mut r = list();
        for (k, v) in order {
            r.values.existing_object_tag(k, v);
        }
        assert!(r.on(&tag).is_allowed(), "{order:?}");
    }
    let mut r = list();
    r.values.existing_object_tag("project", "x");
    assert!(!r.on(&tag).is_allowed());
}

#[test]
fn e8_string_family() {
    let cases: &[(&str, &str, &str, bool)] = &[
        ("StringEquals", "Mozilla", "Mozilla", true),
        ("StringEquals", "Mozilla", "mozilla", false),
        ("StringEquals", "Moz*", "Mozilla", false),
        ("StringNotEquals", "Mozilla", "curl", true),
        ("StringNotEquals", "Mozilla", "Mozilla", false),
        ("StringEqualsIgnoreCase", "Mozilla", "MOZILLA", true),
        ("StringNotEqualsIgnoreCase", "Mozilla", "MOZILLA", false),
        ("StringLike", "Moz*", "Mozilla/5.0", true),
        ("StringLike", "Moz?lla", "Mozilla", true),
        ("StringNotLike", "Moz*", "curl/8", true),
        ("StringNotLike", "Moz*", "Mozilla", false),
    ];
    for (op, policy_value, request_value, expected) in cases {
        let p = when(&format!(
            r#"{{"{op}":{{"aws:UserAgent":"{policy_value}"}}}}"#
        ));
        let r = list().set(ConditionKey::UserAgent, request_value);
        assert_eq!(
            r.on(&p).is_allowed(),
            *expected,
            "{op} {policy_value} vs {request_value}"
        );
    }
}

#[test]
fn e8_numeric_family() {
    let cases: &[(&str, &str, bool)] = &[
        ("NumericEquals", "10", true),
        ("NumericEquals", "11", false),
        ("NumericNotEquals", "11", true),
        ("NumericLessThan", "9", true),
        ("NumericLessThan", "10", false),
        ("NumericLessThanEquals", "10", true),
        ("NumericGreaterThan", "11", true),
        ("NumericGreaterThan", "10", false),
        ("NumericGreaterThanEquals", "10", true),
        ("NumericEquals", "ten", false),
    ];
    for (op, request_value, expected) in cases {
        let p = when(&format!(r#"{{"{op}":{{"s3:max-keys":"10"}}}}"#));
        let r = list().set(ConditionKey::MaxKeys, request_value);
        assert_eq!(
            r.on(&p).is_allowed(),
            *expected,
            "{op} 10 vs {request_value}"
        );
    }
}

#[test]
fn e8_date_family_with_iso8601_and_epoch() {
    let cases: &[(&str, ConditionKey, &str, bool)] = &[
        (
            "DateLessThan",
            ConditionKey::CurrentTime,
            "2025-12-31T23:59:59Z",
            true,
        ),
        (
            "DateLessThan",
            ConditionKey::CurrentTime,
            "2026-01-01T00:00:00Z",
            false,
        ),
        (
            "DateLessThanEquals",
            ConditionKey::CurrentTime,
            "2026-01-01T00:00:00Z",
            true,
        ),
        (
            "DateGreaterThan",
            ConditionKey::EpochTime,
            "1767225601",
            true,
        ),
        (
            "DateGreaterThanEquals",
            ConditionKey::EpochTime,
            "1767225599",
            false,
        ),
        ("DateEquals", ConditionKey::EpochTime, "1767225600", true),
        (
            "DateNotEquals",
            ConditionKey::CurrentTime,
            "2026-01-01T00:00:01Z",
            true,
        ),
    ];
    for (op, key, request_value, expected) in cases {
        let p = when(&format!(
            r#"{{"{op}":{{"{}":"2026-01-01T00:00:00Z"}}}}"#,
            key.as_str()
        ));
        let r = list().set(*key, request_value);
        assert_eq!(r.on(&p).is_allowed(), *expected, "{op} vs {request_value}");
    }
    let epoch_policy = when(r#"{"DateGreaterThan":{"aws:CurrentTime":1767225600}}"#);
    let r = list().set(ConditionKey::CurrentTime, "2026-06-01T00:00:00Z");
    assert!(r.on(&epoch_policy).is_allowed());
}

#[test]
fn e8_bool_and_ip_families() {
    let secure = when(r#"{"Bool":{"aws:SecureTransport":"true"}}"#);
    assert!(list()
        .set(ConditionKey::SecureTransport, "true")
        .on(&secure)
        .is_allowed());
    assert!(!list()
        .set(ConditionKey::SecureTransport, "false")
        .on(&secure)
        .is_allowed());
    let json_bool = when(r#"{"Bool":{"aws:SecureTransport":false}}"#);
    assert!(list()
        .set(ConditionKey::SecureTransport, "false")
        .on(&json_bool)
        .is_allowed());

    let ip = when(r#"{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}"#);
    let not_ip = when(r#"{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#);
    for (addr, inside) in [
        ("192.0.2.9", true),
        ("198.51.100.1", false),
        ("2001:db8::5", true),
    ] {
        let r = list().set(ConditionKey::SourceIp, addr);
        assert_eq!(r.on(&ip).is_allowed(), inside, "{addr}");
    }
    assert!(list()
        .set(ConditionKey::SourceIp, "198.51.100.1")
        .on(&not_ip)
        .is_allowed());
    assert!(!list()
        .set(ConditionKey::SourceIp, "192.0.2.1")
        .on(&not_ip)
        .is_allowed());
}

#[test]
fn e8_for_any_value_and_for_all_values() {
    let any = when(r#"{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["a","b"]}}"#);
    let all = when(r#"{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["a","b"]}}"#);
    let any_not = when(r#"{"ForAnyValue:StringNotEquals":{"s3:RequestObjectTagKeys":["a","b"]}}"#);
    let all_not = when(r#"{"ForAllValues:StringNotEquals":{"s3:RequestObjectTagKeys":["a","b"]}}"#);
    let keys = |ks: &[&str]| list().insert("s3:RequestObjectTagKeys", ks);
    let cases: &[(&[&str], bool, bool, bool, bool)] = &[
        // request keys, any, all, any-not, all-not
        (&["a"], true, true, false, false),
        (&["a", "c"], true, false, true, false),
        (&["c"], false, false, true, true),
        (&["a", "b"], true, true, false, false),
    ];
    for (ks, a, l, an, ln) in cases {
        assert_eq!(keys(ks).on(&any).is_allowed(), *a, "any {ks:?}");
        assert_eq!(keys(ks).on(&all).is_allowed(), *l, "all {ks:?}");
        assert_eq!(keys(ks).on(&any_not).is_allowed(), *an, "any-not {ks:?}");
        assert_eq!(keys(ks).on(&all_not).is_allowed(), *ln, "all-not {ks:?}");
    }
}

#[test]
fn e10_variables_in_condition_values() {
    let p =
        when(r#"{"StringLike":{"s3:prefix":["home/${aws:username}/*","${aws:principaltype}"]}}"#);
    assert!(list()
        .set(ConditionKey::Prefix, "home/alice/docs")
        .on(&p)
        .is_allowed());
    assert!(!list()
        .set(ConditionKey::Prefix, "home/bob/docs")
        .on(&p)
        .is_allowed());
    assert!(list().set(ConditionKey::Prefix, "User").on(&p).is_allowed());
    let unknown = when(r#"{"StringEquals":{"s3:prefix":"${aws:nope}"}}"#);
    assert!(!list()
        .set(ConditionKey::Prefix, "${aws:nope}")
        .on(&unknown)
        .is_allowed());
    let not_unknown = when(r#"{"StringNotEquals":{"s3:prefix":"${aws:nope}"}}"#);
    assert!(list()
        .set(ConditionKey::Prefix, "${aws:nope}")
        .on(&not_unknown)
        .is_allowed());
}

#[test]
fn e9_principal_keys_come_from_the_context() {
    let p = when(
        r#"{"StringEquals":{"aws:username":"alice","aws:principaltype":"AssumedRole","aws:userid":"alice"}}"#,
    );
    let sts = list().principal(PrincipalType::AssumedRole);
    assert!(sts.on(&p).is_allowed());
    assert!(!list().on(&p).is_allowed());
    assert!(!list()
        .principal(PrincipalType::AssumedRole)
        .user("bob")
        .on(&p)
        .is_allowed());
}

/// `aws:SourceIp` given as an address, as the server does.
struct SourceIp(std::net::IpAddr);

impl keygate_policy::ConditionValues for SourceIp {
    fn get(&self, key: &str) -> Option<keygate_policy::Values<'_>> {
        (key == ConditionKey::SourceIp.lower_name()).then_some(keygate_policy::Values::Ip(self.0))
    }
}

#[test]
fn e8_source_ip_given_as_an_address_decides_as_its_text() {
    let operators = [
        ("IpAddress", r#"["10.0.0.0/8", "2001:db8::/32"]"#),
        ("NotIpAddress", r#""10.0.0.0/8""#),
        ("ForAllValues:IpAddress", r#""10.1.2.3""#),
        ("StringLike", r#""10.*""#),
        ("StringEquals", r#""2001:db8::1""#),
        ("StringNotEquals", r#""10.1.2.3""#),
        ("Null", r#""false""#),
        ("NumericEquals", "10"),
    ];
    for (op, values) in operators {
        let p = when(&format!(r#"{{"{op}":{{"aws:SourceIp":{values}}}}}"#));
        for ip in ["10.1.2.3", "192.0.2.1", "2001:db8::1", "::ffff:10.1.2.3"] {
            let text = list().set(ConditionKey::SourceIp, ip);
            let addr = SourceIp(ip.parse().unwrap());
            let typed = keygate_policy::RequestContext {
                values: &addr,
                ..text.ctx()
            };
            assert_eq!(
                p.evaluate(&typed),
                p.evaluate(&text.ctx()),
                "{op} {values} on {ip}"
            );
        }
    }
}
