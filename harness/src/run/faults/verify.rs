//! `verify_acknowledged`: after the faults, read back everything the scenario's storms had
//! acknowledged, as the step's identity.
//!
//! - Each acknowledged PUT: GET must answer with the acknowledged ETag and exactly the body
//!   sent (SHA-256). Anything else is an operation lost.
//! - The listing under each storm's prefix must hold no key the storm never sent (a temp or
//!   partial file shown as an object); an unacknowledged key that is visible must be whole.
//! - The churned user must still exist (its keys are not refused as unknown) and hold the
//!   policy or not, as its last acknowledged change left it (or as the change cut off by the
//!   fault may have left it). Otherwise the change is an operation lost.

use super::{digest, ChurnRecord, Ctx, Judged, StormRecord};
use futures_util::stream::{self, StreamExt};

/// GETs in flight at once.
const READERS: usize = 16;

/// What the read-back of one key found.
enum Read {
    Body { etag: String, digest: String },
    Missing(String),
}

async fn read(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Read {
    let out = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) => return Read::Missing(crate::run::outcome::sdk_target_error(e).to_string()),
    };
    let Some(etag) = out.e_tag().map(str::to_owned) else {
        return Read::Missing("answered without an ETag".into());
    };
    match out.body.collect().await {
        Ok(data) => Read::Body {
            etag,
            digest: digest(&data.into_bytes()),
        },
        Err(e) => Read::Missing(format!("reading the body: {e}")),
    }
}

pub(super) async fn run(ctx: &Ctx<'_>, who: &str) -> Judged {
    let expected = "every acknowledged operation there, whole; nothing partial visible";
    let s3 = match ctx.s3(who) {
        Ok(c) => c,
        Err(e) => return Judged::broken(expected, e),
    };
    let storms = ctx.with_ledger(|l| l.storms.clone());
    let mut j = Judged {
        expected: expected.into(),
        ..Default::default()
    };
    let (mut checked, mut lost, mut extra_visible) = (0, Vec::new(), 0);
    for storm in &storms {
        let (c, v) = puts(&s3, storm, &mut lost, &mut j.mismatches).await;
        checked += c;
        extra_visible += v;
        if let Some(churn) = &storm.churn {
            lost.extend(churned(ctx, storm, churn, &mut j.mismatches).await);
        }
    }
    j.actual = format!(
        "{checked} acknowledged PUTs read back, {} operations lost; \
         {extra_visible} unacknowledged PUTs visible, whole",
        lost.len()
    );
    ctx.with_ledger(|l| l.lose(lost));
    j
}

/// Read back one storm: (acknowledged checked, unacknowledged visible and whole); what was
/// lost goes to `lost`.
async fn puts(
    s3: &aws_sdk_s3::Client,
    storm: &StormRecord,
    lost: &mut Vec<String>,
    bad: &mut Vec<String>,
) -> (usize, usize) {
    let bucket = &storm.bucket;
    let reads: Vec<(String, Read)> =
        stream::iter(storm.puts.iter().filter(|(_, p)| p.etag.is_some()))
            .map(|(k, _)| async move { (k.clone(), read(s3, bucket, k).await) })
            .buffer_unordered(READERS)
            .collect()
            .await;
    for (key, r) in &reads {
        let put = &storm.puts[key];
        let want = put.etag.as_deref().unwrap_or_default();
        let problem = match r {
            Read::Missing(e) => Some(format!("acknowledged PUT {key} is gone: {e}")),
            Read::Body { etag, .. } if etag != want => Some(format!(
                "acknowledged PUT {key}: ETag {etag}, acknowledged as {want}"
            )),
            Read::Body { digest, .. } if digest != &put.digest => Some(format!(
                "acknowledged PUT {key}: the body read back is not the {} bytes sent",
                put.size
            )),
            Read::Body { .. } => None,
        };
        if let Some(p) = problem {
            lost.push(format!("PUT {bucket}/{key}"));
            bad.push(p);
        }
    }
    let listed = match list(s3, bucket, &storm.prefix).await {
        Ok(keys) => keys,
        Err(e) => {
            bad.push(format!("listing {bucket}/{}: {e}", storm.prefix));
            return (reads.len(), 0);
        }
    };
    let mut visible = 0;
    for key in listed {
        match storm.puts.get(&key) {
            None => bad.push(format!(
                "{key} is listed but was never written (a temp or partial file shown as an object?)"
            )),
            Some(p) if p.etag.is_none() => match read(s3, bucket, &key).await {
                Read::Body { digest, .. } if digest == p.digest => visible += 1,
                Read::Body { .. } => bad.push(format!(
                    "unacknowledged PUT {key} is visible in part: its body is not the one sent"
                )),
                Read::Missing(e) => bad.push(format!("{key} is listed but cannot be read: {e}")),
            },
            Some(_) => {}
        }
    }
    (reads.len(), visible)
}

/// Every key under `prefix`, all pages.
async fn list(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| crate::run::outcome::sdk_target_error(e).to_string())?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            return Ok(keys);
        }
    }
}

/// Check the churned user; returns the policy change lost, if one was.
async fn churned(
    ctx: &Ctx<'_>,
    storm: &StormRecord,
    churn: &ChurnRecord,
    bad: &mut Vec<String>,
) -> Option<String> {
    let s3 = match ctx.s3(&churn.user) {
        Ok(c) => c,
        Err(e) => {
            bad.push(format!("{}: {e}", churn.user));
            return None;
        }
    };
    let answer = s3
        .list_objects_v2()
        .bucket(&storm.bucket)
        .max_keys(1)
        .send()
        .await
        .map_err(crate::run::outcome::sdk_target_error);
    let lost = Some(format!("policy changes of user {}", churn.user));
    let holds = match answer {
        Ok(_) => true,
        Err(crate::target::TargetError::Rejected { code, .. }) if code == "AccessDenied" => false,
        Err(e) => {
            bad.push(format!(
                "user {} after the fault: {e} (the identity database lost it?)",
                churn.user
            ));
            return lost;
        }
    };
    if churn.acceptable.contains(&holds) {
        return None;
    }
    let state = |h: bool| if h { "holds the policy" } else { "holds none" };
    bad.push(format!(
        "user {} {} after the fault, but its last acknowledged change left it so that it {}",
        churn.user,
        state(holds),
        state(!holds)
    ));
    lost
}
