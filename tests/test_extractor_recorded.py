"""extractor.py against the real recorded OE responses, served on loopback by a stub.

The stub (tests/support_extractor.RecordedOE) stands in for the OE API only; the extractor
runs as a subprocess over real HTTP. The expected values are computed here, independently of
nemlive.extract.rollup, straight from the recorded JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shared_oe_dir
from tests.support_extractor import (
    RecordedOE,
    base_url,
    column,
    read_csv,
    run_extractor,
    serve,
)

pytestmark = pytest.mark.integration

KEY = "recorded-stub-key-7Hq2"
SPLIT = {"battery_charging", "battery_discharging"}


def load(shared_oe: Path, name: str) -> Any:
    return json.loads((shared_oe / name).read_text())


def independent_totals(
    shared_oe: Path,
) -> tuple[dict[tuple[str, str], dict[str, float]], dict[str, dict[str, float]], list[str]]:
    """{(metric, facility): {stamp: total}}, bidirectional-unit power per battery facility,
    and the facilities that expose a battery both ways, computed with plain Python."""
    facilities = load(shared_oe, "facilities.json")["data"]
    unit_info = {u["code"]: (f["code"], u["fueltech_id"]) for f in facilities for u in f["units"]}
    has_bidirectional = {
        f["code"] for f in facilities if any(u["fueltech_id"] == "battery" for u in f["units"])
    }
    day = load(shared_oe, "facility_data_5m_2025-10-01.json")
    totals: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    bidirectional: dict[str, dict[str, float]] = defaultdict(dict)
    both_ways: set[str] = set()
    for block in day["data"]:
        metric = block["metric"]
        for result in block["results"]:
            fac, tech = unit_info[result["columns"]["unit_code"]]
            if tech in SPLIT and fac in has_bidirectional:
                both_ways.add(fac)
            for stamp, value in result["data"]:
                if value is None:
                    continue
                if metric == "power" and tech in SPLIT:
                    if fac in has_bidirectional:
                        continue  # counted through the bidirectional unit
                    value = -value if tech == "battery_charging" else value
                if metric == "power" and tech == "pumps":
                    value = -value  # pumped-hydro load counts against the output
                if metric == "power" and tech == "battery":
                    bidirectional[fac][stamp] = value
                bucket = totals[(metric, fac)]
                bucket[stamp] = bucket.get(stamp, 0.0) + value
    return totals, bidirectional, sorted(both_ways)


def naive_power_sum(shared_oe: Path, facility: str) -> dict[str, float]:
    """The double-counting sum over every unit (what the earlier implementation did)."""
    facilities = load(shared_oe, "facilities.json")["data"]
    units = {u["code"] for f in facilities if f["code"] == facility for u in f["units"]}
    out: dict[str, float] = defaultdict(float)
    for block in load(shared_oe, "facility_data_5m_2025-10-01.json")["data"]:
        if block["metric"] != "power":
            continue
        for result in block["results"]:
            if result["columns"]["unit_code"] in units:
                for stamp, value in result["data"]:
                    out[stamp] += value or 0.0
    return out


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One extraction of the recorded day (shared by the tests of this module)."""
    shared_oe = shared_oe_dir()
    tmp_path = tmp_path_factory.mktemp("recorded")
    codes = load(shared_oe, "facility_data_5m_2025-10-01.request.json")["facility_code"]
    stub = RecordedOE(shared_oe, KEY)
    with serve(stub) as server:
        proc = run_extractor(
            [
                "--start",
                "2025-10-01",
                "--end",
                "2025-10-02",
                "--facilities",
                ",".join(codes),
                "--out",
                str(tmp_path / "consolidate.csv"),
                "--facilities-out",
                str(tmp_path / "data" / "facilities.csv"),
            ],
            cwd=tmp_path,
            OPENELECTRICITY_API_KEY=KEY,
            OPENELECTRICITY_API_URL=base_url(server),
        )
    return {"proc": proc, "stub": stub, "codes": codes, "dir": tmp_path}


def test_recorded_day_is_extracted_with_three_requests(recorded_run: dict[str, Any]) -> None:
    proc = recorded_run["proc"]
    assert proc.returncode == 0, proc.stderr
    paths = [s.path for s in recorded_run["stub"].seen]
    assert paths == ["/v4/facilities/", "/v4/data/facilities/NEM", "/v4/market/network/NEM"]
    data_request = recorded_run["stub"].seen[1]
    assert sorted(data_request.query["facility_code"]) == sorted(recorded_run["codes"])
    assert "market: no price/demand data" in proc.stderr
    assert "wrote " in proc.stderr and "288 rows" in proc.stderr


