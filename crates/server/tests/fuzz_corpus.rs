//! Replays every committed fuzz input through the fuzz harness, as part of
//! the ordinary test suite: the seed corpus (`fuzz/seeds/<target>/`) and
//! every input that once made a target fail (`fuzz/regressions/<target>/`).
//! The harness is the same file the libFuzzer targets call
//! (`fuzz/src/lib.rs`), so a fixed crash stays fixed without cargo-fuzz.

#[path = "../../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn every_committed_fuzz_input_passes_its_harness() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (name, run) in harness::TARGETS {
        let seeds = files(&fuzz_dir().join("seeds").join(name));
        assert!(!seeds.is_empty(), "target {name} has no seed corpus");
        let regressions = files(&fuzz_dir().join("regressions").join(name));
        for path in seeds.iter().chain(&regressions) {
            let data = std::fs::read(path).expect("readable corpus file");
            replayed += 1;
            if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                failures.push(path.display().to_string());
            }
        }
    }
    println!("replayed {replayed} fuzz inputs");
    assert!(failures.is_empty(), "fuzz inputs that fail: {failures:#?}");
}

#[test]
fn every_fuzz_target_binary_is_in_the_harness() {
    let targets = files(&fuzz_dir().join("fuzz_targets"));
    let names: Vec<String> = targets
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut known: Vec<&str> = harness::TARGETS.iter().map(|(n, _)| *n).collect();
    known.sort_unstable();
    let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, known);
}
