//! Storage of the address register, place-of-stay notices and one-time
//! enrolment codes (see [`amina_domain::stay`] and
//! [`amina_domain::enrolment_code`]).
//!
//! A notice is decided by the domain's [`decide_notice`] inside the
//! transaction that stores it, on the person's locked row, so two notices
//! sent at once are applied one after the other and exactly one of them is
//! in force afterwards (a partial unique index says so too). A refused
//! notice stores nothing.
//!
//! An enrolment code is kept only as its SHA-256 hash. Using one is a
//! single transaction: the code is locked, checked, marked used, and the
//! card's holder is enrolled exactly as with card and secret (the same
//! code path), so a code cannot be used twice even by two phones at once.
//!
//! [`decide_notice`]: amina_domain::stay::decide_notice

use std::sync::Arc;

use amina_domain::enrolment_code::{CodeRefusal, EnrolmentCode};
use amina_domain::geofence::Geofence;
use amina_domain::monitor::Monitor;
use amina_domain::stay::{Address, AddressId, HostName, NoticeRefusal, NoticeRules, NoticeState};
use amina_domain::types::{CardNumber, Citizenship};
use async_trait::async_trait;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::{DeviceRecord, Enrolment, ImportCounts, NewBindingToken, StoreError};

/// Why a place-of-stay or enrolment-code operation was refused. Each
/// leaves the database unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StayError {
    #[error("unknown address")]
    UnknownAddress,
    #[error(transparent)]
    Notice(#[from] NoticeRefusal),
    #[error(transparent)]
    Code(#[from] CodeRefusal),
    #[error("the card expired on {valid_until}")]
    CardExpired { valid_until: Date },
}

/// A notice to decide and store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotice {
    pub person_id: i64,
    pub address_id: AddressId,
    pub date_from: Date,
    pub host_name: Option<HostName>,
}

/// A stored notice with its address as the register holds it now.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeRecord {
    pub id: i64,
    pub person_id: i64,
    pub registration_id: i64,
    pub address: Address,
    pub date_from: Date,
    pub host_name: Option<String>,
    pub submitted_at: Timestamp,
    pub state: NoticeState,
    pub superseded_at: Option<Timestamp>,
}

/// The answer to a notice.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeOutcome {
    pub notice: NoticeRecord,
    /// False when the notice was the current one again (a retry).
    pub created: bool,
    /// The notice this one replaced, if any.
    pub superseded: Option<i64>,
}

/// A code just issued: the only moment its clear text exists.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedEnrolmentCode {
    pub code: EnrolmentCode,
    pub card_number: CardNumber,
    pub expires_at: Timestamp,
    /// Unused codes of this card that this one replaced.
    pub superseded: u64,
}

/// The card's data as the system holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardIdentity {
    pub number: CardNumber,
    pub name_latin: String,
    pub name_cyrillic: String,
    pub citizenship: Citizenship,
    pub birth_date: Date,
    pub valid_until: Date,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistrationRecord {
    pub id: i64,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub end_reason: Option<String>,
}

/// How many fixes are stored for a person and over which period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FixSummary {
    pub count: u64,
    pub first_recorded_at: Option<Timestamp>,
    pub last_recorded_at: Option<Timestamp>,
}

/// Everything held about one person, read in one transaction ("my data").
#[derive(Debug, Clone, PartialEq)]
pub struct PersonData {
    pub person_id: i64,
    pub card: CardIdentity,
    /// Oldest first.
    pub registrations: Vec<RegistrationRecord>,
    /// Oldest first.
    pub devices: Vec<DeviceRecord>,
    /// Newest first.
    pub notices: Vec<NoticeRecord>,
    pub fixes: FixSummary,
}

