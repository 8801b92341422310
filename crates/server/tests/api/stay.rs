//! Place-of-stay notices, "my data" and enrolment with one-time codes,
//! through the real HTTP server on both backends (the `TestApp` harness of
//! `api.rs`). Every refusal is checked to leave the database as it was.

use amina_client::proto::EnrolResponse;
use amina_client::stay::NoticeResponse;
use amina_domain::enrolment_code::EnrolmentCode;
use amina_domain::signal::{SignalKind, SignalSubject};
use amina_domain::stay::{Address, AddressId};
use amina_domain::types::{CardNumber, Coordinates};
use amina_server::addresses::parse_addresses;

use super::*;

const DEMO_ADDRESSES: &str = include_str!("../../../../data/demo/addresses.csv");

on_both_backends!(
    notices_through_the_api,
    bad_notices_are_refused_and_change_nothing,
    enrolment_codes_work_once_and_expire,
    rebinding_with_a_code_revokes_the_lost_phone,
    my_data_shows_what_is_held,
);

impl TestApp {
    /// The demo register, plus one address in Tver stored as if imported
    /// under another configuration (the import itself refuses it).
    async fn import_addresses(&self) {
        let parsed = parse_addresses(DEMO_ADDRESSES.as_bytes(), &self.state.monitor.geofence)
            .expect("demo addresses parse");
        let mut all = parsed.accepted;
        all.push(Address {
            id: AddressId::parse("foreign-tver-1").unwrap(),
            region: "RU-TVE".into(),
            municipality: "Тверь".into(),
            street: "улица Советская".into(),
            house: "10".into(),
            flat: Some("3".into()),
            residential: true,
            position: Coordinates::parse(TVER.0, TVER.1).unwrap(),
        });
        self.state
            .store
            .import_addresses(all, self.clock.now())
            .await
            .expect("import addresses");
    }

    async fn person_id(&self, card: &str) -> i64 {
        self.state
            .store
            .person_by_card(&CardNumber::parse(card).unwrap())
            .await
            .unwrap()
            .unwrap()
            .person_id
    }

    /// Notices and events of a person: what a refusal must not change.
    async fn footprint(&self, card: &str) -> (usize, usize) {
        let id = self.person_id(card).await;
        (
            self.state.store.notices(id).await.unwrap().len(),
            self.state.store.person_events(id).await.unwrap().len(),
        )
    }
}

async fn notices_through_the_api(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-24T10:00:00")).await else {
        return;
    };
    app.import_addresses().await;
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;

    let found = phone.search_addresses("ул. Тверская, д. 19").await.unwrap();
    let ids: Vec<_> = found.addresses.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, vec!["demo-mow-0001", "demo-mow-0002"]);
    assert!(!found.more);
    assert_eq!(found.addresses[0].flat.as_deref(), Some("12"));
    let office = phone.search_addresses("тверская 7").await.unwrap();
    assert_eq!(office.addresses.len(), 1);
    assert!(!office.addresses[0].residential);
    assert_eq!(
        api_code(phone.search_addresses("ул. д").await),
        (422, "query_too_short".into())
    );

    let first = phone
        .notify_stay("demo-mow-0001", "2025-11-24", None)
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.notice.state, "current");
    assert_eq!(first.notice.date_from.date, "2025-11-24");
    assert_eq!(first.notice.date_from.text["ru"], "24 ноября 2025 г.");
    assert_eq!(first.notice.date_from.text["en"], "24 November 2025");
    // A retry: the same notice, nothing new.
    let again = phone
        .notify_stay("demo-mow-0001", "2025-11-24", None)
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.notice.id, first.notice.id);

    // The status carries the place of stay.
    let status = phone.status().await.unwrap();
    let place = status.place_of_stay.expect("a place of stay in the status");
    assert_eq!(place.address.street, "улица Тверская");
    assert_eq!(place.address.house, "19");

    // A move to the oblast, with a host party.
    app.advance(SignedDuration::from_hours(30));
    let moved = phone
        .notify_stay("demo-mos-0001", "2025-11-26", Some("  Иванова Мария  "))
        .await
        .unwrap();
    assert_eq!(moved.superseded, Some(first.notice.id));
    let list = phone.notices().await.unwrap();
    let states: Vec<_> = list
        .notices
        .iter()
        .map(|n| (n.address.id.as_str(), n.state.as_str()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("demo-mos-0001", "current"),
            ("demo-mow-0001", "superseded")
        ]
    );
    let current = list.current.unwrap();
    assert_eq!(current.host_name.as_deref(), Some("Иванова Мария"));
    assert_eq!(current.address.municipality, "городской округ Химки");
    // Today is 25 Nov in Moscow: up to 7 days ahead, not before the notice in force.
    assert_eq!(list.date_min.as_deref(), Some("2025-11-26"));
    assert_eq!(list.date_max.as_deref(), Some("2025-12-02"));
    let events: Vec<_> = app
        .state
        .store
        .person_events(app.person_id("AB0000001").await)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "stay_notice")
        .collect();
    assert_eq!(events.len(), 2, "one person event per accepted notice");
}

