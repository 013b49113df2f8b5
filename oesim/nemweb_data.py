"""What NEMweb's files say about the simulated NEM: the same numbers as the OE face.

A NEM day's values are gathered once (:func:`build_day`, vectorised over its 288
intervals) and each 5-minute file is then formatted from them:

* ``DISPATCH,UNIT_SCADA``: SCADAVALUE per DUID = the dataset's ``unit_power_array`` (what
  ``/v4/data/facilities`` serves as ``power``). Every unit with data at the interval, except
  the split ``battery_charging``/``battery_discharging`` units of a facility that also has a
  bidirectional ``battery`` unit: AEMO has one signed DUID per battery (negative charging).
  Loads (pumps, split-only charging units) are non-negative consumption, as OE gives them.
* ``DISPATCH,PRICE`` RRP and ``DISPATCH,REGIONSUM`` TOTALDEMAND = OE's ``price``, ``demand``.
* ``DISPATCH,INTERCONNECTORRES``: the market model's link flows with AEMO's ids and
  directions (:data:`LINK_IDS`), so that each region's imports and exports, every
  interconnector counted on one side by its sign, equal OE's ``flow_imports`` and
  ``flow_exports``; NETINTERCHANGE (+ = net export) follows from the same flows.
* ``CO2EII,PUBLISHING`` (CDEII): each unit's ``emissions_factor_co2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oesim.dataset import REGIONS
from oesim.nem_market import LINKS, day_stamps
from oesim.nemweb_files import Table, dispatch_interval, header_row, mms_report, nem_time, number
from oesim.nemweb_files import quoted as q

# The market model's links (oesim.nem_market.LINKS, positive child -> parent) as AEMO names
# them, with the sign that turns the model's flow into AEMO's (positive from the first
# region of the id to the second).
LINK_IDS: tuple[tuple[str, float], ...] = (
    ("NSW1-QLD1", -1.0),  # QLD1 -> NSW1
    ("VIC1-NSW1", -1.0),  # NSW1 -> VIC1
    ("V-SA", -1.0),  # SA1 -> VIC1
    ("T-V-MNSP1", 1.0),  # TAS1 -> VIC1
)
# The two smaller links the model folds into the ones above: listed at 0 MW.
IDLE_LINK_IDS = ("N-Q-MNSP1", "V-S-MNSP1")
# AEMO id -> (from region, to region): a positive flow runs from the first to the second.
INTERCONNECTORS: dict[str, tuple[str, str]] = {
    "NSW1-QLD1": ("NSW1", "QLD1"),
    "N-Q-MNSP1": ("NSW1", "QLD1"),
    "VIC1-NSW1": ("VIC1", "NSW1"),
    "T-V-MNSP1": ("TAS1", "VIC1"),
    "V-SA": ("VIC1", "SA1"),
    "V-S-MNSP1": ("VIC1", "SA1"),
}
SPLIT_BATTERY = ("battery_charging", "battery_discharging")
HIDDEN_FUELTECHS = frozenset({"solar_rooftop", "imports", "exports", "interconnector"})
ENERGY_SOURCES = {
    "coal_black": "Black coal",
    "coal_brown": "Brown coal",
    "gas_wcmg": "Coal seam methane",
    "distillate": "Diesel oil",
    "bioenergy_biogas": "Landfill biogas methane",
    "bioenergy_biomass": "Bagasse",
    "hydro": "Hydro",
    "pumps": "Hydro",
    "wind": "Wind",
    "solar_utility": "Solar",
}
# A SCADA snapshot is taken half a minute into the interval; dispatch runs five seconds in.
SCADA_CHANGED_S, DISPATCH_CHANGED_S = 31, 5


def aemo_units(facilities: Sequence[dict[str, Any]]) -> list[tuple[dict, dict]]:
    """``(facility, unit)`` for each DUID AEMO would list: NEM units, not hidden, and not
    the split battery units of a facility that has a bidirectional one."""
    out = []
    for fac in facilities:
        if fac.get("network_id", "NEM") != "NEM":
            continue
        units = fac.get("units", [])
        has_bidi = any(u.get("fueltech_id") == "battery" for u in units)
        for unit in units:
            ft = unit.get("fueltech_id")
            if ft in HIDDEN_FUELTECHS or (has_bidi and ft in SPLIT_BATTERY):
                continue
            out.append((fac, unit))
    return out


@dataclass(frozen=True)
class DayData:
    """One NEM day's numbers: 288 intervals (``stamps``, interval-ending epoch seconds)."""

    stamps: np.ndarray
    duids: tuple[str, ...]
    power: np.ndarray  # (len(duids), 288) MW, NaN = no data
    price: dict[str, np.ndarray]
    demand: dict[str, np.ndarray]
    flows: dict[str, np.ndarray]  # AEMO interconnector id -> MW (AEMO's direction)


