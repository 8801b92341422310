//! Two real `amina serve` processes on one PostgreSQL database: both run the
//! scheduler, and every overdue person is deregistered exactly once.
//!
//! The processes start at the same moment (so their migrations race too),
//! with a one-second scheduler interval and small batches so that their
//! sweeps interleave.

use std::sync::Arc;
use std::time::{Duration, Instant};

use amina_domain::eligibility::{CardRecord, Purpose};
use amina_domain::types::{CardNumber, Citizenship};
use amina_store::NewBindingToken;

const PEOPLE: usize = 240;

mod support;
use support::{spawn_serve, Node};

fn start_node(url: &str) -> (Node, std::sync::mpsc::Receiver<String>) {
    spawn_serve(
        url,
        &[
            ("AMINA_SCHEDULER__INTERVAL_S", "1"),
            ("AMINA_SCHEDULER__BATCH_SIZE", "7"),
            ("RUST_LOG", "info"),
            ("AMINA_LOG_FORMAT", "json"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn two_server_processes_never_deregister_twice() {
    let Some(db) = amina_testkit::fresh_pg_database() else {
        return;
    };
    // Seed: people enrolled a year ago, long overdue by the real clock.
    let config = amina_server::config::Config::default();
    let monitor = amina_server::state::build_monitor(&config).expect("monitor");
    let store = amina_store::open(&db.url).await.expect("open");
    store.migrate().await.expect("migrate");
    let enrolled_at: jiff::Timestamp = "2025-11-28T15:00:00Z".parse().unwrap();
    let hash = amina_server::cards::hash_secret("s");
    let cards = (0..PEOPLE)
        .map(|i| CardRecord {
            number: CardNumber::parse(&format!("NODE{i:06}")).unwrap(),
            secret_hash: hash.clone(),
            name_latin: format!("Person {i}"),
            name_cyrillic: format!("Персона {i}"),
            citizenship: Citizenship::parse("KGZ").unwrap(),
            birth_date: jiff::civil::date(1990, 1, 1),
            purpose: Purpose::Work,
            valid_until: jiff::civil::date(2030, 1, 1),
        })
        .collect::<Vec<_>>();
    store
        .import_cards(cards.clone(), enrolled_at)
        .await
        .unwrap();
    for (i, c) in cards.iter().enumerate() {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&(i as u64).to_le_bytes());
        store
            .enrol(
                &monitor,
                &c.number,
                NewBindingToken {
                    hash,
                    expires_at: enrolled_at,
                    issued_by: "test".into(),
                },
                enrolled_at,
            )
            .await
            .unwrap();
    }
    drop(store);

    let (_a, logs_a) = start_node(&db.url);
    let (_b, logs_b) = start_node(&db.url);

    let store: Arc<dyn amina_store::Store> = amina_store::open(&db.url).await.unwrap();
    let started = Instant::now();
    loop {
        let c = store.counts().await.unwrap();
        if c.persons_deregistered as usize == PEOPLE {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "only {} of {PEOPLE} deregistered after 90 s",
            c.persons_deregistered
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Give both nodes a few more sweeps to do something wrong, if they would.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut per_node = Vec::new();
    for logs in [&logs_a, &logs_b] {
        let n = logs
            .try_iter()
            .filter(|l| l.contains("deregistered: no monitoring"))
            .count();
        per_node.push(n);
    }
    assert_eq!(
        per_node.iter().sum::<usize>(),
        PEOPLE,
        "each deregistration logged by exactly one node: {per_node:?}"
    );
    let c = store.counts().await.unwrap();
    assert_eq!(c.persons_deregistered as usize, PEOPLE);
    assert_eq!(c.persons_registered, 0);
    for i in [0, PEOPLE / 2, PEOPLE - 1] {
        let number = CardNumber::parse(&format!("NODE{i:06}")).unwrap();
        let p = store.person_by_card(&number).await.unwrap().unwrap();
        let d = store.deregistrations(p.person_id).await.unwrap();
        assert_eq!(d.len(), 1, "person {i}");
        let events = store.person_events(p.person_id).await.unwrap();
        assert_eq!(
            events.iter().filter(|e| e.kind == "deregistered").count(),
            1,
            "person {i}"
        );
    }
    eprintln!("deregistrations per node: {per_node:?}");
}
