"""Hand-drawn NEM region outlines, and the geometry that checks them.

Builds ``data/regions.geojson`` (CONTRACTS §5): one Feature per NEM region with properties
``region_id`` and ``name``; NSW1 includes the ACT (it is an enclave, so NSW's outline is the
union). The vertex lists are drawn from general knowledge of the state borders (141°E, 129°E,
26°S, 29°S, the Barwon/Macintyre/Dumaresq rivers and the McPherson Range, the Murray River,
140°58'E) and the coastlines. They are simplified: good at zoom 4, not for anything finer.

Shared borders are written once (``BORDER_*``) and used by both neighbours, reversed where
needed, so the polygons neither overlap nor leave gaps. Coordinates are ``(lon, lat)`` in
degrees (WGS84), as GeoJSON wants them.

Run ``python -m oesim.regions_source`` to rewrite the GeoJSON and print each region's vertex
count and area against the official figure (``--check`` only compares the file on disk).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

Point = tuple[float, float]  # (lon, lat) in degrees
Ring = list[Point]

ROOT = Path(__file__).resolve().parent.parent
GEOJSON_PATH = ROOT / "data" / "regions.geojson"

REGION_NAMES: dict[str, str] = {
    "NSW1": "New South Wales (with the ACT)",
    "QLD1": "Queensland",
    "SA1": "South Australia",
    "TAS1": "Tasmania",
    "VIC1": "Victoria",
}

# Official land areas (Geoscience Australia), km². TAS includes its islands.
OFFICIAL_AREA_KM2: dict[str, float] = {
    "NSW1": 800_642.0 + 2_358.0,
    "QLD1": 1_730_648.0,
    "VIC1": 227_416.0,
    "SA1": 984_321.0,
    "TAS1": 68_401.0,
}


def _meridian(lon: float, lat_from: float, lat_to: float, step: float = 1.0) -> Ring:
    """Points along a meridian from lat_from to lat_to, both ends included."""
    n = max(1, math.ceil(abs(lat_to - lat_from) / step - 1e-9))
    return [(lon, round(lat_from + (lat_to - lat_from) * i / n, 4)) for i in range(n + 1)]


def _parallel(lat: float, lon_from: float, lon_to: float, step: float = 1.0) -> Ring:
    """Points along a parallel from lon_from to lon_to, both ends included."""
    n = max(1, math.ceil(abs(lon_to - lon_from) / step - 1e-9))
    return [(round(lon_from + (lon_to - lon_from) * i / n, 4), lat) for i in range(n + 1)]


# --- shared land borders ---------------------------------------------------------------

# SA/QLD: 26°S from 138°E to 141°E, then 141°E south to Cameron Corner (29°S).
BORDER_QLD_SA: Ring = _parallel(-26.0, 138.0, 141.0) + _meridian(141.0, -26.0, -29.0)[1:]

# QLD/NSW, west to east: 29°S to the Barwon at Mungindi, up the Barwon/Macintyre past
# Goondiwindi, the Dumaresq past Texas and Bonshaw, then the Great Dividing Range north of
# Wallangarra and the McPherson Range to Point Danger.
BORDER_QLD_NSW: Ring = [
    *_parallel(-29.0, 141.0, 148.97),
    (149.30, -28.90),
    (149.60, -28.70),
    (150.00, -28.62),
    (150.33, -28.56),  # Goondiwindi
    (150.60, -28.62),
    (150.95, -28.68),
    (151.17, -28.86),  # Texas
    (151.28, -29.04),  # Bonshaw
    (151.55, -28.96),
    (151.94, -28.88),  # Wallangarra
    (152.05, -28.62),
    (152.30, -28.38),
    (152.50, -28.30),
    (152.80, -28.36),
    (153.05, -28.33),
    (153.33, -28.25),
    (153.55, -28.165),  # Point Danger
]

# NSW/SA: 141°E from Cameron Corner to the Murray.
BORDER_NSW_SA: Ring = _meridian(141.0, -29.0, -34.0)

# NSW/VIC, west to east: the Murray from 141°E to its source, then the straight line from
# near the source (Forest Hill) to Cape Howe.
BORDER_NSW_VIC: Ring = [
    (141.00, -34.00),
    (141.45, -34.06),
    (141.92, -34.11),  # Wentworth
    (142.16, -34.18),  # Mildura
    (142.45, -34.40),
    (142.77, -34.58),  # Robinvale
    (143.05, -34.78),
    (143.33, -35.03),  # Tooleybuc
    (143.56, -35.34),  # Swan Hill
    (143.85, -35.50),
    (144.13, -35.63),  # Barham
    (144.45, -35.88),
    (144.75, -36.12),  # Echuca
    (145.10, -35.92),
    (145.57, -35.81),  # Tocumwal
    (146.00, -35.98),
    (146.39, -36.00),  # Corowa
    (146.92, -36.08),  # Albury
    (147.30, -36.05),
    (147.70, -35.93),  # Jingellic
    (148.00, -36.12),  # Towong
    (148.13, -36.50),
    (148.20, -36.80),  # Forest Hill, near the source
    (149.10, -37.15),
    (149.98, -37.505),  # Cape Howe
]

# SA/VIC: from the Murray junction down 140°58'E (surveyed short of 141°E) to the coast.
BORDER_SA_VIC: Ring = [(141.00, -34.00), *_meridian(140.965, -34.05, -38.06)]

# SA/WA and SA/NT: 129°E from the Bight to 26°S, then 26°S east to 138°E.
BORDER_SA_WEST: Ring = _meridian(129.0, -31.69, -26.0) + _parallel(-26.0, 129.0, 138.0)[1:]

# QLD/NT: 138°E from the Gulf of Carpentaria south to 26°S.
BORDER_QLD_NT: Ring = _meridian(138.0, -16.55, -26.0)

# --- coastlines ---------------------------------------------------------------------------

# Queensland, Point Danger north to Cape York, then the Gulf of Carpentaria west to 138°E.
COAST_QLD: Ring = [
    (153.55, -28.165),
    (153.43, -27.95),  # Southport
    (153.40, -27.70),
    (153.20, -27.45),  # Moreton Bay
    (153.10, -27.10),
    (153.15, -26.75),  # Caloundra
    (153.10, -26.40),  # Noosa
    (153.19, -25.93),  # Double Island Point
    (152.95, -25.60),
    (152.85, -25.28),  # Hervey Bay
    (152.40, -24.75),  # Bundaberg
    (151.90, -24.20),  # Agnes Water
    (151.55, -24.00),
    (151.25, -23.78),  # Gladstone
    (150.95, -23.50),
    (150.78, -23.15),  # Yeppoon
    (150.70, -22.70),
    (150.45, -22.35),  # Shoalwater Bay
    (150.05, -22.30),
    (149.75, -22.45),  # Broad Sound
    (149.55, -22.05),
    (149.35, -21.65),
    (149.20, -21.15),  # Mackay
    (148.85, -20.75),
    (148.75, -20.30),  # Airlie Beach
    (148.25, -20.02),  # Bowen
    (147.75, -19.73),  # Cape Upstart
    (147.40, -19.40),  # Cape Bowling Green
    (146.82, -19.25),  # Townsville
    (146.40, -18.95),
    (146.25, -18.55),
    (146.05, -18.25),  # Cardwell
    (146.10, -17.85),  # Mission Beach
    (146.05, -17.50),  # Innisfail
    (145.90, -17.10),
    (145.76, -16.90),  # Cairns
    (145.45, -16.45),  # Port Douglas
    (145.45, -16.05),  # Cape Tribulation
    (145.25, -15.45),  # Cooktown
    (145.33, -14.95),  # Cape Flattery
    (144.55, -14.20),  # Cape Melville
    (143.85, -14.45),  # Princess Charlotte Bay
    (143.62, -14.05),
    (143.55, -13.40),  # Cape Sidmouth
    (143.45, -12.85),  # Lockhart River
    (143.25, -12.05),  # Cape Grenville
    (142.90, -11.85),
    (142.80, -11.30),
    (142.53, -10.69),  # Cape York
    (142.40, -10.95),
    (142.15, -11.35),
    (142.05, -11.90),
    (141.87, -12.63),  # Weipa
    (141.70, -13.30),  # Aurukun
    (141.55, -14.00),
    (141.50, -14.70),
    (141.60, -15.20),  # Mitchell River mouth
    (141.40, -15.90),
    (141.20, -16.50),
    (140.85, -17.30),
    (140.80, -17.48),  # Karumba
    (140.45, -17.62),
    (140.05, -17.70),
    (139.60, -17.55),  # Burketown coast
    (139.25, -17.35),
    (138.85, -17.10),
    (138.45, -16.85),
    (138.00, -16.55),
]

# New South Wales, Point Danger south to Cape Howe.
COAST_NSW: Ring = [
    (153.55, -28.165),
    (153.64, -28.64),  # Byron Bay
    (153.58, -28.87),  # Ballina
    (153.36, -29.43),  # Yamba
    (153.25, -29.90),
    (153.14, -30.30),  # Coffs Harbour
    (153.00, -30.65),  # Nambucca Heads
    (153.08, -30.93),  # Smoky Cape
    (152.92, -31.43),  # Port Macquarie
    (152.75, -31.84),  # Crowdy Head
    (152.53, -32.18),  # Forster
    (152.54, -32.44),  # Seal Rocks
    (152.20, -32.72),  # Port Stephens
    (151.78, -32.93),  # Newcastle
    (151.58, -33.28),  # Norah Head
    (151.33, -33.57),  # Broken Bay
    (151.29, -33.85),  # Sydney Heads
    (151.22, -34.02),  # Botany Bay
    (150.92, -34.42),  # Wollongong
    (150.86, -34.67),  # Kiama
    (150.78, -35.10),  # Jervis Bay
    (150.47, -35.36),  # Ulladulla
    (150.18, -35.72),  # Batemans Bay
    (150.13, -36.22),  # Narooma
    (150.07, -36.43),  # Bermagui
    (149.95, -36.80),
    (149.92, -37.07),  # Eden
    (149.98, -37.505),
]

# Victoria, Cape Howe west to the SA border, with Port Phillip Bay.
COAST_VIC: Ring = [
    (149.98, -37.505),
    (149.75, -37.57),  # Mallacoota
    (149.27, -37.80),  # Point Hicks
    (148.55, -37.80),  # Marlo
    (147.98, -37.88),  # Lakes Entrance
    (147.50, -38.10),
    (147.10, -38.35),  # Ninety Mile Beach
    (146.70, -38.67),  # Port Albert
    (146.45, -38.90),
    (146.38, -39.13),  # Wilsons Promontory
    (146.20, -38.85),
    (145.92, -38.90),  # Cape Liptrap
    (145.73, -38.63),  # Inverloch
    (145.40, -38.55),
    (145.20, -38.40),  # Western Port
    (144.90, -38.50),  # Cape Schanck
    (144.65, -38.31),  # Point Nepean
    (144.98, -38.33),
    (145.12, -38.14),  # Frankston
    (144.96, -37.86),  # Melbourne
    (144.65, -37.93),  # Werribee
    (144.38, -38.12),  # Geelong
    (144.66, -38.27),  # Queenscliff
    (144.32, -38.34),  # Torquay
    (143.98, -38.54),  # Lorne
    (143.51, -38.86),  # Cape Otway
    (143.15, -38.70),  # Princetown
    (142.48, -38.40),  # Warrnambool
    (142.00, -38.40),
    (141.60, -38.40),  # Portland
    (141.40, -38.38),  # Cape Bridgewater
    (140.965, -38.06),
]

# South Australia, the SA/VIC border west along the coast to 129°E.
COAST_SA: Ring = [
    (140.965, -38.06),
    (140.70, -38.05),  # Port MacDonnell
    (140.35, -37.88),
    (140.05, -37.50),  # Beachport
    (139.75, -37.15),  # Robe
    (139.85, -36.83),  # Kingston SE
    (139.70, -36.50),
    (139.35, -35.95),  # Coorong
    (138.90, -35.55),  # Murray Mouth
    (138.62, -35.57),  # Victor Harbor
    (138.10, -35.65),  # Cape Jervis
    (138.25, -35.48),
    (138.45, -35.25),
    (138.50, -34.90),  # Adelaide
    (138.40, -34.50),
    (138.12, -34.15),  # Port Wakefield
    (137.95, -34.40),  # Ardrossan
    (137.85, -34.80),
    (137.75, -35.10),  # Edithburgh
    (137.30, -35.20),
    (136.90, -35.27),  # Cape Spencer
    (137.10, -34.90),
    (137.40, -34.55),
    (137.55, -34.20),
    (137.62, -33.93),  # Wallaroo
    (137.90, -33.60),  # Port Broughton
    (138.00, -33.18),  # Port Pirie
    (137.90, -32.90),
    (137.77, -32.50),  # Port Augusta
    (137.58, -33.03),  # Whyalla
    (137.30, -33.35),
    (136.92, -33.68),  # Cowell
    (136.57, -33.92),  # Arno Bay
    (136.10, -34.40),  # Tumby Bay
    (135.95, -34.75),  # Port Lincoln
    (135.85, -34.98),
    (135.55, -34.80),
    (135.40, -34.40),  # Coffin Bay
    (135.30, -33.70),  # Elliston
    (135.05, -33.50),
    (134.70, -33.25),  # Venus Bay
    (134.20, -32.80),  # Streaky Bay
    (134.15, -32.50),
    (133.68, -32.13),  # Ceduna
    (133.20, -32.15),
    (132.45, -32.00),  # Fowlers Bay
    (131.90, -31.68),
    (131.15, -31.48),  # Head of Bight
    (130.00, -31.60),
    (129.00, -31.69),
]

ISLAND_KANGAROO: Ring = [
    (136.58, -35.75),  # Cape Borda
    (137.00, -35.63),
    (137.45, -35.60),
    (137.64, -35.66),  # Kingscote
    (138.13, -35.84),  # Cape Willoughby
    (137.80, -36.00),
    (137.45, -36.05),
    (137.10, -36.05),
    (136.70, -36.06),  # Cape du Couedic
    (136.53, -35.92),
]

TAS_MAIN: Ring = [
    (144.70, -40.68),  # Cape Grim
    (145.12, -40.80),  # Smithton
    (145.30, -40.76),  # Stanley
    (145.60, -40.90),  # Rocky Cape
    (145.90, -41.05),  # Burnie
    (146.36, -41.17),  # Devonport
    (146.80, -41.06),  # Tamar mouth
    (147.10, -41.00),
    (147.39, -40.98),  # Bridport
    (147.75, -40.85),
    (147.95, -40.74),  # Cape Portland
    (148.35, -40.99),  # Eddystone Point
    (148.30, -41.33),  # St Helens
    (148.30, -41.87),  # Bicheno
    (148.35, -42.12),  # Freycinet
    (148.28, -42.30),
    (148.05, -42.25),  # Great Oyster Bay
    (147.90, -42.55),  # Orford
    (147.95, -42.80),
    (147.92, -43.02),  # Eaglehawk Neck
    (147.95, -43.22),  # Cape Pillar
    (147.78, -43.23),  # Cape Raoul
    (147.70, -43.00),
    (147.45, -43.02),  # South Arm
    (147.35, -42.90),  # Hobart
    (147.25, -43.10),
    (147.05, -43.35),  # Southport
    (146.95, -43.55),
    (146.83, -43.64),  # South East Cape
    (146.50, -43.55),
    (146.03, -43.57),  # South West Cape
    (145.95, -43.30),  # Port Davey
    (145.60, -42.95),
    (145.35, -42.55),
    (145.20, -42.22),  # Macquarie Heads
    (145.15, -41.95),  # Trial Harbour
    (144.95, -41.60),
    (144.75, -41.25),
    (144.65, -41.00),  # Arthur River
    (144.65, -40.80),
]

ISLAND_KING: Ring = [
    (143.95, -39.58),
    (144.12, -39.75),
    (144.12, -40.05),
    (143.90, -40.12),
    (143.84, -39.85),
]

ISLAND_FLINDERS: Ring = [
    (147.85, -39.72),
    (148.05, -39.68),
    (148.30, -40.00),
    (148.20, -40.22),
    (147.95, -40.22),
    (147.80, -40.00),
]


def _join(*parts: Ring) -> Ring:
    """Concatenate polylines into one closed ring, dropping repeated joints."""
    ring: Ring = []
    for part in parts:
        for p in part:
            if not ring or ring[-1] != p:
                ring.append(p)
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring


def _rev(part: Ring) -> Ring:
    return list(reversed(part))


def build_region_rings() -> dict[str, list[Ring]]:
    """Each region's rings (outer rings of its parts, closed), borders shared exactly."""
    qld = _join(
        COAST_QLD,  # Point Danger -> 138°E on the Gulf
        BORDER_QLD_NT,  # south to 26°S
        BORDER_QLD_SA,  # east along 26°S, south along 141°E
        BORDER_QLD_NSW,  # east to Point Danger
    )
    nsw = _join(
        COAST_NSW,  # Point Danger -> Cape Howe
        _rev(BORDER_NSW_VIC),  # up to the Murray's source, down to 141°E
        _rev(BORDER_NSW_SA),  # north to Cameron Corner
        BORDER_QLD_NSW,  # east to Point Danger
    )
    vic = _join(
        COAST_VIC,  # Cape Howe -> SA border
        _rev(BORDER_SA_VIC),  # north to the Murray junction
        BORDER_NSW_VIC,  # east to Cape Howe
    )
    sa = _join(
        COAST_SA,  # SA/VIC border -> 129°E
        BORDER_SA_WEST,  # north, then east along 26°S to 138°E
        BORDER_QLD_SA,  # to 141°E, south to 29°S
        BORDER_NSW_SA,  # south to the Murray
        BORDER_SA_VIC,  # south to the coast
    )
    return {
        "NSW1": [nsw],
        "QLD1": [qld],
        "SA1": [sa, _join(ISLAND_KANGAROO)],
        "TAS1": [_join(TAS_MAIN), _join(ISLAND_KING), _join(ISLAND_FLINDERS)],
        "VIC1": [vic],
    }


