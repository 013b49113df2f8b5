"""The follower's cache in memory: what each poll asks for, how its answer joins the cache,
the trim to the kept days, and the watermarks that say what was fetched. Pure: no clock, no
HTTP, no files (``nemlive.extract.cachekeeper`` is the shell).

**Watermarks.** ``market_to`` is the newest market interval fetched, ``facilities_to[code]``
the newest interval through which a facility's data was asked for and answered (epoch
seconds, interval-ending). The next request starts one interval later, so nothing is asked
twice and nothing is skipped: a batch whose answer stops early (the API had not settled more)
just starts there next time. The newest request of a batch leaves ``date_end`` out, so the
API itself ends it at its last settled interval (docs/oe-api.md §7.6) and the still-settling
one is never asked for; only a batch more than ``OPEN_SPAN`` behind is fetched in explicit
chunks of ``rollup.MAX_WINDOW`` first.

**Merging.** Rows are the union of both tables' timestamps and columns the union of their
facilities and regions (a facility the API lists later gets its columns). A cell already
held keeps its value: a sweep only fills cells that were empty, so the cache always matches
what the publisher sent (it sends an ``(id, timestamp)`` once).

**Trimming.** The cache keeps the ``keep`` days that end at the newest market interval:
``keep × 288`` intervals at most.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from nemlive.common.columns import FACILITY_METRICS, TIMESTAMP, build_header, parse_column
from nemlive.common.errors import InputError
from nemlive.common.events import REGIONS
from nemlive.common.nemtime import INTERVAL_S, NEM_TZ, format_nem
from nemlive.extract.rollup import MAX_CODES_PER_REQUEST, MAX_WINDOW, Series, WideTable

# An open-ended request from further back than this could pass the API's range limit (8 whole
# days at 5 minutes on COMMUNITY): such a batch is caught up in explicit 7-day chunks first.
OPEN_SPAN = timedelta(days=8)


@dataclass(frozen=True)
class Watermarks:
    """Newest intervals fetched (epoch s): the market's and each facility's (module doc)."""

    market_to: int | None = None
    facilities_to: Mapping[str, int] = field(default_factory=dict)

    def batch_to(self, codes: Iterable[str]) -> int | None:
        """The batch's watermark: its least advanced facility's (None = one never fetched)."""
        marks = [self.facilities_to.get(c) for c in codes]
        if not marks or any(m is None for m in marks):
            return None
        return min(m for m in marks if m is not None)

    def facilities_through(self, codes: Iterable[str]) -> int | None:
        """The newest interval every facility of ``codes`` has been fetched through."""
        return self.batch_to(codes)


@dataclass(frozen=True)
class FetchWindow:
    """One request: ``codes`` (empty = the market), naive NEM ``start`` (inclusive) and
    ``end`` (exclusive; None = the API's default, its last settled interval)."""

    codes: tuple[str, ...]
    start: datetime
    end: datetime | None


def to_naive(epoch_s: int) -> datetime:
    """Epoch seconds -> naive NEM time, as the API's ``date_start``/``date_end`` take it."""
    return datetime.fromtimestamp(epoch_s, NEM_TZ).replace(tzinfo=None)


def to_epoch(naive_nem: datetime) -> int:
    return int(naive_nem.replace(tzinfo=NEM_TZ).timestamp())


def floor_interval(epoch_s: float) -> int:
    """The 5-minute mark at or before ``epoch_s``."""
    return int(epoch_s) // INTERVAL_S * INTERVAL_S


def window_floor(newest: int, keep_s: int) -> int:
    """The oldest interval kept when ``newest`` is the newest one: ``keep_s`` worth of
    intervals end at ``newest``."""
    return newest - keep_s + INTERVAL_S


def request_window(
    codes: Sequence[str], fetched_to: int | None, floor: int, api_now: int
) -> FetchWindow:
    """The next request for ``codes`` (or the market, when empty): from the interval after
    ``fetched_to`` (or ``floor``, whichever is later), open-ended unless that is more than
    ``OPEN_SPAN`` before ``api_now`` (epoch s)."""
    start = floor if fetched_to is None else max(fetched_to + INTERVAL_S, floor)
    if api_now - start < OPEN_SPAN.total_seconds():
        return FetchWindow(tuple(codes), to_naive(start), None)
    end = start + int(MAX_WINDOW.total_seconds())
    return FetchWindow(tuple(codes), to_naive(start), to_naive(end))


def plan_sweep(
    facility_ids: Sequence[str],
    marks: Watermarks,
    floor: int,
    api_now: int,
    batch_size: int = MAX_CODES_PER_REQUEST,
) -> list[FetchWindow]:
    """One request per batch of ``batch_size`` facilities, each from its own watermark."""
    batches = [facility_ids[i : i + batch_size] for i in range(0, len(facility_ids), batch_size)]
    return [request_window(b, marks.batch_to(b), floor, api_now) for b in batches]


def count_batches(facilities: int, batch_size: int = MAX_CODES_PER_REQUEST) -> int:
    return -(-facilities // batch_size)


def newest_time(series: Iterable[Series]) -> int | None:
    """The newest timestamp of any point in ``series`` (epoch s), None without points."""
    newest = [int(s.times.max()) for s in series if len(s.times)]
    return max(newest) if newest else None


def fetched_through(window: FetchWindow, newest: int | None) -> int | None:
    """How far an answered request reaches: an explicit window to its end, an open one to
    the newest point it brought (None: nothing to count)."""
    if window.end is not None:
        return to_epoch(window.end) - INTERVAL_S
    return newest


def advance_facilities(marks: Watermarks, window: FetchWindow, reached: int | None) -> Watermarks:
    """``marks`` with every facility of ``window`` moved to ``reached`` (never back)."""
    if reached is None:
        return marks
    moved = dict(marks.facilities_to)
    for code in window.codes:
        old = moved.get(code)
        moved[code] = reached if old is None else max(old, reached)
    return replace(marks, facilities_to=moved)


def advance_market(marks: Watermarks, reached: int | None) -> Watermarks:
    if reached is None or (marks.market_to is not None and reached <= marks.market_to):
        return marks
    return replace(marks, market_to=reached)


def trim_marks(marks: Watermarks, codes: Iterable[str]) -> Watermarks:
    """Only the watermarks of ``codes`` (facilities no longer listed are forgotten)."""
    keep = set(codes)
    return replace(marks, facilities_to={c: t for c, t in marks.facilities_to.items() if c in keep})


# --- tables --------------------------------------------------------------------------------


def _region_order(regions: Iterable[str]) -> tuple[str, ...]:
    present = set(regions)
    ordered = [r for r in REGIONS if r in present]
    return tuple(ordered + sorted(present - set(REGIONS)))


def merge_tables(old: WideTable | None, new: WideTable) -> WideTable:
    """``old`` with ``new``'s rows and columns added and its values in ``old``'s empty cells
    (a value held is kept). Either may have no rows."""
    if old is None:
        return new
    facilities = tuple(sorted(set(old.facility_ids) | set(new.facility_ids)))
    regions = _region_order([*old.region_ids, *new.region_ids])
    header = build_header(facilities, regions, interchange=True)
    times = np.union1d(old.times, new.times).astype(np.int64)
    values = np.full((len(times), len(header) - 1), np.nan)
    column = {name: i for i, name in enumerate(header[1:])}
    for part in (old, new):
        if not len(part.times):
            continue
        rows = np.searchsorted(times, part.times)
        cols = np.array([column[name] for name in part.header[1:]], dtype=np.intp)
        block = np.ix_(rows, cols)
        held = values[block]
        values[block] = np.where(np.isnan(held), part.values, held)
    start = min(old.window[0], new.window[0])
    end = max(old.window[1], new.window[1])
    return WideTable(times, header, values, (start, end), facilities, regions)


def trim_table(table: WideTable, floor: int) -> WideTable:
    """The rows at or after ``floor`` (epoch s); the window starts there."""
    keep = table.times >= floor
    if bool(keep.all()):
        return table
    start = max(table.window[0], to_naive(floor))
    return replace(
        table, times=table.times[keep], values=table.values[keep], window=(start, table.window[1])
    )


def fit_window(table: WideTable) -> WideTable:
    """The table with its window set to its rows: first row to one interval past the last."""
    if not len(table.times):
        return table
    first, last = int(table.times[0]), int(table.times[-1])
    return replace(table, window=(to_naive(first), to_naive(last + INTERVAL_S)))


def derive_marks(table: WideTable) -> Watermarks:
    """Watermarks read off the cells: the newest row with a price, and per facility the
    newest row with a value (a facility without one has none). Used when the meta file does
    not describe this cache: it may ask again for trailing intervals a facility had no data
    in, never skip one."""
    header = table.header[1:]
    market_to = None
    facilities: dict[str, int] = {}
    columns: dict[str, list[int]] = {}
    market_cols: list[int] = []
    for i, name in enumerate(header):
        metric, code = parse_column(name)
        if metric in FACILITY_METRICS:
            columns.setdefault(code, []).append(i)
        elif metric == "price":
            market_cols.append(i)
    filled = ~np.isnan(table.values)
    if market_cols:
        rows = np.flatnonzero(filled[:, market_cols].any(axis=1))
        market_to = int(table.times[rows[-1]]) if len(rows) else None
    for code, cols in columns.items():
        rows = np.flatnonzero(filled[:, cols].any(axis=1))
        if len(rows):
            facilities[code] = int(table.times[rows[-1]])
    return Watermarks(market_to, facilities)


def facility_newest(table: WideTable) -> int | None:
    """The newest row with any facility value (epoch s)."""
    n_fac = 2 * len(table.facility_ids)
    rows = np.flatnonzero(~np.isnan(table.values[:, :n_fac]).all(axis=1))
    return int(table.times[rows[-1]]) if len(rows) else None


# --- the cache file ------------------------------------------------------------------------


def parse_cache(data: bytes, name: str) -> WideTable:
    """A consolidate.csv written before (by this follower or a plain run) -> WideTable.

    Raise InputError naming ``name`` when it is not one: the follower then stops rather
    than overwrite a file it cannot continue.
    """
    fix = "move it away or pass another --out"
    text = data.decode("utf-8", errors="replace")
    header = next(csv.reader(io.StringIO(text)), [])
    if not header or header[0] != TIMESTAMP:
        raise InputError(f"{name} is not a consolidate.csv (no timestamp column): {fix}")
    facilities: set[str] = set()
    regions: set[str] = set()
    try:
        for column in header[1:]:
            metric, code = parse_column(column)
            (facilities if metric in FACILITY_METRICS else regions).add(code)
        frame = pd.read_csv(
            io.BytesIO(data),
            dtype={c: "float64" for c in header[1:]} | {TIMESTAMP: str},
            keep_default_na=False,
            na_values=[""],
        )
        times = np.array(
            [int(datetime.fromisoformat(t).timestamp()) for t in frame[TIMESTAMP]], dtype=np.int64
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"{name} cannot be read as a consolidate.csv ({exc}): {fix}") from None
    if len(times) > 1 and not bool(np.all(np.diff(times) > 0)):
        raise InputError(f"{name}: timestamps are not strictly increasing: {fix}")
    values = frame.iloc[:, 1:].to_numpy(dtype=np.float64, copy=True)
    table = WideTable(
        times=times,
        header=list(header),
        values=values,
        window=(datetime(2000, 1, 1), datetime(2000, 1, 1)),
        facility_ids=tuple(sorted(facilities)),
        region_ids=_region_order(regions),
    )
    return fit_window(table)


def build_follow_meta(marks: Watermarks, keep_days: float) -> dict[str, Any]:
    """The ``follow`` section of consolidate.meta.json: the kept days and the watermarks, as
    NEM timestamps (docs/contracts.md §2)."""
    stamp = _stamp
    return {
        "keep_days": keep_days,
        "market_to": stamp(marks.market_to) if marks.market_to is not None else None,
        "facilities_to": {c: stamp(t) for c, t in sorted(marks.facilities_to.items())},
    }


def read_follow_meta(meta: Mapping[str, Any], csv_sha256: str) -> Watermarks | None:
    """The watermarks of a meta file that describes this CSV (same sha256), else None."""
    follow = meta.get("follow") if isinstance(meta, Mapping) else None
    if meta.get("csv_sha256") != csv_sha256 or not isinstance(follow, Mapping):
        return None
    try:
        market = follow.get("market_to")
        market_to = _epoch_of(market) if market is not None else None
        facilities = {str(c): _epoch_of(t) for c, t in dict(follow["facilities_to"]).items()}
    except (KeyError, TypeError, ValueError):
        return None
    return Watermarks(market_to, facilities)


def _stamp(epoch_s: int) -> str:
    return format_nem(datetime.fromtimestamp(epoch_s, NEM_TZ))


def _epoch_of(text: object) -> int:
    if not isinstance(text, str):
        raise TypeError("not a timestamp")
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError("naive timestamp")
    return int(when.timestamp())
