//! OwnTracks endpoints (issue 6).
//!
//! - `POST /v1/me/owntracks`, signed by the person's app (RFC 9421):
//!   provision an OwnTracks device — fresh HTTP Basic secret and secretbox
//!   key, bound as the person's one active device (the previous one is
//!   revoked and recorded, as any rebinding), answered with the OwnTracks
//!   remote-configuration link and its QR code. The app key that asked
//!   becomes the OwnTracks device's companion: it can no longer report, but
//!   still reads the status, notices and "my data", checks in and receives
//!   pushes, because a person keeps opening the app on the same phone.
//! - `DELETE /v1/me/owntracks`, signed by that companion key: stop using
//!   OwnTracks; the OwnTracks device is revoked and the app reports again.
//! - `POST /v1/owntracks`: OwnTracks' HTTP mode (see `crate::owntracks`).
//!   Fixes go through the same store call, rules and idempotency as
//!   `POST /v1/fixes`; the answer is a JSON array, empty because the server
//!   has nothing to send.

use amina_client::proto::{ErrorBody, StatusView};
use amina_store::{DeviceStatus, NewOwnTracksDevice, SecretboxKey};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::read_body;
use crate::error::ApiError;
use crate::owntracks::{self as ot, Message, OwnTracksError};
use crate::proof::verify_active_device;
use crate::state::AppState;

/// Largest OwnTracks message accepted: a location is a few hundred bytes.
const MAX_OWNTRACKS_BODY: usize = 64 * 1024;

/// What the app shows to set up OwnTracks. The secret and the key are in
/// the configuration and the link only, and are never stored in the clear
/// except the key (needed to decrypt): provisioning again makes new ones.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OwnTracksProvisioned {
    pub device_id: String,
    pub bound_at: String,
    /// The HTTP endpoint written into the configuration.
    pub url: String,
    /// `owntracks:///config?inline=…`: opening it on the phone configures
    /// OwnTracks.
    pub config_link: String,
    /// The same configuration as JSON (an `.otrc` file's content).
    pub config: serde_json::Value,
    /// The link as a QR code (SVG), for setting up another phone.
    pub qr_svg: String,
    pub status: StatusView,
}

/// The OwnTracks endpoint URL: from `enrolment.app_url` when configured
/// (production, behind TLS), else from the Host the app reached.
fn endpoint_url(state: &AppState, headers: &HeaderMap) -> String {
    let app = &state.config.enrolment.app_url;
    if !app.is_empty() {
        let base = app.trim_end_matches('/');
        let base = base.strip_suffix("/app").unwrap_or(base);
        return format!("{base}/v1/owntracks");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        })
        .map(str::to_string)
        .unwrap_or_else(|| state.config.listen.clone());
    format!("http://{host}/v1/owntracks")
}

/// Provision OwnTracks for the person whose app signs the request.
#[utoipa::path(
    post, path = "/v1/me/owntracks",
    responses(
        (status = 201, body = OwnTracksProvisioned),
        (status = 413, body = ErrorBody, description = "body_too_large"),
        (status = 401, body = ErrorBody, description = "signature_*, unknown_device"),
        (status = 429, body = ErrorBody, description = "rate_limited: too many requests from this device (Retry-After)"),
        (status = 403, body = ErrorBody, description = "device_revoked"),
    )
)]
pub async fn provision(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<OwnTracksProvisioned>), ApiError> {
    let bytes = read_body(body, 4 * 1024).await?;
    let device =
        verify_active_device(&state, "POST", "/v1/me/owntracks", &headers, Some(&bytes)).await?;
    let now = state.clock.now();
    let creds = ot::new_credentials();
    let url = endpoint_url(&state, &headers);
    let config = ot::configuration(&url, &creds);
    let config_link = ot::config_link(&config);
    let qr_svg = qrcode::QrCode::new(config_link.as_bytes())
        .map_err(|_| ApiError::internal())?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .build();
    let record = state
        .store
        .bind_owntracks(
            device.person_id,
            Some(device.device_id.clone()),
            NewOwnTracksDevice {
                id: creds.device_id.clone(),
                secret_sha256: ot::secret_hash(&creds.secret),
                secretbox_key: SecretboxKey::new(creds.key.clone()),
                tid: ot::TID.into(),
                actor: "self".into(),
            },
            now,
        )
        .await?;
    metrics::counter!("amina_device_bindings_total").increment(1);
    tracing::info!(person_id = record.person_id, device_id = %record.id, "owntracks device bound");
    let person = state
        .store
        .person(record.person_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let mut status = super::device::status_view(&state, person.person_id, &person.state).await?;
    status.reporting_device = super::device::reporting_device(&state, person.person_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(OwnTracksProvisioned {
            device_id: record.id,
            bound_at: record.bound_at.to_string(),
            url,
            config_link,
            config,
            qr_svg,
            status,
        }),
    ))
}

/// The app reports again: the OwnTracks device is revoked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OwnTracksStopped {
    /// The app's device, active again.
    pub device_id: String,
    pub status: StatusView,
}

