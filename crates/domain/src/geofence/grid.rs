//! The fast path: a two-level grid over the pilot area's bounding box.
//!
//! Top level: cells of about 500 m × 500 m (3 MB for the pilot). A cell far
//! from every boundary stores which region it is in and a lower bound, in
//! metres, on the distance from any of its points to the outer boundary. A
//! fix in such a cell with an accuracy radius below the bound is answered in
//! O(1): that is most fixes.
//!
//! Cells crossed by a region edge, or closer than `NEAR_COVER_M` (100 m) to
//! the outer boundary, are refined into 8 × 8 sub-cells of about 62 m
//! (7,200 cells, 7 MB). Each sub-cell has its own distance bound and is
//! either entirely in one region (or none), or *mixed*: it keeps the region
//! edges crossing it, a reference point `c` and which regions contain `c`. A
//! fix `q` in a mixed sub-cell is in region R iff `c` is, flipped once per
//! R-edge crossed by the segment `c`–`q` (which never leaves the sub-cell),
//! or `q` lies on an R-edge. A fix whose radius reaches its sub-cell's bound
//! reads the sub-cell's list of outer segments within `NEAR_COVER_M`, sorted
//! by a lower bound of their distance, and stops at the first bound above
//! the radius; radii over `NEAR_COVER_M` go to the caller's R-tree.
//!
//! Why two levels: at 62 m resolution only fixes within their own accuracy
//! plus ~60 m of a boundary need more than a table read, while a uniform
//! 62 m grid over the pilot would take 200 MB. Near-boundary fixes matter:
//! people live in the towns along the oblast's edge and along MKAD. The
//! sub-cell keeps its list position next to its bound and code so that such
//! a fix costs few cache misses: at this size the fast path is bound by
//! memory latency, not arithmetic.
//!
//! The whole grid is about 19 MB for the pilot and builds in ~0.1 s.
//!
//! Exactness. The fast path must give the same answer as the reference
//! implementation for every input, not just usually. So:
//! - every orientation test is exact (Shewchuk's filtered predicate, the
//!   one `geo` uses), and vertices lying exactly on the line `c`–`q` are
//!   consistently counted on one side (a symbolic perturbation), so the
//!   crossing parity is exact; `c` is chosen off every edge's line;
//! - a point on a region's boundary belongs to the region, as in `geo`'s
//!   `intersects` (regions are closed sets);
//! - distance bounds use the smallest metres-per-degree over the grid's
//!   latitudes, shrunk by 10⁻⁶ and 1 mm, so they never exceed the distance
//!   the reference computes;
//! - edges are assigned to every cell they come within 10⁻⁹° of, so float
//!   rounding of a fix's cell index cannot hide an edge;
//! - the states of cells without edges are found by sweeping along rows with
//!   plain floating point: such a cell's centre is at least half a cell from
//!   every edge, a margin 10¹⁰ times the rounding error.

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, Intersects};

use super::metric::Scale;
use super::Area;

/// Target top-level cell edge in metres.
const TARGET_CELL_M: f64 = 500.0;
/// Sub-cells per top-level cell edge.
const SUB: usize = 8;
/// Upper bound on the number of top-level cells, should someone configure
/// far-apart regions; cells grow instead.
const MAX_CELLS: usize = 2_000_000;
/// Margin, in degrees, by which cells are grown when assigning edges.
const EPS_DEG: f64 = 1e-9;
/// Top cells within this many cells of an outer segment get an exact
/// cell-to-segment distance; farther ones a chessboard bound.
const SPLAT_K: usize = 3;
/// Top cells closer than this to the outer boundary are refined, and each
/// of their sub-cells lists the outer segments within this distance, sorted
/// by a lower bound of their distance: a fix with an accuracy radius below
/// this is decided from the head of a short list instead of a tree search.
/// Satellite fixes report 3–50 m; larger radii (network location) near the
/// boundary take the R-tree, ~0.4 µs instead of ~0.1 µs.
pub(crate) const NEAR_COVER_M: f64 = 100.0;
/// Top-level `code` flag of a refined cell; the low bits index `blocks`.
const BLOCK: u32 = 1 << 30;
/// `code` flag of a mixed cell; the low bits index its `MixedSet`.
const MIXED: u32 = 1 << 31;
/// `code` of a cell for which no reference point could be found (never seen
/// in practice): the region is decided by the reference implementation.
const EXACT: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Cell {
    /// Lower bound on the distance to the outer boundary, metres.
    dist_m: f32,
    /// 0: outside every area; 1 + r: inside region r; `MIXED | i` (sub-cells
    /// and, during the build, top cells); `BLOCK | b` (top cells); `EXACT`.
    code: u32,
}

/// A sub-cell: a `Cell` plus its near list, `near[near..near + n_near]`,
/// kept together so that a fix near the boundary costs one cache miss here.
#[derive(Clone, Copy, Debug)]
struct SubCell {
    cell: Cell,
    near: u32,
    n_near: u32,
}

#[derive(Clone, Copy, Debug)]
struct CellEdge {
    a: Coord<f64>,
    b: Coord<f64>,
    /// Whether the cell's reference point is to the left of `a`→`b`.
    c_left: bool,
    /// The area the edge bounds.
    area: u8,
}

