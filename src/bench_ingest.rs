//! `amina bench ingest`: durable fix ingestion, end to end, on SQLite or
//! PostgreSQL.
//!
//! What is timed: phones (each with its own P-256 key, enrolled and bound
//! through the real API) upload proven batches over loopback HTTP to a real
//! server — by default inside a key-bound session each phone opened before
//! the timed rounds (`--proof session`: an HMAC-SHA256 tag per request, the
//! app's steady state), or with an ECDSA signature on every request
//! (`--proof signature`); every request is answered only after its fixes are committed
//! durably (SQLite: WAL with `synchronous = FULL`; PostgreSQL: `fsync=on`,
//! `synchronous_commit=on`). The load generator runs in the same process as
//! the server, on the same cores. The figure is acknowledged fixes per
//! second and request latency percentiles.
//!
//! Each phone stays around a home point drawn uniformly over the pilot
//! area's bounding box (deterministic from the seed), so fixes fall inside
//! Moscow, inside the oblast and outside both, as the baseline's do.
//!
//! Baselines, in the same run:
//! - SQLite: the straightforward way to do the same storage work in SQLite
//!   — one transaction per fix (INSERT the fix, UPDATE the person's state),
//!   same durability settings, no HTTP, no signatures.
//! - PostgreSQL: the straightforward way in PostgreSQL/PostGIS, driven by
//!   `pgbench` with a custom script (see [`crate::bench_ingest_pg`]): one
//!   INSERT per fix with `ST_Contains` against the real region polygons and
//!   an upsert of the person's state, one transaction per fix, on the same
//!   durable server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use amina_client::device::{fix, DeviceClient};
use amina_server::clock::{Clock, SystemClock};
use amina_server::config::Config;
use amina_server::state::{build_monitor, AppState};
use anyhow::Context;
use clap::{Args, ValueEnum};
use jiff::{SignedDuration, Timestamp};
use rand::{Rng, SeedableRng};

use crate::bench_ingest_pg::PgBench;
use crate::sim::Proof;

/// Where the server stores fixes.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file (the embedded default).
    Sqlite,
    /// A fresh database on a durable PostgreSQL server with PostGIS.
    Postgres,
}

