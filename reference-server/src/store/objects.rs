//! Object writes (temp file, fsync, rename), reads, deletes and listings.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keygate_sigv4::{ChecksumAlgorithm, Checksummer};
use md5::{Digest, Md5};
use tokio::io::AsyncWriteExt;

use super::keys::{self, object_path};
use super::meta_cache::Stamp;
use super::{random_name, ObjectMeta, Owner, Store};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};

/// An object being written: bytes go to a temp file while their MD5 is computed. Dropping it
/// without [`Store::commit`] removes the temp file, so an aborted upload leaves nothing.
#[derive(Debug)]
pub struct TempObject {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    md5: Md5,
    size: u64,
}

impl TempObject {
    pub async fn write(&mut self, bytes: &[u8]) -> S3Result<()> {
        self.md5.update(bytes);
        self.size += bytes.len() as u64;
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| S3Error::internal("temp object already closed"))?;
        file.write_all(bytes).await.map_err(S3Error::internal)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Flushes and fsyncs the bytes; returns the MD5 of everything written.
    pub async fn finish(&mut self) -> S3Result<[u8; 16]> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| S3Error::internal("temp object already closed"))?;
        file.flush().await.map_err(S3Error::internal)?;
        file.sync_all().await.map_err(S3Error::internal)?;
        Ok(self.md5.clone().finalize().into())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adopts a temp file that was written and fsynced by other means (multipart assembly).
    pub(super) fn adopt(path: PathBuf, size: u64) -> TempObject {
        TempObject {
            path,
            file: None,
            md5: Md5::new(),
            size,
        }
    }
}

/// What a conditional write or delete requires of the key's current object (S3's
/// `If-None-Match: *` and `If-Match`), checked under the key's lock as the write or delete
/// takes effect: of concurrent create-only writes exactly one succeeds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Precondition {
    /// `If-None-Match: *`: no object at the key.
    pub absent: bool,
    /// `If-Match`: an object whose ETag is in this list (`*`: any object).
    pub etag_in: Option<String>,
}

impl Precondition {
    /// No condition.
    pub const NONE: Precondition = Precondition {
        absent: false,
        etag_in: None,
    };

    /// The ETags of an `If-Match` list, quotes removed (`*` for any).
    fn etags(list: &str) -> impl Iterator<Item = &str> {
        list.split(',').map(|t| t.trim().trim_matches('"'))
    }

    /// Whether an `If-Match` list is `*` alone: it asks only whether the object exists.
    pub fn is_any(list: &str) -> bool {
        Self::etags(list).all(|t| t == "*")
    }

    /// Whether `current` (`None`: no object) meets it: 412 `PreconditionFailed` if not, 404
    /// `NoSuchKey` for an `If-Match` on no object.
    pub fn check(&self, current: Option<&ObjectMeta>, key: &str) -> S3Result<()> {
        if self.absent && current.is_some() {
            return Err(S3Error::new(S3ErrorCode::PreconditionFailed).key(key));
        }
        let Some(list) = &self.etag_in else {
            return Ok(());
        };
        let Some(meta) = current else {
            return Err(S3Error::new(S3ErrorCode::NoSuchKey).key(key));
        };
        let matches = Self::etags(list).any(|t| t == "*" || t == meta.etag);
        if !matches {
            return Err(S3Error::new(S3ErrorCode::PreconditionFailed).key(key));
        }
        Ok(())
    }

    /// Checks it against the object at `path` (its metadata at `meta_path`); the caller
    /// holds the key's lock. No condition reads nothing.
    fn check_at(&self, path: &Path, meta_path: &Path, key: &str) -> S3Result<()> {
        if *self == Precondition::NONE {
            return Ok(());
        }
        let current = read_pair(path, meta_path, false).transpose()?;
        self.check(current.as_ref().map(|(_, _, meta)| meta), key)
    }
}

impl Drop for TempObject {
    fn drop(&mut self) {
        // After a successful commit the path no longer exists and this is a no-op.
        let _ = fs::remove_file(&self.path);
    }
}

/// An open object: its file positioned at the start, and its metadata, read as one pair.
#[derive(Debug)]
pub struct ObjectReader {
    pub file: fs::File,
    pub meta: Arc<ObjectMeta>,
}

/// Parameters of a listing.
#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Only keys (or common prefixes) strictly after this one.
    pub start_after: Option<String>,
    pub max_keys: usize,
}

