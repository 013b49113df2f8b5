"""Daily API credits per key, counted as the real API counts them (docs/oe-api.md §1, §6).

Every request that presents a valid key costs one credit, whatever it asks for and whatever
the answer (the key is verified before the request is read): data, market, network data, the
facility list and ``/v4/me`` alike. A request without a key (``--anonymous-market``) costs
none. When a key's credits are spent, its requests get 401 ``Authentication failed`` until
the day ends: the credits refill at midnight UTC of the simulated clock, so at
``--clock-speed 60`` a credit day lasts 24 minutes.

:func:`spend_one` is the pure rule; :class:`CreditLedger` keeps each key's count behind a lock
for the threaded server.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

DAY_S = 86_400
# Credits a day per plan (oe-api.md §1.4); ENTERPRISE is unlimited on the real API.
PLAN_CREDITS = {"COMMUNITY": 500, "ACADEMIC": 2000, "PRO": 5000, "ENTERPRISE": 100_000}
DEFAULT_CREDITS = PLAN_CREDITS["COMMUNITY"]

# (credit day, credits used that day)
Usage = tuple[int, int]


def credit_day(sim_s: float) -> int:
    """The credit day of simulated epoch seconds ``sim_s``: days since 1970-01-01 UTC."""
    return int(sim_s // DAY_S)


def next_reset(sim_s: float) -> int:
    """Epoch seconds of the next refill: the coming midnight UTC of simulated time."""
    return (credit_day(sim_s) + 1) * DAY_S


def used_today(usage: Usage | None, day: int) -> int:
    """Credits used on ``day``: none when the usage is from an earlier day."""
    if usage is None or usage[0] != day:
        return 0
    return usage[1]


def spend_one(usage: Usage | None, day: int, allowance: int) -> tuple[Usage, bool]:
    """Spend one credit on ``day``: (new usage, True), or (unchanged, False) when the
    ``allowance`` for that day is spent."""
    used = used_today(usage, day)
    if used >= allowance:
        return (day, used), False
    return (day, used + 1), True


def plan_credits(plan: str) -> int:
    return PLAN_CREDITS.get(plan, DEFAULT_CREDITS)


@dataclass
class CreditLedger:
    """Each key's credits today. ``allowance``: credits a day for every key; None gives
    each key its plan's (COMMUNITY 500, ACADEMIC 2000, ...)."""

    allowance: int | None = None
    _usage: dict[str, Usage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def daily(self, plan: str) -> int:
        return plan_credits(plan) if self.allowance is None else self.allowance

    def spend(self, key: str, plan: str, sim_s: float) -> bool:
        """Spend one of ``key``'s credits; False (nothing spent) when none is left."""
        with self._lock:
            usage, ok = spend_one(self._usage.get(key), credit_day(sim_s), self.daily(plan))
            self._usage[key] = usage
        return ok

    def remaining(self, key: str, plan: str, sim_s: float) -> int:
        with self._lock:
            used = used_today(self._usage.get(key), credit_day(sim_s))
        return max(self.daily(plan) - used, 0)

    def set_remaining(self, key: str, plan: str, sim_s: float, remaining: int) -> None:
        """Leave ``key`` with ``remaining`` credits until the next refill (a test aid)."""
        used = max(self.daily(plan) - remaining, 0)
        with self._lock:
            self._usage[key] = (credit_day(sim_s), used)
