//! Objects as files on a real filesystem (SPEC X1–X5).
//!
//! Layout under the data directory:
//! - `<data>/<bucket>/<key>`: the object's bytes, `/` in keys mapping to directories;
//! - `<data>/.keygate/buckets/<bucket>.json`: bucket metadata (creation time, tags, policy);
//! - `<data>/.keygate/meta/<bucket>/<key>`: object metadata (JSON) (ETag, content type, user
//!   metadata, tags, checksum), never inside the object file;
//! - `<data>/.keygate/markers/<bucket>/<hash>`: folder markers' metadata (keys ending in `/`,
//!   stored as the directory they name: see `markers`), and `<data>/.keygate/empty`, the
//!   empty file their bytes are read from;
//! - `<data>/.keygate/tmp/`: temp files, on the same filesystem so `rename` is atomic;
//! - `<data>/.keygate/pending/<inode>`: an object's metadata staged while its data file is
//!   renamed into place (crash recovery promotes or removes what a crash left);
//! - `<data>/.keygate/multipart/<upload-id>/`: parts of uploads in progress.
//!
//! Invariants: a write is temp file + fsync + rename, so a reader sees the old or the new
//! object, never a part (X4). The data rename and the metadata rename of one key happen under
//! a per-key lock that readers also take while they read the pair, so a reader never sees new
//! bytes with old metadata. Pairs read that way are cached in memory (`meta_cache`), keyed by
//! the data file's stamp (inode, size, times); a later reader whose `stat` shows the same stamp
//! reuses the metadata without the lock, and every write invalidates after it is on disk.
//! A delete removes the object's two files and the directories its key leaves empty (in the
//! data and the metadata tree) under its bucket's directory lock taken exclusively; writes
//! create directories and rename into them under the same lock taken shared, so no directory
//! vanishes between a write's creating it and its rename (and a bucket deleted meanwhile is
//! `NoSuchBucket`), and no write finds a key's data file gone but its metadata file still
//! standing where its own directory must go. A file and a directory of one name that two
//! writes race to make: the loser is 409, not 500 (unless a crash left a metadata file
//! without its data file where a directory must go).
//! Files and implicitly created directories get the writer's uid/gid
//! when ownership is on (X1–X3). Temp files are never visible as objects.

pub mod keys;
mod markers;
mod meta;
mod meta_cache;
pub mod multipart;
mod objects;
#[cfg(test)]
mod tests;

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};

pub use meta::{BucketMeta, ObjectMeta};
pub use objects::{ListPage, ListQuery, ListedObject, ObjectReader, Precondition, TempObject};

use crate::s3::error::{S3Error, S3ErrorCode, S3Result};

/// POSIX owner given to what a request writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl Owner {
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };
    /// The conventional `nobody:nogroup`: anonymous writes (X2).
    pub const NOBODY: Owner = Owner {
        uid: 65534,
        gid: 65534,
    };
}

/// `UID:GID`, two decimal numbers below 2^32 − 1 (as `chown` takes them, names aside; to
/// `chown`, 4294967295 is −1, "leave unchanged").
impl std::str::FromStr for Owner {
    type Err = String;

    fn from_str(s: &str) -> Result<Owner, String> {
        let number = |n: &str| {
            let digits = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
            digits
                .then(|| n.parse::<u32>().ok())
                .flatten()
                .filter(|&id| id != u32::MAX)
        };
        s.split_once(':')
            .and_then(|(uid, gid)| {
                Some(Owner {
                    uid: number(uid)?,
                    gid: number(gid)?,
                })
            })
            .ok_or_else(|| {
                format!("{s:?} is not UID:GID (two numbers below 4294967295, e.g. 65534:65534)")
            })
    }
}

const KEY_LOCKS: usize = 64;

/// The lock of `locks` that `id` hashes to (a poisoned lock is taken all the same: what it
/// guards is on disk, and every step there is a rename).
fn lock_slot(locks: &[Mutex<()>], id: impl std::hash::Hash) -> MutexGuard<'_, ()> {
    locks[slot(locks.len(), id)]
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Which of `n` lock stripes `id` hashes to.
fn slot(n: usize, id: impl std::hash::Hash) -> usize {
    use std::hash::{BuildHasher, BuildHasherDefault};
    let h = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(id);
    (h % n as u64) as usize
}

