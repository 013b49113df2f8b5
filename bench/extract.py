"""Benchmark: a full week for a catalogue of the real NEM's size, through extractor.py.

    .venv/bin/python bench/extract.py [--runs 5] [--facilities 420]

1. Starts the OE simulator (``python -m oesim --dataset scaled``: 420 facilities, about
   620 units) on loopback, in its own process.
2. Runs ``extractor.py`` for 2025-10-01..2025-10-08 as a subprocess, as a user would (rate
   limit on): wall time, requests (total and facility-data), peak RSS of that process, CSV
   size.
3. In process, with the same client: the wall time split into HTTP and transform, once with
   the 2 req/s limit and once with it lifted (benchmark only; the CLI cannot lift it).
4. The transform alone (JSON bodies already decoded -> lookup, roll-up, checks, CSV bytes),
   median of ``--runs``, against a baseline measured in the same run: the seed's long-format
   pandas approach (records -> groupby(facility, timestamp).sum -> pivot -> to_csv). Also
   the JSON decoding of the same bodies, which the extractor counts as HTTP time.

Targets (issue 2): <= 16 requests (<= 14 facility data), transform < 2 s median, peak RSS
< 1 GB, consolidate.csv <= 8 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd
import requests

from nemlive.common import lookups
from nemlive.extract import (
    consolidate,
    rollup,
)
from nemlive.extract.oeclient import ClientSettings, OEClient
from nemlive.extract.rollup import DECIMALS

KEY = "bench-key-0123456789"
START, END = datetime(2025, 10, 1), datetime(2025, 10, 8)
WINDOW = ["--start", "2025-10-01", "--end", "2025-10-08"]


def run_cli(url: str, workdir: Path) -> dict[str, Any]:
    """extractor.py as a subprocess; its wall time and peak RSS (ru_maxrss of the child)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENELECTRICITY_")}
    env.update(OPENELECTRICITY_API_KEY=KEY, OPENELECTRICITY_API_URL=url)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "extractor.py"), *WINDOW],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"extractor.py failed ({proc.returncode}): {proc.stderr[-2000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    meta = json.loads((workdir / "consolidate.meta.json").read_text())
    return {
        "wall": wall,
        "peak_rss_mb": peak_kb / 1024 if peak_kb > before else float("nan"),
        "csv_bytes": (workdir / "consolidate.csv").stat().st_size,
        "meta": meta,
    }


def fetch_all(url: str, min_interval: float) -> tuple[dict, list[dict], list[dict], OEClient]:
    """Every body a week needs, decoded, with the client's HTTP statistics."""
    settings = ClientSettings(base_url=url, api_key=KEY, min_interval=min_interval)
    client = OEClient(settings)
    facilities = client.fetch_facilities("NEM")
    lookup = rollup.build_lookup(facilities, "NEM")
    data, market = [], []
    for w_start, w_end in rollup.chunk_window(START, END):
        for batch in rollup.chunk_codes(lookup.facility_ids):
            body = client.fetch_facility_data("NEM", batch, w_start, w_end)
            if body is not None:
                data.append(body)
        body = client.fetch_market("NEM", w_start, w_end)
        if body is not None:
            market.append(body)
    client.close()
    return facilities, data, market, client


def transform(facilities: dict, data: list[dict], market: list[dict]) -> tuple[bytes, bytes]:
    """What extractor.run does between the HTTP calls: JSON objects -> CSV bytes."""
    lookup = rollup.build_lookup(facilities, "NEM")
    parser = rollup.SeriesParser()
    fac_series = [s for body in data for s in parser.parse(body, "unit_code")]
    mkt_series = [s for body in market for s in parser.parse(body, "region")]
    table = rollup.build_wide_table(lookup, fac_series, mkt_series, (START, END))
    consolidate.check_table(table)
    consolidate.summarise(table)
    rows, _ = rollup.build_facility_rows(lookup)
    consolidate.render_facilities_csv(lookups.FACILITIES_HEADER, rows)
    return consolidate.render_csv(table), b""


def baseline_transform(facilities: dict, data: list[dict], market: list[dict]) -> bytes:
    """The seed's approach (§3.2-3.4), same battery rule: long records, groupby, pivot."""
    lookup = rollup.build_lookup(facilities, "NEM")
    records = []
    for body in data:
        for block in body["data"]:
            metric = block["metric"]
            for result in block["results"]:
                unit = result["columns"]["unit_code"]
                fac = lookup.unit_facility.get(unit)
                if fac is None:
                    continue
                w = lookup.power_weight.get(unit) if metric == "power" else 1.0
                if w is None:
                    continue
                for ts, v in result["data"]:
                    records.append((metric, fac, ts, None if v is None else v * w))
    df = pd.DataFrame.from_records(records, columns=["metric", "code", "timestamp", "value"])
    long = df.groupby(["timestamp", "metric", "code"])["value"].sum(min_count=1)
    wide = long.unstack(["metric", "code"])
    wide.columns = [f"{m}_{c}" for m, c in wide.columns]
    mrec = []
    for body in market:
        for block in body["data"]:
            for result in block["results"]:
                region = result["columns"]["region"]
                for ts, v in result["data"]:
                    mrec.append((ts, f"{block['metric']}_{region}", v))
    mdf = pd.DataFrame.from_records(mrec, columns=["timestamp", "column", "value"])
    mwide = mdf.pivot_table(index="timestamp", columns="column", values="value", aggfunc="first")
    joined = wide.join(mwide, how="left").sort_index()
    header = rollup.build_header(lookup.facility_ids, rollup.NEM_REGIONS)[1:]
    joined = joined.reindex(columns=header).round(DECIMALS)
    return joined.to_csv(float_format="%.12g", lineterminator="\n").encode()


