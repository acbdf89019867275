//! Helpers shared by the integration tests: parse a policy, build a request context, decide.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use keygate_policy::*;

pub fn policy(json: &str) -> CompiledPolicy {
    match PolicyDocument::parse(json) {
        Ok(doc) => doc.compile(),
        Err(e) => panic!("policy does not parse: {e}\n{json}"),
    }
}

/// A policy document with `statements` (JSON text of the array's items).
pub fn doc(statements: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
}

/// A request by user `alice` under `profile`, with `values`.
pub struct Req<'a> {
    pub action: Action,
    pub resource: &'a str,
    pub username: &'a str,
    pub principal_type: PrincipalType,
    pub profile: Profile,
    pub values: ConditionMap,
}

pub fn req(action: Action, resource: &str) -> Req<'_> {
    Req {
        action,
        resource,
        username: "alice",
        principal_type: PrincipalType::User,
        profile: Profile::Reference,
        values: ConditionMap::new(),
    }
}

impl<'a> Req<'a> {
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    pub fn user(mut self, username: &'a str) -> Self {
        self.username = username;
        self
    }

    pub fn principal(mut self, principal_type: PrincipalType) -> Self {
        self.principal_type = principal_type;
        self
    }

    pub fn set(mut self, key: ConditionKey, value: &str) -> Self {
        self.values.set(key, value);
        self
    }

    pub fn insert(mut self, key: &str, values: &[&str]) -> Self {
        self.values
            .insert(key, values.iter().map(|v| v.to_string()).collect());
        self
    }

    pub fn ctx(&self) -> RequestContext<'_> {
        RequestContext {
            action: self.action,
            resource: self.resource,
            username: self.username,
            userid: self.username,
            principal_type: self.principal_type,
            values: &self.values,
            profile: self.profile,
        }
    }

    pub fn on(&self, policy: &CompiledPolicy) -> Decision {
        policy.evaluate(&self.ctx())
    }
}
