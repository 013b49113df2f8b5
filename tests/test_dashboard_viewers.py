"""The page's two refresh rates, read off what a real server sends one viewer.

A headless viewer (tests/support_stclient.py) speaks Streamlit's websocket protocol to a
real ``streamlit run dashboard.py`` on a real mosquitto, and records every element it is sent.
The figures refresh every ``NEMLIVE_REFRESH_S``; the map and charts only every
``NEMLIVE_VISUALS_S``, except that a new interval coming that long or longer after the one
before is drawn at the next figure refresh.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.support_dashboard import (
    publish_events,
    read_csv_events,
    write_consolidate_csv,
    write_facilities_csv,
)
from tests.support_e2e import start_dashboard
from tests.support_stclient import FULL_RUN, Viewer

pytestmark = pytest.mark.integration

REFRESH_S = 1.0
VISUALS_S = 5.0
TOPIC = "viewers"


@contextmanager
def viewer(port: int) -> Iterator[Viewer]:
    """One protocol session on the page, run in a thread until the block ends."""
    page = Viewer(f"ws://127.0.0.1:{port}/_stcore/stream")
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        loop.run_until_complete(page.run(stop))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield page
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def rows(csv_path: Path) -> list[list[tuple[str, bytes]]]:
    """The CSV's events, one list per row (interval), in publisher order."""
    out: dict[str, list[tuple[str, bytes]]] = {}
    for suffix, payload in read_csv_events(csv_path):
        out.setdefault(json.loads(payload)["timestamp"], []).append((suffix, payload))
    return list(out.values())


def decks(page: Viewer, since: float) -> list[float]:
    return [t for t, kind in page.elements if kind == "deck_gl_json_chart" and t >= since]


@pytest.mark.timeout(180)
def test_figures_every_refresh_map_on_its_own_timer_and_at_once_after_a_gap(
    tmp_path: Path, mosquitto
) -> None:  # type: ignore[no-untyped-def]
    csv_path = write_consolidate_csv(tmp_path / "c.csv", intervals=40)
    intervals = rows(csv_path)
    port = free_port()
    dash = start_dashboard(
        tmp_path,
        port,
        mqtt_port=mosquitto.port,
        topic=TOPIC,
        facilities=write_facilities_csv(tmp_path / "f.csv"),
        NEMLIVE_REFRESH_S=str(REFRESH_S),
        NEMLIVE_VISUALS_S=str(VISUALS_S),
    )
    try:
        with viewer(port) as page:
            deadline = time.monotonic() + 60
            while not page.timers and time.monotonic() < deadline:
                time.sleep(0.2)
            assert sorted(page.timers.values()) == [REFRESH_S, VISUALS_S]
            fast = next(f for f, every in page.timers.items() if every == REFRESH_S)
            publish_events(mosquitto.port, TOPIC, intervals[0], retain=False)
            # The first data after an empty map is drawn at the next figure refresh.
            t0 = time.monotonic()
            deadline = t0 + 10
            while not decks(page, t0) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert decks(page, t0), "the map never followed the first data"
            assert decks(page, t0)[0] - t0 <= REFRESH_S + 1.5

            # A stream of one interval a second: figures every refresh, the map on its timer.
            start = time.monotonic()
            for row in intervals[1:13]:
                publish_events(mosquitto.port, TOPIC, row, retain=False)
                time.sleep(1.0)
            span = time.monotonic() - start
            figure_runs = [t for t in page.finished.get(fast, []) if t >= start]
            gaps = [b - a for a, b in itertools.pairwise(figure_runs)]
            assert len(figure_runs) >= span / (REFRESH_S + 1), (len(figure_runs), span)
            assert statistics.median(gaps) <= REFRESH_S + 0.5, gaps
            sent = decks(page, start)
            # the map: on its timer (and once more at most, when a full run restarts it)
            assert 1 <= len(sent) <= span / VISUALS_S + 2, (sent, span)
            assert len(sent) <= len(figure_runs) / 2

            # Quiet for longer than the map's period, then one new interval, sent right after
            # the map's own timer ran (so the timer cannot be what draws it): drawn at once.
            time.sleep(VISUALS_S + 1)
            slow = next(f for f, every in page.timers.items() if every == VISUALS_S)
            timer_runs = len(page.finished.get(slow, []))
            deadline = time.monotonic() + VISUALS_S + 5
            while len(page.finished.get(slow, [])) == timer_runs and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(page.finished.get(slow, [])) > timer_runs, "the map's timer stopped"
            full_runs = len(page.finished.get(FULL_RUN, []))
            t1 = time.monotonic()
            publish_events(mosquitto.port, TOPIC, intervals[13], retain=False)
            deadline = t1 + VISUALS_S
            while not decks(page, t1) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert decks(page, t1), "the map did not follow a new interval after a gap"
            assert decks(page, t1)[0] - t1 <= REFRESH_S + 1.5
            deadline = time.monotonic() + 5
            while len(page.finished.get(FULL_RUN, [])) == full_runs and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(page.finished.get(FULL_RUN, [])) > full_runs  # woken by the figures
            assert page.errors == []
    finally:
        dash.stop()