def model_flows(dataset: Any, t: np.ndarray) -> np.ndarray:
    """The dataset's link flows ``(len(LINKS), len(t))``; 0 MW for a dataset without a
    market model (only ``nem`` has one)."""
    fast = getattr(dataset, "link_flow_array", None)
    if fast is None:
        return np.zeros((len(LINKS), len(t)))
    return np.asarray(fast(t), dtype=np.float64)


def build_day(dataset: Any, duids: Sequence[str], day: int) -> DayData:
    """Every number the day's 5-minute files hold, from the dataset's array methods."""
    t = day_stamps(day)
    power = np.array([dataset.unit_power_array(d, t) for d in duids]).reshape(len(duids), -1)
    market = {
        m: {r: dataset.region_market_array(r, m, t) for r in REGIONS} for m in ("price", "demand")
    }
    raw = model_flows(dataset, t)
    flows = {name: np.round(sign * raw[j], 5) + 0.0 for j, (name, sign) in enumerate(LINK_IDS)}
    flows.update({name: np.zeros(len(t)) for name in IDLE_LINK_IDS})
    return DayData(t, tuple(duids), power, market["price"], market["demand"], flows)


def net_export(flows: dict[str, float]) -> dict[str, float]:
    """Region -> MW out minus MW in (AEMO's NETINTERCHANGE, + = net export)."""
    out = dict.fromkeys(REGIONS, 0.0)
    for name, mw in flows.items():
        start, end = INTERCONNECTORS[name]
        out[start] += mw
        out[end] -= mw
    return out


# --- the 5-minute files ----------------------------------------------------------------


def perturbed(values: np.ndarray) -> np.ndarray:
    """The values of a file AEMO later replaces: a quarter MW off wherever a unit runs."""
    return np.where(values != 0.0, values + np.copysign(0.25, values), values)


def scada_table(data: DayData, slot: int, replaced: bool = False) -> Table:
    t = int(data.stamps[slot])
    values = data.power[:, slot]
    if replaced:
        values = perturbed(values)
    when, changed = q(nem_time(t)), q(nem_time(t - 300 + SCADA_CHANGED_S))
    present = ~np.isnan(values)
    duids = [d for d, ok in zip(data.duids, present.tolist(), strict=True) if ok]
    rows = [
        (when, duid, number(v), changed)
        for duid, v in zip(duids, values[present].tolist(), strict=True)
    ]
    columns = ("SETTLEMENTDATE", "DUID", "SCADAVALUE", "LASTCHANGED")
    return Table("DISPATCH", "UNIT_SCADA", 1, columns, rows)


def scada_csv(data: DayData, slot: int, created: int, file_id: int, replaced: bool) -> bytes:
    header = header_row("DISPATCHSCADA", created, file_id, subject="DISPATCHSCADA")
    return mms_report(header, [scada_table(data, slot, replaced)])


def _run_key(t: int) -> tuple[str, str, str, str]:
    """SETTLEMENTDATE, RUNNO, DISPATCHINTERVAL, INTERVENTION of the pricing run."""
    return q(nem_time(t)), "1", dispatch_interval(t), "0"


def case_table(t: int) -> Table:
    columns = ("SETTLEMENTDATE", "RUNNO", "INTERVENTION", "CASESUBTYPE", "SOLUTIONSTATUS")
    columns += ("SPDVERSION", "NONPHYSICALLOSSES", "TOTALOBJECTIVE", "LASTCHANGED")
    when, run, _, intervention = _run_key(t)
    changed = q(nem_time(t - 300 + DISPATCH_CHANGED_S))
    row = (when, run, intervention, "", "0", "", "0", "0", changed)
    return Table("DISPATCH", "CASE_SOLUTION", 2, columns, [row])


def price_table(data: DayData, slot: int) -> Table:
    t = int(data.stamps[slot])
    columns = ("SETTLEMENTDATE", "RUNNO", "REGIONID", "DISPATCHINTERVAL", "INTERVENTION")
    columns += ("RRP", "EEP", "ROP", "APCFLAG", "MARKETSUSPENDEDFLAG", "LASTCHANGED")
    columns += ("PRICE_STATUS",)
    when, run, interval, intervention = _run_key(t)
    changed = q(nem_time(t - 300 + DISPATCH_CHANGED_S))
    rows = []
    for region in REGIONS:
        rrp = number(float(data.price[region][slot]))
        rows.append((when, run, region, interval, intervention, rrp, "0", rrp, "0", "0"))
        rows[-1] += (changed, "FIRM")
    return Table("DISPATCH", "PRICE", 5, columns, rows)


