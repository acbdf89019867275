//! Invariants of evaluation as proptest properties (STYLE habit 5): explicit deny wins
//! wherever it stands, no policy denies, statement order does not matter, an intersection
//! never adds a right, a wildcard Allow covers every narrower Allow, and a policy decides as
//! its statements do one by one.

use keygate_policy::*;
use proptest::prelude::*;
use serde_json::{json, Value};

const ACTION_PATTERNS: &[&str] = &[
    "*",
    "s3:*",
    "s3:Get*",
    "s3:List*",
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:DeleteObject",
    "s3:*Tagging",
    "s3:?etObject",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/a*",
    "arn:aws:s3:::c/?",
    "arn:aws:s3:::home/${aws:username}/*",
    "arn:aws:s3:::c*",
];
const BUCKETS: &[&str] = &["b", "c", "home", "bb"];
const KEYS: &[&str] = &["a", "ab/c", "x", "alice/x", "bob/x", "a?"];

fn conditions() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(json!({"StringEquals": {"s3:prefix": "a"}}))),
        1 => Just(Some(json!({"StringLike": {"aws:UserAgent": "x*"}}))),
        1 => Just(Some(json!({"Bool": {"aws:SecureTransport": "true"}}))),
        1 => Just(Some(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))),
        1 => Just(Some(json!({"StringNotEquals": {"s3:prefix": "b"}}))),
        1 => Just(Some(json!({"Null": {"s3:prefix": "true"}}))),
        1 => Just(Some(json!({"ForAnyValue:StringLikeIfExists": {"s3:prefix": "${aws:username}*"}}))),
    ]
}

fn statement() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(prop::sample::select(ACTION_PATTERNS), 1..3),
        any::<bool>(),
        prop::collection::vec(prop::sample::select(RESOURCES), 1..3),
        conditions(),
    )
        .prop_map(
            |(deny, not_action, actions, not_resource, resources, condition)| {
                let mut s = json!({"Effect": if deny { "Deny" } else { "Allow" }});
                s[if not_action { "NotAction" } else { "Action" }] = json!(actions);
                s[if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                }] = json!(resources);
                if let Some(c) = condition {
                    s["Condition"] = c;
                }
                s
            },
        )
}

fn statements() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(statement(), 1..6)
}

fn compile(statements: &[Value]) -> CompiledPolicy {
    let json = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    PolicyDocument::parse(&json)
        .expect("generated policies are valid")
        .compile()
}

/// A request: action, resource fitting its kind, principal, condition values, profile.
#[derive(Debug, Clone)]
struct Req {
    action: Action,
    resource: String,
    user: &'static str,
    values: ConditionMap,
    profile: Profile,
}

impl Req {
    fn ctx(&self) -> RequestContext<'_> {
        RequestContext {
            action: self.action,
            resource: &self.resource,
            username: self.user,
            userid: self.user,
            principal_type: PrincipalType::User,
            values: &self.values,
            profile: self.profile,
        }
    }
}

fn request() -> impl Strategy<Value = Req> {
    (
        prop::sample::select(&Action::ALL[..]),
        prop::sample::select(BUCKETS),
        prop::sample::select(KEYS),
        prop::sample::select(&["alice", "bob"][..]),
        prop::option::of(prop::sample::select(&["a", "b", "", "alice/"][..])),
        prop::option::of(prop::sample::select(&["xbot", "curl"][..])),
        prop::option::of(any::<bool>()),
        prop::option::of(prop::sample::select(&["10.1.2.3", "192.0.2.1"][..])),
        prop::sample::select(&[Profile::Reference, Profile::Minio, Profile::Aws][..]),
    )
        .prop_map(
            |(action, bucket, key, user, prefix, agent, secure, ip, profile)| {
                let resource = if action == Action::ListAllMyBuckets {
                    "*".to_string()
                } else if action.is_object_action() {
                    format!("{bucket}/{key}")
                } else {
                    bucket.to_string()
                };
                let mut values = ConditionMap::new();
                if let Some(p) = prefix {
                    values.set(ConditionKey::Prefix, p);
                }
                if let Some(a) = agent {
                    values.set(ConditionKey::UserAgent, a);
                }
                if let Some(s) = secure {
                    values.set(ConditionKey::SecureTransport, s.to_string());
                }
                if let Some(i) = ip {
                    values.set(ConditionKey::SourceIp, i);
                }
                Req {
                    action,
                    resource,
                    user,
                    values,
                    profile,
                }
            },
        )
}

