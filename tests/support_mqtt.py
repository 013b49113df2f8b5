"""Test helpers for the publisher: a collecting MQTT subscriber, small CSVs, subprocesses."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from nemlive.common.columns import build_column, build_header
from nemlive.common.nemtime import NEM_TZ
from tests.conftest import PYTHON, ROOT, clean_subprocess_env

PUBLISHER = ROOT / "publisher.py"


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    at: float = 0.0  # time.monotonic() on arrival

    def json(self) -> dict:
        return json.loads(self.payload)

    @property
    def key(self) -> tuple[str, str]:
        """(topic, timestamp): the identity the dashboard deduplicates on."""
        return self.topic, self.json().get("timestamp") or ""


class Collector:
    """A real paho subscriber on ``<base>/#`` that keeps every message it receives.

    ``client_id`` + ``clean_session=False`` makes a persistent session: the broker queues
    QoS 1 messages while it is away (e.g. during a broker restart).
    """

    def __init__(
        self,
        port: int,
        base: str = "nem/stream",
        *,
        client_id: str = "",
        clean_session: bool = True,
        qos: int = 1,
    ) -> None:
        self.base = base
        self.qos = qos
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
        )
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.port = port

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if not flags.session_present or not self._subscribed.is_set():
            client.subscribe(f"{self.base}/#", qos=self.qos)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(
                Received(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), time.monotonic())
            )

    def start(self, timeout: float = 10.0) -> Collector:
        self.client.connect("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()
        if not self._subscribed.wait(timeout):
            raise TimeoutError("subscriber did not get a SUBACK")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def events(self) -> list[Received]:
        """Facility and market messages (not status)."""
        return [m for m in self.snapshot() if not m.topic.endswith("/status")]

    def statuses(self) -> list[dict]:
        return [m.json() for m in self.snapshot() if m.topic.endswith("/status")]

    def keys(self) -> set[tuple[str, str]]:
        return {m.key for m in self.events()}

    def wait_until(self, predicate: Callable[[Collector], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.05)
        return predicate(self)

    def __enter__(self) -> Collector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- small CSVs ---------------------------------------------------------------------------

START = datetime(2025, 10, 15, 10, 5, tzinfo=NEM_TZ)


MARKET_KEYS = (("price", "demand"), ("price_dmwh", "demand_mw"))
INTERCHANGE_KEYS = (("imports", "exports"), ("imports_mw", "exports_mw"))


@dataclass
class SmallCsv:
    """A consolidate.csv written with build_header; ``cells[row][column]`` is the text."""

    path: Path
    header: list[str]
    timestamps: list[str]
    cells: list[dict[str, str]] = field(default_factory=list)

    def expected_messages(
        self, base: str = "nem/stream", pass_number: int = 0
    ) -> list[tuple[str, dict]]:
        """What the contract says the publisher sends, in order, built from the text cells."""
        span = timedelta(minutes=5) * len(self.timestamps)
        facilities = [c.partition("_")[2] for c in self.header if c.startswith("power_")]
        regions = [c.partition("_")[2] for c in self.header if c.startswith("price_")]
        out: list[tuple[str, dict]] = []

        def num(text: str) -> float | None:
            return float(text) if text else None

        for ts_text, row in zip(self.timestamps, self.cells, strict=True):
            ts = (datetime.fromisoformat(ts_text) + pass_number * span).isoformat(
                timespec="seconds"
            )
            for f in facilities:
                p, c = row[build_column("power", f)], row[build_column("emissions", f)]
                if p or c:
                    out.append(
                        (
                            f"{base}/facility/{f}",
                            {
                                "facility_id": f,
                                "timestamp": ts,
                                "power_mw": num(p),
                                "co2_tonnes": num(c),
                            },
                        )
                    )
            # Interchange events before the market events, which close the row.
            for kind, keys in (("interchange", INTERCHANGE_KEYS), ("market", MARKET_KEYS)):
                for r in regions:
                    a, b = (row.get(build_column(m, r), "") for m in keys[0])
                    if a or b:
                        payload = {"region_id": r, "timestamp": ts}
                        payload |= {keys[1][0]: num(a), keys[1][1]: num(b)}
                        out.append((f"{base}/{kind}/{r}", payload))
        return out


def write_small_csv(
    path: Path,
    rows: int = 4,
    facilities: Sequence[str] = ("BAYSW", "ER01_X", "HPR1"),
    regions: Sequence[str] = ("NSW1", "SA1"),
    gaps: bool = True,
    interchange: bool = True,
    start: datetime = START,
) -> SmallCsv:
    """A deterministic CSV from ``start``: varied decimals, and (with ``gaps``) one half-missing
    and one all-missing facility cell pair and a half-missing market pair."""
    header = build_header(facilities, regions, interchange=interchange)
    timestamps = [
        (start + timedelta(minutes=5 * i)).isoformat(timespec="seconds") for i in range(rows)
    ]
    cells: list[dict[str, str]] = []
    for i in range(rows):
        row: dict[str, str] = {}
        for j, column in enumerate(header[1:]):
            value = round((i + 1) * 17.3 + j * 1.07 - 3, 3)
            row[column] = repr(
                value if not column.startswith("emissions") else round(abs(value) / 10, 4)
            )
        cells.append(row)
    if gaps and rows >= 3 and len(facilities) >= 2:
        cells[0][build_column("power", facilities[1])] = ""  # power missing -> null
        cells[1][build_column("power", facilities[0])] = ""  # both missing -> nothing
        cells[1][build_column("emissions", facilities[0])] = ""
        cells[2][build_column("demand", regions[0])] = ""  # demand missing -> null
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for ts, row in zip(timestamps, cells, strict=True):
            writer.writerow([ts, *(row[c] for c in header[1:])])
    return SmallCsv(path=path, header=header, timestamps=timestamps, cells=cells)


def start_publisher(args: Sequence[str], **env: str) -> subprocess.Popen:
    """publisher.py as a subprocess; stderr captured (read it after it exits)."""
    return subprocess.Popen(
        [PYTHON, str(PUBLISHER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_subprocess_env(**env),
        cwd=ROOT,
    )


class StderrLines:
    """A started program's stderr read on a thread as it comes, so that a test waits for the
    line that says a thing happened instead of sleeping and hoping it has."""

    def __init__(self, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        self.proc = proc
        self._lines: list[str] = []
        self._grew = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._grew:
                self._lines.append(line)
                self._grew.notify_all()

    def text(self) -> str:
        with self._grew:
            return "".join(self._lines)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first match of ``pattern`` in stderr; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._grew:
            while True:
                match = re.search(pattern, "".join(self._lines))
                left = deadline - time.monotonic()
                if match or left <= 0 or not self._reader.is_alive():
                    break
                self._grew.wait(min(left, 0.5))
        assert match, f"no {pattern!r} on stderr after {timeout:g} s:\n{self.text()}"
        return match

    def finish(self, timeout: float = 30.0) -> str:
        """Wait for the program to exit; all it wrote on stderr."""
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.read()
        return self.text()


def run_publisher(
    args: Sequence[str], timeout: float = 60.0, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, str(PUBLISHER), *args],
        capture_output=True,
        text=True,
        env=clean_subprocess_env(**env),
        cwd=ROOT,
        timeout=timeout,
    )
