//! The officers' console through the real HTTP server, on both backends:
//! sign-in with TOTP, lockout, sessions, CSRF, search, cases and location,
//! alerts, the registry, the audit view; and the authorisation matrix.
//!
//! Browsers are not needed here: a small client keeps the session cookie
//! and reads the CSRF token from the pages, as a browser's form would.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use amina_client::device::{fix, DeviceClient};
use amina_domain::console::Role;
use amina_domain::monitor::Monitor;
use amina_server::cards::{hash_secrets, parse_cards};
use amina_server::clock::{Clock, ManualClock};
use amina_server::config::Config;
use amina_server::console::auth::totp_code;
use amina_server::console::authz::{self, Access};
use amina_server::state::{build_monitor, AppState};
use amina_store::{AuditQuery, SharedStore};
use jiff::{SignedDuration, Timestamp};

const KREMLIN: (f64, f64) = (55.7520, 37.6175);
const PASSWORD: &str = "correct horse battery";

const CARDS: &str = "card_number,activation_secret,activation_secret_hash,name_latin,name_cyrillic,citizenship,birth_date,purpose,valid_until
AB0000001,secret-one,,Alisher Karimov,Алишер Каримов,UZB,1994-03-12,work,2030-12-31
AB0000002,secret-two,,Farrukh Rahimov,Фаррух Рахимов,TJK,1989-07-01,work,2030-12-31
";

fn monitor(config: &Config) -> Monitor {
    static MONITOR: OnceLock<Monitor> = OnceLock::new();
    MONITOR
        .get_or_init(|| build_monitor(config).expect("default configuration builds"))
        .clone()
}

fn moscow(s: &str) -> Timestamp {
    amina_domain::time::parse_moscow(s).unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

struct App {
    base: String,
    clock: Arc<ManualClock>,
    state: AppState,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<amina_testkit::PgDatabase>,
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A signed-in console user.
struct Officer {
    cookie: String,
    csrf: String,
}

/// An answer: status, machine-readable reason, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    reason: String,
    location: String,
    body: String,
}

impl App {
    async fn spawn(backend: Backend, start: Timestamp) -> Option<App> {
        Self::spawn_with(backend, start, |_| {}).await
    }

    async fn spawn_with(
        backend: Backend,
        start: Timestamp,
        configure: impl FnOnce(&mut Config),
    ) -> Option<App> {
        let mut config = Config::default();
        config.scheduler.enabled = false;
        configure(&mut config);
        let (dir, pg, url) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite:{}", dir.path().join("amina.sqlite3").display());
                (Some(dir), None, url)
            }
            Backend::Postgres => {
                let pg = amina_testkit::fresh_pg_database()?;
                let url = pg.url.clone();
                (None, Some(pg), url)
            }
        };
        config.database = url.clone();
        let store: SharedStore = amina_store::open(&url).await.expect("open store");
        store.migrate().await.expect("migrate");
        let clock = Arc::new(ManualClock::new(start));
        let state = AppState::new(store, monitor(&config), config, clock.clone());
        let mut cards = parse_cards(
            CARDS.as_bytes(),
            &amina_domain::eligibility::Scope::default(),
            jiff::civil::date(2025, 1, 1),
        )
        .unwrap();
        hash_secrets(&mut cards.accepted);
        state
            .store
            .import_cards(cards.accepted, start)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(amina_server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Some(App {
            base,
            clock,
            state,
            http,
            stop: Some(tx),
            _dir: dir,
            _pg: pg,
        })
    }

    /// Create an account; returns its TOTP secret.
    async fn user(&self, name: &str, role: Role) -> String {
        amina_server::console::auth::create_account(&self.state, name, role, PASSWORD, "test")
            .await
            .expect("create account")
            .totp_secret
    }

    async fn answer(resp: reqwest::Response) -> Answer {
        let h = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (reason, location) = (h("x-amina-reason"), h("location"));
        let status = resp.status().as_u16();
        Answer {
            status,
            reason,
            location,
            body: resp.text().await.unwrap_or_default(),
        }
    }

    async fn get(&self, who: Option<&Officer>, path: &str) -> Answer {
        let mut req = self
            .http
            .get(format!("{}{path}", self.base))
            .header("accept-language", "en");
        if let Some(o) = who {
            req = req.header("cookie", &o.cookie);
        }
        Self::answer(req.send().await.unwrap()).await
    }

    /// POST a form; `csrf: true` adds the officer's token.
    async fn post(
        &self,
        who: Option<&Officer>,
        path: &str,
        form: &[(&str, &str)],
        csrf: bool,
    ) -> Answer {
        let mut enc = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form {
            enc.append_pair(k, v);
        }
        if let (true, Some(o)) = (csrf, who) {
            enc.append_pair("csrf", &o.csrf);
        }
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("accept-language", "en")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(enc.finish());
        if let Some(o) = who {
            req = req.header("cookie", &o.cookie);
        }
        Self::answer(req.send().await.unwrap()).await
    }

    /// The sign-in form's answer for these credentials.
    async fn try_sign_in(
        &self,
        name: &str,
        password: &str,
        code: &str,
    ) -> (Answer, Option<String>) {
        let resp = self
            .http
            .get(format!("{}/console/login", self.base))
            .send()
            .await
            .unwrap();
        let login_cookie = set_cookie(&resp, "amina_login").expect("login cookie");
        let page = resp.text().await.unwrap();
        let token = attr_after(&page, "name=\"login_csrf\" value=\"").expect("login token");
        let mut enc = form_urlencoded::Serializer::new(String::new());
        enc.append_pair("login_csrf", &token)
            .append_pair("name", name)
            .append_pair("password", password)
            .append_pair("code", code);
        let resp = self
            .http
            .post(format!("{}/console/login", self.base))
            .header("cookie", format!("amina_login={login_cookie}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept-language", "en")
            .body(enc.finish())
            .send()
            .await
            .unwrap();
        let session = set_cookie(&resp, "amina_session").filter(|v| !v.is_empty());
        (Self::answer(resp).await, session)
    }

    async fn sign_in(&self, name: &str, secret: &str) -> Officer {
        let code = totp_code(secret, self.clock.now());
        let (a, session) = self.try_sign_in(name, PASSWORD, &code).await;
        assert_eq!((a.status, a.location.as_str()), (303, "/console/"), "{a:?}");
        let cookie = format!("amina_session={}", session.expect("a session cookie"));
        let mut o = Officer {
            cookie,
            csrf: String::new(),
        };
        let home = self.get(Some(&o), "/console/").await;
        assert_eq!(home.status, 200);
        o.csrf = attr_after(&home.body, "name=\"csrf\" value=\"").expect("csrf token");
        o
    }

    async fn audit_count(&self) -> usize {
        self.state
            .store
            .audit_records(AuditQuery {
                limit: 100_000,
                ..Default::default()
            })
            .await
            .unwrap()
            .len()
    }

    async fn actions(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .state
            .store
            .audit_records(AuditQuery {
                limit: 100_000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.action)
            .collect();
        v.reverse();
        v
    }

    async fn phone_at_kremlin(&self, card: &str, secret: &str) -> i64 {
        let mut phone = DeviceClient::new(&self.base);
        let clock = self.clock.clone();
        phone.clock = Arc::new(move || clock.now());
        phone.enrol_and_bind(card, secret).await.unwrap();
        self.clock.advance(SignedDuration::from_mins(1));
        let at = self.clock.now();
        phone
            .upload(&[fix(1, KREMLIN.0, KREMLIN.1, 15.0, at)])
            .await
            .unwrap();
        let number = amina_domain::types::CardNumber::parse(card).unwrap();
        self.state
            .store
            .person_by_card(&number)
            .await
            .unwrap()
            .unwrap()
            .person_id
    }
}

fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
}

fn attr_after(page: &str, marker: &str) -> Option<String> {
    let rest = page.split(marker).nth(1)?;
    Some(rest.split('"').next()?.to_string())
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() { super::$name(super::Backend::Sqlite).await; })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() { super::$name(super::Backend::Postgres).await; })*
        }
    };
}

