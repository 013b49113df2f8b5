"""The OE simulator over real HTTP on 127.0.0.1: routes, auth, validation, data rules, faults."""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from oesim.server import DEMO_KEY
from oesim.small import DEMO_END, DEMO_START, EARLY_END, LATE_START, SmallDataset
from oesim.testing import SimulatorHandle, run_simulator

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"Authorization": f"Bearer {DEMO_KEY}"}
EXHAUSTED = "sim-exhausted-key-0001"
DAY = {"date_start": "2025-10-02T00:00:00", "date_end": "2025-10-03T00:00:00"}
WEEK = {"date_start": DEMO_START.isoformat(), "date_end": DEMO_END.isoformat()}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with run_simulator("small", exhausted_keys=[EXHAUSTED]) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _no_leftover_faults(sim: SimulatorHandle) -> Iterator[None]:
    sim.faults.clear()
    yield
    sim.faults.clear()


def get(sim: SimulatorHandle, path: str, params: Any = None, **kw: Any) -> requests.Response:
    headers = kw.pop("headers", AUTH)
    return requests.get(sim.url + path, params=params, headers=headers, timeout=10, **kw)


def facility_data(sim: SimulatorHandle, codes: list[str], metrics=("power",), **params: Any):
    query = {"facility_code": codes, "metrics": list(metrics), "interval": "5m", **params}
    return get(sim, "/data/facilities/NEM", query)


def results_by_name(body: dict[str, Any]) -> dict[str, list[list[Any]]]:
    return {r["name"]: r["data"] for s in body["data"] for r in s["results"]}


def error_text(resp: requests.Response) -> str:
    body = resp.json()
    assert body["success"] is False and body["response_status"] == "ERROR", body
    assert set(body) == {"version", "response_status", "error", "success"}
    return body["error"]


# --------------------------------------------------------------------------------- routes


@pytest.mark.parametrize(
    "path",
    ["/v4/facilities/", "/v4/facilities", "/facilities/", "/facilities", "/v4/me", "/me"],
)
def test_routes_answer_with_and_without_v4(sim: SimulatorHandle, path: str) -> None:
    resp = requests.get(sim.root_url + path, headers=AUTH, timeout=10)
    assert resp.status_code == 200
    assert resp.json()["success"] is True


@pytest.mark.parametrize("prefix", ["/v4", ""])
def test_data_and_market_routes_without_v4(sim: SimulatorHandle, prefix: str) -> None:
    url = sim.root_url + prefix
    r1 = requests.get(
        url + "/data/facilities/NEM",
        params={"facility_code": "KARRAWONG", "metrics": "power", **DAY},
        headers=AUTH,
        timeout=10,
    )
    r2 = requests.get(
        url + "/market/network/NEM", params={"metrics": "price", **DAY}, headers=AUTH, timeout=10
    )
    assert (r1.status_code, r2.status_code) == (200, 200)


@pytest.mark.parametrize("path", ["/v4/nope", "/v5/facilities/", "/v4/data/facilities", "/"])
def test_unknown_route_is_fastapi_404(sim: SimulatorHandle, path: str) -> None:
    resp = requests.get(sim.root_url + path, headers=AUTH, timeout=10)
    assert resp.status_code == 404
    assert resp.json() == {"detail": "Not Found"}


# ----------------------------------------------------------------------------------- auth

ROUTES = [
    ("/facilities/", {}),
    ("/data/facilities/NEM", {"facility_code": "KARRAWONG", "metrics": "power", **DAY}),
    ("/data/network/NEM", {"metrics": "power", **DAY}),
    ("/market/network/NEM", {"metrics": "price", **DAY}),
    ("/me", {}),
]


@pytest.mark.parametrize(("path", "params"), ROUTES, ids=[r[0] for r in ROUTES])
@pytest.mark.parametrize(
    ("header", "text"),
    [
        (None, "Not authenticated"),
        (f"Basic {DEMO_KEY}", "Not authenticated"),
        ("Bearer ", "Not authenticated"),
        ("Bearer short", "Invalid API key"),
        ("Bearer not-a-known-key-123", "Invalid API key"),
        (f"Bearer {EXHAUSTED}", "Authentication failed"),
    ],
    ids=["missing", "basic", "empty", "short", "unknown", "exhausted"],
)
def test_auth_on_every_route(
    sim: SimulatorHandle, path: str, params: dict, header: str | None, text: str
) -> None:
    headers = {"Authorization": header} if header else {}
    resp = get(sim, path, params, headers=headers)
    assert resp.status_code == 401
    assert error_text(resp) == text
    assert "WWW-Authenticate" not in resp.headers


def test_auth_is_checked_before_validation(sim: SimulatorHandle) -> None:
    resp = get(sim, "/data/facilities/NEM", {"interval": "2m"}, headers={})
    assert resp.status_code == 401


def test_anonymous_market_option_matches_real_server() -> None:
    with run_simulator(anonymous_market=True) as s:
        ok = requests.get(
            s.url + "/market/network/NEM", params={"metrics": "price", **DAY}, timeout=10
        )
        bad = requests.get(
            s.url + "/market/network/NEM",
            params={"metrics": "price", **DAY},
            headers={"Authorization": "Bearer wrong-key-0000"},
            timeout=10,
        )
        facilities = requests.get(s.url + "/facilities/", timeout=10)
    assert ok.status_code == 200
    assert bad.status_code == 401
    assert facilities.status_code == 401


# ------------------------------------------------------------------------------------ 422


def detail(resp: requests.Response) -> list[dict[str, Any]]:
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert set(body) == {"detail"}
    return body["detail"]


def test_422_missing_metrics(sim: SimulatorHandle) -> None:
    errors = detail(get(sim, "/data/facilities/NEM", {"facility_code": "KARRAWONG"}))
    assert errors == [
        {"type": "missing", "loc": ["query", "metrics"], "msg": "Field required", "input": None}
    ]


