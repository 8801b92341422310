//! The PostgreSQL + PostGIS backend: amina's production store.
//!
//! Several server processes share one database, so unlike the SQLite backend
//! (one writer thread) this one must make every decision exactly once while
//! other processes run the same code at the same moment. The rules are:
//!
//! - Every [`Store`] method is one transaction (reads are one statement,
//!   which PostgreSQL runs as one transaction on its own).
//! - Everything that changes a person (enrolment, binding a device, a batch
//!   of fixes, a deregistration) first takes that person's row lock
//!   (`SELECT … FOR UPDATE`), then reads the state it decides from. The
//!   domain ([`Monitor`]) decides on that locked state, and the result is
//!   written before the lock is released at commit. Lock order is always
//!   card or binding token, then person, then devices, so these
//!   transactions cannot deadlock with each other.
//! - The scheduler ([`Store::deregister_due`]) takes due people with
//!   `FOR UPDATE SKIP LOCKED`: two nodes sweeping at once split the work
//!   instead of queueing behind each other or behind an ingest, and a person
//!   whose batch is being stored is simply left for the next sweep. It
//!   re-checks each locked person with [`Monitor::overdue`], and the unique
//!   constraint on `deregistrations(registration_id)` is the final guard
//!   (`ON CONFLICT DO NOTHING`).
//! - Failures are sorted for the HTTP layer: anything that says "the
//!   database cannot serve now" (connection refused or lost, pool timeout,
//!   server shutting down, too many connections, deadlock or serialization
//!   failure) is [`StoreError::Unavailable`] (503, retry); a reused public
//!   key is [`StoreError::KeyAlreadyBound`]; anything else is a bug and
//!   [`StoreError::Internal`].
//!
//! Semantics (events written, idempotency, errors) follow
//! [`crate::sqlite::SqliteStore`] exactly; both pass `tests/storage_suite.rs`.
//!
//! Performance: statements are prepared once per connection and cached
//! (deadpool's statement cache); a batch of fixes is inserted with one
//! `INSERT … SELECT FROM unnest(arrays)` statement, and the already stored
//! fixes of the batch are read with one `= ANY(array)` query, so a batch
//! costs the same handful of round trips whatever its size.

mod accounts;
mod audit;
mod console;
mod detection;
mod host;
mod ingest;
mod integration;
mod owntracks;
pub mod partitions;
mod push;
mod retention;
mod session;
mod signals;
mod spotcheck;
mod stay;

use std::collections::{BTreeMap, HashSet};
use std::error::Error as _;
use std::sync::LazyLock;
use std::time::Duration;

use amina_domain::eligibility::CardRecord;
use amina_domain::monitor::{
    Deregistration, DeregistrationReason, FixInput, KnownPosition, Monitor, PersonState, Presence,
    RegistrationStatus,
};
use amina_domain::types::{AccuracyM, BatteryPct, CardNumber, Coordinates, DeviceSeq, FixSource};
use async_trait::async_trait;
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
};
use jiff::Timestamp;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{NoTls, Row};

use crate::sqlite::{flags_from_bits, flags_to_bits};
use crate::time::{from_system, to_system};
use crate::*;

pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_spine",
        include_str!("../../migrations/postgres/0001_spine.sql"),
    ),
    (
        "0002_signals",
        include_str!("../../migrations/postgres/0002_signals.sql"),
    ),
    (
        "0003_push",
        include_str!("../../migrations/postgres/0003_push.sql"),
    ),
    (
        "0004_stay",
        include_str!("../../migrations/postgres/0004_stay.sql"),
    ),
    (
        "0005_console",
        include_str!("../../migrations/postgres/0005_console.sql"),
    ),
    (
        "0006_detection",
        include_str!("../../migrations/postgres/0006_detection.sql"),
    ),
    (
        "0007_console_more",
        include_str!("../../migrations/postgres/0007_console_more.sql"),
    ),
    (
        "0008_integration",
        include_str!("../../migrations/postgres/0008_integration.sql"),
    ),
    (
        "0009_owntracks",
        include_str!("../../migrations/postgres/0009_owntracks.sql"),
    ),
    (
        "0010_detection_more",
        include_str!("../../migrations/postgres/0010_detection_more.sql"),
    ),
    (
        "0011_host_parties",
        include_str!("../../migrations/postgres/0011_host_parties.sql"),
    ),
    (
        "0012_fix_partitions",
        include_str!("../../migrations/postgres/0012_fix_partitions.sql"),
    ),
    (
        "0013_checkin_circumstances",
        include_str!("../../migrations/postgres/0013_checkin_circumstances.sql"),
    ),
    (
        "0015_fix_seq_high",
        include_str!("../../migrations/postgres/0015_fix_seq_high.sql"),
    ),
    (
        "0016_nearby_bands",
        include_str!("../../migrations/postgres/0016_nearby_bands.sql"),
    ),
    (
        "0017_device_sessions",
        include_str!("../../migrations/postgres/0017_device_sessions.sql"),
    ),
    (
        "0018_hot_person_updates",
        include_str!("../../migrations/postgres/0018_hot_person_updates.sql"),
    ),
];

/// Pool size used by [`PostgresStore::connect`]. Several server processes
/// share one PostgreSQL (default `max_connections` 100), so each keeps a
/// modest pool; batches are short transactions and a few connections keep a
/// 2-core database busy.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16;

/// How long a request waits for a pooled connection (or for a new one to be
/// established) before the store answers "unavailable".
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// Key of the transaction-level advisory lock that serialises migrations
/// between processes starting at once ("amina" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x61_6d_69_6e_61;

