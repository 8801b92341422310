//! SQLite side of [`crate::IntegrationStore`] (semantics in
//! `crate::integration`). The single writer makes every write here serial,
//! so publishing the feed needs no lock of its own.

use std::sync::Arc;

use amina_domain::calendar::ProductionCalendar;
use amina_domain::integration::{
    decide, Action, EventBody, InboundEvent, Outcome, OutsideRule, PersonFacts,
};
use amina_domain::monitor::{Monitor, RegistrationStatus};
use amina_domain::reminders::Notice;
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{add_event, load_person, record_deregistration, signals, SqliteStore};
use crate::integration::{event_of, history_detail, outcome_of};
use crate::time::{from_ms, to_ms};
use crate::*;

/// Write a feed row inside the caller's transaction (the outbox half of
/// "the change and its publication commit together").
pub(super) fn feed_insert(
    conn: &Connection,
    kind: FeedKind,
    person_id: i64,
    occurred_at: Timestamp,
    payload: serde_json::Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO integration_feed (kind, person_id, card_number, occurred_at, payload, \
         created_at) SELECT ?1, id, card_number, ?3, ?4, ?5 FROM persons WHERE id = ?2",
    )?
    .execute(params![
        kind.as_str(),
        person_id,
        to_ms(occurred_at),
        payload.to_string(),
        to_ms(now)
    ])?;
    Ok(())
}

const EVENT_COLUMNS: &str =
    "id, sender, event, received_at, status, outcome, person_id, decided_at, replays";

fn event_from_row(row: &Row<'_>) -> Result<EventRecord, StoreError> {
    let event: String = row.get(2)?;
    let outcome: String = row.get(5)?;
    Ok(EventRecord {
        id: row.get(0)?,
        sender: row.get(1)?,
        event: event_of(&event)?,
        received_at: from_ms(row.get(3)?)?,
        status: row.get(4)?,
        outcome: outcome_of(&outcome)?,
        person_id: row.get(6)?,
        decided_at: from_ms(row.get(7)?)?,
        replays: row.get(8)?,
    })
}

fn load_event(conn: &Connection, id: i64) -> Result<Option<EventRecord>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM integration_events WHERE id = ?1"
    ))?
    .query_row(params![id], |r| Ok(event_from_row(r)))
    .optional()?
    .transpose()
}

/// The person holding `card` now, or who held it before a reissue.
fn person_of_card(conn: &Connection, card: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM persons WHERE card_number = ?1 \
             UNION ALL SELECT person_id FROM person_cards WHERE card_number = ?1 LIMIT 1",
        )?
        .query_row(params![card], |r| r.get(0))
        .optional()?)
}

