//! A remote target for `keygate load --target FILE` (or `--compare FILE`): the profile checked
//! before anything starts, then opened and preflighted before each attack.
//!
//! The profile is a `kind = "remote"` file as `keygate run` reads it, parsed by the same code
//! (`target::remote::open_without_posix`): its endpoint, region, root keys and `ca_file`, so
//! the load generator signs for the profile's region and trusts only its CA, as `run` does.
//! Its `posix_root` is not read: it names a directory on the server's host, which a load
//! generator (a shard on another machine) need not see. Other kinds
//! (`command`, `container`) are refused by name: load provisions through the admin API and
//! measures a target it did not start.
//!
//! The preflight is `run`'s (`run::preflight::check_from`: one root-signed ListBuckets and
//! one admin API read; a refused key or secret is blamed on the environment variable it came
//! from when the profile names one), bounded here by [`PREFLIGHT_TIMEOUT`] like every load request, so a wrong
//! secret, a region the server does not serve, an endpoint that is not S3 or one that never
//! answers ends the run with one line (exit 3) before anything is provisioned.
//!
//! Security: messages name the file and the endpoint, never a key or a secret.

use crate::run::preflight::Source;
use crate::target::admin::AdminTarget;
use crate::target::Target;
use std::path::Path;
use std::time::Duration;

/// How long the preflight waits for the target (load bounds each request at 10 s too).
pub const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(10);

/// Check the profile `flag` names, as `open` will read it, without contacting anything. Errors
/// name the flag and the file.
pub fn check(flag: &str, file: &Path) -> anyhow::Result<()> {
    let at = |e: anyhow::Error| anyhow::anyhow!("{flag}: {e:#}");
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("{flag}: {}: cannot read: {e}", file.display()))?;
    // The kind first: another kind's keys would read as unknown keys of a remote profile.
    let kind = toml::from_str::<toml::Table>(&text)
        .ok()
        .and_then(|t| t.get("kind").and_then(|k| k.as_str()).map(str::to_owned));
    if let Some(kind) = kind.filter(|k| k != "remote") {
        anyhow::bail!(
            "{flag}: {}: is a `kind = \"{kind}\"` profile; `keygate load` supports only \
             `kind = \"remote\"` targets (besides the reference server it spawns by default and \
             `null`)",
            file.display()
        );
    }
    crate::target::remote::open_without_posix(file)
        .map(drop)
        .map_err(at)
}

/// Open the profile (as [`check`] accepted it) and preflight the target: `Err` is one line
/// naming the file, the endpoint and the fix.
pub async fn open(file: &Path) -> anyhow::Result<AdminTarget> {
    let target = crate::target::remote::open_without_posix(file)?;
    preflight(&target, file, PREFLIGHT_TIMEOUT).await?;
    Ok(target)
}

/// `run`'s preflight on `target`, opened from `file`, given `limit` to answer.
pub async fn preflight(target: &AdminTarget, file: &Path, limit: Duration) -> anyhow::Result<()> {
    let from = Source::profile(file);
    let source = &from.file;
    let checked = tokio::time::timeout(
        limit,
        crate::run::preflight::check_from(target, &target.http, &from),
    )
    .await;
    match checked {
        Ok(Ok(())) => Ok(()),
        Ok(Err(problem)) => anyhow::bail!("target {source}: {problem}"),
        Err(_) => anyhow::bail!(
            "target {source}: {} did not answer within {} s (is `endpoint` right, and the server \
             up?)",
            target.endpoint(),
            limit.as_secs_f64()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(dir: &Path, endpoint: &str) -> std::path::PathBuf {
        let file = dir.join("silent.toml");
        let text = format!(
            "version = 1\nkind = \"remote\"\nendpoint = \"{endpoint}\"\n\
             root_access_key = \"k\"\nroot_secret_key = \"s\"\n"
        );
        std::fs::write(&file, text).unwrap();
        file
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_one_line_within_the_limit() {
        // Accepts connections (the kernel's backlog) and never reads or answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", silent.local_addr().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let file = profile(dir.path(), &endpoint);
        let target = crate::target::remote::open(&file, None).unwrap();
        let e = preflight(
            &target,
            Path::new("silent.toml"),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            format!(
                "target silent.toml: {endpoint} did not answer within 0.3 s (is `endpoint` \
                 right, and the server up?)"
            )
        );
    }

    #[test]
    fn a_posix_root_on_the_servers_host_only_is_no_error_for_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = profile(dir.path(), "http://127.0.0.1:1");
        let text = std::fs::read_to_string(&file).unwrap();
        let elsewhere = dir.path().join("on-the-server-host");
        std::fs::write(
            &file,
            format!("{text}posix_root = \"{}\"\n", elsewhere.display()),
        )
        .unwrap();
        // `run` reads the files there, so it refuses a missing directory; load never does.
        assert!(crate::target::remote::open(&file, None).is_err());
        check("--target", &file).unwrap();
        let t = crate::target::remote::open_without_posix(&file).unwrap();
        assert!(!t.info.capabilities.posix);
    }

    #[test]
    fn other_kinds_are_refused_by_name_and_errors_name_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cli.toml");
        std::fs::write(
            &file,
            "version = 1\nkind = \"command\"\nendpoint = \"http://127.0.0.1:1\"\n\
             attach_replaces = true\n",
        )
        .unwrap();
        let e = check("--target", &file).unwrap_err().to_string();
        assert!(
            e.starts_with("--target: ")
                && e.contains("`kind = \"command\"`")
                && e.contains("supports only `kind = \"remote\"`")
                && !e.contains("attach_replaces"),
            "{e}"
        );
        let e = check("--compare", &dir.path().join("nosuch"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--compare: ") && e.contains("cannot read"),
            "{e}"
        );
    }
}
