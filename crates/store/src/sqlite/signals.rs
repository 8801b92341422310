//! [`SignalStore`] on SQLite.

use amina_domain::signal::{check_review, SignalStatus, SignalSubject};
use async_trait::async_trait;
use rusqlite::{params, params_from_iter, OptionalExtension, Row};

use super::SqliteStore;
use crate::signals::{check_new, parse_kind, parse_status, subject_key};
use crate::time::{from_ms, to_ms};
use crate::*;

const COLUMNS: &str = "id, kind, person_id, address_id, dedup_key, raised_at, score, \
     explanation, evidence, status, assigned_to, updated_at, decided_by, decision_reason, \
     anomaly_score, anomaly_top";

/// The queue's order: ranked by anomaly score, unscored after, newest first.
pub(super) const RANKED: &str = "anomaly_score DESC NULLS LAST, raised_at DESC, id DESC";

fn signal_from_row(row: &Row<'_>) -> Result<SignalRecord, StoreError> {
    let person_id: Option<i64> = row.get(2)?;
    let address_id: Option<String> = row.get(3)?;
    let subject = match (person_id, address_id) {
        (Some(p), None) => SignalSubject::Person(p),
        (None, Some(a)) => SignalSubject::Address(a),
        _ => return Err(StoreError::Internal("signal without one subject".into())),
    };
    let evidence: String = row.get(8)?;
    Ok(SignalRecord {
        id: row.get(0)?,
        kind: parse_kind(&row.get::<_, String>(1)?)?,
        subject,
        dedup_key: row.get(4)?,
        raised_at: from_ms(row.get(5)?)?,
        score: row.get(6)?,
        explanation: row.get(7)?,
        evidence: serde_json::from_str(&evidence)
            .map_err(|e| StoreError::Internal(format!("bad stored evidence: {e}")))?,
        status: parse_status(&row.get::<_, String>(9)?)?,
        assigned_to: row.get(10)?,
        updated_at: from_ms(row.get(11)?)?,
        decided_by: row.get(12)?,
        decision_reason: row.get(13)?,
        anomaly: match (
            row.get::<_, Option<f64>>(14)?,
            row.get::<_, Option<String>>(15)?,
        ) {
            (Some(score), top) => Some(AnomalyRank {
                score,
                top: match top {
                    Some(t) => serde_json::from_str(&t)
                        .map_err(|e| StoreError::Internal(format!("bad stored anomaly: {e}")))?,
                    None => Vec::new(),
                },
            }),
            (None, _) => None,
        },
    })
}

fn load(conn: &rusqlite::Connection, id: i64) -> Result<Option<SignalRecord>, StoreError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM signals WHERE id = ?1"))?
        .query_row(params![id], |r| Ok(signal_from_row(r)))
        .optional()?
        .transpose()
}

/// Insert a signal once per (kind, subject, key), inside the caller's
/// transaction (also used by ingest for rule signals).
pub(super) fn insert_signal(
    conn: &rusqlite::Connection,
    signal: &NewSignal,
) -> Result<RaisedSignal, StoreError> {
    insert_ranked_signal(conn, signal, None)
}

/// [`insert_signal`] with the person-day's anomaly score.
pub(super) fn insert_ranked_signal(
    conn: &rusqlite::Connection,
    signal: &NewSignal,
    rank: Option<&AnomalyRank>,
) -> Result<RaisedSignal, StoreError> {
    let top = rank
        .map(|r| serde_json::to_string(&r.top))
        .transpose()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    let (person_id, address_id) = match &signal.subject {
        SignalSubject::Person(p) => (Some(*p), None),
        SignalSubject::Address(a) => (None, Some(a.clone())),
    };
    let subject = subject_key(&signal.subject);
    let inserted = conn
        .prepare_cached(
            "INSERT INTO signals (kind, subject, person_id, address_id, dedup_key, \
             raised_at, score, explanation, evidence, updated_at, anomaly_score, anomaly_top) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?6, ?10, ?11) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            signal.kind.code(),
            subject,
            person_id,
            address_id,
            signal.dedup_key,
            to_ms(signal.raised_at),
            signal.score,
            signal.explanation,
            signal.evidence.to_string(),
            rank.map(|r| r.score),
            top,
        ])?;
    let id: i64 = conn
        .prepare_cached(
            "SELECT id FROM signals WHERE kind = ?1 AND subject = ?2 AND dedup_key = ?3",
        )?
        .query_row(
            params![signal.kind.code(), subject, signal.dedup_key],
            |r| r.get(0),
        )?;
    Ok(RaisedSignal {
        id,
        created: inserted == 1,
    })
}

