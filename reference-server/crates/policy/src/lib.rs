//! Keygate's IAM identity-policy engine: parse -> validate -> compile -> evaluate.
//!
//! Pure: no I/O, synchronous, no knowledge of HTTP, no dependency on other Keygate crates.
//! Follows SPEC rules P1–P3, P7 (documents, validation, supported actions) and E1–E11
//! (evaluation). The server checks the size ([`MAX_POLICY_BYTES`]) on the bytes as
//! submitted, parses with [`PolicyDocument::parse`], keeps the [`CompiledPolicy`] and asks
//! [`CompiledPolicy::evaluate`] (one policy) or [`evaluate_all`] (an intersection) per
//! request, with a [`RequestContext`] whose condition values usually live in a
//! [`ConditionMap`].
//!
//! ```
//! use keygate_policy::*;
//! let doc = PolicyDocument::parse(r#"{"Version":"2012-10-17","Statement":
//!     {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}}"#).unwrap();
//! let policy = doc.compile();
//! let values = ConditionMap::new();
//! let ctx = RequestContext {
//!     action: Action::GetObject, resource: "home/alice/notes.txt", username: "alice",
//!     userid: "alice", principal_type: PrincipalType::User, values: &values,
//!     profile: Profile::Reference,
//! };
//! assert_eq!(policy.evaluate(&ctx), Decision::Allow { statement: 0 });
//! ```
//!
//! Modules: [`action`] (P7 list, bitsets), `wildcard` (E2/E4/E10 matcher), `statement` (P3
//! statement grammar and compiled form), `conditions` (E8/E9, one file per operator family),
//! `document` (P3 document grammar), `evaluate` (E1, intersection), [`predefined`] (P1).

pub mod action;
mod conditions;
mod context;
mod document;
mod duplicates;
mod error;
mod evaluate;
pub mod predefined;
mod statement;
mod values;
mod wildcard;

pub use action::{Action, ActionSet};
pub use conditions::OPERATOR_NAMES;
pub use context::{PrincipalType, Profile, RequestContext};
pub use document::{PolicyDocument, POLICY_VERSION};
pub use error::PolicyError;
pub use evaluate::{evaluate_all, evaluate_all_indexed, CompiledPolicy, Decision};
pub use values::{
    ConditionKey, ConditionMap, ConditionValues, Values, EXISTING_OBJECT_TAG, REQUEST_OBJECT_TAG,
};
pub use wildcard::wildcard_match;

/// The largest policy document accepted, in bytes as submitted (P2, S4, A3).
pub const MAX_POLICY_BYTES: usize = 2048;
