"""The simulator's ``/__sim__/`` routes answer only callers on its own machine, and its
request log keeps the newest requests only."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Iterator

import pytest

from oesim.faults import REQUEST_LOG_LIMIT, RequestLog, RequestRecord
from oesim.server import SimulatorConfig, SimulatorServer, is_loopback_peer, load_dataset
from oesim.testing import DEMO_KEY, run_simulator


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.0.2.2", False),
        ("10.0.0.1", False),
        ("::ffff:192.0.2.2", False),
        ("fd00::2", False),
        ("0.0.0.0", False),
        ("localhost", False),
        ("", False),
    ],
)
def test_loopback_peer(host: str, loopback: bool) -> None:
    assert is_loopback_peer(host) is loopback


class ElsewhereServer(SimulatorServer):
    """A simulator on 127.0.0.1 whose connections are reported as coming from ``peer``, as
    they would be from another machine with ``--host 0.0.0.0`` (no test traffic leaves
    loopback). ``peer = None``: the real peer address."""

    peer: str | None = None

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        sock, address = super().get_request()
        return sock, (address if self.peer is None else (self.peer, address[1]))


@contextlib.contextmanager
def serve_elsewhere(peer: str) -> Iterator[ElsewhereServer]:
    config = SimulatorConfig(dataset=load_dataset("small"), keys={DEMO_KEY: "COMMUNITY"})
    server = ElsewhereServer(("127.0.0.1", 0), config)
    server.peer = peer
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=10)


def call(port: int, method: str, path: str) -> tuple[int, bytes]:
    """One request to 127.0.0.1:``port``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


@pytest.mark.parametrize("peer", ["192.0.2.2", "::ffff:192.0.2.2", "fd00::2"])
def test_admin_routes_refuse_a_caller_on_another_address(peer: str) -> None:
    with serve_elsewhere(peer) as server:
        status, body = call(server.port, "POST", "/__sim__/faults?kind=slow&count=5")
        assert status == 403
        assert body.count(b"\n") == 0
        assert "own machine" in json.loads(body)["detail"]
        assert server.faults.pending() == []  # the handler never ran

        for method, path in (("GET", "/__sim__/requests"), ("DELETE", "/__sim__/faults")):
            assert call(server.port, method, path)[0] == 403
        assert call(server.port, "GET", "/v4/me")[0] == 401  # the API itself still answers

        server.peer = None  # the same server still obeys a caller on loopback
        status, body = call(server.port, "POST", "/__sim__/faults?kind=503")
        assert status == 200
        assert [rule.kind for rule in server.faults.pending()] == ["503"]


def test_admin_routes_answer_loopback() -> None:
    with run_simulator() as sim:
        status, body = call(sim.port, "POST", "/__sim__/faults?kind=503")
        assert status == 200
        assert json.loads(body)["faults"][0]["kind"] == "503"


def record(number: int) -> RequestRecord:
    return RequestRecord(method="GET", path=f"/v4/me/{number}", query="", status=200, bytes=1)


def test_request_log_keeps_the_newest_limit() -> None:
    log = RequestLog()
    for number in range(2 * REQUEST_LOG_LIMIT):
        log.append(record(number))
    assert REQUEST_LOG_LIMIT == 10_000
    assert len(log) == REQUEST_LOG_LIMIT
    assert log[0] == record(REQUEST_LOG_LIMIT)
    assert log[-1] == record(2 * REQUEST_LOG_LIMIT - 1)


def test_served_requests_past_the_limit_drop_the_oldest() -> None:
    with run_simulator() as sim:
        sim.server.requests = RequestLog(limit=3)
        for _ in range(6):
            assert call(sim.port, "GET", "/v4/me")[0] == 401
        status, body = call(sim.port, "GET", "/__sim__/requests")
        assert status == 200
        assert len(json.loads(body)["requests"]) == 3
