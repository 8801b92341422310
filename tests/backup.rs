//! `amina backup` / `amina restore` on both backends: populate (a short
//! crash test leaves people, fixes, deregistrations, audit records and feed
//! entries; plus a console account), back up, restore into a fresh place;
//! then `amina audit verify` passes on the copy, every invariant holds and
//! every count matches (docs/reliability.md, "Backup and restore").

use std::os::unix::fs::PermissionsExt;

mod support;
use support::{amina, run};

fn populate(database: &str) {
    amina(&[
        "crash-test",
        "--database",
        database,
        "--trials",
        "1",
        "--phones",
        "4",
        "--overdue",
        "3",
    ]);
    amina(&[
        "admin",
        "create-user",
        "--role",
        "auditor",
        "aud",
        "--database",
        database,
    ]);
}

fn counts(database: &str) -> serde_json::Value {
    let out = amina(&["check-consistency", "--database", database, "--json"]);
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(findings["violations"], serde_json::json!({}), "{findings}");
    findings["counts"].clone()
}

fn round_trip(source: &str, target: &str, backup: &std::path::Path, pg_bin: &[&str]) {
    populate(source);
    let before = counts(source);
    for table in [
        "persons",
        "fixes",
        "audit_log",
        "integration_feed",
        "deregistrations",
    ] {
        assert!(
            before[table].as_i64() > Some(0),
            "{table} is populated: {before}"
        );
    }
    let b = backup.to_str().unwrap();
    amina(&[&["backup", "--database", source, "--to", b], pg_bin].concat());
    assert_eq!(
        std::fs::metadata(backup).unwrap().permissions().mode() & 0o777,
        0o600,
        "backups are private"
    );
    // Never over an existing file.
    let again = run(&[&["backup", "--database", source, "--to", b], pg_bin].concat());
    assert!(!again.status.success());

    amina(&[&["restore", "--database", target, "--from", b], pg_bin].concat());
    let verify = amina(&["audit", "verify", "--database", target, "--json"]);
    let verify: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["records"].as_i64(), before["audit_log"].as_i64());
    assert_eq!(counts(target), before, "the restored copy has every row");
    // Never into a database that has data.
    let again = run(&[&["restore", "--database", target, "--from", b], pg_bin].concat());
    assert!(!again.status.success());
}

#[test]
fn sqlite_backup_restores_with_an_intact_audit_chain_and_equal_counts() {
    let dir = tempfile::tempdir().unwrap();
    let source = format!("sqlite:{}", dir.path().join("a/amina.sqlite3").display());
    let target = format!("sqlite:{}", dir.path().join("b/amina.sqlite3").display());
    round_trip(&source, &target, &dir.path().join("amina.backup"), &[]);
}

#[test]
fn postgres_backup_restores_with_an_intact_audit_chain_and_equal_counts() {
    let (Some(source), Some(target), Some(bin)) = (
        amina_testkit::fresh_pg_database(),
        amina_testkit::fresh_pg_database(),
        amina_testkit::pg_bindir(),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bin = bin.to_str().unwrap().to_string();
    round_trip(
        &source.url,
        &target.url,
        &dir.path().join("amina.dump"),
        &["--pg-bin", &bin],
    );
}
