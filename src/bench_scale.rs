//! `amina bench deadlines | nearby | memory`: the pilot's population (3
//! million enrolled people) on one machine, on PostgreSQL and on SQLite.
//!
//! People are loaded in bulk, straight into the tables (multi-row inserts
//! in chunks of 100,000, not through the API), in valid states: a card, a
//! registered person and their open registration, with the deadline the
//! monitoring window computes from the registration's start; people with a
//! last position have it in every column the store keeps for it
//! (`trusted_*`, the PostGIS point, presence in the region).
//!
//! - `deadlines`: the scheduler's deregistration pass (the store method it
//!   calls, [`amina_store::Store::deregister_due`], in batches of the
//!   configured size until a short batch) over groups of people who fall
//!   due at once. The same due count is timed at two populations (300,000
//!   and 3,000,000 by default) and two due counts at the full population
//!   (10,000 and 100,000): cost proportional to the people due means the
//!   first ratio near 1 and the second near 10. Every due person is checked
//!   in the database to be deregistered exactly once, and nobody else.
//! - `nearby`: the console's "people near a point" query
//!   ([`amina_store::ConsoleStore::nearby`], 500 m, as the console asks it)
//!   at random points of the populated area; latency percentiles. Baseline:
//!   the store's first SQL statement for this query (a bounding box or
//!   `ST_DWithin`, a signal count per candidate) with the planner forbidden
//!   to use indexes (PostgreSQL) or with `NOT INDEXED` (SQLite), i.e. a scan
//!   of every person, over fewer queries. It is kept as it was when the
//!   store's query changed, so that its median compares runs made under
//!   different machine load.
//! - `memory`: `amina serve` (this binary, a child process) on a database of
//!   3 million people, exercised lightly (status and console requests, one
//!   scheduler pass over 10,000 people due); its VmRSS and VmHWM from
//!   /proc.
//!
//! PostgreSQL is the database `--pg-url` names (an empty database; PostGIS
//! must be installable there), or else a throwaway cluster started through
//! `amina-testkit` (`fsync=off`, `shared_buffers=32MB`). SQLite is a file in
//! a temporary directory, with the store's own settings (WAL, FULL).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use amina_domain::monitor::Monitor;
use amina_server::config::Config;
use amina_server::state::build_monitor;
use amina_store::SharedStore;
use anyhow::{bail, ensure, Context};
use clap::{Args, ValueEnum};
use jiff::{SignedDuration, Timestamp};
use rand::{Rng, SeedableRng};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backends {
    Both,
    Postgres,
    Sqlite,
}

