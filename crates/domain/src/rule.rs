//! The monitoring window: how long a person may go without an accepted fix
//! before being deregistered.
//!
//! DESIGN.md: "Let the last monitoring be the latest accepted fix ... at
//! instant t, on Moscow calendar day d. The deadline is the end of the third
//! working day strictly after d (23:59:59.999 Moscow time)." Official texts
//! disagree on the length and on the kind of day ("three working days",
//! "three days in a row"), so both are configuration ([`MonitoringWindow`]),
//! with three working days as the default. The same type serves for the
//! earlier warning window.
//!
//! Why the details matter:
//! - the day `d` is the **Moscow** calendar day of the fix, not the UTC day:
//!   a fix at 00:30 Moscow is on the previous UTC day;
//! - the kind of `d` itself does not matter; counting starts the day after;
//! - working days come from the production calendar, which is data, so the
//!   window over the New Year holidays is about two weeks long, and a date
//!   outside the loaded calendar is an error rather than a guess;
//! - every deregistration records [`RULE_VERSION`] together with
//!   [`MonitoringWindow::describe`] (see [`MonitoringWindow::rule_version`]),
//!   so a decision can be explained later even if the configuration changed.

use jiff::civil::Date;
use jiff::{Span, Timestamp};
use serde::{Deserialize, Serialize};

use crate::calendar::{CalendarError, ProductionCalendar};
use crate::time::{moscow, moscow_date};

/// Version of the deadline rule implemented here. Recorded with each
/// deregistration, together with the window's description.
pub const RULE_VERSION: &str = "monitoring-window/1";

/// The kind of day a window is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// Working days of the Russian production calendar.
    Working,
    /// Every calendar day.
    Calendar,
}

/// An invalid window configuration.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RuleError {
    /// A window must be at least one day long.
    #[error("a monitoring window must be at least one day long")]
    ZeroDays,
}

/// A monitoring window: `days` days of kind `kind` strictly after the
/// Moscow day of the last monitoring.
///
/// Build it with [`MonitoringWindow::new`] (or deserialize it: that path
/// validates too). The fields are public for reading; a hand-built window
/// with `days == 0` is rejected by [`MonitoringWindow::deadline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawWindow")]
pub struct MonitoringWindow {
    /// Length of the window, at least 1.
    pub days: u32,
    /// The kind of day counted.
    pub kind: DayKind,
}

/// The unvalidated shape of a window in configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    days: u32,
    kind: DayKind,
}

impl TryFrom<RawWindow> for MonitoringWindow {
    type Error = RuleError;
    fn try_from(raw: RawWindow) -> Result<Self, RuleError> {
        MonitoringWindow::new(raw.days, raw.kind)
    }
}

impl Default for MonitoringWindow {
    /// Three working days (DESIGN.md).
    fn default() -> Self {
        MonitoringWindow {
            days: 3,
            kind: DayKind::Working,
        }
    }
}

impl MonitoringWindow {
    /// A window of `days` days of kind `kind`; `days` must be at least 1.
    pub fn new(days: u32, kind: DayKind) -> Result<Self, RuleError> {
        if days == 0 {
            return Err(RuleError::ZeroDays);
        }
        Ok(MonitoringWindow { days, kind })
    }

    /// The Moscow calendar day on which the window that starts after Moscow
    /// day `d` ends: the `days`-th working (or calendar) day strictly after
    /// `d`.
    ///
    /// For [`DayKind::Calendar`] the calendar is not consulted, so any
    /// representable date works. For [`DayKind::Working`] every date after
    /// `d` up to the answer must be covered by `calendar`, else
    /// [`CalendarError::OutOfRange`].
    pub fn last_day(&self, calendar: &ProductionCalendar, d: Date) -> Result<Date, CalendarError> {
        if self.days == 0 {
            return Err(CalendarError::ZeroCount);
        }
        match self.kind {
            DayKind::Working => calendar.nth_working_day_after(d, self.days),
            DayKind::Calendar => d
                .checked_add(
                    Span::new()
                        .try_days(self.days)
                        .map_err(|_| overflow(d, self.days))?,
                )
                .map_err(|_| overflow(d, self.days)),
        }
    }

