//! Replays every committed fuzz corpus (`fuzz/corpus/<target>/`) through the checks the
//! cargo-fuzz targets run (`fuzz/src/lib.rs`, included here as a module), so CI on the stable
//! toolchain keeps every input that once found a bug, and every seed, passing.

#[allow(
    dead_code,
    reason = "the fuzz crate's checks, shared with the cargo-fuzz targets"
)]
#[path = "../../fuzz/src/lib.rs"]
mod checks;

use std::path::Path;

#[test]
fn every_committed_fuzz_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut failures = Vec::new();
    for (target, check) in checks::TARGETS {
        let dir = root.join(target);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("no corpus for {target} at {}: {e}", dir.display()))
            .map(|e| e.expect("corpus entry").path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "the corpus of {target} is empty");
        for input in inputs {
            let data = std::fs::read(&input).expect("corpus file");
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                failures.push(format!("{target}/{}", input.display()));
            }
        }
    }
    assert!(failures.is_empty(), "inputs that fail: {failures:#?}");
}