impl Backends {
    fn list(self) -> Vec<Backend> {
        match self {
            Backends::Both => vec![Backend::Postgres, Backend::Sqlite],
            Backends::Postgres => vec![Backend::Postgres],
            Backends::Sqlite => vec![Backend::Sqlite],
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// Which stores to measure.
    #[arg(long, value_enum, default_value = "both")]
    backend: Backends,
    /// An empty PostgreSQL database to fill (PostGIS installable). Default:
    /// a throwaway cluster started for the run.
    #[arg(long)]
    pg_url: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct DeadlinesArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Enrolled people at full size.
    #[arg(long, default_value_t = 3_000_000)]
    people: i64,
    /// The smaller population timed with the same due count.
    #[arg(long, default_value_t = 300_000)]
    small_people: i64,
    /// The large due count (at full size).
    #[arg(long, default_value_t = 100_000)]
    due: i64,
    /// The small due count (at both sizes).
    #[arg(long, default_value_t = 10_000)]
    small_due: i64,
    /// Timed passes of each kind (the median is reported); each deregisters
    /// a group of its own.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

#[derive(Args, Debug, Clone)]
pub struct NearbyArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// People with a last position.
    #[arg(long, default_value_t = 3_000_000)]
    people: i64,
    /// Timed queries.
    #[arg(long, default_value_t = 2_000)]
    queries: usize,
    /// Queries of the index-free baseline.
    #[arg(long, default_value_t = 10)]
    baseline_queries: usize,
    #[arg(long, default_value_t = 500.0)]
    radius_m: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(Args, Debug, Clone)]
pub struct MemoryArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[arg(long, default_value_t = 3_000_000)]
    people: i64,
    /// People due at the server's start, for its first scheduler pass.
    #[arg(long, default_value_t = 10_000)]
    due: i64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// People per load transaction.
const CHUNK: i64 = 100_000;

// ---------------------------------------------------------------------------
// The database under test and its bulk loader.

enum Target {
    Postgres {
        url: String,
        client: Box<tokio_postgres::Client>,
        _db: Option<amina_testkit::PgDatabase>,
    },
    Sqlite {
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
}

/// One group of people loaded alike: ids `from..=to`, registered at `start`
/// with deadline `deadline`, optionally with last positions (one per id).
struct Group<'a> {
    from: i64,
    to: i64,
    start: Timestamp,
    deadline: Timestamp,
    positions: Option<&'a [(f64, f64)]>,
}

impl Target {
    async fn open(backend: Backend, args: &TargetArgs) -> anyhow::Result<Target> {
        match backend {
            Backend::Postgres => {
                let (url, db) = match &args.pg_url {
                    Some(u) => (u.clone(), None),
                    None => {
                        let db = tokio::task::spawn_blocking(amina_testkit::fresh_pg_database)
                            .await?
                            .context("no PostgreSQL for the benchmark (see the message above); pass --pg-url")?;
                        (db.url.clone(), Some(db))
                    }
                };
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .context("connect to PostgreSQL")?;
                tokio::spawn(conn);
                Ok(Target::Postgres {
                    url,
                    client: Box::new(client),
                    _db: db,
                })
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                Ok(Target::Sqlite {
                    path: dir.path().join("amina.db"),
                    _dir: dir,
                })
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Postgres { .. } => "PostgreSQL",
            Target::Sqlite { .. } => "SQLite",
        }
    }

    fn url(&self) -> String {
        match self {
            Target::Postgres { url, .. } => url.clone(),
            Target::Sqlite { path, .. } => format!("sqlite:{}", path.display()),
        }
    }

    async fn store(&self) -> anyhow::Result<SharedStore> {
        let store = amina_store::open(&self.url()).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Load groups of people; returns the seconds it took.
    async fn load(&self, groups: &[Group<'_>]) -> anyhow::Result<f64> {
        let began = Instant::now();
        let hash = amina_server::cards::hash_secret("bench-secret");
        match self {
            Target::Postgres { client, .. } => {
                // The spatial index is built once after the load rather
                // than grown point by point.
                client
                    .batch_execute("DROP INDEX IF EXISTS persons_nearby_anchor")
                    .await?;
                for g in groups {
                    pg_load(client, g, &hash).await?;
                }
                client
                    .batch_execute(
                        "CREATE INDEX persons_nearby_anchor ON persons USING gist (nearby_anchor); \
                         SELECT setval(pg_get_serial_sequence('persons', 'id'), (SELECT max(id) FROM persons)); \
                         SELECT setval(pg_get_serial_sequence('registrations', 'id'), (SELECT max(id) FROM registrations)); \
                         ",
                    )
                    .await?;
                // As a table that has lived a while: hint bits set, the
                // visibility map and statistics up to date.
                for table in ["cards", "persons", "registrations"] {
                    client
                        .batch_execute(&format!("VACUUM (ANALYZE) {table}"))
                        .await?;
                }
            }
            Target::Sqlite { path, .. } => {
                let path = path.clone();
                let rows: Vec<_> = groups
                    .iter()
                    .map(|g| {
                        (
                            g.from,
                            g.to,
                            ms(g.start),
                            ms(g.deadline),
                            g.positions.map(<[_]>::to_vec),
                        )
                    })
                    .collect();
                tokio::task::spawn_blocking(move || sqlite_load(&path, &rows, &hash)).await??;
            }
        }
        Ok(began.elapsed().as_secs_f64())
    }

    /// (deregistrations, distinct registrations among them, persons
    /// deregistered) of people `from..=to`, and all deregistrations.
    async fn deregistered(&self, from: i64, to: i64) -> anyhow::Result<[i64; 4]> {
        match self {
            Target::Postgres { client, .. } => {
                let r = client
                    .query_one(
                        "SELECT (SELECT count(*) FROM deregistrations WHERE person_id BETWEEN $1 AND $2), \
                                (SELECT count(DISTINCT registration_id) FROM deregistrations WHERE person_id BETWEEN $1 AND $2), \
                                (SELECT count(*) FROM persons WHERE id BETWEEN $1 AND $2 AND status = 'deregistered'), \
                                (SELECT count(*) FROM deregistrations)",
                        &[&from, &to],
                    )
                    .await?;
                Ok([r.get(0), r.get(1), r.get(2), r.get(3)])
            }
            Target::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path)?;
                conn.busy_timeout(Duration::from_secs(30))?;
                Ok(conn.query_row(
                    "SELECT (SELECT count(*) FROM deregistrations WHERE person_id BETWEEN ?1 AND ?2), \
                            (SELECT count(DISTINCT registration_id) FROM deregistrations WHERE person_id BETWEEN ?1 AND ?2), \
                            (SELECT count(*) FROM persons WHERE id BETWEEN ?1 AND ?2 AND status = 'deregistered'), \
                            (SELECT count(*) FROM deregistrations)",
                    rusqlite::params![from, to],
                    |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]),
                )?)
            }
        }
    }
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn sys(t: Timestamp) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + Duration::from_micros(t.as_microsecond().max(0) as u64)
}

async fn pg_load(client: &tokio_postgres::Client, g: &Group<'_>, hash: &str) -> anyhow::Result<()> {
    let mut from = g.from;
    while from <= g.to {
        let to = (from + CHUNK - 1).min(g.to);
        let ids: Vec<i64> = (from..=to).collect();
        let (lat, lon): (Vec<Option<f64>>, Vec<Option<f64>>) = match g.positions {
            Some(p) => p[(from - g.from) as usize..=(to - g.from) as usize]
                .iter()
                .map(|(a, b)| (Some(*a), Some(*b)))
                .unzip(),
            None => (vec![None; ids.len()], vec![None; ids.len()]),
        };
        let (start, deadline) = (sys(g.start), sys(g.deadline));
        client.batch_execute("BEGIN").await?;
        client
            .execute(
                "INSERT INTO cards (number, secret_hash, name_latin, name_cyrillic, citizenship, \
                 birth_date, purpose, valid_until, imported_at, updated_at) \
                 SELECT 'BN' || lpad(g::text, 9, '0'), $2, 'Bench ' || g, 'Тест ' || g, 'UZB', \
                        date '1990-01-01', 'work', date '2030-01-01', $3, $3 \
                 FROM unnest($1::bigint[]) g",
                &[&ids, &hash, &start],
            )
            .await?;
        client
            .execute(
                "INSERT INTO persons (id, card_number, status, registration_id, \
                 registration_started_at, last_monitoring_at, deadline_at, presence, \
                 presence_since, trusted_lat, trusted_lon, trusted_accuracy_m, trusted_at, \
                 trusted_position, nearby_anchor, created_at) OVERRIDING SYSTEM VALUE \
                 SELECT u.g, 'BN' || lpad(u.g::text, 9, '0'), 'registered', u.g, $2::timestamptz, \
                        CASE WHEN u.lat IS NULL THEN NULL ELSE $2::timestamptz END, $3::timestamptz, \
                        CASE WHEN u.lat IS NULL THEN 'unknown' ELSE 'in_region' END, \
                        CASE WHEN u.lat IS NULL THEN NULL ELSE $2::timestamptz END, u.lat, u.lon, \
                        CASE WHEN u.lat IS NULL THEN NULL ELSE 15.0 END, \
                        CASE WHEN u.lat IS NULL THEN NULL ELSE $2::timestamptz END, \
                        CASE WHEN u.lat IS NULL THEN NULL \
                             ELSE ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326)::geography END, \
                        CASE WHEN u.lat IS NULL THEN NULL \
                             ELSE ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326)::geography END, $2::timestamptz \
                 FROM unnest($1::bigint[], $4::float8[], $5::float8[]) AS u(g, lat, lon)",
                &[&ids, &start, &deadline, &lat, &lon],
            )
            .await?;
        client
            .execute(
                "INSERT INTO registrations (id, person_id, started_at) OVERRIDING SYSTEM VALUE \
                 SELECT g, g, $2 FROM unnest($1::bigint[]) g",
                &[&ids, &start],
            )
            .await?;
        client.batch_execute("COMMIT").await?;
        from = to + 1;
    }
    Ok(())
}

type SqliteGroup = (i64, i64, i64, i64, Option<Vec<(f64, f64)>>);

fn sqlite_load(path: &std::path::Path, groups: &[SqliteGroup], hash: &str) -> anyhow::Result<()> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    for (from, to, start, deadline, positions) in groups {
        let mut id = *from;
        while id <= *to {
            let end = (id + CHUNK - 1).min(*to);
            let tx = conn.transaction()?;
            {
                let mut card = tx.prepare_cached(
                    "INSERT INTO cards (number, secret_hash, name_latin, name_cyrillic, citizenship, \
                     birth_date, purpose, valid_until, imported_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, 'UZB', '1990-01-01', 'work', '2030-01-01', ?5, ?5)",
                )?;
                let mut person = tx.prepare_cached(
                    "INSERT INTO persons (id, card_number, status, registration_id, \
                     registration_started_at, last_monitoring_at, deadline_at, presence, \
                     presence_since, trusted_lat, trusted_lon, trusted_accuracy_m, trusted_at, \
                     created_at) VALUES (?1, ?2, 'registered', ?1, ?3, ?4, ?5, ?6, ?4, ?7, ?8, ?9, ?4, ?3)",
                )?;
                let mut registration = tx.prepare_cached(
                    "INSERT INTO registrations (id, person_id, started_at) VALUES (?1, ?1, ?2)",
                )?;
                for g in id..=end {
                    let number = format!("BN{g:09}");
                    card.execute(rusqlite::params![
                        number,
                        hash,
                        format!("Bench {g}"),
                        format!("Тест {g}"),
                        start
                    ])?;
                    let pos = positions.as_ref().map(|p| p[(g - from) as usize]);
                    person.execute(rusqlite::params![
                        g,
                        number,
                        start,
                        pos.map(|_| *start),
                        deadline,
                        if pos.is_some() {
                            "in_region"
                        } else {
                            "unknown"
                        },
                        pos.map(|p| p.0),
                        pos.map(|p| p.1),
                        pos.map(|_| 15.0),
                    ])?;
                    registration.execute(rusqlite::params![g, start])?;
                }
            }
            tx.commit()?;
            id = end + 1;
        }
    }
    conn.execute_batch("ANALYZE")?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Deadlines.

/// `n` registration starts, one per day from `first` on, whose deadlines
/// strictly increase (two starts on one weekend share a deadline; the later
/// is skipped), with those deadlines.
fn staggered_starts(
    monitor: &Monitor,
    first: Timestamp,
    n: usize,
) -> anyhow::Result<Vec<(Timestamp, Timestamp)>> {
    let mut out: Vec<(Timestamp, Timestamp)> = Vec::new();
    let mut t = first;
    while out.len() < n {
        let d = monitor.window.deadline(&monitor.calendar, t)?;
        if out
            .last()
            .is_none_or(|(_, last)| d > *last + SignedDuration::from_hours(1))
        {
            out.push((t, d));
        }
        t += SignedDuration::from_hours(24);
    }
    Ok(out)
}

/// The scheduler's deregistration pass at `now`: batches until a short one.
async fn deregistration_pass(
    store: &SharedStore,
    monitor: &Monitor,
    now: Timestamp,
    batch: u32,
) -> anyhow::Result<(f64, Vec<i64>)> {
    let began = Instant::now();
    let mut ids = Vec::new();
    loop {
        let done = store.deregister_due(monitor, now, batch).await?;
        let n = done.len();
        ids.extend(done.iter().map(|d| d.person_id));
        if n < batch as usize {
            break;
        }
    }
    Ok((began.elapsed().as_secs_f64(), ids))
}

pub async fn deadlines(args: DeadlinesArgs) -> anyhow::Result<()> {
    ensure!(args.rounds >= 1, "--rounds must be at least 1");
    ensure!(
        args.small_people >= args.small_due * args.rounds as i64
            && args.people >= args.small_people + (args.small_due + args.due) * args.rounds as i64,
        "the populations are too small for the due groups"
    );
    let config = Config::default();
    let monitor = build_monitor(&config)?;
    let batch = config.scheduler.batch_size.max(1);
    println!(
        "bench deadlines: {} and {} people enrolled, {} and {} due at once, {} round(s), scheduler batch {}",
        args.small_people, args.people, args.small_due, args.due, args.rounds, batch
    );
    for backend in args.target.backend.list() {
        deadlines_on(backend, &args, &monitor, batch).await?;
    }
    Ok(())
}

async fn deadlines_on(
    backend: Backend,
    args: &DeadlinesArgs,
    monitor: &Monitor,
    batch: u32,
) -> anyhow::Result<()> {
    let target = Target::open(backend, &args.target).await?;
    let store = target.store().await?;
    let r = args.rounds;
    // Groups: `r` of small_due at the small population, then `r` of
    // small_due and `r` of due at the full one; everybody else is due long
    // after all of them.
    let first = amina_domain::time::parse_moscow("2025-02-03T10:00:00")?;
    let starts = staggered_starts(monitor, first, 3 * r + 1)?;
    let (far_start, far_deadline) = starts[3 * r];
    let mut next = 1i64;
    // (from, to, start, deadline) of `count` people after `next`, due at the k-th start.
    let plan = |next: &mut i64, count: i64, k: usize| {
        let g = (*next, *next + count - 1, starts[k].0, starts[k].1);
        *next += count;
        g
    };
    let small: Vec<_> = (0..r).map(|i| plan(&mut next, args.small_due, i)).collect();
    let mut groups: Vec<Group> = small
        .iter()
        .map(|&(from, to, start, deadline)| Group {
            from,
            to,
            start,
            deadline,
            positions: None,
        })
        .collect();
    groups.push(Group {
        from: next,
        to: args.small_people,
        start: far_start,
        deadline: far_deadline,
        positions: None,
    });
    let load_small = target.load(&groups).await?;
    println!(
        "{}: loaded {} people in {:.0} s",
        target.name(),
        args.small_people,
        load_small
    );

    let mut results: Vec<(&str, i64, i64, Vec<f64>)> = Vec::new();
    let mut expected_total = 0i64;
    let mut timed = Vec::new();
    for &(from, to, _, deadline) in &small {
        let (secs, ids) = deregistration_pass(
            &store,
            monitor,
            deadline + SignedDuration::from_mins(1),
            batch,
        )
        .await?;
        expected_total += to - from + 1;
        verify(&target, from, to, &ids, expected_total).await?;
        timed.push(secs);
    }
    results.push((
        "small population, small due",
        args.small_people,
        args.small_due,
        timed,
    ));

    next = args.small_people + 1;
    let big_small: Vec<_> = (0..r)
        .map(|i| plan(&mut next, args.small_due, r + i))
        .collect();
    let big_due: Vec<_> = (0..r)
        .map(|i| plan(&mut next, args.due, 2 * r + i))
        .collect();
    let mut groups: Vec<Group> = big_small
        .iter()
        .chain(&big_due)
        .map(|&(from, to, start, deadline)| Group {
            from,
            to,
            start,
            deadline,
            positions: None,
        })
        .collect();
    groups.push(Group {
        from: next,
        to: args.people,
        start: far_start,
        deadline: far_deadline,
        positions: None,
    });
    let load_big = target.load(&groups).await?;
    println!(
        "{}: loaded {} more people ({} in all) in {:.0} s",
        target.name(),
        args.people - args.small_people,
        args.people,
        load_big
    );
    for (label, size, set) in [
        ("full population, small due", args.small_due, &big_small),
        ("full population, large due", args.due, &big_due),
    ] {
        let mut timed = Vec::new();
        for &(from, to, _, deadline) in set.iter() {
            let (secs, ids) = deregistration_pass(
                &store,
                monitor,
                deadline + SignedDuration::from_mins(1),
                batch,
            )
            .await?;
            expected_total += to - from + 1;
            verify(&target, from, to, &ids, expected_total).await?;
            timed.push(secs);
        }
        results.push((label, args.people, size, timed));
    }

    let mut medians = Vec::new();
    for (label, people, due, mut timed) in results {
        let m = median(&mut timed);
        println!(
            "  {}: {label}: {people} people, {due} due: median {:.2} s ({:.0} deregistrations/s, {:.1} µs each) over {:?}",
            target.name(),
            m,
            due as f64 / m,
            m * 1e6 / due as f64,
            timed.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>()
        );
        medians.push(m);
    }
    println!(
        "  {}: ratio population {}x at {} due: time {:.2}x (proportional to the population would be {:.0}x)",
        target.name(),
        args.people / args.small_people,
        args.small_due,
        medians[1] / medians[0],
        args.people as f64 / args.small_people as f64
    );
    println!(
        "  {}: ratio due {}x at {} people: time {:.2}x (proportional to the due would be {:.0}x)",
        target.name(),
        args.due / args.small_due,
        args.people,
        medians[2] / medians[1],
        args.due as f64 / args.small_due as f64
    );
    println!(
        "  {}: every due person deregistered exactly once, nobody else ({} in all)",
        target.name(),
        expected_total
    );
    Ok(())
}

async fn verify(
    target: &Target,
    from: i64,
    to: i64,
    ids: &[i64],
    expected_total: i64,
) -> anyhow::Result<()> {
    let n = to - from + 1;
    let unique: HashSet<i64> = ids.iter().copied().collect();
    ensure!(
        ids.len() as i64 == n
            && unique.len() as i64 == n
            && unique.iter().all(|i| (from..=to).contains(i)),
        "the pass returned {} deregistrations ({} distinct) for {n} people due",
        ids.len(),
        unique.len()
    );
    let [dereg, regs, persons, total] = target.deregistered(from, to).await?;
    ensure!(
        dereg == n && regs == n && persons == n && total == expected_total,
        "in the database: {dereg} deregistrations of {regs} registrations, {persons} people \
         deregistered, {total} in all; expected {n}, {n}, {n}, {expected_total}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Nearby.

/// Last positions spread over the region: most in Moscow (a dense city
/// box), the rest over the Moscow oblast's bounding box.
fn positions(n: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| random_point(&mut rng)).collect()
}

fn random_point(rng: &mut impl Rng) -> (f64, f64) {
    if rng.random_bool(0.7) {
        (
            rng.random_range(55.57..55.91),
            rng.random_range(37.37..37.85),
        )
    } else {
        (
            rng.random_range(54.26..56.96),
            rng.random_range(35.15..40.20),
        )
    }
}

/// The statement the PostgreSQL store's `nearby` ran before its KNN scan
/// (spheroidal distances, a signal count per candidate); the baseline runs
/// it with index scans forbidden, a fixed yardstick from run to run.
const PG_NEARBY: &str = "SELECT p.id, p.card_number, \
     ST_Distance(p.trusted_position, ST_MakePoint($2, $1)::geography) AS d, \
     (SELECT count(*) FROM signals s WHERE s.person_id = p.id \
      AND s.status IN ('open', 'in_review')) FROM persons p \
     WHERE ST_DWithin(p.trusted_position, ST_MakePoint($2, $1)::geography, $3) \
     ORDER BY d LIMIT $4";

pub async fn nearby(args: NearbyArgs) -> anyhow::Result<()> {
    println!(
        "bench nearby: {} last positions, {} queries of {} m at random points, baseline {} queries",
        args.people, args.queries, args.radius_m, args.baseline_queries
    );
    let pos = positions(args.people as usize, args.seed);
    let now = Timestamp::now();
    let monitor = build_monitor(&Config::default())?;
    let start = now - SignedDuration::from_hours(1);
    let deadline = monitor.window.deadline(&monitor.calendar, start)?;
    for backend in args.target.backend.list() {
        let target = Target::open(backend, &args.target).await?;
        let store = target.store().await?;
        let secs = target
            .load(&[Group {
                from: 1,
                to: args.people,
                start,
                deadline,
                positions: Some(&pos),
            }])
            .await?;
        println!(
            "{}: loaded {} people with positions in {:.0} s{}",
            target.name(),
            args.people,
            secs,
            match backend {
                Backend::Postgres => " (GiST index built after the load)",
                Backend::Sqlite => "",
            }
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed + 1);
        let points: Vec<(f64, f64)> = (0..args.queries).map(|_| random_point(&mut rng)).collect();
        // Warm-up: the first queries read the index from disk.
        for p in points.iter().take(50) {
            store.nearby(p.0, p.1, args.radius_m, 500).await?;
        }
        let mut lat = Vec::with_capacity(points.len());
        let mut found = 0usize;
        for p in &points {
            let t = Instant::now();
            found += store.nearby(p.0, p.1, args.radius_m, 500).await?.len();
            lat.push(t.elapsed());
        }
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
        println!(
            "  {}: nearby (store, index): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {:.0} people per query on average",
            target.name(),
            msf(pct(0.5)),
            msf(pct(0.9)),
            msf(pct(0.99)),
            msf(pct(1.0)),
            found as f64 / points.len() as f64
        );
        let mut base = Vec::new();
        for p in points.iter().take(args.baseline_queries) {
            let t = Instant::now();
            let n = baseline_nearby(&target, p.0, p.1, args.radius_m).await?;
            base.push(t.elapsed().as_secs_f64());
            let _ = n;
        }
        let b = median(&mut base);
        println!(
            "  {}: baseline (first statement, no index: a scan of every person): median {:.1} ms",
            target.name(),
            b * 1e3
        );
        println!(
            "  {}: ratio baseline median / indexed median: {:.0}x",
            target.name(),
            b * 1e3 / msf(pct(0.5))
        );
    }
    Ok(())
}

async fn baseline_nearby(
    target: &Target,
    lat: f64,
    lon: f64,
    radius: f64,
) -> anyhow::Result<usize> {
    match target {
        Target::Postgres { client, .. } => {
            client
                .batch_execute("SET enable_indexscan = off; SET enable_bitmapscan = off")
                .await?;
            let rows = client
                .query(PG_NEARBY, &[&lat, &lon, &radius, &500i64])
                .await?;
            client
                .batch_execute("RESET enable_indexscan; RESET enable_bitmapscan")
                .await?;
            Ok(rows.len())
        }
        Target::Sqlite { path, .. } => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
                let conn = rusqlite::Connection::open(&path)?;
                let dlat = radius / 111_000.0;
                let dlon = radius / (111_000.0 * lat.to_radians().cos().max(0.01));
                let mut stmt = conn.prepare(
                    "SELECT p.id, p.card_number, p.trusted_lat, p.trusted_lon, \
                     (SELECT COUNT(*) FROM signals s WHERE s.person_id = p.id \
                      AND s.status IN ('open', 'in_review')) FROM persons p NOT INDEXED \
                     WHERE p.trusted_lat BETWEEN ?1 AND ?2 AND p.trusted_lon BETWEEN ?3 AND ?4",
                )?;
                let n = stmt
                    .query_map(
                        rusqlite::params![lat - dlat, lat + dlat, lon - dlon, lon + dlon],
                        |r| r.get::<_, i64>(0),
                    )?
                    .count();
                Ok(n)
            })
            .await?
        }
    }
}

