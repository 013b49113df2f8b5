"""NEM Live dashboard: a live map, figures, charts and tables from the MQTT stream.

Run with ``streamlit run dashboard.py``. Configuration comes from the environment (see
``nemlive/dashboard/config.py``): ``MQTT_HOST``/``MQTT_PORT``/``MQTT_TOPIC``, ``NEMLIVE_FACILITIES``,
``NEMLIVE_REGIONS``.

One MQTT client per server process (``st.cache_resource``) writes into one LiveState from
paho's loop thread; every page copies a snapshot and renders it. The live part of the page is a
fragment that reruns every ``refresh_s`` seconds. Everything here is Streamlit layout; the
logic lives in ``nemlive/`` (livestate, ingest, mapview, charts).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pandas as pd
import streamlit as st

import context
from context import FUEL_GROUPS, FUEL_LABELS, Facility
from nemlive.common.errors import ConfigError, StoreError, StoreUnavailable
from nemlive.common.events import REGIONS
from nemlive.common.mqttconfig import MqttSettings, resolve_mqtt_settings, retarget
from nemlive.common.nemtime import format_nem_epoch
from nemlive.common.timeguard import latest_allowed
from nemlive.dashboard import charts, csvexport, history, mapview, status, views
from nemlive.dashboard.config import DashboardConfig, resolve_dashboard_config
from nemlive.dashboard.ingest import Hub
from nemlive.dashboard.livestate import LiveState, Snapshot
from nemlive.dashboard.sharedcache import SharedCache
from nemlive.dashboard.text import build_facility_markdown, escape_markdown
from nemlive.dashboard.views import PastView, Selection, SnapshotClock
from nemlive.store import StoreUrl, open_store

# --- constants ----------------------------------------------------------------------------

# A Hub placed under this session-state key replaces the process-wide one (tests, embedding).
HUB_KEY = "nemlive_hub"
STATUS_COLOURS = {
    "connected": "green",
    "connecting": "orange",
    "reconnecting": "orange",
    "down": "red",
    "stopped": "gray",
}
CSS = """
<style>
.nl-cards {display: grid; gap: 1rem; margin-bottom: 0.5rem;}
.nl-cols-4 {grid-template-columns: repeat(4, minmax(0, 1fr));}
.nl-cols-2 {grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 0.6rem;}
.nl-card {background: rgba(120,144,156,0.08); border-radius: 8px; padding: 8px 12px; min-width: 0;}
.nl-card[title] .nl-card-label {text-decoration: underline dotted rgba(49,51,63,0.4); cursor: help;}
.nl-card-label {font-size: 0.875rem; color: rgba(49,51,63,0.75); overflow: hidden; text-overflow: ellipsis; white-space: nowrap;}
.nl-card-value {font-size: 1.45rem; line-height: 1.6; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;}
.nl-cols-2 .nl-card-value {font-size: 1.25rem;}
.nemlive-legend img {vertical-align: middle;}
</style>
"""

# Headers with units and zone for the event tables (the CSV downloads keep the raw names).
TABLE_COLUMNS = {
    "received": st.column_config.DatetimeColumn(
        "received (NEM)", format="YYYY-MM-DD HH:mm:ss", width=160
    ),
    "timestamp": st.column_config.DatetimeColumn(
        "interval (NEM)", format="YYYY-MM-DD HH:mm", width=140
    ),
    "name": st.column_config.TextColumn("name", width=220),
    "power_mw": st.column_config.NumberColumn("power (MW)", format="%.1f"),
    "co2_tonnes": st.column_config.NumberColumn("CO₂-e (t/5 min)", format="%.3f"),
    "price_dmwh": st.column_config.NumberColumn("price ($/MWh)", format="%.2f"),
    "demand_mw": st.column_config.NumberColumn("demand (MW)", format="%.1f"),
    "capacity_mw": st.column_config.NumberColumn("capacity (MW)", format="%.0f"),
    "factor": st.column_config.ProgressColumn(
        "capacity factor", format="percent", min_value=0.0, max_value=1.0
    ),
}
# Short enough for the sidebar's filter chips (context.REGION_NAMES has the full names).
REGION_CHIPS = {
    "NSW1": "NSW + ACT",
    "QLD1": "Queensland",
    "SA1": "South Australia",
    "TAS1": "Tasmania",
    "VIC1": "Victoria",
}


log = logging.getLogger("dashboard")


P = ParamSpec("P")
R = TypeVar("R")


def guarded(part: str) -> Callable[[Callable[P, R]], Callable[P, R | None]]:
    """Draw one part of the page; if it fails, show one small error box in its place.

    No value that validation lets through is known to break a builder, but the page is shared:
    one part that fails must not take the rest of the page down for every viewer. The
    traceback goes to the server's log, never to the page; the part then returns None.
    Streamlit's own stop and rerun signals are BaseExceptions and pass through.
    """

    def wrap(render: Callable[P, R]) -> Callable[P, R | None]:
        @functools.wraps(render)
        def run(*args: P.args, **kwargs: P.kwargs) -> R | None:
            try:
                return render(*args, **kwargs)
            except Exception:
                log.exception("the %s failed to draw", part)
                st.error(f"The {part} could not be drawn; the rest of the page works.", icon="⚠️")
                return None

        return run

    return wrap


# --- cached loaders -----------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def load_lookups(
    facilities_path: str, regions_path: str
) -> tuple[dict[str, Facility], dict | None, list[str]]:
    """Facilities and simplified regions, once per process; messages say what is missing."""
    problems: list[str] = []
    facilities: dict[str, Facility] = {}
    regions: dict | None = None
    try:
        facilities = context.load_facilities(Path(facilities_path))
    except FileNotFoundError:
        problems.append(
            f"Facility lookup `{facilities_path}` not found: run `make data` (or "
            "`git checkout data/facilities.csv`, or set NEMLIVE_FACILITIES), then restart the "
            "dashboard. Until then facilities are counted as unknown and not drawn."
        )
    except (ValueError, OSError) as exc:
        problems.append(f"Facility lookup `{facilities_path}` is unreadable: {exc}")
    try:
        regions = mapview.simplify_regions(context.load_regions(Path(regions_path)))
    except FileNotFoundError:
        problems.append(
            f"Region polygons `{regions_path}` not found (set NEMLIVE_REGIONS): the map has no regions."
        )
    except (ValueError, OSError) as exc:
        problems.append(f"Region polygons `{regions_path}` are unreadable: {exc}")
    return facilities, regions, problems


def _release_hub(hub: Hub) -> None:
    """Stop the MQTT client when Streamlit drops the cached Hub."""
    hub.stop()


@st.cache_resource(
    show_spinner="Reading the last 24 hours from the store ...", on_release=_release_hub
)
def get_hub(
    _facilities: dict[str, Facility],
    facilities_path: str,
    host: str,
    port: int,
    topic: str,
    store_display: str | None,
    _store: StoreUrl | None,
) -> Hub:
    """The one MQTT client + LiveState of this server process (stopped on cache release).

    With a store, the windows are filled from its last 24 hours before the client starts, so
    the first page opens full. ``facilities_path`` and ``store_display`` are only part of the
    cache key: another lookup file or store gets a new Hub.
    """
    settings = resolve_mqtt_settings(os.environ, host=host, port=port, topic=topic)
    state = LiveState(_facilities.keys())
    note = backfill_from_store(state, _store) if _store is not None else ""
    hub = Hub(state, settings)
    hub.history_note = note
    return hub


def backfill_from_store(state: LiveState, store_url: StoreUrl) -> str:
    """Fill ``state`` with the store's newest ``history_len`` intervals; a line for the page
    saying what happened (a store that cannot be read leaves the windows empty, as without
    one). The line names the store by its kind and host only: every viewer reads it, so the
    reason a read failed, which names the user, goes to the server's log."""
    where = store_url.for_viewers
    try:
        with open_store(store_url, create=False) as store:
            stored = history.read_backfill(
                store, state.history_span_s, state.known_facilities, time.time()
            )
        if stored is None or stored.end is None:
            return f"The store ({where}) holds nothing yet."
        kept = state.backfill(stored.facility, stored.region, stored.interchange)
    except StoreError as exc:
        log.warning("no backfill from %s: %s", store_url.display, exc)
        return explain_unread_store(where, exc)
    return f"Opened with {kept:,} values from {where}, to {format_nem_epoch(stored.end)} NEM."


