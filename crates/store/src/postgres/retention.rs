//! [`RetentionStore`] on PostgreSQL: the people of a batch are locked
//! `FOR UPDATE SKIP LOCKED` (nodes split them; an ingest for one of them
//! waits), and the batch is one transaction.

use std::collections::BTreeMap;

use amina_domain::retention::{summarise, DaySummary, RetainedFix};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use tokio_postgres::Row;

use super::{
    db_error, execute, flags_from_bits, get, opt_ts, query, query_one, query_opt, to_i64, ts,
    PgDate, PostgresStore,
};
use crate::time::to_system;
use crate::*;

pub(super) const SUMMARY_COLUMNS: &str =
    "day, first_at, last_at, fix_count, flagged_count, counted_count, zones";

fn summary_from_row(r: &Row) -> Result<DaySummary, StoreError> {
    summary_from_row_at(r, 0)
}

/// A summary from [`SUMMARY_COLUMNS`] starting at column `o`.
pub(super) fn summary_from_row_at(r: &Row, o: usize) -> Result<DaySummary, StoreError> {
    let zones: serde_json::Value = get(r, o + 6)?;
    Ok(DaySummary {
        day: get::<PgDate>(r, o)?.0,
        first_at: ts(r, o + 1)?,
        last_at: ts(r, o + 2)?,
        fix_count: get::<i64>(r, o + 3)? as u64,
        flagged_count: get::<i64>(r, o + 4)? as u64,
        counted_count: get::<i64>(r, o + 5)? as u64,
        zones: serde_json::from_value::<BTreeMap<String, u64>>(zones)
            .map_err(|e| StoreError::Internal(format!("bad summary zones: {e}")))?,
    })
}

async fn reduce_person<C: GenericClient>(
    c: &C,
    person_id: i64,
    cutoff: std::time::SystemTime,
    now: std::time::SystemTime,
) -> Result<(u64, u64), StoreError> {
    let rows = query(
        c,
        "SELECT recorded_at, zone, flags, counted FROM fixes \
         WHERE person_id = $1 AND recorded_at < $2",
        &[&person_id, &cutoff],
    )
    .await?;
    let mut fixes = Vec::new();
    for r in &rows {
        let f = flags_from_bits(i64::from(get::<i16>(r, 2)?));
        fixes.push(RetainedFix {
            recorded_at: ts(r, 0)?,
            zone: get(r, 1)?,
            flagged: f.mock_location || f.implausible_speed,
            counted: get(r, 3)?,
        });
    }
    let summaries = summarise(&fixes);
    for s in &summaries {
        let day = PgDate(s.day);
        let old = query_opt(
            c,
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM daily_presence WHERE person_id = $1 AND day = $2"
            ),
            &[&person_id, &day],
        )
        .await?
        .map(|r| summary_from_row(&r))
        .transpose()?;
        let s = match old {
            Some(old) => old.merge(s),
            None => s.clone(),
        };
        let zones = serde_json::to_value(&s.zones)
            .map_err(|e| StoreError::Internal(format!("zones: {e}")))?;
        execute(
            c,
            "INSERT INTO daily_presence (person_id, day, first_at, last_at, fix_count, \
             flagged_count, counted_count, in_region_count, zones, reduced_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (person_id, day) DO UPDATE SET first_at = excluded.first_at, \
             last_at = excluded.last_at, fix_count = excluded.fix_count, \
             flagged_count = excluded.flagged_count, counted_count = excluded.counted_count, \
             in_region_count = excluded.in_region_count, zones = excluded.zones, \
             reduced_at = excluded.reduced_at",
            &[
                &person_id,
                &day,
                &to_system(s.first_at),
                &to_system(s.last_at),
                &to_i64(s.fix_count)?,
                &to_i64(s.flagged_count)?,
                &to_i64(s.counted_count)?,
                &to_i64(s.in_region_count())?,
                &zones,
                &now,
            ],
        )
        .await?;
    }
    let removed = execute(
        c,
        "DELETE FROM fixes WHERE person_id = $1 AND recorded_at < $2",
        &[&person_id, &cutoff],
    )
    .await?;
    if removed != fixes.len() as u64 {
        return Err(StoreError::Internal(
            "fixes changed during their reduction".into(),
        ));
    }
    Ok((summaries.len() as u64, removed))
}