#[derive(Debug, Clone)]
pub struct ListedObject {
    pub key: String,
    pub meta: ObjectMeta,
}

#[derive(Debug, Default)]
pub struct ListPage {
    pub objects: Vec<ListedObject>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last key or common prefix returned, from which a next page starts.
    pub last: Option<String>,
}

impl Store {
    /// The metadata file mirrors the object's path in a tree of its own, with the same
    /// name: no suffix, so a 255-byte key segment stays a valid file name, and no clash,
    /// since the data tree can never hold a file and a directory of one name either.
    fn meta_path(&self, bucket: &str, key: &str) -> S3Result<PathBuf> {
        object_path(&self.sys.join("meta").join(bucket), key)
    }

    /// Starts writing an object (or a part, or a copy) into a temp file.
    pub async fn temp_object(&self) -> S3Result<TempObject> {
        let path = self.tmp_dir().join(random_name());
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(S3Error::internal)?;
        Ok(TempObject {
            path,
            file: Some(file),
            md5: Md5::new(),
            size: 0,
        })
    }

    /// Makes a finished temp object visible as `bucket/key` with `meta`, owned by
    /// `meta.owner`: directories for the key are created as needed (X3), the file is chowned,
    /// and under the key's lock its metadata (naming the file's inode) is staged durably in
    /// `.keygate/pending/<inode>`, the file is renamed into place, and the staged metadata is
    /// renamed over the key's. A crash between the two renames leaves the staged record,
    /// which [`Store::recover_pending`] promotes at the next start, so new bytes never stand
    /// beside old metadata (an ETag that is not theirs).
    pub fn commit(
        &self,
        tmp: TempObject,
        bucket: &str,
        key: &str,
        meta: &ObjectMeta,
        precondition: &Precondition,
    ) -> S3Result<()> {
        self.require_bucket(bucket)?;
        if let Some(dir) = keys::marker_dir(key) {
            return self.commit_marker(tmp, bucket, key, dir, meta, precondition);
        }
        let bucket_dir = self.bucket_dir(bucket);
        let dest = object_path(&bucket_dir, key)?;
        let meta_path = self.meta_path(bucket, key)?;
        let inode = fs::metadata(tmp.path()).map_err(S3Error::internal)?.ino();
        let staged = ObjectMeta {
            inode: Some(inode),
            object: Some((bucket.to_owned(), key.to_owned())),
            ..meta.clone()
        };
        let meta_bytes = serde_json::to_vec(&staged).map_err(S3Error::internal)?;
        let pending = self.pending_path(inode);
        let parent = dest
            .parent()
            .ok_or_else(|| S3Error::internal("object path without parent"))?;
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644))
            .map_err(S3Error::internal)?;
        self.own(tmp.path(), meta.owner)
            .map_err(S3Error::internal)?;
        let _guard = self.lock_key(bucket, key);
        precondition.check_at(&dest, &meta_path, key)?;
        self.write_atomic(&pending, &meta_bytes)?;
        // Directories, data rename and metadata rename under the directory lock: a delete of
        // another key cannot remove a directory on the way, nor the bucket go, meanwhile.
        let dirs = self.dirs_shared(bucket);
        let placed = self
            .require_bucket(bucket)
            .and_then(|()| self.create_dirs(&bucket_dir, parent, meta.owner))
            .and_then(|()| match dest.is_dir() {
                true => Err(S3Error::new(S3ErrorCode::ObjectExistsAsDirectory)),
                // A write below the key (same lock, shared) may make the directory meanwhile.
                false => fs::rename(tmp.path(), &dest).map_err(|e| match e.kind() {
                    io::ErrorKind::IsADirectory => {
                        S3Error::new(S3ErrorCode::ObjectExistsAsDirectory)
                    }
                    _ => S3Error::internal(e),
                }),
            });
        if let Err(e) = placed {
            drop(dirs);
            let _ = fs::remove_file(&pending);
            return Err(e.key(key));
        }
        let promoted = promote(&pending, &meta_path);
        drop(dirs);
        self.meta_cache.invalidate(&dest);
        promoted.map_err(S3Error::internal)?;
        sync_dir(parent);
        Ok(())
    }

    pub(super) fn pending_path(&self, inode: u64) -> PathBuf {
        self.sys.join("pending").join(inode.to_string())
    }

    /// Crash recovery, at open: a staged record whose object's data file is the one it was
    /// staged for (same inode) is promoted to the key's metadata; any other record belongs to
    /// a write that never became visible and is removed.
    pub(super) fn recover_pending(&self) -> io::Result<()> {
        for entry in fs::read_dir(self.sys.join("pending"))? {
            let path = entry?.path();
            let staged: Option<ObjectMeta> = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            let target = staged.and_then(|m| {
                let (bucket, key) = m.object?;
                let data = object_path(&self.bucket_dir(&bucket), &key).ok()?;
                let ino = fs::metadata(data).ok()?.ino();
                (Some(ino) == m.inode)
                    .then(|| self.meta_path(&bucket, &key).ok())
                    .flatten()
            });
            match target {
                Some(meta_path) => promote(&path, &meta_path)?,
                None => fs::remove_file(&path)?,
            }
        }
        Ok(())
    }

    /// Opens `bucket/key` with its metadata (GET, CopyObject's source).
    pub fn open_object(&self, bucket: &str, key: &str) -> S3Result<ObjectReader> {
        let (file, meta) = self.lookup(bucket, key, true)?;
        let file = match file {
            None if keys::marker_dir(key).is_some() => {
                Some(fs::File::open(self.empty_file()).map_err(S3Error::internal)?)
            }
            file => file,
        };
        let file = file.ok_or_else(|| S3Error::internal("object looked up without its file"))?;
        Ok(ObjectReader { file, meta })
    }

    /// The metadata of `bucket/key`, without opening its data file (HEAD).
    pub fn head_object(&self, bucket: &str, key: &str) -> S3Result<Arc<ObjectMeta>> {
        self.lookup(bucket, key, false).map(|(_, meta)| meta)
    }

    /// Reads only the metadata of `bucket/key`.
    pub fn object_meta(&self, bucket: &str, key: &str) -> S3Result<ObjectMeta> {
        self.head_object(bucket, key).map(Arc::unwrap_or_clone)
    }

    /// The data file of `bucket/key` (opened if `open`) and its metadata, as one pair: from
    /// the cache when the data file's stamp is the one the cached metadata was read beside
    /// (no lock, no metadata read), otherwise read under the key's lock and cached.
    ///
    /// A hit skips the bucket check: the entry was cached after the check passed, and a
    /// bucket is only deleted empty, which clears the cache. Every other outcome checks the
    /// bucket first, so a missing bucket still answers `NoSuchBucket` before anything else.
    fn lookup(
        &self,
        bucket: &str,
        key: &str,
        open: bool,
    ) -> S3Result<(Option<fs::File>, Arc<ObjectMeta>)> {
        let no_such_key = || S3Error::new(S3ErrorCode::NoSuchKey).bucket(bucket).key(key);
        if let Some(dir) = keys::marker_dir(key) {
            // As below: a missing bucket is `NoSuchBucket` whatever its name.
            self.require_bucket(bucket)?;
            keys::validate_bucket(bucket)?;
            let meta = self.marker(bucket, key, dir)?.ok_or_else(no_such_key)?;
            return Ok((None, Arc::new(meta)));
        }
        // Unvalidated names are never turned into a path before the bucket check.
        let path = match keys::validate_bucket(bucket).and_then(|()| keys::readable_key(key)) {
            Ok(true) => object_path(&self.bucket_dir(bucket), key)?,
            Ok(false) => {
                self.require_bucket(bucket)?;
                return Err(no_such_key());
            }
            Err(e) => {
                self.require_bucket(bucket)?;
                return Err(e);
            }
        };
        let ticket = match data_file(&path, open) {
            Some(Ok((file, stat))) => match self.meta_cache.get(&path, &Stamp::of(&stat)) {
                Ok(meta) => return Ok((file, meta)),
                Err(ticket) => Ok(ticket),
            },
            Some(Err(e)) => Err(e),
            None => Err(no_such_key()),
        };
        self.require_bucket(bucket)?;
        let ticket = ticket?;
        let meta_path = self.meta_path(bucket, key)?;
        let _guard = self.lock_key(bucket, key);
        let (file, stat, meta) = read_pair(&path, &meta_path, open).ok_or_else(no_such_key)??;
        let meta = Arc::new(meta);
        self.meta_cache
            .insert(ticket, &path, Stamp::of(&stat), meta.clone());
        Ok((file, meta))
    }

    /// Replaces the metadata of an existing object (tagging), keeping its bytes: read,
    /// changed and written under the key's lock, so a concurrent overwrite is never undone.
    pub fn update_meta(
        &self,
        bucket: &str,
        key: &str,
        f: impl FnOnce(&mut ObjectMeta),
    ) -> S3Result<ObjectMeta> {
        self.require_bucket(bucket)?;
        let no_such_key = || S3Error::new(S3ErrorCode::NoSuchKey).bucket(bucket).key(key);
        if !keys::readable_key(key)? {
            return Err(no_such_key());
        }
        if let Some(dir) = keys::marker_dir(key) {
            return self.update_marker(bucket, key, dir, f);
        }
        let path = object_path(&self.bucket_dir(bucket), key)?;
        let meta_path = self.meta_path(bucket, key)?;
        let _guard = self.lock_key(bucket, key);
        let (_, _, mut meta) = read_pair(&path, &meta_path, false).ok_or_else(no_such_key)??;
        f(&mut meta);
        let bytes = serde_json::to_vec(&meta).map_err(S3Error::internal)?;
        // Its directories in the metadata tree may be created: the directory lock, as a write.
        let written = self.write_atomic_under(&meta_path, &bytes, || self.dirs_shared(bucket));
        self.meta_cache.invalidate(&path);
        written.map(|()| meta)
    }

    /// Deletes `bucket/key`; a missing key is not an error (S3 answers 204 either way).
    /// Its two files, and the directories that leaves empty up to the bucket directory, are
    /// removed under the key's lock and, inside it, the bucket's directory lock (exclusive).
    pub fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        precondition: &Precondition,
    ) -> S3Result<()> {
        self.require_bucket(bucket)?;
        if !keys::readable_key(key)? {
            // Held by no object: as a delete of a missing key.
            return precondition.check(None, key);
        }
        if let Some(dir) = keys::marker_dir(key) {
            return self.delete_marker(bucket, key, dir, precondition);
        }
        let path = object_path(&self.bucket_dir(bucket), key)?;
        let meta_path = self.meta_path(bucket, key)?;
        let _guard = self.lock_key(bucket, key);
        precondition.check_at(&path, &meta_path, key)?;
        if path.is_dir() {
            return Ok(());
        }
        // Both files go under the directory lock, exclusive: a write below the key (which
        // takes it shared) never finds the data file gone and its metadata file still there,
        // blocking the directory of that name it makes in the metadata tree.
        let _dirs = self.dirs_exclusive(bucket);
        match fs::remove_file(&path) {
            Ok(()) => {}
            // A directory by now (made before the lock was ours): no object was there.
            Err(e) if is_missing(&e) || e.kind() == io::ErrorKind::IsADirectory => {}
            Err(e) => return Err(S3Error::internal(e)),
        }
        let _ = fs::remove_file(&meta_path);
        self.meta_cache.invalidate(&path);
        // A key without `/` has no directory of its own to remove.
        if key.contains('/') {
            self.remove_emptied_dirs(bucket, &path);
            remove_empty_parents(&meta_path, &self.sys.join("meta").join(bucket));
        }
        Ok(())
    }

    /// Lists `bucket` in key order (S3 sorts by UTF-8 bytes).
    pub fn list_objects(&self, bucket: &str, q: &ListQuery) -> S3Result<ListPage> {
        self.require_bucket(bucket)?;
        let bucket_dir = self.bucket_dir(bucket);
        // Walk only below the deepest directory the prefix names.
        let walk_from = match q.prefix.rfind('/') {
            Some(i) => &q.prefix[..i],
            None => "",
        };
        let mut keys = Vec::new();
        // A prefix is only a filter: when the directory it names could not hold a key (a NUL,
        // an empty, `.` or `..` segment, a segment or a path too long: X5), nothing matches,
        // and no path is built from it.
        let marked = |rel: &str| self.is_marked(bucket, rel);
        if walk_from.is_empty() {
            collect_keys(&bucket_dir, walk_from, &marked, &mut keys).map_err(S3Error::internal)?;
        } else if let Ok(start_dir) = object_path(&bucket_dir, walk_from) {
            if start_dir.is_dir() && marked(walk_from) {
                keys.push(format!("{walk_from}/"));
            }
            collect_keys(&start_dir, walk_from, &marked, &mut keys).map_err(S3Error::internal)?;
        }
        // Files placed by other means under names no key can have are not objects.
        keys.retain(|k| k.starts_with(q.prefix.as_str()) && keys::validate_put_key(k).is_ok());
        keys.sort_unstable();

        let mut page = ListPage::default();
        let delimiter = q.delimiter.as_deref().filter(|d| !d.is_empty());
        for key in keys {
            let common = delimiter.and_then(|d| {
                let rest = &key[q.prefix.len()..];
                rest.find(d)
                    .map(|i| key[..q.prefix.len() + i + d.len()].to_owned())
            });
            if let Some(after) = q.start_after.as_deref() {
                // After a returned common prefix, the keys it rolled up are skipped too.
                if key.as_str() <= after || common.as_deref() == Some(after) {
                    continue;
                }
            }
            if let Some(cp) = &common {
                if page.common_prefixes.last() == Some(cp) {
                    continue;
                }
            }
            if page.objects.len() + page.common_prefixes.len() >= q.max_keys {
                page.is_truncated = true;
                break;
            }
            match common {
                Some(cp) => {
                    page.last = Some(cp.clone());
                    page.common_prefixes.push(cp);
                }
                None => {
                    let meta = match self.object_meta(bucket, &key) {
                        Ok(m) => m,
                        Err(e) if e.code == S3ErrorCode::NoSuchKey => continue,
                        Err(e) => return Err(e),
                    };
                    page.last = Some(key.clone());
                    page.objects.push(ListedObject { key, meta });
                }
            }
        }
        Ok(page)
    }
}

