//! `amina backup` and `amina restore` (docs/reliability.md, "Backup and
//! restore").
//!
//! - SQLite: `VACUUM INTO` writes a consistent copy of the live database
//!   (one read transaction; the server may keep writing meanwhile) into a
//!   new file, compacted, with mode 0600. Restoring checks the copy
//!   (`PRAGMA integrity_check`) and puts it in place of a database that must
//!   not exist yet.
//! - PostgreSQL: `pg_dump --format=custom` and `pg_restore` of the
//!   installation given by `--pg-bin` (or on `PATH`); the dump is a
//!   consistent snapshot too. The target database must exist (with PostGIS
//!   available) and hold no amina schema yet.
//!
//! Both refuse to overwrite anything.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn sqlite_path(url: &str) -> &Path {
    Path::new(url.strip_prefix("sqlite:").unwrap_or(url))
}

fn program(pg_bin: Option<&Path>, name: &str) -> PathBuf {
    match pg_bin {
        Some(dir) => dir.join(name),
        None => PathBuf::from(name),
    }
}

fn run(mut command: Command, what: &str) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {what} (is it installed? see --pg-bin)"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Reserve `path` for a new file readable by the owner only; fails if it
/// exists.
fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist)", path.display()))
}

/// Write a backup of the database `url` to the new file `to`.
pub fn backup(url: &str, to: &Path, pg_bin: Option<&Path>) -> anyhow::Result<()> {
    if is_postgres(url) {
        drop(create_private(to)?);
        let mut command = Command::new(program(pg_bin, "pg_dump"));
        command
            .arg("--format=custom")
            .arg("--file")
            .arg(to)
            .arg("--dbname")
            .arg(url);
        if let Err(e) = run(command, "pg_dump") {
            let _ = std::fs::remove_file(to);
            return Err(e);
        }
        return Ok(());
    }
    let source = sqlite_path(url);
    anyhow::ensure!(source.exists(), "{} does not exist", source.display());
    // VACUUM INTO accepts an empty file: create it first, private, so the
    // copy is never readable by others, not even for a moment.
    let target = to
        .to_str()
        .context("the backup path must be valid UTF-8 for SQLite")?;
    drop(create_private(to)?);
    let conn =
        rusqlite::Connection::open_with_flags(source, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    if let Err(e) = conn.execute("VACUUM INTO ?1", [target]) {
        let _ = std::fs::remove_file(to);
        return Err(e).with_context(|| format!("writing {}", to.display()));
    }
    Ok(())
}

/// Restore the backup `from` into the database `url`, which must be new.
pub async fn restore(url: &str, from: &Path, pg_bin: Option<&Path>) -> anyhow::Result<()> {
    anyhow::ensure!(from.is_file(), "{} is not a file", from.display());
    if is_postgres(url) {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .context("connecting to the target database")?;
        tokio::spawn(connection);
        let existing: Option<String> = client
            .query_one("SELECT to_regclass('public.persons')::text", &[])
            .await?
            .get(0);
        anyhow::ensure!(
            existing.is_none(),
            "the target database already holds an amina schema; restore into a new, empty database"
        );
        drop(client);
        let mut command = Command::new(program(pg_bin, "pg_restore"));
        command
            .args(["--exit-on-error", "--single-transaction", "--no-owner"])
            .arg("--dbname")
            .arg(url)
            .arg(from);
        return run(command, "pg_restore");
    }
    let target = sqlite_path(url);
    anyhow::ensure!(
        !target.exists(),
        "{} exists; restore into a new place",
        target.display()
    );
    let check =
        rusqlite::Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let verdict: String = check.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    anyhow::ensure!(verdict == "ok", "{} is damaged: {verdict}", from.display());
    drop(check);
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // Copy under a temporary name, then rename: a restore cut short never
    // leaves a half-written database where the server would open it.
    let partial = target.with_extension("restoring");
    let mut out = create_private(&partial)?;
    let copied = std::fs::File::open(from)
        .and_then(|mut input| std::io::copy(&mut input, &mut out))
        .and_then(|_| out.sync_all());
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e).context("copying the backup");
    }
    std::fs::rename(&partial, target)?;
    Ok(())
}
