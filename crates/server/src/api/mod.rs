//! The HTTP API: routes, and the conversion of wire input into domain
//! values at the edge. Handlers stay thin: parse, call the store or the
//! domain, shape the answer.

mod app;
mod device;
mod enrol;
mod ops;
mod push;

use amina_client::proto::*;
use amina_client::push::*;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::state::AppState;

/// The OpenAPI document, served at /openapi.json.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "amina",
        description = "Migration registration with geolocation presence monitoring. \
            Device requests are signed with RFC 9421 HTTP Message Signatures \
            (ecdsa-p256-sha256 over @method, @path and content-digest) with the \
            device's P-256 key; see the `Signature-Input` and `Signature` headers."
    ),
    paths(
        enrol::enrol,
        device::bind,
        device::upload_fixes,
        device::my_status,
        push::key,
        push::put_subscription,
        push::delete_subscription,
        push::checkin,
        ops::healthz,
        ops::metrics,
    ),
    components(schemas(
        EnrolRequest,
        EnrolResponse,
        BindRequest,
        BindResponse,
        PublicJwk,
        FixBatch,
        FixWire,
        IngestResponse,
        StatusView,
        ErrorBody,
        PushKeyResponse,
        PushSubscriptionKeys,
        PushSubscriptionRequest,
        PushSubscriptionResponse,
        CheckinRequest,
        CheckinResponse
    ))
)]
pub struct ApiDoc;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/enrolments", post(enrol::enrol))
        .route("/v1/devices", post(device::bind))
        .route("/v1/fixes", post(device::upload_fixes))
        .route("/v1/me/status", get(device::my_status))
        .route("/v1/push/key", get(push::key))
        .route(
            "/v1/push-subscription",
            axum::routing::put(push::put_subscription).delete(push::delete_subscription),
        )
        .route("/v1/checkins", post(push::checkin))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/app", get(app::redirect))
        .route("/app/", get(app::index))
        .route("/app/{name}", get(app::asset))
        .route("/app/i18n/{name}", get(app::translations))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .with_state(state)
}

#[cfg(test)]
pub(crate) fn verify_secret_for_tests(phc: &str, secret: &str) -> bool {
    enrol::verify_secret(phc, secret)
}

/// Read a request body up to `limit` bytes.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body exceeds {limit} bytes"),
        )
    })
}

/// Parse a JSON body, with a machine-readable reason on failure.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let code = if e.to_string().contains("unknown field") {
            "unknown_field"
        } else {
            "malformed_json"
        };
        ApiError::bad_request(code, format!("invalid request body: {e}"))
    })
}
