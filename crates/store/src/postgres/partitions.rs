//! Day partitions of `fixes` (migration 0012): making them ahead of time,
//! and retiring whole days for retention.
//!
//! A partition `fixes_YYYYMMDD` holds the fixes recorded on that Moscow
//! day; `fixes_default` holds those of days without one. Partitions are made
//! by the SQL function `amina_fixes_partition(date)` (idempotent, moves the
//! default partition's rows of the day), called here:
//! - on migrate and by the scheduler once a day, for yesterday to a week
//!   ahead ([`prepare_around`]);
//! - on demand, before a batch is stored, for the batch's days that are
//!   recent ([`PostgresStore::ensure_recent_days`]). A fix of a day further
//!   away goes to the default partition: a device with a wild clock does
//!   not make tables.
//!
//! Retirement ([`retire_before`]) reduces a day whose partition lies wholly
//! before the retention cut-off: the partition is detached and renamed
//! `fixes_retired_YYYYMMDD` (one short transaction), then its daily
//! summaries are written, the run logged and the table dropped (a second
//! transaction: all of it or nothing). A retired table left by a crash
//! between the two is finished by the next run. While it waits it is out of
//! `fixes`, so its rows are in neither the raw fixes nor the summaries; the
//! second step's log row accounts for them when it commits.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use amina_domain::retention::DaySummary;
use amina_domain::time::{moscow_date, moscow_instant};
use deadpool_postgres::GenericClient;
use jiff::civil::Date;
use jiff::Timestamp;

use super::{
    db_error, execute, flags_from_bits, get, query, query_opt, to_i64, ts, PgDate, PostgresStore,
};
use crate::time::to_system;
use crate::{RetentionBatch, StoreError};

/// Days ahead of today that [`prepare_around`] makes partitions for.
pub const DAYS_AHEAD: i64 = 7;

/// A batch's day gets a partition on demand if it is at most this many days
/// before today (offline bursts), or tomorrow (clock skew around midnight).
const ON_DEMAND_DAYS_BACK: i64 = 7;

/// Advisory lock key serialising retirements between nodes ("amina" + 2).
const RETIRE_LOCK_KEY: i64 = 0x61_6d_69_6e_61 + 2;

/// People whose summaries are written per statement when a day is retired.
const SUMMARY_CHUNK: usize = 5_000;

/// The days this process knows to have a partition: checked before each
/// batch, so that the common case costs a hash lookup and no query.
#[derive(Default)]
pub(super) struct KnownDays(Mutex<HashSet<Date>>);

impl KnownDays {
    fn contains(&self, day: Date) -> bool {
        self.0.lock().is_ok_and(|d| d.contains(&day))
    }

    fn insert(&self, day: Date) {
        if let Ok(mut d) = self.0.lock() {
            d.insert(day);
        }
    }

    fn remove(&self, day: Date) {
        if let Ok(mut d) = self.0.lock() {
            d.remove(&day);
        }
    }
}

/// `fixes_YYYYMMDD`.
pub fn partition_name(day: Date) -> String {
    format!("fixes_{}", day.strftime("%Y%m%d"))
}

fn retired_name(day: Date) -> String {
    format!("fixes_retired_{}", day.strftime("%Y%m%d"))
}

/// The day of a `PREFIX_YYYYMMDD` table name.
fn day_of(name: &str, prefix: &str) -> Option<Date> {
    let digits = name.strip_prefix(prefix)?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Date::strptime("%Y%m%d", digits).ok()
}

fn day_offset(day: Date, days: i64) -> Result<Date, StoreError> {
    day.checked_add(jiff::Span::new().days(days))
        .map_err(|e| StoreError::Internal(format!("date arithmetic: {e}")))
}

/// The first instant of the Moscow day after `day`: the partition's upper bound.
fn end_of(day: Date) -> Result<Timestamp, StoreError> {
    let next = day_offset(day, 1)?;
    moscow_instant(next.to_datetime(jiff::civil::time(0, 0, 0, 0)))
        .map_err(|e| StoreError::Internal(format!("date arithmetic: {e}")))
}

