//! One statement: validated from JSON (P3) and compiled to what evaluation needs — an action
//! bitset, resource matchers and typed conditions.
//!
//! Spec: P3 (the statement grammar: `Sid`, `Effect`, exactly one of `Action`/`NotAction`,
//! exactly one of `Resource`/`NotResource`, `Condition`; no `Principal`; names
//! case-sensitive; unknown fields refused), E2/E3 (resource matching), E4 (actions), E8
//! (conditions), E10 (variables in resources).
//!
//! Invariants: a compiled statement's action set is never empty for `Action` (each pattern
//! matched a supported action); `NotAction` is stored as the complement set.

use crate::action::ActionSet;
use crate::conditions::{ConditionBlock, Entry, Operator};
use crate::error::PolicyError;
use crate::wildcard::{Pattern, Syntax, Vars};
use crate::{Profile, RequestContext};
use serde_json::{Map, Value};

/// The resource prefix of S3 ARNs.
pub(crate) const ARN_PREFIX: &str = "arn:aws:s3:::";

/// `Allow` or `Deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// The request's resource as matched: `text`, and for bucket-level requests under the MinIO
/// rules also `text` + `/` (E3).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ResourceText<'a> {
    pub(crate) text: &'a str,
    pub(crate) slashed: Option<&'a str>,
}

/// A compiled statement.
#[derive(Clone, Debug)]
pub(crate) struct Statement {
    pub(crate) effect: Effect,
    pub(crate) actions: ActionSet,
    resources: Box<[Pattern]>,
    not_resource: bool,
    conditions: ConditionBlock,
    /// The byte every resource the statement matches starts with, when all its patterns
    /// begin with literals that agree on it (`Resource`, not `NotResource`).
    first: Option<u8>,
}

impl Statement {
    /// Whether the statement can apply to a request whose resource (or, for an empty one,
    /// its `resource/` form) starts with `first`: `false` is certain, so evaluation skips the
    /// statement without matching it; a policy's statements mostly name other buckets.
    #[inline]
    pub(crate) fn may_apply(&self, first: Option<u8>) -> bool {
        self.first.is_none() || self.first == first
    }

    /// Whether the statement applies to the request (its action already checked by the
    /// caller through [`Statement::actions`]).
    pub(crate) fn applies(
        &self,
        ctx: &RequestContext<'_>,
        resource: &ResourceText<'_>,
        vars: &Vars<'_>,
    ) -> bool {
        let hit = self.resources.iter().any(|p| {
            p.matches(resource.text, vars) || resource.slashed.is_some_and(|s| p.matches(s, vars))
        });
        hit != self.not_resource && self.conditions.holds(ctx, vars)
    }
}

/// Whether `ctx`'s resource is also matched as `resource/` (E3: bucket-level requests under
/// the MinIO rules).
pub(crate) fn matches_slashed(ctx: &RequestContext<'_>) -> bool {
    ctx.profile != Profile::Aws && ctx.action.is_bucket_action()
}

/// The [`ResourceText`] of a request that [`matches_slashed`]: `text` and `text/`, built in
/// `buf` when it fits.
pub(crate) fn slashed_text<'a>(
    text: &'a str,
    buf: &'a mut [u8],
    spill: &'a mut String,
) -> ResourceText<'a> {
    let n = text.len();
    let slashed = if n < buf.len() {
        buf[..n].copy_from_slice(text.as_bytes());
        buf[n] = b'/';
        std::str::from_utf8(&buf[..=n]).ok()
    } else {
        spill.push_str(text);
        spill.push('/');
        Some(spill.as_str())
    };
    ResourceText { text, slashed }
}

fn err(element: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::new(element, message)
}

/// `value` as a string, or as a non-empty array of strings.
fn strings<'v>(value: &'v Value, path: &str) -> Result<Vec<&'v str>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) if items.is_empty() => Err(err(path, "must not be empty")),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .ok_or_else(|| err(&format!("{path}[{i}]"), "must be a string"))
            })
            .collect(),
        _ => Err(err(path, "must be a string or an array of strings")),
    }
}

/// Exactly one of `name` / `not_name`: the value and whether it is the `Not` form.
fn one_of<'v>(
    obj: &'v Map<String, Value>,
    path: &str,
    name: &str,
    not_name: &str,
) -> Result<(&'v Value, bool), PolicyError> {
    match (obj.get(name), obj.get(not_name)) {
        (Some(v), None) => Ok((v, false)),
        (None, Some(v)) => Ok((v, true)),
        (Some(_), Some(_)) => Err(err(
            &format!("{path}.{not_name}"),
            format!("a statement takes exactly one of {name} and {not_name}"),
        )),
        (None, None) => Err(err(
            &format!("{path}.{name}"),
            format!("missing: a statement needs {name} or {not_name}"),
        )),
    }
}

