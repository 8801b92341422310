//! Spot checks: a police officer picks an area — a district, or a point
//! and radius — names the legal basis and purpose (as for a case, with an
//! expiry), and gets the people of interest there: open signals about
//! them or their notified address, or an overdue registration, each with
//! its evidence. The officer records what each check found.
//!
//! Every view is audited with the spot check's legal basis before anything
//! is read, and each person listed gets an audit record of their own
//! (`spotcheck.listed`, subject `person:<id>`), so the person's "my data"
//! shows it. Only the officer who opened a spot check may use it, and only
//! until it expires or is closed.

use std::collections::HashMap;

use amina_domain::console::{outcome_note, CaseTerms, SpotCheckOutcome, SpotCheckReason};
use amina_domain::signal::SignalStatus;
use amina_domain::types::Coordinates;
use amina_store::{SignalQuery, SpotArea, SpotCheckRecord};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use fluent_bundle::FluentValue;
use maud::{html, Markup};

use super::auth::Officer;
use super::map::{self, Marker};
use super::pages::{csrf_field, parse_id, render, when};
use super::{evidence, lang_of, t, t_with, PageError};
use crate::state::AppState;

/// Most people one spot check lists.
const MAX_PEOPLE: u32 = 100;

fn area_text(lang: &str, area: &SpotArea) -> String {
    match area {
        SpotArea::District { district } => format!("{}: {district}", t(lang, "spot-district")),
        SpotArea::Point { lat, lon, radius_m } => {
            format!("{lat:.5}, {lon:.5} ± {radius_m:.0} m")
        }
    }
}

fn state_code(c: &SpotCheckRecord, now: jiff::Timestamp) -> &'static str {
    match c.state(now) {
        amina_domain::console::CaseState::Open => "open",
        amina_domain::console::CaseState::Expired => "expired",
        amina_domain::console::CaseState::Closed => "closed",
    }
}

fn new_form(lang: &str, o: &Officer, districts: &[String], max_hours: u32) -> Markup {
    html! {
        form.spot-new method="post" action="/console/spot-checks" {
            (csrf_field(o))
            h2 { (t(lang, "spot-new")) }
            p.hint { (t(lang, "spot-area-hint")) }
            label { (t(lang, "spot-district"))
                select name="district" {
                    option value="" { "—" }
                    @for d in districts { option value=(d) { (d) } }
                }
            }
            label { (t(lang, "nearby-lat")) input name="lat"; }
            label { (t(lang, "nearby-lon")) input name="lon"; }
            label { (t(lang, "nearby-radius")) input name="radius_m" type="number" min="1"; }
            label { (t(lang, "case-legal-basis")) input name="legal_basis" required; }
            label { (t(lang, "case-purpose")) input name="purpose" required; }
            label { (t(lang, "case-hours")) input name="hours" type="number" min="1" max=(max_hours) value="4" required; }
            button type="submit" { (t(lang, "spot-open")) }
        }
    }
}

/// `GET /console/spot-checks`: the officer's spot checks and the form to
/// open one.
pub async fn spot_checks(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let err = |e: amina_store::StoreError| PageError::from(e).lang(lang);
    let mine = state.store.spot_checks_by(&o.name, 50).await.map_err(err)?;
    let districts = state.store.districts().await.map_err(err)?;
    let now = state.clock.now();
    Ok(render(
        lang,
        &o,
        &t(lang, "spot-title"),
        html! {
            p { (t(lang, "spot-intro")) }
            @if !mine.is_empty() {
                table.spot-checks { tbody {
                    @for c in &mine {
                        tr data-spot=(c.id) {
                            td { a href={ "/console/spot-checks/" (c.id) } { "#" (c.id) } }
                            td { (area_text(lang, &c.area)) }
                            td { (c.legal_basis) } td { (c.purpose) }
                            td { (t(lang, &format!("case-state-{}", state_code(c, now)))) " · " (when(c.expires_at)) }
                        }
                    }
                } }
            }
            (new_form(lang, &o, &districts, state.config.console.case_max_hours))
        },
    ))
}

#[derive(serde::Deserialize)]
pub struct SpotForm {
    #[serde(default)]
    district: String,
    #[serde(default)]
    lat: String,
    #[serde(default)]
    lon: String,
    #[serde(default)]
    radius_m: String,
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    hours: String,
}

