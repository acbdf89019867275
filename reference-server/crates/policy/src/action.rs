//! The supported S3 actions (SPEC P7) and sets of them as bitsets.
//!
//! Spec: P7 (the supported list, WEKA's plus the three object-tagging actions), P3 (a policy
//! action must be on the list; a wildcard must match at least one listed action), E4 (action
//! patterns match case-sensitively with `*` and `?`).
//!
//! Invariants: [`Action::ALL`] lists every variant once, in declaration order, so a variant's
//! discriminant is its bit in an [`ActionSet`]. `NotAction` compiles to the complement set, so
//! evaluation is one bit test.

use crate::wildcard::wildcard_match;

/// An S3 action a request can need (SPEC P7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    AbortMultipartUpload,
    CreateBucket,
    DeleteBucket,
    DeleteBucketPolicy,
    DeleteObject,
    GetBucketLocation,
    GetLifecycleConfiguration,
    PutLifecycleConfiguration,
    ListBucketMultipartUploads,
    ListMultipartUploadParts,
    GetBucketPolicy,
    GetObject,
    ListAllMyBuckets,
    ListBucket,
    PutBucketPolicy,
    PutObject,
    GetBucketTagging,
    PutBucketTagging,
    GetObjectTagging,
    PutObjectTagging,
    DeleteObjectTagging,
}

impl Action {
    /// Every supported action, in declaration order.
    pub const ALL: [Action; 21] = [
        Action::AbortMultipartUpload,
        Action::CreateBucket,
        Action::DeleteBucket,
        Action::DeleteBucketPolicy,
        Action::DeleteObject,
        Action::GetBucketLocation,
        Action::GetLifecycleConfiguration,
        Action::PutLifecycleConfiguration,
        Action::ListBucketMultipartUploads,
        Action::ListMultipartUploadParts,
        Action::GetBucketPolicy,
        Action::GetObject,
        Action::ListAllMyBuckets,
        Action::ListBucket,
        Action::PutBucketPolicy,
        Action::PutObject,
        Action::GetBucketTagging,
        Action::PutBucketTagging,
        Action::GetObjectTagging,
        Action::PutObjectTagging,
        Action::DeleteObjectTagging,
    ];

    /// The IAM name, e.g. `"s3:GetObject"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::AbortMultipartUpload => "s3:AbortMultipartUpload",
            Action::CreateBucket => "s3:CreateBucket",
            Action::DeleteBucket => "s3:DeleteBucket",
            Action::DeleteBucketPolicy => "s3:DeleteBucketPolicy",
            Action::DeleteObject => "s3:DeleteObject",
            Action::GetBucketLocation => "s3:GetBucketLocation",
            Action::GetLifecycleConfiguration => "s3:GetLifecycleConfiguration",
            Action::PutLifecycleConfiguration => "s3:PutLifecycleConfiguration",
            Action::ListBucketMultipartUploads => "s3:ListBucketMultipartUploads",
            Action::ListMultipartUploadParts => "s3:ListMultipartUploadParts",
            Action::GetBucketPolicy => "s3:GetBucketPolicy",
            Action::GetObject => "s3:GetObject",
            Action::ListAllMyBuckets => "s3:ListAllMyBuckets",
            Action::ListBucket => "s3:ListBucket",
            Action::PutBucketPolicy => "s3:PutBucketPolicy",
            Action::PutObject => "s3:PutObject",
            Action::GetBucketTagging => "s3:GetBucketTagging",
            Action::PutBucketTagging => "s3:PutBucketTagging",
            Action::GetObjectTagging => "s3:GetObjectTagging",
            Action::PutObjectTagging => "s3:PutObjectTagging",
            Action::DeleteObjectTagging => "s3:DeleteObjectTagging",
        }
    }

    /// The action with IAM name `name` (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Whether the request's resource is `bucket/key` (E2) rather than `bucket` (or `*` for
    /// ListAllMyBuckets).
    pub fn is_object_action(&self) -> bool {
        matches!(
            self,
            Action::AbortMultipartUpload
                | Action::DeleteObject
                | Action::GetObject
                | Action::PutObject
                | Action::ListMultipartUploadParts
                | Action::GetObjectTagging
                | Action::PutObjectTagging
                | Action::DeleteObjectTagging
        )
    }

    /// Whether the request's resource is the bucket name alone.
    pub fn is_bucket_action(&self) -> bool {
        !self.is_object_action() && *self != Action::ListAllMyBuckets
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of actions, one bit per [`Action`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ActionSet(u32);

impl ActionSet {
    /// No action.
    pub const EMPTY: ActionSet = ActionSet(0);
    /// Every supported action.
    pub const ALL: ActionSet = ActionSet((1 << Action::ALL.len()) - 1);

    /// The actions whose names `pattern` matches (E4); empty when it matches none.
    pub fn matching(pattern: &str) -> ActionSet {
        Action::ALL
            .into_iter()
            .filter(|a| wildcard_match(pattern, a.as_str()))
            .fold(ActionSet::EMPTY, |set, a| set.with(a))
    }

    /// This set plus `action`.
    pub fn with(self, action: Action) -> ActionSet {
        ActionSet(self.0 | action.bit())
    }

    /// Union.
    pub fn union(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 | other.0)
    }

    /// Every supported action not in this set.
    pub fn complement(self) -> ActionSet {
        ActionSet(!self.0 & ActionSet::ALL.0)
    }

    /// Membership.
    pub fn contains(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p7_all_lists_each_variant_once_in_bit_order() {
        for (i, a) in Action::ALL.iter().enumerate() {
            assert_eq!(*a as usize, i);
            assert_eq!(Action::from_name(a.as_str()), Some(*a));
        }
        assert_eq!(ActionSet::ALL.iter().count(), 21);
    }

    #[test]
    fn e4_patterns_expand_case_sensitively() {
        assert_eq!(ActionSet::matching("s3:*"), ActionSet::ALL);
        assert_eq!(ActionSet::matching("*"), ActionSet::ALL);
        let gets = ActionSet::matching("s3:Get*");
        assert!(gets.contains(Action::GetObject));
        assert!(gets.contains(Action::GetBucketLocation));
        assert!(!gets.contains(Action::PutObject));
        assert!(ActionSet::matching("s3:get*").is_empty());
        assert!(ActionSet::matching("s3:GetObjectVersion").is_empty());
        assert_eq!(
            ActionSet::matching("s3:GetObject"),
            ActionSet::EMPTY.with(Action::GetObject)
        );
    }

    #[test]
    fn e2_resource_kind_per_action() {
        assert!(Action::GetObject.is_object_action());
        assert!(Action::ListMultipartUploadParts.is_object_action());
        assert!(!Action::ListBucket.is_object_action());
        assert!(Action::ListBucket.is_bucket_action());
        assert!(!Action::ListAllMyBuckets.is_bucket_action());
        assert!(ActionSet::EMPTY.complement() == ActionSet::ALL);
    }
}
