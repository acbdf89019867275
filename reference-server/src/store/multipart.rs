//! Multipart uploads: parts kept apart until completion, then assembled like any write (X4).
//!
//! An upload lives in `<data>/.keygate/multipart/<upload-id>/`: `upload.json` (bucket, key,
//! the metadata the object will get, initiation time) and one file per part with its own
//! small JSON record (`part-NNNNN.json`) that names the part's data file
//! (`part-NNNNN-<random>`) and holds its ETag. Upload ids are 32 hex characters generated here;
//! any other string is refused before a path is built. Completion concatenates the listed
//! parts into a temp file, fsyncs it, and commits it under the key with the owner of the
//! completing request (X4).
//!
//! Concurrency: storing a part (its data file renamed in, its record written, the part it
//! replaces removed), completing and aborting each hold the upload's lock, so a part's record
//! always names the data its ETag was computed from, whichever of two uploads of one part
//! number lands last, and a part whose body was still arriving when its upload was completed
//! or aborted is refused with `NoSuchUpload` instead of landing in a removed directory.

use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use keygate_sigv4::{ChecksumAlgorithm, Checksummer};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::{random_name, ObjectMeta, Owner, Precondition, Store, TempObject};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};

/// S3's limits on parts.
pub const MAX_PART_NUMBER: u32 = 10_000;
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    /// The metadata the completed object gets (ETag, size and owner are set at completion).
    pub template: ObjectMeta,
    /// The checksum the object gets, as CreateMultipartUpload asked (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<UploadChecksum>,
}

/// How an upload's object checksum is made (S3 "Checking object integrity"): over the whole
/// object (`FULL_OBJECT`, CRCs only), or over the parts' checksums (`COMPOSITE`, spelled
/// `<base64>-<parts>`). Every part stored gets its checksum in the algorithm, computed here
/// when the client sent none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadChecksum {
    /// S3's name of the algorithm, e.g. `CRC32`.
    pub algorithm: String,
    pub full_object: bool,
}

impl UploadChecksum {
    pub fn algorithm(&self) -> Option<ChecksumAlgorithm> {
        ChecksumAlgorithm::from_name(&self.algorithm)
    }

    /// `FULL_OBJECT` or `COMPOSITE`, as `x-amz-checksum-type` spells it.
    pub fn type_name(&self) -> &'static str {
        checksum_type_name(self.full_object)
    }
}

/// `FULL_OBJECT` or `COMPOSITE`.
pub fn checksum_type_name(full_object: bool) -> &'static str {
    if full_object {
        "FULL_OBJECT"
    } else {
        "COMPOSITE"
    }
}

/// An upload as ListMultipartUploads shows it: key, upload id, initiation (Unix ms), checksum.
pub type ListedUpload = (String, String, i64, Option<UploadChecksum>);

/// A part as CompleteMultipartUpload lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedPart {
    pub number: u32,
    pub etag: String,
    /// The checksum the client says the part has: (header name, base64 value).
    pub checksum: Option<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Part {
    pub number: u32,
    pub etag: String,
    pub size: u64,
    pub modified_ms: i64,
    /// The data file's name in the upload's directory; absent in records written before
    /// parts had names of their own (their data is `part-NNNNN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The part's checksum, verified or computed here: (header name, base64 value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<(String, String)>,
}

impl Part {
    fn data_file(&self) -> String {
        match &self.file {
            Some(name) => name.clone(),
            None => format!("part-{:05}", self.number),
        }
    }
}

impl Store {
    fn upload_dir(&self, upload_id: &str) -> S3Result<PathBuf> {
        let valid = upload_id.len() == 32
            && upload_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if !valid {
            return Err(S3Error::new(S3ErrorCode::NoSuchUpload));
        }
        Ok(self.sys.join("multipart").join(upload_id))
    }

