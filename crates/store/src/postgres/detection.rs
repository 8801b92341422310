//! [`DetectionStore`] on PostgreSQL.

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::Timestamp;

use super::STORED_FIX_COLUMNS;
use super::{execute, get, query, query_opt, stored_fix_from_row, PostgresStore};
use crate::detection::{group_churn, verdict_from_parts, verdict_parts};
use crate::time::{from_system, to_system};
use crate::*;
use amina_domain::detection::address::{HomeVerdict, Resident};
use std::collections::BTreeMap;

#[async_trait]
impl DetectionStore for PostgresStore {
    async fn persons_reporting_since(
        &self,
        since: Timestamp,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            // The index is on the day (migration 0018); the instant filters.
            "SELECT id FROM persons \
             WHERE last_monitoring_day >= ($1::timestamptz AT TIME ZONE 'UTC')::date \
               AND last_monitoring_at >= $1 AND id > $2 \
             ORDER BY id LIMIT $3",
            &[&to_system(since), &after_id, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(|r| get(r, 0))
        .collect()
    }

    async fn fixes_between(
        &self,
        person_id: i64,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredFix>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {STORED_FIX_COLUMNS} FROM fixes WHERE person_id = $1 \
             AND recorded_at >= $2 AND recorded_at < $3 ORDER BY recorded_at, seq"
        );
        query(
            &client,
            &sql,
            &[&person_id, &to_system(from), &to_system(to)],
        )
        .await?
        .iter()
        .map(stored_fix_from_row)
        .collect()
    }

    async fn detection_history(
        &self,
        person_id: i64,
    ) -> Result<Option<DetectionHistory>, StoreError> {
        let client = self.client().await?;
        let row = query_opt(
            &client,
            "SELECT last_day::text, history FROM detection_history WHERE person_id = $1",
            &[&person_id],
        )
        .await?;
        row.map(|r| {
            let day: String = get(&r, 0)?;
            Ok(DetectionHistory {
                last_day: day
                    .parse()
                    .map_err(|e| StoreError::Internal(format!("bad stored day: {e}")))?,
                history: get(&r, 1)?,
            })
        })
        .transpose()
    }

    async fn save_detection_history(
        &self,
        person_id: i64,
        history: DetectionHistory,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO detection_history (person_id, last_day, history, updated_at) \
             VALUES ($1, $2::text::date, $3, $4) ON CONFLICT (person_id) DO UPDATE SET \
             last_day = excluded.last_day, history = excluded.history, \
             updated_at = excluded.updated_at",
            &[
                &person_id,
                &history.last_day.to_string(),
                &history.history,
                &to_system(now),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn save_home_verdict(
        &self,
        person_id: i64,
        address_id: String,
        day: Date,
        verdict: HomeVerdict,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (code, distance, score) = verdict_parts(&verdict);
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO detection_homes (person_id, address_id, day, verdict, distance_m, \
             score, updated_at) VALUES ($1, $2, $3::text::date, $4, $5, $6, $7) \
             ON CONFLICT (person_id) DO UPDATE SET address_id = excluded.address_id, \
             day = excluded.day, verdict = excluded.verdict, \
             distance_m = excluded.distance_m, score = excluded.score, \
             updated_at = excluded.updated_at",
            &[
                &person_id,
                &address_id,
                &day.to_string(),
                &code,
                &distance,
                &score,
                &to_system(now),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn address_review_residents(
        &self,
        fresh_since: Date,
        crowded_above: u32,
    ) -> Result<Vec<Resident>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "WITH residents AS ( \
               SELECT n.address_id, n.person_id, h.verdict, h.distance_m, h.score \
               FROM stay_notices n JOIN registrations r ON r.id = n.registration_id \
               LEFT JOIN detection_homes h ON h.person_id = n.person_id \
                 AND h.address_id = n.address_id AND h.day >= $1::text::date \
               WHERE n.superseded_at IS NULL AND r.ended_at IS NULL), \
             candidates AS ( \
               SELECT address_id FROM residents GROUP BY address_id \
               HAVING COUNT(*) FILTER (WHERE verdict = 'elsewhere') > 0 OR COUNT(*) > $2) \
             SELECT address_id, person_id, verdict, distance_m, score FROM residents \
             WHERE address_id IN (SELECT address_id FROM candidates) \
             ORDER BY address_id, person_id",
            &[&fresh_since.to_string(), &i64::from(crowded_above)],
        )
        .await?;
        rows.iter()
            .map(|r| {
                let verdict: Option<String> = get(r, 2)?;
                Ok(Resident {
                    address_id: get(r, 0)?,
                    person_id: get(r, 1)?,
                    verdict: verdict_from_parts(verdict.as_deref(), get(r, 3)?, get(r, 4)?),
                })
            })
            .collect()
    }

    async fn open_address_disputes(&self) -> Result<BTreeMap<String, u32>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT evidence->>'address_id' AS a, COUNT(*) FROM signals \
             WHERE kind = 'address_disputed' AND status IN ('open', 'in_review') \
             AND evidence->>'address_id' IS NOT NULL GROUP BY a",
            &[],
        )
        .await?;
        rows.iter()
            .map(|r| {
                let n: i64 = get(r, 1)?;
                Ok((get(r, 0)?, u32::try_from(n).unwrap_or(u32::MAX)))
            })
            .collect()
    }

