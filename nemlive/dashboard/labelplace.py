"""Where each region's label goes: inside the region, clear of the large facilities (pure).

A region's label (``VIC1 -1,234 MW``, its net interchange) was written at the middle of the
region's extent, which in Victoria is the Latrobe Valley and in New South Wales the Hunter:
the label covered the icons people look for. :func:`place_region_labels` instead tries a grid
of points inside each region and keeps the one whose label box, in the screen space of the
map's initial view (web-Mercator, deck.gl's projection), is clear of every large facility's
icon (capacity above ``LARGE_MW``, drawn at full output: the largest that icon gets) and of
the labels placed before it; among the clear points, the one nearest the region's middle.

The label box is the text layer's: a monospace font (deck.gl's default, Monaco or the
system's monospace) whose glyphs advance ``CHAR_EM`` of the font size, plus the background's
padding. Distances between points double with each zoom step while icons and text keep their
pixel size, so a placement clear at one zoom stays clear at every larger zoom.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nemlive.common.lookups import Facility

LARGE_MW = 250.0  # the icons a label must not cover: facilities above this capacity
CHAR_EM = 0.62  # a monospace glyph's advance per font px (DejaVu Sans Mono: 0.602)
GRID = 24  # candidate points per side of a region's extent
CLEAR_PX = 10.0  # a gap this wide counts as clear: beyond it the middle matters more
OFFSHORE_REACH = 0.35  # how far offshore a label may go, as a share of its region's extent
LABEL_TEXT_CHARS = 11  # " +12,345 MW" after the region id: the widest label text


@dataclass(frozen=True)
class LabelStyle:
    """How big the labels are drawn (px) and at which zoom the map opens."""

    zoom: float
    centre: tuple[float, float] = (145.0, -30.8)  # lon, lat the map opens on
    view_px: tuple[float, float] = (900.0, 560.0)  # the smallest map it opens in
    size_px: float = 13.0
    pad_x_px: float = 4.0
    pad_y_px: float = 2.0

    def box(self, chars: int) -> tuple[float, float]:
        """(width, height) px of a label of ``chars`` characters, padding included."""
        return (
            chars * CHAR_EM * self.size_px + 2 * self.pad_x_px,
            self.size_px * 1.2 + 2 * self.pad_y_px,
        )


Box = tuple[float, float, float, float]  # centre x, centre y, width, height (px)


def project(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    """Web-Mercator pixels of (lon, lat) at ``zoom`` (deck.gl's 512-px world), y down; only
    differences between two points mean anything."""
    scale = 512 * math.exp2(zoom) / (2 * math.pi)
    lat = max(-85.0, min(85.0, lat))
    return (
        math.radians(lon) * scale,
        -math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * scale,
    )


def box_gap(a: Box, b: Box) -> float:
    """The gap between two boxes in px: positive when apart (the wider of the two axes'
    gaps), zero or negative when they touch or overlap."""
    dx = abs(a[0] - b[0]) - (a[2] + b[2]) / 2
    dy = abs(a[1] - b[1]) - (a[3] + b[3]) / 2
    return max(dx, dy)


def large_icon_boxes(
    facilities: Mapping[str, Facility], zoom: float, icon_px: Callable[[float], float]
) -> list[Box]:
    """The boxes of the icons of facilities above ``LARGE_MW``, each at its capacity's size
    (``icon_px(mw)``: the map's icon size)."""
    out = []
    for fac in facilities.values():
        if fac.capacity_mw is None or fac.capacity_mw <= LARGE_MW:
            continue
        x, y = project(fac.lon, fac.lat, zoom)
        size = icon_px(fac.capacity_mw)
        out.append((x, y, size, size))
    return out


def outer_rings(geometry: Mapping[str, Any]) -> list[list[list[float]]]:
    """The outer rings of a Polygon or MultiPolygon, as [lon, lat] lists."""
    if geometry.get("type") == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry.get("type") == "MultiPolygon":
        return [poly[0] for poly in geometry["coordinates"]]
    return []


def _extent(ring: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return min(lons), min(lats), max(lons), max(lats)


def inside(lon: float, lat: float, ring: Sequence[Sequence[float]]) -> bool:
    """Whether (lon, lat) is inside ``ring`` (even-odd rule)."""
    hit = False
    for (x1, y1), (x2, y2) in zip(ring, [*ring[1:], ring[0]], strict=True):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def candidates(
    ring: Sequence[Sequence[float]], grid: int = GRID, reach: float = 0.0
) -> list[tuple[float, float]]:
    """The extent's middle, then the points of a ``grid`` x ``grid`` lattice over the ring's
    extent widened by ``reach`` of its size on every side."""
    x0, y0, x1, y1 = _extent(ring)
    w, h = (x1 - x0) * (1 + 2 * reach), (y1 - y0) * (1 + 2 * reach)
    left, bottom = x0 - (x1 - x0) * reach, y0 - (y1 - y0) * reach
    points = [((x0 + x1) / 2, (y0 + y1) / 2)]
    for i in range(grid):
        for j in range(grid):
            points.append((left + w * (i + 0.5) / grid, bottom + h * (j + 0.5) / grid))
    return points


@dataclass(frozen=True)
class Placement:
    """A region's label: where it is written, and, when that is offshore, the point on the
    region's land its leader line runs to (None: the label is on the region)."""

    position: list[float]
    leader_to: list[float] | None = None


def _in_view(x: float, y: float, size: tuple[float, float], style: LabelStyle) -> bool:
    cx, cy = project(style.centre[0], style.centre[1], style.zoom)
    return (
        abs(x - cx) <= style.view_px[0] / 2 - size[0] / 2
        and abs(y - cy) <= style.view_px[1] / 2 - size[1] / 2
    )


def _choose(
    own: list[list[list[float]]],
    others: list[list[list[float]]],
    size: tuple[float, float],
    obstacles: list[Box],
    style: LabelStyle,
) -> Placement:
    """The best of the candidates around ``own``'s largest ring (module doc): clear first,
    then on the region's land rather than offshore, then nearest the middle."""
    ring = max(own, key=lambda r: _area(_extent(r)))
    points = candidates(ring, reach=OFFSHORE_REACH)
    mx, my = project(*points[0], style.zoom)
    scored = []
    for lon, lat in points:
        on_land = any(inside(lon, lat, r) for r in own)
        if not on_land and any(inside(lon, lat, r) for r in others):
            continue  # in another region
        x, y = project(lon, lat, style.zoom)
        if not _in_view(x, y, size, style):
            continue
        gap = min((box_gap((x, y, *size), o) for o in obstacles), default=CLEAR_PX)
        scored.append(((min(gap, CLEAR_PX), on_land, -math.hypot(x - mx, y - my)), lon, lat))
    if not scored:
        return Placement([round(points[0][0], 3), round(points[0][1], 3)])
    (_, on_land, _), lon, lat = max(scored)
    position = [round(lon, 3), round(lat, 3)]
    if on_land:
        return Placement(position)
    land = [p for p in candidates(ring) if inside(*p, ring)] or [points[0]]
    x, y = project(lon, lat, style.zoom)
    near = min(land, key=lambda p: math.dist(project(*p, style.zoom), (x, y)))
    return Placement(position, [round(near[0], 3), round(near[1], 3)])


def place_region_labels(
    regions_fc: Mapping[str, Any],
    facilities: Mapping[str, Facility],
    style: LabelStyle,
    icon_px: Callable[[float], float],
) -> dict[str, Placement]:
    """Region id -> its label's :class:`Placement` (module doc), for every region of
    ``regions_fc``. Regions are placed in id order, each clear of the labels before it."""
    obstacles = large_icon_boxes(facilities, style.zoom, icon_px)
    rings = {
        str(f["properties"].get("region_id")): outer_rings(f.get("geometry") or {})
        for f in regions_fc.get("features", [])
    }
    placed: dict[str, Placement] = {}
    for rid in sorted(rings):
        if not rings[rid]:
            continue
        others = [r for other, rs in rings.items() if other != rid for r in rs]
        size = style.box(len(rid) + LABEL_TEXT_CHARS)
        placement = _choose(rings[rid], others, size, obstacles, style)
        placed[rid] = placement
        obstacles.append((*project(*placement.position, style.zoom), *size))
    return placed


def _area(extent: tuple[float, float, float, float]) -> float:
    return (extent[2] - extent[0]) * (extent[3] - extent[1])
