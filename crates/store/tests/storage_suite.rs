//! The storage test suite: one set of tests, run against every backend.
//!
//! DESIGN.md: "Both [stores] pass the same storage test suite." Each test is
//! an `async fn` taking a [`Harness`] (a fresh, empty database and a store
//! on it) and knows nothing of the backend; the `suite!` macro at the end
//! instantiates every one of them once for SQLite (a temporary directory)
//! and once for PostgreSQL (a throwaway database from `amina_testkit`).
//! Without a PostgreSQL server the PostgreSQL instances print a loud skip
//! banner and return; with `AMINA_TEST_STRICT=1` (CI) they fail instead.
//!
//! The monitor is the real one: the embedded production calendar and region
//! boundaries, the default window (three working days) and plausibility,
//! and a five-minute clock-skew allowance. Instants are written in Moscow
//! time, in which the rules are stated.
//!
//! The last test, PostgreSQL only, plays two server processes (two stores
//! with separate pools) sweeping and ingesting at once, and checks in the
//! database that every person was deregistered exactly once.

#[macro_use]
mod common;

use common::*;

// ---------------------------------------------------------------------------
// Schema.

async fn migrate_twice_is_a_no_op(h: Harness) {
    // Two processes starting at once on an empty database: exactly one of
    // them applies the schema.
    let other = h.another_store().await;
    let (a, b) = tokio::join!(h.store.migrate(), other.migrate());
    let (a, b) = (a.expect("migrate"), b.expect("migrate"));
    let mut applied = [a, b];
    applied.sort();
    assert_eq!(applied, [vec![], amina_store::migration_names()]);

    assert!(h.store.migrate().await.expect("migrate again").is_empty());
    assert!(other.migrate().await.expect("migrate again").is_empty());
    h.store.health().await.expect("healthy");
    assert_eq!(h.store.counts().await.expect("counts"), Default::default());
}

// ---------------------------------------------------------------------------
// Cards.

async fn import_cards_counts_inserts_and_updates(h: Harness) {
    let s = h.migrated().await;
    let t0 = msk("2025-11-20 09:00");
    let counts = s
        .import_cards(
            vec![card("AA0000001"), card("AA0000002"), card("AA0000003")],
            t0,
        )
        .await
        .expect("import");
    assert_eq!(
        counts,
        ImportCounts {
            inserted: 3,
            updated: 0
        }
    );

    let mut changed = card("AA0000002");
    changed.valid_until = jiff::civil::date(2031, 6, 30);
    changed.secret_hash = "$argon2id$new".into();
    let counts = s
        .import_cards(vec![card("AA0000001"), changed, card("AA0000004")], t0)
        .await
        .expect("import");
    assert_eq!(
        counts,
        ImportCounts {
            inserted: 1,
            updated: 2
        }
    );
    let login = s
        .card_login(&number("AA0000002"))
        .await
        .expect("read")
        .expect("card");
    assert_eq!(login.valid_until, jiff::civil::date(2031, 6, 30));
    assert_eq!(login.secret_hash, "$argon2id$new");
    assert_eq!(login.failed_attempts, 0);
    assert_eq!(login.locked_at, None);

    // The same number twice in one import: applied in order, the last wins.
    let mut second = card("AA0000005");
    second.secret_hash = "$argon2id$second".into();
    let counts = s
        .import_cards(vec![card("AA0000005"), second], t0)
        .await
        .expect("import");
    assert_eq!(
        counts,
        ImportCounts {
            inserted: 1,
            updated: 1
        }
    );
    let login = s
        .card_login(&number("AA0000005"))
        .await
        .expect("read")
        .expect("card");
    assert_eq!(login.secret_hash, "$argon2id$second");

    assert_eq!(s.counts().await.expect("counts").cards, 5);
    assert_eq!(
        s.card_login(&number("ZZ9999999")).await.expect("read"),
        None
    );
    let counts = s.import_cards(vec![], t0).await.expect("empty import");
    assert_eq!(counts, ImportCounts::default());
}

async fn import_cards_is_all_or_nothing(h: Harness) {
    let s = h.migrated().await;
    let t0 = msk("2025-11-20 09:00");
    s.import_cards(vec![card("BB0000001")], t0)
        .await
        .expect("import");
    h.poison_insert("cards", "number", "BB0000666").await;

    let mut changed = card("BB0000001");
    changed.secret_hash = "$argon2id$changed".into();
    let result = s
        .import_cards(vec![card("BB0000002"), changed, card("BB0000666")], t0)
        .await;
    assert!(result.is_err(), "{result:?}");

    assert_eq!(
        s.card_login(&number("BB0000002")).await.expect("read"),
        None
    );
    let kept = s
        .card_login(&number("BB0000001"))
        .await
        .expect("read")
        .expect("card");
    assert_eq!(kept.secret_hash, card("BB0000001").secret_hash);
    assert_eq!(s.counts().await.expect("counts").cards, 1);

    // The store is still usable afterwards.
    let counts = s
        .import_cards(vec![card("BB0000003")], t0)
        .await
        .expect("import");
    assert_eq!(
        counts,
        ImportCounts {
            inserted: 1,
            updated: 0
        }
    );
}

async fn failed_attempts_lock_at_threshold_and_unlock(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let n = number("CC0000001");
    let t0 = msk("2025-11-24 10:00");
    s.import_cards(vec![card("CC0000001")], t0)
        .await
        .expect("import");
    let e = s
        .enrol(
            &m,
            &n,
            token(t0 + SignedDuration::from_mins(15), "self"),
            t0,
        )
        .await
        .expect("enrol");

    let at = |k: i64| t0 + SignedDuration::from_mins(k);
    let one = s.record_failed_attempt(&n, at(1), 3).await.expect("count");
    assert_eq!(
        (one.failed_attempts, one.last_failed_at, one.locked_at),
        (1, Some(at(1)), None)
    );
    let two = s.record_failed_attempt(&n, at(2), 3).await.expect("count");
    assert_eq!((two.failed_attempts, two.locked_at), (2, None));
    let three = s.record_failed_attempt(&n, at(3), 3).await.expect("count");
    assert_eq!((three.failed_attempts, three.locked_at), (3, Some(at(3))));
    // Locked stays locked at the instant it was locked.
    let four = s.record_failed_attempt(&n, at(4), 3).await.expect("count");
    assert_eq!(
        (four.failed_attempts, four.last_failed_at, four.locked_at),
        (4, Some(at(4)), Some(at(3)))
    );
    assert_eq!(s.card_login(&n).await.expect("read"), Some(four));

    assert!(s
        .unlock_card(&n, "operator:ivanova", at(10))
        .await
        .expect("unlock"));
    let unlocked = s.card_login(&n).await.expect("read").expect("card");
    assert_eq!((unlocked.failed_attempts, unlocked.locked_at), (0, None));
    assert!(!s
        .unlock_card(&n, "operator:ivanova", at(11))
        .await
        .expect("unlock"));

    let events = s.person_events(e.person_id).await.expect("events");
    let unlocks: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "card_unlocked")
        .collect();
    assert_eq!(unlocks.len(), 1, "{events:?}");
    assert_eq!(unlocks[0].actor, "operator:ivanova");
    assert_eq!(unlocks[0].at, at(10));

    // A successful enrolment resets the count of consecutive failures.
    s.record_failed_attempt(&n, at(20), 3).await.expect("count");
    s.enrol(&m, &n, token(at(40), "self"), at(21))
        .await
        .expect("enrol");
    let reset = s.card_login(&n).await.expect("read").expect("card");
    assert_eq!((reset.failed_attempts, reset.last_failed_at), (0, None));

    let unknown = number("CC0009999");
    assert!(matches!(
        s.record_failed_attempt(&unknown, at(30), 3).await,
        Err(StoreError::UnknownCard)
    ));
    assert!(!s
        .unlock_card(&unknown, "operator:ivanova", at(30))
        .await
        .expect("unlock"));
}

