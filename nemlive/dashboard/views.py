"""What each part of the page shows, built once per data version and selection.

The page has a fast part (status and figures, every ``refresh_s``) and a slow part (map,
charts, tables, every ``visuals_every_s``). The views here are everything those parts draw,
computed from a Snapshot and a Selection and nothing else; the page (``page_live``) keeps
them in one ``SharedCache`` keyed on :func:`view_key`, so every viewer with the same filters
shares one build per new interval (see docs/design.md, "Many viewers, one server").

Views are shared between sessions and threads: nothing may change them after they are built.
"""

from __future__ import annotations

import copy
import functools
import html
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import altair as alt
import pandas as pd
import pyarrow as pa

from nemlive.common.events import REGIONS
from nemlive.common.lookups import Facility
from nemlive.dashboard import changes as changes_
from nemlive.dashboard import charts, freshness, history, labelplace, mapview, pricescale, tables
from nemlive.dashboard.charts import Figures
from nemlive.dashboard.livestate import LiveState, Snapshot
from nemlive.dashboard.sharedcache import SharedCache

DATASET = "nemlive"  # the name a chart's rows travel under in its Vega-Lite spec


@dataclass(frozen=True)
class PastView:
    """A range read from the store and the interval the figures and map show."""

    choice: history.RangeChoice
    facility_history: dict[str, list]
    region_history: dict[str, list]
    at_ts: int
    interchange_history: dict[str, list] = field(default_factory=dict)
    alerts: history.StoredAlerts | None = None  # the range's recorded alerts (None: unread)


@dataclass(frozen=True)
class Selection:
    """What one viewer's page shows: the lookups, the filters (None = all), map options, and
    a past range from the store (None = live)."""

    facilities: dict[str, Facility]
    regions_fc: dict | None
    regions: list[str] | None
    groups: list[str] | None
    options: mapview.MapOptions
    past: PastView | None = None


def selection_key(sel: Selection) -> Hashable:
    """The part of a Selection that changes what is drawn (the lookups are the process's)."""
    past = sel.past
    return (
        None if sel.regions is None else tuple(sorted(sel.regions)),
        None if sel.groups is None else tuple(sorted(sel.groups)),
        sel.options,
        None if past is None else (past.choice, past.at_ts),
    )


# The parts whose content depends on the publisher's status (see status_mode).
STATUS_PARTS = frozenset({"figures", "charts"})


def status_mode(snap: Snapshot) -> tuple[bool, bool]:
    """What the figures and charts take from the publisher's status: whether the stream is
    live (which interval the figures show, so the charts' window, and the caption's words)
    and whether it is simulated (the caption's note). Nothing else of a status is drawn but
    the sidebar's line, made afresh at every refresh."""
    status = snap.publisher_status
    return freshness.is_live(status), freshness.is_simulated(status)


def view_key(part: str, snap: Snapshot, sel: Selection, quiet: bool = False) -> Hashable:
    """The cache key of one part: equal keys draw equal things.

    A live figure time also depends on whether the stream has gone quiet
    (``charts.select_figure_time``), so that is part of the key. A publisher status does not
    move the data version: the figures and charts key on its :func:`status_mode` instead, so
    a flood of statuses costs at most one build per mode (four) and data version.
    """
    mode = status_mode(snap) if part in STATUS_PARTS else None
    alerts = snap.alert_version if part == "map" and sel.past is None else None
    return (part, snap.version, quiet, mode, selection_key(sel), alerts)


def visuals_behind(counters: Snapshot, drawn_max_ts: int | None, every_s: float) -> bool:
    """Whether a page's map and charts, drawn with data up to ``drawn_max_ts`` (None: no
    data), should be drawn now rather than on their ``every_s`` timer: for the first data, and
    for a new interval that came ``every_s`` or more after the one before (a live stream)."""
    newest = counters.max_ts
    if newest is None:
        return False
    if drawn_max_ts is None:
        return True
    gap = counters.arrival_gap_s
    return newest > drawn_max_ts and gap is not None and gap >= every_s


