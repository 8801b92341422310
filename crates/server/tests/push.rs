//! Web Push end to end, on both backends: the real server, a phone
//! (`DeviceClient`) that subscribes and checks in, and a push-service
//! stand-in on a loopback port that records every request and answers with
//! scripted status codes.
//!
//! What the server sent is checked by an implementation independent of the
//! server's: `tests/support/webpush_check.py` decrypts each body with the
//! subscription's private key (the `http-ece` package, RFC 8291) and
//! verifies the VAPID token (ES256 with the advertised key, `aud` = the
//! stand-in's origin, `exp` within 24 hours, `sub` present) with
//! `cryptography`. The interpreter is `AMINA_TEST_PYTHON`, or the virtualenv
//! `.ci/run` makes in `target/test-venv`; without it these tests skip
//! loudly (and fail under `AMINA_TEST_STRICT=1`).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use amina_client::device::{ClientError, DeviceClient};
use amina_client::push::{CheckinRequest, PushSubscriptionKeys, PushSubscriptionRequest};
use amina_domain::monitor::Monitor;
use amina_domain::signal::SignalKind;
use amina_server::cards::{hash_secrets, parse_cards};
use amina_server::clock::{Clock, ManualClock};
use amina_server::config::Config;
use amina_server::push::deliver::Payload;
use amina_server::state::{build_monitor, AppState};
use amina_store::{OutboxState, SharedStore, SignalQuery, SubscriptionStatus};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

const CARDS: &str = "card_number,activation_secret,activation_secret_hash,name_latin,name_cyrillic,citizenship,birth_date,purpose,valid_until
AB0000001,secret-one,,Alisher Karimov,Алишер Каримов,UZB,1994-03-12,work,2030-12-31
AB0000002,secret-two,,Farrukh Rahimov,Фаррух Рахимов,TJK,1989-07-01,work,2030-12-31
";

// ------------------------------------------------- the independent checker

fn python() -> Option<PathBuf> {
    let path = match std::env::var_os("AMINA_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin/python"),
    };
    let ok = std::process::Command::new(&path)
        .args(["-c", "import http_ece, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(path)
    } else {
        amina_testkit::skip_or_fail(
            "Web Push decryption checks",
            &format!(
                "no Python with http-ece and cryptography at {} (set AMINA_TEST_PYTHON, or: \
                 python3 -m venv target/test-venv && target/test-venv/bin/pip install http-ece cryptography)",
                path.display()
            ),
        );
        None
    }
}

