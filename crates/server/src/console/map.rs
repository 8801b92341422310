//! The map: the pilot regions' real boundaries (the repo's OpenStreetMap
//! data, built into the binary) drawn as SVG, with points on top.
//!
//! Why SVG from our own data: no request leaves the server (no tile
//! service learns where officers look), the page works offline inside a
//! closed network, and the boundaries are exactly the ones the rules use.
//! A deployment with its own tile server may name it in
//! `console.tile_url`; the page then shows it as a link for context.
//!
//! Projection: equirectangular around 55.75° N (x = lon·cos 55.75°,
//! y = −lat), fine for an area the size of Moscow Oblast. Boundaries are
//! thinned to every k-th vertex for drawing only.

use std::sync::OnceLock;

use maud::{html, Markup};

/// Degrees → SVG units.
const SCALE: f64 = 200.0;
const COS_LAT: f64 = 0.5628; // cos(55.75°)
/// Drawing keeps about this many vertices in total.
const TARGET_VERTICES: usize = 4000;

struct Shapes {
    /// (region code, SVG path data)
    paths: Vec<(String, String)>,
    /// minx, miny, width, height
    view: (f64, f64, f64, f64),
}

fn project(lon: f64, lat: f64) -> (f64, f64) {
    (lon * COS_LAT * SCALE, -lat * SCALE)
}

fn shapes() -> &'static Shapes {
    static SHAPES: OnceLock<Shapes> = OnceLock::new();
    SHAPES.get_or_init(|| {
        let doc: serde_json::Value =
            serde_json::from_str(amina_domain::geofence::EMBEDDED_GEOJSON).unwrap_or_default();
        let features = doc["features"].as_array().cloned().unwrap_or_default();
        let total: usize = features
            .iter()
            .flat_map(|f| {
                f["geometry"]["coordinates"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .flat_map(|p| p.as_array().cloned().unwrap_or_default())
            .map(|r| r.as_array().map_or(0, |a| a.len()))
            .sum();
        let step = (total / TARGET_VERTICES).max(1);
        let (mut minx, mut miny, mut maxx, mut maxy) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        let mut paths = Vec::new();
        for f in &features {
            let code = f["properties"]["code"].as_str().unwrap_or("").to_string();
            let mut d = String::new();
            let polygons = f["geometry"]["coordinates"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for polygon in polygons {
                for ring in polygon.as_array().cloned().unwrap_or_default() {
                    let pts = ring.as_array().cloned().unwrap_or_default();
                    let n = pts.len();
                    let mut first = true;
                    for (i, p) in pts.iter().enumerate() {
                        // Keep the ring's ends and every step-th vertex.
                        if i % step != 0 && i + 1 != n {
                            continue;
                        }
                        let (Some(lon), Some(lat)) = (p[0].as_f64(), p[1].as_f64()) else {
                            continue;
                        };
                        let (x, y) = project(lon, lat);
                        minx = minx.min(x);
                        miny = miny.min(y);
                        maxx = maxx.max(x);
                        maxy = maxy.max(y);
                        d.push_str(&format!("{}{x:.2} {y:.2}", if first { "M" } else { "L" }));
                        first = false;
                    }
                    d.push('Z');
                }
            }
            paths.push((code, d));
        }
        Shapes {
            paths,
            view: (minx, miny, maxx - minx, maxy - miny),
        }
    })
}

/// A point to draw.
pub struct Marker {
    pub lat: f64,
    pub lon: f64,
    /// CSS class: `last`, `track`, `flagged`, `centre`.
    pub class: &'static str,
    pub label: String,
}

/// The boundaries with `markers` on top; `track` joins the track markers.
pub fn svg(title: &str, markers: &[Marker], radius_m: Option<(f64, f64, f64)>) -> Markup {
    let s = shapes();
    let (x, y, w, h) = s.view;
    let pad = w * 0.02;
    let view = format!(
        "{:.2} {:.2} {:.2} {:.2}",
        x - pad,
        y - pad,
        w + 2.0 * pad,
        h + 2.0 * pad
    );
    let track: Vec<String> = markers
        .iter()
        .filter(|m| m.class != "centre")
        .map(|m| {
            let (px, py) = project(m.lon, m.lat);
            format!("{px:.3},{py:.3}")
        })
        .collect();
    html! {
        svg.map xmlns="http://www.w3.org/2000/svg" viewBox=(view) role="img" aria-label=(title) {
            @for (code, d) in &s.paths {
                path class={ "region " (code) } d=(d) {}
            }
            @if let Some((lat, lon, r)) = radius_m {
                @let (cx, cy) = project(lon, lat);
                circle.radius cx=(format!("{cx:.3}")) cy=(format!("{cy:.3}"))
                    r=(format!("{:.3}", r / 111_000.0 * SCALE)) {}
            }
            @if track.len() > 1 {
                polyline.track points=(track.join(" ")) {}
            }
            @for m in markers {
                @let (cx, cy) = project(m.lon, m.lat);
                circle class={ "marker " (m.class) } cx=(format!("{cx:.3}")) cy=(format!("{cy:.3}")) r="0.6" {
                    title { (m.label) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_pilot_regions_are_drawn_from_the_built_in_data() {
        let s = shapes();
        let codes: Vec<&str> = s.paths.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(codes, vec!["RU-MOW", "RU-MOS"]);
        let vertices: usize = s.paths.iter().map(|(_, d)| d.matches('L').count()).sum();
        assert!((2000..8000).contains(&vertices), "{vertices}");
        // The Kremlin lies inside the drawing's box.
        let (kx, ky) = project(37.6175, 55.7520);
        let (x, y, w, h) = s.view;
        assert!(kx > x && kx < x + w && ky > y && ky < y + h);
        let page = svg(
            "m",
            &[Marker {
                lat: 55.75,
                lon: 37.61,
                class: "last",
                label: "x".into(),
            }],
            None,
        )
        .into_string();
        assert!(page.contains("class=\"marker last\""));
        assert!(!page.contains("http://") || page.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    }
}
