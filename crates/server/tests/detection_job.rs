//! The daily detection job over stored fixes, on both backends: a phone
//! left in one flat over working days raises one stationary-device signal,
//! a rerun raises nothing more, and a commuter raises nothing.

use std::sync::Arc;

use amina_domain::calendar::ProductionCalendar;
use amina_domain::detection::daily::DailyParams;
use amina_domain::eligibility::{CardRecord, Purpose};
use amina_domain::geofence::Geofence;
use amina_domain::monitor::{FixInput, Monitor, Plausibility};
use amina_domain::rule::MonitoringWindow;
use amina_domain::signal::{SignalKind, SignalSubject};
use amina_domain::types::{AccuracyM, CardNumber, Citizenship, Coordinates, DeviceSeq, FixSource};
use amina_server::detection_job::{due_day, run_for_day};
use amina_store::{NewBindingToken, NewDevice, SharedStore, SignalQuery};
use jiff::civil::{date, Date};
use jiff::{SignedDuration, Timestamp};

fn monitor() -> Monitor {
    Monitor {
        calendar: Arc::new(ProductionCalendar::embedded()),
        geofence: Arc::new(Geofence::embedded()),
        window: MonitoringWindow::default(),
        plausibility: Plausibility::default(),
        clock_skew: SignedDuration::from_mins(5),
    }
}

fn msk(d: Date, h: i8, m: i8) -> Timestamp {
    amina_domain::time::moscow_instant(d.at(h, m, 0, 0)).unwrap()
}

const FLAT: (f64, f64) = (55.6512, 37.6005);
const OFFICE: (f64, f64) = (55.7558, 37.6173);

/// Enrol a person with a device; fixes every 20 minutes from `from` for
/// `days` days, at the office 09–18 on working days if `commutes`.
async fn person_with_days(
    s: &SharedStore,
    m: &Monitor,
    number: &str,
    from: Date,
    days: i64,
    commutes: bool,
) -> i64 {
    let enrolled = msk(from, 0, 0) - SignedDuration::from_hours(1);
    let card = CardRecord {
        number: CardNumber::parse(number).unwrap(),
        secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
        name_latin: "Test Person".into(),
        name_cyrillic: "Тест Тестов".into(),
        citizenship: Citizenship::parse("UZB").unwrap(),
        birth_date: date(1990, 1, 1),
        purpose: Purpose::Work,
        valid_until: date(2030, 1, 1),
    };
    s.import_cards(vec![card], enrolled).await.unwrap();
    let mut hash = [7u8; 32];
    hash[..number.len().min(32)].copy_from_slice(&number.as_bytes()[..number.len().min(32)]);
    let token = NewBindingToken {
        hash,
        expires_at: enrolled + SignedDuration::from_mins(15),
        issued_by: "self".into(),
    };
    let e = s
        .enrol(m, &CardNumber::parse(number).unwrap(), token, enrolled)
        .await
        .unwrap();
    let device = format!("dev-{number}");
    let mut key = vec![4u8; 65];
    key[1..1 + number.len()].copy_from_slice(number.as_bytes());
    s.bind_device(
        hash,
        NewDevice {
            id: device.clone(),
            public_key: key,
            key_thumbprint: format!("thumb-{number}"),
            kind: "android-pwa".into(),
            actor: "self".into(),
        },
        enrolled,
    )
    .await
    .unwrap();
    let mut seq = 0u64;
    for d in 0..days {
        let day = from.checked_add(jiff::Span::new().days(d)).unwrap();
        let working = m.calendar.is_working_day(day).unwrap();
        let mut batch = Vec::new();
        for slot in 0..72 {
            let at = msk(day, 0, 0) + SignedDuration::from_mins(20 * slot);
            let hour = slot / 3;
            let (lat, lon) = if commutes && working && (9..18).contains(&hour) {
                OFFICE
            } else {
                FLAT
            };
            let jitter = ((slot * 7 + d * 3) % 5) as f64 * 2e-5;
            seq += 1;
            batch.push(FixInput {
                seq: DeviceSeq::parse(seq as i64).unwrap(),
                position: Coordinates::parse(lat + jitter, lon - jitter).unwrap(),
                accuracy: AccuracyM::parse(12.0).unwrap(),
                recorded_at: at,
                source: FixSource::Gps,
                mock_location: false,
                battery: None,
            });
        }
        let last = batch.last().unwrap().recorded_at;
        s.ingest(m, &device, batch, last).await.unwrap();
    }
    e.person_id
}