def test_422_bad_metric_enum(sim: SimulatorHandle) -> None:
    errors = detail(facility_data(sim, ["KARRAWONG"], metrics=("power", "watts")))
    (err,) = errors
    assert err["type"] == "enum"
    assert err["loc"] == ["query", "metrics", 1]
    assert err["input"] == "watts"
    assert err["msg"].startswith("Input should be 'power', 'energy'")
    assert err["msg"] == "Input should be " + err["ctx"]["expected"]


@pytest.mark.parametrize(
    ("path", "params", "loc"),
    [
        ("/data/facilities/NEM", {"metrics": "power", "interval": "2m"}, ["query", "interval"]),
        (
            "/market/network/NEM",
            {"metrics": "price", "primary_grouping": "region"},
            ["query", "primary_grouping"],
        ),
        ("/facilities/", {"status_id": "Operating"}, ["query", "status_id", 0]),
        ("/facilities/", {"fueltech_id": "coal"}, ["query", "fueltech_id", 0]),
        ("/facilities/", {"fueltech_group_id": "fossil"}, ["query", "fueltech_group_id", 0]),
    ],
    ids=["interval", "grouping", "status", "fueltech", "fueltech-group"],
)
def test_422_bad_enum_values(sim: SimulatorHandle, path: str, params: dict, loc: list) -> None:
    (err,) = detail(get(sim, path, params))
    assert err["type"] == "enum"
    assert err["loc"] == loc


@pytest.mark.parametrize("name", ["facility_code", "unit_code"])
def test_422_too_many_codes(sim: SimulatorHandle, name: str) -> None:
    codes = [f"CODE{i}" for i in range(31)]
    (err,) = detail(get(sim, "/data/facilities/NEM", {name: codes, "metrics": "power"}))
    assert err["type"] == "too_long"
    assert err["loc"] == ["query", name]
    assert err["msg"] == "List should have at most 30 items after validation, not 31"
    assert err["ctx"] == {"field_type": "List", "max_length": 30, "actual_length": 31}


def test_30_codes_are_accepted(sim: SimulatorHandle) -> None:
    codes = ["KARRAWONG"] + [f"CODE{i}" for i in range(29)]
    assert facility_data(sim, codes, **DAY).status_code == 200


@pytest.mark.parametrize("value", ["yesterday", "2025-13-45", "2025-10", ""])
def test_422_unparseable_date(sim: SimulatorHandle, value: str) -> None:
    (err,) = detail(facility_data(sim, ["KARRAWONG"], date_start=value, date_end="2025-10-02"))
    assert err["type"] == "datetime_from_date_parsing"
    assert err["loc"] == ["query", "date_start"]
    assert err["msg"].startswith("Input should be a valid datetime or date, ")


def test_422_collects_every_error_and_comes_before_400(sim: SimulatorHandle) -> None:
    resp = get(sim, "/data/facilities/XYZ", {"interval": "2m", "date_end": "never"})
    locs = [e["loc"] for e in detail(resp)]
    assert locs == [["query", "metrics"], ["query", "interval"], ["query", "date_end"]]


# ------------------------------------------------------------------------------------ 400


@pytest.mark.parametrize(
    ("path", "params", "text"),
    [
        (
            "/data/facilities/NEM",
            {"facility_code": "KARRAWONG", "metrics": ["power", "price"], **DAY},
            "Unsupported metrics: price",
        ),
        (
            "/market/network/NEM",
            {"metrics": ["price", "power", "energy"], **DAY},
            "Unsupported metrics: power, energy",
        ),
        (
            "/data/facilities/nem",
            {"facility_code": "KARRAWONG", "metrics": "power", **DAY},
            "Network nem not supported",
        ),
        (
            "/data/facilities/NEM",
            {"metrics": "power", "date_start": "2025-10-01T00:00:00Z", "date_end": "2025-10-02"},
            "Date start must be timezone naive and in network time",
        ),
        (
            "/data/facilities/NEM",
            {
                "metrics": "power",
                "date_start": "2025-10-01",
                "date_end": "2025-10-02T00:00:00+10:00",
            },
            "Date end must be timezone naive and in network time",
        ),
        (
            "/data/facilities/NEM",
            {"metrics": "power", "date_start": "2025-10-01", "date_end": "2025-10-10"},
            "Date range too large for 5m interval. Maximum range is 8 days.",
        ),
        (
            "/market/network/NEM",
            {"metrics": "price", "date_start": "2025-10-01", "date_end": "2025-10-10T00:00:00"},
            "Date range too large for 5m interval. Maximum range is 8 days.",
        ),
        (
            "/data/facilities/NEM",
            {
                "metrics": "power",
                "interval": "1h",
                "date_start": "2025-10-01",
                "date_end": "2025-11-03",
            },
            "Date range too large for 1h interval. Maximum range is 32 days.",
        ),
        (
            "/market/network/NEM",
            {"metrics": "price", "date_start": "2025-10-02", "date_end": "2025-10-01"},
            "Date start must be before date end",
        ),
    ],
    ids=[
        "metric-not-on-endpoint",
        "market-generation-metrics",
        "network-case",
        "tz-start",
        "tz-end",
        "range-5m",
        "range-market",
        "range-1h",
        "start-after-end",
    ],
)
def test_400_oe_envelope_texts(sim: SimulatorHandle, path: str, params: dict, text: str) -> None:
    resp = get(sim, path, params)
    assert resp.status_code == 400
    assert error_text(resp) == text


def test_range_limit_compares_whole_days(sim: SimulatorHandle) -> None:
    almost_9 = facility_data(
        sim, ["KARRAWONG"], date_start="2025-10-01T00:00:00", date_end="2025-10-09T23:55:00"
    )
    nine = facility_data(sim, ["KARRAWONG"], date_start="2025-10-01", date_end="2025-10-10")
    assert almost_9.status_code == 200
    assert len(results_by_name(almost_9.json())["power_KRW1"]) == 8 * 288 + 287
    assert nine.status_code == 400


# ------------------------------------------------------------------------------------ 404


