//! S3 steps through the real `aws-sdk-s3`: one SDK call per step, observed by a [`Capture`]
//! interceptor, normalised into an [`Outcome`].
//!
//! Listing results become `Outcome::items`: object keys and common prefixes for ListObjects,
//! this scenario's buckets by logical name for ListBuckets (other scenarios' buckets are not
//! shown, so parallel runs do not disturb each other), deleted keys for DeleteObjects, `k=v`
//! pairs for tagging reads, keys for ListMultipartUploads and part numbers for ListParts.

use super::context::Ctx;
use super::outcome::{excerpt, Capture, Outcome};
use crate::scenario::model::Step;
use crate::scenario::Op;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier, Tag, Tagging,
};
use std::collections::BTreeMap;

/// Send a fluent builder with a capture; `$on_ok` maps the output into the outcome.
macro_rules! send {
    ($builder:expr, |$o:ident, $out:ident| $on_ok:block) => {{
        let cap = Capture::default();
        match $builder.customize().interceptor(cap.clone()).send().await {
            Ok($out) => {
                #[allow(unused_mut)]
                let mut $o = cap.success();
                $on_ok
                $o
            }
            Err(e) => cap.failure(e),
        }
    }};
    ($builder:expr) => {
        send!($builder, |o, _out| {})
    };
}

/// ListObjects and ListObjectsV2 share parameters and result shape; keys then prefixes.
macro_rules! list {
    ($builder:expr, $ctx:ident, $step:ident, $bucket:ident) => {{
        let b = $builder
            .bucket(&$bucket)
            .set_prefix($step.prefix.as_deref().map(|p| $ctx.expand(p)))
            .set_delimiter($step.delimiter.clone())
            .set_max_keys($step.max_keys);
        send!(b, |o, out| {
            let keys = out
                .contents()
                .iter()
                .filter_map(|c| c.key().map(str::to_owned));
            let prefixes = out
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned));
            o.items = Some(keys.chain(prefixes).collect());
        })
    }};
}

fn body_of(step: &Step, ctx: &Ctx<'_>) -> Vec<u8> {
    match (&step.body, step.size) {
        (Some(b), _) => ctx.expand(b).into_bytes(),
        (None, Some(n)) => (0..n).map(|i| b'a' + (i % 26) as u8).collect(),
        (None, None) => Vec::new(),
    }
}

fn tagging(tags: &BTreeMap<String, String>) -> Tagging {
    let set = tags
        .iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect();
    Tagging::builder()
        .set_tag_set(Some(set))
        .build()
        .unwrap_or_else(|_| Tagging::builder().build().expect("empty tagging builds"))
}

fn tag_items(tags: &[Tag]) -> Vec<String> {
    tags.iter()
        .map(|t| format!("{}={}", t.key(), t.value()))
        .collect()
}

