//! The `amina` binary as an operator uses it: import, rule checks, errors.

use std::path::Path;
use std::process::{Command, Output};

fn amina(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_amina"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("AMINA_CONFIG")
        .output()
        .expect("run amina")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("JSON output")
}

const HEADER: &str = "card_number,activation_secret,activation_secret_hash,name_latin,name_cyrillic,citizenship,birth_date,purpose,valid_until\n";

#[test]
fn import_cards_reports_refusals_and_never_half_applies() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("cards.csv");
    std::fs::write(
        &good,
        format!(
            "{HEADER}AB2000001,s1,,Alisher Karimov,Алишер Каримов,UZB,1990-01-01,work,2035-01-01\n\
             AB2000002,s2,,Li Wei,Ли Вэй,CHN,1990-01-01,work,2035-01-01\n\
             AB2000003,s3,,Timur Ergashev,Тимур Эргашев,TJK,2015-01-01,work,2035-01-01\n\
             AB2000004,s4,,Anna Petrosyan,Анна Петросян,ARM,1990-01-01,study,2035-01-01\n"
        ),
    )
    .unwrap();
    let out = amina(
        dir.path(),
        &["import", "cards", good.to_str().unwrap(), "--json"],
    );
    let report = json(&out);
    assert_eq!(report["rows_read"], 4);
    assert_eq!(report["inserted"], 1);
    let reasons: Vec<&str> = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        vec!["citizenship_not_in_scope", "minor", "purpose_not_work"]
    );

    // Importing again updates, does not duplicate.
    let again = json(&amina(
        dir.path(),
        &["import", "cards", good.to_str().unwrap(), "--json"],
    ));
    assert_eq!(
        (again["inserted"].as_u64(), again["updated"].as_u64()),
        (Some(0), Some(1))
    );

    // A file with one malformed row is refused whole.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "{HEADER}AB2000010,s1,,Ok Row,Хорошая Строка,UZB,1990-01-01,work,2035-01-01\n\
             AB2000011,s2,,Bad Date,Плохая Дата,UZB,1990-02-30,work,2035-01-01\n"
        ),
    )
    .unwrap();
    let out = amina(dir.path(), &["import", "cards", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3"), "{err}");
    let dry = json(&amina(
        dir.path(),
        &[
            "import",
            "cards",
            good.to_str().unwrap(),
            "--dry-run",
            "--json",
        ],
    ));
    assert_eq!(dry["imported"], false);
    // Still exactly one card: the bad file changed nothing.
    let check = amina(dir.path(), &["admin", "unlock-card", "AB2000010"]);
    assert!(stdout(&check).contains("not locked (or is unknown)"));
}

#[test]
fn rule_checks_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let d = json(&amina(
        dir.path(),
        &[
            "calendar",
            "deadline",
            "2025-11-28T18:00:00+03:00",
            "--json",
        ],
    ));
    assert_eq!(d["deadline"], "2025-12-03T23:59:59.999+03:00");
    assert_eq!(d["deadline_utc"], "2025-12-03T20:59:59.999Z");
    let plain = amina(
        dir.path(),
        &["calendar", "deadline", "2025-12-30T12:00:00Z"],
    );
    assert_eq!(stdout(&plain).trim(), "2026-01-14T23:59:59.999+03:00");
    let w = json(&amina(
        dir.path(),
        &[
            "calendar",
            "working-days",
            "2025-01-01",
            "2025-12-31",
            "--json",
        ],
    ));
    assert_eq!(w["working_days"], 247);
    for (lat, lon, acc, zone) in [
        ("55.7520", "37.6175", "10", "moscow"),
        ("55.9826", "37.1751", "30", "moscow"),
        ("55.4312", "37.5457", "10", "moscow_oblast"),
        ("56.8587", "35.9176", "10", "outside"),
        ("-33.86", "151.21", "10", "outside"),
    ] {
        let out = amina(
            dir.path(),
            &["geo", "classify", lat, lon, "--accuracy", acc],
        );
        assert_eq!(stdout(&out).trim(), zone, "{lat},{lon}");
    }
    let j = json(&amina(
        dir.path(),
        &["geo", "classify", "55.7520", "37.6175", "--json"],
    ));
    assert_eq!(j["zone"], "moscow");

    // Errors: a clear message and a non-zero exit, never a guess.
    for args in [
        &["calendar", "deadline", "2027-12-30T12:00:00Z"][..],
        &["calendar", "deadline", "not-a-time"],
        &["calendar", "working-days", "2023-01-01", "2023-12-31"],
        &["geo", "classify", "95", "37"],
        &["geo", "classify", "55", "37", "--accuracy", "0"],
    ] {
        let out = amina(dir.path(), args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `admin create-user` prints the one-time secrets; `audit verify` proves
/// the chain and, after a row is edited by hand, names it and fails.
#[test]
fn create_user_and_audit_verify_catch_a_tampered_record() {
    let dir = tempfile::tempdir().unwrap();
    let out = amina(
        dir.path(),
        &["admin", "create-user", "--role", "admin", "root"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.contains("totp secret: "), "{text}");
    assert!(
        text.contains("otpauth uri: otpauth://totp/amina:root?"),
        "{text}"
    );
    assert!(text.contains("password:    "), "{text}");
    let again = amina(
        dir.path(),
        &["admin", "create-user", "--role", "admin", "root"],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    let bad = amina(
        dir.path(),
        &["admin", "create-user", "--role", "root", "eve"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown role"));
    let out = amina(
        dir.path(),
        &["admin", "create-user", "--role", "auditor", "vera"],
    );
    assert!(out.status.success());

    let ok = amina(dir.path(), &["audit", "verify", "--json"]);
    assert_eq!(json(&ok), serde_json::json!({"ok": true, "records": 2}));

    let db = dir.path().join("amina.sqlite3");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let refused = conn.execute("UPDATE audit_log SET actor = 'x' WHERE id = 2", []);
    assert!(refused.is_err(), "the trail is append-only");
    conn.execute_batch(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = '{}' WHERE id = 2;",
    )
    .unwrap();
    drop(conn);
    let broken = amina(dir.path(), &["audit", "verify", "--json"]);
    assert!(!broken.status.success());
    let report: serde_json::Value = serde_json::from_slice(&broken.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_bad_record"], 2);
    assert!(String::from_utf8_lossy(&broken.stderr).contains("broken at record 2"));
}
/// `import addresses` and `admin enrolment-code`.
#[path = "cli/stay.rs"]
mod stay;

/// `retention verify` fails while raw fixes older than the cut-off remain,
/// `retention run` reduces them to daily summaries, and `verify` then
/// passes; a summary removed by hand makes it fail again.
#[test]
fn retention_run_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    assert!(amina(dir.path(), &["migrate"]).status.success());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let day_ms = 86_400_000_i64;
    // 200 days ago at noon Moscow time (UTC+3), twice, and an hour ago.
    let old = (now_ms - 200 * day_ms) / day_ms * day_ms + 9 * 3_600_000;
    let conn = rusqlite::Connection::open(dir.path().join("amina.sqlite3")).unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO cards (number, secret_hash, name_latin, name_cyrillic, citizenship, \
         birth_date, purpose, valid_until, imported_at, updated_at) VALUES ('UZ9000001', 'x', \
         'A B', 'А Б', 'UZB', '1990-01-01', 'work', '2030-01-01', 0, 0);
         INSERT INTO persons (id, card_number, status, registration_id, registration_started_at, \
         deadline_at, presence, created_at) VALUES (1, 'UZ9000001', 'registered', 1, 0, 0, \
         'in_region', 0);
         INSERT INTO fixes (device_id, seq, person_id, lat, lon, accuracy_m, recorded_at, \
         received_at, source, mock, zone, flags, counted) VALUES
         ('d', 1, 1, 55.75, 37.61, 10, {old}, {old}, 'gps', 0, 'moscow', 0, 1),
         ('d', 2, 1, 56.85, 35.91, 10, {}, {old}, 'gps', 0, 'outside', 0, 1),
         ('d', 3, 1, 55.75, 37.61, 10, {}, {now_ms}, 'gps', 0, 'moscow', 0, 1);",
        old + 3_600_000,
        now_ms - 3_600_000
    ))
    .unwrap();
    drop(conn);

    let before = amina(dir.path(), &["retention", "verify", "--json"]);
    assert!(!before.status.success(), "old raw fixes remain");
    let report: serde_json::Value = serde_json::from_slice(&before.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["raw_before_cutoff"], 2);
    assert!(String::from_utf8_lossy(&before.stderr).contains("older than the cut-off"));

    let run = json(&amina(dir.path(), &["retention", "run", "--json"]));
    assert_eq!(
        (&run["persons"], &run["days"], &run["fixes_removed"]),
        (&1.into(), &1.into(), &2.into())
    );
    let again = json(&amina(dir.path(), &["retention", "run", "--json"]));
    assert_eq!(again["fixes_removed"], 0, "idempotent");
    let ok = json(&amina(dir.path(), &["retention", "verify", "--json"]));
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["summary_days"], 1);
    assert_eq!(ok["summarised_fixes"], 2);

    let conn = rusqlite::Connection::open(dir.path().join("amina.sqlite3")).unwrap();
    let (count, zones): (i64, String) = conn
        .query_row("SELECT fix_count, zones FROM daily_presence", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(count, 2);
    assert_eq!(zones, r#"{"moscow":1,"outside":1}"#);
    let kept: i64 = conn
        .query_row("SELECT count(*) FROM fixes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 1, "the recent fix is kept raw");
    conn.execute("DELETE FROM daily_presence", []).unwrap();
    drop(conn);
    let lost = amina(dir.path(), &["retention", "verify"]);
    assert!(!lost.status.success());
    assert!(String::from_utf8_lossy(&lost.stderr).contains("account for 0"));
}
