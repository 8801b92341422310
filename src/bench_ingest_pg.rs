//! PostgreSQL side of `amina bench ingest`: the durable server, the
//! databases, and the pgbench baseline.
//!
//! The baseline is the same work done the straightforward way in
//! PostgreSQL/PostGIS, one transaction per fix, driven by `pgbench` with a
//! custom script:
//!
//! ```sql
//! BEGIN;
//! INSERT INTO fixes (...) VALUES (..., (SELECT code FROM regions
//!     WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) LIMIT 1));
//! INSERT INTO person_state ... ON CONFLICT (person_id) DO UPDATE ...;
//! COMMIT;
//! ```
//!
//! `regions` holds the real pilot polygons (RU-MOW and RU-MOS, the file the
//! server embeds, `data/regions/moscow-region-boundaries.geojson`) with a
//! GiST index; the points are uniform over the pilot area's bounding box.
//! It runs on the same server as amina's database, in a database of its own.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio_postgres::NoTls;

use crate::bench_ingest::IngestArgs;

/// People the baseline's fixes are spread over.
const BASELINE_PERSONS: u32 = 100_000;

/// The server, its two databases, and the throwaway cluster if we own it.
pub struct PgBench {
    admin_url: String,
    /// amina's database.
    pub amina_url: String,
    baseline_url: String,
    names: [String; 2],
    pgbench: PathBuf,
    logs: tempfile::TempDir,
    script: PathBuf,
    /// Held so that the cluster lives until the benchmark ends.
    cluster: Option<amina_testkit::DurableCluster>,
}

/// One pgbench round: fixes per second and per-transaction latencies.
pub struct BaselineRound {
    pub fixes_per_s: f64,
    pub latencies: Vec<Duration>,
}

impl PgBench {
    /// Connects to `admin_url`, or starts a durable throwaway cluster, and
    /// creates amina's database and the baseline's.
    pub async fn prepare(
        admin_url: Option<String>,
        settings: Vec<String>,
    ) -> anyhow::Result<PgBench> {
        let (admin_url, cluster) = match admin_url {
            Some(url) => {
                anyhow::ensure!(
                    settings.is_empty(),
                    "--pg-setting applies to the throwaway cluster only, not to --pg-url"
                );
                (url, None)
            }
            None => {
                println!("starting a throwaway PostgreSQL cluster (fsync=on) {settings:?} ...");
                let cluster = tokio::task::spawn_blocking(move || {
                    let extra: Vec<&str> = settings.iter().map(String::as_str).collect();
                    amina_testkit::DurableCluster::start(&extra)
                })
                .await?
                .map_err(|e| anyhow::anyhow!("cannot start PostgreSQL: {e}"))?;
                (cluster.admin_url(), Some(cluster))
            }
        };
        let pgbench = match &cluster {
            Some(c) => c.bindir().join("pgbench"),
            None => find_pgbench()?,
        };
        let admin = connect(&admin_url).await?;
        let settings = admin
            .query_one(
                "SELECT current_setting('fsync'), current_setting('synchronous_commit'), \
                 version()",
                &[],
            )
            .await?;
        let (fsync, sync_commit, version): (String, String, String) =
            (settings.get(0), settings.get(1), settings.get(2));
        println!("PostgreSQL: {version}; fsync={fsync}, synchronous_commit={sync_commit}");
        if fsync != "on" || sync_commit != "on" {
            println!(
                "  WARNING: commits are not durable on this server; figures are not comparable"
            );
        }
        let pid = std::process::id();
        let names = [
            format!("amina_bench_{pid}"),
            format!("amina_bench_baseline_{pid}"),
        ];
        for name in &names {
            admin
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .await
                .with_context(|| format!("create database {name}"))?;
        }
        let with_db = |name: &str| {
            amina_testkit::url_with_database(&admin_url, name).map_err(|e| anyhow::anyhow!(e))
        };
        let logs = tempfile::tempdir()?;
        let script = logs.path().join("baseline.sql");
        Ok(PgBench {
            amina_url: with_db(&names[0])?,
            baseline_url: with_db(&names[1])?,
            admin_url,
            names,
            pgbench,
            logs,
            script,
            cluster,
        })
    }

