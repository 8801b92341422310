//! Storage tests for the address register, place-of-stay notices and
//! one-time enrolment codes, on both backends (see `common`).

#[macro_use]
mod common;

use amina_domain::enrolment_code::{CodeRefusal, EnrolmentCode};
use amina_domain::stay::{Address, AddressId, HostName, NoticeRefusal, NoticeRules, NoticeState};
use amina_store::{NewNotice, StayError, StoreError};
use common::*;
use jiff::civil::{date, Date};

const TVERSKAYA_7: (f64, f64) = (55.7579, 37.6112);
const MIRA_PROSPEKT: (f64, f64) = (55.7810, 37.6335);
const KHIMKI: (f64, f64) = (55.8887, 37.4304);

fn address(id: &str, street: &str, house: &str, flat: Option<&str>, at: (f64, f64)) -> Address {
    Address {
        id: AddressId::parse(id).expect("valid id"),
        region: "RU-MOW".into(),
        municipality: "Москва".into(),
        street: street.into(),
        house: house.into(),
        flat: flat.map(String::from),
        residential: true,
        position: Coordinates::parse(at.0, at.1).expect("valid position"),
    }
}

/// A small register: two flats on Tverskaya, one on Mira, an office, a
/// house in Khimki (oblast) and one in Tver (outside the pilot; stored as
/// if imported under another configuration).
fn register() -> Vec<Address> {
    let mut office = address("mow-office", "улица Тверская", "7", None, TVERSKAYA_7);
    office.residential = false;
    let mut khimki = address(
        "mos-khimki-1",
        "улица Московская",
        "12к1",
        Some("5"),
        KHIMKI,
    );
    khimki.region = "RU-MOS".into();
    khimki.municipality = "городской округ Химки".into();
    let mut tver = address("tve-1", "улица Советская", "10", Some("3"), TVER);
    tver.region = "RU-TVE".into();
    tver.municipality = "Тверь".into();
    vec![
        address(
            "mow-tv-7-12",
            "улица Тверская",
            "7",
            Some("12"),
            TVERSKAYA_7,
        ),
        address("mow-tv-7-3", "улица Тверская", "7", Some("3"), TVERSKAYA_7),
        address(
            "mow-mira-1",
            "проспект Мира",
            "101",
            Some("45"),
            MIRA_PROSPEKT,
        ),
        office,
        khimki,
        tver,
    ]
}

fn id(s: &str) -> AddressId {
    AddressId::parse(s).expect("valid id")
}

fn notice(person_id: i64, address: &str, from: Date) -> NewNotice {
    NewNotice {
        person_id,
        address_id: id(address),
        date_from: from,
        host_name: None,
    }
}

fn rules() -> NoticeRules {
    NoticeRules { max_days_ahead: 7 }
}

