"""The plain data the store takes and gives (pure, no database).

A reading is a tuple ``(id, ts, a, b)``: ``ts`` the interval's end in integer UTC epoch
seconds; ``a, b`` = ``power_mw`` (MW), ``co2_tonnes`` (t CO2-e in that 5 minutes) for a
facility, ``price_dmwh`` ($/MWh), ``demand_mw`` (MW) for a region's market, ``imports_mw``,
``exports_mw`` (MW into and out of it) for its interchange; None = no data.
Reads give :data:`Point` tuples ``(ts, a, b)``, the shape the dashboard keeps in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

from nemlive.common import nemtime

if TYPE_CHECKING:
    from nemlive.common.events import AlertEvent

Reading = tuple[str, int, float | None, float | None]
Point = tuple[int, float | None, float | None]
# Seconds per point of a read: 5 minutes as recorded, or averaged to 30 minutes, 1 hour or
# one NEM day.
Resolution = Literal[300, 1800, 3600, 86400]
RESOLUTIONS: tuple[Resolution, ...] = (300, 1800, 3600, 86400)
# Resolutions kept pre-averaged in the rollup tables, so a week's chart reads few rows.
ROLLUP_STEPS: tuple[int, ...] = (1800, 3600, 86400)
DAY_STEP = 86400
# The daily rollup averages the day's hourly averages (24 rows, not 288 readings, per write):
# the same as the readings' average when no interval of the day is missing.
DAY_SOURCE_STEP = 3600
INTERVAL_S = nemtime.INTERVAL_S  # one interval, seconds
# Buckets are aligned on NEM midnight (UTC+10, no daylight saving), so a day's bucket is a NEM
# day; for 30 minutes and 1 hour that is the same as aligning on the epoch.
BUCKET_ORIGIN_S = -10 * 3600


class AlertRecord(NamedTuple):
    """One alert state change as the store keeps it (``alert_events``; docs/alerts.md).

    ``since``, ``at``: the interval it fired and this message's (UTC epoch s);
    ``received_at``: when the recorder received it (epoch s).
    """

    rule: str
    kind: str
    subject: str
    state: str
    since: int
    at: int
    value: float | None
    threshold: float
    received_at: int

    @classmethod
    def of(cls, alert: AlertEvent, received_at: float) -> AlertRecord:
        """The row of a validated alert message received at ``received_at`` (epoch s)."""
        return cls(
            alert.rule,
            alert.kind,
            alert.subject,
            alert.state,
            int(alert.since.timestamp()),
            int(alert.at.timestamp()),
            alert.value,
            alert.threshold,
            int(received_at),
        )

    @property
    def key(self) -> tuple[str, str, str, int, int]:
        """What makes it unique: a repeat of one message has the same key."""
        return (self.rule, self.subject, self.state, self.since, self.at)


@dataclass(frozen=True)
class Span:
    """The first and last interval ends held (UTC epoch seconds) and the readings held."""

    first: int
    last: int
    facility_readings: int
    market_readings: int
    interchange_readings: int = 0


@dataclass(frozen=True)
class Pruned:
    """What one prune did (times: UTC epoch seconds of interval ends).

    ``held``: readings (facility, market and interchange) before the prune (PostgreSQL: 0
    when it dropped nothing), ``deleted`` of them: those with ``ts < cutoff``. ``reference`` is what the cutoff counts back from: the
    newest reading not ahead of the clock; ``newest`` the newest held, ahead or not. None
    where there is no such reading (nothing is then deleted).
    """

    deleted: int
    held: int
    cutoff: int | None = None
    newest: int | None = None
    reference: int | None = None
    partitions: int = 0  # monthly partitions dropped (PostgreSQL)

    @property
    def skipped_future(self) -> bool:
        """True when the store holds readings ahead of the clock, which retention ignores."""
        return self.newest is not None and self.newest != self.reference

    @property
    def share(self) -> float:
        """The share of the readings held that were deleted, 0 to 1."""
        return self.deleted / self.held if self.held else 0.0


def dedupe_readings(readings: Iterable[Reading]) -> list[Reading]:
    """The last reading of each ``(id, ts)``, in first-seen order.

    One batch can hold the same key twice (a retained copy and the live message);
    PostgreSQL refuses to update one row twice in one INSERT ... ON CONFLICT.
    """
    latest: dict[tuple[str, int], Reading] = {}
    for reading in readings:
        latest[reading[0], reading[1]] = reading
    return list(latest.values())


def dedupe_alerts(alerts: Iterable[AlertRecord]) -> list[AlertRecord]:
    """The first of each :attr:`AlertRecord.key`, in arrival order (a repeat is one event)."""
    first: dict[tuple[str, str, str, int, int], AlertRecord] = {}
    for alert in alerts:
        first.setdefault(alert.key, alert)
    return list(first.values())


def check_resolution(step_s: int) -> Resolution:
    """``step_s`` if it is one of RESOLUTIONS; ValueError otherwise."""
    if step_s not in RESOLUTIONS:
        raise ValueError(f"resolution {step_s} s: use one of {', '.join(map(str, RESOLUTIONS))}")
    return step_s  # type: ignore[return-value]


def bucket_end(ts: int, step_s: int) -> int:
    """The end of the ``step_s`` bucket holding the interval that ends at ``ts``.

    Interval-ending, like the data: with 30-minute buckets the intervals ending 00:05 to
    00:30 make the point at 00:30; a day's bucket ends at NEM midnight. The SQL of both
    backends computes the same.
    """
    return -(-(ts - BUCKET_ORIGIN_S) // step_s) * step_s + BUCKET_ORIGIN_S


def touched_buckets(readings: Iterable[Reading]) -> list[tuple[str, int, int]]:
    """``(id, step_s, bucket_end)`` of every rollup bucket that ``readings`` change, once each."""
    seen: set[tuple[str, int, int]] = set()
    for ident, ts, _a, _b in readings:
        for step in ROLLUP_STEPS:
            seen.add((ident, step, bucket_end(ts, step)))
    return sorted(seen)
