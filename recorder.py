"""Record the MQTT stream into a history store (SQLite by default, or PostgreSQL).

    python recorder.py [--store sqlite:///nemlive.db] [--keep-days 30]
                       [--facilities data/facilities.csv | --record-all]
                       [--host localhost] [--port 1883] [--topic nem/stream]

Subscribes to ``<base>/#`` on a persistent MQTT 5 session (fixed ``--client-id``), validates
every message with the dashboard's schema, and upserts facility, market and interchange events
into the store in batches (at most 5,000 messages, or what arrived within 1 s). A batch's messages are
acknowledged to the broker only once it is committed, so after a crash (even ``kill -9``)
the broker sends again whatever was not stored: every event lands exactly once. While the
store is unreachable, read-only or full, the recorder retries with backoff and acknowledges
nothing.

What anyone who can publish on the topic could otherwise do to the store is bounded: an
interval ahead of the clock is rejected (``future``); only the facilities of the lookup table
and the five regions are recorded (others are counted ``unknown``, the first 1,000 by name;
``--record-all`` records every id); the inbox is bounded (``nemlive.record.recorderlink``).
Readings more than ``--keep-days`` days older than the newest reading not ahead of the clock
are pruned at start and every hour; a prune that deletes more than half of the store
says so in a WARNING line. A SQLite store's write-ahead log is folded back and emptied every
``CHECKPOINT_EVERY_COMMITS`` commits or ``CHECKPOINT_EVERY_S`` seconds.

Exit status: 0 stopped by Ctrl-C/SIGTERM (after writing and acknowledging what it had);
2 bad flags or an unreadable facility lookup; 1 broker unreachable or a store it cannot use
(newer schema, not a store).
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from nemlive.common import (
    MAX_PAYLOAD_BYTES,
    ConfigError,
    MqttSettings,
    NemLiveError,
    StoreError,
    StoreUnavailable,
    add_mqtt_arguments,
    configure_logging,
    lookups,
    nemtime,
    parse_bool,
    resolve_mqtt_settings,
)
from nemlive.record import (
    ADMIT_ALL,
    INBOX_FULL,
    OVERSIZE,
    UNKNOWN_REASON,
    Admission,
    Converted,
    Inbound,
    Inbox,
    Subscriber,
    UnknownIds,
    convert_messages,
    describe_rejects,
)
from nemlive.store import (
    DEFAULT_STORE_URL,
    Pruned,
    Store,
    StoreUrl,
    open_store,
    parse_store_url,
)

log = logging.getLogger("recorder")

DEFAULT_CLIENT_ID = "nemlive-recorder"
DEFAULT_KEEP_DAYS = 30.0
MAX_BATCH = 5_000  # messages per transaction
FLUSH_S = 1.0  # the oldest message waits at most this long for its commit
PRUNE_EVERY_S = 3_600.0
PROGRESS_EVERY_S = 60.0
PRUNE_WARN_SHARE = 0.5  # a prune deleting more than this share of the readings held warns
CHECKPOINT_EVERY_COMMITS = 20
CHECKPOINT_EVERY_S = 60.0
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
    facilities: Path = lookups.FACILITIES_CSV  # the lookup: facility ids that are recorded
    record_all: bool = False  # record every facility id, known to the lookup or not


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recorder.py",
        description="Record the MQTT stream into SQLite or PostgreSQL.",
        epilog="Environment: NEMLIVE_STORE, NEMLIVE_RECORDER_ID, NEMLIVE_FACILITIES, "
        "NEMLIVE_RECORD_ALL (1 = --record-all), MQTT_HOST, MQTT_PORT, "
        "MQTT_TOPIC, MQTT_USERNAME, MQTT_PASSWORD, MQTT_TLS (1 = TLS), MQTT_CA_FILE. "
        "Flags win over the environment.",
    )
    parser.add_argument(
        "--store",
        help=f"where to record: sqlite:///FILE or postgresql://USER@HOST:PORT/DB "
        f"(NEMLIVE_STORE; default {DEFAULT_STORE_URL}). A URL with a password belongs in "
        "NEMLIVE_STORE: a command line is visible to every local user",
    )
    parser.add_argument(
        "--keep-days",
        type=float,
        default=DEFAULT_KEEP_DAYS,
        help="days of history kept before the newest reading not ahead of the clock; "
        "0 = keep all (default 30)",
    )
    parser.add_argument(
        "--facilities",
        metavar="PATH",
        help="the facility lookup: only its facilities are recorded (NEMLIVE_FACILITIES; "
        "default data/facilities.csv, as the dashboard)",
    )
    parser.add_argument(
        "--record-all",
        action="store_true",
        default=None,
        help="record every facility id, in the lookup or not (NEMLIVE_RECORD_ALL=1), for a "
        "stream wider than the lookup; anyone who can publish can then add ids",
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
    record_all = args.record_all or parse_bool(
        "NEMLIVE_RECORD_ALL", env.get("NEMLIVE_RECORD_ALL", "")
    )
    return RecorderOptions(
        mqtt=settings,
        store=store,
        keep_days=args.keep_days,
        client_id=client_id,
        connect_retries=args.connect_retries,
        progress_every=args.progress_every,
        verbose=args.verbose,
        facilities=Path(args.facilities or env.get("NEMLIVE_FACILITIES") or lookups.FACILITIES_CSV),
        record_all=bool(record_all),
    )


def load_admission(options: RecorderOptions) -> Admission:
    """What is recorded: the lookup's facilities and the five regions, or every id with
    ``record_all``. ConfigError (exit 2) naming the file when the lookup cannot be read."""
    if options.record_all:
        return ADMIT_ALL
    path = options.facilities
    try:
        facilities = lookups.load_facilities(path)
    except FileNotFoundError:
        raise ConfigError(
            f"facility lookup {path} not found: run make data (or git checkout "
            "data/facilities.csv), point --facilities/NEMLIVE_FACILITIES at one, or pass "
            "--record-all to record every id"
        ) from None
    except (ValueError, OSError) as exc:
        raise ConfigError(
            f"facility lookup {path} is unreadable ({exc}): fix or replace it, or pass "
            "--record-all to record every id"
        ) from None
    return Admission(frozenset(facilities))


# --- the writer loop ----------------------------------------------------------------------


class Recorder:
    """The one writer: takes batches from the inbox, commits them, then acknowledges them.

    ``admission``: the ids recorded. ``clock``: the wall clock (epoch s) that the future guard
    and retention count from; ``monotonic``: the clock of the hourly prune, the checkpoints and
    the progress lines. Tests pass their own.
    """

    def __init__(
        self,
        options: RecorderOptions,
        store: Store,
        subscriber: Subscriber,
        inbox: Inbox,
        stop: threading.Event,
        *,
        admission: Admission,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.store = store
        self.subscriber = subscriber
        self.inbox = inbox
        self.stop = stop
        self.admission = admission
        self.clock = clock
        self.monotonic = monotonic
        self.facility_rows = 0
        self.market_rows = 0
        self.interchange_rows = 0
        self.messages = 0
        self.rejects: Counter[str] = Counter()
        self.unknown = UnknownIds()
        self.unwritten = 0  # messages left neither written nor acknowledged at the end
        self.unwritten_qos0 = 0  # of which QoS 0: no broker keeps those
        self._store_down: str | None = None  # the StoreUnavailable kind, while down
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
                    self.unwritten_qos0 = sum(1 for m in batch if not m.qos)
                    return False
                self._report()  # the inbox fills meanwhile: say what it drops
                delay = min(delay * 2, RETRY_MAX_S)
        if self._store_down is not None:
            log.warning("the store %s takes writes again", self.options.store)
            self._store_down = None
        self.subscriber.ack(batch)
        self.messages += len(batch)
        self.facility_rows += len(converted.facility)
        self.market_rows += len(converted.market)
        self.interchange_rows += len(converted.interchange)
        self._commits_since_checkpoint += 1
        return True

    def _count(self, converted: Converted) -> None:
        """Add a batch's rejects to the totals, with one line for each reason's first."""
        for reason, count in converted.rejects.items():
            if reason not in self.rejects:
                topic, detail = converted.first_reject[reason]
                if reason == UNKNOWN_REASON:
                    log.warning(
                        "not recording %.120r: its id is not in the lookup %s (--record-all "
                        "records every id; counting further ones)",
                        topic,
                        self.options.facilities,
                    )
                else:
                    log.warning(
                        "dropped an invalid message on %.120r: %s%s (counting further ones)",
                        topic,
                        reason,
                        f" ({detail})" if detail else "",
                    )
            self.rejects[reason] += count
        self.unknown.add(converted.unknown_ids)

    def prune(self) -> None:
        """Delete what is older than --keep-days; a failure waits for the next hour."""
        self._last_prune = self.monotonic()
        if not self.options.keep_days:
            return
        try:
            pruned = self.store.prune(self.options.keep_days, self.clock())
        except StoreUnavailable as exc:
            log.warning("prune skipped: %s", exc)
            return
        if pruned.deleted:
            log.info(
                "pruned %d readings more than %g days older than the newest%s",
                pruned.deleted,
                self.options.keep_days,
                " not ahead of the clock" if pruned.skipped_future else "",
            )
        if pruned.share > PRUNE_WARN_SHARE:
            log.warning("%s", describe_large_prune(pruned, self.options.keep_days))

    def checkpoint(self) -> None:
        """Shrink the store's write-ahead log (SQLite); a failure waits for the next time."""
        self._last_checkpoint = self.monotonic()
        self._commits_since_checkpoint = 0
        try:
            emptied = self.store.checkpoint()
        except StoreError as exc:
            log.warning("checkpoint skipped: %s", exc)
            return
        if not emptied:
            log.debug("a reader still reads the write-ahead log: it is emptied next time")

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
                log.warning(
                    "dropped a message over %d bytes before queueing it (counting further ones)",
                    MAX_PAYLOAD_BYTES,
                )
            elif reason == INBOX_FULL:
                log.warning(
                    "%d QoS 0 messages wait for the store: further QoS 0 messages are dropped "
                    "until it takes writes (counting them; QoS 1 ones wait on the broker)",
                    self.inbox.qos0_max,
                )
        now = self.monotonic()
        every = self.options.progress_every
        if every and now - self._last_report >= every:
            rate = (self.messages - self._messages_at_report) / (now - self._last_report)
            log.info(
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


def log_stop(recorder: Recorder) -> None:
    """The lines that end a run: totals, the unknown ids, and what was left unwritten."""
    options = recorder.options
    log.info(
        "stopped: %d messages recorded, %d facility, %d market and %d interchange readings "
        "written, %s rejected",
        recorder.messages,
        recorder.facility_rows,
        recorder.market_rows,
        recorder.interchange_rows,
        describe_rejects(recorder.all_rejects()),
    )
    if recorder.unknown.names:
        log.info(
            "not recorded, as the lookup %s lacks them: %s",
            options.facilities,
            recorder.unknown.describe(),
        )
    if recorder.unwritten:
        log.warning(
            "%d messages were not written: the broker keeps the %d QoS 1 ones for the next start%s",
            recorder.unwritten,
            recorder.unwritten - recorder.unwritten_qos0,
            f"; the {recorder.unwritten_qos0} QoS 0 ones are lost"
            if recorder.unwritten_qos0
            else "",
        )


def run(
    options: RecorderOptions,
    stop: threading.Event,
    admission: Admission,
    clock: Callable[[], float] = time.time,
) -> int:
    """The imperative shell: open the store, connect, record, drain, disconnect."""
    store = open_store_with_retry(options.store, stop)
    if store is None:
        return 0
    try:
        log.info(
            "recording into %s (schema version %d), keeping %s, %s",
            options.store,
            store.schema_version(),
            f"{options.keep_days:g} days" if options.keep_days else "everything",
            "every id (--record-all)"
            if admission.facilities is None
            else f"the {len(admission.facilities)} facilities of {options.facilities} and "
            "the five regions",
        )
        inbox = Inbox()
        subscriber = Subscriber(options.mqtt, options.client_id, inbox, options.verbose)
        recorder = Recorder(
            options, store, subscriber, inbox, stop, admission=admission, clock=clock
        )
        recorder.prune()
        if not subscriber.connect(options.connect_retries, stop):
            return 0
        try:
            recorder.run()
        finally:
            subscriber.close()
        log_stop(recorder)
        return 0
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 stopped, 2 bad flags or lookup, 1 broker or store failure."""
    try:
        options = parse_options(sys.argv[1:] if argv is None else argv, os.environ)
        admission = load_admission(options)
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
        return run(options, stop, admission)
    except NemLiveError as exc:
        print(f"recorder.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        logging.getLogger().removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