def test_404_texts(sim: SimulatorHandle) -> None:
    retired = facility_data(sim, ["OLDQUARRY"], **DAY)
    assert retired.status_code == 404
    assert error_text(retired) == (
        "No data available for facility=['OLDQUARRY'] in the specified time range"
    )
    unit = get(sim, "/data/facilities/NEM", {"unit_code": "NOPE1", "metrics": "power", **DAY})
    assert error_text(unit) == "No data available for unit=['NOPE1'] in the specified time range"
    wem_on_nem = facility_data(sim, ["BANKSIA"], **DAY)
    assert wem_on_nem.status_code == 404
    market = get(sim, "/market/network/NEM", {"metrics": "price", "network_region": "XX1", **DAY})
    assert market.status_code == 404
    assert error_text(market) == (
        "No market data available for network NEM in the specified time range"
    )
    facilities = get(sim, "/facilities/", {"network_region": "NOWHERE"})
    assert facilities.status_code == 404
    assert error_text(facilities).startswith("No facilities found matching filters: ")


def test_equal_dates_give_404_not_400(sim: SimulatorHandle) -> None:
    resp = facility_data(sim, ["KARRAWONG"], date_start="2025-10-02", date_end="2025-10-02")
    assert resp.status_code == 404


# ----------------------------------------------------------------------------- facilities


def test_facilities_catalogue_and_envelope(sim: SimulatorHandle) -> None:
    body = get(sim, "/facilities/").json()
    assert list(body) == ["version", "created_at", "success", "data", "total_records"]
    data = body["data"]
    assert body["total_records"] == len(data) == len(SmallDataset().facilities())
    names = [f["name"] for f in data]
    assert names == sorted(names, key=str.lower)
    assert names != sorted(names)  # a lower-case name proves the sort ignores case
    units = {u["code"]: u for f in data for u in f["units"]}
    for f in data:
        assert None not in f.values()
        assert all(None not in u.values() for u in f["units"])
    assert {f["network_region"] for f in data} == {"NSW1", "QLD1", "SA1", "TAS1", "VIC1", "WEM"}
    # the awkward cases of docs/oe-api.md §3
    # Every unit has a dispatch type, as in the recorded real list (pumps are generators there).
    assert all("dispatch_type" in u for u in units.values())
    assert {u["dispatch_type"] for u in units.values() if u["fueltech_id"] == "pumps"} == {
        "GENERATOR"
    }
    assert any("capacity_registered" not in u for u in units.values())
    wind = [u for u in units.values() if u["fueltech_id"] == "wind"]
    assert wind and all("emissions_factor_co2" not in u for u in wind)
    assert any(u["status_id"] == "retired" and "data_last_seen" not in u for u in units.values())
    assert any(u["status_id"] == "commissioning" for u in units.values())
    assert any(f["code"].startswith("0") for f in data)
    codes_in_order = [[u["code"] for u in f["units"]] for f in data]
    assert any(len(c) > 2 and c != sorted(c) for c in codes_in_order)
    fueltechs = {u["fueltech_id"] for u in units.values()}
    for ft in (
        "coal_black", "coal_brown", "gas_ccgt", "gas_ocgt", "gas_recip", "gas_steam",
        "distillate", "bioenergy_biomass", "hydro", "pumps", "wind", "solar_utility",
        "battery", "battery_charging", "battery_discharging",
    ):  # fmt: skip
        assert ft in fueltechs


def test_battery_shapes_in_catalogue(sim: SimulatorHandle) -> None:
    data = get(sim, "/facilities/").json()["data"]
    shapes = {
        f["code"]: sorted(u["fueltech_id"] for u in f["units"])
        for f in data
        if any(u["fueltech_id"].startswith("battery") for u in f["units"])
    }
    assert ["battery", "battery_charging", "battery_discharging"] in shapes.values()
    assert ["battery"] in shapes.values()


@pytest.mark.parametrize(
    ("params", "expect_codes", "unit_check"),
    [
        ({"status_id": "operating"}, None, lambda u: u["status_id"] == "operating"),
        (
            {"status_id": "retired"},
            {"KARRAWONG", "OLDQUARRY"},
            lambda u: u["status_id"] == "retired",
        ),
        ({"status_id": "commissioning"}, {"SUNVALE"}, lambda u: u["status_id"] == "commissioning"),
        ({"fueltech_id": ["wind", "hydro"]}, None, lambda u: u["fueltech_id"] in ("wind", "hydro")),
        (
            {"fueltech_group_id": "battery_charging"},
            {"TALLAWANG"},
            lambda u: u["fueltech_id"] == "battery_charging",
        ),
        ({"network_id": "WEM"}, {"JARRAHRDG", "BANKSIA"}, lambda u: True),
        (
            {"network_region": "SA1"},
            {"SALTBUSH", "EMUFLAT", "KESTREL", "OLDQUARRY"},
            lambda u: True,
        ),
        ({"facility_code": ["GUNYAH", "EMUFLAT"]}, {"GUNYAH", "EMUFLAT"}, lambda u: True),
    ],
    ids=[
        "operating",
        "retired",
        "commissioning",
        "fueltech",
        "group",
        "network",
        "region",
        "codes",
    ],
)
def test_facility_filters_apply_per_unit(
    sim: SimulatorHandle, params: dict, expect_codes: set | None, unit_check
) -> None:
    resp = get(sim, "/facilities/", params)
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert data and all(f["units"] for f in data)
    assert all(unit_check(u) for f in data for u in f["units"])
    if expect_codes is not None:
        assert {f["code"] for f in data} == expect_codes


def test_operating_filter_drops_retired_only_facility(sim: SimulatorHandle) -> None:
    codes = {f["code"] for f in get(sim, "/facilities/", {"status_id": "operating"}).json()["data"]}
    assert "OLDQUARRY" not in codes
    assert "KARRAWONG" in codes


# -------------------------------------------------------------------------- facility data