def explain_unread_store(where: str, exc: StoreError) -> str:
    """The page's line for a store that could not be read: its kind of failure, not its text
    (a driver's message can name the database user)."""
    head = f"The store ({where}) could not be read, so the windows start empty"
    if isinstance(exc, StoreUnavailable):
        return f"{head} ({exc.kind}); the server's log says more."
    return f"{head}: it may need recorder.py to create or migrate it; the server's log says why."


@st.cache_data(ttl=30, show_spinner=False)
def load_span(store_display: str, _store: StoreUrl) -> tuple[int, int] | None:
    """The first and last interval ends the store holds (None: empty or unreadable)."""
    try:
        with open_store(_store, create=False) as store:
            span = store.span(at_most=latest_allowed(time.time()))
    except StoreError as exc:
        log.warning("cannot read the span of %s: %s", store_display, exc)
        return None
    return None if span is None else (span.first, span.last)


@st.cache_data(ttl=60, max_entries=4, show_spinner="Reading the store ...")
def load_range(
    store_display: str, _store: StoreUrl, t0: int, t1: int, step_s: int, _ids: frozenset[str]
) -> history.StoredHistory | None:
    """The store's histories of ``t0 < ts <= t1`` at ``step_s`` of the lookup's facilities
    ``_ids`` (one lookup per server) and the regions (None: unreadable)."""
    try:
        with open_store(_store, create=False) as store:
            return history.read_range(store, t0, t1, step_s, _ids)
    except StoreError as exc:
        log.warning("cannot read %s: %s", store_display, exc)
        return None


