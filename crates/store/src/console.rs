//! Storage for the officers' console: accounts and sessions, person search,
//! cases that permit location reads, audited signal reviews, and the
//! registry of controlled persons.
//!
//! Every method that changes state takes the [`AuditEntry`] that records it
//! and writes both in one transaction: there is no console change without
//! its audit record, and no audit record of a change that did not happen.
//! Location is only returned by [`ConsoleStore::case_location`], which
//! checks the case (open, unexpired, the caller's own) and records the read
//! in the same transaction.

use amina_domain::console::{
    CaseState, CaseTerms, ConsoleRuleError, RegistryDecision, RegistryStatus, Role,
};
use amina_domain::monitor::{Presence, RegistrationStatus};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::{AuditEntry, SignalRecord, SignalReview, StoreError};

/// Console failures the officer can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConsoleError {
    #[error("an account with this name exists")]
    AccountExists,
    #[error("unknown account")]
    UnknownAccount,
    #[error("this one-time code was already used")]
    TotpReplayed,
    #[error("unknown case")]
    UnknownCase,
    #[error("the case expired at {0}")]
    CaseExpired(Timestamp),
    #[error("the case is closed")]
    CaseClosed,
    #[error("only the officer who opened the case may use it")]
    NotCaseOwner,
    #[error("unknown registry entry")]
    UnknownRegistryEntry,
    #[error("the registry entry is {0:?}; this step does not apply")]
    RegistryState(RegistryStatus),
    #[error(transparent)]
    Rule(#[from] ConsoleRuleError),
    #[error("unknown spot check")]
    UnknownSpotCheck,
    #[error("an outcome for this person is already recorded in this spot check")]
    OutcomeRecorded,
    #[error("admins do not disable or reset their own account")]
    OwnAccount,
}

impl ConsoleError {
    /// The machine-readable reason.
    pub fn code(&self) -> &'static str {
        match self {
            ConsoleError::AccountExists => "account_exists",
            ConsoleError::UnknownAccount => "unknown_account",
            ConsoleError::TotpReplayed => "totp_replayed",
            ConsoleError::UnknownCase => "unknown_case",
            ConsoleError::CaseExpired(_) => "case_expired",
            ConsoleError::CaseClosed => "case_closed",
            ConsoleError::NotCaseOwner => "not_case_owner",
            ConsoleError::UnknownRegistryEntry => "unknown_registry_entry",
            ConsoleError::RegistryState(_) => "registry_state",
            ConsoleError::Rule(r) => r.code(),
            ConsoleError::UnknownSpotCheck => "unknown_spot_check",
            ConsoleError::OutcomeRecorded => "outcome_recorded",
            ConsoleError::OwnAccount => "own_account",
        }
    }
}

impl From<ConsoleRuleError> for StoreError {
    fn from(e: ConsoleRuleError) -> Self {
        StoreError::Console(ConsoleError::Rule(e))
    }
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub role: Role,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// RFC 6238 secret, base32.
    pub totp_secret: String,
    pub created_by: String,
}

#[derive(Clone, PartialEq, Serialize)]
pub struct AccountRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    #[serde(skip)]
    pub password_hash: String,
    #[serde(skip)]
    pub totp_secret: String,
    pub totp_last_step: i64,
    pub failed_attempts: u32,
    pub locked_until: Option<Timestamp>,
    pub created_at: Timestamp,
    pub disabled: bool,
}

impl std::fmt::Debug for AccountRecord {
    // The password hash and the TOTP secret never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("failed_attempts", &self.failed_attempts)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the session id the cookie carries.
    pub id_hash: [u8; 32],
    pub account_id: i64,
    pub csrf_token: String,
    pub created_at: Timestamp,
    /// Absolute expiry, whatever the activity.
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub account_id: i64,
    pub name: String,
    pub role: Role,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Registration status as the console filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Registered,
    Deregistered,
}

/// A person search; at least one criterion is required by the console.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonQuery {
    /// Exact card number.
    pub card_number: Option<String>,
    /// Skeleton words (amina_domain::names); each must start a word of the
    /// person's name skeleton.
    pub name_words: Vec<String>,
    /// ISO 3166-1 alpha-3.
    pub citizenship: Option<String>,
    pub status: Option<StatusFilter>,
    /// Address search terms (amina_domain::stay::query_terms), each found
    /// in the address of the place-of-stay notice in force.
    pub address_terms: Vec<String>,
    /// The district (address register municipality) of the notice in force.
    pub district: Option<String>,
    pub limit: u32,
}

