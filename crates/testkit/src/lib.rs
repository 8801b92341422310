//! Test support for amina: a real PostgreSQL with PostGIS for every test that
//! wants one, or a loud explanation of why the test could not run.
//!
//! Production storage is PostgreSQL with PostGIS, and the storage suite must
//! run against the real thing: a mock would not catch a wrong SRID or a query
//! the planner rejects. Each test gets a database of its own
//! ([`fresh_pg_database`]), so tests never share state and can run in
//! parallel.
//!
//! ```no_run
//! # fn main() {
//! let Some(db) = amina_testkit::fresh_pg_database() else {
//!     return; // skipped, and the reason was printed
//! };
//! // db.url: "postgres://postgres@127.0.0.1:<port>/amina_test_<pid>_<n>_<random>"
//! # let _ = db;
//! # }
//! ```
//!
//! # Where the server comes from
//! 1. If [`PG_URL_VAR`] is set, the server it names (an admin URL, e.g.
//!    `postgres://postgres@127.0.0.1:5432/postgres`): databases are created
//!    and dropped there.
//! 2. Otherwise a throwaway cluster that this crate starts once per test
//!    process (`initdb` into a temporary directory, a free port on 127.0.0.1,
//!    `fsync=off`), shared by all the tests of that process. The machine's own
//!    cluster is never touched. Several test processes (test binaries,
//!    nextest) each start their own. Starting one takes about two seconds on
//!    a busy 2-core machine (`initdb` most of it, then the PostGIS template);
//!    after that each database takes 0.1 to 0.3 s, copied from the template.
//!
//! Statics are never dropped, so the cluster cannot be stopped by a
//! destructor. The server runs under a tiny `sh` watchdog that reads a pipe
//! whose only write end is held by the test process; when that process ends,
//! however it ends (even SIGKILL), the kernel closes the pipe, and the
//! watchdog stops the server and deletes its directory. As root (CI), the
//! server runs as the `postgres` OS user, since PostgreSQL refuses root. The
//! private `cluster` module has the details and the reasons.
//!
//! # Skips
//! When no server can be had (PostgreSQL or PostGIS not installed, start-up
//! failed), [`fresh_pg_database`] prints a banner saying so and returns
//! `None`, so a developer without PostgreSQL can still run the rest of the
//! suite. CI sets [`STRICT_VAR`] to `1`, which turns every such skip into a
//! panic: there, a test that did not run is a failure.

#![forbid(unsafe_code)]

mod cluster;
mod durable;
mod restartable;
mod skip;

pub use durable::DurableCluster;
pub use restartable::{pg_bindir, restartable_pg, RestartablePg};
pub use skip::skip_or_fail;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// When set to `1`, every skip is a panic instead (CI sets it). `true`, `yes`
/// and `on` count as `1`; unset, empty, `0`, `false`, `no` and `off` allow
/// skips; any other value is read as strict.
pub const STRICT_VAR: &str = "AMINA_TEST_STRICT";

/// Optional: the admin URL of an existing server to use instead of starting one.
/// Its user must be allowed to create databases, and PostGIS must be installed.
pub const PG_URL_VAR: &str = "AMINA_TEST_PG_URL";

/// What the skip banner says cannot run.
const WHAT: &str = "PostgreSQL tests";

/// The template database with PostGIS in the throwaway cluster. Copying it
/// (about 0.1 s) is several times faster than `CREATE EXTENSION postgis` in
/// every new database (about 0.4 s).
const TEMPLATE: &str = "amina_testkit_postgis";

/// A new, empty database with PostGIS, for one test.
///
/// Dropping it drops the database, disconnecting any connection still open to
/// it (best effort: a failure is reported on stderr, never as a panic, since
/// it may happen while a test is unwinding).
pub struct PgDatabase {
    /// Connection URL: `postgres://user@host:port/name`, plus whatever the
    /// admin URL carried (credentials, parameters) for an external server.
    pub url: String,
    name: String,
    admin_url: String,
}

impl PgDatabase {
    /// The database's name, `amina_test_<pid>_<counter>_<random>`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Debug for PgDatabase {
    // The admin URL is left out: for an external server it may hold a password.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PgDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (&self.admin_url, &self.name);
        if let Err(error) = on_plain_thread(|| drop_database(admin_url, name)) {
            cluster::warn(&format!("could not drop test database {name}: {error}"));
        }
    }
}