/// Make the partition of `day` if it is missing; true if it was made.
pub(super) async fn ensure_day<C: GenericClient>(c: &C, day: Date) -> Result<bool, StoreError> {
    let row = super::query_one(c, "SELECT amina_fixes_partition($1)", &[&PgDate(day)]).await?;
    get(&row, 0)
}

/// Partitions for yesterday to [`DAYS_AHEAD`] days after `now`'s Moscow day.
pub(super) async fn prepare_around<C: GenericClient>(
    c: &C,
    now: Timestamp,
) -> Result<Vec<Date>, StoreError> {
    let today = moscow_date(now);
    let mut made = Vec::new();
    for offset in -1..=DAYS_AHEAD {
        let day = day_offset(today, offset)?;
        if ensure_day(c, day).await? {
            made.push(day);
        }
    }
    Ok(made)
}

impl PostgresStore {
    /// Before a batch is stored: make sure its recent days have partitions
    /// (outside the batch's transaction, which must not wait on DDL while
    /// it holds a person's row lock).
    pub(super) async fn ensure_recent_days(
        &self,
        recorded: impl Iterator<Item = Timestamp>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let today = moscow_date(now);
        let (earliest, latest) = (
            day_offset(today, -ON_DEMAND_DAYS_BACK)?,
            day_offset(today, 1)?,
        );
        let mut missing: Vec<Date> = recorded
            .map(moscow_date)
            .filter(|d| *d >= earliest && *d <= latest && !self.known_days.contains(*d))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort();
        missing.dedup();
        let client = self.client().await?;
        for day in missing {
            ensure_day(&client, day).await?;
            self.known_days.insert(day);
        }
        Ok(())
    }

    /// See [`crate::RetentionStore::prepare_fix_partitions`].
    pub(super) async fn prepare_partitions(&self, now: Timestamp) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let made = prepare_around(&client, now).await?;
        let today = moscow_date(now);
        for offset in -1..=DAYS_AHEAD {
            self.known_days.insert(day_offset(today, offset)?);
        }
        Ok(made.len() as u64)
    }

    /// See [`crate::RetentionStore::retire_fix_partitions`].
    pub(super) async fn retire_before(
        &self,
        cutoff: Timestamp,
        now: Timestamp,
    ) -> Result<RetentionBatch, StoreError> {
        let mut client = self.client().await?;
        // 1. Detach the day partitions wholly before the cut-off.
        let attached = query(
            &client,
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'fixes'::regclass",
            &[],
        )
        .await?;
        let mut old_days = Vec::new();
        for row in &attached {
            let name: String = get(row, 0)?;
            if let Some(day) = day_of(&name, "fixes_") {
                if end_of(day)? <= cutoff {
                    old_days.push(day);
                }
            }
        }
        old_days.sort();
        for day in old_days {
            let tx = client.transaction().await.map_err(db_error)?;
            tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({RETIRE_LOCK_KEY})"))
                .await
                .map_err(db_error)?;
            // Another node may have detached it meanwhile.
            let still = query_opt(
                &tx,
                "SELECT 1 FROM pg_inherits WHERE inhparent = 'fixes'::regclass \
                 AND inhrelid = to_regclass($1)",
                &[&partition_name(day)],
            )
            .await?
            .is_some();
            if still {
                tx.batch_execute(&format!(
                    "ALTER TABLE fixes DETACH PARTITION {p}; ALTER TABLE {p} RENAME TO {r}",
                    p = partition_name(day),
                    r = retired_name(day)
                ))
                .await
                .map_err(db_error)?;
            }
            tx.commit().await.map_err(db_error)?;
            self.known_days.remove(day);
        }

        // 2. Reduce and drop every retired table (this run's, or one a
        //    crash left behind).
        let retired = query(
            &client,
            "SELECT relname::text FROM pg_class WHERE relkind = 'r' \
             AND relname LIKE 'fixes\\_retired\\_%' AND pg_table_is_visible(oid)",
            &[],
        )
        .await?;
        let mut days: Vec<Date> = retired
            .iter()
            .filter_map(|r| get::<String>(r, 0).ok())
            .filter_map(|n| day_of(&n, "fixes_retired_"))
            .collect();
        days.sort();
        let mut out = RetentionBatch::default();
        for day in days {
            let tx = client.transaction().await.map_err(db_error)?;
            tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({RETIRE_LOCK_KEY})"))
                .await
                .map_err(db_error)?;
            let table = retired_name(day);
            let exists =
                super::query_one(&tx, "SELECT to_regclass($1) IS NOT NULL", &[&table]).await?;
            if !get::<bool>(&exists, 0)? {
                continue; // another node finished it
            }
            let (persons, removed) = reduce_table(&tx, &table, day, now).await?;
            if removed > 0 {
                execute(
                    &tx,
                    "INSERT INTO retention_runs (at, cutoff, persons, days, fixes_removed) \
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &to_system(now),
                        &to_system(cutoff),
                        &to_i64(persons)?,
                        &to_i64(persons)?,
                        &to_i64(removed)?,
                    ],
                )
                .await?;
            }
            tx.batch_execute(&format!("DROP TABLE {table}"))
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            out.persons += persons;
            out.days += persons;
            out.fixes_removed += removed;
            out.partitions += 1;
        }
        Ok(out)
    }
}

