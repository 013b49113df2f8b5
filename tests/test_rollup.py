"""Pure roll-up: lookup, battery rule, partial units, windows, pivot and join, formatting."""

from __future__ import annotations

import itertools
import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nemlive.common import lookups
from nemlive.common.columns import build_header
from nemlive.common.nemtime import format_request_time
from nemlive.extract import rollup

# ------------------------------------------------------------------ synthetic API bodies

DAY = (datetime(2025, 10, 1), datetime(2025, 10, 2))


def stamp(minutes: int, day: int = 1) -> str:
    ts = datetime(2025, 10, day) + timedelta(minutes=minutes)
    return ts.strftime("%Y-%m-%dT%H:%M:00+10:00")


def unit(code: str, fueltech: str, status: str = "operating", cap: float | None = 10.0) -> dict:
    out: dict[str, Any] = {"code": code, "fueltech_id": fueltech, "status_id": status}
    if cap is not None:
        out["capacity_registered"] = cap
    return out


def facility(code: str, units: list[dict], region: str = "SA1", **extra: Any) -> dict:
    item = {
        "code": code,
        "name": f"{code} name",
        "network_id": "NEM",
        "network_region": region,
        "location": {"lat": -35.5, "lng": 138.25},
        "units": units,
    }
    item.update(extra)
    return item


def facilities_body(*items: dict) -> dict:
    return {"version": "4.5.11", "success": True, "data": list(items), "total_records": len(items)}


def series_body(metric_points: dict[str, dict[str, list[tuple[str, float | None]]]]) -> dict:
    """{metric: {unit_code: [(stamp, value)]}} -> a /data/facilities body."""
    return {
        "version": "4.5.11",
        "success": True,
        "data": [
            {
                "network_code": "NEM",
                "metric": metric,
                "interval": "5m",
                "results": [
                    {
                        "name": f"{metric}_{code}",
                        "columns": {"unit_code": code},
                        "data": [list(p) for p in points],
                    }
                    for code, points in units.items()
                ],
            }
            for metric, units in metric_points.items()
        ],
    }


def market_body(metric_points: dict[str, dict[str, list[tuple[str, float | None]]]]) -> dict:
    return {
        "data": [
            {
                "metric": metric,
                "results": [
                    {
                        "name": f"{metric}_{r}",
                        "columns": {"region": r},
                        "data": [list(p) for p in pts],
                    }
                    for r, pts in regions.items()
                ],
            }
            for metric, regions in metric_points.items()
        ]
    }


BATTERY_BOTH = facility(
    "BATT",
    [
        unit("BATT1", "battery", cap=50.0),
        unit("BATTL1", "battery_charging", cap=50.0),
        unit("BATTG1", "battery_discharging", cap=50.0),
    ],
)
BATTERY_SPLIT = facility(
    "SPLIT",
    [
        unit("SPLITL1", "battery_charging", cap=20.0),
        unit("SPLITG1", "battery_discharging", cap=20.0),
        unit("SPLITWF", "wind", cap=100.0),
    ],
    region="QLD1",
)
MULTI = facility(
    "MULTI",
    [
        unit("M2", "coal_black", cap=500.0),
        unit("M1", "coal_black", cap=500.0),
        unit("M3", "gas_ocgt", cap=30.0),
        unit("M4", "coal_black", status="retired", cap=500.0),
    ],
    region="NSW1",
)


def table_for(facility_data: dict, market: dict | None = None, *items: dict) -> rollup.WideTable:
    lookup = rollup.build_lookup(
        facilities_body(*(items or (BATTERY_BOTH, BATTERY_SPLIT, MULTI))), "NEM"
    )
    parser = rollup.SeriesParser()
    fac = parser.parse(facility_data, "unit_code")
    mkt = parser.parse(market, "region") if market else []
    return rollup.build_wide_table(lookup, fac, mkt, DAY)


def cell(table: rollup.WideTable, name: str, row: int) -> float:
    return float(table.values[row, table.header.index(name) - 1])


# ------------------------------------------------------------------ battery rule


