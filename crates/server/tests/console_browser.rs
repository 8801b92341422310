//! The officers' console in a real browser: headless Chromium against the
//! real server (SQLite, the system clock: the TOTP codes typed in are the
//! real ones for now), driven over the DevTools protocol (`cdp`).
//!
//! One journey per role: a police officer signs in with password and TOTP,
//! searches by a Cyrillic name, opens the person card, opens a case and
//! sees the last known position on the map; a supervisor decides on a
//! registry proposal (refused without a reason, accepted with one); an
//! auditor finds those reads in the audit view, in English and Russian.

mod cdp;

use std::sync::{Arc, OnceLock};

use amina_domain::console::Role;
use amina_domain::monitor::{FixInput, Monitor};
use amina_domain::types::{AccuracyM, CardNumber, Coordinates, DeviceSeq, FixSource};
use amina_server::cards::{hash_secrets, parse_cards};
use amina_server::clock::SystemClock;
use amina_server::config::Config;
use amina_server::console::auth::{create_account, totp_code};
use amina_server::state::{build_monitor, AppState};
use amina_store::{NewBindingToken, NewDevice, SharedStore};
use cdp::{Browser, Page};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::oneshot;

const KREMLIN: (f64, f64) = (55.7520, 37.6175);
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

/// A server with two people: AB0000001 reporting from the Kremlin now, and
/// AB0000002 silent for ten days (deregistered, so proposed for the
/// registry).
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
AB0000002,secret-two,,Farrukh Rahimov,Фаррух Рахимов,TJK,1989-07-01,work,2099-12-31
";
    let mut cards = parse_cards(
        csv.as_bytes(),
        &amina_domain::eligibility::Scope::default(),
        amina_domain::time::moscow_date(now),
    )
    .unwrap();
    hash_secrets(&mut cards.accepted);
    let s = &state.store;
    let ten_days_ago = now - SignedDuration::from_hours(240);
    s.import_cards(cards.accepted, ten_days_ago).await.unwrap();
    let token = |n: u8, at: Timestamp| NewBindingToken {
        hash: [n; 32],
        expires_at: at + SignedDuration::from_mins(15),
        issued_by: "self".into(),
    };
    let card = |n: &str| CardNumber::parse(n).unwrap();
    s.enrol(&m, &card("AB0000002"), token(2, ten_days_ago), ten_days_ago)
        .await
        .unwrap();
    assert_eq!(s.deregister_due(&m, now, 10).await.unwrap().len(), 1);
    let enrolled_at = now - SignedDuration::from_mins(10);
    s.enrol(&m, &card("AB0000001"), token(1, enrolled_at), enrolled_at)
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
            position: Coordinates::parse(KREMLIN.0, KREMLIN.1).unwrap(),
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
            js.push_str(&format!(
                " {{ const e = f.elements[{name:?}]; if (e instanceof RadioNodeList) \
                 {{ [...e].find(r => r.value === {value:?}).checked = true; }} else {{ e.value = {value:?}; }} }}"
            ));
        }
        js.push_str(" window.__leaving = true; f.requestSubmit(); })()");
        self.js(&js).await;
        self.wait_for("the next page", "window.__leaving === undefined")
            .await;
        self.loaded().await;
    }

    async fn sign_in(&self, name: &str, secret: &str) {
        self.go("/console/login").await;
        let code = totp_code(secret, Timestamp::now());
        self.submit(
            "form.login",
            &[("name", name), ("password", PASSWORD), ("code", &code)],
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
}

#[tokio::test(flavor = "multi_thread")]
async fn officers_search_open_a_case_decide_and_audit() {
    let server = server().await;
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let user = |name: &'static str, role| {
        let state = server.state.clone();
        async move {
            create_account(&state, name, role, PASSWORD, "test")
                .await
                .unwrap()
                .totp_secret
        }
    };
    let anna = user("anna", Role::PoliceOfficer).await;
    let sveta = user("sveta", Role::Supervisor).await;
    let vera = user("vera", Role::Auditor).await;
    let page = browser.page(&server.base).await;
    page.cmd(
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await;

    // A police officer: sign in with TOTP (English by default here).
    page.go("/console/lang/en").await;
    page.sign_in("anna", &anna).await;
    assert!(page.body_text().await.contains("anna"));

    // Search by a Cyrillic name; the result has status and signals, no position.
    page.go("/console/search").await;
    page.submit("form.search", &[("name", "Каримов")]).await;
    let rows = page
        .js("[...document.querySelectorAll('table.results tbody tr')].map(r => r.innerText)")
        .await;
    let rows: Vec<String> = serde_json::from_value(rows).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("AB0000001") && rows[0].contains("registered"));
    assert!(!page.body_text().await.contains("55.75"));

    // The person card, then a case with a legal basis: the position appears.
    page.js("document.querySelector('table.results a').click()")
        .await;
    page.wait_for(
        "the person card",
        "location.pathname.startsWith('/console/persons/')",
    )
    .await;
    page.loaded().await;
    assert!(page.title().await.contains("Alisher Karimov"));
    assert!(!page.body_text().await.contains("55.75"));
    page.submit(
        "form.open-case",
        &[
            ("legal_basis", "121-FZ art. 5"),
            ("purpose", "spot check at the address"),
            ("hours", "2"),
        ],
    )
    .await;
    page.wait_for(
        "the case page",
        "location.pathname.startsWith('/console/cases/')",
    )
    .await;
    let lat = page
        .wait_for(
            "the last known position",
            "document.getElementById('last-known').dataset.lat",
        )
        .await;
    assert_eq!(lat, serde_json::json!("55.752"));
    assert_eq!(
        page.js("document.querySelectorAll('svg.map .marker.last').length")
            .await,
        serde_json::json!(1)
    );
    assert_eq!(
        page.js("document.querySelectorAll('svg.map path.region').length")
            .await,
        serde_json::json!(2)
    );
    page.sign_out().await;

    // A supervisor: a decision without a reason is refused, with one it is taken.
    page.sign_in("sveta", &sveta).await;
    page.go("/console/registry").await;
    let entry = page
        .wait_for(
            "a proposal",
            "document.querySelector('article.entry').dataset.entry",
        )
        .await;
    page.submit("form.decide", &[("decision", "include")]).await;
    assert_eq!(
        page.js("document.querySelector('[data-reason]').dataset.reason")
            .await,
        serde_json::json!("reason_required")
    );
    page.go("/console/registry").await;
    assert_eq!(
        page.js("document.querySelector('article.entry').dataset.status")
            .await,
        serde_json::json!("proposed")
    );
    page.submit(
        "form.decide",
        &[
            ("decision", "include"),
            ("reason", "no geolocation for ten days; no reply"),
        ],
    )
    .await;
    page.wait_for(
        "the decision",
        "document.querySelector('article.entry').dataset.status === 'included'",
    )
    .await;
    let id: i64 = entry.as_str().unwrap().parse().unwrap();
    let stored = server
        .state
        .store
        .registry_entry(id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.decided_by.as_deref(), Some("sveta"));
    page.sign_out().await;

    // An auditor finds the case reads, with the legal basis.
    page.sign_in("vera", &vera).await;
    page.go("/console/audit").await;
    page.submit("form.filters", &[("actor", "anna")]).await;
    let actions = page
        .js("[...document.querySelectorAll('table.audit tbody tr')].map(r => r.dataset.action)")
        .await;
    let actions: Vec<String> = serde_json::from_value(actions).unwrap();
    for a in [
        "login",
        "person.search",
        "person.view",
        "case.open",
        "case.location",
        "logout",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    assert!(page.body_text().await.contains("121-FZ art. 5"));
    assert_eq!(page.title().await, "Audit trail");
    page.go("/console/lang/ru").await;
    page.go("/console/audit").await;
    assert_eq!(page.title().await, "Журнал аудита");
}

/// A police officer opens a spot check for a district, sees the person
/// with an open signal and its evidence, and records the outcome.
#[tokio::test(flavor = "multi_thread")]
async fn a_police_officer_runs_a_spot_check() {
    use amina_domain::stay::{Address, AddressId, NoticeRules};
    let server = server().await;
    let s = &server.state.store;
    let now = Timestamp::now();
    s.import_addresses(
        vec![Address {
            id: AddressId::parse("mow-1").unwrap(),
            region: "RU-MOW".into(),
            municipality: "Москва".into(),
            street: "улица Тверская".into(),
            house: "7".into(),
            flat: Some("12".into()),
            residential: true,
            position: Coordinates::parse(55.7579, 37.6112).unwrap(),
        }],
        now,
    )
    .await
    .unwrap();
    let pid = s
        .person_by_card(&CardNumber::parse("AB0000001").unwrap())
        .await
        .unwrap()
        .unwrap()
        .person_id;
    s.submit_notice(
        NoticeRules { max_days_ahead: 7 },
        server.state.monitor.geofence.clone(),
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
    s.raise_signal(amina_store::NewSignal {
        kind: amina_domain::signal::SignalKind::LivesElsewhere,
        subject: amina_domain::signal::SignalSubject::Person(pid),
        dedup_key: "w1".into(),
        raised_at: now,
        score: Some(0.9),
        explanation: "the night-time place is 14 km from the place of stay".into(),
        evidence: serde_json::json!({"distance_m": 14000.0, "home": {"nights_at_home": 5}}),
    })
    .await
    .unwrap();
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let anna = create_account(&server.state, "anna", Role::PoliceOfficer, PASSWORD, "test")
        .await
        .unwrap()
        .totp_secret;
    let page = browser.page(&server.base).await;
    page.go("/console/lang/en").await;
    page.sign_in("anna", &anna).await;
    page.go("/console/spot-checks").await;
    assert_eq!(page.title().await, "Spot checks");
    page.submit(
        "form.spot-new",
        &[
            ("district", "Москва"),
            ("legal_basis", "3-FZ art. 13"),
            ("purpose", "district check"),
            ("hours", "2"),
        ],
    )
    .await;
    page.wait_for(
        "the spot check",
        "location.pathname.startsWith('/console/spot-checks/')",
    )
    .await;
    let people = page
        .js("[...document.querySelectorAll('article.spot-person')].map(a => a.dataset.person)")
        .await;
    assert_eq!(people, serde_json::json!([pid.to_string()]));
    let text = page.body_text().await;
    assert!(
        text.contains("AB0000001") && !text.contains("AB0000002"),
        "{text}"
    );
    assert!(text.contains("Suspected evasion") && text.contains("Lives elsewhere than notified"));
    assert!(text.contains("Nights there"), "evidence as a table: {text}");
    page.submit(
        "form.outcome",
        &[("outcome", "not_found"), ("note", "nobody at the flat")],
    )
    .await;
    page.wait_for(
        "the recorded outcome",
        "document.querySelector('p.outcome')?.dataset.outcome === 'not_found'",
    )
    .await;
    assert!(page.body_text().await.contains("nobody at the flat"));
    let outcomes = s.spot_outcomes(1).await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].recorded_by, "anna");
    page.go("/console/lang/ru").await;
    page.go("/console/spot-checks").await;
    assert_eq!(page.title().await, "Проверки на месте");
}