#[derive(Clone, Debug)]
struct Mixed {
    /// Reference point, strictly inside the cell, on no edge's line.
    c: Coord<f64>,
    /// Bit `a`: area `a` contains `c`.
    inside: u32,
    /// The cell's edges: `edges[start..start + len]`.
    start: u32,
    len: u32,
}

/// The mixed cells of one level, with their edges.
#[derive(Clone, Debug, Default)]
struct MixedSet {
    mixed: Vec<Mixed>,
    edges: Vec<CellEdge>,
}

/// An area edge: (area index, `[x0, y0, x1, y1]`).
type AreaEdge = (u8, [f64; 4]);

/// Orientation of `c` relative to `a`→`b`, exactly. Shewchuk's first-stage
/// filter inline (the same bound `robust::orient2d` starts with): when the
/// float determinant is larger than its worst-case rounding error its sign
/// is right; otherwise the adaptive-precision predicate decides.
#[inline]
fn orient(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>) -> Orientation {
    const EPS: f64 = f64::EPSILON / 2.0;
    const CCW_ERR_BOUND_A: f64 = (3.0 + 16.0 * EPS) * EPS;
    let left = (a.x - c.x) * (b.y - c.y);
    let right = (a.y - c.y) * (b.x - c.x);
    let det = left - right;
    let bound = CCW_ERR_BOUND_A * (left.abs() + right.abs());
    if det > bound {
        Orientation::CounterClockwise
    } else if -det > bound {
        Orientation::Clockwise
    } else {
        RobustKernel::orient2d(a, b, c)
    }
}

fn ends(s: &[f64; 4]) -> (Coord<f64>, Coord<f64>) {
    (Coord { x: s[0], y: s[1] }, Coord { x: s[2], y: s[3] })
}

/// Whether segment `s` may touch the rectangle `r` grown by `EPS_DEG`
/// (conservative: never false when it does).
fn touches(s: &[f64; 4], r: [f64; 4]) -> bool {
    let (x0, y0, x1, y1) = (
        r[0] - EPS_DEG,
        r[1] - EPS_DEG,
        r[2] + EPS_DEG,
        r[3] + EPS_DEG,
    );
    if s[0].max(s[2]) < x0 || s[0].min(s[2]) > x1 || s[1].max(s[3]) < y0 || s[1].min(s[3]) > y1 {
        return false;
    }
    // Separating axis along the segment's normal: all four corners strictly
    // on one side means no contact. The corners are EPS_DEG outside the
    // cell, far more than the rounding of these products.
    let (dx, dy) = (s[2] - s[0], s[3] - s[1]);
    let side = |x: f64, y: f64| dx * (y - s[1]) - dy * (x - s[0]);
    let sides = [side(x0, y0), side(x1, y0), side(x0, y1), side(x1, y1)];
    !(sides.iter().all(|&v| v > 0.0) || sides.iter().all(|&v| v < 0.0))
}

/// Parity of the crossings of the horizontal line at `y` with `edges`
/// between `x_from` (exclusive) and `x_to` (inclusive), as an area bit mask.
/// Plain floating point: only used between points far from every edge.
fn crossing_mask(edges: &[AreaEdge], y: f64, x_from: f64, x_to: f64) -> u32 {
    let mut mask = 0;
    for (area, s) in edges {
        if (s[1] > y) != (s[3] > y) {
            let x = s[0] + (y - s[1]) * (s[2] - s[0]) / (s[3] - s[1]);
            if x > x_from && x <= x_to {
                mask ^= 1 << area;
            }
        }
    }
    mask
}

impl MixedSet {
    /// Records a mixed cell covering `rect` with `edges` (sorted by area).
    /// `mask_of` must give, exactly, the areas containing a point of the
    /// cell that is on no edge. Returns the cell's code.
    fn add(
        &mut self,
        rect: [f64; 4],
        edges: &[AreaEdge],
        mask_of: impl Fn(Coord<f64>) -> u32,
    ) -> u32 {
        // Candidate reference points: the centre, then a low-discrepancy
        // sequence; the first one off every edge's line wins.
        let candidate = |k: usize| {
            let (fx, fy) = if k == 0 {
                (0.5, 0.5)
            } else {
                (halton(k, 2) * 0.9 + 0.05, halton(k, 3) * 0.9 + 0.05)
            };
            Coord {
                x: rect[0] + fx * (rect[2] - rect[0]),
                y: rect[1] + fy * (rect[3] - rect[1]),
            }
        };
        let off_all_lines = |c: Coord<f64>| {
            edges.iter().all(|(_, s)| {
                let (a, b) = ends(s);
                orient(a, b, c) != Orientation::Collinear
            })
        };
        let Some(c) = (0..64).map(candidate).find(|&c| off_all_lines(c)) else {
            return EXACT;
        };
        let index = self.mixed.len() as u32;
        let start = self.edges.len() as u32;
        for (area, s) in edges {
            let (a, b) = ends(s);
            self.edges.push(CellEdge {
                a,
                b,
                c_left: orient(a, b, c) == Orientation::CounterClockwise,
                area: *area,
            });
        }
        self.mixed.push(Mixed {
            c,
            inside: mask_of(c),
            start,
            len: edges.len() as u32,
        });
        MIXED | index
    }

