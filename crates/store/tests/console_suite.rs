//! Storage tests for the console and the audit trail, on both backends
//! (see `common`).

#[macro_use]
mod common;

use amina_domain::console::{CaseTerms, RegistryDecision, RegistryStatus, Role};
use amina_domain::signal::{SignalKind, SignalStatus, SignalSubject};
use amina_store::audit::{verify_store, AuditEntry};
use amina_store::{
    AuditQuery, ConsoleError, NewAccount, NewSession, NewSignal, PersonQuery, SignalReview,
    StatusFilter,
};
use common::*;

fn entry(at: Timestamp, action: &str, subject: &str) -> AuditEntry {
    AuditEntry::new(at, "anna", "police_officer", action, subject)
}

fn account(name: &str, role: Role) -> NewAccount {
    NewAccount {
        name: name.into(),
        role,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP".into(),
        created_by: "cli".into(),
    }
}

fn session(hash_byte: u8, account_id: i64, at: Timestamp) -> NewSession {
    NewSession {
        id_hash: [hash_byte; 32],
        account_id,
        csrf_token: format!("csrf-{hash_byte}"),
        created_at: at,
        expires_at: at + SignedDuration::from_hours(12),
    }
}

fn console_err<T: std::fmt::Debug>(r: Result<T, StoreError>) -> ConsoleError {
    match r {
        Err(StoreError::Console(e)) => e,
        other => panic!("expected a console error, got {other:?}"),
    }
}

async fn audit_count(s: &SharedStore) -> usize {
    s.audit_records(AuditQuery {
        limit: 10_000,
        ..Default::default()
    })
    .await
    .unwrap()
    .len()
}

async fn accounts_sign_in_lock_and_sessions_expire(h: Harness) {
    let s = h.migrated().await;
    let t0 = msk("2025-11-24 09:00");
    let a = s
        .create_account(
            account("anna", Role::PoliceOfficer),
            entry(t0, "account.create", "account"),
        )
        .await
        .unwrap();
    assert_eq!(a.role, Role::PoliceOfficer);
    assert!(!format!("{a:?}").contains("argon2"), "no hash in Debug");
    assert_eq!(
        console_err(
            s.create_account(
                account("anna", Role::Admin),
                entry(t0, "account.create", "account")
            )
            .await
        ),
        ConsoleError::AccountExists
    );
    assert_eq!(
        audit_count(&s).await,
        1,
        "the refused duplicate left no record"
    );

    // Three failures with lock_after = 3 lock the account for 15 minutes.
    let lock = SignedDuration::from_mins(15);
    for i in 1..=2 {
        let r = s
            .login_failed(a.id, t0, 3, lock, entry(t0, "login.failed", "account"))
            .await
            .unwrap();
        assert_eq!(r.failed_attempts, i);
        assert_eq!(r.locked_until, None);
    }
    let r = s
        .login_failed(a.id, t0, 3, lock, entry(t0, "login.failed", "account"))
        .await
        .unwrap();
    assert_eq!(r.locked_until, Some(t0 + lock));
    assert_eq!(r.failed_attempts, 0);

    // A good sign-in starts a session and consumes the TOTP step.
    s.login_succeeded(
        a.id,
        100,
        session(1, a.id, t0),
        entry(t0, "login", "account"),
    )
    .await
    .unwrap();
    assert_eq!(
        console_err(
            s.login_succeeded(
                a.id,
                100,
                session(2, a.id, t0),
                entry(t0, "login", "account")
            )
            .await
        ),
        ConsoleError::TotpReplayed
    );
    let idle = SignedDuration::from_mins(30);
    let live = s
        .session([1; 32], t0 + SignedDuration::from_mins(20), idle)
        .await;
    let live = live.unwrap().expect("a live session");
    assert_eq!(
        (live.name.as_str(), live.role),
        ("anna", Role::PoliceOfficer)
    );
    assert_eq!(live.csrf_token, "csrf-1");
    assert!(
        s.session([2; 32], t0, idle).await.unwrap().is_none(),
        "never created"
    );
    // Seen at +20 min, so +45 min is within the idle limit; +80 is not.
    let t45 = t0 + SignedDuration::from_mins(45);
    assert!(s.session([1; 32], t45, idle).await.unwrap().is_some());
    assert!(s
        .session([1; 32], t45 + SignedDuration::from_mins(35), idle)
        .await
        .unwrap()
        .is_none());
    // Ended for good, even if asked again in time.
    assert!(s.session([1; 32], t45, idle).await.unwrap().is_none());

    // The absolute expiry holds however active the session is.
    s.login_succeeded(
        a.id,
        101,
        session(3, a.id, t0),
        entry(t0, "login", "account"),
    )
    .await
    .unwrap();
    let mut t = t0;
    for _ in 0..24 {
        t += SignedDuration::from_mins(29);
        if t >= t0 + SignedDuration::from_hours(12) {
            assert!(s.session([3; 32], t, idle).await.unwrap().is_none());
            break;
        }
        assert!(s.session([3; 32], t, idle).await.unwrap().is_some());
    }
    s.login_succeeded(
        a.id,
        102,
        session(4, a.id, t0),
        entry(t0, "login", "account"),
    )
    .await
    .unwrap();
    s.end_session([4; 32], t0, entry(t0, "logout", "account"))
        .await
        .unwrap();
    assert!(s.session([4; 32], t0, idle).await.unwrap().is_none());
    // create + 3 failures + 3 sign-ins + sign-out.
    assert_eq!(verify_store(&*s).await.unwrap(), Ok(8));
}

