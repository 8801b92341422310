//! Storage tests for the federal migration system's integration, on both
//! backends (see `common`): inbound events applied once and in time order,
//! unknown people kept and replayed, card reissues, the transactional
//! outbox feed (same transaction as the change, published once, across a
//! restart and with concurrent publishers), and "outside too long".

#[macro_use]
mod common;

use amina_domain::integration::{
    EventBody, EventId, InboundEvent, Outcome, OutsideRule, RegionCode,
};
use amina_domain::reminders::Notice;
use amina_domain::signal::SignalKind;
use amina_domain::stay::{Address, AddressId, NoticeRules};
use amina_store::{
    EventQuery, FeedKind, IntegrationError, NewEvent, NewNotice, NewSubscription, Rejection,
    SignalQuery,
};
use common::*;

const PILOT: [&str; 2] = ["RU-MOW", "RU-MOS"];

fn pilot() -> Vec<String> {
    PILOT.iter().map(|s| s.to_string()).collect()
}

fn ev(id: &str, card: &str, at: Timestamp, body: EventBody) -> NewEvent {
    let event = InboundEvent {
        event_id: EventId::parse(id).unwrap(),
        card_number: number(card),
        occurred_at: at,
        body,
    };
    let digest = format!("{:?}", serde_json::to_string(&event).unwrap());
    NewEvent {
        sender: "fms".into(),
        event,
        digest,
        received_at: at,
    }
}

fn elsewhere(region: &str) -> EventBody {
    EventBody::RegisteredInRegion {
        region: RegionCode::parse(region).unwrap(),
    }
}

async fn receive(s: &SharedStore, e: NewEvent, now: Timestamp) -> amina_store::Receipt {
    s.receive_event(&monitor(), e, pilot(), now)
        .await
        .expect("receive")
}

async fn status(s: &SharedStore, pid: i64) -> RegistrationStatus {
    s.person(pid).await.unwrap().unwrap().state.status
}

async fn all_feed(s: &SharedStore) -> Vec<amina_store::FeedEntry> {
    s.feed(0, 10_000).await.unwrap()
}