async fn bad_notices_are_refused_and_change_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-24T10:00:00")).await else {
        return;
    };
    app.import_addresses().await;
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    phone
        .notify_stay("demo-mow-0004", "2025-11-24", None)
        .await
        .unwrap();
    let before = app.footprint("AB0000001").await;

    let cases: Vec<(Result<NoticeResponse, ClientError>, u16, &str)> = vec![
        (
            phone.notify_stay("demo-mow-0003", "2025-11-25", None).await,
            422,
            "address_not_residential",
        ),
        (
            phone
                .notify_stay("foreign-tver-1", "2025-11-25", None)
                .await,
            422,
            "address_outside_region",
        ),
        (
            phone
                .notify_stay("no-such-address", "2025-11-25", None)
                .await,
            404,
            "unknown_address",
        ),
        (
            phone.notify_stay("bad id!", "2025-11-25", None).await,
            422,
            "invalid_address_id",
        ),
        (
            phone.notify_stay("demo-mow-0005", "25.11.2025", None).await,
            422,
            "invalid_date",
        ),
        (
            phone.notify_stay("demo-mow-0005", "2025-12-31", None).await,
            422,
            "date_too_far_ahead",
        ),
        (
            phone.notify_stay("demo-mow-0005", "2025-11-20", None).await,
            422,
            "date_before_registration",
        ),
        (
            phone
                .notify_stay("demo-mow-0005", "2025-11-25", Some(&"я".repeat(201)))
                .await,
            422,
            "invalid_host_name",
        ),
        (
            phone.notify_stay_raw(b"{\"address_id\": ").await,
            400,
            "malformed_json",
        ),
        (
            phone
                .notify_stay_raw(
                    br#"{"address_id":"demo-mow-0005","date_from":"2025-11-25","flat":"1"}"#,
                )
                .await,
            400,
            "unknown_field",
        ),
    ];
    for (result, status, code) in cases {
        assert_eq!(api_code(result), (status, code.to_string()));
        assert_eq!(
            app.footprint("AB0000001").await,
            before,
            "{code} changed something"
        );
    }
    let detail = match phone.notify_stay("demo-mow-0005", "2025-12-31", None).await {
        Err(ClientError::Api { body, .. }) => body.detail.unwrap(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(detail["latest"], "2025-12-01");

    // After the deadline has passed, no notice (the registration lapsed).
    app.clock.set(moscow("2025-11-28T09:00:00"));
    assert_eq!(
        api_code(phone.notify_stay("demo-mow-0005", "2025-11-28", None).await),
        (409, "not_registered".into())
    );
    assert_eq!(app.footprint("AB0000001").await, before);
}

async fn enrolment_codes_work_once_and_expire(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-24T10:00:00")).await else {
        return;
    };
    let store = &app.state.store;
    let ttl = SignedDuration::from_mins(10);
    let issued = store
        .issue_enrolment_code(
            &CardNumber::parse("AB0000002").unwrap(),
            "sakharovo-3",
            ttl,
            app.clock.now(),
        )
        .await
        .unwrap();
    let before = store.counts().await.unwrap();
    let unknown = app.phone();
    assert_eq!(
        api_code(unknown.enrol_with_code("00000-00000").await),
        (404, "enrolment_code_unknown".into())
    );
    assert_eq!(
        api_code(unknown.enrol_with_code("not a code").await),
        (422, "invalid_enrolment_code".into())
    );
    let mixed: Result<EnrolResponse, ClientError> = unknown
        .post_json(
            "/v1/enrolments",
            &serde_json::json!({"code": issued.code.display(), "card_number": "AB0000002"}),
        )
        .await;
    assert_eq!(api_code(mixed), (400, "unknown_field".into()));
    assert_eq!(store.counts().await.unwrap(), before);

    // As the camera delivers it: lower case is fine.
    app.advance(SignedDuration::from_mins(2));
    let mut phone = app.phone();
    let bound = phone
        .enrol_with_code_and_bind(&issued.code.display().to_lowercase())
        .await
        .unwrap();
    assert!(bound.status.registered);
    let after = store.counts().await.unwrap();
    assert_eq!(after.active_devices, before.active_devices + 1);

    // Used: a second phone gets a clear reason and nothing changes.
    let second = app.phone();
    assert_eq!(
        api_code(second.enrol_with_code(&issued.code.display()).await),
        (409, "enrolment_code_used".into())
    );
    assert_eq!(store.counts().await.unwrap(), after);

    // Expired: 10 minutes and a second after issue.
    let other = store
        .issue_enrolment_code(
            &CardNumber::parse("AB0000001").unwrap(),
            "sakharovo-3",
            ttl,
            app.clock.now(),
        )
        .await
        .unwrap();
    app.advance(ttl + SignedDuration::from_secs(1));
    assert_eq!(
        api_code(second.enrol_with_code(other.code.as_str()).await),
        (410, "enrolment_code_expired".into())
    );
    assert!(store
        .person_by_card(&CardNumber::parse("AB0000001").unwrap())
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.counts().await.unwrap(), after);

    // An expired card gets no code.
    let r = store
        .issue_enrolment_code(
            &CardNumber::parse("AB0000003").unwrap(),
            "sakharovo-3",
            ttl,
            app.clock.now(),
        )
        .await;
    assert!(matches!(
        r,
        Err(amina_store::StoreError::Stay(
            amina_store::StayError::CardExpired { .. }
        ))
    ));
    let _ = EnrolmentCode::parse(&issued.code.display()).unwrap();
}

