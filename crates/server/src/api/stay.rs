//! The person's place of stay, their data, and enrolment with a one-time
//! code. Device endpoints here are signed like `POST /v1/fixes` (see
//! `crate::proof`); enrolment with a code, like enrolment with card and
//! secret, is not (the phone has no key yet).
//!
//! Input is parsed once at the edge into domain values (`AddressId`,
//! `HostName`, dates, `EnrolmentCode`); the rules are the domain's
//! (`amina_domain::stay`), applied by the store inside the transaction
//! that writes, so a refused notice leaves nothing behind.

use std::collections::HashMap;

use amina_client::proto::{EnrolResponse, ErrorBody, StatusView};
use amina_client::stay::{
    AccessesView, AddressSearchResponse, AddressView, ChildView, CodeEnrolRequest, DeviceView,
    FixesView, IdentityView, MyDataView, NoticeRequest, NoticeResponse, NoticeView,
    NoticesResponse, RegistrationView, SignalView, WordedDate,
};
use amina_domain::enrolment_code::EnrolmentCode;
use amina_domain::stay::{query_terms, Address, AddressId, HostName, NoticeRules, NoticeState};
use amina_domain::time::moscow_date;
use amina_store::{NewBindingToken, NewNotice, NoticeRecord, SignalQuery};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use super::{parse_json, read_body};
use crate::error::ApiError;
use crate::proof::verify_active_device;
use crate::state::AppState;

/// Longest search query, in characters.
pub(crate) const MAX_QUERY_CHARS: usize = 100;

pub fn worded(date: Date) -> WordedDate {
    WordedDate {
        date: date.to_string(),
        text: crate::i18n::date_texts(date),
    }
}

/// The Moscow calendar day of an instant, in words.
pub fn worded_day(t: Timestamp) -> WordedDate {
    worded(moscow_date(t))
}

pub fn address_view(a: &Address) -> AddressView {
    AddressView {
        id: a.id.to_string(),
        region: a.region.clone(),
        municipality: a.municipality.clone(),
        street: a.street.clone(),
        house: a.house.clone(),
        flat: a.flat.clone(),
        residential: a.residential,
        lat: a.position.lat(),
        lon: a.position.lon(),
    }
}

pub fn notice_view(n: &NoticeRecord) -> NoticeView {
    NoticeView {
        id: n.id,
        address: address_view(&n.address),
        date_from: worded(n.date_from),
        host_name: n.host_name.clone(),
        submitted_at: n.submitted_at.to_string(),
        submitted_on: worded_day(n.submitted_at),
        state: n.state.as_str().into(),
        superseded_at: n.superseded_at.map(|t| t.to_string()),
    }
}

fn rules(state: &AppState) -> NoticeRules {
    NoticeRules {
        max_days_ahead: state.config.stay.max_days_ahead,
    }
}

