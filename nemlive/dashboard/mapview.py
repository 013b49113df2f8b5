"""Pure builders of the facility map: rows, PyDeck layers, the Deck and its legends.

No Streamlit here. Every function takes plain data (a Snapshot's latest values, the lookup
tables, the user's options) and returns rows, ``pydeck`` objects or HTML strings.

* Each facility is drawn at its *own* latest value (the tooltip gives that value's time).
* Icon size in pixels is ``SIZE_REF_PX * sqrt(|value| / ref)``, i.e. proportional to the square
  root of the value, so the icon's *area* is proportional to the value; icons never shrink below
  ``MIN_SIZE_PX`` so that small facilities stay visible and clickable.
* Unknown facilities (not in data/facilities.csv) are counted elsewhere and not drawn.
* The tooltip uses deck.gl's ``text`` mode: values are put in with ``innerText``, so a name can
  never be parsed as HTML. The legends are HTML built here with every value escaped.
* Firing alerts (read from the bus, docs/alerts.md) mark the map: a region with one gets a
  thick red outline, a facility with one a red ring around its icon (:class:`AlertMarks`).
* deck.gl's JSON converter in the browser reads every string of the deck, its layers' rows
  included, and one that starts with ``@@`` is code to it (``@@=`` an expression, ``@@#`` a
  constant, ``@@type``/``@@function`` keys a class or a call). Names come from the API and
  the region file, so :func:`build_deck` puts a zero-width space before a leading ``@@`` in
  every string (key or value) of the layers' data: shown the same, read as text.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pydeck as pdk
from pydeck.bindings.json_tools import default_serialize

from nemlive.common.lookups import (
    FUEL_GROUPS,
    FUEL_LABELS,
    REGION_NAMES,
    Facility,
    capacity_factor,
    facility_passes,
    fuel_group_of,
)
from nemlive.common.nemtime import format_nem_epoch
from nemlive.dashboard import labelplace, pricescale
from nemlive.dashboard.icons import ICON_PX, atlas_data_url, build_icon_mapping, icon_data_url
from nemlive.dashboard.livestate import Point
from nemlive.dashboard.text import format_price
from nemlive.store.rows import AlertRecord

SizeBy = Literal["power", "emissions"]

DECK_CODE_PREFIX = "@@"  # what deck.gl's JSON converter takes for code (module doc)
ZERO_WIDTH_SPACE = "\u200b"

# Constant on purpose: Streamlit keeps the user's pan and zoom while this does not change.
# Fits the whole NEM, Far North Queensland (-15.5 deg) to southern Tasmania (-44 deg), in the
# dashboard's 560 px map (zoom 4.1 hid every facility north of -21 deg or south of -40.7 deg).
INITIAL_VIEW = {"latitude": -30.8, "longitude": 145.0, "zoom": 3.5, "pitch": 0, "bearing": 0}
SIZE_REF = {"power": 1_000.0, "emissions": 80.0}  # MW, t per 5 min drawn at SIZE_REF_PX
SIZE_REF_PX = 36.0
MIN_SIZE_PX = 7.0
SIZE_LEGEND_VALUES = {
    "power": (50.0, 250.0, 1_000.0, 2_500.0),
    "emissions": (5.0, 20.0, 80.0, 200.0),
}
SIZE_UNITS = {"power": "MW", "emissions": "t/5 min"}
MAX_LABELS = 120  # labels for the largest facilities; overlapping ones are hidden
LABEL_GAP_PX = 3  # between an icon's edge and its label
# How far a label's collision box reaches above the text: enough to cover the anchor of the
# largest icon (its label sits half an icon plus the gap below it).
LABEL_COLLISION_REACH_PX = 40
REGION_FILL = [120, 144, 156, 28]
REGION_FILL_DIMMED = [120, 144, 156, 8]
REGION_LINE = [90, 110, 125, 200]
REGION_LINE_PX = 1.2
ALERT_LINE = [220, 38, 38, 255]  # a firing alert's outline and ring
ALERT_LINE_PX = 4.0
ALERT_RING_GAP_PX = 3.0  # between a facility's icon and its ring
# The wall view (a screen across the room): the map fills about 1880 x 800 px at 1080p, so
# it opens one step closer, on the NEM's facilities (Far North Queensland to Tasmania).
WALL_VIEW = {"latitude": -30.4, "longitude": 144.0, "zoom": 4.0, "pitch": 0, "bearing": 0}
REGION_LABEL_STYLE = labelplace.LabelStyle(
    zoom=INITIAL_VIEW["zoom"], centre=(INITIAL_VIEW["longitude"], INITIAL_VIEW["latitude"])
)
WALL_LABEL_STYLE = labelplace.LabelStyle(
    zoom=WALL_VIEW["zoom"],
    centre=(WALL_VIEW["longitude"], WALL_VIEW["latitude"]),
    view_px=(1400.0, 760.0),
    size_px=18.0,
    pad_x_px=6.0,
    pad_y_px=3.0,
)
LEADER_LINE = [30, 41, 59, 200]

TOOLTIP = {
    "text": "{name}\n{fuel} · {region}\n{mw_text} · {t_text}\n{time}",
    "style": {
        "backgroundColor": "rgba(17, 24, 39, 0.92)",
        "color": "#f9fafb",
        "fontSize": "12px",
        "lineHeight": "1.45",
        "whiteSpace": "pre",
        "borderRadius": "6px",
        "padding": "8px 10px",
    },
}


def icon_size_px(value: float | None, size_by: SizeBy) -> float:
    """Pixels for a value: proportional to sqrt(|value|), floored at MIN_SIZE_PX."""
    if value is None or not math.isfinite(value):
        return MIN_SIZE_PX
    return max(MIN_SIZE_PX, SIZE_REF_PX * math.sqrt(abs(value) / SIZE_REF[size_by]))


def _fmt(value: float | None, unit: str, digits: int = 1) -> str:
    return "no data" if value is None else f"{value:,.{digits}f} {unit}"


def _cf_text(fac: Facility, mw: float | None) -> str:
    cf = capacity_factor(fac, mw)
    return "" if cf is None else f" ({cf:.0%} of {fac.capacity_mw:,.0f} MW)"


def build_facility_rows(
    latest: Mapping[str, Point],
    facilities: Mapping[str, Facility],
    *,
    regions: Collection[str] | None = None,
    groups: Collection[str] | None = None,
    size_by: SizeBy = "power",
) -> list[dict[str, Any]]:
    """One map row per known facility with data that passes the filters, largest first.

    ``latest``: facility id -> (epoch s, MW, t CO2-e per 5 min). ``regions``/``groups``: None
    means no filter. Each row has what the layers and the tooltip need and nothing more
    (the deck JSON is resent on every refresh).
    """
    rows: list[dict[str, Any]] = []
    for fid, (ts, mw, t) in latest.items():
        fac = facilities.get(fid)
        if fac is None or not facility_passes(fac, regions, groups):
            continue
        group = fuel_group_of(fac)
        value = mw if size_by == "power" else t
        rows.append(
            {
                "facility_id": fid,
                "name": fac.name,
                "fuel": FUEL_LABELS.get(group, group),  # type: ignore[call-overload]
                "icon": group,
                "region": fac.region_id,
                "position": [round(fac.lon, 4), round(fac.lat, 4)],
                "size": round(icon_size_px(value, size_by), 1),
                "mw_text": _fmt(mw, "MW") + _cf_text(fac, mw),
                "t_text": _fmt(t, "t CO₂-e", 2),
                "time": format_nem_epoch(ts) + " NEM",
                "_value": abs(value) if value is not None else 0.0,
            }
        )
    rows.sort(key=lambda r: (-r["_value"], r["facility_id"]))
    for r in rows:
        del r["_value"]
    return rows


def _simplify_ring(ring: list[list[float]], tolerance: float) -> list[list[float]]:
    """Douglas-Peucker on one closed ring of [lon, lat] (degrees)."""
    if len(ring) < 5:
        return ring
    keep = [False] * len(ring)
    keep[0] = keep[-1] = True
    stack = [(0, len(ring) - 1)]
    while stack:
        a, b = stack.pop()
        (x1, y1), (x2, y2) = ring[a][:2], ring[b][:2]
        dx, dy = x2 - x1, y2 - y1
        norm = math.hypot(dx, dy) or 1e-12
        best, idx = -1.0, -1
        for i in range(a + 1, b):
            x, y = ring[i][:2]
            d = (
                abs(dy * x - dx * y + x2 * y1 - y2 * x1) / norm
                if (dx or dy)
                else math.hypot(x - x1, y - y1)
            )
            if d > best:
                best, idx = d, i
        if idx > 0 and best > tolerance:
            keep[idx] = True
            stack += [(a, idx), (idx, b)]
    out = [[round(p[0], 3), round(p[1], 3)] for p, k in zip(ring, keep, strict=True) if k]
    return out if len(out) >= 4 else [[round(p[0], 3), round(p[1], 3)] for p in ring]


def simplify_regions(collection: Mapping[str, Any], tolerance: float = 0.01) -> dict[str, Any]:
    """A lighter copy of the regions FeatureCollection for the browser.

    Rings are simplified (Douglas-Peucker, ``tolerance`` in degrees, ~1 km by default), rounded to
    3 decimals, and properties cut to ``region_id`` and ``name``.
    """
    features = []
    for feat in collection.get("features", []):
        geom = feat.get("geometry") or {}
        kind, coords = geom.get("type"), geom.get("coordinates")
        if kind == "Polygon":
            coords = [_simplify_ring(r, tolerance) for r in coords]
        elif kind == "MultiPolygon":
            coords = [[_simplify_ring(r, tolerance) for r in poly] for poly in coords]
        else:
            continue
        props = feat.get("properties") or {}
        rid = str(props.get("region_id", ""))
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "region_id": rid,
                    "name": str(props.get("name", REGION_NAMES.get(rid, rid))),
                },
                "geometry": {"type": kind, "coordinates": coords},
            }
        )
    return {"type": "FeatureCollection", "features": features}


class CompactDeck(pdk.Deck):
    """A Deck whose JSON has no indentation (what st.pydeck_chart sends on every refresh).

    pydeck indents its JSON, which both inflates it by about a third and forces Python's slow
    pure-Python encoder; the compact form uses the C encoder.
    """

    def to_json(self) -> str:
        return json.dumps(
            self, default=default_serialize, separators=(",", ":"), ensure_ascii=False
        )


@dataclass(frozen=True)
class MapOptions:
    """What the sidebar's map options choose."""

    size_by: SizeBy = "power"
    labels: bool = False
    markers: bool = True
    polygons: bool = True
    basemap: bool = False  # opt-in: a basemap fetches tiles from the internet
    wall: bool = False  # the wall view: opens closer, larger region labels (WALL_VIEW)


