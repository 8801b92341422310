//! The place-of-stay, "my data", code-enrolment and help screens in a real
//! browser, and the screenshots of the main screens in every language.

use amina_domain::types::CardNumber;
use amina_server::addresses::parse_addresses;
use amina_server::i18n::{catalog, LANGS};

use super::*;

const DEMO_ADDRESSES: &str = include_str!("../../../../data/demo/addresses.csv");

impl Server {
    async fn with_addresses() -> Server {
        let server = Server::spawn().await;
        let parsed = parse_addresses(DEMO_ADDRESSES.as_bytes(), &server.state.monitor.geofence)
            .expect("demo addresses parse");
        server
            .state
            .store
            .import_addresses(parsed.accepted, jiff::Timestamp::now())
            .await
            .expect("import addresses");
        server
    }

    async fn notices(&self, card: &str) -> Vec<amina_store::NoticeRecord> {
        let id = self.person_id(card).await.expect("enrolled");
        self.state.store.notices(id).await.unwrap()
    }

    async fn code_for(&self, card: &str) -> String {
        self.state
            .store
            .issue_enrolment_code(
                &CardNumber::parse(card).unwrap(),
                "sakharovo-5",
                jiff::SignedDuration::from_mins(10),
                jiff::Timestamp::now(),
            )
            .await
            .unwrap()
            .code
            .display()
    }
}

impl Browser {
    /// A tab in a fresh browser context: its own storage, as another phone.
    async fn other_phone(&self, server: &Server) -> Page<'_> {
        let context = self
            .call(None, "Target.createBrowserContext", json!({}))
            .await
            .expect("new browser context");
        let target = self
            .call(
                None,
                "Target.createTarget",
                json!({"url": "about:blank", "browserContextId": context["browserContextId"]}),
            )
            .await
            .expect("new tab");
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await
            .expect("attach");
        let page = Page {
            browser: self,
            session: attached["sessionId"].as_str().unwrap().to_string(),
            base: server.base.clone(),
        };
        page.cmd("Page.enable", json!({})).await;
        page.cmd(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 400, "height": 860, "deviceScaleFactor": 1, "mobile": true}),
        )
        .await;
        page
    }
}

impl Page<'_> {
    async fn click(&self, id: &str) {
        self.js(&format!("document.getElementById({id:?}).click()"))
            .await;
    }

    /// Search the register in the place-of-stay screen and choose `address_id`.
    async fn choose_address(&self, query: &str, address_id: &str) {
        self.js(&format!(
            "(() => {{ document.getElementById('addr-q').value = {query:?}; \
             document.getElementById('stay-search-form').requestSubmit(); }})()"
        ))
        .await;
        let button = format!("document.querySelector('#addr-results [data-id={address_id:?}]')");
        self.wait_for("the search result", &format!("{button} !== null"))
            .await;
        self.js(&format!("{button}.click()")).await;
        self.wait_for(
            "the chosen address",
            "document.getElementById('stay-chosen').textContent",
        )
        .await;
    }

    async fn submit_notice(&self) {
        self.js("document.getElementById('stay-form').requestSubmit()")
            .await;
    }

    async fn open_screen(&self, button: &str, screen: &str) {
        self.click(button).await;
        self.wait_for(
            "the screen",
            &format!("document.body.dataset.screen === {screen:?}"),
        )
        .await;
    }

    async fn go_back(&self) {
        self.js("[...document.querySelectorAll('main .back')].find(b => b.offsetParent !== null).click()")
            .await;
        self.wait_for(
            "the status screen",
            "document.body.dataset.screen === 'status'",
        )
        .await;
    }
}

fn message(lang: &str, id: &str) -> String {
    catalog().message(lang, id).unwrap()
}

