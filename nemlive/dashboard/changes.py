"""How each headline figure moved since the interval before, and whether that is good (pure).

Each card shows an arrow and the amount (``▲ $3.20/MWh``), coloured by what the move means
for that figure. The sense of each figure, and why:

* **Price** up is bad: consumers and retailers pay it.
* **Renewable share** up is good: more of the supply is bioenergy, hydro, wind and solar.
* **Emissions**, **emissions rate** and **intensity** up are bad: more CO₂-e.
* **Generation** and **demand** are neither: they follow the weather and the time of day, and
  a rise is no more a fault than a fall. Their change is shown in a neutral colour.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from nemlive.common.nemtime import INTERVAL_S
from nemlive.dashboard.charts import Figures
from nemlive.dashboard.livestate import Point
from nemlive.dashboard.text import format_price

Sense = Literal["good", "bad", "neutral"]
UP, DOWN = "▲", "▼"

# Figure label -> (Figures field, what a rise means, how the amount is written).
FIGURE_CHANGES: dict[str, tuple[str, Sense, str]] = {
    "Generation": ("generation_mw", "neutral", ",.0f MW"),
    "Demand": ("demand_mw", "neutral", ",.0f MW"),
    "Price (demand-weighted)": ("price_dmwh", "bad", "price"),
    "Renewable share": ("renewable_share", "good", "points"),
    "Emissions": ("emissions_t", "bad", ",.1f t/5 min"),
    "Emissions rate": ("emissions_t_per_h", "bad", ",.0f t/h"),
    "Intensity": ("intensity_t_per_mwh", "bad", ",.3f t/MWh"),
}


@dataclass(frozen=True)
class Change:
    """One card's move: its text (``▲ 120 MW``, ``no change``) and its sense."""

    text: str
    sense: Sense


def _amount(value: float, how: str) -> str:
    if how == "price":
        return format_price(value)
    if how == "points":
        return f"{value * 100:.1f} pts"
    fmt, unit = how.split(" ", 1)
    return f"{value:{fmt}} {unit}"


def describe_change(
    now: float | None, before: float | None, rise: Sense, how: str
) -> Change | None:
    """The move from ``before`` to ``now`` written as ``how`` (a format and unit, ``price``
    or ``points`` of a 0..1 share); None when either is missing. A move that rounds to
    nothing is ``no change``; a fall's sense is the opposite of a rise's."""
    if now is None or before is None:
        return None
    delta = now - before
    text = _amount(abs(delta), how)
    if text == _amount(0.0, how):
        return Change("no change", "neutral")
    fall: Sense = {"good": "bad", "bad": "good", "neutral": "neutral"}[rise]  # type: ignore[assignment]
    return Change(f"{UP if delta > 0 else DOWN} {text}", rise if delta > 0 else fall)


def figure_changes(now: Figures, before: Figures | None) -> dict[str, Change | None]:
    """Figure label -> its change since ``before`` (the interval before ``now``'s); every
    change None without a ``before``."""
    out: dict[str, Change | None] = {}
    for label, (field, rise, how) in FIGURE_CHANGES.items():
        out[label] = (
            None
            if before is None
            else describe_change(getattr(now, field), getattr(before, field), rise, how)
        )
    return out


def previous_time(
    region_history: Mapping[str, Sequence[Point]], at_ts: int, step_s: int = INTERVAL_S
) -> int:
    """The interval before ``at_ts`` (epoch s): the newest market interval before it in the
    time-sorted ``region_history`` (a History range may step by more than 5 minutes), else
    ``at_ts - step_s``."""
    found = [
        points[i - 1][0]
        for points in region_history.values()
        if (i := bisect_left(points, at_ts, key=_time)) > 0
    ]
    return max(found) if found else at_ts - step_s


def _time(point: Point) -> int:
    return point[0]