/// A search result: who and their status, never where.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonHit {
    pub person_id: i64,
    pub card_number: String,
    pub name_latin: String,
    pub name_cyrillic: String,
    pub citizenship: String,
    pub status: RegistrationStatus,
    /// Signals open or in review.
    pub open_signals: u64,
    /// District of the place-of-stay notice in force (not a position).
    pub district: Option<String>,
}

/// What the person card shows at the top: identity and status, no position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonIdentity {
    pub person_id: i64,
    pub card_number: String,
    pub name_latin: String,
    pub name_cyrillic: String,
    pub citizenship: String,
    pub birth_date: String,
    pub card_valid_until: String,
    pub status: RegistrationStatus,
    pub registration_started_at: Timestamp,
    pub last_monitoring_at: Option<Timestamp>,
    pub deadline_at: Timestamp,
    pub presence: Presence,
    pub presence_since: Option<Timestamp>,
    pub active_device_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRecord {
    pub id: i64,
    pub person_id: i64,
    pub opened_by: String,
    pub opened_at: Timestamp,
    pub legal_basis: String,
    pub purpose: String,
    pub expires_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    pub closed_by: Option<String>,
}

impl CaseRecord {
    pub fn state(&self, now: Timestamp) -> CaseState {
        amina_domain::console::case_open_at(self.expires_at, self.closed_at.is_some(), now)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackPoint {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub recorded_at: Timestamp,
    pub zone: String,
    /// Flagged as implausible (mock location or impossible speed).
    pub flagged: bool,
}

/// What an open case shows: the last trusted position and the recent track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseLocation {
    pub case: CaseRecord,
    pub last_known: Option<TrackPoint>,
    /// Newest first.
    pub track: Vec<TrackPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalCount {
    pub kind: String,
    pub status: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistryEntry {
    pub id: i64,
    pub person_id: i64,
    pub card_number: String,
    pub name_latin: String,
    pub name_cyrillic: String,
    pub citizenship: String,
    pub deregistration_id: i64,
    pub proposed_at: Timestamp,
    pub evidence: serde_json::Value,
    pub status: RegistryStatus,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub decision_reason: Option<String>,
    pub removed_by: Option<String>,
    pub removed_at: Option<Timestamp>,
    pub removal_reason: Option<String>,
}

/// A person last seen near a point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NearbyPerson {
    pub person_id: i64,
    pub card_number: String,
    pub distance_m: f64,
    pub open_signals: u64,
}

#[async_trait]
pub trait ConsoleStore: Send + Sync + 'static {
    async fn create_account(
        &self,
        account: NewAccount,
        audit: AuditEntry,
    ) -> Result<AccountRecord, StoreError>;

    async fn account_by_name(&self, name: &str) -> Result<Option<AccountRecord>, StoreError>;

    /// Count a failed sign-in; at `lock_after` consecutive failures lock
    /// the account for `lock_for` (and start counting again).
    async fn login_failed(
        &self,
        account_id: i64,
        now: Timestamp,
        lock_after: u32,
        lock_for: SignedDuration,
        audit: AuditEntry,
    ) -> Result<AccountRecord, StoreError>;

    /// A good password and TOTP code: reset the failures, remember the TOTP
    /// step (a code is accepted once), start the session.
    async fn login_succeeded(
        &self,
        account_id: i64,
        totp_step: i64,
        session: NewSession,
        audit: AuditEntry,
    ) -> Result<(), StoreError>;

    /// The live session with this id hash at `now` (not ended, before its
    /// absolute expiry, seen within `idle`); marks it seen.
    async fn session(
        &self,
        id_hash: [u8; 32],
        now: Timestamp,
        idle: SignedDuration,
    ) -> Result<Option<SessionRecord>, StoreError>;

    async fn end_session(
        &self,
        id_hash: [u8; 32],
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<(), StoreError>;

    /// People matching every given criterion, by Latin name.
    async fn search_persons(&self, query: PersonQuery) -> Result<Vec<PersonHit>, StoreError>;

    async fn person_identity(&self, person_id: i64) -> Result<Option<PersonIdentity>, StoreError>;

    /// Open a case about a person; the audit entry gets the new case's id
    /// and legal basis.
    async fn open_case(
        &self,
        person_id: i64,
        opened_by: &str,
        terms: CaseTerms,
        audit: AuditEntry,
    ) -> Result<CaseRecord, StoreError>;

    async fn case(&self, case_id: i64) -> Result<Option<CaseRecord>, StoreError>;

    async fn cases_for_person(&self, person_id: i64) -> Result<Vec<CaseRecord>, StoreError>;

    /// The last known position and the newest `track_limit` fixes of the
    /// case's person, if the case is open at `now` and `actor` opened it;
    /// the read is recorded (with the case and its legal basis) in the same
    /// transaction.
    async fn case_location(
        &self,
        case_id: i64,
        actor: &str,
        now: Timestamp,
        track_limit: u32,
        audit: AuditEntry,
    ) -> Result<CaseLocation, StoreError>;

    async fn close_case(
        &self,
        case_id: i64,
        actor: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<CaseRecord, StoreError>;

    /// [`crate::SignalStore::review_signal`] with its audit record in the
    /// same transaction.
    async fn review_signal_audited(
        &self,
        review: SignalReview,
        audit: AuditEntry,
    ) -> Result<SignalRecord, StoreError>;

    /// Signals per kind and status.
    async fn signal_counts(&self) -> Result<Vec<SignalCount>, StoreError>;

    /// Propose every person deregistered for missing monitoring and not yet
    /// proposed for that deregistration; each proposal is audited as the
    /// system's. Returns the new entries' ids.
    async fn propose_registry(&self, now: Timestamp) -> Result<Vec<i64>, StoreError>;

    async fn registry_entries(
        &self,
        status: Option<RegistryStatus>,
        limit: u32,
    ) -> Result<Vec<RegistryEntry>, StoreError>;

    async fn registry_entry(&self, id: i64) -> Result<Option<RegistryEntry>, StoreError>;

    /// A supervisor's decision on a proposal, with a written reason; the
    /// person's history gets it too (the app tells them, with the reason).
    async fn decide_registry(
        &self,
        id: i64,
        decision: RegistryDecision,
        actor: &str,
        reason: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<RegistryEntry, StoreError>;

    /// Remove an included person from the registry, with a written reason.
    async fn remove_from_registry(
        &self,
        id: i64,
        actor: &str,
        reason: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<RegistryEntry, StoreError>;

    /// People whose last trusted position is within `radius_m` of a point,
    /// nearest first (the same distance: by id), at most `limit`, each with
    /// their open signals counted. Distances are great-circle distances on
    /// the sphere of the WGS 84 mean radius ([`distance_m`]) on both
    /// backends; the WGS 84 spheroid would differ by at most 0.56 %.
    async fn nearby(
        &self,
        lat: f64,
        lon: f64,
        radius_m: f64,
        limit: u32,
    ) -> Result<Vec<NearbyPerson>, StoreError>;
}

/// The next registry status for a decision, or why it does not apply.
pub(crate) fn decided_status(
    current: RegistryStatus,
    decision: RegistryDecision,
) -> Result<RegistryStatus, StoreError> {
    if current != RegistryStatus::Proposed {
        return Err(StoreError::Console(ConsoleError::RegistryState(current)));
    }
    Ok(match decision {
        RegistryDecision::Include => RegistryStatus::Included,
        RegistryDecision::Reject => RegistryStatus::Rejected,
    })
}

pub(crate) fn parse_role(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::Internal(format!("bad stored role {s:?}")))
}

pub(crate) fn parse_registry_status(s: &str) -> Result<RegistryStatus, StoreError> {
    RegistryStatus::from_code(s)
        .ok_or_else(|| StoreError::Internal(format!("bad stored registry status {s:?}")))
}

/// Great-circle distance in metres (haversine, mean Earth radius), for the
/// SQLite path of [`ConsoleStore::nearby`].
pub(crate) fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let r = 6_371_008.8_f64;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * r * a.sqrt().asin()
}

/// What the registry proposal records as evidence.
pub(crate) fn proposal_evidence(
    deregistration_id: i64,
    effective_at: Timestamp,
    evidence: serde_json::Value,
    rule_version: &str,
) -> serde_json::Value {
    serde_json::json!({
        "deregistration_id": deregistration_id,
        "reason": "no_monitoring",
        "effective_at": effective_at.to_string(),
        "rule_version": rule_version,
        "deregistration_evidence": evidence,
    })
}

/// Whether `actor` may read location through `case` at `now`.
pub(crate) fn check_case_use(
    case: &CaseRecord,
    actor: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    if case.opened_by != actor {
        return Err(StoreError::Console(ConsoleError::NotCaseOwner));
    }
    match case.state(now) {
        CaseState::Open => Ok(()),
        CaseState::Closed => Err(StoreError::Console(ConsoleError::CaseClosed)),
        CaseState::Expired => Err(StoreError::Console(ConsoleError::CaseExpired(
            case.expires_at,
        ))),
    }
}
