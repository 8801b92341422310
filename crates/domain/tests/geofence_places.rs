//! The geofence against real places and against its own reference.
//!
//! Places: coordinates of city centres, airports' terminal areas and
//! landmarks, each chosen at least 1 km from any boundary in the shipped
//! data (so that the expected answer does not depend on which OSM snapshot
//! is used), and classified with a 10 m accuracy. Boundary cases are built
//! from the boundary data itself, not from guessed coordinates.
//!
//! Agreement: the fast path (`classify`) must equal the reference
//! (`classify_exact`) everywhere; checked on random fixes spread over the
//! whole area and concentrated at the outer boundary, at the Moscow /
//! Moscow Oblast border, exactly on vertices and in the seams.

use std::collections::HashSet;
use std::sync::OnceLock;

use amina_domain::geofence::{Geofence, RegionIndex, Zone, EMBEDDED_GEOJSON};
use geo::{Contains, Destination, Geodesic, MultiPolygon, Point, Polygon};

fn fence() -> &'static Geofence {
    static FENCE: OnceLock<Geofence> = OnceLock::new();
    FENCE.get_or_init(Geofence::embedded)
}

const MOSCOW: Zone = Zone::Inside(RegionIndex(0));
const OBLAST: Zone = Zone::Inside(RegionIndex(1));

/// Classifies with both implementations, checks they agree, returns the slug.
fn slug_at(lat: f64, lon: f64, accuracy_m: f64) -> &'static str {
    let g = fence();
    let fast = g.classify(lat, lon, accuracy_m);
    let exact = g.classify_exact(lat, lon, accuracy_m);
    assert_eq!(
        fast, exact,
        "fast path and reference differ at {lat}, {lon} ±{accuracy_m} m"
    );
    g.slug(fast)
}

macro_rules! places {
    ($($name:ident: $lat:expr, $lon:expr => $slug:expr;)*) => {
        $(
            #[test]
            fn $name() {
                assert_eq!(slug_at($lat, $lon, 10.0), $slug);
            }
        )*
    };
}

places! {
    // City of Moscow, old and new.
    kremlin_red_square: 55.7539, 37.6208 => "moscow";
    moscow_state_university: 55.7030, 37.5307 => "moscow";
    // Zelenograd is an exclave of Moscow inside the oblast.
    zelenograd_exclave: 55.9825, 37.1814 => "moscow";
    // New Moscow (since July 2012): any older boundary says "oblast" here.
    troitsk_new_moscow: 55.4850, 37.3050 => "moscow";
    kommunarka_new_moscow: 55.5696, 37.4890 => "moscow";
    vnukovo_airport_new_moscow: 55.5915, 37.2615 => "moscow";
    shcherbinka_new_moscow: 55.4997, 37.5597 => "moscow";
    moskovsky_new_moscow: 55.5994, 37.3542 => "moscow";
    // The migration centre is by Sakharovo, Voronovskoye settlement.
    sakharovo_migration_centre_area: 55.335, 37.165 => "moscow";
    // Moscow Oblast next to the city.
    khimki: 55.8970, 37.4297 => "moscow_oblast";
    krasnogorsk: 55.8204, 37.3302 => "moscow_oblast";
    balashikha: 55.7963, 37.9382 => "moscow_oblast";
    podolsk: 55.4242, 37.5547 => "moscow_oblast";
    mytishchi: 55.9105, 37.7363 => "moscow_oblast";
    lyubertsy: 55.6783, 37.8932 => "moscow_oblast";
    odintsovo: 55.6789, 37.2636 => "moscow_oblast";
    korolyov: 55.9162, 37.8545 => "moscow_oblast";
    zhukovsky: 55.5972, 38.1199 => "moscow_oblast";
    // Sheremetyevo is in Khimki urban okrug; Moscow's Molzhaninovsky
    // district is 2-3 km away from both terminal areas.
    sheremetyevo_terminals_def: 55.9729, 37.4146 => "moscow_oblast";
    sheremetyevo_terminals_bc: 55.9823, 37.4120 => "moscow_oblast";
    domodedovo_airport: 55.4088, 37.9063 => "moscow_oblast";
    // The rest of the oblast, up to its edges.
    kolomna: 55.0794, 38.7783 => "moscow_oblast";
    sergiev_posad: 56.3153, 38.1358 => "moscow_oblast";
    dubna: 56.7320, 37.1665 => "moscow_oblast";
    serpukhov: 54.9158, 37.4111 => "moscow_oblast";
    mozhaysk: 55.5069, 36.0170 => "moscow_oblast";
    volokolamsk: 56.0357, 35.9582 => "moscow_oblast";
    shatura: 55.5777, 39.5446 => "moscow_oblast";
    klin: 56.3317, 36.7296 => "moscow_oblast";
    dmitrov: 56.3442, 37.5204 => "moscow_oblast";
    naro_fominsk: 55.3859, 36.7337 => "moscow_oblast";
    chekhov: 55.1425, 37.4545 => "moscow_oblast";
    noginsk: 55.8686, 38.4438 => "moscow_oblast";
    // Neighbouring oblasts and farther away.
    obninsk_kaluga_oblast: 55.0968, 36.6101 => "outside";
    tver: 56.8587, 35.9176 => "outside";
    tula: 54.1931, 37.6173 => "outside";
    ryazan: 54.6292, 39.7364 => "outside";
    kaluga: 54.5138, 36.2612 => "outside";
    vladimir: 56.1290, 40.4066 => "outside";
    yaroslavl: 57.6261, 39.8845 => "outside";
    smolensk: 54.7826, 32.0453 => "outside";
    saint_petersburg: 59.9386, 30.3141 => "outside";
    tashkent: 41.2995, 69.2401 => "outside";
}

