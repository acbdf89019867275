//! Bucket-name and object-key validation, and the key-to-path mapping.
//!
//! Invariant (SPEC X1, X5): a key that passes [`validate_key`] maps to a path strictly inside
//! its bucket directory. Keys are split on `/` into path segments; `.` and `..` segments, empty
//! segments (a leading `/`, `//`, or a trailing `/`), NUL bytes, keys over 1024 bytes and
//! segments over 255 bytes are refused before any path is built, so no input can resolve
//! outside the bucket directory. A folder marker's key ([`marker_dir`]) is one such key with a
//! `/` added (1024 bytes in all at most): its path is that key's. Bucket names follow S3's rules, which also keep them clear of
//! the server's own `.keygate` directory (a bucket name cannot start with a dot).

use std::path::{Path, PathBuf};

use crate::s3::error::{S3Error, S3ErrorCode, S3Result};

/// Longest key S3 accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest path segment most filesystems accept, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// S3 bucket-name rules: 3..=63 characters of lower-case letters, digits, `.` and `-`,
/// starting and ending with a letter or digit, no `..`, not shaped like an IP address, and
/// none of the prefixes and suffixes S3 reserves (`xn--`, `sthree-`, `amzn-s3-demo-`,
/// `-s3alias`, `--ol-s3`, `.mrap`, `--x-s3`, `--table-s3`).
pub fn validate_bucket(name: &str) -> S3Result<()> {
    let bytes = name.as_bytes();
    let ok_len = (3..=63).contains(&bytes.len());
    let ok_chars = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-');
    let ok_ends = ok_len
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric();
    let ip_like = name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok());
    let reserved = ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p))
        || ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
            .iter()
            .any(|s| name.ends_with(s));
    let bad_dots = name.contains("..");
    if ok_len && ok_chars && ok_ends && !bad_dots && !ip_like && !reserved {
        Ok(())
    } else {
        Err(S3Error::new(S3ErrorCode::InvalidBucketName).bucket(name))
    }
}

/// [`validate_bucket`] for a bucket about to be created, which also refuses a dot next to a
/// hyphen (`a.-b`, `a-.b`: no valid DNS label edge; S3 and MinIO refuse it). Only at creation:
/// a bucket an earlier version created under such a name stays readable, listable and
/// deletable.
pub fn validate_new_bucket(name: &str) -> S3Result<()> {
    validate_bucket(name)?;
    if name.contains(".-") || name.contains("-.") {
        return Err(S3Error::new(S3ErrorCode::InvalidBucketName).bucket(name));
    }
    Ok(())
}

/// Checks an object key against SPEC X5: refused as a write's key, for the reasons
/// [`readable_key`] tells apart; a folder marker too, which only PutObject and CopyObject
/// write ([`validate_put_key`]).
pub fn validate_key(key: &str) -> S3Result<()> {
    if marker_dir(key).is_some() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "A key ending in '/' is a folder marker: only PutObject and CopyObject write one, empty.",
        )
        .key(key));
    }
    match key_fault(key) {
        None => Ok(()),
        Some(Fault::Refused(e) | Fault::Unstorable(e)) => Err(e),
    }
}

/// The directory a folder marker names: `dir` for a key `dir/` (or `a/b` for `a/b/`) whose
/// part before the trailing `/` is a key [`validate_key`] accepts. A marker is stored as that
/// directory (see `Store`), so it can be created by PutObject and CopyObject only, and only
/// empty: S3 clients make them to show folders (the S3 console's "Create folder", s3fs
/// `mkdir`, Hadoop S3A, rclone). `None` for every other key (`a//`, `./`, `/`).
pub fn marker_dir(key: &str) -> Option<&str> {
    let dir = key.strip_suffix('/')?;
    (key.len() <= MAX_KEY_BYTES && key_fault(dir).is_none()).then_some(dir)
}

/// [`validate_key`] for a PutObject or CopyObject destination, which may also be a folder
/// marker ([`marker_dir`]).
pub fn validate_put_key(key: &str) -> S3Result<()> {
    match marker_dir(key) {
        Some(_) => Ok(()),
        None => validate_key(key),
    }
}

/// Whether `key` may name a stored object, for a read or a delete: an error for a key refused
/// whatever the request (empty, over 1024 bytes, or one that would escape the bucket: NUL, a
/// leading `/`, a `..` segment: X5); `true` for a folder marker ([`marker_dir`]); `false` for
/// one the filesystem layout cannot hold (an empty segment, as in `a//b` or `a//`, a `.`
/// segment, a segment over 255 bytes), which no
/// write can have stored: a read answers it as a missing key (404) and a delete as done (204),
/// as S3 answers a key it does not hold, rather than 400 to a client probing for a folder.
pub fn readable_key(key: &str) -> S3Result<bool> {
    if marker_dir(key).is_some() {
        return Ok(true);
    }
    match key_fault(key) {
        None => Ok(true),
        Some(Fault::Unstorable(_)) => Ok(false),
        Some(Fault::Refused(e)) => Err(e),
    }
}

/// Why a key cannot be stored.
enum Fault {
    /// Never a key here (X5): 400 for any request.
    Refused(S3Error),
    /// A key S3 could hold but the files behind objects cannot: 400 for a write.
    Unstorable(S3Error),
}

