"""Benchmark: parsing a 420-facility week of OE API JSON, hand parser against Pydantic v2.

    .venv/bin/python bench/parse.py [--runs 3]
    BENCH_QUICK=1 .venv/bin/python bench/parse.py       # 1 run

1. Builds the 14 ``/data/facilities/NEM`` bodies of a week (30 facilities x 7 days each,
   power and emissions, 5-minute) with the OE simulator's own request handler and its
   ``scaled`` dataset (420 facilities, as bench/extract.py), without HTTP.
2. Times, over the whole week, median of ``--runs`` (each step in turn within a run):

   * ``json.loads`` of the raw bodies (the extractor's HTTP client does this);
   * the baseline: ``rollup.SeriesParser().parse(body, "unit_code")`` on the decoded bodies
     (timestamps -> epoch seconds, values -> float64 arrays; one parser per week, as the
     extractor uses);
   * Pydantic v2, minimal models of the envelope (data[] -> results[] -> ``[stamp,
     value|null]``; timestamps kept as ``str``, the cheapest choice), as BaseModel and as
     TypedDict: ``TypeAdapter.validate_python`` on the decoded bodies and ``validate_json``
     on the raw bytes, each alone and followed by the conversion to the same Series the
     hand parser returns (what a replacement would have to do).

Ratios are Pydantic / hand parser for decoded input, and Pydantic / (json.loads + hand
parser) for raw bytes. The Series from each Pydantic path are checked equal to the hand
parser's.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel, TypeAdapter
from typing_extensions import TypedDict  # Pydantic needs it on Python < 3.12

from nemlive.common.nemtime import format_request_time
from nemlive.extract import rollup
from oesim.api import DEMO_KEY, SimulatorConfig, handle_api
from oesim.server import load_dataset

QUICK = os.environ.get("BENCH_QUICK") == "1"
START, END = datetime(2025, 10, 1), datetime(2025, 10, 8)
HEADERS = {"Authorization": f"Bearer {DEMO_KEY}"}

# --- minimal Pydantic models of a /data/facilities response ---------------------------

Point = tuple[str, float | None]


class ResultModel(BaseModel):
    name: str
    columns: dict[str, str]
    data: list[Point]


class BlockModel(BaseModel):
    metric: str
    results: list[ResultModel]


class EnvelopeModel(BaseModel):
    success: bool
    data: list[BlockModel]


class ResultDict(TypedDict):
    name: str
    columns: dict[str, str]
    data: list[Point]


class BlockDict(TypedDict):
    metric: str
    results: list[ResultDict]


class EnvelopeDict(TypedDict):
    success: bool
    data: list[BlockDict]


MODEL = TypeAdapter(EnvelopeModel)
TYPED = TypeAdapter(EnvelopeDict)


def build_week_bodies() -> list[bytes]:
    """The raw bodies of the week's 14 facility-data requests, as the simulator serves them."""
    config = SimulatorConfig(dataset=load_dataset("scaled"))
    resp = handle_api(config, "GET", "/v4/facilities/", "network_id=NEM", HEADERS)
    lookup = rollup.build_lookup(json.loads(resp.body), "NEM")
    bodies = []
    for batch in rollup.chunk_codes(lookup.facility_ids):
        query = [("facility_code", c) for c in batch]
        query += [("metrics", "power"), ("metrics", "emissions"), ("interval", "5m")]
        query += [("date_start", format_request_time(START))]
        query += [("date_end", format_request_time(END))]
        resp = handle_api(config, "GET", "/v4/data/facilities/NEM", urlencode(query), HEADERS)
        if resp.status != 200:
            raise SystemExit(f"simulator answered {resp.status}: {resp.body[:200]!r}")
        bodies.append(resp.body)
    return bodies


def series_from_models(envelopes: list[EnvelopeModel]) -> list[rollup.Series]:
    """Validated models -> the hand parser's Series (same stamp cache, same arrays)."""
    get = rollup.SeriesParser().cache.__getitem__
    out = []
    for env in envelopes:
        for block in env.data:
            for result in block.results:
                if not result.data:
                    continue
                stamps, values = zip(*result.data, strict=True)
                times = np.fromiter(map(get, stamps), dtype=np.int64, count=len(stamps))
                code = result.columns["unit_code"]
                out.append(rollup.Series(block.metric, code, times, np.array(values, dtype=float)))
    return out


