//! Which push notices a person should get now, and when to look again.
//!
//! DESIGN.md asks that the person be warned about every cause of missing
//! data, in words they can act on, before any deadline: a web app cannot
//! report in the background, so a push is the one way to reach a person
//! whose phone has gone quiet. The rules here are pure: they read the
//! person's state, their last check-in (what the app itself could see), and
//! the notices already decided, and answer with the notices due and the next
//! instant at which something could become due. The scheduler stores that
//! instant in an indexed column, so it only looks at people who may need a
//! push.
//!
//! Every notice carries an occurrence key — the notice kind plus the fact it
//! is about (the start of the data gap, the deadline, the day, the
//! registration). A key is decided once; the store's unique constraint on
//! (person, key) is the last guard. The same key is sent to the phone as the
//! notification tag, so even a repeat delivery collapses into one.
//!
//! The causes are kept apart as DESIGN.md separates them:
//! - location permission off, or the GNSS fails (both reported by the app at
//!   its check-in after the last fix);
//! - offline: the app reports fixes waiting in its queue;
//! - app not running: no check-in since the last fix (for OwnTracks, which
//!   reports by itself, "stopped by the phone" instead);
//! - after a long silence, the circumstances of the last report: no
//!   network (OwnTracks `conn`), a nearly empty battery that was not
//!   charging (`batt`, `bs`, or the web app's battery reading);
//! - push subscription gone: not a notice (it cannot be pushed); the store
//!   raises a signal instead.
//!
//! Quiet hours (Moscow time, 22:00–08:00 by default) defer every notice to
//! their end; nothing is dropped because of them.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::monitor::{DeregistrationReason, PersonState, RegistrationStatus};
use crate::time::{moscow_date, moscow_instant};

/// A browser permission as the app reads it (`navigator.permissions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Granted,
    Prompt,
    Denied,
    /// The browser cannot tell or has no such feature (e.g. no Push API).
    Unsupported,
}

impl Permission {
    pub const ALL: [Permission; 4] = [
        Permission::Granted,
        Permission::Prompt,
        Permission::Denied,
        Permission::Unsupported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Granted => "granted",
            Permission::Prompt => "prompt",
            Permission::Denied => "denied",
            Permission::Unsupported => "unsupported",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The last geolocation error the app saw (W3C Geolocation API codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeoError {
    /// Code 1: the person or the system refused location.
    PermissionDenied,
    /// Code 2: no position could be determined (no GNSS, no network fix).
    PositionUnavailable,
    /// Code 3: no position within the app's time limit.
    Timeout,
}

impl GeoError {
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(GeoError::PermissionDenied),
            2 => Some(GeoError::PositionUnavailable),
            3 => Some(GeoError::Timeout),
            _ => None,
        }
    }

    pub fn code(self) -> u8 {
        match self {
            GeoError::PermissionDenied => 1,
            GeoError::PositionUnavailable => 2,
            GeoError::Timeout => 3,
        }
    }
}

/// The phone's network when the client last reported (OwnTracks `conn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    Wifi,
    Mobile,
    /// No connection: what the client recorded waits on the phone.
    Offline,
}

impl Network {
    pub const ALL: [Network; 3] = [Network::Wifi, Network::Mobile, Network::Offline];

    pub fn as_str(self) -> &'static str {
        match self {
            Network::Wifi => "wifi",
            Network::Mobile => "mobile",
            Network::Offline => "offline",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

/// Which client made a check-in. The words of a notice depend on it: the
/// web app must be opened, OwnTracks runs by itself and is stopped by the
/// phone's battery saving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CheckinClient {
    #[default]
    App,
    OwnTracks,
}

impl CheckinClient {
    pub const ALL: [CheckinClient; 2] = [CheckinClient::App, CheckinClient::OwnTracks];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckinClient::App => "app",
            CheckinClient::OwnTracks => "owntracks",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// At or below this battery level, on a phone that is not charging, the
/// phone is likely to switch off or to stop background work to save power.
pub const LOW_BATTERY_PCT: u8 = 15;

/// What the client reported: the web app when it is opened (a daily
/// check-in), OwnTracks with every message it sends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Checkin {
    /// When the server received it (the phone's clock is not trusted here).
    pub at: Timestamp,
    pub location: Permission,
    pub notifications: Permission,
    /// Fixes waiting in the phone's queue, not yet uploaded.
    pub queued_fixes: u32,
    pub geo_error: Option<GeoError>,
    pub battery_pct: Option<u8>,
    /// Whether the phone was charging, when the client can tell.
    pub charging: Option<bool>,
    /// The phone's network, when the client can tell.
    pub network: Option<Network>,
    pub client: CheckinClient,
}

impl Checkin {
    /// The cause of missing data this check-in shows, if it shows one.
    /// Location off outranks a GNSS failure (with permission off there is
    /// no position to fail), which outranks a queue waiting for network.
    pub fn reported_cause(&self) -> Option<MissingCause> {
        if self.location == Permission::Denied || self.geo_error == Some(GeoError::PermissionDenied)
        {
            Some(MissingCause::LocationOff)
        } else if matches!(
            self.geo_error,
            Some(GeoError::PositionUnavailable | GeoError::Timeout)
        ) {
            Some(MissingCause::NoGnss)
        } else if self.queued_fixes > 0 {
            Some(MissingCause::Offline)
        } else {
            None
        }
    }

