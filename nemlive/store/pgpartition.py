"""PostgreSQL's monthly partitions, on a connection: create before a write, drop for
retention, and migration 5, which partitions a store written before it.

The names, bounds and rules are ``nemlive.store.partitions`` (pure); this module runs them.
Creating or dropping a partition locks its parent table for a moment (a reader waits that
long), so both happen once a month per table, not per write.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql

from nemlive.store import partitions
from nemlive.store.partitions import Month
from nemlive.store.schema import KINDS

# Every NEM Live process creating partitions in this database takes the same lock, so two
# recorders reaching a new month together create it once.
_PARTITION_LOCK = 0x4E454D50  # "NEMP"

PARTITIONED_TABLES = tuple(f"{kind}_{what}" for kind in KINDS for what in ("readings", "rollups"))


def _primary_key(table: str) -> str:
    ident = KINDS[table.rsplit("_", 1)[0]][0]
    return f"step_s, {ident}, ts" if table.endswith("_rollups") else f"{ident}, ts"


def ensure_partitions(conn: psycopg.Connection, months: Iterable[Month]) -> int:
    """Create the missing partitions of ``months`` for every partitioned table, one month per
    transaction (each committed before the write that needs them); the number made.

    One transaction per month: a batch can reach hundreds of months (a forged stream, one
    reading a month back to 1998), and their locks in one transaction would exceed
    ``max_locks_per_transaction``: the batch would fail, be retried and fail for ever."""
    made = 0
    for month in sorted(set(months)):
        wanted = [partitions.partition_name(t, month) for t in PARTITIONED_TABLES]
        if not _missing(conn, wanted):
            continue
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK,))
            missing = set(_missing(conn, wanted))  # another process may have made them
            for table in PARTITIONED_TABLES:
                if partitions.partition_name(table, month) in missing:
                    conn.execute(partitions.create_partition_sql(table, month))  # type: ignore[arg-type]
        made += len(missing)
    return made


def _missing(conn: psycopg.Connection, names: list[str]) -> list[str]:
    rows = conn.execute(
        "SELECT n FROM unnest(%s::text[]) n WHERE to_regclass(n) IS NULL", (names,)
    ).fetchall()
    return [row[0] for row in rows]


def list_months(conn: psycopg.Connection, table: str) -> list[Month]:
    """The months of ``table``'s partitions (those named by ``partitions.partition_name``)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass",
        (table,),
    ).fetchall()
    months = (partitions.parse_partition_name(table, row[0]) for row in rows)
    return sorted(m for m in months if m is not None)


# A prune is one transaction, and each dropped partition holds locks until it commits: at most
# this many months a prune (the oldest first; the next hourly prune takes the next ones), so
# years of months (a forged stream's) never exceed PostgreSQL's lock table.
MAX_MONTHS_PER_PRUNE = 12


def drop_months_before(conn: psycopg.Connection, cutoff: int) -> tuple[int, int]:
    """Drop the partitions whose month is wholly before ``cutoff`` (epoch s), of every
    partitioned table, at most ``MAX_MONTHS_PER_PRUNE`` months of each, oldest first.
    Returns (readings in the dropped partitions, partitions dropped)."""
    readings = dropped = 0
    for table in PARTITIONED_TABLES:
        old = partitions.months_to_drop(list_months(conn, table), cutoff)
        for month in old[:MAX_MONTHS_PER_PRUNE]:
            name = partitions.partition_name(table, month)
            if table.endswith("_readings"):
                row = conn.execute(f"SELECT count(*) FROM {name}").fetchone()  # type: ignore[arg-type]
                readings += int(row[0]) if row else 0
            conn.execute(f"DROP TABLE {name}")  # type: ignore[arg-type]
            dropped += 1
    return readings, dropped


def partition_store(conn: psycopg.Connection) -> None:
    """Migration 5: each readings and rollups table becomes partitioned by month under the
    same name, columns and primary key, every row copied into its month's partition.

    Runs inside the migration's transaction: a failure leaves the store as it was."""
    for table in PARTITIONED_TABLES:
        _partition_table(conn, table)


def _partition_table(conn: psycopg.Connection, table: str) -> None:
    old = f"{table}_unpartitioned"
    conn.execute(f"ALTER TABLE {table} RENAME TO {old}")  # type: ignore[arg-type]
    conn.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {table}_pkey TO {old}_pkey")  # type: ignore[arg-type]
    conn.execute(f"DROP INDEX IF EXISTS {table}_ts")  # type: ignore[arg-type]
    conn.execute(
        f"CREATE TABLE {table} (LIKE {old}) PARTITION BY RANGE (ts)"  # type: ignore[arg-type]
    )
    conn.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({_primary_key(table)})")  # type: ignore[arg-type]
    if table.endswith("_readings"):
        conn.execute(f"CREATE INDEX {table}_ts ON {table} (ts)")  # type: ignore[arg-type]
    # Etc/GMT-10 is UTC+10 (the sign is POSIX's): NEM time, all year.
    months = conn.execute(
        "SELECT DISTINCT extract(year FROM n)::int, extract(month FROM n)::int FROM "  # type: ignore[arg-type]
        f"(SELECT ts AT TIME ZONE 'Etc/GMT-10' AS n FROM {old}) s"
    ).fetchall()
    for year, month in months:
        conn.execute(partitions.create_partition_sql(table, (year, month)))  # type: ignore[arg-type]
    conn.execute(f"INSERT INTO {table} SELECT * FROM {old}")  # type: ignore[arg-type]
    _copy_grants(conn, old, table)
    conn.execute(f"DROP TABLE {old}")  # type: ignore[arg-type]


def _copy_grants(conn: psycopg.Connection, old: str, new: str) -> None:
    """Grant on ``new`` what was granted on ``old`` (a read-only Grafana user keeps reading)."""
    grants = conn.execute(
        "SELECT grantee, privilege_type FROM information_schema.role_table_grants "
        "WHERE table_schema = current_schema() AND table_name = %s AND grantee <> current_user",
        (old,),
    ).fetchall()
    for grantee, privilege in grants:
        who = sql.SQL("PUBLIC") if grantee == "PUBLIC" else sql.Identifier(grantee)
        conn.execute(
            sql.SQL("GRANT {} ON {} TO {}").format(sql.SQL(privilege), sql.Identifier(new), who)
        )