/// Name of the unique constraint on `devices.key_thumbprint` (see the
/// migration); its violation means [`StoreError::KeyAlreadyBound`].
const KEY_THUMBPRINT_CONSTRAINT: &str = "devices_key_thumbprint_unique";

pub struct PostgresStore {
    pool: Pool,
    /// Days known to have a partition of `fixes` (see [`partitions`]).
    known_days: partitions::KnownDays,
    /// Batches of fixes waiting for their group commit (see [`ingest`]).
    ingest_queue: std::sync::Arc<ingest::IngestQueue>,
}

impl PostgresStore {
    /// Connect to the database a `postgres://` URL names, with a pool of
    /// [`DEFAULT_MAX_CONNECTIONS`]. Fails with [`StoreError::Unavailable`]
    /// if the database cannot be reached now.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, DEFAULT_MAX_CONNECTIONS).await
    }

    /// Like [`PostgresStore::connect`] with a pool of at most
    /// `max_connections` connections (at least one).
    pub async fn connect_with(url: &str, max_connections: usize) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            // The parser's message never repeats the URL, which may hold a password.
            .map_err(|e| StoreError::Internal(format!("invalid PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(POOL_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("amina");
        }
        config.options(durable_commit_options(config.get_options()));
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A broken connection is noticed by the query that uses it
                // and reported as Unavailable; the next checkout replaces it.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the connection pool: {e}")))?;
        let store = PostgresStore {
            pool,
            known_days: partitions::KnownDays::default(),
            ingest_queue: ingest::IngestQueue::new(ingest_writers(max_connections)),
        };
        // Fail now, not at the first request, if the database is unreachable.
        store.health().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}

/// Groups of fix batches in flight at once (see [`ingest`]): enough to keep
/// one group gathering while others wait for their commit, few enough to
/// leave most of the pool to everything else.
fn ingest_writers(max_connections: usize) -> usize {
    (max_connections / 4).clamp(1, 4)
}

/// The startup options of every connection: `synchronous_commit = on`
/// unless the URL's own `options` already choose a level.
///
/// A write is acknowledged (HTTP 200) only after its transaction commits,
/// and the phone then forgets the fixes; that promise holds only if a
/// commit is on disk when COMMIT returns. A server tuned with
/// `synchronous_commit = off` (common advice for write-heavy loads) would
/// answer COMMIT before writing the WAL, and a database crash in the next
/// fraction of a second would lose acknowledged fixes. Found by the
/// database restart test (tests/db_restart.rs), whose cluster runs with that
/// setting on purpose. An operator who wants a stronger level (e.g.
/// `remote_apply`) says so in the URL: `?options=-c%20synchronous_commit%3Dremote_apply`.
pub fn durable_commit_options(options: Option<&str>) -> String {
    match options {
        Some(o) if o.contains("synchronous_commit") => o.to_string(),
        Some(o) if !o.trim().is_empty() => format!("{o} -c synchronous_commit=on"),
        _ => "-c synchronous_commit=on".to_string(),
    }
}

// ---------------------------------------------------------------------------
// Errors.

/// Who records a deregistration that the monitoring rule decided.
const DECIDED_BY_RULE: &str = "rule:no_monitoring";

fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => match db_error(e) {
            // The connection could not be established at all.
            StoreError::Internal(msg) => StoreError::Unavailable(msg),
            other => other,
        },
        PoolError::Timeout(_) | PoolError::Closed => StoreError::Unavailable(e.to_string()),
        PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_) => {
            StoreError::Internal(e.to_string())
        }
    }
}

fn db_error(e: tokio_postgres::Error) -> StoreError {
    if e.is_closed() {
        return StoreError::Unavailable(e.to_string());
    }
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION && db.constraint() == Some(KEY_THUMBPRINT_CONSTRAINT)
        {
            return StoreError::KeyAlreadyBound;
        }
        // SQLSTATE codes are five characters; the first two are the class.
        let class = code.code().get(..2).unwrap_or_default();
        let retry_later = matches!(class, "08" | "53" | "57")
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::LOCK_NOT_AVAILABLE;
        return if retry_later {
            StoreError::Unavailable(db.to_string())
        } else {
            StoreError::Internal(db.to_string())
        };
    }
    // No server error: either the socket failed (refused, reset, timed
    // out) or the client library refused a value (a conversion bug).
    if e.source().is_some_and(|s| s.is::<std::io::Error>()) {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Internal(e.to_string())
    }
}

fn rule_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Rule(e.to_string())
}

fn bad(what: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("bad stored value: {what}"))
}

// ---------------------------------------------------------------------------
// Statements: every one is prepared once per connection and cached.

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>, StoreError> {
    let stmt = c.prepare_cached(sql).await.map_err(db_error)?;
    c.query(&stmt, params).await.map_err(db_error)
}

async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, StoreError> {
    let stmt = c.prepare_cached(sql).await.map_err(db_error)?;
    c.query_opt(&stmt, params).await.map_err(db_error)
}

async fn query_one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Row, StoreError> {
    let stmt = c.prepare_cached(sql).await.map_err(db_error)?;
    c.query_one(&stmt, params).await.map_err(db_error)
}

async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<u64, StoreError> {
    let stmt = c.prepare_cached(sql).await.map_err(db_error)?;
    c.execute(&stmt, params).await.map_err(db_error)
}

/// A column of a row, or [`StoreError::Internal`] if its type is not the
/// expected one (a schema/code mismatch, never a panic).
fn get<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T, StoreError> {
    row.try_get(idx).map_err(db_error)
}

fn ts(row: &Row, idx: usize) -> Result<Timestamp, StoreError> {
    from_system(get(row, idx)?)
}

