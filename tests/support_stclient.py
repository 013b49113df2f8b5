"""A headless Streamlit viewer: speaks the page's websocket protocol, as the browser does.

One ``Viewer`` opens ``/_stcore/stream``, asks for the first script run, and then asks for
every fragment rerun that the page's timers would ask for (the server names each timer in an
``auto_rerun`` message: a fragment id and an interval). Like the browser it keeps a cache of
the large elements it has received and names them in each request, so the server may send a
reference instead of an element it has already sent. It records when each run was asked for
and when it finished, by fragment, and when each kind of element arrived. bench/viewers.py
measures many of them against one server (and compares one with a Chromium page);
tests/test_dashboard_viewers.py reads what one page is sent.

With ``load_page`` it first asks for the page over HTTP, as a browser tab does, and keeps the
cookies the answers set (``cookies``): it sends them with the WebSocket's upgrade, so a load
balancer's sticky cookie (HAProxy's ``SERVERID``) holds the session on the replica that served
the page; a new ``Viewer`` given an old tab's ``cookies`` reconnects as that tab does.
bench/scale.py drives them through HAProxy.

Built on the protobuf messages that ship with Streamlit (``streamlit.proto``) and the
``websockets`` client.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import urllib.request
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

FULL_RUN = "app"  # the key of a whole-script run in Viewer.finished


@dataclass
class Viewer:
    """One page's session: its timers, cache and run log."""

    url: str
    page_hash: str = ""
    cached: set[str] = field(default_factory=set)
    timers: dict[str, float] = field(default_factory=dict)
    finished: dict[str, list[float]] = field(default_factory=dict)
    run_times: list[float] = field(default_factory=list)
    bytes_in: int = 0
    errors: list[str] = field(default_factory=list)
    elements: list[tuple[float, str]] = field(default_factory=list)  # (arrival, element type)
    load_page: bool = False  # GET the page (and keep its cookies) before the WebSocket
    cookies: dict[str, str] = field(default_factory=dict)
    _asked: dict[str, float] = field(default_factory=dict)
    _ws: websockets.ClientConnection | None = None
    _tasks: dict[str, asyncio.Task] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        """Open the session, run the script, follow its timers until ``stop`` is set."""
        if self.load_page:
            await asyncio.to_thread(self._get_page)
        headers = {"Cookie": format_cookies(self.cookies)} if self.cookies else None
        async with websockets.connect(
            self.url,
            subprotocols=["streamlit"],
            max_size=None,
            compression=None,
            additional_headers=headers,
        ) as ws:
            self._ws = ws
            if ws.response is not None:
                self.cookies.update(parse_set_cookies(ws.response.headers.get_all("Set-Cookie")))
            await self._ask("")
            reader = asyncio.create_task(self._read(ws))
            await stop.wait()
            for task in self._tasks.values():
                task.cancel()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    def _get_page(self) -> None:
        """GET the page this session's WebSocket belongs to, sending and keeping cookies."""
        parts = urlsplit(self.url)
        scheme = "https" if parts.scheme == "wss" else "http"
        request = urllib.request.Request(f"{scheme}://{parts.netloc}/")
        if self.cookies:
            request.add_header("Cookie", format_cookies(self.cookies))
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()
            self.cookies.update(parse_set_cookies(answer.headers.get_all("Set-Cookie") or []))

    async def _ask(self, fragment_id: str) -> None:
        """Ask for a run of the script (``""``) or of one fragment, as the browser does."""
        msg = BackMsg()
        state = msg.rerun_script
        state.page_script_hash = self.page_hash
        state.fragment_id = fragment_id
        state.is_auto_rerun = bool(fragment_id)
        state.cached_message_hashes.extend(self.cached)
        self._asked.setdefault(fragment_id or FULL_RUN, time.monotonic())
        assert self._ws is not None
        await self._ws.send(msg.SerializeToString())

    async def _read(self, ws: websockets.ClientConnection) -> None:
        async for raw in ws:
            self.bytes_in += len(raw)
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            self._on_message(msg)

    def _on_message(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if msg.metadata.cacheable and msg.hash:
            self.cached.add(msg.hash)
        if kind == "new_session":
            self.page_hash = msg.new_session.page_script_hash
        elif kind == "auto_rerun":
            self._start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                task = self._tasks.pop(fid, None)
                if task is not None:
                    task.cancel()
        elif kind == "script_finished":
            ids = tuple(msg.metadata.run.fragment_ids) or (FULL_RUN,)
            self._on_finished(ids)
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            self.elements.append((time.monotonic(), element.WhichOneof("type") or ""))
            if element.WhichOneof("type") == "exception":
                self.errors.append(element.exception.message)
        elif kind == "ref_hash":
            self.elements.append((time.monotonic(), "ref_hash"))

    def _on_finished(self, ids: tuple[str, ...]) -> None:
        """A run ended. Whatever its status: ``FINISHED_EARLY_FOR_RERUN`` also ends a run that
        completed while another request waited (a timer's rerun never interrupts a run)."""
        now = time.monotonic()
        for key in ids:
            asked = self._asked.pop(key, None)
            if asked is not None:
                self.run_times.append(now - asked)
            self.finished.setdefault(key, []).append(now)

    def _start_timer(self, fragment_id: str, interval: float) -> None:
        """The browser's timer for one fragment: a new interval replaces the old timer."""
        self.timers[fragment_id] = interval
        old = self._tasks.pop(fragment_id, None)
        if old is not None:
            old.cancel()
        self._tasks[fragment_id] = asyncio.create_task(self._tick(fragment_id, interval))

    async def _tick(self, fragment_id: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self._ask(fragment_id)
            except websockets.ConnectionClosed:
                return


def gaps(stamps: list[float], since: float) -> list[float]:
    """The intervals between successive stamps after ``since``."""
    kept = [t for t in stamps if t >= since]
    return [b - a for a, b in itertools.pairwise(kept)]


def parse_set_cookies(headers: list[str]) -> dict[str, str]:
    """Name -> value of the cookies that ``Set-Cookie`` headers set (attributes dropped)."""
    jar: SimpleCookie = SimpleCookie()
    for header in headers:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def format_cookies(cookies: dict[str, str]) -> str:
    """A ``Cookie`` request header's value."""
    return "; ".join(f"{name}={value}" for name, value in cookies.items())
