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
//!
//! The whole teardown is bounded by [`LIMIT`] (a request alone may take 30 s): a target that
//! stops answering must not hold a CI job until its runner kills it, which would leave
//! everything behind without a word. What was not removed in time is named, as for any other
//! problem.

use super::setup::Created;
use crate::target::admin::AdminTarget;
use crate::target::{Target, TargetError};

/// How long the whole teardown may take.
pub const LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

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
    /// One line for stderr: what was removed, and how many things were left (each named in a
    /// warning of its own).
    pub fn summary(&self, endpoint: &str) -> String {
        let bucket = match &self.bucket {
            Some(b) => format!(", bucket {b} ({} object(s))", self.objects),
            None => String::new(),
        };
        let (what, left) = match self.problems.len() {
            0 => ("what", String::new()),
            n => ("part of what", format!("; {n} thing(s) left, named below")),
        };
        format!(
            "keygate: removed {what} load created on {endpoint}: {} user(s), {} polic(ies)\
             {bucket}{left}",
            self.users, self.policies
        )
    }
}

/// Whether an error says the thing is not there (any more).
fn gone(e: &TargetError, codes: &[&str]) -> bool {
    matches!(e, TargetError::Rejected { code, .. } if codes.contains(&code.as_str()))
}

/// Remove everything in `created` from `target`, within [`LIMIT`].
pub async fn remove(target: &AdminTarget, created: &Created) -> Removed {
    remove_within(target, created, LIMIT).await
}

/// [`remove`], given `limit`.
pub async fn remove_within(
    target: &AdminTarget,
    created: &Created,
    limit: std::time::Duration,
) -> Removed {
    let mut out = Removed::default();
    let mut done = 0;
    let all = created.users.len() + created.policies.len() + usize::from(created.bucket.is_some());
    if tokio::time::timeout(limit, remove_into(target, created, &mut out, &mut done))
        .await
        .is_err()
    {
        let mut left: Vec<String> = created.users.iter().map(|u| format!("user {u}")).collect();
        left.extend(created.policies.iter().map(|p| format!("policy {p}")));
        left.extend(created.bucket.iter().map(|b| format!("bucket {b}")));
        out.problems.push(format!(
            "the target did not finish answering within {limit:?}: {} of {all} left untried or \
             unfinished: {}",
            all - done,
            left[done..].join(", ")
        ));
    }
    out
}

/// The steps of [`remove`]; `done` counts the things dealt with, in `created`'s order.
async fn remove_into(target: &AdminTarget, created: &Created, out: &mut Removed, done: &mut usize) {
    for user in &created.users {
        match target.delete_user(user).await {
            Ok(()) => out.users += 1,
            Err(e) if gone(&e, &["NoSuchEntity", "NoSuchUser"]) => {}
            Err(e) => out.problems.push(format!("user {user} is left: {e}")),
        }
        *done += 1;
    }
    for policy in &created.policies {
        match target.delete_policy(policy).await {
            Ok(()) => out.policies += 1,
            Err(e) if gone(&e, &["NoSuchEntity", "NoSuchPolicy"]) => {}
            Err(e) => out.problems.push(format!("policy {policy} is left: {e}")),
        }
        *done += 1;
    }
    if let Some(bucket) = &created.bucket {
        match remove_bucket(target, bucket, &mut out.objects).await {
            Ok(true) => out.bucket = Some(bucket.clone()),
            Ok(false) => {}
            Err(e) => out.problems.push(format!("bucket {bucket} is left: {e}")),
        }
        *done += 1;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_target_that_stops_answering_gets_the_limit_and_what_is_left_is_named() {
        // Accepts connections (the kernel's backlog) and never reads or answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("silent.toml");
        std::fs::write(
            &file,
            format!(
                "version = 1\nkind = \"remote\"\nendpoint = \"http://{}\"\n\
                 root_access_key = \"k\"\nroot_secret_key = \"s\"\n",
                silent.local_addr().unwrap()
            ),
        )
        .unwrap();
        let target = crate::target::remote::open(&file, None).unwrap();
        let created = Created {
            bucket: Some("load-x".into()),
            users: vec!["lta".into(), "ltb".into()],
            policies: vec!["ltp".into()],
        };
        let removed = remove_within(&target, &created, Duration::from_millis(300)).await;
        assert_eq!(
            removed.problems,
            [
                "the target did not finish answering within 300ms: 4 of 4 left untried or \
              unfinished: user lta, user ltb, policy ltp, bucket load-x"
            ]
        );
        let line = removed.summary("http://x");
        assert_eq!(
            line,
            "keygate: removed part of what load created on http://x: 0 user(s), 0 polic(ies); \
             1 thing(s) left, named below"
        );
    }
}
