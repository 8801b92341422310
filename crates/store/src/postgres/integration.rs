//! PostgreSQL side of [`crate::IntegrationStore`] (semantics in
//! `crate::integration`, mirrored from the SQLite backend).
//!
//! Concurrency: an event row is inserted first (`ON CONFLICT DO NOTHING`,
//! which waits for a concurrent insert of the same id to commit), so one
//! delivery decides and the other answers "duplicate". The person is locked
//! (`FOR UPDATE`) before the decision. Publishing the feed takes the row
//! lock of `integration_feed_head`, so publishers run one at a time and each
//! sees the rows committed before it (READ COMMITTED takes a new snapshot
//! per statement, after the lock is granted).

use std::sync::Arc;

use amina_domain::calendar::ProductionCalendar;
use amina_domain::integration::{
    decide, Action, EventBody, InboundEvent, Outcome, OutsideRule, PersonFacts,
};
use amina_domain::monitor::{Monitor, RegistrationStatus};
use amina_domain::reminders::Notice;
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use jiff::{SignedDuration, Timestamp};
use tokio_postgres::Row;

use super::{
    add_event, db_error, execute, get, load_person, opt_ts, query, query_one, query_opt,
    record_deregistration, signals, ts, PgDate, PostgresStore,
};
use crate::integration::{history_detail, outcome_of};
use crate::time::to_system;
use crate::*;

/// Write a feed row inside the caller's transaction.
pub(super) async fn feed_insert<C: GenericClient>(
    c: &C,
    kind: FeedKind,
    person_id: i64,
    occurred_at: Timestamp,
    payload: serde_json::Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    execute(
        c,
        "INSERT INTO integration_feed (kind, person_id, card_number, occurred_at, payload, \
         created_at) SELECT $1, id, card_number, $3, $4, $5 FROM persons WHERE id = $2",
        &[
            &kind.as_str(),
            &person_id,
            &to_system(occurred_at),
            &payload,
            &to_system(now),
        ],
    )
    .await?;
    Ok(())
}

const EVENT_COLUMNS: &str =
    "id, sender, event, received_at, status, outcome, person_id, decided_at, replays";

fn event_from_row(row: &Row) -> Result<EventRecord, StoreError> {
    let event: serde_json::Value = get(row, 2)?;
    let outcome: String = get(row, 5)?;
    let replays: i32 = get(row, 8)?;
    Ok(EventRecord {
        id: get(row, 0)?,
        sender: get(row, 1)?,
        event: serde_json::from_value(event)
            .map_err(|e| StoreError::Internal(format!("bad stored event: {e}")))?,
        received_at: ts(row, 3)?,
        status: get(row, 4)?,
        outcome: outcome_of(&outcome)?,
        person_id: get(row, 6)?,
        decided_at: ts(row, 7)?,
        replays: u32::try_from(replays).unwrap_or(0),
    })
}

async fn load_event<C: GenericClient>(
    c: &C,
    id: i64,
    lock: bool,
) -> Result<Option<EventRecord>, StoreError> {
    let sql = if lock {
        format!("SELECT {EVENT_COLUMNS} FROM integration_events WHERE id = $1 FOR UPDATE")
    } else {
        format!("SELECT {EVENT_COLUMNS} FROM integration_events WHERE id = $1")
    };
    query_opt(c, &sql, &[&id])
        .await?
        .as_ref()
        .map(event_from_row)
        .transpose()
}

async fn person_of_card<C: GenericClient>(c: &C, card: &str) -> Result<Option<i64>, StoreError> {
    match query_opt(
        c,
        "SELECT id FROM persons WHERE card_number = $1 \
         UNION ALL SELECT person_id FROM person_cards WHERE card_number = $1 LIMIT 1",
        &[&card],
    )
    .await?
    {
        Some(row) => Ok(Some(get(&row, 0)?)),
        None => Ok(None),
    }
}

