"""The OE simulator through the official client (issue 15).

``python -m oesim --dataset nem`` and ``--dataset small`` run as processes on loopback and the
official ``openelectricity`` SDK (pinned in requirements-test.txt) talks to them as a user's
script would: every public method of the sync and async clients, every market metric,
interval and grouping a COMMUNITY key may ask for, on both datasets (their facilities are
shaped as the real API sends them); and the week rolled up from what the SDK returns equals
the shipped ``consolidate.csv`` (nem). Where the real recordings in ``../shared/oe`` say how
the real API shapes something, the tests compare against them at run time.

One thing the real API sends, SDK 0.12 cannot parse: a ``commissioning`` unit (its status
enum lacks it; the server derives that status, docs/oe-api.md §3). The small catalogue has one
on purpose, so its facility list is read through the SDK with a status filter, which drops
that unit as the real API does, and the unfiltered list is checked to fail on it alone.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import math
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openelectricity import AsyncOEClient, OEClient
from openelectricity.client import APIError, OpenElectricityError
from openelectricity.models.timeseries import TimeSeriesResponse
from openelectricity.types import (
    VALID_INTERVALS,
    DataMetric,
    FueltechGroupType,
    MarketMetric,
    OpenNEMRoles,
    UnitFueltechType,
)

from nemlive.devtools import makedata
from oesim.api import RANGE_LIMIT_DAYS
from oesim.testing import run_simulator
from tests.conftest import PYTHON, ROOT, clean_subprocess_env, shared_oe_dir

pytestmark = pytest.mark.integration

# The SDK configures a DEBUG handler on import; its request lines would drown the output.
logging.getLogger("openelectricity").setLevel(logging.WARNING)

CSV = ROOT / "consolidate.csv"
KEY = makedata.SIM_KEY
WEEK_START = datetime.fromisoformat(makedata.SIM_WEEK[0])
WEEK_END = datetime.fromisoformat(makedata.SIM_WEEK[1])
DAY = {"date_start": WEEK_START, "date_end": WEEK_START + timedelta(days=1)}
TOLERANCE = 0.0005
REGIONS = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")


DATASETS = ("nem", "small")
# A multi-unit black-coal station of each dataset's NSW1.
STATION = {"nem": "BAYSW", "small": "KARRAWONG"}
# The facility-list filter that leaves out what SDK 0.12 cannot parse (see the module doc).
PARSEABLE = {"nem": {}, "small": {"status_id": ["operating", "retired", "committed"]}}
FLOWS = {"flow_imports", "flow_exports", "flow_imports_energy", "flow_exports_energy"}


@contextmanager
def _serve(dataset: str) -> Iterator[str]:
    """``python -m oesim --dataset <dataset> --seed <shipped seed>`` on an ephemeral port."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "oesim", "--dataset", dataset, "--seed", makedata.SIM_SEED, "--port", "0"],
        cwd=ROOT,
        env=clean_subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("OE simulator listening on http://127.0.0.1:"), line
        yield line.rsplit(" ", 1)[-1]
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr


@pytest.fixture(scope="module")
def nem_url() -> Iterator[str]:
    with _serve("nem") as url:
        yield url


