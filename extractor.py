"""extractor.py: OpenElectricity v4 API -> consolidate.csv (+ meta) and data/facilities.csv.

    python extractor.py [--start 2025-10-01] [--end 2025-10-08] [--network NEM]
                        [--out consolidate.csv] [--facilities-out data/facilities.csv]

Needs ``OPENELECTRICITY_API_KEY`` (a free key: https://platform.openelectricity.org.au).
``OPENELECTRICITY_API_URL`` points it elsewhere, e.g. at the local simulator
(``python -m oesim``). Times are naive NEM time (UTC+10, no daylight saving), the window is
``start <= t < end``; by default the 7 days that end at the last NEM midnight.

The work is done by pure functions in ``nemlive.rollup`` and ``nemlive.consolidate``; this
file owns the flags, the environment, HTTP (``nemlive.oeclient``), the clock and the files.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import context
from nemlive import consolidate, rollup
from nemlive.atomicfile import write_files_atomically
from nemlive.columns import is_valid_code
from nemlive.errors import ApiError, ConfigError, NemLiveError
from nemlive.logsetup import configure_logging
from nemlive.nemtime import format_request_time, last_nem_midnight, parse_naive
from nemlive.oeclient import (
    DEFAULT_API_URL,
    KEY_SIGNUP_URL,
    ClientSettings,
    OEClient,
    display_url,
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
    p.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return p


def resolve_config(
    args: argparse.Namespace, env: Mapping[str, str], now: datetime
) -> ExtractorConfig:
    """Flags, then env, then defaults -> ExtractorConfig. Raise ConfigError (exit 2).

    ``now``: aware current time, for the default window.
    """
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

    api_url = (args.api_url or env.get("OPENELECTRICITY_API_URL") or DEFAULT_API_URL).strip()
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

    if args.network not in NETWORKS:
        raise ConfigError(f"--network {args.network!r} is not supported: use NEM")

    try:
        start = parse_naive(args.start) if args.start else None
        end = parse_naive(args.end) if args.end else None
    except ValueError as exc:
        raise ConfigError(f"{exc}: pass e.g. --start 2025-10-01 --end 2025-10-08") from exc
    if start is None and end is None:
        end = last_nem_midnight(now)
    if start is None:
        assert end is not None
        start = end - DEFAULT_SPAN
    if end is None:
        end = start + DEFAULT_SPAN
    if start >= end:
        raise ConfigError(
            f"--start {start:%Y-%m-%dT%H:%M} is not before --end {end:%Y-%m-%dT%H:%M}"
        )
    if start.minute % 5 or end.minute % 5 or start.second or end.second:
        raise ConfigError("--start and --end must be on the 5-minute grid (e.g. 10:05)")

    facilities = None
    if args.facilities:
        facilities = tuple(sorted({c.strip() for c in args.facilities.split(",") if c.strip()}))
        if not facilities:
            raise ConfigError("--facilities is empty: pass codes like BAYSW,ERARING")
        bad = [c for c in facilities if not is_valid_code(c)]
        if bad:
            raise ConfigError(
                f"--facilities: {bad[0][:60]!r} is not a facility code (letters, digits, "
                "'_', '.' and '-' only): pass codes like BAYSW,ERARING"
            )

    if args.max_retries < 0:
        raise ConfigError("--max-retries must be 0 or more")
    if not args.timeout > 0:
        raise ConfigError("--timeout must be more than 0 seconds")
    if args.retry_backoff < 0:
        raise ConfigError("--retry-backoff must be 0 or more seconds")

    return ExtractorConfig(
        api_url=api_url.rstrip("/"),
        api_key=key,
        source=detect_source(api_url),
        network=args.network,
        start=start,
        end=end,
        out=Path(args.out),
        facilities_out=Path(args.facilities_out),
        facilities=facilities,
        max_retries=args.max_retries,
        timeout=args.timeout,
        retry_backoff=args.retry_backoff,
        verbose=args.verbose,
    )


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


@dataclass(frozen=True)
class RunResult:
    """What a run wrote, for the summary line and the benchmark."""

    stats: consolidate.TableStats
    csv_bytes: int
    requests: dict[str, int]
    http_seconds: float
    transform_seconds: float


def run(config: ExtractorConfig, client: OEClient) -> RunResult:
    """Fetch, roll up, check and write. Raise NemLiveError; on any failure nothing is
    written, so the previous consolidate.csv stays as it was."""
    t0 = time.monotonic()
    transform = 0.0
    facilities_payload = client.fetch_facilities(config.network)
    tt = time.monotonic()
    try:
        lookup = rollup.build_lookup(facilities_payload, config.network, config.facilities)
    except ValueError as exc:
        raise ApiError(f"unexpected /facilities response: {exc}") from exc
    del facilities_payload
    if config.facilities:
        missing = rollup.missing_codes(lookup, config.facilities)
        if missing:
            raise ConfigError(
                f"--facilities: {', '.join(missing[:10])} not operational {config.network} "
                "facilities (codes are case-sensitive; see data/facilities.csv)"
            )
    if not lookup.facilities:
        raise ApiError(f"the API lists no operational {config.network} facilities")
    transform += time.monotonic() - tt

    windows = rollup.chunk_window(config.start, config.end)
    batches = rollup.chunk_codes(lookup.facility_ids)
    total = len(windows) * len(batches)
    n_fac = len(lookup.facilities)
    log.info(
        "%d operational %s facilities (%d units); %d facility-data requests for %s to %s",
        n_fac,
        config.network,
        len(lookup.unit_facility),
        total,
        format_request_time(config.start),
        format_request_time(config.end),
    )
    parser = rollup.SeriesParser()
    facility_series: list[rollup.Series] = []
    done = 0
    for w_start, w_end in windows:
        covered = 0
        for batch in batches:
            payload = client.fetch_facility_data(config.network, batch, w_start, w_end)
            tt = time.monotonic()
            if payload is not None:
                facility_series += _parse(parser, payload, "unit_code", "facility data")
            transform += time.monotonic() - tt
            del payload
            done += 1
            covered += len(batch)
            log.info(
                "facility data: batch %d/%d, %d/%d facilities, window %s, %.1f s elapsed",
                done,
                total,
                covered,
                n_fac,
                w_start.date().isoformat(),
                time.monotonic() - t0,
            )

    market_series: list[rollup.Series] = []
    for w_start, w_end in windows:
        payload = client.fetch_market(config.network, w_start, w_end)
        tt = time.monotonic()
        if payload is None:
            log.warning("market: no price/demand data from %s; those cells stay empty", w_start)
        else:
            market_series += _parse(parser, payload, "region", "market data")
        transform += time.monotonic() - tt
    log.info("market data: %d series, %.1f s elapsed", len(market_series), time.monotonic() - t0)

    tt = time.monotonic()
    table = rollup.build_wide_table(
        lookup, facility_series, market_series, (config.start, config.end)
    )
    del facility_series, market_series
    if table.unknown_units:
        log.warning(
            "left out %d units that /facilities does not list: %s",
            len(table.unknown_units),
            ", ".join(table.unknown_units[:10]),
        )
    if table.unknown_regions:
        log.warning("left out market series for %s", ", ".join(table.unknown_regions))
    consolidate.check_table(table)
    stats = consolidate.summarise(table)
    csv_bytes = consolidate.render_csv(table)
    rows, skipped = rollup.build_facility_rows(lookup)
    if skipped:
        log.warning(
            "%d facilities have no location and are left out of %s (their data stays in %s): %s",
            len(skipped),
            config.facilities_out,
            config.out,
            ", ".join(skipped[:10]),
        )
    facilities_bytes = consolidate.render_facilities_csv(context.FACILITIES_HEADER, rows)
    requests = dict(sorted(client.stats.sent.items()))
    meta = consolidate.build_meta(
        table=table,
        stats=stats,
        csv_bytes=csv_bytes,
        source=config.source,
        api_url=display_url(config.api_url),
        network=config.network,
        written_at=datetime.now(UTC),
        requests=requests,
    )
    transform += time.monotonic() - tt
    try:
        write_files_atomically(
            [
                (config.facilities_out, facilities_bytes),
                (config.out, csv_bytes),
                (config.meta_out, consolidate.render_meta(meta)),
            ]
        )
    except OSError as exc:
        # exc.filename names what failed: data/facilities.csv is written before the CSV.
        raise ConfigError(
            f"cannot write {exc.filename or config.out} ({exc.strerror or exc}): check the "
            "folder exists and is writable, or pass --out/--facilities-out"
        ) from exc

    log.info(
        "wrote %s: %d facilities, %d rows, %d missing intervals, %d empty cells, %.2f MB; "
        "%s: %d facilities; %d requests (%d retries) in %.1f s",
        config.out,
        stats.facilities,
        stats.rows,
        stats.missing_intervals,
        stats.empty_cells,
        len(csv_bytes) / 1e6,
        config.facilities_out,
        len(rows),
        client.stats.total,
        client.stats.retries,
        time.monotonic() - t0,
    )
    return RunResult(
        stats=stats,
        csv_bytes=len(csv_bytes),
        requests=requests,
        http_seconds=client.stats.http_seconds,
        transform_seconds=transform,
    )


def _parse(parser: rollup.SeriesParser, payload: dict, key: str, what: str) -> list[rollup.Series]:
    try:
        return parser.parse(payload, key)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ApiError(f"unexpected {what} response: {exc}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 2 for usage/config errors, 1 for any other failure."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose, name="nemlive-extractor", quiet=("urllib3",))
    try:
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
