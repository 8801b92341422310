//! The officers' console rules that do not depend on HTTP or SQL: who the
//! users are (roles), and what a decision, a case or a review must state
//! before the system accepts it.
//!
//! Why here: the store checks these inside the transaction that applies the
//! decision, and the console shows the same rules to the officer; one
//! definition keeps them from drifting apart.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// A console user's role. Least privilege: each role sees only what its
/// work needs (the authorisation table in the server says what exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Assisted enrolment at a migration centre.
    EnrolmentOperator,
    /// Registration work: search, person card, alerts, registry proposals.
    MigrationOfficer,
    /// Spot checks: location only inside an open case.
    PoliceOfficer,
    /// Decides on the registry of controlled persons; oversees alerts.
    Supervisor,
    /// Reads the audit trail; sees no personal data otherwise.
    Auditor,
    /// Manages accounts; sees no personal data.
    Admin,
    /// A landlord or an employer providing housing: sees only their own
    /// properties and who is registered there; files children's arrival
    /// notices and disputes registrations at their addresses.
    HostParty,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::EnrolmentOperator,
        Role::MigrationOfficer,
        Role::PoliceOfficer,
        Role::Supervisor,
        Role::Auditor,
        Role::Admin,
        Role::HostParty,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::EnrolmentOperator => "enrolment_operator",
            Role::MigrationOfficer => "migration_officer",
            Role::PoliceOfficer => "police_officer",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::HostParty => "host_party",
        }
    }

    /// The code, also accepting hyphens (`--role migration-officer`).
    pub fn parse(s: &str) -> Option<Role> {
        let s = s.trim().replace('-', "_");
        Role::ALL.into_iter().find(|r| r.code() == s)
    }
}

/// Why a console input is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsoleRuleError {
    #[error("a written reason is required")]
    ReasonRequired,
    #[error("the text is longer than {0} characters")]
    TooLong(usize),
    #[error("a legal basis is required")]
    LegalBasisRequired,
    #[error("a purpose is required")]
    PurposeRequired,
    #[error("a case lasts between 1 hour and {max_hours} hours")]
    CaseDuration { max_hours: i64 },
}

impl ConsoleRuleError {
    pub fn code(&self) -> &'static str {
        match self {
            ConsoleRuleError::ReasonRequired => "reason_required",
            ConsoleRuleError::TooLong(_) => "text_too_long",
            ConsoleRuleError::LegalBasisRequired => "legal_basis_required",
            ConsoleRuleError::PurposeRequired => "purpose_required",
            ConsoleRuleError::CaseDuration { .. } => "case_duration_invalid",
        }
    }
}

/// Longest free text accepted (reasons, legal basis, purpose).
pub const MAX_TEXT: usize = 2000;

/// A written reason: trimmed, non-empty, at most [`MAX_TEXT`] characters.
pub fn reason(text: Option<&str>) -> Result<String, ConsoleRuleError> {
    let t = text.unwrap_or("").trim();
    if t.is_empty() {
        return Err(ConsoleRuleError::ReasonRequired);
    }
    bounded(t)
}

fn bounded(t: &str) -> Result<String, ConsoleRuleError> {
    if t.chars().count() > MAX_TEXT {
        return Err(ConsoleRuleError::TooLong(MAX_TEXT));
    }
    Ok(t.to_string())
}

/// What opening a case must name: the legal basis (e.g. the article of the
/// law and the order), the purpose, and how long it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseTerms {
    pub legal_basis: String,
    pub purpose: String,
    pub opened_at: Timestamp,
    pub expires_at: Timestamp,
}

