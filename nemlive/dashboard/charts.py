"""Pure builders of the headline figures, the chart frames and the charts (no Streamlit).

The tables are in ``tables.py``, the status texts in ``status.py``, Markdown escaping in ``text.py``.

**Which timestamp the figures describe.** Facility events of one 5-minute interval arrive one by
one, and the publisher sends a row's market events after all of its facility events
(docs/contracts.md §3). A figure computed at the newest timestamp would therefore grow while that row
streams in. The figures are instead taken at the *latest complete timestamp*
(:func:`select_figure_time`):

* the newest timestamp seen, once market events of every region have arrived for it (the row
  is finished) or once the stream has been quiet for ``SETTLE_S`` seconds (nothing more is
  coming for now, e.g. the replay ended or paused);
* otherwise the timestamp before it (the previous row, which is complete).

At that timestamp T, with the region and fuel-group filters applied to *known* facilities
(dominant fuel group, the facility's region) and to regions:

* generation (MW) = sum of ``max(power_mw, 0)``: loads (battery charging, pumping) excluded;
* emissions (t per 5 min) = sum of ``co2_tonnes``; t/h = 12 × that;
* intensity (t/MWh) = emissions / (generation × 5/60 h);
* price ($/MWh) = sum(price × demand) / sum(demand) over regions with both values and demand > 0;
* demand (MW) = sum of ``demand_mw``;
* renewable share = generation of bioenergy, hydro, wind and solar facilities / generation.

A facility or region without a value at T contributes nothing (like an empty CSV cell), so the
figures equal those computed from the CSV row at T.

**The charts' window** (:func:`select_chart_window`) ends at the same T, so no chart plots the
interval still arriving (a cliff at the right edge). At its start, an interval received only in
part (the dashboard joined while it streamed: retained messages bring each facility's newest
value, some of them one interval older than the rest) is left out: a leading interval with fewer
than ``PARTIAL_RATIO`` × the facility count of the interval after it is dropped, up to
``MAX_PARTIAL`` of them. Counts are over all facilities, whatever the filters (a property of the
stream, not of the selection). The price and demand charts are per region, so each point is a
whole value and they have no cliff; they use the same window anyway so the four time axes line up. Times are epoch seconds; frames carry naive
NEM-time (UTC+10) datetimes so that charts show NEM time whatever the browser's zone.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from itertools import pairwise

import altair as alt
import pandas as pd

from nemlive.common.events import REGIONS
from nemlive.common.lookups import (
    FUEL_COLOURS,
    FUEL_GROUPS,
    FUEL_LABELS,
    RENEWABLE_GROUPS,
    Facility,
    facility_passes,
    fuel_group_of,
)
from nemlive.common.nemtime import INTERVAL_S, nem_naive_index
from nemlive.dashboard.livestate import DEFAULT_HISTORY_LEN, Point
from nemlive.dashboard.text import format_price

SETTLE_S = 5.0
PARTIAL_RATIO = 0.9
MAX_PARTIAL = 12  # leading intervals at most (an hour): bounds the work per refresh
INTERVAL_H = 5 / 60
REGION_COLOURS = {
    "NSW1": "#1f77b4",
    "QLD1": "#9467bd",
    "SA1": "#d62728",
    "TAS1": "#2ca02c",
    "VIC1": "#ff7f0e",
}


def select_figure_time(
    max_ts: int | None,
    prev_ts: int | None,
    market_regions_at_max: Collection[str],
    quiet_s: float | None,
    *,
    expected_regions: Collection[str] = REGIONS,
    settle_s: float = SETTLE_S,
) -> int | None:
    """The latest complete timestamp (epoch s), as the module doc defines it; None = no data."""
    if max_ts is None:
        return None
    row_done = set(expected_regions) <= set(market_regions_at_max)
    quiet = quiet_s is not None and quiet_s >= settle_s
    if row_done or quiet or prev_ts is None:
        return max_ts
    return prev_ts


def select_chart_window(
    facility_history: Mapping[str, list[Point]],
    end_ts: int | None,
    *,
    ratio: float = PARTIAL_RATIO,
    max_partial: int = MAX_PARTIAL,
    span: int = DEFAULT_HISTORY_LEN,
) -> tuple[int | None, int | None]:
    """(first, last) interval the charts plot, epoch s inclusive, as the module doc defines it.

    ``end_ts`` is the figures' time (:func:`select_figure_time`). ``first`` is None when no
    leading interval is left out (plot from the oldest kept); (None, None) when there is no data.
    Only intervals up to ``end_ts`` are compared, so the interval still arriving never counts.
    Whatever the histories hold, the window covers at most ``span`` intervals up to ``end_ts``:
    a point kept from long before (an old stream, a forged message) never stretches the axis.
    """
    if end_ts is None:
        return None, None
    floor = end_ts - (span - 1) * INTERVAL_S
    # The k-th distinct timestamp of the window is at index < k of every sorted history, so the
    # first max_partial + 1 points of each give exact counts for the first max_partial + 1.
    head = max_partial + 1
    counts: Counter[int] = Counter()
    for points in facility_history.values():
        for p in _in_window(points, floor, end_ts)[:head]:
            counts[p[0]] += 1
    leading = sorted(counts)[:head]
    first = None
    for ts, following in pairwise(leading):
        if counts[ts] >= ratio * counts[following]:
            break
        first = following
    if first is None and any(
        points and points[0][0] < floor for points in facility_history.values()
    ):
        first = floor
    return first, end_ts


def _in_window(points: list[Point], start: int | None, end: int | None) -> list[Point]:
    """The points of a time-sorted history with start <= ts <= end (None = unbounded)."""
    lo = 0 if start is None else bisect_left(points, start, key=_point_time)
    hi = len(points) if end is None else bisect_right(points, end, key=_point_time)
    return points if lo == 0 and hi == len(points) else points[lo:hi]


def _point_time(p: Point) -> int:
    return p[0]


def value_at(points: list[Point], ts: int) -> Point | None:
    """The point at exactly ``ts`` in a time-sorted history, searching from the newest end."""
    for p in reversed(points):
        if p[0] == ts:
            return p
        if p[0] < ts:
            return None
    return None


@dataclass(frozen=True)
class Figures:
    """Headline figures at ``time`` (epoch s, None = no data yet); None = no value to show."""

    time: int | None
    generation_mw: float | None
    emissions_t: float | None  # t CO2-e in the 5-minute interval
    emissions_t_per_h: float | None
    intensity_t_per_mwh: float | None
    price_dmwh: float | None  # demand-weighted
    demand_mw: float | None
    renewable_share: float | None  # 0..1
    facilities: int  # facilities with a value at ``time``
    regions: int  # regions with a value at ``time``


def compute_figures(
    facility_history: Mapping[str, list[Point]],
    region_history: Mapping[str, list[Point]],
    facilities: Mapping[str, Facility],
    at_ts: int | None,
    *,
    regions: Collection[str] | None = None,
    groups: Collection[str] | None = None,
) -> Figures:
    """The figures of the filtered selection at ``at_ts`` (see the module doc for definitions)."""
    if at_ts is None:
        return Figures(None, None, None, None, None, None, None, None, 0, 0)
    supply = _sum_facilities(facility_history, facilities, at_ts, regions, groups)
    market = _sum_regions(region_history, at_ts, regions)
    gen, emissions = supply.generation, supply.emissions
    return Figures(
        time=at_ts,
        generation_mw=gen if supply.have_power else None,
        emissions_t=emissions,
        emissions_t_per_h=None if emissions is None else emissions * 12,
        intensity_t_per_mwh=(emissions / (gen * INTERVAL_H))
        if emissions is not None and gen > 0
        else None,
        price_dmwh=market.weighted / market.weight if market.weight > 0 else None,
        demand_mw=market.demand if market.have_demand else None,
        renewable_share=supply.renewable / gen if gen > 0 else None,
        facilities=supply.count,
        regions=market.count,
    )


@dataclass
class _Supply:
    generation: float = 0.0  # MW, loads excluded
    renewable: float = 0.0
    co2: float = 0.0
    have_power: bool = False
    have_co2: bool = False
    count: int = 0

    @property
    def emissions(self) -> float | None:
        return self.co2 if self.have_co2 else None


@dataclass
class _Market:
    demand: float = 0.0
    weighted: float = 0.0  # sum of price x demand where both exist and demand > 0
    weight: float = 0.0
    have_demand: bool = False
    count: int = 0


def _sum_facilities(
    facility_history: Mapping[str, list[Point]],
    facilities: Mapping[str, Facility],
    at_ts: int,
    regions: Collection[str] | None,
    groups: Collection[str] | None,
) -> _Supply:
    out = _Supply()
    for fid, points in facility_history.items():
        fac = facilities.get(fid)
        if fac is None or not facility_passes(fac, regions, groups):
            continue
        p = value_at(points, at_ts)
        if p is None:
            continue
        out.count += 1
        _, mw, t = p
        if mw is not None:
            out.have_power = True
            if mw > 0:
                out.generation += mw
                if fuel_group_of(fac) in RENEWABLE_GROUPS:
                    out.renewable += mw
        if t is not None:
            out.have_co2 = True
            out.co2 += t
    return out


def _sum_regions(
    region_history: Mapping[str, list[Point]], at_ts: int, regions: Collection[str] | None
) -> _Market:
    out = _Market()
    for rid, points in region_history.items():
        if regions is not None and rid not in regions:
            continue
        p = value_at(points, at_ts)
        if p is None:
            continue
        out.count += 1
        _, price, dem = p
        if dem is not None:
            out.have_demand = True
            out.demand += dem
            if price is not None and dem > 0:
                out.weighted += price * dem
                out.weight += dem
    return out


def format_figures(fig: Figures) -> dict[str, str]:
    """Label -> display text, exactly as the page shows them (the browser test compares these)."""

    def num(v: float | None, fmt: str, unit: str) -> str:
        return "–" if v is None else f"{v:{fmt}} {unit}".strip()

    return {
        "Generation": num(fig.generation_mw, ",.0f", "MW"),
        "Emissions": num(fig.emissions_t, ",.1f", "t/5 min"),
        "Emissions rate": num(fig.emissions_t_per_h, ",.0f", "t/h"),
        "Intensity": num(fig.intensity_t_per_mwh, ",.3f", "t/MWh"),
        "Price (demand-weighted)": "–" if fig.price_dmwh is None else format_price(fig.price_dmwh),
        "Demand": num(fig.demand_mw, ",.0f", "MW"),
        "Renewable share": num(
            None if fig.renewable_share is None else fig.renewable_share * 100, ".1f", "%"
        ),
    }


def build_fuel_frames(
    facility_history: Mapping[str, list[Point]],
    facilities: Mapping[str, Facility],
    *,
    regions: Collection[str] | None = None,
    groups: Collection[str] | None = None,
    start: int | None = None,
    end: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generation by fuel group and total emissions over the window, in one pass.

    Returns (``time, group, label, mw``: generation in MW with loads excluded, per interval
    and group) and (``time, t``: t CO2-e per 5 minutes per interval) for the filtered selection,
    for intervals from ``start`` to ``end`` (epoch s inclusive, None = unbounded; see
    :func:`select_chart_window`).
    """
    # One dict per group keyed by epoch s: no (ts, group) tuple per point on this hot loop.
    gen: dict[str, dict[int, float]] = {}
    co2: dict[int, float] = {}
    for fid, points in facility_history.items():
        fac = facilities.get(fid)
        if fac is None or not facility_passes(fac, regions, groups):
            continue
        by_ts = gen.setdefault(fuel_group_of(fac), {})
        for ts, mw, t in _in_window(points, start, end):
            if mw is not None and mw > 0:
                by_ts[ts] = by_ts.get(ts, 0.0) + mw
            if t is not None:
                co2[ts] = co2.get(ts, 0.0) + t
    keys = sorted((ts, g) for g, by_ts in gen.items() for ts in by_ts)
    gen_frame = pd.DataFrame(
        {
            "time": nem_naive_index([k[0] for k in keys]),
            "group": [k[1] for k in keys],
            "label": [FUEL_LABELS.get(k[1], k[1]) for k in keys],  # type: ignore[call-overload]
            "mw": [gen[g][ts] for ts, g in keys],
        }
    )
    ts_sorted = sorted(co2)
    co2_frame = pd.DataFrame({"time": nem_naive_index(ts_sorted), "t": [co2[k] for k in ts_sorted]})
    return gen_frame, co2_frame


