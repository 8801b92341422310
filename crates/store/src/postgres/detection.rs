//! [`DetectionStore`] on PostgreSQL.

use async_trait::async_trait;
use jiff::Timestamp;

use super::STORED_FIX_COLUMNS;
use super::{execute, get, query, query_opt, stored_fix_from_row, PostgresStore};
use crate::time::to_system;
use crate::*;

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
            "SELECT id FROM persons WHERE last_monitoring_at >= $1 AND id > $2 \
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
}