# --- render functions ---------------------------------------------------------------------


def _age(seconds: float | None) -> str:
    """Seconds -> ``12 s ago`` / ``3 min ago`` / ``1.5 h ago``; None -> ``never``."""
    if seconds is None:
        return "never"
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


@guarded("status panel")
def render_status(snap: Snapshot) -> None:
    """Connection state and counters (sidebar); settings and error texts are escaped."""
    colour = STATUS_COLOURS.get(snap.status, "gray")
    word = "down — waiting for broker" if snap.status == "down" else snap.status
    st.markdown(
        f":{colour}[●] **{word}**  \n{escape_markdown(snap.broker)} · {escape_markdown(snap.topic)}"
    )
    if snap.status_detail:
        st.caption(escape_markdown(snap.status_detail))
    unknown = f"{snap.unknown_count:,}" + ("+" if snap.unknown_overflow else "")
    st.html(
        views.build_cards_html(
            [
                ("Received", f"{snap.received:,}", None),
                ("Messages/s", f"{snap.rate_per_s:,.1f}", None),
                ("Rejected", f"{snap.rejected:,}", None),
                ("Duplicates", f"{snap.duplicates:,}", None),
                (
                    "Unknown",
                    unknown,
                    status.describe_unknown(
                        snap.unknown_ids,
                        snap.unknown_overflow,
                        snap.unknown_events,
                        markdown=False,
                    ),
                ),
                ("Last message", _age(snap.last_message_age_s), None),
            ],
            columns=2,
        )
    )
    lines = []
    if snap.last_reject_reason:
        reasons = ", ".join(
            f"{escape_markdown(k)}: {v:,}" for k, v in sorted(snap.rejects_by_reason.items())
        )
        lines.append(
            f"Last reject reason: **{escape_markdown(snap.last_reject_reason)}** ({reasons})"
        )
    if snap.stale:
        lines.append(f"Older than the window: {snap.stale:,}")
    if snap.restarts:
        lines.append(f"Stream restarted: {snap.restarts:,} (window cleared)")
    lines.append(
        "Latest data: "
        + (format_nem_epoch(snap.max_ts) + " NEM" if snap.max_ts is not None else "none yet")
    )
    pub = snap.publisher_status
    if pub:
        lines.append(f"Publisher: {status.describe_publisher(pub)}")
    else:
        lines.append("Publisher: no status received")
    st.caption("  \n".join(lines))


