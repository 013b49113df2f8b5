"""NEM Live dashboard: a live map, figures, charts and tables from the MQTT stream.

Run with ``streamlit run dashboard.py``. Configuration comes from the environment (see
``nemlive/dashboard/config.py``): ``MQTT_HOST``/``MQTT_PORT``/``MQTT_TOPIC``, ``NEMLIVE_FACILITIES``,
``NEMLIVE_REGIONS``.

One MQTT client per server process (``st.cache_resource``) writes into one LiveState from
paho's loop thread; every page copies a snapshot and renders it. The live part of the page is a
fragment that reruns every ``refresh_s`` seconds. This file is the page's layout only: Streamlit
runs it on every interaction. The parts it calls are in ``nemlive/dashboard/``: the cached
loaders (``page_cache``), the sidebar (``page_sidebar``), the live part (``page_live``) and the
pure builders they draw (views, charts, mapview, tables).
"""

from __future__ import annotations

import os
from dataclasses import replace

import streamlit as st

from nemlive.common import ConfigError
from nemlive.dashboard import page_cache, page_live, page_sidebar, wall
from nemlive.dashboard.config import DashboardConfig, resolve_dashboard_config
from nemlive.dashboard.style import CSS

st.set_page_config(page_title="NEM Live", page_icon="⚡", layout="wide")
st.html(CSS)
WALL = wall.is_wall(st.query_params)
if WALL:
    st.html(wall.WALL_CSS)

try:
    CONFIG: DashboardConfig = resolve_dashboard_config(os.environ)
except ConfigError as exc:
    st.error(str(exc))
    st.stop()

FACILITIES, REGIONS_FC, PROBLEMS = page_cache.load_lookups(
    str(CONFIG.facilities_path), str(CONFIG.regions_path)
)
HUB = page_cache.select_hub(CONFIG, FACILITIES)
SHARED = page_cache.get_shared(CONFIG.visuals_every_s)
st.session_state[page_live.FULL_RUN_KEY] = True
pulse, visuals = page_live.schedule_refresh(CONFIG)

with st.sidebar:
    st.title("⚡ NEM Live")
    STATUS_BOX = st.empty()  # what the stream is (its words follow the mode), and its status
    with st.expander("Broker", expanded=False):
        page_sidebar.render_broker_form(HUB, CONFIG.mqtt, CONFIG.allow_broker_change)
    SELECTION = page_sidebar.render_sidebar_controls(FACILITIES, REGIONS_FC)
    if CONFIG.store is not None:
        SELECTION = replace(SELECTION, past=page_sidebar.render_range_control(CONFIG.store, HUB))
SELECTION = replace(SELECTION, options=replace(SELECTION.options, wall=WALL))

if WALL:
    WALL_ON = page_live.render_wall_toggle(True)
else:
    TITLE, TOGGLE = st.columns([5, 1], vertical_alignment="center")
    TITLE.title("NEM Live", anchor=False)
    with TOGGLE:
        WALL_ON = page_live.render_wall_toggle(False)
    st.caption(
        "Generation, emissions, price and demand across the National Electricity Market: "
        f"figures refreshed every {CONFIG.refresh_s:g} s and the map and charts every "
        f"{CONFIG.visuals_every_s:g} s from the MQTT stream. Times are NEM time (UTC+10)."
    )
if WALL_ON != WALL:
    page_live.switch_view(WALL_ON)
for problem in PROBLEMS:
    st.warning(problem, icon="⚠️")
try:
    pulse(HUB, SELECTION, STATUS_BOX, SHARED)
    visuals(HUB, SELECTION, SHARED)
finally:
    st.session_state[page_live.FULL_RUN_KEY] = False