// ---------------------------------------------------------------------------
// Enrolment and devices.

async fn enrol_registers_once_and_reregisters_after_deregistration(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let n = number("DD0000001");
    let t0 = msk("2025-11-24 10:00"); // Monday
    s.import_cards(vec![card("DD0000001")], t0)
        .await
        .expect("import");

    let first = s
        .enrol(
            &m,
            &n,
            token(t0 + SignedDuration::from_mins(15), "self"),
            t0,
        )
        .await
        .expect("enrol");
    assert!(first.new_registration);
    let p = s
        .person(first.person_id)
        .await
        .expect("read")
        .expect("person");
    assert_eq!(p.card_number, n);
    assert_eq!(p.registration_id, first.registration_id);
    assert_eq!(p.active_device_id, None);
    assert_eq!(p.state, m.enrolled(t0).expect("in calendar"));
    // Three working days after Monday 24 November: Thursday 27th, end of day.
    assert_eq!(p.state.deadline_at, utc("2025-11-27T20:59:59.999Z"));
    assert_eq!(s.person_by_card(&n).await.expect("read"), Some(p.clone()));

    // Enrolling again (a new phone, a lost token) keeps the registration.
    let t1 = msk("2025-11-25 12:00");
    let again = s
        .enrol(
            &m,
            &n,
            token(t1 + SignedDuration::from_mins(15), "operator:petrov"),
            t1,
        )
        .await
        .expect("enrol");
    assert_eq!(
        (
            again.person_id,
            again.registration_id,
            again.new_registration
        ),
        (first.person_id, first.registration_id, false)
    );
    assert_eq!(
        s.person(first.person_id)
            .await
            .expect("read")
            .expect("person")
            .state,
        p.state
    );

    // Silent past the deadline: deregistered by the scheduler.
    let late = msk("2025-11-28 09:00");
    let done = s.deregister_due(&m, late, 100).await.expect("sweep");
    assert_eq!(done.len(), 1);

    // Re-registration starts a new registration from scratch.
    let t2 = msk("2025-12-01 11:00"); // Monday
    let third = s
        .enrol(
            &m,
            &n,
            token(t2 + SignedDuration::from_mins(15), "self"),
            t2,
        )
        .await
        .expect("enrol");
    assert!(third.new_registration);
    assert_eq!(third.person_id, first.person_id);
    assert_ne!(third.registration_id, first.registration_id);
    let p = s
        .person(first.person_id)
        .await
        .expect("read")
        .expect("person");
    assert_eq!(p.registration_id, third.registration_id);
    assert_eq!(p.state, m.enrolled(t2).expect("in calendar"));
    assert_eq!(p.state.deadline_at, utc("2025-12-04T20:59:59.999Z"));

    let kinds: Vec<String> = s
        .person_events(first.person_id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["registered", "deregistered", "registered"]);
    let counts = s.counts().await.expect("counts");
    assert_eq!(
        (counts.persons_registered, counts.persons_deregistered),
        (1, 0)
    );

    // An unknown card enrols nobody. (SQLite reports it as an internal
    // error, PostgreSQL as UnknownCard; both refuse and store nothing.)
    let r = s
        .enrol(
            &m,
            &number("DD0009999"),
            token(t2 + SignedDuration::from_mins(15), "self"),
            t2,
        )
        .await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(
        s.person_by_card(&number("DD0009999")).await.expect("read"),
        None
    );
    assert_eq!(s.counts().await.expect("counts").persons_registered, 1);
}

