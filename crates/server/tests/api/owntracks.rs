//! OwnTracks as a reporting device (issue 6), through the real HTTP server
//! on both backends (the `TestApp` harness of `api.rs`).
//!
//! Payloads are built from the OwnTracks JSON documentation (booklet
//! tech/json). The decryption tests seal them with PyNaCl (libsodium), an
//! implementation independent of the server's; the interpreter is
//! `AMINA_TEST_PYTHON` or the virtualenv `.ci/run` makes in
//! `target/test-venv`, and without it those tests skip loudly (they fail
//! under `AMINA_TEST_STRICT=1`).

use std::path::PathBuf;

use amina_client::proto::StatusView;
use amina_domain::types::CardNumber;
use base64::Engine as _;
use serde_json::{json, Value};

use super::*;

on_both_backends!(
    provisioning_configures_owntracks_and_keeps_the_app_as_companion,
    pynacl_payloads_are_decrypted_and_bad_ones_change_nothing,
    a_day_of_owntracks_fixes_moves_the_status_exactly_as_the_pwa,
);

// ------------------------------------------------------------ helpers

/// An OwnTracks phone as the server provisioned it: the configuration it
/// imported from the link.
struct OwnTracksPhone {
    url: String,
    user: String,
    password: String,
    key: String,
}

impl OwnTracksPhone {
    fn of(provisioned: &Value) -> OwnTracksPhone {
        let link = provisioned["config_link"].as_str().expect("a link");
        let config = amina_server::owntracks::parse_config_link(link).expect("the link decodes");
        OwnTracksPhone {
            url: config["url"].as_str().unwrap().to_string(),
            user: config["username"].as_str().unwrap().to_string(),
            password: config["password"].as_str().unwrap().to_string(),
            key: config["encryptionKey"].as_str().unwrap().to_string(),
        }
    }

    /// POST a body as OwnTracks' HTTP mode does.
    async fn post(&self, body: &str) -> (u16, Value, reqwest::header::HeaderMap) {
        self.post_as(&self.user, &self.password, body, &[]).await
    }

    async fn post_as(
        &self,
        user: &str,
        password: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("x-limit-u", user.parse().unwrap());
        headers.insert("x-limit-d", "phone".parse().unwrap());
        for (k, v) in extra {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap();
            headers.insert(name, v.parse().unwrap());
        }
        let resp = reqwest::Client::new()
            .post(&self.url)
            .basic_auth(user, Some(password))
            .headers(headers)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let value = resp.json().await.unwrap_or(Value::Null);
        (status, value, headers)
    }

    /// Seal with the server crate's own code (the end-to-end test; the
    /// PyNaCl test checks interoperability).
    fn seal(&self, msg: &Value) -> String {
        json!({"_type": "encrypted",
               "data": amina_server::owntracks::encrypt(&self.key, msg.to_string().as_bytes())})
        .to_string()
    }
}

/// A `_type=location` with the fields the OwnTracks documentation lists.
fn location(lat: f64, lon: f64, at: Timestamp, acc: u32, t: Option<&str>, conn: &str) -> Value {
    let mut m = json!({
        "_type": "location", "lat": lat, "lon": lon, "tst": at.as_second(),
        "acc": acc, "alt": 160, "batt": 64, "bs": 1, "conn": conn, "tid": "AM",
        "vac": 4, "vel": 0, "created_at": at.as_second(),
        "topic": "owntracks/user/phone", "inregions": [],
    });
    if let Some(t) = t {
        m["t"] = json!(t);
    }
    m
}

async fn provision(phone: &DeviceClient) -> Result<Value, ClientError> {
    phone.signed("POST", "/v1/me/owntracks", Some(b"{}")).await
}

async fn person_id(app: &TestApp, card: &str) -> i64 {
    app.state
        .store
        .person_by_card(&CardNumber::parse(card).unwrap())
        .await
        .unwrap()
        .unwrap()
        .person_id
}

async fn person_events(app: &TestApp, card: &str) -> Vec<amina_store::PersonEvent> {
    let p = app
        .state
        .store
        .person_by_card(&CardNumber::parse(card).unwrap())
        .await
        .unwrap()
        .unwrap();
    app.state.store.person_events(p.person_id).await.unwrap()
}

