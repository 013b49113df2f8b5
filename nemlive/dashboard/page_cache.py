"""What the page keeps across reruns and sessions: the lookups, the one MQTT client (Hub), the
store's reads for a while, and the views every session shares.

Streamlit keys these caches on each function's module and name, so they are shared by every
session of the server process; the page calls them on every run and gets the cached value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from nemlive.common.lookups import Facility, load_facilities, load_regions
from nemlive.common.mqttconfig import resolve_mqtt_settings
from nemlive.dashboard import history, mapview, storeread
from nemlive.dashboard.config import DashboardConfig
from nemlive.dashboard.ingest import Hub
from nemlive.dashboard.livestate import LiveState
from nemlive.dashboard.sharedcache import SharedCache
from nemlive.dashboard.views import SnapshotClock
from nemlive.store import StoreUrl

# A Hub placed under this session-state key replaces the process-wide one (tests, embedding).
HUB_KEY = "nemlive_hub"


@st.cache_resource(show_spinner=False)
def load_lookups(
    facilities_path: str, regions_path: str
) -> tuple[dict[str, Facility], dict | None, list[str]]:
    """Facilities and simplified regions, once per process; messages say what is missing."""
    problems: list[str] = []
    facilities: dict[str, Facility] = {}
    regions: dict | None = None
    try:
        facilities = load_facilities(Path(facilities_path))
    except FileNotFoundError:
        problems.append(
            f"Facility lookup `{facilities_path}` not found: run `make data` (or "
            "`git checkout data/facilities.csv`, or set NEMLIVE_FACILITIES), then restart the "
            "dashboard. Until then facilities are counted as unknown and not drawn."
        )
    except (ValueError, OSError) as exc:
        problems.append(f"Facility lookup `{facilities_path}` is unreadable: {exc}")
    try:
        regions = mapview.simplify_regions(load_regions(Path(regions_path)))
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
    note = storeread.backfill_from_store(state, _store) if _store is not None else ""
    hub = Hub(state, settings)
    hub.history_note = note
    return hub


def select_hub(config: DashboardConfig, facilities: dict[str, Facility]) -> Hub:
    """This session's Hub: one placed in session state under ``HUB_KEY`` (a test's or an
    embedding page's), else the server process's own (:func:`get_hub`)."""
    return st.session_state.get(HUB_KEY) or get_hub(
        facilities,
        str(config.facilities_path),
        config.mqtt.host,
        config.mqtt.port,
        config.mqtt.topic,
        config.store.display if config.store else None,
        config.store,
    )


@st.cache_data(ttl=30, show_spinner=False)
def load_span(store_display: str, _store: StoreUrl) -> tuple[int, int] | None:
    """The first and last interval ends the store holds (None: empty or unreadable)."""
    return storeread.read_span(_store)


@st.cache_data(ttl=60, max_entries=4, show_spinner="Reading the store ...")
def load_range(
    store_display: str, _store: StoreUrl, t0: int, t1: int, step_s: int, _ids: frozenset[str]
) -> history.StoredHistory | None:
    """The store's histories of ``t0 < ts <= t1`` at ``step_s`` of the lookup's facilities
    ``_ids`` (one lookup per server) and the regions (None: unreadable)."""
    return storeread.read_range(_store, t0, t1, step_s, _ids)


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def load_alerts(
    store_display: str, _store: StoreUrl, t0: int, t1: int
) -> history.StoredAlerts | None:
    """The store's alert state changes of ``t0 < at <= t1``, newest first and bounded (None:
    unreadable)."""
    return storeread.read_alerts(_store, t0, t1)


@dataclass(frozen=True)
class Shared:
    """What every session of this server shares: the built views, and the snapshots the fast
    part (figures, every refresh) and the slow part (map, charts, tables) draw from."""

    views: SharedCache
    fast: SnapshotClock
    slow: SnapshotClock


@st.cache_resource(show_spinner=False)
def get_shared(visuals_every_s: float) -> Shared:
    """The process's one :class:`Shared`, its map and charts renewed every ``visuals_every_s``."""
    return Shared(SharedCache(maxsize=128), SnapshotClock(0.0), SnapshotClock(visuals_every_s))
