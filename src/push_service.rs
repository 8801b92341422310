//! A push service on loopback for `amina crash-test`, standing where FCM or
//! Mozilla's autopush stand in production (RFC 8030, as a sender sees it).
//!
//! The crash test subscribes people to it, so that the push queue carries
//! real load while the server is being killed. Every push it takes is
//! checked the way a browser and a push service would check it: the VAPID
//! token (RFC 8292) must verify with the key it names and be meant for this
//! origin, the `Topic` must be the one of the notice, and the body must
//! decrypt (RFC 8291, `aes128gcm`) with the subscription's private key to
//! the JSON the service worker shows. What arrived is kept, so the test can
//! compare it with the queue in the database: nothing marked sent that did
//! not arrive, nothing arrived that the queue does not hold, and a repeat
//! only where a kill cut the sender off between the answer and its record.
//!
//! Faults, deterministic so that a run can be repeated: every
//! [`GONE_EVERY`]th endpoint answers 410 Gone (the app was removed), and the
//! first attempt at one notice in [`RETRY_EVERY`] answers 503 with
//! `Retry-After`, so the retry path runs too. Every answer comes
//! [`ANSWER_DELAY`] after the push was taken, as over a real network, so a
//! kill often falls between a push being accepted and the server recording
//! it: the window where delivery is at-least-once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use amina_server::push::deliver::{topic, Payload};
use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;

/// Endpoints numbered `n` with `n % GONE_EVERY == GONE_EVERY - 1` answer 410.
pub const GONE_EVERY: usize = 5;
/// One notice in this many is refused with 503 at its first attempt.
pub const RETRY_EVERY: u8 = 3;
/// How long after taking a push the service answers.
pub const ANSWER_DELAY: std::time::Duration = std::time::Duration::from_millis(60);

/// One subscription: what the server stores, and the private half the
/// browser would keep.
pub struct Subscriber {
    pub endpoint: String,
    /// SEC1 uncompressed P-256 public key.
    pub p256dh: Vec<u8>,
    pub auth: [u8; 16],
    keys: ece::EcKeyComponents,
}

/// A push the service accepted (answered 201).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub endpoint: String,
    /// The notification tag: the notice's occurrence key.
    pub tag: String,
    pub kind: String,
}

/// Everything the service saw so far.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Seen {
    #[serde(skip)]
    pub accepted: Vec<Delivery>,
    pub accepted_count: u64,
    /// Answered 503 (a deliberate first-attempt refusal).
    pub refused_retry: u64,
    /// Answered 410 (a gone endpoint).
    pub refused_gone: u64,
    /// Pushes that a browser or push service would have refused: no valid
    /// VAPID token, a wrong `Topic`, a body that does not decrypt to the
    /// payload. Each is a finding.
    pub malformed: Vec<String>,
}

struct Shared {
    subscribers: Vec<Subscriber>,
    origin: String,
    seen: Mutex<Seen>,
    /// Attempts per (endpoint number, tag).
    attempts: Mutex<HashMap<(usize, String), u32>>,
}

/// The running service; it stops when dropped.
pub struct PushService {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PushService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PushService {
    /// Listen on a free loopback port, with `count` subscriptions.
    pub async fn start(count: usize) -> anyhow::Result<PushService> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let mut subscribers = Vec::with_capacity(count);
        for n in 0..count {
            let (pair, auth) = ece::generate_keypair_and_auth_secret()
                .map_err(|e| anyhow::anyhow!("making a push subscription key: {e}"))?;
            subscribers.push(Subscriber {
                endpoint: format!("{origin}/push/{n}"),
                p256dh: pair
                    .pub_as_raw()
                    .map_err(|e| anyhow::anyhow!("subscription key: {e}"))?,
                auth,
                keys: pair
                    .raw_components()
                    .map_err(|e| anyhow::anyhow!("subscription key: {e}"))?,
            });
        }
        let shared = Arc::new(Shared {
            subscribers,
            origin,
            seen: Mutex::new(Seen::default()),
            attempts: Mutex::new(HashMap::new()),
        });
        let app = axum::Router::new()
            .route("/push/{n}", axum::routing::post(take))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(PushService { shared, task })
    }

    pub fn subscribers(&self) -> &[Subscriber] {
        &self.shared.subscribers
    }

    /// Whether the endpoint numbered `n` answers 410.
    pub fn is_gone(n: usize) -> bool {
        n % GONE_EVERY == GONE_EVERY - 1
    }

    pub fn seen(&self) -> Seen {
        self.shared.seen.lock().expect("not poisoned").clone()
    }
}

