"""Scaled out: viewers held by 1, 2 and 3 dashboard replicas behind HAProxy, failover, lag.

    .venv/bin/python bench/scale.py [--replicas 1,2,3] [--start 20] [--growth 1.6]
        [--measure 20] [--warmup 15] [--kills 6] [--lag 60] [--no-browser] [--quick]

For each replica count, starts ``make scale``'s topology (``python -m nemlive.devtools.scale``:
its own mosquitto, two recorders in one shared subscription writing into a fresh PostgreSQL
database, the publisher replaying the shipped week at 1 interval a second, N replicas, HAProxy
on one port) and drives headless viewers (tests/support_stclient.py) through HAProxy's port:
each asks for the page over HTTP first and carries HAProxy's ``SERVERID`` cookie into its
WebSocket, as a tab does. bench/viewers.py's windows measure them; the replicas' CPU and RSS
are summed.

- **Viewers held.** N grows by ``--growth`` from ``--start`` until a window is not held.
  N viewers are held when every one of them got every refresh of the page's 2-second
  fragment within :data:`HELD_GAP_S` (its slowest gap between two refreshes, as
  bench/viewers.py reports it) and none was sent an error. Printed with the replicas' CPU
  per viewer, viewers per core and RSS per session, and the ratio to 1 replica in the same
  run. The load client runs on the same cores: its CPU is printed too.
- **Failover** (with the most replicas): a tab opens, the replica named by its cookie is
  killed with SIGKILL, and the tab reconnects its WebSocket with its old cookie, as the
  page does, until a new session has run the page and refreshed its figures. Median and
  p95 over ``--kills`` kills (``make scale`` starts a killed replica again; the next kill
  waits for it).
- **Recorders' lag:** for each interval of the stream, from the last of its messages on the
  broker (seen by a subscriber here) to the moment PostgreSQL holds every one of its
  facility rows, committed by either recorder.
- **Cost per viewer of the other ways to serve a read-only view** (docs/scaling.md): the bytes
  of one interval of the stream (what a browser subscribed to the broker over
  MQTT-over-WebSocket receives), and the size of a snapshot of the page (its latest interval
  as JSON, gzipped, and a PNG of the page from Chromium).

Everything runs on this machine's cores, shared with the load client and other work: the
figures are of one noisy run, and the ratios (same run, same machine) matter more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import paho.mqtt.client as mqtt
import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

from support_stclient import FULL_RUN, Viewer
from viewers import (
    CHROMIUM,
    FAST_TIMER_S,
    Sample,
    cpu_seconds,
    fmt,
    free_port,
    measure_window,
    per_viewer,
    protocol_window,
    quantile,
    wait_port,
)

from nemlive.common.events import InvalidEvent, build_subscription, decode_event_at
from nemlive.devtools.haproxy import COOKIE
from nemlive.devtools.scale import SCALE_TOPIC

# Held: no viewer waited more than two periods of the 2-second figures fragment for a
# refresh (one refresh may come late, none is missed).
HELD_GAP_S = 2 * 2.0
PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
START_TIMEOUT_S = 180.0  # N Streamlit servers, two recorders and HAProxy on 2 busy cores
FAILOVER_TIMEOUT_S = 60.0
ATTEMPT_TIMEOUT_S = 20.0  # one reconnection's page run, on a loaded machine


@dataclass
class Topology:
    """A running ``python -m nemlive.devtools.scale``: its ports and its processes."""

    proc: subprocess.Popen[bytes]
    front: int
    replicas: dict[str, int]  # HAProxy's server name -> the replica's port
    broker: int
    store: str

    def replica_process(self, name: str) -> psutil.Process | None:
        """The Streamlit server of replica ``name`` now (a restarted one is a new process)."""
        port = str(self.replicas[name])
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                argv = child.cmdline()
                if "streamlit" in argv and port in argv:
                    return child
        return None


class ProcessGroup:
    """The replicas as one process for bench/viewers.py's windows: CPU times and RSS summed."""

    def __init__(self, procs: list[psutil.Process]) -> None:
        self.procs = procs

    def cpu_times(self) -> SimpleNamespace:
        times = [p.cpu_times() for p in self.procs]
        return SimpleNamespace(user=sum(t.user for t in times), system=sum(t.system for t in times))

    def memory_info(self) -> SimpleNamespace:
        return SimpleNamespace(rss=sum(p.memory_info().rss for p in self.procs))


BANNER = re.compile(r"open http://localhost:(\d+)")
REPLICA = re.compile(r"(dash\d+) :(\d+)")
BROKER = re.compile(r"broker localhost:(\d+)")


