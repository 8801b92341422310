//! Signals: observations that a human should look at.
//!
//! A signal is never a sanction. Rules (a person outside the region, a push
//! subscription that went away) and detection (lives elsewhere, a phone left
//! in one place, a fictitious address) raise signals with their evidence and
//! a plain explanation; officers review them in the alerts queue and decide.
//! This module names the kinds, the review states and the allowed moves
//! between them, so the store, the console and the scheduler share one
//! definition.
//!
//! A signal is raised once per cause: its `dedup_key` says which occurrence
//! it is (e.g. the instant the person left the region), and raising the same
//! (subject, kind, key) again changes nothing.

use serde::{Deserialize, Serialize};

/// What a signal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// The person's trusted position is outside the pilot region.
    OutsideRegion,
    /// Outside the region for longer than the configured number of working
    /// days without being registered elsewhere.
    OutsideTooLong,
    /// The push service said the person's subscription no longer exists.
    PushSubscriptionGone,
    /// Silence together with a dead push subscription: the app was probably
    /// removed.
    AppProbablyRemoved,
    /// The reporting device barely moved for days, working days included.
    StationaryDevice,
    /// Fixes that look spoofed (mock locations, impossible jumps) repeatedly.
    SpoofedLocation,
    /// The inferred home is far from the registered place of stay.
    LivesElsewhere,
    /// An address where many registered people do not live.
    FictitiousAddress,
    /// Frequent rebinding, or uploads signed by a revoked device next to the
    /// active one (proofs from two devices).
    DeviceChurn,
    /// A host party states the person does not live at the registered
    /// address. Raised about the person; its evidence carries `address_id`
    /// (and the host party's statement), and the fictitious-address review
    /// counts the undecided ones per address.
    AddressDisputed,
}

impl SignalKind {
    pub const ALL: [SignalKind; 10] = [
        SignalKind::OutsideRegion,
        SignalKind::OutsideTooLong,
        SignalKind::PushSubscriptionGone,
        SignalKind::AppProbablyRemoved,
        SignalKind::StationaryDevice,
        SignalKind::SpoofedLocation,
        SignalKind::LivesElsewhere,
        SignalKind::FictitiousAddress,
        SignalKind::DeviceChurn,
        SignalKind::AddressDisputed,
    ];

    /// The stable code used in storage and APIs.
    pub fn code(self) -> &'static str {
        match self {
            SignalKind::OutsideRegion => "outside_region",
            SignalKind::OutsideTooLong => "outside_too_long",
            SignalKind::PushSubscriptionGone => "push_subscription_gone",
            SignalKind::AppProbablyRemoved => "app_probably_removed",
            SignalKind::StationaryDevice => "stationary_device",
            SignalKind::SpoofedLocation => "spoofed_location",
            SignalKind::LivesElsewhere => "lives_elsewhere",
            SignalKind::FictitiousAddress => "fictitious_address",
            SignalKind::DeviceChurn => "device_churn",
            SignalKind::AddressDisputed => "address_disputed",
        }
    }

    pub fn from_code(code: &str) -> Option<SignalKind> {
        SignalKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether the subject of this kind is an address rather than a person.
    pub fn is_about_address(self) -> bool {
        matches!(self, SignalKind::FictitiousAddress)
    }
}

/// Who or what a signal is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "id")]
pub enum SignalSubject {
    Person(i64),
    /// An address register id.
    Address(String),
}

/// Where a signal is in human review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalStatus {
    Open,
    InReview,
    Dismissed,
    Confirmed,
}

impl SignalStatus {
    pub const ALL: [SignalStatus; 4] = [
        SignalStatus::Open,
        SignalStatus::InReview,
        SignalStatus::Dismissed,
        SignalStatus::Confirmed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SignalStatus::Open => "open",
            SignalStatus::InReview => "in_review",
            SignalStatus::Dismissed => "dismissed",
            SignalStatus::Confirmed => "confirmed",
        }
    }

    pub fn from_code(code: &str) -> Option<SignalStatus> {
        SignalStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Dismissed and confirmed signals are decided; they leave the queue.
    pub fn is_decided(self) -> bool {
        matches!(self, SignalStatus::Dismissed | SignalStatus::Confirmed)
    }
}