    pub fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        template: ObjectMeta,
        checksum: Option<UploadChecksum>,
        now_ms: i64,
    ) -> S3Result<String> {
        super::keys::validate_key(key)?;
        self.require_bucket(bucket)?;
        let id = new_upload_id(now_ms);
        let dir = self.upload_dir(&id)?;
        fs::create_dir_all(&dir).map_err(S3Error::internal)?;
        let upload = Upload {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            initiated_ms: now_ms,
            template,
            checksum,
        };
        let bytes = serde_json::to_vec(&upload).map_err(S3Error::internal)?;
        // Written (and fsynced) under another name, then made visible under the bucket's
        // directory lock: a bucket being deleted (which checks for uploads first) is not
        // given one meanwhile.
        let staged = dir.join("upload.json.new");
        self.write_atomic(&staged, &bytes)?;
        let _dirs = self.dirs_shared(bucket);
        let visible = self
            .require_bucket(bucket)
            .and_then(|()| fs::rename(&staged, dir.join("upload.json")).map_err(S3Error::internal));
        if let Err(e) = visible {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok(id)
    }

    /// The upload `upload_id`, which must belong to `bucket/key`.
    pub fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<Upload> {
        self.require_bucket(bucket)?;
        let no_such = || {
            S3Error::new(S3ErrorCode::NoSuchUpload)
                .bucket(bucket)
                .key(key)
        };
        let dir = self.upload_dir(upload_id).map_err(|_| no_such())?;
        let bytes = match fs::read(dir.join("upload.json")) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(no_such()),
            Err(e) => return Err(S3Error::internal(e)),
        };
        let upload: Upload = serde_json::from_slice(&bytes).map_err(S3Error::internal)?;
        if upload.bucket != bucket || upload.key != key {
            return Err(no_such());
        }
        Ok(upload)
    }

    /// Stores a finished temp object as part `number` of the upload, replacing an earlier one
    /// (blocking: fsyncs; call off the reactor). `NoSuchUpload` when the upload was completed
    /// or aborted meanwhile.
    pub fn put_part(
        &self,
        upload_id: &str,
        number: u32,
        tmp: TempObject,
        md5: [u8; 16],
        checksum: Option<(String, String)>,
        now_ms: i64,
    ) -> S3Result<Part> {
        let dir = self.upload_dir(upload_id)?;
        let part = Part {
            number,
            etag: hex::encode(md5),
            size: tmp.size(),
            modified_ms: now_ms,
            file: Some(format!("part-{number:05}-{}", random_name())),
            checksum,
        };
        let bytes = serde_json::to_vec(&part).map_err(S3Error::internal)?;
        let record = dir.join(format!("part-{number:05}.json"));
        let _guard = self.lock_upload(upload_id);
        if !dir.join("upload.json").is_file() {
            return Err(S3Error::new(S3ErrorCode::NoSuchUpload));
        }
        // A part uploaded again replaces the earlier one, whose data file goes once the new
        // record is in place. (Not `read_part`: a first upload has no record, which is no
        // internal error to log.)
        let replaced = fs::read(&record)
            .ok()
            .and_then(|b| serde_json::from_slice::<Part>(&b).ok())
            .map(|p| p.data_file());
        fs::rename(tmp.path(), dir.join(part.data_file())).map_err(S3Error::internal)?;
        self.write_atomic(&record, &bytes)?;
        if let Some(old) = replaced {
            let _ = fs::remove_file(dir.join(old));
        }
        Ok(part)
    }

    /// The upload's parts in ascending order.
    pub fn list_parts(&self, upload_id: &str) -> S3Result<Vec<Part>> {
        let dir = self.upload_dir(upload_id)?;
        let mut parts = Vec::new();
        for entry in fs::read_dir(&dir).map_err(S3Error::internal)? {
            let entry = entry.map_err(S3Error::internal)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("part-") && name.ends_with(".json") {
                parts.push(read_part(&entry.path())?);
            }
        }
        parts.sort_by_key(|p| p.number);
        Ok(parts)
    }

    /// Assembles the listed parts into `bucket/key`, owned by `by.owner`, if the key meets
    /// `by.precondition`. Returns the metadata
    /// of the new object, whose ETag is `hex(md5(concat(md5 of each part)))-N`.
    pub fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        requested: &[RequestedPart],
        by: Completion<'_>,
    ) -> S3Result<ObjectMeta> {
        let Completion {
            owner,
            now_ms,
            precondition,
            claimed,
        } = by;
        let _guard = self.lock_upload(upload_id);
        let upload = self.upload(bucket, key, upload_id)?;
        let dir = self.upload_dir(upload_id)?;
        if requested.is_empty() {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "You must specify at least one part.",
            ));
        }
        if requested.windows(2).any(|w| w[0].number >= w[1].number) {
            return Err(S3Error::new(S3ErrorCode::InvalidPartOrder));
        }
        claimed.check_against(upload.checksum.as_ref())?;
        let algorithm = upload.checksum.as_ref().and_then(UploadChecksum::algorithm);
        let full_object = upload.checksum.as_ref().is_some_and(|c| c.full_object);
        let stored = self.list_parts(upload_id)?;
        let mut chosen = Vec::with_capacity(requested.len());
        for (i, wanted) in requested.iter().enumerate() {
            check_listed_checksum(wanted, upload.checksum.as_ref())?;
            let etag = wanted.etag.trim_matches('"');
            let mut part = stored
                .iter()
                .find(|p| p.number == wanted.number && p.etag == etag)
                .cloned()
                .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidPart))?;
            // A part stored without a checksum (by a server before part checksums, or in an
            // upload without an algorithm) gets one now, in the algorithm the listing or the
            // upload names, so that it is checked as any other: a second read of that part.
            let wanted_alg = wanted.checksum.as_ref().map(|(name, _)| name.as_str());
            let needed = wanted_alg.or(algorithm.map(ChecksumAlgorithm::header_name));
            if let (None, Some(name)) = (&part.checksum, needed) {
                part.checksum = self.part_checksum(&dir, &part, name)?;
            }
            // A checksum listed for the part must be the one it was stored with.
            let same = match (&wanted.checksum, &part.checksum) {
                (None, _) => true,
                (Some((name, value)), Some((n, v))) => name == n && value.trim() == v,
                (Some(_), None) => false,
            };
            if !same {
                return Err(S3Error::new(S3ErrorCode::InvalidPart));
            }
            if i + 1 < requested.len() && part.size < MIN_PART_SIZE {
                return Err(S3Error::new(S3ErrorCode::EntityTooSmall));
            }
            chosen.push(part);
        }
        let mut whole = algorithm.filter(|_| full_object).map(Checksummer::new);
        let tmp_path = self.tmp_dir().join(random_name());
        let assembled = (|| -> io::Result<u64> {
            let mut out = fs::File::create(&tmp_path)?;
            let mut total = 0;
            for part in &chosen {
                total += each_chunk(&dir.join(part.data_file()), |chunk| {
                    if let Some(h) = &mut whole {
                        h.update(chunk);
                    }
                    out.write_all(chunk)
                })?;
            }
            out.flush()?;
            out.sync_all()?;
            Ok(total)
        })();
        let size = match assembled {
            Ok(size) => size,
            Err(e) => {
                let _ = fs::remove_file(&tmp_path);
                return Err(S3Error::internal(e));
            }
        };
        let tmp = TempObject::adopt(tmp_path, size);
        let checksum = match (algorithm, whole) {
            (_, Some(h)) => Some(h.finish()),
            (Some(alg), None) => composite_checksum(alg, &chosen),
            (None, None) => None,
        };
        // Checked before the object is placed: a mismatch leaves the upload as it was.
        let checked = claimed
            .check_size(size)
            .and_then(|()| claimed.check_value(checksum.as_deref()));
        if let Err(e) = checked {
            drop(tmp);
            return Err(e);
        }
        let mut md5s = Md5::new();
        for part in &chosen {
            md5s.update(hex::decode(&part.etag).map_err(S3Error::internal)?);
        }
        let mut meta = upload.template;
        meta.etag = format!("{}-{}", hex::encode(md5s.finalize()), chosen.len());
        meta.size = size;
        meta.parts = chosen.iter().map(|p| p.size).collect();
        meta.modified_ms = now_ms;
        meta.owner = owner;
        meta.upload_id = Some(upload_id.to_owned());
        meta.checksum = algorithm
            .zip(checksum)
            .map(|(alg, value)| (alg.header_name().to_owned(), value));
        meta.checksum_type = meta
            .checksum
            .as_ref()
            .map(|_| checksum_type_name(full_object).to_owned());
        // A composite checksum is made of the parts' own, which their reads answer.
        meta.part_checksums = match (&meta.checksum, full_object) {
            (Some(_), false) => chosen
                .iter()
                .map(|p| p.checksum.as_ref().map(|(_, v)| v.clone()))
                .collect::<Option<Vec<_>>>()
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        // A failed condition leaves the upload in place, to be completed or aborted.
        self.commit(tmp, bucket, key, &meta, precondition)?;
        let _ = fs::remove_dir_all(&dir);
        Ok(meta)
    }

    /// The checksum (header name `name`) of a stored part's data.
    fn part_checksum(
        &self,
        dir: &std::path::Path,
        part: &Part,
        name: &str,
    ) -> S3Result<Option<(String, String)>> {
        let Some(alg) = ChecksumAlgorithm::from_header_name(name) else {
            return Ok(None);
        };
        let mut h = Checksummer::new(alg);
        each_chunk(&dir.join(part.data_file()), |chunk| {
            h.update(chunk);
            Ok(())
        })
        .map_err(S3Error::internal)?;
        Ok(Some((name.to_owned(), h.finish())))
    }

    pub fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<()> {
        let _guard = self.lock_upload(upload_id);
        self.upload(bucket, key, upload_id)?;
        fs::remove_dir_all(self.upload_dir(upload_id)?).map_err(S3Error::internal)
    }

    /// Uploads in progress in `bucket`: (key, upload id, initiated ms, checksum), sorted by
    /// key, then by id, which is the order they were created in (see [`new_upload_id`]).
    pub fn list_uploads(&self, bucket: &str) -> S3Result<Vec<ListedUpload>> {
        self.require_bucket(bucket)?;
        let mut out = Vec::new();
        for entry in fs::read_dir(self.sys.join("multipart")).map_err(S3Error::internal)? {
            let entry = entry.map_err(S3Error::internal)?;
            let id = entry.file_name().to_string_lossy().into_owned();
            let Ok(bytes) = fs::read(entry.path().join("upload.json")) else {
                continue;
            };
            let Ok(upload) = serde_json::from_slice::<Upload>(&bytes) else {
                continue;
            };
            if upload.bucket == bucket {
                out.push((upload.key, id, upload.initiated_ms, upload.checksum));
            }
        }
        // Ids are unique: (key, id) orders them all.
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        Ok(out)
    }

    pub(super) fn has_uploads(&self, bucket: &str) -> S3Result<bool> {
        Ok(!self.list_uploads(bucket)?.is_empty())
    }
}