impl CaseTerms {
    /// Check and normalise a case's terms; `hours` is its lifetime, at most
    /// `max_hours` (a case is a bounded permission, never open-ended).
    pub fn new(
        legal_basis: &str,
        purpose: &str,
        opened_at: Timestamp,
        hours: i64,
        max_hours: i64,
    ) -> Result<CaseTerms, ConsoleRuleError> {
        let legal_basis = legal_basis.trim();
        let purpose = purpose.trim();
        if legal_basis.is_empty() {
            return Err(ConsoleRuleError::LegalBasisRequired);
        }
        if purpose.is_empty() {
            return Err(ConsoleRuleError::PurposeRequired);
        }
        if hours < 1 || hours > max_hours {
            return Err(ConsoleRuleError::CaseDuration { max_hours });
        }
        Ok(CaseTerms {
            legal_basis: bounded(legal_basis)?,
            purpose: bounded(purpose)?,
            opened_at,
            expires_at: opened_at + SignedDuration::from_hours(hours),
        })
    }
}

/// Whether a case permits reading location at `now`.
pub fn case_open_at(expires_at: Timestamp, closed: bool, now: Timestamp) -> CaseState {
    if closed {
        CaseState::Closed
    } else if now >= expires_at {
        CaseState::Expired
    } else {
        CaseState::Open
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    Open,
    Expired,
    Closed,
}

/// A supervisor's decision on a registry proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryDecision {
    Include,
    Reject,
}

/// The life of a registry entry: proposed by the system, then included or
/// rejected by a supervisor; an included person may later be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryStatus {
    Proposed,
    Included,
    Rejected,
    Removed,
}

impl RegistryStatus {
    pub const ALL: [RegistryStatus; 4] = [
        RegistryStatus::Proposed,
        RegistryStatus::Included,
        RegistryStatus::Rejected,
        RegistryStatus::Removed,
    ];
    pub fn code(self) -> &'static str {
        match self {
            RegistryStatus::Proposed => "proposed",
            RegistryStatus::Included => "included",
            RegistryStatus::Rejected => "rejected",
            RegistryStatus::Removed => "removed",
        }
    }
    pub fn from_code(s: &str) -> Option<RegistryStatus> {
        RegistryStatus::ALL.into_iter().find(|r| r.code() == s)
    }
}

/// What a police officer found on one person during a spot check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpotCheckOutcome {
    /// Met the person; documents and place of stay in order.
    InOrder,
    /// Met the person; a violation was found and recorded (note required).
    Violation,
    /// The person was not found where the records place them (note required).
    NotFound,
    /// Anything else (note required).
    Other,
}

impl SpotCheckOutcome {
    pub const ALL: [SpotCheckOutcome; 4] = [
        SpotCheckOutcome::InOrder,
        SpotCheckOutcome::Violation,
        SpotCheckOutcome::NotFound,
        SpotCheckOutcome::Other,
    ];
    pub fn code(self) -> &'static str {
        match self {
            SpotCheckOutcome::InOrder => "in_order",
            SpotCheckOutcome::Violation => "violation",
            SpotCheckOutcome::NotFound => "not_found",
            SpotCheckOutcome::Other => "other",
        }
    }
    pub fn from_code(s: &str) -> Option<SpotCheckOutcome> {
        SpotCheckOutcome::ALL.into_iter().find(|o| o.code() == s)
    }
}

/// The note recorded with an outcome: optional when all was in order,
/// otherwise a written note is required (it is what a later review reads).
pub fn outcome_note(
    outcome: SpotCheckOutcome,
    note: &str,
) -> Result<Option<String>, ConsoleRuleError> {
    let t = note.trim();
    if outcome == SpotCheckOutcome::InOrder && t.is_empty() {
        return Ok(None);
    }
    reason(Some(t)).map(Some)
}

/// Why a person is listed in a spot check: the open signals that matter to
/// police work, grouped as the officer reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpotCheckReason {
    /// The monitoring deadline has passed (deregistered for no monitoring,
    /// or about to be).
    Overdue,
    /// Outside the pilot region (or outside too long).
    OutsideRegion,
    /// Signs of evasion: a phone left in one place, spoofed locations,
    /// living elsewhere than notified, the app removed.
    SuspectedEvasion,
    /// The notified place of stay is a suspected fictitious address.
    FictitiousAddress,
}

