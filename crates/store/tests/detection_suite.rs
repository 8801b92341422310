//! Storage tests for the daily detection job's later steps, on both
//! backends (see `common`): the queue ranked by anomaly score, the residents
//! and disputes of addresses under review, and device churn from bindings
//! and revoked devices' uploads.

#[macro_use]
mod common;

use amina_domain::detection::address::HomeVerdict;
use amina_domain::signal::{SignalKind, SignalStatus, SignalSubject};
use amina_domain::stay::{Address, AddressId, NoticeRules};
use amina_store::{AnomalyRank, NewNotice, NewSignal, RankFeature, SignalQuery, SignalReview};
use common::*;
use jiff::civil::date;

fn signal(kind: SignalKind, person: i64, key: &str, at: Timestamp) -> NewSignal {
    NewSignal {
        kind,
        subject: SignalSubject::Person(person),
        dedup_key: key.into(),
        raised_at: at,
        score: Some(0.5),
        explanation: "test".into(),
        evidence: serde_json::json!({}),
    }
}

fn rank(score: f64) -> Option<AnomalyRank> {
    Some(AnomalyRank {
        score,
        top: vec![
            RankFeature {
                feature: "radius_of_gyration_m".into(),
                value: 3.5,
                z: -4.25,
            },
            RankFeature {
                feature: "longest_identical_run".into(),
                value: 200.0,
                z: 3.0,
            },
        ],
    })
}

async fn the_queue_is_ranked_by_anomaly_score(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 10:00");
    let (pid, _, _) = enrolled_with_device(&s, &m, "UZ3000001", at).await;
    let hour = |h: i64| at + SignedDuration::from_hours(h);
    // Raised in this order; the newest has no score (a rule signal).
    let low = s
        .raise_ranked_signal(
            signal(SignalKind::StationaryDevice, pid, "w", hour(1)),
            rank(0.4),
        )
        .await
        .unwrap();
    let high = s
        .raise_ranked_signal(
            signal(SignalKind::SpoofedLocation, pid, "d", hour(2)),
            rank(0.9),
        )
        .await
        .unwrap();
    let mid = s
        .raise_ranked_signal(
            signal(SignalKind::LivesElsewhere, pid, "w", hour(0)),
            rank(0.6),
        )
        .await
        .unwrap();
    let unscored = s
        .raise_signal(signal(SignalKind::OutsideRegion, pid, "o", hour(3)))
        .await
        .unwrap();
    let older_unscored = s
        .raise_signal(signal(SignalKind::OutsideRegion, pid, "o0", hour(-1)))
        .await
        .unwrap();
    let list = s
        .signals(SignalQuery {
            statuses: vec![SignalStatus::Open],
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        list.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![high.id, mid.id, low.id, unscored.id, older_unscored.id],
        "highest anomaly first, then unscored newest first"
    );
    assert_eq!(list[0].anomaly, rank(0.9));
    assert_eq!(list[3].anomaly, None);
    // The same occurrence again keeps its first score.
    let again = s
        .raise_ranked_signal(
            signal(SignalKind::SpoofedLocation, pid, "d", hour(5)),
            rank(0.1),
        )
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(s.signal(high.id).await.unwrap().unwrap().anomaly, rank(0.9));
}

fn address(id: &str, (lat, lon): (f64, f64)) -> Address {
    Address {
        id: AddressId::parse(id).unwrap(),
        region: "RU-MOW".into(),
        municipality: "Москва".into(),
        street: "улица Вилиса Лациса".into(),
        house: id.into(),
        flat: None,
        residential: true,
        position: amina_domain::types::Coordinates::parse(lat, lon).unwrap(),
    }
}

async fn address_review_reads_verdicts_and_disputes(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 10:00");
    s.import_addresses(
        vec![
            address("addr-a", (55.8532, 37.4313)),
            address("addr-b", (55.7012, 37.8123)),
        ],
        at,
    )
    .await
    .unwrap();
    let mut people = Vec::new();
    for (n, addr) in [
        ("UZ3100001", "addr-a"),
        ("UZ3100002", "addr-a"),
        ("UZ3100003", "addr-a"),
        ("UZ3100004", "addr-a"),
        ("UZ3100005", "addr-b"),
    ] {
        let (pid, _, _) = enrolled_with_device(&s, &m, n, at).await;
        s.submit_notice(
            NoticeRules::default(),
            m.geofence.clone(),
            NewNotice {
                person_id: pid,
                address_id: AddressId::parse(addr).unwrap(),
                date_from: date(2025, 11, 24),
                host_name: None,
            },
            at,
        )
        .await
        .unwrap();
        people.push(pid);
    }
    let day = date(2025, 12, 1);
    let far = HomeVerdict::Elsewhere {
        distance_m: 9000.0,
        score: 0.8,
    };
    s.save_home_verdict(people[0], "addr-a".into(), day, far.clone(), at)
        .await
        .unwrap();
    s.save_home_verdict(people[1], "addr-a".into(), day, HomeVerdict::AtAddress, at)
        .await
        .unwrap();
    // Computed against another address (an earlier notice): not counted.
    s.save_home_verdict(people[2], "addr-b".into(), day, far.clone(), at)
        .await
        .unwrap();
    // Too old: not counted.
    s.save_home_verdict(
        people[3],
        "addr-a".into(),
        date(2025, 11, 10),
        far.clone(),
        at,
    )
    .await
    .unwrap();
    s.save_home_verdict(people[4], "addr-b".into(), day, HomeVerdict::AtAddress, at)
        .await
        .unwrap();
    let fresh_since = date(2025, 11, 18);
    let residents = s.address_review_residents(fresh_since, 10).await.unwrap();
    let seen: Vec<(&str, i64, &HomeVerdict)> = residents
        .iter()
        .map(|r| (r.address_id.as_str(), r.person_id, &r.verdict))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("addr-a", people[0], &far),
            ("addr-a", people[1], &HomeVerdict::AtAddress),
            ("addr-a", people[2], &HomeVerdict::Unknown),
            ("addr-a", people[3], &HomeVerdict::Unknown),
        ],
        "only addresses with someone elsewhere"
    );
    // Crowded addresses come too, whatever the verdicts.
    let all = s.address_review_residents(fresh_since, 0).await.unwrap();
    assert_eq!(all.len(), 5);
    // A verdict replaced by a newer one for the same person.
    s.save_home_verdict(people[0], "addr-a".into(), day, HomeVerdict::AtAddress, at)
        .await
        .unwrap();
    assert!(s
        .address_review_residents(fresh_since, 10)
        .await
        .unwrap()
        .is_empty());

    // Host-party disputes: undecided ones counted per address.
    let dispute = |p: i64, addr: &str, key: &str| NewSignal {
        kind: SignalKind::AddressDisputed,
        subject: SignalSubject::Person(p),
        dedup_key: key.into(),
        raised_at: at,
        score: None,
        explanation: "The host party states the person does not live here.".into(),
        evidence: serde_json::json!({"address_id": addr, "statement": "not here"}),
    };
    s.raise_signal(dispute(people[0], "addr-a", "1"))
        .await
        .unwrap();
    let in_review = s
        .raise_signal(dispute(people[1], "addr-a", "2"))
        .await
        .unwrap();
    let dismissed = s
        .raise_signal(dispute(people[4], "addr-b", "3"))
        .await
        .unwrap();
    s.review_signal(SignalReview {
        signal_id: in_review.id,
        to: SignalStatus::InReview,
        actor: "officer-1".into(),
        reason: None,
        at,
    })
    .await
    .unwrap();
    s.review_signal(SignalReview {
        signal_id: dismissed.id,
        to: SignalStatus::Dismissed,
        actor: "officer-1".into(),
        reason: Some("the host party withdrew it".into()),
        at,
    })
    .await
    .unwrap();
    let disputes = s.open_address_disputes().await.unwrap();
    assert_eq!(
        disputes.into_iter().collect::<Vec<_>>(),
        vec![("addr-a".to_string(), 2)]
    );
}