def test_battery_with_bidirectional_and_split_units_is_counted_once_from_the_bidirectional() -> (
    None
):
    body = series_body(
        {
            "power": {
                "BATT1": [(stamp(5), -30.0), (stamp(10), 40.0)],
                "BATTL1": [(stamp(5), 30.0)],
                "BATTG1": [(stamp(10), 40.0)],
            }
        }
    )
    table = table_for(body)
    assert cell(table, "power_BATT", 0) == -30.0
    assert cell(table, "power_BATT", 1) == 40.0


def test_split_only_battery_is_netted_as_discharging_minus_charging() -> None:
    body = series_body(
        {
            "power": {
                "SPLITL1": [(stamp(5), 12.5), (stamp(10), 0.0)],
                "SPLITG1": [(stamp(5), 0.0), (stamp(10), 7.25)],
                "SPLITWF": [(stamp(5), 60.0), (stamp(10), 61.0)],
            }
        }
    )
    table = table_for(body)
    assert cell(table, "power_SPLIT", 0) == 60.0 - 12.5
    assert cell(table, "power_SPLIT", 1) == 61.0 + 7.25


def test_split_units_are_skipped_only_where_a_bidirectional_unit_exists() -> None:
    lookup = rollup.build_lookup(facilities_body(BATTERY_BOTH, BATTERY_SPLIT), "NEM")
    assert "BATTL1" not in lookup.power_weight and "BATTG1" not in lookup.power_weight
    assert lookup.power_weight["BATT1"] == 1.0
    assert lookup.power_weight["SPLITL1"] == -1.0
    assert lookup.power_weight["SPLITG1"] == 1.0
    assert lookup.power_weight["SPLITWF"] == 1.0
    # Every unit still maps to its facility (emissions are the sum over all units).
    assert lookup.unit_facility["BATTL1"] == "BATT"


def test_pump_load_is_subtracted_from_the_facility_output() -> None:
    pumped = facility("PUMPED", [unit("PH1", "hydro", cap=250.0), unit("PHP1", "pumps", cap=240.0)])
    body = series_body(
        {
            "power": {
                "PH1": [(stamp(5), 200.0), (stamp(10), 0.0)],
                "PHP1": [(stamp(5), 0.0), (stamp(10), 180.5)],
            },
            "emissions": {"PH1": [(stamp(5), 0.0)], "PHP1": [(stamp(5), 0.0)]},
        }
    )
    table = table_for(body, None, pumped)
    assert cell(table, "power_PUMPED", 0) == 200.0
    assert cell(table, "power_PUMPED", 1) == -180.5


def test_emissions_are_the_sum_over_all_units() -> None:
    body = series_body(
        {
            "emissions": {
                "M1": [(stamp(5), 40.1)],
                "M2": [(stamp(5), 39.9)],
                "M3": [(stamp(5), 0.2)],
            }
        }
    )
    assert cell(table_for(body), "emissions_MULTI", 0) == 80.2


# ------------------------------------------------------------------ missing vs zero


def test_partial_units_sum_the_present_ones_and_all_missing_stays_empty() -> None:
    body = series_body(
        {
            "power": {
                "M1": [(stamp(5), 100.0), (stamp(10), None), (stamp(15), None)],
                "M2": [(stamp(5), 200.0), (stamp(10), 150.0), (stamp(15), None)],
                # M3 has no point at all at 10 and 15 (the API does not pad edges).
                "M3": [(stamp(5), 0.0)],
            }
        }
    )
    table = table_for(body)
    assert cell(table, "power_MULTI", 0) == 300.0
    assert cell(table, "power_MULTI", 1) == 150.0
    assert math.isnan(cell(table, "power_MULTI", 2))


def test_zero_is_a_value_and_missing_is_not_zero() -> None:
    body = series_body({"power": {"M1": [(stamp(5), 0.0), (stamp(10), None)]}})
    table = table_for(body)
    assert cell(table, "power_MULTI", 0) == 0.0
    assert math.isnan(cell(table, "power_MULTI", 1))
    # A facility with no data at all keeps its (empty) columns.
    assert np.isnan(table.values[:, table.header.index("power_BATT") - 1]).all()


