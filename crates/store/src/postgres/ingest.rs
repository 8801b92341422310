//! Storing batches of fixes on PostgreSQL: group commit in two round trips.
//!
//! Why: stored one by one, a batch was a transaction of seven round trips
//! (BEGIN, lock the person, read the device and the fixes already stored,
//! insert, update the person, COMMIT, and the status read for the answer)
//! and a commit of its own. On a loaded machine every round trip is a
//! wake-up of a server process that waits for a CPU, and every commit a WAL
//! flush; a single-fix request cost more than the work it did.
//!
//! How:
//!
//! - Batches arriving while others are being stored wait in a queue. A
//!   writer takes every batch waiting (up to [`MAX_GROUP_BATCHES`] batches or
//!   [`MAX_GROUP_FIXES`] fixes) and stores them in one transaction: one
//!   commit, one WAL flush, the same seven statements whatever the number
//!   of batches (group commit, as the SQLite writer does). At most
//!   `writers` groups are in flight at once; a batch that finds a writer
//!   free is stored at once, alone, so a quiet server adds no delay.
//! - A group takes two round trips. First, sent together: BEGIN; the row
//!   locks of the group's people, in id order; then the reads the decisions
//!   need (each device's status and its person's last check-in, and the
//!   fixes already stored under the batches' (device, seq) pairs, in every
//!   day partition). The reads run after the lock statement on the same
//!   connection, and READ COMMITTED gives each statement a fresh snapshot,
//!   so they see everything committed before the locks were granted, exactly
//!   as the separate statements of a lone batch did. Then the domain decides
//!   each batch, in arrival order, on the locked state; a person with
//!   several batches in the group has each decided on the state the
//!   previous one left, and fixes an earlier batch of the group inserts
//!   count as stored for a later one (a retry inside one group is a
//!   duplicate, a reused seq is refused). Second, sent together: one INSERT
//!   of every accepted fix, one UPDATE of every changed person, COMMIT.
//!   Rare writes (a deregistration, a "left the region" signal) go first,
//!   one statement at a time, in the same transaction.
//! - Every answer is sent after COMMIT returned: an acknowledgement still
//!   means "on disk" (`synchronous_commit = on`, see
//!   [`super::durable_commit_options`]).
//! - A batch refused by the domain (reused seq, fix before enrolment, …),
//!   from an unknown or revoked device, writes nothing and gets its own
//!   answer; the others go on. A database error aborts the whole
//!   transaction (the pipelined COMMIT then rolls back); every batch of the
//!   group is then stored again alone, so that one batch's failure is not
//!   the others'. If the COMMIT itself failed, whether it took effect is
//!   unknown: every batch is answered with that error, as a lone batch would
//!   be, and the phone's retry is safe (idempotency by (device, seq)).
//! - Lock order: a group locks its people in id order; every other writer of
//!   persons locks a single person or skips locked rows (the sweeps), so
//!   groups on several nodes cannot deadlock with each other or with them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use amina_domain::monitor::{Deregistration, FixInput, Monitor, PersonState};
use amina_domain::types::DeviceSeq;
use deadpool_postgres::Pool;
use jiff::Timestamp;
use tokio::sync::oneshot;
use tokio_postgres::types::ToSql;
use tokio_postgres::Statement;

use super::{
    anchor_sql, bad, db_error, fix_from_row, flags_to_bits, get, opt_ts, person_from_row,
    pool_error, position_sql, record_deregistration, signals, to_i64, DECIDED_BY_RULE,
    PERSON_COLUMNS,
};
use crate::time::to_system;
use crate::{rule_signal, IngestOutcome, PersonView, StoreError};

/// Most batches stored in one transaction.
pub(super) const MAX_GROUP_BATCHES: usize = 256;
/// A writer stops taking batches into its group past this many fixes.
pub(super) const MAX_GROUP_FIXES: usize = 5_000;

type Answer = Result<IngestOutcome, StoreError>;

/// One uploaded batch waiting to be stored.
struct Job {
    monitor: Monitor,
    device_id: String,
    fixes: Vec<FixInput>,
    now: Timestamp,
    reply: oneshot::Sender<Answer>,
}

/// The batches waiting, and how many writers run.
pub(super) struct IngestQueue {
    state: Mutex<Queue>,
    writers: usize,
}

struct Queue {
    waiting: VecDeque<Job>,
    running: usize,
}

