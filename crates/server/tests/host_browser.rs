//! Host parties in a real browser: headless Chromium against the real
//! server (SQLite, the system clock: the TOTP codes typed in are the real
//! ones), driven over the DevTools protocol (`cdp`).
//!
//! A migration officer creates a host-party account in Russian and reads
//! the password and TOTP secret shown once; the host party signs in with
//! them, sees their tenant (card masked), files a child's arrival notice in
//! English (refused for an adult, with the reason, then accepted), and, in
//! Russian, disputes the tenant's registration (refused without a
//! statement, accepted with one); another officer finds the signal in the
//! alerts queue.

mod cdp;

use std::sync::{Arc, OnceLock};

use amina_domain::console::Role;
use amina_domain::monitor::{FixInput, Monitor};
use amina_domain::stay::{Address, AddressId, NoticeRules};
use amina_domain::types::{AccuracyM, CardNumber, Coordinates, DeviceSeq, FixSource};
use amina_server::cards::{hash_secrets, parse_cards};
use amina_server::clock::SystemClock;
use amina_server::config::Config;
use amina_server::console::auth::{create_account, totp_code};
use amina_server::state::{build_monitor, AppState};
use amina_store::{NewBindingToken, NewDevice, NewNotice, SharedStore};
use cdp::{Browser, Page};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::oneshot;

const TVERSKAYA_7: (f64, f64) = (55.7579, 37.6112);
const PASSWORD: &str = "correct horse battery";

fn monitor(config: &Config) -> Monitor {
    static MONITOR: OnceLock<Monitor> = OnceLock::new();
    MONITOR
        .get_or_init(|| build_monitor(config).expect("default configuration builds"))
        .clone()
}

struct Server {
    base: String,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

fn flat(id: &str, flat: &str) -> Address {
    Address {
        id: AddressId::parse(id).unwrap(),
        region: "RU-MOW".into(),
        municipality: "Москва".into(),
        street: "улица Тверская".into(),
        house: "7".into(),
        flat: Some(flat.into()),
        residential: true,
        position: Coordinates::parse(TVERSKAYA_7.0, TVERSKAYA_7.1).unwrap(),
    }
}

/// A server with AB0000001 enrolled ten minutes ago, reporting, with a
/// place-of-stay notice at flat 12 of Tverskaya 7.
async fn server() -> Server {
    let mut config = Config::default();
    config.scheduler.enabled = false;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("amina.sqlite3").display());
    config.database = url.clone();
    let store: SharedStore = amina_store::open(&url).await.expect("open store");
    store.migrate().await.expect("migrate");
    let m = monitor(&config);
    let state = AppState::new(store, m.clone(), config, Arc::new(SystemClock));
    let now = Timestamp::now();
    let csv = "card_number,activation_secret,activation_secret_hash,name_latin,name_cyrillic,citizenship,birth_date,purpose,valid_until
AB0000001,secret-one,,Alisher Karimov,Алишер Каримов,UZB,1994-03-12,work,2099-12-31
";
    let mut cards = parse_cards(
        csv.as_bytes(),
        &amina_domain::eligibility::Scope::default(),
        amina_domain::time::moscow_date(now),
    )
    .unwrap();
    hash_secrets(&mut cards.accepted);
    let s = &state.store;
    let enrolled_at = now - SignedDuration::from_mins(10);
    s.import_cards(cards.accepted, enrolled_at).await.unwrap();
    s.import_addresses(
        vec![flat("tv7-12", "12"), flat("tv7-14", "14")],
        enrolled_at,
    )
    .await
    .unwrap();
    let e = s
        .enrol(
            &m,
            &CardNumber::parse("AB0000001").unwrap(),
            NewBindingToken {
                hash: [1; 32],
                expires_at: enrolled_at + SignedDuration::from_mins(15),
                issued_by: "self".into(),
            },
            enrolled_at,
        )
        .await
        .unwrap();
    s.bind_device(
        [1; 32],
        NewDevice {
            id: "dev-1".into(),
            public_key: vec![4; 65],
            key_thumbprint: "thumb-1".into(),
            kind: "android-pwa".into(),
            actor: "self".into(),
        },
        enrolled_at,
    )
    .await
    .unwrap();
    let at =
        Timestamp::from_millisecond((now - SignedDuration::from_mins(5)).as_millisecond()).unwrap();
    s.ingest(
        &m,
        "dev-1",
        vec![FixInput {
            seq: DeviceSeq::parse(1).unwrap(),
            position: Coordinates::parse(TVERSKAYA_7.0, TVERSKAYA_7.1).unwrap(),
            accuracy: AccuracyM::parse(15.0).unwrap(),
            recorded_at: at,
            source: FixSource::Gps,
            mock_location: false,
            battery: None,
        }],
        now,
    )
    .await
    .unwrap();
    s.submit_notice(
        NoticeRules::default(),
        m.geofence.clone(),
        NewNotice {
            person_id: e.person_id,
            address_id: AddressId::parse("tv7-12").unwrap(),
            date_from: amina_domain::time::moscow_date(enrolled_at),
            host_name: None,
        },
        now,
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(amina_server::serve(listener, state.clone(), async {
        let _ = rx.await;
    }));
    Server {
        base,
        state,
        stop: Some(tx),
        _dir: dir,
    }
}

impl Page<'_> {
    async fn go(&self, path: &str) {
        self.cmd(
            "Page.navigate",
            serde_json::json!({"url": format!("{}{path}", self.base)}),
        )
        .await;
        self.loaded().await;
    }