async fn binding_tokens_are_single_use_and_rebinding_is_recorded(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let n = number("EE0000001");
    let t0 = msk("2025-11-24 10:00");
    s.import_cards(vec![card("EE0000001")], t0)
        .await
        .expect("import");
    let tok = token(t0 + SignedDuration::from_mins(15), "self");
    let hash = tok.hash;
    let e = s.enrol(&m, &n, tok, t0).await.expect("enrol");

    // An unknown token binds nothing.
    assert!(matches!(
        s.bind_device([0x11; 32], device("dev-x", "self"), t0).await,
        Err(StoreError::BindingTokenInvalid)
    ));

    let bound_at = t0 + SignedDuration::from_mins(2);
    let d1 = s
        .bind_device(hash, device("dev-1", "self"), bound_at)
        .await
        .expect("bind");
    assert_eq!(
        (d1.person_id, d1.status, d1.bound_at),
        (e.person_id, DeviceStatus::Active, bound_at)
    );
    assert_eq!(s.device("dev-1").await.expect("read"), Some(d1.clone()));
    assert_eq!(
        s.device("dev-1")
            .await
            .expect("read")
            .expect("device")
            .public_key,
        device("dev-1", "self").public_key
    );
    assert_eq!(
        s.person(e.person_id)
            .await
            .expect("read")
            .expect("person")
            .active_device_id
            .as_deref(),
        Some("dev-1")
    );

    // Single use: the same token again is refused, for any key.
    assert!(matches!(
        s.bind_device(hash, device("dev-2", "self"), bound_at).await,
        Err(StoreError::BindingTokenInvalid)
    ));

    // An expired token is refused; one used at its expiry instant is not.
    let t1 = msk("2025-11-24 12:00");
    let expired = token(t1 + SignedDuration::from_mins(15), "self");
    let expired_hash = expired.hash;
    s.enrol(&m, &n, expired, t1).await.expect("enrol");
    assert!(matches!(
        s.bind_device(
            expired_hash,
            device("dev-2", "self"),
            t1 + SignedDuration::from_mins(15) + SignedDuration::from_millis(1)
        )
        .await,
        Err(StoreError::BindingTokenInvalid)
    ));

    // The same public key twice is refused, and the token is not used up.
    let t2 = msk("2025-11-24 14:00");
    let tok = token(t2 + SignedDuration::from_mins(15), "operator:petrov");
    let op_hash = tok.hash;
    s.enrol(&m, &n, tok, t2).await.expect("enrol");
    let mut same_key = device("dev-2", "operator:petrov");
    same_key.key_thumbprint = d1_thumbprint();
    assert!(matches!(
        s.bind_device(op_hash, same_key, t2).await,
        Err(StoreError::KeyAlreadyBound)
    ));
    assert!(s.device("dev-2").await.expect("read").is_none());

    // Rebinding with the same token and a new key: the old device is revoked.
    let t3 = t2 + SignedDuration::from_mins(15); // the expiry instant itself
    let d2 = s
        .bind_device(op_hash, device("dev-2", "operator:petrov"), t3)
        .await
        .expect("rebind");
    assert_eq!(d2.bound_by, "operator:petrov");
    let old = s.device("dev-1").await.expect("read").expect("device");
    assert_eq!(
        (old.status, old.revoked_at),
        (DeviceStatus::Revoked, Some(t3))
    );
    assert_eq!(
        s.person(e.person_id)
            .await
            .expect("read")
            .expect("person")
            .active_device_id
            .as_deref(),
        Some("dev-2")
    );
    assert_eq!(s.counts().await.expect("counts").active_devices, 1);

    let events = s.person_events(e.person_id).await.expect("events");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "registered",
            "device_bound",
            "device_revoked",
            "device_rebound"
        ]
    );
    let revoked = &events[2];
    assert_eq!(
        (revoked.actor.as_str(), revoked.at),
        ("operator:petrov", t3)
    );
    assert_eq!(revoked.detail["device_id"], "dev-1");
    assert_eq!(revoked.detail["replaced_by"], "dev-2");
    assert_eq!(revoked.detail["reason"], "rebound");
    let rebound = &events[3];
    assert_eq!(rebound.actor, "operator:petrov");
    assert_eq!(rebound.detail["device_id"], "dev-2");
    assert_eq!(rebound.detail["previous_device_id"], "dev-1");
    assert_eq!(events[1].actor, "self");
    assert_eq!(
        events[1].detail["previous_device_id"],
        serde_json::Value::Null
    );

    // The revoked device can no longer report; an unknown one never could.
    let f = fix(1, t3, KREMLIN);
    assert!(matches!(
        s.ingest(&m, "dev-1", vec![f.clone()], t3).await,
        Err(StoreError::DeviceRevoked)
    ));
    assert!(matches!(
        s.ingest(&m, "dev-unknown", vec![f.clone()], t3).await,
        Err(StoreError::UnknownDevice)
    ));
    assert_eq!(s.counts().await.expect("counts").fixes, 0);
    let out = s.ingest(&m, "dev-2", vec![f], t3).await.expect("ingest");
    assert_eq!(out.accepted, [1]);
}

fn d1_thumbprint() -> String {
    device("dev-1", "self").key_thumbprint
}

// ---------------------------------------------------------------------------
// Ingest.

async fn ingest_stores_fixes_and_moves_the_deadline(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-27 10:00"); // Thursday: deadline end of Tuesday 2 December
    let (pid, _, dev) = enrolled_with_device(&s, &m, "FF0000001", t0).await;

    // DESIGN.md's example: last fix Friday 2025-11-28 18:00 -> deadline
    // Wednesday 2025-12-03, end of day Moscow time.
    let friday = msk("2025-11-28 18:00");
    let batch = vec![
        fix(1, friday - SignedDuration::from_mins(10), KREMLIN),
        fix(2, friday, KREMLIN),
    ];
    let now = friday + SignedDuration::from_secs(30);
    let out = s.ingest(&m, &dev, batch, now).await.expect("ingest");
    assert_eq!(out.person_id, pid);
    assert_eq!(out.accepted, [1, 2]);
    assert!(
        out.duplicates.is_empty() && out.flagged.is_empty() && !out.deregistered,
        "{out:?}"
    );
    assert_eq!(out.state.last_monitoring_at, Some(friday));
    assert_eq!(out.state.deadline_at, utc("2025-12-03T20:59:59.999Z"));
    assert_eq!(
        out.state.deadline_at,
        m.window.deadline(&m.calendar, friday).expect("in calendar")
    );
    assert_eq!(out.state.presence, Presence::InRegion);
    assert_eq!(
        out.state.presence_since,
        Some(friday - SignedDuration::from_mins(10))
    );
    // What the store answered is what it stored.
    let p = s.person(pid).await.expect("read").expect("person");
    assert_eq!(p.state, out.state);

    let stored = s.fixes(pid, 10).await.expect("fixes");
    assert_eq!(stored.len(), 2);
    let newest = &stored[0];
    assert_eq!(
        (newest.seq, newest.recorded_at, newest.received_at),
        (2, friday, now)
    );
    assert_eq!(
        (newest.lat, newest.lon, newest.accuracy_m),
        (KREMLIN.0, KREMLIN.1, 12.5)
    );
    assert_eq!(
        (
            newest.device_id.as_str(),
            newest.source.as_str(),
            newest.battery_pct
        ),
        (dev.as_str(), "gps", Some(77))
    );
    assert_eq!(newest.zone, "moscow");
    assert!(newest.counted && newest.flags.trustworthy());
    assert_eq!(stored[1].seq, 1);
    assert_eq!(s.fixes(pid, 1).await.expect("fixes").len(), 1);

    // A jump to Tver a minute later is impossible: kept, flagged, counted as
    // monitoring, but the person is still in the region.
    let jump_at = friday + SignedDuration::from_mins(1);
    let out = s
        .ingest(&m, &dev, vec![fix(3, jump_at, TVER)], jump_at)
        .await
        .expect("ingest");
    assert_eq!(
        (out.accepted.as_slice(), out.flagged.as_slice()),
        (&[3][..], &[3][..])
    );
    assert_eq!(out.state.presence, Presence::InRegion);
    assert_eq!(out.state.last_monitoring_at, Some(jump_at));
    assert!(out.state.pending_jump.is_some());
    assert_eq!(
        s.person(pid).await.expect("read").expect("person").state,
        out.state
    );
    let jumped = &s.fixes(pid, 1).await.expect("fixes")[0];
    assert_eq!(jumped.zone, "outside");
    assert!(jumped.flags.implausible_speed && jumped.counted);

    // A position without a battery reading round-trips too.
    let mut quiet = fix(4, jump_at + SignedDuration::from_mins(1), KREMLIN);
    quiet.battery = None;
    quiet.source = FixSource::Network;
    s.ingest(&m, &dev, vec![quiet.clone()], quiet.recorded_at)
        .await
        .expect("ingest");
    let stored = &s.fixes(pid, 1).await.expect("fixes")[0];
    assert_eq!(
        (stored.battery_pct, stored.source.as_str()),
        (None, "network")
    );
    assert_eq!(s.counts().await.expect("counts").fixes, 4);
}

