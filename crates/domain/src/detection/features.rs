//! What one person-day of fixes looks like, as numbers an officer can read.
//!
//! The features are deliberately simple and each has a physical meaning, so
//! that a signal built on them can be explained ("the phone moved 12 m in
//! three working days") and an anomaly score can name what was unusual.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::{distance_m, gyration, LocalClock, TrackFix};

/// Speed above which two consecutive fixes are an impossible jump, km/h
/// (the monitor's plausibility limit).
pub const IMPOSSIBLE_KMH: f64 = 250.0;

/// Jumps shorter than this are GNSS noise, not a jump (the monitor's
/// minimum jump), metres.
pub const MIN_JUMP_M: f64 = 1000.0;

/// Features of one person-day (local civil day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayFeatures {
    pub date: Date,
    pub fixes: usize,
    /// Distinct local hours with at least one fix (0..=24): how much of the
    /// day the phone reported.
    pub active_hours: u32,
    /// The day's mean position.
    pub mean_lat: f64,
    pub mean_lon: f64,
    /// Root mean square distance to the day's mean position, metres.
    pub radius_of_gyration_m: f64,
    /// Sum of distances between consecutive fixes, km.
    pub path_km: f64,
    /// Consecutive pairs at least [`MIN_JUMP_M`] apart implying more than
    /// [`IMPOSSIBLE_KMH`].
    pub impossible_jumps: u32,
    /// Fixes the client marked as coming from a mock provider.
    pub mock_fixes: u32,
    /// Fixes the server flagged as implausible on arrival.
    pub flagged_fixes: u32,
    /// The longest run of consecutive fixes with exactly the same position
    /// (and the same accuracy, where reported): real GNSS positions jitter.
    pub longest_identical_run: u32,
    /// Share of fixes at a position seen before that day (0..=1).
    pub repeated_position_share: f64,
    /// Battery levels seen (min, max), where reported.
    pub battery_range: Option<(u8, u8)>,
    /// The battery level rose by at least 5 points between consecutive
    /// reports: the phone was charged.
    pub charged: bool,
}