@pytest.fixture(scope="module", params=DATASETS)
def dataset(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def sim_url(dataset: str, nem_url: str) -> Iterator[str]:
    """The simulator of ``dataset`` (the nem one is shared with the nem-only tests)."""
    if dataset == "nem":
        yield nem_url
        return
    with _serve(dataset) as url:
        yield url


@pytest.fixture(scope="module")
def client(sim_url: str) -> OEClient:
    return OEClient(api_key=KEY, base_url=sim_url)


@pytest.fixture(scope="module")
def nem_client(nem_url: str) -> OEClient:
    return OEClient(api_key=KEY, base_url=nem_url)


@pytest.fixture(scope="module")
def facilities(client: OEClient, dataset: str) -> list[Any]:
    return list(client.get_facilities(network_id=["NEM"], **PARSEABLE[dataset]).data)


@pytest.fixture(scope="module")
def nem_facilities(nem_client: OEClient) -> list[Any]:
    return list(nem_client.get_facilities(network_id=["NEM"]).data)


@pytest.fixture(scope="module")
def station(dataset: str) -> str:
    return STATION[dataset]


def _values(response: TimeSeriesResponse, metric: str) -> dict[str, list[tuple[datetime, float]]]:
    """unit code -> [(stamp, value)] without nulls, for one metric."""
    out = {}
    for series in response.data:
        if series.metric == metric:
            for r in series.results:
                key = r.columns.unit_code or r.name
                out[key] = [(p.timestamp, p.value) for p in r.data if p.value is not None]
    return out


# ------------------------------------------------------------------------- /me


def test_get_current_user_parses_with_rate_limit_credits_and_roles(client: OEClient) -> None:
    user = client.get_current_user().data
    assert user.plan == "COMMUNITY"
    assert user.roles == [OpenNEMRoles.ANONYMOUS]  # what the server gives a non-admin key
    assert user.rate_limit is not None
    assert 0 <= user.rate_limit.remaining <= user.rate_limit.limit
    assert isinstance(user.rate_limit.reset, datetime) and user.rate_limit.reset.tzinfo


def test_me_sends_credits_as_the_server_does(sim_url: str) -> None:
    import requests

    body = requests.get(f"{sim_url}/me", headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    credits = body.json()["data"]["credits"]
    assert credits["remaining"] == 500 and credits["reset"].endswith("Z")


# ------------------------------------------------------------------------- facilities


def test_get_facilities_parses_every_facility(facilities: list[Any]) -> None:
    assert len(facilities) > 15
    for fac in facilities:
        assert fac.created_at and fac.updated_at
        for unit in fac.units:
            assert unit.created_at and unit.updated_at and unit.dispatch_type
            if unit.data_first_seen and unit.data_last_seen:
                assert unit.data_first_seen < unit.data_last_seen
            if unit.capacity_registered:
                assert unit.capacity_maximum >= unit.capacity_registered
            if unit.fueltech_id.value.startswith("battery"):
                assert unit.capacity_storage and unit.capacity_storage > 0


def test_every_nem_unit_that_ran_has_its_first_and_last_seen(nem_facilities: list[Any]) -> None:
    assert len(nem_facilities) > 250
    for fac in nem_facilities:
        for unit in fac.units:
            if unit.status_id.value != "committed":
                assert unit.data_first_seen is not None
            if unit.status_id.value in ("operating", "retired"):
                assert unit.data_last_seen is not None


def test_the_small_catalogue_unfiltered_fails_only_on_its_commissioning_unit() -> None:
    """SDK 0.12's status enum lacks ``commissioning``, which the real API derives and sends
    (docs/oe-api.md §3): the SDK refuses such a list from the real API too. Nothing else of
    the small catalogue stops it."""
    from pydantic import ValidationError

    with _serve("small") as url, pytest.raises(ValidationError) as info:
        OEClient(api_key=KEY, base_url=url).get_facilities()
    assert [(e["loc"][-1], e["input"]) for e in info.value.errors()] == [
        ("status_id", "commissioning")
    ]


def test_pumps_are_generators_and_only_charging_units_loads(facilities: list[Any]) -> None:
    dispatch: dict[str, set[str]] = {}
    for fac in facilities:
        for unit in fac.units:
            dispatch.setdefault(unit.fueltech_id.value, set()).add(unit.dispatch_type)
    assert dispatch["pumps"] == {"GENERATOR"}
    assert dispatch["battery"] == {"BIDIRECTIONAL"}
    assert dispatch["battery_charging"] == {"LOAD"}
    assert dispatch["battery_discharging"] == {"GENERATOR"}


def test_unit_fields_and_dispatch_types_follow_the_real_api(facilities: list[Any]) -> None:
    """Per fueltech, the keys every real unit carries and the real dispatch types (read from
    the recording at run time) are what the simulator serves too."""
    real = json.loads((shared_oe_dir() / "facilities.json").read_text())["data"]
    real_keys: dict[str, set[str]] = {}
    real_dispatch: dict[str, set[str]] = {}
    for fac in real:
        for u in fac["units"]:
            ft = u["fueltech_id"]
            real_keys[ft] = real_keys.get(ft, set(u)) & set(u)
            real_dispatch.setdefault(ft, set()).add(u.get("dispatch_type"))
    assert {"created_at", "updated_at"} <= {k for f in real for k in f}
    for fac in facilities:
        for unit in fac.units:
            ft = unit.fueltech_id.value
            if ft not in real_keys:
                continue
            sent = {k for k, v in unit.model_dump().items() if v is not None}
            assert real_keys[ft] <= sent, (unit.code, real_keys[ft] - sent)
            assert unit.dispatch_type in real_dispatch[ft], (unit.code, unit.dispatch_type)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status_id": ["operating"]},
        {"status_id": ["retired", "committed"]},
        {"fueltech_id": [UnitFueltechType.COAL_BLACK, UnitFueltechType.BATTERY]},
        {"network_region": "TAS1"},
    ],
    ids=["status", "status-not-operating", "fueltech", "region"],
)
def test_get_facilities_filters(client: OEClient, kwargs: dict[str, Any]) -> None:
    got = client.get_facilities(**kwargs).data
    assert got
    for fac in got:
        for unit in fac.units:
            if "status_id" in kwargs:
                assert unit.status_id.value in kwargs["status_id"]
            if "fueltech_id" in kwargs:
                assert unit.fueltech_id in kwargs["fueltech_id"]
        if "network_region" in kwargs:
            assert fac.network_region == kwargs["network_region"]