// ---------------------------------------------------------------------------
// Memory.

pub async fn memory(args: MemoryArgs) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let monitor = build_monitor(&Config::default())?;
    // Everybody registered an hour ago, except a group registered long
    // enough ago to be due now: the server's first scheduler pass.
    let start = now - SignedDuration::from_hours(1);
    let deadline = monitor.window.deadline(&monitor.calendar, start)?;
    let old_start = now - SignedDuration::from_hours(24 * 30);
    let old_deadline = monitor.window.deadline(&monitor.calendar, old_start)?;
    ensure!(
        old_deadline < now && deadline > now,
        "the calendar does not cover today"
    );
    let pos = positions(args.people as usize, args.seed);
    println!(
        "bench memory: amina serve on {} enrolled people with last positions, {} due",
        args.people, args.due
    );
    for backend in args.target.backend.list() {
        let target = Target::open(backend, &args.target).await?;
        drop(target.store().await?);
        let secs = target
            .load(&[
                Group {
                    from: 1,
                    to: args.due,
                    start: old_start,
                    deadline: old_deadline,
                    positions: Some(&pos[..args.due as usize]),
                },
                Group {
                    from: args.due + 1,
                    to: args.people,
                    start,
                    deadline,
                    positions: Some(&pos[args.due as usize..]),
                },
            ])
            .await?;
        println!(
            "{}: loaded {} people in {:.0} s",
            target.name(),
            args.people,
            secs
        );
        serve_and_measure(&target, args.due).await?;
    }
    Ok(())
}