/// What a refused request must leave unchanged: fixes, events, check-ins.
async fn footprint(app: &TestApp, card: &str) -> (usize, usize, usize) {
    let p = app
        .state
        .store
        .person_by_card(&CardNumber::parse(card).unwrap())
        .await
        .unwrap()
        .unwrap();
    (
        app.state
            .store
            .fixes(p.person_id, 10_000)
            .await
            .unwrap()
            .len(),
        app.state
            .store
            .person_events(p.person_id)
            .await
            .unwrap()
            .len(),
        app.state
            .store
            .checkins(p.person_id, 10_000)
            .await
            .unwrap()
            .len(),
    )
}

fn python() -> Option<PathBuf> {
    let path = match std::env::var_os("AMINA_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin/python"),
    };
    let ok = std::process::Command::new(&path)
        .args(["-c", "import nacl.secret"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(path)
    } else {
        amina_testkit::skip_or_fail(
            "OwnTracks PyNaCl payload checks",
            &format!(
                "no Python with PyNaCl at {} (set AMINA_TEST_PYTHON, or: python3 -m venv \
                 target/test-venv && target/test-venv/bin/pip install http-ece cryptography pynacl)",
                path.display()
            ),
        );
        None
    }
}

/// Seal (key, plaintext) pairs with PyNaCl.
fn pynacl_seal(python: &PathBuf, items: &[(&str, &Value)]) -> Vec<String> {
    use std::io::Write;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/owntracks_seal.py");
    let input: Vec<Value> = items
        .iter()
        .map(|(k, m)| json!({"key": k, "plaintext": m.to_string()}))
        .collect();
    let mut child = std::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the PyNaCl sealer failed");
    serde_json::from_slice(&out.stdout).expect("the sealer prints JSON")
}

// -------------------------------------------------------------- tests