/// Returns a new, empty database with a unique name and `CREATE EXTENSION
/// postgis` already done, on the server described in the crate docs.
///
/// Returns `None` after printing a loud "SKIPPED: PostgreSQL tests ... because
/// ..." banner when that is impossible; panics with the reason instead when
/// [`STRICT_VAR`] is `1`. Safe to call from sync tests and from async tests
/// inside a Tokio runtime alike.
pub fn fresh_pg_database() -> Option<PgDatabase> {
    let created = on_plain_thread(|| {
        let server = SERVER
            .get_or_init(Server::open)
            .as_ref()
            .map_err(Clone::clone)?;
        server.create_database()
    });
    match created {
        Ok(database) => Some(database),
        Err(why) => {
            skip_or_fail(WHAT, &why);
            None
        }
    }
}

/// The server of this process, opened by the first test that asks. A failure
/// is remembered too: every later test reports the same reason without
/// retrying a start-up that takes seconds to fail.
static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// A server to create test databases on.
struct Server {
    /// Superuser (or CREATEDB) connection URL.
    admin_url: String,
    /// A template that already has PostGIS, when we own the cluster. On an
    /// external server each database gets `CREATE EXTENSION` instead, so as to
    /// leave nothing behind there but the test databases themselves.
    template: Option<&'static str>,
    /// Keeps the throwaway cluster's watchdog waiting while the process lives.
    #[cfg_attr(
        not(test),
        allow(dead_code, reason = "held for its lifeline, read only by tests")
    )]
    cluster: Option<cluster::Cluster>,
}

impl Server {
    /// Picks the server as described in the crate docs.
    fn open() -> Result<Server, String> {
        match std::env::var(PG_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Server::external(url),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("{PG_URL_VAR} is not valid UTF-8"))
            }
            _ => Server::own_cluster(),
        }
    }

    /// An existing server named by an admin URL.
    fn external(admin_url: String) -> Result<Server, String> {
        // The URL itself is not repeated in messages: it may hold a password.
        let mut admin = connect(&admin_url).map_err(|error| {
            format!(
                "the server named by {PG_URL_VAR} cannot be reached: {}",
                describe(&error)
            )
        })?;
        with_database(&admin_url, "probe")?;
        if !postgis_available(&mut admin)? {
            return Err(format!(
                "PostGIS is not installed on the server named by {PG_URL_VAR}"
            ));
        }
        Ok(Server {
            admin_url,
            template: None,
            cluster: None,
        })
    }

    /// A throwaway cluster of this process, with the PostGIS template made.
    fn own_cluster() -> Result<Server, String> {
        let cluster = cluster::start()?;
        let admin_url = cluster.admin_url();
        let mut admin = connect(&admin_url).map_err(|error| describe(&error))?;
        if !postgis_available(&mut admin)? {
            return Err(format!(
                "PostGIS is not installed (apt-get install postgresql-{}-postgis-3)",
                cluster.major
            ));
        }
        let sql = |error: postgres::Error| {
            format!("cannot prepare the PostGIS template: {}", describe(&error))
        };
        admin
            .batch_execute(&format!("CREATE DATABASE {TEMPLATE}"))
            .map_err(sql)?;
        connect(&with_database(&admin_url, TEMPLATE)?)
            .and_then(|mut template| template.batch_execute("CREATE EXTENSION postgis"))
            .map_err(sql)?;
        // No connections allowed: CREATE DATABASE refuses to copy a template
        // that anyone is connected to.
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {TEMPLATE} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
            ))
            .map_err(sql)?;
        Ok(Server {
            admin_url,
            template: Some(TEMPLATE),
            cluster: Some(cluster),
        })
    }

    /// Creates a uniquely named database with PostGIS.
    fn create_database(&self) -> Result<PgDatabase, String> {
        let name = unique_name();
        let url = with_database(&self.admin_url, &name)?;
        let failed =
            |error: postgres::Error| format!("cannot create a test database: {}", describe(&error));
        let mut admin = connect(&self.admin_url).map_err(failed)?;
        match self.template {
            Some(template) => admin
                .batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE {template}"))
                .map_err(failed)?,
            None => {
                admin
                    .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .map_err(failed)?;
                let extension = connect(&url).and_then(|mut client| {
                    client.batch_execute("CREATE EXTENSION IF NOT EXISTS postgis")
                });
                if let Err(error) = extension {
                    let _ = drop_database(&self.admin_url, &name);
                    return Err(failed(error));
                }
            }
        }
        Ok(PgDatabase {
            url,
            name,
            admin_url: self.admin_url.clone(),
        })
    }
}