fn opt_ts(row: &Row, idx: usize) -> Result<Option<Timestamp>, StoreError> {
    get::<Option<std::time::SystemTime>>(row, idx)?
        .map(from_system)
        .transpose()
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Internal(format!("{v} does not fit a bigint")))
}

/// A civil date as PostgreSQL `date`. tokio-postgres has no conversion for
/// jiff 1, and text would need casts in every statement; the binary format
/// is simply days since 2000-01-01 as a big-endian `int4`.
#[derive(Debug, Clone, Copy)]
struct PgDate(jiff::civil::Date);

const PG_EPOCH: jiff::civil::Date = jiff::civil::date(2000, 1, 1);

impl ToSql for PgDate {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let days = PG_EPOCH.until(self.0)?.get_days();
        days.to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }

    tokio_postgres::types::to_sql_checked!();
}

impl<'a> FromSql<'a> for PgDate {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let days = i32::from_sql(ty, raw)?;
        // ±infinity are i32::MAX / i32::MIN and fail here, as they should:
        // no card is valid forever.
        let span = jiff::Span::new().try_days(i64::from(days))?;
        Ok(PgDate(PG_EPOCH.checked_add(span)?))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }
}

// ---------------------------------------------------------------------------
// Row mapping and the writes shared by several methods.

/// How far a person's `nearby_anchor` (the indexed point, see
/// migrations/postgres/0018_hot_person_updates.sql) may be from their trusted
/// position, in metres on the sphere. Ingest moves the anchor only when the
/// trusted position leaves this circle around it; the nearby query widens
/// its index search by as much. The schema's `persons_anchor_near` check
/// holds the same number.
pub(super) const NEARBY_ANCHOR_SLACK_M: f64 = 25.0;

/// The SQL expression of a person's `trusted_position` (geography), given
/// the trusted position as `lat`/`lon` expressions; NULL without one.
pub(super) fn position_sql(lat: &str, lon: &str) -> String {
    format!(
        "CASE WHEN {lat} IS NULL OR {lon} IS NULL THEN NULL \
              ELSE ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)::geography END"
    )
}

/// The SQL expression of a person's new `nearby_anchor`, given the new
/// trusted position as `lat`/`lon` expressions and the row's old anchor as
/// `old`: the old anchor while the position is within the slack of it (the
/// same value, so the update leaves the index alone), else the position.
pub(super) fn anchor_sql(lat: &str, lon: &str, old: &str) -> String {
    let position = position_sql(lat, lon);
    format!(
        "CASE WHEN {old} IS NOT NULL \
                   AND ST_DWithin({old}, {position}, {NEARBY_ANCHOR_SLACK_M}, false) \
                  THEN {old} \
              ELSE {position} END"
    )
}

const PERSON_COLUMNS: &str = "id, card_number, status, registration_id, registration_started_at, \
     last_monitoring_at, deadline_at, presence, presence_since, trusted_lat, trusted_lon, \
     trusted_accuracy_m, trusted_at, pending_jump, active_device_id";

fn person_from_row(row: &Row) -> Result<PersonView, StoreError> {
    let status: String = get(row, 2)?;
    let presence: String = get(row, 7)?;
    let trusted = match (
        get::<Option<f64>>(row, 9)?,
        get::<Option<f64>>(row, 10)?,
        get::<Option<f64>>(row, 11)?,
        opt_ts(row, 12)?,
    ) {
        (Some(lat), Some(lon), Some(accuracy_m), Some(recorded_at)) => Some(KnownPosition {
            lat,
            lon,
            accuracy_m,
            recorded_at,
        }),
        _ => None,
    };
    let pending_jump = get::<Option<serde_json::Value>>(row, 13)?
        .map(serde_json::from_value::<KnownPosition>)
        .transpose()
        .map_err(|e| bad(format!("pending_jump: {e}")))?;
    let card: String = get(row, 1)?;
    Ok(PersonView {
        person_id: get(row, 0)?,
        card_number: CardNumber::parse(&card).map_err(|e| bad(format!("card number: {e}")))?,
        registration_id: get(row, 3)?,
        active_device_id: get(row, 14)?,
        state: PersonState {
            status: RegistrationStatus::parse(&status)
                .ok_or_else(|| bad(format!("status {status}")))?,
            registration_started_at: ts(row, 4)?,
            last_monitoring_at: opt_ts(row, 5)?,
            deadline_at: ts(row, 6)?,
            presence: Presence::parse(&presence)
                .ok_or_else(|| bad(format!("presence {presence}")))?,
            presence_since: opt_ts(row, 8)?,
            last_trusted: trusted,
            pending_jump,
        },
    })
}

async fn load_person<C: GenericClient>(
    c: &C,
    person_id: i64,
    lock: bool,
) -> Result<Option<PersonView>, StoreError> {
    let sql = if lock {
        format!("SELECT {PERSON_COLUMNS} FROM persons WHERE id = $1 FOR UPDATE")
    } else {
        format!("SELECT {PERSON_COLUMNS} FROM persons WHERE id = $1")
    };
    query_opt(c, &sql, &[&person_id])
        .await?
        .as_ref()
        .map(person_from_row)
        .transpose()
}

static SAVE_STATE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE persons SET status = $2, registration_started_at = $3, last_monitoring_at = $4, \
         deadline_at = $5, presence = $6, presence_since = $7, trusted_lat = $8::float8, \
         trusted_lon = $9::float8, trusted_accuracy_m = $10, trusted_at = $11, \
         trusted_position = {}, nearby_anchor = {}, pending_jump = $12 WHERE id = $1",
        position_sql("$8::float8", "$9::float8"),
        anchor_sql("$8::float8", "$9::float8", "nearby_anchor")
    )
});

