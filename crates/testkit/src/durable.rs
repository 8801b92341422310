//! A throwaway cluster that keeps its promises: for benchmarks of durable
//! writes, where the test clusters' `fsync=off` would measure nothing real.
//!
//! Same start, watchdog and clean-up as the test cluster (see the `cluster`
//! module), with durability turned back on: `fsync=on`,
//! `synchronous_commit=on`, `full_page_writes=on`. A commit returns only
//! after its WAL is flushed to disk. `wal_level` stays `minimal`, which
//! changes what can be replicated, not what survives a crash. Shared buffers
//! and the WAL size are raised so that a benchmark of a few seconds measures
//! commits, not checkpoints.

use std::path::{Path, PathBuf};

use crate::cluster;

/// The settings that differ from the test cluster's.
const DURABLE: &[&str] = &[
    "fsync=on",
    "synchronous_commit=on",
    "full_page_writes=on",
    "shared_buffers=512MB",
    "max_wal_size=8GB",
    "checkpoint_timeout=30min",
    "max_connections=300",
];

/// A running durable cluster on 127.0.0.1; it is stopped and its files are
/// removed when this process ends (however it ends), or when this is dropped.
pub struct DurableCluster {
    inner: cluster::Cluster,
}

impl DurableCluster {
    /// Starts one: `initdb` into a temporary directory, the server on a free
    /// port, superuser `postgres` with trust authentication. `extra` settings
    /// (`name=value`) come last and win. Takes a few seconds.
    pub fn start(extra: &[&str]) -> Result<Self, String> {
        let settings: Vec<String> = DURABLE
            .iter()
            .chain(extra)
            .map(|s| (*s).to_owned())
            .collect();
        Ok(DurableCluster {
            inner: cluster::start_with(&settings)?,
        })
    }

    /// URL of the superuser's connection to the `postgres` database.
    pub fn admin_url(&self) -> String {
        self.inner.admin_url()
    }

    /// Directory of the server's programs (`psql`, `pgbench`, …).
    pub fn bindir(&self) -> &Path {
        &self.inner.bindir
    }

    /// The cluster's temporary directory (data, socket, log).
    pub fn dir(&self) -> PathBuf {
        self.inner.dir.clone()
    }
}

impl std::fmt::Debug for DurableCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableCluster")
            .field("port", &self.inner.port)
            .field("dir", &self.inner.dir)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durable_cluster_flushes_its_commits() {
        let cluster = match DurableCluster::start(&["commit_delay=7"]) {
            Ok(cluster) => cluster,
            Err(why) => {
                crate::skip_or_fail("the durable benchmark cluster", &why);
                return;
            }
        };
        assert!(cluster.bindir().join("postgres").is_file());
        let mut client = crate::connect(&cluster.admin_url()).unwrap();
        for (name, value) in [
            ("fsync", "on"),
            ("synchronous_commit", "on"),
            ("full_page_writes", "on"),
            // Extra settings come last and win.
            ("commit_delay", "7"),
        ] {
            let got: String = client
                .query_one(&format!("SHOW {name}"), &[])
                .unwrap()
                .get(0);
            assert_eq!(got, value, "{name}");
        }
        let dir = cluster.dir();
        drop(client);
        drop(cluster);
        // Dropping it stops the server and removes its directory.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while dir.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "{} remains",
                dir.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}