def test_get_facilities_by_code(client: OEClient, station: str) -> None:
    assert [f.code for f in client.get_facilities(facility_code=[station]).data] == [station]


# ------------------------------------------------------------------------- facility data


def _split_battery(facilities: list[Any]) -> Any:
    return next(
        f for f in facilities if {u.fueltech_id.value for u in f.units} >= {"battery_charging"}
    )


def test_split_battery_units_have_points_only_while_flowing_their_way(
    client: OEClient, facilities: list[Any]
) -> None:
    fac = _split_battery(facilities)
    by_tech = {u.fueltech_id.value: u.code for u in fac.units}
    got = client.get_facility_data("NEM", fac.code, [DataMetric.POWER], "5m", **DAY)
    series = {r.columns.unit_code: r.data for r in got.data[0].results}
    bidi = {p.timestamp: p.value for p in series[by_tech["battery"]]}
    out = {p.timestamp: p.value for p in series[by_tech["battery_discharging"]]}
    into = {p.timestamp: p.value for p in series[by_tech["battery_charging"]]}
    assert any(v for v in out.values()) and any(v for v in into.values())
    for t, p in bidi.items():
        if p is None:
            continue
        discharging, charging = out.get(t), into.get(t)
        # One side per interval: discharging from 0 MW up, charging below 0, never both.
        assert (discharging is None) == (p < 0) and (charging is None) == (p >= 0), t
        assert math.isclose(discharging if p >= 0 else -charging, p, abs_tol=1e-9), t


def test_get_facility_data_by_unit_code(
    client: OEClient, facilities: list[Any], station: str
) -> None:
    fac = next(f for f in facilities if f.code == station)
    units = [u.code for u in fac.units]
    got = client.get_facility_data(
        "NEM", fac.code, [DataMetric.ENERGY], "1h", unit_code=units[:2], **DAY
    )
    assert {r.columns.unit_code for r in got.data[0].results} == set(units[:2])


def test_get_facility_data_refuses_31_codes_before_asking(client: OEClient) -> None:
    with pytest.raises(OpenElectricityError, match="at most 30"):
        client.get_facility_data("NEM", [f"X{i}" for i in range(31)], [DataMetric.POWER])


