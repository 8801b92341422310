//! Who may call what: ONE table for every route of the server.
//!
//! Each route of the router has exactly one [`Rule`] here, found by method
//! and path template. The authorisation layer ([`authorize`]) runs on
//! every route: a route with no rule is refused (fail closed), and the
//! authorisation-matrix test enumerates the router's routes against this
//! table, so a new endpoint without a rule fails the build's tests.
//!
//! Console rules name the roles allowed; everyone else gets 403
//! `role_not_allowed`. A console request must carry a live session, and a
//! state-changing one (anything but GET/HEAD) the session's CSRF token in
//! its form (synchronizer token), checked here before the handler runs.
//! Device and app endpoints carry no console role at all: devices prove
//! possession of their key on every request (RFC 9421, checked by the
//! handlers), enrolment proves the card secret.

use amina_domain::console::Role;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::auth::{self, Officer};
use super::PageError;
use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No authentication: static files, health, the sign-in page.
    Public,
    /// The sign-in form: no session yet; the handler checks a double-submit
    /// token against login CSRF.
    SignIn,
    /// Device-authenticated (RFC 9421 signature with the bound key) or
    /// self-service with the card secret: no console role.
    Device,
    /// The federal migration system: every request signed with the
    /// sender's shared key (RFC 9421, hmac-sha256), checked by the
    /// handlers (`api::integration`); no console role.
    Integration,
    /// A signed-in console user with one of these roles.
    Console(&'static [Role]),
}

#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    /// The action recorded for the route, for documentation and the audit.
    pub action: &'static str,
    pub access: Access,
}

use Role::*;

const ANY_ROLE: &[Role] = &Role::ALL;
/// Roles that work with people's records (not auditors, admins or
/// enrolment operators).
const CASEWORK: &[Role] = &[MigrationOfficer, PoliceOfficer, Supervisor];
/// Roles that may open a case and read location inside it.
const CASE_OFFICERS: &[Role] = &[MigrationOfficer, PoliceOfficer];

const fn rule(
    method: &'static str,
    path: &'static str,
    action: &'static str,
    access: Access,
) -> Rule {
    Rule {
        method,
        path,
        action,
        access,
    }
}

