"""nemlive/store/pgpartition.py against PostgreSQL on 127.0.0.1:5432: the readings and rollups
partitioned by month, migration 5 keeping every row, retention dropping whole months."""

from __future__ import annotations

import threading
from datetime import datetime

import psycopg
import pytest

from nemlive.common.nemtime import NEM_TZ
from nemlive.store import SCHEMA_VERSION, StoreError, StoreUnavailable, open_store, parse_store_url
from nemlive.store.pgpartition import MAX_MONTHS_PER_PRUNE, PARTITIONED_TABLES
from nemlive.store.schema import KINDS, POSTGRES_MIGRATIONS
from tests.conftest import Postgres

pytestmark = pytest.mark.integration

DAY = 86_400


def _nem(*args: int) -> int:
    return int(datetime(*args, tzinfo=NEM_TZ).timestamp())  # type: ignore[misc]


def _sql(pg: Postgres, sql: str, params: tuple | None = None) -> list[tuple]:
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        cur = conn.execute(sql, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def _partitions(pg: Postgres, table: str) -> list[str]:
    rows = _sql(
        pg,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass ORDER BY 1",
        (table,),
    )
    return [r[0] for r in rows]


def _partitioned(pg: Postgres) -> list[str]:
    rows = _sql(
        pg,
        "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "ORDER BY 1",
    )
    return [r[0] for r in rows]


# Every 6 hours over four NEM months, and the instants on and beside the months' first
# midnights, for three facilities; the regions every 6 hours.
START, END = _nem(2025, 10, 1), _nem(2026, 2, 1)
EDGES = [_nem(y, m, 1) + d for y, m in ((2025, 11), (2025, 12), (2026, 1)) for d in (-300, 0, 300)]
STAMPS = sorted(set(range(START + 300, END, 6 * 3600)) | set(EDGES) | {END})


def _make_old_store(pg: Postgres, version: int) -> None:
    """A store as NEM Live wrote it at ``version`` (3 or 4), with readings over four months and
    their rollups, and at version 4 an alert."""
    _sql(pg, "CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at text)")
    for number in range(1, version + 1):
        for statement in POSTGRES_MIGRATIONS[number]:
            _sql(pg, statement)
        _sql(pg, "INSERT INTO schema_version VALUES (%s, 'then')", (number,))
    for ident in ("A", "B", "C"):
        _sql(
            pg,
            "INSERT INTO facility_readings SELECT %s, to_timestamp(t), t %% 1000, NULL "
            "FROM unnest(%s::bigint[]) t",
            (ident, STAMPS),
        )
    for kind in ("market", "interchange"):
        _sql(
            pg,
            f"INSERT INTO {kind}_readings SELECT r, to_timestamp(t), t %% 77, 1.5 "
            "FROM unnest(%s::text[]) r, unnest(%s::bigint[]) t",
            (["NSW1", "SA1"], STAMPS),
        )
    # The rollups as version 2 filled them (interchange's the same way).
    for statement in POSTGRES_MIGRATIONS[2][2:]:
        _sql(pg, statement)
        if "market_" in statement:
            for old, new in (("market_", "interchange_"), ("price_dmwh", "imports_mw"), ("demand_", "exports_")):  # fmt: skip
                statement = statement.replace(old, new)
            _sql(pg, statement)
    if version >= 4:
        _sql(
            pg,
            "INSERT INTO alert_events VALUES ('r', 'price_above', 'SA1', 'firing', "
            "to_timestamp(%s), to_timestamp(%s), 1.0, 0.5, to_timestamp(%s))",
            (START + 300, START + 300, START + 301),
        )


def _dump(pg: Postgres) -> dict[str, list[tuple]]:
    """Every row of the readings, the rollups (30-minute and hourly) and the alerts."""
    out = {}
    for table in PARTITIONED_TABLES:
        where = " WHERE step_s IN (1800, 3600)" if table.endswith("_rollups") else ""
        out[table] = _sql(pg, f"SELECT * FROM {table}{where} ORDER BY 1, 2, 3")
    if _sql(pg, "SELECT to_regclass('alert_events') IS NOT NULL") == [(True,)]:
        out["alert_events"] = _sql(pg, "SELECT * FROM alert_events ORDER BY 1")
    return out


@pytest.mark.parametrize("version", [3, 4])
def test_an_old_store_is_partitioned_by_month_keeping_every_row(
    postgres: Postgres, version: int
) -> None:
    _make_old_store(postgres, version)
    before = _dump(postgres)
    assert len(before["facility_readings"]) == 3 * len(STAMPS) > 1000
    assert len(before["interchange_rollups"]) > 0
    assert _partitioned(postgres) == []
    with open_store(postgres.url()) as store:
        assert store.schema_version() == SCHEMA_VERSION == 5
        assert store.read_facilities(START, END, 86_400, ["A"])["A"][0][0] == _nem(2025, 10, 2)
    after = _dump(postgres)
    assert after.pop("alert_events", []) == before.pop("alert_events", [])
    assert after == before
    assert _partitioned(postgres) == sorted(PARTITIONED_TABLES)
    months = ["2025_10", "2025_11", "2025_12", "2026_01", "2026_02"]  # END opens February
    for table in PARTITIONED_TABLES:
        assert _partitions(postgres, table) == [f"{table}_{m}" for m in months]
    # The month's first midnight is in its partition; the interval before it in the last one.
    assert _sql(postgres, "SELECT count(*) FROM facility_readings_2025_12") == [
        (3 * sum(1 for t in STAMPS if _nem(2025, 12, 1) <= t < _nem(2026, 1, 1)),)
    ]
    # The primary key still makes a repeated (id, ts) one row: the recorder's upserts.
    with open_store(postgres.url()) as store:
        store.write([("A", EDGES[4], -1.0, 2.0)], [])
        assert store.read_facilities(EDGES[4] - 300, EDGES[4], 300, ["A"]) == {
            "A": [(EDGES[4], -1.0, 2.0)]
        }
    assert _sql(postgres, "SELECT count(*) FROM facility_readings") == [(3 * len(STAMPS),)]


def test_the_migration_keeps_what_was_granted_on_the_tables(postgres: Postgres) -> None:
    reader = f"grafana_{postgres.dbname[-8:]}"
    _make_old_store(postgres, 4)
    _sql(postgres, f"CREATE ROLE {reader} LOGIN")
    try:
        _sql(postgres, f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}")
        open_store(postgres.url()).close()
        grants = _sql(
            postgres,
            "SELECT table_name FROM information_schema.role_table_grants "
            "WHERE grantee = %s AND privilege_type = 'SELECT' ORDER BY 1",
            (reader,),
        )
        assert set(PARTITIONED_TABLES) <= {row[0] for row in grants}
        reading = postgres.url().replace("//root@", f"//{reader}@")
        with psycopg.connect(reading) as conn:
            assert conn.execute("SELECT count(*) FROM facility_readings").fetchone() == (
                3 * len(STAMPS),
            )
    finally:
        _sql(postgres, f"DROP OWNED BY {reader}")
        _sql(postgres, f"DROP ROLE {reader}")


def test_a_new_store_makes_each_month_s_partitions_before_writing_into_it(
    postgres: Postgres,
) -> None:
    with open_store(postgres.url()) as store:
        assert _partitioned(postgres) == sorted(PARTITIONED_TABLES)
        assert _partitions(postgres, "facility_readings") == []  # no DEFAULT partition
        late = _nem(2026, 1, 31, 23, 35)  # its hour and day end on 1 February
        store.write([("A", late, 1.0, 1.0)], [("SA1", late, 2.0, 3.0)])
        for table in PARTITIONED_TABLES:  # every table's, for each month the write reaches
            assert _partitions(postgres, table) == [f"{table}_2026_01", f"{table}_2026_02"]
        assert store.read_facilities(late - 300, late + DAY, 86_400) == {
            "A": [(_nem(2026, 2, 1), 1.0, 1.0)]
        }
        # A partition dropped behind the store's back is made again on the next write.
        _sql(postgres, "DROP TABLE facility_readings_2026_01")
        store.write([("A", late, 5.0, 1.0)], [])
        assert store.read_facilities(late - 300, late, 300) == {"A": [(late, 5.0, 1.0)]}


def test_one_batch_reaching_every_month_since_1998_is_written(postgres: Postgres) -> None:
    # A forged stream can put one valid reading in each month the schema accepts into one
    # batch: their partitions in one transaction exceeded PostgreSQL's lock table, and the
    # batch failed, was retried and failed for ever, holding the whole stream.
    months = [(y, m) for y in range(1998, 2027) for m in range(1, 13)][11:]
    stamps = [_nem(y, m, 1, 1) for y, m in months]
    with open_store(postgres.url()) as store:
        store.write([], [("SA1", t, 50.0, 1_000.0) for t in stamps])
        assert len(_partitions(postgres, "market_readings")) == len(months) == 337
        rows = _sql(
            postgres, "SELECT extract(epoch FROM ts)::bigint FROM market_readings ORDER BY ts"
        )
        assert [r[0] for r in rows] == stamps
        # Retention takes them away a year of months at a time, oldest first.
        pruned = store.prune(30, stamps[-1] + 300)
        assert pruned.partitions == MAX_MONTHS_PER_PRUNE * len(PARTITIONED_TABLES)
        assert _partitions(postgres, "market_readings")[0] == "market_readings_1999_12"


def test_two_writers_reaching_a_new_month_together_make_it_once(postgres: Postgres) -> None:
    open_store(postgres.url()).close()
    months = [_nem(2026, m, 10) for m in range(1, 13)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(ident: str) -> None:
        try:
            with open_store(postgres.url()) as store:
                start.wait(timeout=30)
                for ts in months:
                    store.write([(ident, ts, 1.0, 1.0)], [])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(name,)) for name in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(_partitions(postgres, "facility_readings")) == 12
    assert _sql(postgres, "SELECT count(*) FROM facility_readings") == [(24,)]


def _refuse_deletes(pg: Postgres) -> None:
    """A trigger on every partitioned table that fails any DELETE of a row: a prune that
    deleted rows one by one would fail."""
    _sql(
        pg,
        "CREATE OR REPLACE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN RAISE EXCEPTION 'row deleted from %', TG_TABLE_NAME; END$$",
    )
    for table in PARTITIONED_TABLES:
        _sql(
            pg,
            f"CREATE TRIGGER no_delete BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_delete()",
        )


def test_retention_drops_whole_months_and_never_deletes_a_reading(postgres: Postgres) -> None:
    days = range(START + 300, END + 1, DAY)  # 00:05 each day, October to 1 February
    with open_store(postgres.url()) as store:
        for kind in KINDS:
            store.write(*[[("X", t, 1.0, 1.0) for t in days] if k == kind else [] for k in KINDS])
        _refuse_deletes(postgres)
        newest = days[-1]
        pruned = store.prune(50, newest + 600)  # 50 days before 1 Feb: 13 December 00:05
    # October and November go, whole; December stays, its first 12 days included.
    assert pruned.cutoff == _nem(2025, 12, 1)
    assert pruned.partitions == 2 * len(PARTITIONED_TABLES)
    assert (pruned.deleted, pruned.held) == (3 * (31 + 30), 3 * len(days))
    for table in PARTITIONED_TABLES:
        assert _partitions(postgres, table) == [
            f"{table}_{m}" for m in ("2025_12", "2026_01", "2026_02")
        ]
    assert _sql(postgres, "SELECT min(ts) = '2025-12-01 00:05+10' FROM facility_readings") == [
        (True,)
    ]
    assert _sql(
        postgres,
        "SELECT coalesce(sum(n_tup_del), 0) FROM pg_stat_user_tables "
        "WHERE relname LIKE '%%\\_readings\\_%%' OR relname LIKE '%%\\_rollups\\_%%'",
    ) == [(0,)]
    with open_store(postgres.url()) as store:
        assert store.prune(50, newest + 600).partitions == 0  # nothing more until March


def test_a_prune_of_a_store_without_whole_months_past_the_horizon_drops_nothing(
    postgres: Postgres,
) -> None:
    with open_store(postgres.url()) as store:
        _refuse_deletes(postgres)
        store.write([("A", _nem(2026, 1, 20), 1.0, 1.0), ("A", _nem(2026, 1, 30), 1.0, 1.0)], [])
        pruned = store.prune(2, _nem(2026, 1, 30))
        assert (pruned.deleted, pruned.partitions, pruned.cutoff) == (0, 0, _nem(2026, 1, 1))
        assert pruned.held == 0  # not counted when nothing goes: a year's count takes seconds
        assert len(store.read_facilities(0, 2**40)["A"]) == 2


def test_one_reading_far_ahead_makes_one_month_and_cannot_make_a_prune_drop_history(
    postgres: Postgres,
) -> None:
    real = [_nem(2025, 10, 1, 0, 5) + 300 * k for k in range(288)]
    forged = _nem(2199, 1, 15)
    with open_store(postgres.url()) as store:
        store.write([("BAYSW", ts, 100.0, 80.0) for ts in real], [])
        store.write([("BAYSW", forged, 1.0, 1.0)], [])
        assert _partitions(postgres, "facility_readings") == [
            "facility_readings_2025_10",
            "facility_readings_2199_01",
        ]
        pruned = store.prune(30, real[144])  # the clock within the real day
        assert (pruned.deleted, pruned.partitions, pruned.newest) == (0, 0, forged)
        assert pruned.skipped_future
        assert len(store.read_facilities(0, real[-1])["BAYSW"]) == 288


def test_a_dashboard_never_partitions_a_store(postgres: Postgres) -> None:
    _make_old_store(postgres, 4)
    with pytest.raises(StoreError, match=r"schema version 4, not 5: run recorder\.py"):
        open_store(postgres.url(), create=False)
    assert _partitioned(postgres) == []


def test_a_write_into_a_month_without_its_partition_is_unavailable_so_it_is_retried(
    postgres: Postgres,
) -> None:
    from nemlive.store.postgres import describe_postgres_error

    open_store(postgres.url()).close()
    with (
        psycopg.connect(postgres.url(), autocommit=True) as conn,
        pytest.raises(psycopg.Error) as caught,
    ):
        conn.execute(
            "INSERT INTO facility_readings VALUES ('A', to_timestamp(%s), 1, 1)",
            (_nem(2026, 3, 5),),
        )
    error = describe_postgres_error(caught.value, parse_store_url(postgres.url()), "write to")
    assert isinstance(error, StoreUnavailable) and error.kind == "partition"
    assert "its month's partition is missing" in str(error)