#[test]
fn embedded_regions_and_slugs_round_trip() {
    let g = fence();
    let codes: Vec<&str> = g.regions().iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["RU-MOW", "RU-MOS"]);
    assert_eq!(g.regions()[1].name_en, "Moscow Oblast");
    assert_eq!(g.regions()[0].name_ru, "Москва");
    for zone in [MOSCOW, OBLAST, Zone::Outside, Zone::Uncertain] {
        assert_eq!(g.zone_from_slug(g.slug(zone)), Some(zone));
    }
    assert_eq!(g.slug(MOSCOW), "moscow");
    assert_eq!(g.slug(OBLAST), "moscow_oblast");
    assert_eq!(g.zone_from_slug("tver"), None);
    // An index this geofence never hands out says nothing about the fix.
    assert_eq!(g.slug(Zone::Inside(RegionIndex(7))), "uncertain");
}

// ---------------------------------------------------------------------------
// Boundary data, read independently of the crate under test.

struct Shapes {
    mow: MultiPolygon<f64>,
    mos: MultiPolygon<f64>,
}

fn shapes() -> &'static Shapes {
    static SHAPES: OnceLock<Shapes> = OnceLock::new();
    SHAPES.get_or_init(|| {
        let v: serde_json::Value = serde_json::from_str(EMBEDDED_GEOJSON).expect("valid JSON");
        let feature = |code: &str| {
            let f = v["features"]
                .as_array()
                .expect("features")
                .iter()
                .find(|f| f["properties"]["code"] == code)
                .expect("feature present");
            let polys = f["geometry"]["coordinates"]
                .as_array()
                .expect("MultiPolygon coordinates")
                .iter()
                .map(|p| {
                    let mut rings: Vec<geo::LineString<f64>> = p
                        .as_array()
                        .expect("rings")
                        .iter()
                        .map(|r| {
                            r.as_array()
                                .expect("positions")
                                .iter()
                                .map(|c| (c[0].as_f64().expect("lon"), c[1].as_f64().expect("lat")))
                                .collect::<Vec<_>>()
                                .into()
                        })
                        .collect();
                    let exterior = rings.remove(0);
                    Polygon::new(exterior, rings)
                })
                .collect();
            MultiPolygon(polys)
        };
        Shapes {
            mow: feature("RU-MOW"),
            mos: feature("RU-MOS"),
        }
    })
}

