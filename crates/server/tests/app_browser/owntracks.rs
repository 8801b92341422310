//! Reporting with OwnTracks, set up from the app (issue 6).

use super::*;

/// The OwnTracks screen: setting up gives a link that configures OwnTracks
/// (the server's device, key and settings) and a QR code; the app then
/// stops reporting and says OwnTracks does; the status still shows; a fix
/// OwnTracks sends moves the status the app shows; "send with this app
/// again" switches OwnTracks off and the app reports again. The screen is
/// translated in every language.
#[tokio::test(flavor = "multi_thread")]
async fn owntracks_is_set_up_from_the_app_and_switched_off_again() {
    let server = Server::spawn().await;
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let page = browser.page(&server.base).await;
    page.open_app().await;
    page.choose_language("en").await;
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

    // Every string of the screen, in every language.
    page.js("document.getElementById('open-owntracks').click()")
        .await;
    page.wait_for(
        "the OwnTracks screen",
        "document.body.dataset.screen === 'owntracks'",
    )
    .await;
    for lang in amina_server::i18n::LANGS {
        page.choose_language(lang).await;
        let shown = page.visible_strings().await;
        assert!(shown.len() >= 15, "{lang}: {shown:?}");
        assert!(shown.iter().all(|s| !s.is_empty()), "{lang}: {shown:?}");
        assert_eq!(
            page.text("ot-provision").await,
            t(&page, "ot-provision-button").await
        );
    }
    page.choose_language("en").await;
    page.screenshot("owntracks-en").await;

    // Set up OwnTracks.
    page.js("document.getElementById('ot-provision').click()")
        .await;
    page.wait_for(
        "the link",
        "document.body.dataset.owntracks === 'provisioned' \
         && !document.getElementById('ot-result').hidden",
    )
    .await;
    let link = page
        .js("document.getElementById('ot-link').getAttribute('href')")
        .await;
    let config = amina_server::owntracks::parse_config_link(link.as_str().unwrap())
        .expect("the link configures OwnTracks");
    assert_eq!(config["mode"], 3);
    assert_eq!(config["url"], format!("{}/v1/owntracks", server.base));
    assert_eq!(config["locked"], true);
    assert_eq!(
        page.js("document.querySelector('#ot-qr svg') !== null")
            .await,
        json!(true),
        "the QR code is drawn"
    );
    assert_eq!(
        page.js("!document.getElementById('ot-active').hidden && !document.getElementById('ot-stop').hidden")
            .await,
        json!(true)
    );
    let device_id = config["username"].as_str().unwrap().to_string();
    let device = server
        .state
        .store
        .device(&device_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(device.kind, "owntracks");
    assert_eq!(device.status, amina_store::DeviceStatus::Active);

    // Back on the status screen: the app says OwnTracks reports and takes
    // no fix itself.
    page.js("document.querySelector('#owntracks .back').click()")
        .await;
    page.wait_for(
        "the status screen",
        "document.body.dataset.screen === 'status' && !document.getElementById('status').hidden \
         && document.getElementById('owntracks').hidden",
    )
    .await;
    assert_eq!(
        page.js("!document.getElementById('ot-reporting').hidden && document.getElementById('send-now').hidden")
            .await,
        json!(true)
    );
    page.screenshot("owntracks-status-en").await;

    // OwnTracks reports a fix; the app's status shows it.
    let at = jiff::Timestamp::now();
    let msg = json!({"_type": "location", "lat": KREMLIN.0 + 0.002, "lon": KREMLIN.1,
                     "tst": at.as_second(), "acc": 15, "batt": 80, "bs": 2, "conn": "w", "tid": "AM"});
    let body = json!({"_type": "encrypted",
        "data": amina_server::owntracks::encrypt(
            config["encryptionKey"].as_str().unwrap(), msg.to_string().as_bytes())});
    let resp = reqwest::Client::new()
        .post(config["url"].as_str().unwrap())
        .basic_auth(&device_id, config["password"].as_str())
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "[]");
    page.js("document.getElementById('refresh').click()").await;
    let expected = jiff::Timestamp::from_second(at.as_second())
        .unwrap()
        .to_string();
    page.wait_for(
        "the OwnTracks fix in the app's status",
        &format!(
            "new Promise(r => {{ const o = indexedDB.open('amina'); o.onsuccess = () => {{ \
             const g = o.result.transaction('meta').objectStore('meta').get('status'); \
             g.onsuccess = () => r(g.result && g.result.last_monitoring_at === {expected:?}); }}; }})"
        ),
    )
    .await;
    eventually("two fixes on the server", || async {
        server.fix_seqs("AB0000001").await.len() == 2
    })
    .await;
    // "Send my location now" is hidden; a fix tick does not upload.
    page.js("document.getElementById('send-now').click()").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.fix_seqs("AB0000001").await.len(), 2);

    // Switch back to the app.
    page.js("document.getElementById('open-owntracks').click()")
        .await;
    page.js("document.getElementById('ot-stop').click()").await;
    page.wait_for(
        "OwnTracks switched off",
        "document.body.dataset.owntracks === 'stopped' && document.getElementById('ot-stop').hidden",
    )
    .await;
    let device = server
        .state
        .store
        .device(&device_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(device.status, amina_store::DeviceStatus::Revoked);
    eventually("the app reports again", || async {
        server.fix_seqs("AB0000001").await.len() == 3
    })
    .await;
}
