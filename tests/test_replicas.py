"""make scale's replicas (nemlive/devtools/replicas.py): when a replica that exited is started
again, SIGHUP as a request, and HAProxy's admin socket, against a real HAProxy.

The topology itself, with browsers, is tests/test_scale_browser.py.
"""

from __future__ import annotations

import http.server
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nemlive.common.errors import NemLiveError
from nemlive.devtools.haproxy import HaproxySettings, build_haproxy_config, replica_servers
from nemlive.devtools.replicas import (
    QUICK_EXIT_S,
    QUICK_EXITS,
    Replica,
    RollingRestartRequest,
    admin_command,
    restart_due,
    wait_until_up,
)
from nemlive.devtools.run import wait_for_port
from tests.conftest import free_port
from tests.support_dashboard import wait_until
from tests.support_scale import haproxy_binary


def test_a_replica_is_started_again_only_after_the_delay() -> None:
    replica = Replica("dash1", 8501, started=0.0)
    assert restart_due(replica, -9, now=100.0, restart_after=10.0) is False
    assert replica.exited_at == 100.0
    assert restart_due(replica, -9, now=109.9, restart_after=10.0) is False
    assert restart_due(replica, -9, now=110.0, restart_after=10.0) is True
    assert restart_due(Replica("dash2", 1, started=0.0), 0, 50.0, restart_after=0) is True


def test_a_replica_that_keeps_exiting_right_after_its_start_stops_make_scale() -> None:
    replica = Replica("dash2", 8502)
    for attempt in range(QUICK_EXITS):
        start = attempt * 100.0
        replica.started, replica.exited_at = start, None  # as start_replica sets them
        exited = start + QUICK_EXIT_S / 2
        if attempt < QUICK_EXITS - 1:
            assert restart_due(replica, 1, exited, restart_after=1.0) is False
        else:
            with pytest.raises(NemLiveError, match=f"dash2 exited {QUICK_EXITS} times in a row"):
                restart_due(replica, 1, exited, restart_after=1.0)


def test_an_exit_after_a_long_run_starts_the_count_again() -> None:
    replica = Replica("dash3", 8503, quick_exits=QUICK_EXITS - 1, started=0.0)
    assert restart_due(replica, -9, now=QUICK_EXIT_S + 1, restart_after=5.0) is False
    assert replica.quick_exits == 0


def test_sighup_asks_for_one_rolling_restart() -> None:
    request = RollingRestartRequest()
    assert request.take() is False
    request.handle(signal.SIGHUP, None)
    request.handle(signal.SIGHUP, None)  # twice before the loop looks: one restart
    assert request.take() is True
    assert request.take() is False


def test_an_admin_socket_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(NemLiveError, match=r"admin socket .*haproxy\.sock did not answer"):
        admin_command(tmp_path / "haproxy.sock", "show stat")


# --- a real HAProxy -------------------------------------------------------------------------


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """HAProxy before two replicas: dash1 answers its health checks, nothing listens for
    dash2; yields its admin socket and process."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    admin = tmp_path / "haproxy.sock"
    ports = [server.server_address[1], free_port()]
    settings = HaproxySettings(
        "127.0.0.1", free_port(), replica_servers("127.0.0.1", ports), stats_socket=str(admin)
    )
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(build_haproxy_config(settings))
    proc = subprocess.Popen(
        [haproxy_binary(), "-db", "-f", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_port(settings.bind_port, proc, timeout=15)
        yield admin, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.shutdown()


@pytest.mark.integration
def test_haproxys_checks_and_drain_seen_through_its_admin_socket(
    haproxy: tuple[Path, subprocess.Popen[bytes]],
) -> None:
    from nemlive.devtools.haproxy import parse_server_status

    admin, proc = haproxy

    def status() -> dict[str, str]:
        return parse_server_status(admin_command(admin, "show stat"))

    assert wait_until(lambda: status() == {"dash1": "UP", "dash2": "DOWN"}, timeout=15), status()
    wait_until_up(admin, Replica("dash1", 0), proc, timeout=5)  # returns: it is up
    admin_command(admin, "set server dashboards/dash1 state drain")
    assert status()["dash1"] == "DRAIN"
    with pytest.raises(NemLiveError, match="dash2 did not come up"):
        wait_until_up(admin, Replica("dash2", 0), proc, timeout=1.5)


class _Exited:
    """A child as supervise() sees it: exited with ``code``, or running (None)."""

    def __init__(self, code: int | None) -> None:
        self.returncode = code

    def poll(self) -> int | None:
        return self.returncode


def test_a_recorder_that_exits_is_let_go_while_another_records() -> None:
    from nemlive.devtools.replicas import let_a_recorder_go

    dead, alive = _Exited(-9), _Exited(None)
    procs = [("recorder 1", dead), ("recorder 2", alive), ("publisher", _Exited(None))]
    let_a_recorder_go(procs, "recorder 1", dead)  # type: ignore[arg-type]
    assert [n for n, _ in procs] == ["recorder 2", "publisher"]
    alive.returncode = 1  # the last one: nothing records the stream any more
    with pytest.raises(NemLiveError, match=r"the recorder 2 stopped \(exit 1\)"):
        let_a_recorder_go(procs, "recorder 2", alive)  # type: ignore[arg-type]
    with pytest.raises(NemLiveError, match="the publisher stopped"):
        let_a_recorder_go(procs, "publisher", _Exited(0))  # type: ignore[arg-type]
