"""The store's schema (a contract: other tools query it) and its numbered migrations.

Version N of the code knows migrations 1..N for each backend. ``schema_version`` holds one
row per migration applied; the store's version is the highest. A store at a higher
version than the code was written by a newer NEM Live and is refused, never downgraded.

The tables (docs/recording.md, "The schema"):

* ``facility_readings(facility_id text, ts, power_mw double, co2_tonnes double,
  primary key (facility_id, ts))``
* ``market_readings(region_id text, ts, price_dmwh double, demand_mw double,
  primary key (region_id, ts))``
* ``interchange_readings(region_id text, ts, imports_mw double, exports_mw double,
  primary key (region_id, ts))`` (from version 3: MW into and out of the region over its
  interconnectors, the MQTT interchange payload's values)

``ts`` is the interval's end: ``timestamptz`` in PostgreSQL, integer UTC epoch seconds in
SQLite. An index on ``ts`` serves "every facility between t0 and t1".

Beside them, from version 2, ``facility_rollups`` and ``market_rollups`` (from version 3
``interchange_rollups`` too) hold the same columns plus ``step_s`` (1800 or 3600): each id's averages over 30-minute and hourly buckets,
``ts`` the bucket's end. The store keeps them in step with every write, in the same
transaction, because averaging a week of 420 facilities on each read takes seconds.

From version 4, ``alert_events(rule, kind, subject, state, since, at, value, threshold,
received_at)``: each state change the alerter published (``firing``/``resolved``, docs/alerts.md),
``since``, ``at`` and ``received_at`` as ``ts`` is; unique on ``(rule, subject, state, since,
at)``, so a repeated message is stored once, and an index on ``at`` for History's window.

From version 5, the rollups also hold daily averages (``step_s`` 86400, NEM days, from the
hourly ones), and in PostgreSQL every readings and rollups table is partitioned by month under
the same name (``nemlive.store.partitions``); SQLite's tables stay as they are.
"""

from __future__ import annotations

from nemlive.common.errors import StoreError
from nemlive.store.rows import BUCKET_ORIGIN_S, DAY_SOURCE_STEP, DAY_STEP


def pg_bucket_end(column: str, step: int) -> str:
    """PostgreSQL for rows.bucket_end: the end of the ``step``-second bucket holding the
    interval that ends at ``column``. An interval ending on a boundary belongs to the bucket
    that ends there, hence the one second back before binning; buckets are aligned on NEM
    midnight."""
    return (
        f"(date_bin('{step} seconds', {column} - interval '1 second', "
        f"timestamptz '1970-01-01 00:00:00+10') + interval '{step} seconds')"
    )


def sqlite_bucket_end(column: str, step: int) -> str:
    """SQLite for rows.bucket_end (``column`` in epoch s, always positive)."""
    origin = BUCKET_ORIGIN_S
    return f"(({column} - ({origin}) + {step - 1}) / {step} * {step} + ({origin}))"


SCHEMA_VERSION = 5
PARTITIONED_FROM = 5  # PostgreSQL's readings and rollups are partitioned by month from here

# Each kind of reading: its table (``<kind>_readings``, rollups ``<kind>_rollups``), id
# column and the two value columns, in the order of a Reading's ``a, b``.
KINDS: dict[str, tuple[str, str, str]] = {
    "facility": ("facility_id", "power_mw", "co2_tonnes"),
    "market": ("region_id", "price_dmwh", "demand_mw"),
    "interchange": ("region_id", "imports_mw", "exports_mw"),
}


def _sqlite_kind_tables(kind: str) -> tuple[str, ...]:
    """The readings table, its ts index and the rollups table of ``kind`` (SQLite)."""
    ident, a, b = KINDS[kind]
    return (
        f"""CREATE TABLE {kind}_readings (
            {ident} TEXT NOT NULL,
            ts INTEGER NOT NULL,
            {a} REAL,
            {b} REAL,
            PRIMARY KEY ({ident}, ts)
        ) WITHOUT ROWID""",
        f"CREATE INDEX {kind}_readings_ts ON {kind}_readings (ts)",
        f"""CREATE TABLE {kind}_rollups (
            step_s INTEGER NOT NULL,
            {ident} TEXT NOT NULL,
            ts INTEGER NOT NULL,
            {a} REAL,
            {b} REAL,
            PRIMARY KEY (step_s, {ident}, ts)
        ) WITHOUT ROWID""",
    )


def _postgres_kind_tables(kind: str) -> tuple[str, ...]:
    """The readings table, its ts index and the rollups table of ``kind`` (PostgreSQL)."""
    ident, a, b = KINDS[kind]
    return (
        f"""CREATE TABLE {kind}_readings (
            {ident} text NOT NULL,
            ts timestamptz NOT NULL,
            {a} double precision,
            {b} double precision,
            PRIMARY KEY ({ident}, ts)
        )""",
        f"CREATE INDEX {kind}_readings_ts ON {kind}_readings (ts)",
        f"""CREATE TABLE {kind}_rollups (
            step_s integer NOT NULL,
            {ident} text NOT NULL,
            ts timestamptz NOT NULL,
            {a} double precision,
            {b} double precision,
            PRIMARY KEY (step_s, {ident}, ts)
        )""",
    )


def daily_rollups_sql(kind: str, day_end: str) -> str:
    """Each id's daily averages, from its hourly ones (as every write keeps them)."""
    ident, a, b = KINDS[kind]
    return (
        f"INSERT INTO {kind}_rollups SELECT {DAY_STEP}, {ident}, {day_end} AS bucket, "
        f"avg({a}), avg({b}) FROM {kind}_rollups WHERE step_s = {DAY_SOURCE_STEP} "
        f"GROUP BY {ident}, bucket"
    )


