//! The embedded SQLite backend: amina's default store.
//!
//! SQLite allows one writer at a time, so all writes go to one thread that
//! owns the write connection. It takes every job waiting in its queue, runs
//! each inside its own SAVEPOINT of one transaction and commits them together
//! (group commit): a hundred phones uploading at once cost one fsync, and a
//! job that fails is rolled back to its savepoint without harming the
//! others. A job's caller is answered only after COMMIT returned, so an
//! acknowledgement always means "on disk".
//!
//! Durability: WAL journal with `synchronous = FULL`, so a committed
//! transaction survives power loss, not only a crash of the process.
//!
//! Reads run on a small pool of read-only connections in the blocking pool;
//! WAL lets them proceed while the writer works. One process owns a database
//! file: several server nodes need PostgreSQL.

mod accounts;
mod audit;
mod console;
mod detection;
mod host;
mod integration;
mod owntracks;
mod push;
mod retention;
mod session;
mod signals;
mod spotcheck;
mod stay;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use amina_domain::eligibility::CardRecord;
use amina_domain::monitor::{
    DeregistrationReason, FixFlags, FixInput, KnownPosition, Monitor, PersonState, Presence,
    RegistrationStatus,
};
use amina_domain::types::{AccuracyM, BatteryPct, CardNumber, Coordinates, DeviceSeq, FixSource};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::time::{from_ms, to_ms};
use crate::*;

pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_spine",
        include_str!("../../migrations/sqlite/0001_spine.sql"),
    ),
    (
        "0002_signals",
        include_str!("../../migrations/sqlite/0002_signals.sql"),
    ),
    (
        "0003_push",
        include_str!("../../migrations/sqlite/0003_push.sql"),
    ),
    (
        "0004_stay",
        include_str!("../../migrations/sqlite/0004_stay.sql"),
    ),
    (
        "0005_console",
        include_str!("../../migrations/sqlite/0005_console.sql"),
    ),
    (
        "0006_detection",
        include_str!("../../migrations/sqlite/0006_detection.sql"),
    ),
    (
        "0007_console_more",
        include_str!("../../migrations/sqlite/0007_console_more.sql"),
    ),
    (
        "0008_integration",
        include_str!("../../migrations/sqlite/0008_integration.sql"),
    ),
    (
        "0009_owntracks",
        include_str!("../../migrations/sqlite/0009_owntracks.sql"),
    ),
    (
        "0010_detection_more",
        include_str!("../../migrations/sqlite/0010_detection_more.sql"),
    ),
    (
        "0011_host_parties",
        include_str!("../../migrations/sqlite/0011_host_parties.sql"),
    ),
    (
        "0012_fix_partitions",
        include_str!("../../migrations/sqlite/0012_fix_partitions.sql"),
    ),
    (
        "0013_checkin_circumstances",
        include_str!("../../migrations/sqlite/0013_checkin_circumstances.sql"),
    ),
    (
        "0015_fix_seq_high",
        include_str!("../../migrations/sqlite/0015_fix_seq_high.sql"),
    ),
    (
        "0016_nearby_bands",
        include_str!("../../migrations/sqlite/0016_nearby_bands.sql"),
    ),
    (
        "0017_device_sessions",
        include_str!("../../migrations/sqlite/0017_device_sessions.sql"),
    ),
    (
        "0018_hot_person_updates",
        include_str!("../../migrations/sqlite/0018_hot_person_updates.sql"),
    ),
];

/// Who records a deregistration that the monitoring rule decided.
const DECIDED_BY_RULE: &str = "rule:no_monitoring";

/// Most jobs committed in one transaction.
const GROUP_COMMIT_MAX_JOBS: usize = 512;

type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A queued write. Called with the connection inside the group's
/// transaction, or with `None` when the transaction could not start (the job
/// then only returns how to answer its caller).
type WriteJob = Box<dyn FnOnce(Option<&Connection>) -> (bool, Finish) + Send>;

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Option<mpsc::Sender<WriteJob>>>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(ref f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy
                        | rusqlite::ErrorCode::DatabaseLocked
                        | rusqlite::ErrorCode::CannotOpen
                        | rusqlite::ErrorCode::DiskFull
                        | rusqlite::ErrorCode::SystemIoFailure
                ) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            other => StoreError::Internal(other.to_string()),
        }
    }
}

fn open_connection(path: &Path, write: bool) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if write {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a commit is on stable storage before we acknowledge it.
        conn.pragma_update(None, "synchronous", "FULL")?;
    } else {
        conn.pragma_update(None, "query_only", "ON")?;
    }
    Ok(conn)
}

