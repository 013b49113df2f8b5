"""The follower's schedule on an injected wall clock: which polls sweep the facilities.

No simulator: a stub client answers at once and advances the fake clock by each request's
latency, so the schedule is checked for any latency, not for the machine's luck.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nemlive.common.nemtime import INTERVAL_S
from nemlive.extract import rollup
from nemlive.extract.cachekeeper import Follower, FollowSettings
from nemlive.extract.livecache import Watermarks
from nemlive.extract.pipeline import Extraction

SPEED = 60.0  # API seconds per wall second, as test_follow.py runs the simulator
POLL_S = 5.0  # wall seconds: one interval on that clock
API_START = datetime(2025, 10, 15, 0, 0, tzinfo=UTC)


class FakeWall:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class StubClient:
    """Answers /v4/me with the API's time and lots of credits; data requests with nothing.
    Each request takes the next of ``latencies`` (wall seconds) on the fake clock."""

    def __init__(self, wall: FakeWall, latencies: list[float]) -> None:
        self.wall = wall
        self.latencies = latencies
        self.stats = SimpleNamespace(total=0, sent={})
        self.batches = 0

    def _request(self) -> None:
        self.stats.total += 1
        self.wall.now += self.latencies[self.stats.total % len(self.latencies)]

    def api_now(self) -> datetime:
        return API_START + timedelta(seconds=(self.wall.now - 1000.0) * SPEED)

    def fetch_me(self) -> dict:
        created = self.api_now()  # the server stamps its answer, which then travels
        self._request()
        reset = (API_START + timedelta(days=1)).isoformat().replace("+00:00", "Z")
        return {
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "data": {"plan": "ENTERPRISE", "credits": {"remaining": 10**7, "reset": reset}},
        }

    def fetch_market(self, *args: object) -> None:
        self._request()

    def fetch_facility_data(self, *args: object) -> None:
        self._request()
        self.batches += 1


def follower(tmp_path: Path, latencies: list[float]) -> tuple[Follower, StubClient, FakeWall]:
    wall = FakeWall()
    client = StubClient(wall, latencies)
    settings = FollowSettings(
        out=tmp_path / "consolidate.csv",
        facilities_out=tmp_path / "facilities.csv",
        keep_days=1,
        poll_every=POLL_S,
        api_clock_speed=SPEED,
    )
    extraction = Extraction("NEM", API_START.replace(tzinfo=None), API_START.replace(tzinfo=None))
    f = Follower(extraction, settings, client, threading.Event(), wall=wall)  # type: ignore[arg-type]
    f.lookup = rollup.Lookup(
        "NEM",
        tuple(
            rollup.FacilityInfo(
                f"F{i:02d}",
                f"F{i:02d}",
                "NSW1",
                -33.0,
                151.0,
                (rollup.UnitInfo(f"U{i:02d}", "coal_black", "operating", 100.0),),
            )
            for i in range(40)
        ),
        {f"U{i:02d}": f"F{i:02d}" for i in range(40)},
        {f"U{i:02d}": 1.0 for i in range(40)},
    )
    f.refresh_me()
    f.replan()
    return f, client, wall


@pytest.mark.parametrize(
    "latencies",
    [
        [0.0],
        [0.05, 0.4, 0.1, 0.3, 0.02, 0.6],  # each poll's requests faster or slower than the last
        [0.9, 0.01],
    ],
)
def test_with_a_sweep_planned_every_poll_each_poll_sweeps_whatever_the_latency(
    tmp_path: Path, latencies: list[float]
) -> None:
    f, client, wall = follower(tmp_path, latencies)
    assert f.plan is not None and f.plan.sweep_every_s == POLL_S * SPEED
    swept = []
    started = wall.now
    for poll in range(12):
        before = client.batches
        f.poll(force_sweep=poll == 0, started=started)
        swept.append(client.batches > before)
        assert wall.now < started + POLL_S  # the poll took less than the period
        started += POLL_S  # the loop starts the next poll one period after this one
        wall.now = started
    assert all(swept), swept


def test_a_sweep_planned_every_other_poll_runs_every_other_poll(tmp_path: Path) -> None:
    f, client, wall = follower(tmp_path, [0.05, 0.4, 0.1, 0.3])
    f.settings = FollowSettings(**{**vars(f.settings), "poll_every": POLL_S / 2})
    f.replan()
    assert f.plan is not None and f.plan.sweep_every_s == POLL_S * SPEED
    swept = []
    started = wall.now
    for poll in range(12):
        before = client.batches
        f.poll(force_sweep=poll == 0, started=started)
        swept.append(client.batches > before)
        started += POLL_S / 2
        wall.now = started
    assert swept == [True, False] * 6, swept


def test_a_sweep_ahead_of_the_market_keeps_the_cache_to_keep_days(tmp_path: Path) -> None:
    # One poll: the market reached `newest`, then a sweep brought one interval more.
    f, _, _ = follower(tmp_path, [0.0])
    newest = int(f.clock.now()) // INTERVAL_S * INTERVAL_S - 2 * INTERVAL_S
    day = np.arange(newest - 287 * INTERVAL_S, newest + INTERVAL_S, INTERVAL_S, dtype=np.int64)
    ahead = np.append(day, newest + INTERVAL_S)
    market = [rollup.Series(m, "NSW1", day, np.full(len(day), 50.0)) for m in ("price", "demand")]
    facility = [rollup.Series("power", "U01", ahead, np.full(len(ahead), 80.0))]
    f.marks = Watermarks(market_to=newest)
    f.merge(facility, market)
    assert f.table is not None
    assert len(f.table.times) == 288  # --keep 1: a day of intervals
    assert int(f.table.times[-1]) == newest + INTERVAL_S  # ending at the newest
