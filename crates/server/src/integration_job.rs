//! The scheduler's integration step: publish the outbound feed and raise
//! "outside too long".
//!
//! - **Publish.** Feed rows are written with each change; here they get
//!   their positions ([`amina_store::IntegrationStore::publish_feed`]).
//!   The feed endpoint also publishes before it reads, so a reader never
//!   waits for a tick; the scheduler keeps the backlog at zero when nobody
//!   reads.
//! - **Outside too long.** People outside both pilot regions for more than
//!   `integration.outside_working_days` working days without a "registered
//!   in region X" event get an `outside_too_long` signal for a migration
//!   officer and a push telling them to register where they are (sent by
//!   the push step, after quiet hours). Never a deregistration.
//!
//! Both are idempotent and safe on several nodes (see the store).

use amina_domain::integration::OutsideRule;
use amina_store::OutsideReport;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IntegrationRunReport {
    pub published: u32,
    pub outside: OutsideReport,
}

/// Publish every committed, unpublished feed row.
pub async fn publish_all(state: &AppState) -> Result<u32, ApiError> {
    let batch = state.config.integration.publish_batch.max(1);
    let mut total = 0;
    loop {
        let n = state.store.publish_feed(state.clock.now(), batch).await?;
        total += n;
        if n < batch {
            break;
        }
    }
    if total > 0 {
        metrics::counter!("amina_integration_feed_published_total").increment(u64::from(total));
    }
    Ok(total)
}

/// Raise "outside too long" for everyone due now.
pub async fn sweep_outside(state: &AppState) -> Result<OutsideReport, ApiError> {
    let rule = OutsideRule {
        working_days: state.config.integration.outside_working_days.max(1),
    };
    let quiet = state
        .config
        .push
        .rules()
        .map_err(|e| {
            tracing::error!(error = %e, "push rules are misconfigured");
            ApiError::internal()
        })?
        .quiet;
    let batch = state.config.scheduler.batch_size.max(1);
    let mut report = OutsideReport::default();
    loop {
        let now = state.clock.now();
        let r = state
            .store
            .sweep_outside(
                rule,
                state.monitor.calendar.clone(),
                now,
                quiet.next_allowed(now),
                batch,
            )
            .await?;
        report.people += r.people;
        report.raised += r.raised;
        if r.people < batch {
            break;
        }
    }
    if report.raised > 0 {
        metrics::counter!("amina_outside_too_long_total").increment(u64::from(report.raised));
        tracing::info!(raised = report.raised, "outside-too-long signals raised");
    }
    Ok(report)
}

/// Both steps.
pub async fn run_once(state: &AppState) -> Result<IntegrationRunReport, ApiError> {
    Ok(IntegrationRunReport {
        published: publish_all(state).await?,
        outside: sweep_outside(state).await?,
    })
}
