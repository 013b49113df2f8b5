"""Extraction: the OpenElectricity v4 API -> consolidate.csv and data/facilities.csv.

* ``oeclient``: HTTP to the API: timeouts, pacing, retries, size cap, one-line errors.
* ``rollup``: API JSON -> unit series -> facility totals -> one wide table (pure).
* ``consolidate``: the cache's checks and its CSV, lookup and meta renderings (pure).
* ``pipeline``: the named steps of one extraction, which ``extractor.py`` runs.
"""

from nemlive.extract.oeclient import ClientSettings, OEClient
from nemlive.extract.pipeline import Extraction, RunResult, run_extraction

__all__ = ["ClientSettings", "Extraction", "OEClient", "RunResult", "run_extraction"]
