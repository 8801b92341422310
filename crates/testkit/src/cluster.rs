//! A throwaway PostgreSQL cluster, one per test process.
//!
//! # Start
//! The server binaries are looked up on `PATH` and in Debian's
//! `/usr/lib/postgresql/*/bin`; the highest version wins. `initdb` creates a
//! cluster in a fresh temporary directory (`$TMPDIR/amina-testkit-<pid>-<random>`),
//! with trust authentication, superuser `postgres`, UTF-8 and the C locale.
//! The server listens on 127.0.0.1 at a port the kernel just handed out (bind
//! to port 0, release) and on a unix socket inside the temporary directory, so
//! it can neither collide with nor be reached through the system's cluster.
//! Durability is traded for speed (`fsync=off`, no full-page writes, minimal
//! WAL): a crash loses a cluster nobody wants back.
//!
//! PostgreSQL refuses to run as root. When the tests run as root (CI, the
//! development machines), the directory is handed to the `postgres` OS user
//! (or `nobody`) and every server program is started with that uid and gid set
//! by `std` between fork and exec, which also drops root's supplementary
//! groups. That is what `runuser` would do, minus PAM and minus a new session,
//! which would take the server out of the test's process group.
//!
//! # Stop
//! Rust never runs destructors of statics, so "stop it on drop" cannot work
//! for a cluster shared by a whole test process. Instead the server is started
//! under a small `sh` watchdog whose standard input is a pipe whose only write
//! end lives in the test process. The watchdog blocks reading that pipe; the
//! kernel closes the write end when the test process ends, however it ends
//! (normal exit, panic, `std::process::exit`, SIGKILL), and the read returns
//! end-of-file. The watchdog then asks the server for a fast shutdown, waits
//! for it and deletes the temporary directory. Polling the parent's pid would
//! need a signal permission the `postgres` user lacks towards a root process,
//! and could be fooled by pid reuse; the pipe needs neither.
//!
//! The server is started directly rather than with `pg_ctl start`, because
//! `pg_ctl` puts it in a session of its own: then a signal to the whole
//! process group (Ctrl-C, a test runner's timeout) would kill the watchdog and
//! leave the server running with nobody to stop it. Started directly, the
//! server gets the same group signals as the tests: SIGINT and SIGTERM shut it
//! down, and SIGKILL kills it with them. The watchdog ignores those signals so
//! that it survives to clean up. Readiness is checked the way a client sees
//! it: by connecting.
//!
//! Only a SIGKILL of the whole group leaves the directory behind; the next
//! cluster start on the machine removes such leftovers (see
//! [`reap_stale_clusters`]).

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// Prefix of every cluster directory; [`reap_stale_clusters`] relies on it.
const DIR_PREFIX: &str = "amina-testkit-";

/// How long a cluster may take to accept connections. Normally well under a
/// second; generous because a loaded CI machine can be slow.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The watchdog, run as `sh -c WATCHDOG watchdog DIR POSTGRES-ARGS...`.
///
/// - The server runs in a background subshell that records its exit in
///   `DIR/exited`, so the test process can tell "failed to start" from "still
///   starting" without being the server's parent.
/// - `cat` returns only when the test process is gone (see the module docs).
/// - The postmaster's pid is only known once it has written `postmaster.pid`
///   (it blocks signals until its handlers are installed, which happens before
///   that file is written), so the watchdog waits for that file or for the
///   exit marker before signalling it; or for the directory to vanish (someone
///   cleaned it up already), lest it wait forever.
const WATCHDOG: &str = r#"
trap '' HUP INT QUIT TERM
dir=${1:?}
shift
(
  "$@" </dev/null >>"$dir/postgres.log" 2>&1
  echo "$?" >"$dir/exited"
) &
cat >/dev/null
until [ ! -d "$dir" ] || [ -e "$dir/exited" ] || [ -s "$dir/data/postmaster.pid" ]; do
  sleep 0.1
done
if [ ! -e "$dir/exited" ] && read -r pid <"$dir/data/postmaster.pid"; then
  kill -INT "$pid" 2>/dev/null
fi
wait
rm -rf "$dir"
"#;

/// A running cluster. Dropping it (which only happens on a failed start, since
/// the shared one lives in a static) stops the server and removes its files.
pub(crate) struct Cluster {
    /// TCP port on 127.0.0.1.
    pub(crate) port: u16,
    /// The temporary directory holding `data/`, the socket and the log.
    pub(crate) dir: PathBuf,
    /// Major version of the server, for install hints.
    pub(crate) major: u32,
    /// The directory of the server's programs (`pgbench` is there too).
    pub(crate) bindir: PathBuf,
    /// The write end of the watchdog's stdin. Never written to: it exists so
    /// that the kernel closes it when this process ends.
    _lifeline: ChildStdin,
}

