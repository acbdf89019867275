//! The pre-defined policies `readonly`, `writeonly` and `readwrite`: exactly WEKA's documents
//! (SPEC P1, "Pre-defined documents (WEKA)"), not MinIO's (whose `readonly` lacks the List
//! actions).
//!
//! Parsed once on first use; the texts are constants, so parsing cannot fail (a unit test
//! pins it).

use crate::PolicyDocument;
use std::sync::OnceLock;

/// The pre-defined policy names, in `policy list` order.
pub const NAMES: [&str; 3] = ["readonly", "writeonly", "readwrite"];

/// WEKA's `readonly` document.
pub const READONLY_JSON: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "s3:ListAllMyBuckets",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
        "s3:ListMultipartUploadParts",
        "s3:GetBucketLocation",
        "s3:GetBucketPolicy",
        "s3:GetBucketTagging",
        "s3:GetObject"
      ],
      "Resource": [
        "arn:aws:s3:::*"
      ]
    }
  ]
}
"#;

/// WEKA's `writeonly` document.
pub const WRITEONLY_JSON: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "s3:PutObject"
      ],
      "Resource": [
        "arn:aws:s3:::*"
      ]
    }
  ]
}
"#;

/// WEKA's `readwrite` document.
pub const READWRITE_JSON: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "s3:*"
      ],
      "Resource": [
        "arn:aws:s3:::*"
      ]
    }
  ]
}
"#;

fn parsed(cell: &'static OnceLock<PolicyDocument>, json: &str) -> &'static PolicyDocument {
    cell.get_or_init(|| match PolicyDocument::parse(json) {
        Ok(doc) => doc,
        Err(e) => unreachable!("pre-defined policy does not parse: {e}"),
    })
}

/// `readonly`.
pub fn readonly() -> &'static PolicyDocument {
    static DOC: OnceLock<PolicyDocument> = OnceLock::new();
    parsed(&DOC, READONLY_JSON)
}

/// `writeonly`.
pub fn writeonly() -> &'static PolicyDocument {
    static DOC: OnceLock<PolicyDocument> = OnceLock::new();
    parsed(&DOC, WRITEONLY_JSON)
}

/// `readwrite`.
pub fn readwrite() -> &'static PolicyDocument {
    static DOC: OnceLock<PolicyDocument> = OnceLock::new();
    parsed(&DOC, READWRITE_JSON)
}

/// The pre-defined policy named `name` (exact), if any.
pub fn by_name(name: &str) -> Option<&'static PolicyDocument> {
    match name {
        "readonly" => Some(readonly()),
        "writeonly" => Some(writeonly()),
        "readwrite" => Some(readwrite()),
        _ => None,
    }
}

/// Whether `name` is a pre-defined policy (which cannot be removed or overwritten, P1).
pub fn is_predefined(name: &str) -> bool {
    NAMES.contains(&name)
}
