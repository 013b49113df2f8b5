"""nemlive/store/partitions.py: PostgreSQL's monthly partitions, their names, bounds and rules (pure)."""

from __future__ import annotations

from datetime import datetime

import pytest

from nemlive.common.nemtime import NEM_TZ
from nemlive.store import partitions
from nemlive.store.partitions import (
    create_partition_sql,
    effective_cutoff,
    month_bounds,
    month_of,
    months_of_writes,
    months_to_drop,
    parse_partition_name,
    partition_name,
)


def _nem(*args: int) -> int:
    return int(datetime(*args, tzinfo=NEM_TZ).timestamp())  # type: ignore[misc]


@pytest.mark.parametrize(
    ("ts", "month"),
    [
        (_nem(2026, 1, 1, 0, 0), (2026, 1)),  # the first midnight opens the month
        (_nem(2025, 12, 31, 23, 55), (2025, 12)),
        (_nem(2026, 1, 31, 13, 59), (2026, 1)),  # 23:59 UTC on the 31st: still NEM January
        (_nem(2026, 2, 1, 9, 0), (2026, 2)),  # 23:00 UTC on 31 January: NEM February
    ],
    ids=["first-midnight", "last-interval-before", "late-utc", "nem-not-utc"],
)
def test_a_timestamp_is_in_its_nem_month(ts: int, month: tuple[int, int]) -> None:
    assert month_of(ts) == month


def test_bounds_are_nem_midnights_and_december_runs_into_the_next_year() -> None:
    assert month_bounds((2025, 12)) == (_nem(2025, 12, 1), _nem(2026, 1, 1))
    assert month_bounds((2026, 2)) == (_nem(2026, 2, 1), _nem(2026, 3, 1))


def test_the_ddl_names_the_month_and_its_bounds_in_nem_time() -> None:
    assert create_partition_sql("facility_readings", (2026, 1)) == (
        "CREATE TABLE IF NOT EXISTS facility_readings_2026_01 PARTITION OF facility_readings "
        "FOR VALUES FROM ('2026-01-01 00:00:00+1000') TO ('2026-02-01 00:00:00+1000')"
    )


@pytest.mark.parametrize(
    ("name", "month"),
    [
        ("facility_readings_2026_01", (2026, 1)),
        ("facility_readings_2026_1", None),
        ("facility_rollups_2026_01", None),  # another table's
        ("facility_readings_old", None),
        ("facility_readings_x2026_01", None),
    ],
)
def test_only_our_names_parse_as_months(name: str, month: tuple[int, int] | None) -> None:
    assert parse_partition_name("facility_readings", name) == month
    if month:
        assert partition_name("facility_readings", month) == name


def test_a_write_touches_the_months_of_its_readings_and_of_their_buckets() -> None:
    late = _nem(2026, 1, 31, 23, 35)  # its hour and its day end at 1 February 00:00
    assert months_of_writes([("A", late, 1.0, 1.0)]) == {(2026, 1), (2026, 2)}
    assert months_of_writes([("A", _nem(2026, 1, 15, 12, 0), 1.0, 1.0)]) == {(2026, 1)}
    assert months_of_writes([("A", None, 1.0, 1.0)]) == set()  # type: ignore[list-item]


def test_a_prune_drops_the_months_wholly_before_the_cutoff_and_keeps_the_one_holding_it() -> None:
    months = [(2025, 11), (2025, 12), (2026, 1), (2026, 2)]
    mid_january = _nem(2026, 1, 15, 8, 0)
    assert months_to_drop(months, mid_january) == [(2025, 11), (2025, 12)]
    assert effective_cutoff(mid_january) == _nem(2026, 1, 1)
    # A cutoff on a month's first midnight: every month before it goes, that month stays.
    assert months_to_drop(months, _nem(2026, 1, 1)) == [(2025, 11), (2025, 12)]
    assert effective_cutoff(_nem(2026, 1, 1)) == _nem(2026, 1, 1)
    assert months_to_drop(months, _nem(2026, 1, 1) - 1) == [(2025, 11)]


def test_the_bound_on_partitions_is_one_a_month_from_the_nem_start() -> None:
    # The recorder refuses intervals ahead of the clock, the wire schema those before the NEM
    # began: every month a store can hold, from December 1998 to 2026, is a few hundred.
    from nemlive.common.nemtime import NEM_START_EPOCH

    first = month_of(NEM_START_EPOCH)
    assert first == (1998, 12)
    assert (2026 - first[0]) * 12 + (12 - first[1]) + 1 < 400
    assert partitions.next_month((1998, 12)) == (1999, 1)
