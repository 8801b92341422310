//! What every storage suite shares: a fresh database per test on each
//! backend (the [`Harness`]), fixtures, and the `suite!` macro that
//! instantiates each test once for SQLite and once for PostgreSQL.
#![allow(dead_code, unused_imports, unused_macros)]

pub use std::path::PathBuf;
pub use std::sync::atomic::{AtomicU64, Ordering};
pub use std::sync::{Arc, OnceLock};

pub use amina_domain::calendar::ProductionCalendar;
pub use amina_domain::eligibility::{CardRecord, Purpose};
pub use amina_domain::geofence::Geofence;
pub use amina_domain::monitor::{
    BatchError, DeregistrationReason, FixInput, FixRejection, Monitor, Plausibility, Presence,
    RegistrationStatus,
};
pub use amina_domain::rule::MonitoringWindow;
pub use amina_domain::types::{
    AccuracyM, BatteryPct, CardNumber, Citizenship, Coordinates, DeviceSeq, FixSource,
};
pub use amina_store::postgres::PostgresStore;
pub use amina_store::sqlite::SqliteStore;
pub use amina_store::{
    Backend, DeviceStatus, ImportCounts, NewBindingToken, NewDevice, SharedStore, StoreError,
};
pub use jiff::{SignedDuration, Timestamp};

// ---------------------------------------------------------------------------
// The harness: a fresh database per test, and the few things a test needs
// to do behind the store's back.

pub enum Database {
    Sqlite {
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
    Postgres(amina_testkit::PgDatabase),
}

pub struct Harness {
    pub store: SharedStore,
    pub db: Database,
}

impl Harness {
    pub async fn sqlite() -> Harness {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("amina.db");
        let store = SqliteStore::open(&path).expect("open SQLite");
        Harness {
            store: Arc::new(store),
            db: Database::Sqlite { path, _dir: dir },
        }
    }

    /// None when the testkit skipped (it printed why).
    pub async fn postgres() -> Option<Harness> {
        let db = amina_testkit::fresh_pg_database()?;
        let store = PostgresStore::connect_with(&db.url, 8)
            .await
            .expect("connect to the test database");
        Some(Harness {
            store: Arc::new(store),
            db: Database::Postgres(db),
        })
    }

    /// The store, with the schema in place.
    pub async fn migrated(&self) -> SharedStore {
        let applied = self.store.migrate().await.expect("migrate");
        assert_eq!(applied, amina_store::migration_names());
        Arc::clone(&self.store)
    }

    /// A second store on the same database, as a second server process
    /// would open it (its own connections).
    pub async fn another_store(&self) -> SharedStore {
        match &self.db {
            Database::Sqlite { path, .. } => {
                Arc::new(SqliteStore::open(path).expect("open SQLite"))
            }
            Database::Postgres(db) => Arc::new(
                PostgresStore::connect_with(&db.url, 4)
                    .await
                    .expect("connect to the test database"),
            ),
        }
    }

    /// Run SQL directly on the database, behind the store's back.
    pub async fn raw_sql(&self, sqlite: &str, postgres: &str) {
        match &self.db {
            Database::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("open SQLite");
                conn.busy_timeout(std::time::Duration::from_secs(10))
                    .expect("busy timeout");
                conn.execute_batch(sqlite).expect("raw SQL");
            }
            Database::Postgres(db) => {
                let client = pg_client(&db.url).await;
                client.batch_execute(postgres).await.expect("raw SQL");
            }
        }
    }

    /// Make inserting a row of `table` whose `column` is `value` fail
    /// inside the database, so a test can see a failure in the middle of a
    /// write (an import, a group of uploads).
    pub async fn poison_insert(&self, table: &str, column: &str, value: &str) {
        self.raw_sql(
            &format!(
                "CREATE TRIGGER poison_{table} BEFORE INSERT ON {table} \
                 WHEN NEW.{column} = '{value}' \
                 BEGIN SELECT RAISE(ABORT, 'poisoned {table}'); END;"
            ),
            &format!(
                "CREATE FUNCTION poison_{table}() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'poisoned {table}'; END $$; \
                 CREATE TRIGGER poison_{table} BEFORE INSERT ON {table} FOR EACH ROW \
                 WHEN (NEW.{column} = '{value}') EXECUTE FUNCTION poison_{table}();"
            ),
        )
        .await;
    }
}

pub async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
}

// ---------------------------------------------------------------------------
// Fixtures.

/// The production monitor, built once per test process: loading the real
/// region boundaries takes seconds in an unoptimised build.
pub fn monitor() -> Monitor {
    static MONITOR: OnceLock<Monitor> = OnceLock::new();
    MONITOR
        .get_or_init(|| Monitor {
            calendar: Arc::new(ProductionCalendar::embedded()),
            geofence: Arc::new(Geofence::embedded()),
            window: MonitoringWindow::default(),
            plausibility: Plausibility::default(),
            clock_skew: SignedDuration::from_mins(5),
        })
        .clone()
}

