//! Evaluation: [`CompiledPolicy::evaluate`] for one policy and [`evaluate_all`] for the
//! intersection of several (parent ∩ session, parent ∩ service account).
//!
//! Spec: E1 (any matching Deny wins; else any matching Allow; else implicit deny), E11 (pure
//! and deterministic; the deciding statement is carried for the log), S4/A3 (intersection).
//!
//! Hot path: statements are indexed per action at compile time, deny statements apart from
//! allow statements, so a decision tests only the statements whose action set holds the
//! request's action, and skips those whose resources all start with another byte than the
//! request's (found at compile time); matching allocates nothing unless a bucket name is over
//! 255 bytes.

use crate::action::Action;
use crate::statement::{self, Effect, ResourceText, Statement};
use crate::RequestContext;
use std::sync::Arc;

/// The outcome of an evaluation, with the statement that decided it (index in its document's
/// `Statement` list; 0 for a single statement object).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// A matching `Allow` statement and no matching `Deny`.
    Allow { statement: usize },
    /// A matching `Deny` statement.
    ExplicitDeny { statement: usize },
    /// No statement matched.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// The deciding statement, if any.
    pub fn statement(&self) -> Option<usize> {
        match self {
            Decision::Allow { statement } | Decision::ExplicitDeny { statement } => {
                Some(*statement)
            }
            Decision::ImplicitDeny => None,
        }
    }
}

/// Statement indices that can apply to one action.
#[derive(Debug, Default)]
struct ActionIndex {
    deny: Box<[u32]>,
    allow: Box<[u32]>,
}

#[derive(Debug)]
struct Inner {
    statements: Box<[Statement]>,
    by_action: Box<[ActionIndex]>,
}

/// A policy ready for evaluation. Cloning shares it.
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    inner: Arc<Inner>,
}

impl CompiledPolicy {
    pub(crate) fn new(statements: Vec<Statement>) -> CompiledPolicy {
        let by_action = Action::ALL
            .iter()
            .map(|&action| {
                let pick = |effect| {
                    (0u32..)
                        .zip(&statements)
                        .filter(|(_, s)| s.effect == effect && s.actions.contains(action))
                        .map(|(i, _)| i)
                        .collect()
                };
                ActionIndex {
                    deny: pick(Effect::Deny),
                    allow: pick(Effect::Allow),
                }
            })
            .collect();
        CompiledPolicy {
            inner: Arc::new(Inner {
                statements: statements.into_boxed_slice(),
                by_action,
            }),
        }
    }

    pub(crate) fn statement_count(&self) -> usize {
        self.inner.statements.len()
    }

    /// Decides `ctx` under this policy alone (E1).
    pub fn evaluate(&self, ctx: &RequestContext<'_>) -> Decision {
        let inner = &*self.inner;
        let index = &inner.by_action[ctx.action as usize];
        if index.deny.is_empty() && index.allow.is_empty() {
            return Decision::ImplicitDeny;
        }
        if !statement::matches_slashed(ctx) {
            let resource = ResourceText {
                text: ctx.resource,
                slashed: None,
            };
            return inner.decide(index, ctx, &resource);
        }
        // Only bucket-level requests build `bucket/`: the buffer is not zeroed for the others.
        let mut buf = [0u8; 256];
        let mut spill = String::new();
        let resource = statement::slashed_text(ctx.resource, &mut buf, &mut spill);
        inner.decide(index, ctx, &resource)
    }
}

impl Inner {
    /// E1 over the statements `index` names, against `resource`.
    fn decide(
        &self,
        index: &ActionIndex,
        ctx: &RequestContext<'_>,
        resource: &ResourceText<'_>,
    ) -> Decision {
        let vars = ctx.vars();
        // What a matched resource starts with: `text`'s first byte, or `/` when only the
        // `text/` form can match (an empty `text`).
        let first = match (resource.text.as_bytes().first(), resource.slashed) {
            (Some(&b), _) => Some(b),
            (None, slashed) => slashed.and_then(|s| s.as_bytes().first().copied()),
        };
        let applies = |i: u32| {
            let statement = &self.statements[i as usize];
            statement.may_apply(first) && statement.applies(ctx, resource, &vars)
        };
        if let Some(&i) = index.deny.iter().find(|&&i| applies(i)) {
            return Decision::ExplicitDeny {
                statement: i as usize,
            };
        }
        match index.allow.iter().find(|&&i| applies(i)) {
            Some(&i) => Decision::Allow {
                statement: i as usize,
            },
            None => Decision::ImplicitDeny,
        }
    }
}

