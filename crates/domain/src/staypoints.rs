//! Stay points: where a person stayed, from their raw fixes.
//!
//! The definition is the classic one of Li et al. (2008, "Mining user
//! similarity based on location history"), with the exact semantics of
//! trackintel 1.4.x `generate_staypoints(method="sliding")` at its defaults,
//! because issue 7 asks that our stays agree with trackintel stay by stay and
//! because later signals (home location, fictitious addresses) are built on
//! stays and must be reproducible with a public reference tool.
//!
//! # Definition
//!
//! For one person, with fixes ordered by time, an anchor fix `start` is held
//! while later fixes stay within `dist_m` of it (great-circle distance to the
//! anchor, not to the previous fix). At the first fix `exit` that is
//! `dist_m` or more away from the anchor:
//!
//! - if `exit.at - start.at >= time` a stay is recorded: it starts at the
//!   anchor's time and finishes at the **exit fix's** time (the person is
//!   assumed to have stayed until the first fix seen outside); its centroid
//!   and fix count come from the fixes `start..exit` only (the exit fix is
//!   not part of the stay);
//! - either way the exit fix becomes the new anchor.
//!
//! A gap: when two consecutive fixes are more than `gap` apart in time, the
//! later one becomes the new anchor and whatever was being accumulated is
//! dropped, even if it was long enough. A stay therefore never spans a
//! tracking gap longer than `gap`; a phone that is silent for hours is not
//! taken as evidence that the person stayed put.
//!
//! The last stay: the algorithm only knows a stay has ended when a fix is
//! seen outside it, so fixes still inside the anchor's circle at the end of
//! the trace form no stay (trackintel's `include_last=False`, its default).
//! [`Params::include_last`] turns on trackintel's `include_last=True`
//! behaviour: the remainder becomes a stay (finishing at the last fix's time)
//! when the last fix is at least `time` after the anchor.
//!
//! # Parameters and defaults
//!
//! `dist_m = 100`, `time = 5 min`, `gap = 15 min`, `include_last = false`:
//! trackintel's defaults. The gap threshold of 15 min is kept because it is
//! what trackintel documents as the sensible value for phone data (larger
//! values let signal-loss gaps count as time spent at a place) and because
//! agreeing with the reference on the defaults is the point. `gap = None`
//! disables gap splitting (trackintel with `gap_threshold=inf`).
//!
//! # Distance and centroid, as trackintel measures them
//!
//! Distance is the spherical law of cosines on a sphere of radius
//! 6,371,000 m, written in the form `r·acos(cos Δφ − cos φ1·cos φ2·(1 − cos Δλ))`
//! — algebraically the haversine distance, and the exact floating-point form
//! trackintel's serial `point_haversine_dist` uses, so that a fix at exactly
//! the threshold falls on the same side in both implementations.
//!
//! The centroid is computed over the **distinct** positions of the stay's
//! fixes (trackintel takes the union of the points, which merges identical
//! positions): latitude is the arithmetic mean, longitude the circular mean
//! `atan2(mean sin λ, mean cos λ)` so that a stay across the antimeridian is
//! not put on the other side of the Earth. `n_fixes` counts all fixes of the
//! stay, including those at repeated positions.
//!
//! # Bad input, handled deterministically
//!
//! - Fixes with a non-finite latitude or longitude (NaN, ±∞) are dropped
//!   before anything else. (trackintel would carry them along and compare
//!   NaN distances as "not far"; dropping is the sane, documented choice.)
//!   Finite values outside ±90/±180 are the caller's business: the CLI
//!   refuses them with the line number.
//! - Order: fixes are sorted by time, ties keep their input order (a stable
//!   sort, as trackintel's). Out-of-order input is therefore fine.
//! - Exact duplicates (same instant and same coordinates) are dropped,
//!   keeping the first: trackintel's `exclude_duplicate_pfs=True` default,
//!   for input that carries only these columns. Two fixes at the same
//!   instant with different coordinates are both kept, in input order.
//! - No fixes or one fix: no stay (with `include_last` and `time = 0` a
//!   single fix is a zero-length stay, as in trackintel).
//! - Huge gaps split stays (above). Nothing here panics.
//!
//! # Cost
//!
//! One pass after an O(n) sortedness check (O(n log n) only for unsorted
//! input); per fix two cosines and an arc cosine; per stay a hash set over its
//! distinct positions. Memory: one copy of the cleaned fixes.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use jiff::{SignedDuration, Timestamp};

/// Mean Earth radius used by trackintel's haversine distance, metres.
pub const EARTH_RADIUS_M: f64 = 6_371_000.0;

/// One position fix of one person.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    pub at: Timestamp,
    /// WGS 84 degrees.
    pub lat: f64,
    /// WGS 84 degrees.
    pub lon: f64,
}

