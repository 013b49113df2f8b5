"""The ``nem`` dataset: the real NEM fleet (approximately) with simulated series.

``NemDataset(seed=0)`` follows :class:`oesim.dataset.Dataset`: ``facilities()`` returns the
catalogue (:mod:`oesim.nem_catalogue`) in the raw OE ``/v4/facilities/`` item shape, and the
series come from the market model (:mod:`oesim.nem_market`), a pure function of (seed, NEM
day). The fast array methods (``unit_power_array``, ``region_market_array``) take and return
numpy arrays of epoch seconds and floats (NaN = no data); the server prefers them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from oesim.dataset import REGIONS
from oesim.nem_catalogue import FACILITIES, Facility, Unit
from oesim.nem_market import LINKS, NemMarket
from oesim.nem_series import SeriesUnit, gaps, stable_key

# Market metrics the dataset serves (MW or $/MWh); imports and exports are interchange,
# curtailment is what wind and solar farms offered but were not dispatched.
MARKET_SERIES = {
    "price": "price",
    "demand": "demand",
    "flow_imports": "imports",
    "flow_exports": "exports",
    "solar_rooftop": "rooftop",
    "curtailment_wind": "curtailed_wind",
    "curtailment_solar_utility": "curtailed_solar",
}
# When the catalogue was entered into the simulator's "CMS" (facility and unit
# created_at/updated_at): the project's own dates, one for all.
CMS_CREATED = "2025-06-01T09:00:00+10:00"
CMS_UPDATED = "2025-09-01T09:00:00+10:00"
# First data of an operating unit: a year drawn per facility from this range by fueltech
# (the simulator's own choice, not a registration date); retired units stopped here.
FIRST_SEEN_YEARS = {"battery": (2018, 2023), "wind": (2008, 2021), "solar": (2015, 2022)}
FIRST_SEEN_DEFAULT_YEARS = (1999, 2012)
RETIRED_LAST_SEEN = "2023-04-28T23:55:00+10:00"


def first_seen(fac_code: str, fueltech_id: str) -> str:
    """The unit's ``data_first_seen`` (network time, +10:00): 1 July of a year hashed from
    the facility code within :data:`FIRST_SEEN_YEARS` for its fueltech, 00:05."""
    lo, hi = FIRST_SEEN_DEFAULT_YEARS
    for prefix, years in FIRST_SEEN_YEARS.items():
        if fueltech_id.startswith(prefix):
            lo, hi = years
    year = lo + stable_key(0, "first_seen", fac_code) % (hi - lo + 1)
    return f"{year}-07-01T00:05:00+10:00"


def capacity_maximum(unit: Unit) -> float:
    """Maximum capacity (MW): registered plus a 0-5 % margin hashed from the unit code."""
    margin = (stable_key(0, "capacity_maximum", unit.code) % 51) / 1000.0
    return round(unit.capacity_mw * (1.0 + margin), 1)


def build_facility_item(fac: Facility) -> dict[str, Any]:
    """One facility as OE's ``GET /v4/facilities/`` item (keys omitted when null)."""
    item: dict[str, Any] = {
        "code": fac.code,
        "name": fac.name,
        "network_id": "NEM",
        "network_region": fac.region,
        "location": {"lat": fac.lat, "lng": fac.lon},
    }
    if fac.description:
        item["description"] = f"<p>{fac.description}</p>"
    # Split battery units repeat their battery's storage, as OE lists them.
    storage = next((u.storage_mwh for u in fac.units if u.fueltech_id == "battery"), None)
    item["units"] = [build_unit_item(u, fac.code, storage) for u in fac.units]
    item["created_at"] = CMS_CREATED
    item["updated_at"] = CMS_UPDATED
    return item


def build_unit_item(
    unit: Unit, fac_code: str = "", battery_storage: float | None = None
) -> dict[str, Any]:
    """One unit as OE serves it: capacities in MW (storage MWh), factor in t CO2-e/MWh.

    ``data_first_seen`` is set for operating and retired units, ``data_last_seen`` only for
    retired ones here: the server stamps an operating unit's with its newest served
    interval (``live_last_seen``)."""
    item: dict[str, Any] = {
        "code": unit.code,
        "fueltech_id": unit.fueltech_id,
        "status_id": unit.status,
        "capacity_registered": unit.capacity_mw,
        "capacity_maximum": capacity_maximum(unit),
    }
    storage = unit.storage_mwh
    if unit.fueltech_id in ("battery_charging", "battery_discharging"):
        storage = storage or battery_storage
    if storage:
        item["capacity_storage"] = storage
    if unit.emissions_factor is not None:
        item["emissions_factor_co2"] = unit.emissions_factor
    if unit.status != "committed":
        item["data_first_seen"] = first_seen(fac_code or unit.code, unit.fueltech_id)
    if unit.status == "retired":
        item["data_last_seen"] = RETIRED_LAST_SEEN
    item["dispatch_type"] = unit.dispatch_type
    item["created_at"] = CMS_CREATED
    item["updated_at"] = CMS_UPDATED
    return item


def _epoch(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())