async fn ingest_retries_are_idempotent(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "GG0000001", t0).await;
    let t1 = msk("2025-11-25 09:00");
    let batch = vec![
        fix(1, t1, KREMLIN),
        fix(2, t1 + SignedDuration::from_mins(1), KREMLIN),
    ];
    let first = s
        .ingest(&m, &dev, batch.clone(), t1 + SignedDuration::from_mins(2))
        .await
        .expect("ingest");
    assert_eq!(first.accepted, [1, 2]);

    // The same upload again (the acknowledgement was lost): nothing doubles.
    let retry = s
        .ingest(&m, &dev, batch.clone(), t1 + SignedDuration::from_mins(5))
        .await
        .expect("retry");
    assert!(retry.accepted.is_empty());
    assert_eq!(retry.duplicates, [1, 2]);
    assert_eq!(retry.state, first.state);
    assert_eq!(s.counts().await.expect("counts").fixes, 2);
    let stored = s.fixes(pid, 10).await.expect("fixes");
    assert_eq!(
        stored[0].received_at,
        t1 + SignedDuration::from_mins(2),
        "the first receipt stays"
    );

    // Partly new: the new fix is stored, the old one reported as duplicate.
    let t3 = t1 + SignedDuration::from_mins(10);
    let mixed = vec![batch[0].clone(), fix(3, t3, KREMLIN)];
    let out = s.ingest(&m, &dev, mixed, t3).await.expect("ingest");
    assert_eq!(
        (out.accepted.as_slice(), out.duplicates.as_slice()),
        (&[3][..], &[1][..])
    );
    assert_eq!(out.state.last_monitoring_at, Some(t3));
    assert_eq!(s.counts().await.expect("counts").fixes, 3);

    // The same fix twice inside one batch is stored once.
    let t4 = t3 + SignedDuration::from_mins(1);
    let twice = vec![fix(4, t4, KREMLIN), fix(4, t4, KREMLIN)];
    let out = s.ingest(&m, &dev, twice, t4).await.expect("ingest");
    assert_eq!(out.accepted, [4]);
    assert_eq!(s.counts().await.expect("counts").fixes, 4);
}

async fn ingest_refuses_reused_sequence_numbers(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "HH0000001", t0).await;
    let t1 = msk("2025-11-25 09:00");
    s.ingest(&m, &dev, vec![fix(1, t1, KREMLIN)], t1)
        .await
        .expect("ingest");
    let before = s.person(pid).await.expect("read").expect("person");

    // Same seq, different content, alongside a fix that would be fine alone:
    // the whole batch is refused and nothing changes.
    let t2 = t1 + SignedDuration::from_hours(5);
    let mut moved = fix(1, t1, KREMLIN);
    moved.position = Coordinates::parse(55.7600, 37.6200).expect("valid");
    let err = batch_error(
        s.ingest(&m, &dev, vec![fix(2, t2, KREMLIN), moved], t2)
            .await,
    );
    assert_eq!(err, BatchError::SequenceReused { seq: 1 });
    assert_eq!(err.code(), "sequence_reused");
    assert_eq!(s.counts().await.expect("counts").fixes, 1);
    assert_eq!(s.person(pid).await.expect("read").expect("person"), before);
    assert_eq!(s.fixes(pid, 10).await.expect("fixes")[0].lat, KREMLIN.0);

    // One seq twice in a batch with different content.
    let mut other = fix(3, t2, KREMLIN);
    other.accuracy = AccuracyM::parse(50.0).expect("valid");
    let err = batch_error(
        s.ingest(&m, &dev, vec![fix(3, t2, KREMLIN), other], t2)
            .await,
    );
    assert_eq!(err, BatchError::DuplicateInBatch { seq: 3 });
    assert_eq!(s.counts().await.expect("counts").fixes, 1);
    assert_eq!(s.person(pid).await.expect("read").expect("person"), before);
}

async fn ingest_refuses_fixes_before_enrolment_or_in_the_future(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "II0000001", t0).await;
    let before = s.person(pid).await.expect("read").expect("person");
    let now = msk("2025-11-25 09:00");

    let err = batch_error(
        s.ingest(
            &m,
            &dev,
            vec![
                fix(1, now, KREMLIN),
                fix(2, t0 - SignedDuration::from_millis(1), KREMLIN),
            ],
            now,
        )
        .await,
    );
    assert_eq!(
        err,
        BatchError::Rejected {
            index: 1,
            seq: 2,
            rejection: FixRejection::RecordedBeforeEnrolment
        }
    );

    let err = batch_error(
        s.ingest(
            &m,
            &dev,
            vec![
                fix(3, now, KREMLIN),
                fix(4, now + SignedDuration::from_mins(6), KREMLIN),
            ],
            now,
        )
        .await,
    );
    assert_eq!(err.code(), "recorded_in_future");
    assert_eq!(s.counts().await.expect("counts").fixes, 0);
    assert_eq!(s.person(pid).await.expect("read").expect("person"), before);

    // Within the clock-skew allowance, and exactly at enrolment: accepted.
    let ahead = now + SignedDuration::from_mins(4);
    let out = s
        .ingest(
            &m,
            &dev,
            vec![fix(5, t0, KREMLIN), fix(6, ahead, KREMLIN)],
            now,
        )
        .await
        .expect("ingest");
    assert_eq!(out.accepted, [5, 6]);
    assert_eq!(out.state.last_monitoring_at, Some(ahead));
}

async fn offline_fixes_count_at_their_recorded_instant(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00"); // Monday
    let (pid, _, dev) = enrolled_with_device(&s, &m, "JJ0000001", t0).await;

    // Thursday's fix: deadline = end of Tuesday 2 December.
    let thu = msk("2025-11-27 12:00");
    let out = s
        .ingest(&m, &dev, vec![fix(10, thu, KREMLIN)], thu)
        .await
        .expect("ingest");
    assert_eq!(out.state.deadline_at, utc("2025-12-02T20:59:59.999Z"));

    // An older fix from the phone's offline queue arrives later: stored and
    // counted, but it does not move the last monitoring back.
    let wed = msk("2025-11-26 09:00");
    let out = s
        .ingest(
            &m,
            &dev,
            vec![fix(5, wed, KREMLIN)],
            thu + SignedDuration::from_hours(1),
        )
        .await
        .expect("ingest");
    assert_eq!(out.accepted, [5]);
    assert_eq!(out.state.last_monitoring_at, Some(thu));
    assert_eq!(out.state.deadline_at, utc("2025-12-02T20:59:59.999Z"));
    assert!(s
        .fixes(pid, 10)
        .await
        .expect("fixes")
        .iter()
        .all(|f| f.counted));

    // The phone was offline over the weekend and reports on Tuesday night,
    // before the deadline: its Saturday fixes count at Saturday, so the new
    // deadline is three working days after Saturday (end of Wednesday).
    let sat = msk("2025-11-29 15:00");
    let upload = msk("2025-12-02 23:30");
    let batch = vec![
        fix(12, sat + SignedDuration::from_mins(30), KREMLIN),
        fix(11, sat, KREMLIN),
    ];
    let out = s.ingest(&m, &dev, batch, upload).await.expect("ingest");
    assert!(!out.deregistered);
    assert_eq!(out.accepted, [11, 12], "applied in the order recorded");
    assert_eq!(
        out.state.last_monitoring_at,
        Some(sat + SignedDuration::from_mins(30))
    );
    assert_eq!(out.state.deadline_at, utc("2025-12-03T20:59:59.999Z"));
    assert_eq!(
        out.state.deadline_at,
        m.window
            .deadline(&m.calendar, sat + SignedDuration::from_mins(30))
            .expect("in calendar")
    );
    assert!(s
        .deregister_due(&m, msk("2025-12-03 12:00"), 10)
        .await
        .expect("sweep")
        .is_empty());
    assert_eq!(
        s.person(pid)
            .await
            .expect("read")
            .expect("person")
            .state
            .status,
        RegistrationStatus::Registered
    );
}

