//! Inside or outside the pilot region, on the real boundaries.
//!
//! # What is decided, and why
//!
//! The experiment (Federal Law 121-FZ) covers two federal subjects, the city
//! of Moscow and Moscow Oblast. A fix is classified against their real
//! boundary polygons (OpenStreetMap, ODbL; see `data/regions/PROVENANCE.md`)
//! into a [`Zone`]:
//!
//! - [`Zone::Uncertain`] when the accuracy circle (centre, radius = the
//!   phone's reported accuracy) reaches the **outer** boundary of the pilot
//!   area, the boundary of the union of all pilot regions. Then the person
//!   may be on either side, and the design forbids calling such a fix
//!   "outside": leaving the region has consequences for the person, so the
//!   system says so only when the whole circle is out. A centre that is out
//!   but whose circle reaches the pilot area is uncertain too.
//! - [`Zone::Inside`] the region containing the centre otherwise, even when
//!   the circle crosses the border *between* two pilot regions: moving
//!   between Moscow and the oblast needs no notice, so there is nothing to
//!   be uncertain about. Regions are closed sets: a point on the shared
//!   border is in both, and the first listed wins (Moscow), the same priority
//!   the data's own processing gave Moscow where the sources overlapped.
//! - [`Zone::Outside`] when the centre is in no pilot region and the circle
//!   does not reach the pilot area.
//!
//! The outer boundary is computed at load as a polygon union, not taken as
//! the oblast's outer ring: New Moscow reaches the oblast's outer edge at
//! the Kaluga border, the oblast's nine holes are Moscow exclaves, and the
//! two source files disagree in places. Slivers between the two files
//! ("seams", 88 of them, 0.44 km²) count as inside. The `topology`
//! submodule gives the reasons.
//!
//! # Two implementations
//!
//! [`Geofence::classify_exact`] is the reference: `geo`'s point-in-polygon
//! (boundary included) for each region in order, and a brute-force minimum
//! over all 13,247 outer-boundary segments. It is plainly right, and slow:
//! about 100 µs a fix.
//!
//! [`Geofence::classify`] is the fast path for the 10,000+ fixes a second
//! the pilot needs. A two-level grid (the `grid` submodule) answers a fix
//! far from every boundary with one table read; near the outer boundary it
//! reads the few segments listed for the fix's 62 m sub-cell (an R-tree for
//! radii over 100 m); near a region border it tests the few edges crossing
//! the sub-cell. Load takes ~0.1–0.2 s and ~20 MB. It gives the same answer
//! as the reference for **every** input, not just most: exact orientation
//! predicates and conservative distance bounds, explained in the `grid`
//! submodule. The tests cross-check the two on some 40,000 random fixes
//! concentrated at the boundaries, on vertices and in the seams, and check
//! the fast path's distance bounds on 20,000 more.
//!
//! Distances are metres in the plane tangent to the WGS 84 ellipsoid at the
//! fix (the `metric` submodule: error < 0.01 % up to 2 km, which is 10 cm at
//! the largest radius phones report).
//!
//! Inputs are expected to be validated already (see `types`); still, nothing
//! here panics: a non-finite coordinate, or a negative or NaN accuracy, is
//! [`Zone::Uncertain`] in both implementations.

mod geojson;
mod grid;
mod metric;
mod topology;

use std::fmt;

use geo::{Coord, Intersects, MultiPolygon, Validation};
use rstar::primitives::{GeomWithData, Line};
use rstar::{RTree, AABB};

use grid::Grid;
use metric::{segment_distance_m, Scale};

/// The boundary file shipped with the binary (RU-MOW, RU-MOS; OSM, ODbL).
pub const EMBEDDED_GEOJSON: &str =
    include_str!("../../../../data/regions/moscow-region-boundaries.geojson");

/// The pilot as configured by default: `(ISO 3166-2 code, slug)`, in
/// priority order (a point on a shared border goes to the first).
pub const DEFAULT_PILOT: &[(&str, &str)] = &[("RU-MOW", "moscow"), ("RU-MOS", "moscow_oblast")];

/// At most this many pilot regions (so region sets fit in a machine word).
pub const MAX_REGIONS: usize = 16;

/// Index of a pilot region in [`Geofence::regions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionIndex(pub u8);

/// Where a fix is, as far as its accuracy allows to tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Zone {
    /// In this pilot region, and the accuracy circle stays in the pilot area.
    Inside(RegionIndex),
    /// Out of every pilot region, and the circle does not reach them.
    Outside,
    /// The accuracy circle reaches the outer boundary of the pilot area.
    Uncertain,
}

