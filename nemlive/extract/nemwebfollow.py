"""``extractor.py --follow --source nemweb``: keep the cache current from AEMO's NEMweb.

The imperative shell around :mod:`nemlive.extract.nemweb` (what to fetch, how files become
series) and :class:`~nemlive.extract.nemwebclient.NemwebClient` (how politely):

1. at the start: the facility list (``FacilityList.lookup()``, again every 24 h), the cache
   the last run left and its meta's ``follow.nemweb`` block (the files held per report, the
   Archive days fetched, the publish delays seen), and the CDEII emission factors (again
   daily);
2. every poll reads each report's Current index once (a conditional GET: 304 when nothing
   changed), downloads only files not held (by name and sequence: a replaced sequence is
   fetched again and its values replace the old), and, for missing intervals older than
   what Current still lists, the NEM day's Archive zip (each day once; hourly for a day
   while it is missing or unreadable);
3. polls run at each interval's end plus the learned publish delay; while the newest
   expected file is missing, its index is read again every 20 s until 110 s late, then the
   interval is left as a gap that later polls fill;
4. each poll merges what came (new values win), trims to ``--keep`` days, writes the three
   files atomically with ``source: "nemweb"`` and logs one line.

Nothing a file brings is believed beyond its own interval (an Archive zip: its NEM day), nor
past the expected interval plus two; a file that fails to parse is tried three times, then
its interval stays a gap. A server ``Date`` over 10 minutes from this machine's clock is not
followed unless the extraction is simulated.

A 403 (NEMweb's firewall) is one WARNING line, then a wait of 5 minutes doubling to an hour
while it lasts. Any other failure is one line; the next poll tries again. ``stop`` ends the
loop after the current request; what came is written first.

**Clocks.** As :class:`~nemlive.extract.cachekeeper.ApiClock`: the feed's time is ``utc()``
at the start, running ``api_clock_speed`` times faster than ``wall`` after it (1 for
NEMweb; a sped-up simulator sets more). Waits are on ``stop.wait`` in wall seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

import numpy as np

from nemlive.common.errors import NemLiveError
from nemlive.common.nemtime import INTERVAL_S, NEM_TZ, format_nem, format_nem_epoch
from nemlive.common.retry import Backoff, RetryStopped, StateLog
from nemlive.extract import livecache, nemweb, rollup
from nemlive.extract.budget import format_duration
from nemlive.extract.cachekeeper import (
    ApiClock,
    CacheMeta,
    FollowSettings,
    facilities_csv,
    merge_and_trim,
    read_cache,
    write_cache,
)
from nemlive.extract.mms import MmsError
from nemlive.extract.nemweb import DISPATCHIS, REPORTS, SCADA, MarketInterval, ReportFile
from nemlive.extract.nemwebclient import NemwebBlocked, NemwebClient, NemwebError, NemwebNotFound
from nemlive.extract.pipeline import Extraction

log = logging.getLogger("extractor")

SOURCE = "nemweb"
DAY_S = 86_400
BLOCKED_BACKOFF = Backoff(300.0, 3600.0)  # after a 403: 5 minutes, doubling to an hour
FLUSH_EVERY = 48  # files: a long fill writes what it has every 4 hours of data
KEPT_DELAYS = 48  # publish delays remembered (4 hours of intervals)
MAX_FAILURES = 3  # a file that fails to parse this often is skipped until replaced
FAILED_IN_A_ROW = 3  # files failing one after another: the poll ends, the next tries again
UNKNOWN_SEQUENCE = -1  # held (read off the cache) with no record of its sequence
CDEII_RETRY_S = 3600.0  # a failed CDEII read is tried again after an hour
ARCHIVE_RETRY_S = 3600.0  # a failed Archive day is tried again after an hour ...
ARCHIVE_GIVE_UP_S = DAY_S  # ... for a day, then its intervals stay gaps
MAX_DATE_SKEW_S = 600.0  # a server Date further from this machine's clock is not followed


class FacilityList(Protocol):
    """Where the follower gets its facilities (the CLI keeps a cached, daily-refreshed OE
    list); ``lookup()`` may raise NemLiveError."""

    def lookup(self) -> rollup.Lookup: ...


@dataclass
class ReportState:
    """One report's files held: interval end -> sequence, and the Archive days fetched."""

    held: dict[int, int] = field(default_factory=dict)
    archive_days: set[date] = field(default_factory=set)
    # An Archive day that failed (404, unreadable): first failure, next try (feed time).
    archive_retry: dict[date, tuple[float, float]] = field(default_factory=dict)
    listing: list[ReportFile] = field(default_factory=list)
    listed: set[str] = field(default_factory=set)
    read_at: float | None = None  # when the index was last read (feed time)

    def wants(self, f: ReportFile) -> bool:
        held = self.held.get(f.interval_end)
        return held is None or (held != UNKNOWN_SEQUENCE and f.sequence > held)


