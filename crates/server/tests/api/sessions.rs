//! Key-bound device sessions through the real server: one signed request
//! opens a session, then fixes are proven with an HMAC tag; what a session
//! cannot do, and what happens when it ends.

use amina_client::key::SignedHeaders;
use amina_client::proto::{FixBatch, SignatureParams};
use amina_client::session::{offer, DeviceSession, SessionResponse, SESSION_PATH};

use super::*;

on_both_backends!(
    a_session_carries_uploads_after_one_signature,
    forged_unknown_and_replayed_session_proofs_are_refused,
    an_expired_session_is_refused_and_the_phone_opens_another,
    a_session_opened_on_one_node_is_honoured_by_another,
    a_session_ends_with_its_device,
    a_session_needs_a_key_on_the_curve_and_a_device_signature,
);

const START: &str = "2025-11-24T10:00";

fn batch(seq: i64, at: Timestamp) -> Vec<u8> {
    serde_json::to_vec(&FixBatch {
        fixes: vec![fix(seq, KREMLIN.0, KREMLIN.1, 10.0, at)],
    })
    .unwrap()
}

/// The first test card's holder, enrolled, bound and using sessions.
async fn session_phone(app: &TestApp) -> DeviceClient {
    app.enrolled_phone("AB0000001", "secret-one")
        .await
        .with_sessions()
}

/// POST `body` to /v1/fixes proven inside `session`; (status, error code).
async fn upload_in(
    app: &TestApp,
    session: &DeviceSession,
    body: &[u8],
    created: i64,
) -> (u16, String) {
    let h = session.sign_request("POST", "/v1/fixes", Some(body), created);
    send_proven(app, &h, body).await
}

/// POST `body` to /v1/fixes with the proof headers `h`.
async fn send_proven(app: &TestApp, h: &SignedHeaders, body: &[u8]) -> (u16, String) {
    post_proven(&app.base, "/v1/fixes", h, body).await
}

/// POST `body` to `base` + `path` with the proof headers `h`; (status,
/// error code).
async fn post_proven(base: &str, path: &str, h: &SignedHeaders, body: &[u8]) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("content-digest", h.content_digest.clone().unwrap())
        .header("signature-input", h.signature_input.clone())
        .header("signature", h.signature.clone())
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let v: serde_json::Value = resp.json().await.unwrap();
    (status, v["error"].as_str().unwrap_or("").to_string())
}

fn nonce_of(signature_input: &str) -> String {
    SignatureParams::parse(signature_input)
        .unwrap()
        .nonce
        .expect("session proofs carry a nonce")
}

async fn sessions_opened(app: &TestApp, session: &DeviceSession) -> bool {
    app.state
        .store
        .device_session(&session.id)
        .await
        .unwrap()
        .is_some()
}

async fn a_session_carries_uploads_after_one_signature(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow(START)).await else {
        return;
    };
    let phone = session_phone(&app).await;
    let at = app.clock.now();
    for seq in 1..=5 {
        let r = phone
            .upload(&[fix(seq, KREMLIN.0, KREMLIN.1, 10.0, at)])
            .await
            .expect("uploads inside the session are accepted");
        assert_eq!(r.accepted, vec![seq as u64]);
    }
    let status = phone.status().await.expect("status inside the session");
    assert!(status.registered);
    let session = phone.session().await.unwrap();
    let stored = app
        .state
        .store
        .device_session(&session.id)
        .await
        .unwrap()
        .expect("the session is stored");
    assert_eq!(Some(stored.device_id.as_str()), phone.device_id.as_deref());
    assert_eq!(stored.mac_key.len(), 32);
    assert_eq!(
        stored.expires_at,
        at.checked_add(SignedDuration::from_hours(24)).unwrap(),
        "ingest.device_session_hours"
    );
    assert_eq!(app.fix_count("AB0000001").await, 5);
    // The same session served every request: the phone opened one.
    assert_eq!(app.state.sessions.len(), 1);
}

async fn forged_unknown_and_replayed_session_proofs_are_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow(START)).await else {
        return;
    };
    let phone = session_phone(&app).await;
    let real = phone.session().await.unwrap();
    let now = app.clock.now();
    let device_id = phone.device_id.clone().unwrap();
    // The right session id with a key from another exchange.
    let (_, server_like) = offer();
    let (private, _) = offer();
    let forged = DeviceSession::accept(
        private,
        &SessionResponse {
            session_id: real.id.clone(),
            server_public: server_like.ecdh_public.clone(),
            alg: "hmac-sha256".into(),
            expires_at: real.expires_at.to_string(),
        },
        &device_id,
    )
    .unwrap();
    assert_eq!(
        upload_in(&app, &forged, &batch(1, now), now.as_second()).await,
        (401, "signature_invalid".into())
    );
    // A session id the server never issued.
    let (private, _) = offer();
    let unknown = DeviceSession::accept(
        private,
        &SessionResponse {
            session_id: "ds_AAAAAAAAAAAAAAAAAAAAAA".into(),
            server_public: server_like.ecdh_public,
            alg: "hmac-sha256".into(),
            expires_at: real.expires_at.to_string(),
        },
        &device_id,
    )
    .unwrap();
    assert_eq!(
        upload_in(&app, &unknown, &batch(1, now), now.as_second()).await,
        (401, "unknown_session".into())
    );
    assert_eq!(app.fix_count("AB0000001").await, 0, "nothing stored");
    // The real session; then the very same request again.
    let body = batch(1, now);
    let h = real.sign_request("POST", "/v1/fixes", Some(&body), now.as_second());
    assert_eq!(send_proven(&app, &h, &body).await, (200, String::new()));
    assert_eq!(
        send_proven(&app, &h, &body).await,
        (401, "signature_replayed".into())
    );
    assert_eq!(app.fix_count("AB0000001").await, 1);
    // The same content with a fresh nonce is a new request (a retry):
    // acknowledged as a duplicate, stored once.
    assert_eq!(
        upload_in(&app, &real, &body, now.as_second()).await,
        (200, String::new())
    );
    // Without a nonce, a session proof is malformed.
    let bare = h
        .signature_input
        .replace(&format!(";nonce=\"{}\"", nonce_of(&h.signature_input)), "");
    assert_ne!(bare, h.signature_input);
    let unsigned = SignedHeaders {
        signature_input: bare,
        ..h.clone()
    };
    assert_eq!(
        send_proven(&app, &unsigned, &body).await,
        (401, "signature_malformed".into())
    );
    assert_eq!(app.fix_count("AB0000001").await, 1);
}

