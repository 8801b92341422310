//! Storage tests for Web Push and check-ins, on both backends (see `common`).

#[macro_use]
mod common;

use amina_domain::reminders::{
    Checkin, CheckinClient, GeoError, Network, Notice, Permission, PushRules,
};
use amina_store::{
    DeliveryOutcome, DeliveryReport, NewSubscription, OutboxState, SubscriptionStatus, VapidKeys,
};
use common::*;

fn keys(tag: u8, at: Timestamp) -> VapidKeys {
    VapidKeys {
        private_pkcs8: vec![tag; 138],
        public_key: vec![4; 65],
        created_at: at,
    }
}

fn sub(endpoint: &str, lang: &str) -> NewSubscription {
    NewSubscription {
        endpoint: endpoint.into(),
        p256dh: vec![4; 65],
        auth: vec![9; 16],
        lang: lang.into(),
    }
}

fn checkin(at: Timestamp, location: Permission, queued: u32) -> Checkin {
    Checkin {
        at,
        location,
        notifications: Permission::Granted,
        queued_fixes: queued,
        geo_error: (location == Permission::Denied).then_some(GeoError::PermissionDenied),
        battery_pct: Some(55),
        charging: None,
        network: None,
        client: CheckinClient::App,
    }
}

const LEASE: SignedDuration = SignedDuration::from_mins(5);

async fn vapid_keys_are_created_once(h: Harness) {
    let s = h.migrated().await;
    let at = msk("2025-11-24 10:00");
    let first = s.vapid_keys(keys(1, at)).await.unwrap();
    assert_eq!(first.private_pkcs8, vec![1; 138]);
    // Another node starting later with its own candidate gets the stored key.
    let other = h.another_store().await;
    let second = other
        .vapid_keys(keys(2, at + SignedDuration::from_hours(1)))
        .await
        .unwrap();
    assert_eq!(second, first);
    assert!(
        !format!("{second:?}").contains("1, 1, 1"),
        "private key in Debug"
    );
}

async fn subscriptions_belong_to_the_active_device(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "UZ2000001", at).await;
    assert!(s.subscription(pid).await.unwrap().is_none());

    let r = s
        .put_subscription(&dev, sub("https://push.example/a", "uz"), at)
        .await
        .unwrap();
    assert_eq!(r.person_id, pid);
    assert_eq!(r.status, SubscriptionStatus::Active);
    assert_eq!(r.subscribed_at, at);
    assert_eq!(r.next_check_at, Some(at), "looked at at the next run");
    assert_eq!((r.p256dh.len(), r.auth.len()), (65, 16));

    // The app re-sends the same subscription on every start: it keeps its
    // first time; a language change is taken.
    let later = at + SignedDuration::from_hours(2);
    let again = s
        .put_subscription(&dev, sub("https://push.example/a", "ru"), later)
        .await
        .unwrap();
    assert_eq!(again.subscribed_at, at);
    assert_eq!(again.updated_at, later);
    assert_eq!(again.lang, "ru");
    // A new endpoint is a new subscription.
    let changed = s
        .put_subscription(&dev, sub("https://push.example/b", "ru"), later)
        .await
        .unwrap();
    assert_eq!(changed.subscribed_at, later);
    assert_eq!(changed.endpoint, "https://push.example/b");

    assert!(s.remove_subscription(&dev, later).await.unwrap());
    assert!(!s.remove_subscription(&dev, later).await.unwrap());
    let removed = s.subscription(pid).await.unwrap().unwrap();
    assert_eq!(removed.status, SubscriptionStatus::Removed);
    assert_eq!(removed.next_check_at, None);

    // Unknown and revoked devices are refused, and nothing changes.
    assert!(matches!(
        s.put_subscription("dev-nobody", sub("https://push.example/c", "ru"), later)
            .await,
        Err(StoreError::UnknownDevice)
    ));
    // Rebinding revokes the old device.
    let t = token(later + SignedDuration::from_mins(15), "self");
    let hash = t.hash;
    s.enrol(&m, &number("UZ2000001"), t, later).await.unwrap();
    s.bind_device(hash, device("dev-new", "self"), later)
        .await
        .unwrap();
    assert!(matches!(
        s.put_subscription(&dev, sub("https://push.example/c", "ru"), later)
            .await,
        Err(StoreError::DeviceRevoked)
    ));
    assert_eq!(
        s.subscription(pid).await.unwrap().unwrap().endpoint,
        "https://push.example/b"
    );
}

