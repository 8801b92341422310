//! The migrant's app in a real browser: headless Chromium (Debian's
//! `/usr/bin/chromium`) against the real server.
//!
//! Each test starts a server (SQLite in a temp dir, a port-0 listener on
//! 127.0.0.1, the real system clock — the page signs with real time, so a
//! manual clock cannot be used) and a Chromium with a fresh profile, and
//! drives the page over the Chrome DevTools Protocol: geolocation is
//! emulated inside Moscow, the network is switched off and on, and the
//! results are checked in the page and in the database.
//!
//! Why a small DevTools client here rather than a CDP crate: the tests need
//! a dozen commands (evaluate, navigate, reload, permissions, geolocation,
//! offline, screenshot); sending them as JSON over one WebSocket keeps the
//! build small on a 2-core machine and does not depend on generated
//! bindings keeping up with the installed browser's protocol version.
//!
//! Nothing leaves the machine: Chromium runs with background networking,
//! component updates and sync off, and the app names no other origin.
//!
//! `AMINA_SCREENSHOTS=1` also saves the main screens in every language to
//! `docs/screenshots/` (see `stay::main_screens_in_every_language`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use amina_domain::monitor::Monitor;
use amina_server::cards::{hash_secrets, parse_cards};
use amina_server::clock::SystemClock;
use amina_server::config::Config;
use amina_server::state::{build_monitor, AppState};
use amina_store::SharedStore;
use base64::Engine as _;
use serde_json::json;
use tokio::sync::oneshot;

const KREMLIN: (f64, f64) = (55.7520, 37.6175);

// ------------------------------------------------------------- the server

