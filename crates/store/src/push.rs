//! Storage for Web Push and the daily check-in.
//!
//! - The VAPID key pair: one row, created by whichever node starts first
//!   (insert-if-absent, then read), so every node signs with the same key.
//! - Push subscriptions, one per person (the active device's browser), with
//!   the language their notices are written in and `next_check_at`: when
//!   the push rules next need to look at the person. That column is indexed,
//!   so a scheduler run reads only the people who may be due.
//! - Check-ins: every one is kept; the person row points at the last one,
//!   which is what the rules read.
//! - An outbox of decided notices, unique per (person, occurrence key):
//!   deciding and recording a notice is one transaction, sending is another.
//!   A sender claims rows with a lease (`next_attempt_at` moves forward), so
//!   a crash between sending and recording means the row is claimed again
//!   after the lease: at-least-once delivery, which the phone collapses by
//!   the notification tag (the occurrence key). Every attempt is kept in
//!   `push_deliveries` with its status code and time.

use amina_domain::reminders::{Checkin, Notice, PushRules};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::StoreError;

/// The server's VAPID key pair (RFC 8292). `Debug` never shows the private
/// key.
#[derive(Clone, PartialEq, Eq)]
pub struct VapidKeys {
    /// PKCS#8 document of the P-256 private key.
    pub private_pkcs8: Vec<u8>,
    /// SEC1 uncompressed public key (65 bytes): the applicationServerKey.
    pub public_key: Vec<u8>,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for VapidKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKeys")
            .field("private_pkcs8", &"<redacted>")
            .field("public_key", &self.public_key)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A subscription as the browser's `PushSubscription` gives it, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub endpoint: String,
    /// The browser's P-256 public key, SEC1 uncompressed (65 bytes).
    pub p256dh: Vec<u8>,
    /// The 16-byte authentication secret.
    pub auth: Vec<u8>,
    /// Language code the person's notices are written in.
    pub lang: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    /// The push service answered 404/410: the browser dropped it.
    Gone,
    /// The app unsubscribed.
    Removed,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Gone => "gone",
            SubscriptionStatus::Removed => "removed",
        }
    }
    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "active" => Ok(Self::Active),
            "gone" => Ok(Self::Gone),
            "removed" => Ok(Self::Removed),
            _ => Err(StoreError::Internal(format!("bad subscription status {s}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubscriptionRecord {
    pub person_id: i64,
    pub device_id: String,
    pub endpoint: String,
    #[serde(skip)]
    pub p256dh: Vec<u8>,
    #[serde(skip)]
    pub auth: Vec<u8>,
    pub lang: String,
    pub status: SubscriptionStatus,
    /// When this endpoint was first stored.
    pub subscribed_at: Timestamp,
    pub updated_at: Timestamp,
    pub gone_at: Option<Timestamp>,
    /// When the push rules look at the person next (active only).
    pub next_check_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckinRecord {
    pub id: i64,
    pub person_id: i64,
    pub device_id: String,
    pub checkin: Checkin,
}

/// What one planning run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PlanReport {
    /// People whose rules were evaluated.
    pub people: u32,
    /// Notices newly put in the outbox.
    pub decided: u32,
    /// People with notices held back by quiet hours.
    pub deferred: u32,
}

/// A claimed outbox row with what sending needs.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub id: i64,
    pub person_id: i64,
    pub key: String,
    pub notice: Notice,
    pub decided_at: Timestamp,
    /// This attempt's number: the answered attempts before it, plus one.
    /// A claim whose sender died before recording an answer is not
    /// counted: a crash in the middle of a batch must not use up the
    /// attempts of notices that were never sent.
    pub attempts: u32,
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
    pub lang: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Pending,
    Sent,
    /// The subscription was gone (404/410).
    Gone,
    /// Refused by the push service, too many attempts, or too old.
    Failed,
    /// No active subscription when its turn came.
    Dropped,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::Gone => "gone",
            OutboxState::Failed => "failed",
            OutboxState::Dropped => "dropped",
        }
    }
    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        [
            Self::Pending,
            Self::Sent,
            Self::Gone,
            Self::Failed,
            Self::Dropped,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
        .ok_or_else(|| StoreError::Internal(format!("bad outbox state {s}")))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxRecord {
    pub id: i64,
    pub person_id: i64,
    pub key: String,
    pub notice: Notice,
    pub state: OutboxState,
    /// Attempts with a recorded answer (or transport error).
    pub attempts: u32,
    pub decided_at: Timestamp,
    pub next_attempt_at: Timestamp,
    pub last_status: Option<u16>,
    pub sent_at: Option<Timestamp>,
}

/// What became of one attempt, as the sender decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "at")]
pub enum DeliveryOutcome {
    Sent,
    /// The subscription no longer exists: mark it gone.
    Gone,
    /// Try again at this instant.
    RetryAt(Timestamp),
    Failed,
}

/// One attempt to record.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryReport {
    pub outbox_id: i64,
    /// The endpoint the attempt went to (a gone answer marks exactly it).
    pub endpoint: String,
    pub at: Timestamp,
    /// The push service's HTTP status; None when no answer came.
    pub status_code: Option<u16>,
    /// A short description of a transport error.
    pub error: Option<String>,
    pub outcome: DeliveryOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRecord {
    pub outbox_id: i64,
    pub at: Timestamp,
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

#[async_trait]
pub trait PushStore: Send + Sync + 'static {
    /// The stored VAPID keys; `candidate` is stored first if there are none.
    /// Every caller, on every node, gets the same keys.
    async fn vapid_keys(&self, candidate: VapidKeys) -> Result<VapidKeys, StoreError>;

    /// Store (or replace) the push subscription of `device_id`'s person; the
    /// device must be active. The person's rules are looked at again soon.
    async fn put_subscription(
        &self,
        device_id: &str,
        subscription: NewSubscription,
        now: Timestamp,
    ) -> Result<SubscriptionRecord, StoreError>;

    /// Unsubscribe (the app turned notifications off); false if the person
    /// had no active subscription.
    async fn remove_subscription(
        &self,
        device_id: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    async fn subscription(&self, person_id: i64) -> Result<Option<SubscriptionRecord>, StoreError>;

    /// Record a check-in from an active device; it becomes the person's
    /// last check-in, and the person's rules are looked at again soon.
    async fn record_checkin(
        &self,
        device_id: &str,
        checkin: Checkin,
    ) -> Result<CheckinRecord, StoreError>;

    /// The person's last check-in.
    async fn last_checkin(&self, person_id: i64) -> Result<Option<CheckinRecord>, StoreError>;

    /// The person's check-ins, newest first.
    async fn checkins(&self, person_id: i64, limit: u32) -> Result<Vec<CheckinRecord>, StoreError>;

    /// Evaluate the push rules for up to `limit` people whose
    /// `next_check_at` has come, put due notices in the outbox (once per
    /// occurrence key) and set each person's next check. Safe to run on
    /// several nodes at once.
    async fn plan_pushes(
        &self,
        rules: &PushRules,
        now: Timestamp,
        limit: u32,
    ) -> Result<PlanReport, StoreError>;

    /// Claim up to `limit` pending notices whose attempt time has come: each
    /// is leased for `lease` (another claim skips it until then). Notices
    /// decided before `oldest` fail as too old; those whose person has no
    /// active subscription any more are dropped.
    async fn claim_pushes(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        oldest: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError>;

    /// Record one attempt and apply its outcome (only to a still pending
    /// notice: a late duplicate report changes nothing but the log).
    async fn record_delivery(&self, report: DeliveryReport) -> Result<(), StoreError>;

    /// The person's decided notices, oldest first.
    async fn push_outbox(&self, person_id: i64) -> Result<Vec<OutboxRecord>, StoreError>;

    /// Every attempt to deliver one notice, oldest first.
    async fn push_deliveries(&self, outbox_id: i64) -> Result<Vec<DeliveryRecord>, StoreError>;
}

pub(crate) fn notice_json(n: &Notice) -> Result<String, StoreError> {
    serde_json::to_string(n).map_err(|e| StoreError::Internal(e.to_string()))
}

pub(crate) fn parse_notice(s: &str) -> Result<Notice, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Internal(format!("bad stored notice: {e}")))
}

pub(crate) fn parse_permission(s: &str) -> Result<amina_domain::reminders::Permission, StoreError> {
    amina_domain::reminders::Permission::parse(s)
        .ok_or_else(|| StoreError::Internal(format!("bad stored permission {s}")))
}

/// Whether a push subscription made on `subscribed_device` reaches the
/// person: while that device is the active one, or while it is the
/// companion app key of the active device (the app that provisioned
/// OwnTracks keeps the person's notices).
pub(crate) fn subscription_reaches(
    active_device: Option<&str>,
    subscribed_device: &str,
    companion_of: Option<&str>,
) -> bool {
    match active_device {
        None => false,
        Some(active) => active == subscribed_device || Some(active) == companion_of,
    }
}

pub(crate) fn parse_network(
    s: Option<String>,
) -> Result<Option<amina_domain::reminders::Network>, StoreError> {
    s.map(|s| {
        amina_domain::reminders::Network::parse(&s)
            .ok_or_else(|| StoreError::Internal(format!("bad stored network {s}")))
    })
    .transpose()
}

pub(crate) fn parse_client(s: &str) -> Result<amina_domain::reminders::CheckinClient, StoreError> {
    amina_domain::reminders::CheckinClient::parse(s)
        .ok_or_else(|| StoreError::Internal(format!("bad stored check-in client {s}")))
}

pub(crate) fn parse_geo_error(
    code: Option<i64>,
) -> Result<Option<amina_domain::reminders::GeoError>, StoreError> {
    code.map(|c| {
        amina_domain::reminders::GeoError::from_code(c)
            .ok_or_else(|| StoreError::Internal(format!("bad stored geolocation error {c}")))
    })
    .transpose()
}
