"""oesim.credits: each key's daily credits, counted per request as the real API counts
them, 401 ``Authentication failed`` when spent, refilled at midnight UTC of the simulated
clock; ``/v4/me`` reports them and the official SDK parses it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from openelectricity import OEClient

from oesim.clock import SimClock
from oesim.credits import (
    PLAN_CREDITS,
    CreditLedger,
    credit_day,
    next_reset,
    spend_one,
    used_today,
)
from oesim.testing import DEMO_KEY, SimulatorHandle, run_simulator

AUTH = {"Authorization": f"Bearer {DEMO_KEY}"}
OTHER_KEY = "sim-other-key-1111"
# 23:50 UTC: ten simulated minutes (10 wall seconds at 60x) before the credits refill.
START = datetime(2025, 10, 3, 23, 50, tzinfo=UTC)
WALL0 = 2_000_000.0
FAILED = {
    "version": "4.5.11",
    "response_status": "ERROR",
    "error": "Authentication failed",
    "success": False,
}


# ------------------------------------------------------------------------ pure functions


def test_spend_one_counts_up_to_the_allowance() -> None:
    usage, results = None, []
    for _ in range(4):
        usage, ok = spend_one(usage, 7, 3)
        results.append(ok)
    assert results == [True, True, True, False]
    assert usage == (7, 3)


def test_a_new_day_starts_from_zero() -> None:
    assert used_today((7, 3), 8) == 0
    assert spend_one((7, 3), 8, 3) == ((8, 1), True)
    assert spend_one(None, 8, 0) == ((8, 0), False)


def test_the_day_ends_at_midnight_utc() -> None:
    before = datetime(2025, 10, 3, 23, 59, 59, tzinfo=UTC).timestamp()
    midnight = datetime(2025, 10, 4, tzinfo=UTC).timestamp()
    assert credit_day(before) + 1 == credit_day(midnight)
    assert next_reset(before) == midnight
    assert next_reset(midnight) == midnight + 86_400


def test_ledger_counts_each_key_and_defaults_to_the_plan() -> None:
    ledger = CreditLedger()
    now = START.timestamp()
    assert ledger.remaining("a-key-000000", "ACADEMIC", now) == PLAN_CREDITS["ACADEMIC"] == 2000
    assert ledger.spend("a-key-000000", "COMMUNITY", now)
    assert ledger.remaining("a-key-000000", "COMMUNITY", now) == 499
    assert ledger.remaining("b-key-000000", "COMMUNITY", now) == 500
    ledger.set_remaining("b-key-000000", "COMMUNITY", now, 0)
    assert not ledger.spend("b-key-000000", "COMMUNITY", now)
    assert ledger.remaining("b-key-000000", "COMMUNITY", now + 600) == 500


# --------------------------------------------------------------- the server, in-process


class Wall:
    def __init__(self) -> None:
        self.t = WALL0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def sim(wall: Wall) -> Iterator[SimulatorHandle]:
    clock = SimClock(start=START, speed=60.0, anchor_wall_s=WALL0, wall=wall)
    keys = {DEMO_KEY: "COMMUNITY", OTHER_KEY: "COMMUNITY"}
    with run_simulator("small", keys=keys, clock=clock, credits=CreditLedger(3)) as s:
        yield s


def me(sim: SimulatorHandle, headers: dict[str, str] = AUTH) -> requests.Response:
    return requests.get(sim.url + "/me", headers=headers, timeout=10)


def market(sim: SimulatorHandle, headers: dict[str, str] = AUTH) -> requests.Response:
    params = {"metrics": "price", "date_start": "2025-10-03T00:00:00"}
    return requests.get(sim.url + "/market/network/NEM", params=params, headers=headers, timeout=10)


def credits(resp: requests.Response) -> dict[str, Any]:
    return resp.json()["data"]["credits"]


def test_credits_count_down_with_every_request(sim: SimulatorHandle) -> None:
    assert credits(me(sim)) == {"remaining": 2, "reset": "2025-10-04T00:00:00Z"}
    assert market(sim).status_code == 200
    assert credits(me(sim))["remaining"] == 0  # /me costs one too


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/facilities/", {}),
        ("/data/facilities/NEM", {"metrics": "power"}),
        ("/data/network/NEM", {"metrics": "power"}),
        ("/market/network/NEM", {"metrics": "price"}),
        ("/market/network/NEM", {}),  # a 422 still spent a credit: the key came first
        ("/data/facilities/NEM", {"metrics": "power", "date_start": "2030-01-01"}),  # a 404
    ],
)
def test_every_route_and_answer_costs_one(
    sim: SimulatorHandle, path: str, params: dict[str, str]
) -> None:
    requests.get(sim.url + path, params=params, headers=AUTH, timeout=30)
    assert credits(me(sim))["remaining"] == 1


def test_a_spent_key_gets_401_authentication_failed_until_the_reset(
    sim: SimulatorHandle, wall: Wall
) -> None:
    for _ in range(3):
        assert market(sim).status_code == 200
    refused = [market(sim), me(sim)]
    assert [r.status_code for r in refused] == [401, 401]
    assert [r.json() for r in refused] == [FAILED, FAILED]
    assert "WWW-Authenticate" not in refused[0].headers
    # the other key has its own credits
    assert credits(me(sim, {"Authorization": f"Bearer {OTHER_KEY}"}))["remaining"] == 2
    wall.t += 9.9  # 23:59:54 simulated: still the same day
    assert market(sim).status_code == 401
    wall.t += 0.2  # 00:00:06: refilled
    assert market(sim).status_code == 200
    assert credits(me(sim)) == {"remaining": 1, "reset": "2025-10-05T00:00:00Z"}


def test_requests_without_a_key_cost_nothing(wall: Wall) -> None:
    clock = SimClock(start=START, speed=60.0, anchor_wall_s=WALL0, wall=wall)
    with run_simulator("small", clock=clock, credits=CreditLedger(1), anonymous_market=True) as s:
        for _ in range(3):
            assert market(s, headers={}).status_code == 200
        assert credits(me(s))["remaining"] == 0


def test_uncounted_by_default(wall: Wall) -> None:
    with run_simulator("small") as s:
        for _ in range(3):
            market(s)
        assert credits(me(s))["remaining"] == 500


def test_the_admin_route_sets_and_reports_credits(sim: SimulatorHandle) -> None:
    url = sim.root_url + "/__sim__/credits"
    assert requests.get(url, timeout=10).json() == {"credits": {DEMO_KEY: 3, OTHER_KEY: 3}}
    answer = requests.post(url, params={"remaining": 0, "key": DEMO_KEY}, timeout=10).json()
    assert answer == {"credits": {DEMO_KEY: 0, OTHER_KEY: 3}}
    assert market(sim).status_code == 401


def test_the_admin_route_refuses_when_uncounted() -> None:
    with run_simulator("small") as s:
        resp = requests.get(s.root_url + "/__sim__/credits", timeout=10)
    assert resp.status_code == 400
    assert "credits are not counted" in resp.json()["detail"]


def test_the_sdk_parses_me_with_counted_credits(sim: SimulatorHandle, wall: Wall) -> None:
    wall.t += 1.0  # 23:51 UTC
    user = OEClient(api_key=DEMO_KEY, base_url=sim.url).get_current_user().data
    assert user.plan == "COMMUNITY"
    assert user.rate_limit is not None
    assert user.rate_limit.reset == datetime(2025, 10, 3, 23, 52, tzinfo=UTC)
    assert (user.rate_limit.limit, user.rate_limit.remaining) == (120, 120)
    body = me(sim).json()
    assert body["created_at"] == "2025-10-04T09:51:00+10:00"
    assert body["data"]["credits"] == {"remaining": 1, "reset": "2025-10-04T00:00:00Z"}
    assert datetime.fromisoformat(body["data"]["credits"]["reset"]) - START == timedelta(minutes=10)
