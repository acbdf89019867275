//! Bucket policies: stored as submitted, applied to anonymous requests only (WEKA).
//!
//! A bucket policy is an identity policy plus a `Principal` per statement. Validation strips
//! the principals and runs the policy engine's checks on the rest; evaluation keeps only the
//! statements that name every principal (`"*"` or `{"AWS": "*"}`) and evaluates them as an
//! identity policy for the anonymous caller.

use keygate_policy::PolicyDocument;
use serde_json::Value;

use super::error::{S3Error, S3ErrorCode, S3Result};

fn names_everyone(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s == "*",
        Value::Object(o) => match o.get("AWS") {
            Some(Value::String(s)) => s == "*",
            Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some("*")),
            _ => false,
        },
        _ => false,
    }
}

fn malformed(message: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::MalformedPolicy, message.into())
}

/// Rebuilds the document keeping the statements `keep` selects, without their principals;
/// each kept statement lists its actions ([`check_actions`]).
fn strip(text: &str, keep: impl Fn(&Value) -> bool) -> S3Result<Option<String>> {
    let mut doc: Value =
        serde_json::from_str(text).map_err(|_| malformed("Policies must be valid JSON."))?;
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| malformed("A policy must be a JSON object."))?;
    let statements = match obj.get_mut("Statement") {
        Some(Value::Array(a)) => std::mem::take(a),
        Some(v @ Value::Object(_)) => vec![v.take()],
        _ => {
            return Err(malformed(
                "Statement: expected an object or a non-empty array.",
            ))
        }
    };
    let mut kept = Vec::new();
    for (i, mut st) in statements.into_iter().enumerate() {
        let st_obj = st
            .as_object_mut()
            .ok_or_else(|| malformed(format!("Statement[{i}]: expected an object.")))?;
        if st_obj.contains_key("NotPrincipal") {
            return Err(malformed(format!(
                "Statement[{i}].NotPrincipal: not supported."
            )));
        }
        let principal = st_obj.remove("Principal").ok_or_else(|| {
            malformed(format!(
                "Statement[{i}].Principal: required in a bucket policy."
            ))
        })?;
        if keep(&principal) {
            check_actions(i, &st)?;
            kept.push(st);
        }
    }
    if kept.is_empty() {
        return Ok(None);
    }
    obj.insert("Statement".to_owned(), Value::Array(kept));
    Ok(Some(doc.to_string()))
}

/// Checks a submitted bucket policy for `bucket` (PutBucketPolicy).
pub fn validate(text: &str, bucket: &str) -> S3Result<()> {
    let stripped = strip(text, |_| true)?
        .ok_or_else(|| malformed("Statement: expected an object or a non-empty array."))?;
    PolicyDocument::parse(&stripped).map_err(|e| malformed(e.to_string()))?;
    check_resources(&stripped, bucket)
}

/// A bucket policy names its actions one by one (WEKA: "Wildcards (such as `s3:*`) are not
/// allowed as an `Action`" in bucket policies; `s3:*` is for IAM policies only), so neither
/// `*`/`?` in an action nor `NotAction`, which would grant anonymous callers everything else.
/// `st` is statement `i`.
fn check_actions(i: usize, st: &Value) -> S3Result<()> {
    if st.get("NotAction").is_some() {
        return Err(malformed(format!(
            "Statement[{i}].NotAction: not allowed in a bucket policy; list the actions."
        )));
    }
    for action in strings(st.get("Action")) {
        if action.contains(['*', '?']) {
            return Err(malformed(format!(
                "Statement[{i}].Action {action:?}: wildcards are not allowed as an Action in a bucket policy."
            )));
        }
    }
    Ok(())
}

/// A document's statements, one or many.
fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    }
}