def test_a_unit_seen_twice_at_one_timestamp_is_not_double_counted() -> None:
    first = series_body({"power": {"M1": [(stamp(5), 100.0)]}})
    again = series_body({"power": {"M1": [(stamp(5), 100.0)]}})
    lookup = rollup.build_lookup(facilities_body(MULTI), "NEM")
    parser = rollup.SeriesParser()
    series = parser.parse(first, "unit_code") + parser.parse(again, "unit_code")
    table = rollup.build_wide_table(lookup, series, [], DAY)
    assert cell(table, "power_MULTI", 0) == 100.0


def test_unit_order_in_the_response_does_not_change_the_sums() -> None:
    values = {"M1": 0.1, "M2": 0.2, "M3": 0.30005}
    forward = series_body({"power": {u: [(stamp(5), v)] for u, v in values.items()}})
    backward = series_body({"power": {u: [(stamp(5), v)] for u, v in reversed(values.items())}})
    a, b = table_for(forward), table_for(backward)
    assert a.values.tobytes() == b.values.tobytes()


def test_unknown_units_are_left_out_and_reported() -> None:
    body = series_body({"power": {"M1": [(stamp(5), 1.0)], "GHOST1": [(stamp(5), 9.0)]}})
    table = table_for(body)
    assert table.unknown_units == ("GHOST1",)
    assert cell(table, "power_MULTI", 0) == 1.0


# ------------------------------------------------------------------ pivot, join, window


def test_header_is_build_header_of_facilities_and_nem_regions() -> None:
    table = table_for(series_body({"power": {"M1": [(stamp(5), 1.0)]}}))
    assert table.header == build_header(
        ["BATT", "MULTI", "SPLIT"], rollup.NEM_REGIONS, interchange=True
    )
    assert table.header[:2] == ["timestamp", "power_BATT"]
    assert table.header[-10:] == [
        f"{m}_{r}" for m in ("imports", "exports") for r in rollup.NEM_REGIONS
    ]


def test_market_is_left_joined_onto_facility_timestamps() -> None:
    fac = series_body({"power": {"M1": [(stamp(5), 1.0), (stamp(10), 2.0)]}})
    market = market_body(
        {
            "price": {"NSW1": [(stamp(0), 5.0), (stamp(5), 55.5), (stamp(20), 9.0)]},
            "demand": {"SA1": [(stamp(10), 1400.0)], "NSW1": [(stamp(5), 7000.0)]},
        }
    )
    table = table_for(fac, market)
    assert table.stamps == [stamp(5), stamp(10)]  # market-only stamps add no rows
    assert cell(table, "price_NSW1", 0) == 55.5
    assert math.isnan(cell(table, "price_NSW1", 1))
    assert cell(table, "demand_SA1", 1) == 1400.0
    assert cell(table, "demand_NSW1", 0) == 7000.0
    assert math.isnan(cell(table, "price_VIC1", 0))


def test_a_follower_table_takes_rows_from_the_market_too() -> None:
    fac = series_body({"power": {"M1": [(stamp(5), 1.0)]}})
    market = market_body(
        {
            "price": {"NSW1": [(stamp(5), 55.5), (stamp(10), 9.0)]},
            "demand": {"XX9": [(stamp(15), 1.0)]},  # not a region of the table: no row
        }
    )
    lookup = rollup.build_lookup(facilities_body(BATTERY_BOTH, BATTERY_SPLIT, MULTI), "NEM")
    parser = rollup.SeriesParser()
    table = rollup.build_wide_table(
        lookup, parser.parse(fac, "unit_code"), parser.parse(market, "region"), DAY, rows="any"
    )
    assert table.stamps == [stamp(5), stamp(10)]
    assert cell(table, "price_NSW1", 1) == 9.0
    assert math.isnan(cell(table, "power_MULTI", 1))  # facility data has not come: empty


