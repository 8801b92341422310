//! Device endpoints: binding a key, uploading fixes, reading one's status.
//! Every request here carries an RFC 9421 signature (see `crate::proof`).

use amina_client::key::{jwk_thumbprint, jwk_to_sec1};
use amina_client::proto::{
    BindRequest, BindResponse, ErrorBody, FixBatch, FixWire, IngestResponse, StatusView,
};
use amina_domain::monitor::{FixInput, PersonState, RegistrationStatus};
use amina_domain::types::{AccuracyM, BatteryPct, Coordinates, DeviceSeq, FixSource};
use amina_store::NewDevice;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use jiff::Timestamp;

use super::{parse_json, read_body};
use crate::error::ApiError;
use crate::proof::{parse_signed, verify_active_device, verify_device_request, verify_with_key};
use crate::state::AppState;

/// Bind a device key with a binding token. The request must be signed with
/// the key being bound (keyid = its RFC 7638 thumbprint).
#[utoipa::path(
    post, path = "/v1/devices", request_body = BindRequest,
    responses(
        (status = 201, body = BindResponse),
        (status = 413, body = ErrorBody, description = "body_too_large"),
        (status = 400, body = ErrorBody, description = "malformed_json, digest_mismatch"),
        (status = 401, body = ErrorBody, description = "signature_*, binding_token_invalid"),
        (status = 409, body = ErrorBody, description = "key_already_bound"),
        (status = 422, body = ErrorBody, description = "invalid_public_key"),
    )
)]
pub async fn bind(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<BindResponse>), ApiError> {
    let bytes = read_body(body, 16 * 1024).await?;
    let now = state.clock.now();
    let signed = parse_signed(
        &headers,
        Some(&bytes),
        now,
        i64::from(state.config.rules.clock_skew_s),
    )?;
    let req: BindRequest = parse_json(&bytes)?;
    let public_key = jwk_to_sec1(&req.public_key).ok_or_else(|| {
        ApiError::unprocessable("invalid_public_key", "public_key must be a P-256 EC JWK")
    })?;
    let thumbprint = jwk_thumbprint(&req.public_key);
    if signed.params.keyid != thumbprint {
        return Err(ApiError::unauthorized(
            "signature_invalid",
            "the binding request must be signed with the key being bound (keyid = JWK thumbprint)",
        ));
    }
    verify_with_key(&signed, &public_key, "POST", "/v1/devices")?;
    let kind = match req.kind.as_deref() {
        None | Some("pwa") => "pwa",
        Some("test") => "test",
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_device_kind",
                "kind must be \"pwa\"",
            ))
        }
    };
    let device = state
        .store
        .bind_device(
            super::enrol::token_hash(&req.binding_token),
            NewDevice {
                id: super::random_id("dv_"),
                public_key,
                key_thumbprint: thumbprint,
                kind: kind.into(),
                actor: "self".into(),
            },
            now,
        )
        .await?;
    metrics::counter!("amina_device_bindings_total").increment(1);
    tracing::info!(person_id = device.person_id, device_id = %device.id, "device bound");
    let person = state
        .store
        .person(device.person_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let status = status_view(&state, person.person_id, &person.state).await?;
    Ok((
        StatusCode::CREATED,
        Json(BindResponse {
            device_id: device.id,
            bound_at: device.bound_at.to_string(),
            status,
        }),
    ))
}

