"""extractor.py (``nemlive-extractor``): OpenElectricity v4 API -> consolidate.csv (+ meta)
and data/facilities.csv.

    python extractor.py [--start 2025-10-01] [--end 2025-10-08] [--network NEM]
                        [--out consolidate.csv] [--facilities-out data/facilities.csv]

Needs ``OPENELECTRICITY_API_KEY`` (a free key: https://platform.openelectricity.org.au).
``OPENELECTRICITY_API_URL`` points it elsewhere, e.g. at the local simulator
(``python -m oesim``). ``--follow`` keeps the cache current; its 5-minute stream comes from the
OE API or from AEMO's NEMweb (``--source``, ``NEMWEB_URL``), its facility list from OE. Times are naive NEM time (UTC+10, no daylight saving), the window is
``start <= t < end``; by default the 7 days that end at the last NEM midnight.

The steps are in ``nemlive.extract.pipeline`` (over the pure ``rollup`` and ``consolidate``);
this module owns the flags, the environment, the HTTP client and the files.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from nemlive.cli.stopping import stop_on_signals
from nemlive.common import (
    ApiError,
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
from nemlive.extract.budget import (
    Credits,
    StreamSource,
    choose_stream_source,
    describe_source_choice,
    plan_budget,
    read_me,
)
from nemlive.extract.facilitylist import CachedFacilityList, FacilityList, default_cache_path
from nemlive.extract.livecache import count_batches
from nemlive.extract.oeclient import KeyRejected

log = logging.getLogger("extractor")

DEFAULT_SPAN = timedelta(days=7)
NETWORKS = ("NEM",)
DEFAULT_NEMWEB_URL = "https://nemweb.com.au"
SOURCES = ("auto", "nemweb", "oe")


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
            "at the simulator from `python -m oesim` to work offline), NEMWEB_URL (--follow "
            f"--source nemweb; default {DEFAULT_NEMWEB_URL}). Flags win over the environment."
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
        "--source",
        choices=SOURCES,
        help="where the 5-minute stream comes from: nemweb (AEMO's public reports, no "
        "credits), oe (the OE API, within the key's credits) or auto (oe when the key's plan "
        "sweeps the facilities every interval, else nemweb; the default). The facility list "
        "always comes from OE",
    )
    g.add_argument(
        "--nemweb-url",
        metavar="URL",
        help=f"NEMweb base URL (default: $NEMWEB_URL, else {DEFAULT_NEMWEB_URL}; the simulator's "
        "URL without /v4 when OPENELECTRICITY_API_URL points at it)",
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
    args: argparse.Namespace, env: Mapping[str, str], now: datetime, *, key_required: bool = True
) -> ExtractorConfig:
    """Flags, then env, then defaults -> ExtractorConfig. Raise ConfigError (exit 2).

    ``now``: aware current time, for the default window. ``key_required`` False: no key is
    no error (``api_key`` is then ""), a key that is set must still be valid.
    """
    given = (env.get("OPENELECTRICITY_API_KEY") or "").strip()
    key = resolve_key(env) if key_required or given else ""
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


@dataclass(frozen=True)
class FollowConfig:
    """``--follow``'s resolved settings. ``source``: ``auto``, ``nemweb`` or ``oe`` as asked;
    ``facility_cache``: where the OE facility list is kept (``oe-facilities.json``)."""

    config: ExtractorConfig
    settings: FollowSettings
    source: str
    nemweb_url: str
    facility_cache: Path

    @property
    def nemweb_extraction(self) -> Extraction:
        """The extraction as the NEMweb follower writes it: ``source`` nemweb, its URL, and
        ``simulated`` for a NEMweb on this machine (the simulator's NEMweb face)."""
        return replace(
            self.config.extraction,
            source="nemweb",
            api_url=self.nemweb_url,
            simulated=detect_source(self.nemweb_url) == "simulator",
        )


def resolve_nemweb_url(given: str | None, env: Mapping[str, str], api_url: str) -> str:
    """``--nemweb-url``, then ``NEMWEB_URL``, then the simulator's root when ``api_url`` is on
    this machine (its NEMweb face is served beside ``/v4``), then NEMweb itself. An http(s)
    URL without credentials or query, without a trailing slash; ConfigError otherwise."""
    url = (given or env.get("NEMWEB_URL") or "").strip()
    if not url:
        url = DEFAULT_NEMWEB_URL
        if detect_source(api_url) == "simulator":
            url = api_url.rstrip("/").removesuffix("/v4")
    parts = urlsplit(url)
    try:
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is no number
        ok = False
    if not ok or parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"NEMweb URL {display_url(url)!r} must be http(s), with a host and no login "
            f"(user or password): set --nemweb-url or NEMWEB_URL to e.g. {DEFAULT_NEMWEB_URL}"
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"NEMweb URL {display_url(url)!r} has a query or fragment: pass the base URL only, "
            f"e.g. {DEFAULT_NEMWEB_URL}"
        )
    return url.rstrip("/")


