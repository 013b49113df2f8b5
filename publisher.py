"""Replay consolidate.csv to MQTT as a live stream (CONTRACTS §1 and §3).

    python publisher.py [--csv consolidate.csv] [--host localhost] [--port 1883]
                        [--topic nem/stream] [--delay 0.1] [--cooldown 60] [--cycles 0]

For each row: the facility events, then the market events, QoS 1 and retained, ``--delay``
seconds apart (0 = as fast as the broker acknowledges, ~100 in flight). Pass k moves every
timestamp forward by k × (last − first + 5 min). ``<base>/status`` says ``online`` with the
pass and position; its last will is ``offline``. A checkpoint of the last fully
acknowledged row lets ``--resume`` continue after a crash. With a local host and nothing
listening, an embedded amqtt broker is started on 127.0.0.1 (``--no-embedded-broker``: off;
never with TLS or a remote host). ``--tls`` trusts the system CAs, or only ``--ca-file``.

Exit status: 0 done or stopped by Ctrl-C/SIGTERM; 2 bad flags or CSV; 1 broker unreachable.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from nemlive.broker import EMBEDDED_HOST, EmbeddedBroker, check_embedded_can_serve, is_listening
from nemlive.checkpoint import (
    Checkpoint,
    default_checkpoint_path,
    read_checkpoint,
    write_checkpoint,
)
from nemlive.errors import ConfigError, NemLiveError
from nemlive.events import StatusEvent
from nemlive.logsetup import configure_logging
from nemlive.mqttconfig import (
    MqttSettings,
    resolve_mqtt_settings,
)
from nemlive.mqttlink import OUTSTANDING_LIMIT, AckTracker, Connection
from nemlive.replay import ReplayTable, RowEncoder, read_replay_table, shift_timestamp

log = logging.getLogger("publisher")

STATUS_EVERY_S = 5.0
PROGRESS_EVERY_S = 5.0  # default of --progress-every
CHECKPOINT_EVERY_S = 1.0
DRAIN_TIMEOUT_S = 10.0
# Not mqttconfig.LOCAL_HOSTS: that includes ::1, where the embedded broker (bound to
# 127.0.0.1 only) would not be reachable.
EMBEDDED_HOSTS = frozenset({"localhost", EMBEDDED_HOST})


# --- options ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublisherOptions:
    """Everything main() needs, resolved once (flag, then environment, then default)."""

    csv: Path
    mqtt: MqttSettings
    delay: float  # seconds between two messages
    cooldown: float  # seconds between two passes
    cycles: int  # passes; 0 = forever
    resume: bool
    checkpoint: Path
    embedded_broker: bool
    connect_retries: int
    verbose: bool
    progress_every: float = PROGRESS_EVERY_S  # seconds between progress lines; 0 = off


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="publisher.py",
        description="Replay consolidate.csv to an MQTT broker as a live stream.",
        epilog="Environment: MQTT_HOST, MQTT_PORT, MQTT_TOPIC, MQTT_USERNAME, MQTT_PASSWORD, "
        "MQTT_TLS (1 = TLS), MQTT_CA_FILE (CA certificate for TLS). "
        "Flags win over the environment.",
    )
    parser.add_argument("--csv", type=Path, default=Path("consolidate.csv"), help="input file")
    parser.add_argument("--host", help="broker host (MQTT_HOST; default localhost)")
    parser.add_argument("--port", help="broker port (MQTT_PORT; default 1883, 8883 with TLS)")
    parser.add_argument("--topic", help="base topic (MQTT_TOPIC; default nem/stream)")
    parser.add_argument("--username", help="broker user name (MQTT_USERNAME)")
    parser.add_argument("--password", help="broker password (MQTT_PASSWORD; prefer the env)")
    parser.add_argument(
        "--tls",
        action="store_const",
        const=True,
        help="connect with TLS, checking the broker's certificate (MQTT_TLS=1)",
    )
    parser.add_argument(
        "--ca-file",
        help="PEM CA certificate that signed the broker's certificate, e.g. for your own "
        "mosquitto; needs --tls (MQTT_CA_FILE; default: the system CAs)",
    )
    parser.add_argument(
        "--delay", type=float, default=0.1, help="seconds between messages; 0 = as fast as acked"
    )
    parser.add_argument("--cooldown", type=float, default=60.0, help="seconds between passes")
    parser.add_argument("--cycles", type=int, default=0, help="passes over the file; 0 = forever")
    parser.add_argument("--resume", action="store_true", help="continue after the last checkpoint")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="checkpoint file (default: beside the CSV, consolidate.checkpoint.json)",
    )
    parser.add_argument(
        "--no-embedded-broker",
        dest="embedded_broker",
        action="store_false",
        help="never start the embedded amqtt broker on 127.0.0.1",
    )
    parser.add_argument(
        "--connect-retries", type=int, default=5, help="connection attempts before giving up"
    )
    parser.add_argument(
        "--progress-every",
        type=float,
        default=PROGRESS_EVERY_S,
        metavar="SECONDS",
        help=f"seconds between progress lines; 0 = off, only the line per pass (default {PROGRESS_EVERY_S:g})",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def parse_options(argv: Sequence[str], env: Mapping[str, str]) -> PublisherOptions:
    """Parse flags and resolve settings; ConfigError for bad values (SystemExit from argparse)."""
    args = build_parser().parse_args(list(argv))
    if args.delay < 0 or args.delay != args.delay:
        raise ConfigError(f"--delay {args.delay} is negative: use 0 or more seconds")
    if args.cooldown < 0 or args.cooldown != args.cooldown:
        raise ConfigError(f"--cooldown {args.cooldown} is negative: use 0 or more seconds")
    if args.cycles < 0:
        raise ConfigError(f"--cycles {args.cycles} is negative: use 0 (forever) or more")
    if not args.progress_every >= 0:
        raise ConfigError(f"--progress-every {args.progress_every}: use 0 (off) or more seconds")
    if args.connect_retries < 1:
        raise ConfigError(f"--connect-retries {args.connect_retries}: use 1 or more")
    settings = resolve_mqtt_settings(
        env,
        host=args.host,
        port=args.port,
        topic=args.topic,
        username=args.username,
        password=args.password,
        tls=args.tls,
        ca_file=args.ca_file,
    )
    return PublisherOptions(
        csv=args.csv,
        mqtt=settings,
        delay=args.delay,
        cooldown=args.cooldown,
        cycles=args.cycles,
        resume=args.resume,
        checkpoint=args.checkpoint or default_checkpoint_path(args.csv),
        embedded_broker=args.embedded_broker,
        connect_retries=args.connect_retries,
        verbose=args.verbose,
        progress_every=args.progress_every,
    )


# --- the replay loop ----------------------------------------------------------------------


@dataclass
class Progress:
    pass_number: int = 0
    row: int = 0
    sent: int = 0


class Replayer:
    """Drives one replay: passes, pacing, status, checkpoints, progress lines."""

    def __init__(
        self,
        options: PublisherOptions,
        table: ReplayTable,
        connection: Connection,
        tracker: AckTracker,
        stop: threading.Event,
    ) -> None:
        self.options = options
        self.table = table
        self.conn = connection
        self.tracker = tracker
        self.stop = stop
        self.encoder = RowEncoder(table, options.mqtt.topic)
        self.progress = Progress()
        # Monotonic times of the last checkpoint, status and progress line (see _tick).
        self._last_ckpt = self._last_status = self._last_report = 0.0
        self._sent_at_report = 0
        self._written_seq = -2
        self._checkpoint_failed = False

    def status(self, state: str) -> StatusEvent:
        p = self.progress
        return StatusEvent(
            state=state,  # type: ignore[arg-type]
            client_id=self.conn.client_id,
            pass_number=p.pass_number,
            position=shift_timestamp(self.table, min(p.row, self.table.rows - 1), p.pass_number),
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
        checkpoint = Checkpoint(
            pass_number=pass_number,
            row=row,
            timestamp=shift_timestamp(self.table, row, pass_number),
            first_timestamp=self.table.timestamps[0],
            rows=self.table.rows,
            topic=self.options.mqtt.topic,
        )
        try:
            write_checkpoint(self.options.checkpoint, checkpoint)
            self._written_seq = seq
        except OSError as exc:
            if not self._checkpoint_failed:
                log.warning(
                    "cannot write the checkpoint %s (%s): --resume will not work",
                    self.options.checkpoint,
                    exc,
                )
                self._checkpoint_failed = True

    def run(self, start_pass: int, start_row: int) -> None:
        """Publish from (start_pass, start_row) until the cycles are done or ``stop`` is set."""
        opts, table, conn, tracker, stop = (
            self.options,
            self.table,
            self.conn,
            self.tracker,
            self.stop,
        )
        delay = opts.delay
        publish = conn.publish
        limit = OUTSTANDING_LIMIT
        self.progress = Progress(start_pass, start_row, 0)
        pass_number, first_row = start_pass, start_row
        self._last_ckpt = self._last_status = self._last_report = time.monotonic()
        self._sent_at_report = 0
        schedule_start = time.monotonic()
        scheduled = 0  # messages sent since schedule_start
        while not stop.is_set() and (opts.cycles == 0 or pass_number < opts.cycles):
            self.progress.pass_number, self.progress.row = pass_number, first_row
            conn.publish_status(self.status("online"))
            pass_started = time.monotonic()
            pass_sent = self.progress.sent
            log.info(
                "pass %d%s: rows %d-%d, %s to %s (shifted by %s)",
                pass_number + 1,
                f"/{opts.cycles}" if opts.cycles else "",
                first_row + 1,
                table.rows,
                shift_timestamp(table, first_row, pass_number),
                shift_timestamp(table, table.rows - 1, pass_number),
                pass_number * table.span,
            )
            for row in range(first_row, table.rows):
                if stop.is_set():
                    break
                self.progress.row = row
                tracker.begin_row(pass_number * table.rows + row)
                for topic, payload in self.encoder.build_row_messages(row, pass_number):
                    if delay:
                        # A monotonic schedule: sleeping `delay` after each send would drift.
                        wait = schedule_start + scheduled * delay - time.monotonic()
                        if wait > 0:
                            if stop.wait(wait):
                                break
                        elif wait < -max(1.0, 10 * delay):
                            schedule_start, scheduled = time.monotonic(), 0  # after a stall
                        scheduled += 1
                    if tracker.outstanding >= limit:
                        tracker.wait_for_room(limit, stop)
                        if stop.is_set():
                            break
                    publish(topic, payload)
                    self.progress.sent += 1
                    if delay:  # paced: rows can take long; at --delay 0 once per row
                        self._tick()
                else:
                    tracker.end_row()
                if stop.is_set():
                    break
                self._tick()
            else:
                elapsed = time.monotonic() - pass_started
                sent = self.progress.sent - pass_sent
                log.info(
                    "pass %d done: %d messages in %.1fs (%.0f msg/s)",
                    pass_number + 1,
                    sent,
                    elapsed,
                    sent / elapsed if elapsed > 0 else 0.0,
                )
                pass_number += 1
                first_row = 0
                if opts.cycles and pass_number >= opts.cycles:
                    break
                self.progress.pass_number, self.progress.row = pass_number, 0
                if opts.cooldown > 0:
                    conn.publish_status(self.status("cooldown"))
                    log.info("cooldown %gs before pass %d", opts.cooldown, pass_number + 1)
                    stop.wait(opts.cooldown)
                schedule_start, scheduled = time.monotonic(), 0
                continue
            break

    def _tick(self) -> None:
        """The periodic work: checkpoint every second, status every 5 s, a progress line."""
        now = time.monotonic()
        if now - self._last_ckpt >= CHECKPOINT_EVERY_S:
            self.save_checkpoint()
            self._last_ckpt = now
        if now - self._last_status >= STATUS_EVERY_S:
            self.conn.publish_status(self.status("online"))
            self._last_status = now
        every = self.options.progress_every
        if every and now - self._last_report >= every:
            p = self.progress
            rate = (p.sent - self._sent_at_report) / (now - self._last_report)
            log.info(
                "pass %d row %d/%d (%s): %d messages sent, %.0f msg/s, %d unacknowledged",
                p.pass_number + 1,
                p.row + 1,
                self.table.rows,
                shift_timestamp(self.table, p.row, p.pass_number),
                p.sent,
                rate,
                self.tracker.outstanding,
            )
            self._last_report, self._sent_at_report = now, p.sent


def resolve_start(options: PublisherOptions, table: ReplayTable) -> tuple[int, int] | None:
    """(pass, row) to start from: 0, 0 unless --resume finds a checkpoint; None = all done."""
    if not options.resume:
        return 0, 0
    checkpoint = read_checkpoint(options.checkpoint)
    if checkpoint is None:
        log.info("no checkpoint at %s: starting from the beginning", options.checkpoint)
        return 0, 0
    if (
        checkpoint.first_timestamp != table.timestamps[0]
        or checkpoint.rows != table.rows
        or checkpoint.topic != options.mqtt.topic
        or not 0 <= checkpoint.row < table.rows
        or shift_timestamp(table, checkpoint.row, checkpoint.pass_number) != checkpoint.timestamp
    ):
        raise ConfigError(
            f"checkpoint {options.checkpoint} belongs to another CSV or topic: "
            "delete it or run without --resume"
        )
    pass_number, row = checkpoint.pass_number, checkpoint.row + 1
    if row >= table.rows:
        pass_number, row = pass_number + 1, 0
    if options.cycles and pass_number >= options.cycles:
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


# --- entry point --------------------------------------------------------------------------


def _maybe_start_embedded(options: PublisherOptions) -> EmbeddedBroker | None:
    settings = options.mqtt
    # With TLS the broker is a real one by definition; connecting says what is wrong with it.
    if not options.embedded_broker or settings.tls or settings.host not in EMBEDDED_HOSTS:
        return None
    if is_listening(settings.host, settings.port):
        return None
    check_embedded_can_serve(settings)  # a login: say so rather than drop it
    log.info("nothing listens on %s: starting the embedded broker", settings.address)
    return EmbeddedBroker(settings.port).start()


def run(options: PublisherOptions, stop: threading.Event) -> int:
    """The imperative shell: read, connect, replay, drain, say offline, disconnect."""
    table = read_replay_table(options.csv)
    log.info(
        "read %s: %d rows, %d facilities, %d regions, %d messages per pass, span %.4g days",
        options.csv,
        table.rows,
        len(table.facility_ids),
        len(table.region_ids),
        table.messages_per_pass(),
        table.span.total_seconds() / 86_400,
    )
    start = resolve_start(options, table)
    if start is None:
        log.info(
            "checkpoint %s: all %d passes were published already",
            options.checkpoint,
            options.cycles,
        )
        return 0
    embedded = _maybe_start_embedded(options)
    try:
        tracker = AckTracker()
        conn = Connection(options.mqtt, tracker, options.verbose)
        if not conn.connect(options.connect_retries, stop):
            return 0  # stopped before the first connection: nothing was sent
        replayer = Replayer(options, table, conn, tracker, stop)
        try:
            replayer.run(*start)
        finally:
            if stop.is_set():
                log.info(
                    "stopping: waiting up to %gs for %d acknowledgements",
                    DRAIN_TIMEOUT_S,
                    tracker.outstanding,
                )
            if not tracker.wait_all(DRAIN_TIMEOUT_S):
                log.warning(
                    "%d messages were not acknowledged; --resume will send them again",
                    tracker.outstanding,
                )
            replayer.save_checkpoint()
            conn.close(replayer.status("offline"), timeout=5.0)
        log.info("published %d messages; offline", replayer.progress.sent)
        return 0
    finally:
        if embedded is not None:
            embedded.stop(timeout=5.0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 done/stopped, 2 bad flags or CSV, 1 broker failure."""
    try:
        options = parse_options(sys.argv[1:] if argv is None else argv, os.environ)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2, already printed)
        return int(exc.code or 0)
    except NemLiveError as exc:
        print(f"publisher.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    # amqtt and its state machine library log every connection at INFO.
    handler = configure_logging(
        options.verbose, name="nemlive-publisher", quiet=("amqtt", "transitions")
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("%s received: finishing", signal.Signals(signum).name)
        stop.set()

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main_thread:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _on_signal)
    try:
        return run(options, stop)
    except NemLiveError as exc:
        print(f"publisher.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        logging.getLogger().removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