// ---------------------------------------------------------------------------
// Deregistration.

async fn deregister_due_takes_only_due_people_once(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00"); // deadline end of Thursday 27th
    let (silent, silent_reg, _) = enrolled_with_device(&s, &m, "KK0000001", t0).await;
    let (reporting, _, dev) = enrolled_with_device(&s, &m, "KK0000002", t0).await;
    let (later, _, _) = enrolled_with_device(&s, &m, "KK0000003", msk("2025-11-26 10:00")).await;
    // Tuesday's fix: deadline end of Friday 28th, before `later`'s (end of
    // Monday 1 December).
    let tue = msk("2025-11-25 18:00");
    s.ingest(&m, &dev, vec![fix(1, tue, KREMLIN)], tue)
        .await
        .expect("ingest");

    let deadline = utc("2025-11-27T20:59:59.999Z");
    // The deadline instant itself is still in time.
    assert!(s
        .deregister_due(&m, deadline, 100)
        .await
        .expect("sweep")
        .is_empty());

    let now = deadline + SignedDuration::from_millis(1);
    let done = s.deregister_due(&m, now, 100).await.expect("sweep");
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(
        (
            done[0].person_id,
            done[0].registration_id,
            done[0].deadline_at
        ),
        (silent, silent_reg, deadline)
    );

    let records = s.deregistrations(silent).await.expect("read");
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.registration_id, silent_reg);
    assert_eq!(r.reason, DeregistrationReason::NoMonitoring);
    assert_eq!((r.effective_at, r.decided_at), (deadline, now));
    assert_eq!(r.decided_by, "rule:no_monitoring");
    assert_eq!(r.rule_version, m.rule_version());
    assert!(
        r.rule_version.contains("3 working days"),
        "{}",
        r.rule_version
    );
    assert_eq!(r.evidence["deadline_at"], deadline.to_string());
    assert_eq!(r.evidence["last_monitoring_at"], serde_json::Value::Null);
    assert_eq!(r.evidence["monitoring_started_at"], t0.to_string());

    let p = s.person(silent).await.expect("read").expect("person");
    assert_eq!(p.state.status, RegistrationStatus::Deregistered);
    assert_eq!(p.state.deadline_at, deadline);
    for other in [reporting, later] {
        let p = s.person(other).await.expect("read").expect("person");
        assert_eq!(p.state.status, RegistrationStatus::Registered);
        assert!(s.deregistrations(other).await.expect("read").is_empty());
    }

    // Running again changes nothing.
    assert!(s
        .deregister_due(&m, now, 100)
        .await
        .expect("sweep")
        .is_empty());
    assert!(s
        .deregister_due(&m, now + SignedDuration::from_mins(1), 100)
        .await
        .expect("sweep")
        .is_empty());
    assert_eq!(s.deregistrations(silent).await.expect("read").len(), 1);
    let events = s.person_events(silent).await.expect("events");
    let dereg: Vec<_> = events.iter().filter(|e| e.kind == "deregistered").collect();
    assert_eq!(dereg.len(), 1);
    assert_eq!(
        (dereg[0].actor.as_str(), dereg[0].at),
        ("rule:no_monitoring", now)
    );
    assert_eq!(dereg[0].detail["reason"], "no_monitoring");
    assert_eq!(dereg[0].detail["registration_id"], silent_reg);

    // `limit` bounds one sweep; the next sweep takes the rest, most overdue
    // first.
    let far = msk("2025-12-10 12:00");
    let first = s.deregister_due(&m, far, 1).await.expect("sweep");
    assert_eq!(first.len(), 1);
    assert_eq!(
        first[0].person_id, reporting,
        "the earlier deadline goes first"
    );
    let second = s.deregister_due(&m, far, 1).await.expect("sweep");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].person_id, later);
    assert!(s
        .deregister_due(&m, far, 1)
        .await
        .expect("sweep")
        .is_empty());
    let counts = s.counts().await.expect("counts");
    assert_eq!(
        (counts.persons_registered, counts.persons_deregistered),
        (0, 3)
    );
}

async fn late_batch_deregisters_first_and_does_not_count(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let (pid, reg, dev) = enrolled_with_device(&s, &m, "LL0000001", t0).await;
    let deadline = utc("2025-11-27T20:59:59.999Z");

    // The scheduler has not run yet; the phone reports on Friday, including
    // a fix recorded on Thursday that was queued offline.
    let now = msk("2025-11-28 10:00");
    let batch = vec![
        fix(1, msk("2025-11-27 15:00"), KREMLIN),
        fix(2, now, KREMLIN),
    ];
    let out = s.ingest(&m, &dev, batch, now).await.expect("ingest");
    assert!(out.deregistered);
    assert_eq!(out.accepted, [1, 2], "kept as evidence");
    assert_eq!(out.state.status, RegistrationStatus::Deregistered);
    assert_eq!(
        (out.state.last_monitoring_at, out.state.deadline_at),
        (None, deadline)
    );
    assert_eq!(
        s.person(pid).await.expect("read").expect("person").state,
        out.state
    );
    assert!(s
        .fixes(pid, 10)
        .await
        .expect("fixes")
        .iter()
        .all(|f| !f.counted));

    let records = s.deregistrations(pid).await.expect("read");
    assert_eq!(records.len(), 1);
    assert_eq!(
        (
            records[0].registration_id,
            records[0].effective_at,
            records[0].decided_at
        ),
        (reg, deadline, now)
    );
    assert_eq!(records[0].rule_version, m.rule_version());

    // The sweep finds nothing left to do, and a retry of the late batch
    // neither counts nor deregisters again.
    assert!(s
        .deregister_due(&m, now, 100)
        .await
        .expect("sweep")
        .is_empty());
    let out = s
        .ingest(
            &m,
            &dev,
            vec![
                fix(2, now, KREMLIN),
                fix(3, now + SignedDuration::from_mins(1), KREMLIN),
            ],
            now + SignedDuration::from_mins(1),
        )
        .await
        .expect("ingest");
    assert!(!out.deregistered);
    assert_eq!(
        (out.accepted.as_slice(), out.duplicates.as_slice()),
        (&[3][..], &[2][..])
    );
    assert_eq!(out.state.last_monitoring_at, None);
    assert_eq!(s.deregistrations(pid).await.expect("read").len(), 1);
    let kinds: Vec<String> = s
        .person_events(pid)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["registered", "device_bound", "deregistered"]);
}

