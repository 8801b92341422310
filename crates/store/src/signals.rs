//! Storage of signals for human review (see [`amina_domain::signal`]).
//!
//! Raising is idempotent by (kind, subject, dedup key): the scheduler and the
//! detection jobs may run again, on several nodes, without doubling the
//! officers' queue. Review steps are checked by the domain's
//! [`amina_domain::signal::check_review`] inside the transaction that applies
//! them, and every step is kept in `signal_reviews`.

use amina_domain::signal::{SignalKind, SignalStatus, SignalSubject};
use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A signal to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSignal {
    pub kind: SignalKind,
    pub subject: SignalSubject,
    /// Which occurrence this is (e.g. the instant the person left the
    /// region); the same (kind, subject, key) is raised once.
    pub dedup_key: String,
    pub raised_at: Timestamp,
    /// A ranking score in 0..=1 where the kind has one.
    pub score: Option<f64>,
    /// A plain-language explanation for the officer (English; the console
    /// translates by kind and shows this as the detail).
    pub explanation: String,
    /// The inputs that led to the signal, shown with it.
    pub evidence: serde_json::Value,
}

/// The answer to raising a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RaisedSignal {
    pub id: i64,
    /// False when the same occurrence had been raised before.
    pub created: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalRecord {
    pub id: i64,
    pub kind: SignalKind,
    pub subject: SignalSubject,
    pub dedup_key: String,
    pub raised_at: Timestamp,
    pub score: Option<f64>,
    pub explanation: String,
    pub evidence: serde_json::Value,
    pub status: SignalStatus,
    pub assigned_to: Option<String>,
    pub updated_at: Timestamp,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    /// The anomaly score of the person-day the signal came from, where the
    /// daily detection job had one: it orders the queue.
    pub anomaly: Option<AnomalyRank>,
}

/// A person-day's anomaly score (0..1, see
/// [`amina_domain::detection::anomaly`]) and the features that contributed
/// most, kept with the signals the daily job raises for that person-day.
/// It ranks the review queue and never raises a signal by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyRank {
    pub score: f64,
    /// Largest contribution first.
    pub top: Vec<RankFeature>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankFeature {
    pub feature: String,
    pub value: f64,
    pub z: f64,
}

impl From<&amina_domain::detection::anomaly::AnomalyScore> for AnomalyRank {
    fn from(a: &amina_domain::detection::anomaly::AnomalyScore) -> AnomalyRank {
        AnomalyRank {
            score: a.score,
            top: a
                .top
                .iter()
                .map(|c| RankFeature {
                    feature: c.feature.to_string(),
                    value: c.value,
                    z: c.z,
                })
                .collect(),
        }
    }
}

/// Which signals to list; every field narrows. Ranked: the highest anomaly
/// score first, then signals without one, newest raised first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignalQuery {
    pub person_id: Option<i64>,
    pub address_id: Option<String>,
    /// Signals about people whose notice in force is in this district, or
    /// about addresses in it (crate::spotcheck).
    pub district: Option<String>,
    pub kind: Option<SignalKind>,
    /// Any of these statuses; empty means all.
    pub statuses: Vec<SignalStatus>,
    pub limit: u32,
}

/// A review step to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalReview {
    pub signal_id: i64,
    pub to: SignalStatus,
    pub actor: String,
    pub reason: Option<String>,
    /// Taking a signal into review assigns it to the actor; other steps keep
    /// the assignment.
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalReviewRecord {
    pub at: Timestamp,
    pub actor: String,
    pub from: SignalStatus,
    pub to: SignalStatus,
    pub reason: Option<String>,
}

#[async_trait]
pub trait SignalStore: Send + Sync + 'static {
    /// Raise a signal once per (kind, subject, dedup key).
    async fn raise_signal(&self, signal: NewSignal) -> Result<RaisedSignal, StoreError>;

    /// [`SignalStore::raise_signal`] with the anomaly score of the
    /// person-day the signal came from (kept only when the occurrence is new).
    async fn raise_ranked_signal(
        &self,
        signal: NewSignal,
        rank: Option<AnomalyRank>,
    ) -> Result<RaisedSignal, StoreError>;

    async fn signals(&self, query: SignalQuery) -> Result<Vec<SignalRecord>, StoreError>;

    async fn signal(&self, id: i64) -> Result<Option<SignalRecord>, StoreError>;

    /// Apply a review step (checked by the domain rules); returns the signal
    /// after it.
    async fn review_signal(&self, review: SignalReview) -> Result<SignalRecord, StoreError>;

    /// The review history of a signal, oldest first.
    async fn signal_reviews(&self, id: i64) -> Result<Vec<SignalReviewRecord>, StoreError>;
}

/// A rule's signal about a person, ready to store.
pub(crate) fn rule_signal(person_id: i64, rule: amina_domain::signal::RuleSignal) -> NewSignal {
    NewSignal {
        kind: rule.kind,
        subject: SignalSubject::Person(person_id),
        dedup_key: rule.dedup_key,
        raised_at: rule.raised_at,
        score: None,
        explanation: rule.explanation,
        evidence: rule.evidence,
    }
}

/// The stored form of a subject: 'person:<id>' or 'address:<id>'.
pub(crate) fn subject_key(subject: &SignalSubject) -> String {
    match subject {
        SignalSubject::Person(id) => format!("person:{id}"),
        SignalSubject::Address(id) => format!("address:{id}"),
    }
}

pub(crate) fn parse_kind(code: &str) -> Result<SignalKind, StoreError> {
    SignalKind::from_code(code)
        .ok_or_else(|| StoreError::Internal(format!("bad stored signal kind {code:?}")))
}

pub(crate) fn parse_status(code: &str) -> Result<SignalStatus, StoreError> {
    SignalStatus::from_code(code)
        .ok_or_else(|| StoreError::Internal(format!("bad stored signal status {code:?}")))
}

/// Refuse a signal whose subject does not fit its kind.
pub(crate) fn check_new(signal: &NewSignal) -> Result<(), StoreError> {
    let about_address = matches!(signal.subject, SignalSubject::Address(_));
    if about_address != signal.kind.is_about_address() {
        return Err(StoreError::Internal(format!(
            "a {} signal cannot be about {:?}",
            signal.kind.code(),
            signal.subject
        )));
    }
    Ok(())
}