def reject_follow_only(args: argparse.Namespace) -> None:
    """ConfigError for a follow-only flag given without ``--follow``."""
    for flag, value in (("--source", args.source), ("--nemweb-url", args.nemweb_url)):
        if value is not None:
            raise ConfigError(f"{flag} chooses what --follow follows: add --follow or drop {flag}")


def resolve_follow_config(
    args: argparse.Namespace, env: Mapping[str, str], now: datetime
) -> FollowConfig:
    """``--follow``'s flags, then env, then defaults -> FollowConfig; ConfigError (exit 2).

    ``--source nemweb`` needs no key when the facility list is saved already; every other
    source needs one (the budget is the key's).
    """
    source = args.source or "auto"
    config = resolve_config(args, env, now, key_required=source != "nemweb")
    settings = resolve_follow(args, config)
    nemweb_url = resolve_nemweb_url(args.nemweb_url, env, config.api_url)
    cache = default_cache_path(config.facilities_out)
    if not config.api_key and not cache.is_file():
        raise ConfigError(
            f"no facility list saved in {cache}: set OPENELECTRICITY_API_KEY (free key at "
            f"{KEY_SIGNUP_URL}); the facility list comes from Open Electricity, one request a day"
        )
    return FollowConfig(config, settings, source, nemweb_url, cache)


def choose_auto_source(
    client: OEClient, facilities: FacilityList, settings: FollowSettings
) -> StreamSource:
    """``--source auto``: read /v4/me, plan the budget for the facility list's batches and
    choose (``budget.choose_stream_source``); one line says which and why."""
    try:
        credits = read_me(client.fetch_me())
    except KeyRejected as exc:
        raise ApiError(f"{exc}; a key out of credits is refused until its daily reset") from exc
    except NemLiveError as exc:
        log.warning("/v4/me failed (%s): planning with the free plan's 500 credits a day", exc)
        credits = Credits()
    batches = count_batches(len(facilities.lookup().facilities))
    poll = settings.poll_every
    plan = plan_budget(
        credits,
        batches,
        credits.server_time or datetime.now(UTC),
        poll_every_s=None if poll is None else poll * settings.api_clock_speed,
        margin=settings.margin,
    )
    source = choose_stream_source(plan)
    log.info("%s", describe_source_choice(plan, source))
    return source


NEMWEB_REQUEST_GAP_S = 1.0  # at most one request a second to NEMweb
SIMULATOR_REQUEST_GAP_S = 0.02  # the simulator's NEMweb face, on this machine


def follow_nemweb(fc: FollowConfig, facilities: FacilityList, stop: threading.Event) -> int:
    """The 5-minute stream from NEMweb, the facility list from ``facilities``."""
    from nemlive.extract.nemwebclient import NemwebClient
    from nemlive.extract.nemwebfollow import run_nemweb_follow

    extraction = fc.nemweb_extraction
    # One request a second keeps to NEMweb's manners; the simulator on this machine is no
    # public server, and at that pace `make live` would take ten minutes to fill its day.
    gap = SIMULATOR_REQUEST_GAP_S if extraction.simulated else NEMWEB_REQUEST_GAP_S
    with contextlib.closing(
        NemwebClient(fc.nemweb_url, min_interval_s=gap, wait=stop.wait, stop=stop)
    ) as nemweb:
        return run_nemweb_follow(extraction, fc.settings, facilities, nemweb, stop)


def follow(args: argparse.Namespace) -> int:
    """``--follow``: SIGINT/SIGTERM end the loop cleanly (exit 0)."""
    fc = resolve_follow_config(args, os.environ, datetime.now(UTC))
    with (
        stop_on_signals(log, "stopping after the current request") as stop,
        contextlib.ExitStack() as stack,
    ):
        client = None
        if fc.config.api_key:
            client = stack.enter_context(OEClient(fc.config.client_settings(), sleep=stop.wait))
        facilities = CachedFacilityList(client, fc.config.extraction, fc.facility_cache)
        source = fc.source
        if source == "auto":
            assert client is not None  # auto needs the key (resolve_follow_config)
            source = choose_auto_source(client, facilities, fc.settings)
        if source == "oe":
            assert client is not None
            return run_follow(fc.config.extraction, fc.settings, client, stop)
        return follow_nemweb(fc, facilities, stop)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 2 for usage/config errors, 1 for any other failure."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose, name="nemlive-extractor", quiet=("urllib3",))
    try:
        if args.follow:
            return follow(args)
        reject_follow_only(args)
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
