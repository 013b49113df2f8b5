"""Deterministic NEM-like series for the simulator: unit power, regional demand and price.

Every value is a pure function of ``(seed, code, instant)``: random numbers come from a
hash of the seed, a key string and an absolute index (the NEM day, the hour, the 30-minute
block), and smooth noise interpolates hashed values on a grid fixed in absolute time. There
is no state and no dependence on the request window, so a week fetched whole equals the
same week fetched in chunks, and two runs with one seed are identical.

Instants are Unix epoch seconds (``int64`` arrays) of interval-ending 5-minute stamps; NEM
time is UTC+10 with no daylight saving. Results are ``float64`` arrays in MW (power, demand)
or $/MWh (price), rounded to 4 decimals as upstream 5-minute values are, ``NaN`` = no data.

Sign conventions (OE's): generators >= 0; ``battery`` (bidirectional) is signed, negative
while charging; ``battery_charging``/``battery_discharging`` are magnitudes derived from it
(``max(-p, 0)`` and ``max(p, 0)``); ``pumps`` is load, returned as a non-negative magnitude
like ``battery_charging`` (AEMO reports a pump's SCADA load as a positive MW); the extractor
subtracts it from the facility's generation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

FIVE_MIN_S = 300
HOUR_S = 3_600
DAY_S = 86_400
NEM_OFFSET_S = 10 * HOUR_S
J2000_UNIX_S = 946_728_000  # 2000-01-01T12:00:00Z

MARKET_FLOOR = -1_000.0  # $/MWh
MARKET_CAP = 17_500.0  # $/MWh, the 2025-26 cap rounded

# (low, high) MW: the band each region's operational demand moves in.
DEMAND_RANGE: dict[str, tuple[float, float]] = {
    "NSW1": (6_000.0, 11_000.0),
    "QLD1": (5_000.0, 9_000.0),
    "VIC1": (3_500.0, 7_000.0),
    "SA1": (800.0, 2_500.0),
    "TAS1": (900.0, 1_400.0),
}
# How deep rooftop solar cuts midday demand (share of the band) and midday price ($/MWh).
MIDDAY_DEMAND_DIP = {"NSW1": 0.16, "QLD1": 0.22, "VIC1": 0.18, "SA1": 0.30, "TAS1": 0.04}
MIDDAY_PRICE_DIP = {"NSW1": 95.0, "QLD1": 120.0, "VIC1": 150.0, "SA1": 190.0, "TAS1": 40.0}
PRICE_BASE = {"NSW1": 115.0, "QLD1": 100.0, "VIC1": 85.0, "SA1": 110.0, "TAS1": 80.0}

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class SeriesUnit:
    """What the generator needs to know about one unit (MW, degrees, NEM region).

    ``family`` keys the shared state of units that move together: a battery's
    bidirectional and split units share their facility's code, so they stay consistent.
    """

    code: str
    fueltech_id: str
    capacity_mw: float
    region: str
    lat: float
    lon: float
    family: str
    status: str = "operating"


# --- deterministic randomness -------------------------------------------------------------


def stable_key(seed: int, *parts: object) -> int:
    """A 64-bit key from the seed and any labels (stable across runs and platforms)."""
    text = "|".join([str(seed), *map(str, parts)]).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _mix(x: np.ndarray) -> np.ndarray:
    # splitmix64 finaliser: uint64 arithmetic wraps, which is what a hash wants.
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def hash_uniform(key: int, idx: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) for each integer in ``idx``, a pure function of (key, idx)."""
    x = np.asarray(idx, dtype=np.int64).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    x = _mix(x ^ np.uint64(key & _MASK64))  # keys are offset (key + 1 ...) by callers
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def smooth_noise(key: int, t: np.ndarray, period_s: float) -> np.ndarray:
    """Value noise in [-1, 1]: hashed knots every ``period_s`` seconds of absolute time,
    joined with a smoothstep, so it is continuous and window-independent."""
    pos = t / period_s
    k = np.floor(pos)
    f = pos - k
    s = f * f * (3.0 - 2.0 * f)
    a = hash_uniform(key, k)
    b = hash_uniform(key, k + 1)
    return (a + (b - a) * s) * 2.0 - 1.0