/// Decides `ctx` under the intersection of `policies`: an explicit Deny in any of them wins;
/// allowed only if every one allows; otherwise implicit deny. An empty slice denies
/// implicitly (no policy, no right).
///
/// The statement of an `Allow` is the first policy's; of an `ExplicitDeny`, the denying
/// policy's. [`evaluate_all_indexed`] also tells which policy decided.
pub fn evaluate_all(policies: &[&CompiledPolicy], ctx: &RequestContext<'_>) -> Decision {
    evaluate_all_indexed(policies, ctx).1
}

/// As [`evaluate_all`], with the index in `policies` of the policy whose statement decided
/// (`None` for an implicit deny).
pub fn evaluate_all_indexed(
    policies: &[&CompiledPolicy],
    ctx: &RequestContext<'_>,
) -> (Option<usize>, Decision) {
    let mut first_allow = None;
    let mut all_allow = !policies.is_empty();
    for (p, policy) in policies.iter().enumerate() {
        match policy.evaluate(ctx) {
            deny @ Decision::ExplicitDeny { .. } => return (Some(p), deny),
            allow @ Decision::Allow { .. } => {
                first_allow.get_or_insert((Some(p), allow));
            }
            Decision::ImplicitDeny => all_allow = false,
        }
    }
    match first_allow {
        Some(allow) if all_allow => allow,
        _ => (None, Decision::ImplicitDeny),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConditionMap, PolicyDocument, PrincipalType, Profile};
    use proptest::prelude::*;

    /// E1 without the per-action index or the first-byte skip: every statement in document
    /// order, its action tested, its resources matched.
    fn model(policy: &CompiledPolicy, ctx: &RequestContext<'_>) -> Decision {
        let (mut buf, mut spill) = ([0u8; 256], String::new());
        let resource = if statement::matches_slashed(ctx) {
            statement::slashed_text(ctx.resource, &mut buf, &mut spill)
        } else {
            ResourceText {
                text: ctx.resource,
                slashed: None,
            }
        };
        let vars = ctx.vars();
        let matching = |effect| {
            policy.inner.statements.iter().position(|s| {
                s.effect == effect
                    && s.actions.contains(ctx.action)
                    && s.applies(ctx, &resource, &vars)
            })
        };
        match (matching(Effect::Deny), matching(Effect::Allow)) {
            (Some(statement), _) => Decision::ExplicitDeny { statement },
            (None, Some(statement)) => Decision::Allow { statement },
            (None, None) => Decision::ImplicitDeny,
        }
    }

    const RESOURCES: &[&str] = &[
        "*",
        "arn:aws:s3:::*",
        "arn:aws:s3:::b",
        "arn:aws:s3:::b/*",
        "arn:aws:s3:::bb/k",
        "arn:aws:s3:::c*",
        "arn:aws:s3:::?",
        "arn:aws:s3:::/x",
        "arn:aws:s3:::/*",
        "arn:aws:s3:::${aws:username}/*",
    ];
    const ACTIONS: &[&str] = &[
        "s3:*",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:ListAllMyBuckets",
    ];

    fn statement_json() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            prop::sample::select(ACTIONS),
            any::<bool>(),
            prop::collection::vec(prop::sample::select(RESOURCES), 1..3),
        )
            .prop_map(|(deny, action, not_resource, resources)| {
                format!(
                    r#"{{"Effect":"{}","Action":"{action}","{}":{}}}"#,
                    if deny { "Deny" } else { "Allow" },
                    if not_resource {
                        "NotResource"
                    } else {
                        "Resource"
                    },
                    serde_json::to_string(&resources).unwrap(),
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// The index and the first-byte skip decide exactly as testing every statement does.
        #[test]
        fn e1_indexed_evaluation_agrees_with_every_statement_in_order(
            statements in prop::collection::vec(statement_json(), 1..8),
            resource in prop::sample::select(vec!["", "*", "b", "bb", "c", "b/k", "bb/k", "/x", "alice/k", "x"]),
            action in prop::sample::select(vec![Action::GetObject, Action::ListBucket, Action::ListAllMyBuckets]),
            aws in any::<bool>(),
        ) {
            let source = format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","));
            let policy = PolicyDocument::parse(&source).unwrap().compile();
            let values = ConditionMap::new();
            let ctx = RequestContext {
                action,
                resource,
                username: "alice",
                userid: "alice",
                principal_type: PrincipalType::User,
                values: &values,
                profile: if aws { Profile::Aws } else { Profile::Reference },
            };
            prop_assert_eq!(policy.evaluate(&ctx), model(&policy, &ctx), "{} on {:?}", source, resource);
        }
    }

    fn shareable<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn e11_compiled_policies_are_shareable_across_threads() {
        shareable::<CompiledPolicy>();
        shareable::<crate::PolicyDocument>();
        shareable::<crate::ConditionMap>();
        shareable::<Decision>();
    }
}
