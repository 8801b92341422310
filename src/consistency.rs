//! `amina check-consistency`: the invariants a crash, a database restart or
//! a restore must never break, checked on the database itself.
//!
//! - Every fix a phone was told is stored (the simulator's `--ack-log`) is
//!   stored, and no fix is stored twice.
//! - No state change is half-applied: each person's monitoring state agrees
//!   with their stored fixes (last monitoring = newest counted fix; trusted
//!   position = newest trustworthy fix), a deregistered person has the
//!   deregistration of their registration, every registration and
//!   deregistration has exactly one history event and one feed entry.
//! - The integration feed (the transactional outbox) has gapless, unique
//!   positions; the push queue holds each notice once and every sent notice
//!   has its delivery recorded.
//! - The audit chain verifies.
//!
//! The queries are plain SQL that both backends run unchanged.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

/// A database opened for raw queries, beside the store.
pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl Db {
    pub async fn open(url: &str) -> anyhow::Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .context("connecting to PostgreSQL")?;
            tokio::spawn(connection);
            Ok(Db::Postgres(client))
        } else {
            let path = url.strip_prefix("sqlite:").unwrap_or(url);
            anyhow::ensure!(Path::new(path).exists(), "{path} does not exist");
            let conn = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE,
            )?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            Ok(Db::Sqlite(conn))
        }
    }

    /// The first column of the first row, an integer.
    pub async fn scalar(&self, sql: &str) -> anyhow::Result<i64> {
        match self {
            Db::Sqlite(c) => Ok(c.query_row(sql, [], |r| r.get(0))?),
            Db::Postgres(c) => Ok(c.query_one(sql, &[]).await?.get(0)),
        }
    }

    /// Rows of text columns (every column must be text).
    pub async fn text_rows(&self, sql: &str) -> anyhow::Result<Vec<Vec<String>>> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare(sql)?;
                let n = stmt.column_count();
                let rows = stmt.query_map([], |r| (0..n).map(|i| r.get(i)).collect())?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Db::Postgres(c) => Ok(c
                .query(sql, &[])
                .await?
                .iter()
                .map(|r| (0..r.len()).map(|i| r.get(i)).collect())
                .collect()),
        }
    }

    /// Rows of (text, integer).
    pub async fn pairs(&self, sql: &str) -> anyhow::Result<Vec<(String, i64)>> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare(sql)?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Db::Postgres(c) => Ok(c
                .query(sql, &[])
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect()),
        }
    }
}

/// Invariants as queries that count the rows breaking them.
const INVARIANTS: &[(&str, &str)] = &[
    (
        "fixes stored more than once",
        "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT device_id, seq FROM fixes) d) \
         FROM fixes",
    ),
    (
        "persons whose last monitoring is not their newest counted fix",
        "SELECT count(*) FROM persons p WHERE p.last_monitoring_at IS DISTINCT FROM \
         (SELECT max(f.recorded_at) FROM fixes f WHERE f.person_id = p.id AND f.counted)",
    ),
    (
        "persons whose trusted position is not their newest trustworthy fix",
        "SELECT count(*) FROM persons p WHERE p.trusted_at IS DISTINCT FROM \
         (SELECT max(f.recorded_at) FROM fixes f WHERE f.person_id = p.id AND f.flags = 0)",
    ),
    (
        "persons whose status disagrees with the deregistration of their registration",
        "SELECT count(*) FROM persons p WHERE (p.status = 'deregistered') <> \
         EXISTS (SELECT 1 FROM deregistrations d WHERE d.registration_id = p.registration_id)",
    ),
    (
        "deregistrations whose registration was not ended",
        "SELECT count(*) FROM deregistrations d JOIN registrations r ON r.id = d.registration_id \
         WHERE r.ended_at IS NULL",
    ),
    (
        "persons whose registrations do not match their 'registered' events and feed entries",
        "SELECT count(*) FROM persons p WHERE \
         (SELECT count(*) FROM registrations r WHERE r.person_id = p.id) <> \
         (SELECT count(*) FROM integration_feed f WHERE f.person_id = p.id AND f.kind = 'registration') \
         OR (SELECT count(*) FROM registrations r WHERE r.person_id = p.id) <> \
         (SELECT count(*) FROM person_events e WHERE e.person_id = p.id AND e.kind = 'registered')",
    ),
    (
        "persons whose deregistrations do not match their 'deregistered' events and feed entries",
        "SELECT count(*) FROM persons p WHERE \
         (SELECT count(*) FROM deregistrations d WHERE d.person_id = p.id) <> \
         (SELECT count(*) FROM integration_feed f WHERE f.person_id = p.id AND f.kind = 'deregistration') \
         OR (SELECT count(*) FROM deregistrations d WHERE d.person_id = p.id) <> \
         (SELECT count(*) FROM person_events e WHERE e.person_id = p.id AND e.kind = 'deregistered')",
    ),
    (
        "feed positions given more than once",
        "SELECT count(position) - (SELECT count(DISTINCT position) FROM integration_feed) \
         FROM integration_feed",
    ),
    (
        "feed positions missing (gaps below the highest)",
        "SELECT COALESCE(max(position), 0) - count(position) FROM integration_feed",
    ),
    (
        "push notices decided more than once",
        "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT person_id, occurrence_key \
         FROM push_outbox) d) FROM push_outbox",
    ),
    (
        "push notices marked sent without a recorded delivery",
        "SELECT count(*) FROM push_outbox o WHERE o.state = 'sent' AND NOT EXISTS \
         (SELECT 1 FROM push_deliveries d WHERE d.outbox_id = o.id)",
    ),
];

