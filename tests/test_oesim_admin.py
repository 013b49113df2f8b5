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


def bindable(address: str) -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


def find_other_address() -> str | None:
    """An IPv4 address of this machine that is not loopback, or None."""
    candidates: list[str] = []
    # connect() on UDP sends nothing: it only asks the kernel which source address it
    # would use on the default route
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.connect(("198.51.100.1", 9))
        candidates.append(udp.getsockname()[0])
    with contextlib.suppress(OSError):
        candidates += socket.gethostbyname_ex(socket.gethostname())[2]
    for address in candidates:
        if not is_loopback_peer(address) and bindable(address):
            return address
    return None


@contextlib.contextmanager
def serve_everywhere() -> Iterator[SimulatorServer]:
    """A simulator bound to 0.0.0.0, as ``python -m oesim --host 0.0.0.0`` runs it."""
    config = SimulatorConfig(dataset=load_dataset("small"), keys={DEMO_KEY: "COMMUNITY"})
    server = SimulatorServer(("0.0.0.0", 0), config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=10)


def call(port: int, method: str, path: str, source: str) -> tuple[int, bytes]:
    """One request to ``source``:``port``, sent from the address ``source``."""
    conn = http.client.HTTPConnection(source, port, timeout=10, source_address=(source, 0))
    try:
        conn.request(method, path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def test_admin_routes_refuse_a_caller_on_another_address() -> None:
    other = find_other_address()
    if other is None:
        pytest.skip("this machine has no address but loopback: no other caller to refuse")
    with serve_everywhere() as server:
        status, body = call(server.port, "POST", "/__sim__/faults?kind=slow&count=5", other)
        assert status == 403
        assert body.count(b"\n") == 0
        assert "own machine" in json.loads(body)["detail"]
        assert server.faults.pending() == []  # the handler never ran

        for method, path in (("GET", "/__sim__/requests"), ("DELETE", "/__sim__/faults")):
            assert call(server.port, method, path, other)[0] == 403

        # the same server still obeys a caller on loopback
        status, body = call(server.port, "POST", "/__sim__/faults?kind=503", "127.0.0.1")
        assert status == 200
        assert [rule.kind for rule in server.faults.pending()] == ["503"]


def test_admin_routes_answer_loopback() -> None:
    with run_simulator() as sim:
        status, body = call(sim.port, "POST", "/__sim__/faults?kind=503", "127.0.0.1")
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
            assert call(sim.port, "GET", "/v4/me", "127.0.0.1")[0] == 401
        status, body = call(sim.port, "GET", "/__sim__/requests", "127.0.0.1")
        assert status == 200
        assert len(json.loads(body)["requests"]) == 3