/// Search the address register: every word of `q` (case, `ё`/`е`,
/// punctuation and words such as "ул.", "д.", "кв." do not matter) must
/// occur in the street, house, flat or municipality.
#[utoipa::path(
    get, path = "/v1/addresses",
    params(("q" = String, Query, description = "what to look for, e.g. `Тверская 7 кв 12`")),
    responses(
        (status = 200, body = AddressSearchResponse),
        (status = 401, body = ErrorBody, description = "signature_*, unknown_device"),
        (status = 429, body = ErrorBody, description = "rate_limited: too many requests from this device (Retry-After)"),
        (status = 403, body = ErrorBody, description = "device_revoked"),
        (status = 422, body = ErrorBody, description = "query_too_short, query_too_long"),
    )
)]
pub async fn search_addresses(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<AddressSearchResponse>, ApiError> {
    verify_active_device(&state, "GET", "/v1/addresses", &headers, None).await?;
    let q = params.get("q").map(String::as_str).unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::unprocessable(
            "query_too_long",
            format!("a search is at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let terms = query_terms(q);
    if terms.is_empty() || terms.iter().map(|t| t.chars().count()).sum::<usize>() < 2 {
        return Err(ApiError::unprocessable(
            "query_too_short",
            "type at least two letters or digits of the street or house",
        ));
    }
    let limit = state.config.stay.search_results.max(1);
    // One more than shown tells whether there are more.
    let mut found = state.store.search_addresses(&terms, limit + 1).await?;
    let more = found.len() > limit as usize;
    found.truncate(limit as usize);
    Ok(Json(AddressSearchResponse {
        addresses: found.iter().map(address_view).collect(),
        more,
    }))
}

/// Notify a place of stay. It replaces the notice in force (which is kept
/// as superseded); sending the notice in force again changes nothing
/// (200, `created: false`).
#[utoipa::path(
    post, path = "/v1/notices", request_body = NoticeRequest,
    responses(
        (status = 201, body = NoticeResponse, description = "Accepted and in force"),
        (status = 200, body = NoticeResponse, description = "The same notice was already in force"),
        (status = 413, body = ErrorBody, description = "body_too_large"),
        (status = 400, body = ErrorBody, description = "malformed_json, unknown_field, digest_mismatch"),
        (status = 401, body = ErrorBody, description = "signature_*, unknown_device"),
        (status = 429, body = ErrorBody, description = "rate_limited: too many requests from this device (Retry-After)"),
        (status = 403, body = ErrorBody, description = "device_revoked"),
        (status = 404, body = ErrorBody, description = "unknown_address"),
        (status = 409, body = ErrorBody, description = "not_registered"),
        (status = 422, body = ErrorBody, description = "invalid_address_id, invalid_date, invalid_host_name, address_not_residential, address_outside_region, date_before_registration, date_too_far_ahead, date_before_current_notice"),
    )
)]
pub async fn submit_notice(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<NoticeResponse>), ApiError> {
    let bytes = read_body(body, 16 * 1024).await?;
    let device =
        verify_active_device(&state, "POST", "/v1/notices", &headers, Some(&bytes)).await?;
    let req: NoticeRequest = parse_json(&bytes)?;
    let address_id = AddressId::parse(&req.address_id)
        .map_err(|e| ApiError::unprocessable(e.code(), e.to_string()))?;
    let date_from: Date = req.date_from.trim().parse().map_err(|_| {
        ApiError::unprocessable("invalid_date", "date_from must be a date, YYYY-MM-DD")
    })?;
    let host_name = HostName::parse(req.host_name.as_deref())
        .map_err(|e| ApiError::unprocessable(e.code(), e.to_string()))?;
    let now = state.clock.now();
    let outcome = state
        .store
        .submit_notice(
            rules(&state),
            state.monitor.geofence.clone(),
            NewNotice {
                person_id: device.person_id,
                address_id,
                date_from,
                host_name,
            },
            now,
        )
        .await?;
    if outcome.created {
        metrics::counter!("amina_stay_notices_total").increment(1);
        tracing::info!(
            person_id = device.person_id,
            notice_id = outcome.notice.id,
            "place-of-stay notice"
        );
    }
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(NoticeResponse {
            notice: notice_view(&outcome.notice),
            created: outcome.created,
            superseded: outcome.superseded,
        }),
    ))
}