def test_facility_data_envelope_and_series(sim: SimulatorHandle) -> None:
    resp = facility_data(sim, ["KARRAWONG", "GUNYAH"], metrics=("emissions", "power"), **DAY)
    assert resp.status_code == 200
    body = resp.json()
    assert list(body) == ["version", "created_at", "success", "data"]
    assert [s["metric"] for s in body["data"]] == ["emissions", "power"]
    power = body["data"][1]
    assert power["unit"] == "MW" and body["data"][0]["unit"] == "t"
    assert power["groupings"] == [] and power["network_timezone_offset"] == "+10:00"
    assert power["date_start"] == "2025-10-02T00:00:00+10:00"
    assert power["date_end"] == "2025-10-02T23:55:00+10:00"
    names = [r["name"] for r in power["results"]]
    assert names == [
        "power_GNY1",
        "power_GNY2",
        "power_KRW1",
        "power_KRW2",
        "power_KRW3",
        "power_KRW4",
    ]
    assert all(r["columns"] == {"unit_code": r["name"][6:]} for r in power["results"])


def test_window_is_start_inclusive_end_exclusive(sim: SimulatorHandle) -> None:
    day = results_by_name(facility_data(sim, ["KARRAWONG"], **DAY).json())["power_KRW1"]
    assert len(day) == 288
    assert day[0][0] == "2025-10-02T00:00:00+10:00"
    assert day[-1][0] == "2025-10-02T23:55:00+10:00"
    stamps = [datetime.fromisoformat(p[0]) for p in day]
    assert all(b - a == timedelta(minutes=5) for a, b in itertools.pairwise(stamps))
    odd = facility_data(
        sim, ["KARRAWONG"], date_start="2025-10-02T00:02:00", date_end="2025-10-02T01:00:00"
    )
    points = results_by_name(odd.json())["power_KRW1"]
    assert [p[0][11:16] for p in (points[0], points[-1])] == ["00:05", "00:55"]
    assert len(points) == 11


def test_timestamps_and_float_format(sim: SimulatorHandle) -> None:
    text = facility_data(
        sim, ["KARRAWONG", "TALLAWANG"], metrics=("power", "emissions"), **DAY
    ).text
    body = json.loads(text)
    for name, points in results_by_name(body).items():
        for stamp, value in points:
            assert len(stamp) == 25 and stamp.endswith("+10:00") and "Z" not in stamp, stamp
            if value is not None:
                assert round(value, 6) == value, (name, value)
    assert "-0.0," not in text and "NaN" not in text
    created = datetime.fromisoformat(body["created_at"])
    assert created.utcoffset() in (timedelta(hours=10), timedelta(hours=11))


def test_no_edge_padding_and_interior_nulls(sim: SimulatorHandle) -> None:
    body = facility_data(sim, ["SUNVALE", "MULGA", "DAYLITE", "GUMRIDGE"], **WEEK).json()
    series = body["data"][0]
    res = results_by_name(body)
    # late start: the commissioning unit's data begins mid-week, nothing before it
    assert res["power_SUNVALE2"][0][0] == LATE_START
    assert res["power_SUNVALE1"][0][0] == "2025-10-01T00:00:00+10:00"
    # early end
    assert res["power_MULGA2"][-1][0] == EARLY_END
    # a unit that reports 06:00-21:55 daily: no padding at the edges, nulls at night inside
    daylite = res["power_DAYLITE1"]
    assert daylite[0][0] == "2025-10-01T06:00:00+10:00"
    assert daylite[-1][0] == "2025-10-07T21:55:00+10:00"
    assert daylite[0][1] is not None and daylite[-1][1] is not None
    nulls = [p for p in daylite if p[1] is None]
    assert len(nulls) == 6 * 8 * 12  # six nights of 22:00-05:55
    # interior outage of the wind unit
    gum = dict(map(tuple, res["power_GUMRIDGE1"]))
    assert gum["2025-10-03T02:30:00+10:00"] is None
    assert gum["2025-10-03T04:00:00+10:00"] is not None
    # each result's data is contiguous on the 5-min grid; series dates are global min/max
    for points in res.values():
        stamps = [datetime.fromisoformat(p[0]) for p in points]
        assert stamps[-1] - stamps[0] == timedelta(minutes=5) * (len(stamps) - 1)
    for r in series["results"]:
        assert (r["date_start"], r["date_end"]) == (series["date_start"], series["date_end"])
    assert series["date_start"] == "2025-10-01T00:00:00+10:00"
    assert series["date_end"] == "2025-10-07T23:55:00+10:00"
    # results whose data ends early come after those reaching the end of the window
    names = [r["name"] for r in series["results"]]
    assert names.index("power_MULGA2") > names.index("power_SUNVALE2")


def test_global_dates_follow_data_not_request(sim: SimulatorHandle) -> None:
    body = facility_data(
        sim, ["DAYLITE"], date_start="2025-10-02T00:00:00", date_end="2025-10-03T00:00:00"
    ).json()
    series = body["data"][0]
    assert (series["date_start"], series["date_end"]) == (
        "2025-10-02T06:00:00+10:00",
        "2025-10-02T21:55:00+10:00",
    )


def test_retired_units_have_no_data(sim: SimulatorHandle) -> None:
    res = results_by_name(facility_data(sim, ["KARRAWONG"], **DAY).json())
    assert "power_KRW5" not in res and len(res) == 4


def test_battery_bidirectional_and_split_units_agree(sim: SimulatorHandle) -> None:
    res = results_by_name(facility_data(sim, ["TALLAWANG", "EMUFLAT"], **WEEK).json())
    bidi = dict(map(tuple, res["power_TLWB1"]))
    charge = dict(map(tuple, res["power_TLWB1L1"]))
    discharge = dict(map(tuple, res["power_TLWB1G1"]))
    signs = set()
    # As the real API: each split unit has a value only while the battery flows its way
    # (charging below 0 MW, discharging from 0 up), a magnitude; null or absent otherwise.
    for t, b in bidi.items():
        c, d = charge.get(t), discharge.get(t)
        if b < 0:
            assert d is None and c == pytest.approx(-b, abs=1e-9), t
        else:
            assert c is None and d == pytest.approx(b, abs=1e-9), t
        signs.add((b > 0) - (b < 0))
    assert signs == {-1, 0, 1}
    assert set(charge) | set(discharge) <= set(bidi)
    assert "power_EMUFB1" in res and not any(
        n.startswith("power_EMUFB1") and n != "power_EMUFB1" for n in res
    )
    assert min(v for _, v in res["power_EMUFB1"]) < 0


