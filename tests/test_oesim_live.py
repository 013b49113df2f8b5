"""``python -m oesim --live``: a real simulator process on a sped-up clock, over real HTTP.

At ``--clock-speed 60`` an interval settles every 5 wall seconds, so these tests watch
intervals arrive, a key run out of credits and its credits come back, in seconds.
"""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest
import requests
from openelectricity import OEClient

from oesim.testing import DEMO_KEY
from tests.conftest import ROOT, clean_subprocess_env

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {DEMO_KEY}"}
NEM = timezone(timedelta(hours=10))


class Sim:
    """A ``python -m oesim`` process: ``url`` ends in ``/v4``; ``root`` has ``/__sim__``."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "oesim", *args],
            cwd=ROOT,
            env=clean_subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("OE simulator listening on "):
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"the simulator did not start: {line!r} {err!r}")
        self.url = line.rsplit(" ", 1)[1]
        self.root = self.url.removesuffix("/v4")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=10)
        assert self.proc.returncode == 0, err
        return err

    def clock(self) -> dict[str, Any]:
        return requests.get(self.root + "/__sim__/clock", timeout=10).json()

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.url + path, params=params, headers=AUTH, timeout=60)


@contextmanager
def run(*args: str) -> Iterator[Sim]:
    sim = Sim(*args)
    try:
        yield sim
    finally:
        err = sim.stop()
        assert "Traceback" not in err


@pytest.fixture
def live60() -> Iterator[Sim]:
    # the shipped week's seed, at 12:17:30 NEM on one of its days
    with run(
        "--dataset", "nem", "--seed", "2025", "--live",
        "--clock-speed", "60", "--clock-start", "2025-10-03T12:17:30", "--credits", "100",
    ) as sim:  # fmt: skip
        yield sim


def newest(body: dict[str, Any]) -> str:
    return max(r["data"][-1][0] for s in body["data"] for r in s["results"])


def test_a_new_interval_settles_every_5_seconds_and_nothing_after_it(live60: Sim) -> None:
    """Poll as a follower does (default ``date_end``): each answer ends exactly at the
    newest settled interval of the moment, and new intervals arrive one by one."""
    seen: list[str] = []
    deadline = time.monotonic() + 40
    while len(set(seen)) < 3 and time.monotonic() < deadline:
        before = live60.clock()["newest_settled"]
        body = live60.get(
            "/market/network/NEM",
            metrics=["price", "demand", "flow_imports", "flow_exports"],
            primary_grouping="network_region",
            date_start="2025-10-03T11:00:00",
        ).json()
        after = live60.clock()["newest_settled"]
        assert before <= newest(body) <= after  # never an interval that has not settled
        seen.append(newest(body))
        time.sleep(1.0)
    stamps = sorted({datetime.fromisoformat(s) for s in seen})
    assert len(stamps) >= 3, seen
    assert stamps[0] == datetime(2025, 10, 3, 12, 5, tzinfo=NEM)
    assert all(b - a == timedelta(minutes=5) for a, b in pairwise(stamps))


def test_facility_data_follows_the_clock_too(live60: Sim) -> None:
    params = {"facility_code": "BAYSW", "metrics": ["power", "emissions"]}
    body = live60.get("/data/facilities/NEM", date_start="2025-10-03T11:00:00", **params).json()
    assert newest(body) <= live60.clock()["newest_settled"]
    future = live60.get(
        "/data/facilities/NEM", date_start="2025-10-03T13:00:00", date_end="2025-10-03T14:00:00",
        **params,
    )  # fmt: skip
    assert future.status_code == 404


def test_live_values_equal_the_shipped_week(live60: Sim) -> None:
    """Same seed, code and time: the live simulator settles the values of consolidate.csv."""
    body = live60.get(
        "/market/network/NEM",
        metrics=["price", "demand"],
        primary_grouping="network_region",
        date_start="2025-10-03T11:30:00",
    ).json()
    power = live60.get(
        "/data/facilities/NEM",
        facility_code="BAYSW",
        metrics="power",
        date_start="2025-10-03T11:30:00",
    ).json()
    with (ROOT / "consolidate.csv").open() as f:
        rows = {r["timestamp"]: r for r in csv.DictReader(f)}
    checked = 0
    for series in body["data"]:
        for result in series["results"]:
            column = f"{series['metric']}_{result['columns']['region']}"
            for stamp, value in result["data"]:
                assert float(rows[stamp][column]) == pytest.approx(value, abs=5.01e-4), (
                    column
                )  # 3 dp
                checked += 1
    for stamp, _ in power["data"][0]["results"][0]["data"]:
        units = [r["data"] for r in power["data"][0]["results"]]
        total = sum(v for d in units for t, v in d if t == stamp and v is not None)
        assert float(rows[stamp]["power_BAYSW"]) == pytest.approx(total, abs=1e-3)
    assert checked >= 8 * 5 * 2  # 11:30 to 12:05 at least, five regions, two metrics


def test_credits_run_out_and_come_back_after_simulated_midnight() -> None:
    """A key with 3 credits a day at 120x: ten simulated minutes (5 wall seconds) before
    midnight UTC, /me (read by the official SDK) and two requests spend them; the next
    request is refused with the real 401 until midnight, then works again."""
    with run(
        "--dataset", "small", "--live", "--credits", "3",
        "--clock-speed", "120", "--clock-start", "2025-10-03T23:50:00Z",
    ) as sim:  # fmt: skip
        user = OEClient(api_key=DEMO_KEY, base_url=sim.url).get_current_user().data
        assert user.plan == "COMMUNITY" and user.rate_limit is not None
        me = sim.get("/me").json()["data"]
        assert me["credits"] == {"remaining": 1, "reset": "2025-10-04T00:00:00Z"}
        market = {"metrics": "price", "date_start": "2025-10-03T09:00:00"}
        assert sim.get("/market/network/NEM", **market).status_code == 200
        refused = sim.get("/market/network/NEM", **market)
        assert sim.clock()["now"] < "2025-10-04T00:00:00Z", "the machine was too slow"
        assert refused.status_code == 401
        assert refused.json()["error"] == "Authentication failed"
        deadline = time.monotonic() + 30
        while sim.clock()["now"] < "2025-10-04T00:00:00Z" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sim.get("/market/network/NEM", **market).status_code == 200
        credits = sim.get("/me").json()["data"]["credits"]
        assert credits == {"remaining": 1, "reset": "2025-10-05T00:00:00Z"}


@pytest.mark.parametrize(
    ("plan", "credits", "days"), [("COMMUNITY", 500, 8), ("ACADEMIC", 2000, 30), ("PRO", 5000, 30)]
)
def test_the_plan_sets_the_daily_credits_and_ranges(plan: str, credits: int, days: int) -> None:
    with run("--dataset", "small", "--live", "--plan", plan) as sim:
        me = sim.get("/me").json()["data"]
        end = datetime(2025, 9, 1)
        ok, too_long = (
            sim.get(
                "/market/network/NEM",
                metrics="price",
                date_start=(end - timedelta(days=n)).isoformat(),
                date_end=end.isoformat(),
            )
            for n in (days, days + 1)
        )
    assert (me["plan"], me["credits"]["remaining"]) == (plan, credits - 1)
    assert ok.status_code == 200
    assert too_long.json()["error"] == (
        f"Date range too large for 5m interval. Maximum range is {days} days."
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--live", "--clock-speed", "0"], "--clock-speed must be above 0, not 0"),
        (["--live", "--clock-start", "soon"], "--clock-start 'soon' is not an ISO time"),
        (["--credits", "-1"], "--credits must be 0 or more, not -1"),
    ],
)
def test_live_usage_errors_are_one_line(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "oesim", *args],
        cwd=ROOT,
        env=clean_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"oesim: {message}")
    assert "Traceback" not in result.stderr