def test_interchange_comes_from_the_same_market_answer() -> None:
    fac = series_body({"power": {"M1": [(stamp(5), 1.0), (stamp(10), 2.0)]}})
    market = market_body(
        {
            "flow_imports": {"SA1": [(stamp(5), 420.5), (stamp(10), 0.0)]},
            "flow_exports": {"SA1": [(stamp(5), 12.25)], "VIC1": [(stamp(10), 900.0)]},
        }
    )
    table = table_for(fac, market)
    assert (cell(table, "imports_SA1", 0), cell(table, "imports_SA1", 1)) == (420.5, 0.0)
    assert cell(table, "exports_SA1", 0) == 12.25 and math.isnan(cell(table, "exports_SA1", 1))
    assert cell(table, "exports_VIC1", 1) == 900.0
    assert math.isnan(cell(table, "imports_NSW1", 0))


def test_ungrouped_market_series_are_reported_not_written() -> None:
    fac = series_body({"power": {"M1": [(stamp(5), 1.0)]}})
    market = {
        "data": [
            {
                "metric": "price",
                "results": [{"name": "price_total", "columns": {}, "data": [[stamp(5), 1.0]]}],
            }
        ]
    }
    table = table_for(fac, market)
    assert table.unknown_regions == ("total",)
    assert "price_total" not in table.header


def test_rows_outside_the_window_are_dropped_and_rows_are_sorted() -> None:
    fac = series_body(
        {
            "power": {
                "M1": [(stamp(10), 2.0), (stamp(5), 1.0), (stamp(0, day=2), 3.0)],
                "M2": [(stamp(-5), 7.0)],  # 2025-09-30T23:55, before the window
            }
        }
    )
    table = table_for(fac)
    assert table.stamps == [stamp(5), stamp(10)]


def test_timestamps_are_written_as_the_api_gives_them() -> None:
    fac = series_body({"power": {"M1": [("2025-10-01T10:05:00+10:00", 1.0)]}})
    assert table_for(fac).stamps == ["2025-10-01T10:05:00+10:00"]


def test_legacy_utc_stamps_are_rendered_in_nem_time() -> None:
    fac = series_body({"power": {"M1": [("2025-10-01T00:05:00Z", 1.0)]}})
    assert table_for(fac).stamps == ["2025-10-01T10:05:00+10:00"]


def test_sums_are_rounded_without_float_noise() -> None:
    fac = series_body({"power": {"M1": [(stamp(5), 0.1)], "M2": [(stamp(5), 0.2)]}})
    value = cell(table_for(fac), "power_MULTI", 0)
    assert rollup.format_value(value) == "0.3"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(0.1 + 0.2, "0.3", id="float-noise"),
        pytest.param(12.0, "12", id="integral"),
        pytest.param(-0.0, "0", id="negative-zero"),
        pytest.param(-41.07519, "-41.075", id="negative-rounded"),
        pytest.param(14123.5, "14123.5", id="large"),
        pytest.param(0.0004, "0", id="below-3dp"),
        pytest.param(None, "", id="none"),
        pytest.param(float("nan"), "", id="nan"),
    ],
)
def test_format_value(value: float | None, text: str) -> None:
    assert rollup.format_value(value) == text


# ------------------------------------------------------------------ windows and batches


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        pytest.param(1, [(0, 1)], id="one-day"),
        pytest.param(7, [(0, 7)], id="one-week"),
        pytest.param(8, [(0, 7), (7, 8)], id="eight-days"),
        pytest.param(15, [(0, 7), (7, 14), (14, 15)], id="fifteen-days"),
    ],
)
def test_chunk_window_splits_into_weeks_with_zero_overlap(
    days: int, expected: list[tuple[int, int]]
) -> None:
    start = datetime(2025, 10, 1)
    got = rollup.chunk_window(start, start + timedelta(days=days))
    assert got == [(start + timedelta(days=a), start + timedelta(days=b)) for a, b in expected]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(got))


def test_chunk_window_keeps_a_partial_day() -> None:
    start, end = datetime(2025, 10, 1, 10, 5), datetime(2025, 10, 1, 12, 0)
    assert rollup.chunk_window(start, end) == [(start, end)]