def test_emissions_are_energy_times_factor(sim: SimulatorHandle) -> None:
    body = facility_data(
        sim, ["KARRAWONG", "KESTREL", "TALLAWANG", "CORELLA"], metrics=("power", "emissions"), **DAY
    ).json()
    res = results_by_name(body)
    factors = {
        u["code"]: u.get("emissions_factor_co2")
        for f in get(sim, "/facilities/").json()["data"]
        for u in f["units"]
    }
    checked_nonzero = 0
    for name, points in res.items():
        if not name.startswith("power_"):
            continue
        unit = name[len("power_") :]
        emissions = res[f"emissions_{unit}"]
        assert [p[0] for p in emissions] == [p[0] for p in points]
        for (_, mw), (_, t) in zip(points, emissions, strict=True):
            if mw is None:  # a split battery unit while the battery flows the other way
                assert t is None
                continue
            energy = mw / 12
            expected = energy * factors[unit] if factors[unit] and energy > 0 else 0.0
            assert t == pytest.approx(expected, abs=1e-6)
            checked_nonzero += t > 0
    assert checked_nonzero > 288  # coal and gas really emit


def test_energy_metric_and_1h_aggregation(sim: SimulatorHandle) -> None:
    five = results_by_name(
        facility_data(sim, ["CORELLA"], metrics=("power", "energy"), **DAY).json()
    )
    hourly = facility_data(sim, ["CORELLA"], metrics=("power", "energy"), interval="1h", **DAY)
    res = results_by_name(hourly.json())
    assert hourly.json()["data"][0]["interval"] == "1h"
    assert len(res["power_CORCK1"]) == 24
    assert res["power_CORCK1"][0][0] == "2025-10-02T00:00:00+10:00"
    first_hour = [v for _, v in five["power_CORCK1"][:12]]
    assert res["power_CORCK1"][0][1] == pytest.approx(sum(first_hour) / 12, abs=1e-6)
    assert res["energy_CORCK1"][0][1] == pytest.approx(sum(first_hour) / 12, abs=1e-5)
    daily = facility_data(sim, ["CORELLA"], interval="1d", **WEEK)
    assert [p[0][:10] for p in results_by_name(daily.json())["power_CORCK1"]] == [
        f"2025-10-0{d}" for d in range(1, 8)
    ]


def test_unit_code_with_facility_code_filters_units(sim: SimulatorHandle) -> None:
    resp = get(
        sim,
        "/data/facilities/NEM",
        {"facility_code": "KARRAWONG", "unit_code": "KRW2", "metrics": "power", **DAY},
    )
    assert list(results_by_name(resp.json())) == ["power_KRW2"]


def test_unit_code_alone_collapses_to_total(sim: SimulatorHandle) -> None:
    resp = get(sim, "/data/facilities/NEM", {"unit_code": "KRW2", "metrics": "power", **DAY})
    (result,) = resp.json()["data"][0]["results"]
    assert result["name"] == "power_total" and result["columns"] == {}
    assert len(result["data"]) == 288


def test_wem_offset(sim: SimulatorHandle) -> None:
    resp = get(sim, "/data/facilities/WEM", {"facility_code": "BANKSIA", "metrics": "power", **DAY})
    series = resp.json()["data"][0]
    assert series["network_timezone_offset"] == "+08:00"
    assert series["date_start"] == "2025-10-02T00:00:00+08:00"
    assert len(series["results"][0]["data"]) == 288


def test_storage_and_market_value_metrics(sim: SimulatorHandle) -> None:
    resp = facility_data(
        sim, ["EMUFLAT", "KARRAWONG"], metrics=("storage_battery", "market_value"), **DAY
    )
    res = results_by_name(resp.json())
    assert list(resp.json()["data"][0]["results"][0]["columns"]) == ["unit_code"]
    assert "storage_battery_EMUFB1" in res and "storage_battery_KRW1" not in res
    assert "market_value_KRW1" in res


# ---------------------------------------------------------------------------------- market


def test_market_grouped_by_region(sim: SimulatorHandle) -> None:
    params = {"metrics": ["price", "demand"], "primary_grouping": "network_region", **DAY}
    body = get(sim, "/market/network/NEM", params).json()
    assert [s["metric"] for s in body["data"]] == ["price", "demand"]
    assert [s["unit"] for s in body["data"]] == ["$/MWh", "MW"]
    price = body["data"][0]
    assert [r["name"] for r in price["results"]] == [
        "price_NSW1", "price_QLD1", "price_SA1", "price_TAS1", "price_VIC1",
    ]  # fmt: skip
    assert price["results"][2]["columns"] == {"region": "SA1"}
    assert all(len(r["data"]) == 288 for s in body["data"] for r in s["results"])


def test_market_totals_are_mean_price_and_summed_demand(sim: SimulatorHandle) -> None:
    grouped = results_by_name(
        get(
            sim,
            "/market/network/NEM",
            {"metrics": ["price", "demand"], "primary_grouping": "network_region", **DAY},
        ).json()
    )
    total_body = get(sim, "/market/network/NEM", {"metrics": ["price", "demand"], **DAY}).json()
    total = results_by_name(total_body)
    assert set(total) == {"price_total", "demand_total"}
    assert total_body["data"][0]["results"][0]["columns"] == {}
    regions = ["NSW1", "QLD1", "SA1", "TAS1", "VIC1"]
    for i in (0, 100, 287):
        prices = [grouped[f"price_{r}"][i][1] for r in regions]
        demands = [grouped[f"demand_{r}"][i][1] for r in regions]
        assert total["price_total"][i][1] == pytest.approx(sum(prices) / 5, abs=1e-6)
        assert total["demand_total"][i][1] == pytest.approx(sum(demands), abs=1e-6)


