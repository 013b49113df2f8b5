"""``extractor.py --follow``: keep the cache current as the NEM settles, within the key's credits.

The imperative shell around :mod:`nemlive.extract.budget` (how often) and
:mod:`nemlive.extract.livecache` (what to ask, how answers join the cache):

1. read ``/v4/me`` (plan, credits, reset, the API's clock) and the facility list, and the
   cache the last run left (its watermarks, from its meta file);
2. the first poll fills the last ``--keep`` days (market, then one request per batch of 30
   facilities from each batch's watermark);
3. every poll asks for the market since its watermark; a poll at or after the next sweep time
   also re-reads ``/v4/me``, re-plans and sweeps the facilities;
4. each poll merges, trims, writes the three files atomically and logs one line.

A 401 while following means the key's credits are spent (the API answers so for a key out of
credits): one line, then a wait until the reset ``/v4/me`` gave. Any other failed poll is
logged and the next poll tries again. ``stop`` (SIGINT/SIGTERM) ends the loop after the current
request; what it brought is written first.

**Clocks.** The API's time comes from ``/v4/me``'s ``created_at`` and runs
``api_clock_speed`` times faster than ours after it (1 for the real API; a sped-up simulator
sets more): budgets and sweep times are on the API's clock, waits on ours.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from nemlive.common.atomicfile import write_files_atomically
from nemlive.common.errors import ApiError, ConfigError, OutputError, TableCheckError
from nemlive.common.lookups import FACILITIES_HEADER
from nemlive.common.nemtime import INTERVAL_S, format_nem_epoch
from nemlive.extract import consolidate, livecache, rollup
from nemlive.extract.budget import (
    BudgetPlan,
    Credits,
    format_duration,
    may_spend,
    next_reset,
    plan_budget,
    read_me,
)
from nemlive.extract.livecache import FetchWindow, Watermarks
from nemlive.extract.oeclient import KeyRejected, OEClient, display_url
from nemlive.extract.pipeline import Clock, Extraction, fetch_lookup, parse_series

log = logging.getLogger("extractor")

RETRY_REFUSED_S = 60.0  # API seconds between tries once a refused key should be back
# A poll that starts on time is not early: Event.wait may wake a rounding error before the
# deadline it was given, and a sweep due then must not wait a whole poll more.
ON_TIME_S = 0.001  # wall seconds


@dataclass(frozen=True)
class FollowSettings:
    """How to follow. ``poll_every``: wall seconds between market polls (None: the plan's,
    one interval). ``api_clock_speed``: API seconds per wall second."""

    out: Path
    facilities_out: Path
    keep_days: float
    poll_every: float | None
    api_clock_speed: float = 1.0
    margin: float = 0.05

    @property
    def meta_out(self) -> Path:
        return consolidate.meta_path_for(self.out)

    @property
    def keep_s(self) -> int:
        return round(self.keep_days * 86_400 / INTERVAL_S) * INTERVAL_S


class ApiClock:
    """The API's time: set from each ``created_at`` it sends, run ``speed`` times faster than
    ``wall`` (monotonic seconds) in between. Until the first answer, this machine's clock."""

    def __init__(
        self,
        speed: float,
        wall: Callable[[], float] = time.monotonic,
        utc: Callable[[], float] = time.time,
    ) -> None:
        self.speed = speed
        self._wall = wall
        self._anchor = (utc(), wall())

    def set(self, server_time: datetime | None) -> None:
        if server_time is not None:
            self._anchor = (server_time.timestamp(), self._wall())

    def now(self) -> float:
        """The API's time now, epoch seconds."""
        return self.at(self._wall())

    def at(self, wall_time: float) -> float:
        """The API's time at ``wall_time`` (a reading of ``wall``), epoch seconds."""
        api, wall = self._anchor
        return api + (wall_time - wall) * self.speed

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def to_wall(self, api_seconds: float) -> float:
        return api_seconds / self.speed


@dataclass
class PollReport:
    """What one poll did, for its log line."""

    market_before: int | None
    requests: int = 0
    swept: int = 0
    planned_batches: int = 0
    cells: int = 0
    failed: str = ""


