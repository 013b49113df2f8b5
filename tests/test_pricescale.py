"""The regions' continuous price scale: centre, positions, colours and the legend."""

from __future__ import annotations

import itertools
import math

import pytest

from nemlive.dashboard import pricescale
from nemlive.dashboard.pricescale import price_rgb


def _distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return math.dist(a, b)


@pytest.mark.parametrize(
    ("prices", "centre"),
    [
        ([40.0, 60.0, 280.0], 60.0),
        ([], pricescale.DEFAULT_CENTRE),
        ([None, math.nan], pricescale.DEFAULT_CENTRE),
        ([-50.0, -20.0, 5.0], pricescale.CENTRE_MIN),
        ([15_000.0, 14_000.0], pricescale.CENTRE_MAX),
        ([30.0, None, 50.0], 40.0),
    ],
    ids=["median", "no-price", "no-finite-price", "clamped-low", "clamped-high", "skips-none"],
)
def test_the_centre_is_the_windows_median_clamped(prices, centre: float) -> None:  # type: ignore[no-untyped-def]
    assert pricescale.price_centre(prices) == pytest.approx(centre)


def test_a_40_and_a_280_region_get_clearly_different_colours() -> None:
    for centre in (40.0, 60.0, 100.0, pricescale.price_centre([40.0, 280.0, 70.0, 55.0, 90.0])):
        cheap, dear = price_rgb(40.0, centre), price_rgb(280.0, centre)
        assert _distance(cheap, dear) > 120, (centre, cheap, dear)
        assert cheap[2] >= cheap[0] and dear[0] > dear[2]  # white or blue against red


def test_the_scale_is_monotonic_from_0_to_high() -> None:
    centre = 70.0
    prices = [0.0, 1.0, 10.0, 35.0, 69.0, 70.0, 71.0, 150.0, 300.0, 600.0, 999.0, 1_000.0]
    positions = [pricescale.price_position(p, centre) for p in prices]
    assert positions == sorted(positions)
    assert all(a < b for a, b in itertools.pairwise(positions))
    assert positions[0] == -1.0 and positions[5] == 0.0 and positions[-1] == 1.0
    # Lightness falls away from the white centre on both sides.
    light = [sum(price_rgb(p, centre)) for p in prices]
    assert light[:6] == sorted(light[:6]) and light[5:] == sorted(light[5:], reverse=True)
    assert pricescale.scale_rgb(0.0) == pricescale.RDBU_9[4]
    assert pricescale.scale_rgb(-5.0) == pricescale.RDBU_9[0]
    assert pricescale.scale_rgb(5.0) == pricescale.RDBU_9[-1]


def test_negative_and_cap_level_prices_have_hues_of_their_own() -> None:
    centre = 60.0
    scale = [pricescale.scale_rgb(-1 + k / 50) for k in range(101)]
    negative = price_rgb(-0.01, centre)
    cap = price_rgb(pricescale.CAP_LEVEL, centre)
    assert negative == pricescale.NEGATIVE_RGB and price_rgb(-1_000.0, centre) == negative
    assert cap == pricescale.CAP_RGB and price_rgb(20_300.0, centre) == cap
    assert price_rgb(0.0, centre) == pricescale.RDBU_9[0]
    assert price_rgb(pricescale.CAP_LEVEL - 1, centre) == pricescale.RDBU_9[-1]
    for end in (negative, cap):
        assert min(_distance(end, c) for c in scale) > 60, end
    assert _distance(negative, cap) > 100


def test_no_price_has_no_fill() -> None:
    assert pricescale.price_fill(None, 60.0) is None
    assert pricescale.price_fill(math.inf, 60.0) is None
    assert pricescale.price_fill(40.0, 60.0) == [*price_rgb(40.0, 60.0), pricescale.FILL_ALPHA]


def test_the_legend_states_in_dollars_what_each_colour_means() -> None:
    legend = pricescale.build_price_legend_html(80.0)
    assert "Region price, $/MWh" in legend
    assert "below $0" in legend
    assert "$17,255 and above (the cap&#x27;s level)" in legend
    for tick in ("$0<", "$40<", "$80<", "$283<", "$1,000+<"):
        assert tick in legend, tick
    assert "the median of the window, $80" in legend
