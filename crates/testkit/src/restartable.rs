//! A PostgreSQL cluster of its own for one test, which the test can stop and
//! start again (database restart tests), and the installation's client
//! programs (`pg_dump`, `pg_restore`) for backup tests.
//!
//! Unlike the shared cluster (see the `cluster` module), this one is owned by
//! the test: dropping it stops the server (immediate shutdown) and deletes
//! its directory. It is run by `pg_ctl`, which is what stopping and starting
//! on the same data directory and port needs; `pg_ctl` puts the server in a
//! session of its own, so a test process killed with SIGKILL leaves it
//! running. The next cluster start on the machine reaps it, like any
//! leftover (`cluster::reap_stale_clusters`: the directory's `owner` file
//! names the dead test process).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::cluster::{self, Install, RunAs};

/// A cluster with one database (`amina`, PostGIS created) that can be
/// stopped and started on the same data directory and port.
pub struct RestartablePg {
    /// `postgres://postgres@127.0.0.1:<port>/amina`.
    pub url: String,
    /// The port on 127.0.0.1, the same across restarts.
    pub port: u16,
    dir: PathBuf,
    install: Install,
    run_as: Option<RunAs>,
}

impl std::fmt::Debug for RestartablePg {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RestartablePg")
            .field("url", &self.url)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// A new cluster of the test's own with a database `amina` that has
/// PostGIS, or `None` after a loud skip (a panic under `AMINA_TEST_STRICT`).
/// Needs a local installation: an external server (`AMINA_TEST_PG_URL`)
/// cannot be stopped by a test.
pub fn restartable_pg() -> Option<RestartablePg> {
    match crate::on_plain_thread(RestartablePg::create) {
        Ok(pg) => Some(pg),
        Err(why) => {
            crate::skip_or_fail("PostgreSQL restart tests", &why);
            None
        }
    }
}

/// The directory of the PostgreSQL installation the test clusters use
/// (with `pg_dump`, `pg_restore`, `pg_ctl`), or `None` after a loud skip.
pub fn pg_bindir() -> Option<PathBuf> {
    match cluster::find_install() {
        Ok(install) if install.bindir.join("pg_dump").is_file() => Some(install.bindir),
        Ok(install) => {
            crate::skip_or_fail(
                "PostgreSQL client program tests",
                &format!("there is no pg_dump in {}", install.bindir.display()),
            );
            None
        }
        Err(why) => {
            crate::skip_or_fail("PostgreSQL client program tests", &why);
            None
        }
    }
}

impl RestartablePg {
    fn create() -> Result<RestartablePg, String> {
        let install = cluster::find_install()?;
        if !install.bindir.join("pg_ctl").is_file() {
            return Err(format!(
                "there is no pg_ctl in {}",
                install.bindir.display()
            ));
        }
        let run_as = cluster::run_as()?;
        let base = std::env::temp_dir();
        cluster::reap_stale_clusters(&base);
        let dir = cluster::make_dir(&base, run_as.as_ref())?;
        let port = cluster::free_port()?;
        let pg = RestartablePg {
            url: format!("postgres://postgres@127.0.0.1:{port}/amina"),
            port,
            dir,
            install,
            run_as,
        };
        // From here on, Drop cleans up whatever was made.
        cluster::initdb(&pg.install, pg.run_as.as_ref(), &pg.dir)?;
        // `synchronous_commit = off` as on the shared cluster, and on purpose
        // here: the application must ask for durable commits itself, and a
        // crash of this server would show lost acknowledgements if it did
        // not. `fsync = off` loses nothing when only processes die.
        let settings = format!(
            "\n# amina-testkit\nlisten_addresses = '127.0.0.1'\nport = {port}\n\
             unix_socket_directories = '{}'\nfsync = off\nsynchronous_commit = off\n\
             full_page_writes = off\nshared_buffers = 32MB\nmax_connections = 100\n\
             TimeZone = 'UTC'\n",
            pg.dir.display()
        );
        fs::OpenOptions::new()
            .append(true)
            .open(pg.data().join("postgresql.conf"))
            .and_then(|mut conf| conf.write_all(settings.as_bytes()))
            .map_err(|error| format!("cannot configure the cluster: {error}"))?;
        pg.start()?;
        let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        crate::connect(&admin)
            .and_then(|mut admin| admin.batch_execute("CREATE DATABASE amina"))
            .and_then(|()| crate::connect(&pg.url))
            .and_then(|mut db| db.batch_execute("CREATE EXTENSION postgis"))
            .map_err(|error| format!("cannot create the database: {}", crate::describe(&error)))?;
        Ok(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The installation's programs (`pg_dump`, `pg_restore`, …).
    pub fn bindir(&self) -> &Path {
        &self.install.bindir
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let output = cluster::command(
            &self.install.bindir.join("pg_ctl"),
            self.run_as.as_ref(),
            &self.dir,
        )
        .arg("-D")
        .arg(self.data())
        .args(args)
        .output()
        .map_err(|error| format!("cannot run pg_ctl: {error}"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(format!(
            "pg_ctl {args:?} failed ({}): {}{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            cluster::log_tail(&self.dir)
        ))
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) -> Result<(), String> {
        let log = self.dir.join("postgres.log");
        let log = log.to_str().ok_or("the log path is not UTF-8")?;
        self.pg_ctl(&["-l", log, "-w", "-t", "60", "start"])
    }

    /// Stops the server with a fast shutdown (open sessions are ended, as
    /// when an operator restarts the service) and waits until it is down.
    pub fn stop(&self) -> Result<(), String> {
        self.pg_ctl(&["-m", "fast", "-w", "-t", "60", "stop"])
    }

    /// Stops the server with an immediate shutdown, as if it crashed: no
    /// checkpoint, and the next start recovers from the WAL.
    pub fn crash(&self) -> Result<(), String> {
        self.pg_ctl(&["-m", "immediate", "-w", "-t", "60", "stop"])
    }
}

impl Drop for RestartablePg {
    fn drop(&mut self) {
        if self.data().join("postmaster.pid").exists() {
            if let Err(error) = self.pg_ctl(&["-m", "immediate", "-w", "stop"]) {
                cluster::warn(&format!("could not stop a restartable cluster: {error}"));
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
