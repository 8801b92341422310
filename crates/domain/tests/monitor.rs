//! The monitoring engine on its own: no HTTP, no database.

use std::sync::{Arc, OnceLock};

use amina_domain::calendar::ProductionCalendar;
use amina_domain::geofence::Geofence;
use amina_domain::monitor::*;
use amina_domain::rule::MonitoringWindow;
use amina_domain::types::*;
use jiff::{SignedDuration, Timestamp};

fn monitor() -> Monitor {
    static GEOFENCE: OnceLock<Arc<Geofence>> = OnceLock::new();
    Monitor {
        calendar: Arc::new(ProductionCalendar::embedded()),
        geofence: GEOFENCE
            .get_or_init(|| Arc::new(Geofence::embedded()))
            .clone(),
        window: MonitoringWindow::default(),
        plausibility: Plausibility::default(),
        clock_skew: SignedDuration::from_mins(5),
    }
}

fn msk(s: &str) -> Timestamp {
    amina_domain::time::parse_moscow(s).unwrap()
}

fn fix(seq: i64, lat: f64, lon: f64, at: &str) -> FixInput {
    FixInput {
        seq: DeviceSeq::parse(seq).unwrap(),
        position: Coordinates::parse(lat, lon).unwrap(),
        accuracy: AccuracyM::parse(15.0).unwrap(),
        recorded_at: msk(at),
        source: FixSource::Gps,
        mock_location: false,
        battery: None,
    }
}

const KREMLIN: (f64, f64) = (55.7520, 37.6175);
const SVO: (f64, f64) = (55.9726, 37.4146); // Sheremetyevo, a known spoofing target
const TVER: (f64, f64) = (56.8587, 35.9176);

#[test]
fn a_teleport_to_the_airport_is_flagged_and_changes_no_presence() {
    let m = monitor();
    let state = m.enrolled(msk("2025-11-10T08:00:00")).unwrap();
    let batch = [
        fix(1, KREMLIN.0, KREMLIN.1, "2025-11-10T09:00:00"),
        fix(2, SVO.0, SVO.1, "2025-11-10T09:01:00"),
        fix(3, KREMLIN.0, KREMLIN.1, "2025-11-10T09:02:00"),
    ];
    let plan = m
        .plan_batch(&state, &batch, |_| None, msk("2025-11-10T09:05:00"))
        .unwrap();
    let flags: Vec<bool> = plan
        .inserts
        .iter()
        .map(|(_, o)| o.flags.implausible_speed)
        .collect();
    assert_eq!(flags, vec![false, true, false]);
    assert!(
        plan.inserts.iter().all(|(_, o)| o.counted),
        "flagged fixes still count"
    );
    assert_eq!(plan.state.presence, Presence::InRegion);
    assert_eq!(
        plan.state.last_monitoring_at,
        Some(msk("2025-11-10T09:02:00"))
    );
    assert_eq!(
        plan.state.pending_jump, None,
        "a trusted fix clears the pending jump"
    );
}

#[test]
fn a_real_move_is_accepted_once_confirmed() {
    // Tashkent, ~2,800 km away: after a flight the phone reports from there.
    const TASHKENT: (f64, f64) = (41.2995, 69.2401);
    let m = monitor();
    let mut state = m.enrolled(msk("2025-11-10T08:00:00")).unwrap();
    let now = msk("2025-11-10T23:00:00");
    let upload = |state: &mut PersonState, seq, at: &str, p: (f64, f64)| {
        let plan = m
            .plan_batch(state, &[fix(seq, p.0, p.1, at)], |_| None, now)
            .unwrap();
        *state = plan.state;
        plan.inserts[0].1.flags.implausible_speed
    };
    assert!(!upload(&mut state, 1, "2025-11-10T09:00:00", KREMLIN));
    // Thirty minutes later "in Tashkent": impossible, flagged, presence kept.
    assert!(upload(&mut state, 2, "2025-11-10T09:30:00", TASHKENT));
    assert_eq!(state.presence, Presence::InRegion);
    // Consistent with the jump but not yet for long enough.
    assert!(upload(&mut state, 3, "2025-11-10T10:30:00", TASHKENT));
    assert_eq!(state.presence, Presence::InRegion);
    // Two hours after the jump the move is confirmed: presence outside.
    assert!(!upload(&mut state, 4, "2025-11-10T11:31:00", TASHKENT));
    assert_eq!(state.presence, Presence::Outside);
    assert_eq!(state.presence_since, Some(msk("2025-11-10T11:31:00")));
    assert_eq!(
        state.status,
        RegistrationStatus::Registered,
        "outside does not deregister"
    );
    // Tver 20 minutes after Kremlin would be 480 km/h: flagged too.
    let mut fresh = m.enrolled(msk("2025-11-10T08:00:00")).unwrap();
    assert!(!upload(&mut fresh, 1, "2025-11-10T09:00:00", KREMLIN));
    assert!(upload(&mut fresh, 2, "2025-11-10T09:20:00", TVER));
}