def median_time(fn: Any, runs: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def start_simulator(n_facilities: int) -> tuple[subprocess.Popen[str], str]:
    """``python -m oesim --dataset scaled`` in its own process, so that its JSON encoding
    does not share our GIL; returns (process, base URL)."""
    if n_facilities != 420:
        raise SystemExit("the simulator CLI serves the 420-facility scaled dataset only")
    proc = subprocess.Popen(
        [sys.executable, "-m", "oesim", "--port", "0", "--dataset", "scaled", "--key", KEY],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if "listening on " not in line:
        proc.kill()
        raise SystemExit(f"the OE simulator did not start: {line or 'no output'}")
    return proc, line.rsplit(" ", 1)[-1]


def simulator_requests(url: str, clear: bool = False) -> list[dict[str, Any]]:
    root = url.removesuffix("/v4")
    method = "DELETE" if clear else "GET"
    resp = requests.request(method, f"{root}/__sim__/requests", timeout=10)
    resp.raise_for_status()
    return resp.json()["requests"]


def same_values(ours: bytes, theirs: bytes) -> tuple[bool, int]:
    """(all cells equal within one unit of the last written decimal, cells whose text
    differs): summing in another order can land a tie on the other side of the rounding."""
    a, b = ours.decode().splitlines(), theirs.decode().splitlines()
    if len(a) != len(b):
        return False, -1
    differ = 0
    for x, y in zip(a[1:], b[1:], strict=True):
        xs, ys = x.split(",")[1:], y.split(",")[1:]
        if len(xs) != len(ys):
            return False, -1
        for u, v in zip(xs, ys, strict=True):
            if u != v:
                differ += 1
                if (u == "") != (v == "") or abs(float(u) - float(v)) > 1.5 * 10.0**-DECIMALS:
                    return False, differ
    return True, differ


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help="transform repetitions (median)")
    p.add_argument("--facilities", type=int, default=420, help="scaled catalogue size (420)")
    args = p.parse_args(argv)

    sim, url = start_simulator(args.facilities)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cli = run_cli(url, Path(tmp))
        sent = simulator_requests(url, clear=False)
        n_data = sum(1 for r in sent if "/data/facilities/" in r["path"])
        paced = fetch_all(url, min_interval=0.5)
        lifted = fetch_all(url, min_interval=0.0)
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    bodies = lifted[:3]
    n_fac = len(rollup.build_lookup(bodies[0], "NEM").facilities)
    n_units = sum(len(f["units"]) for f in bodies[0]["data"] if f.get("network_id") == "NEM")
    raw = [json.dumps(b).encode() for b in (bodies[0], *bodies[1], *bodies[2])]
    decode_s, _ = median_time(lambda: [json.loads(r) for r in raw], args.runs)
    transform_s, (csv_bytes, _) = median_time(lambda: transform(*bodies), args.runs)
    baseline_s, base_csv = median_time(lambda: baseline_transform(*bodies), max(1, args.runs // 2))
    same, differ = same_values(csv_bytes, base_csv)

    def http_line(label: str, client: OEClient) -> str:
        s = client.stats
        return (
            f"  {label}: {s.total} requests, in HTTP {s.http_seconds:.2f} s "
            f"(incl. JSON decode), waiting {s.wait_seconds:.2f} s, "
            f"total {s.http_seconds + s.wait_seconds:.2f} s"
        )

    print(
        f"scaled catalogue: {n_fac} operational facilities, {n_units} units; "
        f"week {START:%F}..{END:%F}; {sum(map(len, raw)) / 1e6:.0f} MB of JSON"
    )
    print(f"extractor.py (subprocess, 2 req/s): wall {cli['wall']:.2f} s")
    print(f"  requests: {len(sent)} total, {n_data} facility-data   [target <= 16, <= 14]")
    print(f"  peak RSS: {cli['peak_rss_mb']:.0f} MB   [target < 1024 MB]")
    print(
        f"  consolidate.csv: {cli['csv_bytes'] / 1e6:.2f} MB ({cli['csv_bytes']} bytes), "
        f"{cli['meta']['rows']} rows x {cli['meta']['columns']} columns   [target <= 8 MB]"
    )
    print("HTTP, in process (simulator in its own process):")
    print(http_line("rate limit on (2 req/s)", paced[3]))
    print(http_line("rate limit lifted (bench only)", lifted[3]))
    print(
        f"transform (decoded JSON -> CSV bytes), median of {args.runs}: "
        f"{transform_s:.3f} s   [target < 2 s]"
    )
    print(f"  JSON decode of the same bodies (counted as HTTP above): median {decode_s:.3f} s")
    print(
        f"  baseline (seed-style pandas long format -> groupby -> pivot): {baseline_s:.3f} s; "
        f"ratio ours/baseline {transform_s / baseline_s:.2f}"
    )
    print(
        f"  same values as the baseline: {same} ({differ} cells differ only in the last "
        f"decimal ({DECIMALS} dp) from summation order)"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