#[async_trait]
pub trait StayStore: Send + Sync + 'static {
    /// Insert or update register entries, all or nothing. Entries are
    /// never deleted: notices refer to them.
    async fn import_addresses(
        &self,
        addresses: Vec<Address>,
        now: Timestamp,
    ) -> Result<ImportCounts, StoreError>;

    async fn address(&self, id: &AddressId) -> Result<Option<Address>, StoreError>;

    /// Entries whose search text contains every term (see
    /// [`amina_domain::stay::query_terms`]), by street, house and flat; at
    /// most `limit`. No terms, no entries.
    async fn search_addresses(
        &self,
        terms: &[String],
        limit: u32,
    ) -> Result<Vec<Address>, StoreError>;

    /// Decide a notice by the domain rules and, if accepted, store it in
    /// place of the current one, with a person event. A refusal is
    /// [`StayError::Notice`] or [`StayError::UnknownAddress`].
    async fn submit_notice(
        &self,
        rules: NoticeRules,
        geofence: Arc<Geofence>,
        notice: NewNotice,
        now: Timestamp,
    ) -> Result<NoticeOutcome, StoreError>;

    /// The person's notices, newest first.
    async fn notices(&self, person_id: i64) -> Result<Vec<NoticeRecord>, StoreError>;

    /// Issue a one-time code for a card an operator has checked: valid for
    /// `ttl`, replacing the card's earlier unused codes. Only its hash is
    /// stored; the clear code is returned once.
    async fn issue_enrolment_code(
        &self,
        card: &CardNumber,
        actor: &str,
        ttl: SignedDuration,
        now: Timestamp,
    ) -> Result<IssuedEnrolmentCode, StoreError>;

    /// Use a code: check it (unknown, used, superseded, expired, card
    /// expired all refuse and change nothing), mark it used and enrol the
    /// card's holder as [`crate::Store::enrol`] does. The binding token is
    /// recorded as issued by the code's operator.
    async fn enrol_with_code(
        &self,
        monitor: &Monitor,
        code: &EnrolmentCode,
        token: NewBindingToken,
        now: Timestamp,
    ) -> Result<Enrolment, StoreError>;

    /// Everything held about a person; None for an unknown person.
    async fn person_data(&self, person_id: i64) -> Result<Option<PersonData>, StoreError>;
}

/// The stored hash of a code.
pub(crate) fn code_hash(code: &EnrolmentCode) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, code.as_str().as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A fresh random code.
pub(crate) fn new_code() -> EnrolmentCode {
    let mut bytes = [0u8; amina_domain::enrolment_code::RANDOM_BYTES];
    rand::fill(&mut bytes);
    EnrolmentCode::from_random(bytes)
}

/// Who an operator-issued token or registration is recorded as.
pub(crate) fn operator_actor(actor: &str) -> String {
    format!("operator:{actor}")
}

pub(crate) fn bad_stored(what: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("bad stored value: {what}"))
}

pub(crate) fn parse_state(superseded: bool, registration_ended: bool) -> NoticeState {
    NoticeState::of(superseded, registration_ended)
}

/// SQL ordering of search hits: by street, then houses and flats in
/// natural order for plain numbers (shorter first, then by text), the house
/// itself before its flats. The same expression works on both backends.
pub(crate) const SEARCH_ORDER: &str =
    "street, length(house), house, coalesce(length(flat), 0), coalesce(flat, ''), id";

/// What the notice rules need to know about the person now. A
/// registration whose deadline has passed has ended, even if the scheduler
/// has not recorded it yet.
pub(crate) fn notice_context(
    person: &crate::PersonView,
    current: Option<amina_domain::stay::CurrentNotice>,
    now: Timestamp,
) -> amina_domain::stay::NoticeContext {
    use amina_domain::monitor::RegistrationStatus;
    let status = if person.state.status == RegistrationStatus::Registered
        && now > person.state.deadline_at
    {
        RegistrationStatus::Deregistered
    } else {
        person.state.status
    };
    amina_domain::stay::NoticeContext {
        status,
        registration_start: amina_domain::time::moscow_date(person.state.registration_started_at),
        today: amina_domain::time::moscow_date(now),
        current,
    }
}