/// The data file at `path`, opened if `open` (else only `stat`ed), with its stat; `None` when
/// there is no object there (missing, or a directory).
fn data_file(path: &Path, open: bool) -> Option<S3Result<(Option<fs::File>, fs::Metadata)>> {
    let found = if open {
        fs::File::open(path).and_then(|f| Ok((f.metadata()?, Some(f))))
    } else {
        fs::metadata(path).map(|stat| (stat, None))
    };
    match found {
        Ok((stat, file)) if stat.is_file() => Some(Ok((file, stat))),
        Ok(_) => None,
        Err(e) if is_missing(&e) => None,
        Err(e) => Some(Err(S3Error::internal(e))),
    }
}

/// The data file and metadata of one object, as a pair: the caller holds the key's lock, under
/// which writers rename both. An object without a metadata file (placed by other means than
/// S3) gets metadata from its stat.
fn read_pair(
    path: &Path,
    meta_path: &Path,
    open: bool,
) -> Option<S3Result<(Option<fs::File>, fs::Metadata, ObjectMeta)>> {
    let (file, stat) = match data_file(path, open)? {
        Ok(found) => found,
        Err(e) => return Some(Err(e)),
    };
    let meta = match fs::read(meta_path) {
        Ok(bytes) => serde_json::from_slice::<ObjectMeta>(&bytes)
            .map_err(S3Error::internal)
            .map(|m| match m.inode {
                // Not this file's metadata: the file was replaced by other means than S3.
                Some(ino) if ino != stat.ino() => synthesized_meta(&stat),
                _ => m,
            }),
        Err(e) if is_missing(&e) => Ok(synthesized_meta(&stat)),
        Err(e) => Err(S3Error::internal(e)),
    };
    Some(meta.map(|meta| (file, stat, meta)))
}

