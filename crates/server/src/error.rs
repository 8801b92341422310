//! The one place where failures become HTTP responses.
//!
//! Every error body is `{"error": "<code>", "message": "...", "detail": …}`
//! with a stable machine-readable code. Internal causes are logged, never
//! sent: a 500 says only "internal_error". Database unavailability is a 503
//! with Retry-After, so phones keep their queue and retry.

use amina_client::proto::ErrorBody;
use amina_store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub detail: Option<serde_json::Value>,
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            detail: None,
            retry_after_s: None,
        }
    }
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds);
        self
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; it has been logged",
        )
    }
}

impl From<crate::limits::Limited> for ApiError {
    fn from(l: crate::limits::Limited) -> Self {
        metrics::counter!("amina_rate_limited_total", "scope" => l.scope.as_str()).increment(1);
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many requests from this {}; retry after the given seconds",
                l.scope.as_str().replace('_', "-")
            ),
        )
        .with_detail(serde_json::json!({ "scope": l.scope.as_str() }))
        .retry_after(l.retry_after_s())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the service is temporarily unavailable; retry later",
                )
                .retry_after(5)
            }
            StoreError::UnknownDevice => {
                ApiError::unauthorized("unknown_device", "this device is not bound")
            }
            StoreError::DeviceRevoked => ApiError::new(
                StatusCode::FORBIDDEN,
                "device_revoked",
                "this device was revoked; bind the app again",
            ),
            StoreError::UnknownCard => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_card", "unknown card")
            }
            StoreError::UnknownPerson => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_person", "unknown person")
            }
            StoreError::BindingTokenInvalid => ApiError::unauthorized(
                "binding_token_invalid",
                "the binding token is unknown, expired or already used; enrol again",
            ),
            StoreError::KeyAlreadyBound => ApiError::new(
                StatusCode::CONFLICT,
                "key_already_bound",
                "this key is already bound; generate a new key",
            ),
            StoreError::Batch(b) => {
                let status = match b {
                    amina_domain::monitor::BatchError::SequenceReused { .. } => {
                        StatusCode::CONFLICT
                    }
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                let detail = match &b {
                    amina_domain::monitor::BatchError::Rejected { index, seq, .. } => {
                        serde_json::json!({"index": index, "seq": seq})
                    }
                    amina_domain::monitor::BatchError::SequenceReused { seq }
                    | amina_domain::monitor::BatchError::DuplicateInBatch { seq } => {
                        serde_json::json!({"seq": seq})
                    }
                };
                ApiError::new(status, b.code(), b.to_string()).with_detail(detail)
            }
            StoreError::UnknownSignal => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_signal", "unknown signal")
            }
            StoreError::Console(c) => {
                use amina_store::ConsoleError as C;
                let status = match &c {
                    C::AccountExists | C::TotpReplayed | C::RegistryState(_) => {
                        StatusCode::CONFLICT
                    }
                    C::OutcomeRecorded | C::OwnAccount => StatusCode::CONFLICT,
                    C::UnknownAccount | C::UnknownCase | C::UnknownRegistryEntry => {
                        StatusCode::NOT_FOUND
                    }
                    C::UnknownSpotCheck => StatusCode::NOT_FOUND,
                    C::CaseExpired(_) | C::CaseClosed | C::NotCaseOwner => StatusCode::FORBIDDEN,
                    C::Rule(_) => StatusCode::UNPROCESSABLE_ENTITY,
                };
                ApiError::new(status, c.code(), c.to_string())
            }
            StoreError::Review(r) => ApiError::new(StatusCode::CONFLICT, r.code(), r.to_string()),
            StoreError::Stay(e) => stay_error(e),
            StoreError::Integration(e) => {
                use amina_store::IntegrationError as I;
                let status = match &e {
                    I::EventIdReused { .. } => StatusCode::CONFLICT,
                    I::UnknownEvent => StatusCode::NOT_FOUND,
                    I::CardInvalidated => StatusCode::FORBIDDEN,
                };
                ApiError::new(status, e.code(), e.to_string())
            }
            StoreError::Host(e) => host_error(e),
            StoreError::Rule(msg) => ApiError::unprocessable("date_outside_calendar", msg),
            StoreError::Internal(cause) => {
                tracing::error!(%cause, "internal storage error");
                ApiError::internal()
            }
        }
    }
}

/// OwnTracks refusals: the protocol's own codes and statuses (the handler
/// adds `WWW-Authenticate: Basic` to a 401, as HTTP requires).
impl From<crate::owntracks::OwnTracksError> for ApiError {
    fn from(e: crate::owntracks::OwnTracksError) -> Self {
        ApiError::new(e.status(), e.code(), e.to_string())
    }
}

/// Place-of-stay and enrolment-code refusals: the domain's code, its
/// message, and the dates a person needs to correct a notice.
fn stay_error(e: amina_store::StayError) -> ApiError {
    use amina_domain::enrolment_code::CodeRefusal;
    use amina_domain::stay::NoticeRefusal;
    use amina_store::StayError;
    match e {
        StayError::UnknownAddress => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_address",
            "no such address in the register",
        ),
        StayError::Notice(r) => {
            let status = match r {
                NoticeRefusal::NotRegistered => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let detail = match &r {
                NoticeRefusal::BeforeRegistration { start } => {
                    Some(serde_json::json!({"earliest": start.to_string()}))
                }
                NoticeRefusal::TooFarAhead { latest, .. } => {
                    Some(serde_json::json!({"latest": latest.to_string()}))
                }
                NoticeRefusal::BeforeCurrentNotice { current } => {
                    Some(serde_json::json!({"earliest": current.to_string()}))
                }
                _ => None,
            };
            let err = ApiError::new(status, r.code(), r.to_string());
            match detail {
                Some(d) => err.with_detail(d),
                None => err,
            }
        }
        StayError::Code(c) => {
            let status = match c {
                CodeRefusal::Unknown => StatusCode::NOT_FOUND,
                CodeRefusal::Used => StatusCode::CONFLICT,
                CodeRefusal::Expired | CodeRefusal::Superseded => StatusCode::GONE,
            };
            ApiError::new(status, c.code(), c.to_string())
        }
        StayError::CardExpired { valid_until } => ApiError::new(
            StatusCode::FORBIDDEN,
            "card_expired",
            format!("the card expired on {valid_until}"),
        ),
    }
}

/// Host-party refusals: the domain's or the store's code and message.
fn host_error(e: amina_store::HostError) -> ApiError {
    use amina_store::HostError;
    let status = match &e {
        HostError::UnknownHostParty | HostError::NotYourTenant => StatusCode::NOT_FOUND,
        HostError::DocumentExists | HostError::DisputeOpen => StatusCode::CONFLICT,
        HostError::UnknownProperty(_) | HostError::Child(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, e.code(), e.to_string())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!("amina_http_errors_total", "code" => self.code).increment(1);
        let body = ErrorBody {
            error: self.code.to_string(),
            message: self.message,
            detail: self.detail,
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