// ---------------------------------------------------------------------------
// Several processes at once (PostgreSQL only: SQLite is one process's).

async fn concurrent_sweeps_and_ingest_deregister_each_person_once(h: Harness) {
    const PEOPLE: usize = 300;
    let s = h.migrated().await;
    assert_eq!(s.backend(), Backend::Postgres);
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let deadline = utc("2025-11-27T20:59:59.999Z");
    let numbers: Vec<String> = (0..PEOPLE).map(|i| format!("MM{i:07}")).collect();
    s.import_cards(numbers.iter().map(|n| card(n)).collect(), t0)
        .await
        .expect("import");
    let mut people = Vec::with_capacity(PEOPLE);
    for n in &numbers {
        let t = token(t0 + SignedDuration::from_mins(15), "self");
        let hash = t.hash;
        let e = s.enrol(&m, &number(n), t, t0).await.expect("enrol");
        let dev = format!("dev-{n}");
        s.bind_device(hash, device(&dev, "self"), t0)
            .await
            .expect("bind");
        people.push((e.person_id, dev));
    }

    // Two "server processes", each with its own pool.
    let a = h.another_store().await;
    let b = h.another_store().await;
    let sweep_at = deadline + SignedDuration::from_hours(1);

    let mut tasks = tokio::task::JoinSet::new();
    // Two sweepers per process, small batches, until a sweep finds nothing.
    for store in [&a, &b, &a, &b] {
        let (store, m) = (Arc::clone(store), m.clone());
        tasks.spawn(async move {
            let mut mine = Vec::new();
            let mut empty_in_a_row = 0;
            while empty_in_a_row < 3 {
                let done = store.deregister_due(&m, sweep_at, 7).await.expect("sweep");
                if done.is_empty() {
                    empty_in_a_row += 1;
                    tokio::task::yield_now().await;
                } else {
                    empty_in_a_row = 0;
                }
                mine.extend(done.into_iter().map(|d| d.person_id));
            }
            (mine, Vec::new(), Vec::new())
        });
    }
    // Meanwhile every phone reports, eight uploads at a time over both
    // processes, starting from the end of the sweepers' order so that the
    // two meet in the middle. Even people: late (after the deadline, so the
    // batch deregisters if no sweep did yet). Odd people: just in time by
    // their node's clock, racing the sweepers: each either moves the
    // deadline (if it got the lock first) or finds the person deregistered.
    const UPLOADERS: usize = 8;
    for k in 0..UPLOADERS {
        let store = Arc::clone(if k % 2 == 0 { &a } else { &b });
        let m = m.clone();
        let mine: Vec<(usize, i64, String)> = people
            .iter()
            .enumerate()
            .rev()
            .skip(k)
            .step_by(UPLOADERS)
            .map(|(i, (pid, dev))| (i, *pid, dev.clone()))
            .collect();
        tasks.spawn(async move {
            let mut by_ingest = Vec::new();
            let mut in_time = Vec::new();
            for (i, pid, dev) in mine {
                let now = if i % 2 == 0 {
                    sweep_at
                } else {
                    deadline - SignedDuration::from_hours(1)
                };
                let out = store
                    .ingest(&m, &dev, vec![fix(1, now, KREMLIN)], now)
                    .await
                    .expect("ingest");
                if out.deregistered {
                    by_ingest.push(pid);
                }
                if out.state.status == RegistrationStatus::Registered {
                    assert_eq!(i % 2, 1, "a late batch cannot keep a registration");
                    in_time.push(pid);
                }
            }
            (Vec::new(), by_ingest, in_time)
        });
    }
    let mut reported = Vec::new();
    let mut in_time = Vec::new();
    let (mut swept_total, mut ingested_first) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        let (swept, by_ingest, kept) = joined.expect("task");
        swept_total += swept.len();
        ingested_first += by_ingest.len() + kept.len();
        reported.extend(swept);
        reported.extend(by_ingest);
        in_time.extend(kept);
    }
    // The race took place: sweepers and uploads each got to people first.
    assert!(
        swept_total > 0 && ingested_first > 0,
        "{swept_total} {ingested_first}"
    );
    // A sweeper may have given up while the others held the last rows; one
    // more sweep takes whatever is left, and then nothing is due.
    let rest = s.deregister_due(&m, sweep_at, 1000).await.expect("sweep");
    reported.extend(rest.iter().map(|d| d.person_id));
    assert!(s
        .deregister_due(&m, sweep_at, 1000)
        .await
        .expect("sweep")
        .is_empty());
    // Whoever kept their registration was not deregistered; everyone else
    // was, and each deregistration was reported by exactly one caller.
    let mut sorted = reported.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        reported.len(),
        "a person was reported deregistered twice"
    );
    assert_eq!(reported.len() + in_time.len(), PEOPLE);
    for pid in &in_time {
        assert!(!sorted.contains(pid));
    }

    let Database::Postgres(db) = &h.db else {
        unreachable!("PostgreSQL only")
    };
    let client = pg_client(&db.url).await;
    let one = |sql: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(sql, &[])
                .await
                .expect(sql)
                .get::<_, i64>(0)
        }
    };
    let expected = reported.len() as i64;
    assert_eq!(one("SELECT count(*) FROM deregistrations").await, expected);
    assert_eq!(
        one("SELECT count(DISTINCT registration_id) FROM deregistrations").await,
        expected
    );
    assert_eq!(
        one("SELECT count(DISTINCT person_id) FROM deregistrations").await,
        expected
    );
    assert_eq!(
        one("SELECT count(*) FROM persons WHERE status = 'deregistered'").await,
        expected
    );
    assert_eq!(
        one("SELECT count(*) FROM person_events WHERE kind = 'deregistered'").await,
        expected
    );
    assert_eq!(
        one("SELECT count(*) FROM registrations WHERE ended_at IS NOT NULL").await,
        expected
    );
    // Persons and their deregistration agree, one to one.
    assert_eq!(
        one("SELECT count(*) FROM persons p JOIN deregistrations d \
             ON d.registration_id = p.registration_id WHERE p.status = 'deregistered'")
        .await,
        expected
    );
    // A fix counted for a deregistered person would be a rule violation.
    assert_eq!(
        one(
            "SELECT count(*) FROM fixes f JOIN persons p ON p.id = f.person_id \
             WHERE p.status = 'deregistered' AND f.counted"
        )
        .await,
        0
    );
    assert_eq!(one("SELECT count(*) FROM fixes").await, PEOPLE as i64);
    // Most late batches race the sweepers; at least the even half is gone.
    assert!(reported.len() >= PEOPLE / 2, "{}", reported.len());
}

