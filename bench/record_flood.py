"""Measure the recorder's memory under a QoS 0 flood while its SQLite store is locked.

    .venv/bin/python bench/record_flood.py [--seconds 20]

One mosquitto (ephemeral port, 127.0.0.1) and ``recorder.py`` as a subprocess, recording into
a fresh SQLite file. Once the recorder has subscribed, another connection takes the store
with ``BEGIN EXCLUSIVE`` and holds it, so no batch can be written; then a paho client
publishes well-formed facility events at QoS 0 as fast as it can for ``--seconds``, cycling
through the facilities of data/facilities.csv (ids the recorder records, so that every batch
waits for the store). The recorder's resident memory (VmRSS) is sampled
every half second. Prints messages sent, RSS before, at its peak and at the end (MiB), and the
recorder's last progress line.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import Mosquitto, clean_subprocess_env

from nemlive.common.events import encode_facility_event
from nemlive.common.lookups import load_facilities

TS = "2025-10-15T10:05:00+10:00"


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_for(log: Path, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text():
            return
        time.sleep(0.1)
    raise SystemExit(f"no {text!r} in the recorder's log:\n{log.read_text()}")


def flood(port: int, seconds: float, proc: subprocess.Popen) -> tuple[int, float]:
    """Publish QoS 0 events for ``seconds``; return (messages sent, peak RSS MiB)."""
    payloads = [
        (f"nem/stream/facility/{ident}", encode_facility_event(ident, TS, 1.0, 0.5))
        for ident in load_facilities()
    ]
    ids = len(payloads)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-flood")
    client.connect("127.0.0.1", port)
    client.loop_start()
    sent, peak, next_sample = 0, 0.0, 0.0
    end = time.monotonic() + seconds
    while (now := time.monotonic()) < end:
        for topic, payload in payloads[sent % ids : sent % ids + 500]:
            client.publish(topic, payload, qos=0)
            sent += 1
        if now >= next_sample:
            peak = max(peak, rss_mib(proc.pid))
            next_sample = now + 0.5
    client.disconnect()
    client.loop_stop()
    return sent, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        broker = Mosquitto(workdir=tmp, persistence=False).start()
        db, log = tmp / "flood.db", tmp / "recorder.log"
        proc = subprocess.Popen(
            [
                *(sys.executable, str(ROOT / "recorder.py"), "--port", str(broker.port)),
                *("--store", f"sqlite:///{db}", "--progress-every", "1"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            env=clean_subprocess_env(),
            cwd=ROOT,
        )
        lock = None
        try:
            wait_for(log, "subscribed to")
            lock = sqlite3.connect(db, isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            before = rss_mib(proc.pid)
            sent, peak = flood(broker.port, args.seconds, proc)
            time.sleep(2.0)  # let the recorder take what the broker had still to send
            after = rss_mib(proc.pid)
            peak = max(peak, after)
            proc.terminate()  # while the store is still locked: what waits is not written
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            if lock is not None:
                lock.execute("ROLLBACK")
                lock.close()
            broker.stop()
        progress = [line for line in log.read_text().splitlines() if "messages recorded" in line]
        print(f"sent {sent:,} QoS 0 messages in {args.seconds:g} s with the store locked")
        print(f"recorder RSS: {before:.1f} MiB before, {peak:.1f} MiB peak, {after:.1f} MiB at end")
        if progress:
            print("last progress line:", progress[-1])
        for line in log.read_text().splitlines():
            if "stopped:" in line or "were not written" in line or "inbox" in line:
                print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
