"""The headless viewer through HAProxy: it keeps the sticky cookie of the page's answer and
sends it with its WebSocket's upgrade, so its session stays on the replica that served the
page (bench/scale.py counts viewers per replica by that cookie).

HAProxy is real (Debian's ``haproxy``, configured by nemlive/devtools/haproxy.py); the two
replicas behind it stand in for Streamlit servers: each answers the page and the upgrade,
and notes the cookie each request carried.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from http import HTTPStatus
from pathlib import Path

import pytest
import websockets
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from nemlive.devtools.haproxy import (
    COOKIE,
    HaproxySettings,
    build_haproxy_config,
    replica_servers,
)
from tests.support_stclient import Viewer, format_cookies, parse_set_cookies

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def test_cookies_are_parsed_without_their_attributes_and_sent_back_as_one_header() -> None:
    jar = parse_set_cookies(["SERVERID=dash2; path=/; HttpOnly", "b=2"])
    assert jar == {"SERVERID": "dash2", "b": "2"}
    assert format_cookies(jar) == "SERVERID=dash2; b=2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replica:
    """A stand-in server: 200 for the page, a WebSocket for ``/_stcore/stream``; it notes
    the ``Cookie`` header of each request (``page``, ``stream``)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.seen: list[tuple[str, str]] = []

    def process_request(self, _conn: ServerConnection, request: Request) -> Response | None:
        cookie = request.headers.get("Cookie", "")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            if request.path == "/":  # not HAProxy's health checks
                self.seen.append(("page", cookie))
            return Response(HTTPStatus.OK, "OK", websockets.Headers(), b"ok\n")
        self.seen.append(("stream", cookie))
        return None

    async def handler(self, conn: ServerConnection) -> None:
        await conn.wait_closed()


async def _open(viewers: list[Viewer]) -> None:
    """Open the tabs one by one and hold them open together, then close them."""
    stop = asyncio.Event()
    tasks = []
    for v in viewers:  # open tabs: the next new one goes to the less busy replica
        tasks.append(asyncio.create_task(v.run(stop)))
        await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)


async def _through_haproxy(front: int, cfg: str, replicas: list[Replica]) -> list[Viewer]:
    """Four new tabs, then three that reconnect with the first tab's cookies."""
    servers = [
        await websockets.serve(r.handler, "127.0.0.1", r.port, process_request=r.process_request)
        for r in replicas
    ]
    settings = HaproxySettings(
        "127.0.0.1", front, replica_servers("127.0.0.1", [r.port for r in replicas])
    )
    Path(cfg).write_text(build_haproxy_config(settings))
    proc = subprocess.Popen([HAPROXY, "-db", "-f", cfg], stderr=subprocess.DEVNULL)
    url = f"ws://127.0.0.1:{front}/_stcore/stream"
    try:
        await _until_listening(front)
        await asyncio.sleep(3)  # two good health checks a second apart: both servers up
        tabs = [Viewer(url, load_page=True) for _ in range(4)]
        await _open(tabs)
        await _open([Viewer(url, cookies=dict(tabs[0].cookies)) for _ in range(3)])
        return tabs
    finally:
        proc.terminate()
        proc.wait(10)
        for s in servers:
            s.close()


async def _until_listening(port: int, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"HAProxy does not listen on {port}")


@pytest.mark.integration
def test_a_viewer_carries_haproxys_cookie_from_the_page_to_its_websocket(
    tmp_path: Path,
) -> None:
    assert Path(HAPROXY).exists(), "haproxy not found: apt-get install haproxy"
    replicas = [Replica(), Replica()]
    tabs = asyncio.run(_through_haproxy(_free_port(), str(tmp_path / "h.cfg"), replicas))
    names = [v.cookies.get(COOKIE) for v in tabs]
    assert sorted(names) == ["dash1", "dash1", "dash2", "dash2"]  # leastconn spreads tabs
    first = ("dash1", "dash2").index(names[0])
    for i, replica in enumerate(replicas):
        pages = [kind for kind, _ in replica.seen if kind == "page"]
        streams = [kind for kind, _ in replica.seen if kind == "stream"]
        # Each tab's WebSocket went where its page was served; the three reconnections with
        # the first tab's cookie all went to its replica, however busy (HAProxy strips its
        # cookie before the replica: "insert indirect").
        assert len(pages) == 2
        assert len(streams) == 2 + (3 if i == first else 0)
