//! The simulator against real `amina serve` processes, briefly, on both
//! backends: every fix the server acknowledged is stored exactly once, the
//! spoofed fixes come back flagged, and nothing fails. On PostgreSQL the
//! phones are spread over two server nodes sharing the database.

use std::path::Path;

const PHONES: usize = 40;

mod support;
use support::{amina, start_node as start_serve, Node};

/// Start `amina serve` on a free port; returns the node and its base URL.
fn start_node(database: &str) -> (Node, String) {
    start_serve(database, &[("RUST_LOG", "warn")])
}

fn import_cards(dir: &Path, database: &str) {
    let cards = dir.join("cards.csv");
    let n = PHONES.to_string();
    amina(&[
        "sim",
        "cards",
        "--phones",
        &n,
        "--out",
        cards.to_str().unwrap(),
    ]);
    amina(&[
        "import",
        "cards",
        cards.to_str().unwrap(),
        "--database",
        database,
    ]);
}

fn simulate(urls: &[String]) -> serde_json::Value {
    let url = urls.join(",");
    let n = PHONES.to_string();
    // Every fifth phone spoofs so that flagged fixes surely occur; a few go
    // offline and up in bursts.
    let out = amina(&[
        "sim",
        "run",
        "--url",
        &url,
        "--phones",
        &n,
        "--seed",
        "5",
        "--interval",
        "0.5",
        "--batch",
        "2",
        "--duration",
        "5",
        "--spoofer",
        "0.2",
        "--offline",
        "0.2",
        "--silent",
        "0.05",
        "--trip",
        "0.1",
        "--json",
        "--quiet",
    ]);
    serde_json::from_slice(&out.stdout).expect("the report is JSON")
}

async fn check(report: &serde_json::Value, database: &str) {
    let n = |k: &str| {
        report[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {report}"))
    };
    assert_eq!(n("enrolled"), PHONES as u64, "{report}");
    assert_eq!(
        report["errors"].as_object().map(|e| e.len()),
        Some(0),
        "no request failed: {report}"
    );
    assert!(n("requests") > PHONES as u64, "{report}");
    assert!(n("fixes_accepted") > PHONES as u64 * 3, "{report}");
    assert!(n("fixes_spoofed_sent") > 0, "{report}");
    assert!(
        n("fixes_flagged") > 0,
        "spoofed fixes are flagged: {report}"
    );
    let store = amina_store::open(database).await.expect("open the store");
    let counts = store.counts().await.expect("counts");
    assert_eq!(
        counts.fixes,
        n("fixes_accepted"),
        "every acknowledged fix is stored exactly once: {report}"
    );
    assert_eq!(counts.persons_registered, PHONES as u64);
    assert_eq!(counts.active_devices, PHONES as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn simulator_smoke_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("amina.sqlite3").display());
    amina(&["migrate", "--database", &database]);
    import_cards(dir.path(), &database);
    let (node, url) = start_node(&database);
    let report = simulate(&[url]);
    drop(node);
    check(&report, &database).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn simulator_smoke_on_postgres_over_two_nodes() {
    let Some(db) = amina_testkit::fresh_pg_database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    amina(&["migrate", "--database", &db.url]);
    import_cards(dir.path(), &db.url);
    let (a, url_a) = start_node(&db.url);
    let (b, url_b) = start_node(&db.url);
    let report = simulate(&[url_a, url_b]);
    drop((a, b));
    check(&report, &db.url).await;
}