async fn each_event_type_applies_once(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let (p1, _, _) = enrolled_with_device(&s, &m, "AB0000001", t0).await;
    let (p2, _, _) = enrolled_with_device(&s, &m, "AB0000002", t0).await;
    let (p3, _, _) = enrolled_with_device(&s, &m, "AB0000003", t0).await;
    let (p4, _, _) = enrolled_with_device(&s, &m, "AB0000004", t0).await;
    let now = msk("2025-11-26 12:00");
    let at = msk("2025-11-26 09:00");

    // Registered outside the pilot: deregistered with reason and evidence.
    let r = receive(&s, ev("e1", "AB0000001", at, elsewhere("RU-TVE")), now).await;
    assert!(!r.duplicate);
    assert_eq!(r.record.outcome, Outcome::Deregistered);
    assert_eq!(r.record.status, "applied");
    assert_eq!(r.record.person_id, Some(p1));
    assert_eq!(status(&s, p1).await, RegistrationStatus::Deregistered);
    let d = s.deregistrations(p1).await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].reason, DeregistrationReason::RegisteredElsewhere);
    assert_eq!(d[0].effective_at, at);
    assert_eq!(d[0].evidence["region"], "RU-TVE");
    assert_eq!(d[0].evidence["event_id"], "e1");
    assert_eq!(d[0].decided_by, "integration:fms");

    // The same delivery again: acknowledged, nothing applied twice.
    let again = receive(&s, ev("e1", "AB0000001", at, elsewhere("RU-TVE")), now).await;
    assert!(again.duplicate);
    assert_eq!(again.record.id, r.record.id);
    assert_eq!(s.deregistrations(p1).await.unwrap().len(), 1);
    // The same id for a different event: refused, nothing stored.
    let reused = s
        .receive_event(
            &m,
            ev("e1", "AB0000002", at, EventBody::LeftCountry),
            pilot(),
            now,
        )
        .await;
    assert!(matches!(
        reused,
        Err(StoreError::Integration(
            IntegrationError::EventIdReused { .. }
        ))
    ));
    assert_eq!(status(&s, p2).await, RegistrationStatus::Registered);

    // Inside the pilot: stored, explained, nothing changes.
    let r = receive(&s, ev("e2", "AB0000002", at, elsewhere("RU-MOS")), now).await;
    assert_eq!(r.record.outcome, Outcome::RegisteredInPilot);
    assert_eq!(r.record.status, "no_change");
    assert_eq!(status(&s, p2).await, RegistrationStatus::Registered);

    // Left the country; document invalidated.
    let r = receive(&s, ev("e3", "AB0000002", at, EventBody::LeftCountry), now).await;
    assert_eq!(r.record.outcome, Outcome::Deregistered);
    assert_eq!(
        s.deregistrations(p2).await.unwrap()[0].reason,
        DeregistrationReason::LeftCountry
    );
    let r = receive(
        &s,
        ev("e4", "AB0000003", at, EventBody::DocumentInvalidated),
        now,
    )
    .await;
    assert_eq!(r.record.outcome, Outcome::Deregistered);
    assert_eq!(
        s.deregistrations(p3).await.unwrap()[0].reason,
        DeregistrationReason::DocumentInvalid
    );
    // An invalidated card cannot enrol again.
    let t = token(now + SignedDuration::from_mins(15), "self");
    let refused = s.enrol(&m, &number("AB0000003"), t, now).await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Integration(IntegrationError::CardInvalidated))
        ),
        "{refused:?}"
    );

    // Card reissued: same person, history kept, new number finds them.
    let r = receive(
        &s,
        ev(
            "e5",
            "AB0000004",
            at,
            EventBody::CardReissued {
                new_card_number: number("AB0000044"),
                new_card_valid_until: jiff::civil::date(2031, 6, 30),
            },
        ),
        now,
    )
    .await;
    assert_eq!(r.record.outcome, Outcome::CardReplaced);
    let p = s
        .person_by_card(&number("AB0000044"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.person_id, p4);
    assert_eq!(p.state.status, RegistrationStatus::Registered);
    assert!(s
        .person_by_card(&number("AB0000004"))
        .await
        .unwrap()
        .is_none());
    let login = s.card_login(&number("AB0000044")).await.unwrap().unwrap();
    assert_eq!(login.valid_until, jiff::civil::date(2031, 6, 30));
    let kinds: Vec<String> = s
        .person_events(p4)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"registered".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"federal_event".to_string()), "{kinds:?}");
    // A later event for the OLD number still finds the person.
    let later = msk("2025-11-26 11:00");
    let r = receive(
        &s,
        ev("e6", "AB0000004", later, EventBody::LeftCountry),
        now,
    )
    .await;
    assert_eq!(r.record.person_id, Some(p4));
    assert_eq!(r.record.outcome, Outcome::Deregistered);

    // Listing by status.
    let applied = s
        .integration_events(EventQuery {
            status: Some("applied".into()),
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(applied.len(), 5);
}

async fn out_of_order_events_follow_their_event_time(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    // Deregistered for registering in Tver on the 19th; the person came
    // back and enrolled again on the 24th.
    let t0 = msk("2025-11-17 10:00");
    let (pid, _, _) = enrolled_with_device(&s, &m, "AB0000001", t0).await;
    let tver = msk("2025-11-19 09:00");
    receive(
        &s,
        ev("a", "AB0000001", tver, elsewhere("RU-TVE")),
        msk("2025-11-19 12:00"),
    )
    .await;
    assert_eq!(status(&s, pid).await, RegistrationStatus::Deregistered);
    let back = msk("2025-11-24 10:00");
    let t = token(back + SignedDuration::from_mins(15), "self");
    let e = s.enrol(&m, &number("AB0000001"), t, back).await.unwrap();
    assert!(e.new_registration);
    let now = msk("2025-11-26 12:00");
    // A second, older move delivered late does not end the new registration.
    let r = receive(
        &s,
        ev(
            "b",
            "AB0000001",
            msk("2025-11-21 09:00"),
            EventBody::LeftCountry,
        ),
        now,
    )
    .await;
    assert_eq!(r.record.outcome, Outcome::OlderThanRegistration);
    assert_eq!(status(&s, pid).await, RegistrationStatus::Registered);
    // A move after the return ends it.
    let r = receive(
        &s,
        ev(
            "c",
            "AB0000001",
            msk("2025-11-25 09:00"),
            EventBody::LeftCountry,
        ),
        now,
    )
    .await;
    assert_eq!(r.record.outcome, Outcome::Deregistered);
    let d = s.deregistrations(pid).await.unwrap();
    assert_eq!(d.len(), 2, "one per registration, history kept");
    assert_eq!(d[0].reason, DeregistrationReason::RegisteredElsewhere);
    assert_eq!(d[1].reason, DeregistrationReason::LeftCountry);
    // And a later one finds the person already deregistered.
    let r = receive(
        &s,
        ev(
            "d",
            "AB0000001",
            msk("2025-11-26 09:00"),
            elsewhere("RU-SPE"),
        ),
        now,
    )
    .await;
    assert_eq!(r.record.outcome, Outcome::AlreadyDeregistered);
    assert_eq!(s.deregistrations(pid).await.unwrap().len(), 2);
}

async fn unknown_people_are_kept_and_replayed(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let (pid, _, _) = enrolled_with_device(&s, &m, "AB0000001", t0).await;
    let now = msk("2025-11-26 12:00");
    // The new card's invalidation arrives before the reissue that tells us
    // whose card it is.
    let invalid = receive(
        &s,
        ev(
            "x1",
            "AB0000099",
            msk("2025-11-26 10:00"),
            EventBody::DocumentInvalidated,
        ),
        now,
    )
    .await;
    assert_eq!(invalid.record.outcome, Outcome::UnknownPerson);
    assert_eq!(invalid.record.person_id, None);
    let unknown = s
        .integration_events(EventQuery {
            status: Some("unknown_person".into()),
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(unknown.len(), 1);
    assert_eq!(status(&s, pid).await, RegistrationStatus::Registered);
    // Replaying now changes nothing: still nobody known.
    let r = s
        .replay_event(&m, invalid.record.id, pilot(), now)
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::UnknownPerson);
    assert_eq!(r.replays, 1);

    let reissue = EventBody::CardReissued {
        new_card_number: number("AB0000099"),
        new_card_valid_until: jiff::civil::date(2031, 1, 1),
    };
    let r = receive(
        &s,
        ev("x0", "AB0000001", msk("2025-11-25 10:00"), reissue),
        now,
    )
    .await;
    assert_eq!(r.record.outcome, Outcome::CardReplaced);
    // Now the officer replays the invalidation: it applies, once.
    let later = now + SignedDuration::from_mins(5);
    let r = s
        .replay_event(&m, invalid.record.id, pilot(), later)
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Deregistered);
    assert_eq!(r.person_id, Some(pid));
    assert_eq!(r.decided_at, later);
    let d = s.deregistrations(pid).await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].reason, DeregistrationReason::DocumentInvalid);
    let again = s
        .replay_event(&m, invalid.record.id, pilot(), later)
        .await
        .unwrap();
    assert_eq!(again.outcome, Outcome::Deregistered);
    assert_eq!(again.replays, 2, "an applied event is not replayed again");
    assert_eq!(s.deregistrations(pid).await.unwrap().len(), 1);
    // Unknown ids are refused.
    assert!(matches!(
        s.replay_event(&m, 9_999, pilot(), later).await,
        Err(StoreError::Integration(IntegrationError::UnknownEvent))
    ));
}

