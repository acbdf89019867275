//! `keygate` run as a user runs it, for the load tests.

use std::path::{Path, PathBuf};

/// `keygate ARGS`: (exit code, stdout, stderr).
pub fn keygate(args: &[&str]) -> (Option<i32>, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("keygate runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A shipped load plan, `scenarios/load/NAME`.
pub fn plan_file(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/load")
        .join(name)
        .display()
        .to_string()
}

/// `keygate load --plan PLAN` with a short run (1 s, no warm-up) on 1 user, reports in
/// `reports`, and `extra` arguments.
pub fn short_load(plan: &str, reports: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec![
        "load",
        "--plan",
        plan,
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--users",
        "1",
        "--report-dir",
        reports.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    keygate(&args)
}