fn vertices(mp: &MultiPolygon<f64>) -> impl Iterator<Item = (f64, f64)> + '_ {
    mp.0.iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|r| r.0.iter().map(|c| (c.y, c.x)))
}

/// The point `m` metres from (lat, lon) on `bearing` degrees (geodesic).
fn offset(lat: f64, lon: f64, bearing: f64, m: f64) -> (f64, f64) {
    let p = Geodesic.destination(Point::new(lon, lat), bearing, m);
    (p.y(), p.x())
}

fn in_shape(mp: &MultiPolygon<f64>, lat: f64, lon: f64) -> bool {
    mp.contains(&Point::new(lon, lat))
}

/// The northernmost vertex of the oblast: on the outer boundary (Tver and
/// Yaroslavl oblasts lie north of it), with the whole pilot to its south.
fn northernmost_oblast_vertex() -> (f64, f64) {
    vertices(&shapes().mos)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .expect("the oblast has vertices")
}

/// The point 200 m from an outer-boundary vertex, among 24 directions, that
/// lies in `shape` and farthest from the outer boundary.
fn step_inside(vertex: (f64, f64), shape: &MultiPolygon<f64>) -> (f64, f64) {
    let g = fence();
    (0..24)
        .map(|k| offset(vertex.0, vertex.1, k as f64 * 15.0, 200.0))
        .filter(|&(lat, lon)| in_shape(shape, lat, lon))
        .max_by(|a, b| {
            let d = |p: &(f64, f64)| g.distance_to_outer_boundary_m(p.0, p.1);
            d(a).total_cmp(&d(b))
        })
        .expect("some direction leads inside")
}

#[test]
fn oblast_point_200_m_inside_outer_boundary() {
    let vertex = northernmost_oblast_vertex();
    assert!(fence().distance_to_outer_boundary_m(vertex.0, vertex.1) < 0.01);
    let (lat, lon) = step_inside(vertex, &shapes().mos);
    let d = fence().distance_to_outer_boundary_m(lat, lon);
    assert!(d > 100.0 && d <= 200.5, "distance {d}");
    assert_eq!(slug_at(lat, lon, 500.0), "uncertain");
    assert_eq!(slug_at(lat, lon, 50.0), "moscow_oblast");
}

#[test]
fn moscow_point_200_m_inside_kaluga_border() {
    // New Moscow's vertices on the outer boundary: its stretch of the
    // Kaluga Oblast border. Take the southernmost and step 200 m inwards.
    let g = fence();
    let mut southward: Vec<(f64, f64)> = vertices(&shapes().mow).collect();
    southward.sort_by(|a, b| a.0.total_cmp(&b.0));
    let vertex = southward
        .into_iter()
        .find(|&(lat, lon)| g.distance_to_outer_boundary_m(lat, lon) < 0.01)
        .expect("Moscow touches the outer boundary (New Moscow at the Kaluga border)");
    let (lat, lon) = step_inside(vertex, &shapes().mow);
    let d = g.distance_to_outer_boundary_m(lat, lon);
    assert!(d > 100.0 && d <= 200.5, "distance {d}");
    assert_eq!(slug_at(lat, lon, 500.0), "uncertain");
    assert_eq!(slug_at(lat, lon, 50.0), "moscow");
}

#[test]
fn point_300_m_outside_pilot_area() {
    let (vlat, vlon) = northernmost_oblast_vertex();
    let (lat, lon) = offset(vlat, vlon, 0.0, 300.0);
    assert!(!in_shape(&shapes().mos, lat, lon) && !in_shape(&shapes().mow, lat, lon));
    // The circle reaches the pilot area: cannot tell, never "outside".
    assert_eq!(slug_at(lat, lon, 1_000.0), "uncertain");
    assert_eq!(slug_at(lat, lon, 100.0), "outside");
}

