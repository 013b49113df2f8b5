"""Many viewers, one server: server CPU per viewer of the dashboard, before and after.

    .venv/bin/python bench/viewers.py [--sessions 1,10,50,100] [--baseline REF | --no-baseline]
                                      [--measure 30] [--warmup 15] [--no-browser]

Streams the shipped week at ``make run``'s pace (one 5-minute interval a second, looping)
through a private mosquitto, then for each dashboard (this checkout, and the one at
``--baseline``, extracted with ``git archive``) starts ``streamlit run dashboard.py`` and:

- measures the server's CPU with no page open (ingest only);
- validates the load client: N = 1, 2, 3 Chromium pages (Debian's /usr/bin/chromium), then
  N = 1, 2, 3 protocol sessions (tests/support_stclient.py), and prints the CPU per session of each
  and their ratio (the client must cost what a browser does, within 20%);
- prints, for N protocol sessions, the server CPU per viewer ((CPU - ingest) / N, in cores),
  viewers per core, the slowest session's longest gap between two refreshes of a 2-second
  fragment, the p95 of those gaps, the p95 time from asking for a run to its end, and RSS.

CPU is the server process's own (user + system, all threads, from /proc), over a window in
which every session is past its first run, so a noisy machine moves it less than wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

from support_stclient import Viewer, gaps

from nemlive.devtools.run import count_messages_per_row, publisher_command

CHROMIUM = Path("/usr/bin/chromium")
# The commit before the page was split into a 2-second and a 10-second part.
DEFAULT_BASELINE = "62441ed"
FAST_TIMER_S = 2.5  # fragments on a timer at most this long are the "figures" refresh


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


@contextlib.contextmanager
def process(argv: list[str], log: Path, **kw: object) -> Iterator[subprocess.Popen]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, **kw)  # type: ignore[call-overload]
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def stream(tmp: Path) -> Iterator[int]:
    """mosquitto on a free port and the publisher looping the shipped week at 1 interval/s."""
    port = free_port()
    csv_path = ROOT / "consolidate.csv"
    delay = 1.0 / count_messages_per_row(csv_path)
    env = dict(os.environ, MQTT_HOST="127.0.0.1", MQTT_PORT=str(port))
    with process(["mosquitto", "-p", str(port)], tmp / "mosquitto.log"):
        wait_port(port)
        argv = [a for a in publisher_command(csv_path, delay) if a]
        with process(argv, tmp / "publisher.log", env=env, cwd=ROOT):
            yield port


@contextlib.contextmanager
def dashboard(app_dir: Path, broker_port: int, tmp: Path) -> Iterator[tuple[int, psutil.Process]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMLIVE_", "MQTT_"))}
    env.update(MQTT_HOST="127.0.0.1", MQTT_PORT=str(broker_port), PYTHONUNBUFFERED="1")
    argv = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_dir / "dashboard.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    with process(argv, tmp / f"dashboard-{app_dir.name}.log", env=env, cwd=app_dir) as proc:
        wait_port(port)
        time.sleep(3)  # the hub connects and the first intervals arrive
        yield port, psutil.Process(proc.pid)


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


@dataclass
class Sample:
    """One measured window: N sessions of one kind on one server."""

    kind: str
    n: int
    cores: float  # server CPU over the window, in cores
    rss_mb: float
    slowest_gap_s: float | None = None
    p95_gap_s: float | None = None
    p95_run_s: float | None = None
    errors: int = 0


def measure_window(
    proc: psutil.Process, seconds: float, wait: Callable[[float], None] = time.sleep
) -> float:
    c0, t0 = cpu_seconds(proc), time.monotonic()
    wait(seconds)
    return (cpu_seconds(proc) - c0) / (time.monotonic() - t0)


async def _protocol_window(
    port: int,
    n: int,
    proc: psutil.Process,
    warmup: float,
    seconds: float,
    make_viewer: Callable[[str], Viewer] = Viewer,
) -> Sample:
    stop = asyncio.Event()
    viewers = [make_viewer(f"ws://127.0.0.1:{port}/_stcore/stream") for _ in range(n)]
    tasks = []
    for v in viewers:  # 20 new sessions a second, as a room opening the link
        tasks.append(asyncio.create_task(v.run(stop)))
        await asyncio.sleep(0.05)
    await asyncio.sleep(warmup)
    start = time.monotonic()
    c0 = cpu_seconds(proc)
    await asyncio.sleep(seconds)
    cores = (cpu_seconds(proc) - c0) / (time.monotonic() - start)
    rss = proc.memory_info().rss / 2**20
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    slowest: list[float] = []
    all_gaps: list[float] = []
    runs: list[float] = []
    for v in viewers:
        fast = [f for f, every in v.timers.items() if every <= FAST_TIMER_S]
        session_gaps = [g for f in fast for g in gaps(v.finished.get(f, []), start)]
        slowest.append(max(session_gaps, default=float("inf")))
        all_gaps += session_gaps
        runs += v.run_times[len(v.run_times) // 3 :]
    return Sample(
        "protocol",
        n,
        cores,
        rss,
        slowest_gap_s=max(slowest, default=None),
        p95_gap_s=quantile(all_gaps, 0.95),
        p95_run_s=quantile(runs, 0.95),
        errors=sum(len(v.errors) for v in viewers),
    )


def protocol_window(
    port: int,
    n: int,
    proc: psutil.Process,
    warmup: float,
    seconds: float,
    make_viewer: Callable[[str], Viewer] = Viewer,
) -> Sample:
    """N protocol sessions on ``port`` (``make_viewer`` builds each, e.g. through a load
    balancer); ``proc``'s CPU over the window, after ``warmup`` s."""
    sample = asyncio.run(_protocol_window(port, n, proc, warmup, seconds, make_viewer))
    time.sleep(3)  # the server closes the sessions
    return sample