/// The filesystem object store.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    sys: PathBuf,
    ownership: bool,
    key_locks: Vec<Mutex<()>>,
    /// One per upload id's hash: a part's data and record are replaced, and an upload is
    /// completed or aborted, under its upload's lock (see `multipart`). Apart from
    /// `key_locks`, so completion can take a key's lock inside its upload's.
    upload_locks: Vec<Mutex<()>>,
    /// One per bucket name's hash: shared by writes while they create directories and
    /// rename into them, exclusive while a delete removes an object's files and the
    /// directories that leaves empty (see above).
    /// Always the innermost lock: taken inside a key's or an upload's, never the reverse.
    dir_locks: Vec<RwLock<()>>,
    meta_cache: meta_cache::MetaCache,
}

impl Store {
    /// Opens (creating if needed) the store under `root`. With `ownership`, files are chowned
    /// to the writer; the caller checks beforehand that the process may do so.
    pub fn open(root: &Path, ownership: bool) -> io::Result<Store> {
        let sys = root.join(".keygate");
        for dir in ["buckets", "meta", "markers", "tmp", "multipart", "pending"] {
            fs::create_dir_all(sys.join(dir))?;
        }
        // What a folder marker's bytes are read from: nothing.
        fs::File::create(sys.join("empty"))?;
        // Leftover temp files from a crash are never objects: clear them.
        for entry in fs::read_dir(sys.join("tmp"))? {
            let _ = fs::remove_file(entry?.path());
        }
        let store = Store {
            root: root.to_path_buf(),
            sys,
            ownership,
            key_locks: (0..KEY_LOCKS).map(|_| Mutex::new(())).collect(),
            upload_locks: (0..KEY_LOCKS).map(|_| Mutex::new(())).collect(),
            dir_locks: (0..KEY_LOCKS).map(|_| RwLock::new(())).collect(),
            meta_cache: meta_cache::MetaCache::default(),
        };
        store.recover_pending()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join(bucket)
    }

    fn bucket_meta_path(&self, bucket: &str) -> PathBuf {
        self.sys.join("buckets").join(format!("{bucket}.json"))
    }

    fn tmp_dir(&self) -> PathBuf {
        self.sys.join("tmp")
    }

