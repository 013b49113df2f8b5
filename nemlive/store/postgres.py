"""The PostgreSQL backend (psycopg 3): for many dashboards and for more than one machine.

Writes go through ``COPY`` into a temporary staging table and one ``INSERT ... ON CONFLICT
DO UPDATE`` per table: a 5,000-row batch is two round trips, not 5,000. ``ts`` is
``timestamptz``; the Python side speaks epoch seconds and the SQL converts.

A lost connection (server restarted, network down) is reopened on the next call, so a
caller that retries a StoreUnavailable gets going again by itself.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence

import psycopg
from psycopg import errors as pg_errors

from nemlive.common.errors import StoreError, StoreUnavailable
from nemlive.store import pgpartition
from nemlive.store.base import NO_BOUND, KindSpan, Store, check_window, group_points
from nemlive.store.partitions import effective_cutoff, months_of_writes
from nemlive.store.rows import (
    DAY_SOURCE_STEP,
    DAY_STEP,
    AlertRecord,
    Point,
    Reading,
    check_resolution,
    touched_buckets,
)
from nemlive.store.schema import (
    KINDS,
    PARTITIONED_FROM,
    POSTGRES_MIGRATIONS,
    SCHEMA_VERSION,
    plan_migrations,
)
from nemlive.store.url import StoreUrl

CONNECT_TIMEOUT_S = 5
# Any fixed number: every NEM Live process migrating this database takes the same lock.
_MIGRATION_LOCK = 0x4E454D4C  # "NEML"
# Every write and prune transaction takes this one lock, so recorders sharing a database
# (recorder.py --share-group) commit one at a time. A rollup bucket is recomputed from the
# readings its transaction sees: two writers adding readings to one bucket at once would each
# miss the other's, and the later commit would store an average without them. One lock also
# leaves no order of row locks in which two writers or prunes could deadlock.
_WRITE_LOCK = 0x4E454D57  # "NEMW"

_TABLES = {kind: (f"{kind}_readings", *columns) for kind, columns in KINDS.items()}
# Recompute the averages of the buckets a write touched (stage_touched): 30-minute and hourly
# from the readings, then daily from the hourly ones. LATERAL: one index range scan per
# touched bucket. A plain join lets the planner, which knows nothing of the temporary table,
# hash-join the whole readings table.
_REFRESH = {
    kind: tuple(
        f"INSERT INTO {kind}_rollups (step_s, {ident}, ts, {a}, {b}) "
        "SELECT t.step, t.ident, to_timestamp(t.bucket), agg.a, agg.b FROM stage_touched t "
        f"CROSS JOIN LATERAL (SELECT avg(r.{a}) AS a, avg(r.{b}) AS b FROM {source} r "
        f"WHERE r.{ident} = t.ident AND r.ts > to_timestamp(t.bucket - t.step) "
        f"AND r.ts <= to_timestamp(t.bucket){also}) agg WHERE t.step {steps} "
        f"ON CONFLICT (step_s, {ident}, ts) DO UPDATE SET {a} = excluded.{a}, {b} = excluded.{b}"
        for source, also, steps in (
            (f"{kind}_readings", "", f"<> {DAY_STEP}"),
            (f"{kind}_rollups", f" AND r.step_s = {DAY_SOURCE_STEP}", f"= {DAY_STEP}"),
        )
    )
    for kind, (ident, a, b) in KINDS.items()
}


def describe_postgres_error(exc: psycopg.Error, url: StoreUrl, doing: str) -> StoreError:
    """One line for a psycopg failure, without any secret; StoreUnavailable if it may pass.

    Callers raise it ``from None``, not ``from exc``: psycopg's own text can quote the
    connection string, password included (a malformed URL), and a chained exception would
    carry it into any traceback.
    """
    detail = url.scrub(" ".join(str(exc).split()))
    head = f"cannot {doing} the PostgreSQL store {url.display}"
    if isinstance(exc, pg_errors.ReadOnlySqlTransaction):
        return StoreUnavailable(
            f"{head}: it is read-only (a standby, or read-only by setting)", "read-only"
        )
    if isinstance(exc, pg_errors.DiskFull | pg_errors.InsufficientResources):
        return StoreUnavailable(f"{head}: the server is out of disk space; free some", "full")
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return StoreUnavailable(
            f"{head}: permission denied ({detail}); grant the user access", "denied"
        )
    if isinstance(exc, pg_errors.TransactionRollback | pg_errors.DeadlockDetected):
        # A deadlock or serialization failure with another writer (one that does not take
        # _WRITE_LOCK): nothing was written, and the same write succeeds when tried again.
        return StoreUnavailable(f"{head}: it conflicted with another writer ({detail})", "conflict")
    if isinstance(exc, pg_errors.CheckViolation) and "no partition" in detail:
        # Retention dropped the month meanwhile (another process): the retry recreates it.
        return StoreUnavailable(f"{head}: its month's partition is missing ({detail})", "partition")
    if isinstance(exc, pg_errors.InvalidCatalogName):
        return StoreError(f"{head}: the database does not exist; create it (createdb)")
    if isinstance(exc, psycopg.OperationalError):
        return StoreUnavailable(f"{head} ({detail}): check that PostgreSQL runs and the URL")
    return StoreError(f"{head} ({detail})")


class PostgresStore(Store[psycopg.Connection]):
    """A store in one PostgreSQL database. Open with ``open_store``."""

    _count_every_prune = False

    def __init__(self, url: StoreUrl, *, create: bool = True) -> None:
        self.url = url
        self._create = create
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._closed = False
        with self._lock:
            self._connection()

    # --- connection and schema ------------------------------------------------------------

    def _connection(self) -> psycopg.Connection:
        """The open connection, (re)connecting and checking the schema first if needed."""
        if self._closed:
            raise StoreError(f"the store {self.url.display} is closed")
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self._drop_connection()
        with self._errors("connect to"):
            conn = psycopg.connect(
                self.url.target,
                autocommit=True,  # reads hold no snapshot open; writes use transaction()
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="nemlive",
                # The rollup refresh's cost estimate grows with the partitions (its staging
                # table has no statistics): with JIT, years of months made each 5-row write
                # compile for seconds (2.1 s at 60 months, 0.005 s without).
                options="-c jit=off",
            )
        with self._errors("open"):
            try:
                self._migrate(conn)
                conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS stage_readings "
                    "(ident text, ts bigint, a double precision, b double precision) "
                    "ON COMMIT DELETE ROWS"
                )
                conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS stage_touched "
                    "(ident text, step integer, bucket bigint) ON COMMIT DELETE ROWS"
                )
            except (psycopg.Error, StoreError):
                conn.close()
                raise
        self._conn = conn
        return conn

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """psycopg errors in the block as describe_postgres_error's StoreError, raised
        ``from None`` (see there), after dropping the connection (``_after_error``)."""
        try:
            yield
        except psycopg.Error as exc:
            self._after_error()
            raise describe_postgres_error(exc, self.url, doing) from None

    @contextlib.contextmanager
    def _transaction(self, conn: psycopg.Connection) -> Iterator[None]:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
            yield

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def _current_version(self, conn: psycopg.Connection) -> int:
        row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
        if not row or not row[0]:
            return 0
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self, conn: psycopg.Connection) -> None:
        current = self._current_version(conn)
        if not plan_migrations(current, self.url.display):
            return
        if not self._create:
            raise StoreError(
                f"the store {self.url.display} is at schema version {current}, not "
                f"{SCHEMA_VERSION}: run recorder.py once to create or migrate it"
            )
        # The lock is taken before the transaction, not in it: a transaction that starts
        # after another process's migration committed sees its tables, whereas one that
        # waited for an advisory lock inside may still find them missing in its catalog
        # cache (two recorders starting at once on an empty database).
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            with conn.transaction():
                steps = plan_migrations(self._current_version(conn), self.url.display)
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version "
                    "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                for number in steps:
                    for statement in POSTGRES_MIGRATIONS[number]:
                        conn.execute(statement)  # type: ignore[arg-type]
                    if number == PARTITIONED_FROM:
                        pgpartition.partition_store(conn)
                    conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))

    def _after_error(self) -> None:
        # Start afresh after any error: a broken socket, and also a session that took
        # read-only from the server's settings at connect time and would keep it.
        self._drop_connection()

    # --- writes ---------------------------------------------------------------------------

    def _upsert(self, conn: psycopg.Connection, kind: str, readings: Sequence[Reading]) -> None:
        table, id_col, a, b = _TABLES[kind]
        with conn.cursor() as cur:
            with cur.copy("COPY stage_readings (ident, ts, a, b) FROM STDIN") as copy:
                for reading in readings:
                    copy.write_row(reading)
            cur.execute(
                f"INSERT INTO {table} ({id_col}, ts, {a}, {b}) "  # type: ignore[arg-type]
                f"SELECT ident, to_timestamp(ts), a, b FROM stage_readings "
                f"ON CONFLICT ({id_col}, ts) DO UPDATE SET {a} = excluded.{a}, {b} = excluded.{b}"
            )
            cur.execute("TRUNCATE stage_readings")
            # Recompute the 30-minute and hourly averages of the buckets this write touched.
            with cur.copy("COPY stage_touched (ident, step, bucket) FROM STDIN") as copy:
                for row in touched_buckets(readings):
                    copy.write_row(row)
            for statement in _REFRESH[kind]:
                cur.execute(statement)  # type: ignore[arg-type]
            cur.execute("TRUNCATE stage_touched")

    def _insert_alerts(self, conn: psycopg.Connection, alerts: Sequence[AlertRecord]) -> None:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO alert_events (rule, kind, subject, state, since, at, value, "
                "threshold, received_at) VALUES (%s, %s, %s, %s, to_timestamp(%s), "
                "to_timestamp(%s), %s, %s, to_timestamp(%s)) ON CONFLICT DO NOTHING",
                alerts,
            )

    def _count_readings(self, conn: psycopg.Connection) -> int:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM facility_readings) + (SELECT count(*) FROM "
            "market_readings) + (SELECT count(*) FROM interchange_readings)"
        ).fetchone()
        return int(row[0]) if row else 0

    def _before_write(self, conn: psycopg.Connection, readings: Sequence[Reading]) -> None:
        pgpartition.ensure_partitions(conn, months_of_writes(readings))

    def _delete_before(self, conn: psycopg.Connection, cutoff: int) -> tuple[int, int, int]:
        # Whole months only: a DELETE would leave dead rows for VACUUM in tables of millions.
        bound = effective_cutoff(cutoff)
        deleted, dropped = pgpartition.drop_months_before(conn, bound)
        conn.execute("DELETE FROM alert_events WHERE at < to_timestamp(%s)", (bound,))
        return deleted, bound, dropped

    # --- reads ----------------------------------------------------------------------------

    def _read(
        self, kind: str, t0: int, t1: int, step_s: int, ids: Collection[str] | None
    ) -> dict[str, list[Point]]:
        check_window(t0, t1)
        step = check_resolution(step_s)
        table, id_col, a, b = _TABLES[kind]
        where = "ts > to_timestamp(%(t0)s) AND ts <= to_timestamp(%(t1)s)"
        params: dict[str, object] = {"t0": t0, "t1": t1}
        if ids is not None:
            where += f" AND {id_col} = ANY(%(ids)s)"
            params["ids"] = sorted(ids)
        if step != 300:
            table = f"{kind}_rollups"
            where += f" AND step_s = {step}"
        # date_part (double) rather than extract (numeric, slower), and binary results:
        # together about twice as fast for a week of 30-minute points.
        sql = (
            f"SELECT {id_col}, date_part('epoch', ts)::bigint, {a}, {b} FROM {table} "
            f"WHERE {where} ORDER BY {id_col}, ts"
        )
        with self._lock, self._errors("read"):
            conn = self._connection()
            with conn.cursor(binary=True) as cur:
                cur.execute(sql, params)  # type: ignore[arg-type]
                return group_points(cur)

    def _read_alerts(self, conn: psycopg.Connection, t0: int, t1: int) -> Iterable[tuple]:
        epoch = "date_part('epoch', {})::bigint"
        return conn.execute(
            f"SELECT rule, kind, subject, state, {epoch.format('since')}, {epoch.format('at')}, "  # type: ignore[arg-type]
            f"value, threshold, {epoch.format('received_at')} FROM alert_events "
            "WHERE at > to_timestamp(%s) AND at <= to_timestamp(%s) "
            "ORDER BY at, received_at, rule, subject",
            (t0, t1),
        ).fetchall()

    def _latest(self, conn: psycopg.Connection, at_most: int | None = None) -> int | None:
        bound = {"hi": NO_BOUND if at_most is None else at_most}
        row = conn.execute(
            "SELECT extract(epoch FROM greatest("
            + ", ".join(
                f"(SELECT max(ts) FROM {kind}_readings WHERE ts <= to_timestamp(%(hi)s))"
                for kind in KINDS
            )
            + "))::bigint",
            bound,
        ).fetchone()
        return None if not row or row[0] is None else int(row[0])

    def _kind_spans(self, conn: psycopg.Connection, at_most: int) -> list[KindSpan]:
        names = [kind[0] for kind in KINDS]
        parts = ", ".join(
            f"(SELECT min(ts) lo, max(ts) hi, count(*) n FROM {kind}_readings "
            f"WHERE ts <= to_timestamp(%(hi)s)) {kind[0]}"
            for kind in KINDS
        )
        columns = ", ".join(
            f"extract(epoch FROM {k}.lo)::bigint, extract(epoch FROM {k}.hi)::bigint, {k}.n"
            for k in names
        )
        row = conn.execute(f"SELECT {columns} FROM {parts}", {"hi": at_most}).fetchone()  # type: ignore[arg-type]
        assert row is not None  # aggregates without GROUP BY give one row
        return [(row[i], row[i + 1], row[i + 2]) for i in range(0, len(row), 3)]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop_connection()
