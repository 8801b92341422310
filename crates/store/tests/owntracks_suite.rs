//! Storage tests for OwnTracks devices, on both backends (see `common`).

#[macro_use]
mod common;

use amina_domain::reminders::{Checkin, CheckinClient, Permission};
use amina_store::{NewOwnTracksDevice, SecretboxKey};
use common::*;

fn owntracks(id: &str, key: &str) -> NewOwnTracksDevice {
    NewOwnTracksDevice {
        id: id.into(),
        secret_sha256: [id.len() as u8; 32],
        secretbox_key: SecretboxKey::new(key.into()),
        tid: "AM".into(),
        actor: "self".into(),
    }
}

fn checkin(at: Timestamp) -> Checkin {
    Checkin {
        at,
        location: Permission::Granted,
        notifications: Permission::Granted,
        queued_fixes: 0,
        geo_error: None,
        battery_pct: None,
        charging: None,
        network: None,
        client: CheckinClient::OwnTracks,
    }
}

/// Binding an OwnTracks device revokes the app's device (recorded), keeps
/// the app's key as a companion, stores the credentials, takes fixes by
/// (device, seq) like any device; stopping switches back; a rebinding
/// revokes OwnTracks and ends the companion's rights.
async fn owntracks_binds_as_the_one_device_and_keeps_a_companion(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let (pid, _, app) = enrolled_with_device(&s, &m, "OT0000001", t0).await;

    // Unknown person: nothing is written.
    assert!(matches!(
        s.bind_owntracks(pid + 1000, None, owntracks("ot-x", "k"), t0)
            .await,
        Err(StoreError::UnknownPerson)
    ));
    assert_eq!(s.device("ot-x").await.unwrap(), None);

    let t1 = t0 + SignedDuration::from_mins(5);
    let key = "0123456789abcdefghijABCDEFGHIJ01";
    let ot = s
        .bind_owntracks(pid, Some(app.clone()), owntracks("ot-1", key), t1)
        .await
        .expect("bind owntracks");
    assert_eq!(
        (ot.person_id, ot.kind.as_str(), ot.status, ot.bound_at),
        (pid, "owntracks", DeviceStatus::Active, t1)
    );
    assert!(ot.public_key.is_empty());
    let person = s.person(pid).await.unwrap().unwrap();
    assert_eq!(person.active_device_id.as_deref(), Some("ot-1"));
    assert_eq!(
        s.device(&app).await.unwrap().unwrap().status,
        DeviceStatus::Revoked
    );
    assert_eq!(
        s.companion_of(&app).await.unwrap(),
        Some(("ot-1".to_string(), DeviceStatus::Active))
    );
    assert_eq!(s.companion_of("ot-1").await.unwrap(), None);

    let cred = s.owntracks_credential("ot-1").await.unwrap().unwrap();
    assert_eq!(cred.person_id, pid);
    assert_eq!(cred.secret_sha256, [4u8; 32]);
    assert_eq!(cred.secretbox_key.expose(), key);
    assert!(!format!("{cred:?}").contains(key), "the key is redacted");
    assert_eq!(s.owntracks_credential(&app).await.unwrap(), None);

    let events = s.person_events(pid).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.kind, "device_rebound");
    assert_eq!(last.detail["kind"], "owntracks");
    assert_eq!(last.detail["previous_device_id"], app.as_str());
    assert!(events
        .iter()
        .any(|e| e.kind == "device_revoked" && e.detail["device_id"] == app.as_str()));

    // Fixes from OwnTracks are idempotent by (device, seq); the companion
    // cannot report but can check in.
    let f = fix(1_764_000_000, t1, (55.75, 37.61));
    let out = s.ingest(&m, "ot-1", vec![f.clone()], t1).await.unwrap();
    assert_eq!(out.accepted, vec![1_764_000_000]);
    let again = s.ingest(&m, "ot-1", vec![f.clone()], t1).await.unwrap();
    assert_eq!(again.duplicates, vec![1_764_000_000]);
    assert!(matches!(
        s.ingest(&m, &app, vec![fix(2, t1, (55.75, 37.61))], t1)
            .await,
        Err(StoreError::DeviceRevoked)
    ));
    s.record_checkin(&app, checkin(t1))
        .await
        .expect("companion checks in");

    // Binding again (from the companion) revokes the first OwnTracks device.
    let t2 = t1 + SignedDuration::from_mins(5);
    s.bind_owntracks(pid, Some(app.clone()), owntracks("ot-22", key), t2)
        .await
        .unwrap();
    assert_eq!(
        s.owntracks_credential("ot-1")
            .await
            .unwrap()
            .unwrap()
            .status,
        DeviceStatus::Revoked
    );
    assert_eq!(
        s.companion_of(&app).await.unwrap(),
        Some(("ot-22".to_string(), DeviceStatus::Active))
    );

    // Stop: the app's key is active again, OwnTracks revoked; twice is a
    // no-op.
    let t3 = t2 + SignedDuration::from_mins(5);
    let back = s.stop_owntracks(&app, t3).await.unwrap();
    assert_eq!(
        (back.id.as_str(), back.status),
        (app.as_str(), DeviceStatus::Active)
    );
    assert_eq!(back.revoked_at, None);
    assert_eq!(
        s.person(pid).await.unwrap().unwrap().active_device_id,
        Some(app.clone())
    );
    assert_eq!(
        s.device("ot-22").await.unwrap().unwrap().status,
        DeviceStatus::Revoked
    );
    assert_eq!(s.companion_of(&app).await.unwrap(), None);
    let n_events = s.person_events(pid).await.unwrap().len();
    s.stop_owntracks(&app, t3).await.unwrap();
    assert_eq!(s.person_events(pid).await.unwrap().len(), n_events);
    assert!(matches!(
        s.stop_owntracks("nope", t3).await,
        Err(StoreError::UnknownDevice)
    ));

    // OwnTracks once more, then a rebinding with a binding token: OwnTracks
    // is revoked and the companion loses its rights.
    s.bind_owntracks(pid, Some(app.clone()), owntracks("ot-333", key), t3)
        .await
        .unwrap();
    let t4 = t3 + SignedDuration::from_mins(5);
    let tok = token(t4 + SignedDuration::from_mins(15), "self");
    let hash = tok.hash;
    s.enrol(&m, &number("OT0000001"), tok, t4).await.unwrap();
    s.bind_device(hash, device("dev-new", "self"), t4)
        .await
        .unwrap();
    assert_eq!(
        s.companion_of(&app).await.unwrap(),
        Some(("ot-333".to_string(), DeviceStatus::Revoked))
    );
    assert!(matches!(
        s.stop_owntracks(&app, t4).await,
        Err(StoreError::DeviceRevoked)
    ));
    assert!(matches!(
        s.record_checkin(&app, checkin(t4)).await,
        Err(StoreError::DeviceRevoked)
    ));
}

suite!(
    both: [owntracks_binds_as_the_one_device_and_keeps_a_companion],
    postgres_only: []
);
