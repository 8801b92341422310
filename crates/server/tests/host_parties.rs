//! Host parties through the real HTTP server, on both backends: a migration
//! officer creates the account (audited), the host party signs in with the
//! password and TOTP shown once, sees who is registered at their properties
//! (card masked), files a child's arrival notice and disputes a
//! registration; the officer then sees the child on the person card, the
//! signal in the alerts queue, and the parent sees the child in "my data".
//! Every bad input is refused with its reason and changes nothing.

use std::sync::{Arc, OnceLock};

use amina_client::device::{fix, DeviceClient};
use amina_domain::console::Role;
use amina_domain::monitor::Monitor;
use amina_domain::stay::{Address, AddressId};
use amina_domain::types::Coordinates;
use amina_server::cards::{hash_secrets, parse_cards};
use amina_server::clock::{Clock, ManualClock};
use amina_server::config::Config;
use amina_server::console::auth::totp_code;
use amina_server::state::{build_monitor, AppState};
use amina_store::{AuditQuery, SharedStore};
use jiff::{SignedDuration, Timestamp};

const PASSWORD: &str = "correct horse battery";
const TVERSKAYA_7: (f64, f64) = (55.7579, 37.6112);

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

struct User {
    cookie: String,
    csrf: String,
}

#[derive(Debug)]
struct Answer {
    status: u16,
    reason: String,
    location: String,
    body: String,
}

fn flat(id: &str, flat: &str, residential: bool) -> Address {
    Address {
        id: AddressId::parse(id).unwrap(),
        region: "RU-MOW".into(),
        municipality: "Москва".into(),
        street: "улица Тверская".into(),
        house: "7".into(),
        flat: Some(flat.into()),
        residential,
        position: Coordinates::parse(TVERSKAYA_7.0, TVERSKAYA_7.1).unwrap(),
    }
}

impl App {
    async fn spawn(backend: Backend, start: Timestamp) -> Option<App> {
        let mut config = Config::default();
        config.scheduler.enabled = false;
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
        state
            .store
            .import_addresses(
                vec![
                    flat("tv7-12", "12", true),
                    flat("tv7-14", "14", true),
                    flat("tv7-office", "1", false),
                    flat("tv7-99", "99", true),
                ],
                start,
            )
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

    async fn get(&self, who: &User, path: &str, lang: &str) -> Answer {
        let req = self
            .http
            .get(format!("{}{path}", self.base))
            .header("accept-language", lang)
            .header("cookie", &who.cookie);
        Self::answer(req.send().await.unwrap()).await
    }

    async fn post(&self, who: &User, path: &str, form: &[(&str, &str)], csrf: bool) -> Answer {
        let mut enc = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form {
            enc.append_pair(k, v);
        }
        if csrf {
            enc.append_pair("csrf", &who.csrf);
        }
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("accept-language", "en")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &who.cookie)
            .body(enc.finish());
        Self::answer(req.send().await.unwrap()).await
    }

