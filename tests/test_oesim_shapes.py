"""The simulator's bodies have the same key structure as real recorded OE responses
(read from ../shared/oe at test time, never copied), and the scaled benchmark catalogue."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from nemlive.common.lookups import fuel_group
from oesim.scaled import ScaledDataset
from oesim.server import DEMO_KEY
from oesim.testing import SimulatorHandle, run_simulator

AUTH = {"Authorization": f"Bearer {DEMO_KEY}"}
DAY = {"date_start": "2025-10-01T00:00:00", "date_end": "2025-10-02T00:00:00"}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+(10|11):00$")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with run_simulator("small") as handle:
        yield handle


def load(shared_oe: Path, name: str) -> dict[str, Any]:
    return json.loads((shared_oe / name).read_text(encoding="utf-8"))


def assert_same_structure(real: Any, ours: Any, where: str = "$") -> None:
    """Same keys at every level (keys whose real value is null are old-capture leftovers,
    docs/oe-api.md §2); each of our list items against the real one, points as [str, number|null]."""
    if isinstance(real, dict):
        assert isinstance(ours, dict), where
        real_keys = {k for k, v in real.items() if v is not None}
        assert real_keys == set(ours), f"{where}: real {sorted(real_keys)} vs ours {sorted(ours)}"
        for key in real_keys:
            assert_same_structure(real[key], ours[key], f"{where}.{key}")
    elif isinstance(real, list):
        assert isinstance(ours, list), where
        if where.endswith(".data") and real and isinstance(real[0], list):
            for point in [real[0], *ours]:
                assert len(point) == 2 and isinstance(point[0], str), (where, point)
                assert point[1] is None or isinstance(point[1], int | float), (where, point)
                assert STAMP.match(point[0]), (where, point)
            return
        if real:
            assert ours, f"{where}: ours is empty"
            # every one of our items against the real item at the same place (or the first)
            for i, item in enumerate(ours):
                assert_same_structure(real[i if i < len(real) else 0], item, f"{where}[{i}]")
    elif isinstance(real, str):
        assert isinstance(ours, str), where
        if STAMP.match(real):
            assert STAMP.match(ours), (where, ours)
    elif isinstance(real, bool):
        assert isinstance(ours, bool), where
    elif isinstance(real, int | float):
        assert isinstance(ours, int | float) and not isinstance(ours, bool), where


def test_facility_data_shape_matches_real(sim: SimulatorHandle, shared_oe: Path) -> None:
    real = load(shared_oe, "facility_data_5m_2025-10-01.json")
    request = load(shared_oe, "facility_data_5m_2025-10-01.request.json")
    ours = requests.get(
        sim.url + "/data/facilities/NEM",
        params={
            "facility_code": ["KARRAWONG", "TALLAWANG"],
            "metrics": request["metrics"],
            "interval": request["interval"],
            "date_start": request["date_start"],
            "date_end": request["date_end"],
        },
        headers=AUTH,
        timeout=10,
    ).json()
    assert_same_structure(real, ours)
    assert [s["metric"] for s in ours["data"]] == [s["metric"] for s in real["data"]]
    assert [s["unit"] for s in ours["data"]] == [s["unit"] for s in real["data"]]
    for real_s, our_s in zip(real["data"], ours["data"], strict=True):
        for key in ("network_code", "interval", "groupings", "network_timezone_offset"):
            assert our_s[key] == real_s[key]
        # a full day: the same first and last stamps and 288 points as the real day
        assert (our_s["date_start"], our_s["date_end"]) == (
            real_s["date_start"],
            real_s["date_end"],
        )
        assert max(len(r["data"]) for r in our_s["results"]) == 288
        assert all(list(r["columns"]) == ["unit_code"] for r in our_s["results"])
        assert [r["name"].split("_", 1)[0] for r in our_s["results"]] == [real_s["metric"]] * len(
            our_s["results"]
        )


def test_market_total_shape_matches_real(sim: SimulatorHandle, shared_oe: Path) -> None:
    real = load(shared_oe, "market_nem_total_5m_2025-10-01_to_07.json")
    ours = requests.get(
        sim.url + "/market/network/NEM",
        params={
            "metrics": ["price", "demand"],
            "interval": "5m",
            "date_start": "2025-10-01T00:00:00",
            "date_end": "2025-10-08T00:00:00",
        },
        headers=AUTH,
        timeout=10,
    ).json()
    assert_same_structure(real, ours)
    for real_s, our_s in zip(real["data"], ours["data"], strict=True):
        assert [r["name"] for r in our_s["results"]] == [r["name"] for r in real_s["results"]]
        assert [r["columns"] for r in our_s["results"]] == [r["columns"] for r in real_s["results"]]
        assert len(our_s["results"][0]["data"]) == len(real_s["results"][0]["data"]) == 2016
        assert our_s["unit"] == real_s["unit"]
        assert (our_s["date_start"], our_s["date_end"]) == (
            real_s["date_start"],
            real_s["date_end"],
        )


def test_market_region_shape_matches_real(sim: SimulatorHandle, shared_oe: Path) -> None:
    real = load(shared_oe, "market_price_SA1_5m_7d.json")
    ours = requests.get(
        sim.url + "/market/network/NEM",
        params={"metrics": "price", "interval": "5m", "network_region": "SA1", **DAY},
        headers=AUTH,
        timeout=10,
    ).json()
    assert_same_structure(real, ours)
    assert ours["data"][0]["results"][0]["name"] == real["data"][0]["results"][0]["name"]
    assert ours["data"][0]["results"][0]["columns"] == real["data"][0]["results"][0]["columns"]


def test_facilities_shape_matches_real(sim: SimulatorHandle, shared_oe: Path) -> None:
    real = load(shared_oe, "facilities.json")
    ours = requests.get(sim.url + "/facilities/", headers=AUTH, timeout=10).json()
    assert list(ours) == list(real)  # version, created_at, success, data, total_records
    assert STAMP.match(ours["created_at"])
    real_fac_keys = [set(f) for f in real["data"]]
    our_fac_keys = [set(f) for f in ours["data"]]
    assert set.intersection(*real_fac_keys) <= set.intersection(*our_fac_keys)
    assert set.union(*our_fac_keys) <= set.union(*real_fac_keys)
    real_units = [u for f in real["data"] for u in f["units"]]
    our_units = [u for f in ours["data"] for u in f["units"]]
    real_unit_keys = [set(u) for u in real_units]
    our_unit_keys = [set(u) for u in our_units]
    assert set.union(*our_unit_keys) <= set.union(*real_unit_keys)
    # keys always present in real units, except those our awkward cases drop on purpose
    optional = {"data_first_seen", "data_last_seen", "capacity_registered"}
    assert set.intersection(*real_unit_keys) - optional <= set.intersection(*our_unit_keys)
    for key in ("lat", "lng"):
        assert all(isinstance(f["location"][key], float) for f in ours["data"])
    real_stamp_keys = {"data_first_seen", "data_last_seen"}
    for unit in our_units:
        for key in real_stamp_keys & set(unit):
            assert STAMP.match(unit[key]) or unit[key].endswith("+08:00"), unit


# ---------------------------------------------------------------------------- scaled


@pytest.fixture(scope="module")
def scaled() -> ScaledDataset:
    return ScaledDataset()


def test_scaled_catalogue_has_real_size_and_mix(scaled: ScaledDataset) -> None:
    facilities = scaled.facilities()
    assert len(facilities) == 420
    units = [u for f in facilities for u in f["units"]]
    assert 590 <= len(units) <= 660
    assert len({u["code"] for u in units}) == len(units)
    assert all(f["network_id"] == "NEM" for f in facilities)
    assert all(any(u["status_id"] == "operating" for u in f["units"]) for f in facilities)
    groups = Counter(fuel_group(u["fueltech_id"]) for u in units)
    assert set(groups) == {
        "coal", "gas", "distillate", "bioenergy", "hydro", "pumps", "wind", "solar", "battery",
    }  # fmt: skip
    by_fac = Counter(fuel_group(f["units"][0]["fueltech_id"]) for f in facilities)
    assert by_fac["solar"] > by_fac["wind"] > by_fac["gas"] > by_fac["coal"]
    assert {f["network_region"] for f in facilities} == {"NSW1", "QLD1", "SA1", "TAS1", "VIC1"}
    shapes = Counter(
        tuple(sorted(u["fueltech_id"] for u in f["units"]))
        for f in facilities
        if f["units"][0]["fueltech_id"] == "battery"
    )
    assert shapes[("battery",)] > 0
    assert shapes[("battery", "battery_charging", "battery_discharging")] > 0


def test_scaled_week_batch_over_http(scaled: ScaledDataset) -> None:
    codes = sorted(f["code"] for f in scaled.facilities())[:30]
    expected_units = {
        u["code"] for f in scaled.facilities() if f["code"] in codes for u in f["units"]
    }
    with run_simulator(scaled) as s:
        resp = requests.get(
            s.url + "/data/facilities/NEM",
            params={
                "facility_code": codes,
                "metrics": ["power", "emissions"],
                "date_start": "2025-10-01",
                "date_end": "2025-10-08",
            },
            headers=AUTH,
            timeout=30,
        )
    assert resp.status_code == 200
    power = resp.json()["data"][0]
    assert {r["columns"]["unit_code"] for r in power["results"]} == expected_units
    techs = {u["code"]: u["fueltech_id"] for f in scaled.facilities() for u in f["units"]}
    # Every unit has the whole week but split battery units, which (as in the real API) have
    # points only while their battery flows their way: no padding at the ends.
    split = {"battery_charging", "battery_discharging"}
    for r in power["results"]:
        n = len(r["data"])
        assert n == 2016 if techs[r["columns"]["unit_code"]] not in split else 0 < n <= 2016
    assert STAMP.match(power["date_start"])


def test_scaled_is_deterministic(scaled: ScaledDataset) -> None:
    again = ScaledDataset()
    assert again.facilities() == scaled.facilities()
    import numpy as np

    t = np.arange(1759240800, 1759240800 + 288 * 300, 300, dtype=np.int64)
    code = scaled.facilities()[0]["units"][0]["code"]
    assert np.array_equal(
        scaled.unit_power_array(code, t), again.unit_power_array(code, t), equal_nan=True
    )
    assert ScaledDataset(seed=1).facilities() != scaled.facilities()
