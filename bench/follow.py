"""The follower's CPU and memory over a simulated day: do they stay flat?

    .venv/bin/python bench/follow.py [--source oe] [--speed 240] [--hours 24] [--keep 1]
                                     [--dataset nem] [--credits 500] [-v]

``--source oe`` (the default) starts the OE simulator in live mode (``python -m oesim --live
--clock-speed SPEED``) and ``extractor.py --follow --api-clock-speed SPEED`` against it, lets
it fill ``--keep`` days, then samples the extractor's CPU (% of a core over each second) and
RSS every second for ``--hours`` simulated hours (``hours × 3600 / speed`` s of wall time: 6
minutes for a day at 240x, one interval and one market poll every 1.25 s; a sweep of the 9
batches of the ``nem`` dataset takes 4.5 s at the client's 2 requests a second, 18 simulated
minutes). Prints, for the first and the last quarter of the samples, the follower's CPU time
per poll (sweeps included) and its median RSS, and their ratios: a follower whose cache,
watermarks and logs are bounded keeps both near 1. (CPU per second is printed too, but it
follows how fast the simulator answers, which varies with the simulated time of day.) The
first quarter already holds a full cache (the fill is left out), so any growth is the
follower's own.

    .venv/bin/python bench/follow.py --source nemweb [--speed 240] [--hours 24] [--keep 1] [-v]

``--source nemweb`` follows the simulator's NEMweb face instead (``extractor.py --follow
--source nemweb``: no ``--poll-every``, a request every 0.02 s against the simulator) and
adds ``publisher.py --follow --delay 0`` on a mosquitto of its own (ephemeral port), with a
paho subscriber on ``bench/follow/facility/+``. After the fill the publisher starts, and
sampling starts once its backlog (the filled day) is through. The files of the interval
ending at T appear at T + ``oesim.nemweb_publish.publish_times(seed, T)`` on the simulated
clock, mapped to wall time as ``LiveSim`` does (the drift of that mapping over the run is
printed). For each interval whose files appear while sampling (but for the last 4), it
measures the lag from that appearance to the first facility message of the interval on
MQTT, and, as the baseline of the same run, to the follower's cache write that first held
its facility values (the file's mtime, looked at every 20 ms): median, p95 and max, in wall
and simulated seconds, and their difference, the publisher's hop (it looks at the file every
0.5 s). From the simulator's request log (``/Reports`` paths, while sampling): the median
per interval of index reads and files fetched, their bytes, and the simulator's time
answering them, an index read counted with the interval of the next file fetched. Then CPU
per poll and RSS, first vs last quarter, as above; polls per interval; and whether the
follower kept up: every interval published, and the median lag to the cache write of the
last quarter within one interval of the first quarter's. ``-v`` adds the follower's log and
one line per interval. A poll of the follower (2 index reads and 2 files) costs about 0.1 s
of CPU and 40 ms of the simulator's, well within the 1.25 s an interval lasts at 240x: the
default speed is 240 for both sources.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support_follow import INTERVAL_S, LiveSim, Program  # noqa: I001

from conftest import PYTHON, Mosquitto, clean_subprocess_env

from nemlive.common.errors import InputError
from nemlive.common.nemtime import format_nem_epoch
from nemlive.extract import livecache, nemweb
from oesim.nemweb_publish import publish_times

SEED = 2025
TOPIC = "bench/follow"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", choices=("oe", "nemweb"), default="oe", help="what to follow")
    p.add_argument("--speed", type=float, default=240.0, help="simulated seconds per second")
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours to sample")
    p.add_argument("--keep", type=float, default=1.0, help="--keep of the follower (days)")
    p.add_argument("--dataset", default="nem", help="simulator dataset (nem: 259 facilities)")
    p.add_argument("--credits", type=int, default=500, help="credits a simulated day")
    p.add_argument("-v", "--verbose", action="store_true", help="print the follower's log")
    return p.parse_args()


def quarter_medians(values: list[float]) -> tuple[float, float]:
    q = max(len(values) // 4, 1)
    return statistics.median(values[:q]), statistics.median(values[-q:])


@dataclass
class Samples:
    """Per second: CPU % of one core, RSS (MiB), the running totals of CPU s and polls, and
    the machine's load average."""

    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    polls: list[int] = field(default_factory=list)
    load: list[float] = field(default_factory=list)  # the machine's 1-minute load average

    def per_poll_ms(self, lo: int, hi: int) -> float:
        """CPU ms per poll between samples ``lo`` and ``hi``."""
        polls = self.polls[hi] - self.polls[lo]
        return 1000 * (self.cpu_s[hi] - self.cpu_s[lo]) / polls if polls else float("nan")


