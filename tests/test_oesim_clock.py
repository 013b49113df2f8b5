"""oesim.clock: the simulated clock as a pure function, and live data that ends at the last
settled interval by it. The server runs in-process on a clock whose wall time the test moves,
so minutes pass without sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest
import requests

from nemlive.common.timeguard import is_future
from oesim.clock import (
    DEFAULT_START_BEHIND_S,
    INTERVAL_S,
    SETTLE_DELAY_S,
    SimClock,
    make_clock,
    newest_settled,
    parse_clock_start,
    settled_end,
    simulated_epoch,
    wall_seconds_behind,
)
from oesim.dataset import Dataset
from oesim.server import load_dataset
from oesim.testing import DEMO_KEY, SimulatorHandle, run_simulator

AUTH = {"Authorization": f"Bearer {DEMO_KEY}"}
NEM = timezone(timedelta(hours=10))
# 12:17:30 NEM on a day of the shipped week: the newest settled interval is 12:05.
START = datetime(2025, 10, 3, 12, 17, 30, tzinfo=NEM)
WALL0 = 1_000_000.0


def stamp(dt: datetime) -> str:
    return dt.astimezone(NEM).isoformat(timespec="seconds")


# ------------------------------------------------------------------------ pure functions


def test_speed_1_keeps_wall_time_from_the_start() -> None:
    start = START.timestamp()
    assert simulated_epoch(WALL0, WALL0, start, 1.0) == start
    assert simulated_epoch(WALL0 + 42.5, WALL0, start, 1.0) == start + 42.5


def test_speed_60_settles_an_interval_every_5_wall_seconds() -> None:
    start = START.timestamp()
    assert simulated_epoch(WALL0 + 5, WALL0, start, 60.0) == start + INTERVAL_S
    settled = [newest_settled(simulated_epoch(WALL0 + w, WALL0, start, 60.0)) for w in (0, 5, 10)]
    assert [b - a for a, b in pairwise(settled)] == [300, 300]


def test_a_start_in_the_past_runs_from_there() -> None:
    past = datetime(2024, 2, 29, 23, 58, tzinfo=UTC)
    clock = SimClock(start=past, speed=1.0, anchor_wall_s=WALL0, wall=lambda: WALL0 + 180)
    assert clock() == past + timedelta(minutes=3)
    assert clock.epoch(WALL0) == past.timestamp()


@pytest.mark.parametrize(
    ("after_end", "newest"),
    [
        (SETTLE_DELAY_S - 0.001, "12:00"),  # not yet: the 12:05 interval is still withheld
        (SETTLE_DELAY_S, "12:05"),  # exactly the delay after its end
        (SETTLE_DELAY_S + INTERVAL_S - 0.001, "12:05"),
    ],
)
def test_an_interval_settles_the_delay_after_its_end(after_end: float, newest: str) -> None:
    end = datetime(2025, 10, 3, 12, 5, tzinfo=NEM).timestamp()
    settled = newest_settled(end + after_end)
    assert datetime.fromtimestamp(settled, NEM).strftime("%H:%M") == newest
    assert settled_end(end + after_end) == settled + INTERVAL_S


def test_settled_intervals_step_evenly_in_nem_time_across_sydney_dst() -> None:
    """Sydney moved its clocks at 02:00 on 5 October 2025; NEM time (+10:00) does not."""
    around = datetime(2025, 10, 5, 1, 30, tzinfo=NEM).timestamp()
    stamps = [
        datetime.fromtimestamp(newest_settled(around + i * INTERVAL_S), NEM) for i in range(24)
    ]
    assert all(b - a == timedelta(minutes=5) for a, b in pairwise(stamps))
    assert {s.isoformat()[-6:] for s in stamps} == {"+10:00"}
    assert stamps[0].strftime("%H:%M") == "01:20" and stamps[-1].strftime("%H:%M") == "03:15"


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2025-10-07T12:00", "2025-10-07T02:00:00+00:00"),  # naive = NEM time
        ("2025-10-07T12:00:00+10:00", "2025-10-07T02:00:00+00:00"),
        ("2025-10-07T02:00Z", "2025-10-07T02:00:00+00:00"),
        ("2025-10-07", "2025-10-06T14:00:00+00:00"),
    ],
)
def test_clock_start_parses_iso_times(text: str, utc: str) -> None:
    assert parse_clock_start(text).isoformat() == utc


def test_a_bad_clock_start_says_what_to_write() -> None:
    with pytest.raises(ValueError, match=r"not an ISO time: use e\.g\. 2025-10-07T12:00"):
        parse_clock_start("yesterday")


def test_make_clock() -> None:
    with pytest.raises(ValueError, match="--clock-speed must be above 0"):
        make_clock(None, 0)
    wall = make_clock(None, 1.0)
    assert abs(wall().timestamp() - datetime.now(UTC).timestamp()) < 5
    fast = make_clock(START, 60.0)
    assert isinstance(fast, SimClock) and fast.speed == 60.0
    assert abs(fast().timestamp() - START.timestamp()) < 60 * 5


class Wall:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.t = WALL0

    def __call__(self) -> float:
        return self.t


def test_a_clock_at_speed_1_starts_now_and_any_other_two_days_before() -> None:
    wall = Wall()
    assert make_clock(None, 1.0, wall)().timestamp() == WALL0
    assert DEFAULT_START_BEHIND_S == 2 * 86_400
    for speed in (0.5, 2.0, 60.0, 240.0):
        assert make_clock(None, speed, wall)().timestamp() == WALL0 - 2 * 86_400
    assert make_clock(START, 60.0, wall)() == START  # an explicit start wins


@pytest.mark.parametrize(
    ("speed", "minutes"), [(60.0, 48.8), (240.0, 12.05), (10.0, 320.0), (1.0, float("inf"))]
)
def test_how_long_a_fast_clock_stays_behind_the_wall_clock(speed: float, minutes: float) -> None:
    assert wall_seconds_behind(speed) / 60 == pytest.approx(minutes, rel=1e-3)


def test_at_60x_the_default_start_settles_nothing_the_time_guard_rejects_for_49_minutes() -> None:
    wall = Wall()
    clock = make_clock(None, 60.0, wall)
    wall.t = WALL0 + 49 * 60
    assert not is_future(newest_settled(clock().timestamp()), wall.t)
    wall.t = WALL0 + 50 * 60
    assert is_future(newest_settled(clock().timestamp()), wall.t)


# ------------------------------------------------------------------ the server on a clock


@pytest.fixture(scope="module")
def nem() -> Dataset:
    return load_dataset("nem")


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def live(nem: Dataset, wall: Wall) -> Iterator[SimulatorHandle]:
    clock = SimClock(start=START, speed=60.0, anchor_wall_s=WALL0, wall=wall)
    with run_simulator(nem, clock=clock, live=True) as s:
        yield s


def get(sim: SimulatorHandle, path: str, **params: Any) -> requests.Response:
    return requests.get(sim.url + path, params=params, headers=AUTH, timeout=60)


def market(sim: SimulatorHandle, **params: Any) -> requests.Response:
    return get(sim, "/market/network/NEM", metrics=["price", "demand"], **params)


def last_stamps(body: dict[str, Any]) -> set[str]:
    return {r["data"][-1][0] for s in body["data"] for r in s["results"]}


def test_live_default_window_ends_at_the_last_settled_interval(live: SimulatorHandle) -> None:
    body = market(live, date_start="2025-10-03T11:00:00").json()
    assert last_stamps(body) == {"2025-10-03T12:05:00+10:00"}
    assert body["created_at"] == "2025-10-03T12:17:30+10:00"


def test_data_appears_as_the_clock_advances(live: SimulatorHandle, wall: Wall) -> None:
    seen = []
    for _ in range(4):
        body = market(live, date_start="2025-10-03T11:00:00").json()
        seen.append(max(last_stamps(body)))
        wall.t += 5  # 5 wall seconds at 60x: one interval
    assert [s[11:16] for s in seen] == ["12:05", "12:10", "12:15", "12:20"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/market/network/NEM", {"metrics": ["price", "flow_imports", "flow_exports"]}),
        ("/market/network/NEM", {"metrics": "demand", "primary_grouping": "network_region"}),
        ("/data/facilities/NEM", {"metrics": ["power", "emissions"], "facility_code": "BAYSW"}),
        ("/data/network/NEM", {"metrics": "power", "secondary_grouping": "fueltech"}),
    ],
)
def test_no_interval_after_the_settled_one_even_when_asked(
    live: SimulatorHandle, wall: Wall, path: str, params: dict[str, Any]
) -> None:
    wall.t += 2.5  # half an interval: 12:20 NEM, newest settled 12:10
    body = get(
        live, path, date_start="2025-10-03T11:00:00", date_end="2025-10-04T00:00:00", **params
    )
    assert body.status_code == 200
    assert last_stamps(body.json()) == {"2025-10-03T12:10:00+10:00"}


@pytest.mark.parametrize(
    ("path", "params", "text"),
    [
        (
            "/market/network/NEM",
            {"metrics": "price"},
            "No market data available for network NEM in the specified time range",
        ),
        (
            "/data/facilities/NEM",
            {"metrics": "power", "facility_code": "BAYSW"},
            "No data available for facility=['BAYSW'] in the specified time range",
        ),
    ],
)
def test_a_window_after_the_settled_interval_is_404(
    live: SimulatorHandle, path: str, params: dict[str, Any], text: str
) -> None:
    resp = get(
        live, path, date_start="2025-10-03T12:10:00", date_end="2025-10-03T13:00:00", **params
    )
    assert resp.status_code == 404
    assert resp.json()["error"] == text


def test_without_live_a_future_window_is_served(nem: Dataset, wall: Wall) -> None:
    clock = SimClock(start=START, speed=60.0, anchor_wall_s=WALL0, wall=wall)
    with run_simulator(nem, clock=clock) as s:
        body = market(s, date_start="2025-10-03T11:00:00", date_end="2025-10-03T14:00:00").json()
    assert last_stamps(body) == {"2025-10-03T13:55:00+10:00"}


def test_the_rooftop_forecast_alone_reaches_past_now(live: SimulatorHandle) -> None:
    body = get(
        live,
        "/market/network/NEM",
        metrics="solar_rooftop_forecast",
        date_start="2025-10-03T12:00:00",
        date_end="2025-10-03T14:00:00",
    ).json()
    assert last_stamps(body) == {"2025-10-03T13:55:00+10:00"}


def test_facilities_were_last_seen_at_the_settled_interval(
    live: SimulatorHandle, wall: Wall
) -> None:
    wall.t += 10
    body = get(live, "/facilities/", facility_code="BAYSW").json()
    seen = {u["data_last_seen"] for u in body["data"][0]["units"]}
    assert seen == {"2025-10-03T12:15:00+10:00"}


def test_live_values_are_the_weeks_values(nem: Dataset, live: SimulatorHandle) -> None:
    """Deterministic for (seed, code, time): what the live server settles is what the
    simulator serves for the same stamps at any other time."""
    window = {"date_start": "2025-10-03T10:00:00", "date_end": "2025-10-03T12:10:00"}
    params = {"facility_code": ["BAYSW", "HORNSDPR"], "metrics": ["power", "emissions"], **window}
    live_units = get(live, "/data/facilities/NEM", **params).json()["data"]
    live_market = market(live, primary_grouping="network_region", **window).json()["data"]
    week_clock = lambda: datetime(2025, 10, 9, tzinfo=UTC)  # noqa: E731 - after the week
    with run_simulator(nem, clock=week_clock) as week:
        assert get(week, "/data/facilities/NEM", **params).json()["data"] == live_units
        assert market(week, primary_grouping="network_region", **window).json()["data"] == (
            live_market
        )
    assert len(live_units[0]["results"]) > 4  # BAYSW's units and the battery's
    assert max(last_stamps({"data": live_units})) == "2025-10-03T12:05:00+10:00"


def test_the_clock_route_tells_the_simulated_now(live: SimulatorHandle, wall: Wall) -> None:
    wall.t += 5
    status = requests.get(live.root_url + "/__sim__/clock", timeout=10).json()
    assert status == {
        "now": "2025-10-03T02:22:30Z",
        "speed": 60.0,
        "live": True,
        "newest_settled": "2025-10-03T12:10:00+10:00",
    }
