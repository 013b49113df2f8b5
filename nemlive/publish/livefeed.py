"""``publisher.py --follow``: publish a cache that an extractor keeps current (the shell).

It publishes what the cache holds at ``--delay`` pace, then watches the file (its size,
mtime and inode, every ``WATCH_EVERY_S``: the extractor replaces it atomically) and publishes
every ``(id, timestamp)`` value it has not sent before, cells that filled in later in rows
already sent included (:mod:`nemlive.publish.sentlog`). Timestamps are the cache's own.

A value counts as sent once the broker acknowledged it; the log of sent values is trimmed to
the cache's window and saved in the live checkpoint every second, so a restart sends nothing
the broker already has. A kill between an acknowledgement and the next save sends at most
that second's values again (QoS 1 is at least once; the dashboard and the recorder keep the
first copy of an ``(id, timestamp)``).

The retained status says ``live`` every 5 s, with the newest market and facility intervals
sent and where the cache came from (``source`` of its meta file).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from nemlive.common.errors import ConfigError, InputError
from nemlive.common.events import StatusEvent
from nemlive.common.nemtime import NEM_TZ, format_nem
from nemlive.publish.checkpoint import (
    LiveCheckpoint,
    read_live_checkpoint,
    write_live_checkpoint,
)
from nemlive.publish.connection import OUTSTANDING_LIMIT, AckTracker, Connection
from nemlive.publish.pacing import Every, Pacer, Periodic
from nemlive.publish.replaytable import ReplayTable, read_replay_table
from nemlive.publish.sentlog import FACILITY, MARKET, Outgoing, SentLog, plan_outgoing, table_epochs

log = logging.getLogger("publisher")

WATCH_EVERY_S = 0.5
STATUS_EVERY_S = 5.0
CHECKPOINT_EVERY_S = 1.0
SOURCES = ("openelectricity", "simulator", "nemweb")


@dataclass(frozen=True)
class FollowPlan:
    """The cache, its checkpoint, the topic, seconds between messages and progress lines."""

    csv: Path
    checkpoint: Path
    topic: str
    delay: float
    progress_every: float


def file_signature(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime ns) of ``path``, None when it is missing: changes on each rewrite."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def read_source(csv: Path) -> tuple[str | None, bool | None]:
    """The cache's ``(source, simulated)`` from its meta file: ``source`` one of SOURCES
    (else None); ``simulated`` True when the meta file says ``"simulated": true``, or for a
    ``nemweb`` cache whose ``api_url`` is on this machine (the simulator's NEMweb face), else
    None (left out of the status)."""
    try:
        meta = json.loads(csv.with_name(csv.stem + ".meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # deep nesting is no ValueError
        return None, None
    if not isinstance(meta, dict) or meta.get("source") not in SOURCES:
        return None, None
    source = meta["source"]
    simulated = meta.get("simulated") is True
    if source == "nemweb" and not simulated:
        simulated = _is_loopback_url(meta.get("api_url"))
    return source, (True if simulated else None)


def _is_loopback_url(url: object) -> bool:
    if not isinstance(url, str):
        return False
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _stamp(epoch: int | None) -> str | None:
    return None if epoch is None else format_nem(datetime.fromtimestamp(epoch, NEM_TZ))


class LivePublisher:
    """Sends each new value of the cache once; keeps the sent log and its checkpoint."""

    def __init__(
        self,
        plan: FollowPlan,
        connection: Connection,
        tracker: AckTracker,
        stop: threading.Event,
    ) -> None:
        self.plan = plan
        self.conn = connection
        self.tracker = tracker
        self.stop = stop
        self.sent = SentLog()  # published: never planned again
        self.acked = SentLog()  # acknowledged by the broker: the checkpoint
        self.pacer = Pacer(plan.delay)
        self.pending: deque[tuple[int, Outgoing]] = deque()  # (seq, row) awaiting acks
        self.seq = 0
        self.published = 0
        self.rows = 0
        self.source: str | None = None
        self.simulated: bool | None = None
        self.dirty = False
        self._checkpoint_failed = False
        self._bad_cache: tuple[int, int, int] | None = None
        self.jobs = Periodic(
            [
                Every(CHECKPOINT_EVERY_S, lambda now: self.save_checkpoint()),
                Every(STATUS_EVERY_S, lambda now: self.conn.publish_status(self.status("live"))),
                Every(plan.progress_every, lambda now: self.report()),
            ]
        )

    def load_checkpoint(self) -> None:
        checkpoint = read_live_checkpoint(self.plan.checkpoint)
        if checkpoint is None:
            log.info(
                "no live checkpoint at %s: everything in the cache is new", self.plan.checkpoint
            )
            return
        if checkpoint.topic != self.plan.topic:
            raise ConfigError(
                f"checkpoint {self.plan.checkpoint} belongs to topic {checkpoint.topic!r}: "
                "delete it or pass another --checkpoint"
            )
        try:
            self.sent = SentLog(checkpoint.sent)
            self.acked = SentLog(checkpoint.sent)
        except ValueError as exc:
            raise ConfigError(
                f"checkpoint {self.plan.checkpoint} is damaged ({exc}): delete it"
            ) from None
        log.info(
            "live checkpoint %s: %d values sent before, prices to %s, facilities to %s",
            self.plan.checkpoint,
            self.sent.count(),
            _stamp(self.sent.newest(MARKET)),
            _stamp(self.sent.newest(FACILITY)),
        )

    def status(self, state: str) -> StatusEvent:
        market_to = _stamp(self.sent.newest(MARKET))
        return StatusEvent(
            state=state,  # type: ignore[arg-type]
            client_id=self.conn.client_id,
            position=market_to,
            rows=self.rows,
            sent=self.published,
            market_to=market_to,
            facilities_to=_stamp(self.sent.newest(FACILITY)),
            source=self.source,  # type: ignore[arg-type]
            simulated=self.simulated,
        )

    def run(self) -> None:
        """Publish the cache, then every change to it, until ``stop``."""
        self.load_checkpoint()
        self.jobs.start()
        seen: tuple[int, int, int] | None = None
        waiting_logged = False
        while not self.stop.is_set():
            signature = file_signature(self.plan.csv)
            if signature is None and not waiting_logged:
                log.info("waiting for %s (the extractor's --follow writes it)", self.plan.csv)
                waiting_logged = True
            if signature is not None and signature != seen:
                seen = signature
                self.publish_changes(signature)
            self.commit_acked()
            self.jobs.poll()
            self.stop.wait(WATCH_EVERY_S)

    def read_cache(self, signature: tuple[int, int, int]) -> ReplayTable | None:
        try:
            return read_replay_table(self.plan.csv)
        except InputError as exc:
            if signature != self._bad_cache:
                log.warning("cannot read the cache (%s); waiting for the next version", exc)
                self._bad_cache = signature
            return None

    def publish_changes(self, signature: tuple[int, int, int]) -> None:
        """Read the cache and publish what it holds that was not sent."""
        table = self.read_cache(signature)
        if table is None:
            return
        first = self.rows == 0
        self.rows = table.rows
        self.source, self.simulated = read_source(self.plan.csv)
        first_epoch = int(table_epochs(table)[0])
        self.sent.trim(first_epoch)
        self.acked.trim(first_epoch)
        if first:
            self.conn.publish_status(self.status("live"))
        before, started = self.published, time.monotonic()
        self.pacer.restart()
        for outgoing in plan_outgoing(table, self.sent, self.plan.topic):
            if not self.publish_row(outgoing):
                return
            self.commit_acked()
            self.jobs.poll()
        if self.published > before:
            log.info(
                "published %d new values (%s to %s) in %.1f s; prices to %s, facilities to %s",
                self.published - before,
                table.timestamps[0],
                table.timestamps[-1],
                time.monotonic() - started,
                _stamp(self.sent.newest(MARKET)),
                _stamp(self.sent.newest(FACILITY)),
            )

    def publish_row(self, outgoing: Outgoing) -> bool:
        """One row's new messages, paced and within the unacknowledged bound; False when
        stopped part-way (that row is then not recorded as sent, and goes again)."""
        self.tracker.begin_row(self.seq)
        for topic, payload in outgoing.messages:
            if not self.pacer.wait_turn(self.stop):
                return False
            if self.tracker.outstanding >= OUTSTANDING_LIMIT:
                self.tracker.wait_for_room(OUTSTANDING_LIMIT, self.stop)
                if self.stop.is_set():
                    return False
            self.conn.publish(topic, payload)
            self.published += 1
            if self.plan.delay:
                self.jobs.poll()
        self.tracker.end_row()
        for key in outgoing.keys:
            self.sent.add(key, outgoing.epoch)
        self.pending.append((self.seq, outgoing))
        self.seq += 1
        return not self.stop.is_set()

    def commit_acked(self) -> None:
        """Rows whose every message the broker acknowledged join the acknowledged log."""
        through = self.tracker.acked_through
        while self.pending and self.pending[0][0] <= through:
            _, row = self.pending.popleft()
            for key in row.keys:
                self.acked.add(key, row.epoch)
            self.dirty = True

    def save_checkpoint(self) -> None:
        if not self.dirty:
            return
        checkpoint = LiveCheckpoint(topic=self.plan.topic, sent=self.acked.to_runs())  # type: ignore[arg-type]
        try:
            write_live_checkpoint(self.plan.checkpoint, checkpoint)
            self.dirty = False
        except OSError as exc:
            if not self._checkpoint_failed:
                log.warning(
                    "cannot write the checkpoint %s (%s): a restart will send values again",
                    self.plan.checkpoint,
                    exc,
                )
                self._checkpoint_failed = True

    def report(self) -> None:
        log.info(
            "live: %d messages sent, %d values acknowledged in the window, prices to %s, "
            "facilities to %s, %d unacknowledged",
            self.published,
            self.acked.count(),
            _stamp(self.sent.newest(MARKET)),
            _stamp(self.sent.newest(FACILITY)),
            self.tracker.outstanding,
        )