@guarded("broker panel")
def render_broker_form(hub: Hub, configured: MqttSettings, editable: bool) -> None:
    """The broker and topic; a form to change them only when the operator allows it.

    Every viewer shares the server's one MQTT client, so by default nobody can steer it from
    the page (NEMLIVE_ALLOW_BROKER_CHANGE=1 lets them). A login configured on the server is
    sent only to the broker it was configured for (``mqttconfig.retarget``).
    """
    current = hub.settings
    if not editable:
        st.markdown(
            f"Broker **{escape_markdown(current.address)}** · topic "
            f"**{escape_markdown(current.topic)}/\\#**"
            + (" · TLS" if current.tls else "")
            + (" · login" if current.username else "")
        )
        st.caption(
            "Set by the operator where the server runs (MQTT_HOST, MQTT_PORT, MQTT_TOPIC); "
            "viewers cannot change it."
        )
        return
    with st.form("broker_form", border=False):
        host = st.text_input("Broker host", value=current.host, key="broker_host")
        port = st.number_input("Port", 1, 65535, value=current.port, step=1, key="broker_port")
        topic = st.text_input("Base topic", value=current.topic, key="broker_topic")
        submitted = st.form_submit_button("Connect / Reconnect", type="primary", width="stretch")
    if submitted:
        try:
            settings = retarget(configured, host, int(port), topic)
        except ConfigError as exc:
            st.error(escape_markdown(str(exc)))
            return
        hub.connect(settings)
        st.toast(
            f"Connecting to {escape_markdown(settings.address)} on {escape_markdown(settings.topic)}/#"
            + ("" if settings.username or not configured.username else " without the login")
        )


@guarded("figures")
def render_figures(view: views.FigureView) -> None:
    """The headline figures of the selection: one element of cards, two rows of four."""
    st.html(view.cards_html)


@guarded("map")
def render_map(view: views.MapView, options: mapview.MapOptions) -> None:
    """The deck of the selection, its legends, and a click that opens a facility's detail."""
    picked = st.pydeck_chart(
        view.deck,
        height=560,
        on_select="rerun",
        selection_mode="single-object",
        key="live_map",
        alt="Map of NEM facilities sized by their latest output",
    )
    fid = mapview.build_selected_facility(picked)
    if fid and fid != st.session_state.get("live_map_last_pick"):
        st.session_state["live_map_last_pick"] = fid
        st.session_state["live_detail"] = fid
    legend_cols = st.columns([3, 2])
    legend_cols[0].html(view.colour_legend)
    legend_cols[1].html(view.size_legend)
    if view.price_legend:
        st.html(view.price_legend)
    st.caption(
        f"{view.drawn:,} facilities drawn at their latest value"
        + ("" if options.markers else " (markers hidden)")
        + ("; names of the largest where they fit (zoom in for more)" if options.labels else "")
    )


@guarded("facility detail")
def render_detail(snap: Snapshot, sel: Selection) -> None:
    """Pick a facility (here or by clicking the map) to see its metadata and window."""
    facilities = sel.facilities
    ids = sorted(
        (f for f in snap.facility_history if f in facilities), key=lambda f: facilities[f].name
    )
    if st.session_state.get("live_detail") not in ids:
        st.session_state["live_detail"] = None
    fid = st.selectbox(
        "Facility",
        ids,
        index=None,
        format_func=lambda f: f"{facilities[f].name} ({f})",
        placeholder="Pick a facility or click one on the map",
        key="live_detail",
    )
    if not fid:
        return
    meta, hist = st.columns([1, 2])
    meta.markdown(build_facility_markdown(facilities[fid], snap.facility_latest.get(fid)))
    frame = charts.build_facility_history_frame(snap.facility_history.get(fid, []))
    hist.line_chart(frame, x="time", y=["power_mw"], height=180, x_label="", y_label="MW")
    hist.line_chart(
        frame,
        x="time",
        y=["co2_tonnes"],
        height=140,
        x_label="",
        y_label="t CO₂-e",
        color=["#6b7280"],
    )