async fn checkins_are_kept_and_the_last_is_on_the_person(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-24 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "UZ2000002", at).await;
    assert!(s.last_checkin(pid).await.unwrap().is_none());
    let first = s
        .record_checkin(&dev, checkin(at, Permission::Granted, 0))
        .await
        .unwrap();
    let t2 = at + SignedDuration::from_hours(3);
    // The circumstances of a report (charging, network, client) are kept.
    let report = Checkin {
        charging: Some(false),
        network: Some(Network::Offline),
        client: CheckinClient::OwnTracks,
        ..checkin(t2, Permission::Denied, 4)
    };
    let second = s.record_checkin(&dev, report).await.unwrap();
    assert_eq!(second.person_id, pid);
    let last = s.last_checkin(pid).await.unwrap().unwrap();
    assert_eq!(last, second);
    assert_eq!(last.checkin.geo_error, Some(GeoError::PermissionDenied));
    assert_eq!(last.checkin.queued_fixes, 4);
    assert_eq!(last.checkin.battery_pct, Some(55));
    assert_eq!(last.checkin.charging, Some(false));
    assert_eq!(last.checkin.network, Some(Network::Offline));
    assert_eq!(last.checkin.client, CheckinClient::OwnTracks);
    let all = s.checkins(pid, 10).await.unwrap();
    assert_eq!(all, vec![second.clone(), first]);
    assert!(matches!(
        s.record_checkin("dev-nobody", checkin(t2, Permission::Granted, 0))
            .await,
        Err(StoreError::UnknownDevice)
    ));
    assert_eq!(s.checkins(pid, 10).await.unwrap().len(), 2);
}

