"""The simulator's clock, and which intervals have settled by it (docs/oe-api.md §7).

Simulated time runs ``speed`` times faster than the wall clock from a chosen start:
:func:`simulated_epoch` is the pure mapping (wall epoch seconds -> simulated epoch seconds),
so it is tested without sleeping. :class:`SimClock` wraps it as the ``config.clock``
callable the API reads ("now" as an aware UTC datetime).

An interval is stamped with its end (interval-ending, AEMO's settlement time). The one
stamped ``T`` is served from ``T + SETTLE_DELAY_S``: the real server withholds the newest
interval it has stored (it may still be settling), and the simulator assumes an interval is
stored one interval after its end (the real lag is not documented). So at 12:17:30 the
newest stored interval is 12:10, withheld, and the newest served is 12:05 (12:00-12:05).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

INTERVAL_S = 300
# From an interval's end until the server serves it: 5 minutes until it is stored (assumed),
# 5 more until a newer one is stored behind it (the newest stored one is withheld).
SETTLE_DELAY_S = 600
NEM_TZ = timezone(timedelta(hours=10))


def simulated_epoch(wall_s: float, anchor_wall_s: float, start_s: float, speed: float) -> float:
    """Simulated epoch seconds at wall time ``wall_s``: ``start_s`` at ``anchor_wall_s``,
    then ``speed`` simulated seconds per wall second."""
    return start_s + (wall_s - anchor_wall_s) * speed


def newest_settled(sim_s: float, delay_s: int = SETTLE_DELAY_S) -> int:
    """Epoch seconds of the newest settled 5-minute stamp at simulated time ``sim_s``."""
    return int((sim_s - delay_s) // INTERVAL_S) * INTERVAL_S


def settled_end(sim_s: float, delay_s: int = SETTLE_DELAY_S) -> int:
    """The exclusive ``date_end`` that serves every settled interval and nothing newer."""
    return newest_settled(sim_s, delay_s) + INTERVAL_S


def parse_clock_start(text: str) -> datetime:
    """An ISO 8601 time (``2025-10-07T12:00``, ``...+10:00``, ``...Z``) as an aware UTC
    datetime; without an offset it is NEM time (UTC+10). ValueError with a one-line reason."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--clock-start {text!r} is not an ISO time: use e.g. 2025-10-07T12:00 (NEM time) "
            "or 2025-10-07T02:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=NEM_TZ)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class SimClock:
    """Simulated "now": ``start`` at the wall instant ``anchor_wall_s``, ``speed`` times
    faster after it. Calling it gives an aware UTC datetime (the API's ``config.clock``)."""

    start: datetime
    speed: float = 1.0
    anchor_wall_s: float = field(default_factory=time.time)
    wall: Callable[[], float] = time.time

    def epoch(self, wall_s: float | None = None) -> float:
        """Simulated epoch seconds now, or at wall time ``wall_s``."""
        at = self.wall() if wall_s is None else wall_s
        return simulated_epoch(at, self.anchor_wall_s, self.start.timestamp(), self.speed)

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.epoch(), UTC)


# A clock faster than the wall clock starts this far in the past unless --clock-start says
# otherwise: the data it settles must stay behind the wall clock, or the recorder and the
# dashboard reject it as ``future`` (nemlive/common/timeguard.py allows 15 minutes ahead).
DEFAULT_START_BEHIND_S = 2 * 86_400


def wall_seconds_behind(speed: float, behind_s: float = DEFAULT_START_BEHIND_S) -> float:
    """Wall seconds until a clock ``speed`` times faster, started ``behind_s`` seconds in the
    past, catches up with the wall clock: ``behind_s / (speed - 1)`` (inf at speed <= 1).
    From the default start: 60x -> 48.8 minutes, 240x -> 12 minutes, 10x -> 5.3 hours."""
    return behind_s / (speed - 1) if speed > 1 else float("inf")


def make_clock(
    start: datetime | None, speed: float, wall: Callable[[], float] = time.time
) -> Callable[[], datetime]:
    """The clock ``python -m oesim`` runs on: the wall clock itself at speed 1 from now,
    else a :class:`SimClock` from ``start`` (default: ``DEFAULT_START_BEHIND_S`` before
    now, so that a sped-up clock stays behind the wall clock for a while:
    :func:`wall_seconds_behind`)."""
    if speed <= 0:
        raise ValueError(f"--clock-speed must be above 0, not {speed:g}")
    if start is None and speed == 1:
        return lambda: datetime.fromtimestamp(wall(), UTC)
    now = wall()
    begin = start or datetime.fromtimestamp(now - DEFAULT_START_BEHIND_S, UTC)
    return SimClock(start=begin, speed=speed, anchor_wall_s=now, wall=wall)