impl SqliteStore {
    /// Open (creating if needed) the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        create_private(&path)?;
        let conn = open_connection(&path, true)?;
        let (tx, rx) = mpsc::channel::<WriteJob>();
        std::thread::Builder::new()
            .name("amina-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Internal(format!("cannot start writer thread: {e}")))?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(Some(tx)),
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Run `f` in the writer thread inside the next group commit; answer
    /// after the commit.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => f(conn),
                None => Err(StoreError::Unavailable(
                    "could not start a transaction".into(),
                )),
            };
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |commit| {
                let _ = reply_tx.send(commit.and(result));
            });
            (ok, finish)
        });
        {
            let guard = self.writer.lock().map_err(|_| poisoned())?;
            let sender = guard
                .as_ref()
                .ok_or_else(|| StoreError::Unavailable("store is closed".into()))?;
            sender
                .send(job)
                .map_err(|_| StoreError::Unavailable("writer thread stopped".into()))?;
        }
        reply_rx
            .await
            .map_err(|_| StoreError::Unavailable("writer thread stopped".into()))?
    }

    /// Run `f` on a pooled read connection in the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = Arc::clone(&self.readers);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().map_err(|_| poisoned())?.pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_connection(&path, false)?,
            };
            let result = f(&conn);
            readers.lock().map_err(|_| poisoned())?.push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }
}

/// Creates the database file's missing directories (mode 0700) and the file
/// itself (mode 0600) if it does not exist: it holds keys and personal
/// data, and SQLite would create it with the process's umask (often 0644).
/// Its `-wal` and `-shm` files inherit the database file's mode. Existing
/// files are left as they are (`amina serve` refuses exposed ones).
fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let name = path.as_os_str().to_string_lossy();
    if name == ":memory:" || name.starts_with("file:") {
        return Ok(()); // not a plain file path: SQLite's own business
    }
    let failed = |what: &Path, e: std::io::Error| {
        StoreError::Unavailable(format!("{}: {e}", what.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| failed(dir, e))?;
        }
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(failed(path, e)),
    }
}

