"""The Store interface both backends implement: upserting writes, prune, window reads.

Every method is safe to call from several threads (one lock per store). Times are integer
UTC epoch seconds of interval ends. A window ``(t0, t1)`` holds the intervals that
cover the time from t0 to t1: ``t0 < ts <= t1``, so consecutive windows never overlap and
30-minute or hourly buckets of aligned windows are whole. Errors are StoreError (StoreUnavailable when retrying
may help), with one line that names the store by its password-free URL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Sequence
from types import TracebackType

from nemlive.store.rows import Point, Pruned, Reading, Resolution, Span
from nemlive.store.url import StoreUrl

DAY_S = 86_400
NO_BOUND = 2**40  # epoch s far past any timestamp the wire schema accepts (2200)


class Store(ABC):
    """A history of facility, market and interchange readings in SQLite or PostgreSQL."""

    url: StoreUrl

    @abstractmethod
    def write(
        self,
        facility: Sequence[Reading],
        market: Sequence[Reading],
        interchange: Sequence[Reading] = (),
    ) -> None:
        """Upsert the lists in one transaction: a repeated ``(id, ts)`` replaces the row's
        values (the later message wins, None included). Returns once committed."""

    @abstractmethod
    def prune(self, keep_days: float, now: float) -> Pruned:
        """Delete readings (and their rollups) more than ``keep_days`` days older than the
        newest reading that the time guard allows at the clock ``now`` (epoch s:
        ``timeguard.latest_allowed``). Relative to the data, so a replayed old week is kept;
        blind to readings ahead of the clock, so one stamped far ahead (forged, or kept from
        before the recorder rejected such readings) cannot make it delete the real history.
        Readings ahead of the clock are not deleted. Returns what it did, in one
        transaction."""

    def checkpoint(self) -> bool:
        """Fold the write-ahead log back into the database and shrink it, where the backend
        keeps one that readers can make grow (SQLite); a no-op elsewhere. True when the log was
        emptied (or there is none to empty), False when a reader still needs it."""
        return True

    @abstractmethod
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

    @abstractmethod
    def read_markets(
        self,
        t0: int,
        t1: int,
        step_s: Resolution = 300,
        region_ids: Collection[str] | None = None,
    ) -> dict[str, list[Point]]:
        """region_id -> [(ts, price_dmwh, demand_mw), ...]; as :meth:`read_facilities`."""

    @abstractmethod
    def read_interchange(
        self,
        t0: int,
        t1: int,
        step_s: Resolution = 300,
        region_ids: Collection[str] | None = None,
    ) -> dict[str, list[Point]]:
        """region_id -> [(ts, imports_mw, exports_mw), ...]: MW into and out of the region
        over its interconnectors; as :meth:`read_facilities`."""

    @abstractmethod
    def latest_ts(self, at_most: int | None = None) -> int | None:
        """The newest interval end held (facility, market or interchange), or None when empty.

        ``at_most``: only readings at or before it count (the readers pass the time guard's
        ``latest_allowed(now)``, so a forged future row left in a store moves nothing)."""

    @abstractmethod
    def span(self, at_most: int | None = None) -> Span | None:
        """First and last interval ends held and the row counts (of readings at or before
        ``at_most``, when given), or None when there are none."""

    @abstractmethod
    def schema_version(self) -> int:
        """The highest migration applied to this store."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection; the store is unusable afterwards. Idempotent."""

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


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