@dataclass
class Batch:
    """What came since the last merge: per interval, the units' MW and the market."""

    scada: dict[int, dict[str, float]] = field(default_factory=dict)
    market: dict[int, MarketInterval] = field(default_factory=dict)
    files: int = 0
    failed: int = 0  # files that failed in a row

    def __bool__(self) -> bool:
        return bool(self.scada or self.market)


@dataclass
class PollReport:
    added: int = 0
    requests: int = 0
    bytes: int = 0
    not_modified: int = 0


class NemwebFollower:
    """One follower: the cache in memory, the files held, the loop."""

    def __init__(
        self,
        extraction: Extraction,
        settings: FollowSettings,
        facilities: FacilityList,
        client: NemwebClient,
        stop: threading.Event,
        *,
        wall: Callable[[], float] = time.monotonic,
        utc: Callable[[], float] = time.time,
    ) -> None:
        self.ex = extraction
        self.settings = settings
        self.facilities = facilities
        self.client = client
        self.stop = stop
        self.clock = ApiClock(settings.api_clock_speed, wall, utc)
        self.utc = utc
        self.skew_logged = False
        self.lookup: rollup.Lookup | None = None
        self.lookup_at = 0.0
        self.facilities_bytes = b""
        self.table: rollup.WideTable | None = None
        self.reports = {r: ReportState() for r in REPORTS}
        self.factors: dict[str, float] = {}
        self.cdeii_name: str | None = None
        self.cdeii_at: float | None = None
        self.coverage_due = False
        self.delays: list[float] = []
        self.delay = nemweb.DEFAULT_DELAY_S
        self.failures: dict[str, int] = {}
        self.blocked = StateLog()
        self.blocked_count = 0
        self.wrote_once = False

    # --- start -------------------------------------------------------------------------------

    def start(self) -> None:
        """The emission factors (the first answer sets the clock), the facility list, the
        cache and its meta."""
        try:
            self.refresh_cdeii()
        except NemwebBlocked as exc:
            self.cdeii_at = self.clock.now() - DAY_S + CDEII_RETRY_S
            self.wait_blocked(exc)
        except (NemwebError, MmsError) as exc:
            self.cdeii_at = self.clock.now() - DAY_S + CDEII_RETRY_S
            log.warning(
                "CDEII emission factors unavailable (%s): no emissions until they come", exc
            )
        self.refresh_lookup()
        self.load_cache()
        assert self.lookup is not None
        log.info(
            "following %d facilities from NEMweb (%s), keeping %g days in %s",
            len(self.lookup.facilities),
            self.client.display_base,
            self.settings.keep_days,
            self.settings.out,
        )

    def sync_clock(self) -> None:
        """The feed's time from the server's ``Date`` (NEMweb's clock, not this machine's:
        a sped-up simulator's runs ahead of the wall), once per answer that brought one.

        A Date over :data:`MAX_DATE_SKEW_S` from this machine's clock is ignored (logged
        once) unless the extraction is simulated: a wrong Date must not move the window."""
        server_time = self.client.server_time
        if server_time is None:
            return
        self.client.server_time = None
        skew = server_time - self.utc()
        if not self.ex.simulated and abs(skew) > MAX_DATE_SKEW_S:
            if not self.skew_logged:
                log.warning(
                    "NEMweb's Date is %s %s this machine's clock: ignored, following this "
                    "machine's clock (is its time right?)",
                    format_duration(abs(skew)),
                    "ahead of" if skew > 0 else "behind",
                )
                self.skew_logged = True
            return
        self.clock.set(datetime.fromtimestamp(server_time, UTC))

    def refresh_lookup(self) -> None:
        self.lookup = self.facilities.lookup()
        self.lookup_at = self.clock.now()
        self.facilities_bytes = facilities_csv(self.lookup)

    def refresh_cdeii(self) -> None:
        """The newest CDEII file's factors, when its name changed (one index read)."""
        names = self.client.index(nemweb.CDEII_DIR)
        self.sync_clock()
        self.cdeii_at = self.clock.now()
        name = nemweb.newest_cdeii(names) if names is not None else None
        if name is None or name == self.cdeii_name:
            return
        data = self.client.get(nemweb.CDEII_DIR + name, kind="cdeii")
        self.factors = nemweb.read_cdeii(data.decode("utf-8", errors="replace"))
        self.cdeii_name = name
        self.coverage_due = True
        log.info("CDEII %s: emission factors for %d units", name, len(self.factors))

    def load_cache(self) -> None:
        loaded = read_cache(self.settings, SOURCE)
        if loaded is None:
            return
        table, meta, sha256 = loaded
        self.table = table
        block = _nemweb_block(meta, sha256)
        if block is not None:
            self._restore(block)
        else:
            self._held_from_table(table)
        log.info(
            "continuing %s: %d rows, facilities to %s, prices to %s",
            self.settings.out,
            len(table.times),
            _hhmm(livecache.facility_newest(table)),
            _hhmm(_price_newest(table)),
        )

    def _restore(self, block: Mapping[str, Any]) -> None:
        try:
            for report in REPORTS:
                state = self.reports[report]
                for name in block.get("files", {}).get(report, []):
                    f = nemweb.parse_file_name(str(name))
                    if f is not None:
                        state.held[f.interval_end] = max(
                            state.held.get(f.interval_end, -1), f.sequence
                        )
                days = block.get("archive_days", {}).get(report, [])
                state.archive_days = {date.fromisoformat(str(d)) for d in days}
            self.delays = [float(d) for d in block.get("delays", [])][-KEPT_DELAYS:]
        except (TypeError, ValueError, AttributeError) as exc:
            log.warning("ignoring the meta file's nemweb block (%s): reading the cache", exc)
            self.reports = {r: ReportState() for r in REPORTS}
            assert self.table is not None
            self._held_from_table(self.table)
            return
        self.delay = nemweb.learn_delay(self.delays)

    def _held_from_table(self, table: rollup.WideTable) -> None:
        """Without a record of the files: the intervals with data count as held."""
        n_fac = 2 * len(table.facility_ids)
        filled = ~np.isnan(table.values)
        has_fac = filled[:, :n_fac].any(axis=1)
        price_cols = [i for i, c in enumerate(table.header[1:]) if c.startswith("price_")]
        has_price = filled[:, price_cols].any(axis=1) if price_cols else np.zeros(len(filled), bool)
        for t, fac, price in zip(table.times.tolist(), has_fac, has_price, strict=True):
            if fac:
                self.reports[SCADA].held[int(t)] = UNKNOWN_SEQUENCE
            if price:
                self.reports[DISPATCHIS].held[int(t)] = UNKNOWN_SEQUENCE

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Poll until ``stop``: the first poll fills, later ones keep up."""
        reports: tuple[str, ...] = REPORTS
        while not self.stop.is_set():
            try:
                self.daily()
                self.poll(reports)
            except NemwebBlocked as exc:
                self.wait_blocked(exc)
                continue
            except RetryStopped:
                break
            except (NemwebError, MmsError) as exc:
                log.warning("poll failed: %s; the next poll tries again", exc)
            if self.blocked.leave():
                log.info("NEMweb answers again")
                self.blocked_count = 0
            reports = self.sleep_to_next_poll()

    def sleep_to_next_poll(self) -> tuple[str, ...]:
        """Wait until the next poll; the reports it reads (only the late ones on a re-read)."""
        now = self.clock.now()
        expected = nemweb.expected_interval(now, self.delay)
        late = tuple(r for r in REPORTS if expected not in self.reports[r].held)
        at = nemweb.next_poll_at(now, self.delay, bool(late))
        rereading = at < expected + INTERVAL_S + self.delay
        self.sleep_api(at - now)
        return late if rereading else REPORTS

    def sleep_api(self, api_seconds: float) -> None:
        self.stop.wait(max(self.clock.to_wall(api_seconds), 0.0))

    def wait_blocked(self, exc: NemwebBlocked) -> None:
        wait = BLOCKED_BACKOFF.delay(self.blocked_count)
        self.blocked_count += 1
        if self.blocked.enter("blocked"):
            log.warning(
                "%s; waiting %s before asking again (doubling to 1 h while it lasts); Ctrl-C stops",
                exc,
                format_duration(wait),
            )
        else:
            log.debug("still refused (403); waiting %s", format_duration(wait))
        self.sleep_api(wait)

    def daily(self) -> None:
        """The facility list and the emission factors, again every 24 hours."""
        now = self.clock.now()
        try:
            if now - self.lookup_at >= DAY_S:
                self.refresh_lookup()
        except NemLiveError as exc:  # the CLI's facility list: keep the old one
            log.warning("facility list refresh failed (%s); keeping the old one", exc)
            self.lookup_at = now
        try:
            if self.cdeii_at is None or now - self.cdeii_at >= DAY_S:
                self.refresh_cdeii()
        except NemwebBlocked:
            raise
        except (NemwebError, MmsError) as exc:
            self.cdeii_at = now - DAY_S + CDEII_RETRY_S
            log.warning("CDEII refresh failed (%s); keeping the factors known", exc)

    # --- one poll ----------------------------------------------------------------------------

    def floor(self, table: rollup.WideTable | None = None) -> int:
        """The oldest interval kept: ``--keep`` days ending at the newest interval expected
        by now, or held (of ``table``, default the cache), whichever is later; a row held
        counts up to :meth:`latest` only (a row dated ahead must not trim the cache from
        the front)."""
        now = self.clock.now()
        newest = nemweb.expected_interval(now, self.delay)
        table = self.table if table is None else table
        if table is not None and len(table.times):
            held = min(int(table.times[-1]), nemweb.latest_believed(now, self.delay))
            newest = max(newest, held)
        return livecache.window_floor(newest, self.settings.keep_s)

    def latest(self) -> int:
        """The latest interval a name or row is believed for (later ones are ignored)."""
        return nemweb.latest_believed(self.clock.now(), self.delay)

    def poll(self, reports: Iterable[str] = REPORTS) -> PollReport:
        """Read the indexes, fetch what is new, merge and write (also when cut short)."""
        before = (
            self.client.stats.requests,
            self.client.stats.bytes,
            self.client.stats.not_modified,
        )
        held_before = set() if self.table is None else set(self.table.times.tolist())
        report = PollReport()
        batch = Batch()
        try:
            for name in reports:
                self.read_index(name)
            for name in reports:
                self.fetch_archives(name, batch)
            for f in self.wanted(reports):  # what an Archive zip brought is held now
                self.fetch_file(f, batch)
        finally:
            if batch:
                self.flush(batch)
            stats = self.client.stats
            report.requests = stats.requests - before[0]
            report.bytes = stats.bytes - before[1]
            report.not_modified = stats.not_modified - before[2]
            after = set() if self.table is None else set(self.table.times.tolist())
            report.added = len(after - held_before)
            self.log_poll(report)
        return report

    def read_index(self, report: str) -> None:
        """The Current index (conditional); the delay of a file that newly appeared."""
        state = self.reports[report]
        previous_read = state.read_at
        names = self.client.index(nemweb.current_dir(report))
        self.sync_clock()
        state.read_at = self.clock.now()
        if names is None:
            return
        latest = self.latest()
        every = nemweb.report_files(names, report)
        files = [f for f in every if f.interval_end <= latest]
        ahead = {f.name for f in every if f.interval_end > latest}
        if ahead - state.listed:
            self._log_ahead(report, sorted(ahead - state.listed), latest)
        new = [f.interval_end for f in files if f.name not in state.listed]
        if state.listed and new:
            self.observe_delay(report, max(new), previous_read)
        state.listing = files
        state.listed = {f.name for f in files} | ahead

    def _log_ahead(self, report: str, names: list[str], latest: int) -> None:
        log.warning(
            "%s lists %d file%s dated after %s, ignored (%s%s)",
            nemweb.current_dir(report),
            len(names),
            "" if len(names) == 1 else "s",
            _stamp(latest),
            ", ".join(names[:2]),
            " ..." if len(names) > 2 else "",
        )

    def observe_delay(self, report: str, interval_end: int, previous_read: float | None) -> None:
        """Learn from a file that appeared since the last read: when the index says it
        changed (Last-Modified), else halfway between the read that did not list it and
        this one. A file already out at the read before says only "no later than", which
        would only ever push the delay up: it is not counted."""
        now = self.clock.now()
        modified = self.client.index_modified(nemweb.current_dir(report))
        if modified is not None and interval_end <= modified <= now + nemweb.MAX_DELAY_S:
            seen = modified
        elif previous_read is not None and previous_read > interval_end:
            seen = (previous_read + now) / 2
        else:
            return
        delay = seen - interval_end
        if 0 <= delay <= 2 * nemweb.MAX_DELAY_S:
            self.delays = [*self.delays, delay][-KEPT_DELAYS:]
            self.delay = nemweb.learn_delay(self.delays)

    def current_listing(self, report: str) -> dict[int, ReportFile]:
        """Interval -> the newest file Current lists for it, within the kept window."""
        floor = self.floor()
        newest = nemweb.newest_per_interval(self.reports[report].listing)
        return {t: f for t, f in newest.items() if t >= floor}

    def fetch_archives(self, report: str, batch: Batch) -> None:
        """The Archive days of intervals missing and older than Current still lists."""
        state = self.reports[report]
        floor = self.floor()
        listing = self.current_listing(report)
        newest = max([*listing, nemweb.expected_interval(self.clock.now(), self.delay)])
        missing = nemweb.missing_intervals(state.held, floor, newest)
        now = self.clock.now()
        waiting = {d for d, (_, at) in state.archive_retry.items() if at > now}
        skip = state.archive_days | waiting
        plan = nemweb.plan_fill(missing, min(listing) if listing else None, skip)
        for day in plan.archive_days:
            self.fetch_archive(report, day, batch)

    def wanted(self, reports: Iterable[str]) -> list[ReportFile]:
        """Current's files not held (or replaced by a later sequence), oldest interval first,
        the reports of one interval together."""
        out = []
        for report in reports:
            state = self.reports[report]
            for f in self.current_listing(report).values():
                if state.wants(f) and self.failures.get(f.name, 0) < MAX_FAILURES:
                    out.append(f)
        return sorted(out, key=lambda f: (f.interval_end, f.report))

    def _check_stop(self, batch: Batch) -> None:
        if self.stop.is_set():
            raise RetryStopped
        if batch.files >= FLUSH_EVERY:
            self.flush(batch)

    def fetch_file(self, f: ReportFile, batch: Batch) -> None:
        self._check_stop(batch)
        try:
            data = self.client.get(nemweb.current_dir(f.report) + f.name)
            self._take(f.report, f.name, data, batch, {f.interval_end}, nemweb.CURRENT_CAPS)
        except NemwebNotFound:
            log.info("%s left Current before it was fetched; the Archive will have it", f.name)
            return
        except NemwebBlocked:
            raise
        except (MmsError, NemwebError) as exc:
            # A cut or broken file is skipped for this poll; several in a row end the poll.
            failures = self.failures.get(f.name, 0) + isinstance(exc, MmsError)
            self.failures[f.name] = failures
            batch.failed += 1
            if isinstance(exc, MmsError) and failures >= MAX_FAILURES:
                log.warning(
                    "%s: %s; failed %d times, its interval stays a gap unless a later "
                    "sequence replaces it",
                    f.name,
                    exc,
                    failures,
                )
            elif batch.failed < FAILED_IN_A_ROW:
                log.warning("%s: %s; trying again next poll", f.name, exc)
            if batch.failed >= FAILED_IN_A_ROW:
                raise
            return
        batch.failed = 0
        self.reports[f.report].held[f.interval_end] = f.sequence

    def fetch_archive(self, report: str, day: date, batch: Batch) -> None:
        self._check_stop(batch)
        name = nemweb.archive_name(report, day)
        state = self.reports[report]
        try:
            data = self.client.get(nemweb.archive_dir(report) + name, kind="archive")
            day_ends = set(nemweb.day_intervals(day))
            intervals = self._take(report, name, data, batch, day_ends, nemweb.ARCHIVE_CAPS)
        except (NemwebNotFound, MmsError) as exc:
            self._archive_failed(state, day, name, exc)
            return
        state.archive_days.add(day)
        state.archive_retry.pop(day, None)
        for inner in nemweb.member_files(data):
            f = nemweb.parse_file_name(inner)
            if f is not None:
                state.held[f.interval_end] = max(state.held.get(f.interval_end, -1), f.sequence)
        for t in intervals:
            state.held.setdefault(t, UNKNOWN_SEQUENCE)

    def _archive_failed(self, state: ReportState, day: date, name: str, exc: Exception) -> None:
        """A 404 or an unreadable Archive zip: tried again hourly for a day, then given up."""
        now = self.clock.now()
        first = state.archive_retry.get(day, (now, now))[0]
        what = (
            "NEMweb's Archive has no " + name
            if isinstance(exc, NemwebNotFound)
            else (f"{name} cannot be read ({exc})")
        )
        if now - first >= ARCHIVE_GIVE_UP_S:
            log.warning("%s for a day: its intervals stay gaps", what)
            state.archive_days.add(day)
            state.archive_retry.pop(day, None)
            return
        log.info("%s; trying again in %s", what, format_duration(ARCHIVE_RETRY_S))
        state.archive_retry[day] = (first, now + ARCHIVE_RETRY_S)

    def _take(
        self,
        report: str,
        name: str,
        data: bytes,
        batch: Batch,
        allowed: set[int],
        caps: nemweb.ZipCaps,
    ) -> list[int]:
        """Parse a zip (within ``caps``) into the batch, only its rows of the ``allowed`` intervals (the
        file's own, or its Archive day's); the intervals taken. Rows of other intervals
        (off the 5-minute grid, another interval, too far ahead) are dropped, logged once."""
        batch.files += 1
        latest = self.latest()
        allowed = {t for t in allowed if t <= latest}
        if report == SCADA:
            scada, dropped = nemweb.keep_intervals(nemweb.read_scada_zip(data, caps), allowed)
            batch.scada.update(scada)
            taken = list(scada)
        else:
            market, dropped = nemweb.keep_intervals(nemweb.read_dispatchis_zip(data, caps), allowed)
            batch.market.update(market)
            taken = list(market)
        if dropped:
            log.warning(
                "%s: dropped the rows of %d interval%s it should not hold (%s%s)",
                name,
                len(dropped),
                "" if len(dropped) == 1 else "s",
                ", ".join(_safe_stamp(t) for t in dropped[:3]),
                " ..." if len(dropped) > 3 else "",
            )
        return taken

    # --- merge, write, log -------------------------------------------------------------------

    def flush(self, batch: Batch) -> None:
        """Merge the batch into the cache (new values win), trim, write; empty the batch."""
        assert self.lookup is not None
        scada, market = batch.scada, batch.market
        factors = nemweb.generator_factors(self.lookup, self.factors)
        facility = nemweb.unit_series(scada) + nemweb.emission_series(scada, factors)
        floor = self.floor()
        end = self.latest() + INTERVAL_S  # the window's end is excluded
        window = (livecache.to_naive(floor), livecache.to_naive(end))
        update = rollup.build_wide_table(
            self.lookup, facility, nemweb.market_series(market), window, rows="any"
        )
        self.table = merge_and_trim(self.table, update, self.floor, update_wins=True)
        self._forget_before(self.floor())
        if self.coverage_due and scada:
            coverage = nemweb.emission_coverage(self.lookup, self.factors, scada)
            log.info("%s", coverage.describe())
            self.coverage_due = False
        batch.scada, batch.market, batch.files = {}, {}, 0  # ``failed`` runs on
        self.write()

    def _forget_before(self, floor: int) -> None:
        for state in self.reports.values():
            state.held = {t: s for t, s in state.held.items() if t >= floor}
            first_day = nemweb.nem_day(floor)
            state.archive_days = {d for d in state.archive_days if d >= first_day}

    def gaps(self) -> list[int]:
        """Intervals of the kept window that some report has not brought."""
        floor = self.floor()
        newest = nemweb.expected_interval(self.clock.now(), self.delay)
        missing: set[int] = set()
        for state in self.reports.values():
            missing |= set(nemweb.missing_intervals(state.held, floor, newest))
        return sorted(missing)

    def follow_meta(self) -> dict[str, Any]:
        assert self.table is not None and self.lookup is not None
        scada_to = livecache.facility_newest(self.table)
        marks = livecache.Watermarks(
            _price_newest(self.table),
            {} if scada_to is None else dict.fromkeys(self.lookup.facility_ids, scada_to),
        )
        follow = livecache.build_follow_meta(marks, self.settings.keep_days)
        follow["nemweb"] = {
            "files": {r: self._held_names(r) for r in REPORTS},
            "archive_days": {
                r: sorted(d.isoformat() for d in self.reports[r].archive_days) for r in REPORTS
            },
            "delays": [round(d, 1) for d in self.delays],
            "delay_s": round(self.delay, 1),
            "gaps": [_stamp(t) for t in self.gaps()],
            "cdeii": self.cdeii_name,
        }
        return follow

    def _held_names(self, report: str) -> list[str]:
        """The files held, as names (a file read off the cache has none)."""
        out = []
        for t, seq in sorted(self.reports[report].held.items()):
            if seq != UNKNOWN_SEQUENCE:
                stamp = format_nem_epoch(t, "%Y%m%d%H%M")
                out.append(f"PUBLIC_{report}_{stamp}_{seq:016d}.zip")
        return out

    def write(self) -> None:
        if self.table is None:
            return
        meta = CacheMeta(
            source=SOURCE,
            api_url=self.client.display_base,
            network=self.ex.network,
            requests=dict(sorted(self.client.stats.sent.items())),
            follow=self.follow_meta(),
            extra={"nemweb_url": self.client.display_base},
            simulated=self.ex.simulated,
        )
        self.wrote_once = write_cache(
            self.settings, self.table, meta, self.facilities_bytes, self.wrote_once
        )

    def log_poll(self, report: PollReport) -> None:
        table = self.table
        log.info(
            "poll: +%d interval%s, facilities to %s, prices to %s; %d request%s (%d unchanged), "
            "%s; %d gaps left; publish delay %.0f s",
            report.added,
            "" if report.added == 1 else "s",
            _hhmm(None if table is None else livecache.facility_newest(table)),
            _hhmm(None if table is None else _price_newest(table)),
            report.requests,
            "" if report.requests == 1 else "s",
            report.not_modified,
            _size(report.bytes),
            len(self.gaps()),
            self.delay,
        )


def _nemweb_block(meta: Mapping[str, Any], sha256: str) -> Mapping[str, Any] | None:
    """The meta's ``follow.nemweb`` block when the meta describes this CSV."""
    follow = meta.get("follow")
    if meta.get("csv_sha256") != sha256 or not isinstance(follow, Mapping):
        return None
    block = follow.get("nemweb")
    return block if isinstance(block, Mapping) else None


