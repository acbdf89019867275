//! X5: keys that would escape the bucket.

use super::*;

/// `path` with `.` and `..` resolved lexically.
pub(crate) fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

pub(crate) fn files_named(dir: &Path, marker: &str, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.to_string_lossy().contains(marker) {
            found.push(path.clone());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            files_named(&path, marker, found);
        }
    }
}

#[tokio::test]
async fn x5_escaping_keys_are_invalid_argument() {
    let t = TestServer::start().await;
    bucket(&t, "kx5").await;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let marker = format!("kgesc{}x{nanos}", std::process::id());
    let keys = [
        format!("../{marker}"),
        format!("../../{marker}"),
        format!("a/../../{marker}"),
        format!("a/../{marker}"),
        format!("%2E%2E/%2E%2E/{marker}"),
        format!("a%2F..%2F..%2F{marker}"),
        format!("./{marker}"),
        format!("a//{marker}"),
        format!("/{marker}"),
        format!("a%00/{marker}"),
        format!("{marker}%00.txt"),
        "..".to_owned(),
    ];
    for key in &keys {
        let target = format!("/kx5/{key}");
        // Signed over the canonical form of the path (each segment decoded, then encoded
        // once, as the S3 canonical URI is), sent as written.
        let canonical = target.replace("%2E", ".");
        let (mut r, _) = root().sign(req(&t, "PUT", &canonical).body(b"escape".to_vec()));
        r.target = target.clone();
        let resp = r.send(&t).await;
        assert_eq!(
            (resp.status, resp.code().as_deref()),
            (400, Some("InvalidArgument")),
            "PUT {target}: {}",
            resp.text()
        );
        assert_error(&resp, 400, "InvalidArgument");
        if key.contains(&marker) {
            let decoded = key.replace("%2E", ".").replace("%2F", "/");
            let joined = lexical(&t.server.data_dir().join("kx5").join(decoded));
            assert!(!joined.exists(), "{} was created", joined.display());
        }
    }
    // Nothing with the marker anywhere under the data dir's parent (the temp root).
    let root = t.dir.path().parent().unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        if entry.path().to_string_lossy().contains(&marker) {
            found.push(entry.path());
        }
    }
    files_named(t.dir.path(), &marker, &mut found);
    assert!(found.is_empty(), "created outside the bucket: {found:?}");
}

#[tokio::test]
async fn x5_key_over_1024_bytes_is_key_too_long() {
    let t = TestServer::start().await;
    bucket(&t, "kx5").await;
    // Five segments (each under the 255-byte segment limit) joined by '/'.
    let key_of = |len: usize| {
        let seg = (len - 4) / 5;
        let last = len - 4 - 4 * seg;
        let mut parts = vec!["k".repeat(seg); 4];
        parts.push("z".repeat(last));
        parts.join("/")
    };
    let ok = key_of(1024);
    assert_eq!(ok.len(), 1024);
    assert_ok(&put_plain(&t, &format!("/kx5/{ok}"), b"max").await);
    assert_eq!(get_plain(&t, &format!("/kx5/{ok}")).await.body, b"max");
    let long = key_of(1025);
    assert_eq!(long.len(), 1025);
    let resp = put_plain(&t, &format!("/kx5/{long}"), b"long").await;
    assert_error(&resp, 400, "KeyTooLongError");
}