/// Row counts that a backup and its restore must share.
const COUNTS: &[(&str, &str)] = &[
    ("cards", "SELECT count(*) FROM cards"),
    ("persons", "SELECT count(*) FROM persons"),
    ("registrations", "SELECT count(*) FROM registrations"),
    ("deregistrations", "SELECT count(*) FROM deregistrations"),
    ("devices", "SELECT count(*) FROM devices"),
    ("fixes", "SELECT count(*) FROM fixes"),
    ("person_events", "SELECT count(*) FROM person_events"),
    ("audit_log", "SELECT count(*) FROM audit_log"),
    ("console_accounts", "SELECT count(*) FROM console_accounts"),
    ("integration_feed", "SELECT count(*) FROM integration_feed"),
    (
        "integration_feed_unpublished",
        "SELECT count(*) FROM integration_feed WHERE position IS NULL",
    ),
    ("push_outbox", "SELECT count(*) FROM push_outbox"),
    ("push_deliveries", "SELECT count(*) FROM push_deliveries"),
];

/// What a check found.
#[derive(Debug, Default, Serialize)]
pub struct Findings {
    /// Acknowledged fixes in the log (distinct device and seq).
    pub acknowledged: u64,
    /// Acknowledged fixes that are not stored.
    pub acknowledged_missing: u64,
    /// Broken invariants: description → offending rows.
    pub violations: BTreeMap<String, i64>,
    /// Audit records verified (the chain is checked from the start).
    pub audit_records: u64,
    pub counts: BTreeMap<String, i64>,
}

impl Findings {
    pub fn ok(&self) -> bool {
        self.acknowledged_missing == 0 && self.violations.is_empty()
    }

    pub fn to_text(&self) -> String {
        let mut s = format!(
            "acknowledged fixes: {} ({} missing); audit records verified: {}\n",
            self.acknowledged, self.acknowledged_missing, self.audit_records
        );
        for (what, n) in &self.violations {
            s.push_str(&format!("VIOLATION: {what}: {n}\n"));
        }
        s.push_str("counts:");
        for (what, n) in &self.counts {
            s.push_str(&format!(" {what}={n}"));
        }
        s.push('\n');
        s
    }
}

/// Read an `--ack-log` file: the distinct (device, seq) pairs in it.
pub fn read_ack_log(path: &Path) -> anyhow::Result<HashSet<(String, i64)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut acks = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        // The last line may be cut short if the writer was mid-line; a
        // complete line always ends with a newline, which `lines` drops.
        let mut parts = line.split_whitespace();
        let (Some(device), Some(seq), None) = (parts.next(), parts.next(), parts.next()) else {
            anyhow::bail!("{}:{}: expected `DEVICE_ID SEQ`", path.display(), n + 1);
        };
        let seq: i64 = seq
            .parse()
            .with_context(|| format!("{}:{}: bad seq", path.display(), n + 1))?;
        acks.insert((device.to_string(), seq));
    }
    Ok(acks)
}

/// Check every invariant on the database `url`; with `acks`, also that each
/// acknowledged fix is stored.
pub async fn check(url: &str, acks: Option<&HashSet<(String, i64)>>) -> anyhow::Result<Findings> {
    let db = Db::open(url).await?;
    let mut findings = Findings::default();
    if let Some(acks) = acks {
        let stored: HashSet<(String, i64)> = db
            .pairs("SELECT device_id, seq FROM fixes")
            .await?
            .into_iter()
            .collect();
        findings.acknowledged = acks.len() as u64;
        findings.acknowledged_missing = acks.difference(&stored).count() as u64;
    }
    for (what, sql) in INVARIANTS {
        let n = db.scalar(sql).await.with_context(|| what.to_string())?;
        if n != 0 {
            findings.violations.insert(what.to_string(), n);
        }
    }
    for (what, sql) in COUNTS {
        findings
            .counts
            .insert(what.to_string(), db.scalar(sql).await?);
    }
    drop(db);
    let store = amina_store::open(url).await?;
    match amina_store::audit::verify_store(&*store).await? {
        Ok(n) => findings.audit_records = n,
        Err(broken) => {
            findings.violations.insert(
                format!(
                    "audit chain broken at record {}: {}",
                    broken.id, broken.problem
                ),
                1,
            );
        }
    }
    Ok(findings)
}
