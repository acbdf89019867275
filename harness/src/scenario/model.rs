//! The scenario file model: what a `scenarios/<area>/*.toml` file may say, as serde types.
//!
//! Format version 1. Every struct refuses unknown keys (`deny_unknown_fields`), so a typo is an
//! error naming its key path rather than a silently ignored expectation. Steps are one flat
//! struct (not an internally tagged enum) so that serde reports exact key paths; which fields
//! each `op` needs is checked afterwards by [`super::validate`].
//!
//! Names in a file are *logical*: `bucket = "data"`, `as = "alice"`. The runner maps each one to
//! a name unique to the scenario and the run (`super::names`), so scenarios can run in parallel.
//! Strings may reference the mapped names with `{{bucket.data}}`, `{{user.alice}}`,
//! `{{policy.home}}`, `{{key.<identity>}}` (an identity's access key), `{{as}}` (the identity a
//! matrix cell runs as) and `{{region}}`. A name that starts with `=` is used literally.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The format version this harness reads.
pub const FORMAT_VERSION: u32 = 1;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Must be [`FORMAT_VERSION`].
    pub version: u32,
    /// Unique across the library; `[a-z0-9-]`.
    pub id: String,
    pub title: String,
    /// The report groups by area (`s3`, `sigv4`, `users`, `policy`, `sts`, `service-accounts`, `posix`).
    pub area: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// SPEC rule ids this scenario checks (`U3`, `P12`, ...).
    pub rules: Vec<String>,
    /// Free text shown in reports.
    #[serde(default)]
    pub description: Option<String>,
    /// Run alone, after the parallel batch: the scenario counts target-wide resources (the user
    /// or STS limits), which other scenarios running beside it would disturb, or may change
    /// target-wide state the others rely on (the pre-defined policies, on a target that does
    /// not protect them).
    #[serde(default)]
    pub exclusive: bool,
    /// The scenario counts users against the target's limit, so it needs a target holding no
    /// S3 users when it starts: on one that holds some (a vendor's staging system, or users
    /// an earlier cleanup could not remove) it is skipped saying how many, rather than failed;
    /// on a target that cannot list its users it runs as written.
    #[serde(default)]
    pub empty_of_users: bool,
    /// Skip the whole scenario under these profiles, with the reason.
    #[serde(default)]
    pub skip_profiles: BTreeMap<Profile, String>,
    #[serde(default)]
    pub setup: Setup,
    #[serde(default)]
    pub steps: Vec<Step>,
    #[serde(default)]
    pub matrix: Vec<Matrix>,
}

/// The behaviour profile a target declares (SPEC: "profile").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Reference,
    Minio,
    Aws,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Reference => "reference",
            Profile::Minio => "minio",
            Profile::Aws => "aws",
        }
    }
}

/// How the harness reaches the target: `https` when its endpoint is `https://`. Outcomes that
/// depend on it (`aws:SecureTransport`) are stated per transport, so one library holds for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Http,
    Https,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Https => "https",
        }
    }
}

/// Identities and data that exist before the first step.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    #[serde(default)]
    pub policies: Vec<PolicyDef>,
    #[serde(default)]
    pub users: Vec<UserDef>,
    /// Buckets created by root, in order.
    #[serde(default)]
    pub buckets: Vec<String>,
    #[serde(default)]
    pub objects: Vec<ObjectDef>,
    #[serde(default)]
    pub sessions: Vec<SessionDef>,
    #[serde(default)]
    pub service_accounts: Vec<ServiceAccountDef>,
}