@guarded("charts")
def render_charts(panels: list[views.ChartPanel]) -> None:
    """The six charts of the selection, two by two (``views.build_chart_views``)."""
    for row in (panels[:2], panels[2:4], panels[4:]):
        for col, panel in zip(st.columns(2), row, strict=False):
            with col:
                st.markdown(f"##### {panel.title}")
                if panel.spec is None:
                    st.caption("No data in the window yet.")
                else:
                    st.vega_lite_chart(spec=panel.spec_for_page(), width="stretch")


def render_event_table(table: pd.DataFrame, name: str) -> None:
    """One tab's table and its CSV download (``<name>_events.csv``)."""
    st.dataframe(table, hide_index=True, height=300, width="stretch", column_config=TABLE_COLUMNS)
    st.download_button(
        "Download CSV",
        # Deferred: a CSV made on every refresh would be a new media file each time, and a
        # browser still holding the previous one's URL gets a 404.
        partial(csvexport.build_csv, table),  # names and ids: formulas escaped
        f"{name}_events.csv",
        "text/csv",
        key=f"live_dl_{name}",
        on_click="ignore",
    )


@guarded("tables")
def render_tables(view: views.TablesView) -> None:
    """Recent facility and market events of the selection, in tabs."""
    fac_tab, mkt_tab, use_tab = st.tabs(
        ["Recent facility events", "Recent market events", "Most and least utilised"]
    )
    with fac_tab:
        render_event_table(view.facility, "facility")
    with mkt_tab:
        render_event_table(view.market, "market")
    with use_tab:
        st.caption("Latest output ÷ registered capacity; batteries and pumps left out.")
        left, right = st.columns(2)
        for col, title, table in (
            (left, "Most utilised", view.most),
            (right, "Least utilised", view.least),
        ):
            col.markdown(f"###### {title}")
            col.dataframe(table, hide_index=True, width="stretch", column_config=TABLE_COLUMNS)


@dataclass(frozen=True)
class Shared:
    """What every session of this server shares: the built views, and the snapshots the fast
    part (figures, every refresh) and the slow part (map, charts, tables) draw from."""

    views: SharedCache
    fast: SnapshotClock
    slow: SnapshotClock


@st.cache_resource(show_spinner=False)
def get_shared(visuals_every_s: float) -> Shared:
    return Shared(SharedCache(maxsize=128), SnapshotClock(0.0), SnapshotClock(visuals_every_s))


FULL_RUN_KEY = "nl_full_run"  # set while the whole script runs (not a fragment)
DRAWN_KEY = "nl_visuals_max_ts"  # the newest interval the map and charts were drawn with
NOT_DRAWN = object()  # ... before they were drawn at all in this session


def figure_view(shared: Shared, snap: Snapshot, sel: Selection, quiet: bool) -> views.FigureView:
    """The figures of ``snap`` (past: of the stored range), built once for every viewer."""
    if sel.past is not None:
        snap = views.with_past(snap, sel.past)
    key = views.view_key("figures", snap, sel, quiet)
    return shared.views.get(key, lambda: views.build_figure_view(snap, sel, quiet))


@guarded("live view")
def render_pulse(hub: Hub, sel: Selection, status_box: Any, shared: Shared) -> None:
    """The status (sidebar) and the figures: a fragment rerun every ``refresh_s`` seconds.

    Cheap when nothing changed: the counters are a small copy and the figures are built once
    per data version for every viewer. When a new interval comes 10 s or more after the one
    before (a live stream), the whole page reruns so that the map and charts show it now
    rather than on their own timer; so does the first data after an empty map.
    """
    counters = hub.state.snapshot(data=False)
    with status_box.container():
        render_status(counters)
    in_full_run = bool(st.session_state.get(FULL_RUN_KEY))
    snap = shared.fast.current(hub.state, counters, time.time(), force=in_full_run)
    view = figure_view(shared, snap, sel, views.is_quiet(counters))
    if view.caption is None:
        st.info(
            f"Waiting for data on {escape_markdown(counters.topic)}/# from "
            f"{escape_markdown(counters.broker)}.",
            icon="⏳",
        )
    else:
        st.caption(view.caption)
    render_figures(view)
    drawn = st.session_state.get(DRAWN_KEY, NOT_DRAWN)
    if (
        not in_full_run
        and sel.past is None
        and drawn is not NOT_DRAWN
        and views.visuals_behind(counters, drawn, shared.slow.every_s)
    ):
        st.rerun()


