"""The page's store reads: what a readable store gives, and one line or None when it is not."""

from __future__ import annotations

from pathlib import Path

from nemlive.common.lookups import load_facilities
from nemlive.dashboard import storeread
from nemlive.dashboard.livestate import LiveState
from nemlive.store import parse_store_url
from tests.support_dashboard import (
    write_consolidate_csv,
    write_facilities_csv,
    write_store_from_csv,
)


def _state(tmp_path: Path) -> LiveState:
    return LiveState(load_facilities(write_facilities_csv(tmp_path / "f.csv")).keys())


def test_a_stored_day_fills_the_windows_and_gives_its_span_and_range(tmp_path: Path) -> None:
    csv_path = write_consolidate_csv(tmp_path / "c.csv", intervals=4)
    url = parse_store_url(write_store_from_csv(csv_path, tmp_path / "h.db"))
    state = _state(tmp_path)
    line = storeread.backfill_from_store(state, url)
    assert line.startswith("Opened with ") and line.endswith(" NEM.")
    assert url.for_viewers in line
    span = storeread.read_span(url)
    assert span is not None and span[1] - span[0] == 3 * 300
    stored = storeread.read_range(url, span[0] - 300, span[1], 300, state.known_facilities)
    assert stored is not None and stored.facility and stored.region


def test_a_store_that_cannot_be_read_gives_a_line_or_none(tmp_path: Path) -> None:
    url = parse_store_url(f"sqlite:///{tmp_path / 'absent.db'}")  # not created by a reader
    line = storeread.backfill_from_store(_state(tmp_path), url)
    assert line.startswith(f"The store ({url.for_viewers}) could not be read")
    assert storeread.read_span(url) is None
    assert storeread.read_range(url, 0, 300, 300, frozenset()) is None


def test_the_alerts_of_a_range_are_read_or_none(tmp_path: Path) -> None:
    from nemlive.store import AlertRecord, open_store

    url = parse_store_url(f"sqlite:///{tmp_path / 'h.db'}")
    at = 1760486700  # 2025-10-15 10:05 NEM
    with open_store(url) as store:
        store.write(
            [],
            [],
            alerts=[AlertRecord("hot", "price_above", "SA1", "firing", at, at, 400.0, 300.0, at)],
        )
    got = storeread.read_alerts(url, at - 300, at)
    assert got is not None and [a.subject for a in got.alerts] == ["SA1"] and not got.left_out
    absent = parse_store_url(f"sqlite:///{tmp_path / 'absent.db'}")
    assert storeread.read_alerts(absent, at - 300, at) is None