    /// The deadline implied by a last monitoring at `last_monitoring`: the
    /// inclusive last instant of the window, 23:59:59.999 Moscow time on
    /// [`MonitoringWindow::last_day`] of the Moscow day of `last_monitoring`,
    /// returned as a (UTC) timestamp.
    ///
    /// Example (default window): a last fix on Friday 2025-11-28 18:00 Moscow
    /// gives Wednesday 2025-12-03 23:59:59.999 Moscow = 20:59:59.999 UTC.
    pub fn deadline(
        &self,
        calendar: &ProductionCalendar,
        last_monitoring: Timestamp,
    ) -> Result<Timestamp, CalendarError> {
        let d = moscow_date(last_monitoring);
        end_of_moscow_day(self.last_day(calendar, d)?)
    }

    /// Whether `now` is past `deadline` (the deadline instant itself is still
    /// in time).
    ///
    /// The deadline is stated to the millisecond, as DESIGN.md specifies; an
    /// instant inside the last millisecond of the day but after .999 counts
    /// as late.
    pub fn is_overdue(&self, deadline: Timestamp, now: Timestamp) -> bool {
        now > deadline
    }

    /// Human-readable description, e.g. "3 working days", "1 calendar day".
    /// Part of the rule version recorded with each deregistration.
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            DayKind::Working => "working",
            DayKind::Calendar => "calendar",
        };
        let unit = if self.days == 1 { "day" } else { "days" };
        format!("{} {kind} {unit}", self.days)
    }

    /// The full rule version to record with a deregistration, e.g.
    /// "monitoring-window/1 (3 working days)".
    pub fn rule_version(&self) -> String {
        format!("{RULE_VERSION} ({})", self.describe())
    }
}

/// The last instant of Moscow calendar day `date`: 23:59:59.999 Moscow time.
pub fn end_of_moscow_day(date: Date) -> Result<Timestamp, CalendarError> {
    moscow()
        .to_timestamp(date.at(23, 59, 59, 999_000_000))
        .map_err(|_| overflow(date, 0))
}

fn overflow(from: Date, days: u32) -> CalendarError {
    CalendarError::DateOverflow { from, days }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn default_is_three_working_days() {
        let w = MonitoringWindow::default();
        assert_eq!(
            w,
            MonitoringWindow::new(3, DayKind::Working).expect("valid")
        );
        assert_eq!(w.describe(), "3 working days");
        assert_eq!(w.rule_version(), "monitoring-window/1 (3 working days)");
    }

    #[test]
    fn describe_uses_singular_for_one_day() {
        let w = MonitoringWindow::new(1, DayKind::Calendar).expect("valid");
        assert_eq!(w.describe(), "1 calendar day");
    }

    #[test]
    fn zero_days_is_rejected_everywhere() {
        assert_eq!(
            MonitoringWindow::new(0, DayKind::Working),
            Err(RuleError::ZeroDays)
        );
        let parsed: Result<MonitoringWindow, _> =
            serde_json::from_str(r#"{"days": 0, "kind": "calendar"}"#);
        assert!(parsed.is_err());
        let hand_built = MonitoringWindow {
            days: 0,
            kind: DayKind::Calendar,
        };
        let cal = ProductionCalendar::embedded();
        assert_eq!(
            hand_built.last_day(&cal, date(2025, 1, 1)),
            Err(CalendarError::ZeroCount)
        );
    }

    #[test]
    fn serde_round_trip() {
        let w = MonitoringWindow::new(5, DayKind::Calendar).expect("valid");
        let json = serde_json::to_string(&w).expect("serializable");
        assert_eq!(json, r#"{"days":5,"kind":"calendar"}"#);
        let back: MonitoringWindow = serde_json::from_str(&json).expect("valid");
        assert_eq!(back, w);
        let typo: Result<MonitoringWindow, _> =
            serde_json::from_str(r#"{"days": 3, "kind": "working", "dayz": 4}"#);
        assert!(typo.is_err());
    }

    #[test]
    fn end_of_day_is_moscow_time() {
        let ts = end_of_moscow_day(date(2025, 12, 3)).expect("representable");
        assert_eq!(ts.to_string(), "2025-12-03T20:59:59.999Z");
    }

    #[test]
    fn calendar_window_overflow_is_an_error() {
        let cal = ProductionCalendar::embedded();
        let w = MonitoringWindow::new(u32::MAX, DayKind::Calendar).expect("valid");
        assert!(matches!(
            w.last_day(&cal, date(2025, 1, 1)),
            Err(CalendarError::DateOverflow { .. })
        ));
        let w = MonitoringWindow::new(2, DayKind::Calendar).expect("valid");
        assert!(matches!(
            w.last_day(&cal, date(9999, 12, 30)),
            Err(CalendarError::DateOverflow { .. })
        ));
    }
}