pub(super) fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// Metadata for a file that was placed under the bucket by other means than S3.
fn synthesized_meta(stat: &fs::Metadata) -> ObjectMeta {
    ObjectMeta {
        etag: format!("{:x}-{:x}", stat.size(), stat.mtime()),
        size: stat.size(),
        modified_ms: stat.mtime() * 1000,
        owner: Owner {
            uid: stat.uid(),
            gid: stat.gid(),
        },
        ..ObjectMeta::default()
    }
}

/// The keys under `dir` (whose key prefix is `rel`), in no order: its files, and its
/// directories' keys with a `/` for those `marked` says are folder markers.
fn collect_keys(
    dir: &Path,
    rel: &str,
    marked: &dyn Fn(&str) -> bool,
    out: &mut Vec<String>,
) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if is_missing(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let key = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let ft = match entry.file_type() {
            Ok(ft) => ft,
            // Deleted since the directory was read.
            Err(e) if is_missing(&e) => continue,
            Err(e) => return Err(e),
        };
        if ft.is_dir() {
            if marked(&key) {
                out.push(format!("{key}/"));
            }
            collect_keys(&entry.path(), &key, marked, out)?;
        } else if ft.is_file() {
            out.push(key);
        }
    }
    Ok(())
}

fn remove_empty_parents(path: &Path, stop: &Path) {
    let mut cur = path.parent();
    while let Some(dir) = cur {
        if dir == stop || !dir.starts_with(stop) || fs::remove_dir(dir).is_err() {
            break;
        }
        cur = dir.parent();
    }
}

