//! End-to-end tests through the real HTTP server, on both backends.
//!
//! Each test gets a `TestApp`: a fresh database (a SQLite file in a temp dir,
//! or a fresh PostgreSQL database from `amina_testkit`), the real router on
//! a port-0 listener, and a manual clock so deadlines can be crossed without
//! waiting. Phones are `amina_client::DeviceClient`s with their own P-256
//! keys, signing every request as a real device does.

use std::sync::{Arc, OnceLock};

use amina_client::device::{fix, ClientError, DeviceClient};
use amina_client::proto::FixWire;
use amina_domain::monitor::Monitor;
use amina_server::cards::{hash_secrets, parse_cards};
use amina_server::clock::{Clock, ManualClock};
use amina_server::config::Config;
use amina_server::state::{build_monitor, AppState};
use amina_store::SharedStore;
use jiff::{SignedDuration, Timestamp};

const KREMLIN: (f64, f64) = (55.7520, 37.6175);
const TVER: (f64, f64) = (56.8587, 35.9176);

const CARDS: &str = "card_number,activation_secret,activation_secret_hash,name_latin,name_cyrillic,citizenship,birth_date,purpose,valid_until
AB0000001,secret-one,,Alisher Karimov,Алишер Каримов,UZB,1994-03-12,work,2030-12-31
AB0000002,secret-two,,Farrukh Rahimov,Фаррух Рахимов,TJK,1989-07-01,work,2030-12-31
AB0000003,secret-three,,Aibek Toktogulov,Айбек Токтогулов,KGZ,1999-11-23,work,2025-10-31
";

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
    /// A server whose clock starts at `start`. None when PostgreSQL is
    /// unavailable and the run is not strict (testkit printed why).
    async fn spawn(backend: Backend, start: Timestamp) -> Option<TestApp> {
        Self::spawn_with(backend, start, |_| {}).await
    }

    /// [`TestApp::spawn`] with the configuration changed by `configure`.
    async fn spawn_with(
        backend: Backend,
        start: Timestamp,
        configure: impl FnOnce(&mut Config),
    ) -> Option<TestApp> {
        let mut config = Config::default();
        config.scheduler.enabled = false; // tests drain it synchronously
        configure(&mut config);
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
        let tls = config.tls.enabled();
        let state = AppState::new(store, monitor(&config), config, clock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = if tls {
            format!("https://localhost:{port}")
        } else {
            format!("http://127.0.0.1:{port}")
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(amina_server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        let app = TestApp {
            base,
            clock,
            state,
            stop: Some(tx),
            _dir: dir,
            _pg: pg,
        };
        app.import_cards().await;
        Some(app)
    }

    async fn import_cards(&self) {
        let now = self.clock.now();
        let mut parsed = parse_cards(
            CARDS.as_bytes(),
            &amina_domain::eligibility::Scope::default(),
            jiff::civil::date(2025, 1, 1),
        )
        .expect("test cards parse");
        hash_secrets(&mut parsed.accepted);
        self.state
            .store
            .import_cards(parsed.accepted, now)
            .await
            .expect("import");
    }

    fn phone(&self) -> DeviceClient {
        let mut phone = DeviceClient::new(&self.base);
        let clock = self.clock.clone();
        phone.clock = Arc::new(move || clock.now());
        phone
    }

    async fn enrolled_phone(&self, card: &str, secret: &str) -> DeviceClient {
        let mut phone = self.phone();
        phone
            .enrol_and_bind(card, secret)
            .await
            .expect("enrol and bind");
        phone
    }

    fn advance(&self, d: SignedDuration) {
        self.clock.advance(d);
    }

    async fn fix_count(&self, card: &str) -> usize {
        let number = amina_domain::types::CardNumber::parse(card).unwrap();
        match self.state.store.person_by_card(&number).await.unwrap() {
            Some(p) => self
                .state
                .store
                .fixes(p.person_id, 10_000)
                .await
                .unwrap()
                .len(),
            None => 0,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(format!("{}{}", self.base, path))
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

fn moscow(s: &str) -> Timestamp {
    amina_domain::time::parse_moscow(s).unwrap()
}

fn api_code(r: Result<impl std::fmt::Debug, ClientError>) -> (u16, String) {
    match r {
        Err(e) => (
            e.status().unwrap_or(0),
            e.code().unwrap_or("transport").to_string(),
        ),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
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

/// Device churn: a revoked phone still uploading, then the daily job.
#[path = "api/detection.rs"]
mod detection;
/// Place-of-stay notices, "my data" and enrolment codes.
#[path = "api/stay.rs"]
mod stay;

/// OwnTracks as a reporting device.
#[path = "api/owntracks.rs"]
mod owntracks;

/// Abuse limits, proof replays, security headers, TLS.
#[path = "api/limits.rs"]
mod limits;

/// Key-bound device sessions: one signature, then a MAC per request.
#[path = "api/sessions.rs"]
mod sessions;

/// Device and integration routes in the authorisation matrix; horizontal
/// checks between phones.
#[path = "api/access.rs"]
mod access;

on_both_backends!(
    full_journey_enrol_upload_retry_deadline_deregistration,
    offline_fixes_count_at_their_recorded_instant,
    outside_and_implausible_fixes,
    bad_fix_uploads_are_refused_and_change_nothing,
    bad_signatures_are_refused,
    enrolment_backoff_and_lockout,
    rebinding_revokes_the_old_device,
    dates_outside_the_calendar_are_refused,
    operational_endpoints,
    enrolling_after_a_missed_deadline_ends_the_old_registration_first,
);

/// A person who missed the deadline and enrols again before the scheduler
/// ran still gets the no-monitoring deregistration on record, then a new
/// registration.
async fn enrolling_after_a_missed_deadline_ends_the_old_registration_first(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-28T18:00:00")).await else {
        return;
    };
    let _phone = app.enrolled_phone("AB0000001", "secret-one").await;
    app.clock.set(moscow("2025-12-04T09:00:00"));
    let mut again = app.phone();
    let bound = again
        .enrol_and_bind("AB0000001", "secret-one")
        .await
        .unwrap();
    assert!(bound.status.registered);
    assert_eq!(
        bound.status.deadline_moscow.as_deref(),
        Some("2025-12-09T23:59:59.999+03:00"),
        "a new window from Thursday 4 Dec: 5, 8, 9 Dec"
    );
    let number = amina_domain::types::CardNumber::parse("AB0000001").unwrap();
    let person = app
        .state
        .store
        .person_by_card(&number)
        .await
        .unwrap()
        .unwrap();
    let d = app
        .state
        .store
        .deregistrations(person.person_id)
        .await
        .unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].reason.as_str(), "no_monitoring");
    assert_eq!(d[0].effective_at.to_string(), "2025-12-03T20:59:59.999Z");
    assert!(amina_server::scheduler::run_once(&app.state)
        .await
        .unwrap()
        .is_empty());
}

/// Import, enrol, bind, upload, retry, status, cross the deadline,
/// deregistration visible — DESIGN.md's worked example.
async fn full_journey_enrol_upload_retry_deadline_deregistration(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-28T09:00:00")).await else {
        return;
    };
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    let status = phone.status().await.unwrap();
    assert!(status.registered);
    assert_eq!(status.presence, "unknown");
    assert_eq!(
        status.deadline_moscow.as_deref(),
        Some("2025-12-03T23:59:59.999+03:00"),
        "enrolment on Friday 28 Nov starts a window ending Wednesday 3 Dec"
    );

    // Friday 18:00 Moscow: a fix from the Kremlin.
    app.clock.set(moscow("2025-11-28T18:00:00"));
    let batch = vec![
        fix(1, KREMLIN.0, KREMLIN.1, 12.0, moscow("2025-11-28T17:59:00")),
        fix(2, KREMLIN.0, KREMLIN.1, 12.0, moscow("2025-11-28T18:00:00")),
    ];
    let r = phone.upload(&batch).await.unwrap();
    assert_eq!(r.accepted, vec![1, 2]);
    assert!(r.duplicates.is_empty());
    assert_eq!(r.status.presence, "in_region");
    assert_eq!(
        r.status.deadline_moscow.as_deref(),
        Some("2025-12-03T23:59:59.999+03:00")
    );

    // The phone did not get the answer and sends the same batch again.
    let again = phone.upload(&batch).await.unwrap();
    assert!(again.accepted.is_empty());
    assert_eq!(again.duplicates, vec![1, 2]);
    assert_eq!(app.fix_count("AB0000001").await, 2, "nothing stored twice");

    // Wednesday 23:59:59.999: still registered; the scheduler finds nobody.
    app.clock.set(moscow("2025-12-03T23:59:59.999"));
    assert!(amina_server::scheduler::run_once(&app.state)
        .await
        .unwrap()
        .is_empty());
    assert!(phone.status().await.unwrap().registered);

    // One millisecond later the deadline has passed.
    app.advance(SignedDuration::from_millis(1));
    let done = amina_server::scheduler::run_once(&app.state).await.unwrap();
    assert_eq!(done.len(), 1);
    // Running it again does nothing: idempotent.
    assert!(amina_server::scheduler::run_once(&app.state)
        .await
        .unwrap()
        .is_empty());
    let status = phone.status().await.unwrap();
    assert!(!status.registered);
    assert_eq!(
        status.deregistration_reason.as_deref(),
        Some("no_monitoring")
    );
    assert_eq!(status.deadline_at, None);

    // Evidence and rule version are recorded.
    let d = app
        .state
        .store
        .deregistrations(done[0].person_id)
        .await
        .unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].evidence["deadline_at"], "2025-12-03T20:59:59.999Z");
    assert_eq!(d[0].evidence["last_monitoring_at"], "2025-11-28T15:00:00Z");
    assert!(
        d[0].rule_version.contains("3 working days"),
        "{}",
        d[0].rule_version
    );

    // A late fix is stored but does not undo the deregistration.
    let late = phone
        .upload(&[fix(
            3,
            KREMLIN.0,
            KREMLIN.1,
            12.0,
            moscow("2025-12-04T00:00:05"),
        )])
        .await
        .unwrap();
    assert_eq!(late.accepted, vec![3]);
    assert!(!late.status.registered);

    // Re-registration through the app starts a new window.
    let mut phone2 = app.phone();
    let bound = phone2
        .enrol_and_bind("AB0000001", "secret-one")
        .await
        .unwrap();
    assert!(bound.status.registered);
}

/// DESIGN.md: fixes recorded offline and uploaded later count at the
/// instant they were recorded, if they arrive before the deadline that
/// instant implies.
async fn offline_fixes_count_at_their_recorded_instant(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-12-29T10:00:00")).await else {
        return;
    };
    let phone = app.enrolled_phone("AB0000002", "secret-two").await;
    // Recorded on 30 Dec while offline, uploaded on 12 Jan 2026: the New
    // Year holidays make the window long (deadline 14 Jan end of day).
    app.clock.set(moscow("2026-01-12T09:00:00"));
    let r = phone
        .upload(&[
            fix(2, KREMLIN.0, KREMLIN.1, 20.0, moscow("2025-12-30T20:00:00")),
            fix(1, KREMLIN.0, KREMLIN.1, 20.0, moscow("2025-12-30T08:00:00")),
        ])
        .await
        .unwrap();
    assert_eq!(r.accepted.len(), 2);
    assert!(r.status.registered);
    assert_eq!(
        r.status.last_monitoring_at.as_deref(),
        Some("2025-12-30T17:00:00Z")
    );
    assert_eq!(
        r.status.deadline_moscow.as_deref(),
        Some("2026-01-14T23:59:59.999+03:00")
    );
    app.clock.set(moscow("2026-01-15T00:00:00"));
    assert_eq!(
        amina_server::scheduler::run_once(&app.state)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn outside_and_implausible_fixes(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-10T08:00:00")).await else {
        return;
    };
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    app.clock.set(moscow("2025-11-10T12:00:00"));
    phone
        .upload(&[fix(
            1,
            KREMLIN.0,
            KREMLIN.1,
            10.0,
            moscow("2025-11-10T09:00:00"),
        )])
        .await
        .unwrap();
    // Ten minutes later "in Tver", 160 km away: impossible speed; flagged,
    // counts as monitoring, presence unchanged.
    let r = phone
        .upload(&[fix(2, TVER.0, TVER.1, 10.0, moscow("2025-11-10T09:10:00"))])
        .await
        .unwrap();
    assert_eq!(r.flagged, vec![2]);
    assert_eq!(r.status.presence, "in_region");
    assert_eq!(
        r.status.last_monitoring_at.as_deref(),
        Some("2025-11-10T06:10:00Z")
    );
    // Three hours later, really in Tver (plausible from there, confirmed):
    // presence becomes outside; the person is not deregistered for it.
    let r = phone
        .upload(&[fix(3, TVER.0, TVER.1, 10.0, moscow("2025-11-10T11:30:00"))])
        .await
        .unwrap();
    assert!(r.flagged.is_empty());
    assert_eq!(r.status.presence, "outside");
    assert_eq!(
        r.status.presence_since.as_deref(),
        Some("2025-11-10T08:30:00Z")
    );
    assert!(r.status.registered);
    // A mock-location fix is flagged and never moves presence.
    let mut mock = fix(4, KREMLIN.0, KREMLIN.1, 10.0, moscow("2025-11-10T11:40:00"));
    mock.mock = true;
    let r = phone.upload(&[mock]).await.unwrap();
    assert_eq!(r.flagged, vec![4]);
    assert_eq!(r.status.presence, "outside");
}

async fn bad_fix_uploads_are_refused_and_change_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-10T08:00:00")).await else {
        return;
    };
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    app.clock.set(moscow("2025-11-10T12:00:00"));
    let good = |seq| {
        fix(
            seq,
            KREMLIN.0,
            KREMLIN.1,
            10.0,
            moscow("2025-11-10T11:00:00"),
        )
    };
    phone.upload(&[good(1)]).await.unwrap();
    let before = phone.status().await.unwrap();

    let with = |f: &dyn Fn(&mut FixWire)| {
        let mut w = good(2);
        f(&mut w);
        vec![good(3), w]
    };
    let cases: Vec<(&str, Vec<FixWire>, u16)> = vec![
        ("invalid_latitude", with(&|w| w.lat = 91.0), 422),
        ("invalid_longitude", with(&|w| w.lon = -181.0), 422),
        ("invalid_accuracy", with(&|w| w.accuracy_m = 0.0), 422),
        ("invalid_accuracy", with(&|w| w.accuracy_m = -5.0), 422),
        (
            "invalid_recorded_at",
            with(&|w| w.recorded_at = "yesterday".into()),
            422,
        ),
        ("invalid_source", with(&|w| w.source = "wifi".into()), 422),
        ("invalid_battery", with(&|w| w.battery_pct = Some(150)), 422),
        ("invalid_sequence", with(&|w| w.seq = 0), 422),
        (
            "recorded_in_future",
            with(&|w| w.recorded_at = moscow("2025-11-10T12:06:00").to_string()),
            422,
        ),
        (
            "recorded_before_enrolment",
            with(&|w| w.recorded_at = moscow("2025-11-10T07:59:00").to_string()),
            422,
        ),
        (
            "sequence_reused",
            vec![
                good(3),
                fix(1, 55.0, 37.0, 10.0, moscow("2025-11-10T11:00:00")),
            ],
            409,
        ),
        (
            "duplicate_sequence_in_batch",
            vec![
                good(3),
                fix(3, 55.0, 37.0, 10.0, moscow("2025-11-10T11:00:00")),
            ],
            422,
        ),
        ("empty_batch", vec![], 422),
        ("batch_too_large", (1..=501).map(good).collect(), 413),
    ];
    for (code, batch, status) in cases {
        let got = api_code(phone.upload(&batch).await);
        assert_eq!(got, (status, code.to_string()), "case {code}");
    }
    // Raw bodies: malformed JSON, NaN, unknown fields.
    for (body, code) in [
        (&b"{not json"[..], "malformed_json"),
        (
            br#"{"fixes":[{"seq":3,"lat":NaN,"lon":37.6,"accuracy_m":5,"recorded_at":"2025-11-10T08:00:00Z","source":"gps"}]}"#,
            "malformed_json",
        ),
        (
            br#"{"fixes":[{"seq":3,"lat":55.7,"lon":37.6,"accuracy_m":5,"recorded_at":"2025-11-10T08:00:00Z","source":"gps","speed":3}]}"#,
            "unknown_field",
        ),
        (br#"{"fixes":[],"extra":1}"#, "unknown_field"),
    ] {
        assert_eq!(api_code(phone.upload_raw(body).await), (400, code.to_string()));
    }
    // Oversized body.
    let huge = vec![b' '; 300 * 1024];
    assert_eq!(
        api_code(phone.upload_raw(&huge).await),
        (413, "body_too_large".into())
    );

    assert_eq!(
        app.fix_count("AB0000001").await,
        1,
        "no refused fix was stored"
    );
    assert_eq!(
        phone.status().await.unwrap(),
        before,
        "no refused batch changed the state"
    );
}

