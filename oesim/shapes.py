"""Deterministic, vectorised series shapes shared by the simulator's datasets.

Every value is a pure function of (seed, unit or region key, instant): no state, no
dependence on the request window, so a week fetched whole equals the same week fetched in
chunks. Instants are Unix epoch seconds (``int64`` arrays) of interval-ending 5-minute
stamps; results are ``float64`` arrays with ``NaN`` meaning "no data at that instant".

``CatalogueDataset`` turns a list of :class:`UnitSpec` plus facility dicts into an object
that satisfies :class:`oesim.dataset.Dataset` and also offers the fast array methods the
server prefers (``unit_power_array``, ``region_market_array``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

FIVE_MIN_S = 300
DAY_S = 86_400

# Regional price/demand levels: invented, plausible orders of magnitude only.
REGION_PRICE_BASE = {
    "NSW1": 95.0,
    "QLD1": 85.0,
    "SA1": 105.0,
    "TAS1": 70.0,
    "VIC1": 80.0,
    "WEM": 75.0,
}
REGION_DEMAND_BASE = {
    "NSW1": 7600.0,
    "QLD1": 6300.0,
    "SA1": 1450.0,
    "TAS1": 1100.0,
    "VIC1": 5000.0,
    "WEM": 2100.0,
}
REGION_OFFSET_H = {"WEM": 8}


def stable_key(*parts: object) -> int:
    """A 63-bit integer from ``parts``, identical across processes (unlike ``hash``)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def hash_uniform(key: int, idx: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) per integer in ``idx`` (splitmix64 of key + idx), vectorised."""
    with np.errstate(over="ignore"):
        z = idx.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(key & (2**64 - 1))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def smooth_noise(key: int, t: np.ndarray, period_s: int) -> np.ndarray:
    """Smooth value noise in [0, 1): random knots every ``period_s`` seconds, cosine-blended."""
    pos = t.astype(np.float64) / period_s
    k0 = np.floor(pos).astype(np.int64)
    frac = pos - k0
    w = (1.0 - np.cos(np.pi * frac)) / 2.0
    a = hash_uniform(key, k0)
    b = hash_uniform(key, k0 + 1)
    return a * (1.0 - w) + b * w


def local_hours(t: np.ndarray, offset_h: int) -> np.ndarray:
    """Wall-clock hour of day (float, [0, 24)) at a fixed UTC offset."""
    return ((t + offset_h * 3600) % DAY_S) / 3600.0


def bump(h: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A Gaussian bump on the 24-hour circle, 1.0 at ``centre``."""
    d = np.abs(h - centre)
    d = np.minimum(d, 24.0 - d)
    return np.exp(-0.5 * (d / width) ** 2)


def solar_shape(h: np.ndarray) -> np.ndarray:
    """Clear-sky fraction of capacity: exactly 0 at night, peak near 12:20 local."""
    s = np.sin(np.pi * (h - 6.2) / 12.3)
    return np.where((h > 6.2) & (h < 18.5), np.clip(s, 0.0, None) ** 1.3, 0.0)


@dataclass(frozen=True)
class UnitSpec:
    """How one unit's power series is generated (never served as such).

    ``capacity`` is the generator's own MW scale even when the catalogue omits
    ``capacity_registered``. Availability rules, all in epoch seconds / local minutes:
    ``first_seen``/``last_seen`` bound the data (inclusive), ``daily_window`` keeps only
    stamps whose local minute-of-day is in [start, end), ``daily_gap`` removes [start, end),
    ``dropout`` is the probability that a single point is missing, ``no_data`` = never any.
    ``mirror`` = (bidirectional unit code, "charging" | "discharging") for split battery units.
    """

    code: str
    fueltech: str
    capacity: float
    offset_h: int = 10
    first_seen: int | None = None
    last_seen: int | None = None
    daily_window: tuple[int, int] | None = None
    daily_gap: tuple[int, int] | None = None
    dropout: float = 0.0
    no_data: bool = False
    mirror: tuple[str, str] | None = None