fn refusal<T: std::fmt::Debug>(r: Result<T, StoreError>) -> StayError {
    match r {
        Err(StoreError::Stay(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn submit(
    s: &SharedStore,
    n: NewNotice,
    at: Timestamp,
) -> Result<amina_store::NoticeOutcome, StoreError> {
    s.submit_notice(rules(), monitor().geofence.clone(), n, at)
        .await
}

async fn addresses_import_upserts_and_search_is_tolerant(h: Harness) {
    let s = h.migrated().await;
    let t0 = msk("2025-11-20 09:00");
    let counts = s.import_addresses(register(), t0).await.unwrap();
    assert_eq!((counts.inserted, counts.updated), (6, 0));
    let mut changed = register();
    changed[0].house = "7 стр. 2".into();
    let counts = s.import_addresses(changed[..2].to_vec(), t0).await.unwrap();
    assert_eq!((counts.inserted, counts.updated), (0, 2));
    let stored = s.address(&id("mow-tv-7-12")).await.unwrap().unwrap();
    assert_eq!(stored.house, "7 стр. 2");
    assert_eq!(stored.flat.as_deref(), Some("12"));
    assert_eq!(stored.position, changed[0].position);
    assert!(s.address(&id("nope")).await.unwrap().is_none());

    let find = |q: &'static str, limit| {
        let s = s.clone();
        async move {
            let terms = amina_domain::stay::query_terms(q);
            s.search_addresses(&terms, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.id.to_string())
                .collect::<Vec<_>>()
        }
    };
    // Case, "ул."/"д." and word order do not matter; houses come before
    // their flats, flats in natural order.
    assert_eq!(
        find("ТВЕРСКАЯ ул., д. 7", 10).await,
        vec!["mow-office", "mow-tv-7-3", "mow-tv-7-12"]
    );
    assert_eq!(find("7 тверская кв 12", 10).await, vec!["mow-tv-7-12"]);
    assert_eq!(find("пр-т мира 101", 10).await, vec!["mow-mira-1"]);
    assert_eq!(find("химки 12к1", 10).await, vec!["mos-khimki-1"]);
    assert_eq!(find("московская 12 к1", 10).await, vec!["mos-khimki-1"]);
    assert_eq!(find("тверская", 2).await.len(), 2);
    assert!(find("ленинградский", 10).await.is_empty());
    assert!(s.search_addresses(&[], 10).await.unwrap().is_empty());
}

async fn notices_supersede_keep_history_and_refusals_change_nothing(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-20 09:00");
    s.import_addresses(register(), t0).await.unwrap();
    let (pid, rid, _) = enrolled_with_device(&s, &m, "UZ2000001", t0).await;

    let at = msk("2025-11-21 10:00");
    let first = submit(&s, notice(pid, "mow-tv-7-12", date(2025, 11, 20)), at)
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.superseded, None);
    assert_eq!(first.notice.state, NoticeState::Current);
    assert_eq!(first.notice.registration_id, rid);
    assert_eq!(first.notice.address.street, "улица Тверская");
    assert_eq!(first.notice.submitted_at, at);

    // The same notice again (a retry): nothing new.
    let again = submit(&s, notice(pid, "mow-tv-7-12", date(2025, 11, 20)), at)
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.notice.id, first.notice.id);

    let events_before = s.person_events(pid).await.unwrap().len();
    // Refusals: each leaves notices and events as they were.
    let refusals = [
        (
            notice(pid, "mow-office", date(2025, 11, 25)),
            "address_not_residential",
        ),
        (
            notice(pid, "tve-1", date(2025, 11, 25)),
            "address_outside_region",
        ),
        (
            notice(pid, "mow-mira-1", date(2025, 11, 19)),
            "date_before_registration",
        ),
        (
            notice(pid, "mow-mira-1", date(2025, 12, 1)),
            "date_too_far_ahead",
        ),
    ];
    for (n, code) in refusals {
        match refusal(submit(&s, n, at).await) {
            StayError::Notice(r) => assert_eq!(r.code(), code),
            other => panic!("expected {code}, got {other:?}"),
        }
    }
    assert_eq!(
        refusal(submit(&s, notice(pid, "gone", date(2025, 11, 25)), at).await),
        StayError::UnknownAddress
    );
    assert_eq!(s.notices(pid).await.unwrap().len(), 1);
    assert_eq!(s.person_events(pid).await.unwrap().len(), events_before);

    // A move: the new notice is in force, the old one superseded.
    let later = msk("2025-11-25 20:00");
    let mut moved = notice(pid, "mow-mira-1", date(2025, 11, 27));
    moved.host_name = HostName::parse(Some("Петров Пётр Петрович")).unwrap();
    let second = submit(&s, moved, later).await.unwrap();
    assert!(second.created);
    assert_eq!(second.superseded, Some(first.notice.id));
    // Not before the notice in force.
    assert_eq!(
        refusal(submit(&s, notice(pid, "mow-tv-7-3", date(2025, 11, 26)), later).await),
        StayError::Notice(NoticeRefusal::BeforeCurrentNotice {
            current: date(2025, 11, 27)
        })
    );

    let history = s.notices(pid).await.unwrap();
    let states: Vec<_> = history.iter().map(|n| (n.id, n.state)).collect();
    assert_eq!(
        states,
        vec![
            (second.notice.id, NoticeState::Current),
            (first.notice.id, NoticeState::Superseded)
        ]
    );
    assert_eq!(
        history[0].host_name.as_deref(),
        Some("Петров Пётр Петрович")
    );
    assert_eq!(history[0].date_from, date(2025, 11, 27));
    assert_eq!(history[1].superseded_at, Some(later));
    let kinds: Vec<_> = s
        .person_events(pid)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "stay_notice")
        .map(|e| e.detail)
        .collect();
    assert_eq!(kinds.len(), 2);
    assert_eq!(kinds[1]["supersedes"], first.notice.id);
    assert_eq!(kinds[1]["address_id"], "mow-mira-1");
}

