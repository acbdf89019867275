//! A small in-memory cache of object metadata, so HEAD and GET do not read and parse the
//! metadata file of an object that has not changed.
//!
//! The filesystem stays the source of truth. An entry is keyed by the object's data path and
//! holds the [`Stamp`] (device, inode, size, mtime and ctime to the nanosecond) of the data
//! file it was read beside; a lookup hits only when a fresh `stat` of the data file shows the
//! same stamp, so a file replaced or rewritten by other means than S3 is read again.
//!
//! Invariants:
//! - an entry is only inserted from a consistent pair (data and metadata read under the key's
//!   lock, see `Store::read_pair`);
//! - every server write of an object's metadata (commit, tagging, delete) calls
//!   [`MetaCache::invalidate`] *after* its change is on disk;
//! - a reader that missed takes a [`Ticket`] before it reads the disk and inserts only if no
//!   invalidation touched the shard since: otherwise a reader that read the old pair just
//!   before a write could re-insert it after the write's invalidation. Such a reader simply
//!   leaves the entry out.
//!
//! - a hit means the bucket existed when the entry was cached; deleting a bucket clears the
//!   cache.
//!
//! Bounded: each shard holds at most [`SHARD_CAPACITY`] entries and is emptied when full.

use std::collections::HashMap;
use std::fs;
use std::hash::{BuildHasher, RandomState};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::ObjectMeta;

const SHARDS: usize = 16;
/// Entries per shard (so at most 4096 objects' metadata, a few MB at most).
pub const SHARD_CAPACITY: usize = 256;

/// What identifies one version of a data file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    pub fn of(stat: &fs::Metadata) -> Stamp {
        Stamp {
            dev: stat.dev(),
            ino: stat.ino(),
            size: stat.size(),
            mtime: (stat.mtime(), stat.mtime_nsec()),
            ctime: (stat.ctime(), stat.ctime_nsec()),
        }
    }
}

#[derive(Debug)]
struct Entry {
    stamp: Stamp,
    meta: Arc<ObjectMeta>,
}

#[derive(Debug, Default)]
struct Shard {
    /// Bumped by every invalidation in this shard.
    generation: u64,
    entries: HashMap<PathBuf, Entry>,
}

/// Permission to insert what a reader is about to read from disk, if nothing changed since.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    shard: usize,
    generation: u64,
}

#[derive(Debug)]
pub struct MetaCache {
    hasher: RandomState,
    shards: Vec<Mutex<Shard>>,
}

impl Default for MetaCache {
    fn default() -> MetaCache {
        MetaCache {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl MetaCache {
    fn shard_of(&self, path: &Path) -> usize {
        (self.hasher.hash_one(path) % SHARDS as u64) as usize
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, Shard> {
        self.shards[shard]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached metadata of the data file at `path` if it was read beside a file with
    /// `stamp`; otherwise a ticket for [`MetaCache::insert`].
    pub fn get(&self, path: &Path, stamp: &Stamp) -> Result<Arc<ObjectMeta>, Ticket> {
        let shard = self.shard_of(path);
        let guard = self.lock(shard);
        match guard.entries.get(path) {
            Some(e) if e.stamp == *stamp => Ok(e.meta.clone()),
            _ => Err(Ticket {
                shard,
                generation: guard.generation,
            }),
        }
    }

    /// Caches `meta`, read with `stamp` after `ticket` was taken, unless the shard was
    /// invalidated in between.
    pub fn insert(&self, ticket: Ticket, path: &Path, stamp: Stamp, meta: Arc<ObjectMeta>) {
        let mut guard = self.lock(ticket.shard);
        if guard.generation != ticket.generation {
            return;
        }
        if guard.entries.len() >= SHARD_CAPACITY && !guard.entries.contains_key(path) {
            guard.entries.clear();
        }
        guard
            .entries
            .insert(path.to_path_buf(), Entry { stamp, meta });
    }

    /// Forgets everything (a bucket was deleted: lookups that hit skip the bucket check).
    pub fn clear(&self) {
        for shard in 0..SHARDS {
            let mut guard = self.lock(shard);
            guard.generation += 1;
            guard.entries.clear();
        }
    }

    /// Forgets `path`; call after the change to its data or metadata is on disk.
    pub fn invalidate(&self, path: &Path) {
        let mut guard = self.lock(self.shard_of(path));
        guard.generation += 1;
        guard.entries.remove(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(etag: &str) -> Arc<ObjectMeta> {
        Arc::new(ObjectMeta {
            etag: etag.to_owned(),
            ..ObjectMeta::default()
        })
    }

    fn stamp(ino: u64) -> Stamp {
        Stamp {
            dev: 1,
            ino,
            size: 0,
            mtime: (0, 0),
            ctime: (0, 0),
        }
    }

    #[test]
    fn a_hit_needs_the_same_stamp() {
        let cache = MetaCache::default();
        let p = Path::new("/d/b/k");
        let ticket = cache.get(p, &stamp(1)).unwrap_err();
        cache.insert(ticket, p, stamp(1), meta("a"));
        assert_eq!(cache.get(p, &stamp(1)).unwrap().etag, "a");
        assert!(cache.get(p, &stamp(2)).is_err(), "another file at the path");
        assert!(cache.get(Path::new("/d/b/other"), &stamp(1)).is_err());
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_cached() {
        let cache = MetaCache::default();
        let p = Path::new("/d/b/k");
        // A reader takes its ticket and reads the old pair ...
        let ticket = cache.get(p, &stamp(1)).unwrap_err();
        // ... a writer changes the metadata and invalidates ...
        cache.invalidate(p);
        // ... and the reader's late insert is refused.
        cache.insert(ticket, p, stamp(1), meta("old"));
        assert!(cache.get(p, &stamp(1)).is_err());
        let ticket = cache.get(p, &stamp(1)).unwrap_err();
        cache.insert(ticket, p, stamp(1), meta("new"));
        assert_eq!(cache.get(p, &stamp(1)).unwrap().etag, "new");
        cache.invalidate(p);
        assert!(cache.get(p, &stamp(1)).is_err());
    }

    #[test]
    fn shards_stay_bounded() {
        let cache = MetaCache::default();
        for i in 0..(SHARDS * SHARD_CAPACITY * 3) as u64 {
            let p = PathBuf::from(format!("/d/b/{i}"));
            let ticket = cache.get(&p, &stamp(i)).unwrap_err();
            cache.insert(ticket, &p, stamp(i), meta("x"));
        }
        for shard in &cache.shards {
            assert!(shard.lock().unwrap().entries.len() <= SHARD_CAPACITY);
        }
    }
}
