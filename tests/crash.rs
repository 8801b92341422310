//! Crash consistency of the real server on both backends: `amina
//! crash-test` kills `amina serve` with SIGKILL at random moments while
//! simulated phones upload and the scheduler deregisters and publishes,
//! restarts it, and checks after every kill that every acknowledged fix is
//! stored exactly once, that no state change is half-applied and that the
//! feed is gapless (docs/reliability.md). People subscribed to Web Push at
//! a push service on loopback fall due all through the run, so the push
//! queue works while it is killed: nothing is marked sent that the push
//! service did not accept, nothing arrives that the queue does not hold,
//! and a repeat happens only where a kill cut the sender off.
//!
//! A handful of kills per backend here; the long run sets
//! `AMINA_CRASH_TRIALS` (e.g. 100) or runs `amina crash-test` directly.
//!
//! Also: the checker itself finds what it must find (a missing
//! acknowledged fix, a half-applied state change, a gap in the feed).

use std::process::Command;

fn amina(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_amina"))
        .args(args)
        .output()
        .expect("run amina")
}

fn trials() -> String {
    std::env::var("AMINA_CRASH_TRIALS").unwrap_or_else(|_| "4".into())
}

fn crash_test(database: &str) -> serde_json::Value {
    let trials = trials();
    let out = amina(&[
        "crash-test",
        "--database",
        database,
        "--trials",
        &trials,
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "crash-test failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(report["trials"].as_u64(), trials.parse().ok());
    assert_eq!(report["failed_checks"], 0, "{report}");
    assert!(
        report["fixes_acknowledged"].as_u64().unwrap() > 0,
        "the phones got fixes acknowledged: {report}"
    );
    assert!(
        report["request_errors"]["transport"].as_u64().unwrap_or(0) > 0,
        "the phones saw the server die: {report}"
    );
    let push = &report["push"];
    assert!(push["accepted"].as_u64().unwrap() > 0, "{push}");
    assert!(push["refused_retry"].as_u64().unwrap() > 0, "{push}");
    assert!(push["refused_gone"].as_u64().unwrap() > 0, "{push}");
    assert!(
        push["kills_with_pending"].as_u64().unwrap() > 0,
        "at least one kill cut through the push queue's work: {push}"
    );
    assert_eq!(
        push["queue"]["pending"].as_u64().unwrap_or(0),
        0,
        "the queue drained: {push}"
    );
    report
}

#[test]
fn sigkill_loses_nothing_acknowledged_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("amina.sqlite3").display());
    crash_test(&database);
}

#[test]
fn sigkill_loses_nothing_acknowledged_on_postgres() {
    let Some(db) = amina_testkit::fresh_pg_database() else {
        return;
    };
    crash_test(&db.url);
}

/// The checker finds breaks of each kind on a database the simulator
/// filled; a checker that found nothing would make the test above vacuous.
#[test]
fn the_checker_finds_missing_fixes_half_applied_changes_and_feed_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("amina.sqlite3");
    let database = format!("sqlite:{}", path.display());
    let work = dir.path().join("work");
    // One kill: a database with fixes, deregistrations and feed entries.
    let out = amina(&[
        "crash-test",
        "--database",
        &database,
        "--trials",
        "1",
        "--phones",
        "4",
        "--overdue",
        "3",
        "--work-dir",
        work.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acks = work.join("acks.log");
    let check = |acks: &std::path::Path| {
        amina(&[
            "check-consistency",
            "--database",
            &database,
            "--ack-log",
            acks.to_str().unwrap(),
            "--json",
        ])
    };
    let intact = check(&acks);
    assert!(
        intact.status.success(),
        "{}",
        String::from_utf8_lossy(&intact.stdout)
    );

    let findings = |out: &std::process::Output| -> serde_json::Value {
        assert!(!out.status.success(), "the break goes unnoticed");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // An acknowledged fix that is not stored.
    let forged = dir.path().join("forged.log");
    let mut text = std::fs::read_to_string(&acks).unwrap();
    let device = text.split_whitespace().next().unwrap().to_string();
    text.push_str(&format!("{device} 999999\n"));
    std::fs::write(&forged, text).unwrap();
    assert_eq!(findings(&check(&forged))["acknowledged_missing"], 1);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let broken = |sql: &str, undo: &str, what: &str| {
        conn.execute_batch(sql).unwrap();
        let f = findings(&check(&acks));
        assert!(
            f["violations"]
                .as_object()
                .unwrap()
                .keys()
                .any(|k| k.contains(what)),
            "{what} not found: {f}"
        );
        conn.execute_batch(undo).unwrap();
    };
    // A fix stored without its effect on the person's state.
    broken(
        "CREATE TEMP TABLE saved AS SELECT id, last_monitoring_at FROM persons; \
         UPDATE persons SET last_monitoring_at = last_monitoring_at - 1000 \
         WHERE last_monitoring_at IS NOT NULL",
        "UPDATE persons SET last_monitoring_at = \
         (SELECT s.last_monitoring_at FROM saved s WHERE s.id = persons.id); DROP TABLE saved",
        "last monitoring",
    );
    // A deregistration without its feed entry.
    broken(
        "CREATE TEMP TABLE saved AS SELECT * FROM integration_feed WHERE kind = 'deregistration' \
         ORDER BY id LIMIT 1; DELETE FROM integration_feed WHERE id = (SELECT id FROM saved)",
        "INSERT INTO integration_feed SELECT * FROM saved; DROP TABLE saved",
        "deregistrations do not match",
    );
    // A gap in the feed positions.
    broken(
        "UPDATE integration_feed SET position = position + 100 \
         WHERE position = (SELECT max(position) FROM integration_feed)",
        "UPDATE integration_feed SET position = position - 100 \
         WHERE position = (SELECT max(position) FROM integration_feed)",
        "feed positions missing",
    );
    // A person deregistered without the deregistration record.
    broken(
        "UPDATE persons SET status = 'deregistered' WHERE id = \
         (SELECT min(id) FROM persons WHERE status = 'registered')",
        "UPDATE persons SET status = 'registered' WHERE id = \
         (SELECT min(p.id) FROM persons p WHERE p.status = 'deregistered' AND NOT EXISTS \
         (SELECT 1 FROM deregistrations d WHERE d.registration_id = p.registration_id))",
        "status disagrees",
    );
    assert!(check(&acks).status.success(), "every break was undone");
}
