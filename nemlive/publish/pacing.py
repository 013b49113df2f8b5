"""The pieces of a paced publishing loop: a schedule and the periodic jobs beside it.

Both take a clock (``time.monotonic`` by default) so that tests can see what they do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class Pacer:
    """One message every ``delay`` seconds on a monotonic schedule (0 = no pacing).

    Sleeping ``delay`` after each send would drift by the time the send takes; the schedule
    instead aims at ``start + n × delay``. After a stall of more than ``max(1 s, 10 × delay)``
    (a broker that held back its acknowledgements) it starts again from now rather than race
    to catch up.
    """

    def __init__(self, delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.delay = delay
        self._clock = clock
        self._start = clock()
        self._count = 0

    def restart(self) -> None:
        """Start the schedule again from now (a new pass, after a cooldown)."""
        self._start, self._count = self._clock(), 0

    def wait_turn(self, stop: threading.Event) -> bool:
        """Wait until the next message is due; False when ``stop`` was set meanwhile."""
        if not self.delay:
            return True
        wait = self._start + self._count * self.delay - self._clock()
        if wait > 0:
            if stop.wait(wait):
                return False
        elif wait < -max(1.0, 10 * self.delay):
            self.restart()
        self._count += 1
        return True


@dataclass
class Every:
    """Run ``action`` at most once per ``period`` seconds, when polled (0 = never)."""

    period: float
    action: Callable[[float], None]  # called with the poll's time
    last: float = field(default=0.0)

    def poll(self, now: float) -> None:
        if self.period and now - self.last >= self.period:
            self.action(now)
            self.last = now


class Periodic:
    """Jobs polled together from a loop (checkpoint, status, progress line)."""

    def __init__(self, jobs: list[Every], clock: Callable[[], float] = time.monotonic) -> None:
        self.jobs = jobs
        self._clock = clock

    def start(self) -> None:
        """Count every period from now."""
        now = self._clock()
        for job in self.jobs:
            job.last = now

    def poll(self) -> None:
        now = self._clock()
        for job in self.jobs:
            job.poll(now)