# --- geometry ------------------------------------------------------------------------------

# GRS80 (= WGS84 for this purpose) and the Australian Albers parameters (EPSG:3577).
_A = 6_378_137.0
_F = 1 / 298.257222101
_E2 = _F * (2 - _F)
_E = math.sqrt(_E2)
_LAT1, _LAT2, _LAT0, _LON0 = -18.0, -36.0, 0.0, 132.0


def _q(lat_rad: float) -> float:
    s = math.sin(lat_rad)
    return (1 - _E2) * (s / (1 - _E2 * s * s) - math.log((1 - _E * s) / (1 + _E * s)) / (2 * _E))


def _m(lat_rad: float) -> float:
    s = math.sin(lat_rad)
    return math.cos(lat_rad) / math.sqrt(1 - _E2 * s * s)


_P1, _P2, _P0 = (math.radians(v) for v in (_LAT1, _LAT2, _LAT0))
_N = (_m(_P1) ** 2 - _m(_P2) ** 2) / (_q(_P2) - _q(_P1))
_C = _m(_P1) ** 2 + _N * _q(_P1)
_RHO0 = _A * math.sqrt(_C - _N * _q(_P0)) / _N


def project_albers(lon: float, lat: float) -> tuple[float, float]:
    """Albers equal-area conic on GRS80 (standard parallels 18°S/36°S, 132°E): metres."""
    rho = _A * math.sqrt(_C - _N * _q(math.radians(lat))) / _N
    theta = _N * math.radians(lon - _LON0)
    return rho * math.sin(theta), _RHO0 - rho * math.cos(theta)