// ---------------------------------------------------------------------------
// Many batches at once. PostgreSQL stores the batches that wait together in
// one transaction (group commit), as the SQLite writer does; what each
// caller is told and what is stored must be what storing them one by one,
// in some order, would give.

/// Two "nodes" on one database for PostgreSQL; SQLite is one process's.
async fn two_nodes(h: &Harness, s: &SharedStore) -> [SharedStore; 2] {
    match s.backend() {
        Backend::Postgres => [Arc::clone(s), h.another_store().await],
        Backend::Sqlite => [Arc::clone(s), Arc::clone(s)],
    }
}

async fn concurrent_batches_store_each_fix_exactly_once(h: Harness) {
    const PEOPLE: usize = 12;
    const COPIES: usize = 4;
    let s = h.migrated().await;
    let nodes = two_nodes(&h, &s).await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let mut devices = Vec::new();
    for i in 0..PEOPLE {
        let (pid, _, dev) = enrolled_with_device(&s, &m, &format!("QQ{i:07}"), t0).await;
        devices.push((pid, dev));
    }
    let t1 = msk("2025-11-25 09:00");
    let at = move |seq: u64| t1 + SignedDuration::from_mins(seq as i64);
    let now = at(200);

    // Every phone's seqs 1..=10, in batches of two, sent COPIES times over
    // by tasks on both nodes (lost acknowledgements, retried at once); and
    // seq 100 sent twice at the same moment with different positions (a
    // phone that reused a sequence number).
    let mut tasks = tokio::task::JoinSet::new();
    for (k, (_, dev)) in devices.iter().enumerate() {
        for copy in 0..COPIES {
            let (store, m, dev) = (Arc::clone(&nodes[(k + copy) % 2]), m.clone(), dev.clone());
            tasks.spawn(async move {
                let mut outcomes = Vec::new();
                for first in (1..=10u64).step_by(2) {
                    let batch = vec![
                        fix(first, at(first), KREMLIN),
                        fix(first + 1, at(first + 1), KREMLIN),
                    ];
                    outcomes.push((dev.clone(), store.ingest(&m, &dev, batch, now).await));
                }
                outcomes
            });
        }
        for (variant, position) in [KREMLIN, (55.7600, 37.6200)].into_iter().enumerate() {
            let (store, m, dev) = (Arc::clone(&nodes[variant]), m.clone(), dev.clone());
            tasks.spawn(async move {
                let batch = vec![fix(100, at(100), position)];
                vec![(dev.clone(), store.ingest(&m, &dev, batch, now).await)]
            });
        }
    }
    let mut accepted: std::collections::HashMap<(String, u64), usize> = Default::default();
    let mut reused = 0;
    while let Some(joined) = tasks.join_next().await {
        for (dev, outcome) in joined.expect("task") {
            match outcome {
                Ok(o) => {
                    assert!(o.flagged.is_empty(), "{o:?}");
                    for seq in o.accepted {
                        *accepted.entry((dev.clone(), seq)).or_default() += 1;
                    }
                    for seq in o.duplicates {
                        accepted.entry((dev.clone(), seq)).or_default();
                    }
                }
                Err(StoreError::Batch(BatchError::SequenceReused { seq: 100 })) => reused += 1,
                Err(e) => panic!("{dev}: {e:?}"),
            }
        }
    }
    // Each (device, seq) acknowledged as new exactly once; the other
    // copies as duplicates; one of the two seq-100 uploads refused.
    assert_eq!(accepted.len(), PEOPLE * 11);
    assert!(accepted.values().all(|&n| n == 1), "{accepted:?}");
    assert_eq!(reused, PEOPLE);
    assert_eq!(
        s.counts().await.expect("counts").fixes,
        (PEOPLE * 11) as u64
    );
    for (pid, _) in &devices {
        let stored = s.fixes(*pid, 100).await.expect("fixes");
        assert_eq!(stored.len(), 11);
        let mut seqs: Vec<u64> = stored.iter().map(|f| f.seq).collect();
        seqs.sort();
        assert_eq!(seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100]);
        let person = s.person(*pid).await.expect("read").expect("person");
        assert_eq!(person.state.last_monitoring_at, Some(at(100)));
    }
}

/// A batch whose insert fails inside the database (here a trigger behind
/// the store's back) fails alone: the batches stored with it in one
/// transaction are stored again without it.
async fn a_failing_batch_does_not_fail_the_others(h: Harness) {
    const PEOPLE: usize = 16;
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let mut devices = Vec::new();
    for i in 0..PEOPLE {
        let (pid, _, dev) = enrolled_with_device(&s, &m, &format!("PP{i:07}"), t0).await;
        devices.push((pid, dev));
    }
    let poisoned = devices[PEOPLE / 2].1.clone();
    h.poison_insert("fixes", "device_id", &poisoned).await;
    // On PostgreSQL, hold every person's row lock behind the store's back
    // while the batches arrive, so that they queue and are taken as a group
    // when the lock goes.
    let holder = match &h.db {
        Database::Postgres(db) => {
            let client = pg_client(&db.url).await;
            client
                .batch_execute("BEGIN; SELECT 1 FROM persons FOR UPDATE;")
                .await
                .expect("lock everyone");
            Some(client)
        }
        Database::Sqlite { .. } => None,
    };
    let t1 = msk("2025-11-25 09:00");
    let mut tasks = tokio::task::JoinSet::new();
    for (pid, dev) in &devices {
        let (s, m, dev, pid) = (Arc::clone(&s), m.clone(), dev.clone(), *pid);
        tasks.spawn(async move {
            let out = s.ingest(&m, &dev, vec![fix(1, t1, KREMLIN)], t1).await;
            (pid, dev, out)
        });
    }
    if let Some(client) = holder {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        client.batch_execute("COMMIT").await.expect("unlock");
    }
    let mut stored = 0;
    while let Some(joined) = tasks.join_next().await {
        let (pid, dev, out) = joined.expect("task");
        if dev == poisoned {
            assert!(matches!(out, Err(StoreError::Internal(_))), "{out:?}");
            let person = s.person(pid).await.expect("read").expect("person");
            assert_eq!(person.state.last_monitoring_at, None);
        } else {
            assert_eq!(out.expect("stored").accepted, [1]);
            stored += 1;
        }
    }
    assert_eq!(stored, PEOPLE - 1);
    assert_eq!(s.counts().await.expect("counts").fixes, (PEOPLE - 1) as u64);
}

