"""Record the MQTT stream into a history store (SQLite by default, or PostgreSQL).

    python recorder.py [--store sqlite:///nemlive.db] [--keep-days 30]
                       [--facilities data/facilities.csv | --record-all]
                       [--host localhost] [--port 1883] [--topic nem/stream]
                       [--share-group GROUP --client-id ID [--cover ID,ID]]

Subscribes to ``<base>/#`` on a persistent MQTT 5 session (fixed ``--client-id``; with
``--share-group``, to ``$share/GROUP/<base>/#``, so that the recorders of one group split
the stream, each on a session of its own, and with ``--cover`` take over the session of one
that is down; docs/recording.md), validates
every message with the dashboard's schema, and upserts facility, market and interchange events
into the store in batches (at most 5,000 messages, or what arrived within 1 s). A batch's messages are
acknowledged to the broker only once it is committed, so after a crash (even ``kill -9``)
the broker sends again whatever was not stored: every event lands exactly once. While the
store is unreachable, read-only or full, the recorder retries with backoff and acknowledges
nothing.

What anyone who can publish on the topic could otherwise do to the store is bounded: an
interval ahead of the clock is rejected (``future``); only the facilities of the lookup table
and the five regions are recorded (others are counted ``unknown``, the first 1,000 by name;
``--record-all`` records every id); the inbox is bounded (``nemlive.record.subscriber``).
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
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nemlive.cli.stopping import stop_on_signals
from nemlive.common import (
    ConfigError,
    MqttSettings,
    NemLiveError,
    add_mqtt_arguments,
    configure_logging,
    events,
    lookups,
    parse_bool,
    resolve_mqtt_arguments,
)
from nemlive.record import (
    ADMIT_ALL,
    Admission,
    Inbox,
    Recorder,
    Subscriber,
    log_stop,
    open_store_with_retry,
)
from nemlive.record.cover import Cover, Sessions
from nemlive.store import (
    DEFAULT_STORE_URL,
    StoreUrl,
    parse_store_url,
)

log = logging.getLogger("recorder")

DEFAULT_CLIENT_ID = "nemlive-recorder"
DEFAULT_KEEP_DAYS = 30.0
PROGRESS_EVERY_S = 60.0


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
    share_group: str | None = None  # MQTT 5 shared subscription group; None = the whole stream
    cover: tuple[str, ...] = ()  # client ids of the group's recorders whose sessions we adopt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recorder.py",
        description="Record the MQTT stream into SQLite or PostgreSQL.",
        epilog="Environment: NEMLIVE_STORE, NEMLIVE_RECORDER_ID, NEMLIVE_SHARE_GROUP, "
        "NEMLIVE_COVER, "
        "NEMLIVE_FACILITIES, NEMLIVE_RECORD_ALL (1 = --record-all), MQTT_HOST, MQTT_PORT, "
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
    add_share_arguments(parser)
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


def add_share_arguments(parser: argparse.ArgumentParser) -> None:
    """--share-group and --cover: recorders that split the stream and cover for each other."""
    parser.add_argument(
        "--share-group",
        metavar="GROUP",
        help="share the stream with the other recorders of GROUP (NEMLIVE_SHARE_GROUP): an "
        "MQTT 5 shared subscription, so each message goes to one of them; each needs its "
        "own --client-id, and a killed one's share waits on the broker until it is back "
        "(docs/recording.md)",
    )
    parser.add_argument(
        "--cover",
        metavar="ID,ID",
        help="client ids of the group's other recorders (NEMLIVE_COVER): while one is down, "
        "this one records its share on its session, so the group records the whole stream "
        "(needs --share-group and a PostgreSQL store; docs/recording.md)",
    )


def parse_options(argv: Sequence[str], env: Mapping[str, str]) -> RecorderOptions:
    """Parse flags and resolve settings; ConfigError for bad values (SystemExit from argparse)."""
    args = build_parser().parse_args(list(argv))
    if not args.keep_days >= 0:
        raise ConfigError(f"--keep-days {args.keep_days}: use 0 (keep all) or more days")
    if not args.progress_every >= 0:
        raise ConfigError(f"--progress-every {args.progress_every}: use 0 (off) or more seconds")
    if args.store is not None:
        store = parse_store_url(args.store, "--store")
    elif env.get("NEMLIVE_STORE"):
        store = parse_store_url(env["NEMLIVE_STORE"], "NEMLIVE_STORE")
    else:
        store = parse_store_url(DEFAULT_STORE_URL)
    client_id = (args.client_id or env.get("NEMLIVE_RECORDER_ID") or DEFAULT_CLIENT_ID).strip()
    if not client_id or len(client_id) > 128:
        raise ConfigError("--client-id/NEMLIVE_RECORDER_ID: use 1 to 128 characters")
    share_group = resolve_share_group(args.share_group, args.client_id, env)
    settings = resolve_mqtt_arguments(args, env)
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
        share_group=share_group,
        cover=resolve_cover(args.cover, env, share_group, store, client_id),
    )


def resolve_cover(
    flag: str | None, env: Mapping[str, str], group: str | None, store: StoreUrl, own: str
) -> tuple[str, ...]:
    """The client ids to cover for (flag, then NEMLIVE_COVER; comma-separated, our own id
    left out); ConfigError without a share group or a PostgreSQL store, which holds the
    leases that tell who is down."""
    raw = flag if flag is not None else env.get("NEMLIVE_COVER", "")
    ids = tuple(dict.fromkeys(i.strip() for i in raw.split(",") if i.strip() and i.strip() != own))
    if not ids:
        return ()
    if group is None:
        raise ConfigError("--cover/NEMLIVE_COVER: covering for other recorders needs --share-group")
    if store.backend != "postgresql":
        raise ConfigError(
            "--cover/NEMLIVE_COVER: covering for other recorders needs a PostgreSQL store, "
            "which the group shares (--store postgresql://...)"
        )
    return ids


def resolve_share_group(
    flag: str | None, client_id_flag: str | None, env: Mapping[str, str]
) -> str | None:
    """The share group (flag, then NEMLIVE_SHARE_GROUP), or None for the whole stream.

    ConfigError for a name MQTT forbids, and for a group without a client id of its own:
    two recorders on the default id would take the one session from each other in turn.
    """
    raw = flag if flag is not None else env.get("NEMLIVE_SHARE_GROUP") or None
    if raw is None:
        return None
    try:
        group = events.check_share_group(raw)
    except ValueError as exc:
        raise ConfigError(f"--share-group/NEMLIVE_SHARE_GROUP {raw!r}: {exc}") from None
    if not (client_id_flag or env.get("NEMLIVE_RECORDER_ID", "").strip()):
        raise ConfigError(
            f"--share-group {group}: give each recorder of the group its own --client-id "
            "(NEMLIVE_RECORDER_ID), e.g. recorder-a and recorder-b, and keep it across restarts"
        )
    return group


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


def build_cover(
    options: RecorderOptions, sessions: Sessions, inbox: Inbox, stop: threading.Event
) -> Cover | None:
    """Our lease, and the thread that adopts the sessions of --cover's recorders while they
    are down (nemlive.record.cover)."""
    if not options.cover:
        return None

    def adopt(client_id: str) -> Subscriber | None:
        sub = Subscriber(
            options.mqtt, client_id, inbox, options.verbose, options.share_group, adopted=True
        )
        try:
            return sub if sub.connect(options.connect_retries, stop) else None
        except NemLiveError as exc:
            log.warning("cannot take over the session of %s: %s", client_id, exc)
            return None

    return Cover(options.store, options.client_id, options.cover, sessions, adopt, stop)


def run(
    options: RecorderOptions,
    stop: threading.Event,
    admission: Admission,
    clock: Callable[[], float] = time.time,
) -> int:
    """The imperative shell: open the store, connect, record, drain, disconnect."""
    store = open_store_with_retry(options.store, stop, log)
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
        subscriber = Subscriber(
            options.mqtt, options.client_id, inbox, options.verbose, options.share_group
        )
        sessions = Sessions(subscriber)
        recorder = Recorder(
            options, store, sessions, inbox, stop, admission=admission, clock=clock, logger=log
        )
        recorder.prune()
        cover = build_cover(options, sessions, inbox, stop)
        if cover is not None and not cover.take_lease():
            return 0
        if not subscriber.connect(options.connect_retries, stop):
            return 0
        if cover is not None:
            cover.start()
            log.info("covering for %s while they are down", ", ".join(options.cover))
        try:
            recorder.run()
        finally:
            stop.set()
            if cover is not None:
                cover.join()
                cover.close()
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
    try:
        with stop_on_signals(log, "writing what has arrived, then stopping") as stop:
            return run(options, stop, admission)
    except NemLiveError as exc:
        print(f"recorder.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        logging.getLogger().removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