    /// The likeliest cause of a long silence after this check-in. Beyond
    /// the problems the client reported ([`Checkin::reported_cause`]), it
    /// reads the circumstances of the last report, which are not problems
    /// by themselves and so raise no notice of their own: the phone had no
    /// network, or its battery was nearly empty and not charging. A client
    /// that reports by itself (OwnTracks) and saw nothing wrong has most
    /// likely been stopped by the phone's battery saving.
    pub fn likely_cause(&self) -> Option<MissingCause> {
        self.reported_cause().or_else(|| {
            if self.network == Some(Network::Offline) {
                Some(MissingCause::Offline)
            } else if self.battery_pct.is_some_and(|b| b <= LOW_BATTERY_PCT)
                && self.charging != Some(true)
            {
                Some(MissingCause::BatteryLow)
            } else if self.client == CheckinClient::OwnTracks {
                Some(MissingCause::TrackerStopped)
            } else {
                None
            }
        })
    }
}

/// Why the server has no recent fix, as far as it can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingCause {
    LocationOff,
    NoGnss,
    Offline,
    AppNotRunning,
    /// The last report came with the battery nearly empty and not charging.
    BatteryLow,
    /// OwnTracks reported nothing wrong and then went quiet: the phone has
    /// most likely stopped it (battery saving, app hibernation).
    TrackerStopped,
    /// The app checked in and saw nothing wrong, yet no fix arrived.
    Unknown,
}

impl MissingCause {
    pub const ALL: [MissingCause; 7] = [
        MissingCause::LocationOff,
        MissingCause::NoGnss,
        MissingCause::Offline,
        MissingCause::AppNotRunning,
        MissingCause::BatteryLow,
        MissingCause::TrackerStopped,
        MissingCause::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MissingCause::LocationOff => "location_off",
            MissingCause::NoGnss => "no_gnss",
            MissingCause::Offline => "offline",
            MissingCause::AppNotRunning => "app_not_running",
            MissingCause::BatteryLow => "battery_low",
            MissingCause::TrackerStopped => "tracker_stopped",
            MissingCause::Unknown => "unknown",
        }
    }
}

/// A notice to push, with what its text needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// The app reported a problem at its check-in and no fix followed.
    Cause { cause: MissingCause },
    /// No fix for `hours`; says the cause the server sees.
    NoFix { hours: u32, cause: MissingCause },
    /// The deadline is tomorrow (or today, if the warning could not go
    /// out the day before).
    DeadlineSoon { deadline_at: Timestamp },
    /// No check-in yet today.
    CheckinReminder,
    /// The registration ended: why, and what to do.
    Deregistered { reason: DeregistrationReason },
    /// Outside the pilot region for too long without registering elsewhere
    /// (`amina_domain::integration::OutsideRule`): register where you are.
    /// Decided by the "outside too long" sweep, not by [`PushRules`].
    OutsideTooLong { since: Timestamp },
}

impl Notice {
    /// The stable kind code (storage, metrics, message ids).
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::Cause { .. } => "cause",
            Notice::NoFix { .. } => "no_fix",
            Notice::DeadlineSoon { .. } => "deadline_soon",
            Notice::CheckinReminder => "checkin_reminder",
            Notice::Deregistered { .. } => "deregistered",
            Notice::OutsideTooLong { .. } => "outside_too_long",
        }
    }
}

/// A notice that is due, with its occurrence key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DueNotice {
    pub key: String,
    pub notice: Notice,
}

/// Quiet hours in Moscow wall-clock time, `[start, end)`; they may span
/// midnight. `start == end` means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: Time,
    pub end: Time,
}

