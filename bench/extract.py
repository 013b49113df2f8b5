"""Benchmark: a full week for a catalogue of the real NEM's size, through extractor.py.

    .venv/bin/python bench/extract.py [--runs 5] [--facilities 420]

1. Starts the OE simulator (scaled dataset: 420 facilities, about 620 units) on loopback.
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

import pandas as pd  # noqa: E402

import context  # noqa: E402
from nemlive import consolidate, rollup  # noqa: E402
from nemlive.oeclient import ClientSettings, OEClient  # noqa: E402
from oesim.scaled import ScaledDataset  # noqa: E402  (test infrastructure, bench only)
from oesim.testing import run_simulator  # noqa: E402

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
    consolidate.render_facilities_csv(context.FACILITIES_HEADER, rows)
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
    joined = joined.reindex(columns=header).round(4)
    return joined.to_csv(float_format="%.12g", lineterminator="\n").encode()


def median_time(fn: Any, runs: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help="transform repetitions (median)")
    p.add_argument("--facilities", type=int, default=420, help="scaled catalogue size")
    args = p.parse_args(argv)

    dataset = ScaledDataset(n_facilities=args.facilities)
    n_units = sum(len(f["units"]) for f in dataset.facilities())
    print(
        f"scaled catalogue: {args.facilities} facilities, {n_units} units; week {START:%F}..{END:%F}"
    )
    with run_simulator(dataset=dataset, keys=(KEY,)) as sim, tempfile.TemporaryDirectory() as tmp:
        cli = run_cli(sim.url, Path(tmp))
        sent = sim.requests.records()
        n_data = sum(1 for r in sent if "/data/facilities/" in r.path)
        sim.requests.clear()

        paced = fetch_all(sim.url, min_interval=0.5)
        lifted = fetch_all(sim.url, min_interval=0.0)
        bodies = lifted[:3]

        raw = [json.dumps(b).encode() for b in (bodies[0], *bodies[1], *bodies[2])]
        decode_s, _ = median_time(lambda: [json.loads(r) for r in raw], args.runs)
        transform_s, (csv_bytes, _) = median_time(lambda: transform(*bodies), args.runs)
        baseline_s, base_csv = median_time(
            lambda: baseline_transform(*bodies), max(1, args.runs // 2)
        )

    ours = [ln.split(",", 1)[1] for ln in csv_bytes.decode().splitlines()[1:]]
    theirs = [ln.split(",", 1)[1] for ln in base_csv.decode().splitlines()[1:]]
    same = ours == theirs

    def http_line(label: str, client: OEClient) -> str:
        s = client.stats
        return (
            f"  {label}: {s.total} requests, HTTP {s.http_seconds:.2f} s "
            f"(incl. JSON decode), waits {s.wait_seconds:.2f} s"
        )

    print(f"extractor.py (subprocess, 2 req/s): wall {cli['wall']:.2f} s")
    print(f"  requests: {len(sent)} total, {n_data} facility-data   [target <= 16, <= 14]")
    print(f"  peak RSS: {cli['peak_rss_mb']:.0f} MB   [target < 1024 MB]")
    print(
        f"  consolidate.csv: {cli['csv_bytes'] / 1e6:.2f} MB ({cli['csv_bytes']} bytes), "
        f"{cli['meta']['rows']} rows x {cli['meta']['columns']} columns   [target <= 8 MB]"
    )
    print("HTTP, in process:")
    print(http_line("rate limit on (2 req/s)", paced[3]))
    print(http_line("rate limit lifted (bench only)", lifted[3]))
    print(
        f"transform (decoded JSON -> CSV bytes), median of {args.runs}: {transform_s:.3f} s   [target < 2 s]"
    )
    print(f"  JSON decode of the same bodies (counted as HTTP): {decode_s:.3f} s")
    print(
        f"  baseline, seed-style pandas long format -> pivot: {baseline_s:.3f} s; "
        f"ratio ours/baseline {transform_s / baseline_s:.2f}; same values: {same}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