/// Rows and the oldest recorded time in retired day tables that are not
/// reduced yet (a run stopped between its two steps): still raw fixes for
/// `amina retention verify`.
pub(super) async fn retired_raw<C: GenericClient>(
    c: &C,
) -> Result<(u64, Option<Timestamp>), StoreError> {
    let tables = query(
        c,
        "SELECT relname::text FROM pg_class WHERE relkind = 'r' \
         AND relname LIKE 'fixes\\_retired\\_%' AND pg_table_is_visible(oid)",
        &[],
    )
    .await?;
    let (mut rows, mut oldest) = (0u64, None::<Timestamp>);
    for t in &tables {
        let name: String = get(t, 0)?;
        if day_of(&name, "fixes_retired_").is_none() {
            continue;
        }
        let r = super::query_one(
            c,
            &format!("SELECT count(*), min(recorded_at) FROM {name}"),
            &[],
        )
        .await?;
        rows += get::<i64>(&r, 0)? as u64;
        if let Some(at) = super::opt_ts(&r, 1)? {
            oldest = Some(oldest.map_or(at, |o: Timestamp| o.min(at)));
        }
    }
    Ok((rows, oldest))
}

/// Summarise one retired day table into `daily_presence` (merged with any
/// summary already there for a person and that day); returns (people, fixes).
///
/// The table is grouped in SQL by person and by what a summary counts (zone,
/// flag bits, counted), and each group becomes a [`DaySummary`] that the
/// domain's [`DaySummary::merge`] adds up: the same arithmetic as
/// `amina_domain::retention::summarise` over the single fixes.
async fn reduce_table<C: GenericClient>(
    c: &C,
    table: &str,
    day: Date,
    now: Timestamp,
) -> Result<(u64, u64), StoreError> {
    let rows = query(
        c,
        &format!(
            "SELECT person_id, zone, flags, counted, count(*), min(recorded_at), \
             max(recorded_at) FROM {table} GROUP BY person_id, zone, flags, counted \
             ORDER BY person_id"
        ),
        &[],
    )
    .await?;
    let mut people: BTreeMap<i64, DaySummary> = BTreeMap::new();
    let mut removed = 0u64;
    for r in &rows {
        let person: i64 = get(r, 0)?;
        let zone: String = get(r, 1)?;
        let flags = flags_from_bits(i64::from(get::<i16>(r, 2)?));
        let counted: bool = get(r, 3)?;
        let n = get::<i64>(r, 4)? as u64;
        let (first_at, last_at) = (ts(r, 5)?, ts(r, 6)?);
        if moscow_date(first_at) != day || moscow_date(last_at) != day {
            return Err(StoreError::Internal(format!(
                "{table} holds a fix of another day"
            )));
        }
        removed += n;
        let group = DaySummary {
            day,
            first_at,
            last_at,
            fix_count: n,
            flagged_count: if flags.mock_location || flags.implausible_speed {
                n
            } else {
                0
            },
            counted_count: if counted { n } else { 0 },
            zones: BTreeMap::from([(zone, n)]),
        };
        let merged = match people.get(&person) {
            Some(s) => s.merge(&group),
            None => group,
        };
        people.insert(person, merged);
    }
    let persons = people.len() as u64;
    let all: Vec<(i64, DaySummary)> = people.into_iter().collect();
    for chunk in all.chunks(SUMMARY_CHUNK) {
        write_summaries(c, day, chunk, now).await?;
    }
    Ok((persons, removed))
}