    /// The areas containing `q` (boundary included; a point of mixed cell
    /// `index`), as a mask.
    #[inline]
    fn mask_at(&self, index: u32, q: Coord<f64>) -> u32 {
        let Some(m) = self.mixed.get(index as usize) else {
            return 0;
        };
        let (start, end) = (m.start as usize, m.start as usize + m.len as usize);
        let mut inside = m.inside;
        let mut on = 0u32;
        // Bounding box of the segment c–q: an edge whose box misses it can
        // neither contain q nor cross c–q.
        let (lo_x, hi_x) = (m.c.x.min(q.x), m.c.x.max(q.x));
        let (lo_y, hi_y) = (m.c.y.min(q.y), m.c.y.max(q.y));
        for e in self.edges.get(start..end).unwrap_or(&[]) {
            if e.a.x.max(e.b.x) < lo_x
                || e.a.x.min(e.b.x) > hi_x
                || e.a.y.max(e.b.y) < lo_y
                || e.a.y.min(e.b.y) > hi_y
            {
                continue;
            }
            match orient(e.a, e.b, q) {
                Orientation::Collinear => {
                    // On the edge's line: on the boundary if within the
                    // segment (then in the area), else no crossing.
                    if e.a.x.min(e.b.x) <= q.x
                        && q.x <= e.a.x.max(e.b.x)
                        && e.a.y.min(e.b.y) <= q.y
                        && q.y <= e.a.y.max(e.b.y)
                    {
                        on |= 1 << e.area;
                    }
                }
                o => {
                    // c and q strictly on opposite sides of the edge's line,
                    // and the edge's ends on opposite sides of c–q (an end
                    // on c–q counts as right of it).
                    if (o == Orientation::CounterClockwise) != e.c_left
                        && (orient(m.c, q, e.a) == Orientation::CounterClockwise)
                            != (orient(m.c, q, e.b) == Orientation::CounterClockwise)
                    {
                        inside ^= 1 << e.area;
                    }
                }
            }
        }
        inside | on
    }

    /// The edges of mixed cell `index`, with their areas.
    fn area_edges(&self, index: u32) -> Vec<AreaEdge> {
        let Some(m) = self.mixed.get(index as usize) else {
            return Vec::new();
        };
        let (start, end) = (m.start as usize, m.start as usize + m.len as usize);
        self.edges
            .get(start..end)
            .unwrap_or(&[])
            .iter()
            .map(|e| (e.area, [e.a.x, e.a.y, e.b.x, e.b.y]))
            .collect()
    }

    fn heap_bytes(&self) -> usize {
        self.mixed.len() * std::mem::size_of::<Mixed>()
            + self.edges.len() * std::mem::size_of::<CellEdge>()
    }
}

/// What the grid knows about a fix.
pub(crate) struct Lookup {
    /// Lower bound on the distance to the outer boundary, metres.
    pub dist_m: f64,
    /// Region code of the fix's (sub-)cell; 0 (outside) outside the grid.
    pub code: u32,
    /// The sub-cell's near list, `(start, len)` in `Grid::near`; empty in
    /// an unrefined cell and outside the grid.
    pub near: (u32, u32),
    /// Whether the fix is in the grid (else it is outside every area).
    pub in_grid: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Grid {
    x0: f64,
    y0: f64,
    cw: f64,
    ch: f64,
    inv_cw: f64,
    inv_ch: f64,
    nx: usize,
    ny: usize,
    n_areas: usize,
    cells: Vec<Cell>,
    blocks: Vec<[SubCell; SUB * SUB]>,
    /// Mixed sub-cells.
    mixed: MixedSet,
    area_region: Vec<u8>,
    /// Near lists of the sub-cells: the outer segments within `NEAR_COVER_M`
    /// of the sub-cell, as (segment index, lower bound of its distance in
    /// metres), by ascending bound.
    near: Vec<(u32, f32)>,
    /// Bounding box of all areas and outer segments: [min x, min y, max x, max y].
    bbox: [f64; 4],
    /// Smallest metres per degree of longitude over the bbox's latitudes.
    kx_band: f64,
    /// Smallest metres per degree of latitude anywhere (at the equator).
    ky_equator: f64,
    /// Smallest metres per degree over the grid's latitudes, shrunk.
    k_min: Scale,
}

impl Grid {
    pub fn build(areas: &[Area], outer: &[[f64; 4]]) -> Grid {
        // Flat list of area edges.
        let mut area_edges: Vec<AreaEdge> = Vec::new();
        for (index, area) in areas.iter().enumerate() {
            for polygon in &area.shape.0 {
                for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                    for w in ring.0.windows(2) {
                        // At most 32 areas (16 regions and their seams).
                        area_edges.push((index as u8, [w[0].x, w[0].y, w[1].x, w[1].y]));
                    }
                }
            }
        }

        let mut bbox = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for s in area_edges.iter().map(|(_, s)| s).chain(outer) {
            bbox[0] = bbox[0].min(s[0]).min(s[2]);
            bbox[1] = bbox[1].min(s[1]).min(s[3]);
            bbox[2] = bbox[2].max(s[0]).max(s[2]);
            bbox[3] = bbox[3].max(s[1]).max(s[3]);
        }

