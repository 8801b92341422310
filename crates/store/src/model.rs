//! Records the store returns. Plain data, no behaviour.

use amina_domain::monitor::{DeregistrationReason, FixFlags, PersonState};
use amina_domain::types::CardNumber;
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ImportCounts {
    pub inserted: u64,
    pub updated: u64,
}

/// A card's enrolment-relevant state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardLogin {
    pub number: CardNumber,
    pub secret_hash: String,
    pub valid_until: jiff::civil::Date,
    pub failed_attempts: u32,
    pub last_failed_at: Option<Timestamp>,
    pub locked_at: Option<Timestamp>,
}

/// A binding token to store: only its SHA-256 hash is kept.
#[derive(Debug, Clone)]
pub struct NewBindingToken {
    pub hash: [u8; 32],
    pub expires_at: Timestamp,
    /// Who asked for it: "self" (card + secret in the app) or an operator.
    pub issued_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enrolment {
    pub person_id: i64,
    pub registration_id: i64,
    /// True when this enrolment started a new registration (first enrolment
    /// or re-registration after a deregistration).
    pub new_registration: bool,
}

/// A device to bind.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub id: String,
    /// SEC1 uncompressed P-256 public key (65 bytes).
    pub public_key: Vec<u8>,
    /// RFC 7638 JWK thumbprint of the key, to refuse binding one key twice.
    pub key_thumbprint: String,
    pub kind: String,
    /// Who bound it: "self" or an operator's account.
    pub actor: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Active,
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceRecord {
    pub id: String,
    pub person_id: i64,
    #[serde(skip)]
    pub public_key: Vec<u8>,
    pub kind: String,
    pub status: DeviceStatus,
    pub bound_at: Timestamp,
    pub bound_by: String,
    pub revoked_at: Option<Timestamp>,
}

/// The acknowledgement of a stored batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngestOutcome {
    pub person_id: i64,
    /// Sequence numbers stored by this request.
    pub accepted: Vec<u64>,
    /// Sequence numbers that were already stored with identical content.
    pub duplicates: Vec<u64>,
    /// Accepted fixes flagged as implausible (kept, not trusted).
    pub flagged: Vec<u64>,
    /// Set when the registration had expired before this batch arrived.
    pub deregistered: bool,
    pub state: PersonState,
    /// When the person last checked in (read in the batch's transaction),
    /// so that the answer's status needs no second trip to the database.
    pub last_checkin_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonView {
    pub person_id: i64,
    pub card_number: CardNumber,
    pub registration_id: i64,
    pub active_device_id: Option<String>,
    pub state: PersonState,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeregisteredPerson {
    pub person_id: i64,
    pub registration_id: i64,
    pub deadline_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeregistrationRecord {
    pub registration_id: i64,
    pub reason: DeregistrationReason,
    pub effective_at: Timestamp,
    pub decided_at: Timestamp,
    pub decided_by: String,
    pub evidence: serde_json::Value,
    pub rule_version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredFix {
    pub device_id: String,
    pub seq: u64,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub recorded_at: Timestamp,
    pub received_at: Timestamp,
    pub source: String,
    pub battery_pct: Option<u8>,
    pub zone: String,
    pub flags: FixFlags,
    pub counted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonEvent {
    pub at: Timestamp,
    pub kind: String,
    pub actor: String,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct StoreCounts {
    pub cards: u64,
    pub persons_registered: u64,
    pub persons_deregistered: u64,
    pub active_devices: u64,
    pub fixes: u64,
}