async fn rejections_are_kept_per_sender(h: Harness) {
    let s = h.migrated().await;
    let at = msk("2025-11-24 10:00");
    for (sender, code) in [("fms", "unknown_event_type"), ("other", "invalid_region")] {
        s.record_rejection(Rejection {
            sender: sender.into(),
            event_id: Some("e-1".into()),
            received_at: at,
            error: code.into(),
            message: "why".into(),
        })
        .await
        .unwrap();
    }
    let mine = s.rejections(Some("fms".into()), 10).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].rejection.error, "unknown_event_type");
    assert_eq!(s.rejections(None, 10).await.unwrap().len(), 2);
}

fn flat(id: &str) -> Address {
    Address {
        id: AddressId::parse(id).unwrap(),
        region: "RU-MOW".into(),
        municipality: "Москва".into(),
        street: "улица Тверская".into(),
        house: "7".into(),
        flat: Some("12".into()),
        residential: true,
        position: Coordinates::parse(55.7579, 37.6112).unwrap(),
    }
}

async fn the_feed_is_written_with_each_change_and_published_once(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    s.import_addresses(vec![flat("mow-tv-7-12")], t0)
        .await
        .unwrap();
    let (pid, rid, _) = enrolled_with_device(&s, &m, "AB0000001", t0).await;
    assert_eq!(s.unpublished_feed().await.unwrap(), 1);
    assert!(
        all_feed(&s).await.is_empty(),
        "not visible before publishing"
    );

    let notice = NewNotice {
        person_id: pid,
        address_id: AddressId::parse("mow-tv-7-12").unwrap(),
        date_from: jiff::civil::date(2025, 11, 24),
        host_name: None,
    };
    s.submit_notice(
        NoticeRules { max_days_ahead: 7 },
        m.geofence.clone(),
        notice.clone(),
        t0,
    )
    .await
    .unwrap();
    // A refused notice writes nothing to the feed (same transaction).
    let mut bad = notice.clone();
    bad.address_id = AddressId::parse("mow-nowhere").unwrap();
    assert!(s
        .submit_notice(
            NoticeRules { max_days_ahead: 7 },
            m.geofence.clone(),
            bad,
            t0
        )
        .await
        .is_err());
    assert_eq!(s.unpublished_feed().await.unwrap(), 2);

    // The scheduler's deregistration writes its entry too.
    let late = msk("2025-12-01 10:00");
    let done = s.deregister_due(&m, late, 100).await.unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(s.unpublished_feed().await.unwrap(), 3);

    // "Restart": another store on the same database publishes.
    let other = h.another_store().await;
    assert_eq!(other.publish_feed(late, 100).await.unwrap(), 3);
    assert_eq!(other.publish_feed(late, 100).await.unwrap(), 0);
    assert_eq!(s.publish_feed(late, 100).await.unwrap(), 0);
    let feed = all_feed(&s).await;
    let kinds: Vec<FeedKind> = feed.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            FeedKind::Registration,
            FeedKind::PlaceOfStay,
            FeedKind::Deregistration
        ]
    );
    assert_eq!(
        feed.iter().map(|e| e.position).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(feed.iter().all(|e| e.card_number == "AB0000001"));
    assert_eq!(feed[0].payload["registration_id"], rid);
    assert_eq!(feed[1].payload["address_id"], "mow-tv-7-12");
    assert_eq!(feed[2].payload["reason"], "no_monitoring");
    // Paging by cursor.
    let page = s.feed(1, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].position, 2);
    assert!(s.feed(3, 10).await.unwrap().is_empty());
}

