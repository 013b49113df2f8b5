"""AEMO's NEMweb reports as a source for the 5-minute stream (pure: no I/O, no clock).

**Where the files are.** ``Reports/Current/Dispatch_SCADA/`` and
``Reports/Current/DispatchIS_Reports/`` are HTML indexes (IIS style) of files
``PUBLIC_<REPORT>_<YYYYMMDDHHMM>_<16-digit sequence>.zip``: REPORT is DISPATCHSCADA or
DISPATCHIS, the stamp the interval's END in NEM time (UTC+10), one file per 5 minutes, usually
1-2 minutes after the interval ends. A later sequence for the same interval replaces an earlier
one. Files stay in Current for about 3 days, then a NEM day's zips move into one zip of zips in
``Reports/Archive/<dir>/PUBLIC_<REPORT>_<YYYYMMDD>.zip``. ``Reports/Current/CDEII/`` lists
``CO2EII_AVAILABLE_GENERATORS*.CSV``: each generating unit's emissions factor (t CO2-e/MWh).

**What a file gives.** DISPATCHSCADA: ``DISPATCH,UNIT_SCADA`` = MW per DUID (DUIDs are the
OE unit codes). DISPATCHIS: ``DISPATCH,PRICE`` (RRP), ``DISPATCH,REGIONSUM`` (TOTALDEMAND) and
``DISPATCH,INTERCONNECTORRES``, whose MWFLOW gives each region's imports and exports (AEMO's
own NETINTERCHANGE follows MWFLOW, the dispatch target, not the metered flow).

**Signs of loads, and the roll-up.** The series made here go through the same
:func:`nemlive.extract.rollup.build_wide_table` as OE's, with OE's unit weights:

* a bidirectional battery DUID (one unit registered both ways, possible since the IESS
  rule change of June 2024) reports a *signed* SCADAVALUE, negative while charging. It
  is OE's ``battery`` unit, weight +1, and it alone counts for its facility (OE's split
  ``battery_charging``/``battery_discharging`` units are then skipped, as with OE's data).
  OpenNEM's own code splits such a unit by that sign (``generated < 0`` -> the charging unit,
  as ``abs(generated)``; ``>= 0`` -> the discharging unit).
* a load DUID (an older battery's separate charging unit, a pumped-hydro pump) reports a
  non-negative consumption, as OE serves ``battery_charging`` and ``pumps``: weight -1 nets it
  off the facility's output, so a facility total is its net output, negative while it
  consumes.

Emissions: ``max(MW, 0) × factor ÷ 12`` t per 5 minutes (12 intervals an hour); a DUID without
a CDEII factor has no emissions series (an empty cell, never a made-up 0).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections import defaultdict
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from html import unescape
from typing import TypeVar
from urllib.parse import unquote

import numpy as np

from nemlive.common.lookups import fuel_group
from nemlive.common.nemtime import INTERVAL_S, NEM_TZ
from nemlive.extract import mms, rollup

SCADA = "DISPATCHSCADA"
DISPATCHIS = "DISPATCHIS"
REPORTS = (SCADA, DISPATCHIS)
# Report -> its folder under Reports/Current and Reports/Archive.
REPORT_DIRS = {SCADA: "Dispatch_SCADA", DISPATCHIS: "DispatchIS_Reports"}
CDEII_DIR = "/Reports/Current/CDEII/"
DEFAULT_BASE_URL = "https://nemweb.com.au"

_FILE_RE = re.compile(r"^PUBLIC_(DISPATCHSCADA|DISPATCHIS)_(\d{12})_(\d{16})\.zip$", re.IGNORECASE)
_HREF_RE = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_CDEII_RE = re.compile(r"^CO2EII_AVAILABLE_GENERATORS[\w.-]*\.CSV$", re.IGNORECASE)

# Fuel groups that emit nothing while they run: a unit of these needs no CDEII factor.
NON_EMITTING_GROUPS = frozenset({"wind", "solar", "hydro", "pumps", "battery"})

# The learned publish delay: interval end -> file first seen (seconds).
DEFAULT_DELAY_S = 75.0
MIN_DELAY_S = 10.0
MAX_DELAY_S = 300.0
DELAY_MARGIN_S = 10.0
DELAY_PERCENTILE = 90.0
MIN_OBSERVATIONS = 3
# A late file: the index is read again every RETRY_EVERY_S, until LATE_LIMIT_S past the time
# the file was expected (OE's own collector retries for about 110 s).
RETRY_EVERY_S = 20.0
_T = TypeVar("_T")
LATE_LIMIT_S = 110.0
# Nothing (a file name, a row) later than the expected interval plus this many is believed:
# a file dated ahead (a wrong clock, a broken or hostile index) must not move the window.
AHEAD_INTERVALS = 2
# The most intervals a gap search or fill plan spans (--keep is 30 days at most).
MAX_SPAN_S = 40 * 86_400


# --- file names and indexes ------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class ReportFile:
    """One 5-minute report file: its report, interval end (epoch s), sequence and name."""

    report: str
    interval_end: int
    sequence: int
    name: str


def _stamp_epoch(stamp: str) -> int | None:
    try:
        when = datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=NEM_TZ)
    except ValueError:
        return None
    return int(when.timestamp())


def parse_file_name(name: str) -> ReportFile | None:
    """``PUBLIC_DISPATCHSCADA_202510071205_0000000487654321.zip`` (any case, any folder
    before it) -> ReportFile; None for any other name or an impossible time."""
    base = name.rsplit("/", 1)[-1]
    match = _FILE_RE.match(base)
    if match is None:
        return None
    report, stamp, sequence = match.groups()
    epoch = _stamp_epoch(stamp)
    if epoch is None or epoch % INTERVAL_S:
        return None
    return ReportFile(report.upper(), epoch, int(sequence), base)


def parse_index(html: str) -> list[str]:
    """The file names an index page links to (the last part of each href), in page order,
    each once. Links to folders (``.../``) and anything without a name are left out; quoting
    and case of the markup do not matter. The caller bounds the page's size."""
    names: list[str] = []
    seen: set[str] = set()
    for match in _HREF_RE.finditer(html):
        href = unescape(next(g for g in match.groups() if g is not None)).strip()
        href = href.split("?", 1)[0].split("#", 1)[0]
        if not href or href.endswith("/"):
            continue
        name = unquote(href.rsplit("/", 1)[-1])
        if name and name not in seen and "\\" not in name:
            seen.add(name)
            names.append(name)
    return names


