//! The push rules on their own: each cause of missing data, the deadline
//! warning on the real production calendar, the daily reminder, quiet hours,
//! and that a decided occurrence is never due again.

use std::collections::BTreeSet;

use amina_domain::calendar::ProductionCalendar;
use amina_domain::monitor::{DeregistrationReason, PersonState, Presence, RegistrationStatus};
use amina_domain::reminders::*;
use amina_domain::rule::MonitoringWindow;
use jiff::{SignedDuration, Timestamp};

fn msk(s: &str) -> Timestamp {
    amina_domain::time::parse_moscow(s).unwrap()
}

fn deadline_after(last: Timestamp) -> Timestamp {
    MonitoringWindow::default()
        .deadline(&ProductionCalendar::embedded(), last)
        .unwrap()
}

/// A registered person enrolled on Monday 24 Nov 2025 whose last fix was
/// at `last_fix`.
fn person(last_fix: &str) -> PersonState {
    let last = msk(last_fix);
    PersonState {
        status: RegistrationStatus::Registered,
        registration_started_at: msk("2025-11-24T09:00"),
        last_monitoring_at: Some(last),
        deadline_at: deadline_after(last),
        presence: Presence::InRegion,
        presence_since: Some(msk("2025-11-24T09:00")),
        last_trusted: None,
        pending_jump: None,
    }
}

fn checkin(at: &str, location: Permission, geo_error: Option<GeoError>, queued: u32) -> Checkin {
    Checkin {
        at: msk(at),
        location,
        notifications: Permission::Granted,
        queued_fixes: queued,
        geo_error,
        battery_pct: Some(40),
        charging: None,
        network: None,
        client: CheckinClient::App,
    }
}

/// What OwnTracks tells with a location message: location works, nothing
/// queued, the battery, whether it charges, the network (`bs`, `conn`).
fn owntracks_report(at: &str, battery: u8, charging: Option<bool>, network: Network) -> Checkin {
    Checkin {
        at: msk(at),
        location: Permission::Granted,
        notifications: Permission::Unsupported,
        queued_fixes: 0,
        geo_error: None,
        battery_pct: Some(battery),
        charging,
        network: Some(network),
        client: CheckinClient::OwnTracks,
    }
}

struct Case {
    state: PersonState,
    checkin: Option<Checkin>,
    decided: BTreeSet<String>,
    last_notice_at: Option<Timestamp>,
    subscribed: bool,
    deregistration: Option<DeregistrationReason>,
}

impl Case {
    fn new(state: PersonState) -> Case {
        Case {
            state,
            checkin: None,
            decided: BTreeSet::new(),
            last_notice_at: None,
            subscribed: true,
            deregistration: None,
        }
    }

    fn decide(&self, now: &str) -> PushDecision {
        PushRules::default().decide(
            &PushFacts {
                state: &self.state,
                registration_id: 7,
                deregistration: self.deregistration,
                last_checkin: self.checkin.as_ref(),
                subscribed: self.subscribed,
                last_notice_at: self.last_notice_at,
                decided: &self.decided,
            },
            msk(now),
        )
    }

    /// Decide at `now` and record what was due, as the store does.
    fn run(&mut self, now: &str) -> Vec<DueNotice> {
        let d = self.decide(now);
        for n in &d.due {
            self.decided.insert(n.key.clone());
            self.last_notice_at = Some(msk(now));
        }
        d.due
    }
}

fn kinds(due: &[DueNotice]) -> Vec<Notice> {
    due.iter().map(|d| d.notice.clone()).collect()
}

#[test]
fn location_off_is_told_after_the_grace_period_once() {
    // Last fix Tuesday 10:00; at 11:00 the app opens with location denied.
    let mut c = Case::new(person("2025-11-25T10:00"));
    c.checkin = Some(checkin(
        "2025-11-25T11:00",
        Permission::Denied,
        Some(GeoError::PermissionDenied),
        0,
    ));
    let early = c.decide("2025-11-25T11:30");
    assert!(early.due.is_empty());
    // The next look is when the grace period ends.
    assert_eq!(early.next_check_at, msk("2025-11-25T12:00"));
    let due = c.run("2025-11-25T12:00");
    assert_eq!(
        kinds(&due),
        vec![Notice::Cause {
            cause: MissingCause::LocationOff
        }]
    );
    assert_eq!(
        due[0].key,
        format!(
            "cause:location_off:{}",
            msk("2025-11-25T10:00").as_millisecond()
        )
    );
    // Never twice for the same cause in the same gap.
    assert!(c.run("2025-11-25T15:00").is_empty());
    // After 24 hours without a fix: the no-fix notice, naming the cause.
    let due = c.run("2025-11-26T10:00");
    assert_eq!(
        kinds(&due),
        vec![Notice::NoFix {
            hours: 24,
            cause: MissingCause::LocationOff
        }]
    );
    assert!(c.run("2025-11-26T12:00").is_empty());
}

