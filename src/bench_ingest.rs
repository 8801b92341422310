//! `amina bench ingest`: durable fix ingestion, end to end, on SQLite.
//!
//! What is timed: phones (each with its own P-256 key, enrolled and bound
//! through the real API) upload signed batches over loopback HTTP to a real
//! server on a fresh SQLite file; every request is answered only after its
//! fixes are committed with `synchronous = FULL`. The figure is acknowledged
//! fixes per second and request latency percentiles.
//!
//! Baseline, in the same run: the straightforward way to do the same storage
//! work in SQLite — one transaction per fix (INSERT the fix, UPDATE the
//! person's state), same durability settings, no HTTP, no signatures. The
//! ratio shows what batching and group commit buy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use amina_client::device::{fix, DeviceClient};
use amina_server::clock::{Clock, SystemClock};
use amina_server::config::Config;
use amina_server::state::{build_monitor, AppState};
use anyhow::Context;
use clap::Args;
use jiff::{SignedDuration, Timestamp};

#[derive(Args, Debug, Clone)]
pub struct IngestArgs {
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
    /// Fixes written by the one-transaction-per-fix baseline per round.
    #[arg(long, default_value_t = 2_000)]
    baseline_fixes: usize,
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.scheduler.enabled = false;
    let monitor = build_monitor(&config)?;
    let store = amina_store::open(&config.database_url()).await?;
    store.migrate().await?;
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
    let mut phones = Vec::with_capacity(args.phones);
    for i in 0..args.phones {
        let mut phone = DeviceClient::new(&base).with_http(http.clone());
        phone
            .enrol_and_bind(&format!("BENCH{i:06}"), "bench-secret")
            .await
            .map_err(|e| anyhow::anyhow!("enrol phone {i}: {e}"))?;
        phones.push(Arc::new(phone));
    }
    let start = clock.now() + SignedDuration::from_millis(1);

    println!(
        "bench ingest: {} phones x {} fixes, {} fixes/request, {} in flight, {} rounds, SQLite synchronous=FULL",
        args.phones, args.fixes_per_phone, args.batch, args.concurrency, args.rounds
    );
    // Rounds alternate amina and baseline so that both see the same
    // background load on a shared machine.
    let mut rates = Vec::new();
    let mut latencies = Vec::new();
    let mut base_rates = Vec::new();
    for round in 0..args.rounds {
        let (rate, mut lat) = ingest_round(&phones, &args, round, start).await?;
        let dir_path = dir.path().to_path_buf();
        let n = args.baseline_fixes;
        let base =
            tokio::task::spawn_blocking(move || baseline_round(&dir_path, n, round)).await??;
        println!(
            "  round {}: amina {:>9.0} fixes/s, baseline {:>7.0} fixes/s",
            round + 1,
            rate,
            base
        );
        rates.push(rate);
        latencies.append(&mut lat);
        base_rates.push(base);
    }
    let _ = stop_tx.send(());
    let _ = server.await;

    let amina = median(&mut rates);
    let baseline = median(&mut base_rates);
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "amina (HTTP + signature + geofence + rules + group commit): median {amina:.0} fixes/s"
    );
    println!(
        "  request latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(pct(0.5)),
        ms(pct(0.9)),
        ms(pct(0.99)),
        ms(pct(1.0))
    );
    println!("baseline (SQLite, one transaction per fix, no HTTP): median {baseline:.0} fixes/s");
    println!("ratio amina / baseline: {:.1}x", amina / baseline);
    Ok(())
}

async fn ingest_round(
    phones: &[Arc<DeviceClient>],
    args: &IngestArgs,
    round: usize,
    start: Timestamp,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    let sem = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
    let began = Instant::now();
    let mut tasks = Vec::new();
    for phone in phones {
        for chunk_start in (0..args.fixes_per_phone).step_by(args.batch) {
            let phone = Arc::clone(phone);
            let sem = Arc::clone(&sem);
            let n = args.batch.min(args.fixes_per_phone - chunk_start);
            let first_seq = (round * args.fixes_per_phone + chunk_start) as i64 + 1;
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire().await.expect("semaphore is never closed");
                let fixes: Vec<_> = (0..n as i64)
                    .map(|k| {
                        let seq = first_seq + k;
                        let t = start + SignedDuration::from_millis(seq);
                        fix(seq, 55.75 + (seq % 100) as f64 * 1e-5, 37.62, 15.0, t)
                    })
                    .collect();
                let t0 = Instant::now();
                let resp = phone.upload(&fixes).await;
                (t0.elapsed(), resp.map(|r| r.accepted.len()))
            }));
        }
    }
    let mut stored = 0;
    let mut latencies = Vec::with_capacity(tasks.len());
    for t in tasks {
        let (lat, res) = t.await?;
        stored += res.map_err(|e| anyhow::anyhow!("upload failed: {e}"))?;
        latencies.push(lat);
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

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