async fn bad_signatures_are_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-10T08:00:00")).await else {
        return;
    };
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    app.clock.set(moscow("2025-11-10T09:00:00"));
    let device_id = phone.device_id.clone().unwrap();
    let body = serde_json::to_vec(&amina_client::proto::FixBatch {
        fixes: vec![fix(
            1,
            KREMLIN.0,
            KREMLIN.1,
            10.0,
            moscow("2025-11-10T08:30:00"),
        )],
    })
    .unwrap();
    let http = reqwest::Client::new();
    let send = |headers: Vec<(&'static str, String)>, body: Vec<u8>| {
        let mut req = http.post(format!("{}/v1/fixes", app.base)).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    let code = |resp: reqwest::Response| async move {
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap();
        (status, body["error"].as_str().unwrap().to_string())
    };
    let now_s = app.clock.now().as_second();

    // No signature at all.
    assert_eq!(
        code(send(vec![], body.clone()).await.unwrap()).await,
        (401, "signature_missing".into())
    );
    // Signed by another key under this device's id.
    let thief = amina_client::key::DeviceKey::generate();
    let h = thief.sign_request("POST", "/v1/fixes", Some(&body), &device_id, now_s);
    let hdrs = as_headers(&h);
    assert_eq!(
        code(send(hdrs, body.clone()).await.unwrap()).await,
        (401, "signature_invalid".into())
    );
    // Right key, body changed after signing.
    let h = phone
        .key
        .sign_request("POST", "/v1/fixes", Some(&body), &device_id, now_s);
    let mut tampered = body.clone();
    tampered[20] ^= 1;
    let hdrs = as_headers(&h);
    assert_eq!(
        code(send(hdrs.clone(), tampered).await.unwrap()).await,
        (400, "digest_mismatch".into())
    );
    // Right key, signed for another path.
    let h2 = phone
        .key
        .sign_request("POST", "/v1/other", Some(&body), &device_id, now_s);
    let hdrs2 = as_headers(&h2);
    assert_eq!(
        code(send(hdrs2, body.clone()).await.unwrap()).await,
        (401, "signature_invalid".into())
    );
    // Stale signature (created 10 minutes ago).
    let h3 = phone
        .key
        .sign_request("POST", "/v1/fixes", Some(&body), &device_id, now_s - 600);
    let hdrs3 = as_headers(&h3);
    assert_eq!(
        code(send(hdrs3, body.clone()).await.unwrap()).await,
        (401, "signature_expired".into())
    );
    // Unknown device id.
    let h4 = phone
        .key
        .sign_request("POST", "/v1/fixes", Some(&body), "dv_nobody", now_s);
    let hdrs4 = as_headers(&h4);
    assert_eq!(
        code(send(hdrs4, body.clone()).await.unwrap()).await,
        (401, "unknown_device".into())
    );
    // Garbage headers.
    let hdrs5 = vec![
        ("signature-input", "amina=(".to_string()),
        ("signature", "amina=:AAAA:".to_string()),
    ];
    assert_eq!(
        code(send(hdrs5, body.clone()).await.unwrap()).await,
        (401, "signature_malformed".into())
    );

    assert_eq!(app.fix_count("AB0000001").await, 0);
    // The genuine request still works.
    assert_eq!(code_ok(send(hdrs, body).await.unwrap()).await, 200);
    assert_eq!(app.fix_count("AB0000001").await, 1);
}

