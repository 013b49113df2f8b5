"""The page's sidebar: the connection's status, the broker, the filters and map options, and
the range of history to show. Each part draws inside :func:`guarded`.
"""

from __future__ import annotations

import streamlit as st

from nemlive.common.errors import ConfigError
from nemlive.common.events import REGIONS
from nemlive.common.lookups import FUEL_GROUPS, FUEL_LABELS, Facility
from nemlive.common.mqttconfig import MqttSettings, retarget
from nemlive.common.nemtime import format_nem_epoch
from nemlive.dashboard import history, mapview, page_cache, views
from nemlive.dashboard.ingest import Hub
from nemlive.dashboard.livestate import Snapshot
from nemlive.dashboard.page_guard import guarded
from nemlive.dashboard.status import (
    describe_age,
    describe_credits,
    describe_mode,
    describe_publisher,
    describe_unknown,
)
from nemlive.dashboard.text import escape_markdown
from nemlive.dashboard.views import PastView, Selection
from nemlive.store import StoreUrl

STATUS_COLOURS = {
    "connected": "green",
    "connecting": "orange",
    "reconnecting": "orange",
    "down": "red",
    "stopped": "gray",
}
# Short enough for the sidebar's filter chips (context.REGION_NAMES has the full names).
REGION_CHIPS = {
    "NSW1": "NSW + ACT",
    "QLD1": "Queensland",
    "SA1": "South Australia",
    "TAS1": "Tasmania",
    "VIC1": "Victoria",
}


@guarded("status panel")
def render_status(snap: Snapshot) -> None:
    """What the stream is (replayed or live, from where), the connection state and counters
    (sidebar, under the title); settings and error texts are escaped."""
    st.caption(describe_mode(snap.publisher_status))
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
                    describe_unknown(
                        snap.unknown_ids,
                        snap.unknown_overflow,
                        snap.unknown_events,
                        markdown=False,
                    ),
                ),
                ("Last message", describe_age(snap.last_message_age_s), None),
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
        lines.append(f"Publisher: {describe_publisher(pub)}")
    else:
        lines.append("Publisher: no status received")
    credits = describe_credits(pub)
    if credits:
        lines.append(f"Data credits: {credits}")
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
    span = page_cache.load_span(store.display, store)
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
    loaded = page_cache.load_range(
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
    alerts = page_cache.load_alerts(store.display, store, choice.t0, choice.t1)
    return PastView(choice, loaded.facility, loaded.region, at_ts, loaded.interchange, alerts)