    /// Creates the baseline's tables, loads the real polygons and writes the
    /// pgbench script for points over `bbox` (lat0, lon0, lat1, lon1).
    pub async fn prepare_baseline(
        &self,
        _args: &IngestArgs,
        bbox: (f64, f64, f64, f64),
    ) -> anyhow::Result<()> {
        let db = connect(&self.baseline_url).await?;
        db.batch_execute(
            "CREATE EXTENSION IF NOT EXISTS postgis;
             CREATE TABLE regions (code text PRIMARY KEY, geom geometry(MultiPolygon, 4326) NOT NULL);
             CREATE TABLE fixes (id bigserial PRIMARY KEY, person_id bigint NOT NULL,
                 recorded_at timestamptz NOT NULL, lat float8 NOT NULL, lon float8 NOT NULL,
                 accuracy_m float8 NOT NULL, region text);
             CREATE INDEX fixes_person_time ON fixes (person_id, recorded_at);
             CREATE TABLE person_state (person_id bigint PRIMARY KEY,
                 last_fix_at timestamptz NOT NULL, lat float8 NOT NULL, lon float8 NOT NULL,
                 region text);",
        )
        .await
        .context("baseline schema")?;
        let geojson: serde_json::Value =
            serde_json::from_str(amina_domain::geofence::EMBEDDED_GEOJSON)?;
        let features = geojson["features"]
            .as_array()
            .context("the embedded regions are a FeatureCollection")?;
        for feature in features {
            let code = feature["properties"]["code"]
                .as_str()
                .context("every region has a code")?;
            let geometry = feature["geometry"].to_string();
            db.execute(
                "INSERT INTO regions VALUES ($1, \
                 ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($2::text), 4326)))",
                &[&code, &geometry],
            )
            .await
            .with_context(|| format!("load region {code}"))?;
        }
        db.batch_execute(
            "CREATE INDEX regions_geom ON regions USING gist (geom); ANALYZE regions;",
        )
        .await?;
        let row = db
            .query_one(
                "SELECT count(*), sum(ST_NPoints(geom))::bigint, bool_and(ST_IsValid(geom)) \
                 FROM regions",
                &[],
            )
            .await?;
        let (n, vertices, valid): (i64, i64, bool) = (row.get(0), row.get(1), row.get(2));
        println!("baseline: {n} region polygons loaded into PostGIS, {vertices} vertices, valid: {valid}");

        let (lat0, lon0, lat1, lon1) = bbox;
        let script = format!(
            "\\set person random(1, {BASELINE_PERSONS})\n\
             \\set lat {lat0} + random(0, 999999) * {dlat:e}\n\
             \\set lon {lon0} + random(0, 999999) * {dlon:e}\n\
             BEGIN;\n\
             INSERT INTO fixes (person_id, recorded_at, lat, lon, accuracy_m, region) \
             VALUES (:person, now(), :lat, :lon, 15, (SELECT code FROM regions \
             WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) LIMIT 1));\n\
             INSERT INTO person_state (person_id, last_fix_at, lat, lon, region) \
             SELECT person_id, recorded_at, lat, lon, region FROM fixes \
             WHERE id = currval('fixes_id_seq') \
             ON CONFLICT (person_id) DO UPDATE SET last_fix_at = EXCLUDED.last_fix_at, \
             lat = EXCLUDED.lat, lon = EXCLUDED.lon, region = EXCLUDED.region;\n\
             COMMIT;\n",
            dlat = (lat1 - lat0) / 1e6,
            dlon = (lon1 - lon0) / 1e6,
        );
        std::fs::write(&self.script, script)?;
        Ok(())
    }

    /// Runs pgbench for `args.baseline_seconds` and reads its figures.
    pub async fn pgbench_round(
        &self,
        args: &IngestArgs,
        round: usize,
    ) -> anyhow::Result<BaselineRound> {
        let prefix = self.logs.path().join(format!("round{round}"));
        let output = tokio::process::Command::new(&self.pgbench)
            .arg("-n")
            .args(["-M", "prepared"])
            .args(["-c", &args.baseline_clients.to_string()])
            .args(["-j", &args.baseline_clients.min(2).to_string()])
            .args(["-T", &args.baseline_seconds.to_string()])
            .arg("-f")
            .arg(&self.script)
            .arg("-l")
            .arg(format!("--log-prefix={}", prefix.display()))
            .arg(&self.baseline_url)
            .current_dir(self.logs.path())
            .output()
            .await
            .with_context(|| format!("run {}", self.pgbench.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "pgbench failed ({}):\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let tps = stdout
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("no tps in pgbench's output:\n{stdout}"))?;
        let failed = stdout
            .lines()
            .find_map(|l| l.strip_prefix("number of failed transactions: "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if failed > 0 {
            bail!("pgbench: {failed} failed transactions:\n{stdout}");
        }
        // Per-transaction log lines: client, transaction, latency in µs, ...
        let mut latencies = Vec::new();
        let stem = format!("round{round}.");
        for entry in std::fs::read_dir(self.logs.path())? {
            let path = entry?.path();
            let is_log = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&stem));
            if !is_log {
                continue;
            }
            for line in std::fs::read_to_string(&path)?.lines() {
                if let Some(us) = line.split_whitespace().nth(2).and_then(|v| v.parse().ok()) {
                    latencies.push(Duration::from_micros(us));
                }
            }
            std::fs::remove_file(&path)?;
        }
        Ok(BaselineRound {
            fixes_per_s: tps,
            latencies,
        })
    }

    /// Drops the two databases (an external server), or stops the cluster.
    pub async fn finish(self) {
        if self.cluster.is_some() {
            return; // dropping it stops the server and removes its files
        }
        match connect(&self.admin_url).await {
            Ok(admin) => {
                for name in &self.names {
                    if let Err(e) = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await
                    {
                        eprintln!("could not drop database {name}: {e}");
                    }
                }
            }
            Err(e) => eprintln!("could not drop the benchmark databases: {e}"),
        }
    }
}

/// A client whose connection task runs in the background.
async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .context("connect to PostgreSQL")?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("PostgreSQL connection: {e}");
        }
    });
    Ok(client)
}

/// `pgbench` on PATH or in Debian's `/usr/lib/postgresql/*/bin` (highest).
fn find_pgbench() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("pgbench"))
        .find(|p| p.is_file())
    {
        return Ok(path);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let path = e.path().join("bin/pgbench");
            path.is_file().then_some((version, path))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, p)| p)
        .context("pgbench not found (apt-get install postgresql-client or postgresql-contrib)")
}
