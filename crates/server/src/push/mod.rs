//! Web Push: keeping the person informed when their data stops arriving.
//!
//! The scheduler calls [`run_once`] on every tick, on every node:
//!
//! 1. **Plan.** The store evaluates the domain's push rules
//!    ([`amina_domain::reminders`]) for the people whose `next_check_at`
//!    has come (an indexed column: the cost follows the people due, not
//!    everyone) and records the due notices in the outbox, once per
//!    occurrence key, in the same transaction.
//! 2. **Send.** Pending notices are claimed with a lease, rendered in the
//!    subscription's language, encrypted for the browser and sent with a
//!    VAPID signature. Every answer is recorded: 2xx sent; 404/410 marks the
//!    subscription gone and raises a `push_subscription_gone` signal on the
//!    person (raised before the answer is recorded, and idempotent, so a
//!    crash in between neither loses nor doubles it); 429/5xx and network
//!    failures retry with backoff; other refusals fail the notice.
//!
//! A crash after sending and before recording leaves the row leased; it is
//! claimed again when the lease ends and sent again. That is at-least-once
//! delivery on purpose: the notification tag (the occurrence key) and the
//! `Topic` header make the phone and the push service collapse the repeat.

pub mod deliver;
pub mod render;
pub mod vapid;

use std::sync::Arc;

use amina_domain::reminders::PushRules;
use amina_domain::signal::{SignalKind, SignalSubject};
use amina_store::{DeliveryOutcome, DeliveryReport, NewSignal, OutboxItem, StoreError};
use jiff::SignedDuration;
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::config::PushConfig;
use crate::error::ApiError;
use crate::state::AppState;
use vapid::Vapid;

/// Push state shared by handlers and the scheduler: the rules, the VAPID
/// key (loaded once) and the HTTP client for push services.
pub struct PushRuntime {
    rules: Result<PushRules, String>,
    vapid: OnceCell<Arc<Vapid>>,
    http: OnceCell<reqwest::Client>,
}

