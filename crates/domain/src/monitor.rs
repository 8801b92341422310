//! The monitoring engine: what one fix does to a person's registration.
//!
//! DESIGN.md's rules meet here. For every fix the engine decides, from the
//! person's current state and the fix alone:
//! - whether the fix is acceptable at all (not from the future beyond the
//!   clock-skew allowance, not older than the enrolment, inside the calendar);
//! - which zone it lands in (geofence);
//! - whether it is trustworthy or implausible (impossible speed from the last
//!   trustworthy fix, or a mock location reported by the phone) — implausible
//!   fixes are kept and flagged, count as monitoring, and never move the
//!   person's presence;
//! - how the monitoring window and presence move.
//!
//! It also decides when a registration is overdue. The storage layer loads a
//! [`PersonState`], calls these functions inside its transaction and writes
//! the result back, so the rule lives in exactly one place for both backends
//! and for the scheduler.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::calendar::{CalendarError, ProductionCalendar};
use crate::geofence::{Geofence, Zone};
use crate::rule::{MonitoringWindow, RULE_VERSION};
use crate::types::{AccuracyM, BatteryPct, Coordinates, DeviceSeq, FixSource};

/// A fix as the device reported it, already parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct FixInput {
    pub seq: DeviceSeq,
    pub position: Coordinates,
    pub accuracy: AccuracyM,
    pub recorded_at: Timestamp,
    pub source: FixSource,
    pub mock_location: bool,
    pub battery: Option<BatteryPct>,
}

impl FixInput {
    /// True when `other` is byte-for-byte the same report. Used to tell an
    /// honest retry from a sequence number reused for different content.
    pub fn same_content(&self, other: &FixInput) -> bool {
        self == other
    }
}

/// Is the person currently registered in the pilot region?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    Registered,
    Deregistered,
}

impl RegistrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationStatus::Registered => "registered",
            RegistrationStatus::Deregistered => "deregistered",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "registered" => Some(Self::Registered),
            "deregistered" => Some(Self::Deregistered),
            _ => None,
        }
    }
}

/// Where the person is, as far as trustworthy fixes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// No trustworthy fix yet.
    Unknown,
    InRegion,
    Outside,
    /// The last trustworthy fix's accuracy circle crosses the region border.
    Uncertain,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Unknown => "unknown",
            Presence::InRegion => "in_region",
            Presence::Outside => "outside",
            Presence::Uncertain => "uncertain",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "unknown" => Some(Self::Unknown),
            "in_region" => Some(Self::InRegion),
            "outside" => Some(Self::Outside),
            "uncertain" => Some(Self::Uncertain),
            _ => None,
        }
    }
    fn of_zone(zone: Zone) -> Self {
        match zone {
            Zone::Inside(_) => Presence::InRegion,
            Zone::Outside => Presence::Outside,
            Zone::Uncertain => Presence::Uncertain,
        }
    }
}

/// A position the engine remembers to judge the next fix by.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KnownPosition {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub recorded_at: Timestamp,
}

impl KnownPosition {
    fn of(fix: &FixInput) -> Self {
        KnownPosition {
            lat: fix.position.lat(),
            lon: fix.position.lon(),
            accuracy_m: fix.accuracy.get(),
            recorded_at: fix.recorded_at,
        }
    }
    fn coordinates(&self) -> Coordinates {
        // Stored positions were parsed before they were stored, so they are
        // in range; a corrupted row would fall back to a neutral point.
        Coordinates::parse(self.lat, self.lon)
            .unwrap_or_else(|_| Coordinates::parse(0.0, 0.0).expect("0,0 is valid"))
    }
}

/// The monitoring part of a person's state: everything the rules need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonState {
    pub status: RegistrationStatus,
    /// Enrolment instant of the current (or last) registration. Fixes recorded
    /// before it are refused; with no fix yet, the window runs from it.
    pub registration_started_at: Timestamp,
    pub last_monitoring_at: Option<Timestamp>,
    /// Inclusive last instant at which monitoring must have arrived.
    pub deadline_at: Timestamp,
    pub presence: Presence,
    pub presence_since: Option<Timestamp>,
    pub last_trusted: Option<KnownPosition>,
    /// The first fix of a jump that did not (yet) look plausible. If later
    /// fixes agree with it for long enough, the move was real (a flight, a
    /// long trip with the phone off) and it becomes trusted.
    pub pending_jump: Option<KnownPosition>,
}

