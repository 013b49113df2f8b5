"""The simulated NEM's clearing: prices that do not hang on the last bits of a sum.

A supply curve sums a few hundred offers, and how that sum rounds depends on the order it is
added in (the BLAS kernel's, which differs between CPUs and numpy builds). These tests change
that order within one numpy, and move curves by one ulp, and ask for the same prices.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest

from nemlive.common.nemtime import NEM_TZ
from oesim.nem import NemDataset
from oesim.nem_market import (
    DAY_SERIES,
    LINKS,
    MARKET_CAP,
    MARKET_FLOOR,
    PRICE_GRID,
    NemMarket,
    _Bands,
    crossing,
    day_and_slot,
    day_stamps,
    value_at,
)

REGIONS = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")
SEED = 2025  # make data's seed
# 2025-10-03, in the shipped week: NSW and QLD clear often on a flat stretch of their curves
# at midday (wind and solar all taken, nothing else needed before hydro at ~$47.5).
DAY = int(day_and_slot(np.int64(datetime(2025, 10, 3, 12, tzinfo=NEM_TZ).timestamp()))[0])
SERVED_DP = 4  # the simulator serves 4 decimals


def _solar_and_hydro(n_solar: int, n_hydro: int) -> _Bands:
    """Solar offers between -$45 and -$2, hydro between $50 and $250: nothing in between."""
    n = n_solar + n_hydro
    return _Bands(
        unit=np.arange(n),
        lo=np.array([-45.0] * n_solar + [50.0] * n_hydro),
        hi=np.array([-2.0] * n_solar + [250.0] * n_hydro),
        share=np.ones(n),
        top=np.zeros(n, dtype=bool),
    )


def test_a_need_met_on_a_flat_stretch_prices_at_its_start_in_any_summing_order() -> None:
    """The need is exactly what the solar offers hold, so the curve is flat at it from $0 to
    $50; however the curve's sum rounds, the price is $0, where solar runs out."""
    n_solar, n_hydro = 240, 40
    rng = np.random.default_rng(7)
    q = rng.uniform(1.0, 400.0, size=(n_solar + n_hydro, 288))
    need = np.array([math.fsum(q[:n_solar, s]) for s in range(q.shape[1])])
    forward = _solar_and_hydro(n_solar, n_hydro)
    order = np.r_[np.arange(n_solar)[::-1], np.arange(n_solar, n_solar + n_hydro)]
    # The same offers with the solar ones listed backwards: the same sums, another order.
    curves = [forward.curve(q), forward.curve(q[order])]
    for curve in curves:
        # One ulp either way, and 1e-8 MW: more than a sum of offers rounds off (~1e-10 MW).
        for m in (
            curve,
            np.nextafter(curve, -np.inf),
            np.nextafter(curve, np.inf),
            curve - 1e-8,
            curve + 1e-8,
        ):
            np.testing.assert_allclose(crossing(m, need), 0.0, atol=1e-9)


def test_crossing_interpolates_where_the_curve_reaches_the_need() -> None:
    rng = np.random.default_rng(3)
    m = np.cumsum(rng.uniform(0.5, 50.0, size=(50, len(PRICE_GRID))), axis=1)
    y = rng.uniform(m[:, 0], m[:, -1])
    p = crossing(m, y)
    np.testing.assert_allclose(value_at(m, p), y, rtol=1e-12)
    assert (crossing(m, m[:, 0] - 1.0) == MARKET_FLOOR).all()
    assert (crossing(m, m[:, -1] + 1.0) == MARKET_CAP).all()


@pytest.fixture(scope="module")
def market() -> NemMarket:
    return NemDataset(seed=SEED).market


def test_the_order_of_the_fleet_does_not_move_a_served_value(market: NemMarket) -> None:
    """The same fleet listed backwards sums every curve in another order: every series the
    simulator serves is the same to its 4 decimals."""
    backwards = NemMarket(SEED, market.units[::-1], market._storage)
    a, b = market.day(DAY), backwards.day(DAY)
    for name in DAY_SERIES:
        for r in REGIONS:
            ours, theirs = getattr(a, name)[r], getattr(b, name)[r]
            np.testing.assert_array_equal(
                np.round(ours, SERVED_DP), np.round(theirs, SERVED_DP), err_msg=f"{name} {r}"
            )
    rows = [backwards.codes[u.code] for u in market.units]
    np.testing.assert_array_equal(
        np.round(a.unit_mw, SERVED_DP), np.round(b.unit_mw[rows], SERVED_DP)
    )


def test_the_day_keeps_its_link_flows_and_they_make_imports_and_exports(market: NemMarket) -> None:
    """DayResult.flows (LINKS order, + child -> parent) are the interchange served: each
    region's imports and exports are its links' flows, each on one side by its sign."""
    day = market.day(DAY)
    assert day.flows.shape == (len(LINKS), 288)
    imports = {r: np.zeros(288) for r in REGIONS}
    exports = {r: np.zeros(288) for r in REGIONS}
    for (child, parent, out_mw, in_mw), flow in zip(LINKS, day.flows, strict=True):
        assert (flow <= out_mw + 1e-6).all() and (flow >= -in_mw - 1e-6).all()
        sender = np.where(flow >= 0, 1, 0)
        for region, sends in ((child, sender), (parent, 1 - sender)):
            exports[region] += sends * np.abs(flow)
            imports[region] += (1 - sends) * np.abs(flow)
    for region in REGIONS:
        assert np.array_equal(imports[region], day.imports[region])
        assert np.array_equal(exports[region], day.exports[region])
    assert np.abs(day.flows).max() > 100
    t = day_stamps(DAY)[:3]
    assert np.array_equal(market.link_flow(1, t), day.flows[1][:3])
