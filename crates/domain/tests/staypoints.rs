//! Stay-point detection: the definition on hand-built traces, and agreement
//! with trackintel 1.4.x on a real GeoLife file (numbers pinned below).

use amina_domain::staypoints::{detect_user, great_circle_m, Fix, Params, StayPoint};
use jiff::{SignedDuration, Timestamp};

const LAT0: f64 = 55.751;
const LON0: f64 = 37.618;
/// Metres per degree of latitude on the 6,371 km sphere.
const M_PER_DEG: f64 = 6_371_000.0 * std::f64::consts::PI / 180.0;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_760_000_000 + secs).unwrap()
}

/// A fix `north` and `east` metres from the reference point, `secs` after t0.
fn fix(secs: i64, north: f64, east: f64) -> Fix {
    Fix {
        at: t(secs),
        lat: LAT0 + north / M_PER_DEG,
        lon: LON0 + east / (M_PER_DEG * LAT0.to_radians().cos()),
    }
}

fn stays(fixes: &[Fix]) -> Vec<StayPoint> {
    detect_user("u", fixes, &Params::default())
}

/// Ten fixes a minute apart within 15 m of the reference, then a fix 500 m away.
fn clear_stay() -> Vec<Fix> {
    let mut v: Vec<Fix> = (0..10)
        .map(|i| fix(60 * i, (i % 3) as f64 * 5.0, (i % 2) as f64 * 5.0))
        .collect();
    v.push(fix(600, 500.0, 0.0));
    v.push(fix(630, 800.0, 0.0));
    v
}

#[test]
fn a_clear_stay_ends_at_the_first_fix_outside() {
    let s = stays(&clear_stay());
    assert_eq!(s.len(), 1, "{s:?}");
    let s = &s[0];
    assert_eq!(s.user_id, "u");
    assert_eq!(s.started_at, t(0));
    assert_eq!(s.finished_at, t(600), "finished at the exit fix");
    assert_eq!(s.n_fixes, 10, "the exit fix is not part of the stay");
    assert!(great_circle_m(s.lat, s.lon, LAT0, LON0) < 15.0);
}

#[test]
fn a_moving_track_has_no_stay() {
    // 200 m every 30 s, and a slow walk of 40 m a minute: the anchor is left
    // long before 5 minutes.
    let fast: Vec<Fix> = (0..60)
        .map(|i| fix(30 * i, 200.0 * i as f64, 0.0))
        .collect();
    assert!(stays(&fast).is_empty());
    let slow: Vec<Fix> = (0..60).map(|i| fix(60 * i, 40.0 * i as f64, 0.0)).collect();
    assert!(stays(&slow).is_empty());
}

#[test]
fn the_time_threshold_is_inclusive_and_the_gap_threshold_strict() {
    // Exactly 5 minutes from anchor to exit fix: a stay.
    let v = vec![fix(0, 0.0, 0.0), fix(150, 0.0, 0.0), fix(300, 300.0, 0.0)];
    assert_eq!(stays(&v).len(), 1);
    // One second less: none.
    let v = vec![fix(0, 0.0, 0.0), fix(150, 0.0, 0.0), fix(299, 300.0, 0.0)];
    assert!(stays(&v).is_empty());
    // A gap of exactly 15 minutes does not split; 15 min + 1 s does.
    let v = vec![fix(0, 0.0, 0.0), fix(900, 0.0, 0.0), fix(960, 300.0, 0.0)];
    assert_eq!(stays(&v).len(), 1);
    let v = vec![fix(0, 0.0, 0.0), fix(901, 0.0, 0.0), fix(960, 300.0, 0.0)];
    assert!(stays(&v).is_empty());
}

#[test]
fn a_gap_drops_the_stay_in_progress_and_restarts() {
    // Ten minutes at home, 20 minutes of silence, then a fix 1 km away: the
    // silence is not taken as staying, so no stay ...
    let mut v: Vec<Fix> = (0..11).map(|i| fix(60 * i, 0.0, 0.0)).collect();
    v.push(fix(600 + 1200, 1000.0, 0.0));
    v.push(fix(600 + 1260, 2000.0, 0.0));
    assert!(stays(&v).is_empty());
    // ... unless gap splitting is off (gap = inf): then one stay to the far fix.
    let no_gap = Params::from_units(100.0, 5.0, Some(f64::INFINITY)).unwrap();
    let s = detect_user("u", &v, &no_gap);
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].started_at, s[0].finished_at), (t(0), t(1800)));
    // After a gap detection restarts at the first fix after it.
    let mut w: Vec<Fix> = (0..3).map(|i| fix(60 * i, 0.0, 0.0)).collect();
    w.extend((0..8).map(|i| fix(10_000 + 60 * i, 50.0, 0.0)));
    w.push(fix(10_480, 900.0, 0.0));
    let s = stays(&w);
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].started_at, s[0].finished_at), (t(10_000), t(10_480)));
    assert_eq!(s[0].n_fixes, 8);
}

