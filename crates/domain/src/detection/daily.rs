//! The daily detection step for one person, incremental.
//!
//! Once a day, after the night that follows day `d` has begun, the job takes
//! the person's fixes from the start of the night before `d` to the end of
//! `d` and a small history (the previous days' features and the previous
//! nights' locations, kept in storage), and returns the findings for `d` and
//! the history to keep. Nothing older is reloaded: the stationary check
//! combines per-day summaries (see [`super::combine_gyration`]) and the home
//! is computed from one location per night.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::address::AddressParams;
use super::evasion::{
    spoofing, stationary, ChurnParams, RemovedParams, Spoofing, SpoofingParams, Stationary,
    StationaryParams,
};
use super::features::{day_features, DayFeatures};
use super::home::{
    home_from_nights, lives_elsewhere, night_locations, ElsewhereParams, HomeEstimate, HomeParams,
    LivesElsewhere, NightLocation,
};
use super::{LocalClock, TrackFix};

/// What is kept per person between daily runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PersonHistory {
    /// Features of the most recent days, oldest first.
    pub days: Vec<DayFeatures>,
    /// Night locations of the most recent nights, oldest first.
    pub nights: Vec<NightLocation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DailyParams {
    pub stationary: StationaryParams,
    pub spoofing: SpoofingParams,
    pub home: HomeParams,
    pub elsewhere: ElsewhereParams,
    /// The address review, run after everybody's day.
    pub address: AddressParams,
    /// "App probably removed", run over silent people after everybody's day.
    pub removed: RemovedParams,
    /// Device churn, over the day's bindings and revoked devices' uploads.
    pub churn: ChurnParams,
}

/// The findings of one person-day.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DailyFindings {
    pub features: Option<DayFeatures>,
    pub home: Option<HomeEstimate>,
    pub stationary: Option<Stationary>,
    pub spoofing: Option<Spoofing>,
    pub lives_elsewhere: Option<LivesElsewhere>,
}