async fn planning_decides_each_notice_once_and_reads_only_due_people(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let rules = PushRules::default();
    let at = msk("2025-11-25 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "UZ2000003", at).await;
    let (quiet_pid, _, _) = enrolled_with_device(&s, &m, "UZ2000004", at).await;
    s.put_subscription(&dev, sub("https://push.example/p", "en"), at)
        .await
        .unwrap();
    s.ingest(&m, &dev, vec![fix(1, at, KREMLIN)], at)
        .await
        .unwrap();

    // At subscription time nothing is due; the next look is 24 h later
    // (the no-fix rule), bounded by the 6-hour recheck.
    let r = s.plan_pushes(&rules, at, 100).await.unwrap();
    assert_eq!((r.people, r.decided), (1, 0));
    let next = s.subscription(pid).await.unwrap().unwrap().next_check_at;
    assert_eq!(next, Some(at + SignedDuration::from_hours(6)));
    // Before then, nobody is read.
    let r = s
        .plan_pushes(&rules, at + SignedDuration::from_hours(1), 100)
        .await
        .unwrap();
    assert_eq!(r.people, 0);

    // 25 hours on: the no-fix notice, once.
    let day = at + SignedDuration::from_hours(25);
    s.record_checkin(
        &dev,
        checkin(at + SignedDuration::from_hours(2), Permission::Denied, 0),
    )
    .await
    .unwrap();
    let r = s.plan_pushes(&rules, day, 100).await.unwrap();
    assert_eq!(r.people, 1);
    assert_eq!(r.decided, 2, "the location-off cause and the no-fix notice");
    let r = s.plan_pushes(&rules, day, 100).await.unwrap();
    assert_eq!((r.people, r.decided), (0, 0));
    let outbox = s.push_outbox(pid).await.unwrap();
    let kinds: Vec<&str> = outbox.iter().map(|o| o.notice.kind()).collect();
    assert_eq!(kinds, ["cause", "no_fix"]);
    assert!(outbox.iter().all(|o| o.state == OutboxState::Pending));
    assert!(s.push_outbox(quiet_pid).await.unwrap().is_empty());
    // A forced re-evaluation (a new check-in) decides nothing twice.
    s.record_checkin(&dev, checkin(day, Permission::Denied, 0))
        .await
        .unwrap();
    let r = s.plan_pushes(&rules, day, 100).await.unwrap();
    assert_eq!((r.people, r.decided), (1, 0));
}

/// A subscribed person whose "no fix" notice was decided at `day` (25 hours
/// after enrolment); `oldest` lets it be sent.
struct Decided {
    /// Owns the database: dropping it drops the database.
    _h: Harness,
    s: SharedStore,
    pid: i64,
    day: Timestamp,
    oldest: Timestamp,
}

async fn one_decided_notice(h: Harness, card: &str, endpoint: &str, lang: &str) -> Decided {
    let s = h.migrated().await;
    let at = msk("2025-11-25 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &monitor(), card, at).await;
    s.put_subscription(&dev, sub(endpoint, lang), at)
        .await
        .unwrap();
    let day = at + SignedDuration::from_hours(25);
    s.plan_pushes(&PushRules::default(), day, 100)
        .await
        .unwrap();
    Decided {
        _h: h,
        s,
        pid,
        day,
        oldest: day - SignedDuration::from_hours(12),
    }
}

async fn claims_lease_retry_and_record_every_attempt(h: Harness) {
    let Decided {
        _h,
        s,
        pid,
        day,
        oldest,
    } = one_decided_notice(h, "UZ2000005", "https://push.example/q", "tg").await;

    let claimed = s.claim_pushes(day, LEASE, oldest, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let item = &claimed[0];
    assert_eq!(item.person_id, pid);
    assert_eq!(item.attempts, 1);
    assert_eq!(item.lang, "tg");
    assert_eq!(item.endpoint, "https://push.example/q");
    assert!(matches!(item.notice, Notice::NoFix { .. }));
    // Leased: another sender does not take it...
    assert!(s
        .claim_pushes(day + SignedDuration::from_mins(1), LEASE, oldest, 10)
        .await
        .unwrap()
        .is_empty());
    // ...until the lease runs out (the first sender crashed). Its claim
    // got no answer recorded, so it does not count as an attempt.
    let again = s
        .claim_pushes(day + LEASE, LEASE, oldest, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);

    // 503: retry at the time the sender chose.
    let t = day + LEASE;
    let retry_at = t + SignedDuration::from_mins(2);
    s.record_delivery(DeliveryReport {
        outbox_id: item.id,
        endpoint: item.endpoint.clone(),
        at: t,
        status_code: Some(503),
        error: None,
        outcome: DeliveryOutcome::RetryAt(retry_at),
    })
    .await
    .unwrap();
    let before = t + SignedDuration::from_mins(1);
    assert!(s
        .claim_pushes(before, LEASE, oldest, 10)
        .await
        .unwrap()
        .is_empty());
    let third = s.claim_pushes(retry_at, LEASE, oldest, 10).await.unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].attempts, 2);
    s.record_delivery(DeliveryReport {
        outbox_id: item.id,
        endpoint: item.endpoint.clone(),
        at: retry_at,
        status_code: Some(201),
        error: None,
        outcome: DeliveryOutcome::Sent,
    })
    .await
    .unwrap();
    // A late report from the crashed first sender changes only the log.
    s.record_delivery(DeliveryReport {
        outbox_id: item.id,
        endpoint: item.endpoint.clone(),
        at: retry_at,
        status_code: None,
        error: Some("connection reset".into()),
        outcome: DeliveryOutcome::RetryAt(retry_at),
    })
    .await
    .unwrap();
    let o = &s.push_outbox(pid).await.unwrap()[0];
    assert_eq!(o.state, OutboxState::Sent);
    assert_eq!(o.sent_at, Some(retry_at));
    assert_eq!(o.last_status, Some(201));
    // Two answers recorded while pending (503, 201); the late report
    // after it was sent is only logged.
    assert_eq!(o.attempts, 2);
    let log = s.push_deliveries(item.id).await.unwrap();
    let codes: Vec<Option<u16>> = log.iter().map(|d| d.status_code).collect();
    assert_eq!(codes, [Some(503), Some(201), None]);
    assert_eq!(log[2].error.as_deref(), Some("connection reset"));
    assert!(s
        .claim_pushes(retry_at + SignedDuration::from_hours(1), LEASE, oldest, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Found by `amina crash-test` with pushes under load: a sender claims a
/// batch, sends it one notice at a time and is killed in the middle. The
/// notices it never sent must keep their attempts, or a few crashes in a
/// row turn a notice into "failed" without one real attempt.
async fn claims_without_an_answer_use_up_no_attempts(h: Harness) {
    let Decided {
        _h,
        s,
        pid,
        day,
        oldest,
    } = one_decided_notice(h, "UZ2000009", "https://push.example/c", "uz").await;
    // Twelve senders in a row claim it and die before an answer.
    let mut t = day;
    for _ in 0..12 {
        let claimed = s.claim_pushes(t, LEASE, oldest, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].attempts, 1, "an unanswered claim was counted");
        t += LEASE;
    }
    let o = &s.push_outbox(pid).await.unwrap()[0];
    assert_eq!((o.state, o.attempts), (OutboxState::Pending, 0));
    // The thirteenth gets an answer: its attempt is the first one.
    let item = s
        .claim_pushes(t, LEASE, oldest, 10)
        .await
        .unwrap()
        .remove(0);
    s.record_delivery(DeliveryReport {
        outbox_id: item.id,
        endpoint: item.endpoint.clone(),
        at: t,
        status_code: Some(201),
        error: None,
        outcome: DeliveryOutcome::Sent,
    })
    .await
    .unwrap();
    let o = &s.push_outbox(pid).await.unwrap()[0];
    assert_eq!((o.state, o.attempts), (OutboxState::Sent, 1));
}

async fn a_gone_subscription_stops_pushes(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let rules = PushRules::default();
    let at = msk("2025-11-25 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "UZ2000006", at).await;
    s.put_subscription(&dev, sub("https://push.example/g", "ky"), at)
        .await
        .unwrap();
    s.record_checkin(
        &dev,
        checkin(at + SignedDuration::from_mins(1), Permission::Denied, 0),
    )
    .await
    .unwrap();
    let day = at + SignedDuration::from_hours(25);
    s.plan_pushes(&rules, day, 100).await.unwrap();
    let oldest = day - SignedDuration::from_hours(12);
    let claimed = s.claim_pushes(day, LEASE, oldest, 1).await.unwrap();
    assert_eq!(claimed.len(), 1);
    s.record_delivery(DeliveryReport {
        outbox_id: claimed[0].id,
        endpoint: claimed[0].endpoint.clone(),
        at: day,
        status_code: Some(410),
        error: None,
        outcome: DeliveryOutcome::Gone,
    })
    .await
    .unwrap();
    let sub_now = s.subscription(pid).await.unwrap().unwrap();
    assert_eq!(sub_now.status, SubscriptionStatus::Gone);
    assert_eq!(sub_now.gone_at, Some(day));
    assert_eq!(sub_now.next_check_at, None);
    // The other pending notice is dropped, not sent to a dead endpoint.
    assert!(s
        .claim_pushes(day, LEASE, oldest, 10)
        .await
        .unwrap()
        .is_empty());
    let states: Vec<OutboxState> = s
        .push_outbox(pid)
        .await
        .unwrap()
        .iter()
        .map(|o| o.state)
        .collect();
    assert_eq!(states, [OutboxState::Gone, OutboxState::Dropped]);
    // Planning no longer looks at the person; subscribing again does.
    assert_eq!(s.plan_pushes(&rules, day, 100).await.unwrap().people, 0);
    s.put_subscription(&dev, sub("https://push.example/g2", "ky"), day)
        .await
        .unwrap();
    assert_eq!(s.plan_pushes(&rules, day, 100).await.unwrap().people, 1);
}

async fn too_old_notices_are_not_sent(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-25 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "UZ2000007", at).await;
    s.put_subscription(&dev, sub("https://push.example/o", "ru"), at)
        .await
        .unwrap();
    let day = at + SignedDuration::from_hours(25);
    s.plan_pushes(&PushRules::default(), day, 100)
        .await
        .unwrap();
    let later = day + SignedDuration::from_hours(13);
    assert!(s
        .claim_pushes(later, LEASE, later - SignedDuration::from_hours(12), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.push_outbox(pid).await.unwrap()[0].state,
        OutboxState::Failed
    );
}

/// Two nodes planning at the same moment decide each notice once.
async fn two_nodes_plan_at_once(h: Harness) {
    let s = h.migrated().await;
    let m = monitor();
    let at = msk("2025-11-25 10:00");
    let mut people = Vec::new();
    for i in 0..20 {
        let card = format!("UZ30000{i:02}");
        let (pid, _, dev) = enrolled_with_device(&s, &m, &card, at).await;
        s.put_subscription(&dev, sub(&format!("https://push.example/{i}"), "ru"), at)
            .await
            .unwrap();
        people.push(pid);
    }
    let other = h.another_store().await;
    let day = at + SignedDuration::from_hours(25);
    let rules = PushRules::default();
    let (a, b) = tokio::join!(
        s.plan_pushes(&rules, day, 7),
        other.plan_pushes(&rules, day, 7)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    // Loop until everyone was looked at.
    let mut decided = a.decided + b.decided;
    loop {
        let r = s.plan_pushes(&rules, day, 7).await.unwrap();
        decided += r.decided;
        if r.people == 0 {
            break;
        }
    }
    assert_eq!(decided, 20);
    for pid in people {
        assert_eq!(s.push_outbox(pid).await.unwrap().len(), 1);
    }
}

suite!(
    both: [
        vapid_keys_are_created_once,
        subscriptions_belong_to_the_active_device,
        checkins_are_kept_and_the_last_is_on_the_person,
        planning_decides_each_notice_once_and_reads_only_due_people,
        claims_lease_retry_and_record_every_attempt,
        claims_without_an_answer_use_up_no_attempts,
        a_gone_subscription_stops_pushes,
        too_old_notices_are_not_sent,
    ],
    postgres_only: [two_nodes_plan_at_once]
);
