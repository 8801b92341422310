//! `amina bench geofence`: the geofence fast path against its reference.
//!
//! Why this benchmark: at Moscow scale the server classifies 10,000+ fixes
//! a second, and the bar is shapely 2 (GEOS, prepared, vectorised) at about
//! 255 ns per point on the same two polygons. The fast path is timed against
//! the straightforward reference implementation in the same process, on the
//! same points, so the ratio is meaningful on any machine.
//!
//! Points are generated deterministically from the seed: 80 % uniform over
//! the pilot area's bounding box grown by 20 % of its size on every side
//! (fixes anywhere in and around the region), 20 % within 1 km of the outer
//! boundary (the hard case: the fast path must look at real segments). The
//! accuracy radius is uniform in 5–100 m, what phones report outdoors.
//!
//! The reference takes ~100 µs a point, so each round times it on the first
//! `min(points, 2,000)` points only (a random sample of the same mix); the
//! two answers are compared on that sample as well.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use amina_domain::geofence::{Geofence, Zone};

/// Points per round given to the reference implementation at most.
const EXACT_SAMPLE: usize = 2_000;

/// splitmix64: a tiny, well-mixed deterministic generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

struct Fix {
    lat: f64,
    lon: f64,
    accuracy_m: f64,
    near_boundary: bool,
}

fn generate(fence: &Geofence, points: usize, seed: u64) -> Vec<Fix> {
    let segments = fence.outer_boundary_segments();
    let (mut lat0, mut lon0, mut lat1, mut lon1) = (90.0f64, 180.0f64, -90.0f64, -180.0f64);
    // Cumulative segment lengths (degrees, latitude-corrected), so that
    // boundary points are spread evenly along the boundary.
    let mut cumulative = Vec::with_capacity(segments.len());
    let mut total = 0.0;
    for s in segments {
        lon0 = lon0.min(s[0]).min(s[2]);
        lon1 = lon1.max(s[0]).max(s[2]);
        lat0 = lat0.min(s[1]).min(s[3]);
        lat1 = lat1.max(s[1]).max(s[3]);
        let coslat = s[1].to_radians().cos();
        total += ((s[2] - s[0]) * coslat).hypot(s[3] - s[1]);
        cumulative.push(total);
    }
    let (grow_lat, grow_lon) = ((lat1 - lat0) * 0.2, (lon1 - lon0) * 0.2);

    let mut rng = SplitMix64(seed);
    (0..points)
        .map(|_| {
            let near_boundary = rng.unit() < 0.2 && !segments.is_empty();
            let (lat, lon) = if near_boundary {
                let at = rng.range(0.0, total);
                let k = cumulative
                    .partition_point(|&c| c < at)
                    .min(segments.len() - 1);
                let s = segments[k];
                let t = rng.unit();
                let (lon, lat) = (s[0] + t * (s[2] - s[0]), s[1] + t * (s[3] - s[1]));
                // Uniform over the disc, hence over the 1 km band.
                let r = 1_000.0 * rng.unit().sqrt();
                let angle = rng.range(0.0, std::f64::consts::TAU);
                (
                    lat + r * angle.cos() / 111_320.0,
                    lon + r * angle.sin() / (111_320.0 * lat.to_radians().cos()),
                )
            } else {
                (
                    rng.range(lat0 - grow_lat, lat1 + grow_lat),
                    rng.range(lon0 - grow_lon, lon1 + grow_lon),
                )
            };
            Fix {
                lat,
                lon,
                accuracy_m: rng.range(5.0, 100.0),
                near_boundary,
            }
        })
        .collect()
}

/// (lat, lon, accuracy) triples, contiguous, as a batch API would take them.
type Batch = Vec<(f64, f64, f64)>;

fn batch<'a>(fixes: impl Iterator<Item = &'a Fix>) -> Batch {
    fixes.map(|f| (f.lat, f.lon, f.accuracy_m)).collect()
}

/// Nanoseconds per fix of one pass of `classify` over `fixes`.
fn time_pass(fixes: &[(f64, f64, f64)], classify: impl Fn(f64, f64, f64) -> Zone) -> f64 {
    if fixes.is_empty() {
        return 0.0;
    }
    let start = Instant::now();
    for &(lat, lon, accuracy_m) in fixes {
        black_box(classify(
            black_box(lat),
            black_box(lon),
            black_box(accuracy_m),
        ));
    }
    start.elapsed().as_nanos() as f64 / fixes.len() as f64
}

/// (median, minimum) of per-round timings. The minimum is the least
/// disturbed by other load on the machine; the median is the headline.
fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let median = match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    };
    (median, v.first().copied().unwrap_or(f64::NAN))
}

