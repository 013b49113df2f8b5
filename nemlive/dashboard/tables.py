"""The page's tables (pure): the newest facility and market events, and the most and least
utilised generators. Times are naive NEM time (UTC+10), as in the charts' frames.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd

from nemlive.common.lookups import (
    FUEL_LABELS,
    Facility,
    capacity_factor,
    facility_passes,
    fuel_group_of,
)
from nemlive.common.nemtime import epoch_to_nem_naive
from nemlive.dashboard.livestate import Point

RECENT_FACILITY_COLUMNS = [
    "received",
    "timestamp",
    "facility_id",
    "name",
    "region",
    "fuel",
    "power_mw",
    "co2_tonnes",
]
RECENT_MARKET_COLUMNS = ["received", "timestamp", "region_id", "price_dmwh", "demand_mw"]


def build_recent_facility_table(
    recent: list[tuple[float, str, int, float | None, float | None]],
    facilities: Mapping[str, Facility],
    limit: int = 200,
    *,
    regions: Collection[str] | None = None,
    groups: Collection[str] | None = None,
) -> pd.DataFrame:
    """The newest ``limit`` facility events that pass the filters, newest first.

    Name, region and fuel come from the lookup. ``received`` (arrival) and ``timestamp`` are
    naive NEM time (UTC+10). With no filter, unknown facilities are listed as ``(unknown)``;
    with a filter they are left out (their region and fuel are not known).
    """
    rows = []
    filtered = regions is not None or groups is not None
    for arrived, fid, ts, mw, t in reversed(recent):
        if len(rows) >= limit:
            break
        fac = facilities.get(fid)
        if filtered and (fac is None or not facility_passes(fac, regions, groups)):
            continue
        rows.append(
            {
                "received": epoch_to_nem_naive(int(arrived)),
                "timestamp": epoch_to_nem_naive(ts),
                "facility_id": fid,
                "name": fac.name if fac else "(unknown)",
                "region": fac.region_id if fac else "",
                "fuel": FUEL_LABELS.get(fuel_group_of(fac), "") if fac else "",  # type: ignore[call-overload]
                "power_mw": mw,
                "co2_tonnes": t,
            }
        )
    return pd.DataFrame(rows, columns=RECENT_FACILITY_COLUMNS)


def build_recent_market_table(
    recent: list[tuple[float, str, int, float | None, float | None]],
    limit: int = 200,
    *,
    regions: Collection[str] | None = None,
) -> pd.DataFrame:
    """The newest ``limit`` market events of the selected regions, newest first (NEM time)."""
    rows = []
    for a, rid, ts, p, d in reversed(recent):
        if len(rows) >= limit:
            break
        if regions is not None and rid not in regions:
            continue
        rows.append(
            {
                "received": epoch_to_nem_naive(int(a)),
                "timestamp": epoch_to_nem_naive(ts),
                "region_id": rid,
                "price_dmwh": p,
                "demand_mw": d,
            }
        )
    return pd.DataFrame(rows, columns=RECENT_MARKET_COLUMNS)


# make mutate leaves out the utilisation tables (the app and browser tests check them too).
# pragma: no mutate start
# The factor next to the name: in a half-width column the last columns are off screen.
UTILISATION_COLUMNS = ["name", "factor", "power_mw", "capacity_mw", "region", "fuel", "facility_id"]
LOAD_GROUPS = frozenset({"battery", "pumps"})  # their capacity is not an output to fill


def build_utilisation_tables(
    latest: Mapping[str, Point],
    facilities: Mapping[str, Facility],
    limit: int = 10,
    *,
    regions: Collection[str] | None = None,
    groups: Collection[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The most and the least utilised generators of the selection at their latest values:
    ``factor`` = output ÷ registered capacity (0..1). Batteries and pumps are left out."""
    rows = []
    for fid, (_, mw, _t) in latest.items():
        fac = facilities.get(fid)
        if fac is None or fuel_group_of(fac) in LOAD_GROUPS:
            continue
        if not facility_passes(fac, regions, groups):
            continue
        cf = capacity_factor(fac, mw)
        if cf is None:
            continue
        rows.append(
            {
                "facility_id": fid,
                "name": fac.name,
                "region": fac.region_id,
                "fuel": FUEL_LABELS.get(fuel_group_of(fac), ""),  # type: ignore[call-overload]
                "power_mw": mw,
                "capacity_mw": fac.capacity_mw,
                "factor": cf,
            }
        )
    rows.sort(key=lambda r: (-r["factor"], r["facility_id"]))
    most = pd.DataFrame(rows[:limit], columns=UTILISATION_COLUMNS)
    least = pd.DataFrame(list(reversed(rows[-limit:])), columns=UTILISATION_COLUMNS)
    return most, least


# pragma: no mutate end