def sample(proc: psutil.Process, log: Path, seconds: float) -> Samples:
    """One sample a second for ``seconds``: the follower's CPU, RSS and polls so far."""
    out = Samples()
    last_t, last_cpu = time.monotonic(), sum(proc.cpu_times()[:2])
    deadline = last_t + seconds
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now, used = time.monotonic(), sum(proc.cpu_times()[:2])
        out.cpu.append(100.0 * (used - last_cpu) / (now - last_t))
        out.rss.append(proc.memory_info().rss / 2**20)
        out.cpu_s.append(used)
        out.polls.append(log.read_text().count("poll: "))
        out.load.append(os.getloadavg()[0])
        last_t, last_cpu = now, used
    return out


def main() -> int:
    args = parse_args()
    return follow_nemweb(args) if args.source == "nemweb" else follow_oe(args)


def follow_oe(args: argparse.Namespace) -> int:
    extra = ("--credits", str(args.credits), "--seed", str(SEED))
    sim = LiveSim(speed=args.speed, dataset=args.dataset, extra=extra).start()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        argv = [
            PYTHON,
            str(ROOT / "extractor.py"),
            "--follow",
            "--source",
            "oe",
            "--keep",
            f"{args.keep:g}",
            "--poll-every",
            f"{300 / args.speed:g}",
            "--api-clock-speed",
            f"{args.speed:g}",
            "--out",
            str(out / "consolidate.csv"),
            "--facilities-out",
            str(out / "facilities.csv"),
        ]
        log = (out / "extractor.log").open("w")  # kept for the summary
        ext = subprocess.Popen(argv, cwd=ROOT, env=clean_subprocess_env(**sim.env()), stderr=log)
        try:
            while not (out / "consolidate.meta.json").exists():
                if ext.poll() is not None:
                    print((out / "extractor.log").read_text(), file=sys.stderr)
                    return 1
                time.sleep(0.2)
            wall = args.hours * 3600 / args.speed
            print(
                f"follower filled {args.keep:g} day(s); sampling {args.hours:g} simulated hours "
                f"at {args.speed:g}x ({wall:.0f} s)",
                flush=True,
            )
            got = sample(psutil.Process(ext.pid), out / "extractor.log", wall)
        finally:
            ext.terminate()
            ext.wait(timeout=30)
            sim.stop()
            log.close()
        text = (out / "extractor.log").read_text()
        if args.verbose:
            print(text)
        polls, sweeps = text.count("poll: "), text.count(" batches, +")
        refused = text.count("refused")
    report(got, polls, sweeps, refused)
    return 0