def is_quiet(counters: Snapshot) -> bool:
    """No message for ``charts.SETTLE_S``: the newest interval counts as complete."""
    age = counters.last_message_age_s
    return age is not None and age >= charts.SETTLE_S


@dataclass(frozen=True)
class Epoch:
    """A snapshot and when it was taken (wall clock, s)."""

    snap: Snapshot
    taken_at: float


def epoch_is_due(epoch: Epoch | None, counters: Snapshot, now: float, every_s: float) -> bool:
    """Whether a part drawn every ``every_s`` needs a new snapshot (``counters``: the state's
    counters now, with its version, newest interval and how far apart the last two came).

    Yes when there is none or the state was replaced; no while the data is unchanged; else
    at once for the first data, once ``every_s`` has passed, or at once when the newest
    interval came ``every_s`` or more after the one before (as in a live stream, where the map
    and charts then follow each new interval instead of the timer).
    """
    if epoch is None or epoch.snap.version[0] != counters.version[0]:
        return True
    if epoch.snap.version == counters.version:
        return False
    if now - epoch.taken_at >= every_s or epoch.snap.max_ts is None:
        return True
    gap = counters.arrival_gap_s
    return counters.max_ts != epoch.snap.max_ts and gap is not None and gap >= every_s


class SnapshotClock:
    """The snapshot one part of every page draws from, shared and renewed per ``epoch_is_due``:
    with ``every_s`` = 0 a new one for each data version, with 10 s at most one per 10 s."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._lock = threading.Lock()
        self._epoch: Epoch | None = None
        self.taken = 0  # snapshots taken (tests and the benchmark read it)

    def current(
        self, state: LiveState, counters: Snapshot, now: float, force: bool = False
    ) -> Snapshot:
        """The shared snapshot; ``force``: a new one whenever the data changed (a full run)."""
        with self._lock:
            epoch = self._epoch
            due = epoch_is_due(epoch, counters, now, 0.0 if force else self.every_s)
            if due:
                epoch = self._epoch = Epoch(state.snapshot(), now)
                self.taken += 1
            assert epoch is not None
            if counters.status_version > epoch.snap.status_version:
                # A new status, which moves no data version: the same data, its status
                # swapped in from the counters (a small copy, not the histories).
                snap = with_status(epoch.snap, counters)
                epoch = self._epoch = Epoch(snap, epoch.taken_at)
            if counters.alert_version != epoch.snap.alert_version:
                # Alerts move no data version either: swapped in the same way.
                snap = with_alerts(epoch.snap, counters)
                epoch = self._epoch = Epoch(snap, epoch.taken_at)
            return epoch.snap


def with_status(snap: Snapshot, counters: Snapshot) -> Snapshot:
    """``snap`` with the publisher status of ``counters`` (a snapshot taken later)."""
    return replace(
        snap,
        publisher_status=counters.publisher_status,
        status_version=counters.status_version,
    )


def with_alerts(snap: Snapshot, counters: Snapshot) -> Snapshot:
    """``snap`` with the alerts of ``counters`` (a snapshot taken later)."""
    return replace(
        snap,
        alerts_firing=counters.alerts_firing,
        alerts_resolved=counters.alerts_resolved,
        alert_overflow=counters.alert_overflow,
        alert_version=counters.alert_version,
    )


# Figure label -> its definition, in page order (labels are charts.format_figures' keys).
FIGURE_HELP = {
    "Generation": "Sum of positive facility output (loads such as battery charging excluded).",
    "Demand": "Sum of regional demand.",
    "Price (demand-weighted)": "Σ price × demand ÷ Σ demand over the selected regions.",
    "Renewable share": "Bioenergy, hydro, wind and solar generation ÷ generation.",
    "Emissions": "t CO₂-e in the 5-minute interval.",
    "Emissions rate": "Emissions of the interval × 12.",
    "Intensity": "Emissions ÷ energy generated in the interval.",
}


def build_cards_html(
    cards: Sequence[tuple[str, str, str | None]],
    columns: int,
    changes: Mapping[str, changes_.Change | None] | None = None,
) -> str:
    """Figure cards (label, value, help shown on hover) in a grid of ``columns``, as one
    element: every element a refresh sends costs the server, and these refresh every 2 s in
    every page. ``changes``: label -> its move since the interval before, shown under the
    value (``changes``), coloured by its sense. Texts are escaped."""
    items = "".join(
        '<div class="nl-card" data-testid="nl-card"'
        + (f' title="{html.escape(help_text)}"' if help_text else "")
        + f'><div class="nl-card-label" data-testid="nl-card-label">{html.escape(label)}</div>'
        f'<div class="nl-card-value" data-testid="nl-card-value">{html.escape(value)}</div>'
        + _change_html((changes or {}).get(label))
        + "</div>"
        for label, value, help_text in cards
    )
    return f'<div class="nl-cards nl-cols-{columns}">{items}</div>'


def _change_html(change: changes_.Change | None) -> str:
    if change is None:
        return ""
    return (
        f'<div class="nl-card-change nl-{change.sense}" data-testid="nl-card-change" '
        f'data-sense="{change.sense}" title="since the interval before">'
        f"{html.escape(change.text)}</div>"
    )


@dataclass(frozen=True)
class FigureView:
    """The figures' interval, the figures and their texts, the chart window and a caption
    (None while no data came)."""

    at_ts: int | None
    figures: Figures
    texts: dict[str, str]
    window: tuple[int | None, int | None]
    caption: str | None
    cards_html: str  # the figures as cards, four to a row, in FIGURE_HELP's order
    changes: dict[str, changes_.Change | None] = field(default_factory=dict)
    band_html: str = ""  # the same cards in one row: the wall view's band


def with_past(snap: Snapshot, past: PastView) -> Snapshot:
    """The live snapshot with the store's range in place of the windows, at ``past.at_ts``."""
    return replace(
        snap,
        facility_history=past.facility_history,
        region_history=past.region_history,
        facility_latest=history.values_at(past.facility_history, past.at_ts),
        region_latest=history.values_at(past.region_history, past.at_ts),
        interchange_history=past.interchange_history,
        interchange_latest=history.values_at(past.interchange_history, past.at_ts),
        recent_facility=[],
        recent_market=[],
    )


