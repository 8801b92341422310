//! Unit tests: configuration and GeoJSON errors, and the semantics on small
//! synthetic regions where every answer can be worked out by hand.

use super::*;

/// A FeatureCollection from `(code, geometry JSON)` pairs.
fn collection(features: &[(&str, &str)]) -> String {
    let features: Vec<String> = features
        .iter()
        .map(|(code, geometry)| {
            format!(
                r#"{{"type":"Feature","properties":{{"code":"{code}","name_en":"{code} en","name_ru":"{code} ru"}},"geometry":{geometry}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
}

fn ring(points: &[(f64, f64)]) -> String {
    let mut all: Vec<String> = points.iter().map(|(x, y)| format!("[{x},{y}]")).collect();
    all.push(format!("[{},{}]", points[0].0, points[0].1));
    format!("[{}]", all.join(","))
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<(f64, f64)> {
    vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
}

const SQUARE: &str =
    r#"{"type":"Polygon","coordinates":[[[37,55],[37.1,55],[37.1,55.1],[37,55.1],[37,55]]]}"#;

fn error(text: &str, pilot: &[(&str, &str)]) -> GeofenceError {
    match Geofence::from_geojson(text, pilot) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn invalid_json() {
    assert!(matches!(error("{", &[("A", "a")]), GeofenceError::Json(_)));
}

#[test]
fn not_a_feature_collection() {
    let text = r#"{"type":"Feature","properties":{"code":"A"},"geometry":null}"#;
    assert_eq!(
        error(text, &[("A", "a")]),
        GeofenceError::NotFeatureCollection
    );
    let text = r#"{"type":"FeatureCollection"}"#;
    assert_eq!(
        error(text, &[("A", "a")]),
        GeofenceError::NotFeatureCollection
    );
}

#[test]
fn missing_pilot_code() {
    let text = collection(&[("A", SQUARE)]);
    assert_eq!(
        error(&text, &[("A", "a"), ("B", "b")]),
        GeofenceError::MissingRegion("B".into())
    );
}

#[test]
fn region_twice_in_file() {
    let text = collection(&[("A", SQUARE), ("A", SQUARE)]);
    assert_eq!(
        error(&text, &[("A", "a")]),
        GeofenceError::DuplicateRegion("A".into())
    );
}

#[test]
fn geometry_must_be_polygonal() {
    let point = r#"{"type":"Point","coordinates":[37,55]}"#;
    let e = error(&collection(&[("A", point)]), &[("A", "a")]);
    assert!(
        matches!(e, GeofenceError::BadGeometry { ref code, ref reason }
        if code == "A" && reason.contains("Point"))
    );
    let e = error(&collection(&[("A", "null")]), &[("A", "a")]);
    assert!(matches!(e, GeofenceError::BadGeometry { .. }));
    let empty = r#"{"type":"MultiPolygon","coordinates":[]}"#;
    let e = error(&collection(&[("A", empty)]), &[("A", "a")]);
    assert!(matches!(e, GeofenceError::BadGeometry { .. }));
}

#[test]
fn rings_must_be_closed_and_long_enough() {
    let open = r#"{"type":"Polygon","coordinates":[[[37,55],[37.1,55],[37.1,55.1],[37,55.1]]]}"#;
    let e = error(&collection(&[("A", open)]), &[("A", "a")]);
    assert!(
        matches!(e, GeofenceError::BadGeometry { ref reason, .. } if reason.contains("closed"))
    );
    let short = r#"{"type":"Polygon","coordinates":[[[37,55],[37.1,55],[37,55]]]}"#;
    let e = error(&collection(&[("A", short)]), &[("A", "a")]);
    assert!(matches!(e, GeofenceError::BadGeometry { ref reason, .. } if reason.contains("fewer")));
}

/// Found by fuzzing (fuzz/regressions/region_geojson/): on geometry that is
/// not valid, the grid's ray casting and `geo`'s point-in-polygon disagree,
/// so the fast path and the exact reference classify differently. Such a
/// file is refused with the region and the reason.
#[test]
fn invalid_geometry_is_refused() {
    // A bow tie: the ring crosses itself.
    let bow_tie =
        r#"{"type":"Polygon","coordinates":[[[37,55],[37.1,55.1],[37.1,55],[37,55.1],[37,55]]]}"#;
    // A hole that sticks out of its shell.
    let hole_out = r#"{"type":"Polygon","coordinates":[[[37,55],[37.1,55],[37.1,55.1],[37,55.1],[37,55]],[[37.05,55.05],[37.2,55.05],[37.2,55.06],[37.05,55.06],[37.05,55.05]]]}"#;
    // Two polygons of one region that overlap.
    let overlap = r#"{"type":"MultiPolygon","coordinates":[[[[37,55],[37.1,55],[37.1,55.1],[37,55.1],[37,55]]],[[[37.05,55],[37.2,55],[37.2,55.1],[37.05,55.1],[37.05,55]]]]}"#;
    for geometry in [bow_tie, hole_out, overlap] {
        let e = error(&collection(&[("A", geometry)]), &[("A", "a")]);
        assert!(
            matches!(e, GeofenceError::BadGeometry { ref code, ref reason } if code == "A" && reason.contains("invalid geometry")),
            "{geometry}: {e}"
        );
    }
    // The input the fuzzer found: the real boundaries thinned until a hole
    // of Moscow Oblast crosses its shell.
    let found = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/regressions/region_geojson/thinned-hole-crosses-shell.geojson"
    ));
    let e = Geofence::from_geojson(found, DEFAULT_PILOT).unwrap_err();
    assert!(
        matches!(e, GeofenceError::BadGeometry { ref code, .. } if code == "RU-MOS"),
        "{e}"
    );
}

/// The shipped file is loaded without the (slow) validity check at every
/// start; here it is checked once.
#[test]
fn embedded_file_is_valid_geometry() {
    let g = Geofence::from_geojson(EMBEDDED_GEOJSON, DEFAULT_PILOT).expect("valid geometry");
    assert_eq!(g.regions().len(), 2);
}

#[test]
fn positions_must_be_valid_coordinates() {
    let far = r#"{"type":"Polygon","coordinates":[[[37,55],[237,55],[37.1,55.1],[37,55]]]}"#;
    let e = error(&collection(&[("A", far)]), &[("A", "a")]);
    assert!(matches!(e, GeofenceError::BadGeometry { ref reason, .. } if reason.contains("range")));
    let text = r#"{"type":"Polygon","coordinates":[[[37,55],["x",55],[37.1,55.1],[37,55]]]}"#;
    let e = error(&collection(&[("A", text)]), &[("A", "a")]);
    assert!(
        matches!(e, GeofenceError::BadGeometry { ref reason, .. } if reason.contains("[lon, lat]"))
    );
}

#[test]
fn pilot_configuration_is_checked() {
    let text = collection(&[("A", SQUARE)]);
    assert_eq!(error(&text, &[]), GeofenceError::EmptyPilot);
    assert_eq!(
        error(&text, &[("A", "a"), ("A", "b")]),
        GeofenceError::DuplicateCode("A".into())
    );
    for slug in ["outside", "uncertain", ""] {
        assert_eq!(
            error(&text, &[("A", slug)]),
            GeofenceError::BadSlug(slug.into())
        );
    }
    assert_eq!(
        error(&text, &[("A", "a"), ("B", "a")]),
        GeofenceError::BadSlug("a".into())
    );
    let many: Vec<(String, String)> = (0..17)
        .map(|i| (format!("C{i}"), format!("s{i}")))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(c, s)| (c.as_str(), s.as_str())).collect();
    assert_eq!(
        error(&text, &many),
        GeofenceError::TooManyRegions { max: 16 }
    );
}

#[test]
fn other_features_are_ignored_and_names_read() {
    let text = collection(&[
        ("A", SQUARE),
        ("Z", r#"{"type":"Point","coordinates":[0,0]}"#),
    ]);
    let g = Geofence::from_geojson(&text, &[("A", "a")]).expect("Z is not in the pilot");
    assert_eq!(
        g.regions(),
        &[Region {
            code: "A".into(),
            slug: "a".into(),
            name_en: "A en".into(),
            name_ru: "A ru".into(),
        }]
    );
}

#[test]
fn embedded_file_loads() {
    let g = Geofence::embedded();
    assert_eq!(g.regions().len(), 2);
    assert_eq!(g.seam_count, 88);
}

/// Two regions side by side at Moscow's latitude, sharing x = 37.1:
/// A = [37.0, 37.1] x [55.0, 55.1] plus an exclave filling B's second hole;
/// B = [37.1, 37.3] x [55.0, 55.1] with two holes, [37.20, 37.22] x
/// [55.04, 55.06] (nobody's land) and [37.25, 37.27] x [55.04, 55.06] (A's
/// exclave), and a detour of its western edge to x = 37.102 between
/// y = 55.03 and 55.07, which leaves a seam between the two.
fn synthetic(pilot: &[(&str, &str)]) -> Geofence {
    let a = format!(
        r#"{{"type":"MultiPolygon","coordinates":[[{}],[{}]]}}"#,
        ring(&rect(37.0, 55.0, 37.1, 55.1)),
        ring(&rect(37.25, 55.04, 37.27, 55.06)),
    );
    let b_outer = [
        (37.1, 55.0),
        (37.3, 55.0),
        (37.3, 55.1),
        (37.1, 55.1),
        (37.1, 55.07),
        (37.102, 55.06),
        (37.102, 55.04),
        (37.1, 55.03),
    ];
    let b = format!(
        r#"{{"type":"Polygon","coordinates":[{},{},{}]}}"#,
        ring(&b_outer),
        ring(&rect(37.20, 55.04, 37.22, 55.06)),
        ring(&rect(37.25, 55.04, 37.27, 55.06)),
    );
    Geofence::from_geojson(&collection(&[("B", &b), ("A", &a)]), pilot)
        .expect("valid synthetic data")
}

const A: Zone = Zone::Inside(RegionIndex(0));
const B: Zone = Zone::Inside(RegionIndex(1));

fn both(g: &Geofence, lat: f64, lon: f64, acc: f64) -> Zone {
    let fast = g.classify(lat, lon, acc);
    assert_eq!(fast, g.classify_exact(lat, lon, acc), "{lat} {lon} {acc}");
    fast
}

#[test]
fn internal_border_is_not_uncertain() {
    let g = synthetic(&[("A", "a"), ("B", "b")]);
    // 640 m from the shared border, 5.5 km from the outer boundary.
    assert_eq!(both(&g, 55.08, 37.09, 10.0), A);
    assert_eq!(both(&g, 55.08, 37.09, 2_000.0), A);
    assert_eq!(both(&g, 55.08, 37.11, 2_000.0), B);
    // 6.4 km to the western edge: a 7 km circle reaches it.
    assert_eq!(both(&g, 55.08, 37.09, 7_000.0), Zone::Uncertain);
}

#[test]
fn shared_border_goes_to_the_first_listed() {
    let g = synthetic(&[("A", "a"), ("B", "b")]);
    assert_eq!(both(&g, 55.09, 37.1, 100.0), A);
    let g = synthetic(&[("B", "b"), ("A", "a")]);
    assert_eq!(both(&g, 55.09, 37.1, 100.0), Zone::Inside(RegionIndex(0)));
    assert_eq!(g.slug(both(&g, 55.09, 37.1, 100.0)), "b");
}

#[test]
fn border_with_a_region_outside_the_pilot_is_outer() {
    let g = synthetic(&[("B", "b")]);
    assert_eq!(both(&g, 55.09, 37.1, 1.0), Zone::Uncertain);
    assert_eq!(both(&g, 55.09, 37.09, 100.0), Zone::Outside);
    assert_eq!(both(&g, 55.09, 37.09, 1_000.0), Zone::Uncertain);
    // A's exclave is a hole of B with nothing in it now.
    assert_eq!(both(&g, 55.05, 37.26, 100.0), Zone::Outside);
}

#[test]
fn hole_of_nobody_is_outside_and_its_edge_is_outer() {
    let g = synthetic(&[("A", "a"), ("B", "b")]);
    // Centre of the hole: 640 m to its east and west edges.
    assert_eq!(both(&g, 55.05, 37.21, 100.0), Zone::Outside);
    assert_eq!(both(&g, 55.05, 37.21, 1_000.0), Zone::Uncertain);
    assert!(
        (g.distance_to_outer_boundary_m(55.05, 37.21) - 0.01 * Scale::at(55.05).kx).abs() < 0.01
    );
}

#[test]
fn exclave_filled_by_another_pilot_region_is_inside() {
    let g = synthetic(&[("A", "a"), ("B", "b")]);
    assert_eq!(both(&g, 55.05, 37.26, 10.0), A);
    assert_eq!(both(&g, 55.05, 37.26, 1_000.0), A);
    assert_eq!(both(&g, 55.05, 37.28, 1_000.0), B);
}

#[test]
fn seam_goes_to_the_last_listed_region_it_touches() {
    let g = synthetic(&[("A", "a"), ("B", "b")]);
    assert_eq!(g.seam_count, 1);
    assert_eq!(both(&g, 55.05, 37.101, 10.0), B);
    assert_eq!(both(&g, 55.05, 37.101, 2_000.0), B);
    let g = synthetic(&[("B", "b"), ("A", "a")]);
    assert_eq!(both(&g, 55.05, 37.101, 10.0), Zone::Inside(RegionIndex(1)));
    assert_eq!(g.slug(both(&g, 55.05, 37.101, 10.0)), "a");
}

#[test]
fn synthetic_fast_path_agrees_everywhere() {
    let g = synthetic(&[("A", "a"), ("B", "b")]);
    let mut state = 99u64;
    let mut unit = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..20_000 {
        let lat = 54.98 + 0.14 * unit();
        let lon = 36.97 + 0.36 * unit();
        let acc = 10f64.powf(4.0 * unit());
        assert_eq!(
            g.classify(lat, lon, acc),
            g.classify_exact(lat, lon, acc),
            "{lat} {lon} {acc}"
        );
    }
    // Grid-aligned and vertex points, where ties are exact.
    for k in 0..=300 {
        let t = k as f64 / 300.0;
        for (lat, lon) in [
            (55.0 + 0.1 * t, 37.1),
            (55.0 + 0.1 * t, 37.102),
            (55.04 + 0.02 * t, 37.25),
            (55.1, 37.0 + 0.3 * t),
        ] {
            for acc in [0.0, 1.0, 500.0] {
                assert_eq!(
                    g.classify(lat, lon, acc),
                    g.classify_exact(lat, lon, acc),
                    "{lat} {lon} {acc}"
                );
            }
        }
    }
}
