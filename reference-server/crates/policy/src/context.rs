//! The request as the evaluator sees it: action, resource, principal, condition values and
//! the profile whose matching rules apply.
//!
//! Spec: E2 (the resource string per action), E3 (profiles), E9 (condition keys), E10
//! (variables come from the principal fields here).
//!
//! Security: for STS credentials and service accounts the caller must put the **parent**
//! user's name in `username` (E10).

use crate::values::ConditionValues;
use crate::wildcard::Vars;
use crate::Action;

/// Who signed the request (the `aws:principaltype` value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// An S3 user signing with its own keys.
    User,
    /// STS credentials.
    AssumedRole,
    /// A service account.
    ServiceAccount,
}

impl PrincipalType {
    /// The `aws:principaltype` value: `User`, `AssumedRole` or `ServiceAccount`.
    pub fn as_str(&self) -> &'static str {
        match self {
            PrincipalType::User => "User",
            PrincipalType::AssumedRole => "AssumedRole",
            PrincipalType::ServiceAccount => "ServiceAccount",
        }
    }
}

/// Whose matching rules apply where MinIO and AWS differ (E3, E6, E7).
///
/// Only E3 concerns this crate: under [`Profile::Reference`] and [`Profile::Minio`] a
/// bucket-level request on `b` is also matched as `b/`, so `arn:aws:s3:::b/*` grants it;
/// under [`Profile::Aws`] it is not. E6 and E7 are the server's business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// Keygate's reference behaviour: matches as MinIO.
    #[default]
    Reference,
    /// MinIO (and so WEKA).
    Minio,
    /// AWS S3.
    Aws,
}

/// One authorisation question: may this principal do `action` on `resource`?
#[derive(Clone, Copy)]
pub struct RequestContext<'a> {
    /// The action the request needs (E5).
    pub action: Action,
    /// `"bucket"` for bucket-level actions, `"bucket/key"` for object actions, `"*"` for
    /// ListAllMyBuckets (E2). No `arn:aws:s3:::` prefix.
    pub resource: &'a str,
    /// `aws:username`: the user's name; the parent's for STS and service accounts.
    pub username: &'a str,
    /// `aws:userid`.
    pub userid: &'a str,
    /// `aws:principaltype`.
    pub principal_type: PrincipalType,
    /// Every other condition key's values.
    pub values: &'a dyn ConditionValues,
    /// Matching rules (E3).
    pub profile: Profile,
}

impl std::fmt::Debug for RequestContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("action", &self.action)
            .field("resource", &self.resource)
            .field("username", &self.username)
            .field("userid", &self.userid)
            .field("principal_type", &self.principal_type)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl<'a> RequestContext<'a> {
    /// The policy variables of this request.
    pub(crate) fn vars(&self) -> Vars<'a> {
        Vars {
            username: self.username,
            userid: self.userid,
            principal_type: self.principal_type.as_str(),
        }
    }
}