/// A notice submitted through the app is stored and listed with its
/// state; a non-residential address is refused with the reason shown, and
/// nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_notice_submitted_in_the_app_appears_in_the_history() {
    let server = Server::with_addresses().await;
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let page = browser.page(&server.base).await;
    page.open_app().await;
    page.choose_language("ru").await;
    page.enrol_and_report("AB0000001", "secret-one").await;
    page.wait_for(
        "no place yet",
        "document.getElementById('place').textContent",
    )
    .await;
    assert_eq!(page.text("place").await, message("ru", "place-none"));

    page.open_screen("open-stay", "stay").await;
    page.wait_for(
        "the allowed dates",
        "document.getElementById('stay-date').value",
    )
    .await;
    page.choose_address("ул. Тверская, 19", "demo-mow-0001")
        .await;
    page.js("document.getElementById('stay-host').value = 'Иванова Мария Петровна'")
        .await;
    page.submit_notice().await;
    page.wait_for(
        "the notice in the history",
        "document.querySelector('#stay-history li.state-current') !== null",
    )
    .await;
    assert_eq!(page.text("stay-message").await, message("ru", "stay-sent"));
    let history = page
        .js("[...document.querySelectorAll('#stay-history li')].map(li => li.textContent)")
        .await;
    let item = history[0].as_str().unwrap();
    assert!(item.contains("улица Тверская, 19, кв. 12"), "{item}");
    assert!(item.contains("Действует"), "{item}");
    assert!(item.contains("Иванова Мария Петровна"), "{item}");
    let stored = server.notices("AB0000001").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].address.id.as_str(), "demo-mow-0001");
    assert_eq!(
        stored[0].host_name.as_deref(),
        Some("Иванова Мария Петровна")
    );
    // The date in words follows the language.
    let ru_date = amina_server::i18n::date_texts(stored[0].date_from);
    assert!(item.contains(&ru_date["ru"]), "{item}");
    page.choose_language("en").await;
    let item = page
        .js("document.querySelector('#stay-history li').textContent")
        .await;
    assert!(item.as_str().unwrap().contains(&ru_date["en"]), "{item}");
    assert!(item.as_str().unwrap().contains("In force"), "{item}");
    assert!(item.as_str().unwrap().contains("flat 12"), "{item}");

    // A non-residential address: the reason, in the person's language.
    page.choose_address("тверская 7", "demo-mow-0003").await;
    page.submit_notice().await;
    page.wait_for(
        "the refusal",
        "!document.getElementById('stay-error').hidden",
    )
    .await;
    assert_eq!(
        page.text("stay-error").await,
        message("en", "error-address_not_residential")
    );
    assert_eq!(server.notices("AB0000001").await.len(), 1);

    // Back on the status screen, the place of stay is shown.
    page.go_back().await;
    let place = page.text("place").await;
    assert!(place.contains("улица Тверская, 19, flat 12"), "{place}");
}

