"""publisher.py (``nemlive-publisher``): replay consolidate.csv to MQTT as a live stream
(docs/contracts.md §1 and §3).

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
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nemlive.cli.stopping import stop_on_signals
from nemlive.common import (
    ConfigError,
    MqttSettings,
    NemLiveError,
    add_mqtt_arguments,
    configure_logging,
    resolve_mqtt_arguments,
)
from nemlive.publish import (
    EMBEDDED_HOST,
    AckTracker,
    Connection,
    EmbeddedBroker,
    FollowPlan,
    LivePublisher,
    Replayer,
    ReplayPlan,
    check_embedded_can_serve,
    default_checkpoint_path,
    default_live_checkpoint_path,
    is_listening,
    read_replay_table,
    resolve_start,
)

log = logging.getLogger("publisher")

PROGRESS_EVERY_S = 5.0  # default of --progress-every
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
    follow: bool = False

    @property
    def follow_plan(self) -> FollowPlan:
        return FollowPlan(
            csv=self.csv,
            checkpoint=self.checkpoint,
            topic=self.mqtt.topic,
            delay=self.delay,
            progress_every=self.progress_every,
        )

    @property
    def plan(self) -> ReplayPlan:
        return ReplayPlan(
            delay=self.delay,
            cooldown=self.cooldown,
            cycles=self.cycles,
            progress_every=self.progress_every,
            checkpoint=self.checkpoint,
            topic=self.mqtt.topic,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="publisher.py",
        description="Replay consolidate.csv to an MQTT broker as a live stream.",
        epilog="Environment: MQTT_HOST, MQTT_PORT, MQTT_TOPIC, MQTT_USERNAME, MQTT_PASSWORD, "
        "MQTT_TLS (1 = TLS), MQTT_CA_FILE (CA certificate for TLS). "
        "Flags win over the environment.",
    )
    parser.add_argument("--csv", type=Path, default=Path("consolidate.csv"), help="input file")
    add_mqtt_arguments(parser)
    parser.add_argument(
        "--delay", type=float, default=0.1, help="seconds between messages; 0 = as fast as acked"
    )
    parser.add_argument("--cooldown", type=float, default=60.0, help="seconds between passes")
    parser.add_argument("--cycles", type=int, default=0, help="passes over the file; 0 = forever")
    parser.add_argument("--resume", action="store_true", help="continue after the last checkpoint")
    parser.add_argument(
        "--follow",
        action="store_true",
        help="live: publish the cache with its real timestamps, then every value the "
        "extractor's --follow adds to it, each once (--cooldown, --cycles and --resume do not "
        "apply: the live checkpoint is always used)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="checkpoint file (default: beside the CSV, consolidate.checkpoint.json, or "
        "consolidate.live.checkpoint.json with --follow)",
    )
    parser.add_argument(
        "--no-embedded-broker",
        dest="embedded_broker",
        action="store_false",
        help="never start the embedded amqtt broker on 127.0.0.1",
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
    settings = resolve_mqtt_arguments(args, env)
    return PublisherOptions(
        csv=args.csv,
        mqtt=settings,
        delay=args.delay,
        cooldown=args.cooldown,
        cycles=args.cycles,
        resume=args.resume,
        checkpoint=args.checkpoint
        or (default_live_checkpoint_path if args.follow else default_checkpoint_path)(args.csv),
        embedded_broker=args.embedded_broker,
        connect_retries=args.connect_retries,
        verbose=args.verbose,
        progress_every=args.progress_every,
        follow=args.follow,
    )


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


def run_live(options: PublisherOptions, stop: threading.Event) -> int:
    """``--follow``: connect, publish the cache and its changes until ``stop``, drain, save
    the live checkpoint, say offline, disconnect."""
    embedded = _maybe_start_embedded(options)
    try:
        tracker = AckTracker()
        conn = Connection(options.mqtt, tracker, options.verbose)
        if not conn.connect(options.connect_retries, stop):
            return 0
        live = LivePublisher(options.follow_plan, conn, tracker, stop)
        try:
            live.run()
        finally:
            if not tracker.wait_all(DRAIN_TIMEOUT_S):
                log.warning(
                    "%d messages were not acknowledged; they are sent again after a restart",
                    tracker.outstanding,
                )
            live.commit_acked()
            live.save_checkpoint()
            conn.close(live.status("offline"), timeout=5.0)
        log.info("published %d messages; offline", live.published)
        return 0
    finally:
        if embedded is not None:
            embedded.stop(timeout=5.0)


def run(options: PublisherOptions, stop: threading.Event) -> int:
    """The imperative shell: read, connect, replay, drain, say offline, disconnect."""
    if options.follow:
        return run_live(options, stop)
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
    start = resolve_start(
        options.resume, options.checkpoint, table, options.mqtt.topic, options.cycles
    )
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
        replayer = Replayer(options.plan, table, conn, tracker, stop)
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
    try:
        with stop_on_signals(log, "finishing") as stop:
            return run(options, stop)
    except NemLiveError as exc:
        print(f"publisher.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        logging.getLogger().removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