def report(got: Samples, polls: int, sweeps: int | None, refused: int) -> None:
    """The CPU and RSS lines; ``sweeps`` None for a follower without sweeps (NEMweb's)."""
    n = len(got.cpu)
    q = max(n // 4, 1)
    cpu_a, cpu_b = quarter_medians(got.cpu)
    rss_a, rss_b = quarter_medians(got.rss)
    per_a, per_b = got.per_poll_ms(0, q - 1), got.per_poll_ms(n - q, n - 1)
    swept = "" if sweeps is None else f"{sweeps} sweeps, "
    print(f"{n} samples, {polls} polls, {swept}{refused} refusals")
    print(
        f"CPU per poll (ms{'' if sweeps is None else ', sweeps included'}): first quarter "
        f"{per_a:.0f}, last {per_b:.0f}, "
        f"ratio {per_b / per_a:.2f}"
    )
    print(
        f"CPU (% of a core, set by how fast the simulator answers): first quarter median "
        f"{cpu_a:.1f}, last {cpu_b:.1f}"
    )
    print(
        f"RSS (MiB): first quarter median {rss_a:.1f}, last {rss_b:.1f}, ratio {rss_b / rss_a:.3f}; "
        f"max {max(got.rss):.1f}"
    )


# --- --source nemweb ---------------------------------------------------------------------------


class Arrivals:
    """A paho subscriber on ``topic/facility/+``: when (time.monotonic()) the first facility
    message of each interval (epoch s of its timestamp) arrived."""

    def __init__(self, port: int, topic: str) -> None:
        self.first: dict[int, float] = {}
        self.topic = topic
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-follow-sub"
        )
        self.client.on_connect = lambda c, *_: c.subscribe(f"{topic}/facility/+", qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        stamp = json.loads(msg.payload)["timestamp"]
        self.first.setdefault(int(datetime.fromisoformat(stamp).timestamp()), now)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class CacheWatch:
    """When each interval's facility values were first written to the cache: the mtime of
    the first version of the file that held them, as time.monotonic(). Looks every 20 ms."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.first: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seen: tuple[int, int] | None = None
        while not self._stop.wait(0.02):
            try:
                with self.path.open("rb") as fh:  # the stat and the bytes of one version
                    st = os.fstat(fh.fileno())
                    if (st.st_ino, st.st_mtime_ns) == seen:
                        continue
                    seen = (st.st_ino, st.st_mtime_ns)
                    data = fh.read()
                table = livecache.parse_cache(data, str(self.path))
            except (OSError, ValueError, InputError):
                continue  # not there yet, or replaced while read: the next look has it
            written = st.st_mtime_ns / 1e9 - (time.time() - time.monotonic())
            n_fac = 2 * len(table.facility_ids)
            has = ~np.isnan(table.values[:, :n_fac]).all(axis=1)
            for t in table.times[has].tolist():
                self.first.setdefault(int(t), written)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def nemweb_argv(args: argparse.Namespace, out: Path) -> list[str]:
    return [
        "extractor.py",
        "--follow",
        "--source",
        "nemweb",
        "--keep",
        f"{args.keep:g}",
        "--api-clock-speed",
        f"{args.speed:g}",
        "--out",
        str(out / "consolidate.csv"),
        "--facilities-out",
        str(out / "facilities.csv"),
    ]


def publisher_argv(out: Path, port: int) -> list[str]:
    return [
        "publisher.py",
        "--follow",
        "--csv",
        str(out / "consolidate.csv"),
        "--port",
        str(port),
        "--topic",
        TOPIC,
        "--delay",
        "0",
        "--no-embedded-broker",
        "--progress-every",
        "0",
    ]


@dataclass
class NemwebRun:
    """What a ``--source nemweb`` run measured."""

    sim: LiveSim
    samples: Samples
    window: tuple[float, float]  # time.monotonic() of the sampling's start and end
    published: dict[int, float]  # interval -> first MQTT facility message
    written: dict[int, float]  # interval -> first cache write holding its facilities
    requests: list[dict[str, Any]]  # the simulator's NEMweb requests while sampling
    log: str
    clock_drift_s: float  # simulated clock at the end minus LiveSim's mapping of it

    def appears_at(self, t: int) -> float:
        """time.monotonic() at which the simulator lists the files of the interval ``t``."""
        published = int(publish_times(SEED, np.array([t]))[0])
        return self.sim.wall0 + (published - self.sim.sim0) / self.sim.speed

    def intervals(self) -> list[int]:
        """The intervals whose files appeared while sampling, but for the last 4 intervals
        (their values may be on the way still)."""
        lo, hi = self.window
        hi -= 4 * INTERVAL_S / self.sim.speed
        t_lo = int(self.sim.sim0 + (lo - self.sim.wall0) * self.sim.speed) // INTERVAL_S
        t_hi = int(self.sim.sim0 + (hi - self.sim.wall0) * self.sim.speed) // INTERVAL_S
        stamps = range((t_lo - 1) * INTERVAL_S, (t_hi + 1) * INTERVAL_S, INTERVAL_S)
        return [t for t in stamps if lo <= self.appears_at(t) <= hi]


def wait_until(what: str, predicate: Callable[[], bool], timeout: float, *progs: Program) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        for prog in progs:
            assert prog.proc is not None
            if prog.proc.poll() is not None:
                raise SystemExit(f"{prog.name} exited {prog.proc.returncode}:\n{prog.text()}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def follow_nemweb(args: argparse.Namespace) -> int:
    sim = LiveSim(speed=args.speed, dataset=args.dataset, extra=("--seed", str(SEED))).start()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        out = Path(tmp)
        stack.callback(sim.stop)
        (out / "mqtt").mkdir()
        broker = Mosquitto(out / "mqtt", persistence=False).start()
        stack.callback(broker.stop)
        ext = Program("extractor", nemweb_argv(args, out), out / "extractor.log", sim.env())
        stack.callback(stop_program, ext)
        pub = Program("publisher", publisher_argv(out, broker.port), out / "publisher.log")
        stack.callback(stop_program, pub)
        ext.start()
        wait_until("the fill", lambda: ext.count("poll: ") >= 1, 600, ext)
        arrivals = Arrivals(broker.port, TOPIC)
        stack.callback(arrivals.close)
        watch = CacheWatch(out / "consolidate.csv")
        stack.callback(watch.close)
        pub.start()
        newest = max(watch.first or [0]) if wait_for_watch(watch) else 0
        wait_until("the publisher's backlog", lambda: newest in arrivals.first, 600, ext, pub)
        run = sample_nemweb(args, sim, ext, arrivals, watch)
        if args.verbose:
            print(run.log)
            print_intervals(run)
    report(run.samples, run.log.count("poll: "), None, run.log.count("refused"))
    report_nemweb(run)
    return 0


def stop_program(program: Program) -> None:
    """SIGTERM, then SIGKILL if it has not stopped within 20 s (when it was started)."""
    if program.proc is None:
        return
    try:
        program.stop(signal.SIGTERM)
    except subprocess.TimeoutExpired:
        program.kill()


def wait_for_watch(watch: CacheWatch) -> bool:
    deadline = time.monotonic() + 30
    while not watch.first and time.monotonic() < deadline:
        time.sleep(0.1)
    return bool(watch.first)


def sample_nemweb(
    args: argparse.Namespace, sim: LiveSim, ext: Program, arrivals: Arrivals, watch: CacheWatch
) -> NemwebRun:
    wall = args.hours * 3600 / args.speed
    print(
        f"follower filled {args.keep:g} day(s) from NEMweb, publisher caught up; sampling "
        f"{args.hours:g} simulated hours at {args.speed:g}x ({wall:.0f} s)",
        flush=True,
    )
    assert ext.proc is not None
    before = len(sim.requests())
    start = time.monotonic()
    got = sample(psutil.Process(ext.proc.pid), ext.log, wall)
    end = time.monotonic()
    time.sleep(2 * INTERVAL_S / args.speed)  # the last intervals' values on their way
    clock = sim.admin("clock")["now"]
    drift = datetime.fromisoformat(clock.replace("Z", "+00:00")).timestamp() - sim.sim_now()
    records = sim.requests()
    if len(records) >= 10_000:
        print("warning: the simulator's request log is full; requests are undercounted")
    nemweb_records = [r for r in records[before:] if r["path"].startswith("/Reports")]
    return NemwebRun(
        sim,
        got,
        (start, end),
        dict(arrivals.first),
        dict(watch.first),
        nemweb_records,
        ext.text(),
        drift,
    )


@dataclass
class IntervalRequests:
    """The NEMweb requests that brought one interval: bytes of each index read and file, and
    the simulator's time answering them (s)."""

    index: list[int] = field(default_factory=list)
    files: list[int] = field(default_factory=list)
    server_s: float = 0.0


def per_interval(records: list[dict[str, Any]]) -> dict[int, IntervalRequests]:
    """Interval -> its requests: an index read counts with the interval of the next file
    fetched (the polls that found it)."""
    out: dict[int, IntervalRequests] = {}
    pending = IntervalRequests()
    for r in records:
        pending.server_s += float(r["elapsed_s"])
        if r["path"].endswith("/"):
            pending.index.append(int(r["bytes"]))
            continue
        f = nemweb.parse_file_name(r["path"])
        if f is None:  # the CDEII file: not an interval's
            continue
        group = out.setdefault(f.interval_end, IntervalRequests())
        group.index += pending.index
        group.files.append(int(r["bytes"]))
        group.server_s += pending.server_s
        pending = IntervalRequests()
    return out


def print_requests(rows: list[IntervalRequests]) -> None:
    def med(values: Any) -> float:
        return float(statistics.median(values))

    print(
        f"per interval (median of {len(rows)}): "
        f"index reads {med(len(g.index) for g in rows):g} "
        f"({med(sum(g.index) for g in rows) / 1024:.1f} kB), "
        f"files {med(len(g.files) for g in rows):g} "
        f"({med(sum(g.files) for g in rows) / 1024:.1f} kB), "
        f"all {med(len(g.index) + len(g.files) for g in rows):g} requests "
        f"({med(sum(g.index) + sum(g.files) for g in rows) / 1024:.1f} kB); "
        f"the simulator answering them {1000 * med(g.server_s for g in rows):.0f} ms wall"
    )


def print_intervals(run: NemwebRun) -> None:
    """One line per interval: when its files appeared (simulated s after its end) and the
    lags to the cache write and to MQTT (wall s)."""
    for t in run.intervals():
        appears = run.appears_at(t)
        after = int(publish_times(SEED, np.array([t]))[0]) - t
        cache = run.written.get(t, float("nan")) - appears
        sent = run.published.get(t, float("nan")) - appears
        print(
            f"{format_nem_epoch(t, '%d %b %H:%M')} +{after} s: cache {cache:.2f} s, "
            f"MQTT {sent:.2f} s"
        )


def lag_line(name: str, lags: list[float], speed: float) -> str:
    if not lags:
        return f"{name}: none measured"
    med, p95 = float(np.median(lags)), float(np.percentile(lags, 95))
    return (
        f"{name}: median {med:.2f} s wall ({med * speed:.0f} s simulated), "
        f"p95 {p95:.2f} s ({p95 * speed:.0f} s), max {max(lags):.2f} s ({max(lags) * speed:.0f} s)"
    )


def report_nemweb(run: NemwebRun) -> None:
    speed = run.sim.speed
    intervals = run.intervals()
    to_cache = [run.written[t] - run.appears_at(t) for t in intervals if t in run.written]
    to_mqtt = [run.published[t] - run.appears_at(t) for t in intervals if t in run.published]
    hop = [
        run.published[t] - run.written[t]
        for t in intervals
        if t in run.published and t in run.written
    ]
    missing = [t for t in intervals if t not in run.published]
    print(
        f"{len(intervals)} intervals appeared while sampling (an interval is "
        f"{INTERVAL_S / speed:.2f} s of wall time); {len(missing)} not published; "
        f"simulated clock drift from the mapping {run.clock_drift_s:+.1f} s"
    )
    print(lag_line("file appears -> cache write (baseline)", to_cache, speed))
    print(lag_line("file appears -> MQTT publish", to_mqtt, speed))
    print(lag_line("publisher's hop (cache write -> MQTT)", hop, speed))
    groups = per_interval(run.requests)
    rows = [groups[t] for t in intervals if t in groups]
    if rows:
        print_requests(rows)
        first, last = quarter_medians([1000 * g.server_s for g in rows])
        print(
            f"the simulator answering an interval's requests (ms): first quarter {first:.0f}, last {last:.0f}"
        )
    load_a, load_b = quarter_medians(run.samples.load)
    print(
        f"machine load (1-minute average, {os.cpu_count()} CPUs): first quarter median "
        f"{load_a:.1f}, last {load_b:.1f}, max {max(run.samples.load):.1f}"
    )
    report_keeping_up(run, intervals, to_cache, missing)


def report_keeping_up(
    run: NemwebRun, intervals: list[int], to_cache: list[float], missing: list[int]
) -> None:
    """Kept up: every interval published, and the lag to the cache write of the last
    quarter within an interval of the first quarter's (it does not grow)."""
    speed = run.sim.speed
    got = run.samples
    if len(got.polls) > 1:
        # samples are a second apart: (n - 1) s of wall time between the first and the last
        elapsed = (len(got.polls) - 1) * speed / INTERVAL_S
        print(f"polls per interval: {(got.polls[-1] - got.polls[0]) / elapsed:.2f}")
    if not to_cache:
        print(f"kept up at {speed:g}x: NO (no interval written)")
        return
    first, last = quarter_medians(to_cache)
    grows = last - first
    ok = not missing and grows < INTERVAL_S / speed
    print(
        f"lag to the cache write, median: first quarter {first:.2f} s, last {last:.2f} s; "
        f"kept up at {speed:g}x: {'yes' if ok else 'NO'}"
    )


if __name__ == "__main__":
    sys.exit(main())
