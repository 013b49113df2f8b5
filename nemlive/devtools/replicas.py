"""``make scale``'s dashboard replicas: started, watched, started again, restarted in turn.

* A replica that exits is started again :data:`RESTART_AFTER_S` later, as the systemd units'
  ``Restart=`` and ``RestartSec=`` do (deploy/): by then HAProxy has marked it down and its
  tabs have reconnected to the others.
* SIGHUP restarts every replica, one at a time, as an operator does after an upgrade
  (docs/deploy.md): drained in HAProxy (no new tab goes there), stopped, started, and the
  next one only once HAProxy's health checks say this one is up again.

HAProxy is driven through its admin socket (``set server``, ``show stat``).
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from nemlive.common.errors import NemLiveError
from nemlive.devtools.haproxy import BACKEND, parse_server_status
from nemlive.devtools.run import SIGNALS, dashboard_command, spawn, stop_process, wait_for_port

log = logging.getLogger("nemlive.devtools.scale")
Procs = list[tuple[str, subprocess.Popen[bytes]]]
START_TIMEOUT_S = 90.0  # several Streamlit servers starting at once on a small machine
# A replica that exits is started again this long after (as the units' RestartSec=): HAProxy
# has marked it down by then (two failed checks a second apart) and its tabs moved on.
RESTART_AFTER_S = 10.0
# A replica that exits this soon after its start, this many times in a row, is broken, not
# unlucky: make scale stops instead of restarting it forever.
QUICK_EXIT_S = 20.0
QUICK_EXITS = 3
ADMIN_TIMEOUT_S = 5.0


@dataclass
class Replica:
    """A dashboard replica: its name (HAProxy's server and cookie), port, and its history."""

    name: str
    port: int
    started: float = 0.0
    exited_at: float | None = None
    quick_exits: int = 0
    pids: list[int] = field(default_factory=list)

    @property
    def proc_name(self) -> str:
        return f"dashboard {self.name}"


def start_replica(procs: Procs, replica: Replica, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``streamlit run dashboard.py`` on 127.0.0.1:``replica.port``, recorded in ``procs``."""
    argv = dashboard_command(replica.port, "--browser.gatherUsageStats", "false")
    # Its stdout only says where to open it: the page to open is HAProxy's.
    proc = spawn(procs, replica.proc_name, argv, env, stdout=subprocess.DEVNULL)
    replica.started = time.monotonic()
    replica.exited_at = None
    replica.pids.append(proc.pid)
    return proc


def start_replicas(procs: Procs, replicas: list[Replica], env: dict[str, str]) -> None:
    """Every replica at once, then wait until each one listens."""
    started = [(r, start_replica(procs, r, env)) for r in replicas]
    deadline = time.monotonic() + START_TIMEOUT_S
    for replica, proc in started:
        if not wait_for_port(replica.port, proc, max(1.0, deadline - time.monotonic())):
            raise NemLiveError(f"the dashboard replica {replica.name} did not start: see above")


class RollingRestartRequest:
    """SIGHUP asks for a rolling restart; the supervisor's loop takes the request."""

    def __init__(self) -> None:
        self._asked = threading.Event()

    def handle(self, signum: int, frame: object) -> None:
        self._asked.set()

    def take(self) -> bool:
        asked = self._asked.is_set()
        self._asked.clear()
        return asked


ROLLING = RollingRestartRequest()


def install_rolling_restart() -> None:
    signal.signal(signal.SIGHUP, ROLLING.handle)


def supervise(
    procs: Procs,
    replicas: list[Replica],
    env: dict[str, str],
    admin: Path,
    restart_after: float = RESTART_AFTER_S,
) -> None:
    """Return never: start again a replica that exits, ``restart_after`` seconds later;
    restart them all in turn on SIGHUP. NemLiveError when another child exits, or a replica
    keeps exiting right after its start (a stop signal raises _Stop)."""
    by_name = {r.proc_name: r for r in replicas}
    while True:
        if ROLLING.take():
            rolling_restart(procs, replicas, env, admin)
        now = time.monotonic()
        for name, proc in list(procs):
            if proc.poll() is None:
                continue
            replica = by_name.get(name)
            if replica is None:
                let_a_recorder_go(procs, name, proc)
                continue
            if restart_due(replica, proc.returncode, now, restart_after):
                with SIGNALS.held():
                    procs.remove((name, proc))
                start_replica(procs, replica, env)
        time.sleep(0.2)


def let_a_recorder_go(procs: Procs, name: str, proc: subprocess.Popen[bytes]) -> None:
    """A recorder that exits while another runs: the others cover its share (recorder.py
    --cover), and it stays down. NemLiveError for the last recorder or any other child."""
    recorders = [n for n, p in procs if n.startswith("recorder") and p.poll() is None]
    if not name.startswith("recorder") or not recorders:
        raise NemLiveError(f"the {name} stopped (exit {proc.returncode}): see above")
    log.info("%s exited (%s): %s records its share", name, proc.returncode, recorders[0])
    with SIGNALS.held():
        procs.remove((name, proc))


def restart_due(replica: Replica, code: int | None, now: float, restart_after: float) -> bool:
    """Whether to start ``replica`` again, ``restart_after`` s after it exited with ``code``
    (meanwhile HAProxy sends its tabs to the others). NemLiveError when it keeps exiting
    right after its start."""
    if replica.exited_at is None:
        replica.exited_at = now
        quick = now - replica.started < QUICK_EXIT_S
        replica.quick_exits = replica.quick_exits + 1 if quick else 0
        if replica.quick_exits >= QUICK_EXITS:
            raise NemLiveError(
                f"the dashboard replica {replica.name} exited {QUICK_EXITS} times in a row "
                f"right after starting (exit {code}): see above"
            )
        log.info(
            "dashboard replica %s exited (%s): its tabs move to the others; starting it "
            "again in %g s",
            replica.name,
            code,
            restart_after,
        )
    return now - replica.exited_at >= restart_after


def rolling_restart(
    procs: Procs, replicas: list[Replica], env: dict[str, str], admin: Path
) -> None:
    """Each replica in turn: drained, stopped, started, and up in HAProxy before the next."""
    log.info("rolling restart of %d replicas, one at a time", len(replicas))
    for replica in replicas:
        admin_command(admin, f"set server {BACKEND}/{replica.name} state drain")
        for name, proc in list(procs):
            if name == replica.proc_name:
                stop_process(proc, name)
                with SIGNALS.held():
                    procs.remove((name, proc))
        proc = start_replica(procs, replica, env)
        # Ready only once it listens: HAProxy's "UP" then means its checks passed since.
        if not wait_for_port(replica.port, proc, START_TIMEOUT_S):
            raise NemLiveError(f"the dashboard replica {replica.name} did not start: see above")
        admin_command(admin, f"set server {BACKEND}/{replica.name} state ready")
        wait_until_up(admin, replica, proc)
        log.info("rolling restart: %s is up again on :%d", replica.name, replica.port)
    log.info("rolling restart done")


def wait_until_up(
    admin: Path,
    replica: Replica,
    proc: subprocess.Popen[bytes],
    timeout: float = START_TIMEOUT_S,
) -> None:
    """Return once HAProxy's checks say ``replica`` is UP; NemLiveError if it exits first or
    ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        status = parse_server_status(admin_command(admin, "show stat")).get(replica.name)
        if status == "UP":
            return
        time.sleep(0.2)
    raise NemLiveError(f"the dashboard replica {replica.name} did not come up: see above")


def admin_command(path: Path, command: str) -> str:
    """One command on HAProxy's admin socket at ``path``; its whole answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(ADMIN_TIMEOUT_S)
            sock.connect(str(path))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError as exc:
        raise NemLiveError(f"HAProxy's admin socket {path} did not answer ({exc})") from None
    return b"".join(chunks).decode(errors="replace")