/// The table. Keep it sorted by path.
pub const RULES: &[Rule] = &[
    rule("GET", "/app", "app.shell", Access::Public),
    rule("GET", "/app/", "app.shell", Access::Public),
    rule(
        "GET",
        "/app/i18n/{name}",
        "app.translations",
        Access::Public,
    ),
    rule("GET", "/app/{name}", "app.asset", Access::Public),
    rule("GET", "/console", "console.redirect", Access::Public),
    rule(
        "GET",
        "/console/",
        "console.home",
        Access::Console(ANY_ROLE),
    ),
    rule(
        "GET",
        "/console/alerts",
        "alerts.list",
        Access::Console(CASEWORK),
    ),
    rule(
        "POST",
        "/console/alerts/{id}/review",
        "signal.review",
        Access::Console(&[MigrationOfficer, Supervisor]),
    ),
    rule(
        "GET",
        "/console/assets/{name}",
        "console.asset",
        Access::Public,
    ),
    rule(
        "GET",
        "/console/audit",
        "audit.view",
        Access::Console(&[Auditor]),
    ),
    rule(
        "GET",
        "/console/cases/{id}",
        "case.location",
        Access::Console(CASE_OFFICERS),
    ),
    rule(
        "POST",
        "/console/cases/{id}/close",
        "case.close",
        Access::Console(CASE_OFFICERS),
    ),
    rule(
        "GET",
        "/console/host",
        "host.tenants",
        Access::Console(&[HostParty]),
    ),
    rule(
        "GET",
        "/console/host/children",
        "host.children",
        Access::Console(&[HostParty]),
    ),
    rule(
        "POST",
        "/console/host/children",
        "host.child_notice",
        Access::Console(&[HostParty]),
    ),
    rule(
        "POST",
        "/console/host/notices/{id}/dispute",
        "host.dispute",
        Access::Console(&[HostParty]),
    ),
    rule(
        "GET",
        "/console/host-parties",
        "host_party.list",
        Access::Console(&[MigrationOfficer]),
    ),
    rule(
        "POST",
        "/console/host-parties",
        "host_party.create",
        Access::Console(&[MigrationOfficer]),
    ),
    rule(
        "GET",
        "/console/host-parties/{id}",
        "host_party.view",
        Access::Console(&[MigrationOfficer]),
    ),
    rule(
        "POST",
        "/console/host-parties/{id}/properties",
        "host_party.properties",
        Access::Console(&[MigrationOfficer]),
    ),
    rule(
        "GET",
        "/console/lang/{lang}",
        "console.language",
        Access::Public,
    ),
    rule("GET", "/console/login", "login.page", Access::Public),
    rule("POST", "/console/login", "login", Access::SignIn),
    rule(
        "POST",
        "/console/logout",
        "logout",
        Access::Console(ANY_ROLE),
    ),
    rule("GET", "/console/map", "map.view", Access::Console(CASEWORK)),
    rule(
        "GET",
        "/console/nearby",
        "nearby.query",
        Access::Console(&[PoliceOfficer]),
    ),
    rule(
        "GET",
        "/console/persons/{id}",
        "person.view",
        Access::Console(CASEWORK),
    ),
    rule(
        "POST",
        "/console/persons/{id}/cases",
        "case.open",
        Access::Console(CASE_OFFICERS),
    ),
    rule(
        "GET",
        "/console/enrolment",
        "enrolment.form",
        Access::Console(&[EnrolmentOperator]),
    ),
    rule(
        "POST",
        "/console/enrolment/codes",
        "enrolment.code_issue",
        Access::Console(&[EnrolmentOperator]),
    ),
    rule(
        "GET",
        "/console/registry",
        "registry.list",
        Access::Console(&[MigrationOfficer, Supervisor]),
    ),
    rule(
        "GET",
        "/console/registry/export.csv",
        "registry.export",
        Access::Console(&[Supervisor]),
    ),
    rule(
        "POST",
        "/console/registry/{id}/decide",
        "registry.decide",
        Access::Console(&[Supervisor]),
    ),
    rule(
        "POST",
        "/console/registry/{id}/remove",
        "registry.remove",
        Access::Console(&[Supervisor]),
    ),
    rule(
        "GET",
        "/console/search",
        "person.search",
        Access::Console(CASEWORK),
    ),
    rule(
        "GET",
        "/console/spot-checks",
        "spotcheck.list",
        Access::Console(&[PoliceOfficer]),
    ),
    rule(
        "POST",
        "/console/spot-checks",
        "spotcheck.open",
        Access::Console(&[PoliceOfficer]),
    ),
    rule(
        "GET",
        "/console/spot-checks/{id}",
        "spotcheck.view",
        Access::Console(&[PoliceOfficer]),
    ),
    rule(
        "POST",
        "/console/spot-checks/{id}/outcomes",
        "spotcheck.outcome",
        Access::Console(&[PoliceOfficer]),
    ),
    rule(
        "POST",
        "/console/spot-checks/{id}/close",
        "spotcheck.close",
        Access::Console(&[PoliceOfficer]),
    ),
    rule(
        "GET",
        "/console/accounts",
        "account.list",
        Access::Console(&[Admin]),
    ),
    rule(
        "POST",
        "/console/accounts",
        "account.create",
        Access::Console(&[Admin]),
    ),
    rule(
        "POST",
        "/console/accounts/{id}/disable",
        "account.disable",
        Access::Console(&[Admin]),
    ),
    rule(
        "POST",
        "/console/accounts/{id}/enable",
        "account.enable",
        Access::Console(&[Admin]),
    ),
    rule(
        "POST",
        "/console/accounts/{id}/reset-totp",
        "account.reset_totp",
        Access::Console(&[Admin]),
    ),
    rule("GET", "/healthz", "ops.health", Access::Public),
    rule("GET", "/metrics", "ops.metrics", Access::Public),
    rule("GET", "/openapi.json", "ops.openapi", Access::Public),
    rule("POST", "/v1/devices", "device.bind", Access::Device),
    rule(
        "POST",
        "/v1/device-sessions",
        "device.session_open",
        Access::Device,
    ),
    rule("POST", "/v1/enrolments", "device.enrol", Access::Device),
    rule("POST", "/v1/fixes", "device.fixes", Access::Device),
    rule("GET", "/v1/me/status", "device.status", Access::Device),
    rule("GET", "/v1/addresses", "device.addresses", Access::Device),
    rule(
        "POST",
        "/v1/notices",
        "device.notice_submit",
        Access::Device,
    ),
    rule("GET", "/v1/notices", "device.notices", Access::Device),
    rule("GET", "/v1/me/data", "device.my_data", Access::Device),
    rule("GET", "/v1/push/key", "device.push_key", Access::Public),
    rule(
        "PUT",
        "/v1/push-subscription",
        "device.push_subscribe",
        Access::Device,
    ),
    rule(
        "DELETE",
        "/v1/push-subscription",
        "device.push_unsubscribe",
        Access::Device,
    ),
    rule("POST", "/v1/checkins", "device.checkin", Access::Device),
    rule(
        "POST",
        "/v1/me/owntracks",
        "device.owntracks_provision",
        Access::Device,
    ),
    rule(
        "DELETE",
        "/v1/me/owntracks",
        "device.owntracks_stop",
        Access::Device,
    ),
    // OwnTracks authenticates with HTTP Basic (its device credential),
    // checked by the handler.
    rule(
        "POST",
        "/v1/owntracks",
        "device.owntracks_report",
        Access::Device,
    ),
    rule(
        "POST",
        "/v1/integration/events",
        "integration.event",
        Access::Integration,
    ),
    rule(
        "GET",
        "/v1/integration/feed",
        "integration.feed",
        Access::Integration,
    ),
    rule(
        "GET",
        "/v1/integration/rejections",
        "integration.rejections",
        Access::Integration,
    ),
];

