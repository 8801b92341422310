//! Opening a key-bound device session: the one request of the day a phone
//! signs with its device key; its later requests carry an HMAC tag with
//! the session key (see `amina_client::session` for the exchange and
//! `crate::proof` for the check).

use amina_client::proto::{ErrorBody, SESSION_ALG};
use amina_client::session::{agree, offer, SessionRequest, SessionResponse, SESSION_PATH};
use amina_store::NewDeviceSession;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::Json;
use jiff::SignedDuration;

use super::{parse_json, read_body};
use crate::error::ApiError;
use crate::proof::{verify_active_device, Proof};
use crate::state::{AppState, SessionEntry};

/// Largest body of a session request: one base64url point and its name.
const MAX_SESSION_BODY: usize = 1024;

/// Open a device session. Signed with the device key
/// (`ecdsa-p256-sha256`, keyid = device id); the answer's `server_public`
/// completes the ECDH exchange from which both sides derive the session key.
#[utoipa::path(
    post, path = "/v1/device-sessions", request_body = SessionRequest,
    responses(
        (status = 201, body = SessionResponse),
        (status = 413, body = ErrorBody, description = "body_too_large"),
        (status = 400, body = ErrorBody, description = "malformed_json, unknown_field, digest_mismatch"),
        (status = 401, body = ErrorBody, description = "signature_missing, signature_malformed, signature_expired, signature_invalid (also: signed inside a session), unknown_device"),
        (status = 403, body = ErrorBody, description = "device_revoked"),
        (status = 422, body = ErrorBody, description = "invalid_public_key"),
        (status = 429, body = ErrorBody, description = "rate_limited (Retry-After)"),
        (status = 503, body = ErrorBody, description = "database_unavailable (Retry-After)"),
    )
)]
pub async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<SessionResponse>), ApiError> {
    let bytes = read_body(body, MAX_SESSION_BODY).await?;
    let device = verify_active_device(&state, "POST", SESSION_PATH, &headers, Some(&bytes)).await?;
    if device.proof != Proof::Signature {
        return Err(ApiError::unauthorized(
            "signature_invalid",
            "a session is opened with a signature by the device key (ecdsa-p256-sha256)",
        ));
    }
    let request: SessionRequest = parse_json(&bytes)?;
    let session_id = super::random_id("ds_");
    let (server_private, server_offer) = offer();
    let mac_key = agree(
        server_private,
        &request.ecdh_public,
        &session_id,
        &device.device_id,
    )
    .ok_or_else(|| {
        ApiError::unprocessable(
            "invalid_public_key",
            "ecdh_public must be a P-256 point, SEC1 uncompressed, base64url without padding",
        )
    })?;
    let now = state.clock.now();
    let hours = i64::from(state.config.ingest.device_session_hours.max(1));
    let expires_at = now
        .checked_add(SignedDuration::from_hours(hours))
        .map_err(|_| ApiError::internal())?;
    let record = state
        .store
        .insert_device_session(NewDeviceSession {
            id: session_id,
            device_id: device.device_id,
            mac_key: mac_key.to_vec(),
            created_at: now,
            expires_at,
        })
        .await?;
    metrics::counter!("amina_device_sessions_opened_total").increment(1);
    let answer = SessionResponse {
        session_id: record.id.clone(),
        server_public: server_offer.ecdh_public,
        alg: SESSION_ALG.into(),
        expires_at: record.expires_at.to_string(),
    };
    state.sessions.insert(SessionEntry::from(record));
    Ok((StatusCode::CREATED, Json(answer)))
}
