//! Storage for the daily detection job: which people to look at, their
//! fixes over a day, and the small history the job keeps per person
//! ([`amina_domain::detection::daily::PersonHistory`], stored as JSON);
//! each person's home verdict and the residents of addresses under review
//! (fictitious addresses); the anomaly reference model per day; silent
//! people whose push subscription is gone (app removed); and bindings and
//! revoked devices' uploads (device churn).

use std::collections::BTreeMap;

use amina_domain::detection::address::{HomeVerdict, Resident};
use async_trait::async_trait;
use jiff::civil::Date;
use jiff::Timestamp;

use crate::{StoreError, StoredFix};

/// The kept history of one person.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionHistory {
    /// The last day the job processed for this person.
    pub last_day: Date,
    pub history: serde_json::Value,
}

/// A person whose push subscription the push service reported gone and
/// who has not reported since.
#[derive(Debug, Clone, PartialEq)]
pub struct GonePush {
    pub person_id: i64,
    pub last_monitoring_at: Option<Timestamp>,
    /// Start of the current (or last) registration: the silence is counted
    /// from here when nothing was ever received.
    pub registration_started_at: Timestamp,
    pub gone_at: Timestamp,
}

/// Who bound a device, or whose revoked device uploaded, on a day; with
/// their bindings over the churn window.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnCandidate {
    pub person_id: i64,
    /// Bindings in the window, oldest first.
    pub bindings: Vec<Timestamp>,
    /// Signed upload attempts by revoked devices on the day.
    pub revoked_uploads: u64,
    /// The revoked devices that tried.
    pub revoked_devices: Vec<String>,
}

#[async_trait]
pub trait DetectionStore: Send + Sync + 'static {
    /// Ids of people whose last monitoring is at or after `since`, above
    /// `after_id`, in id order, at most `limit` (for paging).
    async fn persons_reporting_since(
        &self,
        since: Timestamp,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError>;

    /// The person's fixes recorded in [from, to), oldest first.
    async fn fixes_between(
        &self,
        person_id: i64,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredFix>, StoreError>;

    async fn detection_history(
        &self,
        person_id: i64,
    ) -> Result<Option<DetectionHistory>, StoreError>;

    /// Keep the history after processing `history.last_day` (insert or
    /// replace).
    async fn save_detection_history(
        &self,
        person_id: i64,
        history: DetectionHistory,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Keep a person's home verdict against the address of their notice in
    /// force, computed for `day` (insert or replace).
    async fn save_home_verdict(
        &self,
        person_id: i64,
        address_id: String,
        day: Date,
        verdict: HomeVerdict,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Every resident (a notice in force) of each address where at least
    /// one resident's home is elsewhere, or where more than `crowded_above`
    /// people are registered, ordered by address and person. A verdict
    /// counts only if it was computed against the same address on or after
    /// `fresh_since`; otherwise the resident's home is unknown.
    async fn address_review_residents(
        &self,
        fresh_since: Date,
        crowded_above: u32,
    ) -> Result<Vec<Resident>, StoreError>;

    /// Undecided (open or in review) `address_disputed` signals per
    /// address id (the `address_id` of their evidence).
    async fn open_address_disputes(&self) -> Result<BTreeMap<String, u32>, StoreError>;

    /// The anomaly model saved for the latest day before `day`, if any.
    async fn anomaly_model_before(
        &self,
        day: Date,
    ) -> Result<Option<(Date, serde_json::Value)>, StoreError>;

    /// Keep the anomaly model fitted on `day`'s person-days (the first one
    /// saved for a day stays: a rerun sees fewer people).
    async fn save_anomaly_model(
        &self,
        day: Date,
        model: serde_json::Value,
        reference_days: u32,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// People whose push subscription went gone at or after `gone_since`
    /// (and is still gone) and whose last monitoring, if any, is before
    /// `silent_before`; by person id.
    async fn silent_with_gone_push(
        &self,
        gone_since: Timestamp,
        silent_before: Timestamp,
    ) -> Result<Vec<GonePush>, StoreError>;

    /// Record an upload whose signature verified with the key of a revoked
    /// device (one row per device and Moscow day, counting attempts).
    async fn record_revoked_upload(
        &self,
        device_id: &str,
        day: Date,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// People who bound a device in [day_start, day_end) or whose revoked
    /// device uploaded on `day`, with their bindings in
    /// [window_start, day_end); by person id.
    async fn churn_candidates(
        &self,
        day: Date,
        day_start: Timestamp,
        day_end: Timestamp,
        window_start: Timestamp,
    ) -> Result<Vec<ChurnCandidate>, StoreError>;
}

/// A stored verdict row as the domain's verdict.
pub(crate) fn verdict_from_parts(
    verdict: Option<&str>,
    distance_m: Option<f64>,
    score: Option<f64>,
) -> HomeVerdict {
    match verdict {
        Some("at_address") => HomeVerdict::AtAddress,
        Some("elsewhere") => HomeVerdict::Elsewhere {
            distance_m: distance_m.unwrap_or(0.0),
            score: score.unwrap_or(0.0),
        },
        _ => HomeVerdict::Unknown,
    }
}

/// A verdict's stored parts: (code, distance, score).
pub(crate) fn verdict_parts(v: &HomeVerdict) -> (&'static str, Option<f64>, Option<f64>) {
    match v {
        HomeVerdict::Elsewhere { distance_m, score } => (v.code(), Some(*distance_m), Some(*score)),
        _ => (v.code(), None, None),
    }
}

/// Group (person, binding) rows and (person, device, attempts) rows into
/// candidates, by person id.
pub(crate) fn group_churn(
    bindings: Vec<(i64, Timestamp)>,
    revoked: Vec<(i64, String, i64)>,
) -> Vec<ChurnCandidate> {
    let mut by: BTreeMap<i64, ChurnCandidate> = BTreeMap::new();
    let entry = |by: &mut BTreeMap<i64, ChurnCandidate>, p: i64| {
        by.entry(p).or_insert_with(|| ChurnCandidate {
            person_id: p,
            bindings: Vec::new(),
            revoked_uploads: 0,
            revoked_devices: Vec::new(),
        });
    };
    for (p, at) in bindings {
        entry(&mut by, p);
        if let Some(c) = by.get_mut(&p) {
            c.bindings.push(at);
        }
    }
    for (p, device, attempts) in revoked {
        entry(&mut by, p);
        if let Some(c) = by.get_mut(&p) {
            c.revoked_uploads += attempts.max(0) as u64;
            c.revoked_devices.push(device);
        }
    }
    by.into_values().collect()
}
