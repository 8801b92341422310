//! The map: the pilot regions' real boundaries (the repo's OpenStreetMap
//! data, built into the binary) drawn as SVG, with points on top.
//!
//! Why SVG from our own data: no request leaves the server (no tile
//! service learns where officers look), the page works offline inside a
//! closed network, and the boundaries are exactly the ones the rules use.
//! A deployment with its own tile server may name it in
//! `console.tile_url` (`…/{z}/{x}/{y}.png`, Web Mercator XYZ tiles): its
//! tiles are then drawn under the boundaries, each placed at its exact
//! corners in this projection (within one tile the two projections differ
//! by far less than a pixel at these zooms), and the page's CSP admits
//! images from exactly that origin. Without it nothing leaves the server.
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

/// Most tiles drawn as a background.
const MAX_TILES: usize = 30;

/// A background tile: its URL and its box in SVG units.
struct Tile {
    href: String,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

fn tile_lon(x: u32, z: u32) -> f64 {
    f64::from(x) / f64::from(1u32 << z) * 360.0 - 180.0
}

fn tile_lat(y: u32, z: u32) -> f64 {
    let n = std::f64::consts::PI * (1.0 - 2.0 * f64::from(y) / f64::from(1u32 << z));
    n.sinh().atan().to_degrees()
}

fn tile_xy(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let r = lat.to_radians();
    let y = ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    (x.clamp(0.0, n - 1.0) as u32, y.clamp(0.0, n - 1.0) as u32)
}

/// The tiles covering the box (SVG units) at the finest zoom that needs at
/// most [`MAX_TILES`].
fn tiles(template: &str, view: (f64, f64, f64, f64)) -> Vec<Tile> {
    let (vx, vy, vw, vh) = view;
    let (west, east) = (vx / (COS_LAT * SCALE), (vx + vw) / (COS_LAT * SCALE));
    let (north, south) = (-vy / SCALE, -(vy + vh) / SCALE);
    for z in (4..=12).rev() {
        let (x0, y0) = tile_xy(west, north, z);
        let (x1, y1) = tile_xy(east, south, z);
        let count = ((x1 - x0 + 1) * (y1 - y0 + 1)) as usize;
        if count > MAX_TILES && z > 4 {
            continue;
        }
        let mut out = Vec::new();
        for ty in y0..=y1 {
            for tx in x0..=x1 {
                let (left, top) = project(tile_lon(tx, z), tile_lat(ty, z));
                let (right, bottom) = project(tile_lon(tx + 1, z), tile_lat(ty + 1, z));
                out.push(Tile {
                    href: template
                        .replace("{z}", &z.to_string())
                        .replace("{x}", &tx.to_string())
                        .replace("{y}", &ty.to_string()),
                    x: left,
                    y: top,
                    w: right - left,
                    h: bottom - top,
                });
            }
        }
        return out;
    }
    Vec::new()
}

/// The boundaries with `markers` on top; `track` joins the track markers.
/// `tile_url` (may be empty) is the background tile template.
pub fn svg(
    title: &str,
    markers: &[Marker],
    radius_m: Option<(f64, f64, f64)>,
    tile_url: &str,
) -> Markup {
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
    let background = if tile_url.is_empty() {
        Vec::new()
    } else {
        tiles(tile_url, (x - pad, y - pad, w + 2.0 * pad, h + 2.0 * pad))
    };
    html! {
        svg.map.tiled[!background.is_empty()] xmlns="http://www.w3.org/2000/svg" viewBox=(view) role="img" aria-label=(title) {
            @for t in &background {
                image.tile href=(t.href) x=(format!("{:.3}", t.x)) y=(format!("{:.3}", t.y))
                    width=(format!("{:.3}", t.w)) height=(format!("{:.3}", t.h)) preserveAspectRatio="none" {}
            }
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
            "",
        )
        .into_string();
        assert!(page.contains("class=\"marker last\""));
        assert!(!page.contains("<image"), "offline by default");
        assert!(!page.contains("http://") || page.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    }

    #[test]
    fn tiles_cover_the_region_and_sit_at_their_corners() {
        let (x, y, w, h) = shapes().view;
        let t = tiles("https://t.example/{z}/{x}/{y}.png", (x, y, w, h));
        assert!(!t.is_empty() && t.len() <= MAX_TILES, "{}", t.len());
        // The Kremlin is inside one of the tiles, and that tile's URL names
        // the tile that OpenStreetMap's formula gives for it.
        let (kx, ky) = project(37.6175, 55.7520);
        let hit: Vec<_> = t
            .iter()
            .filter(|t| kx >= t.x && kx < t.x + t.w && ky >= t.y && ky < t.y + t.h)
            .collect();
        assert_eq!(hit.len(), 1);
        let z: u32 = hit[0].href.split('/').nth(3).unwrap().parse().unwrap();
        let (tx, ty) = tile_xy(37.6175, 55.7520, z);
        assert_eq!(hit[0].href, format!("https://t.example/{z}/{tx}/{ty}.png"));
        // At zoom 10 the Kremlin is tile 619/320 (slippy-map formula).
        assert_eq!(tile_xy(37.6175, 55.7520, 10), (619, 320));
        let page = svg("m", &[], None, "https://t.example/{z}/{x}/{y}.png").into_string();
        assert!(page.contains("<image class=\"tile\" href=\"https://t.example/"));
        assert!(page.contains("class=\"map tiled\""));
    }
}