fn poisoned() -> StoreError {
    StoreError::Internal("a lock was poisoned by a panic".into())
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<WriteJob>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < GROUP_COMMIT_MAX_JOBS {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let err = StoreError::from(e);
            for job in jobs {
                // The job does not run; answer its caller with the failure.
                let (_, finish) = job(None);
                finish(Err(StoreError::Unavailable(err.to_string())));
            }
            continue;
        }
        let mut finishers = Vec::with_capacity(jobs.len());
        for job in jobs {
            let savepoint = conn.execute_batch("SAVEPOINT job");
            let (ok, finish) = job(Some(&conn));
            let release = if ok {
                conn.execute_batch("RELEASE job")
            } else {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")
            };
            if let Err(e) = savepoint.and(release) {
                finishers.push((finish, Some(StoreError::from(e))));
            } else {
                finishers.push((finish, None));
            }
        }
        let commit = conn.execute_batch("COMMIT").map_err(StoreError::from);
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for (finish, own_error) in finishers {
            match (&commit, own_error) {
                (_, Some(e)) => finish(Err(e)),
                (Err(e), None) => finish(Err(StoreError::Unavailable(e.to_string()))),
                (Ok(()), None) => finish(Ok(())),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Row mapping.

const PERSON_COLUMNS: &str = "id, card_number, status, registration_id, registration_started_at, \
     last_monitoring_at, deadline_at, presence, presence_since, trusted_lat, trusted_lon, \
     trusted_accuracy_m, trusted_at, pending_jump, active_device_id";

fn opt_ms(v: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    v.map(from_ms).transpose()
}

fn person_from_row(row: &Row<'_>) -> Result<PersonView, StoreError> {
    let status: String = row.get(2)?;
    let presence: String = row.get(7)?;
    let trusted = match (
        row.get::<_, Option<f64>>(9)?,
        row.get::<_, Option<f64>>(10)?,
        row.get::<_, Option<f64>>(11)?,
        row.get::<_, Option<i64>>(12)?,
    ) {
        (Some(lat), Some(lon), Some(acc), Some(at)) => Some(KnownPosition {
            lat,
            lon,
            accuracy_m: acc,
            recorded_at: from_ms(at)?,
        }),
        _ => None,
    };
    let pending: Option<String> = row.get(13)?;
    let pending_jump = pending
        .map(|j| serde_json::from_str::<KnownPosition>(&j))
        .transpose()
        .map_err(|e| StoreError::Internal(format!("bad pending_jump: {e}")))?;
    let card: String = row.get(1)?;
    Ok(PersonView {
        person_id: row.get(0)?,
        card_number: CardNumber::parse(&card)
            .map_err(|e| StoreError::Internal(format!("bad stored card number: {e}")))?,
        registration_id: row.get(3)?,
        active_device_id: row.get(14)?,
        state: PersonState {
            status: RegistrationStatus::parse(&status)
                .ok_or_else(|| StoreError::Internal(format!("bad status {status}")))?,
            registration_started_at: from_ms(row.get(4)?)?,
            last_monitoring_at: opt_ms(row.get(5)?)?,
            deadline_at: from_ms(row.get(6)?)?,
            presence: Presence::parse(&presence)
                .ok_or_else(|| StoreError::Internal(format!("bad presence {presence}")))?,
            presence_since: opt_ms(row.get(8)?)?,
            last_trusted: trusted,
            pending_jump,
        },
    })
}

fn load_person(conn: &Connection, person_id: i64) -> Result<Option<PersonView>, StoreError> {
    let sql = format!("SELECT {PERSON_COLUMNS} FROM persons WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![person_id])?;
    match rows.next()? {
        Some(row) => Ok(Some(person_from_row(row)?)),
        None => Ok(None),
    }
}

fn save_state(conn: &Connection, person_id: i64, s: &PersonState) -> Result<(), StoreError> {
    let pending = s
        .pending_jump
        .map(|p| serde_json::to_string(&p))
        .transpose()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    let t = s.last_trusted;
    conn.prepare_cached(
        "UPDATE persons SET status = ?2, registration_started_at = ?3, last_monitoring_at = ?4, \
         deadline_at = ?5, presence = ?6, presence_since = ?7, trusted_lat = ?8, trusted_lon = ?9, \
         trusted_accuracy_m = ?10, trusted_at = ?11, pending_jump = ?12 WHERE id = ?1",
    )?
    .execute(params![
        person_id,
        s.status.as_str(),
        to_ms(s.registration_started_at),
        s.last_monitoring_at.map(to_ms),
        to_ms(s.deadline_at),
        s.presence.as_str(),
        s.presence_since.map(to_ms),
        t.map(|p| p.lat),
        t.map(|p| p.lon),
        t.map(|p| p.accuracy_m),
        t.map(|p| to_ms(p.recorded_at)),
        pending,
    ])?;
    Ok(())
}

fn add_event(
    conn: &Connection,
    person_id: i64,
    at: Timestamp,
    kind: &str,
    actor: &str,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO person_events (person_id, at, kind, actor, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![person_id, to_ms(at), kind, actor, detail.to_string()])?;
    Ok(())
}

fn record_deregistration(
    conn: &Connection,
    person_id: i64,
    registration_id: i64,
    d: &amina_domain::monitor::Deregistration,
    decided_by: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO deregistrations (registration_id, person_id, reason, effective_at, \
             decided_at, decided_by, evidence, rule_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (registration_id) DO NOTHING",
        )?
        .execute(params![
            registration_id,
            person_id,
            d.reason.as_str(),
            to_ms(d.effective_at),
            to_ms(now),
            decided_by,
            d.evidence.to_string(),
            d.rule_version,
        ])?;
    if inserted == 0 {
        return Ok(false);
    }
    conn.prepare_cached(
        "UPDATE registrations SET ended_at = ?2, end_reason = ?3 WHERE id = ?1 AND ended_at IS NULL",
    )?
    .execute(params![registration_id, to_ms(d.effective_at), d.reason.as_str()])?;
    add_event(
        conn,
        person_id,
        now,
        "deregistered",
        decided_by,
        serde_json::json!({"reason": d.reason.as_str(), "registration_id": registration_id,
                           "effective_at": d.effective_at.to_string()}),
    )?;
    integration::feed_insert(
        conn,
        FeedKind::Deregistration,
        person_id,
        d.effective_at,
        crate::integration::deregistration_payload(registration_id, d, decided_by),
        now,
    )?;
    Ok(true)
}

fn fix_from_row(row: &Row<'_>) -> Result<FixInput, StoreError> {
    let bad = |what: &str| StoreError::Internal(format!("bad stored fix: {what}"));
    let source: String = row.get(5)?;
    Ok(FixInput {
        seq: DeviceSeq::parse(row.get(0)?).map_err(|_| bad("seq"))?,
        position: Coordinates::parse(row.get(1)?, row.get(2)?).map_err(|_| bad("position"))?,
        accuracy: AccuracyM::parse(row.get(3)?).map_err(|_| bad("accuracy"))?,
        recorded_at: from_ms(row.get(4)?)?,
        source: FixSource::parse(&source).ok_or_else(|| bad("source"))?,
        mock_location: row.get(6)?,
        battery: row
            .get::<_, Option<i64>>(7)?
            .map(BatteryPct::parse)
            .transpose()
            .map_err(|_| bad("battery"))?,
    })
}

/// The columns [`stored_fix_from_row`] reads, in order.
const STORED_FIX_COLUMNS: &str = "device_id, seq, lat, lon, accuracy_m, recorded_at, received_at, \
     source, battery_pct, zone, flags, counted";

fn stored_fix_from_row(row: &Row<'_>) -> Result<StoredFix, StoreError> {
    Ok(StoredFix {
        device_id: row.get(0)?,
        seq: row.get::<_, i64>(1)? as u64,
        lat: row.get(2)?,
        lon: row.get(3)?,
        accuracy_m: row.get(4)?,
        recorded_at: from_ms(row.get(5)?)?,
        received_at: from_ms(row.get(6)?)?,
        source: row.get(7)?,
        battery_pct: row.get(8)?,
        zone: row.get(9)?,
        flags: flags_from_bits(row.get(10)?),
        counted: row.get(11)?,
    })
}

pub(crate) fn flags_to_bits(f: FixFlags) -> i64 {
    i64::from(f.mock_location) | (i64::from(f.implausible_speed) << 1)
}

pub(crate) fn flags_from_bits(bits: i64) -> FixFlags {
    FixFlags {
        mock_location: bits & 1 != 0,
        implausible_speed: bits & 2 != 0,
    }
}

fn device_from_row(row: &Row<'_>) -> Result<DeviceRecord, StoreError> {
    let status: String = row.get(4)?;
    Ok(DeviceRecord {
        id: row.get(0)?,
        person_id: row.get(1)?,
        public_key: row.get(2)?,
        kind: row.get(3)?,
        status: if status == "active" {
            DeviceStatus::Active
        } else {
            DeviceStatus::Revoked
        },
        bound_at: from_ms(row.get(5)?)?,
        bound_by: row.get(6)?,
        revoked_at: opt_ms(row.get(7)?)?,
    })
}

const DEVICE_COLUMNS: &str =
    "id, person_id, public_key, kind, status, bound_at, bound_by, revoked_at";

fn card_login(conn: &Connection, number: &str) -> Result<Option<CardLogin>, StoreError> {
    conn.prepare_cached(
        "SELECT number, secret_hash, valid_until, failed_attempts, last_failed_at, locked_at \
         FROM cards WHERE number = ?1",
    )?
    .query_row(params![number], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, u32>(3)?,
            row.get::<_, Option<i64>>(4)?,
            row.get::<_, Option<i64>>(5)?,
        ))
    })
    .optional()?
    .map(|(n, hash, valid, attempts, last, locked)| {
        Ok(CardLogin {
            number: CardNumber::parse(&n)
                .map_err(|e| StoreError::Internal(format!("bad card number: {e}")))?,
            secret_hash: hash,
            valid_until: valid
                .parse()
                .map_err(|e| StoreError::Internal(format!("bad valid_until: {e}")))?,
            failed_attempts: attempts,
            last_failed_at: opt_ms(last)?,
            locked_at: opt_ms(locked)?,
        })
    })
    .transpose()
}

fn rule_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Rule(e.to_string())
}