/// Upsert the summaries of one day, merged with those already stored.
async fn write_summaries<C: GenericClient>(
    c: &C,
    day: Date,
    chunk: &[(i64, DaySummary)],
    now: Timestamp,
) -> Result<(), StoreError> {
    let ids: Vec<i64> = chunk.iter().map(|(p, _)| *p).collect();
    let existing = query(
        c,
        &format!(
            "SELECT person_id, {} FROM daily_presence WHERE day = $1 AND person_id = ANY($2) \
             FOR UPDATE",
            super::retention::SUMMARY_COLUMNS
        ),
        &[&PgDate(day), &ids],
    )
    .await?;
    let mut old: std::collections::HashMap<i64, DaySummary> = std::collections::HashMap::new();
    for r in &existing {
        old.insert(get(r, 0)?, super::retention::summary_from_row_at(r, 1)?);
    }
    let n = chunk.len();
    let (mut first, mut last) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut fix, mut flagged, mut counted, mut in_region, mut zones) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (p, s) in chunk {
        let s = match old.get(p) {
            Some(o) => o.merge(s),
            None => s.clone(),
        };
        first.push(to_system(s.first_at));
        last.push(to_system(s.last_at));
        fix.push(to_i64(s.fix_count)?);
        flagged.push(to_i64(s.flagged_count)?);
        counted.push(to_i64(s.counted_count)?);
        in_region.push(to_i64(s.in_region_count())?);
        zones.push(
            serde_json::to_value(&s.zones)
                .map_err(|e| StoreError::Internal(format!("zones: {e}")))?,
        );
    }
    execute(
        c,
        "INSERT INTO daily_presence (person_id, day, first_at, last_at, fix_count, \
         flagged_count, counted_count, in_region_count, zones, reduced_at) \
         SELECT u.p, $2, u.f, u.l, u.n, u.fl, u.c, u.r, u.z, $10 \
         FROM unnest($1::bigint[], $3::timestamptz[], $4::timestamptz[], $5::bigint[], \
                     $6::bigint[], $7::bigint[], $8::bigint[], $9::jsonb[]) \
              AS u(p, f, l, n, fl, c, r, z) \
         ON CONFLICT (person_id, day) DO UPDATE SET first_at = excluded.first_at, \
         last_at = excluded.last_at, fix_count = excluded.fix_count, \
         flagged_count = excluded.flagged_count, counted_count = excluded.counted_count, \
         in_region_count = excluded.in_region_count, zones = excluded.zones, \
         reduced_at = excluded.reduced_at",
        &[
            &ids,
            &PgDate(day),
            &first,
            &last,
            &fix,
            &flagged,
            &counted,
            &in_region,
            &zones,
            &to_system(now),
        ],
    )
    .await?;
    Ok(())
}
