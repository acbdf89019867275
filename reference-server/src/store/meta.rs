//! Bucket and object metadata as stored beside the data (JSON, versioned by field defaults).

use serde::{Deserialize, Serialize};

use super::Owner;

/// What the server keeps about a bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketMeta {
    /// Creation time, Unix seconds.
    pub created: i64,
    pub owner: Owner,
    #[serde(default)]
    pub tags: Option<Vec<(String, String)>>,
    /// Bucket policy document as submitted (it governs anonymous requests only).
    #[serde(default)]
    pub policy: Option<String>,
}

/// What the server keeps about an object besides its bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The quoted-less ETag (`hex(md5)` or `hex(md5 of md5s)-N`).
    pub etag: String,
    pub size: u64,
    /// Last modification, Unix milliseconds.
    pub modified_ms: i64,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub content_encoding: Option<String>,
    #[serde(default)]
    pub content_disposition: Option<String>,
    #[serde(default)]
    pub content_language: Option<String>,
    #[serde(default)]
    pub cache_control: Option<String>,
    #[serde(default)]
    pub expires: Option<String>,
    /// `x-amz-meta-*` pairs, names lower-cased without the prefix.
    #[serde(default)]
    pub user: Vec<(String, String)>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Additional checksum: (algorithm header name, base64 value), e.g. `x-amz-checksum-crc32`.
    #[serde(default)]
    pub checksum: Option<(String, String)>,
    /// `FULL_OBJECT` or `COMPOSITE` (`x-amz-checksum-type`), when there is a checksum;
    /// absent in metadata written before the field existed (then a whole object's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    pub owner: Owner,
    /// Sizes of the parts a multipart upload assembled the object from, in part order; empty
    /// for an object not uploaded in parts. GetObject and HeadObject `?partNumber=N` serve them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<u64>,
    /// The parts' checksums (base64, in the object checksum's algorithm, in part order) of an
    /// object with a `COMPOSITE` checksum: what a `?partNumber=N` read with checksum mode
    /// answers. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub part_checksums: Vec<String>,
    /// The inode of the data file this metadata describes, set by `commit`. Metadata whose
    /// inode is not the data file's (a file replaced by other means than S3) is not used.
    /// Absent in metadata written before the field existed: then it is trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inode: Option<u64>,
    /// `(bucket, key)` the metadata was staged for: crash recovery reads it from a staged
    /// record (`.keygate/pending/`) to find the object it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<(String, String)>,
    /// The multipart upload this object was completed from, so that the same completion
    /// repeated (a client retrying after a lost answer) answers as the first did. Cleared by
    /// anything that writes the object anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
}
