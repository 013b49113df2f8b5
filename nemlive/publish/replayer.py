"""The replay loop: consolidate.csv's rows as paced, acknowledged MQTT messages, pass after pass.

``Replayer`` owns the order (rows, then each row's facility and market messages from
``RowEncoder``), the pacing (``Pacer``), the bound on unacknowledged messages, and the periodic
jobs: a checkpoint every second, the retained status every 5 s, and a progress line.

**Laps.** Pass k moves the file's times forward by k spans, so a replay left looping long
enough would reach the present, and every consumer rejects an interval ahead of the wall clock
(``nemlive.common.timeguard``). So before a pass whose last interval would be ahead of the clock,
the replay starts a new lap: the times go back to the file's own (shift 0), and the status
carries a new ``client_id`` (``<client id>.<lap>``), which is how the dashboard tells a
publisher that started again from one replayed by a forger. The checkpoint and the status keep
the shifted pass (``pass_number`` counts the time shift); the acknowledgement sequence runs on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nemlive.common.errors import ConfigError
from nemlive.common.events import StatusEvent
from nemlive.common.timeguard import is_future
from nemlive.publish.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from nemlive.publish.connection import OUTSTANDING_LIMIT, AckTracker, Connection
from nemlive.publish.pacing import Every, Pacer, Periodic
from nemlive.publish.replaytable import ReplayTable, RowEncoder, shift_timestamp

log = logging.getLogger("publisher")

STATUS_EVERY_S = 5.0
CHECKPOINT_EVERY_S = 1.0


@dataclass(frozen=True)
class ReplayPlan:
    """How to replay: seconds between messages, between passes, how many passes (0 =
    forever), seconds between progress lines (0 = one per pass), the checkpoint and topic."""

    delay: float
    cooldown: float
    cycles: int
    progress_every: float
    checkpoint: Path
    topic: str


@dataclass
class Progress:
    """Where the replay is. ``pass_number`` counts passes since the start (the acknowledgement
    sequence); ``laps`` holds the pass numbers at which a lap began (shift back to 0)."""

    pass_number: int = 0
    row: int = 0
    sent: int = 0
    laps: list[int] = field(default_factory=lambda: [0])

    def shift_pass(self, pass_number: int) -> int:
        """The time shift (in spans) of ``pass_number``: passes since its lap began."""
        return pass_number - max(b for b in self.laps if b <= pass_number)


class Replayer:
    """Drives one replay: passes, pacing, status, checkpoints, progress lines."""

    def __init__(
        self,
        plan: ReplayPlan,
        table: ReplayTable,
        connection: Connection,
        tracker: AckTracker,
        stop: threading.Event,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.plan = plan
        self.clock = clock
        self.table = table
        self.conn = connection
        self.tracker = tracker
        self.stop = stop
        self.encoder = RowEncoder(table, plan.topic)
        self.progress = Progress()
        self.pacer = Pacer(plan.delay)
        self.jobs = Periodic(
            [
                Every(CHECKPOINT_EVERY_S, lambda now: self.save_checkpoint()),
                Every(STATUS_EVERY_S, lambda now: self.conn.publish_status(self.status("online"))),
                Every(plan.progress_every, self._report),
            ]
        )
        self._sent_at_report = 0
        self._last_report = 0.0
        self._written_seq = -2
        self._checkpoint_failed = False

    def status(self, state: str) -> StatusEvent:
        p = self.progress
        lap = len(p.laps) - 1
        shift = p.shift_pass(p.pass_number)
        return StatusEvent(
            state=state,  # type: ignore[arg-type]
            client_id=f"{self.conn.client_id}.{lap}" if lap else self.conn.client_id,
            pass_number=shift,
            position=shift_timestamp(self.table, min(p.row, self.table.rows - 1), shift),
            row=p.row,
            rows=self.table.rows,
            sent=p.sent,
        )

    def save_checkpoint(self) -> None:
        """Write the checkpoint if more rows were acknowledged since the last write."""
        seq = self.tracker.acked_through
        if seq < 0 or seq == self._written_seq:
            return
        pass_number, row = divmod(seq, self.table.rows)
        pass_number = self.progress.shift_pass(pass_number)
        checkpoint = Checkpoint(
            pass_number=pass_number,
            row=row,
            timestamp=shift_timestamp(self.table, row, pass_number),
            first_timestamp=self.table.timestamps[0],
            rows=self.table.rows,
            topic=self.plan.topic,
        )
        try:
            write_checkpoint(self.plan.checkpoint, checkpoint)
            self._written_seq = seq
        except OSError as exc:
            if not self._checkpoint_failed:
                log.warning(
                    "cannot write the checkpoint %s (%s): --resume will not work",
                    self.plan.checkpoint,
                    exc,
                )
                self._checkpoint_failed = True

    def run(self, start_pass: int, start_row: int) -> None:
        """Publish from (start_pass, start_row) until the cycles are done or ``stop`` is set."""
        plan = self.plan
        self.progress = Progress(start_pass, start_row, 0, [0])
        self.jobs.start()
        self._last_report, self._sent_at_report = time.monotonic(), 0
        self.pacer.restart()
        pass_number, first_row = start_pass, start_row
        while not self.stop.is_set() and (plan.cycles == 0 or pass_number < plan.cycles):
            self._start_lap_if_ahead(pass_number)
            if not self.publish_pass(pass_number, first_row):
                return  # stopped
            pass_number, first_row = pass_number + 1, 0
            if plan.cycles and pass_number >= plan.cycles:
                return
            self._cool_down(pass_number)

    def _start_lap_if_ahead(self, pass_number: int) -> None:
        """Begin a new lap at ``pass_number`` if its last interval is ahead of the clock."""
        shift = self.progress.shift_pass(pass_number)
        last = self.table.times[-1] + shift * self.table.span
        if not is_future(last.timestamp(), self.clock()):
            return
        if not shift:
            log.warning(
                "%s, the file's last interval, is ahead of this machine's clock: consumers "
                "reject it as future; check the clock (e.g. NTP)",
                shift_timestamp(self.table, self.table.rows - 1, 0),
            )
        else:
            self.progress.laps.append(pass_number)
            log.info(
                "pass %d would end at %s, ahead of this machine's clock: starting lap %d "
                "from the file's own times",
                pass_number + 1,
                shift_timestamp(self.table, self.table.rows - 1, shift),
                len(self.progress.laps),
            )

    def publish_pass(self, pass_number: int, first_row: int) -> bool:
        """One pass from ``first_row``; False when stopped before its end."""
        self.progress.pass_number, self.progress.row = pass_number, first_row
        self.conn.publish_status(self.status("online"))
        started, sent_before = time.monotonic(), self.progress.sent
        table = self.table
        shift = self.progress.shift_pass(pass_number)
        log.info(
            "pass %d%s: rows %d-%d, %s to %s (shifted by %s)",
            pass_number + 1,
            f"/{self.plan.cycles}" if self.plan.cycles else "",
            first_row + 1,
            table.rows,
            shift_timestamp(table, first_row, shift),
            shift_timestamp(table, table.rows - 1, shift),
            shift * table.span,
        )
        for row in range(first_row, table.rows):
            if not self.publish_row(pass_number, row):
                return False
            self.jobs.poll()
        elapsed = time.monotonic() - started
        sent = self.progress.sent - sent_before
        log.info(
            "pass %d done: %d messages in %.1fs (%.0f msg/s)",
            pass_number + 1,
            sent,
            elapsed,
            sent / elapsed if elapsed > 0 else 0.0,
        )
        return True

    def publish_row(self, pass_number: int, row: int) -> bool:
        """One row's messages, paced and within the unacknowledged bound; False when stopped."""
        stop, tracker, paced = self.stop, self.tracker, bool(self.plan.delay)
        if stop.is_set():
            return False
        self.progress.row = row
        tracker.begin_row(pass_number * self.table.rows + row)
        shift = self.progress.shift_pass(pass_number)
        for topic, payload in self.encoder.build_row_messages(row, shift):
            if not self.pacer.wait_turn(stop):
                return False
            if tracker.outstanding >= OUTSTANDING_LIMIT:
                tracker.wait_for_room(OUTSTANDING_LIMIT, stop)
                if stop.is_set():
                    return False
            self.conn.publish(topic, payload)
            self.progress.sent += 1
            if paced:  # a paced row can take long; at --delay 0 the jobs run once per row
                self.jobs.poll()
        tracker.end_row()
        return not stop.is_set()

    def _cool_down(self, pass_number: int) -> None:
        self.progress.pass_number, self.progress.row = pass_number, 0
        if self.plan.cooldown > 0:
            self.conn.publish_status(self.status("cooldown"))
            log.info("cooldown %gs before pass %d", self.plan.cooldown, pass_number + 1)
            self.stop.wait(self.plan.cooldown)
        self.pacer.restart()

    def _report(self, now: float) -> None:
        p = self.progress
        rate = (p.sent - self._sent_at_report) / max(now - self._last_report, 1e-9)
        log.info(
            "pass %d row %d/%d (%s): %d messages sent, %.0f msg/s, %d unacknowledged",
            p.pass_number + 1,
            p.row + 1,
            self.table.rows,
            shift_timestamp(self.table, p.row, p.shift_pass(p.pass_number)),
            p.sent,
            rate,
            self.tracker.outstanding,
        )
        self._last_report, self._sent_at_report = now, p.sent


