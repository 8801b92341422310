//! The scheduler: deregisters people whose monitoring deadline has passed,
//! then plans and sends the push notices due (see [`crate::push`]).
//!
//! The work is "rows plus a worker": due people are found by the deadline
//! index, so a run costs in proportion to the people due, not to everyone.
//! Every node may run the scheduler; the store guarantees each person is
//! deregistered once (row locks with SKIP LOCKED on PostgreSQL, the single
//! writer on SQLite, and a unique deregistration per registration on both).

use std::time::Duration;

use amina_store::DeregisteredPerson;

use crate::error::ApiError;
use crate::state::AppState;

/// Deregister everybody due now, in batches; returns who was deregistered.
pub async fn run_once(state: &AppState) -> Result<Vec<DeregisteredPerson>, ApiError> {
    let batch = state.config.scheduler.batch_size.max(1);
    let mut all = Vec::new();
    loop {
        let now = state.clock.now();
        let done = state
            .store
            .deregister_due(&state.monitor, now, batch)
            .await?;
        let n = done.len();
        for d in &done {
            tracing::info!(
                person_id = d.person_id,
                registration_id = d.registration_id,
                "deregistered: no monitoring"
            );
        }
        metrics::counter!("amina_deregistrations_total", "reason" => "no_monitoring")
            .increment(n as u64);
        all.extend(done);
        if n < batch as usize {
            return Ok(all);
        }
    }
}

/// Run the scheduler every `interval_s` until `shutdown` resolves.
pub async fn run_forever(state: AppState, shutdown: impl std::future::Future<Output = ()>) {
    let interval = Duration::from_secs(state.config.scheduler.interval_s.max(1));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {
                if let Err(e) = run_once(&state).await {
                    tracing::warn!(code = e.code, "scheduler run failed; will retry");
                }
                if state.config.push.enabled {
                    if let Err(e) = crate::push::run_once(&state).await {
                        tracing::warn!(code = e.code, "push run failed; will retry");
                    }
                }
            }
        }
    }
}