impl Cluster {
    /// URL of the superuser's connection to the `postgres` database.
    pub(crate) fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

/// A PostgreSQL installation: a directory with `initdb` and `postgres`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Install {
    pub(crate) bindir: PathBuf,
    pub(crate) version: (u32, u32),
}

/// The OS user the server runs as when this process is root.
#[derive(Debug, Clone)]
pub(crate) struct RunAs {
    uid: u32,
    gid: u32,
}

/// Starts a new cluster, or says why it cannot.
pub(crate) fn start() -> Result<Cluster, String> {
    start_with(&[])
}

/// Starts a new cluster whose server gets `overrides` (`name=value`) after
/// the throwaway settings of [`launch`]; a later `-c` wins, so these can
/// turn durability back on.
pub(crate) fn start_with(overrides: &[String]) -> Result<Cluster, String> {
    let install = find_install()?;
    let run_as = run_as()?;
    let base = std::env::temp_dir();
    reap_stale_clusters(&base);

    // A port picked by binding to port 0 can be taken by someone else before
    // the server binds it; that is rare enough to just try again.
    let mut last_error = String::new();
    for _ in 0..3 {
        let dir = make_dir(&base, run_as.as_ref())?;
        if let Err(error) = initdb(&install, run_as.as_ref(), &dir) {
            let _ = fs::remove_dir_all(&dir);
            return Err(error);
        }
        match launch(&install, run_as.as_ref(), dir, overrides) {
            Ok(cluster) => return Ok(cluster),
            Err(Launch::PortTaken(error)) => last_error = error,
            Err(Launch::Failed(error)) => return Err(error),
        }
    }
    Err(last_error)
}

/// Finds the highest PostgreSQL version that has both `initdb` and `postgres`,
/// on `PATH` or where Debian (and a source build) put them.
pub(crate) fn find_install() -> Result<Install, String> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        dirs.extend(entries.flatten().map(|entry| entry.path().join("bin")));
    }
    dirs.push(PathBuf::from("/usr/local/pgsql/bin"));
    find_install_in(dirs)
}

/// [`find_install`] over the given candidate directories.
fn find_install_in(dirs: Vec<PathBuf>) -> Result<Install, String> {
    let mut found: Vec<Install> = Vec::new();
    for dir in dirs {
        if !dir.join("initdb").is_file() || !dir.join("postgres").is_file() {
            continue;
        }
        // /usr/local/bin/initdb may be a symlink into /usr/lib/postgresql/15/bin:
        // use the real directory, so `initdb` and `postgres` come from one place.
        let Ok(real) = fs::canonicalize(dir.join("postgres")) else {
            continue;
        };
        let Some(bindir) = real.parent().map(Path::to_path_buf) else {
            continue;
        };
        if found.iter().any(|install| install.bindir == bindir) || !bindir.join("initdb").is_file()
        {
            continue;
        }
        let output = Command::new(bindir.join("postgres"))
            .arg("--version")
            .output();
        let version = output
            .ok()
            .and_then(|output| parse_version(&String::from_utf8_lossy(&output.stdout)));
        if let Some(version) = version {
            found.push(Install { bindir, version });
        }
    }
    found
        .into_iter()
        .max_by_key(|install| install.version)
        .ok_or_else(|| {
            format!(
                "no PostgreSQL server was found (initdb and postgres, on PATH or in \
                 /usr/lib/postgresql/*/bin; apt-get install postgresql-15 \
                 postgresql-15-postgis-3), and {} is not set",
                crate::PG_URL_VAR
            )
        })
}

/// Parses `postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)` into (15, 20).
/// Development versions (`17beta1`, `18devel`) count as minor 0.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let number = text
        .split("(PostgreSQL)")
        .nth(1)?
        .split_whitespace()
        .next()?;
    let mut parts = number.split('.');
    let leading_digits = |part: &str| -> Option<u32> {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let major = leading_digits(parts.next()?)?;
    let minor = parts.next().and_then(leading_digits).unwrap_or(0);
    Some((major, minor))
}