def resolve_start(
    resume: bool, checkpoint_path: Path, table: ReplayTable, topic: str, cycles: int
) -> tuple[int, int] | None:
    """(pass, row) to start from: 0, 0 unless ``resume`` finds a checkpoint; None = all done."""
    if not resume:
        return 0, 0
    checkpoint = read_checkpoint(checkpoint_path)
    if checkpoint is None:
        log.info("no checkpoint at %s: starting from the beginning", checkpoint_path)
        return 0, 0
    if (
        checkpoint.first_timestamp != table.timestamps[0]
        or checkpoint.rows != table.rows
        or checkpoint.topic != topic
        or not 0 <= checkpoint.row < table.rows
        or shift_timestamp(table, checkpoint.row, checkpoint.pass_number) != checkpoint.timestamp
    ):
        raise ConfigError(
            f"checkpoint {checkpoint_path} belongs to another CSV or topic: "
            "delete it or run without --resume"
        )
    pass_number, row = checkpoint.pass_number, checkpoint.row + 1
    if row >= table.rows:
        pass_number, row = pass_number + 1, 0
    if cycles and pass_number >= cycles:
        return None
    log.info(
        "resuming after %s (pass %d, row %d): starting at pass %d, row %d",
        checkpoint.timestamp,
        checkpoint.pass_number + 1,
        checkpoint.row + 1,
        pass_number + 1,
        row + 1,
    )
    return pass_number, row
