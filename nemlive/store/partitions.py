"""PostgreSQL's monthly partitions of the readings and rollups: names, bounds and DDL (pure).

From schema version 5, each ``<kind>_readings`` and ``<kind>_rollups`` table of a PostgreSQL
store is partitioned by RANGE on ``ts``, one partition a NEM month (UTC+10, no daylight
saving): ``facility_readings_2026_01`` holds ``2026-01-01 00:00+10 <= ts <
2026-02-01 00:00+10``. Users keep querying the parent tables.

There is no DEFAULT partition: a row there would stop the month's partition from being
created later (PostgreSQL refuses a partition whose range the default partition holds rows
of), every partition created would scan it, and retention could only empty it row by row. So
the store creates a month's partitions before it writes into that month. The months a write
can reach are bounded: the recorder refuses intervals ahead of the clock
(``nemlive.common.timeguard``) and the wire schema those before the NEM began
(``nemlive.common.nemtime``), so a store holds at most one partition per table for each month
from December 1998 to the present, and retention drops the old ones.

Retention drops a month's partitions once the whole month is older than the cutoff, never
deleting rows one by one: rows of the month holding the cutoff stay until that month has
passed, so the effective cutoff is that month's first midnight (:func:`effective_cutoff`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from nemlive.common.nemtime import NEM_TZ
from nemlive.store.rows import ROLLUP_STEPS, Reading, bucket_end

Month = tuple[int, int]  # (year, month) in NEM time

_SUFFIX = re.compile(r"_(\d{4})_(\d{2})$")


def month_of(ts: int) -> Month:
    """The NEM month whose partition holds ``ts`` (epoch s)."""
    moment = datetime.fromtimestamp(ts, NEM_TZ)
    return moment.year, moment.month


def month_start(month: Month) -> int:
    """The first NEM midnight of ``month``, epoch s."""
    year, number = month
    return int(datetime(year, number, 1, tzinfo=NEM_TZ).timestamp())


def next_month(month: Month) -> Month:
    year, number = month
    return (year + 1, 1) if number == 12 else (year, number + 1)


def month_bounds(month: Month) -> tuple[int, int]:
    """``(lo, hi)`` epoch s: the partition of ``month`` holds ``lo <= ts < hi``."""
    return month_start(month), month_start(next_month(month))


def months_of_writes(readings: Iterable[Reading]) -> set[Month]:
    """The months a write of ``readings`` touches: theirs and their rollup buckets' (an
    interval late on a month's last day is in a bucket that ends in the next month)."""
    months: set[Month] = set()
    for _ident, ts, _a, _b in readings:
        if not isinstance(ts, int):
            continue  # not a reading: the write refuses it
        months.add(month_of(ts))
        months.update(month_of(bucket_end(ts, step)) for step in ROLLUP_STEPS)
    return months


def partition_name(table: str, month: Month) -> str:
    """``facility_readings`` and (2026, 1) -> ``facility_readings_2026_01``."""
    return f"{table}_{month[0]:04d}_{month[1]:02d}"


def parse_partition_name(table: str, name: str) -> Month | None:
    """The month of a partition of ``table`` named by :func:`partition_name`, else None."""
    if not name.startswith(table + "_"):
        return None
    match = _SUFFIX.fullmatch(name[len(table) :])
    return (int(match[1]), int(match[2])) if match else None


def _literal(epoch_s: int) -> str:
    return "'" + datetime.fromtimestamp(epoch_s, NEM_TZ).strftime("%Y-%m-%d %H:%M:%S%z") + "'"


def create_partition_sql(table: str, month: Month) -> str:
    """The DDL of ``table``'s partition for ``month`` (bounds as NEM-time literals, the same
    whatever the session's TimeZone)."""
    lo, hi = month_bounds(month)
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(table, month)} PARTITION OF {table} "
        f"FOR VALUES FROM ({_literal(lo)}) TO ({_literal(hi)})"
    )


def effective_cutoff(cutoff: int) -> int:
    """What a prune at ``cutoff`` removes before: the first midnight of the month holding it."""
    return month_start(month_of(cutoff))


def months_to_drop(months: Iterable[Month], cutoff: int) -> list[Month]:
    """The months, oldest first, whose every interval is before ``cutoff`` (epoch s)."""
    return sorted(m for m in months if month_bounds(m)[1] <= cutoff)
