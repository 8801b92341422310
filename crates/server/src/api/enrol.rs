//! Enrolment with card number and activation secret.
//!
//! Guessing secrets is made slow and then impossible: after each wrong
//! secret the card must wait an exponentially growing pause (429 with
//! Retry-After), and after the configured number of consecutive failures it
//! is locked until an operator unlocks it (423). Unknown cards and wrong
//! secrets get the same answer, so card numbers cannot be probed.

use amina_client::proto::{EnrolRequest, EnrolResponse, ErrorBody};
use amina_domain::types::CardNumber;
use amina_store::NewBindingToken;
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::Engine as _;
use jiff::SignedDuration;

use super::{parse_json, read_body};
use crate::error::ApiError;
use crate::state::AppState;

/// Enrol with a foreign citizen card and its activation secret, or with a
/// one-time code from a migration-centre operator (`{"code": …}`, see
/// `super::stay`); returns a single-use binding token.
#[utoipa::path(
    post, path = "/v1/enrolments", request_body = EnrolBody,
    responses(
        (status = 201, body = EnrolResponse, description = "Enrolled; bind a device with the token"),
        (status = 413, body = ErrorBody, description = "body_too_large"),
        (status = 400, body = ErrorBody, description = "malformed_json, unknown_field"),
        (status = 401, body = ErrorBody, description = "invalid_credentials"),
        (status = 403, body = ErrorBody, description = "card_expired, card_invalid (declared invalid by the federal migration system)"),
        (status = 404, body = ErrorBody, description = "enrolment_code_unknown"),
        (status = 409, body = ErrorBody, description = "enrolment_code_used"),
        (status = 410, body = ErrorBody, description = "enrolment_code_expired, enrolment_code_superseded"),
        (status = 422, body = ErrorBody, description = "invalid_card_number, invalid_secret, invalid_enrolment_code"),
        (status = 423, body = ErrorBody, description = "card_locked"),
        (status = 429, body = ErrorBody, description = "too_many_attempts (Retry-After)"),
    )
)]
pub async fn enrol(
    State(state): State<AppState>,
    body: Body,
) -> Result<(StatusCode, Json<EnrolResponse>), ApiError> {
    let bytes = read_body(body, 16 * 1024).await?;
    if is_code_request(&bytes) {
        return super::stay::enrol_with_code(&state, &bytes).await;
    }
    let req: EnrolRequest = parse_json(&bytes)?;
    let number = CardNumber::parse(&req.card_number)
        .map_err(|e| ApiError::unprocessable(e.code(), e.to_string()))?;
    let secret_chars = req.activation_secret.chars().count();
    if !(1..=MAX_SECRET_CHARS).contains(&secret_chars) {
        return Err(ApiError::unprocessable(
            "invalid_secret",
            format!("the activation secret must be 1 to {MAX_SECRET_CHARS} characters"),
        ));
    }
    let now = state.clock.now();
    let cfg = &state.config.enrolment;
    let invalid = || ApiError::unauthorized("invalid_credentials", "wrong card number or secret");

    let Some(card) = state.store.card_login(&number).await? else {
        return Err(invalid());
    };
    if card.locked_at.is_some() {
        return Err(locked());
    }
    if let (Some(last), k) = (card.last_failed_at, card.failed_attempts) {
        if k > 0 {
            let wait = backoff_s(cfg.backoff_base_s, cfg.backoff_max_s, k);
            let until = last + SignedDuration::from_secs(wait as i64);
            if now < until {
                let left = until.duration_since(now).as_secs().max(1) as u64;
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    "too many wrong secrets; wait before trying again",
                )
                .retry_after(left));
            }
        }
    }

    let hash = card.secret_hash.clone();
    let secret = req.activation_secret.clone();
    let matches = tokio::task::spawn_blocking(move || verify_secret(&hash, &secret))
        .await
        .map_err(|_| ApiError::internal())?;
    if !matches {
        let after = state
            .store
            .record_failed_attempt(&number, now, cfg.lock_after_failures)
            .await?;
        tracing::info!(attempts = after.failed_attempts, "wrong activation secret");
        if after.locked_at.is_some() {
            return Err(locked());
        }
        let left = cfg
            .lock_after_failures
            .saturating_sub(after.failed_attempts);
        return Err(invalid().with_detail(serde_json::json!({"attempts_left": left})));
    }

    let today = amina_domain::time::moscow_date(now);
    if card.valid_until < today {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "card_expired",
            format!("the card expired on {}", card.valid_until),
        ));
    }

    let (token, hash) = new_token();
    let expires_at = now + SignedDuration::from_secs(i64::from(cfg.binding_token_ttl_s));
    let enrolment = state
        .store
        .enrol(
            &state.monitor,
            &number,
            NewBindingToken {
                hash,
                expires_at,
                issued_by: "self".into(),
            },
            now,
        )
        .await?;
    metrics::counter!("amina_enrolments_total").increment(1);
    tracing::info!(
        person_id = enrolment.person_id,
        new = enrolment.new_registration,
        "enrolled"
    );
    Ok((
        StatusCode::CREATED,
        Json(EnrolResponse {
            binding_token: token,
            binding_token_expires_at: expires_at.to_string(),
            new_registration: enrolment.new_registration,
        }),
    ))
}

