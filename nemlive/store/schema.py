"""The store's schema (a contract: other tools query it) and its numbered migrations.

Version N of the code knows migrations 1..N for each backend. ``schema_version`` holds one
row per migration applied; the store's version is the highest. A store at a higher
version than the code was written by a newer NEM Live and is refused, never downgraded.

The tables (README, "Recording history"):

* ``facility_readings(facility_id text, ts, power_mw double, co2_tonnes double,
  primary key (facility_id, ts))``
* ``market_readings(region_id text, ts, price_dmwh double, demand_mw double,
  primary key (region_id, ts))``

``ts`` is the interval's end: ``timestamptz`` in PostgreSQL, integer UTC epoch seconds in
SQLite. An index on ``ts`` serves "every facility between t0 and t1".
"""

from __future__ import annotations

from nemlive.errors import StoreError

SCHEMA_VERSION = 1

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
