"""Pure map builders: rows, sizes, layers, the deck JSON, legends, the icon atlas."""

from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path

import pytest
from PIL import Image

from nemlive.common import lookups
from nemlive.common.lookups import FUEL_GROUPS
from nemlive.dashboard import icons, mapview, pricescale
from nemlive.store import AlertRecord
from tests.support_dashboard import write_facilities_csv, write_regions_geojson


@pytest.fixture
def facilities(tmp_path: Path) -> dict[str, lookups.Facility]:
    return lookups.load_facilities(write_facilities_csv(tmp_path / "f.csv"))


LATEST = {
    "TCOAL1": (1_760_486_700, 1500.0, 112.5),
    "TGAS1": (1_760_486_700, 300.0, 11.25),
    "TWIND1": (1_760_486_400, 120.0, None),
    "TBATT1": (1_760_486_700, -80.0, None),
    "UNKNOWN9": (1_760_486_700, 50.0, 1.0),
}


def test_rows_skip_unknown_facilities_and_sort_largest_first(facilities) -> None:  # type: ignore[no-untyped-def]
    rows = mapview.build_facility_rows(LATEST, facilities)
    assert [r["facility_id"] for r in rows] == ["TCOAL1", "TGAS1", "TWIND1", "TBATT1"]
    coal = rows[0]
    assert coal["position"] == [150.9, -32.4]
    assert coal["icon"] == "coal" and coal["fuel"] == "Coal" and coal["region"] == "NSW1"
    assert coal["mw_text"] == "1,500.0 MW (75% of 2,000 MW)" and coal["t_text"] == "112.50 t CO₂-e"
    assert coal["time"] == "2025-10-15 10:05 NEM"
    assert rows[2]["t_text"] == "no data"


@pytest.mark.parametrize(
    ("regions", "groups", "expected"),
    [
        (None, None, {"TCOAL1", "TGAS1", "TWIND1", "TBATT1"}),
        ({"VIC1"}, None, {"TGAS1", "TBATT1"}),
        (None, {"coal", "wind"}, {"TCOAL1", "TWIND1"}),
        ({"VIC1"}, {"coal"}, set()),
    ],
    ids=["no-filter", "region", "fuel", "both-empty"],
)
def test_filters_change_the_rows(facilities, regions, groups, expected) -> None:  # type: ignore[no-untyped-def]
    rows = mapview.build_facility_rows(LATEST, facilities, regions=regions, groups=groups)
    assert {r["facility_id"] for r in rows} == expected


def test_icon_size_is_proportional_to_the_square_root() -> None:
    a = mapview.icon_size_px(400.0, "power")
    b = mapview.icon_size_px(1600.0, "power")
    assert b / a == pytest.approx(2.0)
    assert mapview.icon_size_px(1000.0, "power") == pytest.approx(mapview.SIZE_REF_PX)
    assert mapview.icon_size_px(-400.0, "power") == pytest.approx(a)  # loads sized by magnitude
    assert mapview.icon_size_px(0.0, "power") == mapview.MIN_SIZE_PX
    assert mapview.icon_size_px(None, "emissions") == mapview.MIN_SIZE_PX
    assert mapview.icon_size_px(math.nan, "power") == mapview.MIN_SIZE_PX


def test_size_by_emissions_uses_tonnes(facilities) -> None:  # type: ignore[no-untyped-def]
    rows = {
        r["facility_id"]: r
        for r in mapview.build_facility_rows(LATEST, facilities, size_by="emissions")
    }
    assert rows["TCOAL1"]["size"] == pytest.approx(
        mapview.icon_size_px(112.5, "emissions"), abs=0.05
    )
    assert rows["TWIND1"]["size"] == mapview.MIN_SIZE_PX


