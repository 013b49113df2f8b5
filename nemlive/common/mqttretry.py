"""Connecting to a broker with retries: the loop the publisher and the recorder share."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

log = logging.getLogger(__name__)

FIRST_DELAY_S = 0.5
MAX_DELAY_S = 8.0


def retry_connect(
    attempt: Callable[[], str | None], *, address: str, retries: int, stop: threading.Event
) -> tuple[Literal["connected", "stopped", "failed"], str]:
    """Call ``attempt`` (None = connected, else why not) up to ``retries`` times, waiting
    0.5 s, 1 s, 2 s ... (at most 8 s) between tries and logging each failure.

    Returns ("connected", ""), ("stopped", "") when ``stop`` was set first, or ("failed", the
    last reason). ``attempt`` raises for what no retry can change (a refusal, a certificate).
    """
    delay, last = FIRST_DELAY_S, "no attempt"
    for number in range(1, retries + 1):
        if stop.is_set():
            return "stopped", ""
        why = attempt()
        if why is None:
            return "connected", ""
        last = why
        if number < retries:
            log.warning(
                "cannot reach %s (%s); attempt %d/%d, retrying in %gs",
                address,
                last,
                number,
                retries,
                delay,
            )
            if stop.wait(delay):
                log.info("stopped before connecting to %s", address)
                return "stopped", ""
            delay = min(delay * 2, MAX_DELAY_S)
    return "failed", last
