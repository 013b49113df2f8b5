"""How fresh each kind of data is, and which interval the headline figures can show (pure).

A replay sends each row whole: a row's facility events, then its market events, so the
figures wait for the market events that close it (``charts.select_figure_time``). A live
stream does not: market data for all regions comes every interval, while facility data comes
in sweeps, hours behind on the free plan (``extractor.py --follow``), so the newest interval
has prices and no facility values yet. Facilities behind the market are late, not missing:

* the page says how far each kind reaches: ``prices to 14:35, facilities to 12:10 NEM``;
* the headline figures use the newest interval at which both are complete, and say so: the
  newest facility interval once no facility event has arrived for ``SETTLE_S`` seconds (a
  sweep is sent row by row, oldest first, so only the newest of its rows can be arriving;
  before that, the one before it), and not later than the newest interval with every
  region's market event.

A stream is live when the publisher's status says ``live``. Its ``source`` says whether the
data is the simulator's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from nemlive.common.events import REGIONS
from nemlive.common.nemtime import format_nem_epoch
from nemlive.dashboard.charts import SETTLE_S, select_figure_time
from nemlive.dashboard.livestate import Point, Snapshot


@dataclass(frozen=True)
class Freshness:
    """Epoch seconds (None = nothing yet). ``market_ts``/``facility_ts``: the newest interval
    with any market / facility value; ``figure_ts``: the interval the figures show."""

    live: bool
    simulated: bool
    market_ts: int | None
    facility_ts: int | None
    figure_ts: int | None

    @property
    def facilities_behind(self) -> bool:
        return (
            self.market_ts is not None
            and self.facility_ts is not None
            and self.facility_ts < self.market_ts
        )


def newest_two(histories: Mapping[str, list[Point]]) -> tuple[int | None, int | None]:
    """The newest and the second newest distinct timestamp over all histories."""
    stamps: set[int] = set()
    for points in histories.values():
        stamps.update(p[0] for p in points[-2:])
    ordered = sorted(stamps)
    newest = ordered[-1] if ordered else None
    return newest, ordered[-2] if len(ordered) > 1 else None


def market_complete(
    region_history: Mapping[str, list[Point]], expected: Collection[str] = REGIONS
) -> int | None:
    """The newest interval at which every expected region has a market value (looked for
    among each region's last three); None when there is none."""
    common: set[int] | None = None
    for region in expected:
        stamps = {p[0] for p in region_history.get(region, [])[-3:]}
        common = stamps if common is None else common & stamps
    return max(common) if common else None


def select_live_figure_time(
    market_ts: int | None,
    facility_ts: int | None,
    facility_prev: int | None,
    facility_quiet_s: float | None,
    settle_s: float = SETTLE_S,
) -> int | None:
    """The figures' interval in a live stream (module doc); None while either is missing."""
    if market_ts is None or facility_ts is None:
        return None
    done = facility_quiet_s is None or facility_quiet_s >= settle_s or facility_prev is None
    facilities = facility_ts if done else facility_prev
    return min(facilities, market_ts)


def is_live(status: Mapping[str, object] | None) -> bool:
    return bool(status) and status.get("state") == "live"  # type: ignore[union-attr]


def is_simulated(status: Mapping[str, object] | None) -> bool:
    """The status says its data is simulated: the OE simulator (``source`` simulator) or a
    simulated source (``simulated`` true: the simulator's NEMweb face)."""
    if not status:
        return False
    return status.get("source") == "simulator" or status.get("simulated") is True


def assess(snap: Snapshot, quiet: bool = False, settle_s: float = SETTLE_S) -> Freshness:
    """The freshness of a snapshot, and its figures' interval: the live rule when the
    publisher says ``live``, else the replay's (``charts.select_figure_time``). ``quiet``:
    no message for ``settle_s`` (``views.is_quiet``), so nothing is arriving."""
    status = snap.publisher_status
    live = is_live(status)
    market_ts, _ = newest_two(snap.region_history)
    facility_ts, facility_prev = newest_two(snap.facility_history)
    if live:
        last = snap.recent_facility[-1][0] if snap.recent_facility else None
        since = None if last is None else max(snap.taken_at - last, 0.0)
        if quiet:
            since = max(since or 0.0, settle_s)
        figure_ts = select_live_figure_time(
            market_complete(snap.region_history), facility_ts, facility_prev, since, settle_s
        )
    else:
        figure_ts = select_figure_time(
            snap.max_ts, snap.prev_ts, snap.market_regions_at_max, settle_s if quiet else 0.0
        )
    return Freshness(live, is_simulated(status), market_ts, facility_ts, figure_ts)


def describe_freshness(fresh: Freshness) -> str:
    """``prices to 14:35, facilities to 12:10 NEM`` (dates when they differ from today's)."""

    def at(ts: int | None) -> str:
        return "none yet" if ts is None else format_nem_epoch(ts, "%H:%M")

    text = f"prices to {at(fresh.market_ts)}, facilities to {at(fresh.facility_ts)} NEM"
    if fresh.market_ts is not None and fresh.facility_ts is not None:
        day_m = format_nem_epoch(fresh.market_ts, "%Y-%m-%d")
        day_f = format_nem_epoch(fresh.facility_ts, "%Y-%m-%d")
        if day_m != day_f:
            text = (
                f"prices to {day_m} {at(fresh.market_ts)}, facilities to "
                f"{day_f} {at(fresh.facility_ts)} NEM"
            )
    return text


def describe_figures(fresh: Freshness, facilities: int, regions: int) -> str:
    """The caption above the figures: which interval they show and why, how fresh each kind
    of data is, and that the data is simulated when it is."""
    if fresh.figure_ts is None:
        return ""
    when = format_nem_epoch(fresh.figure_ts)
    if fresh.live:
        why = "the newest interval with both prices and facilities"
        if fresh.facilities_behind:
            why += "; facility data comes in sweeps, behind the prices"
        text = (
            f"Figures for **{when} NEM** ({why}): {facilities:,} facilities, {regions} regions "
            f"in the selection. Live: {describe_freshness(fresh)}."
        )
    else:
        text = (
            f"Figures for **{when} NEM** (latest complete interval): {facilities:,} facilities, "
            f"{regions} regions in the selection."
        )
    if fresh.simulated:
        text += " **Simulated data** (the simulator), not the real NEM."
    return text
