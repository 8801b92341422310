//! [`PushStore`] on SQLite. Every write runs on the single writer thread, so
//! planning and claiming need no row locks: one job sees and changes the
//! rows alone.

use std::collections::BTreeSet;

use amina_domain::monitor::{DeregistrationReason, RegistrationStatus};
use amina_domain::reminders::{Checkin, PushFacts, PushRules};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{load_person, SqliteStore};
use crate::push::{
    notice_json, parse_client, parse_geo_error, parse_network, parse_notice, parse_permission,
    subscription_reaches,
};
use crate::time::{from_ms, to_ms};
use crate::*;

/// The person an active device belongs to. The companion PWA key of an
/// active OwnTracks device counts as active here: it still checks in and
/// holds the push subscription (see `crate::owntracks`).
fn active_device_person(conn: &Connection, device_id: &str) -> Result<i64, StoreError> {
    let row: Option<(i64, String, Option<String>)> = conn
        .prepare_cached(
            "SELECT d.person_id, d.status, o.status FROM devices d \
             LEFT JOIN devices o ON o.id = d.companion_of WHERE d.id = ?1",
        )?
        .query_row(params![device_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    match row {
        None => Err(StoreError::UnknownDevice),
        Some((person_id, status, companion))
            if status == "active" || companion.as_deref() == Some("active") =>
        {
            Ok(person_id)
        }
        Some(_) => Err(StoreError::DeviceRevoked),
    }
}

const SUB_COLUMNS: &str = "person_id, device_id, endpoint, p256dh, auth, lang, status, \
     subscribed_at, updated_at, gone_at, next_check_at";

fn subscription_from_row(r: &Row<'_>) -> Result<SubscriptionRecord, StoreError> {
    Ok(SubscriptionRecord {
        person_id: r.get(0)?,
        device_id: r.get(1)?,
        endpoint: r.get(2)?,
        p256dh: r.get(3)?,
        auth: r.get(4)?,
        lang: r.get(5)?,
        status: SubscriptionStatus::parse(&r.get::<_, String>(6)?)?,
        subscribed_at: from_ms(r.get(7)?)?,
        updated_at: from_ms(r.get(8)?)?,
        gone_at: r.get::<_, Option<i64>>(9)?.map(from_ms).transpose()?,
        next_check_at: r.get::<_, Option<i64>>(10)?.map(from_ms).transpose()?,
    })
}

fn load_subscription(
    conn: &Connection,
    person_id: i64,
) -> Result<Option<SubscriptionRecord>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {SUB_COLUMNS} FROM push_subscriptions WHERE person_id = ?1"
    ))?
    .query_row(params![person_id], |r| Ok(subscription_from_row(r)))
    .optional()?
    .transpose()
}

const CHECKIN_COLUMNS: &str = "id, person_id, device_id, at, location_permission, \
     push_permission, queued_fixes, geo_error, battery_pct, charging, network, client";

fn checkin_from_row(r: &Row<'_>) -> Result<CheckinRecord, StoreError> {
    Ok(CheckinRecord {
        id: r.get(0)?,
        person_id: r.get(1)?,
        device_id: r.get(2)?,
        checkin: Checkin {
            at: from_ms(r.get(3)?)?,
            location: parse_permission(&r.get::<_, String>(4)?)?,
            notifications: parse_permission(&r.get::<_, String>(5)?)?,
            queued_fixes: r.get(6)?,
            geo_error: parse_geo_error(r.get(7)?)?,
            battery_pct: r.get(8)?,
            charging: r.get(9)?,
            network: parse_network(r.get(10)?)?,
            client: parse_client(&r.get::<_, String>(11)?)?,
        },
    })
}

fn load_last_checkin(
    conn: &Connection,
    person_id: i64,
) -> Result<Option<CheckinRecord>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {CHECKIN_COLUMNS} FROM checkins \
         WHERE id = (SELECT last_checkin_id FROM persons WHERE id = ?1)"
    ))?
    .query_row(params![person_id], |r| Ok(checkin_from_row(r)))
    .optional()?
    .transpose()
}

const OUTBOX_COLUMNS: &str = "id, person_id, occurrence_key, notice, state, attempts, \
     decided_at, next_attempt_at, last_status, sent_at";

