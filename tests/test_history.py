"""nemlive/dashboard/history.py: the ranges offered from the store, and views at a past interval."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from nemlive.common.nemtime import NEM_TZ
from nemlive.common.timeguard import latest_allowed
from nemlive.dashboard import history
from nemlive.store import open_store

FIRST = int(datetime(2025, 10, 1, 0, 5, tzinfo=NEM_TZ).timestamp())  # first interval end
DAY = 24 * 3600
NOW = FIRST + 30 * DAY  # the wall clock, a month after the data
FAR = int(datetime(2199, 12, 31, 23, 55, tzinfo=NEM_TZ).timestamp())  # a forged future


def test_a_week_offers_live_the_whole_span_and_each_day_newest_first() -> None:
    last = FIRST + 2015 * 300  # 2025-10-08T00:00: the week's last interval end
    choices = history.build_range_choices(FIRST, last)
    assert choices[0] == history.LIVE
    assert choices[1].label == "Whole span: 7 days (30-minute averages)"
    assert (choices[1].t0, choices[1].t1, choices[1].step_s) == (FIRST - 300, last, 1800)
    days = choices[2:]
    assert [c.label for c in days] == [
        "Tue 2025-10-07",
        "Mon 2025-10-06",
        "Sun 2025-10-05",
        "Sat 2025-10-04",
        "Fri 2025-10-03",
        "Thu 2025-10-02",
        "Wed 2025-10-01",
    ]
    # A day holds the intervals ending after its midnight up to the next: 00:05 .. 24:00.
    wed = days[-1]
    assert (wed.t0, wed.t1) == (FIRST - 300, FIRST - 300 + DAY)


def test_an_empty_store_offers_only_live() -> None:
    assert history.build_range_choices(None, None) == [history.LIVE]


@pytest.mark.parametrize(
    ("days", "step"),
    [
        (1, 300),
        (2.7, 300),
        (2.8, 1800),
        (7, 1800),
        (16.6, 1800),
        (16.7, 3600),
        (33.3, 3600),
        (33.4, 86400),
        (366, 86400),
        (4000, 86400),
    ],
)
def test_the_resolution_coarsens_with_the_span(days: float, step: int) -> None:
    assert history.choose_step(0, int(days * DAY)) == step


@pytest.mark.parametrize("days", [1, 2, 7, 16, 17, 31, 34, 92, 366])
def test_a_range_reads_at_most_what_a_chart_draws(days: int) -> None:
    step = history.choose_step(0, days * DAY)
    assert days * DAY / step <= history.MAX_POINTS


def test_a_long_span_offers_the_last_week_and_the_whole_span_in_daily_averages() -> None:
    last = FIRST + 60 * DAY
    choices = history.build_range_choices(FIRST, last)
    week, whole = choices[1], choices[2]
    assert week.label == "Last 7 days (30-minute averages)"
    assert (week.t0, week.t1, week.step_s) == (last - 7 * DAY, last, 1800)
    assert whole.label == "Whole span: 60 days (daily averages)" and whole.step_s == 86400
    assert len(choices) == 3 + 61  # 00:05 on the 61st day is that day's first interval


def test_the_lists_and_one_load_are_bounded_whatever_the_store_holds() -> None:
    # A store kept for 30 years (or holding one forged reading from 1999): the menu lists
    # the newest MAX_DAY_CHOICES days, and the whole span reaches back MAX_SPAN_DAYS.
    last = FIRST + 30 * 365 * DAY
    choices = history.build_range_choices(FIRST, last)
    assert len(choices) == 3 + history.MAX_DAY_CHOICES
    whole = choices[2]
    assert (
        whole.label
        == f"Last {history.MAX_SPAN_DAYS} days: {history.MAX_SPAN_DAYS} days (daily averages)"
    )
    assert (whole.t1 - whole.t0, whole.step_s) == (history.MAX_SPAN_DAYS * DAY, 86400)
    assert whole.t1 // 86400 - whole.t0 // 86400 <= 366  # daily points per series
    assert (
        choices[-1].t1
        == history._nem_midnight_at_or_before(last - 1) - (history.MAX_DAY_CHOICES - 2) * DAY
    )


def _store_with_a_forged_future(tmp_path, ids: int = 0):  # type: ignore[no-untyped-def]
    store, stamps = _store_with_rows(tmp_path, 4, ("NSW1", "SA1"))
    store.write([("A", FAR, 1.0, 1.0)], [("SA1", FAR, 1.0, 1.0)], [("SA1", FAR, 1.0, 1.0)])
    store.write([(f"X{k}", stamps[0], 1.0, 1.0) for k in range(ids)], [])
    return store, stamps


def test_a_forged_future_row_in_the_store_moves_neither_the_backfill_nor_the_menu(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    store, stamps = _store_with_a_forged_future(tmp_path)
    with store:
        got = history.read_backfill(store, DAY, {"A"}, NOW)
        assert got is not None and got.end == stamps[-1]
        assert [p[0] for p in got.facility["A"]] == stamps
        span = store.span(at_most=latest_allowed(NOW))
        assert span is not None and span.last == stamps[-1]
        assert [c.label for c in history.build_range_choices(span.first, span.last)][2:] == [
            "Wed 2025-10-01"
        ]


def test_reads_hold_only_the_lookup_facilities_and_the_regions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, stamps = _store_with_a_forged_future(tmp_path, ids=5000)
    with store:
        got = history.read_backfill(store, DAY, {"A"}, NOW)
        assert got is not None and set(got.facility) == {"A"}
        ranged = history.read_range(store, FIRST - 300, stamps[-1], 300, {"A"}, NOW)
        assert set(ranged.facility) == {"A"} and set(ranged.region) == {"NSW1", "SA1"}


def test_values_at_and_stamps_of_read_one_past_interval() -> None:
    fac = {"A": [(FIRST, 1.0, 0.5), (FIRST + 300, 2.0, 0.6)], "B": [(FIRST, 3.0, None)]}
    reg = {"SA1": [(FIRST + 300, 90.0, 1500.0)]}
    assert history.stamps_of(fac, reg) == [FIRST, FIRST + 300]
    assert history.values_at(fac, FIRST + 300) == {"A": (FIRST + 300, 2.0, 0.6)}
    assert history.values_at(fac, FIRST) == {"A": (FIRST, 1.0, 0.5), "B": (FIRST, 3.0, None)}


def test_the_caption_names_the_range_the_time_and_the_resolution() -> None:
    choice = history.RangeChoice("Whole span: 40 days (30-minute averages)", 0, 1, 1800)
    text = history.describe_view(choice, FIRST + 25 * 60)
    assert "30-minute bucket ending **2025-10-01 00:30 NEM**" in text
    assert "30-minute averages from the store" in text
    day = history.RangeChoice("Wed 2025-10-01", 0, 1)
    assert "interval ending **2025-10-01 00:05 NEM**" in history.describe_view(day, FIRST)
    assert timedelta(seconds=history.DAY_S) == timedelta(days=1)


def test_the_backfill_stops_at_the_last_row_every_region_finished() -> None:
    regions = {r: [(FIRST, 1.0, 1.0), (FIRST + 300, 1.0, 1.0)] for r in ("NSW1", "SA1")}
    assert history.complete_through(regions) == FIRST + 300
    regions["SA1"] = regions["SA1"][:1]  # the recorder was mid-row
    assert history.complete_through(regions) == FIRST
    assert history.complete_through({}) is None


def _store_with_rows(tmp_path, rows: int, last_row_regions: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """A SQLite store with ``rows`` whole rows of one facility and two regions' market and
    interchange, and a last row the recorder was still writing (``last_row_regions``' market
    events in, the facility and both interchanges too)."""
    store = open_store(f"sqlite:///{tmp_path}/h.db")
    stamps = [FIRST + 300 * k for k in range(rows + 1)]
    store.write(
        [("A", ts, float(k), 0.5) for k, ts in enumerate(stamps)],
        [(r, ts, 90.0, 1000.0) for ts in stamps[:-1] for r in ("NSW1", "SA1")]
        + [(r, stamps[-1], 90.0, 1000.0) for r in last_row_regions],
        [(r, ts, 10.0 * k, 5.0) for k, ts in enumerate(stamps) for r in ("NSW1", "SA1")],
    )
    return store, stamps


def test_read_backfill_reads_the_three_histories_up_to_the_last_whole_row(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, stamps = _store_with_rows(tmp_path, 4, ("NSW1",))
    with store:
        got = history.read_backfill(store, 3 * 300, {"A"}, NOW)
        assert got is not None and got.end == stamps[-2]
        # The last 3 intervals before the newest held, up to the last whole row.
        assert got.facility == {"A": [(ts, float(k), 0.5) for k, ts in enumerate(stamps)][2:4]}
        assert got.region == {
            r: [(ts, 90.0, 1000.0) for ts in stamps[2:4]] for r in ("NSW1", "SA1")
        }
        assert got.interchange == {
            r: [(stamps[k], 10.0 * k, 5.0) for k in (2, 3)] for r in ("NSW1", "SA1")
        }
        store.write([], [("SA1", stamps[-1], 90.0, 1000.0)])  # the row is finished
        assert history.read_backfill(store, 300, {"A"}, NOW).interchange == {  # type: ignore[union-attr]
            r: [(stamps[-1], 40.0, 5.0)] for r in ("NSW1", "SA1")
        }


def test_read_backfill_of_an_empty_store_is_none(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with open_store(f"sqlite:///{tmp_path}/h.db") as store:
        assert history.read_backfill(store, DAY, {"A"}, NOW) is None


def test_read_range_reads_interchange_at_the_range_resolution(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, stamps = _store_with_rows(tmp_path, 12, ("NSW1", "SA1"))
    with store:
        t0 = FIRST - 300  # FIRST is 00:05: the range of the day's first hour
        got = history.read_range(store, t0, t0 + 3600, 1800, {"A"}, NOW)
        # Intervals 00:05..00:30 average k = 0..5, and 00:35..01:00 average k = 6..11.
        assert got.interchange == {
            r: [(t0 + 1800, 25.0, 5.0), (t0 + 3600, 85.0, 5.0)] for r in ("NSW1", "SA1")
        }
        assert got.facility == {"A": [(t0 + 1800, 2.5, 0.5), (t0 + 3600, 8.5, 0.5)]}
        assert set(got.region) == {"NSW1", "SA1"} and got.end == t0 + 3600
        fine = history.read_range(store, t0, t0 + 900, 300, {"A"}, NOW)
        assert fine.interchange["SA1"] == [(stamps[k], 10.0 * k, 5.0) for k in range(3)]
        with pytest.raises(ValueError, match="resolution"):
            history.read_range(store, t0, t0 + 900, 900, {"A"}, NOW)
        # A long range reads the day's average: one point per series for the NEM day.
        day = history.read_range(store, t0, t0 + DAY, 86400, {"A"}, NOW)
        # The hours average k 0..11 (5.5) and k 12: the day averages the hours.
        assert day.facility == {"A": [(t0 + DAY, 8.75, 0.5)]}
        assert day.interchange["SA1"] == [(t0 + DAY, 87.5, 5.0)]


def test_today_s_range_stops_at_the_time_guard(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The range of the day the clock is in ends at midnight, after the present: a forged row
    # later that day (ahead of the clock) must not be read, nor become the range's end.
    store, stamps = _store_with_rows(tmp_path, 4, ("NSW1", "SA1"))
    now = stamps[-1] + 60  # the clock, just after the newest real interval
    ahead = stamps[-1] + 3 * 3600  # later the same day
    with store:
        store.write([("A", ahead, 1.0, 1.0)], [("SA1", ahead, 1.0, 1.0)])
        day = FIRST - 300
        got = history.read_range(store, day, day + DAY, 300, {"A"}, now)
        assert got.end == stamps[-1]
        assert [p[0] for p in got.facility["A"]] == stamps
        assert history.read_range(store, day, day + DAY, 300, {"A"}, ahead).end == ahead


def _alert(subject: str, at: int, state: str = "firing"):  # type: ignore[no-untyped-def]
    from nemlive.store import AlertRecord

    return AlertRecord("hot", "price_above", subject, state, at, at, 400.0, 300.0, at + 1)


def test_read_alerts_is_newest_first_bounded_and_counts_the_rest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    stamps = [FIRST + 300 * k for k in range(8)]
    with open_store(f"sqlite:///{tmp_path / 'a.db'}") as store:
        store.write([], [], alerts=[_alert(f"S{k}", ts) for k, ts in enumerate(stamps)])
        got = history.read_alerts(store, stamps[0], stamps[-1], NOW, limit=3)
        assert [a.subject for a in got.alerts] == ["S7", "S6", "S5"]  # t0 itself is out
        assert got.left_out == 4
        whole = history.read_alerts(store, FIRST - 300, stamps[-1], NOW)
        assert len(whole.alerts) == 8 and whole.left_out == 0
        assert history.read_alerts(store, FIRST - 300, stamps[-1], NOW, limit=0).left_out == 8
        empty = history.read_alerts(store, stamps[-1], stamps[-1] + DAY, NOW)
        assert empty == history.StoredAlerts((), 0)


def test_read_alerts_stops_at_the_time_guard(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A forged alert ahead of the clock, in today's range, is not read (nor counted).
    now = FIRST + 60
    ahead = FIRST + 3 * 3600
    with open_store(f"sqlite:///{tmp_path / 'a.db'}") as store:
        store.write([], [], alerts=[_alert("real", FIRST), _alert("forged", ahead)])
        day = FIRST - 300
        got = history.read_alerts(store, day, day + DAY, now)
        assert [a.subject for a in got.alerts] == ["real"] and got.left_out == 0
        later = history.read_alerts(store, day, day + DAY, ahead)
        assert [a.subject for a in later.alerts] == ["forged", "real"]