# Each interval: a window inside the COMMUNITY range, the labels that window must give, and
# the limit in whole days (one day more is refused).
INTERVAL_CASES = {
    "5m": (1, "2025-10-01T00:00:00", 288),
    "30m": (1, "2025-10-01T00:00:00", 48),
    "1h": (1, "2025-10-01T00:00:00", 24),
    "1d": (2, "2025-10-01T00:00:00", 2),
    "7d": (7, "2025-09-28T00:00:00", 2),  # weeks start on Sunday
    "1M": (2, "2025-10-01T00:00:00", 1),
    "3M": (2, "2025-10-01T00:00:00", 1),
    "season": (2, "2025-09-01T00:00:00", 1),  # spring: September to November
    "1y": (2, "2025-01-01T00:00:00", 1),
    "fy": (2, "2026-01-01T00:00:00", 1),  # FY 2025-26, labelled 1 January 2026
}


def test_interval_cases_cover_every_sdk_interval() -> None:
    assert set(INTERVAL_CASES) == set(VALID_INTERVALS)


@pytest.mark.parametrize("interval", list(INTERVAL_CASES))
def test_facility_data_at_every_interval_aggregates_the_5m_values(
    client: OEClient, station: str, interval: str
) -> None:
    days, first_label, count = INTERVAL_CASES[interval]
    window = {"date_start": WEEK_START, "date_end": WEEK_START + timedelta(days=days)}
    metrics = [DataMetric.POWER, DataMetric.ENERGY]
    got = client.get_facility_data("NEM", station, metrics, interval, **window)
    fine = client.get_facility_data("NEM", station, metrics, "5m", **window)
    power, energy = _values(got, "power"), _values(got, "energy")
    fine_power, fine_energy = _values(fine, "power"), _values(fine, "energy")
    name = sorted(power)[0]
    stamps = [t for t, _ in power[name]]
    assert stamps[0].replace(tzinfo=None).isoformat() == first_label
    assert len(stamps) == count and got.data[0].interval == interval
    # The whole window in one bucket (or summed over buckets): energy sums, power averages.
    assert math.isclose(
        sum(v for _, v in energy[name]), sum(v for _, v in fine_energy[name]), rel_tol=1e-6
    )
    if count == 1:
        mean = np.mean([v for _, v in fine_power[name]])
        assert math.isclose(power[name][0][1], mean, rel_tol=1e-6)


@pytest.mark.parametrize("interval", list(INTERVAL_CASES))
def test_one_day_past_the_community_range_is_refused(client: OEClient, interval: str) -> None:
    limit = RANGE_LIMIT_DAYS["COMMUNITY"].get(interval, 7)
    start = WEEK_START - timedelta(days=limit + 1)
    with pytest.raises(APIError) as info:
        client.get_market("NEM", [MarketMetric.PRICE], interval, start, WEEK_START)
    assert info.value.status_code == 400


# ------------------------------------------------------------------------- market


@pytest.fixture(scope="module")
def market_day(client: OEClient) -> TimeSeriesResponse:
    """Every market metric by region, hourly, for the first day of the shipped week."""
    return client.get_market(
        "NEM", list(MarketMetric), "1h", primary_grouping="network_region", **DAY
    )


def _by_region(response: TimeSeriesResponse, metric: str) -> dict[str, np.ndarray]:
    out = {}
    for series in response.data:
        if series.metric == metric:
            for r in series.results:
                out[r.columns.region] = np.array([p.value for p in r.data], dtype=float)
    return out


UNITS = {"price": "$/MWh", "renewable_proportion": "%", "renewable_with_storage_proportion": "%"}


