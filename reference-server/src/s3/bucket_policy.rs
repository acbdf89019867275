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

/// Rebuilds the document keeping the statements `keep` selects, without their principals.
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
            kept.push(st);
        }
    }
    if kept.is_empty() {
        return Ok(None);
    }
    obj.insert("Statement".to_owned(), Value::Array(kept));
    Ok(Some(doc.to_string()))
}

/// Checks a submitted bucket policy (PutBucketPolicy).
pub fn validate(text: &str) -> S3Result<()> {
    let stripped = strip(text, |_| true)?
        .ok_or_else(|| malformed("Statement: expected an object or a non-empty array."))?;
    PolicyDocument::parse(&stripped).map_err(|e| malformed(e.to_string()))?;
    Ok(())
}

/// The part of a stored bucket policy that applies to anonymous requests.
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
        validate(PUBLIC_READ).unwrap();
        let doc = anonymous_part(PUBLIC_READ).unwrap().unwrap();
        assert_eq!(doc.statement_count(), 1);
        let private = PUBLIC_READ.replace(
            "\"Principal\":\"*\"",
            "\"Principal\":{\"AWS\":\"arn:aws:iam::1:user/y\"}",
        );
        assert!(anonymous_part(&private).unwrap().is_none());
    }

    #[test]
    fn malformed_bucket_policies_are_refused() {
        for bad in [
            "not json",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:Fly","Resource":"*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":"*","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#,
            r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#,
        ] {
            assert_eq!(
                validate(bad).unwrap_err().code,
                S3ErrorCode::MalformedPolicy,
                "{bad}"
            );
        }
    }
}
