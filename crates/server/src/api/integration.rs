//! The integration API with the federal migration system: inbound events,
//! the outbound feed and the sender's refused deliveries.
//!
//! Every request is signed by its sender (RFC 9421 with `hmac-sha256` and
//! the sender's shared key, see `amina_client::integration`); an unsigned or
//! wrongly signed request is refused with 401 and stored nowhere. A signed
//! request whose content is refused (malformed JSON, unknown event type, a
//! bad field, a date outside the production calendar, an event id reused
//! for other content) is answered 4xx with a machine-readable reason and
//! kept in `integration_rejections`, where the sender
//! (`GET /v1/integration/rejections`) and officers (`amina events list
//! --rejected`) can see it. Nothing else changes for a refused request.

use std::collections::HashMap;

use amina_client::integration::{
    hmac_verify, EventReceipt, EventWire, FeedEntryWire, FeedPage, IntegrationSignature,
    RejectionWire, RejectionsPage,
};
use amina_client::proto::{content_digest, parse_signature_header, ErrorBody, CONTENT_DIGEST};
use amina_domain::calendar::ProductionCalendar;
use amina_domain::integration::{
    check_time, EventBody, EventId, EventKind, EventRefusal, InboundEvent, RegionCode,
};
use amina_domain::types::CardNumber;
use amina_store::{EventRecord, NewEvent, Rejection, StoreError};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use jiff::{SignedDuration, Timestamp};

use super::read_body;
use crate::error::ApiError;
use crate::state::AppState;

const EVENTS_PATH: &str = "/v1/integration/events";
const FEED_PATH: &str = "/v1/integration/feed";
const REJECTIONS_PATH: &str = "/v1/integration/rejections";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Check the sender's signature; returns the sender id.
pub fn verify_sender(
    state: &AppState,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: Option<&[u8]>,
) -> Result<String, ApiError> {
    let (Some(input), Some(sig)) = (
        header(headers, "signature-input"),
        header(headers, "signature"),
    ) else {
        return Err(ApiError::unauthorized(
            "signature_missing",
            "Signature-Input and Signature headers are required (RFC 9421, hmac-sha256)",
        ));
    };
    let params = IntegrationSignature::parse(input)
        .map_err(|e| ApiError::unauthorized("signature_malformed", e.to_string()))?;
    let tag = parse_signature_header(sig)
        .map_err(|e| ApiError::unauthorized("signature_malformed", e.to_string()))?;
    let now = state.clock.now();
    if (now.as_second() - params.created).abs() > i64::from(state.config.rules.clock_skew_s) {
        return Err(ApiError::unauthorized(
            "signature_expired",
            "the signature's created time is too far from the server's clock",
        )
        .with_detail(serde_json::json!({"server_time": now.to_string()})));
    }
    let Some(key) = state.config.integration.senders.get(&params.keyid) else {
        return Err(ApiError::unauthorized(
            "unknown_sender",
            "no sender with this keyid is configured",
        ));
    };
    let Some(key) = key.bytes() else {
        tracing::error!(sender = %params.keyid, "sender key is not base64 of at least 32 bytes");
        return Err(ApiError::unauthorized(
            "unknown_sender",
            "no usable key is configured for this sender",
        ));
    };
    let digest = match body {
        Some(body) => {
            if !params.covers_digest {
                return Err(ApiError::unauthorized(
                    "signature_malformed",
                    "a request with a body must sign content-digest",
                ));
            }
            let sent = header(headers, CONTENT_DIGEST).ok_or_else(|| {
                ApiError::unauthorized("digest_missing", "Content-Digest header is required")
            })?;
            let actual = content_digest(body);
            if sent != actual {
                return Err(ApiError::unauthorized(
                    "digest_mismatch",
                    "Content-Digest does not match the body",
                ));
            }
            Some(actual)
        }
        None => None,
    };
    let base = params.signature_base(method, path, query, digest.as_deref());
    if !hmac_verify(&key, &base, &tag) {
        return Err(ApiError::unauthorized(
            "signature_invalid",
            "the signature does not verify with the sender's key",
        ));
    }
    Ok(params.keyid)
}

/// Most refused deliveries one page of `GET /v1/integration/rejections` lists.
pub const MAX_REJECTIONS_LIMIT: u32 = 1000;