impl DayFeatures {
    /// The numeric features used by the anomaly score, with their names.
    pub fn vector(&self) -> [(&'static str, f64); 7] {
        [
            ("fixes", self.fixes as f64),
            ("active_hours", f64::from(self.active_hours)),
            ("radius_of_gyration_m", self.radius_of_gyration_m),
            ("path_km", self.path_km),
            ("impossible_jumps", f64::from(self.impossible_jumps)),
            (
                "longest_identical_run",
                f64::from(self.longest_identical_run),
            ),
            ("repeated_position_share", self.repeated_position_share),
        ]
    }
}

/// Split cleaned fixes (see [`super::clean`]) into local civil days.
pub fn by_day(fixes: &[TrackFix], tz: &TimeZone) -> BTreeMap<Date, Vec<TrackFix>> {
    let mut days: BTreeMap<Date, Vec<TrackFix>> = BTreeMap::new();
    let mut clock = LocalClock::new(tz);
    for f in fixes {
        days.entry(clock.datetime(f.at).date())
            .or_default()
            .push(*f);
    }
    days
}

/// The features of one day's fixes (time-ordered, cleaned); None when there
/// are no fixes.
pub fn day_features(date: Date, fixes: &[TrackFix], tz: &TimeZone) -> Option<DayFeatures> {
    let (mean_lat, mean_lon, rg) = gyration(fixes)?;
    let mut hours = [false; 24];
    let mut path_m = 0.0;
    let mut impossible = 0;
    let mut run = 1u32;
    let mut longest = 1u32;
    let mut charged = false;
    let mut clock = LocalClock::new(tz);
    let mut battery: Option<(u8, u8)> = None;
    let mut last_battery: Option<u8> = None;
    for (i, f) in fixes.iter().enumerate() {
        let hour = clock.datetime(f.at).hour();
        hours[usize::try_from(hour).unwrap_or(0).min(23)] = true;
        if let Some(b) = f.battery {
            battery = Some(match battery {
                None => (b, b),
                Some((lo, hi)) => (lo.min(b), hi.max(b)),
            });
            if last_battery.is_some_and(|prev| b >= prev.saturating_add(5)) {
                charged = true;
            }
            last_battery = Some(b);
        }
        if i == 0 {
            continue;
        }
        let prev = &fixes[i - 1];
        let d = distance_m(prev, f);
        path_m += d;
        let secs = (f.at - prev.at).as_secs_f64();
        if d >= MIN_JUMP_M && (secs <= 0.0 || d / secs * 3.6 > IMPOSSIBLE_KMH) {
            impossible += 1;
        }
        let same = prev.lat == f.lat && prev.lon == f.lon && prev.accuracy_m == f.accuracy_m;
        run = if same { run + 1 } else { 1 };
        longest = longest.max(run);
    }
    // Fixes at a position seen earlier that day: positions sorted, every
    // member of a run of equal positions after the first is a repeat.
    let mut positions: Vec<(u64, u64)> = fixes
        .iter()
        .map(|f| (f.lat.to_bits(), f.lon.to_bits()))
        .collect();
    positions.sort_unstable();
    let repeated = positions.windows(2).filter(|w| w[0] == w[1]).count();
    Some(DayFeatures {
        date,
        fixes: fixes.len(),
        active_hours: hours.iter().filter(|h| **h).count() as u32,
        mean_lat,
        mean_lon,
        radius_of_gyration_m: rg,
        path_km: path_m / 1000.0,
        impossible_jumps: impossible,
        mock_fixes: fixes.iter().filter(|f| f.mock).count() as u32,
        flagged_fixes: fixes.iter().filter(|f| f.implausible).count() as u32,
        longest_identical_run: longest,
        repeated_position_share: repeated as f64 / fixes.len() as f64,
        battery_range: battery,
        charged,
    })
}

/// Features of every day of a person's (cleaned) fixes, in date order.
pub fn all_days(fixes: &[TrackFix], tz: &TimeZone) -> Vec<DayFeatures> {
    by_day(fixes, tz)
        .into_iter()
        .filter_map(|(date, day)| day_features(date, &day, tz))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    #[test]
    fn a_day_of_commuting() {
        let tz = TimeZone::get("Europe/Moscow").unwrap();
        let t0: Timestamp = "2025-11-24T05:00:00Z".parse().unwrap(); // 08:00 Moscow
        let home = (55.70, 37.50);
        let work = (55.75, 37.62);
        let mut fixes = Vec::new();
        for i in 0..4 {
            let mut f = TrackFix::at(t0 + jiff::SignedDuration::from_mins(i * 5), home.0, home.1);
            f.battery = Some(90 - i as u8);
            fixes.push(f);
        }
        let mut at_work = TrackFix::at(t0 + jiff::SignedDuration::from_hours(1), work.0, work.1);
        at_work.battery = Some(99); // charged on the way
        fixes.push(at_work);
        // A jump to Vladivostok 10 minutes later: impossible.
        fixes.push(TrackFix::at(
            t0 + jiff::SignedDuration::from_mins(70),
            43.1,
            131.9,
        ));
        let f = day_features(jiff::civil::date(2025, 11, 24), &fixes, &tz).unwrap();
        assert_eq!(f.fixes, 6);
        assert_eq!(f.active_hours, 2);
        assert_eq!(f.impossible_jumps, 1);
        assert_eq!(f.longest_identical_run, 4);
        assert!((f.repeated_position_share - 0.5).abs() < 1e-9);
        assert_eq!(f.battery_range, Some((87, 99)));
        assert!(f.charged);
        assert!(f.path_km > 6000.0);
    }

    #[test]
    fn days_are_local_days() {
        let tz = TimeZone::get("Europe/Moscow").unwrap();
        // 22:30 UTC is 01:30 the next day in Moscow.
        let late: Timestamp = "2025-11-24T22:30:00Z".parse().unwrap();
        let days = by_day(&[TrackFix::at(late, 55.7, 37.6)], &tz);
        assert_eq!(
            days.keys().copied().collect::<Vec<_>>(),
            vec![jiff::civil::date(2025, 11, 25)]
        );
    }
}