def build_renewable_share_frame(
    facility_history: Mapping[str, list[Point]],
    facilities: Mapping[str, Facility],
    *,
    regions: Collection[str] | None = None,
    start: int | None = None,
    end: int | None = None,
) -> pd.DataFrame:
    """``time, region, share``: each region's renewable share of its generation per interval
    (0..1; generation as in the figures: positive output, loads excluded). All fuel groups
    count, whatever the fuel filter: a share of a filtered total would mean nothing."""
    gen: dict[tuple[int, str], float] = {}
    ren: dict[tuple[int, str], float] = {}
    for fid, points in facility_history.items():
        fac = facilities.get(fid)
        if fac is None or not facility_passes(fac, regions, None):
            continue
        renewable = fuel_group_of(fac) in RENEWABLE_GROUPS
        for ts, mw, _ in _in_window(points, start, end):
            if mw is not None and mw > 0:
                key = (ts, fac.region_id)
                gen[key] = gen.get(key, 0.0) + mw
                if renewable:
                    ren[key] = ren.get(key, 0.0) + mw
    keys = sorted(gen)
    return pd.DataFrame(
        {
            "time": nem_naive_index([k[0] for k in keys]),
            "region": [k[1] for k in keys],
            "share": [ren.get(k, 0.0) / gen[k] for k in keys],
        }
    )