class Follower:
    """One follower: the cache in memory, its watermarks, the budget, the loop."""

    def __init__(
        self,
        extraction: Extraction,
        settings: FollowSettings,
        client: OEClient,
        stop: threading.Event,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ex = extraction
        self.settings = settings
        self.client = client
        self.stop = stop
        self.wall = wall
        self.clock = ApiClock(settings.api_clock_speed, wall)
        self.lookup: rollup.Lookup | None = None
        self.facilities_bytes = b""
        self.table: rollup.WideTable | None = None
        self.marks = Watermarks()
        self.credits = Credits()
        self.requests_at_me = 0
        self.plan: BudgetPlan | None = None
        self.next_sweep_at = 0.0
        self.wrote_once = False

    # --- start ------------------------------------------------------------------------------

    def start(self) -> bool:
        """Read /v4/me, the facility list and the cache; plan. False when stopped first.

        A key refused by /v4/me stops here (a wrong key and a spent one look alike); once
        /v4/me has accepted it, a refusal means spent credits, and the start waits for them.
        """
        self.refresh_me()
        self.replan()
        while self.lookup is None:
            try:
                self.lookup = fetch_lookup(self.client, self.ex, Clock())
            except KeyRejected as exc:
                self.wait_out_credits(exc)
                if self.stop.is_set():
                    return False
        self.facilities_bytes = facilities_csv(self.lookup)
        self.load_cache()
        self.replan()
        log.info(
            "following %d facilities in %d batches, keeping %g days in %s; %s",
            len(self.lookup.facilities),
            self.batches,
            self.settings.keep_days,
            self.settings.out,
            self.plan.describe() if self.plan else "",
        )
        return True

    @property
    def batches(self) -> int:
        return livecache.count_batches(len(self.lookup.facilities)) if self.lookup else 0

    def refresh_me(self) -> None:
        """Read /v4/me: credits and the API's clock. A 401 propagates; any other failure
        keeps what was known (or the free plan's figures)."""
        try:
            payload = self.client.fetch_me()
        except KeyRejected:
            raise
        except ApiError as exc:
            log.warning("/v4/me failed (%s): planning with the free plan's 500 credits a day", exc)
            self.requests_at_me = self.client.stats.total
            return
        self.credits = read_me(payload)
        self.requests_at_me = self.client.stats.total
        self.clock.set(self.credits.server_time)

    def replan(self) -> None:
        poll = self.settings.poll_every
        self.plan = plan_budget(
            self.credits,
            self.batches,
            self.clock.now_dt(),
            poll_every_s=None if poll is None else poll * self.settings.api_clock_speed,
            margin=self.settings.margin,
        )

    def load_cache(self) -> None:
        """The cache the last run left, and its watermarks (from the meta file when it
        describes this CSV, else read off the cells)."""
        loaded = read_cache(self.settings, self.ex.source)
        if loaded is None:
            return
        table, meta, sha256 = loaded
        marks = livecache.read_follow_meta(meta, sha256) if meta else None
        marks = marks or livecache.derive_marks(table)
        assert self.lookup is not None
        self.table = table
        self.marks = livecache.trim_marks(marks, self.lookup.facility_ids)
        log.info(
            "continuing %s: %d rows, prices to %s, facilities to %s",
            self.settings.out,
            len(table.times),
            _hhmm(self.marks.market_to),
            _hhmm(self.marks.batch_to(self.lookup.facility_ids)),
        )

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        """Poll until ``stop``: the first poll fills, later ones keep up."""
        first = True
        while not self.stop.is_set():
            started = self.wall()
            try:
                self.poll(force_sweep=first, started=started)
                first = False
            except KeyRejected as exc:
                self.wait_out_credits(exc)
                continue
            except ApiError as exc:
                log.warning("poll failed: %s; the next poll tries again", exc)
            self.stop.wait(max(started + self.poll_every_wall() - self.wall(), 0.0))

    def poll_every_wall(self) -> float:
        """Wall seconds to the next poll: ``--poll-every``, or one interval, but never more
        often than the plan affords (it spaces the polls out when credits run short)."""
        planned = self.clock.to_wall(self.plan.market_every_s if self.plan else INTERVAL_S)
        if self.settings.poll_every is None:
            return planned
        return max(self.settings.poll_every, planned)

    def credits_left(self) -> int | None:
        if self.credits.remaining is None and self.plan is not None and self.plan.credits is None:
            return None
        known = self.credits.remaining
        if known is None:
            known = self.plan.credits if self.plan and self.plan.credits is not None else 500
        return known - (self.client.stats.total - self.requests_at_me)

    def may_spend(self, requests: int) -> bool:
        reserve = self.plan.reserve if self.plan else 0
        return may_spend(self.credits_left(), requests, reserve)

    def poll(self, force_sweep: bool = False, started: float | None = None) -> None:
        """One market poll, and a sweep when due; then merge, trim, write, log.

        ``started``: the wall time the poll began (default now). Sweeps are timed from the
        starts of the polls that ran them, not from when a request came back: with a sweep
        planned every poll, each poll sweeps, however long its market request took.
        """
        assert self.lookup is not None
        started = self.wall() if started is None else started
        report = PollReport(self.marks.market_to)
        total_before = self.client.stats.total
        if self.plan is not None and self.clock.now() >= self.plan.reset.timestamp():
            self.refresh_me()  # a new credit day: what was left is void
            self.replan()
        parser = rollup.SeriesParser()
        market: list[rollup.Series] = []
        facility: list[rollup.Series] = []
        try:
            market = self.fetch_market(parser)
            if force_sweep or self.clock.at(started + ON_TIME_S) >= self.next_sweep_at:
                facility = self.sweep(parser, report, fresh_me=force_sweep, started=started)
        except KeyRejected:
            report.failed = "refused (401)"
            raise
        finally:
            report.requests = self.client.stats.total - total_before
            if market or facility:
                report.cells = self.merge(facility, market)
                self.write()
            self.log_poll(report)

    def floor(self) -> int:
        """The oldest interval kept: ``--keep`` days ending at the newest interval held (the
        market's, or a facility batch's when a sweep ran ahead of the last market poll)."""
        held = [self.marks.market_to]
        if self.table is not None and len(self.table.times):
            held.append(int(self.table.times[-1]))
        known = [t for t in held if t is not None]
        if known:
            newest = max(known)
        else:
            newest = livecache.floor_interval(self.clock.now()) - 2 * INTERVAL_S
        return livecache.window_floor(newest, self.settings.keep_s)

    def fetch_market(self, parser: rollup.SeriesParser) -> list[rollup.Series]:
        """The market since its watermark (one request), if the budget allows."""
        if not self.may_spend(1):
            return []
        window = livecache.request_window(
            (), self.marks.market_to, self.floor(), int(self.clock.now())
        )
        payload = self.client.fetch_market(self.ex.network, window.start, window.end)
        if payload is None:
            return []
        series = parse_series(parser, payload, "region", "market data")
        reached = livecache.fetched_through(window, livecache.newest_time(series))
        self.marks = livecache.advance_market(self.marks, reached)
        return series

    def sweep(
        self,
        parser: rollup.SeriesParser,
        report: PollReport,
        fresh_me: bool = False,
        started: float | None = None,
    ) -> list[rollup.Series]:
        """Re-read /v4/me (unless ``fresh_me``: just read) and re-plan, then one request per
        batch from its watermark. The next sweep is due ``sweep_every_s`` after ``started``
        (the wall time of the poll's start; default now), on the clock /v4/me just set."""
        assert self.lookup is not None
        started = self.wall() if started is None else started
        if not fresh_me and self.may_spend(1):
            self.refresh_me()
        self.replan()
        assert self.plan is not None
        now = self.clock.now()
        every = self.plan.sweep_every_s
        if every is None:
            self.next_sweep_at = self.plan.reset.timestamp()
        else:
            self.next_sweep_at = self.clock.at(started) + every
        windows = livecache.plan_sweep(self.lookup.facility_ids, self.marks, self.floor(), int(now))
        report.planned_batches = len(windows)
        left = self.credits_left()
        if left is not None:
            windows = windows[: max(left - self.plan.reserve, 0)]
        out: list[rollup.Series] = []
        for window in windows:
            if self.stop.is_set():
                break
            out += self.fetch_batch(window, parser)
            report.swept += 1
        return out

    def fetch_batch(self, window: FetchWindow, parser: rollup.SeriesParser) -> list[rollup.Series]:
        payload = self.client.fetch_facility_data(
            self.ex.network, window.codes, window.start, window.end
        )
        series = (
            [] if payload is None else parse_series(parser, payload, "unit_code", "facility data")
        )
        reached = livecache.fetched_through(window, livecache.newest_time(series))
        self.marks = livecache.advance_facilities(self.marks, window, reached)
        return series

    def merge(self, facility: list[rollup.Series], market: list[rollup.Series]) -> int:
        """Join what came into the cache and trim it; the facility cells it filled."""
        assert self.lookup is not None
        lo = livecache.to_naive(self.floor())
        hi = livecache.to_naive(int(self.clock.now()) + 86_400)
        update = rollup.build_wide_table(self.lookup, facility, market, (lo, hi), rows="any")
        before = _facility_cells(self.table)
        filled = 0

        def floor_of(merged: rollup.WideTable) -> int:
            # Cells filled count before the trim. The floor counts back from the newest
            # interval held, the one just merged included (a sweep may bring an interval
            # newer than the market's): else one row too many.
            nonlocal filled
            filled = _facility_cells(merged) - before
            self.table = merged
            return self.floor()

        self.table = merge_and_trim(self.table, update, floor_of)
        return filled

    def write(self) -> None:
        """consolidate.csv, its meta and data/facilities.csv, atomically."""
        if self.table is None:
            return
        meta = CacheMeta(
            source=self.ex.source,
            api_url=display_url(self.ex.api_url),
            network=self.ex.network,
            requests=dict(sorted(self.client.stats.sent.items())),
            follow=livecache.build_follow_meta(self.marks, self.settings.keep_days),
        )
        self.wrote_once = write_cache(
            self.settings, self.table, meta, self.facilities_bytes, self.wrote_once
        )

    def log_poll(self, report: PollReport) -> None:
        """One line: what came, what the budget leaves, when the next sweep is."""
        assert self.lookup is not None and self.plan is not None
        new = 0
        if self.marks.market_to is not None:
            base = (
                report.market_before
                if report.market_before is not None
                else self.floor() - INTERVAL_S
            )
            new = max((self.marks.market_to - base) // INTERVAL_S, 0)
        came = f"market +{new} interval{'s' if new != 1 else ''}"
        parts = [f"{report.failed or came}, prices to {_hhmm(self.marks.market_to)}"]
        if report.planned_batches:
            parts.append(
                f"sweep {report.swept}/{report.planned_batches} batches, +{report.cells:,} facility cells"
            )
        parts.append(f"facilities to {_hhmm(self.marks.batch_to(self.lookup.facility_ids))}")
        left = self.credits_left()
        budget = "unlimited credits" if left is None else f"{left:,} credits left"
        log.info(
            "poll: %s; %d request%s, %s (reserve %d, reset %s UTC); next sweep %s NEM",
            ", ".join(parts),
            report.requests,
            "" if report.requests == 1 else "s",
            budget,
            self.plan.reserve,
            f"{self.plan.reset:%H:%M}",
            format_nem_epoch(self.next_sweep_at, "%H:%M"),
        )

    # --- a spent key ------------------------------------------------------------------------

    def wait_out_credits(self, exc: KeyRejected) -> None:
        """One line, then wait until the reset; try /v4/me then, and every minute (API time)
        after, until the key is accepted again or ``stop``."""
        reset = self.plan.reset if self.plan else next_reset(None, self.clock.now_dt())
        wait_api = max(reset.timestamp() - self.clock.now(), 0.0)
        log.warning(
            "the API refused the key (401 %s): its credits are spent; waiting until they reset "
            "at %s UTC (in %s, from /v4/me); Ctrl-C stops",
            exc.message or "Authentication failed",
            f"{reset:%Y-%m-%d %H:%M}",
            format_duration(wait_api),
        )
        while not self.stop.wait(self.clock.to_wall(wait_api + 1.0)):
            try:
                self.refresh_me()
            except KeyRejected:
                wait_api = RETRY_REFUSED_S
                log.info("the key is still refused; trying again in %s", format_duration(wait_api))
                continue
            except ApiError as exc2:
                log.warning("/v4/me failed (%s); trying again shortly", exc2)
                wait_api = RETRY_REFUSED_S
                continue
            self.replan()
            self.next_sweep_at = 0.0  # catch up at once
            log.info("the key is accepted again: %s", self.plan.describe() if self.plan else "")
            return


# --- shared with the NEMweb follower ----------------------------------------------------------


@dataclass(frozen=True)
class CacheMeta:
    """What a follower puts in consolidate.meta.json besides the table's own figures."""

    source: str
    api_url: str
    network: str
    requests: dict[str, int]
    follow: dict[str, Any]
    extra: dict[str, Any] | None = None
    simulated: bool = False  # a simulator's data: the meta file says so


def facilities_csv(lookup: rollup.Lookup) -> bytes:
    """data/facilities.csv bytes of the lookup; facilities without a location are left out
    (one warning line)."""
    rows, skipped = rollup.build_facility_rows(lookup)
    if skipped:
        log.warning("%d facilities have no location and stay out of the lookup table", len(skipped))
    return consolidate.render_facilities_csv(FACILITIES_HEADER, rows)


def read_cache(
    settings: FollowSettings, source: str
) -> tuple[rollup.WideTable, dict[str, Any], str] | None:
    """The cache the last run left: (table, its meta or {}, the CSV's sha256); None when
    there is none. Raise ConfigError for an unreadable file or one from another source."""
    path = settings.out
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        log.info("no cache at %s yet: filling the last %g days", path, settings.keep_days)
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc}): check it or pass another --out") from exc
    table = livecache.parse_cache(data, str(path))
    try:
        meta = json.loads(settings.meta_out.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # deep nesting is no ValueError
        meta = {}
    if not isinstance(meta, dict):
        meta = {}
    if meta.get("source") not in (None, source):
        raise ConfigError(
            f"{path} holds data from the {meta.get('source')}, not the {source}: "
            "move it away or pass another --out"
        )
    return table, meta, hashlib.sha256(data).hexdigest()


def merge_and_trim(
    table: rollup.WideTable | None,
    update: rollup.WideTable,
    floor: Callable[[rollup.WideTable], int],
    *,
    update_wins: bool = False,
) -> rollup.WideTable:
    """``update`` joined into ``table`` (a value held is kept, unless ``update_wins``), then
    trimmed to ``floor(merged)`` (epoch s) and its window fitted to its rows."""
    merged = (
        livecache.merge_tables(update, table)
        if update_wins and table is not None
        else livecache.merge_tables(table, update)
    )
    return livecache.fit_window(livecache.trim_table(merged, floor(merged)))


def write_cache(
    settings: FollowSettings,
    table: rollup.WideTable,
    meta: CacheMeta,
    facilities_bytes: bytes,
    wrote_once: bool,
) -> bool:
    """consolidate.csv, its meta and data/facilities.csv, atomically; True once written.

    A table that breaks a rule is not written (one warning). A write that fails raises
    OutputError the first time (a wrong folder), later it is one warning and the next poll
    tries again.
    """
    if not len(table.times):
        return wrote_once
    try:
        consolidate.check_table(table)
    except TableCheckError as exc:
        log.warning("not writing the cache: %s", exc)
        return wrote_once
    csv_bytes = consolidate.render_csv(table)
    content = consolidate.build_meta(
        table=table,
        stats=consolidate.summarise(table),
        csv_bytes=csv_bytes,
        source=meta.source,
        api_url=meta.api_url,
        network=meta.network,
        written_at=datetime.now(UTC),
        requests=meta.requests,
        simulated=meta.simulated,
    )
    content.update(meta.extra or {})
    content["follow"] = meta.follow
    files = [
        (settings.facilities_out, facilities_bytes),
        (settings.out, csv_bytes),
        (settings.meta_out, consolidate.render_meta(content)),
    ]
    try:
        write_files_atomically(files)
        return True
    except OSError as exc:
        where = exc.filename or settings.out
        if not wrote_once:
            raise OutputError(
                f"cannot write {where} ({exc.strerror or exc}): check the folder exists and "
                "is writable, or pass --out/--facilities-out"
            ) from exc
        log.warning("cannot write %s (%s); the next poll tries again", where, exc.strerror or exc)
        return wrote_once


def _facility_cells(table: rollup.WideTable | None) -> int:
    if table is None:
        return 0
    n = 2 * len(table.facility_ids)
    return int(np.count_nonzero(~np.isnan(table.values[:, :n])))


def _hhmm(epoch_s: int | None) -> str:
    return "none yet" if epoch_s is None else format_nem_epoch(epoch_s, "%d %b %H:%M")


def run_follow(
    extraction: Extraction, settings: FollowSettings, client: OEClient, stop: threading.Event
) -> int:
    """Start and follow until ``stop``; exit status 0. Raise NemLiveError for what stops it
    at the start (a refused key, an unreadable cache, an unwritable folder)."""
    follower = Follower(extraction, settings, client, stop)
    try:
        started = follower.start()
    except KeyRejected as exc:
        raise ApiError(
            f"{exc}; a key out of credits is refused until its daily reset (see /v4/me)"
        ) from exc
    if started:
        follower.run()
    log.info(
        "stopped; %s holds %d rows",
        settings.out,
        0 if follower.table is None else len(follower.table.times),
    )
    return 0