fn retried_first(tag: &str) -> bool {
    let digest = ring::digest::digest(&ring::digest::SHA256, tag.as_bytes());
    digest.as_ref()[0] % RETRY_EVERY == 0
}

async fn take(
    State(shared): State<Arc<Shared>>,
    Path(n): Path<usize>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(subscriber) = shared.subscribers.get(n) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let malformed = |why: String| {
        shared
            .seen
            .lock()
            .expect("not poisoned")
            .malformed
            .push(format!("push to endpoint {n}: {why}"));
        StatusCode::BAD_REQUEST.into_response()
    };
    if let Err(why) = check_vapid(&headers, &shared.origin) {
        return malformed(why);
    }
    if headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        != Some("aes128gcm")
        || headers.get("ttl").is_none()
    {
        return malformed("no `Content-Encoding: aes128gcm` or no TTL".into());
    }
    let plaintext = match ece::decrypt(&subscriber.keys, &subscriber.auth, &body) {
        Ok(p) => p,
        Err(e) => return malformed(format!("the body does not decrypt: {e}")),
    };
    let payload: Payload = match serde_json::from_slice(&plaintext) {
        Ok(p) => p,
        Err(e) => return malformed(format!("the payload is not the app's JSON: {e}")),
    };
    if headers.get("topic").and_then(|v| v.to_str().ok()) != Some(topic(&payload.tag).as_str()) {
        return malformed(format!("the Topic is not the one of {}", payload.tag));
    }
    if payload.title.is_empty() || payload.body.is_empty() {
        return malformed(format!("{} has no text", payload.tag));
    }
    let attempt = {
        let mut attempts = shared.attempts.lock().expect("not poisoned");
        let a = attempts.entry((n, payload.tag.clone())).or_insert(0);
        *a += 1;
        *a
    };
    let answer = {
        let mut seen = shared.seen.lock().expect("not poisoned");
        if PushService::is_gone(n) {
            seen.refused_gone += 1;
            StatusCode::GONE.into_response()
        } else if attempt == 1 && retried_first(&payload.tag) {
            seen.refused_retry += 1;
            (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")]).into_response()
        } else {
            seen.accepted_count += 1;
            seen.accepted.push(Delivery {
                endpoint: subscriber.endpoint.clone(),
                tag: payload.tag,
                kind: payload.kind,
            });
            StatusCode::CREATED.into_response()
        }
    };
    tokio::time::sleep(ANSWER_DELAY).await;
    answer
}

/// `Authorization: vapid t=JWT, k=KEY` (RFC 8292): the ES256 token must
/// verify with the key it names, be meant for this origin and not expired.
fn check_vapid(headers: &HeaderMap, origin: &str) -> Result<(), String> {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("no Authorization")?;
    let rest = value.strip_prefix("vapid ").ok_or("not the vapid scheme")?;
    let mut token = None;
    let mut key = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(t) = part.strip_prefix("t=") {
            token = Some(t);
        } else if let Some(k) = part.strip_prefix("k=") {
            key = Some(k);
        }
    }
    let (token, key) = token.zip(key).ok_or("no t= or k=")?;
    let key = URL_SAFE_NO_PAD
        .decode(key)
        .map_err(|_| "k= is not base64url")?;
    let (signed, signature) = token.rsplit_once('.').ok_or("t= is not a JWT")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "the JWT signature is not base64url")?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| "the VAPID token does not verify with k=")?;
    let claims = signed.split('.').nth(1).ok_or("t= is not a JWT")?;
    let claims: serde_json::Value = URL_SAFE_NO_PAD
        .decode(claims)
        .ok()
        .and_then(|c| serde_json::from_slice(&c).ok())
        .ok_or("the JWT claims are not JSON")?;
    if claims["aud"] != origin {
        return Err(format!("aud is {}, not {origin}", claims["aud"]));
    }
    let exp = claims["exp"].as_i64().ok_or("no exp")?;
    if exp <= jiff::Timestamp::now().as_second() {
        return Err("the VAPID token has expired".into());
    }
    Ok(())
}