/// Upload a batch of fixes. Idempotent by (device, seq): a retry is
/// acknowledged with the sequence numbers listed as duplicates. A 200 means
/// the fixes are durably stored.
#[utoipa::path(
    post, path = "/v1/fixes", request_body = FixBatch,
    responses(
        (status = 200, body = IngestResponse),
        (status = 400, body = ErrorBody, description = "malformed_json, unknown_field, digest_mismatch"),
        (status = 401, body = ErrorBody, description = "signature_missing, signature_malformed, signature_expired, signature_invalid, unknown_device"),
        (status = 429, body = ErrorBody, description = "rate_limited: too many requests from this device (Retry-After)"),
        (status = 403, body = ErrorBody, description = "device_revoked"),
        (status = 409, body = ErrorBody, description = "sequence_reused"),
        (status = 413, body = ErrorBody, description = "body_too_large, batch_too_large"),
        (status = 422, body = ErrorBody, description = "empty_batch, invalid_latitude, invalid_longitude, invalid_accuracy, invalid_recorded_at, invalid_source, invalid_battery, invalid_sequence, recorded_in_future, recorded_before_enrolment, date_outside_calendar, duplicate_sequence_in_batch"),
        (status = 503, body = ErrorBody, description = "database_unavailable (Retry-After)"),
    )
)]
pub async fn upload_fixes(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>, ApiError> {
    let started = std::time::Instant::now();
    let bytes = read_body(body, state.config.ingest.max_body_bytes).await?;
    let device = verify_device_request(&state, "POST", "/v1/fixes", &headers, Some(&bytes)).await?;
    let fixes = parse_fix_batch(&bytes, state.config.ingest.max_batch_fixes)?;
    let n = fixes.len();
    let now = state.clock.now();
    let outcome = match state
        .store
        .ingest(&state.monitor, &device.device_id, fixes, now)
        .await
    {
        Ok(o) => o,
        Err(e) => {
            if matches!(e, amina_store::StoreError::DeviceRevoked) {
                // The signature verified with a revoked device's key: the
                // old phone is still reporting. Kept for device-churn
                // detection (docs/detection.md); the batch is refused all
                // the same, and a failure to record must not change that.
                let day = amina_domain::time::moscow_date(now);
                if let Err(e) = state
                    .store
                    .record_revoked_upload(&device.device_id, day, now)
                    .await
                {
                    tracing::warn!(error = %e, "recording a revoked device's upload failed");
                }
            }
            let err = ApiError::from(e);
            metrics::counter!("amina_batches_refused_total", "reason" => err.code).increment(1);
            return Err(err);
        }
    };
    metrics::counter!("amina_fixes_accepted_total").increment(outcome.accepted.len() as u64);
    metrics::counter!("amina_fixes_duplicate_total").increment(outcome.duplicates.len() as u64);
    metrics::counter!("amina_fixes_flagged_total").increment(outcome.flagged.len() as u64);
    metrics::histogram!("amina_ingest_seconds").record(started.elapsed().as_secs_f64());
    if outcome.deregistered {
        metrics::counter!("amina_deregistrations_total", "reason" => "no_monitoring").increment(1);
    }
    tracing::debug!(person_id = outcome.person_id, fixes = n, "batch stored");
    let status = status_view_with(
        &state,
        outcome.person_id,
        &outcome.state,
        outcome.last_checkin_at,
    )
    .await?;
    Ok(Json(IngestResponse {
        accepted: outcome.accepted,
        duplicates: outcome.duplicates,
        flagged: outcome.flagged,
        status,
    }))
}

/// Parse an upload body (a [`FixBatch`] in JSON) into domain fixes, exactly
/// as `POST /v1/fixes` does after the signature checked out: at least one
/// and at most `max_fixes` fixes, each valid, or the first reason why not.
pub fn parse_fix_batch(bytes: &[u8], max_fixes: usize) -> Result<Vec<FixInput>, ApiError> {
    let batch: FixBatch = parse_json(bytes)?;
    if batch.fixes.is_empty() {
        return Err(ApiError::unprocessable(
            "empty_batch",
            "a batch needs at least one fix",
        ));
    }
    if batch.fixes.len() > max_fixes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("at most {max_fixes} fixes per batch"),
        ));
    }
    batch
        .fixes
        .iter()
        .enumerate()
        .map(|(i, w)| {
            parse_fix(w).map_err(|e| e.with_detail(serde_json::json!({"index": i, "seq": w.seq})))
        })
        .collect()
}