/// Whether the server can `CREATE EXTENSION postgis`.
fn postgis_available(admin: &mut postgres::Client) -> Result<bool, String> {
    admin
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis')",
            &[],
        )
        .map(|row| row.get(0))
        .map_err(|error| describe(&error))
}

/// Drops a test database, disconnecting whoever is still connected to it (a
/// pool the test leaked must not make the drop fail). Needs PostgreSQL 13+.
fn drop_database(admin_url: &str, name: &str) -> Result<(), String> {
    connect(admin_url)
        .and_then(|mut admin| {
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        })
        .map_err(|error| describe(&error))
}

/// Connects with the sync client. Call only off any Tokio runtime.
fn connect(url: &str) -> Result<postgres::Client, postgres::Error> {
    let mut config: postgres::Config = url.parse()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    config.connect(postgres::NoTls)
}

/// The text of a client error. Its `Display` alone says only "db error", so the
/// server's message (with detail and hint) or the underlying cause is added.
fn describe(error: &postgres::Error) -> String {
    if let Some(db_error) = error.as_db_error() {
        return db_error.to_string();
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Runs `work` on a fresh std thread and returns its result.
///
/// The sync `postgres` client runs its own Tokio runtime and panics when called
/// from inside another one, which is where `#[tokio::test]` code (and `Drop`
/// in it) runs. A plain thread has no runtime, whoever calls.
fn on_plain_thread<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// `admin_url` with its database replaced by `database` (URL or
/// `key=value` form), for tools that create databases of their own.
pub fn url_with_database(admin_url: &str, database: &str) -> Result<String, String> {
    with_database(admin_url, database)
}

/// `admin_url` with its database replaced by `database`.
///
/// Handles both forms libpq accepts: URLs (`postgres://…/db?params`) and
/// `key=value` strings, where a later `dbname` overrides an earlier one.
fn with_database(admin_url: &str, database: &str) -> Result<String, String> {
    let trimmed = admin_url.trim();
    let Some(scheme_end) = ["postgres://", "postgresql://"]
        .iter()
        .find(|scheme| trimmed.starts_with(*scheme))
        .map(|scheme| scheme.len())
    else {
        if trimmed.contains('=') || trimmed.is_empty() {
            return Ok(format!("{trimmed} dbname={database}")
                .trim_start()
                .to_owned());
        }
        return Err(format!(
            "{PG_URL_VAR} is neither a postgres:// URL nor a key=value connection string"
        ));
    };
    let (before_query, query) = match trimmed.find('?') {
        Some(at) => trimmed.split_at(at),
        None => (trimmed, ""),
    };
    let authority_end = before_query[scheme_end..]
        .find('/')
        .map_or(before_query.len(), |at| scheme_end + at);
    Ok(format!(
        "{}/{database}{query}",
        &before_query[..authority_end]
    ))
}

/// `amina_test_<pid>_<counter>_<random>`: unique within the process by the
/// counter, across processes on one server by the pid, and across machines or
/// pid namespaces sharing an external server by the random part.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "amina_test_{}_{counter}_{:08x}",
        std::process::id(),
        random_u32()
    )
}

