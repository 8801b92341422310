//! [`DetectionStore`] on SQLite.

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::Timestamp;
use rusqlite::{params, OptionalExtension};

use super::{stored_fix_from_row, SqliteStore, STORED_FIX_COLUMNS};
use crate::time::to_ms;
use crate::*;

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
}
