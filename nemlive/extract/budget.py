"""The follower's credit budget: how often it may poll the market and sweep the facilities.

Pure: the answer of ``GET /v4/me`` (read by :func:`read_me`), the number of facility batches
and the API's current time in, a :class:`BudgetPlan` out. Nothing here reads a clock.

**What a request costs.** The API counts credits per key and does not publish a price list
(docs/oe-api.md §1): we assume one credit per request of any kind, ``/v4/me`` included, and
plan with that. A sweep is one request per batch of 30 facilities plus the ``/v4/me`` that
re-plans before it.

**The plan.** Until the credits reset (``credits.reset``; the next UTC midnight when the
answer has none), keep a reserve (``margin`` of the daily allowance, at least
``MIN_RESERVE``) unspent, poll the market once per interval (or every ``poll_every_s``), and
spread the facility sweeps that the rest pays for evenly over the time left, never more often
than once per interval. When even the market polls do not fit, they are spaced out to fit and
no sweep is planned; with nothing to spend, nothing is asked before the reset. Times are the
API's (a sped-up simulator's clock runs faster than ours: the caller converts).

With a full day ahead that gives: COMMUNITY (500 credits) a sweep of 14 batches about every
2 h; ACADEMIC (2,000) about every 13 min; PRO (5,000) and ENTERPRISE every interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

INTERVAL_S = 300
# Daily credits per plan (docs/oe-api.md §1); None = unlimited.
PLAN_DAILY_CREDITS: dict[str, int | None] = {
    "COMMUNITY": 500,
    "ACADEMIC": 2_000,
    "PRO": 5_000,
    "ENTERPRISE": None,
}
FALLBACK_DAILY_CREDITS = 500  # the free plan: what a key without a known plan gets
DEFAULT_MARGIN = 0.05  # of the daily allowance, kept unspent
MIN_RESERVE = 5
ME_COST = 1  # the /v4/me read before each sweep
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Credits:
    """What ``/v4/me`` says about the key; None where the answer does not say.

    ``reset``: when the credits come back (aware). ``server_time``: the answer's
    ``created_at``, the API's clock (aware).
    """

    plan: str | None = None
    remaining: int | None = None
    reset: datetime | None = None
    server_time: datetime | None = None


@dataclass(frozen=True)
class BudgetPlan:
    """How to spend the credits until ``reset``. Seconds are on the API's clock.

    ``credits``: what is left until then (None = unlimited). ``sweep_every_s`` is None when
    no sweep fits before the reset; ``market_every_s`` equals the time to the reset when not
    even one market poll does.
    """

    plan: str
    reset: datetime
    window_s: float
    credits: int | None
    reserve: int
    market_every_s: float
    market_requests: int
    sweep_requests: int
    sweeps: int
    sweep_every_s: float | None

    @property
    def spendable(self) -> int | None:
        return None if self.credits is None else max(self.credits - self.reserve, 0)

    def describe(self) -> str:
        """One line for the log: credits, reset, market cadence, sweep cadence."""
        if self.credits is None:
            head = f"{self.plan}: unlimited credits"
        else:
            head = (
                f"{self.plan}: {self.credits:,} credits until {self.reset:%H:%M} UTC "
                f"(in {format_duration(self.window_s)}), {self.reserve} kept in reserve"
            )
        market = f"market every {format_duration(self.market_every_s)}"
        if self.sweep_every_s is None:
            sweep = "no facility sweep fits before the reset"
        else:
            sweep = (
                f"a facility sweep ({self.sweep_requests} requests) every "
                f"{format_duration(self.sweep_every_s)}"
            )
        return f"{head}; {market}, {sweep}"


def read_me(payload: Mapping[str, Any]) -> Credits:
    """``GET /v4/me``'s answer -> Credits; anything missing or malformed is None.

    Reads ``data.plan``, ``data.credits {remaining, reset}`` (older servers: ``data.meta``)
    and the envelope's ``created_at``.
    """
    data = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(data, Mapping):
        data = {}
    credits = data.get("credits")
    if not isinstance(credits, Mapping):
        credits = data.get("meta") if isinstance(data.get("meta"), Mapping) else {}
    plan = data.get("plan")
    remaining = credits.get("remaining")
    return Credits(
        plan=plan.upper() if isinstance(plan, str) and plan else None,
        remaining=_count(remaining),
        reset=parse_instant(credits.get("reset")),
        server_time=parse_instant(payload.get("created_at")),
    )


def _count(value: object) -> int | None:
    """A non-negative credit count, or None for anything else (a bool, NaN, text)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return max(int(value), 0)


def parse_instant(value: object) -> datetime | None:
    """An ISO 8601 instant with an offset (``Z`` too) -> aware datetime; None otherwise."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def daily_allowance(plan: str | None) -> int | None:
    """Credits a day for the plan (None = unlimited); an unknown plan gets the free one's."""
    if plan is None or plan not in PLAN_DAILY_CREDITS:
        return FALLBACK_DAILY_CREDITS
    return PLAN_DAILY_CREDITS[plan]


