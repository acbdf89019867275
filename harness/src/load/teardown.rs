//! Removing what `setup` created on a remote target, after the attack, and also when the
//! attack failed or was interrupted: a vendor's server must not collect a bucket and a set of
//! users per run (it would reach its user limit).
//!
//! Order: the users (on a Keygate target deleting a user also revokes its STS credentials and
//! removes its service accounts), then the policies (no longer attached), then the bucket,
//! emptied first (S3 deletes only empty buckets): every object listed (ListObjectsV2, page by
//! page) and deleted, whether setup or the attack wrote it. What is already gone (a user a
//! `[revoke]` plan deleted, a name whose creation never landed) is not a problem; anything
//! else is reported as a warning naming what was left behind, and never changes the exit code
//! of the run (its figures stand).

use super::setup::Created;
use crate::target::admin::AdminTarget;
use crate::target::{Target, TargetError};

/// What teardown removed, and what it could not.
#[derive(Debug, Default)]
pub struct Removed {
    pub users: usize,
    pub policies: usize,
    pub objects: usize,
    pub bucket: Option<String>,
    /// One line per thing left behind, naming it.
    pub problems: Vec<String>,
}

impl Removed {
    /// One line for stderr: what was removed, then what was left.
    pub fn summary(&self, endpoint: &str) -> String {
        let bucket = match &self.bucket {
            Some(b) => format!(", bucket {b} ({} object(s))", self.objects),
            None => String::new(),
        };
        format!(
            "keygate: removed what load created on {endpoint}: {} user(s), {} polic(ies){bucket}",
            self.users, self.policies
        )
    }
}

/// Whether an error says the thing is not there (any more).
fn gone(e: &TargetError, codes: &[&str]) -> bool {
    matches!(e, TargetError::Rejected { code, .. } if codes.contains(&code.as_str()))
}

/// Remove everything in `created` from `target`.
pub async fn remove(target: &AdminTarget, created: &Created) -> Removed {
    let mut out = Removed::default();
    for user in &created.users {
        match target.delete_user(user).await {
            Ok(()) => out.users += 1,
            Err(e) if gone(&e, &["NoSuchEntity", "NoSuchUser"]) => {}
            Err(e) => out.problems.push(format!("user {user} is left: {e}")),
        }
    }
    for policy in &created.policies {
        match target.delete_policy(policy).await {
            Ok(()) => out.policies += 1,
            Err(e) if gone(&e, &["NoSuchEntity", "NoSuchPolicy"]) => {}
            Err(e) => out.problems.push(format!("policy {policy} is left: {e}")),
        }
    }
    if let Some(bucket) = &created.bucket {
        match remove_bucket(target, bucket, &mut out.objects).await {
            Ok(true) => out.bucket = Some(bucket.clone()),
            Ok(false) => {}
            Err(e) => out.problems.push(format!("bucket {bucket} is left: {e}")),
        }
    }
    out
}

/// Empty and delete `bucket`; `Ok(false)` when it did not exist.
async fn remove_bucket(
    target: &AdminTarget,
    bucket: &str,
    objects: &mut usize,
) -> Result<bool, String> {
    use crate::run::outcome::sdk_target_error;
    let s3 = crate::run::clients::s3_client(target, Some(&target.root));
    let mut token = None;
    loop {
        let page = match s3
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token)
            .send()
            .await
        {
            Ok(page) => page,
            Err(e) => match sdk_target_error(e) {
                e if gone(&e, &["NoSuchBucket"]) => return Ok(false),
                e => return Err(format!("listing it: {e}")),
            },
        };
        for o in page.contents() {
            let key = o.key().unwrap_or_default();
            if let Err(e) = s3.delete_object().bucket(bucket).key(key).send().await {
                return Err(format!("deleting {key}: {}", sdk_target_error(e)));
            }
            *objects += 1;
        }
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    match s3.delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(e) => match sdk_target_error(e) {
            e if gone(&e, &["NoSuchBucket"]) => Ok(false),
            e => Err(e.to_string()),
        },
    }
}
