"""Test helpers for the extractor: fakes of the *other party* (the OE API) and CLI runners.

* :class:`ScriptedServer`: a loopback HTTP server that answers with scripted replies, for the
  HTTP client's retry, error and pacing rules.
* :class:`RecordedOE`: a loopback stand-in for the OE API that serves the real recorded
  responses of ``../shared/oe/`` (read at run time, never copied into the project).
* :func:`run_extractor`: ``extractor.py`` as a subprocess with a clean environment.
"""

from __future__ import annotations

import csv
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import PYTHON, ROOT, clean_subprocess_env

EXTRACTOR = ROOT / "extractor.py"


# --------------------------------------------------------------------------- HTTP plumbing


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``body`` dicts are sent as JSON. ``delay``: seconds before the
    answer. ``cut``: send only the first half of the body (Content-Length matches the cut)."""

    status: int = 200
    body: bytes | dict[str, Any] | list[Any] | str = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    cut: bool = False

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class Seen:
    """A request as the fake server saw it; ``at``: time.monotonic() on arrival."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, answer: Callable[[Seen], Reply]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        seen = Seen(
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            at=time.monotonic(),
        )
        with self.server.lock:
            self.server.seen.append(seen)
        reply = self.server.answer(seen)
        if reply.delay and self.server.stopping.wait(reply.delay):
            self.close_connection = True
            return
        body = reply.payload()
        if reply.cut:
            body = body[: len(body) // 2]
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


@contextmanager
def serve(answer: Callable[[Seen], Reply]) -> Iterator[_Server]:
    server = _Server(answer)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def base_url(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v4"


class ScriptedServer:
    """Answers with ``replies`` in order, then repeats ``default``."""

    def __init__(self, replies: Sequence[Reply], default: Reply | None = None) -> None:
        self._replies = list(replies)
        self._default = default or Reply(200, {"data": []})
        self._lock = threading.Lock()

    def __call__(self, seen: Seen) -> Reply:
        with self._lock:
            return self._replies.pop(0) if self._replies else self._default


# --------------------------------------------------------------------------- recorded OE


def oe_error(message: str) -> dict[str, Any]:
    """The OE error envelope (docs/oe-api.md §1)."""
    return {"version": "4.3.0", "response_status": "ERROR", "error": message, "success": False}


@dataclass
class RecordedOE:
    """A fake OE API serving the real recorded responses from ``shared_oe``.

    * ``/v4/facilities/``: ``facilities.json`` as recorded (the stub ignores filters).
    * ``/v4/data/facilities/NEM``: the recorded day, only for its exact window; the units of
      the requested facility codes (mapped through ``facilities.json``); else the OE 404.
    * ``/v4/market/network/NEM``: 404 "No market data": the recorded set has no
      region-grouped market response for that day (only a NEM total and a 2019 SA1 week).
    """

    shared_oe: Path
    key: str
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.facilities_body = (self.shared_oe / "facilities.json").read_bytes()
        self.day = json.loads((self.shared_oe / "facility_data_5m_2025-10-01.json").read_text())
        self.request = json.loads(
            (self.shared_oe / "facility_data_5m_2025-10-01.request.json").read_text()
        )
        facilities = json.loads(self.facilities_body)["data"]
        self.unit_facility = {u["code"]: f["code"] for f in facilities for u in f["units"]}

    def __call__(self, seen: Seen) -> Reply:
        self.seen.append(seen)
        if seen.headers.get("authorization") != f"Bearer {self.key}":
            return Reply(401, oe_error("Invalid API key"))
        path = seen.path.removeprefix("/v4")
        if path in ("/facilities/", "/facilities"):
            return Reply(200, self.facilities_body)
        if path == "/data/facilities/NEM":
            return self._facility_data(seen.query)
        if path == "/market/network/NEM":
            return Reply(
                404,
                oe_error("No market data available for network NEM in the specified time range"),
            )
        return Reply(404, {"detail": "Not Found"})

    def _facility_data(self, query: dict[str, list[str]]) -> Reply:
        codes = query.get("facility_code", [])
        if len(codes) > 30:
            return Reply(422, {"detail": [{"type": "too_long", "loc": ["query", "facility_code"], "msg": f"List should have at most 30 items after validation, not {len(codes)}", "input": codes}]})  # fmt: skip
        window = (query.get("date_start", [""])[0], query.get("date_end", [""])[0])
        wanted = set(codes)
        if window != (self.request["date_start"], self.request["date_end"]):
            wanted = set()
        data = []
        for block in self.day["data"]:
            results = [
                r
                for r in block["results"]
                if self.unit_facility.get(r["columns"]["unit_code"]) in wanted
            ]
            if results and block["metric"] in query.get("metrics", []):
                data.append({**block, "results": results})
        if not data:
            return Reply(
                404,
                oe_error(
                    f"No data available for facility={sorted(codes)} in the specified time range"
                ),
            )
        return Reply(200, {**{k: v for k, v in self.day.items() if k != "data"}, "data": data})


# --------------------------------------------------------------------------- CLI


def run_extractor(
    args: Sequence[str],
    *,
    cwd: Path,
    timeout: float = 120,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """``python extractor.py ARGS`` in ``cwd`` with a clean environment plus ``env``."""
    return subprocess.run(
        [PYTHON, str(EXTRACTOR), *args],
        cwd=cwd,
        env=clean_subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a CSV file, every cell a string."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, list(reader)


def column(header: list[str], rows: list[list[str]], name: str) -> list[str]:
    i = header.index(name)
    return [r[i] for r in rows]
