"""HAProxy in front of dashboard replicas: the configuration, built from a few settings (pure).

Streamlit keeps each browser tab on one server over a WebSocket (``/_stcore/stream``), so the
replicas sit behind sticky sessions: HAProxy inserts a ``SERVERID`` cookie naming the replica
that served the page, and every later request of that tab (its WebSocket included) goes there.
A replica that fails its health check (``GET /_stcore/health``) or refuses a connection is
passed over (``option redispatch``): its tabs reconnect, get a new cookie, and open on a live
replica, which fills the page from the store and the broker's retained messages.

``make scale`` writes this configuration for its loopback replicas;
``deploy/haproxy.cfg`` is the same function's output for the hosts of docs/deploy.md
(``python -m nemlive.devtools.haproxy --help`` prints it for other hosts).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

COOKIE = "SERVERID"  # the cookie that names a tab's replica
HEALTH_PATH = "/_stcore/health"  # Streamlit's own health endpoint: 200 "ok" once it serves
BACKEND = "dashboards"
# HAProxy's timeouts. A WebSocket is a tunnel once upgraded: it lives as long as the tab, so
# its idle limit is an hour (the page's heartbeat crosses it far more often), while a plain
# request must be answered within the client and server limits. Connecting to a replica on
# the same network is quick; a refused or slow connect goes to the next replica.
TIMEOUTS = {
    "connect": "2s",
    "client": "30s",
    "server": "30s",
    "tunnel": "1h",
    "client-fin": "10s",
    "http-request": "10s",
    "http-keep-alive": "10s",
    "queue": "10s",
    "check": "2s",
}
CHECKS = "check inter 1s fall 2 rise 2 on-marked-down shutdown-sessions"


@dataclass(frozen=True)
class Server:
    """One dashboard replica: its name (also its cookie value), host and port."""

    name: str
    host: str
    port: int


@dataclass(frozen=True)
class HaproxySettings:
    """Where HAProxy listens, the replicas behind it, and the host-specific parts.

    ``log``: HAProxy's ``log`` target (``/dev/log`` under systemd; None: none, and HAProxy
    in the foreground says on its stderr when a replica goes down or up). ``user``: the account it drops to after binding (None: stay as started,
    as ``make scale`` does). ``stats_socket``: the admin socket's path (None: no socket), for
    draining a replica before a restart.
    """

    bind_host: str
    bind_port: int
    servers: tuple[Server, ...]
    log: str | None = None
    user: str | None = None
    stats_socket: str | None = None
    maxconn: int = 4096


def build_haproxy_config(settings: HaproxySettings, header: str = "") -> str:
    """The whole ``haproxy.cfg`` text for ``settings``; ``header``: comment lines on top."""
    comment = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    return "\n".join(
        [*comment, *_global(settings), *_defaults(), *_frontend(settings), *_backend(settings), ""]
    )


def _global(s: HaproxySettings) -> list[str]:
    lines = ["global", f"    maxconn {s.maxconn}"]
    if s.log:
        lines.append(f"    log {s.log} local0 notice")
    if s.user:
        lines += [f"    user {s.user}", f"    group {s.user}"]
    if s.stats_socket:
        lines.append(f"    stats socket {s.stats_socket} mode 660 level admin")
    return [*lines, ""]


def _defaults() -> list[str]:
    return [
        "defaults",
        "    mode http",
        "    log global",
        "    option dontlognull",
        "    option forwardfor",
        "    # A refused connection is tried again on another replica, a second later.",
        "    option redispatch 1",
        "    retries 2",
        "    # An upgraded WebSocket is a tunnel that lives as long as its tab.",
        *(f"    timeout {name} {value}" for name, value in TIMEOUTS.items()),
        "",
    ]


def _frontend(s: HaproxySettings) -> list[str]:
    return [
        "frontend nemlive",
        f"    bind {s.bind_host}:{s.bind_port}",
        f"    default_backend {BACKEND}",
        "",
    ]


def _backend(s: HaproxySettings) -> list[str]:
    return [
        f"backend {BACKEND}",
        "    # Tabs hold their WebSocket while open: a new tab goes to the least busy replica,",
        f"    # and stays there by the cookie {COOKIE} (a Streamlit session lives in one server).",
        "    balance leastconn",
        f"    cookie {COOKIE} insert indirect nocache httponly",
        "    # Down after two failed health checks a second apart (its tabs are cut, reconnect",
        "    # and move on), up again after two good ones.",
        "    option httpchk",
        f"    http-check send meth GET uri {HEALTH_PATH} ver HTTP/1.1 hdr Host localhost",
        "    http-check expect status 200",
        f"    default-server {CHECKS}",
        *(f"    server {v.name} {v.host}:{v.port} cookie {v.name}" for v in s.servers),
    ]


def parse_server_status(show_stat: str, backend: str = BACKEND) -> dict[str, str]:
    """Server name -> status (``UP``, ``DOWN``, ``DRAIN``, ``MAINT``, ``DOWN 1/2`` while
    checks change it) of ``backend``, from the CSV of the admin socket's ``show stat``."""
    lines = show_stat.splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    columns = lines[0][2:].split(",")
    name, server, status = (columns.index(c) for c in ("pxname", "svname", "status"))
    found = {}
    for line in lines[1:]:
        cells = line.split(",")
        if len(cells) > status and cells[name] == backend and cells[server] != "BACKEND":
            found[cells[server]] = cells[status]
    return found


