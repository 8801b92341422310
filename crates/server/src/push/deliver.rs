//! One push to a push service (RFC 8030): the payload encrypted for the
//! browser (RFC 8291, `aes128gcm`, by Mozilla's `ece`), the VAPID
//! authorization, and what the answer means for the notice.

use amina_store::{DeliveryOutcome, OutboxItem};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};

use super::render::Rendered;
use super::vapid::Vapid;
use crate::config::PushConfig;

/// What the service worker receives (JSON, encrypted).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Payload {
    pub title: String,
    pub body: String,
    /// The occurrence key: the notification tag, so a repeat delivery
    /// replaces the shown notification instead of adding one.
    pub tag: String,
    pub kind: String,
    /// Where a tap leads.
    pub url: String,
}

/// The answer of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: Option<u16>,
    pub retry_after_s: Option<u64>,
    pub error: Option<String>,
}

/// RFC 8030 `Topic`: at most 32 characters of the base64url alphabet. A
/// hash of the occurrence key, so the push service also replaces a queued
/// message about the same occurrence.
pub fn topic(key: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())[..32].to_string()
}

/// The origin of an endpoint: the VAPID `aud` claim.
pub fn audience(endpoint: &reqwest::Url) -> String {
    endpoint.origin().ascii_serialization()
}

/// Encrypt and send one notice. Never fails: every failure is an answer
/// (no status, with the error's kind), which the policy turns into a retry.
pub async fn send(
    http: &reqwest::Client,
    vapid: &Vapid,
    config: &PushConfig,
    item: &OutboxItem,
    text: Rendered,
    now: Timestamp,
) -> Answer {
    let failed = |error: String| Answer {
        status: None,
        retry_after_s: None,
        error: Some(error),
    };
    let url = match reqwest::Url::parse(&item.endpoint) {
        Ok(u) => u,
        Err(_) => return failed("stored endpoint is not a URL".into()),
    };
    let payload = Payload {
        title: text.title,
        body: text.body,
        tag: item.key.clone(),
        kind: item.notice.kind().to_string(),
        url: "/app/".into(),
    };
    let plaintext = serde_json::to_vec(&payload).expect("a plain struct serialises");
    let body = match ece::encrypt(&item.p256dh, &item.auth, &plaintext) {
        Ok(b) => b,
        Err(e) => return failed(format!("encryption failed: {e}")),
    };
    let authorization = match vapid.authorization(&audience(&url), &config.contact, now) {
        Ok(a) => a,
        Err(_) => return failed("VAPID signing failed".into()),
    };
    let urgency = match item.notice.kind() {
        "deregistered" | "deadline_soon" => "high",
        _ => "normal",
    };
    let result = http
        .post(url)
        .header("TTL", config.ttl_s.to_string())
        .header("Content-Encoding", "aes128gcm")
        .header("Content-Type", "application/octet-stream")
        .header("Topic", topic(&item.key))
        .header("Urgency", urgency)
        .header("Authorization", authorization)
        .body(body)
        .send()
        .await;
    match result {
        Ok(resp) => Answer {
            status: Some(resp.status().as_u16()),
            retry_after_s: resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
            error: None,
        },
        // The kind only: reqwest's message would repeat the endpoint URL,
        // which is a capability and stays out of logs and the database.
        Err(e) => failed(if e.is_timeout() {
            "timeout".into()
        } else if e.is_connect() {
            "connection failed".into()
        } else {
            "transport error".into()
        }),
    }
}

/// What an answer means for the notice: sent, gone (404/410), retried
/// with backoff (429, 5xx, no answer) or failed (any other refusal, or
/// too many attempts).
pub fn outcome(answer: &Answer, attempts: u32, now: Timestamp, c: &PushConfig) -> DeliveryOutcome {
    match answer.status {
        Some(200..=299) => DeliveryOutcome::Sent,
        Some(404 | 410) => DeliveryOutcome::Gone,
        Some(429 | 500..=599) | None => {
            if attempts >= c.max_attempts {
                return DeliveryOutcome::Failed;
            }
            let exp = attempts.saturating_sub(1).min(30);
            let backoff = c
                .retry_base_s
                .saturating_mul(1u64 << exp)
                .min(c.retry_max_s);
            // A service asking for a longer pause gets it, within a day.
            let wait = backoff.max(answer.retry_after_s.unwrap_or(0).min(86_400));
            let wait = i64::try_from(wait).unwrap_or(86_400);
            DeliveryOutcome::RetryAt(now + SignedDuration::from_secs(wait))
        }
        Some(_) => DeliveryOutcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: Option<u16>, retry_after_s: Option<u64>) -> Answer {
        Answer {
            status,
            retry_after_s,
            error: None,
        }
    }

    #[test]
    fn answers_map_to_outcomes_with_backoff() {
        let c = PushConfig::default();
        let now: Timestamp = "2025-12-01T10:00:00Z".parse().unwrap();
        let later = |s: i64| DeliveryOutcome::RetryAt(now + SignedDuration::from_secs(s));
        assert_eq!(
            outcome(&answer(Some(201), None), 1, now, &c),
            DeliveryOutcome::Sent
        );
        assert_eq!(
            outcome(&answer(Some(410), None), 1, now, &c),
            DeliveryOutcome::Gone
        );
        assert_eq!(
            outcome(&answer(Some(404), None), 3, now, &c),
            DeliveryOutcome::Gone
        );
        assert_eq!(outcome(&answer(Some(503), None), 1, now, &c), later(60));
        assert_eq!(outcome(&answer(Some(500), None), 3, now, &c), later(240));
        assert_eq!(outcome(&answer(None, None), 7, now, &c), later(3600));
        assert_eq!(
            outcome(&answer(Some(429), Some(900)), 1, now, &c),
            later(900)
        );
        assert_eq!(
            outcome(&answer(Some(429), None), 8, now, &c),
            DeliveryOutcome::Failed
        );
        assert_eq!(
            outcome(&answer(Some(400), None), 1, now, &c),
            DeliveryOutcome::Failed
        );
        assert_eq!(
            outcome(&answer(Some(413), None), 1, now, &c),
            DeliveryOutcome::Failed
        );
    }

    #[test]
    fn topic_and_audience() {
        let t = topic("no_fix:1764345600000");
        assert_eq!(t.len(), 32);
        assert!(t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(t, topic("no_fix:1764345600001"));
        let u = reqwest::Url::parse("https://fcm.example:443/wp/abc?x=1").unwrap();
        assert_eq!(audience(&u), "https://fcm.example");
        let u = reqwest::Url::parse("http://127.0.0.1:4711/push/1").unwrap();
        assert_eq!(audience(&u), "http://127.0.0.1:4711");
    }
}
