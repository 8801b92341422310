#!/usr/bin/env python3
"""Geofence classification per point: amina against shapely 2, same points, same run.

Usage (see docs/performance.md):

    python3 -m venv target/shapely-venv && target/shapely-venv/bin/pip install shapely numpy
    cargo build --release
    target/shapely-venv/bin/python scripts/compare_shapely.py [--amina BIN] [--points N] [--seed S] [--rounds R]

Steps:
1. `amina bench geofence --export-points FILE` writes the points the geofence
   benchmark generates (same seed and mix: 80 % uniform over the pilot area's
   bounding box grown 20 % per side, 20 % within 1 km of the outer boundary;
   accuracy 5-100 m).
2. shapely: the real polygons (RU-MOW, RU-MOS from
   data/regions/moscow-region-boundaries.geojson, the file amina embeds), each
   `prepare`d; one vectorised `contains_xy` call per polygon over all points
   gives moscow / moscow_oblast / outside. Loading and preparing are not
   timed; one untimed warm-up pass builds GEOS's prepared index.
3. amina: `amina bench geofence --classify FILE --answers OUT --rounds 1`
   loads the polygons, makes one untimed warm-up pass, times one pass of
   `Geofence::classify` over the same points and writes its answers.
   Steps 2 and 3 alternate --rounds times (so both see the same background
   load); the medians are reported. Its work is more than shapely's: it also
   decides whether the accuracy circle reaches the outer boundary.
4. Checks: wherever amina is certain, the answers are identical; amina says
   "uncertain" only where the accuracy circle can reach the outer boundary
   (shapely's distance to that boundary, in metres on a local projection,
   at most the accuracy radius plus a 1 % projection allowance); and every
   point farther than twice its accuracy from the boundary is certain.
   Points in the seams between the two source files (slivers that amina
   counts as inside, shapely's raw polygons as outside: outside both
   polygons, within 300 m of both) are counted and listed apart.
Prints ns/point for both and the ratio; exits 1 on any disagreement.
Writes nothing outside a temporary directory.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import shapely
from shapely import contains_xy, prepare

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
REGIONS = os.path.join(ROOT, "data", "regions", "moscow-region-boundaries.geojson")
# amina's slugs of the pilot regions, in priority order (config default).
PILOT = [("RU-MOW", "moscow"), ("RU-MOS", "moscow_oblast")]


def load_regions(path):
    with open(path, encoding="utf-8") as f:
        collection = json.load(f)
    by_code = {}
    for feature in collection["features"]:
        by_code[feature["properties"]["code"]] = shapely.from_geojson(json.dumps(feature["geometry"]))
    return [(slug, by_code[code]) for code, slug in PILOT]


def classify_shapely(regions, lon, lat):
    """One vectorised contains_xy per region, first region wins."""
    out = np.full(lon.shape, "outside", dtype=object)
    undecided = np.ones(lon.shape, dtype=bool)
    for slug, geom in regions:
        inside = contains_xy(geom, lon, lat)
        hit = inside & undecided
        out[hit] = slug
        undecided &= ~inside
    return out


def time_shapely(regions, lon, lat):
    """ns/point of one pass of the containment work (both polygons, all points)."""
    t0 = time.perf_counter_ns()
    for _, geom in regions:
        contains_xy(geom, lon, lat)
    return (time.perf_counter_ns() - t0) / len(lon)


def boundary_distance_m(regions, lon, lat):
    """Distance from each point to the outer boundary of the pilot area, in
    metres, on an equirectangular projection centred on the points' mean
    latitude (error under 1 % across the area's 3 degrees of latitude,
    corrected per point by the latitude's own cosine)."""
    area = shapely.union_all([g for _, g in regions])
    outer = area.boundary
    lat0 = float(np.mean(lat))
    k = 111_320.0
    c0 = math.cos(math.radians(lat0))
    projected = shapely.transform(outer, lambda xy: np.column_stack((xy[:, 0] * k * c0, xy[:, 1] * k)))
    # One two-point line per boundary segment in an STRtree: nearest-segment
    # queries are then logarithmic, not a scan of 33k segments per point.
    segments = []
    for line in shapely.get_parts(projected):
        xy = shapely.get_coordinates(line)
        segments.extend(shapely.linestrings(np.stack((xy[:-1], xy[1:]), axis=1)))
    tree = shapely.STRtree(segments)
    pts = shapely.points(lon * k * c0, lat * k)
    idx, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    d = np.full(len(pts), np.inf)
    d[idx[0]] = dist
    # Scale east-west error: a point at latitude phi has true metres per degree
    # of longitude k*cos(phi), not k*c0; bound the error by the ratio.
    ratio = np.cos(np.radians(lat)) / c0
    return d, np.maximum(ratio, 1.0 / ratio)


# A point outside both polygons and within this distance of both is in a
# seam between the two source files.
SEAM_M = 300.0


def near_both_m(regions, lon, lat, limit_m):
    """Whether each point is within limit_m metres of every region polygon."""
    k = 111_320.0
    ok = np.ones(len(lon), dtype=bool)
    for _, geom in regions:
        for i in range(len(lon)):
            c = math.cos(math.radians(lat[i]))
            # Degrees to metres with the point's own scale; the nearest part
            # of a polygon limit_m away is well within a degree.
            a, b = shapely.get_coordinates(shapely.shortest_line(shapely.Point(lon[i], lat[i]), geom))
            d = math.hypot((b[0] - a[0]) * k * c, (b[1] - a[1]) * k)
            ok[i] &= d <= limit_m
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--amina", default=os.environ.get("AMINA_BIN", os.path.join(ROOT, "target", "release", "amina")))
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()

    print(f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), numpy {np.__version__}, "
          f"amina binary {args.amina}")
    with tempfile.TemporaryDirectory(prefix="amina-shapely-") as tmp:
        points_csv = os.path.join(tmp, "points.csv")
        answers_txt = os.path.join(tmp, "answers.txt")
        subprocess.run([args.amina, "bench", "geofence", "--points", str(args.points), "--seed", str(args.seed),
                        "--export-points", points_csv], check=True, capture_output=True)
        data = np.loadtxt(points_csv, delimiter=",", skiprows=1)
        lat, lon, acc, near = data[:, 0].copy(), data[:, 1].copy(), data[:, 2].copy(), data[:, 3].astype(bool)
        n = len(lat)

        regions = load_regions(REGIONS)
        t0 = time.perf_counter()
        for _, geom in regions:
            prepare(geom)
        prep_ms = (time.perf_counter() - t0) * 1e3
        vertices = sum(shapely.get_num_coordinates(g) for _, g in regions)
        print(f"{n} points (seed {args.seed}: {int((~near).sum())} uniform, {int(near.sum())} near the boundary), "
              f"{len(regions)} polygons with {vertices} vertices, prepare {prep_ms:.1f} ms (GEOS builds its index at first use, in the warm-up)")

        # Same run, interleaved so both see the same background load: per
        # round one timed shapely pass, then one amina process (it loads the
        # polygons, makes one untimed warm-up pass and one timed pass).
        for _, geom in regions:  # shapely's warm-up (builds the prepared index)
            contains_xy(geom, lon, lat)
        sh_times, am_times = [], []
        for _ in range(args.rounds):
            sh_times.append(time_shapely(regions, lon, lat))
            res = subprocess.run([args.amina, "bench", "geofence", "--classify", points_csv, "--answers",
                                  answers_txt, "--rounds", "1"], check=True, capture_output=True, text=True)
            am_times.append(json.loads(res.stdout.strip().splitlines()[-1])["ns_per_point_median"])
        sh_med, sh_min = statistics.median(sh_times), min(sh_times)
        am_med, am_min = statistics.median(am_times), min(am_times)
        with open(answers_txt, encoding="utf-8") as f:
            amina = np.array(f.read().split("\n")[:n], dtype=object)
        if len(amina) != n:
            print(f"amina wrote {len(amina)} answers for {n} points")
            return 1
        shap = classify_shapely(regions, lon, lat)

        certain = amina != "uncertain"
        differs = certain & (amina != shap)
        # The two source files leave slivers between Moscow and the oblast
        # ("seams", 88 of them, 0.44 km2; crates/domain/src/geofence): amina
        # counts them as inside on purpose, shapely on the raw polygons says
        # outside. Such a point is outside both polygons and close to both.
        seam = differs & (shap == "outside") & (amina != "outside")
        if seam.any():
            seam_idx = np.flatnonzero(seam)
            close = near_both_m(regions, lon[seam_idx], lat[seam_idx], SEAM_M)
            seam[seam_idx[~close]] = False
        diff = differs & ~seam
        dist, slack = boundary_distance_m(regions, lon, lat)
        # Uncertain must mean "the circle may reach the outer boundary".
        bad_uncertain = (~certain) & (dist > acc * slack * 1.01 + 0.5)
        # Far from the boundary must be certain.
        far = dist > 2.0 * acc * slack
        bad_far = far & ~certain

        print(f"  ns/point over {args.rounds} rounds      median      min")
        print(f"    shapely contains_xy (prepared) {sh_med:>9.1f} {sh_min:>8.1f}")
        print(f"    amina classify                 {am_med:>9.1f} {am_min:>8.1f}")
        print(f"  ratio shapely / amina (medians): {sh_med / am_med:.1f}x")
        print(f"  amina certain on {int(certain.sum())} of {n} points ({100.0 * certain.mean():.2f} %); "
              f"answers differing there: {int(diff.sum())} (plus {int(seam.sum())} in seams between the two "
              f"files, outside both polygons and within {SEAM_M:.0f} m of both, which amina counts as inside)")
        print(f"  uncertain points farther from the boundary than their accuracy: {int(bad_uncertain.sum())}; "
              f"points farther than twice their accuracy left uncertain: {int(bad_far.sum())}")
        for i in np.flatnonzero(diff)[:10]:
            print(f"    differs: lat {lat[i]!r} lon {lon[i]!r} acc {acc[i]:.1f}: amina {amina[i]}, shapely {shap[i]}, "
                  f"{dist[i]:.1f} m from the boundary")
        if diff.any() or bad_uncertain.any() or bad_far.any():
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