/// A vertex both regions share on MKAD by Khimki (Leningradskoye shosse).
fn shared_vertex_near_khimki() -> (f64, f64) {
    let mos: HashSet<(u64, u64)> = vertices(&shapes().mos)
        .map(|(a, b)| (a.to_bits(), b.to_bits()))
        .collect();
    vertices(&shapes().mow)
        .filter(|(a, b)| mos.contains(&(a.to_bits(), b.to_bits())))
        .min_by(|a, b| {
            let d = |p: &(f64, f64)| (p.0 - 55.888).hypot((p.1 - 37.437) * 0.56);
            d(a).total_cmp(&d(b))
        })
        .expect("the regions share vertices")
}

#[test]
fn internal_border_with_large_accuracy_is_a_region() {
    let (vlat, vlon) = shared_vertex_near_khimki();
    assert!(
        (vlat - 55.888).abs() < 0.02 && (vlon - 37.437).abs() < 0.03,
        "{vlat} {vlon}"
    );
    // Exactly on the border: in both, the first listed wins.
    assert_eq!(slug_at(vlat, vlon, 2_000.0), "moscow");
    // 30 m to either side, a 2 km circle crosses the border but not the
    // outer boundary: the region of the centre.
    let mut seen = HashSet::new();
    for k in 0..8 {
        let (lat, lon) = offset(vlat, vlon, k as f64 * 45.0, 30.0);
        let expected = if in_shape(&shapes().mow, lat, lon) {
            "moscow"
        } else {
            assert!(in_shape(&shapes().mos, lat, lon));
            "moscow_oblast"
        };
        assert_eq!(slug_at(lat, lon, 2_000.0), expected);
        seen.insert(expected);
    }
    assert_eq!(seen.len(), 2, "the probes fall on both sides");
}

#[test]
fn seam_between_the_two_files_is_in_the_pilot() {
    // The largest sliver that is in neither polygon (0.28 km², about 150 m
    // wide); it is land of one of the two pilot subjects.
    let (lat, lon) = (55.51453, 36.93265);
    assert!(!in_shape(&shapes().mow, lat, lon) && !in_shape(&shapes().mos, lat, lon));
    assert_eq!(slug_at(lat, lon, 10.0), "moscow_oblast");
    assert_eq!(slug_at(lat, lon, 5_000.0), "moscow_oblast");
}

#[test]
fn degenerate_inputs_do_not_panic_and_agree() {
    let g = fence();
    let cases = [
        (f64::NAN, 37.6, 10.0),
        (55.75, f64::INFINITY, 10.0),
        (55.75, 37.6, f64::NAN),
        (55.75, 37.6, -1.0),
        (55.75, 37.6, 0.0),
        (55.75, 37.6, f64::INFINITY),
        (55.75, 37.6, 1e300),
        (90.0, 0.0, 0.0),
        (-90.0, 180.0, 10.0),
        (0.0, -180.0, 10.0),
        (95.0, 200.0, 10.0),
    ];
    for (lat, lon, acc) in cases {
        assert_eq!(
            g.classify(lat, lon, acc),
            g.classify_exact(lat, lon, acc),
            "{lat} {lon} {acc}"
        );
    }
    assert_eq!(g.classify(f64::NAN, 37.6, 10.0), Zone::Uncertain);
    assert_eq!(g.classify(55.75, 37.6, f64::INFINITY), Zone::Uncertain);
    assert_eq!(g.classify(55.7539, 37.6208, 0.0), MOSCOW);
    assert!(g.distance_to_outer_boundary_m(f64::NAN, 0.0).is_nan());
}

// ---------------------------------------------------------------------------
// Fast path against the reference.

/// splitmix64: a tiny, well-mixed deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Log-uniform accuracy from 1 m to 5 km, sometimes exactly 0.
    fn accuracy(&mut self) -> f64 {
        if self.unit() < 0.02 {
            0.0
        } else {
            10f64.powf(self.range(0.0, 3.7))
        }
    }
}

/// Sample sizes are for release builds (`cargo test --release`, seconds);
/// a debug build runs the unoptimised reference ~20 times slower, so it
/// checks an eighth of each sample.
fn sample(release: usize) -> usize {
    if cfg!(debug_assertions) {
        release / 8
    } else {
        release
    }
}

