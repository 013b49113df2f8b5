"""NEM time: a fixed UTC+10 offset with no daylight saving, as the OE API uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

NEM_TZ = timezone(timedelta(hours=10))
INTERVAL = timedelta(minutes=5)


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
    """``2025-10-15T10:05:00+10:00``: aware NEM time, seconds precision, as the API writes it."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=NEM_TZ)
    return ts.astimezone(NEM_TZ).isoformat(timespec="seconds")