def test_chunk_window_rejects_an_empty_window() -> None:
    with pytest.raises(ValueError, match="not before"):
        rollup.chunk_window(datetime(2025, 10, 2), datetime(2025, 10, 1))


@pytest.mark.parametrize(
    ("n", "sizes"),
    [
        pytest.param(420, [30] * 14, id="real-size"),
        pytest.param(31, [30, 1], id="one-over"),
        pytest.param(0, [], id="none"),
    ],
)
def test_chunk_codes(n: int, sizes: list[int]) -> None:
    codes = [f"F{i:03d}" for i in range(n)]
    batches = rollup.chunk_codes(codes)
    assert [len(b) for b in batches] == sizes
    assert [c for b in batches for c in b] == codes


def test_request_times_are_naive() -> None:
    assert format_request_time(datetime(2025, 10, 1)) == "2025-10-01T00:00:00"


# ------------------------------------------------------------------ lookup and facilities.csv


def test_lookup_keeps_operational_facilities_of_the_network_only() -> None:
    retired = facility("OLD", [unit("OLD1", "coal_black", status="retired")])
    committed = facility("NEW", [unit("NEW1", "wind", status="committed")])
    commissioning = facility("COMM", [unit("COMM1", "solar_utility", status="commissioning")])
    wem = facility("WEMF", [unit("WEMF1", "wind")], region="WEM", network_id="WEM")
    body = facilities_body(MULTI, retired, committed, commissioning, wem)
    lookup = rollup.build_lookup(body, "NEM")
    assert lookup.facility_ids == ("COMM", "MULTI")
    # A retired unit of an operational facility still maps (it may have data in the window).
    assert lookup.unit_facility["M4"] == "MULTI"
    assert "OLD1" not in lookup.unit_facility


def test_lookup_only_filter_and_missing_codes() -> None:
    lookup = rollup.build_lookup(
        facilities_body(MULTI, BATTERY_BOTH), "NEM", only=["MULTI", "NOPE"]
    )
    assert lookup.facility_ids == ("MULTI",)
    assert rollup.missing_codes(lookup, ["MULTI", "NOPE"]) == ["NOPE"]


def test_lookup_rejects_a_body_without_data() -> None:
    with pytest.raises(ValueError, match="'data'"):
        rollup.build_lookup({"detail": "nope"}, "NEM")


@pytest.mark.parametrize("code", ["A,B", "NEW\nLINE", 'Q"T', "x" * 41])
def test_a_facility_code_the_csv_cannot_hold_is_refused_by_name(code: str) -> None:
    odd = facility(code, [unit("ODD1", "wind")])
    with pytest.raises(ValueError, match=r"cannot be a consolidate\.csv column") as err:
        rollup.build_lookup(facilities_body(MULTI, odd), "NEM")
    assert repr(code[:20])[1:-1] in str(err.value)
    # Left out with --facilities, the rest of the NEM extracts as usual.
    assert rollup.build_lookup(facilities_body(MULTI, odd), "NEM", only=["MULTI"]).facility_ids


def test_facility_rows_follow_contract_5() -> None:
    no_cap = facility("NOCAP", [unit("NC1", "wind", cap=None)], region="VIC1")
    rows, skipped = rollup.build_facility_rows(
        rollup.build_lookup(facilities_body(MULTI, BATTERY_BOTH, BATTERY_SPLIT, no_cap), "NEM")
    )
    assert skipped == []
    by_id = {r[0]: dict(zip(lookups.FACILITIES_HEADER, r, strict=True)) for r in rows}
    assert list(by_id) == ["BATT", "MULTI", "NOCAP", "SPLIT"]
    multi = by_id["MULTI"]
    assert multi["fuel_groups"] == "coal;gas"
    assert multi["fuel_techs"] == "coal_black;gas_ocgt"
    assert multi["capacity_mw"] == "1030"  # the retired unit does not count
    assert (multi["lat"], multi["lon"], multi["region_id"]) == ("-35.5", "138.25", "NSW1")
    # A battery counts once: its split units add neither capacity nor fuel techs.
    assert by_id["BATT"]["capacity_mw"] == "50"
    assert by_id["BATT"]["fuel_techs"] == "battery"
    # Split only: the charging side is the same battery, so it adds no capacity.
    assert by_id["SPLIT"]["capacity_mw"] == "120"
    assert by_id["SPLIT"]["fuel_groups"] == "wind;battery"
    assert by_id["SPLIT"]["fuel_techs"] == "wind;battery_discharging;battery_charging"
    # Unknown capacity is empty, never 0.
    assert by_id["NOCAP"]["capacity_mw"] == ""
    # lookups.py can load what we write.
    parsed = lookups.parse_facilities(
        [dict(zip(lookups.FACILITIES_HEADER, r, strict=True)) for r in rows]
    )
    assert parsed["MULTI"].fuel_group == "coal"


