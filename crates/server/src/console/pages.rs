//! The console's pages. Each handler parses its input once (a bad value
//! is a 4xx page with a reason, and nothing is read or changed), records
//! the read or the change in the audit trail, then renders.
//!
//! Reads of personal data are recorded before the data is fetched: if the
//! record cannot be written, nothing is shown. Changes carry their record
//! into the store method that applies them (one transaction).

use std::collections::HashMap;

use amina_domain::console::{CaseTerms, RegistryDecision, RegistryStatus, Role};
use amina_domain::signal::{SignalKind, SignalStatus, SignalSubject};
use amina_domain::types::{CardNumber, Citizenship, Coordinates};
use amina_store::{AuditQuery, PersonQuery, SignalQuery, SignalReview, StatusFilter};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use fluent_bundle::FluentValue;
use jiff::Timestamp;
use maud::{html, Markup};

use super::auth::Officer;
use super::map::{self, Marker};
use super::{lang_of, layout, t, t_with, PageError};
use crate::state::AppState;

/// Every reason a console page may show (each has an `error-<code>` text;
/// the i18n test checks).
#[cfg(test)]
pub const ERROR_CODES: &[&str] = &[
    "generic",
    "no_rule",
    "not_signed_in",
    "role_not_allowed",
    "csrf_token_invalid",
    "body_too_large",
    "invalid_credentials",
    "account_locked",
    "totp_replayed",
    "invalid_id",
    "invalid_card_number",
    "unknown_card",
    "invalid_citizenship",
    "invalid_status",
    "invalid_name",
    "invalid_kind",
    "invalid_decision",
    "invalid_date",
    "invalid_coordinates",
    "invalid_radius",
    "invalid_hours",
    "unknown_person",
    "unknown_signal",
    "unknown_case",
    "unknown_registry_entry",
    "case_expired",
    "case_closed",
    "not_case_owner",
    "registry_state",
    "reason_required",
    "text_too_long",
    "legal_basis_required",
    "purpose_required",
    "case_duration_invalid",
    "signal_transition_not_allowed",
    "database_unavailable",
    "internal_error",
    "not_found",
    "invalid_address",
    "unknown_district",
    "invalid_area",
    "invalid_outcome",
    "unknown_spot_check",
    "outcome_recorded",
    "own_account",
    "invalid_account_name",
    "invalid_role",
    "account_exists",
    "unknown_account",
];

/// Results per page.
const LIMIT: u32 = 50;

pub(super) fn when(t: Timestamp) -> String {
    amina_domain::time::moscow()
        .to_datetime(t)
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

pub(super) fn when_opt(t: Option<Timestamp>) -> String {
    t.map(when).unwrap_or_else(|| "—".into())
}

pub(super) fn parse_id(raw: &str) -> Result<i64, PageError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(PageError::bad_request("invalid_id"))
}

/// A non-empty query parameter.
fn param<'a>(q: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    q.get(key).map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Wrap a handler's page in the layout, with the no-store headers.
pub(super) fn render(lang: &'static str, officer: &Officer, title: &str, body: Markup) -> Response {
    super::html_response(layout::page(lang, Some(officer), title, body))
}

pub(super) fn csrf_field(o: &Officer) -> Markup {
    html! { input type="hidden" name="csrf" value=(o.csrf); }
}

pub async fn redirect_home() -> Redirect {
    Redirect::permanent("/console/")
}

/// `GET /console/`: what this role can do.
pub async fn home(Extension(o): Extension<Officer>, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers);
    render(
        lang,
        &o,
        &t(lang, "home-title"),
        html! {
            p { (t(lang, &format!("home-role-{}", o.role.code()))) }
            @if matches!(o.role, Role::Admin) {
                p { a href="/console/accounts" { (t(lang, "accounts-title")) } }
                p { code { "amina admin create-user --role ROLE NAME" } }
            }
        },
    )
}

/// `GET /console/lang/{lang}`: remember the console language (a cookie
/// only; no server state changes).
pub async fn set_lang(Path(lang): Path<String>) -> Response {
    let Some(l) = super::known_lang(&lang) else {
        return PageError::new(StatusCode::NOT_FOUND, "not_found").into_response();
    };
    let mut resp = Redirect::to("/console/").into_response();
    let c = format!("amina_lang={l}; Path=/console; Max-Age=31536000; SameSite=Strict");
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

const CSS: &str = include_str!("../../assets/console/console.css");
const JS: &str = include_str!("../../assets/console/console.js");

/// `GET /console/assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return PageError::new(StatusCode::NOT_FOUND, "not_found").into_response(),
    };
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    resp
}

// ------------------------------------------------------------------ search

