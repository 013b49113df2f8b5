"""Benchmark the recorder into SQLite and PostgreSQL, and the 7-day chart query on both.

    .venv/bin/python bench/record.py [--messages 50000] [--rounds 5] [--backends sqlite,postgresql]

**Recording.** One mosquitto (ephemeral port, 127.0.0.1). A bare paho subscriber that only
counts (MQTT 5, QoS 1, the same Receive Maximum, acknowledging on receipt) and the recorder
(``nemlive.record.writer.Recorder``: validation, batches of 5,000, one transaction each, acknowledgement
after commit) each own a persistent session. The same ``--messages`` facility and market
events are published once per round and queued by the broker for every session; each
subscriber then connects in turn and is timed until its last message is counted (ours:
committed and acknowledged). Rounds alternate the order. Prints the median rates per backend,
the ratio against the bare subscriber (target >= 0.7) and whether the store holds every row.

**Query.** A synthetic week of 420 facilities and 5 regions (846,720 + 10,080 readings, made
here, deterministic) is written into a fresh store of each backend; then the 7-day window of
every facility and region is read at 5 minutes, 30 minutes and 1 hour, and the last day at
5 minutes (median of 5). Target <= 300 ms; the verdict counts the 30-minute and hourly
week, as a week at 5 minutes is 856,800 points, more than a chart can show.
PostgreSQL: a fresh database on 127.0.0.1:5432, dropped at the end.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import Mosquitto

from nemlive.common.events import REGIONS, encode_facility_event, encode_market_event
from nemlive.common.mqttconfig import MqttSettings, resolve_mqtt_settings
from nemlive.common.nemtime import NEM_TZ
from nemlive.record.recording import ADMIT_ALL
from nemlive.record.subscriber import RECEIVE_MAXIMUM, SESSION_EXPIRY_S, Inbox, Subscriber
from nemlive.record.writer import Recorder
from nemlive.store import Store, StoreUrl, open_store, parse_store_url

BASE = "bench/record"
N_FACILITIES = 500
PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
WEEK_FACILITIES = 420
WEEK_INTERVALS = 7 * 288
T0 = int(datetime(2025, 10, 1, tzinfo=NEM_TZ).timestamp())


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
        callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-record-pub"
    )
    client.max_inflight_messages_set(200)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in events]
    for info in infos:
        info.wait_for_publish(timeout=120)
    client.disconnect()
    client.loop_stop()


def _connect_properties() -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    return props


class Bare:
    """A paho MQTT 5 subscriber on a persistent session that only counts: the baseline."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.count = 0
        self.expected = 0
        self.done = threading.Event()
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="bench-record-bare",
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
        self.count += 1
        if self.count >= self.expected:
            self.done.set()

    def _connect(self) -> None:
        self.client.connect(
            "127.0.0.1", self.port, clean_start=False, properties=_connect_properties()
        )
        self.client.loop_start()

    def session(self) -> None:
        self._connect()
        time.sleep(0.5)
        self.client.disconnect()
        self.client.loop_stop()

    def drain(self, expected: int) -> float:
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


@dataclass(frozen=True)
class OursOptions:
    """What the writer reads of recorder.py's options (``WriterOptions``)."""

    mqtt: MqttSettings
    store: StoreUrl
    keep_days: float = 0
    progress_every: float = 0
    facilities: Path = Path("data/facilities.csv")  # named in log lines only


class Ours:
    """nemlive.record.writer.Recorder on its persistent session, writing into ``store``."""

    def __init__(self, port: int, store: Store, client_id: str) -> None:
        self.port = port
        self.store = store
        self.client_id = client_id
        self.options = OursOptions(
            mqtt=resolve_mqtt_settings({}, host="127.0.0.1", port=port, topic=BASE),
            store=store.url,
        )

    @contextmanager
    def _running(self, until: Callable[[Recorder], bool]) -> Iterator[Recorder]:
        stop = threading.Event()
        inbox = Inbox()
        sub = Subscriber(self.options.mqtt, self.client_id, inbox)
        # The bench's facility ids are invented: record them all.
        rec = Recorder(self.options, self.store, sub, inbox, stop, admission=ADMIT_ALL)
        if not sub.connect(3, stop):
            raise SystemExit("cannot connect")
        thread = threading.Thread(target=rec.run, daemon=True)
        thread.start()
        try:
            yield rec
        finally:
            stop.set()
            thread.join(timeout=60)
            sub.close()

    def session(self) -> None:
        with self._running(lambda r: True):
            time.sleep(0.5)

    def drain(self, expected: int) -> float:
        """Seconds from connect until ``expected`` messages are committed and acknowledged."""
        t0 = time.perf_counter()
        with self._running(lambda r: True) as rec:
            deadline = time.monotonic() + 300
            while rec.messages < expected:  # written by the writer thread after each commit
                if time.monotonic() > deadline:
                    raise SystemExit(f"the recorder wrote {rec.messages}/{expected} messages")
                time.sleep(0.002)
            elapsed = time.perf_counter() - t0
        return elapsed


# --- stores --------------------------------------------------------------------------------------


@contextmanager
def fresh_store(backend: str, tmp: Path, name: str) -> Iterator[Store]:
    if backend == "sqlite":
        store = open_store(f"sqlite:///{tmp}/{name}.db")
        try:
            yield store
        finally:
            store.close()
        return
    import psycopg

    dbname = f"nemlive_bench_{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname}")
    try:
        store = open_store(parse_store_url(f"postgresql://root@127.0.0.1:5432/{dbname}"))
        try:
            yield store
        finally:
            store.close()
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


# --- recording -----------------------------------------------------------------------------------


