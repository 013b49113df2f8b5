"""Test helpers for ``make scale`` (nemlive/devtools/scale.py): the topology as a subprocess,
its replicas found by pid, HAProxy's view of them, and pages that must stay full.

* :class:`ScaleRun`: ``python -m nemlive.devtools.scale`` on a small CSV, its own mosquitto
  (none listens on the port it is given) and a test database; its URL, replica ports and the
  process tree.
* :class:`PageWatch`: one Chromium tab (its own context, so its own cookies) through HAProxy:
  the replica its cookie names, and the times at which its connection and script runs changed,
  recorded in the page itself (a page busy redrawing answers late, not wrong).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import PYTHON, ROOT, clean_subprocess_env, free_port
from tests.support_dashboard import wait_until

URL_LINE = re.compile(r"open http://localhost:(\d+)")
REPLICA = re.compile(r"(dash\d+) :(\d+)")
START_TIMEOUT_S = 150.0  # three Streamlit servers, two recorders and HAProxy on 2 busy cores
STOP_TIMEOUT_S = 60.0


def haproxy_binary() -> str:
    """HAProxy's path, or skip (fail under REQUIRE_HAPROXY=1, as .ci/run sets)."""
    found = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(found).exists():
        reason = "haproxy is not installed (apt-get install haproxy)"
        if os.environ.get("REQUIRE_HAPROXY") == "1":
            pytest.fail(reason + " (REQUIRE_HAPROXY=1)")
        pytest.skip(reason)
    return found