def test_market_region_filter(sim: SimulatorHandle) -> None:
    body = get(
        sim, "/market/network/NEM", {"metrics": "price", "network_region": "SA1", **DAY}
    ).json()
    (result,) = body["data"][0]["results"]
    assert result["name"] == "price_SA1" and result["columns"] == {"region": "SA1"}


def test_market_prices_have_plausible_shape(sim: SimulatorHandle) -> None:
    res = results_by_name(
        get(
            sim,
            "/market/network/NEM",
            {"metrics": ["price", "demand"], "primary_grouping": "network_region", **WEEK},
        ).json()
    )
    for region in ("NSW1", "QLD1", "SA1", "TAS1", "VIC1"):
        prices = [v for _, v in res[f"price_{region}"]]
        demand = [v for _, v in res[f"demand_{region}"]]
        assert len(prices) == 2016 and None not in prices
        assert -1000 < min(prices) < max(prices) < 17_500
        assert 0 < min(demand) < max(demand) < 20_000


def test_network_data_minimal(sim: SimulatorHandle) -> None:
    body = get(
        sim, "/data/network/NEM", {"metrics": "power", "primary_grouping": "network_region", **DAY}
    ).json()
    names = [r["name"] for r in body["data"][0]["results"]]
    assert names == ["power_NSW1", "power_QLD1", "power_SA1", "power_TAS1", "power_VIC1"]


# ---------------------------------------------------------------------------- determinism


def strip_created(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "created_at"}


def test_same_request_twice_is_identical(sim: SimulatorHandle) -> None:
    codes = ["KARRAWONG", "TALLAWANG", "GUMRIDGE", "DAYLITE"]
    a = facility_data(sim, codes, metrics=("power", "emissions"), **WEEK).json()
    b = facility_data(sim, codes, metrics=("power", "emissions"), **WEEK).json()
    assert strip_created(a) == strip_created(b)


def test_same_data_in_a_new_server() -> None:
    with run_simulator("small") as s:
        a = requests.get(
            s.url + "/data/facilities/NEM",
            params={"facility_code": "GUMRIDGE", "metrics": "power", **DAY},
            headers=AUTH,
            timeout=10,
        ).json()
    with run_simulator(SmallDataset(seed=0)) as s:
        b = requests.get(
            s.url + "/data/facilities/NEM",
            params={"facility_code": "GUMRIDGE", "metrics": "power", **DAY},
            headers=AUTH,
            timeout=10,
        ).json()
    assert strip_created(a) == strip_created(b)


def test_chunked_equals_whole(sim: SimulatorHandle) -> None:
    codes = ["KARRAWONG", "TALLAWANG", "GUMRIDGE", "DAYLITE", "SUNVALE", "MULGA"]
    whole = results_by_name(
        facility_data(sim, codes, metrics=("power", "emissions"), **WEEK).json()
    )
    merged: dict[str, dict[str, Any]] = {}
    edges = ["2025-10-01", "2025-10-03T07:35", "2025-10-05", "2025-10-08"]
    for lo, hi in itertools.pairwise(edges):
        part = facility_data(sim, codes, metrics=("power", "emissions"), date_start=lo, date_end=hi)
        for name, points in results_by_name(part.json()).items():
            merged.setdefault(name, {}).update(dict(map(tuple, points)))
    assert set(merged) == set(whole)
    for name, points in whole.items():
        # chunks cannot carry nulls across their own edges: compare the non-null values
        assert {t: v for t, v in points if v is not None} == {
            t: v for t, v in merged[name].items() if v is not None
        }


def test_different_seed_changes_values() -> None:
    a, b = SmallDataset(seed=0), SmallDataset(seed=1)
    times = [datetime(2025, 10, 2, 12, tzinfo=UTC) + timedelta(minutes=5 * i) for i in range(12)]
    assert a.unit_power("GUMRIDGE1", times) != b.unit_power("GUMRIDGE1", times)
    assert a.unit_power("GUMRIDGE1", times) == SmallDataset(seed=0).unit_power("GUMRIDGE1", times)


def test_solar_is_zero_at_night() -> None:
    ds = SmallDataset()
    night = [datetime(2025, 10, 2, 14, tzinfo=UTC) + timedelta(minutes=5 * i) for i in range(60)]
    assert set(ds.unit_power("SUNVALE1", night)) == {0.0}  # 00:00-04:55 NEM


# --------------------------------------------------------------------------------- faults


def data_request(sim: SimulatorHandle, **kw: Any) -> requests.Response:
    return facility_data(sim, ["KARRAWONG"], **DAY, **kw)


@pytest.mark.parametrize(
    ("kind", "status", "text"),
    [
        ("500", 500, "Error executing query"),
        ("503", 503, "Maintenance Mode"),
        ("401", 401, "Authentication failed"),
        ("416", 416, "No data available for facility=['KARRAWONG'] in the specified time range"),
    ],
)
def test_fault_oe_envelope(sim: SimulatorHandle, kind: str, status: int, text: str) -> None:
    sim.faults.inject(kind)
    resp = data_request(sim)
    assert resp.status_code == status
    assert error_text(resp) == text
    assert data_request(sim).status_code == 200  # only the next request


@pytest.mark.parametrize(("kind", "status"), [("502", 502), ("504", 504)])
def test_fault_html_body(sim: SimulatorHandle, kind: str, status: int) -> None:
    sim.faults.inject(kind)
    resp = data_request(sim)
    assert resp.status_code == status
    assert resp.headers["Content-Type"].startswith("text/html")
    assert resp.text.lstrip().startswith("<html>")
    with pytest.raises(ValueError):
        resp.json()


