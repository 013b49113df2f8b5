"""Memory soak of the running dashboard: RSS growth while it ingests 1,000 messages/s.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 1000] [--refresh fragment|autorefresh]
                                   [--warmup SECONDS] [--no-browser] [--hostile RATE]

Starts mosquitto (ephemeral port), ``streamlit run dashboard.py`` with 500 invented facilities,
and a headless Chromium page (Debian's /usr/bin/chromium) so that the live fragment keeps
rendering; then publishes a paced stream (500 facilities + 5 regions per interval, timestamps
moving forward). After a warm-up that fills the 24-hour window (288 intervals), it samples the
server's RSS and CPU every 10 s for ``--minutes``. Prints the RSS growth over the measured
period (target <= 10%) and the server's CPU use (the figure that compares the two refresh
modes: ``--refresh autorefresh`` needs ``pip install streamlit-autorefresh``).

``--hostile RATE`` mixes in RATE messages/s of hostile traffic from another client (see
tests/support_hostile.py: calendar ends, forged futures, invented ids, out-of-range values,
garbage, 4 MB payloads, but no forged restarts, which would clear the window once a minute)
and prints how many the page rejected.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from conftest import Mosquitto, clean_subprocess_env, free_port, wait_for_port
from render import N_FACILITIES, write_lookup
from support_hostile import hostile_messages

from nemlive.common.events import REGIONS, encode_facility_event, encode_market_event
from nemlive.common.nemtime import NEM_TZ
from nemlive.devtools.run import dashboard_command

TOPIC = "bench/soak"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Stream(threading.Thread):
    """Publishes ``rate`` messages/s (QoS 1) in 10 ms slices until stopped."""

    client_id = "bench-soak-pub"

    def __init__(self, port: int, rate: int, plan: dict[str, tuple[str, float]]) -> None:
        super().__init__(daemon=True)
        self.port, self.rate, self.plan = port, rate, plan
        self.stop_event = threading.Event()
        self.sent = 0

    def events(self):  # type: ignore[no-untyped-def]
        rng = random.Random(1)
        t0 = datetime(2025, 10, 1, 0, 5, tzinfo=NEM_TZ)
        k = 0
        while True:
            ts = (t0 + timedelta(minutes=5 * k)).isoformat(timespec="seconds")
            for fid, (group, base) in self.plan.items():
                mw = round(base * rng.uniform(0.5, 1.1), 3)
                t = round(mw * 0.08, 4) if group in ("coal", "gas", "distillate") else None
                yield f"{TOPIC}/facility/{fid}", encode_facility_event(fid, ts, mw, t)
            for r in REGIONS:
                yield (
                    f"{TOPIC}/market/{r}",
                    encode_market_event(r, ts, round(rng.uniform(20, 300), 2), 5000.0),
                )
            k += 1

    def run(self) -> None:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=self.client_id
        )
        client.max_inflight_messages_set(1000)
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        gen = self.events()
        per_slice = max(1, self.rate // 100)
        start = time.monotonic()
        while not self.stop_event.is_set():
            for _ in range(per_slice):
                topic, payload = next(gen)
                client.publish(topic, payload, qos=1, retain=True)
            self.sent += per_slice
            ahead = start + self.sent / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        client.disconnect()
        client.loop_stop()


class HostileStream(Stream):
    """``rate`` messages/s of hostile traffic on the same topic, from another client."""

    client_id = "bench-soak-hostile"

    def events(self):  # type: ignore[no-untyped-def]
        messages = hostile_messages(
            TOPIC, list(self.plan), random.Random(9), statuses=False, oversize=True
        )
        while True:
            yield next(messages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--refresh", choices=["fragment", "autorefresh"], default="fragment")
    parser.add_argument(
        "--warmup", type=float, default=None, help="seconds (default: fill the window + 30 s)"
    )
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument(
        "--hostile", type=int, default=0, help="hostile messages/s mixed in (default 0)"
    )
    args = parser.parse_args(argv)
    warmup = args.warmup if args.warmup is not None else 288 * (N_FACILITIES + 5) / args.rate + 30
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        plan = write_lookup(tmpdir / "facilities.csv", random.Random(5339))
        broker = Mosquitto(workdir=tmpdir, persistence=False).start()
        port = free_port()
        env = clean_subprocess_env(
            MQTT_HOST="127.0.0.1",
            MQTT_PORT=str(broker.port),
            MQTT_TOPIC=TOPIC,
            NEMLIVE_FACILITIES=str(tmpdir / "facilities.csv"),
            NEMLIVE_REFRESH=args.refresh,
        )
        regions = ROOT / "data" / "regions.geojson"
        if regions.exists():
            env["NEMLIVE_REGIONS"] = str(regions)
        server = subprocess.Popen(
            dashboard_command(port),
            cwd=ROOT,
            env=env,
            stdout=open(tmpdir / "streamlit.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        pw = browser = page = None
        stream = Stream(broker.port, args.rate, plan)
        hostile = HostileStream(broker.port, args.hostile, plan) if args.hostile else None
        try:
            wait_for_port(port, timeout=30)
            proc = psutil.Process(server.pid)
            if not args.no_browser and Path(CHROMIUM).exists():
                from playwright.sync_api import sync_playwright

                pw = sync_playwright().start()
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"http://127.0.0.1:{port}/")
                page.get_by_text("connected", exact=True).wait_for(timeout=60_000)
            else:
                # The ingest starts with the first page session: without a browser the server idles.
                print(
                    "no browser: no page session, so the dashboard does not ingest (idle baseline)"
                )
            stream.start()
            if hostile is not None:
                hostile.start()
            print(
                f"refresh={args.refresh} rate={args.rate}/s hostile={args.hostile}/s "
                f"warm-up {warmup:.0f} s, then {args.minutes:g} min"
            )
            time.sleep(warmup)
            base_rss = proc.memory_info().rss
            base_cpu = sum(proc.cpu_times()[:2])
            base_t = time.monotonic()
            base_sent = stream.sent
            samples = []
            end = base_t + args.minutes * 60
            while time.monotonic() < end:
                time.sleep(min(10.0, max(0.0, end - time.monotonic())))
                rss = proc.memory_info().rss
                samples.append(rss)
                print(
                    f"  t+{time.monotonic() - base_t:5.0f} s  RSS {rss / 2**20:7.1f} MiB  sent {stream.sent:,}",
                    flush=True,
                )
            elapsed = time.monotonic() - base_t
            cpu = sum(proc.cpu_times()[:2]) - base_cpu
            end_rss = statistics.median(samples[-3:]) if samples else proc.memory_info().rss
            growth = (end_rss - base_rss) / base_rss * 100
            received = rejected = ""
            if page is not None:
                received, rejected = (
                    page.locator('[data-testid="nl-card"]', has_text=label)
                    .locator('[data-testid="nl-card-value"]')
                    .inner_text()
                    for label in ("Received", "Rejected")
                )
            print(
                f"published {stream.sent - base_sent:,} messages in {elapsed:.0f} s ({(stream.sent - base_sent) / elapsed:,.0f}/s); page shows received {received}, rejected {rejected}"
                + (f"; {hostile.sent:,} hostile messages sent" if hostile else "")
            )
            print(
                f"RSS: {base_rss / 2**20:.1f} MiB after warm-up -> {end_rss / 2**20:.1f} MiB at the end "
                f"(max {max(samples, default=base_rss) / 2**20:.1f}); growth {growth:+.1f}% (target <= 10%)"
            )
            print(
                f"server CPU ({args.refresh}): {cpu:.1f} s over {elapsed:.0f} s = {cpu / elapsed * 100:.1f}% of one core"
            )
            ok = growth <= 10.0
            print("PASS" if ok else "FAIL")
            return 0 if ok else 1
        finally:
            stream.stop_event.set()
            if hostile is not None:
                hostile.stop_event.set()
            if browser is not None:
                browser.close()
            if pw is not None:
                pw.stop()
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
            broker.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