def series_from_dicts(envelopes: list[EnvelopeDict]) -> list[rollup.Series]:
    get = rollup.SeriesParser().cache.__getitem__
    out = []
    for env in envelopes:
        for block in env["data"]:
            for result in block["results"]:
                if not result["data"]:
                    continue
                stamps, values = zip(*result["data"], strict=True)
                times = np.fromiter(map(get, stamps), dtype=np.int64, count=len(stamps))
                code = result["columns"]["unit_code"]
                out.append(
                    rollup.Series(block["metric"], code, times, np.array(values, dtype=float))
                )
    return out


def hand_parse(decoded: list[dict[str, Any]]) -> list[rollup.Series]:
    parser = rollup.SeriesParser()
    return [s for body in decoded for s in parser.parse(body, "unit_code")]


def same_series(a: list[rollup.Series], b: list[rollup.Series]) -> bool:
    return len(a) == len(b) and all(
        x.metric == y.metric
        and x.code == y.code
        and np.array_equal(x.times, y.times)
        and np.array_equal(x.values, y.values, equal_nan=True)
        for x, y in zip(a, b, strict=True)
    )


def cpu_time(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(CPU seconds of this process, result): on a busy machine wall time measures the
    neighbours too. A full collection first, so that every step starts from the same heap."""
    gc.collect()
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=1 if QUICK else 3)
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    raw = build_week_bodies()
    built = time.perf_counter() - t0
    decoded = [json.loads(b) for b in raw]
    names = [
        "json.loads",
        "hand parser (baseline)",
        "model validate_python",
        "model validate_json",
        "typeddict validate_python",
        "typeddict validate_json",
        "models -> Series",
        "typeddicts -> Series",
    ]
    times: dict[str, list[float]] = {n: [] for n in names}
    hand: list[rollup.Series] = []
    from_models: list[rollup.Series] = []
    from_dicts: list[rollup.Series] = []
    for _ in range(args.runs):
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("json.loads", lambda: [json.loads(b) for b in raw]),
            ("hand parser (baseline)", lambda: hand_parse(decoded)),
            ("model validate_python", lambda: [MODEL.validate_python(d) for d in decoded]),
            ("model validate_json", lambda: [MODEL.validate_json(b) for b in raw]),
            ("typeddict validate_python", lambda: [TYPED.validate_python(d) for d in decoded]),
            ("typeddict validate_json", lambda: [TYPED.validate_json(b) for b in raw]),
        ]
        out: dict[str, Any] = {}
        for name, fn in steps:
            seconds, out[name] = cpu_time(fn)
            times[name].append(seconds)
            if name == "json.loads":
                del out[name]  # the same as `decoded`
        hand = out.pop("hand parser (baseline)")
        seconds, from_models = cpu_time(partial(series_from_models, out["model validate_json"]))
        times["models -> Series"].append(seconds)
        seconds, from_dicts = cpu_time(partial(series_from_dicts, out["typeddict validate_json"]))
        times["typeddicts -> Series"].append(seconds)
        del out

    med = {n: statistics.median(t) for n, t in times.items()}
    base, loads = med["hand parser (baseline)"], med["json.loads"]
    full = loads + base
    n_points = sum(len(s.times) for s in hand)
    print(
        f"week {START:%F}..{END:%F}: {len(raw)} facility-data bodies (30 facilities x 7 days), "
        f"{sum(map(len, raw)) / 1e6:.1f} MB, {len(hand):,} series, {n_points:,} points; "
        f"built by the simulator in {built:.1f} s"
    )
    print(f"CPU seconds for the whole week, median of {args.runs} run(s):")
    print(f"  {'step':<40} {'seconds':>8} {'/ hand':>7}")
    for name in names:
        print(f"  {name:<40} {med[name]:8.3f} {med[name] / base:7.2f}")
    print("decoded dicts in -> Series out:")
    rows = [
        ("hand parser (baseline)", base),
        (
            "model validate_python + to Series",
            med["model validate_python"] + med["models -> Series"],
        ),
        (
            "typeddict validate_python + to Series",
            med["typeddict validate_python"] + med["typeddicts -> Series"],
        ),
    ]
    for name, seconds in rows:
        print(f"  {name:<40} {seconds:8.3f} {seconds / base:7.2f}")
    print("raw bytes in -> Series out:")
    rows = [
        ("json.loads + hand parser (baseline)", full),
        ("model validate_json + to Series", med["model validate_json"] + med["models -> Series"]),
        (
            "typeddict validate_json + to Series",
            med["typeddict validate_json"] + med["typeddicts -> Series"],
        ),
    ]
    for name, seconds in rows:
        print(f"  {name:<40} {seconds:8.3f} {seconds / full:7.2f}")
    print(
        f"same Series as the hand parser: models {same_series(from_models, hand)}, "
        f"typeddicts {same_series(from_dicts, hand)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