fn compile_actions(value: &Value, path: &str) -> Result<ActionSet, PolicyError> {
    let mut set = ActionSet::EMPTY;
    for pattern in strings(value, path)? {
        let matched = ActionSet::matching(pattern);
        if matched.is_empty() {
            let message = if pattern.contains(['*', '?']) {
                format!("action pattern {pattern:?} matches no supported action")
            } else {
                format!("unsupported action {pattern:?}")
            };
            return Err(err(path, message));
        }
        set = set.union(matched);
    }
    Ok(set)
}

fn compile_resources(value: &Value, path: &str) -> Result<Box<[Pattern]>, PolicyError> {
    strings(value, path)?
        .into_iter()
        .map(|r| {
            let pattern = if r == "*" {
                "*"
            } else {
                match r.strip_prefix(ARN_PREFIX) {
                    Some(rest) if !rest.is_empty() => rest,
                    _ => {
                        return Err(err(
                            path,
                            format!(
                                "unsupported resource {r:?}: must be \"{ARN_PREFIX}...\" or \"*\""
                            ),
                        ))
                    }
                }
            };
            Pattern::compile(pattern, Syntax::Wildcards)
                .map_err(|_| err(path, format!("resource {r:?} has an unclosed \"${{\"")))
        })
        .collect()
}

/// A condition value: a string, number or boolean, or a non-empty array of them.
fn condition_values(value: &Value, path: &str) -> Result<Vec<String>, PolicyError> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match value {
        Value::Array(items) if items.is_empty() => Err(err(path, "must not be empty")),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                scalar(v).ok_or_else(|| {
                    err(
                        &format!("{path}[{i}]"),
                        "must be a string, number or boolean",
                    )
                })
            })
            .collect(),
        v => scalar(v).map(|s| vec![s]).ok_or_else(|| {
            err(
                path,
                "must be a string, number or boolean, or an array of them",
            )
        }),
    }
}

fn compile_conditions(value: &Value, path: &str) -> Result<ConditionBlock, PolicyError> {
    let Value::Object(block) = value else {
        return Err(err(path, "must be an object of condition operators"));
    };
    let mut entries = Vec::new();
    for (op_name, keys) in block {
        let op_path = format!("{path}.{op_name}");
        let op = Operator::parse(op_name).ok_or_else(|| {
            err(
                &op_path,
                format!("unsupported condition operator {op_name:?}"),
            )
        })?;
        let Value::Object(keys) = keys else {
            return Err(err(&op_path, "must be an object of condition keys"));
        };
        for (key, values) in keys {
            let key_path = format!("{op_path}.{key}");
            let values = condition_values(values, &key_path)?;
            entries.push(Entry::compile(op, key, &values).map_err(|m| err(&key_path, m))?);
        }
    }
    Ok(ConditionBlock::new(entries))
}

/// Validates and compiles the statement at `path` (`Statement[i]`, or `Statement`).
pub(crate) fn compile(value: &Value, path: &str) -> Result<Statement, PolicyError> {
    let Value::Object(obj) = value else {
        return Err(err(path, "a statement must be a JSON object"));
    };
    for name in obj.keys() {
        match name.as_str() {
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource"
            | "Condition" => {}
            "Principal" | "NotPrincipal" => {
                return Err(err(
                    &format!("{path}.{name}"),
                    "not allowed in an identity policy",
                ))
            }
            _ => {
                return Err(err(
                    &format!("{path}.{name}"),
                    "unknown element (element names are case-sensitive)",
                ))
            }
        }
    }
    if let Some(sid) = obj.get("Sid") {
        if !sid.is_string() {
            return Err(err(&format!("{path}.Sid"), "must be a string"));
        }
    }
    let effect = match obj.get("Effect") {
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        Some(_) => {
            return Err(err(
                &format!("{path}.Effect"),
                "must be exactly \"Allow\" or \"Deny\"",
            ))
        }
        None => return Err(err(&format!("{path}.Effect"), "missing")),
    };
    let (actions, not_action) = one_of(obj, path, "Action", "NotAction")?;
    let action_path = format!("{path}.{}", if not_action { "NotAction" } else { "Action" });
    let actions = compile_actions(actions, &action_path)?;
    let (resources, not_resource) = one_of(obj, path, "Resource", "NotResource")?;
    let resource_path = format!(
        "{path}.{}",
        if not_resource {
            "NotResource"
        } else {
            "Resource"
        }
    );
    let resources = compile_resources(resources, &resource_path)?;
    let conditions = match obj.get("Condition") {
        Some(c) => compile_conditions(c, &format!("{path}.Condition"))?,
        None => ConditionBlock::default(),
    };
    let first = if not_resource {
        None
    } else {
        let mut firsts = resources.iter().map(Pattern::first_byte);
        let first = firsts.next().flatten();
        first.filter(|b| firsts.all(|f| f == Some(*b)))
    };
    Ok(Statement {
        first,
        effect,
        actions: if not_action {
            actions.complement()
        } else {
            actions
        },
        resources,
        not_resource,
        conditions,
    })
}