fn outbox_from_row(r: &Row<'_>) -> Result<OutboxRecord, StoreError> {
    Ok(OutboxRecord {
        id: r.get(0)?,
        person_id: r.get(1)?,
        key: r.get(2)?,
        notice: parse_notice(&r.get::<_, String>(3)?)?,
        state: OutboxState::parse(&r.get::<_, String>(4)?)?,
        attempts: r.get(5)?,
        decided_at: from_ms(r.get(6)?)?,
        next_attempt_at: from_ms(r.get(7)?)?,
        last_status: r.get(8)?,
        sent_at: r.get::<_, Option<i64>>(9)?.map(from_ms).transpose()?,
    })
}

/// Evaluate one person's rules and write the outcome.
fn plan_person(
    conn: &Connection,
    rules: &PushRules,
    person_id: i64,
    device_id: &str,
    now: Timestamp,
    report: &mut PlanReport,
) -> Result<(), StoreError> {
    let person = load_person(conn, person_id)?.ok_or(StoreError::UnknownPerson)?;
    let deregistration = if person.state.status == RegistrationStatus::Deregistered {
        conn.prepare_cached("SELECT reason FROM deregistrations WHERE registration_id = ?1")?
            .query_row(params![person.registration_id], |r| r.get::<_, String>(0))
            .optional()?
            .and_then(|r| DeregistrationReason::parse(&r))
    } else {
        None
    };
    let last_checkin = load_last_checkin(conn, person_id)?.map(|c| c.checkin);
    let companion_of: Option<String> = conn
        .prepare_cached("SELECT companion_of FROM devices WHERE id = ?1")?
        .query_row(params![device_id], |r| r.get(0))
        .optional()?
        .flatten();
    let subscribed = subscription_reaches(
        person.active_device_id.as_deref(),
        device_id,
        companion_of.as_deref(),
    );
    let mut decided = BTreeSet::new();
    let mut last_notice_at = None;
    {
        let mut stmt = conn.prepare_cached(
            "SELECT occurrence_key, decided_at FROM push_outbox WHERE person_id = ?1",
        )?;
        let mut rows = stmt.query(params![person_id])?;
        while let Some(r) = rows.next()? {
            decided.insert(r.get::<_, String>(0)?);
            let at = from_ms(r.get(1)?)?;
            last_notice_at = last_notice_at.max(Some(at));
        }
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
    for due in &decision.due {
        report.decided += conn
            .prepare_cached(
                "INSERT INTO push_outbox (person_id, occurrence_key, kind, notice, decided_at, \
                 state, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?5) \
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                person_id,
                due.key,
                due.notice.kind(),
                notice_json(&due.notice)?,
                to_ms(now)
            ])? as u32;
    }
    conn.prepare_cached("UPDATE push_subscriptions SET next_check_at = ?2 WHERE person_id = ?1")?
        .execute(params![person_id, to_ms(decision.next_check_at)])?;
    Ok(())
}