/// Runs the benchmark and returns a human-readable report.
pub fn run(points: usize, rounds: usize, seed: u64) -> String {
    let (points, rounds) = (points.max(1), rounds.max(1));
    let start = Instant::now();
    let fence = Geofence::embedded();
    let load = start.elapsed();

    let fixes = generate(&fence, points, seed);
    let all = batch(fixes.iter());
    let uniform = batch(fixes.iter().filter(|f| !f.near_boundary));
    let near = batch(fixes.iter().filter(|f| f.near_boundary));
    let sample = &all[..all.len().min(EXACT_SAMPLE)];

    let fast = |lat, lon, acc| fence.classify(lat, lon, acc);
    let exact = |lat, lon, acc| fence.classify_exact(lat, lon, acc);

    let (mut t_fast, mut t_uniform, mut t_near, mut t_exact) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        t_exact.push(time_pass(sample, exact));
        // The reference streams through all the polygons and evicts the
        // grid from the caches; a server runs only the fast path, so warm
        // it up again (untimed) before timing it.
        time_pass(&all, fast);
        t_fast.push(time_pass(&all, fast));
        t_uniform.push(time_pass(&uniform, fast));
        t_near.push(time_pass(&near, fast));
    }

    let uncertain = |set: &[(f64, f64, f64)]| {
        let n = set
            .iter()
            .filter(|&&(lat, lon, acc)| fence.classify(lat, lon, acc) == Zone::Uncertain)
            .count();
        100.0 * n as f64 / set.len().max(1) as f64
    };
    let disagreements = sample
        .iter()
        .filter(|&&(lat, lon, acc)| fast(lat, lon, acc) != exact(lat, lon, acc))
        .count();

    let (fast_all, exact_all) = (stats(t_fast), stats(t_exact));
    let row = |(median, min): (f64, f64)| format!("{median:>12.1} {min:>12.1}");
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "geofence benchmark (seed {seed}, {points} points, {rounds} rounds)"
    );
    let _ = writeln!(
        out,
        "  load (parse, union, grid): {:.1} ms",
        load.as_secs_f64() * 1e3
    );
    let _ = writeln!(out, "  {fence:?}");
    let _ = writeln!(
        out,
        "  points: {} uniform over the pilot bbox grown 20% per side, {} within 1 km of the outer boundary; accuracy 5-100 m",
        uniform.len(),
        near.len()
    );
    let _ = writeln!(
        out,
        "  ns/point over rounds:                   median          min"
    );
    let _ = writeln!(
        out,
        "    classify (fast), all points:     {}",
        row(fast_all)
    );
    let _ = writeln!(
        out,
        "      uniform points:                {}",
        row(stats(t_uniform))
    );
    let _ = writeln!(
        out,
        "      near-boundary points:          {}",
        row(stats(t_near))
    );
    let _ = writeln!(
        out,
        "    classify_exact, first {:>5} points: {}",
        sample.len(),
        row(exact_all)
    );
    let _ = writeln!(
        out,
        "  speed-up exact / fast (medians): {:.0}x",
        exact_all.0 / fast_all.0
    );
    let _ = writeln!(
        out,
        "  uncertain: {:.2}% of all, {:.2}% of uniform, {:.2}% of near-boundary",
        uncertain(&all),
        uncertain(&uniform),
        uncertain(&near)
    );
    let _ = writeln!(
        out,
        "  fast vs exact disagreements on the sample: {disagreements} of {}",
        sample.len()
    );
    out
}

/// Writes the points [`run`] generates for `points` and `seed` as CSV
/// (`lat,lon,accuracy_m,near_boundary`, shortest round-trip decimals), so
/// another implementation can classify exactly the same points
/// (`scripts/compare_shapely.py`). Returns how many were written.
pub fn export_points(points: usize, seed: u64, path: &std::path::Path) -> anyhow::Result<usize> {
    let fence = Geofence::embedded();
    let fixes = generate(&fence, points.max(1), seed);
    let mut out = String::with_capacity(fixes.len() * 48);
    out.push_str("lat,lon,accuracy_m,near_boundary\n");
    for f in &fixes {
        let _ = writeln!(
            out,
            "{:?},{:?},{:?},{}",
            f.lat, f.lon, f.accuracy_m, f.near_boundary as u8
        );
    }
    std::fs::write(path, out)?;
    Ok(fixes.len())
}

/// Reads points written by [`export_points`] (only the first three columns
/// are used), times `classify` over all of them `rounds` times, writes one
/// answer per point (the zone's slug, in input order) to `answers`, and
/// returns a one-line JSON report: points, median and minimum ns/point.
pub fn classify_file(
    input: &std::path::Path,
    answers: Option<&std::path::Path>,
    rounds: usize,
) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(input)?;
    let mut fixes: Batch = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let mut cols = line.split(',');
        let mut next = |name: &str| -> anyhow::Result<f64> {
            cols.next()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| anyhow::anyhow!("line {}: no valid {name}", i + 1))
        };
        fixes.push((next("lat")?, next("lon")?, next("accuracy_m")?));
    }
    anyhow::ensure!(!fixes.is_empty(), "{} holds no points", input.display());
    let fence = Geofence::embedded();
    let classify = |lat, lon, acc| fence.classify(lat, lon, acc);
    time_pass(&fixes, classify); // warm-up
    let times: Vec<f64> = (0..rounds.max(1))
        .map(|_| time_pass(&fixes, classify))
        .collect();
    let (median, min) = stats(times);
    if let Some(path) = answers {
        let mut out = String::with_capacity(fixes.len() * 10);
        for &(lat, lon, acc) in &fixes {
            out.push_str(fence.slug(fence.classify(lat, lon, acc)));
            out.push('\n');
        }
        std::fs::write(path, out)?;
    }
    Ok(serde_json::json!({
        "points": fixes.len(),
        "rounds": rounds.max(1),
        "ns_per_point_median": median,
        "ns_per_point_min": min,
    })
    .to_string())
}
