"""The nem simulator's catalogue: sanity of the plain data and of the raw OE item shape."""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from nemlive.common.events import FacilityEvent
from nemlive.common.lookups import FUEL_GROUPS, fuel_group
from oesim.nem import NemDataset
from oesim.nem_catalogue import FACILITIES, Facility

STAMP = datetime.fromisoformat("2025-10-15T10:05:00+10:00")
REQUIRED_FUELTECHS = {
    "coal_black",
    "coal_brown",
    "gas_ccgt",
    "gas_ocgt",
    "gas_recip",
    "gas_steam",
    "distillate",
    "bioenergy_biomass",
    "bioenergy_biogas",
    "hydro",
    "pumps",
    "wind",
    "solar_utility",
    "battery",
    "battery_charging",
    "battery_discharging",
}
# t CO2-e per MWh a unit of each fueltech may carry (None = must have no factor).
FACTOR_RANGE: dict[str, tuple[float, float] | None] = {
    "coal_black": (0.8, 1.1),
    "coal_brown": (1.05, 1.3),
    "gas_ccgt": (0.35, 0.55),
    "gas_ocgt": (0.5, 0.8),
    "gas_recip": (0.4, 0.7),
    "gas_steam": (0.5, 0.75),
    "distillate": (0.7, 0.95),
    "bioenergy_biomass": (0.0, 0.1),
    "bioenergy_biogas": (0.0, 0.1),
    "hydro": None,
    "pumps": None,
    "wind": None,
    "solar_utility": None,
    "battery": None,
    "battery_charging": None,
    "battery_discharging": None,
}


def _units():
    return [(f, u) for f in FACILITIES for u in f.units]


def _capacity(region: str, groups: set[str]) -> float:
    return sum(
        u.capacity_mw
        for f, u in _units()
        if f.region == region
        and u.status == "operating"
        and fuel_group(u.fueltech_id) in groups
        and u.fueltech_id not in ("battery_charging", "battery_discharging")
    )


def test_at_least_120_facilities_in_all_five_regions() -> None:
    assert len(FACILITIES) >= 120
    counts = Counter(f.region for f in FACILITIES)
    assert set(counts) == {"NSW1", "QLD1", "SA1", "TAS1", "VIC1"}
    assert min(counts.values()) >= 15


def test_facility_codes_and_unit_codes_are_each_unique() -> None:
    # OE often gives a one-unit facility its unit's code (DDPS1, BARCALDN), so a facility
    # code may equal a unit code; within each kind they are unique.
    for codes in ([f.code for f in FACILITIES], [u.code for _, u in _units()]):
        dupes = [c for c, n in Counter(codes).items() if n > 1]
        assert not dupes


def test_codes_look_like_oe_codes() -> None:
    for f, u in _units():
        assert re.fullmatch(r"[A-Z0-9][A-Z0-9_\-]*", u.code), u.code
        assert re.fullmatch(r"[A-Z0-9][A-Z0-9_]*", f.code), f.code
        # The wire schema must accept every facility id.
        FacilityEvent(facility_id=f.code, timestamp=STAMP, power_mw=0.0, co2_tonnes=0.0)


def test_names_and_locations_are_plausible() -> None:
    names = [f.name for f in FACILITIES]
    assert len(set(names)) == len(names)
    for f in FACILITIES:
        assert -44.0 < f.lat < -10.0 and 129.0 < f.lon < 154.0, f.code
        assert f.units, f.code


def test_capacities_positive_and_every_fuel_group_present() -> None:
    for _, u in _units():
        assert u.capacity_mw > 0, u.code
    techs = {u.fueltech_id for _, u in _units()}
    assert techs >= REQUIRED_FUELTECHS
    assert techs <= set(FACTOR_RANGE)
    groups = {fuel_group(t) for t in techs}
    assert groups == set(FUEL_GROUPS) - {"other"}


@pytest.mark.parametrize("fueltech", sorted(FACTOR_RANGE))
def test_emission_factors_fit_the_fueltech(fueltech: str) -> None:
    allowed = FACTOR_RANGE[fueltech]
    for _, u in _units():
        if u.fueltech_id != fueltech:
            continue
        if allowed is None:
            assert u.emissions_factor is None, u.code
        else:
            assert u.emissions_factor is not None, u.code
            assert allowed[0] <= u.emissions_factor <= allowed[1], u.code


def test_mostly_operating_with_a_retired_and_a_committed_facility() -> None:
    statuses = Counter(u.status for _, u in _units())
    assert statuses["retired"] >= 1 and statuses["committed"] >= 1
    assert statuses["operating"] / sum(statuses.values()) > 0.95
    by_fac = {f.code: {u.status for u in f.units} for f in FACILITIES}
    assert {"retired"} in by_fac.values() and {"committed"} in by_fac.values()


def _battery_units(f: Facility) -> dict[str, list]:
    out: dict[str, list] = defaultdict(list)
    for u in f.units:
        if u.fueltech_id.startswith("battery"):
            out[u.fueltech_id].append(u)
    return out


def test_battery_shapes_bidirectional_and_split() -> None:
    split = 0
    for f in FACILITIES:
        b = _battery_units(f)
        if not b:
            continue
        assert len(b["battery"]) == 1, f.code  # every battery has its bidirectional unit
        bidi = b["battery"][0]
        assert bidi.dispatch_type == "BIDIRECTIONAL"
        assert bidi.storage_mwh and bidi.storage_mwh >= bidi.capacity_mw * 0.5
        if "battery_charging" in b or "battery_discharging" in b:
            split += 1
            (load,) = b["battery_charging"]
            (gen,) = b["battery_discharging"]
            assert load.code.endswith("L1") and gen.code.endswith("G1")
            assert load.dispatch_type == "LOAD" and gen.dispatch_type == "GENERATOR"
            assert load.capacity_mw == gen.capacity_mw == bidi.capacity_mw
    assert split >= 3
    assert sum(1 for f in FACILITIES if _battery_units(f)) >= 12


