"""NEM time, in one place: a fixed UTC+10 offset with no daylight saving, as the OE API uses.

Every conversion between epoch seconds, aware datetimes and NEM-time text goes through here,
and so does the range every part of the project accepts for an interval timestamp:

* ``NEM_START``: the NEM began trading on 1998-12-13 (NEM time); no real interval is older.
* ``LATEST``: 2200-01-01 UTC. The page converts times with pandas, whose datetimes end in
  April 2262, and Python's in year 9999; 2200 keeps every window and offset arithmetic far
  inside both, while a replay that moves a week forward on every pass needs months of
  non-stop looping to get there (see docs/security.md, "Safe to expose").

``in_range`` says whether an epoch time is inside; the formatters return ``OUT_OF_RANGE_TEXT``
rather than raise for a time outside it, so no value can make the page fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd

NEM_TZ = timezone(timedelta(hours=10))
INTERVAL = timedelta(minutes=5)
INTERVAL_S = 300
NEM_START = datetime(1998, 12, 13, tzinfo=NEM_TZ)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
NEM_START_EPOCH = int(NEM_START.timestamp())
LATEST_EPOCH = int(LATEST.timestamp())
OUT_OF_RANGE_TEXT = "(time out of range)"
_OFFSET_S = 10 * 3600


def in_range(epoch_s: float) -> bool:
    """True when ``epoch_s`` lies in [NEM_START, LATEST): a time the page can always show."""
    return NEM_START_EPOCH <= epoch_s < LATEST_EPOCH


def parse_naive(text: str) -> datetime:
    """Parse ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` as naive NEM time; raise ValueError."""
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not YYYY-MM-DD or YYYY-MM-DDTHH:MM (naive NEM time)")


def last_nem_midnight(now: datetime | None = None) -> datetime:
    """The most recent midnight in NEM time, as a naive datetime."""
    now = now or datetime.now(UTC)
    local = now.astimezone(NEM_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)


def format_nem(ts: datetime) -> str:
    """``2025-10-15T10:05:00+10:00``: aware NEM time, seconds precision, as the API writes it.

    A naive ``ts`` is taken to be NEM time already.
    """
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=NEM_TZ)
    return ts.astimezone(NEM_TZ).isoformat(timespec="seconds")


def format_request_time(ts: datetime) -> str:
    """Naive NEM datetime -> ``2025-10-01T00:00:00``: the API rejects any offset (400)."""
    return ts.replace(tzinfo=None).isoformat(timespec="seconds")


def epoch_to_nem_naive(epoch_s: float) -> datetime | None:
    """Epoch seconds -> naive NEM-time datetime (chart axes, tables); None when out of range."""
    if not in_range(epoch_s):
        return None
    return datetime.fromtimestamp(epoch_s, UTC).astimezone(NEM_TZ).replace(tzinfo=None)


def format_nem_epoch(epoch_s: float, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Epoch seconds -> ``2025-10-15 10:05`` in NEM time; ``OUT_OF_RANGE_TEXT`` when out of range."""
    when = epoch_to_nem_naive(epoch_s)
    return OUT_OF_RANGE_TEXT if when is None else when.strftime(fmt)


def nem_naive_index(epochs: Sequence[int]) -> pd.DatetimeIndex:
    """Epoch seconds -> naive NEM-time datetimes, vectorised (chart axes).

    Times out of range become NaT, so a chart leaves the point out instead of failing.
    """
    kept: Sequence[int | None] = epochs
    if epochs and (min(epochs) < NEM_START_EPOCH or max(epochs) >= LATEST_EPOCH):
        kept = [e if NEM_START_EPOCH <= e < LATEST_EPOCH else None for e in epochs]
    return pd.DatetimeIndex(pd.to_datetime(kept, unit="s")) + pd.Timedelta(seconds=_OFFSET_S)