@pytest.mark.parametrize("metric", list(MarketMetric), ids=[m.value for m in MarketMetric])
def test_every_market_metric_is_served_per_region(
    client: OEClient, dataset: str, market_day: TimeSeriesResponse, metric: MarketMetric
) -> None:
    if dataset == "small" and metric.value in FLOWS:
        # No market model, so no interconnectors: the series is left out (docs/oe-api.md).
        assert metric.value not in {s.metric for s in market_day.data}
        return
    series = next(s for s in market_day.data if s.metric == metric.value)
    want_unit = UNITS.get(metric.value, "MWh" if metric.value.endswith("_energy") else "MW")
    assert series.unit == want_unit
    values = _by_region(market_day, metric.value)
    assert set(values) == set(REGIONS)
    for region, v in values.items():
        assert len(v) == 24 and np.isfinite(v).all(), region
        if metric != MarketMetric.PRICE:
            assert (v >= 0).all(), region
    # The same metric alone, for the whole network (one result, ``_total``).
    alone = client.get_market("NEM", [metric], "1d", **DAY).data[0]
    assert [r.name for r in alone.results] == [f"{metric.value}_total"]
    if metric == MarketMetric.SOLAR_ROOFTOP_FORECAST:
        assert alone.forecast_run_time is not None


def test_energy_metrics_are_their_mw_over_the_hour(market_day: TimeSeriesResponse) -> None:
    for series in market_day.data:
        if series.metric.endswith("_energy"):
            mw = _by_region(market_day, series.metric.removesuffix("_energy"))
            for region, energy in _by_region(market_day, series.metric).items():
                assert np.allclose(energy, mw[region], atol=1e-5), (series.metric, region)


def test_renewable_proportion_is_renewables_over_gross_demand(
    market_day: TimeSeriesResponse,
) -> None:
    gross = _by_region(market_day, "demand_gross")
    for kind in ("", "_with_storage"):
        gen = _by_region(market_day, f"generation_renewable{kind}")
        share = _by_region(market_day, f"renewable{kind}_proportion")
        for r in REGIONS:
            assert np.allclose(share[r], gen[r] / gross[r] * 100, rtol=1e-5), (kind, r)


def test_curtailment_is_wind_plus_utility_solar(
    market_day: TimeSeriesResponse, dataset: str
) -> None:
    total = _by_region(market_day, "curtailment")
    wind = _by_region(market_day, "curtailment_wind")
    solar = _by_region(market_day, "curtailment_solar_utility")
    for r in REGIONS:
        assert np.allclose(total[r], wind[r] + solar[r], atol=1e-5)
    # Only the nem dataset has a market model that curtails.
    assert (sum(v.sum() for v in total.values()) > 0) == (dataset == "nem")


def test_gross_demand_is_operational_demand_plus_rooftop(market_day: TimeSeriesResponse) -> None:
    gross, demand = _by_region(market_day, "demand_gross"), _by_region(market_day, "demand")
    rooftop = _by_region(market_day, "solar_rooftop_forecast")
    for r in REGIONS:
        assert np.allclose(gross[r], demand[r] + rooftop[r], atol=1e-4)


def test_flows_balance_across_the_nem(nem_client: OEClient) -> None:
    flows = nem_client.get_market(
        "NEM", [MarketMetric.FLOW_IMPORTS, MarketMetric.FLOW_EXPORTS], "1h",
        primary_grouping="network_region", **DAY,
    )  # fmt: skip
    imports = sum(_by_region(flows, "flow_imports").values())
    exports = sum(_by_region(flows, "flow_exports").values())
    assert np.allclose(imports, exports, atol=1e-3)


def test_market_for_one_region(client: OEClient) -> None:
    got = client.get_market("NEM", [MarketMetric.PRICE], "1h", network_region="SA1", **DAY)
    assert [r.columns.region for r in got.data[0].results] == ["SA1"]


# ------------------------------------------------------------------------- network data


def _network(client: OEClient, interval: str = "1h", **kwargs: Any) -> TimeSeriesResponse:
    return client.get_network_data(
        "NEM", [DataMetric.POWER, DataMetric.ENERGY], interval, **DAY, **kwargs
    )


