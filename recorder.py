"""Record the MQTT stream into a history store (SQLite by default, or PostgreSQL).

    python recorder.py [--store sqlite:///nemlive.db] [--keep-days 30]
                       [--host localhost] [--port 1883] [--topic nem/stream]

Subscribes to ``<base>/#`` on a persistent MQTT 5 session (fixed ``--client-id``), validates
every message with the dashboard's schema, and upserts facility, market and interchange events
into the store in batches (at most 5,000 messages, or what arrived within 1 s). A batch's messages are
acknowledged to the broker only once it is committed, so after a crash (even ``kill -9``)
the broker sends again whatever was not stored: every event lands exactly once. While the
store is unreachable, read-only or full, the recorder retries with backoff and acknowledges
nothing. Readings more than ``--keep-days`` days older than the newest are pruned at start
and every hour.

Exit status: 0 stopped by Ctrl-C/SIGTERM (after writing and acknowledging what it had);
2 bad flags; 1 broker unreachable or a store it cannot use (newer schema, not a store).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

from nemlive.common.errors import ConfigError, NemLiveError, StoreUnavailable
from nemlive.common.logsetup import configure_logging
from nemlive.common.mqttconfig import MqttSettings, add_mqtt_arguments, resolve_mqtt_settings
from nemlive.record.recorderlink import Inbox, Subscriber
from nemlive.record.recording import Inbound, convert_messages, describe_rejects
from nemlive.store import DEFAULT_STORE_URL, Store, StoreUrl, open_store, parse_store_url

log = logging.getLogger("recorder")

DEFAULT_CLIENT_ID = "nemlive-recorder"
DEFAULT_KEEP_DAYS = 30.0
MAX_BATCH = 5_000  # messages per transaction
FLUSH_S = 1.0  # the oldest message waits at most this long for its commit
PRUNE_EVERY_S = 3_600.0
PROGRESS_EVERY_S = 60.0
RETRY_MIN_S = 0.5
RETRY_MAX_S = 30.0


# --- options ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecorderOptions:
    """Everything main() needs, resolved once (flag, then environment, then default)."""

    mqtt: MqttSettings
    store: StoreUrl
    keep_days: float  # 0 = keep everything
    client_id: str
    connect_retries: int
    progress_every: float  # seconds between progress lines; 0 = off
    verbose: bool


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recorder.py",
        description="Record the MQTT stream into SQLite or PostgreSQL.",
        epilog="Environment: NEMLIVE_STORE, NEMLIVE_RECORDER_ID, MQTT_HOST, MQTT_PORT, "
        "MQTT_TOPIC, MQTT_USERNAME, MQTT_PASSWORD, MQTT_TLS (1 = TLS), MQTT_CA_FILE. "
        "Flags win over the environment.",
    )
    parser.add_argument(
        "--store",
        help=f"where to record: sqlite:///FILE or postgresql://USER@HOST:PORT/DB "
        f"(NEMLIVE_STORE; default {DEFAULT_STORE_URL}; prefer the environment for a password)",
    )
    parser.add_argument(
        "--keep-days",
        type=float,
        default=DEFAULT_KEEP_DAYS,
        help="days of history kept before the newest reading; 0 = keep all (default 30)",
    )
    parser.add_argument(
        "--client-id",
        help=f"MQTT client id of the persistent session (NEMLIVE_RECORDER_ID; default "
        f"{DEFAULT_CLIENT_ID}); one recorder per id",
    )
    add_mqtt_arguments(parser)
    parser.add_argument(
        "--progress-every",
        type=float,
        default=PROGRESS_EVERY_S,
        metavar="SECONDS",
        help=f"seconds between progress lines; 0 = off (default {PROGRESS_EVERY_S:g})",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def parse_options(argv: Sequence[str], env: Mapping[str, str]) -> RecorderOptions:
    """Parse flags and resolve settings; ConfigError for bad values (SystemExit from argparse)."""
    args = build_parser().parse_args(list(argv))
    if not args.keep_days >= 0:
        raise ConfigError(f"--keep-days {args.keep_days}: use 0 (keep all) or more days")
    if not args.progress_every >= 0:
        raise ConfigError(f"--progress-every {args.progress_every}: use 0 (off) or more seconds")
    if args.connect_retries < 1:
        raise ConfigError(f"--connect-retries {args.connect_retries}: use 1 or more")
    if args.store is not None:
        store = parse_store_url(args.store, "--store")
    elif env.get("NEMLIVE_STORE"):
        store = parse_store_url(env["NEMLIVE_STORE"], "NEMLIVE_STORE")
    else:
        store = parse_store_url(DEFAULT_STORE_URL)
    client_id = (args.client_id or env.get("NEMLIVE_RECORDER_ID") or DEFAULT_CLIENT_ID).strip()
    if not client_id or len(client_id) > 128:
        raise ConfigError("--client-id/NEMLIVE_RECORDER_ID: use 1 to 128 characters")
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
    return RecorderOptions(
        mqtt=settings,
        store=store,
        keep_days=args.keep_days,
        client_id=client_id,
        connect_retries=args.connect_retries,
        progress_every=args.progress_every,
        verbose=args.verbose,
    )


# --- the writer loop ----------------------------------------------------------------------


class Recorder:
    """The one writer: takes batches from the inbox, commits them, then acknowledges them."""

    def __init__(
        self,
        options: RecorderOptions,
        store: Store,
        subscriber: Subscriber,
        inbox: Inbox,
        stop: threading.Event,
    ) -> None:
        self.options = options
        self.store = store
        self.subscriber = subscriber
        self.inbox = inbox
        self.stop = stop
        self.facility_rows = 0
        self.market_rows = 0
        self.interchange_rows = 0
        self.messages = 0
        self.rejects: Counter[str] = Counter()
        self.unwritten = 0  # messages left neither written nor acknowledged at the end
        self._store_down: str | None = None  # the StoreUnavailable kind, while down
        self._last_prune = time.monotonic()
        self._last_report = time.monotonic()
        self._messages_at_report = 0

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

    def flush(self, batch: list[Inbound]) -> bool:
        """Write ``batch``, retrying while the store is unavailable, then acknowledge it.

        False if ``stop`` was set before the store came back (nothing acknowledged).
        """
        converted = convert_messages(self.options.mqtt.topic, batch, time.time())
        for reason, count in converted.rejects.items():
            if reason not in self.rejects:
                topic, detail = converted.first_reject[reason]
                log.warning(
                    "dropped an invalid message on %.120r: %s%s (counting further ones)",
                    topic,
                    reason,
                    f" ({detail})" if detail else "",
                )
            self.rejects[reason] += count
        delay = RETRY_MIN_S
        while True:
            try:
                self.store.write(converted.facility, converted.market, converted.interchange)
                break
            except StoreUnavailable as exc:
                if exc.kind != self._store_down:  # one line per change of state
                    log.error("%s; retrying, and acknowledging nothing until it is written", exc)
                    self._store_down = exc.kind
                else:
                    log.debug("still unavailable: %s", exc)
                if self.stop.wait(delay):
                    self.unwritten = len(batch)
                    return False
                delay = min(delay * 2, RETRY_MAX_S)
        if self._store_down is not None:
            log.warning("the store %s takes writes again", self.options.store)
            self._store_down = None
        self.subscriber.ack(batch)
        self.messages += len(batch)
        self.facility_rows += len(converted.facility)
        self.market_rows += len(converted.market)
        self.interchange_rows += len(converted.interchange)
        return True

    def prune(self) -> None:
        """Delete what is older than --keep-days; a failure waits for the next hour."""
        self._last_prune = time.monotonic()
        if not self.options.keep_days:
            return
        try:
            deleted = self.store.prune(self.options.keep_days, time.time()).deleted
        except StoreUnavailable as exc:
            log.warning("prune skipped: %s", exc)
            return
        if deleted:
            log.info(
                "pruned %d readings more than %g days older than the newest",
                deleted,
                self.options.keep_days,
            )

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last_prune >= PRUNE_EVERY_S:
            self.prune()
        every = self.options.progress_every
        if every and now - self._last_report >= every:
            rate = (self.messages - self._messages_at_report) / (now - self._last_report)
            log.info(
                "%d messages recorded (%.0f/s): %d facility, %d market and %d interchange "
                "readings written, %s rejected, %d waiting",
                self.messages,
                rate,
                self.facility_rows,
                self.market_rows,
                self.interchange_rows,
                describe_rejects(self.rejects),
                len(self.inbox),
            )
            self._last_report, self._messages_at_report = now, self.messages


# --- entry point --------------------------------------------------------------------------


def open_store_with_retry(url: StoreUrl, stop: threading.Event) -> Store | None:
    """open_store, retrying StoreUnavailable with backoff; None if stopped while waiting.

    A StoreError that retrying cannot mend (a newer schema, not a store) is raised at once.
    """
    delay, reported = RETRY_MIN_S, None
    while True:
        try:
            store = open_store(url)
        except StoreUnavailable as exc:
            if exc.kind != reported:  # one line per change of state
                log.error("%s; retrying", exc)
                reported = exc.kind
            else:
                log.debug("still unavailable: %s", exc)
            if stop.wait(delay):
                return None
            delay = min(delay * 2, RETRY_MAX_S)
            continue
        if reported is not None:
            log.warning("the store %s is reachable again", url)
        return store


def run(options: RecorderOptions, stop: threading.Event) -> int:
    """The imperative shell: open the store, connect, record, drain, disconnect."""
    store = open_store_with_retry(options.store, stop)
    if store is None:
        return 0
    try:
        log.info(
            "recording into %s (schema version %d), keeping %s",
            options.store,
            store.schema_version(),
            f"{options.keep_days:g} days" if options.keep_days else "everything",
        )
        inbox = Inbox()
        subscriber = Subscriber(options.mqtt, options.client_id, inbox, options.verbose)
        recorder = Recorder(options, store, subscriber, inbox, stop)
        recorder.prune()
        if not subscriber.connect(options.connect_retries, stop):
            return 0
        try:
            recorder.run()
        finally:
            subscriber.close()
        log.info(
            "stopped: %d messages recorded, %d facility, %d market and %d interchange readings "
            "written, %s rejected",
            recorder.messages,
            recorder.facility_rows,
            recorder.market_rows,
            recorder.interchange_rows,
            describe_rejects(recorder.rejects),
        )
        if recorder.unwritten:
            log.warning(
                "%d messages were not written: the broker keeps them for the next start",
                recorder.unwritten,
            )
        return 0
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 stopped, 2 bad flags, 1 broker or store failure."""
    try:
        options = parse_options(sys.argv[1:] if argv is None else argv, os.environ)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2, already printed)
        return int(exc.code or 0)
    except NemLiveError as exc:
        print(f"recorder.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    handler = configure_logging(options.verbose, name="nemlive-recorder")
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info(
                "%s received: writing what has arrived, then stopping", signal.Signals(signum).name
            )
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _on_signal)
    try:
        return run(options, stop)
    except NemLiveError as exc:
        print(f"recorder.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        logging.getLogger().removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