#[async_trait]
impl PushStore for SqliteStore {
    async fn vapid_keys(&self, candidate: VapidKeys) -> Result<VapidKeys, StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO push_vapid (id, private_pkcs8, public_key, created_at) \
                 VALUES (1, ?1, ?2, ?3) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                candidate.private_pkcs8,
                candidate.public_key,
                to_ms(candidate.created_at)
            ])?;
            let (private_pkcs8, public_key, created_at) = conn
                .prepare_cached(
                    "SELECT private_pkcs8, public_key, created_at FROM push_vapid WHERE id = 1",
                )?
                .query_row([], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })?;
            Ok(VapidKeys {
                private_pkcs8,
                public_key,
                created_at: from_ms(created_at)?,
            })
        })
        .await
    }

    async fn put_subscription(
        &self,
        device_id: &str,
        s: NewSubscription,
        now: Timestamp,
    ) -> Result<SubscriptionRecord, StoreError> {
        let device_id = device_id.to_string();
        self.write(move |conn| {
            let person_id = active_device_person(conn, &device_id)?;
            // A new endpoint is a new subscription; the same endpoint again
            // (the app re-sends it on every start) keeps its first time.
            conn.prepare_cached(
                "INSERT INTO push_subscriptions (person_id, device_id, endpoint, p256dh, auth, \
                 lang, status, subscribed_at, updated_at, next_check_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?7, ?7) \
                 ON CONFLICT (person_id) DO UPDATE SET \
                   subscribed_at = CASE WHEN endpoint = excluded.endpoint AND status = 'active' \
                                   THEN subscribed_at ELSE excluded.subscribed_at END, \
                   device_id = excluded.device_id, endpoint = excluded.endpoint, \
                   p256dh = excluded.p256dh, auth = excluded.auth, lang = excluded.lang, \
                   status = 'active', updated_at = excluded.updated_at, gone_at = NULL, \
                   next_check_at = excluded.next_check_at",
            )?
            .execute(params![
                person_id,
                device_id,
                s.endpoint,
                s.p256dh,
                s.auth,
                s.lang,
                to_ms(now)
            ])?;
            load_subscription(conn, person_id)?
                .ok_or_else(|| StoreError::Internal("subscription vanished".into()))
        })
        .await
    }

    async fn remove_subscription(
        &self,
        device_id: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let device_id = device_id.to_string();
        self.write(move |conn| {
            let person_id = active_device_person(conn, &device_id)?;
            let n = conn
                .prepare_cached(
                    "UPDATE push_subscriptions SET status = 'removed', updated_at = ?2, \
                     next_check_at = NULL WHERE person_id = ?1 AND status = 'active'",
                )?
                .execute(params![person_id, to_ms(now)])?;
            Ok(n == 1)
        })
        .await
    }

    async fn subscription(&self, person_id: i64) -> Result<Option<SubscriptionRecord>, StoreError> {
        self.read(move |conn| load_subscription(conn, person_id))
            .await
    }

    async fn record_checkin(
        &self,
        device_id: &str,
        c: Checkin,
    ) -> Result<CheckinRecord, StoreError> {
        let device_id = device_id.to_string();
        self.write(move |conn| {
            let person_id = active_device_person(conn, &device_id)?;
            conn.prepare_cached(
                "INSERT INTO checkins (person_id, device_id, at, location_permission, \
                 push_permission, queued_fixes, geo_error, battery_pct, charging, network, \
                 client) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                person_id,
                device_id,
                to_ms(c.at),
                c.location.as_str(),
                c.notifications.as_str(),
                c.queued_fixes,
                c.geo_error.map(|e| e.code()),
                c.battery_pct,
                c.charging,
                c.network.map(|n| n.as_str()),
                c.client.as_str()
            ])?;
            let id = conn.last_insert_rowid();
            conn.prepare_cached("UPDATE persons SET last_checkin_id = ?2 WHERE id = ?1")?
                .execute(params![person_id, id])?;
            // What the app reported may make a notice due (or moot): look
            // at the person at the next planning run.
            conn.prepare_cached(
                "UPDATE push_subscriptions SET next_check_at = min(next_check_at, ?2) \
                 WHERE person_id = ?1 AND status = 'active'",
            )?
            .execute(params![person_id, to_ms(c.at)])?;
            Ok(CheckinRecord {
                id,
                person_id,
                device_id,
                checkin: c,
            })
        })
        .await
    }

    async fn last_checkin(&self, person_id: i64) -> Result<Option<CheckinRecord>, StoreError> {
        self.read(move |conn| load_last_checkin(conn, person_id))
            .await
    }

    async fn checkins(&self, person_id: i64, limit: u32) -> Result<Vec<CheckinRecord>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {CHECKIN_COLUMNS} FROM checkins WHERE person_id = ?1 \
                 ORDER BY at DESC, id DESC LIMIT ?2"
            ))?;
            let mut rows = stmt.query(params![person_id, limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(checkin_from_row(r)?);
            }
            Ok(out)
        })
        .await
    }

    async fn plan_pushes(
        &self,
        rules: &PushRules,
        now: Timestamp,
        limit: u32,
    ) -> Result<PlanReport, StoreError> {
        let rules = *rules;
        self.write(move |conn| {
            let due: Vec<(i64, String)> = {
                let mut stmt = conn.prepare_cached(
                    "SELECT person_id, device_id FROM push_subscriptions \
                     WHERE status = 'active' AND next_check_at <= ?1 \
                     ORDER BY next_check_at LIMIT ?2",
                )?;
                let rows =
                    stmt.query_map(params![to_ms(now), limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            let mut report = PlanReport::default();
            for (person_id, device_id) in due {
                plan_person(conn, &rules, person_id, &device_id, now, &mut report)?;
            }
            Ok(report)
        })
        .await
    }

    async fn claim_pushes(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        oldest: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.write(move |conn| {
            let rows: Vec<(i64, i64, i64)> = {
                let mut stmt = conn.prepare_cached(
                    "SELECT id, person_id, decided_at FROM push_outbox \
                     WHERE state = 'pending' AND next_attempt_at <= ?1 \
                     ORDER BY next_attempt_at, id LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![to_ms(now), limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            let mut out = Vec::new();
            for (id, person_id, decided_at) in rows {
                if decided_at < to_ms(oldest) {
                    conn.prepare_cached("UPDATE push_outbox SET state = 'failed' WHERE id = ?1")?
                        .execute(params![id])?;
                    continue;
                }
                let sub = load_subscription(conn, person_id)?
                    .filter(|s| s.status == SubscriptionStatus::Active);
                let Some(sub) = sub else {
                    conn.prepare_cached("UPDATE push_outbox SET state = 'dropped' WHERE id = ?1")?
                        .execute(params![id])?;
                    continue;
                };
                conn.prepare_cached("UPDATE push_outbox SET next_attempt_at = ?2 WHERE id = ?1")?
                    .execute(params![id, to_ms(now + lease)])?;
                let record = conn
                    .prepare_cached(&format!(
                        "SELECT {OUTBOX_COLUMNS} FROM push_outbox WHERE id = ?1"
                    ))?
                    .query_row(params![id], |r| Ok(outbox_from_row(r)))??;
                out.push(OutboxItem {
                    id,
                    person_id,
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
            Ok(out)
        })
        .await
    }

    async fn record_delivery(&self, r: DeliveryReport) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO push_deliveries (outbox_id, at, status_code, error) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![r.outbox_id, to_ms(r.at), r.status_code, r.error])?;
            let at = to_ms(r.at);
            let (state, next, sent_at) = match r.outcome {
                DeliveryOutcome::Sent => ("sent", None, Some(at)),
                DeliveryOutcome::Gone => ("gone", None, None),
                DeliveryOutcome::RetryAt(t) => ("pending", Some(to_ms(t)), None),
                DeliveryOutcome::Failed => ("failed", None, None),
            };
            let changed = conn
                .prepare_cached(
                    "UPDATE push_outbox SET state = ?2, attempts = attempts + 1, \
                     next_attempt_at = coalesce(?3, next_attempt_at), \
                     last_status = ?4, sent_at = ?5 WHERE id = ?1 AND state = 'pending'",
                )?
                .execute(params![r.outbox_id, state, next, r.status_code, sent_at])?;
            if changed == 1 && r.outcome == DeliveryOutcome::Gone {
                conn.prepare_cached(
                    "UPDATE push_subscriptions SET status = 'gone', gone_at = ?3, \
                     updated_at = ?3, next_check_at = NULL \
                     WHERE person_id = (SELECT person_id FROM push_outbox WHERE id = ?1) \
                     AND endpoint = ?2 AND status = 'active'",
                )?
                .execute(params![r.outbox_id, r.endpoint, at])?;
                // Nothing else can reach the person through it.
                conn.prepare_cached(
                    "UPDATE push_outbox SET state = 'dropped' WHERE state = 'pending' \
                     AND person_id = (SELECT person_id FROM push_outbox WHERE id = ?1)",
                )?
                .execute(params![r.outbox_id])?;
            }
            Ok(())
        })
        .await
    }

    async fn push_outbox(&self, person_id: i64) -> Result<Vec<OutboxRecord>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM push_outbox WHERE person_id = ?1 ORDER BY id"
            ))?;
            let mut rows = stmt.query(params![person_id])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(outbox_from_row(r)?);
            }
            Ok(out)
        })
        .await
    }

    async fn push_deliveries(&self, outbox_id: i64) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT outbox_id, at, status_code, error FROM push_deliveries \
                 WHERE outbox_id = ?1 ORDER BY id",
            )?;
            let mut rows = stmt.query(params![outbox_id])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(DeliveryRecord {
                    outbox_id: r.get(0)?,
                    at: from_ms(r.get(1)?)?,
                    status_code: r.get(2)?,
                    error: r.get(3)?,
                });
            }
            Ok(out)
        })
        .await
    }
}
