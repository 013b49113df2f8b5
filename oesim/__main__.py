"""``python -m oesim``: run the OE simulator as a process.

Prints exactly one line on stdout, ``OE simulator listening on http://HOST:PORT/v4``, then
serves until SIGTERM or Ctrl-C (exit 0). Errors: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from oesim.clock import SETTLE_DELAY_S, make_clock, parse_clock_start
from oesim.credits import PLAN_CREDITS, CreditLedger
from oesim.faults import REQUEST_LOG_LIMIT, FaultSpecError, parse_fault_spec
from oesim.nemweb import arm_fault, parse_nemweb_fault
from oesim.server import DEMO_KEY, SimulatorConfig, SimulatorServer, load_dataset, make_server

EPILOG = f"""\
The demo key {DEMO_KEY} is accepted unless --key is given.
Point the extractor at it with OPENELECTRICITY_API_URL=http://127.0.0.1:PORT/v4.

Faults (--fault KIND[:N[:PATH_SUBSTRING]], repeatable; each hits the next N matching requests):
  500 502 503 504 429 416 401 403 slow truncated truncated_close
At run time: curl -X POST 'http://127.0.0.1:PORT/__sim__/faults?kind=503&count=2'
Request log: curl http://127.0.0.1:PORT/__sim__/requests (the newest {REQUEST_LOG_LIMIT:,})
The /__sim__/ routes answer only callers on this machine (127.0.0.0/8, ::1): with --host 0.0.0.0
anyone else gets 403.