def report_files(names: Iterable[str], report: str) -> list[ReportFile]:
    """The files of ``report`` among ``names``, sorted by interval then sequence."""
    parsed = (parse_file_name(n) for n in names)
    return sorted(f for f in parsed if f is not None and f.report == report)


def newest_per_interval(files: Iterable[ReportFile]) -> dict[int, ReportFile]:
    """Interval end -> its file with the highest sequence (a later one replaces it)."""
    out: dict[int, ReportFile] = {}
    for f in files:
        held = out.get(f.interval_end)
        if held is None or f.sequence > held.sequence:
            out[f.interval_end] = f
    return out


def newest_cdeii(names: Iterable[str]) -> str | None:
    """The newest ``CO2EII_AVAILABLE_GENERATORS*.CSV`` listed (names sort by their stamp)."""
    found = [n for n in names if _CDEII_RE.match(n)]
    return max(found, key=str.upper) if found else None


def current_dir(report: str) -> str:
    return f"/Reports/Current/{REPORT_DIRS[report]}/"


def archive_dir(report: str) -> str:
    return f"/Reports/Archive/{REPORT_DIRS[report]}/"


def archive_name(report: str, nem_day: date) -> str:
    """``PUBLIC_DISPATCHSCADA_20251007.zip``: the Archive zip of a NEM day's files."""
    return f"PUBLIC_{report}_{nem_day:%Y%m%d}.zip"


def nem_day(interval_end: int) -> date:
    """The NEM day an interval lies in: the one of its start (00:00 ends the day before)."""
    start = datetime.fromtimestamp(interval_end - INTERVAL_S, NEM_TZ)
    return start.date()


def day_intervals(day: date) -> range:
    """The interval ends of a NEM day: 00:05 to 24:00 (epoch s)."""
    first = int(datetime.combine(day, datetime.min.time(), NEM_TZ).timestamp()) + INTERVAL_S
    return range(first, first + 288 * INTERVAL_S, INTERVAL_S)


# --- report contents -------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketInterval:
    """One interval of DISPATCHIS: region -> price ($/MWh), demand (MW), and
    (imports, exports) in MW from the interconnectors' MWFLOW."""

    price: Mapping[str, float] = field(default_factory=dict)
    demand: Mapping[str, float] = field(default_factory=dict)
    flows: Mapping[str, tuple[float, float]] = field(default_factory=dict)


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