async fn the_audit_chain_verifies_and_names_a_tampered_row(h: Harness) {
    let s = h.migrated().await;
    let t0 = msk("2025-11-24 09:00");
    for i in 0..5 {
        let r = s
            .append_audit(
                entry(t0, "person.view", &format!("person:{i}"))
                    .detail(serde_json::json!({"q": "Каримов", "n": i})),
            )
            .await
            .unwrap();
        assert_eq!(r.id, i + 1);
    }
    assert_eq!(verify_store(&*s).await.unwrap(), Ok(5));
    let page = s
        .audit_records(AuditQuery {
            action: Some("person.".into()),
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), vec![5, 4]);
    let by_subject = s
        .audit_records(AuditQuery {
            subject: Some("person:2".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_subject.len(), 1);
    assert_eq!(by_subject[0].detail, r#"{"n":2,"q":"Каримов"}"#);

    // The database itself refuses changes to the trail.
    let refused = try_sql(
        &h,
        "UPDATE audit_log SET actor = 'x' WHERE id = 3",
        "UPDATE audit_log SET actor = 'x' WHERE id = 3",
    )
    .await;
    assert!(refused.unwrap_err().contains("append-only"));
    let refused = try_sql(
        &h,
        "DELETE FROM audit_log WHERE id = 3",
        "DELETE FROM audit_log WHERE id = 3",
    )
    .await;
    assert!(refused.unwrap_err().contains("append-only"));
    // Someone who can drop the guard edits record 3 by hand.
    h.raw_sql(
        "DROP TRIGGER audit_log_no_update; \
         UPDATE audit_log SET detail = '{\"n\":2,\"q\":\"Rahimov\"}' WHERE id = 3;",
        "DROP TRIGGER audit_log_no_change ON audit_log; \
         UPDATE audit_log SET detail = '{\"n\":2,\"q\":\"Rahimov\"}' WHERE id = 3;",
    )
    .await;
    let broken = verify_store(&*s).await.unwrap().unwrap_err();
    assert_eq!(broken.id, 3, "{broken:?}");
    // Deleting a row is named too.
    h.raw_sql(
        "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id IN (2, 3);",
        "DELETE FROM audit_log WHERE id IN (2, 3);",
    )
    .await;
    assert_eq!(verify_store(&*s).await.unwrap().unwrap_err().id, 2);
}

/// Run SQL behind the store's back; the database's error as text.
async fn try_sql(h: &Harness, sqlite: &str, postgres: &str) -> Result<(), String> {
    match &h.db {
        Database::Sqlite { path, .. } => {
            let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
            conn.execute_batch(sqlite).map_err(|e| e.to_string())
        }
        Database::Postgres(db) => pg_client(&db.url)
            .await
            .batch_execute(postgres)
            .await
            .map_err(|e| format!("{e:?}")),
    }
}

async fn search_finds_names_across_scripts_and_never_location(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 10:00");
    let (p1, _, _) = enrolled_with_device(&s, &m, "UZ2000001", at).await; // Alisher Karimov
    let mut other = card("TJ2000002");
    other.name_latin = "Farrukh Rakhimov".into();
    other.name_cyrillic = "Фаррух Рахимов".into();
    other.citizenship = Citizenship::parse("TJK").unwrap();
    s.import_cards(vec![other], at).await.unwrap();
    s.enrol(&m, &number("TJ2000002"), token(at, "self"), at)
        .await
        .unwrap();
    s.raise_signal(NewSignal {
        kind: SignalKind::OutsideRegion,
        subject: SignalSubject::Person(p1),
        dedup_key: "1".into(),
        raised_at: at,
        score: None,
        explanation: "outside".into(),
        evidence: serde_json::json!({}),
    })
    .await
    .unwrap();

    let find = |words: &[&str]| PersonQuery {
        name_words: words
            .iter()
            .flat_map(|w| amina_domain::names::skeleton_words(w))
            .collect(),
        limit: 20,
        ..Default::default()
    };
    for q in ["Каримов", "Karimov", "Qarimov", "алишер карим", "ALISHER"] {
        let hits = s.search_persons(find(&[q])).await.unwrap();
        assert_eq!(
            hits.iter()
                .map(|h| h.card_number.as_str())
                .collect::<Vec<_>>(),
            vec!["UZ2000001"],
            "{q}"
        );
        assert_eq!(hits[0].open_signals, 1);
    }
    let hits = s.search_persons(find(&["Рахимов"])).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].name_latin, "Farrukh Rakhimov");
    assert_eq!(hits[0].open_signals, 0);
    assert!(s
        .search_persons(find(&["Petrov"]))
        .await
        .unwrap()
        .is_empty());

    let by_card = s
        .search_persons(PersonQuery {
            card_number: Some("TJ2000002".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_card.len(), 1);
    let uzb = s
        .search_persons(PersonQuery {
            citizenship: Some("UZB".into()),
            status: Some(StatusFilter::Registered),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(uzb.len(), 1);
    assert!(s
        .search_persons(PersonQuery {
            status: Some(StatusFilter::Deregistered),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());

    // A card updated later is found under its new name.
    let mut renamed = card("UZ2000001");
    renamed.name_latin = "Alisher Yusupov".into();
    renamed.name_cyrillic = "Алишер Юсупов".into();
    s.import_cards(vec![renamed], at + SignedDuration::from_mins(1))
        .await
        .unwrap();
    assert_eq!(s.search_persons(find(&["Iusupov"])).await.unwrap().len(), 1);
    assert!(s
        .search_persons(find(&["Karimov"]))
        .await
        .unwrap()
        .is_empty());

    let id = s.person_identity(p1).await.unwrap().unwrap();
    assert_eq!(id.card_number, "UZ2000001");
    assert_eq!(id.birth_date, "1990-05-01");
    assert!(s.person_identity(999_999).await.unwrap().is_none());
}

async fn location_is_read_only_inside_an_open_case_and_each_read_is_audited(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "UZ3000001", at).await;
    s.ingest(&m, &dev, vec![fix(1, at, KREMLIN)], at)
        .await
        .unwrap();

    let terms = CaseTerms::new("121-FZ art. 5", "spot check", at, 2, 72).unwrap();
    let case = s
        .open_case(
            pid,
            "anna",
            terms,
            entry(at, "case.open", &format!("person:{pid}")),
        )
        .await
        .unwrap();
    assert_eq!(case.person_id, pid);
    let later = at + SignedDuration::from_mins(30);
    let loc = s
        .case_location(
            case.id,
            "anna",
            later,
            100,
            entry(later, "case.location", "x"),
        )
        .await
        .unwrap();
    let last = loc.last_known.expect("a last known position");
    assert_eq!((last.lat, last.lon), KREMLIN);
    assert_eq!(loc.track.len(), 1);
    let reads = s
        .audit_records(AuditQuery {
            case_id: Some(case.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        reads.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        vec!["case.location", "case.open"]
    );
    assert_eq!(reads[0].legal_basis.as_deref(), Some("121-FZ art. 5"));

    let before = audit_count(&s).await;
    assert_eq!(
        console_err(
            s.case_location(
                case.id,
                "boris",
                later,
                10,
                entry(later, "case.location", "x")
            )
            .await
        ),
        ConsoleError::NotCaseOwner
    );
    let expired = at + SignedDuration::from_hours(2);
    assert!(matches!(
        console_err(
            s.case_location(case.id, "anna", expired, 10, entry(expired, "case.location", "x"))
                .await
        ),
        ConsoleError::CaseExpired(t) if t == expired
    ));
    assert_eq!(
        console_err(
            s.case_location(999, "anna", later, 10, entry(later, "case.location", "x"))
                .await
        ),
        ConsoleError::UnknownCase
    );
    assert_eq!(
        audit_count(&s).await,
        before,
        "a refused read records nothing"
    );

    s.close_case(case.id, "anna", later, entry(later, "case.close", "x"))
        .await
        .unwrap();
    assert_eq!(
        console_err(
            s.case_location(
                case.id,
                "anna",
                later,
                10,
                entry(later, "case.location", "x")
            )
            .await
        ),
        ConsoleError::CaseClosed
    );
    assert_eq!(s.cases_for_person(pid).await.unwrap().len(), 1);
    assert!(matches!(
        s.open_case(
            424242,
            "anna",
            CaseTerms::new("b", "p", at, 1, 72).unwrap(),
            entry(at, "case.open", "x")
        )
        .await,
        Err(StoreError::UnknownPerson)
    ));

    // Nearby: 0.001° of longitude east of the last trusted position is
    // 111.3 km × cos(55.75°) × 0.001 ≈ 62.6 m away.
    let near = s
        .nearby(KREMLIN.0, KREMLIN.1 + 0.001, 500.0, 10)
        .await
        .unwrap();
    assert_eq!(near.len(), 1);
    assert!((near[0].distance_m - 62.6).abs() < 1.0, "{near:?}");
    assert!(s
        .nearby(KREMLIN.0, KREMLIN.1 + 0.001, 50.0, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .nearby(TVER.0, TVER.1, 5_000.0, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(verify_store(&*s).await.unwrap(), Ok(3));
}

async fn signal_reviews_carry_their_audit_record(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 10:00");
    let (pid, _, _) = enrolled_with_device(&s, &m, "UZ4000001", at).await;
    let raised = s
        .raise_signal(NewSignal {
            kind: SignalKind::OutsideRegion,
            subject: SignalSubject::Person(pid),
            dedup_key: "1".into(),
            raised_at: at,
            score: None,
            explanation: "outside".into(),
            evidence: serde_json::json!({}),
        })
        .await
        .unwrap();
    let review = |to, reason: Option<&str>| SignalReview {
        signal_id: raised.id,
        to,
        actor: "anna".into(),
        reason: reason.map(String::from),
        at,
    };
    let r = s
        .review_signal_audited(
            review(SignalStatus::InReview, None),
            entry(at, "signal.review", "signal"),
        )
        .await
        .unwrap();
    assert_eq!(r.assigned_to.as_deref(), Some("anna"));
    // A decision without a reason is refused by the domain; no record.
    assert!(matches!(
        s.review_signal_audited(
            review(SignalStatus::Dismissed, None),
            entry(at, "signal.review", "signal")
        )
        .await,
        Err(StoreError::Review(_))
    ));
    assert_eq!(audit_count(&s).await, 1);
    s.review_signal_audited(
        review(SignalStatus::Dismissed, Some("phone was repaired")),
        entry(at, "signal.review", "signal"),
    )
    .await
    .unwrap();
    assert_eq!(audit_count(&s).await, 2);
    let counts = s.signal_counts().await.unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!(
        (
            counts[0].kind.as_str(),
            counts[0].status.as_str(),
            counts[0].count
        ),
        ("outside_region", "dismissed", 1)
    );
}

async fn the_registry_is_proposed_by_the_system_and_decided_by_a_person(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 10:00");
    let (pid, _, _) = enrolled_with_device(&s, &m, "UZ5000001", at).await;
    let later = msk("2025-12-05 10:00");
    assert_eq!(s.deregister_due(&m, later, 10).await.unwrap().len(), 1);

    let ids = s.propose_registry(later).await.unwrap();
    assert_eq!(ids.len(), 1);
    assert!(s.propose_registry(later).await.unwrap().is_empty(), "once");
    let e = s.registry_entry(ids[0]).await.unwrap().unwrap();
    assert_eq!(e.status, RegistryStatus::Proposed);
    assert_eq!(e.person_id, pid);
    assert_eq!(e.evidence["reason"], "no_monitoring");
    assert!(e.evidence["deregistration_evidence"].is_object());

    let before = audit_count(&s).await;
    let who = |a| AuditEntry::new(later, "sveta", "supervisor", a, format!("person:{pid}"));
    assert_eq!(
        console_err(
            s.decide_registry(
                ids[0],
                RegistryDecision::Include,
                "sveta",
                "  ",
                later,
                who("registry.decide")
            )
            .await
        ),
        ConsoleError::Rule(amina_domain::console::ConsoleRuleError::ReasonRequired)
    );
    assert_eq!(
        console_err(
            s.remove_from_registry(ids[0], "sveta", "x", later, who("registry.remove"))
                .await
        ),
        ConsoleError::RegistryState(RegistryStatus::Proposed)
    );
    assert_eq!(audit_count(&s).await, before);
    let e = s
        .decide_registry(
            ids[0],
            RegistryDecision::Include,
            "sveta",
            "no contact for 9 days, no appeal",
            later,
            who("registry.decide"),
        )
        .await
        .unwrap();
    assert_eq!(e.status, RegistryStatus::Included);
    assert_eq!(e.decided_by.as_deref(), Some("sveta"));
    assert!(matches!(
        console_err(
            s.decide_registry(
                ids[0],
                RegistryDecision::Reject,
                "sveta",
                "x",
                later,
                who("registry.decide")
            )
            .await
        ),
        ConsoleError::RegistryState(RegistryStatus::Included)
    ));
    let e = s
        .remove_from_registry(
            ids[0],
            "sveta",
            "court decision",
            later,
            who("registry.remove"),
        )
        .await
        .unwrap();
    assert_eq!(e.status, RegistryStatus::Removed);
    assert_eq!(e.removal_reason.as_deref(), Some("court decision"));
    let events = s.person_events(pid).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.ends_with(&["registry_decision", "registry_removal"]),
        "{kinds:?}"
    );
    assert_eq!(
        s.registry_entries(Some(RegistryStatus::Removed), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(s
        .registry_entries(Some(RegistryStatus::Proposed), 10)
        .await
        .unwrap()
        .is_empty());
    // System proposal + decision + removal.
    assert_eq!(verify_store(&*s).await.unwrap(), Ok(3));
}

/// Nearby, over several people: nearest first, people at the same spot by
/// id, the limit, the radius, great-circle distances on the mean-radius
/// sphere on both backends, and open signals (open or in review, nothing
/// closed) counted for each person listed.
async fn nearby_lists_the_nearest_first_with_their_open_signals(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 10:00");
    let east = |deg: f64| (KREMLIN.0, KREMLIN.1 + deg);
    // (card, position), at 250, 63, 125, 63, 1,252 and 334 m: two people on
    // the very same spot; one outside the radius; one north, in another of
    // the latitude bands of SQLite's index.
    let people = [
        ("UZ7000001", east(0.004)),
        ("UZ7000002", east(0.001)),
        ("UZ7000003", east(0.002)),
        ("UZ7000004", east(0.001)),
        ("UZ7000005", east(0.02)),
        ("UZ7000006", (KREMLIN.0 + 0.003, KREMLIN.1)),
    ];
    let mut ids = Vec::new();
    for (n, (card, pos)) in people.iter().enumerate() {
        let t = at + SignedDuration::from_mins(n as i64);
        let (pid, _, dev) = enrolled_with_device(&s, &m, card, t).await;
        s.ingest(&m, &dev, vec![fix(1, t, *pos)], t).await.unwrap();
        ids.push(pid);
    }
    let signal = |pid: i64, key: &str| NewSignal {
        kind: SignalKind::OutsideRegion,
        subject: SignalSubject::Person(pid),
        dedup_key: key.into(),
        raised_at: at,
        score: None,
        explanation: "outside".into(),
        evidence: serde_json::json!({}),
    };
    let review = |signal_id, to, reason: Option<&str>| SignalReview {
        signal_id,
        to,
        actor: "anna".into(),
        reason: reason.map(String::from),
        at,
    };
    // Person 2: one open and one in review; person 1: one dismissed (not
    // counted); person 6: one open.
    s.raise_signal(signal(ids[1], "a")).await.unwrap();
    let in_review = s.raise_signal(signal(ids[1], "b")).await.unwrap();
    s.review_signal_audited(
        review(in_review.id, SignalStatus::InReview, None),
        entry(at, "signal.review", "signal"),
    )
    .await
    .unwrap();
    let dismissed = s.raise_signal(signal(ids[0], "c")).await.unwrap();
    for (to, reason) in [
        (SignalStatus::InReview, None),
        (SignalStatus::Dismissed, Some("phone was repaired")),
    ] {
        s.review_signal_audited(
            review(dismissed.id, to, reason),
            entry(at, "signal.review", "signal"),
        )
        .await
        .unwrap();
    }
    s.raise_signal(signal(ids[5], "d")).await.unwrap();

    let near = s.nearby(KREMLIN.0, KREMLIN.1, 500.0, 10).await.unwrap();
    let (tie_first, tie_second) = (ids[1].min(ids[3]), ids[1].max(ids[3]));
    let listed: Vec<i64> = near.iter().map(|p| p.person_id).collect();
    assert_eq!(
        listed,
        [tie_first, tie_second, ids[2], ids[0], ids[5]],
        "{near:?}"
    );
    let here = Coordinates::parse(KREMLIN.0, KREMLIN.1).unwrap();
    for p in &near {
        let i = ids.iter().position(|&id| id == p.person_id).unwrap();
        let (card, (lat, lon)) = people[i];
        assert_eq!(p.card_number, card);
        let exact = here.distance_m(Coordinates::parse(lat, lon).unwrap());
        assert!((p.distance_m - exact).abs() < 1e-3, "{p:?}: {exact} m");
    }
    let signals: Vec<u64> = near.iter().map(|p| p.open_signals).collect();
    let of = |pid: i64| if pid == ids[1] { 2 } else { 0 };
    assert_eq!(
        signals,
        [of(tie_first), of(tie_second), 0, 0, 1],
        "{near:?}"
    );

    // The limit keeps the nearest; the two at the same spot come by id.
    let two: Vec<i64> = s
        .nearby(KREMLIN.0, KREMLIN.1, 500.0, 2)
        .await
        .unwrap()
        .iter()
        .map(|p| p.person_id)
        .collect();
    assert_eq!(two, [tie_first, tie_second]);
    // The radius: person 3 is at 125 m, person 1 at 250 m.
    let within: Vec<i64> = s
        .nearby(KREMLIN.0, KREMLIN.1, 200.0, 10)
        .await
        .unwrap()
        .iter()
        .map(|p| p.person_id)
        .collect();
    assert_eq!(within, [tie_first, tie_second, ids[2]]);
    assert!(s
        .nearby(KREMLIN.0, KREMLIN.1, 500.0, 0)
        .await
        .unwrap()
        .is_empty());
}

/// On PostgreSQL the index holds a point that may lag up to 25 m behind a
/// person's last position (so that small moves do not touch the index;
/// migration 0018): the nearby query must still answer from the exact
/// positions, at the radius's edge and at the limit's cut.
async fn nearby_answers_from_the_last_position_when_the_indexed_point_lags(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 10:00");
    let here = Coordinates::parse(KREMLIN.0, KREMLIN.1).unwrap();
    let east = east_of_kremlin;
    // (card, first fix, second fix), each second fix 20 m from the first:
    // in from 515 m to 495 m; out from 485 m to 505 m; away from 100 m to
    // 120 m; and one who stays at 110 m.
    let people = [
        ("UZ7100001", east(515.0), east(495.0)),
        ("UZ7100002", east(485.0), east(505.0)),
        ("UZ7100003", east(100.0), east(120.0)),
        ("UZ7100004", east(110.0), east(110.0)),
    ];
    let mut ids = Vec::new();
    for (n, (card, first, second)) in people.iter().enumerate() {
        let t = at + SignedDuration::from_mins(n as i64);
        let (pid, _, dev) = enrolled_with_device(&s, &m, card, t).await;
        let later = t + SignedDuration::from_mins(5);
        s.ingest(&m, &dev, vec![fix(1, t, *first)], t)
            .await
            .unwrap();
        s.ingest(&m, &dev, vec![fix(2, later, *second)], later)
            .await
            .unwrap();
        ids.push(pid);
    }
    let near = s.nearby(KREMLIN.0, KREMLIN.1, 500.0, 10).await.unwrap();
    let listed: Vec<i64> = near.iter().map(|p| p.person_id).collect();
    assert_eq!(listed, [ids[3], ids[2], ids[0]], "{near:?}");
    for p in &near {
        let i = ids.iter().position(|&id| id == p.person_id).unwrap();
        let (lat, lon) = people[i].2;
        let exact = here.distance_m(Coordinates::parse(lat, lon).unwrap());
        assert!((p.distance_m - exact).abs() < 1e-3, "{p:?}: {exact} m");
    }
    // The nearest by last position, not by the indexed point (100 m).
    let one: Vec<i64> = s
        .nearby(KREMLIN.0, KREMLIN.1, 500.0, 1)
        .await
        .unwrap()
        .iter()
        .map(|p| p.person_id)
        .collect();
    assert_eq!(one, [ids[3]]);
}

suite!(
    both: [
        accounts_sign_in_lock_and_sessions_expire,
        the_audit_chain_verifies_and_names_a_tampered_row,
        search_finds_names_across_scripts_and_never_location,
        location_is_read_only_inside_an_open_case_and_each_read_is_audited,
        signal_reviews_carry_their_audit_record,
        the_registry_is_proposed_by_the_system_and_decided_by_a_person,
        nearby_lists_the_nearest_first_with_their_open_signals,
        nearby_answers_from_the_last_position_when_the_indexed_point_lags,
    ],
    postgres_only: []
);