@pytest.mark.parametrize("primary", ["network", "network_region"])
@pytest.mark.parametrize("secondary", [None, "fueltech", "fueltech_group", "status", "renewable"])
def test_network_data_groupings(client: OEClient, primary: str, secondary: str | None) -> None:
    # At 5 minutes, where the split is exact: an hour's mean power of a group is the mean of
    # the intervals that group has data in, so with gaps (the small catalogue's wind farm
    # loses 02:00-03:25 every day) hourly group means need not add up to the total's.
    got = _network(client, "5m", primary_grouping=primary, secondary_grouping=secondary)
    power = got.data[0]
    assert power.groupings == ([primary, secondary] if secondary else [])
    for r in power.results:
        columns = r.columns.model_dump(exclude_none=True)
        assert ("region" in columns) == (primary == "network_region")
        parts = [columns["region"]] if "region" in columns else []
        if secondary:
            parts.append(str(columns[secondary]))
        assert r.name == "power_" + ("|".join(parts) or "total")
    # Every grouping splits the same total.
    total = _network(client, "5m")
    want = np.array([p.value for p in total.data[0].results[0].data])
    got_total = np.zeros(len(want))
    for r in power.results:
        got_total += np.array([p.value or 0.0 for p in r.data])
    assert np.allclose(got_total, want, atol=1e-3)


def test_network_data_by_fueltech_equals_the_facility_data(
    client: OEClient, facilities: list[Any]
) -> None:
    """Generation by fuel is the sum of the units the facility data serves."""
    coal = [f.code for f in facilities if f.network_region == "NSW1" and any(
        u.fueltech_id.value == "coal_black" and u.status_id.value == "operating" for u in f.units
    )]  # fmt: skip
    units = client.get_facility_data("NEM", coal, [DataMetric.POWER], "5m", **DAY)
    total = np.zeros(288)
    for r in units.data[0].results:
        total += np.array([p.value or 0.0 for p in r.data])
    got = client.get_network_data(
        "NEM", [DataMetric.POWER], "5m", network_region="NSW1",
        fueltech=[UnitFueltechType.COAL_BLACK], **DAY,
    )  # fmt: skip
    (result,) = got.data[0].results
    assert result.name == "power_NSW1|coal_black"
    assert np.allclose([p.value for p in result.data], total, atol=1e-3)


@pytest.mark.parametrize("group", list(FueltechGroupType), ids=[g.value for g in FueltechGroupType])
def test_network_data_by_every_sdk_fueltech_group(
    client: OEClient, group: FueltechGroupType
) -> None:
    got = client.get_network_data("NEM", [DataMetric.ENERGY], "1d", fueltech_group=[group], **DAY)
    series = got.data[0]
    assert series.groupings == ["network", "fueltech_group"]
    assert series.results and all(r.columns.fueltech_group for r in series.results)


def test_renewable_generation_matches_the_renewable_network_data(client: OEClient) -> None:
    """Interval by interval (an hour's mean of a group with gaps averages only the intervals
    it has data in, as the groupings test says); a null, no renewable unit reporting, is no
    renewable generation."""
    got = _network(client, "5m", primary_grouping="network_region", secondary_grouping="renewable")
    market = client.get_market(
        "NEM", [MarketMetric.GENERATION_RENEWABLE], "5m", primary_grouping="network_region", **DAY
    )
    gen = {r.columns.region: {p.timestamp: p.value for p in r.data} for r in market.data[0].results}
    compared = 0
    for r in got.data[0].results:
        if r.columns.renewable:
            want = gen[r.columns.region]
            for point in r.data:
                assert math.isclose(point.value or 0.0, want[point.timestamp], abs_tol=1e-3), (
                    r.name,
                    point.timestamp,
                )
                compared += 1
    assert compared >= 288 * 4  # at least four regions have renewable data all day


