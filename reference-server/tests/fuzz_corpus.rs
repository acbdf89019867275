//! The fuzz targets on the stable toolchain (issue 8): every committed corpus file
//! (`fuzz/corpus/<target>/`) replayed through the checks the cargo-fuzz targets run
//! (`fuzz/src/lib.rs`, included here as a module), so an input that once found a bug cannot
//! come back; then every target run on a fixed number of mutants of its corpus
//! (`fuzz/src/mutate.rs`), a short deterministic fuzzing session in every `cargo test`.
//!
//! The mutation run takes its seed from `KEYGATE_FUZZ_SEED` and its per-target count from
//! `KEYGATE_FUZZ_ITERS` (defaults: [`SEED`], [`ITERATIONS`]); `KEYGATE_FUZZ_TARGET` limits it
//! to one target. A crashing input is written under the test's temporary directory and its
//! path printed with the seed; `fuzz/README.md` says how to promote it to the corpus.

#[allow(
    dead_code,
    reason = "the fuzz crate's checks, shared with the cargo-fuzz targets"
)]
#[path = "../../fuzz/src/lib.rs"]
mod checks;

use std::path::{Path, PathBuf};

use checks::mutate::{self, Mutator};

/// The default seed of the mutation run ("keygate8"): CI always tries the same inputs.
const SEED: u64 = 0x6b65_7967_6174_6538;
/// Mutants per target by default: a few seconds for all targets in the dev profile.
const ITERATIONS: u64 = 3_000;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The corpus files of `target`, sorted by path.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no corpus for {target} at {}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "the corpus of {target} is empty");
    inputs
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).expect("corpus file");
            (p, data)
        })
        .collect()
}

/// The target's libFuzzer dictionary, if it has one.
fn dictionary(target: &str) -> Vec<Vec<u8>> {
    let path = fuzz_dir().join("dict").join(format!("{target}.dict"));
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            mutate::parse_dictionary(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        }
        Err(_) => Vec::new(),
    }
}

/// A number from the environment, decimal or `0x` hex.
fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={value:?} is not a number")))
}

#[test]
fn every_committed_fuzz_input_passes_its_target() {
    let mut failures = Vec::new();
    for (target, check) in checks::TARGETS {
        for (path, data) in corpus(target) {
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                failures.push(path.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "inputs that fail: {failures:#?}");
}

#[test]
fn every_fuzz_target_survives_a_fixed_number_of_mutants() {
    let seed = env_number("KEYGATE_FUZZ_SEED").unwrap_or(SEED);
    let iterations = env_number("KEYGATE_FUZZ_ITERS").unwrap_or(ITERATIONS);
    let only = std::env::var("KEYGATE_FUZZ_TARGET").ok();
    if let Some(t) = &only {
        let names: Vec<&str> = checks::TARGETS.iter().map(|(n, _)| *n).collect();
        assert!(
            names.contains(&t.as_str()),
            "KEYGATE_FUZZ_TARGET={t} names no target; targets: {names:?}"
        );
    }
    let crashes_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-crashes");
    let mut crashes = Vec::new();
    for (target, check) in checks::TARGETS {
        if only.as_deref().is_some_and(|t| t != *target) {
            continue;
        }
        let corpus: Vec<Vec<u8>> = corpus(target).into_iter().map(|(_, d)| d).collect();
        let dictionary = dictionary(target);
        let mutator = Mutator {
            corpus: &corpus,
            dictionary: &dictionary,
            max_len: 64 * 1024,
        };
        let target_seed = mutate::target_seed(seed, target);
        let Some(crash) = mutate::run(*check, &mutator, target_seed, iterations) else {
            continue;
        };
        let dir = crashes_dir.join(target);
        std::fs::create_dir_all(&dir).expect("crash directory");
        let file = dir.join(format!("seed-{seed:#x}-iteration-{}", crash.iteration));
        std::fs::write(&file, &crash.input).expect("writes the crashing input");
        crashes.push(format!(
            "{target}: {}\n  input: {}\n  reproduce: KEYGATE_FUZZ_SEED={seed:#x} \
             KEYGATE_FUZZ_TARGET={target} KEYGATE_FUZZ_ITERS={} \
             cargo test -p keygate-server --test fuzz_corpus\n  \
             keep it: cp {} fuzz/corpus/{target}/<what-it-probes>",
            crash.message,
            file.display(),
            crash.iteration + 1,
            file.display()
        ));
    }
    assert!(
        crashes.is_empty(),
        "fuzz targets panicked (seed {seed:#x}, {iterations} mutants each):\n{}",
        crashes.join("\n")
    );
}