async fn a_deregistration_ends_the_notice_and_stops_new_ones(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-28 18:00");
    s.import_addresses(register(), t0).await.unwrap();
    let (pid, _, _) = enrolled_with_device(&s, &m, "UZ2000002", t0).await;
    submit(&s, notice(pid, "mos-khimki-1", date(2025, 11, 28)), t0)
        .await
        .unwrap();
    // Past the deadline (Wednesday 3 Dec) but before the sweep: the
    // registration has lapsed, so no notice.
    let late = msk("2025-12-04 09:00");
    assert_eq!(
        refusal(submit(&s, notice(pid, "mow-tv-7-3", date(2025, 12, 4)), late).await),
        StayError::Notice(NoticeRefusal::NotRegistered)
    );
    assert_eq!(s.deregister_due(&m, late, 10).await.unwrap().len(), 1);
    let history = s.notices(pid).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].state, NoticeState::Ended);
    assert_eq!(
        refusal(submit(&s, notice(pid, "mow-tv-7-3", date(2025, 12, 4)), late).await),
        StayError::Notice(NoticeRefusal::NotRegistered)
    );

    // Re-registered: a fresh notice for the new registration.
    let t = token(late + SignedDuration::from_mins(15), "self");
    let e = s.enrol(&m, &number("UZ2000002"), t, late).await.unwrap();
    assert!(e.new_registration);
    let fresh = submit(&s, notice(pid, "mow-tv-7-3", date(2025, 12, 4)), late)
        .await
        .unwrap();
    assert_eq!(
        fresh.superseded, None,
        "the old registration's notice ended"
    );
    let states: Vec<_> = s
        .notices(pid)
        .await
        .unwrap()
        .iter()
        .map(|n| n.state)
        .collect();
    assert_eq!(states, vec![NoticeState::Current, NoticeState::Ended]);
}

