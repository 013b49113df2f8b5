"""The history store the recorder writes and the dashboard reads: SQLite or PostgreSQL.

    from nemlive.store import open_store
    with open_store("sqlite:///nemlive.db") as store:
        store.write(facility_readings, market_readings, interchange_readings)  # one transaction
        history = store.read_facilities(t0, t1, step_s=1800)   # also read_markets, read_interchange

Times are integer UTC epoch seconds of interval ends; a window holds ``t0 < ts <= t1``
(the intervals covering t0..t1). The
schema (``nemlive.store.schema``) is a contract that other tools query.
"""

from nemlive.common.errors import StoreError, StoreUnavailable
from nemlive.store.base import Store
from nemlive.store.factory import open_store
from nemlive.store.rows import (
    INTERVAL_S,
    RESOLUTIONS,
    AlertRecord,
    Point,
    Pruned,
    Reading,
    Resolution,
    Span,
    bucket_end,
    dedupe_alerts,
    dedupe_readings,
)
from nemlive.store.schema import SCHEMA_VERSION
from nemlive.store.url import DEFAULT_STORE_URL, StoreUrl, parse_store_url, scrub

__all__ = [
    "DEFAULT_STORE_URL",
    "INTERVAL_S",
    "RESOLUTIONS",
    "SCHEMA_VERSION",
    "AlertRecord",
    "Point",
    "Pruned",
    "Reading",
    "Resolution",
    "Span",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoreUrl",
    "bucket_end",
    "dedupe_alerts",
    "dedupe_readings",
    "open_store",
    "parse_store_url",
    "scrub",
]
