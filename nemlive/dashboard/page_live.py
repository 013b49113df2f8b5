"""The page's live part: the figures, every ``refresh_s``; the map, facility detail, charts
and tables, every ``visuals_every_s``. Each is drawn from views built once per data version
for every viewer (``views``, ``sharedcache``), inside :func:`guarded`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from nemlive.dashboard import alertlist, charts, csvexport, history, mapview, views, wall
from nemlive.dashboard.config import DashboardConfig
from nemlive.dashboard.ingest import Hub
from nemlive.dashboard.livestate import Snapshot
from nemlive.dashboard.page_cache import Shared
from nemlive.dashboard.page_guard import guarded
from nemlive.dashboard.page_sidebar import render_status
from nemlive.dashboard.text import build_facility_markdown, escape_markdown
from nemlive.dashboard.views import Selection

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

ALERT_COLUMNS = {
    "since": st.column_config.TextColumn("since", width=150),
    "at": st.column_config.TextColumn("at", width=150),
    "value": st.column_config.NumberColumn("value", format="%.2f"),
    "threshold": st.column_config.NumberColumn("threshold", format="%.2f"),
}
SEEN_ALERTS_KEY = "nl_alerts_seen"  # the firing alerts this session was told of

FULL_RUN_KEY = "nl_full_run"  # set while the whole script runs (not a fragment)
DRAWN_KEY = "nl_visuals_max_ts"  # the newest interval the map and charts were drawn with
NOT_DRAWN = object()  # ... before they were drawn at all in this session


@guarded("figures")
def render_figures(view: views.FigureView) -> None:
    """The headline figures of the selection: one element of cards, two rows of four."""
    st.html(view.cards_html)


@guarded("map")
def render_map(view: views.MapView, options: mapview.MapOptions) -> None:
    """The deck of the selection, its legends, and a click that opens a facility's detail.
    The wall view's map is the screen's (``wall.WALL_CSS`` sizes it) with the price legend."""
    if options.wall:
        st.pydeck_chart(
            view.deck,
            height=wall.MAP_PX,
            key="wall_map",
            alt="Map of NEM regions coloured by price and facilities sized by output",
        )
        if view.price_legend:
            st.html(view.price_legend)
        return
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


def figure_view(shared: Shared, snap: Snapshot, sel: Selection, quiet: bool) -> views.FigureView:
    """The figures of ``snap`` (past: of the stored range), built once for every viewer."""
    if sel.past is not None:
        snap = views.with_past(snap, sel.past)
    key = views.view_key("figures", snap, sel, quiet)
    return shared.views.get(key, lambda: views.build_figure_view(snap, sel, quiet))


@guarded("alerts")
def render_alerts(counters: Snapshot) -> None:
    """The alerts on the bus: a toast for each firing one new to this session, the firing
    ones newest first and the last resolved (``alertlist``)."""
    seen = st.session_state.setdefault(SEEN_ALERTS_KEY, {})
    for text in alertlist.toast_texts(alertlist.take_new_firing(counters.alerts_firing, seen)):
        st.toast(text, icon="🚨")
    firing, resolved = counters.alerts_firing, counters.alerts_resolved
    title = f"Alerts: {len(firing):,} firing" if firing else "Alerts: none firing"
    with st.expander(title, expanded=bool(firing)):
        if firing:
            st.dataframe(
                alertlist.build_alert_table(firing),
                hide_index=True,
                width="stretch",
                column_config=ALERT_COLUMNS,
            )
        else:
            st.caption("No alert is firing (alerts.py publishes them; docs/alerts.md).")
        if counters.alert_overflow:
            st.caption(f"{counters.alert_overflow:,} more firing alerts were not kept.")
        if resolved:
            st.markdown(f"###### Last {len(resolved)} resolved")
            st.dataframe(
                alertlist.build_alert_table(resolved),
                hide_index=True,
                width="stretch",
                column_config=ALERT_COLUMNS,
            )


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
    if sel.options.wall:
        render_wall_band(view, counters)
    elif view.caption is None:
        st.info(
            f"Waiting for data on {escape_markdown(counters.topic)}/# from "
            f"{escape_markdown(counters.broker)}.",
            icon="⏳",
        )
    else:
        st.caption(view.caption)
    if not sel.options.wall:
        render_figures(view)
        render_alerts(counters)
    drawn = st.session_state.get(DRAWN_KEY, NOT_DRAWN)
    if (
        not in_full_run
        and sel.past is None
        and drawn is not NOT_DRAWN
        and views.visuals_behind(counters, drawn, shared.slow.every_s)
    ):
        st.rerun()


@guarded("figures")
def render_wall_band(view: views.FigureView, counters: Snapshot) -> None:
    """The wall view's top: the figures in one band with their changes, the firing alerts in
    one line and the freshness line, each only when it has something to say."""
    st.html(view.band_html)
    strip = wall.build_alert_strip_html(counters.alerts_firing, counters.alert_overflow)
    line = wall.build_wall_line_html(
        view.caption or f"Waiting for data on {counters.topic}/# from {counters.broker}."
    )
    st.html(strip + line)


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
    if sel.options.wall:
        return
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
        render_history_alerts(sel.past.alerts)
        st.caption("The tables list live events: pick *Live* in the sidebar to see them.")


@guarded("recorded alerts")
def render_history_alerts(stored: history.StoredAlerts | None) -> None:
    """History's alerts: the recorded state changes of the range, newest first (bounded)."""
    st.markdown("###### Recorded alerts")
    st.caption(alertlist.history_alerts_caption(stored))
    if stored is not None and stored.alerts:
        st.dataframe(
            alertlist.build_alert_table(stored.alerts),
            hide_index=True,
            width="stretch",
            column_config=ALERT_COLUMNS,
        )


def schedule_refresh(
    config: DashboardConfig,
) -> tuple[Callable[[Hub, Selection, Any, Shared], None], Callable[[Hub, Selection, Shared], None]]:
    """The figures' and the visuals' draw functions for this run, each on its own timer.

    By default each is a fragment that reruns itself (``st.fragment(run_every=...)``).
    ``NEMLIVE_REFRESH=autorefresh`` instead reruns the whole page every ``refresh_s`` with the
    streamlit-autorefresh component, the alternative ``bench/soak.py --refresh`` measures;
    without the component installed the page says so and uses the fragments. Called on every
    run: the component is an element of the page.
    """
    if config.refresh == "autorefresh":
        try:
            from streamlit_autorefresh import st_autorefresh
        except ImportError:
            st.error(
                "NEMLIVE_REFRESH=autorefresh needs `pip install streamlit-autorefresh`; using the fragment."
            )
        else:
            st_autorefresh(interval=int(config.refresh_s * 1000), key="autorefresh")
            return render_pulse, render_visuals
    pulse = st.fragment(run_every=config.refresh_s)(render_pulse)
    visuals = st.fragment(run_every=config.visuals_every_s)(render_visuals)
    return pulse, visuals


def render_wall_toggle(on: bool) -> bool:
    """The *Wall view* switch at the top of the page; whether it is on now."""
    return st.toggle(
        "Wall view",
        value=on,
        key=f"nl_wall_{on}",
        help="The map full screen with the headline figures above it, for a display across "
        "the room (the address ends ?view=wall).",
    )


def switch_view(to_wall: bool) -> None:
    """Put the wall view in the address (or take it out) and draw the page again."""
    if to_wall:
        st.query_params[wall.VIEW_PARAM] = wall.WALL
    else:
        st.query_params.pop(wall.VIEW_PARAM, None)
    st.rerun()
