//! Storage tests for host parties: accounts with properties, who is
//! registered at them, children's arrival notices and disputes, on both
//! backends (see `common`). Every change is audited in its transaction; a
//! refusal writes nothing, audit included.

#[macro_use]
mod common;

use amina_domain::console::Role;
use amina_domain::host::IdentityDocument;
use amina_domain::signal::{SignalKind, SignalStatus, SignalSubject};
use amina_domain::stay::{Address, AddressId, NoticeRules};
use amina_store::{
    AuditEntry, AuditQuery, HostError, NewAccount, NewChildNotice, NewHostParty, NewNotice,
    SignalQuery, SignalReview, StoreError,
};
use common::*;
use jiff::civil::{date, Date};

const TVERSKAYA_7: (f64, f64) = (55.7579, 37.6112);
const MIRA: (f64, f64) = (55.7810, 37.6335);

fn address(id: &str, at: (f64, f64), residential: bool) -> Address {
    Address {
        id: AddressId::parse(id).expect("valid id"),
        region: "RU-MOW".into(),
        municipality: "Москва".into(),
        street: "улица Тверская".into(),
        house: "7".into(),
        flat: Some(id.into()),
        residential,
        position: Coordinates::parse(at.0, at.1).expect("valid position"),
    }
}

fn id(s: &str) -> AddressId {
    AddressId::parse(s).unwrap()
}

fn account(name: &str) -> NewAccount {
    NewAccount {
        name: name.into(),
        role: Role::HostParty,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret: "JBSWY3DPEHPK3PXP".into(),
        created_by: "mila".into(),
    }
}

fn audit(at: Timestamp, action: &str) -> AuditEntry {
    AuditEntry::new(at, "mila", "migration_officer", action, "x")
}

fn child(host: i64, parent: &str, birth: Date, arrival: Date, address: &str) -> NewChildNotice {
    NewChildNotice {
        host_account_id: host,
        parent_card: number(parent),
        name: "Каримова Зарина".into(),
        birth_date: birth,
        citizenship: amina_domain::types::Citizenship::parse("UZB").unwrap(),
        document: IdentityDocument::parse("FA1234567").unwrap(),
        address_id: id(address),
        arrival_date: arrival,
    }
}

fn host_refusal<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Err(StoreError::Host(e)) => e.code().to_string(),
        other => panic!("expected a host refusal, got {other:?}"),
    }
}

async fn audit_len(s: &SharedStore) -> usize {
    s.audit_records(AuditQuery {
        limit: 10_000,
        ..Default::default()
    })
    .await
    .unwrap()
    .len()
}

