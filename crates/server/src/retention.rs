//! The retention job: reduce raw fixes older than `retention.fix_days` to
//! daily presence summaries ([`amina_domain::retention`]), and check that
//! it was done (`amina retention verify`). The same run deletes expired
//! device sessions.
//!
//! Run by the scheduler once a Moscow day and by `amina retention run`.
//! Each batch of people is one transaction in the store, so a crash leaves
//! whole people reduced or untouched, and a rerun continues where it
//! stopped (there is nothing older than the cut-off left for those done).

use amina_store::{RetentionStatus, StoreError};
use jiff::Timestamp;
use serde::Serialize;

use crate::state::AppState;

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    pub cutoff: Option<Timestamp>,
    pub batches: u64,
    pub persons: u64,
    pub days: u64,
    pub fixes_removed: u64,
    /// Whole day partitions summarised and dropped (PostgreSQL).
    pub partitions_dropped: u64,
    /// Expired device sessions deleted.
    pub sessions_removed: u64,
}

/// The cut-off at `now` under the configuration.
pub fn cutoff(state: &AppState, now: Timestamp) -> Result<Timestamp, StoreError> {
    amina_domain::retention::cutoff(now, state.config.retention.fix_days)
        .map_err(|e| StoreError::Rule(e.to_string()))
}

/// Reduce everything older than the cut-off, batch by batch.
pub async fn run_once(state: &AppState) -> Result<RetentionReport, StoreError> {
    let now = state.clock.now();
    let cut = cutoff(state, now)?;
    let batch = state.config.retention.batch_size.max(1);
    let mut report = RetentionReport {
        cutoff: Some(cut),
        ..Default::default()
    };
    // Whole days first (PostgreSQL drops day partitions); the batches
    // below then find only fixes kept outside day partitions.
    report.sessions_removed = state.store.purge_device_sessions(now).await?;
    let days = state.store.retire_fix_partitions(cut, now).await?;
    report.partitions_dropped = days.partitions;
    report.persons += days.persons;
    report.days += days.days;
    report.fixes_removed += days.fixes_removed;
    let mut after = 0;
    loop {
        let b = state.store.reduce_fixes(cut, after, batch, now).await?;
        if b.persons > 0 {
            report.batches += 1;
        }
        report.persons += b.persons;
        report.days += b.days;
        report.fixes_removed += b.fixes_removed;
        match b.last_person_id {
            Some(last) if b.persons >= u64::from(batch) => after = last,
            _ => break,
        }
    }
    metrics::counter!("amina_retention_fixes_removed_total").increment(report.fixes_removed);
    Ok(report)
}

/// The state to check: no raw fix before the cut-off, every removed fix in
/// a summary.
pub async fn status(state: &AppState) -> Result<RetentionStatus, StoreError> {
    let cut = cutoff(state, state.clock.now())?;
    state.store.retention_status(cut).await
}
