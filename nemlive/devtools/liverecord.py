"""``make live``'s recorder: its store and session, and the waits that open the page full.

``make live`` records as ``make run`` does, so that its page opens with the last ``--keep``
days on the charts, read from the store. Its store is its own: ``history.db`` in the source's
live folder (one for the simulator, one for a key), or ``--store``. Never ``make run``'s
``nemlive.db``: a replay shifts a finished week to the present, and those readings must not
mix with the present's. Its session is its own too (client id ``nemlive-recorder-live``;
``make run``'s recorder is ``nemlive-recorder``), so the broker never hands one mode's queued
messages to the other's recorder.

The start order (nemlive/devtools/run.py, ``run_live``), and why:

1. the extractor, until its first write: the recorder and the publisher read its facility table;
2. the recorder, until it logs ``subscribed to``, which it does once the broker has
   acknowledged the subscription: a publisher started earlier would send part of the fill
   to nobody (a new MQTT session holds only what comes after its subscription);
3. the publisher, which sends the cache as the fill grows, then each new value;
4. the dashboard, once the extractor's first poll has ended (its first ``poll:`` line: the
   fill is complete) and the store holds the cache's newest interval: the first page reads
   the store, so it opens with the whole fill.
"""

from __future__ import annotations

import logging
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import IO

from nemlive.common.errors import NemLiveError
from nemlive.store import open_store, parse_store_url

log = logging.getLogger("nemlive.devtools.run")

LIVE_RECORDER_ID = "nemlive-recorder-live"
LIVE_STORE_NAME = "history.db"
# The recorder's line once the broker has acknowledged its subscription (or resumed it).
RECORDER_READY = "subscribed to"
# The follower's line at the end of each poll (NEMweb and OE alike): the first ends the fill.
FILL_DONE = "extractor: poll:"


def live_store_url(store: str | None, folder: Path) -> str:
    """``store`` (``--store``) when given, else the SQLite file ``history.db`` in ``folder``
    (the source's live folder)."""
    return store or f"sqlite:///{folder / LIVE_STORE_NAME}"


def describe_store(url: str) -> str:
    """The store as a log line may show it: no password."""
    return parse_store_url(url).display


class LineTap:
    """Copies a child's stderr (a pipe) to ours line by line, and notes the first line that
    holds ``mark`` (:attr:`seen`). The child's log stays on the terminal as before."""

    def __init__(self, stream: IO[bytes], mark: str, out: IO[bytes] | None = None) -> None:
        self.mark = mark.encode()
        self.seen = threading.Event()
        self._out = out if out is not None else sys.stderr.buffer
        self._thread = threading.Thread(target=self._copy, args=(stream,), daemon=True)
        self._thread.start()

    def _copy(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            try:
                self._out.write(line)
                self._out.flush()
            except (OSError, ValueError):  # our stderr closed: keep draining the pipe
                pass
            if self.mark in line:
                self.seen.set()
        stream.close()

    def join(self, timeout: float) -> None:
        """Wait until the child's stderr is closed and copied (its last lines)."""
        self._thread.join(timeout)


def newest_interval(csv_path: Path) -> int | None:
    """The newest interval end (UTC epoch seconds) of a consolidate.csv, from its last row's
    ``timestamp`` (ISO 8601 with the NEM offset); None when it holds no row or cannot be read.
    The cache is replaced atomically, so the file read is one whole version."""
    try:
        with open(csv_path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(fh.tell() - 65_536, 0))
            lines = fh.read().splitlines()
    except OSError:
        return None
    last = lines[-1].decode(errors="replace") if len(lines) > 1 else ""
    try:
        return int(datetime.fromisoformat(last.split(",", 1)[0]).timestamp())
    except ValueError:
        return None


def read_store_last(url: str) -> int | None:
    """The newest interval end the store holds (epoch seconds); None when it holds nothing or
    cannot be read (the recorder may be creating it)."""
    try:
        with open_store(url, create=False) as store:
            span = store.span()
    except NemLiveError as exc:
        log.debug("cannot read %s yet: %s", describe_store(url), exc)
        return None
    return None if span is None else span.last


def forget_sent_if_unrecorded(url: str, checkpoint: Path) -> bool:
    """Delete the live publisher's checkpoint when the store holds nothing, so that the
    publisher sends the whole cache again and the recorder gets it (a cache followed before
    there was a recorder, or a store deleted since); True when deleted."""
    if not checkpoint.is_file() or read_store_last(url) is not None:
        return False
    checkpoint.unlink(missing_ok=True)
    log.info(
        "%s holds nothing yet: the publisher sends the whole cache again (%s deleted)",
        describe_store(url),
        checkpoint.name,
    )
    return True
