//! Console sign-in: local accounts with Argon2id password hashes and a
//! TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s steps, one step of
//! clock skew either way, each step accepted once), sessions kept in the
//! database, and CSRF tokens bound to them.
//!
//! The session id travels only in a cookie (`HttpOnly`, `SameSite=Strict`,
//! `Path=/console`, `Secure` under TLS); the database keeps its SHA-256, so
//! a copy of the database cannot be used to sign in. A session ends after
//! `console.session_idle_minutes` without a request and, at the latest,
//! `console.session_absolute_hours` after sign-in. Repeated failures lock
//! the account for `console.lock_minutes`; every attempt is audited.
//!
//! The sign-in form itself is protected against login CSRF with a
//! double-submit token (a random value in a short-lived cookie and in the
//! form, compared on submit).

use amina_domain::console::Role;
use amina_store::{AuditEntry, ConsoleError, NewAccount, NewSession, StoreError};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use maud::html;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, Totp};

use super::{lang_of, layout, t, PageError};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "amina_session";
const LOGIN_COOKIE: &str = "amina_login";
const TOTP_ISSUER: &str = "amina";

/// The signed-in user of a console request (set by the authorisation
/// layer).
#[derive(Debug, Clone)]
pub struct Officer {
    /// The account's id (host-party pages look up their own record by it).
    pub account_id: i64,
    pub name: String,
    pub role: Role,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
    /// The action of the route (from the authorisation table).
    pub action: &'static str,
}

impl Officer {
    /// An audit entry by this officer at `at`.
    pub fn audit(&self, at: Timestamp, action: &str, subject: impl Into<String>) -> AuditEntry {
        AuditEntry::new(at, self.name.clone(), self.role.code(), action, subject)
    }
}

