"""Live mode in a real browser: the OE simulator on a clock 60 times faster than ours (one
interval settles every 5 s), ``extractor.py --follow``, ``publisher.py --follow`` on a real
mosquitto and the dashboard in headless Chromium. The page shows the freshness line and the
"Simulated data" label, and its prices time, figures time and figures move with the clock."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from nemlive.common.nemtime import NEM_TZ
from tests.conftest import free_port
from tests.support_e2e import PAGE_TIMEOUT_MS, Browser, open_browser, start_dashboard
from tests.support_follow import LiveSim, extractor, publisher
from tests.test_dashboard_browser import _need_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.integration]

TOPIC = "live/browser"
INTERVAL_WAIT_MS = 40_000  # several simulated intervals (5 s each) on a loaded 2-core machine
FRESHNESS = re.compile(r"Live: prices to (\d\d:\d\d), facilities to (\d\d:\d\d) NEM")
FIGURES_AT = re.compile(r"Figures for (\d{4}-\d\d-\d\d \d\d:\d\d) NEM")


def caption(page: Browser) -> str:
    """The text of the caption over the figures (the paragraph that names their interval)."""
    return page.main.locator("p", has_text="Figures for").first.inner_text()


def read_caption(page: Browser) -> tuple[str, str]:
    """(the prices time ``HH:MM``, the figures' interval ``YYYY-MM-DD HH:MM``)."""
    text = caption(page)
    prices, figures = FRESHNESS.search(text), FIGURES_AT.search(text)
    assert prices and figures, text
    return prices.group(1), figures.group(1)


def card_texts(page: Browser) -> dict[str, str]:
    cards = page.main.locator('[data-testid="nl-card"]')
    return {
        cards.nth(i).locator('[data-testid="nl-card-label"]').inner_text(): cards.nth(i)
        .locator('[data-testid="nl-card-value"]')
        .inner_text()
        for i in range(cards.count())
    }


def minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def advanced(before: str, after: str) -> bool:
    """``after`` is at least one 5-minute interval past ``before`` (across midnight too)."""
    return (minutes(after) - minutes(before)) % 1440 >= 5


@pytest.mark.timeout(150)
def test_the_live_page_shows_its_freshness_and_figures_that_move_with_the_clock(
    tmp_path: Path, mosquitto
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    _need_chromium()
    port = free_port()
    programs = []
    with LiveSim() as sim:
        try:
            ext = extractor(tmp_path, sim).start()
            programs.append(ext)
            # The dashboard reads the facility table at start: the first poll writes it.
            assert ext.wait_for(lambda: (tmp_path / "facilities.csv").is_file())
            programs.append(publisher(tmp_path, mosquitto.port, TOPIC).start())
            dash = start_dashboard(
                tmp_path,
                port,
                mqtt_port=mosquitto.port,
                topic=TOPIC,
                facilities=tmp_path / "facilities.csv",
                NEMLIVE_REFRESH_S="1",
            )
            programs.append(dash)
            with open_browser(f"http://127.0.0.1:{port}/") as page:
                main = page.main
                expect(main).to_contain_text(FRESHNESS, timeout=PAGE_TIMEOUT_MS)
                expect(main).to_contain_text("Simulated data", timeout=PAGE_TIMEOUT_MS)
                prices0, figures0 = read_caption(page)
                cards0 = card_texts(page)
                assert cards0 and any(v not in ("", "–") for v in cards0.values()), cards0

                # Wait (polling) until the prices time has moved by an interval or more,
                # and the figures' interval with it.
                page.page.wait_for_function(
                    """([prices0, figures0]) => {
                      const p = [...document.querySelectorAll(
                        '[data-testid="stMainBlockContainer"] p')]
                        .find(e => e.innerText.includes('Figures for'));
                      if (!p) return false;
                      const m = p.innerText.match(/prices to (\\d\\d):(\\d\\d)/);
                      const f = p.innerText.match(/Figures for (\\S+ \\d\\d:\\d\\d) NEM/);
                      if (!m || !f) return false;
                      const [h0, m0] = prices0.split(':').map(Number);
                      const moved = ((+m[1] * 60 + +m[2]) - (h0 * 60 + m0) + 1440) % 1440;
                      return moved >= 5 && f[1] !== figures0;
                    }""",
                    arg=[prices0, figures0],
                    timeout=INTERVAL_WAIT_MS,
                )
                prices1, figures1 = read_caption(page)
                assert advanced(prices0, prices1), (prices0, prices1)
                assert figures1 > figures0, (figures0, figures1)
                expect(main).to_contain_text("Simulated data")
                # The caption and the cards are two elements of one refresh: the cards may
                # arrive a moment after the caption.
                cards1 = card_texts(page)
                deadline = time.monotonic() + 10
                while cards1 == cards0 and time.monotonic() < deadline:
                    page.page.wait_for_timeout(250)
                    cards1 = card_texts(page)
                assert cards1.keys() == cards0.keys()
                assert cards1 != cards0, (cards0, cards1)  # the figures moved with the clock
                assert page.errors == [], page.errors
                page.assert_stayed_local()
        finally:
            for program in reversed(programs):
                if hasattr(program, "kill"):
                    program.kill()
                else:
                    program.stop(signal.SIGKILL)
    for program in programs[:2]:
        assert "Traceback" not in program.text(), program.text()[-3000:]


@pytest.mark.timeout(240)
def test_make_live_without_a_key_shows_facilities_to_the_same_interval_as_prices(
    tmp_path: Path, mosquitto
) -> None:  # type: ignore[no-untyped-def]
    """``make live`` with no key follows the simulator's NEMweb face at 1x: once the fill is
    through, the page's facility interval is its price interval, never hours behind."""
    from playwright.sync_api import expect

    from tests.test_run import URL_LINE, _run

    _need_chromium()
    out, err = tmp_path / "live.out", tmp_path / "live.err"
    proc = _run(
        *("--live", "--live-dir", str(tmp_path / "live"), "--keep", "0.1"),
        *("--broker-port", str(mosquitto.port), "--dashboard-port", str(free_port())),
        stdout=out,
        stderr=err,
        env={"NEMLIVE_REFRESH_S": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while not URL_LINE.search(out.read_text()) and proc.poll() is None:
            assert time.monotonic() < deadline, err.read_text()[-3000:]
            time.sleep(0.2)
        url = URL_LINE.search(out.read_text())
        assert url, err.read_text()[-3000:]
        with open_browser(url.group(1).replace("localhost", "127.0.0.1")) as page:
            expect(page.main).to_contain_text(FRESHNESS, timeout=PAGE_TIMEOUT_MS)
            expect(page.main).to_contain_text("Simulated data")
            expect(page.sidebar).to_contain_text("NEMweb face", timeout=PAGE_TIMEOUT_MS)
            # The fill goes oldest first: wait until it has reached the present.
            caught_up = False
            while not caught_up and time.monotonic() < deadline + 60:
                found = FRESHNESS.search(caption(page))
                assert found, caption(page)
                now = datetime.now(NEM_TZ)
                behind = (now.hour * 60 + now.minute - minutes(found.group(1))) % 1440
                caught_up = behind <= 15
                page.page.wait_for_timeout(500)
            assert caught_up, caption(page)
            for _ in range(3):  # and it stays so, refresh after refresh
                prices, facilities = FRESHNESS.search(caption(page)).groups()  # type: ignore[union-attr]
                assert facilities == prices, caption(page)
                page.page.wait_for_timeout(1_000)
            assert page.errors == [], page.errors
            page.assert_stayed_local()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert "Traceback" not in err.read_text(), err.read_text()[-3000:]


AXIS_SPAN = re.compile(r"values from (\w+) (\d\d):(\d\d) to (\w+) (\d\d):(\d\d)")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
OPENED_WITH = re.compile(r"Opened with ([\d,]+) values from SQLite file history\.db")


def axis_span_h(label: str) -> float:
    """Hours between the ends of a chart's time axis, from Vega's description of it
    (``X-axis for a time scale with values from Monday 19:45 to Tuesday 00:30``)."""
    found = AXIS_SPAN.search(label)
    assert found, label
    d0, h0, m0, d1, h1, m1 = found.groups()
    days = (WEEKDAYS.index(d1) - WEEKDAYS.index(d0)) % 7
    return days * 24 + (int(h1) * 60 + int(m1) - int(h0) * 60 - int(m0)) / 60


@pytest.mark.timeout(240)
def test_make_live_opens_with_the_last_keep_days_on_its_charts(tmp_path: Path, mosquitto) -> None:  # type: ignore[no-untyped-def]
    """Issue 26: ``make live`` records, and its page opens once the fill is stored, so the
    first page's charts span the ``--keep`` days the extractor filled, and History says how
    many values the page opened with."""
    from playwright.sync_api import expect

    from tests.test_run import URL_LINE, _run

    _need_chromium()
    keep = 0.2  # days: 57 intervals, filled from the simulator in a few seconds
    live_dir = tmp_path / "live"
    out, err = tmp_path / "live.out", tmp_path / "live.err"
    proc = _run(
        *("--live", "--live-dir", str(live_dir), "--keep", str(keep), "--alerts", "none"),
        *("--broker-port", str(mosquitto.port), "--dashboard-port", str(free_port())),
        stdout=out,
        stderr=err,
    )
    try:
        deadline = time.monotonic() + 150
        while not URL_LINE.search(out.read_text()) and proc.poll() is None:
            assert time.monotonic() < deadline, err.read_text()[-3000:]
            time.sleep(0.2)
        url = URL_LINE.search(out.read_text())
        assert url, err.read_text()[-3000:]
        cache = live_dir / "nemweb-simulator" / "consolidate.csv"
        rows = len(cache.read_text().splitlines()) - 1
        facilities = len((cache.parent / "facilities.csv").read_text().splitlines()) - 1
        with open_browser(url.group(1).replace("localhost", "127.0.0.1")) as page:
            axes = page.main.locator('[data-testid="stVegaLiteChart"] [aria-label^="X-axis"]')
            expect(axes).to_have_count(6, timeout=PAGE_TIMEOUT_MS)
            spans = [axis_span_h(axes.nth(i).get_attribute("aria-label") or "") for i in range(6)]
            # Every chart holds the fill, the first page already: not one point, nor a few.
            assert all(span >= 0.9 * keep * 24 for span in spans), spans
            expect(page.sidebar).to_contain_text(OPENED_WITH, timeout=PAGE_TIMEOUT_MS)
            opened = OPENED_WITH.search(page.sidebar.inner_text())
            assert opened, page.sidebar.inner_text()
            assert int(opened.group(1).replace(",", "")) >= 0.9 * rows * facilities, (
                opened.group(0),
                rows,
                facilities,
            )
            # The line under the title says what the stream is: a simulated live follow.
            expect(page.sidebar).to_contain_text(
                "A simulated National Electricity Market, followed live from the simulator's "
                "NEMweb face over MQTT."
            )
            expect(page.sidebar).not_to_contain_text("replayed")
            assert page.errors == [], page.errors
            page.assert_stayed_local()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
    stderr = err.read_text()
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "as nemlive-recorder-live, subscribed to nem/live/#" in stderr, stderr[-3000:]
    assert "holds it" in stderr  # the page opened once the store held the fill
    assert (live_dir / "nemweb-simulator" / "history.db").is_file()  # its own store