/// The queue in the database against what the service took. `kills` is how
/// many times the server was killed so far; `drained` says the server was
/// given time to finish (so nothing may be in flight any more).
pub fn compare(rows: &[QueueRow], seen: &Seen, kills: usize, drained: bool) -> Vec<String> {
    let mut findings = Vec::new();
    for m in &seen.malformed {
        findings.push(format!("malformed push: {m}"));
    }
    let mut taken: HashMap<(&str, &str), (u32, &str)> = HashMap::new();
    for d in &seen.accepted {
        let e = taken
            .entry((d.endpoint.as_str(), d.tag.as_str()))
            .or_insert((0, d.kind.as_str()));
        e.0 += 1;
    }
    let queued: HashMap<(&str, &str), &QueueRow> = rows
        .iter()
        .map(|r| ((r.endpoint.as_str(), r.key.as_str()), r))
        .collect();
    for r in rows {
        let arrived = taken.contains_key(&(r.endpoint.as_str(), r.key.as_str()));
        if r.state == "sent" && !arrived {
            findings.push(format!(
                "notice {} marked sent, but the push service never accepted it",
                r.key
            ));
        }
        if drained && arrived && r.state != "sent" {
            findings.push(format!(
                "notice {} was accepted by the push service but is {}",
                r.key, r.state
            ));
        }
        if drained && r.state == "pending" {
            findings.push(format!("notice {} still pending after the drain", r.key));
        }
    }
    let mut repeats = 0;
    for ((endpoint, tag), (count, kind)) in &taken {
        match queued.get(&(*endpoint, *tag)) {
            None => findings.push(format!(
                "the push service accepted {tag} for {endpoint}, which the queue does not hold"
            )),
            Some(r) if r.kind != *kind => findings.push(format!(
                "notice {tag} arrived as {kind} but is queued as {}",
                r.kind
            )),
            Some(_) => {}
        }
        repeats += count - 1;
    }
    // A repeat is the at-least-once delivery a kill causes: the push was
    // accepted but the sender died before recording it. One send is in
    // flight at a time, so a kill causes at most one.
    if repeats as usize > kills {
        findings.push(format!(
            "{repeats} repeated deliveries after {kills} kill(s): more than one per kill"
        ));
    }
    findings
}

/// One row of the push queue, with the endpoint it goes to.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub endpoint: String,
    pub key: String,
    pub kind: String,
    pub state: String,
}

/// The queue rows of the people subscribed to this service.
pub async fn queue(db: &crate::consistency::Db) -> anyhow::Result<Vec<QueueRow>> {
    let rows = db
        .text_rows(
            "SELECT s.endpoint, o.occurrence_key, o.kind, o.state FROM push_outbox o \
             JOIN push_subscriptions s ON s.person_id = o.person_id ORDER BY o.id",
        )
        .await
        .context("reading the push queue")?;
    Ok(rows
        .into_iter()
        .map(|mut r| QueueRow {
            state: r.pop().unwrap_or_default(),
            kind: r.pop().unwrap_or_default(),
            key: r.pop().unwrap_or_default(),
            endpoint: r.pop().unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(endpoint: &str, key: &str, state: &str) -> QueueRow {
        QueueRow {
            endpoint: endpoint.into(),
            key: key.into(),
            kind: "no_fix".into(),
            state: state.into(),
        }
    }

    fn delivered(endpoint: &str, tag: &str) -> Delivery {
        Delivery {
            endpoint: endpoint.into(),
            tag: tag.into(),
            kind: "no_fix".into(),
        }
    }

    fn seen(accepted: Vec<Delivery>) -> Seen {
        Seen {
            accepted_count: accepted.len() as u64,
            accepted,
            ..Seen::default()
        }
    }

    #[test]
    fn an_intact_queue_has_no_findings() {
        let rows = [row("e0", "a", "sent"), row("e1", "b", "pending")];
        let s = seen(vec![delivered("e0", "a")]);
        assert!(compare(&rows, &s, 0, false).is_empty());
    }

    #[test]
    fn each_break_is_found() {
        // Marked sent, never arrived.
        let rows = [row("e0", "a", "sent")];
        assert_eq!(compare(&rows, &seen(vec![]), 0, false).len(), 1);
        // Arrived, not queued.
        assert_eq!(
            compare(&[], &seen(vec![delivered("e0", "a")]), 0, false).len(),
            1
        );
        // Arrived twice with no kill; once per kill is allowed.
        let rows = [row("e0", "a", "sent")];
        let twice = seen(vec![delivered("e0", "a"), delivered("e0", "a")]);
        assert_eq!(compare(&rows, &twice, 0, false).len(), 1);
        assert!(compare(&rows, &twice, 1, false).is_empty());
        // After the drain, nothing pending and nothing arrived unrecorded.
        let rows = [row("e0", "a", "pending"), row("e1", "b", "failed")];
        let s = seen(vec![delivered("e1", "b")]);
        assert!(compare(&rows, &s, 0, false).is_empty());
        assert_eq!(compare(&rows, &s, 0, true).len(), 2);
        // A kind that differs from the queue's.
        let mut wrong = delivered("e0", "a");
        wrong.kind = "deregistered".into();
        assert_eq!(
            compare(&[row("e0", "a", "sent")], &seen(vec![wrong]), 0, false).len(),
            1
        );
    }
}