def read_scada(tables: mms.Tables) -> dict[int, dict[str, float]]:
    """A DISPATCHSCADA report's tables -> interval end -> DUID -> MW (empty without one)."""
    out: dict[int, dict[str, float]] = defaultdict(dict)
    for row in mms.unit_scada(tables.get(("DISPATCH", "UNIT_SCADA"), [])):
        out[_epoch(row.interval_end)][row.duid] = row.power_mw
    return dict(out)


def read_dispatchis(tables: mms.Tables) -> dict[int, MarketInterval]:
    """A DISPATCHIS report's tables -> interval end -> MarketInterval.

    Interconnectors :data:`mms.INTERCONNECTORS` does not know are left out (a new one must
    not cost the prices and demand).
    """
    price: dict[int, dict[str, float]] = defaultdict(dict)
    demand: dict[int, dict[str, float]] = defaultdict(dict)
    for p in mms.region_prices(tables.get(("DISPATCH", "PRICE"), [])):
        price[_epoch(p.interval_end)][p.region_id] = p.price_aud_per_mwh
    for d in mms.region_demand(tables.get(("DISPATCH", "REGIONSUM"), [])):
        demand[_epoch(d.interval_end)][d.region_id] = d.total_demand_mw
    flows = mms.interconnector_flows(tables.get(("DISPATCH", "INTERCONNECTORRES"), []))
    known = [f for f in flows if f.interconnector_id in mms.INTERCONNECTORS]
    grouped = {
        _epoch(t): mms.imports_exports(fs, metered=False)
        for t, fs in mms.group_by_interval(known).items()
    }
    times = set(price) | set(demand) | set(grouped)
    return {
        t: MarketInterval(price.get(t, {}), demand.get(t, {}), grouped.get(t, {})) for t in times
    }


@dataclass(frozen=True)
class ZipCaps:
    """What one zip may unpack to (:func:`mms.read_zip`'s caps)."""

    total_bytes: int = mms.MAX_TOTAL_BYTES
    members: int = mms.MAX_MEMBERS


# A Current file: one CSV of a few MB. An Archive day: 288 zips of one CSV each, plus any
# replaced sequences, some hundreds of MB unpacked at most.
CURRENT_CAPS = ZipCaps(32 * 1024 * 1024, 4)
ARCHIVE_CAPS = ZipCaps(768 * 1024 * 1024, 1_000)


def _zip_tables(data: bytes, caps: ZipCaps) -> list[mms.Tables]:
    # Members sorted by name: a later sequence of the same interval (in an Archive zip)
    # comes after the earlier one and replaces its values.
    members = mms.read_zip(data, max_total_bytes=caps.total_bytes, max_members=caps.members)
    return [mms.parse_mms(text) for _, text in sorted(members.items())]


def read_scada_zip(data: bytes, caps: ZipCaps = ZipCaps()) -> dict[int, dict[str, float]]:
    """A DISPATCHSCADA zip (or an Archive zip of them) -> interval -> DUID -> MW. Raise
    mms.MmsError for a broken file or one over ``caps``."""
    out: dict[int, dict[str, float]] = {}
    for tables in _zip_tables(data, caps):
        out.update(read_scada(tables))
    return out


def read_dispatchis_zip(data: bytes, caps: ZipCaps = ZipCaps()) -> dict[int, MarketInterval]:
    """A DISPATCHIS zip (or an Archive zip of them) -> interval -> MarketInterval."""
    out: dict[int, MarketInterval] = {}
    for tables in _zip_tables(data, caps):
        out.update(read_dispatchis(tables))
    return out