    async fn anomaly_model_before(
        &self,
        day: Date,
    ) -> Result<Option<(Date, serde_json::Value)>, StoreError> {
        let client = self.client().await?;
        let row = query_opt(
            &client,
            "SELECT day::text, model FROM detection_models WHERE day < $1::text::date \
             ORDER BY day DESC LIMIT 1",
            &[&day.to_string()],
        )
        .await?;
        row.map(|r| {
            let d: String = get(&r, 0)?;
            Ok((
                d.parse()
                    .map_err(|e| StoreError::Internal(format!("bad stored day: {e}")))?,
                get(&r, 1)?,
            ))
        })
        .transpose()
    }

    async fn save_anomaly_model(
        &self,
        day: Date,
        model: serde_json::Value,
        reference_days: u32,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO detection_models (day, model, reference_days, created_at) \
             VALUES ($1::text::date, $2, $3, $4) ON CONFLICT (day) DO NOTHING",
            &[
                &day.to_string(),
                &model,
                &i32::try_from(reference_days).unwrap_or(i32::MAX),
                &to_system(now),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn silent_with_gone_push(
        &self,
        gone_since: Timestamp,
        silent_before: Timestamp,
    ) -> Result<Vec<GonePush>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT p.id, p.last_monitoring_at, p.registration_started_at, s.gone_at \
             FROM push_subscriptions s JOIN persons p ON p.id = s.person_id \
             WHERE s.status = 'gone' AND s.gone_at >= $1 \
             AND (p.last_monitoring_at IS NULL OR p.last_monitoring_at < $2) \
             ORDER BY p.id",
            &[&to_system(gone_since), &to_system(silent_before)],
        )
        .await?;
        rows.iter()
            .map(|r| {
                let last: Option<std::time::SystemTime> = get(r, 1)?;
                Ok(GonePush {
                    person_id: get(r, 0)?,
                    last_monitoring_at: last.map(from_system).transpose()?,
                    registration_started_at: from_system(get(r, 2)?)?,
                    gone_at: from_system(get(r, 3)?)?,
                })
            })
            .collect()
    }

    async fn record_revoked_upload(
        &self,
        device_id: &str,
        day: Date,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO revoked_device_uploads \
             (device_id, day, person_id, attempts, first_at, last_at) \
             SELECT id, $2::text::date, person_id, 1, $3, $3 FROM devices \
             WHERE id = $1 AND status = 'revoked' \
             ON CONFLICT (device_id, day) DO UPDATE SET \
             attempts = revoked_device_uploads.attempts + 1, last_at = excluded.last_at",
            &[&device_id, &day.to_string(), &to_system(now)],
        )
        .await
        .map(|_| ())
    }

    async fn churn_candidates(
        &self,
        day: Date,
        day_start: Timestamp,
        day_end: Timestamp,
        window_start: Timestamp,
    ) -> Result<Vec<ChurnCandidate>, StoreError> {
        let client = self.client().await?;
        let day = day.to_string();
        let rows = query(
            &client,
            "SELECT person_id, bound_at FROM devices \
             WHERE bound_at >= $3 AND bound_at < $2 AND person_id IN ( \
               SELECT person_id FROM devices WHERE bound_at >= $1 AND bound_at < $2 \
               UNION SELECT person_id FROM revoked_device_uploads WHERE day = $4::text::date) \
             ORDER BY person_id, bound_at",
            &[
                &to_system(day_start),
                &to_system(day_end),
                &to_system(window_start),
                &day,
            ],
        )
        .await?;
        let bindings = rows
            .iter()
            .map(|r| Ok((get(r, 0)?, from_system(get(r, 1)?)?)))
            .collect::<Result<Vec<(i64, Timestamp)>, StoreError>>()?;
        let rows = query(
            &client,
            "SELECT person_id, device_id, attempts FROM revoked_device_uploads \
             WHERE day = $1::text::date ORDER BY person_id, device_id",
            &[&day],
        )
        .await?;
        let revoked = rows
            .iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?)))
            .collect::<Result<Vec<(i64, String, i64)>, StoreError>>()?;
        Ok(group_churn(bindings, revoked))
    }
}