async fn decide_and_apply<C: GenericClient>(
    c: &C,
    monitor: &Monitor,
    sender: &str,
    event: &InboundEvent,
    pilot: &[String],
    received_at: Timestamp,
    now: Timestamp,
) -> Result<(Outcome, Option<i64>), StoreError> {
    let pilot: Vec<&str> = pilot.iter().map(String::as_str).collect();
    let person_id = person_of_card(c, event.card_number.as_str()).await?;
    let facts = match person_id {
        None => None,
        Some(pid) => {
            let mut person = load_person(c, pid, true)
                .await?
                .ok_or(StoreError::UnknownPerson)?;
            if let Some(d) = monitor.overdue(&person.state, now) {
                record_deregistration(
                    c,
                    pid,
                    person.registration_id,
                    &d,
                    super::DECIDED_BY_RULE,
                    now,
                )
                .await?;
                execute(
                    c,
                    "UPDATE persons SET status = 'deregistered' WHERE id = $1",
                    &[&pid],
                )
                .await?;
                person.state.status = RegistrationStatus::Deregistered;
            }
            let row = query_one(
                c,
                "SELECT card_changed_at FROM persons WHERE id = $1",
                &[&pid],
            )
            .await?;
            let card_changed_at = opt_ts(&row, 0)?;
            let new_card_taken = match &event.body {
                EventBody::CardReissued {
                    new_card_number, ..
                } => person_of_card(c, new_card_number.as_str())
                    .await?
                    .is_some_and(|o| o != pid),
                _ => false,
            };
            let facts = PersonFacts {
                status: person.state.status,
                registration_started_at: person.state.registration_started_at,
                current_card: person.card_number.clone(),
                card_changed_at,
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
                if record_deregistration(c, pid, person.registration_id, d, &decided_by, now)
                    .await?
                {
                    execute(
                        c,
                        "UPDATE persons SET status = 'deregistered' WHERE id = $1",
                        &[&pid],
                    )
                    .await?;
                    execute(
                        c,
                        "UPDATE push_subscriptions SET next_check_at = $2 \
                         WHERE person_id = $1 AND status = 'active'",
                        &[&pid, &to_system(now)],
                    )
                    .await?;
                }
            }
            Action::ReplaceCard {
                new_card_number,
                valid_until,
            } => {
                let old = person.card_number.as_str();
                execute(
                    c,
                    "INSERT INTO cards (number, secret_hash, name_latin, name_cyrillic, \
                     citizenship, birth_date, purpose, valid_until, imported_at, updated_at) \
                     SELECT $1, secret_hash, name_latin, name_cyrillic, citizenship, birth_date, \
                     purpose, $2, $3, $3 FROM cards WHERE number = $4 \
                     ON CONFLICT (number) DO NOTHING",
                    &[
                        &new_card_number.as_str(),
                        &PgDate(*valid_until),
                        &to_system(now),
                        &old,
                    ],
                )
                .await?;
                execute(
                    c,
                    "INSERT INTO person_cards (card_number, person_id, replaced_at, replaced_by) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (card_number) DO UPDATE SET \
                     person_id = excluded.person_id, replaced_at = excluded.replaced_at, \
                     replaced_by = excluded.replaced_by",
                    &[
                        &old,
                        &pid,
                        &to_system(event.occurred_at),
                        &new_card_number.as_str(),
                    ],
                )
                .await?;
                execute(
                    c,
                    "DELETE FROM person_cards WHERE card_number = $1",
                    &[&new_card_number.as_str()],
                )
                .await?;
                execute(
                    c,
                    "UPDATE persons SET card_number = $2, card_changed_at = $3 WHERE id = $1",
                    &[
                        &pid,
                        &new_card_number.as_str(),
                        &to_system(event.occurred_at),
                    ],
                )
                .await?;
            }
        }
        add_event(
            c,
            pid,
            now,
            "federal_event",
            &format!("integration:{sender}"),
            history_detail(event, sender, decision.outcome),
        )
        .await?;
    }
    if matches!(event.body, EventBody::DocumentInvalidated)
        && !matches!(
            decision.outcome,
            Outcome::CardNotCurrent | Outcome::RegisteredInPilot
        )
    {
        execute(
            c,
            "UPDATE cards SET invalidated_at = COALESCE(invalidated_at, $2) WHERE number = $1",
            &[&event.card_number.as_str(), &to_system(event.occurred_at)],
        )
        .await?;
    }
    Ok((decision.outcome, person_id))
}

fn rejection_from_row(row: &Row) -> Result<RejectionRecord, StoreError> {
    Ok(RejectionRecord {
        id: get(row, 0)?,
        rejection: Rejection {
            sender: get(row, 1)?,
            event_id: get(row, 2)?,
            received_at: ts(row, 3)?,
            error: get(row, 4)?,
            message: get(row, 5)?,
        },
    })
}