def build_series_units(facilities: Sequence[Facility]) -> dict[str, SeriesUnit]:
    """unit code -> what the generator needs; battery units share their facility's family."""
    out: dict[str, SeriesUnit] = {}
    for fac in facilities:
        for u in fac.units:
            family = fac.code if u.fueltech_id.startswith("battery") else u.code
            out[u.code] = SeriesUnit(
                code=u.code,
                fueltech_id=u.fueltech_id,
                capacity_mw=u.capacity_mw,
                region=fac.region,
                lat=fac.lat,
                lon=fac.lon,
                family=family,
                status=u.status,
            )
    return out


def _to_epoch(times: Sequence[datetime]) -> np.ndarray:
    return np.fromiter((int(ts.timestamp()) for ts in times), dtype=np.int64, count=len(times))


def _to_list(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


class NemDataset:
    """About 260 real NEM facilities with deterministic, market-dispatched series."""

    name = "nem"
    # Operating units' data_last_seen is the newest interval the server would serve.
    live_last_seen = True

    def __init__(self, seed: int = 0, facilities: Sequence[Facility] = FACILITIES) -> None:
        self.seed = seed
        self._items = [build_facility_item(f) for f in facilities]
        self._units = build_series_units(facilities)
        # Split battery units (discharging, charging) follow their facility's bidirectional unit.
        self._bidi = {
            fac.code: u.code for fac in facilities for u in fac.units if u.fueltech_id == "battery"
        }
        # No data before a unit's data_first_seen.
        self._first_seen = {
            u.code: _epoch(first_seen(fac.code, u.fueltech_id))
            for fac in facilities
            for u in fac.units
        }
        storage = {u.code: u.storage_mwh for f in facilities for u in f.units if u.storage_mwh}
        market_units = [
            su
            for su in self._units.values()
            if su.fueltech_id not in ("battery_charging", "battery_discharging")
        ]
        self.market = NemMarket(seed, market_units, storage)

    def facilities(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._items)

    def unit_power_array(self, unit_code: str, t: np.ndarray) -> np.ndarray:
        """MW at epoch-second stamps ``t``; NaN = no data. KeyError for an unknown unit.

        Signs follow OE: ``battery`` is signed (negative charging), its split
        ``battery_charging``/``battery_discharging`` units are magnitudes with data only
        while the battery flows their way (charging below 0 MW, discharging from 0 up; as
        OE serves them), ``pumps`` is a non-negative
        load. Units that are not operating, and any unit before its ``data_first_seen``,
        have no data."""
        unit = self._units[unit_code]
        t = np.asarray(t, dtype=np.int64)
        if unit.status != "operating":
            return np.full(t.shape, np.nan)
        ft = unit.fueltech_id
        idle = np.zeros(t.shape, dtype=bool)
        if ft in ("battery_charging", "battery_discharging"):
            p = np.round(self.market.unit_mw(self._bidi[unit.family], t), 4)
            # Each interval belongs to one side: charging below 0 MW, discharging from 0.
            idle = p >= 0.0 if ft == "battery_charging" else p < 0.0
            mw = np.abs(p)
        else:
            mw = self.market.unit_mw(unit_code, t)
        mw = np.round(np.clip(mw, -unit.capacity_mw, unit.capacity_mw), 4)
        mw = np.where(mw == 0.0, 0.0, mw)  # no "-0.0" in the output
        missing = idle | gaps(self.seed, unit.family, t) | (t < self._first_seen[unit_code])
        return np.where(missing, np.nan, mw)

    def unit_power(self, unit_code: str, times: Sequence[datetime]) -> list[float | None]:
        return _to_list(self.unit_power_array(unit_code, _to_epoch(times)))

    def region_market_array(self, region: str, metric: str, t: np.ndarray) -> np.ndarray:
        """``price`` ($/MWh), ``demand`` (operational, MW), ``flow_imports``,
        ``flow_exports``, ``solar_rooftop``, ``curtailment_wind`` or
        ``curtailment_solar_utility`` (MW >= 0) at epoch-second stamps ``t``.

        KeyError for an unknown region or metric."""
        if region not in REGIONS or metric not in MARKET_SERIES:
            raise KeyError(f"{region}/{metric}")
        values = self.market.region(MARKET_SERIES[metric], region, np.asarray(t, dtype=np.int64))
        return np.round(values, 4)

    def link_flow_array(self, t: np.ndarray) -> np.ndarray:
        """MW on each interconnector of :data:`oesim.nem_market.LINKS` at stamps ``t``:
        shape ``(len(LINKS), len(t))``, positive child -> parent (QLD1->NSW1, NSW1->VIC1,
        SA1->VIC1, TAS1->VIC1), unrounded. Each region's ``flow_imports`` and
        ``flow_exports`` are these flows, each counted on one side by its sign."""
        t = np.asarray(t, dtype=np.int64)
        return np.array([self.market.link_flow(j, t) for j in range(len(LINKS))])

    def region_market(
        self, region: str, metric: str, times: Sequence[datetime]
    ) -> list[float | None]:
        return _to_list(self.region_market_array(region, metric, _to_epoch(times)))


def build_dataset(seed: int = 0) -> NemDataset:
    return NemDataset(seed=seed)
