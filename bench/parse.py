"""Benchmark: parsing a 420-facility week of OE API JSON, hand parser against Pydantic v2.

    .venv/bin/python bench/parse.py [--runs 2]
    BENCH_QUICK=1 .venv/bin/python bench/parse.py       # 1 run

1. Builds the 14 ``/data/facilities/NEM`` bodies of a week (30 facilities x 7 days each,
   power and emissions, 5-minute) with the OE simulator's own request handler and its
   ``scaled`` dataset (420 facilities, as bench/extract.py), without HTTP.
2. Times the whole week, median of ``--runs``, in CPU seconds of this process (on a busy
   machine wall time measures the neighbours too), body by body as extractor.py does, each
   step timed on its own:

   * raw bytes in: the baseline ``json.loads`` + ``rollup.SeriesParser().parse(body,
     "unit_code")`` (timestamps -> epoch seconds, values -> float64 arrays; one parser per
     week, as the extractor uses it) against ``TypeAdapter(Envelope).validate_json``, alone
     and followed by the conversion to the same Series (what a replacement has to return);
     and both again with the collector's first threshold raised to 50,000 (default 700);
   * decoded dicts in (the week's dicts alive): the hand parser against ``validate_python``,
     alone and + Series.

The models are minimal: envelope -> data[] -> results[] -> ``[stamp, value|null]`` points,
with stamps kept as ``str`` (the cheapest choice; ``AwareDatetime`` would cost more).
Ratios are Pydantic / baseline. The Pydantic Series are checked equal to the hand parser's.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel, TypeAdapter

from nemlive.common.nemtime import format_request_time
from nemlive.extract import rollup
from oesim.api import DEMO_KEY, SimulatorConfig, handle_api
from oesim.server import load_dataset

QUICK = os.environ.get("BENCH_QUICK") == "1"
START, END = datetime(2025, 10, 1), datetime(2025, 10, 8)
GC_GEN0 = 50_000
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


MODEL = TypeAdapter(EnvelopeModel)


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


def same_series(a: list[rollup.Series], b: list[rollup.Series]) -> bool:
    return len(a) == len(b) and all(
        x.metric == y.metric
        and x.code == y.code
        and np.array_equal(x.times, y.times)
        and np.array_equal(x.values, y.values, equal_nan=True)
        for x, y in zip(a, b, strict=True)
    )


def time_steps(
    bodies: list[Any], first: Callable[[Any], Any], then: Callable[[Any], list[rollup.Series]]
) -> tuple[float, float, list[rollup.Series]]:
    """CPU seconds of ``first`` and of ``then`` summed over the bodies, one body at a time
    (each intermediate dropped after use, as the extractor does), and the Series.

    CPU time of this process: on a busy machine wall time measures the neighbours too. A
    full collection first, so that every step starts from the same heap."""
    gc.collect()
    clock = time.process_time
    t_first = t_then = 0.0
    out: list[rollup.Series] = []
    for body in bodies:
        t0 = clock()
        mid = first(body)
        t1 = clock()
        out += then(mid)
        t_first += t1 - t0
        t_then += clock() - t1
        del mid
    return t_first, t_then, out


@contextmanager
def gc_threshold(gen0: int) -> Iterator[None]:
    """The cyclic collector's first threshold raised for the block (default 700): the
    millions of [stamp, value] lists json.loads makes otherwise set off dozens of full
    collections per week, the collector's cost rather than the decoder's."""
    old = gc.get_threshold()
    gc.set_threshold(gen0, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def run_week(raw: list[bytes], decoded: list[dict[str, Any]] | None) -> dict[str, Any]:
    """One timed pass over the week: {step: seconds} and {path: Series}.

    With ``decoded`` None: raw bytes in (json.loads or validate_json). Otherwise: the
    decoded dicts in (hand parser, or validate_python), with the whole week's dicts alive.
    """
    hand = rollup.SeriesParser()

    def parse(d: dict[str, Any]) -> list[rollup.Series]:
        return hand.parse(d, "unit_code")

    def convert(m: EnvelopeModel) -> list[rollup.Series]:
        return series_from_models([m])

    if decoded is None:
        loads, parsing, ours = time_steps(raw, json.loads, parse)
        validate, converting, theirs = time_steps(raw, MODEL.validate_json, convert)
        with gc_threshold(GC_GEN0):
            loads_t, parsing_t, _ = time_steps(raw, json.loads, parse)
            validate_t, converting_t, _ = time_steps(raw, MODEL.validate_json, convert)
        return {
            "json.loads": loads,
            "hand parser": parsing,
            "json.loads, threshold": loads_t,
            "hand parser, threshold": parsing_t,
            "validate_json, threshold": validate_t,
            "to Series, threshold": converting_t,
            "validate_json": validate,
            "to Series": converting,
            "series": (ours, theirs),
        }
    _, parsing, ours = time_steps(decoded, lambda d: d, parse)
    validate, converting, theirs = time_steps(decoded, MODEL.validate_python, convert)
    return {
        "hand parser": parsing,
        "validate_python": validate,
        "to Series": converting,
        "series": (ours, theirs),
    }


def print_rows(title: str, rows: list[tuple[str, float]]) -> None:
    print(f"{title}:")
    print(f"  {'step':<40} {'seconds':>8} {'ratio':>6}")
    base = rows[0][1]
    for name, seconds in rows:
        print(f"  {name:<40} {seconds:8.3f} {seconds / base:6.2f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=1 if QUICK else 2)
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    raw = build_week_bodies()
    built = time.perf_counter() - t0
    # Raw-bytes runs first, while no decoded week is alive to slow the collector down.
    from_bytes = [run_week(raw, None) for _ in range(args.runs)]
    decoded = [json.loads(b) for b in raw]
    from_dicts = [run_week(raw, decoded) for _ in range(args.runs)]

    def med(runs: list[dict[str, Any]], *steps: str) -> float:
        return statistics.median(sum(r[s] for s in steps) for r in runs)

    hand = from_dicts[-1]["series"][0]
    print(
        f"week {START:%F}..{END:%F}: {len(raw)} facility-data bodies (30 facilities x 7 days), "
        f"{sum(map(len, raw)) / 1e6:.1f} MB, {len(hand):,} series, "
        f"{sum(len(s.times) for s in hand):,} points; built by the simulator in {built:.1f} s"
    )
    print(f"CPU seconds for the whole week, median of {args.runs} run(s); ratio = / baseline")
    print_rows(
        "decoded dicts in -> Series",
        [
            ("hand parser (baseline)", med(from_dicts, "hand parser")),
            ("pydantic validate_python", med(from_dicts, "validate_python")),
            (
                "pydantic validate_python + to Series",
                med(from_dicts, "validate_python", "to Series"),
            ),
        ],
    )
    print_rows(
        "raw bytes in -> Series, body by body as extractor.py",
        [
            ("json.loads + hand parser (baseline)", med(from_bytes, "json.loads", "hand parser")),
            ("  of which json.loads", med(from_bytes, "json.loads")),
            ("  of which hand parser", med(from_bytes, "hand parser")),
            ("pydantic validate_json", med(from_bytes, "validate_json")),
            ("pydantic validate_json + to Series", med(from_bytes, "validate_json", "to Series")),
        ],
    )
    print_rows(
        f"the same with gc.set_threshold({GC_GEN0:,}) (default 700)",
        [
            (
                "json.loads + hand parser (baseline)",
                med(from_bytes, "json.loads, threshold", "hand parser, threshold"),
            ),
            ("  of which json.loads", med(from_bytes, "json.loads, threshold")),
            (
                "pydantic validate_json + to Series",
                med(from_bytes, "validate_json, threshold", "to Series, threshold"),
            ),
        ],
    )
    same = all(
        same_series(theirs, ours)
        for r in (from_bytes[-1], from_dicts[-1])
        for ours, theirs in [r["series"]]
    )
    print(f"Pydantic paths give the same Series as the hand parser: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