/// `POST /console/spot-checks`: open one (area, legal basis, purpose,
/// lifetime).
pub async fn open_spot_check(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Form(f): Form<SpotForm>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let bad = |code| PageError::bad_request(code).lang(lang);
    let district = f.district.trim();
    let point = [&f.lat, &f.lon, &f.radius_m]
        .iter()
        .any(|v| !v.trim().is_empty());
    let area = match (district.is_empty(), point) {
        (false, false) => {
            let known = state
                .store
                .districts()
                .await
                .map_err(|e| PageError::from(e).lang(lang))?;
            if !known.iter().any(|d| d == district) {
                return Err(bad("unknown_district"));
            }
            SpotArea::District {
                district: district.to_string(),
            }
        }
        (true, true) => {
            let num = |v: &str, code| v.trim().parse::<f64>().map_err(|_| bad(code));
            let (lat, lon) = (
                num(&f.lat, "invalid_coordinates")?,
                num(&f.lon, "invalid_coordinates")?,
            );
            Coordinates::parse(lat, lon).map_err(|_| bad("invalid_coordinates"))?;
            let radius_m = num(&f.radius_m, "invalid_radius")?;
            if !(1.0..=state.config.console.nearby_max_radius_m).contains(&radius_m) {
                return Err(bad("invalid_radius"));
            }
            SpotArea::Point { lat, lon, radius_m }
        }
        _ => return Err(bad("invalid_area")),
    };
    let hours: i64 = f.hours.trim().parse().map_err(|_| bad("invalid_hours"))?;
    let now = state.clock.now();
    let max = i64::from(state.config.console.case_max_hours);
    let terms = CaseTerms::new(&f.legal_basis, &f.purpose, now, hours, max)
        .map_err(|e| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code()).lang(lang))?;
    let audit = o
        .audit(now, "spotcheck.open", "spot_check")
        .detail(serde_json::json!({
            "area": area, "purpose": terms.purpose, "expires_at": terms.expires_at.to_string()
        }));
    let check = state
        .store
        .open_spot_check(&o.name, terms, area, audit)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    Ok(Redirect::to(&format!("/console/spot-checks/{}", check.id)).into_response())
}

