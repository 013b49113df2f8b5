"""The page's tables: recent facility and market events, the most and least utilised."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nemlive.common import lookups
from nemlive.common.nemtime import epoch_to_nem_naive
from nemlive.dashboard import charts, tables
from nemlive.dashboard.text import build_facility_markdown
from tests.support_dashboard import fed_state

AT = 1_760_000_100 // 300 * 300
T = 1_760_486_700  # 2025-10-15T10:05:00+10:00


def _fac(fid: str, group: str = "wind", region: str = "SA1") -> lookups.Facility:
    return lookups.Facility(fid, f"{fid} name", region, -34.0, 138.0, (group,), (group,), 100.0)


def test_tables_newest_first_with_lookup_names(tmp_path: Path) -> None:
    snap, facilities, _ = fed_state(tmp_path, intervals=3)
    fac = tables.build_recent_facility_table(snap.recent_facility, facilities, limit=5)
    assert len(fac) == 5 and fac.iloc[0]["facility_id"] == snap.recent_facility[-1][1]
    assert fac.iloc[0]["name"] == facilities[fac.iloc[0]["facility_id"]].name
    mkt = tables.build_recent_market_table(snap.recent_market)
    assert len(mkt) == 15 and list(mkt.columns) == [
        "received",
        "timestamp",
        "region_id",
        "price_dmwh",
        "demand_mw",
    ]
    assert "facility_id" in fac.to_csv(index=False).splitlines()[0]
    hist = charts.build_facility_history_frame(snap.facility_history["TSOLAR1"])
    assert list(hist.columns) == ["time", "power_mw", "co2_tonnes"]


def test_tables_follow_the_filters(tmp_path: Path) -> None:
    snap, facilities, _ = fed_state(tmp_path, intervals=3)
    recent = [*snap.recent_facility, (0.0, "NOTINLOOKUP", snap.max_ts, 1.0, None)]
    everything = tables.build_recent_facility_table(recent, facilities)
    assert everything.iloc[0]["name"] == "(unknown)" and len(everything) == len(recent)
    vic = tables.build_recent_facility_table(recent, facilities, regions={"VIC1"})
    assert set(vic["facility_id"]) == {"TGAS1", "TBATT1"} and len(vic) == 6
    coal = tables.build_recent_facility_table(recent, facilities, groups={"coal"}, limit=2)
    assert list(coal["facility_id"]) == ["TCOAL2", "TCOAL1"]  # newest first, after filtering
    mkt = tables.build_recent_market_table(snap.recent_market, regions={"SA1"})
    assert list(mkt["region_id"]) == ["SA1"] * 3


def test_the_utilisation_tables_rank_generators_by_capacity_factor() -> None:
    fac = {
        f"G{i}": lookups.Facility(f"G{i}", f"Gen {i}", "SA1", -34, 138, ("wind",), ("wind",), 100.0)
        for i in range(5)
    }
    fac["B"] = lookups.Facility("B", "Battery", "SA1", -34, 138, ("battery",), ("battery",), 50.0)
    fac["N"] = lookups.Facility("N", "No cap", "SA1", -34, 138, ("gas",), ("gas_ocgt",), None)
    latest = {f"G{i}": (AT, 20.0 * i, 0.0) for i in range(5)}
    latest |= {"B": (AT, 50.0, 0.0), "N": (AT, 10.0, 0.0)}
    most, least = tables.build_utilisation_tables(latest, fac, limit=2)
    assert list(most["facility_id"]) == ["G4", "G3"] and list(most["factor"]) == [0.8, 0.6]
    assert list(least["facility_id"]) == ["G0", "G1"]
    markdown = build_facility_markdown(fac["G3"], (AT, 60.0, 0.0))
    assert "Capacity factor: **60%**" in markdown


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts, with pandas' NaN for a missing value read back as None."""
    return [{k: None if pd.isna(v) else v for k, v in r.items()} for r in frame.to_dict("records")]


def test_recent_tables_list_the_newest_first_with_their_lookup_fields() -> None:
    recent = [(T + 1.5, "A", T, 1.0, 2.0), (T + 2.5, "GONE", T, 3.0, None)]
    table = tables.build_recent_facility_table(recent, {"A": _fac("A", group="coal")})
    assert _records(table) == [
        {
            "received": epoch_to_nem_naive(T + 2),
            "timestamp": epoch_to_nem_naive(T),
            "facility_id": "GONE",
            "name": "(unknown)",
            "region": "",
            "fuel": "",
            "power_mw": 3.0,
            "co2_tonnes": None,
        },
        {
            "received": epoch_to_nem_naive(T + 1),
            "timestamp": epoch_to_nem_naive(T),
            "facility_id": "A",
            "name": "A name",
            "region": "SA1",
            "fuel": "Coal",
            "power_mw": 1.0,
            "co2_tonnes": 2.0,
        },
    ]
    empty = tables.build_recent_facility_table([], {})
    assert list(empty.columns) == tables.RECENT_FACILITY_COLUMNS
    market = tables.build_recent_market_table(
        [(T + 1.0, "SA1", T, 80.0, None), (T + 1.0, "VIC1", T, None, 5000.0)]
    )
    assert _records(market) == [
        {
            "received": epoch_to_nem_naive(T + 1),
            "timestamp": epoch_to_nem_naive(T),
            "region_id": "VIC1",
            "price_dmwh": None,
            "demand_mw": 5000.0,
        },
        {
            "received": epoch_to_nem_naive(T + 1),
            "timestamp": epoch_to_nem_naive(T),
            "region_id": "SA1",
            "price_dmwh": 80.0,
            "demand_mw": None,
        },
    ]
    assert list(tables.build_recent_market_table([]).columns) == tables.RECENT_MARKET_COLUMNS


def test_recent_tables_hold_200_rows_by_default_after_the_filter() -> None:
    facility_rows = [(float(T), "A" if i % 2 else "B", T, float(i), None) for i in range(450)]
    facilities = {"A": _fac("A"), "B": _fac("B", region="VIC1")}
    assert len(tables.build_recent_facility_table(facility_rows, facilities)) == 200
    kept = tables.build_recent_facility_table(facility_rows, facilities, regions={"SA1"})
    assert len(kept) == 200 and set(kept["facility_id"]) == {"A"}
    market_rows = [(float(T), "SA1" if i % 2 else "VIC1", T, 1.0, 1.0) for i in range(450)]
    assert len(tables.build_recent_market_table(market_rows)) == 200
    kept = tables.build_recent_market_table(market_rows, regions={"SA1"})
    assert len(kept) == 200 and set(kept["region_id"]) == {"SA1"}
    assert len(tables.build_recent_market_table(market_rows[:3], limit=2)) == 2
