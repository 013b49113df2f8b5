"""The wall view (``?view=wall``) and the map's colours and labels in a real browser.

Two data sets, one dashboard server each, and one Chromium for the module:

* the test lookup (seven facilities, rectangular regions): the wall view at 1400x1000,
  1920x1080 and 3840x2160 and the full page's map, with crafted market messages (SA1 at $280,
  NSW1 at $40) and a firing alert sent through the real broker;
* the shipped NEM: the dashboard on its defaults (data/facilities.csv, data/regions.geojson)
  and the first intervals of the shipped consolidate.csv replayed by publisher.py, the last
  one's prices crafted (SA1 $280, QLD1 $65, TAS1 $55, NSW1 $40, VIC1 -$20), at 1920x1080
  and 3840x2160.

Every request that is not for the loopback is refused and counted. The shipped run's
screenshots are the docs': ``SAVE_WALL_SCREENSHOTS=docs`` writes them there
(docs/wall-1080p.png, docs/wall-4k.png), as small palette PNGs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from nemlive.common.columns import build_column
from nemlive.common.events import (
    REGIONS,
    build_alert_topic,
    encode_market_event,
)
from nemlive.dashboard import labelplace, mapview
from tests.conftest import ROOT
from tests.support_dashboard import (
    FIRST_TS,
    publish_events,
    publish_raw,
    read_csv_events,
    write_consolidate_csv,
)
from tests.support_state import alert_payload
from tests.test_dashboard_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LOCAL_HOSTS,
    TOPIC,
    _need_chromium,
    _publish,
    _sized_box,
    serve_dashboard,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.integration]

INTERVALS = 12
CRAFTED = {"NSW1": 40.0, "QLD1": 65.0, "SA1": 280.0, "TAS1": 55.0, "VIC1": 70.0}  # $/MWh
ALERT_TEXT = "sa-spike: SA1 $280.00/MWh"
TOY_SIZES = [(1400, 1000), (1920, 1080), (3840, 2160)]
# The shipped NEM: its first intervals, the last one's prices ($/MWh) crafted to differ.
SHIPPED_ROWS = 3
SHIPPED_PRICES = {"NSW1": 40.0, "QLD1": 65.0, "SA1": 280.0, "TAS1": 55.0, "VIC1": -20.0}
# (width, height, the screenshot's name in docs/)
SHIPPED_SIZES = [(1920, 1080, "wall-1080p.png"), (3840, 2160, "wall-4k.png")]
LARGE_ICON_PX = mapview.icon_size_px(labelplace.LARGE_MW, "power")
DECK = re.compile(rb'\{"layers":\[')  # how CompactDeck's JSON begins


@pytest.fixture(scope="module")
def chromium() -> Iterator:  # type: ignore[type-arg]
    """One headless Chromium for every test of the module."""
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watch:
    """What the pages of one test did: requests refused for leaving the machine, page and
    console errors, and the websocket frames of the page opened last."""

    off_machine: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)

    def route(self, r) -> None:  # type: ignore[no-untyped-def]
        host = urlsplit(r.request.url).hostname or ""
        if r.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            r.continue_()
        else:
            self.off_machine.append(r.request.url)
            r.abort()

    def open(self, browser, url: str, width: int = 1400, height: int = 1000):  # type: ignore[no-untyped-def]
        """A new page of ``width`` x ``height`` at ``url``, watched."""
        page = browser.new_page(viewport={"width": width, "height": height})
        page.route("**/*", self.route)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.frames.clear()
        page.on(
            "websocket",
            lambda ws: ws.on(
                "framereceived",
                lambda p: self.frames.append(p if isinstance(p, bytes) else p.encode()),
            ),
        )
        page.goto(url)
        return page

    def assert_clean(self) -> None:
        assert self.off_machine == [], f"requests left the machine: {self.off_machine}"
        assert self.errors == [], f"page errors: {self.errors}"


def _stream_with_crafted_prices(csv_path: Path) -> list[tuple[str, bytes]]:
    """The CSV's messages with its last interval's market messages crafted: the prices of
    CRAFTED (a row's market messages come last, one per region)."""
    events = read_csv_events(csv_path)
    assert all(topic.startswith("market/") for topic, _ in events[-len(REGIONS) :])
    ts = (FIRST_TS + timedelta(minutes=5 * (INTERVALS - 1))).isoformat(timespec="seconds")
    return events[: -len(REGIONS)] + [
        (f"market/{r}", encode_market_event(r, ts, CRAFTED[r], 1_500.0 + 100 * j))
        for j, r in enumerate(REGIONS)
    ]


def _shipped_slice(path: Path, rows: int, prices: dict[str, float]) -> Path:
    """The first ``rows`` intervals of the shipped consolidate.csv at ``path``, the last
    one's regional prices set to ``prices`` ($/MWh)."""
    with open(ROOT / "consolidate.csv", newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        body = [next(reader) for _ in range(rows)]
    for region, price in prices.items():
        body[-1][header.index(build_column("price", region))] = f"{price:.2f}"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *body])
    return path


