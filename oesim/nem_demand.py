"""Regional demand for the simulated NEM: underlying demand minus rooftop PV.

AEMO's *operational* demand (what OE serves as ``demand``, and what the grid's generators
must meet) is *underlying* demand, everything consumers use, less what rooftop PV supplies
behind the meter. Rooftop PV follows the same sun and cloud as the solar farms
(:func:`oesim.nem_series.sun_sin_elevation`, :func:`oesim.nem_series.region_cloud`), seen
from each region's main load centre, so on a clear spring day the midday operational demand
collapses below the overnight level: the "duck curve".

Figures (MW) are public-knowledge approximations, documented in ``docs/simulated-nem.md``:
``ROOFTOP_MW`` is installed rooftop (distributed) PV capacity per region in 2025 and
``UNDERLYING_MW`` the spring weekday mean of underlying demand. All functions are pure
functions of ``(seed, region, t)`` with ``t`` in epoch seconds (``float64`` arrays).
"""

from __future__ import annotations

import numpy as np

from oesim.nem_series import (
    DAY_S,
    bump,
    fbm,
    nem_day,
    nem_hour,
    region_cloud,
    smooth_noise,
    stable_key,
    sun_sin_elevation,
)

REGIONS = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")

# Installed rooftop PV (MW DC), 2025, NSW including the ACT.
ROOFTOP_MW = {"NSW1": 7_600.0, "QLD1": 6_700.0, "VIC1": 5_700.0, "SA1": 2_500.0, "TAS1": 380.0}
# AC output per MW installed under a clear sky with the sun overhead: inverter clipping,
# heat, dust and roofs that face every way keep fleets well below nameplate.
ROOFTOP_PERFORMANCE = 0.77
# Where a region's rooftop PV mostly is (its capital's suburbs): lat, lon in degrees.
ROOFTOP_AT = {
    "NSW1": (-33.8, 151.0),
    "QLD1": (-27.5, 152.9),
    "VIC1": (-37.8, 145.0),
    "SA1": (-34.9, 138.6),
    "TAS1": (-42.9, 147.3),
}
# Mean underlying demand (MW) on a spring weekday.
UNDERLYING_MW = {"NSW1": 8_900.0, "QLD1": 7_300.0, "VIC1": 5_400.0, "SA1": 1_650.0, "TAS1": 1_150.0}
WEEKEND_FACTOR = 0.91  # offices and industry idle; homes use a little more


def _weekday_shape(h: np.ndarray) -> np.ndarray:
    # Overnight trough near 04:00, a morning peak, a broad daytime load (offices, cooling),
    # and the evening peak when homes light up and cook after sunset.
    return (
        0.80
        + 0.13 * bump(h, 7.9, 1.3)
        + 0.30 * bump(h, 13.0, 3.6)
        + 0.24 * bump(h, 18.9, 1.8)
        - 0.05 * bump(h, 3.8, 1.8)
    )


def _weekend_shape(h: np.ndarray) -> np.ndarray:
    return (
        0.82
        + 0.09 * bump(h, 9.2, 1.8)
        + 0.20 * bump(h, 13.0, 3.6)
        + 0.24 * bump(h, 18.9, 1.8)
        - 0.05 * bump(h, 4.2, 1.8)
    )


_GRID_H = np.arange(288) / 12.0
_SHAPE_MEAN = float(_weekday_shape(_GRID_H).mean())


def is_weekend(t: np.ndarray) -> np.ndarray:
    """True on Saturdays and Sundays (NEM time)."""
    return (nem_day(t) + 3) % 7 >= 5  # 1970-01-01 was a Thursday


def underlying_demand(seed: int, region: str, t: np.ndarray) -> np.ndarray:
    """Underlying demand (MW): daily shape, weekends lower, weather swings over days."""
    h = nem_hour(t)
    weekend = is_weekend(t)
    shape = np.where(weekend, WEEKEND_FACTOR * _weekend_shape(h), _weekday_shape(h))
    weather = 0.05 * fbm(stable_key(seed, "demand", region), t, 2 * DAY_S)
    wiggle = 0.008 * smooth_noise(stable_key(seed, "demand-fast", region), t, 1_200)
    return UNDERLYING_MW[region] * (shape / _SHAPE_MEAN + weather + wiggle)


def rooftop_pv(seed: int, region: str, t: np.ndarray) -> np.ndarray:
    """Rooftop PV output (MW >= 0): fixed panels under the region's sun and cloud."""
    lat, lon = ROOFTOP_AT[region]
    sin_el = np.clip(sun_sin_elevation(t, lat, lon), 0, None)
    # Fixed, tilted panels give a more peaked day than the farms' single-axis trackers.
    sun = sin_el**1.25
    clear = 1.0 - 0.72 * region_cloud(seed, region, t)
    return ROOFTOP_MW[region] * ROOFTOP_PERFORMANCE * sun * clear


def operational_demand(seed: int, region: str, t: np.ndarray) -> np.ndarray:
    """Operational demand (MW) = underlying demand - rooftop PV; can go below zero in SA
    on a mild sunny weekend, as it has since 2024."""
    return underlying_demand(seed, region, t) - rooftop_pv(seed, region, t)