Live (--live): data ends at the last settled interval, {SETTLE_DELAY_S // 60} minutes after its end
by the simulated clock (--clock-speed, --clock-start); every request with a key costs one
credit (default: the plan's 500 a day), refilled at midnight UTC of the simulated clock;
a key out of credits gets 401 'Authentication failed'.
Clock: curl http://127.0.0.1:PORT/__sim__/clock

NEMweb (--live only): AEMO's public reports at the same address, NEMWEB_URL=http://127.0.0.1:PORT:
/Reports/Current/Dispatch_SCADA/ and DispatchIS_Reports/ (a zip per 5-minute interval, the last
3 days), /Reports/Current/CDEII/, /Reports/Archive/Dispatch_SCADA/ and DispatchIS_Reports/ (a
zip of each NEM day's zips). The file for the interval ending at T appears at T + 60 s + 0-45 s
by the simulated clock; no key, no credits. Faults (--nemweb-fault KIND[:N[:SECONDS]]):
  late (the next N intervals appear SECONDS late, default 240)  missing  replaced  403  truncated
At run time: curl -X POST 'http://127.0.0.1:PORT/__sim__/nemweb/faults?kind=missing&count=2'

Simulator choices: Bearer auth on every route; every interval of the official SDK (5m to fy,
30m included); all market metrics, computed from the dataset's own series and market model;
network data grouped by fueltech, fueltech_group, status or renewable; history window not
enforced. See docs/oe-api.md for the list of differences from the real API.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m oesim",
        description="A local OpenElectricity v4 API server for tests and offline demos.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="TCP port, 0 = ephemeral (default 0)")
    p.add_argument(
        "--dataset", default="small", choices=("small", "scaled", "nem"), help="default small"
    )
    p.add_argument(
        "--key",
        action="append",
        default=None,
        metavar="KEY",
        help=f"accepted API key, repeatable (default {DEMO_KEY})",
    )
    p.add_argument(
        "--exhausted-key",
        action="append",
        default=[],
        metavar="KEY",
        help="a key answered with 401 'Authentication failed' (out of credit)",
    )
    p.add_argument("--seed", type=int, default=0, help="series seed (default 0)")
    p.add_argument(
        "--fault", action="append", default=[], metavar="KIND:N", help="arm a fault at start"
    )
    p.add_argument(
        "--slow-seconds", type=float, default=3.0, help="sleep of a 'slow' fault (default 3)"
    )
    p.add_argument(
        "--retry-after", type=int, default=1, help="Retry-After of a '429' fault (default 1)"
    )
    p.add_argument(
        "--anonymous-market",
        action="store_true",
        help="make auth optional on market and network data, as the real API does",
    )
    p.add_argument(
        "--legacy-shape",
        action="store_true",
        help="answer in the 4.0.x shape: start/end, columns.network_region, UTC Z stamps",
    )
    _add_live_flags(p)
    p.add_argument("--verbose", "-v", action="store_true", help="log each request to stderr")
    return p


def _add_live_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--live",
        action="store_true",
        help="follow the clock: no data after the last settled interval; credits counted",
    )
    p.add_argument(
        "--clock-speed",
        type=float,
        default=1.0,
        metavar="X",
        help="simulated seconds per wall second (default 1; 60 settles an interval every 5 s)",
    )
    p.add_argument(
        "--clock-start",
        default=None,
        metavar="ISO",
        help=(
            "simulated time at start, e.g. 2025-10-07T12:00 (NEM time) (default: now at "
            "--clock-speed 1, else 2 days before now, so that the simulated clock stays behind "
            "the wall clock for 48 h / (X - 1): 49 minutes at 60, 12 minutes at 240, 5.3 hours "
            "at 10)"
        ),
    )
    p.add_argument(
        "--nemweb-fault",
        action="append",
        default=[],
        metavar="KIND:N",
        help="arm a NEMweb fault at start: late[:N[:SECONDS]], missing, replaced, 403, truncated",
    )
    p.add_argument(
        "--plan",
        default="COMMUNITY",
        choices=tuple(PLAN_CREDITS),
        help="every key's plan: its range limits and daily credits (default COMMUNITY)",
    )
    p.add_argument(
        "--credits",
        type=int,
        default=None,
        metavar="N",
        help="credits a day per key, counted (default: the plan's with --live, else uncounted)",
    )


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """The simulator's config from the parsed flags; ValueError with a one-line reason."""
    keys = args.key if args.key else [DEMO_KEY]
    if any(len(k) < 10 for k in keys):
        raise ValueError("--key must be at least 10 characters (the real API rejects shorter keys)")
    if args.credits is not None and args.credits < 0:
        raise ValueError(f"--credits must be 0 or more, not {args.credits}")
    start = parse_clock_start(args.clock_start) if args.clock_start else None
    counted = args.live or args.credits is not None
    return SimulatorConfig(
        dataset=load_dataset(args.dataset, seed=args.seed),
        keys=dict.fromkeys(keys, args.plan),
        exhausted_keys=frozenset(args.exhausted_key),
        anonymous_market=args.anonymous_market,
        slow_seconds=args.slow_seconds,
        retry_after=args.retry_after,
        legacy_shape=args.legacy_shape,
        clock=make_clock(start, args.clock_speed),
        live=args.live,
        credits=CreditLedger(args.credits) if counted else None,
    )


def _stop_on_signals(server: SimulatorServer) -> None:
    """SIGTERM and SIGINT stop ``serve_forever`` at its next poll.

    The handler raises nothing: an exception raised in the main thread while socketserver
    starts a request's thread makes it close that request's socket under the thread (a
    traceback on stderr). ``shutdown`` waits for the loop to end, so it runs on its own thread.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stopping.set()  # wakes handlers sleeping on a slow fault
        threading.Thread(target=server.shutdown, name="oesim-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        rules = [parse_fault_spec(spec) for spec in args.fault]
        nemweb_faults = [parse_nemweb_fault(spec) for spec in args.nemweb_fault]
        config = config_from_args(args)
    except (FaultSpecError, ValueError) as exc:
        print(f"oesim: {exc}", file=sys.stderr)
        return 2
    try:
        server = make_server(config, args.host, args.port)
    except OSError as exc:
        print(f"oesim: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    for rule in rules:
        server.faults.add(rule)
    now = config.clock().timestamp()
    for kind, count, seconds in nemweb_faults:
        arm_fault(server.nemweb, server.faults, kind, count, now, seconds)
    _stop_on_signals(server)
    host = args.host if ":" not in args.host else f"[{args.host}]"
    print(f"OE simulator listening on http://{host}:{server.port}/v4", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.stopping.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