fn as_headers(h: &amina_client::key::SignedHeaders) -> Vec<(&'static str, String)> {
    vec![
        ("content-digest", h.content_digest.clone().unwrap()),
        ("signature-input", h.signature_input.clone()),
        ("signature", h.signature.clone()),
    ]
}

async fn code_ok(resp: reqwest::Response) -> u16 {
    resp.status().as_u16()
}

async fn enrolment_backoff_and_lockout(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-10T08:00:00")).await else {
        return;
    };
    let phone = app.phone();
    assert_eq!(
        api_code(phone.enrol("AB0000009", "x").await),
        (401, "invalid_credentials".into()),
        "unknown card answers like a wrong secret"
    );
    assert_eq!(
        api_code(phone.enrol("AB-1", "x").await),
        (422, "invalid_card_number".into())
    );
    assert_eq!(
        api_code(phone.enrol("AB0000003", "secret-three").await),
        (403, "card_expired".into())
    );
    assert_eq!(
        api_code(phone.enrol("AB0000001", "wrong").await),
        (401, "invalid_credentials".into())
    );
    // Immediately again: back off (even with the right secret).
    assert_eq!(
        api_code(phone.enrol("AB0000001", "secret-one").await),
        (429, "too_many_attempts".into())
    );
    for _ in 0..4 {
        app.advance(SignedDuration::from_mins(10));
        phone.enrol("AB0000001", "wrong").await.unwrap_err();
    }
    app.advance(SignedDuration::from_mins(10));
    assert_eq!(
        api_code(phone.enrol("AB0000001", "secret-one").await),
        (423, "card_locked".into())
    );
    let number = amina_domain::types::CardNumber::parse("AB0000001").unwrap();
    assert!(app
        .state
        .store
        .unlock_card(&number, "operator-1", app.clock.now())
        .await
        .unwrap());
    phone.enrol("AB0000001", "secret-one").await.unwrap();
}