def test_dispatch_types() -> None:
    for _, u in _units():
        expected = {"battery": "BIDIRECTIONAL", "battery_charging": "LOAD"}
        assert u.dispatch_type == expected.get(u.fueltech_id, "GENERATOR")


def test_fleet_shape_per_region() -> None:
    coal = {"coal"}
    assert 7_000 < _capacity("NSW1", coal) < 11_000
    assert 7_000 < _capacity("QLD1", coal) < 10_000
    vic_brown = sum(u.capacity_mw for f, u in _units() if u.fueltech_id == "coal_brown")
    assert 4_000 < vic_brown == _capacity("VIC1", coal)
    assert _capacity("SA1", coal) == _capacity("TAS1", coal) == 0
    sa = {g: _capacity("SA1", {g}) for g in ("wind", "gas", "battery", "solar")}
    sa["gas"] += _capacity("SA1", {"distillate"})
    assert sa["wind"] > 1_500 and sa["gas"] > 1_500 and sa["battery"] > 500
    tas = {g: _capacity("TAS1", {g}) for g in ("hydro", "wind", "gas")}
    assert tas["hydro"] > 1_500 and tas["hydro"] > tas["wind"] + tas["gas"]
    assert _capacity("NSW1", {"hydro"}) > 2_000  # Snowy
    assert _capacity("NSW1", {"pumps"}) > 0 and _capacity("QLD1", {"pumps"}) > 0
    for region in ("NSW1", "QLD1", "VIC1"):
        assert _capacity(region, {"wind"}) > 1_000 and _capacity(region, {"solar"}) > 500


def test_act_facilities_belong_to_nsw1() -> None:
    act = [f for f in FACILITIES if -35.92 < f.lat < -35.12 and 148.76 < f.lon < 149.40]
    assert act and all(f.region == "NSW1" for f in act)


def test_raw_items_follow_the_oe_facility_shape() -> None:
    items = NemDataset(seed=0).facilities()
    assert len(items) == len(FACILITIES)
    for item, fac in zip(items, FACILITIES, strict=True):
        assert set(item) <= {
            "code", "name", "network_id", "network_region", "location", "description", "units",
            "created_at", "updated_at",
        }  # fmt: skip
        assert item["network_id"] == "NEM"
        assert item["network_region"] == fac.region
        assert item["location"] == {"lat": fac.lat, "lng": fac.lon}
        for u in item["units"]:
            assert {
                "code",
                "fueltech_id",
                "status_id",
                "capacity_registered",
                "dispatch_type",
            } <= set(u)
            assert None not in u.values()  # OE omits null keys
            assert u["capacity_maximum"] >= u["capacity_registered"]
            assert ("data_first_seen" in u) == (u["status_id"] != "committed")
            assert ("data_last_seen" in u) == (u["status_id"] == "retired")
            assert ("emissions_factor_co2" in u) == (FACTOR_RANGE[u["fueltech_id"]] is not None)
    json.dumps(items)  # plain JSON data


def test_facilities_returns_a_copy() -> None:
    ds = NemDataset(seed=0)
    items = ds.facilities()
    items[0]["units"].clear()
    items[0]["name"] = "changed"
    again = ds.facilities()
    assert again[0]["units"] and again[0]["name"] != "changed"


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def test_catalogue_roughly_agrees_with_the_real_facility_list(shared_oe: Path) -> None:
    """Read the real recorded /facilities response at run time (never copied): where a
    unit code of ours is a real unit code, most should be in the same region and close."""
    real = json.loads((shared_oe / "facilities.json").read_text(encoding="utf-8"))
    real_units = {}
    for fac in real.get("data", []):
        loc = fac.get("location") or {}
        for u in fac.get("units", []):
            real_units[u["code"]] = (fac.get("network_region"), loc.get("lat"), loc.get("lng"))
    matched = same_region = near = 0
    for f, u in _units():
        if u.code not in real_units:
            continue
        region, lat, lng = real_units[u.code]
        matched += 1
        same_region += region == f.region
        near += lat is not None and lng is not None and _km(f.lat, f.lon, lat, lng) < 25
    # The catalogue uses real OE codes, so most of its units are in the recording: too few
    # matches means the codes drifted, not that there is nothing to check.
    assert matched >= 20, f"only {matched} of our unit codes appear in the recording"
    assert same_region / matched > 0.95
    assert near / matched > 0.8


def test_facility_codes_are_the_real_oe_codes(shared_oe: Path) -> None:
    """Read the real recorded /facilities response at run time (never copied): a facility
    of ours whose units are real OE units carries the code of a real facility holding
    them, so scripts written against the real API find it."""
    real = json.loads((shared_oe / "facilities.json").read_text(encoding="utf-8"))
    owner = {u["code"]: fac["code"] for fac in real.get("data", []) for u in fac.get("units", [])}
    real_codes = {fac["code"] for fac in real.get("data", [])}
    checked, wrong = 0, []
    for f in FACILITIES:
        owners = {owner[u.code] for u in f.units if u.code in owner}
        if not owners:
            continue
        checked += 1
        if f.code not in owners:
            wrong.append((f.code, sorted(owners)))
    assert checked >= 150
    assert not wrong
    assert sum(f.code in real_codes for f in FACILITIES) / len(FACILITIES) > 0.9