/// Why a fix was refused. Refusal of any fix refuses the whole batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FixRejection {
    #[error("recorded_at is in the future beyond the clock-skew allowance")]
    RecordedInFuture,
    #[error("recorded_at is before the person's enrolment")]
    RecordedBeforeEnrolment,
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

impl FixRejection {
    pub fn code(&self) -> &'static str {
        match self {
            FixRejection::RecordedInFuture => "recorded_in_future",
            FixRejection::RecordedBeforeEnrolment => "recorded_before_enrolment",
            FixRejection::Calendar(_) => "date_outside_calendar",
        }
    }
}

/// Why a fix is not trusted. Flags are stored with the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FixFlags {
    /// The phone says the position came from a mock-location provider.
    pub mock_location: bool,
    /// Impossible speed from the last trustworthy fix: most often GNSS
    /// spoofing or jamming in central Moscow, not the person's conduct.
    pub implausible_speed: bool,
}

impl FixFlags {
    pub fn trustworthy(self) -> bool {
        !self.mock_location && !self.implausible_speed
    }
}

/// What the engine decided about one fix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixOutcome {
    pub zone: Zone,
    pub flags: FixFlags,
    /// Counted towards the monitoring window (the person was registered).
    pub counted: bool,
}

/// Why a registration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeregistrationReason {
    NoMonitoring,
    RegisteredElsewhere,
    LeftCountry,
    DocumentInvalid,
    OfficerDecision,
}

impl DeregistrationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoMonitoring => "no_monitoring",
            Self::RegisteredElsewhere => "registered_elsewhere",
            Self::LeftCountry => "left_country",
            Self::DocumentInvalid => "document_invalid",
            Self::OfficerDecision => "officer_decision",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::NoMonitoring,
            Self::RegisteredElsewhere,
            Self::LeftCountry,
            Self::DocumentInvalid,
            Self::OfficerDecision,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// A decided deregistration, ready to be recorded and told to the person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deregistration {
    pub reason: DeregistrationReason,
    /// The instant the registration ended (for no monitoring: the deadline).
    pub effective_at: Timestamp,
    pub evidence: serde_json::Value,
    pub rule_version: String,
}

/// Plausibility thresholds for the impossible-speed check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Plausibility {
    /// Fastest plausible ground speed. 250 km/h is above any road or rail
    /// speed in the region (Sapsan trains run at up to 250 km/h).
    pub max_speed_kmh: f64,
    /// Jumps shorter than this (after subtracting both accuracies) are never
    /// flagged: they are within ordinary GNSS noise.
    pub min_jump_m: f64,
    /// A jump confirmed by later fixes for this long is a real move (a
    /// flight, a trip with the phone off) and becomes trusted.
    pub confirm_after_minutes: u32,
}

impl Default for Plausibility {
    fn default() -> Self {
        Plausibility {
            max_speed_kmh: 250.0,
            min_jump_m: 1_000.0,
            confirm_after_minutes: 120,
        }
    }
}

/// The engine: calendar, geofence and configured rules, shared by the HTTP
/// handlers, the scheduler and both storage backends. Cheap to clone.
#[derive(Clone)]
pub struct Monitor {
    pub calendar: Arc<ProductionCalendar>,
    pub geofence: Arc<Geofence>,
    pub window: MonitoringWindow,
    pub plausibility: Plausibility,
    /// How far in the future a device clock may be before its fixes are
    /// refused.
    pub clock_skew: SignedDuration,
}

impl Monitor {
    /// The rule version recorded with every decision the engine makes.
    pub fn rule_version(&self) -> String {
        let years = self.calendar.years();
        let span = match (years.first(), years.last()) {
            (Some(a), Some(b)) => format!("{a}-{b}"),
            _ => "none".to_string(),
        };
        format!(
            "{RULE_VERSION}; {}; calendar {span}",
            self.window.describe()
        )
    }

    /// The state of a person who has just enrolled at `now`.
    pub fn enrolled(&self, now: Timestamp) -> Result<PersonState, CalendarError> {
        Ok(PersonState {
            status: RegistrationStatus::Registered,
            registration_started_at: now,
            last_monitoring_at: None,
            deadline_at: self.window.deadline(&self.calendar, now)?,
            presence: Presence::Unknown,
            presence_since: None,
            last_trusted: None,
            pending_jump: None,
        })
    }