/// A policy element's strings, one or many.
fn strings(element: Option<&Value>) -> Vec<&str> {
    match element {
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Every resource a bucket policy names is in its bucket (`arn:aws:s3:::BUCKET` or
/// `…:::BUCKET/…`, the bucket part possibly a wildcard that matches it, or `*`), as S3 and
/// MinIO require: a statement about another bucket would be refused there, not stored to
/// grant nothing.
fn check_resources(doc: &str, bucket: &str) -> S3Result<()> {
    let doc: Value =
        serde_json::from_str(doc).map_err(|_| malformed("Policies must be valid JSON."))?;
    for (i, st) in statements(&doc).into_iter().enumerate() {
        for element in ["Resource", "NotResource"] {
            for name in strings(st.get(element)) {
                let in_bucket = name == "*"
                    || name.strip_prefix("arn:aws:s3:::").is_some_and(|rest| {
                        let named = rest.split('/').next().unwrap_or_default();
                        keygate_policy::wildcard_match(named, bucket)
                    });
                if !in_bucket {
                    return Err(malformed(format!(
                        "Policy has invalid resource: Statement[{i}].{element} {name:?} is not in bucket {bucket:?}."
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The part of a stored bucket policy that applies to anonymous requests.
/// A policy stored before PutBucketPolicy refused wildcard actions grants nothing until it is
/// put again (`strip` checks the actions), rather than everything it names.
pub fn anonymous_part(text: &str) -> S3Result<Option<PolicyDocument>> {
    match strip(text, names_everyone)? {
        None => Ok(None),
        Some(doc) => PolicyDocument::parse(&doc)
            .map(Some)
            .map_err(|e| malformed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC_READ: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"},
        {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:user/x"]},"Action":"s3:PutObject","Resource":"arn:aws:s3:::pub/*"}]}"#;

    #[test]
    fn only_statements_for_everyone_apply_to_anonymous_callers() {
        validate(PUBLIC_READ, "pub").unwrap();
        let doc = anonymous_part(PUBLIC_READ).unwrap().unwrap();
        assert_eq!(doc.statement_count(), 1);
        let private = PUBLIC_READ.replace(
            "\"Principal\":\"*\"",
            "\"Principal\":{\"AWS\":\"arn:aws:iam::1:user/y\"}",
        );
        assert!(anonymous_part(&private).unwrap().is_none());
    }

    #[test]
    fn resources_may_name_the_bucket_by_wildcard_or_be_everything() {
        for resource in [
            r#""arn:aws:s3:::pub""#,
            r#"["arn:aws:s3:::pub","arn:aws:s3:::pub/a/*"]"#,
            r#""arn:aws:s3:::p*/x""#,
            r#""arn:aws:s3:::p?b/*""#,
            r#""*""#,
        ] {
            let doc = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":{resource}}}]}}"#
            );
            validate(&doc, "pub").unwrap_or_else(|e| panic!("{resource}: {e:?}"));
        }
    }

    #[test]
    fn a_stored_policy_with_wildcard_actions_grants_anonymous_callers_nothing() {
        let old = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::pub/*"}]}"#;
        assert!(anonymous_part(old).is_err());
        assert!(anonymous_part(PUBLIC_READ).unwrap().is_some());
    }

    #[test]
    fn malformed_bucket_policies_are_refused() {
        for bad in [
            "not json",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:Fly","Resource":"*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":"*","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#,
            r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#,
            // Resources outside the bucket.
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":["arn:aws:s3:::pub/*","arn:aws:s3:::pubx/*"]}}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotResource":"arn:aws:s3:::p?b2/*"}]}"#,
            // Wildcard actions and NotAction (WEKA: bucket policies list their actions).
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::pub/*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:Get*"],"Resource":"arn:aws:s3:::pub/*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObjec?","Resource":"arn:aws:s3:::pub/*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","NotAction":"s3:DeleteBucket","Resource":"arn:aws:s3:::pub"}]}"#,
        ] {
            assert_eq!(
                validate(bad, "pub").unwrap_err().code,
                S3ErrorCode::MalformedPolicy,
                "{bad}"
            );
        }
    }
}
