"""A forced price spike, end to end in a real browser: a stream on a private mosquitto with
South Australia's price far above alerts.example.toml's threshold, the alerter (alerts.py) as a
subprocess, and dashboard.py in Chromium: the alert shows as a toast, in the Alerts part, and
as SA1's red outline in the deck the page receives.

Drives Debian's /usr/bin/chromium through Playwright (never downloads a browser).
"""

from __future__ import annotations

import csv
import re
import signal
from pathlib import Path

import pytest

from nemlive.common.events import REGIONS
from tests.conftest import ROOT, Mosquitto, free_port
from tests.support_alerts import start_alerter
from tests.support_dashboard import (
    publish_events,
    read_csv_events,
    write_consolidate_csv,
    write_facilities_csv,
    write_regions_geojson,
)
from tests.support_e2e import PAGE_TIMEOUT_MS, assert_clean_exit, open_browser, start_dashboard
from tests.support_mqtt import Collector, StderrLines
from tests.test_dashboard_browser import _eventually, _grid_rows, _need_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.integration]

TOPIC = "nem/alerts-browser"
SPIKE = 15_000.0  # $/MWh: price-spike's threshold is 300
SPIKED = 4  # the last intervals of the stream at SPIKE (the rule wants two running)


def _spiked_csv(path: Path) -> Path:
    """The tests' small stream (prices $20-150) with SA1 at SPIKE in its last intervals."""
    write_consolidate_csv(path, intervals=12)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    column = rows[0].index("price_SA1")
    for row in rows[-SPIKED:]:
        row[column] = str(SPIKE)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _sa1_outlined(frames: list[bytes]) -> bool:
    """Whether a deck the page received draws SA1 with the alert's outline (the region
    layer's properties: ``"region_id":"SA1"`` ... ``"alert":true``)."""
    return any(
        re.search(rb'"region_id":"SA1"[^{}]*?"alert":true', frame) is not None for frame in frames
    )


def test_a_price_spike_is_toasted_listed_and_outlined_on_the_map(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _need_chromium()
    stream = _spiked_csv(tmp_path / "consolidate.csv")
    facilities = write_facilities_csv(tmp_path / "facilities.csv")
    alerter = StderrLines(
        start_alerter(
            [
                *("--rules", str(ROOT / "alerts.example.toml")),
                *("--state", str(tmp_path / "alerts.state.json")),
                *("--port", str(mosquitto.port), "--topic", TOPIC),
                *("--facilities", str(facilities), "--client-id", "browser-alerts"),
            ]
        )
    )
    port = free_port()
    dashboard = start_dashboard(
        tmp_path,
        port,
        mqtt_port=mosquitto.port,
        topic=TOPIC,
        facilities=facilities,
        regions=write_regions_geojson(tmp_path / "regions.geojson"),
        NEMLIVE_VISUALS_S="2",
    )
    try:
        alerter.wait_for(r"evaluating \d+ rules")
        with (
            Collector(mosquitto.port, f"{TOPIC}/alert") as bus,
            open_browser(f"http://127.0.0.1:{port}/") as b,
        ):
            frames: list[bytes] = []  # what the server sends the page over its websocket
            b.page.on(
                "websocket",
                lambda ws: ws.on(
                    "framereceived",
                    lambda p: frames.append(p if isinstance(p, bytes) else p.encode()),
                ),
            )
            b.page.reload()  # a new websocket, now watched
            b.expect_status("connected")

            publish_events(mosquitto.port, TOPIC, read_csv_events(stream), retain=False)
            spike_topic = f"{TOPIC}/alert/price-spike/SA1"
            assert bus.wait_until(
                lambda c: any(m.topic == spike_topic for m in c.snapshot()), timeout=30
            ), alerter.text()

            toast = b.page.locator('[data-testid="stToast"]', has_text="price-spike")
            expect(toast).to_contain_text("SA1 fired at", timeout=PAGE_TIMEOUT_MS)
            part = b.main.locator('[data-testid="stExpander"]', has_text="Alerts:")
            expect(part).to_contain_text(re.compile(r"Alerts: \d+ firing"), timeout=20_000)

            def listed() -> None:
                rows = _grid_rows(part.locator('[data-testid="stDataFrame"]').first)
                spike = [r for r in rows if r["rule"] == "price-spike"]
                assert [(r["subject"], r["state"]) for r in spike] == [("SA1", "firing")], rows
                assert float(spike[0]["value"]) == SPIKE and float(spike[0]["threshold"]) == 300

            _eventually(listed)
            _eventually(lambda: _assert(_sa1_outlined(frames), "no deck with SA1 outlined"))
            others = [r for r in REGIONS if r != "SA1"]
            assert not any(
                re.search(rb'"region_id":"%s"[^{}]*?"alert":true' % r.encode(), f)
                for r in others
                for f in frames
            ), "a region without an alert was outlined"
            assert b.errors == [], b.errors
            b.assert_stayed_local()
    finally:
        alerter.proc.send_signal(signal.SIGTERM)
        log = alerter.finish()
        assert_clean_exit(dashboard)
    assert alerter.proc.returncode == 0, log


def _assert(condition: bool, message: str) -> None:
    assert condition, message
