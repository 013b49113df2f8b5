"""The dashboard's library: the live state fed by MQTT, and pure builders of the page.

* ``livestate``: the locked, bounded state the MQTT thread writes and the page reads.
* ``ingest``: the one MQTT client per server process that feeds it.
* ``charts``, ``tables``: the headline figures, chart frames, charts and tables (pure).
* ``text``, ``status``: Markdown escaping of text from the wire; the status panel's texts (pure).
* ``mapview``, ``icons``: the PyDeck layers and the icon atlas (pure).
* ``config``: the dashboard's settings from the environment.
* ``storeread``: the page's reads of the history store.
* ``page_*``: the page's Streamlit parts (cached loaders, sidebar, live part), which
  ``dashboard.py`` lays out; no other module of the library imports Streamlit.
"""

from nemlive.dashboard.config import DashboardConfig, resolve_dashboard_config
from nemlive.dashboard.ingest import Hub, Ingest
from nemlive.dashboard.livestate import LiveState, Snapshot

__all__ = [
    "DashboardConfig",
    "Hub",
    "Ingest",
    "LiveState",
    "Snapshot",
    "resolve_dashboard_config",
]
