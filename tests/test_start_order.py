"""The seed's three-terminal flow works in any order of start, on the embedded broker (issue 6).

    python extractor.py
    streamlit run dashboard.py
    python publisher.py

Each test uses a fresh ephemeral port for the broker (never 1883): the publisher starts its
embedded amqtt broker there because nothing listens. A dashboard started first says
"waiting for broker" and connects once the publisher has started the broker.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import free_port, wait_for_port
from tests.support_e2e import (
    assert_clean_exit,
    expected_figure_texts,
    extract_from_simulator,
    last_time_text,
    open_browser,
    start_dashboard,
    start_publisher,
)
from tests.test_dashboard_browser import _need_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.integration]

TOPIC = "nem/order"
# A 2-hour window: 24 rows are enough here (the 1-day run is test_e2e's).
WINDOW = ("2025-10-01T12:00", "2025-10-01T14:00")
EMBEDDED_LOG = "started an embedded amqtt broker"
WAITING = "down — waiting for broker"  # the dashboard's status wording (dashboard.py)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(consolidate.csv, facilities.csv) of the small simulated catalogue, extracted once."""
    _need_chromium()
    return extract_from_simulator(tmp_path_factory.mktemp("extracted"), *WINDOW)


def test_dashboard_first_then_extractor_then_publisher(
    extracted: tuple[Path, Path], tmp_path: Path
) -> None:
    """Dashboard with nothing on the port, then a fresh extraction, then the publisher."""
    _, facilities = extracted
    broker_port, dash_port = free_port(), free_port()
    dashboard = start_dashboard(
        tmp_path, dash_port, mqtt_port=broker_port, topic=TOPIC, facilities=facilities
    )
    publisher = None
    try:
        with open_browser(f"http://127.0.0.1:{dash_port}/") as b:
            b.expect_status(WAITING)
            expect(b.main).to_contain_text("Waiting for data")

            # The extractor only writes files: a CSV written now is what the publisher sends.
            csv_path, fac_again = extract_from_simulator(tmp_path / "later", *WINDOW)
            assert fac_again.read_bytes() == facilities.read_bytes()
            publisher = start_publisher(tmp_path, csv_path, broker_port, topic=TOPIC)
            publisher.wait_for_log(EMBEDDED_LOG)

            b.expect_status("connected")
            b.expect_figures(expected_figure_texts(csv_path, facilities), last_time_text(csv_path))
            expect(b.sidebar).to_contain_text("Publisher: cooldown")
        b.assert_stayed_local()
        assert_clean_exit(publisher)
    finally:
        if publisher is not None:
            publisher.stop()
        assert_clean_exit(dashboard)


def test_publisher_first_then_dashboard(extracted: tuple[Path, Path], tmp_path: Path) -> None:
    """Publisher (starting the embedded broker) first; a dashboard started later gets the data."""
    csv_path, facilities = extracted
    broker_port, dash_port = free_port(), free_port()
    publisher = start_publisher(tmp_path, csv_path, broker_port, topic=TOPIC)
    dashboard = None
    try:
        publisher.wait_for_log(EMBEDDED_LOG)
        wait_for_port(broker_port, timeout=30)
        publisher.wait_for_log("pass 1 done")
        dashboard = start_dashboard(
            tmp_path, dash_port, mqtt_port=broker_port, topic=TOPIC, facilities=facilities
        )
        with open_browser(f"http://127.0.0.1:{dash_port}/") as b:
            b.expect_status("connected")
            # Retained messages: the latest value of every facility and region.
            b.expect_figures(expected_figure_texts(csv_path, facilities), last_time_text(csv_path))
            expect(b.sidebar).to_contain_text("Publisher: cooldown")
        b.assert_stayed_local()
    finally:
        if dashboard is not None:
            assert_clean_exit(dashboard)
        assert_clean_exit(publisher)
