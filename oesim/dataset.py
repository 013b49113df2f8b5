"""What the simulator serves: a facility catalogue plus deterministic series.

A dataset is any object with this shape. Series values must be a pure function of
(dataset, seed, code, timestamp), never of the request window, so that a week fetched in
one request equals the same week fetched in chunks, and repeated runs are byte-identical.

Optional fast path (additive): a dataset may also define
``unit_power_array(unit_code, t) -> numpy float64 array`` and
``region_market_array(region, metric, t) -> numpy float64 array``, where ``t`` is an int64
array of epoch seconds (interval-ending stamps) and ``NaN`` means no data. The server uses
them when present (``oesim.shapes.CatalogueDataset`` provides both) and otherwise falls back
to the list methods below. ``region_market`` may raise KeyError for a region it lacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

REGIONS = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")


class Dataset(Protocol):
    name: str

    def facilities(self) -> list[dict[str, Any]]:
        """Every facility in the raw OE ``GET /v4/facilities/`` item shape (NEM and WEM):
        ``code``, ``name``, ``network_id``, ``network_region``, ``location {lat, lng}``, and
        ``units`` with ``code``, ``fueltech_id``, ``status_id``, ``capacity_registered``,
        ``emissions_factor_co2`` (t/MWh), ``dispatch_type`` ... (keys omitted when null)."""
        ...

    def unit_power(self, unit_code: str, times: Sequence[datetime]) -> list[float | None]:
        """MW for each interval-ending NEM timestamp (aware, +10:00) in ``times``.

        ``None`` = no data at that instant. Signs follow OE: ``battery`` signed (negative =
        charging), ``battery_charging``/``battery_discharging`` non-negative, generators >= 0.
        Never above the unit's ``capacity_registered``."""
        ...

    def region_market(
        self, region: str, metric: str, times: Sequence[datetime]
    ) -> list[float | None]:
        """``price`` ($/MWh) or ``demand`` (MW) for one region at each timestamp."""
        ...