        // Cell size: TARGET_CELL_M at the middle latitude, grown if needed.
        let mid = Scale::at((bbox[1] + bbox[3]) / 2.0);
        let (width, height) = (bbox[2] - bbox[0], bbox[3] - bbox[1]);
        let mut cw = TARGET_CELL_M / mid.kx.max(1.0);
        let mut ch = TARGET_CELL_M / mid.ky;
        let count = |cw: f64, ch: f64| ((width / cw).ceil() + 4.0) * ((height / ch).ceil() + 4.0);
        let n = count(cw, ch);
        if n > MAX_CELLS as f64 {
            let grow = (n / MAX_CELLS as f64).sqrt() * 1.01;
            cw *= grow;
            ch *= grow;
        }
        let nx = (width / cw).ceil() as usize + 4;
        let ny = (height / ch).ceil() as usize + 4;
        let y0 = bbox[1] - 2.0 * ch;
        let band = Scale::min_over_band(y0, y0 + ny as f64 * ch);

        let mut grid = Grid {
            x0: bbox[0] - 2.0 * cw,
            y0,
            cw,
            ch,
            inv_cw: 1.0 / cw,
            inv_ch: 1.0 / ch,
            nx,
            ny,
            n_areas: areas.len(),
            cells: vec![
                Cell {
                    dist_m: 0.0,
                    code: 0
                };
                nx * ny
            ],
            blocks: Vec::new(),
            mixed: MixedSet::default(),
            area_region: areas.iter().map(|a| a.region).collect(),
            near: Vec::new(),
            bbox,
            kx_band: Scale::min_over_band(bbox[1], bbox[3]).kx * (1.0 - 1e-9),
            ky_equator: Scale::min_ky_anywhere() * (1.0 - 1e-9),
            k_min: Scale {
                kx: band.kx * (1.0 - 1e-9),
                ky: band.ky * (1.0 - 1e-9),
            },
        };
        let top = grid.fill_regions(areas, &area_edges);
        grid.fill_distances(outer);
        grid.refine(&top);
        grid.fill_near(outer);
        grid
    }

    fn cell_rect(&self, i: usize, j: usize) -> [f64; 4] {
        let x = self.x0 + i as f64 * self.cw;
        let y = self.y0 + j as f64 * self.ch;
        [x, y, x + self.cw, y + self.ch]
    }

    fn sub_rect(&self, i: usize, j: usize, si: usize, sj: usize) -> [f64; 4] {
        let (sw, sh) = (self.cw / SUB as f64, self.ch / SUB as f64);
        let x = self.x0 + i as f64 * self.cw + si as f64 * sw;
        let y = self.y0 + j as f64 * self.ch + sj as f64 * sh;
        [x, y, x + sw, y + sh]
    }

    /// Cell index range (inclusive) covered by a segment's bbox grown by
    /// `EPS_DEG` and then by `k` cells, clamped to the grid.
    fn cell_span(&self, s: &[f64; 4], k: usize) -> (usize, usize, usize, usize) {
        let clamp = |v: f64, n: usize| (v.floor().max(0.0) as usize).min(n - 1);
        let i0 = clamp((s[0].min(s[2]) - EPS_DEG - self.x0) * self.inv_cw, self.nx);
        let i1 = clamp((s[0].max(s[2]) + EPS_DEG - self.x0) * self.inv_cw, self.nx);
        let j0 = clamp((s[1].min(s[3]) - EPS_DEG - self.y0) * self.inv_ch, self.ny);
        let j1 = clamp((s[1].max(s[3]) + EPS_DEG - self.y0) * self.inv_ch, self.ny);
        (
            i0.saturating_sub(k),
            (i1 + k).min(self.nx - 1),
            j0.saturating_sub(k),
            (j1 + k).min(self.ny - 1),
        )
    }