def _fraction(fueltech: str, key: int, t: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Fraction of capacity for a one-way generator or signed battery, before availability."""
    n1 = smooth_noise(key, t, 3 * 3600)
    n2 = smooth_noise(key + 1, t, 45 * 60)
    day = smooth_noise(key + 2, t, DAY_S)
    peak = 0.6 * bump(h, 8.0, 1.5) + bump(h, 18.5, 2.0)
    if fueltech.startswith("coal"):
        f = 0.62 + 0.15 * peak + 0.12 * (n1 - 0.5) + 0.1 * (day - 0.5)
        return np.clip(f, 0.3, 0.98)
    if fueltech == "gas_ccgt":
        return np.clip(0.25 + 0.45 * peak + 0.2 * (n1 - 0.5), 0.0, 1.0)
    if fueltech == "gas_ocgt":
        return np.clip(1.4 * peak * n1 - 0.45, 0.0, 1.0)
    if fueltech in ("gas_recip", "gas_wcmg"):
        return np.clip(0.1 + 0.5 * peak * n1, 0.0, 1.0)
    if fueltech == "gas_steam":
        return np.clip(0.35 + 0.25 * peak + 0.1 * (n1 - 0.5), 0.0, 1.0)
    if fueltech == "distillate":
        return np.clip(2.0 * (peak * n1 - 0.7), 0.0, 1.0)
    if fueltech.startswith("bioenergy"):
        return np.clip(0.55 + 0.2 * (n1 - 0.5), 0.0, 1.0)
    if fueltech.startswith("hydro"):
        return np.clip(0.08 + 0.6 * peak * (0.5 + n1) + 0.1 * n2, 0.0, 1.0)
    if fueltech == "pumps":
        load = bump(h, 12.5, 1.8) + 0.6 * bump(h, 3.0, 1.5)
        return np.clip(load * (1.4 * n1 - 0.2), 0.0, 1.0)
    if fueltech.startswith("wind"):
        return np.clip((0.6 * n1 + 0.3 * day + 0.1 * n2) ** 1.6, 0.0, 0.97)
    if fueltech.startswith("solar"):
        cloud = smooth_noise(key + 3, t, 6 * 3600)
        return solar_shape(h) * (0.45 + 0.5 * cloud)
    if fueltech == "battery":
        f = (
            0.85 * bump(h, 18.5, 1.3)
            + 0.35 * bump(h, 7.5, 1.0)
            - 0.7 * bump(h, 12.5, 2.0)
            + 0.12 * (n2 - 0.5)
        )
        f = f * (0.6 + 0.5 * n1)
        return np.where(np.abs(f) < 0.03, 0.0, np.clip(f, -1.0, 1.0))
    return np.clip(0.3 + 0.2 * (n1 - 0.5), 0.0, 1.0)


def availability(spec: UnitSpec, key: int, t: np.ndarray) -> np.ndarray:
    """Boolean mask: True where the unit has data at stamp ``t``."""
    if spec.no_data:
        return np.zeros(t.shape, dtype=bool)
    ok = np.ones(t.shape, dtype=bool)
    if spec.first_seen is not None:
        ok &= t >= spec.first_seen
    if spec.last_seen is not None:
        ok &= t <= spec.last_seen
    if spec.daily_window is not None or spec.daily_gap is not None:
        minute = ((t + spec.offset_h * 3600) % DAY_S) // 60
        if spec.daily_window is not None:
            ok &= (minute >= spec.daily_window[0]) & (minute < spec.daily_window[1])
        if spec.daily_gap is not None:
            ok &= ~((minute >= spec.daily_gap[0]) & (minute < spec.daily_gap[1]))
    if spec.dropout > 0:
        ok &= hash_uniform(key + 7, t // FIVE_MIN_S) >= spec.dropout
    return ok


def generate_power(spec: UnitSpec, seed: int, t: np.ndarray) -> np.ndarray:
    """MW at each stamp, rounded to 3 dp, ``NaN`` where the unit has no data.

    Batteries are signed (negative = charging); split units are derived by the caller.
    """
    key = stable_key(seed, spec.code)
    h = local_hours(t, spec.offset_h)
    mw = np.round(_fraction(spec.fueltech, key, t, h) * spec.capacity, 3) + 0.0
    return np.where(availability(spec, key, t), mw, np.nan)


def generate_market(seed: int, region: str, metric: str, t: np.ndarray) -> np.ndarray:
    """``price`` ($/MWh, can go negative at midday) or ``demand`` (MW) for a region."""
    offset = REGION_OFFSET_H.get(region, 10)
    h = local_hours(t, offset)
    key = stable_key(seed, "market", region)
    n1 = smooth_noise(key, t, 2 * 3600)
    sun = solar_shape(h)
    if metric == "price":
        base = REGION_PRICE_BASE.get(region, 80.0)
        dip = 75.0 if region in ("SA1", "VIC1") else 50.0
        p = (
            base
            + 70.0 * bump(h, 18.5, 1.5)
            + 25.0 * bump(h, 7.5, 1.0)
            - dip * sun * (0.6 + 0.8 * n1)
            + 40.0 * (n1 - 0.5)
        )
        spike = hash_uniform(key + 11, t // FIVE_MIN_S) < 0.003
        p = np.where(spike, p + 900.0, p)
        return np.round(p, 2) + 0.0
    if metric == "demand":
        base = REGION_DEMAND_BASE.get(region, 1000.0)
        f = (
            0.85
            + 0.2 * bump(h, 18.0, 2.5)
            + 0.1 * bump(h, 8.0, 1.5)
            - 0.12 * sun
            + 0.06 * (n1 - 0.5)
        )
        return np.round(base * f, 2) + 0.0
    raise KeyError(metric)


def to_epoch(times: Sequence[datetime]) -> np.ndarray:
    """Aware datetimes -> int64 epoch seconds."""
    return np.array([int(ts.astimezone(UTC).timestamp()) for ts in times], dtype=np.int64)


def epoch_of(text: str) -> int:
    """Epoch seconds of an aware ISO timestamp such as ``2025-10-03T10:00:00+10:00``."""
    return int(datetime.fromisoformat(text).timestamp())


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    return [None if v != v else v for v in values.tolist()]


@dataclass
class CatalogueDataset:
    """A dataset from facility dicts (OE ``/facilities`` item shape) plus unit specs.

    Satisfies :class:`oesim.dataset.Dataset`; the ``*_array`` methods are the fast path.
    """

    name: str
    facility_items: list[dict[str, Any]]
    specs: dict[str, UnitSpec]
    seed: int = 0
    regions: tuple[str, ...] = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1", "WEM")
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def facilities(self) -> list[dict[str, Any]]:
        return self.facility_items

    def unit_power_array(self, unit_code: str, t: np.ndarray) -> np.ndarray:
        """MW (NaN = no data) at epoch-second stamps ``t``; unknown unit -> all NaN."""
        spec = self.specs.get(unit_code)
        if spec is None:
            return np.full(t.shape, np.nan)
        if spec.mirror is not None:
            parent_code, direction = spec.mirror
            parent = self.unit_power_array(parent_code, t)
            # As the real API: a point only while the battery flows this unit's way (charging
            # below 0 MW, discharging from 0 up), a magnitude; no data otherwise.
            flowing = parent < 0.0 if direction == "charging" else parent >= 0.0
            return np.where(flowing, np.abs(parent), np.nan) + 0.0
        return generate_power(spec, self.seed, t)

    def unit_power(self, unit_code: str, times: Sequence[datetime]) -> list[float | None]:
        return _nan_to_none(self.unit_power_array(unit_code, to_epoch(times)))

    def region_market_array(self, region: str, metric: str, t: np.ndarray) -> np.ndarray:
        if region not in self.regions:
            raise KeyError(region)
        return generate_market(self.seed, region, metric, t)

    def region_market(
        self, region: str, metric: str, times: Sequence[datetime]
    ) -> list[float | None]:
        return _nan_to_none(self.region_market_array(region, metric, to_epoch(times)))