def test_facility_without_location_is_skipped_from_the_lookup_table() -> None:
    lost = facility("LOST", [unit("L1", "hydro")])
    del lost["location"]
    lookup = rollup.build_lookup(facilities_body(MULTI, lost), "NEM")
    rows, skipped = rollup.build_facility_rows(lookup)
    assert skipped == ["LOST"]
    assert [r[0] for r in rows] == ["MULTI"]
    assert "LOST" in lookup.facility_ids  # its data is still extracted


# ------------------------------------------------------------------ real recorded responses


def load(shared_oe: Path, name: str) -> Any:
    return json.loads((shared_oe / name).read_text())


def test_real_facilities_list_has_420_operational_nem_facilities(shared_oe: Path) -> None:
    lookup = rollup.build_lookup(load(shared_oe, "facilities.json"), "NEM")
    assert len(lookup.facilities) == 420
    rows, skipped = rollup.build_facility_rows(lookup)
    assert len(rows) + len(skipped) == 420
    # The real list also holds a NEM-network facility whose region is WEM: kept as listed.
    assert set(rollup.NEM_REGIONS) <= {r[2] for r in rows}
    # Every facility has a dominant fuel group that lookups.py knows.
    assert all(r[5].split(";")[0] in lookups.FUEL_GROUPS for r in rows)


def test_real_battery_facilities_skip_their_split_units(shared_oe: Path) -> None:
    body = load(shared_oe, "facilities.json")
    lookup = rollup.build_lookup(body, "NEM")
    both = [
        f
        for f in lookup.facilities
        if f.has_bidirectional_battery
        and any(u.fueltech_id in rollup.SPLIT_BATTERY for u in f.units)
    ]
    assert len(both) > 10
    for fac in both:
        for u in fac.units:
            counted = u.code in lookup.power_weight
            assert counted == (u.fueltech_id not in rollup.SPLIT_BATTERY)


def test_real_sa1_market_parses_by_region(shared_oe: Path) -> None:
    series = rollup.parse_series(load(shared_oe, "market_price_SA1_5m_7d.json"), "region")
    assert [(s.metric, s.code, len(s.times)) for s in series] == [("price", "SA1", 2016)]
    assert np.all(np.diff(series[0].times) == 300)


def test_real_facility_day_parses_every_unit(shared_oe: Path) -> None:
    body = load(shared_oe, "facility_data_5m_2025-10-01.json")
    series = rollup.parse_series(body, "unit_code")
    expected = sum(len(b["results"]) for b in body["data"])
    assert len(series) == expected
    assert {s.metric for s in series} == {"power", "emissions"}


# ------------------------------------------------------------------ the edges of each rule


def test_chunk_window_rejects_a_window_that_ends_where_it_starts() -> None:
    with pytest.raises(ValueError, match="not before"):
        rollup.chunk_window(datetime(2025, 10, 1), datetime(2025, 10, 1))


