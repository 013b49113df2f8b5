"""Region labels placed clear of the large facilities, in the screen space of the map's views."""

from __future__ import annotations

import pytest

from nemlive.common import lookups
from nemlive.dashboard import labelplace, mapview
from nemlive.dashboard.labelplace import LabelStyle, Placement
from tests.conftest import ROOT

INTERCHANGE = {r: (1_760_486_700, 1_234.0, 99.0) for r in ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")}


@pytest.fixture(scope="module")
def shipped() -> tuple[dict, dict]:
    facilities = lookups.load_facilities(ROOT / "data" / "facilities.csv")
    regions = mapview.simplify_regions(lookups.load_regions(ROOT / "data" / "regions.geojson"))
    return facilities, regions


def _label_boxes(deck_layers: list, style: LabelStyle) -> list[tuple[str, labelplace.Box]]:
    """The region labels of a built deck as screen boxes (the text the page draws)."""
    layer = next(layer for layer in deck_layers if layer.id == "interchange")
    out = []
    for row in layer.data:
        x, y = labelplace.project(*row["position"], style.zoom)
        out.append((row["text"], (x, y, *style.box(len(row["text"])))))
    return out


def _icon_boxes(facilities: dict, zoom: float) -> list[tuple[str, labelplace.Box]]:
    """Every facility above 250 MW drawn at its capacity, as the map sizes it."""
    out = []
    for fac in facilities.values():
        if (fac.capacity_mw or 0) > 250:
            x, y = labelplace.project(fac.lon, fac.lat, zoom)
            size = mapview.icon_size_px(fac.capacity_mw, "power")
            out.append((fac.name, (x, y, size, size)))
    return out


@pytest.mark.parametrize("wall", [False, True], ids=["default-view", "wall-view"])
def test_no_region_label_covers_a_large_facility_in_the_view_the_map_opens_on(
    shipped, wall: bool
) -> None:  # type: ignore[no-untyped-def]
    """In the deck the page sends, at the zoom it opens on (web-Mercator, as deck.gl
    projects), no region label's box overlaps the icon of a facility above 250 MW, nor
    another label."""
    facilities, regions = shipped
    options = mapview.MapOptions(wall=wall)
    style = mapview.label_style(options)
    placements = mapview.place_labels(regions, facilities, options)
    deck = mapview.build_deck([], regions, options, interchange=INTERCHANGE, placements=placements)
    view = deck.initial_view_state
    assert view.zoom == style.zoom
    labels = _label_boxes(deck.layers, style)
    assert len(labels) == 5
    icons = _icon_boxes(facilities, style.zoom)
    assert len(icons) > 50  # the shipped lookup: a real test
    for text, box in labels:
        for name, icon in icons:
            assert labelplace.box_gap(box, icon) > 0, f"{text!r} covers {name}"
    for i, (text, box) in enumerate(labels):
        for other, box2 in labels[i + 1 :]:
            assert labelplace.box_gap(box, box2) > 0, (text, other)


def test_the_middle_of_a_region_covers_large_facilities_so_the_test_can_fail(shipped) -> None:  # type: ignore[no-untyped-def]
    """The old anchor, the middle of each region's extent, covers some: the placement is
    what clears them."""
    facilities, regions = shipped
    style = mapview.REGION_LABEL_STYLE
    deck = mapview.build_deck([], regions, interchange=INTERCHANGE, placements={})
    icons = [box for _, box in _icon_boxes(facilities, style.zoom)]
    covered = [
        text
        for text, box in _label_boxes(deck.layers, style)
        if any(labelplace.box_gap(box, icon) <= 0 for icon in icons)
    ]
    assert covered


def test_a_label_offshore_has_a_leader_line_to_its_region(shipped) -> None:  # type: ignore[no-untyped-def]
    facilities, regions = shipped
    placements = mapview.place_labels(regions, facilities, mapview.MapOptions())
    rings = {f["properties"]["region_id"]: f["geometry"] for f in regions["features"]}
    for rid, placed in placements.items():
        own = labelplace.outer_rings(rings[rid])
        on_land = any(labelplace.inside(*placed.position, r) for r in own)
        assert on_land == (placed.leader_to is None), rid
        if placed.leader_to is not None:
            assert any(labelplace.inside(*placed.leader_to, r) for r in own), rid
    layers = mapview.build_interchange_layers(regions, INTERCHANGE, placements)
    leaders = [layer for layer in layers if layer.id == "interchange_leaders"]
    offshore = [p for p in placements.values() if p.leader_to is not None]
    assert len(leaders) == (1 if offshore else 0)
    if offshore:
        assert len(leaders[0].data) == len(offshore)


def test_an_empty_map_leaves_each_label_in_its_region() -> None:
    square = [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]]
    fc = {
        "features": [
            {
                "properties": {"region_id": "SA1"},
                "geometry": {"type": "Polygon", "coordinates": [square]},
            }
        ]
    }
    style = LabelStyle(zoom=3.5, centre=(2.0, 2.0))
    placed = labelplace.place_region_labels(fc, {}, style, lambda mw: 10.0)
    assert placed == {"SA1": Placement([2.0, 2.0])}  # the middle: nothing to avoid


@pytest.mark.parametrize(
    ("a", "b", "gap"),
    [
        ((0, 0, 10, 10), (20, 0, 10, 10), 10.0),
        ((0, 0, 10, 10), (10, 0, 10, 10), 0.0),
        ((0, 0, 10, 10), (5, 5, 10, 10), -5.0),
        ((0, 0, 10, 10), (0, 30, 10, 10), 20.0),
    ],
    ids=["apart", "touching", "overlapping", "apart-vertically"],
)
def test_box_gap(a, b, gap: float) -> None:  # type: ignore[no-untyped-def]
    assert labelplace.box_gap(a, b) == gap