async fn enrolment_codes_work_once_and_only_while_fresh(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    s.import_cards(vec![card("UZ3000001"), card("UZ3000002")], t0)
        .await
        .unwrap();
    let ttl = SignedDuration::from_mins(10);
    let issued = s
        .issue_enrolment_code(&number("UZ3000001"), "sakharovo-7", ttl, t0)
        .await
        .unwrap();
    assert_eq!(issued.expires_at, t0 + ttl);
    assert_eq!(issued.superseded, 0);
    assert_eq!(issued.card_number, number("UZ3000001"));

    // Unknown and malformed-but-valid-looking codes change nothing.
    let unknown = EnrolmentCode::parse("00000-00000").unwrap();
    let t = token(t0 + SignedDuration::from_mins(15), "self");
    assert_eq!(
        refusal(s.enrol_with_code(&m, &unknown, t, t0).await),
        StayError::Code(CodeRefusal::Unknown)
    );
    assert!(s
        .person_by_card(&number("UZ3000001"))
        .await
        .unwrap()
        .is_none());

    // The code as typed (lower case, with the dash) enrols the holder.
    let typed = EnrolmentCode::parse(&issued.code.display().to_lowercase()).unwrap();
    let t = token(t0 + SignedDuration::from_mins(15), "self");
    let hash = t.hash;
    let use_at = t0 + SignedDuration::from_mins(3);
    let e = s.enrol_with_code(&m, &typed, t, use_at).await.unwrap();
    assert!(e.new_registration);
    let bound = s
        .bind_device(hash, device("dev-code-1", "self"), use_at)
        .await
        .unwrap();
    assert_eq!(bound.person_id, e.person_id);
    let events: Vec<_> = s
        .person_events(e.person_id)
        .await
        .unwrap()
        .into_iter()
        .map(|ev| (ev.kind, ev.actor))
        .collect();
    assert!(events.contains(&("registered".into(), "operator:sakharovo-7".into())));
    assert!(events.contains(&("enrolled_with_code".into(), "operator:sakharovo-7".into())));

    // Used once: a second use (another phone) is refused, nothing changes.
    let before = s.counts().await.unwrap();
    let t = token(t0 + SignedDuration::from_mins(15), "self");
    assert_eq!(
        refusal(s.enrol_with_code(&m, &issued.code, t, use_at).await),
        StayError::Code(CodeRefusal::Used)
    );
    assert_eq!(s.counts().await.unwrap(), before);

    // Expired: ten minutes and a millisecond after issue.
    let other = s
        .issue_enrolment_code(&number("UZ3000002"), "sakharovo-7", ttl, t0)
        .await
        .unwrap();
    let t = token(t0 + SignedDuration::from_mins(30), "self");
    let too_late = t0 + ttl + SignedDuration::from_millis(1);
    assert_eq!(
        refusal(s.enrol_with_code(&m, &other.code, t, too_late).await),
        StayError::Code(CodeRefusal::Expired)
    );
    assert!(s
        .person_by_card(&number("UZ3000002"))
        .await
        .unwrap()
        .is_none());

    // A new code replaces the card's open one.
    let newer = s
        .issue_enrolment_code(&number("UZ3000002"), "sakharovo-9", ttl, too_late)
        .await
        .unwrap();
    assert_eq!(newer.superseded, 1);
    let t = token(too_late + SignedDuration::from_mins(15), "self");
    assert_eq!(
        refusal(s.enrol_with_code(&m, &other.code, t, too_late).await),
        StayError::Code(CodeRefusal::Superseded)
    );
    let t = token(too_late + SignedDuration::from_mins(15), "self");
    let e2 = s
        .enrol_with_code(&m, &newer.code, t, too_late)
        .await
        .unwrap();
    assert!(e2.new_registration);

    // Cards: unknown, expired.
    assert!(matches!(
        s.issue_enrolment_code(&number("ZZ9999999"), "op", ttl, t0)
            .await,
        Err(StoreError::UnknownCard)
    ));
    let mut expired = card("UZ3000003");
    expired.valid_until = date(2025, 11, 23);
    s.import_cards(vec![expired], t0).await.unwrap();
    assert_eq!(
        refusal(
            s.issue_enrolment_code(&number("UZ3000003"), "op", ttl, t0)
                .await
        ),
        StayError::CardExpired {
            valid_until: date(2025, 11, 23)
        }
    );
}