/// Enrol the card's holder inside the caller's transaction: create the
/// person, or start a new registration after a deregistration, or keep the
/// current one; issue the binding token. Shared by card + secret and by
/// one-time codes.
pub(super) fn enrol_in(
    conn: &Connection,
    monitor: &Monitor,
    number: &str,
    token: &NewBindingToken,
    now: Timestamp,
) -> Result<Enrolment, StoreError> {
    let fresh = monitor.enrolled(now).map_err(rule_error)?;
    let card = conn.execute(
        "UPDATE cards SET failed_attempts = 0, last_failed_at = NULL WHERE number = ?1",
        params![number],
    )?;
    if card == 0 {
        return Err(StoreError::UnknownCard);
    }
    let invalidated: Option<i64> = conn.query_row(
        "SELECT invalidated_at FROM cards WHERE number = ?1",
        params![number],
        |r| r.get(0),
    )?;
    if invalidated.is_some() {
        return Err(IntegrationError::CardInvalidated.into());
    }
    let existing: Option<(i64, String, i64)> = conn
        .query_row(
            "SELECT id, status, registration_id FROM persons WHERE card_number = ?1",
            params![number],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    // A registration whose deadline passed before the scheduler got
    // to it ends now, exactly as the scheduler would have ended it;
    // the person then re-registers.
    let existing = match existing {
        Some((pid, status, rid)) if status == "registered" => {
            let person = load_person(conn, pid)?.ok_or(StoreError::UnknownPerson)?;
            match monitor.overdue(&person.state, now) {
                Some(d) => {
                    record_deregistration(conn, pid, rid, &d, DECIDED_BY_RULE, now)?;
                    Some((pid, "deregistered".to_string(), rid))
                }
                None => Some((pid, status, rid)),
            }
        }
        other => other,
    };
    let (person_id, registration_id, new_registration) = match existing {
        Some((pid, status, rid)) if status == "registered" => (pid, rid, false),
        Some((pid, _, _)) => {
            conn.execute(
                "INSERT INTO registrations (person_id, started_at) VALUES (?1, ?2)",
                params![pid, to_ms(now)],
            )?;
            let rid = conn.last_insert_rowid();
            conn.execute(
                "UPDATE persons SET registration_id = ?2 WHERE id = ?1",
                params![pid, rid],
            )?;
            save_state(conn, pid, &fresh)?;
            (pid, rid, true)
        }
        None => {
            conn.execute(
                "INSERT INTO persons (card_number, status, registration_id, \
                     registration_started_at, deadline_at, presence, created_at) \
                     VALUES (?1, 'registered', 0, ?2, ?3, 'unknown', ?2)",
                params![number, to_ms(now), to_ms(fresh.deadline_at)],
            )?;
            let pid = conn.last_insert_rowid();
            conn.execute(
                "INSERT INTO registrations (person_id, started_at) VALUES (?1, ?2)",
                params![pid, to_ms(now)],
            )?;
            let rid = conn.last_insert_rowid();
            conn.execute(
                "UPDATE persons SET registration_id = ?2 WHERE id = ?1",
                params![pid, rid],
            )?;
            (pid, rid, true)
        }
    };
    if new_registration {
        add_event(
            conn,
            person_id,
            now,
            "registered",
            &token.issued_by,
            serde_json::json!({"registration_id": registration_id,
                                   "deadline_at": fresh.deadline_at.to_string()}),
        )?;
        integration::feed_insert(
            conn,
            FeedKind::Registration,
            person_id,
            now,
            crate::integration::registration_payload(registration_id, now),
            now,
        )?;
    }
    conn.execute(
        "INSERT INTO binding_tokens (token_hash, person_id, issued_at, expires_at, issued_by) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            token.hash.as_slice(),
            person_id,
            to_ms(now),
            to_ms(token.expires_at),
            token.issued_by
        ],
    )?;
    Ok(Enrolment {
        person_id,
        registration_id,
        new_registration,
    })
}

