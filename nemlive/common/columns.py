"""Column names of consolidate.csv (docs/contracts.md §2), built and parsed in one place.

A column is ``<metric>_<code>``: the metric is the text before the first ``_`` and the
code (a facility or a region) may itself contain ``_``. Columns are grouped by metric in
this order and sorted by code inside each group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

TIMESTAMP = "timestamp"
# A facility or region code: what a CSV header cell, an MQTT topic level and a tooltip can
# all carry as it is. OE codes are upper-case letters, digits and underscores.
CODE_PATTERN = r"^[A-Za-z0-9_.-]{1,40}$"
_CODE_RE = re.compile(CODE_PATTERN)
Metric = Literal["power", "emissions", "price", "demand", "imports", "exports"]
FACILITY_METRICS: tuple[Metric, ...] = ("power", "emissions")
# A region's price ($/MWh) and demand (MW), then its interchange: MW flowing in over its
# interconnectors and MW flowing out (both from the same market request).
MARKET_METRICS: tuple[Metric, ...] = ("price", "demand", "imports", "exports")
METRICS: tuple[Metric, ...] = FACILITY_METRICS + MARKET_METRICS
# The API's names for the market metrics (docs/oe-api.md §5).
API_MARKET_METRICS: dict[str, Metric] = {
    "price": "price",
    "demand": "demand",
    "flow_imports": "imports",
    "flow_exports": "exports",
}


def build_column(metric: Metric, code: str) -> str:
    """``build_column("power", "BAYSW") == "power_BAYSW"``."""
    return f"{metric}_{code}"


def parse_column(name: str) -> tuple[Metric, str]:
    """Split a column name into ``(metric, code)``; raise ValueError for anything else."""
    metric, sep, code = name.partition("_")
    if not sep or not code or metric not in METRICS:
        raise ValueError(f"not a consolidate.csv column: {name!r}")
    return metric, code  # type: ignore[return-value]


def is_valid_code(code: str) -> bool:
    """True when ``code`` matches ``CODE_PATTERN`` (no comma, quote, newline or slash)."""
    return _CODE_RE.fullmatch(code) is not None


def build_header(
    facility_codes: Iterable[str], region_codes: Iterable[str], *, interchange: bool = False
) -> list[str]:
    """The full header: timestamp, then power_*, emissions_*, price_*, demand_*, and with
    ``interchange`` imports_* and exports_*; codes sorted. Files without the interchange
    columns stay valid: their regions simply have no interchange."""
    facilities = sorted(set(facility_codes))
    regions = sorted(set(region_codes))
    header = [TIMESTAMP]
    for metric in FACILITY_METRICS:
        header += [build_column(metric, c) for c in facilities]
    for metric in MARKET_METRICS if interchange else MARKET_METRICS[:2]:
        header += [build_column(metric, c) for c in regions]
    return header