impl IngestQueue {
    /// A queue served by at most `writers` groups in flight (at least one).
    pub(super) fn new(writers: usize) -> Arc<Self> {
        Arc::new(IngestQueue {
            state: Mutex::new(Queue {
                waiting: VecDeque::new(),
                running: 0,
            }),
            writers: writers.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while holding the lock; a poisoned one is intact.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Store one batch: queue it, make sure a writer runs, wait for its answer
/// (sent after the commit).
pub(super) async fn ingest(
    queue: &Arc<IngestQueue>,
    pool: &Pool,
    monitor: &Monitor,
    device_id: &str,
    fixes: Vec<FixInput>,
    now: Timestamp,
) -> Answer {
    let (reply, answer) = oneshot::channel();
    let start_writer = {
        let mut q = queue.lock();
        q.waiting.push_back(Job {
            monitor: monitor.clone(),
            device_id: device_id.to_string(),
            fixes,
            now,
            reply,
        });
        if q.running < queue.writers {
            q.running += 1;
            true
        } else {
            false
        }
    };
    if start_writer {
        // A task of its own: the group's transaction must run to its end
        // even if the request that started it goes away.
        tokio::spawn(write_loop(Arc::clone(queue), pool.clone()));
    }
    answer
        .await
        .map_err(|_| StoreError::Internal("the ingest writer stopped without answering".into()))?
}

/// Counts a running writer; if the writer panics, the count is given back
/// and, if batches still wait, another writer takes over.
struct Running {
    queue: Arc<IngestQueue>,
    pool: Pool,
    released: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let mut q = self.queue.lock();
        q.running -= 1;
        if !q.waiting.is_empty() && q.running < self.queue.writers {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                q.running += 1;
                runtime.spawn(write_loop(Arc::clone(&self.queue), self.pool.clone()));
            }
        }
    }
}

async fn write_loop(queue: Arc<IngestQueue>, pool: Pool) {
    let mut running = Running {
        queue: Arc::clone(&queue),
        pool: pool.clone(),
        released: false,
    };
    loop {
        let group: Vec<Job> = {
            let mut q = queue.lock();
            if q.waiting.is_empty() {
                q.running -= 1;
                running.released = true;
                return;
            }
            let mut group = Vec::new();
            let mut fixes = 0;
            while let Some(job) = q.waiting.front() {
                let more = job.fixes.len();
                if !group.is_empty()
                    && (group.len() >= MAX_GROUP_BATCHES || fixes + more > MAX_GROUP_FIXES)
                {
                    break;
                }
                fixes += more;
                group.extend(q.waiting.pop_front());
            }
            group
        };
        let answers = store_group(&pool, &group).await;
        for (job, answer) in group.into_iter().zip(answers) {
            // The caller may have gone away; the batch is stored all the same.
            let _ = job.reply.send(answer);
        }
    }
}

/// Store a group; answers in the order of `jobs`.
async fn store_group(pool: &Pool, jobs: &[Job]) -> Vec<Answer> {
    let all: Vec<&Job> = jobs.iter().collect();
    match try_group(pool, &all).await {
        Ok(answers) => answers,
        Err(failure) if failure.retry_alone && jobs.len() > 1 => {
            let mut answers = Vec::with_capacity(jobs.len());
            for job in jobs {
                answers.push(match try_group(pool, &[job]).await {
                    Ok(one) => one.into_iter().next().unwrap_or_else(|| {
                        Err(StoreError::Internal("a group of one gave no answer".into()))
                    }),
                    Err(f) => Err(f.error),
                });
            }
            answers
        }
        Err(failure) => jobs.iter().map(|_| Err(again(&failure.error))).collect(),
    }
}

/// The same failure for another batch of the group. Group failures are
/// database errors, which the store reports as one of these two.
fn again(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        other => StoreError::Internal(other.to_string()),
    }
}

/// The transaction failed as a whole; nothing of it was committed unless
/// `retry_alone` is false because the COMMIT itself failed.
struct Failure {
    error: StoreError,
    /// Storing each batch alone may succeed: the failure was not the
    /// connection's and the transaction certainly did not commit.
    retry_alone: bool,
}

impl Failure {
    fn db(e: tokio_postgres::Error) -> Failure {
        Failure {
            retry_alone: !e.is_closed(),
            error: db_error(e),
        }
    }

