//! The integration API with the federal migration system, end to end on
//! both backends: the real server on a port-0 listener, a manual clock,
//! phones (`DeviceClient`) and a federal sender that signs every request
//! with its shared key (RFC 9421, hmac-sha256), as a real sender does.
//!
//! Covered: each event type, repeated and out-of-order deliveries, unknown
//! people, refused input (unsigned, wrongly signed, unknown type, a date
//! outside the calendar: 4xx with a reason, nothing changed, the refusal
//! listed for the sender), the outbound feed across server restarts between
//! write and publish, re-registration after a deregistration, "outside too
//! long", and the OpenAPI document.

use std::sync::{Arc, OnceLock};

use amina_client::device::{fix, DeviceClient};
use amina_client::integration::sign_request;
use amina_domain::monitor::{DeregistrationReason, Monitor};
use amina_domain::reminders::Notice;
use amina_domain::signal::{SignalKind, SignalSubject};
use amina_domain::types::CardNumber;
use amina_server::cards::{hash_secrets, parse_cards};
use amina_server::clock::{Clock, ManualClock};
use amina_server::config::{Config, SenderKey};
use amina_server::state::{build_monitor, AppState};
use amina_store::{EventQuery, NewSubscription, SharedStore, SignalQuery};
use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

const KREMLIN: (f64, f64) = (55.7520, 37.6175);
const TVER: (f64, f64) = (56.8587, 35.9176);
const KEY: [u8; 32] = [0x5a; 32];

const CARDS: &str = "card_number,activation_secret,activation_secret_hash,name_latin,name_cyrillic,citizenship,birth_date,purpose,valid_until
AB0000001,secret-one,,Alisher Karimov,Алишер Каримов,UZB,1994-03-12,work,2030-12-31
AB0000002,secret-two,,Farrukh Rahimov,Фаррух Рахимов,TJK,1989-07-01,work,2030-12-31
AB0000003,secret-three,,Aibek Toktogulov,Айбек Токтогулов,KGZ,1999-11-23,work,2030-12-31
AB0000004,secret-four,,Davron Usmonov,Даврон Усмонов,TJK,1991-02-14,work,2030-12-31
";

fn monitor(config: &Config) -> Monitor {
    static MONITOR: OnceLock<Monitor> = OnceLock::new();
    MONITOR
        .get_or_init(|| build_monitor(config).expect("default configuration builds"))
        .clone()
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test's database lives; kept across server restarts.
struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<amina_testkit::PgDatabase>,
}

impl Db {
    fn new(backend: Backend) -> Option<Db> {
        Some(match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite:{}", dir.path().join("amina.sqlite3").display());
                Db {
                    url,
                    _dir: Some(dir),
                    _pg: None,
                }
            }
            Backend::Postgres => {
                let pg = amina_testkit::fresh_pg_database()?;
                Db {
                    url: pg.url.clone(),
                    _dir: None,
                    _pg: Some(pg),
                }
            }
        })
    }
}

