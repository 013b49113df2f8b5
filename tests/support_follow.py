"""Test helpers for live mode: the OE simulator on a sped-up clock, and the followers as
subprocesses with their logs in files.

* :class:`LiveSim`: ``python -m oesim --live --clock-speed X`` on an ephemeral port, with its
  test routes: the simulated clock (``/__sim__/clock``), each key's credits
  (``/__sim__/credits``) and the request log (``/__sim__/requests``).
* :class:`Program`: ``extractor.py --follow`` or ``publisher.py --follow``, stopped by a
  signal, with its stderr in a file.
"""

from __future__ import annotations

import json
import re
import select
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np

from nemlive.extract.livecache import parse_cache
from nemlive.extract.rollup import WideTable
from tests.conftest import PYTHON, ROOT, clean_subprocess_env

SIM_KEY = "sim-demo-key-0000"
INTERVAL_S = 300


@dataclass
class LiveSim:
    """The simulator in live mode; ``wall0``/``sim0`` map its clock to time.monotonic()."""

    speed: float = 60.0
    dataset: str = "small"
    extra: Sequence[str] = ()
    proc: subprocess.Popen | None = None
    url: str = ""
    wall0: float = 0.0
    sim0: float = 0.0

    def start(self) -> LiveSim:
        argv = [PYTHON, "-m", "oesim", "--dataset", self.dataset, "--live", "--port", "0"]
        argv += ["--clock-speed", f"{self.speed:g}", *self.extra]
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=clean_subprocess_env()
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline().strip() if ready else ""
        assert "listening on " in line, line
        self.url = line.rsplit(" ", 1)[-1]
        clock = self.admin("clock")
        self.wall0 = time.monotonic()
        self.sim0 = datetime.fromisoformat(clock["now"].replace("Z", "+00:00")).timestamp()
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    @property
    def root(self) -> str:
        return self.url.removesuffix("/v4")

    def admin(self, what: str, method: str = "GET", query: str = "") -> Any:
        request = urllib.request.Request(f"{self.root}/__sim__/{what}{query}", method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def requests(self) -> list[dict[str, Any]]:
        return list(self.admin("requests")["requests"])

    def sim_now(self) -> float:
        """The simulated epoch seconds now, from the mapping taken at start."""
        return self.sim0 + (time.monotonic() - self.wall0) * self.speed

    def settled_at(self, stamp: int) -> float:
        """time.monotonic() at which the interval stamped ``stamp`` is first served (the
        simulator serves it 10 simulated minutes after its end)."""
        return self.wall0 + (stamp + 2 * INTERVAL_S - self.sim0) / self.speed

    def env(self) -> dict[str, str]:
        return {"OPENELECTRICITY_API_URL": self.url, "OPENELECTRICITY_API_KEY": SIM_KEY}

    def __enter__(self) -> LiveSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def query_of(record: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(record["query"])


@dataclass
class Program:
    """One program run as a subprocess, stderr to ``log``."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    def start(self) -> Program:
        with self.log.open("a") as fh:
            fh.write(f"--- start {self.name}\n")
        self.proc = subprocess.Popen(
            [PYTHON, *self.argv],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("a"),
            env=clean_subprocess_env(**self.env),
        )
        return self

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.text()))

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n{self.text()}")
            time.sleep(0.1)
        return predicate()

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def extractor(tmp: Path, sim: LiveSim, *extra: str, poll_every: float = 5.0) -> Program:
    argv = [
        str(ROOT / "extractor.py"),
        "--follow",
        "--source",
        "oe",  # the OE follower: a COMMUNITY key's auto would follow NEMweb
        "--keep",
        "1",
        "--poll-every",
        f"{poll_every:g}",
        "--api-clock-speed",
        f"{sim.speed:g}",
        "--out",
        str(tmp / "consolidate.csv"),
        "--facilities-out",
        str(tmp / "facilities.csv"),
        *extra,
    ]
    return Program("extractor", argv, tmp / "extractor.log", sim.env())


def nemweb_extractor(tmp: Path, live: LiveSim, keep: float) -> Program:
    """``extractor.py --follow --source nemweb`` on the simulator's NEMweb face."""
    argv = [
        str(ROOT / "extractor.py"),
        "--follow",
        "--source",
        "nemweb",
        "--keep",
        f"{keep:g}",
        "--api-clock-speed",
        f"{live.speed:g}",
        "--out",
        str(tmp / "consolidate.csv"),
        "--facilities-out",
        str(tmp / "facilities.csv"),
    ]
    return Program("extractor", argv, tmp / "extractor.log", live.env())


def read_table(tmp: Path) -> WideTable:
    path = tmp / "consolidate.csv"
    return parse_cache(path.read_bytes(), str(path))


def cached_intervals(tmp: Path) -> list[int]:
    """The intervals of the live cache in ``tmp`` with any facility value ([] while unreadable)."""
    try:
        table = read_table(tmp)
    except Exception:
        return []
    n = len(table.facility_ids)
    has = ~np.isnan(table.values[:, :n]).all(axis=1)
    return [int(t) for t in table.times[has]]


def publisher(tmp: Path, port: int, topic: str) -> Program:
    argv = [
        str(ROOT / "publisher.py"),
        "--follow",
        "--csv",
        str(tmp / "consolidate.csv"),
        "--port",
        str(port),
        "--topic",
        topic,
        "--delay",
        "0",
        "--no-embedded-broker",
        "--progress-every",
        "0",
    ]
    return Program("publisher", argv, tmp / "publisher.log")


def read_meta(tmp: Path) -> dict[str, Any]:
    return json.loads((tmp / "consolidate.meta.json").read_text())


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())