/// The effective uid of this process, from `/proc` (no `unsafe` needed).
fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// `None` when the server can run as this process's user; otherwise the
/// unprivileged user to run it as.
pub(crate) fn run_as() -> Result<Option<RunAs>, String> {
    if effective_uid() != Some(0) {
        return Ok(None);
    }
    let id = |flag: &str, user: &str| -> Option<u32> {
        let output = Command::new("id").args([flag, user]).output().ok()?;
        if !output.status.success() {
            return None;
        }
        String::from_utf8_lossy(&output.stdout).trim().parse().ok()
    };
    for user in ["postgres", "nobody"] {
        if let (Some(uid), Some(gid)) = (id("-u", user), id("-g", user)) {
            return Ok(Some(RunAs { uid, gid }));
        }
    }
    Err(
        "the tests run as root, which PostgreSQL refuses, and there is neither a \
         `postgres` nor a `nobody` OS user to run the server as"
            .to_owned(),
    )
}

/// A command that runs as `run_as` (when set) in `dir`.
pub(crate) fn command(program: &Path, run_as: Option<&RunAs>, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command.current_dir(dir).env("HOME", dir);
    if let Some(run_as) = run_as {
        command.uid(run_as.uid).gid(run_as.gid);
    }
    command
}

/// A start time of process `pid` that, with the pid, identifies it uniquely
/// (pids are reused, start times are not).
fn process_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 (starttime); the fields after the command name start at field 3,
    // and the name, in parentheses, may itself contain spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// The pid namespace of this process: pids in an `owner` file written in