def build_interchange_frame(
    interchange_history: Mapping[str, list[Point]],
    *,
    regions: Collection[str] | None = None,
    start: int | None = None,
    end: int | None = None,
) -> pd.DataFrame:
    """``time, region, net``: each region's net import (imports − exports, MW; negative is a
    net export) per interval; an interval with neither value is left out."""
    ts_list: list[int] = []
    reg: list[str] = []
    net: list[float] = []
    for rid in sorted(interchange_history):
        if regions is not None and rid not in regions:
            continue
        for ts, imports, exports in _in_window(interchange_history[rid], start, end):
            if imports is None and exports is None:
                continue
            ts_list.append(ts)
            reg.append(rid)
            net.append((imports or 0.0) - (exports or 0.0))
    return pd.DataFrame({"time": nem_naive_index(ts_list), "region": reg, "net": net})


def build_market_frame(
    region_history: Mapping[str, list[Point]],
    *,
    regions: Collection[str] | None = None,
    start: int | None = None,
    end: int | None = None,
) -> pd.DataFrame:
    """Long frame ``time, region, price, demand`` ($/MWh, MW) from ``start`` to ``end``.

    Epoch s inclusive, None = unbounded (see :func:`select_chart_window`).
    """
    ts_list: list[int] = []
    reg: list[str] = []
    price: list[float | None] = []
    demand: list[float | None] = []
    for rid in sorted(region_history):
        if regions is not None and rid not in regions:
            continue
        for ts, p, d in _in_window(region_history[rid], start, end):
            ts_list.append(ts)
            reg.append(rid)
            price.append(p)
            demand.append(d)
    return pd.DataFrame(
        {
            "time": nem_naive_index(ts_list),
            "region": reg,
            "price": pd.array(price, dtype="Float64").astype("float64"),
            "demand": pd.array(demand, dtype="Float64").astype("float64"),
        }
    )