/// Convert a wire event into the domain's event, or say what is wrong.
pub fn parse_event(w: &EventWire) -> Result<InboundEvent, EventRefusal> {
    let kind =
        EventKind::from_code(&w.kind).ok_or_else(|| EventRefusal::UnknownType(w.kind.clone()))?;
    let event_id = EventId::parse(&w.event_id)?;
    let card_number =
        CardNumber::parse(&w.card_number).map_err(|_| EventRefusal::CardNumber("card_number"))?;
    let occurred_at: Timestamp = w.occurred_at.parse().map_err(|_| EventRefusal::Instant)?;
    // Both backends keep milliseconds.
    let occurred_at = Timestamp::from_millisecond(occurred_at.as_millisecond())
        .map_err(|_| EventRefusal::Instant)?;
    let none = |v: &Option<String>, name: &'static str| match v {
        Some(_) => Err(EventRefusal::NotAllowed(name)),
        None => Ok(()),
    };
    let body = match kind {
        EventKind::RegisteredInRegion => {
            none(&w.new_card_number, "new_card_number")?;
            none(&w.new_card_valid_until, "new_card_valid_until")?;
            let region = w.region.as_deref().ok_or(EventRefusal::Missing("region"))?;
            EventBody::RegisteredInRegion {
                region: RegionCode::parse(region)?,
            }
        }
        EventKind::LeftCountry | EventKind::DocumentInvalidated => {
            none(&w.region, "region")?;
            none(&w.new_card_number, "new_card_number")?;
            none(&w.new_card_valid_until, "new_card_valid_until")?;
            if kind == EventKind::LeftCountry {
                EventBody::LeftCountry
            } else {
                EventBody::DocumentInvalidated
            }
        }
        EventKind::CardReissued => {
            none(&w.region, "region")?;
            let number = w
                .new_card_number
                .as_deref()
                .ok_or(EventRefusal::Missing("new_card_number"))?;
            let new_card_number = CardNumber::parse(number)
                .map_err(|_| EventRefusal::CardNumber("new_card_number"))?;
            if new_card_number == card_number {
                return Err(EventRefusal::SameCard);
            }
            let valid = w
                .new_card_valid_until
                .as_deref()
                .ok_or(EventRefusal::Missing("new_card_valid_until"))?;
            EventBody::CardReissued {
                new_card_number,
                new_card_valid_until: valid.parse().map_err(|_| EventRefusal::Date)?,
            }
        }
    };
    Ok(InboundEvent {
        event_id,
        card_number,
        occurred_at,
        body,
    })
}

/// Parse and check an event body as `POST /v1/integration/events` does once
/// the sender's signature checked out: JSON, then the event's fields, then
/// its times against `now` and the production calendar.
pub fn parse_event_body(
    bytes: &[u8],
    calendar: &ProductionCalendar,
    now: Timestamp,
    skew: SignedDuration,
) -> Result<InboundEvent, ApiError> {
    let wire: EventWire = super::parse_json(bytes)?;
    let event = parse_event(&wire).map_err(|e| refusal(&e))?;
    check_time(&event, calendar, now, skew).map_err(|e| refusal(&e))?;
    Ok(event)
}

fn refusal(e: &EventRefusal) -> ApiError {
    ApiError::unprocessable(e.code(), e.to_string())
}

/// Keep a refused delivery and answer it.
async fn rejected(
    state: &AppState,
    sender: &str,
    event_id: Option<String>,
    err: ApiError,
) -> ApiError {
    let kept = state
        .store
        .record_rejection(Rejection {
            sender: sender.to_string(),
            event_id,
            received_at: state.clock.now(),
            error: err.code.to_string(),
            message: err.message.clone(),
        })
        .await;
    if let Err(e) = kept {
        tracing::warn!(error = %e, "could not keep a refused integration event");
    }
    metrics::counter!("amina_integration_events_total", "result" => "rejected").increment(1);
    tracing::info!(sender, code = err.code, "integration event refused");
    err
}

fn receipt(r: &EventRecord, duplicate: bool) -> EventReceipt {
    EventReceipt {
        event_id: r.event.event_id.as_str().to_string(),
        duplicate,
        status: r.status.clone(),
        outcome: r.outcome.code().to_string(),
        explanation: r.outcome.explanation().to_string(),
        received_at: r.received_at.to_string(),
        decided_at: r.decided_at.to_string(),
    }
}

