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
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags, DisconnectFlags
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from nemlive.broker import EMBEDDED_HOST, EmbeddedBroker, is_listening
from nemlive.checkpoint import (
    Checkpoint,
    default_checkpoint_path,
    read_checkpoint,
    write_checkpoint,
)
from nemlive.errors import BrokerError, ConfigError, NemLiveError
from nemlive.events import QOS, StatusEvent, build_status_topic, encode_status
from nemlive.logsetup import configure_logging
from nemlive.mqttconfig import (
    MqttSettings,
    apply_auth_and_tls,
    new_client_id,
    resolve_mqtt_settings,
)
from nemlive.replay import ReplayTable, RowEncoder, read_replay_table, shift_timestamp

log = logging.getLogger("publisher")

MAX_INFLIGHT = 100  # paho's window of unacknowledged QoS 1 messages on the wire
OUTSTANDING_LIMIT = 1_000  # published but unacknowledged, incl. paho's queue: memory stays flat
PROGRESS_EVERY_S = 5.0
CHECKPOINT_EVERY_S = 1.0
DRAIN_TIMEOUT_S = 10.0
CONNACK_TIMEOUT_S = 10.0
KEEPALIVE_S = 30
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
    )


# --- acknowledgement tracking -------------------------------------------------------------


class AckTracker:
    """Which rows are fully acknowledged, fed by paho's on_publish from its network thread.

    A row is identified by ``seq = pass_number × rows + row``. Its messages are registered
    by mid after ``publish()`` returns; a PUBACK can arrive before that (paho calls
    on_publish under its own lock, so we must not publish while holding ours), hence
    ``_early``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._pending: dict[int, list[int]] = {}  # mid -> row entry
        self._early: set[int] = set()
        self._rows: deque[list[int]] = deque()  # [seq, outstanding, closed]
        self._current: list[int] | None = None  # the row being published
        self._loose = [-1, 0, 1]  # messages outside any row (status between rows)
        self._waiting = False
        self.outstanding = 0
        self.acked_through = -1  # highest seq with it and every earlier row acknowledged
        self.acked = 0

    def begin_row(self, seq: int) -> None:
        with self._lock:
            self._current = [seq, 0, 0]
            self._rows.append(self._current)

    def end_row(self) -> None:
        """The current row is fully published. A row left open (stopped halfway) never
        counts as acknowledged, so --resume sends it again from its start."""
        with self._lock:
            if self._current is not None:
                self._current[2] = 1
                self._current = None
                self._advance()

    def register(self, mid: int) -> None:
        """Count ``mid`` against the current row (or no row, between rows)."""
        with self._lock:
            if mid in self._early:
                self._early.discard(mid)
                self.acked += 1
                return
            entry = self._current or self._loose
            entry[1] += 1
            self._pending[mid] = entry
            self.outstanding += 1

    def on_ack(self, mid: int) -> None:
        with self._lock:
            entry = self._pending.pop(mid, None)
            if entry is None:
                self._early.add(mid)
                return
            entry[1] -= 1
            self.outstanding -= 1
            self.acked += 1
            if entry[1] == 0:
                self._advance()
            if self._waiting:
                self._room.notify_all()

    def _advance(self) -> None:
        rows = self._rows
        while rows and rows[0][2] and rows[0][1] == 0:
            self.acked_through = rows.popleft()[0]

    def wait_for_room(self, limit: int, stop: threading.Event) -> None:
        """Block while ``limit`` or more messages are unacknowledged (or until ``stop``)."""
        with self._lock:
            while self.outstanding >= limit and not stop.is_set():
                self._waiting = True
                self._room.wait(0.25)
            self._waiting = False

    def wait_all(self, timeout: float) -> bool:
        """Wait until every registered message is acknowledged; False after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._lock:
            try:
                while self.outstanding > 0:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._waiting = True
                    self._room.wait(min(left, 0.25))
                return True
            finally:
                self._waiting = False


# --- the MQTT connection ------------------------------------------------------------------

# OpenSSL's X509_V_ERR_* codes that need a hint other than "trust the right CA".
_X509_EXPIRED = frozenset({9, 10})  # not yet valid, expired
_X509_NAME_MISMATCH = frozenset({62, 64})  # hostname, IP address