    /// A failure that storing the batches alone may avoid.
    fn retry(error: StoreError) -> Failure {
        Failure {
            error,
            retry_alone: true,
        }
    }

    /// A failure that would recur alone (a stored value that does not
    /// convert: a schema and code mismatch).
    fn fatal(error: StoreError) -> Failure {
        Failure {
            error,
            retry_alone: false,
        }
    }
}

static LOCK_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {PERSON_COLUMNS} FROM persons \
         WHERE id IN (SELECT person_id FROM devices WHERE id = ANY($1)) \
         ORDER BY id FOR UPDATE"
    )
});

/// Each device's person, status and seq bound (see 0015_fix_seq_high.sql),
/// and that person's last check-in.
const DEVICES_SQL: &str = "SELECT d.id, d.person_id, d.status, c.at, d.seq_high \
     FROM devices d LEFT JOIN persons p ON p.id = d.person_id \
     LEFT JOIN checkins c ON c.id = p.last_checkin_id \
     WHERE d.id = ANY($1)";

/// The fixes stored under the given (device, seq) pairs, in any partition.
/// Columns from 1 as [`fix_from_row`] reads them.
const STORED_SQL: &str = "SELECT f.device_id, f.seq, f.lat, f.lon, f.accuracy_m, f.recorded_at, \
     f.source, f.mock, f.battery_pct \
     FROM unnest($1::text[], $2::bigint[]) AS u(device_id, seq) \
     JOIN fixes f ON f.device_id = u.device_id AND f.seq = u.seq";

/// The highest seq stored for each device whose bound is not known yet.
const LEARN_SQL: &str = "SELECT u.id, (SELECT max(f.seq) FROM fixes f WHERE f.device_id = u.id) \
     FROM unnest($1::text[]) AS u(id)";

/// Record the bounds just learned (before this group's inserts, which the
/// trigger then adds).
const SEQ_HIGH_SQL: &str = "UPDATE devices AS d SET seq_high = u.seq_high \
     FROM unnest($1::text[], $2::bigint[]) AS u(id, seq_high) \
     WHERE d.id = u.id AND d.seq_high IS NULL";

const INSERT_SQL: &str = "INSERT INTO fixes (device_id, seq, person_id, lat, lon, accuracy_m, \
     recorded_at, received_at, source, mock, battery_pct, zone, flags, counted) \
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::float8[], $5::float8[], \
                          $6::float8[], $7::timestamptz[], $8::timestamptz[], $9::text[], \
                          $10::boolean[], $11::smallint[], $12::text[], $13::smallint[], \
                          $14::boolean[])";

/// Write each person's monitoring state, keeping the geography columns in
/// step with the trusted position they are derived from (as `save_state`;
/// the anchor moves only past its slack, so that a person who stays put is
/// updated without touching an index).
static UPDATE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE persons AS p SET status = u.status, \
         registration_started_at = u.registration_started_at, \
         last_monitoring_at = u.last_monitoring_at, deadline_at = u.deadline_at, \
         presence = u.presence, presence_since = u.presence_since, trusted_lat = u.lat, \
         trusted_lon = u.lon, trusted_accuracy_m = u.accuracy_m, trusted_at = u.trusted_at, \
         trusted_position = {}, nearby_anchor = {}, pending_jump = u.pending_jump \
         FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[], \
                     $5::timestamptz[], $6::text[], $7::timestamptz[], $8::float8[], \
                     $9::float8[], $10::float8[], $11::timestamptz[], $12::jsonb[]) \
              AS u(id, status, registration_started_at, last_monitoring_at, deadline_at, \
                   presence, presence_since, lat, lon, accuracy_m, trusted_at, pending_jump) \
         WHERE p.id = u.id",
        position_sql("u.lat", "u.lon"),
        anchor_sql("u.lat", "u.lon", "p.nearby_anchor")
    )
});