/// A sampling stride: `release` in release builds, 8 times sparser in debug.
fn step(release: usize) -> usize {
    if cfg!(debug_assertions) {
        release * 8
    } else {
        release
    }
}

fn assert_agree(points: impl IntoIterator<Item = (f64, f64, f64)>) -> usize {
    let g = fence();
    let mut n = 0;
    for (lat, lon, acc) in points {
        assert_eq!(
            g.classify(lat, lon, acc),
            g.classify_exact(lat, lon, acc),
            "fast path and reference differ at {lat:.9}, {lon:.9} ±{acc} m"
        );
        n += 1;
    }
    n
}

fn pilot_bbox() -> (f64, f64, f64, f64) {
    vertices(&shapes().mos).chain(vertices(&shapes().mow)).fold(
        (f64::MAX, f64::MAX, f64::MIN, f64::MIN),
        |(a, b, c, d), (lat, lon)| (a.min(lat), b.min(lon), c.max(lat), d.max(lon)),
    )
}

#[test]
fn agree_on_uniform_points_over_the_grown_bbox() {
    let (lat0, lon0, lat1, lon1) = pilot_bbox();
    let (dlat, dlon) = ((lat1 - lat0) * 0.2, (lon1 - lon0) * 0.2);
    let mut rng = Rng(1);
    let points: Vec<_> = (0..sample(6_000))
        .map(|_| {
            let lat = rng.range(lat0 - dlat, lat1 + dlat);
            let lon = rng.range(lon0 - dlon, lon1 + dlon);
            (lat, lon, rng.accuracy())
        })
        .collect();
    assert_agree(points);
}

/// Random fixes within `max_m` metres of randomly picked points of `seeds`.
fn around(seeds: &[(f64, f64)], n: usize, max_m: f64, rng: &mut Rng) -> Vec<(f64, f64, f64)> {
    (0..n)
        .map(|_| {
            let (lat, lon) = seeds[(rng.next() % seeds.len() as u64) as usize];
            let r = max_m * rng.unit();
            let angle = rng.range(0.0, std::f64::consts::TAU);
            let lat2 = lat + r * angle.cos() / 111_300.0;
            let lon2 = lon + r * angle.sin() / (111_300.0 * lat.to_radians().cos());
            (lat2, lon2, rng.accuracy())
        })
        .collect()
}

/// Vertices of the outer boundary, as the geofence computed it.
fn outer_boundary_vertices() -> Vec<(f64, f64)> {
    fence()
        .outer_boundary_segments()
        .iter()
        .map(|s| (s[1], s[0]))
        .collect()
}

fn shared_border_vertices() -> Vec<(f64, f64)> {
    let mos: HashSet<(u64, u64)> = vertices(&shapes().mos)
        .map(|(a, b)| (a.to_bits(), b.to_bits()))
        .collect();
    vertices(&shapes().mow)
        .filter(|(a, b)| mos.contains(&(a.to_bits(), b.to_bits())))
        .collect()
}

#[test]
fn agree_within_1_km_of_the_outer_boundary() {
    let seeds = outer_boundary_vertices();
    assert!(seeds.len() > 10_000, "{} outer vertices", seeds.len());
    let mut rng = Rng(2);
    assert_agree(around(&seeds, sample(6_000), 1_000.0, &mut rng));
    // Very close: decimetres to metres, where rounding would show first.
    assert_agree(around(&seeds, sample(2_000), 2.0, &mut rng));
}

#[test]
fn agree_near_the_moscow_oblast_border() {
    let seeds = shared_border_vertices();
    assert!(seeds.len() > 5_000, "{} shared vertices", seeds.len());
    let mut rng = Rng(3);
    assert_agree(around(&seeds, sample(5_000), 300.0, &mut rng));
    assert_agree(around(&seeds, sample(2_000), 0.5, &mut rng));
}