async fn churn_candidates_come_from_the_days_bindings_and_revoked_uploads(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 10:00");
    let (pid, _, old) = enrolled_with_device(&s, &m, "UZ3200001", at).await;
    // The same person binds a second phone two hours later (the first is
    // revoked), and the first keeps trying to upload.
    let later = at + SignedDuration::from_hours(2);
    let t = token(later + SignedDuration::from_mins(15), "self");
    let hash = t.hash;
    s.enrol(&m, &number("UZ3200001"), t, later).await.unwrap();
    s.bind_device(hash, device("dev-UZ3200001-b", "self"), later)
        .await
        .unwrap();
    let day = date(2025, 11, 24);
    s.record_revoked_upload(&old, day, later + SignedDuration::from_mins(1))
        .await
        .unwrap();
    s.record_revoked_upload(&old, day, later + SignedDuration::from_mins(2))
        .await
        .unwrap();
    // The active device is not recorded (its uploads are accepted).
    s.record_revoked_upload("dev-UZ3200001-b", day, later)
        .await
        .unwrap();
    // Someone else bound a phone on another day.
    enrolled_with_device(&s, &m, "UZ3200002", msk("2025-11-20 10:00")).await;

    let day_start = msk("2025-11-24 00:00");
    let day_end = msk("2025-11-25 00:00");
    let window_start = day_end - SignedDuration::from_hours(24 * 30);
    let c = s
        .churn_candidates(day, day_start, day_end, window_start)
        .await
        .unwrap();
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].person_id, pid);
    assert_eq!(c[0].bindings, vec![at, later]);
    assert_eq!(c[0].revoked_uploads, 2);
    assert_eq!(c[0].revoked_devices, vec![old.clone()]);
    // The next day nothing new happened: no candidates.
    let next = s
        .churn_candidates(
            date(2025, 11, 25),
            day_end,
            day_end + SignedDuration::from_hours(24),
            window_start,
        )
        .await
        .unwrap();
    assert!(next.is_empty(), "{next:?}");
}

suite!(
    both: [
        the_queue_is_ranked_by_anomaly_score,
        address_review_reads_verdicts_and_disputes,
        churn_candidates_come_from_the_days_bindings_and_revoked_uploads,
    ],
    postgres_only: []
);
