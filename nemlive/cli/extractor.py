"""extractor.py (``nemlive-extractor``): OpenElectricity v4 API -> consolidate.csv (+ meta)
and data/facilities.csv.

    python extractor.py [--start 2025-10-01] [--end 2025-10-08] [--network NEM]
                        [--out consolidate.csv] [--facilities-out data/facilities.csv]

Needs ``OPENELECTRICITY_API_KEY`` (a free key: https://platform.openelectricity.org.au).
``OPENELECTRICITY_API_URL`` points it elsewhere, e.g. at the local simulator
(``python -m oesim``). Times are naive NEM time (UTC+10, no daylight saving), the window is
``start <= t < end``; by default the 7 days that end at the last NEM midnight.

The steps are in ``nemlive.extract.pipeline`` (over the pure ``rollup`` and ``consolidate``);
this module owns the flags, the environment, the HTTP client and the files.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from nemlive.common import (
    ConfigError,
    NemLiveError,
    OutputError,
    configure_logging,
    is_valid_code,
    last_nem_midnight,
    parse_naive,
    write_files_atomically,
)
from nemlive.extract import (
    DEFAULT_API_URL,
    KEY_SIGNUP_URL,
    ClientSettings,
    Clock,
    Extraction,
    FollowSettings,
    OEClient,
    RunResult,
    consolidate,
    display_url,
    run_extraction,
    run_follow,
)

log = logging.getLogger("extractor")

DEFAULT_SPAN = timedelta(days=7)
NETWORKS = ("NEM",)


@dataclass(frozen=True)
class ExtractorConfig:
    """Everything a run needs, resolved once: flag, then environment, then default.

    ``start``/``end``: naive NEM time, ``start <= t < end``. ``source``: ``simulator`` when
    the API URL is on a loopback host, else ``openelectricity``. ``api_key`` stays out of
    ``repr`` and is used only in the Authorization header.
    """

    api_url: str
    api_key: str = field(repr=False)
    source: str
    network: str
    start: datetime
    end: datetime
    out: Path
    facilities_out: Path
    facilities: tuple[str, ...] | None
    max_retries: int
    timeout: float
    retry_backoff: float
    verbose: bool

    @property
    def meta_out(self) -> Path:
        return consolidate.meta_path_for(self.out)

    @property
    def extraction(self) -> Extraction:
        return Extraction(
            network=self.network,
            start=self.start,
            end=self.end,
            facilities=self.facilities,
            source=self.source,
            api_url=self.api_url,
        )

    def client_settings(self) -> ClientSettings:
        return ClientSettings(
            base_url=self.api_url,
            api_key=self.api_key,
            read_timeout=self.timeout,
            connect_timeout=min(10.0, self.timeout),
            max_retries=self.max_retries,
            backoff_base=self.retry_backoff,
        )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="extractor.py",
        description=(
            "Download a window of 5-minute facility power and emissions and regional price "
            "and demand from the OpenElectricity v4 API into consolidate.csv."
        ),
        epilog=(
            "Environment: OPENELECTRICITY_API_KEY (required; free key at "
            f"{KEY_SIGNUP_URL}), OPENELECTRICITY_API_URL (default {DEFAULT_API_URL}; point it "
            "at the simulator from `python -m oesim` to work offline). Flags win over the "
            "environment."
        ),
    )
    p.add_argument(
        "--start",
        help="first interval, naive NEM time YYYY-MM-DD or YYYY-MM-DDTHH:MM "
        "(default: 7 days before --end)",
    )
    p.add_argument(
        "--end",
        help="end of the window, exclusive, same format (default: the last NEM midnight, "
        "or 7 days after --start)",
    )
    p.add_argument("--network", default="NEM", help="network code (only NEM; default NEM)")
    p.add_argument("--out", default="consolidate.csv", help="the CSV cache to write")
    p.add_argument(
        "--facilities-out",
        default="data/facilities.csv",
        help="the facility lookup table to write (default data/facilities.csv)",
    )
    p.add_argument(
        "--facilities",
        metavar="CODES",
        help="only these facility codes, comma-separated (default: every operational one)",
    )
    p.add_argument("--api-url", help="API base URL (default: $OPENELECTRICITY_API_URL)")
    p.add_argument(
        "--max-retries",
        type=int,
        default=5,
        help="retries per request after a 5xx, 429, timeout or broken answer (default 5)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for an answer before retrying (default 60)",
    )
    p.add_argument(
        "--retry-backoff",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="first retry delay; doubles per retry, with jitter, up to 60 s (default 1)",
    )
    add_follow_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return p


def add_follow_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "follow mode",
        "keep the cache current as the NEM settles, within the key's daily credits",
    )
    g.add_argument(
        "--follow",
        action="store_true",
        help="fill the last --keep days, then poll the market every interval and sweep the "
        "facilities as often as the key's credits allow (no --start/--end)",
    )
    g.add_argument(
        "--keep",
        type=float,
        default=7.0,
        metavar="DAYS",
        help="days the cache keeps, ending at the newest interval (default 7)",
    )
    g.add_argument(
        "--poll-every",
        type=float,
        metavar="SECONDS",
        help="seconds between market polls (default: one 5-minute interval, as the budget plans)",
    )
    g.add_argument(
        "--api-clock-speed",
        type=float,
        default=1.0,
        metavar="X",
        help="the API's clock runs X times faster than this machine's: for a simulator run with "
        "--clock-speed X (default 1)",
    )


def resolve_config(
    args: argparse.Namespace, env: Mapping[str, str], now: datetime
) -> ExtractorConfig:
    """Flags, then env, then defaults -> ExtractorConfig. Raise ConfigError (exit 2).

    ``now``: aware current time, for the default window.
    """
    key = resolve_key(env)
    api_url = resolve_api_url(args.api_url or env.get("OPENELECTRICITY_API_URL"))
    if args.network not in NETWORKS:
        raise ConfigError(f"--network {args.network!r} is not supported: use NEM")
    start, end = resolve_window(args.start, args.end, now)
    if args.max_retries < 0:
        raise ConfigError("--max-retries must be 0 or more")
    if not args.timeout > 0:
        raise ConfigError("--timeout must be more than 0 seconds")
    if args.retry_backoff < 0:
        raise ConfigError("--retry-backoff must be 0 or more seconds")
    return ExtractorConfig(
        api_url=api_url,
        api_key=key,
        source=detect_source(api_url),
        network=args.network,
        start=start,
        end=end,
        out=Path(args.out),
        facilities_out=Path(args.facilities_out),
        facilities=resolve_facilities(args.facilities),
        max_retries=args.max_retries,
        timeout=args.timeout,
        retry_backoff=args.retry_backoff,
        verbose=args.verbose,
    )


def resolve_key(env: Mapping[str, str]) -> str:
    """The API key from the environment; ConfigError that says how to get one."""
    key = (env.get("OPENELECTRICITY_API_KEY") or "").strip()
    if not key:
        raise ConfigError(
            "OPENELECTRICITY_API_KEY is not set: get a free key at "
            f"{KEY_SIGNUP_URL}; to work offline, `make data` rebuilds the shipped simulated "
            "week (or run `python -m oesim --dataset nem --seed 2025` and set "
            "OPENELECTRICITY_API_URL to the URL it prints and OPENELECTRICITY_API_KEY to "
            "sim-demo-key-0000)"
        )
    if not key.isascii() or not key.isprintable():
        raise ConfigError("OPENELECTRICITY_API_KEY contains characters an HTTP header cannot carry")
    return key


def resolve_api_url(given: str | None) -> str:
    """An http(s) base URL without a trailing slash; plain http only to this machine."""
    api_url = (given or DEFAULT_API_URL).strip()
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"OPENELECTRICITY_API_URL {display_url(api_url)!r} is not an http(s) URL: use "
            f"e.g. {DEFAULT_API_URL}"
        )
    if parts.scheme == "http" and detect_source(api_url) != "simulator":
        raise ConfigError(
            f"OPENELECTRICITY_API_URL {display_url(api_url)!r} is plain http to another "
            "machine, which would send the API key in clear: use https:// (plain http is only "
            "for a simulator on this machine)"
        )
    return api_url.rstrip("/")


def resolve_window(
    start_text: str | None, end_text: str | None, now: datetime
) -> tuple[datetime, datetime]:
    """(start, end) in naive NEM time; by default the 7 days to the last NEM midnight."""
    try:
        start = parse_naive(start_text) if start_text else None
        end = parse_naive(end_text) if end_text else None
    except ValueError as exc:
        raise ConfigError(f"{exc}: pass e.g. --start 2025-10-01 --end 2025-10-08") from exc
    if start is None:
        end = end or last_nem_midnight(now)
        start = end - DEFAULT_SPAN
    elif end is None:
        end = start + DEFAULT_SPAN
    if start >= end:
        raise ConfigError(
            f"--start {start:%Y-%m-%dT%H:%M} is not before --end {end:%Y-%m-%dT%H:%M}"
        )
    if start.minute % 5 or end.minute % 5 or start.second or end.second:
        raise ConfigError("--start and --end must be on the 5-minute grid (e.g. 10:05)")
    return start, end


def resolve_facilities(text: str | None) -> tuple[str, ...] | None:
    """``--facilities`` as sorted unique codes (None = every operational facility)."""
    if not text:
        return None
    facilities = tuple(sorted({c.strip() for c in text.split(",") if c.strip()}))
    if not facilities:
        raise ConfigError("--facilities is empty: pass codes like BAYSW,ERARING")
    bad = [c for c in facilities if not is_valid_code(c)]
    if bad:
        raise ConfigError(
            f"--facilities: {bad[0][:60]!r} is not a facility code (letters, digits, "
            "'_', '.' and '-' only): pass codes like BAYSW,ERARING"
        )
    return facilities


def detect_source(api_url: str) -> str:
    """``simulator`` for a loopback host (where the simulator and test stubs run), else
    ``openelectricity``. The meta file records it with the URL."""
    host = urlsplit(api_url).hostname or ""
    if host == "localhost":
        return "simulator"
    try:
        return "simulator" if ipaddress.ip_address(host).is_loopback else "openelectricity"
    except ValueError:
        return "openelectricity"


def run(config: ExtractorConfig, client: OEClient) -> RunResult:
    """Run the extraction pipeline and write its three files atomically. Raise NemLiveError;
    on any failure nothing is written, so the previous consolidate.csv stays as it was."""
    clock = Clock()
    outputs, result = run_extraction(client, config.extraction, clock)
    try:
        write_files_atomically(
            [
                (config.facilities_out, outputs.facilities_bytes),
                (config.out, outputs.csv_bytes),
                (config.meta_out, outputs.meta_bytes),
            ]
        )
    except OSError as exc:
        # exc.filename names what failed: data/facilities.csv is written before the CSV.
        raise OutputError(
            f"cannot write {exc.filename or config.out} ({exc.strerror or exc}): check the "
            "folder exists and is writable, or pass --out/--facilities-out"
        ) from exc
    stats = outputs.stats
    log.info(
        "wrote %s: %d facilities, %d rows, %d missing intervals, %d empty cells, %.2f MB; "
        "%s: %d facilities; %d requests (%d retries) in %.1f s",
        config.out,
        stats.facilities,
        stats.rows,
        stats.missing_intervals,
        stats.empty_cells,
        len(outputs.csv_bytes) / 1e6,
        config.facilities_out,
        outputs.facility_rows,
        client.stats.total,
        client.stats.retries,
        clock.elapsed,
    )
    return result


def resolve_follow(args: argparse.Namespace, config: ExtractorConfig) -> FollowSettings:
    """The follow flags -> FollowSettings; ConfigError for a bad value or a window flag."""
    if args.start or args.end:
        raise ConfigError("--follow keeps the last --keep days: drop --start/--end")
    if not 1 / 288 <= args.keep <= 30:
        raise ConfigError(
            f"--keep {args.keep:g}: use 1 to 30 days (fractions allowed, 5 minutes at least)"
        )
    if args.poll_every is not None and not args.poll_every > 0:
        raise ConfigError(f"--poll-every {args.poll_every:g}: use more than 0 seconds")
    if not args.api_clock_speed > 0:
        raise ConfigError(f"--api-clock-speed {args.api_clock_speed:g}: use more than 0")
    return FollowSettings(
        out=config.out,
        facilities_out=config.facilities_out,
        keep_days=args.keep,
        poll_every=args.poll_every,
        api_clock_speed=args.api_clock_speed,
    )


def follow(args: argparse.Namespace) -> int:
    """``--follow``: SIGINT/SIGTERM end the loop cleanly (exit 0)."""
    config = resolve_config(args, os.environ, datetime.now(UTC))
    settings = resolve_follow(args, config)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("%s received: stopping after the current request", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with OEClient(config.client_settings(), sleep=stop.wait) as client:
            return run_follow(config.extraction, settings, client, stop)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 2 for usage/config errors, 1 for any other failure."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose, name="nemlive-extractor", quiet=("urllib3",))
    try:
        if args.follow:
            return follow(args)
        config = resolve_config(args, os.environ, datetime.now(UTC))
        with OEClient(config.client_settings()) as client:
            run(config, client)
    except NemLiveError as exc:
        print(f"extractor.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("extractor.py: interrupted; the previous files are unchanged", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
