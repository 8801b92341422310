//! [`PushStore`] on PostgreSQL. Several nodes plan and send at once:
//! planning takes due subscriptions with `FOR UPDATE SKIP LOCKED` (two nodes
//! split the people), the outbox's `push_outbox_once` constraint keeps a
//! notice decided once, and claiming leases pending rows under
//! `FOR UPDATE SKIP LOCKED` so two senders never take the same row while its
//! lease runs. The VAPID row is inserted with `ON CONFLICT DO NOTHING` and
//! read back, so racing first starts agree on one key.

use std::collections::BTreeSet;

use amina_domain::monitor::{DeregistrationReason, RegistrationStatus};
use amina_domain::reminders::{Checkin, PushFacts, PushRules};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use jiff::{SignedDuration, Timestamp};
use tokio_postgres::Row;

use super::{db_error, execute, get, load_person, opt_ts, query, query_opt, ts, PostgresStore};
use crate::push::{
    notice_json, parse_client, parse_geo_error, parse_network, parse_notice, parse_permission,
    subscription_reaches,
};
use crate::time::to_system;
use crate::*;

async fn active_device_person<C: GenericClient>(c: &C, device_id: &str) -> Result<i64, StoreError> {
    // The companion PWA key of an active OwnTracks device counts as active
    // here: it still checks in and holds the push subscription.
    let row = query_opt(
        c,
        "SELECT d.person_id, d.status, o.status FROM devices d \
         LEFT JOIN devices o ON o.id = d.companion_of WHERE d.id = $1",
        &[&device_id],
    )
    .await?
    .ok_or(StoreError::UnknownDevice)?;
    let status: String = get(&row, 1)?;
    let companion: Option<String> = get(&row, 2)?;
    if status != "active" && companion.as_deref() != Some("active") {
        return Err(StoreError::DeviceRevoked);
    }
    get(&row, 0)
}

const SUB_COLUMNS: &str = "person_id, device_id, endpoint, p256dh, auth, lang, status, \
     subscribed_at, updated_at, gone_at, next_check_at";

fn subscription_from_row(r: &Row) -> Result<SubscriptionRecord, StoreError> {
    Ok(SubscriptionRecord {
        person_id: get(r, 0)?,
        device_id: get(r, 1)?,
        endpoint: get(r, 2)?,
        p256dh: get(r, 3)?,
        auth: get(r, 4)?,
        lang: get(r, 5)?,
        status: SubscriptionStatus::parse(get(r, 6)?)?,
        subscribed_at: ts(r, 7)?,
        updated_at: ts(r, 8)?,
        gone_at: opt_ts(r, 9)?,
        next_check_at: opt_ts(r, 10)?,
    })
}

async fn load_subscription<C: GenericClient>(
    c: &C,
    person_id: i64,
) -> Result<Option<SubscriptionRecord>, StoreError> {
    query_opt(
        c,
        &format!("SELECT {SUB_COLUMNS} FROM push_subscriptions WHERE person_id = $1"),
        &[&person_id],
    )
    .await?
    .as_ref()
    .map(subscription_from_row)
    .transpose()
}

const CHECKIN_COLUMNS: &str = "id, person_id, device_id, at, location_permission, \
     push_permission, queued_fixes, geo_error, battery_pct, charging, network, client";

fn checkin_from_row(r: &Row) -> Result<CheckinRecord, StoreError> {
    let queued: i32 = get(r, 6)?;
    let battery: Option<i16> = get(r, 8)?;
    Ok(CheckinRecord {
        id: get(r, 0)?,
        person_id: get(r, 1)?,
        device_id: get(r, 2)?,
        checkin: Checkin {
            at: ts(r, 3)?,
            location: parse_permission(get(r, 4)?)?,
            notifications: parse_permission(get(r, 5)?)?,
            queued_fixes: u32::try_from(queued).map_err(|_| bad_value("queued_fixes"))?,
            geo_error: parse_geo_error(get::<Option<i16>>(r, 7)?.map(i64::from))?,
            battery_pct: battery
                .map(u8::try_from)
                .transpose()
                .map_err(|_| bad_value("battery_pct"))?,
            charging: get(r, 9)?,
            network: parse_network(get(r, 10)?)?,
            client: parse_client(get(r, 11)?)?,
        },
    })
}

fn bad_value(what: &str) -> StoreError {
    StoreError::Internal(format!("bad stored {what}"))
}

async fn load_last_checkin<C: GenericClient>(
    c: &C,
    person_id: i64,
) -> Result<Option<CheckinRecord>, StoreError> {
    query_opt(
        c,
        &format!(
            "SELECT {CHECKIN_COLUMNS} FROM checkins \
             WHERE id = (SELECT last_checkin_id FROM persons WHERE id = $1)"
        ),
        &[&person_id],
    )
    .await?
    .as_ref()
    .map(checkin_from_row)
    .transpose()
}