/// Provisioning from the app: the link carries every setting, the
/// OwnTracks device is the one active device (rebinding recorded), the app
/// key still reads the status but cannot report, provisioning again and
/// stopping revoke the previous OwnTracks device, and a lost-phone
/// rebinding revokes OwnTracks and its companion alike.
async fn provisioning_configures_owntracks_and_keeps_the_app_as_companion(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-28T09:00:00")).await else {
        return;
    };
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(doc["paths"]["/v1/owntracks"]["post"].is_object());
    assert!(doc["paths"]["/v1/me/owntracks"]["post"].is_object());
    assert!(doc["paths"]["/v1/me/owntracks"]["delete"].is_object());
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    let app_device = phone.device_id.clone().unwrap();
    let provisioned = provision(&phone).await.unwrap();

    // The remote configuration round-trips, with every setting.
    let link = provisioned["config_link"].as_str().unwrap();
    assert!(link.starts_with("owntracks:///config?inline="));
    let config = amina_server::owntracks::parse_config_link(link).unwrap();
    assert_eq!(config, provisioned["config"]);
    let device_id = provisioned["device_id"].as_str().unwrap();
    assert_eq!(config["_type"], "configuration");
    assert_eq!(config["mode"], 3, "HTTP mode");
    assert_eq!(config["url"], format!("{}/v1/owntracks", app.base));
    assert_eq!(config["auth"], true);
    assert_eq!(config["username"], device_id);
    assert_eq!(config["password"].as_str().unwrap().len(), 43);
    assert_eq!(config["deviceId"], "phone");
    assert_eq!(config["tid"], "AM");
    let key = config["encryptionKey"].as_str().unwrap();
    assert_eq!(key.len(), 32);
    assert!(key.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(config["monitoring"], 1, "significant changes");
    assert_eq!(config["locatorInterval"], 900);
    assert_eq!(config["locatorDisplacement"], 500);
    assert_eq!(config["locatorPriority"], 2);
    assert_eq!(config["ping"], 60);
    assert_eq!(config["extendedData"], true);
    assert_eq!(config["autostartOnBoot"], true);
    assert_eq!(config["cmd"], false);
    assert_eq!(config["remoteConfiguration"], false);
    assert_eq!(config["sub"], false);
    assert_eq!(config["locked"], true);
    assert!(provisioned["qr_svg"].as_str().unwrap().contains("<svg"));
    assert_eq!(provisioned["status"]["reporting_device"], "owntracks");

    // The binding is recorded as a rebinding of the person's one device.
    let events = person_events(&app, "AB0000001").await;
    let revoked = events.iter().find(|e| e.kind == "device_revoked").unwrap();
    assert_eq!(revoked.detail["device_id"], app_device.as_str());
    assert_eq!(revoked.detail["replaced_by"], device_id);
    let rebound = events
        .iter()
        .rev()
        .find(|e| e.kind == "device_rebound")
        .unwrap();
    assert_eq!(rebound.detail["kind"], "owntracks");
    assert_eq!(rebound.detail["previous_device_id"], app_device.as_str());

    // The app key is the companion: it reads, checks in, but cannot report.
    let status = phone.status().await.unwrap();
    assert!(status.registered);
    assert_eq!(status.reporting_device.as_deref(), Some("owntracks"));
    let data: Value = phone.signed("GET", "/v1/me/data", None).await.unwrap();
    assert_eq!(data["devices"].as_array().unwrap().len(), 2);
    let checkin: Result<Value, _> = phone
        .signed(
            "POST",
            "/v1/checkins",
            Some(br#"{"location":"granted","notifications":"granted","queued_fixes":0}"#),
        )
        .await;
    assert!(checkin.is_ok(), "{checkin:?}");
    let kremlin = fix(1, KREMLIN.0, KREMLIN.1, 10.0, app.clock.now());
    assert_eq!(
        api_code(phone.upload(&[kremlin]).await),
        (403, "device_revoked".into())
    );

    // The OwnTracks device reports.
    let ot = OwnTracksPhone::of(&provisioned);
    let now = app.clock.now();
    let (code, body, _) = ot
        .post(&ot.seal(&location(KREMLIN.0, KREMLIN.1, now, 12, None, "m")))
        .await;
    assert_eq!((code, body), (200, json!([])));
    assert_eq!(app.fix_count("AB0000001").await, 1);

    // Provisioning again (a new phone, a lost configuration) revokes the
    // first OwnTracks device.
    app.advance(SignedDuration::from_mins(5));
    let again = provision(&phone).await.unwrap();
    let ot2 = OwnTracksPhone::of(&again);
    assert_ne!(ot2.user, ot.user);
    let later = app.clock.now();
    let (code, body, _) = ot
        .post(&ot.seal(&location(KREMLIN.0, KREMLIN.1, later, 12, None, "m")))
        .await;
    assert_eq!(
        (code, body["error"].clone()),
        (403, json!("device_revoked"))
    );
    let (code, _, _) = ot2
        .post(&ot2.seal(&location(KREMLIN.0, KREMLIN.1, later, 12, None, "m")))
        .await;
    assert_eq!(code, 200);

    // Stopping: the app reports again, OwnTracks is revoked.
    let stopped: Value = phone
        .signed("DELETE", "/v1/me/owntracks", None)
        .await
        .unwrap();
    assert_eq!(stopped["device_id"], app_device.as_str());
    assert_eq!(stopped["status"]["reporting_device"], "pwa");
    app.advance(SignedDuration::from_mins(5));
    let back = fix(2, KREMLIN.0, KREMLIN.1, 10.0, app.clock.now());
    assert_eq!(phone.upload(&[back]).await.unwrap().accepted, vec![2]);
    let (code, _, _) = ot2
        .post(&ot2.seal(&location(
            KREMLIN.0,
            KREMLIN.1,
            app.clock.now(),
            12,
            None,
            "m",
        )))
        .await;
    assert_eq!(code, 403);
    // Stopping twice changes nothing.
    let again: Value = phone
        .signed("DELETE", "/v1/me/owntracks", None)
        .await
        .unwrap();
    assert_eq!(again["device_id"], app_device.as_str());

    // OwnTracks once more, then a lost-phone rebinding with card + secret:
    // OwnTracks and its companion are both out.
    let third = provision(&phone).await.unwrap();
    let ot3 = OwnTracksPhone::of(&third);
    let _new_phone = app.enrolled_phone("AB0000001", "secret-one").await;
    let (code, _, _) = ot3
        .post(&ot3.seal(&location(
            KREMLIN.0,
            KREMLIN.1,
            app.clock.now(),
            12,
            None,
            "m",
        )))
        .await;
    assert_eq!(code, 403);
    assert_eq!(
        api_code(phone.status().await),
        (403, "device_revoked".into())
    );
    let stop: Result<Value, _> = phone.signed("DELETE", "/v1/me/owntracks", None).await;
    assert_eq!(api_code(stop), (403, "device_revoked".into()));
}

/// Payloads sealed by PyNaCl decrypt; every documented message type is
/// acknowledged with `[]`; a re-sent location is stored once; tampered
/// ciphertext, a wrong key, an unknown device, a wrong secret, a missing
/// tid, a replayed tst with other coordinates and a plain payload are each
/// refused with their code and change nothing.
async fn pynacl_payloads_are_decrypted_and_bad_ones_change_nothing(b: Backend) {
    let Some(python) = python() else {
        return;
    };
    let Some(app) = TestApp::spawn(b, moscow("2025-11-28T09:00:00")).await else {
        return;
    };
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    let provisioned = provision(&phone).await.unwrap();
    let ot = OwnTracksPhone::of(&provisioned);
    app.advance(SignedDuration::from_mins(10));
    let t0 = app.clock.now();

    let first = location(KREMLIN.0, KREMLIN.1, t0, 12, None, "w");
    let ping = location(
        KREMLIN.0 + 0.001,
        KREMLIN.1,
        t0 + SignedDuration::from_mins(60),
        15,
        Some("p"),
        "m",
    );
    let transition = json!({"_type": "transition", "wtst": t0.as_second() - 3600,
        "lat": KREMLIN.0, "lon": KREMLIN.1, "tst": t0.as_second(), "acc": 12,
        "tid": "AM", "event": "enter", "desc": "Home", "t": "c", "rid": "a1b2"});
    let lwt = json!({"_type": "lwt", "tst": t0.as_second()});
    let status =
        json!({"_type": "status", "android": {"hib": 0, "bo": 1, "loc": 0, "ps": 0, "wifi": 1}});
    let waypoints = json!({"_type": "waypoints", "_creator": "test", "waypoints": []});
    let no_tid = {
        let mut m = location(
            KREMLIN.0,
            KREMLIN.1,
            t0 + SignedDuration::from_mins(5),
            12,
            None,
            "m",
        );
        m.as_object_mut().unwrap().remove("tid");
        m
    };
    let replay = location(55.80, 37.50, t0, 12, None, "m");
    let key = ot.key.as_str();
    let sealed = pynacl_seal(
        &python,
        &[
            (key, &first),
            (key, &first),
            (key, &ping),
            (key, &transition),
            (key, &lwt),
            (key, &status),
            (key, &waypoints),
            (key, &no_tid),
            (key, &replay),
            ("a different key, same length!!!", &first),
        ],
    );

    // A location, once, then the same location sealed again (as after an
    // outage): acknowledged, stored once.
    let (code, body, headers) = ot.post(&sealed[0]).await;
    assert_eq!((code, body), (200, json!([])));
    assert_eq!(headers["content-type"], "application/json");
    let (code, body, _) = ot.post(&sealed[0]).await;
    assert_eq!((code, body), (200, json!([])), "a byte-identical re-send");
    let (code, _, _) = ot.post(&sealed[1]).await;
    assert_eq!(code, 200, "the same location with a new nonce");
    assert_eq!(app.fix_count("AB0000001").await, 1);
    let status_view: StatusView = phone.status().await.unwrap();
    assert_eq!(
        status_view.last_monitoring_at.as_deref(),
        Some(t0.to_string().as_str())
    );
    assert_eq!(status_view.presence, "in_region");

    // A ping an hour later counts as monitoring.
    app.advance(SignedDuration::from_mins(61));
    let (code, _, _) = ot.post(&sealed[2]).await;
    assert_eq!(code, 200);
    assert_eq!(app.fix_count("AB0000001").await, 2);
    let after_ping = phone.status().await.unwrap();
    assert_eq!(
        after_ping.last_monitoring_at.as_deref(),
        Some((t0 + SignedDuration::from_mins(60)).to_string().as_str())
    );
    let stored = app
        .state
        .store
        .fixes(person_id(&app, "AB0000001").await, 10)
        .await
        .unwrap();
    assert_eq!(stored[0].battery_pct, Some(64));
    assert_eq!(
        stored[0].seq as i64,
        (t0 + SignedDuration::from_mins(60)).as_second()
    );

    // Transition, lwt, status, waypoints: acknowledged, no fix.
    for body in &sealed[3..7] {
        let (code, resp, _) = ot.post(body).await;
        assert_eq!((code, resp), (200, json!([])));
    }
    assert_eq!(app.fix_count("AB0000001").await, 2);

    // Refusals: each with its code, nothing changed.
    let before = footprint(&app, "AB0000001").await;
    let tampered = {
        let outer: Value = serde_json::from_str(&sealed[0]).unwrap();
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(outer["data"].as_str().unwrap())
            .unwrap();
        raw[30] ^= 0x40;
        json!({"_type": "encrypted",
               "data": base64::engine::general_purpose::STANDARD.encode(raw)})
        .to_string()
    };
    let plain = location(
        KREMLIN.0,
        KREMLIN.1,
        t0 + SignedDuration::from_mins(7),
        12,
        None,
        "m",
    )
    .to_string();
    struct Case {
        what: &'static str,
        user: String,
        password: String,
        body: String,
        status: u16,
        code: &'static str,
    }
    let case = |what, user: &str, password: &str, body: &str, status, code| Case {
        what,
        user: user.to_string(),
        password: password.to_string(),
        body: body.to_string(),
        status,
        code,
    };
    let (u, p) = (ot.user.as_str(), ot.password.as_str());
    let cases = [
        case(
            "tampered ciphertext",
            u,
            p,
            &tampered,
            400,
            "decryption_failed",
        ),
        case("wrong key", u, p, &sealed[9], 400, "decryption_failed"),
        case(
            "unknown device",
            "dv_unknown",
            p,
            &sealed[0],
            401,
            "unknown_device",
        ),
        case(
            "wrong secret",
            u,
            "not-the-secret",
            &sealed[0],
            401,
            "owntracks_auth_failed",
        ),
        case("missing tid", u, p, &sealed[7], 422, "missing_tid"),
        case(
            "replay: same tst, other coordinates",
            u,
            p,
            &sealed[8],
            409,
            "sequence_reused",
        ),
        case(
            "unencrypted payload",
            u,
            p,
            &plain,
            400,
            "encryption_required",
        ),
        case("not JSON", u, p, "{", 400, "malformed_json"),
    ];
    for c in cases {
        let (got, resp, headers) = ot.post_as(&c.user, &c.password, &c.body, &[]).await;
        let what = c.what;
        assert_eq!(
            (got, resp["error"].as_str()),
            (c.status, Some(c.code)),
            "{what}"
        );
        if c.status == 401 {
            assert_eq!(
                headers["www-authenticate"], "Basic realm=\"amina\"",
                "{what}"
            );
        }
        assert_eq!(
            footprint(&app, "AB0000001").await,
            before,
            "{what} changed nothing"
        );
    }
    // No credentials at all; another user named in X-Limit-U or ?u=.
    let resp = reqwest::Client::new()
        .post(&ot.url)
        .body(sealed[0].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "owntracks_auth_missing");
    let wrong_u = reqwest::Client::new()
        .post(format!("{}?u=someone&d=phone", ot.url))
        .basic_auth(&ot.user, Some(&ot.password))
        .body(sealed[0].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_u.status().as_u16(), 403);
    let (got, resp, _) = ot
        .post_as(
            &ot.user,
            &ot.password,
            &sealed[0],
            &[("X-Limit-D", "tablet")],
        )
        .await;
    assert_eq!(
        (got, resp["error"].as_str()),
        (403, Some("owntracks_identity_mismatch"))
    );
    assert_eq!(footprint(&app, "AB0000001").await, before);
}

/// One person reports with the app, another with OwnTracks, the same day:
/// fixes every half hour, an outage from 12:00 to 16:00 with fixes queued
/// on the phone, the queue delivered at 16:00 with the last message before
/// the outage sent again, a ping, a spoofed jump to Tver. After every step
/// both people's status — last monitoring, deadline, presence — is the
/// same, and both are deregistered at the same deadline.
async fn a_day_of_owntracks_fixes_moves_the_status_exactly_as_the_pwa(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-28T07:30:00")).await else {
        return;
    };
    let pwa = app.enrolled_phone("AB0000001", "secret-one").await;
    let owner = app.enrolled_phone("AB0000002", "secret-two").await;
    let ot = OwnTracksPhone::of(&provision(&owner).await.unwrap());

    let same = |a: &StatusView, o: &StatusView, when: &str| {
        assert_eq!(a.registered, o.registered, "{when}");
        assert_eq!(a.last_monitoring_at, o.last_monitoring_at, "{when}");
        assert_eq!(a.deadline_at, o.deadline_at, "{when}");
        assert_eq!(a.deadline_moscow, o.deadline_moscow, "{when}");
        assert_eq!(a.presence, o.presence, "{when}");
        assert_eq!(a.presence_since, o.presence_since, "{when}");
    };

    let mut seq = 0;
    let mut queued: Vec<(i64, Value, FixWire)> = Vec::new();
    let mut last_sent: Option<String> = None;
    let start = moscow("2025-11-28T08:00:00");
    for step in 0..24 {
        let at = start + SignedDuration::from_mins(30 * step);
        app.clock.set(at + SignedDuration::from_secs(20));
        // A little walk around the Kremlin; at 18:30 a spoofed jump to Tver.
        let (lat, lon) = if step == 21 {
            TVER
        } else {
            (KREMLIN.0 + 0.001 * (step % 5) as f64, KREMLIN.1)
        };
        let offline = (8..16).contains(&step); // 12:00 .. 15:30
        let trigger = if step % 6 == 5 { Some("p") } else { None };
        let msg = location(lat, lon, at, 20, trigger, if offline { "o" } else { "m" });
        seq += 1;
        let wire = fix(seq, lat, lon, 20.0, at);
        // OwnTracks records battery; so does the app, for equal content.
        let wire = FixWire {
            battery_pct: Some(64),
            ..wire
        };
        if offline {
            queued.push((seq, msg, wire));
            continue;
        }
        if step == 16 {
            // The network is back: the last message before the outage is
            // sent again (its answer was lost), then the queue.
            let (code, _, _) = ot.post(last_sent.as_deref().unwrap()).await;
            assert_eq!(code, 200, "a re-send is acknowledged");
            for (_, m, w) in queued.drain(..) {
                let (code, body, _) = ot.post(&ot.seal(&m)).await;
                assert_eq!((code, body), (200, json!([])));
                pwa.upload(&[w]).await.unwrap();
            }
        }
        let body = ot.seal(&msg);
        let (code, resp, _) = ot.post(&body).await;
        assert_eq!((code, resp), (200, json!([])), "step {step}");
        last_sent = Some(body);
        pwa.upload(&[wire]).await.unwrap();
        let a = pwa.status().await.unwrap();
        let o = owner.status().await.unwrap();
        same(&a, &o, &format!("step {step}"));
    }
    assert_eq!(app.fix_count("AB0000001").await, 24);
    assert_eq!(
        app.fix_count("AB0000002").await,
        24,
        "the re-send was stored once"
    );
    let a = pwa.status().await.unwrap();
    let o = owner.status().await.unwrap();
    same(&a, &o, "end of the day");
    assert_eq!(
        o.presence, "in_region",
        "the spoofed jump did not move the person"
    );
    assert_eq!(
        o.last_monitoring_at.as_deref(),
        Some(moscow("2025-11-28T19:30:00").to_string().as_str())
    );
    assert_eq!(
        o.deadline_moscow.as_deref(),
        Some("2025-12-03T23:59:59.999+03:00"),
        "last fix Friday 28 Nov: deadline Wednesday 3 Dec"
    );
    let flagged_a = app
        .state
        .store
        .fixes(person_id(&app, "AB0000001").await, 100)
        .await
        .unwrap()
        .iter()
        .filter(|f| !f.flags.trustworthy())
        .count();
    let flagged_o = app
        .state
        .store
        .fixes(person_id(&app, "AB0000002").await, 100)
        .await
        .unwrap()
        .iter()
        .filter(|f| !f.flags.trustworthy())
        .count();
    assert_eq!((flagged_a, flagged_o), (1, 1));

    // Past the deadline the scheduler deregisters both.
    app.clock.set(moscow("2025-12-04T09:00:00"));
    let done = amina_server::scheduler::run_once(&app.state).await.unwrap();
    assert_eq!(done.len(), 2);
    let a = pwa.status().await.unwrap();
    let o = owner.status().await.unwrap();
    same(&a, &o, "after the deadline");
    assert!(!o.registered);
    assert_eq!(o.deregistration_reason.as_deref(), Some("no_monitoring"));
}
