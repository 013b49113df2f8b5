"""Benchmark the alerter: throughput against a bare paho subscriber, and alert delay.

    .venv/bin/python bench/alerts.py [--intervals 200] [--rounds 3] [--delay-intervals 100]

**Throughput.** One mosquitto (ephemeral port, 127.0.0.1). A bare paho subscriber that only
counts (MQTT 5, QoS 1, the same Receive Maximum, acknowledging on receipt) and the alerter
(``nemlive.alert.AlertService`` running alerts.example.toml: validation, evaluation, the
state file, acknowledgement after it) each own a persistent session. The same stream (the
lookup's 259 facilities and the five regions per interval, publisher order, with trips and
price spikes) is published once per round and queued by the broker for both; each then
connects in turn and is timed until it has counted every message (the alerter: evaluated
the last interval and acknowledged it). Rounds alternate the order. Prints the median rates
and their ratio (target >= 0.8).

**Delay.** The alerter connected, intervals are published at ``--pace`` intervals a second;
every 4th has SA1 above the price rule's threshold. For each alert, the time from the
broker's acknowledgement of its interval's last market event to the alert's arrival at
another subscriber:
median and p95 (market intervals are evaluated once the five regions have reported).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import Mosquitto

from nemlive.alert import AlertService, Evaluator, Rule, load_rules, parse_rules
from nemlive.alert.service import RECEIVE_MAXIMUM, SESSION_EXPIRY_S
from nemlive.common import lookups
from nemlive.common.events import (
    REGIONS,
    StatusEvent,
    encode_facility_event,
    encode_market_event,
    encode_status,
)
from nemlive.common.mqttconfig import resolve_mqtt_settings
from nemlive.common.nemtime import NEM_TZ

BASE = "bench/alerts"
T0 = datetime(2025, 10, 1, 0, 5, tzinfo=NEM_TZ)


def fuels() -> dict[str, str]:
    return {f: lookups.fuel_group_of(x) for f, x in lookups.load_facilities().items()}


def build_row(k: int, facilities: list[str]) -> list[tuple[str, bytes]]:
    """One interval in publisher order: facilities, then the five regions (market last)."""
    ts = (T0 + timedelta(minutes=5 * k)).isoformat(timespec="seconds")
    out = []
    for i, fid in enumerate(facilities):
        # Every 10th interval one unit drops out for one interval: about the shipped week's
        # rate of alerts (162 in 2,016 intervals with alerts.example.toml).
        tripped = k % 10 == 0 and i == k % len(facilities)
        power = 0.0 if tripped else 150.0 + (i * 7 + k) % 50
        out.append((f"{BASE}/facility/{fid}", encode_facility_event(fid, ts, power, 1.0)))
    for r in REGIONS:
        price = 500.0 if r == "SA1" and k % 4 == 0 else 80.0 + k % 13
        out.append((f"{BASE}/market/{r}", encode_market_event(r, ts, price, 6000.0)))
    return out


def publisher() -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-alerts-pub"
    )
    client.max_inflight_messages_set(200)
    return client


def publish(port: int, events: list[tuple[str, bytes]]) -> None:
    client = publisher()
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in events]
    for info in infos:
        info.wait_for_publish(timeout=120)
    client.disconnect()
    client.loop_stop()


def _props() -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    return props


class Bare:
    """A paho MQTT 5 subscriber on a persistent session that only counts: the baseline."""

    def __init__(self, port: int) -> None:
        self.port, self.count, self.expected = port, 0, 0
        self.done = threading.Event()
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="bench-alerts-bare",
            protocol=mqtt.MQTTv5,
        )
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        self.client = c

    def _on_connect(
        self, client: mqtt.Client, u: object, flags: object, rc: object, p: object
    ) -> None:
        if not flags.session_present:  # type: ignore[attr-defined]
            client.subscribe(f"{BASE}/#", qos=1)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if "/alert/" in msg.topic:
            return
        self.count += 1
        if self.count >= self.expected:
            self.done.set()

    def _connect(self) -> None:
        self.client.connect("127.0.0.1", self.port, clean_start=False, properties=_props())
        self.client.loop_start()

    def session(self) -> None:
        self._connect()
        time.sleep(0.5)
        self.client.disconnect()
        self.client.loop_stop()

    def drain(self, expected: int, last_ts: int) -> float:
        self.count, self.expected = 0, expected
        self.done.clear()
        t0 = time.perf_counter()
        self._connect()
        if not self.done.wait(timeout=300):
            raise SystemExit(f"bare subscriber got {self.count}/{expected} messages")
        elapsed = time.perf_counter() - t0
        self.client.disconnect()
        self.client.loop_stop()
        return elapsed


class Ours:
    """The alerter's service on its persistent session, in a thread."""

    def __init__(self, port: int, tmp: Path, rules: tuple[Rule, ...] | None = None) -> None:
        self.settings = resolve_mqtt_settings({}, host="127.0.0.1", port=port, topic=BASE)
        self.rules = rules or load_rules(ROOT / "alerts.example.toml").rules
        self.fuels = fuels()
        self.state = tmp / "alerts.state.json"
        self.service: AlertService | None = None

    def start(self) -> tuple[AlertService, threading.Event, threading.Thread]:
        stop = threading.Event()
        service = AlertService(
            self.settings, "bench-alerts-ours", Evaluator(self.rules, self.fuels), self.state
        )
        if not service.connect(3, stop):
            raise SystemExit("cannot connect")
        service.recover()
        thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
        thread.start()
        return service, stop, thread

    def session(self) -> None:
        service, stop, thread = self.start()
        time.sleep(0.5)
        stop.set()
        thread.join(60)
        service.close()

    def drain(self, expected: int, last_ts: int) -> float:
        """Seconds from connect until the last interval is evaluated and acknowledged."""
        t0 = time.perf_counter()
        service, stop, thread = self.start()
        deadline = time.monotonic() + 300
        streams = service.evaluator.streams
        while streams["market"].evaluated != last_ts or streams["facility"].evaluated != last_ts:
            if time.monotonic() > deadline:
                raise SystemExit("the alerter did not evaluate the last interval")
            time.sleep(0.01)  # polling is the bench's cost, not the alerter's: not too often
        elapsed = time.perf_counter() - t0
        stop.set()
        thread.join(60)
        service.close()
        return elapsed


