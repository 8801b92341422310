//! [`SignalStore`] on PostgreSQL. Raising relies on the `signals_once`
//! unique constraint, so nodes racing to raise the same occurrence store it
//! once; a review step holds the signal's row lock.

use amina_domain::signal::{check_review, SignalStatus, SignalSubject};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{db_error, execute, get, query, query_one, query_opt, ts, PostgresStore};
use crate::signals::{check_new, parse_kind, parse_status, subject_key};
use crate::time::to_system;
use crate::*;

const COLUMNS: &str = "id, kind, person_id, address_id, dedup_key, raised_at, score, \
     explanation, evidence, status, assigned_to, updated_at, decided_by, decision_reason, \
     anomaly_score, anomaly_top";

/// The queue's order: ranked by anomaly score, unscored after, newest first.
const RANKED: &str = "anomaly_score DESC NULLS LAST, raised_at DESC, id DESC";

fn signal_from_row(row: &Row) -> Result<SignalRecord, StoreError> {
    let person_id: Option<i64> = get(row, 2)?;
    let address_id: Option<String> = get(row, 3)?;
    let subject = match (person_id, address_id) {
        (Some(p), None) => SignalSubject::Person(p),
        (None, Some(a)) => SignalSubject::Address(a),
        _ => return Err(StoreError::Internal("signal without one subject".into())),
    };
    Ok(SignalRecord {
        id: get(row, 0)?,
        kind: parse_kind(get(row, 1)?)?,
        subject,
        dedup_key: get(row, 4)?,
        raised_at: ts(row, 5)?,
        score: get(row, 6)?,
        explanation: get(row, 7)?,
        evidence: get(row, 8)?,
        status: parse_status(get(row, 9)?)?,
        assigned_to: get(row, 10)?,
        updated_at: ts(row, 11)?,
        decided_by: get(row, 12)?,
        decision_reason: get(row, 13)?,
        anomaly: match (
            get::<Option<f64>>(row, 14)?,
            get::<Option<serde_json::Value>>(row, 15)?,
        ) {
            (Some(score), top) => Some(AnomalyRank {
                score,
                top: match top {
                    Some(t) => serde_json::from_value(t)
                        .map_err(|e| StoreError::Internal(format!("bad stored anomaly: {e}")))?,
                    None => Vec::new(),
                },
            }),
            (None, _) => None,
        },
    })
}

async fn load<C: GenericClient>(
    c: &C,
    id: i64,
    lock: bool,
) -> Result<Option<SignalRecord>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM signals WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    query_opt(c, &sql, &[&id])
        .await?
        .map(|r| signal_from_row(&r))
        .transpose()
}

/// Insert a signal once per (kind, subject, key), inside the caller's
/// transaction when given one (ingest raises rule signals this way).
pub(super) async fn insert_signal<C: GenericClient>(
    c: &C,
    signal: &NewSignal,
) -> Result<RaisedSignal, StoreError> {
    insert_ranked_signal(c, signal, None).await
}

/// [`insert_signal`] with the person-day's anomaly score.
pub(super) async fn insert_ranked_signal<C: GenericClient>(
    c: &C,
    signal: &NewSignal,
    rank: Option<&AnomalyRank>,
) -> Result<RaisedSignal, StoreError> {
    let anomaly_score = rank.map(|r| r.score);
    let anomaly_top = rank
        .map(|r| serde_json::to_value(&r.top))
        .transpose()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    let (person_id, address_id) = match &signal.subject {
        SignalSubject::Person(p) => (Some(*p), None),
        SignalSubject::Address(a) => (None, Some(a.clone())),
    };
    let subject = subject_key(&signal.subject);
    let inserted = query_opt(
        c,
        "INSERT INTO signals (kind, subject, person_id, address_id, dedup_key, raised_at, \
         score, explanation, evidence, updated_at, anomaly_score, anomaly_top) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $6, $10, $11) \
         ON CONFLICT ON CONSTRAINT signals_once DO NOTHING RETURNING id",
        &[
            &signal.kind.code(),
            &subject,
            &person_id,
            &address_id,
            &signal.dedup_key,
            &to_system(signal.raised_at),
            &signal.score,
            &signal.explanation,
            &signal.evidence,
            &anomaly_score,
            &anomaly_top,
        ],
    )
    .await?;
    if let Some(row) = inserted {
        return Ok(RaisedSignal {
            id: get(&row, 0)?,
            created: true,
        });
    }
    let row = query_one(
        c,
        "SELECT id FROM signals WHERE kind = $1 AND subject = $2 AND dedup_key = $3",
        &[&signal.kind.code(), &subject, &signal.dedup_key],
    )
    .await?;
    Ok(RaisedSignal {
        id: get(&row, 0)?,
        created: false,
    })
}

