"""Building blocks of the simulated NEM: deterministic noise, the sun, regional weather,
and what each renewable or bioenergy unit could produce.

Every value is a pure function of ``(seed, key, instant)``: random numbers come from a
hash of the seed, a key string and an absolute index (the NEM day, the hour, the 30-minute
block), and smooth noise interpolates hashed values on a grid fixed in absolute time. There
is no state and no dependence on the request window, so a week fetched whole equals the
same week fetched in chunks, and two runs with one seed are identical.

Instants are Unix epoch seconds of interval-ending 5-minute stamps; NEM time is UTC+10 with
no daylight saving. The ``*_fraction`` functions return the share of a unit's capacity it
could produce (0..1); :mod:`oesim.nem_market` decides what it does produce.
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


# --- unit behaviours (fractions of capacity) ---------------------------------------------


def trip_factor(key: int, t: np.ndarray, p_per_day: float) -> np.ndarray:
    """1 normally, 0 while a unit is tripped, ramping back over 6 h after it returns.

    A trip starts on a day with probability ``p_per_day`` at a hashed time and lasts
    6-42 h; looking back two days covers trips that started earlier."""
    day = nem_day(t)
    factor = np.ones(t.shape)
    days = np.unique(day)
    for back in range(3):
        if not (hash_uniform(key, days - back) < p_per_day).any():
            continue  # the usual case: no trip started that day, nothing to draw
        d = day - back
        hit = hash_uniform(key, d) < p_per_day
        start = day_start(d) + hash_uniform(key + 1, d) * DAY_S
        end = start + (6 + 36 * hash_uniform(key + 2, d)) * HOUR_S
        ramp = np.clip((t - end) / (6 * HOUR_S), 0, 1)
        f = np.where(t < start, 1.0, np.where(t < end, 0.0, 0.35 + 0.65 * ramp))
        factor = np.minimum(factor, np.where(hit, f, 1.0))
    return factor


def wind_fraction(seed: int, u: SeriesUnit, t: np.ndarray) -> np.ndarray:
    """Share of capacity the wind allows: regional fronts plus local gusts, 0..0.96."""
    key = stable_key(seed, "unit", u.code)
    regional = region_wind(seed, u.region, t)
    local = fbm(key, t, 6 * HOUR_S)
    x = 2.6 * (0.7 * regional + 0.45 * local) - 0.6
    return 0.96 / (1.0 + np.exp(-x))


def solar_fraction(seed: int, u: SeriesUnit, t: np.ndarray) -> np.ndarray:
    """Share of capacity the sun allows a tracking solar farm: 0 at night, cloud-dimmed."""
    key = stable_key(seed, "unit", u.code)
    sin_el = sun_sin_elevation(t, u.lat, u.lon)
    sun = np.clip(sin_el, 0, None) ** 0.5  # single-axis trackers flatten the bell
    cloud = np.clip(region_cloud(seed, u.region, t) + 0.3 * fbm(key, t, 2 * HOUR_S), 0, 1)
    flicker = 1.0 - 0.35 * cloud * (0.5 + 0.5 * smooth_noise(key + 1, t, 900))
    out = 0.93 * sun * (1.0 - 0.6 * cloud) * flicker
    return np.where(sin_el > 0.01, np.clip(out, 0, 0.97), 0.0)


def bio_fraction(seed: int, u: SeriesUnit, t: np.ndarray) -> np.ndarray:
    """Share of capacity a bioenergy unit runs at (it runs as it can: a price-taker)."""
    key = stable_key(seed, "unit", u.code)
    noise = fbm(key, t, 12 * HOUR_S)
    if u.fueltech_id == "bioenergy_biomass":
        # Sugar mills burn bagasse during the crush, roughly June to November.
        doy = nem_day(t) % 365.2425  # day of the year, near enough
        season = (doy > 150) & (doy < 330)
        return np.clip(np.where(season, 0.65 + 0.2 * noise, 0.04 + 0.03 * noise), 0, 0.95)
    return np.clip(0.72 + 0.15 * noise, 0, 0.95)


def gaps(seed: int, family: str, t: np.ndarray) -> np.ndarray:
    """True where a unit has no data: on ~2% of days, 1-3 intervals between 02:00 and 22:00."""
    key = stable_key(seed, "gap", family)
    day = nem_day(t)
    hit = hash_uniform(key, day) < 0.02
    first = day_start(day) + (24 + np.floor(240 * hash_uniform(key + 1, day))) * FIVE_MIN_S
    length = (1 + np.floor(3 * hash_uniform(key + 2, day))) * FIVE_MIN_S
    return hit & (t >= first) & (t < first + length)
