"""Pure roll-up of OpenElectricity v4 JSON into the wide consolidate.csv table.

Three inputs, three parsers, one join:

* ``GET /facilities/`` -> :func:`build_lookup`: operational facilities, a unit -> facility
  map and each unit's weight in its facility's power total (the battery rule, docs/contracts.md §4);
  :func:`build_facility_rows` turns the lookup into ``data/facilities.csv`` rows (§5).
* ``GET /data/facilities/{net}`` -> :func:`parse_series`: one :class:`Series` per unit and
  metric, times as epoch seconds.
* ``GET /market/network/{net}`` -> :func:`parse_series` with ``key="region"``.
* :func:`build_wide_table` pivots units to facilities, facilities and regions to columns, and
  left-joins the market onto the facility timestamps.

Nothing here does I/O, reads the environment or the clock. Times in and out are NEM time
(UTC+10, no daylight saving); request windows are naive NEM datetimes, ``start <= t < end``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np

from nemlive.common import lookups
from nemlive.common.columns import (
    API_MARKET_METRICS,
    FACILITY_METRICS,
    MARKET_METRICS,
    build_header,
    is_valid_code,
)
from nemlive.common.events import REGIONS
from nemlive.common.nemtime import NEM_TZ, format_nem

log = logging.getLogger(__name__)

MAX_CODES_PER_REQUEST = 30  # the API rejects more than 30 facility_code values (422)
MAX_WINDOW = timedelta(days=7)  # COMMUNITY allows 8 whole days at 5m; 7 leaves a margin
# MW, t and $/MWh to 3 dp (1 kW, 1 kg): finer than 5-minute SCADA is accurate, and it
# keeps the cache inside the seed's budget of 8 MB per 420 facilities per week.
DECIMALS = 3
# Shortest form of a rounded value: 12.0 -> "12", 0.30000000000000004 -> "0.3".
NUMBER_FORMAT = "%.12g"

SPLIT_BATTERY = ("battery_charging", "battery_discharging")
# Units whose power is a non-negative consumption magnitude: they count negatively.
LOAD_FUELTECHS = frozenset({"battery_charging", "pumps"})
# Since 2026-07 the API serves an operating unit that has not yet reached 90 % of its
# capacity as "commissioning" (docs/oe-api.md §3): it generates, so it counts as operating.
OPERATING_STATUSES = frozenset({"operating", "commissioning"})
NEM_REGIONS = REGIONS  # the wire schema's closed list: a CSV column is a topic later


# --------------------------------------------------------------------------- lookup


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """One unit of a facility. ``capacity_mw``: registered capacity (MW), None when absent."""

    code: str
    fueltech_id: str
    status_id: str
    capacity_mw: float | None


@dataclass(frozen=True, slots=True)
class FacilityInfo:
    """One facility from ``/facilities/``; ``lat``/``lon`` are None without a location."""

    facility_id: str
    name: str
    region_id: str
    lat: float | None
    lon: float | None
    units: tuple[UnitInfo, ...]

    @property
    def operating_units(self) -> tuple[UnitInfo, ...]:
        return tuple(u for u in self.units if u.status_id in OPERATING_STATUSES)

    @property
    def operational(self) -> bool:
        """Seed §3.1: a facility is operational when at least one unit is operating."""
        return any(u.status_id in OPERATING_STATUSES for u in self.units)

    @property
    def has_bidirectional_battery(self) -> bool:
        return any(u.fueltech_id == "battery" for u in self.units)


@dataclass(frozen=True)
class Lookup:
    """Operational facilities of one network, sorted by code, and how their units roll up.

    ``unit_facility`` maps every unit of those facilities (whatever its status: a unit retired
    since the window still has data in it) to its facility. ``power_weight`` is the unit's
    factor in the facility's power total: 1.0, -1.0 for loads (``pumps``, and
    ``battery_charging`` in a facility with split battery units only), and absent for split units that a bidirectional
    ``battery`` unit of the same facility already counts (see :func:`unit_power_weight`).
    """

    network: str
    facilities: tuple[FacilityInfo, ...]
    unit_facility: Mapping[str, str]
    power_weight: Mapping[str, float]

    @property
    def facility_ids(self) -> tuple[str, ...]:
        return tuple(f.facility_id for f in self.facilities)

    @property
    def region_ids(self) -> tuple[str, ...]:
        return tuple(sorted({f.region_id for f in self.facilities}))


def unit_power_weight(unit: UnitInfo, facility: FacilityInfo) -> float | None:
    """The unit's factor in its facility's power total, None when it must not be counted.

    docs/contracts.md §4: a battery exposed both as a bidirectional ``battery`` unit (signed MW,
    negative = charging) and as split ``battery_charging``/``battery_discharging`` units
    (both non-negative magnitudes) is counted once, from the bidirectional unit, so the split
    units are skipped. A facility with split units only is netted as discharging minus
    charging: adding the charging magnitude as if it were generation would be wrong. For the
    same reason a ``pumps`` unit (pumped-hydro load, a non-negative magnitude) is subtracted,
    so a facility total is its net output, negative while it consumes, like the signed
    ``battery`` unit.
    """
    if unit.fueltech_id in SPLIT_BATTERY and facility.has_bidirectional_battery:
        return None
    return -1.0 if unit.fueltech_id in LOAD_FUELTECHS else 1.0


def parse_facility(item: Mapping[str, Any]) -> FacilityInfo:
    """One raw ``/facilities/`` item -> FacilityInfo; raise ValueError on a broken item."""
    try:
        location = item.get("location") or {}
        lat, lng = location.get("lat"), location.get("lng")
        units = tuple(
            UnitInfo(
                code=str(u["code"]),
                fueltech_id=str(u.get("fueltech_id") or "other"),
                status_id=str(u.get("status_id") or ""),
                capacity_mw=_optional_float(u.get("capacity_registered")),
            )
            for u in item.get("units") or ()
        )
        return FacilityInfo(
            facility_id=str(item["code"]),
            name=str(item.get("name") or item["code"]),
            region_id=str(item.get("network_region") or ""),
            lat=_optional_float(lat),
            lon=_optional_float(lng),
            units=units,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"facility item without {exc}: {str(item)[:120]}") from exc


def build_lookup(
    payload: Mapping[str, Any], network: str, only: Iterable[str] | None = None
) -> Lookup:
    """``/facilities/`` response -> Lookup of the operational facilities of ``network``.

    ``only``: restrict to these facility codes (they must be operational; the caller checks
    :func:`missing_codes`). Raise ValueError when the body is not a facilities list, or when a
    facility it keeps has a code that ``columns.is_valid_code`` refuses (a comma or a newline
    in a code would corrupt the cache).
    """
    items = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(items, list):
        raise ValueError("the facilities response has no 'data' list")
    wanted = set(only) if only is not None else None
    facilities: dict[str, FacilityInfo] = {}
    for item in items:
        if not isinstance(item, Mapping) or item.get("network_id") != network:
            continue
        fac = parse_facility(item)
        if not fac.operational or (wanted is not None and fac.facility_id not in wanted):
            continue
        if not is_valid_code(fac.facility_id):
            raise ValueError(
                f"facility code {fac.facility_id[:60]!r} cannot be a consolidate.csv column "
                "(codes are 1-40 letters, digits, '_', '.' or '-'); leave it out with "
                "--facilities"
            )
        if fac.facility_id in facilities:
            log.warning("facility %s is listed twice; keeping the first", fac.facility_id)
            continue
        facilities[fac.facility_id] = fac
    ordered = tuple(facilities[c] for c in sorted(facilities))
    unit_facility: dict[str, str] = {}
    power_weight: dict[str, float] = {}
    for fac in ordered:
        for unit in fac.units:
            if unit.code in unit_facility:
                log.warning(
                    "unit %s is listed under %s and %s; counting it under %s",
                    unit.code,
                    unit_facility[unit.code],
                    fac.facility_id,
                    unit_facility[unit.code],
                )
                continue
            unit_facility[unit.code] = fac.facility_id
            weight = unit_power_weight(unit, fac)
            if weight is not None:
                power_weight[unit.code] = weight
    return Lookup(network, ordered, unit_facility, power_weight)


def missing_codes(lookup: Lookup, codes: Iterable[str]) -> list[str]:
    """Codes of ``codes`` that are not operational facilities in the lookup, sorted."""
    have = set(lookup.facility_ids)
    return sorted(set(codes) - have)


def build_facility_rows(lookup: Lookup) -> tuple[list[tuple[str, ...]], list[str]]:
    """data/facilities.csv rows (docs/contracts.md §5, header ``lookups.FACILITIES_HEADER``).

    Returns ``(rows, skipped)``. Only operating units count. Fuel techs and groups are
    ordered by their registered capacity, largest first (ties: group order of
    ``lookups.FUEL_GROUPS``, then name). A battery is counted once: split units are left out
    when a bidirectional unit exists; with split units only, the charging unit adds no
    capacity (it is the same battery's load side). ``capacity_mw`` is empty when no counted
    unit has a registered capacity. Facilities without a location are returned in
    ``skipped`` and left out: ``lookups.load_facilities`` needs numeric lat/lon, and a
    facility without coordinates cannot be drawn on the map anyway. Their power and
    emissions stay in consolidate.csv.
    """
    rows: list[tuple[str, ...]] = []
    skipped: list[str] = []
    for fac in lookup.facilities:
        if fac.lat is None or fac.lon is None:
            skipped.append(fac.facility_id)
            continue
        tech_capacity: dict[str, float] = {}
        known = False
        for unit in fac.operating_units:
            if unit_power_weight(unit, fac) is None:
                continue
            cap = unit.capacity_mw
            if unit.fueltech_id == "battery_charging":
                cap = None
            known = known or cap is not None
            tech_capacity[unit.fueltech_id] = tech_capacity.get(unit.fueltech_id, 0.0) + (
                cap or 0.0
            )
        group_capacity: dict[str, float] = {}
        for tech, cap in tech_capacity.items():
            group = lookups.fuel_group(tech)
            group_capacity[group] = group_capacity.get(group, 0.0) + cap
        techs = sorted(tech_capacity, key=lambda t: (-tech_capacity[t], t))
        groups = sorted(group_capacity, key=lambda g: (-group_capacity[g], _group_rank(g), g))
        capacity = sum(tech_capacity.values())
        rows.append(
            (
                fac.facility_id,
                fac.name,
                fac.region_id,
                format_value(fac.lat, decimals=6),
                format_value(fac.lon, decimals=6),
                ";".join(groups),
                ";".join(techs),
                format_value(capacity) if known else "",
            )
        )
    return rows, skipped


def _group_rank(group: str) -> int:
    try:
        return lookups.FUEL_GROUPS.index(group)  # type: ignore[arg-type]
    except ValueError:
        return len(lookups.FUEL_GROUPS)


# --------------------------------------------------------------------------- windows


def chunk_window(
    start: datetime, end: datetime, max_span: timedelta = MAX_WINDOW
) -> list[tuple[datetime, datetime]]:
    """Split ``[start, end)`` (naive NEM) into consecutive windows of at most ``max_span``.

    The API's end is exclusive, so consecutive chunks share their boundary and overlap by
    zero intervals. Raise ValueError when ``start >= end``.
    """
    if start >= end:
        raise ValueError(f"start {start:%Y-%m-%dT%H:%M} is not before end {end:%Y-%m-%dT%H:%M}")
    out = []
    cursor = start
    while cursor < end:
        nxt = min(cursor + max_span, end)
        out.append((cursor, nxt))
        cursor = nxt
    return out


def chunk_codes(codes: Sequence[str], size: int = MAX_CODES_PER_REQUEST) -> list[list[str]]:
    """Consecutive batches of at most ``size`` codes, in the given order."""
    return [list(codes[i : i + size]) for i in range(0, len(codes), size)]


# --------------------------------------------------------------------------- series


@dataclass(frozen=True)
class Series:
    """One result of a v4 time-series response.

    ``metric``: power | emissions | price | demand. ``code``: unit code (facility data) or
    region (market). ``times``: int64 epoch seconds of the interval-ending timestamps.
    ``values``: float64, NaN where the API sent ``null``.
    """

    metric: str
    code: str
    times: np.ndarray
    values: np.ndarray


class _StampCache(dict[str, int]):
    """ISO timestamp string -> epoch seconds, parsing each distinct string once."""

    def __missing__(self, key: str) -> int:
        ts = datetime.fromisoformat(key.replace("Z", "+00:00"))
        if ts.tzinfo is None:
            # The current API always sends an offset; a naive stamp is network time.
            ts = ts.replace(tzinfo=NEM_TZ)
        value = int(ts.timestamp())
        self[key] = value
        return value


@dataclass
class SeriesParser:
    """Parses time-series responses; keeps the timestamp cache across responses."""

    cache: _StampCache = field(default_factory=_StampCache)

    def parse(
        self, payload: Mapping[str, Any], key: Literal["unit_code", "region"]
    ) -> list[Series]:
        """A ``/data/facilities`` (``key="unit_code"``) or ``/market`` (``key="region"``)
        response -> Series. Raise ValueError when the body is not a time-series envelope.

        The code comes from ``columns[key]`` (legacy market bodies: ``network_region``),
        falling back to the result name after the metric (``power_BW01``).
        """
        blocks = payload.get("data") if isinstance(payload, Mapping) else None
        if not isinstance(blocks, list):
            raise ValueError("the response has no 'data' list")
        out: list[Series] = []
        get = self.cache.__getitem__
        try:
            for block in blocks:
                metric = str(block["metric"])
                for result in block.get("results") or ():
                    columns = result.get("columns") or {}
                    code = columns.get(key) or columns.get("network_region")
                    if not code:
                        name = str(result.get("name") or "")
                        code = name[len(metric) + 1 :] if name.startswith(metric + "_") else ""
                    points = result.get("data") or []
                    if not points:
                        continue
                    stamps, values = zip(*points, strict=True)
                    times = np.fromiter(map(get, stamps), dtype=np.int64, count=len(stamps))
                    vals = np.array(values, dtype=np.float64)
                    out.append(Series(metric, str(code), times, vals))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed time series: {exc}") from exc
        return out


def parse_series(payload: Mapping[str, Any], key: Literal["unit_code", "region"]) -> list[Series]:
    """One-shot :meth:`SeriesParser.parse`."""
    return SeriesParser().parse(payload, key)


# --------------------------------------------------------------------------- wide table


@dataclass(frozen=True)
class WideTable:
    """The consolidate.csv table before formatting.

    ``times``: int64 epoch seconds, ascending. ``header``: column names (timestamp first).
    ``values``: float64 of shape (rows, len(header) - 1), NaN = no data, rounded to
    :data:`DECIMALS`. ``window``: the requested naive NEM ``[start, end)``.
    """

    times: np.ndarray
    header: list[str]
    values: np.ndarray
    window: tuple[datetime, datetime]
    facility_ids: tuple[str, ...]
    region_ids: tuple[str, ...]
    unknown_units: tuple[str, ...] = ()
    unknown_regions: tuple[str, ...] = ()

    @property
    def stamps(self) -> list[str]:
        """The timestamps as written: ``2025-10-01T00:05:00+10:00`` (NEM, interval-ending)."""
        return [format_nem(datetime.fromtimestamp(int(t), NEM_TZ)) for t in self.times]


def _epoch(naive_nem: datetime) -> int:
    return int(naive_nem.replace(tzinfo=NEM_TZ).timestamp())


def build_wide_table(
    lookup: Lookup,
    facility_series: Sequence[Series],
    market_series: Sequence[Series],
    window: tuple[datetime, datetime],
    *,
    rows: Literal["facilities", "any"] = "facilities",
) -> WideTable:
    """Roll units up to facilities, pivot to columns and left-join the market.

    Rows: every timestamp in ``[start, end)`` at which the facility data has a point (null
    or not) for any unit; the market is joined onto those and never adds rows. With
    ``rows="any"`` (a follower, whose market data runs ahead of its facility data) market
    points of the table's regions add rows too. Columns:
    ``build_header(facilities, regions)``: every facility of the lookup, even one without
    data (all empty), and the network's regions (NEM: NSW1, QLD1, SA1, TAS1, VIC1). Market
    series of any other code (``price_total`` of an ungrouped request) are left out and
    listed in ``unknown_regions``.

    Per facility and timestamp: power = sum of ``weight * value`` over its units with a
    value; emissions = sum over all its units with a value; empty (NaN) only when none of
    its units has a value (partial units: the sum of those present, never a 0 for missing).
    A unit that appears twice at one timestamp (overlapping responses) keeps the last value.
    Units the lookup does not know are left out and listed in ``unknown_units``.
    """
    lo, hi = _epoch(window[0]), _epoch(window[1])
    known = [s for s in facility_series if s.code in lookup.unit_facility]
    unknown = sorted({s.code for s in facility_series if s.code not in lookup.unit_facility})
    facility_ids = lookup.facility_ids
    regions = NEM_REGIONS if lookup.network == "NEM" else lookup.region_ids
    stamped = [s.times for s in known]
    if rows == "any":
        stamped += [
            s.times for s in market_series if s.code in regions and s.metric in API_MARKET_METRICS
        ]
    if stamped:
        all_times = np.unique(np.concatenate(stamped))
        times = all_times[(all_times >= lo) & (all_times < hi)]
    else:
        times = np.empty(0, dtype=np.int64)
    facility_values = _sum_units(lookup, times, _unit_rows(times, known))
    market_values, unknown_regions = _join_market(times, regions, market_series)
    values = np.hstack([facility_values, market_values])
    values = np.round(values, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    return WideTable(
        times=times,
        header=build_header(facility_ids, regions, interchange=True),
        values=values,
        window=window,
        facility_ids=facility_ids,
        region_ids=regions,
        unknown_units=tuple(unknown),
        unknown_regions=tuple(unknown_regions),
    )


def _unit_rows(times: np.ndarray, known: Sequence[Series]) -> dict[tuple[str, str], np.ndarray]:
    """(metric, unit) -> its values on ``times``; a unit seen twice keeps the last value."""
    rows: dict[tuple[str, str], np.ndarray] = {}
    for s in known:
        if s.metric not in FACILITY_METRICS:
            continue
        idx, vals = _align(times, s.times, s.values)
        row = rows.get((s.metric, s.code))
        if row is None:
            row = rows[(s.metric, s.code)] = np.full(len(times), np.nan, dtype=np.float64)
        row[idx] = vals
    return rows


def _sum_units(
    lookup: Lookup, times: np.ndarray, unit_rows: Mapping[tuple[str, str], np.ndarray]
) -> np.ndarray:
    """Facility power (weighted) and emissions columns; NaN where no unit has a value."""
    n_fac = len(lookup.facility_ids)
    fac_index = {f: i for i, f in enumerate(lookup.facility_ids)}
    sums = np.zeros((len(times), 2 * n_fac), dtype=np.float64)
    present = np.zeros((len(times), 2 * n_fac), dtype=bool)
    # Sum in unit-code order, whatever order the API listed the units in: float addition is
    # not associative, and a different order could flip a 4th decimal and change the bytes.
    for (metric, unit), row in sorted(unit_rows.items()):
        fac = fac_index.get(lookup.unit_facility[unit])
        if fac is None:
            continue
        if metric == "power":
            weight = lookup.power_weight.get(unit)
            if weight is None:
                continue
            col = fac
        else:
            weight, col = 1.0, n_fac + fac
        has = ~np.isnan(row)
        sums[has, col] += weight * row[has]
        present[:, col] |= has
    sums[~present] = np.nan
    return sums


def _join_market(
    times: np.ndarray, regions: Sequence[str], market_series: Sequence[Series]
) -> tuple[np.ndarray, list[str]]:
    """Price and demand columns of ``regions`` on ``times``, and the codes left out."""
    region_index = {r: i for i, r in enumerate(regions)}
    values = np.full((len(times), len(MARKET_METRICS) * len(regions)), np.nan, dtype=np.float64)
    unknown = sorted({s.code for s in market_series if s.code not in region_index})
    for s in market_series:
        metric = API_MARKET_METRICS.get(s.metric)
        if metric is None or s.code not in region_index:
            continue
        offset = MARKET_METRICS.index(metric) * len(regions)
        idx, vals = _align(times, s.times, s.values)
        values[idx, offset + region_index[s.code]] = vals
    return values, unknown


def _align(
    axis: np.ndarray, times: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``axis`` of the ``times`` found there, and their values."""
    if len(axis) == 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64)
    pos = np.searchsorted(axis, times)
    pos_clipped = np.minimum(pos, len(axis) - 1)
    hit = axis[pos_clipped] == times
    return pos_clipped[hit], values[hit]


# --------------------------------------------------------------------------- formatting


def format_value(value: float | None, decimals: int = DECIMALS) -> str:
    """A number as written in the CSVs: rounded to ``decimals``, shortest form, no float
    noise (``0.1 + 0.2`` -> ``0.3``), ``12.0`` -> ``12``, ``-0.0`` -> ``0``; None/NaN -> ``""``.
    """
    if value is None or value != value:
        return ""
    return NUMBER_FORMAT % (round(value, decimals) + 0.0)


def _optional_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out else None