def label_style(options: MapOptions) -> labelplace.LabelStyle:
    """How the region labels are drawn and placed for ``options`` (the wall's are larger)."""
    return WALL_LABEL_STYLE if options.wall else REGION_LABEL_STYLE


def place_labels(
    regions_fc: Mapping[str, Any], facilities: Mapping[str, Facility], options: MapOptions
) -> dict[str, labelplace.Placement]:
    """The region labels' placements in the view ``options`` open on (``labelplace``)."""
    return labelplace.place_region_labels(
        regions_fc, facilities, label_style(options), lambda mw: icon_size_px(mw, "power")
    )


def describe_price(price: float | None) -> str:
    """``−$12.30/MWh (negative)``, ``$18,900.00/MWh (at the cap's level)``; ``no price``
    for None: the exact figure, whatever colour the region is filled with."""
    if price is None or not math.isfinite(price):
        return "no price"
    flag = pricescale.price_flag(price)
    return format_price(price) + (f" ({flag})" if flag else "")


def describe_interchange(flows: Point | None) -> str:
    """``net import 350 MW (in 420, out 70)``; ``no interchange data`` without a point."""
    if flows is None or (flows[1] is None and flows[2] is None):
        return "no interchange data"
    imports, exports = flows[1] or 0.0, flows[2] or 0.0
    net = imports - exports
    way = "net import" if net >= 0 else "net export"
    return f"{way} {abs(net):,.0f} MW (in {imports:,.0f}, out {exports:,.0f})"


