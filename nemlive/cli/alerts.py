"""Evaluate alert rules on the MQTT stream and publish what fires (docs/alerts.md).

    python alerts.py [--rules alerts.toml] [--state alerts.state.json]
                     [--facilities data/facilities.csv] [--check]
                     [--host localhost] [--port 1883] [--topic nem/stream]

Subscribes to ``<base>/#`` on a persistent MQTT 5 session (fixed ``--client-id``), validates
every message with the wire schema, evaluates the rules of ``--rules`` and publishes each
alert retained on ``<base>/alert/<rule>/<subject>`` (and to the rules file's webhooks).

Exit status: 0 stopped by Ctrl-C/SIGTERM (or ``--check`` passed); 2 bad flags, a bad rules
file or an unreadable facility lookup; 1 broker unreachable or a state file it cannot read.
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

from nemlive.alert import AlertService, Evaluator, RuleSet, WebhookSink, load_rules
from nemlive.alert.evaluate import DEFAULT_SETTLE_S
from nemlive.cli.stopping import stop_on_signals
from nemlive.common import (
    ConfigError,
    MqttSettings,
    NemLiveError,
    add_mqtt_arguments,
    configure_logging,
    lookups,
    resolve_mqtt_arguments,
)

log = logging.getLogger("alerts")

DEFAULT_RULES = Path("alerts.toml")
DEFAULT_STATE = Path("alerts.state.json")
DEFAULT_CLIENT_ID = "nemlive-alerts"


@dataclass(frozen=True)
class AlertOptions:
    mqtt: MqttSettings
    rules: Path
    state: Path
    facilities: Path
    client_id: str
    settle_s: float
    connect_retries: int
    check: bool
    verbose: bool


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alerts.py",
        description="Evaluate alert rules on the MQTT stream and publish what fires.",
        epilog="Environment: NEMLIVE_FACILITIES, NEMLIVE_ALERTS_ID, MQTT_HOST, MQTT_PORT, "
        "MQTT_TOPIC, MQTT_USERNAME, MQTT_PASSWORD, MQTT_TLS (1 = TLS), MQTT_CA_FILE. "
        "Flags win over the environment.",
    )
    parser.add_argument(
        "--rules",
        type=Path,
        default=DEFAULT_RULES,
        help="the rules file, TOML (default alerts.toml; see alerts.example.toml)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=DEFAULT_STATE,
        help="where the alerter keeps what it has evaluated, for a restart "
        "(default alerts.state.json)",
    )
    parser.add_argument(
        "--facilities",
        metavar="PATH",
        help="the facility lookup, for fuels (NEMLIVE_FACILITIES; default data/facilities.csv)",
    )
    parser.add_argument(
        "--client-id",
        help=f"MQTT client id of the persistent session (NEMLIVE_ALERTS_ID; default "
        f"{DEFAULT_CLIENT_ID}); one alerter per id",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=DEFAULT_SETTLE_S,
        metavar="SECONDS",
        help="evaluate an interval once its stream has been quiet this long "
        f"(default {DEFAULT_SETTLE_S:g})",
    )
    parser.add_argument(
        "--check", action="store_true", help="check the rules file and the lookup, then exit"
    )
    add_mqtt_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def parse_options(argv: Sequence[str], env: Mapping[str, str]) -> AlertOptions:
    """Flags and environment resolved once; ConfigError for bad values."""
    args = build_parser().parse_args(list(argv))
    if not args.settle > 0:
        raise ConfigError(f"--settle {args.settle}: use more than 0 seconds")
    client_id = (args.client_id or env.get("NEMLIVE_ALERTS_ID") or DEFAULT_CLIENT_ID).strip()
    if not client_id or len(client_id) > 64 or any(c in client_id for c in "/#+"):
        raise ConfigError("--client-id/NEMLIVE_ALERTS_ID: use 1 to 64 characters, no / # +")
    return AlertOptions(
        mqtt=resolve_mqtt_arguments(args, env),
        rules=args.rules,
        state=args.state,
        facilities=Path(args.facilities or env.get("NEMLIVE_FACILITIES") or lookups.FACILITIES_CSV),
        client_id=client_id,
        settle_s=args.settle,
        connect_retries=args.connect_retries,
        check=args.check,
        verbose=args.verbose,
    )


def load_fuels(path: Path) -> dict[str, str]:
    """facility id -> dominant fuel group; ConfigError (exit 2) naming the file."""
    try:
        facilities = lookups.load_facilities(path)
    except FileNotFoundError:
        raise ConfigError(
            f"facility lookup {path} not found: run make data (or git checkout "
            "data/facilities.csv), or point --facilities/NEMLIVE_FACILITIES at one"
        ) from None
    except (ValueError, OSError) as exc:
        raise ConfigError(
            f"facility lookup {path} is unreadable ({exc}): fix or replace it"
        ) from None
    return {fid: lookups.fuel_group_of(fac) for fid, fac in facilities.items()}


def run(
    options: AlertOptions, ruleset: RuleSet, fuels: dict[str, str], stop: threading.Event
) -> int:
    """Connect, recover, evaluate until stopped."""
    evaluator = Evaluator(ruleset.rules, fuels, settle_s=options.settle_s)
    sinks = [WebhookSink(s.url, s.format).start() for s in ruleset.sinks]
    service = AlertService(options.mqtt, options.client_id, evaluator, options.state, sinks)
    try:
        if not service.connect(options.connect_retries, stop):
            return 0
        service.recover()
        log.info(
            "evaluating %d rules from %s on %s/#, %d webhooks",
            len(ruleset.rules),
            options.rules,
            options.mqtt.topic,
            len(sinks),
        )
        service.run(stop)
    finally:
        service.close()
    counts = dict(evaluator.counts) | {f"reject_{k}": v for k, v in service.rejects.items()}
    log.info("stopped: %s alerts published; %s", dict(service.published), counts)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 stopped, 2 bad flags, rules or lookup, 1 broker or state failure."""
    try:
        options = parse_options(sys.argv[1:] if argv is None else argv, os.environ)
        ruleset = load_rules(options.rules)
        fuels = load_fuels(options.facilities)
    except SystemExit as exc:
        return int(exc.code or 0)
    except NemLiveError as exc:
        print(f"alerts.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    if options.check:
        print(f"{options.rules}: {len(ruleset.rules)} rules, {len(ruleset.sinks)} webhooks: ok")
        return 0
    handler = configure_logging(options.verbose, name="nemlive-alerts")
    try:
        with stop_on_signals(log, "stopping") as stop:
            return run(options, ruleset, fuels, stop)
    except NemLiveError as exc:
        print(f"alerts.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        logging.getLogger().removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