def browser_window(
    port: int, n: int, proc: psutil.Process, warmup: float, seconds: float
) -> Sample:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            pages = []
            for _ in range(n):
                page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
                page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
                pages.append(page)

            # Playwright's events are only read while it is called: wait through it, so that
            # the browser is never held up by a full pipe (time.sleep would hold it).
            def wait(s: float) -> None:
                pages[0].wait_for_timeout(s * 1000)

            wait(warmup)
            cores = measure_window(proc, seconds, wait)
            rss = proc.memory_info().rss / 2**20
        finally:
            browser.close()
    time.sleep(3)
    return Sample("chromium", n, cores, rss)


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def per_viewer(sample: Sample, idle: float) -> float:
    return max(sample.cores - idle, 0.0) / sample.n


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None or value == float("inf") else format(value, spec)


def print_table(label: str, idle: float, samples: list[Sample]) -> None:
    print(f"\n{label}: ingest only {idle:.3f} cores")
    print(
        f"  {'kind':9} {'N':>4} {'server':>7} {'per viewer':>10} {'viewers/core':>12} "
        f"{'slowest gap':>11} {'p95 gap':>8} {'p95 run':>8} {'RSS MB':>7} {'errors':>6}"
    )
    for s in samples:
        pv = per_viewer(s, idle)
        print(
            f"  {s.kind:9} {s.n:>4} {s.cores:>7.3f} {pv:>10.4f} "
            f"{fmt(1 / pv if pv else None, '.1f'):>12} {fmt(s.slowest_gap_s):>11} "
            f"{fmt(s.p95_gap_s):>8} {fmt(s.p95_run_s):>8} {s.rss_mb:>7.0f} {s.errors:>6}"
        )


def validation(samples: list[Sample], idle: float) -> None:
    by = {(s.kind, s.n): s for s in samples}
    for n in (1, 2, 3):
        b, c = by.get(("chromium", n)), by.get(("protocol", n))
        if b and c and per_viewer(b, idle):
            ratio = per_viewer(c, idle) / per_viewer(b, idle)
            print(f"  N={n}: protocol / chromium CPU per session = {ratio:.2f}")
    b1, b3 = by.get(("chromium", 1)), by.get(("chromium", 3))
    if b1 and b3:
        print(f"  marginal CPU per Chromium page (3 vs 1): {(b3.cores - b1.cores) / 2:.4f} cores")


def bench_app(app_dir: Path, label: str, args: argparse.Namespace, broker: int, tmp: Path) -> None:
    with dashboard(app_dir, broker, tmp) as (port, proc):
        # The server connects to the broker when the first page opens: open one, then
        # measure the ingest alone.
        protocol_window(port, 1, proc, 3.0, 1.0)
        time.sleep(args.warmup)
        idle = measure_window(proc, args.measure)
        samples: list[Sample] = []
        if args.browser:
            for n in (1, 2, 3):
                samples.append(browser_window(port, n, proc, args.warmup, args.measure))
            for n in (1, 2, 3):
                samples.append(protocol_window(port, n, proc, args.warmup, args.measure))
        for n in args.sessions:
            samples.append(protocol_window(port, n, proc, args.warmup, args.measure))
        print_table(label, idle, samples)
        if args.browser:
            validation(samples, idle)


def extract(ref: str, into: Path) -> Path:
    """The tree of ``ref`` (git archive) in a folder of its own."""
    archive = into / "baseline.tar"
    with open(archive, "wb") as out:
        subprocess.run(["git", "archive", ref], cwd=ROOT, stdout=out, check=True)
    target = into / f"baseline-{ref}"
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", default="1,10,50,100")
    p.add_argument("--baseline", default=DEFAULT_BASELINE, help="git ref of the 'before' page")
    p.add_argument("--no-baseline", dest="baseline", action="store_const", const=None)
    p.add_argument("--measure", type=float, default=30.0, help="seconds per measured window")
    p.add_argument("--warmup", type=float, default=15.0, help="seconds before each window")
    p.add_argument("--no-browser", dest="browser", action="store_false")
    args = p.parse_args()
    args.sessions = [int(n) for n in args.sessions.split(",")]
    if args.browser and not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} not found: apt-get install chromium, or pass --no-browser")
    with tempfile.TemporaryDirectory() as tmp_name, stream(Path(tmp_name)) as broker:
        tmp = Path(tmp_name)
        print(
            f"streaming the shipped week at 1 interval/s on port {broker}; "
            f"{args.measure:g} s windows after {args.warmup:g} s warm-up"
        )
        bench_app(ROOT, "after (this checkout)", args, broker, tmp)
        if args.baseline:
            bench_app(extract(args.baseline, tmp), f"before ({args.baseline})", args, broker, tmp)


if __name__ == "__main__":
    main()