def _decks(frames: list[bytes]) -> list[dict]:
    """The decks the server sent the page over its websocket, oldest first."""
    out = []
    for frame in frames:
        for m in DECK.finditer(frame):
            text = frame[m.start() :].decode("utf-8", errors="replace")
            try:
                out.append(json.JSONDecoder().raw_decode(text)[0])
            except json.JSONDecodeError:
                continue
    return out


def _projector(page, canvas, view: dict):  # type: ignore[no-untyped-def]
    """(lon, lat) -> page pixel on the deck's canvas, from its view and its box on the page
    (the box's width over the canvas's own CSS width: the wall's CSS zoom on 4K screens)."""
    box = _sized_box(canvas)
    css_width = canvas.evaluate("c => c.clientWidth")
    ratio = box["width"] / css_width
    cx, cy = labelplace.project(view["longitude"], view["latitude"], view["zoom"])

    def to_page(lon: float, lat: float) -> tuple[float, float]:
        x, y = labelplace.project(lon, lat, view["zoom"])
        return (
            box["x"] + box["width"] / 2 + (x - cx) * ratio,
            box["y"] + box["height"] / 2 + (y - cy) * ratio,
        )

    return to_page, ratio, box


def _text_width_px(page, text: str, size: float) -> float:  # type: ignore[no-untyped-def]
    """The width of ``text`` in the page's font for deck.gl's text layer (Monaco, monospace)."""
    return page.evaluate(
        """([text, size]) => {
            const ctx = document.createElement("canvas").getContext("2d");
            ctx.font = `600 ${size}px Monaco, monospace`;
            return ctx.measureText(text).width;
        }""",
        [text, size],
    )


def _label_overlaps(page, deck: dict, to_page, ratio: float) -> list[str]:  # type: ignore[no-untyped-def]
    """Region labels whose box, measured in the page, overlaps an icon above 250 MW."""
    layers = {layer["id"]: layer for layer in deck["layers"]}
    labels = layers["interchange"]
    size = labels["getSize"]
    pad_x, pad_y = labels.get("backgroundPadding", [0, 0])[:2]
    icons = [r for r in layers["facilities"]["data"] if r["size"] >= LARGE_ICON_PX]
    assert icons, "no large facility drawn: the check would be empty"
    bad = []
    for row in labels["data"]:
        x, y = to_page(*row["position"])
        w = (_text_width_px(page, row["text"], size) + 2 * pad_x) * ratio
        h = (size * 1.2 + 2 * pad_y) * ratio
        for icon in icons:
            ix, iy = to_page(*icon["position"])
            s = icon["size"] * ratio
            if labelplace.box_gap((x, y, w, h), (ix, iy, s, s)) <= 0:
                bad.append(f"{row['text']} over {icon['name']}")
    return bad