#[async_trait]
impl IntegrationStore for PostgresStore {
    async fn receive_event(
        &self,
        monitor: &Monitor,
        new: NewEvent,
        pilot: Vec<String>,
        now: Timestamp,
    ) -> Result<Receipt, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let e = &new.event;
        let json = serde_json::to_value(e).map_err(|x| StoreError::Internal(x.to_string()))?;
        let inserted = query_opt(
            &tx,
            "INSERT INTO integration_events (sender, event_id, kind, card_number, occurred_at, \
             received_at, event, digest, status, outcome, decided_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'unknown_person', 'unknown_person', $9) \
             ON CONFLICT ON CONSTRAINT integration_events_once DO NOTHING RETURNING id",
            &[
                &new.sender,
                &e.event_id.as_str(),
                &e.body.kind().code(),
                &e.card_number.as_str(),
                &to_system(e.occurred_at),
                &to_system(new.received_at),
                &json,
                &new.digest,
                &to_system(now),
            ],
        )
        .await?;
        let id: i64 = match inserted {
            Some(row) => get(&row, 0)?,
            None => {
                let row = query_one(
                    &tx,
                    "SELECT id, digest FROM integration_events WHERE sender = $1 AND event_id = $2",
                    &[&new.sender, &e.event_id.as_str()],
                )
                .await?;
                let digest: String = get(&row, 1)?;
                if digest != new.digest {
                    return Err(IntegrationError::EventIdReused {
                        event_id: e.event_id.as_str().to_string(),
                    }
                    .into());
                }
                let record = load_event(&tx, get(&row, 0)?, false)
                    .await?
                    .ok_or(IntegrationError::UnknownEvent)?;
                tx.commit().await.map_err(db_error)?;
                return Ok(Receipt {
                    record,
                    duplicate: true,
                });
            }
        };
        let (outcome, person_id) =
            decide_and_apply(&tx, monitor, &new.sender, e, &pilot, new.received_at, now).await?;
        execute(
            &tx,
            "UPDATE integration_events SET status = $2, outcome = $3, person_id = $4 WHERE id = $1",
            &[&id, &outcome.status(), &outcome.code(), &person_id],
        )
        .await?;
        let record = load_event(&tx, id, false)
            .await?
            .ok_or(IntegrationError::UnknownEvent)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Receipt {
            record,
            duplicate: false,
        })
    }

    async fn replay_event(
        &self,
        monitor: &Monitor,
        id: i64,
        pilot: Vec<String>,
        now: Timestamp,
    ) -> Result<EventRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let record = load_event(&tx, id, true)
            .await?
            .ok_or(IntegrationError::UnknownEvent)?;
        if record.outcome.applied() {
            tx.commit().await.map_err(db_error)?;
            return Ok(record);
        }
        let (outcome, person_id) = decide_and_apply(
            &tx,
            monitor,
            &record.sender,
            &record.event,
            &pilot,
            record.received_at,
            now,
        )
        .await?;
        execute(
            &tx,
            "UPDATE integration_events SET status = $2, outcome = $3, person_id = $4, \
             decided_at = $5, replays = replays + 1 WHERE id = $1",
            &[
                &id,
                &outcome.status(),
                &outcome.code(),
                &person_id,
                &to_system(now),
            ],
        )
        .await?;
        let record = load_event(&tx, id, false)
            .await?
            .ok_or(IntegrationError::UnknownEvent)?;
        tx.commit().await.map_err(db_error)?;
        Ok(record)
    }

    async fn integration_event(&self, id: i64) -> Result<Option<EventRecord>, StoreError> {
        let client = self.client().await?;
        load_event(&client, id, false).await
    }

    async fn integration_events(&self, q: EventQuery) -> Result<Vec<EventRecord>, StoreError> {
        let client = self.client().await?;
        let limit = i64::from(q.limit.max(1));
        let rows = query(
            &client,
            &format!(
                "SELECT {EVENT_COLUMNS} FROM integration_events \
                 WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR sender = $2) \
                 AND ($3::bigint IS NULL OR person_id = $3) ORDER BY id DESC LIMIT $4"
            ),
            &[&q.status, &q.sender, &q.person_id, &limit],
        )
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn record_rejection(&self, r: Rejection) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = query_one(
            &client,
            "INSERT INTO integration_rejections (sender, event_id, received_at, error, message) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &r.sender,
                &r.event_id,
                &to_system(r.received_at),
                &r.error,
                &r.message,
            ],
        )
        .await?;
        get(&row, 0)
    }

    async fn rejections(
        &self,
        sender: Option<String>,
        limit: u32,
    ) -> Result<Vec<RejectionRecord>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT id, sender, event_id, received_at, error, message FROM integration_rejections \
             WHERE ($1::text IS NULL OR sender = $1) ORDER BY id DESC LIMIT $2",
            &[&sender, &i64::from(limit.max(1))],
        )
        .await?;
        rows.iter().map(rejection_from_row).collect()
    }

    async fn publish_feed(&self, now: Timestamp, limit: u32) -> Result<u32, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let head = query_one(
            &tx,
            "SELECT last_position FROM integration_feed_head WHERE id = 1 FOR UPDATE",
            &[],
        )
        .await?;
        let last: i64 = get(&head, 0)?;
        let n = execute(
            &tx,
            "WITH todo AS (SELECT id, row_number() OVER (ORDER BY id) AS rn \
                 FROM integration_feed WHERE position IS NULL ORDER BY id LIMIT $1) \
             UPDATE integration_feed f SET position = $2 + todo.rn, published_at = $3 \
             FROM todo WHERE f.id = todo.id",
            &[&i64::from(limit.max(1)), &last, &to_system(now)],
        )
        .await?;
        let n_i = i64::try_from(n).map_err(|_| StoreError::Internal("feed count".into()))?;
        execute(
            &tx,
            "UPDATE integration_feed_head SET last_position = $1 WHERE id = 1",
            &[&(last + n_i)],
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn feed(&self, after: i64, limit: u32) -> Result<Vec<FeedEntry>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT position, kind, person_id, card_number, occurred_at, payload, published_at \
             FROM integration_feed WHERE position > $1 ORDER BY position LIMIT $2",
            &[&after, &i64::from(limit.max(1))],
        )
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = get(row, 1)?;
                Ok(FeedEntry {
                    position: get(row, 0)?,
                    kind: FeedKind::parse(&kind)?,
                    person_id: get(row, 2)?,
                    card_number: get(row, 3)?,
                    occurred_at: ts(row, 4)?,
                    payload: get(row, 5)?,
                    published_at: ts(row, 6)?,
                })
            })
            .collect()
    }

    async fn unpublished_feed(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = query_one(
            &client,
            "SELECT count(*) FROM integration_feed WHERE position IS NULL",
            &[],
        )
        .await?;
        Ok(u64::try_from(get::<i64>(&row, 0)?).unwrap_or(0))
    }

    async fn sweep_outside(
        &self,
        rule: OutsideRule,
        calendar: Arc<ProductionCalendar>,
        now: Timestamp,
        push_not_before: Timestamp,
        limit: u32,
    ) -> Result<OutsideReport, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let cutoff = now - SignedDuration::from_hours(24 * i64::from(rule.working_days));
        let due = query(
            &tx,
            "SELECT id FROM persons WHERE status = 'registered' AND presence = 'outside' \
             AND presence_since <= $1 AND outside_noticed_since IS DISTINCT FROM presence_since \
             ORDER BY presence_since LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&to_system(cutoff), &i64::from(limit.max(1))],
        )
        .await?;
        let mut report = OutsideReport::default();
        for row in due {
            let pid: i64 = get(&row, 0)?;
            report.people += 1;
            let Some(person) = load_person(&tx, pid, false).await? else {
                continue;
            };
            let elsewhere = query_one(
                &tx,
                "SELECT MAX(occurred_at) FROM integration_events \
                 WHERE person_id = $1 AND kind = 'registered_in_region'",
                &[&pid],
            )
            .await?;
            let signal = rule
                .check(&calendar, &person.state, opt_ts(&elsewhere, 0)?, now)
                .map_err(|e| StoreError::Rule(e.to_string()))?;
            let (Some(signal), Some(since)) = (signal, person.state.presence_since) else {
                continue;
            };
            let raised = signals::insert_signal(&tx, &rule_signal(pid, signal)).await?;
            let notice = Notice::OutsideTooLong { since };
            let notice_json =
                serde_json::to_value(&notice).map_err(|e| StoreError::Internal(e.to_string()))?;
            execute(
                &tx,
                "INSERT INTO push_outbox (person_id, occurrence_key, kind, notice, decided_at, \
                 state, next_attempt_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6) \
                 ON CONFLICT ON CONSTRAINT push_outbox_once DO NOTHING",
                &[
                    &pid,
                    &format!("outside_too_long:{}", since.as_millisecond()),
                    &notice.kind(),
                    &notice_json,
                    &to_system(now),
                    &to_system(push_not_before),
                ],
            )
            .await?;
            execute(
                &tx,
                "UPDATE persons SET outside_noticed_since = $2 WHERE id = $1",
                &[&pid, &to_system(since)],
            )
            .await?;
            if raised.created {
                report.raised += 1;
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(report)
    }
}