impl PushRuntime {
    pub fn new(config: &PushConfig) -> Self {
        PushRuntime {
            rules: config.rules().map_err(|e| e.to_string()),
            vapid: OnceCell::new(),
            http: OnceCell::new(),
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PushRunReport {
    pub planned_people: u32,
    pub decided: u32,
    pub deferred: u32,
    pub sent: u32,
    pub gone: u32,
    pub retried: u32,
    pub failed: u32,
}

/// The VAPID key pair, made and stored on first use.
pub async fn vapid(state: &AppState) -> Result<Arc<Vapid>, StoreError> {
    state
        .push
        .vapid
        .get_or_try_init(|| async {
            let v = Vapid::load_or_create(&state.store, state.clock.now()).await?;
            tracing::info!(public_key = %v.public_key_b64(), "VAPID key ready");
            Ok::<_, StoreError>(Arc::new(v))
        })
        .await
        .cloned()
}

async fn http(state: &AppState) -> Result<&reqwest::Client, ApiError> {
    state
        .push
        .http
        .get_or_try_init(|| async {
            reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(
                    state.config.push.timeout_s.max(1),
                ))
                // A push service does not redirect; following one would
                // carry the VAPID token elsewhere.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("amina/", env!("CARGO_PKG_VERSION")))
                .build()
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot build the push HTTP client");
            ApiError::internal()
        })
}

fn rules(state: &AppState) -> Result<PushRules, ApiError> {
    state.push.rules.clone().map_err(|e| {
        tracing::error!(error = %e, "push rules are misconfigured");
        ApiError::internal()
    })
}

/// Plan and send everything due now.
pub async fn run_once(state: &AppState) -> Result<PushRunReport, ApiError> {
    let rules = rules(state)?;
    let cfg = &state.config.push;
    let batch = cfg.batch_size.max(1);
    let mut report = PushRunReport::default();
    loop {
        let r = state
            .store
            .plan_pushes(&rules, state.clock.now(), batch)
            .await?;
        report.planned_people += r.people;
        report.decided += r.decided;
        report.deferred += r.deferred;
        if r.people < batch {
            break;
        }
    }
    metrics::counter!("amina_push_decided_total").increment(u64::from(report.decided));
    loop {
        let now = state.clock.now();
        let lease = SignedDuration::from_secs(i64::try_from(cfg.lease_s).unwrap_or(120));
        let oldest = now - SignedDuration::from_hours(i64::from(cfg.give_up_after_hours));
        let items = state.store.claim_pushes(now, lease, oldest, batch).await?;
        let n = items.len();
        if n > 0 {
            let vapid = vapid(state).await?;
            let http = http(state).await?;
            // An endpoint found gone in this batch gets nothing more: its
            // other notices were dropped when the answer was recorded.
            let mut gone: Vec<String> = Vec::new();
            for item in items {
                if gone.contains(&item.endpoint) {
                    continue;
                }
                let endpoint = item.endpoint.clone();
                if deliver_one(state, &vapid, http, item, &mut report).await?
                    == DeliveryOutcome::Gone
                {
                    gone.push(endpoint);
                }
            }
        }
        if n < batch as usize {
            break;
        }
    }
    Ok(report)
}

async fn deliver_one(
    state: &AppState,
    vapid: &Vapid,
    http: &reqwest::Client,
    item: OutboxItem,
    report: &mut PushRunReport,
) -> Result<DeliveryOutcome, ApiError> {
    let cfg = &state.config.push;
    let now = state.clock.now();
    let answer = match render::render(&item.notice, &item.lang)
        .or_else(|| render::render(&item.notice, "ru"))
    {
        Some(text) => deliver::send(http, vapid, cfg, &item, text, now).await,
        None => deliver::Answer {
            status: None,
            retry_after_s: None,
            error: Some("no text for this notice".into()),
        },
    };
    let at = state.clock.now();
    let outcome = deliver::outcome(&answer, item.attempts, at, cfg);
    if outcome == DeliveryOutcome::Gone {
        raise_gone(state, &item, answer.status, at).await?;
    }
    let label = match outcome {
        DeliveryOutcome::Sent => {
            report.sent += 1;
            "sent"
        }
        DeliveryOutcome::Gone => {
            report.gone += 1;
            "gone"
        }
        DeliveryOutcome::RetryAt(_) => {
            report.retried += 1;
            "retry"
        }
        DeliveryOutcome::Failed => {
            report.failed += 1;
            "failed"
        }
    };
    metrics::counter!("amina_push_deliveries_total", "outcome" => label).increment(1);
    tracing::info!(
        person_id = item.person_id,
        kind = item.notice.kind(),
        attempt = item.attempts,
        status = answer.status,
        outcome = label,
        "push delivery"
    );
    state
        .store
        .record_delivery(DeliveryReport {
            outbox_id: item.id,
            endpoint: item.endpoint.clone(),
            at,
            status_code: answer.status,
            error: answer.error,
            outcome,
        })
        .await?;
    Ok(outcome)
}

/// The push service says the subscription is gone: the app may have been
/// removed or its data cleared. A signal for an officer, once per endpoint.
async fn raise_gone(
    state: &AppState,
    item: &OutboxItem,
    status: Option<u16>,
    at: jiff::Timestamp,
) -> Result<(), ApiError> {
    let digest = ring::digest::digest(&ring::digest::SHA256, item.endpoint.as_bytes());
    let short: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let origin = reqwest::Url::parse(&item.endpoint)
        .map(|u| deliver::audience(&u))
        .unwrap_or_default();
    state
        .store
        .raise_signal(NewSignal {
            kind: SignalKind::PushSubscriptionGone,
            subject: SignalSubject::Person(item.person_id),
            dedup_key: format!("endpoint:{short}"),
            raised_at: at,
            score: None,
            explanation: "the push service reports that the person's push subscription no \
                          longer exists (the app may have been removed or its data cleared)"
                .into(),
            evidence: serde_json::json!({
                "push_service": origin,
                "status": status,
                "notice": item.key,
            }),
        })
        .await?;
    Ok(())
}