def region_anchor(geometry: Mapping[str, Any]) -> list[float]:
    """[lon, lat] to write a region's figure at: the middle of its largest ring's extent."""
    rings = (
        geometry["coordinates"]
        if geometry["type"] == "Polygon"
        else [poly[0] for poly in geometry["coordinates"]]
    )
    ring = max(rings, key=len)
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return [round((min(lons) + max(lons)) / 2, 3), round((min(lats) + max(lats)) / 2, 3)]


def build_interchange_layers(
    regions_fc: Mapping[str, Any],
    interchange: Mapping[str, Point],
    placements: Mapping[str, labelplace.Placement],
    style: labelplace.LabelStyle = REGION_LABEL_STYLE,
) -> list[pdk.Layer]:
    """Each region's net import as a signed figure (``VIC1 +350 MW``, ``-120 MW``) at its
    label's placement (``labelplace``: clear of the large facilities), and a leader line
    from each label placed offshore to its region. A region without a placement is labelled
    at the middle of its extent."""
    data, leaders = [], []
    for f in regions_fc.get("features", []):
        rid = f["properties"].get("region_id")
        flows = interchange.get(rid)
        if flows is None or (flows[1] is None and flows[2] is None):
            continue
        net = (flows[1] or 0.0) - (flows[2] or 0.0)
        text = f"{'+' if net >= 0 else '-'}{abs(net):,.0f} MW"  # ASCII: the text layer's font has no U+2212
        placed = placements.get(rid) or labelplace.Placement(region_anchor(f["geometry"]))
        data.append({"position": placed.position, "text": f"{rid} {text}"})
        if placed.leader_to is not None:
            leaders.append({"from": placed.position, "to": placed.leader_to})
    labels = pdk.Layer(
        "TextLayer",
        id="interchange",
        data=data,
        get_position="position",
        get_text="text",
        get_size=style.size_px,
        get_color=[30, 41, 59, 235],
        background=True,
        get_background_color=[255, 255, 255, 215],
        background_padding=[style.pad_x_px, style.pad_y_px],
        font_weight=600,
    )
    lines = pdk.Layer(
        "LineLayer",
        id="interchange_leaders",
        data=leaders,
        get_source_position="from",
        get_target_position="to",
        get_color=LEADER_LINE,
        get_width=1.5,
        width_units="'pixels'",
    )
    return [lines, labels] if leaders else [labels]