/// An account, its properties, who lives there, a child's notice and a
/// dispute, with the refusals in between changing nothing.
async fn host_party_lifecycle(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-20 09:00");
    s.import_addresses(
        vec![
            address("h-1", TVERSKAYA_7, true),
            address("h-2", MIRA, true),
            address("office", TVERSKAYA_7, false),
            address("other", MIRA, true),
        ],
        t0,
    )
    .await
    .unwrap();

    // Creating: an unknown property refuses the whole account.
    let before = audit_len(&s).await;
    let bad = s
        .create_host_party(
            account("landlord"),
            NewHostParty {
                full_name: "Иванов Иван".into(),
                document: IdentityDocument::parse("4510 123456").unwrap(),
                properties: vec![id("h-1"), id("nowhere")],
            },
            audit(t0, "host_party.create"),
        )
        .await;
    assert_eq!(host_refusal(bad), "unknown_property");
    assert!(s.account_by_name("landlord").await.unwrap().is_none());
    assert_eq!(audit_len(&s).await, before, "a refusal is not audited");

    let host = s
        .create_host_party(
            account("landlord"),
            NewHostParty {
                full_name: "Иванов Иван".into(),
                document: IdentityDocument::parse("4510 123456").unwrap(),
                properties: vec![id("h-1"), id("office")],
            },
            audit(t0, "host_party.create"),
        )
        .await
        .unwrap();
    assert_eq!(host.full_name, "Иванов Иван");
    assert_eq!(host.properties.len(), 2);
    let acc = s.account_by_name("landlord").await.unwrap().unwrap();
    assert_eq!((acc.id, acc.role), (host.account_id, Role::HostParty));
    // One account per document; the name is unique too.
    let again = s
        .create_host_party(
            account("landlord-2"),
            NewHostParty {
                full_name: "Иванов Иван".into(),
                document: IdentityDocument::parse("4510 123456").unwrap(),
                properties: vec![],
            },
            audit(t0, "host_party.create"),
        )
        .await;
    assert_eq!(host_refusal(again), "host_party_exists");
    assert!(s.account_by_name("landlord-2").await.unwrap().is_none());

    // Properties are replaced, audited with before and after.
    let host = s
        .set_host_properties(
            host.account_id,
            vec![id("h-1"), id("h-2"), id("office")],
            audit(t0, "host_party.properties"),
        )
        .await
        .unwrap();
    let ids: Vec<&str> = host.properties.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["h-1", "h-2", "office"]);
    let rec = s
        .audit_records(AuditQuery {
            action: Some("host_party.properties".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&rec[0].detail).unwrap()["before"],
        serde_json::json!(["h-1", "office"])
    );
    assert_eq!(
        host_refusal(
            s.set_host_properties(999, vec![], audit(t0, "host_party.properties"))
                .await
        ),
        "unknown_host_party"
    );
    assert_eq!(s.host_parties(10).await.unwrap().len(), 1);

    // Two tenants: one at h-1, one elsewhere.
    let (p1, _, _) = enrolled_with_device(&s, &m, "AB0000001", t0).await;
    let (p2, _, _) = enrolled_with_device(&s, &m, "AB0000002", t0).await;
    let rules = NoticeRules { max_days_ahead: 7 };
    let fence = m.geofence.clone();
    let n1 = s
        .submit_notice(
            rules,
            fence.clone(),
            NewNotice {
                person_id: p1,
                address_id: id("h-1"),
                date_from: date(2025, 11, 20),
                host_name: None,
            },
            t0,
        )
        .await
        .unwrap()
        .notice;
    let n2 = s
        .submit_notice(
            rules,
            fence.clone(),
            NewNotice {
                person_id: p2,
                address_id: id("other"),
                date_from: date(2025, 11, 20),
                host_name: None,
            },
            t0,
        )
        .await
        .unwrap()
        .notice;
    let tenants = s.host_tenants(host.account_id).await.unwrap();
    assert_eq!(tenants.len(), 1, "{tenants:?}");
    assert_eq!(tenants[0].notice_id, n1.id);
    assert_eq!(tenants[0].card_masked, "AB••••001");
    assert_eq!(tenants[0].since, date(2025, 11, 20));
    assert!(!tenants[0].disputed);

    // A child: refusals first, each changing nothing.
    let t1 = msk("2025-11-25 10:00");
    let before = audit_len(&s).await;
    let cases: Vec<(NewChildNotice, &str)> = vec![
        (
            child(
                host.account_id,
                "AB0000001",
                date(2007, 11, 1),
                date(2025, 11, 24),
                "h-1",
            ),
            "child_not_minor",
        ),
        (
            child(
                host.account_id,
                "ZZ9999999",
                date(2015, 1, 1),
                date(2025, 11, 24),
                "h-1",
            ),
            "parent_not_registered",
        ),
        (
            child(
                host.account_id,
                "AB0000001",
                date(2015, 1, 1),
                date(2025, 11, 24),
                "other",
            ),
            "address_not_yours",
        ),
        (
            child(
                host.account_id,
                "AB0000001",
                date(2015, 1, 1),
                date(2025, 11, 24),
                "office",
            ),
            "address_not_residential",
        ),
        (
            child(
                host.account_id,
                "AB0000001",
                date(2015, 1, 1),
                date(2025, 11, 19),
                "h-1",
            ),
            "date_before_registration",
        ),
        (
            child(
                host.account_id,
                "AB0000001",
                date(2015, 1, 1),
                date(2025, 12, 3),
                "h-1",
            ),
            "date_too_far_ahead",
        ),
    ];
    for (n, code) in cases {
        let r = s
            .file_child_notice(rules, fence.clone(), n, t1, audit(t1, "host.child_notice"))
            .await;
        assert_eq!(host_refusal(r), code);
    }
    assert_eq!(audit_len(&s).await, before);
    assert!(s.child_notices_of_parent(p1).await.unwrap().is_empty());

    let ok = s
        .file_child_notice(
            rules,
            fence.clone(),
            child(
                host.account_id,
                "AB0000001",
                date(2015, 1, 1),
                date(2025, 11, 24),
                "h-1",
            ),
            t1,
            audit(t1, "host.child_notice"),
        )
        .await
        .unwrap();
    assert!(ok.created);
    assert_eq!(ok.notice.parent_person_id, p1);
    assert_eq!(ok.notice.parent_card_masked, "AB••••001");
    assert_eq!(ok.notice.document, "FA1234567");
    // The same notice again is a retry.
    let retry = s
        .file_child_notice(
            rules,
            fence.clone(),
            child(
                host.account_id,
                "AB0000001",
                date(2015, 1, 1),
                date(2025, 11, 24),
                "h-1",
            ),
            t1,
            audit(t1, "host.child_notice"),
        )
        .await
        .unwrap();
    assert!(!retry.created);
    assert_eq!(retry.notice.id, ok.notice.id);
    // The same child for another parent is refused.
    let other_parent = s
        .file_child_notice(
            rules,
            fence.clone(),
            child(
                host.account_id,
                "AB0000002",
                date(2015, 1, 1),
                date(2025, 11, 24),
                "h-1",
            ),
            t1,
            audit(t1, "host.child_notice"),
        )
        .await;
    assert_eq!(host_refusal(other_parent), "child_linked_to_other_parent");
    // A move to the second property supersedes the first notice.
    let moved = s
        .file_child_notice(
            rules,
            fence.clone(),
            child(
                host.account_id,
                "AB0000001",
                date(2015, 1, 1),
                date(2025, 11, 25),
                "h-2",
            ),
            t1,
            audit(t1, "host.child_notice"),
        )
        .await
        .unwrap();
    assert!(moved.created);
    let of_parent = s.child_notices_of_parent(p1).await.unwrap();
    assert_eq!(of_parent.len(), 2);
    assert_eq!(
        (
            of_parent[0].id,
            of_parent[0].in_force,
            of_parent[1].in_force
        ),
        (moved.notice.id, true, false)
    );
    assert_eq!(
        s.child_notices_by_host(host.account_id)
            .await
            .unwrap()
            .len(),
        2
    );
    let events = s.person_events(p1).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == "child_arrival_notice")
            .count(),
        2
    );
    let rec = s
        .audit_records(AuditQuery {
            action: Some("host.child_notice".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rec.len(), 2);
    assert_eq!(rec[0].subject, format!("person:{p1}"));

    // A dispute: not for a person registered elsewhere; once while open.
    let t2 = msk("2025-11-25 11:00");
    assert_eq!(
        host_refusal(
            s.dispute_registration(
                host.account_id,
                n2.id,
                "x".into(),
                t2,
                audit(t2, "host.dispute")
            )
            .await
        ),
        "not_your_tenant"
    );
    let raised = s
        .dispute_registration(
            host.account_id,
            n1.id,
            "Never lived here; the flat is empty.".into(),
            t2,
            audit(t2, "host.dispute"),
        )
        .await
        .unwrap();
    assert!(raised.created);
    let sig = s.signal(raised.id).await.unwrap().unwrap();
    assert_eq!(sig.kind, SignalKind::AddressDisputed);
    assert_eq!(sig.subject, SignalSubject::Person(p1));
    assert_eq!(sig.evidence["address_id"], "h-1");
    assert_eq!(sig.evidence["host_party_account_id"], host.account_id);
    assert_eq!(
        sig.evidence["statement"],
        "Never lived here; the flat is empty."
    );
    assert_eq!(sig.evidence["date"], "2025-11-25");
    assert!(s.host_tenants(host.account_id).await.unwrap()[0].disputed);
    let again = s
        .dispute_registration(
            host.account_id,
            n1.id,
            "again".into(),
            t2 + SignedDuration::from_mins(1),
            audit(t2, "host.dispute"),
        )
        .await;
    assert_eq!(
        again.unwrap_err().to_string(),
        StoreError::Host(HostError::DisputeOpen).to_string()
    );
    // Once decided, a new dispute is a new signal.
    s.review_signal(SignalReview {
        signal_id: raised.id,
        to: SignalStatus::Dismissed,
        actor: "mila".into(),
        reason: Some("the tenant was at work; checked".into()),
        at: t2,
    })
    .await
    .unwrap();
    let later = s
        .dispute_registration(
            host.account_id,
            n1.id,
            "still not here".into(),
            t2 + SignedDuration::from_hours(24),
            audit(t2, "host.dispute"),
        )
        .await
        .unwrap();
    assert_ne!(later.id, raised.id);
    let all = s
        .signals(SignalQuery {
            person_id: Some(p1),
            kind: Some(SignalKind::AddressDisputed),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        amina_store::audit::verify_store(&*s)
            .await
            .unwrap()
            .map(|_| ()),
        Ok(())
    );
}

suite!(both: [host_party_lifecycle], postgres_only: []);
