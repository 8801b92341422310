//! Secrets at rest and in logs (docs/reliability.md, "Secrets"):
//!
//! - the server, logging at trace level, goes through enrolment, binding,
//!   uploads, OwnTracks provisioning and a report, console login and an
//!   integration event, and its whole output contains none of the secrets
//!   involved (activation secret, console password, TOTP secret, session
//!   cookie, integration key, OwnTracks secret and key, VAPID private key);
//! - the SQLite database is created private (0600, directory 0700), and the
//!   server refuses to start while a secret-holding file is readable by
//!   others, saying which file and what to run.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use amina_client::device::DeviceClient;
use amina_client::integration::sign_request;
use base64::Engine as _;

mod support;
use support::{amina, Node};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

const KEY: [u8; 32] = [0x3c; 32];

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_the_log_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("amina.sqlite3");
    let database = format!("sqlite:{}", db_path.display());
    amina(&["migrate", "--database", &database]);
    let cards = dir.path().join("cards.csv");
    amina(&[
        "sim",
        "cards",
        "--phones",
        "3",
        "--out",
        cards.to_str().unwrap(),
    ]);
    amina(&[
        "import",
        "cards",
        cards.to_str().unwrap(),
        "--database",
        &database,
    ]);

    let password = "correct-horse-battery-staple-9";
    let mut create = Command::new(env!("CARGO_BIN_EXE_amina"))
        .args(["admin", "create-user", "--role", "admin", "root"])
        .args(["--password-stdin", "--database", &database])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(create.stdin.take().unwrap(), "{password}").unwrap();
    let created = create.wait_with_output().unwrap();
    assert!(created.status.success());
    let created = String::from_utf8(created.stdout).unwrap();
    let totp_secret = created
        .lines()
        .find_map(|l| l.strip_prefix("totp secret:"))
        .expect("the TOTP secret is shown once")
        .trim()
        .to_string();

    let key_b64 = base64::engine::general_purpose::STANDARD.encode(KEY);
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_amina"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &database])
        .env("RUST_LOG", "trace")
        .env("AMINA_INTEGRATION__SENDERS__FMS", &key_b64)
        .stdout(Stdio::piped())
        .stderr(log.try_clone().unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let node = Node(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut log = log;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("amina listening on ") {
                let _ = tx.send(url.to_string());
            }
            let _ = writeln!(log, "{line}");
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| {
            panic!(
                "the server did not start: {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            )
        });
    let http = reqwest::Client::new();

    // Enrolment, binding and uploads: the simulator's phones.
    amina(&[
        "sim",
        "run",
        "--url",
        &url,
        "--phones",
        "2",
        "--interval",
        "0.3",
        "--duration",
        "1.5",
        "--quiet",
    ]);
    // A phone of our own: VAPID key (created on first use), OwnTracks.
    let mut phone = DeviceClient::new(&url);
    phone
        .enrol_and_bind("SIM000000002", "sim-secret")
        .await
        .expect("enrol the third phone");
    let push_key: serde_json::Value = phone.unsigned_get("/v1/push/key").await.unwrap();
    let vapid_public = push_key["public_key"]
        .as_str()
        .expect("the VAPID public key")
        .to_string();
    let device_id = phone.device_id.clone().unwrap();
    let provisioned: serde_json::Value = phone
        .signed_post("/v1/me/owntracks", b"{}", &device_id)
        .await
        .expect("OwnTracks provisioning");
    let ot_user = provisioned["config"]["username"]
        .as_str()
        .unwrap()
        .to_string();
    let ot_secret = provisioned["config"]["password"]
        .as_str()
        .unwrap()
        .to_string();
    let ot_key = provisioned["config"]["encryptionKey"]
        .as_str()
        .unwrap()
        .to_string();
    let report = http
        .post(format!("{url}/v1/owntracks"))
        .basic_auth(&ot_user, Some(&ot_secret))
        .json(
            &serde_json::json!({"_type": "location", "lat": 55.75, "lon": 37.61,
                                  "acc": 10, "tst": jiff::Timestamp::now().as_second()}),
        )
        .send()
        .await
        .unwrap();
    assert!(report.status().as_u16() < 500, "{}", report.status());

    // Console login (double-submit CSRF, password, TOTP).
    let csrf = "login-csrf-token-for-the-test";
    let code = amina_server::console::auth::totp_code(&totp_secret, jiff::Timestamp::now());
    let login = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{url}/console/login"))
        .header("cookie", format!("amina_login={csrf}"))
        .header("content-type", "application/x-www-form-urlencoded")
        // No character here needs percent-encoding.
        .body(format!(
            "login_csrf={csrf}&name=root&password={password}&code={code}"
        ))
        .send()
        .await
        .unwrap();
    let session = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("amina_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .expect("logged in: a session cookie");
    assert!(session.len() >= 16);
    let page = http
        .get(format!("{url}/console/"))
        .header("cookie", format!("amina_session={session}"))
        .send()
        .await
        .unwrap();
    assert!(page.status().is_success() || page.status().is_redirection());

    // A signed integration event.
    let body = serde_json::to_vec(&serde_json::json!({
        "event_id": "fms-secret-1", "type": "registered_in_region",
        "occurred_at": jiff::Timestamp::now().to_string(),
        "card_number": "SIM000000000", "region": "RU-TVE"}))
    .unwrap();
    let mut req = http.post(format!("{url}/v1/integration/events"));
    let created = jiff::Timestamp::now().as_second();
    for (name, value) in sign_request(
        "fms",
        &KEY,
        "POST",
        "/v1/integration/events",
        "",
        Some(&body),
        created,
    ) {
        req = req.header(name, value);
    }
    let event = req
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(event.status().is_success(), "{:?}", event.text().await);
    drop(node);

    // The VAPID private key, as stored.
    let conn = rusqlite::Connection::open(&db_path).unwrap();
    let vapid: Vec<u8> = conn
        .query_row("SELECT private_pkcs8 FROM push_vapid", [], |r| r.get(0))
        .expect("a VAPID key pair was created");

    let logged = std::fs::read_to_string(&log_path).unwrap();
    // The control: what the server does log, it logs here. The app logs
    // little below INFO, so trace level adds few lines; what matters is
    // that no filter hides anything.
    assert!(logged.contains("amina serving"), "{logged}");
    assert!(
        logged.contains(&vapid_public),
        "the VAPID public key is logged at start (so a logged key would be seen): {logged}"
    );
    let b64 = |b: &[u8]| {
        [
            base64::engine::general_purpose::STANDARD.encode(b),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b),
        ]
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut secrets: Vec<(&str, String)> = vec![
        ("activation secret", "sim-secret".into()),
        ("console password", password.into()),
        ("TOTP secret", totp_secret.clone()),
        ("session cookie", session.clone()),
        ("OwnTracks secret", ot_secret.clone()),
        ("OwnTracks key", ot_key.clone()),
        ("VAPID private key (hex)", hex(&vapid)),
    ];
    for s in b64(&KEY) {
        secrets.push(("integration key", s));
    }
    for s in b64(&vapid) {
        secrets.push(("VAPID private key", s));
    }
    secrets.push(("integration key (hex)", hex(&KEY)));
    for (what, secret) in &secrets {
        // Long secrets must not appear in part either (a truncated dump);
        // the end, since encoded keys share a common header.
        let tail = &secret[secret.len().saturating_sub(24)..];
        assert!(
            !logged.contains(secret.as_str()) && !logged.contains(tail),
            "the {what} appears in the log ({})",
            log_path.display()
        );
    }
}

#[test]
fn the_database_is_created_private_and_exposed_secrets_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = data.join("amina.sqlite3");
    let database = format!("sqlite:{}", db.display());
    amina(&["migrate", "--database", &database]);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&db), 0o600);

    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_amina"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &database])
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the server refused to start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to start")
            && err.contains(db.to_str().unwrap())
            && err.contains("chmod 600"),
        "{err}"
    );

    // Private again: it starts.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_amina"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &database])
        .env("RUST_LOG", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _node = Node(child);
    assert!(line.starts_with("amina listening on "), "{line}");
    // The write-ahead log inherits the private mode.
    let wal = data.join("amina.sqlite3-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600);
    }
}
