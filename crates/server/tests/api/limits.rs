//! Abuse limits through the real server (issue 9): per device, per client
//! address, request size; a replayed proof; the security headers on every
//! answer; TLS termination with rustls.

use std::path::PathBuf;

use amina_client::proto::{CONTENT_DIGEST, SIGNATURE, SIGNATURE_INPUT};
use amina_server::config::LimitsConfig;
use serde_json::Value;

use super::*;

on_both_backends!(
    a_device_over_its_limit_is_refused_with_retry_after_and_nothing_is_stored,
    a_replayed_proof_is_refused_and_changes_nothing,
);

const START: &str = "2025-11-24T10:00";

/// One a minute refills: a slow machine cannot refill the bucket while the
/// test runs.
fn tight_device_limit(c: &mut Config) {
    c.limits = LimitsConfig {
        device_per_minute: 1,
        device_burst: 3,
        ..LimitsConfig::default()
    };
}

async fn a_device_over_its_limit_is_refused_with_retry_after_and_nothing_is_stored(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, moscow(START), tight_device_limit).await else {
        return;
    };
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    let other = app.enrolled_phone("AB0000002", "secret-two").await;
    let at = app.clock.now();
    // Three requests are the burst.
    for seq in 1..=3 {
        phone
            .upload(&[fix(seq, KREMLIN.0, KREMLIN.1, 10.0, at)])
            .await
            .expect("within the burst");
    }
    assert_eq!(app.fix_count("AB0000001").await, 3);
    let refused = phone
        .upload(&[fix(4, KREMLIN.0, KREMLIN.1, 10.0, at)])
        .await;
    let Err(ClientError::Api { status, body }) = refused else {
        panic!("expected a refusal, got {refused:?}");
    };
    assert_eq!((status, body.error.as_str()), (429, "rate_limited"));
    assert_eq!(body.detail.as_ref().unwrap()["scope"], "device");
    assert_eq!(app.fix_count("AB0000001").await, 3, "nothing stored");
    // Retry-After on the wire: one a minute refills.
    let id = phone.device_id.clone().unwrap();
    let h = phone
        .key
        .sign_request("GET", "/v1/me/status", None, &id, at.as_second());
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/me/status", app.base))
        .header(SIGNATURE_INPUT, h.signature_input)
        .header(SIGNATURE, h.signature)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Another device is not affected.
    other
        .upload(&[fix(1, KREMLIN.0, KREMLIN.1, 10.0, at)])
        .await
        .expect("another device has its own budget");
}

async fn a_replayed_proof_is_refused_and_changes_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow(START)).await else {
        return;
    };
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    let id = phone.device_id.clone().unwrap();
    // A captured check-in (not idempotent: each one is a new row).
    let body = br#"{"location":"granted","notifications":"granted","queued_fixes":0}"#;
    let h = phone.key.sign_request(
        "POST",
        "/v1/checkins",
        Some(body),
        &id,
        app.clock.now().as_second(),
    );
    let send = || {
        reqwest::Client::new()
            .post(format!("{}/v1/checkins", app.base))
            .header(SIGNATURE_INPUT, h.signature_input.clone())
            .header(SIGNATURE, h.signature.clone())
            .header(CONTENT_DIGEST, h.content_digest.clone().unwrap())
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 201);
    let pid = app
        .state
        .store
        .person_by_card(&amina_domain::types::CardNumber::parse("AB0000001").unwrap())
        .await
        .unwrap()
        .unwrap()
        .person_id;
    let before = app.state.store.checkins(pid, 100).await.unwrap().len();
    let replay = send().await.unwrap();
    assert_eq!(replay.status(), 401);
    let v: Value = replay.json().await.unwrap();
    assert_eq!(v["error"], "signature_replayed");
    assert_eq!(
        app.state.store.checkins(pid, 100).await.unwrap().len(),
        before,
        "the replay stored nothing"
    );
    // The same request signed anew is fine.
    phone
        .checkin(&amina_client::push::CheckinRequest {
            location: "granted".into(),
            notifications: "granted".into(),
            queued_fixes: 0,
            geo_error: None,
            battery_pct: None,
            charging: None,
        })
        .await
        .expect("a fresh signature");
}

/// The per-address gate runs before any signature check; loopback is
/// exempt by default, so this server exempts nothing.
#[tokio::test(flavor = "multi_thread")]
async fn an_address_over_its_limit_is_refused_before_anything_else() {
    let app = TestApp::spawn_with(Backend::Sqlite, moscow(START), |c| {
        c.limits = LimitsConfig {
            address_per_minute: 1,
            address_burst: 5,
            exempt_addresses: vec![],
            ..LimitsConfig::default()
        };
    })
    .await
    .expect("SQLite");
    for _ in 0..5 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    let refused = app.get("/healthz").await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let v: Value = refused.json().await.unwrap();
    assert_eq!(v["error"], "rate_limited");
    assert_eq!(v["detail"]["scope"], "address");
}