def test_fault_429_with_retry_after(sim: SimulatorHandle) -> None:
    sim.faults.inject("429", seconds=7)
    resp = data_request(sim)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "7"
    assert error_text(resp) == "Rate limit exceeded"


def test_fault_slow_triggers_client_read_timeout(sim: SimulatorHandle) -> None:
    sim.faults.inject("slow", seconds=1.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(sim.url + "/facilities/", headers=AUTH, timeout=(2, 0.3))
    assert requests.get(sim.url + "/facilities/", headers=AUTH, timeout=5).status_code == 200


def test_fault_truncated_body(sim: SimulatorHandle) -> None:
    whole = data_request(sim)
    sim.faults.inject("truncated")
    cut = data_request(sim)
    assert cut.status_code == 200
    assert int(cut.headers["Content-Length"]) == len(cut.content) == len(whole.content) // 2
    assert whole.content.startswith(cut.content[:40])
    with pytest.raises(ValueError):
        json.loads(cut.content)


def test_fault_truncated_close(sim: SimulatorHandle) -> None:
    sim.faults.inject("truncated_close")
    # requests reports the short read as ChunkedEncodingError (IncompleteRead)
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        data_request(sim)
    assert data_request(sim).status_code == 200


def test_fault_count_and_path_filter(sim: SimulatorHandle) -> None:
    sim.faults.inject("503", count=2, path_contains="/market/")
    assert get(sim, "/facilities/").status_code == 200
    assert get(sim, "/market/network/NEM", {"metrics": "price", **DAY}).status_code == 503
    assert data_request(sim).status_code == 200
    assert get(sim, "/market/network/NEM", {"metrics": "price", **DAY}).status_code == 503
    assert get(sim, "/market/network/NEM", {"metrics": "price", **DAY}).status_code == 200
    assert sim.faults.pending() == []


def test_request_log(sim: SimulatorHandle) -> None:
    sim.requests.clear()
    sim.faults.inject("500")
    data_request(sim)
    data_request(sim)
    requests.get(sim.root_url + "/facilities", headers=AUTH, timeout=10)
    records = sim.requests.records()
    assert [(r.method, r.path, r.status, r.fault) for r in records] == [
        ("GET", "/v4/data/facilities/NEM", 500, "500"),
        ("GET", "/v4/data/facilities/NEM", 200, None),
        ("GET", "/facilities", 200, None),
    ]
    assert "facility_code=KARRAWONG" in records[1].query
    assert records[1].bytes > 10_000
    assert sim.requests.count("/data/") == 2
    assert sim.requests.count(status=200) == 2


def test_admin_endpoint_arms_faults(sim: SimulatorHandle) -> None:
    armed = requests.post(sim.root_url + "/__sim__/faults?kind=503&count=1", timeout=10)
    assert armed.json()["faults"][0]["kind"] == "503"
    assert get(sim, "/me").status_code == 503
    bad = requests.post(sim.root_url + "/__sim__/faults?kind=boom", timeout=10)
    assert bad.status_code == 400
    log = requests.get(sim.root_url + "/__sim__/requests", timeout=10).json()["requests"]
    assert log[-1]["status"] == 503


# ------------------------------------------------------------------------- legacy shape


def test_legacy_shape_mode_answers_as_4_0_did(sim: SimulatorHandle) -> None:
    params = {"metrics": ["price"], "primary_grouping": "network_region", **DAY}
    modern = get(sim, "/market/network/NEM", params).json()
    with run_simulator(legacy_shape=True) as old:
        legacy = get(old, "/market/network/NEM", params).json()
        listing = get(old, "/facilities/").json()
        nem = [f["code"] for f in listing["data"] if f["network_id"] == "NEM"]
        fac = facility_data(old, nem[:3], **DAY).json()
    assert legacy["error"] is None and legacy["total_records"] is None
    assert listing["total_records"] == len(listing["data"])  # the facility list kept its shape
    series, was = legacy["data"][0], modern["data"][0]
    assert "date_start" not in series and series["start"] == was["date_start"][:19]
    assert series["groupings"] == ["network_region"]
    sa, sa_was = series["results"][2], was["results"][2]
    assert sa["columns"] == {"network_region": "SA1"}
    assert sa["date_start"] == sa_was["date_start"][:19] and "start" not in sa
    # Same instants and values, written in UTC: 00:00 AEST is 14:00Z the day before.
    assert sa["data"][0] == [
        (datetime.fromisoformat(sa_was["data"][0][0]) - timedelta(hours=10))
        .replace(tzinfo=None)
        .isoformat()
        + "Z",
        sa_was["data"][0][1],
    ]
    assert [v for _, v in sa["data"]] == [v for _, v in sa_was["data"]]
    stamps = [t for r in fac["data"][0]["results"] for t, _ in r["data"]]
    assert stamps and all(t.endswith("Z") for t in stamps)


# ---------------------------------------------------------------------------------- CLI


def start_cli(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "oesim", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    return proc, line


def stop_cli(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    return proc.returncode, err


@pytest.mark.integration
def test_cli_serves_and_stops_on_sigterm() -> None:
    proc, line = start_cli("--fault", "503:2", "--fault", "429:1:/me", "--key", "my-own-key-123")
    try:
        assert line.startswith("OE simulator listening on http://127.0.0.1:")
        assert line.endswith("/v4")
        url = line.rsplit(" ", 1)[1]
        key = {"Authorization": "Bearer my-own-key-123"}
        statuses = [
            requests.get(url + "/facilities/", headers=key, timeout=10).status_code
            for _ in range(3)
        ]
        me = requests.get(url + "/me", headers=key, timeout=10)
        demo = requests.get(url + "/me", headers=AUTH, timeout=10)
    finally:
        code, err = stop_cli(proc)
    assert statuses == [503, 503, 200]
    assert me.status_code == 429
    assert demo.status_code == 401  # --key replaces the demo key
    assert code == 0
    assert "Traceback" not in err


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "boom:1"], "unknown fault kind 'boom'"),
        (["--fault", "503:x"], "fault count must be an integer"),
        (["--key", "short"], "at least 10 characters"),
    ],
)
def test_cli_usage_errors(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "oesim", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_cli_nem_dataset_missing_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import oesim
    from oesim.__main__ import main

    # a None entry makes "from oesim import nem" raise ImportError, as before nem.py existed
    monkeypatch.setitem(sys.modules, "oesim.nem", None)
    monkeypatch.delattr(oesim, "nem", raising=False)
    assert main(["--dataset", "nem"]) == 2
    captured = capsys.readouterr()
    assert "dataset 'nem' is not available" in captured.err
    assert captured.out == ""


# ---------------------------------------------------------------------------- created_at


@pytest.mark.parametrize(
    ("now", "offset"),
    [
        (datetime(2026, 1, 15, 3, tzinfo=UTC), "+11:00"),
        (datetime(2026, 7, 15, 3, tzinfo=UTC), "+10:00"),
    ],
    ids=["summer", "winter"],
)
def test_created_at_is_sydney_time_with_dst(now: datetime, offset: str) -> None:
    with run_simulator(clock=lambda: now) as s:
        body = requests.get(s.url + "/facilities/", headers=AUTH, timeout=10).json()
    assert body["created_at"].endswith(offset)
    assert datetime.fromisoformat(body["created_at"]) == now


def test_default_window_ends_before_the_newest_interval() -> None:
    now = datetime(2025, 10, 5, 2, 17, 30, tzinfo=UTC)  # 12:17:30 NEM
    with run_simulator(clock=lambda: now) as s:
        body = requests.get(
            s.url + "/data/facilities/NEM",
            params={"facility_code": "KARRAWONG", "metrics": "power"},
            headers=AUTH,
            timeout=10,
        ).json()
    series = body["data"][0]
    # end = 12:15 boundary minus the newest interval = 12:10 exclusive; start = end - 4 days
    assert series["date_end"] == "2025-10-05T12:05:00+10:00"
    assert series["date_start"] == "2025-10-01T12:10:00+10:00"


class ListOnlyDataset:
    """A dataset with only the protocol's list methods (no numpy fast path)."""

    name = "list-only"

    def __init__(self) -> None:
        self._inner = SmallDataset()

    def facilities(self) -> list[dict[str, Any]]:
        return self._inner.facilities()

    def unit_power(self, unit_code: str, times: Any) -> list[float | None]:
        return self._inner.unit_power(unit_code, times)

    def region_market(self, region: str, metric: str, times: Any) -> list[float | None]:
        return self._inner.region_market(region, metric, times)


def test_protocol_only_dataset_serves_the_same(sim: SimulatorHandle) -> None:
    params = {
        "facility_code": ["GUMRIDGE", "TALLAWANG", "BANKSIA"],
        "metrics": ["power", "emissions"],
        **DAY,
    }
    market = {"metrics": ["price", "demand"], "primary_grouping": "network_region", **DAY}
    fast_data = get(sim, "/data/facilities/NEM", params).json()
    fast_market = get(sim, "/market/network/NEM", market).json()
    with run_simulator(ListOnlyDataset()) as slow:
        slow_data = get(slow, "/data/facilities/NEM", params).json()
        slow_market = get(slow, "/market/network/NEM", market).json()
    assert strip_created(slow_data) == strip_created(fast_data)
    assert strip_created(slow_market) == strip_created(fast_market)


def _hammer(url: str, done: threading.Event) -> None:
    while not done.is_set():
        with contextlib.suppress(requests.RequestException):
            requests.get(url + "/facilities/", headers=AUTH, timeout=5)


@pytest.mark.integration
def test_cli_stops_on_sigterm_while_serving_requests() -> None:
    # A SIGTERM that lands while a request is being handled must still stop the server:
    # socketserver's per-request error handler must not swallow the stop.
    for attempt in range(3):
        proc, line = start_cli("--dataset", "scaled", "--port", "0")
        url = line.rsplit(" ", 1)[1]
        done = threading.Event()
        clients = [threading.Thread(target=_hammer, args=(url, done)) for _ in range(3)]
        for client in clients:
            client.start()
        try:
            time.sleep(0.3 + 0.1 * attempt)
            code, err = stop_cli(proc)
        finally:
            done.set()
            for client in clients:
                client.join()
            if proc.poll() is None:
                proc.kill()
        assert code == 0, err
        assert "Traceback" not in err


# python -m oesim with a SIGTERM that lands just as socketserver has started a request's
# thread, and that thread slow to reach the socket (as on a loaded machine).
SIGTERM_AS_A_REQUEST_STARTS = """
import os, signal, sys, time
from oesim import server
from oesim.__main__ import main

start_request = server.SimulatorServer.process_request
setup = server.SimulatorHandler.setup

def process_request(self, request, address):
    start_request(self, request, address)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.2)  # the signal handler runs here, before process_request returns

def slow_setup(self):
    time.sleep(0.5)
    setup(self)

server.SimulatorServer.process_request = process_request
server.SimulatorHandler.setup = slow_setup
code = main(["--port", "0"])
time.sleep(1)  # interpreter shutdown, slow on a loaded machine: the request's thread runs on
sys.exit(code)
"""


@pytest.mark.integration
def test_a_sigterm_as_a_request_thread_starts_stops_the_server_without_a_traceback() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SIGTERM_AS_A_REQUEST_STARTS],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().rsplit(" ", 1)[1]
        # Answered, or dropped with the process (handler threads are daemons).
        with contextlib.suppress(requests.ConnectionError):
            requests.get(url + "/facilities/", headers=AUTH, timeout=30)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Exception" not in err, err


@pytest.mark.integration
def test_cli_scaled_dataset() -> None:
    proc, line = start_cli("--dataset", "scaled", "--port", "0")
    try:
        url = line.rsplit(" ", 1)[1]
        body = requests.get(url + "/facilities/", headers=AUTH, timeout=10).json()
    finally:
        code, err = stop_cli(proc)
    assert body["total_records"] == 420
    assert code == 0 and "Traceback" not in err
