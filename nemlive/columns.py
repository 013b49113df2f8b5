"""Column names of consolidate.csv (CONTRACTS §2), built and parsed in one place.

A column is ``<metric>_<code>``: the metric is the text before the first ``_`` and the
code (a facility or a region) may itself contain ``_``. Columns are grouped by metric in
this order and sorted by code inside each group.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

TIMESTAMP = "timestamp"
Metric = Literal["power", "emissions", "price", "demand"]
FACILITY_METRICS: tuple[Metric, ...] = ("power", "emissions")
MARKET_METRICS: tuple[Metric, ...] = ("price", "demand")
METRICS: tuple[Metric, ...] = FACILITY_METRICS + MARKET_METRICS


def build_column(metric: Metric, code: str) -> str:
    """``build_column("power", "BAYSW") == "power_BAYSW"``."""
    return f"{metric}_{code}"


def parse_column(name: str) -> tuple[Metric, str]:
    """Split a column name into ``(metric, code)``; raise ValueError for anything else."""
    metric, sep, code = name.partition("_")
    if not sep or not code or metric not in METRICS:
        raise ValueError(f"not a consolidate.csv column: {name!r}")
    return metric, code  # type: ignore[return-value]


def build_header(facility_codes: Iterable[str], region_codes: Iterable[str]) -> list[str]:
    """The full header: timestamp, then power_*, emissions_*, price_*, demand_*, codes sorted."""
    facilities = sorted(set(facility_codes))
    regions = sorted(set(region_codes))
    header = [TIMESTAMP]
    for metric in FACILITY_METRICS:
        header += [build_column(metric, c) for c in facilities]
    for metric in MARKET_METRICS:
        header += [build_column(metric, c) for c in regions]
    return header