/// The person's notices, newest first, and the dates a new notice may
/// start on today.
#[utoipa::path(
    get, path = "/v1/notices",
    responses(
        (status = 200, body = NoticesResponse),
        (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "rate_limited: too many requests from this device (Retry-After)"),
        (status = 403, body = ErrorBody, description = "device_revoked"),
    )
)]
pub async fn list_notices(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<NoticesResponse>, ApiError> {
    let device = verify_active_device(&state, "GET", "/v1/notices", &headers, None).await?;
    let notices = state.store.notices(device.person_id).await?;
    let person = state
        .store
        .person(device.person_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let now = state.clock.now();
    let registered = person.state.status == amina_domain::monitor::RegistrationStatus::Registered
        && now <= person.state.deadline_at;
    let (date_min, date_max) = if registered {
        let mut min = moscow_date(person.state.registration_started_at);
        if let Some(current) = notices.iter().find(|n| n.state == NoticeState::Current) {
            min = min.max(current.date_from);
        }
        let max = moscow_date(now)
            .checked_add(jiff::Span::new().days(i64::from(rules(&state).max_days_ahead)))
            .unwrap_or(Date::MAX);
        (Some(min.to_string()), Some(max.to_string()))
    } else {
        (None, None)
    };
    Ok(Json(NoticesResponse {
        current: notices
            .iter()
            .find(|n| n.state == NoticeState::Current)
            .map(notice_view),
        notices: notices.iter().map(notice_view).collect(),
        date_min,
        date_max,
    }))
}

/// The notice in force, for the status.
pub async fn current_place(
    state: &AppState,
    person_id: i64,
) -> Result<Option<NoticeView>, ApiError> {
    Ok(state
        .store
        .notices(person_id)
        .await?
        .iter()
        .find(|n| n.state == NoticeState::Current)
        .map(notice_view))
}

/// Add the place of stay to a status read with `GET /v1/me/status`.
/// Uploads do not carry it: they are the hot path, and the place changes
/// only by a notice.
pub async fn with_place(
    state: &AppState,
    person_id: i64,
    mut view: StatusView,
) -> Result<StatusView, ApiError> {
    view.place_of_stay = current_place(state, person_id).await?;
    Ok(view)
}

/// Everything the system holds about the person, and who looked at it.
#[utoipa::path(
    get, path = "/v1/me/data",
    responses(
        (status = 200, body = MyDataView),
        (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "rate_limited: too many requests from this device (Retry-After)"),
        (status = 403, body = ErrorBody, description = "device_revoked"),
    )
)]
pub async fn my_data(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<MyDataView>, ApiError> {
    let device = verify_active_device(&state, "GET", "/v1/me/data", &headers, None).await?;
    let data = state
        .store
        .person_data(device.person_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let signals = state
        .store
        .signals(SignalQuery {
            person_id: Some(device.person_id),
            limit: 100,
            ..Default::default()
        })
        .await?;
    // Every official's access to this person's data, from the audit trail
    // (the console records reads and decisions under `person:<id>`). The
    // person sees the role, the kind of access and its legal basis.
    let accesses = state
        .store
        .audit_records(amina_store::AuditQuery {
            subject: Some(format!("person:{}", device.person_id)),
            limit: 200,
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|r| r.role != "system")
        .map(|r| {
            serde_json::json!({
                "on": worded_day(r.at),
                "at": r.at.to_string(),
                "role": r.role,
                "kind": access_kind(&r.action),
                "legal_basis": r.legal_basis,
            })
        })
        .collect();
    let children = state
        .store
        .child_notices_of_parent(device.person_id)
        .await?
        .into_iter()
        .filter(|c| c.in_force)
        .map(|c| {
            let a = &c.address;
            let mut address = format!("{}, {}, {}", a.municipality, a.street, a.house);
            if let Some(f) = &a.flat {
                address.push_str(&format!(", {f}"));
            }
            ChildView {
                name: c.name,
                birth_date: worded(c.birth_date),
                arrival: worded(c.arrival_date),
                address,
            }
        })
        .collect();
    let view = MyDataView {
        identity: IdentityView {
            card_number: data.card.number.to_string(),
            name_latin: data.card.name_latin.clone(),
            name_cyrillic: data.card.name_cyrillic.clone(),
            citizenship: data.card.citizenship.as_str().to_string(),
            birth_date: worded(data.card.birth_date),
            card_valid_until: worded(data.card.valid_until),
        },
        registrations: data
            .registrations
            .iter()
            .map(|r| RegistrationView {
                started: worded_day(r.started_at),
                ended: r.ended_at.map(worded_day),
                end_reason: r.end_reason.clone(),
            })
            .collect(),
        devices: data
            .devices
            .iter()
            .map(|d| DeviceView {
                id: d.id.clone(),
                kind: d.kind.clone(),
                status: match d.status {
                    amina_store::DeviceStatus::Active => "active".into(),
                    amina_store::DeviceStatus::Revoked => "revoked".into(),
                },
                bound: worded_day(d.bound_at),
                revoked: d.revoked_at.map(worded_day),
                this_device: d.id == device.device_id,
            })
            .collect(),
        notices: data.notices.iter().map(notice_view).collect(),
        children,
        fixes: FixesView {
            count: data.fixes.count,
            first: data.fixes.first_recorded_at.map(worded_day),
            last: data.fixes.last_recorded_at.map(worded_day),
            retention_days: state.config.retention.fix_days,
            retention_enforced: state.config.retention.enabled,
        },
        signals: signals
            .iter()
            .map(|s| SignalView {
                kind: s.kind.code().into(),
                raised: worded_day(s.raised_at),
                status: s.status.code().into(),
            })
            .collect(),
        accesses: AccessesView {
            audit_available: true,
            entries: accesses,
        },
    };
    Ok(Json(view))
}

/// What kind of access an audited console action was, for the person:
/// seeing their record, a case opened about them, reading their location,
/// a decision about them, or something else.
fn access_kind(action: &str) -> &'static str {
    match action {
        "person.view" => "view",
        "case.open" | "case.close" => "case",
        "case.location" => "location",
        a if a.starts_with("registry.") || a.starts_with("signal.") => "decision",
        _ => "other",
    }
}

/// `POST /v1/enrolments` with `{"code": …}`: enrol with a one-time code an
/// operator issued. A used, expired, superseded or unknown code is refused
/// and changes nothing.
pub async fn enrol_with_code(
    state: &AppState,
    bytes: &[u8],
) -> Result<(StatusCode, Json<EnrolResponse>), ApiError> {
    let req: CodeEnrolRequest = parse_json(bytes)?;
    let code = EnrolmentCode::parse(&req.code)
        .map_err(|e| ApiError::unprocessable(e.code(), e.to_string()))?;
    let now = state.clock.now();
    let (token, hash) = super::enrol::new_token();
    let expires_at =
        now + SignedDuration::from_secs(i64::from(state.config.enrolment.binding_token_ttl_s));
    let enrolment = state
        .store
        .enrol_with_code(
            &state.monitor,
            &code,
            NewBindingToken {
                hash,
                expires_at,
                // The store records the operator who issued the code.
                issued_by: "code".into(),
            },
            now,
        )
        .await?;
    metrics::counter!("amina_enrolments_total").increment(1);
    tracing::info!(
        person_id = enrolment.person_id,
        new = enrolment.new_registration,
        "enrolled with a code"
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
