"""Benchmark: simplifying the region polygons, our Douglas-Peucker against shapely (GEOS).

    .venv/bin/python bench/simplify.py [--tolerance 0.01] [--runs 7] [--number 200] [--densify 1]
    BENCH_QUICK=1 .venv/bin/python bench/simplify.py     # 3 runs of 50 calls

The dashboard simplifies ``data/regions.geojson`` once per process with
``nemlive.dashboard.mapview.simplify_regions(collection, tolerance)``. On the same
geometries, median of ``--runs`` runs of ``--number`` calls, CPU time of this process:

* ours (baseline): ``simplify_regions(lookups.load_regions(), tolerance)``: GeoJSON in,
  simplified and rounded (3 dp) GeoJSON out;
* shapely ``geom.simplify(tolerance, preserve_topology=False)`` (GEOS Douglas-Peucker) and
  ``preserve_topology=True``: on geometries built beforehand (the library's best case),
  and the whole path the dashboard would need (GeoJSON -> ``shape`` -> simplify -> rounded
  to 3 dp -> ``mapping``). shapely is optional: without it those rows are skipped.

Then vertex counts, and whether shapely's rings, rounded to 3 dp as ours are, are identical
to ours. ``--densify K`` puts K-1 extra points (jittered well inside the tolerance) on every
edge, to see how both scale with a finer source.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np

from nemlive.common import lookups
from nemlive.dashboard.mapview import simplify_regions

try:
    import shapely
    from shapely.geometry import mapping, shape
except ImportError:  # not a project dependency
    shapely = None

QUICK = os.environ.get("BENCH_QUICK") == "1"
Rings = list[list[list[float]]]


def polygons_of(geometry: dict[str, Any]) -> list[Rings]:
    kind, coords = geometry["type"], geometry["coordinates"]
    return [coords] if kind == "Polygon" else list(coords) if kind == "MultiPolygon" else []


def rings_of(collection: dict[str, Any]) -> list[list[list[float]]]:
    """Every ring of the collection, in feature, polygon, ring order."""
    return [
        ring for f in collection["features"] for poly in polygons_of(f["geometry"]) for ring in poly
    ]


def densify(collection: dict[str, Any], k: int, tolerance: float) -> dict[str, Any]:
    """A copy whose every edge carries k-1 more points, off the edge by < tolerance / 4."""
    if k <= 1:
        return collection
    rng = random.Random(7)
    out = copy.deepcopy(collection)
    for ring in rings_of(out):
        dense = []
        for (x1, y1), (x2, y2) in itertools.pairwise(ring):
            for j in range(k):
                t = j / k
                jitter = 0 if j == 0 else tolerance / 4 * (rng.random() - 0.5)
                dense.append([x1 + t * (x2 - x1) + jitter, y1 + t * (y2 - y1) + jitter])
        dense.append(ring[-1])
        ring[:] = dense
    return out


def cpu_per_call(fn: Callable[[], Any], runs: int, number: int) -> float:
    """Median over ``runs`` of the CPU seconds per call, each run ``number`` calls."""
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        for _ in range(number):
            fn()
        times.append((time.process_time() - t0) / number)
    return statistics.median(times)


def shapely_full(collection: dict[str, Any], tolerance: float, topo: bool) -> list[dict]:
    """GeoJSON geometries -> shapely -> simplify -> 3 dp -> GeoJSON, as a replacement would."""
    out = []
    for feat in collection["features"]:
        geom = shape(feat["geometry"]).simplify(tolerance, preserve_topology=topo)
        geom = shapely.transform(geom, lambda xy: np.round(xy, 3))
        out.append(mapping(geom))
    return out


def shapely_rings(geoms: list[Any]) -> list[list[list[float]]]:
    """Rings of shapely geometries as [[lon, lat], ...] rounded to 3 dp, in our order."""
    rings = []
    for geom in geoms:
        for poly in getattr(geom, "geoms", [geom]):
            for ring in (poly.exterior, *poly.interiors):
                rings.append([[round(x, 3), round(y, 3)] for x, y in ring.coords])
    return rings


def compare(ours: Rings, theirs: Rings) -> str:
    if len(ours) != len(theirs):
        return f"different ring counts ({len(theirs)} vs {len(ours)})"
    same = sum(a == b for a, b in zip(ours, theirs, strict=True))
    counts = sum(len(a) == len(b) for a, b in zip(ours, theirs, strict=True))
    return f"{same}/{len(ours)} rings identical, {counts}/{len(ours)} with our vertex count"


def describe_differences(ours: Rings, theirs: Rings, limit: int = 3) -> list[str]:
    """Up to ``limit`` lines naming the vertices that only one side kept, ring by ring."""
    lines = []
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if a != b:
            only_ours = [p for p in a if p not in b]
            only_theirs = [p for p in b if p not in a]
            lines.append(f"    ring {i}: only ours {only_ours[:3]}, only shapely {only_theirs[:3]}")
    return lines[:limit]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tolerance", type=float, default=0.01, help="degrees (the dashboard's)")
    p.add_argument("--runs", type=int, default=3 if QUICK else 7)
    p.add_argument("--number", type=int, default=50 if QUICK else 200, help="calls per run")
    p.add_argument("--densify", type=int, default=1, help="points per source edge")
    args = p.parse_args(argv)
    tol = args.tolerance

    collection = densify(lookups.load_regions(), args.densify, tol)
    source = rings_of(collection)
    ours_fc = simplify_regions(collection, tol)
    ours = rings_of(ours_fc)
    base = cpu_per_call(lambda: simplify_regions(collection, tol), args.runs, args.number)
    print(
        f"{len(collection['features'])} regions, {len(source)} rings, "
        f"{sum(map(len, source)):,} vertices; tolerance {tol} deg; CPU time per call, "
        f"median of {args.runs} runs of {args.number} calls; ratio = / ours"
    )
    print(f"  {'method':<46} {'ms':>8} {'ratio':>6} {'vertices':>9}  identical to ours")
    print(
        f"  {'ours: simplify_regions (baseline)':<46} {base * 1e3:8.3f} {1:6.2f} "
        f"{sum(map(len, ours)):9,}"
    )
    if shapely is None:
        print("shapely: not installed, rows skipped (.venv/bin/pip install shapely to compare)")
        return 0
    geoms = [shape(f["geometry"]) for f in collection["features"]]
    diff_lines: list[str] = []
    for topo in (False, True):
        label = f"preserve_topology={topo}"
        simple = [g.simplify(tol, preserve_topology=topo) for g in geoms]
        theirs = shapely_rings(simple)
        rows = [
            (
                f"shapely simplify, {label}",
                lambda t=topo: [g.simplify(tol, preserve_topology=t) for g in geoms],
            ),
            (
                f"  + GeoJSON in/out, 3 dp (topology={topo})",
                lambda t=topo: shapely_full(collection, tol, t),
            ),
        ]
        for name, fn in rows:
            sec = cpu_per_call(fn, args.runs, args.number)
            print(
                f"  {name:<46} {sec * 1e3:8.3f} {sec / base:6.2f} "
                f"{sum(map(len, theirs)):9,}  {compare(ours, theirs)}"
            )
        if topo is False:
            diff_lines = describe_differences(ours, theirs)
    print("where preserve_topology=False differs (rounded to 3 dp):")
    print("\n".join(diff_lines) or "    nowhere")
    print(f"shapely {shapely.__version__}, GEOS {'.'.join(map(str, shapely.geos_version))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