/// Run one S3 operation as `who`.
pub async fn run(ctx: &Ctx<'_>, who: &str, step: &Step) -> Outcome {
    let s3 = match ctx.s3(who) {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                transport_error: Some(e),
                ..Default::default()
            }
        }
    };
    let op = step.op.expect("validated");
    let bucket = step
        .bucket
        .as_deref()
        .map(|b| ctx.bucket(b))
        .unwrap_or_default();
    let key = step
        .key
        .as_deref()
        .map(|k| ctx.expand(k))
        .unwrap_or_default();
    match op {
        Op::ListBuckets => send!(s3.list_buckets(), |o, out| {
            o.items = Some(
                out.buckets()
                    .iter()
                    .filter_map(|b| b.name().and_then(|n| ctx.logical_bucket(n)))
                    .collect(),
            );
        }),
        Op::CreateBucket => send!(s3.create_bucket().bucket(&bucket)),
        Op::HeadBucket => send!(s3.head_bucket().bucket(&bucket)),
        Op::DeleteBucket => send!(s3.delete_bucket().bucket(&bucket)),
        Op::GetBucketLocation => send!(s3.get_bucket_location().bucket(&bucket), |o, out| {
            o.items = Some(
                out.location_constraint()
                    .map(|c| c.as_str().to_owned())
                    .into_iter()
                    .collect(),
            );
        }),
        Op::PutObject => {
            let mut b = s3
                .put_object()
                .bucket(&bucket)
                .key(&key)
                .body(ByteStream::from(body_of(step, ctx)));
            if let Some(ct) = &step.content_type {
                b = b.content_type(ct);
            }
            for (k, v) in step.metadata.iter().flatten() {
                b = b.metadata(k, v);
            }
            if let Some(tags) = &step.tags {
                let t: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                b = b.tagging(t.join("&"));
            }
            send!(b)
        }
        Op::GetObject => {
            let mut b = s3.get_object().bucket(&bucket).key(&key);
            if let Some(r) = &step.range {
                b = b.range(r);
            }
            let cap = Capture::default();
            match b.customize().interceptor(cap.clone()).send().await {
                Ok(out) => {
                    let mut o = cap.success();
                    match out.body.collect().await {
                        Ok(data) => o.body = excerpt(&String::from_utf8_lossy(&data.into_bytes())),
                        Err(e) => o.transport_error = Some(format!("reading body: {e}")),
                    }
                    o
                }
                Err(e) => cap.failure(e),
            }
        }
        Op::HeadObject => send!(s3.head_object().bucket(&bucket).key(&key)),
        Op::DeleteObject => send!(s3.delete_object().bucket(&bucket).key(&key)),
        Op::DeleteObjects => {
            let ids: Vec<ObjectIdentifier> = step
                .keys
                .iter()
                .flatten()
                .filter_map(|k| ObjectIdentifier::builder().key(ctx.expand(k)).build().ok())
                .collect();
            let delete = match Delete::builder().set_objects(Some(ids)).build() {
                Ok(d) => d,
                Err(e) => {
                    return Outcome {
                        transport_error: Some(format!("building DeleteObjects: {e}")),
                        ..Default::default()
                    }
                }
            };
            send!(
                s3.delete_objects().bucket(&bucket).delete(delete),
                |o, out| {
                    o.items = Some(
                        out.deleted()
                            .iter()
                            .filter_map(|d| d.key().map(str::to_owned))
                            .collect(),
                    );
                    o.item_errors = out
                        .errors()
                        .iter()
                        .map(|e| {
                            (
                                e.key().unwrap_or_default().to_owned(),
                                e.code().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect();
                }
            )
        }
        Op::CopyObject => {
            let src_bucket = ctx.bucket(step.source_bucket.as_deref().unwrap_or_default());
            let src_key =
                super::raw::encode_key(&ctx.expand(step.source_key.as_deref().unwrap_or_default()));
            send!(s3
                .copy_object()
                .bucket(&bucket)
                .key(&key)
                .copy_source(format!("{src_bucket}/{src_key}")))
        }
        Op::ListObjectsV2 => list!(s3.list_objects_v2(), ctx, step, bucket),
        Op::ListObjects => list!(s3.list_objects(), ctx, step, bucket),
        Op::CreateMultipartUpload => {
            let name = step.upload.clone().unwrap_or_default();
            send!(
                s3.create_multipart_upload().bucket(&bucket).key(&key),
                |o, out| {
                    ctx.set_upload(&name, out.upload_id().unwrap_or_default().to_owned());
                }
            )
        }
        Op::UploadPart => {
            let name = step.upload.clone().unwrap_or_default();
            let id = ctx.upload(&name).id;
            let n = step.part_number.unwrap_or(1);
            let b = s3
                .upload_part()
                .bucket(&bucket)
                .key(&key)
                .upload_id(id)
                .part_number(n)
                .body(ByteStream::from(body_of(step, ctx)));
            send!(b, |o, out| {
                ctx.add_part(&name, n, out.e_tag().unwrap_or_default().to_owned());
            })
        }
        Op::CompleteMultipartUpload => {
            let up = ctx.upload(step.upload.as_deref().unwrap_or_default());
            let parts = step
                .parts
                .iter()
                .flatten()
                .map(|n| {
                    CompletedPart::builder()
                        .part_number(*n)
                        .e_tag(up.parts.get(n).cloned().unwrap_or_default())
                        .build()
                })
                .collect();
            let done = CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build();
            send!(s3
                .complete_multipart_upload()
                .bucket(&bucket)
                .key(&key)
                .upload_id(up.id)
                .multipart_upload(done))
        }
        Op::AbortMultipartUpload => {
            let up = ctx.upload(step.upload.as_deref().unwrap_or_default());
            send!(s3
                .abort_multipart_upload()
                .bucket(&bucket)
                .key(&key)
                .upload_id(up.id))
        }
        Op::ListParts => {
            let up = ctx.upload(step.upload.as_deref().unwrap_or_default());
            send!(
                s3.list_parts().bucket(&bucket).key(&key).upload_id(up.id),
                |o, out| {
                    o.items = Some(
                        out.parts()
                            .iter()
                            .filter_map(|p| p.part_number().map(|n| n.to_string()))
                            .collect(),
                    );
                }
            )
        }
        Op::ListMultipartUploads => send!(s3.list_multipart_uploads().bucket(&bucket), |o, out| {
            o.items = Some(
                out.uploads()
                    .iter()
                    .filter_map(|u| u.key().map(str::to_owned))
                    .collect(),
            );
        }),
        Op::PutObjectTagging => {
            let t = tagging(step.tags.as_ref().expect("validated"));
            send!(s3.put_object_tagging().bucket(&bucket).key(&key).tagging(t))
        }
        Op::GetObjectTagging => send!(
            s3.get_object_tagging().bucket(&bucket).key(&key),
            |o, out| {
                o.items = Some(tag_items(out.tag_set()));
            }
        ),
        Op::DeleteObjectTagging => send!(s3.delete_object_tagging().bucket(&bucket).key(&key)),
        Op::PutBucketTagging => {
            let t = tagging(step.tags.as_ref().expect("validated"));
            send!(s3.put_bucket_tagging().bucket(&bucket).tagging(t))
        }
        Op::GetBucketTagging => send!(s3.get_bucket_tagging().bucket(&bucket), |o, out| {
            o.items = Some(tag_items(out.tag_set()));
        }),
        Op::DeleteBucketTagging => send!(s3.delete_bucket_tagging().bucket(&bucket)),
        Op::PutBucketPolicy => {
            let doc = ctx.expand(step.document.as_deref().unwrap_or_default());
            send!(s3.put_bucket_policy().bucket(&bucket).policy(doc))
        }
        Op::GetBucketPolicy => send!(s3.get_bucket_policy().bucket(&bucket), |o, out| {
            o.body = out.policy().unwrap_or_default().to_owned();
        }),
        Op::DeleteBucketPolicy => send!(s3.delete_bucket_policy().bucket(&bucket)),
        other => Outcome {
            transport_error: Some(format!("`{}` is not an S3 operation", other.name())),
            ..Default::default()
        },
    }
}