def next_reset(reset: datetime | None, now: datetime) -> datetime:
    """When the credits next come back: ``reset`` if still ahead, else the same time of day
    on the first later day (a stale answer); without one, the next UTC midnight."""
    if reset is None:
        midnight = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), UTC)
        return midnight + DAY
    if reset > now:
        return reset
    days = math.floor((now - reset) / DAY) + 1
    return reset + days * DAY


def reserve_for(plan: str | None, remaining: int | None, margin: float) -> int:
    """Credits never spent: ``margin`` of the daily allowance (or of what remains when the
    allowance is unlimited but a figure is given), at least MIN_RESERVE."""
    base = daily_allowance(plan)
    if base is None:
        base = remaining or 0
    return max(MIN_RESERVE, math.ceil(margin * base))


def plan_budget(
    credits: Credits,
    batches: int,
    now: datetime,
    *,
    poll_every_s: float | None = None,
    margin: float = DEFAULT_MARGIN,
) -> BudgetPlan:
    """The plan until the next reset (module doc). ``now``: the API's time (aware);
    ``batches``: facility requests per sweep; ``poll_every_s``: the market cadence asked for
    (None = one poll per interval), in API seconds."""
    allowance = daily_allowance(credits.plan)
    plan_name = credits.plan or "unknown plan"
    remaining = credits.remaining if credits.remaining is not None else allowance
    if credits.remaining is None and credits.plan == "ENTERPRISE":
        remaining = None
    reset = next_reset(credits.reset, now)
    window_s = (reset - now).total_seconds()
    market_every = max(float(poll_every_s or INTERVAL_S), 1.0)
    sweep_requests = batches + ME_COST
    reserve = reserve_for(credits.plan, remaining, margin)
    base = BudgetPlan(
        plan=plan_name,
        reset=reset,
        window_s=window_s,
        credits=remaining,
        reserve=reserve,
        market_every_s=market_every,
        market_requests=0,
        sweep_requests=sweep_requests,
        sweeps=0,
        sweep_every_s=None,
    )
    if remaining is None:
        return _plan_unlimited(base)
    spendable = max(remaining - reserve, 0)
    market_requests = math.ceil(window_s / market_every)
    if spendable < market_requests:
        # Not even the market fits: space it out, leave the facilities to after the reset.
        every = window_s / spendable if spendable else window_s
        return _with(base, market_every_s=max(every, market_every), market_requests=spendable)
    sweeps = (spendable - market_requests) // sweep_requests if batches else 0
    if sweeps == 0:
        return _with(base, market_requests=market_requests)
    sweep_every = max(window_s / sweeps, float(INTERVAL_S))
    return _with(
        base,
        market_requests=market_requests,
        sweeps=min(sweeps, math.floor(window_s / sweep_every)),
        sweep_every_s=sweep_every,
    )


def _plan_unlimited(base: BudgetPlan) -> BudgetPlan:
    intervals = math.ceil(base.window_s / INTERVAL_S)
    return _with(
        base,
        market_requests=math.ceil(base.window_s / base.market_every_s),
        sweeps=intervals,
        sweep_every_s=float(INTERVAL_S),
    )


def _with(plan: BudgetPlan, **changes: Any) -> BudgetPlan:
    return replace(plan, **changes)


def may_spend(credits_left: int | None, requests: int, reserve: int) -> bool:
    """True when ``requests`` more leave the reserve intact (None = unlimited credits)."""
    return credits_left is None or credits_left - requests >= reserve


def format_duration(seconds: float) -> str:
    """``45 s``, ``5 min``, ``2 h 10 min``, ``1 d 3 h``: a cadence for people."""
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


StreamSource = Literal["oe", "nemweb"]


def choose_stream_source(plan: BudgetPlan | None) -> StreamSource:
    """Where ``--source auto`` takes the 5-minute stream from: ``oe`` when the plan sweeps
    the facilities every interval (``sweep_every_s`` <= 300 s; unlimited plans do), else
    ``nemweb`` (AEMO's public reports, no credits): a facility sweep every two hours, or none
    before the reset (``sweep_every_s`` None), or no plan at all, is too late for a live map."""
    if plan is None or plan.sweep_every_s is None:
        return "nemweb"
    return "oe" if plan.sweep_every_s <= INTERVAL_S else "nemweb"


def describe_source_choice(plan: BudgetPlan | None, source: StreamSource) -> str:
    """One line for the log: which source follows the 5-minute stream, and why."""
    if source == "oe":
        return (
            f"{plan.plan if plan else 'the'} plan sweeps facilities every interval: following "
            "Open Electricity for the 5-minute stream and the facility list"
        )
    if plan is None or plan.sweep_every_s is None:
        why = "no facility sweep fits in the key's credits before the reset"
    else:
        name = "free plan" if plan.plan == "COMMUNITY" else f"{plan.plan} plan"
        why = f"{name} sweeps facilities every {format_duration(plan.sweep_every_s)}"
    return (
        f"{why}: following NEMweb for the 5-minute stream; Open Electricity for the facility list"
    )
