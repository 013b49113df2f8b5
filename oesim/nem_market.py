"""The simulated NEM's market: a merit order per region, interchange, storage and coal.

Each NEM day is dispatched at once, for all five regions, and cached:

1. **Offers.** Every unit offers its available MW in price bands ``(lo, hi, share)``: the
   band's MW clear linearly as the price moves from ``lo`` to ``hi`` ($/MWh). Wind and
   solar bid below zero (their renewable certificates pay them to run); coal offers its
   minimum load near the floor (it cannot stop and restart in a day) and the rest at its
   fuel cost; gas and hydro set the evening price; a slice of gas and hydro sits near the
   market price cap, and in rare evening "rebid" half-hours most of a region's gas, hydro
   and coal above minimum moves there, so the price spikes when the region is short.
   Bioenergy runs as it can (a price-taker).
2. **Clearing** (:func:`clear_with_interchange`) meets each region's need on the
   five-region interconnector tree (:data:`LINKS`): regions joined by a link below its
   limit share a price, a link at its limit separates them. Per interval, the regions'
   net imports sum to zero exactly.
3. **Pass 1** clears operational demand (:mod:`oesim.nem_demand`) less bioenergy against
   every offer: the prices storage plans on. Each battery charges, at part power, through
   the cheapest six hours before 16:00 and discharges into the dearest after, within its
   energy; pumped hydro pumps in the cheapest hours.
4. **Pass 2** adds that storage and clears again; each coal unit then follows its pass-2
   dispatch at its ramp rate, so it sinks to minimum load through the solar day and climbs
   back for the evening.
5. **Pass 3** clears what coal, bioenergy and storage leave against wind, solar, gas and
   hydro: the final prices, interchange and dispatch.

Everything is a pure function of ``(seed, day)``; a value at instant ``t`` depends on
nothing but its own NEM day, so any window, fetched whole or in chunks, gives the same
numbers. Units: MW, $/MWh; stamps are interval-ending epoch seconds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from oesim.nem_demand import REGIONS, operational_demand, rooftop_pv
from oesim.nem_series import (
    DAY_S,
    FIVE_MIN_S,
    HOUR_S,
    MARKET_CAP,
    MARKET_FLOOR,
    NEM_OFFSET_S,
    SeriesUnit,
    bio_fraction,
    bump,
    hash_uniform,
    region_tightness,
    smooth_noise,
    solar_fraction,
    stable_key,
    trip_factor,
    wind_fraction,
)

SLOTS = 288  # five-minute intervals in a NEM day
# Interconnectors as a tree rooted at VIC1: (child, parent, MW limit child->parent, MW
# limit parent->child). Roughly QNI with Terranora, VNI, Heywood with Murraylink, Basslink.
ROOT = "VIC1"
LINKS: tuple[tuple[str, str, float, float], ...] = (
    ("QLD1", "NSW1", 1_200.0, 900.0),
    ("NSW1", "VIC1", 800.0, 750.0),
    ("SA1", "VIC1", 650.0, 750.0),
    ("TAS1", "VIC1", 478.0, 478.0),
)
# Offer bands per fueltech: (lo, hi, share of available MW); "top" bands are scarcity
# pricing. Coal's first band is its minimum load.
BLACK_MIN, BROWN_MIN = 0.5, 0.6  # minimum stable load, share of capacity
COAL_MIN_LOAD = {"coal_black": BLACK_MIN, "coal_brown": BROWN_MIN}
COAL_RAMP = {"coal_black": 0.03, "coal_brown": 0.02}  # share of capacity per 5 minutes
TOP_BAND = (4_000.0, MARKET_CAP)
OFFERS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "coal_black": ((-1_000.0, -300.0, BLACK_MIN), (10.0, 70.0, 1.0 - BLACK_MIN)),
    "coal_brown": ((-1_000.0, -300.0, BROWN_MIN), (-10.0, 35.0, 1.0 - BROWN_MIN)),
    "wind": ((-60.0, -15.0, 1.0),),
    "solar_utility": ((-45.0, -12.0, 1.0),),
    "gas_ccgt": ((85.0, 140.0, 0.93),),
    "gas_steam": ((120.0, 210.0, 0.93),),
    "gas_recip": ((150.0, 300.0, 0.93),),
    "gas_ocgt": ((170.0, 420.0, 0.93),),
    "distillate": ((400.0, 1_000.0, 0.93),),
    "hydro": ((70.0, 250.0, 0.93),),
    "hydro_tas": ((-60.0, 10.0, 0.25), (10.0, 110.0, 0.4), (110.0, 240.0, 0.28)),
}
# Share of gas and hydro MW offered near the cap, normally and in a rebid half-hour.
TOP_SHARE, REBID_SHARE = 0.07, 0.8
REBID_PER_EVENING_BLOCK = 0.03  # chance that a region's evening half-hour is rebid
# Supply within this many MW of a need meets it (and a link within it of a limit is at it).
# A supply curve sums a few hundred offers; the rounding of that sum (~1e-10 MW) depends on
# the order the BLAS kernel adds in, which differs between CPUs and numpy builds. Where the
# curve is flat at the need (every offer below a price gap cleared, nothing above it needed)
# an exact comparison would put the price at either end of the gap on those last bits.
MATCH_MW = 1e-6
BATTERY_EFFICIENCY = 0.85  # round trip
BATTERY_HOURS = 2.0  # storage when the catalogue gives none
BATTERY_POWER = 0.92  # share of its power a battery charges and discharges at
BATTERY_CHARGE_SLOTS = 72  # five-minute slots a day's charge is spread over, at least
PRICE_GRID = np.unique(
    np.concatenate(
        [
            np.linspace(MARKET_FLOOR, -100.0, 19),
            np.linspace(-100.0, 400.0, 201),
            np.geomspace(400.0, 1_000.0, 8),
            np.geomspace(1_000.0, MARKET_CAP, 24),
        ]
    )
)


@dataclass(frozen=True)
class DayResult:
    """One NEM day's solution: arrays of :data:`SLOTS` values, MW and $/MWh."""

    price: dict[str, np.ndarray]
    demand: dict[str, np.ndarray]  # operational
    rooftop: dict[str, np.ndarray]
    imports: dict[str, np.ndarray]  # >= 0
    exports: dict[str, np.ndarray]  # >= 0
    unit_mw: np.ndarray  # (units, SLOTS), in NemMarket.codes order; signed for batteries
    # Available but not dispatched, per region (MW >= 0): wind, and utility solar.
    curtailed_wind: dict[str, np.ndarray]
    curtailed_solar: dict[str, np.ndarray]
    # Per link of LINKS (rows, in that order): MW, positive child -> parent. The imports and
    # exports above are these flows, each counted on one side by its sign.
    flows: np.ndarray  # (len(LINKS), SLOTS)


