//! The officers' console: server-rendered pages under `/console/`.
//!
//! Why server-rendered HTML (maud templates, auto-escaping) and almost no
//! JavaScript: the pages show personal data to a few hundred officers, so
//! what matters is that every read goes through one authorisation table
//! ([`authz`]) and leaves an audit record, that forms work without a client
//! framework, and that the Content-Security-Policy can be `default-src
//! 'self'` with nothing inline. Texts come from `console.ftl` (Russian and
//! English) through [`crate::i18n::console_catalog`].
//!
//! Every route is registered through [`crate::api::Routes`], which records
//! it for the authorisation-matrix test; every handler receives the
//! [`auth::Officer`] set by the authorisation layer.

mod admin;
pub mod auth;
pub mod authz;
mod evidence;
mod host;
mod layout;
mod map;
mod pages;
mod spot;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::api::Routes;
use crate::error::ApiError;

/// A console language from the `amina_lang` cookie, else the browser's
/// Accept-Language, else Russian.
pub fn lang_of(headers: &HeaderMap) -> &'static str {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == "amina_lang")
        .map(|(_, v)| v);
    if let Some(l) = cookie.and_then(known_lang) {
        return l;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for part in accept.split(',') {
        let tag = part.split(';').next().unwrap_or("").trim();
        let primary = tag.split('-').next().unwrap_or("");
        if let Some(l) = known_lang(primary) {
            return l;
        }
    }
    "ru"
}

fn known_lang(code: &str) -> Option<&'static str> {
    crate::i18n::CONSOLE_LANGS
        .into_iter()
        .find(|l| l.eq_ignore_ascii_case(code))
}

/// A rendered page as a response.
pub fn html_response(m: maud::Markup) -> Response {
    axum::response::Html(m.into_string()).into_response()
}

/// A console text; the id itself if missing (the tests make sure none is).
pub fn t(lang: &str, id: &str) -> String {
    crate::i18n::console_catalog()
        .message(lang, id)
        .unwrap_or_else(|| id.to_string())
}

/// A console text with arguments.
pub fn t_with(lang: &str, id: &str, args: &[(&str, fluent_bundle::FluentValue<'_>)]) -> String {
    let mut a = fluent_bundle::FluentArgs::new();
    for (k, v) in args {
        a.set(*k, v.clone());
    }
    crate::i18n::console_catalog()
        .message_with(lang, id, &a)
        .unwrap_or_else(|| id.to_string())
}

/// A console failure, shown as a page in the officer's language with the
/// machine-readable reason (`data-reason` in the page, `X-Amina-Reason` in
/// the headers). The status and reason come from [`ApiError`], the one
/// place where failures are mapped.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub code: &'static str,
    lang: &'static str,
    retry_after_s: Option<u64>,
}

impl PageError {
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        PageError {
            status,
            code,
            lang: "ru",
            retry_after_s: None,
        }
    }
    pub fn bad_request(code: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code)
    }
    pub fn lang(mut self, lang: &'static str) -> Self {
        self.lang = lang;
        self
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError {
            retry_after_s: e.retry_after_s,
            ..PageError::new(e.status, e.code)
        }
    }
}