#[test]
fn gnss_failures_and_queued_fixes_are_their_own_causes() {
    let mut c = Case::new(person("2025-11-25T10:00"));
    c.checkin = Some(checkin(
        "2025-11-25T11:00",
        Permission::Granted,
        Some(GeoError::PositionUnavailable),
        0,
    ));
    assert_eq!(
        kinds(&c.run("2025-11-25T12:00")),
        vec![Notice::Cause {
            cause: MissingCause::NoGnss
        }]
    );
    // A later check-in shows fixes waiting for network: a new cause, a new
    // notice (the GNSS one is not repeated).
    c.checkin = Some(checkin("2025-11-25T13:00", Permission::Granted, None, 5));
    assert_eq!(
        kinds(&c.run("2025-11-25T14:00")),
        vec![Notice::Cause {
            cause: MissingCause::Offline
        }]
    );
    // A timeout counts as a GNSS failure.
    let t = checkin(
        "2025-11-25T13:00",
        Permission::Granted,
        Some(GeoError::Timeout),
        3,
    );
    assert_eq!(t.reported_cause(), Some(MissingCause::NoGnss));
}

#[test]
fn silence_without_check_in_means_the_app_is_not_running() {
    let mut c = Case::new(person("2025-11-25T10:00"));
    // A check-in before the last fix says nothing about the gap after it.
    c.checkin = Some(checkin(
        "2025-11-25T09:00",
        Permission::Denied,
        Some(GeoError::PermissionDenied),
        0,
    ));
    let d = c.decide("2025-11-25T20:00");
    assert!(d.due.is_empty());
    assert_eq!(d.next_check_at, msk("2025-11-26T02:00"), "recheck bound");
    let d = c.decide("2025-11-26T08:00");
    assert_eq!(d.next_check_at, msk("2025-11-26T10:00"));
    assert_eq!(
        kinds(&c.run("2025-11-26T10:00")),
        vec![Notice::NoFix {
            hours: 24,
            cause: MissingCause::AppNotRunning
        }]
    );
    // A check-in that saw nothing wrong: the cause is unknown, and the
    // text asks to check the settings.
    let mut c = Case::new(person("2025-11-25T10:00"));
    c.checkin = Some(checkin("2025-11-25T12:00", Permission::Granted, None, 0));
    assert_eq!(
        kinds(&c.run("2025-11-26T11:00")),
        vec![Notice::NoFix {
            hours: 25,
            cause: MissingCause::Unknown
        }]
    );
}

#[test]
fn a_new_fix_starts_a_new_gap_with_new_keys() {
    let mut c = Case::new(person("2025-11-25T10:00"));
    assert_eq!(c.run("2025-11-26T10:00").len(), 1);
    c.state = person("2025-11-26T12:00");
    assert!(c.run("2025-11-26T13:00").is_empty());
    let due = c.run("2025-11-27T12:00");
    assert_eq!(
        due[0].key,
        format!("no_fix:{}", msk("2025-11-26T12:00").as_millisecond())
    );
}

#[test]
fn quiet_hours_defer_and_never_drop() {
    let mut c = Case::new(person("2025-11-25T23:00"));
    let d = c.decide("2025-11-26T23:00");
    assert!(d.due.is_empty());
    assert!(d.deferred);
    assert_eq!(d.next_check_at, msk("2025-11-27T08:00"));
    // Everything deferred comes out in the morning: the no-fix notice and,
    // the deadline being Friday, the warning.
    let due = c.run("2025-11-27T08:00");
    assert_eq!(
        kinds(&due),
        vec![
            Notice::NoFix {
                hours: 33,
                cause: MissingCause::AppNotRunning
            },
            Notice::DeadlineSoon {
                deadline_at: msk("2025-11-28T23:59:59.999")
            }
        ]
    );
}