def test_recorded_day_rolls_up_to_an_independent_sum(
    recorded_run: dict[str, Any], shared_oe: Path
) -> None:
    assert recorded_run["proc"].returncode == 0, recorded_run["proc"].stderr
    header, rows = read_csv(recorded_run["dir"] / "consolidate.csv")
    totals, _, _ = independent_totals(shared_oe)
    stamps = column(header, rows, "timestamp")
    assert len(rows) == 288
    checked = 0
    for code in recorded_run["codes"]:
        for metric in ("power", "emissions"):
            expected = totals.get((metric, code), {})
            for stamp, cell in zip(stamps, column(header, rows, f"{metric}_{code}"), strict=True):
                if stamp not in expected:
                    assert cell == "", (metric, code, stamp)
                else:
                    assert float(cell) == pytest.approx(expected[stamp], abs=5e-4 + 1e-9), (
                        metric,
                        code,
                        stamp,
                    )
                    checked += 1
    # Every recorded (facility, metric, timestamp) total was compared; facilities without
    # recorded data have empty columns (checked above).
    assert checked == sum(
        len(totals.get((m, c), {})) for c in recorded_run["codes"] for m in ("power", "emissions")
    )
    assert checked > 10_000


def test_each_recorded_battery_is_counted_once(
    recorded_run: dict[str, Any], shared_oe: Path
) -> None:
    header, rows = read_csv(recorded_run["dir"] / "consolidate.csv")
    _, bidirectional, both_ways = independent_totals(shared_oe)
    assert len(both_ways) == 3  # SOURCES.md: three facilities expose a battery both ways
    stamps = column(header, rows, "timestamp")
    for code in both_ways:
        cells = column(header, rows, f"power_{code}")
        naive = naive_power_sum(shared_oe, code)
        written = {t: float(c) for t, c in zip(stamps, cells, strict=True) if c != ""}
        assert written, code
        # Summing every unit would have given other values: the rule was applied.
        differs = [t for t, v in written.items() if not math.isclose(v, naive[t], abs_tol=5e-5)]
        assert differs, code
        # Where the facility has only its battery, the total is the bidirectional unit's value.
        assert any(
            math.isclose(v, bidirectional[code][t], abs_tol=5e-5)
            for t, v in written.items()
            if t in bidirectional[code] and bidirectional[code][t] != 0
        ), code


def test_recorded_timestamps_are_written_exactly_as_the_api_gave_them(
    recorded_run: dict[str, Any], shared_oe: Path
) -> None:
    header, rows = read_csv(recorded_run["dir"] / "consolidate.csv")
    day = load(shared_oe, "facility_data_5m_2025-10-01.json")
    api_stamps = sorted({p[0] for b in day["data"] for r in b["results"] for p in r["data"]})
    assert column(header, rows, "timestamp") == api_stamps


def test_recorded_run_writes_meta_and_lookup(recorded_run: dict[str, Any]) -> None:
    out = recorded_run["dir"]
    csv_bytes = (out / "consolidate.csv").read_bytes()
    meta = json.loads((out / "consolidate.meta.json").read_text())
    assert meta["csv_sha256"] == hashlib.sha256(csv_bytes).hexdigest()
    assert meta["source"] == "simulator"  # loopback host
    assert meta["rows"] == 288 and meta["facilities"] == 30
    assert meta["window"] == {
        "start": "2025-10-01T00:00:00",
        "end": "2025-10-02T00:00:00",
        "timezone": "+10:00",
        "end_exclusive": True,
    }
    lookup_header, lookup_rows = read_csv(out / "data" / "facilities.csv")
    assert lookup_header == [
        "facility_id",
        "name",
        "region_id",
        "lat",
        "lon",
        "fuel_groups",
        "fuel_techs",
        "capacity_mw",
    ]
    assert sorted(r[0] for r in lookup_rows) == sorted(recorded_run["codes"])
    for name in ("consolidate.csv", "consolidate.meta.json", "data/facilities.csv"):
        assert KEY not in (out / name).read_text()
    assert KEY not in recorded_run["proc"].stderr + recorded_run["proc"].stdout


@pytest.mark.slow
def test_recorded_full_list_is_batched_by_thirty(shared_oe: Path, tmp_path: Path) -> None:
    stub = RecordedOE(shared_oe, KEY)
    with serve(stub) as server:
        proc = run_extractor(
            ["--start", "2025-10-01", "--end", "2025-10-02"],
            cwd=tmp_path,
            OPENELECTRICITY_API_KEY=KEY,
            OPENELECTRICITY_API_URL=base_url(server),
        )
    assert proc.returncode == 0, proc.stderr
    data_requests = [s for s in stub.seen if s.path == "/v4/data/facilities/NEM"]
    assert len(data_requests) == 14
    assert all(len(s.query["facility_code"]) <= 30 for s in data_requests)
    assert len(stub.seen) == 16
    header, _ = read_csv(tmp_path / "consolidate.csv")
    assert sum(1 for c in header if c.startswith("power_")) == 420
    _, lookup_rows = read_csv(tmp_path / "data" / "facilities.csv")
    assert len(lookup_rows) == 420
