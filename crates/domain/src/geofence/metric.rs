//! Metres from degrees: a local tangent plane on the WGS 84 ellipsoid.
//!
//! Every distance the geofence compares against an accuracy radius is the
//! distance from the fix to a boundary segment in the plane tangent to the
//! WGS 84 ellipsoid at the fix's latitude: one degree of latitude is the
//! meridional radius of curvature `M(φ)` times π/180, one degree of longitude
//! is the prime-vertical radius `N(φ)` times `cos φ` times π/180. Phones
//! report accuracy as a radius in metres on the ground around the fix, so the
//! plane is centred on the fix and the question "does the circle reach the
//! boundary" becomes plane geometry.
//!
//! Why not haversine: the sphere is up to 0.5 % off the ellipsoid in one
//! direction at Moscow's latitude, more than the plane's own error at the
//! distances that matter. Why not geodesics: a Karney geodesic costs about a
//! microsecond per segment and the boundary has 13,000 segments; the
//! answer would differ by less than a centimetre at the radii phones report.
//!
//! Error against the WGS 84 geodesic (measured in `tests::error_bound`):
//! below 0.01 % up to 2 km, below 0.1 % up to 20 km, below 1 % up to
//! 150 km. Beyond a few hundred kilometres the figure only means "far":
//! no phone reports an accuracy circle that large.

/// WGS 84 semi-major axis, metres.
const A: f64 = 6_378_137.0;
/// WGS 84 first eccentricity squared.
const E2: f64 = 6.694_379_990_141_317e-3;

/// Metres per degree of longitude (`kx`) and of latitude (`ky`) at one
/// latitude.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    pub kx: f64,
    pub ky: f64,
}

impl Scale {
    /// The local scale at `lat_deg`. Total for any finite input: outside
    /// [-90, 90] the formulas still give finite, non-negative-squared values.
    pub fn at(lat_deg: f64) -> Self {
        let phi = lat_deg.to_radians();
        let (s, c) = phi.sin_cos();
        let w2 = 1.0 - E2 * s * s;
        let w = w2.sqrt();
        let n = A / w;
        let m = A * (1.0 - E2) / (w2 * w);
        let rad = std::f64::consts::PI / 180.0;
        Scale {
            kx: (n * c * rad).abs(),
            ky: m * rad,
        }
    }

    /// The smallest scale over a band of latitudes `[lat0, lat1]`: a lower
    /// bound for any fix in the band. `kx` shrinks and `ky` grows with
    /// |latitude|, so the extremes are at the band's ends (or the equator).
    pub fn min_over_band(lat0: f64, lat1: f64) -> Self {
        let (lo, hi) = (lat0.min(lat1), lat0.max(lat1));
        let kx = Scale::at(lo).kx.min(Scale::at(hi).kx);
        let nearest_equator = if lo <= 0.0 && hi >= 0.0 {
            0.0
        } else if lo > 0.0 {
            lo
        } else {
            hi
        };
        let ky = Scale::at(nearest_equator).ky;
        Scale { kx, ky }
    }

    /// The smallest `ky` at any latitude: at the equator.
    pub fn min_ky_anywhere() -> f64 {
        Scale::at(0.0).ky
    }
}

/// Distance in metres from the fix `(qx, qy)` (lon, lat degrees) to the
/// segment `(ax, ay)`–`(bx, by)`, in the tangent plane at the fix with the
/// precomputed `scale` (which must be `Scale::at(qy)`).
///
/// Coordinates are taken relative to the fix before scaling, so there is no
/// cancellation: the rounding error is a few ulps of the distance itself.
#[inline]
pub(crate) fn segment_distance_m(scale: Scale, qx: f64, qy: f64, seg: &[f64; 4]) -> f64 {
    let ax = (seg[0] - qx) * scale.kx;
    let ay = (seg[1] - qy) * scale.ky;
    let dx = (seg[2] - qx) * scale.kx - ax;
    let dy = (seg[3] - qy) * scale.ky - ay;
    let len2 = dx * dx + dy * dy;
    // Parameter of the fix's projection onto the segment's line, clamped to
    // the segment. A zero-length segment is its first point.
    let t = if len2 > 0.0 {
        (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let px = ax + t * dx;
    let py = ay + t * dy;
    (px * px + py * py).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Geodesic, Point};

    /// The documented error bounds, measured against Karney's geodesic on
    /// WGS 84 around Moscow, in all directions.
    #[test]
    fn error_bound() {
        for &(max_dist, bound) in &[(2_000.0, 1e-4), (20_000.0, 1e-3), (150_000.0, 1e-2)] {
            let mut worst: f64 = 0.0;
            for lat in [54.0, 55.75, 57.0] {
                let q = Point::new(37.6, lat);
                for k in 0..72 {
                    let bearing = k as f64 * 5.0;
                    for frac in [0.05, 0.3, 1.0] {
                        let d = max_dist * frac;
                        let p = geo::Destination::destination(&Geodesic, q, bearing, d);
                        let seg = [p.x(), p.y(), p.x(), p.y()];
                        let local = segment_distance_m(Scale::at(lat), q.x(), q.y(), &seg);
                        let true_d = Geodesic.distance(q, p);
                        worst = worst.max((local - true_d).abs() / true_d);
                    }
                }
            }
            assert!(
                worst < bound,
                "{max_dist} m: relative error {worst} >= {bound}"
            );
        }
    }

    #[test]
    fn distance_to_segment_interior_and_ends() {
        let s = Scale::at(55.0);
        // A north-south segment 0.01° east of the fix: the distance is the
        // east-west one.
        let seg = [37.01, 54.9, 37.01, 55.1];
        let d = segment_distance_m(s, 37.0, 55.0, &seg);
        assert!((d - 0.01 * s.kx).abs() < 1e-9);
        // Past the segment's end: distance to the end point.
        let seg = [37.0, 55.01, 37.0, 55.02];
        let d = segment_distance_m(s, 37.0, 55.0, &seg);
        assert!((d - 0.01 * s.ky).abs() < 1e-9);
        // Degenerate segment.
        let seg = [37.0, 55.0, 37.0, 55.0];
        assert_eq!(segment_distance_m(s, 37.0, 55.0, &seg), 0.0);
    }
}