def _densify(ring: Sequence[Sequence[float]], step_deg: float = 0.1) -> list[tuple[float, float]]:
    # Borders along parallels are straight in lon/lat, not in the projection: follow them.
    out: list[tuple[float, float]] = []
    for (x0, y0), (x1, y1) in itertools.pairwise(ring):
        n = max(1, math.ceil(max(abs(x1 - x0), abs(y1 - y0)) / step_deg))
        out.extend((x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(n))
    out.append((float(ring[-1][0]), float(ring[-1][1])))
    return out


def ring_area_km2(ring: Sequence[Sequence[float]]) -> float:
    """Unsigned area of a closed (lon, lat) ring in km², edges followed in lon/lat space."""
    pts = [project_albers(x, y) for x, y in _densify(ring)]
    s = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        s += x0 * y1 - x1 * y0
    return abs(s) / 2 / 1e6


def signed_area_deg2(ring: Sequence[Sequence[float]]) -> float:
    """Shoelace area in lon/lat degrees²: positive when counter-clockwise."""
    s = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(ring):
        s += x0 * y1 - x1 * y0
    return s / 2


def point_in_ring(lon: float, lat: float, ring: Sequence[Sequence[float]]) -> bool:
    """Even-odd ray casting in lon/lat (fine away from the poles and the antimeridian)."""
    inside = False
    for (x0, y0), (x1, y1) in itertools.pairwise(ring):
        if (y0 > lat) != (y1 > lat):
            x_cross = x0 + (lat - y0) * (x1 - x0) / (y1 - y0)
            if lon < x_cross:
                inside = not inside
    return inside


def feature_rings(feature: dict) -> list[list[list[float]]]:
    """The outer rings of a Polygon or MultiPolygon feature (holes are not used here)."""
    geom = feature["geometry"]
    if geom["type"] == "Polygon":
        return [geom["coordinates"][0]]
    if geom["type"] == "MultiPolygon":
        return [poly[0] for poly in geom["coordinates"]]
    raise ValueError(f"unsupported geometry {geom['type']}")


def feature_area_km2(feature: dict) -> float:
    return sum(ring_area_km2(r) for r in feature_rings(feature))


def point_in_feature(lon: float, lat: float, feature: dict) -> bool:
    return any(point_in_ring(lon, lat, r) for r in feature_rings(feature))


def build_geojson() -> dict:
    """The FeatureCollection, rings counter-clockwise (RFC 7946), regions in code order."""
    features = []
    for region, rings in sorted(build_region_rings().items()):
        polys = []
        for ring in rings:
            if signed_area_deg2(ring) < 0:
                ring = _rev(ring)
            polys.append([[[x, y] for x, y in ring]])
        geometry = (
            {"type": "Polygon", "coordinates": polys[0]}
            if len(polys) == 1
            else {"type": "MultiPolygon", "coordinates": polys}
        )
        features.append(
            {
                "type": "Feature",
                "properties": {"region_id": region, "name": REGION_NAMES[region]},
                "geometry": geometry,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def dump_geojson(collection: dict) -> str:
    """Compact, stable text: one feature per line so diffs stay readable."""
    lines = [
        json.dumps(f, separators=(",", ":"), ensure_ascii=False) for f in collection["features"]
    ]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def summarise(collection: dict) -> list[str]:
    """One line per region: vertex count, area and error against the official area."""
    out = []
    for f in collection["features"]:
        region = f["properties"]["region_id"]
        area = feature_area_km2(f)
        official = OFFICIAL_AREA_KM2[region]
        vertices = sum(len(r) - 1 for r in feature_rings(f))
        out.append(
            f"{region}: {vertices} vertices, {area:,.0f} km² vs {official:,.0f} "
            f"({(area - official) / official * 100:+.1f}%)"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=GEOJSON_PATH)
    parser.add_argument("--check", action="store_true", help="compare, don't write")
    args = parser.parse_args(argv)
    text = dump_geojson(build_geojson())
    if args.check:
        try:
            same = args.out.read_text(encoding="utf-8") == text
        except OSError as exc:
            print(f"cannot read {args.out}: {exc}", file=sys.stderr)
            return 2
        if not same:
            print(f"{args.out} is stale: run python -m oesim.regions_source", file=sys.stderr)
            return 1
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(args.out)
    for line in summarise(json.loads(text)):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
