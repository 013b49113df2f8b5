"""Lookup tables, loaded once: facilities, regions, fuel groups and their colours.

The dashboard enriches each event from these tables, so the wire payloads carry only ids and
values. The extractor uses the fueltech -> fuel group map to write ``data/facilities.csv``
(its columns are in docs/contracts.md). The programs reach these through ``context.py``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[2]  # the repository, when run from a clone
# The clone's data/ when the library runs from one; installed (pip install .), the working
# directory's data/, where extractor.py writes data/facilities.csv by default. A file that
# is missing there is named, with the fix, by the recorder's and the dashboard's messages
# (NEMLIVE_FACILITIES and NEMLIVE_REGIONS point elsewhere).
DATA_DIR = ROOT / "data" if (ROOT / "pyproject.toml").is_file() else Path("data")
FACILITIES_CSV = DATA_DIR / "facilities.csv"
REGIONS_GEOJSON = DATA_DIR / "regions.geojson"
FACILITIES_HEADER = (
    "facility_id",
    "name",
    "region_id",
    "lat",
    "lon",
    "fuel_groups",
    "fuel_techs",
    "capacity_mw",
)

FuelGroup = Literal[
    "coal", "gas", "distillate", "bioenergy", "hydro", "pumps", "wind", "solar", "battery", "other"
]
FUEL_GROUPS: tuple[FuelGroup, ...] = (
    "coal",
    "gas",
    "distillate",
    "bioenergy",
    "hydro",
    "pumps",
    "wind",
    "solar",
    "battery",
    "other",
)

# OpenElectricity's facility palette (fuel-tech colours on its website), as hex.
FUEL_COLOURS: dict[FuelGroup, str] = {
    "coal": "#4A4A4A",
    "gas": "#FF8813",
    "distillate": "#F35020",
    "bioenergy": "#A3886F",
    "hydro": "#4582B4",
    "pumps": "#88AFD0",
    "wind": "#417505",
    "solar": "#FED500",
    "battery": "#00A2FA",
    "other": "#9B9B9B",
}
FUEL_LABELS: dict[FuelGroup, str] = {
    "coal": "Coal",
    "gas": "Gas",
    "distillate": "Distillate",
    "bioenergy": "Bioenergy",
    "hydro": "Hydro",
    "pumps": "Pumps",
    "wind": "Wind",
    "solar": "Solar",
    "battery": "Battery",
    "other": "Other",
}
RENEWABLE_GROUPS: frozenset[FuelGroup] = frozenset({"bioenergy", "hydro", "wind", "solar"})

# Unit fueltech_id (OE v4) -> fuel group. Unknown fueltechs fall back to "other".
FUELTECH_GROUP: dict[str, FuelGroup] = {
    "coal_black": "coal",
    "coal_brown": "coal",
    "gas_ccgt": "gas",
    "gas_ocgt": "gas",
    "gas_recip": "gas",
    "gas_steam": "gas",
    "gas_wcmg": "gas",
    "distillate": "distillate",
    "bioenergy_biogas": "bioenergy",
    "bioenergy_biomass": "bioenergy",
    "hydro": "hydro",
    "hydro_and_storage": "hydro",
    "pumps": "pumps",
    "solar_utility": "solar",
    "solar_thermal": "solar",
    "solar": "solar",
    "wind": "wind",
    "wind_offshore": "wind",
    "battery": "battery",
    "battery_charging": "battery",
    "battery_discharging": "battery",
}

REGION_NAMES: dict[str, str] = {
    "NSW1": "New South Wales (with the ACT)",
    "QLD1": "Queensland",
    "SA1": "South Australia",
    "TAS1": "Tasmania",
    "VIC1": "Victoria",
}


def fuel_group(fueltech_id: str) -> FuelGroup:
    """The fuel group of an OE unit fueltech, ``other`` when unknown."""
    return FUELTECH_GROUP.get(fueltech_id, "other")


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """``"#4A4A4A"`` -> ``(74, 74, 74)``: 0-255 channels, as PyDeck colours take them."""
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


@dataclass(frozen=True, slots=True)
class Facility:
    """One row of data/facilities.csv. ``fuel_groups``/``fuel_techs``: dominant first."""

    facility_id: str
    name: str
    region_id: str
    lat: float
    lon: float
    fuel_groups: tuple[str, ...]
    fuel_techs: tuple[str, ...]
    capacity_mw: float | None  # None: the API gave no registered capacity

    @property
    def fuel_group(self) -> str:
        """The dominant (largest-capacity) fuel group."""
        return self.fuel_groups[0] if self.fuel_groups else "other"


def fuel_group_of(fac: Facility) -> str:
    """A facility's dominant fuel group, ``other`` for a group outside the palette."""
    return fac.fuel_group if fac.fuel_group in FUEL_COLOURS else "other"


def facility_passes(
    fac: Facility, regions: Collection[str] | None, groups: Collection[str] | None
) -> bool:
    """True when a facility is inside the region and fuel-group filters (None = all)."""
    return (regions is None or fac.region_id in regions) and (
        groups is None or fuel_group_of(fac) in groups
    )


def capacity_factor(fac: Facility, mw: float | None) -> float | None:
    """Output ÷ registered capacity (0.62 = 62%); negative while a battery charges or a pump
    pumps; None without a value or a positive capacity."""
    if mw is None or not fac.capacity_mw or fac.capacity_mw <= 0:
        return None
    return mw / fac.capacity_mw


def parse_facilities(rows: list[dict[str, str]]) -> dict[str, Facility]:
    """Rows of data/facilities.csv -> {facility_id: Facility}; raise ValueError on a bad row."""
    out: dict[str, Facility] = {}
    for i, row in enumerate(rows, start=2):
        try:
            fac = Facility(
                facility_id=row["facility_id"],
                name=row["name"],
                region_id=row["region_id"],
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                fuel_groups=tuple(g for g in row["fuel_groups"].split(";") if g),
                fuel_techs=tuple(t for t in row["fuel_techs"].split(";") if t),
                capacity_mw=float(row["capacity_mw"]) if row["capacity_mw"] else None,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"line {i}: {exc}") from exc
        out[fac.facility_id] = fac
    return out


@cache
def load_facilities(path: Path = FACILITIES_CSV) -> dict[str, Facility]:
    """Load data/facilities.csv once per process. Raise FileNotFoundError or ValueError."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = set(FACILITIES_HEADER) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        return parse_facilities(list(reader))


@cache
def load_regions(path: Path = REGIONS_GEOJSON) -> dict:
    """Load data/regions.geojson once per process (a FeatureCollection)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