    /// Check that a fix may be accepted for this person at `now`, without
    /// changing anything.
    pub fn check_fix(
        &self,
        state: &PersonState,
        fix: &FixInput,
        now: Timestamp,
    ) -> Result<(), FixRejection> {
        if fix.recorded_at > now + self.clock_skew {
            return Err(FixRejection::RecordedInFuture);
        }
        if fix.recorded_at < state.registration_started_at {
            return Err(FixRejection::RecordedBeforeEnrolment);
        }
        // The deadline this fix would imply must be computable: a date
        // outside the loaded calendar is an error, never a guess.
        self.window.deadline(&self.calendar, fix.recorded_at)?;
        Ok(())
    }

    /// If the registration's deadline has passed at `now`, the
    /// deregistration that must be recorded.
    pub fn overdue(&self, state: &PersonState, now: Timestamp) -> Option<Deregistration> {
        if state.status != RegistrationStatus::Registered
            || !self.window.is_overdue(state.deadline_at, now)
        {
            return None;
        }
        let evidence = serde_json::json!({
            "last_monitoring_at": state.last_monitoring_at.map(|t| t.to_string()),
            "monitoring_started_at": state.registration_started_at.to_string(),
            "deadline_at": state.deadline_at.to_string(),
            "window": self.window.describe(),
            "checked_at": now.to_string(),
        });
        Some(Deregistration {
            reason: DeregistrationReason::NoMonitoring,
            effective_at: state.deadline_at,
            evidence,
            rule_version: self.rule_version(),
        })
    }

    /// Apply a deregistration decision to the state.
    pub fn deregister(&self, state: &mut PersonState) {
        state.status = RegistrationStatus::Deregistered;
    }

    /// Apply one accepted fix. Callers must call [`Monitor::check_fix`]
    /// first and [`Monitor::overdue`] before a batch, so that a fix arriving
    /// after the deadline never undoes the deregistration.
    pub fn apply_fix(
        &self,
        state: &mut PersonState,
        fix: &FixInput,
    ) -> Result<FixOutcome, FixRejection> {
        let zone =
            self.geofence
                .classify(fix.position.lat(), fix.position.lon(), fix.accuracy.get());
        let flags = FixFlags {
            mock_location: fix.mock_location,
            implausible_speed: !fix.mock_location && self.judge_jump(state, fix),
        };

        // Monitoring: any acceptable fix, trustworthy or not, shows the phone
        // is alive and reporting. It counts at the instant it was recorded.
        let counted = state.status == RegistrationStatus::Registered;
        if counted && state.last_monitoring_at.is_none_or(|t| fix.recorded_at > t) {
            state.last_monitoring_at = Some(fix.recorded_at);
            state.deadline_at = self.window.deadline(&self.calendar, fix.recorded_at)?;
        }

        // Presence follows the newest trustworthy fix only.
        let newest = state
            .last_trusted
            .is_none_or(|p| fix.recorded_at >= p.recorded_at);
        if flags.trustworthy() && newest {
            let presence = Presence::of_zone(zone);
            if presence != state.presence {
                state.presence = presence;
                state.presence_since = Some(fix.recorded_at);
            }
            state.last_trusted = Some(KnownPosition::of(fix));
            state.pending_jump = None;
        }
        Ok(FixOutcome {
            zone,
            flags,
            counted,
        })
    }

    /// True if the fix implies an impossible speed from the last trustworthy
    /// fix. Updates the pending jump: a jump that later fixes confirm for
    /// long enough is accepted as a real move.
    fn judge_jump(&self, state: &mut PersonState, fix: &FixInput) -> bool {
        let Some(trusted) = state.last_trusted else {
            return false;
        };
        if self.plausible(&trusted, fix) {
            return false;
        }
        if let Some(pending) = state.pending_jump {
            let confirm =
                SignedDuration::from_mins(i64::from(self.plausibility.confirm_after_minutes));
            if self.plausible(&pending, fix)
                && fix.recorded_at.duration_since(pending.recorded_at) >= confirm
            {
                return false;
            }
            if self.plausible(&pending, fix) {
                return true;
            }
        }
        state.pending_jump = Some(KnownPosition::of(fix));
        true
    }