/// Renames a staged metadata record over the key's metadata, creating its directories.
fn promote(pending: &Path, meta_path: &Path) -> io::Result<()> {
    if let Some(parent) = meta_path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::rename(pending, meta_path)
}

/// Makes a rename durable by syncing its directory; best effort.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

impl Store {
    /// Copies `src_bucket/src_key` to `dst_bucket/dst_key` (blocking; call off the reactor).
    /// `make_meta` receives the source's metadata, read with the bytes about to be copied, and
    /// returns the destination's (without ETag and size, which the copy sets) with the
    /// algorithm of a checksum to compute over the bytes copied (the object's whole-object
    /// checksum then), or an error that ends the copy before any byte is written.
    pub fn copy_object(
        &self,
        src_bucket: &str,
        src_key: &str,
        dst_bucket: &str,
        dst_key: &str,
        make_meta: impl FnOnce(&ObjectMeta) -> S3Result<(ObjectMeta, Option<ChecksumAlgorithm>)>,
        precondition: &Precondition,
    ) -> S3Result<ObjectMeta> {
        let mut src = self.open_object(src_bucket, src_key)?;
        self.require_bucket(dst_bucket)?;
        let (mut meta, checksum) = make_meta(&src.meta)?;
        let mut checksummer = checksum.map(Checksummer::new);
        let (tmp, md5) = self.copy_to_temp(&mut src.file, None, checksummer.as_mut())?;
        let size = tmp.size();
        meta.etag = hex::encode(md5);
        meta.size = size;
        if let Some(c) = checksummer {
            let name = c.algorithm().header_name().to_owned();
            meta.checksum = Some((name, c.finish()));
            meta.checksum_type = Some("FULL_OBJECT".to_owned());
        }
        // A copy is written whole: one part, whatever the source was uploaded in.
        meta.parts = Vec::new();
        meta.part_checksums = Vec::new();
        meta.upload_id = None;
        self.commit(tmp, dst_bucket, dst_key, &meta, precondition)?;
        Ok(meta)
    }