/// A Moscow civil time, e.g. "2025-11-24 10:00".
pub fn msk(civil: &str) -> Timestamp {
    let dt: jiff::civil::DateTime = civil.parse().expect("a civil date-time");
    amina_domain::time::moscow()
        .to_timestamp(dt)
        .expect("a representable instant")
}

pub fn utc(s: &str) -> Timestamp {
    s.parse().expect("an RFC 3339 instant")
}

pub const KREMLIN: (f64, f64) = (55.7520, 37.6175);
pub const TVER: (f64, f64) = (56.8587, 35.9176);

/// A position `metres` east of the Kremlin, on its parallel.
pub fn east_of_kremlin(metres: f64) -> (f64, f64) {
    let here = Coordinates::parse(KREMLIN.0, KREMLIN.1).expect("valid position");
    let per_degree = here
        .distance_m(Coordinates::parse(KREMLIN.0, KREMLIN.1 + 0.01).expect("valid position"))
        / 0.01;
    (KREMLIN.0, KREMLIN.1 + metres / per_degree)
}

/// The PostgreSQL database's URL, for tests that look behind the store.
pub fn pg_url(h: &Harness) -> &str {
    match &h.db {
        Database::Postgres(db) => &db.url,
        Database::Sqlite { .. } => unreachable!("PostgreSQL only"),
    }
}

pub fn fix(seq: u64, at: Timestamp, (lat, lon): (f64, f64)) -> FixInput {
    FixInput {
        seq: DeviceSeq::parse(seq as i64).expect("valid seq"),
        position: Coordinates::parse(lat, lon).expect("valid position"),
        accuracy: AccuracyM::parse(12.5).expect("valid accuracy"),
        recorded_at: at,
        source: FixSource::Gps,
        mock_location: false,
        battery: Some(BatteryPct::parse(77).expect("valid battery")),
    }
}

pub fn card(number: &str) -> CardRecord {
    CardRecord {
        number: CardNumber::parse(number).expect("valid card number"),
        secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
        name_latin: "Alisher Karimov".into(),
        name_cyrillic: "Алишер Каримов".into(),
        citizenship: Citizenship::parse("UZB").expect("valid citizenship"),
        birth_date: jiff::civil::date(1990, 5, 1),
        purpose: Purpose::Work,
        valid_until: jiff::civil::date(2030, 1, 1),
    }
}

pub fn number(n: &str) -> CardNumber {
    CardNumber::parse(n).expect("valid card number")
}

/// Distinct token hashes for the whole test process.
pub fn token(expires_at: Timestamp, issued_by: &str) -> NewBindingToken {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut hash = [0xA5; 32];
    hash[..8].copy_from_slice(&n.to_be_bytes());
    NewBindingToken {
        hash,
        expires_at,
        issued_by: issued_by.into(),
    }
}

pub fn device(id: &str, actor: &str) -> NewDevice {
    let mut public_key = vec![4u8; 65];
    public_key[1..1 + id.len().min(64)].copy_from_slice(&id.as_bytes()[..id.len().min(64)]);
    NewDevice {
        id: id.into(),
        public_key,
        key_thumbprint: format!("thumb-{id}"),
        kind: "android-pwa".into(),
        actor: actor.into(),
    }
}

/// Import a card, enrol its holder at `at` and bind device `dev-NUMBER`.
/// Returns (person_id, registration_id, device_id).
pub async fn enrolled_with_device(
    s: &SharedStore,
    m: &Monitor,
    n: &str,
    at: Timestamp,
) -> (i64, i64, String) {
    s.import_cards(vec![card(n)], at).await.expect("import");
    let t = token(at + SignedDuration::from_mins(15), "self");
    let hash = t.hash;
    let e = s.enrol(m, &number(n), t, at).await.expect("enrol");
    let dev = format!("dev-{n}");
    s.bind_device(hash, device(&dev, "self"), at)
        .await
        .expect("bind");
    (e.person_id, e.registration_id, dev)
}

pub fn batch_error(r: Result<impl std::fmt::Debug, StoreError>) -> BatchError {
    match r {
        Err(StoreError::Batch(e)) => e,
        other => panic!("expected a batch error, got {other:?}"),
    }
}

#[macro_export]
macro_rules! suite {
    (both: [$($name:ident),* $(,)?], postgres_only: [$($pg:ident),* $(,)?]) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    super::$name($crate::common::Harness::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    let Some(h) = $crate::common::Harness::postgres().await else { return };
                    super::$name(h).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $pg() {
                    let Some(h) = $crate::common::Harness::postgres().await else { return };
                    super::$pg(h).await;
                }
            )*
        }
    };
}