@guarded("live view")
def render_visuals(hub: Hub, sel: Selection, shared: Shared) -> None:
    """Map, facility detail, charts and tables: a fragment rerun every ``visuals_every_s``.

    Drawn from a snapshot renewed at most once per period for every viewer (see
    ``views.SnapshotClock``), so each map, chart and table is built once per period and
    selection, however many pages are open. With a past range picked in the sidebar, the same
    parts show the store's history: map at the chosen interval, charts over the range.
    """
    counters = hub.state.snapshot(data=False)
    in_full_run = bool(st.session_state.get(FULL_RUN_KEY))
    snap = shared.slow.current(hub.state, counters, time.time(), force=in_full_run)
    quiet = views.is_quiet(counters)
    view = figure_view(shared, snap, sel, quiet)
    st.session_state[DRAWN_KEY] = snap.max_ts
    if sel.past is not None:
        snap = views.with_past(snap, sel.past)
    get = shared.views.get
    render_map(
        get(views.view_key("map", snap, sel), lambda: views.build_map_view(snap, sel)),
        sel.options,
    )
    with st.expander("Facility detail", expanded=st.session_state.get("live_detail") is not None):
        render_detail(snap, sel)
    render_charts(
        get(
            views.view_key("charts", snap, sel, quiet),
            lambda: views.build_chart_views(snap, sel, view.window),
        )
    )
    if sel.past is None:
        render_tables(
            get(views.view_key("tables", snap, sel), lambda: views.build_tables_view(snap, sel))
        )
    else:
        st.caption("The tables list live events: pick *Live* in the sidebar to see them.")


def render_sidebar_controls(facilities: dict[str, Facility], regions_fc: dict | None) -> Selection:
    """Filters and map options; a filter with everything selected is returned as None."""
    st.subheader("Filters")
    regions = st.multiselect(
        "Regions",
        list(REGIONS),
        default=list(REGIONS),
        format_func=lambda r: f"{r} · {REGION_CHIPS[r]}",
        help="Regions of facilities and markets in the figures, map, charts and tables.",
        key="f_regions",
    )
    groups = st.multiselect(
        "Fuel groups",
        list(FUEL_GROUPS),
        default=list(FUEL_GROUPS),
        format_func=lambda g: FUEL_LABELS[g],
        key="f_groups",
    )
    st.subheader("Map")
    size_by = st.radio(
        "Size by",
        ["power", "emissions"],
        format_func=lambda s: {"power": "Power (MW)", "emissions": "Emissions (t)"}[s],
        horizontal=True,
        key="m_size",
    )
    c1, c2 = st.columns(2)
    markers = c1.toggle("Markers", value=True, key="m_markers")
    labels = c2.toggle("Labels", value=False, key="m_labels")
    polygons = c1.toggle("Regions", value=True, key="m_polygons")
    # Full width: in a half column the help icon truncates the label.
    basemap = st.toggle(
        "Basemap (online)",
        value=False,
        key="m_basemap",
        help="Fetches map tiles from Carto: requests leave the machine.",
    )
    options = mapview.MapOptions(
        size_by=size_by, labels=labels, markers=markers, polygons=polygons, basemap=basemap
    )
    # "All selected" is no filter, so facilities of groups outside the palette still show.
    return Selection(
        facilities=facilities,
        regions_fc=regions_fc,
        regions=None if set(regions) == set(REGIONS) else regions,
        groups=None if set(groups) == set(FUEL_GROUPS) else groups,
        options=options,
    )


