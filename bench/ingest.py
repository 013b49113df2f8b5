"""Benchmark the dashboard's validated ingest against a bare paho subscriber on the same stream.

    .venv/bin/python bench/ingest.py [--messages 50000] [--rounds 5]

One mosquitto (ephemeral port, 127.0.0.1). Two persistent QoS 1 sessions subscribe to the
stream and disconnect: a bare paho client that only counts, and the dashboard's ``Ingest``
(decode + Pydantic validation + LiveState under its lock, in batches). The same ``--messages``
facility and market events are then published once and queued by the broker for both; each
subscriber reconnects in turn and is timed from connect until its last message is counted
(ours: validated and stored). Both wait on an Event, not a polling loop. Rounds alternate the
order. Prints the median rates, their ratio (target >= 0.8) and whether anything was lost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import Mosquitto

from nemlive.common.events import REGIONS, encode_facility_event, encode_market_event
from nemlive.common.mqttconfig import resolve_mqtt_settings
from nemlive.common.nemtime import NEM_TZ
from nemlive.dashboard.ingest import Ingest
from nemlive.dashboard.livestate import DEFAULT_BATCH, LiveState

BASE = "bench/ingest"
N_FACILITIES = 500


def build_stream(n: int, start_interval: int) -> list[tuple[str, bytes]]:
    """``n`` events in publisher order (500 facilities then 5 regions per row), fresh timestamps."""
    out: list[tuple[str, bytes]] = []
    k = start_interval
    t0 = datetime(2025, 10, 1, 0, 5, tzinfo=NEM_TZ)
    while len(out) < n:
        ts = (t0 + timedelta(minutes=5 * k)).isoformat(timespec="seconds")
        for i in range(N_FACILITIES):
            out.append(
                (
                    f"{BASE}/facility/F{i:04d}",
                    encode_facility_event(f"F{i:04d}", ts, 100.0 + i + k % 7, 1.5),
                )
            )
        for r in REGIONS:
            out.append((f"{BASE}/market/{r}", encode_market_event(r, ts, 80.0 + k % 13, 5000.0)))
        k += 1
    return out[:n]


def publish(port: int, events: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-ingest-pub"
    )
    client.max_inflight_messages_set(200)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in events]
    for info in infos:
        info.wait_for_publish(timeout=120)
    client.disconnect()
    client.loop_stop()


class Bare:
    """A paho subscriber that only counts: the baseline."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.count = 0
        self.done = threading.Event()
        self.expected = 0
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="bench-bare",
            clean_session=False,
        )
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(f"{BASE}/#", qos=1)
        c.on_message = self._on_message
        self.client = c

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.count += 1
        if self.count >= self.expected:
            self.done.set()

    def session(self) -> None:
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        time.sleep(0.5)
        self.client.disconnect()
        self.client.loop_stop()

    def drain(self, expected: int) -> float:
        self.count, self.expected = 0, expected
        self.done.clear()
        t0 = time.perf_counter()
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        if not self.done.wait(timeout=300):
            raise SystemExit(f"bare subscriber got {self.count}/{expected} messages")
        elapsed = time.perf_counter() - t0
        self.client.disconnect()
        self.client.loop_stop()
        return elapsed


class Ours:
    """The dashboard's Ingest on a persistent session, writing into one LiveState."""

    def __init__(self, port: int, batch: int = DEFAULT_BATCH) -> None:
        self.settings = resolve_mqtt_settings({}, host="127.0.0.1", port=port, topic=BASE)
        self.state = LiveState(
            {f"F{i:04d}" for i in range(N_FACILITIES)}, history_len=288, batch=batch
        )

    def _ingest(self) -> Ingest:
        return Ingest(self.settings, self.state, client_id="bench-ours", clean_session=False)

    def session(self) -> None:
        ingest = self._ingest().start()
        time.sleep(0.5)
        ingest.stop()

    def drain(self, expected: int) -> float:
        """Seconds from connect until ``expected`` messages are validated and stored.

        Like the bare client, it waits on an Event rather than polling: a counting wrapper
        around ``LiveState.receive`` (one extra call per message, charged to us) sets it, and
        ``counts()`` then stores the last partial batch inside the timing.
        """
        state = self.state
        before = state.counts()[0]
        done = threading.Event()
        seen = 0
        receive = state.receive

        def counting_receive(base: str, topic: str, payload: bytes, retained: bool) -> None:
            nonlocal seen
            receive(base, topic, payload, retained)
            seen += 1
            if seen >= expected:
                done.set()

        state.receive = counting_receive  # type: ignore[method-assign]
        try:
            t0 = time.perf_counter()
            ingest = self._ingest().start()
            if not done.wait(timeout=300):
                raise SystemExit(f"our ingest got {seen}/{expected} messages within 300 s")
            stored = state.counts()[0] - before
            elapsed = time.perf_counter() - t0
            ingest.stop()
        finally:
            del state.receive
        if stored != expected:
            raise SystemExit(f"our ingest counted {stored} of {expected} messages")
        return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--batch",
        type=int,
        default=DEFAULT_BATCH,
        help=f"raw messages queued before validation (default {DEFAULT_BATCH}; 1 = each at once)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(workdir=Path(tmp), persistence=False).start()
        try:
            bare, ours = Bare(broker.port), Ours(broker.port, args.batch)
            bare.session()
            ours.session()
            rates: dict[str, list[float]] = {"bare": [], "ours": []}
            for rnd in range(args.rounds):
                events = build_stream(
                    args.messages, start_interval=rnd * (args.messages // 505 + 2)
                )
                publish(broker.port, events)
                order = (
                    [("bare", bare), ("ours", ours)]
                    if rnd % 2 == 0
                    else [("ours", ours), ("bare", bare)]
                )
                for name, sub in order:
                    elapsed = sub.drain(len(events))
                    rates[name].append(len(events) / elapsed)
                    print(
                        f"round {rnd + 1} {name:4s}: {len(events):,} messages in {elapsed:.2f} s = {len(events) / elapsed:,.0f} msg/s"
                    )
            snap = ours.state.snapshot(histories=False)
            expected_total = args.messages * args.rounds
            lost = expected_total - snap.accepted
            med_bare, med_ours = statistics.median(rates["bare"]), statistics.median(rates["ours"])
            print(f"median bare paho subscriber: {med_bare:,.0f} msg/s")
            print(f"median validated ingest:     {med_ours:,.0f} msg/s")
            print(f"ratio ingest/bare: {med_ours / med_bare:.2f} (target >= 0.8)")
            print(
                f"ingest: accepted {snap.accepted:,} of {expected_total:,}, rejected {snap.rejected}, "
                f"duplicates {snap.duplicates}, lost {lost}"
            )
            ok = med_ours / med_bare >= 0.8 and lost == 0
            print("PASS" if ok else "FAIL")
            return 0 if ok else 1
        finally:
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