/// Decide an event on the current data and apply the decision; returns the
/// outcome and the person.
fn decide_and_apply(
    conn: &Connection,
    monitor: &Monitor,
    sender: &str,
    event: &InboundEvent,
    pilot: &[String],
    received_at: Timestamp,
    now: Timestamp,
) -> Result<(Outcome, Option<i64>), StoreError> {
    let pilot: Vec<&str> = pilot.iter().map(String::as_str).collect();
    let person_id = person_of_card(conn, event.card_number.as_str())?;
    let facts = match person_id {
        None => None,
        Some(pid) => {
            let mut person = load_person(conn, pid)?.ok_or(StoreError::UnknownPerson)?;
            if let Some(d) = monitor.overdue(&person.state, now) {
                record_deregistration(
                    conn,
                    pid,
                    person.registration_id,
                    &d,
                    super::DECIDED_BY_RULE,
                    now,
                )?;
                conn.execute(
                    "UPDATE persons SET status = 'deregistered' WHERE id = ?1",
                    params![pid],
                )?;
                person.state.status = RegistrationStatus::Deregistered;
            }
            let card_changed_at: Option<i64> = conn.query_row(
                "SELECT card_changed_at FROM persons WHERE id = ?1",
                params![pid],
                |r| r.get(0),
            )?;
            let new_card_taken = match &event.body {
                EventBody::CardReissued {
                    new_card_number, ..
                } => person_of_card(conn, new_card_number.as_str())?.is_some_and(|o| o != pid),
                _ => false,
            };
            let facts = PersonFacts {
                status: person.state.status,
                registration_started_at: person.state.registration_started_at,
                current_card: person.card_number.clone(),
                card_changed_at: card_changed_at.map(from_ms).transpose()?,
                new_card_taken,
            };
            Some((person, facts))
        }
    };
    let decision = decide(
        event,
        facts.as_ref().map(|(_, f)| f),
        &pilot,
        sender,
        received_at,
    );
    if let Some((person, _)) = &facts {
        let pid = person.person_id;
        match &decision.action {
            Action::None => {}
            Action::Deregister(d) => {
                let decided_by = format!("integration:{sender}");
                if record_deregistration(conn, pid, person.registration_id, d, &decided_by, now)? {
                    conn.execute(
                        "UPDATE persons SET status = 'deregistered' WHERE id = ?1",
                        params![pid],
                    )?;
                    // Tell the person soon: the push rules look at them now.
                    conn.execute(
                        "UPDATE push_subscriptions SET next_check_at = ?2 \
                         WHERE person_id = ?1 AND status = 'active'",
                        params![pid, to_ms(now)],
                    )?;
                }
            }
            Action::ReplaceCard {
                new_card_number,
                valid_until,
            } => {
                let old = person.card_number.as_str();
                conn.execute(
                    "INSERT INTO cards (number, secret_hash, name_latin, name_cyrillic, \
                     citizenship, birth_date, purpose, valid_until, imported_at, updated_at) \
                     SELECT ?1, secret_hash, name_latin, name_cyrillic, citizenship, birth_date, \
                     purpose, ?2, ?3, ?3 FROM cards WHERE number = ?4 \
                     ON CONFLICT (number) DO NOTHING",
                    params![
                        new_card_number.as_str(),
                        valid_until.to_string(),
                        to_ms(now),
                        old
                    ],
                )?;
                conn.execute(
                    "INSERT INTO person_cards (card_number, person_id, replaced_at, replaced_by) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (card_number) DO UPDATE SET \
                     person_id = excluded.person_id, replaced_at = excluded.replaced_at, \
                     replaced_by = excluded.replaced_by",
                    params![old, pid, to_ms(event.occurred_at), new_card_number.as_str()],
                )?;
                conn.execute(
                    "DELETE FROM person_cards WHERE card_number = ?1",
                    params![new_card_number.as_str()],
                )?;
                conn.execute(
                    "UPDATE persons SET card_number = ?2, card_changed_at = ?3 WHERE id = ?1",
                    params![pid, new_card_number.as_str(), to_ms(event.occurred_at)],
                )?;
            }
        }
        add_event(
            conn,
            pid,
            now,
            "federal_event",
            &format!("integration:{sender}"),
            history_detail(event, sender, decision.outcome),
        )?;
    }
    if matches!(event.body, EventBody::DocumentInvalidated)
        && !matches!(
            decision.outcome,
            Outcome::CardNotCurrent | Outcome::RegisteredInPilot
        )
    {
        conn.execute(
            "UPDATE cards SET invalidated_at = COALESCE(invalidated_at, ?2) WHERE number = ?1",
            params![event.card_number.as_str(), to_ms(event.occurred_at)],
        )?;
    }
    Ok((decision.outcome, person_id))
}

fn rejection_from_row(row: &Row<'_>) -> Result<RejectionRecord, StoreError> {
    Ok(RejectionRecord {
        id: row.get(0)?,
        rejection: Rejection {
            sender: row.get(1)?,
            event_id: row.get(2)?,
            received_at: from_ms(row.get(3)?)?,
            error: row.get(4)?,
            message: row.get(5)?,
        },
    })
}

