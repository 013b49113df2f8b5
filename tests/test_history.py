"""nemlive/dashboard/history.py: the ranges offered from the store, and views at a past interval."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from nemlive.common.nemtime import NEM_TZ
from nemlive.dashboard import history

FIRST = int(datetime(2025, 10, 1, 0, 5, tzinfo=NEM_TZ).timestamp())  # first interval end
DAY = 24 * 3600


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
    ("days", "step"), [(1, 300), (1.01, 1800), (7, 1800), (31, 1800), (31.5, 3600), (400, 3600)]
)
def test_the_resolution_coarsens_with_the_span(days: float, step: int) -> None:
    assert history.choose_step(0, int(days * DAY)) == step


def test_a_long_span_is_offered_in_hourly_averages() -> None:
    choices = history.build_range_choices(FIRST, FIRST + 60 * DAY)
    assert choices[1].label == "Whole span: 60 days (hourly averages)" and choices[1].step_s == 3600
    assert len(choices) == 2 + 61  # 00:05 on the 61st day is that day's first interval


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
