//! Storage for the federal migration system's integration.
//!
//! - **Inbound events.** [`IntegrationStore::receive_event`] stores an event
//!   and applies it in one transaction, once per (sender, event id): the
//!   event row is inserted first (`ON CONFLICT DO NOTHING`), so of two
//!   deliveries of one event racing on two nodes exactly one decides; the
//!   other finds the row and answers "duplicate". The decision itself is
//!   [`amina_domain::integration::decide`], on the person's locked row.
//!   Events for nobody known are stored as `unknown_person` and can be
//!   replayed later ([`IntegrationStore::replay_event`]).
//! - **Refused deliveries** from authenticated senders are kept
//!   (`integration_rejections`) so the sender and officers can see why.
//! - **The outbound feed** is a transactional outbox: every registration,
//!   place-of-stay notice and deregistration writes its feed row in the
//!   same transaction as the change (inside `enrol_in`, `submit_notice` and
//!   `record_deregistration` of both backends). A row gets its feed
//!   position only when published ([`IntegrationStore::publish_feed`]), by
//!   one publisher at a time and only among committed rows; positions
//!   therefore grow in the order readers can see them, and a reader's
//!   cursor never passes a row that commits later. A crash before
//!   publishing loses nothing (the row is there, unpublished); a row is
//!   published once (its position is unique and set once).
//! - **Outside too long**: [`IntegrationStore::sweep_outside`] raises the
//!   `outside_too_long` signal and puts the person's push notice in the push
//!   outbox, in one transaction, once per departure.

use amina_domain::calendar::ProductionCalendar;
use amina_domain::integration::{InboundEvent, Outcome, OutsideRule};
use amina_domain::monitor::Monitor;
use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;

use crate::StoreError;

/// Refusals of the integration store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrationError {
    /// The sender already delivered this event id with different content.
    #[error("event id {event_id} was already used for a different event")]
    EventIdReused { event_id: String },
    #[error("no such integration event")]
    UnknownEvent,
    /// The federal system declared the card invalid: it cannot enrol.
    #[error("this card was declared invalid by the federal migration system")]
    CardInvalidated,
}

impl IntegrationError {
    pub fn code(&self) -> &'static str {
        match self {
            IntegrationError::EventIdReused { .. } => "event_id_reused",
            IntegrationError::UnknownEvent => "unknown_event",
            IntegrationError::CardInvalidated => "card_invalid",
        }
    }
}

/// An authenticated, parsed event to store and apply.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The sender's key id.
    pub sender: String,
    pub event: InboundEvent,
    /// SHA-256 of the event's canonical JSON: a repeat has the same one.
    pub digest: String,
    pub received_at: Timestamp,
}

/// A stored event and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    pub id: i64,
    pub sender: String,
    pub event: InboundEvent,
    pub received_at: Timestamp,
    /// `applied`, `no_change` or `unknown_person`.
    pub status: String,
    pub outcome: Outcome,
    pub person_id: Option<i64>,
    /// When the outcome was decided (the first delivery, or the last replay).
    pub decided_at: Timestamp,
    pub replays: u32,
}

/// The answer to a delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receipt {
    pub record: EventRecord,
    /// The event had been received before; nothing was applied now.
    pub duplicate: bool,
}

/// Which events to list; every field narrows. Newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    pub status: Option<String>,
    pub sender: Option<String>,
    pub person_id: Option<i64>,
    pub limit: u32,
}

/// A delivery refused for its content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    pub sender: String,
    pub event_id: Option<String>,
    pub received_at: Timestamp,
    pub error: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectionRecord {
    pub id: i64,
    #[serde(flatten)]
    pub rejection: Rejection,
}

/// The kinds of feed entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    Registration,
    PlaceOfStay,
    Deregistration,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Registration => "registration",
            FeedKind::PlaceOfStay => "place_of_stay",
            FeedKind::Deregistration => "deregistration",
        }
    }
    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        [Self::Registration, Self::PlaceOfStay, Self::Deregistration]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| StoreError::Internal(format!("bad feed kind {s}")))
    }
}

/// One published feed entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedEntry {
    /// The cursor: strictly increasing, without gaps.
    pub position: i64,
    pub kind: FeedKind,
    pub person_id: i64,
    pub card_number: String,
    /// When the change took effect.
    pub occurred_at: Timestamp,
    pub payload: serde_json::Value,
    pub published_at: Timestamp,
}

/// What one "outside too long" sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutsideReport {
    /// People looked at.
    pub people: u32,
    /// Signals (each with its push notice) raised now.
    pub raised: u32,
}