def test_deck_json_has_layers_rows_no_basemap_and_a_constant_view(
    facilities, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    regions = mapview.simplify_regions(
        lookups.load_regions(write_regions_geojson(tmp_path / "r.geojson"))
    )
    rows = mapview.build_facility_rows(LATEST, facilities)
    spec = json.loads(mapview.build_deck(rows, regions, mapview.MapOptions(labels=True)).to_json())
    layers = {layer["id"]: layer for layer in spec["layers"]}
    assert list(layers) == ["regions", "facilities", "labels"]
    assert (
        layers["regions"]["@@type"] == "GeoJsonLayer"
        and len(layers["regions"]["data"]["features"]) == 5
    )
    assert layers["regions"]["pickable"] is True  # its tooltip: name, price, demand
    icon = layers["facilities"]
    assert icon["@@type"] == "IconLayer" and len(icon["data"]) == 4
    assert icon["iconAtlas"].startswith("data:image/png;base64,")  # local, not a URL
    assert icon["sizeUnits"] == "pixels"
    assert set(icon["iconMapping"]) == set(FUEL_GROUPS)
    labels = layers["labels"]
    assert labels["@@type"] == "TextLayer" and labels["fontFamily"] == "Source Sans Pro, sans-serif"
    # Overlapping names are hidden on the GPU, the largest facility's kept.
    assert labels["extensions"] == [{"@@type": "CollisionFilterExtension"}]
    assert labels["getCollisionPriority"] == "@@=priority"
    priorities = [d["priority"] for d in labels["data"]]
    assert priorities == sorted(priorities, reverse=True)
    assert all(-1000 <= p <= 1000 for p in priorities)  # deck.gl's range
    assert [d["name"] for d in labels["data"]] == [r["name"] for r in rows]
    # No basemap: no provider, and pydeck's sentinel style that Streamlit leaves empty.
    assert "mapProvider" not in spec and spec["mapStyle"] == "__MAP_STYLE__"
    assert spec["initialViewState"] == {**mapview.INITIAL_VIEW}
    again = json.loads(mapview.build_deck(rows[:1], regions).to_json())
    assert again["initialViewState"] == spec["initialViewState"]
    assert "http" not in json.dumps(spec)


def test_basemap_is_opt_in() -> None:
    spec = json.loads(mapview.build_deck([], None, mapview.MapOptions(basemap=True)).to_json())
    assert spec["mapProvider"] == "carto"


def test_layers_can_be_switched_off(facilities) -> None:  # type: ignore[no-untyped-def]
    rows = mapview.build_facility_rows(LATEST, facilities)
    options = mapview.MapOptions(markers=False, polygons=False, labels=False)
    assert json.loads(mapview.build_deck(rows, {"features": []}, options).to_json())["layers"] == []


def test_tooltip_is_text_mode_so_names_are_never_html(facilities) -> None:  # type: ignore[no-untyped-def]
    rows = mapview.build_facility_rows(LATEST, facilities)
    gas = next(r for r in rows if r["facility_id"] == "TGAS1")
    assert gas["name"] == "Test Gas <b>&amp; Co</b>"  # shown literally by innerText
    assert "html" not in mapview.TOOLTIP and "{name}" in mapview.TOOLTIP["text"]
    for field in ("name", "fuel", "region", "mw_text", "t_text", "time"):
        assert "{" + field + "}" in mapview.TOOLTIP["text"]


def test_legends_are_escaped_html() -> None:
    colour = mapview.build_colour_legend_html()
    assert colour.count("<img ") == len(FUEL_GROUPS) and "Battery" in colour
    size = mapview.build_size_legend_html("emissions")
    assert "t/5 min" in size and "<script" not in size
    assert "2,500 MW" in mapview.build_size_legend_html("power")


def test_simplify_regions_keeps_shapes_and_drops_detail() -> None:
    ring = [[140 + i / 1000, -30 + 0.00001 * (i % 2)] for i in range(1001)] + [
        [141, -31],
        [140, -31],
        [140, -30],
    ]
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"region_id": "SA1", "x": 1},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    out = mapview.simplify_regions(fc)
    new_ring = out["features"][0]["geometry"]["coordinates"][0]
    assert len(new_ring) < 10 and new_ring[0] == new_ring[-1]
    assert out["features"][0]["properties"] == {"region_id": "SA1", "name": "South Australia"}