/// Reads the file at `path` in chunks, handing each to `f`; returns the bytes read.
fn each_chunk(
    path: &std::path::Path,
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    let mut src = fs::File::open(path)?;
    let mut buf = vec![0; 256 * 1024];
    let mut total = 0;
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        f(&buf[..n])?;
        total += n as u64;
    }
}

/// A part's record.
fn read_part(path: &std::path::Path) -> S3Result<Part> {
    let bytes = fs::read(path).map_err(S3Error::internal)?;
    serde_json::from_slice(&bytes).map_err(S3Error::internal)
}

/// A new upload id: 32 lower-case hex digits that sort in the order uploads were created (S3
/// lists a key's uploads in that order and pages on "ids after the marker", which then holds
/// even when the marker's upload has ended meanwhile): 16 digits of a stamp that only grows
/// (milliseconds times 2^16, or one more than the last), then 16 random ones.
fn new_upload_id(now_ms: i64) -> String {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let floor = u64::try_from(now_ms).unwrap_or(0).saturating_mul(1 << 16);
    let mut stamp = LAST.load(Relaxed);
    loop {
        let next = floor.max(stamp.saturating_add(1));
        match LAST.compare_exchange_weak(stamp, next, Relaxed, Relaxed) {
            Ok(_) => break format!("{next:016x}{:016x}", rand::random::<u64>()),
            Err(seen) => stamp = seen,
        }
    }
}

