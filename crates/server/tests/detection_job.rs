//! The daily detection job over stored fixes, on both backends: a phone
//! left in one flat over working days raises one stationary-device signal,
//! a rerun raises nothing more, and a commuter raises nothing; people
//! registered where they do not sleep make a fictitious-address signal with
//! its evidence table, host-party disputes counted and ranked; a silent
//! phone with a gone push subscription is "app probably removed"; and the
//! person-day signals carry the anomaly score that orders the queue.

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
    person_sleeping_at(s, m, number, from, days, commutes, FLAT).await
}

/// [`person_with_days`] for someone whose home is `home`.
async fn person_sleeping_at(
    s: &SharedStore,
    m: &Monitor,
    number: &str,
    from: Date,
    days: i64,
    commutes: bool,
    home: (f64, f64),
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
                home
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

fn address(id: &str, (lat, lon): (f64, f64)) -> amina_domain::stay::Address {
    amina_domain::stay::Address {
        id: amina_domain::stay::AddressId::parse(id).unwrap(),
        region: "RU-MOW".into(),
        municipality: "Москва".into(),
        street: "улица Вилиса Лациса".into(),
        house: id.into(),
        flat: Some("5".into()),
        residential: true,
        position: Coordinates::parse(lat, lon).unwrap(),
    }
}

async fn notify(s: &SharedStore, m: &Monitor, person: i64, address: &str, from: Date) {
    s.submit_notice(
        amina_domain::stay::NoticeRules::default(),
        m.geofence.clone(),
        amina_store::NewNotice {
            person_id: person,
            address_id: amina_domain::stay::AddressId::parse(address).unwrap(),
            date_from: from,
            host_name: None,
        },
        msk(from, 1, 0),
    )
    .await
    .unwrap();
}

/// Two "rubber flats": X has three residents sleeping elsewhere, one who
/// lives there, and a host-party dispute; Y has three residents sleeping
/// elsewhere and no dispute. Both are raised once for the week with the
/// evidence table; the dispute puts X first although a larger share of Y's
/// people live elsewhere. The person-day signals carry the anomaly score,
/// and the queue lists them by it.
async fn fictitious_address_scenario(s: SharedStore) {
    s.migrate().await.unwrap();
    let m = monitor();
    let start = date(2025, 11, 17); // Monday
    const X: (f64, f64) = (55.8532, 37.4313);
    const Y: (f64, f64) = (55.7012, 37.8123);
    s.import_addresses(
        vec![address("fict-x", X), address("fict-y", Y)],
        msk(start, 0, 30),
    )
    .await
    .unwrap();
    let mut at_x = Vec::new();
    for (i, number) in ["UZ7100001", "UZ7100002", "UZ7100003"].iter().enumerate() {
        let p = person_with_days(&s, &m, number, start, 5, i != 0).await;
        notify(&s, &m, p, "fict-x", start).await;
        at_x.push(p);
    }
    let lives_at_x = person_sleeping_at(&s, &m, "UZ7100004", start, 5, true, X).await;
    notify(&s, &m, lives_at_x, "fict-x", start).await;
    for number in ["UZ7100005", "UZ7100006", "UZ7100007"] {
        let p = person_with_days(&s, &m, number, start, 5, true).await;
        notify(&s, &m, p, "fict-y", start).await;
    }
    // The host party of X says the first resident does not live there (a
    // person-level signal carrying the address id); a dismissed dispute
    // about Y does not count.
    let dispute = |person: i64, addr: &str, key: &str| amina_store::NewSignal {
        kind: SignalKind::AddressDisputed,
        subject: SignalSubject::Person(person),
        dedup_key: key.into(),
        raised_at: msk(start, 12, 0),
        score: None,
        explanation: "The host party states the person does not live here.".into(),
        evidence: serde_json::json!({"address_id": addr, "statement": "never lived here"}),
    };
    s.raise_signal(dispute(at_x[0], "fict-x", "d-1"))
        .await
        .unwrap();
    let dismissed = s
        .raise_signal(dispute(at_x[1], "fict-y", "d-2"))
        .await
        .unwrap();
    s.review_signal(amina_store::SignalReview {
        signal_id: dismissed.id,
        to: amina_domain::signal::SignalStatus::Dismissed,
        actor: "officer-1".into(),
        reason: Some("wrong address".into()),
        at: msk(start, 13, 0),
    })
    .await
    .unwrap();

    let params = DailyParams::default();
    let mut addresses = 0;
    for d in 0..5 {
        let day = start.checked_add(jiff::Span::new().days(d)).unwrap();
        let now = msk(day, 23, 59) + SignedDuration::from_hours(8);
        let report = run_for_day(&s, &m.calendar, day, &params, now)
            .await
            .unwrap();
        addresses += report.addresses;
        if d == 0 {
            assert_eq!(report.anomaly_reference_day, None, "{report:?}");
        } else {
            assert_eq!(report.anomaly_reference_day, day.yesterday().ok());
        }
        let again = run_for_day(&s, &m.calendar, day, &params, now)
            .await
            .unwrap();
        assert_eq!(again.signals, 0, "{again:?}");
    }
    assert_eq!(addresses, 2, "each address once in the week");
    let flagged = s
        .signals(SignalQuery {
            kind: Some(SignalKind::FictitiousAddress),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(flagged.len(), 2, "{flagged:?}");
    let by = |id: &str| {
        flagged
            .iter()
            .find(|f| f.subject == SignalSubject::Address(id.into()))
            .unwrap_or_else(|| panic!("{id} not flagged: {flagged:?}"))
    };
    let (x, y) = (by("fict-x"), by("fict-y"));
    assert_eq!(x.dedup_key, "2025-W47");
    let e = &x.evidence;
    assert_eq!(
        (
            &e["registered"],
            &e["home_known"],
            &e["elsewhere"],
            &e["disputes"]
        ),
        (
            &serde_json::json!(4),
            &serde_json::json!(4),
            &serde_json::json!(3),
            &serde_json::json!(1)
        ),
        "{e}"
    );
    assert_eq!(e["share_elsewhere"], 0.75);
    assert_eq!(e["rank"], 1, "the dispute ranks X first: {e}");
    let residents = e["residents"].as_array().unwrap();
    assert_eq!(residents.len(), 4);
    let verdict_of = |p: i64| {
        residents
            .iter()
            .find(|r| r["person_id"] == p)
            .map(|r| r["verdict"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(verdict_of(lives_at_x).as_deref(), Some("at_address"));
    assert_eq!(verdict_of(at_x[0]).as_deref(), Some("elsewhere"));
    assert!(residents
        .iter()
        .filter(|r| r["verdict"] == "elsewhere")
        .all(|r| r["distance_m"].as_f64().unwrap() > 20_000.0));
    assert!(
        x.explanation.contains("1 host-party dispute"),
        "{}",
        x.explanation
    );
    assert_eq!(
        y.evidence["disputes"], 0,
        "a dismissed dispute does not count"
    );
    assert_eq!(y.evidence["share_elsewhere"], 1.0);
    assert_eq!(y.evidence["rank"], 2);
    assert!(x.score > y.score, "{:?} {:?}", x.score, y.score);

    // Person-day signals (lives elsewhere) carry the day's anomaly score
    // and its top three features, and the queue lists them by it.
    let elsewhere = s
        .signals(SignalQuery {
            kind: Some(SignalKind::LivesElsewhere),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(elsewhere.len(), 6, "{elsewhere:?}");
    for sig in &elsewhere {
        let a = sig.anomaly.as_ref().expect("ranked");
        assert!((0.0..=1.0).contains(&a.score));
        assert_eq!(a.top.len(), 3);
    }
    let scores: Vec<f64> = elsewhere
        .iter()
        .map(|s| s.anomaly.as_ref().unwrap().score)
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

/// A phone silent for days whose push subscription the push service
/// reported gone: "app probably removed", once; the same silence with a
/// live subscription (a phone switched off) raises nothing.
async fn app_removed_scenario(s: SharedStore) {
    use amina_domain::reminders::{Checkin, CheckinClient, GeoError, Permission, PushRules};
    s.migrate().await.unwrap();
    let m = monitor();
    let start = date(2025, 11, 24);
    let gone = person_with_days(&s, &m, "UZ7200001", start, 1, true).await;
    let alive = person_with_days(&s, &m, "UZ7200002", start, 1, true).await;
    let at = msk(start, 23, 40);
    for number in ["UZ7200001", "UZ7200002"] {
        let dev = format!("dev-{number}");
        s.put_subscription(
            &dev,
            amina_store::NewSubscription {
                endpoint: format!("https://push.example/{number}"),
                p256dh: vec![4; 65],
                auth: vec![9; 16],
                lang: "uz".into(),
            },
            at,
        )
        .await
        .unwrap();
        s.record_checkin(
            &dev,
            Checkin {
                at,
                location: Permission::Denied,
                notifications: Permission::Granted,
                queued_fixes: 0,
                geo_error: Some(GeoError::PermissionDenied),
                battery_pct: Some(40),
                charging: None,
                network: None,
                client: CheckinClient::App,
            },
        )
        .await
        .unwrap();
    }
    // The push service answers 410 for the first person's endpoint (after
    // the quiet hours).
    let day = msk(date(2025, 11, 26), 10, 0);
    s.plan_pushes(&PushRules::default(), day, 100)
        .await
        .unwrap();
    let claimed = s
        .claim_pushes(
            day,
            SignedDuration::from_mins(5),
            day - SignedDuration::from_hours(12),
            10,
        )
        .await
        .unwrap();
    let item = claimed
        .iter()
        .find(|c| c.endpoint.ends_with("UZ7200001"))
        .expect("a notice for the first person");
    s.record_delivery(amina_store::DeliveryReport {
        outbox_id: item.id,
        endpoint: item.endpoint.clone(),
        at: day,
        status_code: Some(410),
        error: None,
        outcome: amina_store::DeliveryOutcome::Gone,
    })
    .await
    .unwrap();

    let params = DailyParams::default();
    // 36 hours of silence: not yet.
    let d1 = date(2025, 11, 26);
    let early = run_for_day(&s, &m.calendar, d1, &params, msk(d1, 11, 40))
        .await
        .unwrap();
    assert_eq!(early.apps_removed, 0, "{early:?}");
    // 56 hours: raised for the person whose subscription is gone, once.
    let d2 = date(2025, 11, 27);
    let now = msk(d2, 7, 40);
    let report = run_for_day(&s, &m.calendar, d2, &params, now)
        .await
        .unwrap();
    assert_eq!(report.apps_removed, 1, "{report:?}");
    let again = run_for_day(
        &s,
        &m.calendar,
        d2,
        &params,
        now + SignedDuration::from_hours(1),
    )
    .await
    .unwrap();
    assert_eq!(again.apps_removed, 0);
    let found = s
        .signals(SignalQuery {
            kind: Some(SignalKind::AppProbablyRemoved),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].subject, SignalSubject::Person(gone));
    assert_eq!(found[0].evidence["silence_hours"], 56);
    assert_eq!(found[0].evidence["push_gone_at"], day.to_string());
    assert!(found[0].explanation.contains("subscription gone"));
    assert!(s
        .signals(SignalQuery {
            person_id: Some(alive),
            kind: Some(SignalKind::AppProbablyRemoved),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn fictitious_address_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = amina_store::sqlite::SqliteStore::open(dir.path().join("a.db")).unwrap();
    fictitious_address_scenario(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fictitious_address_on_postgres() {
    let Some(db) = amina_testkit::fresh_pg_database() else {
        return;
    };
    let store = amina_store::postgres::PostgresStore::connect_with(&db.url, 4)
        .await
        .unwrap();
    fictitious_address_scenario(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn app_removed_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = amina_store::sqlite::SqliteStore::open(dir.path().join("a.db")).unwrap();
    app_removed_scenario(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn app_removed_on_postgres() {
    let Some(db) = amina_testkit::fresh_pg_database() else {
        return;
    };
    let store = amina_store::postgres::PostgresStore::connect_with(&db.url, 4)
        .await
        .unwrap();
    app_removed_scenario(Arc::new(store)).await;
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
