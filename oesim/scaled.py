"""A catalogue scaled to the real NEM's size, for ``bench/extract.py``.

``ScaledDataset(n_facilities=420)`` builds 420 operating NEM facilities with about 620
units in a realistic fuel mix (solar, wind and batteries most numerous; a few large
multi-unit coal plants). Everything is invented and deterministic from ``seed``; series
come from :mod:`oesim.shapes`, vectorised with numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oesim.shapes import CatalogueDataset, UnitSpec

# (kind, share of facilities, (min units, max units), MW per unit range, factor t/MWh)
FUEL_MIX: tuple[tuple[str, float, tuple[int, int], tuple[float, float], float | None], ...] = (
    ("solar_utility", 0.31, (1, 1), (5.0, 400.0), None),
    ("wind", 0.22, (1, 2), (20.0, 450.0), None),
    ("battery", 0.14, (1, 1), (5.0, 300.0), None),
    ("hydro", 0.08, (1, 3), (10.0, 300.0), None),
    ("gas_ocgt", 0.05, (1, 3), (30.0, 200.0), 0.62),
    ("gas_ccgt", 0.025, (1, 2), (150.0, 400.0), 0.39),
    ("gas_recip", 0.025, (1, 4), (5.0, 50.0), 0.55),
    ("gas_steam", 0.01, (2, 3), (100.0, 250.0), 0.58),
    ("coal_black", 0.025, (3, 4), (280.0, 720.0), 0.91),
    ("coal_brown", 0.01, (3, 4), (200.0, 560.0), 1.21),
    ("bioenergy_biomass", 0.035, (1, 1), (2.0, 60.0), 0.05),
    ("distillate", 0.025, (1, 2), (2.0, 60.0), 0.82),
    ("pumps", 0.01, (1, 1), (50.0, 300.0), None),
)
REGION_SHARE = {"NSW1": 0.26, "QLD1": 0.25, "VIC1": 0.25, "SA1": 0.14, "TAS1": 0.10}
REGION_BOX = {  # lat/lng ranges: rough land boxes, invented points
    "NSW1": ((-36.5, -29.0), (146.0, 152.5)),
    "QLD1": ((-28.0, -17.0), (145.0, 152.5)),
    "VIC1": ((-38.5, -34.5), (141.5, 148.5)),
    "SA1": ((-35.8, -31.0), (135.5, 140.5)),
    "TAS1": ((-43.2, -41.0), (145.3, 148.0)),
}
LABEL = {
    "solar_utility": ("S", "Solar Farm"),
    "wind": ("W", "Wind Farm"),
    "battery": ("B", "Battery"),
    "hydro": ("H", "Hydro"),
    "gas_ocgt": ("G", "Peaking Gas"),
    "gas_ccgt": ("C", "Combined Cycle"),
    "gas_recip": ("R", "Gas Engines"),
    "gas_steam": ("T", "Steam Gas"),
    "coal_black": ("K", "Black Coal"),
    "coal_brown": ("L", "Brown Coal"),
    "bioenergy_biomass": ("E", "Bioenergy"),
    "distillate": ("D", "Distillate"),
    "pumps": ("P", "Pumped Storage"),
}
_STAMP = "2025-09-15T00:00:00Z"


def _unit_item(
    code: str, fueltech: str, dispatch: str, capacity: float, factor: float | None
) -> dict[str, Any]:
    unit: dict[str, Any] = {
        "code": code,
        "fueltech_id": fueltech,
        "status_id": "operating",
        "capacity_registered": capacity,
        "capacity_maximum": capacity,
    }
    if fueltech.startswith("battery"):
        unit["capacity_storage"] = capacity * 2
    if factor is not None:
        unit["emissions_factor_co2"] = factor
    unit["data_first_seen"] = "2018-01-01T00:05:00+10:00"
    unit["data_last_seen"] = "2025-10-31T23:55:00+10:00"
    unit["dispatch_type"] = dispatch
    unit["created_at"] = _STAMP
    unit["updated_at"] = _STAMP
    return unit


def build_scaled_catalogue(
    n_facilities: int, seed: int
) -> tuple[list[dict[str, Any]], dict[str, UnitSpec]]:
    """Facility items (OE shape) and unit specs; deterministic for (n_facilities, seed)."""
    rng = np.random.default_rng(20251001 + seed)
    kinds = [k[0] for k in FUEL_MIX]
    shares = np.array([k[1] for k in FUEL_MIX])
    counts = np.floor(shares / shares.sum() * n_facilities).astype(int)
    counts[0] += n_facilities - counts.sum()  # rounding remainder -> solar
    assigned = [kind for kind, c in zip(kinds, counts, strict=True) for _ in range(c)]
    rng.shuffle(assigned)
    regions = list(REGION_SHARE)
    region_p = np.array(list(REGION_SHARE.values()))
    mix = {k[0]: k for k in FUEL_MIX}
    items: list[dict[str, Any]] = []
    specs: dict[str, UnitSpec] = {}
    for i, kind in enumerate(assigned):
        _, _, (umin, umax), (cmin, cmax), factor = mix[kind]
        region = str(rng.choice(regions, p=region_p))
        prefix, label = LABEL[kind]
        code = f"SC{prefix}{i:03d}"
        (lat0, lat1), (lng0, lng1) = REGION_BOX[region]
        n_units = int(rng.integers(umin, umax + 1))
        capacity = float(np.round(rng.uniform(cmin, cmax), 1))
        units: list[dict[str, Any]] = []

        def add_unit(ucode: str, fueltech: str, dispatch: str, **spec_kw: Any) -> None:
            units.append(_unit_item(ucode, fueltech, dispatch, capacity, factor))  # noqa: B023
            specs[ucode] = UnitSpec(ucode, fueltech, capacity, **spec_kw)  # noqa: B023

        if kind == "battery":
            add_unit(f"{code}B1", "battery", "BIDIRECTIONAL")
            if i % 2 == 0:  # half the batteries also expose split units
                add_unit(f"{code}L1", "battery_charging", "LOAD", mirror=(f"{code}B1", "charging"))
                add_unit(
                    f"{code}G1",
                    "battery_discharging",
                    "GENERATOR",
                    mirror=(f"{code}B1", "discharging"),
                )
        else:
            for u in range(1, n_units + 1):
                # a sprinkle of missing points keeps the extractor's gap handling honest
                dropout = 0.002 if (i + u) % 17 == 0 else 0.0
                # Pumps too are GENERATOR units in the real API's facility list.
                add_unit(f"{code}U{u}", kind, "GENERATOR", dropout=dropout)
        items.append(
            {
                "code": code,
                "name": f"Scaled {label} {i:03d}",
                "network_id": "NEM",
                "network_region": region,
                "location": {
                    "lat": float(np.round(rng.uniform(lat0, lat1), 4)),
                    "lng": float(np.round(rng.uniform(lng0, lng1), 4)),
                },
                "units": units,
                "created_at": _STAMP,
                "updated_at": _STAMP,
            }
        )
    return items, specs


class ScaledDataset(CatalogueDataset):
    """``n_facilities`` operating NEM facilities (default 420, about 620 units)."""

    def __init__(self, n_facilities: int = 420, seed: int = 0) -> None:
        items, specs = build_scaled_catalogue(n_facilities, seed)
        super().__init__(
            name="scaled",
            facility_items=items,
            specs=specs,
            seed=seed,
            regions=("NSW1", "QLD1", "SA1", "TAS1", "VIC1"),
        )
