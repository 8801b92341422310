//! Storage side of retention: raw fixes older than a cut-off are reduced
//! to daily presence summaries ([`amina_domain::retention`]), batch by
//! batch, each batch one transaction (summaries written, fixes deleted and
//! the batch logged together, or nothing), and checked afterwards.
//!
//! Idempotent: a fix is deleted in the transaction that adds it to its
//! day's summary, so a rerun finds nothing to do; a fix that arrives late
//! for a day already reduced is merged into that day's summary. On
//! PostgreSQL the people of a batch are locked (`FOR UPDATE SKIP LOCKED`),
//! so two nodes reducing at once split the people instead of counting a
//! fix twice, and an ingest for the same person waits for the batch.

use amina_domain::retention::DaySummary;
use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;

use crate::StoreError;

/// What one reduction batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionBatch {
    pub persons: u64,
    pub days: u64,
    pub fixes_removed: u64,
    /// The highest person id handled: the next batch starts after it.
    pub last_person_id: Option<i64>,
    /// Whole day partitions dropped (PostgreSQL; see
    /// [`RetentionStore::retire_fix_partitions`]).
    pub partitions: u64,
}

/// The state retention can be checked against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionStatus {
    pub cutoff: Timestamp,
    /// Raw fixes recorded before the cut-off (0 after a complete run).
    pub raw_before_cutoff: u64,
    pub oldest_raw: Option<Timestamp>,
    /// Daily summaries kept.
    pub summary_days: u64,
    /// Fixes the summaries account for.
    pub summarised_fixes: u64,
    /// Fixes the reduction batches removed, from their log.
    pub removed_fixes: u64,
    pub runs: u64,
    pub last_run_at: Option<Timestamp>,
}

impl RetentionStatus {
    /// Nothing older than the cut-off is kept raw, and every removed fix is
    /// accounted for by a summary.
    pub fn is_ok(&self) -> bool {
        self.raw_before_cutoff == 0 && self.summarised_fixes == self.removed_fixes
    }
}

#[async_trait]
pub trait RetentionStore: Send + Sync + 'static {
    /// Reduce the fixes recorded before `cutoff` of up to `batch` people
    /// with id greater than `after_person`, in one transaction.
    async fn reduce_fixes(
        &self,
        cutoff: Timestamp,
        after_person: i64,
        batch: u32,
        now: Timestamp,
    ) -> Result<RetentionBatch, StoreError>;

    async fn retention_status(&self, cutoff: Timestamp) -> Result<RetentionStatus, StoreError>;

    /// Reduce whole days at once where the backend stores fixes by day:
    /// on PostgreSQL every day partition of `fixes` wholly before `cutoff`
    /// is summarised into `daily_presence` and dropped (no row-by-row
    /// DELETE), one transaction per day, logged like a batch. Run it before
    /// [`RetentionStore::reduce_fixes`], which then finds only the fixes
    /// outside day partitions. Idempotent. SQLite has one table: nothing to
    /// do.
    async fn retire_fix_partitions(
        &self,
        _cutoff: Timestamp,
        _now: Timestamp,
    ) -> Result<RetentionBatch, StoreError> {
        Ok(RetentionBatch::default())
    }

    /// Make the storage for fixes of the days around `now` ready ahead of
    /// time (PostgreSQL: day partitions from yesterday to a week ahead);
    /// returns how many were made. Fixes of other days are stored all the
    /// same. Idempotent; the scheduler runs it once a day.
    async fn prepare_fix_partitions(&self, _now: Timestamp) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// The person's daily summaries, newest day first.
    async fn daily_presence(
        &self,
        person_id: i64,
        limit: u32,
    ) -> Result<Vec<DaySummary>, StoreError>;
}
