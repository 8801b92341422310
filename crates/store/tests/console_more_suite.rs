//! Storage tests for retention (daily presence summaries), spot checks,
//! districts and account administration, on both backends (see `common`).

#[macro_use]
mod common;

use amina_domain::console::{CaseTerms, Role, SpotCheckOutcome};
use amina_domain::signal::{SignalKind, SignalSubject};
use amina_domain::stay::{Address, AddressId, NoticeRules};
use amina_store::audit::{verify_store, AuditEntry};
use amina_store::{
    AuditQuery, ConsoleError, NewAccount, NewNotice, NewSession, NewSignal, PersonQuery,
    SignalQuery, SpotArea,
};
use common::*;

const TVERSKAYA_7: (f64, f64) = (55.7579, 37.6112);
const KHIMKI: (f64, f64) = (55.8887, 37.4304);

fn entry(at: Timestamp, action: &str, subject: &str) -> AuditEntry {
    AuditEntry::new(at, "anna", "police_officer", action, subject)
}

fn console_err<T: std::fmt::Debug>(r: Result<T, StoreError>) -> ConsoleError {
    match r {
        Err(StoreError::Console(e)) => e,
        other => panic!("expected a console error, got {other:?}"),
    }
}

fn address(id: &str, municipality: &str, region: &str, at: (f64, f64)) -> Address {
    Address {
        id: AddressId::parse(id).unwrap(),
        region: region.into(),
        municipality: municipality.into(),
        street: "улица Тверская".into(),
        house: "7".into(),
        flat: Some("12".into()),
        residential: true,
        position: Coordinates::parse(at.0, at.1).unwrap(),
    }
}

async fn notify(s: &SharedStore, pid: i64, address: &str, at: Timestamp) {
    s.submit_notice(
        NoticeRules { max_days_ahead: 7 },
        monitor().geofence.clone(),
        NewNotice {
            person_id: pid,
            address_id: AddressId::parse(address).unwrap(),
            date_from: amina_domain::time::moscow_date(at),
            host_name: None,
        },
        at,
    )
    .await
    .expect("notice");
}

async fn outside_signal(s: &SharedStore, pid: i64, at: Timestamp) -> i64 {
    s.raise_signal(NewSignal {
        kind: SignalKind::OutsideRegion,
        subject: SignalSubject::Person(pid),
        dedup_key: at.to_string(),
        raised_at: at,
        score: None,
        explanation: "outside".into(),
        evidence: serde_json::json!({"outside_since": at.to_string(), "lat": 56.85, "lon": 35.9}),
    })
    .await
    .unwrap()
    .id
}

async fn count_audit(s: &SharedStore, action: &str) -> usize {
    s.audit_records(AuditQuery {
        action: Some(action.into()),
        limit: 10_000,
        ..Default::default()
    })
    .await
    .unwrap()
    .len()
}

