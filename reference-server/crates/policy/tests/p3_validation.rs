//! P3: what `PolicyDocument::parse` accepts, and for what it refuses, the element it names.

mod common;

use common::doc;
use keygate_policy::{PolicyDocument, MAX_POLICY_BYTES};

const OK_STMT: &str = r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;

fn refused(json: &str) -> (String, String) {
    match PolicyDocument::parse(json) {
        Ok(_) => panic!("accepted but should be refused:\n{json}"),
        Err(e) => (e.element().to_string(), e.to_string()),
    }
}

#[test]
fn p3_refusals_name_the_element() {
    let cases: &[(&str, String, &str, &str)] = &[
        ("not json", "{".into(), "", "not valid JSON"),
        ("not an object", "[]".into(), "", "JSON object"),
        ("no version", format!(r#"{{"Statement":[{OK_STMT}]}}"#), "Version", "missing"),
        ("empty version", format!(r#"{{"Version":"","Statement":[{OK_STMT}]}}"#), "Version", "2012-10-17"),
        ("old version", format!(r#"{{"Version":"2008-10-17","Statement":[{OK_STMT}]}}"#), "Version", "2012-10-17"),
        ("numeric version", format!(r#"{{"Version":2012,"Statement":[{OK_STMT}]}}"#), "Version", "2012-10-17"),
        ("no statement", r#"{"Version":"2012-10-17"}"#.into(), "Statement", "missing"),
        ("empty statement array", r#"{"Version":"2012-10-17","Statement":[]}"#.into(), "Statement", "empty"),
        ("statement string", r#"{"Version":"2012-10-17","Statement":"x"}"#.into(), "Statement", "statement object"),
        ("unknown top-level", format!(r#"{{"Version":"2012-10-17","Statement":[{OK_STMT}],"Extra":1}}"#), "Extra", "unknown element"),
        ("lower-case top-level", format!(r#"{{"version":"2012-10-17","Statement":[{OK_STMT}]}}"#), "version", "case-sensitive"),
        ("statement not object", doc(r#""x""#), "Statement[0]", "JSON object"),
        ("no effect", doc(r#"{"Action":"s3:GetObject","Resource":"*"}"#), "Statement[0].Effect", "missing"),
        ("lower-case effect value", doc(r#"{"Effect":"allow","Action":"s3:GetObject","Resource":"*"}"#), "Statement[0].Effect", "\"Allow\" or \"Deny\""),
        ("lower-case element", doc(r#"{"effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#), "Statement[0].effect", "case-sensitive"),
        ("principal", doc(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}"#), "Statement[0].Principal", "identity policy"),
        ("not principal", doc(r#"{"Effect":"Allow","NotPrincipal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"*"}"#), "Statement[0].NotPrincipal", "identity policy"),
        ("no action", doc(r#"{"Effect":"Allow","Resource":"*"}"#), "Statement[0].Action", "missing"),
        ("both actions", doc(r#"{"Effect":"Allow","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"*"}"#), "Statement[0].NotAction", "exactly one"),
        ("empty action", doc(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#), "Statement[0].Action", "empty"),
        ("action not string", doc(r#"{"Effect":"Allow","Action":["s3:GetObject",3],"Resource":"*"}"#), "Statement[0].Action[1]", "string"),
        ("unsupported action", doc(&format!(r#"{OK_STMT},{{"Effect":"Allow","Action":"s3:GetObjectVersion","Resource":"*"}}"#)), "Statement[1].Action", "unsupported action \"s3:GetObjectVersion\""),
        ("wrong-case action", doc(r#"{"Effect":"Allow","Action":"s3:getobject","Resource":"*"}"#), "Statement[0].Action", "unsupported action"),
        ("wildcard matching nothing", doc(r#"{"Effect":"Allow","Action":"s3:Foo*","Resource":"*"}"#), "Statement[0].Action", "matches no supported action"),
        ("other service", doc(r#"{"Effect":"Allow","Action":"iam:*","Resource":"*"}"#), "Statement[0].Action", "matches no supported action"),
        ("bad not-action", doc(r#"{"Effect":"Deny","NotAction":"s3:Nope","Resource":"*"}"#), "Statement[0].NotAction", "unsupported action"),
        ("no resource", doc(r#"{"Effect":"Allow","Action":"s3:GetObject"}"#), "Statement[0].Resource", "missing"),
        ("both resources", doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","NotResource":"*"}"#), "Statement[0].NotResource", "exactly one"),
        ("foreign arn", doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:iam:::user/x"}"#), "Statement[0].Resource", "unsupported resource"),
        ("bare bucket", doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"b/*"}"#), "Statement[0].Resource", "unsupported resource"),
        ("empty arn", doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::"}"#), "Statement[0].Resource", "unsupported resource"),
        ("unclosed variable", doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username"}"#), "Statement[0].Resource", "unclosed"),
        ("sid not string", doc(r#"{"Sid":1,"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#), "Statement[0].Sid", "string"),
        ("unknown statement field", doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Extra":1}"#), "Statement[0].Extra", "unknown element"),
        ("unknown operator", doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEqualz":{"s3:prefix":"a"}}}"#), "Statement[0].Condition.StringEqualz", "unsupported condition operator"),
        ("arn operator", doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"a"}}}"#), "Statement[0].Condition.ArnLike", "unsupported condition operator"),
        ("bad qualifier", doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"ForSomeValues:StringLike":{"s3:prefix":"a"}}}"#), "Statement[0].Condition.ForSomeValues:StringLike", "unsupported condition operator"),
        ("condition not object", doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":[]}"#), "Statement[0].Condition", "object"),
        ("operator not object", doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringLike":"a"}}"#), "Statement[0].Condition.StringLike", "object"),
        ("bad number", doc(r#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}"#), "Statement[0].Condition.NumericLessThan.s3:max-keys", "not a number"),
        ("bad date", doc(r#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"soon"}}}"#), "Statement[0].Condition.DateLessThan.aws:CurrentTime", "ISO 8601"),
        ("bad ip", doc(r#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}"#), "Statement[0].Condition.IpAddress.aws:SourceIp", "IP address"),
        ("bad bool", doc(r#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}"#), "Statement[0].Condition.Bool.aws:SecureTransport", "true or false"),
        ("bad null", doc(r#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"Null":{"s3:prefix":"maybe"}}}"#), "Statement[0].Condition.Null.s3:prefix", "true or false"),
        ("empty values", doc(r#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEquals":{"s3:prefix":[]}}}"#), "Statement[0].Condition.StringEquals.s3:prefix", "empty"),
        ("object value", doc(r#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEquals":{"s3:prefix":{"a":1}}}}"#), "Statement[0].Condition.StringEquals.s3:prefix", "string, number or boolean"),
        ("single statement object path", r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Nope","Resource":"*"}}"#.into(), "Statement.Action", "unsupported action"),
    ];
    for (name, json, element, text) in cases {
        let (got_element, display) = refused(json);
        assert_eq!(&got_element, element, "{name}: {display}");
        assert!(display.contains(text), "{name}: {display:?} lacks {text:?}");
        if !element.is_empty() {
            assert!(
                display.starts_with(&format!("{element}: ")),
                "{name}: {display}"
            );
        }
    }
}

#[test]
fn p3_error_display_matches_the_documented_form() {
    let json = doc(&format!(
        r#"{OK_STMT},{{"Effect":"Allow","Action":"s3:GetObjectVersion","Resource":"*"}}"#
    ));
    let e = PolicyDocument::parse(&json).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Statement[1].Action: unsupported action \"s3:GetObjectVersion\""
    );
}

#[test]
fn p3_accepts_the_grammar() {
    let cases: &[&str] = &[
        // A single statement object, strings instead of arrays, Sid and Id.
        r#"{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"s","Effect":"Deny","Action":"s3:*","Resource":"*"}}"#,
        // `*` as an action, wildcards, NotAction and NotResource.
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::*"},
            {"Effect":"Deny","NotAction":["s3:Get*","s3:List*"],"NotResource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}]}"#,
        // Every operator family with qualifiers and IfExists; JSON booleans and numbers as values.
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{
            "StringEquals":{"s3:prefix":["","home/"]},"StringNotEqualsIgnoreCase":{"aws:UserAgent":"x"},
            "ForAnyValue:StringLike":{"s3:RequestObjectTagKeys":"a*"},"ForAllValues:StringNotLikeIfExists":{"s3:delimiter":"?"},
            "NumericLessThanEqualsIfExists":{"s3:max-keys":100},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},
            "DateLessThan":{"aws:EpochTime":1900000000},"Bool":{"aws:SecureTransport":true},
            "IpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]},"NotIpAddressIfExists":{"aws:SourceIp":"192.0.2.1"},
            "Null":{"s3:x-amz-copy-source":"true"},"StringLike":{"s3:prefix":"${aws:username}/*"}}}]}"#,
        // Unknown variables are accepted (they match nothing).
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:SourceIp}/*"}]}"#,
        // The three object-tagging actions (chosen, P7).
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObjectTagging","s3:PutObjectTagging","s3:DeleteObjectTagging"],"Resource":"*"}]}"#,
    ];
    for json in cases {
        if let Err(e) = PolicyDocument::parse(json) {
            panic!("refused: {e}\n{json}");
        }
    }
}

#[test]
fn p3_every_operator_with_every_form_is_accepted() {
    for base in keygate_policy::OPERATOR_NAMES {
        let value = match base {
            b if b.starts_with("Numeric") => "1",
            b if b.starts_with("Date") => "2020-01-01T00:00:00Z",
            "Bool" | "Null" => "true",
            b if b.contains("IpAddress") => "10.0.0.0/8",
            _ => "x",
        };
        for qualifier in ["", "ForAnyValue:", "ForAllValues:"] {
            for suffix in ["", "IfExists"] {
                let op = format!("{qualifier}{base}{suffix}");
                let json = doc(&format!(
                    r#"{{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{{"{op}":{{"aws:k":"{value}"}}}}}}"#
                ));
                if let Err(e) = PolicyDocument::parse(&json) {
                    panic!("{op} refused: {e}");
                }
            }
        }
    }
}

#[test]
fn p3_source_is_kept_verbatim_and_size_is_the_callers() {
    let json = format!("  {}  \n", doc(OK_STMT));
    let d = PolicyDocument::parse(&json).unwrap();
    assert_eq!(d.source(), json);
    assert_eq!(d.statement_count(), 1);
    // Size is not checked here: a document over the limit still parses.
    let padded = format!("{json}{}", " ".repeat(MAX_POLICY_BYTES));
    assert!(padded.len() > MAX_POLICY_BYTES);
    assert!(PolicyDocument::parse(&padded).is_ok());
}