/// A policy document, registered with the target unless `register = false` (then it only
/// serves as a session or service-account policy).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDef {
    pub name: String,
    /// The document as a string (templates expanded before use).
    #[serde(default)]
    pub document: Option<String>,
    /// A file holding the document, relative to the scenario file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Pad the document with spaces before its final `}` to exactly this many bytes.
    #[serde(default)]
    pub pad_to: Option<usize>,
    #[serde(default = "yes")]
    pub register: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDef {
    pub name: String,
    /// Generated (valid per U1) when absent.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
    /// A policy to attach: a setup policy's logical name or a pre-defined one.
    #[serde(default)]
    pub policy: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectDef {
    pub bucket: String,
    pub key: String,
    #[serde(default)]
    pub body: Option<String>,
    /// A generated body of this many bytes (instead of `body`).
    #[serde(default)]
    pub size: Option<usize>,
    /// The identity that writes it (root by default).
    #[serde(default, rename = "as")]
    pub as_: Option<String>,
}

/// STS credentials obtained by `user` before the steps run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionDef {
    pub name: String,
    pub user: String,
    #[serde(default)]
    pub duration: Option<i32>,
    /// A setup policy used as the session policy.
    #[serde(default)]
    pub policy: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountDef {
    pub name: String,
    pub user: String,
    /// A setup policy embedded in the account.
    #[serde(default)]
    pub policy: Option<String>,
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    // S3 through aws-sdk-s3
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    PutObject,
    GetObject,
    HeadObject,
    DeleteObject,
    DeleteObjects,
    CopyObject,
    ListObjectsV2,
    ListObjects,
    CreateMultipartUpload,
    UploadPart,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListMultipartUploads,
    ListParts,
    PutObjectTagging,
    GetObjectTagging,
    DeleteObjectTagging,
    PutBucketTagging,
    GetBucketTagging,
    DeleteBucketTagging,
    PutBucketPolicy,
    GetBucketPolicy,
    DeleteBucketPolicy,
    // STS through aws-sdk-sts
    AssumeRole,
    // Administration through the target adapter
    CreateUser,
    UpdateUser,
    DeleteUser,
    PutPolicy,
    DeletePolicy,
    AttachPolicy,
    DetachPolicy,
    CreateServiceAccount,
    DeleteServiceAccount,
    // Harness actions
    AdvanceClock,
    Sleep,
    Raw,
    // Faults (capability `faults`): see `run::faults`
    /// Stop the target gracefully and start it again.
    RestartTarget,
    /// SIGKILL the target, then start it again.
    KillTarget,
    PauseTarget,
    UnpauseTarget,
    /// `count` concurrent PUTs (each acknowledgement recorded), with policy changes beside
    /// them; optionally SIGKILL the target after `kill_after` acknowledgements.
    PutStorm,
    /// Read back every acknowledged write of the storms so far; count what was lost.
    VerifyAcknowledged,
}

impl Op {
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Operations served by the target's administration interface rather than S3.
    pub fn is_admin(self) -> bool {
        matches!(
            self,
            Op::CreateUser
                | Op::UpdateUser
                | Op::DeleteUser
                | Op::PutPolicy
                | Op::DeletePolicy
                | Op::AttachPolicy
                | Op::DetachPolicy
                | Op::CreateServiceAccount
                | Op::DeleteServiceAccount
        )
    }

    /// Operations that inject a fault into the target (capability `faults`).
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            Op::RestartTarget | Op::KillTarget | Op::PauseTarget | Op::UnpauseTarget
        )
    }

    /// Operations that `run::faults` executes and judges itself (no `expect`, no `parallel`).
    pub fn is_fault_family(self) -> bool {
        self.is_fault() || matches!(self, Op::PutStorm | Op::VerifyAcknowledged)
    }
}

/// One step. Fields not used by `op` must be absent (checked by the validator).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub op: Option<Op>,
    /// The identity the step runs as (root by default).
    #[serde(default, rename = "as")]
    pub as_: Option<String>,
    // --- S3 parameters
    #[serde(default)]
    pub bucket: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub keys: Option<Vec<String>>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub size: Option<usize>,
    #[serde(default)]
    pub range: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub source_bucket: Option<String>,
    #[serde(default)]
    pub source_key: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub delimiter: Option<String>,
    #[serde(default)]
    pub max_keys: Option<i32>,
    /// A multipart upload's logical name (its id is remembered by the runner).
    #[serde(default)]
    pub upload: Option<String>,
    #[serde(default)]
    pub part_number: Option<i32>,
    /// Part numbers to complete (their ETags are remembered by the runner).
    #[serde(default)]
    pub parts: Option<Vec<i32>>,
    // --- identity and administration parameters
    /// A user's logical name; in a `parallel` step, `{{i}}` is the copy's index (0..N).
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
    #[serde(default)]
    pub policy: Option<String>,
    /// A replacement document for `put_policy` (else the setup policy's).
    #[serde(default)]
    pub document: Option<String>,
    #[serde(default)]
    pub duration: Option<i32>,
    /// Name the identity created by `assume_role` / `create_service_account`.
    #[serde(default)]
    pub save_as: Option<String>,
    /// The service account (logical name) `delete_service_account` removes.
    #[serde(default)]
    pub account: Option<String>,
    // --- harness actions
    #[serde(default)]
    pub seconds: Option<i64>,
    #[serde(default)]
    pub millis: Option<u64>,
    #[serde(default)]
    pub request: Option<RawRequest>,
    /// Run this many copies of the step at once; outcomes are checked with `expect_counts`.
    #[serde(default)]
    pub parallel: Option<usize>,
    /// `put_storm`: how many PUTs.
    #[serde(default)]
    pub count: Option<usize>,
    /// `put_storm`: SIGKILL the target once this many PUTs are acknowledged, then start it.
    #[serde(default)]
    pub kill_after: Option<usize>,
    /// Give up on the target's answer after this long: a transport error, not a verdict.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Outcome label (`"200"`, an error code) -> how many of the parallel copies had it.
    #[serde(default)]
    pub expect_counts: Option<BTreeMap<String, usize>>,
    #[serde(default)]
    pub expect: Option<Expect>,
    /// Matrix cells only: one outcome per identity of the matrix.
    #[serde(default)]
    pub outcome: Option<Vec<String>>,
    /// Matrix cells only: per-profile replacement of `outcome`.
    #[serde(default)]
    pub outcome_profile: Option<BTreeMap<Profile, Vec<String>>>,
    /// Matrix cells only: per-transport replacement of `outcome` (applied after the profile's).
    #[serde(default)]
    pub outcome_transport: Option<BTreeMap<Transport, Vec<String>>>,
}

