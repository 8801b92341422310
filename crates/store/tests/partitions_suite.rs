//! PostgreSQL only: `fixes` partitioned by Moscow day (migration 0012).
//! Partitions for the days ingested, fixes of days without a partition, a
//! retried fix across a partition boundary, retention by dropping whole
//! partitions, and the migration of an existing unpartitioned table with
//! rows in it. SQLite keeps one table; its side of retention is in
//! `console_more_suite`.

#[macro_use]
mod common;

use amina_store::postgres::partitions::partition_name;
use common::*;

/// The Moscow days that have an attached partition of `fixes`.
async fn partition_days(client: &tokio_postgres::Client) -> Vec<String> {
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'fixes'::regclass ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get::<_, String>(0)).collect()
}

/// (table, seq) of every stored fix of a device, by seq.
async fn where_stored(client: &tokio_postgres::Client, device: &str) -> Vec<(String, i64)> {
    client
        .query(
            "SELECT tableoid::regclass::text, seq FROM fixes WHERE device_id = $1 ORDER BY seq, 1",
            &[&device],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn day(s: &str) -> jiff::civil::Date {
    s.parse().unwrap()
}

async fn batches_make_partitions_for_their_days(h: Harness) {
    let s = h.migrated().await;
    let db = pg_client(pg_url(&h)).await;
    let m = monitor();
    // Migrate made yesterday to a week ahead of the real clock.
    let today = amina_domain::time::moscow_date(Timestamp::now());
    let names = partition_days(&db).await;
    assert!(names.contains(&"fixes_default".to_string()), "{names:?}");
    for offset in -1..=7 {
        let d = today.checked_add(jiff::Span::new().days(offset)).unwrap();
        assert!(names.contains(&partition_name(d)), "{d} missing: {names:?}");
    }

    // Days long before the real clock: made on demand by the batches.
    let t0 = msk("2025-03-03 23:50");
    let (_, _, dev) = enrolled_with_device(&s, &m, "UZ8000001", t0).await;
    let t1 = msk("2025-03-04 00:10");
    let out = s
        .ingest(&m, &dev, vec![fix(1, t0, KREMLIN), fix(2, t1, KREMLIN)], t1)
        .await
        .unwrap();
    assert_eq!(out.accepted, [1, 2]);
    assert_eq!(
        where_stored(&db, &dev).await,
        [
            ("fixes_20250303".to_string(), 1),
            ("fixes_20250304".to_string(), 2)
        ]
    );
    // The store reads them back across partitions, newest first.
    let back = s.fixes(out.person_id, 10).await.unwrap();
    assert_eq!(back.iter().map(|f| f.seq).collect::<Vec<_>>(), [2, 1]);

    // Preparing is idempotent, and a second store (another node) agrees.
    let other = h.another_store().await;
    let (a, b) = tokio::join!(
        s.prepare_fix_partitions(msk("2025-06-01 12:00")),
        other.prepare_fix_partitions(msk("2025-06-01 12:00"))
    );
    assert_eq!(a.unwrap() + b.unwrap(), 9, "each day made once");
    assert_eq!(
        s.prepare_fix_partitions(msk("2025-06-01 12:00"))
            .await
            .unwrap(),
        0
    );
    let names = partition_days(&db).await;
    assert!(names.contains(&"fixes_20250531".to_string()));
    assert!(names.contains(&"fixes_20250608".to_string()));
}

async fn a_fix_of_a_day_without_partition_is_stored_and_moved_later(h: Harness) {
    let s = h.migrated().await;
    let db = pg_client(pg_url(&h)).await;
    let m = monitor();
    let t0 = msk("2025-01-10 09:00");
    let (_, _, dev) = enrolled_with_device(&s, &m, "UZ8000002", t0).await;
    // An offline burst uploaded weeks later: its day is far behind the
    // upload and gets no partition on demand; it is stored all the same.
    let old = msk("2025-01-10 09:05");
    let now = msk("2025-02-20 10:00");
    let out = s
        .ingest(&m, &dev, vec![fix(1, old, KREMLIN)], now)
        .await
        .unwrap();
    assert_eq!(out.accepted, [1]);
    assert_eq!(
        where_stored(&db, &dev).await,
        [("fixes_default".to_string(), 1)]
    );
    // Its retry is still a duplicate, found in the default partition.
    let retry = s
        .ingest(&m, &dev, vec![fix(1, old, KREMLIN)], now)
        .await
        .unwrap();
    assert_eq!(
        (retry.accepted.len(), retry.duplicates.as_slice()),
        (0, &[1u64][..])
    );

    // Making that day's partition moves the row out of the default one.
    s.prepare_fix_partitions(msk("2025-01-11 12:00"))
        .await
        .unwrap();
    assert_eq!(
        where_stored(&db, &dev).await,
        [("fixes_20250110".to_string(), 1)]
    );
    // A future day (by the real clock) far beyond the prepared week: a
    // store whose clock says so makes it on demand.
    let later = msk("2027-05-05 12:00");
    let (_, _, dev2) = enrolled_with_device(&s, &m, "UZ8000003", later).await;
    s.ingest(&m, &dev2, vec![fix(1, later, KREMLIN)], later)
        .await
        .unwrap();
    assert_eq!(
        where_stored(&db, &dev2).await,
        [("fixes_20270505".to_string(), 1)]
    );
}

async fn a_retry_is_never_stored_twice_across_a_partition_boundary(h: Harness) {
    let s = h.migrated().await;
    let db = pg_client(pg_url(&h)).await;
    let m = monitor();
    let t0 = msk("2025-03-03 09:00");
    let (_, _, dev) = enrolled_with_device(&s, &m, "UZ8000004", t0).await;
    let before_midnight = msk("2025-03-03 23:59:30");
    let after_midnight = msk("2025-03-04 00:00:30");
    s.ingest(
        &m,
        &dev,
        vec![fix(1, before_midnight, KREMLIN)],
        before_midnight,
    )
    .await
    .unwrap();
    // The same fix retried after midnight, with a new one of the next day.
    let out = s
        .ingest(
            &m,
            &dev,
            vec![
                fix(1, before_midnight, KREMLIN),
                fix(2, after_midnight, KREMLIN),
            ],
            after_midnight,
        )
        .await
        .unwrap();
    assert_eq!(
        (out.accepted.as_slice(), out.duplicates.as_slice()),
        (&[2u64][..], &[1u64][..])
    );
    // The same seq with another time (it would land in the other day's
    // partition, where the unique key (device, seq, recorded_at) alone
    // would not see it) is refused, not stored.
    let err = batch_error(
        s.ingest(
            &m,
            &dev,
            vec![fix(1, after_midnight, KREMLIN)],
            after_midnight,
        )
        .await,
    );
    assert_eq!(err, BatchError::SequenceReused { seq: 1 });
    // Two nodes retrying at once: each seq once.
    let other = h.another_store().await;
    let third = msk("2025-03-04 00:05");
    let batch = vec![
        fix(1, before_midnight, KREMLIN),
        fix(2, after_midnight, KREMLIN),
        fix(3, third, KREMLIN),
    ];
    let (a, b) = tokio::join!(
        s.ingest(&m, &dev, batch.clone(), third),
        other.ingest(&m, &dev, batch, third)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.accepted.len() + b.accepted.len(), 1);
    assert_eq!(
        where_stored(&db, &dev).await,
        [
            ("fixes_20250303".to_string(), 1),
            ("fixes_20250304".to_string(), 2),
            ("fixes_20250304".to_string(), 3)
        ]
    );
}

/// The device's seq bound (migration 0015): fixes above it are not looked
/// for in every partition, so it must stay above every stored seq, whoever
/// inserts; and a device whose bound is not known is looked up in full and
/// its bound learned.
async fn the_seq_bound_keeps_retries_and_reuse_exact(h: Harness) {
    let s = h.migrated().await;
    let db = pg_client(pg_url(&h)).await;
    let m = monitor();
    let t0 = msk("2025-03-03 09:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "UZ8000009", t0).await;
    let seq_high = |dev: &str| {
        let dev = dev.to_string();
        let db = &db;
        async move {
            db.query_one("SELECT seq_high FROM devices WHERE id = $1", &[&dev])
                .await
                .unwrap()
                .get::<_, Option<i64>>(0)
        }
    };
    assert_eq!(seq_high(&dev).await, Some(0), "a new device has no fixes");
    let t1 = msk("2025-03-03 10:00");
    let at = |k: i64| t1 + SignedDuration::from_mins(k);
    s.ingest(
        &m,
        &dev,
        (1..=3).map(|k| fix(k, at(k as i64), KREMLIN)).collect(),
        at(3),
    )
    .await
    .unwrap();
    assert_eq!(seq_high(&dev).await, Some(3));

    // A fix inserted behind the store's back, on the next day: the trigger
    // raises the bound, so a reuse of its seq is still seen, and its retry
    // is a duplicate.
    db.batch_execute(&format!(
        "INSERT INTO fixes (device_id, seq, person_id, lat, lon, accuracy_m, recorded_at, \
         received_at, source, mock, battery_pct, zone, flags, counted) \
         VALUES ('{dev}', 10, {pid}, 55.752, 37.6175, 12.5, '2025-03-04 08:00+03', \
                 '2025-03-04 08:00+03', 'gps', false, 77, 'moscow', 0, true)"
    ))
    .await
    .unwrap();
    assert_eq!(seq_high(&dev).await, Some(10));
    let t2 = msk("2025-03-04 09:00");
    let err = batch_error(s.ingest(&m, &dev, vec![fix(10, t2, KREMLIN)], t2).await);
    assert_eq!(err, BatchError::SequenceReused { seq: 10 });
    let retry = s
        .ingest(
            &m,
            &dev,
            vec![fix(10, msk("2025-03-04 08:00"), KREMLIN)],
            t2,
        )
        .await
        .unwrap();
    assert_eq!(retry.duplicates, [10]);

    // A device from before the bound existed: NULL, every seq looked up,
    // and the bound learned from what is stored (even when the batch is
    // refused), then raised by the batches stored.
    db.batch_execute("UPDATE devices SET seq_high = NULL")
        .await
        .unwrap();
    let err = batch_error(s.ingest(&m, &dev, vec![fix(2, t2, KREMLIN)], t2).await);
    assert_eq!(err, BatchError::SequenceReused { seq: 2 });
    assert_eq!(seq_high(&dev).await, Some(10));
    let out = s
        .ingest(
            &m,
            &dev,
            vec![fix(3, at(3), KREMLIN), fix(11, t2, KREMLIN)],
            t2,
        )
        .await
        .unwrap();
    assert_eq!(
        (out.accepted.as_slice(), out.duplicates.as_slice()),
        (&[11u64][..], &[3u64][..])
    );
    assert_eq!(seq_high(&dev).await, Some(11));
    let count: i64 = db
        .query_one("SELECT count(*) FROM fixes WHERE device_id = $1", &[&dev])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 5);
}

async fn retention_drops_whole_day_partitions(h: Harness) {
    let s = h.migrated().await;
    let db = pg_client(pg_url(&h)).await;
    let m = monitor();
    let d0 = msk("2025-08-04 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "UZ8000005", d0).await;
    let (pid2, _, dev2) = enrolled_with_device(&s, &m, "UZ8000006", d0).await;
    let d0_evening = msk("2025-08-04 20:00");
    let d1 = msk("2025-08-05 09:00");
    s.ingest(&m, &dev, vec![fix(1, d0, KREMLIN)], d0)
        .await
        .unwrap();
    s.ingest(&m, &dev, vec![fix(2, d0_evening, TVER)], d0_evening)
        .await
        .unwrap();
    s.ingest(&m, &dev, vec![fix(3, d1, KREMLIN)], d1)
        .await
        .unwrap();
    s.ingest(&m, &dev2, vec![fix(1, d1, KREMLIN)], d1)
        .await
        .unwrap();
    let now = msk("2025-11-10 12:00");
    s.ingest(&m, &dev, vec![fix(4, now, KREMLIN)], now)
        .await
        .unwrap();
    // A late upload of an old day: no partition, kept in the default one.
    let late = msk("2025-08-06 15:00");
    s.ingest(&m, &dev2, vec![fix(2, late, KREMLIN)], now)
        .await
        .unwrap();
    let names = partition_days(&db).await;
    assert!(names.contains(&"fixes_20250804".to_string()));
    assert!(names.contains(&"fixes_20250805".to_string()));
    let cutoff = amina_domain::retention::cutoff(now, 90).unwrap();
    assert_eq!(
        s.retention_status(cutoff).await.unwrap().raw_before_cutoff,
        5
    );

    // Whole days: two partitions summarised and dropped, no row deleted.
    let b = s.retire_fix_partitions(cutoff, now).await.unwrap();
    assert_eq!(
        (b.partitions, b.persons, b.days, b.fixes_removed),
        (2, 3, 3, 4),
        "{b:?}"
    );
    let names = partition_days(&db).await;
    assert!(!names.contains(&"fixes_20250804".to_string()), "{names:?}");
    assert!(!names.contains(&"fixes_20250805".to_string()), "{names:?}");
    let leftover: i64 = db
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'fixes\\_retired\\_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leftover, 0);
    // The row-by-row path finds only the fix in the default partition.
    let rest = s.reduce_fixes(cutoff, 0, 100, now).await.unwrap();
    assert_eq!((rest.persons, rest.days, rest.fixes_removed), (1, 1, 1));
    // Nothing to do again.
    let again = s.retire_fix_partitions(cutoff, now).await.unwrap();
    assert_eq!(again, Default::default());

    // `retention verify`'s check.
    let st = s.retention_status(cutoff).await.unwrap();
    assert!(st.is_ok(), "{st:?}");
    assert_eq!((st.summary_days, st.summarised_fixes, st.runs), (4, 5, 3));
    assert_eq!(
        s.fixes(pid, 100).await.unwrap().len(),
        1,
        "the recent fix stays"
    );
    // The summaries are what the row-by-row reduction writes (compare
    // console_more_suite::old_fixes_become_daily_summaries_once).
    let days = s.daily_presence(pid, 10).await.unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0].day, day("2025-08-05"));
    let d = &days[1];
    assert_eq!(d.day, day("2025-08-04"));
    assert_eq!((d.first_at, d.last_at, d.fix_count), (d0, d0_evening, 2));
    assert_eq!(d.in_region_count(), 1);
    assert_eq!(d.zones.get("outside"), Some(&1));
    let days2 = s.daily_presence(pid2, 10).await.unwrap();
    assert_eq!(
        days2
            .iter()
            .map(|d| (d.day, d.fix_count))
            .collect::<Vec<_>>(),
        [(day("2025-08-06"), 1), (day("2025-08-05"), 1)]
    );

    // A day reduced twice (its partition made again on demand by a late
    // batch, then retired again) merges into the summary it already has.
    let late_d0 = msk("2025-08-04 15:00");
    s.ingest(
        &m,
        &dev,
        vec![fix(10, late_d0, KREMLIN)],
        msk("2025-08-05 10:00"),
    )
    .await
    .unwrap();
    assert!(where_stored(&db, &dev)
        .await
        .contains(&("fixes_20250804".to_string(), 10)));
    let b = s.retire_fix_partitions(cutoff, now).await.unwrap();
    assert_eq!((b.partitions, b.fixes_removed), (1, 1));
    let d = &s.daily_presence(pid, 10).await.unwrap()[1];
    assert_eq!((d.first_at, d.last_at, d.fix_count), (d0, d0_evening, 3));
    assert!(s.retention_status(cutoff).await.unwrap().is_ok());
}

async fn a_crash_between_detach_and_drop_is_finished_by_the_next_run(h: Harness) {
    let s = h.migrated().await;
    let db = pg_client(pg_url(&h)).await;
    let m = monitor();
    let d0 = msk("2025-08-04 10:00");
    let (pid, _, dev) = enrolled_with_device(&s, &m, "UZ8000007", d0).await;
    s.ingest(&m, &dev, vec![fix(1, d0, KREMLIN)], d0)
        .await
        .unwrap();
    // What the first step of a run leaves if the process dies after it.
    db.batch_execute(
        "ALTER TABLE fixes DETACH PARTITION fixes_20250804; \
         ALTER TABLE fixes_20250804 RENAME TO fixes_retired_20250804",
    )
    .await
    .unwrap();
    let now = msk("2025-11-10 12:00");
    let cutoff = amina_domain::retention::cutoff(now, 90).unwrap();
    // Until it is reduced, the detached day still counts as raw fixes.
    let st = s.retention_status(cutoff).await.unwrap();
    assert_eq!((st.raw_before_cutoff, st.oldest_raw), (1, Some(d0)));
    assert!(!st.is_ok());
    let b = s.retire_fix_partitions(cutoff, now).await.unwrap();
    assert_eq!((b.partitions, b.fixes_removed), (1, 1));
    assert_eq!(s.daily_presence(pid, 10).await.unwrap().len(), 1);
    assert!(s.retention_status(cutoff).await.unwrap().is_ok());
}

/// A database at migration 0011 with fixes in the old, unpartitioned table
/// is migrated with its rows: each lands in its day's partition, once.
async fn migration_moves_existing_fixes_into_partitions(h: Harness) {
    let db = pg_client(pg_url(&h)).await;
    const OLD: &[(&str, &str)] = &[
        (
            "0001_spine",
            include_str!("../migrations/postgres/0001_spine.sql"),
        ),
        (
            "0002_signals",
            include_str!("../migrations/postgres/0002_signals.sql"),
        ),
        (
            "0003_push",
            include_str!("../migrations/postgres/0003_push.sql"),
        ),
        (
            "0004_stay",
            include_str!("../migrations/postgres/0004_stay.sql"),
        ),
        (
            "0005_console",
            include_str!("../migrations/postgres/0005_console.sql"),
        ),
        (
            "0006_detection",
            include_str!("../migrations/postgres/0006_detection.sql"),
        ),
        (
            "0007_console_more",
            include_str!("../migrations/postgres/0007_console_more.sql"),
        ),
        (
            "0008_integration",
            include_str!("../migrations/postgres/0008_integration.sql"),
        ),
        (
            "0009_owntracks",
            include_str!("../migrations/postgres/0009_owntracks.sql"),
        ),
        (
            "0010_detection_more",
            include_str!("../migrations/postgres/0010_detection_more.sql"),
        ),
        (
            "0011_host_parties",
            include_str!("../migrations/postgres/0011_host_parties.sql"),
        ),
    ];
    db.batch_execute(
        "CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL)",
    )
    .await
    .unwrap();
    for (name, sql) in OLD {
        db.batch_execute(sql).await.unwrap();
        db.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES ($1, now())",
            &[name],
        )
        .await
        .unwrap();
    }
    // Rows on three Moscow days; 23:30 UTC on 1 March is 02:30 on 2 March
    // in Moscow.
    db.batch_execute(
        "INSERT INTO fixes (device_id, seq, person_id, lat, lon, accuracy_m, recorded_at, \
         received_at, source, mock, battery_pct, zone, flags, counted) \
         SELECT 'dev-' || (g % 3), g, g % 3 + 1, 55.75, 37.61, 10, ts, ts, 'gps', false, 50, \
                'moscow', 0, true \
         FROM generate_series(1, 300) g, \
              LATERAL (SELECT timestamptz '2025-03-01 00:00:00+00' + (g * interval '10 min')) t(ts)",
    )
    .await
    .unwrap();
    let before: Vec<(String, i64, std::time::SystemTime)> = db
        .query(
            "SELECT device_id, seq, recorded_at FROM fixes ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(before.len(), 300);

    // 0012 and whatever came after it; nothing before it runs again.
    let applied = h.store.migrate().await.unwrap();
    assert_eq!(
        applied.first().map(String::as_str),
        Some("0012_fix_partitions")
    );
    assert!(applied.iter().all(|m| m.as_str() > "0011"), "{applied:?}");
    let after: Vec<(String, i64, std::time::SystemTime)> = db
        .query(
            "SELECT device_id, seq, recorded_at FROM fixes ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(after, before, "every row kept, once");
    let per_table: Vec<(String, i64)> = db
        .query(
            "SELECT tableoid::regclass::text, count(*) FROM fixes GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // 300 fixes 10 minutes apart from 00:10 UTC on 1 March (03:10 Moscow)
    // to 02:00 UTC on 3 March (05:00 Moscow).
    assert_eq!(
        per_table,
        [
            ("fixes_20250301".to_string(), 125),
            ("fixes_20250302".to_string(), 144),
            ("fixes_20250303".to_string(), 31)
        ]
    );
    let old: Option<String> = db
        .query_one("SELECT to_regclass('fixes_unpartitioned')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(old, None);
    // The unique key still refuses a stored fix.
    let dup = db
        .batch_execute(
            "INSERT INTO fixes SELECT * FROM fixes WHERE device_id = 'dev-1' AND seq = 1",
        )
        .await;
    assert!(dup.is_err());
}

suite!(
    both: [],
    postgres_only: [
        batches_make_partitions_for_their_days,
        a_fix_of_a_day_without_partition_is_stored_and_moved_later,
        a_retry_is_never_stored_twice_across_a_partition_boundary,
        the_seq_bound_keeps_retries_and_reuse_exact,
        retention_drops_whole_day_partitions,
        a_crash_between_detach_and_drop_is_finished_by_the_next_run,
        migration_moves_existing_fixes_into_partitions,
    ]
);
