//! An anomaly score per person-day, to rank the review queue.
//!
//! Method (documented in docs/detection.md): each feature of
//! [`DayFeatures::vector`] is put on a log scale where it is a count or a
//! distance (`ln(1 + x)`), then compared with a reference population of
//! person-days by a robust z-score, `(x − median) / (1.4826 · MAD)`, with a
//! floor on the scale so that a feature that is almost constant in the
//! population does not turn a small difference into a huge score. The
//! day's score is the root mean square of its three largest |z|, mapped to
//! 0..1 by `1 − exp(−s / 4)`, and the three features are shown with their
//! values and z. Medians and MADs resist the outliers the score is looking
//! for, need no training labels, and every number can be explained.
//!
//! The score only orders the queue; it never raises a signal by itself.

use serde::{Deserialize, Serialize};

use super::features::DayFeatures;

/// Features whose raw value is a count or a distance, put on a log scale.
const LOG_SCALED: [&str; 6] = [
    "fixes",
    "active_hours",
    "radius_of_gyration_m",
    "path_km",
    "impossible_jumps",
    "longest_identical_run",
];

/// Smallest scale used for a z-score (in transformed units).
const MIN_SCALE: f64 = 0.1;

/// How many of the largest |z| make the score.
const TOP: usize = 3;

fn transform(name: &str, x: f64) -> f64 {
    if LOG_SCALED.contains(&name) {
        x.max(0.0).ln_1p()
    } else {
        x
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Medians and scales of a reference population. Serializable, so that
/// the daily job can keep the model fitted on one day's person-days and
/// score the next day's against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyModel {
    /// (feature name, median, scale), in [`DayFeatures::vector`] order.
    pub features: Vec<(String, f64, f64)>,
    pub reference_days: usize,
}

/// One feature's contribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    pub feature: &'static str,
    pub value: f64,
    pub z: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnomalyScore {
    /// 0..1, higher is more unusual.
    pub score: f64,
    /// The largest contributions, largest first.
    pub top: Vec<Contribution>,
}

impl AnomalyModel {
    /// Fit medians and MADs on reference person-days (None when empty).
    pub fn fit(reference: &[DayFeatures]) -> Option<AnomalyModel> {
        let first = reference.first()?.vector();
        let mut features = Vec::new();
        for (i, (name, _)) in first.iter().enumerate() {
            let mut xs: Vec<f64> = reference
                .iter()
                .map(|d| transform(name, d.vector()[i].1))
                .collect();
            let m = median(&mut xs);
            let mut dev: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
            let scale = (1.4826 * median(&mut dev)).max(MIN_SCALE);
            features.push((name.to_string(), m, scale));
        }
        Some(AnomalyModel {
            features,
            reference_days: reference.len(),
        })
    }

    /// Whether the model was fitted on the features this build computes
    /// (a stored model from an older feature set is refitted, not misread).
    pub fn fits(&self, day: &DayFeatures) -> bool {
        let v = day.vector();
        v.len() == self.features.len() && v.iter().zip(&self.features).all(|(a, b)| a.0 == b.0)
    }

    pub fn score(&self, day: &DayFeatures) -> AnomalyScore {
        let mut contributions: Vec<Contribution> = day
            .vector()
            .iter()
            .zip(&self.features)
            .map(|((name, value), (_, m, scale))| Contribution {
                feature: name,
                value: *value,
                z: (transform(name, *value) - m) / scale,
            })
            .collect();
        contributions.sort_by(|a, b| b.z.abs().total_cmp(&a.z.abs()));
        contributions.truncate(TOP);
        let s = (contributions.iter().map(|c| c.z * c.z).sum::<f64>()
            / contributions.len().max(1) as f64)
            .sqrt();
        AnomalyScore {
            score: 1.0 - (-s / 4.0).exp(),
            top: contributions,
        }
    }
}

/// A uniform sample of at most `cap` person-days from a stream of unknown
/// length (reservoir sampling, Vitter's algorithm R), deterministic for a
/// given seed: what the daily job fits the next day's model on, without
/// holding a city's person-days in memory.
#[derive(Debug, Clone)]
pub struct Reservoir {
    cap: usize,
    seen: u64,
    state: u64,
    pub days: Vec<DayFeatures>,
}

impl Reservoir {
    pub fn new(cap: usize, seed: u64) -> Reservoir {
        Reservoir {
            cap: cap.max(1),
            seen: 0,
            state: seed,
            days: Vec::new(),
        }
    }

    /// splitmix64: small, fast, and good enough to pick sample slots.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn offer(&mut self, day: &DayFeatures) {
        self.seen += 1;
        if self.days.len() < self.cap {
            self.days.push(day.clone());
            return;
        }
        let slot = self.next() % self.seen;
        if let Some(d) = self.days.get_mut(slot as usize) {
            *d = day.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(fixes: usize, rg: f64, run: u32) -> DayFeatures {
        DayFeatures {
            date: jiff::civil::date(2025, 11, 24),
            fixes,
            active_hours: 12,
            mean_lat: 55.75,
            mean_lon: 37.62,
            radius_of_gyration_m: rg,
            path_km: rg / 100.0,
            impossible_jumps: 0,
            mock_fixes: 0,
            flagged_fixes: 0,
            longest_identical_run: run,
            repeated_position_share: 0.05,
            battery_range: None,
            charged: false,
        }
    }

    #[test]
    fn the_unusual_day_ranks_first_and_says_why() {
        let reference: Vec<DayFeatures> = (0..50)
            .map(|i| day(200 + i, 3000.0 + 100.0 * i as f64, 2 + (i % 3) as u32))
            .collect();
        let model = AnomalyModel::fit(&reference).unwrap();
        let normal = model.score(&day(220, 4000.0, 3));
        let frozen = model.score(&day(220, 4.0, 200));
        assert!(frozen.score > 0.9, "{frozen:?}");
        assert!(normal.score < 0.5, "{normal:?}");
        let names: Vec<&str> = frozen.top.iter().map(|c| c.feature).collect();
        assert!(names.contains(&"longest_identical_run"), "{names:?}");
        assert!(names.contains(&"radius_of_gyration_m"), "{names:?}");
        assert!(AnomalyModel::fit(&[]).is_none());
        // The model survives storage as JSON and scores the same.
        let json = serde_json::to_value(&model).unwrap();
        let back: AnomalyModel = serde_json::from_value(json).unwrap();
        assert!(back.fits(&reference[0]));
        assert_eq!(back.score(&day(220, 4.0, 200)), frozen);
    }

    #[test]
    fn reservoir_keeps_a_bounded_deterministic_sample() {
        let run = || {
            let mut r = Reservoir::new(10, 7);
            for i in 0..1000 {
                r.offer(&day(i, 100.0, 1));
            }
            r.days.iter().map(|d| d.fixes).collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a.len(), 10);
        assert_eq!(a, run());
        // Not just the first ten offered.
        assert!(a.iter().any(|&f| f >= 10), "{a:?}");
    }
}
