//! Host parties in the console (amina_domain::host): the pages a host party
//! sees after the ordinary sign-in, and the pages on which a migration
//! officer creates host-party accounts and sets their properties.
//!
//! Least privilege: a host party sees their own properties, the people
//! registered there (name, masked card, since when) and the children's
//! notices they filed — never a person card, a position or a signal. Their
//! routes are allowed to the `host_party` role only (authz::RULES), and
//! every handler reads the host party's own record by the session's
//! account id, never by an id from the request.
//!
//! A host party states "this person does not live here" against the
//! place-of-stay notice in force (by its id), and the store checks that the
//! notice is at one of their properties; an id of anybody else's notice is
//! `404 not_your_tenant`, as if it did not exist.
//!
//! Self-service sign-up is not offered: the system has no source that
//! verifies an identity document number (docs/console.md, "Host parties").

use std::collections::HashMap;

use amina_domain::console::Role;
use amina_domain::host::{parse_properties, person_name, statement, IdentityDocument};
use amina_domain::stay::{Address, AddressId, NoticeRules};
use amina_domain::types::{CardNumber, Citizenship};
use amina_store::{
    AuditEntry, ChildNoticeRecord, HostParty, NewChildNotice, NewHostParty, StoreError,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use base64::Engine as _;
use maud::{html, Markup};

use super::auth::{prepare_account, Officer};
use super::{lang_of, layout, t, PageError};
use crate::api::Routes;
use crate::error::ApiError;
use crate::state::AppState;

/// Every reason a host-party page may show (each has an `error-<code>`
/// text in host.ftl or console.ftl; the test below checks).
#[cfg(test)]
const ERROR_CODES: &[&str] = &[
    "invalid_document",
    "invalid_person_name",
    "statement_required",
    "invalid_properties",
    "invalid_account_name",
    "invalid_address_id",
    "unknown_address",
    "account_exists",
    "unknown_host_party",
    "host_party_exists",
    "unknown_property",
    "not_your_tenant",
    "dispute_open",
    "child_not_minor",
    "child_born_after_arrival",
    "parent_not_registered",
    "address_not_yours",
    "address_not_residential",
    "address_outside_region",
    "date_before_registration",
    "date_too_far_ahead",
    "date_before_current_notice",
    "child_linked_to_other_parent",
    "invalid_card_number",
    "invalid_citizenship",
    "invalid_date",
    "invalid_id",
    "text_too_long",
];

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/console/host", tenants_page)
        .add(Method::GET, "/console/host/children", children_page)
        .add(Method::POST, "/console/host/children", file_child_notice)
        .add(Method::POST, "/console/host/notices/{id}/dispute", dispute)
        .add(Method::GET, "/console/host-parties", host_parties_page)
        .add(Method::POST, "/console/host-parties", create_host_party)
        .add(Method::GET, "/console/host-parties/{id}", host_party_page)
        .add(
            Method::POST,
            "/console/host-parties/{id}/properties",
            set_properties,
        )
}

/// The navigation entries of the host-party pages, by role.
pub fn nav(lang: &str, role: Role) -> Markup {
    html! {
        @if role == Role::HostParty {
            a href="/console/host" { (t(lang, "nav-host-tenants")) }
            a href="/console/host/children" { (t(lang, "nav-host-children")) }
        }
        @if role == Role::MigrationOfficer {
            a href="/console/host-parties" { (t(lang, "nav-host-parties")) }
        }
    }
}

fn render(lang: &'static str, o: &Officer, title: &str, body: Markup) -> Response {
    super::html_response(layout::page(lang, Some(o), title, body))
}

fn csrf_field(o: &Officer) -> Markup {
    html! { input type="hidden" name="csrf" value=(o.csrf); }
}

fn address_line(a: &Address) -> String {
    let mut s = format!("{}, {}, {}", a.municipality, a.street, a.house);
    if let Some(f) = &a.flat {
        s.push_str(", ");
        s.push_str(f);
    }
    s
}

