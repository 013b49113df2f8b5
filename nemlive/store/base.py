"""The Store interface both backends implement: upserting writes, prune, window reads.

Every method is safe to call from several threads (one lock per store). Times are integer
UTC epoch seconds of interval ends. A window ``(t0, t1)`` holds the intervals that
cover the time from t0 to t1: ``t0 < ts <= t1``, so consecutive windows never overlap and
30-minute or hourly buckets of aligned windows are whole. Errors are StoreError (StoreUnavailable when retrying
may help), with one line that names the store by its password-free URL.

The public methods are written once here; a backend supplies only its dialect: the
connection, its error translation (``_errors``), its transactions and the SQL of each step.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Generic, TypeVar

from nemlive.common import timeguard
from nemlive.store.rows import AlertRecord, Point, Pruned, Reading, Resolution, Span
from nemlive.store.url import StoreUrl

DAY_S = 86_400
NO_BOUND = 2**40  # epoch s far past any timestamp the wire schema accepts (2200)

ConnT = TypeVar("ConnT")
# One kind's readings at or before a bound: (first ts, last ts, count); None, None, 0 if none.
KindSpan = tuple[int | None, int | None, int]


class Store(ABC, Generic[ConnT]):
    """A history of facility, market and interchange readings in SQLite or PostgreSQL."""

    url: StoreUrl
    _lock: threading.Lock
    _count_every_prune = True  # False where counting the readings held is slow

    def write(
        self,
        facility: Sequence[Reading],
        market: Sequence[Reading],
        interchange: Sequence[Reading] = (),
        alerts: Sequence[AlertRecord] = (),
    ) -> None:
        """Upsert the lists in one transaction: a repeated ``(id, ts)`` replaces the row's
        values (the later message wins, None included); an alert whose key
        (:attr:`AlertRecord.key`) is held already is not stored again. Returns once
        committed."""
        batches = {"facility": facility, "market": market, "interchange": interchange}
        if not any(batches.values()) and not alerts:
            return
        with self._lock, self._errors("write to"):
            conn = self._connection()
            self._before_write(conn, [r for readings in batches.values() for r in readings])
            with self._transaction(conn):
                for kind, readings in batches.items():
                    if readings:
                        self._upsert(conn, kind, readings)
                if alerts:
                    self._insert_alerts(conn, alerts)

    def prune(self, keep_days: float, now: float) -> Pruned:
        """Delete readings (and their rollups) more than ``keep_days`` days older than the
        newest reading that the time guard allows at the clock ``now`` (epoch s:
        ``timeguard.latest_allowed``). Relative to the data, so a replayed old week is kept;
        blind to readings ahead of the clock, so one stamped far ahead (forged, or kept from
        before the recorder rejected such readings) cannot make it delete the real history.
        Readings ahead of the clock are not deleted. Returns what it did, in one
        transaction.

        SQLite deletes the rows before the cutoff. PostgreSQL drops whole monthly partitions
        (``nemlive.store.partitions``): the cutoff it reports is the first midnight of the month
        holding the requested one, and the rows after it stay until their month has passed;
        it counts the readings held only when it drops some (``held`` is 0 otherwise), as
        counting a year's takes seconds every hour."""
        with self._lock, self._errors("prune"):
            conn = self._connection()
            with self._transaction(conn):
                newest = self._latest(conn)
                reference = self._latest(conn, timeguard.latest_allowed(now))
                if newest is None or reference is None:
                    return Pruned(0, self._count_readings(conn), newest=newest)
                deleted, cutoff, dropped = self._delete_before(
                    conn, reference - int(keep_days * DAY_S)
                )
                count = deleted or dropped or self._count_every_prune
                held = self._count_readings(conn) + deleted if count else 0
                return Pruned(deleted, held, cutoff, newest, reference, dropped)

    def checkpoint(self) -> bool:
        """Fold the write-ahead log back into the database and shrink it, where the backend
        keeps one that readers can make grow (SQLite); a no-op elsewhere. True when the log was
        emptied (or there is none to empty), False when a reader still needs it."""
        return True

    def read_facilities(
        self,
        t0: int,
        t1: int,
        step_s: Resolution = 300,
        facility_ids: Collection[str] | None = None,
    ) -> dict[str, list[Point]]:
        """facility_id -> [(ts, power_mw, co2_tonnes), ...] oldest first, ``t0 < ts <= t1``.

        ``step_s`` 1800 or 3600 gives each facility's averages over 30-minute or hourly
        buckets (ts = the bucket's end, and the buckets whose end is in the window; units
        unchanged: MW and t CO2-e per 5 minutes; None only where every value in the bucket
        is missing), read from the rollup tables that each write keeps up to date.
        ``facility_ids``: only these.
        """
        return self._read("facility", t0, t1, step_s, facility_ids)

    def read_markets(
        self,
        t0: int,
        t1: int,
        step_s: Resolution = 300,
        region_ids: Collection[str] | None = None,
    ) -> dict[str, list[Point]]:
        """region_id -> [(ts, price_dmwh, demand_mw), ...]; as :meth:`read_facilities`."""
        return self._read("market", t0, t1, step_s, region_ids)

    def read_interchange(
        self,
        t0: int,
        t1: int,
        step_s: Resolution = 300,
        region_ids: Collection[str] | None = None,
    ) -> dict[str, list[Point]]:
        """region_id -> [(ts, imports_mw, exports_mw), ...]: MW into and out of the region
        over its interconnectors; as :meth:`read_facilities`."""
        return self._read("interchange", t0, t1, step_s, region_ids)

    def read_alerts(self, t0: int, t1: int) -> list[AlertRecord]:
        """The alert state changes with ``t0 < at <= t1``, oldest first (by ``at``, then
        ``received_at``), for History."""
        check_window(t0, t1)
        with self._lock, self._errors("read"):
            return [AlertRecord(*row) for row in self._read_alerts(self._connection(), t0, t1)]

    def latest_ts(self, at_most: int | None = None) -> int | None:
        """The newest interval end held (facility, market or interchange), or None when empty.

        ``at_most``: only readings at or before it count (the readers pass the time guard's
        ``latest_allowed(now)``, so a forged future row left in a store moves nothing)."""
        with self._lock, self._errors("read"):
            return self._latest(self._connection(), at_most)

    def span(self, at_most: int | None = None) -> Span | None:
        """First and last interval ends held and the row counts (of readings at or before
        ``at_most``, when given), or None when there are none."""
        with self._lock, self._errors("read"):
            kinds = self._kind_spans(self._connection(), NO_BOUND if at_most is None else at_most)
        firsts = [lo for lo, _hi, _n in kinds if lo is not None]
        lasts = [hi for _lo, hi, _n in kinds if hi is not None]
        if not firsts:
            return None
        return Span(int(min(firsts)), int(max(lasts)), *(int(n) for _lo, _hi, n in kinds))

    def schema_version(self) -> int:
        """The highest migration applied to this store."""
        with self._lock, self._errors("read"):
            return self._current_version(self._connection())

    @abstractmethod
    def close(self) -> None:
        """Close the connection; the store is unusable afterwards. Idempotent."""

    def __enter__(self) -> Store[ConnT]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the dialect: each backend's connection, errors and SQL ---------------------------

    @abstractmethod
    def _connection(self) -> ConnT:
        """The open connection (called with the lock held); StoreError when closed."""

    @abstractmethod
    def _errors(self, doing: str) -> AbstractContextManager[None]:
        """The driver's errors inside the block raised as one StoreError line ("cannot
        {doing} the ... store ...")."""

    @abstractmethod
    def _transaction(self, conn: ConnT) -> AbstractContextManager[None]:
        """One write transaction: committed at the block's end, rolled back on any error."""

    @abstractmethod
    def _current_version(self, conn: ConnT) -> int:
        """The highest migration applied, 0 for a store without the schema_version table."""

    @abstractmethod
    def _upsert(self, conn: ConnT, kind: str, readings: Sequence[Reading]) -> None:
        """Upsert one kind's readings and refresh the rollup buckets they touch."""

    @abstractmethod
    def _insert_alerts(self, conn: ConnT, alerts: Sequence[AlertRecord]) -> None:
        """Insert alert events, skipping any whose key is held already."""

    @abstractmethod
    def _read_alerts(self, conn: ConnT, t0: int, t1: int) -> Iterable[tuple]:
        """Rows in AlertRecord's order, times as epoch s, ``t0 < at <= t1``, oldest first."""

    @abstractmethod
    def _latest(self, conn: ConnT, at_most: int | None = None) -> int | None:
        """The newest ts of every kind's readings at or before ``at_most``; None if none."""

    @abstractmethod
    def _count_readings(self, conn: ConnT) -> int:
        """The readings held, of every kind."""

    def _before_write(self, conn: ConnT, readings: Sequence[Reading]) -> None:
        """Make ready for a write of ``readings`` (PostgreSQL: their months' partitions)."""

    @abstractmethod
    def _delete_before(self, conn: ConnT, cutoff: int) -> tuple[int, int, int]:
        """Delete readings and rollups before ``cutoff`` (or before an earlier bound the
        backend's storage allows) and alert events before the same bound; returns (readings
        deleted, the bound, partitions dropped)."""

    @abstractmethod
    def _kind_spans(self, conn: ConnT, at_most: int) -> list[KindSpan]:
        """(first, last, count) of the readings at or before ``at_most``, one per kind in
        KINDS order."""

    @abstractmethod
    def _read(
        self, kind: str, t0: int, t1: int, step_s: int, ids: Collection[str] | None
    ) -> dict[str, list[Point]]:
        """One kind's points in the window, as :meth:`read_facilities` describes them."""


def group_points(
    rows: Iterable[tuple[str, int, float | None, float | None]],
) -> dict[str, list[Point]]:
    """Rows grouped by id, each id's in ts order -> id -> [(ts, a, b), ...]."""
    out: dict[str, list[Point]] = {}
    current: list[Point] = []
    current_id: str | None = None
    for ident, ts, a, b in rows:
        if ident != current_id:
            current = out.setdefault(ident, [])
            current_id = ident
        current.append((ts, a, b))
    return out


def check_window(t0: int, t1: int) -> None:
    if t1 < t0:
        raise ValueError(f"window end {t1} is before its start {t0}")