def replica_servers(host: str, ports: Sequence[int], prefix: str = "dash") -> tuple[Server, ...]:
    """``dash1``, ``dash2``... on ``host`` at ``ports``, in order."""
    return tuple(Server(f"{prefix}{i}", host, port) for i, port in enumerate(ports, start=1))


# deploy/haproxy.cfg: HAProxy on its own host, three dashboard hosts (docs/deploy.md).
DEPLOY_SETTINGS = HaproxySettings(
    bind_host="0.0.0.0",
    bind_port=80,
    servers=(
        Server("dash1", "10.0.0.21", 8501),
        Server("dash2", "10.0.0.22", 8501),
        Server("dash3", "10.0.0.23", 8501),
    ),
    log="/dev/log",
    user="haproxy",
    stats_socket="/run/haproxy/admin.sock",
)
DEPLOY_HEADER = """\
NEM Live: HAProxy in front of the dashboard replicas (docs/deploy.md).
Made by: python -m nemlive.devtools.haproxy --deploy
Other hosts: python -m nemlive.devtools.haproxy --bind 0.0.0.0:80 \\
    --server dash1=HOST:8501 --server dash2=HOST:8501 ... --log /dev/log --user haproxy"""


def _parse_server(text: str) -> Server:
    name, _, where = text.partition("=")
    host, _, port = where.rpartition(":")
    if not (name and host and port.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r}: use NAME=HOST:PORT, e.g. dash1=10.0.0.21:8501")
    return Server(name, host, int(port))


def _parse_bind(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not (host and port.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r}: use HOST:PORT, e.g. 0.0.0.0:80")
    return host, int(port)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m nemlive.devtools.haproxy",
        description="Print an haproxy.cfg for NEM Live's dashboard replicas.",
    )
    p.add_argument("--deploy", action="store_true", help="deploy/haproxy.cfg as shipped")
    p.add_argument("--bind", type=_parse_bind, default=("127.0.0.1", 8500), help="HOST:PORT")
    p.add_argument(
        "--server", type=_parse_server, action="append", default=[], help="NAME=HOST:PORT"
    )
    p.add_argument("--log", default=None, help="log target, e.g. /dev/log (default none)")
    p.add_argument("--user", default=None, help="account to run as after binding")
    p.add_argument("--stats-socket", default=None, help="path of the admin socket")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.deploy:
        sys.stdout.write(build_haproxy_config(DEPLOY_SETTINGS, DEPLOY_HEADER))
        return 0
    if not args.server:
        print("error: name at least one replica: --server dash1=HOST:PORT", file=sys.stderr)
        return 2
    settings = HaproxySettings(
        args.bind[0], args.bind[1], tuple(args.server), args.log, args.user, args.stats_socket
    )
    sys.stdout.write(build_haproxy_config(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
