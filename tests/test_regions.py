"""data/regions.geojson: shape, areas in an equal-area projection, borders, facility locations."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from nemlive.common.lookups import REGIONS_GEOJSON
from oesim import regions_source as rs
from oesim.nem_catalogue import FACILITIES

MAINLAND = ("NSW1", "QLD1", "SA1", "VIC1")


@pytest.fixture(scope="module")
def features() -> dict[str, dict]:
    collection = json.loads(REGIONS_GEOJSON.read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection"
    return {f["properties"]["region_id"]: f for f in collection["features"]}


def test_file_is_what_the_source_builds() -> None:
    assert rs.main(["--check"]) == 0, "run python -m oesim.regions_source"


def test_one_feature_per_region_with_contract_properties(features: dict[str, dict]) -> None:
    assert sorted(features) == ["NSW1", "QLD1", "SA1", "TAS1", "VIC1"]
    for f in features.values():
        assert f["type"] == "Feature"
        assert set(f["properties"]) == {"region_id", "name"}
        assert f["properties"]["name"]
    assert "ACT" in features["NSW1"]["properties"]["name"]


def test_rings_are_closed_and_counter_clockwise(features: dict[str, dict]) -> None:
    for f in features.values():
        for ring in rs.feature_rings(f):
            assert ring[0] == ring[-1]
            assert rs.signed_area_deg2(ring) > 0  # RFC 7946: exterior rings counter-clockwise


@pytest.mark.parametrize("region", MAINLAND)
def test_mainland_regions_have_at_least_40_vertices(features: dict[str, dict], region: str) -> None:
    outer = max(rs.feature_rings(features[region]), key=rs.ring_area_km2)
    assert len(outer) - 1 >= 40


def test_tasmania_has_its_main_island_and_the_bass_strait_islands(
    features: dict[str, dict],
) -> None:
    areas = sorted((rs.ring_area_km2(r) for r in rs.feature_rings(features["TAS1"])), reverse=True)
    assert 60_000 < areas[0] < 69_000  # the main island is about 64,500 km²
    assert len(areas) == 3 and all(500 < a < 2_500 for a in areas[1:])  # King, Flinders


def _quad_area_km2(lat1: float, lat2: float, dlon: float) -> float:
    """Exact area of a lon/lat quadrangle on the GRS80 ellipsoid (closed form)."""
    a, f = 6_378_137.0, 1 / 298.257222101
    e2 = f * (2 - f)
    e = math.sqrt(e2)
    b2 = a * a * (1 - e2)

    def g(lat: float) -> float:
        s = math.sin(math.radians(lat))
        return s / (2 * (1 - e2 * s * s)) + math.log((1 + e * s) / (1 - e * s)) / (4 * e)

    return b2 * math.radians(dlon) * abs(g(lat2) - g(lat1)) / 1e6


@pytest.mark.parametrize(
    ("lon", "lat", "size"),
    [(140.0, -30.0, 1.0), (131.0, -12.0, 2.0), (150.0, -43.0, 0.5), (115.0, -35.0, 3.0)],
    ids=["outback", "tropics", "tasmania", "west"],
)
def test_albers_areas_match_the_ellipsoid(lon: float, lat: float, size: float) -> None:
    cell = [
        (lon, lat),
        (lon + size, lat),
        (lon + size, lat + size),
        (lon, lat + size),
        (lon, lat),
    ]
    exact = _quad_area_km2(lat, lat + size, size)
    assert rs.ring_area_km2(cell) == pytest.approx(exact, rel=1e-4)


@pytest.mark.parametrize("region", sorted(rs.OFFICIAL_AREA_KM2))
def test_area_within_5_percent_of_official(features: dict[str, dict], region: str) -> None:
    area = rs.feature_area_km2(features[region])
    official = rs.OFFICIAL_AREA_KM2[region]
    assert abs(area - official) / official < 0.05, f"{region}: {area:,.0f} vs {official:,.0f}"


@pytest.mark.parametrize(
    ("a", "b", "border"),
    [
        ("QLD1", "NSW1", rs.BORDER_QLD_NSW),
        ("QLD1", "SA1", rs.BORDER_QLD_SA),
        ("NSW1", "SA1", rs.BORDER_NSW_SA),
        ("NSW1", "VIC1", rs.BORDER_NSW_VIC),
        ("SA1", "VIC1", rs.BORDER_SA_VIC),
    ],
    ids=["qld-nsw", "qld-sa", "nsw-sa", "nsw-vic", "sa-vic"],
)
def test_shared_borders_use_the_same_vertices(
    features: dict[str, dict], a: str, b: str, border: list[tuple[float, float]]
) -> None:
    for region in (a, b):
        vertices = {tuple(p) for r in rs.feature_rings(features[region]) for p in r}
        missing = [p for p in border if p not in vertices]
        assert not missing, f"{region} lacks {missing[:3]}"


def test_regions_neither_overlap_nor_leave_gaps_along_borders(features: dict[str, dict]) -> None:
    # A grid over the mainland: no point in two regions; points just either side of the
    # shared borders each land in exactly one region.
    overlaps = []
    for i in range(int((154 - 129) / 0.5)):
        for j in range(int((45 - 10) / 0.5)):
            lon, lat = 129.05 + i * 0.5, -10.05 - j * 0.5
            inside = [r for r, f in features.items() if rs.point_in_feature(lon, lat, f)]
            if len(inside) > 1:
                overlaps.append((lon, lat, inside))
    assert not overlaps
    for border in (rs.BORDER_QLD_NSW, rs.BORDER_NSW_VIC, rs.BORDER_SA_VIC, rs.BORDER_NSW_SA):
        for (x0, y0), (x1, y1) in itertools.pairwise(border):
            mx, my = (x0 + x1) / 2, (y0 + y1) / 2
            nx, ny = -(y1 - y0), x1 - x0  # normal to the segment
            norm = math.hypot(nx, ny) / 0.02
            for sign in (1, -1):
                p = (mx + sign * nx / norm, my + sign * ny / norm)
                inside = [r for r, f in features.items() if rs.point_in_feature(*p, f)]
                assert len(inside) == 1, (p, inside)


@pytest.mark.parametrize(
    ("place", "lon", "lat", "region"),
    [
        ("Sydney", 151.21, -33.87, "NSW1"),
        ("Canberra", 149.13, -35.28, "NSW1"),
        ("Broken Hill", 141.47, -31.95, "NSW1"),
        ("Albury", 146.92, -36.00, "NSW1"),
        ("Tweed Heads", 153.54, -28.19, "NSW1"),
        ("Brisbane", 153.03, -27.47, "QLD1"),
        ("Coolangatta", 153.53, -28.15, "QLD1"),
        ("Goondiwindi", 150.31, -28.50, "QLD1"),
        ("Mount Isa", 139.49, -20.73, "QLD1"),
        ("Thursday Island", 142.22, -10.58, None),
        ("Melbourne", 144.96, -37.81, "VIC1"),
        ("Wodonga", 146.89, -36.13, "VIC1"),
        ("Mildura", 142.15, -34.21, "VIC1"),
        ("Port Phillip Bay", 144.85, -38.10, None),
        ("Adelaide", 138.60, -34.93, "SA1"),
        ("Mount Gambier", 140.78, -37.83, "SA1"),
        ("Kingscote", 137.62, -35.70, "SA1"),
        ("Hobart", 147.33, -42.88, "TAS1"),
        ("Launceston", 147.14, -41.44, "TAS1"),
        ("Currie, King Island", 143.87, -39.93, "TAS1"),
        ("Alice Springs", 133.88, -23.70, None),
        ("Perth", 115.86, -31.95, None),
        ("Bass Strait", 146.0, -39.8, None),
    ],
)
def test_known_places_fall_in_the_right_region(
    features: dict[str, dict], place: str, lon: float, lat: float, region: str | None
) -> None:
    inside = [r for r, f in features.items() if rs.point_in_feature(lon, lat, f)]
    assert inside == ([region] if region else []), place


def test_every_facility_lies_in_its_own_region_and_no_other(features: dict[str, dict]) -> None:
    wrong = []
    for fac in FACILITIES:
        inside = [r for r, f in features.items() if rs.point_in_feature(fac.lon, fac.lat, f)]
        if inside != [fac.region]:
            wrong.append((fac.code, fac.region, inside))
    assert not wrong