async fn old_fixes_become_daily_summaries_once(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let d0 = msk("2025-08-04 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "UZ7000001", d0).await;
    let (pid2, _, dev2) = enrolled_with_device(&s, &m, "UZ7000002", d0).await;
    let d0_evening = msk("2025-08-04 20:00");
    let d1 = msk("2025-08-05 09:00");
    s.ingest(&m, &dev, vec![fix(1, d0, KREMLIN)], d0)
        .await
        .unwrap();
    s.ingest(&m, &dev, vec![fix(2, d0_evening, TVER)], d0_evening)
        .await
        .unwrap();
    s.ingest(&m, &dev, vec![fix(3, d1, KREMLIN)], d1)
        .await
        .unwrap();
    s.ingest(&m, &dev2, vec![fix(1, d1, KREMLIN)], d1)
        .await
        .unwrap();
    // A recent fix, inside the kept period.
    let now = msk("2025-11-10 12:00");
    s.ingest(&m, &dev, vec![fix(4, now, KREMLIN)], now)
        .await
        .unwrap();
    let cutoff = amina_domain::retention::cutoff(now, 90).unwrap();
    assert_eq!(cutoff, msk("2025-08-12 00:00"));
    let before = s.retention_status(cutoff).await.unwrap();
    assert_eq!(before.raw_before_cutoff, 4);
    assert!(!before.is_ok());

    // One person per batch: two batches, each its own transaction.
    let b1 = s.reduce_fixes(cutoff, 0, 1, now).await.unwrap();
    assert_eq!((b1.persons, b1.days, b1.fixes_removed), (1, 2, 3));
    assert_eq!(b1.last_person_id, Some(pid));
    let b2 = s.reduce_fixes(cutoff, pid, 1, now).await.unwrap();
    assert_eq!((b2.persons, b2.days, b2.fixes_removed), (1, 1, 1));
    assert_eq!(b2.last_person_id, Some(pid2));
    let again = s.reduce_fixes(cutoff, 0, 100, now).await.unwrap();
    assert_eq!(again.persons, 0, "idempotent: nothing left to reduce");

    let st = s.retention_status(cutoff).await.unwrap();
    assert!(st.is_ok(), "{st:?}");
    assert_eq!((st.summary_days, st.summarised_fixes, st.runs), (3, 4, 2));
    assert_eq!(
        s.fixes(pid, 100).await.unwrap().len(),
        1,
        "the recent fix stays"
    );
    let days = s.daily_presence(pid, 10).await.unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0].day, jiff::civil::date(2025, 8, 5));
    let d = &days[1];
    assert_eq!(d.day, jiff::civil::date(2025, 8, 4));
    assert_eq!((d.first_at, d.last_at, d.fix_count), (d0, d0_evening, 2));
    assert_eq!(d.in_region_count(), 1);
    assert_eq!(d.zones.get("outside"), Some(&1));

    // A fix that arrives late for a reduced day is merged into its summary.
    let late = msk("2025-08-04 15:00");
    s.ingest(&m, &dev, vec![fix(10, late, KREMLIN)], now)
        .await
        .unwrap();
    let b = s.reduce_fixes(cutoff, 0, 100, now).await.unwrap();
    assert_eq!((b.persons, b.days, b.fixes_removed), (1, 1, 1));
    let d = &s.daily_presence(pid, 10).await.unwrap()[1];
    assert_eq!((d.first_at, d.last_at, d.fix_count), (d0, d0_evening, 3));
    assert!(s.retention_status(cutoff).await.unwrap().is_ok());

    // A summary lost behind the store's back is noticed.
    h.raw_sql(
        &format!("DELETE FROM daily_presence WHERE person_id = {pid2}"),
        &format!("DELETE FROM daily_presence WHERE person_id = {pid2}"),
    )
    .await;
    let st = s.retention_status(cutoff).await.unwrap();
    assert!(!st.is_ok());
    assert_eq!((st.summarised_fixes, st.removed_fixes), (4, 5));
}

