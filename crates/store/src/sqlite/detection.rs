//! [`DetectionStore`] on SQLite.

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::Timestamp;
use rusqlite::{params, OptionalExtension};

use super::{stored_fix_from_row, SqliteStore, STORED_FIX_COLUMNS};
use crate::detection::{group_churn, verdict_from_parts, verdict_parts};
use crate::time::{from_ms, to_ms};
use crate::*;
use amina_domain::detection::address::{HomeVerdict, Resident};
use std::collections::BTreeMap;

#[async_trait]
impl DetectionStore for SqliteStore {
    async fn persons_reporting_since(
        &self,
        since: Timestamp,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM persons WHERE last_monitoring_at >= ?1 AND id > ?2 \
                 ORDER BY id LIMIT ?3",
            )?;
            let ids = stmt
                .query_map(params![to_ms(since), after_id, limit], |r| r.get(0))?
                .collect::<Result<Vec<i64>, _>>()?;
            Ok(ids)
        })
        .await
    }

    async fn fixes_between(
        &self,
        person_id: i64,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredFix>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {STORED_FIX_COLUMNS} FROM fixes WHERE person_id = ?1 \
                 AND recorded_at >= ?2 AND recorded_at < ?3 ORDER BY recorded_at, seq"
            ))?;
            let mut rows = stmt.query(params![person_id, to_ms(from), to_ms(to)])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(stored_fix_from_row(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn detection_history(
        &self,
        person_id: i64,
    ) -> Result<Option<DetectionHistory>, StoreError> {
        self.read(move |conn| {
            let row: Option<(String, String)> = conn
                .prepare_cached(
                    "SELECT last_day, history FROM detection_history WHERE person_id = ?1",
                )?
                .query_row(params![person_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            row.map(|(day, json)| {
                Ok(DetectionHistory {
                    last_day: day
                        .parse::<Date>()
                        .map_err(|e| StoreError::Internal(format!("bad stored day: {e}")))?,
                    history: serde_json::from_str(&json)
                        .map_err(|e| StoreError::Internal(format!("bad stored history: {e}")))?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn save_detection_history(
        &self,
        person_id: i64,
        history: DetectionHistory,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO detection_history (person_id, last_day, history, updated_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (person_id) DO UPDATE SET \
                 last_day = excluded.last_day, history = excluded.history, \
                 updated_at = excluded.updated_at",
            )?
            .execute(params![
                person_id,
                history.last_day.to_string(),
                history.history.to_string(),
                to_ms(now)
            ])?;
            Ok(())
        })
        .await
    }

    async fn save_home_verdict(
        &self,
        person_id: i64,
        address_id: String,
        day: Date,
        verdict: HomeVerdict,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let (code, distance, score) = verdict_parts(&verdict);
            conn.prepare_cached(
                "INSERT INTO detection_homes (person_id, address_id, day, verdict, distance_m, \
                 score, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (person_id) DO UPDATE SET address_id = excluded.address_id, \
                 day = excluded.day, verdict = excluded.verdict, \
                 distance_m = excluded.distance_m, score = excluded.score, \
                 updated_at = excluded.updated_at",
            )?
            .execute(params![
                person_id,
                address_id,
                day.to_string(),
                code,
                distance,
                score,
                to_ms(now)
            ])?;
            Ok(())
        })
        .await
    }

    async fn address_review_residents(
        &self,
        fresh_since: Date,
        crowded_above: u32,
    ) -> Result<Vec<Resident>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "WITH residents AS ( \
                   SELECT n.address_id, n.person_id, h.verdict, h.distance_m, h.score \
                   FROM stay_notices n JOIN registrations r ON r.id = n.registration_id \
                   LEFT JOIN detection_homes h ON h.person_id = n.person_id \
                     AND h.address_id = n.address_id AND h.day >= ?1 \
                   WHERE n.superseded_at IS NULL AND r.ended_at IS NULL), \
                 candidates AS ( \
                   SELECT address_id FROM residents GROUP BY address_id \
                   HAVING SUM(CASE WHEN verdict = 'elsewhere' THEN 1 ELSE 0 END) > 0 \
                       OR COUNT(*) > ?2) \
                 SELECT address_id, person_id, verdict, distance_m, score FROM residents \
                 WHERE address_id IN (SELECT address_id FROM candidates) \
                 ORDER BY address_id, person_id",
            )?;
            let rows = stmt.query_map(params![fresh_since.to_string(), crowded_above], |r| {
                Ok(Resident {
                    address_id: r.get(0)?,
                    person_id: r.get(1)?,
                    verdict: verdict_from_parts(
                        r.get::<_, Option<String>>(2)?.as_deref(),
                        r.get(3)?,
                        r.get(4)?,
                    ),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn open_address_disputes(&self) -> Result<BTreeMap<String, u32>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT CAST(json_extract(evidence, '$.address_id') AS TEXT) AS a, COUNT(*) \
                 FROM signals WHERE kind = 'address_disputed' \
                 AND status IN ('open', 'in_review') \
                 AND json_extract(evidence, '$.address_id') IS NOT NULL GROUP BY a",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?;
            Ok(rows.collect::<Result<BTreeMap<_, _>, _>>()?)
        })
        .await
    }

    async fn anomaly_model_before(
        &self,
        day: Date,
    ) -> Result<Option<(Date, serde_json::Value)>, StoreError> {
        self.read(move |conn| {
            let row: Option<(String, String)> = conn
                .prepare_cached(
                    "SELECT day, model FROM detection_models WHERE day < ?1 \
                     ORDER BY day DESC LIMIT 1",
                )?
                .query_row(params![day.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            row.map(|(d, json)| {
                Ok((
                    d.parse::<Date>()
                        .map_err(|e| StoreError::Internal(format!("bad stored day: {e}")))?,
                    serde_json::from_str(&json)
                        .map_err(|e| StoreError::Internal(format!("bad stored model: {e}")))?,
                ))
            })
            .transpose()
        })
        .await
    }

    async fn save_anomaly_model(
        &self,
        day: Date,
        model: serde_json::Value,
        reference_days: u32,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO detection_models (day, model, reference_days, created_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (day) DO NOTHING",
            )?
            .execute(params![
                day.to_string(),
                model.to_string(),
                reference_days,
                to_ms(now)
            ])?;
            Ok(())
        })
        .await
    }

    async fn silent_with_gone_push(
        &self,
        gone_since: Timestamp,
        silent_before: Timestamp,
    ) -> Result<Vec<GonePush>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT p.id, p.last_monitoring_at, p.registration_started_at, s.gone_at \
                 FROM push_subscriptions s JOIN persons p ON p.id = s.person_id \
                 WHERE s.status = 'gone' AND s.gone_at >= ?1 \
                 AND (p.last_monitoring_at IS NULL OR p.last_monitoring_at < ?2) \
                 ORDER BY p.id",
            )?;
            let rows = stmt.query_map(params![to_ms(gone_since), to_ms(silent_before)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (person_id, last, started, gone) = row?;
                out.push(GonePush {
                    person_id,
                    last_monitoring_at: last.map(from_ms).transpose()?,
                    registration_started_at: from_ms(started)?,
                    gone_at: from_ms(gone)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn record_revoked_upload(
        &self,
        device_id: &str,
        day: Date,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let device_id = device_id.to_string();
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO revoked_device_uploads \
                 (device_id, day, person_id, attempts, first_at, last_at) \
                 SELECT id, ?2, person_id, 1, ?3, ?3 FROM devices \
                 WHERE id = ?1 AND status = 'revoked' \
                 ON CONFLICT (device_id, day) DO UPDATE SET \
                 attempts = attempts + 1, last_at = excluded.last_at",
            )?
            .execute(params![device_id, day.to_string(), to_ms(now)])?;
            Ok(())
        })
        .await
    }

    async fn churn_candidates(
        &self,
        day: Date,
        day_start: Timestamp,
        day_end: Timestamp,
        window_start: Timestamp,
    ) -> Result<Vec<ChurnCandidate>, StoreError> {
        self.read(move |conn| {
            let day = day.to_string();
            let mut stmt = conn.prepare_cached(
                "SELECT person_id, bound_at FROM devices \
                 WHERE bound_at >= ?3 AND bound_at < ?2 AND person_id IN ( \
                   SELECT person_id FROM devices WHERE bound_at >= ?1 AND bound_at < ?2 \
                   UNION SELECT person_id FROM revoked_device_uploads WHERE day = ?4) \
                 ORDER BY person_id, bound_at",
            )?;
            let rows = stmt.query_map(
                params![to_ms(day_start), to_ms(day_end), to_ms(window_start), day],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )?;
            let mut bindings = Vec::new();
            for row in rows {
                let (p, at) = row?;
                bindings.push((p, from_ms(at)?));
            }
            let mut stmt = conn.prepare_cached(
                "SELECT person_id, device_id, attempts FROM revoked_device_uploads \
                 WHERE day = ?1 ORDER BY person_id, device_id",
            )?;
            let revoked = stmt
                .query_map(params![day], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<(i64, String, i64)>, _>>()?;
            Ok(group_churn(bindings, revoked))
        })
        .await
    }
}
