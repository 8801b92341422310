//! `amina bench` as the comparison scripts and operators use it: the
//! geofence points round trip (export, classify, answers) and a short
//! smoke run of the ingestion benchmark on a durable PostgreSQL with its
//! pgbench baseline.

use std::process::{Command, Output};

fn amina(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_amina"))
        .args(args)
        .env_remove("AMINA_CONFIG")
        .env_remove("AMINA_BENCH_PG_URL")
        .output()
        .expect("run amina")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn geofence_points_export_and_classify_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    let answers = dir.path().join("answers.txt");
    let (a_s, b_s, ans_s) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        answers.to_str().unwrap(),
    );
    ok(&amina(&[
        "bench",
        "geofence",
        "--points",
        "3000",
        "--seed",
        "7",
        "--export-points",
        a_s,
    ]));
    ok(&amina(&[
        "bench",
        "geofence",
        "--points",
        "3000",
        "--seed",
        "7",
        "--export-points",
        b_s,
    ]));
    let text = std::fs::read_to_string(&a).unwrap();
    assert_eq!(
        text,
        std::fs::read_to_string(&b).unwrap(),
        "same seed, same points"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "lat,lon,accuracy_m,near_boundary");
    assert_eq!(lines.len(), 3001);
    let near = lines[1..].iter().filter(|l| l.ends_with(",1")).count();
    assert!(
        (300..=900).contains(&near),
        "about 20 % near the boundary: {near}"
    );

    let out = ok(&amina(&[
        "bench",
        "geofence",
        "--classify",
        a_s,
        "--answers",
        ans_s,
        "--rounds",
        "2",
    ]));
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    assert_eq!(report["points"], 3000);
    assert!(report["ns_per_point_median"].as_f64().unwrap() > 0.0);
    let written = std::fs::read_to_string(&answers).unwrap();
    let zones: Vec<&str> = written.lines().collect();
    assert_eq!(zones.len(), 3000);
    for slug in ["moscow", "moscow_oblast", "outside", "uncertain"] {
        assert!(zones.contains(&slug), "some point is {slug}");
    }
    assert!(zones
        .iter()
        .all(|a| ["moscow", "moscow_oblast", "outside", "uncertain"].contains(a)));
    // A point in the middle of Moscow, written by hand, is Moscow.
    let one = dir.path().join("one.csv");
    std::fs::write(&one, "lat,lon,accuracy_m\n55.7539,37.6208,10\n").unwrap();
    ok(&amina(&[
        "bench",
        "geofence",
        "--classify",
        one.to_str().unwrap(),
        "--answers",
        ans_s,
    ]));
    assert_eq!(std::fs::read_to_string(&answers).unwrap(), "moscow\n");
}

#[test]
fn geofence_classify_refuses_a_malformed_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "lat,lon,accuracy_m\n55.75,east,10\n").unwrap();
    let out = amina(&["bench", "geofence", "--classify", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ingest_benchmark_runs_on_durable_postgres_with_its_pgbench_baseline() {
    let mut args = vec![
        "bench",
        "ingest",
        "--backend",
        "postgres",
        "--phones",
        "3",
        "--fixes-per-phone",
        "4",
        "--batch",
        "2",
        "--concurrency",
        "3",
        "--rounds",
        "1",
        "--baseline-seconds",
        "1",
        "--baseline-clients",
        "2",
    ];
    let url = std::env::var(amina_testkit_url_var()).unwrap_or_default();
    if !url.trim().is_empty() {
        args.extend(["--pg-url", url.as_str()]);
    }
    let out = amina(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("cannot start PostgreSQL") {
        amina_testkit::skip_or_fail("the PostgreSQL ingestion benchmark", &stderr);
        return;
    }
    let stdout = ok(&out);
    if url.trim().is_empty() {
        assert!(
            stdout.contains("fsync=on, synchronous_commit=on"),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("2 region polygons loaded into PostGIS"),
        "{stdout}"
    );
    let figure = |prefix: &str| -> f64 {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in {stdout}"));
        line.split("median ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no median in {line:?}"))
    };
    assert!(figure("amina (HTTP") > 0.0, "{stdout}");
    assert!(figure("baseline (pgbench") > 0.0, "{stdout}");
    // One warm-up round (the default) runs first and is not counted.
    let rounds: Vec<&str> = stdout
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("round ") || l.starts_with("warm-up"))
        .collect();
    assert_eq!(rounds.len(), 2, "{stdout}");
    assert!(rounds[0].starts_with("warm-up (not counted):"), "{stdout}");
    assert!(rounds[1].starts_with("round 1:"), "{stdout}");
    assert!(stdout.contains("ratio amina / baseline:"), "{stdout}");
}

/// The variable naming an existing server for the PostgreSQL tests.
fn amina_testkit_url_var() -> &'static str {
    amina_testkit::PG_URL_VAR
}