def build_facility_history_frame(points: list[Point]) -> pd.DataFrame:
    """One facility's window: ``time, power_mw, co2_tonnes``."""
    return pd.DataFrame(
        {
            "time": nem_naive_index([p[0] for p in points]),
            "power_mw": pd.array([p[1] for p in points], dtype="Float64").astype("float64"),
            "co2_tonnes": pd.array([p[2] for p in points], dtype="Float64").astype("float64"),
        }
    )


# --- Vega-Lite charts (Altair ships with Streamlit) -------------------------------------

_TIME = alt.X("time:T", title=None, axis=alt.Axis(format="%a %H:%M", labelOverlap=True))


# make mutate leaves out the Altair specs: they are presentation, checked by the app and
# browser tests.
# pragma: no mutate start
def build_generation_chart(frame: pd.DataFrame, height: int = 260) -> alt.Chart:
    """Stacked area of generation by fuel group in OpenElectricity's colours."""
    seen = set(frame["group"].unique())
    present = [g for g in FUEL_GROUPS if g in seen] or list(FUEL_GROUPS)
    return (
        alt.Chart(frame, height=height)
        .mark_area(interpolate="step-before", opacity=0.92)
        .encode(
            x=_TIME,
            y=alt.Y("sum(mw):Q", stack="zero", title="MW"),
            color=alt.Color(
                "label:N",
                title=None,
                scale=alt.Scale(
                    domain=[FUEL_LABELS[g] for g in present],
                    range=[FUEL_COLOURS[g] for g in present],
                ),
                legend=alt.Legend(orient="bottom", columns=5),
            ),
            order=alt.Order("group_order:Q"),
            tooltip=[
                alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"),
                "label:N",
                alt.Tooltip("mw:Q", format=",.0f"),
            ],
        )
        .transform_calculate(group_order=f"indexof({list(FUEL_GROUPS)!r}, datum.group)")
    )