async fn scenario(s: SharedStore) {
    s.migrate().await.unwrap();
    let m = monitor();
    // Monday 17 – Friday 21 November 2025 (working days).
    let monday = date(2025, 11, 17);
    let left = person_with_days(&s, &m, "UZ7000001", monday, 5, false).await;
    let commuter = person_with_days(&s, &m, "UZ7000002", monday, 5, true).await;
    let params = DailyParams::default();
    let mut raised = 0;
    for d in 0..5 {
        let day = monday.checked_add(jiff::Span::new().days(d)).unwrap();
        let now = msk(day, 23, 59) + SignedDuration::from_hours(8);
        let report = run_for_day(&s, &m.calendar, day, &params, now)
            .await
            .unwrap();
        assert_eq!(report.skipped, 0, "{report:?}");
        raised += report.signals;
        // A rerun of the same day (a second node, a restart) does nothing.
        let again = run_for_day(&s, &m.calendar, day, &params, now)
            .await
            .unwrap();
        assert_eq!((again.processed, again.signals), (0, 0), "{again:?}");
    }
    let signals = s
        .signals(SignalQuery {
            kind: Some(SignalKind::StationaryDevice),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(signals.len(), 1, "{signals:?}");
    assert_eq!(raised, 1);
    assert_eq!(signals[0].subject, SignalSubject::Person(left));
    assert!(signals[0].explanation.contains("working days"));
    assert_eq!(signals[0].evidence["until"], "2025-11-19");
    assert!(s
        .signals(SignalQuery {
            person_id: Some(commuter),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
}

/// A person sleeping at FLAT for two weeks but registered (by notice) at an
/// address across the city: the job compares the inferred home with the
/// notice in force and raises "lives elsewhere" once for the week.
async fn lives_elsewhere_scenario(s: SharedStore) {
    use amina_domain::stay::{Address, AddressId, NoticeRules};
    s.migrate().await.unwrap();
    let m = monitor();
    let start = date(2025, 11, 3);
    let person = person_with_days(&s, &m, "UZ7000003", start, 14, true).await;
    let far = Address {
        id: AddressId::parse("demo-far-1").unwrap(),
        region: "RU-MOW".into(),
        municipality: "Москва".into(),
        street: "улица Вилиса Лациса".into(),
        house: "1".into(),
        flat: Some("5".into()),
        residential: true,
        position: Coordinates::parse(55.8532, 37.4313).unwrap(),
    };
    s.import_addresses(vec![far.clone()], msk(start, 1, 0))
        .await
        .unwrap();
    s.submit_notice(
        NoticeRules::default(),
        m.geofence.clone(),
        amina_store::NewNotice {
            person_id: person,
            address_id: far.id.clone(),
            date_from: start,
            host_name: None,
        },
        msk(start, 1, 0),
    )
    .await
    .unwrap();
    let params = DailyParams::default();
    for d in 0..14 {
        let day = start.checked_add(jiff::Span::new().days(d)).unwrap();
        let now = msk(day, 23, 59) + SignedDuration::from_hours(8);
        run_for_day(&s, &m.calendar, day, &params, now)
            .await
            .unwrap();
    }
    let found = s
        .signals(SignalQuery {
            person_id: Some(person),
            kind: Some(SignalKind::LivesElsewhere),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    // Weeks 45 (from Thursday, 4 nights seen) and 46.
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0]
        .explanation
        .contains("from the registered place of stay"));
    assert!(found[0].evidence["distance_m"].as_f64().unwrap() > 20_000.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn lives_elsewhere_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = amina_store::sqlite::SqliteStore::open(dir.path().join("a.db")).unwrap();
    lives_elsewhere_scenario(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lives_elsewhere_on_postgres() {
    let Some(db) = amina_testkit::fresh_pg_database() else {
        return;
    };
    let store = amina_store::postgres::PostgresStore::connect_with(&db.url, 4)
        .await
        .unwrap();
    lives_elsewhere_scenario(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stationary_phone_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = amina_store::sqlite::SqliteStore::open(dir.path().join("a.db")).unwrap();
    scenario(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stationary_phone_on_postgres() {
    let Some(db) = amina_testkit::fresh_pg_database() else {
        return;
    };
    let store = amina_store::postgres::PostgresStore::connect_with(&db.url, 4)
        .await
        .unwrap();
    scenario(Arc::new(store)).await;
}

#[test]
fn the_job_waits_for_the_night_to_end() {
    let d = date(2025, 11, 20);
    assert_eq!(due_day(msk(d, 6, 59), 7), None);
    assert_eq!(due_day(msk(d, 7, 0), 7), Some(date(2025, 11, 19)));
}