impl SpotCheckReason {
    pub const ALL: [SpotCheckReason; 4] = [
        SpotCheckReason::Overdue,
        SpotCheckReason::OutsideRegion,
        SpotCheckReason::SuspectedEvasion,
        SpotCheckReason::FictitiousAddress,
    ];
    pub fn code(self) -> &'static str {
        match self {
            SpotCheckReason::Overdue => "overdue",
            SpotCheckReason::OutsideRegion => "outside_region",
            SpotCheckReason::SuspectedEvasion => "suspected_evasion",
            SpotCheckReason::FictitiousAddress => "fictitious_address",
        }
    }

    /// The reason an open signal of `kind` gives.
    pub fn of_signal(kind: crate::signal::SignalKind) -> SpotCheckReason {
        use crate::signal::SignalKind::*;
        match kind {
            OutsideRegion | OutsideTooLong => SpotCheckReason::OutsideRegion,
            FictitiousAddress | AddressDisputed => SpotCheckReason::FictitiousAddress,
            PushSubscriptionGone | AppProbablyRemoved | StationaryDevice | SpoofedLocation
            | LivesElsewhere | DeviceChurn => SpotCheckReason::SuspectedEvasion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(r));
        }
        assert_eq!(Role::parse("police-officer"), Some(Role::PoliceOfficer));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn reasons_and_case_terms_are_checked() {
        assert_eq!(reason(None), Err(ConsoleRuleError::ReasonRequired));
        assert_eq!(reason(Some("  \n ")), Err(ConsoleRuleError::ReasonRequired));
        assert_eq!(reason(Some(" ok ")).unwrap(), "ok");
        assert!(reason(Some(&"x".repeat(MAX_TEXT + 1))).is_err());
        let t0: Timestamp = "2025-11-24T07:00:00Z".parse().unwrap();
        let terms = CaseTerms::new("121-FZ art. 5", "spot check", t0, 8, 72).unwrap();
        assert_eq!(terms.expires_at, "2025-11-24T15:00:00Z".parse().unwrap());
        assert_eq!(
            CaseTerms::new(" ", "x", t0, 8, 72),
            Err(ConsoleRuleError::LegalBasisRequired)
        );
        assert_eq!(
            CaseTerms::new("b", "", t0, 8, 72),
            Err(ConsoleRuleError::PurposeRequired)
        );
        assert!(CaseTerms::new("b", "p", t0, 0, 72).is_err());
        assert!(CaseTerms::new("b", "p", t0, 73, 72).is_err());
        assert_eq!(case_open_at(terms.expires_at, false, t0), CaseState::Open);
        assert_eq!(
            case_open_at(terms.expires_at, false, terms.expires_at),
            CaseState::Expired
        );
        assert_eq!(case_open_at(terms.expires_at, true, t0), CaseState::Closed);
    }

    #[test]
    fn spot_check_outcomes_need_a_note_unless_in_order() {
        assert_eq!(outcome_note(SpotCheckOutcome::InOrder, " "), Ok(None));
        assert_eq!(
            outcome_note(SpotCheckOutcome::InOrder, " ok ").unwrap(),
            Some("ok".into())
        );
        for o in [
            SpotCheckOutcome::Violation,
            SpotCheckOutcome::NotFound,
            SpotCheckOutcome::Other,
        ] {
            assert_eq!(outcome_note(o, ""), Err(ConsoleRuleError::ReasonRequired));
            assert_eq!(SpotCheckOutcome::from_code(o.code()), Some(o));
        }
        assert_eq!(SpotCheckOutcome::from_code("fine"), None);
        assert_eq!(
            SpotCheckReason::of_signal(crate::signal::SignalKind::LivesElsewhere),
            SpotCheckReason::SuspectedEvasion
        );
    }
}