def build_emissions_chart(frame: pd.DataFrame, height: int = 260) -> alt.Chart:
    """Emissions per interval (t CO2-e per 5 min)."""
    return (
        alt.Chart(frame, height=height)
        .mark_area(
            color="#6b7280", opacity=0.35, line={"color": "#374151"}, interpolate="step-before"
        )
        .encode(
            x=_TIME,
            y=alt.Y("t:Q", title="t CO₂-e / 5 min"),
            tooltip=[
                alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("t:Q", format=",.1f"),
            ],
        )
    )


def build_region_line_chart(
    frame: pd.DataFrame,
    field: str,
    title: str,
    height: int = 260,
    *,
    share: bool = False,
) -> alt.Chart:
    """One line per region for ``field`` (``price``, ``demand``, ``net`` or, with
    ``share``, a 0..1 ``share`` drawn as 0-100%)."""
    seen = set(frame["region"].unique())
    present = [r for r in REGIONS if r in seen] or list(REGIONS)
    y = (
        alt.Y(f"{field}:Q", title=title, axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]))
        if share
        else alt.Y(f"{field}:Q", title=title)
    )
    return (
        alt.Chart(frame, height=height)
        .mark_line(interpolate="step-before", strokeWidth=1.6)
        .encode(
            x=_TIME,
            y=y,
            color=alt.Color(
                "region:N",
                title=None,
                scale=alt.Scale(domain=present, range=[REGION_COLOURS[r] for r in present]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"),
                "region:N",
                alt.Tooltip(f"{field}:Q", format=_tooltip_format(field, share)),
            ],
        )
    )


def _tooltip_format(field: str, share: bool) -> str:
    """d3's format of a line's tooltip: a price as text.format_price writes it (d3 puts its
    minus, U+2212, before the ``$``: ``−$7.55``), a share as a percentage."""
    if share:
        return ".1%"
    return "$,.2f" if field == "price" else ",.2f"


# pragma: no mutate end