async fn rebinding_revokes_the_old_device(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-10T08:00:00")).await else {
        return;
    };
    let old = app.enrolled_phone("AB0000001", "secret-one").await;
    app.advance(SignedDuration::from_mins(5));
    old.upload(&[fix(1, KREMLIN.0, KREMLIN.1, 10.0, app.clock.now())])
        .await
        .unwrap();
    // Lost phone: enrol again with card + secret on a new phone.
    let new = app.enrolled_phone("AB0000001", "secret-one").await;
    let r = old
        .upload(&[fix(2, KREMLIN.0, KREMLIN.1, 10.0, app.clock.now())])
        .await;
    assert_eq!(api_code(r), (403, "device_revoked".into()));
    assert_eq!(api_code(old.status().await), (403, "device_revoked".into()));
    let s = new.status().await.unwrap();
    assert!(s.registered, "rebinding keeps the registration");
    assert!(s.last_monitoring_at.is_some());
    let number = amina_domain::types::CardNumber::parse("AB0000001").unwrap();
    let person = app
        .state
        .store
        .person_by_card(&number)
        .await
        .unwrap()
        .unwrap();
    let kinds: Vec<String> = app
        .state
        .store
        .person_events(person.person_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            "registered",
            "device_bound",
            "device_revoked",
            "device_rebound"
        ]
    );
    // A binding token works once.
    let mut third = app.phone();
    let e = third.enrol("AB0000001", "secret-one").await.unwrap();
    third.bind(&e.binding_token).await.unwrap();
    let mut fourth = app.phone();
    assert_eq!(
        api_code(fourth.bind(&e.binding_token).await),
        (401, "binding_token_invalid".into())
    );
}