    /// Top level: the region of every cell without edges, and a mixed
    /// record (returned, used to build the sub-cells) for every other.
    fn fill_regions(&mut self, areas: &[Area], area_edges: &[AreaEdge]) -> MixedSet {
        let mut top = MixedSet::default();
        // (cell, area, edge) incidences, then grouped by cell and area.
        let mut incidences: Vec<(u32, u8, u32)> = Vec::new();
        // Row buckets: edges whose y-range meets the row, for exact ray casts.
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); self.ny];
        for (e, (area, s)) in area_edges.iter().enumerate() {
            let (i0, i1, j0, j1) = self.cell_span(s, 0);
            for (j, row) in rows.iter_mut().enumerate().take(j1 + 1).skip(j0) {
                row.push(e as u32);
                for i in i0..=i1 {
                    if touches(s, self.cell_rect(i, j)) {
                        incidences.push(((j * self.nx + i) as u32, *area, e as u32));
                    }
                }
            }
        }
        incidences.sort_unstable();

        let mut next = 0; // position in `incidences`
        let mut row_edges: Vec<AreaEdge> = Vec::new();
        let mut cell_edges: Vec<AreaEdge> = Vec::new();
        let mut crossings: Vec<(f64, u8)> = Vec::new();
        for (j, row) in rows.iter().enumerate() {
            row_edges.clear();
            row_edges.extend(row.iter().map(|&e| area_edges[e as usize]));
            // Sweep the row's centre line from the grid's left edge, where
            // every area's state is "outside", through the sorted crossings.
            let yc = self.y0 + (j as f64 + 0.5) * self.ch;
            crossings.clear();
            for (area, s) in &row_edges {
                if (s[1] > yc) != (s[3] > yc) {
                    crossings.push((s[0] + (yc - s[1]) * (s[2] - s[0]) / (s[3] - s[1]), *area));
                }
            }
            crossings.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            let mut mask = 0u32;
            let mut passed = 0;
            for i in 0..self.nx {
                let cell = (j * self.nx + i) as u32;
                let start = next;
                while next < incidences.len() && incidences[next].0 == cell {
                    next += 1;
                }
                let xc = self.x0 + (i as f64 + 0.5) * self.cw;
                while passed < crossings.len() && crossings[passed].0 < xc {
                    mask ^= 1 << crossings[passed].1;
                    passed += 1;
                }
                let code = if start == next {
                    self.code_of_mask(mask)
                } else {
                    cell_edges.clear();
                    cell_edges.extend(
                        incidences[start..next]
                            .iter()
                            .map(|&(_, _, e)| area_edges[e as usize]),
                    );
                    // Exact ray cast from c to +x over the row's edges: c is
                    // on no edge (it is off every edge line of its cell, and
                    // an edge through c would be in the cell), so the
                    // half-open rule and exact orientation decide all cases.
                    let mask_of = |c: Coord<f64>| {
                        let mut inside = 0u32;
                        for (area, s) in &row_edges {
                            let (a, b) = ends(s);
                            if (a.y > c.y) != (b.y > c.y) {
                                let o = orient(a, b, c);
                                let crosses_right = if b.y > a.y {
                                    o == Orientation::CounterClockwise
                                } else {
                                    o == Orientation::Clockwise
                                };
                                if crosses_right {
                                    inside ^= 1 << area;
                                }
                            }
                        }
                        // Cross-check a sample against geo in debug builds.
                        debug_assert!(
                            cell & 0xf != 0 || inside == geo_mask(areas, c),
                            "ray cast disagrees with geo"
                        );
                        inside
                    };
                    top.add(self.cell_rect(i, j), &cell_edges, mask_of)
                };
                self.cells[cell as usize].code = code;
            }
        }
        top
    }

    fn code_of_mask(&self, mask: u32) -> u32 {
        // The first area containing the point decides (areas are in priority order).
        match mask.trailing_zeros() as usize {
            a if a < self.n_areas => 1 + u32::from(self.area_region[a]),
            _ => 0,
        }
    }

    /// Distance bounds of the top cells: exact cell-to-segment distances
    /// within `SPLAT_K` cells of each outer segment, and a chessboard-distance
    /// bound beyond; and the near lists.
    fn fill_distances(&mut self, outer: &[[f64; 4]]) {
        let (nx, ny) = (self.nx, self.ny);
        let k = self.k_min;
        let cell_min_m = (self.cw * k.kx).min(self.ch * k.ky);

        let mut near = vec![f64::INFINITY; nx * ny];
        let mut steps = vec![u32::MAX; nx * ny];
        for s in outer {
            let (bi0, bi1, bj0, bj1) = self.cell_span(s, 0);
            let (i0, i1, j0, j1) = self.cell_span(s, SPLAT_K);
            for j in j0..=j1 {
                for i in i0..=i1 {
                    let cell = j * nx + i;
                    // Whole cells between this one and the segment's bbox
                    // bound the distance from below: skip the exact
                    // computation when it cannot lower the cell's bound.
                    let gap_i = bi0.saturating_sub(i + 1).max(i.saturating_sub(bi1 + 1));
                    let gap_j = bj0.saturating_sub(j + 1).max(j.saturating_sub(bj1 + 1));
                    if near[cell] <= gap_i.max(gap_j) as f64 * cell_min_m {
                        continue;
                    }
                    let rect = self.cell_rect(i, j);
                    near[cell] = near[cell].min(rect_segment_distance(k, rect, s));
                    let in_bbox = (bi0..=bi1).contains(&i) && (bj0..=bj1).contains(&j);
                    if in_bbox && steps[cell] != 0 && touches(s, rect) {
                        steps[cell] = 0;
                    }
                }
            }
        }

        // Two-pass chessboard distance transform from the boundary cells.
        let relax = |steps: &mut Vec<u32>, cell: usize, other: usize| {
            let via = steps[other].saturating_add(1);
            if via < steps[cell] {
                steps[cell] = via;
            }
        };
        for j in 0..ny {
            for i in 0..nx {
                let cell = j * nx + i;
                if i > 0 {
                    relax(&mut steps, cell, cell - 1);
                }
                if j > 0 {
                    relax(&mut steps, cell, cell - nx);
                    if i > 0 {
                        relax(&mut steps, cell, cell - nx - 1);
                    }
                    if i + 1 < nx {
                        relax(&mut steps, cell, cell - nx + 1);
                    }
                }
            }
        }
        for j in (0..ny).rev() {
            for i in (0..nx).rev() {
                let cell = j * nx + i;
                if i + 1 < nx {
                    relax(&mut steps, cell, cell + 1);
                }
                if j + 1 < ny {
                    relax(&mut steps, cell, cell + nx);
                    if i + 1 < nx {
                        relax(&mut steps, cell, cell + nx + 1);
                    }
                    if i > 0 {
                        relax(&mut steps, cell, cell + nx - 1);
                    }
                }
            }
        }

        for (cell, (near, steps)) in self.cells.iter_mut().zip(near.iter().zip(&steps)) {
            // Segments not splatted onto this cell are more than SPLAT_K
            // cells away; every segment is at least `steps` cells away.
            let far = if *steps == u32::MAX {
                f64::INFINITY
            } else {
                f64::from((*steps).saturating_sub(1).max(SPLAT_K as u32)) * cell_min_m
            };
            cell.dist_m = shrink(near.min(far));
        }
    }

    /// Splits every mixed top cell, and every top cell nearer than
    /// `NEAR_COVER_M` to the outer boundary, into SUB × SUB sub-cells.
    fn refine(&mut self, top: &MixedSet) {
        let mut fine_edges: Vec<Vec<AreaEdge>> = vec![Vec::new(); SUB * SUB];
        for j in 0..self.ny {
            for i in 0..self.nx {
                let index = j * self.nx + i;
                let parent = self.cells[index];
                let is_mixed = parent.code != EXACT && parent.code & MIXED != 0;
                if parent.code == EXACT || (!is_mixed && f64::from(parent.dist_m) >= NEAR_COVER_M) {
                    continue;
                }
                let parent_edges = if is_mixed {
                    top.area_edges(parent.code & !MIXED)
                } else {
                    Vec::new()
                };
                for list in fine_edges.iter_mut() {
                    list.clear();
                }
                let rect = self.cell_rect(i, j);
                let (sw, sh) = (self.cw / SUB as f64, self.ch / SUB as f64);
                for edge in &parent_edges {
                    let s = &edge.1;
                    let span = |lo: f64, hi: f64, origin: f64, size: f64| {
                        let a = ((lo - EPS_DEG - origin) / size).floor().max(0.0) as usize;
                        let b = ((hi + EPS_DEG - origin) / size).floor().max(0.0) as usize;
                        (a.min(SUB - 1), b.min(SUB - 1))
                    };
                    let (si0, si1) = span(s[0].min(s[2]), s[0].max(s[2]), rect[0], sw);
                    let (sj0, sj1) = span(s[1].min(s[3]), s[1].max(s[3]), rect[1], sh);
                    for sj in sj0..=sj1 {
                        for si in si0..=si1 {
                            if touches(s, self.sub_rect(i, j, si, sj)) {
                                fine_edges[sj * SUB + si].push(*edge);
                            }
                        }
                    }
                }

                // Distances are lowered below the parent's by `fill_near`.
                let mut block = [SubCell {
                    cell: parent,
                    near: 0,
                    n_near: 0,
                }; SUB * SUB];
                for sj in 0..SUB {
                    // States of edge-free sub-cells: exact at the row's first
                    // such sub-cell, then by sweeping along the row.
                    let yc = rect[1] + (sj as f64 + 0.5) * sh;
                    let mut sweep: Option<(f64, u32)> = None;
                    for si in 0..SUB {
                        let centre = Coord {
                            x: rect[0] + (si as f64 + 0.5) * sw,
                            y: yc,
                        };
                        let edges = &fine_edges[sj * SUB + si];
                        let code = if !is_mixed {
                            parent.code
                        } else if edges.is_empty() {
                            let mask = match sweep {
                                Some((x_prev, mask)) => {
                                    mask ^ crossing_mask(&parent_edges, yc, x_prev, centre.x)
                                }
                                None => top.mask_at(parent.code & !MIXED, centre),
                            };
                            sweep = Some((centre.x, mask));
                            self.code_of_mask(mask)
                        } else {
                            let parent_code = parent.code & !MIXED;
                            let sub = self.sub_rect(i, j, si, sj);
                            self.mixed.add(sub, edges, |c| top.mask_at(parent_code, c))
                        };
                        block[sj * SUB + si].cell.code = code;
                    }
                }
                // Fewer than 2^30 blocks: there are fewer top cells.
                self.cells[index].code = BLOCK | self.blocks.len() as u32;
                self.blocks.push(block);
            }
        }
    }

    /// Sub-cell distance bounds and near lists: for every outer segment, the
    /// sub-cells of refined cells within `NEAR_COVER_M` of it. Segments
    /// farther than that from a sub-cell are farther than `NEAR_COVER_M`.
    fn fill_near(&mut self, outer: &[[f64; 4]]) {
        let k = self.k_min;
        let (sw, sh) = (self.cw / SUB as f64, self.ch / SUB as f64);
        let (gx, gy) = (self.nx * SUB, self.ny * SUB);
        // The cover in degrees (k_min is the smallest scale, so this is the
        // largest extent), grown by a sub-cell against edge effects.
        let (pad_x, pad_y) = (NEAR_COVER_M / k.kx + sw, NEAR_COVER_M / k.ky + sh);
        let mut lowest = vec![NEAR_COVER_M; self.blocks.len() * SUB * SUB];
        // (sub-cell << 32 | bound bits, segment): for non-negative floats the
        // bit pattern orders like the value, so one integer sort groups by
        // sub-cell and orders each group by bound.
        let mut pairs: Vec<(u64, u32)> = Vec::new();
        for (index, s) in outer.iter().enumerate() {
            let row = |y: f64| ((y - self.y0) / sh).floor().max(0.0) as usize;
            let (gj0, gj1) = (
                row(s[1].min(s[3]) - pad_y),
                row(s[1].max(s[3]) + pad_y).min(gy - 1),
            );
            for gj in gj0..=gj1 {
                // The part of the segment within reach of this row of
                // sub-cells, and the columns within reach of that part.
                let band = (
                    self.y0 + gj as f64 * sh - pad_y,
                    self.y0 + (gj + 1) as f64 * sh + pad_y,
                );
                let Some((xa, xb)) = x_range_in_band(s, band) else {
                    continue;
                };
                let col = |x: f64| ((x - self.x0) / sw).floor().max(0.0) as usize;
                for gi in col(xa - pad_x)..=col(xb + pad_x).min(gx - 1) {
                    let (i, j, si, sj) = (gi / SUB, gj / SUB, gi % SUB, gj % SUB);
                    let code = self.cells[j * self.nx + i].code;
                    if code == EXACT || code & BLOCK == 0 {
                        continue;
                    }
                    let sub = (code & !BLOCK) as usize * SUB * SUB + sj * SUB + si;
                    let d = rect_segment_distance(k, self.sub_rect(i, j, si, sj), s);
                    if d <= NEAR_COVER_M {
                        lowest[sub] = lowest[sub].min(d);
                        // Fewer than 2^32 sub-cells and segments.
                        let key = (sub as u64) << 32 | u64::from(shrink(d).to_bits());
                        pairs.push((key, index as u32));
                    }
                }
            }
        }
        pairs.sort_unstable_by_key(|p| p.0);
        self.near = Vec::with_capacity(pairs.len());
        let mut next = 0;
        for (b, block) in self.blocks.iter_mut().enumerate() {
            for (s, sub) in block.iter_mut().enumerate() {
                let index = b * SUB * SUB + s;
                sub.cell.dist_m = sub.cell.dist_m.max(shrink(lowest[index]));
                sub.near = self.near.len() as u32;
                while next < pairs.len() && (pairs[next].0 >> 32) as usize == index {
                    let bound = f32::from_bits(pairs[next].0 as u32);
                    self.near.push((pairs[next].1, bound));
                    next += 1;
                }
                sub.n_near = self.near.len() as u32 - sub.near;
            }
        }
    }

    /// Looks a fix up. `x` = longitude, `y` = latitude.
    #[inline]
    pub fn lookup(&self, x: f64, y: f64) -> Lookup {
        let fx = (x - self.x0) * self.inv_cw;
        let fy = (y - self.y0) * self.inv_ch;
        // NaN fails every comparison, so it is "outside the grid".
        if !(fx >= 0.0 && fy >= 0.0 && fx < self.nx as f64 && fy < self.ny as f64) {
            return Lookup {
                dist_m: self.outside_bound(x, y),
                code: 0,
                near: (0, 0),
                in_grid: false,
            };
        }
        // In range by the test above, so the casts and index are too.
        let (i, j) = (fx as usize, fy as usize);
        let mut cell = self.cells[j * self.nx + i];
        let mut near = (0, 0);
        if cell.code != EXACT && cell.code & BLOCK != 0 {
            let si = (((fx - i as f64) * SUB as f64) as usize).min(SUB - 1);
            let sj = (((fy - j as f64) * SUB as f64) as usize).min(SUB - 1);
            if let Some(block) = self.blocks.get((cell.code & !BLOCK) as usize) {
                let sub = block[sj * SUB + si];
                cell = sub.cell;
                near = (sub.near, sub.n_near);
            }
        }
        Lookup {
            dist_m: f64::from(cell.dist_m),
            code: cell.code,
            near,
            in_grid: true,
        }
    }

    /// Lower bound on the distance (as the reference computes it) from a fix
    /// outside the areas' bbox to the outer boundary, which lies inside it.
    fn outside_bound(&self, x: f64, y: f64) -> f64 {
        let gx = (self.bbox[0] - x).max(x - self.bbox[2]).max(0.0);
        let gy = (self.bbox[1] - y).max(y - self.bbox[3]).max(0.0);
        let d = if gy > 0.0 {
            // Metres per degree of latitude are smallest at the equator.
            gy * self.ky_equator
        } else {
            // The fix is within the bbox's latitudes.
            gx * self.kx_band
        };
        shrink(d).into()
    }

    /// The region (index) containing the fix, given its cell's code.
    #[inline]
    pub fn region(&self, code: u32, x: f64, y: f64, areas: &[Area]) -> Option<u8> {
        let q = Coord { x, y };
        if code == EXACT {
            return areas
                .iter()
                .find(|a| a.shape.intersects(&q))
                .map(|a| a.region);
        }
        if code & MIXED == 0 {
            return code.checked_sub(1).map(|r| r as u8);
        }
        match self.mixed.mask_at(code & !MIXED, q).trailing_zeros() as usize {
            a if a < self.n_areas => self.area_region.get(a).copied(),
            _ => None,
        }
    }

    /// A near list from `Lookup::Cell`: outer segments within `NEAR_COVER_M`
    /// of a sub-cell, with lower bounds of their distances, ascending. Every
    /// fix whose radius reaches its cell's bound while below `NEAR_COVER_M`
    /// is in a sub-cell (cells with a bound below `NEAR_COVER_M` are refined).
    #[inline]
    pub fn near_segments(&self, (start, len): (u32, u32)) -> &[(u32, f32)] {
        let start = start as usize;
        self.near.get(start..start + len as usize).unwrap_or(&[])
    }

    /// Memory held by the grid, bytes (for diagnostics).
    pub fn heap_bytes(&self) -> usize {
        self.cells.len() * std::mem::size_of::<Cell>()
            + self.blocks.len() * std::mem::size_of::<[SubCell; SUB * SUB]>()
            + self.mixed.heap_bytes()
            + self.near.len() * 8
    }

    /// (columns, rows, refined cells, mixed sub-cells), for diagnostics.
    pub fn dims(&self) -> (usize, usize, usize, usize) {
        (self.nx, self.ny, self.blocks.len(), self.mixed.mixed.len())
    }
}