@guarded("range control")
def render_range_control(store: StoreUrl, hub: Hub) -> PastView | None:
    """Live, or a day / the whole span from the store, with the interval to show."""
    st.subheader("History")
    if hub.history_note:
        st.caption(escape_markdown(hub.history_note))
    span = load_span(store.display, store)
    choices = history.build_range_choices(*(span or (None, None)))
    choice = st.selectbox(
        "Range",
        choices,
        format_func=lambda c: c.label,
        key="h_range",
        help="Live follows the stream; a day or the whole span reads what the recorder stored.",
    )
    if choice is None or choice.live:
        return None
    loaded = load_range(
        store.display, store, choice.t0, choice.t1, choice.step_s, hub.state.known_facilities
    )
    if loaded is None:
        st.warning("The store could not be read: showing live data.", icon="⚠️")
        return None
    stamps = history.stamps_of(loaded.facility, loaded.region)
    if not stamps:
        st.caption("Nothing stored in this range.")
        return None
    at_ts = st.select_slider(
        "Interval",
        stamps,
        value=stamps[-1],
        format_func=format_nem_epoch,
        key=f"h_at_{choice.t0}_{choice.step_s}",
        help="The figures and the map show this interval; the charts the whole range.",
    )
    return PastView(choice, loaded.facility, loaded.region, at_ts, loaded.interchange)


# --- layout -------------------------------------------------------------------------------

st.set_page_config(page_title="NEM Live", page_icon="⚡", layout="wide")
st.html(CSS)

try:
    CONFIG: DashboardConfig = resolve_dashboard_config(os.environ)
except ConfigError as exc:
    st.error(str(exc))
    st.stop()

FACILITIES, REGIONS_FC, PROBLEMS = load_lookups(
    str(CONFIG.facilities_path), str(CONFIG.regions_path)
)
HUB: Hub = st.session_state.get(HUB_KEY) or get_hub(
    FACILITIES,
    str(CONFIG.facilities_path),
    CONFIG.mqtt.host,
    CONFIG.mqtt.port,
    CONFIG.mqtt.topic,
    CONFIG.store.display if CONFIG.store else None,
    CONFIG.store,
)

SHARED = get_shared(CONFIG.visuals_every_s)
st.session_state[FULL_RUN_KEY] = True
if CONFIG.refresh == "autorefresh":
    try:
        from streamlit_autorefresh import st_autorefresh
    except ImportError:
        st.error(
            "NEMLIVE_REFRESH=autorefresh needs `pip install streamlit-autorefresh`; using the fragment."
        )
        pulse = st.fragment(run_every=CONFIG.refresh_s)(render_pulse)
        visuals = st.fragment(run_every=CONFIG.visuals_every_s)(render_visuals)
    else:
        st_autorefresh(interval=int(CONFIG.refresh_s * 1000), key="autorefresh")
        pulse, visuals = render_pulse, render_visuals
else:
    pulse = st.fragment(run_every=CONFIG.refresh_s)(render_pulse)
    visuals = st.fragment(run_every=CONFIG.visuals_every_s)(render_visuals)

with st.sidebar:
    st.title("⚡ NEM Live")
    st.caption("Australia's National Electricity Market, replayed over MQTT.")
    with st.expander("Broker", expanded=False):
        render_broker_form(HUB, CONFIG.mqtt, CONFIG.allow_broker_change)
    STATUS_BOX = st.empty()
    SELECTION = render_sidebar_controls(FACILITIES, REGIONS_FC)
    if CONFIG.store is not None:
        SELECTION = replace(SELECTION, past=render_range_control(CONFIG.store, HUB))

st.title("NEM Live", anchor=False)
st.caption(
    "Generation, emissions, price and demand across the National Electricity Market: "
    f"figures refreshed every {CONFIG.refresh_s:g} s and the map and charts every "
    f"{CONFIG.visuals_every_s:g} s from the MQTT stream. Times are NEM time (UTC+10)."
)
for problem in PROBLEMS:
    st.warning(problem, icon="⚠️")
try:
    pulse(HUB, SELECTION, STATUS_BOX, SHARED)
    visuals(HUB, SELECTION, SHARED)
finally:
    st.session_state[FULL_RUN_KEY] = False