async fn concurrent_writers_and_publishers_never_skip_or_double(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let cards: Vec<String> = (0..24).map(|i| format!("AB00001{i:02}")).collect();
    s.import_cards(cards.iter().map(|c| card(c)).collect(), t0)
        .await
        .unwrap();
    let other = h.another_store().await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut publishers = Vec::new();
    for st in [s.clone(), other.clone()] {
        let stop = stop.clone();
        publishers.push(tokio::spawn(async move {
            // A reader following the feed with its cursor as it grows.
            let mut seen = Vec::new();
            let mut after = 0;
            while !stop.load(Ordering::Relaxed) {
                st.publish_feed(t0, 3).await.unwrap();
                for e in st.feed(after, 100).await.unwrap() {
                    after = e.position;
                    seen.push(e.position);
                }
                tokio::task::yield_now().await;
            }
            seen
        }));
    }
    let mut writers = Vec::new();
    for c in &cards {
        let st = if c.ends_with('1') {
            other.clone()
        } else {
            s.clone()
        };
        let m = m.clone();
        let c = c.clone();
        writers.push(tokio::spawn(async move {
            let t = token(t0 + SignedDuration::from_mins(15), "self");
            st.enrol(&m, &number(&c), t, t0).await.unwrap();
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let mut followed = Vec::new();
    for p in publishers {
        followed.push(p.await.unwrap());
    }
    while s.publish_feed(t0, 5).await.unwrap() > 0 {}
    let feed = all_feed(&s).await;
    assert_eq!(
        feed.iter().map(|e| e.position).collect::<Vec<_>>(),
        (1..=24).collect::<Vec<i64>>(),
        "positions without gaps or doubles"
    );
    let mut people: Vec<i64> = feed.iter().map(|e| e.person_id).collect();
    people.sort();
    people.dedup();
    assert_eq!(people.len(), 24, "each registration once");
    // A reader that followed the feed saw a strictly growing prefix: its
    // cursor never passed an entry that was published later.
    for seen in followed {
        let expected: Vec<i64> = (1..=seen.len() as i64).collect();
        assert_eq!(seen, expected);
    }
}

async fn outside_too_long_raises_one_signal_and_one_push(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "AB0000001", t0).await;
    let (_p2, _, dev2) = enrolled_with_device(&s, &m, "AB0000002", t0).await;
    for d in [&dev, &dev2] {
        s.put_subscription(
            d,
            NewSubscription {
                endpoint: format!("https://push.example/{d}"),
                p256dh: vec![4; 65],
                auth: vec![9; 16],
                lang: "ru".into(),
            },
            t0,
        )
        .await
        .unwrap();
    }
    // In Moscow on the 25th, in Tver from Friday 28 Nov 18:00, both; a fix
    // every day keeps them registered.
    let mut seq = 1;
    for d in [&dev, &dev2] {
        s.ingest(
            &m,
            d,
            vec![fix(seq, msk("2025-11-25 10:00"), KREMLIN)],
            msk("2025-11-25 10:00"),
        )
        .await
        .unwrap();
        seq += 1;
        let mut at = msk("2025-11-28 18:00");
        while at < msk("2025-12-04 09:00") {
            s.ingest(&m, d, vec![fix(seq, at, TVER)], at).await.unwrap();
            seq += 1;
            at += SignedDuration::from_hours(24);
        }
    }
    assert_eq!(
        s.person(pid).await.unwrap().unwrap().state.presence,
        Presence::Outside
    );
    // The second person was registered in the pilot by the federal system
    // after leaving (an event that changes nothing else).
    receive(
        &s,
        ev(
            "r1",
            "AB0000002",
            msk("2025-12-01 10:00"),
            elsewhere("RU-MOW"),
        ),
        msk("2025-12-01 11:00"),
    )
    .await;
    let rule = OutsideRule { working_days: 3 };
    let cal = m.calendar.clone();
    // Limit: end of Wednesday 3 Dec. Not yet on the 3rd.
    let r = s
        .sweep_outside(
            rule,
            cal.clone(),
            msk("2025-12-03 23:00"),
            msk("2025-12-03 23:00"),
            100,
        )
        .await
        .unwrap();
    assert_eq!(r.raised, 0);
    let due = msk("2025-12-04 09:00");
    let r = s
        .sweep_outside(rule, cal.clone(), due, due, 100)
        .await
        .unwrap();
    assert_eq!(r.raised, 1);
    let r = s
        .sweep_outside(rule, cal.clone(), due, due, 100)
        .await
        .unwrap();
    assert_eq!(r.raised, 0, "handled once");
    let other = h.another_store().await;
    let r = other.sweep_outside(rule, cal, due, due, 100).await.unwrap();
    assert_eq!(r.raised, 0);
    let signals = s
        .signals(SignalQuery {
            kind: Some(SignalKind::OutsideTooLong),
            limit: 10,
            ..SignalQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(signals.len(), 1, "only the person not registered elsewhere");
    assert_eq!(
        signals[0].subject,
        amina_domain::signal::SignalSubject::Person(pid)
    );
    let outbox = s.push_outbox(pid).await.unwrap();
    let pushes: Vec<_> = outbox
        .iter()
        .filter(|o| matches!(o.notice, Notice::OutsideTooLong { .. }))
        .collect();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].next_attempt_at, due);
    // Not a deregistration.
    assert_eq!(status(&s, pid).await, RegistrationStatus::Registered);
    assert!(s.deregistrations(pid).await.unwrap().is_empty());
}

suite!(
    both: [
        each_event_type_applies_once,
        out_of_order_events_follow_their_event_time,
        unknown_people_are_kept_and_replayed,
        rejections_are_kept_per_sender,
        the_feed_is_written_with_each_change_and_published_once,
        concurrent_writers_and_publishers_never_skip_or_double,
        outside_too_long_raises_one_signal_and_one_push,
    ],
    postgres_only: []
);
