"""The dashboard's configuration, resolved once from the environment into a frozen dataclass.

* ``MQTT_HOST``, ``MQTT_PORT``, ``MQTT_TOPIC`` ... : see ``nemlive.common.mqttconfig``.
* ``NEMLIVE_FACILITIES``: the facility lookup (default ``data/facilities.csv``, docs/contracts.md §5).
* ``NEMLIVE_REGIONS``: the region polygons (default ``data/regions.geojson``).
* ``NEMLIVE_REFRESH``: ``fragment`` (default, ``st.fragment(run_every=...)``) or
  ``autorefresh`` (the streamlit-autorefresh component, kept for the refresh benchmark).
* ``NEMLIVE_REFRESH_S``: seconds between refreshes of the status and figures (default 2).
* ``NEMLIVE_VISUALS_S``: seconds between refreshes of the map, charts and tables (default 10,
  at least ``NEMLIVE_REFRESH_S``); a new interval that comes this long or longer after the one
  before is drawn at the next figure refresh instead.
* ``NEMLIVE_ALLOW_BROKER_CHANGE``: ``1`` lets viewers change the broker, port and topic from
  the sidebar (default ``0``: the sidebar only shows them). The server's one MQTT client is
  shared by every viewer, so only the operator should steer it; see ``mqttconfig.retarget``
  for what is sent when a viewer does.
* ``NEMLIVE_STORE``: the recorder's store (``sqlite:///nemlive.db``, ``postgresql://...``): the
  windows open filled from it, and the sidebar can look back over what it holds. Unset: live
  only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nemlive.common import lookups
from nemlive.common.errors import ConfigError
from nemlive.common.mqttconfig import MqttSettings, parse_bool, resolve_mqtt_settings
from nemlive.store.url import StoreUrl, parse_store_url

RefreshMode = Literal["fragment", "autorefresh"]


@dataclass(frozen=True)
class DashboardConfig:
    mqtt: MqttSettings
    facilities_path: Path
    regions_path: Path
    refresh: RefreshMode = "fragment"
    refresh_s: float = 2.0
    visuals_every_s: float = 10.0
    allow_broker_change: bool = False
    store: StoreUrl | None = None  # NEMLIVE_STORE: backfill and look back (None: live only)


def _seconds(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    try:
        value = float(env.get(name) or default)
    except ValueError:
        raise ConfigError(f"{name} is not a number: use e.g. {default:g}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range: use {low:g} to {high:g} seconds")
    return value


def resolve_dashboard_config(env: Mapping[str, str]) -> DashboardConfig:
    """Environment -> DashboardConfig; raise ConfigError naming the bad variable."""
    refresh = (env.get("NEMLIVE_REFRESH") or "fragment").strip().lower()
    if refresh not in ("fragment", "autorefresh"):
        raise ConfigError(f"NEMLIVE_REFRESH={refresh!r} is not valid: use fragment or autorefresh")
    refresh_s = _seconds(env, "NEMLIVE_REFRESH_S", 2.0, 0.5, 60)
    visuals_s = _seconds(env, "NEMLIVE_VISUALS_S", max(10.0, refresh_s), refresh_s, 600)
    return DashboardConfig(
        mqtt=resolve_mqtt_settings(env),
        facilities_path=Path(env.get("NEMLIVE_FACILITIES") or lookups.FACILITIES_CSV),
        regions_path=Path(env.get("NEMLIVE_REGIONS") or lookups.REGIONS_GEOJSON),
        refresh=refresh,  # type: ignore[arg-type]
        refresh_s=refresh_s,
        visuals_every_s=visuals_s,
        allow_broker_change=parse_bool(
            "NEMLIVE_ALLOW_BROKER_CHANGE", env.get("NEMLIVE_ALLOW_BROKER_CHANGE", "")
        ),
        store=parse_store_url(env["NEMLIVE_STORE"], "NEMLIVE_STORE")
        if env.get("NEMLIVE_STORE", "").strip()
        else None,
    )