def bench_recording(backends: list[str], messages: int, rounds: int, tmp: Path) -> bool:
    broker = Mosquitto(workdir=tmp, persistence=False).start()
    ok = True
    try:
        with fresh_stores(backends, tmp, "rec") as stores:
            bare = Bare(broker.port)
            ours = {b: Ours(broker.port, s, f"bench-record-{b}") for b, s in stores.items()}
            bare.session()
            for sub in ours.values():
                sub.session()
            rates: dict[str, list[float]] = {"bare": [], **{b: [] for b in ours}}
            subscribers: list[tuple[str, Bare | Ours]] = [("bare", bare), *ours.items()]
            for rnd in range(rounds):
                events = build_stream(messages, start_interval=rnd * (messages // 505 + 2))
                publish(broker.port, events)
                order = (
                    subscribers[rnd % len(subscribers) :] + subscribers[: rnd % len(subscribers)]
                )
                for name, sub in order:
                    elapsed = sub.drain(len(events))
                    rates[name].append(len(events) / elapsed)
                    print(
                        f"round {rnd + 1} {name:10s}: {len(events):,} messages in {elapsed:.2f} s "
                        f"= {len(events) / elapsed:,.0f} msg/s",
                        flush=True,
                    )
            med_bare = statistics.median(rates["bare"])
            print(f"median bare paho subscriber: {med_bare:,.0f} msg/s")
            for backend, store in stores.items():
                med = statistics.median(rates[backend])
                span = store.span()
                held = 0 if span is None else span.facility_readings + span.market_readings
                lost = messages * rounds - held
                ratio = med / med_bare
                verdict = "PASS" if ratio >= 0.7 and lost == 0 else "FAIL"
                print(
                    f"median recorder into {backend:10s}: {med:,.0f} msg/s, ratio {ratio:.2f} "
                    f"(target >= 0.7); store holds {held:,} of {messages * rounds:,} rows, "
                    f"lost {lost}  {verdict}"
                )
                ok = ok and verdict == "PASS"
    finally:
        broker.stop()
    return ok


@contextmanager
def fresh_stores(backends: list[str], tmp: Path, name: str) -> Iterator[dict[str, Store]]:
    with ExitStack() as stack:
        yield {b: stack.enter_context(fresh_store(b, tmp, f"{name}_{b}")) for b in backends}


# --- the query -----------------------------------------------------------------------------------


def synthetic_week() -> tuple[list[tuple], list[tuple]]:
    """420 facilities x 2016 intervals of plausible, deterministic readings, and 5 regions."""
    facility = []
    for i in range(WEEK_FACILITIES):
        capacity = 20.0 + (i * 37) % 700
        phase = (i % 24) / 24 * 2 * math.pi
        factor = (i % 5) * 0.25  # t CO2-e per MWh
        for k in range(1, WEEK_INTERVALS + 1):
            mw = round(capacity * (0.5 + 0.45 * math.sin(2 * math.pi * k / 288 + phase)), 3)
            facility.append((f"SYN{i:03d}", T0 + 300 * k, mw, round(mw * factor / 12, 3)))
    market = [
        (r, T0 + 300 * k, 50.0 + 40 * math.sin(k / 30 + j), 4000.0 + 100 * j)
        for j, r in enumerate(REGIONS)
        for k in range(1, WEEK_INTERVALS + 1)
    ]
    return facility, market


def bench_query(backends: list[str], tmp: Path, repeats: int = 5) -> bool:
    facility, market = synthetic_week()
    t1 = T0 + 300 * WEEK_INTERVALS
    ok = True
    for backend in backends:
        with fresh_store(backend, tmp, f"query_{backend}") as store:
            start = time.perf_counter()
            for i in range(0, len(facility), 5000):
                store.write(facility[i : i + 5000], market if i == 0 else [])
            load = time.perf_counter() - start
            print(
                f"{backend}: wrote {len(facility):,} facility and {len(market):,} market readings "
                f"in {load:.1f} s ({len(facility) / load:,.0f} rows/s in batches of 5,000)"
            )
            for step in (300, 1800, 3600):
                times, points = [], 0
                for _ in range(repeats):
                    q0 = time.perf_counter()
                    fac = store.read_facilities(T0, t1, step)  # type: ignore[arg-type]
                    mkt = store.read_markets(T0, t1, step)  # type: ignore[arg-type]
                    times.append(time.perf_counter() - q0)
                    points = sum(map(len, fac.values())) + sum(map(len, mkt.values()))
                med = statistics.median(times) * 1000
                verdict = "PASS" if med <= 300 else "over 300 ms"
                print(
                    f"{backend}: 7-day query, every facility and region at {step // 60:>2d} min: "
                    f"{points:,} points, median {med:,.0f} ms  {verdict}"
                )
                if step != 300:
                    ok = ok and med <= 300
            times = []
            for _ in range(repeats):
                q0 = time.perf_counter()
                fac = store.read_facilities(t1 - 86_400, t1)
                mkt = store.read_markets(t1 - 86_400, t1)
                times.append(time.perf_counter() - q0)
            points = sum(map(len, fac.values())) + sum(map(len, mkt.values()))
            med = statistics.median(times) * 1000
            print(
                f"{backend}: 1-day query, every facility and region at  5 min: {points:,} points, "
                f"median {med:,.0f} ms  {'PASS' if med <= 300 else 'over 300 ms'}"
            )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--skip-recording", action="store_true")
    parser.add_argument("--skip-query", action="store_true")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_recording:
            ok = bench_recording(backends, args.messages, args.rounds, Path(tmp)) and ok
        if not args.skip_query:
            ok = bench_query(backends, Path(tmp)) and ok
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
