//! Push subscription and daily check-in endpoints. Subscribing and checking
//! in are signed by the device (RFC 9421, as uploads are); the VAPID public
//! key is public.

use amina_client::proto::ErrorBody;
use amina_client::push::{
    CheckinRequest, CheckinResponse, PushKeyResponse, PushSubscriptionRequest,
    PushSubscriptionResponse,
};
use amina_domain::reminders::{Checkin, CheckinClient, GeoError, Permission};
use amina_domain::types::BatteryPct;
use amina_store::NewSubscription;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::{parse_json, read_body};
use crate::error::ApiError;
use crate::proof::verify_device_request;
use crate::state::AppState;

/// Longest endpoint URL accepted, in bytes; real ones are a few hundred.
pub(crate) const MAX_ENDPOINT_LEN: usize = 2048;
/// Most fixes a phone may say are waiting in its queue.
pub(crate) const MAX_QUEUED_FIXES: u32 = 1_000_000;

/// The applicationServerKey for `pushManager.subscribe`.
#[utoipa::path(
    get, path = "/v1/push/key",
    responses(
        (status = 200, body = PushKeyResponse),
        (status = 503, body = ErrorBody, description = "database_unavailable"),
    )
)]
pub async fn key(State(state): State<AppState>) -> Result<Json<PushKeyResponse>, ApiError> {
    let vapid = crate::push::vapid(&state).await?;
    Ok(Json(PushKeyResponse {
        public_key: vapid.public_key_b64(),
    }))
}

/// Store (or replace) this device's push subscription.
#[utoipa::path(
    put, path = "/v1/push-subscription", request_body = PushSubscriptionRequest,
    responses(
        (status = 200, body = PushSubscriptionResponse),
        (status = 413, body = ErrorBody, description = "body_too_large"),
        (status = 400, body = ErrorBody, description = "malformed_json, unknown_field, digest_mismatch"),
        (status = 401, body = ErrorBody, description = "signature_*, unknown_device"),
        (status = 429, body = ErrorBody, description = "rate_limited: too many requests from this device (Retry-After)"),
        (status = 403, body = ErrorBody, description = "device_revoked"),
        (status = 422, body = ErrorBody, description = "invalid_push_endpoint, invalid_push_key, invalid_push_auth, invalid_language"),
    )
)]
pub async fn put_subscription(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PushSubscriptionResponse>, ApiError> {
    let bytes = read_body(body, 8 * 1024).await?;
    let device = verify_device_request(
        &state,
        "PUT",
        "/v1/push-subscription",
        &headers,
        Some(&bytes),
    )
    .await?;
    let req: PushSubscriptionRequest = parse_json(&bytes)?;
    let subscription = parse_subscription(&req, state.config.push.allow_loopback_http)?;
    let record = state
        .store
        .put_subscription(&device.device_id, subscription, state.clock.now())
        .await?;
    metrics::counter!("amina_push_subscriptions_total").increment(1);
    tracing::info!(person_id = record.person_id, lang = %record.lang, "push subscription stored");
    Ok(Json(PushSubscriptionResponse {
        status: record.status.as_str().into(),
        subscribed_at: record.subscribed_at.to_string(),
    }))
}

/// Remove this device's push subscription (the app turned notifications
/// off). Idempotent.
#[utoipa::path(
    delete, path = "/v1/push-subscription",
    responses(
        (status = 204, description = "no active subscription any more"),
        (status = 401, body = ErrorBody, description = "signature_*, unknown_device"),
        (status = 429, body = ErrorBody, description = "rate_limited: too many requests from this device (Retry-After)"),
        (status = 403, body = ErrorBody, description = "device_revoked"),
    )
)]
pub async fn delete_subscription(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let device =
        verify_device_request(&state, "DELETE", "/v1/push-subscription", &headers, None).await?;
    state
        .store
        .remove_subscription(&device.device_id, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The daily check-in: what the app can see when it is opened.
#[utoipa::path(
    post, path = "/v1/checkins", request_body = CheckinRequest,
    responses(
        (status = 201, body = CheckinResponse),
        (status = 413, body = ErrorBody, description = "body_too_large"),
        (status = 400, body = ErrorBody, description = "malformed_json, unknown_field, digest_mismatch"),
        (status = 401, body = ErrorBody, description = "signature_*, unknown_device"),
        (status = 429, body = ErrorBody, description = "rate_limited: too many requests from this device (Retry-After)"),
        (status = 403, body = ErrorBody, description = "device_revoked"),
        (status = 422, body = ErrorBody, description = "invalid_permission, invalid_queued_fixes, invalid_geo_error, invalid_battery"),
    )
)]
pub async fn checkin(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<CheckinResponse>), ApiError> {
    let bytes = read_body(body, 4 * 1024).await?;
    let device =
        verify_device_request(&state, "POST", "/v1/checkins", &headers, Some(&bytes)).await?;
    let req: CheckinRequest = parse_json(&bytes)?;
    let checkin = parse_checkin(&req, state.clock.now())?;
    let record = state
        .store
        .record_checkin(&device.device_id, checkin)
        .await?;
    metrics::counter!("amina_checkins_total").increment(1);
    Ok((
        StatusCode::CREATED,
        Json(CheckinResponse {
            recorded_at: record.checkin.at.to_string(),
        }),
    ))
}

