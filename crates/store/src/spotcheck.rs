//! Storage for spot checks and districts.
//!
//! A spot check is a police officer's permission to list the people of
//! interest in one area, bounded like a case: legal basis, purpose,
//! expiry, usable only by the officer who opened it, and every use is
//! audited with its legal basis in the transaction that checks it.
//!
//! A district is the address register's municipality of the person's
//! place-of-stay notice in force (the repository has no district
//! polygons; the register is GAR-modelled, docs/import.md).

use amina_domain::console::{CaseState, CaseTerms, SpotCheckOutcome};
use amina_domain::monitor::RegistrationStatus;
use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;

use crate::{AuditEntry, ConsoleError, StoreError};

/// The area of a spot check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SpotArea {
    District { district: String },
    Point { lat: f64, lon: f64, radius_m: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpotCheckRecord {
    pub id: i64,
    pub opened_by: String,
    pub opened_at: Timestamp,
    pub legal_basis: String,
    pub purpose: String,
    pub expires_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    pub area: SpotArea,
}

impl SpotCheckRecord {
    pub fn state(&self, now: Timestamp) -> CaseState {
        amina_domain::console::case_open_at(self.expires_at, self.closed_at.is_some(), now)
    }
}

/// A person of interest in a spot check's area: open signals about them or
/// their notified address, or overdue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpotCandidate {
    pub person_id: i64,
    pub card_number: String,
    pub name_latin: String,
    pub name_cyrillic: String,
    pub status: RegistrationStatus,
    pub deadline_at: Timestamp,
    /// The monitoring deadline has passed (deregistered for missing
    /// monitoring in this registration, or past the deadline).
    pub overdue: bool,
    /// The address of the notice in force and its district.
    pub address_id: Option<String>,
    pub address: Option<String>,
    pub district: Option<String>,
    /// Distance from a point area's centre (never the position itself).
    pub distance_m: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpotOutcomeRecord {
    pub spot_check_id: i64,
    pub person_id: i64,
    pub outcome: SpotCheckOutcome,
    pub note: Option<String>,
    pub recorded_at: Timestamp,
    pub recorded_by: String,
}

/// Signals per district and status (people by the notice in force,
/// addresses by their own district; `None`: no notice).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistrictCount {
    pub district: Option<String>,
    pub status: String,
    pub count: u64,
}

#[async_trait]
pub trait SpotCheckStore: Send + Sync + 'static {
    async fn open_spot_check(
        &self,
        opened_by: &str,
        terms: CaseTerms,
        area: SpotArea,
        audit: AuditEntry,
    ) -> Result<SpotCheckRecord, StoreError>;

    async fn spot_check(&self, id: i64) -> Result<Option<SpotCheckRecord>, StoreError>;

    /// The officer's spot checks, newest first.
    async fn spot_checks_by(
        &self,
        officer: &str,
        limit: u32,
    ) -> Result<Vec<SpotCheckRecord>, StoreError>;

    /// Use a spot check: it must be open at `now` and `actor`'s own; the
    /// use is recorded (with its legal basis) in the same transaction.
    async fn use_spot_check(
        &self,
        id: i64,
        actor: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<SpotCheckRecord, StoreError>;

    /// The people of interest in an area at `now`.
    async fn spot_candidates(
        &self,
        area: &SpotArea,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<SpotCandidate>, StoreError>;

    /// Record what the officer found on one person (once per person and
    /// spot check), with its audit record, if the check is open and theirs.
    #[allow(clippy::too_many_arguments)] // the outcome, its audit record and who and when
    async fn record_spot_outcome(
        &self,
        id: i64,
        person_id: i64,
        outcome: SpotCheckOutcome,
        note: Option<String>,
        actor: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<SpotOutcomeRecord, StoreError>;

    async fn spot_outcomes(&self, id: i64) -> Result<Vec<SpotOutcomeRecord>, StoreError>;

    async fn close_spot_check(
        &self,
        id: i64,
        actor: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<SpotCheckRecord, StoreError>;

    /// The districts of the address register, sorted.
    async fn districts(&self) -> Result<Vec<String>, StoreError>;

    /// Signals per district and status.
    async fn signal_counts_by_district(&self) -> Result<Vec<DistrictCount>, StoreError>;
}

/// Whether `actor` may use `check` at `now`.
pub(crate) fn check_spot_use(
    check: &SpotCheckRecord,
    actor: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    if check.opened_by != actor {
        return Err(StoreError::Console(ConsoleError::NotCaseOwner));
    }
    match check.state(now) {
        CaseState::Open => Ok(()),
        CaseState::Closed => Err(StoreError::Console(ConsoleError::CaseClosed)),
        CaseState::Expired => Err(StoreError::Console(ConsoleError::CaseExpired(
            check.expires_at,
        ))),
    }
}

pub(crate) fn area_from_columns(
    district: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    radius_m: Option<f64>,
) -> Result<SpotArea, StoreError> {
    match (district, lat, lon, radius_m) {
        (Some(district), None, None, None) => Ok(SpotArea::District { district }),
        (None, Some(lat), Some(lon), Some(radius_m)) => Ok(SpotArea::Point { lat, lon, radius_m }),
        _ => Err(StoreError::Internal("bad stored spot-check area".into())),
    }
}

pub(crate) fn parse_outcome(s: &str) -> Result<SpotCheckOutcome, StoreError> {
    SpotCheckOutcome::from_code(s)
        .ok_or_else(|| StoreError::Internal(format!("bad stored outcome {s:?}")))
}

/// SQL: the district (municipality of the notice in force) of the person
/// row aliased `p`. The same text on both backends.
pub(crate) const PERSON_DISTRICT: &str = "(SELECT a.municipality FROM stay_notices n \
     JOIN addresses a ON a.id = n.address_id WHERE n.person_id = p.id \
     AND n.registration_id = p.registration_id AND n.superseded_at IS NULL)";

/// SQL: the signal row (unaliased `signals` columns) is about a person
/// whose notice in force is in the district `param`, or about an address in
/// it.
pub(crate) fn signal_in_district(param: &str) -> String {
    format!(
        "(person_id IN (SELECT n.person_id FROM stay_notices n \
         JOIN persons pp ON pp.id = n.person_id AND pp.registration_id = n.registration_id \
         JOIN addresses a ON a.id = n.address_id \
         WHERE n.superseded_at IS NULL AND a.municipality = {param}) \
         OR address_id IN (SELECT id FROM addresses WHERE municipality = {param}))"
    )
}