/// Stop using OwnTracks; signed by the app key that provisioned it.
#[utoipa::path(
    delete, path = "/v1/me/owntracks",
    responses(
        (status = 200, body = OwnTracksStopped),
        (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "rate_limited: too many requests from this device (Retry-After)"),
        (status = 403, body = ErrorBody, description = "device_revoked"),
    )
)]
pub async fn stop(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<OwnTracksStopped>, ApiError> {
    let device = verify_active_device(&state, "DELETE", "/v1/me/owntracks", &headers, None).await?;
    let now = state.clock.now();
    let record = state.store.stop_owntracks(&device.device_id, now).await?;
    let person = state
        .store
        .person(record.person_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let mut status = super::device::status_view(&state, person.person_id, &person.state).await?;
    status.reporting_device = super::device::reporting_device(&state, person.person_id).await?;
    Ok(Json(OwnTracksStopped {
        device_id: record.id,
        status,
    }))
}

/// `?u=&d=`: the user and device, for clients that cannot set headers.
#[derive(Debug, Default, Deserialize)]
pub struct LimitQuery {
    u: Option<String>,
    d: Option<String>,
}

/// OwnTracks HTTP mode. Every refusal stores nothing.
#[utoipa::path(
    post, path = "/v1/owntracks",
    request_body(content = String, description = "an OwnTracks JSON message, \
        `{\"_type\":\"encrypted\",\"data\":…}` for devices provisioned here", content_type = "application/json"),
    params(
        ("X-Limit-U" = Option<String>, Header, description = "OwnTracks user name (the device id)"),
        ("X-Limit-D" = Option<String>, Header, description = "OwnTracks device name"),
    ),
    responses(
        (status = 200, description = "`[]`: stored (or a re-sent fix acknowledged); nothing to send back"),
        (status = 400, body = ErrorBody, description = "malformed_json, encryption_required, decryption_failed"),
        (status = 401, body = ErrorBody, description = "owntracks_auth_missing, owntracks_auth_failed, unknown_device"),
        (status = 429, body = ErrorBody, description = "rate_limited: too many requests from this device (Retry-After)"),
        (status = 403, body = ErrorBody, description = "device_revoked, owntracks_identity_mismatch"),
        (status = 409, body = ErrorBody, description = "sequence_reused (same tst, other content)"),
        (status = 413, body = ErrorBody, description = "body_too_large"),
        (status = 422, body = ErrorBody, description = "missing_tid, invalid_tst, invalid_latitude, invalid_longitude, invalid_accuracy, invalid_battery, recorded_in_future, recorded_before_enrolment, date_outside_calendar"),
        (status = 503, body = ErrorBody, description = "database_unavailable (Retry-After)"),
    )
)]
pub async fn report(
    State(state): State<AppState>,
    Query(limit): Query<LimitQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle_report(&state, limit, &headers, body).await {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "[]",
        )
            .into_response(),
        Err(e) => {
            metrics::counter!("amina_owntracks_refused_total", "reason" => e.code).increment(1);
            let unauthorized = e.status == StatusCode::UNAUTHORIZED;
            let mut resp = e.into_response();
            if unauthorized {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"amina\""),
                );
            }
            resp
        }
    }
}

async fn handle_report(
    state: &AppState,
    limit: LimitQuery,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), ApiError> {
    let bytes = read_body(body, MAX_OWNTRACKS_BODY).await?;
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (user, secret) = ot::basic_auth(auth)?;
    let cred = state
        .store
        .owntracks_credential(&user)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown_device", "this device is not bound"))?;
    // Comparing SHA-256 digests: timing reveals nothing useful about a
    // 256-bit random secret.
    if ot::secret_hash(&secret) != cred.secret_sha256 {
        return Err(OwnTracksError::AuthFailed.into());
    }
    if cred.status != DeviceStatus::Active {
        return Err(amina_store::StoreError::DeviceRevoked.into());
    }
    // After a long outage OwnTracks sends its whole queue, one message per
    // request: the device limit's burst is sized for that.
    state.limits.device(&cred.device_id)?;
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let u = header_str("x-limit-u").or(limit.u.as_deref());
    let d = header_str("x-limit-d").or(limit.d.as_deref());
    if u.is_some_and(|u| u != cred.device_id) || d.is_some_and(|d| d != ot::DEVICE_NAME) {
        return Err(OwnTracksError::IdentityMismatch.into());
    }
    // OwnTracks may post a zero-length body (a deleted friend): nothing to do.
    if bytes.is_empty() {
        return Ok(());
    }
    let msg = ot::decode(&bytes, cred.secretbox_key.expose())?;
    let now = state.clock.now();
    if let Message::Location(loc) = &msg {
        let fix = ot::fix_of(loc)?;
        let outcome = state
            .store
            .ingest(&state.monitor, &cred.device_id, vec![fix], now)
            .await?;
        metrics::counter!("amina_fixes_accepted_total").increment(outcome.accepted.len() as u64);
        metrics::counter!("amina_fixes_duplicate_total").increment(outcome.duplicates.len() as u64);
        metrics::counter!("amina_fixes_flagged_total").increment(outcome.flagged.len() as u64);
        if outcome.deregistered {
            metrics::counter!("amina_deregistrations_total", "reason" => "no_monitoring")
                .increment(1);
        }
        tracing::debug!(person_id = outcome.person_id, "owntracks fix stored");
    }
    if msg.is_report() {
        state
            .store
            .record_checkin(&cred.device_id, ot::checkin_of(&msg, now))
            .await?;
    }
    Ok(())
}