def member_files(data: bytes) -> list[str]:
    """The names of the report zips inside an Archive zip (its directory only, nothing
    unpacked)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise mms.MmsError(f"not a zip file ({exc})") from exc
    return sorted({n for n in names if n.lower().endswith(".zip")})


def keep_intervals(
    intervals: Mapping[int, _T], allowed: Container[int]
) -> tuple[dict[int, _T], list[int]]:
    """``intervals`` split into those in ``allowed`` (a file's own interval, or its NEM
    day's) and the interval ends left out, sorted: rows off the 5-minute grid, of another
    interval than the file's name says, or too far ahead must not reach the cache."""
    kept = {t: v for t, v in intervals.items() if t in allowed}
    return kept, sorted(t for t in intervals if t not in kept)


def read_cdeii(text: str) -> dict[str, float]:
    """The CDEII CSV -> DUID -> t CO2-e/MWh (the mean of its gensets' factors)."""
    rows = mms.parse_mms(text).get(("CO2EII", "PUBLISHING"), [])
    return mms.duid_emission_factors(mms.emission_factors(rows))


# --- series for the roll-up ------------------------------------------------------------------


def _by_code(scada: Mapping[int, Mapping[str, float]]) -> dict[str, tuple[list[int], list[float]]]:
    out: dict[str, tuple[list[int], list[float]]] = {}
    for t in sorted(scada):
        for duid, mw in scada[t].items():
            times, values = out.setdefault(duid, ([], []))
            times.append(t)
            values.append(mw)
    return out


def _series(metric: str, code: str, times: Sequence[int], values: Sequence[float]) -> rollup.Series:
    return rollup.Series(
        metric, code, np.array(times, dtype=np.int64), np.array(values, dtype=np.float64)
    )


def unit_series(scada: Mapping[int, Mapping[str, float]]) -> list[rollup.Series]:
    """One ``power`` Series per DUID (MW as AEMO reports it; the roll-up weighs loads)."""
    return [_series("power", duid, t, v) for duid, (t, v) in sorted(_by_code(scada).items())]


def emission_series(
    scada: Mapping[int, Mapping[str, float]], factors: Mapping[str, float]
) -> list[rollup.Series]:
    """One ``emissions`` Series per DUID with a factor: ``max(MW, 0) × factor ÷ 12`` t per
    5 minutes. A DUID without a factor has none (its facility's cell stays empty unless
    another of its units has one)."""
    out = []
    for duid, (times, values) in sorted(_by_code(scada).items()):
        factor = factors.get(duid)
        if factor is None:
            continue
        tonnes = [max(v, 0.0) * factor / 12.0 for v in values]
        out.append(_series("emissions", duid, times, tonnes))
    return out


def generator_factors(lookup: rollup.Lookup, factors: Mapping[str, float]) -> dict[str, float]:
    """The factors of units that are not loads: a pump's or a charging unit's consumption
    (weight -1 in the roll-up) emits nothing here, whatever factor a file lists for it."""
    return {d: f for d, f in factors.items() if lookup.power_weight.get(d) != -1.0}


def market_series(market: Mapping[int, MarketInterval]) -> list[rollup.Series]:
    """Series per region of the API's metrics: price, demand, flow_imports, flow_exports."""
    points: dict[tuple[str, str], tuple[list[int], list[float]]] = {}

    def add(metric: str, region: str, t: int, value: float) -> None:
        times, values = points.setdefault((metric, region), ([], []))
        times.append(t)
        values.append(value)

    for t in sorted(market):
        m = market[t]
        for region, value in m.price.items():
            add("price", region, t, value)
        for region, value in m.demand.items():
            add("demand", region, t, value)
        for region, (imports, exports) in m.flows.items():
            add("flow_imports", region, t, imports)
            add("flow_exports", region, t, exports)
    return [_series(metric, code, t, v) for (metric, code), (t, v) in sorted(points.items())]


# --- emission coverage -----------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Facilities generating (> 0 MW in the newest interval) with an emitting unit that
    has no CDEII factor, and their share of all generation then."""

    facilities: tuple[str, ...]
    uncovered_mw: float
    generation_mw: float

    @property
    def share(self) -> float:
        return self.uncovered_mw / self.generation_mw if self.generation_mw > 0 else 0.0

    def describe(self) -> str:
        codes = ", ".join(self.facilities[:20]) + (" ..." if len(self.facilities) > 20 else "")
        return (
            f"{len(self.facilities)} facilities with generation have no CDEII factor "
            f"({100 * self.share:.1f} % of generation MW)" + (f": {codes}" if codes else "")
        )


def emission_coverage(
    lookup: rollup.Lookup, factors: Mapping[str, float], scada: Mapping[int, Mapping[str, float]]
) -> Coverage:
    """Coverage of the CDEII factors over the newest interval of ``scada``. A unit needs a
    factor unless its fuel tech emits nothing (wind, solar, hydro, battery, pumps)."""
    if not scada:
        return Coverage((), 0.0, 0.0)
    newest = scada[max(scada)]
    fueltech = {u.code: u.fueltech_id for f in lookup.facilities for u in f.units}
    total = uncovered = 0.0
    missing: set[str] = set()
    for duid, mw in newest.items():
        if mw <= 0 or lookup.power_weight.get(duid) != 1.0:
            continue
        total += mw
        emits = fuel_group(fueltech.get(duid, "other")) not in NON_EMITTING_GROUPS
        if duid not in factors and emits:
            uncovered += mw
            missing.add(lookup.unit_facility[duid])
    return Coverage(tuple(sorted(missing)), uncovered, total)


# --- gaps and the fill -----------------------------------------------------------------------


def _check_span(floor: int, newest: int) -> None:
    if newest - floor > MAX_SPAN_S:
        raise ValueError(
            f"{(newest - floor) / 86_400:.0f} days of intervals: over the {MAX_SPAN_S // 86_400}"
            " days a follower ever looks at"
        )


def missing_intervals(held: Iterable[int], floor: int, newest: int) -> list[int]:
    """The interval ends from ``floor`` to ``newest`` (both included) not in ``held``.
    Raise ValueError for a span over 40 days (the follower keeps 30 at most)."""
    _check_span(floor, newest)
    have = set(held)
    first = -(-floor // INTERVAL_S) * INTERVAL_S
    return [t for t in range(first, newest + 1, INTERVAL_S) if t not in have]


@dataclass(frozen=True)
class FillPlan:
    """What to fetch: intervals from Current, NEM days from Archive."""

    current: tuple[int, ...]
    archive_days: tuple[date, ...]


def plan_fill(
    missing: Iterable[int], current_oldest: int | None, fetched_days: Collection[date] = ()
) -> FillPlan:
    """Missing intervals at or after ``current_oldest`` (the oldest Current still lists) come
    from Current; older ones from their day's Archive zip, unless that day was fetched
    already (``fetched_days``: what an Archive zip does not hold, asking again will not
    bring). ``current_oldest`` None (Current lists nothing): no Archive, everything waits.
    Raise ValueError for missing intervals over 40 days apart."""
    current: list[int] = []
    days: set[date] = set()
    ordered = sorted(set(missing))
    if ordered:
        _check_span(ordered[0], ordered[-1])
    for t in ordered:
        if current_oldest is None or t >= current_oldest:
            current.append(t)
        elif nem_day(t) not in fetched_days:
            days.add(nem_day(t))
    return FillPlan(tuple(current), tuple(sorted(days)))


# --- timing ----------------------------------------------------------------------------------


def learn_delay(
    observed_delays: Sequence[float],
    default: float = DEFAULT_DELAY_S,
    *,
    percentile: float = DELAY_PERCENTILE,
    margin: float = DELAY_MARGIN_S,
) -> float:
    """Seconds after an interval's end to look for its file: the ``percentile`` of the
    recent delays (interval end -> file first seen) plus ``margin``, within
    [10 s, 300 s]; ``default`` until there are 3 observations. Nonsense values (negative,
    NaN) are left out."""
    usable = [d for d in observed_delays if math.isfinite(d) and d >= 0]
    if len(usable) < MIN_OBSERVATIONS:
        return default
    value = float(np.percentile(usable, percentile)) + margin
    return min(max(value, MIN_DELAY_S), MAX_DELAY_S)


def expected_interval(now: float, delay: float) -> int:
    """The newest interval whose file should be out at ``now`` (epoch s)."""
    return int(now - delay) // INTERVAL_S * INTERVAL_S


def latest_believed(now: float, delay: float) -> int:
    """The latest interval end a file or row may have at ``now``: the expected interval plus
    :data:`AHEAD_INTERVALS`; anything later is ignored."""
    return expected_interval(now, delay) + AHEAD_INTERVALS * INTERVAL_S


def next_poll_at(
    now: float,
    delay: float,
    expected_missing: bool,
    *,
    retry_every: float = RETRY_EVERY_S,
    late_limit: float = LATE_LIMIT_S,
) -> float:
    """When to poll next (epoch s): the next interval's end + ``delay``; sooner, every
    ``retry_every``, while the expected interval's file is missing and less than
    ``late_limit`` late. After that the interval stays a gap that later polls fill."""
    expected = expected_interval(now, delay)
    due_next = expected + INTERVAL_S + delay
    if expected_missing and now + retry_every <= expected + delay + late_limit:
        return min(now + max(retry_every, 10.0), due_next)
    return due_next


def day_of(epoch_s: float) -> date:
    """The NEM calendar date at ``epoch_s``."""
    return datetime.fromtimestamp(epoch_s, NEM_TZ).date()