    async fn loaded(&self) {
        self.wait_for(
            "the page to load",
            "document.readyState === 'complete' && !!document.querySelector('h1')",
        )
        .await;
    }

    async fn title(&self) -> String {
        self.js("document.querySelector('h1').textContent")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Fill the fields of the form matching `selector` and submit it; wait
    /// for the next page.
    async fn submit(&self, selector: &str, fields: &[(&str, &str)]) {
        let mut js = format!("(() => {{ const f = document.querySelector({selector:?});");
        for (name, value) in fields {
            js.push_str(&format!(" f.elements[{name:?}].value = {value:?};"));
        }
        js.push_str(" window.__leaving = true; f.requestSubmit(); })()");
        self.js(&js).await;
        self.wait_for("the next page", "window.__leaving === undefined")
            .await;
        self.loaded().await;
    }

    async fn sign_in(&self, name: &str, password: &str, secret: &str) {
        self.go("/console/login").await;
        let code = totp_code(secret, Timestamp::now());
        self.submit(
            "form.login",
            &[("name", name), ("password", password), ("code", &code)],
        )
        .await;
        self.wait_for("the home page", "location.pathname === '/console/'")
            .await;
    }

    async fn sign_out(&self) {
        self.submit("header form.inline", &[]).await;
        self.wait_for("the sign-in page", "location.pathname === '/console/login'")
            .await;
    }

    async fn body_text(&self) -> String {
        self.js("document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn reason(&self) -> serde_json::Value {
        self.js("document.querySelector('[data-reason]')?.dataset.reason ?? null")
            .await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn host_party_signs_in_files_a_child_and_disputes_in_russian_and_english() {
    let server = server().await;
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let user = |name: &'static str| {
        let state = server.state.clone();
        async move {
            create_account(&state, name, Role::MigrationOfficer, PASSWORD, "test")
                .await
                .unwrap()
                .totp_secret
        }
    };
    let mila = user("mila").await;
    let boris = user("boris").await;
    let page = browser.page(&server.base).await;
    page.cmd(
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await;

    // A migration officer creates the account, in Russian.
    page.go("/console/lang/ru").await;
    page.sign_in("mila", PASSWORD, &mila).await;
    page.go("/console/host-parties").await;
    assert_eq!(page.title().await, "Принимающие стороны");
    page.submit(
        "form.create-host",
        &[
            ("name", "landlord"),
            ("full_name", "Иванов Иван Иванович"),
            ("document", "4510 123456"),
            ("properties", "tv7-12\ntv7-14"),
        ],
    )
    .await;
    assert_eq!(
        page.title().await,
        "Учётная запись принимающей стороны создана"
    );
    let password = page
        .js("document.querySelector('[data-password]').dataset.password")
        .await;
    let secret = page
        .js("document.querySelector('[data-totp]').dataset.totp")
        .await;
    let (password, secret) = (password.as_str().unwrap(), secret.as_str().unwrap());
    assert_eq!(
        page.js("document.querySelectorAll('div.qr svg').length")
            .await,
        serde_json::json!(1)
    );
    page.sign_out().await;

    // The host party signs in with TOTP and sees the tenant, card masked.
    page.sign_in("landlord", password, secret).await;
    page.go("/console/host").await;
    assert_eq!(page.title().await, "Мои помещения");
    let tenants = page
        .js("[...document.querySelectorAll('article.tenant')].map(a => a.innerText)")
        .await;
    let tenants: Vec<String> = serde_json::from_value(tenants).unwrap();
    assert_eq!(tenants.len(), 1, "{tenants:?}");
    assert!(tenants[0].contains("Alisher Karimov") && tenants[0].contains("AB••••001"));
    assert!(!page.body_text().await.contains("AB0000001"));

    // In English: a child's arrival notice, refused for an adult, then filed.
    page.go("/console/lang/en").await;
    page.go("/console/host/children").await;
    assert_eq!(page.title().await, "Arrival of a child");
    let today = amina_domain::time::moscow_date(Timestamp::now()).to_string();
    let child = |birth: &'static str| {
        vec![
            ("name", "Karimova Zarina"),
            ("birth_date", birth),
            ("citizenship", "UZB"),
            ("document", "FA1234567"),
            ("parent_card", "AB0000001"),
            ("address_id", "tv7-12"),
        ]
    };
    let mut adult = child("2000-01-01");
    adult.push(("arrival_date", &today));
    page.submit("form.child", &adult).await;
    assert_eq!(page.reason().await, serde_json::json!("child_not_minor"));
    assert!(page.body_text().await.contains("only minors"));
    assert_eq!(
        page.js("document.querySelector('form.child').elements['name'].value")
            .await,
        serde_json::json!("Karimova Zarina"),
        "the form keeps what was typed"
    );
    let mut minor = child("2016-04-02");
    minor.push(("arrival_date", &today));
    page.submit("form.child", &minor).await;
    page.wait_for(
        "the filed notice",
        "[...document.querySelectorAll('table.children td.child-name')].some(td => td.textContent === 'Karimova Zarina')",
    )
    .await;
    assert_eq!(page.reason().await, serde_json::Value::Null);

    // In Russian: dispute the registration; a statement is required.
    page.go("/console/lang/ru").await;
    page.go("/console/host").await;
    page.submit("form.dispute", &[("statement", "")]).await;
    assert_eq!(page.reason().await, serde_json::json!("statement_required"));
    assert!(page
        .body_text()
        .await
        .contains("Нужно письменное пояснение"));
    page.go("/console/host").await;
    assert_eq!(
        page.js("document.querySelector('article.tenant').dataset.disputed")
            .await,
        serde_json::json!("false"),
        "nothing changed"
    );
    page.submit(
        "form.dispute",
        &[(
            "statement",
            "Квартира пустует с октября, жильца никто не видел.",
        )],
    )
    .await;
    page.wait_for(
        "the dispute",
        "document.querySelector('article.tenant').dataset.disputed === 'true'",
    )
    .await;
    assert!(page
        .body_text()
        .await
        .contains("сотрудник миграционной службы проверяет"));
    page.sign_out().await;

    // Another migration officer finds the signal in the alerts queue.
    page.go("/console/lang/en").await;
    page.sign_in("boris", PASSWORD, &boris).await;
    page.go("/console/alerts?kind=address_disputed").await;
    let signals = page
        .js("[...document.querySelectorAll('article.signal')].map(a => a.innerText)")
        .await;
    let signals: Vec<String> = serde_json::from_value(signals).unwrap();
    assert_eq!(signals.len(), 1, "{signals:?}");
    assert!(signals[0].contains("address_disputed"));
    assert!(signals[0].contains("Квартира пустует с октября"));
    assert!(signals[0].contains("tv7-12"));
}