@pytest.mark.parametrize("metric", list(DataMetric), ids=[m.value for m in DataMetric])
def test_network_data_serves_every_data_metric(client: OEClient, metric: DataMetric) -> None:
    got = client.get_network_data("NEM", [metric], "1d", secondary_grouping="fueltech", **DAY)
    assert got.data[0].metric == metric.value and got.data[0].results


# ------------------------------------------------------------------------- the response model


def test_to_records_to_pandas_and_units(client: OEClient) -> None:
    got = client.get_market(
        "NEM",
        [MarketMetric.PRICE, MarketMetric.DEMAND],
        "1h",
        primary_grouping="network_region",
        **DAY,
    )
    records = got.to_records(merge_metrics=True)
    assert len(records) == 24 * 5 and {"interval", "region", "price", "demand"} <= set(records[0])
    assert records[0]["interval"] == WEEK_START  # naive network time
    frame = got.to_pandas()
    assert len(frame) == 2 * 24 * 5
    assert got.get_metric_units() == {"price": "$/MWh", "demand": "MW"}
    start, _ = got.data[0].date_range
    assert start.replace(tzinfo=None) == WEEK_START


def test_to_polars(client: OEClient) -> None:
    pytest.importorskip("polars", reason="polars is the SDK's optional analysis extra")
    got = client.get_market("NEM", [MarketMetric.PRICE], "1d", **DAY)
    assert got.to_polars().height == 1


# ------------------------------------------------------------------------- errors


def test_errors_reach_the_sdk_as_api_errors(sim_url: str, client: OEClient) -> None:
    with pytest.raises(APIError) as bad_key:
        OEClient(api_key="not-a-real-key-000", base_url=sim_url).get_current_user()
    assert bad_key.value.status_code == 401
    with pytest.raises(APIError) as no_data:
        client.get_facility_data("NEM", "NOSUCHFAC", [DataMetric.POWER], "5m", **DAY)
    assert no_data.value.status_code == 404
    with pytest.raises(OpenElectricityError, match="API key"):
        OEClient(base_url=sim_url)


def test_sync_client_as_a_context_manager(sim_url: str) -> None:
    with OEClient(api_key=KEY, base_url=sim_url) as c:
        assert c.get_current_user().data.plan == "COMMUNITY"
    c.close()  # closing twice is harmless


# ------------------------------------------------------------------------- the shipped week