impl From<amina_store::StoreError> for PageError {
    fn from(e: amina_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        metrics::counter!("amina_http_errors_total", "code" => self.code).increment(1);
        let lang = self.lang;
        let key = format!("error-{}", self.code);
        let known = crate::i18n::console_catalog().message(lang, &key);
        let text = known.unwrap_or_else(|| t(lang, "error-generic"));
        let body = layout::page(
            lang,
            None,
            &t(lang, "error-title"),
            maud::html! {
                p.error role="alert" data-reason=(self.code) { (text) }
                p { a href="/console/" { (t(lang, "nav-home")) } }
            },
        );
        let mut resp = html_response(body);
        *resp.status_mut() = self.status;
        resp.headers_mut()
            .insert("x-amina-reason", HeaderValue::from_static(self.code));
        if let Some(s) = self.retry_after_s {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// The console's Content-Security-Policy: everything from this origin
/// only; images also from the tile server's origin when one is configured
/// (`console.tile_url`), and from nowhere else.
pub fn content_security_policy(tile_origin: Option<&str>) -> String {
    let base = "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
    match tile_origin {
        Some(origin) => format!("{base}; img-src 'self' {origin}"),
        None => base.to_string(),
    }
}

/// What the browser may do with what this server answers: console pages
/// load only from this origin (images also from a configured tile server,
/// see `console.tile_url`) and are never cached (they show personal data);
/// no answer is sniffed, framed or leaks the referrer; HSTS with TLS.
pub async fn security_headers(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let console = req.uri().path().starts_with("/console");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if console {
        // An unusable tile URL is refused when the configuration loads;
        // here it would only mean no tile origin is admitted.
        let origin = state.config.console.tile_origin().ok().flatten();
        let csp = content_security_policy(origin.as_deref());
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'self'")),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    // Every answer: no sniffing, no referrer, never framed; answers that
    // are not pages (JSON, assets) may load nothing at all. The app's and
    // the console's pages have their own policy.
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    if state.config.tls.hsts() {
        let value = format!("max-age={}", state.config.tls.hsts_max_age_s);
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(header::STRICT_TRANSPORT_SECURITY, v);
        }
    }
    resp
}

/// Add the console's routes.
pub fn routes(r: Routes) -> Routes {
    use pages::*;
    let r = host::routes(r);
    r.add(Method::GET, "/console", redirect_home)
        .add(Method::GET, "/console/", home)
        .add(Method::GET, "/console/login", auth::login_page)
        .add(Method::POST, "/console/login", auth::login)
        .add(Method::POST, "/console/logout", auth::logout)
        .add(Method::GET, "/console/lang/{lang}", set_lang)
        .add(Method::GET, "/console/assets/{name}", asset)
        .add(Method::GET, "/console/search", search)
        .add(Method::GET, "/console/persons/{id}", person)
        .add(Method::POST, "/console/persons/{id}/cases", open_case)
        .add(Method::GET, "/console/cases/{id}", case_view)
        .add(Method::POST, "/console/cases/{id}/close", close_case)
        .add(Method::GET, "/console/alerts", alerts)
        .add(Method::POST, "/console/alerts/{id}/review", review_alert)
        .add(Method::GET, "/console/registry", registry)
        .add(Method::GET, "/console/registry/export.csv", registry_export)
        .add(
            Method::POST,
            "/console/registry/{id}/decide",
            registry_decide,
        )
        .add(
            Method::POST,
            "/console/registry/{id}/remove",
            registry_remove,
        )
        .add(Method::GET, "/console/map", map_view)
        .add(Method::GET, "/console/nearby", nearby)
        .add(Method::GET, "/console/audit", audit_view)
        .add(Method::GET, "/console/enrolment", enrolment_page)
        .add(
            Method::POST,
            "/console/enrolment/codes",
            issue_enrolment_code,
        )
        .add(Method::GET, "/console/spot-checks", spot::spot_checks)
        .add(Method::POST, "/console/spot-checks", spot::open_spot_check)
        .add(
            Method::GET,
            "/console/spot-checks/{id}",
            spot::spot_check_view,
        )
        .add(
            Method::POST,
            "/console/spot-checks/{id}/outcomes",
            spot::record_outcome,
        )
        .add(
            Method::POST,
            "/console/spot-checks/{id}/close",
            spot::close_spot_check,
        )
        .add(Method::GET, "/console/accounts", admin::accounts)
        .add(Method::POST, "/console/accounts", admin::create)
        .add(
            Method::POST,
            "/console/accounts/{id}/disable",
            admin::disable,
        )
        .add(Method::POST, "/console/accounts/{id}/enable", admin::enable)
        .add(
            Method::POST,
            "/console/accounts/{id}/reset-totp",
            admin::reset_totp,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_from_cookie_then_browser_then_russian() {
        let mut h = HeaderMap::new();
        assert_eq!(lang_of(&h), "ru");
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("de-DE,en-US;q=0.8"),
        );
        assert_eq!(lang_of(&h), "en");
        h.insert(header::COOKIE, HeaderValue::from_static("amina_lang=ru"));
        assert_eq!(lang_of(&h), "ru");
        h.insert(header::COOKIE, HeaderValue::from_static("amina_lang=uz"));
        assert_eq!(lang_of(&h), "en", "uz is not a console language");
    }

    #[test]
    fn every_console_language_has_every_message_and_every_used_key_exists() {
        let c = crate::i18n::console_catalog();
        let reference = c.message_ids("ru");
        assert!(reference.len() > 50, "{}", reference.len());
        assert_eq!(c.message_ids("en"), reference);
        // Keys are literals in calls of t(…, "key") and t_with(…, "key", …)
        // in the console's sources; error pages use "error-<code>".
        let sources = [
            include_str!("mod.rs"),
            include_str!("auth.rs"),
            include_str!("layout.rs"),
            include_str!("pages.rs"),
            include_str!("map.rs"),
            include_str!("spot.rs"),
            include_str!("admin.rs"),
            include_str!("evidence.rs"),
        ];
        let mut used = Vec::new();
        for src in sources {
            for marker in ["t(lang, \"", "t_with(lang, \"", "t(l, \""] {
                for part in src.split(marker).skip(1) {
                    used.push(part.split('"').next().unwrap().to_string());
                }
            }
        }
        assert!(used.len() > 40, "{used:?}");
        for key in used {
            assert!(
                reference.contains(&key),
                "console uses {key:?}, missing in console.ftl"
            );
        }
        // Keys built from codes.
        let mut built: Vec<String> = Vec::new();
        for r in amina_domain::console::Role::ALL {
            built.push(format!("role-{}", r.code()));
            built.push(format!("home-role-{}", r.code()));
        }
        for s in ["registered", "deregistered"] {
            built.push(format!("status-{s}"));
        }
        for p in ["unknown", "in_region", "outside", "uncertain"] {
            built.push(format!("presence-{p}"));
        }
        for c in ["open", "expired", "closed"] {
            built.push(format!("case-state-{c}"));
        }
        for s in amina_domain::signal::SignalStatus::ALL {
            built.push(format!("signal-status-{}", s.code()));
        }
        for s in amina_domain::console::RegistryStatus::ALL {
            built.push(format!("registry-status-{}", s.code()));
        }
        for k in amina_domain::signal::SignalKind::ALL {
            built.push(format!("signal-kind-{}", k.code()));
            built.push(format!("signal-meaning-{}", k.code()));
        }
        for r in amina_domain::console::SpotCheckReason::ALL {
            built.push(format!("spot-reason-{}", r.code()));
        }
        for o in amina_domain::console::SpotCheckOutcome::ALL {
            built.push(format!("spot-outcome-{}", o.code()));
        }
        for a in ["enable", "disable"] {
            built.push(format!("accounts-{a}"));
        }
        for key in built {
            assert!(reference.contains(&key), "{key} missing in console.ftl");
        }
        for code in super::pages::ERROR_CODES {
            let key = format!("error-{code}");
            assert!(reference.contains(&key), "{key} missing in console.ftl");
        }
    }
}