#[test]
fn the_last_stay_needs_an_exit_fix_unless_include_last() {
    let v: Vec<Fix> = (0..20).map(|i| fix(60 * i, 0.0, 0.0)).collect();
    assert!(stays(&v).is_empty());
    let params = Params {
        include_last: true,
        ..Params::default()
    };
    let s = detect_user("u", &v, &params);
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].started_at, s[0].finished_at), (t(0), t(1140)));
    assert_eq!(s[0].n_fixes, 20);
}

#[test]
fn exact_duplicates_are_dropped_and_the_centroid_uses_distinct_positions() {
    let mut v = clear_stay();
    let copy = v[3];
    v.insert(4, copy); // same instant, same place: dropped
    let mut moved = v[5];
    moved.lon += 1e-5; // same instant, other place: kept
    v.insert(6, moved);
    let s = stays(&v);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].n_fixes, 11);

    // Three fixes at A and one at B: the centroid is midway, not 3:1.
    let v = vec![
        fix(0, 0.0, 0.0),
        fix(100, 0.0, 0.0),
        fix(200, 0.0, 0.0),
        fix(300, 40.0, 0.0),
        fix(400, 500.0, 0.0),
    ];
    let s = stays(&v);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].n_fixes, 4);
    assert!((great_circle_m(s[0].lat, s[0].lon, LAT0, LON0) - 20.0).abs() < 0.01);
}

#[test]
fn out_of_order_input_gives_the_sorted_answer() {
    let sorted = clear_stay();
    let mut shuffled = sorted.clone();
    shuffled.reverse();
    shuffled.swap(2, 7);
    assert_eq!(stays(&shuffled), stays(&sorted));
    // Equal instants keep their input order (stable sort): the first of two
    // simultaneous fixes is the anchor.
    let a = vec![
        fix(0, 0.0, 0.0),
        fix(0, 90.0, 0.0),
        fix(400, 150.0, 0.0),
        fix(500, 1000.0, 0.0),
    ];
    let s = stays(&a);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].n_fixes, 2);
    assert_eq!(s[0].finished_at, t(400));
}

#[test]
fn empty_single_and_non_finite_input_never_panic() {
    assert!(stays(&[]).is_empty());
    assert!(stays(&[fix(0, 0.0, 0.0)]).is_empty());
    let zero = Params {
        time: SignedDuration::ZERO,
        include_last: true,
        ..Params::default()
    };
    let s = detect_user("u", &[fix(0, 0.0, 0.0)], &zero);
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].started_at, s[0].finished_at, s[0].n_fixes),
        (t(0), t(0), 1)
    );

    let mut v = clear_stay();
    for (i, bad) in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY]
        .into_iter()
        .enumerate()
    {
        v.insert(
            2 + i,
            Fix {
                at: t(61),
                lat: bad,
                lon: LON0,
            },
        );
        v.insert(
            5 + i,
            Fix {
                at: t(200),
                lat: LAT0,
                lon: bad,
            },
        );
    }
    assert_eq!(stays(&v), stays(&clear_stay()));
    let all_nan = vec![
        Fix {
            at: t(0),
            lat: f64::NAN,
            lon: f64::NAN
        };
        3
    ];
    assert!(stays(&all_nan).is_empty());
    // Huge time spans (centuries apart) are only gaps.
    let far = vec![
        fix(0, 0.0, 0.0),
        Fix {
            at: Timestamp::MAX,
            lat: LAT0,
            lon: LON0,
        },
        Fix {
            at: Timestamp::MIN,
            lat: LAT0,
            lon: LON0,
        },
    ];
    assert!(stays(&far).is_empty());
}

#[test]
fn the_centroid_does_not_jump_across_the_antimeridian() {
    let at = |secs, lon| Fix {
        at: t(secs),
        lat: 65.0,
        lon,
    };
    let v = vec![
        at(0, 179.9995),
        at(200, -179.9995),
        at(400, 179.9995),
        at(600, 170.0),
    ];
    let s = stays(&v);
    assert_eq!(s.len(), 1);
    assert!(s[0].lon.abs() > 179.99, "{}", s[0].lon);
}

