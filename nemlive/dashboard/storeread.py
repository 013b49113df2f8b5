"""The page's reads of the history store: the backfill, the span, one range and its alerts
(no Streamlit).

Each read opens the store, reads and closes it. A store that cannot be read gives None, or a
line for the page, never an exception: the page then runs on the live stream, as it does
without a store. A driver's message can name the database user, so the reason goes to the
server's log and the page names the store by its kind and host only (``StoreUrl.for_viewers``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection

from nemlive.common.errors import StoreError, StoreUnavailable
from nemlive.common.nemtime import format_nem_epoch
from nemlive.common.timeguard import latest_allowed
from nemlive.dashboard import history
from nemlive.dashboard.livestate import LiveState
from nemlive.store import StoreUrl, open_store

log = logging.getLogger(__name__)


def backfill_from_store(state: LiveState, store_url: StoreUrl) -> str:
    """Fill ``state`` with the store's newest ``history_len`` intervals; a line for the page
    saying what happened (a store that cannot be read leaves the windows empty, as without
    one). The line names the store by its kind and host only: every viewer reads it, so the
    reason a read failed, which names the user, goes to the server's log."""
    where = store_url.for_viewers
    try:
        with open_store(store_url, create=False) as store:
            stored = history.read_backfill(
                store, state.history_span_s, state.known_facilities, time.time()
            )
        if stored is None or stored.end is None:
            return f"The store ({where}) holds nothing yet."
        kept = state.backfill(stored.facility, stored.region, stored.interchange)
    except StoreError as exc:
        log.warning("no backfill from %s: %s", store_url.display, exc)
        return explain_unread_store(where, exc)
    return f"Opened with {kept:,} values from {where}, to {format_nem_epoch(stored.end)} NEM."


def explain_unread_store(where: str, exc: StoreError) -> str:
    """The page's line for a store that could not be read: its kind of failure, not its text
    (a driver's message can name the database user)."""
    head = f"The store ({where}) could not be read, so the windows start empty"
    if isinstance(exc, StoreUnavailable):
        return f"{head} ({exc.kind}); the server's log says more."
    return f"{head}: it may need recorder.py to create or migrate it; the server's log says why."


def read_span(store_url: StoreUrl) -> tuple[int, int] | None:
    """The first and last interval ends (epoch seconds) the store holds, none ahead of the
    clock's allowance (None: empty or unreadable)."""
    try:
        with open_store(store_url, create=False) as store:
            span = store.span(at_most=latest_allowed(time.time()))
    except StoreError as exc:
        log.warning("cannot read the span of %s: %s", store_url.display, exc)
        return None
    return None if span is None else (span.first, span.last)


def read_range(
    store_url: StoreUrl, t0: int, t1: int, step_s: int, ids: Collection[str]
) -> history.StoredHistory | None:
    """The store's histories of ``t0 < ts <= t1`` at ``step_s`` of the facilities ``ids``
    and the regions (None: unreadable)."""
    try:
        with open_store(store_url, create=False) as store:
            return history.read_range(store, t0, t1, step_s, ids, time.time())
    except StoreError as exc:
        log.warning("cannot read %s: %s", store_url.display, exc)
        return None


def read_alerts(store_url: StoreUrl, t0: int, t1: int) -> history.StoredAlerts | None:
    """The store's alert state changes of ``t0 < at <= t1``, the newest
    ``history.MAX_ALERT_ROWS`` (None: unreadable)."""
    try:
        with open_store(store_url, create=False) as store:
            return history.read_alerts(store, t0, t1, time.time())
    except StoreError as exc:
        log.warning("cannot read the alerts of %s: %s", store_url.display, exc)
        return None
