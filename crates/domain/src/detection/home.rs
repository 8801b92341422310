//! Where a person sleeps: the most frequent night-time location, and how it
//! compares with the registered place of stay.
//!
//! The method follows trackintel's "FREQ" home detection, restricted to
//! night hours: each night, the place where the phone spent most of the
//! night is that night's location; the home is the place that is the night's
//! location most often over the last N nights. Its confidence is the share
//! of observed nights spent there. Nights without fixes are not evidence of
//! anything (a web app reports only while open), so the confidence is over
//! observed nights, and the number of observed nights is part of the result:
//! a "home" seen on 2 nights of 14 is reported as weak, not hidden.
//!
//! Places are formed by leader clustering (a point joins the first place
//! whose leader is within the radius, in time order), which is
//! deterministic and enough at the scale of a flat versus the next street:
//! first among one night's fixes (the night's location), then among the
//! night locations (the home). The daily job keeps one night location per
//! night, so it never reloads old fixes.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use super::{LocalClock, TrackFix};
use crate::staypoints::great_circle_m;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HomeParams {
    /// Local hour at which the night starts (inclusive), 0..=23.
    pub night_start_hour: i8,
    /// Local hour at which the night ends (exclusive), 0..=23.
    pub night_end_hour: i8,
    /// How many nights back to look, ending with the night that starts on
    /// the evaluation date.
    pub nights: u32,
    /// Fixes within this distance of a place's first fix belong to it, m.
    pub place_radius_m: f64,
    /// A fix stands for the time until the next fix, at most this long.
    pub max_fix_weight: SignedDuration,
}

impl Default for HomeParams {
    fn default() -> Self {
        HomeParams {
            night_start_hour: 22,
            night_end_hour: 6,
            nights: 14,
            place_radius_m: 150.0,
            max_fix_weight: SignedDuration::from_mins(30),
        }
    }
}

/// The inferred home.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HomeEstimate {
    pub lat: f64,
    pub lon: f64,
    /// Nights whose location was the home.
    pub nights_at_home: u32,
    /// Nights with any night-time fix in the period.
    pub nights_observed: u32,
    /// Nights in the period.
    pub nights_considered: u32,
    /// nights_at_home / nights_observed.
    pub confidence: f64,
}

/// The night a local instant belongs to, named by the date the night
/// starts on; None outside night hours.
fn night_of(fix: &TrackFix, clock: &mut LocalClock, p: &HomeParams) -> Option<Date> {
    let z = clock.datetime(fix.at);
    let h = z.hour();
    let wraps = p.night_start_hour > p.night_end_hour;
    if wraps {
        if h >= p.night_start_hour {
            Some(z.date())
        } else if h < p.night_end_hour {
            z.date().yesterday().ok()
        } else {
            None
        }
    } else if h >= p.night_start_hour && h < p.night_end_hour {
        Some(z.date())
    } else {
        None
    }
}

/// Where the phone spent one night: the heaviest place of that night's
/// fixes, each fix weighted by the time until the next one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NightLocation {
    /// The date the night starts on.
    pub night: Date,
    pub lat: f64,
    pub lon: f64,
    /// Seconds of the night spent there.
    pub weight_s: f64,
}

/// Leader clustering: the index of the place each point joins.
fn leaders<'a>(points: impl Iterator<Item = (f64, f64)> + 'a, radius_m: f64) -> Vec<usize> {
    let mut leaders: Vec<(f64, f64)> = Vec::new();
    points
        .map(|(lat, lon)| {
            leaders
                .iter()
                .position(|(a, b)| great_circle_m(*a, *b, lat, lon) <= radius_m)
                .unwrap_or_else(|| {
                    leaders.push((lat, lon));
                    leaders.len() - 1
                })
        })
        .collect()
}