def _region_colours(shot, deck: dict, to_page, box: dict) -> dict[str, tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    """Region id -> the commonest colour on the canvas screenshot at a lattice of points on
    the region's land (its fill: icons, labels and outlines cover only some points)."""
    regions = next(layer for layer in deck["layers"] if layer["id"] == "regions")
    out = {}
    for feature in regions["data"]["features"]:
        seen: Counter[tuple[int, int, int]] = Counter()
        for ring in labelplace.outer_rings(feature["geometry"]):
            for lon, lat in labelplace.candidates(ring, grid=30)[1:]:
                x, y = to_page(lon, lat)
                px, py = int(x - box["x"]), int(y - box["y"])
                if (
                    0 <= px < shot.width
                    and 0 <= py < shot.height
                    and labelplace.inside(lon, lat, ring)
                ):
                    seen[shot.getpixel((px, py))[:3]] += 1
        if seen:
            out[feature["properties"]["region_id"]] = seen.most_common(1)[0][0]
    return out


def _check_wall(page, watch: Watch, size: tuple[int, int], alert: str | None) -> dict:  # type: ignore[no-untyped-def]
    """The wall view at ``size`` (width, height px): its parts, the map over at least 60%
    of the screen with the legend under it and on screen, and the map's checks
    (``_check_map``). Returns what was measured."""
    width, height = size
    _expect_wall_parts(page, alert)
    deck, to_page, ratio, box = _drawn_deck(page, watch.frames)
    assert deck["initialViewState"]["zoom"] == mapview.WALL_VIEW["zoom"]
    share = box["width"] * box["height"] / (width * height)
    assert share >= 0.6, f"the map covers {share:.0%} of {width}x{height}"
    assert box["y"] + box["height"] <= height + 1, "the map runs off the screen"
    legend = page.locator('[data-testid="nl-price-legend"]').bounding_box()
    assert legend is not None and legend["y"] >= box["y"] + box["height"] - 1
    assert legend["y"] + legend["height"] <= height + 1, "the legend is off screen"
    return {"map share": round(share, 3), "colours": _check_map(page, deck, to_page, ratio, box)}


def test_the_wall_view_at_three_sizes(mosquitto, chromium, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """On the test lookup, at 1400x1000, 1920x1080 and 3840x2160, the wall view's map covers
    at least 60% of the screen, the figures sit in one band with their changes, the firing
    alert and the freshness line show, no region label covers a facility above 250 MW
    (measured in the page), SA1 at $280 and NSW1 at $40 are filled in clearly different
    colours, and nothing fails or leaves the machine."""
    csv_path = write_consolidate_csv(tmp_path / "consolidate.csv", intervals=INTERVALS)
    watch = Watch()
    measured: dict[str, object] = {}
    with serve_dashboard(mosquitto.port, tmp_path) as (url, _):
        _wait_for_subscription(chromium, watch, url)
        publish_events(mosquitto.port, TOPIC, _stream_with_crafted_prices(csv_path))
        publish_raw(
            mosquitto.port,
            [(build_alert_topic(TOPIC, "sa-spike", "SA1"), alert_payload(value=280.0))],
        )
        for size in TOY_SIZES:
            page = watch.open(chromium, url + "?view=wall", *size)
            measured["{}x{} wall".format(*size)] = _check_wall(page, watch, size, ALERT_TEXT)
            page.close()
        # The full page's map, in the view it opens on: the same checks.
        page = watch.open(chromium, url, 1400, 1000)
        deck, to_page, ratio, box = _drawn_deck(page, watch.frames)
        assert deck["initialViewState"]["zoom"] == mapview.INITIAL_VIEW["zoom"]
        measured["1400x1000 full page"] = _check_map(page, deck, to_page, ratio, box)
        page.close()
    print(measured)
    watch.assert_clean()


def test_the_wall_view_of_the_shipped_nem(mosquitto, chromium, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """On the shipped lookups (259 facilities, the regions' real outlines) and the shipped
    consolidate.csv's first intervals replayed by publisher.py, at 1920x1080 and 3840x2160:
    the map covers at least 60% of the screen, no region label covers a facility icon above
    250 MW (the Latrobe Valley's, the Hunter's), SA1 at $280 and NSW1 at $40 are filled in
    clearly different colours, and nothing fails or leaves the machine. Its screenshots are
    the docs' (module doc)."""
    csv_path = _shipped_slice(tmp_path / "consolidate.csv", SHIPPED_ROWS, SHIPPED_PRICES)
    watch = Watch()
    measured: dict[str, object] = {}
    with serve_dashboard(mosquitto.port, tmp_path, shipped=True) as (url, _):
        _wait_for_subscription(chromium, watch, url)
        _publish(csv_path, mosquitto.port, tmp_path)
        for width, height, shot_name in SHIPPED_SIZES:
            page = watch.open(chromium, url + "?view=wall", width, height)
            measured[f"{width}x{height}"] = _check_wall(page, watch, (width, height), None)
            _save_screenshot(page, tmp_path / shot_name)
            page.close()
    print(measured)
    watch.assert_clean()


def _wait_for_subscription(browser, watch: Watch, url: str) -> None:  # type: ignore[no-untyped-def]
    """Open the wall view until it waits for data: the server subscribes once a page is
    open, and only then may the stream be sent."""
    from playwright.sync_api import expect

    first = watch.open(browser, url + "?view=wall")
    expect(first.locator('[data-testid="nl-wall-line"]')).to_contain_text(
        "Waiting for data", timeout=30_000
    )
    first.close()


def _expect_wall_parts(page, alert: str | None) -> None:  # type: ignore[no-untyped-def]
    """The band of seven figures with the price's change, the alert strip with ``alert``
    (None: no strip), the freshness line and the legend; no sidebar and no chart."""
    from playwright.sync_api import expect

    band = page.locator(".nl-cols-7")
    expect(band.locator('[data-testid="nl-card"]')).to_have_count(7, timeout=30_000)
    price = band.locator('[data-testid="nl-card"]', has_text="Price")
    expect(price.locator('[data-testid="nl-card-change"]')).to_have_text(
        re.compile(r"^[▲▼] \$[\d,.]+/MWh$"), timeout=30_000
    )
    strip = page.locator('[data-testid="nl-alert-strip"]')
    if alert is None:
        expect(strip).to_have_count(0)
    else:
        expect(strip).to_contain_text(alert, timeout=30_000)
    expect(page.locator('[data-testid="nl-wall-line"]')).to_be_visible()
    expect(page.locator('[data-testid="stSidebar"]')).to_be_hidden()
    expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(0)
    expect(page.locator('[data-testid="nl-price-legend"]')).to_be_visible(timeout=30_000)


def _drawn_deck(page, frames: list):  # type: ignore[no-untyped-def]
    """The newest deck with the crafted prices the page received, once drawn, and the
    projection of its canvas (``_projector``)."""
    from playwright.sync_api import expect

    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    expect(canvas).to_be_visible(timeout=30_000)
    deadline = time.monotonic() + 30
    while True:
        decks = [d for d in _decks(frames) if _has_prices(d)]
        if decks or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert decks, "no deck with the crafted prices reached the page"
    canvas.scroll_into_view_if_needed()
    time.sleep(1.5)  # the deck draws the regions it was just sent
    return (decks[-1], *_projector(page, canvas, decks[-1]["initialViewState"]))


def _check_map(page, deck: dict, to_page, ratio: float, box: dict) -> dict:  # type: ignore[no-untyped-def]
    """No region label over a large icon; SA1 ($280) and NSW1 ($40) clearly apart, SA1 the
    redder. Returns every region's colour."""
    from PIL import Image

    assert _label_overlaps(page, deck, to_page, ratio) == []
    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    shot = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
    colours = _region_colours(shot, deck, to_page, box)
    sa, nsw = colours["SA1"], colours["NSW1"]
    assert sum((a - b) ** 2 for a, b in zip(sa, nsw, strict=True)) > 60**2, colours
    assert sa[0] - sa[2] > nsw[0] - nsw[2], colours
    return colours


def _has_prices(deck: dict) -> bool:
    """Whether a deck's regions carry the crafted prices (the last interval's)."""
    for layer in deck.get("layers", []):
        if layer.get("id") == "regions":
            tips = [f["properties"]["fuel"] for f in layer["data"]["features"]]
            return "$280.00/MWh" in tips and "$40.00/MWh" in tips
    return False


def _save_screenshot(page, target: Path) -> None:  # type: ignore[no-untyped-def]
    """The page's screenshot as a palette PNG (small), and a copy under
    $SAVE_WALL_SCREENSHOTS when set."""
    from PIL import Image

    raw = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    small = raw.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    small.save(target, optimize=True)
    folder = os.environ.get("SAVE_WALL_SCREENSHOTS")
    if folder:
        small.save(Path(folder) / target.name, optimize=True)
