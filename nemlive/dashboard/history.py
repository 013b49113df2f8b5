"""Looking back: the ranges the dashboard offers from the store, and views at a past interval.

The page opens the store (``storeread``); ``read_range`` and ``read_backfill`` take the open
store and read what a view needs through its interface; the rest is pure. Times are integer
UTC epoch seconds of interval ends; a range holds ``t0 < ts <= t1``.

* "Live (last 24 h)": the live window, as without a store.
* Each NEM-time day the store holds (newest first), at 5-minute resolution: at most
  ``MAX_DAY_CHOICES`` days, the newest, whatever the store holds.
* The last 7 days (when the store holds more), and the whole span, back at most
  ``MAX_SPAN_DAYS`` (a year).
* A range is read at the finest resolution that gives at most ``MAX_POINTS`` points per series,
  about what a chart draws across its width, so the page never reads more than it draws:
  5-minute values up to 2.7 days, the store's 30-minute averages up to 16 days, hourly up to
  33, daily beyond (a week: 336 points per series; a year: 366). The store keeps the averages
  as rollups (``bench/store_year.py`` measures a year of 420 facilities).

Every read is bounded by what the page can draw: the lookup's facilities and the five regions
(never every id the store holds), and intervals no later than the time guard allows
(``nemlive.common.timeguard``), so a forged future row in the store moves no window or list.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta

from nemlive.common.events import REGIONS
from nemlive.common.nemtime import INTERVAL_S, NEM_TZ, epoch_to_nem_naive, format_nem_epoch
from nemlive.common.timeguard import latest_allowed
from nemlive.dashboard.charts import value_at
from nemlive.dashboard.livestate import Point
from nemlive.store import Store
from nemlive.store.rows import RESOLUTIONS, AlertRecord, check_resolution

DAY_S = 24 * 3600
MAX_POINTS = 800  # per series and range: about a chart's width in pixels
MAX_SPAN_DAYS = 366  # daily: 366 points per series
WEEK_DAYS = 7
MAX_DAY_CHOICES = 366
MAX_ALERT_ROWS = 500  # the newest alert state changes a range shows; the rest counted
STEP_WORDS = {
    300: "5-minute values",
    1800: "30-minute averages",
    3600: "hourly averages",
    86400: "daily averages",
}


@dataclass(frozen=True)
class RangeChoice:
    """One entry of the range control. ``live``: the live window (no store read)."""

    label: str
    t0: int = 0
    t1: int = 0
    step_s: int = INTERVAL_S
    live: bool = False


LIVE = RangeChoice("Live (last 24 h)", live=True)


@dataclass(frozen=True)
class StoredHistory:
    """Histories read from the store, id -> [(ts, a, b), ...] oldest first: facilities (MW,
    t CO2-e), regions' market (price $/MWh, demand MW) and interchange (MW in, MW out).
    ``end``: the newest interval end they hold (None when they hold nothing)."""

    facility: dict[str, list[Point]]
    region: dict[str, list[Point]]
    interchange: dict[str, list[Point]]
    end: int | None = None


def read_range(
    store: Store, t0: int, t1: int, step_s: int, facility_ids: Collection[str], now: float
) -> StoredHistory:
    """The three histories of ``t0 < ts <= t1`` at ``step_s`` seconds a point (300, or the
    store's 30-minute or hourly averages), of ``facility_ids`` and the five regions only, and
    no later than the time guard allows at wall time ``now`` (today's range ends at midnight,
    after the present). StoreError when the store cannot be read."""
    step = check_resolution(step_s)
    t1 = max(t0, min(t1, latest_allowed(now)))
    facility = store.read_facilities(t0, t1, step, facility_ids)
    region = store.read_markets(t0, t1, step, REGIONS)
    interchange = store.read_interchange(t0, t1, step, REGIONS)
    return StoredHistory(facility, region, interchange, _newest(facility, region, interchange))


@dataclass(frozen=True)
class StoredAlerts:
    """The alert state changes of a range, newest first, at most ``MAX_ALERT_ROWS``;
    ``left_out``: how many older ones the range holds beyond them."""

    alerts: tuple[AlertRecord, ...]
    left_out: int = 0


def read_alerts(
    store: Store, t0: int, t1: int, now: float, limit: int = MAX_ALERT_ROWS
) -> StoredAlerts:
    """The alerts of ``t0 < at <= t1``, none later than the time guard allows at wall time
    ``now`` (as :func:`read_range`): the newest ``limit``, newest first, and the count of the
    older rest. StoreError when the store cannot be read."""
    t1 = max(t0, min(t1, latest_allowed(now)))
    rows = store.read_alerts(t0, t1)  # oldest first
    kept = rows[len(rows) - limit :] if limit > 0 else []
    return StoredAlerts(tuple(reversed(kept)), len(rows) - len(kept))


def _newest(*tables: Mapping[str, list[Point]]) -> int | None:
    return max((pts[-1][0] for table in tables for pts in table.values() if pts), default=None)


def read_backfill(
    store: Store, span_s: int, facility_ids: Collection[str], now: float
) -> StoredHistory | None:
    """The store's newest ``span_s`` seconds at 5 minutes, of ``facility_ids`` and the regions,
    up to the last row every region finished (``complete_through``): the rest of a row the
    recorder was still writing comes live, not twice. "Newest" is the newest reading the time
    guard allows at wall time ``now``. None when the store holds none. StoreError when it
    cannot be read."""
    latest = store.latest_ts(latest_allowed(now))
    if latest is None:
        return None
    t0 = latest - span_s
    markets = store.read_markets(t0, latest, 300, REGIONS)
    end = complete_through(markets) or latest
    return StoredHistory(
        store.read_facilities(t0, end, 300, facility_ids),
        {k: kept for k, v in markets.items() if (kept := [p for p in v if p[0] <= end])},
        store.read_interchange(t0, end, 300, REGIONS),
        end,
    )


def choose_step(t0: int, t1: int) -> int:
    """The resolution of a range (seconds a point): the finest of the store's resolutions
    that gives at most ``MAX_POINTS`` points per series, else the coarsest."""
    for step in RESOLUTIONS:
        if (t1 - t0) / step <= MAX_POINTS:
            return step
    return RESOLUTIONS[-1]


def build_range_choices(first: int | None, last: int | None) -> list[RangeChoice]:
    """Live, the whole span (its newest ``MAX_SPAN_DAYS`` at most), then each NEM day from
    ``last`` back to ``first``, the newest ``MAX_DAY_CHOICES`` at most (epoch s of the first
    and last interval ends the store holds, as ``Store.span(at_most=...)`` gives them; None
    when it is empty)."""
    if first is None or last is None or last < first:
        return [LIVE]
    t0 = max(first - INTERVAL_S, last - MAX_SPAN_DAYS * DAY_S)  # t0 < ts: first is in it
    days = max(1, round((last - t0) / DAY_S))
    step = choose_step(t0, last)
    whole = "Whole span" if t0 < first else f"Last {MAX_SPAN_DAYS} days"
    choices = [LIVE]
    week = last - WEEK_DAYS * DAY_S
    if week > t0:
        weekly = choose_step(week, last)
        choices.append(
            RangeChoice(f"Last {WEEK_DAYS} days ({STEP_WORDS[weekly]})", week, last, weekly)
        )
    choices.append(
        RangeChoice(
            f"{whole}: {days} day{'s' if days != 1 else ''} ({STEP_WORDS[step]})", t0, last, step
        )
    )
    day = _nem_midnight_at_or_before(last - 1)
    # A day holds the intervals ending in (midnight, next midnight].
    days_from = len(choices)
    while day + DAY_S > first and len(choices) < MAX_DAY_CHOICES + days_from:
        label = (epoch_to_nem_naive(day) or day).strftime("%a %Y-%m-%d")  # type: ignore[union-attr]
        choices.append(RangeChoice(label, day, day + DAY_S))
        day -= DAY_S
    return choices


def _nem_midnight_at_or_before(epoch_s: int) -> int:
    offset = int(NEM_TZ.utcoffset(None).total_seconds())  # type: ignore[union-attr]
    return (epoch_s + offset) // DAY_S * DAY_S - offset


def stamps_of(
    facility_history: Mapping[str, list[Point]], region_history: Mapping[str, list[Point]]
) -> list[int]:
    """Every interval end in the histories, oldest first (the slider's stops)."""
    return sorted(
        {
            p[0]
            for table in (facility_history, region_history)
            for pts in table.values()
            for p in pts
        }
    )


def complete_through(region_history: Mapping[str, list[Point]]) -> int | None:
    """The newest interval for which every region in the history has a market value: the
    publisher sends a row's market events last, so a row the recorder was still writing
    (its facilities in part) is after it. None when no interval is complete."""
    counts: dict[int, int] = {}
    for points in region_history.values():
        for p in points:
            counts[p[0]] = counts.get(p[0], 0) + 1
    done = [ts for ts, n in counts.items() if n == len(region_history)]
    return max(done) if done else None


def values_at(histories: Mapping[str, list[Point]], ts: int) -> dict[str, Point]:
    """id -> its point at exactly ``ts`` (the map and figures of a past interval)."""
    out = {}
    for ident, points in histories.items():
        point = value_at(points, ts)
        if point is not None:
            out[ident] = point
    return out


def describe_view(choice: RangeChoice, at_ts: int) -> str:
    """The caption over a past view: what is shown, at which interval, at which resolution."""
    step = timedelta(seconds=choice.step_s)
    what = (
        "interval"
        if choice.step_s == INTERVAL_S
        else f"{int(step.total_seconds() // 60)}-minute bucket"
    )
    return (
        f"History: **{choice.label}**. Figures and map at the {what} ending "
        f"**{format_nem_epoch(at_ts)} NEM** ({STEP_WORDS[choice.step_s]} from the store)."
    )