    fn plausible(&self, from: &KnownPosition, fix: &FixInput) -> bool {
        let distance = from.coordinates().distance_m(fix.position);
        let jump = (distance - from.accuracy_m - fix.accuracy.get()).max(0.0);
        if jump <= self.plausibility.min_jump_m {
            return true;
        }
        let seconds = fix
            .recorded_at
            .duration_since(from.recorded_at)
            .as_secs_f64()
            .abs()
            .max(1.0);
        let speed_kmh = jump / seconds * 3.6;
        speed_kmh <= self.plausibility.max_speed_kmh
    }
}

/// Why a whole batch was refused. Nothing of a refused batch is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("fix {index} (seq {seq}) refused: {rejection}")]
    Rejected {
        index: usize,
        seq: u64,
        rejection: FixRejection,
    },
    #[error("sequence number {seq} was already used for a different fix")]
    SequenceReused { seq: u64 },
    #[error("sequence number {seq} appears twice in the batch with different content")]
    DuplicateInBatch { seq: u64 },
}

impl BatchError {
    pub fn code(&self) -> &'static str {
        match self {
            BatchError::Rejected { rejection, .. } => rejection.code(),
            BatchError::SequenceReused { .. } => "sequence_reused",
            BatchError::DuplicateInBatch { .. } => "duplicate_sequence_in_batch",
        }
    }
}

/// What storing a batch must write, decided before anything is written.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    /// The registration was overdue before this batch arrived: record this
    /// deregistration first; the batch's fixes are stored but do not count.
    pub deregistration: Option<Deregistration>,
    /// Fixes to insert, in the order they were applied (recorded time).
    pub inserts: Vec<(FixInput, FixOutcome)>,
    /// Sequence numbers already stored with identical content (retries).
    pub duplicates: Vec<DeviceSeq>,
    /// The person's state after the batch.
    pub state: PersonState,
}

impl Monitor {
    /// Plan the effect of one uploaded batch. `stored` returns the fix
    /// already stored under a sequence number of this device, if any.
    pub fn plan_batch(
        &self,
        state: &PersonState,
        batch: &[FixInput],
        stored: impl Fn(DeviceSeq) -> Option<FixInput>,
        now: Timestamp,
    ) -> Result<BatchPlan, BatchError> {
        let mut state = state.clone();
        let deregistration = self.overdue(&state, now);
        if deregistration.is_some() {
            self.deregister(&mut state);
        }

        // Validate everything before deciding anything, so that a bad fix
        // anywhere refuses the whole batch.
        let mut fresh: Vec<&FixInput> = Vec::with_capacity(batch.len());
        let mut duplicates = Vec::new();
        let mut seen = std::collections::HashMap::with_capacity(batch.len());
        for (index, fix) in batch.iter().enumerate() {
            let seq = fix.seq;
            if let Some(earlier) = seen.insert(seq, fix) {
                if earlier.same_content(fix) {
                    continue;
                }
                return Err(BatchError::DuplicateInBatch { seq: seq.get() });
            }
            if let Some(existing) = stored(seq) {
                if existing.same_content(fix) {
                    duplicates.push(seq);
                    continue;
                }
                return Err(BatchError::SequenceReused { seq: seq.get() });
            }
            self.check_fix(&state, fix, now)
                .map_err(|rejection| BatchError::Rejected {
                    index,
                    seq: seq.get(),
                    rejection,
                })?;
            fresh.push(fix);
        }

        // Apply in the order the fixes were recorded, so that presence and
        // the speed check see the person's path as it happened.
        fresh.sort_by_key(|f| (f.recorded_at, f.seq));
        let mut inserts = Vec::with_capacity(fresh.len());
        for fix in fresh {
            let index = batch.iter().position(|f| f.seq == fix.seq).unwrap_or(0);
            let outcome =
                self.apply_fix(&mut state, fix)
                    .map_err(|rejection| BatchError::Rejected {
                        index,
                        seq: fix.seq.get(),
                        rejection,
                    })?;
            inserts.push((fix.clone(), outcome));
        }
        Ok(BatchPlan {
            deregistration,
            inserts,
            duplicates,
            state,
        })
    }
}