async fn rebinding_with_a_code_revokes_the_lost_phone(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-24T10:00:00")).await else {
        return;
    };
    let lost = app.enrolled_phone("AB0000001", "secret-one").await;
    app.advance(SignedDuration::from_mins(5));
    lost.upload(&[fix(1, KREMLIN.0, KREMLIN.1, 10.0, app.clock.now())])
        .await
        .unwrap();
    app.advance(SignedDuration::from_hours(20));
    let issued = app
        .state
        .store
        .issue_enrolment_code(
            &CardNumber::parse("AB0000001").unwrap(),
            "sakharovo-1",
            SignedDuration::from_mins(10),
            app.clock.now(),
        )
        .await
        .unwrap();
    let mut new_phone = app.phone();
    let bound = new_phone
        .enrol_with_code_and_bind(&issued.code.display())
        .await
        .unwrap();
    assert!(bound.status.registered);
    assert_eq!(
        bound.status.last_monitoring_at.as_deref(),
        Some("2025-11-24T07:05:00Z"),
        "the same registration goes on"
    );
    app.advance(SignedDuration::from_mins(1));
    assert_eq!(
        api_code(
            lost.upload(&[fix(2, KREMLIN.0, KREMLIN.1, 10.0, app.clock.now())])
                .await
        ),
        (403, "device_revoked".into())
    );
    assert_eq!(
        api_code(lost.my_data().await),
        (403, "device_revoked".into())
    );
    new_phone
        .upload(&[fix(1, KREMLIN.0, KREMLIN.1, 10.0, app.clock.now())])
        .await
        .unwrap();
    let data = new_phone.my_data().await.unwrap();
    let devices: Vec<_> = data
        .devices
        .iter()
        .map(|d| (d.status.as_str(), d.this_device))
        .collect();
    assert_eq!(devices, vec![("revoked", false), ("active", true)]);
}

