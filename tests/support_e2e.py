"""Helpers for the whole-product tests (test_e2e, test_start_order, test_run): real processes.

* :func:`extract_from_simulator`: ``extractor.py`` as a subprocess against the OE simulator.
* :class:`Program`: a program started with :func:`start_dashboard` / :func:`start_publisher`,
  its output in a log file, stopped by pid (never by name).
* :class:`Browser`: Debian's Chromium through Playwright, recording the host of every request
  and aborting any that would leave the machine.
* :func:`expected_figure_texts`: the page's headline figures computed from the CSV (through
  ``support_dashboard.expected_figures_from_csv``, independent of ``nemlive.dashboard.charts``' sums).
"""

from __future__ import annotations

import csv
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

from nemlive.common.nemtime import format_nem_epoch
from nemlive.devtools.run import dashboard_command
from oesim.testing import DEMO_KEY, run_simulator  # test infrastructure only
from tests.conftest import PYTHON, ROOT, clean_subprocess_env, wait_for_port
from tests.support_dashboard import expected_figure_texts as dashboard_figure_texts
from tests.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, LOCAL_HOSTS

REGIONS_GEOJSON = ROOT / "data" / "regions.geojson"
VIEWPORT = {"width": 1500, "height": 1000}
# Generous bounds for a loaded 2-core machine; every wait polls and returns early.
START_TIMEOUT_S = 60.0
PAGE_TIMEOUT_MS = 45_000
LOOPBACK = ("127.", "::1", "::ffff:127.")


# --- the extractor ------------------------------------------------------------------------


def extract_from_simulator(
    outdir: Path, start: str, end: str, dataset: str = "small"
) -> tuple[Path, Path]:
    """Run ``extractor.py`` against a fresh simulator; return (CSV, facilities.csv).

    Asserts exit 0 and no traceback; the two files are written into ``outdir``.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    csv_path, fac_path = outdir / "consolidate.csv", outdir / "facilities.csv"
    with run_simulator(dataset=dataset) as sim:
        run = subprocess.run(
            [
                PYTHON,
                str(ROOT / "extractor.py"),
                "--start",
                start,
                "--end",
                end,
                "--out",
                str(csv_path),
                "--facilities-out",
                str(fac_path),
            ],
            cwd=outdir,
            env=clean_subprocess_env(
                OPENELECTRICITY_API_KEY=DEMO_KEY, OPENELECTRICITY_API_URL=sim.url
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert DEMO_KEY not in run.stderr + run.stdout
    assert csv_path.is_file() and fac_path.is_file()
    return csv_path, fac_path


def read_facility_rows(path: Path) -> list[tuple]:
    """facilities.csv as tuples shaped like support_dashboard.TEST_FACILITIES (id first)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            (
                r["facility_id"],
                r["name"],
                r["region_id"],
                float(r["lat"]),
                float(r["lon"]),
                r["fuel_groups"],
                r["fuel_techs"],
                float(r["capacity_mw"] or 0),
            )
            for r in csv.DictReader(fh)
        ]


def last_row(csv_path: Path) -> dict[str, str]:
    with open(csv_path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))[-1]


def last_time_text(csv_path: Path) -> str:
    """The CSV's last timestamp as the page writes it (``2025-10-01 23:55``, NEM time)."""
    ts = datetime.fromisoformat(last_row(csv_path)["timestamp"])
    return format_nem_epoch(int(ts.timestamp()))


def expected_figure_texts(csv_path: Path, facilities_csv: Path) -> dict[str, str]:
    """Label -> text of the seven headline figures at the CSV's last row, as the page shows them."""
    texts = dashboard_figure_texts(csv_path, facilities=read_facility_rows(facilities_csv))
    # A figure that is blank or zero would make the comparison weak.
    assert all(v != "–" and not v.startswith(("0 ", "$0.00")) for v in texts.values()), texts
    return texts


# --- programs as processes ----------------------------------------------------------------