struct TestApp {
    base: String,
    clock: Arc<ManualClock>,
    state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    async fn start(db: &Db, now: Timestamp) -> TestApp {
        let mut config = Config::default();
        config.scheduler.enabled = false; // tests drain it synchronously
        config.database = db.url.clone();
        config.integration.senders.insert(
            "fms".into(),
            SenderKey(base64::engine::general_purpose::STANDARD.encode(KEY)),
        );
        config.integration.outside_working_days = 3;
        let store: SharedStore = amina_store::open(&db.url).await.expect("open store");
        store.migrate().await.expect("migrate");
        let clock = Arc::new(ManualClock::new(now));
        let state = AppState::new(store, monitor(&config), config, clock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(amina_server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        TestApp {
            base,
            clock,
            state,
            stop: Some(tx),
            done: Some(done),
        }
    }

    async fn spawn(backend: Backend, now: Timestamp) -> Option<(TestApp, Db)> {
        let db = Db::new(backend)?;
        let app = TestApp::start(&db, now).await;
        let mut parsed = parse_cards(
            CARDS.as_bytes(),
            &amina_domain::eligibility::Scope::default(),
            jiff::civil::date(2025, 1, 1),
        )
        .expect("test cards parse");
        hash_secrets(&mut parsed.accepted);
        app.store()
            .import_cards(parsed.accepted, now)
            .await
            .expect("import");
        Some((app, db))
    }

    /// Stop the server and wait until it has finished.
    async fn shut_down(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.unwrap().unwrap();
        }
    }

    fn store(&self) -> &SharedStore {
        &self.state.store
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    async fn phone(&self, card: &str, secret: &str) -> (DeviceClient, i64) {
        let mut phone = DeviceClient::new(&self.base);
        let clock = self.clock.clone();
        phone.clock = Arc::new(move || clock.now());
        phone.enrol_and_bind(card, secret).await.expect("enrol");
        (phone, self.person(card).await)
    }

    async fn person(&self, card: &str) -> i64 {
        self.store()
            .person_by_card(&CardNumber::parse(card).unwrap())
            .await
            .unwrap()
            .expect("enrolled")
            .person_id
    }

    /// A signed request from sender `sender` with `key`.
    async fn send(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: Option<&[u8]>,
        sender: &str,
        key: &[u8],
    ) -> (u16, Value) {
        let url = if query.is_empty() {
            format!("{}{}", self.base, path)
        } else {
            format!("{}{}?{}", self.base, path, query)
        };
        let http = reqwest::Client::new();
        let mut req = match method {
            "POST" => http.post(url),
            _ => http.get(url),
        };
        let created = self.now().as_second();
        for (name, value) in sign_request(sender, key, method, path, query, body, created) {
            req = req.header(name, value);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_vec());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn event(&self, event: &Value) -> (u16, Value) {
        let body = serde_json::to_vec(event).unwrap();
        self.send(
            "POST",
            "/v1/integration/events",
            "",
            Some(&body),
            "fms",
            &KEY,
        )
        .await
    }

    async fn feed(&self, after: i64) -> (u16, Value) {
        self.send(
            "GET",
            "/v1/integration/feed",
            &format!("after={after}&limit=50"),
            None,
            "fms",
            &KEY,
        )
        .await
    }

    async fn stored_events(&self) -> usize {
        self.store()
            .integration_events(EventQuery {
                limit: 1000,
                ..EventQuery::default()
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

fn utc(t: Timestamp) -> String {
    t.to_string()
}

fn moved(id: &str, card: &str, at: Timestamp, region: &str) -> Value {
    json!({"event_id": id, "type": "registered_in_region", "occurred_at": utc(at),
           "card_number": card, "region": region})
}

fn simple(id: &str, kind: &str, card: &str, at: Timestamp) -> Value {
    json!({"event_id": id, "type": kind, "occurred_at": utc(at), "card_number": card})
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

async fn each_event_type_over_http(b: Backend) {
    let Some((app, _db)) = TestApp::spawn(b, msk("2025-11-24T10:00")).await else {
        return;
    };
    let (p1, pid1) = app.phone("AB0000001", "secret-one").await;
    let (p2, _) = app.phone("AB0000002", "secret-two").await;
    let (_p3, _) = app.phone("AB0000003", "secret-three").await;
    let (p4, pid4) = app.phone("AB0000004", "secret-four").await;
    let device1 = p1.device_id.clone().unwrap();
    app.store()
        .put_subscription(
            &device1,
            NewSubscription {
                endpoint: "https://push.example/1".into(),
                p256dh: vec![4; 65],
                auth: vec![9; 16],
                lang: "uz".into(),
            },
            app.now(),
        )
        .await
        .unwrap();
    app.clock.advance(SignedDuration::from_hours(2));
    let at = app.now() - SignedDuration::from_mins(30);

    // Registered in Tver: deregistered, told to the person.
    let (code, body) = app.event(&moved("fms-1", "AB0000001", at, "RU-TVE")).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["outcome"], "deregistered");
    assert_eq!(body["status"], "applied");
    assert_eq!(body["duplicate"], false);
    let status = p1.status().await.unwrap();
    assert!(!status.registered);
    assert_eq!(
        status.deregistration_reason.as_deref(),
        Some("registered_elsewhere")
    );
    let rules = app.state.config.push.rules().unwrap();
    app.store()
        .plan_pushes(&rules, app.now(), 100)
        .await
        .unwrap();
    let outbox = app.store().push_outbox(pid1).await.unwrap();
    assert!(
        outbox.iter().any(|o| o.notice
            == Notice::Deregistered {
                reason: DeregistrationReason::RegisteredElsewhere
            }),
        "{outbox:?}"
    );
    // Delivered again: acknowledged, applied once.
    let (code, again) = app.event(&moved("fms-1", "AB0000001", at, "RU-TVE")).await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["outcome"], "deregistered");
    assert_eq!(app.store().deregistrations(pid1).await.unwrap().len(), 1);

    // Registered in Moscow Oblast: part of the pilot, nothing changes.
    let (code, body) = app.event(&moved("fms-2", "AB0000002", at, "RU-MOS")).await;
    assert_eq!(code, 201);
    assert_eq!(body["outcome"], "registered_in_pilot");
    assert!(body["explanation"].as_str().unwrap().contains("pilot"));
    assert!(p2.status().await.unwrap().registered);
    // Out of order: a departure dated before the enrolment changes nothing.
    let before = msk("2025-11-20T10:00");
    let (code, body) = app
        .event(&simple("fms-3", "left_country", "AB0000002", before))
        .await;
    assert_eq!(code, 201);
    assert_eq!(body["outcome"], "older_than_registration");
    assert!(p2.status().await.unwrap().registered);
    // Left the country now.
    let (_, body) = app
        .event(&simple("fms-4", "left_country", "AB0000002", at))
        .await;
    assert_eq!(body["outcome"], "deregistered");
    assert_eq!(
        p2.status().await.unwrap().deregistration_reason.as_deref(),
        Some("left_country")
    );

    // Document invalidated: deregistered, and the card cannot enrol again.
    let (_, body) = app
        .event(&simple("fms-5", "document_invalidated", "AB0000003", at))
        .await;
    assert_eq!(body["outcome"], "deregistered");
    let mut fresh = DeviceClient::new(&app.base);
    let clock = app.clock.clone();
    fresh.clock = Arc::new(move || clock.now());
    let refused = fresh.enrol("AB0000003", "secret-three").await.unwrap_err();
    assert_eq!(
        (refused.status(), refused.code()),
        (Some(403), Some("card_invalid"))
    );

    // Card reissued: the same person and phone, a new number.
    let reissue = json!({"event_id": "fms-6", "type": "card_reissued", "occurred_at": utc(at),
        "card_number": "AB0000004", "new_card_number": "AB0000444",
        "new_card_valid_until": "2031-12-31"});
    let (code, body) = app.event(&reissue).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["outcome"], "card_replaced");
    assert_eq!(app.person("AB0000444").await, pid4);
    assert!(p4.status().await.unwrap().registered);

    // Unknown person: stored and reported, not dropped.
    let (code, body) = app
        .event(&simple("fms-7", "left_country", "ZZ0000001", at))
        .await;
    assert_eq!(code, 201);
    assert_eq!(body["status"], "unknown_person");
    let unknown = app
        .store()
        .integration_events(EventQuery {
            status: Some("unknown_person".into()),
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].event.card_number.as_str(), "ZZ0000001");
}

async fn bad_events_are_refused_and_change_nothing(b: Backend) {
    let Some((app, _db)) = TestApp::spawn(b, msk("2025-11-24T10:00")).await else {
        return;
    };
    let (phone, pid) = app.phone("AB0000001", "secret-one").await;
    let at = app.now();
    let good = serde_json::to_vec(&moved("e-1", "AB0000001", at, "RU-TVE")).unwrap();
    let url = format!("{}/v1/integration/events", app.base);

    // Unsigned.
    let resp = reqwest::Client::new()
        .post(&url)
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "signature_missing");
    // Wrongly signed (another key), unknown sender.
    let path = "/v1/integration/events";
    let (code, body) = app
        .send("POST", path, "", Some(&good), "fms", &[0x11; 32])
        .await;
    assert_eq!(
        (code, body["error"].as_str()),
        (401, Some("signature_invalid"))
    );
    let (code, body) = app
        .send("POST", path, "", Some(&good), "someone", &KEY)
        .await;
    assert_eq!(
        (code, body["error"].as_str()),
        (401, Some("unknown_sender"))
    );
    // Signed for one body, sent with another.
    let mut req = reqwest::Client::new().post(&url);
    for (n, v) in sign_request("fms", &KEY, "POST", path, "", Some(&good), at.as_second()) {
        req = req.header(n, v);
    }
    let other = serde_json::to_vec(&moved("e-1", "AB0000001", at, "RU-SPE")).unwrap();
    let resp = req.body(other).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // A stale signature.
    let mut req = reqwest::Client::new().post(&url);
    for (n, v) in sign_request(
        "fms",
        &KEY,
        "POST",
        path,
        "",
        Some(&good),
        at.as_second() - 3600,
    ) {
        req = req.header(n, v);
    }
    let resp = req.body(good.clone()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    // Signed, but refused for its content: 4xx with the reason.
    let cases = [
        (
            simple("e-2", "moved_to_the_moon", "AB0000001", at),
            422,
            "unknown_event_type",
        ),
        (
            moved("e-3", "AB0000001", msk("2019-06-03T10:00"), "RU-TVE"),
            422,
            "date_outside_calendar",
        ),
        (
            moved(
                "e-4",
                "AB0000001",
                at + SignedDuration::from_hours(2),
                "RU-TVE",
            ),
            422,
            "occurred_in_future",
        ),
        (moved("e-5", "AB0000001", at, "Tver"), 422, "invalid_region"),
        (
            json!({"event_id": "e-6", "type": "left_country", "occurred_at": utc(at),
                   "card_number": "AB0000001", "colour": "red"}),
            400,
            "unknown_field",
        ),
    ];
    for (event, status, code) in &cases {
        let (got, body) = app.event(event).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (*status, Some(*code)),
            "{body}"
        );
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    // Nothing changed.
    assert_eq!(app.stored_events().await, 0);
    assert!(phone.status().await.unwrap().registered);
    assert!(app.store().deregistrations(pid).await.unwrap().is_empty());
    // The sender can see why, newest first; unsigned requests are not kept.
    let (code, body) = app
        .send(
            "GET",
            "/v1/integration/rejections",
            "limit=20",
            None,
            "fms",
            &KEY,
        )
        .await;
    assert_eq!(code, 200);
    let listed: Vec<(String, String)> = body["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["event_id"].as_str().unwrap().to_string(),
                r["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = cases
        .iter()
        .rev()
        .map(|(e, _, c)| (e["event_id"].as_str().unwrap().to_string(), c.to_string()))
        .collect();
    assert_eq!(listed, expected);
    // The same id reused for a different event after a good one: 409, listed.
    let (code, _) = app.event(&moved("e-7", "AB0000001", at, "RU-MOW")).await;
    assert_eq!(code, 201);
    let (code, body) = app.event(&moved("e-7", "AB0000001", at, "RU-TVE")).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (409, Some("event_id_reused"))
    );
    assert!(phone.status().await.unwrap().registered);
    // Bad feed requests.
    let (code, body) = app
        .send("GET", "/v1/integration/feed", "after=-1", None, "fms", &KEY)
        .await;
    assert_eq!(
        (code, body["error"].as_str()),
        (400, Some("invalid_cursor"))
    );
    let (code, body) = app
        .send("GET", "/v1/integration/feed", "limit=0", None, "fms", &KEY)
        .await;
    assert_eq!((code, body["error"].as_str()), (400, Some("invalid_limit")));
    let resp = reqwest::get(format!("{}/v1/integration/feed", app.base))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

async fn the_feed_survives_restarts_between_write_and_publish(b: Backend) {
    let Some((app, db)) = TestApp::spawn(b, msk("2025-11-24T10:00")).await else {
        return;
    };
    // Three committed changes: a registration, a deregistration (from an
    // event), a registration on return. Nothing is published yet (the
    // scheduler is off and nobody read the feed).
    app.phone("AB0000001", "secret-one").await;
    app.clock.advance(SignedDuration::from_hours(1));
    let (code, _) = app
        .event(&moved("m-1", "AB0000001", app.now(), "RU-TVE"))
        .await;
    assert_eq!(code, 201);
    app.clock.advance(SignedDuration::from_hours(1));
    app.phone("AB0000001", "secret-one").await;
    assert_eq!(app.store().unpublished_feed().await.unwrap(), 3);
    let now = app.now();
    app.shut_down().await;

    let app = TestApp::start(&db, now).await;
    let (code, page) = app.feed(0).await;
    assert_eq!(code, 200, "{page}");
    let entries = page["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["registration", "deregistration", "registration"]);
    let positions: Vec<i64> = entries
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2, 3]);
    assert_eq!(entries[1]["details"]["reason"], "registered_elsewhere");
    assert!(entries.iter().all(|e| e["card_number"] == "AB0000001"));
    assert_eq!(page["next_after"], 3);
    assert_eq!(page["has_more"], false);
    // Exactly the committed changes.
    let pid = app.person("AB0000001").await;
    let history = app.store().person_events(pid).await.unwrap();
    let committed = history
        .iter()
        .filter(|e| e.kind == "registered" || e.kind == "deregistered")
        .count();
    assert_eq!(committed, 3);
    let (_, empty) = app.feed(3).await;
    assert!(empty["entries"].as_array().unwrap().is_empty());
    assert_eq!(empty["next_after"], 3);
    app.shut_down().await;

    // Another restart: the same entries, not doubled.
    let app = TestApp::start(&db, now).await;
    let (_, again) = app.feed(0).await;
    assert_eq!(again["entries"], page["entries"]);
    // A change after the restart continues the sequence.
    app.phone("AB0000002", "secret-two").await;
    let (_, next) = app.feed(3).await;
    let next = next["entries"].as_array().unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0]["position"], 4);
    assert_eq!(next[0]["card_number"], "AB0000002");
}

async fn people_re_register_on_return_and_history_is_kept(b: Backend) {
    let Some((app, _db)) = TestApp::spawn(b, msk("2025-11-24T10:00")).await else {
        return;
    };
    // Registered elsewhere, then back.
    let (phone, pid) = app.phone("AB0000001", "secret-one").await;
    let (_, _) = app.phone("AB0000002", "secret-two").await;
    let pid2 = app.person("AB0000002").await;
    phone
        .upload(&[fix(1, KREMLIN.0, KREMLIN.1, 15.0, app.now())])
        .await
        .unwrap();
    app.clock.advance(SignedDuration::from_hours(1));
    app.event(&moved("r-1", "AB0000001", app.now(), "RU-TVE"))
        .await;
    assert!(!phone.status().await.unwrap().registered);
    app.clock.advance(SignedDuration::from_hours(24));
    let (again, _) = app.phone("AB0000001", "secret-one").await;
    let status = again.status().await.unwrap();
    assert!(status.registered);
    assert_eq!(app.person("AB0000001").await, pid);
    let data = again.my_data().await.unwrap();
    assert_eq!(data.registrations.len(), 2);
    assert!(data
        .registrations
        .iter()
        .any(|r| r.end_reason.as_deref() == Some("registered_elsewhere")));

    // No monitoring: the scheduler deregisters, a registry proposal is made;
    // the person comes back and enrols again; the proposal and the history stay.
    app.clock.advance(SignedDuration::from_hours(24 * 10));
    amina_server::scheduler::run_once(&app.state).await.unwrap();
    let d = app.store().deregistrations(pid2).await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].reason, DeregistrationReason::NoMonitoring);
    let (back, _) = app.phone("AB0000002", "secret-two").await;
    assert!(back.status().await.unwrap().registered);
    amina_server::scheduler::run_once(&app.state).await.unwrap();
    let registry = app.store().registry_entries(None, 100).await.unwrap();
    let mine: Vec<_> = registry.iter().filter(|r| r.person_id == pid2).collect();
    assert_eq!(mine.len(), 1, "the proposal stays for the supervisor");
    let data = back.my_data().await.unwrap();
    assert_eq!(data.registrations.len(), 2);
    assert!(data
        .registrations
        .iter()
        .any(|r| r.end_reason.as_deref() == Some("no_monitoring")));
}

async fn outside_too_long_raises_a_signal_and_tells_the_person(b: Backend) {
    // Monday 24 Nov 2025.
    let Some((app, _db)) = TestApp::spawn(b, msk("2025-11-24T10:00")).await else {
        return;
    };
    let (phone, pid) = app.phone("AB0000001", "secret-one").await;
    phone
        .upload(&[fix(1, KREMLIN.0, KREMLIN.1, 15.0, app.now())])
        .await
        .unwrap();
    // To Tver on Wednesday, reporting from there daily.
    app.clock.advance(SignedDuration::from_hours(48));
    let left = app.now();
    for seq in 2..=9 {
        phone
            .upload(&[fix(seq, TVER.0, TVER.1, 15.0, app.now())])
            .await
            .unwrap();
        amina_server::integration_job::run_once(&app.state)
            .await
            .unwrap();
        app.clock.advance(SignedDuration::from_hours(24));
    }
    let status = phone.status().await.unwrap();
    assert!(status.registered, "outside is never a deregistration");
    assert_eq!(status.presence, "outside");
    let signals = app
        .store()
        .signals(SignalQuery {
            kind: Some(SignalKind::OutsideTooLong),
            limit: 10,
            ..SignalQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].subject, SignalSubject::Person(pid));
    assert_eq!(signals[0].evidence["outside_since"], left.to_string());
    // Three working days after Wednesday 26 Nov end on Monday 1 Dec.
    assert_eq!(
        signals[0].evidence["limit_passed_at"],
        msk("2025-12-01T23:59:59.999").to_string()
    );
    let pushes: Vec<_> = app
        .store()
        .push_outbox(pid)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| matches!(o.notice, Notice::OutsideTooLong { .. }))
        .collect();
    assert_eq!(pushes.len(), 1);
    for lang in ["ru", "en", "uz", "tg", "ky"] {
        let text = amina_server::push::render::render(&pushes[0].notice, lang).expect(lang);
        assert!(!text.body.is_empty());
    }
}

on_both_backends!(
    each_event_type_over_http,
    bad_events_are_refused_and_change_nothing,
    the_feed_survives_restarts_between_write_and_publish,
    people_re_register_on_return_and_history_is_kept,
    outside_too_long_raises_a_signal_and_tells_the_person,
);

#[tokio::test(flavor = "multi_thread")]
async fn the_integration_api_is_documented_and_in_the_rule_table() {
    use amina_server::console::authz::{self, Access};
    let Some((app, _db)) = TestApp::spawn(Backend::Sqlite, msk("2025-11-24T10:00")).await else {
        return;
    };
    let doc: Value = reqwest::get(format!("{}/openapi.json", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/v1/integration/events", "post"),
        ("/v1/integration/feed", "get"),
        ("/v1/integration/rejections", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{path} missing");
        let rule = authz::rule_for(&method.to_uppercase().parse().unwrap(), path).expect(path);
        assert_eq!(rule.access, Access::Integration);
        for role in amina_domain::console::Role::ALL {
            assert!(!authz::allows(rule, role), "{path} grants a console role");
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["EventWire"]["example"]["type"],
        "registered_in_region"
    );
    assert!(schemas["FeedPage"]["example"]["entries"].is_array());
    assert!(doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "integration"
            && t["description"].as_str().unwrap().contains("hmac-sha256")));
}
