"""Extraction: the OpenElectricity v4 API -> consolidate.csv and data/facilities.csv.

* ``oeclient``: HTTP to the API: timeouts, pacing, retries, size cap, one-line errors.
* ``rollup``: API JSON -> unit series -> facility totals -> one wide table (pure).
* ``consolidate``: the cache's checks and its CSV, lookup and meta renderings (pure).
* ``pipeline``: the named steps of one extraction, which ``extractor.py`` runs.
"""

from nemlive.extract.cachekeeper import FollowSettings, run_follow
from nemlive.extract.oeclient import (
    DEFAULT_API_URL,
    KEY_SIGNUP_URL,
    ClientSettings,
    OEClient,
    display_url,
)
from nemlive.extract.pipeline import Clock, Extraction, RunResult, run_extraction

__all__ = [
    "DEFAULT_API_URL",
    "KEY_SIGNUP_URL",
    "ClientSettings",
    "Clock",
    "Extraction",
    "FollowSettings",
    "OEClient",
    "RunResult",
    "display_url",
    "run_extraction",
    "run_follow",
]
