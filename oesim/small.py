"""A small, deterministic, invented catalogue that exercises every case the extractor meets.

Names and codes are made up (no real facility). It covers every fuel group, both battery
shapes, all five NEM regions plus WEM, and the awkward cases of oe-api.md §11.8. The
awkward *data* cases are placed in the demo week ``DEMO_START`` .. ``DEMO_END`` (naive NEM
time, end exclusive), where the tests look for them:

- ``SUNVALE2`` (commissioning) has data only from ``LATE_START`` (2025-10-03 10:00);
- ``MULGA2`` stops reporting after ``EARLY_END`` (2025-10-06 15:55, inclusive);
- ``DAYLITE1`` reports only 06:00-21:55 each day (late start and early end in every day,
  interior nulls over several days);
- ``GUMRIDGE1`` loses 02:00-03:25 every day and ~1 % of single points (interior nulls);
- ``KRW5`` is retired without ``data_last_seen`` and ``OLDQ1`` is retired: neither has data.

Battery facilities: ``TALLAWANG`` has the bidirectional ``TLWB1`` plus split units
``TLWB1L1`` (charging) and ``TLWB1G1`` (discharging), each with points only while the battery
flows its way, as the real API sends them; ``EMUFLAT`` has only the bidirectional ``EMUFB1``.
``0PELICAN`` is a ``0``-prefixed OE-style code.

Units carry what the recorded real facility list gives every unit of their fueltech: a
``dispatch_type`` (pumps are ``GENERATOR``, charging units ``LOAD``; all 995 recorded units
have one), ``capacity_registered`` (only some retired OCGT and hydro units lack it: here
``OLDQ1``) and, for split battery units, ``capacity_storage``.
So the official SDK (0.12) parses the catalogue but for the ``commissioning`` unit, whose
status its enum lacks; the real API derives that status too (docs/oe-api.md §3).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from oesim.shapes import CatalogueDataset, UnitSpec, epoch_of

DEMO_START = datetime(2025, 10, 1)
DEMO_END = datetime(2025, 10, 8)
LATE_START = "2025-10-03T10:00:00+10:00"
EARLY_END = "2025-10-06T15:55:00+10:00"

_CMS_CREATED = "2024-03-01T00:00:00Z"
_CMS_UPDATED = "2025-09-15T00:00:00Z"
_FIRST_SEEN = "2015-01-01T00:05:00+10:00"
_LAST_SEEN = "2025-10-31T23:55:00+10:00"

EMISSIONS_FACTOR = {
    "coal_black": 0.91,
    "coal_brown": 1.21,
    "gas_ccgt": 0.39,
    "gas_ocgt": 0.62,
    "gas_recip": 0.55,
    "gas_steam": 0.58,
    "distillate": 0.82,
    "bioenergy_biomass": 0.05,
    "bioenergy_biogas": 0.06,
}
# The real API's dispatch type per fueltech; any other fueltech is a GENERATOR.
DISPATCH = {
    "battery": "BIDIRECTIONAL",
    "battery_charging": "LOAD",
}

# (code, name, network, region, lat, lng, units)
# unit: (code, fueltech, status, capacity, extras)
_FACILITIES: list[tuple[str, str, str, str, float, float, list[tuple]]] = [
    # NSW1
    (
        "KARRAWONG",
        "Karrawong Power Station",
        "NEM",
        "NSW1",
        -32.61,
        150.71,
        [
            ("KRW3", "coal_black", "operating", 660.0, {}),
            ("KRW1", "coal_black", "operating", 660.0, {}),
            ("KRW4", "coal_black", "operating", 660.0, {}),
            ("KRW2", "coal_black", "operating", 660.0, {}),
            ("KRW5", "coal_black", "retired", 350.0, {"no_data": True, "no_last_seen": True}),
        ],
    ),
    (
        "TALLAWANG",
        "Tallawang Battery",
        "NEM",
        "NSW1",
        -32.20,
        149.45,
        [
            ("TLWB1", "battery", "operating", 50.0, {"storage": 100.0}),
            (
                "TLWB1L1",
                "battery_charging",
                "operating",
                50.0,
                {"storage": 100.0, "mirror": ("TLWB1", "charging")},
            ),
            (
                "TLWB1G1",
                "battery_discharging",
                "operating",
                50.0,
                {"storage": 100.0, "mirror": ("TLWB1", "discharging")},
            ),
        ],
    ),
    (
        "YARRABEE",
        "Yarrabee Pumped Hydro",
        "NEM",
        "NSW1",
        -35.85,
        148.40,
        [
            ("YRB1", "hydro", "operating", 250.0, {}),
            ("YRBP1", "pumps", "operating", 240.0, {}),
        ],
    ),
    (
        "0PELICAN",
        "pelican Point Solar",  # lower-case first letter: tests the case-insensitive sort
        "NEM",
        "NSW1",
        -33.95,
        150.10,
        [("0PELS1", "solar_utility", "operating", 45.0, {})],
    ),
    # QLD1
    (
        "CORELLA",
        "Corella Creek Gas",
        "NEM",
        "QLD1",
        -23.80,
        150.90,
        [
            ("CORCK1", "gas_ccgt", "operating", 380.0, {}),
            ("CORCK2", "gas_ocgt", "operating", 150.0, {}),
        ],
    ),
    (
        "MULGA",
        "Mulga Downs Engines",
        "NEM",
        "QLD1",
        -26.60,
        150.30,
        [
            ("MULGA1", "gas_recip", "operating", 60.0, {}),
            ("MULGA2", "gas_recip", "operating", 60.0, {"last_seen": EARLY_END}),
        ],
    ),
    (
        "SUNVALE",
        "Sunvale Solar Farm",
        "NEM",
        "QLD1",
        -24.90,
        151.60,
        [
            ("SUNVALE1", "solar_utility", "operating", 120.0, {}),
            ("SUNVALE2", "solar_utility", "commissioning", 80.0, {"first_seen": LATE_START}),
        ],
    ),
    (
        "DAYLITE",
        "Daylite Solar",
        "NEM",
        "QLD1",
        -20.10,
        146.30,
        [("DAYLITE1", "solar_utility", "operating", 30.0, {"daily_window": (360, 1320)})],
    ),
    # VIC1
    (
        "GUNYAH",
        "Gunyah Brown Coal",
        "NEM",
        "VIC1",
        -38.20,
        146.50,
        [
            ("GNY1", "coal_brown", "operating", 500.0, {}),
            ("GNY2", "coal_brown", "operating", 500.0, {}),
        ],
    ),
    (
        "GUMRIDGE",
        "Gum Ridge Wind Farm",
        "NEM",
        "VIC1",
        -37.40,
        142.60,
        [
            (
                "GUMRIDGE1",
                "wind",
                "operating",
                200.0,
                {"daily_gap": (120, 210), "dropout": 0.01},
            )
        ],
    ),
    (
        "WATTLEBAY",
        "Wattle Bay Steam",
        "NEM",
        "VIC1",
        -37.85,
        144.90,
        [("WATTLB1", "gas_steam", "operating", 250.0, {})],
    ),
    # SA1
    (
        "SALTBUSH",
        "Saltbush Peaker",
        "NEM",
        "SA1",
        -34.80,
        138.50,
        [("SALTP1", "distillate", "operating", 40.0, {})],
    ),
    (
        "EMUFLAT",
        "Emu Flat Battery",
        "NEM",
        "SA1",
        -33.20,
        138.00,
        [("EMUFB1", "battery", "operating", 100.0, {"storage": 200.0})],
    ),
    (
        "KESTREL",
        "Kestrel Hill Wind Farm",
        "NEM",
        "SA1",
        -33.60,
        138.70,
        [
            ("KESTRL1", "wind", "operating", 120.0, {}),
            ("KESTRL2", "wind", "operating", 90.0, {}),
        ],
    ),
    (
        "OLDQUARRY",
        "Old Quarry Gas",
        "NEM",
        "SA1",
        -34.90,
        138.60,
        # Without capacity_registered, as some retired OCGT and hydro units of the real list.
        [("OLDQ1", "gas_ocgt", "retired", 100.0, {"no_data": True, "no_capacity": True})],
    ),
    # TAS1
    (
        "LAKECREST",
        "Lake Crest Hydro",
        "NEM",
        "TAS1",
        -42.10,
        146.20,
        [
            ("LKCREST2", "hydro", "operating", 120.0, {}),
            ("LKCREST1", "hydro", "operating", 120.0, {}),
        ],
    ),
    (
        "HUONFIBRE",
        "Huon Fibre Bioenergy",
        "NEM",
        "TAS1",
        -43.00,
        147.00,
        [
            ("HUONB1", "bioenergy_biomass", "operating", 20.0, {}),
            ("HUONG1", "bioenergy_biogas", "operating", 5.0, {}),
        ],
    ),
    # WEM
    (
        "JARRAHRDG",
        "Jarrah Ridge Gas",
        "WEM",
        "WEM",
        -32.20,
        115.80,
        [("JARRAH1", "gas_ccgt", "operating", 200.0, {})],
    ),
    (
        "BANKSIA",
        "Banksia Wind Farm",
        "WEM",
        "WEM",
        -30.30,
        115.10,
        [("BANKSIA1", "wind", "operating", 100.0, {})],
    ),
]


def _unit_item(code: str, fueltech: str, status: str, capacity: float, ex: dict, net: str) -> dict:
    offset = "+08:00" if net == "WEM" else "+10:00"
    unit: dict[str, Any] = {"code": code, "fueltech_id": fueltech, "status_id": status}
    if not ex.get("no_capacity"):
        unit["capacity_registered"] = capacity
        unit["capacity_maximum"] = round(capacity * 1.02, 1)
    if "storage" in ex:
        unit["capacity_storage"] = ex["storage"]
    if fueltech in EMISSIONS_FACTOR:
        unit["emissions_factor_co2"] = EMISSIONS_FACTOR[fueltech]
    first = ex.get("first_seen", _FIRST_SEEN.replace("+10:00", offset))
    unit["data_first_seen"] = first
    if not ex.get("no_last_seen"):
        if status == "retired":
            unit["data_last_seen"] = "2019-06-30T23:55:00" + offset
        else:
            unit["data_last_seen"] = ex.get("last_seen", _LAST_SEEN.replace("+10:00", offset))
    if status == "retired" and ex.get("no_last_seen"):
        unit.pop("data_first_seen")
    unit["dispatch_type"] = DISPATCH.get(fueltech, "GENERATOR")
    unit["created_at"] = _CMS_CREATED
    unit["updated_at"] = _CMS_UPDATED
    return unit


def _unit_spec(code: str, fueltech: str, capacity: float, ex: dict, net: str) -> UnitSpec:
    return UnitSpec(
        code=code,
        fueltech=fueltech,
        capacity=capacity,
        offset_h=8 if net == "WEM" else 10,
        first_seen=epoch_of(ex["first_seen"]) if "first_seen" in ex else None,
        last_seen=epoch_of(ex["last_seen"]) if "last_seen" in ex else None,
        daily_window=ex.get("daily_window"),
        daily_gap=ex.get("daily_gap"),
        dropout=ex.get("dropout", 0.0),
        no_data=ex.get("no_data", False),
        mirror=ex.get("mirror"),
    )


def build_small_catalogue() -> tuple[list[dict[str, Any]], dict[str, UnitSpec]]:
    """The facility items (OE ``/facilities`` shape, null keys omitted) and unit specs."""
    items: list[dict[str, Any]] = []
    specs: dict[str, UnitSpec] = {}
    for code, name, net, region, lat, lng, units in _FACILITIES:
        items.append(
            {
                "code": code,
                "name": name,
                "network_id": net,
                "network_region": region,
                "description": f"<p>{name} is an invented facility of the OE simulator.</p>",
                "location": {"lat": lat, "lng": lng},
                "units": [_unit_item(u[0], u[1], u[2], u[3], u[4], net) for u in units],
                "created_at": _CMS_CREATED,
                "updated_at": _CMS_UPDATED,
            }
        )
        for ucode, fueltech, _status, capacity, ex in units:
            specs[ucode] = _unit_spec(ucode, fueltech, capacity, ex, net)
    return items, specs


class SmallDataset(CatalogueDataset):
    """19 invented facilities (17 NEM, 2 WEM), 33 units; see the module docstring."""

    def __init__(self, seed: int = 0) -> None:
        items, specs = build_small_catalogue()
        super().__init__(name="small", facility_items=items, specs=specs, seed=seed)