    fn lock_key(&self, bucket: &str, key: &str) -> MutexGuard<'_, ()> {
        lock_slot(&self.key_locks, (bucket, key))
    }

    fn lock_upload(&self, upload_id: &str) -> MutexGuard<'_, ()> {
        lock_slot(&self.upload_locks, upload_id)
    }

    /// The bucket's directory lock, shared: for creating directories and renaming into them.
    fn dirs_shared(&self, bucket: &str) -> RwLockReadGuard<'_, ()> {
        self.dir_locks[slot(self.dir_locks.len(), bucket)]
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The bucket's directory lock, exclusive: for removing directories.
    fn dirs_exclusive(&self, bucket: &str) -> RwLockWriteGuard<'_, ()> {
        self.dir_locks[slot(self.dir_locks.len(), bucket)]
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Chowns `path` to `owner` when ownership is on.
    fn own(&self, path: &Path, owner: Owner) -> io::Result<()> {
        if self.ownership {
            std::os::unix::fs::chown(path, Some(owner.uid), Some(owner.gid))?;
        }
        Ok(())
    }

    /// Creates the missing directories between `base` (which exists) and `dir`, each owned
    /// by `owner` with mode 0755; existing directories are left alone (X3). The caller holds
    /// the bucket's directory lock (shared), so none of them is removed meanwhile.
    fn create_dirs(&self, base: &Path, dir: &Path, owner: Owner) -> S3Result<()> {
        let rel = dir.strip_prefix(base).map_err(S3Error::internal)?;
        let mut cur = base.to_path_buf();
        for part in rel.components() {
            cur.push(part);
            match fs::DirBuilder::new().mode(0o755).create(&cur) {
                Ok(()) => {
                    fs::set_permissions(&cur, fs::Permissions::from_mode(0o755))
                        .map_err(S3Error::internal)?;
                    self.own(&cur, owner).map_err(S3Error::internal)?;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if !cur.is_dir() {
                        return Err(S3Error::new(S3ErrorCode::ParentIsObject));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                    return Err(S3Error::new(S3ErrorCode::ParentIsObject));
                }
                Err(e) => return Err(S3Error::internal(e)),
            }
        }
        Ok(())
    }

    // ---- buckets -------------------------------------------------------------------------

    pub fn bucket_exists(&self, bucket: &str) -> bool {
        self.bucket_meta_path(bucket).is_file()
    }

    fn require_bucket(&self, bucket: &str) -> S3Result<()> {
        if self.bucket_exists(bucket) {
            Ok(())
        } else {
            Err(S3Error::new(S3ErrorCode::NoSuchBucket).bucket(bucket))
        }
    }

    pub fn create_bucket(
        &self,
        bucket: &str,
        owner: Owner,
        now: time::OffsetDateTime,
    ) -> S3Result<()> {
        keys::validate_new_bucket(bucket)?;
        // Not while a bucket of this name is being deleted (it removes the directory, then the
        // metadata, which would be this bucket's).
        let _dirs = self.dirs_exclusive(bucket);
        let dir = self.bucket_dir(bucket);
        match fs::DirBuilder::new().mode(0o755).create(&dir) {
            Ok(()) => self.drop_markers(bucket),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(S3Error::new(S3ErrorCode::BucketAlreadyOwnedByYou).bucket(bucket));
            }
            Err(e) => return Err(S3Error::internal(e)),
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).map_err(S3Error::internal)?;
        self.own(&dir, owner).map_err(S3Error::internal)?;
        let meta = BucketMeta {
            created: now.unix_timestamp(),
            owner,
            tags: None,
            policy: None,
        };
        self.write_bucket_meta(bucket, &meta)
    }

    pub fn bucket_meta(&self, bucket: &str) -> S3Result<BucketMeta> {
        let path = self.bucket_meta_path(bucket);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(S3Error::internal),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(S3Error::new(S3ErrorCode::NoSuchBucket).bucket(bucket))
            }
            Err(e) => Err(S3Error::internal(e)),
        }
    }

    pub fn write_bucket_meta(&self, bucket: &str, meta: &BucketMeta) -> S3Result<()> {
        let bytes = serde_json::to_vec(meta).map_err(S3Error::internal)?;
        self.write_atomic(&self.bucket_meta_path(bucket), &bytes)
    }

    /// Deletes an empty bucket. Under its directory lock (exclusive), so no write lands in
    /// it meanwhile (a write waiting on the lock then finds no bucket: `NoSuchBucket`); the
    /// directory goes first, so a bucket is never left unlisted with its directory in place.
    pub fn delete_bucket(&self, bucket: &str) -> S3Result<()> {
        let _dirs = self.dirs_exclusive(bucket);
        self.require_bucket(bucket)?;
        let dir = self.bucket_dir(bucket);
        let not_empty = || S3Error::new(S3ErrorCode::BucketNotEmpty).bucket(bucket);
        if self.has_uploads(bucket)? {
            return Err(not_empty());
        }
        match fs::remove_dir(&dir) {
            // Gone already: a crash between the two removals left only the metadata.
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => return Err(not_empty()),
            Err(e) => return Err(S3Error::internal(e)),
        }
        fs::remove_file(self.bucket_meta_path(bucket)).map_err(S3Error::internal)?;
        self.meta_cache.clear();
        let _ = fs::remove_dir_all(self.sys.join("meta").join(bucket));
        self.drop_markers(bucket);
        Ok(())
    }

    /// All buckets, sorted by name, with their creation times.
    pub fn list_buckets(&self) -> S3Result<Vec<(String, i64)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.sys.join("buckets")).map_err(S3Error::internal)? {
            let entry = entry.map_err(S3Error::internal)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(bucket) = name.strip_suffix(".json") else {
                continue;
            };
            if let Ok(meta) = self.bucket_meta(bucket) {
                out.push((bucket.to_owned(), meta.created));
            }
        }
        out.sort();
        Ok(out)
    }

    // ---- small atomic files --------------------------------------------------------------

    /// Writes `bytes` to `path` through a temp file, fsync and rename.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> S3Result<()> {
        self.write_atomic_under(path, bytes, || ())
    }

    /// [`Store::write_atomic`], with `guard` held only around creating `path`'s directories
    /// and the rename (the fsync before it runs without): for files in trees whose emptied
    /// directories deletes remove (see [`Store::dirs_shared`]).
    fn write_atomic_under<G>(
        &self,
        path: &Path,
        bytes: &[u8],
        guard: impl FnOnce() -> G,
    ) -> S3Result<()> {
        use std::io::Write;
        let tmp = self.tmp_dir().join(random_name());
        let result = (|| -> io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            let _held = guard();
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(S3Error::internal)
    }
}

/// A random 32-hex-character name for temp files and upload ids.
pub fn random_name() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}