#[test]
fn agree_exactly_on_vertices_and_edges() {
    // Points exactly on region boundaries, where the closed-set rule and the
    // tie-break decide: every 7th vertex, and every 11th edge's midpoint
    // (exactly on axis-parallel edges, within rounding of the others); a
    // debug build takes every 8th of those.
    let mut rng = Rng(4);
    let mut points = Vec::new();
    for mp in [&shapes().mow, &shapes().mos] {
        for (k, (lat, lon)) in vertices(mp).enumerate() {
            if k % step(7) == 0 {
                points.push((lat, lon, rng.accuracy()));
            }
        }
        for polygon in &mp.0 {
            for (k, w) in polygon.exterior().0.windows(2).enumerate() {
                if k % step(11) == 0 {
                    let (lat, lon) = ((w[0].y + w[1].y) / 2.0, (w[0].x + w[1].x) / 2.0);
                    points.push((lat, lon, rng.accuracy()));
                }
            }
        }
    }
    assert!(assert_agree(points) > sample(4_000));
}

#[test]
fn agree_in_and_around_the_seams() {
    // Seam slivers lie between the two files' versions of the border, all
    // along New Moscow and the eastern MKAD; probe tightly around the
    // vertices where the two versions part.
    let mut rng = Rng(5);
    let seeds = [
        (55.51453, 36.93265),
        (55.47941, 37.13756),
        (55.51056, 37.13768),
        (55.68262, 37.91380),
        (55.38221, 36.85877),
        (55.65494, 37.29150),
    ];
    assert_agree(around(&seeds, sample(3_000), 400.0, &mut rng));
}

#[test]
fn distance_is_what_classification_compares() {
    // The reported distance is the radius at which a fix turns uncertain.
    // With the radius set to exactly that distance, any over-estimate in the
    // fast path's precomputed bounds shows (a 1 % one does, on this sample).
    let g = fence();
    let (lat0, lon0, lat1, lon1) = pilot_bbox();
    let mut rng = Rng(6);
    let seeds = outer_boundary_vertices();
    let mut points = around(&seeds, sample(20_000), 3_000.0, &mut rng);
    points.extend((0..sample(2_000)).map(|_| (rng.range(lat0, lat1), rng.range(lon0, lon1), 0.0)));
    for (k, (lat, lon, _)) in points.into_iter().enumerate() {
        let d = g.distance_to_outer_boundary_m(lat, lon);
        let below = d * (1.0 - 1e-12);
        assert_eq!(g.classify(lat, lon, d), Zone::Uncertain, "{lat} {lon} {d}");
        if d > 0.0 {
            assert_ne!(
                g.classify(lat, lon, below),
                Zone::Uncertain,
                "{lat} {lon} {d}"
            );
        }
        if k % 50 == 0 {
            assert_eq!(g.classify_exact(lat, lon, d), Zone::Uncertain);
            if d > 0.0 {
                assert_ne!(g.classify_exact(lat, lon, below), Zone::Uncertain);
            }
        }
    }
}

#[test]
fn neighbour_regions_file_works_as_a_pilot_too() {
    // Configuration is data: a pilot of two neighbours from the other file.
    let text = include_str!("../../../data/regions/neighbour-regions.geojson");
    let g = Geofence::from_geojson(text, &[("RU-TUL", "tula"), ("RU-KLU", "kaluga")])
        .expect("the neighbour file holds Tula and Kaluga oblasts");
    assert_eq!(g.slug(g.classify(54.1931, 37.6173, 10.0)), "tula");
    assert_eq!(g.slug(g.classify(54.5138, 36.2612, 10.0)), "kaluga");
    assert_eq!(g.slug(g.classify(55.7539, 37.6208, 10.0)), "outside");
    let mut rng = Rng(7);
    for _ in 0..sample(2_000) {
        let (lat, lon, acc) = (rng.range(53.0, 56.0), rng.range(33.0, 39.5), rng.accuracy());
        assert_eq!(
            g.classify(lat, lon, acc),
            g.classify_exact(lat, lon, acc),
            "{lat} {lon} {acc}"
        );
    }
}
