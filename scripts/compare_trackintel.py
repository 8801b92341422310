#!/usr/bin/env python3
"""Compare `amina stays` with trackintel's generate_staypoints, stay by stay.

Usage (see docs/detection.md):

    python3 -m venv /tmp/ti-venv && /tmp/ti-venv/bin/pip install trackintel
    CARGO_TARGET_DIR=/tmp/target-stays cargo build --release
    /tmp/ti-venv/bin/python scripts/compare_trackintel.py [--amina BIN] [--runs N] [FILE.csv[.gz] ...]

For every file: runs trackintel (defaults: sliding, haversine, 100 m, 5 min,
gap 15 min, include_last=False, exclude_duplicate_pfs=True) and `amina stays`
with the same thresholds, then checks per user: the same number of stays,
start and end within one fix of each other (by position in the user's
time-sorted fixes), centroid within --max-centroid-m metres. Prints a summary
and the median wall time of each (trackintel: the generate_staypoints call
only; amina: the whole `amina stays` process, CSV parsing included, and
detection alone from `amina bench stays`). Exits 1
on any disagreement. Writes nothing outside a temporary directory under /tmp.
"""

import argparse
import io
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import trackintel as ti

HERE = os.path.dirname(os.path.abspath(__file__))
TRACES = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "traces"))
DEFAULT_FILES = [
    os.path.join(TRACES, "geolife_trackintel_users000-007.csv"),
    os.path.join(TRACES, "geolife_skmob_sample_users001_005.csv.gz"),
]


def haversine_m(lat1, lon1, lat2, lon2, r=6371000.0):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def load_positionfixes(path):
    df = pd.read_csv(path, dtype={"user_id": str}, usecols=["user_id", "tracked_at", "latitude", "longitude"])
    df["tracked_at"] = pd.to_datetime(df["tracked_at"], utc=True)
    gdf = gpd.GeoDataFrame(
        df[["user_id", "tracked_at"]],
        geometry=gpd.points_from_xy(df["longitude"], df["latitude"]),
        crs="EPSG:4326",
    )
    return ti.Positionfixes(gdf), df


def run_trackintel(pfs, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pfs_out, sp = pfs.generate_staypoints(
            method="sliding",
            distance_metric="haversine",
            dist_threshold=args.dist_m,
            time_threshold=args.time_min,
            gap_threshold=args.gap_min,
            include_last=False,
            exclude_duplicate_pfs=True,
            n_jobs=1,
        )
    # Fixes per stay, from trackintel's own linkage of fixes to stays.
    sp["n_fixes"] = pfs_out.groupby("staypoint_id").size().reindex(sp.index).fillna(0).astype(int)
    return sp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", default=DEFAULT_FILES)
    ap.add_argument("--amina", default=os.environ.get("AMINA_BIN", "/tmp/target-stays/release/amina"))
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each tool (median reported)")
    ap.add_argument("--dist-m", type=float, default=100.0)
    ap.add_argument("--time-min", type=float, default=5.0)
    ap.add_argument("--gap-min", type=float, default=15.0)
    ap.add_argument("--max-centroid-m", type=float, default=5.0)
    args = ap.parse_args()

    print(f"trackintel {ti.__version__}, amina binary {args.amina}")
    ok = True
    for path in args.files:
        pfs, raw = load_positionfixes(path)
        ti_times = []
        for _ in range(max(1, args.runs)):
            t0 = time.perf_counter()
            sp = run_trackintel(pfs, args)
            ti_times.append(time.perf_counter() - t0)
        cmd = [args.amina, "stays", path, "--dist-m", str(args.dist_m), "--time-min", str(args.time_min),
               "--gap-min", str(args.gap_min)]
        am_times = []
        for _ in range(max(1, args.runs)):
            t0 = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True)
            am_times.append(time.perf_counter() - t0)
            if res.returncode != 0:
                print(f"amina failed on {path}: {res.stderr}")
                return 2
        am = pd.read_csv(io.StringIO(res.stdout), dtype={"user_id": str})
        am["started_at"] = pd.to_datetime(am["started_at"], utc=True)
        am["finished_at"] = pd.to_datetime(am["finished_at"], utc=True)

        # Positions of each user's fixes in time order, for "within one fix".
        fix_times = {u: np.sort(g["tracked_at"].dt.as_unit("ns").astype("int64").unique())
                     for u, g in raw.groupby("user_id")}

        def fix_index(user, t):
            return int(np.searchsorted(fix_times[user], t.as_unit("ns").value))

        sp = sp.sort_values(["user_id", "started_at"], kind="stable")
        users = sorted(set(sp["user_id"]) | set(am["user_id"]))
        n_ti = n_am = exact_times = 0
        worst_centroid = 0.0
        worst_shift = 0
        n_fix_diff = 0
        bad = []
        for u in users:
            a = sp[sp["user_id"] == u]
            b = am[am["user_id"] == u]
            n_ti += len(a)
            n_am += len(b)
            if len(a) != len(b):
                bad.append(f"user {u}: trackintel {len(a)} stays, amina {len(b)}")
                continue
            for (_, x), (_, y) in zip(a.iterrows(), b.iterrows()):
                shift = max(abs(fix_index(u, x.started_at) - fix_index(u, y.started_at)),
                            abs(fix_index(u, x.finished_at) - fix_index(u, y.finished_at)))
                d = haversine_m(x.geometry.y, x.geometry.x, y.latitude, y.longitude)
                worst_shift = max(worst_shift, shift)
                worst_centroid = max(worst_centroid, d)
                exact_times += int(x.started_at == y.started_at and x.finished_at == y.finished_at)
                if x.n_fixes != y.n_fixes:
                    n_fix_diff += 1
                if shift > 1 or d > args.max_centroid_m:
                    bad.append(f"user {u} stay at {x.started_at}: amina {y.started_at}..{y.finished_at}, "
                               f"trackintel {x.started_at}..{x.finished_at}, centroid {d:.3f} m apart")
        med_ti, med_am = statistics.median(ti_times), statistics.median(am_times)
        print(f"\n{os.path.basename(path)}: {len(raw)} fixes, {len(users)} users")
        print(f"  stays: trackintel {n_ti}, amina {n_am}")
        per_user = ", ".join(f"{u}:{(sp['user_id'] == u).sum()}" for u in users)
        print(f"  per user (trackintel): {per_user}")
        print(f"  identical start and end: {exact_times} of {min(n_ti, n_am)}; "
              f"worst start/end shift {worst_shift} fix(es); worst centroid distance {worst_centroid:.2g} m")
        print(f"  stays whose n_fixes differ: {n_fix_diff} (informational)")
        print(f"  time, median of {len(ti_times)}: trackintel generate_staypoints {med_ti:.3f} s, "
              f"amina stays (whole process) {med_am:.3f} s, ratio {med_ti / med_am:.1f}x")
        # Detection alone, parsing excluded on both sides: `amina bench stays`
        # times detect_user over every user in-process (median of its rounds).
        bench = subprocess.run([args.amina, "bench", "stays", path], capture_output=True, text=True)
        if bench.returncode != 0:
            print(f"amina bench stays failed on {path}: {bench.stderr}")
            return 1
        med_det = float(bench.stdout.split("median_ms=")[1].split()[0]) / 1000.0
        print(f"  detection alone: trackintel {med_ti:.3f} s, amina {med_det * 1000:.2f} ms, "
              f"ratio {med_ti / med_det:.0f}x")
        if bad:
            ok = False
            print(f"  DISAGREEMENT ({len(bad)}):")
            for line in bad[:20]:
                print("   ", line)
        else:
            print("  agreement: OK")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