#[test]
fn deadline_warning_the_day_before_across_a_weekend() {
    // DESIGN.md's example: last fix Friday 28 Nov 18:00 -> deadline
    // Wednesday 3 Dec; the warning goes out on Tuesday 2 Dec.
    let mut c = Case::new(person("2025-11-28T18:00"));
    assert_eq!(c.state.deadline_at, msk("2025-12-03T23:59:59.999"));
    // The no-fix notice is due on Saturday, the reminders daily; take them
    // out of the way to look at the deadline alone.
    c.run("2025-11-29T18:00");
    c.decided.extend(
        ["2025-11-30", "2025-12-01", "2025-12-02"]
            .iter()
            .map(|d| format!("checkin:{d}")),
    );
    let monday = c.decide("2025-12-01T21:00");
    assert!(monday.due.is_empty());
    assert_eq!(monday.next_check_at, msk("2025-12-02T00:00"));
    // Midnight is in quiet hours: the warning waits for the morning.
    let night = c.decide("2025-12-02T00:00");
    assert!(night.deferred);
    assert_eq!(night.next_check_at, msk("2025-12-02T08:00"));
    let due = c.run("2025-12-02T08:00");
    let deadline = msk("2025-12-03T23:59:59.999");
    assert_eq!(
        kinds(&due),
        vec![Notice::DeadlineSoon {
            deadline_at: deadline
        }]
    );
    assert_eq!(
        due[0].key,
        format!("deadline:{}", deadline.as_millisecond())
    );
    assert!(c.run("2025-12-03T09:00").is_empty());
}

#[test]
fn deadline_warning_across_the_new_year_holidays() {
    // Last fix Friday 26 Dec 2025: 29 and 30 Dec are working days, then the
    // holidays run to 11 Jan, so the calendar puts the deadline on Monday
    // 12 Jan 2026 and the warning on Sunday 11 Jan — not on 30 Dec, as a
    // count of calendar days would.
    let mut c = Case::new(person("2025-12-26T18:00"));
    assert_eq!(c.state.deadline_at, msk("2026-01-12T23:59:59.999"));
    c.decided.insert(format!(
        "no_fix:{}",
        msk("2025-12-26T18:00").as_millisecond()
    ));
    for day in ["2025-12-30T12:00", "2026-01-02T12:00", "2026-01-10T21:00"] {
        let d = c.decide(day);
        assert!(
            !d.due
                .iter()
                .any(|n| matches!(n.notice, Notice::DeadlineSoon { .. })),
            "{day}: {:?}",
            d.due
        );
    }
    let due = c.run("2026-01-11T09:00");
    assert!(due
        .iter()
        .any(|n| matches!(n.notice, Notice::DeadlineSoon { .. })));
}

#[test]
fn daily_check_in_reminder() {
    let mut c = Case::new(person("2025-11-25T10:00"));
    c.decided.insert(format!(
        "no_fix:{}",
        msk("2025-11-25T10:00").as_millisecond()
    ));
    c.checkin = Some(checkin("2025-11-25T10:00", Permission::Granted, None, 0));
    // Checked in on Tuesday: no reminder on Tuesday.
    let d = c.decide("2025-11-25T18:30");
    assert!(d.due.is_empty());
    assert_eq!(d.next_check_at, msk("2025-11-26T00:30"));
    // Wednesday before 18:00: wait for 18:00.
    let d = c.decide("2025-11-26T17:00");
    assert!(d.due.is_empty());
    assert_eq!(d.next_check_at, msk("2025-11-26T18:00"));
    let due = c.run("2025-11-26T18:00");
    assert_eq!(kinds(&due), vec![Notice::CheckinReminder]);
    assert_eq!(due[0].key, "checkin:2025-11-26");
    assert!(c.run("2025-11-26T19:00").is_empty());
    // On Thursday (a fix came in the morning) another notice already went
    // out: no second push that day.
    c.state = person("2025-11-27T08:00");
    c.last_notice_at = Some(msk("2025-11-27T09:00"));
    assert!(c.run("2025-11-27T18:00").is_empty());
    // Not on the day of enrolment.
    let mut fresh = Case::new(person("2025-11-24T10:00"));
    fresh.checkin = None;
    assert!(fresh
        .decide("2025-11-24T19:00")
        .due
        .iter()
        .all(|n| n.notice != Notice::CheckinReminder));
}

