"""nemlive.store against real backends: SQLite in tmp_path, PostgreSQL on 127.0.0.1:5432."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from nemlive.common.errors import ConfigError, StoreError, StoreUnavailable
from nemlive.store import (
    SCHEMA_VERSION,
    AlertRecord,
    Pruned,
    Store,
    bucket_end,
    dedupe_readings,
    open_store,
    parse_store_url,
)
from nemlive.store.schema import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from tests.conftest import POSTGRES_ADMIN_URL, Postgres, free_port

T0 = 1_759_240_800  # 2025-10-01T00:00+10:00, an hour boundary
DAY = 86_400


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/history.db"
    return request.getfixturevalue("postgres").url()


@pytest.fixture
def store(store_url: str) -> Store:
    with open_store(store_url) as opened:
        yield opened


def _execute(url: str, sql: str) -> list[tuple]:
    """SQL straight to the backend, beside the store (what psql or Grafana would see)."""
    parsed = parse_store_url(url)
    if parsed.backend == "sqlite":
        with sqlite3.connect(parsed.target) as conn:
            return conn.execute(sql).fetchall()
    with psycopg.connect(parsed.target, autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


# --- URLs (pure) --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "backend", "target", "display"),
    [
        ("sqlite:///nemlive.db", "sqlite", "nemlive.db", "sqlite:///nemlive.db"),
        ("sqlite:////var/lib/x.db", "sqlite", "/var/lib/x.db", "sqlite:////var/lib/x.db"),
        (
            "postgresql://nem@db.example:5433/nem",
            "postgresql",
            "postgresql://nem@db.example:5433/nem",
            "postgresql://nem@db.example:5433/nem",
        ),
        (
            "postgres://nem:s3cr%40t@db/nem",
            "postgresql",
            "postgresql://nem:s3cr%40t@db/nem",
            "postgresql://nem:***@db/nem",
        ),
    ],
    ids=["sqlite-relative", "sqlite-absolute", "postgres-no-password", "postgres-password"],
)
def test_parse_store_url(text: str, backend: str, target: str, display: str) -> None:
    url = parse_store_url(text)
    assert (url.backend, url.target, url.display, str(url)) == (backend, target, display, display)
    assert "s3cr" not in repr(url)


@pytest.mark.parametrize(
    "text",
    [
        "nemlive.db",
        "mysql://x@h/db",
        "sqlite://nemlive.db",
        "postgresql://u:pw@h/",
        "postgresql:///db",
    ],
    ids=["no-scheme", "other-scheme", "two-slashes", "no-database", "no-host"],
)
def test_a_bad_store_url_is_one_config_line(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_store_url(text, "NEMLIVE_STORE")
    message = str(info.value)
    assert message.startswith("NEMLIVE_STORE ") and "sqlite:///nemlive.db" in message
    assert "\n" not in message and "pw" not in message


def test_bucket_end_is_interval_ending() -> None:
    assert [bucket_end(T0 + k * 300, 1800) - T0 for k in (1, 5, 6, 7)] == [1800, 1800, 1800, 3600]
    # A day's bucket is a NEM day: T0 is a NEM midnight, 14:00 UTC.
    assert [bucket_end(T0 + k * 300, 86400) - T0 for k in (1, 288, 289)] == [DAY, DAY, 2 * DAY]
    assert bucket_end(T0 - 10 * 3600 + 300, 86400) == T0  # 14:05 NEM the day before


def test_dedupe_keeps_the_last_reading_of_a_key() -> None:
    rows = [("A", 300, 1.0, 1.0), ("B", 300, 2.0, 2.0), ("A", 300, 3.0, None)]
    assert dedupe_readings(rows) == [("A", 300, 3.0, None), ("B", 300, 2.0, 2.0)]


# --- schema ----------------------------------------------------------------------------------


def test_schema_is_the_contract(store: Store, store_url: str) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    assert _execute(store_url, "SELECT version FROM schema_version ORDER BY 1") == [
        (1,),
        (2,),
        (3,),
        (4,),
        (5,),
    ]
    if store.url.backend == "sqlite":
        cols = {
            table: [(r[1], r[2], r[5]) for r in _execute(store_url, f"PRAGMA table_info({table})")]
            for table in ("facility_readings", "market_readings", "interchange_readings")
        }
        assert cols["facility_readings"] == [
            ("facility_id", "TEXT", 1),
            ("ts", "INTEGER", 2),
            ("power_mw", "REAL", 0),
            ("co2_tonnes", "REAL", 0),
        ]
        assert cols["market_readings"] == [
            ("region_id", "TEXT", 1),
            ("ts", "INTEGER", 2),
            ("price_dmwh", "REAL", 0),
            ("demand_mw", "REAL", 0),
        ]
        assert cols["interchange_readings"] == [
            ("region_id", "TEXT", 1),
            ("ts", "INTEGER", 2),
            ("imports_mw", "REAL", 0),
            ("exports_mw", "REAL", 0),
        ]
        plan = _execute(
            store_url,
            "EXPLAIN QUERY PLAN SELECT * FROM facility_readings WHERE ts >= 0 AND ts < 600",
        )
        assert "facility_readings_ts" in str(plan)
        assert _execute(store_url, "PRAGMA journal_mode") == [("wal",)]
    else:
        cols = _execute(
            store_url,
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_name IN ('facility_readings', 'market_readings', 'interchange_readings') "
            "ORDER BY table_name, ordinal_position",
        )
        assert cols == [
            ("facility_readings", "facility_id", "text"),
            ("facility_readings", "ts", "timestamp with time zone"),
            ("facility_readings", "power_mw", "double precision"),
            ("facility_readings", "co2_tonnes", "double precision"),
            ("interchange_readings", "region_id", "text"),
            ("interchange_readings", "ts", "timestamp with time zone"),
            ("interchange_readings", "imports_mw", "double precision"),
            ("interchange_readings", "exports_mw", "double precision"),
            ("market_readings", "region_id", "text"),
            ("market_readings", "ts", "timestamp with time zone"),
            ("market_readings", "price_dmwh", "double precision"),
            ("market_readings", "demand_mw", "double precision"),
        ]
        indexes = _execute(
            store_url,
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'facility_readings' ORDER BY 1",
        )
        assert any("(ts)" in row[0] for row in indexes)
        assert any("(facility_id, ts)" in row[0] for row in indexes)


def test_opening_twice_migrates_once(store_url: str) -> None:
    open_store(store_url).close()
    with open_store(store_url) as again:
        assert again.schema_version() == SCHEMA_VERSION
    assert _execute(store_url, "SELECT count(*) FROM schema_version") == [(SCHEMA_VERSION,)]


def test_a_version_1_store_is_migrated_and_its_rollups_filled(store_url: str) -> None:
    backend = parse_store_url(store_url).backend
    v1 = (SQLITE_MIGRATIONS if backend == "sqlite" else POSTGRES_MIGRATIONS)[1]
    stamp = (lambda ts: str(ts)) if backend == "sqlite" else (lambda ts: f"to_timestamp({ts})")
    _execute(
        store_url, "CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at text)"
    )
    _execute(store_url, "INSERT INTO schema_version VALUES (1, 'then')")
    for statement in v1:
        _execute(store_url, statement)
    for k in range(1, 7):
        _execute(
            store_url,
            f"INSERT INTO facility_readings VALUES ('A', {stamp(T0 + 300 * k)}, {k}.0, NULL)",
        )
    with open_store(store_url) as store:
        assert store.schema_version() == SCHEMA_VERSION == 5
        assert store.read_facilities(T0, T0 + 1800, 1800) == {"A": [(T0 + 1800, 3.5, None)]}
        assert store.read_facilities(T0, T0 + 3600, 3600) == {"A": [(T0 + 3600, 3.5, None)]}
        # Version 5 fills the daily averages from the hourly ones.
        assert store.read_facilities(T0, T0 + DAY, 86400) == {"A": [(T0 + DAY, 3.5, None)]}


def _make_version_2_store(store_url: str) -> None:
    """A store as NEM Live wrote it before interchange was recorded: migrations 1 and 2,
    with a facility and a market reading in it."""
    backend = parse_store_url(store_url).backend
    migrations = SQLITE_MIGRATIONS if backend == "sqlite" else POSTGRES_MIGRATIONS
    stamp = str(T0 + 300) if backend == "sqlite" else f"to_timestamp({T0 + 300})"
    _execute(
        store_url, "CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at text)"
    )
    for number in (1, 2):
        for statement in migrations[number]:
            _execute(store_url, statement)
        _execute(store_url, f"INSERT INTO schema_version VALUES ({number}, 'then')")
    _execute(store_url, f"INSERT INTO facility_readings VALUES ('A', {stamp}, 1.0, 2.0)")
    _execute(store_url, f"INSERT INTO market_readings VALUES ('SA1', {stamp}, 90.0, 1500.0)")


def test_a_version_2_store_gains_the_interchange_tables_and_keeps_its_readings(
    store_url: str,
) -> None:
    _make_version_2_store(store_url)
    with pytest.raises(StoreError, match=r"schema version 2, not 5: run recorder\.py"):
        open_store(store_url, create=False)  # a dashboard never migrates
    with open_store(store_url) as store:  # the recorder does
        assert store.schema_version() == 5
        assert store.read_facilities(T0, T0 + 300) == {"A": [(T0 + 300, 1.0, 2.0)]}
        assert store.read_markets(T0, T0 + 300) == {"SA1": [(T0 + 300, 90.0, 1500.0)]}
        assert store.read_interchange(T0, T0 + 300) == {}
        store.write([], [], [("SA1", T0 + 300, 420.5, 0.0)])
        assert store.read_interchange(T0, T0 + 1800, 1800) == {"SA1": [(T0 + 1800, 420.5, 0.0)]}
    assert _execute(store_url, "SELECT version FROM schema_version ORDER BY 1") == [
        (1,),
        (2,),
        (3,),
        (4,),
        (5,),
    ]
    with open_store(store_url, create=False) as reader:
        assert reader.read_interchange(T0, T0 + 300) == {"SA1": [(T0 + 300, 420.5, 0.0)]}


# --- alert events (schema version 4) -------------------------------------------------------------


def _alert_row(state: str = "firing", at: int = T0 + 300, **kw: object) -> AlertRecord:
    row = AlertRecord("sa-spike", "price_above", "SA1", state, T0 + 300, at, 15000.0, 300.0, T0)
    return row._replace(**kw)


def test_alert_events_are_the_contract(store: Store, store_url: str) -> None:
    if store.url.backend == "sqlite":
        cols = [
            (r[1], r[2], r[3], r[5]) for r in _execute(store_url, "PRAGMA table_info(alert_events)")
        ]
        assert cols == [
            ("rule", "TEXT", 1, 1),
            ("kind", "TEXT", 1, 0),
            ("subject", "TEXT", 1, 2),
            ("state", "TEXT", 1, 3),
            ("since", "INTEGER", 1, 4),
            ("at", "INTEGER", 1, 5),
            ("value", "REAL", 0, 0),
            ("threshold", "REAL", 1, 0),
            ("received_at", "INTEGER", 1, 0),
        ]
    else:
        cols = _execute(
            store_url,
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'alert_events' ORDER BY ordinal_position",
        )
        stamp = "timestamp with time zone"
        assert cols == [
            ("rule", "text", "NO"),
            ("kind", "text", "NO"),
            ("subject", "text", "NO"),
            ("state", "text", "NO"),
            ("since", stamp, "NO"),
            ("at", stamp, "NO"),
            ("value", "double precision", "YES"),
            ("threshold", "double precision", "NO"),
            ("received_at", stamp, "NO"),
        ]


def test_alert_events_are_stored_once_per_key_beside_readings(store: Store) -> None:
    firing, resolved = _alert_row(), _alert_row("resolved", T0 + 900, value=None)
    store.write([("A", T0 + 300, 1.0, None)], [], [], [firing])
    store.write([], [], [], [firing._replace(received_at=T0 + 5), resolved])  # a repeat
    assert store.read_alerts(T0, T0 + 900) == [firing, resolved]
    assert store.read_alerts(T0 + 300, T0 + 900) == [resolved]  # t0 < at <= t1
    assert store.read_alerts(T0, T0 + 600) == [firing]
    assert store.read_facilities(T0, T0 + 300) == {"A": [(T0 + 300, 1.0, None)]}
    with pytest.raises(ValueError, match="before its start"):
        store.read_alerts(T0 + 1, T0)


def test_a_failed_write_stores_no_alert(store: Store) -> None:
    with pytest.raises(StoreError):
        store.write([("A", None, 1.0, None)], [], [], [_alert_row()])  # type: ignore[list-item]
    assert store.read_alerts(T0, T0 + 900) == []


def test_a_version_3_store_gains_alert_events(store_url: str) -> None:
    _make_version_2_store(store_url)
    backend = parse_store_url(store_url).backend
    for statement in (SQLITE_MIGRATIONS if backend == "sqlite" else POSTGRES_MIGRATIONS)[3]:
        _execute(store_url, statement)
    _execute(store_url, "INSERT INTO schema_version VALUES (3, 'then')")
    with open_store(store_url) as store:
        assert store.schema_version() == 5
        assert store.read_markets(T0, T0 + 300) == {"SA1": [(T0 + 300, 90.0, 1500.0)]}
        store.write([], [], [], [_alert_row()])
        assert store.read_alerts(T0, T0 + 300) == [_alert_row()]


def test_a_prune_deletes_the_alerts_before_its_cutoff(store: Store) -> None:
    # Months apart: PostgreSQL prunes whole months (tests/test_pgpartition.py).
    old = _alert_row()
    new = _alert_row("resolved", T0 + 70 * DAY, since=T0 + 300)
    store.write([("A", T0 + 70 * DAY, 1.0, None)], [], [], [old, new])
    store.prune(1, T0 + 70 * DAY)
    assert store.read_alerts(T0, T0 + 71 * DAY) == [new]


def test_a_newer_schema_is_refused_with_the_fix(store_url: str) -> None:
    open_store(store_url).close()
    _execute(
        store_url, "INSERT INTO schema_version (version, applied_at) VALUES (99, '2030-01-01')"
    )
    for create in (True, False):
        with pytest.raises(StoreError) as info:
            open_store(store_url, create=create)
        message = str(info.value)
        assert "schema version 99" in message and "upgrade NEM Live" in message
        assert "\n" not in message


def test_a_reader_never_creates_a_store(store_url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"recorder\.py"):
        open_store(store_url, create=False)
    if store_url.startswith("sqlite"):
        assert not (tmp_path / "history.db").exists()


# --- writes --------------------------------------------------------------------------------


def test_upsert_replaces_a_repeated_key(store: Store, store_url: str) -> None:
    store.write([("BAYSW", T0, 100.0, None), ("ER01", T0, 5.0, 0.1)], [("NSW1", T0, 50.0, 7000.0)])
    assert store.read_facilities(T0 - 1800, T0, 1800)["BAYSW"] == [(T0, 100.0, None)]
    store.write([("BAYSW", T0, 120.5, 90.25)], [("NSW1", T0, None, 7100.0)])
    assert store.read_facilities(T0 - 1800, T0, 1800)["BAYSW"] == [(T0, 120.5, 90.25)]
    assert store.read_markets(T0 - 3600, T0, 3600) == {"NSW1": [(T0, None, 7100.0)]}
    assert store.read_facilities(T0 - 300, T0) == {
        "BAYSW": [(T0, 120.5, 90.25)],
        "ER01": [(T0, 5.0, 0.1)],
    }
    assert store.read_markets(T0 - 300, T0) == {"NSW1": [(T0, None, 7100.0)]}
    assert _execute(store_url, "SELECT count(*) FROM facility_readings") == [(2,)]


def test_interchange_upserts_like_the_market(store: Store, store_url: str) -> None:
    store.write([], [], [("SA1", T0, 420.5, 0.0), ("VIC1", T0, None, 300.0)])
    store.write([], [], [("SA1", T0, None, 12.5), ("SA1", T0 + 300, 100.0, 50.0)])
    assert store.read_interchange(T0 - 300, T0 + 300) == {
        "SA1": [(T0, None, 12.5), (T0 + 300, 100.0, 50.0)],
        "VIC1": [(T0, None, 300.0)],
    }
    assert store.read_interchange(T0 - 1800, T0 + 1800, 1800) == {
        "SA1": [(T0, None, 12.5), (T0 + 1800, 100.0, 50.0)],
        "VIC1": [(T0, None, 300.0)],
    }
    assert store.read_interchange(T0 - 300, T0 + 300, region_ids=["VIC1"]) == {
        "VIC1": [(T0, None, 300.0)]
    }
    assert store.read_markets(T0 - 300, T0 + 300) == {}  # a table of its own
    assert _execute(store_url, "SELECT count(*) FROM interchange_readings") == [(3,)]
    span = store.span()
    assert span is not None and span.interchange_readings == 3
    assert (span.first, span.last, span.facility_readings, span.market_readings) == (
        T0,
        T0 + 300,
        0,
        0,
    )
    assert store.latest_ts() == T0 + 300


def test_latest_and_span_at_most_a_bound_ignore_what_lies_after_it(store: Store) -> None:
    far = T0 + 174 * 365 * 86_400  # a forged reading about 2199
    store.write([("A", T0, 1.0, 1.0), ("A", far, 1.0, 1.0)], [("SA1", T0 + 300, 1.0, 1.0)])
    store.write([], [], [("SA1", far, 1.0, 1.0)])
    assert store.latest_ts() == far
    assert store.latest_ts(at_most=T0 + 3600) == T0 + 300
    assert store.latest_ts(at_most=T0 - 300) is None
    span = store.span(at_most=T0 + 3600)
    assert span is not None
    assert (span.first, span.last) == (T0, T0 + 300)
    assert (span.facility_readings, span.market_readings, span.interchange_readings) == (1, 1, 0)
    assert store.span(at_most=T0 - 300) is None
    full = store.span()
    assert full is not None and (full.last, full.facility_readings) == (far, 2)


def test_a_batch_of_5000_is_one_transaction_and_ts_is_the_contract_type(
    store: Store, store_url: str
) -> None:
    rows = [(f"F{i % 500:03d}", T0 + 300 * (i // 500), float(i), 0.5) for i in range(5000)]
    store.write(rows, [("SA1", T0, -1000.0, 0.0)])
    assert store.span() is not None and store.span().facility_readings == 5000
    if store.url.backend == "sqlite":
        assert _execute(store_url, "SELECT typeof(ts), min(ts) FROM facility_readings") == [
            ("integer", T0)
        ]
    else:
        assert _execute(
            store_url, "SELECT min(ts) = '2025-10-01T00:00:00+10:00' FROM facility_readings"
        ) == [(True,)]


# Row by row: PostgreSQL prunes whole months instead (tests/test_pgpartition.py).
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_prune_keeps_days_before_the_newest_reading(store: Store) -> None:
    day = 86_400
    store.write(
        [("A", T0 + k * day, 1.0, 1.0) for k in range(5)],
        [("VIC1", T0 + k * day, 1.0, 1.0) for k in range(5)],
        [("VIC1", T0 + k * day, 2.0, 0.0) for k in range(5)],
    )
    late = T0 + 100 * day  # a clock far after the data: the newest reading is the reference
    pruned = store.prune(2, late)
    assert pruned == Pruned(6, 15, T0 + 2 * day, T0 + 4 * day, T0 + 4 * day)
    # days 0 and 1 of the three tables; day 2 is exactly 2 days old
    assert [p[0] for p in store.read_interchange(0, 2**40, 3600)["VIC1"]] == [
        T0 + k * day for k in (2, 3, 4)
    ]
    assert [p[0] for p in store.read_facilities(0, 2**40)["A"]] == [T0 + k * day for k in (2, 3, 4)]
    assert [p[0] for p in store.read_facilities(0, 2**40, 3600)["A"]] == [
        T0 + k * day for k in (2, 3, 4)
    ]
    assert store.prune(30, late).deleted == 0


def _a_real_day_and_one_row_in_2199(store: Store) -> tuple[int, int]:
    """288 intervals of a facility, a market and an interchange from T0, and one forged facility
    reading stamped 2199; returns (real readings, the forged ts)."""
    day = [T0 + 300 * k for k in range(1, 289)]
    store.write(
        [("BAYSW", ts, 100.0, 80.0) for ts in day],
        [("NSW1", ts, 90.0, 7000.0) for ts in day],
        [("NSW1", ts, 10.0, 20.0) for ts in day],
    )
    forged = 7_226_582_400  # 2199-01-01 UTC, well-formed and on the 5-minute grid
    store.write([("BAYSW", forged, 1.0, 1.0)], [])
    return 3 * 288, forged


# Row by row: PostgreSQL prunes whole months instead (tests/test_pgpartition.py).
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_one_reading_far_ahead_cannot_make_a_prune_delete_the_history(store: Store) -> None:
    real, forged = _a_real_day_and_one_row_in_2199(store)
    noon = T0 + 12 * 3600  # the clock, within the recorded day
    pruned = store.prune(30, noon)
    # Counting back 30 days from 2199 would delete every real row; from the newest reading
    # not ahead of the clock (12:15, the guard's margin past noon), none.
    assert (pruned.deleted, pruned.held, pruned.newest) == (0, real + 1, forged)
    assert (pruned.reference, pruned.skipped_future) == (noon + 900, True)
    assert pruned.cutoff == noon + 900 - 30 * 86_400
    span = store.span()
    assert span is not None and (span.facility_readings, span.market_readings) == (289, 288)
    assert span.interchange_readings == 288
    # With half a day kept, it counts back from 12:15: the two intervals before 00:15 go.
    half = store.prune(0.5, noon)
    assert (half.deleted, half.cutoff) == (3 * 2, T0 + 900)
    assert len(store.read_facilities(0, 2**40, 300, ["BAYSW"])["BAYSW"]) == 287


def test_an_old_week_is_kept_however_far_behind_the_clock(store: Store) -> None:
    real, forged = _a_real_day_and_one_row_in_2199(store)
    years_later = T0 + 3 * 365 * 86_400  # a replayed old day, and a forged row, in the store
    pruned = store.prune(30, years_later)
    # PostgreSQL counts what it holds only when a prune drops something.
    held = real + 1 if store.url.backend == "sqlite" else 0
    assert (pruned.deleted, pruned.held) == (0, held)
    assert (pruned.reference, pruned.newest) == (T0 + 288 * 300, forged)


# Row by row: PostgreSQL prunes whole months instead (tests/test_pgpartition.py).
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_prune_reports_how_much_of_the_store_it_deleted(store: Store) -> None:
    _a_real_day_and_one_row_in_2199(store)
    noon = T0 + 12 * 3600
    pruned = store.prune(0.25, noon)  # keep 6 hours before 12:15
    # Intervals ending at or after 06:15 stay: 06:15 .. 24:00 is 214 of the 288.
    assert (pruned.deleted, pruned.held) == (3 * 74, 3 * 288 + 1)
    assert pruned.share == pytest.approx(222 / 865)


def test_a_read_with_an_id_list_returns_only_those_ids_of_10000(store: Store) -> None:
    ids = [f"X{i:05d}" for i in range(10_000)]
    store.write([(ident, T0 + 300, 1.0, 2.0) for ident in ids], [])
    store.write([], [("SA1", T0 + 300, 1.0, 2.0), ("VIC1", T0 + 300, 3.0, 4.0)])
    store.write([], [], [("SA1", T0 + 300, 5.0, 6.0), ("VIC1", T0 + 300, 7.0, 8.0)])
    wanted = ["X00007", "X04242", "X09999", "BAYSW", "X00000"]  # BAYSW: not held
    for step in (300, 1800, 3600):
        got = store.read_facilities(T0, T0 + 3600, step, wanted)
        assert sorted(got) == ["X00000", "X00007", "X04242", "X09999"]
        assert store.read_markets(T0, T0 + 3600, step, ["SA1"]).keys() == {"SA1"}
        assert store.read_interchange(T0, T0 + 3600, step, ["VIC1"]).keys() == {"VIC1"}


# --- reads ---------------------------------------------------------------------------------


def test_windows_are_half_open_and_aggregate_in_sql(store: Store) -> None:
    hour = [("A", T0 + 300 * k, float(k), 0.5 * k) for k in range(1, 13)]
    hour.append(("B", T0 + 300, None, 1.0))
    hour.append(("B", T0 + 600, None, 3.0))
    store.write(hour, [("QLD1", T0 + 300 * k, 10.0 * k, 100.0) for k in range(1, 13)])
    assert [p[0] - T0 for p in store.read_facilities(T0 + 300, T0 + 1200)["A"]] == [600, 900, 1200]
    assert store.read_facilities(T0 + 1800, T0 + 3600, 1800) == {"A": [(T0 + 3600, 9.5, 4.75)]}
    assert store.read_facilities(T0, T0 + 3600, 1800) == {
        "A": [(T0 + 1800, 3.5, 1.75), (T0 + 3600, 9.5, 4.75)],
        "B": [(T0 + 1800, None, 2.0)],
    }
    assert store.read_markets(T0, T0 + 3600, 3600) == {"QLD1": [(T0 + 3600, 65.0, 100.0)]}
    store.write([], [], [("QLD1", T0 + 300 * k, 10.0 * k, None) for k in range(1, 13)])
    assert store.read_interchange(T0, T0 + 3600, 1800) == {
        "QLD1": [(T0 + 1800, 35.0, None), (T0 + 3600, 95.0, None)]
    }
    assert store.read_interchange(T0 + 300, T0 + 900) == {
        "QLD1": [(T0 + 600, 20.0, None), (T0 + 900, 30.0, None)]
    }
    assert store.read_facilities(T0, T0 + 3600, 300, facility_ids={"B"}) == {
        "B": [(T0 + 300, None, 1.0), (T0 + 600, None, 3.0)]
    }
    assert store.read_facilities(T0, T0 + 3600, 300, facility_ids=[]) == {}
    assert store.latest_ts() == T0 + 3600
    span = store.span()
    assert (span.first, span.last, span.facility_readings, span.market_readings) == (
        T0 + 300,
        T0 + 3600,
        14,
        12,
    )
    with pytest.raises(ValueError, match="resolution"):
        store.read_facilities(T0, T0 + 1, 900)  # type: ignore[arg-type]


def test_daily_averages_are_nem_days_kept_in_step_with_every_write(store: Store) -> None:
    day1 = [T0 + 300 * k for k in range(1, 289)]  # T0 is a NEM midnight: 00:05 .. 24:00
    day2 = [T0 + DAY + 300 * k for k in range(1, 289)]
    store.write([("A", ts, 1.0, 2.0) for ts in day1], [], [("SA1", ts, 7.0, 0.0) for ts in day1])
    store.write([("A", ts, 3.0, None) for ts in day2[:144]], [("SA1", day2[0], 90.0, 1.0)])
    store.write([("A", ts, 5.0, None) for ts in day2[144:]], [])
    assert store.read_facilities(T0, T0 + 2 * DAY, 86400) == {
        "A": [(T0 + DAY, 1.0, 2.0), (T0 + 2 * DAY, 4.0, None)]
    }
    assert store.read_interchange(T0, T0 + 2 * DAY, 86400) == {"SA1": [(T0 + DAY, 7.0, 0.0)]}
    assert store.read_markets(T0, T0 + 2 * DAY, 86400) == {"SA1": [(T0 + 2 * DAY, 90.0, 1.0)]}
    # A later value replaces one of the day's: the day's average follows.
    store.write([("A", day1[0], 289.0, 2.0)], [])
    assert store.read_facilities(T0, T0 + DAY, 86400)["A"][0][1] == pytest.approx(2.0)
    # A day's value averages its hours: with hours missing, the hours it has count alike.
    store.write([("B", day1[0], 10.0, None)] + [("B", ts, 1.0, None) for ts in day1[12:24]], [])
    assert store.read_facilities(T0, T0 + DAY, 86400, ["B"]) == {"B": [(T0 + DAY, 5.5, None)]}


def test_an_empty_store_reads_empty(store: Store) -> None:
    assert store.read_facilities(0, 2**40) == {}
    assert store.latest_ts() is None
    assert store.span() is None
    assert store.prune(1, T0) == Pruned(0, 0)


def test_a_reader_reads_while_the_writer_holds_the_store(store_url: str) -> None:
    with open_store(store_url) as writer:
        writer.write([("A", T0, 1.0, 2.0)], [])
        with open_store(store_url, create=False) as reader:
            assert reader.read_facilities(T0 - 1, T0) == {"A": [(T0, 1.0, 2.0)]}
            writer.write([("A", T0 + 300, 3.0, 4.0)], [])
            assert reader.latest_ts() == T0 + 300


def test_a_checkpoint_empties_the_sqlite_log_that_steady_readers_let_grow(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    wal = Path(f"{path}-wal")
    readers = [sqlite3.connect(path, isolation_level=None) for _ in range(2)]
    with open_store(f"sqlite:///{path}") as store:
        # Two readers take turns so that one always holds a snapshot while the writer commits:
        # SQLite can then never start the log afresh, and it grows with every write.
        for k in range(40):
            reader = readers[k % 2]
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM facility_readings").fetchone()
            if k:
                readers[(k + 1) % 2].execute("COMMIT")
            store.write([(f"F{i:03d}", T0 + 300 * (k + 1), float(i), 1.0) for i in range(500)], [])
        grown = wal.stat().st_size
        assert grown > 2_000_000
        assert store.checkpoint() is False  # a reader still reads from the log: not emptied
        assert wal.stat().st_size == grown
        readers[39 % 2].execute("COMMIT")
        assert store.checkpoint() is True
        assert wal.stat().st_size == 0
        store.write([("F000", T0 + 300 * 41, 1.0, 1.0)], [])  # the log starts afresh
        assert 0 < wal.stat().st_size < 100_000
        assert store.span().facility_readings == 40 * 500 + 1  # type: ignore[union-attr]
    for reader in readers:
        reader.close()


@pytest.mark.integration
def test_a_checkpoint_of_postgres_is_a_no_op(postgres: Postgres) -> None:
    with open_store(postgres.url()) as store:
        assert store.checkpoint() is True


# --- failures ------------------------------------------------------------------------------


def test_sqlite_in_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable) as info:
        open_store(f"sqlite:///{tmp_path}/no/such/dir/x.db")
    assert str(info.value).startswith(f"cannot open the SQLite store sqlite:///{tmp_path}/no/such")
    assert "folder" in str(info.value)


@pytest.mark.integration
def test_unreachable_postgres_is_one_line_without_the_password() -> None:
    port = free_port()
    with pytest.raises(StoreUnavailable) as info:
        open_store(f"postgresql://nem:hunter2-secret@127.0.0.1:{port}/nem")
    message = str(info.value)
    assert message.startswith(
        f"cannot connect to the PostgreSQL store postgresql://nem:***@127.0.0.1:{port}/nem"
    )
    assert "hunter2" not in message and "\n" not in message
    assert info.value.__cause__ is None  # psycopg's text could hold the URL: never chained


@pytest.mark.integration
def test_postgres_read_only_is_unavailable_then_recovers(postgres: Postgres) -> None:
    url = postgres.url()
    with open_store(url) as store:
        store.write([("A", T0, 1.0, 1.0)], [])
        admin = POSTGRES_ADMIN_URL
        _execute(admin, f"ALTER DATABASE {postgres.dbname} SET default_transaction_read_only = on")
        try:
            _execute(
                admin,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{postgres.dbname}' AND application_name = 'nemlive'",
            )
            with pytest.raises(StoreUnavailable):  # the connection was cut
                store.write([("A", T0 + 300, 2.0, 2.0)], [])
            with pytest.raises(StoreUnavailable, match="read-only"):
                store.write([("A", T0 + 300, 2.0, 2.0)], [])
        finally:
            _execute(admin, f"ALTER DATABASE {postgres.dbname} RESET default_transaction_read_only")
            _execute(
                admin,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{postgres.dbname}' AND application_name = 'nemlive'",
            )
        store.write([("A", T0 + 300, 2.0, 2.0)], [])  # reconnected by itself
        assert len(store.read_facilities(0, 2**40)["A"]) == 2