/// The two forms of the enrolment body, for the API description: either
/// object as it is, not wrapped in a `Secret` / `Code` member (untagged).
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(untagged)]
#[allow(dead_code)] // documents the body; requests are dispatched by `is_code_request`
pub enum EnrolBody {
    Secret(EnrolRequest),
    Code(amina_client::stay::CodeEnrolRequest),
}

/// Longest activation secret, in characters.
pub(crate) const MAX_SECRET_CHARS: usize = 256;

/// A body with a `code` member is a code enrolment; anything else is read
/// as card + secret (and refused with that form's errors).
fn is_code_request(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes)
        .is_ok_and(|m| m.contains_key("code"))
}

fn locked() -> ApiError {
    ApiError::new(
        StatusCode::LOCKED,
        "card_locked",
        "this card is locked after too many wrong secrets; visit a migration centre",
    )
}

/// Seconds to wait after the k-th consecutive failure.
pub fn backoff_s(base: u32, max: u32, failures: u32) -> u32 {
    let exp = failures.saturating_sub(1).min(20);
    base.saturating_mul(1 << exp).min(max)
}

/// Check a secret against its Argon2 PHC hash. CPU-heavy: call from a
/// blocking thread.
pub fn verify_secret(phc: &str, secret: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A random single-use token and the SHA-256 hash that is stored.
pub fn new_token() -> (String, [u8; 32]) {
    let mut raw = [0u8; 32];
    rand::fill(&mut raw);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    (token.clone(), token_hash(&token))
}

pub fn token_hash(token: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_s(2, 300, 1), 2);
        assert_eq!(backoff_s(2, 300, 2), 4);
        assert_eq!(backoff_s(2, 300, 4), 16);
        assert_eq!(backoff_s(2, 300, 30), 300);
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        assert_eq!(token_hash(&a), ha);
    }
}

#[cfg(test)]
mod schema_tests {
    use utoipa::OpenApi;

    /// Found by API schema testing (tests/api_schema.rs): the document
    /// described the body as `{"Secret": {…}}` or `{"Code": {…}}`, which
    /// the server refuses; it reads the two objects as they are.
    #[test]
    fn the_documented_enrolment_body_is_what_the_server_reads() {
        let doc = serde_json::to_value(super::super::ApiDoc::openapi()).expect("JSON");
        let schema = &doc["components"]["schemas"]["EnrolBody"];
        let variants = schema["oneOf"].as_array().expect("oneOf");
        let refs: Vec<&str> = variants.iter().filter_map(|v| v["$ref"].as_str()).collect();
        assert_eq!(
            refs,
            [
                "#/components/schemas/EnrolRequest",
                "#/components/schemas/CodeEnrolRequest"
            ],
            "{schema}"
        );
    }
}