/// The x-extent of the part of segment `s` with y in `band`, if any.
fn x_range_in_band(s: &[f64; 4], band: (f64, f64)) -> Option<(f64, f64)> {
    let (ya, yb) = band;
    let dy = s[3] - s[1];
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    if dy == 0.0 {
        if s[1] < ya || s[1] > yb {
            return None;
        }
    } else {
        let (ta, tb) = ((ya - s[1]) / dy, (yb - s[1]) / dy);
        t0 = t0.max(ta.min(tb));
        t1 = t1.min(ta.max(tb));
        if t0 > t1 {
            return None;
        }
    }
    let (xa, xb) = (s[0] + t0 * (s[2] - s[0]), s[0] + t1 * (s[2] - s[0]));
    Some((xa.min(xb), xa.max(xb)))
}

/// The areas containing `c` by `geo` (for debug cross-checks).
fn geo_mask(areas: &[Area], c: Coord<f64>) -> u32 {
    areas
        .iter()
        .enumerate()
        .filter(|(_, area)| area.shape.intersects(&c))
        .fold(0, |m, (a, _)| m | 1 << a)
}

/// A stored distance bound: shrunk so that neither the f32 rounding nor the
/// reference's own rounding can make it exceed the true distance.
fn shrink(d: f64) -> f32 {
    (d * (1.0 - 1e-6) - 1e-3).max(0.0) as f32
}