async fn an_expired_session_is_refused_and_the_phone_opens_another(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow(START)).await else {
        return;
    };
    let phone = session_phone(&app).await;
    let first = phone.session().await.unwrap();
    app.advance(SignedDuration::from_hours(24));
    let now = app.clock.now();
    assert_eq!(
        upload_in(&app, &first, &batch(1, now), now.as_second()).await,
        (401, "session_expired".into())
    );
    assert_eq!(app.fix_count("AB0000001").await, 0);
    phone
        .upload(&[fix(1, KREMLIN.0, KREMLIN.1, 10.0, now)])
        .await
        .expect("the phone opens a new session and uploads");
    let second = phone.session().await.unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(app.fix_count("AB0000001").await, 1);
    // The retention job deletes the expired session, not the current one.
    app.advance(SignedDuration::from_secs(1));
    let report = amina_server::retention::run_once(&app.state).await.unwrap();
    assert_eq!(report.sessions_removed, 1);
    assert!(!sessions_opened(&app, &first).await);
    assert!(sessions_opened(&app, &second).await);
}

async fn a_session_opened_on_one_node_is_honoured_by_another(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow(START)).await else {
        return;
    };
    let phone = session_phone(&app).await;
    let session = phone.session().await.unwrap();
    // A second node on the same database, with its own (empty) caches.
    let other = AppState::new(
        app.state.store.clone(),
        monitor(&app.state.config),
        app.state.config.clone(),
        app.clock.clone(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(amina_server::serve(listener, other.clone(), async {
        let _ = rx.await;
    }));
    let now = app.clock.now();
    let body = batch(1, now);
    let h = session.sign_request("POST", "/v1/fixes", Some(&body), now.as_second());
    assert_eq!(
        post_proven(&base, "/v1/fixes", &h, &body).await,
        (200, String::new())
    );
    assert_eq!(other.sessions.len(), 1, "read from the database");
    assert_eq!(app.fix_count("AB0000001").await, 1);
    let _ = tx.send(());
}

async fn a_session_ends_with_its_device(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow(START)).await else {
        return;
    };
    let old = session_phone(&app).await;
    let at = app.clock.now();
    old.upload(&[fix(1, KREMLIN.0, KREMLIN.1, 10.0, at)])
        .await
        .expect("while active");
    let _new = app.enrolled_phone("AB0000001", "secret-one").await;
    let r = old.upload(&[fix(2, KREMLIN.0, KREMLIN.1, 10.0, at)]).await;
    assert_eq!(api_code(r), (403, "device_revoked".into()));
    // Nor can the revoked key open a new session.
    let (_, request) = offer();
    let body = serde_json::to_vec(&request).unwrap();
    let id = old.device_id.clone().unwrap();
    let h = old.key.sign_request(
        "POST",
        SESSION_PATH,
        Some(&body),
        &id,
        app.clock.now().as_second(),
    );
    assert_eq!(
        post_proven(&app.base, SESSION_PATH, &h, &body).await,
        (403, "device_revoked".into())
    );
    assert_eq!(app.fix_count("AB0000001").await, 1);
}

async fn a_session_needs_a_key_on_the_curve_and_a_device_signature(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow(START)).await else {
        return;
    };
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    let id = phone.device_id.clone().unwrap();
    use base64::Engine as _;
    let b64 = |raw: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let mut off_curve = vec![4u8];
    off_curve.extend([1u8; 64]);
    for bad in [
        serde_json::json!({"ecdh_public": b64(&off_curve)}),
        serde_json::json!({"ecdh_public": "not base64"}),
    ] {
        let body = serde_json::to_vec(&bad).unwrap();
        let r: Result<SessionResponse, _> = phone.signed_post(SESSION_PATH, &body, &id).await;
        assert_eq!(api_code(r), (422, "invalid_public_key".into()), "{bad}");
    }
    let r: Result<SessionResponse, _> = phone
        .signed_post(SESSION_PATH, br#"{"ecdh_public":"x","extra":1}"#, &id)
        .await;
    assert_eq!(api_code(r), (400, "unknown_field".into()));
    assert!(app.state.sessions.is_empty(), "no session was opened");
    // A session cannot open another one: that takes the device key.
    let phone = phone.with_sessions();
    phone.session().await.expect("opened with the device key");
    let (_, request) = offer();
    let body = serde_json::to_vec(&request).unwrap();
    let r: Result<SessionResponse, _> = phone.signed_post(SESSION_PATH, &body, &id).await;
    assert_eq!(api_code(r), (401, "signature_invalid".into()));
    assert_eq!(app.state.sessions.len(), 1);
}
