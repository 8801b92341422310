//! amina's server: the HTTP API, device proofs, the scheduler, card import,
//! configuration and telemetry — thin shells around `amina_domain` and
//! `amina_store`.

pub mod addresses;
pub mod api;
pub mod cards;
pub mod clock;
pub mod config;
pub mod console;
pub mod detection_job;
pub mod error;
pub mod file_modes;
pub mod i18n;
pub mod integration_job;
pub mod owntracks;
pub mod proof;
pub mod push;
pub mod retention;
pub mod scheduler;
pub mod state;
pub mod telemetry;

use std::future::Future;

use tokio::net::TcpListener;

pub use state::AppState;

/// Serve the API on `listener` until `shutdown` resolves; in-flight requests
/// finish first. The scheduler runs beside it when enabled.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The VAPID key pair is made on the first start and stored (see
    // `push::vapid`); a failure here is retried on first use.
    if let Err(e) = push::vapid(&state).await {
        tracing::warn!(error = %e, "VAPID key not ready yet");
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let scheduler = if state.config.scheduler.enabled {
        let s = state.clone();
        let mut rx = stop_rx.clone();
        Some(tokio::spawn(async move {
            scheduler::run_forever(s, async move {
                let _ = rx.wait_for(|stop| *stop).await;
            })
            .await
        }))
    } else {
        None
    };
    let app = api::router(state);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_tx.send(true);
    if let Some(s) = scheduler {
        let _ = s.await;
    }
    result
}