/// Apply a review step inside the caller's transaction (also used by the
/// console's audited review).
pub(super) async fn apply_review<C: GenericClient>(
    tx: &C,
    review: &SignalReview,
) -> Result<SignalRecord, StoreError> {
    let current = load(tx, review.signal_id, true)
        .await?
        .ok_or(StoreError::UnknownSignal)?;
    check_review(current.status, review.to, review.reason.as_deref())?;
    let at = to_system(review.at);
    let assigned = match review.to {
        SignalStatus::InReview => Some(review.actor.clone()),
        SignalStatus::Open => None,
        _ => current.assigned_to.clone(),
    };
    let (decided_by, reason) = if review.to.is_decided() {
        (Some(review.actor.clone()), review.reason.clone())
    } else {
        (None, None)
    };
    execute(
        tx,
        "UPDATE signals SET status = $2, assigned_to = $3, updated_at = $4, \
         decided_by = $5, decision_reason = $6 WHERE id = $1",
        &[
            &review.signal_id,
            &review.to.code(),
            &assigned,
            &at,
            &decided_by,
            &reason,
        ],
    )
    .await?;
    execute(
        tx,
        "INSERT INTO signal_reviews (signal_id, at, actor, from_status, to_status, reason) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &review.signal_id,
            &at,
            &review.actor,
            &current.status.code(),
            &review.to.code(),
            &review.reason,
        ],
    )
    .await?;
    load(tx, review.signal_id, false)
        .await?
        .ok_or(StoreError::UnknownSignal)
}

#[async_trait]
impl SignalStore for PostgresStore {
    async fn raise_signal(&self, signal: NewSignal) -> Result<RaisedSignal, StoreError> {
        check_new(&signal)?;
        let client = self.client().await?;
        insert_signal(&client, &signal).await
    }

    async fn raise_ranked_signal(
        &self,
        signal: NewSignal,
        rank: Option<AnomalyRank>,
    ) -> Result<RaisedSignal, StoreError> {
        check_new(&signal)?;
        let client = self.client().await?;
        insert_ranked_signal(&client, &signal, rank.as_ref()).await
    }

    async fn signals(&self, q: SignalQuery) -> Result<Vec<SignalRecord>, StoreError> {
        let kind = q.kind.map(|k| k.code().to_string());
        let statuses: Vec<String> = q.statuses.iter().map(|s| s.code().to_string()).collect();
        let limit = i64::from(q.limit);
        let mut sql = format!("SELECT {COLUMNS} FROM signals WHERE true");
        let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(p) = &q.person_id {
            args.push(p);
            sql.push_str(&format!(" AND person_id = ${}", args.len()));
        }
        if let Some(a) = &q.address_id {
            args.push(a);
            sql.push_str(&format!(" AND address_id = ${}", args.len()));
        }
        if let Some(d) = &q.district {
            args.push(d);
            sql.push_str(&format!(
                " AND {}",
                crate::spotcheck::signal_in_district(&format!("${}", args.len()))
            ));
        }
        if let Some(k) = &kind {
            args.push(k);
            sql.push_str(&format!(" AND kind = ${}", args.len()));
        }
        if !statuses.is_empty() {
            args.push(&statuses);
            sql.push_str(&format!(" AND status = ANY(${})", args.len()));
        }
        args.push(&limit);
        sql.push_str(&format!(" ORDER BY {RANKED} LIMIT ${}", args.len()));
        let client = self.client().await?;
        query(&client, &sql, &args)
            .await?
            .iter()
            .map(signal_from_row)
            .collect()
    }

    async fn signal(&self, id: i64) -> Result<Option<SignalRecord>, StoreError> {
        let client = self.client().await?;
        load(&client, id, false).await
    }

    async fn review_signal(&self, review: SignalReview) -> Result<SignalRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let after = apply_review(&tx, &review).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(after)
    }

    async fn signal_reviews(&self, id: i64) -> Result<Vec<SignalReviewRecord>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT at, actor, from_status, to_status, reason FROM signal_reviews \
             WHERE signal_id = $1 ORDER BY id",
            &[&id],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SignalReviewRecord {
                    at: ts(r, 0)?,
                    actor: get(r, 1)?,
                    from: parse_status(get(r, 2)?)?,
                    to: parse_status(get(r, 3)?)?,
                    reason: get(r, 4)?,
                })
            })
            .collect()
    }
}
