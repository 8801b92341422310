//! Operational endpoints: health, metrics, the OpenAPI document.

use amina_client::proto::ErrorBody;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

use crate::error::ApiError;
use crate::state::AppState;

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", responses(
    (status = 200, description = "serving; database reachable"),
    (status = 503, body = ErrorBody, description = "database_unavailable"),
))]
pub async fn healthz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state.store.health().await?;
    Ok(Json(serde_json::json!({"status": "ok", "database": "ok"})))
}

/// Prometheus text-format metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(c) = state.store.counts().await {
        metrics::gauge!("amina_persons", "status" => "registered").set(c.persons_registered as f64);
        metrics::gauge!("amina_persons", "status" => "deregistered")
            .set(c.persons_deregistered as f64);
        metrics::gauge!("amina_active_devices").set(c.active_devices as f64);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// The API description, with the limits this server enforces
/// ([`super::document`]).
pub async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    Json(super::document::document(&state.config))
}