fn parse_id(raw: &str) -> Result<i64, &'static str> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or("invalid_id")
}

fn parse_date(raw: &str) -> Result<jiff::civil::Date, &'static str> {
    raw.trim().parse().map_err(|_| "invalid_date")
}

fn store_err(lang: &'static str) -> impl Fn(StoreError) -> PageError {
    move |e| PageError::from(e).lang(lang)
}

/// The signed-in host party's own record.
async fn own_record(
    state: &AppState,
    o: &Officer,
    lang: &'static str,
) -> Result<HostParty, PageError> {
    state
        .store
        .host_party(o.account_id)
        .await
        .map_err(store_err(lang))?
        .ok_or(PageError::new(StatusCode::NOT_FOUND, "unknown_host_party").lang(lang))
}

fn error_banner(lang: &str, code: &str) -> Markup {
    html! {
        p.error role="alert" data-reason=(code) { (t(lang, &format!("error-{code}"))) }
    }
}

// ------------------------------------------------------------- host party

/// `GET /console/host`: my properties and who is registered there, each
/// with the "does not live here" form. The read is audited before it is
/// made.
pub async fn tenants_page(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let host = own_record(&state, &o, lang).await?;
    let now = state.clock.now();
    state
        .store
        .append_audit(
            o.audit(now, "host.tenants", format!("host_party:{}", o.account_id))
                .detail(serde_json::json!({
                    "addresses": host.properties.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
                })),
        )
        .await
        .map_err(store_err(lang))?;
    let tenants = state
        .store
        .host_tenants(o.account_id)
        .await
        .map_err(store_err(lang))?;
    Ok(render(
        lang,
        &o,
        &t(lang, "host-tenants-title"),
        html! {
            p.hint { (t(lang, "host-tenants-intro")) }
            section.properties {
                h2 { (t(lang, "host-properties")) }
                @if host.properties.is_empty() { p.empty { (t(lang, "host-no-properties")) } }
                ul { @for a in &host.properties { li data-address=(a.id) { (address_line(a)) } } }
            }
            section.tenants {
                h2 { (t(lang, "host-tenants")) }
                @if tenants.is_empty() { p.empty { (t(lang, "host-no-tenants")) } }
                @for tn in &tenants {
                    article.tenant data-notice=(tn.notice_id) data-disputed=(tn.disputed) {
                        h3 { (tn.name_latin) " / " (tn.name_cyrillic) }
                        dl {
                            dt { (t(lang, "host-card")) } dd.card { (tn.card_masked) }
                            dt { (t(lang, "host-address")) } dd { (address_line(&tn.address)) }
                            dt { (t(lang, "host-since")) } dd { (tn.since) }
                        }
                        @if tn.disputed {
                            p.hint { (t(lang, "host-disputed")) }
                        } @else {
                            form.dispute method="post" action={ "/console/host/notices/" (tn.notice_id) "/dispute" } {
                                (csrf_field(&o))
                                label { (t(lang, "host-dispute-statement"))
                                    textarea name="statement" rows="3" {} }
                                button type="submit" { (t(lang, "host-dispute-submit")) }
                            }
                        }
                    }
                }
            }
        },
    ))
}

#[derive(serde::Deserialize)]
pub struct DisputeForm {
    #[serde(default)]
    statement: String,
}

/// `POST /console/host/notices/{id}/dispute`: "this person does not live
/// here", with a written statement; raises an `address_disputed` signal.
pub async fn dispute(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<DisputeForm>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|c| PageError::bad_request(c).lang(lang))?;
    let text = statement(Some(&f.statement))
        .map_err(|e| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code()).lang(lang))?;
    let now = state.clock.now();
    state
        .store
        .dispute_registration(
            o.account_id,
            id,
            text,
            now,
            o.audit(now, "host.dispute", "person"),
        )
        .await
        .map_err(store_err(lang))?;
    Ok(Redirect::to("/console/host").into_response())
}