/// A request built by hand, signed by `aws-sigv4`, then altered by `mutations`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    #[serde(default = "get")]
    pub method: String,
    /// Path, templates expanded, already percent-encoded.
    #[serde(default = "slash")]
    pub path: String,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    /// `header` (Authorization), `query` (presigned URL) or `none`.
    #[serde(default)]
    pub sign: SignMode,
    /// Service in the credential scope (`s3`, or `sts` for AssumeRole requests).
    #[serde(default)]
    pub service: Option<String>,
    /// Presigned URL lifetime in seconds.
    #[serde(default)]
    pub expires: Option<u64>,
    /// Sign `x-amz-content-sha256` as `UNSIGNED-PAYLOAD` instead of the body's hash.
    #[serde(default)]
    pub unsigned_payload: bool,
    #[serde(default)]
    pub mutations: Vec<Mutation>,
    /// Seconds added to the signing date by `skewed_date` (default 16 minutes; negative = past).
    #[serde(default)]
    pub skew_seconds: Option<i64>,
    /// The identity whose session token `swapped_token` sends.
    #[serde(default)]
    pub token_from: Option<String>,
    /// Header added after signing by `unsigned_header` (default `x-amz-meta-unsigned: 1`).
    #[serde(default)]
    pub extra_header: Option<(String, String)>,
}

fn get() -> String {
    "GET".into()
}

fn slash() -> String {
    "/".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignMode {
    #[default]
    Header,
    Query,
    None,
}

/// Named alterations of a correctly signed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mutation {
    /// Sign with a date `skew_seconds` away from the target's clock.
    SkewedDate,
    /// Scope region other than the target's.
    WrongRegion,
    /// Scope service `sts` for S3 (or `s3` for STS).
    WrongService,
    /// Add an `x-amz-*` header after signing.
    UnsignedHeader,
    /// Flip one hex digit of the signature.
    TamperedSignature,
    /// Drop the session token (header or query) after signing.
    MissingToken,
    /// Sign with another identity's session token (`token_from`).
    SwappedToken,
    /// Truncate the session token after signing.
    TruncatedToken,
    /// Sign a body hash that is not the body's.
    BadPayloadHash,
    /// A presigned URL dated `expires + 60` seconds in the past.
    ExpiredPresign,
    /// Replace the SigV4 header with a SigV2 one (`AWS key:signature`).
    Sigv2,
    /// Remove all authentication after signing.
    NoAuth,
    /// Sign with a secret that is not the identity's.
    WrongSecret,
    /// Remove `host` from SignedHeaders (signature computed without it).
    HostNotSigned,
    /// Remove the date header (`x-amz-date`).
    NoDate,
}

/// What a step's outcome must be. `profile.<name>` entries replace the fields they set, then
/// `transport.<http|https>` entries do.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Error code; `"none"` asserts a success with no error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Any 2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_empty: Option<bool>,
    /// Header name (lower case) -> substring of its value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers_present: Option<Vec<String>>,
    /// Listing results (keys, bucket logical names, deleted keys) exactly, in any order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_include: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_exclude: Option<Vec<String>>,
    /// DeleteObjects: key -> error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_errors: Option<BTreeMap<String, String>>,
    /// Owner of a file under the target's POSIX root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<OwnerExpect>,
    /// No answer at all (the target is paused): the step passes only on a transport error,
    /// reported as such, never as a rule's failure. Bounded by the step's `timeout_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport_error: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profile: BTreeMap<Profile, Expect>,
    /// `transport.https = {...}`: replaces the fields it sets when the run is over that
    /// transport, after the profile's overrides.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transport: BTreeMap<Transport, Expect>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerExpect {
    /// Path inside the bucket's directory (default: the step's key; `""` = the bucket itself).
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub bucket: Option<String>,
    pub uid: u32,
    pub gid: u32,
}

/// A policy table: every case runs as every identity, each with its own expected outcome.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    #[serde(default)]
    pub name: Option<String>,
    /// Column headings: the identities each case runs as.
    #[serde(rename = "as")]
    pub as_: Vec<String>,
    /// Rows: a step without `as`/`expect`, with `outcome` holding one cell per identity.
    pub cases: Vec<Step>,
}