#[async_trait]
impl IntegrationStore for SqliteStore {
    async fn receive_event(
        &self,
        monitor: &Monitor,
        new: NewEvent,
        pilot: Vec<String>,
        now: Timestamp,
    ) -> Result<Receipt, StoreError> {
        let monitor = monitor.clone();
        self.write(move |conn| {
            let e = &new.event;
            let json =
                serde_json::to_string(e).map_err(|x| StoreError::Internal(x.to_string()))?;
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO integration_events (sender, event_id, kind, card_number, \
                     occurred_at, received_at, event, digest, status, outcome, decided_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'unknown_person', 'unknown_person', ?9) \
                     ON CONFLICT (sender, event_id) DO NOTHING",
                )?
                .execute(params![
                    new.sender,
                    e.event_id.as_str(),
                    e.body.kind().code(),
                    e.card_number.as_str(),
                    to_ms(e.occurred_at),
                    to_ms(new.received_at),
                    json,
                    new.digest,
                    to_ms(now),
                ])?;
            let (id, digest): (i64, String) = conn.query_row(
                "SELECT id, digest FROM integration_events WHERE sender = ?1 AND event_id = ?2",
                params![new.sender, e.event_id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if inserted == 0 {
                if digest != new.digest {
                    return Err(IntegrationError::EventIdReused {
                        event_id: e.event_id.as_str().to_string(),
                    }
                    .into());
                }
                let record = load_event(conn, id)?.ok_or(IntegrationError::UnknownEvent)?;
                return Ok(Receipt {
                    record,
                    duplicate: true,
                });
            }
            let (outcome, person_id) =
                decide_and_apply(conn, &monitor, &new.sender, e, &pilot, new.received_at, now)?;
            conn.execute(
                "UPDATE integration_events SET status = ?2, outcome = ?3, person_id = ?4 \
                 WHERE id = ?1",
                params![id, outcome.status(), outcome.code(), person_id],
            )?;
            let record = load_event(conn, id)?.ok_or(IntegrationError::UnknownEvent)?;
            Ok(Receipt {
                record,
                duplicate: false,
            })
        })
        .await
    }

    async fn replay_event(
        &self,
        monitor: &Monitor,
        id: i64,
        pilot: Vec<String>,
        now: Timestamp,
    ) -> Result<EventRecord, StoreError> {
        let monitor = monitor.clone();
        self.write(move |conn| {
            let record = load_event(conn, id)?.ok_or(IntegrationError::UnknownEvent)?;
            if record.outcome.applied() {
                return Ok(record);
            }
            let (outcome, person_id) = decide_and_apply(
                conn,
                &monitor,
                &record.sender,
                &record.event,
                &pilot,
                record.received_at,
                now,
            )?;
            conn.execute(
                "UPDATE integration_events SET status = ?2, outcome = ?3, person_id = ?4, \
                 decided_at = ?5, replays = replays + 1 WHERE id = ?1",
                params![id, outcome.status(), outcome.code(), person_id, to_ms(now)],
            )?;
            load_event(conn, id)?.ok_or(IntegrationError::UnknownEvent.into())
        })
        .await
    }

    async fn integration_event(&self, id: i64) -> Result<Option<EventRecord>, StoreError> {
        self.read(move |conn| load_event(conn, id)).await
    }

    async fn integration_events(&self, q: EventQuery) -> Result<Vec<EventRecord>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM integration_events \
                 WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR sender = ?2) \
                 AND (?3 IS NULL OR person_id = ?3) ORDER BY id DESC LIMIT ?4"
            ))?;
            let rows = stmt.query_map(
                params![q.status, q.sender, q.person_id, i64::from(q.limit.max(1))],
                |r| Ok(event_from_row(r)),
            )?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r??);
            }
            Ok(out)
        })
        .await
    }

    async fn record_rejection(&self, r: Rejection) -> Result<i64, StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO integration_rejections (sender, event_id, received_at, error, message) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                r.sender,
                r.event_id,
                to_ms(r.received_at),
                r.error,
                r.message
            ])?;
            Ok(conn.last_insert_rowid())
        })
        .await
    }

    async fn rejections(
        &self,
        sender: Option<String>,
        limit: u32,
    ) -> Result<Vec<RejectionRecord>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, sender, event_id, received_at, error, message \
                 FROM integration_rejections WHERE (?1 IS NULL OR sender = ?1) \
                 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![sender, i64::from(limit.max(1))], |r| {
                Ok(rejection_from_row(r))
            })?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r??);
            }
            Ok(out)
        })
        .await
    }

    async fn publish_feed(&self, now: Timestamp, limit: u32) -> Result<u32, StoreError> {
        self.write(move |conn| {
            let last: i64 = conn.query_row(
                "SELECT COALESCE(MAX(position), 0) FROM integration_feed",
                [],
                |r| r.get(0),
            )?;
            let ids: Vec<i64> = conn
                .prepare_cached(
                    "SELECT id FROM integration_feed WHERE position IS NULL ORDER BY id LIMIT ?1",
                )?
                .query_map(params![i64::from(limit.max(1))], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut set = conn.prepare_cached(
                "UPDATE integration_feed SET position = ?2, published_at = ?3 WHERE id = ?1",
            )?;
            for (i, id) in ids.iter().enumerate() {
                set.execute(params![id, last + 1 + i as i64, to_ms(now)])?;
            }
            Ok(ids.len() as u32)
        })
        .await
    }

    async fn feed(&self, after: i64, limit: u32) -> Result<Vec<FeedEntry>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT position, kind, person_id, card_number, occurred_at, payload, published_at \
                 FROM integration_feed WHERE position > ?1 ORDER BY position LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![after, i64::from(limit.max(1))])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let kind: String = row.get(1)?;
                let payload: String = row.get(5)?;
                out.push(FeedEntry {
                    position: row.get(0)?,
                    kind: FeedKind::parse(&kind)?,
                    person_id: row.get(2)?,
                    card_number: row.get(3)?,
                    occurred_at: from_ms(row.get(4)?)?,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| StoreError::Internal(e.to_string()))?,
                    published_at: from_ms(row.get(6)?)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn unpublished_feed(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT count(*) FROM integration_feed WHERE position IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
        .await
    }

    async fn sweep_outside(
        &self,
        rule: OutsideRule,
        calendar: Arc<ProductionCalendar>,
        now: Timestamp,
        push_not_before: Timestamp,
        limit: u32,
    ) -> Result<OutsideReport, StoreError> {
        self.write(move |conn| {
            // N working days are at least N calendar days: only people
            // outside that long can be due.
            let cutoff = now - SignedDuration::from_hours(24 * i64::from(rule.working_days));
            let due: Vec<i64> = conn
                .prepare_cached(
                    "SELECT id FROM persons WHERE status = 'registered' AND presence = 'outside' \
                     AND presence_since <= ?1 AND outside_noticed_since IS NOT presence_since \
                     ORDER BY presence_since LIMIT ?2",
                )?
                .query_map(params![to_ms(cutoff), i64::from(limit.max(1))], |r| {
                    r.get(0)
                })?
                .collect::<Result<_, _>>()?;
            let mut report = OutsideReport::default();
            for pid in due {
                report.people += 1;
                let Some(person) = load_person(conn, pid)? else {
                    continue;
                };
                let elsewhere: Option<i64> = conn.query_row(
                    "SELECT MAX(occurred_at) FROM integration_events \
                     WHERE person_id = ?1 AND kind = 'registered_in_region'",
                    params![pid],
                    |r| r.get(0),
                )?;
                let signal = rule
                    .check(
                        &calendar,
                        &person.state,
                        elsewhere.map(from_ms).transpose()?,
                        now,
                    )
                    .map_err(|e| StoreError::Rule(e.to_string()))?;
                let (Some(signal), Some(since)) = (signal, person.state.presence_since) else {
                    continue;
                };
                let raised = signals::insert_signal(conn, &rule_signal(pid, signal))?;
                let notice = Notice::OutsideTooLong { since };
                conn.prepare_cached(
                    "INSERT INTO push_outbox (person_id, occurrence_key, kind, notice, decided_at, \
                     state, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6) \
                     ON CONFLICT (person_id, occurrence_key) DO NOTHING",
                )?
                .execute(params![
                    pid,
                    format!("outside_too_long:{}", since.as_millisecond()),
                    notice.kind(),
                    crate::push::notice_json(&notice)?,
                    to_ms(now),
                    to_ms(push_not_before),
                ])?;
                conn.execute(
                    "UPDATE persons SET outside_noticed_since = ?2 WHERE id = ?1",
                    params![pid, to_ms(since)],
                )?;
                if raised.created {
                    report.raised += 1;
                }
            }
            Ok(report)
        })
        .await
    }
}