    /// Copies `range` (`start..=end`, offsets in `src`; `None`: all from its current position
    /// on) of `src` into a new temp file, fsynced: its MD5, and the bytes fed to `checksum`
    /// (blocking).
    fn copy_to_temp(
        &self,
        src: &mut fs::File,
        range: Option<(u64, u64)>,
        mut checksum: Option<&mut Checksummer>,
    ) -> S3Result<(TempObject, [u8; 16])> {
        use std::io::{Read, Seek, SeekFrom, Write};
        let path = self.tmp_dir().join(random_name());
        let written = (|| -> io::Result<(u64, [u8; 16])> {
            let mut out = fs::File::create(&path)?;
            let mut md5 = Md5::new();
            let mut left = match range {
                Some((start, end)) => {
                    src.seek(SeekFrom::Start(start))?;
                    end - start + 1
                }
                None => u64::MAX,
            };
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0u64;
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = src.read(&mut buf[..want])?;
                if n == 0 {
                    break;
                }
                md5.update(&buf[..n]);
                if let Some(c) = checksum.as_deref_mut() {
                    c.update(&buf[..n]);
                }
                out.write_all(&buf[..n])?;
                total += n as u64;
                left -= n as u64;
            }
            out.sync_all()?;
            Ok((total, md5.finalize().into()))
        })();
        match written {
            Ok((size, md5)) => Ok((TempObject::adopt(path, size), md5)),
            Err(e) => {
                let _ = fs::remove_file(&path);
                Err(S3Error::internal(e))
            }
        }
    }

    /// Copies bytes of `src_bucket/src_key` into a temp file for a part (UploadPartCopy;
    /// blocking): `range` of the object, resolved against its size by `check`, which receives
    /// the source's metadata, read with the bytes about to be copied, and may refuse the copy
    /// (its conditions) before a byte is written. Returns the temp file and its MD5.
    pub fn copy_part_source(
        &self,
        src_bucket: &str,
        src_key: &str,
        check: impl FnOnce(&ObjectMeta) -> S3Result<Option<(u64, u64)>>,
        checksum: Option<&mut Checksummer>,
    ) -> S3Result<(TempObject, [u8; 16])> {
        let mut src = self.open_object(src_bucket, src_key)?;
        let range = check(&src.meta)?;
        self.copy_to_temp(&mut src.file, range, checksum)
    }
}