/// Decrypt and verify captured requests with the Python checker.
fn check_with_python(python: &PathBuf, requests: &[Value]) -> Vec<Value> {
    use std::io::Write;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/webpush_check.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the Python checker");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(requests).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "checker failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

// ------------------------------------------------- the push-service stand-in

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

#[derive(Default)]
struct StandIn {
    received: Mutex<Vec<Received>>,
    /// Status codes to answer, in order; 201 when empty.
    script: Mutex<VecDeque<(u16, Option<u64>)>>,
}

async fn receive(
    State(s): State<Arc<StandIn>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap) {
    s.received.lock().unwrap().push(Received {
        path: format!("/push/{id}"),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.to_vec(),
    });
    let (code, retry) = s.script.lock().unwrap().pop_front().unwrap_or((201, None));
    let mut h = HeaderMap::new();
    if let Some(r) = retry {
        h.insert("retry-after", r.to_string().parse().unwrap());
    }
    (StatusCode::from_u16(code).unwrap(), h)
}

async fn spawn_stand_in() -> (String, Arc<StandIn>) {
    let s = Arc::new(StandIn::default());
    let app = axum::Router::new()
        .route("/push/{id}", axum::routing::post(receive))
        .with_state(s.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (origin, s)
}

/// A browser's side of a subscription: its ECDH key pair and auth secret.
struct BrowserKeys {
    pkcs8: Vec<u8>,
    public: Vec<u8>,
    auth: [u8; 16],
}

impl BrowserKeys {
    fn new() -> BrowserKeys {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let mut auth = [0u8; 16];
        ring::rand::SecureRandom::fill(&rng, &mut auth).unwrap();
        BrowserKeys {
            pkcs8: pkcs8.as_ref().to_vec(),
            public: pair.public_key().as_ref().to_vec(),
            auth,
        }
    }

    fn subscription(&self, endpoint: &str, lang: &str) -> PushSubscriptionRequest {
        PushSubscriptionRequest {
            endpoint: endpoint.into(),
            expiration_time: None,
            keys: PushSubscriptionKeys {
                p256dh: URL_SAFE_NO_PAD.encode(&self.public),
                auth: URL_SAFE_NO_PAD.encode(self.auth),
            },
            lang: lang.into(),
        }
    }
}

// ------------------------------------------------------------- the server

fn monitor(config: &Config) -> Monitor {
    static MONITOR: OnceLock<Monitor> = OnceLock::new();
    MONITOR
        .get_or_init(|| build_monitor(config).expect("default configuration builds"))
        .clone()
}

struct TestApp {
    base: String,
    clock: Arc<ManualClock>,
    state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<amina_testkit::PgDatabase>,
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

impl TestApp {
    async fn spawn(backend: Backend, start: Timestamp) -> Option<TestApp> {
        let mut config = Config::default();
        config.scheduler.enabled = false; // tests run the push job themselves
        config.push.allow_loopback_http = true;
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(amina_server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        let mut parsed = parse_cards(
            CARDS.as_bytes(),
            &amina_domain::eligibility::Scope::default(),
            jiff::civil::date(2025, 1, 1),
        )
        .expect("test cards parse");
        hash_secrets(&mut parsed.accepted);
        state
            .store
            .import_cards(parsed.accepted, start)
            .await
            .expect("import");
        Some(TestApp {
            base,
            clock,
            state,
            stop: Some(tx),
            _dir: dir,
            _pg: pg,
        })
    }

    async fn phone(&self, card: &str, secret: &str) -> (DeviceClient, i64) {
        let mut phone = DeviceClient::new(&self.base);
        let clock = self.clock.clone();
        phone.clock = Arc::new(move || clock.now());
        let bound = phone.enrol_and_bind(card, secret).await.expect("enrol");
        let number = amina_domain::types::CardNumber::parse(card).unwrap();
        let pid = self
            .state
            .store
            .person_by_card(&number)
            .await
            .unwrap()
            .unwrap()
            .person_id;
        assert!(bound.status.registered);
        (phone, pid)
    }

    fn advance(&self, d: SignedDuration) {
        self.clock.advance(d);
    }

    async fn run_push(&self) -> amina_server::push::PushRunReport {
        amina_server::push::run_once(&self.state)
            .await
            .expect("push run")
    }

    async fn gone_signals(&self, pid: i64) -> usize {
        self.state
            .store
            .signals(SignalQuery {
                person_id: Some(pid),
                kind: Some(SignalKind::PushSubscriptionGone),
                limit: 100,
                ..SignalQuery::default()
            })
            .await
            .unwrap()
            .len()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

fn msk(s: &str) -> Timestamp {
    amina_domain::time::parse_moscow(s).unwrap()
}

fn checkin(location: &str, geo_error: Option<i64>, queued: i64) -> CheckinRequest {
    CheckinRequest {
        location: location.into(),
        notifications: "granted".into(),
        queued_fixes: queued,
        geo_error,
        battery_pct: Some(64),
        charging: Some(false),
    }
}

fn api_code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> (u16, String) {
    match r {
        Err(e) => (
            e.status().unwrap_or(0),
            e.code().unwrap_or("transport").to_string(),
        ),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// Every captured request checked by Python; returns the decrypted payloads.
fn decrypt_all(
    python: &PathBuf,
    keys: &BrowserKeys,
    received: &[Received],
    origin: &str,
    server_key: &str,
    now: Timestamp,
) -> Vec<Payload> {
    let requests: Vec<Value> = received
        .iter()
        .map(|r| {
            json!({
                "private_pkcs8": STANDARD.encode(&keys.pkcs8),
                "auth": STANDARD.encode(keys.auth),
                "body": STANDARD.encode(&r.body),
                "authorization": r.headers.get("authorization").cloned().unwrap_or_default(),
                "expected_aud": origin,
                "expected_key": server_key,
                "now": now.as_second(),
            })
        })
        .collect();
    check_with_python(python, &requests)
        .into_iter()
        .map(|result| {
            assert_eq!(result["errors"], json!([]), "{result}");
            assert!(result["claims"]["sub"]
                .as_str()
                .unwrap()
                .starts_with("mailto:"));
            serde_json::from_str(result["plaintext"].as_str().unwrap()).unwrap()
        })
        .collect()
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
    pushes_are_encrypted_signed_and_sent_once_per_cause,
    bad_subscriptions_are_refused_and_nothing_is_stored,
    a_gone_subscription_is_marked_dead_and_signalled_once,
    busy_push_service_is_retried_with_backoff,
    check_ins_are_recorded_and_shown_and_bad_ones_refused,
    owntracks_silence_is_explained_by_its_last_report,
);

/// The whole path: subscribe, check in with location off, the scheduler
/// decides and sends; the stand-in's requests decrypt (independently) to
/// the right text and carry valid VAPID headers; a second run sends
/// nothing again; later the no-fix notice follows.
async fn pushes_are_encrypted_signed_and_sent_once_per_cause(b: Backend) {
    let Some(python) = python() else { return };
    let start = msk("2025-11-25T10:00");
    let Some(app) = TestApp::spawn(b, start).await else {
        return;
    };
    let (origin, stand_in) = spawn_stand_in().await;
    let (phone, pid) = app.phone("AB0000001", "secret-one").await;
    let server_key = phone.push_key().await.unwrap().public_key;
    assert_eq!(URL_SAFE_NO_PAD.decode(&server_key).unwrap().len(), 65);

    let keys = BrowserKeys::new();
    let endpoint = format!("{origin}/push/a1");
    let answer = phone
        .put_push_subscription(&keys.subscription(&endpoint, "en"))
        .await
        .unwrap();
    assert_eq!(answer.status, "active");
    phone.checkin(&checkin("denied", Some(1), 0)).await.unwrap();

    // Within the grace period nothing goes out.
    app.advance(SignedDuration::from_mins(30));
    let r = app.run_push().await;
    assert_eq!((r.decided, r.sent), (0, 0));
    assert!(stand_in.received.lock().unwrap().is_empty());

    app.advance(SignedDuration::from_mins(31));
    let r = app.run_push().await;
    assert_eq!((r.decided, r.sent), (1, 1), "{r:?}");
    let received = stand_in.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let req = &received[0];
    assert_eq!(req.path, "/push/a1");
    assert_eq!(req.headers["content-encoding"], "aes128gcm");
    assert_eq!(req.headers["ttl"], "43200");
    assert_eq!(req.headers["topic"].len(), 32);
    assert!(req.headers["authorization"].starts_with("vapid t="));
    assert!(req.headers["authorization"].contains(&format!(", k={server_key}")));
    let now = app.clock.now();
    let payloads = decrypt_all(&python, &keys, &received, &origin, &server_key, now);
    let p = &payloads[0];
    assert_eq!(p.title, "Your location is not arriving");
    assert!(p.body.starts_with("Location access is turned off"), "{p:?}");
    assert_eq!(p.kind, "cause");
    assert_eq!(p.url, "/app/");
    assert_eq!(
        p.tag,
        format!("cause:location_off:{}", start.as_millisecond()),
        "the occurrence key is the tag"
    );

    // Two more scheduler runs: never the same push twice.
    app.run_push().await;
    app.advance(SignedDuration::from_mins(5));
    let r = app.run_push().await;
    assert_eq!((r.decided, r.sent), (0, 0));
    assert_eq!(stand_in.received.lock().unwrap().len(), 1);

    // A day without a fix: the no-fix notice, naming the cause.
    app.advance(SignedDuration::from_hours(23));
    let r = app.run_push().await;
    assert_eq!(r.sent, 1, "{r:?}");
    let received = stand_in.received.lock().unwrap().clone();
    let payloads = decrypt_all(
        &python,
        &keys,
        &received[1..],
        &origin,
        &server_key,
        app.clock.now(),
    );
    assert_eq!(payloads[0].title, "No location for 24 h");
    assert!(payloads[0]
        .body
        .starts_with("Location access is turned off"));

    let outbox = app.state.store.push_outbox(pid).await.unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(outbox.iter().all(|o| o.state == OutboxState::Sent));
    let log = app.state.store.push_deliveries(outbox[0].id).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status_code, Some(201));

    // A person who switched the app to Russian gets Russian text.
    phone
        .put_push_subscription(&keys.subscription(&endpoint, "ru"))
        .await
        .unwrap();
    // Thursday morning: the deadline is Friday (no fix since enrolment on
    // Tuesday), so the warning goes out at the end of quiet hours.
    app.advance(SignedDuration::from_hours(22));
    app.run_push().await;
    let received = stand_in.received.lock().unwrap().clone();
    assert!(
        received.len() >= 3,
        "the deadline warning: {}",
        received.len()
    );
    let payloads = decrypt_all(
        &python,
        &keys,
        &received[2..],
        &origin,
        &server_key,
        app.clock.now(),
    );
    assert!(
        payloads.iter().any(|p| p.title == "Завтра срок"),
        "{payloads:?}"
    );
}

async fn bad_subscriptions_are_refused_and_nothing_is_stored(b: Backend) {
    let Some(app) = TestApp::spawn(b, msk("2025-11-25T10:00")).await else {
        return;
    };
    let (phone, pid) = app.phone("AB0000001", "secret-one").await;
    let keys = BrowserKeys::new();
    let good = keys.subscription("https://push.example/sub/1", "ru");
    let mut off_curve = vec![4u8];
    off_curve.extend([7u8; 64]);
    let cases: Vec<(PushSubscriptionRequest, &str)> = vec![
        (
            PushSubscriptionRequest {
                endpoint: "http://push.example/sub/1".into(),
                ..good.clone()
            },
            "invalid_push_endpoint",
        ),
        (
            PushSubscriptionRequest {
                endpoint: "ftp://push.example/x".into(),
                ..good.clone()
            },
            "invalid_push_endpoint",
        ),
        (
            PushSubscriptionRequest {
                endpoint: "/relative/path".into(),
                ..good.clone()
            },
            "invalid_push_endpoint",
        ),
        (
            PushSubscriptionRequest {
                endpoint: "https://user:pw@push.example/x".into(),
                ..good.clone()
            },
            "invalid_push_endpoint",
        ),
        (
            PushSubscriptionRequest {
                endpoint: format!("https://push.example/{}", "a".repeat(3000)),
                ..good.clone()
            },
            "invalid_push_endpoint",
        ),
        (
            PushSubscriptionRequest {
                keys: PushSubscriptionKeys {
                    p256dh: URL_SAFE_NO_PAD.encode([4u8; 33]),
                    auth: good.keys.auth.clone(),
                },
                ..good.clone()
            },
            "invalid_push_key",
        ),
        (
            PushSubscriptionRequest {
                keys: PushSubscriptionKeys {
                    p256dh: URL_SAFE_NO_PAD.encode(&off_curve),
                    auth: good.keys.auth.clone(),
                },
                ..good.clone()
            },
            "invalid_push_key",
        ),
        (
            PushSubscriptionRequest {
                keys: PushSubscriptionKeys {
                    p256dh: good.keys.p256dh.clone(),
                    auth: URL_SAFE_NO_PAD.encode([1u8; 15]),
                },
                ..good.clone()
            },
            "invalid_push_auth",
        ),
        (
            PushSubscriptionRequest {
                keys: PushSubscriptionKeys {
                    p256dh: "not base64 !".into(),
                    auth: good.keys.auth.clone(),
                },
                ..good.clone()
            },
            "invalid_push_key",
        ),
        (
            PushSubscriptionRequest {
                lang: "fr".into(),
                ..good.clone()
            },
            "invalid_language",
        ),
    ];
    for (req, code) in cases {
        let r = phone.put_push_subscription(&req).await;
        assert_eq!(api_code(r), (422, code.to_string()), "{req:?}");
    }
    // Unknown fields, and requests without a device signature.
    let body = br#"{"endpoint":"https://push.example/1","keys":{"p256dh":"x","auth":"y"},"lang":"ru","extra":1}"#;
    let r = phone
        .signed::<Value>("PUT", "/v1/push-subscription", Some(body))
        .await;
    assert_eq!(api_code(r), (400, "unknown_field".into()));
    let unsigned = reqwest::Client::new()
        .put(format!("{}/v1/push-subscription", app.base))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    // Loopback http is a test setting only: with it off, refused too.
    assert!(app.state.store.subscription(pid).await.unwrap().is_none());

    // The good one is stored; deleting it is idempotent.
    phone.put_push_subscription(&good).await.unwrap();
    let s = app.state.store.subscription(pid).await.unwrap().unwrap();
    assert_eq!(s.lang, "ru");
    assert_eq!(s.p256dh, keys.public);
    phone.delete_push_subscription().await.unwrap();
    phone.delete_push_subscription().await.unwrap();
    let s = app.state.store.subscription(pid).await.unwrap().unwrap();
    assert_eq!(s.status, SubscriptionStatus::Removed);
}

async fn a_gone_subscription_is_marked_dead_and_signalled_once(b: Backend) {
    let start = msk("2025-11-25T10:00");
    let Some(app) = TestApp::spawn(b, start).await else {
        return;
    };
    let (origin, stand_in) = spawn_stand_in().await;
    let (phone, pid) = app.phone("AB0000002", "secret-two").await;
    let keys = BrowserKeys::new();
    phone
        .put_push_subscription(&keys.subscription(&format!("{origin}/push/gone"), "tg"))
        .await
        .unwrap();
    phone.checkin(&checkin("denied", Some(1), 0)).await.unwrap();
    stand_in.script.lock().unwrap().push_back((410, None));
    // A day later two notices are due at once: the cause and the no-fix.
    app.advance(SignedDuration::from_hours(25));
    let r = app.run_push().await;
    assert_eq!(r.decided, 2, "{r:?}");
    assert_eq!((r.gone, r.sent), (1, 0), "{r:?}");
    assert_eq!(
        stand_in.received.lock().unwrap().len(),
        1,
        "nothing more to a dead endpoint"
    );
    let s = app.state.store.subscription(pid).await.unwrap().unwrap();
    assert_eq!(s.status, SubscriptionStatus::Gone);
    assert_eq!(app.gone_signals(pid).await, 1);
    let states: Vec<OutboxState> = app
        .state
        .store
        .push_outbox(pid)
        .await
        .unwrap()
        .iter()
        .map(|o| o.state)
        .collect();
    assert_eq!(states, [OutboxState::Gone, OutboxState::Dropped]);

    // Later runs send nothing and raise nothing more.
    app.advance(SignedDuration::from_hours(30));
    let r = app.run_push().await;
    assert_eq!((r.planned_people, r.sent, r.gone), (0, 0, 0));
    assert_eq!(app.gone_signals(pid).await, 1);
    let signal = &app
        .state
        .store
        .signals(SignalQuery {
            person_id: Some(pid),
            limit: 10,
            ..SignalQuery::default()
        })
        .await
        .unwrap()[0];
    assert_eq!(signal.evidence["status"], 410);
    assert_eq!(signal.evidence["push_service"], origin);
    // The endpoint itself is a capability: it is not in the evidence.
    assert!(!signal.evidence.to_string().contains("/push/gone"));
}

async fn busy_push_service_is_retried_with_backoff(b: Backend) {
    let Some(app) = TestApp::spawn(b, msk("2025-11-25T10:00")).await else {
        return;
    };
    let (origin, stand_in) = spawn_stand_in().await;
    let (phone, pid) = app.phone("AB0000001", "secret-one").await;
    let keys = BrowserKeys::new();
    phone
        .put_push_subscription(&keys.subscription(&format!("{origin}/push/busy"), "uz"))
        .await
        .unwrap();
    {
        let mut script = stand_in.script.lock().unwrap();
        script.push_back((503, None));
        script.push_back((429, Some(600)));
    }
    app.advance(SignedDuration::from_hours(24));
    let r = app.run_push().await;
    assert_eq!((r.decided, r.retried), (1, 1), "{r:?}");
    // Backoff: not before a minute.
    app.advance(SignedDuration::from_secs(30));
    assert_eq!(app.run_push().await.retried, 0);
    app.advance(SignedDuration::from_secs(31));
    assert_eq!(app.run_push().await.retried, 1);
    // Retry-After: 600 s is honoured.
    app.advance(SignedDuration::from_secs(300));
    assert_eq!(app.run_push().await.sent, 0);
    app.advance(SignedDuration::from_secs(301));
    assert_eq!(app.run_push().await.sent, 1);
    assert_eq!(stand_in.received.lock().unwrap().len(), 3);
    let outbox = app.state.store.push_outbox(pid).await.unwrap();
    assert_eq!(outbox[0].state, OutboxState::Sent);
    assert_eq!(outbox[0].attempts, 3);
    let codes: Vec<Option<u16>> = app
        .state
        .store
        .push_deliveries(outbox[0].id)
        .await
        .unwrap()
        .iter()
        .map(|d| d.status_code)
        .collect();
    assert_eq!(codes, [Some(503), Some(429), Some(201)]);
}

async fn check_ins_are_recorded_and_shown_and_bad_ones_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b, msk("2025-11-25T10:00")).await else {
        return;
    };
    let (phone, pid) = app.phone("AB0000001", "secret-one").await;
    assert_eq!(phone.status().await.unwrap().last_checkin_at, None);
    let bad = [
        (checkin("maybe", None, 0), "invalid_permission"),
        (checkin("granted", Some(4), 0), "invalid_geo_error"),
        (checkin("granted", None, -1), "invalid_queued_fixes"),
        (
            CheckinRequest {
                battery_pct: Some(101),
                ..checkin("granted", None, 0)
            },
            "invalid_battery",
        ),
    ];
    for (req, code) in bad {
        assert_eq!(api_code(phone.checkin(&req).await), (422, code.into()));
    }
    assert!(app.state.store.checkins(pid, 10).await.unwrap().is_empty());
    app.advance(SignedDuration::from_mins(5));
    let r = phone
        .checkin(&checkin("granted", Some(2), 3))
        .await
        .unwrap();
    let at = app.clock.now();
    assert_eq!(r.recorded_at, at.to_string());
    let status = phone.status().await.unwrap();
    assert_eq!(status.last_checkin_at, Some(at.to_string()));
    let last = app.state.store.last_checkin(pid).await.unwrap().unwrap();
    assert_eq!(last.checkin.queued_fixes, 3);
    assert_eq!(last.checkin.battery_pct, Some(64));
}

/// POST one OwnTracks location (sealed with the device key) as OwnTracks'
/// HTTP mode does; answers the status code.
async fn owntracks_post(config: &Value, msg: &Value) -> u16 {
    let sealed = json!({"_type": "encrypted",
        "data": amina_server::owntracks::encrypt(
            config["encryptionKey"].as_str().unwrap(),
            msg.to_string().as_bytes())});
    reqwest::Client::new()
        .post(config["url"].as_str().unwrap())
        .basic_auth(
            config["username"].as_str().unwrap(),
            config["password"].as_str(),
        )
        .header("content-type", "application/json")
        .body(sealed.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A person reporting with OwnTracks keeps the notices of the app that
/// provisioned it (its push subscription stays with the companion key), and
/// the words explain the silence from OwnTracks' last report: a nearly
/// empty battery not on the charger (`batt`, `bs`), or, with nothing wrong
/// reported, OwnTracks stopped by the phone — never "open the app".
async fn owntracks_silence_is_explained_by_its_last_report(b: Backend) {
    let Some(python) = python() else { return };
    let start = msk("2025-11-25T10:00");
    let Some(app) = TestApp::spawn(b, start).await else {
        return;
    };
    let (origin, stand_in) = spawn_stand_in().await;
    let mut cases = Vec::new();
    for (card, secret, bs, body_start) in [
        (
            "AB0000001",
            "secret-one",
            1,
            "Your phone's battery was almost empty",
        ),
        (
            "AB0000002",
            "secret-two",
            2,
            "OwnTracks has stopped sending your location",
        ),
    ] {
        let (phone, pid) = app.phone(card, secret).await;
        let server_key = phone.push_key().await.unwrap().public_key;
        let keys = BrowserKeys::new();
        let endpoint = format!("{origin}/push/{card}");
        phone
            .put_push_subscription(&keys.subscription(&endpoint, "en"))
            .await
            .unwrap();
        let provisioned: Value = phone
            .signed("POST", "/v1/me/owntracks", Some(b"{}"))
            .await
            .unwrap();
        let config = amina_server::owntracks::parse_config_link(
            provisioned["config_link"].as_str().unwrap(),
        )
        .unwrap();
        let at = app.clock.now();
        let fix = json!({"_type": "location", "lat": 55.7520, "lon": 37.6175,
            "tst": at.as_second(), "acc": 12, "batt": 8, "bs": bs, "conn": "m",
            "tid": "AM", "created_at": at.as_second()});
        assert_eq!(owntracks_post(&config, &fix).await, 200);
        let last = app.state.store.last_checkin(pid).await.unwrap().unwrap();
        assert_eq!(last.checkin.battery_pct, Some(8));
        assert_eq!(last.checkin.charging, Some(bs != 1));
        cases.push((pid, keys, server_key, endpoint, body_start));
    }

    // An hour later a low battery is no notice of its own.
    app.advance(SignedDuration::from_hours(2));
    let r = app.run_push().await;
    assert_eq!((r.decided, r.sent), (0, 0), "{r:?}");

    // A day without a fix: the no-fix notice names the circumstance.
    app.advance(SignedDuration::from_hours(23));
    let r = app.run_push().await;
    assert_eq!((r.decided, r.sent), (2, 2), "{r:?}");
    let received = stand_in.received.lock().unwrap().clone();
    for (pid, keys, server_key, endpoint, body_start) in &cases {
        let path = endpoint.trim_start_matches(&origin).to_string();
        let mine: Vec<_> = received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect();
        assert_eq!(mine.len(), 1, "{path}");
        let payloads = decrypt_all(&python, keys, &mine, &origin, server_key, app.clock.now());
        assert_eq!(payloads[0].kind, "no_fix");
        assert!(payloads[0].body.starts_with(body_start), "{payloads:?}");
        let outbox = app.state.store.push_outbox(*pid).await.unwrap();
        assert_eq!(outbox.len(), 1);
    }
}