/// Batches of one person from two devices (a new phone bound while the old
/// one's uploads are still arriving): the old device's batches are refused
/// once it is revoked, whatever transaction they share with the new one's.
async fn batches_of_a_revoked_device_are_refused_in_a_group(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let (pid, _, old) = enrolled_with_device(&s, &m, "RR0000001", t0).await;
    // Rebind: a new enrolment of the same card and a new device.
    let t = token(t0 + SignedDuration::from_hours(2), "self");
    let hash = t.hash;
    s.enrol(
        &m,
        &number("RR0000001"),
        t,
        t0 + SignedDuration::from_hours(1),
    )
    .await
    .expect("enrol again");
    s.bind_device(
        hash,
        device("dev-RR-new", "self"),
        t0 + SignedDuration::from_hours(1),
    )
    .await
    .expect("bind the new phone");
    let t1 = msk("2025-11-25 09:00");
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..8u64 {
        let (s, m) = (Arc::clone(&s), m.clone());
        let dev = if k % 2 == 0 {
            old.clone()
        } else {
            "dev-RR-new".to_string()
        };
        tasks.spawn(async move {
            let at = t1 + SignedDuration::from_mins(k as i64);
            (
                dev.clone(),
                s.ingest(&m, &dev, vec![fix(k + 1, at, KREMLIN)], at).await,
            )
        });
    }
    let mut new_ok = 0;
    while let Some(joined) = tasks.join_next().await {
        let (dev, out) = joined.expect("task");
        if dev == old {
            assert!(matches!(out, Err(StoreError::DeviceRevoked)), "{out:?}");
        } else {
            assert_eq!(out.expect("stored").person_id, pid);
            new_ok += 1;
        }
    }
    assert_eq!(new_ok, 4);
    assert_eq!(s.counts().await.expect("counts").fixes, 4);
}

/// The answer to an upload carries the person's last check-in, read with
/// the batch, so that the server needs no second read for it.
async fn ingest_reports_the_last_checkin(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let (_, _, dev) = enrolled_with_device(&s, &m, "SS0000001", t0).await;
    let t1 = msk("2025-11-25 09:00");
    let out = s
        .ingest(&m, &dev, vec![fix(1, t1, KREMLIN)], t1)
        .await
        .expect("ingest");
    assert_eq!(out.last_checkin_at, None);
    let checkin = amina_domain::reminders::Checkin {
        at: t1 + SignedDuration::from_mins(1),
        location: amina_domain::reminders::Permission::Granted,
        notifications: amina_domain::reminders::Permission::Granted,
        queued_fixes: 0,
        geo_error: None,
        battery_pct: Some(40),
        charging: None,
        network: None,
        client: amina_domain::reminders::CheckinClient::App,
    };
    s.record_checkin(&dev, checkin).await.expect("check in");
    let t2 = t1 + SignedDuration::from_mins(2);
    let out = s
        .ingest(&m, &dev, vec![fix(2, t2, KREMLIN)], t2)
        .await
        .expect("ingest");
    assert_eq!(out.last_checkin_at, Some(t1 + SignedDuration::from_mins(1)));
}

async fn a_lost_database_is_unavailable(h: Harness) {
    let s = h.migrated().await;
    s.health().await.expect("healthy");
    let Harness { store, db } = h;
    // Dropping the test database terminates its connections first.
    drop(db);
    for result in [store.health().await, store.counts().await.map(|_| ())] {
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        );
    }
    let m = monitor();
    let t = msk("2025-11-24 10:00");
    let r = store.ingest(&m, "dev-x", vec![fix(1, t, KREMLIN)], t).await;
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
}

/// The pre-check in bind_device cannot see a key another transaction is
/// binding right now; the unique constraint then refuses it, and that must
/// still read as KeyAlreadyBound (and leave the token unused).
async fn racing_binds_of_one_key_are_key_already_bound(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let (other, _, _) = enrolled_with_device(&s, &m, "NN0000001", t0).await;
    s.import_cards(vec![card("NN0000002")], t0)
        .await
        .expect("import");
    let tok = token(t0 + SignedDuration::from_mins(15), "self");
    let hash = tok.hash;
    s.enrol(&m, &number("NN0000002"), tok, t0)
        .await
        .expect("enrol");

    let Database::Postgres(db) = &h.db else {
        unreachable!("PostgreSQL only")
    };
    let mut raw = pg_client(&db.url).await;
    let tx = raw.transaction().await.expect("begin");
    tx.execute(
        "INSERT INTO devices (id, person_id, public_key, key_thumbprint, kind, status, bound_at, \
         bound_by) VALUES ('dev-racing', $1, '\\x04', 'thumb-contested', 'x', 'revoked', now(), 'test')",
        &[&other],
    )
    .await
    .expect("insert");

    let mut contested = device("dev-mine", "self");
    contested.key_thumbprint = "thumb-contested".into();
    let store = Arc::clone(&s);
    let bind = tokio::spawn(async move { store.bind_device(hash, contested, t0).await });
    // The bind passes its pre-check and waits on the uncommitted key.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !bind.is_finished(),
        "the bind should be waiting for the other transaction"
    );
    tx.commit().await.expect("commit");
    let result = bind.await.expect("task");
    assert!(
        matches!(result, Err(StoreError::KeyAlreadyBound)),
        "{result:?}"
    );

    // Nothing of the refused bind remains; the token still works.
    assert!(s.device("dev-mine").await.expect("read").is_none());
    let d = s
        .bind_device(hash, device("dev-mine", "self"), t0)
        .await
        .expect("bind with a fresh key");
    assert_eq!(d.status, DeviceStatus::Active);
}

/// No database needed: nothing listens on the port.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_postgres_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("postgres://amina:secret@127.0.0.1:{port}/amina");
    match PostgresStore::connect(&url).await {
        Err(StoreError::Unavailable(msg)) => assert!(!msg.contains("secret"), "{msg}"),
        Err(e) => panic!("expected Unavailable, got {e:?}"),
        Ok(_) => panic!("nothing listens on port {port}"),
    }
    let opened = amina_store::open(&url).await;
    assert!(matches!(opened, Err(StoreError::Unavailable(_))));
    let bad = PostgresStore::connect("postgres://amina@127.0.0.1:notaport/amina").await;
    assert!(matches!(bad, Err(StoreError::Internal(_))));
}

// ---------------------------------------------------------------------------
// Every test, once per backend.

suite!(
    both: [
        migrate_twice_is_a_no_op,
        import_cards_counts_inserts_and_updates,
        import_cards_is_all_or_nothing,
        failed_attempts_lock_at_threshold_and_unlock,
        enrol_registers_once_and_reregisters_after_deregistration,
        binding_tokens_are_single_use_and_rebinding_is_recorded,
        ingest_stores_fixes_and_moves_the_deadline,
        ingest_retries_are_idempotent,
        ingest_refuses_reused_sequence_numbers,
        ingest_refuses_fixes_before_enrolment_or_in_the_future,
        offline_fixes_count_at_their_recorded_instant,
        deregister_due_takes_only_due_people_once,
        late_batch_deregisters_first_and_does_not_count,
        concurrent_batches_store_each_fix_exactly_once,
        a_failing_batch_does_not_fail_the_others,
        batches_of_a_revoked_device_are_refused_in_a_group,
        ingest_reports_the_last_checkin,
    ],
    postgres_only: [
        concurrent_sweeps_and_ingest_deregister_each_person_once,
        a_lost_database_is_unavailable,
        racing_binds_of_one_key_are_key_already_bound,
    ]
);