impl QuietHours {
    fn contains(&self, t: Time) -> bool {
        if self.start == self.end {
            false
        } else if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// The first instant at or after `now` outside quiet hours.
    pub fn next_allowed(&self, now: Timestamp) -> Timestamp {
        let wall = crate::time::moscow().to_datetime(now);
        if !self.contains(wall.time()) {
            return now;
        }
        let day = if wall.time() >= self.end && self.start > self.end {
            // Evening part of a window that spans midnight.
            wall.date().tomorrow().unwrap_or(wall.date())
        } else {
            wall.date()
        };
        at_moscow(day, self.end).unwrap_or(now)
    }
}

/// The push rules' settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PushRules {
    /// "No fix received for N hours" (default 24).
    pub no_fix_after: SignedDuration,
    /// A problem the app reported becomes a notice when no fix followed
    /// within this time (the person may fix it while the app is open).
    pub cause_grace: SignedDuration,
    /// Moscow time of day after which a person who has not opened the app
    /// today is reminded.
    pub checkin_reminder_at: Time,
    pub quiet: QuietHours,
    /// Look at everyone at least this often, so that changes made
    /// elsewhere (a new registration, a deregistration for another reason)
    /// are noticed even when no rule time is near.
    pub recheck_within: SignedDuration,
}

impl Default for PushRules {
    fn default() -> Self {
        PushRules {
            no_fix_after: SignedDuration::from_hours(24),
            cause_grace: SignedDuration::from_hours(1),
            checkin_reminder_at: Time::constant(18, 0, 0, 0),
            quiet: QuietHours {
                start: Time::constant(22, 0, 0, 0),
                end: Time::constant(8, 0, 0, 0),
            },
            recheck_within: SignedDuration::from_hours(6),
        }
    }
}

/// What the rules read about one person.
#[derive(Debug, Clone, Copy)]
pub struct PushFacts<'a> {
    pub state: &'a PersonState,
    /// The current (or last) registration.
    pub registration_id: i64,
    /// Why that registration ended, when it did.
    pub deregistration: Option<DeregistrationReason>,
    pub last_checkin: Option<&'a Checkin>,
    /// An active push subscription of the person's active device.
    pub subscribed: bool,
    /// When the last notice was decided for this person.
    pub last_notice_at: Option<Timestamp>,
    /// Occurrence keys already decided.
    pub decided: &'a BTreeSet<String>,
}

/// The answer: notices to send now and when to look again.
#[derive(Debug, Clone, PartialEq)]
pub struct PushDecision {
    pub due: Vec<DueNotice>,
    /// Always after `now`.
    pub next_check_at: Timestamp,
    /// True when notices were due but quiet hours deferred them.
    pub deferred: bool,
}

fn at_moscow(day: Date, time: Time) -> Option<Timestamp> {
    moscow_instant(day.to_datetime(time)).ok()
}

impl PushRules {
    /// Decide which notices are due for a person at `now`.
    pub fn decide(&self, f: &PushFacts<'_>, now: Timestamp) -> PushDecision {
        let mut due = Vec::new();
        let mut wake = vec![now + self.recheck_within];
        if f.subscribed {
            let mut add = |key: String, notice: Notice| {
                if !f.decided.contains(&key) {
                    due.push(DueNotice { key, notice });
                }
            };
            match f.state.status {
                RegistrationStatus::Deregistered => {
                    if let Some(reason) = f.deregistration {
                        add(
                            format!("deregistered:{}", f.registration_id),
                            Notice::Deregistered { reason },
                        );
                    }
                }
                RegistrationStatus::Registered => {
                    self.registered(f, now, &mut add, &mut wake);
                }
            }
            // One reminder to open the app a day is enough: none when
            // another notice goes out today or went out earlier today.
            if f.state.status == RegistrationStatus::Registered {
                self.checkin_reminder(f, now, due.is_empty(), &mut due, &mut wake);
            }
        }
        let mut deferred = false;
        if !due.is_empty() {
            let allowed = self.quiet.next_allowed(now);
            if allowed > now {
                due.clear();
                deferred = true;
                wake = vec![allowed];
            }
        }
        let next_check_at = wake
            .into_iter()
            .filter(|t| *t > now)
            .min()
            .unwrap_or(now + self.recheck_within);
        PushDecision {
            due,
            next_check_at,
            deferred,
        }
    }