def test_items_the_lookup_leaves_out_do_not_stop_the_ones_after_them() -> None:
    retired = facility("OLD", [unit("OLD1", "coal_black", status="retired")])
    wem = facility("WEMF", [unit("WEMF1", "wind")], region="WEM", network_id="WEM")
    first = facility("DUP", [unit("DUP1", "wind")], name="first")
    again = facility("DUP", [unit("DUP2", "solar_utility")], name="second")
    body = facilities_body("not a facility", wem, retired, first, again, MULTI)
    lookup = rollup.build_lookup(body, "NEM")
    assert lookup.facility_ids == ("DUP", "MULTI")
    assert lookup.facilities[0].name == "first"  # listed twice: the first is kept
    assert "DUP2" not in lookup.unit_facility
    assert lookup.unit_facility["M1"] == "MULTI"


def test_a_unit_listed_under_two_facilities_counts_under_the_first_and_the_rest_still_map() -> None:
    a = facility("AAA", [unit("SHARED", "wind")])
    b = facility("BBB", [unit("SHARED", "wind"), unit("B2", "solar_utility")])
    lookup = rollup.build_lookup(facilities_body(b, a), "NEM")
    assert lookup.unit_facility == {"SHARED": "AAA", "B2": "BBB"}


def test_a_body_that_is_not_an_object_is_not_a_facilities_list() -> None:
    with pytest.raises(ValueError, match=r"^the facilities response has no 'data' list$"):
        rollup.build_lookup([facility("A", [])], "NEM")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^the response has no 'data' list$"):
        rollup.parse_series([], "unit_code")  # type: ignore[arg-type]


def test_missing_names_fuel_techs_and_regions_have_their_stated_defaults() -> None:
    bare = {
        "code": "BARE",
        "network_id": "NEM",
        "units": [{"code": "B1", "status_id": "operating"}],
    }
    fac = rollup.parse_facility(bare)
    assert fac.name == "BARE"  # no name: the code
    assert fac.region_id == ""
    assert fac.units[0].fueltech_id == "other"
    assert (fac.lat, fac.lon) == (None, None)
    assert rollup.parse_facility({"code": "X", "units": [{"code": "X1"}]}).units[0].status_id == ""


def test_a_broken_facility_item_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match=r"^facility item without 'code': \{'name': 'nameless'\}$"):
        rollup.parse_facility({"name": "nameless"})


def test_a_capacity_that_is_not_a_number_is_unknown() -> None:
    units = [unit("T1", "wind", cap=True), unit("T2", "wind", cap=float("nan"))]  # type: ignore[arg-type]
    assert [u.capacity_mw for u in rollup.parse_facility(facility("T", units)).units] == [
        None,
        None,
    ]


def test_a_facility_with_only_one_coordinate_is_skipped_from_the_lookup_table() -> None:
    half = facility("HALF", [unit("H1", "hydro")], location={"lat": -35.5, "lng": None})
    rows, skipped = rollup.build_facility_rows(rollup.build_lookup(facilities_body(half), "NEM"))
    assert (rows, skipped) == ([], ["HALF"])


def test_facility_rows_keep_six_decimals_of_location_and_count_every_unit() -> None:
    # A split battery unit left out (a bidirectional one exists) does not stop the units after it.
    item = facility(
        "LOC",
        [
            unit("LC", "battery_charging", cap=40.0),
            unit("LB", "battery", cap=40.0),
            unit("LW", "wind", cap=25.0),
            unit("LS", "solar_utility", cap=25.0),
        ],
        location={"lat": -35.12345678, "lng": 138.98765432},
    )
    ((row,), _) = rollup.build_facility_rows(rollup.build_lookup(facilities_body(item), "NEM"))
    fields = dict(zip(lookups.FACILITIES_HEADER, row, strict=True))
    assert (fields["lat"], fields["lon"]) == ("-35.123457", "138.987654")
    assert fields["capacity_mw"] == "90"
    # Equal capacity: the fuel-group order breaks the tie (wind before solar), not the name.
    assert fields["fuel_groups"] == "battery;wind;solar"


def test_fuel_techs_of_one_group_add_up_to_rank_the_group() -> None:
    item = facility(
        "MIX",
        [
            unit("G1", "gas_ocgt", cap=30.0),
            unit("G2", "gas_ccgt", cap=30.0),
            unit("W", "wind", cap=50.0),
        ],
    )
    ((row,), _) = rollup.build_facility_rows(rollup.build_lookup(facilities_body(item), "NEM"))
    assert dict(zip(lookups.FACILITIES_HEADER, row, strict=True))["fuel_groups"] == "gas;wind"