on_both_backends!(
    sign_in_needs_password_and_totp_and_locks_after_failures,
    sessions_expire_and_state_changes_need_the_csrf_token,
    search_person_card_and_location_only_inside_a_case,
    alerts_are_reviewed_with_reasons,
    registry_decisions_are_the_supervisors_with_a_reason,
    an_enrolment_operator_issues_a_one_time_code,
    a_spot_check_lists_people_with_evidence_and_records_outcomes,
    search_and_alerts_by_address_and_district,
    admins_manage_accounts_and_see_no_personal_data,
    bad_input_is_refused_clearly_and_changes_nothing,
);

async fn sign_in_needs_password_and_totp_and_locks_after_failures(b: Backend) {
    let Some(app) = App::spawn(b, moscow("2025-11-24T09:00:00")).await else {
        return;
    };
    let secret = app.user("anna", Role::PoliceOfficer).await;
    let now = app.clock.now();
    let good = totp_code(&secret, now);
    let (a, s) = app.try_sign_in("anna", "wrong password!", &good).await;
    assert_eq!((a.status, a.reason.as_str()), (401, "invalid_credentials"));
    assert!(s.is_none());
    let (a, _) = app.try_sign_in("anna", PASSWORD, "000000").await;
    assert_eq!((a.status, a.reason.as_str()), (401, "invalid_credentials"));
    let (a, _) = app.try_sign_in("nobody", PASSWORD, &good).await;
    assert_eq!((a.status, a.reason.as_str()), (401, "invalid_credentials"));
    // Without the login form's token: refused before anything is checked.
    let resp = app
        .http
        .post(format!("{}/console/login", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name=anna&password={PASSWORD}&code={good}"))
        .send()
        .await
        .unwrap();
    let a = App::answer(resp).await;
    assert_eq!((a.status, a.reason.as_str()), (403, "csrf_token_invalid"));

    // Good credentials sign in; the same code cannot be used twice.
    let o = app.sign_in("anna", &secret).await;
    assert!(app.get(Some(&o), "/console/search").await.status == 200);
    let (a, _) = app.try_sign_in("anna", PASSWORD, &good).await;
    assert_eq!((a.status, a.reason.as_str()), (401, "totp_replayed"));

    // Five consecutive failures lock the account for 15 minutes; even the
    // right credentials are refused meanwhile.
    for _ in 0..4 {
        let (a, _) = app.try_sign_in("anna", "wrong password!", "1").await;
        assert_eq!(a.status, 401);
    }
    let (a, _) = app.try_sign_in("anna", "wrong password!", "1").await;
    assert_eq!((a.status, a.reason.as_str()), (423, "account_locked"));
    app.clock.advance(SignedDuration::from_mins(1));
    let code = totp_code(&secret, app.clock.now());
    let (a, _) = app.try_sign_in("anna", PASSWORD, &code).await;
    assert_eq!((a.status, a.reason.as_str()), (423, "account_locked"));
    app.clock.advance(SignedDuration::from_mins(15));
    app.sign_in("anna", &secret).await;
    let actions = app.actions().await;
    assert_eq!(actions.iter().filter(|a| *a == "login").count(), 2);
    assert_eq!(
        actions.iter().filter(|a| *a == "login.failed").count(),
        8,
        "{actions:?}"
    );
    assert_eq!(actions.iter().filter(|a| *a == "login.refused").count(), 1);
}

async fn sessions_expire_and_state_changes_need_the_csrf_token(b: Backend) {
    let Some(app) = App::spawn(b, moscow("2025-11-24T09:00:00")).await else {
        return;
    };
    let pid = app.phone_at_kremlin("AB0000001", "secret-one").await;
    let secret = app.user("anna", Role::PoliceOfficer).await;
    let o = app.sign_in("anna", &secret).await;
    let before = app.audit_count().await;
    let path = format!("/console/persons/{pid}/cases");
    let form = [
        ("legal_basis", "121-FZ"),
        ("purpose", "check"),
        ("hours", "8"),
    ];
    let a = app.post(Some(&o), &path, &form, false).await;
    assert_eq!((a.status, a.reason.as_str()), (403, "csrf_token_invalid"));
    let forged = Officer {
        cookie: o.cookie.clone(),
        csrf: "forged".into(),
    };
    let a = app.post(Some(&forged), &path, &form, true).await;
    assert_eq!((a.status, a.reason.as_str()), (403, "csrf_token_invalid"));
    assert!(a.body.contains("data-reason=\"csrf_token_invalid\""));
    assert_eq!(app.audit_count().await, before, "nothing happened");
    assert!(app
        .state
        .store
        .cases_for_person(pid)
        .await
        .unwrap()
        .is_empty());
    // With the token it works.
    let a = app.post(Some(&o), &path, &form, true).await;
    assert_eq!(a.status, 303, "{a:?}");

    // Security headers on every console page.
    let resp = app
        .http
        .get(format!("{}/console/search", app.base))
        .header("cookie", &o.cookie)
        .send()
        .await
        .unwrap();
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert_eq!(resp.headers()["cache-control"], "no-store");

    // Idle for 31 minutes: the session is over.
    app.clock.advance(SignedDuration::from_mins(31));
    let a = app.get(Some(&o), "/console/search").await;
    assert_eq!((a.status, a.location.as_str()), (303, "/console/login"));
    let a = app.post(Some(&o), &path, &form, true).await;
    assert_eq!((a.status, a.reason.as_str()), (401, "not_signed_in"));
    // Sign-out ends a session at once.
    let o = app.sign_in("anna", &secret).await;
    assert_eq!(
        app.post(Some(&o), "/console/logout", &[], true)
            .await
            .status,
        303
    );
    assert_eq!(app.get(Some(&o), "/console/search").await.status, 303);
}

async fn search_person_card_and_location_only_inside_a_case(b: Backend) {
    let Some(app) = App::spawn(b, moscow("2025-11-24T09:00:00")).await else {
        return;
    };
    let pid = app.phone_at_kremlin("AB0000001", "secret-one").await;
    let secret = app.user("anna", Role::PoliceOfficer).await;
    let o = app.sign_in("anna", &secret).await;

    for q in ["Каримов", "Qarimov", "alisher+karimov"] {
        let a = app
            .get(Some(&o), &format!("/console/search?name={q}"))
            .await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains("AB0000001"), "{q}");
        assert!(!a.body.contains("AB0000002"), "{q}");
        assert!(!a.body.contains("55.75"), "no location in results");
    }
    let a = app.get(Some(&o), "/console/search?citizenship=TJK").await;
    assert!(a.body.contains("Search") && !a.body.contains("AB0000001"));
    let before = app.audit_count().await;
    for (q, reason) in [
        ("citizenship=UZBEK", "invalid_citizenship"),
        ("card=%21%21", "invalid_card_number"),
        ("status=lost", "invalid_status"),
        ("name=-", "invalid_name"),
    ] {
        let a = app.get(Some(&o), &format!("/console/search?{q}")).await;
        assert_eq!((a.status, a.reason.as_str()), (400, reason), "{q}");
    }
    assert_eq!(
        app.audit_count().await,
        before,
        "a refused search reads nothing"
    );

    let card = app.get(Some(&o), &format!("/console/persons/{pid}")).await;
    assert_eq!(card.status, 200);
    assert!(card.body.contains("Alisher Karimov") && card.body.contains("registered"));
    assert!(!card.body.contains("55.752"), "no location on the card");
    assert_eq!(
        app.get(Some(&o), "/console/persons/x").await.reason,
        "invalid_id"
    );
    assert_eq!(
        app.get(Some(&o), "/console/persons/999").await.reason,
        "unknown_person"
    );

    let path = format!("/console/persons/{pid}/cases");
    let a = app
        .post(
            Some(&o),
            &path,
            &[("legal_basis", " "), ("purpose", "check"), ("hours", "8")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (422, "legal_basis_required"));
    let a = app
        .post(
            Some(&o),
            &path,
            &[("legal_basis", "b"), ("purpose", "p"), ("hours", "500")],
            true,
        )
        .await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (422, "case_duration_invalid")
    );
    assert!(app
        .state
        .store
        .cases_for_person(pid)
        .await
        .unwrap()
        .is_empty());
    let a = app
        .post(
            Some(&o),
            &path,
            &[
                ("legal_basis", "121-FZ art. 5; order 17"),
                ("purpose", "spot check"),
                ("hours", "2"),
            ],
            true,
        )
        .await;
    assert_eq!(a.status, 303);
    let case_path = a.location.clone();
    let view = app.get(Some(&o), &case_path).await;
    assert_eq!(view.status, 200);
    assert!(view.body.contains("data-lat=\"55.752\""), "{}", view.body);
    assert!(view.body.contains("class=\"marker last\""));

    // Another officer may not use anna's case.
    let boris_secret = app.user("boris", Role::MigrationOfficer).await;
    let boris = app.sign_in("boris", &boris_secret).await;
    let a = app.get(Some(&boris), &case_path).await;
    assert_eq!((a.status, a.reason.as_str()), (403, "not_case_owner"));
    // Two hours later the case has expired: a clear refusal, no location.
    app.clock.advance(SignedDuration::from_hours(2));
    let o = app.sign_in("anna", &secret).await; // the old session idled out
    let a = app.get(Some(&o), &case_path).await;
    assert_eq!((a.status, a.reason.as_str()), (403, "case_expired"));
    assert!(a.body.contains("expired") && !a.body.contains("55.752"));

    let actions = app.actions().await;
    for expected in ["person.search", "person.view", "case.open", "case.location"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
    let reads = app
        .state
        .store
        .audit_records(AuditQuery {
            action: Some("case.location".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(reads.len(), 1, "one successful location read");
    assert_eq!(
        reads[0].legal_basis.as_deref(),
        Some("121-FZ art. 5; order 17")
    );

    // The auditor sees it; a police officer may not see the audit trail.
    let audit_secret = app.user("vera", Role::Auditor).await;
    let vera = app.sign_in("vera", &audit_secret).await;
    let a = app
        .get(Some(&vera), "/console/audit?actor=anna&action=case.")
        .await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("case.location") && a.body.contains("case.open"));
    assert!(!a.body.contains("person.search"));
    assert_eq!(
        app.get(Some(&vera), "/console/audit?from=yesterday")
            .await
            .reason,
        "invalid_date"
    );
    assert_eq!(
        app.get(Some(&o), "/console/audit").await.reason,
        "role_not_allowed"
    );
    assert_eq!(
        app.get(Some(&vera), "/console/search?name=x").await.reason,
        "role_not_allowed"
    );
    assert_eq!(
        amina_store::audit::verify_store(&*app.state.store)
            .await
            .unwrap()
            .map(|_| ()),
        Ok(())
    );
}

async fn alerts_are_reviewed_with_reasons(b: Backend) {
    let Some(app) = App::spawn(b, moscow("2025-11-24T09:00:00")).await else {
        return;
    };
    let pid = app.phone_at_kremlin("AB0000001", "secret-one").await;
    let raised = app
        .state
        .store
        .raise_signal(amina_store::NewSignal {
            kind: amina_domain::signal::SignalKind::OutsideRegion,
            subject: amina_domain::signal::SignalSubject::Person(pid),
            dedup_key: "1".into(),
            raised_at: app.clock.now(),
            score: None,
            explanation: "trusted position outside the pilot region".into(),
            evidence: serde_json::json!({"lat": 56.85}),
        })
        .await
        .unwrap();
    let secret = app.user("mila", Role::MigrationOfficer).await;
    let o = app.sign_in("mila", &secret).await;
    let list = app.get(Some(&o), "/console/alerts").await;
    assert!(list
        .body
        .contains(&format!("data-signal=\"{}\"", raised.id)));
    let search = app.get(Some(&o), "/console/search?name=karimov").await;
    assert!(
        search.body.contains("<td class=\"signals\">1</td>"),
        "open signals shown"
    );
    let path = format!("/console/alerts/{}/review", raised.id);
    let a = app
        .post(Some(&o), &path, &[("to", "dismissed")], true)
        .await;
    assert_eq!((a.status, a.reason.as_str()), (409, "reason_required"));
    let a = app.post(Some(&o), &path, &[("to", "sideways")], true).await;
    assert_eq!((a.status, a.reason.as_str()), (400, "invalid_status"));
    assert_eq!(
        app.post(Some(&o), &path, &[("to", "in_review")], true)
            .await
            .status,
        303
    );
    let a = app
        .post(
            Some(&o),
            &path,
            &[
                ("to", "dismissed"),
                ("reason", "GNSS spoofing near the airport"),
            ],
            true,
        )
        .await;
    assert_eq!(a.status, 303);
    let s = app.state.store.signal(raised.id).await.unwrap().unwrap();
    assert_eq!(s.status.code(), "dismissed");
    assert_eq!(s.decided_by.as_deref(), Some("mila"));
    assert_eq!(
        app.get(Some(&o), "/console/alerts?kind=nope").await.reason,
        "invalid_kind"
    );
    let all = app.get(Some(&o), "/console/alerts?status=all").await;
    assert!(all.body.contains("GNSS spoofing"));
    let reviews = app
        .actions()
        .await
        .into_iter()
        .filter(|a| a == "signal.review")
        .count();
    assert_eq!(reviews, 2);
}

async fn registry_decisions_are_the_supervisors_with_a_reason(b: Backend) {
    let Some(app) = App::spawn(b, moscow("2025-11-24T09:00:00")).await else {
        return;
    };
    let pid = app.phone_at_kremlin("AB0000001", "secret-one").await;
    app.clock.set(moscow("2025-12-05T09:00:00"));
    assert_eq!(
        amina_server::scheduler::run_once(&app.state)
            .await
            .unwrap()
            .len(),
        1
    );
    let sveta = app.user("sveta", Role::Supervisor).await;
    let mila = app.user("mila", Role::MigrationOfficer).await;
    let s = app.sign_in("sveta", &sveta).await;
    let m = app.sign_in("mila", &mila).await;
    let page = app.get(Some(&m), "/console/registry").await;
    assert_eq!(page.status, 200);
    let id = attr_after(&page.body, "data-entry=\"").expect("a proposal");
    assert!(page.body.contains("no_monitoring"), "evidence shown");
    assert!(
        !page.body.contains("/decide"),
        "no decision form for an officer"
    );
    let path = format!("/console/registry/{id}/decide");
    let a = app
        .post(
            Some(&m),
            &path,
            &[("decision", "include"), ("reason", "x")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (403, "role_not_allowed"));
    let a = app
        .post(
            Some(&s),
            &path,
            &[("decision", "include"), ("reason", "  ")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (422, "reason_required"));
    let a = app
        .post(
            Some(&s),
            &path,
            &[("decision", "maybe"), ("reason", "x")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (400, "invalid_decision"));
    let entry = app
        .state
        .store
        .registry_entry(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.status.code(), "proposed", "nothing changed");
    let a = app
        .post(
            Some(&s),
            &path,
            &[("decision", "include"), ("reason", "no contact for 8 days")],
            true,
        )
        .await;
    assert_eq!(a.status, 303);
    let csv = app.get(Some(&s), "/console/registry/export.csv").await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with("card_number,name_latin"));
    assert!(csv
        .body
        .contains("AB0000001,Alisher Karimov,Алишер Каримов,UZB"));
    assert!(csv.body.contains("no contact for 8 days"));
    assert_eq!(
        app.get(Some(&m), "/console/registry/export.csv")
            .await
            .reason,
        "role_not_allowed"
    );
    let a = app
        .post(
            Some(&s),
            &format!("/console/registry/{id}/remove"),
            &[("reason", "appeal granted")],
            true,
        )
        .await;
    assert_eq!(a.status, 303);
    let csv = app.get(Some(&s), "/console/registry/export.csv").await;
    assert!(!csv.body.contains("AB0000001"));
    let events = app.state.store.person_events(pid).await.unwrap();
    assert!(events
        .iter()
        .any(|e| e.kind == "registry_decision" && e.detail["reason"] == "no contact for 8 days"));
}

/// The migration-centre operator's page issues a one-time code for a
/// checked card; the phone enrols with it once; bad input changes nothing;
/// the issue is audited.
async fn an_enrolment_operator_issues_a_one_time_code(b: Backend) {
    let Some(app) = App::spawn(b, moscow("2025-11-24T09:00:00")).await else {
        return;
    };
    let secret = app.user("operator-1", Role::EnrolmentOperator).await;
    let op = app.sign_in("operator-1", &secret).await;
    let form = app.get(Some(&op), "/console/enrolment").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("action=\"/console/enrolment/codes\""));

    // Bad input: refused with a reason, nothing issued.
    let before = app.audit_count().await;
    let a = app
        .post(
            Some(&op),
            "/console/enrolment/codes",
            &[("card", "no!")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (400, "invalid_card_number"));
    let a = app
        .post(
            Some(&op),
            "/console/enrolment/codes",
            &[("card", "ZZ9999999")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (404, "unknown_card"));
    let a = app
        .post(
            Some(&op),
            "/console/enrolment/codes",
            &[("card", "AB0000002")],
            false,
        )
        .await;
    assert_eq!(a.status, 403, "no CSRF token");
    assert_eq!(app.audit_count().await, before);

    // A case officer may not issue codes.
    let officer = app.user("officer-2", Role::MigrationOfficer).await;
    let m = app.sign_in("officer-2", &officer).await;
    let a = app
        .post(
            Some(&m),
            "/console/enrolment/codes",
            &[("card", "AB0000002")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (403, "role_not_allowed"));

    let a = app
        .post(
            Some(&op),
            "/console/enrolment/codes",
            &[("card", "AB0000002")],
            true,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let code = attr_after(&a.body, "data-code=\"").expect("the code is shown");
    assert!(a.body.contains("<svg"), "the QR code is drawn");
    assert!(a.body.contains(&format!("#code={code}")));
    assert!(app
        .actions()
        .await
        .contains(&"enrolment.code_issue".to_string()));

    // The phone enrols with it once.
    let enrol = |code: String| {
        let http = app.http.clone();
        let url = format!("{}/v1/enrolments", app.base);
        async move {
            http.post(url)
                .json(&serde_json::json!({ "code": code }))
                .send()
                .await
                .unwrap()
        }
    };
    let first = enrol(code.clone()).await;
    assert!(first.status().is_success(), "{}", first.status());
    let again = enrol(code).await;
    assert_eq!(again.status().as_u16(), 409);
}

// ---------------------------------------------------------------- the matrix

/// Every route of the router has a rule; every rule names a route; and for
/// every console route and every role, a real request is allowed or
/// refused exactly as the table says.
#[tokio::test(flavor = "multi_thread")]
async fn authorisation_matrix_every_route_every_role() {
    let routes = amina_server::api::route_list();
    let mut missing = Vec::new();
    for (method, path) in &routes {
        if authz::rule_for(method, path).is_none() {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(
        missing.is_empty(),
        "routes without an authorisation rule: {missing:?}"
    );
    for r in authz::RULES {
        assert!(
            routes
                .iter()
                .any(|(m, p)| m.as_str() == r.method && *p == r.path),
            "rule for a route that does not exist: {} {}",
            r.method,
            r.path
        );
        if let Access::Device | Access::Public | Access::SignIn = r.access {
            for role in Role::ALL {
                assert!(!authz::allows(r, role), "{} grants a console role", r.path);
            }
        }
    }

    let app = App::spawn(Backend::Sqlite, moscow("2025-11-24T09:00:00"))
        .await
        .expect("SQLite always works");
    let mut officers = HashMap::new();
    for role in Role::ALL {
        let name = role.code().replace('_', "-");
        let secret = app.user(&name, role).await;
        officers.insert(role, app.sign_in(&name, &secret).await);
    }
    let concrete = |p: &str| {
        p.replace("{id}", "1")
            .replace("{name}", "console.css")
            .replace("{lang}", "en")
    };
    // Sign-out last: it ends the session.
    let mut console_rules: Vec<_> = authz::RULES
        .iter()
        .filter(|r| matches!(r.access, Access::Console(_)))
        .collect();
    console_rules.sort_by_key(|r| r.path == "/console/logout");
    let mut checked = 0;
    for rule in console_rules {
        let path = concrete(rule.path);
        // Without a session: GET goes to sign-in, anything else is 401.
        let anon = match rule.method {
            "GET" => app.get(None, &path).await,
            _ => app.post(None, &path, &[], false).await,
        };
        match rule.method {
            "GET" => assert_eq!(
                (anon.status, anon.location.as_str()),
                (303, "/console/login"),
                "{path}"
            ),
            _ => assert_eq!(
                (anon.status, anon.reason.as_str()),
                (401, "not_signed_in"),
                "{path}"
            ),
        }
        for role in Role::ALL {
            let o = &officers[&role];
            let a = match rule.method {
                "GET" => app.get(Some(o), &path).await,
                _ => app.post(Some(o), &path, &[], true).await,
            };
            if authz::allows(rule, role) {
                assert_ne!(
                    a.reason, "role_not_allowed",
                    "{} {path} as {role:?}: {a:?}",
                    rule.method
                );
                assert!(
                    a.status != 401 && a.reason != "csrf_token_invalid",
                    "{path} {role:?} {a:?}"
                );
            } else {
                assert_eq!(
                    (a.status, a.reason.as_str()),
                    (403, "role_not_allowed"),
                    "{} {path} as {role:?}",
                    rule.method
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 6 * 15, "{checked}");
}

// ------------------------------------------------------------ issue 4, rest

const TVERSKAYA_7: (f64, f64) = (55.7579, 37.6112);

/// Import a two-district address register and notify `pid` at the Moscow
/// address.
async fn address_register(app: &App, pid: i64) {
    use amina_domain::stay::{Address, AddressId, NoticeRules};
    let addr = |id: &str, municipality: &str, region: &str, at: (f64, f64)| Address {
        id: AddressId::parse(id).unwrap(),
        region: region.into(),
        municipality: municipality.into(),
        street: "улица Тверская".into(),
        house: "7".into(),
        flat: Some("12".into()),
        residential: true,
        position: amina_domain::types::Coordinates::parse(at.0, at.1).unwrap(),
    };
    let now = app.clock.now();
    app.state
        .store
        .import_addresses(
            vec![
                addr("mow-1", "Москва", "RU-MOW", TVERSKAYA_7),
                addr(
                    "mos-1",
                    "городской округ Химки",
                    "RU-MOS",
                    (55.8887, 37.4304),
                ),
            ],
            now,
        )
        .await
        .unwrap();
    app.state
        .store
        .submit_notice(
            NoticeRules { max_days_ahead: 7 },
            app.state.monitor.geofence.clone(),
            amina_store::NewNotice {
                person_id: pid,
                address_id: AddressId::parse("mow-1").unwrap(),
                date_from: amina_domain::time::moscow_date(now),
                host_name: None,
            },
            now,
        )
        .await
        .unwrap();
}

async fn outside_signal(app: &App, pid: i64) -> i64 {
    let now = app.clock.now();
    app.state
        .store
        .raise_signal(amina_store::NewSignal {
            kind: amina_domain::signal::SignalKind::OutsideRegion,
            subject: amina_domain::signal::SignalSubject::Person(pid),
            dedup_key: now.to_string(),
            raised_at: now,
            score: None,
            explanation: "trusted position outside the pilot region".into(),
            evidence: serde_json::json!({
                "outside_since": now.to_string(),
                "previous_presence": "in_region",
                "lat": 56.8587, "lon": 35.9176, "accuracy_m": 14.0,
            }),
        })
        .await
        .unwrap()
        .id
}

async fn a_spot_check_lists_people_with_evidence_and_records_outcomes(b: Backend) {
    let Some(app) = App::spawn(b, moscow("2025-11-24T09:00:00")).await else {
        return;
    };
    let pid = app.phone_at_kremlin("AB0000001", "secret-one").await;
    let other = app.phone_at_kremlin("AB0000002", "secret-two").await;
    address_register(&app, pid).await;
    outside_signal(&app, pid).await;
    let secret = app.user("anna", Role::PoliceOfficer).await;
    let o = app.sign_in("anna", &secret).await;

    let page = app.get(Some(&o), "/console/spot-checks").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<option value=\"Москва\">"),
        "{}",
        page.body
    );
    let before = app.audit_count().await;
    for (form, reason) in [
        (
            vec![
                ("district", "Москва"),
                ("lat", "55.75"),
                ("lon", "37.61"),
                ("radius_m", "100"),
            ],
            "invalid_area",
        ),
        (vec![("district", "Нарния")], "unknown_district"),
        (
            vec![("lat", "95"), ("lon", "37.61"), ("radius_m", "100")],
            "invalid_coordinates",
        ),
        (
            vec![("lat", "55.75"), ("lon", "37.61"), ("radius_m", "999999")],
            "invalid_radius",
        ),
        (
            vec![("district", "Москва"), ("hours", "x")],
            "invalid_hours",
        ),
    ] {
        let mut form = form;
        form.extend([("legal_basis", "3-FZ art. 13"), ("purpose", "check")]);
        if !form.iter().any(|(k, _)| *k == "hours") {
            form.push(("hours", "4"));
        }
        let a = app
            .post(Some(&o), "/console/spot-checks", &form, true)
            .await;
        assert_eq!((a.status, a.reason.as_str()), (400, reason), "{form:?}");
    }
    let a = app
        .post(
            Some(&o),
            "/console/spot-checks",
            &[
                ("district", "Москва"),
                ("legal_basis", " "),
                ("purpose", "p"),
                ("hours", "4"),
            ],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (422, "legal_basis_required"));
    assert_eq!(app.audit_count().await, before, "refusals change nothing");

    let a = app
        .post(
            Some(&o),
            "/console/spot-checks",
            &[
                ("district", "Москва"),
                ("legal_basis", "3-FZ art. 13"),
                ("purpose", "district check"),
                ("hours", "4"),
            ],
            true,
        )
        .await;
    assert_eq!(a.status, 303, "{a:?}");
    let path = a.location.clone();
    let view = app.get(Some(&o), &path).await;
    assert_eq!(view.status, 200);
    assert!(view.body.contains("AB0000001"));
    assert!(
        !view.body.contains("AB0000002"),
        "no open signal, no notice in the district"
    );
    assert!(view.body.contains("data-reason=\"outside_region\""));
    assert!(view.body.contains("Outside since"), "evidence as a table");
    assert!(
        view.body.contains("56.85870"),
        "coordinates inside a spot check"
    );
    let listed = app
        .state
        .store
        .audit_records(AuditQuery {
            action: Some("spotcheck.listed".into()),
            subject: Some(format!("person:{pid}")),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].legal_basis.as_deref(), Some("3-FZ art. 13"));

    let outcomes = format!("{path}/outcomes");
    let pid_s = pid.to_string();
    let a = app
        .post(
            Some(&o),
            &outcomes,
            &[("person", &pid_s), ("outcome", "violation")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (422, "reason_required"));
    let a = app
        .post(
            Some(&o),
            &outcomes,
            &[("person", &pid_s), ("outcome", "maybe")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (400, "invalid_outcome"));
    let a = app
        .post(
            Some(&o),
            &outcomes,
            &[
                ("person", &pid_s),
                ("outcome", "violation"),
                ("note", "no document"),
            ],
            true,
        )
        .await;
    assert_eq!(a.status, 303, "{a:?}");
    let a = app
        .post(
            Some(&o),
            &outcomes,
            &[("person", &pid_s), ("outcome", "in_order")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (409, "outcome_recorded"));
    let view = app.get(Some(&o), &path).await;
    assert!(view.body.contains("data-outcome=\"violation\""));
    assert!(view.body.contains("no document"));

    // A point and radius finds the same person by last position.
    let a = app
        .post(
            Some(&o),
            "/console/spot-checks",
            &[
                ("lat", "55.7520"),
                ("lon", "37.6175"),
                ("radius_m", "200"),
                ("legal_basis", "3-FZ art. 13"),
                ("purpose", "street check"),
                ("hours", "1"),
            ],
            true,
        )
        .await;
    let point = a.location.clone();
    let view = app.get(Some(&o), &point).await;
    assert!(view.body.contains("AB0000001") && !view.body.contains("AB0000002"));
    assert!(view.body.contains("class=\"radius\""));
    // Someone else's spot check, and an expired one, are refused.
    let boris_secret = app.user("boris", Role::PoliceOfficer).await;
    let boris = app.sign_in("boris", &boris_secret).await;
    assert_eq!(app.get(Some(&boris), &point).await.reason, "not_case_owner");
    app.clock.advance(SignedDuration::from_mins(61));
    let o = app.sign_in("anna", &secret).await;
    let a = app.get(Some(&o), &point).await;
    assert_eq!((a.status, a.reason.as_str()), (403, "case_expired"));
    assert!(!a.body.contains("AB0000001"));
    let _ = other;
}

async fn search_and_alerts_by_address_and_district(b: Backend) {
    let Some(app) = App::spawn(b, moscow("2025-11-24T09:00:00")).await else {
        return;
    };
    let pid = app.phone_at_kremlin("AB0000001", "secret-one").await;
    app.phone_at_kremlin("AB0000002", "secret-two").await;
    address_register(&app, pid).await;
    let sid = outside_signal(&app, pid).await;
    let secret = app.user("mila", Role::MigrationOfficer).await;
    let o = app.sign_in("mila", &secret).await;

    let a = app
        .get(
            Some(&o),
            "/console/search?district=%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0",
        )
        .await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("AB0000001") && !a.body.contains("AB0000002"));
    assert!(a.body.contains("<td class=\"district\">Москва</td>"));
    let a = app
        .get(
            Some(&o),
            "/console/search?address=%D1%82%D0%B2%D0%B5%D1%80%D1%81%D0%BA%D0%B0%D1%8F+7",
        )
        .await;
    assert!(
        a.body.contains("AB0000001") && !a.body.contains("AB0000002"),
        "{}",
        a.body
    );

    // The person card shows the evidence readably, without coordinates.
    let card = app.get(Some(&o), &format!("/console/persons/{pid}")).await;
    assert!(card.body.contains("Outside the pilot region"));
    assert!(
        card.body.contains("Outside since") && card.body.contains("<table class=\"evidence\">")
    );
    assert!(
        !card.body.contains("56.85"),
        "no coordinates outside a case"
    );
    assert!(card.body.contains("class=\"withheld\""));

    let alerts = app
        .get(
            Some(&o),
            "/console/alerts?district=%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0",
        )
        .await;
    assert!(alerts.body.contains(&format!("data-signal=\"{sid}\"")));
    assert!(
        !alerts.body.contains("56.85"),
        "no coordinates in the queue"
    );
    let row = alerts
        .body
        .split("<tr data-district=\"Москва\">")
        .nth(1)
        .expect("a row for the district")
        .split("</tr>")
        .next()
        .unwrap();
    assert!(row.contains("<td data-status=\"open\">1</td>"), "{row}");
    let elsewhere = app
        .get(Some(&o), "/console/alerts?district=%D0%B3%D0%BE%D1%80%D0%BE%D0%B4%D1%81%D0%BA%D0%BE%D0%B9+%D0%BE%D0%BA%D1%80%D1%83%D0%B3+%D0%A5%D0%B8%D0%BC%D0%BA%D0%B8")
        .await;
    assert_eq!(elsewhere.status, 200);
    assert!(!elsewhere.body.contains(&format!("data-signal=\"{sid}\"")));
    // Taking an alert into review assigns it.
    let a = app
        .post(
            Some(&o),
            &format!("/console/alerts/{sid}/review"),
            &[("to", "in_review")],
            true,
        )
        .await;
    assert_eq!(a.status, 303);
    let s = app.state.store.signal(sid).await.unwrap().unwrap();
    assert_eq!(s.assigned_to.as_deref(), Some("mila"));
}

async fn admins_manage_accounts_and_see_no_personal_data(b: Backend) {
    let Some(app) = App::spawn(b, moscow("2025-11-24T09:00:00")).await else {
        return;
    };
    app.phone_at_kremlin("AB0000001", "secret-one").await;
    let secret = app.user("root", Role::Admin).await;
    let root = app.sign_in("root", &secret).await;
    let list = app.get(Some(&root), "/console/accounts").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("data-account=\"root\""));
    assert!(!list.body.contains("AB0000001") && !list.body.contains("Karimov"));
    assert_eq!(
        app.get(Some(&root), "/console/search?card=AB0000001")
            .await
            .reason,
        "role_not_allowed"
    );
    for (form, reason) in [
        (
            vec![("name", "a b"), ("role", "auditor")],
            "invalid_account_name",
        ),
        (vec![("name", "vera"), ("role", "god")], "invalid_role"),
        (
            vec![("name", "root"), ("role", "auditor")],
            "account_exists",
        ),
    ] {
        let a = app
            .post(Some(&root), "/console/accounts", &form, true)
            .await;
        assert_eq!(a.reason, reason, "{form:?}");
    }
    let made = app
        .post(
            Some(&root),
            "/console/accounts",
            &[("name", "vera"), ("role", "police_officer")],
            true,
        )
        .await;
    assert_eq!(made.status, 200, "{made:?}");
    let password = attr_text(&made.body, "<code id=\"password\">").expect("password shown once");
    let totp = attr_text(&made.body, "<code id=\"totp-secret\">").expect("secret shown once");
    let code = totp_code(&totp, app.clock.now());
    let (a, session) = app.try_sign_in("vera", &password, &code).await;
    assert_eq!(a.status, 303, "the shown credentials work");
    let vera = Officer {
        cookie: format!("amina_session={}", session.unwrap()),
        csrf: String::new(),
    };
    assert_eq!(app.get(Some(&vera), "/console/").await.status, 200);

    let id = app
        .state
        .store
        .account_by_name("vera")
        .await
        .unwrap()
        .unwrap()
        .id;
    let before = app.audit_count().await;
    let a = app
        .post(
            Some(&root),
            &format!("/console/accounts/{id}/disable"),
            &[],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (422, "reason_required"));
    assert_eq!(app.audit_count().await, before);
    let a = app
        .post(
            Some(&root),
            &format!("/console/accounts/{id}/disable"),
            &[("reason", "left the service")],
            true,
        )
        .await;
    assert_eq!(a.status, 303);
    let gone = app.get(Some(&vera), "/console/").await;
    assert_eq!(
        (gone.status, gone.location.as_str()),
        (303, "/console/login"),
        "sessions end"
    );
    let root_id = app
        .state
        .store
        .account_by_name("root")
        .await
        .unwrap()
        .unwrap()
        .id;
    let a = app
        .post(
            Some(&root),
            &format!("/console/accounts/{root_id}/disable"),
            &[("reason", "x")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (409, "own_account"));
    let a = app
        .post(
            Some(&root),
            &format!("/console/accounts/{id}/enable"),
            &[("reason", "back")],
            true,
        )
        .await;
    assert_eq!(a.status, 303);
    let reset = app
        .post(
            Some(&root),
            &format!("/console/accounts/{id}/reset-totp"),
            &[("reason", "lost phone")],
            true,
        )
        .await;
    assert_eq!(reset.status, 200);
    let new_totp = attr_text(&reset.body, "<code id=\"totp-secret\">").unwrap();
    assert_ne!(new_totp, totp);
    app.clock.advance(SignedDuration::from_secs(60));
    let (a, _) = app
        .try_sign_in("vera", &password, &totp_code(&totp, app.clock.now()))
        .await;
    assert_eq!(a.status, 401, "the old authenticator no longer works");
    let (a, _) = app
        .try_sign_in("vera", &password, &totp_code(&new_totp, app.clock.now()))
        .await;
    assert_eq!(a.status, 303);
    let actions = app.actions().await;
    for expected in [
        "account.create",
        "account.disable",
        "account.enable",
        "account.reset_totp",
    ] {
        assert!(actions.iter().any(|a| a == expected), "{expected}");
    }
}

/// The text of the element that starts with `marker`.
fn attr_text(page: &str, marker: &str) -> Option<String> {
    let rest = page.split(marker).nth(1)?;
    Some(rest.split('<').next()?.to_string())
}

/// The Done list's bad inputs: each is a clear refusal (status, reason,
/// a sentence in the officer's language) and changes nothing.
async fn bad_input_is_refused_clearly_and_changes_nothing(b: Backend) {
    let Some(app) = App::spawn(b, moscow("2025-11-24T09:00:00")).await else {
        return;
    };
    let pid = app.phone_at_kremlin("AB0000001", "secret-one").await;
    let secret = app.user("anna", Role::PoliceOfficer).await;
    let sup_secret = app.user("sofia", Role::Supervisor).await;

    // A registry proposal to decide on.
    app.clock.set(moscow("2025-12-05T09:00:00"));
    amina_server::scheduler::run_once(&app.state).await.unwrap();
    let entry = app
        .state
        .store
        .registry_entries(None, 10)
        .await
        .unwrap()
        .pop()
        .expect("a proposal");
    let o = app.sign_in("anna", &secret).await;
    let case = app
        .post(
            Some(&o),
            &format!("/console/persons/{pid}/cases"),
            &[
                ("legal_basis", "121-FZ"),
                ("purpose", "check"),
                ("hours", "1"),
            ],
            true,
        )
        .await;
    assert_eq!(case.status, 303);
    let case_path = case.location.clone();
    app.clock.advance(SignedDuration::from_mins(61));
    let o = app.sign_in("anna", &secret).await;
    let sup = app.sign_in("sofia", &sup_secret).await;
    let before = app.audit_count().await;

    let a = app.get(Some(&o), "/console/search?citizenship=UZBEK").await;
    assert_eq!((a.status, a.reason.as_str()), (400, "invalid_citizenship"));
    assert!(a.body.contains("role=\"alert\""));
    let a = app.get(Some(&o), "/console/search?district=Nowhere").await;
    assert_eq!((a.status, a.reason.as_str()), (400, "unknown_district"));
    let a = app.get(Some(&o), "/console/search?address=%2C").await;
    assert_eq!((a.status, a.reason.as_str()), (400, "invalid_address"));

    let a = app.get(Some(&o), &case_path).await;
    assert_eq!((a.status, a.reason.as_str()), (403, "case_expired"));
    assert!(a.body.contains("The case has expired"));
    assert!(!a.body.contains("55.752"));

    let decide = format!("/console/registry/{}/decide", entry.id);
    let a = app
        .post(
            Some(&sup),
            &decide,
            &[("decision", "include"), ("reason", "  ")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (422, "reason_required"));
    assert!(a.body.contains("A written reason is required"));

    let a = app
        .post(
            Some(&sup),
            &decide,
            &[("decision", "include"), ("reason", "evidence holds")],
            false,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (403, "csrf_token_invalid"));

    assert_eq!(
        app.audit_count().await,
        before,
        "nothing was read or written"
    );
    let still = app
        .state
        .store
        .registry_entry(entry.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        still.status,
        amina_domain::console::RegistryStatus::Proposed
    );
    assert!(still.decision_reason.is_none());
}

/// With `console.tile_url` set the map draws the tiles and the CSP admits
/// exactly that origin; by default the map is offline and the CSP has no
/// image source beyond this server.
#[tokio::test(flavor = "multi_thread")]
async fn map_tiles_only_from_the_configured_origin() {
    let app = App::spawn(Backend::Sqlite, moscow("2025-11-24T09:00:00"))
        .await
        .unwrap();
    let secret = app.user("anna", Role::PoliceOfficer).await;
    let o = app.sign_in("anna", &secret).await;
    let resp = app
        .http
        .get(format!("{}/console/map", app.base))
        .header("cookie", &o.cookie)
        .send()
        .await
        .unwrap();
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!csp.contains("img-src"), "{csp}");
    let body = resp.text().await.unwrap();
    assert!(body.contains("<svg class=\"map\"") && !body.contains("<image"));

    let app = App::spawn_with(Backend::Sqlite, moscow("2025-11-24T09:00:00"), |c| {
        c.console.tile_url = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png".into();
    })
    .await
    .unwrap();
    let secret = app.user("anna", Role::PoliceOfficer).await;
    let o = app.sign_in("anna", &secret).await;
    let resp = app
        .http
        .get(format!("{}/console/map", app.base))
        .header("cookie", &o.cookie)
        .send()
        .await
        .unwrap();
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.ends_with("; img-src 'self' http://127.0.0.1:9"),
        "{csp}"
    );
    assert!(csp.starts_with("default-src 'self'"));
    let body = resp.text().await.unwrap();
    assert!(body.contains("<image class=\"tile\" href=\"http://127.0.0.1:9/tiles/"));
}