@dataclass
class Program:
    """A subprocess whose stdout+stderr go to ``log``; ``stop`` ends it by pid."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, needle: str, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.name} never logged {needle!r}:\n{self.text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send ``sig`` (if still running) and return the exit code; SIGKILL after ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def _spawn(name: str, argv: list[str], log: Path, env: Mapping[str, str]) -> Program:
    fh = open(log, "wb")  # noqa: SIM115 - the child owns it; closed right after the fork
    try:
        proc = subprocess.Popen(argv, cwd=ROOT, env=dict(env), stdout=fh, stderr=subprocess.STDOUT)
    finally:
        fh.close()
    return Program(name, proc, log)


def start_dashboard(
    workdir: Path,
    port: int,
    *,
    mqtt_port: int,
    topic: str,
    facilities: Path,
    regions: Path = REGIONS_GEOJSON,
    **extra_env: str,
) -> Program:
    """``streamlit run dashboard.py`` from the repository root, on 127.0.0.1:``port``
    (``extra_env``: more settings, e.g. ``NEMLIVE_REFRESH_S``)."""
    env = clean_subprocess_env(
        MQTT_HOST="127.0.0.1",
        MQTT_PORT=str(mqtt_port),
        MQTT_TOPIC=topic,
        NEMLIVE_FACILITIES=str(facilities),
        NEMLIVE_REGIONS=str(regions),
        **extra_env,
    )
    prog = _spawn(
        "dashboard",
        # No --browser.gatherUsageStats: the shipped .streamlit/config.toml must turn it off.
        dashboard_command(port, "--server.fileWatcherType", "none", python=PYTHON),
        workdir / f"streamlit-{port}.log",
        env,
    )
    try:
        wait_for_port(port, timeout=START_TIMEOUT_S)
    except TimeoutError:
        prog.stop()
        raise AssertionError(
            f"streamlit did not listen on {port}:\n{prog.text()[-3000:]}"
        ) from None
    return prog


def start_publisher(
    workdir: Path,
    csv_path: Path,
    port: int,
    *,
    topic: str,
    embedded: bool = True,
    delay: float = 0.0,
    cycles: int = 2,
    cooldown: float = 600.0,
) -> Program:
    """``publisher.py`` to 127.0.0.1:``port``; by default it idles in a long cooldown after pass 1."""
    argv = [
        PYTHON,
        str(ROOT / "publisher.py"),
        "--csv",
        str(csv_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--topic",
        topic,
        "--delay",
        f"{delay:g}",
        "--cycles",
        str(cycles),
        "--cooldown",
        f"{cooldown:g}",
        "--checkpoint",
        str(workdir / f"checkpoint-{port}.json"),
    ]
    if not embedded:
        argv.append("--no-embedded-broker")
    return _spawn("publisher", argv, workdir / f"publisher-{port}.log", clean_subprocess_env())


def assert_clean_exit(prog: Program, codes: tuple[int, ...] = (0, -signal.SIGTERM)) -> None:
    rc = prog.stop()
    text = prog.text()
    assert "Traceback" not in text, text[-3000:]
    assert rc in codes, f"{prog.name} exited with {rc}:\n{text[-3000:]}"


def remote_hosts(pid: int) -> set[str]:
    """Remote addresses of the TCP connections of ``pid`` and its children, loopback excluded."""
    out: set[str] = set()
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return out
    for p in procs:
        try:
            conns = p.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        out |= {c.raddr.ip for c in conns if c.raddr and not c.raddr.ip.startswith(LOOPBACK)}
    return out


class SocketWatch:
    """Samples the remote TCP peers of some processes (and their children) every
    ``every`` seconds for as long as it runs, so a short-lived connection is seen too."""

    def __init__(self, every: float = 0.05) -> None:
        self.every = every
        self.pids: set[int] = set()
        self.seen: set[str] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, pid: int) -> None:
        self.pids.add(pid)

    def __enter__(self) -> SocketWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for pid in list(self.pids):
                self.seen |= remote_hosts(pid)
            self.samples += 1


# --- the browser --------------------------------------------------------------------------


@dataclass
class Browser:
    """One headless Chromium page; ``hosts`` = every host requested, ``blocked`` = off-machine URLs."""

    page: Any
    hosts: set[str] = field(default_factory=set)
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def sidebar(self) -> Any:
        return self.page.locator('[data-testid="stSidebar"]')

    @property
    def main(self) -> Any:
        return self.page.locator('[data-testid="stMainBlockContainer"]')

    def expect_status(self, word: str, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
        """The sidebar's connection status reads exactly ``word`` (e.g. ``connected``)."""
        from playwright.sync_api import expect

        expect(self.sidebar.get_by_text(word, exact=True)).to_be_visible(timeout=timeout_ms)

    def expect_figures(
        self, texts: Mapping[str, str], at: str, timeout_ms: int = PAGE_TIMEOUT_MS
    ) -> None:
        """The figures caption names ``at`` (NEM time) and every metric shows its text."""
        from playwright.sync_api import expect

        expect(self.main).to_contain_text(f"Figures for {at} NEM", timeout=timeout_ms)
        for label, text in texts.items():
            metric = self.main.locator('[data-testid="nl-card"]', has_text=label).first
            expect(metric.locator('[data-testid="nl-card-value"]')).to_have_text(
                text, timeout=timeout_ms
            )

    def assert_stayed_local(self) -> None:
        assert self.blocked == [], f"requests tried to leave the machine: {self.blocked}"
        assert self.hosts and self.hosts <= LOCAL_HOSTS, f"hosts requested: {self.hosts}"


def _record(browser: Browser) -> Callable[[Any], None]:
    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("data:", "blob:")):
            r.continue_()
            return
        host = urlsplit(url).hostname or ""
        browser.hosts.add(host)
        if host in LOCAL_HOSTS:
            r.continue_()
        else:
            browser.blocked.append(url)
            r.abort()

    return route


@contextmanager
def open_browser(url: str) -> Iterator[Browser]:
    """Chromium on ``url`` with every request's host recorded (websockets included)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context(viewport=VIEWPORT)
            page = context.new_page()
            b = Browser(page)
            context.route("**/*", _record(b))
            page.on("websocket", lambda ws: b.hosts.add(urlsplit(ws.url).hostname or ""))
            page.on("console", lambda m: b.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: b.errors.append(str(e)))
            page.goto(url, timeout=PAGE_TIMEOUT_MS)
            yield b
        finally:
            chromium.close()