def build_figure_view(snap: Snapshot, sel: Selection, quiet: bool = False) -> FigureView:
    """Figures of the selection at the latest complete interval (live; ``quiet``: the stream
    has gone quiet, see ``is_quiet``) or at the picked one (past)."""
    fresh = freshness.assess(snap, quiet)
    if sel.past is None:
        at_ts = fresh.figure_ts
        window = charts.select_chart_window(snap.facility_history, at_ts, span=snap.history_len)
    else:
        at_ts, window = sel.past.at_ts, (None, None)
    fig = charts.compute_figures(
        snap.facility_history,
        snap.region_history,
        sel.facilities,
        at_ts,
        regions=sel.regions,
        groups=sel.groups,
    )
    if at_ts is None:
        caption = None
    elif sel.past is not None:
        caption = history.describe_view(sel.past.choice, at_ts)
    else:
        caption = freshness.describe_figures(fresh, fig.facilities, fig.regions)
    texts = charts.format_figures(fig)
    moves = changes_.figure_changes(fig, _figures_before(snap, sel, at_ts))
    cards = [(label, texts[label], help_text) for label, help_text in FIGURE_HELP.items()]
    return FigureView(
        at_ts,
        fig,
        texts,
        window,
        caption,
        build_cards_html(cards, columns=4, changes=moves),
        moves,
        build_cards_html(cards, columns=len(cards), changes=moves),
    )


