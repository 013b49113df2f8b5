"""The map's icon atlas, drawn locally with Pillow: one round marker per fuel group.

Each icon is a disc in the group's OpenElectricity colour with a white rim and a small white
pictogram, so a group can be told apart without relying on colour alone. The atlas is served to
deck.gl as a ``data:`` URL inside the deck JSON: the browser never requests an icon.
"""

from __future__ import annotations

import base64
import io
import math
from functools import cache

from PIL import Image, ImageDraw

from nemlive.common.lookups import FUEL_COLOURS, FUEL_GROUPS, hex_to_rgb

ICON_PX = 48  # one cell of the atlas; deck.gl scales it to get_size pixels
_SS = 4  # supersampling factor for smooth edges

WHITE = (255, 255, 255, 255)


Point = tuple[float, float]
Colour = tuple[int, int, int, int]


def _glyph(draw: ImageDraw.ImageDraw, group: str, s: float, inner: Colour) -> None:
    """Draw the white pictogram of ``group`` centred on a cell of size ``s`` (supersampled px).

    ``inner`` is the disc colour, used to cut details out of a white shape."""
    painter = _GLYPHS.get(group, _draw_other)
    painter(draw, s / 2, s / 64, inner, group)  # centre, one design unit (1/64 of the cell)


def _draw_coal(draw: ImageDraw.ImageDraw, c: float, u: float, inner: Colour, group: str) -> None:
    """A factory with a chimney."""
    draw.polygon(
        [
            (c - 16 * u, c + 12 * u),
            (c - 16 * u, c - 2 * u),
            (c - 6 * u, c - 8 * u),
            (c - 6 * u, c - 2 * u),
            (c + 4 * u, c - 8 * u),
            (c + 4 * u, c - 16 * u),
            (c + 12 * u, c - 16 * u),
            (c + 12 * u, c + 12 * u),
        ],
        fill=WHITE,
    )


def _draw_flame(draw: ImageDraw.ImageDraw, c: float, u: float, inner: Colour, group: str) -> None:
    """A flame (gas) or an oil drop (distillate)."""
    pts: list[Point] = [
        (c + 12 * u * math.cos(t), c + 6 * u + 12 * u * math.sin(t))
        for t in (math.pi * k / 20 for k in range(21))
    ]  # lower half-circle, right to left
    top = (c + (3 * u if group == "gas" else 0), c - 20 * u)
    pts = [*pts, (c - 12 * u, c + 6 * u), (c - 8 * u, c - 6 * u), top, (c + 8 * u, c - 6 * u)]
    draw.polygon(pts, fill=WHITE)
    if group == "gas":
        draw.polygon(
            [
                (c - 5 * u, c + 12 * u),
                (c + 5 * u, c + 12 * u),
                (c + 5 * u, c + 4 * u),
                (c + 1 * u, c - 4 * u),
                (c - 5 * u, c + 4 * u),
            ],
            fill=inner,
        )


def _draw_leaf(draw: ImageDraw.ImageDraw, c: float, u: float, inner: Colour, group: str) -> None:
    """A leaf on a diagonal, with a vein."""
    pts: list[Point] = []
    for k in range(21):
        t = k / 20
        x, y = c - 13 * u + 26 * u * t, c + 13 * u - 26 * u * t
        w = 9 * u * math.sin(math.pi * t)
        pts.append((x - w * 0.707, y - w * 0.707))
    for k in range(20, -1, -1):
        t = k / 20
        x, y = c - 13 * u + 26 * u * t, c + 13 * u - 26 * u * t
        w = 9 * u * math.sin(math.pi * t)
        pts.append((x + w * 0.707, y + w * 0.707))
    draw.polygon(pts, fill=WHITE)
    draw.line([(c - 16 * u, c + 16 * u), (c + 8 * u, c - 8 * u)], fill=inner, width=int(2 * u))
    draw.line([(c - 16 * u, c + 16 * u), (c - 10 * u, c + 10 * u)], fill=WHITE, width=int(3 * u))


def _draw_waves(draw: ImageDraw.ImageDraw, c: float, u: float, inner: Colour, group: str) -> None:
    """Waves (hydro), or two waves under an up arrow (pumps)."""
    for dy in (-6, 4, 14) if group == "hydro" else (6, 14):
        pts = [(c - 16 * u + k * u, c + dy * u + 3 * u * math.sin(k / 4)) for k in range(33)]
        draw.line(pts, fill=WHITE, width=int(4 * u))
    if group == "pumps":
        draw.polygon([(c, c - 18 * u), (c - 9 * u, c - 6 * u), (c + 9 * u, c - 6 * u)], fill=WHITE)
        draw.rectangle([c - 3 * u, c - 7 * u, c + 3 * u, c + 1 * u], fill=WHITE)