def test_selection_from_a_map_click() -> None:
    picked = {
        "selection": {
            "indices": {"facilities": [0]},
            "objects": {"facilities": [{"facility_id": "TCOAL1"}]},
        }
    }
    assert mapview.build_selected_facility(picked) == "TCOAL1"
    assert mapview.build_selected_facility({"selection": {"indices": {}, "objects": {}}}) is None
    assert mapview.build_selected_facility(None) is None


def test_icon_atlas_is_a_small_png_with_one_cell_per_group() -> None:
    url = icons.atlas_data_url()
    raw = base64.b64decode(url.split(",", 1)[1])
    img = Image.open(io.BytesIO(raw))
    assert img.size == (icons.ICON_PX * len(FUEL_GROUPS), icons.ICON_PX)
    assert len(raw) < 12_000
    rgba = img.convert("RGBA")
    for i, group in enumerate(FUEL_GROUPS):
        # Just inside the white rim, the disc has the group's colour.
        px = rgba.getpixel((i * icons.ICON_PX + icons.ICON_PX // 2, 7))
        want = lookups.hex_to_rgb(lookups.FUEL_COLOURS[group])
        assert all(abs(a - b) <= 24 for a, b in zip(px[:3], want, strict=True)), group


# --- the market at a glance: regions by price, capacity factors --------------------------------


@pytest.mark.parametrize(
    ("price", "text"),
    [
        (-1000.0, "\u2212$1,000.00/MWh (negative)"),
        (-0.01, "\u2212$0.01/MWh (negative)"),
        (0.0, "$0.00/MWh"),
        (299.99, "$299.99/MWh"),
        (pricescale.CAP_LEVEL - 0.01, f"${pricescale.CAP_LEVEL - 0.01:,.2f}/MWh"),
        (pricescale.CAP_LEVEL, f"${pricescale.CAP_LEVEL:,.2f}/MWh (at the cap's level)"),
        (25_000.0, "$25,000.00/MWh (at the cap's level)"),
    ],
)
def test_the_tooltip_keeps_the_exact_price(price: float, text: str) -> None:
    assert mapview.describe_price(price) == text


def test_regions_are_filled_by_their_latest_price_with_name_price_and_demand() -> None:
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    fc = {
        "features": [
            {"type": "Feature", "properties": {"region_id": r}, "geometry": square}
            for r in ("SA1", "VIC1", "TAS1")
        ]
    }
    market = {"SA1": (1_760_486_700, -35.5, 1_234.0), "VIC1": (1_760_486_700, 19_000.0, 6_000.0)}
    layer = mapview.build_region_layer(fc, None, market, centre=60.0)
    props = {f["properties"]["region_id"]: f["properties"] for f in layer.data["features"]}
    assert props["SA1"]["fill"] == [*pricescale.NEGATIVE_RGB, pricescale.FILL_ALPHA]
    assert props["SA1"]["name"] == "South Australia"
    assert props["SA1"]["fuel"] == "\u2212$35.50/MWh (negative)"
    assert props["SA1"]["mw_text"] == "demand 1,234 MW"
    assert props["SA1"]["time"] == "2025-10-15 10:05 NEM"
    assert props["VIC1"]["fill"] == [*pricescale.CAP_RGB, pricescale.FILL_ALPHA]
    assert props["TAS1"]["fill"] == mapview.REGION_FILL and props["TAS1"]["fuel"] == "no price"
    assert layer.pickable  # the tooltip shows a region's figures
    dimmed = mapview.build_region_layer(fc, ["VIC1"], market)
    assert dimmed.data["features"][0]["properties"]["fill"] == mapview.REGION_FILL_DIMMED


def _strings(value: object) -> list[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_no_string_in_the_decks_data_is_code_to_deck_gl() -> None:
    """A name, id or region string that starts with ``@@`` would be an expression, constant
    or class to deck.gl's JSON converter: in the built deck, none of the layers' data does,
    and each still reads the same (a zero-width space in front)."""
    hostile = ["@@=console.log(1)", "@@#GL.ONE", "@@type", "@@function"]
    facilities = {
        f"F{i}": lookups.Facility(f"F{i}", name, "SA1", -34.0, 138.0, ("wind",), ("wind",), 9.0)
        for i, name in enumerate(hostile)
    }
    latest = {fid: (1_760_486_700, 5.0, 1.0) for fid in facilities}
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    props = {"region_id": "@@=evil", "name": "@@#GL.ONE", "@@type": "ScatterplotLayer"}
    fc = {"features": [{"type": "Feature", "properties": props, "geometry": square}]}
    rows = mapview.build_facility_rows(latest, facilities)
    deck = mapview.build_deck(
        rows, fc, mapview.MapOptions(labels=True), None, {}, {"@@=evil": (1, 5.0, 1.0)}
    )
    spec = json.loads(deck.to_json())
    layers = {layer["id"]: layer for layer in spec["layers"]}
    assert list(layers) == ["regions", "interchange", "facilities", "labels"]
    data = [s for layer in spec["layers"] for s in _strings(layer["data"])]
    assert [s for s in data if s.startswith("@@")] == []
    names = {d["name"] for d in layers["labels"]["data"]}
    assert names == {mapview.ZERO_WIDTH_SPACE + n for n in hostile}
    assert layers["interchange"]["data"][0]["text"] == mapview.ZERO_WIDTH_SPACE + "@@=evil +4 MW"
    # the layers' own settings still speak to deck.gl
    assert layers["labels"]["extensions"] == [{"@@type": "CollisionFilterExtension"}]
    assert rows[0]["name"] in hostile  # the rows handed in are not changed


# --- firing alerts on the map ----------------------------------------------------------------


def _alert(subject: str, rule: str = "r") -> AlertRecord:
    return AlertRecord(rule, "k", subject, "firing", 1, 1, 1.0, 1.0, 1)


def test_alert_marks_keep_the_subjects_that_have_a_place_on_the_map(facilities) -> None:  # type: ignore[no-untyped-def]
    firing = [_alert("SA1"), _alert("TGAS1", "trip"), _alert("NEM"), _alert("market"), _alert("X")]
    marks = mapview.build_alert_marks(firing, ("SA1", "VIC1"), facilities)
    assert marks == mapview.AlertMarks(frozenset({"SA1"}), frozenset({"TGAS1"}))
    assert mapview.build_alert_marks([], ("SA1",), facilities) == mapview.NO_ALERTS


def test_a_firing_region_is_outlined_red_and_a_firing_facility_ringed(
    facilities, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    regions = mapview.simplify_regions(
        lookups.load_regions(write_regions_geojson(tmp_path / "r.geojson"))
    )
    rows = mapview.build_facility_rows(LATEST, facilities)
    marks = mapview.AlertMarks(frozenset({"SA1"}), frozenset({"TGAS1", "NOT_DRAWN"}))
    spec = json.loads(
        mapview.build_deck(rows, regions, mapview.MapOptions(), alerts=marks).to_json()
    )
    layers = {layer["id"]: layer for layer in spec["layers"]}
    assert list(layers) == ["regions", "facilities", "alert_facilities"]
    props = {
        f["properties"]["region_id"]: f["properties"] for f in layers["regions"]["data"]["features"]
    }
    assert props["SA1"]["alert"] is True and props["SA1"]["line"] == mapview.ALERT_LINE
    assert props["SA1"]["line_px"] > props["VIC1"]["line_px"]
    assert props["VIC1"]["alert"] is False and props["VIC1"]["line"] == mapview.REGION_LINE
    assert layers["regions"]["getLineColor"] == "@@=properties.line"
    ring = layers["alert_facilities"]
    assert ring["@@type"] == "ScatterplotLayer" and ring["filled"] is False
    gas = next(r for r in rows if r["facility_id"] == "TGAS1")
    assert ring["data"] == [
        {
            "facility_id": "TGAS1",
            "position": gas["position"],
            "radius": round(gas["size"] / 2 + 3, 1),
        }
    ]
    plain = json.loads(mapview.build_deck(rows, regions).to_json())
    assert [layer["id"] for layer in plain["layers"]] == ["regions", "facilities"]
    assert not any(f["properties"]["alert"] for f in plain["layers"][0]["data"]["features"])
    hidden = mapview.build_deck(rows, regions, mapview.MapOptions(markers=False), alerts=marks)
    assert [layer.id for layer in hidden.layers] == ["regions"]  # no icons, no rings
