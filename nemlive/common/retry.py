"""The one retry policy: exponential backoff between attempts, interrupted by a stop.

Every program retries something: the extractor an HTTP request, the publisher and the recorder
a broker connection, the recorder its store. They all use :func:`call_with_retries` with a
:class:`Backoff`, so the delays are computed in one place.

Why our own small module rather than ``tenacity`` or ``stamina``: what every caller here
needs is a wait that a ``threading.Event`` interrupts (Ctrl-C, SIGTERM), a wait that tests
replace so that nothing sleeps, a server's own delay (``Retry-After``) in place of the
computed one, and one log line per change of state (:class:`StateLog`) rather than one per
attempt. That is a few dozen lines; a dependency would bring its own decorators, clocks
and logging to fit around.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# Waits up to the given seconds; True when stopped (``threading.Event.wait``'s contract).
Wait = Callable[[float], bool]


class RetryStopped(Exception):
    """The wait before a retry was interrupted: a stop was asked for (not a failure)."""


@dataclass(frozen=True)
class Backoff:
    """Delays of ``minimum × factor**n`` seconds, at most ``maximum``, before retry ``n``.

    ``jitter`` is the share of each delay drawn at random: 0 gives exact delays, 0.5 gives
    "equal jitter" (at least half the step, so clients that failed together do not retry
    together, and never at 0).
    """

    minimum: float
    maximum: float
    factor: float = 2.0
    jitter: float = 0.0

    def delay(self, retry: int, draw: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry`` (0 = the first); ``draw`` gives the
        random share in [0, 1) and is called only with jitter."""
        try:
            grown = self.minimum * self.factor**retry
        except OverflowError:  # thousands of retries: the delay has long reached the maximum
            grown = math.inf
        ceiling = min(self.maximum, grown)
        if not self.jitter:
            return ceiling
        return ceiling * (1 - self.jitter) + draw() * ceiling * self.jitter


@dataclass(frozen=True)
class Failure:
    """A failed attempt that will be retried: its number (1 = the first), its error, and the
    seconds about to be waited."""

    number: int
    error: BaseException
    delay: float


def call_with_retries(
    attempt: Callable[[], T],
    backoff: Backoff,
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    wait: Wait,
    tries: int | None = None,
    on_retry: Callable[[Failure], None] = lambda failure: None,
    server_delay: Callable[[BaseException], float | None] = lambda error: None,
    draw: Callable[[], float] = random.random,
) -> T:
    """``attempt()``'s result, calling it again after each ``retry_on`` error.

    Between attempts: ``on_retry`` (log, count), then ``wait(delay)``; the delay is
    ``server_delay(error)`` when that is not None (a server's Retry-After; it may raise to give
    up), else ``backoff.delay``. ``tries`` bounds the attempts (None: until one succeeds).
    Raises the last error when the tries run out, RetryStopped when ``wait`` says stop, and
    any other error of ``attempt`` at once.
    """
    number = 0
    while True:
        number += 1
        try:
            return attempt()
        except retry_on as error:
            if tries is not None and number >= tries:
                raise
            delay = server_delay(error)
            if delay is None:
                delay = backoff.delay(number - 1, draw)
            on_retry(Failure(number, error, delay))
            if wait(delay):
                raise RetryStopped from error


def wait_on(stop: threading.Event) -> Wait:
    """The production wait: ``stop.wait``, so that a stop ends the wait at once."""
    return stop.wait


class StateLog:
    """One log line per change of state: which kind of failure is going on, if any.

    ``enter(kind)`` is True when ``kind`` differs from the current one (say so at ERROR),
    False when it goes on (DEBUG at most). ``leave()`` is True when a failure was going on
    (say it is over).
    """

    def __init__(self) -> None:
        self.current: str | None = None

    def enter(self, kind: str) -> bool:
        changed = kind != self.current
        self.current = kind
        return changed

    def leave(self) -> bool:
        was = self.current is not None
        self.current = None
        return was
