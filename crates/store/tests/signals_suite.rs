//! Storage tests for signals, on both backends (see `common`).

#[macro_use]
mod common;

use amina_domain::signal::{ReviewError, SignalKind, SignalStatus, SignalSubject};
use amina_store::{NewSignal, SignalQuery, SignalReview, StoreError};
use common::*;
use jiff::Timestamp;

fn outside(person_id: i64, key: &str, at: Timestamp) -> NewSignal {
    NewSignal {
        kind: SignalKind::OutsideRegion,
        subject: SignalSubject::Person(person_id),
        dedup_key: key.into(),
        raised_at: at,
        score: None,
        explanation: "trusted position outside the pilot region".into(),
        evidence: serde_json::json!({"lat": 56.8587, "lon": 35.9176}),
    }
}

async fn signals_are_raised_once_per_occurrence(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 10:00");
    let (pid, _, _) = enrolled_with_device(&s, &m, "UZ1000001", at).await;

    let first = s.raise_signal(outside(pid, "left-1", at)).await.unwrap();
    assert!(first.created);
    // The same occurrence again (another node, a rerun): nothing new.
    let again = s.raise_signal(outside(pid, "left-1", at)).await.unwrap();
    assert_eq!(
        again,
        amina_store::RaisedSignal {
            id: first.id,
            created: false
        }
    );
    // A new occurrence is a new signal.
    let second = s
        .raise_signal(outside(pid, "left-2", msk("2025-11-25 10:00")))
        .await
        .unwrap();
    assert!(second.created);
    assert_ne!(second.id, first.id);

    let address = NewSignal {
        kind: SignalKind::FictitiousAddress,
        subject: SignalSubject::Address("gar-1".into()),
        dedup_key: "2025-11".into(),
        raised_at: at,
        score: Some(0.8),
        explanation: "12 of 14 registered people live elsewhere".into(),
        evidence: serde_json::json!({"registered": 14, "elsewhere": 12}),
    };
    assert!(s.raise_signal(address).await.unwrap().created);

    let mine = s
        .signals(SignalQuery {
            person_id: Some(pid),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        mine.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![second.id, first.id],
        "newest first, only this person's"
    );
    let r = &mine[1];
    assert_eq!(r.kind, SignalKind::OutsideRegion);
    assert_eq!(r.subject, SignalSubject::Person(pid));
    assert_eq!(r.status, SignalStatus::Open);
    assert_eq!(r.raised_at, at);
    assert_eq!(r.evidence["lat"], 56.8587);

    let by_address = s
        .signals(SignalQuery {
            address_id: Some("gar-1".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_address.len(), 1);
    assert_eq!(by_address[0].score, Some(0.8));

    let limited = s
        .signals(SignalQuery {
            kind: Some(SignalKind::OutsideRegion),
            statuses: vec![SignalStatus::Open],
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
}

async fn a_signal_about_the_wrong_subject_is_refused(h: Harness) {
    let s = h.migrated().await;
    let mut wrong = outside(1, "k", msk("2025-11-24 10:00"));
    wrong.subject = SignalSubject::Address("gar-1".into());
    assert!(matches!(
        s.raise_signal(wrong).await,
        Err(StoreError::Internal(_))
    ));
    assert!(s
        .signals(SignalQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
}

async fn review_steps_follow_the_rules_and_are_kept(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 10:00");
    let (pid, _, _) = enrolled_with_device(&s, &m, "UZ1000002", at).await;
    let id = s.raise_signal(outside(pid, "left", at)).await.unwrap().id;
    let step = |to, reason: Option<&str>, minutes| SignalReview {
        signal_id: id,
        to,
        actor: "officer-1".into(),
        reason: reason.map(String::from),
        at: at + jiff::SignedDuration::from_mins(minutes),
    };

    let taken = s
        .review_signal(step(SignalStatus::InReview, None, 5))
        .await
        .unwrap();
    assert_eq!(taken.status, SignalStatus::InReview);
    assert_eq!(taken.assigned_to.as_deref(), Some("officer-1"));

    // Deciding without a reason changes nothing.
    let refused = s
        .review_signal(step(SignalStatus::Dismissed, Some(" "), 6))
        .await;
    assert!(matches!(
        refused,
        Err(StoreError::Review(ReviewError::ReasonRequired))
    ));
    assert_eq!(
        s.signal(id).await.unwrap().unwrap().status,
        SignalStatus::InReview
    );

    let decided = s
        .review_signal(step(
            SignalStatus::Dismissed,
            Some("GNSS spoofing near the airport"),
            7,
        ))
        .await
        .unwrap();
    assert_eq!(decided.status, SignalStatus::Dismissed);
    assert_eq!(decided.decided_by.as_deref(), Some("officer-1"));
    assert_eq!(
        decided.decision_reason.as_deref(),
        Some("GNSS spoofing near the airport")
    );
    assert_eq!(decided.updated_at, at + jiff::SignedDuration::from_mins(7));

    // Decided stays decided.
    assert!(matches!(
        s.review_signal(step(SignalStatus::Open, None, 8)).await,
        Err(StoreError::Review(ReviewError::NotAllowed { .. }))
    ));
    assert!(matches!(
        s.review_signal(SignalReview {
            signal_id: id + 1000,
            ..step(SignalStatus::InReview, None, 9)
        })
        .await,
        Err(StoreError::UnknownSignal)
    ));

    let history = s.signal_reviews(id).await.unwrap();
    let moves: Vec<_> = history.iter().map(|r| (r.from, r.to)).collect();
    assert_eq!(
        moves,
        vec![
            (SignalStatus::Open, SignalStatus::InReview),
            (SignalStatus::InReview, SignalStatus::Dismissed)
        ]
    );
    assert_eq!(
        history[1].reason.as_deref(),
        Some("GNSS spoofing near the airport")
    );
}

async fn leaving_the_region_raises_one_signal_per_departure(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 08:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "UZ1000003", at).await;
    let hours = |h: i64| at + jiff::SignedDuration::from_hours(h);
    let outside_signals = || async {
        s.signals(SignalQuery {
            person_id: Some(pid),
            kind: Some(SignalKind::OutsideRegion),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
    };
    s.ingest(&m, &dev, vec![fix(1, hours(1), KREMLIN)], hours(1))
        .await
        .unwrap();
    assert!(outside_signals().await.is_empty(), "inside: nothing");
    // Driving to Tver (about 85 km/h): trusted, outside.
    s.ingest(&m, &dev, vec![fix(2, hours(3), TVER)], hours(3))
        .await
        .unwrap();
    let raised = outside_signals().await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].raised_at, hours(3));
    assert_eq!(raised[0].evidence["previous_presence"], "in_region");
    assert_eq!(raised[0].evidence["lat"], TVER.0);
    // Still outside: the same departure, no new signal.
    s.ingest(&m, &dev, vec![fix(3, hours(4), TVER)], hours(4))
        .await
        .unwrap();
    assert_eq!(outside_signals().await.len(), 1);
    // Back, and out again: a second departure.
    s.ingest(&m, &dev, vec![fix(4, hours(7), KREMLIN)], hours(7))
        .await
        .unwrap();
    s.ingest(&m, &dev, vec![fix(5, hours(10), TVER)], hours(10))
        .await
        .unwrap();
    let raised = outside_signals().await;
    assert_eq!(raised.len(), 2);
    assert_eq!(raised[0].raised_at, hours(10));
}

suite!(
    both: [
        leaving_the_region_raises_one_signal_per_departure,
        signals_are_raised_once_per_occurrence,
        a_signal_about_the_wrong_subject_is_refused,
        review_steps_follow_the_rules_and_are_kept,
    ],
    postgres_only: []
);