def bench_throughput(port: int, tmp: Path, intervals: int, rounds: int) -> float:
    bare, ours = Bare(port), Ours(port, tmp)
    bare.session()
    ours.session()
    facilities = sorted(fuels())
    rates: dict[str, list[float]] = {"bare": [], "alerter": []}
    subs: list[tuple[str, Bare | Ours]] = [("bare", bare), ("alerter", ours)]
    for rnd in range(rounds):
        first = rnd * intervals
        events = [e for k in range(first, first + intervals) for e in build_row(k, facilities)]
        # The end of the pass completes the facility stream's last interval at once.
        end = StatusEvent(state="cooldown", client_id="bench", pass_number=0)
        events.append((f"{BASE}/status", encode_status(end)))
        last_ts = int((T0 + timedelta(minutes=5 * (first + intervals - 1))).timestamp())
        publish(port, events)
        for name, sub in subs[rnd % 2 :] + subs[: rnd % 2]:
            elapsed = sub.drain(len(events), last_ts)
            rates[name].append(len(events) / elapsed)
            print(
                f"round {rnd + 1} {name:8s}: {len(events):,} messages in {elapsed:.2f} s = {len(events) / elapsed:,.0f} msg/s",
                flush=True,
            )
    bare_rate, ours_rate = statistics.median(rates["bare"]), statistics.median(rates["alerter"])
    ratio = ours_rate / bare_rate
    print(f"median bare paho subscriber: {bare_rate:,.0f} msg/s")
    print(f"median alerter:              {ours_rate:,.0f} msg/s, ratio {ratio:.2f} (target >= 0.8)")
    return ratio


def bench_delay(port: int, tmp: Path, intervals: int, pace: float) -> list[float]:
    """Seconds from each firing interval's last market event to its alert's arrival."""
    spike = parse_rules(
        '[[rule]]\nname = "sa-spike"\nkind = "price_above"\nregion = "SA1"\nthreshold = 300\n'
    )
    ours = Ours(port, tmp, spike.rules)
    service, stop, thread = ours.start()
    arrived: dict[str, float] = {}
    probe = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-alerts-probe"
    )
    subscribed = threading.Event()
    probe.on_subscribe = lambda *a: subscribed.set()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.payload and b'"firing"' in msg.payload:
            arrived.setdefault(json.loads(msg.payload)["at"], time.perf_counter())

    probe.on_message = on_message
    probe.connect("127.0.0.1", port)
    probe.loop_start()
    probe.subscribe(f"{BASE}/alert/sa-spike/#", qos=1)
    subscribed.wait(10)
    pub = publisher()
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    facilities = sorted(ours.fuels)
    sent: dict[str, float] = {}
    start = 10_000  # after the throughput rounds' intervals
    for k in range(start, start + intervals):
        row = build_row(k, facilities)
        infos = [pub.publish(topic, payload, qos=1) for topic, payload in row]
        infos[-1].wait_for_publish(10)
        ts = (T0 + timedelta(minutes=5 * k)).isoformat(timespec="seconds")
        sent[ts] = time.perf_counter()  # the broker has its last market event
        time.sleep(1 / pace)
    deadline = time.monotonic() + 30
    want = {ts for k, ts in enumerate(sent, start=start) if k % 4 == 0}
    while not want <= set(arrived) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(60)
    service.close()
    for c in (pub, probe):
        c.disconnect()
        c.loop_stop()
    return [arrived[ts] - sent[ts] for ts in sorted(want & set(arrived))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", type=int, default=200, help="intervals per throughput round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay-intervals", type=int, default=100)
    parser.add_argument("--pace", type=float, default=5.0, help="intervals a second (delay)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(workdir=Path(tmp), persistence=False).start()
        try:
            ratio = bench_throughput(broker.port, Path(tmp), args.intervals, args.rounds)
            delays = bench_delay(broker.port, Path(tmp), args.delay_intervals, args.pace)
        finally:
            broker.stop()
    if delays:
        p95 = statistics.quantiles(delays, n=20)[-1] if len(delays) >= 2 else delays[0]
        print(
            f"alert delay from an interval's last event: median {statistics.median(delays) * 1000:.1f} ms, "
            f"p95 {p95 * 1000:.1f} ms ({len(delays)} alerts, {args.pace:g} intervals/s)"
        )
    ok = ratio >= 0.8 and bool(delays)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