/// Conservative distance in metres between a cell and a segment, in the
/// plane scaled by `k` (a lower bound of the real scale everywhere in the
/// grid): 0 if they meet, else the least of corner-to-segment and
/// endpoint-to-rectangle distances (the closest points of two disjoint
/// convex sets include a vertex of one of them).
fn rect_segment_distance(k: Scale, rect: [f64; 4], s: &[f64; 4]) -> f64 {
    let (w, h) = ((rect[2] - rect[0]) * k.kx, (rect[3] - rect[1]) * k.ky);
    let a = ((s[0] - rect[0]) * k.kx, (s[1] - rect[1]) * k.ky);
    let b = ((s[2] - rect[0]) * k.kx, (s[3] - rect[1]) * k.ky);
    if segment_meets_rect(a, b, w, h) {
        return 0.0;
    }
    // Squared distances, one square root at the end (`hypot` is several
    // times slower and its overflow care is not needed for metres).
    let point_segment = |p: (f64, f64)| {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (ex, ey) = (p.0 - a.0 - t * dx, p.1 - a.1 - t * dy);
        ex * ex + ey * ey
    };
    let point_rect = |p: (f64, f64)| {
        let dx = (-p.0).max(p.0 - w).max(0.0);
        let dy = (-p.1).max(p.1 - h).max(0.0);
        dx * dx + dy * dy
    };
    let corners = [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)];
    let d2 = corners
        .iter()
        .map(|&c| point_segment(c))
        .chain([point_rect(a), point_rect(b)])
        .fold(f64::INFINITY, f64::min);
    let d = d2.sqrt();
    d * (1.0 - 1e-9)
}

/// Liang–Barsky: does segment a–b meet the rectangle [0, w] × [0, h]?
fn segment_meets_rect(a: (f64, f64), b: (f64, f64), w: f64, h: f64) -> bool {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a.0), (dx, w - a.0), (-dy, a.1), (dy, h - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                if r > t1 {
                    return false;
                }
                t0 = t0.max(r);
            } else {
                if r < t0 {
                    return false;
                }
                t1 = t1.min(r);
            }
        }
    }
    true
}

/// Radical inverse of `k` in `base`: a low-discrepancy sequence in [0, 1).
fn halton(mut k: usize, base: usize) -> f64 {
    let (mut f, mut r) = (1.0, 0.0);
    while k > 0 {
        f /= base as f64;
        r += f * (k % base) as f64;
        k /= base;
    }
    r
}
