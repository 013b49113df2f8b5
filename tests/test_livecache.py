"""nemlive.extract.livecache: request windows from watermarks, fill-only merge, trim, the
cache file read back, and the watermarks kept in the meta file."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

import numpy as np
import pytest

from nemlive.common.columns import build_header
from nemlive.common.errors import InputError
from nemlive.common.events import REGIONS
from nemlive.extract import consolidate, livecache
from nemlive.extract.livecache import FetchWindow, Watermarks
from nemlive.extract.rollup import WideTable

T0 = livecache.to_epoch(datetime(2026, 11, 30, 12, 0))  # an interval end, NEM time
STEP = 300
DAY = 86_400


def table(
    times: list[int], cells: dict[str, list[float | None]], facilities=("A", "B")
) -> WideTable:
    """A table of ``times`` with the named cells set (others empty)."""
    header = build_header(facilities, REGIONS, interchange=True)
    values = np.full((len(times), len(header) - 1), np.nan)
    for name, column in cells.items():
        values[:, header.index(name) - 1] = [np.nan if v is None else v for v in column]
    t = WideTable(
        np.array(times, dtype=np.int64),
        header,
        values,
        (datetime(2000, 1, 1), datetime(2000, 1, 1)),
        tuple(sorted(facilities)),
        REGIONS,
    )
    return livecache.fit_window(t)


def cell(t: WideTable, name: str, ts: int) -> float:
    row = int(np.flatnonzero(t.times == ts)[0])
    return float(t.values[row, t.header.index(name) - 1])


# --- request windows -------------------------------------------------------------------------


def test_the_next_request_starts_one_interval_after_the_watermark_and_is_open_ended() -> None:
    w = livecache.request_window(("A",), T0, T0 - DAY, T0 + 2 * STEP)
    assert w == FetchWindow(("A",), livecache.to_naive(T0 + STEP), None)


def test_a_request_never_starts_before_the_kept_window() -> None:
    floor = T0 - DAY
    assert livecache.request_window((), None, floor, T0).start == livecache.to_naive(floor)
    old = T0 - 5 * DAY
    assert livecache.request_window((), old, floor, T0).start == livecache.to_naive(floor)


def test_a_batch_far_behind_is_caught_up_in_explicit_seven_day_chunks() -> None:
    start = T0 - 9 * DAY
    w = livecache.request_window(("A",), None, start, T0)
    assert w.end == livecache.to_naive(start + 7 * DAY)
    # Just inside the API's 8 whole days: open-ended.
    w = livecache.request_window(("A",), None, T0 - 8 * DAY + STEP, T0)
    assert w.end is None


def test_a_sweep_is_one_request_per_batch_of_30_from_that_batchs_oldest_watermark() -> None:
    codes = [f"F{i:02d}" for i in range(65)]
    marks = Watermarks(
        market_to=T0,
        facilities_to={c: T0 for c in codes} | {"F05": T0 - 6 * STEP, "F40": T0 - STEP},
    )
    del marks.facilities_to["F64"]  # type: ignore[attr-defined]
    floor = T0 - DAY
    windows = livecache.plan_sweep(codes, marks, floor, T0 + STEP)
    assert [len(w.codes) for w in windows] == [30, 30, 5]
    assert windows[0].start == livecache.to_naive(T0 - 5 * STEP)  # F05, the least advanced
    assert windows[1].start == livecache.to_naive(T0)  # F40
    assert windows[2].start == livecache.to_naive(floor)  # F64 never fetched
    assert all(w.end is None for w in windows)
    assert livecache.count_batches(65) == 3 and livecache.count_batches(60) == 2


def test_an_open_request_reaches_its_newest_point_an_explicit_one_its_end() -> None:
    open_w = FetchWindow(("A",), livecache.to_naive(T0), None)
    assert livecache.fetched_through(open_w, T0 + 3 * STEP) == T0 + 3 * STEP
    assert livecache.fetched_through(open_w, None) is None  # no data: the watermark stays
    chunk = FetchWindow(("A",), livecache.to_naive(T0), livecache.to_naive(T0 + DAY))
    assert livecache.fetched_through(chunk, None) == T0 + DAY - STEP


def test_watermarks_advance_for_the_batch_and_never_go_back() -> None:
    marks = Watermarks(T0, {"A": T0, "B": T0 + 5 * STEP})
    w = FetchWindow(("A", "B", "C"), livecache.to_naive(T0), None)
    moved = livecache.advance_facilities(marks, w, T0 + 2 * STEP)
    assert moved.facilities_to == {"A": T0 + 2 * STEP, "B": T0 + 5 * STEP, "C": T0 + 2 * STEP}
    assert livecache.advance_facilities(marks, w, None) is marks
    assert livecache.advance_market(marks, T0 - STEP).market_to == T0
    assert livecache.advance_market(marks, T0 + STEP).market_to == T0 + STEP
    assert livecache.trim_marks(moved, ["A"]).facilities_to == {"A": T0 + 2 * STEP}
    assert moved.batch_to(["A", "B"]) == T0 + 2 * STEP and moved.batch_to(["A", "Z"]) is None


# --- merging and trimming --------------------------------------------------------------------


def test_market_rows_come_first_and_facility_cells_fill_in_later() -> None:
    cache = table([T0, T0 + STEP], {"price_NSW1": [50.0, 51.0]})
    sweep = table([T0, T0 + STEP], {"power_A": [10.0, 11.0], "emissions_A": [1.0, None]})
    market = table([T0 + 2 * STEP], {"price_NSW1": [52.0]})
    merged = livecache.merge_tables(livecache.merge_tables(cache, sweep), market)
    assert merged.times.tolist() == [T0, T0 + STEP, T0 + 2 * STEP]
    assert cell(merged, "power_A", T0 + STEP) == 11.0
    assert cell(merged, "price_NSW1", T0 + STEP) == 51.0
    assert math.isnan(cell(merged, "emissions_A", T0 + STEP))
    assert math.isnan(cell(merged, "power_A", T0 + 2 * STEP))  # not swept yet: empty, not zero
    assert merged.window == (livecache.to_naive(T0), livecache.to_naive(T0 + 3 * STEP))


def test_a_value_held_is_kept_when_an_answer_brings_another() -> None:
    cache = table([T0], {"price_NSW1": [50.0], "power_A": [10.0]})
    again = table([T0], {"price_NSW1": [99.0], "power_A": [None], "power_B": [7.0]})
    merged = livecache.merge_tables(cache, again)
    assert cell(merged, "price_NSW1", T0) == 50.0
    assert cell(merged, "power_A", T0) == 10.0  # an empty cell never erases a value
    assert cell(merged, "power_B", T0) == 7.0


def test_a_facility_listed_later_gets_its_columns() -> None:
    cache = table([T0], {"power_A": [1.0]}, facilities=("A",))
    later = table([T0 + STEP], {"power_C": [3.0]}, facilities=("A", "C"))
    merged = livecache.merge_tables(cache, later)
    assert merged.facility_ids == ("A", "C")
    assert merged.header == build_header(("A", "C"), REGIONS, interchange=True)
    assert cell(merged, "power_A", T0) == 1.0 and cell(merged, "power_C", T0 + STEP) == 3.0
    assert livecache.merge_tables(None, later) is later


def test_trim_keeps_exactly_the_kept_days_ending_at_the_newest_interval() -> None:
    times = [T0 + k * STEP for k in range(-300, 1)]
    t = table(times, {"price_NSW1": [1.0] * len(times)})
    floor = livecache.window_floor(T0, DAY)
    trimmed = livecache.trim_table(t, floor)
    assert len(trimmed.times) == 288
    assert int(trimmed.times[0]) == T0 - DAY + STEP and int(trimmed.times[-1]) == T0
    assert livecache.trim_table(trimmed, floor) is trimmed


def test_marks_read_off_the_cells_are_the_newest_values() -> None:
    t = table(
        [T0, T0 + STEP, T0 + 2 * STEP],
        {
            "price_NSW1": [1.0, 2.0, None],
            "power_A": [1.0, None, None],
            "emissions_B": [None, 1.0, None],
        },
    )
    marks = livecache.derive_marks(t)
    assert marks.market_to == T0 + STEP
    assert marks.facilities_to == {"A": T0, "B": T0 + STEP}
    assert livecache.facility_newest(t) == T0 + STEP


# --- the cache file --------------------------------------------------------------------------


def test_the_cache_reads_back_to_the_same_bytes() -> None:
    t = table(
        [T0, T0 + STEP],
        {"price_NSW1": [-41.0752, 12.0], "power_A": [0.3, None], "imports_SA1": [None, 5.5]},
    )
    data = consolidate.render_csv(t)
    back = livecache.parse_cache(data, "c.csv")
    assert back.times.tolist() == t.times.tolist()
    assert back.facility_ids == ("A", "B") and back.region_ids == REGIONS
    assert consolidate.render_csv(back) == data


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"time,power_A\n", id="no-timestamp-column"),
        pytest.param(b"timestamp,colour_A\n2026-11-30T12:00:00+10:00,1\n", id="unknown-column"),
        pytest.param(b"timestamp,power_A\n2026-11-30T12:00:00+10:00,x\n", id="not-a-number"),
        pytest.param(
            b"timestamp,power_A\n2026-11-30T12:05:00+10:00,1\n2026-11-30T12:00:00+10:00,1\n",
            id="out-of-order",
        ),
    ],
)
def test_a_file_that_is_not_a_cache_is_refused_with_one_line(data: bytes) -> None:
    with pytest.raises(InputError, match=r"c\.csv.*move it away or pass another --out"):
        livecache.parse_cache(data, "c.csv")


def test_the_meta_keeps_the_watermarks_of_its_own_csv_only() -> None:
    marks = Watermarks(T0, {"A": T0 - STEP, "B": T0})
    follow = livecache.build_follow_meta(marks, 7)
    assert follow["market_to"] == "2026-11-30T12:00:00+10:00"
    assert follow["facilities_to"]["A"] == "2026-11-30T11:55:00+10:00"
    data = b"timestamp,power_A\n"
    sha = hashlib.sha256(data).hexdigest()
    meta = {"csv_sha256": sha, "follow": follow}
    assert livecache.read_follow_meta(meta, sha) == marks
    assert livecache.read_follow_meta(meta, "another csv") is None
    assert livecache.read_follow_meta({"csv_sha256": sha}, sha) is None
    broken = {"csv_sha256": sha, "follow": {"market_to": "noon", "facilities_to": {}}}
    assert livecache.read_follow_meta(broken, sha) is None
    empty = livecache.build_follow_meta(Watermarks(), 1)
    assert livecache.read_follow_meta({"csv_sha256": sha, "follow": empty}, sha) == Watermarks()


def test_naive_nem_time_round_trips() -> None:
    when = datetime(2026, 11, 30, 12, 5)
    assert livecache.to_naive(livecache.to_epoch(when)) == when
    assert livecache.floor_interval(T0 + 299.9) == T0
    assert livecache.to_naive(T0) + timedelta(minutes=5) == livecache.to_naive(T0 + STEP)