async fn dates_outside_the_calendar_are_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2027-12-20T10:00:00")).await else {
        return;
    };
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    // 30 Dec 2027: the window would end in 2028, which is not loaded.
    app.clock.set(moscow("2027-12-30T10:00:00"));
    let r = phone
        .upload(&[fix(
            1,
            KREMLIN.0,
            KREMLIN.1,
            10.0,
            moscow("2027-12-30T09:00:00"),
        )])
        .await;
    assert_eq!(api_code(r), (422, "date_outside_calendar".into()));
    assert_eq!(app.fix_count("AB0000001").await, 0);
    let other = app.phone();
    assert_eq!(
        api_code(other.enrol("AB0000002", "secret-two").await),
        (422, "date_outside_calendar".into())
    );
}

async fn operational_endpoints(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-10T08:00:00")).await else {
        return;
    };
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    app.advance(SignedDuration::from_mins(1));
    phone
        .upload(&[fix(1, KREMLIN.0, KREMLIN.1, 10.0, app.clock.now())])
        .await
        .unwrap();
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("amina_fixes_accepted_total"), "{metrics}");
    assert!(
        metrics.contains("amina_persons{status=\"registered\"}"),
        "{metrics}"
    );
    let doc: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in [
        "/v1/enrolments",
        "/v1/devices",
        "/v1/fixes",
        "/v1/me/status",
        "/healthz",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    let r = app.get("/nope").await;
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}
