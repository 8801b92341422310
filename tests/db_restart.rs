//! PostgreSQL stopped and started under the running server while simulated
//! phones upload: the server answers 503 with Retry-After (never a 500),
//! the phones keep their fixes and retry, nothing acknowledged is lost, and
//! the server recovers by itself, without a restart of its own
//! (docs/reliability.md, "Database restart").

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{amina, start_node as start_serve, Node};

fn start_node(database: &str) -> (Node, String) {
    start_serve(
        database,
        &[("RUST_LOG", "error"), ("AMINA_SCHEDULER__INTERVAL_S", "1")],
    )
}

fn acks(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// GET /healthz: (status, Retry-After, error code).
async fn health(http: &reqwest::Client, url: &str) -> (u16, Option<String>, Option<String>) {
    let response = http
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("the server answers while the database is away");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let code = body["code"]
        .as_str()
        .or(body["error"].as_str())
        .map(str::to_string);
    (status, retry_after, code)
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restarts_under_load_lose_nothing_and_need_no_server_restart() {
    let Some(pg) = amina_testkit::restartable_pg() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    amina(&["migrate", "--database", &pg.url]);
    let cards = dir.path().join("cards.csv");
    amina(&[
        "sim",
        "cards",
        "--phones",
        "12",
        "--out",
        cards.to_str().unwrap(),
    ]);
    amina(&[
        "import",
        "cards",
        cards.to_str().unwrap(),
        "--database",
        &pg.url,
    ]);
    let (mut node, url) = start_node(&pg.url);
    let ack_log = dir.path().join("acks.log");

    let sim = Command::new(env!("CARGO_BIN_EXE_amina"))
        .args([
            "sim",
            "run",
            "--url",
            &url,
            "--phones",
            "12",
            "--seed",
            "3",
            "--interval",
            "0.25",
            "--batch",
            "2",
            "--duration",
            "16",
            "--silent",
            "0",
            "--trip",
            "0",
            "--spoofer",
            "0",
            "--offline",
            "0",
            "--json",
            "--quiet",
            "--ack-log",
        ])
        .arg(&ack_log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the simulator");

    // Wait until the phones are enrolled and uploading.
    let began = Instant::now();
    while acks(&ack_log) < 24 {
        assert!(began.elapsed() < Duration::from_secs(60), "no uploads");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for (round, crash) in [(1, false), (2, true)] {
        tokio::time::sleep(Duration::from_secs(2)).await;
        if crash {
            pg.crash().expect("stop PostgreSQL (immediate)");
        } else {
            pg.stop().expect("stop PostgreSQL (fast)");
        }
        let acked_before = acks(&ack_log);
        let (status, retry_after, code) = health(&http, &url).await;
        assert_eq!(
            status, 503,
            "round {round}: unavailable while the database is down"
        );
        assert!(
            retry_after.is_some_and(|s| s.parse::<u32>().is_ok_and(|n| n > 0)),
            "round {round}: 503 carries Retry-After"
        );
        assert_eq!(
            code.as_deref(),
            Some("database_unavailable"),
            "round {round}"
        );
        // Phones meet the outage for a while.
        tokio::time::sleep(Duration::from_secs(2)).await;
        pg.start().expect("start PostgreSQL again");
        let back = Instant::now();
        loop {
            if health(&http, &url).await.0 == 200 {
                break;
            }
            assert!(
                back.elapsed() < Duration::from_secs(30),
                "round {round}: the server did not recover within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // New fixes are acknowledged again, by the same server process.
        while acks(&ack_log) <= acked_before + 12 {
            assert!(
                back.elapsed() < Duration::from_secs(30),
                "round {round}: no uploads acknowledged after the restart"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            node.0.try_wait().unwrap().is_none(),
            "round {round}: the server process is still the same and running"
        );
    }

    let out = sim.wait_with_output().expect("the simulator ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = report["errors"].as_object().unwrap();
    assert!(
        errors.get("database_unavailable").and_then(|n| n.as_u64()) > Some(0),
        "phones were told to retry: {report}"
    );
    // Every failure during the outages was a 503 the phones retry (a 500
    // would mean some connection failure is not recognised as unavailability;
    // a transport error, that the server did not answer).
    assert_eq!(
        errors.keys().collect::<Vec<_>>(),
        ["database_unavailable"],
        "{report}"
    );
    drop(node);
    let check = Command::new(env!("CARGO_BIN_EXE_amina"))
        .args(["check-consistency", "--database", &pg.url, "--ack-log"])
        .arg(&ack_log)
        .arg("--json")
        .output()
        .unwrap();
    let findings: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert!(check.status.success(), "{findings}");
    assert_eq!(findings["acknowledged_missing"], 0, "{findings}");
    assert!(
        findings["acknowledged"].as_u64().unwrap() > 100,
        "{findings}"
    );
    eprintln!("report: {report}\nfindings: {findings}");
}
