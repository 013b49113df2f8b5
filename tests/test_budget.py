"""nemlive.extract.budget: /v4/me read tolerantly, and plans that never spend the reserve."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from nemlive.extract import budget
from nemlive.extract.budget import Credits, plan_budget, read_me

MIDNIGHT = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
NOON = MIDNIGHT + timedelta(hours=12)
NEM_BATCHES = 14  # ~420 facilities, 30 a request


def _spent(plan: budget.BudgetPlan) -> int:
    """Requests the plan makes until its reset: market polls, and sweeps of batches + /me."""
    market = math.ceil(plan.window_s / plan.market_every_s)
    if plan.market_every_s >= plan.window_s:
        market = 0
    sweeps = 0 if plan.sweep_every_s is None else math.floor(plan.window_s / plan.sweep_every_s)
    return market + sweeps * plan.sweep_requests


@pytest.mark.parametrize(
    ("plan", "every_min"),
    [
        pytest.param("COMMUNITY", (100, 140), id="community-about-2h"),
        pytest.param("ACADEMIC", (10, 15), id="academic-about-12-minutes"),
        pytest.param("PRO", (5, 5), id="pro-every-interval"),
        pytest.param("ENTERPRISE", (5, 5), id="enterprise-every-interval"),
    ],
)
def test_a_full_day_gives_each_plan_its_sweep_cadence(plan: str, every_min: tuple) -> None:
    p = plan_budget(Credits(plan=plan, reset=MIDNIGHT + timedelta(days=1)), NEM_BATCHES, MIDNIGHT)
    assert p.market_every_s == 300
    assert p.sweep_every_s is not None
    lo, hi = every_min
    assert lo * 60 <= p.sweep_every_s <= hi * 60
    if p.credits is not None:
        assert _spent(p) <= p.credits - p.reserve


def test_the_free_plan_spends_at_most_its_credits_less_the_reserve() -> None:
    p = plan_budget(Credits(plan="COMMUNITY", remaining=500), NEM_BATCHES, MIDNIGHT)
    assert p.reserve == 25
    assert p.market_requests == 288
    assert p.sweeps == 12 and p.sweep_requests == 15  # 14 batches and the /v4/me before them
    assert 288 + 12 * 15 <= 500 - 25
    assert _spent(p) <= 475


@pytest.mark.parametrize(
    "credits",
    [
        pytest.param(Credits(), id="nothing-known"),
        pytest.param(Credits(plan="MYSTERY"), id="unknown-plan"),
        pytest.param(Credits(plan="COMMUNITY"), id="no-credits-figure"),
    ],
)
def test_missing_fields_fall_back_to_500_a_day_until_the_next_utc_midnight(
    credits: Credits,
) -> None:
    p = plan_budget(credits, NEM_BATCHES, NOON)
    assert p.credits == 500
    assert p.reset == MIDNIGHT + timedelta(days=1)
    assert p.window_s == 12 * 3600
    assert _spent(p) <= 500 - p.reserve


def test_no_credits_plans_no_request_before_the_reset() -> None:
    p = plan_budget(
        Credits(plan="COMMUNITY", remaining=0, reset=NOON + timedelta(hours=3)), 14, NOON
    )
    assert p.spendable == 0
    assert p.market_every_s == p.window_s == 3 * 3600
    assert p.market_requests == 0 and p.sweep_every_s is None and p.sweeps == 0


def test_credits_under_the_reserve_are_not_spent() -> None:
    p = plan_budget(Credits(plan="COMMUNITY", remaining=20), 14, NOON)
    assert p.reserve == 25 and p.spendable == 0
    assert p.market_requests == 0 and p.sweep_every_s is None


def test_when_only_some_market_polls_fit_they_are_spaced_out_and_no_sweep_is_planned() -> None:
    p = plan_budget(Credits(plan="COMMUNITY", remaining=125), 14, NOON)
    assert p.spendable == 100
    assert p.market_every_s == pytest.approx(12 * 3600 / 100)
    assert p.sweep_every_s is None
    assert _spent(p) <= 100


def test_a_reset_in_the_past_is_moved_to_the_next_day_and_the_figure_kept() -> None:
    stale = NOON - timedelta(hours=2)
    p = plan_budget(Credits(plan="COMMUNITY", remaining=30, reset=stale), 14, NOON)
    assert p.reset == stale + timedelta(days=1)
    assert p.credits == 30  # not assumed refilled
    assert _spent(p) <= 30 - p.reserve


def test_a_huge_plan_sweeps_every_interval_and_no_more_often() -> None:
    p = plan_budget(Credits(plan="ENTERPRISE", remaining=10**9), 14, NOON)
    assert p.sweep_every_s == 300
    assert p.sweeps == 12 * 12


def test_enterprise_without_a_figure_is_unlimited() -> None:
    p = plan_budget(Credits(plan="ENTERPRISE"), 14, NOON)
    assert p.credits is None and p.sweep_every_s == 300
    assert "unlimited" in p.describe()
    assert budget.may_spend(None, 10**6, p.reserve)


def test_a_faster_poll_costs_more_and_leaves_fewer_sweeps() -> None:
    slow = plan_budget(Credits(plan="ACADEMIC"), 14, MIDNIGHT)
    fast = plan_budget(Credits(plan="ACADEMIC"), 14, MIDNIGHT, poll_every_s=60)
    assert fast.market_requests == 5 * slow.market_requests
    assert fast.sweep_every_s is not None and slow.sweep_every_s is not None
    assert fast.sweep_every_s > slow.sweep_every_s
    assert _spent(fast) <= 2000 - fast.reserve


@pytest.mark.parametrize("remaining", [0, 1, 24, 25, 26, 300, 313, 500, 2000, 10**7])
@pytest.mark.parametrize("hours_left", [0.01, 1, 6, 23.99])
@pytest.mark.parametrize("batches", [0, 1, 14, 40])
def test_no_plan_spends_into_the_reserve(remaining: int, hours_left: float, batches: int) -> None:
    reset = NOON + timedelta(hours=hours_left)
    p = plan_budget(Credits(plan="COMMUNITY", remaining=remaining, reset=reset), batches, NOON)
    assert _spent(p) <= max(remaining - p.reserve, 0)
    if p.sweep_every_s is not None:
        assert p.sweep_every_s >= 300


def test_may_spend_keeps_the_reserve() -> None:
    assert budget.may_spend(30, 5, 25)
    assert not budget.may_spend(30, 6, 25)


def test_read_me_takes_plan_credits_reset_and_the_servers_clock() -> None:
    payload = {
        "created_at": "2026-11-30T17:44:06+11:00",
        "data": {
            "plan": "community",
            "rate_limit": {"limit": 120, "remaining": 120, "reset": "2026-11-30T06:45:00Z"},
            "credits": {"remaining": 497, "reset": "2026-12-01T00:00:00Z"},
        },
    }
    me = read_me(payload)
    assert me == Credits(
        plan="COMMUNITY",
        remaining=497,
        reset=datetime(2026, 12, 1, tzinfo=UTC),
        server_time=datetime(2026, 11, 30, 6, 44, 6, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({}, id="empty"),
        pytest.param({"data": None}, id="no-data"),
        pytest.param({"data": {"credits": None, "plan": None}}, id="nulls"),
        pytest.param({"data": {"credits": {"remaining": "lots", "reset": "soon"}}}, id="garbage"),
        pytest.param({"data": {"credits": {"remaining": True, "reset": 5}}}, id="wrong-types"),
        pytest.param({"data": {"credits": {"remaining": float("nan")}}}, id="nan"),
        pytest.param({"data": {"credits": {"reset": "2026-12-01T00:00:00"}}}, id="naive-reset"),
        pytest.param({"data": []}, id="data-a-list"),
    ],
)
def test_read_me_leaves_what_it_cannot_read_unknown(payload: dict) -> None:
    me = read_me(payload)
    assert me.remaining is None and me.reset is None and me.server_time is None


def test_read_me_reads_the_older_meta_shape() -> None:
    me = read_me({"data": {"plan": "ACADEMIC", "meta": {"remaining": 1200}}})
    assert me.plan == "ACADEMIC" and me.remaining == 1200


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-3, "0 s"),
        (45, "45 s"),
        (300, "5 min"),
        (7200, "2 h"),
        (7800, "2 h 10 min"),
        (90000, "1 d 1 h"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert budget.format_duration(seconds) == text


# --- which source follows the 5-minute stream (--source auto) ----------------------------------


def _plan_sweeping_every(seconds: float | None) -> budget.BudgetPlan:
    p = plan_budget(Credits(plan="PRO", reset=MIDNIGHT + timedelta(days=1)), NEM_BATCHES, MIDNIGHT)
    return replace(p, sweep_every_s=seconds)


@pytest.mark.parametrize(
    ("every", "source"),
    [
        pytest.param(300.0, "oe", id="exactly-one-interval"),
        pytest.param(299.0, "oe", id="under-one-interval"),
        pytest.param(301.0, "nemweb", id="one-second-over"),
        pytest.param(7200.0, "nemweb", id="two-hours"),
        pytest.param(None, "nemweb", id="no-sweep-fits"),
    ],
)
def test_auto_follows_oe_only_when_it_sweeps_every_interval(
    every: float | None, source: str
) -> None:
    assert budget.choose_stream_source(_plan_sweeping_every(every)) == source


def test_auto_without_a_plan_follows_nemweb() -> None:
    assert budget.choose_stream_source(None) == "nemweb"


@pytest.mark.parametrize(
    ("plan", "source"),
    [("COMMUNITY", "nemweb"), ("ACADEMIC", "nemweb"), ("PRO", "oe"), ("ENTERPRISE", "oe")],
)
def test_a_full_day_of_each_plan_chooses_its_source(plan: str, source: str) -> None:
    p = plan_budget(Credits(plan=plan, reset=MIDNIGHT + timedelta(days=1)), NEM_BATCHES, MIDNIGHT)
    assert budget.choose_stream_source(p) == source


def test_unlimited_credits_follow_oe() -> None:
    p = plan_budget(Credits(plan="ENTERPRISE"), NEM_BATCHES, NOON)
    assert p.credits is None
    assert budget.choose_stream_source(p) == "oe"


def test_the_choice_is_one_line_that_says_why() -> None:
    free = plan_budget(
        Credits(plan="COMMUNITY", reset=MIDNIGHT + timedelta(days=1)), NEM_BATCHES, MIDNIGHT
    )
    line = budget.describe_source_choice(free, "nemweb")
    assert line.startswith("free plan sweeps facilities every ")
    assert line.endswith(
        ": following NEMweb for the 5-minute stream; Open Electricity for the facility list"
    )
    none = budget.describe_source_choice(_plan_sweeping_every(None), "nemweb")
    assert none.startswith("no facility sweep fits")
    pro = budget.describe_source_choice(_plan_sweeping_every(300.0), "oe")
    assert pro.startswith("PRO plan sweeps facilities every interval")
    assert "\n" not in line + none + pro