/// VmRSS and VmHWM of a process, in KiB.
fn vm(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("no {name} in /proc/{pid}/status"))?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("malformed status line")?
            .parse()?)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn serve_and_measure(target: &Target, due: i64) -> anyhow::Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir = tempfile::tempdir()?;
    let log = std::fs::File::create(dir.path().join("serve.log"))?;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("AMINA_DATABASE", target.url())
        .env("AMINA_DATA_DIR", dir.path())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("start amina serve")?;
    let pid = child.id().context("amina serve has no pid")?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let began = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if let Some(status) = child.try_wait()? {
            bail!("amina serve exited with {status}; see its log");
        }
        ensure!(
            began.elapsed() < Duration::from_secs(300),
            "amina serve did not come up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (rss0, _) = vm(pid)?;
    println!(
        "  {}: amina serve up in {:.1} s, VmRSS {:.0} MiB",
        target.name(),
        began.elapsed().as_secs_f64(),
        mib(rss0)
    );
    // The first scheduler pass runs at start: wait until it has
    // deregistered everybody due.
    let pass = Instant::now();
    loop {
        let [_, _, _, total] = target.deregistered(1, due).await?;
        if total >= due {
            break;
        }
        ensure!(
            pass.elapsed() < Duration::from_secs(900),
            "the scheduler deregistered {total} of {due} in 15 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "  {}: scheduler pass over {due} people due done ({:.1} s after start-up)",
        target.name(),
        pass.elapsed().as_secs_f64()
    );
    let mut statuses = Vec::new();
    for _ in 0..50 {
        statuses.push(http.get(format!("{base}/healthz")).send().await?.status());
    }
    for _ in 0..3 {
        statuses.push(http.get(format!("{base}/metrics")).send().await?.status());
    }
    for _ in 0..5 {
        statuses.push(
            http.get(format!("{base}/console/login"))
                .send()
                .await?
                .status(),
        );
    }
    ensure!(
        statuses.iter().all(|s| s.is_success()),
        "a request failed: {statuses:?}"
    );
    let (rss, hwm) = vm(pid)?;
    println!(
        "  {}: after {} requests (healthz, metrics, console login page): VmRSS {:.0} MiB, VmHWM {:.0} MiB (target < 2048 MiB)",
        target.name(),
        statuses.len(),
        mib(rss),
        mib(hwm)
    );
    child.kill().await?;
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn msf(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