const OUTBOX_COLUMNS: &str = "id, person_id, occurrence_key, notice, state, attempts, \
     decided_at, next_attempt_at, last_status, sent_at";

fn outbox_from_row(r: &Row) -> Result<OutboxRecord, StoreError> {
    let notice: serde_json::Value = get(r, 3)?;
    let attempts: i32 = get(r, 5)?;
    let last_status: Option<i32> = get(r, 8)?;
    Ok(OutboxRecord {
        id: get(r, 0)?,
        person_id: get(r, 1)?,
        key: get(r, 2)?,
        notice: parse_notice(&notice.to_string())?,
        state: OutboxState::parse(get(r, 4)?)?,
        attempts: u32::try_from(attempts).map_err(|_| bad_value("attempts"))?,
        decided_at: ts(r, 6)?,
        next_attempt_at: ts(r, 7)?,
        last_status: last_status
            .map(u16::try_from)
            .transpose()
            .map_err(|_| bad_value("last_status"))?,
        sent_at: opt_ts(r, 9)?,
    })
}

async fn plan_person<C: GenericClient>(
    c: &C,
    rules: &PushRules,
    person_id: i64,
    device_id: &str,
    now: Timestamp,
    report: &mut PlanReport,
) -> Result<(), StoreError> {
    let person = load_person(c, person_id, false)
        .await?
        .ok_or(StoreError::UnknownPerson)?;
    let deregistration = if person.state.status == RegistrationStatus::Deregistered {
        query_opt(
            c,
            "SELECT reason FROM deregistrations WHERE registration_id = $1",
            &[&person.registration_id],
        )
        .await?
        .map(|r| get::<String>(&r, 0))
        .transpose()?
        .and_then(|r| DeregistrationReason::parse(&r))
    } else {
        None
    };
    let last_checkin = load_last_checkin(c, person_id).await?.map(|c| c.checkin);
    let companion_of: Option<String> = query_opt(
        c,
        "SELECT companion_of FROM devices WHERE id = $1",
        &[&device_id],
    )
    .await?
    .map(|r| get::<Option<String>>(&r, 0))
    .transpose()?
    .flatten();
    let subscribed = subscription_reaches(
        person.active_device_id.as_deref(),
        device_id,
        companion_of.as_deref(),
    );
    let mut decided = BTreeSet::new();
    let mut last_notice_at = None;
    for r in query(
        c,
        "SELECT occurrence_key, decided_at FROM push_outbox WHERE person_id = $1",
        &[&person_id],
    )
    .await?
    {
        decided.insert(get::<String>(&r, 0)?);
        last_notice_at = last_notice_at.max(Some(ts(&r, 1)?));
    }
    let decision = rules.decide(
        &PushFacts {
            state: &person.state,
            registration_id: person.registration_id,
            deregistration,
            last_checkin: last_checkin.as_ref(),
            subscribed,
            last_notice_at,
            decided: &decided,
        },
        now,
    );
    report.people += 1;
    report.deferred += u32::from(decision.deferred);
    let at = to_system(now);
    for due in &decision.due {
        let notice: serde_json::Value = serde_json::from_str(&notice_json(&due.notice)?)
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        report.decided += execute(
            c,
            "INSERT INTO push_outbox (person_id, occurrence_key, kind, notice, decided_at, \
             state, next_attempt_at) VALUES ($1, $2, $3, $4, $5, 'pending', $5) \
             ON CONFLICT ON CONSTRAINT push_outbox_once DO NOTHING",
            &[&person_id, &due.key, &due.notice.kind(), &notice, &at],
        )
        .await? as u32;
    }
    execute(
        c,
        "UPDATE push_subscriptions SET next_check_at = $2 WHERE person_id = $1",
        &[&person_id, &to_system(decision.next_check_at)],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl PushStore for PostgresStore {
    async fn vapid_keys(&self, candidate: VapidKeys) -> Result<VapidKeys, StoreError> {
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO push_vapid (id, private_pkcs8, public_key, created_at) \
             VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING",
            &[
                &candidate.private_pkcs8,
                &candidate.public_key,
                &to_system(candidate.created_at),
            ],
        )
        .await?;
        let row = query_opt(
            &client,
            "SELECT private_pkcs8, public_key, created_at FROM push_vapid WHERE id = 1",
            &[],
        )
        .await?
        .ok_or_else(|| StoreError::Internal("the VAPID row vanished".into()))?;
        Ok(VapidKeys {
            private_pkcs8: get(&row, 0)?,
            public_key: get(&row, 1)?,
            created_at: ts(&row, 2)?,
        })
    }

    async fn put_subscription(
        &self,
        device_id: &str,
        s: NewSubscription,
        now: Timestamp,
    ) -> Result<SubscriptionRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let person_id = active_device_person(&tx, device_id).await?;
        execute(
            &tx,
            "INSERT INTO push_subscriptions AS s (person_id, device_id, endpoint, p256dh, auth, \
             lang, status, subscribed_at, updated_at, next_check_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $7, $7) \
             ON CONFLICT (person_id) DO UPDATE SET \
               subscribed_at = CASE WHEN s.endpoint = excluded.endpoint AND s.status = 'active' \
                               THEN s.subscribed_at ELSE excluded.subscribed_at END, \
               device_id = excluded.device_id, endpoint = excluded.endpoint, \
               p256dh = excluded.p256dh, auth = excluded.auth, lang = excluded.lang, \
               status = 'active', updated_at = excluded.updated_at, gone_at = NULL, \
               next_check_at = excluded.next_check_at",
            &[
                &person_id,
                &device_id,
                &s.endpoint,
                &s.p256dh,
                &s.auth,
                &s.lang,
                &to_system(now),
            ],
        )
        .await?;
        let record = load_subscription(&tx, person_id)
            .await?
            .ok_or_else(|| StoreError::Internal("subscription vanished".into()))?;
        tx.commit().await.map_err(db_error)?;
        Ok(record)
    }

    async fn remove_subscription(
        &self,
        device_id: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let person_id = active_device_person(&tx, device_id).await?;
        let n = execute(
            &tx,
            "UPDATE push_subscriptions SET status = 'removed', updated_at = $2, \
             next_check_at = NULL WHERE person_id = $1 AND status = 'active'",
            &[&person_id, &to_system(now)],
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(n == 1)
    }

    async fn subscription(&self, person_id: i64) -> Result<Option<SubscriptionRecord>, StoreError> {
        let client = self.client().await?;
        load_subscription(&client, person_id).await
    }

    async fn record_checkin(
        &self,
        device_id: &str,
        c: Checkin,
    ) -> Result<CheckinRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let person_id = active_device_person(&tx, device_id).await?;
        let queued = i32::try_from(c.queued_fixes).unwrap_or(i32::MAX);
        let geo = c.geo_error.map(|e| i16::from(e.code()));
        let battery = c.battery_pct.map(i16::from);
        let row = super::query_one(
            &tx,
            "INSERT INTO checkins (person_id, device_id, at, location_permission, \
             push_permission, queued_fixes, geo_error, battery_pct, charging, network, client) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            &[
                &person_id,
                &device_id,
                &to_system(c.at),
                &c.location.as_str(),
                &c.notifications.as_str(),
                &queued,
                &geo,
                &battery,
                &c.charging,
                &c.network.map(|n| n.as_str()),
                &c.client.as_str(),
            ],
        )
        .await?;
        let id: i64 = get(&row, 0)?;
        execute(
            &tx,
            "UPDATE persons SET last_checkin_id = $2 WHERE id = $1",
            &[&person_id, &id],
        )
        .await?;
        // What the app reported may make a notice due (or moot): look at the
        // person at the next planning run.
        execute(
            &tx,
            "UPDATE push_subscriptions SET next_check_at = least(next_check_at, $2) \
             WHERE person_id = $1 AND status = 'active'",
            &[&person_id, &to_system(c.at)],
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(CheckinRecord {
            id,
            person_id,
            device_id: device_id.to_string(),
            checkin: c,
        })
    }

    async fn last_checkin(&self, person_id: i64) -> Result<Option<CheckinRecord>, StoreError> {
        let client = self.client().await?;
        load_last_checkin(&client, person_id).await
    }

    async fn checkins(&self, person_id: i64, limit: u32) -> Result<Vec<CheckinRecord>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &format!(
                "SELECT {CHECKIN_COLUMNS} FROM checkins WHERE person_id = $1 \
                 ORDER BY at DESC, id DESC LIMIT $2"
            ),
            &[&person_id, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(checkin_from_row)
        .collect()
    }

    async fn plan_pushes(
        &self,
        rules: &PushRules,
        now: Timestamp,
        limit: u32,
    ) -> Result<PlanReport, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let due = query(
            &tx,
            "SELECT person_id, device_id FROM push_subscriptions \
             WHERE status = 'active' AND next_check_at <= $1 \
             ORDER BY next_check_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&to_system(now), &i64::from(limit)],
        )
        .await?;
        let mut report = PlanReport::default();
        for row in due {
            let person_id: i64 = get(&row, 0)?;
            let device_id: String = get(&row, 1)?;
            plan_person(&tx, rules, person_id, &device_id, now, &mut report).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(report)
    }

    async fn claim_pushes(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        oldest: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let rows = query(
            &tx,
            &format!(
                "SELECT {OUTBOX_COLUMNS} FROM push_outbox \
                 WHERE state = 'pending' AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED"
            ),
            &[&to_system(now), &i64::from(limit)],
        )
        .await?;
        let mut out = Vec::new();
        for row in rows {
            let record = outbox_from_row(&row)?;
            if record.decided_at < oldest {
                execute(
                    &tx,
                    "UPDATE push_outbox SET state = 'failed' WHERE id = $1",
                    &[&record.id],
                )
                .await?;
                continue;
            }
            let sub = load_subscription(&tx, record.person_id)
                .await?
                .filter(|s| s.status == SubscriptionStatus::Active);
            let Some(sub) = sub else {
                execute(
                    &tx,
                    "UPDATE push_outbox SET state = 'dropped' WHERE id = $1",
                    &[&record.id],
                )
                .await?;
                continue;
            };
            execute(
                &tx,
                "UPDATE push_outbox SET next_attempt_at = $2 WHERE id = $1",
                &[&record.id, &to_system(now + lease)],
            )
            .await?;
            out.push(OutboxItem {
                id: record.id,
                person_id: record.person_id,
                key: record.key,
                notice: record.notice,
                decided_at: record.decided_at,
                attempts: record.attempts + 1,
                endpoint: sub.endpoint,
                p256dh: sub.p256dh,
                auth: sub.auth,
                lang: sub.lang,
            });
        }
        tx.commit().await.map_err(db_error)?;
        Ok(out)
    }

    async fn record_delivery(&self, r: DeliveryReport) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let at = to_system(r.at);
        let status = r.status_code.map(i32::from);
        execute(
            &tx,
            "INSERT INTO push_deliveries (outbox_id, at, status_code, error) \
             VALUES ($1, $2, $3, $4)",
            &[&r.outbox_id, &at, &status, &r.error],
        )
        .await?;
        let (state, next, sent_at) = match r.outcome {
            DeliveryOutcome::Sent => ("sent", None, Some(at)),
            DeliveryOutcome::Gone => ("gone", None, None),
            DeliveryOutcome::RetryAt(t) => ("pending", Some(to_system(t)), None),
            DeliveryOutcome::Failed => ("failed", None, None),
        };
        let changed = execute(
            &tx,
            "UPDATE push_outbox SET state = $2, attempts = attempts + 1, \
             next_attempt_at = coalesce($3, next_attempt_at), \
             last_status = $4, sent_at = $5 WHERE id = $1 AND state = 'pending'",
            &[&r.outbox_id, &state, &next, &status, &sent_at],
        )
        .await?;
        if changed == 1 && r.outcome == DeliveryOutcome::Gone {
            execute(
                &tx,
                "UPDATE push_subscriptions SET status = 'gone', gone_at = $3, \
                 updated_at = $3, next_check_at = NULL \
                 WHERE person_id = (SELECT person_id FROM push_outbox WHERE id = $1) \
                 AND endpoint = $2 AND status = 'active'",
                &[&r.outbox_id, &r.endpoint, &at],
            )
            .await?;
            // Nothing else can reach the person through it.
            execute(
                &tx,
                "UPDATE push_outbox SET state = 'dropped' WHERE state = 'pending' \
                 AND person_id = (SELECT person_id FROM push_outbox WHERE id = $1)",
                &[&r.outbox_id],
            )
            .await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }

    async fn push_outbox(&self, person_id: i64) -> Result<Vec<OutboxRecord>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &format!("SELECT {OUTBOX_COLUMNS} FROM push_outbox WHERE person_id = $1 ORDER BY id"),
            &[&person_id],
        )
        .await?
        .iter()
        .map(outbox_from_row)
        .collect()
    }

    async fn push_deliveries(&self, outbox_id: i64) -> Result<Vec<DeliveryRecord>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            "SELECT outbox_id, at, status_code, error FROM push_deliveries \
             WHERE outbox_id = $1 ORDER BY id",
            &[&outbox_id],
        )
        .await?
        .iter()
        .map(|r| {
            let code: Option<i32> = get(r, 2)?;
            Ok(DeliveryRecord {
                outbox_id: get(r, 0)?,
                at: ts(r, 1)?,
                status_code: code
                    .map(u16::try_from)
                    .transpose()
                    .map_err(|_| bad_value("status_code"))?,
                error: get(r, 3)?,
            })
        })
        .collect()
    }
}
