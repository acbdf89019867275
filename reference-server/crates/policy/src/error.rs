//! [`PolicyError`]: why a policy document was refused, naming the element at fault.
//!
//! Spec: P3 (400 `MalformedPolicy`, "message naming the element"). The element is a path
//! such as `Statement[1].Action` or `Statement[0].Condition.StringLike.s3:prefix`; a
//! document given a single statement object (not an array) uses `Statement.Action`. The
//! message holds only the policy's own text, never anything of the server: it is safe to
//! send back to the client.

use std::fmt;

/// A refused policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    element: String,
    message: String,
}

impl PolicyError {
    pub(crate) fn new(element: impl Into<String>, message: impl Into<String>) -> PolicyError {
        PolicyError {
            element: element.into(),
            message: message.into(),
        }
    }

    /// The path of the element at fault (`""` for the document as a whole).
    pub fn element(&self) -> &str {
        &self.element
    }

    /// What is wrong with it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.element.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.element, self.message)
        }
    }
}

impl std::error::Error for PolicyError {}