struct Server {
    base: String,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn spawn() -> Server {
        let mut config = Config::default();
        config.scheduler.enabled = false;
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite:{}", dir.path().join("amina.sqlite3").display());
        config.database = url.clone();
        let store: SharedStore = amina_store::open(&url).await.expect("open store");
        store.migrate().await.expect("migrate");
        let state = AppState::new(store, monitor(&config), config, Arc::new(SystemClock));
        let today = amina_domain::time::moscow_date(jiff::Timestamp::now());
        let csv = "card_number,activation_secret,activation_secret_hash,name_latin,name_cyrillic,citizenship,birth_date,purpose,valid_until
AB0000001,secret-one,,Alisher Karimov,Алишер Каримов,UZB,1994-03-12,work,2099-12-31
AB0000002,secret-two,,Farrukh Rahimov,Фаррух Рахимов,TJK,1989-07-01,work,2099-12-31
";
        let mut cards = parse_cards(
            csv.as_bytes(),
            &amina_domain::eligibility::Scope::default(),
            today,
        )
        .expect("cards parse");
        hash_secrets(&mut cards.accepted);
        state
            .store
            .import_cards(cards.accepted, jiff::Timestamp::now())
            .await
            .expect("import cards");
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

    async fn person_id(&self, card: &str) -> Option<i64> {
        let number = amina_domain::types::CardNumber::parse(card).unwrap();
        let p = self.state.store.person_by_card(&number).await.unwrap()?;
        Some(p.person_id)
    }

    /// The sequence numbers of the person's stored fixes, ascending.
    async fn fix_seqs(&self, card: &str) -> Vec<u64> {
        let Some(id) = self.person_id(card).await else {
            return Vec::new();
        };
        let mut seqs: Vec<u64> = self
            .state
            .store
            .fixes(id, 10_000)
            .await
            .unwrap()
            .iter()
            .map(|f| f.seq)
            .collect();
        seqs.sort_unstable();
        seqs
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

fn monitor(config: &Config) -> Monitor {
    static MONITOR: OnceLock<Monitor> = OnceLock::new();
    MONITOR
        .get_or_init(|| build_monitor(config).expect("default configuration builds"))
        .clone()
}

mod cdp;
use cdp::{Browser, Page, WAIT};

impl Page<'_> {
    /// Open the app and wait until it has started.
    async fn open_app(&self) {
        self.cmd(
            "Page.navigate",
            json!({"url": format!("{}/app", self.base)}),
        )
        .await;
        self.wait_ready().await;
    }

    async fn reload(&self) {
        self.cmd("Page.reload", json!({})).await;
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        self.wait_for(
            "the app to start",
            "document.readyState === 'complete' && document.body.dataset.ready === '1' \
             && location.pathname === '/app/'",
        )
        .await;
    }

    /// Emulate the phone at (lat, lon). Chromium stamps an emulated
    /// position with the time it was set, and the server refuses fixes
    /// recorded before the enrolment: tests set it after enrolling.
    async fn set_position(&self, (lat, lon): (f64, f64)) {
        self.cmd(
            "Emulation.setGeolocationOverride",
            json!({"latitude": lat, "longitude": lon, "accuracy": 20}),
        )
        .await;
    }

    /// Enrol with the form and report the first fix from inside Moscow.
    /// The fix taken right after binding finds no position yet (none is
    /// emulated), which the app must say.
    async fn enrol_and_report(&self, card: &str, secret: &str) {
        self.enrol(card, secret).await;
        self.wait_for(
            "the status screen",
            "document.body.dataset.screen === 'status'",
        )
        .await;
        self.wait_for(
            "the no-position message",
            "document.getElementById('geo').dataset.i18n === 'location-unavailable' \
             && !document.getElementById('geo').hidden",
        )
        .await;
        self.set_position(KREMLIN).await;
        self.js("document.getElementById('send-now').click()").await;
    }

    async fn set_offline(&self, offline: bool) {
        self.cmd(
            "Network.emulateNetworkConditions",
            json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
        )
        .await;
    }

    async fn choose_language(&self, lang: &str) {
        self.js(&format!(
            "(() => {{ const s = document.getElementById('lang'); s.value = {lang:?}; \
             s.dispatchEvent(new Event('change')); }})()"
        ))
        .await;
        self.wait_for(
            "the language to change",
            &format!("document.documentElement.lang === {lang:?}"),
        )
        .await;
    }

    async fn enrol(&self, card: &str, secret: &str) {
        self.js(&format!(
            "(() => {{ document.getElementById('card').value = {card:?}; \
             document.getElementById('secret').value = {secret:?}; \
             document.getElementById('enrol-form').requestSubmit(); }})()"
        ))
        .await;
    }

    /// Texts of all visible translated elements, by position.
    async fn visible_strings(&self) -> Vec<String> {
        let v = self
            .js("[...document.querySelectorAll('[data-i18n]')] \
                 .filter(e => e.offsetParent !== null).map(e => e.textContent)")
            .await;
        serde_json::from_value(v).unwrap()
    }

    async fn queue_len(&self) -> u64 {
        self.text("queue").await.parse().unwrap_or(u64::MAX)
    }

    /// With AMINA_SCREENSHOTS=1, save the page to docs/screenshots/NAME.png.
    async fn screenshot(&self, name: &str) {
        if std::env::var("AMINA_SCREENSHOTS").as_deref() != Ok("1") {
            return;
        }
        // The whole page, not only the first screenful.
        let metrics = self.cmd("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let shot = self
            .cmd(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
                }),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

/// Wait (on the server side) until `cond` holds.
async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !cond().await {
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ------------------------------------------------------------------ tests

/// Place of stay, my data, enrolment by code, screenshots.
#[path = "app_browser/stay.rs"]
mod stay;

/// Reporting with OwnTracks, set up from the app.
#[path = "app_browser/owntracks.rs"]
mod owntracks;

/// The files without a browser: types, caching, the CSP, translations.
#[tokio::test(flavor = "multi_thread")]
async fn app_files_are_served_with_types_and_policy() {
    let server = Server::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/app", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/app/");
    for (path, ty) in [
        ("/app/", "text/html; charset=utf-8"),
        ("/app/app.js", "text/javascript; charset=utf-8"),
        ("/app/sw.js", "text/javascript; charset=utf-8"),
        ("/app/app.css", "text/css; charset=utf-8"),
        ("/app/manifest.webmanifest", "application/manifest+json"),
        ("/app/icon-192.png", "image/png"),
        ("/app/icon-512.png", "image/png"),
        ("/app/i18n/uz.json", "application/json; charset=utf-8"),
    ] {
        let r = client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], ty, "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'self'"), "{path}: {csp}");
        assert!(r.headers().contains_key("cache-control"), "{path}");
    }
    let en: HashMap<String, String> = client
        .get(format!("{}/app/i18n/en.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(en["app-title"], "Migrant registration");
    for path in ["/app/i18n/xx.json", "/app/nope.js", "/app/i18n/en"] {
        let r = client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
}

/// The shell installs, its service worker caches it, and it opens offline;
/// the language switch changes every visible string and is remembered.
#[tokio::test(flavor = "multi_thread")]
async fn shell_opens_offline_and_language_switch_changes_every_string() {
    let server = Server::spawn().await;
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let page = browser.page(&server.base).await;
    page.open_app().await;
    // The first language follows the browser's (English here); Russian
    // when the browser's is none of ours.
    page.choose_language("ru").await;
    assert_eq!(page.text("title").await, "Регистрация мигранта");
    page.wait_for(
        "the service worker to control the page",
        "navigator.serviceWorker.controller !== null",
    )
    .await;
    let cached = page
        .wait_for(
            "the shell cache",
            "caches.open('amina-shell-v4').then(c => c.keys()).then(k => k.length)",
        )
        .await;
    assert_eq!(
        cached,
        json!(15),
        "page, files (with stay.js, push.js and owntracks.js), icons and five languages"
    );
    let manifest = page
        .js("fetch('/app/manifest.webmanifest').then(r => r.json())")
        .await;
    assert_eq!(manifest["scope"], "/app/");
    assert_eq!(manifest["icons"].as_array().unwrap().len(), 2);

    let ru = page.visible_strings().await;
    assert!(ru.iter().all(|s| !s.is_empty()), "{ru:?}");
    page.choose_language("en").await;
    let en = page.visible_strings().await;
    assert_eq!(ru.len(), en.len());
    for (r, e) in ru.iter().zip(&en) {
        assert_ne!(r, e, "a string did not change with the language");
    }
    assert_eq!(page.text("title").await, "Migrant registration");
    assert_eq!(
        page.js("document.title").await,
        json!("Migrant registration")
    );

    // Offline: the page, its code and its strings come from the cache; the
    // chosen language is remembered.
    page.set_offline(true).await;
    page.reload().await;
    assert_eq!(page.js("navigator.onLine").await, json!(false));
    assert_eq!(page.text("title").await, "Migrant registration");
    page.choose_language("ky").await;
    assert_eq!(page.text("title").await, "Мигрантты каттоо");
    assert_eq!(
        page.js("getComputedStyle(document.getElementById('enrol')).display")
            .await,
        json!("block")
    );
}

/// Enrolment through the form binds a device; the first fix, taken on
/// open inside Moscow, reaches the server; the status shows presence and
/// the deadline in words.
#[tokio::test(flavor = "multi_thread")]
async fn enrolment_binds_a_device_and_a_fix_reaches_the_server() {
    let server = Server::spawn().await;
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let page = browser.page(&server.base).await;
    page.open_app().await;
    page.choose_language("ru").await;

    // A wrong secret: the server's code, in the person's language.
    page.choose_language("en").await;
    page.enrol("AB0000002", "wrong-secret").await;
    page.wait_for(
        "the error",
        "!document.getElementById('error').hidden && document.getElementById('error').textContent",
    )
    .await;
    assert_eq!(
        page.text("error").await,
        "Wrong card number or activation code."
    );
    page.choose_language("ru").await;
    assert_eq!(
        page.text("error").await,
        "Неверный номер карты или код активации."
    );

    page.enrol_and_report("AB0000001", "secret-one").await;
    let device_id = page
        .wait_for(
            "the device id in IndexedDB",
            "new Promise(r => { const o = indexedDB.open('amina'); o.onsuccess = () => { \
             const g = o.result.transaction('meta').objectStore('meta').get('deviceId'); \
             g.onsuccess = () => r(g.result || null); }; })",
        )
        .await;
    let device = server
        .state
        .store
        .device(device_id.as_str().unwrap())
        .await
        .unwrap()
        .expect("the device is stored");
    assert_eq!(device.status, amina_store::DeviceStatus::Active);
    assert_eq!(Some(device.person_id), server.person_id("AB0000001").await);
    assert_eq!(device.kind, "pwa");
    // The private key is not extractable.
    assert_eq!(
        page.js(
            "new Promise(r => { const o = indexedDB.open('amina'); o.onsuccess = () => { \
             const g = o.result.transaction('meta').objectStore('meta').get('keys'); \
             g.onsuccess = () => r(g.result.privateKey.extractable); }; })"
        )
        .await,
        json!(false)
    );

    eventually("the first fix on the server", || async {
        server.fix_seqs("AB0000001").await == vec![1]
    })
    .await;
    // The fix went up inside a device session: one request signed with the
    // device key opened it; the session key is a non-extractable HMAC key
    // the server derived too, without it ever crossing the network.
    let session = page
        .js(
            "new Promise(r => { const o = indexedDB.open('amina'); o.onsuccess = () => { \
             const g = o.result.transaction('meta').objectStore('meta').get('session'); \
             g.onsuccess = () => r(g.result && { id: g.result.id, device: g.result.deviceId, \
             alg: g.result.key.algorithm.name, extractable: g.result.key.extractable }); }; })",
        )
        .await;
    assert_eq!(session["device"], device_id);
    assert_eq!(
        (&session["alg"], &session["extractable"]),
        (&json!("HMAC"), &json!(false))
    );
    let stored = server
        .state
        .store
        .device_session(session["id"].as_str().unwrap())
        .await
        .unwrap()
        .expect("the session is stored");
    assert_eq!(json!(stored.device_id), device_id);
    // Later fixes carry the session's tag, not a device signature.
    page.js("window.__proofs = []; const send = window.fetch; \
         window.fetch = (url, init) => { const h = (init && init.headers) || {}; \
         if (h['Signature-Input']) window.__proofs.push(url + ' ' + h['Signature-Input']); \
         return send(url, init); }; document.getElementById('send-now').click(); true")
        .await;
    eventually("the second fix on the server", || async {
        server.fix_seqs("AB0000001").await == vec![1, 2]
    })
    .await;
    let proofs = page.js("window.__proofs").await;
    let fixes: Vec<&str> = proofs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .filter(|p| p.starts_with("/v1/fixes "))
        .collect();
    assert!(!fixes.is_empty(), "{proofs}");
    let keyid = format!("keyid=\"{}\";alg=\"hmac-sha256\";nonce=", stored.id);
    assert!(fixes.iter().all(|p| p.contains(&keyid)), "{proofs}");
    page.wait_for(
        "presence in the status",
        "document.getElementById('presence').dataset.value === 'in_region'",
    )
    .await;
    page.wait_for(
        "an empty queue",
        "document.getElementById('queue').textContent === '0'",
    )
    .await;
    assert_eq!(
        page.text("presence").await,
        "В Москве или Московской области"
    );
    assert_eq!(page.text("registered").await, "Вы зарегистрированы");
    let person = server
        .state
        .store
        .person(device.person_id)
        .await
        .unwrap()
        .unwrap();
    let texts = amina_server::i18n::deadline_texts(person.state.deadline_at);
    assert_eq!(page.text("deadline").await, texts["ru"]);
    assert!(texts["ru"].starts_with("до конца "), "{}", texts["ru"]);
    page.choose_language("en").await;
    assert_eq!(page.text("deadline").await, texts["en"]);
    assert_eq!(page.text("presence").await, "In Moscow or Moscow Oblast");
}

/// Offline: fixes queue up, survive a reload, and flush once the network
/// is back, in order and without duplicates.
#[tokio::test(flavor = "multi_thread")]
async fn offline_fixes_survive_a_reload_and_flush_without_duplicates() {
    let server = Server::spawn().await;
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let page = browser.page(&server.base).await;
    page.open_app().await;
    page.choose_language("ru").await;
    page.enrol_and_report("AB0000001", "secret-one").await;
    eventually("the first fix on the server", || async {
        server.fix_seqs("AB0000001").await == vec![1]
    })
    .await;
    page.wait_for(
        "an empty queue",
        "document.getElementById('queue').textContent === '0'",
    )
    .await;

    page.set_offline(true).await;
    for n in 1..=2 {
        page.js("document.getElementById('send-now').click()").await;
        page.wait_for(
            "a queued fix",
            &format!("document.getElementById('queue').textContent === '{n}'"),
        )
        .await;
    }
    page.reload().await; // offline: from the service worker's cache
    page.wait_for(
        "the fix taken on open",
        "document.getElementById('queue').textContent === '3'",
    )
    .await;
    assert!(!page
        .js("document.getElementById('offline').hidden")
        .await
        .as_bool()
        .unwrap());
    assert_eq!(server.fix_seqs("AB0000001").await, vec![1]);

    page.set_offline(false).await;
    page.wait_for(
        "the queue to flush",
        "document.getElementById('queue').textContent === '0'",
    )
    .await;
    assert_eq!(page.queue_len().await, 0);
    let next_seq = page
        .js(
            "new Promise(r => { const o = indexedDB.open('amina'); o.onsuccess = () => { \
             const g = o.result.transaction('meta').objectStore('meta').get('nextSeq'); \
             g.onsuccess = () => r(g.result); }; })",
        )
        .await;
    assert_eq!(next_seq, json!(5));
    // Every fix the page made is stored exactly once.
    assert_eq!(server.fix_seqs("AB0000001").await, vec![1, 2, 3, 4]);
    // The session kept in IndexedDB outlived the reload: one was opened.
    assert_eq!(server.state.sessions.len(), 1);
    assert_eq!(
        page.text("sync").await,
        amina_server::i18n::catalog()
            .message("ru", "sync-sent")
            .unwrap()
    );
}

// ------------------------------------------------ notifications (push.js)

/// Stands in for the browser vendor's push service, which Chromium reaches
/// over the internet to subscribe (and which never answers here):
/// `pushManager.subscribe` returns a subscription with a real P-256 key
/// made by WebCrypto, and records the applicationServerKey it was given.
/// Everything else — the app's code, the signed request, the server — is
/// the real thing.
const PUSH_SERVICE_STAND_IN: &str = r#"
(() => {
  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  PushManager.prototype.subscribe = async function (options) {
    const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
    const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
    const auth = crypto.getRandomValues(new Uint8Array(16));
    const key = new Uint8Array(options.applicationServerKey);
    window.__subscribedWith = b64url(key);
    const json = { endpoint: "https://push.example/wp/" + b64url(auth), expirationTime: null,
                   keys: { p256dh: b64url(raw), auth: b64url(auth) } };
    return { options: { applicationServerKey: key.buffer }, toJSON: () => json,
             unsubscribe: async () => true };
  };
  PushManager.prototype.getSubscription = async function () { return null; };
})();
"#;

/// With notifications allowed, the app subscribes with the server's VAPID
/// key and sends the subscription (signed, with its language) to the real
/// server; a push delivered to its service worker (DevTools'
/// ServiceWorker.deliverPushMessage, as a push service would) is shown as a
/// notification with the notice's tag, once however often it arrives.
#[tokio::test(flavor = "multi_thread")]
async fn a_delivered_push_is_shown_as_a_notification() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let server = Server::spawn().await;
    let page = browser.page(&server.base).await;
    page.cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": PUSH_SERVICE_STAND_IN}),
    )
    .await;
    browser
        .call(
            None,
            "Browser.grantPermissions",
            json!({"origin": server.base, "permissions": ["geolocation", "notifications"]}),
        )
        .await
        .expect("grant notifications");
    page.cmd("ServiceWorker.enable", json!({})).await;
    page.open_app().await;
    page.enrol_and_report("AB0000001", "secret-one").await;
    let pid = server.person_id("AB0000001").await.expect("enrolled");
    let state = page
        .wait_for(
            "the subscription",
            "document.getElementById('push-state').dataset.state",
        )
        .await;
    assert_eq!(
        state,
        json!("on"),
        "{:?}",
        page.js("document.getElementById('push-state').dataset.reason")
            .await
    );
    assert_eq!(page.text("push-state").await, t(&page, "push-on").await);
    let vapid = reqwest::get(format!("{}/v1/push/key", server.base))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        page.js("window.__subscribedWith").await,
        vapid["public_key"]
    );
    let lang = page.js("document.documentElement.lang").await;
    let s = server
        .state
        .store
        .subscription(pid)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(json!(s.lang), lang);
    assert!(s.endpoint.starts_with("https://push.example/wp/"));
    assert_eq!(s.p256dh.len(), 65);
    // A language switch re-sends it: notices follow the app's language.
    page.choose_language("tg").await;
    eventually("the subscription in Tajik", || async {
        server
            .state
            .store
            .subscription(pid)
            .await
            .unwrap()
            .unwrap()
            .lang
            == "tg"
    })
    .await;
    // The check-in of this opening reached the server.
    eventually("the check-in", || async {
        server
            .state
            .store
            .last_checkin(pid)
            .await
            .unwrap()
            .is_some()
    })
    .await;
    let c = server.state.store.last_checkin(pid).await.unwrap().unwrap();
    assert_eq!(c.checkin.location.as_str(), "granted");
    assert_eq!(c.checkin.notifications.as_str(), "granted");

    // The service worker's registration, from the DevTools events.
    let registration = {
        let started = Instant::now();
        loop {
            let found = browser.events.lock().unwrap().iter().find_map(|e| {
                (e["method"] == "ServiceWorker.workerRegistrationUpdated")
                    .then(|| e["params"]["registrations"].as_array().cloned())
                    .flatten()
                    .and_then(|regs| {
                        regs.into_iter().find(|r| {
                            r["scopeURL"].as_str().is_some_and(|u| u.ends_with("/app/"))
                                && r["isDeleted"] == false
                        })
                    })
            });
            if let Some(r) = found {
                break r["registrationId"].as_str().unwrap().to_string();
            }
            assert!(started.elapsed() < WAIT, "no service worker registration");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let notice = json!({
        "title": "Нет геолокации уже 24 ч.",
        "body": "Приложение не открывали.",
        "tag": "no_fix:1764345600000",
        "kind": "no_fix",
        "url": "/app/",
    });
    for _ in 0..2 {
        // Twice: at-least-once delivery must not show two notifications.
        page.cmd(
            "ServiceWorker.deliverPushMessage",
            json!({"origin": server.base, "registrationId": registration, "data": notice.to_string()}),
        )
        .await;
    }
    let shown = page
        .wait_for(
            "the notification",
            "navigator.serviceWorker.ready.then(r => r.getNotifications()) \
             .then(ns => ns.length ? ns.map(n => [n.title, n.body, n.tag]) : null)",
        )
        .await;
    assert_eq!(
        shown,
        json!([[
            "Нет геолокации уже 24 ч.",
            "Приложение не открывали.",
            "no_fix:1764345600000"
        ]])
    );
}

/// With location blocked, the status screen warns, and the permission
/// screen shows "blocked" with what to do in the phone's settings, in the
/// chosen language; the check-in tells the server.
#[tokio::test(flavor = "multi_thread")]
async fn the_permission_screen_says_what_to_do_when_location_is_denied() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let server = Server::spawn().await;
    let page = browser.page(&server.base).await;
    browser
        .call(
            None,
            "Browser.setPermission",
            json!({"origin": server.base, "permission": {"name": "geolocation"}, "setting": "denied"}),
        )
        .await
        .expect("deny geolocation");
    page.open_app().await;
    page.choose_language("ru").await;
    page.enrol("AB0000002", "secret-two").await;
    page.wait_for(
        "the status screen",
        "document.body.dataset.screen === 'status'",
    )
    .await;
    page.wait_for(
        "the permission warning",
        "!document.getElementById('perm-warning').hidden",
    )
    .await;
    page.js("document.getElementById('perm-open').click()")
        .await;
    page.wait_for(
        "the permission screen",
        "document.body.dataset.screen === 'permissions' \
         && document.getElementById('perm-location-state').dataset.state === 'denied'",
    )
    .await;
    assert_eq!(
        page.text("perm-location-state").await,
        t_ru("perm-state-denied")
    );
    assert_eq!(
        page.text("perm-location-help").await,
        t_ru("perm-location-denied-help")
    );
    assert_eq!(
        page.js("document.getElementById('perm-location-help').hidden")
            .await,
        json!(false)
    );
    // Notifications: headless Chromium answers "denied" where a phone says
    // "prompt"; either way the screen offers the matching way out.
    let notifications = page
        .js("document.getElementById('perm-notifications-state').dataset.state")
        .await;
    let (ask_hidden, help_hidden) = match notifications.as_str().unwrap() {
        "prompt" => (false, true),
        "denied" => (true, false),
        other => panic!("notifications: {other}"),
    };
    assert_eq!(
        page.js("document.getElementById('perm-notifications-ask').hidden")
            .await,
        json!(ask_hidden)
    );
    assert_eq!(
        page.js("document.getElementById('perm-notifications-help').hidden")
            .await,
        json!(help_hidden)
    );
    page.screenshot("permissions-ru").await;
    page.choose_language("en").await;
    assert_eq!(page.text("perm-location-state").await, "Blocked");
    assert!(page
        .text("perm-location-help")
        .await
        .starts_with("Location is blocked."));
    page.screenshot("permissions-en").await;
    page.js("document.getElementById('perm-back').click()")
        .await;
    page.wait_for(
        "the status screen again",
        "document.body.dataset.screen === 'status'",
    )
    .await;

    let pid = server.person_id("AB0000002").await.unwrap();
    eventually("the check-in", || async {
        server
            .state
            .store
            .last_checkin(pid)
            .await
            .unwrap()
            .is_some()
    })
    .await;
    let c = server.state.store.last_checkin(pid).await.unwrap().unwrap();
    assert_eq!(c.checkin.location.as_str(), "denied");
    assert_eq!(c.checkin.geo_error.map(|e| e.code()), Some(1));
}

/// A Russian message, resolved by the server's catalog.
fn t_ru(id: &str) -> String {
    amina_server::i18n::catalog()
        .message("ru", id)
        .unwrap_or_else(|| panic!("no message {id}"))
}

/// A message in the page's current language.
async fn t(page: &Page<'_>, id: &str) -> String {
    let lang = page.js("document.documentElement.lang").await;
    amina_server::i18n::catalog()
        .message(lang.as_str().unwrap(), id)
        .unwrap_or_else(|| panic!("no message {id}"))
}