fn key_fault(key: &str) -> Option<Fault> {
    let invalid =
        |why: &'static str| S3Error::with_message(S3ErrorCode::InvalidArgument, why).key(key);
    if key.is_empty() {
        return Some(Fault::Refused(invalid("Object key must not be empty.")));
    }
    if key.len() > MAX_KEY_BYTES {
        return Some(Fault::Refused(
            S3Error::new(S3ErrorCode::KeyTooLongError).key(key),
        ));
    }
    if key.contains('\0') {
        return Some(Fault::Refused(invalid("Object key must not contain NUL.")));
    }
    if key.starts_with('/') {
        return Some(Fault::Refused(invalid(
            "Object key must not start with '/'.",
        )));
    }
    if key.split('/').any(|s| s == "..") {
        return Some(Fault::Refused(invalid(
            "Object key must not contain '.' or '..' path segments.",
        )));
    }
    let why = key.split('/').find_map(|segment| match segment {
        "" => Some("Object key must not contain empty path segments ('//')."),
        "." => Some("Object key must not contain '.' or '..' path segments."),
        s if s.len() > MAX_SEGMENT_BYTES => {
            Some("Object key path segments must be at most 255 bytes.")
        }
        _ => None,
    })?;
    Some(Fault::Unstorable(invalid(why)))
}

/// Validates `key` and returns its path under `bucket_dir`.
pub fn object_path(bucket_dir: &Path, key: &str) -> S3Result<PathBuf> {
    validate_key(key)?;
    let mut path = bucket_dir.to_path_buf();
    for segment in key.split('/') {
        path.push(segment);
    }
    debug_assert!(path.starts_with(bucket_dir) && path != bucket_dir);
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in [
            "abc",
            "my-bucket.1",
            "a".repeat(63).as_str(),
            "xn-abc",
            "s3alias-abc",
            "a-b.c-d",
            "a--b",
        ] {
            assert!(validate_bucket(ok).is_ok(), "{ok}");
            assert!(validate_new_bucket(ok).is_ok(), "{ok}");
        }
        // Refused at creation only: an earlier version created such buckets.
        for new_only in ["x.-y", "x-.y", "a.b-.c"] {
            assert!(validate_bucket(new_only).is_ok(), "{new_only}");
            assert!(validate_new_bucket(new_only).is_err(), "{new_only}");
        }
        for bad in [
            "ab",
            "Abc",
            "-abc",
            "abc-",
            "a..b",
            ".keygate",
            "192.168.1.1",
            "a_b",
            &"a".repeat(64),
            "xn--abc",
            "sthree-abc",
            "amzn-s3-demo-abc",
            "abc-s3alias",
            "abc--ol-s3",
            "abc.mrap",
            "abc--x-s3",
            "abc--table-s3",
        ] {
            assert!(validate_bucket(bad).is_err(), "{bad}");
            assert!(validate_new_bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn x5_keys_that_would_escape_are_refused() {
        for bad in [
            "..",
            "../x",
            "a/../../x",
            "a/./b",
            "/abs",
            "a//b",
            "a/",
            "nul\0byte",
            "",
        ] {
            let err = validate_key(bad).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{bad:?}");
        }
        assert_eq!(
            validate_key(&"k".repeat(1025)).unwrap_err().code,
            S3ErrorCode::KeyTooLongError
        );
        assert!(validate_key(&"k".repeat(256)).is_err());
        assert!(validate_key(&format!("{}/{}", "k".repeat(255), "k".repeat(255))).is_ok());
    }

    #[test]
    fn folder_markers_are_valid_keys_with_a_slash_added() {
        assert_eq!(marker_dir("dir/"), Some("dir"));
        assert_eq!(marker_dir("a/b/"), Some("a/b"));
        let longest = format!("{}/", "k/".repeat(511) + "k");
        assert_eq!(longest.len(), MAX_KEY_BYTES);
        assert!(marker_dir(&longest).is_some() && validate_put_key(&longest).is_ok());
        // 1025 bytes: too long, although the key without its `/` is not.
        let over = format!("{}/", "k".repeat(254) + &"/k".repeat(385));
        assert_eq!(over.len(), MAX_KEY_BYTES + 1);
        assert_eq!(marker_dir(&over), None);
        assert_eq!(
            validate_put_key(&over).unwrap_err().code,
            S3ErrorCode::KeyTooLongError
        );
        assert_eq!(marker_dir("dir"), None);
        for not_marker in ["a//", "./", "/", "//", "../", "a/../", "x\0/"] {
            assert_eq!(marker_dir(not_marker), None, "{not_marker:?}");
            assert!(validate_put_key(not_marker).is_err(), "{not_marker:?}");
        }
        // Only PutObject and CopyObject write one: every other write refuses it, saying why.
        let e = validate_key("dir/").unwrap_err();
        assert!(e.message.contains("folder marker"), "{}", e.message);
        assert!(readable_key("dir/").unwrap());
    }

    #[test]
    fn valid_keys_map_inside_the_bucket() {
        let dir = Path::new("/data/b");
        for key in [
            "a",
            "a/b/c.txt",
            "..a",
            "a..",
            "a/.hidden",
            "spaces and ünïcode",
            "a\\..\\b",
        ] {
            let p = object_path(dir, key).unwrap();
            assert!(p.starts_with(dir) && p != dir, "{key}");
            assert_eq!(
                p.components().count(),
                dir.components().count() + key.split('/').count()
            );
        }
    }
}