def read_banner(proc: subprocess.Popen[bytes], log: list[str]) -> tuple[int, dict[str, int], int]:
    """HAProxy's port, the replicas' ports and the broker's, from make scale's banner."""
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    text = ""
    while time.monotonic() < deadline and proc.poll() is None:
        line = proc.stdout.readline().decode(errors="replace")
        log.append(line)
        text += line
        front, broker = BANNER.search(text), BROKER.search(text)
        if front and broker:
            return int(front[1]), {m[0]: int(m[1]) for m in REPLICA.findall(text)}, int(broker[1])
    raise SystemExit("make scale did not start:\n" + "".join(log[-30:]))


def drain(proc: subprocess.Popen[bytes], log: list[str]) -> None:
    """Keep reading make scale's output (so that it never blocks on a full pipe)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        log.append(line.decode(errors="replace"))


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A fresh PostgreSQL database for one topology, dropped after."""
    name = f"nemlive_bench_scale_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://root@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def topology(replicas: int, tmp: Path, restart_after: float) -> Iterator[Topology]:
    """make scale with ``replicas`` replicas on free ports and its own broker, replaying a
    copy of the shipped week (its checkpoint beside the copy, not beside the original)."""
    csv_path = tmp / "consolidate.csv"
    if not csv_path.exists():
        shutil.copyfile(ROOT / "consolidate.csv", csv_path)
    for old in tmp.glob("consolidate.scale.checkpoint*"):
        old.unlink()
    with database() as store:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMLIVE_", "MQTT_"))}
        env.update(NEMLIVE_STORE=store, PYTHONUNBUFFERED="1")
        argv = [sys.executable, "-m", "nemlive.devtools.scale", "--replicas", str(replicas)]
        argv += ["--port", str(free_port()), "--broker-port", str(free_port())]
        argv += ["--csv", str(csv_path), "--restart-after", str(restart_after)]
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        log: list[str] = []
        try:
            front, ports, broker = read_banner(proc, log)
            threading.Thread(target=drain, args=(proc, log), daemon=True).start()
            yield Topology(proc, front, ports, broker, store)
        finally:
            stop_topology(proc)


def stop_topology(proc: subprocess.Popen[bytes]) -> None:
    """One Ctrl-C, as a user stops make scale; SIGKILL only if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(90)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tab(url: str) -> Viewer:
    """A tab through HAProxy: the page over HTTP first, its cookie on the WebSocket."""
    return Viewer(url, load_page=True)


@dataclass
class Level:
    """One window of the ramp: N viewers on the replicas."""

    sample: Sample
    idle: float  # the replicas' CPU with one page each, in cores
    idle_rss_mb: float
    client_cores: float
    spread: dict[str, int]

    @property
    def held(self) -> bool:
        slowest = self.sample.slowest_gap_s
        return slowest is not None and slowest <= HELD_GAP_S and not self.sample.errors

    @property
    def rss_per_viewer_mb(self) -> float:
        return max(self.sample.rss_mb - self.idle_rss_mb, 0.0) / self.sample.n


def open_replicas(topo: Topology) -> ProcessGroup:
    """One page per replica (a replica connects to the broker when its first page opens),
    then the replicas' processes."""
    protocol_window(topo.front, len(topo.replicas), ProcessGroup([]), 5.0, 1.0, tab)
    procs = [topo.replica_process(name) for name in topo.replicas]
    if None in procs:
        raise SystemExit("a dashboard replica is missing: see make scale's output")
    return ProcessGroup([p for p in procs if p is not None])


def window(topo: Topology, group: ProcessGroup, n: int, args: argparse.Namespace) -> Level:
    """N tabs through HAProxy for one window; the spread is by each tab's cookie."""
    tabs: list[Viewer] = []

    def make(url: str) -> Viewer:
        tabs.append(tab(url))
        return tabs[-1]

    me = psutil.Process()
    c0, t0 = cpu_seconds(me), time.monotonic()
    sample = protocol_window(topo.front, n, group, args.warmup, args.measure, make)
    client = (cpu_seconds(me) - c0) / (time.monotonic() - t0)
    spread: dict[str, int] = {}
    for v in tabs:
        server = v.cookies.get(COOKIE, "?")
        spread[server] = spread.get(server, 0) + 1
    return Level(sample, args.idle, args.idle_rss, client, dict(sorted(spread.items())))


