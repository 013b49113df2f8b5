"""The wall view (``?view=wall``) and the map's colours and labels in a real browser.

One dashboard server and one Chromium for every size (1400x1000, 1920x1080, 3840x2160): the
prices come through the real broker as crafted market messages (SA1 at $280, NSW1 at $40),
and every request that is not for the loopback is refused and counted.
``SAVE_WALL_SCREENSHOTS=docs`` also writes the 1080p and 4K screenshots there
(docs/wall-1080p.png, docs/wall-4k.png), as small palette PNGs.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from nemlive.common.events import (
    REGIONS,
    build_alert_topic,
    encode_market_event,
)
from nemlive.dashboard import labelplace, mapview
from tests.support_dashboard import (
    FIRST_TS,
    REGION_BOXES,
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
    _sized_box,
    serve_dashboard,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.integration]

INTERVALS = 12
CRAFTED = {"NSW1": 40.0, "QLD1": 65.0, "SA1": 280.0, "TAS1": 55.0, "VIC1": 70.0}  # $/MWh
# (width, height, the screenshot's name): the wall view at each size
SIZES = [(1400, 1000, None), (1920, 1080, "wall-1080p.png"), (3840, 2160, "wall-4k.png")]
LARGE_ICON_PX = mapview.icon_size_px(labelplace.LARGE_MW, "power")
DECK = re.compile(rb'\{"layers":\[')  # how CompactDeck's JSON begins


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


def _region_colour(shot, region: str, to_page, box: dict) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """The commonest colour inside ``region``'s box on the canvas screenshot (its fill)."""
    x0, y0, x1, y1 = REGION_BOXES[region]
    (px0, py0), (px1, py1) = to_page(x0, y1), to_page(x1, y0)
    left, top = max(px0 - box["x"], 0), max(py0 - box["y"], 0)
    right, bottom = min(px1 - box["x"], shot.width), min(py1 - box["y"], shot.height)
    crop = shot.crop((int(left) + 4, int(top) + 4, int(right) - 4, int(bottom) - 4))
    colours = crop.getcolors(maxcolors=1 << 22) or []
    return max(colours)[1][:3]


def test_the_wall_view_at_three_sizes(mosquitto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """At 1400x1000, 1920x1080 and 3840x2160 the wall view's map covers at least 60% of the
    screen, the figures sit in one band with their changes, the firing alert and the
    freshness line show, no region label covers a facility above 250 MW (measured in the
    page), SA1 at $280 and NSW1 at $40 are filled in clearly different colours, and nothing
    fails or leaves the machine."""
    from playwright.sync_api import expect, sync_playwright

    csv_path = write_consolidate_csv(tmp_path / "consolidate.csv", intervals=INTERVALS)
    off_machine: list[str] = []
    errors: list[str] = []
    frames: list[bytes] = []
    measured: dict[str, object] = {}

    def route(r) -> None:  # type: ignore[no-untyped-def]
        host = urlsplit(r.request.url).hostname or ""
        if r.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            r.continue_()
        else:
            off_machine.append(r.request.url)
            r.abort()

    with serve_dashboard(mosquitto.port, tmp_path) as (url, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # The server listens once a page is open: the first page waits for the stream.
            first = browser.new_page()
            first.route("**/*", route)
            first.on("pageerror", lambda e: errors.append(str(e)))
            first.goto(url + "?view=wall")
            expect(first.locator('[data-testid="nl-wall-line"]')).to_contain_text(
                "Waiting for data", timeout=30_000
            )
            publish_events(mosquitto.port, TOPIC, _stream_with_crafted_prices(csv_path))
            publish_raw(
                mosquitto.port,
                [(build_alert_topic(TOPIC, "sa-spike", "SA1"), alert_payload(value=280.0))],
            )
            first.close()
            for width, height, shot_name in SIZES:
                page = _open(browser, route, errors, frames, url + "?view=wall", width, height)
                _expect_wall_parts(page)
                deck, to_page, ratio, box = _drawn_deck(page, frames)
                assert deck["initialViewState"]["zoom"] == mapview.WALL_VIEW["zoom"]
                share = box["width"] * box["height"] / (width * height)
                measured[f"{width}x{height} map share"] = round(share, 3)
                assert share >= 0.6, f"the map covers {share:.0%} of {width}x{height}"
                assert box["y"] + box["height"] <= height + 1, "the map runs off the screen"
                legend = page.locator('[data-testid="nl-price-legend"]').bounding_box()
                assert legend is not None and legend["y"] >= box["y"] + box["height"] - 1
                assert legend["y"] + legend["height"] <= height + 1, "the legend is off screen"
                measured[f"{width}x{height} wall"] = _check_map(page, deck, to_page, ratio, box)
                if shot_name:
                    _save_screenshot(page, tmp_path / shot_name)
                page.close()
            # The full page's map, in the view it opens on: the same checks.
            page = _open(browser, route, errors, frames, url, 1400, 1000)
            deck, to_page, ratio, box = _drawn_deck(page, frames)
            assert deck["initialViewState"]["zoom"] == mapview.INITIAL_VIEW["zoom"]
            measured["1400x1000 full page"] = _check_map(page, deck, to_page, ratio, box)
            page.close()
        finally:
            browser.close()
    print(measured)
    assert off_machine == [], f"requests left the machine: {off_machine}"
    assert errors == [], f"page errors: {errors}"


def _open(browser, route, errors: list, frames: list, url: str, width: int, height: int):  # type: ignore[no-untyped-def]
    """A new page of ``width`` x ``height`` at ``url``, its requests routed through
    ``route``, its errors and websocket frames collected."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    frames.clear()
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived", lambda p: frames.append(p if isinstance(p, bytes) else p.encode())
        ),
    )
    page.goto(url)
    return page


def _expect_wall_parts(page) -> None:  # type: ignore[no-untyped-def]
    """The band of seven figures with the price's change, the alert strip, the freshness
    line and the legend; no sidebar and no chart."""
    from playwright.sync_api import expect

    band = page.locator(".nl-cols-7")
    expect(band.locator('[data-testid="nl-card"]')).to_have_count(7, timeout=30_000)
    price = band.locator('[data-testid="nl-card"]', has_text="Price")
    expect(price.locator('[data-testid="nl-card-change"]')).to_have_text(
        re.compile(r"^[▲▼] \$[\d,.]+/MWh$"), timeout=30_000
    )
    expect(page.locator('[data-testid="nl-alert-strip"]')).to_contain_text(
        "sa-spike: SA1 $280.00/MWh", timeout=30_000
    )
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


def _check_map(page, deck: dict, to_page, ratio: float, box: dict) -> tuple:  # type: ignore[no-untyped-def]
    """No region label over a large icon; SA1 ($280) and NSW1 ($40) clearly apart, SA1 the
    redder. Returns the two colours."""
    from PIL import Image

    assert _label_overlaps(page, deck, to_page, ratio) == []
    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    shot = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
    sa = _region_colour(shot, "SA1", to_page, box)
    nsw = _region_colour(shot, "NSW1", to_page, box)
    assert math.dist(sa, nsw) > 60, (sa, nsw)
    assert sa[0] - sa[2] > nsw[0] - nsw[2], (sa, nsw)
    return sa, nsw


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