#[derive(Args, Debug, Clone)]
pub struct IngestArgs {
    /// Storage backend of the server under test.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// PostgreSQL only: admin URL of an existing server (its user must be
    /// allowed to create databases; PostGIS installed). The benchmark creates
    /// two databases there and drops them at the end. Without it, a
    /// throwaway cluster with fsync on is started in a temporary directory.
    #[arg(long, env = "AMINA_BENCH_PG_URL")]
    pg_url: Option<String>,
    /// PostgreSQL only: extra server settings for the throwaway cluster
    /// (NAME=VALUE, repeatable), e.g. `commit_delay=100`.
    #[arg(long = "pg-setting", value_name = "NAME=VALUE")]
    pg_settings: Vec<String>,
    /// PostgreSQL only: the server's connection pool size.
    #[arg(long, default_value_t = 32)]
    pg_pool: usize,
    /// PostgreSQL only: pgbench clients of the baseline.
    #[arg(long, default_value_t = 8)]
    pub(crate) baseline_clients: usize,
    /// PostgreSQL only: seconds of each pgbench baseline round.
    #[arg(long, default_value_t = 5)]
    pub(crate) baseline_seconds: u64,
    /// Simulated phones.
    #[arg(long, default_value_t = 200)]
    phones: usize,
    /// Fixes each phone uploads per round.
    #[arg(long, default_value_t = 100)]
    fixes_per_phone: usize,
    /// Fixes per request.
    #[arg(long, default_value_t = 20)]
    batch: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Timed rounds (the median is reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Rounds run first and not counted, for amina and the baseline alike:
    /// a fresh database starts with cold caches, statements not yet
    /// prepared on its connections and tables not yet analysed, which a
    /// running server is past.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// SQLite only: fixes written by the one-transaction-per-fix baseline
    /// per round.
    #[arg(long, default_value_t = 2_000)]
    baseline_fixes: usize,
    /// Seed of the phones' home points.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// How phones prove requests: inside a key-bound session opened before
    /// the timed rounds (an HMAC tag per request, the app's steady state)
    /// or with an ECDSA signature on every request.
    #[arg(long, value_enum, default_value_t = Proof::Session)]
    proof: Proof,
}

/// The pilot area's bounding box: (lat0, lon0, lat1, lon1).
pub(crate) fn pilot_bbox(fence: &amina_domain::geofence::Geofence) -> (f64, f64, f64, f64) {
    let (mut lat0, mut lon0, mut lat1, mut lon1) = (90.0f64, 180.0f64, -90.0f64, -180.0f64);
    for s in fence.outer_boundary_segments() {
        lon0 = lon0.min(s[0]).min(s[2]);
        lon1 = lon1.max(s[0]).max(s[2]);
        lat0 = lat0.min(s[1]).min(s[3]);
        lat1 = lat1.max(s[1]).max(s[3]);
    }
    (lat0, lon0, lat1, lon1)
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.scheduler.enabled = false;
    // A hundred phones send a day's worth of requests in seconds: the
    // per-device limits would measure themselves, not ingestion.
    config.limits = amina_server::config::LimitsConfig::off();
    let monitor = build_monitor(&config)?;
    let (lat0, lon0, lat1, lon1) = pilot_bbox(&monitor.geofence);

    // PostgreSQL: a durable server, the amina database and the baseline's.
    let pg = match args.backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            Some(PgBench::prepare(args.pg_url.clone(), args.pg_settings.clone()).await?)
        }
    };
    let store: amina_store::SharedStore = match &pg {
        None => amina_store::open(&config.database_url()).await?,
        Some(pg) => {
            config.database = pg.amina_url.clone();
            Arc::new(
                amina_store::postgres::PostgresStore::connect_with(&pg.amina_url, args.pg_pool)
                    .await?,
            )
        }
    };
    store.migrate().await?;
    if let Some(pg) = &pg {
        pg.prepare_baseline(&args, (lat0, lon0, lat1, lon1)).await?;
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = AppState::new(store.clone(), monitor, config, clock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(amina_server::serve(listener, state, async {
        let _ = stop_rx.await;
    }));

    // Cards share one Argon2 hash so that setting up is quick.
    let hash = amina_server::cards::hash_secret("bench-secret");
    let now = clock.now();
    let cards = (0..args.phones)
        .map(|i| amina_domain::eligibility::CardRecord {
            number: amina_domain::types::CardNumber::parse(&format!("BENCH{i:06}"))
                .expect("generated card numbers are valid"),
            secret_hash: hash.clone(),
            name_latin: format!("Bench {i}"),
            name_cyrillic: format!("Тест {i}"),
            citizenship: amina_domain::types::Citizenship::parse("UZB").expect("valid code"),
            birth_date: jiff::civil::date(1990, 1, 1),
            purpose: amina_domain::eligibility::Purpose::Work,
            valid_until: jiff::civil::date(2030, 1, 1),
        })
        .collect();
    store.import_cards(cards, now).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let mut phones = Vec::with_capacity(args.phones);
    for i in 0..args.phones {
        let mut client = args.proof.phone(&base, http.clone());
        client
            .enrol_and_bind(&format!("BENCH{i:06}"), "bench-secret")
            .await
            .map_err(|e| anyhow::anyhow!("enrol phone {i}: {e}"))?;
        if args.proof == Proof::Session {
            client
                .session()
                .await
                .map_err(|e| anyhow::anyhow!("open a session for phone {i}: {e}"))?;
        }
        let home = (rng.random_range(lat0..lat1), rng.random_range(lon0..lon1));
        phones.push(Arc::new(Phone { client, home }));
    }
    let start = clock.now() + SignedDuration::from_millis(1);

    let backend = match args.backend {
        Backend::Sqlite => "SQLite synchronous=FULL".to_string(),
        Backend::Postgres => format!(
            "PostgreSQL fsync=on synchronous_commit=on, pool {}",
            args.pg_pool
        ),
    };
    let proof = match args.proof {
        Proof::Session => "proof: session HMAC",
        Proof::Signature => "proof: ECDSA signature",
    };
    println!(
        "bench ingest: {} phones x {} fixes, {} fixes/request, {} in flight, {} rounds after {} warm-up, {backend}, {proof}",
        args.phones, args.fixes_per_phone, args.batch, args.concurrency, args.rounds, args.warmup
    );
    // Rounds alternate amina and baseline so that both see the same
    // background load on a shared machine.
    let mut rates = Vec::new();
    let mut request_rates = Vec::new();
    let mut latencies = Vec::new();
    let mut base_rates = Vec::new();
    let mut base_latencies = Vec::new();
    for round in 0..args.warmup + args.rounds {
        let (rate, mut lat) = ingest_round(&phones, &args, round, start).await?;
        let counted = round >= args.warmup;
        let base = match &pg {
            None => {
                let dir_path = dir.path().to_path_buf();
                let n = args.baseline_fixes;
                tokio::task::spawn_blocking(move || baseline_round(&dir_path, n, round)).await??
            }
            Some(pg) => {
                let out = pg.pgbench_round(&args, round).await?;
                if counted {
                    base_latencies.extend(out.latencies);
                }
                out.fixes_per_s
            }
        };
        lat.sort();
        let label = if counted {
            format!("round {}", round - args.warmup + 1)
        } else {
            "warm-up (not counted)".to_string()
        };
        println!(
            "  {label}: amina {:>9.0} fixes/s ({:>7.0} requests/s, p99 {:>5.1} ms), baseline {:>7.0} fixes/s",
            rate,
            rate / args.batch as f64,
            ms(quantile(&lat, 0.99)),
            base
        );
        if !counted {
            continue;
        }
        rates.push(rate);
        request_rates.push(rate / args.batch as f64);
        latencies.append(&mut lat);
        base_rates.push(base);
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    drop(store);
    if let Some(pg) = pg {
        pg.finish().await;
    }

    let (amina, amina_lo, amina_hi) = median_range(&mut rates);
    let (baseline, base_lo, base_hi) = median_range(&mut base_rates);
    let requests = median_range(&mut request_rates).0;
    println!(
        "amina (HTTP + proof + geofence + rules + group commit): median {amina:.0} fixes/s \
         (range {amina_lo:.0}-{amina_hi:.0}), {requests:.0} requests/s"
    );
    println!("  request latency: {}", percentiles(&mut latencies));
    match args.backend {
        Backend::Sqlite => println!(
            "baseline (SQLite, one transaction per fix, no HTTP): median {baseline:.0} fixes/s \
             (range {base_lo:.0}-{base_hi:.0})"
        ),
        Backend::Postgres => {
            println!(
                "baseline (pgbench, {} clients: one INSERT per fix with ST_Contains on the real \
                 polygons + upsert of the person's state, one transaction per fix): median \
                 {baseline:.0} fixes/s (range {base_lo:.0}-{base_hi:.0})",
                args.baseline_clients
            );
            println!(
                "  transaction latency: {}",
                percentiles(&mut base_latencies)
            );
        }
    }
    println!("ratio amina / baseline: {:.1}x", amina / baseline);
    Ok(())
}

/// A simulated phone: its client and the point it stays around.
struct Phone {
    client: DeviceClient,
    home: (f64, f64),
}

/// "p50 …, p90 …, p99 …, max …" of a set of latencies.
fn percentiles(latencies: &mut [Duration]) -> String {
    if latencies.is_empty() {
        return "none".to_string();
    }
    latencies.sort();
    format!(
        "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(quantile(latencies, 0.5)),
        ms(quantile(latencies, 0.9)),
        ms(quantile(latencies, 0.99)),
        ms(quantile(latencies, 1.0))
    )
}

/// The `p` quantile of sorted, non-empty latencies (zero when empty).
fn quantile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn ingest_round(
    phones: &[Arc<Phone>],
    args: &IngestArgs,
    round: usize,
    start: Timestamp,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    // A phone uploads its batches one after another, each once the
    // previous one is acknowledged, as the app does; at most `concurrency`
    // requests are in flight over all phones (a fair semaphore, so phones
    // take turns). Requests of one phone never queue behind each other on
    // that person's row lock.
    let sem = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
    let began = Instant::now();
    let mut tasks = Vec::with_capacity(phones.len());
    for phone in phones {
        let phone = Arc::clone(phone);
        let sem = Arc::clone(&sem);
        let (per_phone, batch) = (args.fixes_per_phone, args.batch.max(1));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_phone.div_ceil(batch));
            let mut stored = 0;
            for chunk_start in (0..per_phone).step_by(batch) {
                let n = batch.min(per_phone - chunk_start);
                let first_seq = (round * per_phone + chunk_start) as i64 + 1;
                let fixes: Vec<_> = (0..n as i64)
                    .map(|k| {
                        let seq = first_seq + k;
                        let t = start + SignedDuration::from_millis(seq);
                        let (lat, lon) = phone.home;
                        fix(seq, lat + (seq % 100) as f64 * 1e-5, lon, 15.0, t)
                    })
                    .collect();
                let _permit = sem.acquire().await.expect("semaphore is never closed");
                let t0 = Instant::now();
                let resp = phone.client.upload(&fixes).await;
                latencies.push(t0.elapsed());
                stored += resp
                    .map_err(|e| anyhow::anyhow!("upload failed: {e}"))?
                    .accepted
                    .len();
            }
            anyhow::Ok((stored, latencies))
        }));
    }
    let mut stored = 0;
    let mut latencies = Vec::new();
    for t in tasks {
        let (n, mut lat) = t.await??;
        stored += n;
        latencies.append(&mut lat);
    }
    let secs = began.elapsed().as_secs_f64();
    anyhow::ensure!(
        stored == phones.len() * args.fixes_per_phone,
        "expected every fix acknowledged once, got {stored}"
    );
    Ok((stored as f64 / secs, latencies))
}

/// One transaction per fix, straight into SQLite, same durability.
fn baseline_round(dir: &std::path::Path, fixes: usize, round: usize) -> anyhow::Result<f64> {
    let path = dir.join(format!("baseline-{round}.sqlite3"));
    let conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE fixes (device_id TEXT, seq INTEGER, lat REAL, lon REAL, accuracy_m REAL, \
         recorded_at INTEGER, PRIMARY KEY (device_id, seq)) WITHOUT ROWID;
         CREATE TABLE persons (id INTEGER PRIMARY KEY, last_monitoring_at INTEGER, lat REAL, lon REAL);
         INSERT INTO persons (id) VALUES (1);",
    )
    .context("baseline schema")?;
    let began = Instant::now();
    for i in 0..fixes as i64 {
        let tx = conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO fixes VALUES ('d', ?1, 55.75, 37.62, 15.0, ?1)",
            rusqlite::params![i],
        )?;
        tx.execute(
            "UPDATE persons SET last_monitoring_at = ?1, lat = 55.75, lon = 37.62 WHERE id = 1",
            rusqlite::params![i],
        )?;
        tx.commit()?;
    }
    Ok(fixes as f64 / began.elapsed().as_secs_f64())
}

/// (median, minimum, maximum).
fn median_range(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