// ---- agreement with trackintel on real data --------------------------------

const GEOLIFE: &str = "geolife_trackintel_users000-007.csv";

/// Stays per user that trackintel 1.4.2 `generate_staypoints` (defaults:
/// sliding, haversine, 100 m, 5 min, gap 15 min, include_last=False,
/// exclude_duplicate_pfs=True) finds in `../shared/data/traces/` `GEOLIFE`,
/// loaded with only user_id, tracked_at and the point geometry (EPSG:4326).
/// Produced by scripts/compare_trackintel.py's loader on 2026-11-25.
const TRACKINTEL_COUNTS: [(&str, usize); 8] = [
    ("000", 14),
    ("001", 44),
    ("002", 68),
    ("003", 39),
    ("004", 5),
    ("005", 43),
    ("006", 21),
    ("007", 46),
];

/// First and last stays of users 000 and 003 from the same trackintel run:
/// (user, index, started_at, finished_at, centroid lat, centroid lon, n_fixes).
#[allow(clippy::type_complexity)]
const TRACKINTEL_STAYS: [(&str, isize, &str, &str, f64, f64, usize); 4] = [
    (
        "000",
        0,
        "2008-10-23T09:45:05Z",
        "2008-10-23T09:55:56Z",
        40.009052443181815,
        116.32157711363638,
        97,
    ),
    (
        "000",
        -1,
        "2008-10-28T02:14:01Z",
        "2008-10-28T02:22:31Z",
        40.011106421568634,
        116.29689574509804,
        106,
    ),
    (
        "003",
        0,
        "2008-10-23T18:05:44Z",
        "2008-10-23T18:15:44Z",
        40.007793142857146,
        116.31917576785713,
        63,
    ),
    (
        "003",
        -1,
        "2008-10-31T11:17:18Z",
        "2008-10-31T11:22:18Z",
        39.991748966101696,
        116.32698806779659,
        64,
    ),
];

fn load_geolife() -> Option<std::collections::BTreeMap<String, Vec<Fix>>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/traces")
        .join(GEOLIFE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            amina_testkit::skip_or_fail(
                "the GeoLife trace file",
                &format!("{}: {e}", path.display()),
            );
            return None;
        }
    };
    let mut users = std::collections::BTreeMap::<String, Vec<Fix>>::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let bad = || -> ! { panic!("{GEOLIFE} line {}: {line:?}", n + 1) };
        if cols.len() < 5 {
            bad();
        }
        let at: Timestamp = cols[2].parse().unwrap_or_else(|_| bad());
        let lat: f64 = cols[3].parse().unwrap_or_else(|_| bad());
        let lon: f64 = cols[4].parse().unwrap_or_else(|_| bad());
        users
            .entry(cols[0].to_owned())
            .or_default()
            .push(Fix { at, lat, lon });
    }
    Some(users)
}

#[test]
fn agrees_with_trackintel_on_real_geolife_tracks() {
    let Some(users) = load_geolife() else { return };
    assert_eq!(users.values().map(Vec::len).sum::<usize>(), 107_576);
    let params = Params::default();
    let found: std::collections::BTreeMap<&str, Vec<StayPoint>> = users
        .iter()
        .map(|(u, f)| (u.as_str(), detect_user(u, f, &params)))
        .collect();
    for (user, n) in TRACKINTEL_COUNTS {
        assert_eq!(found[user].len(), n, "stays of user {user}");
    }
    for (user, index, start, end, lat, lon, n_fixes) in TRACKINTEL_STAYS {
        let list = &found[user];
        let s = if index < 0 {
            &list[list.len() - 1]
        } else {
            &list[index as usize]
        };
        assert_eq!(
            s.started_at,
            start.parse::<Timestamp>().unwrap(),
            "{user} {index}"
        );
        assert_eq!(
            s.finished_at,
            end.parse::<Timestamp>().unwrap(),
            "{user} {index}"
        );
        assert_eq!(s.n_fixes, n_fixes, "{user} {index}");
        let d = great_circle_m(s.lat, s.lon, lat, lon);
        assert!(d < 0.01, "{user} {index}: centroid {d} m from trackintel's");
    }
    // Every stay is well formed.
    for s in found.values().flatten() {
        assert!(s.started_at < s.finished_at && s.n_fixes >= 1);
    }
}
