"""Benchmark a year of history in the PostgreSQL store: the 7-day and 365-day chart reads.

    .venv/bin/python bench/store_year.py            # 420 facilities x 105,120 intervals
    .venv/bin/python bench/store_year.py --quick    # 42 facilities, the same year

**Data.** A fresh database on 127.0.0.1:5432 (dropped at the end), its schema made by
``open_store`` (version 5: readings and rollups partitioned by month). A year of 5-minute
readings ending at the last NEM midnight, made in SQL (``generate_series``, one month a
statement): ``--facilities`` facilities and the 5 regions' market and interchange. Then the
rollups, as the recorder keeps them: 30-minute and hourly averages of the readings, daily
averages of the hourly ones.

**Reads.** The 7-day and 365-day views as the page issues them
(``nemlive.dashboard.storeread.read_range``: open the store, read every facility, the regions'
market and interchange at ``history.choose_step``'s resolution, close), against baselines in
the same run: the same window at hourly resolution (the page's resolution for long spans
before daily rollups), and the readings averaged in SQL to the page's resolution (a store
without rollups). Medians of ``--runs`` runs (the SQL baseline of a year: at most 3). Prints
rows returned, series, rows per series against the points a chart draws per line, and ratios.

**Retention.** Last, a prune that drops the oldest month: its time and what it dropped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nemlive.common.events import REGIONS
from nemlive.common.nemtime import INTERVAL_S, format_nem_epoch
from nemlive.dashboard import history, storeread
from nemlive.store import StoreUrl, open_store, parse_store_url
from nemlive.store.partitions import month_bounds, month_of, next_month
from nemlive.store.pgpartition import ensure_partitions
from nemlive.store.schema import DAY_SOURCE_STEP, KINDS, daily_rollups_sql, pg_bucket_end

PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
DAY_S = 86_400
NEM_OFFSET_S = 10 * 3600


def _months(start: int, end: int) -> list[tuple[int, int]]:
    out, month = [], month_of(start + INTERVAL_S)
    while month_bounds(month)[0] <= end:
        out.append(month)
        month = next_month(month)
    return out


def generate(conn: psycopg.Connection, facilities: int, start: int, end: int) -> int:
    """The readings of ``start < ts <= end``, then the rollups; returns the readings made."""
    months = _months(start, end)
    ensure_partitions(conn, months)
    ids = {
        "facility": f"'F' || lpad(i::text, 4, '0') FROM generate_series(1, {facilities}) i",
        "market": "r FROM unnest(%(regions)s::text[]) r",
        "interchange": "r FROM unnest(%(regions)s::text[]) r",
    }
    made = 0
    for month in months:
        lo, hi = month_bounds(month)
        a, b = max(start + INTERVAL_S, lo), min(end, hi - 1)
        if a > b:
            continue
        for kind, (ident, col_a, col_b) in KINDS.items():
            # Values vary with the id and the time of day; their shape does not matter here.
            cur = conn.execute(
                f"INSERT INTO {kind}_readings ({ident}, ts, {col_a}, {col_b}) "  # type: ignore[arg-type]
                f"SELECT id, to_timestamp(t), 50 + length(id) * 7 + (t / 300 %% 288) * 0.5, "
                f"(t / 300 %% 97) * 0.01 FROM (SELECT {ids[kind]}) AS ids(id), "
                "generate_series(%(a)s::bigint, %(b)s::bigint, 300) t",
                {"a": a, "b": b, "regions": list(REGIONS)},
            )
            made += cur.rowcount
        print(f"  {month[0]}-{month[1]:02d}: {made:,} readings so far", flush=True)
    for kind, (ident, col_a, col_b) in KINDS.items():
        for step in (1800, DAY_SOURCE_STEP):
            conn.execute(
                f"INSERT INTO {kind}_rollups SELECT {step}, {ident}, "  # type: ignore[arg-type]
                f"{pg_bucket_end('ts', step)} AS bucket, avg({col_a}), avg({col_b}) "
                f"FROM {kind}_readings GROUP BY {ident}, bucket"
            )
        conn.execute(daily_rollups_sql(kind, pg_bucket_end("ts", 86_400)))  # type: ignore[arg-type]
    conn.execute("VACUUM ANALYZE")
    return made


def timed(fn: Callable[[], int], runs: int) -> tuple[float, int]:
    """Median seconds of ``runs`` calls of ``fn``, and what the last returned."""
    times, result = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def page_read(url: StoreUrl, t0: int, t1: int, step: int, ids: frozenset[str]) -> Callable[[], int]:
    def read() -> int:
        got = storeread.read_range(url, t0, t1, step, ids)
        assert got is not None, "the store could not be read"
        return sum(len(p) for h in (got.facility, got.region, got.interchange) for p in h.values())

    return read


def sql_average(conn: psycopg.Connection, t0: int, t1: int, step: int) -> Callable[[], int]:
    """The same window averaged from the 5-minute readings in SQL: a store without rollups."""

    def read() -> int:
        rows = 0
        for kind, (ident, col_a, col_b) in KINDS.items():
            cur = conn.execute(
                f"SELECT {ident}, {pg_bucket_end('ts', step)} AS bucket, avg({col_a}), "  # type: ignore[arg-type]
                f"avg({col_b}) FROM {kind}_readings WHERE ts > to_timestamp(%s) "
                f"AND ts <= to_timestamp(%s) GROUP BY {ident}, bucket ORDER BY {ident}, bucket",
                (t0, t1),
            )
            rows += len(cur.fetchall())
        return rows

    return read


def measure_view(
    name: str,
    url: StoreUrl,
    conn: psycopg.Connection,
    t0: int,
    t1: int,
    runs: int,
    ids: frozenset[str],
) -> None:
    step = history.choose_step(t0, t1)
    series = len(ids) + 2 * len(REGIONS)
    drawn = (t1 - t0) // step  # points a chart draws per line: one per bucket of the range
    page_s, rows = timed(page_read(url, t0, t1, step, ids), runs)
    hourly_s, hourly_rows = timed(page_read(url, t0, t1, 3600, ids), runs)
    raw_runs = min(runs, 3) if t1 - t0 > 31 * DAY_S else runs
    raw_s, raw_rows = timed(sql_average(conn, t0, t1, step), raw_runs)
    print(
        f"{name}: {history.STEP_WORDS[step]}, {rows:,} rows for {series} series "
        f"({rows / series:,.0f} per series; a chart draws {drawn:,} points per line: "
        f"{rows / series / drawn:.2f} rows per point drawn)"
    )
    print(f"  the page's read (rollups):       median {page_s * 1000:8.1f} ms")
    print(
        f"  hourly rollups:                  median {hourly_s * 1000:8.1f} ms "
        f"({hourly_rows:,} rows, {hourly_rows / max(rows, 1):.1f}x the rows; "
        f"{hourly_s / page_s:.1f}x the page's time)"
    )
    print(
        f"  readings averaged in SQL:        median {raw_s * 1000:8.1f} ms "
        f"({raw_rows:,} rows; {raw_s / page_s:.1f}x the page's time)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="42 facilities instead of 420")
    p.add_argument("--facilities", type=int, default=420)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--runs", type=int, default=5, help="reads per measurement (median)")
    args = p.parse_args(argv)
    facilities = 42 if args.quick else args.facilities
    dbname = f"nemlive_bench_year_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {dbname}")  # type: ignore[arg-type]
    try:
        url = parse_store_url(f"postgresql://root@127.0.0.1:5432/{dbname}")
        open_store(url).close()  # the schema, as the recorder makes it
        end = (int(time.time()) + NEM_OFFSET_S) // DAY_S * DAY_S - NEM_OFFSET_S  # NEM midnight
        start = end - args.days * DAY_S
        with psycopg.connect(url.target, autocommit=True) as conn:
            print(
                f"generating {facilities} facilities x {args.days * 288:,} intervals "
                f"({format_nem_epoch(start)} to {format_nem_epoch(end)} NEM) ...",
                flush=True,
            )
            t0 = time.perf_counter()
            made = generate(conn, facilities, start, end)
            print(f"{made:,} readings and their rollups in {time.perf_counter() - t0:.0f} s")
            ids = frozenset(f"F{i:04d}" for i in range(1, facilities + 1))
            measure_view("7 days", url, conn, end - 7 * DAY_S, end, args.runs, ids)
            measure_view(f"{args.days} days", url, conn, start, end, args.runs, ids)
        with open_store(url) as store:
            t0 = time.perf_counter()
            pruned = store.prune(args.days - 31, end)
            print(
                f"retention: a prune dropped {pruned.partitions} partitions "
                f"({pruned.deleted:,} readings, before {format_nem_epoch(pruned.cutoff or 0)} NEM) "
                f"in {time.perf_counter() - t0:.1f} s"
            )
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