def _figures_before(snap: Snapshot, sel: Selection, at_ts: int | None) -> Figures | None:
    """The figures of the interval before ``at_ts`` (None: no data, or none then)."""
    if at_ts is None:
        return None
    before = changes_.previous_time(snap.region_history, at_ts)
    fig = charts.compute_figures(
        snap.facility_history,
        snap.region_history,
        sel.facilities,
        before,
        regions=sel.regions,
        groups=sel.groups,
    )
    return fig if fig.facilities or fig.regions else None


@dataclass(frozen=True)
class MapView:
    """The deck (its JSON made once), how many facilities it draws, and the legends."""

    deck: mapview.CompactDeck
    drawn: int
    colour_legend: str
    size_legend: str
    price_legend: str | None
    centre: float = pricescale.DEFAULT_CENTRE  # $/MWh the region colours are centred on


class SharedDeck(mapview.CompactDeck):
    """A deck whose JSON is made once: every viewer's page sends the same text."""

    def __init__(self, deck: mapview.CompactDeck) -> None:
        self.__dict__.update(deck.__dict__)
        self._json = deck.to_json()

    def to_json(self) -> str:
        return self._json


def build_map_view(snap: Snapshot, sel: Selection) -> MapView:
    options = sel.options
    rows = mapview.build_facility_rows(
        snap.facility_latest,
        sel.facilities,
        regions=sel.regions,
        groups=sel.groups,
        size_by=options.size_by,
    )
    flows = snap.interchange_latest
    # Alerts are live: a past range is drawn without them.
    marks = (
        mapview.build_alert_marks(snap.alerts_firing, REGIONS, sel.facilities)
        if sel.past is None
        else mapview.NO_ALERTS
    )
    # The colours are centred on the typical price of what the page holds: the window live,
    # the picked range in History.
    centre = pricescale.price_centre(
        p[1] for points in snap.region_history.values() for p in points
    )
    deck = mapview.build_deck(
        rows,
        sel.regions_fc,
        options,
        sel.regions,
        snap.region_latest,
        flows,
        marks,
        centre=centre,
        placements=region_label_placements(sel, options),
    )
    colours, sizes = _legends(options.size_by)
    return MapView(
        deck=SharedDeck(deck),
        drawn=len(rows),
        colour_legend=colours,
        size_legend=sizes,
        price_legend=pricescale.build_price_legend_html(centre) if options.polygons else None,
        centre=centre,
    )


# The lookups are loaded once per server process (page_cache.load_lookups), so their ids
# name them; the length guards against an id reused by a later, different lookup.
_PLACEMENTS = SharedCache(maxsize=8)


def region_label_placements(
    sel: Selection, options: mapview.MapOptions
) -> dict[str, labelplace.Placement]:
    """Where the region labels go for the lookups of ``sel`` in the view of ``options``,
    placed once per process and view (``labelplace``)."""
    if not sel.regions_fc:
        return {}
    regions_fc = sel.regions_fc
    key = (
        id(regions_fc),
        len(regions_fc.get("features", [])),
        id(sel.facilities),
        len(sel.facilities),
        options.wall,
    )
    return _PLACEMENTS.get(key, lambda: mapview.place_labels(regions_fc, sel.facilities, options))


@functools.cache
def _legends(size_by: mapview.SizeBy) -> tuple[str, str]:
    """The map's fuel and size legends (icons drawn once per process)."""
    return mapview.build_colour_legend_html(), mapview.build_size_legend_html(size_by)


@dataclass(frozen=True)
class ChartPanel:
    """One chart: its title and Vega-Lite spec (None: no data in the window yet)."""

    title: str
    spec: dict[str, Any] | None

    def spec_for_page(self) -> dict[str, Any]:
        """A copy to hand to Streamlit, which edits the spec it is given (it takes the rows
        out, and fills in legend titles): the rows themselves are shared, not copied."""
        assert self.spec is not None
        spec = copy.deepcopy({k: v for k, v in self.spec.items() if k != "datasets"})
        spec["datasets"] = dict(self.spec["datasets"])
        return spec