/// Opens a group's transaction, with the planner settings its statements
/// are planned under.
///
/// - Generic plans: the statements take arrays whose lengths vary from
///   group to group; left to itself PostgreSQL plans them anew at every
///   execution (a custom plan per array), which cost more than some of them
///   run. Their generic plans are as good, and are planned once per
///   connection.
/// - No sequential scans: every read and write of a group finds its rows by
///   key (a device's id, a person's id, a fix's (device, seq)). On a small
///   table (a pilot's first few hundred people) the planner prefers to read
///   the whole table and hash it, and those tables are the most updated of
///   the database: every scan steps over the dead row versions of the
///   updates, and matches each row against the whole array. In a profile
///   of the single-fix benchmark, building hash tables from those scans
///   held 14 % of PostgreSQL's CPU
///   (docs/performance.md#index-lookups-at-every-table-size). With tables
///   of city size the planner's costs favour the indexes anyway (not
///   measured here); with this it takes them at every size.
///
/// `SET LOCAL` ends with the transaction: the rest of the connection's work
/// is planned as usual. A cached generic plan keeps the settings it was
/// planned under, and these statements run only here.
const BEGIN_SQL: &str =
    "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off";

/// A device as the group's reads found it.
struct DeviceRow {
    person_id: i64,
    active: bool,
    last_checkin_at: Option<Timestamp>,
    /// Every fix stored for the device has a seq at most this; None: not
    /// known.
    seq_high: Option<i64>,
}

/// A locked person: the state as read, and as the group's batches leave it.
struct Locked {
    view: PersonView,
    state: PersonState,
}

/// The rows of the fixes INSERT, one vector per column.
#[derive(Default)]
struct FixRows {
    device: Vec<String>,
    seq: Vec<i64>,
    person: Vec<i64>,
    lat: Vec<f64>,
    lon: Vec<f64>,
    accuracy: Vec<f64>,
    recorded: Vec<std::time::SystemTime>,
    received: Vec<std::time::SystemTime>,
    source: Vec<&'static str>,
    mock: Vec<bool>,
    battery: Vec<Option<i16>>,
    zone: Vec<String>,
    flags: Vec<i16>,
    counted: Vec<bool>,
}

/// The rows of the persons UPDATE, one vector per column.
#[derive(Default)]
struct StateRows {
    id: Vec<i64>,
    status: Vec<&'static str>,
    registration_started_at: Vec<std::time::SystemTime>,
    last_monitoring_at: Vec<Option<std::time::SystemTime>>,
    deadline_at: Vec<std::time::SystemTime>,
    presence: Vec<&'static str>,
    presence_since: Vec<Option<std::time::SystemTime>>,
    lat: Vec<Option<f64>>,
    lon: Vec<Option<f64>>,
    accuracy: Vec<Option<f64>>,
    trusted_at: Vec<Option<std::time::SystemTime>>,
    pending_jump: Vec<Option<serde_json::Value>>,
}

impl StateRows {
    fn push(&mut self, id: i64, s: &PersonState) -> Result<(), StoreError> {
        let t = s.last_trusted;
        self.id.push(id);
        self.status.push(s.status.as_str());
        self.registration_started_at
            .push(to_system(s.registration_started_at));
        self.last_monitoring_at
            .push(s.last_monitoring_at.map(to_system));
        self.deadline_at.push(to_system(s.deadline_at));
        self.presence.push(s.presence.as_str());
        self.presence_since.push(s.presence_since.map(to_system));
        self.lat.push(t.map(|p| p.lat));
        self.lon.push(t.map(|p| p.lon));
        self.accuracy.push(t.map(|p| p.accuracy_m));
        self.trusted_at.push(t.map(|p| to_system(p.recorded_at)));
        self.pending_jump.push(
            s.pending_jump
                .map(serde_json::to_value)
                .transpose()
                .map_err(|e| StoreError::Internal(e.to_string()))?,
        );
        Ok(())
    }
}