#[async_trait]
pub trait IntegrationStore: Send + Sync + 'static {
    /// Store an event and apply it, once per (sender, event id). A
    /// registration already past its monitoring deadline ends for no
    /// monitoring first, exactly as the scheduler would have ended it. `pilot`
    /// lists the pilot regions' ISO 3166-2 codes. A repeat with the same
    /// content answers the stored outcome (`duplicate`); with different
    /// content it is refused ([`IntegrationError::EventIdReused`]).
    async fn receive_event(
        &self,
        monitor: &Monitor,
        event: NewEvent,
        pilot: Vec<String>,
        now: Timestamp,
    ) -> Result<Receipt, StoreError>;

    /// Decide a stored event again on the current data (e.g. after the card
    /// of an unknown person was imported and enrolled). An event that was
    /// applied stays as it is: replaying never applies twice.
    async fn replay_event(
        &self,
        monitor: &Monitor,
        id: i64,
        pilot: Vec<String>,
        now: Timestamp,
    ) -> Result<EventRecord, StoreError>;

    async fn integration_event(&self, id: i64) -> Result<Option<EventRecord>, StoreError>;

    async fn integration_events(&self, query: EventQuery) -> Result<Vec<EventRecord>, StoreError>;

    /// Keep a refused delivery.
    async fn record_rejection(&self, rejection: Rejection) -> Result<i64, StoreError>;

    /// Refused deliveries, newest first, of one sender or of all.
    async fn rejections(
        &self,
        sender: Option<String>,
        limit: u32,
    ) -> Result<Vec<RejectionRecord>, StoreError>;

    /// Give up to `limit` committed, unpublished feed rows their positions;
    /// returns how many. Safe on several nodes at once.
    async fn publish_feed(&self, now: Timestamp, limit: u32) -> Result<u32, StoreError>;

    /// Published entries after position `after`, oldest first.
    async fn feed(&self, after: i64, limit: u32) -> Result<Vec<FeedEntry>, StoreError>;

    /// Feed rows written but not yet published.
    async fn unpublished_feed(&self) -> Result<u64, StoreError>;

    /// Raise `outside_too_long` for up to `limit` registered people outside
    /// the region past the rule's limit (no "registered in region X" event
    /// since they left), with the push notice to register where they are,
    /// to be sent from `push_not_before` (quiet hours). Once per departure.
    async fn sweep_outside(
        &self,
        rule: OutsideRule,
        calendar: std::sync::Arc<ProductionCalendar>,
        now: Timestamp,
        push_not_before: Timestamp,
        limit: u32,
    ) -> Result<OutsideReport, StoreError>;
}

pub(crate) fn outcome_of(code: &str) -> Result<Outcome, StoreError> {
    Outcome::from_code(code).ok_or_else(|| StoreError::Internal(format!("bad outcome {code}")))
}

pub(crate) fn event_of(json: &str) -> Result<InboundEvent, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Internal(format!("bad stored event: {e}")))
}

/// Explain an outcome for the person's history.
pub(crate) fn history_detail(
    e: &InboundEvent,
    sender: &str,
    outcome: Outcome,
) -> serde_json::Value {
    serde_json::json!({
        "event_id": e.event_id.as_str(),
        "sender": sender,
        "type": e.body.kind().code(),
        "occurred_at": e.occurred_at.to_string(),
        "outcome": outcome.code(),
        "explanation": outcome.explanation(),
    })
}

/// The feed payload of a new registration.
pub(crate) fn registration_payload(
    registration_id: i64,
    started_at: Timestamp,
) -> serde_json::Value {
    serde_json::json!({"registration_id": registration_id, "started_at": started_at.to_string()})
}

/// The feed payload of a place-of-stay notice.
pub(crate) fn place_of_stay_payload(
    registration_id: i64,
    notice_id: i64,
    address_id: &str,
    date_from: jiff::civil::Date,
    supersedes: Option<i64>,
) -> serde_json::Value {
    serde_json::json!({
        "registration_id": registration_id,
        "notice_id": notice_id,
        "address_id": address_id,
        "date_from": date_from.to_string(),
        "supersedes_notice_id": supersedes,
    })
}

/// The feed payload of a deregistration.
pub(crate) fn deregistration_payload(
    registration_id: i64,
    d: &amina_domain::monitor::Deregistration,
    decided_by: &str,
) -> serde_json::Value {
    serde_json::json!({
        "registration_id": registration_id,
        "reason": d.reason.as_str(),
        "effective_at": d.effective_at.to_string(),
        "decided_by": decided_by,
        "rule_version": d.rule_version,
    })
}
