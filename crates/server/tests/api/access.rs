//! Who may call the device and integration endpoints (issue 9, the
//! authorisation matrix beyond the console): every such route refuses a
//! request without its own credential, a credential of the other kind does
//! not open it, and a phone reads only its own person.

use amina_client::proto::{SIGNATURE, SIGNATURE_INPUT};
use amina_server::console::authz::{self, Access};
use serde_json::Value;

use super::*;

on_both_backends!(a_phone_reads_and_changes_only_its_own_person,);

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "1" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every device and integration route, without credentials and with the
/// other kind's credential: refused, never carried out.
#[tokio::test(flavor = "multi_thread")]
async fn device_and_integration_routes_refuse_requests_without_their_credential() {
    let app = TestApp::spawn(Backend::Sqlite, moscow("2025-11-24T10:00"))
        .await
        .expect("SQLite");
    let phone = app.enrolled_phone("AB0000001", "secret-one").await;
    let id = phone.device_id.clone().unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut checked = 0;
    for rule in authz::RULES {
        let path = concrete(rule.path);
        let method = reqwest::Method::from_bytes(rule.method.as_bytes()).unwrap();
        let with_body = matches!(rule.method, "POST" | "PUT");
        let request = |signed_by_phone: bool| {
            let mut r = client.request(method.clone(), format!("{}{path}", app.base));
            if with_body {
                r = r.header("content-type", "application/json").body("{}");
            }
            if signed_by_phone {
                let body: Option<&[u8]> = with_body.then_some(b"{}");
                let h = phone.key.sign_request(
                    rule.method,
                    &path,
                    body,
                    &id,
                    app.clock.now().as_second(),
                );
                r = r
                    .header(SIGNATURE_INPUT, h.signature_input)
                    .header(SIGNATURE, h.signature);
                if let Some(d) = h.content_digest {
                    r = r.header("content-digest", d);
                }
            }
            r.send()
        };
        match rule.access {
            Access::Device => {
                let r = request(false).await.unwrap();
                let status = r.status().as_u16();
                let v: Value = r.json().await.unwrap_or(Value::Null);
                let code = v["error"].as_str().unwrap_or_default().to_string();
                match rule.path {
                    // Enrolment's credential is the card's activation secret
                    // in the body.
                    "/v1/enrolments" => {
                        assert!(matches!(status, 400 | 422), "{path}: {status} {code}")
                    }
                    // OwnTracks' credential is HTTP Basic.
                    "/v1/owntracks" => {
                        assert_eq!((status, code.as_str()), (401, "owntracks_auth_missing"))
                    }
                    _ => assert_eq!(
                        (status, code.as_str()),
                        (401, "signature_missing"),
                        "{} {path}",
                        rule.method
                    ),
                }
                checked += 1;
            }
            Access::Integration => {
                for signed in [false, true] {
                    let r = request(signed).await.unwrap();
                    assert_eq!(r.status(), 401, "{} {path} signed={signed}", rule.method);
                    checked += 1;
                }
            }
            Access::Console(_) => {
                // A phone's signature is no console session.
                let r = request(true).await.unwrap();
                let status = r.status().as_u16();
                if rule.method == "GET" {
                    assert_eq!(status, 303, "{path}");
                    assert_eq!(r.headers()["location"], "/console/login");
                } else {
                    assert_eq!(status, 401, "{} {path}", rule.method);
                }
                checked += 1;
            }
            Access::Public | Access::SignIn => {}
        }
    }
    assert!(checked >= 20, "{checked}");
}

/// Horizontal: the API has no person id to name — every `/v1/me` answer is
/// the signer's person — and a signature made with one phone's key under
/// another phone's id does not verify.
async fn a_phone_reads_and_changes_only_its_own_person(b: Backend) {
    let Some(app) = TestApp::spawn(b, moscow("2025-11-24T10:00")).await else {
        return;
    };
    let alice = app.enrolled_phone("AB0000001", "secret-one").await;
    let bob = app.enrolled_phone("AB0000002", "secret-two").await;
    let at = app.clock.now();
    alice
        .upload(&[fix(1, KREMLIN.0, KREMLIN.1, 10.0, at)])
        .await
        .unwrap();
    let mine = bob.my_data().await.unwrap();
    assert_eq!(mine.identity.card_number, "AB0000002");
    assert_eq!(mine.fixes.count, 0, "none of Alice's fixes");
    assert!(mine
        .devices
        .iter()
        .all(|d| Some(&d.id) == bob.device_id.as_ref()));
    assert_eq!(bob.status().await.unwrap().last_monitoring_at, None);
    let hers = alice.my_data().await.unwrap();
    assert_eq!(hers.fixes.count, 1);

    // Bob's key under Alice's device id: refused, nothing stored for her.
    let alice_id = alice.device_id.clone().unwrap();
    let body = serde_json::to_vec(&amina_client::proto::FixBatch {
        fixes: vec![fix(2, KREMLIN.0, KREMLIN.1, 10.0, at)],
    })
    .unwrap();
    let h = bob
        .key
        .sign_request("POST", "/v1/fixes", Some(&body), &alice_id, at.as_second());
    let r = reqwest::Client::new()
        .post(format!("{}/v1/fixes", app.base))
        .header(SIGNATURE_INPUT, h.signature_input)
        .header(SIGNATURE, h.signature)
        .header("content-digest", h.content_digest.unwrap())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "signature_invalid");
    assert_eq!(app.fix_count("AB0000001").await, 1);
}

/// A method a path does not have is 405 with `Allow`, not a refusal page.
#[tokio::test(flavor = "multi_thread")]
async fn a_method_the_path_does_not_have_is_405_with_allow() {
    let app = TestApp::spawn(Backend::Sqlite, moscow("2025-11-24T10:00"))
        .await
        .expect("SQLite");
    let client = reqwest::Client::new();
    for (method, path, allow) in [
        ("TRACE", "/healthz", "GET"),
        ("DELETE", "/v1/fixes", "POST"),
        ("PUT", "/console/login", "GET, POST"),
    ] {
        let r = client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", app.base),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method} {path}");
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "method_not_allowed");
    }
}
