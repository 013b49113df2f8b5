"""Open a store from its URL: the one place that picks the backend."""

from __future__ import annotations

from nemlive.store.base import Store
from nemlive.store.url import StoreUrl, parse_store_url


def open_store(url: StoreUrl | str, *, create: bool = True) -> Store:
    """Connect to the store at ``url`` and bring its schema up to date.

    ``create=False`` (a dashboard): never create or migrate; a store without the tables, or
    at an older version, is a StoreError asking to run recorder.py. A store at a newer
    version is always refused (StoreError). Unreachable, read-only, full or locked:
    StoreUnavailable. A bad URL: ConfigError.
    """
    parsed = url if isinstance(url, StoreUrl) else parse_store_url(url)
    if parsed.backend == "sqlite":
        from nemlive.store.sqlite import SqliteStore

        return SqliteStore(parsed, create=create)
    # psycopg loads libpq: only users of PostgreSQL pay for the import.
    from nemlive.store.postgres import PostgresStore

    return PostgresStore(parsed, create=create)