@dataclass(frozen=True)
class AlertMarks:
    """What the map marks for the firing alerts: the regions and facilities they are on."""

    regions: frozenset[str] = frozenset()
    facilities: frozenset[str] = frozenset()


NO_ALERTS = AlertMarks()


def build_alert_marks(
    firing: Iterable[AlertRecord], regions: Collection[str], facilities: Collection[str]
) -> AlertMarks:
    """The subjects of ``firing`` that are a region of ``regions`` or a facility of
    ``facilities`` (the lookup); the others (``NEM``, a stream) have no place on the map."""
    subjects = {alert.subject for alert in firing}
    return AlertMarks(
        frozenset(s for s in subjects if s in regions),
        frozenset(s for s in subjects if s in facilities),
    )


def build_region_layer(
    regions_fc: Mapping[str, Any],
    selected: Collection[str] | None = None,
    market: Mapping[str, Point] | None = None,
    interchange: Mapping[str, Point] | None = None,
    alerting: Collection[str] = (),
    centre: float = pricescale.DEFAULT_CENTRE,
) -> pdk.Layer:
    """Region polygons filled by their latest price (``market``: region -> (ts, price,
    demand)) on the continuous scale centred on ``centre`` ($/MWh, ``pricescale``), with
    the name, exact price and demand in the tooltip; regions outside the filter are drawn
    fainter, regions without a price in plain grey, and the regions in ``alerting`` (a
    firing alert) outlined thick and red, ``alert`` true in their properties."""
    selected_set = set(selected) if selected is not None else None
    features = []
    for f in regions_fc.get("features", []):
        rid = f["properties"].get("region_id")
        dim = selected_set is not None and rid not in selected_set
        ts, price, demand = (market or {}).get(rid) or (None, None, None)
        fill = REGION_FILL_DIMMED if dim else (pricescale.price_fill(price, centre) or REGION_FILL)
        alert = rid in alerting
        props = {
            **f["properties"],
            "fill": fill,
            "line": ALERT_LINE if alert else REGION_LINE,
            "line_px": ALERT_LINE_PX if alert else REGION_LINE_PX,
            "alert": alert,
            # The facility tooltip's fields, filled for a region.
            "name": REGION_NAMES.get(rid, rid),
            "fuel": describe_price(price),
            "region": rid,
            "mw_text": "no demand" if demand is None else f"demand {demand:,.0f} MW",
            "t_text": describe_interchange((interchange or {}).get(rid)),
            "time": "" if ts is None else format_nem_epoch(ts) + " NEM",
        }
        features.append({**f, "properties": props})
    return pdk.Layer(
        "GeoJsonLayer",
        id="regions",
        data={"type": "FeatureCollection", "features": features},
        stroked=True,
        filled=True,
        get_fill_color="properties.fill",
        get_line_color="properties.line",
        get_line_width="properties.line_px",
        line_width_units="'pixels'",
        line_width_min_pixels=REGION_LINE_PX,
        pickable=True,
    )