/// Write the monitoring state back, keeping the geography columns in step
/// with the trusted position they are derived from.
async fn save_state<C: GenericClient>(
    c: &C,
    person_id: i64,
    s: &PersonState,
) -> Result<(), StoreError> {
    let pending = s
        .pending_jump
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    let t = s.last_trusted;
    execute(
        c,
        SAVE_STATE_SQL.as_str(),
        &[
            &person_id,
            &s.status.as_str(),
            &to_system(s.registration_started_at),
            &s.last_monitoring_at.map(to_system),
            &to_system(s.deadline_at),
            &s.presence.as_str(),
            &s.presence_since.map(to_system),
            &t.map(|p| p.lat),
            &t.map(|p| p.lon),
            &t.map(|p| p.accuracy_m),
            &t.map(|p| to_system(p.recorded_at)),
            &pending,
        ],
    )
    .await?;
    Ok(())
}

async fn add_event<C: GenericClient>(
    c: &C,
    person_id: i64,
    at: Timestamp,
    kind: &str,
    actor: &str,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    execute(
        c,
        "INSERT INTO person_events (person_id, at, kind, actor, detail) VALUES ($1, $2, $3, $4, $5)",
        &[&person_id, &to_system(at), &kind, &actor, &detail],
    )
    .await?;
    Ok(())
}

/// Record a deregistration decided by the domain; false if this
/// registration already has one (then nothing is written). The caller holds
/// the person's row lock; the unique constraint guards even a caller that
/// does not.
async fn record_deregistration<C: GenericClient>(
    c: &C,
    person_id: i64,
    registration_id: i64,
    d: &Deregistration,
    decided_by: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let inserted = execute(
        c,
        "INSERT INTO deregistrations (registration_id, person_id, reason, effective_at, \
         decided_at, decided_by, evidence, rule_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (registration_id) DO NOTHING",
        &[
            &registration_id,
            &person_id,
            &d.reason.as_str(),
            &to_system(d.effective_at),
            &to_system(now),
            &decided_by,
            &d.evidence,
            &d.rule_version,
        ],
    )
    .await?;
    if inserted == 0 {
        return Ok(false);
    }
    execute(
        c,
        "UPDATE registrations SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL",
        &[&registration_id, &to_system(d.effective_at), &d.reason.as_str()],
    )
    .await?;
    add_event(
        c,
        person_id,
        now,
        "deregistered",
        decided_by,
        serde_json::json!({"reason": d.reason.as_str(), "registration_id": registration_id,
                           "effective_at": d.effective_at.to_string()}),
    )
    .await?;
    integration::feed_insert(
        c,
        FeedKind::Deregistration,
        person_id,
        d.effective_at,
        crate::integration::deregistration_payload(registration_id, d, decided_by),
        now,
    )
    .await?;
    Ok(true)
}

/// A stored fix as the domain compares it with a retried one. Columns from
/// `offset`: seq, lat, lon, accuracy_m, recorded_at, source, mock, battery_pct.
fn fix_from_row(row: &Row, offset: usize) -> Result<FixInput, StoreError> {
    let source: String = get(row, offset + 5)?;
    Ok(FixInput {
        seq: DeviceSeq::parse(get(row, offset)?).map_err(|_| bad("fix seq"))?,
        position: Coordinates::parse(get(row, offset + 1)?, get(row, offset + 2)?)
            .map_err(|_| bad("fix position"))?,
        accuracy: AccuracyM::parse(get(row, offset + 3)?).map_err(|_| bad("fix accuracy"))?,
        recorded_at: ts(row, offset + 4)?,
        source: FixSource::parse(&source).ok_or_else(|| bad("fix source"))?,
        mock_location: get(row, offset + 6)?,
        battery: get::<Option<i16>>(row, offset + 7)?
            .map(|b| BatteryPct::parse(i64::from(b)))
            .transpose()
            .map_err(|_| bad("fix battery"))?,
    })
}

const DEVICE_COLUMNS: &str =
    "id, person_id, public_key, kind, status, bound_at, bound_by, revoked_at";

/// The columns [`stored_fix_from_row`] reads, in order.
const STORED_FIX_COLUMNS: &str = "device_id, seq, lat, lon, accuracy_m, recorded_at, received_at, \
     source, battery_pct, zone, flags, counted";

fn stored_fix_from_row(row: &Row) -> Result<StoredFix, StoreError> {
    let seq: i64 = get(row, 1)?;
    Ok(StoredFix {
        device_id: get(row, 0)?,
        seq: u64::try_from(seq).map_err(|_| bad("fix seq"))?,
        lat: get(row, 2)?,
        lon: get(row, 3)?,
        accuracy_m: get(row, 4)?,
        recorded_at: ts(row, 5)?,
        received_at: ts(row, 6)?,
        source: get(row, 7)?,
        battery_pct: get::<Option<i16>>(row, 8)?
            .map(|b| u8::try_from(b).map_err(|_| bad("battery")))
            .transpose()?,
        zone: get(row, 9)?,
        flags: flags_from_bits(i64::from(get::<i16>(row, 10)?)),
        counted: get(row, 11)?,
    })
}

fn device_from_row(row: &Row) -> Result<DeviceRecord, StoreError> {
    let status: String = get(row, 4)?;
    Ok(DeviceRecord {
        id: get(row, 0)?,
        person_id: get(row, 1)?,
        public_key: get(row, 2)?,
        kind: get(row, 3)?,
        status: match status.as_str() {
            "active" => DeviceStatus::Active,
            "revoked" => DeviceStatus::Revoked,
            other => return Err(bad(format!("device status {other}"))),
        },
        bound_at: ts(row, 5)?,
        bound_by: get(row, 6)?,
        revoked_at: opt_ts(row, 7)?,
    })
}

