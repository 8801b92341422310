//! A small Chrome DevTools Protocol client for the browser tests, shared by
//! `app_browser.rs` and `console_browser.rs` (see `app_browser.rs` for why
//! it is hand-made): start a headless Chromium with a fresh profile, open
//! tabs, send commands over one WebSocket, evaluate and wait in the page.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const WAIT: Duration = Duration::from_secs(15);

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, Value>>>>>;
type WsSink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

pub struct Browser {
    child: tokio::process::Child,
    sink: tokio::sync::Mutex<WsSink>,
    pending: Pending,
    /// Events (messages without an id), for the few tests that need one.
    pub events: Arc<Mutex<Vec<Value>>>,
    next_id: AtomicU64,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start Chromium, or None (after `skip_or_fail`) when it is missing.
    pub async fn launch() -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() {
            amina_testkit::skip_or_fail(
                "browser tests",
                "Chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
            );
            return None;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let child = tokio::process::Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromium");
        // Chromium writes the port it chose and the browser's WebSocket path.
        let port_file = profile.path().join("DevToolsActivePort");
        let started = Instant::now();
        let endpoint = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break format!("ws://127.0.0.1:{port}{path}");
                }
            }
            assert!(
                started.elapsed() < WAIT,
                "Chromium did not open its DevTools port"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (ws, _) = tokio_tungstenite::connect_async(endpoint.as_str())
            .await
            .expect("connect to DevTools");
        let (sink, mut stream) = ws.split();
        let pending: Pending = Arc::default();
        let reader_pending = pending.clone();
        let events: Arc<Mutex<Vec<Value>>> = Arc::default();
        let reader_events = events.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let Ok(v) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                // Events (no id) are kept; most tests poll the page instead.
                let Some(id) = v.get("id").and_then(Value::as_u64) else {
                    reader_events.lock().unwrap().push(v);
                    continue;
                };
                if let Some(tx) = reader_pending.lock().unwrap().remove(&id) {
                    let _ = tx.send(match v.get("error") {
                        Some(e) => Err(e.clone()),
                        None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
                    });
                }
            }
        });
        Some(Browser {
            child,
            sink: tokio::sync::Mutex::new(sink),
            pending,
            events,
            next_id: AtomicU64::new(1),
            _profile: profile,
        })
    }

    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.sink
            .lock()
            .await
            .send(Message::Text(msg.to_string().into()))
            .await
            .expect("send to DevTools");
        tokio::time::timeout(WAIT, rx)
            .await
            .unwrap_or_else(|_| panic!("{method}: no answer from Chromium"))
            .expect("DevTools connection closed")
    }

    /// A new tab on `server`'s origin, with geolocation allowed and set
    /// inside Moscow, and a phone-sized screen.
    pub async fn page(&self, base: &str) -> Page<'_> {
        self.call(
            None,
            "Browser.grantPermissions",
            json!({"origin": base, "permissions": ["geolocation"]}),
        )
        .await
        .expect("grant geolocation");
        let target = self
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await
            .expect("new tab");
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await
            .expect("attach");
        let page = Page {
            browser: self,
            session: attached["sessionId"].as_str().unwrap().to_string(),
            base: base.to_string(),
        };
        page.cmd("Page.enable", json!({})).await;
        page.cmd("Network.enable", json!({})).await;
        page.cmd(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 400, "height": 860, "deviceScaleFactor": 1, "mobile": true}),
        )
        .await;
        // No position until a test sets one (see `Page::set_position`).
        page.cmd("Emulation.setGeolocationOverride", json!({}))
            .await;
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

pub struct Page<'a> {
    pub browser: &'a Browser,
    pub session: String,
    pub base: String,
}

impl Page<'_> {
    pub async fn cmd(&self, method: &str, params: Value) -> Value {
        self.browser
            .call(Some(&self.session), method, params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Evaluate `expr` in the page (promises awaited), returning its value.
    pub async fn eval(&self, expr: &str) -> Result<Value, String> {
        let r = self
            .browser
            .call(
                Some(&self.session),
                "Runtime.evaluate",
                json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
            )
            .await
            .map_err(|e| e.to_string())?;
        if let Some(ex) = r.get("exceptionDetails") {
            return Err(ex.to_string());
        }
        Ok(r["result"].get("value").cloned().unwrap_or(Value::Null))
    }

    pub async fn js(&self, expr: &str) -> Value {
        self.eval(expr)
            .await
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    pub async fn text(&self, id: &str) -> String {
        self.js(&format!("document.getElementById({id:?}).textContent"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Poll until `expr` is truthy; its value. Errors (e.g. during a
    /// navigation) count as "not yet".
    pub async fn wait_for(&self, what: &str, expr: &str) -> Value {
        let started = Instant::now();
        loop {
            let last = self.eval(expr).await;
            if let Ok(v) = &last {
                let truthy = !matches!(v, Value::Null | Value::Bool(false))
                    && v.as_str() != Some("")
                    && v.as_f64() != Some(0.0);
                if truthy {
                    return v.clone();
                }
            }
            if started.elapsed() > WAIT {
                let shot = self.eval("document.body && document.body.innerText").await;
                panic!("timed out waiting for {what} ({expr}): last {last:?}; page: {shot:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
