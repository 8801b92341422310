//! Detection: explained evidence about where people live and whether their
//! reporting device is really with them.
//!
//! Everything here produces *evidence for a human*: each finding carries the
//! numbers it was computed from and a plain-language explanation, and turns
//! into a [`crate::signal`] for the alerts queue at most. Nothing here
//! deregisters, fines or includes anybody anywhere.
//!
//! The building blocks, each a pure function of a person's fixes (or of
//! per-person findings, for addresses):
//!
//! - [`features`]: what a person-day of fixes looks like (how far the person
//!   moved, how regular the fixes are, how many were flagged).
//! - [`home`]: the most frequent night-time location (trackintel's "FREQ"
//!   idea over night hours) with a confidence, and the "lives elsewhere"
//!   comparison with the registered place of stay.
//! - [`address`]: addresses where many registered people do not live.
//! - [`evasion`]: a phone left in one place, spoofed locations, a removed
//!   app, device churn.
//! - [`daily`]: the incremental once-a-day step per person that the
//!   scheduler runs over stored fixes.
//! - [`anomaly`]: a robust outlier score per person-day that ranks the
//!   review queue, with the features that contributed most.
//! - [`inject`]: synthetic evasions injected into copies of real traces, for
//!   the evaluation harness (`amina detect evaluate`), whose figures are in
//!   docs/detection.md.
//!
//! Days and nights are local civil days in a time zone the caller gives
//! (Europe/Moscow in production; the evaluation runs Beijing traces in
//! Asia/Shanghai).

pub mod address;
pub mod anomaly;
pub mod daily;
pub mod evasion;
pub mod features;
pub mod home;
pub mod inject;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::staypoints::great_circle_m;

/// One stored fix, as detection sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackFix {
    pub at: Timestamp,
    pub lat: f64,
    pub lon: f64,
    /// Reported accuracy radius, metres (None when the client does not say).
    pub accuracy_m: Option<f64>,
    /// The client reported a mock location provider.
    pub mock: bool,
    /// The server flagged the fix as an implausible jump when it arrived.
    pub implausible: bool,
    /// Battery level in percent, where the client reports it.
    pub battery: Option<u8>,
}

impl TrackFix {
    /// A fix with only time and position (e.g. from a trace file).
    pub fn at(at: Timestamp, lat: f64, lon: f64) -> TrackFix {
        TrackFix {
            at,
            lat,
            lon,
            accuracy_m: None,
            mock: false,
            implausible: false,
            battery: None,
        }
    }
}

/// Local civil time of instants in a time zone, fast for runs of instants
/// close together: the UTC offset found for a range's first instant is
/// reused for every instant up to the zone's next transition, and looked up
/// again after it. Detection converts every fix to local time (days,
/// nights, hours), so this matters at millions of fixes.
pub struct LocalClock<'a> {
    tz: &'a TimeZone,
    offset: jiff::tz::Offset,
    /// The cached offset holds for instants in [valid_from, valid_until).
    valid_from: Timestamp,
    valid_until: Timestamp,
}