const CARD_LOGIN_COLUMNS: &str =
    "number, secret_hash, valid_until, failed_attempts, last_failed_at, locked_at";

fn card_login_from_row(row: &Row) -> Result<CardLogin, StoreError> {
    let number: String = get(row, 0)?;
    let attempts: i32 = get(row, 3)?;
    Ok(CardLogin {
        number: CardNumber::parse(&number).map_err(|e| bad(format!("card number: {e}")))?,
        secret_hash: get(row, 1)?,
        valid_until: get::<PgDate>(row, 2)?.0,
        failed_attempts: u32::try_from(attempts).map_err(|_| bad("failed_attempts"))?,
        last_failed_at: opt_ts(row, 4)?,
        locked_at: opt_ts(row, 5)?,
    })
}

/// Enrol the card's holder inside the caller's transaction: create the
/// person, or start a new registration after a deregistration, or keep the
/// current one; issue the binding token. Shared by card + secret and by
/// one-time codes.
pub(super) async fn enrol_in<C: GenericClient>(
    tx: &C,
    monitor: &Monitor,
    number: &str,
    token: &NewBindingToken,
    now: Timestamp,
) -> Result<Enrolment, StoreError> {
    let fresh = monitor.enrolled(now).map_err(rule_error)?;
    let now_sys = to_system(now);
    // Locks the card row: two enrolments of one card run one after the
    // other, so the second finds the person the first created.
    let card = execute(
        tx,
        "UPDATE cards SET failed_attempts = 0, last_failed_at = NULL WHERE number = $1",
        &[&number],
    )
    .await?;
    if card == 0 {
        return Err(StoreError::UnknownCard);
    }
    let invalidated = query_one(
        tx,
        "SELECT invalidated_at FROM cards WHERE number = $1",
        &[&number],
    )
    .await?;
    if opt_ts(&invalidated, 0)?.is_some() {
        return Err(IntegrationError::CardInvalidated.into());
    }
    // Locks the person: a deregistration in progress finishes first, and
    // then this enrolment sees it and starts a new registration.
    let existing = query_opt(
        tx,
        "SELECT id, status, registration_id FROM persons WHERE card_number = $1 FOR UPDATE",
        &[&number],
    )
    .await?;
    let existing = match existing {
        Some(row) => Some((
            get::<i64>(&row, 0)?,
            get::<String>(&row, 1)?,
            get::<i64>(&row, 2)?,
        )),
        None => None,
    };
    // A registration whose deadline passed before the scheduler got to
    // it ends now, exactly as the scheduler would have ended it; the
    // person then re-registers.
    let existing = match existing {
        Some((pid, status, rid)) if status == "registered" => {
            let person = load_person(tx, pid, false)
                .await?
                .ok_or(StoreError::UnknownPerson)?;
            match monitor.overdue(&person.state, now) {
                Some(d) => {
                    record_deregistration(tx, pid, rid, &d, DECIDED_BY_RULE, now).await?;
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
            let rid: i64 = get(
                    &query_one(
                        tx,
                        "INSERT INTO registrations (person_id, started_at) VALUES ($1, $2) RETURNING id",
                        &[&pid, &now_sys],
                    )
                    .await?,
                    0,
                )?;
            execute(
                tx,
                "UPDATE persons SET registration_id = $2 WHERE id = $1",
                &[&pid, &rid],
            )
            .await?;
            save_state(tx, pid, &fresh).await?;
            (pid, rid, true)
        }
        None => {
            // The person and their first registration refer to each
            // other: take the registration's id first (the foreign key
            // from persons is checked at commit).
            let rid: i64 = get(
                &query_one(
                    tx,
                    "SELECT nextval(pg_get_serial_sequence('registrations', 'id'))",
                    &[],
                )
                .await?,
                0,
            )?;
            let pid: i64 = get(
                &query_one(
                    tx,
                    "INSERT INTO persons (card_number, status, registration_id, \
                         registration_started_at, deadline_at, presence, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $4) RETURNING id",
                    &[
                        &number,
                        &fresh.status.as_str(),
                        &rid,
                        &now_sys,
                        &to_system(fresh.deadline_at),
                        &fresh.presence.as_str(),
                    ],
                )
                .await?,
                0,
            )?;
            execute(
                tx,
                "INSERT INTO registrations (id, person_id, started_at) \
                     OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3)",
                &[&rid, &pid, &now_sys],
            )
            .await?;
            (pid, rid, true)
        }
    };
    if new_registration {
        add_event(
            tx,
            person_id,
            now,
            "registered",
            &token.issued_by,
            serde_json::json!({"registration_id": registration_id,
                                   "deadline_at": fresh.deadline_at.to_string()}),
        )
        .await?;
        integration::feed_insert(
            tx,
            FeedKind::Registration,
            person_id,
            now,
            crate::integration::registration_payload(registration_id, now),
            now,
        )
        .await?;
    }
    execute(
        tx,
        "INSERT INTO binding_tokens (token_hash, person_id, issued_at, expires_at, issued_by) \
             VALUES ($1, $2, $3, $4, $5)",
        &[
            &token.hash.as_slice(),
            &person_id,
            &now_sys,
            &to_system(token.expires_at),
            &token.issued_by,
        ],
    )
    .await?;
    Ok(Enrolment {
        person_id,
        registration_id,
        new_registration,
    })
}

// ---------------------------------------------------------------------------

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // Two nodes starting at once: the second waits here until the first
        // has committed, then finds everything applied. The lock is released
        // with the transaction, whatever happens.
        tx.batch_execute(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await
        .map_err(db_error)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations \
             (name text PRIMARY KEY, applied_at timestamptz NOT NULL)",
        )
        .await
        .map_err(db_error)?;
        let mut applied = Vec::new();
        for (name, sql) in MIGRATIONS {
            let done: bool = get(
                &query_one(
                    &tx,
                    "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)",
                    &[name],
                )
                .await?,
                0,
            )?;
            if !done {
                tx.batch_execute(sql).await.map_err(db_error)?;
                execute(
                    &tx,
                    "INSERT INTO schema_migrations (name, applied_at) VALUES ($1, now())",
                    &[name],
                )
                .await?;
                applied.push(name.to_string());
            }
        }
        // Day partitions of `fixes` from yesterday to a week ahead (by the
        // system clock; the scheduler keeps them coming by its own).
        partitions::prepare_around(&tx, Timestamp::now()).await?;
        tx.commit().await.map_err(db_error)?;
        if !applied.is_empty() {
            // Statements prepared before the schema changed may describe
            // tables that did not exist; start afresh.
            self.pool.manager().statement_caches.clear();
        }
        Ok(applied)
    }

    async fn health(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(db_error)?;
        Ok(())
    }

    async fn import_cards(
        &self,
        cards: Vec<CardRecord>,
        now: Timestamp,
    ) -> Result<ImportCounts, StoreError> {
        // The last record of a number wins, as if the records were applied
        // one by one; sorting by number gives concurrent imports one lock
        // order.
        let mut last: BTreeMap<&str, &CardRecord> = BTreeMap::new();
        for c in &cards {
            last.insert(c.number.as_str(), c);
        }
        let numbers: Vec<&str> = last.keys().copied().collect();
        let col =
            |f: fn(&CardRecord) -> String| -> Vec<String> { last.values().map(|c| f(c)).collect() };
        let secret = col(|c| c.secret_hash.clone());
        let latin = col(|c| c.name_latin.clone());
        let cyrillic = col(|c| c.name_cyrillic.clone());
        let citizenship = col(|c| c.citizenship.as_str().to_string());
        let purpose = col(|c| c.purpose.as_str().to_string());
        let birth: Vec<PgDate> = last.values().map(|c| PgDate(c.birth_date)).collect();
        let valid: Vec<PgDate> = last.values().map(|c| PgDate(c.valid_until)).collect();
        let now_sys = to_system(now);

        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // Insert what is new. A number a concurrent import is inserting
        // waits for it and then counts as existing: the counts stay exact.
        let inserted: HashSet<String> = query(
            &tx,
            "INSERT INTO cards (number, secret_hash, name_latin, name_cyrillic, citizenship, \
             birth_date, purpose, valid_until, imported_at, updated_at) \
             SELECT u.number, u.secret_hash, u.name_latin, u.name_cyrillic, u.citizenship, \
                    u.birth_date, u.purpose, u.valid_until, $9, $9 \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], \
                         $7::text[], $8::date[]) \
                  AS u(number, secret_hash, name_latin, name_cyrillic, citizenship, birth_date, \
                       purpose, valid_until) \
             ORDER BY u.number \
             ON CONFLICT (number) DO NOTHING RETURNING number",
            &[
                &numbers,
                &secret,
                &latin,
                &cyrillic,
                &citizenship,
                &birth,
                &purpose,
                &valid,
                &now_sys,
            ],
        )
        .await?
        .iter()
        .map(|r| get::<String>(r, 0))
        .collect::<Result<_, _>>()?;
        if inserted.len() < numbers.len() {
            // Lock the rows to update in number order before updating them.
            execute(
                &tx,
                "SELECT 1 FROM cards WHERE number = ANY($1) ORDER BY number FOR UPDATE",
                &[&numbers],
            )
            .await?;
            execute(
                &tx,
                "UPDATE cards AS c SET secret_hash = u.secret_hash, name_latin = u.name_latin, \
                 name_cyrillic = u.name_cyrillic, citizenship = u.citizenship, \
                 birth_date = u.birth_date, purpose = u.purpose, valid_until = u.valid_until, \
                 updated_at = $9 \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                             $6::date[], $7::text[], $8::date[]) \
                      AS u(number, secret_hash, name_latin, name_cyrillic, citizenship, \
                           birth_date, purpose, valid_until) \
                 WHERE c.number = u.number AND NOT (u.number = ANY($10))",
                &[
                    &numbers,
                    &secret,
                    &latin,
                    &cyrillic,
                    &citizenship,
                    &birth,
                    &purpose,
                    &valid,
                    &now_sys,
                    &inserted.iter().collect::<Vec<_>>(),
                ],
            )
            .await?;
        }
        tx.commit().await.map_err(db_error)?;

        // Count as record-by-record application would: the first record of
        // a new number is an insert, every other record an update.
        let mut counts = ImportCounts::default();
        let mut seen = HashSet::new();
        for c in &cards {
            let number = c.number.as_str();
            if inserted.contains(number) && seen.insert(number) {
                counts.inserted += 1;
            } else {
                counts.updated += 1;
            }
        }
        Ok(counts)
    }

    async fn card_login(&self, number: &CardNumber) -> Result<Option<CardLogin>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {CARD_LOGIN_COLUMNS} FROM cards WHERE number = $1");
        query_opt(&client, &sql, &[&number.as_str()])
            .await?
            .as_ref()
            .map(card_login_from_row)
            .transpose()
    }

    async fn record_failed_attempt(
        &self,
        number: &CardNumber,
        now: Timestamp,
        lock_after: u32,
    ) -> Result<CardLogin, StoreError> {
        let client = self.client().await?;
        // One statement: the row lock it takes makes concurrent failures
        // count one after the other. On the right of SET, columns are the
        // values before this update.
        let sql = format!(
            "UPDATE cards SET failed_attempts = failed_attempts + 1, last_failed_at = $2, \
             locked_at = CASE WHEN locked_at IS NULL AND failed_attempts + 1 >= $3::bigint \
             THEN $2 ELSE locked_at END WHERE number = $1 RETURNING {CARD_LOGIN_COLUMNS}"
        );
        let row = query_opt(
            &client,
            &sql,
            &[&number.as_str(), &to_system(now), &i64::from(lock_after)],
        )
        .await?
        .ok_or(StoreError::UnknownCard)?;
        card_login_from_row(&row)
    }

    async fn unlock_card(
        &self,
        number: &CardNumber,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let changed = execute(
            &tx,
            "UPDATE cards SET locked_at = NULL, failed_attempts = 0, updated_at = $2 \
             WHERE number = $1 AND locked_at IS NOT NULL",
            &[&number.as_str(), &to_system(now)],
        )
        .await?;
        if changed > 0 {
            let person = query_opt(
                &tx,
                "SELECT id FROM persons WHERE card_number = $1",
                &[&number.as_str()],
            )
            .await?;
            if let Some(row) = person {
                add_event(
                    &tx,
                    get(&row, 0)?,
                    now,
                    "card_unlocked",
                    actor,
                    serde_json::json!({}),
                )
                .await?;
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(changed > 0)
    }

    async fn enrol(
        &self,
        monitor: &Monitor,
        number: &CardNumber,
        token: NewBindingToken,
        now: Timestamp,
    ) -> Result<Enrolment, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let enrolment = enrol_in(&tx, monitor, number.as_str(), &token, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(enrolment)
    }

    async fn bind_device(
        &self,
        token_hash: [u8; 32],
        device: NewDevice,
        now: Timestamp,
    ) -> Result<DeviceRecord, StoreError> {
        let now_sys = to_system(now);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // Locks the token: a second use of the same token waits, then sees
        // it used.
        let token = query_opt(
            &tx,
            "SELECT person_id, expires_at, used_at FROM binding_tokens WHERE token_hash = $1 \
             FOR UPDATE",
            &[&token_hash.as_slice()],
        )
        .await?;
        let person_id: i64 = match token {
            Some(row) if opt_ts(&row, 2)?.is_none() && ts(&row, 1)? >= now => get(&row, 0)?,
            _ => return Err(StoreError::BindingTokenInvalid),
        };
        let taken = query_opt(
            &tx,
            "SELECT 1 FROM devices WHERE key_thumbprint = $1",
            &[&device.key_thumbprint],
        )
        .await?;
        if taken.is_some() {
            return Err(StoreError::KeyAlreadyBound);
        }
        execute(
            &tx,
            "UPDATE binding_tokens SET used_at = $2 WHERE token_hash = $1",
            &[&token_hash.as_slice(), &now_sys],
        )
        .await?;
        // Locks the person: no batch is stored for the old device while it
        // is being revoked, and two bindings for one person run in turn.
        query_one(
            &tx,
            "SELECT 1 FROM persons WHERE id = $1 FOR UPDATE",
            &[&person_id],
        )
        .await?;
        let previous: Option<String> = match query_opt(
            &tx,
            "SELECT id FROM devices WHERE person_id = $1 AND status = 'active'",
            &[&person_id],
        )
        .await?
        {
            Some(row) => Some(get(&row, 0)?),
            None => None,
        };
        if let Some(prev) = &previous {
            execute(
                &tx,
                "UPDATE devices SET status = 'revoked', revoked_at = $2, revoked_by = $3, \
                 revoke_reason = 'rebound' WHERE id = $1",
                &[prev, &now_sys, &device.actor],
            )
            .await?;
            add_event(
                &tx,
                person_id,
                now,
                "device_revoked",
                &device.actor,
                serde_json::json!({"device_id": prev, "reason": "rebound", "replaced_by": device.id}),
            )
            .await?;
        }
        execute(
            &tx,
            "INSERT INTO devices (id, person_id, public_key, key_thumbprint, kind, status, \
             bound_at, bound_by) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7)",
            &[
                &device.id,
                &person_id,
                &device.public_key,
                &device.key_thumbprint,
                &device.kind,
                &now_sys,
                &device.actor,
            ],
        )
        .await?;
        execute(
            &tx,
            "UPDATE persons SET active_device_id = $2 WHERE id = $1",
            &[&person_id, &device.id],
        )
        .await?;
        add_event(
            &tx,
            person_id,
            now,
            if previous.is_some() {
                "device_rebound"
            } else {
                "device_bound"
            },
            &device.actor,
            serde_json::json!({"device_id": device.id, "kind": device.kind,
                               "previous_device_id": previous}),
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
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
    }

    async fn device(&self, device_id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1");
        query_opt(&client, &sql, &[&device_id])
            .await?
            .as_ref()
            .map(device_from_row)
            .transpose()
    }

    async fn ingest(
        &self,
        monitor: &Monitor,
        device_id: &str,
        fixes: Vec<FixInput>,
        now: Timestamp,
    ) -> Result<IngestOutcome, StoreError> {
        self.ensure_recent_days(fixes.iter().map(|f| f.recorded_at), now)
            .await?;
        ingest::ingest(
            &self.ingest_queue,
            &self.pool,
            monitor,
            device_id,
            fixes,
            now,
        )
        .await
    }

    async fn person(&self, person_id: i64) -> Result<Option<PersonView>, StoreError> {
        let client = self.client().await?;
        load_person(&client, person_id, false).await
    }

    async fn person_by_card(&self, number: &CardNumber) -> Result<Option<PersonView>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons WHERE card_number = $1");
        query_opt(&client, &sql, &[&number.as_str()])
            .await?
            .as_ref()
            .map(person_from_row)
            .transpose()
    }

    async fn deregister_due(
        &self,
        monitor: &Monitor,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<DeregisteredPerson>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // People another transaction holds (a batch being stored, another
        // node's sweep) are skipped, not waited for: the next sweep gets
        // them. A row changed and committed since this statement's snapshot
        // is re-read and re-checked by PostgreSQL before it is locked.
        let sql = format!(
            "SELECT {PERSON_COLUMNS} FROM persons WHERE status = 'registered' AND deadline_at < $1 \
             ORDER BY deadline_at LIMIT $2 FOR UPDATE SKIP LOCKED"
        );
        let due = query(&tx, &sql, &[&to_system(now), &i64::from(limit)]).await?;
        let mut done = Vec::with_capacity(due.len());
        for row in &due {
            let person = person_from_row(row)?;
            // The rule decides, on the locked state, not the SQL filter.
            let Some(d) = monitor.overdue(&person.state, now) else {
                continue;
            };
            let recorded = record_deregistration(
                &tx,
                person.person_id,
                person.registration_id,
                &d,
                DECIDED_BY_RULE,
                now,
            )
            .await?;
            if recorded {
                let mut state = person.state.clone();
                monitor.deregister(&mut state);
                save_state(&tx, person.person_id, &state).await?;
                done.push(DeregisteredPerson {
                    person_id: person.person_id,
                    registration_id: person.registration_id,
                    deadline_at: person.state.deadline_at,
                });
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(done)
    }

    async fn deregistrations(
        &self,
        person_id: i64,
    ) -> Result<Vec<DeregistrationRecord>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT registration_id, reason, effective_at, decided_at, decided_by, evidence, \
             rule_version FROM deregistrations WHERE person_id = $1 ORDER BY decided_at, id",
            &[&person_id],
        )
        .await?;
        rows.iter()
            .map(|row| {
                let reason: String = get(row, 1)?;
                Ok(DeregistrationRecord {
                    registration_id: get(row, 0)?,
                    reason: DeregistrationReason::parse(&reason)
                        .ok_or_else(|| bad(format!("reason {reason}")))?,
                    effective_at: ts(row, 2)?,
                    decided_at: ts(row, 3)?,
                    decided_by: get(row, 4)?,
                    evidence: get(row, 5)?,
                    rule_version: get(row, 6)?,
                })
            })
            .collect()
    }

    async fn fixes(&self, person_id: i64, limit: u32) -> Result<Vec<StoredFix>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT device_id, seq, lat, lon, accuracy_m, recorded_at, received_at, source, \
             battery_pct, zone, flags, counted FROM fixes WHERE person_id = $1 \
             ORDER BY recorded_at DESC, seq DESC LIMIT $2",
            &[&person_id, &i64::from(limit)],
        )
        .await?;
        rows.iter().map(stored_fix_from_row).collect()
    }

    async fn person_events(&self, person_id: i64) -> Result<Vec<PersonEvent>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT at, kind, actor, detail FROM person_events WHERE person_id = $1 ORDER BY at, id",
            &[&person_id],
        )
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PersonEvent {
                    at: ts(row, 0)?,
                    kind: get(row, 1)?,
                    actor: get(row, 2)?,
                    detail: get(row, 3)?,
                })
            })
            .collect()
    }

    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        let client = self.client().await?;
        // One statement, so one snapshot: the counts agree with each other.
        let row = query_one(
            &client,
            "SELECT (SELECT count(*) FROM cards), \
                    (SELECT count(*) FROM persons WHERE status = 'registered'), \
                    (SELECT count(*) FROM persons WHERE status = 'deregistered'), \
                    (SELECT count(*) FROM devices WHERE status = 'active'), \
                    (SELECT count(*) FROM fixes)",
            &[],
        )
        .await?;
        let n = |i: usize| -> Result<u64, StoreError> {
            u64::try_from(get::<i64>(&row, i)?).map_err(|_| bad("negative count"))
        };
        Ok(StoreCounts {
            cards: n(0)?,
            persons_registered: n(1)?,
            persons_deregistered: n(2)?,
            active_devices: n(3)?,
            fixes: n(4)?,
        })
    }
}

