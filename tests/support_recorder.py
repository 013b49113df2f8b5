"""Test helpers for the recorder: the program as a subprocess, the store's content, a TCP relay."""

from __future__ import annotations

import contextlib
import selectors
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from nemlive.common.lookups import FACILITIES_CSV
from nemlive.store import open_store
from tests.conftest import PYTHON, ROOT, clean_subprocess_env, free_port

RECORDER = ROOT / "recorder.py"
Key = tuple[str, str, int]  # (kind, id, ts epoch s)
Values = tuple[float | None, float | None]


@dataclass
class RecorderProcess:
    """recorder.py as a subprocess; its stderr goes to a file that can be read at any time."""

    args: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    def start(self) -> RecorderProcess:
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(
                [PYTHON, str(RECORDER), *self.args],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=clean_subprocess_env(**self.env),
                cwd=ROOT,
            )
        return self

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_for_line(self, text: str, timeout: float = 60.0) -> None:
        if not wait_until(lambda: text in self.output(), timeout):
            raise AssertionError(f"no {text!r} in the recorder's output:\n{self.output()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop_quietly(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def run_recorder(
    args: Sequence[str], timeout: float = 30.0, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, str(RECORDER), *args],
        capture_output=True,
        text=True,
        env=clean_subprocess_env(**env),
        cwd=ROOT,
        timeout=timeout,
    )


def write_lookup(path: Path, extra_ids: Sequence[str] = ()) -> Path:
    """A facility lookup: the shipped data/facilities.csv and ``extra_ids`` (test facilities,
    in NSW1 at a made-up place), for ``--facilities``/``NEMLIVE_FACILITIES``."""
    lines = FACILITIES_CSV.read_text(encoding="utf-8").splitlines()
    lines += [f"{ident},Test {ident},NSW1,-33.0,151.0,coal,coal_black,100" for ident in extra_ids]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def read_store(url: str) -> dict[Key, Values]:
    """Everything the store holds, through the store's own read API."""
    with open_store(url, create=False) as store:
        out: dict[Key, Values] = {}
        for kind, series in (
            ("facility", store.read_facilities(0, 2**40)),
            ("market", store.read_markets(0, 2**40)),
            ("interchange", store.read_interchange(0, 2**40)),
        ):
            for ident, points in series.items():
                for ts, a, b in points:
                    out[kind, ident, ts] = (a, b)
        return out


def count_store(url: str) -> int:
    """Facility, market and interchange readings held (0 while the store does not exist yet)."""
    try:
        with open_store(url, create=False) as store:
            span = store.span()
    except Exception:
        return 0
    if span is None:
        return 0
    return span.facility_readings + span.market_readings + span.interchange_readings


def expected_readings(messages: Sequence[tuple[str, dict]]) -> dict[Key, Values]:
    """What a store must hold after these published (topic, payload) pairs; later ones win."""
    out: dict[Key, Values] = {}
    for topic, payload in messages:
        ts = int(datetime.fromisoformat(payload["timestamp"]).timestamp())
        if "/facility/" in topic:
            out["facility", payload["facility_id"], ts] = (
                payload["power_mw"],
                payload["co2_tonnes"],
            )
        elif "/interchange/" in topic:
            out["interchange", payload["region_id"], ts] = (
                payload["imports_mw"],
                payload["exports_mw"],
            )
        else:
            out["market", payload["region_id"], ts] = (payload["price_dmwh"], payload["demand_mw"])
    return out


class TcpRelay:
    """A TCP relay from an ephemeral port on 127.0.0.1 to ``target``: a network that can fail.

    ``cut()`` closes the listener and every relayed connection (the far side looks gone);
    ``restore()`` listens again on the same port.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def restore(self) -> TcpRelay:
        self._stop.clear()
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._thread = threading.Thread(target=self._serve, args=(listener,), daemon=True)
        self._thread.start()
        return self

    def cut(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _serve(self, listener: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        listener.setblocking(False)
        sel.register(listener, selectors.EVENT_READ)
        peers: dict[socket.socket, socket.socket] = {}
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.1):
                    sock = key.fileobj
                    if sock is listener:
                        client, _addr = listener.accept()
                        try:
                            upstream = socket.create_connection(self.target, timeout=5)
                        except OSError:
                            client.close()
                            continue
                        for a, b in ((client, upstream), (upstream, client)):
                            a.setblocking(True)
                            peers[a] = b
                            sel.register(a, selectors.EVENT_READ)
                        continue
                    other = peers.get(sock)  # type: ignore[arg-type]
                    data = b""
                    with contextlib.suppress(OSError):
                        data = sock.recv(65536)  # type: ignore[union-attr]
                    if not data or other is None:
                        for s in (sock, other):
                            if s is not None and s in peers:
                                sel.unregister(s)
                                peers.pop(s, None)
                                s.close()
                        continue
                    with contextlib.suppress(OSError):
                        other.sendall(data)
        finally:
            for s in list(peers):
                with contextlib.suppress(OSError, KeyError):
                    sel.unregister(s)
                s.close()
            sel.unregister(listener)
            listener.close()
            sel.close()