/// Loopback is exempt by default: a reverse proxy on the same machine
/// would otherwise make every phone one address.
#[tokio::test(flavor = "multi_thread")]
async fn loopback_is_exempt_from_the_address_limit_by_default() {
    let app = TestApp::spawn_with(Backend::Sqlite, moscow(START), |c| {
        c.limits.address_per_minute = 60;
        c.limits.address_burst = 2;
    })
    .await
    .expect("SQLite");
    for _ in 0..10 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_request_is_refused_before_it_is_read() {
    let app = TestApp::spawn_with(Backend::Sqlite, moscow(START), |c| {
        c.limits.max_request_bytes = 300 * 1024;
    })
    .await
    .expect("SQLite");
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/enrolments", app.base))
        .header("content-type", "application/json")
        .body(vec![b' '; 400 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "body_too_large");
}

/// Every answer — pages, JSON, assets, refusals, unknown paths — carries
/// the headers that keep it from being sniffed, framed or leaking the
/// referrer; HSTS only when TLS is on (here: behind a proxy).
#[tokio::test(flavor = "multi_thread")]
async fn every_answer_carries_the_security_headers() {
    for hsts in [false, true] {
        let app = TestApp::spawn_with(Backend::Sqlite, moscow(START), |c| {
            c.tls.hsts_behind_proxy = hsts;
        })
        .await
        .expect("SQLite");
        let mut paths: Vec<String> = amina_server::api::route_list()
            .into_iter()
            .filter(|(m, _)| m == axum::http::Method::GET)
            .map(|(_, p)| p.replace("{name}", "app.js").replace("{lang}", "en"))
            .map(|p| {
                // Other parameters: any value; a 4xx is an answer too.
                p.split('/')
                    .map(|s| if s.starts_with('{') { "1" } else { s })
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        paths.push("/no/such/path".into());
        paths.push("/app/no-such-file".into());
        assert!(paths.len() > 30, "{paths:?}");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        for path in &paths {
            let r = client
                .get(format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
            let h = r.headers();
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            assert_eq!(h["x-frame-options"], "DENY", "{path}");
            assert!(h.contains_key("referrer-policy"), "{path}");
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
            assert_eq!(
                h.get("strict-transport-security")
                    .map(|v| v.to_str().unwrap().to_string()),
                hsts.then(|| "max-age=31536000".to_string()),
                "{path}"
            );
        }
    }
}

fn tls_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// `[tls]` with a certificate: the server speaks HTTPS (rustls), a client
/// that trusts the certificate gets answers with HSTS, a plain HTTP
/// request gets no answer, and a phone enrols over it.
#[tokio::test(flavor = "multi_thread")]
async fn tls_termination_with_rustls() {
    let app = TestApp::spawn_with(Backend::Sqlite, moscow(START), |c| {
        c.tls.cert_file = tls_fixture("cert.pem");
        c.tls.key_file = tls_fixture("key.pem");
    })
    .await
    .expect("SQLite");
    assert!(app.base.starts_with("https://localhost:"));
    let cert = std::fs::read(tls_fixture("cert.pem")).unwrap();
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .build()
        .unwrap();
    let r = https
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    // Plain HTTP on the TLS port: no HTTP answer.
    let plain = app.base.replace("https://", "http://");
    assert!(reqwest::get(format!("{plain}/healthz")).await.is_err());
    // A client that does not trust the certificate is refused.
    assert!(reqwest::get(format!("{}/healthz", app.base)).await.is_err());
    // The real API over TLS.
    let mut phone = DeviceClient::with_http(&app.base, https);
    let clock = app.clock.clone();
    phone.clock = Arc::new(move || clock.now());
    phone
        .enrol_and_bind("AB0000001", "secret-one")
        .await
        .expect("enrol over TLS");
}

#[test]
fn bad_tls_files_are_refused_with_the_file_named() {
    let c = amina_server::config::TlsConfig {
        cert_file: tls_fixture("key.pem"),
        key_file: tls_fixture("key.pem"),
        ..Default::default()
    };
    let e = amina_server::tls_config(&c).unwrap_err().to_string();
    assert!(e.contains("tls.cert_file") && e.contains("key.pem"), "{e}");
    let c = amina_server::config::TlsConfig {
        cert_file: tls_fixture("cert.pem"),
        key_file: tls_fixture("cert.pem"),
        ..Default::default()
    };
    let e = amina_server::tls_config(&c).unwrap_err().to_string();
    assert!(e.contains("tls.key_file"), "{e}");
}
