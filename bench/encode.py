"""Benchmark: the cost per message of encoding a facility event's MQTT payload.

    .venv/bin/python bench/encode.py [--messages 200000] [--runs 5]
    BENCH_QUICK=1 .venv/bin/python bench/encode.py      # 2 runs of 50,000 messages

Encoders, each over the same ``--messages`` realistic events (420 facilities, 3-decimal
floats, ~2 % None), in turn within every run; median of ``--runs``, in CPU time of this
process (on a busy machine wall time measures the neighbours too), after one untimed
warm-up run of each:

* template: ``PayloadTemplate("facility", id).encode(ts, a, b)``, the publisher's fast path
  (one template per facility, built before timing) -- the baseline of the ratios;
* json.dumps: ``encode_facility_event(id, ts, a, b)``, the schema's reference encoder;
* orjson: ``orjson.dumps`` of the same dict, ``.encode`` included (optional package);
* pydantic: ``FacilityEvent(...).model_dump_json().encode()`` (validation and dump), and
  ``FacilityEvent.model_construct(...)`` (dump only). Timestamps are parsed to datetimes
  before timing, since the model is strict: this favours Pydantic.

Then byte identity with ``encode_facility_event`` over the whole realistic set, and over edge
values (-0.0, 1e-7, 123456.789, None, NaN, ...) with every row that differs or is rejected.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import ValidationError

from nemlive.common.events import FacilityEvent, PayloadTemplate, encode_facility_event
from nemlive.common.nemtime import NEM_TZ

try:
    import orjson
except ImportError:  # not a project dependency
    orjson = None

QUICK = os.environ.get("BENCH_QUICK") == "1"
FACILITIES = 420
Row = tuple[str, str, float | None, float | None]

# Values a CSV cell can hold, and the places where float writers disagree.
EDGE_VALUES: list[tuple[float | None, float | None]] = [
    (-0.0, 0.0),
    (1e-7, 0.001),
    (123456.789, 12.5),
    (None, 3.25),
    (245.7, None),
    (None, None),
    (1e-05, 0.0001),
    (0.1 + 0.2, 2.0),
    (1e16, 1e22),
    (-4999.999, 999.999),
    (float("nan"), 1.0),
]


def build_rows(n: int, seed: int = 42) -> list[Row]:
    """``n`` facility events as the publisher sees them: interval by interval, 3 decimals."""
    rng = random.Random(seed)
    codes = [f"SYN{i:04d}" for i in range(FACILITIES)]
    start = datetime(2025, 10, 8, 0, 5, tzinfo=NEM_TZ)
    rows: list[Row] = []
    for i in range(n):
        interval, fac = divmod(i, FACILITIES)
        ts = (start + timedelta(minutes=5 * interval)).isoformat(timespec="seconds")
        power = None if rng.random() < 0.02 else round(rng.uniform(-50, 700), 3)
        co2 = None if rng.random() < 0.03 else round(rng.uniform(0, 60), 3)
        rows.append((codes[fac], ts, power, co2))
    return rows


def build_templates(rows: list[Row]) -> dict[str, PayloadTemplate]:
    """One template per facility, as the publisher builds them once per replay."""
    return {fid: PayloadTemplate("facility", fid) for fid in dict.fromkeys(r[0] for r in rows)}


def run_template(
    rows: list[Row], templates: dict[str, PayloadTemplate] | None = None
) -> list[bytes]:
    templates = templates or build_templates(rows)
    return [templates[fid].encode(ts, a, b) for fid, ts, a, b in rows]


def run_json(rows: list[Row]) -> list[bytes]:
    return [encode_facility_event(fid, ts, a, b) for fid, ts, a, b in rows]


def run_orjson(rows: list[Row]) -> list[bytes]:
    dumps = orjson.dumps
    return [
        dumps({"facility_id": fid, "timestamp": ts, "power_mw": a, "co2_tonnes": b})
        for fid, ts, a, b in rows
    ]


def with_datetimes(rows: list[Row]) -> list[tuple[str, datetime, float | None, float | None]]:
    parsed: dict[str, datetime] = {}
    out = []
    for fid, ts, a, b in rows:
        dt = parsed.get(ts)
        if dt is None:
            dt = parsed[ts] = datetime.fromisoformat(ts)
        out.append((fid, dt, a, b))
    return out


def run_pydantic(rows: list[tuple[str, datetime, Any, Any]]) -> list[bytes]:
    return [
        FacilityEvent(facility_id=fid, timestamp=dt, power_mw=a, co2_tonnes=b)
        .model_dump_json()
        .encode()
        for fid, dt, a, b in rows
    ]


def run_pydantic_dump(rows: list[tuple[str, datetime, Any, Any]]) -> list[bytes]:
    construct = FacilityEvent.model_construct
    return [
        construct(facility_id=fid, timestamp=dt, power_mw=a, co2_tonnes=b)
        .model_dump_json()
        .encode()
        for fid, dt, a, b in rows
    ]


def _tail(payload: bytes, other: bytes) -> str:
    """The payload from ``"power_mw"`` on when the id and timestamp agree, else all of it."""
    head, sep, _ = payload.partition(b',"power_mw"')
    text = payload.decode()
    return text[len(head) + 1 :] if sep and other.startswith(head + sep) else text


def compare_edges(name: str, fn: Callable[[Any], list[bytes]], pydantic: bool) -> str:
    """``identical`` or the first payload that differs from encode_facility_event."""
    rows: list[Row] = [("BAYSW", "2025-10-15T10:05:00+10:00", a, b) for a, b in EDGE_VALUES]
    diffs = []
    for row in rows:
        want = run_json([row])[0]
        try:
            got = fn(with_datetimes([row]) if pydantic else [row])[0]
        except ValidationError as exc:
            err = exc.errors()[0]
            diffs.append(f"({row[2]!r}, {row[3]!r}): rejected ({err['loc'][0]}: {err['msg']})")
            continue
        if got != want:
            diffs.append(f"({row[2]!r}, {row[3]!r}): {_tail(got, want)} vs {_tail(want, got)}")
    if not diffs:
        return f"  {name:<24} identical on all {len(rows)} edge rows"
    return f"  {name:<24} differs on {len(diffs)}/{len(rows)}:\n" + "\n".join(
        f"      {d}" for d in diffs
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=50_000 if QUICK else 200_000)
    p.add_argument("--runs", type=int, default=2 if QUICK else 5)
    args = p.parse_args(argv)

    rows = build_rows(args.messages)
    dt_rows = with_datetimes(rows)
    templates = build_templates(rows)
    encoders: list[tuple[str, Callable[[], list[bytes]]]] = [
        ("template (baseline)", lambda: run_template(rows, templates)),
        ("json.dumps", lambda: run_json(rows)),
    ]
    if orjson is None:
        print("orjson: not installed, row skipped (.venv/bin/pip install orjson to compare)")
    else:
        encoders.append(("orjson.dumps", lambda: run_orjson(rows)))
    encoders += [
        ("pydantic validate+dump", lambda: run_pydantic(dt_rows)),
        ("pydantic dump only", lambda: run_pydantic_dump(dt_rows)),
    ]

    times: dict[str, list[float]] = {name: [] for name, _ in encoders}
    outputs: dict[str, list[bytes]] = {}
    for name, fn in encoders:
        # Warm-up, untimed: the first batches of fresh payloads grow the heap (orjson's
        # first two runs cost 8x the later ones), which a long-running publisher has done.
        outputs[name] = fn()
    for _ in range(args.runs):
        for name, fn in encoders:
            outputs[name] = []  # free the previous run's payloads before timing
            t0 = time.process_time()
            outputs[name] = fn()
            times[name].append(time.process_time() - t0)

    reference = outputs["json.dumps"]
    base = statistics.median(times["template (baseline)"])
    nulls = sum(r[2] is None or r[3] is None for r in rows)
    print(
        f"{args.messages:,} facility events ({FACILITIES} facilities, {nulls:,} with a null), "
        f"median of {args.runs} runs, CPU time; ratio = time / template"
    )
    print(f"  {'encoder':<24} {'us/msg':>7} {'ratio':>6}  same bytes as json.dumps (all rows)")
    for name, _ in encoders:
        med = statistics.median(times[name])
        same = sum(a == b for a, b in zip(outputs[name], reference, strict=True))
        print(
            f"  {name:<24} {med / args.messages * 1e6:7.3f} {med / base:6.2f}  "
            f"{same:,}/{len(reference):,}"
        )
    print("edge values (power_mw, co2_tonnes) against encode_facility_event:")
    print(compare_edges("template", run_template, False))
    if orjson is not None:
        print(compare_edges("orjson.dumps", run_orjson, False))
    print(compare_edges("pydantic validate+dump", run_pydantic, True))
    print(compare_edges("pydantic dump only", run_pydantic_dump, True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