impl<'a> LocalClock<'a> {
    pub fn new(tz: &'a TimeZone) -> LocalClock<'a> {
        LocalClock {
            tz,
            offset: jiff::tz::Offset::UTC,
            valid_from: Timestamp::MAX,
            valid_until: Timestamp::MIN,
        }
    }

    pub fn datetime(&mut self, at: Timestamp) -> jiff::civil::DateTime {
        if at < self.valid_from || at >= self.valid_until {
            self.offset = self.tz.to_offset(at);
            self.valid_from = self
                .tz
                .preceding(at + jiff::SignedDuration::from_nanos(1))
                .next()
                .map_or(Timestamp::MIN, |t| t.timestamp());
            self.valid_until = self
                .tz
                .following(at)
                .next()
                .map_or(Timestamp::MAX, |t| t.timestamp());
        }
        self.offset.to_datetime(at)
    }
}

/// Great-circle distance between two fixes, metres.
pub fn distance_m(a: &TrackFix, b: &TrackFix) -> f64 {
    great_circle_m(a.lat, a.lon, b.lat, b.lon)
}

/// Keep finite positions, sort by time (stable), drop exact repeats of the
/// same instant and position. Every detector starts from this, so out of
/// order input, duplicates and NaN are handled one way everywhere.
pub fn clean(fixes: &[TrackFix]) -> Vec<TrackFix> {
    let mut out: Vec<TrackFix> = fixes
        .iter()
        .filter(|f| {
            f.lat.is_finite() && f.lon.is_finite() && f.lat.abs() <= 90.0 && f.lon.abs() <= 180.0
        })
        .copied()
        .collect();
    out.sort_by_key(|f| f.at);
    out.dedup_by(|b, a| a.at == b.at && a.lat == b.lat && a.lon == b.lon);
    out
}

/// The mean position and radius of gyration (root mean square distance to
/// the mean position, metres) of some fixes; None when there are none.
///
/// The mean is taken on a local tangent plane around the first fix, which is
/// exact to well under a metre at the scale of a city.
pub fn gyration(fixes: &[TrackFix]) -> Option<(f64, f64, f64)> {
    let first = fixes.first()?;
    let k_lat = 111_195.0; // metres per degree of latitude on the 6371 km sphere
    let k_lon = k_lat * first.lat.to_radians().cos();
    let n = fixes.len() as f64;
    let (mut sx, mut sy) = (0.0, 0.0);
    for f in fixes {
        sx += (f.lon - first.lon) * k_lon;
        sy += (f.lat - first.lat) * k_lat;
    }
    let (mx, my) = (sx / n, sy / n);
    let mut ss = 0.0;
    for f in fixes {
        let dx = (f.lon - first.lon) * k_lon - mx;
        let dy = (f.lat - first.lat) * k_lat - my;
        ss += dx * dx + dy * dy;
    }
    let lat = first.lat + my / k_lat;
    let lon = if k_lon.abs() > f64::EPSILON {
        first.lon + mx / k_lon
    } else {
        first.lon
    };
    Some((lat, lon, (ss / n).sqrt()))
}

/// The mean position and radius of gyration of several groups of fixes,
/// from each group's (count, mean latitude, mean longitude, radius of
/// gyration) alone: by the parallel-axis theorem the mean square distance to
/// the overall mean is each group's own mean square plus the square of its
/// mean's distance from the overall mean, weighted by count. This is what
/// lets the daily job judge several days from per-day summaries without
/// reloading their fixes.
pub fn combine_gyration(parts: &[(usize, f64, f64, f64)]) -> Option<(f64, f64, f64)> {
    let total: usize = parts.iter().map(|p| p.0).sum();
    let &(_, lat0, lon0, _) = parts.iter().find(|p| p.0 > 0)?;
    let k_lat = 111_195.0;
    let k_lon = k_lat * lat0.to_radians().cos();
    let n = total as f64;
    let (mut mx, mut my) = (0.0, 0.0);
    for &(c, lat, lon, _) in parts {
        mx += c as f64 * (lon - lon0) * k_lon;
        my += c as f64 * (lat - lat0) * k_lat;
    }
    mx /= n;
    my /= n;
    let mut ss = 0.0;
    for &(c, lat, lon, rg) in parts {
        let dx = (lon - lon0) * k_lon - mx;
        let dy = (lat - lat0) * k_lat - my;
        ss += c as f64 * (rg * rg + dx * dx + dy * dy);
    }
    let lon = if k_lon.abs() > f64::EPSILON {
        lon0 + mx / k_lon
    } else {
        lon0
    };
    Some((lat0 + my / k_lat, lon, (ss / n).sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn clean_sorts_dedups_and_drops_non_finite() {
        let a = TrackFix::at(t("2025-01-01T10:00:00Z"), 55.0, 37.0);
        let b = TrackFix::at(t("2025-01-01T09:00:00Z"), 55.1, 37.0);
        let nan = TrackFix::at(t("2025-01-01T11:00:00Z"), f64::NAN, 37.0);
        let out = clean(&[a, b, a, nan]);
        assert_eq!(out, vec![b, a]);
    }

    #[test]
    fn local_clock_agrees_with_the_zone_across_transitions() {
        // Berlin changes offset twice a year; Moscow changed in 2011 and 2014.
        for zone in ["Europe/Berlin", "Europe/Moscow", "Asia/Shanghai"] {
            let tz = TimeZone::get(zone).unwrap();
            let mut clock = LocalClock::new(&tz);
            let mut at = t("2010-01-01T00:00:00Z");
            while at < t("2016-01-01T00:00:00Z") {
                assert_eq!(clock.datetime(at), tz.to_datetime(at), "{zone} {at}");
                at += jiff::SignedDuration::from_secs(3 * 3600 + 17);
            }
            // Backwards too.
            assert_eq!(
                clock.datetime(t("2011-03-27T01:30:00Z")),
                tz.to_datetime(t("2011-03-27T01:30:00Z"))
            );
        }
    }

    #[test]
    fn gyration_of_a_square() {
        // Four points 100 m north, south, east and west of a centre: every
        // one is 100 m from the mean, so the radius of gyration is 100 m.
        let c: (f64, f64) = (55.75, 37.62);
        let dlat = 100.0 / 111_195.0;
        let dlon = dlat / c.0.to_radians().cos();
        let at = t("2025-01-01T00:00:00Z");
        let pts = [
            TrackFix::at(at, c.0 + dlat, c.1),
            TrackFix::at(at, c.0 - dlat, c.1),
            TrackFix::at(at, c.0, c.1 + dlon),
            TrackFix::at(at, c.0, c.1 - dlon),
        ];
        let (lat, lon, rg) = gyration(&pts).unwrap();
        assert!((lat - c.0).abs() < 1e-9 && (lon - c.1).abs() < 1e-9);
        assert!((rg - 100.0).abs() < 0.5, "{rg}");
        assert!(gyration(&[]).is_none());
    }

    #[test]
    fn combined_gyration_equals_gyration_of_the_union() {
        let at = t("2025-01-01T00:00:00Z");
        let a: Vec<TrackFix> = (0..7)
            .map(|i| {
                TrackFix::at(
                    at,
                    55.75 + 1e-4 * f64::from(i),
                    37.62 - 3e-5 * f64::from(i * i),
                )
            })
            .collect();
        let b: Vec<TrackFix> = (0..5)
            .map(|i| TrackFix::at(at, 55.76 - 2e-4 * f64::from(i), 37.60 + 1e-4 * f64::from(i)))
            .collect();
        let part = |f: &[TrackFix]| {
            let (lat, lon, rg) = gyration(f).unwrap();
            (f.len(), lat, lon, rg)
        };
        let union: Vec<TrackFix> = a.iter().chain(&b).copied().collect();
        let (lat, lon, rg) = gyration(&union).unwrap();
        let (clat, clon, crg) = combine_gyration(&[part(&a), part(&b)]).unwrap();
        assert!((lat - clat).abs() < 1e-9 && (lon - clon).abs() < 1e-9);
        assert!((rg - crg).abs() < 0.01, "{rg} vs {crg}");
        assert!(combine_gyration(&[]).is_none());
    }
}