/// `GET /console/spot-checks/{id}`: the people of interest in the area with
/// their evidence, and the outcome forms.
pub async fn spot_check_view(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|e| e.lang(lang))?;
    let err = |e: amina_store::StoreError| PageError::from(e).lang(lang);
    let now = state.clock.now();
    let check = state
        .store
        .use_spot_check(
            id,
            &o.name,
            now,
            o.audit(now, "spotcheck.view", format!("spot_check:{id}")),
        )
        .await
        .map_err(err)?;
    let people = state
        .store
        .spot_candidates(&check.area, now, MAX_PEOPLE)
        .await
        .map_err(err)?;
    // Each person listed sees this access in "my data".
    for p in &people {
        let mut a = o
            .audit(now, "spotcheck.listed", format!("person:{}", p.person_id))
            .detail(serde_json::json!({"spot_check": id}));
        a.legal_basis = Some(check.legal_basis.clone());
        state.store.append_audit(a).await.map_err(err)?;
    }
    let open = [SignalStatus::Open, SignalStatus::InReview].to_vec();
    let mut signals = HashMap::new();
    for p in &people {
        let mut list = state
            .store
            .signals(SignalQuery {
                person_id: Some(p.person_id),
                statuses: open.clone(),
                limit: 20,
                ..Default::default()
            })
            .await
            .map_err(err)?;
        if let Some(a) = &p.address_id {
            list.extend(
                state
                    .store
                    .signals(SignalQuery {
                        address_id: Some(a.clone()),
                        statuses: open.clone(),
                        limit: 5,
                        ..Default::default()
                    })
                    .await
                    .map_err(err)?,
            );
        }
        signals.insert(p.person_id, list);
    }
    let outcomes: HashMap<i64, _> = state
        .store
        .spot_outcomes(id)
        .await
        .map_err(err)?
        .into_iter()
        .map(|r| (r.person_id, r))
        .collect();
    let map_markup = match &check.area {
        SpotArea::Point { lat, lon, radius_m } => Some(map::svg(
            &t(lang, "map-title"),
            &[Marker {
                lat: *lat,
                lon: *lon,
                class: "centre",
                label: String::new(),
            }],
            Some((*lat, *lon, *radius_m)),
            state.config.console.tile_url.trim(),
        )),
        SpotArea::District { .. } => None,
    };
    Ok(render(
        lang,
        &o,
        &t_with(lang, "spot-check-title", &[("id", FluentValue::from(id))]),
        html! {
            dl.case {
                dt { (t(lang, "spot-area")) } dd id="spot-area" { (area_text(lang, &check.area)) }
                dt { (t(lang, "case-legal-basis")) } dd { (check.legal_basis) }
                dt { (t(lang, "case-purpose")) } dd { (check.purpose) }
                dt { (t(lang, "case-expires")) } dd { (when(check.expires_at)) }
            }
            @if let Some(m) = map_markup { (m) }
            h2 { (t_with(lang, "spot-people", &[("count", FluentValue::from(people.len()))])) }
            @if people.is_empty() { p.empty { (t(lang, "none")) } }
            @for p in &people {
                @let list = signals.get(&p.person_id).cloned().unwrap_or_default();
                article.spot-person data-person=(p.person_id) {
                    h3 {
                        a href={ "/console/persons/" (p.person_id) } { (p.card_number) }
                        " " (p.name_latin) " / " (p.name_cyrillic)
                    }
                    p.reasons {
                        @if p.overdue { span.reason data-reason="overdue" { (t(lang, "spot-reason-overdue")) } " " }
                        @for r in SpotCheckReason::ALL {
                            @if r != SpotCheckReason::Overdue && list.iter().any(|s| SpotCheckReason::of_signal(s.kind) == r) {
                                span.reason data-reason=(r.code()) { (t(lang, &format!("spot-reason-{}", r.code()))) } " "
                            }
                        }
                    }
                    dl {
                        dt { (t(lang, "col-status")) } dd { (t(lang, &format!("status-{}", p.status.as_str()))) }
                        dt { (t(lang, "person-deadline")) } dd { (when(p.deadline_at)) }
                        @if let Some(a) = &p.address { dt { (t(lang, "col-address")) } dd { (a) @if let Some(d) = &p.district { " · " (d) } } }
                        @if let Some(d) = p.distance_m { dt { (t(lang, "spot-distance")) } dd { (format!("{d:.0} m")) } }
                    }
                    @for s in &list {
                        section.signal data-signal=(s.id) {
                            h4 { (evidence::kind_name(lang, s.kind)) " · " (t(lang, &format!("signal-status-{}", s.status.code()))) " · " (when(s.raised_at)) }
                            p { (s.explanation) }
                            (evidence::render(lang, s.kind, &s.evidence, true))
                        }
                    }
                    @match outcomes.get(&p.person_id) {
                        Some(r) => p.outcome data-outcome=(r.outcome.code()) {
                            (t(lang, "spot-outcome")) ": " strong { (t(lang, &format!("spot-outcome-{}", r.outcome.code()))) }
                            @if let Some(n) = &r.note { " — " (n) }
                            " · " (r.recorded_by) " · " (when(r.recorded_at))
                        },
                        None => form.outcome method="post" action={ "/console/spot-checks/" (id) "/outcomes" } {
                            (csrf_field(&o))
                            input type="hidden" name="person" value=(p.person_id);
                            label { (t(lang, "spot-outcome"))
                                select name="outcome" {
                                    @for oc in SpotCheckOutcome::ALL {
                                        option value=(oc.code()) { (t(lang, &format!("spot-outcome-{}", oc.code()))) }
                                    }
                                }
                            }
                            label { (t(lang, "spot-note")) input name="note"; }
                            button type="submit" { (t(lang, "spot-record")) }
                        },
                    }
                }
            }
            form method="post" action={ "/console/spot-checks/" (id) "/close" } {
                (csrf_field(&o))
                button type="submit" { (t(lang, "spot-close")) }
            }
        },
    ))
}

#[derive(serde::Deserialize)]
pub struct OutcomeForm {
    #[serde(default)]
    person: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
}

/// `POST /console/spot-checks/{id}/outcomes`: what the check of one person
/// found (and a note unless all was in order). Audited.
pub async fn record_outcome(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<OutcomeForm>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|e| e.lang(lang))?;
    let person = parse_id(f.person.trim()).map_err(|e| e.lang(lang))?;
    let outcome = SpotCheckOutcome::from_code(f.outcome.trim())
        .ok_or(PageError::bad_request("invalid_outcome").lang(lang))?;
    let note = outcome_note(outcome, &f.note)
        .map_err(|e| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code()).lang(lang))?;
    let now = state.clock.now();
    let audit = o
        .audit(now, "spotcheck.outcome", format!("person:{person}"))
        .detail(serde_json::json!({"spot_check": id, "outcome": outcome.code(), "note": note}));
    state
        .store
        .record_spot_outcome(id, person, outcome, note, &o.name, now, audit)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    Ok(Redirect::to(&format!("/console/spot-checks/{id}")).into_response())
}

/// `POST /console/spot-checks/{id}/close`.
pub async fn close_spot_check(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|e| e.lang(lang))?;
    let now = state.clock.now();
    state
        .store
        .close_spot_check(
            id,
            &o.name,
            now,
            o.audit(now, "spotcheck.close", format!("spot_check:{id}")),
        )
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    Ok(Redirect::to("/console/spot-checks").into_response())
}