# Altair builds and validates a chart's spec in Python, which costs far more than the data:
# the spec without its rows depends only on the kind of chart and the series it draws, so it
# is made once per process for each (kind, series) and each new interval only adds its rows.
_TEMPLATES = SharedCache(maxsize=256)


def chart_spec(
    build: Callable[..., alt.Chart], frame: pd.DataFrame, series: str | None, **options: Any
) -> dict[str, Any]:
    """``build(frame, **options)`` as a Vega-Lite spec whose rows are ``frame`` by name.

    ``series``: the column whose values pick the chart's colours and legend (the template is
    made for those values); None when the spec does not depend on the data.
    """
    present = () if series is None else tuple(sorted(frame[series].unique()))
    key = (build.__module__, build.__qualname__, series, present, tuple(sorted(options.items())))

    def template() -> dict[str, Any]:
        sample = frame.head(1) if series is None else frame.drop_duplicates(series)
        chart = build(sample, **options).properties(data=alt.NamedData(name=DATASET))
        return chart.to_dict()

    # Arrow once here, not in every page: Streamlit only serialises a table it is given.
    rows = pa.Table.from_pandas(frame)
    return {**_TEMPLATES.get(key, template), "datasets": {DATASET: rows}}


def build_chart_views(
    snap: Snapshot, sel: Selection, window: tuple[int | None, int | None]
) -> list[ChartPanel]:
    """The six charts of the selection over ``window``, in page order (two by two)."""
    start, end = window
    gen, emis = charts.build_fuel_frames(
        snap.facility_history,
        sel.facilities,
        regions=sel.regions,
        groups=sel.groups,
        start=start,
        end=end,
    )
    market = charts.build_market_frame(
        snap.region_history, regions=sel.regions, start=start, end=end
    )
    share = charts.build_renewable_share_frame(
        snap.facility_history, sel.facilities, regions=sel.regions, start=start, end=end
    )
    flows = charts.build_interchange_frame(
        snap.interchange_history, regions=sel.regions, start=start, end=end
    )
    line = charts.build_region_line_chart
    panels = [
        ("Generation by fuel group", gen, charts.build_generation_chart, "group", {}),
        (
            "Renewable share by region",
            share,
            line,
            "region",
            {"field": "share", "title": "renewable share", "share": True},
        ),
        ("Price by region", market, line, "region", {"field": "price", "title": "$/MWh"}),
        ("Demand by region", market, line, "region", {"field": "demand", "title": "MW"}),
        (
            "Net interchange by region",
            flows,
            line,
            "region",
            {"field": "net", "title": "MW in (+) or out (−)"},
        ),
        ("Emissions", emis, charts.build_emissions_chart, None, {}),
    ]
    return [
        ChartPanel(title, None if frame.empty else chart_spec(build, frame, series, **options))
        for title, frame, build, series, options in panels
    ]


@dataclass(frozen=True)
class TablesView:
    """The tables' frames: recent facility and market events, most and least utilised."""

    facility: pd.DataFrame
    market: pd.DataFrame
    most: pd.DataFrame
    least: pd.DataFrame


def build_tables_view(snap: Snapshot, sel: Selection) -> TablesView:
    most, least = tables.build_utilisation_tables(
        snap.facility_latest, sel.facilities, regions=sel.regions, groups=sel.groups
    )
    return TablesView(
        facility=tables.build_recent_facility_table(
            snap.recent_facility, sel.facilities, regions=sel.regions, groups=sel.groups
        ),
        market=tables.build_recent_market_table(snap.recent_market, regions=sel.regions),
        most=most,
        least=least,
    )
