"""One forged message against a day of history, end to end on real parts.

A day is recorded by a real recorder.py from a real mosquitto into SQLite and into
PostgreSQL. Then a well-formed event stamped 2199-12-31 23:55 is published, live and retained,
and the recorder restarted, so that retention runs at its start. Every real value must still
be there and the forged one must not. Then a row stamped 2199 is written into the store behind
the recorder's back (a store from before the time guard), and the dashboard opened on it in
Chromium, with the forged retained event still on the broker: the page opens full at the
day's last interval, and its History menu lists the real day and nothing after it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from nemlive.store import open_store
from tests.support_dashboard import (
    expected_figure_texts,
    publish_events,
    read_csv_events,
    write_consolidate_csv,
    write_facilities_csv,
)
from tests.support_recorder import (
    RecorderProcess,
    count_store,
    expected_readings,
    read_store,
    wait_until,
)
from tests.test_dashboard_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TOPIC,
    VIEWPORT,
    _expect_figures,
    _option_texts,
    serve_dashboard,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.integration]

FORGED_TS = "2199-12-31T23:55:00+10:00"
FORGED_EPOCH = 7_258_082_100  # FORGED_TS in epoch seconds


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/history.db"
    return request.getfixturevalue("postgres").url()


def _forged_events() -> list[tuple[str, bytes]]:
    market = {"region_id": "SA1", "timestamp": FORGED_TS, "price_dmwh": 1.0, "demand_mw": 1.0}
    facility = {"facility_id": "TCOAL1", "timestamp": FORGED_TS, "power_mw": 1.0, "co2_tonnes": 1.0}
    return [
        ("market/SA1", json.dumps(market).encode()),
        ("facility/TCOAL1", json.dumps(facility).encode()),
    ]


def _recorder(url: str, port: int, log: Path, facilities: Path) -> RecorderProcess:
    args = ["--store", url, "--host", "127.0.0.1", "--port", str(port), "--topic", TOPIC]
    args += ["--client-id", "forged-future-test", "--progress-every", "0"]
    env = {"NEMLIVE_FACILITIES": str(facilities)}
    return RecorderProcess(args, log, env).start()


def test_a_forged_far_future_event_costs_no_recorded_value_and_hides_nothing(
    mosquitto,  # type: ignore[no-untyped-def]
    store_url: str,
    tmp_path: Path,
) -> None:
    assert int(datetime.fromisoformat(FORGED_TS).timestamp()) == FORGED_EPOCH
    facilities = write_facilities_csv(tmp_path / "facilities.csv")
    csv_path = write_consolidate_csv(tmp_path / "day.csv", intervals=288)
    day = read_csv_events(csv_path)
    want = expected_readings([(f"{TOPIC}/{s}", json.loads(p)) for s, p in day])

    recorder = _recorder(store_url, mosquitto.port, tmp_path / "first.log", facilities)
    try:
        recorder.wait_for_line("connected to")
        publish_events(mosquitto.port, TOPIC, day, retain=False)
        assert wait_until(lambda: count_store(store_url) == len(want), timeout=60), (
            count_store(store_url),
            len(want),
        )
        publish_events(mosquitto.port, TOPIC, _forged_events(), retain=False)
        publish_events(mosquitto.port, TOPIC, _forged_events(), retain=True)
        assert recorder.terminate() == 0
    finally:
        recorder.stop_quietly()
    assert "future 4" in recorder.output(), recorder.output()

    # Retention runs when the recorder starts: every real value must survive it.
    recorder = _recorder(store_url, mosquitto.port, tmp_path / "second.log", facilities)
    try:
        recorder.wait_for_line("connected to")
        assert recorder.terminate() == 0
    finally:
        recorder.stop_quietly()
    assert read_store(store_url) == want

    # A store written before the guard may hold a forged row: the page must not follow it.
    with open_store(store_url) as store:
        store.write([("TCOAL1", FORGED_EPOCH, 1.0, 1.0)], [("SA1", FORGED_EPOCH, 1.0, 1.0)])
    _expect_a_full_page_with_the_real_day(mosquitto.port, tmp_path, store_url, csv_path)


def _expect_a_full_page_with_the_real_day(
    port: int, tmp_path: Path, store_url: str, csv_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with (
        serve_dashboard(port, tmp_path, NEMLIVE_STORE=store_url) as (url, _),
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            _expect_figures(page, expected_figure_texts(csv_path))  # the day's last interval
            expect(page.get_by_text("No data in the window yet.")).to_have_count(0)
            sidebar = page.locator('[data-testid="stSidebar"]')
            labels = _option_texts(page, sidebar, "Range")
            assert labels[0].startswith("Live") and labels[1].startswith("Whole span: 1 day")
            assert labels[2:] == ["Thu 2025-10-16", "Wed 2025-10-15"], labels
            expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        finally:
            browser.close()
    assert errors == [], errors