/// The pilot regions' codes, for the rules.
pub fn pilot_codes(state: &AppState) -> Vec<String> {
    state
        .config
        .regions
        .pilot
        .iter()
        .map(|r| r.code.clone())
        .collect()
}

#[utoipa::path(
    post, path = "/v1/integration/events", request_body = EventWire,
    tag = "integration",
    responses(
        (status = 201, body = EventReceipt, description = "Stored and decided (applied, no_change or unknown_person)"),
        (status = 200, body = EventReceipt, description = "A repeat of an event already received: nothing applied again"),
        (status = 400, body = ErrorBody, description = "malformed_json, unknown_field"),
        (status = 401, body = ErrorBody, description = "signature_missing, signature_malformed, signature_expired, signature_invalid, unknown_sender, digest_missing, digest_mismatch"),
        (status = 409, body = ErrorBody, description = "event_id_reused (the id was used for a different event)"),
        (status = 413, body = ErrorBody, description = "body_too_large"),
        (status = 422, body = ErrorBody, description = "unknown_event_type, invalid_event_id, invalid_region, missing_field, field_not_allowed, invalid_card_number, invalid_occurred_at, invalid_date, occurred_in_future, date_outside_calendar, same_card_number"),
    )
)]
pub async fn receive_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<EventReceipt>), ApiError> {
    let bytes = read_body(body, state.config.integration.max_body_bytes).await?;
    let sender = verify_sender(&state, "POST", EVENTS_PATH, "", &headers, Some(&bytes))?;
    // The id as sent, for the rejection record, even if the rest is bad.
    let raw_id = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| {
            v.get("event_id")?
                .as_str()
                .map(|s| s.chars().take(128).collect())
        });
    let now = state.clock.now();
    let skew = SignedDuration::from_secs(i64::from(state.config.rules.clock_skew_s));
    let event = match parse_event_body(&bytes, &state.monitor.calendar, now, skew) {
        Ok(e) => e,
        Err(e) => return Err(rejected(&state, &sender, raw_id, e).await),
    };
    let canonical = serde_json::to_vec(&event).map_err(|_| ApiError::internal())?;
    let digest = content_digest(&canonical);
    let result = state
        .store
        .receive_event(
            &state.monitor,
            NewEvent {
                sender: sender.clone(),
                event,
                digest,
                received_at: now,
            },
            pilot_codes(&state),
            now,
        )
        .await;
    let receipt_ = match result {
        Ok(r) => r,
        Err(e @ StoreError::Integration(_)) => {
            return Err(rejected(&state, &sender, raw_id, ApiError::from(e)).await)
        }
        Err(e) => return Err(e.into()),
    };
    let r = &receipt_.record;
    let label = if receipt_.duplicate {
        "duplicate"
    } else {
        r.status.as_str()
    };
    metrics::counter!("amina_integration_events_total", "result" => label.to_string()).increment(1);
    tracing::info!(
        sender,
        event = r.id,
        kind = r.event.body.kind().code(),
        outcome = r.outcome.code(),
        duplicate = receipt_.duplicate,
        "integration event"
    );
    let status = if receipt_.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(receipt(r, receipt_.duplicate))))
}

#[utoipa::path(
    get, path = "/v1/integration/feed",
    tag = "integration",
    params(
        ("after" = Option<i64>, Query, description = "the last position already read (0 or absent: from the start)", example = 40),
        ("limit" = Option<u32>, Query, description = "most entries to return (default 100, at most `integration.feed_max_limit`)", example = 100),
    ),
    responses(
        (status = 200, body = FeedPage, description = "Published changes after the cursor, oldest first"),
        (status = 400, body = ErrorBody, description = "invalid_cursor, invalid_limit, unknown_parameter"),
        (status = 401, body = ErrorBody, description = "signature_* , unknown_sender"),
    )
)]
pub async fn feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<FeedPage>, ApiError> {
    let query = query.unwrap_or_default();
    verify_sender(&state, "GET", FEED_PATH, &query, &headers, None)?;
    let params = query_params(&query, &["after", "limit"])?;
    let after = match params.get("after") {
        None => 0,
        Some(v) => v.parse::<i64>().ok().filter(|a| *a >= 0).ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "after must be a position, 0 or more")
        })?,
    };
    let max = state.config.integration.feed_max_limit.max(1);
    let limit = match params.get("limit") {
        None => 100.min(max),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| {
                ApiError::bad_request("invalid_limit", format!("limit must be 1 to {max}"))
            })?,
    };
    // Publish what has committed, so the reader sees every change now.
    crate::integration_job::publish_all(&state).await?;
    let mut entries = state.store.feed(after, limit + 1).await?;
    let has_more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next_after = entries.last().map(|e| e.position).unwrap_or(after);
    Ok(Json(FeedPage {
        entries: entries
            .into_iter()
            .map(|e| FeedEntryWire {
                position: e.position,
                kind: e.kind.as_str().to_string(),
                card_number: e.card_number,
                occurred_at: e.occurred_at.to_string(),
                published_at: e.published_at.to_string(),
                details: e.payload,
            })
            .collect(),
        next_after,
        has_more,
    }))
}