#[async_trait]
impl RetentionStore for PostgresStore {
    async fn reduce_fixes(
        &self,
        cutoff: Timestamp,
        after_person: i64,
        batch: u32,
        now: Timestamp,
    ) -> Result<RetentionBatch, StoreError> {
        let (cutoff_s, now_s) = (to_system(cutoff), to_system(now));
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let people: Vec<i64> = query(
            &tx,
            "SELECT p.id FROM persons p WHERE p.id > $1 AND EXISTS \
             (SELECT 1 FROM fixes f WHERE f.person_id = p.id AND f.recorded_at < $2) \
             ORDER BY p.id LIMIT $3 FOR UPDATE OF p SKIP LOCKED",
            &[&after_person, &cutoff_s, &i64::from(batch)],
        )
        .await?
        .iter()
        .map(|r| get(r, 0))
        .collect::<Result<_, _>>()?;
        let mut out = RetentionBatch::default();
        for p in &people {
            let (days, removed) = reduce_person(&tx, *p, cutoff_s, now_s).await?;
            out.persons += 1;
            out.days += days;
            out.fixes_removed += removed;
            out.last_person_id = Some(*p);
        }
        if out.persons > 0 {
            execute(
                &tx,
                "INSERT INTO retention_runs (at, cutoff, persons, days, fixes_removed) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &now_s,
                    &cutoff_s,
                    &to_i64(out.persons)?,
                    &to_i64(out.days)?,
                    &to_i64(out.fixes_removed)?,
                ],
            )
            .await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(out)
    }

    async fn retire_fix_partitions(
        &self,
        cutoff: Timestamp,
        now: Timestamp,
    ) -> Result<RetentionBatch, StoreError> {
        self.retire_before(cutoff, now).await
    }

    async fn prepare_fix_partitions(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.prepare_partitions(now).await
    }

    async fn retention_status(&self, cutoff: Timestamp) -> Result<RetentionStatus, StoreError> {
        let client = self.client().await?;
        let raw = query_one(
            &client,
            "SELECT count(*), min(recorded_at) FROM fixes WHERE recorded_at < $1",
            &[&to_system(cutoff)],
        )
        .await?;
        let days = query_one(
            &client,
            "SELECT count(*), COALESCE(sum(fix_count), 0)::bigint FROM daily_presence",
            &[],
        )
        .await?;
        let runs = query_one(
            &client,
            "SELECT count(*), COALESCE(sum(fixes_removed), 0)::bigint, max(at) \
             FROM retention_runs",
            &[],
        )
        .await?;
        // Day tables detached by a run that stopped before reducing them
        // are still raw fixes.
        let (retired, retired_oldest) = super::partitions::retired_raw(&client).await?;
        let oldest = match (opt_ts(&raw, 1)?, retired_oldest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(RetentionStatus {
            cutoff,
            raw_before_cutoff: get::<i64>(&raw, 0)? as u64 + retired,
            oldest_raw: oldest,
            summary_days: get::<i64>(&days, 0)? as u64,
            summarised_fixes: get::<i64>(&days, 1)? as u64,
            removed_fixes: get::<i64>(&runs, 1)? as u64,
            runs: get::<i64>(&runs, 0)? as u64,
            last_run_at: opt_ts(&runs, 2)?,
        })
    }

    async fn daily_presence(
        &self,
        person_id: i64,
        limit: u32,
    ) -> Result<Vec<DaySummary>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM daily_presence WHERE person_id = $1 \
                 ORDER BY day DESC LIMIT $2"
            ),
            &[&person_id, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(summary_from_row)
        .collect()
    }
}