def build_alert_ring_layer(rows: list[dict[str, Any]], alerting: Collection[str]) -> pdk.Layer:
    """A red ring around the icon of each facility of ``rows`` in ``alerting`` (a firing
    alert, such as a trip)."""
    data = [
        {
            "facility_id": r["facility_id"],
            "position": r["position"],
            "radius": round(r["size"] / 2 + ALERT_RING_GAP_PX, 1),
        }
        for r in rows
        if r["facility_id"] in alerting
    ]
    return pdk.Layer(
        "ScatterplotLayer",
        id="alert_facilities",
        data=data,
        get_position="position",
        get_radius="radius",
        radius_units="'pixels'",
        stroked=True,
        filled=False,
        get_line_color=ALERT_LINE,
        line_width_units="'pixels'",
        get_line_width=2.5,
        pickable=False,
    )


def build_icon_layer(rows: list[dict[str, Any]]) -> pdk.Layer:
    """Facility icons from the local atlas, one per row, sized by ``row["size"]`` pixels."""
    return pdk.Layer(
        "IconLayer",
        id="facilities",
        data=rows,
        icon_atlas=f"'{atlas_data_url()}'",  # quoted: pydeck treats bare strings as expressions
        icon_mapping=build_icon_mapping(),
        get_icon="icon",
        get_position="position",
        get_size="size",
        size_units="'pixels'",
        size_scale=1,
        pickable=True,
        auto_highlight=True,
        highlight_color=[255, 255, 255, 90],
    )


def build_label_layer(rows: list[dict[str, Any]], max_labels: int = MAX_LABELS) -> pdk.Layer:
    """Names of the ``max_labels`` largest facilities, just below their icons.

    deck.gl's CollisionFilterExtension hides a label that would overlap a larger facility's,
    on the GPU at every frame, so zooming in reveals more names. In the collision pass each
    label is drawn as a padded box reaching up over its own icon, because a label stays
    visible only where its box covers its anchor point (the facility's position).
    """
    data = [
        {
            "position": r["position"],
            "name": r["name"],
            "offset": [0, r["size"] / 2 + LABEL_GAP_PX],
            "priority": max_labels - i,  # rows come largest first; deck.gl wants -1000..1000
        }
        for i, r in enumerate(rows[:max_labels])
    ]
    return pdk.Layer(
        "TextLayer",
        id="labels",
        data=data,
        get_position="position",
        get_text="name",
        get_size=11,
        get_color=[31, 41, 55, 230],
        get_pixel_offset="offset",
        get_text_anchor="'middle'",
        get_alignment_baseline="'top'",
        font_family='"Source Sans Pro, sans-serif"',
        outline_width=2,
        outline_color=[255, 255, 255, 220],
        font_settings={"sdf": True},
        pickable=False,
        extensions=[{"@@type": "CollisionFilterExtension"}],
        get_collision_priority="priority",
        # An all but transparent box per label, reaching up over its icon: the collision
        # pass draws it, so a label is hidden by any larger facility's box.
        background=True,
        get_background_color=[255, 255, 255, 1],
        background_padding=[4, LABEL_COLLISION_REACH_PX, 4, 2],
    )


