"""The SQLite backend: one file, WAL, so dashboards read while the recorder writes.

``synchronous=FULL``: a commit is on disk before the recorder acknowledges its messages to
the broker, which forgets them once acknowledged. With one commit per batch (at most one a
second at the recorder's pace) that costs one fsync a second.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path

from nemlive.common.errors import StoreError, StoreUnavailable
from nemlive.store.base import NO_BOUND, KindSpan, Store, check_window, group_points
from nemlive.store.rows import (
    DAY_SOURCE_STEP,
    DAY_STEP,
    AlertRecord,
    Point,
    Reading,
    check_resolution,
    touched_buckets,
)
from nemlive.store.schema import KINDS, SCHEMA_VERSION, SQLITE_MIGRATIONS, plan_migrations
from nemlive.store.url import StoreUrl

BUSY_TIMEOUT_S = 5.0
CHECKPOINT_WAIT_MS = 200  # how long a checkpoint waits for a reader to finish

# Upsert one kind's readings: a repeated (id, ts) takes the later values.
_UPSERT = {
    kind: (
        f"INSERT INTO {kind}_readings ({ident}, ts, {a}, {b}) VALUES (?, ?, ?, ?) "
        f"ON CONFLICT ({ident}, ts) DO UPDATE SET {a} = excluded.{a}, {b} = excluded.{b}"
    )
    for kind, (ident, a, b) in KINDS.items()
}
# Recompute the averages of the buckets a write touched (temp.touched): 30-minute and hourly
# from the readings, then daily from the hourly ones.
_REFRESH = {
    kind: tuple(
        f"INSERT INTO {kind}_rollups (step_s, {ident}, ts, {a}, {b}) "
        f"SELECT t.step, t.ident, t.bucket, avg(r.{a}), avg(r.{b}) "
        f"FROM temp.touched t JOIN {source} r "
        f"ON r.{ident} = t.ident AND r.ts > t.bucket - t.step AND r.ts <= t.bucket{also} "
        f"WHERE t.step {steps} GROUP BY t.step, t.ident, t.bucket "
        f"ON CONFLICT (step_s, {ident}, ts) DO UPDATE SET {a} = excluded.{a}, {b} = excluded.{b}"
        for source, also, steps in (
            (f"{kind}_readings", "", f"<> {DAY_STEP}"),
            (f"{kind}_rollups", f" AND r.step_s = {DAY_SOURCE_STEP}", f"= {DAY_STEP}"),
        )
    )
    for kind, (ident, a, b) in KINDS.items()
}
_INSERT_ALERT = (
    "INSERT INTO alert_events (rule, kind, subject, state, since, at, value, threshold, "
    "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_ALL_TABLES = tuple(f"{kind}_{what}" for kind in KINDS for what in ("readings", "rollups"))


def describe_sqlite_error(exc: sqlite3.Error, display: str, doing: str) -> StoreError:
    """One line for a SQLite failure; StoreUnavailable for those that may pass."""
    text = str(exc)
    lowered = text.lower()
    head = f"cannot {doing} the SQLite store {display}"
    if "readonly" in lowered or "read-only" in lowered:
        return StoreUnavailable(
            f"{head}: it is read-only; make the file and its folder writable", "read-only"
        )
    if "full" in lowered:
        return StoreUnavailable(
            f"{head}: the disk is full; free space or lower --keep-days", "full"
        )
    if "locked" in lowered or "busy" in lowered:
        return StoreUnavailable(f"{head}: the database is locked by another program", "locked")
    if "unable to open" in lowered:
        return StoreUnavailable(f"{head} ({text}): check that its folder exists and is writable")
    if "disk i/o" in lowered:
        return StoreUnavailable(f"{head} (disk I/O error): check the disk")
    if "not a database" in lowered or "malformed" in lowered:
        return StoreError(f"{head}: the file is not a NEM Live store ({text}); use another file")
    return StoreError(f"{head} ({text})")


class SqliteStore(Store[sqlite3.Connection]):
    """A store in one SQLite file (see the module docstring). Open with ``open_store``."""

    def __init__(self, url: StoreUrl, *, create: bool = True) -> None:
        self.url = url
        self._lock = threading.Lock()
        path = url.target
        with self._errors("open"):
            if not create and path != ":memory:" and not Path(path).is_file():
                raise StoreError(
                    f"no store at {url.display}: start recorder.py to create it, "
                    "or point NEMLIVE_STORE at an existing one"
                )
            conn = sqlite3.connect(
                path,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,  # autocommit; transactions are explicit
                check_same_thread=False,  # the lock serialises threads
            )
        self._conn: sqlite3.Connection | None = conn
        with self._errors("open"):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA temp_store=MEMORY")
                conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS touched "
                    "(ident TEXT, step INTEGER, bucket INTEGER)"
                )
                self._migrate(create)
            except (sqlite3.Error, StoreError):
                conn.close()
                raise

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """sqlite3 errors in the block as describe_sqlite_error's StoreError, chained."""
        try:
            yield
        except sqlite3.Error as exc:
            raise describe_sqlite_error(exc, self.url.display, doing) from exc

    @contextlib.contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE takes the write lock at BEGIN: a second writer waits there (busy
        # timeout) rather than failing at its first write.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # --- schema ---------------------------------------------------------------------------

    def _current_version(self, conn: sqlite3.Connection) -> int:
        has_table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if not has_table:
            return 0
        (version,) = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        return int(version)

    def _migrate(self, create: bool) -> None:
        conn = self._connection()
        steps = plan_migrations(self._current_version(conn), self.url.display)
        if not steps:
            return
        if not create:
            raise StoreError(
                f"the store {self.url.display} is at schema version "
                f"{self._current_version(conn)}, not {SCHEMA_VERSION}: run recorder.py once to "
                "migrate it"
            )
        # One writer migrates; another waits, then sees it done.
        with self._transaction(conn):
            steps = plan_migrations(self._current_version(conn), self.url.display)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            for number in steps:
                for statement in SQLITE_MIGRATIONS[number]:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, applied_at) "
                    "VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                    (number,),
                )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the store {self.url.display} is closed")
        return self._conn

    # --- writes ---------------------------------------------------------------------------

    def _upsert(self, conn: sqlite3.Connection, kind: str, readings: Sequence[Reading]) -> None:
        conn.executemany(_UPSERT[kind], readings)
        conn.executemany("INSERT INTO temp.touched VALUES (?, ?, ?)", touched_buckets(readings))
        for statement in _REFRESH[kind]:
            conn.execute(statement)
        conn.execute("DELETE FROM temp.touched")

    def _insert_alerts(self, conn: sqlite3.Connection, alerts: Sequence[AlertRecord]) -> None:
        conn.executemany(_INSERT_ALERT, alerts)

    def _count_readings(self, conn: sqlite3.Connection) -> int:
        return sum(
            conn.execute(f"SELECT count(*) FROM {kind}_readings").fetchone()[0] for kind in KINDS
        )

    def _delete_before(self, conn: sqlite3.Connection, cutoff: int) -> tuple[int, int, int]:
        deleted = 0
        for table in _ALL_TABLES:
            cur = conn.execute(f"DELETE FROM {table} WHERE ts < ?", (cutoff,))
            if table.endswith("_readings"):  # rollups are not readings
                deleted += cur.rowcount
        conn.execute("DELETE FROM alert_events WHERE at < ?", (cutoff,))
        return deleted, cutoff, 0

    def checkpoint(self) -> bool:
        """``PASSIVE`` first (copies what no reader needs, never waits), then ``TRUNCATE``,
        which empties the -wal file if no reader is still reading from it, waiting at most
        ``CHECKPOINT_WAIT_MS`` for one that is. Without this, readers that keep arriving can
        keep SQLite from ever starting the log afresh, and the -wal file grows without end."""
        with self._lock:
            conn = self._connection()
            with self._errors("checkpoint"):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                conn.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
                try:
                    (busy, _frames, _done) = conn.execute(
                        "PRAGMA wal_checkpoint(TRUNCATE)"
                    ).fetchone()
                finally:
                    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            return not busy

    # --- reads ----------------------------------------------------------------------------

    def _read(
        self, kind: str, t0: int, t1: int, step_s: int, ids: Collection[str] | None
    ) -> dict[str, list[Point]]:
        check_window(t0, t1)
        step = check_resolution(step_s)
        id_col, a, b = KINDS[kind]
        readings = f"{kind}_readings"
        params: list[object] = []
        if ids is not None:
            ids_sql = "SELECT value AS id FROM json_each(?)"
            params.append(json.dumps(sorted(set(ids))))
        else:
            # The distinct ids by skip-scan: one primary-key seek per id, not a table scan.
            ids_sql = (
                f"WITH RECURSIVE ids(id) AS (SELECT min({id_col}) FROM {readings} UNION ALL "
                f"SELECT (SELECT min({id_col}) FROM {readings} WHERE {id_col} > ids.id) "
                "FROM ids WHERE ids.id IS NOT NULL) SELECT id FROM ids WHERE id IS NOT NULL"
            )
        # Then one range of the primary key per id, in the table's own order, pages read in
        # sequence (the ts index would fetch each row's values by a seek). SQLite keeps a
        # CROSS JOIN's left table as the outer loop, so rows come by id, then ts, unsorted.
        table, step_where = (
            (readings, "") if step == 300 else (f"{kind}_rollups", f"r.step_s = {step} AND ")
        )
        sql = (
            f"WITH wanted AS ({ids_sql}) SELECT r.{id_col}, r.ts, r.{a}, r.{b} "
            f"FROM wanted CROSS JOIN {table} r "
            f"ON {step_where}r.{id_col} = wanted.id AND r.ts > ? AND r.ts <= ?"
        )
        params += [t0, t1]
        with self._lock, self._errors("read"):
            return group_points(self._connection().execute(sql, params))

    def _read_alerts(self, conn: sqlite3.Connection, t0: int, t1: int) -> Iterable[tuple]:
        return conn.execute(
            "SELECT rule, kind, subject, state, since, at, value, threshold, received_at "
            "FROM alert_events WHERE at > ? AND at <= ? ORDER BY at, received_at, rule, subject",
            (t0, t1),
        ).fetchall()

    def _latest(self, conn: sqlite3.Connection, at_most: int | None = None) -> int | None:
        hi = NO_BOUND if at_most is None else at_most
        (newest,) = conn.execute(
            "SELECT max(m) FROM ("
            + " UNION ALL ".join(
                f"SELECT max(ts) AS m FROM {kind}_readings WHERE ts <= :hi" for kind in KINDS
            )
            + ")",
            {"hi": hi},
        ).fetchone()
        return None if newest is None else int(newest)

    def _kind_spans(self, conn: sqlite3.Connection, at_most: int) -> list[KindSpan]:
        return [
            conn.execute(
                f"SELECT min(ts), max(ts), count(*) FROM {kind}_readings WHERE ts <= ?",
                (at_most,),
            ).fetchone()
            for kind in KINDS
        ]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