/// 32 random bits without a dependency: std seeds every `RandomState` with
/// fresh random keys; the clock is mixed in for good measure.
fn random_u32() -> u32 {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    hasher.write_u128(nanos);
    hasher.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_in_urls() {
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/x",
            ),
            (
                "postgresql://u:p@h/admin?sslmode=disable",
                "postgresql://u:p@h/x?sslmode=disable",
            ),
            ("postgres://u@h:1", "postgres://u@h:1/x"),
            (
                "postgres://u@h:1?application_name=a/b",
                "postgres://u@h:1/x?application_name=a/b",
            ),
            (
                "host=/tmp port=5433 dbname=postgres",
                "host=/tmp port=5433 dbname=postgres dbname=x",
            ),
        ];
        for (admin, expected) in cases {
            assert_eq!(
                with_database(admin, "x").as_deref(),
                Ok(expected),
                "{admin}"
            );
        }
        assert!(with_database("localhost:5432", "x").is_err());
    }

    #[test]
    fn key_value_strings_take_the_last_dbname() {
        let url = with_database("host=127.0.0.1 dbname=postgres", "amina_x").unwrap();
        let config: postgres::Config = url.parse().unwrap();
        assert_eq!(config.get_dbname(), Some("amina_x"));
    }

    #[test]
    fn names_are_unique_and_valid_identifiers() {
        let first = unique_name();
        let second = unique_name();
        assert_ne!(first, second);
        for name in [&first, &second] {
            assert!(name.starts_with(&format!("amina_test_{}_", std::process::id())));
            assert!(
                name.len() <= 63,
                "PostgreSQL truncates identifiers at 63 bytes"
            );
            assert!(name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        }
    }

    /// The external-server path, pointed at this process's own cluster.
    #[test]
    fn external_server_databases_get_postgis() {
        // Starts the own cluster (or skips/fails exactly as every test would).
        let Some(_first) = fresh_pg_database() else {
            return;
        };
        let admin_url =
            on_plain_thread(|| SERVER.get().unwrap().as_ref().unwrap().admin_url.clone());
        let version: String = on_plain_thread(|| {
            let server = Server::external(admin_url).unwrap();
            assert!(server.template.is_none());
            let database = server.create_database().unwrap();
            let mut client = connect(&database.url).unwrap();
            client
                .query_one("SELECT postgis_version()", &[])
                .unwrap()
                .get(0)
        });
        assert!(!version.is_empty());
    }

    #[test]
    fn unreachable_external_server_is_a_reason_not_a_panic() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = on_plain_thread(|| {
            Server::external(format!("postgres://u:secret@127.0.0.1:{port}/postgres")).err()
        })
        .expect("nothing listens there");
        assert!(error.contains(PG_URL_VAR), "{error}");
        assert!(!error.contains("secret"), "the password leaked: {error}");
    }

    /// Set in the child process of [`cluster_goes_away_when_its_process_is_killed`].
    const CHILD_VAR: &str = "AMINA_TESTKIT_WATCHDOG_CHILD";

    /// Not a test of its own: the body of the child process below. Starts the
    /// cluster, reports where it is and waits to be killed.
    #[test]
    #[ignore = "run by cluster_goes_away_when_its_process_is_killed"]
    fn watchdog_child() {
        if std::env::var_os(CHILD_VAR).is_none() {
            return;
        }
        let database = fresh_pg_database().expect("the parent checked that clusters start");
        let server = SERVER.get().unwrap().as_ref().unwrap();
        let cluster = server.cluster.as_ref().unwrap();
        let mut stdout = std::io::stdout().lock();
        use std::io::Write;
        writeln!(stdout, "CLUSTER {} {}", cluster.port, cluster.dir.display()).unwrap();
        stdout.flush().unwrap();
        std::thread::sleep(Duration::from_secs(120));
        drop(database);
    }

    /// SIGKILL is the hardest way to die: no unwinding, no exit handlers. The
    /// watchdog must still stop the server and delete its directory.
    #[test]
    fn cluster_goes_away_when_its_process_is_killed() {
        use std::io::BufRead;
        if fresh_pg_database().is_none() {
            return;
        }
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "tests::watchdog_child",
                "--include-ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_VAR, "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        // libtest prints "test tests::watchdog_child ... " before the test's
        // own output, on the same line.
        let report = stdout.lines().map_while(Result::ok).find_map(|line| {
            line.split_once("CLUSTER ")
                .map(|(_, report)| report.to_owned())
        });
        child.kill().unwrap();
        child.wait().unwrap();
        let report = report.expect("the child reports its cluster");
        let (port, dir) = report.split_once(' ').unwrap();
        let dir = std::path::PathBuf::from(dir);
        let admin_url = format!("postgres://postgres@127.0.0.1:{port}/postgres");

        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while dir.exists() || on_plain_thread(|| connect(&admin_url).is_ok()) {
            assert!(
                std::time::Instant::now() < deadline,
                "the cluster in {} outlived its process",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
