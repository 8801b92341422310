//! Start-up check of the files that hold secrets.
//!
//! What holds a secret on disk: the SQLite database (with its `-wal` and
//! `-shm` companions) holds the VAPID private key, OwnTracks secrets, card
//! secret hashes, console password hashes and TOTP secrets; a
//! configuration file may hold the
//! integration senders' keys (`[integration.senders]`). PostgreSQL keeps
//! its own files (it refuses group or world access to its data directory
//! itself).
//!
//! Policy (docs/reliability.md, "Secrets"): the server refuses to start
//! when any of these files can be read or written by the group or by
//! others, and says which file and what to run. The directory is not
//! checked: with private files it reveals only their names (and temporary
//! directories are often 0755). Files amina creates are private already
//! (the SQLite store creates missing directories 0700 and the database
//! 0600).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::Config;

/// A secret-holding file or directory that others can reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposed {
    pub path: PathBuf,
    pub mode: u32,
    pub holds: &'static str,
}

impl std::fmt::Display for Exposed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (holds {}) has mode {:04o}: group or others can reach it; run `chmod 600 {}`",
            self.path.display(),
            self.holds,
            self.mode & 0o7777,
            self.path.display()
        )
    }
}

/// Group and other permission bits.
const GROUP_OTHER: u32 = 0o077;

fn exposed(path: &Path, holds: &'static str) -> Option<Exposed> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & GROUP_OTHER != 0).then(|| Exposed {
        path: path.to_path_buf(),
        mode,
        holds,
    })
}

/// Whether a configuration file sets `[integration.senders]` keys.
fn has_sender_keys(file: &Path) -> bool {
    use figment::providers::{Format, Toml};
    figment::Figment::from(Toml::file(file))
        .find_value("integration.senders")
        .ok()
        .and_then(|v| v.into_dict())
        .is_some_and(|d| !d.is_empty())
}

/// Every secret-holding file that others can reach (empty: all is well).
/// Files that do not exist yet are fine: amina creates them private.
pub fn exposed_secret_files(config: &Config, config_file: Option<&Path>) -> Vec<Exposed> {
    let mut found = Vec::new();
    if let Some(file) = config_file.filter(|f| has_sender_keys(f)) {
        found.extend(exposed(file, "integration sender keys"));
    }
    let url = config.database_url();
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        let db = PathBuf::from(url.strip_prefix("sqlite:").unwrap_or(&url));
        found.extend(exposed(&db, "keys and personal data"));
        for suffix in ["-wal", "-shm"] {
            let mut companion = db.clone().into_os_string();
            companion.push(suffix);
            found.extend(exposed(Path::new(&companion), "keys and personal data"));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn finds_each_exposed_secret_file_and_nothing_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        chmod(&data, 0o700);
        let db = data.join("amina.sqlite3");
        std::fs::write(&db, b"").unwrap();
        chmod(&db, 0o600);
        let toml = dir.path().join("amina.toml");
        std::fs::write(&toml, "[integration.senders]\nfms = \"a2V5\"\n").unwrap();
        chmod(&toml, 0o600);
        let config = Config {
            database: format!("sqlite:{}", db.display()),
            ..Config::default()
        };
        assert_eq!(exposed_secret_files(&config, Some(&toml)), vec![]);

        chmod(&db, 0o644);
        chmod(&toml, 0o640);
        let wal = data.join("amina.sqlite3-wal");
        std::fs::write(&wal, b"").unwrap();
        chmod(&wal, 0o604);
        let found = exposed_secret_files(&config, Some(&toml));
        let paths: Vec<_> = found.iter().map(|e| e.path.clone()).collect();
        assert_eq!(paths, vec![toml.clone(), db.clone(), wal.clone()]);
        assert_eq!(found[0].holds, "integration sender keys");
        let text = found[1].to_string();
        assert!(
            text.contains("0644") && text.contains("chmod 600"),
            "{text}"
        );

        // A world-readable config without keys is no secret.
        std::fs::write(&toml, "[rules]\nwindow_days = 5\n").unwrap();
        chmod(&toml, 0o644);
        chmod(&db, 0o600);
        chmod(&wal, 0o600);
        chmod(&data, 0o755);
        assert_eq!(exposed_secret_files(&config, Some(&toml)), vec![]);
    }
}
