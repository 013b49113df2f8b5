"""One extraction as a pipeline of named steps: lookup, facility data, market data, table,
outputs. ``extractor.py`` runs them in order and writes the outputs; a follower that keeps a
cache current runs the same steps on shorter windows.

Every step raises NemLiveError (ApiError for a broken answer, ConfigError for codes that are
not operational), so a failure leaves nothing half-written: writing is the caller's last step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from nemlive.common.errors import ApiError, ConfigError
from nemlive.common.lookups import FACILITIES_HEADER
from nemlive.common.nemtime import format_request_time
from nemlive.extract import consolidate, rollup
from nemlive.extract.oeclient import OEClient, display_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Extraction:
    """What to extract. ``start``/``end``: naive NEM time, ``start <= t < end``.

    ``facilities``: only these codes (None = every operational facility). ``source`` and
    ``api_url`` (without credentials) are recorded in the meta file, and ``simulated`` when
    true (a source on this machine: the simulator's NEMweb face).
    """

    network: str
    start: datetime
    end: datetime
    facilities: tuple[str, ...] | None = None
    source: str = "openelectricity"
    api_url: str = ""
    simulated: bool = False


@dataclass
class Clock:
    """Seconds since the start, and seconds spent in pure work (``with clock.transform():``)."""

    now: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)
    transform_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.now()

    @property
    def elapsed(self) -> float:
        return self.now() - self.started

    def transform(self) -> _Span:
        return _Span(self)


class _Span:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._t0 = 0.0

    def __enter__(self) -> None:
        self._t0 = self._clock.now()

    def __exit__(self, *exc: object) -> None:
        self._clock.transform_seconds += self._clock.now() - self._t0


@dataclass(frozen=True)
class Outputs:
    """The bytes of the three files, ready to be written atomically, and what they hold."""

    csv_bytes: bytes
    facilities_bytes: bytes
    meta_bytes: bytes
    stats: consolidate.TableStats
    facility_rows: int
    requests: dict[str, int]


@dataclass(frozen=True)
class RunResult:
    """What a run wrote, for the summary line and the benchmark."""

    stats: consolidate.TableStats
    csv_bytes: int
    requests: dict[str, int]
    http_seconds: float
    transform_seconds: float


# --- the steps --------------------------------------------------------------------------------


def fetch_lookup(client: OEClient, ex: Extraction, clock: Clock) -> rollup.Lookup:
    """The operational facilities of the network (or of ``ex.facilities``)."""
    payload = client.fetch_facilities(ex.network)
    return lookup_from_payload(payload, ex, clock)


def lookup_from_payload(payload: dict[str, Any], ex: Extraction, clock: Clock) -> rollup.Lookup:
    """``GET /facilities/``'s answer -> the operational facilities of the network (or of
    ``ex.facilities``); ApiError for a broken answer, ConfigError for codes not operational."""
    with clock.transform():
        try:
            lookup = rollup.build_lookup(payload, ex.network, ex.facilities)
        except ValueError as exc:
            raise ApiError(f"unexpected /facilities response: {exc}") from exc
        if ex.facilities:
            missing = rollup.missing_codes(lookup, ex.facilities)
            if missing:
                raise ConfigError(
                    f"--facilities: {', '.join(missing[:10])} not operational {ex.network} "
                    "facilities (codes are case-sensitive; see data/facilities.csv)"
                )
        if not lookup.facilities:
            raise ApiError(f"the API lists no operational {ex.network} facilities")
    return lookup


def fetch_facility_series(
    client: OEClient,
    ex: Extraction,
    lookup: rollup.Lookup,
    parser: rollup.SeriesParser,
    clock: Clock,
) -> list[rollup.Series]:
    """Unit power and emissions over the window: one request per batch of codes and window."""
    windows = rollup.chunk_window(ex.start, ex.end)
    batches = rollup.chunk_codes(lookup.facility_ids)
    total = len(windows) * len(batches)
    log.info(
        "%d operational %s facilities (%d units); %d facility-data requests for %s to %s",
        len(lookup.facilities),
        ex.network,
        len(lookup.unit_facility),
        total,
        format_request_time(ex.start),
        format_request_time(ex.end),
    )
    series: list[rollup.Series] = []
    done = 0
    for w_start, w_end in windows:
        covered = 0
        for batch in batches:
            payload = client.fetch_facility_data(ex.network, batch, w_start, w_end)
            with clock.transform():
                if payload is not None:
                    series += parse_series(parser, payload, "unit_code", "facility data")
            done += 1
            covered += len(batch)
            log.info(
                "facility data: batch %d/%d, %d/%d facilities, window %s, %.1f s elapsed",
                done,
                total,
                covered,
                len(lookup.facilities),
                w_start.date().isoformat(),
                clock.elapsed,
            )
    return series


def fetch_market_series(
    client: OEClient, ex: Extraction, parser: rollup.SeriesParser, clock: Clock
) -> list[rollup.Series]:
    """Regional price and demand over the window: one request per window, all regions."""
    series: list[rollup.Series] = []
    for w_start, w_end in rollup.chunk_window(ex.start, ex.end):
        payload = client.fetch_market(ex.network, w_start, w_end)
        with clock.transform():
            if payload is None:
                log.warning("market: no price/demand data from %s; those cells stay empty", w_start)
            else:
                series += parse_series(parser, payload, "region", "market data")
    log.info("market data: %d series, %.1f s elapsed", len(series), clock.elapsed)
    return series


def build_table(
    lookup: rollup.Lookup,
    facility_series: list[rollup.Series],
    market_series: list[rollup.Series],
    ex: Extraction,
) -> rollup.WideTable:
    """The checked wide table of the window; logs what it had to leave out."""
    table = rollup.build_wide_table(lookup, facility_series, market_series, (ex.start, ex.end))
    if table.unknown_units:
        log.warning(
            "left out %d units that /facilities does not list: %s",
            len(table.unknown_units),
            ", ".join(table.unknown_units[:10]),
        )
    if table.unknown_regions:
        log.warning("left out market series for %s", ", ".join(table.unknown_regions))
    consolidate.check_table(table)
    return table


def render_outputs(
    table: rollup.WideTable,
    lookup: rollup.Lookup,
    ex: Extraction,
    requests: dict[str, int],
    written_at: datetime,
) -> Outputs:
    """consolidate.csv, data/facilities.csv and the meta file, as bytes."""
    stats = consolidate.summarise(table)
    csv_bytes = consolidate.render_csv(table)
    rows, skipped = rollup.build_facility_rows(lookup)
    if skipped:
        log.warning(
            "%d facilities have no location and are left out of the lookup table (their data "
            "stays in the CSV): %s",
            len(skipped),
            ", ".join(skipped[:10]),
        )
    meta = consolidate.build_meta(
        table=table,
        stats=stats,
        csv_bytes=csv_bytes,
        source=ex.source,
        api_url=display_url(ex.api_url),
        network=ex.network,
        written_at=written_at,
        requests=requests,
    )
    return Outputs(
        csv_bytes=csv_bytes,
        facilities_bytes=consolidate.render_facilities_csv(FACILITIES_HEADER, rows),
        meta_bytes=consolidate.render_meta(meta),
        stats=stats,
        facility_rows=len(rows),
        requests=requests,
    )


def run_extraction(
    client: OEClient, ex: Extraction, clock: Clock | None = None
) -> tuple[Outputs, RunResult]:
    """All the steps in order; the caller writes ``Outputs`` (nothing is written here)."""
    clock = clock or Clock()
    lookup = fetch_lookup(client, ex, clock)
    parser = rollup.SeriesParser()
    facility_series = fetch_facility_series(client, ex, lookup, parser, clock)
    market_series = fetch_market_series(client, ex, parser, clock)
    with clock.transform():
        table = build_table(lookup, facility_series, market_series, ex)
        del facility_series, market_series
        requests = dict(sorted(client.stats.sent.items()))
        outputs = render_outputs(table, lookup, ex, requests, datetime.now(UTC))
    result = RunResult(
        stats=outputs.stats,
        csv_bytes=len(outputs.csv_bytes),
        requests=requests,
        http_seconds=client.stats.http_seconds,
        transform_seconds=clock.transform_seconds,
    )
    return outputs, result


def parse_series(
    parser: rollup.SeriesParser,
    payload: dict[str, Any],
    key: Literal["unit_code", "region"],
    what: str,
) -> list[rollup.Series]:
    """Series of one answer; an answer that does not parse is an ApiError naming ``what``."""
    try:
        return parser.parse(payload, key)
    except ValueError as exc:
        raise ApiError(f"unexpected {what} response: {exc}") from exc
