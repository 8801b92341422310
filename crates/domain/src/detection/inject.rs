//! Synthetic evasions injected into copies of real traces, to measure the
//! detectors (the evaluation harness, `amina detect evaluate`).
//!
//! Each injection changes only the chosen days of a copy and keeps the
//! timestamps of the real fixes, so the reporting rhythm stays real and only
//! the behaviour under test changes. Randomness comes from a seeded
//! generator: the same seed gives the same copies.

use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::TrackFix;

/// A small deterministic generator (SplitMix64) for the injections.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Metres to degrees at a latitude: (per metre north, per metre east).
fn degrees_per_metre(lat: f64) -> (f64, f64) {
    let k = 1.0 / 111_195.0;
    (k, k / lat.to_radians().cos().max(1e-6))
}

fn on_days(f: &TrackFix, days: &[Date], tz: &TimeZone) -> bool {
    days.contains(&tz.to_datetime(f.at).date())
}

/// "Left at home": on `days`, every fix is moved to `home` plus GNSS-like
/// jitter (normal, `jitter_m` standard deviation per axis); the battery is
/// reported flat, as for a phone on a charger.
pub fn left_at_home(
    fixes: &[TrackFix],
    days: &[Date],
    home: (f64, f64),
    jitter_m: f64,
    tz: &TimeZone,
    rng: &mut Rng,
) -> Vec<TrackFix> {
    let (dlat, dlon) = degrees_per_metre(home.0);
    fixes
        .iter()
        .map(|f| {
            if !on_days(f, days, tz) {
                return *f;
            }
            TrackFix {
                lat: home.0 + rng.normal() * jitter_m * dlat,
                lon: home.1 + rng.normal() * jitter_m * dlon,
                battery: Some(100),
                ..*f
            }
        })
        .collect()
}

/// "Spoofed jumps": on `day`, `count` fixes chosen at random are teleported
/// 20–60 km away in a random direction (as GNSS spoofing or a location app
/// switched on and off would), the rest stay real.
pub fn spoofed_jumps(
    fixes: &[TrackFix],
    day: Date,
    count: usize,
    tz: &TimeZone,
    rng: &mut Rng,
) -> Vec<TrackFix> {
    let mut out = fixes.to_vec();
    let idx: Vec<usize> = out
        .iter()
        .enumerate()
        .filter(|(_, f)| on_days(f, &[day], tz))
        .map(|(i, _)| i)
        .collect();
    if idx.is_empty() {
        return out;
    }
    for _ in 0..count {
        let i = idx[(rng.next_u64() % idx.len() as u64) as usize];
        let dist = 20_000.0 + rng.unit() * 40_000.0;
        let bearing = rng.unit() * std::f64::consts::TAU;
        let (dlat, dlon) = degrees_per_metre(out[i].lat);
        out[i].lat += dist * bearing.cos() * dlat;
        out[i].lon += dist * bearing.sin() * dlon;
    }
    out
}

/// "Frozen position" (a mock location app): on `day`, every fix reports the
/// same position with the same accuracy.
pub fn frozen(fixes: &[TrackFix], day: Date, tz: &TimeZone) -> Vec<TrackFix> {
    let Some(first) = fixes.iter().find(|f| on_days(f, &[day], tz)).copied() else {
        return fixes.to_vec();
    };
    fixes
        .iter()
        .map(|f| {
            if on_days(f, &[day], tz) {
                TrackFix {
                    lat: first.lat,
                    lon: first.lon,
                    accuracy_m: Some(5.0),
                    ..*f
                }
            } else {
                *f
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::gyration;
    use jiff::Timestamp;

    #[test]
    fn injections_touch_only_their_days_and_are_deterministic() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let t0: Timestamp = "2008-10-23T02:00:00Z".parse().unwrap(); // 10:00 Beijing
        let fixes: Vec<TrackFix> = (0..96)
            .map(|i| {
                TrackFix::at(
                    t0 + jiff::SignedDuration::from_mins(30 * i),
                    39.98 + 0.001 * i as f64,
                    116.31,
                )
            })
            .collect();
        let d1 = jiff::civil::date(2008, 10, 23);
        let d2 = jiff::civil::date(2008, 10, 24);
        let home = (39.99, 116.32);
        let a = left_at_home(&fixes, &[d2], home, 8.0, &tz, &mut Rng::new(7));
        let b = left_at_home(&fixes, &[d2], home, 8.0, &tz, &mut Rng::new(7));
        assert_eq!(a, b);
        let (on, off): (Vec<_>, Vec<_>) = a
            .iter()
            .zip(&fixes)
            .partition(|(f, _)| tz.to_datetime(f.at).date() == d2);
        assert!(off.iter().all(|(x, y)| x == y));
        let moved: Vec<TrackFix> = on.iter().map(|(x, _)| **x).collect();
        let (_, _, rg) = gyration(&moved).unwrap();
        assert!(rg > 5.0 && rg < 20.0, "{rg}");

        let j = spoofed_jumps(&fixes, d1, 3, &tz, &mut Rng::new(1));
        let changed = j.iter().zip(&fixes).filter(|(x, y)| x != y).count();
        assert!((1..=3).contains(&changed));

        let f = frozen(&fixes, d1, &tz);
        let day1: Vec<&TrackFix> = f
            .iter()
            .filter(|x| tz.to_datetime(x.at).date() == d1)
            .collect();
        assert!(day1
            .iter()
            .all(|x| x.lat == day1[0].lat && x.accuracy_m == Some(5.0)));
    }
}