    fn registered(
        &self,
        f: &PushFacts<'_>,
        now: Timestamp,
        add: &mut impl FnMut(String, Notice),
        wake: &mut Vec<Timestamp>,
    ) {
        let s = f.state;
        // The data gap runs from the last monitoring (or the enrolment).
        let gap_start = s.last_monitoring_at.unwrap_or(s.registration_started_at);
        let gap = gap_start.as_millisecond();
        // A check-in at or after the start of the gap describes the gap.
        let since = f.last_checkin.filter(|c| c.at >= gap_start);

        if let Some((checkin, cause)) = since.and_then(|c| Some((c, c.reported_cause()?))) {
            let key = format!("cause:{}:{gap}", cause.as_str());
            let at = checkin.at + self.cause_grace;
            if !f.decided.contains(&key) {
                if now >= at {
                    add(key, Notice::Cause { cause });
                } else {
                    wake.push(at);
                }
            }
        }

        let no_fix_at = gap_start + self.no_fix_after;
        let key = format!("no_fix:{gap}");
        if !f.decided.contains(&key) {
            if now >= no_fix_at {
                let cause = match since {
                    // OwnTracks reports with every message, so no report
                    // since the last fix means it stopped, not that nobody
                    // opened it.
                    None if f.last_checkin.map(|c| c.client) == Some(CheckinClient::OwnTracks) => {
                        MissingCause::TrackerStopped
                    }
                    None => MissingCause::AppNotRunning,
                    Some(c) => c.likely_cause().unwrap_or(MissingCause::Unknown),
                };
                let hours = u32::try_from((now - gap_start).as_hours()).unwrap_or(u32::MAX);
                add(key, Notice::NoFix { hours, cause });
            } else {
                wake.push(no_fix_at);
            }
        }

        // The day before the deadline's Moscow day, from its first minute
        // (quiet hours move it to the morning).
        let deadline_day = moscow_date(s.deadline_at);
        let key = format!("deadline:{}", s.deadline_at.as_millisecond());
        if now <= s.deadline_at && !f.decided.contains(&key) {
            let warn_from = deadline_day
                .yesterday()
                .ok()
                .and_then(|d| at_moscow(d, Time::midnight()))
                .unwrap_or(s.deadline_at);
            if now >= warn_from {
                add(
                    key,
                    Notice::DeadlineSoon {
                        deadline_at: s.deadline_at,
                    },
                );
            } else {
                wake.push(warn_from);
            }
        }
        // Right after the deadline the scheduler deregisters; look then, to
        // tell the person.
        wake.push(s.deadline_at + SignedDuration::from_mins(1));
    }

    fn checkin_reminder(
        &self,
        f: &PushFacts<'_>,
        now: Timestamp,
        nothing_else_due: bool,
        due: &mut Vec<DueNotice>,
        wake: &mut Vec<Timestamp>,
    ) {
        let today = moscow_date(now);
        let Some(remind_at) = at_moscow(today, self.checkin_reminder_at) else {
            return;
        };
        if now < remind_at {
            wake.push(remind_at);
            return;
        }
        if let Some(next) = today
            .tomorrow()
            .ok()
            .and_then(|d| at_moscow(d, self.checkin_reminder_at))
        {
            wake.push(next);
        }
        let key = format!("checkin:{today}");
        let checked_in_today = f.last_checkin.is_some_and(|c| moscow_date(c.at) == today);
        let noticed_today = f.last_notice_at.is_some_and(|t| moscow_date(t) == today);
        let enrolled_today = moscow_date(f.state.registration_started_at) == today;
        if nothing_else_due
            && !checked_in_today
            && !noticed_today
            && !enrolled_today
            && !f.decided.contains(&key)
        {
            due.push(DueNotice {
                key,
                notice: Notice::CheckinReminder,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msk(s: &str) -> Timestamp {
        crate::time::parse_moscow(s).unwrap()
    }

    #[test]
    fn quiet_hours_span_midnight() {
        let q = PushRules::default().quiet;
        assert_eq!(
            q.next_allowed(msk("2025-12-01T23:30")),
            msk("2025-12-02T08:00")
        );
        assert_eq!(
            q.next_allowed(msk("2025-12-02T03:00")),
            msk("2025-12-02T08:00")
        );
        assert_eq!(
            q.next_allowed(msk("2025-12-02T08:00")),
            msk("2025-12-02T08:00")
        );
        assert_eq!(
            q.next_allowed(msk("2025-12-02T21:59")),
            msk("2025-12-02T21:59")
        );
        let day = QuietHours {
            start: Time::constant(13, 0, 0, 0),
            end: Time::constant(14, 0, 0, 0),
        };
        assert_eq!(
            day.next_allowed(msk("2025-12-02T13:30")),
            msk("2025-12-02T14:00")
        );
        assert_eq!(
            day.next_allowed(msk("2025-12-02T14:30")),
            msk("2025-12-02T14:30")
        );
        let none = QuietHours {
            start: Time::midnight(),
            end: Time::midnight(),
        };
        assert_eq!(
            none.next_allowed(msk("2025-12-02T03:00")),
            msk("2025-12-02T03:00")
        );
    }

    #[test]
    fn permission_and_error_codes_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        assert_eq!(Permission::parse("maybe"), None);
        for c in 1..=3 {
            assert_eq!(GeoError::from_code(c).unwrap().code() as i64, c);
        }
        assert_eq!(GeoError::from_code(0), None);
    }
}