/// `GET /console/search?card=&name=&citizenship=&status=`.
pub async fn search(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let fail = |code| PageError::bad_request(code).lang(lang);
    let card = param(&q, "card")
        .map(|c| CardNumber::parse(c).map_err(|_| fail("invalid_card_number")))
        .transpose()?;
    let name = param(&q, "name");
    let words = name
        .map(amina_domain::names::skeleton_words)
        .unwrap_or_default();
    if name.is_some() && words.iter().map(|w| w.len()).sum::<usize>() < 2 {
        return Err(fail("invalid_name"));
    }
    let citizenship = param(&q, "citizenship")
        .map(|c| Citizenship::parse(c).map_err(|_| fail("invalid_citizenship")))
        .transpose()?;
    let status = match param(&q, "status") {
        None => None,
        Some("registered") => Some(StatusFilter::Registered),
        Some("deregistered") => Some(StatusFilter::Deregistered),
        Some(_) => return Err(fail("invalid_status")),
    };
    let address = param(&q, "address");
    let address_terms = address
        .map(amina_domain::stay::query_terms)
        .unwrap_or_default();
    if address.is_some() && address_terms.is_empty() {
        return Err(fail("invalid_address"));
    }
    let districts = state
        .store
        .districts()
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    let district = param(&q, "district");
    if district.is_some_and(|d| !districts.iter().any(|k| k == d)) {
        return Err(fail("unknown_district"));
    }
    let asked = card.is_some()
        || !words.is_empty()
        || citizenship.is_some()
        || status.is_some()
        || !address_terms.is_empty()
        || district.is_some();
    let hits = if asked {
        let now = state.clock.now();
        state
            .store
            .append_audit(
                o.audit(now, "person.search", "search")
                    .detail(serde_json::json!({
                        "card": card.as_ref().map(|c| c.as_str()),
                        "name": name,
                        "citizenship": citizenship.as_ref().map(|c| c.as_str()),
                        "status": param(&q, "status"),
                        "address": address,
                        "district": district,
                    })),
            )
            .await
            .map_err(|e| PageError::from(e).lang(lang))?;
        Some(
            state
                .store
                .search_persons(PersonQuery {
                    card_number: card.map(|c| c.as_str().to_string()),
                    name_words: words,
                    citizenship: citizenship.map(|c| c.as_str().to_string()),
                    status,
                    address_terms,
                    district: district.map(String::from),
                    limit: LIMIT,
                })
                .await
                .map_err(|e| PageError::from(e).lang(lang))?,
        )
    } else {
        None
    };
    let v = |k: &str| q.get(k).cloned().unwrap_or_default();
    Ok(render(
        lang,
        &o,
        &t(lang, "search-title"),
        html! {
            form.search method="get" action="/console/search" {
                label { (t(lang, "search-card")) input name="card" value=(v("card")); }
                label { (t(lang, "search-name")) input name="name" value=(v("name")); }
                label { (t(lang, "search-citizenship")) input name="citizenship" maxlength="3" value=(v("citizenship")); }
                label { (t(lang, "search-status"))
                    select name="status" {
                        option value="" { (t(lang, "search-status-any")) }
                        @for s in ["registered", "deregistered"] {
                            option value=(s) selected[v("status") == s] { (t(lang, &format!("status-{s}"))) }
                        }
                    }
                }
                label { (t(lang, "search-address")) input name="address" value=(v("address")); }
                label { (t(lang, "search-district"))
                    select name="district" {
                        option value="" { (t(lang, "search-status-any")) }
                        @for d in &districts {
                            option value=(d) selected[v("district") == *d] { (d) }
                        }
                    }
                }
                button type="submit" { (t(lang, "search-submit")) }
            }
            p.hint { (t(lang, "search-hint")) }
            @if let Some(hits) = hits {
                @if hits.is_empty() {
                    p.empty { (t(lang, "search-none")) }
                } @else {
                    table.results {
                        thead { tr {
                            th { (t(lang, "col-card")) } th { (t(lang, "col-name")) }
                            th { (t(lang, "col-citizenship")) } th { (t(lang, "col-status")) }
                            th { (t(lang, "col-open-signals")) } th { (t(lang, "col-district")) }
                        } }
                        tbody {
                            @for h in &hits {
                                tr data-person=(h.person_id) {
                                    td { a href={ "/console/persons/" (h.person_id) } { (h.card_number) } }
                                    td { (h.name_latin) br; (h.name_cyrillic) }
                                    td { (h.citizenship) }
                                    td { (t(lang, &format!("status-{}", h.status.as_str()))) }
                                    td.signals { (h.open_signals) }
                                    td.district { (h.district.clone().unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

// ------------------------------------------------------------------ person

/// `GET /console/persons/{id}`: identity, status timeline, signals, cases.
pub async fn person(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|e| e.lang(lang))?;
    let now = state.clock.now();
    let err = |e: amina_store::StoreError| PageError::from(e).lang(lang);
    state
        .store
        .append_audit(o.audit(now, "person.view", format!("person:{id}")))
        .await
        .map_err(err)?;
    let p = state
        .store
        .person_identity(id)
        .await
        .map_err(err)?
        .ok_or(PageError::new(StatusCode::NOT_FOUND, "unknown_person").lang(lang))?;
    let events = state.store.person_events(id).await.map_err(err)?;
    let deregs = state.store.deregistrations(id).await.map_err(err)?;
    let signals = state
        .store
        .signals(SignalQuery {
            person_id: Some(id),
            limit: 100,
            ..Default::default()
        })
        .await
        .map_err(err)?;
    let cases = state.store.cases_for_person(id).await.map_err(err)?;
    let presence_days = state.store.daily_presence(id, 31).await.map_err(err)?;
    let children = state.store.child_notices_of_parent(id).await.map_err(err)?;
    let may_open = matches!(o.role, Role::MigrationOfficer | Role::PoliceOfficer);
    Ok(render(
        lang,
        &o,
        &format!("{} · {}", p.name_latin, p.card_number),
        html! {
            section.identity {
                h2 { (t(lang, "person-identity")) }
                dl {
                    dt { (t(lang, "col-card")) } dd id="card" { (p.card_number) }
                    dt { (t(lang, "col-name")) } dd { (p.name_latin) " / " (p.name_cyrillic) }
                    dt { (t(lang, "col-citizenship")) } dd { (p.citizenship) }
                    dt { (t(lang, "person-birth-date")) } dd { (p.birth_date) }
                    dt { (t(lang, "person-card-valid")) } dd { (p.card_valid_until) }
                    dt { (t(lang, "col-status")) } dd id="status" { (t(lang, &format!("status-{}", p.status.as_str()))) }
                    dt { (t(lang, "person-registered-since")) } dd { (when(p.registration_started_at)) }
                    dt { (t(lang, "person-last-monitoring")) } dd { (when_opt(p.last_monitoring_at)) }
                    dt { (t(lang, "person-deadline")) } dd { (when(p.deadline_at)) }
                    dt { (t(lang, "person-presence")) } dd { (t(lang, &format!("presence-{}", p.presence.as_str()))) " " (when_opt(p.presence_since)) }
                }
                p.hint { (t(lang, "person-no-location")) }
            }
            section.timeline {
                h2 { (t(lang, "person-timeline")) }
                ol {
                    @for e in &events {
                        li data-kind=(e.kind) { time { (when(e.at)) } " " (e.kind) " · " (e.actor) " " code { (e.detail.to_string()) } }
                    }
                }
                @if !deregs.is_empty() {
                    h3 { (t(lang, "person-deregistrations")) }
                    table { tbody {
                        @for d in &deregs {
                            tr { td { (when(d.effective_at)) } td { (d.reason.as_str()) } td { (d.decided_by) } td { code { (d.evidence.to_string()) } } td { (d.rule_version) } }
                        }
                    } }
                }
            }
            section.signals {
                h2 { (t(lang, "person-signals")) }
                @if signals.is_empty() { p.empty { (t(lang, "none")) } }
                @for s in &signals {
                    article.signal data-signal=(s.id) data-status=(s.status.code()) {
                        h3 { (super::evidence::kind_name(lang, s.kind)) " · " (t(lang, &format!("signal-status-{}", s.status.code()))) " · " (when(s.raised_at)) }
                        p { (s.explanation) }
                        (super::evidence::render(lang, s.kind, &s.evidence, false))
                        @if let Some(r) = &s.decision_reason { p.reason { (s.decided_by.clone().unwrap_or_default()) ": " (r) } }
                    }
                }
            }
            @if !presence_days.is_empty() {
                section.presence-days {
                    h2 { (t(lang, "person-presence-days")) }
                    p.hint { (t_with(lang, "person-presence-days-hint", &[("days", FluentValue::from(state.config.retention.fix_days))])) }
                    table.presence-days {
                        thead { tr {
                            th { (t(lang, "presence-day")) } th { (t(lang, "presence-first")) } th { (t(lang, "presence-last")) }
                            th { (t(lang, "presence-fixes")) } th { (t(lang, "presence-in-region")) } th { (t(lang, "presence-flagged")) }
                        } }
                        tbody { @for d in &presence_days {
                            tr data-day=(d.day) {
                                td { (d.day) } td { (when(d.first_at)) } td { (when(d.last_at)) }
                                td { (d.fix_count) } td { (d.in_region_count()) } td { (d.flagged_count) }
                            }
                        } }
                    }
                }
            }
            (super::host::person_children(lang, &children))
            section.cases {
                h2 { (t(lang, "person-cases")) }
                ul { @for c in &cases {
                    li { a href={ "/console/cases/" (c.id) } { "#" (c.id) } " " (c.legal_basis) " · " (c.purpose) " · " (c.opened_by) " · "
                        (t(lang, &format!("case-state-{}", serde_json::to_value(c.state(now)).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()))) }
                } }
                @if may_open {
                    form.open-case method="post" action={ "/console/persons/" (p.person_id) "/cases" } {
                        (csrf_field(&o))
                        label { (t(lang, "case-legal-basis")) input name="legal_basis" required; }
                        label { (t(lang, "case-purpose")) input name="purpose" required; }
                        label { (t(lang, "case-hours")) input name="hours" type="number" min="1" max=(state.config.console.case_max_hours) value="8" required; }
                        button type="submit" { (t(lang, "case-open")) }
                    }
                }
            }
        },
    ))
}

// ------------------------------------------------------------------- cases

#[derive(serde::Deserialize)]
pub struct CaseForm {
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    hours: String,
}

/// `POST /console/persons/{id}/cases`: open a case (legal basis, purpose,
/// lifetime).
pub async fn open_case(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CaseForm>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|e| e.lang(lang))?;
    let hours: i64 = f
        .hours
        .trim()
        .parse()
        .map_err(|_| PageError::bad_request("invalid_hours").lang(lang))?;
    let now = state.clock.now();
    let max = i64::from(state.config.console.case_max_hours);
    let terms = CaseTerms::new(&f.legal_basis, &f.purpose, now, hours, max)
        .map_err(|e| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code()).lang(lang))?;
    let audit = o.audit(now, "case.open", format!("person:{id}")).detail(
        serde_json::json!({"purpose": terms.purpose, "expires_at": terms.expires_at.to_string()}),
    );
    let case = state
        .store
        .open_case(id, &o.name, terms, audit)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    Ok(Redirect::to(&format!("/console/cases/{}", case.id)).into_response())
}

/// `GET /console/cases/{id}`: inside an open case of one's own, the last
/// known position and the track; each view is audited.
pub async fn case_view(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|e| e.lang(lang))?;
    let now = state.clock.now();
    let case = state
        .store
        .case(id)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?
        .ok_or(PageError::new(StatusCode::NOT_FOUND, "unknown_case").lang(lang))?;
    let audit = o.audit(now, "case.location", format!("person:{}", case.person_id));
    let loc = state
        .store
        .case_location(id, &o.name, now, state.config.console.track_points, audit)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    let mut markers: Vec<Marker> = loc
        .track
        .iter()
        .rev()
        .map(|p| Marker {
            lat: p.lat,
            lon: p.lon,
            class: if p.flagged { "flagged" } else { "track" },
            label: when(p.recorded_at),
        })
        .collect();
    if let Some(l) = &loc.last_known {
        markers.push(Marker {
            lat: l.lat,
            lon: l.lon,
            class: "last",
            label: when(l.recorded_at),
        });
    }
    let c = &loc.case;
    Ok(render(
        lang,
        &o,
        &t_with(lang, "case-title", &[("id", FluentValue::from(c.id))]),
        html! {
            dl.case {
                dt { (t(lang, "case-person")) } dd { a href={ "/console/persons/" (c.person_id) } { "#" (c.person_id) } }
                dt { (t(lang, "case-legal-basis")) } dd { (c.legal_basis) }
                dt { (t(lang, "case-purpose")) } dd { (c.purpose) }
                dt { (t(lang, "case-expires")) } dd { (when(c.expires_at)) }
            }
            section.location {
                h2 { (t(lang, "case-last-known")) }
                @match &loc.last_known {
                    Some(l) => p id="last-known" data-lat=(l.lat) data-lon=(l.lon) {
                        (format!("{:.5}, {:.5}", l.lat, l.lon)) " ± " (format!("{:.0}", l.accuracy_m)) " m · " (when(l.recorded_at)) " · " (l.zone)
                    },
                    None => p.empty id="last-known" { (t(lang, "case-no-position")) },
                }
                (map::svg(&t(lang, "nav-map"), &markers, None, state.config.console.tile_url.trim()))
                h3 { (t(lang, "case-track")) }
                table.track { tbody {
                    @for p in &loc.track {
                        tr.flagged[p.flagged] { td { (when(p.recorded_at)) } td { (format!("{:.5}, {:.5}", p.lat, p.lon)) } td { (format!("{:.0}", p.accuracy_m)) } td { (p.zone) } }
                    }
                } }
            }
            form method="post" action={ "/console/cases/" (c.id) "/close" } {
                (csrf_field(&o))
                button type="submit" { (t(lang, "case-close")) }
            }
        },
    ))
}

/// `POST /console/cases/{id}/close`.
pub async fn close_case(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|e| e.lang(lang))?;
    let now = state.clock.now();
    let case = state
        .store
        .close_case(
            id,
            &o.name,
            now,
            o.audit(now, "case.close", format!("case:{id}")),
        )
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    Ok(Redirect::to(&format!("/console/persons/{}", case.person_id)).into_response())
}

// ------------------------------------------------------------------ alerts

/// `GET /console/alerts?status=&kind=`: the queue with counts.
pub async fn alerts(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let statuses = match param(&q, "status") {
        None => vec![SignalStatus::Open, SignalStatus::InReview],
        Some("all") => Vec::new(),
        Some(s) => vec![SignalStatus::from_code(s)
            .ok_or(PageError::bad_request("invalid_status").lang(lang))?],
    };
    let kind = param(&q, "kind")
        .map(|k| SignalKind::from_code(k).ok_or(PageError::bad_request("invalid_kind").lang(lang)))
        .transpose()?;
    let now = state.clock.now();
    let err = |e: amina_store::StoreError| PageError::from(e).lang(lang);
    let districts = state.store.districts().await.map_err(err)?;
    let district = param(&q, "district");
    if district.is_some_and(|d| !districts.iter().any(|k| k == d)) {
        return Err(PageError::bad_request("unknown_district").lang(lang));
    }
    state
        .store
        .append_audit(
            o.audit(now, "alerts.view", "alerts")
                .detail(serde_json::json!({
            "status": param(&q, "status"), "kind": param(&q, "kind"), "district": district})),
        )
        .await
        .map_err(err)?;
    let list = state
        .store
        .signals(SignalQuery {
            kind,
            statuses,
            district: district.map(String::from),
            limit: 100,
            ..Default::default()
        })
        .await
        .map_err(err)?;
    let counts = state.store.signal_counts().await.map_err(err)?;
    let district_counts = state.store.signal_counts_by_district().await.map_err(err)?;
    let may_review = matches!(o.role, Role::MigrationOfficer | Role::Supervisor);
    Ok(render(
        lang,
        &o,
        &t(lang, "alerts-title"),
        html! {
            form.filters method="get" action="/console/alerts" {
                label { (t(lang, "col-status"))
                    select name="status" {
                        option value="" { (t(lang, "alerts-open-and-review")) }
                        option value="all" selected[param(&q, "status") == Some("all")] { (t(lang, "alerts-all")) }
                        @for s in SignalStatus::ALL {
                            option value=(s.code()) selected[param(&q, "status") == Some(s.code())] { (t(lang, &format!("signal-status-{}", s.code()))) }
                        }
                    }
                }
                label { (t(lang, "alerts-kind"))
                    select name="kind" {
                        option value="" { (t(lang, "alerts-all")) }
                        @for k in SignalKind::ALL {
                            option value=(k.code()) selected[param(&q, "kind") == Some(k.code())] { (k.code()) }
                        }
                    }
                }
                label { (t(lang, "search-district"))
                    select name="district" {
                        option value="" { (t(lang, "alerts-all")) }
                        @for d in &districts {
                            option value=(d) selected[district == Some(d.as_str())] { (d) }
                        }
                    }
                }
                button type="submit" { (t(lang, "filter")) }
            }
            (district_table(lang, &district_counts))
            table.counts {
                thead { tr { th { (t(lang, "alerts-kind")) } th { (t(lang, "col-status")) } th { (t(lang, "alerts-count")) } } }
                tbody { @for c in &counts { tr { td { (c.kind) } td { (c.status) } td { (c.count) } } } }
            }
            @if list.is_empty() { p.empty { (t(lang, "none")) } }
            @for s in &list {
                article.signal data-signal=(s.id) data-status=(s.status.code()) {
                    h3 { (s.kind.code()) " · " (t(lang, &format!("signal-status-{}", s.status.code()))) }
                    p {
                        @match &s.subject {
                            SignalSubject::Person(p) => a href={ "/console/persons/" (p) } { (t(lang, "case-person")) " #" (p) },
                            SignalSubject::Address(a) => span { (a) },
                        }
                        " · " (when(s.raised_at))
                        @if let Some(a) = &s.assigned_to { " · " (t(lang, "alerts-assigned")) " " (a) }
                    }
                    @if let Some(a) = &s.anomaly {
                        p.anomaly data-score=(format!("{:.3}", a.score)) {
                            (t(lang, "alerts-anomaly")) " " (format!("{:.2}", a.score)) "; " (t(lang, "alerts-anomaly-top")) " "
                            (a.top.iter().map(|f| format!("{} = {:.1} (z {:+.1})", f.feature, f.value, f.z)).collect::<Vec<_>>().join(", "))
                        }
                    }
                    p { (s.explanation) }
                    (super::evidence::render(lang, s.kind, &s.evidence, false))
                    @if let Some(r) = &s.decision_reason { p.reason { (s.decided_by.clone().unwrap_or_default()) ": " (r) } }
                    @if may_review {
                        form.review method="post" action={ "/console/alerts/" (s.id) "/review" } {
                            (csrf_field(&o))
                            select name="to" {
                                @for st in SignalStatus::ALL {
                                    option value=(st.code()) { (t(lang, &format!("signal-status-{}", st.code()))) }
                                }
                            }
                            input name="reason" placeholder=(t(lang, "reason"));
                            button type="submit" { (t(lang, "alerts-apply")) }
                        }
                    }
                }
            }
        },
    ))
}

/// Signals per district (rows) and status (columns): the notice in force
/// decides a person's district (docs/console.md).
fn district_table(lang: &str, counts: &[amina_store::DistrictCount]) -> Markup {
    let mut rows: Vec<Option<String>> = Vec::new();
    for c in counts {
        if !rows.contains(&c.district) {
            rows.push(c.district.clone());
        }
    }
    let cell = |d: &Option<String>, s: SignalStatus| {
        counts
            .iter()
            .filter(|c| &c.district == d && c.status == s.code())
            .map(|c| c.count)
            .sum::<u64>()
    };
    html! {
        table.district-counts {
            thead { tr {
                th { (t(lang, "col-district")) }
                @for s in SignalStatus::ALL { th { (t(lang, &format!("signal-status-{}", s.code()))) } }
            } }
            tbody { @for d in &rows {
                tr data-district=(d.clone().unwrap_or_default()) {
                    td { @match d {
                        Some(d) => a href={ "/console/alerts?status=all&district=" (urlencode(d)) } { (d) },
                        None => (t(lang, "district-none")),
                    } }
                    @for s in SignalStatus::ALL { td data-status=(s.code()) { (cell(d, s)) } }
                }
            } }
        }
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(serde::Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    reason: String,
}

/// `POST /console/alerts/{id}/review`: take into review, dismiss or confirm
/// (with a reason), or reopen.
pub async fn review_alert(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ReviewForm>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|e| e.lang(lang))?;
    let to = SignalStatus::from_code(f.to.trim())
        .ok_or(PageError::bad_request("invalid_status").lang(lang))?;
    let reason = Some(f.reason.trim().to_string()).filter(|r| !r.is_empty());
    let now = state.clock.now();
    let audit = o
        .audit(now, "signal.review", format!("signal:{id}"))
        .detail(serde_json::json!({"to": to.code(), "reason": reason}));
    state
        .store
        .review_signal_audited(
            SignalReview {
                signal_id: id,
                to,
                actor: o.name.clone(),
                reason,
                at: now,
            },
            audit,
        )
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    Ok(Redirect::to("/console/alerts").into_response())
}

// ---------------------------------------------------------------- registry

/// `GET /console/registry?status=`: proposals and decisions.
pub async fn registry(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let status = param(&q, "status")
        .map(|s| {
            RegistryStatus::from_code(s).ok_or(PageError::bad_request("invalid_status").lang(lang))
        })
        .transpose()?;
    let now = state.clock.now();
    let err = |e: amina_store::StoreError| PageError::from(e).lang(lang);
    // The system's proposals are idempotent; making them here keeps the
    // list current even between scheduler runs.
    state.store.propose_registry(now).await.map_err(err)?;
    state
        .store
        .append_audit(o.audit(now, "registry.view", "registry"))
        .await
        .map_err(err)?;
    let entries = state
        .store
        .registry_entries(status, 200)
        .await
        .map_err(err)?;
    let supervisor = o.role == Role::Supervisor;
    Ok(render(
        lang,
        &o,
        &t(lang, "registry-title"),
        html! {
            p.hint { (t(lang, "registry-hint")) }
            form.filters method="get" action="/console/registry" {
                select name="status" {
                    option value="" { (t(lang, "alerts-all")) }
                    @for s in RegistryStatus::ALL {
                        option value=(s.code()) selected[param(&q, "status") == Some(s.code())] { (t(lang, &format!("registry-status-{}", s.code()))) }
                    }
                }
                button type="submit" { (t(lang, "filter")) }
                @if supervisor { " " a href="/console/registry/export.csv" { (t(lang, "registry-export")) } }
            }
            @if entries.is_empty() { p.empty { (t(lang, "none")) } }
            @for e in &entries {
                article.entry data-entry=(e.id) data-status=(e.status.code()) {
                    h3 { a href={ "/console/persons/" (e.person_id) } { (e.card_number) } " " (e.name_latin) " · " (t(lang, &format!("registry-status-{}", e.status.code()))) }
                    p { (t(lang, "registry-proposed")) " " (when(e.proposed_at)) }
                    pre.evidence { (serde_json::to_string_pretty(&e.evidence).unwrap_or_default()) }
                    @if let Some(r) = &e.decision_reason { p.reason { (e.decided_by.clone().unwrap_or_default()) " · " (when_opt(e.decided_at)) ": " (r) } }
                    @if let Some(r) = &e.removal_reason { p.reason { (e.removed_by.clone().unwrap_or_default()) " · " (when_opt(e.removed_at)) ": " (r) } }
                    @if supervisor && e.status == RegistryStatus::Proposed {
                        form.decide method="post" action={ "/console/registry/" (e.id) "/decide" } {
                            (csrf_field(&o))
                            label { input type="radio" name="decision" value="include"; (t(lang, "registry-include")) }
                            label { input type="radio" name="decision" value="reject"; (t(lang, "registry-reject")) }
                            textarea name="reason" placeholder=(t(lang, "reason")) {}
                            button type="submit" { (t(lang, "registry-decide")) }
                        }
                    }
                    @if supervisor && e.status == RegistryStatus::Included {
                        form.remove method="post" action={ "/console/registry/" (e.id) "/remove" } {
                            (csrf_field(&o))
                            textarea name="reason" placeholder=(t(lang, "reason")) {}
                            button type="submit" { (t(lang, "registry-remove")) }
                        }
                    }
                }
            }
        },
    ))
}

#[derive(serde::Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `POST /console/registry/{id}/decide`: include or reject, with a reason.
pub async fn registry_decide(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|e| e.lang(lang))?;
    let decision = match f.decision.trim() {
        "include" => RegistryDecision::Include,
        "reject" => RegistryDecision::Reject,
        _ => return Err(PageError::bad_request("invalid_decision").lang(lang)),
    };
    let now = state.clock.now();
    let entry = state
        .store
        .registry_entry(id)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?
        .ok_or(PageError::new(StatusCode::NOT_FOUND, "unknown_registry_entry").lang(lang))?;
    let audit = o
        .audit(now, "registry.decide", format!("person:{}", entry.person_id))
        .detail(serde_json::json!({"entry": id, "decision": f.decision.trim(), "reason": f.reason.trim()}));
    state
        .store
        .decide_registry(id, decision, &o.name, &f.reason, now, audit)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    Ok(Redirect::to("/console/registry").into_response())
}

/// `POST /console/registry/{id}/remove`: take an included person off the
/// registry, with a reason.
pub async fn registry_remove(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|e| e.lang(lang))?;
    let now = state.clock.now();
    let entry = state
        .store
        .registry_entry(id)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?
        .ok_or(PageError::new(StatusCode::NOT_FOUND, "unknown_registry_entry").lang(lang))?;
    let audit = o
        .audit(
            now,
            "registry.remove",
            format!("person:{}", entry.person_id),
        )
        .detail(serde_json::json!({"entry": id, "reason": f.reason.trim()}));
    state
        .store
        .remove_from_registry(id, &o.name, &f.reason, now, audit)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    Ok(Redirect::to("/console/registry").into_response())
}

/// `GET /console/registry/export.csv`: the people on the registry now.
pub async fn registry_export(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let now = state.clock.now();
    let err = |e: amina_store::StoreError| PageError::from(e).lang(lang);
    let entries = state
        .store
        .registry_entries(Some(RegistryStatus::Included), u32::MAX / 2)
        .await
        .map_err(err)?;
    state
        .store
        .append_audit(
            o.audit(now, "registry.export", "registry")
                .detail(serde_json::json!({"rows": entries.len()})),
        )
        .await
        .map_err(err)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "card_number",
        "name_latin",
        "name_cyrillic",
        "citizenship",
        "included_at",
        "decided_by",
        "reason",
        "deregistration_id",
    ];
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for e in &entries {
        rows.push(vec![
            e.card_number.clone(),
            e.name_latin.clone(),
            e.name_cyrillic.clone(),
            e.citizenship.clone(),
            e.decided_at.map(|t| t.to_string()).unwrap_or_default(),
            e.decided_by.clone().unwrap_or_default(),
            e.decision_reason.clone().unwrap_or_default(),
            e.deregistration_id.to_string(),
        ]);
    }
    for r in rows {
        w.write_record(&r)
            .map_err(|_| PageError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error"))?;
    }
    let body = w
        .into_inner()
        .map_err(|_| PageError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error"))?;
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"controlled-persons.csv\""),
    );
    Ok(resp)
}

// --------------------------------------------------------------------- map

/// `GET /console/map`: the region boundaries and the nearby form.
pub async fn map_view(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&headers);
    let tiles = state.config.console.tile_url.trim();
    render(
        lang,
        &o,
        &t(lang, "map-title"),
        html! {
            (map::svg(&t(lang, "map-title"), &[], None, tiles))
            p.hint { (t(lang, "map-hint")) }
            @if !tiles.is_empty() { p { (t(lang, "map-tiles")) " " code { (tiles) } } }
            @if o.role == Role::PoliceOfficer {
                p { a href="/console/spot-checks" { (t(lang, "spot-title")) } }
                (nearby_form(lang, &HashMap::new()))
            }
        },
    )
}

fn nearby_form(lang: &str, q: &HashMap<String, String>) -> Markup {
    let v = |k: &str| q.get(k).cloned().unwrap_or_default();
    html! {
        form.nearby method="get" action="/console/nearby" {
            h2 { (t(lang, "nearby-title")) }
            label { (t(lang, "nearby-lat")) input name="lat" value=(v("lat")) required; }
            label { (t(lang, "nearby-lon")) input name="lon" value=(v("lon")) required; }
            label { (t(lang, "nearby-radius")) input name="radius_m" type="number" min="1" value=(v("radius_m")) required; }
            label { (t(lang, "case-legal-basis")) input name="legal_basis" value=(v("legal_basis")) required; }
            label { (t(lang, "case-purpose")) input name="purpose" value=(v("purpose")) required; }
            button type="submit" { (t(lang, "nearby-submit")) }
        }
    }
}

/// `GET /console/nearby?lat=&lon=&radius_m=&legal_basis=&purpose=`: people
/// with open signals last seen within the radius (a spot check). Shows
/// distance, never the positions; audited with its legal basis.
pub async fn nearby(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let num = |k: &str, code: &'static str| {
        param(&q, k)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or(PageError::bad_request(code).lang(lang))
    };
    let (lat, lon) = (
        num("lat", "invalid_coordinates")?,
        num("lon", "invalid_coordinates")?,
    );
    Coordinates::parse(lat, lon)
        .map_err(|_| PageError::bad_request("invalid_coordinates").lang(lang))?;
    let radius = num("radius_m", "invalid_radius")?;
    if !(1.0..=state.config.console.nearby_max_radius_m).contains(&radius) {
        return Err(PageError::bad_request("invalid_radius").lang(lang));
    }
    let now = state.clock.now();
    let terms = CaseTerms::new(
        param(&q, "legal_basis").unwrap_or(""),
        param(&q, "purpose").unwrap_or(""),
        now,
        1,
        1,
    )
    .map_err(|e| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code()).lang(lang))?;
    let err = |e: amina_store::StoreError| PageError::from(e).lang(lang);
    let mut audit = o.audit(now, "nearby.query", "area").detail(
        serde_json::json!({"lat": lat, "lon": lon, "radius_m": radius, "purpose": terms.purpose}),
    );
    audit.legal_basis = Some(terms.legal_basis.clone());
    state.store.append_audit(audit).await.map_err(err)?;
    let people: Vec<_> = state
        .store
        .nearby(lat, lon, radius, 500)
        .await
        .map_err(err)?
        .into_iter()
        .filter(|p| p.open_signals > 0)
        .collect();
    Ok(render(
        lang,
        &o,
        &t(lang, "nearby-title"),
        html! {
            (map::svg(&t(lang, "map-title"), &[Marker { lat, lon, class: "centre", label: String::new() }], Some((lat, lon, radius)), state.config.console.tile_url.trim()))
            @if people.is_empty() { p.empty { (t(lang, "none")) } }
            table.nearby { tbody {
                @for p in &people {
                    tr { td { a href={ "/console/persons/" (p.person_id) } { (p.card_number) } } td { (format!("{:.0} m", p.distance_m)) } td { (p.open_signals) } }
                }
            } }
            (nearby_form(lang, &q))
        },
    ))
}

// ------------------------------------------------------------------- audit

/// `GET /console/audit?actor=&action=&subject=&case=&from=&to=&before=`.
pub async fn audit_view(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let bad = |code| PageError::bad_request(code).lang(lang);
    let day = |k: &str| {
        param(&q, k)
            .map(|d| {
                d.parse::<jiff::civil::Date>()
                    .ok()
                    .and_then(|d| {
                        amina_domain::time::moscow_instant(
                            d.to_datetime(jiff::civil::time(0, 0, 0, 0)),
                        )
                        .ok()
                    })
                    .ok_or(bad("invalid_date"))
            })
            .transpose()
    };
    let from = day("from")?;
    // "to" is inclusive: up to the end of that Moscow day.
    let to = day("to")?.map(|t| t + jiff::SignedDuration::from_hours(24));
    let case_id = param(&q, "case")
        .map(parse_id)
        .transpose()
        .map_err(|e| e.lang(lang))?;
    let before_id = param(&q, "before")
        .map(parse_id)
        .transpose()
        .map_err(|e| e.lang(lang))?;
    let query = AuditQuery {
        actor: param(&q, "actor").map(String::from),
        action: param(&q, "action").map(String::from),
        subject: param(&q, "subject").map(String::from),
        case_id,
        from,
        to,
        before_id,
        limit: 100,
    };
    let now = state.clock.now();
    let err = |e: amina_store::StoreError| PageError::from(e).lang(lang);
    state
        .store
        .append_audit(
            o.audit(now, "audit.view", "audit")
                .detail(serde_json::json!({
            "actor": query.actor, "action": query.action, "subject": query.subject,
            "case": case_id, "from": param(&q, "from"), "to": param(&q, "to")})),
        )
        .await
        .map_err(err)?;
    let records = state.store.audit_records(query).await.map_err(err)?;
    let v = |k: &str| q.get(k).cloned().unwrap_or_default();
    let next = records
        .last()
        .map(|r| r.id)
        .filter(|_| records.len() == 100);
    Ok(render(
        lang,
        &o,
        &t(lang, "audit-title"),
        html! {
            form.filters method="get" action="/console/audit" {
                label { (t(lang, "audit-actor")) input name="actor" value=(v("actor")); }
                label { (t(lang, "audit-action")) input name="action" value=(v("action")); }
                label { (t(lang, "audit-subject")) input name="subject" value=(v("subject")); }
                label { (t(lang, "audit-case")) input name="case" value=(v("case")); }
                label { (t(lang, "audit-from")) input name="from" type="date" value=(v("from")); }
                label { (t(lang, "audit-to")) input name="to" type="date" value=(v("to")); }
                button type="submit" { (t(lang, "filter")) }
            }
            p.hint { (t(lang, "audit-hint")) }
            table.audit {
                thead { tr {
                    th { "#" } th { (t(lang, "audit-when")) } th { (t(lang, "audit-actor")) } th { (t(lang, "audit-role")) }
                    th { (t(lang, "audit-action")) } th { (t(lang, "audit-subject")) } th { (t(lang, "audit-case")) }
                    th { (t(lang, "audit-basis")) } th { (t(lang, "audit-detail")) }
                } }
                tbody {
                    @for r in &records {
                        tr data-action=(r.action) {
                            td { (r.id) } td { (when(r.at)) } td { (r.actor) } td { (r.role) } td { (r.action) }
                            td { (r.subject) } td { (r.case_id.map(|c| c.to_string()).unwrap_or_default()) }
                            td { (r.legal_basis.clone().unwrap_or_default()) } td { code { (r.detail) } }
                        }
                    }
                }
            }
            @if let Some(n) = next {
                a href={ "/console/audit?before=" (n) } { (t(lang, "audit-older")) }
            }
        },
    ))
}

// ---------------------------------------------------------------- enrolment

/// `GET /console/enrolment`: the migration-centre operator's form. The
/// operator checks the card and the person in front of them, then issues a
/// one-time code the person's phone scans (docs/app.md, "Enrolment codes").
pub async fn enrolment_page(Extension(o): Extension<Officer>, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers);
    render(
        lang,
        &o,
        &t(lang, "enrolment-title"),
        enrolment_form(lang, &o),
    )
}

fn enrolment_form(lang: &str, o: &Officer) -> Markup {
    html! {
        p { (t(lang, "enrolment-intro")) }
        form method="post" action="/console/enrolment/codes" {
            (csrf_field(o))
            label for="card" { (t(lang, "enrolment-card-label")) }
            input id="card" name="card" required autocomplete="off" spellcheck="false";
            button type="submit" { (t(lang, "enrolment-issue-button")) }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct EnrolmentCodeForm {
    #[serde(default)]
    card: String,
}

/// `POST /console/enrolment/codes`: issue a one-time code for a checked
/// card and show it with its link and QR code. Audited; only the code's
/// hash is stored, and this page is the only time it is shown.
pub async fn issue_enrolment_code(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Form(f): Form<EnrolmentCodeForm>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let number = CardNumber::parse(f.card.trim())
        .map_err(|_| PageError::bad_request("invalid_card_number").lang(lang))?;
    let now = state.clock.now();
    let ttl = jiff::SignedDuration::from_secs(i64::from(state.config.enrolment.code_ttl_s));
    let issued = state
        .store
        .issue_enrolment_code(&number, &o.name, ttl, now)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    state
        .store
        .append_audit(o.audit(
            now,
            "enrolment.code_issue",
            format!("card:{}", number.as_str()),
        ))
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    let shown = issued.code.display();
    let link = format!("{}#code={shown}", state.config.app_url());
    let qr = qrcode::QrCode::new(link.as_bytes())
        .map_err(|_| PageError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error"))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .build();
    Ok(render(
        lang,
        &o,
        &t(lang, "enrolment-title"),
        html! {
            p { (t(lang, "enrolment-issued-for")) " " strong { (number.as_str()) } }
            p.code data-code=(shown) { code { (shown) } }
            div.qr { (maud::PreEscaped(qr)) }
            p { (t(lang, "enrolment-expires")) " " (when(issued.expires_at)) }
            p { (t(lang, "enrolment-link")) " " code { (link) } }
            p { (t(lang, "enrolment-once")) }
            (enrolment_form(lang, &o))
        },
    ))
}