async fn rebinding_through_a_code_revokes_the_old_device(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let (pid, rid, old) = enrolled_with_device(&s, &m, "UZ4000001", t0).await;
    let lost_at = msk("2025-11-25 12:00");
    let issued = s
        .issue_enrolment_code(
            &number("UZ4000001"),
            "sakharovo-2",
            SignedDuration::from_mins(10),
            lost_at,
        )
        .await
        .unwrap();
    let t = token(lost_at + SignedDuration::from_mins(15), "self");
    let hash = t.hash;
    let e = s
        .enrol_with_code(&m, &issued.code, t, lost_at)
        .await
        .unwrap();
    assert_eq!((e.person_id, e.registration_id), (pid, rid));
    assert!(
        !e.new_registration,
        "still registered: the same registration"
    );
    s.bind_device(hash, device("dev-new-phone", "self"), lost_at)
        .await
        .unwrap();
    let old_device = s.device(&old).await.unwrap().unwrap();
    assert_eq!(old_device.status, DeviceStatus::Revoked);
    assert_eq!(old_device.revoked_at, Some(lost_at));
    assert_eq!(
        s.person(pid)
            .await
            .unwrap()
            .unwrap()
            .active_device_id
            .as_deref(),
        Some("dev-new-phone")
    );
    let kinds: Vec<_> = s
        .person_events(pid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for k in [
        "enrolment_code_issued",
        "enrolled_with_code",
        "device_revoked",
        "device_rebound",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    // The old phone can no longer report.
    assert!(matches!(
        s.ingest(&m, &old, vec![fix(1, lost_at, KREMLIN)], lost_at)
            .await,
        Err(StoreError::DeviceRevoked)
    ));
}

async fn person_data_holds_everything_about_the_person(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    s.import_addresses(register(), t0).await.unwrap();
    let (pid, rid, dev) = enrolled_with_device(&s, &m, "UZ5000001", t0).await;
    let f1 = msk("2025-11-24 11:00");
    let f2 = msk("2025-11-24 12:00");
    s.ingest(&m, &dev, vec![fix(1, f1, KREMLIN), fix(2, f2, KREMLIN)], f2)
        .await
        .unwrap();
    submit(&s, notice(pid, "mow-tv-7-3", date(2025, 11, 24)), f2)
        .await
        .unwrap();
    // A second phone: the first is revoked.
    let t = token(f2 + SignedDuration::from_mins(15), "self");
    let hash = t.hash;
    s.enrol(&m, &number("UZ5000001"), t, f2).await.unwrap();
    s.bind_device(hash, device("dev-second", "self"), f2)
        .await
        .unwrap();

    let data = s.person_data(pid).await.unwrap().unwrap();
    assert_eq!(data.person_id, pid);
    assert_eq!(data.card.number, number("UZ5000001"));
    assert_eq!(data.card.name_cyrillic, "Алишер Каримов");
    assert_eq!(data.card.citizenship.as_str(), "UZB");
    assert_eq!(data.card.birth_date, date(1990, 5, 1));
    assert_eq!(data.card.valid_until, date(2030, 1, 1));
    assert_eq!(data.registrations.len(), 1);
    assert_eq!(data.registrations[0].id, rid);
    assert_eq!(data.registrations[0].started_at, t0);
    assert_eq!(data.registrations[0].ended_at, None);
    let devices: Vec<_> = data
        .devices
        .iter()
        .map(|d| (d.id.as_str(), d.status))
        .collect();
    assert_eq!(
        devices,
        vec![
            (dev.as_str(), DeviceStatus::Revoked),
            ("dev-second", DeviceStatus::Active)
        ]
    );
    assert_eq!(data.notices.len(), 1);
    assert_eq!(data.notices[0].address.id, id("mow-tv-7-3"));
    assert_eq!(data.fixes.count, 2);
    assert_eq!(data.fixes.first_recorded_at, Some(f1));
    assert_eq!(data.fixes.last_recorded_at, Some(f2));
    assert!(s.person_data(pid + 1000).await.unwrap().is_none());
}

suite!(
    both: [
        addresses_import_upserts_and_search_is_tolerant,
        notices_supersede_keep_history_and_refusals_change_nothing,
        a_deregistration_ends_the_notice_and_stops_new_ones,
        enrolment_codes_work_once_and_only_while_fresh,
        rebinding_through_a_code_revokes_the_old_device,
        person_data_holds_everything_about_the_person,
    ],
    postgres_only: []
);