def describe_certificate_failure(
    address: str, exc: ssl.SSLCertVerificationError, ca_file: Path | None
) -> str:
    """One line for a TLS certificate the client rejected: what failed and what to set."""
    reason = exc.verify_message or exc.reason or str(exc)
    head = f"the TLS certificate of the MQTT broker at {address} was rejected ({reason})"
    if exc.verify_code in _X509_NAME_MISMATCH:
        return f"{head}: connect with a host name the certificate lists (--host/MQTT_HOST)"
    if exc.verify_code in _X509_EXPIRED:
        return f"{head}: renew the broker's certificate or check this machine's clock"
    if ca_file is None:
        return (
            f"{head}: the system CAs do not trust it; if the broker uses its own CA, "
            "set MQTT_CA_FILE (or --ca-file) to that CA's certificate"
        )
    return f"{head}: set MQTT_CA_FILE (or --ca-file) to the CA that signed it, not {ca_file}"


class Connection:
    """One paho client: connect with retries, publish with backpressure, close cleanly."""

    def __init__(self, settings: MqttSettings, tracker: AckTracker, verbose: bool) -> None:
        self.settings = settings
        self.tracker = tracker
        self.client_id = new_client_id("nemlive-pub")
        self.status_topic = build_status_topic(settings.topic)
        self._connected = threading.Event()
        self._answered = threading.Event()  # this attempt got a CONNACK or lost the socket
        self._refusal: ReasonCode | None = None  # a failing CONNACK of the current attempt
        self._closing = False
        self._ever_connected = False

        # clean_session=False: the broker keeps our session across a reconnect; paho keeps
        # unacknowledged QoS 1 messages and sends them again (DUP) once reconnected.
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,  # amqtt (the embedded broker) speaks 3.1.1 only
        )
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.max_queued_messages_set(OUTSTANDING_LIMIT + 100)  # a hard bound behind ours
        client.reconnect_delay_set(min_delay=1, max_delay=8)
        client.will_set(
            self.status_topic,
            encode_status(StatusEvent(state="offline", client_id=self.client_id)),
            qos=QOS,
            retain=True,
        )
        apply_auth_and_tls(client, settings)
        if verbose:
            client.enable_logger(logging.getLogger("paho"))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self.client = client

    # Callbacks run on paho's thread: record and return.
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._refusal = reason_code
            self._answered.set()
            return
        if self._ever_connected:
            log.warning(
                "reconnected to %s; resending unacknowledged messages", self.settings.address
            )
        self._ever_connected = True
        self._connected.set()
        self._answered.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        self._answered.set()
        if not self._closing and self._ever_connected:  # connect() reports its own failures
            log.warning(
                "lost the connection to %s (%s); reconnecting", self.settings.address, reason_code
            )

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.tracker.on_ack(mid)

    def connect(self, retries: int, stop: threading.Event) -> bool:
        """Connect, retrying with backoff (0.5 s, 1 s, 2 s, ... capped at 8 s).

        Returns True once connected, False when ``stop`` was set while waiting to retry
        (Ctrl-C or SIGTERM: not a failure). Raises BrokerError naming host:port if every
        attempt fails, the broker refuses us, or its TLS certificate is not trusted (not
        retried: it will not change).
        """
        address = self.settings.address
        delay = 0.5
        last = "no attempt"
        closed_early = False
        for attempt in range(1, retries + 1):
            if stop.is_set():
                return False
            try:
                self._answered.clear()
                self._refusal = None
                rc = self.client.connect(
                    self.settings.host, self.settings.port, keepalive=KEEPALIVE_S
                )
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    raise OSError(mqtt.error_string(rc))
                rc = self.client.loop_start()
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    raise BrokerError(
                        f"cannot start the MQTT network thread: {mqtt.error_string(rc)}"
                    )
                self._answered.wait(CONNACK_TIMEOUT_S)
                if self._connected.is_set():
                    log.info("connected to %s as %s", address, self.client_id)
                    return True
                self.client.loop_stop()
                refusal = self._refusal
                if refusal is not None:
                    self.client.disconnect()
                    hint = (
                        "check MQTT_USERNAME/MQTT_PASSWORD"
                        if refusal.value in (4, 5, 134, 135)
                        else "check the broker"
                    )
                    raise BrokerError(
                        f"MQTT broker at {address} refused the connection ({refusal}): {hint}"
                    )
                closed_early = self._answered.is_set()
                last = (
                    "it closed the connection without answering"
                    if closed_early
                    else f"no CONNACK within {CONNACK_TIMEOUT_S:g}s"
                )
            except ssl.SSLCertVerificationError as exc:
                raise BrokerError(
                    describe_certificate_failure(address, exc, self.settings.ca_file)
                ) from exc
            except OSError as exc:
                closed_early = False
                last = str(exc) or type(exc).__name__
            if attempt < retries:
                log.warning(
                    "cannot reach %s (%s); attempt %d/%d, retrying in %gs",
                    address,
                    last,
                    attempt,
                    retries,
                    delay,
                )
                if stop.wait(delay):
                    log.info("stopped before connecting to %s", address)
                    return False
                delay = min(delay * 2, 8.0)
        if closed_early and not self.settings.tls:
            raise BrokerError(
                f"the MQTT broker at {address} closed the connection without answering: "
                "if it expects TLS, set MQTT_TLS=1 (and MQTT_CA_FILE for your own CA); "
                "otherwise check --host/--port and the broker's log"
            )
        tls_hint = " and MQTT_TLS" if self.settings.tls else ""
        raise BrokerError(
            f"cannot reach the MQTT broker at {address} ({last}): start one "
            f"(e.g. mosquitto -c mosquitto.conf) or check --host/--port{tls_hint}"
        )

    def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1, retained; registered with the tracker. BrokerError on a paho error code.

        MQTT_ERR_NO_CONN is fine: paho keeps the message and sends it after reconnecting.
        """
        info = self.client.publish(topic, payload, qos=QOS, retain=True)
        rc = info.rc
        if rc and rc != MQTTErrorCode.MQTT_ERR_NO_CONN:
            raise BrokerError(
                f"publishing to {self.settings.address} failed: {mqtt.error_string(rc)}"
            )
        self.tracker.register(info.mid)

    def publish_status(self, status: StatusEvent) -> mqtt.MQTTMessageInfo:
        info = self.client.publish(self.status_topic, encode_status(status), qos=QOS, retain=True)
        if info.rc and info.rc != MQTTErrorCode.MQTT_ERR_NO_CONN:
            raise BrokerError(
                f"publishing to {self.settings.address} failed: {mqtt.error_string(info.rc)}"
            )
        self.tracker.register(info.mid)
        return info

    def close(self, offline: StatusEvent, timeout: float) -> None:
        """Publish ``offline`` (bounded wait for its PUBACK), disconnect, stop the loop."""
        try:
            info = self.publish_status(offline)
            info.wait_for_publish(timeout)
        except (BrokerError, RuntimeError, ValueError) as exc:
            log.warning("could not publish the offline status: %s", exc)
        self._closing = True
        self.client.disconnect()
        self.client.loop_stop()


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
        last_report = last_ckpt = time.monotonic()
        sent_at_report = 0
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
                    if delay and self.progress.sent % 16 == 0:
                        last_report, last_ckpt, sent_at_report = self._tick(
                            last_report, last_ckpt, sent_at_report
                        )
                else:
                    tracker.end_row()
                if stop.is_set():
                    break
                last_report, last_ckpt, sent_at_report = self._tick(
                    last_report, last_ckpt, sent_at_report
                )
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

    def _tick(
        self, last_report: float, last_ckpt: float, sent_at_report: int
    ) -> tuple[float, float, int]:
        now = time.monotonic()
        if now - last_ckpt >= CHECKPOINT_EVERY_S:
            self.save_checkpoint()
            last_ckpt = now
        if now - last_report >= PROGRESS_EVERY_S:
            p = self.progress
            rate = (p.sent - sent_at_report) / (now - last_report)
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
            self.conn.publish_status(self.status("online"))
            return now, last_ckpt, p.sent
        return last_report, last_ckpt, sent_at_report


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
    if not options.embedded_broker or settings.tls or settings.host not in EMBEDDED_HOSTS:
        return None
    if is_listening(settings.host, settings.port):
        return None
    log.info("nothing listens on %s: starting the embedded broker", settings.address)
    return EmbeddedBroker(settings.port).start()


def run(options: PublisherOptions, stop: threading.Event) -> int:
    """The imperative shell: read, connect, replay, drain, say offline, disconnect."""
    table = read_replay_table(options.csv)
    log.info(
        "read %s: %d rows, %d facilities, %d regions, %d messages per pass, span %s",
        options.csv,
        table.rows,
        len(table.facility_ids),
        len(table.region_ids),
        table.messages_per_pass(),
        table.span,
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
