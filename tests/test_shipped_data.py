"""The shipped simulated week: its shape, its size budget, and that `make data` reproduces it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from nemlive.common import lookups
from nemlive.common.columns import parse_column
from nemlive.devtools import makedata
from oesim.testing import run_simulator
from tests.conftest import ROOT
from tests.support_extractor import read_csv, run_extractor

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
