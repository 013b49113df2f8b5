"""Lookup tables for the programs: facilities, regions, fuel groups and their colours.

The seed's program-facing module. The tables and their loaders live in the library
(``nemlive.common.lookups``), where the extractor's roll-up and the dashboard's builders use
them; this module names what the programs need.
"""

from nemlive.common.lookups import (
    FACILITIES_CSV,
    FACILITIES_HEADER,
    FUEL_COLOURS,
    FUEL_GROUPS,
    FUEL_LABELS,
    FUELTECH_GROUP,
    REGION_NAMES,
    REGIONS_GEOJSON,
    RENEWABLE_GROUPS,
    Facility,
    FuelGroup,
    fuel_group,
    hex_to_rgb,
    load_facilities,
    load_regions,
    parse_facilities,
)

__all__ = [
    "FACILITIES_CSV",
    "FACILITIES_HEADER",
    "FUELTECH_GROUP",
    "FUEL_COLOURS",
    "FUEL_GROUPS",
    "FUEL_LABELS",
    "REGIONS_GEOJSON",
    "REGION_NAMES",
    "RENEWABLE_GROUPS",
    "Facility",
    "FuelGroup",
    "fuel_group",
    "hex_to_rgb",
    "load_facilities",
    "load_regions",
    "parse_facilities",
]