def fbm(key: int, t: np.ndarray, period_s: float, octaves: int = 3) -> np.ndarray:
    """Fractal value noise in about [-1, 1]: octaves at periods p, p/2, p/4, ..."""
    total = np.zeros(t.shape)
    norm = 0.0
    for i in range(octaves):
        amp = 0.5**i
        total += amp * smooth_noise(key + i * 7919, t, period_s / 2**i)
        norm += amp
    return total / norm


# --- time and sun -------------------------------------------------------------------------


def nem_day(t: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 in NEM time (int64)."""
    return (t + NEM_OFFSET_S) // DAY_S


def nem_hour(t: np.ndarray) -> np.ndarray:
    """Hour of the NEM day, 0 <= h < 24 (float)."""
    return ((t + NEM_OFFSET_S) % DAY_S) / HOUR_S


def day_start(day: np.ndarray) -> np.ndarray:
    """Epoch seconds of NEM midnight that starts ``day``."""
    return day * DAY_S - NEM_OFFSET_S


def bump(h: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A Gaussian bump over the hour of day, wrapped at midnight; 1 at ``centre``."""
    d = np.abs(h - centre)
    d = np.minimum(d, 24.0 - d)
    return np.exp(-0.5 * (d / width) ** 2)


def sun_sin_elevation(t: np.ndarray, lat: float, lon: float) -> np.ndarray:
    """Sine of the sun's elevation at ``t`` (epoch s) seen from (lat, lon) in degrees.

    Low-precision solar position (Astronomical Almanac), good to about 0.01 rad.
    """
    d = (t - J2000_UNIX_S) / DAY_S
    g = np.radians(357.529 + 0.98560028 * d)
    q = 280.459 + 0.98564736 * d
    ecl_lon = np.radians(q + 1.915 * np.sin(g) + 0.020 * np.sin(2 * g))
    eps = np.radians(23.439 - 0.00000036 * d)
    dec = np.arcsin(np.sin(eps) * np.sin(ecl_lon))
    ra = np.degrees(np.arctan2(np.cos(eps) * np.sin(ecl_lon), np.cos(ecl_lon)))
    gmst = 18.697374558 + 24.06570982441908 * d
    ha = np.radians((gmst * 15.0 + lon - ra) % 360.0)
    phi = np.radians(lat)
    return np.sin(phi) * np.sin(dec) + np.cos(phi) * np.cos(dec) * np.cos(ha)


# --- shared regional weather and market state -------------------------------------------


def region_cloud(seed: int, region: str, t: np.ndarray) -> np.ndarray:
    """Regional cloudiness in [0, 1]: weather systems over a day or two."""
    return np.clip(0.35 + 0.75 * fbm(stable_key(seed, "cloud", region), t, 1.6 * DAY_S), 0, 1)


def region_wind(seed: int, region: str, t: np.ndarray) -> np.ndarray:
    """Regional wind strength in about [-1, 1]: fronts over hours to days."""
    return fbm(stable_key(seed, "wind", region), t, 30 * HOUR_S, octaves=4)


def region_tightness(seed: int, region: str, t: np.ndarray) -> np.ndarray:
    """How tight supply is, 0 (slack) to 1 (tight): drives evening prices and peakers."""
    return np.clip(0.5 + 0.7 * smooth_noise(stable_key(seed, "tight", region), t, DAY_S), 0, 1)


def region_sunny(seed: int, region: str, t: np.ndarray) -> np.ndarray:
    """1 on a clear day, about 0.3 under heavy cloud."""
    return 1.0 - 0.7 * region_cloud(seed, region, t)


def region_demand(seed: int, region: str, t: np.ndarray) -> np.ndarray:
    """Operational demand (MW): overnight trough, morning and evening peaks, a rooftop-solar
    dip at midday, lower at weekends, inside ``DEMAND_RANGE[region]``."""
    lo, hi = DEMAND_RANGE[region]
    h = nem_hour(t)
    weekday = (nem_day(t) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    weekend = weekday >= 5
    sunny = region_sunny(seed, region, t)
    shape = (
        0.16
        + 0.30 * bump(h, 8.0, 1.7)
        + 0.22 * bump(h, 13.0, 4.5)
        + 0.50 * bump(h, 18.6, 2.2)
        - MIDDAY_DEMAND_DIP[region] * sunny * bump(h, 12.8, 2.3)
    )
    shape = shape * np.where(weekend, 0.88, 1.0)
    level = 0.08 * fbm(stable_key(seed, "demand", region), t, 2 * DAY_S)
    wiggle = 0.015 * smooth_noise(stable_key(seed, "demand-fast", region), t, 1_200)
    frac = np.clip(shape + level + wiggle, 0.01, 0.99)
    return np.round(lo + (hi - lo) * frac, 4)


def region_price(seed: int, region: str, t: np.ndarray) -> np.ndarray:
    """Spot price ($/MWh): follows demand, an evening peak that grows with tightness, a
    midday solar trough (negative in SA and VIC on clear days), and rare spikes; always
    inside [MARKET_FLOOR, MARKET_CAP]."""
    lo, hi = DEMAND_RANGE[region]
    dn = (region_demand(seed, region, t) - lo) / (hi - lo)
    h = nem_hour(t)
    tight = region_tightness(seed, region, t)
    sunny = region_sunny(seed, region, t)
    windy = np.clip(region_wind(seed, region, t), 0, 1)
    base = PRICE_BASE[region]
    price = (
        base * (0.45 + 0.9 * dn)
        + bump(h, 18.8, 1.4) * (40.0 + 320.0 * tight**3)
        - MIDDAY_PRICE_DIP[region] * sunny**2 * bump(h, 12.6, 2.4)
        - 50.0 * windy
        + 12.0 * fbm(stable_key(seed, "price", region), t, 3 * HOUR_S)
    )
    price = np.maximum(price, -95.0)
    # Rare spikes: a 30-minute block, mostly in the evening, sometimes up to the cap.
    block = (t - 1) // 1_800
    u = hash_uniform(stable_key(seed, "spike", region), block)
    evening = bump(h, 18.5, 2.5)
    spike = u < 0.03 * evening * (0.3 + tight)
    size = hash_uniform(stable_key(seed, "spike-size", region), block)
    price = np.where(spike, 300.0 + (MARKET_CAP - 300.0) * size**5, price)
    # Very rarely a midday bid to the floor when SA or VIC is awash with solar.
    floor = (
        (u > 0.9985) & (bump(h, 12.5, 1.5) > 0.5) & np.isin(np.array([region]), ["SA1", "VIC1"])[0]
    )
    price = np.where(floor, MARKET_FLOOR + 700.0 * size, price)
    return np.round(np.clip(price, MARKET_FLOOR, MARKET_CAP), 4)


# --- unit behaviours (fractions of capacity) ---------------------------------------------


def _peak_shape(h: np.ndarray) -> np.ndarray:
    """Morning and evening peaks, 0..1."""
    return np.clip(0.55 * bump(h, 7.8, 1.4) + bump(h, 18.7, 1.9), 0, 1)


def _trip_factor(key: int, t: np.ndarray, p_per_day: float) -> np.ndarray:
    """1 normally, 0 while a unit is tripped, ramping back over 6 h after it returns.

    A trip starts on a day with probability ``p_per_day`` at a hashed time and lasts
    6-42 h; looking back two days covers trips that started earlier."""
    day = nem_day(t)
    factor = np.ones(t.shape)
    for back in range(3):
        d = day - back
        hit = hash_uniform(key, d) < p_per_day
        start = day_start(d) + hash_uniform(key + 1, d) * DAY_S
        end = start + (6 + 36 * hash_uniform(key + 2, d)) * HOUR_S
        ramp = np.clip((t - end) / (6 * HOUR_S), 0, 1)
        f = np.where(t < start, 1.0, np.where(t < end, 0.0, 0.35 + 0.65 * ramp))
        factor = np.minimum(factor, np.where(hit, f, 1.0))
    return factor


def _coal(seed: int, u: SeriesUnit, t: np.ndarray) -> np.ndarray:
    key = stable_key(seed, "unit", u.code)
    h = nem_hour(t)
    brown = u.fueltech_id == "coal_brown"
    flex = 0.08 if brown else 0.2
    sunny = region_sunny(seed, u.region, t)
    # Brown coal runs flat out; black coal averages ~65% of capacity, as the NEM fleet does,
    # so that generation tracks demand instead of exceeding it.
    level = (
        (0.86 if brown else 0.68)
        + 0.05 * fbm(key, t, 2 * DAY_S)
        + 0.04 * _peak_shape(h)
        - flex * sunny * bump(h, 12.8, 2.6)
    )
    return np.clip(level, 0.35, 0.98) * _trip_factor(key + 11, t, 0.035)


def _gas(seed: int, u: SeriesUnit, t: np.ndarray) -> np.ndarray:
    key = stable_key(seed, "unit", u.code)
    h = nem_hour(t)
    tight = region_tightness(seed, u.region, t)
    peak = _peak_shape(h) * (0.35 + 1.1 * tight)
    noise = smooth_noise(key, t, 3 * HOUR_S)
    ft = u.fueltech_id
    if ft in ("gas_ccgt", "gas_steam"):
        # Mid-merit: committed for days at a time, following the peaks while on.
        run = np.clip((smooth_noise(key + 3, t, 20 * HOUR_S) + 0.35) * 4, 0, 1)
        floor = 0.45 if ft == "gas_ccgt" else 0.25
        level = floor + (0.93 - floor) * np.clip(peak + 0.15 * noise, 0, 1)
        return np.clip(run * level, 0, 0.97)
    # Peakers start only when the peak is high enough; distillate almost never.
    threshold = {"gas_ocgt": 0.62, "gas_recip": 0.5, "distillate": 0.97}.get(ft, 0.7)
    drive = peak + 0.25 * noise - threshold
    run = np.clip(drive / 0.2, 0, 1)
    load = 0.55 + 0.4 * hash_uniform(key + 5, nem_day(t))
    return run * load


def _hydro(seed: int, u: SeriesUnit, t: np.ndarray) -> np.ndarray:
    key = stable_key(seed, "unit", u.code)
    h = nem_hour(t)
    tight = region_tightness(seed, u.region, t)
    noise = fbm(key, t, 8 * HOUR_S)
    if u.region == "TAS1":
        level = 0.32 + 0.35 * _peak_shape(h) + 0.18 * noise
        return np.clip(level, 0.03, 0.95)
    level = 0.03 + 0.85 * _peak_shape(h) * (0.35 + 0.75 * tight) + 0.08 * noise
    return np.clip(level, 0, 0.95)


def _pumps(seed: int, u: SeriesUnit, t: np.ndarray) -> np.ndarray:
    """Load fraction (>= 0): pumping at the midday solar glut and some nights, in steps."""
    key = stable_key(seed, "unit", u.code)
    h = nem_hour(t)
    sunny = region_sunny(seed, u.region, t)
    want = 0.9 * sunny * bump(h, 12.5, 1.8) + 0.6 * bump(h, 2.5, 1.5)
    want = want * (0.5 + hash_uniform(key, nem_day(t))) + 0.2 * smooth_noise(key, t, 4 * HOUR_S)
    steps = np.floor(np.clip(want, 0, 1) * 2.999) / 2  # off, half or full load
    return steps


def _wind(seed: int, u: SeriesUnit, t: np.ndarray) -> np.ndarray:
    key = stable_key(seed, "unit", u.code)
    regional = region_wind(seed, u.region, t)
    local = fbm(key, t, 6 * HOUR_S)
    x = 2.6 * (0.7 * regional + 0.45 * local) - 0.35
    return 0.96 / (1.0 + np.exp(-x))


def _solar(seed: int, u: SeriesUnit, t: np.ndarray) -> np.ndarray:
    key = stable_key(seed, "unit", u.code)
    sin_el = sun_sin_elevation(t, u.lat, u.lon)
    sun = np.clip(sin_el, 0, None) ** 0.5  # single-axis trackers flatten the bell
    cloud = np.clip(region_cloud(seed, u.region, t) + 0.3 * fbm(key, t, 2 * HOUR_S), 0, 1)
    flicker = 1.0 - 0.35 * cloud * (0.5 + 0.5 * smooth_noise(key + 1, t, 900))
    out = 0.93 * sun * (1.0 - 0.6 * cloud) * flicker
    return np.where(sin_el > 0.01, np.clip(out, 0, 0.97), 0.0)


def _bio(seed: int, u: SeriesUnit, t: np.ndarray) -> np.ndarray:
    key = stable_key(seed, "unit", u.code)
    noise = fbm(key, t, 12 * HOUR_S)
    if u.fueltech_id == "bioenergy_biomass":
        # Sugar mills burn bagasse during the crush, roughly June to November.
        doy = nem_day(t) % 365.2425  # day of the year, near enough
        season = (doy > 150) & (doy < 330)
        return np.clip(np.where(season, 0.65 + 0.2 * noise, 0.04 + 0.03 * noise), 0, 0.95)
    return np.clip(0.72 + 0.15 * noise, 0, 0.95)


def battery_fraction(seed: int, family: str, region: str, t: np.ndarray) -> np.ndarray:
    """Signed fraction of capacity for a battery: charging (negative) at midday, discharging
    in the evening peak and a little in the morning, plus frequency-control jitter."""
    key = stable_key(seed, "battery", family)
    h = nem_hour(t)
    day = nem_day(t)
    sunny = region_sunny(seed, region, t)
    tight = region_tightness(seed, region, t)
    charge = (0.45 + 0.45 * hash_uniform(key, day)) * (0.5 + 0.5 * sunny) * bump(h, 12.3, 2.0)
    charge = charge + 0.25 * bump(h, 3.0, 1.2) * hash_uniform(key + 1, day)
    discharge = (0.5 + 0.45 * tight) * bump(h, 18.8, 1.3) + 0.3 * bump(h, 7.5, 0.8)
    jitter = 0.04 * smooth_noise(key + 2, t, 600)
    return np.clip(discharge - charge + jitter, -0.98, 0.98)


def _gaps(seed: int, family: str, t: np.ndarray) -> np.ndarray:
    """True where a unit has no data: on ~2% of days, 1-3 intervals between 02:00 and 22:00."""
    key = stable_key(seed, "gap", family)
    day = nem_day(t)
    hit = hash_uniform(key, day) < 0.02
    first = day_start(day) + (24 + np.floor(240 * hash_uniform(key + 1, day))) * FIVE_MIN_S
    length = (1 + np.floor(3 * hash_uniform(key + 2, day))) * FIVE_MIN_S
    return hit & (t >= first) & (t < first + length)


def unit_power(seed: int, unit: SeriesUnit, t: np.ndarray) -> np.ndarray:
    """MW for ``unit`` at stamps ``t`` (epoch s, int64): NaN where there is no data (rare
    interior gaps, and everything for units that are not operating). Never above
    ``capacity_mw``; signs as in the module docstring."""
    t = np.asarray(t, dtype=np.int64)
    if unit.status != "operating":
        return np.full(t.shape, np.nan)
    ft = unit.fueltech_id
    tf = t.astype(np.float64)
    if ft in ("battery", "battery_charging", "battery_discharging"):
        frac = battery_fraction(seed, unit.family, unit.region, tf)
        if ft == "battery_charging":
            frac = np.maximum(-frac, 0.0)
        elif ft == "battery_discharging":
            frac = np.maximum(frac, 0.0)
    elif ft.startswith("coal_"):
        frac = _coal(seed, unit, tf)
    elif ft.startswith("gas_") or ft == "distillate":
        frac = _gas(seed, unit, tf)
    elif ft in ("hydro", "hydro_and_storage"):
        frac = _hydro(seed, unit, tf)
    elif ft == "pumps":
        frac = _pumps(seed, unit, tf)
    elif ft.startswith("wind"):
        frac = _wind(seed, unit, tf)
    elif ft.startswith("solar"):
        frac = _solar(seed, unit, tf)
    elif ft.startswith("bioenergy"):
        frac = _bio(seed, unit, tf)
    else:
        frac = np.zeros(t.shape)
    mw = np.round(np.clip(frac, -1.0, 1.0) * unit.capacity_mw, 4)
    mw = np.where(mw == 0.0, 0.0, mw)  # no "-0.0" in the output
    return np.where(_gaps(seed, unit.family, t), np.nan, mw)