async fn spot_checks_list_people_of_interest_with_outcomes_once(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 09:00");
    s.import_addresses(
        vec![
            address("mow-1", "Москва", "RU-MOW", TVERSKAYA_7),
            address("mos-1", "городской округ Химки", "RU-MOS", KHIMKI),
        ],
        t0,
    )
    .await
    .unwrap();
    let (a, _, dev_a) = enrolled_with_device(&s, &m, "UZ7100001", t0).await;
    let (b, _, dev_b) = enrolled_with_device(&s, &m, "UZ7100002", t0).await;
    let (c, _, _) = enrolled_with_device(&s, &m, "UZ7100003", t0).await;
    notify(&s, a, "mow-1", t0).await;
    notify(&s, b, "mow-1", t0).await;
    notify(&s, c, "mos-1", t0).await;
    s.ingest(&m, &dev_a, vec![fix(1, t0, TVERSKAYA_7)], t0)
        .await
        .unwrap();
    s.ingest(&m, &dev_b, vec![fix(1, t0, TVERSKAYA_7)], t0)
        .await
        .unwrap();
    outside_signal(&s, a, t0).await;
    outside_signal(&s, c, t0).await;

    assert_eq!(
        s.districts().await.unwrap(),
        vec!["Москва".to_string(), "городской округ Химки".to_string()]
    );
    // Search and alerts by district: the notice in force decides.
    let hits = s
        .search_persons(PersonQuery {
            district: Some("Москва".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut ids: Vec<i64> = hits.iter().map(|h| h.person_id).collect();
    ids.sort();
    assert_eq!(ids, vec![a, b]);
    assert_eq!(hits[0].district.as_deref(), Some("Москва"));
    let by_address = s
        .search_persons(PersonQuery {
            address_terms: amina_domain::stay::query_terms("химки"),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_address.iter().map(|h| h.person_id).collect::<Vec<_>>(),
        vec![c]
    );
    let in_moscow = s
        .signals(SignalQuery {
            district: Some("Москва".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(in_moscow.len(), 1);
    assert_eq!(in_moscow[0].subject, SignalSubject::Person(a));
    let counts = s.signal_counts_by_district().await.unwrap();
    for d in ["Москва", "городской округ Химки"] {
        let n: u64 = counts
            .iter()
            .filter(|c| c.district.as_deref() == Some(d) && c.status == "open")
            .map(|c| c.count)
            .sum();
        assert_eq!(n, 1, "{d}: {counts:?}");
    }

    // A district spot check lists a (open signal), not b (nothing open) and
    // not c (another district).
    let terms = CaseTerms::new("3-FZ art. 13", "district check", t0, 4, 72).unwrap();
    let area = SpotArea::District {
        district: "Москва".into(),
    };
    let check = s
        .open_spot_check(
            "anna",
            terms,
            area.clone(),
            entry(t0, "spotcheck.open", "x"),
        )
        .await
        .unwrap();
    assert_eq!(check.area, area);
    let used = s
        .use_spot_check(check.id, "anna", t0, entry(t0, "spotcheck.view", "x"))
        .await
        .unwrap();
    assert_eq!(used.id, check.id);
    let people = s.spot_candidates(&area, t0, 50).await.unwrap();
    assert_eq!(
        people.iter().map(|p| p.person_id).collect::<Vec<_>>(),
        vec![a]
    );
    assert_eq!(people[0].district.as_deref(), Some("Москва"));
    assert_eq!(people[0].address_id.as_deref(), Some("mow-1"));
    assert!(!people[0].overdue);
    // A point and radius: by last trusted position, with the distance.
    let point = SpotArea::Point {
        lat: TVERSKAYA_7.0,
        lon: TVERSKAYA_7.1,
        radius_m: 300.0,
    };
    let near = s.spot_candidates(&point, t0, 50).await.unwrap();
    assert_eq!(near.len(), 1);
    assert!(near[0].distance_m.unwrap() < 1.0);
    // Overdue people are of interest without any signal: a week later
    // everyone's deadline has passed.
    let later = msk("2025-12-03 09:00");
    let overdue = s.spot_candidates(&area, later, 50).await.unwrap();
    assert_eq!(overdue.len(), 2);
    assert!(overdue.iter().all(|p| p.overdue));

    // Outcomes: once per person; only the owner; only while open.
    let rec = s
        .record_spot_outcome(
            check.id,
            a,
            SpotCheckOutcome::Violation,
            Some("no registration document".into()),
            "anna",
            t0,
            entry(t0, "spotcheck.outcome", &format!("person:{a}")),
        )
        .await
        .unwrap();
    assert_eq!(rec.outcome, SpotCheckOutcome::Violation);
    let n = count_audit(&s, "spotcheck.outcome").await;
    assert_eq!(
        console_err(
            s.record_spot_outcome(
                check.id,
                a,
                SpotCheckOutcome::InOrder,
                None,
                "anna",
                t0,
                entry(t0, "spotcheck.outcome", "x"),
            )
            .await
        ),
        ConsoleError::OutcomeRecorded
    );
    assert_eq!(
        console_err(
            s.record_spot_outcome(
                check.id,
                b,
                SpotCheckOutcome::InOrder,
                None,
                "boris",
                t0,
                entry(t0, "spotcheck.outcome", "x"),
            )
            .await
        ),
        ConsoleError::NotCaseOwner
    );
    let expired = t0 + SignedDuration::from_hours(4);
    assert!(matches!(
        console_err(
            s.use_spot_check(
                check.id,
                "anna",
                expired,
                entry(expired, "spotcheck.view", "x")
            )
            .await
        ),
        ConsoleError::CaseExpired(_)
    ));
    assert_eq!(
        count_audit(&s, "spotcheck.outcome").await,
        n,
        "refusals write nothing"
    );
    let outcomes = s.spot_outcomes(check.id).await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(
        outcomes[0].note.as_deref(),
        Some("no registration document")
    );
    let closed = s
        .close_spot_check(check.id, "anna", t0, entry(t0, "spotcheck.close", "x"))
        .await
        .unwrap();
    assert!(closed.closed_at.is_some());
    assert_eq!(
        console_err(
            s.use_spot_check(check.id, "anna", t0, entry(t0, "spotcheck.view", "x"))
                .await
        ),
        ConsoleError::CaseClosed
    );
    let records = s
        .audit_records(AuditQuery {
            action: Some("spotcheck.".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(records
        .iter()
        .all(|r| r.legal_basis.as_deref() == Some("3-FZ art. 13")));
    assert_eq!(
        s.spot_checks_by("anna", 10).await.unwrap().len(),
        1,
        "listed for its officer"
    );
    assert!(verify_store(&*s).await.unwrap().is_ok());
}

async fn admins_disable_enable_and_reset_accounts(h: Harness) {
    let s = h.migrated().await;
    let t0 = msk("2025-11-24 09:00");
    let new = |name: &str, role| NewAccount {
        name: name.into(),
        role,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP".into(),
        created_by: "cli".into(),
    };
    let admin_entry = |action: &str| AuditEntry::new(t0, "root", "admin", action, "account");
    let root = s
        .create_account(new("root", Role::Admin), admin_entry("account.create"))
        .await
        .unwrap();
    let anna = s
        .create_account(
            new("anna", Role::PoliceOfficer),
            admin_entry("account.create"),
        )
        .await
        .unwrap();
    s.login_succeeded(
        anna.id,
        1,
        NewSession {
            id_hash: [7; 32],
            account_id: anna.id,
            csrf_token: "c".into(),
            created_at: t0,
            expires_at: t0 + SignedDuration::from_hours(12),
        },
        admin_entry("login"),
    )
    .await
    .unwrap();
    let idle = SignedDuration::from_mins(30);
    assert!(s.session([7; 32], t0, idle).await.unwrap().is_some());
    let names: Vec<String> = s
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, vec!["anna", "root"]);

    let off = s
        .set_account_disabled(anna.id, true, t0, admin_entry("account.disable"))
        .await
        .unwrap();
    assert!(off.disabled);
    assert!(
        s.session([7; 32], t0, idle).await.unwrap().is_none(),
        "disabling ends the sessions"
    );
    assert_eq!(
        console_err(
            s.set_account_disabled(root.id, true, t0, admin_entry("account.disable"))
                .await
        ),
        ConsoleError::OwnAccount
    );
    let on = s
        .set_account_disabled(anna.id, false, t0, admin_entry("account.enable"))
        .await
        .unwrap();
    assert!(!on.disabled);
    let reset = s
        .reset_totp(
            anna.id,
            "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU",
            t0,
            admin_entry("account.reset_totp"),
        )
        .await
        .unwrap();
    assert_eq!(reset.totp_secret, "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU");
    assert_eq!(reset.totp_last_step, 0);
    assert_eq!(
        console_err(
            s.reset_totp(999, "X", t0, admin_entry("account.reset_totp"))
                .await
        ),
        ConsoleError::UnknownAccount
    );
    for action in ["account.disable", "account.enable", "account.reset_totp"] {
        assert_eq!(count_audit(&s, action).await, 1, "{action}");
    }
    assert!(verify_store(&*s).await.unwrap().is_ok());
}

suite!(
    both: [
        old_fixes_become_daily_summaries_once,
        spot_checks_list_people_of_interest_with_outcomes_once,
        admins_disable_enable_and_reset_accounts,
    ],
    postgres_only: []
);
