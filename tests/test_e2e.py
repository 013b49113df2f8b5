"""The whole pipeline as real processes in one test (issue 6).

extractor.py (against the OE simulator, 1 day) -> consolidate.csv + facilities.csv ->
publisher.py -> a real mosquitto -> ``streamlit run dashboard.py`` -> headless Chromium.

Checks: the page's figures for the last timestamp equal those computed from the CSV, the map's
deck.gl canvas draws every facility inside its view, no request leaves the machine (browser and
dashboard server), and a SIGKILLed publisher shows as offline (its last will) within seconds.
``SAVE_SCREENSHOT=path`` also writes a screenshot of the live page there (docs/screenshot.png).
"""

from __future__ import annotations

import io
import math
import os
import shutil
import signal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import free_port
from tests.support_e2e import (
    VIEWPORT,
    SocketWatch,
    assert_clean_exit,
    expected_figure_texts,
    extract_from_simulator,
    last_row,
    last_time_text,
    open_browser,
    read_facility_rows,
    start_dashboard,
    start_publisher,
)
from tests.test_dashboard_browser import _hover_until, _need_chromium, _screen_xy, _sized_box

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.integration]

TOPIC = "nem/e2e"


def _isolated_facility(rows: list[tuple], box: dict, latest_mw: dict[str, float]) -> tuple:
    """The facility with a sizeable output whose icon is farthest from any other icon."""
    xy = {r[0]: _screen_xy(r[4], r[3], box) for r in rows}

    def gap(fid: str) -> float:
        return min(math.dist(xy[fid], xy[o]) for o in xy if o != fid)

    candidates = [r for r in rows if latest_mw.get(r[0], 0.0) >= 50]
    return max(candidates, key=lambda r: gap(r[0]))


def test_extract_publish_dashboard_in_a_browser(mosquitto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _need_chromium()
    # 1. extractor.py against the simulator, a 1-day window of the simulated NEM catalogue.
    csv_path, fac_path = extract_from_simulator(
        tmp_path / "data", "2025-10-01", "2025-10-02", dataset="nem"
    )
    facilities = read_facility_rows(fac_path)
    assert len(facilities) >= 120
    expected = expected_figure_texts(csv_path, fac_path)
    at = last_time_text(csv_path)
    last = last_row(csv_path)
    latest_mw = {r[0]: float(last[f"power_{r[0]}"] or 0) for r in facilities}

    # 2. the dashboard, subscribed before anything is published.
    dash_port = free_port()
    dashboard = start_dashboard(
        tmp_path, dash_port, mqtt_port=mosquitto.port, topic=TOPIC, facilities=fac_path
    )
    publisher = None
    try:
        with SocketWatch() as sockets, open_browser(f"http://127.0.0.1:{dash_port}/") as b:
            sockets.watch(dashboard.pid)
            b.expect_status("connected")

            # 3. publisher.py at full speed; it then idles in a cooldown, still online.
            publisher = start_publisher(
                tmp_path, csv_path, mosquitto.port, topic=TOPIC, embedded=False
            )
            sockets.watch(publisher.pid)
            publisher.wait_for_log("pass 1 done")
            b.expect_figures(expected, at)
            expect(b.sidebar).to_contain_text(f"Latest data: {at} NEM")
            expect(b.sidebar).to_contain_text("Publisher: cooldown")

            # The map: every facility drawn, inside the view, the canvas not blank.
            expect(b.main).to_contain_text(f"{len(facilities)} facilities drawn")
            canvas = b.page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
            expect(canvas).to_be_visible()
            box = _sized_box(canvas)
            for fid, _name, _region, lat, lon, *_ in facilities:
                x, y = _screen_xy(lon, lat, box)
                assert box["x"] < x < box["x"] + box["width"], fid
                assert box["y"] < y < box["y"] + box["height"], fid
            from PIL import Image

            shot = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
            assert len(shot.getcolors(maxcolors=1 << 20) or []) > 50, "the map canvas is blank"
            # Hover one facility: deck.gl picks its icon and shows its tooltip.
            fac = _isolated_facility(facilities, box, latest_mw)
            # (the map draws on its own timer: hover until its icons are in)
            tooltip = _hover_until(b.page, canvas, fac[4], fac[3], fac[1])
            expect(tooltip).to_contain_text(fac[1])
            b.page.mouse.move(0, 0)

            if os.environ.get("SAVE_SCREENSHOT"):
                # The README's picture shows the facility names too.
                b.sidebar.get_by_text("Labels", exact=True).click()
                expect(b.page.get_by_text("names of the largest where they fit")).to_be_visible()
                # Streamlit scrolls inside its own container: a tall viewport shows it all.
                b.page.set_viewport_size({"width": VIEWPORT["width"], "height": 2400})
                expect(canvas).to_be_visible()
                b.page.wait_for_timeout(2000)  # let the charts finish drawing
                target = tmp_path / "screenshot.png"
                b.page.screenshot(path=str(target))
                shutil.copy(target, os.environ["SAVE_SCREENSHOT"])
                b.page.set_viewport_size(VIEWPORT)

            # SIGKILL: no goodbye from the publisher, so the broker sends its last will.
            assert publisher.stop(signal.SIGKILL) == -signal.SIGKILL
            expect(b.sidebar).to_contain_text("Publisher: offline", timeout=15_000)
            expect(b.sidebar.get_by_text("connected", exact=True)).to_be_visible()

        # Sampled every 50 ms for the whole run, the servers' own sockets included.
        assert sockets.samples > 20 and sockets.seen == set(), f"went off-machine: {sockets.seen}"
        b.assert_stayed_local()
        assert b.errors == [], f"console errors: {b.errors}"
    finally:
        if publisher is not None:
            publisher.stop(signal.SIGKILL)
        assert_clean_exit(dashboard)