/// Check a subscription: an https endpoint (or loopback http where
/// allowed), a valid P-256 point and a 16-byte secret, a known language.
pub fn parse_subscription(
    req: &PushSubscriptionRequest,
    allow_loopback_http: bool,
) -> Result<NewSubscription, ApiError> {
    let bad_endpoint =
        |why: &str| ApiError::unprocessable("invalid_push_endpoint", why.to_string());
    if req.endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(bad_endpoint("the endpoint is too long"));
    }
    let url = reqwest::Url::parse(&req.endpoint)
        .map_err(|_| bad_endpoint("the endpoint is not an absolute URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if allow_loopback_http && loopback => {}
        _ => return Err(bad_endpoint("the endpoint must be an https URL")),
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(bad_endpoint(
            "the endpoint must not carry credentials or a fragment",
        ));
    }
    let p256dh = URL_SAFE_NO_PAD
        .decode(req.keys.p256dh.trim_end_matches('='))
        .ok()
        .filter(|k| k.len() == 65 && k[0] == 4 && is_p256_point(k))
        .ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_push_key",
                "keys.p256dh must be an uncompressed P-256 public key (65 bytes, base64url)",
            )
        })?;
    let auth = URL_SAFE_NO_PAD
        .decode(req.keys.auth.trim_end_matches('='))
        .ok()
        .filter(|a| a.len() == 16)
        .ok_or_else(|| {
            ApiError::unprocessable("invalid_push_auth", "keys.auth must be 16 bytes, base64url")
        })?;
    if !crate::i18n::LANGS.contains(&req.lang.as_str()) {
        return Err(ApiError::unprocessable(
            "invalid_language",
            format!("lang must be one of {:?}", crate::i18n::LANGS),
        ));
    }
    Ok(NewSubscription {
        endpoint: req.endpoint.clone(),
        p256dh,
        auth,
        lang: req.lang.clone(),
    })
}

/// Whether `key` is a point on P-256: ring checks the peer key of a key
/// agreement, so agree with a throwaway key.
fn is_p256_point(key: &[u8]) -> bool {
    use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, ECDH_P256};
    let rng = ring::rand::SystemRandom::new();
    let Ok(mine) = EphemeralPrivateKey::generate(&ECDH_P256, &rng) else {
        return false;
    };
    agree_ephemeral(mine, &UnparsedPublicKey::new(&ECDH_P256, key), |_| ()).is_ok()
}

pub fn parse_checkin(req: &CheckinRequest, now: jiff::Timestamp) -> Result<Checkin, ApiError> {
    let permission = |v: &str| {
        Permission::parse(v).ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_permission",
                "location and notifications must be granted, prompt, denied or unsupported",
            )
        })
    };
    let queued_fixes = u32::try_from(req.queued_fixes)
        .ok()
        .filter(|n| *n <= MAX_QUEUED_FIXES)
        .ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_queued_fixes",
                format!("queued_fixes must be 0..={MAX_QUEUED_FIXES}"),
            )
        })?;
    let geo_error = req
        .geo_error
        .map(|c| {
            GeoError::from_code(c).ok_or_else(|| {
                ApiError::unprocessable("invalid_geo_error", "geo_error must be 1, 2 or 3")
            })
        })
        .transpose()?;
    let battery_pct = req
        .battery_pct
        .map(|b| {
            u8::try_from(b)
                .ok()
                .filter(|b| *b <= BatteryPct::MAX)
                .ok_or_else(|| {
                    ApiError::unprocessable("invalid_battery", "battery_pct must be 0..=100")
                })
        })
        .transpose()?;
    Ok(Checkin {
        at: now,
        location: permission(&req.location)?,
        notifications: permission(&req.notifications)?,
        queued_fixes,
        geo_error,
        battery_pct,
        charging: req.charging,
        network: None,
        client: CheckinClient::App,
    })
}