/// A detected stay.
#[derive(Debug, Clone, PartialEq)]
pub struct StayPoint {
    pub user_id: String,
    /// Time of the stay's first fix.
    pub started_at: Timestamp,
    /// Time of the first fix outside the stay (or, for a last stay taken with
    /// `include_last`, of the last fix).
    pub finished_at: Timestamp,
    /// Centroid latitude (mean over the distinct positions), degrees.
    pub lat: f64,
    /// Centroid longitude (circular mean over the distinct positions), degrees.
    pub lon: f64,
    /// Fixes in the stay (the exit fix is not one of them).
    pub n_fixes: usize,
}

/// Thresholds of the sliding method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Distance from the anchor fix at which a person has left, metres.
    pub dist_m: f64,
    /// Minimum duration of a stay (anchor to exit fix).
    pub time: SignedDuration,
    /// Consecutive fixes further apart than this split; `None`: never.
    pub gap: Option<SignedDuration>,
    /// Keep the trailing stay that has no exit fix (trackintel `include_last`).
    pub include_last: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            dist_m: 100.0,
            time: SignedDuration::from_mins(5),
            gap: Some(SignedDuration::from_mins(15)),
            include_last: false,
        }
    }
}

/// A threshold that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("distance threshold must be a finite number of metres >= 0, got {0}")]
    Distance(f64),
    #[error("time threshold must be a finite number of minutes >= 0, got {0}")]
    Time(f64),
    #[error("gap threshold must be a number of minutes > 0 (or inf), got {0}")]
    Gap(f64),
}

/// Minutes as trackintel reads them (a float number of minutes),
/// rounded to the nanosecond.
fn minutes(m: f64) -> Option<SignedDuration> {
    let nanos = (m * 60e9).round();
    // Bounded well inside i64 nanoseconds (~292 years).
    if nanos.is_finite() && nanos.abs() < 9.0e18 {
        Some(SignedDuration::from_nanos(nanos as i64))
    } else {
        None
    }
}

impl Params {
    /// Thresholds from the units people type: metres and minutes. A gap of
    /// `f64::INFINITY` (or `None`) disables gap splitting.
    pub fn from_units(
        dist_m: f64,
        time_min: f64,
        gap_min: Option<f64>,
    ) -> Result<Self, ParamError> {
        if !dist_m.is_finite() || dist_m < 0.0 {
            return Err(ParamError::Distance(dist_m));
        }
        if !time_min.is_finite() || time_min < 0.0 {
            return Err(ParamError::Time(time_min));
        }
        let time = minutes(time_min).ok_or(ParamError::Time(time_min))?;
        let gap = match gap_min {
            None => None,
            Some(g) if g == f64::INFINITY => None,
            Some(g) if g.is_nan() || g <= 0.0 => return Err(ParamError::Gap(g)),
            Some(g) => Some(minutes(g).ok_or(ParamError::Gap(g))?),
        };
        Ok(Params {
            dist_m,
            time,
            gap,
            include_last: false,
        })
    }
}

/// A fix prepared for the loop: radians and the cosine of the latitude are
/// computed once per fix instead of once per comparison.
#[derive(Clone, Copy)]
struct Prepared {
    at: Timestamp,
    lat: f64,
    lon: f64,
    lat_rad: f64,
    lon_rad: f64,
    cos_lat: f64,
}

impl Prepared {
    fn new(f: &Fix) -> Self {
        let lat_rad = f.lat.to_radians();
        Prepared {
            at: f.at,
            lat: f.lat,
            lon: f.lon,
            lat_rad,
            lon_rad: f.lon.to_radians(),
            cos_lat: lat_rad.cos(),
        }
    }
}

/// Great-circle distance in metres between two prepared fixes (see the
/// module docs for why this form).
fn distance_m(a: &Prepared, b: &Prepared) -> f64 {
    let cos_lat_d = (a.lat_rad - b.lat_rad).cos();
    let cos_lon_d = (a.lon_rad - b.lon_rad).cos();
    EARTH_RADIUS_M * (cos_lat_d - a.cos_lat * b.cos_lat * (1.0 - cos_lon_d)).acos()
}

/// Great-circle distance in metres between two WGS 84 positions, as used by
/// the detector.
pub fn great_circle_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let p = |lat: f64, lon: f64| {
        Prepared::new(&Fix {
            at: Timestamp::UNIX_EPOCH,
            lat,
            lon,
        })
    };
    distance_m(&p(lat1, lon1), &p(lat2, lon2))
}

/// A cheap hasher for the bit patterns of a coordinate pair (the keys are
/// already well spread; SipHash's DoS resistance buys nothing here).
#[derive(Default)]
struct BitsHasher(u64);

impl Hasher for BitsHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type PositionSet = HashSet<(u64, u64), BuildHasherDefault<BitsHasher>>;