#[cfg(test)]
mod durability_tests {
    use super::*;

    #[test]
    fn connections_ask_for_durable_commits_unless_the_url_chose() {
        assert_eq!(durable_commit_options(None), "-c synchronous_commit=on");
        assert_eq!(
            durable_commit_options(Some(" ")),
            "-c synchronous_commit=on"
        );
        assert_eq!(
            durable_commit_options(Some("-c statement_timeout=5s")),
            "-c statement_timeout=5s -c synchronous_commit=on"
        );
        assert_eq!(
            durable_commit_options(Some("-c synchronous_commit=remote_apply")),
            "-c synchronous_commit=remote_apply"
        );
    }

    /// The test cluster runs with `synchronous_commit = off` server-wide;
    /// the store's own sessions must still commit durably.
    #[tokio::test(flavor = "multi_thread")]
    async fn store_sessions_commit_durably_on_a_server_tuned_otherwise() {
        let Some(db) = amina_testkit::fresh_pg_database() else {
            return;
        };
        let store = PostgresStore::connect(&db.url).await.unwrap();
        let client = store.client().await.unwrap();
        let level: String = client
            .query_one("SHOW synchronous_commit", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(level, "on");
        let (raw, connection) = tokio_postgres::connect(&db.url, NoTls).await.unwrap();
        tokio::spawn(connection);
        let server_default: String = raw
            .query_one("SHOW synchronous_commit", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(server_default, "off", "the test would prove nothing");
    }
}
