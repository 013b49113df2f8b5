"""SIGINT and SIGTERM as a stop: what every long-running program does the same way.

:func:`stop_on_signals` hands the program a ``threading.Event`` that the first of either
signal sets (logging ``<SIGNAL> received: <what>`` once), and puts the previous handlers back
when the program returns. Off the main thread (a test calling ``main``) no handler can be
installed, and the event is only set by the caller.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def stop_on_signals(log: logging.Logger, what: str) -> Iterator[threading.Event]:
    """A stop event set by SIGINT or SIGTERM; ``what`` ends the one line logged."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("%s received: %s", signal.Signals(signum).name, what)
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _on_signal)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