/// Bit pattern of a coordinate for equality: `-0.0` and `0.0` are one
/// position (NaN never gets here).
fn key(v: f64) -> u64 {
    if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

/// Sorted (stable, by time), finite, exact duplicates removed.
fn clean(fixes: &[Fix]) -> Vec<Prepared> {
    let finite = |f: &&Fix| f.lat.is_finite() && f.lon.is_finite();
    let sorted = fixes.windows(2).all(|w| w[0].at <= w[1].at);
    let ordered: Vec<&Fix> = if sorted {
        fixes.iter().filter(finite).collect()
    } else {
        let mut v: Vec<&Fix> = fixes.iter().filter(finite).collect();
        v.sort_by_key(|f| f.at); // stable: ties keep input order
        v
    };
    let mut out: Vec<Prepared> = Vec::with_capacity(ordered.len());
    // Index in `out` where the current run of equal instants begins.
    let mut run_start = 0;
    let mut run_set = PositionSet::default();
    for f in ordered {
        match out.last() {
            Some(last) if last.at == f.at => {
                let k = (key(f.lat), key(f.lon));
                let run = &out[run_start..];
                let dup = if run.len() <= 16 {
                    run.iter().any(|p| (key(p.lat), key(p.lon)) == k)
                } else {
                    if run_set.is_empty() {
                        run_set.extend(run.iter().map(|p| (key(p.lat), key(p.lon))));
                    }
                    !run_set.insert(k)
                };
                if dup {
                    continue;
                }
            }
            _ => {
                run_start = out.len();
                run_set.clear();
            }
        }
        out.push(Prepared::new(f));
    }
    out
}

/// Builds the stay of `fixes[start..end]`, finishing at `finished_at`.
fn stay(
    user_id: &str,
    fixes: &[Prepared],
    start: usize,
    end: usize,
    finished_at: Timestamp,
    seen: &mut PositionSet,
) -> StayPoint {
    seen.clear();
    let (mut sum_lat, mut sum_sin, mut sum_cos, mut n) = (0.0, 0.0, 0.0, 0usize);
    for p in &fixes[start..end] {
        if seen.insert((key(p.lat), key(p.lon))) {
            sum_lat += p.lat;
            sum_sin += p.lon_rad.sin();
            sum_cos += p.lon_rad.cos();
            n += 1;
        }
    }
    let n_f = n as f64;
    StayPoint {
        user_id: user_id.to_owned(),
        started_at: fixes[start].at,
        finished_at,
        lat: sum_lat / n_f,
        lon: (sum_sin / n_f).atan2(sum_cos / n_f).to_degrees(),
        n_fixes: end - start,
    }
}

/// Stays of one person, in start order. `fixes` may be in any order and may
/// contain NaN coordinates and duplicates (see the module docs).
pub fn detect_user(user_id: &str, fixes: &[Fix], params: &Params) -> Vec<StayPoint> {
    let fixes = clean(fixes);
    let mut stays = Vec::new();
    if fixes.is_empty() {
        return stays;
    }
    let mut seen = PositionSet::default();
    let mut start = 0;
    let mut curr = 0;
    for i in 1..fixes.len() {
        curr = i;
        if let Some(gap) = params.gap {
            if fixes[i].at.duration_since(fixes[i - 1].at) > gap {
                start = i;
                continue;
            }
        }
        if distance_m(&fixes[start], &fixes[i]) >= params.dist_m {
            if fixes[i].at.duration_since(fixes[start].at) >= params.time {
                stays.push(stay(user_id, &fixes, start, i, fixes[i].at, &mut seen));
            }
            start = i;
        }
    }
    if params.include_last && fixes[curr].at.duration_since(fixes[start].at) >= params.time {
        stays.push(stay(
            user_id,
            &fixes,
            start,
            fixes.len(),
            fixes[curr].at,
            &mut seen,
        ));
    }
    stays
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_haversine() {
        // Zurich example from trackintel's docs: 18749.056277719905 m.
        let d = great_circle_m(47.3, 8.5, 47.2, 8.7);
        assert!((d - 18_749.056_277_719_9).abs() < 1e-6, "{d}");
        assert_eq!(great_circle_m(10.0, 10.0, 10.0, 10.0), 0.0);
    }

    #[test]
    fn params_are_checked() {
        assert!(Params::from_units(-1.0, 5.0, Some(15.0)).is_err());
        assert!(Params::from_units(100.0, f64::NAN, Some(15.0)).is_err());
        assert!(Params::from_units(100.0, 5.0, Some(0.0)).is_err());
        assert_eq!(
            Params::from_units(100.0, 5.0, Some(f64::INFINITY))
                .unwrap()
                .gap,
            None
        );
        assert_eq!(
            Params::from_units(100.0, 5.0, Some(15.0)).unwrap(),
            Params::default()
        );
    }
}
