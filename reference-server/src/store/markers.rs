//! Folder markers: empty objects whose key ends in `/` (`dir/`), which S3 clients create to
//! show a folder (the S3 console's "Create folder", s3fs `mkdir`, Hadoop S3A, rclone).
//!
//! Layout: a marker is the directory its key names, `<data>/<bucket>/dir` (created owned by
//! the writer, X1/X3; an existing one is left as it is), and its metadata is
//! `<data>/.keygate/markers/<bucket>/<sha256 of the key, hex>`. The metadata cannot mirror the
//! key's path as an object's does: `dir/` and `dir/a` would need `meta/<bucket>/dir` to be a
//! file and a directory at once, and every file name is some key's segment, so none can be
//! set aside inside the tree. The record holds its `(bucket, key)`.
//!
//! Invariants: a marker exists when its record does and names the inode of the directory
//! standing under its name (a record left by a directory removed by other means, or beside a
//! file of that name, is not a marker). A marked directory
//! is not removed when the last key under it is deleted; deleting the marker removes the
//! directory if it is then empty, with the parents that leaves empty and unmarked. Records are
//! written under the key's lock, and beside directory creation under the bucket's directory
//! lock (shared), as objects are; removals of emptied directories read them under that lock
//! taken exclusively, so no marker appears in a directory being removed.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::keys::object_path;
use super::objects::is_missing;
use super::{ObjectMeta, Precondition, Store, TempObject};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};

