//! Account administration for admins: list accounts, create one with a
//! role (a generated password and TOTP secret, shown once), disable or
//! enable, and replace a lost authenticator's TOTP secret. Each change
//! needs a written reason and is audited in the same transaction.
//!
//! Least privilege: admins manage accounts and see no personal data of
//! the people registered (no search, no person card, no audit trail).

use amina_domain::console::Role;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};

use super::auth::{self, Officer};
use super::pages::{csrf_field, parse_id, render, when, when_opt};
use super::{lang_of, t, PageError};
use crate::state::AppState;

fn create_form(lang: &str, o: &Officer) -> Markup {
    html! {
        form.account-new method="post" action="/console/accounts" {
            (csrf_field(o))
            h2 { (t(lang, "accounts-new")) }
            label { (t(lang, "accounts-name")) input name="name" required autocomplete="off"; }
            label { (t(lang, "accounts-role"))
                select name="role" {
                    @for r in Role::ALL { option value=(r.code()) { (t(lang, &format!("role-{}", r.code()))) } }
                }
            }
            button type="submit" { (t(lang, "accounts-create")) }
        }
    }
}

/// `GET /console/accounts`.
pub async fn accounts(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let err = |e: amina_store::StoreError| PageError::from(e).lang(lang);
    let now = state.clock.now();
    state
        .store
        .append_audit(o.audit(now, "account.list", "accounts"))
        .await
        .map_err(err)?;
    let list = state.store.accounts().await.map_err(err)?;
    Ok(render(
        lang,
        &o,
        &t(lang, "accounts-title"),
        html! {
            table.accounts {
                thead { tr {
                    th { (t(lang, "accounts-name")) } th { (t(lang, "accounts-role")) }
                    th { (t(lang, "accounts-created")) } th { (t(lang, "accounts-state")) } th {}
                } }
                tbody {
                    @for a in &list {
                        tr data-account=(a.name) data-disabled=(a.disabled) {
                            td { (a.name) }
                            td { (t(lang, &format!("role-{}", a.role.code()))) }
                            td { (when(a.created_at)) }
                            td {
                                @if a.disabled { (t(lang, "accounts-disabled")) }
                                @else if a.locked_until.is_some_and(|u| u > now) { (t(lang, "accounts-locked")) " " (when_opt(a.locked_until)) }
                                @else { (t(lang, "accounts-active")) }
                            }
                            td {
                                @if a.name != o.name {
                                    @let action = if a.disabled { "enable" } else { "disable" };
                                    form.inline method="post" action={ "/console/accounts/" (a.id) "/" (action) } {
                                        (csrf_field(&o))
                                        input name="reason" placeholder=(t(lang, "reason")) required;
                                        button type="submit" { (t(lang, &format!("accounts-{action}"))) }
                                    }
                                    form.inline method="post" action={ "/console/accounts/" (a.id) "/reset-totp" } {
                                        (csrf_field(&o))
                                        input name="reason" placeholder=(t(lang, "reason")) required;
                                        button type="submit" { (t(lang, "accounts-reset-totp")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (create_form(lang, &o))
        },
    ))
}

#[derive(serde::Deserialize)]
pub struct NewAccountForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

/// The one-time secrets of a new or reset account.
fn secrets_page(lang: &str, name: &str, password: Option<&str>, secret: &str, uri: &str) -> Markup {
    html! {
        p { (t(lang, "accounts-secrets-once")) }
        dl.secrets {
            dt { (t(lang, "accounts-name")) } dd id="account-name" { (name) }
            @if let Some(p) = password { dt { (t(lang, "accounts-password")) } dd { code id="password" { (p) } } }
            dt { (t(lang, "accounts-totp-secret")) } dd { code id="totp-secret" { (secret) } }
            dt { "otpauth" } dd { code { (uri) } }
        }
        p { a href="/console/accounts" { (t(lang, "accounts-title")) } }
    }
}

/// `POST /console/accounts`: create an account with a role; the password
/// and TOTP secret are shown this once.
pub async fn create(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Form(f): Form<NewAccountForm>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let name = f.name.trim();
    if !auth::valid_account_name(name) {
        return Err(PageError::bad_request("invalid_account_name").lang(lang));
    }
    let role = Role::parse(&f.role).ok_or(PageError::bad_request("invalid_role").lang(lang))?;
    if state
        .store
        .account_by_name(name)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?
        .is_some()
    {
        return Err(PageError::new(StatusCode::CONFLICT, "account_exists").lang(lang));
    }
    let password = auth::generated_password();
    let created = auth::create_account(&state, name, role, &password, &o.name)
        .await
        .map_err(|_| PageError::new(StatusCode::CONFLICT, "account_exists").lang(lang))?;
    Ok(render(
        lang,
        &o,
        &t(lang, "accounts-created-title"),
        secrets_page(
            lang,
            &created.name,
            Some(&password),
            &created.totp_secret,
            &created.otpauth_uri,
        ),
    ))
}

#[derive(serde::Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

async fn set_disabled(
    state: AppState,
    o: Officer,
    headers: HeaderMap,
    id: String,
    f: ReasonForm,
    disabled: bool,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|e| e.lang(lang))?;
    let reason = amina_domain::console::reason(Some(&f.reason))
        .map_err(|e| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code()).lang(lang))?;
    let now = state.clock.now();
    let action = if disabled {
        "account.disable"
    } else {
        "account.enable"
    };
    let audit = o
        .audit(now, action, format!("account:{id}"))
        .detail(serde_json::json!({"reason": reason}));
    state
        .store
        .set_account_disabled(id, disabled, now, audit)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    Ok(Redirect::to("/console/accounts").into_response())
}

/// `POST /console/accounts/{id}/disable`: ends its sessions too.
pub async fn disable(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ReasonForm>,
) -> Result<Response, PageError> {
    set_disabled(state, o, headers, id, f, true).await
}

/// `POST /console/accounts/{id}/enable`.
pub async fn enable(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ReasonForm>,
) -> Result<Response, PageError> {
    set_disabled(state, o, headers, id, f, false).await
}

/// `POST /console/accounts/{id}/reset-totp`: a new TOTP secret, shown once.
pub async fn reset_totp(
    State(state): State<AppState>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ReasonForm>,
) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let id = parse_id(&id).map_err(|e| e.lang(lang))?;
    let reason = amina_domain::console::reason(Some(&f.reason))
        .map_err(|e| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code()).lang(lang))?;
    let account = state
        .store
        .account(id)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?
        .ok_or(PageError::new(StatusCode::NOT_FOUND, "unknown_account").lang(lang))?;
    let (secret, uri) = auth::new_totp_secret(&account.name)
        .map_err(|_| PageError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error"))?;
    let now = state.clock.now();
    let audit = o
        .audit(now, "account.reset_totp", format!("account:{id}"))
        .detail(serde_json::json!({"reason": reason}));
    state
        .store
        .reset_totp(id, &secret, now, audit)
        .await
        .map_err(|e| PageError::from(e).lang(lang))?;
    Ok(render(
        lang,
        &o,
        &t(lang, "accounts-reset-title"),
        secrets_page(lang, &account.name, None, &secret, &uri),
    ))
}
