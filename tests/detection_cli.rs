//! `amina detect evaluate` on the real GeoLife traces: the published
//! figures (docs/detection.md) are pinned here, so a change to a detector or
//! a threshold that moves them fails until the docs are updated with it.

use std::path::PathBuf;
use std::process::Command;

fn traces() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/traces")
}

/// The table row for a signal and an injected evasion, as cells.
fn row<'a>(out: &'a str, signal: &str, what: &str) -> Vec<&'a str> {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("| {signal} | {what} |")))
        .unwrap_or_else(|| panic!("no row for {signal} / {what} in\n{out}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

#[test]
fn evaluation_figures_on_real_traces() {
    let dir = traces();
    let out = Command::new(env!("CARGO_BIN_EXE_amina"))
        .args(["detect", "evaluate"])
        .arg(dir.join("geolife_trackintel_users000-007.csv"))
        .arg(dir.join("geolife_skmob_sample_users001_005.csv.gz"))
        .output()
        .expect("run amina");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(
        out.starts_with("traces: 8 people, 150 person-days, 289747 fixes"),
        "{out}"
    );
    // signal, evasion: cases, recall, clean days, false positives, FPR.
    let expected = [
        (
            "stationary_device",
            "phone left at home 3 days",
            ["53", "100.0%", "53", "0", "0.0%"],
        ),
        (
            "spoofed_location",
            "3 jumps of 20–60 km in a day",
            ["149", "100.0%", "150", "0", "0.0%"],
        ),
        (
            "spoofed_location",
            "frozen mock position all day",
            ["148", "100.0%", "150", "0", "0.0%"],
        ),
        (
            "lives_elsewhere",
            "registered 2–8 km from home",
            ["86", "47.7%", "86", "0", "0.0%"],
        ),
        (
            "app_probably_removed",
            "silent 72 h, push gone",
            ["8", "100.0%", "8", "0", "0.0%"],
        ),
    ];
    for (signal, what, cells) in expected {
        assert_eq!(row(&out, signal, what)[2..7], cells, "{signal} / {what}");
    }
    assert!(out.contains("frozen_position: 1.000"), "{out}");
    assert!(out.contains("left_at_home: 0.881"), "{out}");
}

#[test]
fn evaluation_refuses_a_bad_time_zone_and_a_missing_file() {
    let dir = traces();
    let out = Command::new(env!("CARGO_BIN_EXE_amina"))
        .args(["detect", "evaluate", "--tz", "Mars/Olympus"])
        .arg(dir.join("geolife_trackintel_users000-007.csv"))
        .output()
        .expect("run amina");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown time zone Mars/Olympus"));
    let out = Command::new(env!("CARGO_BIN_EXE_amina"))
        .args(["detect", "evaluate", "/nonexistent/trace.csv"])
        .output()
        .expect("run amina");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/trace.csv"));
}
