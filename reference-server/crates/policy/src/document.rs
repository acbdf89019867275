//! [`PolicyDocument`]: a policy parsed from JSON, validated (SPEC P3) and compiled once, with
//! its original text kept for `policy show`.
//!
//! Spec: P3 (JSON object; `Version` exactly `2012-10-17`; `Statement` an object or a non-empty
//! array; unknown top-level elements refused; `Id` optional). The size limit
//! ([`crate::MAX_POLICY_BYTES`], P2/S4/A3) is the caller's to check on the bytes as submitted.
//!
//! Invariant: a `PolicyDocument` exists only if the whole document validated, so
//! [`PolicyDocument::compile`] cannot fail.

use crate::error::PolicyError;
use crate::evaluate::CompiledPolicy;
use crate::statement;
use serde_json::Value;

/// The only accepted `Version`.
pub const POLICY_VERSION: &str = "2012-10-17";

/// A validated identity policy.
#[derive(Clone, Debug)]
pub struct PolicyDocument {
    source: String,
    compiled: CompiledPolicy,
}

impl PolicyDocument {
    /// Parses and validates `json` (P3). Does not check the size.
    pub fn parse(json: &str) -> Result<PolicyDocument, PolicyError> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| PolicyError::new("", format!("not valid JSON: {e}")))?;
        if let Some(path) = crate::duplicates::duplicate_key(json) {
            return Err(PolicyError::new(
                path.as_str(),
                "given twice in one object (only one may be)",
            ));
        }
        let Value::Object(doc) = value else {
            return Err(PolicyError::new("", "the policy must be a JSON object"));
        };
        for name in doc.keys() {
            if !matches!(name.as_str(), "Version" | "Statement" | "Id") {
                return Err(PolicyError::new(
                    name.as_str(),
                    "unknown element (element names are case-sensitive)",
                ));
            }
        }
        match doc.get("Version") {
            Some(Value::String(v)) if v == POLICY_VERSION => {}
            Some(_) => {
                return Err(PolicyError::new(
                    "Version",
                    format!("must be exactly \"{POLICY_VERSION}\""),
                ))
            }
            None => {
                return Err(PolicyError::new(
                    "Version",
                    format!("missing: must be \"{POLICY_VERSION}\""),
                ))
            }
        }
        if let Some(id) = doc.get("Id") {
            if !id.is_string() {
                return Err(PolicyError::new("Id", "must be a string"));
            }
        }
        let statements = match doc.get("Statement") {
            Some(one @ Value::Object(_)) => vec![statement::compile(one, "Statement")?],
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, s)| statement::compile(s, &format!("Statement[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
            Some(Value::Array(_)) => {
                return Err(PolicyError::new("Statement", "must not be empty"))
            }
            Some(_) => {
                return Err(PolicyError::new(
                    "Statement",
                    "must be a statement object or an array of them",
                ))
            }
            None => return Err(PolicyError::new("Statement", "missing")),
        };
        Ok(PolicyDocument {
            source: json.to_owned(),
            compiled: CompiledPolicy::new(statements),
        })
    }

    /// The compiled form for evaluation (cheap: shares the compiled statements).
    pub fn compile(&self) -> CompiledPolicy {
        self.compiled.clone()
    }

    /// The document exactly as submitted.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How many statements the document has.
    pub fn statement_count(&self) -> usize {
        self.compiled.statement_count()
    }
}