#[utoipa::path(
    get, path = "/v1/integration/rejections",
    tag = "integration",
    params(("limit" = Option<u32>, Query, description = "most to return (default 100, at most 1000)")),
    responses(
        (status = 200, body = RejectionsPage, description = "This sender's refused deliveries, newest first"),
        (status = 400, body = ErrorBody, description = "invalid_limit, unknown_parameter"),
        (status = 401, body = ErrorBody, description = "signature_*, unknown_sender"),
    )
)]
pub async fn rejections(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<RejectionsPage>, ApiError> {
    let query = query.unwrap_or_default();
    let sender = verify_sender(&state, "GET", REJECTIONS_PATH, &query, &headers, None)?;
    let params = query_params(&query, &["limit"])?;
    let limit = match params.get("limit") {
        None => 100,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_REJECTIONS_LIMIT).contains(l))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_limit",
                    format!("limit must be 1 to {MAX_REJECTIONS_LIMIT}"),
                )
            })?,
    };
    let list = state.store.rejections(Some(sender), limit).await?;
    Ok(Json(RejectionsPage {
        rejections: list
            .into_iter()
            .map(|r| RejectionWire {
                event_id: r.rejection.event_id,
                received_at: r.rejection.received_at.to_string(),
                error: r.rejection.error,
                message: r.rejection.message,
            })
            .collect(),
    }))
}

fn query_params(query: &str, known: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if !known.contains(&k.as_ref()) {
            return Err(ApiError::bad_request(
                "unknown_parameter",
                format!("unknown query parameter {k:?}"),
            ));
        }
        out.insert(k.into_owned(), v.into_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(kind: &str) -> EventWire {
        EventWire {
            event_id: "e-1".into(),
            kind: kind.into(),
            occurred_at: "2025-12-01T07:30:00.123456Z".into(),
            card_number: "AB0000001".into(),
            region: None,
            new_card_number: None,
            new_card_valid_until: None,
        }
    }

    #[test]
    fn wire_events_are_parsed_by_type() {
        let mut w = wire("registered_in_region");
        assert_eq!(parse_event(&w).unwrap_err().code(), "missing_field");
        w.region = Some("RU-TVE".into());
        let e = parse_event(&w).unwrap();
        // Truncated to milliseconds.
        assert_eq!(e.occurred_at.to_string(), "2025-12-01T07:30:00.123Z");
        w.new_card_number = Some("AB0000002".into());
        assert_eq!(parse_event(&w).unwrap_err().code(), "field_not_allowed");

        assert_eq!(
            parse_event(&wire("moved_to_mars")).unwrap_err().code(),
            "unknown_event_type"
        );
        assert!(parse_event(&wire("left_country")).is_ok());
        let mut bad = wire("left_country");
        bad.occurred_at = "yesterday".into();
        assert_eq!(parse_event(&bad).unwrap_err().code(), "invalid_occurred_at");

        let mut r = wire("card_reissued");
        r.new_card_number = Some("AB0000001".into());
        r.new_card_valid_until = Some("2030-01-01".into());
        assert_eq!(parse_event(&r).unwrap_err().code(), "same_card_number");
        r.new_card_number = Some("AB0000009".into());
        assert!(parse_event(&r).is_ok());
        r.new_card_valid_until = Some("soon".into());
        assert_eq!(parse_event(&r).unwrap_err().code(), "invalid_date");
    }
}