/// Run the daily step for day `date`. `fixes`: the person's cleaned fixes
/// from the start of the night before `date` to the end of `date` (others
/// are ignored); `registered`: the current place of stay, if any.
pub fn run_day(
    date: Date,
    fixes: &[TrackFix],
    registered: Option<(f64, f64)>,
    history: &mut PersonHistory,
    is_working_day: &dyn Fn(Date) -> bool,
    tz: &TimeZone,
    p: &DailyParams,
) -> DailyFindings {
    let mut out = DailyFindings::default();
    let Ok(night_before) = date.yesterday() else {
        return out;
    };
    // The night that ended this morning.
    history.nights.extend(night_locations(
        fixes,
        night_before,
        night_before,
        tz,
        &p.home,
    ));
    let keep_nights = p.home.nights.max(1) as usize;
    let from_night = date
        .checked_sub(jiff::Span::new().days(i64::from(p.home.nights.max(1))))
        .unwrap_or(date);
    history.nights.retain(|n| n.night >= from_night);
    if history.nights.len() > keep_nights {
        let drop = history.nights.len() - keep_nights;
        history.nights.drain(..drop);
    }
    out.home = home_from_nights(&history.nights, p.home.nights.max(1), &p.home);
    if let (Some(home), Some(reg)) = (&out.home, registered) {
        out.lives_elsewhere = lives_elsewhere(home, reg, &p.elsewhere);
    }

    // Today's features.
    let mut clock = LocalClock::new(tz);
    let today: Vec<TrackFix> = fixes
        .iter()
        .filter(|f| clock.datetime(f.at).date() == date)
        .copied()
        .collect();
    out.features = day_features(date, &today, tz);
    if let Some(f) = &out.features {
        out.spoofing = spoofing(f, &p.spoofing);
        history.days.push(f.clone());
    }
    let keep_days = p.stationary.window_days.max(1) as usize;
    let first_day = date
        .checked_sub(jiff::Span::new().days(i64::from(p.stationary.window_days.max(1)) - 1))
        .unwrap_or(date);
    history
        .days
        .retain(|d| d.date >= first_day && d.date <= date);
    if history.days.len() > keep_days {
        let drop = history.days.len() - keep_days;
        history.days.drain(..drop);
    }
    let by_date = history.days.iter().map(|d| (d.date, d.clone())).collect();
    out.stationary = stationary(&by_date, date, is_working_day, &p.stationary);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::home::estimate_home;
    use jiff::SignedDuration;

    fn tz() -> TimeZone {
        TimeZone::get("Europe/Moscow").unwrap()
    }

    /// A person sleeping at FLAT, working at OFFICE on weekdays, with fixes
    /// every 30 minutes, and a phone left at the flat from `left_from`.
    fn trace(days: u32, left_from: Option<u32>) -> Vec<TrackFix> {
        const FLAT: (f64, f64) = (55.6512, 37.6005);
        const OFFICE: (f64, f64) = (55.7558, 37.6173);
        let start = jiff::civil::date(2025, 11, 3);
        let mut out = Vec::new();
        for d in 0..days {
            let date = start
                .checked_add(jiff::Span::new().days(i64::from(d)))
                .unwrap();
            let t0 = date
                .at(0, 0, 0, 0)
                .to_zoned_datetime(tz())
                .unwrap()
                .timestamp();
            let weekday = date.weekday().to_monday_one_offset() <= 5;
            for half_hour in 0..48 {
                let at = t0 + SignedDuration::from_mins(30 * half_hour);
                let at_work = weekday && (18..36).contains(&half_hour);
                let left = left_from.is_some_and(|l| d >= l);
                let pos = if at_work && !left { OFFICE } else { FLAT };
                let jitter = ((half_hour * 7 + i64::from(d) * 3) % 5) as f64 * 1e-5;
                out.push(TrackFix::at(at, pos.0 + jitter, pos.1 - jitter));
            }
        }
        out
    }

    fn run_all(fixes: &[TrackFix], days: u32, registered: (f64, f64)) -> Vec<DailyFindings> {
        let start = jiff::civil::date(2025, 11, 3);
        let mut history = PersonHistory::default();
        let weekdays = |d: Date| d.weekday().to_monday_one_offset() <= 5;
        (0..days)
            .map(|d| {
                let date = start
                    .checked_add(jiff::Span::new().days(i64::from(d)))
                    .unwrap();
                let from = date
                    .yesterday()
                    .unwrap()
                    .at(22, 0, 0, 0)
                    .to_zoned_datetime(tz())
                    .unwrap()
                    .timestamp();
                let to = date
                    .tomorrow()
                    .unwrap()
                    .at(0, 0, 0, 0)
                    .to_zoned_datetime(tz())
                    .unwrap()
                    .timestamp();
                let window: Vec<TrackFix> = fixes
                    .iter()
                    .filter(|f| f.at >= from && f.at < to)
                    .copied()
                    .collect();
                run_day(
                    date,
                    &window,
                    Some(registered),
                    &mut history,
                    &weekdays,
                    &tz(),
                    &DailyParams::default(),
                )
            })
            .collect()
    }

    #[test]
    fn incremental_runs_match_the_whole_trace_view() {
        let fixes = trace(14, None);
        let findings = run_all(&fixes, 14, (55.6512, 37.6005));
        // The home from the kept night locations equals the one computed
        // from all fixes at once.
        let last = jiff::civil::date(2025, 11, 16);
        let whole = estimate_home(
            &fixes,
            last.yesterday().unwrap(),
            &tz(),
            &HomeParams::default(),
        )
        .unwrap();
        let incremental = findings.last().unwrap().home.clone().unwrap();
        assert_eq!(incremental.nights_at_home, whole.nights_at_home);
        assert_eq!(incremental.nights_observed, whole.nights_observed);
        assert!((incremental.lat - whole.lat).abs() < 1e-6);
        // Commuting every weekday: never stationary; registered at home:
        // never elsewhere; all days have features.
        assert!(findings.iter().all(|f| f.stationary.is_none()));
        assert!(findings.iter().all(|f| f.lives_elsewhere.is_none()));
        assert!(findings.iter().all(|f| f.features.is_some()));
    }

    #[test]
    fn a_phone_left_at_home_is_found_on_the_third_working_day() {
        // Left from Monday 10 Nov (day 7): Sunday at home plus Monday and
        // Tuesday there make two working days → found on Tuesday.
        let fixes = trace(14, Some(7));
        let findings = run_all(&fixes, 14, (55.6512, 37.6005));
        let first = findings
            .iter()
            .position(|f| f.stationary.is_some())
            .expect("found");
        assert_eq!(first, 8, "Tuesday 11 Nov");
        // Registered across the city: lives elsewhere once enough nights are seen.
        let elsewhere = run_all(&fixes, 14, (55.80, 37.50));
        assert!(elsewhere.last().unwrap().lives_elsewhere.is_some());
        assert!(elsewhere[1].lives_elsewhere.is_none(), "too few nights yet");
    }
}