def _price_newest(table: rollup.WideTable) -> int | None:
    cols = [i for i, c in enumerate(table.header[1:]) if c.startswith("price_")]
    if not cols or not len(table.times):
        return None
    rows = np.flatnonzero(~np.isnan(table.values[:, cols]).all(axis=1))
    return int(table.times[rows[-1]]) if len(rows) else None


def _stamp(epoch_s: int) -> str:
    return format_nem(datetime.fromtimestamp(epoch_s, NEM_TZ))


def _safe_stamp(epoch_s: int) -> str:
    try:
        return _stamp(epoch_s)
    except (OverflowError, OSError, ValueError):
        return f"epoch {epoch_s}"


def _hhmm(epoch_s: int | None) -> str:
    return "none yet" if epoch_s is None else format_nem_epoch(epoch_s, "%d %b %H:%M")


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} kB"


def run_nemweb_follow(
    extraction: Extraction,
    settings: FollowSettings,
    facilities: FacilityList,
    nemweb: NemwebClient,
    stop: threading.Event,
    *,
    wall: Callable[[], float] = time.monotonic,
    utc: Callable[[], float] = time.time,
) -> int:
    """Start and follow NEMweb until ``stop``; exit status 0. Raise NemLiveError for what
    stops it at the start (an unreadable cache or one of another source, an unwritable
    folder, a facility list that cannot be had).

    Build ``nemweb`` with ``wait=stop.wait`` so that its pacing and retry waits end at a
    stop too. ``utc`` gives the feed's time at the start (a sped-up simulator's clock, for
    one); ``settings.api_clock_speed`` how fast it runs after. ``extraction`` gives the
    network; the source written to the meta file is always ``nemweb``."""
    follower = NemwebFollower(extraction, settings, facilities, nemweb, stop, wall=wall, utc=utc)
    try:
        follower.start()
    except RetryStopped:  # a stop during a retry or pacing wait of the start
        stop.set()
    if not stop.is_set():
        follower.run()
    log.info(
        "stopped; %s holds %d rows",
        settings.out,
        0 if follower.table is None else len(follower.table.times),
    )
    return 0