/// `GET /console/host/children`: the arrival-notice form and the notices
/// this host party filed.
pub async fn children_page(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    children_response(&state, &o, lang, &HashMap::new(), None).await
}

async fn children_response(
    state: &AppState,
    o: &Officer,
    lang: &'static str,
    values: &HashMap<String, String>,
    error: Option<(StatusCode, &'static str)>,
) -> Result<Response, PageError> {
    let host = own_record(state, o, lang).await?;
    let filed = state
        .store
        .child_notices_by_host(o.account_id)
        .await
        .map_err(store_err(lang))?;
    let v = |k: &str| values.get(k).cloned().unwrap_or_default();
    let mut resp = render(
        lang,
        o,
        &t(lang, "host-children-title"),
        html! {
            p.hint { (t(lang, "host-children-intro")) }
            @if let Some((_, code)) = error { (error_banner(lang, code)) }
            form.child method="post" action="/console/host/children" {
                (csrf_field(o))
                label { (t(lang, "host-child-name")) input name="name" value=(v("name")) required; }
                label { (t(lang, "host-child-birth-date")) input name="birth_date" type="date" value=(v("birth_date")) required; }
                label { (t(lang, "host-child-citizenship")) input name="citizenship" maxlength="3" value=(v("citizenship")) required; }
                label { (t(lang, "host-child-document")) input name="document" value=(v("document")) required; }
                label { (t(lang, "host-child-parent-card")) input name="parent_card" value=(v("parent_card")) required; }
                label { (t(lang, "host-address"))
                    select name="address_id" required {
                        @for a in &host.properties {
                            option value=(a.id) selected[v("address_id") == a.id.as_str()] { (address_line(a)) }
                        }
                    }
                }
                label { (t(lang, "host-child-arrival")) input name="arrival_date" type="date" value=(v("arrival_date")) required; }
                button type="submit" { (t(lang, "host-child-submit")) }
            }
            h2 { (t(lang, "host-children-filed")) }
            @if filed.is_empty() { p.empty { (t(lang, "none")) } }
            (children_table(lang, &filed, true))
        },
    );
    if let Some((status, code)) = error {
        *resp.status_mut() = status;
        if let Ok(v) = axum::http::HeaderValue::from_str(code) {
            resp.headers_mut().insert("x-amina-reason", v);
        }
    }
    Ok(resp)
}

/// Children's notices as a table; `for_host` shows the parent's masked
/// card (the host party knows the parent by it), officers see the
/// document and the filing host party instead.
pub fn children_table(lang: &str, notices: &[ChildNoticeRecord], for_host: bool) -> Markup {
    html! {
        @if !notices.is_empty() {
            table.children {
                thead { tr {
                    th { (t(lang, "host-child-name")) } th { (t(lang, "host-child-birth-date")) }
                    th { (t(lang, "host-child-citizenship")) } th { (t(lang, "host-child-document")) }
                    @if for_host { th { (t(lang, "host-child-parent-card")) } }
                    th { (t(lang, "host-address")) } th { (t(lang, "host-child-arrival")) }
                    @if !for_host { th { (t(lang, "host-child-filed-by")) } }
                    th { (t(lang, "host-child-state")) }
                } }
                tbody {
                    @for n in notices {
                        tr data-child-notice=(n.id) data-in-force=(n.in_force) {
                            td.child-name { (n.name) } td { (n.birth_date) } td { (n.citizenship) } td { (n.document) }
                            @if for_host { td { (n.parent_card_masked) } }
                            td { (address_line(&n.address)) } td { (n.arrival_date) }
                            @if !for_host { td { "#" (n.host_account_id) } }
                            td { (t(lang, if n.in_force { "host-child-in-force" } else { "host-child-superseded" })) }
                        }
                    }
                }
            }
        }
    }
}

/// The children's section of the officers' person card.
pub fn person_children(lang: &str, notices: &[ChildNoticeRecord]) -> Markup {
    html! {
        section.children {
            h2 { (t(lang, "person-children")) }
            @if notices.is_empty() { p.empty { (t(lang, "none")) } }
            (children_table(lang, notices, false))
            p.hint { (t(lang, "person-children-hint")) }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ChildForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    citizenship: String,
    #[serde(default)]
    document: String,
    #[serde(default)]
    parent_card: String,
    #[serde(default)]
    address_id: String,
    #[serde(default)]
    arrival_date: String,
}

impl ChildForm {
    fn values(&self) -> HashMap<String, String> {
        [
            ("name", &self.name),
            ("birth_date", &self.birth_date),
            ("citizenship", &self.citizenship),
            ("document", &self.document),
            ("parent_card", &self.parent_card),
            ("address_id", &self.address_id),
            ("arrival_date", &self.arrival_date),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
    }

    /// Parse every field once; the first bad one is the reason.
    fn parse(&self, host_account_id: i64) -> Result<NewChildNotice, &'static str> {
        Ok(NewChildNotice {
            host_account_id,
            name: person_name(&self.name).map_err(|e| e.code())?,
            birth_date: parse_date(&self.birth_date)?,
            citizenship: Citizenship::parse(&self.citizenship)
                .map_err(|_| "invalid_citizenship")?,
            document: IdentityDocument::parse(&self.document).map_err(|e| e.code())?,
            parent_card: CardNumber::parse(&self.parent_card).map_err(|_| "invalid_card_number")?,
            address_id: AddressId::parse(&self.address_id).map_err(|e| e.code())?,
            arrival_date: parse_date(&self.arrival_date)?,
        })
    }
}

/// `POST /console/host/children`: file a child's arrival notice. A refusal
/// shows the form again with the reason and the values typed; nothing is
/// stored.
pub async fn file_child_notice(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Form(f): Form<ChildForm>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let notice = match f.parse(o.account_id) {
        Ok(n) => n,
        Err(code) => {
            let err = Some((StatusCode::BAD_REQUEST, code));
            return children_response(&state, &o, lang, &f.values(), err).await;
        }
    };
    let now = state.clock.now();
    let rules = NoticeRules {
        max_days_ahead: state.config.stay.max_days_ahead,
    };
    let result = state
        .store
        .file_child_notice(
            rules,
            state.monitor.geofence.clone(),
            notice,
            now,
            o.audit(now, "host.child_notice", "person"),
        )
        .await;
    match result {
        Ok(_) => Ok(Redirect::to("/console/host/children").into_response()),
        Err(StoreError::Unavailable(m)) => Err(store_err(lang)(StoreError::Unavailable(m))),
        Err(StoreError::Internal(m)) => Err(store_err(lang)(StoreError::Internal(m))),
        Err(e) => {
            let api = ApiError::from(e);
            children_response(&state, &o, lang, &f.values(), Some((api.status, api.code))).await
        }
    }
}

// ----------------------------------------------------------- the officer

/// `GET /console/host-parties`: host-party accounts and the form to create
/// one. The list (names, document numbers) is personal data: audited.
pub async fn host_parties_page(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    host_parties_response(&state, &o, lang, &HashMap::new(), None).await
}

async fn host_parties_response(
    state: &AppState,
    o: &Officer,
    lang: &'static str,
    values: &HashMap<String, String>,
    error: Option<(StatusCode, &'static str)>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    state
        .store
        .append_audit(o.audit(now, "host_party.list", "host_parties"))
        .await
        .map_err(store_err(lang))?;
    let list = state
        .store
        .host_parties(200)
        .await
        .map_err(store_err(lang))?;
    let v = |k: &str| values.get(k).cloned().unwrap_or_default();
    let mut resp = render(
        lang,
        o,
        &t(lang, "host-parties-title"),
        html! {
            p.hint { (t(lang, "host-parties-intro")) }
            @if let Some((_, code)) = error { (error_banner(lang, code)) }
            form.create-host method="post" action="/console/host-parties" {
                (csrf_field(o))
                label { (t(lang, "host-account-name")) input name="name" value=(v("name")) required; }
                label { (t(lang, "host-full-name")) input name="full_name" value=(v("full_name")) required; }
                label { (t(lang, "host-document")) input name="document" value=(v("document")) required; }
                label { (t(lang, "host-properties-ids")) textarea name="properties" rows="3" { (v("properties")) } }
                button type="submit" { (t(lang, "host-create")) }
            }
            @if list.is_empty() { p.empty { (t(lang, "none")) } }
            table.host-parties { tbody {
                @for h in &list {
                    tr data-host=(h.account_id) {
                        td { a href={ "/console/host-parties/" (h.account_id) } { (h.name) } }
                        td { (h.full_name) } td { (h.document) } td { (h.created_by) }
                    }
                }
            } }
        },
    );
    if let Some((status, code)) = error {
        *resp.status_mut() = status;
        if let Ok(v) = axum::http::HeaderValue::from_str(code) {
            resp.headers_mut().insert("x-amina-reason", v);
        }
    }
    Ok(resp)
}

#[derive(serde::Deserialize)]
pub struct CreateHostForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    document: String,
    #[serde(default)]
    properties: String,
}

impl CreateHostForm {
    /// Parse the host party's identity and properties; the first bad field
    /// is the reason.
    fn parse(&self) -> Result<NewHostParty, &'static str> {
        Ok(NewHostParty {
            full_name: person_name(&self.full_name).map_err(|e| e.code())?,
            document: IdentityDocument::parse(&self.document).map_err(|e| e.code())?,
            properties: parse_properties(&self.properties).map_err(|e| e.code())?,
        })
    }
}

/// A random initial password: 24 characters from 18 random bytes, shown
/// once to the officer, who hands it to the host party with the TOTP
/// secret.
fn initial_password() -> String {
    let mut raw = [0u8; 18];
    rand::fill(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// `POST /console/host-parties`: create the account (role `host_party`)
/// with its identity and properties; the page shows the initial password,
/// the TOTP secret and its otpauth link as a QR code, this once. Audited in
/// the same transaction.
pub async fn create_host_party(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Form(f): Form<CreateHostForm>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let values: HashMap<String, String> = [
        ("name", &f.name),
        ("full_name", &f.full_name),
        ("document", &f.document),
        ("properties", &f.properties),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.clone()))
    .collect();
    let bad = |code: &'static str| Some((StatusCode::BAD_REQUEST, code));
    let parsed = f.parse();
    let host = match parsed {
        Ok(h) => h,
        Err(code) => return host_parties_response(&state, &o, lang, &values, bad(code)).await,
    };
    let password = initial_password();
    let Ok((account, created)) =
        prepare_account(&f.name, Role::HostParty, &password, &o.name).await
    else {
        return host_parties_response(&state, &o, lang, &values, bad("invalid_account_name")).await;
    };
    let now = state.clock.now();
    let audit = o
        .audit(now, "host_party.create", "account")
        .detail(serde_json::json!({
            "name": created.name,
            "document": host.document.as_str(),
            "properties": host.properties.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        }));
    let stored = match state.store.create_host_party(account, host, audit).await {
        Ok(h) => h,
        Err(e @ (StoreError::Unavailable(_) | StoreError::Internal(_))) => {
            return Err(store_err(lang)(e))
        }
        Err(e) => {
            let api = ApiError::from(e);
            return host_parties_response(&state, &o, lang, &values, Some((api.status, api.code)))
                .await;
        }
    };
    let qr = qrcode::QrCode::new(created.otpauth_uri.as_bytes())
        .map_err(|_| PageError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error"))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    Ok(render(
        lang,
        &o,
        &t(lang, "host-created-title"),
        html! {
            p { (t(lang, "host-created-intro")) }
            dl.credentials {
                dt { (t(lang, "host-account-name")) } dd data-name=(stored.name) { (stored.name) }
                dt { (t(lang, "host-initial-password")) } dd data-password=(password) { code { (password) } }
                dt { (t(lang, "host-totp-secret")) } dd data-totp=(created.totp_secret) { code { (created.totp_secret) } }
                dt { "otpauth" } dd { code { (created.otpauth_uri) } }
            }
            div.qr { (maud::PreEscaped(qr)) }
            p.hint { (t(lang, "host-created-once")) }
            p { a href={ "/console/host-parties/" (stored.account_id) } { (t(lang, "host-open")) } }
        },
    ))
}

/// `GET /console/host-parties/{id}`: a host party's record and the form to
/// change their properties. Audited.
pub async fn host_party_page(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|c| PageError::bad_request(c).lang(lang))?;
    let now = state.clock.now();
    state
        .store
        .append_audit(o.audit(now, "host_party.view", format!("account:{id}")))
        .await
        .map_err(store_err(lang))?;
    let h = state
        .store
        .host_party(id)
        .await
        .map_err(store_err(lang))?
        .ok_or(PageError::new(StatusCode::NOT_FOUND, "unknown_host_party").lang(lang))?;
    let ids: Vec<&str> = h.properties.iter().map(|a| a.id.as_str()).collect();
    Ok(render(
        lang,
        &o,
        &format!("{} · {}", h.full_name, h.name),
        html! {
            dl {
                dt { (t(lang, "host-account-name")) } dd { (h.name) }
                dt { (t(lang, "host-full-name")) } dd { (h.full_name) }
                dt { (t(lang, "host-document")) } dd { (h.document) }
                dt { (t(lang, "host-created-by")) } dd { (h.created_by) }
            }
            h2 { (t(lang, "host-properties")) }
            ul.properties { @for a in &h.properties { li data-address=(a.id) { (a.id) " — " (address_line(a)) } } }
            form.properties method="post" action={ "/console/host-parties/" (h.account_id) "/properties" } {
                (csrf_field(&o))
                label { (t(lang, "host-properties-ids")) textarea name="properties" rows="4" { (ids.join("\n")) } }
                button type="submit" { (t(lang, "host-properties-save")) }
            }
        },
    ))
}

#[derive(serde::Deserialize)]
pub struct PropertiesForm {
    #[serde(default)]
    properties: String,
}

/// `POST /console/host-parties/{id}/properties`: replace the properties
/// (each must be in the register); audited with the lists before and
/// after.
pub async fn set_properties(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<PropertiesForm>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|c| PageError::bad_request(c).lang(lang))?;
    let ids =
        parse_properties(&f.properties).map_err(|e| PageError::bad_request(e.code()).lang(lang))?;
    let now = state.clock.now();
    let audit: AuditEntry = o.audit(now, "host_party.properties", format!("account:{id}"));
    state
        .store
        .set_host_properties(id, ids, audit)
        .await
        .map_err(store_err(lang))?;
    Ok(Redirect::to(&format!("/console/host-parties/{id}")).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_host_text_exists_in_both_languages() {
        let c = crate::i18n::console_catalog();
        let src = include_str!("host.rs");
        let mut used = Vec::new();
        for marker in ["t(lang, \"", "t_with(lang, \""] {
            for part in src.split(marker).skip(1) {
                used.push(part.split('"').next().unwrap().to_string());
            }
        }
        for k in ["host-child-in-force", "host-child-superseded"] {
            used.push(k.to_string());
        }
        used.push("role-host_party".into());
        used.push("home-role-host_party".into());
        for code in super::ERROR_CODES {
            used.push(format!("error-{code}"));
        }
        assert!(used.len() > 40, "{used:?}");
        for lang in ["ru", "en"] {
            let ids = c.message_ids(lang);
            for key in &used {
                assert!(ids.contains(key), "{key} missing in {lang}");
            }
        }
    }
}
