//! The scheduler: deregisters people whose monitoring deadline has passed,
//! plans and sends the push notices due (see [`crate::push`]), and once a
//! day runs the detection job ([`crate::detection_job`]) and the retention
//! job ([`crate::retention`]); it also publishes the federal feed and raises
//! "outside too long" ([`crate::integration_job`]).
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
            // Each no-monitoring deregistration becomes a registry proposal
            // for a supervisor to decide (idempotent; see ConsoleStore).
            let proposed = state.store.propose_registry(state.clock.now()).await?;
            if !proposed.is_empty() {
                tracing::info!(proposals = proposed.len(), "registry proposals made");
            }
            return Ok(all);
        }
    }
}

/// Run the detection job for the due day unless this process already did.
async fn detect_daily(state: &AppState, done: &mut Option<jiff::civil::Date>) {
    let now = state.clock.now();
    let Some(day) = crate::detection_job::due_day(now, state.config.scheduler.detection_after_hour)
    else {
        return;
    };
    if *done == Some(day) {
        return;
    }
    let params = amina_domain::detection::daily::DailyParams::default();
    match crate::detection_job::run_for_day(
        &state.store,
        &state.monitor.calendar,
        day,
        &params,
        now,
    )
    .await
    {
        Ok(report) => {
            tracing::info!(
                %day,
                processed = report.processed,
                skipped = report.skipped,
                signals = report.signals,
                "detection job done"
            );
            metrics::counter!("amina_detection_signals_total").increment(report.signals);
            *done = Some(day);
        }
        Err(e) => tracing::warn!(%day, error = %e, "detection job failed; will retry"),
    }
}

/// Reduce old fixes to daily summaries once a Moscow day (per process;
/// the store makes a second node's run find nothing to do).
async fn retain_daily(state: &AppState, done: &mut Option<jiff::civil::Date>) {
    let today = amina_domain::time::moscow_date(state.clock.now());
    if *done == Some(today) {
        return;
    }
    match crate::retention::run_once(state).await {
        Ok(r) => {
            tracing::info!(
                persons = r.persons,
                days = r.days,
                fixes_removed = r.fixes_removed,
                "retention run done"
            );
            *done = Some(today);
        }
        Err(e) => tracing::warn!(error = %e, "retention run failed; will retry"),
    }
}

/// Make the storage of the coming days' fixes ready once a Moscow day
/// (PostgreSQL day partitions; idempotent, so several nodes may all do it).
async fn prepare_daily(state: &AppState, done: &mut Option<jiff::civil::Date>) {
    let now = state.clock.now();
    let today = amina_domain::time::moscow_date(now);
    if *done == Some(today) {
        return;
    }
    match state.store.prepare_fix_partitions(now).await {
        Ok(made) => {
            if made > 0 {
                tracing::info!(partitions = made, "fix partitions prepared");
            }
            *done = Some(today);
        }
        Err(e) => tracing::warn!(error = %e, "preparing fix partitions failed; will retry"),
    }
}

/// Run the scheduler every `interval_s` until `shutdown` resolves.
pub async fn run_forever(state: AppState, shutdown: impl std::future::Future<Output = ()>) {
    let interval = Duration::from_secs(state.config.scheduler.interval_s.max(1));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    let mut detected_day = None;
    let mut retained_day = None;
    let mut prepared_day = None;
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {
                prepare_daily(&state, &mut prepared_day).await;
                if let Err(e) = run_once(&state).await {
                    tracing::warn!(code = e.code, "scheduler run failed; will retry");
                }
                if state.config.scheduler.detection_enabled {
                    detect_daily(&state, &mut detected_day).await;
                }
                if state.config.retention.enabled {
                    retain_daily(&state, &mut retained_day).await;
                }
                if let Err(e) = crate::integration_job::run_once(&state).await {
                    tracing::warn!(code = e.code, "integration run failed; will retry");
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