/// A pilot region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// ISO 3166-2 code, e.g. `RU-MOW`.
    pub code: String,
    /// Stable machine name used in storage and APIs, e.g. `moscow`.
    pub slug: String,
    pub name_en: String,
    pub name_ru: String,
}

/// Why a boundary file or a pilot configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeofenceError {
    #[error("region file is not valid JSON: {0}")]
    Json(String),
    #[error("region file is not a GeoJSON FeatureCollection")]
    NotFeatureCollection,
    #[error("pilot region {0} is not in the region file")]
    MissingRegion(String),
    #[error("region {0} appears more than once in the region file")]
    DuplicateRegion(String),
    #[error("region {code}: {reason}")]
    BadGeometry { code: String, reason: String },
    #[error("the pilot lists no region")]
    EmptyPilot,
    #[error("the pilot lists more than {max} regions")]
    TooManyRegions { max: usize },
    #[error("pilot region code {0} is listed twice")]
    DuplicateCode(String),
    #[error("slug {0:?} is empty, reserved (outside, uncertain) or listed twice")]
    BadSlug(String),
}

/// Part of the pilot area that maps to one region: a region itself, or the
/// seams assigned to it. Checked in order; the first containing a point wins.
#[derive(Clone)]
pub(crate) struct Area {
    pub region: u8,
    pub shape: MultiPolygon<f64>,
}

type OuterSegment = GeomWithData<Line<[f64; 2]>, u32>;

/// The pilot area, ready to classify fixes. Build once (tens of
/// milliseconds) and share: it is immutable, `Send` and `Sync`.
#[derive(Clone)]
pub struct Geofence {
    regions: Vec<Region>,
    areas: Vec<Area>,
    /// Outer boundary segments, `[lon0, lat0, lon1, lat1]`.
    outer: Vec<[f64; 4]>,
    /// The same segments in a plane scaled by `tree_scale` (roughly metres),
    /// so that the tree's nearest-neighbour order is nearly the metric one.
    outer_tree: RTree<OuterSegment>,
    tree_scale: Scale,
    grid: Grid,
    seam_count: usize,
}

impl fmt::Debug for Geofence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (nx, ny, refined, mixed) = self.grid.dims();
        f.debug_struct("Geofence")
            .field("regions", &self.regions)
            .field("outer_segments", &self.outer.len())
            .field("seams", &self.seam_count)
            .field(
                "grid",
                &format_args!("{nx}x{ny}, {refined} refined, {mixed} mixed sub-cells"),
            )
            .field("grid_bytes", &self.grid.heap_bytes())
            .finish()
    }
}

impl Geofence {
    /// Reads the pilot regions from a GeoJSON FeatureCollection whose
    /// features carry a `code` property. `pilot` lists `(code, slug)` in
    /// priority order. Features of other codes are ignored.
    ///
    /// Every pilot region's geometry must be valid in the OGC sense (no
    /// self-intersecting ring, holes inside their shell, polygons of one
    /// region not overlapping): on an invalid one the fast path and the
    /// exact reference would disagree about who is inside. The check costs
    /// seconds on the real boundaries; [`Geofence::from_embedded`] skips it
    /// for the shipped file, which the test suite checks instead.
    pub fn from_geojson(geojson: &str, pilot: &[(&str, &str)]) -> Result<Self, GeofenceError> {
        Self::build(geojson, pilot, true)
    }

    /// The shipped boundaries (`data/regions/moscow-region-boundaries.geojson`)
    /// with a configured pilot.
    pub fn from_embedded(pilot: &[(&str, &str)]) -> Result<Self, GeofenceError> {
        Self::build(EMBEDDED_GEOJSON, pilot, false)
    }

