"""lookups.py: the lookup tables and the fuel vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemlive.common import lookups

ROW = {
    "facility_id": "ALPHA",
    "name": "Alpha",
    "region_id": "NSW1",
    "lat": "-32.5",
    "lon": "150.9",
    "fuel_groups": "coal;gas",
    "fuel_techs": "coal_black;gas_ocgt",
    "capacity_mw": "2640",
}


def test_a_row_parses_with_the_dominant_fuel_first() -> None:
    fac = lookups.parse_facilities([ROW])["ALPHA"]
    assert fac.fuel_group == "coal"
    assert fac.fuel_techs == ("coal_black", "gas_ocgt")
    assert (fac.lat, fac.lon, fac.capacity_mw) == (-32.5, 150.9, 2640.0)


def test_an_empty_capacity_is_unknown_not_zero() -> None:
    assert lookups.parse_facilities([{**ROW, "capacity_mw": ""}])["ALPHA"].capacity_mw is None


def test_a_bad_row_names_its_line() -> None:
    with pytest.raises(ValueError, match="line 3"):
        lookups.parse_facilities([ROW, {**ROW, "lat": "north"}])


@pytest.mark.parametrize(
    ("fueltech", "group"),
    [
        ("coal_brown", "coal"),
        ("gas_wcmg", "gas"),
        ("battery_charging", "battery"),
        ("solar_thermal", "solar"),
        ("nuclear", "other"),
    ],
)
def test_fueltechs_map_to_fuel_groups(fueltech: str, group: str) -> None:
    assert lookups.fuel_group(fueltech) == group


def test_every_fuel_group_has_a_colour_and_label() -> None:
    assert set(lookups.FUEL_COLOURS) == set(lookups.FUEL_GROUPS) == set(lookups.FUEL_LABELS)
    assert set(lookups.FUEL_GROUPS) > lookups.RENEWABLE_GROUPS


def test_a_lookup_without_its_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "facilities.csv"
    path.write_text("facility_id,name\nA,B\n")
    with pytest.raises(ValueError, match="missing columns"):
        lookups.load_facilities(path)


def test_the_shipped_lookup_loads() -> None:
    facilities = lookups.load_facilities()
    assert len(facilities) >= 120
    assert {f.region_id for f in facilities.values()} == set(lookups.REGION_NAMES)
