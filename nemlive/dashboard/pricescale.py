"""The regions' price colours: a continuous diverging scale and its legend (pure).

A region is filled by where its price sits against the *typical* price of the window (the
median of every regional price the page holds, :func:`price_centre`), not in fixed buckets:
on a day when most prices sit between $20 and $300, a region clearing at $280 and one at $40
must look different from across the room.

* Prices from $0 to the centre run from blue to white, linearly; prices from the centre to
  ``HIGH`` ($1,000) run from white to red on a log scale (a spike is a multiple of the typical
  price, not a sum). Above ``HIGH`` the fill stays at the red end.
* Below $0 (a negative price) and at the cap's level (``CAP_LEVEL`` and above) the fill takes a
  hue of its own, outside the scale: green and purple.
* The stops are ColorBrewer's (Cynthia Brewer, colorbrewer2.org, Apache-2.0 licence):
  the 9-class diverging RdBu for the scale, whose classes are spaced evenly in perceived
  lightness from the white centre, and the two ends of the 11-class PRGn for the two prices
  outside it. Between stops the colour is interpolated linearly in sRGB, as matplotlib's
  ``LinearSegmentedColormap`` does with the same scheme.
"""

from __future__ import annotations

import html
import math
import statistics
from collections.abc import Iterable

from nemlive.dashboard.text import format_price

RGB = tuple[int, int, int]

# ColorBrewer RdBu, 9 classes, reversed: blue (cheap) -> white (typical) -> red (dear).
RDBU_9: tuple[RGB, ...] = (
    (0x21, 0x66, 0xAC),  # #2166ac
    (0x43, 0x93, 0xC3),  # #4393c3
    (0x92, 0xC5, 0xDE),  # #92c5de
    (0xD1, 0xE5, 0xF0),  # #d1e5f0
    (0xF7, 0xF7, 0xF7),  # #f7f7f7, the centre
    (0xFD, 0xDB, 0xC7),  # #fddbc7
    (0xF4, 0xA5, 0x82),  # #f4a582
    (0xD6, 0x60, 0x4D),  # #d6604d
    (0xB2, 0x18, 0x2B),  # #b2182b
)
NEGATIVE_RGB: RGB = (0x1B, 0x78, 0x37)  # ColorBrewer PRGn-11 #1b7837: below $0
CAP_RGB: RGB = (0x40, 0x00, 0x4B)  # ColorBrewer PRGn-11 #40004b: at the cap's level
FILL_ALPHA = 165  # of 255: the fill is strong enough to read, the icons still show through

# The market price cap from 1 July 2025 ($/MWh); "at the cap's level" is within 15% of it.
MARKET_PRICE_CAP = 20_300.0
CAP_LEVEL = 0.85 * MARKET_PRICE_CAP
HIGH = 1_000.0  # $/MWh at the red end of the scale
# The centre is the window's median regional price, kept inside this range so that both
# halves of the scale keep a useful span (and a week of negative prices does not fold it).
CENTRE_MIN, CENTRE_MAX = 10.0, 250.0
DEFAULT_CENTRE = 60.0  # $/MWh, before any price came


def price_centre(prices: Iterable[float | None]) -> float:
    """The scale's centre ($/MWh): the median of the finite ``prices`` (a window's regional
    prices), clamped to [CENTRE_MIN, CENTRE_MAX]; DEFAULT_CENTRE when there are none."""
    values = [p for p in prices if p is not None and math.isfinite(p)]
    if not values:
        return DEFAULT_CENTRE
    return min(CENTRE_MAX, max(CENTRE_MIN, statistics.median(values)))


def price_position(price: float, centre: float) -> float:
    """Where ``price`` sits on the scale, -1 (blue, $0) to 0 (white, ``centre``) to 1 (red,
    ``HIGH`` and above); prices below $0 are at -1 and those of the cap's level at 1 (their
    fill is their own hue: :func:`price_rgb`)."""
    if price <= 0:
        return -1.0
    if price <= centre:
        return price / centre - 1.0
    if price >= HIGH:
        return 1.0
    return math.log(price / centre) / math.log(HIGH / centre)