/// One transaction for the whole group (see the module documentation).
async fn try_group(pool: &Pool, jobs: &[&Job]) -> Result<Vec<Answer>, Failure> {
    let mut answers: Vec<Option<Answer>> = jobs.iter().map(|_| None).collect();
    // A seq beyond bigint is that batch's failure alone.
    let mut seqs: Vec<Vec<i64>> = Vec::with_capacity(jobs.len());
    let mut devices: Vec<&str> = Vec::new();
    let mut seen_devices = HashSet::new();
    for (i, job) in jobs.iter().enumerate() {
        match job.fixes.iter().map(|f| to_i64(f.seq.get())).collect() {
            Err(e) => {
                answers[i] = Some(Err(e));
                seqs.push(Vec::new());
            }
            Ok(s) => {
                seqs.push(s);
                if seen_devices.insert(job.device_id.as_str()) {
                    devices.push(job.device_id.as_str());
                }
            }
        }
    }
    if devices.is_empty() {
        return Ok(answers.into_iter().map(answered).collect());
    }

    let client = pool.get().await.map_err(|e| Failure {
        error: pool_error(e),
        retry_alone: false,
    })?;
    // Prepared once per connection and cached: after the first group these
    // cost no round trip.
    let mut statements: Vec<Statement> = Vec::with_capacity(7);
    for sql in [
        LOCK_SQL.as_str(),
        DEVICES_SQL,
        STORED_SQL,
        LEARN_SQL,
        SEQ_HIGH_SQL,
        INSERT_SQL,
        UPDATE_SQL.as_str(),
    ] {
        statements.push(client.prepare_cached(sql).await.map_err(Failure::db)?);
    }
    let [lock, devices_stmt, stored_stmt, learn_stmt, seq_high_stmt, insert_stmt, update_stmt] =
        <[Statement; 7]>::try_from(statements).map_err(|_| Failure {
            error: StoreError::Internal("statements not prepared".into()),
            retry_alone: false,
        })?;

    // Round trip 1: BEGIN, the locks, then the reads under the locks. Each
    // request goes out when its future is first polled; `biased` polls
    // them in this order, and the server runs them in the order received.
    let by_device: [&(dyn ToSql + Sync); 1] = [&devices];
    let (begin, locked, device_rows) = tokio::join!(
        biased;
        client.batch_execute(BEGIN_SQL),
        client.query(&lock, &by_device),
        client.query(&devices_stmt, &by_device),
    );
    let (locked, device_rows) = match begin.and(locked).and_then(|l| Ok((l, device_rows?))) {
        Ok(r) => r,
        Err(e) => return Err(rollback(client, Failure::db(e)).await),
    };

    // The reads, by person and by device. A row that does not convert is
    // the failure of the batches that need it.
    let mut people: HashMap<i64, Result<Locked, String>> = HashMap::new();
    for row in &locked {
        let id: i64 = match get(row, 0) {
            Ok(id) => id,
            Err(error) => return Err(rollback(client, Failure::fatal(error)).await),
        };
        let person = person_from_row(row).map(|view| Locked {
            state: view.state.clone(),
            view,
        });
        people.insert(id, person.map_err(|e| e.to_string()));
    }
    let mut device_info: HashMap<String, Result<DeviceRow, String>> = HashMap::new();
    for row in &device_rows {
        let id: String = match get(row, 0) {
            Ok(id) => id,
            Err(error) => return Err(rollback(client, Failure::fatal(error)).await),
        };
        let info = (|| {
            Ok::<_, StoreError>(DeviceRow {
                person_id: get(row, 1)?,
                active: get::<String>(row, 2)? == "active",
                last_checkin_at: opt_ts(row, 3)?,
                seq_high: get(row, 4)?,
            })
        })();
        device_info.insert(id, info.map_err(|e| e.to_string()));
    }

    // Which (device, seq) pairs may be stored already: those at or below
    // the device's bound, or all of a device whose bound is not known yet
    // (whose bound is then learned).
    let mut pairs: HashSet<(&str, i64)> = HashSet::new();
    let mut learn: Vec<&str> = Vec::new();
    for (job, seqs) in jobs.iter().zip(&seqs) {
        let Some(Ok(device)) = device_info.get(&job.device_id) else {
            continue;
        };
        if !device.active {
            continue;
        }
        match device.seq_high {
            Some(high) => pairs.extend(
                seqs.iter()
                    .filter(|&&s| s <= high)
                    .map(|&s| (job.device_id.as_str(), s)),
            ),
            None => {
                if !learn.contains(&job.device_id.as_str()) {
                    learn.push(job.device_id.as_str());
                }
                pairs.extend(seqs.iter().map(|&s| (job.device_id.as_str(), s)));
            }
        }
    }
    let mut stored: HashMap<String, HashMap<DeviceSeq, FixInput>> = HashMap::new();
    let mut learned: (Vec<&str>, Vec<i64>) = (Vec::new(), Vec::new());
    if !pairs.is_empty() || !learn.is_empty() {
        // Round trip 1b, only for retries, reused seqs and devices not seen
        // since the bound was introduced.
        let (pair_devices, pair_seqs): (Vec<&str>, Vec<i64>) = pairs.into_iter().unzip();
        let (stored_rows, learned_rows) = tokio::join!(
            biased;
            async {
                if pair_devices.is_empty() {
                    return Ok(Vec::new());
                }
                client.query(&stored_stmt, &[&pair_devices, &pair_seqs]).await
            },
            async {
                if learn.is_empty() {
                    return Ok(Vec::new());
                }
                client.query(&learn_stmt, &[&learn]).await
            },
        );
        let (stored_rows, learned_rows) = match stored_rows.and_then(|s| Ok((s, learned_rows?))) {
            Ok(r) => r,
            Err(e) => return Err(rollback(client, Failure::db(e)).await),
        };
        for row in &stored_rows {
            match get::<String>(row, 0).and_then(|d| Ok((d, fix_from_row(row, 1)?))) {
                Ok((device, fix)) => {
                    stored.entry(device).or_default().insert(fix.seq, fix);
                }
                Err(error) => return Err(rollback(client, Failure::fatal(error)).await),
            }
        }
        for row in &learned_rows {
            let high = get::<String>(row, 0).and_then(|d| Ok((d, get::<Option<i64>>(row, 1)?)));
            match high {
                Ok((device, high)) => {
                    if let Some(&d) = learn.iter().find(|&&l| l == device) {
                        learned.0.push(d);
                        learned.1.push(high.unwrap_or(0));
                    }
                }
                Err(error) => return Err(rollback(client, Failure::fatal(error)).await),
            }
        }
    }

    // Decide each batch in arrival order, on the state the previous ones
    // left.
    let mut rows = FixRows::default();
    let mut deregistrations: Vec<(i64, i64, Deregistration, Timestamp)> = Vec::new();
    let mut signals_raised = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        if answers[i].is_none() {
            answers[i] = Some(decide(
                job,
                &device_info,
                &mut people,
                &mut stored,
                &mut rows,
                &mut deregistrations,
                &mut signals_raised,
            ));
        }
    }
    let mut states = StateRows::default();
    for (id, person) in &people {
        if let Ok(p) = person {
            if p.state != p.view.state {
                if let Err(error) = states.push(*id, &p.state) {
                    return Err(rollback(client, Failure::fatal(error)).await);
                }
            }
        }
    }

    // Round trip 2 (plus one per rare write): the writes, then COMMIT.
    for (person_id, registration_id, d, now) in &deregistrations {
        let done = record_deregistration(
            &client,
            *person_id,
            *registration_id,
            d,
            DECIDED_BY_RULE,
            *now,
        )
        .await;
        if let Err(error) = done {
            return Err(rollback(client, Failure::retry(error)).await);
        }
    }
    for signal in &signals_raised {
        if let Err(error) = signals::insert_signal(&client, signal).await {
            return Err(rollback(client, Failure::retry(error)).await);
        }
    }
    let (bounds, inserted, updated, committed) = tokio::join!(
        biased;
        async {
            if learned.0.is_empty() {
                return Ok(0);
            }
            client.execute(&seq_high_stmt, &[&learned.0, &learned.1]).await
        },
        async {
            if rows.seq.is_empty() {
                return Ok(0);
            }
            client
                .execute(
                    &insert_stmt,
                    &[
                        &rows.device,
                        &rows.seq,
                        &rows.person,
                        &rows.lat,
                        &rows.lon,
                        &rows.accuracy,
                        &rows.recorded,
                        &rows.received,
                        &rows.source,
                        &rows.mock,
                        &rows.battery,
                        &rows.zone,
                        &rows.flags,
                        &rows.counted,
                    ],
                )
                .await
        },
        async {
            if states.id.is_empty() {
                return Ok(0);
            }
            client
                .execute(
                    &update_stmt,
                    &[
                        &states.id,
                        &states.status,
                        &states.registration_started_at,
                        &states.last_monitoring_at,
                        &states.deadline_at,
                        &states.presence,
                        &states.presence_since,
                        &states.lat,
                        &states.lon,
                        &states.accuracy,
                        &states.trusted_at,
                        &states.pending_jump,
                    ],
                )
                .await
        },
        client.batch_execute("COMMIT"),
    );
    // A failed statement aborted the transaction, and the COMMIT sent after
    // it rolled back: nothing was stored.
    if let Err(e) = bounds.and(inserted).and(updated) {
        let mut failure = Failure::db(e);
        if committed.is_err() {
            failure.retry_alone = false;
        }
        return Err(failure);
    }
    if let Err(e) = committed {
        return Err(Failure {
            error: db_error(e),
            retry_alone: false,
        });
    }
    Ok(answers.into_iter().map(answered).collect())
}