def _draw_rotor(draw: ImageDraw.ImageDraw, c: float, u: float, inner: Colour, group: str) -> None:
    """Three blades on a hub."""
    for k in range(3):
        a = math.radians(-90 + 120 * k)
        tip = (c + 17 * u * math.cos(a), c + 17 * u * math.sin(a))
        left = (c + 5 * u * math.cos(a - 1.2), c + 5 * u * math.sin(a - 1.2))
        right = (c + 5 * u * math.cos(a + 0.5), c + 5 * u * math.sin(a + 0.5))
        draw.polygon([left, tip, right], fill=WHITE)
    draw.ellipse([c - 4 * u, c - 4 * u, c + 4 * u, c + 4 * u], fill=WHITE)


def _draw_sun(draw: ImageDraw.ImageDraw, c: float, u: float, inner: Colour, group: str) -> None:
    """A sun."""
    draw.ellipse([c - 7 * u, c - 7 * u, c + 7 * u, c + 7 * u], fill=WHITE)
    for k in range(8):
        a = math.radians(45 * k)
        draw.line(
            [
                (c + 10 * u * math.cos(a), c + 10 * u * math.sin(a)),
                (c + 16 * u * math.cos(a), c + 16 * u * math.sin(a)),
            ],
            fill=WHITE,
            width=int(3 * u),
        )


def _draw_battery(draw: ImageDraw.ImageDraw, c: float, u: float, inner: Colour, group: str) -> None:
    """A battery with a bolt."""
    draw.rectangle([c - 9 * u, c - 12 * u, c + 9 * u, c + 16 * u], outline=WHITE, width=int(3 * u))
    draw.rectangle([c - 4 * u, c - 16 * u, c + 4 * u, c - 12 * u], fill=WHITE)
    draw.polygon(
        [
            (c + 2 * u, c - 8 * u),
            (c - 5 * u, c + 3 * u),
            (c, c + 3 * u),
            (c - 2 * u, c + 12 * u),
            (c + 5 * u, c + 1 * u),
            (c, c + 1 * u),
        ],
        fill=WHITE,
    )


def _draw_other(draw: ImageDraw.ImageDraw, c: float, u: float, inner: Colour, group: str) -> None:
    """A dot."""
    draw.ellipse([c - 6 * u, c - 6 * u, c + 6 * u, c + 6 * u], fill=WHITE)


_GLYPHS = {
    "coal": _draw_coal,
    "gas": _draw_flame,
    "distillate": _draw_flame,
    "bioenergy": _draw_leaf,
    "hydro": _draw_waves,
    "pumps": _draw_waves,
    "wind": _draw_rotor,
    "solar": _draw_sun,
    "battery": _draw_battery,
}


def draw_icon(group: str) -> Image.Image:
    """One ICON_PX square RGBA icon for ``group`` (unknown groups get the ``other`` look)."""
    s = ICON_PX * _SS
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    colour = hex_to_rgb(FUEL_COLOURS.get(group, FUEL_COLOURS["other"]))  # type: ignore[call-overload]
    pad = 2 * _SS
    draw.ellipse([pad, pad, s - pad, s - pad], fill=(*colour, 255), outline=WHITE, width=5 * _SS)
    _glyph(draw, group, s, (*colour, 255))
    return img.resize((ICON_PX, ICON_PX), Image.Resampling.LANCZOS)


def draw_atlas(groups: tuple[str, ...] = FUEL_GROUPS) -> Image.Image:
    """All icons side by side in one row, in ``groups`` order."""
    atlas = Image.new("RGBA", (ICON_PX * len(groups), ICON_PX), (0, 0, 0, 0))
    for i, group in enumerate(groups):
        atlas.paste(draw_icon(group), (i * ICON_PX, 0))
    return atlas


def build_icon_mapping(groups: tuple[str, ...] = FUEL_GROUPS) -> dict[str, dict[str, int | bool]]:
    """deck.gl ``iconMapping``: group -> its cell in the atlas, anchored at the centre."""
    return {
        g: {
            "x": i * ICON_PX,
            "y": 0,
            "width": ICON_PX,
            "height": ICON_PX,
            "anchorY": ICON_PX // 2,
            "mask": False,
        }
        for i, g in enumerate(groups)
    }


def png_data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    # A 64-colour palette keeps the atlas small enough to ride in every deck JSON refresh.
    img.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@cache
def atlas_data_url() -> str:
    """The atlas as a ``data:image/png`` URL, drawn once per process."""
    return png_data_url(draw_atlas())


@cache
def icon_data_url(group: str, px: int = 18) -> str:
    """One icon scaled to ``px`` pixels, as a data URL (for the HTML colour legend)."""
    return png_data_url(draw_icon(group).resize((px * 2, px * 2), Image.Resampling.LANCZOS))
