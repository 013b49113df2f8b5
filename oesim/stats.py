"""``python -m oesim.stats``: the simulated NEM week's figures beside their public targets.

Each target is a public aggregate figure (AEMO Quarterly Energy Dynamics and registration
lists, spring 2024-2025) or, where none was found, a range derived from them; each is
documented with its source, period and tolerance in ``docs/simulated-nem.md``, and the
price figures print a short source beside them. The NEM price of an interval is the
regions' prices weighted by their operational demand. The simulated figures come straight from the ``nem`` dataset
(the same numbers the simulator serves and ``make data`` extracts). Exit status 0 when
every figure is within tolerance, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from oesim.nem import NemDataset
from oesim.nem_catalogue import FACILITIES
from oesim.nem_demand import REGIONS
from oesim.nem_series import NEM_OFFSET_S, nem_hour

DEFAULT_SEED = 2025  # the shipped week's (nemlive.devtools.makedata.SIM_SEED)
DEFAULT_START = date(2025, 10, 1)

# Fuel groups as the dashboard draws them, from OE fueltechs.
GROUP = {
    "coal_black": "coal",
    "coal_brown": "coal",
    "gas_ccgt": "gas",
    "gas_ocgt": "gas",
    "gas_recip": "gas",
    "gas_steam": "gas",
    "distillate": "gas",
    "hydro": "hydro",
    "wind": "wind",
    "solar_utility": "solar",
    "battery": "battery",
    "bioenergy_biomass": "bioenergy",
    "bioenergy_biogas": "bioenergy",
}
RENEWABLE = ("hydro", "wind", "solar", "bioenergy")


@dataclass(frozen=True)
class Target:
    """A public figure and how far a single simulated week may sit from it."""

    value: float
    tolerance: float  # absolute, in the figure's unit
    unit: str
    source: str = ""  # where the target comes from, in short (docs/simulated-nem.md has more)

    def holds(self, got: float) -> bool:
        return abs(got - self.value) <= self.tolerance


# Targets: see docs/simulated-nem.md for each figure's source and why its tolerance.
TARGETS: dict[str, Target] = {
    "midday/evening demand ratio": Target(0.62, 0.08, ""),
    "mean operational demand": Target(19_900.0, 2_000.0, "MW"),
    "min operational demand": Target(11_500.0, 2_000.0, "MW"),
    "negative prices NEM (demand-weighted)": Target(
        30.0, 5.0, "%", "spring 2025: a quarter to a third of intervals; see docs"
    ),
    "mean price NEM (demand-weighted)": Target(
        32.5, 12.5, "$/MWh", "spring 2025 week: $20-45; QED Q4 2025 quarter $50"
    ),
    "negative prices SA1": Target(35.0, 15.0, "%", "QED Q3 2024: SA about 30%"),
    "negative prices VIC1": Target(30.0, 15.0, "%", "QED Q3 2021 VIC 21%, rising since"),
    "negative prices QLD1": Target(28.0, 10.0, "%", "from the NEM-wide share; see docs"),
    "negative prices NSW1": Target(28.0, 10.0, "%", "from the NEM-wide share; see docs"),
    "negative prices TAS1": Target(20.0, 15.0, "%", "QED Q3 2021 TAS 19%"),
    "mean price NEM": Target(50.0, 25.0, "$/MWh", "QED Q4 2025: $50"),
    "mean price NSW1": Target(75.0, 35.0, "$/MWh"),
    "mean price QLD1": Target(58.0, 35.0, "$/MWh"),
    "mean price VIC1": Target(37.0, 30.0, "$/MWh"),
    "mean price SA1": Target(37.0, 35.0, "$/MWh"),
    "mean price TAS1": Target(60.0, 35.0, "$/MWh"),
    "share coal": Target(56.0, 8.0, "%"),
    "share wind": Target(19.8, 7.0, "%"),
    "share solar": Target(12.3, 5.0, "%"),
    "share hydro": Target(6.5, 4.0, "%"),
    "share gas": Target(3.6, 3.0, "%"),
    "share battery": Target(1.3, 1.5, "%"),
    "share renewable": Target(39.0, 8.0, "%"),
}
# Operating utility-scale capacity by fuel (MW), 2025; the catalogue must be within 15%.
CAPACITY_TARGETS_MW = {
    "coal": 21_000.0,
    "gas": 11_300.0,
    "hydro": 7_900.0,
    "wind": 13_500.0,
    "solar": 9_500.0,
    "battery": 6_000.0,
}
CAPACITY_TOLERANCE = 0.15


def catalogue_capacity() -> dict[str, float]:
    """Operating capacity (MW) by fuel group; split battery units and pumps not counted."""
    out: dict[str, float] = defaultdict(float)
    for fac in FACILITIES:
        for u in fac.units:
            group = GROUP.get(u.fueltech_id)
            if u.status == "operating" and group:
                out[group] += u.capacity_mw
    return dict(out)


def figures(seed: int = DEFAULT_SEED, start: date = DEFAULT_START, days: int = 7) -> dict:
    """The simulated week's calibrated figures, keyed like :data:`TARGETS` (plus extras)."""
    ds = NemDataset(seed=seed)
    t = 300 * np.arange(1, days * 288 + 1, dtype=np.int64) + _epoch(start)
    h = nem_hour(t)
    demand = {r: ds.region_market_array(r, "demand", t) for r in REGIONS}
    price = {r: ds.region_market_array(r, "price", t) for r in REGIONS}
    nem = sum(demand.values())
    # The NEM price of an interval: the regions' prices weighted by their demand.
    nem_price = sum(price[r] * demand[r] for r in REGIONS) / nem
    midday = (h > 11) & (h <= 14)
    evening = (h > 17.5) & (h <= 20)
    out: dict[str, float] = {
        "midday/evening demand ratio": float(nem[midday].mean() / nem[evening].mean()),
        "mean operational demand": float(nem.mean()),
        "min operational demand": float(nem.min()),
        "mean price NEM": float(np.mean([p.mean() for p in price.values()])),
        "negative prices NEM (demand-weighted)": float(100 * (nem_price < 0).mean()),
        "mean price NEM (demand-weighted)": float(nem_price.mean()),
    }
    for r in REGIONS:
        out[f"negative prices {r}"] = float(100 * (price[r] < 0).mean())
        out[f"mean price {r}"] = float(price[r].mean())
    gen: dict[str, float] = defaultdict(float)
    for fac in FACILITIES:
        for u in fac.units:
            group = GROUP.get(u.fueltech_id)
            if group and u.status == "operating":
                mw = np.nan_to_num(ds.unit_power_array(u.code, t))
                gen[group] += float(np.clip(mw, 0, None).sum())
    total = sum(gen.values())
    for group in ("coal", "wind", "solar", "hydro", "gas", "battery"):
        out[f"share {group}"] = 100 * gen[group] / total
    out["share renewable"] = 100 * sum(gen[g] for g in RENEWABLE) / total
    days_idx = np.arange(len(t)) // 288
    ducks = 0
    for d in range(days):
        day = nem[days_idx == d]
        hd = h[days_idx == d]
        trough = day[(hd > 10) & (hd <= 15)].min()
        ducks += (
            trough < day[(hd > 1) & (hd <= 5)].mean() and trough < day[(hd > 17) & (hd <= 21)].max()
        )
    out["days with a duck curve"] = float(ducks)
    return out