#[test]
fn deregistration_is_told_once_with_its_reason() {
    let mut state = person("2025-11-25T10:00");
    state.status = RegistrationStatus::Deregistered;
    let mut c = Case::new(state);
    c.deregistration = Some(DeregistrationReason::NoMonitoring);
    let due = c.run("2025-12-01T12:00");
    assert_eq!(
        kinds(&due),
        vec![Notice::Deregistered {
            reason: DeregistrationReason::NoMonitoring
        }]
    );
    assert_eq!(due[0].key, "deregistered:7");
    // Nothing else is ever due for a deregistered person.
    assert!(c.run("2025-12-02T18:30").is_empty());
    let d = c.decide("2025-12-02T18:30");
    assert_eq!(
        d.next_check_at,
        msk("2025-12-02T18:30") + SignedDuration::from_hours(6)
    );
}

#[test]
fn without_a_subscription_nothing_is_due() {
    let mut c = Case::new(person("2025-11-25T10:00"));
    c.subscribed = false;
    let d = c.decide("2025-11-28T12:00");
    assert!(d.due.is_empty());
    assert!(!d.deferred);
}

#[test]
fn battery_and_network_of_the_last_report_explain_a_long_silence_only() {
    // The last OwnTracks report came at 10:00 with 9 % battery, unplugged.
    // That alone is no problem to warn about an hour later …
    let mut c = Case::new(person("2025-11-25T10:00"));
    c.checkin = Some(owntracks_report(
        "2025-11-25T10:00",
        9,
        Some(false),
        Network::Mobile,
    ));
    assert!(c.run("2025-11-25T12:00").is_empty());
    // … but after 24 hours without a fix it is the likeliest cause.
    assert_eq!(
        kinds(&c.run("2025-11-26T10:00")),
        vec![Notice::NoFix {
            hours: 24,
            cause: MissingCause::BatteryLow
        }]
    );

    // Charging, the same level is no explanation: OwnTracks saw nothing
    // wrong, so the phone has most likely stopped it.
    let mut c = Case::new(person("2025-11-25T10:00"));
    c.checkin = Some(owntracks_report(
        "2025-11-25T10:00",
        9,
        Some(true),
        Network::Wifi,
    ));
    assert_eq!(
        kinds(&c.run("2025-11-26T10:00")),
        vec![Notice::NoFix {
            hours: 24,
            cause: MissingCause::TrackerStopped
        }]
    );

    // A report made without network: the fixes after it wait on the phone.
    // Offline outranks a low battery.
    let mut c = Case::new(person("2025-11-25T10:00"));
    c.checkin = Some(owntracks_report(
        "2025-11-25T10:05",
        5,
        Some(false),
        Network::Offline,
    ));
    assert!(c.run("2025-11-25T12:00").is_empty());
    assert_eq!(
        kinds(&c.run("2025-11-26T10:00")),
        vec![Notice::NoFix {
            hours: 24,
            cause: MissingCause::Offline
        }]
    );

    // The web app's check-in counts the battery too (no charging state:
    // unknown is read as not charging), and a problem the app reported
    // still outranks it.
    let mut low = checkin("2025-11-25T12:00", Permission::Granted, None, 0);
    low.battery_pct = Some(LOW_BATTERY_PCT);
    assert_eq!(low.reported_cause(), None);
    assert_eq!(low.likely_cause(), Some(MissingCause::BatteryLow));
    low.battery_pct = Some(LOW_BATTERY_PCT + 1);
    assert_eq!(low.likely_cause(), None);
    low.battery_pct = Some(3);
    low.geo_error = Some(GeoError::PositionUnavailable);
    assert_eq!(low.likely_cause(), Some(MissingCause::NoGnss));
}

#[test]
fn owntracks_silence_without_a_report_means_it_was_stopped() {
    // A report received before the last fix's recorded time (the phone's
    // clock a little ahead, within the allowed skew) says nothing about the
    // gap after it. Still, a person reporting with OwnTracks is never told
    // to open an app that runs by itself: the cause is "stopped".
    let mut c = Case::new(person("2025-11-25T10:00"));
    c.checkin = Some(owntracks_report(
        "2025-11-25T09:30",
        80,
        Some(false),
        Network::Wifi,
    ));
    assert_eq!(
        kinds(&c.run("2025-11-26T10:00")),
        vec![Notice::NoFix {
            hours: 24,
            cause: MissingCause::TrackerStopped
        }]
    );
}
