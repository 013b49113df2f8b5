"""Benchmark the recorders' lag behind the stream: one recorder, then two sharing it.

    .venv/bin/python bench/share.py [--intervals 40] [--every 0.5] [--rounds 3]

One mosquitto (ephemeral port, 127.0.0.1) and a fresh PostgreSQL database on 127.0.0.1:5432
(dropped at the end). Each round runs the recorder's own parts (``Subscriber`` and
``Recorder``, batches of 5,000 or 1 s, acknowledgement after commit) in this process: once
alone on ``<base>/#``, once as two members of a ``$share`` group, each with its own client
id and store connection. A publisher sends ``--intervals`` intervals of 420 facilities and 5
regions at QoS 1, one interval every ``--every`` seconds (the live stream sends one every
5 minutes; this is faster, so that a round is short and the store is busier than live).
The lag of an interval is the time from the publish of its first message until the store
holds all of its 425 rows (polled every 10 ms on another connection). Prints the median
and p95 lag with one and with two recorders, and the ratio two/one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import Mosquitto

from nemlive.common.events import REGIONS, encode_facility_event, encode_market_event
from nemlive.common.mqttconfig import resolve_mqtt_settings
from nemlive.common.nemtime import NEM_TZ
from nemlive.record.recording import ADMIT_ALL
from nemlive.record.subscriber import Inbox, Subscriber
from nemlive.record.writer import Recorder
from nemlive.store import open_store, parse_store_url

PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
FACILITIES = 420
PER_INTERVAL = FACILITIES + len(REGIONS)
T0 = datetime(2025, 10, 1, tzinfo=NEM_TZ)


class Options:
    """What Recorder reads of recorder.py's options."""

    def __init__(self, port: int, base: str, url: str) -> None:
        self.mqtt = resolve_mqtt_settings({}, host="127.0.0.1", port=port, topic=base)
        self.store = parse_store_url(url)
        self.keep_days = 0.0
        self.progress_every = 0.0
        self.facilities = Path("-")


def interval(base: str, k: int) -> list[tuple[str, bytes]]:
    ts = (T0 + timedelta(minutes=5 * (k + 1))).isoformat(timespec="seconds")
    out = [
        (f"{base}/facility/F{i:03d}", encode_facility_event(f"F{i:03d}", ts, 10.0 + i, 1.0))
        for i in range(FACILITIES)
    ]
    out += [(f"{base}/market/{r}", encode_market_event(r, ts, 80.0, 5000.0)) for r in REGIONS]
    return out


def start_recorder(
    port: int, base: str, url: str, client_id: str, group: str | None, stop: threading.Event
) -> tuple[threading.Thread, Subscriber]:
    options = Options(port, base, url)
    store = open_store(options.store)
    inbox = Inbox()
    sub = Subscriber(options.mqtt, client_id, inbox, share_group=group)
    rec = Recorder(options, store, sub, inbox, stop, admission=ADMIT_ALL)  # type: ignore[arg-type]
    sub.connect(3, stop)

    def run() -> None:
        try:
            rec.run()
        finally:
            sub.close()
            store.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, sub


def watch(url: str, count: int, done: dict[int, float], stop: threading.Event) -> None:
    """Note when each interval's rows are all held (epoch s of the interval end -> time)."""
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set() and len(done) < count:
            rows = conn.execute(
                "SELECT date_part('epoch', ts)::bigint, count(*) FROM facility_readings GROUP BY ts"
            ).fetchall()
            markets = dict(
                conn.execute(
                    "SELECT date_part('epoch', ts)::bigint, count(*) FROM market_readings "
                    "GROUP BY ts"
                ).fetchall()
            )
            now = time.monotonic()
            for ts, n in rows:
                if ts not in done and n == FACILITIES and markets.get(ts) == len(REGIONS):
                    done[ts] = now
            time.sleep(0.01)


def one_round(port: int, url: str, members: int, intervals: int, every: float) -> list[float]:
    """Lags (s) of each interval with ``members`` recorders (1: unshared; 2: one group)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for kind in ("facility", "market", "interchange"):
            conn.execute(f"TRUNCATE {kind}_readings, {kind}_rollups")  # type: ignore[arg-type]
    tag = uuid.uuid4().hex[:6]
    base = f"bench/share/{tag}"
    group = f"g{tag}" if members > 1 else None
    stop = threading.Event()
    recorders = [
        start_recorder(port, base, url, f"bench-share-{tag}-{i}", group, stop)
        for i in range(members)
    ]
    time.sleep(0.5)  # subscriptions in place
    done: dict[int, float] = {}
    watcher = threading.Thread(target=watch, args=(url, intervals, done, stop), daemon=True)
    watcher.start()
    pub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    pub.max_inflight_messages_set(500)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    started: dict[int, float] = {}
    for k in range(intervals):
        due = time.monotonic()
        ts = int((T0 + timedelta(minutes=5 * (k + 1))).timestamp())
        started[ts] = due
        for topic, payload in interval(base, k):
            pub.publish(topic, payload, qos=1)
        time.sleep(max(0.0, due + every - time.monotonic()))
    deadline = time.monotonic() + 60
    while len(done) < intervals and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    pub.loop_stop()
    pub.disconnect()
    for thread, _sub in recorders:
        thread.join(30)
    watcher.join(5)
    if len(done) < intervals:
        raise RuntimeError(f"only {len(done)} of {intervals} intervals were recorded")
    return [done[ts] - started[ts] for ts in started]


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", type=int, default=40)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between intervals")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    dbname = f"nemlive_bench_share_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname}")  # type: ignore[arg-type]
    url = f"postgresql://root@127.0.0.1:5432/{dbname}"
    try:
        open_store(parse_store_url(url)).close()
        with tempfile.TemporaryDirectory() as tmp:
            broker = Mosquitto(workdir=Path(tmp), persistence=False).start()
            try:
                lags: dict[int, list[float]] = {1: [], 2: []}
                for r in range(args.rounds):
                    for members in (1, 2) if r % 2 == 0 else (2, 1):
                        lags[members] += one_round(
                            broker.port, url, members, args.intervals, args.every
                        )
            finally:
                broker.stop()
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")  # type: ignore[arg-type]
    one, two = lags[1], lags[2]
    print(
        f"lag behind the stream, {args.rounds} rounds of {args.intervals} intervals of "
        f"{PER_INTERVAL} messages, one every {args.every:g} s (publish of the first message "
        "to the interval's last row committed):"
    )
    for name, values in (("one recorder", one), ("two sharing", two)):
        print(
            f"  {name:13s} median {statistics.median(values) * 1000:6.0f} ms, "
            f"p95 {p95(values) * 1000:6.0f} ms"
        )
    ratio = statistics.median(two) / statistics.median(one)
    print(f"  ratio two/one (medians): {ratio:.2f}; p95: {p95(two) / p95(one):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