/// Who completes an upload (the new object's owner, X4), when, on what condition of the
/// key's current object, and what the client says of the object's checksum.
#[derive(Debug)]
pub struct Completion<'a> {
    pub owner: Owner,
    pub now_ms: i64,
    pub precondition: &'a Precondition,
    pub claimed: &'a ObjectClaims,
}

/// What CompleteMultipartUpload's headers say of the object: its checksum's value
/// (`x-amz-checksum-<algorithm>`) and type (`x-amz-checksum-type`), and its size
/// (`x-amz-mp-object-size`), each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectClaims {
    pub value: Option<(ChecksumAlgorithm, String)>,
    pub full_object: Option<bool>,
    pub size: Option<u64>,
}

impl ObjectClaims {
    pub const NONE: ObjectClaims = ObjectClaims {
        value: None,
        full_object: None,
        size: None,
    };

    /// Whether the claim names the upload's algorithm (400 `InvalidRequest` if not) and type
    /// (400 `BadDigest`).
    fn check_against(&self, upload: Option<&UploadChecksum>) -> S3Result<()> {
        let invalid = |m: String| Err(S3Error::with_message(S3ErrorCode::InvalidRequest, m));
        let created = upload.map_or("no checksum".to_owned(), |c| {
            format!("the {} {} checksum", c.type_name(), c.algorithm)
        });
        if let Some((alg, _)) = &self.value {
            if upload.and_then(UploadChecksum::algorithm) != Some(*alg) {
                return invalid(format!(
                    "The upload was created using {created}; the complete request names {}.",
                    alg.name()
                ));
            }
        }
        // Another type than the upload's: `BadDigest`, as S3's CompleteMultipartUpload
        // documents for `x-amz-checksum-type`.
        if let Some(full) = self.full_object {
            if upload.map(|c| c.full_object) != Some(full) {
                return Err(S3Error::with_message(S3ErrorCode::BadDigest, format!(
                    "The upload was created using {created}; the complete request names the {} type.",
                    checksum_type_name(full)
                )));
            }
        }
        Ok(())
    }