/// Constant-time comparison of two secrets.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // No early exit on the first differing byte.
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_token() -> String {
    let mut raw = [0u8; 32];
    rand::fill(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.console.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

fn cookie(name: &str, value: &str, path: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let s = format!(
        "{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&s).expect("cookie values are base64url and fixed names")
}

/// The live session a request carries, if any.
pub async fn session_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<amina_store::SessionRecord>, StoreError> {
    let Some(id) = cookie_value(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let idle = SignedDuration::from_mins(i64::from(state.config.console.session_idle_minutes));
    state
        .store
        .session(sha256(id), state.clock.now(), idle)
        .await
}

/// The TOTP of a base32 secret.
fn totp(secret_b32: &str, account: &str) -> Result<Totp, String> {
    let secret = Secret::try_from_base32(secret_b32).map_err(|e| e.to_string())?;
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some(TOTP_ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| e.to_string())
}

/// A new random TOTP secret (base32) and its `otpauth://` URI for `account`.
pub fn new_totp_secret(account: &str) -> Result<(String, String), String> {
    let mut raw = [0u8; 20];
    rand::fill(&mut raw);
    let secret = Secret::from(raw.to_vec()).to_base32();
    let uri = totp(&secret, account).and_then(|t| t.to_url().map_err(|e| e.to_string()))?;
    Ok((secret, uri))
}

/// A random password (18 random bytes, base64url: 24 characters).
pub fn generated_password() -> String {
    let mut raw = [0u8; 18];
    rand::fill(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Whether an account name is acceptable: 1–64 letters, digits, `.`, `_`, `-`.
pub fn valid_account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The 6-digit code for `secret_b32` at `at` (what an authenticator app
/// shows; used by the tests and by nobody else).
pub fn totp_code(secret_b32: &str, at: Timestamp) -> String {
    totp(secret_b32, "x")
        .map(|t| t.generate(at.as_second().max(0) as u64).to_string())
        .unwrap_or_default()
}

/// The step a code matches at `at`, if it matches.
fn totp_step(secret_b32: &str, code: &str, at: Timestamp) -> Option<i64> {
    let t = totp(secret_b32, "x").ok()?;
    let step = t.check(code.trim(), at.as_second().max(0) as u64)?;
    i64::try_from(step).ok()
}

fn verify_password(phc: &str, password: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A new account's one-time secrets, shown once to the admin.
pub struct CreatedAccount {
    pub name: String,
    pub role: Role,
    pub totp_secret: String,
    pub otpauth_uri: String,
}

/// Check a new account's name and password, hash the password (on the
/// blocking pool) and make its TOTP secret: what [`create_account`] and
/// the host-party pages store.
pub async fn prepare_account(
    name: &str,
    role: Role,
    password: &str,
    actor: &str,
) -> Result<(NewAccount, CreatedAccount), String> {
    let name = name.trim().to_string();
    if !valid_account_name(&name) {
        return Err("an account name is 1-64 characters: letters, digits, '.', '_', '-'".into());
    }
    if password.chars().count() < 12 {
        return Err("a password has at least 12 characters".into());
    }
    let (secret, uri) = new_totp_secret(&name)?;
    let pw = password.to_string();
    let hash = tokio::task::spawn_blocking(move || crate::cards::hash_secret(&pw))
        .await
        .map_err(|e| e.to_string())?;
    Ok((
        NewAccount {
            name: name.clone(),
            role,
            password_hash: hash,
            totp_secret: secret.clone(),
            created_by: actor.to_string(),
        },
        CreatedAccount {
            name,
            role,
            totp_secret: secret,
            otpauth_uri: uri,
        },
    ))
}

/// Create an account (the CLI's `admin create-user`): hash the password,
/// make a TOTP secret, store both with an audit record by `actor`.
pub async fn create_account(
    state: &AppState,
    name: &str,
    role: Role,
    password: &str,
    actor: &str,
) -> Result<CreatedAccount, String> {
    let (account, created) = prepare_account(name, role, password, actor).await?;
    let now = state.clock.now();
    let name = created.name.clone();
    state
        .store
        .create_account(
            account,
            AuditEntry::new(now, actor, "admin", "account.create", "account")
                .detail(serde_json::json!({"name": name, "role": role.code()})),
        )
        .await
        .map_err(|e| match e {
            StoreError::Console(ConsoleError::AccountExists) => {
                format!("an account named {name} exists")
            }
            other => other.to_string(),
        })?;
    Ok(created)
}

/// `GET /console/login`: the sign-in form with a fresh login-CSRF token.
pub async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers);
    let token = random_token();
    let mut resp = super::html_response(login_form(lang, &token, None));
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie(
            LOGIN_COOKIE,
            &token,
            "/console/login",
            1800,
            secure(&state, &headers),
        ),
    );
    resp
}

fn login_form(lang: &'static str, token: &str, error: Option<&str>) -> maud::Markup {
    layout::page(
        lang,
        None,
        &t(lang, "login-title"),
        html! {
            @if let Some(code) = error {
                p.error role="alert" data-reason=(code) { (t(lang, &format!("error-{code}"))) }
            }
            form.login method="post" action="/console/login" {
                input type="hidden" name="login_csrf" value=(token);
                label { (t(lang, "login-name")) input name="name" autocomplete="username" required; }
                label { (t(lang, "login-password")) input name="password" type="password" autocomplete="current-password" required; }
                label { (t(lang, "login-code")) input name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required; }
                button type="submit" { (t(lang, "login-submit")) }
            }
        },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login_csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// `POST /console/login`.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = lang_of(&headers);
    let fail = |status: StatusCode, code: &'static str| {
        let token = random_token();
        let mut resp = super::html_response(login_form(lang, &token, Some(code)));
        *resp.status_mut() = status;
        resp.headers_mut().append(
            header::SET_COOKIE,
            cookie(
                LOGIN_COOKIE,
                &token,
                "/console/login",
                1800,
                secure(&state, &headers),
            ),
        );
        resp.headers_mut()
            .insert("x-amina-reason", HeaderValue::from_static(code));
        resp
    };
    let double_submit = cookie_value(&headers, LOGIN_COOKIE).is_some_and(|c| {
        !form.login_csrf.is_empty() && constant_time_eq(c.as_bytes(), form.login_csrf.as_bytes())
    });
    if !double_submit {
        return fail(StatusCode::FORBIDDEN, "csrf_token_invalid");
    }
    // Before any password hashing: a guesser spread over many addresses
    // still meets the limit of the name it guesses for.
    if let Err(limited) = state.limits.sign_in(&form.name) {
        let mut resp = fail(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(limited.retry_after_s()),
        );
        return resp;
    }
    let now = state.clock.now();
    let name = form.name.trim().to_string();
    let account = match state.store.account_by_name(&name).await {
        Ok(a) => a,
        Err(e) => return PageError::from(e).lang(lang).into_response(),
    };
    let Some(account) = account.filter(|a| !a.disabled) else {
        // Same work and the same answer as a wrong password.
        let pw = form.password.clone();
        let _ = tokio::task::spawn_blocking(move || {
            verify_password(
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$ZHVtbXlkdW1teWR1bW15ZHVtbXlkdW1teQ",
                &pw,
            )
        })
        .await;
        let _ = state
            .store
            .append_audit(
                AuditEntry::new(now, "unknown", "none", "login.failed", "account:unknown")
                    .detail(serde_json::json!({"reason": "unknown_account"})),
            )
            .await;
        return fail(StatusCode::UNAUTHORIZED, "invalid_credentials");
    };
    let subject = format!("account:{}", account.id);
    let entry = |action: &str| {
        AuditEntry::new(
            now,
            account.name.clone(),
            account.role.code(),
            action,
            subject.clone(),
        )
    };
    if account.locked_until.is_some_and(|u| now < u) {
        let _ = state
            .store
            .append_audit(entry("login.refused").detail(serde_json::json!({"reason": "locked"})))
            .await;
        return fail(
            StatusCode::from_u16(423).unwrap_or(StatusCode::FORBIDDEN),
            "account_locked",
        );
    }
    let (phc, pw) = (account.password_hash.clone(), form.password.clone());
    let password_ok = tokio::task::spawn_blocking(move || verify_password(&phc, &pw))
        .await
        .unwrap_or(false);
    let step = totp_step(&account.totp_secret, &form.code, now);
    let (true, Some(step)) = (password_ok, step) else {
        let reason = if password_ok {
            "bad_code"
        } else {
            "bad_password"
        };
        let cfg = &state.config.console;
        let after = state
            .store
            .login_failed(
                account.id,
                now,
                cfg.lock_after_failures,
                SignedDuration::from_mins(i64::from(cfg.lock_minutes)),
                entry("login.failed").detail(serde_json::json!({"reason": reason})),
            )
            .await;
        return match after {
            Ok(a) if a.locked_until.is_some_and(|u| now < u) => fail(
                StatusCode::from_u16(423).unwrap_or(StatusCode::FORBIDDEN),
                "account_locked",
            ),
            Ok(_) => fail(StatusCode::UNAUTHORIZED, "invalid_credentials"),
            Err(e) => PageError::from(e).lang(lang).into_response(),
        };
    };
    let session_id = random_token();
    let hours = i64::from(state.config.console.session_absolute_hours);
    let result = state
        .store
        .login_succeeded(
            account.id,
            step,
            NewSession {
                id_hash: sha256(&session_id),
                account_id: account.id,
                csrf_token: random_token(),
                created_at: now,
                expires_at: now + SignedDuration::from_hours(hours),
            },
            entry("login"),
        )
        .await;
    match result {
        Ok(()) => {}
        Err(StoreError::Console(ConsoleError::TotpReplayed)) => {
            return fail(StatusCode::UNAUTHORIZED, "totp_replayed")
        }
        Err(e) => return PageError::from(e).lang(lang).into_response(),
    }
    let mut resp = Redirect::to("/console/").into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie(
            SESSION_COOKIE,
            &session_id,
            "/console",
            hours * 3600,
            secure(&state, &headers),
        ),
    );
    h.append(
        header::SET_COOKIE,
        cookie(
            LOGIN_COOKIE,
            "",
            "/console/login",
            0,
            secure(&state, &headers),
        ),
    );
    resp
}

/// `POST /console/logout`.
pub async fn logout(
    State(state): State<AppState>,
    Extension(officer): Extension<Officer>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if let Some(id) = cookie_value(&headers, SESSION_COOKIE) {
        let now = state.clock.now();
        state
            .store
            .end_session(sha256(id), now, officer.audit(now, "logout", "session"))
            .await?;
    }
    let mut resp = Redirect::to("/console/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie(SESSION_COOKIE, "", "/console", 0, secure(&state, &headers)),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_codes_match_rfc_6238_and_steps_are_reported() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890", 8 digits
        // there; the last 6 digits are the 6-digit code.
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        let at = Timestamp::from_second(59).unwrap();
        assert_eq!(totp_code(&secret, at), "287082");
        let at = Timestamp::from_second(1_111_111_109).unwrap();
        assert_eq!(totp_code(&secret, at), "081804");
        assert_eq!(totp_step(&secret, "081804", at), Some(1_111_111_109 / 30));
        // One step of skew either way, no more.
        let later = Timestamp::from_second(1_111_111_109 + 30).unwrap();
        assert!(totp_step(&secret, "081804", later).is_some());
        let much_later = Timestamp::from_second(1_111_111_109 + 90).unwrap();
        assert!(totp_step(&secret, "081804", much_later).is_none());
        assert!(totp_step(&secret, "000000", at).is_none());
    }

    #[test]
    fn cookies_are_read_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; amina_session=xyz; b=2"),
        );
        assert_eq!(cookie_value(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie_value(&h, "c"), None);
        let c = cookie(SESSION_COOKIE, "v", "/console", 60, true);
        let c = c.to_str().unwrap();
        for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/console"] {
            assert!(c.contains(attr), "{c}");
        }
    }
}
