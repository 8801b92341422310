//! [`RetentionStore`] on SQLite: each batch runs on the writer thread in
//! one transaction.

use std::collections::BTreeMap;

use amina_domain::retention::{summarise, DaySummary, RetainedFix};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{flags_from_bits, SqliteStore};
use crate::time::{from_ms, to_ms};
use crate::*;

fn summary_from_row(r: &Row<'_>) -> Result<DaySummary, StoreError> {
    let day: String = r.get(0)?;
    let zones: String = r.get(6)?;
    Ok(DaySummary {
        day: day
            .parse()
            .map_err(|e| StoreError::Internal(format!("bad summary day: {e}")))?,
        first_at: from_ms(r.get(1)?)?,
        last_at: from_ms(r.get(2)?)?,
        fix_count: r.get::<_, i64>(3)? as u64,
        flagged_count: r.get::<_, i64>(4)? as u64,
        counted_count: r.get::<_, i64>(5)? as u64,
        zones: serde_json::from_str::<BTreeMap<String, u64>>(&zones)
            .map_err(|e| StoreError::Internal(format!("bad summary zones: {e}")))?,
    })
}

const SUMMARY_COLUMNS: &str =
    "day, first_at, last_at, fix_count, flagged_count, counted_count, zones";

fn reduce_person(
    conn: &Connection,
    person_id: i64,
    cutoff: i64,
    now: i64,
) -> Result<(u64, u64), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT recorded_at, zone, flags, counted FROM fixes \
         WHERE person_id = ?1 AND recorded_at < ?2",
    )?;
    let rows = stmt.query_map(params![person_id, cutoff], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, bool>(3)?,
        ))
    })?;
    let mut fixes = Vec::new();
    for row in rows {
        let (at, zone, flags, counted) = row?;
        let f = flags_from_bits(flags);
        fixes.push(RetainedFix {
            recorded_at: from_ms(at)?,
            zone,
            flagged: f.mock_location || f.implausible_speed,
            counted,
        });
    }
    let summaries = summarise(&fixes);
    for s in &summaries {
        let day = s.day.to_string();
        let old = conn
            .prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM daily_presence WHERE person_id = ?1 AND day = ?2"
            ))?
            .query_row(params![person_id, day], |r| Ok(summary_from_row(r)))
            .optional()?
            .transpose()?;
        let s = match old {
            Some(old) => old.merge(s),
            None => s.clone(),
        };
        let zones = serde_json::to_string(&s.zones)
            .map_err(|e| StoreError::Internal(format!("zones: {e}")))?;
        conn.prepare_cached(
            "INSERT INTO daily_presence (person_id, day, first_at, last_at, fix_count, \
             flagged_count, counted_count, in_region_count, zones, reduced_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (person_id, day) DO UPDATE SET first_at = excluded.first_at, \
             last_at = excluded.last_at, fix_count = excluded.fix_count, \
             flagged_count = excluded.flagged_count, counted_count = excluded.counted_count, \
             in_region_count = excluded.in_region_count, zones = excluded.zones, \
             reduced_at = excluded.reduced_at",
        )?
        .execute(params![
            person_id,
            day,
            to_ms(s.first_at),
            to_ms(s.last_at),
            s.fix_count as i64,
            s.flagged_count as i64,
            s.counted_count as i64,
            s.in_region_count() as i64,
            zones,
            now
        ])?;
    }
    let removed = conn
        .prepare_cached("DELETE FROM fixes WHERE person_id = ?1 AND recorded_at < ?2")?
        .execute(params![person_id, cutoff])?;
    if removed != fixes.len() {
        return Err(StoreError::Internal(
            "fixes changed during their reduction".into(),
        ));
    }
    Ok((summaries.len() as u64, removed as u64))
}

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn reduce_fixes(
        &self,
        cutoff: Timestamp,
        after_person: i64,
        batch: u32,
        now: Timestamp,
    ) -> Result<RetentionBatch, StoreError> {
        let (cutoff, now) = (to_ms(cutoff), to_ms(now));
        self.write(move |conn| {
            let people = conn
                .prepare_cached(
                    "SELECT p.id FROM persons p WHERE p.id > ?1 AND EXISTS \
                     (SELECT 1 FROM fixes f WHERE f.person_id = p.id AND f.recorded_at < ?2) \
                     ORDER BY p.id LIMIT ?3",
                )?
                .query_map(params![after_person, cutoff, i64::from(batch)], |r| {
                    r.get::<_, i64>(0)
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = RetentionBatch::default();
            for p in &people {
                let (days, removed) = reduce_person(conn, *p, cutoff, now)?;
                out.persons += 1;
                out.days += days;
                out.fixes_removed += removed;
                out.last_person_id = Some(*p);
            }
            if out.persons > 0 {
                conn.prepare_cached(
                    "INSERT INTO retention_runs (at, cutoff, persons, days, fixes_removed) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    now,
                    cutoff,
                    out.persons as i64,
                    out.days as i64,
                    out.fixes_removed as i64
                ])?;
            }
            Ok(out)
        })
        .await
    }

    async fn retention_status(&self, cutoff: Timestamp) -> Result<RetentionStatus, StoreError> {
        self.read(move |conn| {
            let (raw, oldest): (i64, Option<i64>) = conn.query_row(
                "SELECT count(*), min(recorded_at) FROM fixes WHERE recorded_at < ?1",
                params![to_ms(cutoff)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (days, summarised): (i64, i64) = conn.query_row(
                "SELECT count(*), COALESCE(sum(fix_count), 0) FROM daily_presence",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (runs, removed, last): (i64, i64, Option<i64>) = conn.query_row(
                "SELECT count(*), COALESCE(sum(fixes_removed), 0), max(at) FROM retention_runs",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            Ok(RetentionStatus {
                cutoff,
                raw_before_cutoff: raw as u64,
                oldest_raw: oldest.map(from_ms).transpose()?,
                summary_days: days as u64,
                summarised_fixes: summarised as u64,
                removed_fixes: removed as u64,
                runs: runs as u64,
                last_run_at: last.map(from_ms).transpose()?,
            })
        })
        .await
    }

    async fn daily_presence(
        &self,
        person_id: i64,
        limit: u32,
    ) -> Result<Vec<DaySummary>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM daily_presence WHERE person_id = ?1 \
                 ORDER BY day DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![person_id, i64::from(limit)], |r| {
                Ok(summary_from_row(r))
            })?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r??);
            }
            Ok(out)
        })
        .await
    }
}