fn kind(d: Decision) -> u8 {
    match d {
        Decision::Allow { .. } => 0,
        Decision::ExplicitDeny { .. } => 1,
        Decision::ImplicitDeny => 2,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn e1_explicit_deny_wins_wherever_it_stands(
        stmts in statements(), deny in statement(), at in 0usize..6, req in request(),
    ) {
        let mut deny = deny;
        deny["Effect"] = json!("Deny");
        let alone = compile(std::slice::from_ref(&deny)).evaluate(&req.ctx());
        let mut all = stmts;
        let at = at.min(all.len());
        all.insert(at, deny);
        let decision = compile(&all).evaluate(&req.ctx());
        if matches!(alone, Decision::ExplicitDeny { .. }) {
            prop_assert!(matches!(decision, Decision::ExplicitDeny { .. }), "{decision:?}");
        }
        if let Decision::ExplicitDeny { statement } = decision {
            prop_assert_eq!(&all[statement]["Effect"], "Deny");
        }
        if let Decision::Allow { statement } = decision {
            prop_assert_eq!(&all[statement]["Effect"], "Allow");
        }
    }

    #[test]
    fn e1_a_policy_decides_as_its_statements_one_by_one(stmts in statements(), req in request()) {
        let alone: Vec<Decision> = stmts
            .iter()
            .map(|s| compile(std::slice::from_ref(s)).evaluate(&req.ctx()))
            .collect();
        let decision = compile(&stmts).evaluate(&req.ctx());
        let any_deny = alone.iter().any(|d| matches!(d, Decision::ExplicitDeny { .. }));
        let any_allow = alone.iter().any(Decision::is_allowed);
        let expected = if any_deny { 1 } else if any_allow { 0 } else { 2 };
        prop_assert_eq!(kind(decision), expected);
        // No policy denies: with no matching statement the answer is an implicit deny.
        if alone.iter().all(|d| *d == Decision::ImplicitDeny) {
            prop_assert_eq!(decision, Decision::ImplicitDeny);
        }
    }

    #[test]
    fn s4_no_policy_denies(req in request()) {
        prop_assert_eq!(evaluate_all(&[], &req.ctx()), Decision::ImplicitDeny);
    }

    #[test]
    fn e1_statement_order_is_irrelevant(
        stmts in statements(), seed in any::<u64>(), req in request(),
    ) {
        let mut shuffled = stmts.clone();
        // A deterministic Fisher-Yates from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let a = compile(&stmts).evaluate(&req.ctx());
        let b = compile(&shuffled).evaluate(&req.ctx());
        prop_assert_eq!(kind(a), kind(b));
    }

    #[test]
    fn s4_intersection_never_adds_a_right(p in statements(), s in statements(), req in request()) {
        let (p, s) = (compile(&p), compile(&s));
        let both = evaluate_all(&[&p, &s], &req.ctx());
        let (dp, ds) = (p.evaluate(&req.ctx()), s.evaluate(&req.ctx()));
        if both.is_allowed() {
            prop_assert!(dp.is_allowed() && ds.is_allowed());
        }
        if dp.is_allowed() && ds.is_allowed() {
            prop_assert!(both.is_allowed());
        }
        let denied = |d: Decision| matches!(d, Decision::ExplicitDeny { .. });
        prop_assert_eq!(denied(both), denied(dp) || denied(ds));
        prop_assert_eq!(kind(evaluate_all(&[&p], &req.ctx())), kind(dp));
    }

    #[test]
    fn e4_wildcard_allow_implies_every_narrower_allow(
        req in request(), cut in 0usize..40, pick in any::<prop::sample::Index>(),
        condition in conditions(),
    ) {
        // The narrowest grant: exactly this action on exactly this resource.
        let exact = if req.resource == "*" { "*".to_string() } else { format!("arn:aws:s3:::{}", req.resource) };
        let mut narrow = json!({"Effect": "Allow", "Action": req.action.as_str(), "Resource": exact});
        if let Some(c) = &condition {
            narrow["Condition"] = c.clone();
        }
        // A wider one: a wildcard action covering it, a resource prefix followed by `*`.
        let covering: Vec<&str> = ACTION_PATTERNS
            .iter()
            .copied()
            .filter(|p| ActionSet::matching(p).contains(req.action))
            .collect();
        let wide_action = *pick.get(&covering);
        let cut = cut.min(exact.len());
        let mut wide = narrow.clone();
        wide["Action"] = json!(wide_action);
        wide["Resource"] = if cut < "arn:aws:s3:::".len() { json!("*") } else { json!(format!("{}*", &exact[..cut])) };
        let n = compile(&[narrow]).evaluate(&req.ctx());
        let w = compile(&[wide]).evaluate(&req.ctx());
        if n.is_allowed() {
            prop_assert!(w.is_allowed(), "narrow allowed, wide {w:?}");
        }
    }
}
