//! The outer boundary of the pilot area and the seams inside it.
//!
//! The pilot area is the union of the pilot regions. Its boundary is where a
//! person can leave the pilot; the border between two pilot regions is not
//! (moving between Moscow and the oblast needs no notice). So the union is
//! computed once at load, with geo's `BooleanOps` (the `i_overlay` engine,
//! which snaps to a grid of about 2·10⁻⁹°, a quarter of a millimetre).
//!
//! Why a union and not "drop the edges the two regions share": the data
//! share their border exactly along most of its length, but not everywhere.
//! In the shipped files 305 Moscow edges have no identical oblast edge: the
//! New Moscow stretch of the Kaluga border (which really is outer boundary),
//! and about 70 places where the two files follow slightly different lines
//! between the same two vertices. Edge matching would turn those 70 places
//! into false "outer boundary" on MKAD and around New Moscow, where many
//! migrants live and work; a union has no such failure mode.
//!
//! Seams. The union has 88 holes (0.44 km² together, the largest 0.28 km²
//! at 55.5145 N 36.9327 E): slivers that lie in neither polygon because the
//! 2021 Moscow file and the 2023 oblast file disagree there. The data README
//! meant them for the oblast. The land is certainly in one of the two pilot
//! subjects (Moscow Oblast contains no enclave of any other subject), so
//! treating a seam as "outside" would report a person as having left the
//! region while they stand in it, which the design forbids. A hole of the
//! union is therefore a *seam* when its ring touches two or more pilot
//! regions; a seam is inside the pilot area, is not outer boundary, and is
//! assigned to the last-listed region it touches (the pilot lists the
//! priority region first, Moscow; the data's processing gave Moscow the
//! overlaps and the oblast the rest). A hole that touches only one region is
//! a real hole of that region (e.g. a Moscow exclave when only the oblast is
//! configured) and its ring is outer boundary.

use geo::orient::{Direction, Orient};
use geo::{unary_union, BoundingRect, Coord, LineString, MultiPolygon, Polygon};

/// A vertex of a hole is "on" a region's boundary when it lies within this
/// many degrees (about 6–11 cm) of one of the region's edges. The union
/// moves vertices by at most ~2·10⁻⁹°; real features are metres apart.
const TOUCH_DEG: f64 = 1e-6;

pub(crate) struct Topology {
    /// Segments of the outer boundary, `[lon0, lat0, lon1, lat1]`.
    pub outer: Vec<[f64; 4]>,
    /// Seams grouped by the region they are assigned to.
    pub seams: Vec<(u8, MultiPolygon<f64>)>,
    /// Number of seam polygons, for diagnostics.
    pub seam_count: usize,
}

pub(crate) fn compute(regions: &[MultiPolygon<f64>]) -> Topology {
    // One overlay call for all regions. Folding pairwise would not do: the
    // engine snaps each call's input to a grid fitted to that call's bounding
    // box, so a second call snaps the shared border differently on its two
    // sides and leaves hundreds of sub-millimetre slivers (800 instead of 88
    // holes on the shipped data). With rings oriented (exteriors
    // counter-clockwise, holes clockwise), the union is where the winding
    // number is positive.
    let oriented: Vec<Polygon<f64>> = regions
        .iter()
        .flat_map(|r| r.0.iter().map(|p| p.orient(Direction::Default)))
        .collect();
    let union = unary_union(&oriented);

    let mut outer = Vec::new();
    let mut seams: Vec<(u8, MultiPolygon<f64>)> = Vec::new();
    let mut seam_count = 0;
    for polygon in &union.0 {
        push_ring(&mut outer, polygon.exterior());
        for hole in polygon.interiors() {
            let touching = touching_regions(hole, regions);
            match touching.last() {
                Some(&last) if touching.len() >= 2 => {
                    seam_count += 1;
                    let seam = Polygon::new(hole.clone(), Vec::new());
                    match seams.iter_mut().find(|(r, _)| *r == last) {
                        Some((_, group)) => group.0.push(seam),
                        None => seams.push((last, MultiPolygon(vec![seam]))),
                    }
                }
                _ => push_ring(&mut outer, hole),
            }
        }
    }
    seams.sort_by_key(|(r, _)| *r);
    Topology {
        outer,
        seams,
        seam_count,
    }
}

fn push_ring(out: &mut Vec<[f64; 4]>, ring: &LineString<f64>) {
    out.extend(ring.0.windows(2).map(|w| [w[0].x, w[0].y, w[1].x, w[1].y]));
}

/// Indices (ascending) of the regions whose boundary some vertex of `ring`
/// lies on, within [`TOUCH_DEG`].
fn touching_regions(ring: &LineString<f64>, regions: &[MultiPolygon<f64>]) -> Vec<u8> {
    let Some(bbox) = ring.bounding_rect() else {
        return Vec::new();
    };
    let (lo, hi) = (bbox.min(), bbox.max());
    let mut touching = Vec::new();
    for (index, region) in regions.iter().enumerate() {
        let touches = region.0.iter().any(|polygon| {
            std::iter::once(polygon.exterior())
                .chain(polygon.interiors())
                .flat_map(|r| r.0.windows(2))
                .any(|w| {
                    let (a, b) = (w[0], w[1]);
                    // Cheap rejection by bounding boxes before any distance.
                    a.x.min(b.x) <= hi.x + TOUCH_DEG
                        && a.x.max(b.x) >= lo.x - TOUCH_DEG
                        && a.y.min(b.y) <= hi.y + TOUCH_DEG
                        && a.y.max(b.y) >= lo.y - TOUCH_DEG
                        && ring
                            .0
                            .iter()
                            .any(|&v| degree_distance(v, a, b) <= TOUCH_DEG)
                })
        });
        if touches {
            // The caller limits the pilot to 16 regions, so this fits.
            touching.push(index as u8);
        }
    }
    touching
}

/// Planar distance in degrees from `p` to segment `a`–`b`; only used for the
/// tolerance test above, where the anisotropy of degrees does not matter.
fn degree_distance(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p.x - a.x - t * dx).hypot(p.y - a.y - t * dy)
}