def ramp(topo: Topology, args: argparse.Namespace) -> list[Level]:
    """Windows of growing N until one is not held (or ``--max`` is reached)."""
    group = open_replicas(topo)
    time.sleep(args.warmup)
    args.idle = measure_window(group, args.measure)  # type: ignore[arg-type]
    args.idle_rss = group.memory_info().rss / 2**20
    levels: list[Level] = []
    n = args.start
    while n <= args.max:
        level = window(topo, group, n, args)
        levels.append(level)
        print_level(len(topo.replicas), level, flush=True)
        if not level.held:
            break
        n = math.ceil(n * args.growth)
    return levels


def print_level(replicas: int, lv: Level, flush: bool = False) -> None:
    s = lv.sample
    pv = per_viewer(s, lv.idle)
    spread = " ".join(f"{k}:{v}" for k, v in lv.spread.items())
    print(
        f"  {replicas:>8} {s.n:>5} {'yes' if lv.held else 'no':>5} {s.cores:>7.3f} "
        f"{pv:>10.4f} {fmt(1 / pv if pv else None, '.1f'):>12} {fmt(s.slowest_gap_s):>11} "
        f"{fmt(s.p95_gap_s):>8} {lv.rss_per_viewer_mb:>9.1f} {lv.client_cores:>7.2f} "
        f"{s.errors:>6}  {spread}",
        flush=flush,
    )


LEVEL_HEADER = (
    f"  {'replicas':>8} {'N':>5} {'held':>5} {'server':>7} {'per viewer':>10} "
    f"{'viewers/core':>12} {'slowest gap':>11} {'p95 gap':>8} {'RSS/view':>9} "
    f"{'client':>7} {'errors':>6}  tabs per replica"
)


def held_viewers(levels: list[Level]) -> int:
    """The largest N held, 0 if none."""
    return max((lv.sample.n for lv in levels if lv.held), default=0)


# -- failover ---------------------------------------------------------------------------


async def open_tab(
    url: str, cookies: dict[str, str], load_page: bool
) -> tuple[Viewer, asyncio.Task]:
    """A tab whose page has run in full and refreshed its figures once; its task runs on."""
    viewer = Viewer(url, load_page=load_page, cookies=dict(cookies))
    stop = asyncio.Event()
    task = asyncio.create_task(viewer.run(stop))
    task.stop = stop  # type: ignore[attr-defined]
    deadline = time.monotonic() + ATTEMPT_TIMEOUT_S
    while not task.done():
        if time.monotonic() > deadline:
            await close_tab(task)
            raise ConnectionError("the page did not run in time")
        fast = [f for f, every in viewer.timers.items() if every <= FAST_TIMER_S]
        if FULL_RUN in viewer.finished and any(viewer.finished.get(f) for f in fast):
            return viewer, task
        await asyncio.sleep(0.05)
    await task  # raises what ended it
    raise ConnectionError("the session closed before its page ran")


async def close_tab(task: asyncio.Task) -> None:
    task.stop.set()  # type: ignore[attr-defined]
    with contextlib.suppress(Exception):
        await asyncio.wait_for(task, 10)


async def reconnect(url: str, cookies: dict[str, str]) -> tuple[Viewer, asyncio.Task]:
    """The page's WebSocket reconnecting with the old cookie, until its page works again."""
    deadline = time.monotonic() + FAILOVER_TIMEOUT_S
    while True:
        try:
            return await open_tab(url, cookies, load_page=False)
        except Exception:  # refused, closed, timed out: the page tries again
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def one_failover(topo: Topology) -> tuple[float, str, str]:
    """Seconds from the SIGKILL of a tab's replica to its page working again; the names of
    the killed replica and of the one that took the tab."""
    url = f"ws://127.0.0.1:{topo.front}/_stcore/stream"
    viewer, task = await open_tab(url, {}, load_page=True)
    victim = viewer.cookies.get(COOKIE, "")
    proc = topo.replica_process(victim)
    if proc is None:
        raise SystemExit(f"the tab's cookie names no running replica: {viewer.cookies}")
    proc.kill()
    killed = time.monotonic()
    await close_tab(task)
    again, task = await reconnect(url, viewer.cookies)
    took = time.monotonic() - killed
    await close_tab(task)
    return took, victim, again.cookies.get(COOKIE, "?")


def wait_replicas_up(topo: Topology, settle: float = 4.0) -> None:
    """Every replica listens again (make scale restarts a killed one), then HAProxy's health
    checks mark it up (two good checks a second apart)."""
    for port in topo.replicas.values():
        wait_port(port, START_TIMEOUT_S)
    time.sleep(settle)


def failovers(topo: Topology, kills: int) -> list[float]:
    times: list[float] = []
    for i in range(kills):
        wait_replicas_up(topo)
        took, victim, by = asyncio.run(one_failover(topo))
        times.append(took)
        print(f"  kill {i + 1}: {victim} killed, the tab works again on {by} after {took:.2f} s")
    return times