def _alert_table(text: str, stamp: str, real: str) -> tuple[str, ...]:
    """The alert_events table and its ``at`` index, in a backend's types."""
    return (
        f"""CREATE TABLE alert_events (
            rule {text} NOT NULL,
            kind {text} NOT NULL,
            subject {text} NOT NULL,
            state {text} NOT NULL,
            since {stamp} NOT NULL,
            at {stamp} NOT NULL,
            value {real},
            threshold {real} NOT NULL,
            received_at {stamp} NOT NULL,
            PRIMARY KEY (rule, subject, state, since, at)
        )""",
        "CREATE INDEX alert_events_at ON alert_events (at)",
    )


# SQLite: WITHOUT ROWID makes the primary key the table's order, so a facility's series is
# one range scan and an upsert touches one b-tree besides the ts index.
SQLITE_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE facility_readings (
            facility_id TEXT NOT NULL,
            ts INTEGER NOT NULL,
            power_mw REAL,
            co2_tonnes REAL,
            PRIMARY KEY (facility_id, ts)
        ) WITHOUT ROWID""",
        "CREATE INDEX facility_readings_ts ON facility_readings (ts)",
        """CREATE TABLE market_readings (
            region_id TEXT NOT NULL,
            ts INTEGER NOT NULL,
            price_dmwh REAL,
            demand_mw REAL,
            PRIMARY KEY (region_id, ts)
        ) WITHOUT ROWID""",
        "CREATE INDEX market_readings_ts ON market_readings (ts)",
    ),
    2: (
        """CREATE TABLE facility_rollups (
            step_s INTEGER NOT NULL,
            facility_id TEXT NOT NULL,
            ts INTEGER NOT NULL,
            power_mw REAL,
            co2_tonnes REAL,
            PRIMARY KEY (step_s, facility_id, ts)
        ) WITHOUT ROWID""",
        """CREATE TABLE market_rollups (
            step_s INTEGER NOT NULL,
            region_id TEXT NOT NULL,
            ts INTEGER NOT NULL,
            price_dmwh REAL,
            demand_mw REAL,
            PRIMARY KEY (step_s, region_id, ts)
        ) WITHOUT ROWID""",
        *(
            f"""INSERT INTO {kind}_rollups SELECT {step}, {ident}, (ts + {step - 1}) / {step} * {step}
                AS bucket, avg({a}), avg({b}) FROM {kind}_readings GROUP BY {ident}, bucket"""
            for kind, ident, a, b in (
                ("facility", "facility_id", "power_mw", "co2_tonnes"),
                ("market", "region_id", "price_dmwh", "demand_mw"),
            )
            for step in (1800, 3600)
        ),
    ),
    # Interchange, recorded from version 3; earlier stores never kept it, so nothing to fill.
    3: _sqlite_kind_tables("interchange"),
    # Alerts, recorded from version 4: what the alerter published (docs/alerts.md).
    4: _alert_table("TEXT", "INTEGER", "REAL"),
    # Daily averages, from version 5, for the views of months and years.
    5: tuple(daily_rollups_sql(kind, sqlite_bucket_end("ts", DAY_STEP)) for kind in KINDS),
}

POSTGRES_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE facility_readings (
            facility_id text NOT NULL,
            ts timestamptz NOT NULL,
            power_mw double precision,
            co2_tonnes double precision,
            PRIMARY KEY (facility_id, ts)
        )""",
        "CREATE INDEX facility_readings_ts ON facility_readings (ts)",
        """CREATE TABLE market_readings (
            region_id text NOT NULL,
            ts timestamptz NOT NULL,
            price_dmwh double precision,
            demand_mw double precision,
            PRIMARY KEY (region_id, ts)
        )""",
        "CREATE INDEX market_readings_ts ON market_readings (ts)",
    ),
    2: (
        """CREATE TABLE facility_rollups (
            step_s integer NOT NULL,
            facility_id text NOT NULL,
            ts timestamptz NOT NULL,
            power_mw double precision,
            co2_tonnes double precision,
            PRIMARY KEY (step_s, facility_id, ts)
        )""",
        """CREATE TABLE market_rollups (
            step_s integer NOT NULL,
            region_id text NOT NULL,
            ts timestamptz NOT NULL,
            price_dmwh double precision,
            demand_mw double precision,
            PRIMARY KEY (step_s, region_id, ts)
        )""",
        *(
            f"""INSERT INTO {kind}_rollups SELECT {step}, {ident}, {pg_bucket_end("ts", step)}
                AS bucket, avg({a}), avg({b}) FROM {kind}_readings GROUP BY {ident}, bucket"""
            for kind, ident, a, b in (
                ("facility", "facility_id", "power_mw", "co2_tonnes"),
                ("market", "region_id", "price_dmwh", "demand_mw"),
            )
            for step in (1800, 3600)
        ),
    ),
    3: _postgres_kind_tables("interchange"),
    4: _alert_table("text", "timestamptz", "double precision"),
    # Daily averages too; then postgres.py partitions every readings and rollups table by
    # month (nemlive.store.pgpartition.partition_store), keeping every row.
    5: tuple(daily_rollups_sql(kind, pg_bucket_end("ts", DAY_STEP)) for kind in KINDS),
}


def plan_migrations(current: int, display: str) -> range:
    """The migration numbers to apply to a store at version ``current`` (0 = empty).

    Raises StoreError when the store is newer than this code: one line naming the fix.
    """
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"the store {display} has schema version {current}, newer than this NEM Live "
            f"understands ({SCHEMA_VERSION}): upgrade NEM Live, or point --store/NEMLIVE_STORE "
            "at another database"
        )
    return range(current + 1, SCHEMA_VERSION + 1)
