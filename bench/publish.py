"""Benchmark publisher.py: messages/s at --delay 0 against a bare paho QoS 1 loop, and peak RSS.

    .venv/bin/python bench/publish.py [--csv consolidate.csv] [--runs 5] [--slice-rows 240]

Everything runs in this one invocation on one mosquitto (ephemeral port, 127.0.0.1):

* baseline: a bare paho QoS 1 loop (own process) publishing prebuilt payloads as fast as
  acknowledgements allow, with the publisher's windows (100 in flight, 1,000 unacknowledged);
* publisher: ``publisher.py --delay 0 --cycles 1`` as a subprocess.

Both are timed at a QoS 1 subscriber (own process) from the first to the last message
received, on the first ``--slice-rows`` rows of the week; runs alternate; medians are
printed with their ratio (target >= 0.9). Then publisher.py replays the whole week (a
synthetic 420-facility week unless --csv is given, ~850,000 messages) while its peak RSS is
sampled every 20 ms (target < 300 MB).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nemlive.common.columns import build_header
from nemlive.common.events import REGIONS
from nemlive.common.nemtime import NEM_TZ

PYTHON = sys.executable
WEEK_ROWS = 7 * 24 * 12

SUBSCRIBER = r"""
import json, sys, threading, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, base, expected, idle = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
state = {"n": 0, "first": None, "last": None}
done, ready = threading.Event(), threading.Event()
def on_message(c, u, m):
    if m.topic.endswith("/status"):
        return
    now = time.monotonic()
    if state["first"] is None:
        state["first"] = now
    state["last"] = now
    state["n"] += 1
    if state["n"] >= expected:
        done.set()
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv311)
c.on_message = on_message
c.on_subscribe = lambda *a: ready.set()
c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(base + "/#", qos=1)
c.connect("127.0.0.1", port)
c.loop_start()
ready.wait(10)
print("ready", flush=True)
seen = -1
while not done.wait(idle):
    if state["n"] == seen:
        break
    seen = state["n"]
c.disconnect(); c.loop_stop()
span = (state["last"] - state["first"]) if state["n"] > 1 else 0.0
print(json.dumps({"received": state["n"], "seconds": span}), flush=True)
"""

BARE_LOOP = r"""
import sys, threading, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
sys.path.insert(0, sys.argv[4])
from nemlive.publish.replaytable import RowEncoder, read_replay_table
port, base, csv_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
table = read_replay_table(__import__("pathlib").Path(csv_path))
encoder = RowEncoder(table, base)
messages = [m for row in range(table.rows) for m in encoder.build_row_messages(row, 0)]
lock = threading.Condition()
outstanding = [0]
def on_publish(c, u, mid, rc, p):
    with lock:
        outstanding[0] -= 1
        lock.notify()
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv311)
c.max_inflight_messages_set(100)
c.on_publish = on_publish
c.connect("127.0.0.1", port)
c.loop_start()
t0 = time.monotonic()
for topic, payload in messages:
    with lock:
        while outstanding[0] >= 1000:
            lock.wait()
        outstanding[0] += 1
    info = c.publish(topic, payload, qos=1, retain=True)
    if info.rc not in (0, 4):
        raise SystemExit(f"publish failed: {info.rc}")
with lock:
    while outstanding[0] > 0:
        lock.wait()
print(len(messages) / (time.monotonic() - t0), flush=True)
c.disconnect(); c.loop_stop()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"mosquitto did not listen on 127.0.0.1:{port}")


def write_synthetic_week(path: Path, facilities: int = 420, rows: int = WEEK_ROWS) -> None:
    """A consolidate.csv shaped like a real week: a few % empty cells, 1-3 decimals."""
    rng = random.Random(42)
    codes = [f"SYN{i:04d}" for i in range(facilities)]
    header = build_header(codes, REGIONS)
    start = datetime(2025, 10, 8, 0, 5, tzinfo=NEM_TZ)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for r in range(rows):
            ts = (start + timedelta(minutes=5 * r)).isoformat(timespec="seconds")
            power = [
                "" if rng.random() < 0.02 else repr(round(rng.uniform(0, 700), 3)) for _ in codes
            ]
            emissions = [
                "" if rng.random() < 0.03 else repr(round(rng.uniform(0, 60), 4)) for _ in codes
            ]
            market = [repr(round(rng.uniform(-50, 300), 2)) for _ in REGIONS] + [
                repr(round(rng.uniform(500, 9000), 1)) for _ in REGIONS
            ]
            writer.writerow([ts, *power, *emissions, *market])