/// Decide one batch of the group; its fixes and state change are added to
/// the group's writes only if it is accepted.
fn decide(
    job: &Job,
    devices: &HashMap<String, Result<DeviceRow, String>>,
    people: &mut HashMap<i64, Result<Locked, String>>,
    stored: &mut HashMap<String, HashMap<DeviceSeq, FixInput>>,
    rows: &mut FixRows,
    deregistrations: &mut Vec<(i64, i64, Deregistration, Timestamp)>,
    signals_raised: &mut Vec<crate::NewSignal>,
) -> Answer {
    let device = match devices.get(&job.device_id) {
        None => return Err(StoreError::UnknownDevice),
        Some(Err(e)) => return Err(bad(e)),
        Some(Ok(d)) => d,
    };
    let person = match people.get_mut(&device.person_id) {
        None => return Err(StoreError::UnknownPerson),
        Some(Err(e)) => return Err(StoreError::Internal(e.clone())),
        Some(Ok(p)) => p,
    };
    // Checked under the lock: a rebinding may have revoked the device while
    // the batch waited (revocation takes the same lock).
    if !device.active {
        return Err(StoreError::DeviceRevoked);
    }
    let known = stored.entry(job.device_id.clone()).or_default();
    let monitor = &job.monitor;
    let plan = monitor.plan_batch(
        &person.state,
        &job.fixes,
        |seq| known.get(&seq).cloned(),
        job.now,
    )?;
    let person_id = person.view.person_id;
    // Everything that can fail comes before the first write to the group's
    // rows: a refused batch leaves no trace in them.
    let seqs: Vec<i64> = plan
        .inserts
        .iter()
        .map(|(fix, _)| to_i64(fix.seq.get()))
        .collect::<Result<_, _>>()?;
    let mut accepted = Vec::with_capacity(plan.inserts.len());
    let mut flagged = Vec::new();
    let received = to_system(job.now);
    for ((fix, outcome), seq) in plan.inserts.iter().zip(seqs) {
        rows.device.push(job.device_id.clone());
        rows.seq.push(seq);
        rows.person.push(person_id);
        rows.lat.push(fix.position.lat());
        rows.lon.push(fix.position.lon());
        rows.accuracy.push(fix.accuracy.get());
        rows.recorded.push(to_system(fix.recorded_at));
        rows.received.push(received);
        rows.source.push(fix.source.as_str());
        rows.mock.push(fix.mock_location);
        rows.battery.push(fix.battery.map(|b| i16::from(b.get())));
        rows.zone
            .push(monitor.geofence.slug(outcome.zone).to_string());
        // Two flag bits: always fits a smallint.
        rows.flags.push(flags_to_bits(outcome.flags) as i16);
        rows.counted.push(outcome.counted);
        known.insert(fix.seq, fix.clone());
        accepted.push(fix.seq.get());
        if !outcome.flags.trustworthy() {
            flagged.push(fix.seq.get());
        }
    }
    if let Some(d) = &plan.deregistration {
        deregistrations.push((person_id, person.view.registration_id, d.clone(), job.now));
    }
    if let Some(rule) = amina_domain::signal::left_region(&person.state, &plan.state) {
        signals_raised.push(rule_signal(person_id, rule));
    }
    person.state = plan.state.clone();
    Ok(IngestOutcome {
        person_id,
        accepted,
        duplicates: plan.duplicates.iter().map(|s| s.get()).collect(),
        flagged,
        deregistered: plan.deregistration.is_some(),
        state: plan.state,
        last_checkin_at: device.last_checkin_at,
    })
}

/// End the transaction after `failure`, before COMMIT was sent. A
/// connection that cannot even roll back is taken out of the pool rather
/// than handed to the next caller inside a transaction.
async fn rollback(client: deadpool_postgres::Client, failure: Failure) -> Failure {
    if client.batch_execute("ROLLBACK").await.is_err() {
        drop(deadpool_postgres::Client::take(client));
    }
    failure
}

/// Every batch of a group gets an answer; a missing one is a bug.
fn answered(answer: Option<Answer>) -> Answer {
    answer.unwrap_or_else(|| Err(StoreError::Internal("a batch was left unanswered".into())))
}