async fn my_data_shows_what_is_held(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-24T10:00:00")).await else {
        return;
    };
    app.import_addresses().await;
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    app.advance(SignedDuration::from_mins(5));
    phone
        .upload(&[
            fix(1, KREMLIN.0, KREMLIN.1, 10.0, moscow("2025-11-24T10:01:00")),
            fix(2, KREMLIN.0, KREMLIN.1, 10.0, moscow("2025-11-24T10:04:00")),
        ])
        .await
        .unwrap();
    phone
        .notify_stay("demo-mow-0007", "2025-11-24", None)
        .await
        .unwrap();
    let pid = app.person_id("AB0000001").await;
    app.state
        .store
        .raise_signal(amina_store::NewSignal {
            kind: SignalKind::OutsideRegion,
            subject: SignalSubject::Person(pid),
            dedup_key: "left-1".into(),
            raised_at: app.clock.now(),
            score: None,
            explanation: "trusted position outside the pilot region".into(),
            evidence: serde_json::json!({}),
        })
        .await
        .unwrap();

    let data = phone.my_data().await.unwrap();
    assert_eq!(data.identity.card_number, "AB0000001");
    assert_eq!(data.identity.name_cyrillic, "Алишер Каримов");
    assert_eq!(data.identity.citizenship, "UZB");
    assert_eq!(data.identity.birth_date.text["en"], "12 March 1994");
    assert_eq!(data.identity.card_valid_until.date, "2030-12-31");
    assert_eq!(data.registrations.len(), 1);
    assert_eq!(data.registrations[0].started.date, "2025-11-24");
    assert!(data.registrations[0].ended.is_none());
    assert_eq!(data.devices.len(), 1);
    assert!(data.devices[0].this_device);
    assert_eq!(data.notices.len(), 1);
    assert_eq!(data.notices[0].address.street, "улица Профсоюзная");
    assert_eq!(data.fixes.count, 2);
    assert_eq!(data.fixes.first.as_ref().unwrap().date, "2025-11-24");
    assert_eq!(data.fixes.retention_days, 90);
    // Retention is on by default: the scheduler reduces old fixes to daily summaries.
    assert!(data.fixes.retention_enforced);
    assert_eq!(data.signals.len(), 1);
    assert_eq!(data.signals[0].kind, "outside_region");
    assert_eq!(data.signals[0].status, "open");
    // Accesses come from the audit trail: none yet, and the app can say so.
    assert!(data.accesses.audit_available);
    assert!(data.accesses.entries.is_empty());
    // Officers' explanations are for officers: the person sees the kind.
    let raw: serde_json::Value = serde_json::to_value(&data).unwrap();
    assert!(!raw.to_string().contains("trusted position"));

    // A police officer reads the location inside a case: the person sees
    // it, with the role and the legal basis (not the officer's name).
    app.state
        .store
        .append_audit(
            amina_store::AuditEntry::new(
                app.clock.now(),
                "officer-17",
                "police_officer",
                "case.location",
                format!("person:{pid}"),
            )
            .case(1, "121-FZ art. 5"),
        )
        .await
        .unwrap();
    let data = phone.my_data().await.unwrap();
    assert_eq!(data.accesses.entries.len(), 1);
    let a = &data.accesses.entries[0];
    assert_eq!(a["role"], "police_officer");
    assert_eq!(a["kind"], "location");
    assert_eq!(a["legal_basis"], "121-FZ art. 5");
    assert_eq!(a["on"]["date"], "2025-11-24");
    assert!(!a.to_string().contains("officer-17"));

    let doc: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in ["/v1/addresses", "/v1/notices", "/v1/me/data"] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
}
