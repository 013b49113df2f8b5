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
from oesim.nem_market import NemMarket
from oesim.nem_series import SeriesUnit, gaps

# Market metrics the dataset serves (MW or $/MWh); imports and exports are interchange.
MARKET_SERIES = {
    "price": "price",
    "demand": "demand",
    "flow_imports": "imports",
    "flow_exports": "exports",
}


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
    item["units"] = [build_unit_item(u) for u in fac.units]
    return item


def build_unit_item(unit: Unit) -> dict[str, Any]:
    """One unit as OE serves it: capacities in MW (storage MWh), factor in t CO2-e/MWh."""
    item: dict[str, Any] = {
        "code": unit.code,
        "fueltech_id": unit.fueltech_id,
        "status_id": unit.status,
        "capacity_registered": unit.capacity_mw,
    }
    if unit.storage_mwh:
        item["capacity_storage"] = unit.storage_mwh
    if unit.emissions_factor is not None:
        item["emissions_factor_co2"] = unit.emissions_factor
    item["dispatch_type"] = unit.dispatch_type
    return item


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

    def __init__(self, seed: int = 0, facilities: Sequence[Facility] = FACILITIES) -> None:
        self.seed = seed
        self._items = [build_facility_item(f) for f in facilities]
        self._units = build_series_units(facilities)
        # Split battery units (discharging, charging) follow their facility's bidirectional unit.
        self._bidi = {
            fac.code: u.code for fac in facilities for u in fac.units if u.fueltech_id == "battery"
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
        ``battery_charging``/``battery_discharging`` units are magnitudes, ``pumps`` is a
        non-negative load. Units that are not operating have no data."""
        unit = self._units[unit_code]
        t = np.asarray(t, dtype=np.int64)
        if unit.status != "operating":
            return np.full(t.shape, np.nan)
        ft = unit.fueltech_id
        if ft in ("battery_charging", "battery_discharging"):
            p = self.market.unit_mw(self._bidi[unit.family], t)
            mw = np.maximum(-p, 0.0) if ft == "battery_charging" else np.maximum(p, 0.0)
        else:
            mw = self.market.unit_mw(unit_code, t)
        mw = np.round(np.clip(mw, -unit.capacity_mw, unit.capacity_mw), 4)
        mw = np.where(mw == 0.0, 0.0, mw)  # no "-0.0" in the output
        return np.where(gaps(self.seed, unit.family, t), np.nan, mw)

    def unit_power(self, unit_code: str, times: Sequence[datetime]) -> list[float | None]:
        return _to_list(self.unit_power_array(unit_code, _to_epoch(times)))

    def region_market_array(self, region: str, metric: str, t: np.ndarray) -> np.ndarray:
        """``price`` ($/MWh), ``demand`` (operational, MW), ``flow_imports`` or
        ``flow_exports`` (MW >= 0) at epoch-second stamps ``t``.

        KeyError for an unknown region or metric."""
        if region not in REGIONS or metric not in MARKET_SERIES:
            raise KeyError(f"{region}/{metric}")
        values = self.market.region(MARKET_SERIES[metric], region, np.asarray(t, dtype=np.int64))
        return np.round(values, 4)

    def region_market(
        self, region: str, metric: str, times: Sequence[datetime]
    ) -> list[float | None]:
        return _to_list(self.region_market_array(region, metric, _to_epoch(times)))


def build_dataset(seed: int = 0) -> NemDataset:
    return NemDataset(seed=seed)