    async fn sign_in(&self, name: &str, password: &str, secret: &str) -> User {
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
            .append_pair("code", &totp_code(secret, self.clock.now()));
        let resp = self
            .http
            .post(format!("{}/console/login", self.base))
            .header("cookie", format!("amina_login={login_cookie}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(enc.finish())
            .send()
            .await
            .unwrap();
        let session = set_cookie(&resp, "amina_session").filter(|v| !v.is_empty());
        let a = Self::answer(resp).await;
        assert_eq!((a.status, a.location.as_str()), (303, "/console/"), "{a:?}");
        let mut u = User {
            cookie: format!("amina_session={}", session.expect("a session")),
            csrf: String::new(),
        };
        let home = self.get(&u, "/console/", "en").await;
        u.csrf = attr_after(&home.body, "name=\"csrf\" value=\"").expect("csrf token");
        u
    }

    async fn officer(&self, name: &str, role: Role) -> User {
        let secret =
            amina_server::console::auth::create_account(&self.state, name, role, PASSWORD, "test")
                .await
                .unwrap()
                .totp_secret;
        self.sign_in(name, PASSWORD, &secret).await
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

    /// A phone enrolled on a card, reporting from Tverskaya, with a
    /// place-of-stay notice at `address`.
    async fn tenant(&self, card: &str, secret: &str, address: &str) -> (DeviceClient, i64) {
        let mut phone = DeviceClient::new(&self.base);
        let clock = self.clock.clone();
        phone.clock = Arc::new(move || clock.now());
        phone.enrol_and_bind(card, secret).await.unwrap();
        let at = self.clock.now();
        phone
            .upload(&[fix(1, TVERSKAYA_7.0, TVERSKAYA_7.1, 15.0, at)])
            .await
            .unwrap();
        let today = amina_domain::time::moscow_date(at).to_string();
        phone.notify_stay(address, &today, None).await.unwrap();
        let number = amina_domain::types::CardNumber::parse(card).unwrap();
        let pid = self
            .state
            .store
            .person_by_card(&number)
            .await
            .unwrap()
            .unwrap()
            .person_id;
        (phone, pid)
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

on_both_backends!(host_party_accounts_tenants_children_and_disputes);

/// The officer creates a host party; create it with the credentials shown;
/// returns (the host party's session, their account id).
async fn create_host(app: &App, officer: &User, name: &str, properties: &str) -> (User, i64) {
    let a = app
        .post(
            officer,
            "/console/host-parties",
            &[
                ("name", name),
                ("full_name", "Иванов Иван Иванович"),
                ("document", "4510 123456"),
                ("properties", properties),
            ],
            true,
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    let password = attr_after(&a.body, "data-password=\"").expect("the password is shown");
    let secret = attr_after(&a.body, "data-totp=\"").expect("the TOTP secret is shown");
    assert!(a.body.contains("otpauth://totp/"), "the otpauth link");
    assert!(a.body.contains("<svg"), "its QR code");
    let id = app
        .state
        .store
        .account_by_name(name)
        .await
        .unwrap()
        .unwrap()
        .id;
    (app.sign_in(name, &password, &secret).await, id)
}

async fn host_party_accounts_tenants_children_and_disputes(b: Backend) {
    let Some(app) = App::spawn(b, moscow("2025-11-24T09:00:00")).await else {
        return;
    };
    let (phone, pid) = app.tenant("AB0000001", "secret-one", "tv7-12").await;
    let (_, other) = app.tenant("AB0000002", "secret-two", "tv7-99").await;
    let mila = app.officer("mila", Role::MigrationOfficer).await;
    let anna = app.officer("anna", Role::PoliceOfficer).await;

    // ---- The officer's account pages: bad input changes nothing.
    let before = app.audit_count().await;
    for (form, status, reason) in [
        (
            [
                ("name", "landlord"),
                ("full_name", "Иванов Иван"),
                ("document", "12"),
                ("properties", "tv7-12"),
            ],
            400,
            "invalid_document",
        ),
        (
            [
                ("name", "landlord"),
                ("full_name", " "),
                ("document", "4510 123456"),
                ("properties", "tv7-12"),
            ],
            400,
            "invalid_person_name",
        ),
        (
            [
                ("name", "land lord!"),
                ("full_name", "Иванов Иван"),
                ("document", "4510 123456"),
                ("properties", "tv7-12"),
            ],
            400,
            "invalid_account_name",
        ),
        (
            [
                ("name", "landlord"),
                ("full_name", "Иванов Иван"),
                ("document", "4510 123456"),
                ("properties", "tv7-12 nowhere-1"),
            ],
            422,
            "unknown_property",
        ),
    ] {
        let a = app.post(&mila, "/console/host-parties", &form, true).await;
        assert_eq!((a.status, a.reason.as_str()), (status, reason), "{form:?}");
        assert!(a.body.contains(&format!("data-reason=\"{reason}\"")));
        // The form keeps what was typed.
        assert!(a.body.contains("4510 123456") || reason == "invalid_document");
    }
    let a = app
        .post(
            &mila,
            "/console/host-parties",
            &[
                ("name", "landlord"),
                ("full_name", "Иванов Иван"),
                ("document", "4510 123456"),
            ],
            false,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (403, "csrf_token_invalid"));
    let a = app
        .post(
            &anna,
            "/console/host-parties",
            &[("name", "landlord")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (403, "role_not_allowed"));
    assert!(app.state.store.host_parties(10).await.unwrap().is_empty());
    // Each refused form page re-reads the list (audited), nothing else.
    let listed = app
        .state
        .store
        .audit_records(AuditQuery {
            action: Some("host_party.list".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .len();
    assert_eq!(app.audit_count().await, before + listed);
    assert!(app
        .state
        .store
        .account_by_name("landlord")
        .await
        .unwrap()
        .is_none());

    let (host, host_id) = create_host(&app, &mila, "landlord", "tv7-12\ntv7-office").await;
    let created = app
        .state
        .store
        .audit_records(AuditQuery {
            action: Some("host_party.create".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].actor, "mila");
    assert_eq!(created[0].subject, format!("account:{host_id}"));

    // The officer edits the properties (audited); a bad id changes nothing.
    let path = format!("/console/host-parties/{host_id}/properties");
    let a = app
        .post(&mila, &path, &[("properties", "tv7-12 nowhere-1")], true)
        .await;
    assert_eq!((a.status, a.reason.as_str()), (422, "unknown_property"));
    let a = app
        .post(
            &mila,
            &path,
            &[("properties", "tv7-12\ntv7-14\ntv7-office")],
            true,
        )
        .await;
    assert_eq!(a.status, 303, "{a:?}");
    let view = app
        .get(&mila, &format!("/console/host-parties/{host_id}"), "en")
        .await;
    assert!(view.body.contains("data-address=\"tv7-14\""));

    // ---- The host party sees their tenants, masked; nothing else.
    let page = app.get(&host, "/console/host", "en").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("Alisher Karimov"));
    assert!(page.body.contains("AB••••001"));
    assert!(!page.body.contains("AB0000001"), "the card is masked");
    assert!(!page.body.contains("Farrukh"), "not at their address");
    let ru = app.get(&host, "/console/host", "ru").await;
    assert!(ru.body.contains("Мои помещения"));
    for path in [
        format!("/console/persons/{pid}"),
        "/console/alerts".into(),
        "/console/search?name=karimov".into(),
        "/console/host-parties".into(),
    ] {
        let a = app.get(&host, &path, "en").await;
        assert_eq!(
            (a.status, a.reason.as_str()),
            (403, "role_not_allowed"),
            "{path}"
        );
    }
    let reads = app
        .state
        .store
        .audit_records(AuditQuery {
            action: Some("host.tenants".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(reads.len(), 2, "each read is audited");

    // ---- A child's arrival notice: bad input, each refused with a reason.
    let good = [
        ("name", "Каримова Зарина Алишеровна"),
        ("birth_date", "2016-04-02"),
        ("citizenship", "UZB"),
        ("document", "FA 1234567"),
        ("parent_card", "AB0000001"),
        ("address_id", "tv7-12"),
        ("arrival_date", "2025-11-24"),
    ];
    let with = |k: &str, v: &'static str| {
        good.iter()
            .map(|(gk, gv)| (*gk, if *gk == k { v } else { *gv }))
            .collect::<Vec<_>>()
    };
    let before = app.audit_count().await;
    for (form, status, reason) in [
        (with("birth_date", "2005-01-01"), 422, "child_not_minor"),
        (
            with("parent_card", "ZZ9999999"),
            422,
            "parent_not_registered",
        ),
        (with("address_id", "tv7-99"), 422, "address_not_yours"),
        (
            with("address_id", "tv7-office"),
            422,
            "address_not_residential",
        ),
        (
            with("arrival_date", "2025-12-24"),
            422,
            "date_too_far_ahead",
        ),
        (with("document", "?"), 400, "invalid_document"),
        (with("birth_date", "yesterday"), 400, "invalid_date"),
        (with("citizenship", "Uzbek"), 400, "invalid_citizenship"),
    ] {
        let a = app.post(&host, "/console/host/children", &form, true).await;
        assert_eq!((a.status, a.reason.as_str()), (status, reason), "{form:?}");
        assert!(a.body.contains(&format!("data-reason=\"{reason}\"")));
    }
    let a = app
        .post(&host, "/console/host/children", &good, false)
        .await;
    assert_eq!((a.status, a.reason.as_str()), (403, "csrf_token_invalid"));
    assert_eq!(app.audit_count().await, before, "refusals change nothing");
    assert!(app
        .state
        .store
        .child_notices_of_parent(pid)
        .await
        .unwrap()
        .is_empty());
    let a = app.post(&host, "/console/host/children", &good, true).await;
    assert_eq!(
        (a.status, a.location.as_str()),
        (303, "/console/host/children"),
        "{a:?}"
    );
    let filed = app.get(&host, "/console/host/children", "en").await;
    assert!(filed.body.contains("Каримова Зарина Алишеровна"));
    // The officer sees the child on the parent's card; the parent in the app.
    let card = app
        .get(&mila, &format!("/console/persons/{pid}"), "en")
        .await;
    assert!(card.body.contains("Каримова Зарина Алишеровна"));
    assert!(card.body.contains("child_arrival_notice"));
    let mine = phone.my_data().await.unwrap();
    assert_eq!(mine.children.len(), 1);
    assert_eq!(mine.children[0].name, "Каримова Зарина Алишеровна");
    assert_eq!(mine.children[0].arrival.date, "2025-11-24");

    // ---- A dispute: a statement is required; once while open.
    let notice_id = attr_after(&page.body, "data-notice=\"").expect("a tenant row");
    let path = format!("/console/host/notices/{notice_id}/dispute");
    let before = app.audit_count().await;
    let a = app.post(&host, &path, &[("statement", "  ")], true).await;
    assert_eq!((a.status, a.reason.as_str()), (422, "statement_required"));
    let a = app
        .post(&host, &path, &[("statement", "never lived here")], false)
        .await;
    assert_eq!((a.status, a.reason.as_str()), (403, "csrf_token_invalid"));
    // Somebody else's registration is as if it did not exist.
    let theirs = app
        .state
        .store
        .notices(other)
        .await
        .unwrap()
        .first()
        .unwrap()
        .id;
    let a = app
        .post(
            &host,
            &format!("/console/host/notices/{theirs}/dispute"),
            &[("statement", "x")],
            true,
        )
        .await;
    assert_eq!((a.status, a.reason.as_str()), (404, "not_your_tenant"));
    assert_eq!(app.audit_count().await, before);
    let a = app
        .post(
            &host,
            &path,
            &[("statement", "The flat has been empty since October.")],
            true,
        )
        .await;
    assert_eq!((a.status, a.location.as_str()), (303, "/console/host"));
    let a = app
        .post(&host, &path, &[("statement", "again")], true)
        .await;
    assert_eq!((a.status, a.reason.as_str()), (409, "dispute_open"));
    let page = app.get(&host, "/console/host", "en").await;
    assert!(page.body.contains("data-disputed=\"true\""));

    // The officer sees it in the alerts queue, with the statement.
    let alerts = app
        .get(&mila, "/console/alerts?kind=address_disputed", "en")
        .await;
    assert_eq!(alerts.status, 200);
    assert!(alerts.body.contains("address_disputed"));
    assert!(alerts
        .body
        .contains("The flat has been empty since October."));
    assert!(alerts.body.contains("host_party_account_id"));
    app.clock.advance(SignedDuration::from_mins(1));
    assert_eq!(
        amina_store::audit::verify_store(&*app.state.store)
            .await
            .unwrap()
            .map(|_| ()),
        Ok(())
    );
}