/// The night location of every night from `from` to `until` (inclusive)
/// that has night-time fixes, in night order. Cleaned fixes (see
/// [`super::clean`]).
pub fn night_locations(
    fixes: &[TrackFix],
    from: Date,
    until: Date,
    tz: &TimeZone,
    p: &HomeParams,
) -> Vec<NightLocation> {
    let mut per_night: BTreeMap<Date, Vec<(f64, f64, f64)>> = BTreeMap::new();
    let mut clock = LocalClock::new(tz);
    for (i, f) in fixes.iter().enumerate() {
        let Some(night) = night_of(f, &mut clock, p) else {
            continue;
        };
        if night < from || night > until {
            continue;
        }
        let next_gap = fixes
            .get(i + 1)
            .map(|n| n.at - f.at)
            .unwrap_or(SignedDuration::ZERO);
        // At least a minute, so that a lone fix counts for something.
        let weight = next_gap
            .clamp(SignedDuration::from_mins(1), p.max_fix_weight)
            .as_secs_f64();
        per_night
            .entry(night)
            .or_default()
            .push((f.lat, f.lon, weight));
    }
    per_night
        .into_iter()
        .filter_map(|(night, pts)| {
            let place_of = leaders(pts.iter().map(|p| (p.0, p.1)), p.place_radius_m);
            let places = place_of.iter().max().map_or(0, |m| m + 1);
            let mut w = vec![(0.0, 0.0, 0.0); places];
            for (pt, place) in pts.iter().zip(&place_of) {
                w[*place].0 += pt.2;
                w[*place].1 += pt.0 * pt.2;
                w[*place].2 += pt.1 * pt.2;
            }
            // The heaviest place; ties go to the earlier one.
            let (sw, slat, slon) = w.into_iter().reduce(|a, b| if b.0 > a.0 { b } else { a })?;
            Some(NightLocation {
                night,
                lat: slat / sw,
                lon: slon / sw,
                weight_s: sw,
            })
        })
        .collect()
}

/// The home from night locations: the place (night locations within the
/// radius of each other's leader) that holds the most nights; ties go to
/// more time spent, then to the earlier place.
pub fn home_from_nights(
    nights: &[NightLocation],
    nights_considered: u32,
    p: &HomeParams,
) -> Option<HomeEstimate> {
    let place_of = leaders(nights.iter().map(|n| (n.lat, n.lon)), p.place_radius_m);
    let mut per_place: BTreeMap<usize, (u32, f64)> = BTreeMap::new();
    for (n, place) in nights.iter().zip(&place_of) {
        let e = per_place.entry(*place).or_default();
        e.0 += 1;
        e.1 += n.weight_s;
    }
    let (&home, &(nights_at_home, _)) = per_place.iter().max_by(|a, b| {
        (a.1 .0, a.1 .1)
            .partial_cmp(&(b.1 .0, b.1 .1))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.0.cmp(a.0))
    })?;
    let (mut sw, mut slat, mut slon) = (0.0, 0.0, 0.0);
    for (n, place) in nights.iter().zip(&place_of) {
        if *place == home {
            sw += n.weight_s;
            slat += n.lat * n.weight_s;
            slon += n.lon * n.weight_s;
        }
    }
    let nights_observed = nights.len() as u32;
    Some(HomeEstimate {
        lat: slat / sw,
        lon: slon / sw,
        nights_at_home,
        nights_observed,
        nights_considered,
        confidence: f64::from(nights_at_home) / f64::from(nights_observed),
    })
}

/// Estimate the home from cleaned fixes (see [`super::clean`]) for the
/// nights up to the one starting on `until`; None when no night was
/// observed.
pub fn estimate_home(
    fixes: &[TrackFix],
    until: Date,
    tz: &TimeZone,
    p: &HomeParams,
) -> Option<HomeEstimate> {
    let n = p.nights.max(1);
    let from = until
        .checked_sub(jiff::Span::new().days(i64::from(n) - 1))
        .ok()?;
    home_from_nights(&night_locations(fixes, from, until, tz, p), n, p)
}

/// Thresholds for "lives elsewhere".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ElsewhereParams {
    /// The home is further than this from the registered address, metres.
    pub min_distance_m: f64,
    /// And the home is at least this sure.
    pub min_confidence: f64,
    /// And at least this many nights were observed.
    pub min_nights_observed: u32,
}

impl Default for ElsewhereParams {
    fn default() -> Self {
        ElsewhereParams {
            min_distance_m: 500.0,
            min_confidence: 0.6,
            min_nights_observed: 4,
        }
    }
}

/// The evidence that a person does not live at their registered address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LivesElsewhere {
    pub home: HomeEstimate,
    pub registered_lat: f64,
    pub registered_lon: f64,
    pub distance_m: f64,
    /// confidence scaled down when few nights were observed, 0..=1.
    pub score: f64,
    pub explanation: String,
}