    fn build(geojson: &str, pilot: &[(&str, &str)], validate: bool) -> Result<Self, GeofenceError> {
        if pilot.is_empty() {
            return Err(GeofenceError::EmptyPilot);
        }
        if pilot.len() > MAX_REGIONS {
            return Err(GeofenceError::TooManyRegions { max: MAX_REGIONS });
        }
        for (k, (code, slug)) in pilot.iter().enumerate() {
            if pilot[..k].iter().any(|(c, _)| c == code) {
                return Err(GeofenceError::DuplicateCode(code.to_string()));
            }
            if slug.is_empty()
                || *slug == "outside"
                || *slug == "uncertain"
                || pilot[..k].iter().any(|(_, s)| s == slug)
            {
                return Err(GeofenceError::BadSlug(slug.to_string()));
            }
        }
        let codes: Vec<&str> = pilot.iter().map(|(c, _)| *c).collect();
        let parsed = geojson::read_regions(geojson, &codes)?;
        if validate {
            for (p, code) in parsed.iter().zip(&codes) {
                p.shape
                    .check_validation()
                    .map_err(|e| GeofenceError::BadGeometry {
                        code: code.to_string(),
                        reason: format!("invalid geometry: {e}"),
                    })?;
            }
        }

        let mut regions = Vec::with_capacity(parsed.len());
        let mut areas = Vec::with_capacity(parsed.len());
        for (index, (p, (code, slug))) in parsed.into_iter().zip(pilot).enumerate() {
            regions.push(Region {
                code: code.to_string(),
                slug: slug.to_string(),
                name_en: p.name_en,
                name_ru: p.name_ru,
            });
            // index < MAX_REGIONS = 16, checked above.
            areas.push(Area {
                region: index as u8,
                shape: p.shape,
            });
        }

        let shapes: Vec<MultiPolygon<f64>> = areas.iter().map(|a| a.shape.clone()).collect();
        let topo = topology::compute(&shapes);
        areas.extend(
            topo.seams
                .into_iter()
                .map(|(region, shape)| Area { region, shape }),
        );

        let grid = Grid::build(&areas, &topo.outer);
        let mid_lat = topo
            .outer
            .iter()
            .map(|s| s[1])
            .fold(0.0, |sum, y| sum + y / topo.outer.len() as f64);
        let tree_scale = Scale::at(mid_lat);
        let outer_tree = RTree::bulk_load(
            topo.outer
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let a = [s[0] * tree_scale.kx, s[1] * tree_scale.ky];
                    let b = [s[2] * tree_scale.kx, s[3] * tree_scale.ky];
                    // Fewer than 2^32 segments: the file is a few MB.
                    GeomWithData::new(Line::new(a, b), k as u32)
                })
                .collect(),
        );

        Ok(Geofence {
            regions,
            areas,
            outer: topo.outer,
            outer_tree,
            tree_scale,
            grid,
            seam_count: topo.seam_count,
        })
    }

    /// The shipped boundaries (`data/regions/moscow-region-boundaries.geojson`)
    /// with the default pilot, Moscow then Moscow Oblast.
    pub fn embedded() -> Self {
        Self::from_embedded(DEFAULT_PILOT).expect(
            "invariant: the embedded file holds RU-MOW and RU-MOS as valid MultiPolygons \
             (checked by the geofence tests on every build)",
        )
    }

    /// The pilot regions, in priority order; `RegionIndex(i)` is `regions()[i]`.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The outer boundary of the pilot area as segments `[lon0, lat0, lon1,
    /// lat1]` (WGS 84 degrees): for drawing the area on a map, and for
    /// benchmarks and tests that need points near it.
    pub fn outer_boundary_segments(&self) -> &[[f64; 4]] {
        &self.outer
    }

    /// Classifies a fix (WGS 84 degrees; accuracy radius in metres). The
    /// fast path; always equal to [`Geofence::classify_exact`].
    pub fn classify(&self, lat: f64, lon: f64, accuracy_m: f64) -> Zone {
        if !valid(lat, lon, accuracy_m) {
            return Zone::Uncertain;
        }
        let cell = self.grid.lookup(lon, lat);
        if accuracy_m >= cell.dist_m {
            let reaches = if accuracy_m < grid::NEAR_COVER_M && cell.in_grid {
                // Here the fix is in a refined cell (unrefined ones have
                // bounds of at least NEAR_COVER_M), whose list holds every
                // segment within NEAR_COVER_M, sorted by a lower bound of
                // the distance: stop at the first that cannot be within the
                // radius.
                let scale = Scale::at(lat);
                self.grid
                    .near_segments(cell.near)
                    .iter()
                    .take_while(|&&(_, bound)| f64::from(bound) <= accuracy_m)
                    .any(|&(s, _)| self.segment_distance(scale, lat, lon, s) <= accuracy_m)
            } else {
                self.reaches_outer(lat, lon, accuracy_m)
            };
            if reaches {
                return Zone::Uncertain;
            }
        }
        match self.grid.region(cell.code, lon, lat, &self.areas) {
            Some(r) => Zone::Inside(RegionIndex(r)),
            None => Zone::Outside,
        }
    }

    /// The reference implementation: `geo` point-in-polygon (boundary
    /// included) over the regions (and seams) in order, then the distance to
    /// every outer-boundary segment. Slow (~100 µs); for tests and benchmarks.
    pub fn classify_exact(&self, lat: f64, lon: f64, accuracy_m: f64) -> Zone {
        if !valid(lat, lon, accuracy_m) {
            return Zone::Uncertain;
        }
        let q = Coord { x: lon, y: lat };
        let region = self.areas.iter().find(|a| a.shape.intersects(&q));
        let scale = Scale::at(lat);
        let nearest = self
            .outer
            .iter()
            .map(|s| segment_distance_m(scale, lon, lat, s))
            .fold(f64::INFINITY, f64::min);
        if nearest <= accuracy_m {
            Zone::Uncertain
        } else {
            match region {
                Some(a) => Zone::Inside(RegionIndex(a.region)),
                None => Zone::Outside,
            }
        }
    }

    /// `moscow`, `moscow_oblast` (the configured slugs), `outside` or
    /// `uncertain`. An index this geofence did not hand out reads as
    /// `uncertain`: it says nothing about where the fix is.
    pub fn slug(&self, zone: Zone) -> &str {
        match zone {
            Zone::Inside(RegionIndex(i)) => self
                .regions
                .get(usize::from(i))
                .map_or("uncertain", |r| r.slug.as_str()),
            Zone::Outside => "outside",
            Zone::Uncertain => "uncertain",
        }
    }

    /// The inverse of [`Geofence::slug`].
    pub fn zone_from_slug(&self, s: &str) -> Option<Zone> {
        match s {
            "outside" => Some(Zone::Outside),
            "uncertain" => Some(Zone::Uncertain),
            _ => self
                .regions
                .iter()
                .position(|r| r.slug == s)
                // Fewer than MAX_REGIONS = 16 regions.
                .map(|i| Zone::Inside(RegionIndex(i as u8))),
        }
    }

    /// Distance in metres from the point to the outer boundary of the pilot
    /// area: the figure the classification compares the accuracy with (a fix
    /// is uncertain iff its accuracy is at least this). Exact to < 0.1 % up
    /// to 20 km, then a rough figure (see the `metric` submodule). NaN for a
    /// non-finite input.
    pub fn distance_to_outer_boundary_m(&self, lat: f64, lon: f64) -> f64 {
        if !(lat.is_finite() && lon.is_finite()) {
            return f64::NAN;
        }
        let scale = Scale::at(lat);
        let t = self.tree_scale;
        let Some(candidate) = self.outer_tree.nearest_neighbor([lon * t.kx, lat * t.ky]) else {
            return f64::INFINITY;
        };
        // The tree's plane is not exactly the fix's, so its nearest segment
        // is only a candidate: look at everything that could be closer.
        let bound = self.segment_distance(scale, lat, lon, candidate.data);
        self.outer_tree
            .locate_in_envelope_intersecting(self.envelope(scale, lat, lon, bound))
            .map(|s| self.segment_distance(scale, lat, lon, s.data))
            .fold(bound, f64::min)
    }

    fn segment_distance(&self, scale: Scale, lat: f64, lon: f64, index: u32) -> f64 {
        self.outer
            .get(index as usize)
            .map_or(f64::INFINITY, |s| segment_distance_m(scale, lon, lat, s))
    }

    /// Whether some outer segment is within `r` metres of the fix, by the
    /// same distance the reference computes.
    fn reaches_outer(&self, lat: f64, lon: f64, r: f64) -> bool {
        let scale = Scale::at(lat);
        self.outer_tree
            .locate_in_envelope_intersecting(self.envelope(scale, lat, lon, r))
            .any(|s| self.segment_distance(scale, lat, lon, s.data) <= r)
    }

    /// A tree-plane box holding every segment within `r` metres of the fix
    /// (grown by 10⁻⁹ relative and 10⁻¹² degrees against rounding).
    fn envelope(&self, scale: Scale, lat: f64, lon: f64, r: f64) -> AABB<[f64; 2]> {
        let half = |k: f64| {
            let h = r / k * (1.0 + 1e-9) + 1e-12;
            // 0/0 at a pole with r = 0, or an overflow: take everything.
            if h >= 0.0 {
                h
            } else {
                f64::INFINITY
            }
        };
        let (hx, hy) = (half(scale.kx), half(scale.ky));
        let t = self.tree_scale;
        AABB::from_corners(
            [(lon - hx) * t.kx, (lat - hy) * t.ky],
            [(lon + hx) * t.kx, (lat + hy) * t.ky],
        )
    }
}

fn valid(lat: f64, lon: f64, accuracy_m: f64) -> bool {
    lat.is_finite() && lon.is_finite() && accuracy_m >= 0.0
}

#[cfg(test)]
mod tests;