# The per-region series of a DayResult that NemMarket.region serves.
DAY_SERIES = (
    "price",
    "demand",
    "rooftop",
    "imports",
    "exports",
    "curtailed_wind",
    "curtailed_solar",
)


def _zeros() -> dict[str, np.ndarray]:
    return {r: np.zeros(SLOTS) for r in REGIONS}


def day_stamps(day: int) -> np.ndarray:
    """The 288 interval-ending stamps (epoch s) of NEM day ``day``."""
    return day * DAY_S - NEM_OFFSET_S + FIVE_MIN_S * np.arange(1, SLOTS + 1, dtype=np.int64)


def day_and_slot(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NEM day and slot (0..287) of the five-minute interval that ends at or after ``t``."""
    k = (np.asarray(t, dtype=np.int64) + NEM_OFFSET_S - 1) // FIVE_MIN_S
    return k // SLOTS, k % SLOTS


def _offer_kind(u: SeriesUnit) -> str | None:
    ft = u.fueltech_id
    if ft.startswith("wind"):
        return "wind"
    if ft.startswith("solar"):
        return "solar_utility"
    if ft in ("hydro", "hydro_and_storage"):
        return "hydro_tas" if u.region == "TAS1" else "hydro"
    if ft in OFFERS:
        return ft
    return None


@dataclass
class _Bands:
    """Offer bands of one region: per band its unit row, price range and MW share."""

    unit: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    share: np.ndarray
    top: np.ndarray  # True: a scarcity band whose share moves in rebids

    def curve(self, q: np.ndarray) -> np.ndarray:
        """Supply (MW) offered at or below each PRICE_GRID price: (SLOTS, grid)."""
        return q.T @ self.grid_share

    @cached_property
    def grid_share(self) -> np.ndarray:
        """Share of each band cleared at each PRICE_GRID price: (bands, grid)."""
        width = (self.hi - self.lo)[:, None]
        return np.clip((PRICE_GRID[None, :] - self.lo[:, None]) / width, 0, 1)

    def cleared(self, q: np.ndarray, price: np.ndarray) -> np.ndarray:
        """MW cleared per band at ``price`` (bands, SLOTS)."""
        frac = np.clip((price[None, :] - self.lo[:, None]) / (self.hi - self.lo)[:, None], 0, 1)
        return q * frac


def crossing(m: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per row, the lowest price at which ``m`` (rows, PRICE_GRID; non-decreasing along the
    grid, linear between grid points) reaches ``y`` to within :data:`MATCH_MW`: the floor
    when it is already there at the floor, the cap when it never gets there. Where ``m`` is
    flat at ``y`` the price is the start of the flat stretch, however the last bits fall."""
    idx = (m < (y - MATCH_MW)[:, None]).sum(axis=1)
    rows = np.arange(len(y))
    lo_i = np.clip(idx - 1, 0, len(PRICE_GRID) - 1)
    hi_i = np.clip(idx, 0, len(PRICE_GRID) - 1)
    s0, s1 = m[rows, lo_i], m[rows, hi_i]
    w = np.where(s1 > s0, (y - s0) / np.where(s1 > s0, s1 - s0, 1.0), 1.0)
    p = PRICE_GRID[lo_i] + np.clip(w, 0, 1) * (PRICE_GRID[hi_i] - PRICE_GRID[lo_i])
    p = np.where(idx == 0, MARKET_FLOOR, p)
    return np.where(idx >= len(PRICE_GRID), MARKET_CAP, p)


def value_at(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per row, ``m`` (rows, PRICE_GRID) interpolated at price ``p``."""
    j = np.clip(np.searchsorted(PRICE_GRID, p, side="right"), 1, len(PRICE_GRID) - 1)
    w = np.clip((p - PRICE_GRID[j - 1]) / (PRICE_GRID[j] - PRICE_GRID[j - 1]), 0, 1)
    rows = np.arange(len(p))
    return m[rows, j - 1] + w * (m[rows, j] - m[rows, j - 1])


def clear_with_interchange(
    curves: dict[str, np.ndarray], need: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Regional prices ($/MWh) and link flows (MW, ``LINKS`` order, positive child ->
    parent) that clear every region: exact on the tree, for supply linear between grid
    prices.

    ``curves[r]``: MW region ``r`` offers at or below each PRICE_GRID price, per slot;
    ``need[r]``: MW its offers must supply before interchange. Each subtree's surplus at a
    price is what it would export if it shared that price, clipped to its link's limits;
    the root's price balances its own surplus and its subtrees'; going down, a subtree whose
    link is not at a limit shares its parent's price, else it clears on its own.
    """
    surplus = {r: curves[r] - need[r][:, None] for r in curves}
    children: dict[str, list[int]] = {r: [] for r in curves}
    for j, (_, parent, _, _) in enumerate(LINKS):
        children[parent].append(j)
    own: dict[str, np.ndarray] = {}  # a region's surplus with its subtrees' exports
    sent: dict[int, np.ndarray] = {}  # a link's child-subtree export, clipped to its limits

    def up(region: str) -> np.ndarray:
        total = surplus[region].copy()
        for j in children[region]:
            child, _, out_mw, in_mw = LINKS[j]
            sent[j] = np.clip(up(child), -in_mw, out_mw)
            total += sent[j]
        own[region] = total
        return total

    up(ROOT)
    n = len(need[ROOT])
    flows = np.zeros((len(LINKS), n))
    prices: dict[str, np.ndarray] = {}

    def down(region: str, p: np.ndarray) -> None:
        prices[region] = p
        for j in children[region]:
            child, _, out_mw, in_mw = LINKS[j]
            flow = value_at(sent[j], p)
            flows[j] = flow
            free = (flow < out_mw - MATCH_MW) & (flow > -in_mw + MATCH_MW)
            down(child, np.where(free, p, crossing(own[child], flow)))

    down(ROOT, crossing(own[ROOT], np.zeros(n)))
    return prices, flows


def ramp_limit(x: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Follow ``x`` (units, SLOTS) moving at most ``rate`` (units,) per slot."""
    y = np.empty_like(x)
    y[:, 0] = x[:, 0]
    for i in range(1, x.shape[1]):
        y[:, i] = np.clip(x[:, i], y[:, i - 1] - rate, y[:, i - 1] + rate)
    return y


def battery_schedule(price: np.ndarray, hours: float, key: int) -> np.ndarray:
    """Signed fraction of power (SLOTS,): -1 charging, +1 discharging; one cycle a day.

    Charges at part power in the cheapest :data:`BATTERY_CHARGE_SLOTS` slots before 16:00
    (or more, for a long battery), discharges in the dearest from 16:00, just enough to
    empty what was charged (round-trip losses included)."""
    view = price + 4.0 * smooth_noise(key, np.arange(SLOTS) * 300.0, 3_600.0)
    n_out = round(min(hours, 4.0) * 12 * 0.9)
    n_in = min(int(np.ceil(n_out / BATTERY_EFFICIENCY)), 180)
    # The charge is spread over at least BATTERY_CHARGE_SLOTS of the cheapest slots, at part
    # power: batteries soak up the midday surplus rather than all charge flat out at once.
    n_spread = min(max(n_in, BATTERY_CHARGE_SLOTS), 180)
    split = 16 * 12
    out = np.zeros(SLOTS)
    cheap = np.argsort(view[:split], kind="stable")[:n_spread]
    dear = split + np.argsort(-view[split:], kind="stable")[:n_out]
    # Only cycle when the spread pays for the losses.
    if view[dear].mean() * BATTERY_EFFICIENCY - view[cheap].mean() > 15.0:
        out[cheap] = -BATTERY_POWER * n_in / n_spread
        out[dear] = BATTERY_POWER * n_in * BATTERY_EFFICIENCY / max(n_out, 1)
    return np.clip(out, -0.98, 0.98)


def pump_schedule(price: np.ndarray, key: int) -> np.ndarray:
    """Pump load fraction (SLOTS,) >= 0 in steps: full in the cheapest three hours, half in
    the next three, and only while the price is below $40/MWh."""
    order = np.argsort(price + 3.0 * hash_uniform(key, np.arange(SLOTS)), kind="stable")
    out = np.zeros(SLOTS)
    out[order[:36]] = 1.0
    out[order[36:72]] = 0.5
    return np.where(price < 40.0, out, 0.0)


class NemMarket:
    """The day-by-day market solution for one seed and one fleet (thread-safe cache)."""

    def __init__(self, seed: int, units: Sequence[SeriesUnit], storage_mwh: dict[str, float]):
        self.seed = seed
        self.units = [u for u in units if u.status == "operating"]
        self.codes = {u.code: i for i, u in enumerate(self.units)}
        self._storage = storage_mwh
        self._cache: OrderedDict[int, DayResult] = OrderedDict()
        # Offers do not change from day to day.
        self._bands_all = {r: self._bands(r, exclude_coal=False) for r in REGIONS}
        self._bands_flex = {r: self._bands(r, exclude_coal=True) for r in REGIONS}
        self._lock = threading.Lock()

    # --- lookups ---------------------------------------------------------------------

    def day(self, day: int) -> DayResult:
        """The solution of NEM day ``day`` (days since 1970-01-01, NEM time), cached.

        One lock around look-up and solve: the server's threads ask for the same days at
        once, and a day solved twice would only waste time (the result is the same)."""
        with self._lock:
            hit = self._cache.get(day)
            if hit is None:
                hit = self._solve(day)
                self._cache[day] = hit
                while len(self._cache) > 16:
                    self._cache.popitem(last=False)
            self._cache.move_to_end(day)
            return hit

    def unit_mw(self, code: str, t: np.ndarray) -> np.ndarray:
        """MW of an operating unit at stamps ``t`` (signed for ``battery``)."""
        row = self.codes[code]
        return self._gather(t, lambda d: d.unit_mw[row])

    def region(self, metric: str, region: str, t: np.ndarray) -> np.ndarray:
        """One of :data:`DAY_SERIES` (``price``, ``demand``, ``rooftop``, ``imports``, ...)
        of a region at ``t``."""
        if region not in REGIONS:
            raise KeyError(region)
        if metric not in DAY_SERIES:
            raise KeyError(metric)
        return self._gather(t, lambda d: getattr(d, metric)[region])

    def link_flow(self, link: int, t: np.ndarray) -> np.ndarray:
        """MW on link ``LINKS[link]`` at stamps ``t``, positive child -> parent."""
        if not 0 <= link < len(LINKS):
            raise KeyError(link)
        return self._gather(t, lambda d: d.flows[link])

    def _gather(self, t: np.ndarray, pick: Callable[[DayResult], np.ndarray]) -> np.ndarray:
        t = np.asarray(t, dtype=np.int64)
        out = np.empty(t.shape)
        days, slots = day_and_slot(t)
        for day in np.unique(days):
            sel = days == day
            out[sel] = pick(self.day(int(day)))[slots[sel]]
        return out

    # --- the day's dispatch ------------------------------------------------------------

    def _solve(self, day: int) -> DayResult:
        seed = self.seed
        t = day_stamps(day)
        tf = t.astype(np.float64)
        units = self.units
        n_units = len(units)
        mw = np.zeros((n_units, SLOTS))
        demand = {r: operational_demand(seed, r, tf) for r in REGIONS}
        rooftop = {r: rooftop_pv(seed, r, tf) for r in REGIONS}
        avail = np.zeros((n_units, SLOTS))
        musttake = {r: np.zeros(SLOTS) for r in REGIONS}
        coal_rows: list[int] = []
        battery_rows: list[int] = []
        pump_rows: list[int] = []
        for i, u in enumerate(units):
            ft = u.fueltech_id
            key = stable_key(seed, "unit", u.code)
            if ft.startswith("coal_"):
                coal_rows.append(i)
                avail[i] = u.capacity_mw * coal_availability(seed, u, tf, key)
            elif ft.startswith("wind"):
                avail[i] = u.capacity_mw * wind_fraction(seed, u, tf)
            elif ft.startswith("solar"):
                avail[i] = u.capacity_mw * solar_fraction(seed, u, tf)
            elif ft.startswith("bioenergy"):
                mw[i] = u.capacity_mw * bio_fraction(seed, u, tf)
                musttake[u.region] += mw[i]
            elif ft == "battery":
                battery_rows.append(i)
            elif ft == "pumps":
                pump_rows.append(i)
            elif _offer_kind(u) is not None:
                # Gas and hydro: a rare forced outage, otherwise fully available.
                avail[i] = u.capacity_mw * trip_factor(key + 11, tf, 0.01)

        rebid = self._rebid_share(tf)
        bands_all, bands_flex = self._bands_all, self._bands_flex
        q_all = {r: self._quantities(bands_all[r], avail, rebid[r]) for r in REGIONS}
        q_flex = {r: self._quantities(bands_flex[r], avail, rebid[r]) for r in REGIONS}
        curves_all = {r: bands_all[r].curve(q_all[r]) for r in REGIONS}
        curves_flex = {r: bands_flex[r].curve(q_flex[r]) for r in REGIONS}

        def need(fixed_rows: list[int]) -> dict[str, np.ndarray]:
            # What the offers must supply: demand and pumping, less what runs regardless.
            out = {r: demand[r] - musttake[r] for r in REGIONS}
            for i in fixed_rows:
                sign = 1.0 if units[i].fueltech_id == "pumps" else -1.0
                out[units[i].region] += sign * mw[i]
            return out

        # Pass 1: everything offered, storage idle: the prices storage plans against.
        p1, _ = clear_with_interchange(curves_all, need([]))
        for i in battery_rows:
            u = units[i]
            hours = self._storage.get(u.code, u.capacity_mw * BATTERY_HOURS) / u.capacity_mw
            key = stable_key(seed, "battery", u.family)
            frac = battery_schedule(p1[u.region], hours, key)
            jitter = 0.03 * smooth_noise(key + 2, tf, 600)
            mw[i] = np.clip(frac + jitter, -0.98, 0.98) * u.capacity_mw
        for i in pump_rows:
            u = units[i]
            mw[i] = u.capacity_mw * pump_schedule(p1[u.region], stable_key(seed, "pump", u.code))
        storage_rows = battery_rows + pump_rows

        # Pass 2: storage fixed, coal free; coal then follows at its ramp rate.
        need2 = need(storage_rows)
        p2, flows2 = clear_with_interchange(curves_all, need2)
        coal = set(coal_rows)
        for r in REGIONS:
            b = bands_all[r]
            got = self._dispatch(b, q_all[r], p2[r], need2[r] + self._net_export(r, flows2))
            for row in coal & set(b.unit.tolist()):
                mw[row] = got[b.unit == row].sum(axis=0)
        if coal_rows:
            rows = np.array(coal_rows)
            rate = np.array(
                [COAL_RAMP[units[i].fueltech_id] * units[i].capacity_mw for i in coal_rows]
            )
            mw[rows] = np.minimum(ramp_limit(mw[rows], rate), avail[rows])

        # Pass 3: what coal, bioenergy and storage leave for wind, solar, gas and hydro.
        need3 = need(storage_rows + coal_rows)
        p3, flows = clear_with_interchange(curves_flex, need3)
        for r in REGIONS:
            b = bands_flex[r]
            got = self._dispatch(b, q_flex[r], p3[r], need3[r] + self._net_export(r, flows))
            for row in set(b.unit.tolist()):
                mw[row] = got[b.unit == row].sum(axis=0)

        imports = {r: np.zeros(SLOTS) for r in REGIONS}
        exports = {r: np.zeros(SLOTS) for r in REGIONS}
        for j, (a, b, _, _) in enumerate(LINKS):
            pos, neg = np.maximum(flows[j], 0), np.maximum(-flows[j], 0)
            exports[a] += pos
            imports[b] += pos
            exports[b] += neg
            imports[a] += neg
        price = {r: np.clip(p3[r], MARKET_FLOOR, MARKET_CAP) for r in REGIONS}
        spilled = {"wind": _zeros(), "solar": _zeros()}
        for i, u in enumerate(units):
            kind = u.fueltech_id.split("_")[0]
            if kind in spilled:
                spilled[kind][u.region] += np.maximum(avail[i] - mw[i], 0.0)
        return DayResult(
            price, demand, rooftop, imports, exports, mw, spilled["wind"], spilled["solar"], flows
        )

    def _net_export(self, region: str, flows: np.ndarray) -> np.ndarray:
        out = np.zeros(flows.shape[1])
        for j, (child, parent, _, _) in enumerate(LINKS):
            out += flows[j] if child == region else (-flows[j] if parent == region else 0.0)
        return out

    def _rebid_share(self, tf: np.ndarray) -> dict[str, np.ndarray]:
        """Per region and slot, the share of gas and hydro MW offered near the cap."""
        h = (tf + NEM_OFFSET_S) % DAY_S / HOUR_S
        block = (tf.astype(np.int64) - 1) // 1_800
        out = {}
        for r in REGIONS:
            tight = region_tightness(self.seed, r, tf)
            u = hash_uniform(stable_key(self.seed, "rebid", r), block)
            event = u < REBID_PER_EVENING_BLOCK * bump(h, 18.5, 1.6) * (0.4 + tight) * 2.0
            out[r] = np.where(event, REBID_SHARE, TOP_SHARE)
        return out

    def _bands(self, region: str, exclude_coal: bool) -> _Bands:
        unit, lo, hi, share, top = [], [], [], [], []
        for i, u in enumerate(self.units):
            if u.region != region:
                continue
            kind = _offer_kind(u)
            if kind is None or (exclude_coal and kind.startswith("coal")):
                continue
            # Each unit shades its bands a little, so a fuel's offers form a slope.
            jit = hash_uniform(stable_key(self.seed, "offer", u.code), np.arange(1))[0]
            spread = 0.25 * (jit - 0.5)
            for b_lo, b_hi, b_share in OFFERS[kind]:
                width = b_hi - b_lo
                unit.append(i)
                lo.append(b_lo + spread * width)
                hi.append(b_hi + spread * width)
                share.append(b_share)
                top.append(False)
            if kind not in ("wind", "solar_utility"):
                unit.append(i)
                lo.append(TOP_BAND[0] * (1 + spread))
                hi.append(TOP_BAND[1])
                share.append(1.0 - sum(s for _, _, s in OFFERS[kind]))
                top.append(True)
        return _Bands(
            np.array(unit, dtype=np.int64),
            np.array(lo),
            np.array(hi),
            np.array(share),
            np.array(top, dtype=bool),
        )

    def _quantities(self, b: _Bands, avail: np.ndarray, rebid: np.ndarray) -> np.ndarray:
        """MW per band and slot; in a rebid, the top band takes MW from the band below."""
        q = b.share[:, None] * avail[b.unit]
        extra = np.maximum(rebid - TOP_SHARE, 0.0)[None, :]
        if extra.any():
            top_rows = np.flatnonzero(b.top)
            below = top_rows - 1  # the unit's last ordinary band precedes its top band
            moved = np.minimum(extra * avail[b.unit[top_rows]], q[below])
            q[top_rows] += moved
            q[below] -= moved
        return q

    def _dispatch(
        self, b: _Bands, q: np.ndarray, price: np.ndarray, need: np.ndarray
    ) -> np.ndarray:
        """MW per band at the regional price, scaled so that the region's total is ``need``
        (the linear price grid otherwise leaves a few MW unmatched)."""
        got = b.cleared(q, price)
        total = got.sum(axis=0)
        scale = np.where(total > 1e-9, np.clip(need, 0, None) / np.where(total > 1e-9, total, 1), 0)
        # Never above what is offered: beyond it the region is short (unserved energy).
        offered = q.sum(axis=0)
        scale = np.minimum(scale, np.where(total > 1e-9, offered / np.maximum(total, 1e-9), 0))
        return got * scale[None, :]


def coal_availability(seed: int, u: SeriesUnit, t: np.ndarray, key: int) -> np.ndarray:
    """Share of a coal unit's capacity it can offer: derated a little, out for the week in
    planned maintenance on a few units (spring is outage season), tripped now and then."""
    week = (t.astype(np.int64) + NEM_OFFSET_S + 3 * DAY_S) // (7 * DAY_S)
    maintenance = hash_uniform(key + 21, week) < 0.12
    derate = 0.86 + 0.05 * smooth_noise(key + 22, t, 2 * DAY_S)
    return np.where(maintenance, 0.0, derate * trip_factor(key + 11, t, 0.02))