impl Store {
    /// Where the metadata of marker `key` (ending in `/`) of `bucket` is kept.
    fn marker_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.sys
            .join("markers")
            .join(bucket)
            .join(hex::encode(Sha256::digest(key.as_bytes())))
    }

    /// A file with nothing in it, opened for reading a marker's (empty) bytes.
    pub(super) fn empty_file(&self) -> PathBuf {
        self.sys.join("empty")
    }

    /// The metadata of marker `key` (directory `dir` of `bucket`), if there is one. The caller
    /// checked the bucket.
    pub(super) fn marker(
        &self,
        bucket: &str,
        key: &str,
        dir: &str,
    ) -> S3Result<Option<ObjectMeta>> {
        self.record(bucket, key, &object_path(&self.bucket_dir(bucket), dir)?)
    }

    /// The record of marker `key` if it is the record of the directory at `path` as it stands:
    /// a record names its directory's inode, so one whose directory went by other means (a
    /// POSIX user's `rmdir`, a crash) never marks a directory made later under the name.
    fn record(&self, bucket: &str, key: &str, path: &Path) -> S3Result<Option<ObjectMeta>> {
        let ino = match fs::metadata(path) {
            Ok(stat) if stat.is_dir() => stat.ino(),
            Ok(_) => return Ok(None),
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => return Err(S3Error::internal(e)),
        };
        match fs::read(self.marker_path(bucket, key)) {
            Ok(bytes) => {
                let meta: ObjectMeta = serde_json::from_slice(&bytes).map_err(S3Error::internal)?;
                Ok((meta.inode == Some(ino)).then_some(meta))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(S3Error::internal(e)),
        }
    }

    /// Whether directory `rel` of `bucket` (a key without its trailing `/`) holds a marker.
    /// Listings and removals of emptied directories ask this of each directory (an error
    /// reading the record reads as no marker).
    pub(super) fn is_marked(&self, bucket: &str, rel: &str) -> bool {
        let path = self.bucket_dir(bucket).join(rel);
        matches!(self.record(bucket, &format!("{rel}/"), &path), Ok(Some(_)))
    }

    /// Stores marker `key` (directory `dir`) with `meta`: the counterpart of
    /// [`Store::commit`] for a key ending in `/`. Its body must be empty: a folder marker
    /// holds no bytes here (S3 would store them; the directory cannot).
    pub(super) fn commit_marker(
        &self,
        tmp: TempObject,
        bucket: &str,
        key: &str,
        dir: &str,
        meta: &ObjectMeta,
        precondition: &Precondition,
    ) -> S3Result<()> {
        if tmp.size() != 0 {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "A key ending in '/' is a folder marker, stored as a directory: its body must be empty.",
            )
            .key(key));
        }
        drop(tmp);
        let bucket_dir = self.bucket_dir(bucket);
        let path = object_path(&bucket_dir, dir)?;
        let _guard = self.lock_key(bucket, key);
        precondition.check(self.marker(bucket, key, dir)?.as_ref(), key)?;
        // The directory and the record naming its inode under the directory lock (shared): a
        // delete of the last key below cannot remove the directory between the two. (The
        // record's fsync too, which holds up deletes in the bucket that long: markers are
        // rare, and the record cannot be written before the directory is there.)
        let dirs = self.dirs_shared(bucket);
        self.require_bucket(bucket)?;
        self.create_dirs(&bucket_dir, &path, meta.owner)
            .map_err(|e| e.key(key))?;
        let recorded = fs::metadata(&path)
            .map_err(S3Error::internal)
            .and_then(|stat| {
                let record = ObjectMeta {
                    inode: Some(stat.ino()),
                    object: Some((bucket.to_owned(), key.to_owned())),
                    ..meta.clone()
                };
                serde_json::to_vec(&record).map_err(S3Error::internal)
            })
            .and_then(|bytes| self.write_atomic(&self.marker_path(bucket, key), &bytes));
        if recorded.is_err() {
            // No record (a full disk, say): the directories made for it would stand unlisted
            // and keep the bucket from being deleted. Removed as a delete removes them.
            drop(dirs);
            let _dirs = self.dirs_exclusive(bucket);
            self.remove_unmarked_dir(bucket, dir, &path);
        }
        recorded.map_err(|e| e.key(key))
    }

    /// Replaces the metadata of marker `key` (tagging).
    pub(super) fn update_marker(
        &self,
        bucket: &str,
        key: &str,
        dir: &str,
        f: impl FnOnce(&mut ObjectMeta),
    ) -> S3Result<ObjectMeta> {
        let _guard = self.lock_key(bucket, key);
        let mut meta = self
            .marker(bucket, key, dir)?
            .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchKey).bucket(bucket).key(key))?;
        f(&mut meta);
        let bytes = serde_json::to_vec(&meta).map_err(S3Error::internal)?;
        self.write_atomic(&self.marker_path(bucket, key), &bytes)?;
        Ok(meta)
    }

    /// Deletes marker `key` (directory `dir`): its record, then the directory if nothing is
    /// left in it, and the parents that leaves empty. A missing marker is no error.
    pub(super) fn delete_marker(
        &self,
        bucket: &str,
        key: &str,
        dir: &str,
        precondition: &Precondition,
    ) -> S3Result<()> {
        let path = object_path(&self.bucket_dir(bucket), dir)?;
        {
            let _guard = self.lock_key(bucket, key);
            precondition.check(self.marker(bucket, key, dir)?.as_ref(), key)?;
            match fs::remove_file(self.marker_path(bucket, key)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(S3Error::internal(e)),
            }
        }
        let _dirs = self.dirs_exclusive(bucket);
        self.remove_unmarked_dir(bucket, dir, &path);
        Ok(())
    }

    /// Removes directory `dir` of `bucket` (at `path`) if it is empty and marks nothing, and
    /// the directories that leaves empty above it. Unless a marker was made there meanwhile:
    /// its record is written under the directory lock, which the caller holds exclusively.
    fn remove_unmarked_dir(&self, bucket: &str, dir: &str, path: &Path) {
        if !self.is_marked(bucket, dir) && fs::remove_dir(path).is_ok() {
            self.remove_emptied_dirs(bucket, path);
        }
    }

    /// Removes the directories above `path` (in `bucket`'s data tree) that are empty and not
    /// marked, nearest first, up to the bucket's directory. The caller holds the bucket's
    /// directory lock exclusively.
    pub(super) fn remove_emptied_dirs(&self, bucket: &str, path: &Path) {
        let stop = self.bucket_dir(bucket);
        let mut cur = path.parent();
        while let Some(dir) = cur {
            let Ok(rel) = dir.strip_prefix(&stop) else {
                break;
            };
            let rel = rel.to_str().unwrap_or_default();
            if rel.is_empty() || self.is_marked(bucket, rel) || fs::remove_dir(dir).is_err() {
                break;
            }
            cur = dir.parent();
        }
    }

    /// Forgets the markers of a bucket being deleted (empty, so it has none left standing), or
    /// created (a crash may have left a deleted namesake's records).
    pub(super) fn drop_markers(&self, bucket: &str) {
        let _ = fs::remove_dir_all(self.sys.join("markers").join(bucket));
    }
}