// ---------------------------------------------------------------------------

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        self.write(|conn| {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
            )?;
            let mut applied = Vec::new();
            for (name, sql) in MIGRATIONS {
                let done: bool = conn.query_row(
                    "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = ?1)",
                    params![name],
                    |r| r.get(0),
                )?;
                if !done {
                    conn.execute_batch(sql)?;
                    conn.execute(
                        "INSERT INTO schema_migrations (name, applied_at) VALUES (?1, ?2)",
                        params![name, to_ms(Timestamp::now())],
                    )?;
                    applied.push(name.to_string());
                }
            }
            Ok(applied)
        })
        .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    async fn import_cards(
        &self,
        cards: Vec<CardRecord>,
        now: Timestamp,
    ) -> Result<ImportCounts, StoreError> {
        self.write(move |conn| {
            let mut counts = ImportCounts::default();
            let mut exists = conn.prepare_cached("SELECT 1 FROM cards WHERE number = ?1")?;
            let mut upsert = conn.prepare_cached(
                "INSERT INTO cards (number, secret_hash, name_latin, name_cyrillic, citizenship, \
                 birth_date, purpose, valid_until, imported_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) \
                 ON CONFLICT (number) DO UPDATE SET secret_hash = excluded.secret_hash, \
                 name_latin = excluded.name_latin, name_cyrillic = excluded.name_cyrillic, \
                 citizenship = excluded.citizenship, birth_date = excluded.birth_date, \
                 purpose = excluded.purpose, valid_until = excluded.valid_until, \
                 updated_at = excluded.updated_at",
            )?;
            for c in &cards {
                let existed = exists.exists(params![c.number.as_str()])?;
                upsert.execute(params![
                    c.number.as_str(),
                    c.secret_hash,
                    c.name_latin,
                    c.name_cyrillic,
                    c.citizenship.as_str(),
                    c.birth_date.to_string(),
                    c.purpose.as_str(),
                    c.valid_until.to_string(),
                    to_ms(now),
                ])?;
                if existed {
                    counts.updated += 1;
                } else {
                    counts.inserted += 1;
                }
            }
            Ok(counts)
        })
        .await
    }

    async fn card_login(&self, number: &CardNumber) -> Result<Option<CardLogin>, StoreError> {
        let number = number.as_str().to_string();
        self.read(move |conn| card_login(conn, &number)).await
    }

    async fn record_failed_attempt(
        &self,
        number: &CardNumber,
        now: Timestamp,
        lock_after: u32,
    ) -> Result<CardLogin, StoreError> {
        let number = number.as_str().to_string();
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE cards SET failed_attempts = failed_attempts + 1, last_failed_at = ?2, \
                     locked_at = CASE WHEN locked_at IS NULL AND failed_attempts + 1 >= ?3 \
                     THEN ?2 ELSE locked_at END WHERE number = ?1",
                )?
                .execute(params![number, to_ms(now), lock_after])?;
            if changed == 0 {
                return Err(StoreError::UnknownCard);
            }
            card_login(conn, &number)?.ok_or(StoreError::UnknownCard)
        })
        .await
    }

    async fn unlock_card(
        &self,
        number: &CardNumber,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let number = number.as_str().to_string();
        let actor = actor.to_string();
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE cards SET locked_at = NULL, failed_attempts = 0, updated_at = ?2 \
                 WHERE number = ?1 AND locked_at IS NOT NULL",
                params![number, to_ms(now)],
            )?;
            if changed > 0 {
                let person: Option<i64> = conn
                    .query_row(
                        "SELECT id FROM persons WHERE card_number = ?1",
                        params![number],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(pid) = person {
                    add_event(
                        conn,
                        pid,
                        now,
                        "card_unlocked",
                        &actor,
                        serde_json::json!({}),
                    )?;
                }
            }
            Ok(changed > 0)
        })
        .await
    }

    async fn enrol(
        &self,
        monitor: &Monitor,
        number: &CardNumber,
        token: NewBindingToken,
        now: Timestamp,
    ) -> Result<Enrolment, StoreError> {
        let monitor = monitor.clone();
        let number = number.as_str().to_string();
        self.write(move |conn| enrol_in(conn, &monitor, &number, &token, now))
            .await
    }

    async fn bind_device(
        &self,
        token_hash: [u8; 32],
        device: NewDevice,
        now: Timestamp,
    ) -> Result<DeviceRecord, StoreError> {
        self.write(move |conn| {
            let token: Option<(i64, i64, Option<i64>)> = conn
                .query_row(
                    "SELECT person_id, expires_at, used_at FROM binding_tokens WHERE token_hash = ?1",
                    params![token_hash.as_slice()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let person_id = match token {
                Some((pid, expires, None)) if expires >= to_ms(now) => pid,
                _ => return Err(StoreError::BindingTokenInvalid),
            };
            let taken: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM devices WHERE key_thumbprint = ?1)",
                params![device.key_thumbprint],
                |r| r.get(0),
            )?;
            if taken {
                return Err(StoreError::KeyAlreadyBound);
            }
            conn.execute(
                "UPDATE binding_tokens SET used_at = ?2 WHERE token_hash = ?1",
                params![token_hash.as_slice(), to_ms(now)],
            )?;
            let previous: Option<String> = conn
                .query_row(
                    "SELECT id FROM devices WHERE person_id = ?1 AND status = 'active'",
                    params![person_id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(prev) = &previous {
                conn.execute(
                    "UPDATE devices SET status = 'revoked', revoked_at = ?2, revoked_by = ?3, \
                     revoke_reason = 'rebound' WHERE id = ?1",
                    params![prev, to_ms(now), device.actor],
                )?;
                add_event(
                    conn,
                    person_id,
                    now,
                    "device_revoked",
                    &device.actor,
                    serde_json::json!({"device_id": prev, "reason": "rebound", "replaced_by": device.id}),
                )?;
            }
            conn.execute(
                "INSERT INTO devices (id, person_id, public_key, key_thumbprint, kind, status, \
                 bound_at, bound_by) VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?7)",
                params![
                    device.id,
                    person_id,
                    device.public_key,
                    device.key_thumbprint,
                    device.kind,
                    to_ms(now),
                    device.actor
                ],
            )?;
            conn.execute(
                "UPDATE persons SET active_device_id = ?2 WHERE id = ?1",
                params![person_id, device.id],
            )?;
            add_event(
                conn,
                person_id,
                now,
                if previous.is_some() { "device_rebound" } else { "device_bound" },
                &device.actor,
                serde_json::json!({"device_id": device.id, "kind": device.kind,
                                   "previous_device_id": previous}),
            )?;
            Ok(DeviceRecord {
                id: device.id,
                person_id,
                public_key: device.public_key,
                kind: device.kind,
                status: DeviceStatus::Active,
                bound_at: now,
                bound_by: device.actor,
                revoked_at: None,
            })
        })
        .await
    }

    async fn device(&self, device_id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let id = device_id.to_string();
        self.read(move |conn| {
            let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![id])?;
            match rows.next()? {
                Some(row) => Ok(Some(device_from_row(row)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn ingest(
        &self,
        monitor: &Monitor,
        device_id: &str,
        fixes: Vec<FixInput>,
        now: Timestamp,
    ) -> Result<IngestOutcome, StoreError> {
        let monitor = monitor.clone();
        let device_id = device_id.to_string();
        self.write(move |conn| {
            let device: Option<(i64, String)> = conn
                .prepare_cached("SELECT person_id, status FROM devices WHERE id = ?1")?
                .query_row(params![device_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let person_id = match device {
                None => return Err(StoreError::UnknownDevice),
                Some((_, status)) if status != "active" => return Err(StoreError::DeviceRevoked),
                Some((pid, _)) => pid,
            };
            let person = load_person(conn, person_id)?.ok_or(StoreError::UnknownPerson)?;

            let mut stored: HashMap<DeviceSeq, FixInput> = HashMap::new();
            {
                let mut stmt = conn.prepare_cached(
                    "SELECT seq, lat, lon, accuracy_m, recorded_at, source, mock, battery_pct \
                     FROM fixes WHERE device_id = ?1 AND seq = ?2",
                )?;
                for fix in &fixes {
                    let mut rows = stmt.query(params![device_id, fix.seq.get() as i64])?;
                    if let Some(row) = rows.next()? {
                        stored.insert(fix.seq, fix_from_row(row)?);
                    }
                }
            }
            let plan =
                monitor.plan_batch(&person.state, &fixes, |seq| stored.get(&seq).cloned(), now)?;

            if let Some(d) = &plan.deregistration {
                record_deregistration(
                    conn,
                    person_id,
                    person.registration_id,
                    d,
                    DECIDED_BY_RULE,
                    now,
                )?;
            }
            let mut insert = conn.prepare_cached(
                "INSERT INTO fixes (device_id, seq, person_id, lat, lon, accuracy_m, recorded_at, \
                 received_at, source, mock, battery_pct, zone, flags, counted) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?;
            let mut accepted = Vec::with_capacity(plan.inserts.len());
            let mut flagged = Vec::new();
            for (fix, outcome) in &plan.inserts {
                insert.execute(params![
                    device_id,
                    fix.seq.get() as i64,
                    person_id,
                    fix.position.lat(),
                    fix.position.lon(),
                    fix.accuracy.get(),
                    to_ms(fix.recorded_at),
                    to_ms(now),
                    fix.source.as_str(),
                    fix.mock_location,
                    fix.battery.map(|b| b.get()),
                    monitor.geofence.slug(outcome.zone),
                    flags_to_bits(outcome.flags),
                    outcome.counted,
                ])?;
                accepted.push(fix.seq.get());
                if !outcome.flags.trustworthy() {
                    flagged.push(fix.seq.get());
                }
            }
            if plan.state != person.state {
                save_state(conn, person_id, &plan.state)?;
            }
            if let Some(rule) = amina_domain::signal::left_region(&person.state, &plan.state) {
                signals::insert_signal(conn, &rule_signal(person_id, rule))?;
            }
            let last_checkin_at: Option<i64> = conn
                .prepare_cached(
                    "SELECT c.at FROM persons p JOIN checkins c ON c.id = p.last_checkin_id \
                     WHERE p.id = ?1",
                )?
                .query_row(params![person_id], |r| r.get(0))
                .optional()?;
            Ok(IngestOutcome {
                person_id,
                accepted,
                duplicates: plan.duplicates.iter().map(|s| s.get()).collect(),
                flagged,
                deregistered: plan.deregistration.is_some(),
                state: plan.state,
                last_checkin_at: last_checkin_at.map(from_ms).transpose()?,
            })
        })
        .await
    }

    async fn person(&self, person_id: i64) -> Result<Option<PersonView>, StoreError> {
        self.read(move |conn| load_person(conn, person_id)).await
    }

    async fn person_by_card(&self, number: &CardNumber) -> Result<Option<PersonView>, StoreError> {
        let number = number.as_str().to_string();
        self.read(move |conn| {
            let id: Option<i64> = conn
                .query_row(
                    "SELECT id FROM persons WHERE card_number = ?1",
                    params![number],
                    |r| r.get(0),
                )
                .optional()?;
            match id {
                Some(id) => load_person(conn, id),
                None => Ok(None),
            }
        })
        .await
    }

    async fn deregister_due(
        &self,
        monitor: &Monitor,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<DeregisteredPerson>, StoreError> {
        let monitor = monitor.clone();
        self.write(move |conn| {
            let due: Vec<i64> = {
                let mut stmt = conn.prepare_cached(
                    "SELECT id FROM persons WHERE status = 'registered' AND deadline_at < ?1 \
                     ORDER BY deadline_at LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![to_ms(now), limit], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            let mut done = Vec::with_capacity(due.len());
            for person_id in due {
                let Some(person) = load_person(conn, person_id)? else {
                    continue;
                };
                let Some(d) = monitor.overdue(&person.state, now) else {
                    continue;
                };
                if record_deregistration(
                    conn,
                    person_id,
                    person.registration_id,
                    &d,
                    DECIDED_BY_RULE,
                    now,
                )? {
                    let mut state = person.state.clone();
                    monitor.deregister(&mut state);
                    save_state(conn, person_id, &state)?;
                    done.push(DeregisteredPerson {
                        person_id,
                        registration_id: person.registration_id,
                        deadline_at: person.state.deadline_at,
                    });
                }
            }
            Ok(done)
        })
        .await
    }

    async fn deregistrations(
        &self,
        person_id: i64,
    ) -> Result<Vec<DeregistrationRecord>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT registration_id, reason, effective_at, decided_at, decided_by, evidence, \
                 rule_version FROM deregistrations WHERE person_id = ?1 ORDER BY decided_at, id",
            )?;
            let mut rows = stmt.query(params![person_id])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let reason: String = row.get(1)?;
                let evidence: String = row.get(5)?;
                out.push(DeregistrationRecord {
                    registration_id: row.get(0)?,
                    reason: DeregistrationReason::parse(&reason)
                        .ok_or_else(|| StoreError::Internal(format!("bad reason {reason}")))?,
                    effective_at: from_ms(row.get(2)?)?,
                    decided_at: from_ms(row.get(3)?)?,
                    decided_by: row.get(4)?,
                    evidence: serde_json::from_str(&evidence)
                        .map_err(|e| StoreError::Internal(e.to_string()))?,
                    rule_version: row.get(6)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn fixes(&self, person_id: i64, limit: u32) -> Result<Vec<StoredFix>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT device_id, seq, lat, lon, accuracy_m, recorded_at, received_at, source, \
                 battery_pct, zone, flags, counted FROM fixes WHERE person_id = ?1 \
                 ORDER BY recorded_at DESC, seq DESC LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![person_id, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(stored_fix_from_row(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn person_events(&self, person_id: i64) -> Result<Vec<PersonEvent>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT at, kind, actor, detail FROM person_events WHERE person_id = ?1 ORDER BY at, id",
            )?;
            let mut rows = stmt.query(params![person_id])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let detail: String = row.get(3)?;
                out.push(PersonEvent {
                    at: from_ms(row.get(0)?)?,
                    kind: row.get(1)?,
                    actor: row.get(2)?,
                    detail: serde_json::from_str(&detail)
                        .map_err(|e| StoreError::Internal(e.to_string()))?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        self.read(|conn| {
            let q = |sql: &str| -> Result<u64, StoreError> {
                Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
            };
            Ok(StoreCounts {
                cards: q("SELECT count(*) FROM cards")?,
                persons_registered: q("SELECT count(*) FROM persons WHERE status = 'registered'")?,
                persons_deregistered: q(
                    "SELECT count(*) FROM persons WHERE status = 'deregistered'",
                )?,
                active_devices: q("SELECT count(*) FROM devices WHERE status = 'active'")?,
                fixes: q("SELECT count(*) FROM fixes")?,
            })
        })
        .await
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channel lets the writer thread finish its queue and exit.
        if let Ok(mut guard) = self.writer.lock() {
            guard.take();
        }
    }
}
