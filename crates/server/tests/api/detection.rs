//! Device churn through the real HTTP server on both backends (the
//! `TestApp` harness of `api.rs`): a lost phone replaced twice, the old one
//! still signing uploads. The server refuses those uploads and records them;
//! the daily detection job then raises one `device_churn` signal with both
//! reasons in its evidence.

use amina_domain::detection::daily::DailyParams;
use amina_domain::signal::{SignalKind, SignalSubject};
use amina_server::detection_job::run_for_day;
use amina_store::SignalQuery;

use super::*;

on_both_backends!(a_revoked_phone_still_uploading_is_device_churn);

async fn a_revoked_phone_still_uploading_is_device_churn(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-10T08:00:00")).await else {
        return;
    };
    let first = app.enrolled_phone("AB0000001", "secret-one").await;
    app.advance(SignedDuration::from_mins(5));
    first
        .upload(&[fix(1, KREMLIN.0, KREMLIN.1, 10.0, app.clock.now())])
        .await
        .unwrap();
    let params = DailyParams::default();
    let day = amina_domain::time::moscow_date(app.clock.now());
    let calendar = app.state.monitor.calendar.clone();
    let store = app.state.store.clone();
    let run = |now: Timestamp| {
        let (store, calendar) = (store.clone(), calendar.clone());
        async move { run_for_day(&store, &calendar, day, &params, now).await }
    };
    let next_morning = moscow("2025-11-11T08:00:00");
    // One phone, one binding: nothing.
    assert_eq!(run(next_morning).await.unwrap().churn, 0);

    // A second phone (the first is revoked), and the first keeps signing.
    app.advance(SignedDuration::from_mins(30));
    let second = app.enrolled_phone("AB0000001", "secret-one").await;
    for seq in 2..4 {
        let r = first
            .upload(&[fix(seq, KREMLIN.0, KREMLIN.1, 10.0, app.clock.now())])
            .await;
        assert_eq!(api_code(r), (403, "device_revoked".into()));
    }
    second
        .upload(&[fix(1, KREMLIN.0, KREMLIN.1, 10.0, app.clock.now())])
        .await
        .unwrap();
    // A third phone the same day.
    app.advance(SignedDuration::from_mins(30));
    let _third = app.enrolled_phone("AB0000001", "secret-one").await;

    // The job was already run for the day (a rerun after new events, or
    // the first run the next morning): the churn is found once.
    let report = run(next_morning + SignedDuration::from_mins(1))
        .await
        .unwrap();
    assert_eq!(report.churn, 1, "{report:?}");
    assert_eq!(
        run(next_morning + SignedDuration::from_mins(2))
            .await
            .unwrap()
            .churn,
        0
    );
    let number = amina_domain::types::CardNumber::parse("AB0000001").unwrap();
    let person = app
        .state
        .store
        .person_by_card(&number)
        .await
        .unwrap()
        .unwrap()
        .person_id;
    let found = app
        .state
        .store
        .signals(SignalQuery {
            kind: Some(SignalKind::DeviceChurn),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].subject, SignalSubject::Person(person));
    assert_eq!(found[0].dedup_key, "2025-W46");
    let e = &found[0].evidence;
    assert_eq!(e["bindings_in_window"], 3, "{e}");
    assert_eq!(e["revoked_device_uploads"], 2, "{e}");
    assert_eq!(
        e["revoked_devices"].as_array().map(Vec::len),
        Some(1),
        "{e}"
    );
    assert!(found[0]
        .explanation
        .contains("2 uploads signed by a revoked device"));
}