/// Convert one wire fix into a domain fix, or say what is wrong with it.
pub fn parse_fix(w: &FixWire) -> Result<FixInput, ApiError> {
    let bad = |e: amina_domain::types::InputError| ApiError::unprocessable(e.code(), e.to_string());
    let recorded_at: Timestamp = w.recorded_at.parse().map_err(|_| {
        ApiError::unprocessable(
            "invalid_recorded_at",
            "recorded_at must be an RFC 3339 instant",
        )
    })?;
    Ok(FixInput {
        seq: DeviceSeq::parse(w.seq).map_err(bad)?,
        position: Coordinates::parse(w.lat, w.lon).map_err(bad)?,
        accuracy: AccuracyM::parse(w.accuracy_m).map_err(bad)?,
        recorded_at: crate::clock::truncate_ms(recorded_at),
        source: FixSource::parse(&w.source).ok_or_else(|| {
            ApiError::unprocessable("invalid_source", "source must be \"gps\" or \"network\"")
        })?,
        mock_location: w.mock,
        battery: w
            .battery_pct
            .map(BatteryPct::parse)
            .transpose()
            .map_err(bad)?,
    })
}

/// The person's own status, read with the device's proof.
#[utoipa::path(
    get, path = "/v1/me/status",
    responses(
        (status = 200, body = StatusView),
        (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "rate_limited: too many requests from this device (Retry-After)"),
        (status = 403, body = ErrorBody, description = "device_revoked"),
    )
)]
pub async fn my_status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<StatusView>, ApiError> {
    let device = verify_active_device(&state, "GET", "/v1/me/status", &headers, None).await?;
    let person = state
        .store
        .person(device.person_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let mut view = status_view(&state, person.person_id, &person.state).await?;
    view.reporting_device = reporting_device(&state, person.person_id).await?;
    Ok(Json(
        super::stay::with_place(&state, person.person_id, view).await?,
    ))
}

/// What the person sees: status, last monitoring, deadline, presence.
pub(crate) async fn status_view(
    state: &AppState,
    person_id: i64,
    s: &PersonState,
) -> Result<StatusView, ApiError> {
    let last_checkin_at = state
        .store
        .last_checkin(person_id)
        .await?
        .map(|c| c.checkin.at);
    status_view_with(state, person_id, s, last_checkin_at).await
}

/// [`status_view`] with the last check-in already known (an upload's
/// answer: the store read it in the batch's transaction).
pub(crate) async fn status_view_with(
    state: &AppState,
    person_id: i64,
    s: &PersonState,
    last_checkin_at: Option<Timestamp>,
) -> Result<StatusView, ApiError> {
    let registered = s.status == RegistrationStatus::Registered;
    let deregistration_reason = if registered {
        None
    } else {
        state
            .store
            .deregistrations(person_id)
            .await?
            .last()
            .map(|d| d.reason.as_str().to_string())
    };
    Ok(StatusView {
        status: s.status.as_str().into(),
        registered,
        registration_started_at: s.registration_started_at.to_string(),
        last_monitoring_at: s.last_monitoring_at.map(|t| t.to_string()),
        deadline_at: registered.then(|| s.deadline_at.to_string()),
        deadline_moscow: registered.then(|| amina_domain::time::format_moscow(s.deadline_at)),
        presence: s.presence.as_str().into(),
        presence_since: s.presence_since.map(|t| t.to_string()),
        deregistration_reason,
        deadline_text: registered.then(|| crate::i18n::deadline_texts(s.deadline_at)),
        place_of_stay: None,
        last_checkin_at: last_checkin_at.map(|t| t.to_string()),
        reporting_device: None,
    })
}

/// The kind of the person's active (reporting) device, for the app.
pub(crate) async fn reporting_device(
    state: &AppState,
    person_id: i64,
) -> Result<Option<String>, ApiError> {
    let Some(person) = state.store.person(person_id).await? else {
        return Ok(None);
    };
    let Some(id) = person.active_device_id else {
        return Ok(None);
    };
    Ok(state.store.device(&id).await?.map(|d| d.kind))
}