/// A signal a rule raises, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSignal {
    pub kind: SignalKind,
    pub dedup_key: String,
    pub raised_at: jiff::Timestamp,
    pub explanation: String,
    pub evidence: serde_json::Value,
}

/// DESIGN.md: outside fixes "change the person's presence status (in
/// region / outside since T) and raise a signal, they do not deregister by
/// themselves". Raised when a batch moves the presence to outside; the
/// occurrence is the instant the person was first seen outside, so the same
/// departure is raised once however its fixes arrive.
pub fn left_region(
    before: &crate::monitor::PersonState,
    after: &crate::monitor::PersonState,
) -> Option<RuleSignal> {
    use crate::monitor::Presence;
    if after.presence != Presence::Outside || before.presence == Presence::Outside {
        return None;
    }
    let since = after.presence_since?;
    let position = after.last_trusted.as_ref();
    Some(RuleSignal {
        kind: SignalKind::OutsideRegion,
        dedup_key: since.to_string(),
        raised_at: since,
        explanation: format!(
            "Trusted fixes place the person outside the pilot region since {}.",
            crate::time::format_moscow(since)
        ),
        evidence: serde_json::json!({
            "outside_since": since.to_string(),
            "previous_presence": before.presence.as_str(),
            "lat": position.map(|p| p.lat),
            "lon": position.map(|p| p.lon),
            "accuracy_m": position.map(|p| p.accuracy_m),
            "recorded_at": position.map(|p| p.recorded_at.to_string()),
        }),
    })
}

/// Why a review step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("a signal cannot go from {from} to {to}")]
    NotAllowed {
        from: &'static str,
        to: &'static str,
    },
    #[error("a decision needs a written reason")]
    ReasonRequired,
}

impl ReviewError {
    pub fn code(&self) -> &'static str {
        match self {
            ReviewError::NotAllowed { .. } => "signal_transition_not_allowed",
            ReviewError::ReasonRequired => "reason_required",
        }
    }
}

/// Check one review step. Open signals may be taken into review or decided
/// directly; signals in review may be decided or returned to the queue;
/// decided signals stay decided (a new occurrence raises a new signal).
/// Deciding (dismiss or confirm) needs a non-blank reason.
pub fn check_review(
    from: SignalStatus,
    to: SignalStatus,
    reason: Option<&str>,
) -> Result<(), ReviewError> {
    use SignalStatus::*;
    let allowed = matches!(
        (from, to),
        (Open, InReview)
            | (Open, Dismissed)
            | (Open, Confirmed)
            | (InReview, Open)
            | (InReview, Dismissed)
            | (InReview, Confirmed)
    );
    if !allowed {
        return Err(ReviewError::NotAllowed {
            from: from.code(),
            to: to.code(),
        });
    }
    if to.is_decided() && reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(ReviewError::ReasonRequired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for k in SignalKind::ALL {
            assert_eq!(SignalKind::from_code(k.code()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.code()));
        }
        for s in SignalStatus::ALL {
            assert_eq!(SignalStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(SignalKind::from_code("nonsense"), None);
    }

    #[test]
    fn review_moves() {
        use SignalStatus::*;
        assert_eq!(check_review(Open, InReview, None), Ok(()));
        assert_eq!(check_review(InReview, Open, None), Ok(()));
        assert_eq!(check_review(InReview, Confirmed, Some("seen")), Ok(()));
        assert_eq!(check_review(Open, Dismissed, Some("GNSS fault")), Ok(()));
        assert_eq!(
            check_review(Open, Dismissed, Some("  ")),
            Err(ReviewError::ReasonRequired)
        );
        assert_eq!(
            check_review(InReview, Confirmed, None),
            Err(ReviewError::ReasonRequired)
        );
        for decided in [Dismissed, Confirmed] {
            for to in SignalStatus::ALL {
                assert!(check_review(decided, to, Some("r")).is_err());
            }
        }
        assert!(check_review(Open, Open, None).is_err());
    }
}