/// Compare an inferred home with the registered place of stay.
pub fn lives_elsewhere(
    home: &HomeEstimate,
    registered: (f64, f64),
    p: &ElsewhereParams,
) -> Option<LivesElsewhere> {
    // One rule for the person and for the address review.
    let super::address::HomeVerdict::Elsewhere { distance_m, score } =
        super::address::verdict(Some(home), registered, p)
    else {
        return None;
    };
    Some(LivesElsewhere {
        home: home.clone(),
        registered_lat: registered.0,
        registered_lon: registered.1,
        distance_m,
        score,
        explanation: format!(
            "On {} of {} observed nights (of the last {}) the phone spent the night about {:.1} km \
             from the registered place of stay.",
            home.nights_at_home,
            home.nights_observed,
            home.nights_considered,
            distance_m / 1000.0
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn moscow() -> TimeZone {
        TimeZone::get("Europe/Moscow").unwrap()
    }

    /// Fixes every 20 minutes from 23:00 to 05:00 Moscow on the night
    /// starting on `date`, at `pos`.
    fn night(date: Date, pos: (f64, f64)) -> Vec<TrackFix> {
        let start = date
            .at(23, 0, 0, 0)
            .to_zoned_datetime(moscow())
            .unwrap()
            .timestamp();
        (0..18)
            .map(|i| TrackFix::at(start + SignedDuration::from_mins(20 * i), pos.0, pos.1))
            .collect()
    }

    const FLAT: (f64, f64) = (55.6512, 37.6005);
    const FRIEND: (f64, f64) = (55.8001, 37.5002);

    #[test]
    fn most_frequent_night_place_wins() {
        let mut fixes = Vec::new();
        let d0 = jiff::civil::date(2025, 11, 1);
        for n in 0..10 {
            let d = d0.checked_add(jiff::Span::new().days(n)).unwrap();
            let pos = if n % 5 == 4 { FRIEND } else { FLAT };
            fixes.extend(night(d, pos));
        }
        // Daytime fixes elsewhere do not count.
        fixes.push(TrackFix::at(
            "2025-11-03T09:00:00Z".parse::<Timestamp>().unwrap(),
            55.75,
            37.62,
        ));
        fixes.sort_by_key(|f| f.at);
        let until = jiff::civil::date(2025, 11, 10);
        let home = estimate_home(&fixes, until, &moscow(), &HomeParams::default()).unwrap();
        assert_eq!(home.nights_observed, 10);
        assert_eq!(home.nights_at_home, 8);
        assert!((home.confidence - 0.8).abs() < 1e-9);
        assert!(great_circle_m(home.lat, home.lon, FLAT.0, FLAT.1) < 1.0);

        // Registered at the flat: nothing. Registered across the city: evidence.
        let p = ElsewhereParams::default();
        assert!(lives_elsewhere(&home, FLAT, &p).is_none());
        let e = lives_elsewhere(&home, FRIEND, &p).unwrap();
        assert!(e.distance_m > 15_000.0, "{}", e.distance_m);
        assert!((e.score - 0.8).abs() < 1e-9);
        assert!(e.explanation.contains("On 8 of 10 observed nights"));
    }

    #[test]
    fn only_the_last_n_nights_count() {
        let mut fixes = night(jiff::civil::date(2025, 10, 1), FRIEND);
        fixes.extend(night(jiff::civil::date(2025, 11, 9), FLAT));
        let home = estimate_home(
            &fixes,
            jiff::civil::date(2025, 11, 10),
            &moscow(),
            &HomeParams::default(),
        )
        .unwrap();
        assert_eq!((home.nights_observed, home.nights_at_home), (1, 1));
        // One observed night is too little to say someone lives elsewhere.
        assert!(lives_elsewhere(&home, FRIEND, &ElsewhereParams::default()).is_none());
        assert!(estimate_home(
            &fixes[..1],
            jiff::civil::date(2025, 11, 10),
            &moscow(),
            &HomeParams::default()
        )
        .is_none());
    }

    #[test]
    fn after_midnight_belongs_to_the_previous_evening() {
        let p = HomeParams::default();
        // 02:00 Moscow on the 11th is the night of the 10th.
        let f = TrackFix::at("2025-11-10T23:00:00Z".parse().unwrap(), 55.7, 37.6);
        assert_eq!(
            night_of(&f, &mut LocalClock::new(&moscow()), &p),
            Some(jiff::civil::date(2025, 11, 10))
        );
        // Noon is not night.
        let noon = TrackFix::at("2025-11-10T09:00:00Z".parse().unwrap(), 55.7, 37.6);
        assert_eq!(night_of(&noon, &mut LocalClock::new(&moscow()), &p), None);
    }
}