def regionsum_table(data: DayData, slot: int) -> Table:
    t = int(data.stamps[slot])
    columns = ("SETTLEMENTDATE", "RUNNO", "REGIONID", "DISPATCHINTERVAL", "INTERVENTION")
    columns += ("TOTALDEMAND", "AVAILABLEGENERATION", "AVAILABLELOAD", "DEMANDFORECAST")
    columns += ("DISPATCHABLEGENERATION", "DISPATCHABLELOAD", "NETINTERCHANGE")
    columns += ("EXCESSGENERATION", "LASTCHANGED")
    when, run, interval, intervention = _run_key(t)
    changed = q(nem_time(t - 300 + DISPATCH_CHANGED_S))
    net = net_export({name: float(mw[slot]) for name, mw in data.flows.items()})
    rows = []
    for region in REGIONS:
        demand = float(data.demand[region][slot])
        generation = number(demand + net[region])
        rows.append((when, run, region, interval, intervention, number(demand), "", "0", "0"))
        rows[-1] += (generation, "0", number(net[region]), "0", changed)
    return Table("DISPATCH", "REGIONSUM", 8, columns, rows)


def interconnector_table(data: DayData, slot: int) -> Table:
    t = int(data.stamps[slot])
    columns = ("SETTLEMENTDATE", "RUNNO", "INTERCONNECTORID", "DISPATCHINTERVAL")
    columns += ("INTERVENTION", "METEREDMWFLOW", "MWFLOW", "MWLOSSES", "MARGINALVALUE")
    columns += ("VIOLATIONDEGREE", "LASTCHANGED")
    when, run, interval, intervention = _run_key(t)
    changed = q(nem_time(t - 300 + DISPATCH_CHANGED_S))
    rows = []
    for name in sorted(data.flows):
        mw = number(float(data.flows[name][slot]))
        rows.append((when, run, name, interval, intervention, mw, mw, "0", "0", "0", changed))
    return Table("DISPATCH", "INTERCONNECTORRES", 3, columns, rows)


def dispatchis_csv(data: DayData, slot: int, created: int, file_id: int) -> bytes:
    tables = [
        case_table(int(data.stamps[slot])),
        price_table(data, slot),
        regionsum_table(data, slot),
        interconnector_table(data, slot),
    ]
    return mms_report(header_row("DISPATCHIS", created, file_id, subject="DISPATCHIS"), tables)


# --- CDEII -------------------------------------------------------------------------------


def energy_source(fueltech: str) -> str:
    if fueltech.startswith("gas_") and fueltech != "gas_wcmg":
        return "Natural Gas (Pipeline)"
    if fueltech.startswith("battery"):
        return "Battery Storage"
    return ENERGY_SOURCES.get(fueltech, fueltech)


LOADS = ("pumps", "battery_charging")


def cdeii_csv(facilities: Sequence[dict[str, Any]], created: int, file_id: int) -> bytes:
    """CO2EII_AVAILABLE_GENERATORS.CSV: one genset (= DUID here) per generating unit, with
    its factor, 0 for a unit that has none (as AEMO lists wind, solar, hydro and storage);
    loads (pumps, a battery's charging unit) are not generators and are not listed."""
    columns = ("STATIONNAME", "DUID", "GENSETID", "REGIONID", "CO2E_EMISSIONS_FACTOR")
    columns += ("CO2E_ENERGY_SOURCE", "CO2E_DATA_SOURCE")
    rows = []
    for fac, unit in aemo_units(facilities):
        factor = unit.get("emissions_factor_co2") or 0.0
        if unit.get("fueltech_id") in LOADS or unit.get("status_id") == "retired":
            continue
        code = str(unit["code"])
        source = q(energy_source(str(unit.get("fueltech_id", ""))))
        name, region = q(str(fac.get("name", code))), str(fac.get("network_region", ""))
        rows.append((name, code, code, region, number(float(factor)), source, q("Simulated")))
    header = header_row("CO2EII_AVAILABLE_GENERATORS", created, file_id, "SETP.WORLD")
    return mms_report(header, [Table("CO2EII", "PUBLISHING", 1, columns, rows)])