def scale_rgb(position: float) -> RGB:
    """The RdBu colour at ``position`` (-1..1, clamped), interpolated between its stops."""
    x = (min(1.0, max(-1.0, position)) + 1.0) / 2.0 * (len(RDBU_9) - 1)
    i = min(int(x), len(RDBU_9) - 2)
    frac = x - i
    a, b = RDBU_9[i], RDBU_9[i + 1]
    return (
        round(a[0] + (b[0] - a[0]) * frac),
        round(a[1] + (b[1] - a[1]) * frac),
        round(a[2] + (b[2] - a[2]) * frac),
    )


def price_rgb(price: float, centre: float) -> RGB:
    """A price's colour: its own hue below $0 and at the cap's level, else the scale's."""
    if price < 0:
        return NEGATIVE_RGB
    if price >= CAP_LEVEL:
        return CAP_RGB
    return scale_rgb(price_position(price, centre))


def price_fill(price: float | None, centre: float) -> list[int] | None:
    """A region's RGBA fill for ``price`` ($/MWh); None for no price."""
    if price is None or not math.isfinite(price):
        return None
    return [*price_rgb(price, centre), FILL_ALPHA]


def price_flag(price: float) -> str:
    """``negative``, ``at the cap's level`` or ``""``: the words the tooltip adds."""
    if price < 0:
        return "negative"
    return "at the cap's level" if price >= CAP_LEVEL else ""


def tick_prices(centre: float) -> list[tuple[float, float]]:
    """(position, price) of the legend's ticks: $0, half the centre, the centre, halfway
    up the log half, and ``HIGH``."""
    middle = math.sqrt(centre * HIGH)
    return [(-1.0, 0.0), (-0.5, centre / 2), (0.0, centre), (0.5, middle), (1.0, HIGH)]


def _css(rgb: RGB) -> str:
    """A colour as the map shows it: the fill's alpha over the page's white."""
    a = FILL_ALPHA / 255
    r, g, b = (round(c * a + 255 * (1 - a)) for c in rgb)
    return f"rgb({r},{g},{b})"


def _swatch(rgb: RGB, label: str, testid: str) -> str:
    return (
        f'<span class="nl-price-end" data-testid="{testid}">'
        f'<span class="nl-swatch" style="background:{_css(rgb)}"></span>{html.escape(label)}</span>'
    )


def build_price_legend_html(centre: float) -> str:
    """The legend of the region colours: the two hues outside the scale and the scale as a
    gradient, ticked in $/MWh, with the centre it was drawn for."""
    steps = 16
    stops = ", ".join(
        f"{_css(scale_rgb(-1 + 2 * k / steps))} {100 * k / steps:.1f}%" for k in range(steps + 1)
    )
    ticks = "".join(
        f'<span class="nl-tick" style="left:{(pos + 1) * 50:.1f}%">'
        f"{html.escape(format_price(price, digits=0, per_mwh=False))}"
        f"{'+' if pos == 1.0 else ''}</span>"
        for pos, price in tick_prices(centre)
    )
    cap = format_price(CAP_LEVEL, digits=0, per_mwh=False)
    return (
        '<div class="nemlive-legend nl-price-legend" data-testid="nl-price-legend">'
        '<span class="nl-price-title">Region price, $/MWh</span>'
        + _swatch(NEGATIVE_RGB, "below $0", "nl-price-negative")
        + '<span class="nl-scale"><span class="nl-bar" style="background:linear-gradient('
        + f'to right, {stops})"></span><span class="nl-ticks">{ticks}</span></span>'
        + _swatch(CAP_RGB, f"{cap} and above (the cap's level)", "nl-price-cap")
        + '<span class="nl-price-note">white: the typical price, the median of the window, '
        + f"{html.escape(format_price(centre, digits=0, per_mwh=False))}</span></div>"
    )
