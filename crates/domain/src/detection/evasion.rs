//! Evasion signals: the phone is not where the person is, or the app is
//! gone. Each detector returns its evidence and a plain explanation, or
//! nothing.
//!
//! Each one has an innocent explanation too (a person ill at home for three
//! days; a GNSS fault near an airport; a broken phone), which is why they
//! are signals for review and why their false-positive rates are measured
//! (docs/detection.md).

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::combine_gyration;
use super::features::DayFeatures;
#[cfg(test)]
use super::TrackFix;

// ---------------------------------------------------------------- stationary

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StationaryParams {
    /// Consecutive days looked at, ending with the evaluated day.
    pub window_days: u32,
    /// Of which at least this many are working days.
    pub min_working_days: u32,
    /// Each day needs this many fixes …
    pub min_fixes_per_day: usize,
    /// … spread over at least this many hours, to say anything.
    pub min_active_hours_per_day: u32,
    /// The window's radius of gyration is below this, metres.
    pub max_radius_m: f64,
}

impl Default for StationaryParams {
    fn default() -> Self {
        StationaryParams {
            window_days: 3,
            min_working_days: 2,
            min_fixes_per_day: 6,
            min_active_hours_per_day: 3,
            max_radius_m: 50.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stationary {
    pub from: Date,
    pub until: Date,
    pub working_days: u32,
    pub fixes: usize,
    pub radius_of_gyration_m: f64,
    pub lat: f64,
    pub lon: f64,
    /// Battery levels over the window (min, max), where reported.
    pub battery_range: Option<(u8, u8)>,
    /// Whether a charge was seen.
    pub charged: bool,
    pub score: f64,
    pub explanation: String,
}

/// "Phone probably left in one place": over the window ending on `until`,
/// every day reported enough, working days included, and all fixes stay
/// within a small radius. A battery that neither drains nor charges (a
/// phone on a charger in a drawer) makes it stronger; a normal daily charge
/// cycle makes it weaker but does not clear it.
///
/// Works from the days' features alone (see
/// [`super::combine_gyration`]), so the daily job needs no old fixes.
pub fn stationary(
    features: &BTreeMap<Date, DayFeatures>,
    until: Date,
    is_working_day: &dyn Fn(Date) -> bool,
    p: &StationaryParams,
) -> Option<Stationary> {
    let n = p.window_days.max(1);
    let from = until
        .checked_sub(jiff::Span::new().days(i64::from(n) - 1))
        .ok()?;
    let mut parts = Vec::new();
    let mut working = 0;
    let mut battery: Option<(u8, u8)> = None;
    let mut charged = false;
    let mut day = from;
    loop {
        let f = features.get(&day)?;
        if f.fixes < p.min_fixes_per_day || f.active_hours < p.min_active_hours_per_day {
            return None;
        }
        parts.push((f.fixes, f.mean_lat, f.mean_lon, f.radius_of_gyration_m));
        if is_working_day(day) {
            working += 1;
        }
        if let Some((lo, hi)) = f.battery_range {
            battery = Some(battery.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
        charged |= f.charged;
        if day == until {
            break;
        }
        day = day.tomorrow().ok()?;
    }
    if working < p.min_working_days {
        return None;
    }
    let (lat, lon, rg) = combine_gyration(&parts)?;
    let fixes: usize = parts.iter().map(|p| p.0).sum();
    if rg >= p.max_radius_m {
        return None;
    }
    let flat_battery = battery.is_some_and(|(lo, hi)| hi - lo <= 3);
    let score = if flat_battery {
        0.9
    } else if charged {
        0.5
    } else {
        0.7
    };
    let battery_text = match battery {
        Some((lo, hi)) if flat_battery => format!(" The battery stayed at {lo}–{hi}%."),
        Some((lo, hi)) => format!(
            " The battery ranged {lo}–{hi}%{}.",
            if charged { " and was charged" } else { "" }
        ),
        None => String::new(),
    };
    Some(Stationary {
        from,
        until,
        working_days: working,
        fixes,
        radius_of_gyration_m: rg,
        lat,
        lon,
        battery_range: battery,
        charged,
        score,
        explanation: format!(
            "For {n} days ({working} of them working days) all {} fixes were within {:.0} m of one \
             point; a phone carried by a working person moves.{battery_text}",
            fixes,
            rg
        ),
    })
}

// ---------------------------------------------------------------- spoofing

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpoofingParams {
    /// Impossible jumps in a day (≥ 1 km at > 250 km/h) that raise. A single
    /// GNSS glitch there and back makes two; real traces show up to three
    /// on ordinary days (docs/detection.md), so it takes two excursions.
    pub min_impossible_jumps: u32,
    /// Consecutive identical fixes (position and accuracy) that raise.
    pub min_identical_run: u32,
    /// Mock-location fixes in a day that raise.
    pub min_mock_fixes: u32,
}

impl Default for SpoofingParams {
    fn default() -> Self {
        SpoofingParams {
            min_impossible_jumps: 4,
            min_identical_run: 30,
            min_mock_fixes: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spoofing {
    pub date: Date,
    /// Which tests fired: "mock_location", "impossible_speed",
    /// "identical_repetition".
    pub reasons: Vec<&'static str>,
    pub mock_fixes: u32,
    pub impossible_jumps: u32,
    pub longest_identical_run: u32,
    pub score: f64,
    pub explanation: String,
}

/// Spoofed location on one day: a mock provider, repeated impossible jumps,
/// or a position repeated identically (to the last digit, with the same
/// accuracy) for a long run — real receivers jitter.
pub fn spoofing(day: &DayFeatures, p: &SpoofingParams) -> Option<Spoofing> {
    let mut reasons = Vec::new();
    let mut parts = Vec::new();
    if day.mock_fixes >= p.min_mock_fixes {
        reasons.push("mock_location");
        parts.push(format!(
            "{} fixes came from a mock location app",
            day.mock_fixes
        ));
    }
    if day.impossible_jumps >= p.min_impossible_jumps {
        reasons.push("impossible_speed");
        parts.push(format!(
            "{} jumps of over 1 km at more than 250 km/h",
            day.impossible_jumps
        ));
    }
    if day.longest_identical_run >= p.min_identical_run {
        reasons.push("identical_repetition");
        parts.push(format!(
            "{} consecutive fixes with exactly the same position",
            day.longest_identical_run
        ));
    }
    if reasons.is_empty() {
        return None;
    }
    let score = (0.4 * reasons.len() as f64 + if day.mock_fixes > 0 { 0.3 } else { 0.0 }).min(1.0);
    Some(Spoofing {
        date: day.date,
        reasons,
        mock_fixes: day.mock_fixes,
        impossible_jumps: day.impossible_jumps,
        longest_identical_run: day.longest_identical_run,
        score,
        explanation: format!(
            "On {}: {}. GNSS interference can cause jumps; a mock provider or a frozen position \
             cannot.",
            day.date,
            parts.join("; ")
        ),
    })
}

// ---------------------------------------------------------------- app removed

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RemovedParams {
    /// Silence at least this long …
    pub min_silence: SignedDuration,
}

impl Default for RemovedParams {
    fn default() -> Self {
        RemovedParams {
            min_silence: SignedDuration::from_hours(48),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppRemoved {
    pub last_fix_at: Option<Timestamp>,
    pub push_gone_at: Timestamp,
    pub silence_hours: i64,
    pub explanation: String,
}

/// "App probably removed": nothing received for a long time and the push
/// service says the subscription is gone (it goes when the app or its data
/// is removed, or the browser is reset).
pub fn app_probably_removed(
    last_fix_at: Option<Timestamp>,
    enrolled_at: Timestamp,
    push_gone_at: Option<Timestamp>,
    now: Timestamp,
    p: &RemovedParams,
) -> Option<AppRemoved> {
    let push_gone_at = push_gone_at?;
    let since = last_fix_at.unwrap_or(enrolled_at);
    let silence = now - since;
    if silence < p.min_silence {
        return None;
    }
    let hours = silence.as_hours();
    Some(AppRemoved {
        last_fix_at,
        push_gone_at,
        silence_hours: hours,
        explanation: format!(
            "No location for {hours} hours, and the push service reported the app's \
             subscription gone at {push_gone_at}."
        ),
    })
}

// ---------------------------------------------------------------- device churn

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChurnParams {
    pub window: SignedDuration,
    /// Bindings within the window that raise.
    pub min_bindings: usize,
}

impl Default for ChurnParams {
    fn default() -> Self {
        ChurnParams {
            window: SignedDuration::from_hours(24 * 30),
            min_bindings: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceChurn {
    pub bindings_in_window: usize,
    /// Signed uploads from a device after it was revoked (a second phone
    /// still reporting).
    pub revoked_device_uploads: u64,
    pub explanation: String,
}

/// Frequent rebinding, or proofs from two devices (a revoked device that
/// keeps uploading next to the active one).
pub fn device_churn(
    bindings: &[Timestamp],
    revoked_device_uploads: u64,
    now: Timestamp,
    p: &ChurnParams,
) -> Option<DeviceChurn> {
    let recent = bindings
        .iter()
        .filter(|b| now - **b <= p.window && **b <= now)
        .count();
    if recent < p.min_bindings && revoked_device_uploads == 0 {
        return None;
    }
    let mut parts = Vec::new();
    if recent >= p.min_bindings {
        parts.push(format!(
            "{recent} devices bound in the last {} days",
            p.window.as_hours() / 24
        ));
    }
    if revoked_device_uploads > 0 {
        parts.push(format!(
            "{revoked_device_uploads} uploads signed by a revoked device"
        ));
    }
    Some(DeviceChurn {
        bindings_in_window: recent,
        revoked_device_uploads,
        explanation: format!("{}.", parts.join("; ")),
    })
}

#[cfg(test)]
mod tests {
    use super::super::features::{by_day, day_features};
    use super::*;
    use jiff::tz::TimeZone;

    fn tz() -> TimeZone {
        TimeZone::get("Europe/Moscow").unwrap()
    }

    /// Hourly fixes 08:00–20:00 Moscow on each day, at `pos(day, hour)`.
    fn days_of(
        dates: &[Date],
        pos: impl Fn(usize, i8) -> (f64, f64),
        battery: impl Fn(usize, i8) -> Option<u8>,
    ) -> Vec<TrackFix> {
        let mut out = Vec::new();
        for (d, date) in dates.iter().enumerate() {
            for h in 8..=20 {
                let at = date
                    .at(h, 0, 0, 0)
                    .to_zoned_datetime(tz())
                    .unwrap()
                    .timestamp();
                let (lat, lon) = pos(d, h);
                let mut f = TrackFix::at(at, lat, lon);
                f.battery = battery(d, h);
                out.push(f);
            }
        }
        out
    }

    fn weekdays(date: Date) -> bool {
        date.weekday().to_monday_one_offset() <= 5
    }

    fn check(fixes: &[TrackFix], until: Date) -> Option<Stationary> {
        let days = by_day(fixes, &tz());
        let features = days
            .iter()
            .filter_map(|(d, f)| Some((*d, day_features(*d, f, &tz())?)))
            .collect();
        stationary(&features, until, &weekdays, &StationaryParams::default())
    }

    #[test]
    fn a_phone_in_a_drawer_over_working_days() {
        // Mon 24 – Wed 26 Nov 2025, a few metres of jitter, battery on a charger.
        let dates = [
            jiff::civil::date(2025, 11, 24),
            jiff::civil::date(2025, 11, 25),
            jiff::civil::date(2025, 11, 26),
        ];
        let jitter = |d: usize, h: i8| {
            let e = f64::from((h as i32 * 7 + d as i32 * 3) % 5) * 2e-5;
            (55.6512 + e, 37.6005 - e)
        };
        let s = check(&days_of(&dates, jitter, |_, _| Some(100)), dates[2]).unwrap();
        assert_eq!(s.working_days, 3);
        assert!(s.radius_of_gyration_m < 10.0);
        assert_eq!(s.score, 0.9);
        assert!(s.explanation.contains("battery stayed at 100–100%"));

        // The same phone carried to work daily: nothing.
        let commute = |d: usize, h: i8| {
            if (10..18).contains(&h) {
                (55.7558, 37.6173)
            } else {
                jitter(d, h)
            }
        };
        assert!(check(&days_of(&dates, commute, |_, _| None), dates[2]).is_none());
    }

    #[test]
    fn a_weekend_at_home_is_not_enough() {
        // Sat 22, Sun 23, Mon 24 Nov 2025: one working day only.
        let dates = [
            jiff::civil::date(2025, 11, 22),
            jiff::civil::date(2025, 11, 23),
            jiff::civil::date(2025, 11, 24),
        ];
        let fixes = days_of(&dates, |_, _| (55.6512, 37.6005), |_, _| None);
        assert!(check(&fixes, dates[2]).is_none());
        // A day without data in the window: nothing can be said.
        let gap = [dates[0], dates[2]];
        let fixes = days_of(&gap, |_, _| (55.6512, 37.6005), |_, _| None);
        assert!(check(&fixes, dates[2]).is_none());
    }

    #[test]
    fn spoofing_reasons() {
        let date = jiff::civil::date(2025, 11, 24);
        let at = date
            .at(10, 0, 0, 0)
            .to_zoned_datetime(tz())
            .unwrap()
            .timestamp();
        // A frozen position from a mock app: 40 identical fixes.
        let frozen: Vec<TrackFix> = (0..40)
            .map(|i| {
                let mut f = TrackFix::at(at + SignedDuration::from_mins(i), 55.75, 37.61);
                f.accuracy_m = Some(5.0);
                f.mock = i == 0;
                f
            })
            .collect();
        let f = day_features(date, &frozen, &tz()).unwrap();
        let s = spoofing(&f, &SpoofingParams::default()).unwrap();
        assert_eq!(s.reasons, vec!["mock_location", "identical_repetition"]);
        assert_eq!(s.longest_identical_run, 40);

        // Ordinary jittering fixes: nothing.
        let real: Vec<TrackFix> = (0..40)
            .map(|i| {
                TrackFix::at(
                    at + SignedDuration::from_mins(i),
                    55.75 + f64::from(i as i32 % 3) * 1e-5,
                    37.61,
                )
            })
            .collect();
        let f = day_features(date, &real, &tz()).unwrap();
        assert!(spoofing(&f, &SpoofingParams::default()).is_none());
    }

    #[test]
    fn app_removed_needs_silence_and_a_dead_subscription() {
        let t0: Timestamp = "2025-11-24T10:00:00Z".parse().unwrap();
        let p = RemovedParams::default();
        let later = t0 + SignedDuration::from_hours(50);
        assert!(app_probably_removed(Some(t0), t0, None, later, &p).is_none());
        assert!(app_probably_removed(
            Some(t0),
            t0,
            Some(later),
            t0 + SignedDuration::from_hours(47),
            &p
        )
        .is_none());
        let r = app_probably_removed(Some(t0), t0, Some(later), later, &p).unwrap();
        assert_eq!(r.silence_hours, 50);
    }

    #[test]
    fn churn() {
        let now: Timestamp = "2025-11-24T10:00:00Z".parse().unwrap();
        let days_ago = |d: i64| now - SignedDuration::from_hours(24 * d);
        let p = ChurnParams::default();
        assert!(device_churn(&[days_ago(40), days_ago(10), days_ago(1)], 0, now, &p).is_none());
        let c = device_churn(&[days_ago(20), days_ago(10), days_ago(1)], 0, now, &p).unwrap();
        assert_eq!(c.bindings_in_window, 3);
        let c = device_churn(&[days_ago(1)], 4, now, &p).unwrap();
        assert!(c
            .explanation
            .contains("4 uploads signed by a revoked device"));
    }
}
