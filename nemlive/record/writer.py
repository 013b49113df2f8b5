"""The recorder's one writer: batches from the inbox, committed, then acknowledged.

* :class:`Recorder` takes batches from the subscriber's inbox (at most ``MAX_BATCH``
  messages, or what arrived within ``FLUSH_S``), validates them, writes each in one
  transaction, and only then acknowledges them to the broker. While the store is
  unavailable it retries (``common.retry``) and acknowledges nothing. Every hour it prunes,
  every ``CHECKPOINT_EVERY_COMMITS`` commits or ``CHECKPOINT_EVERY_S`` seconds it folds the
  SQLite log back, and every ``progress_every`` seconds it says how far it got.
* :func:`open_store_with_retry`: the store, once reachable.
* :func:`describe_large_prune`: the line that says why a prune deleted most of the store.

recorder.py wires these to its flags; bench/record.py and the tests drive them directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from nemlive.common import nemtime
from nemlive.common.errors import StoreError, StoreUnavailable
from nemlive.common.events import MAX_PAYLOAD_BYTES
from nemlive.common.mqttconfig import MqttSettings
from nemlive.common.retry import (
    Backoff,
    Failure,
    RetryStopped,
    StateLog,
    call_with_retries,
    wait_on,
)
from nemlive.record.recording import (
    UNKNOWN_REASON,
    Admission,
    Converted,
    Inbound,
    UnknownIds,
    convert_messages,
    describe_rejects,
)
from nemlive.record.subscriber import INBOX_FULL, OVERSIZE, Inbox
from nemlive.store import Pruned, Store, StoreUrl, open_store

log = logging.getLogger(__name__)

MAX_BATCH = 5_000  # messages per transaction
FLUSH_S = 1.0  # the oldest message waits at most this long for its commit
PRUNE_EVERY_S = 3_600.0
PRUNE_WARN_SHARE = 0.5  # a prune deleting more than this share of the readings held warns
CHECKPOINT_EVERY_COMMITS = 20
CHECKPOINT_EVERY_S = 60.0
# While the store is unavailable: 0.5 s, 1 s, 2 s ... at most 30 s between tries.
STORE_BACKOFF = Backoff(minimum=0.5, maximum=30.0)


class Acknowledger(Protocol):
    """What the writer needs of the MQTT side: a Subscriber, or cover.Sessions."""

    def ack(self, messages: Sequence[Inbound]) -> int: ...


class WriterOptions(Protocol):
    """What the writer reads of the recorder's options (recorder.py's RecorderOptions)."""

    @property
    def mqtt(self) -> MqttSettings: ...
    @property
    def store(self) -> StoreUrl: ...
    @property
    def keep_days(self) -> float: ...  # 0 = keep everything
    @property
    def progress_every(self) -> float: ...  # seconds between progress lines; 0 = off
    @property
    def facilities(self) -> Path: ...  # the lookup, named in log lines


class Recorder:
    """The one writer: takes batches from the inbox, commits them, then acknowledges them.

    ``admission``: the ids recorded. ``clock``: the wall clock (epoch s) that the future guard
    and retention count from; ``monotonic``: the clock of the hourly prune, the checkpoints and
    the progress lines. Tests pass their own. ``logger``: where its lines go (recorder.py
    passes its own, so that they carry the program's name).
    """

    def __init__(
        self,
        options: WriterOptions,
        store: Store,
        subscriber: Acknowledger,
        inbox: Inbox,
        stop: threading.Event,
        *,
        admission: Admission,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self.options = options
        self.store = store
        self.subscriber = subscriber
        self.inbox = inbox
        self.stop = stop
        self.admission = admission
        self.clock = clock
        self.monotonic = monotonic
        self.log = logger
        self.facility_rows = 0
        self.market_rows = 0
        self.interchange_rows = 0
        self.alert_rows = 0  # alert events written (a repeat the store holds counts again)
        self.messages = 0
        self.rejects: Counter[str] = Counter()
        self.unknown = UnknownIds()
        self.unwritten = 0  # messages left neither written nor acknowledged at the end
        self.unwritten_qos0 = 0  # of which QoS 0: no broker keeps those
        self._store_down = StateLog()  # the StoreUnavailable kind, while down
        self._drops_told: set[str] = set()  # inbox drop reasons already logged
        self._last_prune = self.monotonic()
        self._last_report = self.monotonic()
        self._messages_at_report = 0
        self._last_checkpoint = self.monotonic()
        self._commits_since_checkpoint = 0

    def run(self) -> None:
        """Record until ``stop``; then write and acknowledge what has arrived, and return."""
        while not self.stop.is_set():
            batch = self.inbox.take(MAX_BATCH, FLUSH_S, self.stop)
            if batch and not self.flush(batch):
                break
            self._tick()
        # Stopping: what arrived is written and acknowledged; the session keeps the rest.
        while len(self.inbox) and not self.unwritten:
            batch = self.inbox.take(MAX_BATCH, 0.0, self.stop)
            if not self.flush(batch):
                break
        self.unwritten += len(self.inbox)
        self.unwritten_qos0 += self.inbox.qos0_waiting

    def all_rejects(self) -> Counter[str]:
        """Every message not recorded, by reason: those of the batches and the inbox's drops."""
        return self.rejects + self.inbox.dropped()

    def flush(self, batch: list[Inbound]) -> bool:
        """Write ``batch``, retrying while the store is unavailable, then acknowledge it.

        False if ``stop`` was set before the store came back (nothing acknowledged).
        """
        converted = convert_messages(self.options.mqtt.topic, batch, self.clock(), self.admission)
        self._count(converted)
        try:
            call_with_retries(
                lambda: self.store.write(
                    converted.facility, converted.market, converted.interchange, converted.alerts
                ),
                STORE_BACKOFF,
                retry_on=StoreUnavailable,
                wait=self._wait_for_store,
                on_retry=self._store_failed,
            )
        except RetryStopped:
            self.unwritten = len(batch)
            self.unwritten_qos0 = sum(1 for m in batch if not m.qos)
            return False
        if self._store_down.leave():
            self.log.warning("the store %s takes writes again", self.options.store)
        self.subscriber.ack(batch)
        self.messages += len(batch)
        self.facility_rows += len(converted.facility)
        self.market_rows += len(converted.market)
        self.interchange_rows += len(converted.interchange)
        self.alert_rows += len(converted.alerts)
        self._commits_since_checkpoint += 1
        return True

    def _store_failed(self, failure: Failure) -> None:
        """One line per change of the store's state; the rest at DEBUG."""
        error = failure.error
        if self._store_down.enter(getattr(error, "kind", "")):
            self.log.error("%s; retrying, and acknowledging nothing until it is written", error)
        else:
            self.log.debug("still unavailable: %s", error)

    def _wait_for_store(self, seconds: float) -> bool:
        """Wait to retry the store; True when stopped meanwhile."""
        if self.stop.wait(seconds):
            return True
        self._report()  # the inbox fills meanwhile: say what it drops
        return False

    def _count(self, converted: Converted) -> None:
        """Add a batch's rejects to the totals, with one line for each reason's first."""
        for reason, count in converted.rejects.items():
            if reason not in self.rejects:
                topic, detail = converted.first_reject[reason]
                if reason == UNKNOWN_REASON:
                    self.log.warning(
                        "not recording %.120r: its id is not in the lookup %s (--record-all "
                        "records every id; counting further ones)",
                        topic,
                        self.options.facilities,
                    )
                else:
                    self.log.warning(
                        "dropped an invalid message on %.120r: %s%s (counting further ones)",
                        topic,
                        reason,
                        f" ({detail})" if detail else "",
                    )
            self.rejects[reason] += count
        self.unknown.add(converted.unknown_ids)

    def prune(self) -> None:
        """Delete what is older than --keep-days (PostgreSQL: the whole months before it); a
        failure waits for the next hour."""
        self._last_prune = self.monotonic()
        if not self.options.keep_days:
            return
        try:
            pruned = self.store.prune(self.options.keep_days, self.clock())
        except StoreUnavailable as exc:
            self.log.warning("prune skipped: %s", exc)
            return
        if pruned.deleted or pruned.partitions:
            self.log.info(
                "pruned %d readings more than %g days older than the newest%s%s",
                pruned.deleted,
                self.options.keep_days,
                " not ahead of the clock" if pruned.skipped_future else "",
                f" (whole months: {pruned.partitions} partitions dropped, every reading before "
                f"{nemtime.format_nem_epoch(pruned.cutoff or 0)} NEM)"
                if pruned.partitions
                else "",
            )
        if pruned.share > PRUNE_WARN_SHARE:
            self.log.warning("%s", describe_large_prune(pruned, self.options.keep_days))

    def checkpoint(self) -> None:
        """Shrink the store's write-ahead log (SQLite); a failure waits for the next time."""
        self._last_checkpoint = self.monotonic()
        self._commits_since_checkpoint = 0
        try:
            emptied = self.store.checkpoint()
        except StoreError as exc:
            self.log.warning("checkpoint skipped: %s", exc)
            return
        if not emptied:
            self.log.debug("a reader still reads the write-ahead log: it is emptied next time")

    def _tick(self) -> None:
        now = self.monotonic()
        if now - self._last_prune >= PRUNE_EVERY_S:
            self.prune()
        if self._commits_since_checkpoint >= CHECKPOINT_EVERY_COMMITS or (
            self._commits_since_checkpoint and now - self._last_checkpoint >= CHECKPOINT_EVERY_S
        ):
            self.checkpoint()
        self._report()

    def _report(self) -> None:
        """The inbox's drops (one line for each reason's first) and the progress line."""
        drops = self.inbox.dropped()
        for reason in drops.keys() - self._drops_told:
            self._drops_told.add(reason)
            if reason == OVERSIZE:
                self.log.warning(
                    "dropped a message over %d bytes before queueing it (counting further ones)",
                    MAX_PAYLOAD_BYTES,
                )
            elif reason == INBOX_FULL:
                self.log.warning(
                    "%d QoS 0 messages wait for the store: further QoS 0 messages are dropped "
                    "until it takes writes (counting them; QoS 1 ones wait on the broker)",
                    self.inbox.qos0_max,
                )
        now = self.monotonic()
        every = self.options.progress_every
        if every and now - self._last_report >= every:
            rate = (self.messages - self._messages_at_report) / (now - self._last_report)
            self.log.info(
                "%d messages recorded (%.0f/s): %d facility, %d market and %d interchange "
                "readings written, %s rejected%s, %d waiting",
                self.messages,
                rate,
                self.facility_rows,
                self.market_rows,
                self.interchange_rows,
                describe_rejects(self.all_rejects()),
                f" ({self.unknown.count_text()} unknown ids)" if self.unknown.names else "",
                len(self.inbox),
            )
            self._last_report, self._messages_at_report = now, self.messages


def describe_large_prune(pruned: Pruned, keep_days: float) -> str:
    """The one line that says why a prune deleted most of the store, and what to check."""
    reference = f"the newest reading held ({nemtime.format_nem_epoch(pruned.reference or 0)})"
    if pruned.skipped_future:
        reference += ", not counting readings ahead of this machine's clock"
    cutoff = nemtime.format_nem_epoch(pruned.cutoff or 0, "%Y-%m-%d %H:%M:%S")
    return (
        f"the prune deleted {pruned.deleted:,} of the {pruned.held:,} readings held "
        f"({pruned.share:.0%}): every one before {cutoff} "
        f"NEM time, --keep-days {keep_days:g} counted back from {reference}; if that is not "
        "meant, check --keep-days and this machine's clock"
    )


def open_store_with_retry(
    url: StoreUrl, stop: threading.Event, logger: logging.Logger = log
) -> Store | None:
    """open_store, retrying StoreUnavailable with backoff; None if stopped while waiting.

    A StoreError that retrying cannot mend (a newer schema, not a store) is raised at once.
    """
    down = StateLog()

    def failed(failure: Failure) -> None:
        if down.enter(getattr(failure.error, "kind", "")):  # one line per change of state
            logger.error("%s; retrying", failure.error)
        else:
            logger.debug("still unavailable: %s", failure.error)

    try:
        store = call_with_retries(
            lambda: open_store(url),
            STORE_BACKOFF,
            retry_on=StoreUnavailable,
            wait=wait_on(stop),
            on_retry=failed,
        )
    except RetryStopped:
        return None
    if down.leave():
        logger.warning("the store %s is reachable again", url)
    return store


def log_stop(recorder: Recorder) -> None:
    """The lines that end a run: totals, the unknown ids, and what was left unwritten."""
    options, logger = recorder.options, recorder.log
    logger.info(
        "stopped: %d messages recorded, %d facility, %d market and %d interchange readings "
        "written, %d alert events, %s rejected",
        recorder.messages,
        recorder.facility_rows,
        recorder.market_rows,
        recorder.interchange_rows,
        recorder.alert_rows,
        describe_rejects(recorder.all_rejects()),
    )
    if recorder.unknown.names:
        logger.info(
            "not recorded, as the lookup %s lacks them: %s",
            options.facilities,
            recorder.unknown.describe(),
        )
    if recorder.unwritten:
        logger.warning(
            "%d messages were not written: the broker keeps the %d QoS 1 ones for the next start%s",
            recorder.unwritten,
            recorder.unwritten - recorder.unwritten_qos0,
            f"; the {recorder.unwritten_qos0} QoS 0 ones are lost"
            if recorder.unwritten_qos0
            else "",
        )
