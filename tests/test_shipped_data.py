"""The shipped simulated week: its shape, its size budget, and that `make data` reproduces it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest

from nemlive.common import lookups
from nemlive.common.columns import parse_column
from nemlive.devtools import makedata
from oesim.testing import run_simulator
from tests.conftest import ROOT
from tests.support_extractor import read_csv, run_extractor

pytestmark = pytest.mark.integration

CSV = ROOT / "consolidate.csv"
META = ROOT / "consolidate.meta.json"
FACILITIES = ROOT / "data" / "facilities.csv"
# The seed's budget: 8 MB for a week of 420 facilities.
BYTES_PER_FACILITY_WEEK = 8_000_000 / 420


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def shipped() -> tuple[list[str], list[list[str]]]:
    return read_csv(CSV)


def test_shipped_week_has_the_promised_shape(shipped: tuple[list[str], list[list[str]]]) -> None:
    header, rows = shipped
    assert len(rows) == 2016  # 7 days × 288 five-minute intervals
    metrics: dict[str, set[str]] = {}
    for name in header[1:]:
        metric, code = parse_column(name)
        metrics.setdefault(metric, set()).add(code)
    assert len(metrics["power"]) >= 120
    assert metrics["power"] == metrics["emissions"]
    assert metrics["price"] == metrics["demand"] == {"NSW1", "QLD1", "SA1", "TAS1", "VIC1"}
    # Every facility in the cache can be drawn: it is in the lookup table.
    assert metrics["power"] <= set(lookups.load_facilities(FACILITIES))


def test_shipped_week_is_marked_simulated_and_matches_its_meta() -> None:
    meta = json.loads(META.read_text())
    assert meta["source"] == "simulator"
    assert meta["rows"] == 2016
    assert meta["csv_sha256"] == sha256(CSV)
    assert "key" not in json.dumps(meta).lower().replace("keys", "")


def test_shipped_week_is_within_the_size_budget(
    shipped: tuple[list[str], list[list[str]]],
) -> None:
    facilities = sum(1 for c in shipped[0] if c.startswith("power_"))
    assert CSV.stat().st_size <= facilities * BYTES_PER_FACILITY_WEEK


def test_make_data_reproduces_the_shipped_files_byte_for_byte(tmp_path: Path) -> None:
    start, end = makedata.SIM_WEEK
    with run_simulator(dataset="nem", seed=int(makedata.SIM_SEED)) as sim:
        proc = run_extractor(
            [
                "--start",
                start,
                "--end",
                end,
                "--out",
                str(tmp_path / "consolidate.csv"),
                "--facilities-out",
                str(tmp_path / "facilities.csv"),
            ],
            cwd=tmp_path,
            OPENELECTRICITY_API_URL=sim.url,
            OPENELECTRICITY_API_KEY=makedata.SIM_KEY,
        )
    assert proc.returncode == 0, proc.stderr
    assert sha256(tmp_path / "consolidate.csv") == sha256(CSV)
    assert sha256(tmp_path / "facilities.csv") == sha256(FACILITIES)


def _series(shipped: tuple[list[str], list[list[str]]], name: str) -> list[float]:
    header, rows = shipped
    i = header.index(name)
    return [float(r[i]) if r[i] else 0.0 for r in rows]


def _hours(shipped: tuple[list[str], list[list[str]]]) -> list[float]:
    # Interval-ending stamps: 12:05 covers 12:00-12:05, so 12:00 ends the morning.
    out = []
    for r in shipped[1]:
        t = datetime.fromisoformat(r[0])
        out.append(((t.hour * 60 + t.minute - 5) % 1440) / 60)
    return out


def test_shipped_week_looks_like_the_spring_nem(
    shipped: tuple[list[str], list[list[str]]],
) -> None:
    """What the dashboard shows on the shipped week: a duck curve, negative midday prices
    in the south, and about two-fifths of utility-scale generation renewable."""
    hours = _hours(shipped)
    regions = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")
    columns = [_series(shipped, f"demand_{r}") for r in regions]
    demand = [sum(v) for v in zip(*columns, strict=True)]
    for day in range(7):
        d = demand[day * 288 : (day + 1) * 288]
        h = hours[day * 288 : (day + 1) * 288]
        midday = min(x for x, hh in zip(d, h, strict=True) if 11 <= hh < 14)
        evening = max(x for x, hh in zip(d, h, strict=True) if 17 <= hh < 21)
        assert midday < 0.75 * evening, day
    for region in ("SA1", "VIC1"):
        price = _series(shipped, f"price_{region}")
        midday_negative = [p < 0 for p, hh in zip(price, hours, strict=True) if 10 <= hh < 15]
        assert sum(midday_negative) / len(midday_negative) > 0.3, region
    facilities = lookups.load_facilities(FACILITIES)
    renewable = total = 0.0
    for name in shipped[0][1:]:
        metric, code = parse_column(name)
        if metric != "power":
            continue
        mw = sum(max(v, 0.0) for v in _series(shipped, name))
        total += mw
        renewable += mw if facilities[code].fuel_group in ("wind", "solar", "hydro") else 0.0
    assert 0.31 < renewable / total < 0.47


def test_shipped_week_has_spring_2025_prices_across_the_nem(
    shipped: tuple[list[str], list[list[str]]],
) -> None:
    """The NEM's price, each interval's regional prices weighted by regional demand, is
    below zero in at least a quarter of the week and averages $20-45/MWh; NSW and QLD go
    below zero under the midday sun as SA and VIC do (docs/simulated-nem.md)."""
    hours = _hours(shipped)
    regions = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")
    demand = {r: _series(shipped, f"demand_{r}") for r in regions}
    price = {r: _series(shipped, f"price_{r}") for r in regions}
    nem = [
        sum(price[r][i] * demand[r][i] for r in regions) / sum(demand[r][i] for r in regions)
        for i in range(len(hours))
    ]
    assert sum(p < 0 for p in nem) / len(nem) >= 0.25
    assert 20.0 <= sum(nem) / len(nem) <= 45.0
    for region in ("NSW1", "QLD1", "SA1", "VIC1"):
        midday = [p < 0 for p, hh in zip(price[region], hours, strict=True) if 10 <= hh < 15]
        assert sum(midday) / len(midday) > 0.5, region