def slice_csv(src: Path, dst: Path, rows: int) -> None:
    with src.open(encoding="utf-8") as fin, dst.open("w", encoding="utf-8") as fout:
        for i, line in enumerate(fin):
            if i > rows:
                break
            fout.write(line)


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen, int]:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 10000000\nmax_inflight_messages 1000\n"
        "log_dest stderr\nlog_type error\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL)
    wait_for_port(port)
    return proc, port


def start_subscriber(port: int, base: str, expected: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [PYTHON, "-c", SUBSCRIBER, str(port), base, str(expected), "10"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise SystemExit("the benchmark subscriber did not subscribe")
    return proc


def finish_subscriber(proc: subprocess.Popen, expected: int) -> float:
    out, _ = proc.communicate(timeout=600)
    result = json.loads(out.strip().splitlines()[-1])
    if result["received"] < expected:
        raise SystemExit(f"subscriber received {result['received']} of {expected} messages")
    return result["received"] / result["seconds"]


def count_messages(csv_path: Path) -> int:
    from nemlive.publish.replaytable import read_replay_table

    return read_replay_table(csv_path).messages_per_pass()


def run_bare(port: int, base: str, csv_path: Path, expected: int) -> tuple[float, float]:
    sub = start_subscriber(port, base, expected)
    out = subprocess.run(
        [PYTHON, "-c", BARE_LOOP, str(port), base, str(csv_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return finish_subscriber(sub, expected), float(out.strip())


def run_publisher(
    port: int, base: str, csv_path: Path, expected: int, sample_rss: bool = False
) -> tuple[float, float, float]:
    """(received msg/s, wall seconds, peak RSS MB) for one publisher.py pass."""
    sub = start_subscriber(port, base, expected)
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            PYTHON,
            str(ROOT / "publisher.py"),
            "--csv",
            str(csv_path),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--topic",
            base,
            "--delay",
            "0",
            "--cycles",
            "1",
            "--cooldown",
            "0",
            "--no-embedded-broker",
            "--checkpoint",
            str(csv_path.with_suffix(f".{base.replace('/', '_')}.json")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        if sample_rss:
            try:
                peak = max(peak, ps.memory_info().rss)
            except psutil.NoSuchProcess:
                break
        time.sleep(0.02)
    wall = time.monotonic() - started
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"publisher.py exited {proc.returncode}:\n{err}")
    return finish_subscriber(sub, expected), wall, peak / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", type=Path, help="a week's consolidate.csv (default: synthetic)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--slice-rows", type=int, default=240, help="rows for the throughput runs")
    parser.add_argument("--skip-rss", action="store_true", help="skip the full-week RSS run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        work = Path(tmp)
        week = args.csv
        if week is None:
            week = work / "consolidate.csv"
            write_synthetic_week(week)
        part = work / "slice.csv"
        slice_csv(week, part, args.slice_rows)
        n_slice = count_messages(part)
        broker, port = start_mosquitto(work)
        try:
            bare, bare_ack, pub = [], [], []
            for run in range(args.runs):
                rate, ack_rate = run_bare(port, f"bench/bare{run}", part, n_slice)
                bare.append(rate)
                bare_ack.append(ack_rate)
                pub.append(run_publisher(port, f"bench/pub{run}", part, n_slice)[0])
                print(
                    f"run {run + 1}: bare paho {rate:,.0f} msg/s received "
                    f"({ack_rate:,.0f} acked), publisher.py {pub[-1]:,.0f} msg/s received",
                    flush=True,
                )
            b, p = statistics.median(bare), statistics.median(pub)
            print(f"slice: {args.slice_rows} rows, {n_slice:,} messages per run")
            print(
                f"median bare paho QoS 1 loop : {b:,.0f} msg/s (acked {statistics.median(bare_ack):,.0f})"
            )
            print(f"median publisher.py --delay 0: {p:,.0f} msg/s")
            print(f"ratio publisher/bare        : {p / b:.3f} (target >= 0.9)")
            if not args.skip_rss:
                n_week = count_messages(week)
                rate, wall, peak = run_publisher(port, "bench/week", week, n_week, sample_rss=True)
                print(
                    f"full week: {n_week:,} messages in {wall:.1f}s ({rate:,.0f} msg/s received), "
                    f"peak RSS {peak:.0f} MB (target < 300 MB)"
                )
        finally:
            broker.terminate()
            broker.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