def test_legacy_market_results_name_their_region_in_network_region() -> None:
    body = market_body({"price": {"SA1": [(stamp(5), 80.0)]}})
    body["data"][0]["results"][0]["columns"] = {"network_region": "SA1"}
    body["data"][0]["results"][0]["name"] = "price"  # the code is in the columns only
    [series] = rollup.parse_series(body, "region")
    assert (series.metric, series.code, series.values.tolist()) == ("price", "SA1", [80.0])


def test_a_result_without_columns_takes_its_code_from_its_name() -> None:
    body = series_body({"power": {"U1": [(stamp(5), 1.0)], "U2": [(stamp(5), 2.0)]}})
    for result in body["data"][0]["results"]:
        del result["columns"]
    body["data"][0]["results"][1]["name"] = "other name"
    assert [(s.code, s.values.tolist()) for s in rollup.parse_series(body, "unit_code")] == [
        ("U1", [1.0]),
        ("", [2.0]),
    ]


def test_a_result_without_points_does_not_stop_the_results_after_it() -> None:
    body = series_body({"power": {"U1": [], "U2": [(stamp(5), 2.0)]}})
    assert [s.code for s in rollup.parse_series(body, "unit_code")] == ["U2"]


def test_naive_stamps_are_nem_time() -> None:
    body = series_body({"power": {"U1": [("2025-10-01T00:05:00", 1.0)]}})
    [series] = rollup.parse_series(body, "unit_code")
    assert series.times.tolist() == [int(datetime.fromisoformat(stamp(5)).timestamp())]


def test_a_series_with_a_broken_point_is_a_malformed_series() -> None:
    body = series_body({"power": {"U1": [(stamp(5), 1.0)]}})
    body["data"][0]["results"][0]["data"] = [[stamp(5)]]
    with pytest.raises(ValueError, match=r"^malformed time series: "):
        rollup.parse_series(body, "unit_code")


def test_the_table_names_its_window_facilities_and_regions() -> None:
    table = table_for(series_body({"power": {"M1": [(stamp(5), 1.0)]}}))
    assert table.window == DAY
    assert table.facility_ids == ("BATT", "MULTI", "SPLIT")
    assert table.region_ids == tuple(rollup.NEM_REGIONS)


def test_a_facility_code_the_csv_cannot_hold_names_the_way_out() -> None:
    odd = facility("A,B", [unit("ODD1", "wind")])
    with pytest.raises(ValueError) as err:
        rollup.build_lookup(facilities_body(odd), "NEM")
    assert str(err.value) == (
        "facility code 'A,B' cannot be a consolidate.csv column (codes are 1-40 letters, "
        "digits, '_', '.' or '-'); leave it out with --facilities"
    )


def test_a_window_without_facility_data_is_a_table_of_no_rows_with_the_full_header() -> None:
    table = table_for(series_body({}), market_body({"price": {"SA1": [(stamp(5), 80.0)]}}))
    assert table.times.tolist() == [] and table.values.shape == (0, len(table.header) - 1)
    assert table.header == build_header(
        ["BATT", "MULTI", "SPLIT"], rollup.NEM_REGIONS, interchange=True
    )


def test_the_interval_ending_at_the_window_start_is_the_first_row() -> None:
    table = table_for(series_body({"power": {"M1": [(stamp(0), 1.0), (stamp(5), 2.0)]}}))
    assert table.stamps == [stamp(0), stamp(5)]


def test_a_point_with_an_extra_element_is_a_malformed_series() -> None:
    body = series_body({"power": {"U1": [(stamp(5), 1.0)]}})
    body["data"][0]["results"][0]["data"] = [[stamp(5), 1.0], [stamp(10), 2.0, 3.0]]
    with pytest.raises(ValueError, match=r"^malformed time series: "):
        rollup.parse_series(body, "unit_code")