    /// Whether the claimed size is the object's (400 `InvalidRequest` if not, as S3).
    fn check_size(&self, size: u64) -> S3Result<()> {
        match self.size {
            Some(claimed) if claimed != size => Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                format!(
                    "The x-amz-mp-object-size ({claimed}) does not match the size of the \
                     completed object ({size})."
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Whether the claimed value is the object's checksum (400 `BadDigest` if not): exactly,
    /// or a composite one without its `-<parts>` suffix.
    fn check_value(&self, computed: Option<&str>) -> S3Result<()> {
        let Some((alg, claimed)) = &self.value else {
            return Ok(());
        };
        let claimed = claimed.trim();
        let same = computed.is_some_and(|c| {
            c == claimed || c.split_once('-').is_some_and(|(bare, _)| bare == claimed)
        });
        if !same {
            return Err(S3Error::with_message(
                S3ErrorCode::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    alg.header_name()
                ),
            ));
        }
        Ok(())
    }
}

/// Whether a completion (the parts it lists, what its headers claim) is the one that made the
/// object `meta` describes: the object records upload `upload_id`, its ETag is the listed
/// parts' (the same parts in the same order), and the claimed size and checksum hold. A
/// completion repeated after the upload is gone is answered from such an object.
pub fn made_by(
    meta: &ObjectMeta,
    upload_id: &str,
    listed: &[RequestedPart],
    claimed: &ObjectClaims,
) -> bool {
    let etag = || {
        let mut md5s = Md5::new();
        for p in listed {
            let md5 = hex::decode(p.etag.trim().trim_matches('"')).ok()?;
            md5s.update(<[u8; 16]>::try_from(md5).ok()?);
        }
        Some(format!("{}-{}", hex::encode(md5s.finalize()), listed.len()))
    };
    meta.upload_id.as_deref() == Some(upload_id)
        && etag().as_deref() == Some(meta.etag.as_str())
        && claimed.check_size(meta.size).is_ok()
        && claimed
            .check_value(meta.checksum.as_ref().map(|(_, v)| v.as_str()))
            .is_ok()
}

/// A part as Complete lists it, against the upload's checksum (400 `InvalidRequest`, as S3):
/// a checksum in another algorithm than the upload's; none for a part of a `COMPOSITE` upload,
/// whose object checksum is made of the parts' as the client knows them.
fn check_listed_checksum(wanted: &RequestedPart, upload: Option<&UploadChecksum>) -> S3Result<()> {
    let Some(upload) = upload else {
        return Ok(());
    };
    let invalid = |m: String| Err(S3Error::with_message(S3ErrorCode::InvalidRequest, m));
    let alg = upload.algorithm.to_ascii_lowercase();
    match &wanted.checksum {
        None if !upload.full_object => invalid(format!(
            "The upload was created using a {alg} checksum. The complete request must include \
             the checksum for each part. It was missing for part {} in the request.",
            wanted.number
        )),
        Some((name, _)) if upload.algorithm().map(ChecksumAlgorithm::header_name) != Some(name) => {
            Err(checksum_mismatch(
                &alg,
                name.trim_start_matches("x-amz-checksum-"),
            ))
        }
        _ => Ok(()),
    }
}

/// A part's checksum in another algorithm than its upload's (`expected`; both lowercase):
/// 400 `InvalidRequest` with S3's message, at UploadPart and at Complete.
pub fn checksum_mismatch(expected: &str, actual: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidRequest,
        format!(
            "Checksum Type mismatch occurred, expected checksum Type: {expected}, actual \
             checksum Type: {actual}"
        ),
    )
}

/// A `COMPOSITE` checksum: the algorithm over the concatenated digests of the parts, then
/// `-<parts>`; `None` if a part has no checksum in the algorithm (parts stored before the
/// server kept them).
fn composite_checksum(alg: ChecksumAlgorithm, parts: &[Part]) -> Option<String> {
    let mut h = Checksummer::new(alg);
    for part in parts {
        let (name, value) = part.checksum.as_ref()?;
        if name != alg.header_name() {
            return None;
        }
        h.update(&alg.decode(value)?);
    }
    Some(format!("{}-{}", h.finish(), parts.len()))
}