/// Opening the link a migration centre's QR code carries enrols the phone
/// with the code; a second phone with the same code is told it was used.
#[tokio::test(flavor = "multi_thread")]
async fn enrolment_with_a_code_from_the_qr_link() {
    let server = Server::with_addresses().await;
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let code = server.code_for("AB0000002").await;
    let page = browser.page(&server.base).await;
    page.cmd(
        "Page.navigate",
        json!({"url": format!("{}/app/#code={code}", server.base)}),
    )
    .await;
    page.wait_for(
        "the status screen after the code",
        "document.body.dataset.ready === '1' && document.body.dataset.screen === 'status'",
    )
    .await;
    let person = server.person_id("AB0000002").await.expect("enrolled");
    let device_id = page
        .wait_for(
            "the device id",
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
        .unwrap();
    assert_eq!(device.person_id, person);
    assert_eq!(device.status, amina_store::DeviceStatus::Active);
    assert_eq!(
        page.js("location.hash").await,
        json!(""),
        "the used code leaves the address bar"
    );
    let events = server.state.store.person_events(person).await.unwrap();
    assert!(events
        .iter()
        .any(|e| e.kind == "enrolled_with_code" && e.actor == "operator:sakharovo-5"));

    // Another phone, the same code typed by hand: refused, with the reason.
    let other = browser.other_phone(&server).await;
    other.open_app().await;
    other.choose_language("ru").await;
    other
        .js(&format!(
            "(() => {{ document.getElementById('code').value = {code:?}; \
             document.getElementById('code-form').requestSubmit(); }})()"
        ))
        .await;
    other
        .wait_for("the error", "!document.getElementById('error').hidden")
        .await;
    assert_eq!(
        other.text("error").await,
        message("ru", "error-enrolment_code_used")
    );
    assert_eq!(
        other.js("document.body.dataset.screen").await,
        json!("enrol")
    );
    // The help for a lost phone is reachable before enrolling.
    other
        .js("document.querySelector('#enrol .help-link').click()")
        .await;
    other
        .wait_for("the help", "document.body.dataset.screen === 'help'")
        .await;
    assert!(other.text("help").await.contains("Сахарово"));
}

/// The main screens (enrolment, status, place of stay, my data) in every
/// language: every visible string is translated, and with
/// AMINA_SCREENSHOTS=1 each is saved as docs/screenshots/<screen>-<lang>.png
/// (400 px wide, the whole page).
#[tokio::test(flavor = "multi_thread")]
async fn main_screens_in_every_language() {
    let server = Server::with_addresses().await;
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let page = browser.page(&server.base).await;
    page.open_app().await;
    let check = |lang: &'static str, screen: &'static str| {
        let page = &page;
        async move {
            let texts = page.visible_strings().await;
            assert!(texts.len() > 5, "{screen}-{lang}: {texts:?}");
            assert!(
                texts.iter().all(|s| !s.is_empty()),
                "{screen}-{lang}: an empty string in {texts:?}"
            );
            page.screenshot(&format!("{screen}-{lang}")).await;
        }
    };
    for lang in LANGS {
        page.choose_language(lang).await;
        check(lang, "enrol").await;
    }
    page.choose_language("ru").await;
    page.enrol_and_report("AB0000001", "secret-one").await;
    eventually("the first fix on the server", || async {
        server.fix_seqs("AB0000001").await == vec![1]
    })
    .await;
    page.open_screen("open-stay", "stay").await;
    page.wait_for("the dates", "document.getElementById('stay-date').value")
        .await;
    page.choose_address("Профсоюзная 93", "demo-mow-0007").await;
    page.submit_notice().await;
    page.wait_for(
        "the notice",
        "document.querySelector('#stay-history li.state-current') !== null",
    )
    .await;
    // A search on screen, as a person sees it while choosing.
    page.js("document.getElementById('addr-q').value = 'Тверская 19'")
        .await;
    page.choose_address("Тверская 19", "demo-mow-0002").await;
    page.go_back().await;
    page.wait_for(
        "the queue to empty",
        "document.getElementById('queue').textContent === '0' && \
         document.getElementById('presence').dataset.value === 'in_region'",
    )
    .await;
    for lang in LANGS {
        page.choose_language(lang).await;
        check(lang, "status").await;
        page.open_screen("open-stay", "stay").await;
        page.wait_for(
            "the history",
            "document.querySelector('#stay-history li') !== null",
        )
        .await;
        check(lang, "notices").await;
        page.go_back().await;
        page.js("delete document.body.dataset.mydata").await;
        page.open_screen("open-mydata", "mydata").await;
        page.wait_for("my data", "document.body.dataset.mydata === '1'")
            .await;
        assert_eq!(page.text("md-card").await, "AB0000001");
        assert_eq!(page.text("md-fix-count").await, "1");
        // The audit trail exists and nobody looked: the app says so.
        assert!(!page
            .js("document.getElementById('md-accesses-empty').hidden")
            .await
            .as_bool()
            .unwrap());
        assert!(page
            .js("document.getElementById('md-accesses-none').hidden")
            .await
            .as_bool()
            .unwrap());
        check(lang, "mydata").await;
        page.go_back().await;
    }
}