/// Apply a review step inside the caller's transaction (also used by the
/// console's audited review).
pub(super) fn apply_review(
    conn: &rusqlite::Connection,
    review: &SignalReview,
) -> Result<SignalRecord, StoreError> {
    let current = load(conn, review.signal_id)?.ok_or(StoreError::UnknownSignal)?;
    check_review(current.status, review.to, review.reason.as_deref())?;
    let at = to_ms(review.at);
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
    conn.prepare_cached(
        "UPDATE signals SET status = ?2, assigned_to = ?3, updated_at = ?4, \
         decided_by = ?5, decision_reason = ?6 WHERE id = ?1",
    )?
    .execute(params![
        review.signal_id,
        review.to.code(),
        assigned,
        at,
        decided_by,
        reason
    ])?;
    conn.prepare_cached(
        "INSERT INTO signal_reviews (signal_id, at, actor, from_status, to_status, reason) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        review.signal_id,
        at,
        review.actor,
        current.status.code(),
        review.to.code(),
        review.reason
    ])?;
    load(conn, review.signal_id)?.ok_or(StoreError::UnknownSignal)
}

#[async_trait]
impl SignalStore for SqliteStore {
    async fn raise_signal(&self, signal: NewSignal) -> Result<RaisedSignal, StoreError> {
        check_new(&signal)?;
        self.write(move |conn| insert_signal(conn, &signal)).await
    }

    async fn raise_ranked_signal(
        &self,
        signal: NewSignal,
        rank: Option<AnomalyRank>,
    ) -> Result<RaisedSignal, StoreError> {
        check_new(&signal)?;
        self.write(move |conn| insert_ranked_signal(conn, &signal, rank.as_ref()))
            .await
    }

    async fn signals(&self, query: SignalQuery) -> Result<Vec<SignalRecord>, StoreError> {
        self.read(move |conn| {
            let mut sql = format!("SELECT {COLUMNS} FROM signals WHERE 1 = 1");
            let mut args: Vec<rusqlite::types::Value> = Vec::new();
            if let Some(p) = query.person_id {
                args.push(p.into());
                sql.push_str(&format!(" AND person_id = ?{}", args.len()));
            }
            if let Some(a) = &query.address_id {
                args.push(a.clone().into());
                sql.push_str(&format!(" AND address_id = ?{}", args.len()));
            }
            if let Some(d) = &query.district {
                args.push(d.clone().into());
                sql.push_str(&format!(
                    " AND {}",
                    crate::spotcheck::signal_in_district(&format!("?{}", args.len()))
                ));
            }
            if let Some(k) = query.kind {
                args.push(k.code().to_string().into());
                sql.push_str(&format!(" AND kind = ?{}", args.len()));
            }
            if !query.statuses.is_empty() {
                let mut marks = Vec::new();
                for s in &query.statuses {
                    args.push(s.code().to_string().into());
                    marks.push(format!("?{}", args.len()));
                }
                sql.push_str(&format!(" AND status IN ({})", marks.join(", ")));
            }
            args.push(i64::from(query.limit).into());
            sql.push_str(&format!(" ORDER BY {RANKED} LIMIT ?{}", args.len()));
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), |r| Ok(signal_from_row(r)))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row??);
            }
            Ok(out)
        })
        .await
    }

    async fn signal(&self, id: i64) -> Result<Option<SignalRecord>, StoreError> {
        self.read(move |conn| load(conn, id)).await
    }

    async fn review_signal(&self, review: SignalReview) -> Result<SignalRecord, StoreError> {
        self.write(move |conn| apply_review(conn, &review)).await
    }

    async fn signal_reviews(&self, id: i64) -> Result<Vec<SignalReviewRecord>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT at, actor, from_status, to_status, reason FROM signal_reviews \
                 WHERE signal_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (at, actor, from, to, reason) = row?;
                out.push(SignalReviewRecord {
                    at: from_ms(at)?,
                    actor,
                    from: parse_status(&from)?,
                    to: parse_status(&to)?,
                    reason,
                });
            }
            Ok(out)
        })
        .await
    }
}