/// another namespace (a container sharing /tmp) mean nothing here.
fn pid_namespace() -> String {
    fs::read_link("/proc/self/ns/pid")
        .map(|link| link.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Creates the cluster's temporary directory, records who owns it and hands
/// it to the server's user.
pub(crate) fn make_dir(base: &Path, run_as: Option<&RunAs>) -> Result<PathBuf, String> {
    let pid = std::process::id();
    let mut attempt = 0;
    let dir = loop {
        let dir = base.join(format!("{DIR_PREFIX}{pid}-{:08x}", crate::random_u32()));
        match fs::create_dir(&dir) {
            Ok(()) => break dir,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && attempt < 10 => {
                attempt += 1;
            }
            Err(error) => {
                return Err(format!(
                    "cannot create a directory in {}: {error}",
                    base.display()
                ));
            }
        }
    };
    let describe = |error: std::io::Error| format!("cannot prepare {}: {error}", dir.display());
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(describe)?;
    let owner = format!(
        "{pid} {} {}\n",
        process_start_time(pid).unwrap_or(0),
        pid_namespace()
    );
    fs::write(dir.join("owner"), owner).map_err(describe)?;
    if let Some(run_as) = run_as {
        std::os::unix::fs::chown(&dir, Some(run_as.uid), Some(run_as.gid)).map_err(describe)?;
    }
    Ok(dir)
}

/// Runs `initdb` into `dir/data`.
pub(crate) fn initdb(install: &Install, run_as: Option<&RunAs>, dir: &Path) -> Result<(), String> {
    let output = command(&install.bindir.join("initdb"), run_as, dir)
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
        // The cluster is thrown away after the tests: no need to sync its files.
        .arg("--no-sync")
        .output()
        .map_err(|error| format!("cannot run {}/initdb: {error}", install.bindir.display()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "initdb failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// Why [`launch`] failed.
enum Launch {
    /// The port was taken between picking and binding it: worth another try.
    PortTaken(String),
    /// Anything else.
    Failed(String),
}

/// A port that was free a moment ago.
pub(crate) fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("cannot find a free port on 127.0.0.1: {error}"))
}

/// Starts the server in `dir` under the watchdog and waits until it accepts
/// connections. On failure the watchdog is released, which removes `dir`.
fn launch(
    install: &Install,
    run_as: Option<&RunAs>,
    dir: PathBuf,
    overrides: &[String],
) -> Result<Cluster, Launch> {
    let port = free_port().map_err(Launch::Failed)?;
    let settings = [
        "listen_addresses=127.0.0.1".to_owned(),
        format!("port={port}"),
        format!("unix_socket_directories={}", dir.display()),
        // Throwaway data: durability buys nothing, and start-up and every
        // CREATE DATABASE get faster without it.
        "fsync=off".to_owned(),
        "synchronous_commit=off".to_owned(),
        "full_page_writes=off".to_owned(),
        "wal_level=minimal".to_owned(),
        "max_wal_senders=0".to_owned(),
        "shared_buffers=32MB".to_owned(),
        // Tests of one process run in parallel, each perhaps with a pool.
        "max_connections=200".to_owned(),
        "TimeZone=UTC".to_owned(),
    ];
    let mut watchdog = command(Path::new("/bin/sh"), run_as, &dir);
    watchdog
        .arg("-c")
        .arg(WATCHDOG)
        .arg("amina-testkit-watchdog")
        .arg(&dir)
        .arg(install.bindir.join("postgres"))
        .arg("-D")
        .arg(dir.join("data"));
    for setting in settings.iter().chain(overrides) {
        watchdog.arg("-c").arg(setting);
    }
    // std creates the pipe with O_CLOEXEC on our side, so processes that the
    // tests spawn later do not inherit the write end and delay the EOF.
    let mut child = watchdog
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| {
            Launch::Failed(format!(
                "cannot start the server's watchdog (/bin/sh): {error}"
            ))
        })?;
    let lifeline = child.stdin.take().expect("stdin was configured as a pipe");
    let cluster = Cluster {
        port,
        dir,
        major: install.version.0,
        bindir: install.bindir.clone(),
        _lifeline: lifeline,
    };

    let started = Instant::now();
    let outcome = loop {
        match crate::connect(&cluster.admin_url()) {
            Ok(_) => break Ok(()),
            Err(error) => {
                if cluster.dir.join("exited").exists() {
                    let log = log_tail(&cluster.dir);
                    let message = format!(
                        "the PostgreSQL server ({}/postgres) exited during start-up; its log:\n{log}",
                        install.bindir.display()
                    );
                    break Err(if log.contains("Address already in use") {
                        Launch::PortTaken(message)
                    } else {
                        Launch::Failed(message)
                    });
                }
                if started.elapsed() > READY_TIMEOUT {
                    break Err(Launch::Failed(format!(
                        "the PostgreSQL server did not accept connections within {READY_TIMEOUT:?} \
                         (last error: {}); its log:\n{}",
                        crate::describe(&error),
                        log_tail(&cluster.dir)
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    match outcome {
        Ok(()) => Ok(cluster),
        Err(error) => {
            // Closing the lifeline makes the watchdog stop the server and
            // remove the directory; wait so no half-dead cluster lingers.
            drop(cluster);
            let _ = child.wait();
            Err(error)
        }
    }
}

/// The last lines of the server's log, for error messages.
pub(crate) fn log_tail(dir: &Path) -> String {
    let log = fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Removes cluster directories left by test processes that are gone.
///
/// Such leftovers only arise when the watchdog itself was killed (SIGKILL to a
/// whole process group, a container stopped). A directory is stale when its
/// `owner` file names a process of this pid namespace that no longer exists
/// (same pid, same start time), or, lacking that file, when it is more than an
/// hour old. A server still running there is killed first, but only if its
/// command line names that directory, so an unrelated process that reused the
/// pid is left alone. Errors are ignored: this is housekeeping, and a
/// directory of another user is not ours to remove.
pub(crate) fn reap_stale_clusters(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    let namespace = pid_namespace();
    for entry in entries.flatten() {
        let dir = entry.path();
        let is_ours = entry.file_name().to_string_lossy().starts_with(DIR_PREFIX)
            && entry.file_type().is_ok_and(|kind| kind.is_dir());
        if !is_ours {
            continue;
        }
        let stale = match fs::read_to_string(dir.join("owner")) {
            Ok(owner) => {
                let mut fields = owner.split_whitespace();
                let pid = fields.next().and_then(|pid| pid.parse::<u32>().ok());
                let start = fields.next().and_then(|start| start.parse::<u64>().ok());
                let same_namespace = fields.next().unwrap_or_default() == namespace;
                match (pid, start) {
                    (Some(pid), Some(start)) => {
                        same_namespace && process_start_time(pid) != Some(start)
                    }
                    _ => false,
                }
            }
            Err(_) => entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .ok()
                .and_then(|modified| SystemTime::now().duration_since(modified).ok())
                .is_some_and(|age| age > Duration::from_secs(3600)),
        };
        if stale {
            stop_orphaned_server(&dir);
            let _ = fs::remove_dir_all(&dir);
        }
    }
}

/// Kills the postmaster of `dir`, if one is still running there.
fn stop_orphaned_server(dir: &Path) {
    let Ok(pidfile) = fs::read_to_string(dir.join("data").join("postmaster.pid")) else {
        return;
    };
    let Some(pid) = pidfile
        .lines()
        .next()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
    else {
        return;
    };
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let needle = dir.join("data");
    let names_dir = cmdline
        .split(|byte| *byte == 0)
        .any(|arg| arg == needle.as_os_str().as_encoded_bytes());
    if names_dir {
        // SIGQUIT: immediate shutdown; its files are about to be deleted anyway.
        let _ = Command::new("kill")
            .args(["-QUIT", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// Writes `text` to the real stderr (not captured by libtest).
pub(crate) fn warn(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "amina-testkit: {text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_versions() {
        assert_eq!(
            parse_version("postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n"),
            Some((15, 20))
        );
        assert_eq!(parse_version("postgres (PostgreSQL) 9.6.24"), Some((9, 6)));
        assert_eq!(
            parse_version("postgres (PostgreSQL) 17beta1"),
            Some((17, 0))
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 18devel"),
            Some((18, 0))
        );
        assert_eq!(parse_version("something else"), None);
    }

    /// A fake installation whose `postgres --version` prints `version`.
    fn fake_install(base: &Path, name: &str, version: &str) -> PathBuf {
        let bindir = base.join(name).join("bin");
        fs::create_dir_all(&bindir).unwrap();
        let postgres = bindir.join("postgres");
        fs::write(
            &postgres,
            format!("#!/bin/sh\necho 'postgres (PostgreSQL) {version}'\n"),
        )
        .unwrap();
        fs::set_permissions(&postgres, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(bindir.join("initdb"), "").unwrap();
        fs::canonicalize(bindir).unwrap()
    }

    #[test]
    fn picks_the_highest_version() {
        let base =
            std::env::temp_dir().join(format!("amina-testkit.find-test-{}", crate::random_u32()));
        let old = fake_install(&base, "9.6", "9.6.24");
        let new = fake_install(&base, "16", "16.4 (Debian 16.4-1)");
        let newer_minor = fake_install(&base, "16b", "16.10");
        let no_initdb = fake_install(&base, "99", "99.0");
        fs::remove_file(no_initdb.join("initdb")).unwrap();

        let found =
            find_install_in(vec![old.clone(), new, no_initdb, base.join("missing")]).unwrap();
        assert_eq!(found.version, (16, 4));
        let found = find_install_in(vec![newer_minor.clone(), old]).unwrap();
        assert_eq!(found.bindir, newer_minor);
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn no_installation_is_a_reason_with_a_remedy() {
        let error = find_install_in(vec![PathBuf::from("/nonexistent")]).unwrap_err();
        assert!(error.contains("apt-get install"), "{error}");
        assert!(error.contains(crate::PG_URL_VAR), "{error}");
    }

    #[test]
    fn reads_this_process_start_time() {
        let start = process_start_time(std::process::id());
        assert!(start.is_some_and(|start| start > 0));
        // A pid that cannot exist (pid_max is at most 2^22).
        assert_eq!(process_start_time(u32::MAX), None);
    }

    #[test]
    fn reaps_only_directories_of_dead_owners() {
        let base =
            std::env::temp_dir().join(format!("amina-testkit.reaper-test-{}", crate::random_u32()));
        fs::create_dir_all(&base).unwrap();
        let namespace = pid_namespace();
        let me = std::process::id();
        let alive = base.join(format!("{DIR_PREFIX}alive"));
        let dead = base.join(format!("{DIR_PREFIX}dead"));
        let fresh_unowned = base.join(format!("{DIR_PREFIX}unowned"));
        let other_namespace = base.join(format!("{DIR_PREFIX}elsewhere"));
        let not_ours = base.join("something-else");
        for dir in [&alive, &dead, &fresh_unowned, &other_namespace, &not_ours] {
            fs::create_dir(dir).unwrap();
        }
        let start = process_start_time(me).unwrap();
        fs::write(alive.join("owner"), format!("{me} {start} {namespace}")).unwrap();
        // Same pid, different start time: the pid was reused, the owner is gone.
        fs::write(
            dead.join("owner"),
            format!("{me} {} {namespace}", start + 1),
        )
        .unwrap();
        fs::write(
            other_namespace.join("owner"),
            format!("{me} {} pid:[1]", start + 1),
        )
        .unwrap();
        fs::write(
            not_ours.join("owner"),
            format!("{me} {} {namespace}", start + 1),
        )
        .unwrap();

        reap_stale_clusters(&base);

        assert!(alive.exists());
        assert!(!dead.exists());
        assert!(
            fresh_unowned.exists(),
            "may be in the middle of being created"
        );
        assert!(other_namespace.exists());
        assert!(not_ours.exists());
        fs::remove_dir_all(&base).unwrap();
    }
}