#[test]
fn mock_locations_are_flagged_and_never_move_presence() {
    let m = monitor();
    let state = m.enrolled(msk("2025-11-10T08:00:00")).unwrap();
    let mut mock = fix(1, TVER.0, TVER.1, "2025-11-10T09:00:00");
    mock.mock_location = true;
    let plan = m
        .plan_batch(&state, &[mock], |_| None, msk("2025-11-10T10:00:00"))
        .unwrap();
    assert!(plan.inserts[0].1.flags.mock_location);
    assert_eq!(plan.state.presence, Presence::Unknown);
    assert_eq!(
        plan.state.last_monitoring_at,
        Some(msk("2025-11-10T09:00:00"))
    );
}

#[test]
fn a_batch_after_the_deadline_deregisters_first_and_does_not_count() {
    let m = monitor();
    let state = m.enrolled(msk("2025-11-28T18:00:00")).unwrap();
    assert_eq!(state.deadline_at, msk("2025-12-03T23:59:59.999"));
    let plan = m
        .plan_batch(
            &state,
            &[fix(1, KREMLIN.0, KREMLIN.1, "2025-12-03T23:00:00")],
            |_| None,
            msk("2025-12-04T00:00:00"),
        )
        .unwrap();
    let d = plan.deregistration.expect("overdue");
    assert_eq!(d.reason, DeregistrationReason::NoMonitoring);
    assert_eq!(d.effective_at, msk("2025-12-03T23:59:59.999"));
    assert_eq!(d.evidence["deadline_at"], "2025-12-03T20:59:59.999Z");
    assert!(!plan.inserts[0].1.counted);
    assert_eq!(plan.state.status, RegistrationStatus::Deregistered);
    assert_eq!(plan.state.last_monitoring_at, None);
}

#[test]
fn retries_are_recognised_and_reused_sequence_numbers_refused() {
    let m = monitor();
    let state = m.enrolled(msk("2025-11-10T08:00:00")).unwrap();
    let now = msk("2025-11-10T10:00:00");
    let stored = fix(1, KREMLIN.0, KREMLIN.1, "2025-11-10T09:00:00");
    let lookup = |s: DeviceSeq| (s.get() == 1).then(|| stored.clone());
    let plan = m
        .plan_batch(
            &state,
            &[
                stored.clone(),
                fix(2, KREMLIN.0, KREMLIN.1, "2025-11-10T09:10:00"),
            ],
            lookup,
            now,
        )
        .unwrap();
    assert_eq!(plan.duplicates, vec![DeviceSeq::parse(1).unwrap()]);
    assert_eq!(plan.inserts.len(), 1);
    let other = fix(1, TVER.0, TVER.1, "2025-11-10T09:00:00");
    assert_eq!(
        m.plan_batch(&state, &[other], lookup, now).unwrap_err(),
        BatchError::SequenceReused { seq: 1 }
    );
}

#[test]
fn refusals_name_the_fix() {
    let m = monitor();
    let state = m.enrolled(msk("2025-11-10T08:00:00")).unwrap();
    let now = msk("2025-11-10T10:00:00");
    let batch = [
        fix(1, KREMLIN.0, KREMLIN.1, "2025-11-10T09:00:00"),
        fix(2, KREMLIN.0, KREMLIN.1, "2025-11-10T10:05:01"),
    ];
    let err = m.plan_batch(&state, &batch, |_| None, now).unwrap_err();
    assert_eq!(err.code(), "recorded_in_future");
    assert!(matches!(
        err,
        BatchError::Rejected {
            index: 1,
            seq: 2,
            ..
        }
    ));
    let batch = [fix(1, KREMLIN.0, KREMLIN.1, "2025-11-10T10:04:59")];
    assert!(
        m.plan_batch(&state, &batch, |_| None, now).is_ok(),
        "within the skew allowance"
    );
    let batch = [fix(1, KREMLIN.0, KREMLIN.1, "2025-11-10T07:59:59")];
    assert_eq!(
        m.plan_batch(&state, &batch, |_| None, now)
            .unwrap_err()
            .code(),
        "recorded_before_enrolment"
    );
}