# -- the stream: recorders' lag and message sizes ----------------------------------------


@dataclass
class StreamLog:
    """What a subscriber saw of each interval: its last message's arrival, its facility
    messages, its bytes (topic + payload) and messages, and its payloads."""

    last_seen: dict[int, float] = field(default_factory=dict)
    facilities: dict[int, int] = field(default_factory=dict)
    bytes: dict[int, int] = field(default_factory=dict)
    messages: dict[int, int] = field(default_factory=dict)
    payloads: dict[int, list[dict]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, topic: str, payload: bytes, now: float) -> None:
        with contextlib.suppress(InvalidEvent):
            event, ts = decode_event_at(SCALE_TOPIC, topic, payload)
            if ts is None:
                return
            with self.lock:
                self.last_seen[ts] = now
                self.bytes[ts] = self.bytes.get(ts, 0) + len(topic) + len(payload)
                self.messages[ts] = self.messages.get(ts, 0) + 1
                self.payloads.setdefault(ts, []).append(json.loads(payload))
                if hasattr(event, "facility_id"):
                    self.facilities[ts] = self.facilities.get(ts, 0) + 1


@contextlib.contextmanager
def subscribe(port: int) -> Iterator[StreamLog]:
    seen = StreamLog()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-scale-{os.getpid()}")
    client.on_message = lambda _c, _u, msg: seen.add(msg.topic, msg.payload, time.monotonic())
    client.on_connect = lambda c, *_: c.subscribe(build_subscription(SCALE_TOPIC), qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        yield seen
    finally:
        client.loop_stop()
        client.disconnect()


def committed_counts(conn: psycopg.Connection, since: int) -> dict[int, int]:
    rows = conn.execute(
        "SELECT extract(epoch FROM ts)::bigint, count(*) FROM facility_readings "
        "WHERE ts >= to_timestamp(%s) GROUP BY 1",
        (since,),
    ).fetchall()
    return {int(ts): int(n) for ts, n in rows}


def recorder_lag(topo: Topology, seconds: float) -> tuple[list[float], StreamLog]:
    """Per interval: from its last message on the broker to all its facility rows committed."""
    lags: dict[int, float] = {}
    with subscribe(topo.broker) as seen, psycopg.connect(topo.store, autocommit=True) as conn:
        time.sleep(3)  # past the retained messages and into the live stream
        start = time.monotonic()
        first = max(seen.last_seen, default=0) + 1
        while time.monotonic() - start < seconds:
            now = time.monotonic()
            with seen.lock:
                newest = max(seen.last_seen, default=0)
                # an interval is complete once the next one has begun
                done = {t: seen.facilities.get(t, 0) for t in seen.last_seen if first <= t < newest}
            for ts, n in committed_counts(conn, first).items():
                if ts in done and ts not in lags and n >= done[ts]:
                    lags[ts] = now - seen.last_seen[ts]
            time.sleep(0.05)
    return sorted(lags.values()), seen


def stream_sizes(seen: StreamLog) -> dict[str, float]:
    """Bytes and messages per interval (medians), and the newest complete interval as a JSON
    snapshot, raw and gzipped."""
    with seen.lock:
        complete = sorted(seen.bytes)[1:-1]  # the first may be partial, the last is open
        sizes = [seen.bytes[t] for t in complete]
        counts = [seen.messages[t] for t in complete]
        snapshot = json.dumps(seen.payloads[complete[-1]], separators=(",", ":")).encode()
    return {
        "intervals": len(complete),
        "bytes": float(quantile(sizes, 0.5) or 0),
        "messages": float(quantile(counts, 0.5) or 0),
        "json": len(snapshot),
        "json_gz": len(gzip.compress(snapshot, 9)),
    }


def page_png(front: int, tmp: Path) -> int:
    """The bytes of a PNG of the page through HAProxy (Chromium, 1500×1000 viewport)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
            page.goto(f"http://127.0.0.1:{front}/", timeout=60_000)
            page.wait_for_timeout(15_000)  # the map and charts drawn
            shot = tmp / "page.png"
            page.screenshot(path=str(shot))
            return shot.stat().st_size
        finally:
            browser.close()


# -- the run -----------------------------------------------------------------------------


def bench_replicas(n: int, args: argparse.Namespace, tmp: Path) -> list[Level]:
    with topology(n, tmp, args.restart_after) as topo:
        return ramp(topo, args)


def bench_extras(args: argparse.Namespace, tmp: Path) -> dict[str, object]:
    """Failover, lag, stream and snapshot sizes, on a topology of the most replicas."""
    out: dict[str, object] = {}
    with topology(max(args.replicas), tmp, args.restart_after) as topo:
        open_replicas(topo)
        lags, seen = recorder_lag(topo, args.lag)
        out["lag"] = lags
        out["stream"] = stream_sizes(seen)
        if args.browser:
            out["png"] = page_png(topo.front, tmp)
        print("\nfailover (SIGKILL of the replica that serves a tab)", flush=True)
        out["failover"] = failovers(topo, args.kills)
    return out


def print_summary(held: dict[int, list[Level]], extras: dict[str, object]) -> None:
    print("\nsummary")
    base = held_viewers(held[min(held)]) if held else 0
    cores = os.cpu_count() or 1
    for n, levels in held.items():
        best = held_viewers(levels)
        ratio = f"{best / base:.2f}" if base else "-"
        idle = levels[0].idle if levels else 0.0
        print(
            f"  {n} replica(s): {best} viewers held ({best / cores:.1f} per core of {cores}); "
            f"{ratio} × 1 replica's; the ingest alone {idle:.3f} cores"
        )
    lags = extras.get("lag") or []
    print(
        f"  recorders' lag, last message of an interval to all its rows committed: median "
        f"{fmt(quantile(lags, 0.5))} s, p95 {fmt(quantile(lags, 0.95))} s over {len(lags)} intervals"  # type: ignore[arg-type]
    )
    fails = extras.get("failover") or []
    print(
        f"  failover, SIGKILL to the tab working on another replica: median "
        f"{fmt(quantile(fails, 0.5))} s, p95 {fmt(quantile(fails, 0.95))} s over {len(fails)} kills"  # type: ignore[arg-type]
    )
    s = extras.get("stream")
    if s:
        print(
            f"  one interval of the stream: {s['messages']:.0f} messages, {s['bytes']:.0f} bytes "  # type: ignore[index]
            f"of topics and payloads (median of {s['intervals']:.0f}); as a JSON snapshot "  # type: ignore[index]
            f"{s['json']:.0f} bytes, {s['json_gz']:.0f} gzipped"  # type: ignore[index]
        )
    if "png" in extras:
        print(f"  a PNG of the page (1500×1000): {extras['png']} bytes")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicas", default="1,2,3", help="replica counts to measure (1,2,3)")
    p.add_argument("--start", type=int, default=20, help="viewers in the first window (20)")
    p.add_argument("--growth", type=float, default=1.6, help="N grows by this factor (1.6)")
    p.add_argument("--max", type=int, default=400, help="at most this many viewers (400)")
    p.add_argument("--measure", type=float, default=20.0, help="seconds per window (20)")
    p.add_argument("--warmup", type=float, default=15.0, help="seconds before a window (15)")
    p.add_argument("--kills", type=int, default=6, help="replicas killed for failover (6)")
    p.add_argument("--lag", type=float, default=60.0, help="seconds of lag measured (60)")
    p.add_argument("--restart-after", type=float, default=3.0, help="make scale's (3 s)")
    p.add_argument("--no-browser", dest="browser", action="store_false", help="no PNG")
    p.add_argument("--quick", action="store_true", help="a few minutes: fewer, shorter windows")
    args = p.parse_args(argv)
    args.replicas = sorted({int(n) for n in args.replicas.split(",")})
    if args.quick:
        args.start, args.growth, args.measure, args.warmup = 20, 2.0, 10.0, 12.0
        args.kills, args.lag = 3, 20.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists():
        print("haproxy not found: apt-get install haproxy", file=sys.stderr)
        return 2
    if args.browser and not CHROMIUM.exists():
        args.browser = False
    print(
        f"make scale's topology, the shipped week at 1 interval/s; {args.measure:g} s windows "
        f"after {args.warmup:g} s; held: every tab's slowest gap between two refreshes of the "
        f"2 s figures <= {HELD_GAP_S:g} s, no error; on {os.cpu_count()} cores shared with "
        f"the load client (and whatever else runs)\n\n{LEVEL_HEADER}",
        flush=True,
    )
    held: dict[int, list[Level]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp_name:
            tmp = Path(tmp_name)
            for n in args.replicas:
                held[n] = bench_replicas(n, args, tmp)
            extras = bench_extras(args, tmp)
    except psycopg.OperationalError:
        print(f"PostgreSQL is not reachable at {PG_ADMIN}: start it", file=sys.stderr)
        return 2
    print_summary(held, extras)
    return 0


if __name__ == "__main__":
    sys.exit(main())
