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

/// One mutation of `data`, libFuzzer-style but without coverage feedback:
/// flip a bit, set a byte, insert or delete bytes, duplicate a range,
/// splice in another input, or insert a token that parsers trip over.
fn mutate(rng: &mut impl rand::Rng, data: &mut Vec<u8>, other: &[u8]) {
    const TOKENS: &[&[u8]] = &[
        b"\"",
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\\",
        b"\\u0000",
        b"-1",
        b"0",
        b"1e309",
        b"-0.0",
        b"NaN",
        b"null",
        b"true",
        b"\n",
        b"\r\n",
        b";",
        b"=",
        b"\xff",
        b"\xd0",
        b"9223372036854775808",
        b"2025-13-40T25:61:61Z",
    ];
    let len = data.len();
    match rng.random_range(0..7) {
        0 if len > 0 => {
            let i = rng.random_range(0..len);
            data[i] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let i = rng.random_range(0..len);
            data[i] = rng.random();
        }
        2 => {
            let i = rng.random_range(0..=len);
            let n = rng.random_range(1..=8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            data.splice(i..i, bytes);
        }
        3 if len > 0 => {
            let i = rng.random_range(0..len);
            let j = rng.random_range(i..=len.min(i + 64));
            data.drain(i..j);
        }
        4 if len > 0 => {
            let i = rng.random_range(0..len);
            let j = rng.random_range(i..=len.min(i + 64));
            let copy = data[i..j].to_vec();
            let at = rng.random_range(0..=len);
            data.splice(at..at, copy);
        }
        5 if !other.is_empty() => {
            let cut = rng.random_range(0..=len);
            let from = rng.random_range(0..other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        _ => {
            let i = rng.random_range(0..=len);
            let t = TOKENS[rng.random_range(0..TOKENS.len())];
            data.splice(i..i, t.iter().copied());
        }
    }
}

/// A short fuzz run in the ordinary suite (and so in CI): every target gets
/// `AMINA_FUZZ_ITERATIONS` (default 1,500) inputs mutated from its seeds,
/// deterministic by `AMINA_FUZZ_SEED`. Without coverage feedback it is no
/// substitute for the long libFuzzer run (`fuzz/run.sh`); it catches a
/// parser change that panics on inputs near the known ones. A failing input
/// is written to `target/fuzz-failures/<target>/` for `cargo fuzz run`.
#[test]
fn a_short_mutation_run_of_every_target_finds_no_panic() {
    use rand::SeedableRng;
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let iterations = env("AMINA_FUZZ_ITERATIONS", 1_500);
    let seed = env("AMINA_FUZZ_SEED", 20_261_130);
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-failures");
    let mut failures = Vec::new();
    let mut tried = 0u64;
    for (target, (name, run)) in harness::TARGETS.iter().enumerate() {
        let seeds: Vec<Vec<u8>> = files(&fuzz_dir().join("seeds").join(name))
            .iter()
            .map(|p| std::fs::read(p).expect("readable seed"))
            .collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed + target as u64);
        for i in 0..iterations {
            let mut data = seeds[(i as usize) % seeds.len()].clone();
            let other = &seeds[rand::Rng::random_range(&mut rng, 0..seeds.len())];
            for _ in 0..rand::Rng::random_range(&mut rng, 1..=4) {
                mutate(&mut rng, &mut data, other);
            }
            tried += 1;
            if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                let dir = out.join(name);
                std::fs::create_dir_all(&dir).expect("failure directory");
                let file = dir.join(format!("seed{seed}-{i}"));
                std::fs::write(&file, &data).expect("write the failing input");
                failures.push(file.display().to_string());
            }
        }
    }
    println!("tried {tried} mutated inputs");
    assert!(failures.is_empty(), "inputs that panic: {failures:#?}");
}