def build_deck(
    rows: list[dict[str, Any]],
    regions_fc: Mapping[str, Any] | None,
    options: MapOptions = MapOptions(),
    selected_regions: Collection[str] | None = None,
    market: Mapping[str, Point] | None = None,
    interchange: Mapping[str, Point] | None = None,
    alerts: AlertMarks = NO_ALERTS,
    *,
    centre: float = pricescale.DEFAULT_CENTRE,
    placements: Mapping[str, labelplace.Placement] | None = None,
) -> pdk.Deck:
    """The whole map. ``map_provider=None`` (no basemap, no request) unless options.basemap.
    ``alerts``: the regions outlined and the facilities ringed for a firing alert;
    ``centre``: the price ($/MWh) the region colours are centred on; ``placements``: where
    the region labels go (:func:`place_labels`; None: the middle of each region)."""
    layers = []
    if options.polygons and regions_fc:
        layers.append(
            build_region_layer(
                regions_fc, selected_regions, market, interchange, alerts.regions, centre
            )
        )
        if interchange:
            layers += build_interchange_layers(
                regions_fc, interchange, placements or {}, label_style(options)
            )
    if options.markers:
        layers.append(build_icon_layer(rows))
        if alerts.facilities:
            layers.append(build_alert_ring_layer(rows, alerts.facilities))
    if options.labels:
        layers.append(build_label_layer(rows))
    for layer in layers:
        layer.data = neutralise_deck_strings(layer.data)
    # No basemap: map_provider=None with pydeck's default map_style (its "__MAP_STYLE__" sentinel).
    # Passing map_style=None instead makes Streamlit's frontend fetch a Carto basemap.
    basemap: dict[str, Any] = (
        {"map_provider": "carto", "map_style": "light"}
        if options.basemap
        else {"map_provider": None}
    )
    return CompactDeck(
        layers=layers,
        initial_view_state=pdk.ViewState(**(WALL_VIEW if options.wall else INITIAL_VIEW)),
        tooltip=TOOLTIP,  # type: ignore[arg-type]
        **basemap,
    )


def neutralise_deck_strings(value: Any) -> Any:
    """``value`` (a layer's rows: dicts, lists, strings, numbers) with a zero-width space
    before every string's, and every key's, leading ``@@`` (module doc); the rest unchanged.
    Never edits ``value``: containers are new, except lists of numbers, returned as they are."""
    if isinstance(value, str):
        return ZERO_WIDTH_SPACE + value if value.startswith(DECK_CODE_PREFIX) else value
    if isinstance(value, Mapping):
        return {neutralise_deck_strings(k): neutralise_deck_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (int, float)) for v in value):
            return value  # a position or a colour: nothing to read (the polygons are many)
        return [neutralise_deck_strings(v) for v in value]
    return value


def build_colour_legend_html(groups: Collection[str] = FUEL_GROUPS, px: int = 16) -> str:
    """A row of icon + label chips for the fuel groups, as escaped HTML."""
    chips = []
    for g in groups:
        label = html.escape(FUEL_LABELS.get(g, g))  # type: ignore[call-overload]
        chips.append(
            f'<span style="display:inline-flex;align-items:center;gap:4px;margin:0 10px 4px 0;font-size:0.82rem">'
            f'<img src="{icon_data_url(g, px)}" width="{px}" height="{px}" alt="{label}"/>{label}</span>'
        )
    return '<div class="nemlive-legend">' + "".join(chips) + "</div>"


def build_size_legend_html(size_by: SizeBy) -> str:
    """Circles drawn at the map's own sqrt scale for a few reference values, as HTML/SVG."""
    unit = html.escape(SIZE_UNITS[size_by])
    items = []
    for v in SIZE_LEGEND_VALUES[size_by]:
        d = icon_size_px(v, size_by)
        items.append(
            '<span style="display:inline-flex;flex-direction:column;align-items:center;'
            'margin-right:14px;font-size:0.78rem">'
            f'<span style="display:inline-block;width:{d:.0f}px;height:{d:.0f}px;border-radius:50%;'
            'background:rgba(120,144,156,0.25);border:1px solid #5a6e7d;margin-bottom:2px"></span>'
            f"{v:,.0f} {unit}</span>"
        )
    return (
        '<div class="nemlive-legend" style="display:flex;align-items:flex-end">'
        + "".join(items)
        + f'<span style="font-size:0.75rem;color:#6b7280">icon area ∝ {unit}</span></div>'
    )


def build_selected_facility(selection: Mapping[str, Any] | None) -> str | None:
    """The facility id picked by a click on the map, from ``st.pydeck_chart``'s selection state."""
    if not selection:
        return None
    objects = (selection.get("selection") or {}).get("objects") or {}
    picked = objects.get("facilities") or []
    if picked and isinstance(picked[0], Mapping):
        fid = picked[0].get("facility_id")
        return str(fid) if fid else None
    return None


__all__ = [
    "ICON_PX",
    "INITIAL_VIEW",
    "AlertMarks",
    "MapOptions",
    "build_alert_marks",
    "build_colour_legend_html",
    "build_deck",
    "build_facility_rows",
    "build_selected_facility",
    "build_size_legend_html",
    "describe_price",
    "icon_size_px",
    "place_labels",
    "simplify_regions",
]