def need_mosquitto() -> None:
    """Skip without mosquitto (fail under REQUIRE_BROKER=1): make scale starts one."""
    if shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists():
        return
    reason = "mosquitto is not installed (apt-get install mosquitto)"
    if os.environ.get("REQUIRE_BROKER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class ScaleRun:
    """``make scale`` as a subprocess; ``start()`` returns once it printed its URL."""

    workdir: Path
    csv: Path
    facilities: Path
    store: str
    extra: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    front: int = 0
    ports: dict[str, int] = field(default_factory=dict)
    seen: dict[int, str] = field(default_factory=dict)  # every descendant ever listed

    @property
    def out(self) -> Path:
        return self.workdir / "scale.out"

    @property
    def err(self) -> Path:
        return self.workdir / "scale.err"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.front}/"

    def start(self) -> ScaleRun:
        argv = [PYTHON, "-m", "nemlive.devtools.scale", "--csv", str(self.csv)]
        argv += ["--port", str(free_port()), "--broker-port", str(free_port()), *self.extra]
        env = clean_subprocess_env(
            NEMLIVE_FACILITIES=str(self.facilities), NEMLIVE_STORE=self.store
        )
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=err)
        ok = wait_until(
            lambda: URL_LINE.search(self.out.read_text()) or self.proc.poll() is not None,
            timeout=START_TIMEOUT_S,
            interval=0.2,
        )
        match = URL_LINE.search(self.out.read_text())
        assert ok and match, f"make scale did not start:\n{self.err.read_text()[-4000:]}"
        self.front = int(match.group(1))
        self.ports = {name: int(port) for name, port in REPLICA.findall(self.out.read_text())}
        self.children()
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> dict[int, str]:
        """pid -> command line of every process under make scale now (and kept in ``seen``)."""
        assert self.proc is not None
        found = {}
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    found[child.pid] = " ".join(child.cmdline())
        self.seen.update(found)
        return found

    def replica_pid(self, name: str) -> int | None:
        """The pid of the replica ``name`` (``dash1``...) now, None while it is down."""
        flag = f"--server.port {self.ports[name]} "
        for pid, command in self.children().items():
            if "streamlit run" in command and flag in f"{command} ":
                return pid
        return None

    def up_in_haproxy(self, name: str) -> bool:
        """HAProxy sends a request that names ``name`` in its cookie to ``name`` (it would
        set another cookie for a replica it holds down), and the replica answers."""
        request = urllib.request.Request(
            f"{self.url}_stcore/health", headers={"Cookie": f"SERVERID={name}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                cookies = answer.headers.get_all("Set-Cookie") or []
                return answer.status == 200 and not any("SERVERID=" in c for c in cookies)
        except OSError:
            return False

    def wait_all_up(self, timeout: float = START_TIMEOUT_S) -> None:
        assert wait_until(
            lambda: all(self.up_in_haproxy(n) for n in self.ports), timeout=timeout, interval=0.5
        ), f"not every replica is up in HAProxy:\n{self.err.read_text()[-3000:]}"

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Send ``sig``; the exit code (SIGKILL, and a failure, after STOP_TIMEOUT_S)."""
        assert self.proc is not None
        self.children()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"make scale did not stop in {STOP_TIMEOUT_S:g} s") from None
        return self.proc.returncode

    def kill(self) -> None:
        """Kill make scale and everything it started, by pid: a failed test leaves nothing."""
        if self.proc is not None and self.proc.poll() is None:
            self.children()
            self.proc.kill()
            self.proc.wait(timeout=10)
        for pid in self.seen:
            if not gone(pid):
                with contextlib.suppress(psutil.NoSuchProcess):
                    psutil.Process(pid).kill()


# --- pages ----------------------------------------------------------------------------------

# Installed in the page: every change of the app's connection state and script state, with
# the page's own clock (epoch ms), into window.__nlStates.
RECORD_STATES = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__nlStates = [];
  const record = () => window.__nlStates.push([Date.now(),
    app.getAttribute('data-test-connection-state'), app.getAttribute('data-test-script-state')]);
  record();
  new MutationObserver(record).observe(app, {attributes: true,
    attributeFilter: ['data-test-connection-state', 'data-test-script-state']});
}"""
ERROR_BOXES = (
    '[data-testid="stException"], [data-testid="stAlertContentError"], '
    '[data-testid="stAlertContentWarning"], [role="dialog"]'
)


@dataclass
class PageWatch:
    """One tab through HAProxy, in a browser context of its own."""

    context: Any
    page: Any
    errors: list[str] = field(default_factory=list)

    def replica(self) -> str | None:
        """The replica the tab's SERVERID cookie names."""
        return next((c["value"] for c in self.context.cookies() if c["name"] == "SERVERID"), None)

    def record_states(self) -> float:
        """Start recording state changes; the page's clock now (s)."""
        self.page.evaluate(RECORD_STATES)
        return self.states()[0][0]

    def states(self) -> list[tuple[float, str, str]]:
        """(page time s, connection state, script state) since record_states()."""
        return [(t / 1000, c, s) for t, c, s in self.page.evaluate("window.__nlStates")]

    def wait_back(self, losses: int = 1, timeout: float = 60.0) -> list[tuple[float, str, str]]:
        """Wait until the page has lost its connection ``losses`` times and each time
        finished a script run after reconnecting; the states recorded."""

        def back() -> bool:
            found = outages(self.states())
            return len(found) >= losses and all(t is not None for _, t in found)

        wait_until(back, timeout=timeout, interval=0.25)
        return self.states()

    def expect_full(self, timeout_ms: int = 60_000) -> int:
        """Connected, a script run finished, the figures shown, every chart and the map
        drawn, no error box; the number of charts."""
        from playwright.sync_api import expect

        page = self.page
        app = page.locator('[data-testid="stApp"]')
        expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=timeout_ms)
        # The figures come first in a run; the run is over once the script is not running.
        expect(page.get_by_text("Figures for")).to_be_visible(timeout=timeout_ms)
        expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout_ms)
        charts = page.locator('[data-testid="stVegaLiteChart"]')
        expect(charts.first).to_be_visible(timeout=timeout_ms)
        count = charts.count()
        for i in range(count):  # drawn: marks in its SVG, not an empty frame
            expect(charts.nth(i).locator("svg .role-mark path").first).to_be_attached(
                timeout=timeout_ms
            )
        map_canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
        expect(map_canvas).to_be_visible(timeout=timeout_ms)
        expect(page.get_by_text("No data in the window yet.")).to_have_count(0)
        expect(page.locator(ERROR_BOXES)).to_have_count(0)
        return count

    def close(self) -> None:
        self.context.close()


def outages(states: list[tuple[float, str, str]]) -> list[tuple[float, float | None]]:
    """(left CONNECTED at, first script run finished after reconnecting at, or None) for each
    loss of the connection in ``states`` (PageWatch.states())."""
    found: list[tuple[float, float | None]] = []
    lost: float | None = None
    ran = False
    for t, connection, script in states:
        if lost is None and connection != "CONNECTED":
            lost, ran = t, False
        elif lost is not None and connection == "CONNECTED":
            if script == "running":
                ran = True
            elif ran and script == "notRunning":
                found.append((lost, t))
                lost = None
    if lost is not None:
        found.append((lost, None))
    return found


def open_page(browser: Any, url: str) -> PageWatch:
    """A new context (no cookie yet) and one tab on ``url``."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    watch = PageWatch(context, context.new_page())
    watch.page.on("pageerror", lambda e: watch.errors.append(str(e)))
    watch.page.goto(url, timeout=60_000)
    return watch