def _read_csv() -> tuple[list[str], list[list[str]]]:
    with CSV.open(newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


async def _fetch_week(url: str, codes: list[str]) -> list[TimeSeriesResponse]:
    """Every facility's power and emissions for the shipped week, 30 codes a request, all
    batches at once through the async client."""
    async with AsyncOEClient(api_key=KEY, base_url=url) as c:
        batches = [codes[i : i + 30] for i in range(0, len(codes), 30)]
        metrics = [DataMetric.POWER, DataMetric.EMISSIONS]
        return await asyncio.gather(
            *(c.get_facility_data("NEM", b, metrics, "5m", WEEK_START, WEEK_END) for b in batches)
        )


def _unit_weights(facilities: list[Any]) -> tuple[dict[str, str], dict[str, float]]:
    """unit -> facility, and unit -> its factor in the facility's power (contracts §4):
    split battery units are skipped beside a bidirectional unit; loads count negative."""
    owner, weight = {}, {}
    for fac in facilities:
        techs = {u.fueltech_id.value for u in fac.units}
        for u in fac.units:
            owner[u.code] = fac.code
            ft = u.fueltech_id.value
            if ft in ("battery_charging", "battery_discharging") and "battery" in techs:
                continue
            weight[u.code] = -1.0 if ft in ("battery_charging", "pumps") else 1.0
    return owner, weight


def test_the_week_through_the_sdk_rolls_up_to_the_shipped_csv(
    nem_url: str, nem_client: OEClient, nem_facilities: list[Any]
) -> None:
    header, rows = _read_csv()
    csv_codes = [c.removeprefix("power_") for c in header if c.startswith("power_")]
    owner, weight = _unit_weights(nem_facilities)
    responses = asyncio.run(_fetch_week(nem_url, csv_codes))
    frames = [r.to_pandas() for r in responses]
    units = pd.concat(frames, ignore_index=True)
    units["facility"] = units["unit_code"].map(owner)
    units["weight"] = units["unit_code"].map(weight)
    power = units.dropna(subset=["power", "weight"])
    power = (power["power"] * power["weight"]).groupby([power["interval"], power["facility"]]).sum()
    emissions = units.dropna(subset=["emissions"])
    emissions = emissions.groupby(["interval", "facility"])["emissions"].sum()
    market = nem_client.get_market(
        "NEM", [MarketMetric.PRICE, MarketMetric.DEMAND], "5m", WEEK_START, WEEK_END,
        primary_grouping="network_region",
    ).to_pandas(merge_metrics=True).set_index(["interval", "region"])  # fmt: skip
    rolled = {
        "power": power.to_dict(),
        "emissions": emissions.to_dict(),
        "price": market["price"].to_dict(),
        "demand": market["demand"].to_dict(),
    }
    compared = 0
    for row in rows:
        stamp = datetime.fromisoformat(row[0]).replace(tzinfo=None)
        for name, cell in zip(header[1:], row[1:], strict=True):
            metric, _, code = name.partition("_")
            if metric not in rolled:
                continue
            got = rolled[metric].get((stamp, code))
            if cell == "":
                assert got is None, (name, stamp)
                continue
            assert got is not None and abs(got - float(cell)) <= TOLERANCE + 1e-9, (
                name,
                stamp,
                got,
                cell,
            )
            compared += 1
    assert compared > 0.99 * len(rows) * (len(header) - 1 - sum(
        1 for c in header if c.split("_")[0] not in rolled
    ))  # fmt: skip


def test_async_client_reads_the_user_and_the_facilities(sim_url: str) -> None:
    async def run() -> tuple[Any, Any]:
        async with AsyncOEClient(api_key=KEY, base_url=sim_url) as c:
            return await c.get_current_user(), await c.get_facilities(network_region="SA1")

    user, facilities = asyncio.run(run())
    assert user.data.rate_limit is not None
    assert facilities.data and {f.network_region for f in facilities.data} == {"SA1"}


def test_async_client_network_data_and_market(sim_url: str) -> None:
    async def run() -> tuple[TimeSeriesResponse, TimeSeriesResponse]:
        c = AsyncOEClient(api_key=KEY, base_url=sim_url)
        try:
            network = await c.get_network_data(
                "NEM", [DataMetric.POWER], "1d", secondary_grouping="fueltech_group", **DAY
            )
            market = await c.get_market("NEM", [MarketMetric.RENEWABLE_PROPORTION], "1d", **DAY)
        finally:
            await c.close()
        return network, market

    network, market = asyncio.run(run())
    assert network.data[0].results
    share = market.data[0].results[0].data[0].value
    assert share is not None and 0 < share < 100


# ------------------------------------------------------------------------- the other datasets


def test_scaled_dataset_through_the_sdk() -> None:
    with run_simulator("scaled") as sim:
        c = OEClient(api_key=KEY, base_url=sim.url)
        facilities = c.get_facilities().data
        codes = [f.code for f in facilities[:30]]
        data = c.get_facility_data("NEM", codes, [DataMetric.POWER], "1h", **DAY)
        market = c.get_market("NEM", list(MarketMetric), "1d", **DAY)
        network = c.get_network_data(
            "NEM", [DataMetric.ENERGY], "1d", secondary_grouping="fueltech", **DAY
        )
    assert data.data[0].results and network.data[0].results
    assert {s.metric for s in market.data} >= {m.value for m in MarketMetric} - {
        "flow_imports", "flow_exports", "flow_imports_energy", "flow_exports_energy"
    }  # fmt: skip
