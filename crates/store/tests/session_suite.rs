//! Storage tests for device sessions, on both backends (see `common`).

#[macro_use]
mod common;

use amina_store::NewDeviceSession;
use common::*;

fn session(id: &str, device_id: &str, at: Timestamp, hours: i64) -> NewDeviceSession {
    NewDeviceSession {
        id: id.into(),
        device_id: device_id.into(),
        mac_key: vec![id.len() as u8; 32],
        created_at: at,
        expires_at: at + SignedDuration::from_hours(hours),
    }
}

/// A session is stored for a known device only, read back with its
/// person and key (never shown by `Debug`), and deleted only once expired.
async fn sessions_are_stored_read_and_purged_when_expired(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let t0 = msk("2025-11-24 10:00");
    let (pid, _, device) = enrolled_with_device(&s, &m, "SS0000001", t0).await;

    assert!(matches!(
        s.insert_device_session(session("ds_x", "dv_nobody", t0, 24))
            .await,
        Err(StoreError::UnknownDevice)
    ));
    assert_eq!(s.device_session("ds_x").await.unwrap(), None);

    let short = s
        .insert_device_session(session("ds_short", &device, t0, 1))
        .await
        .expect("stored");
    assert_eq!(
        (short.person_id, short.device_id.as_str(), short.created_at),
        (pid, device.as_str(), t0)
    );
    assert_eq!(short.mac_key, vec![8u8; 32]);
    assert!(
        !format!("{short:?}").contains("8, 8"),
        "the key is redacted"
    );
    let long = s
        .insert_device_session(session("ds_long1", &device, t0, 24))
        .await
        .expect("stored");
    assert_eq!(s.device_session("ds_long1").await.unwrap(), Some(long));

    // At the expiry instant a session is not yet purged; after it, it is.
    assert_eq!(
        s.purge_device_sessions(t0 + SignedDuration::from_hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.purge_device_sessions(t0 + SignedDuration::from_mins(61))
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.device_session("ds_short").await.unwrap(), None);
    assert!(s.device_session("ds_long1").await.unwrap().is_some());
}

suite!(
    both: [sessions_are_stored_read_and_purged_when_expired],
    postgres_only: []
);
