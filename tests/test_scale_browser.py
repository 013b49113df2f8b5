"""``make scale`` in a real browser: HAProxy, three dashboard replicas, Chromium tabs (issue 24).

One topology for the module (``python -m nemlive.devtools.scale`` on a small CSV, its own
mosquitto, a test database): tabs spread over the replicas; a tab whose replica is killed
with SIGKILL comes back full through another within 10 s; a rolling restart of all three
keeps every tab working; each replica is a broker client of its own; one SIGINT stops
everything, HAProxy and the broker included, and no secret shows on a command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Postgres
from tests.support_dashboard import wait_until, write_consolidate_csv, write_facilities_csv
from tests.support_recorder import count_store
from tests.support_scale import (
    PageWatch,
    ScaleRun,
    gone,
    haproxy_binary,
    listening,
    need_mosquitto,
    open_page,
    outages,
)
from tests.support_stclient import FULL_RUN, Viewer
from tests.test_dashboard_browser import CHROMIUM_ARGS, _need_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.integration]

FAILOVER_LIMIT_S = 10.0  # issue 24: the tab is back, full, within 10 s
# A tab whose replica restarts may land on one that has just started (its first page pays
# the imports) while the next one starts beside it: generous, for a loaded 2-core machine.
ROLLING_LIMIT_S = 45.0
# The password is never checked (the test server trusts 127.0.0.1): it is here to be looked
# for on every command line and in everything make scale prints.
STORE_PASSWORD = "pw-Scale-7Qx2"


class Topology:
    """make scale for this module, started again if a test before stopped it."""

    def __init__(self, workdir: Path, store: str) -> None:
        self.workdir = workdir
        self.store = store
        self.csv = write_consolidate_csv(workdir / "consolidate.csv", intervals=48)
        self.facilities = write_facilities_csv(workdir / "facilities.csv")
        self.run: ScaleRun | None = None

    def running(self) -> ScaleRun:
        if self.run is None or not self.run.running():
            self.close()
            self.run = ScaleRun(self.workdir, self.csv, self.facilities, self.store).start()
        self.run.wait_all_up()
        return self.run

    def close(self) -> None:
        if self.run is not None:
            self.run.kill()


@pytest.fixture(scope="module")
def topology(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: Postgres
) -> Iterator[Topology]:
    _need_chromium()
    haproxy_binary()
    need_mosquitto()
    postgres_server.reset()
    topo = Topology(tmp_path_factory.mktemp("scale"), postgres_server.url(password=STORE_PASSWORD))
    try:
        yield topo
    finally:
        topo.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _pages(chromium: Any, url: str, count: int) -> list[PageWatch]:
    return [open_page(chromium, url) for _ in range(count)]


def test_tabs_spread_over_the_replicas_and_each_opens_full(
    topology: Topology, chromium: Any
) -> None:
    run = topology.running()
    pages = _pages(chromium, run.url, 4)
    try:
        charts = {p.expect_full() for p in pages}
        served = [p.replica() for p in pages]
    finally:
        for p in pages:
            p.close()
    assert len(charts) == 1 and charts.pop() >= 3, charts  # the same full page everywhere
    assert set(served) <= set(run.ports), served
    assert len(set(served)) >= 2, f"every tab went to one replica: {served}"
    assert all(not p.errors for p in pages), [p.errors for p in pages]
    # The two recorders, in one share group, fill the store the replicas open from.
    assert wait_until(lambda: count_store(topology.store) > 0, timeout=30)


def test_a_killed_replicas_tab_comes_back_full_through_another_within_10_s(
    topology: Topology, chromium: Any
) -> None:
    run = topology.running()
    page = open_page(chromium, run.url)
    try:
        charts = page.expect_full()
        victim = page.replica()
        assert victim in run.ports, victim
        pid = run.replica_pid(victim)
        assert pid is not None
        page.record_states()
        killed_at = page.page.evaluate("Date.now()") / 1000
        os.kill(pid, signal.SIGKILL)
        page.wait_back(timeout=3 * FAILOVER_LIMIT_S)
        assert page.expect_full() == charts
        states = page.states()
        now_served = page.replica()
    finally:
        page.close()
    lost = outages(states)
    assert len(lost) == 1 and lost[0][1] is not None, states
    back_after = lost[0][1] - killed_at
    print(f"failover: the tab was back, full, {back_after:.2f} s after the SIGKILL")
    assert back_after <= FAILOVER_LIMIT_S, states
    assert now_served in run.ports and now_served != victim, (victim, now_served)
    # make scale starts the killed replica again, and HAProxy takes it back.
    run.wait_all_up(timeout=120)
    assert run.replica_pid(victim) not in (None, pid)
    assert f"dashboard replica {victim} exited (-9)" in run.err.read_text()


def test_a_rolling_restart_of_all_three_keeps_every_tab_working(
    topology: Topology, chromium: Any
) -> None:
    run = topology.running()
    pids = {name: run.replica_pid(name) for name in run.ports}
    pages = _pages(chromium, run.url, 3)
    try:
        charts = {p.expect_full() for p in pages}
        for p in pages:
            p.record_states()
        os.kill(run.proc.pid, signal.SIGHUP)  # type: ignore[union-attr]
        done = "rolling restart done"
        assert wait_until(lambda: done in run.err.read_text(), timeout=240, interval=0.5), (
            run.err.read_text()[-4000:]
        )
        for p in pages:
            assert p.expect_full() in charts
        tabs = [outages(p.states()) for p in pages]
    finally:
        for p in pages:
            p.close()
    # Each replica was stopped and started again, one after the other.
    text = run.err.read_text()
    order = [text.index(f"rolling restart: {name} is up again") for name in sorted(run.ports)]
    assert order == sorted(order), text[-4000:]
    assert all(run.replica_pid(n) not in (None, pids[n]) for n in run.ports), pids
    # Every tab lost its replica (once, or again if it moved to one restarted later), and
    # each time came back and finished a whole run of the page.
    for tab in tabs:
        assert tab and all(back is not None for _, back in tab), tab
    longest = max(back - lost for tab in tabs for lost, back in tab)  # type: ignore[operator]
    print(f"rolling restart: the longest a tab waited for its page again: {longest:.1f} s")
    assert longest <= ROLLING_LIMIT_S, tabs


def test_each_replica_is_a_client_of_its_own(topology: Topology) -> None:
    run = topology.running()
    # A replica connects to the broker with its first session: one headless session each,
    # straight to its port.
    with contextlib.ExitStack() as sessions:
        pages = [sessions.enter_context(_session(port)) for port in run.ports.values()]
        assert wait_until(lambda: all(FULL_RUN in p.finished for p in pages), timeout=90)
        # 3 replicas, 2 recorders, the publisher and this test's subscriber: were there one
        # client id for the replicas, each would push the others off the broker.
        assert _clients_connected(_broker_port(run), 7) == 7
    assert all(not p.errors for p in pages), [p.errors for p in pages]


@contextlib.contextmanager
def _session(port: int) -> Iterator[Viewer]:
    page = Viewer(f"ws://127.0.0.1:{port}/_stcore/stream")
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=lambda: loop.run_until_complete(page.run(stop)), daemon=True)
    thread.start()
    try:
        yield page
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)


def test_one_sigint_stops_everything_haproxy_and_the_broker_included(topology: Topology) -> None:
    run = topology.running()
    children = run.children()
    commands = " | ".join(children.values())
    for part in ("haproxy", "mosquitto", "publisher.py", "streamlit run"):
        assert part in commands, commands
    recorders = [c for c in children.values() if "recorder.py" in c]
    assert len(recorders) == 2 and len({c.split("--client-id")[-1] for c in recorders}) == 2
    assert sum("streamlit run" in c for c in children.values()) == 3
    ports = [run.front, _broker_port(run), *run.ports.values()]
    assert run.stop(signal.SIGINT) == 0
    err = run.err.read_text()
    assert "Traceback" not in err, err[-4000:]
    assert wait_until(lambda: all(gone(pid) for pid in run.seen), timeout=20), {
        pid: c for pid, c in run.seen.items() if not gone(pid)
    }
    assert not any(listening(port) for port in ports), ports
    # No secret on a command line, nor in anything make scale and its children printed.
    assert all(STORE_PASSWORD not in c for c in run.seen.values())
    assert STORE_PASSWORD not in run.out.read_text() + err


def _clients_connected(port: int, expected: int, timeout: float = 40.0) -> int:
    """The broker's own count of connected clients ($SYS, published every 10 s): the first
    that equals ``expected``, else the last within ``timeout`` seconds."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    counts: list[int] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sys-{os.getpid()}")
    client.on_message = lambda c, u, msg: counts.append(int(msg.payload))
    client.connect("127.0.0.1", port)
    client.subscribe("$SYS/broker/clients/connected")
    client.loop_start()
    try:
        wait_until(lambda: bool(counts) and counts[-1] == expected, timeout=timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    assert counts, "no $SYS/broker/clients/connected from the broker"
    return counts[-1]


def _broker_port(run: ScaleRun) -> int:
    match = re.search(r"broker localhost:(\d+)", run.out.read_text())
    assert match, run.out.read_text()
    return int(match.group(1))