def _epoch(start: date) -> int:
    """Epoch seconds of NEM midnight that starts ``start``."""
    return (start - date(1970, 1, 1)).days * 86_400 - NEM_OFFSET_S


def report(got: dict[str, float]) -> tuple[list[str], bool]:
    """Printable lines and whether every target holds."""
    lines = [f"{'figure':38} {'simulated':>10} {'target':>9} {'tolerance':>10}  ok"]
    ok_all = True
    for name, target in TARGETS.items():
        value = got[name]
        ok = target.holds(value)
        ok_all &= ok
        line = (
            f"{name:38} {value:10,.2f} {target.value:9,.2f} {'±':>2}{target.tolerance:8,.2f}"
            f"  {'ok' if ok else 'OUT'} {target.unit}"
        )
        lines.append(f"{line:80}  [{target.source}]" if target.source else line)
    lines.append(f"{'days with a duck curve':38} {got['days with a duck curve']:10.0f}")
    lines.append("")
    lines.append(f"{'capacity (MW)':38} {'catalogue':>10} {'target':>9} {'tolerance':>10}  ok")
    cap = catalogue_capacity()
    for group, want in CAPACITY_TARGETS_MW.items():
        have = cap.get(group, 0.0)
        ok = abs(have - want) <= CAPACITY_TOLERANCE * want
        ok_all &= ok
        lines.append(
            f"{group:38} {have:10,.0f} {want:9,.0f} {'±':>2}{CAPACITY_TOLERANCE * want:8,.0f}"
            f"  {'ok' if ok else 'OUT'}"
        )
    return lines, ok_all


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oesim.stats", description=__doc__)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args(argv)
    lines, ok = report(figures(args.seed, args.start, args.days))
    print(f"simulated NEM, seed {args.seed}, {args.days} days from {args.start} (NEM time)")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