/// The rule for a route.
pub fn rule_for(method: &Method, path: &str) -> Option<&'static Rule> {
    let m = if *method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    RULES.iter().find(|r| r.method == m && r.path == path)
}

/// Whether `role` may call a route under `rule`.
pub fn allows(rule: &Rule, role: Role) -> bool {
    matches!(rule.access, Access::Console(roles) if roles.contains(&role))
}

/// Largest form accepted by a console route (the CSRF check reads it).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The authorisation layer (see the module docs).
pub async fn authorize(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let path = matched.as_ref().map(|m| m.as_str()).unwrap_or("");
    let Some(rule) = rule_for(req.method(), path) else {
        // A method the path does not have: 405 with the methods it has,
        // decided here (nothing without a rule is passed on).
        let allowed: Vec<&str> = RULES
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.method)
            .collect();
        if !allowed.is_empty() {
            let mut resp = crate::error::ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{path} answers {}", allowed.join(", ")),
            )
            .into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&allowed.join(", ")) {
                resp.headers_mut().insert(axum::http::header::ALLOW, v);
            }
            return resp;
        }
        tracing::error!(path, method = %req.method(), "route without an authorisation rule");
        return PageError::new(StatusCode::FORBIDDEN, "no_rule").into_response();
    };
    let roles = match rule.access {
        Access::Public | Access::SignIn | Access::Device => return next.run(req).await,
        Access::Integration => return next.run(req).await,
        Access::Console(roles) => roles,
    };
    let lang = super::lang_of(req.headers());
    let session = match auth::session_of(&state, req.headers()).await {
        Ok(s) => s,
        Err(e) => return PageError::from(e).lang(lang).into_response(),
    };
    let Some(session) = session else {
        if req.method() == Method::GET {
            return Redirect::to("/console/login").into_response();
        }
        return PageError::new(StatusCode::UNAUTHORIZED, "not_signed_in")
            .lang(lang)
            .into_response();
    };
    if !roles.contains(&session.role) {
        return PageError::new(StatusCode::FORBIDDEN, "role_not_allowed")
            .lang(lang)
            .into_response();
    }
    if let Err(limited) = state.limits.account(session.account_id) {
        return PageError::from(crate::error::ApiError::from(limited))
            .lang(lang)
            .into_response();
    }
    let officer = Officer {
        account_id: session.account_id,
        name: session.name.clone(),
        role: session.role,
        csrf: session.csrf_token.clone(),
        action: rule.action,
    };
    let mut req = req;
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
            return PageError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
                .lang(lang)
                .into_response();
        };
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let token = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned());
        let good = is_form
            && token.is_some_and(|t| auth::constant_time_eq(t.as_bytes(), officer.csrf.as_bytes()));
        if !good {
            return PageError::new(StatusCode::FORBIDDEN, "csrf_token_invalid")
                .lang(lang)
                .into_response();
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(officer);
    next.run(req).await
}
