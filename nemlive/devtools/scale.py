"""``make scale``: the scaled-out topology on one machine, on loopback.

* the MQTT broker: the one listening on localhost:1883, or else a mosquitto started on a free
  port (the recorders keep MQTT 5 sessions: the embedded broker cannot serve them);
* the store: ``NEMLIVE_STORE``, or else the database ``nemlive_scale`` on the PostgreSQL
  server at 127.0.0.1:5432, created if missing; one line if it cannot be reached;
* two recorders, ``nemlive-recorder-scale-1`` and ``-2``, in one shared-subscription group
  (``--share-group``): the broker hands each message to one of them, and each covers for the
  other (``--cover``, with a PostgreSQL store): while one is down, the other records its
  share. Their upserts are idempotent, so a message recorded twice is one row;
* the publisher replaying the shipped consolidate.csv, as ``make run`` does (on its own topic,
  ``nem/scale``, and with its own checkpoint);
* three dashboard replicas (``streamlit run dashboard.py``) on ports of their own, each with
  its own MQTT client id, each opening full from the store; a replica that exits is started
  again, and SIGHUP restarts them one at a time (:mod:`nemlive.devtools.replicas`);
* HAProxy on one port in front of them (:mod:`nemlive.devtools.haproxy`): sticky sessions by
  cookie, WebSockets, health checks.

It prints the one URL to open. One Ctrl-C (SIGINT or SIGTERM) stops everything, the publisher
first, the broker it started last. docs/deploy.md shows the same topology on several hosts.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from nemlive.common.errors import ConfigError, InputError, NemLiveError
from nemlive.devtools.haproxy import HaproxySettings, build_haproxy_config, replica_servers
from nemlive.devtools.replicas import (
    RESTART_AFTER_S,
    Procs,
    Replica,
    install_rolling_restart,
    start_replicas,
    supervise,
)
from nemlive.devtools.run import (
    ROOT,
    _Stop,
    count_messages_per_row,
    first_free_port,
    launch,
    publisher_command,
    recorder_command,
    resume_args,
    spawn,
    stop_process,
    wait_for_port,
)
from nemlive.publish.broker import is_listening
from nemlive.store.url import StoreUrl, parse_store_url

log = logging.getLogger("nemlive.devtools.scale")
SCALE_TOPIC = "nem/scale"  # never mixed with make run's nem/stream on a shared broker
SCALE_DATABASE = "nemlive_scale"
DEFAULT_STORE = f"postgresql://127.0.0.1:5432/{SCALE_DATABASE}"
SHARE_GROUP = "nemlive-scale"
# Children stop in this order (by the first word of their name): the publisher first (its
# `offline` goes out), HAProxy (no new tabs), the replicas, the recorders (they commit what
# came), and the broker this process started.
STOP_ORDER = ("publisher", "haproxy", "dashboard", "recorder", "broker")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="make scale",
        description="Broker, two recorders, PostgreSQL, the publisher, three dashboard "
        "replicas and HAProxy on one port, on loopback.",
    )
    p.add_argument("--csv", default=str(ROOT / "consolidate.csv"), help="cache to replay")
    p.add_argument("--pace", type=float, default=1.0, help="intervals replayed per second (1)")
    p.add_argument("--port", type=int, default=8500, help="HAProxy's port, first one tried")
    p.add_argument("--replicas", type=int, default=3, help="dashboard replicas (3)")
    p.add_argument("--recorders", type=int, default=2, help="recorders in the share group (2)")
    p.add_argument("--broker-port", type=int, default=1883, help="a broker's port on localhost")
    p.add_argument(
        "--restart-after",
        type=float,
        default=RESTART_AFTER_S,
        help=f"seconds before a replica that exited is started again ({RESTART_AFTER_S:g})",
    )
    p.add_argument("--topic", default=SCALE_TOPIC, help=f"base MQTT topic ({SCALE_TOPIC})")
    args = p.parse_args(argv)
    if not 1 <= args.replicas <= 16 or not 1 <= args.recorders <= 8 or args.pace <= 0:
        p.error("use 1 to 16 --replicas, 1 to 8 --recorders and a --pace above 0")
    return args


def resolve_store(env: dict[str, str]) -> tuple[StoreUrl, bool]:
    """The store (``NEMLIVE_STORE``, else :data:`DEFAULT_STORE`) and whether it is the
    default, whose database make scale creates."""
    text = env.get("NEMLIVE_STORE", "").strip()
    return parse_store_url(text or DEFAULT_STORE, "NEMLIVE_STORE"), not text


def prepare_store(url: StoreUrl, create_database: bool) -> None:
    """Create the default database if missing, then the tables (as the recorder would), so
    that the replicas open on a store with a schema. NemLiveError: one line, no secret."""
    if create_database:
        create_postgres_database(url)
    from nemlive.store import open_store

    try:
        with open_store(url) as store:
            store.span()
    except NemLiveError as exc:
        raise NemLiveError(f"{exc} (make scale records into NEMLIVE_STORE)") from None


def create_postgres_database(url: StoreUrl) -> None:
    """``CREATE DATABASE`` of ``url``'s database if it is missing, through the server's
    ``postgres`` database. NemLiveError: one line when the server cannot be reached."""
    import psycopg

    base, _, name = url.target.partition("?")[0].rpartition("/")
    if not name.isidentifier():
        raise ConfigError(f"{url.display}: name the database in letters, digits and _")
    try:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if found.fetchone() is None:
                conn.execute(f"CREATE DATABASE {name}")
                log.info("created the database %s", name)
    except psycopg.Error as exc:
        detail = url.scrub(" ".join(str(exc).split()))
        raise NemLiveError(
            f"PostgreSQL is not reachable at {url.for_viewers.removeprefix('PostgreSQL on ')} "
            f"({detail}): start it, or set NEMLIVE_STORE=postgresql://USER@HOST:PORT/DB"
        ) from None


def find_program(name: str, package: str) -> str:
    """The path of an installed program, or NemLiveError naming the package to install."""
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
    )
    if path is None:
        raise ConfigError(f"make scale needs {name}: install it (apt-get install {package})")
    return path


def ephemeral_port() -> int:
    """A port of 127.0.0.1 the system just picked as free."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_broker(procs: Procs, asked: int, workdir: Path) -> int:
    """The broker's port: ``asked`` if one listens there, else a mosquitto started here on a
    free port of 127.0.0.1 (anonymous, loopback only, no persistence)."""
    if is_listening("127.0.0.1", asked):
        log.info("using the MQTT broker already listening on localhost:%d", asked)
        return asked
    mosquitto = find_program("mosquitto", "mosquitto")
    port = ephemeral_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 1000000\nlog_dest stderr\nlog_type error\nlog_type warning\n"
    )
    broker = spawn(procs, "broker", [mosquitto, "-c", str(conf)], dict(os.environ))
    if not wait_for_port(port, broker, timeout=15):
        raise NemLiveError("mosquitto did not start: see the lines above")
    log.info("nothing listens on localhost:%d: started mosquitto on localhost:%d", asked, port)
    return port


def plan_replicas(count: int, front: int) -> list[Replica]:
    """``count`` replicas on the free ports after HAProxy's ``front`` port."""
    replicas: list[Replica] = []
    port = front
    for server in replica_servers("127.0.0.1", range(count)):
        port = first_free_port(port + 1)
        replicas.append(Replica(server.name, port))
    return replicas


def haproxy_settings(front: int, replicas: list[Replica], admin: Path) -> HaproxySettings:
    """HAProxy on 127.0.0.1:``front`` before the replicas, its admin socket at ``admin``."""
    servers = replica_servers("127.0.0.1", [r.port for r in replicas])
    return HaproxySettings("127.0.0.1", front, servers, stats_socket=str(admin))


def start_haproxy(procs: Procs, settings: HaproxySettings, workdir: Path) -> None:
    """HAProxy in the foreground (``-db``) on ``settings``, its config checked first."""
    haproxy = find_program("haproxy", "haproxy")
    cfg = workdir / "haproxy.cfg"
    cfg.write_text(build_haproxy_config(settings, "NEM Live: make scale's HAProxy (loopback)"))
    check = subprocess.run([haproxy, "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
    if check.returncode != 0:
        raise NemLiveError(f"HAProxy refused its configuration {cfg}: {check.stderr.strip()}")
    proc = spawn(procs, "haproxy", [haproxy, "-db", "-f", str(cfg)], dict(os.environ))
    if not wait_for_port(settings.bind_port, proc, timeout=15):
        raise NemLiveError("HAProxy did not start: see the lines above")


def child_env(broker_port: int, topic: str, store: StoreUrl) -> dict[str, str]:
    """The children's environment: the broker, the topic and the store (in the environment,
    never on a command line: a store URL may hold a password)."""
    return dict(
        os.environ,
        MQTT_HOST="127.0.0.1",
        MQTT_PORT=str(broker_port),
        MQTT_TOPIC=topic,
        NEMLIVE_STORE=store.target,
        PYTHONUNBUFFERED="1",
    )


def recorder_args(i: int, count: int, store: StoreUrl) -> list[str]:
    """Recorder ``i`` of ``count``: its own session in the share group, covering for the
    others when the store is PostgreSQL (which holds the leases that say who is down)."""
    argv = [*recorder_command(), "--client-id", recorder_id(i), "--share-group", SHARE_GROUP]
    others = [recorder_id(j) for j in range(1, count + 1) if j != i]
    if others and store.backend == "postgresql":
        argv += ["--cover", ",".join(others)]
    return argv


def start_pipeline(
    procs: Procs, args: argparse.Namespace, env: dict[str, str], store: StoreUrl
) -> int:
    """The recorders and the publisher; returns the messages in one interval of the CSV."""
    csv_path = Path(args.csv)
    per_row = count_messages_per_row(csv_path)
    for i in range(1, args.recorders + 1):
        spawn(procs, f"recorder {i}", recorder_args(i, args.recorders, store), env)
    checkpoint = csv_path.with_name(f"{csv_path.stem}.scale.checkpoint.json")
    command = publisher_command(csv_path, 1.0 / (args.pace * per_row))
    resume = resume_args(csv_path, args.topic, checkpoint)
    spawn(procs, "publisher", [*command, "--checkpoint", str(checkpoint), *resume], env)
    return per_row


def recorder_id(i: int) -> str:
    """The MQTT client id of recorder ``i``: one persistent session each."""
    return f"nemlive-recorder-scale-{i}"


def run(args: argparse.Namespace) -> int:
    csv_path = Path(args.csv)
    if not csv_path.is_file():
        raise InputError(f"{csv_path} not found: run `make data` first, or pass --csv")
    find_program("haproxy", "haproxy")  # before anything starts
    store, is_default = resolve_store(dict(os.environ))
    prepare_store(store, is_default)
    procs: Procs = []
    with tempfile.TemporaryDirectory(prefix="nemlive-scale-") as tmp:
        try:
            broker_port = start_broker(procs, args.broker_port, Path(tmp))
            env = child_env(broker_port, args.topic, store)
            per_row = start_pipeline(procs, args, env, store)
            front = first_free_port(args.port)
            replicas = plan_replicas(args.replicas, front)
            start_replicas(procs, replicas, env)
            admin = Path(tmp) / "haproxy.sock"
            start_haproxy(procs, haproxy_settings(front, replicas, admin), Path(tmp))
            print_banner(args, front, replicas, store, broker_port, per_row)
            supervise(procs, replicas, env, admin, args.restart_after)
        except _Stop:
            print("\nstopping NEM Live ...", file=sys.stderr, flush=True)
            return 0
        finally:
            stop_all(procs)
    return 0


def print_banner(
    args: argparse.Namespace,
    front: int,
    replicas: list[Replica],
    store: StoreUrl,
    broker_port: int,
    per_row: int,
) -> None:
    ports = ", ".join(f"{r.name} :{r.port}" for r in replicas)
    print(
        f"\n  NEM Live is running, scaled out: open http://localhost:{front}\n"
        f"  HAProxy :{front} -> {len(replicas)} dashboard replicas ({ports}); "
        f"{args.recorders} recorders into {store.for_viewers}; broker localhost:{broker_port}\n"
        f"  replaying {Path(args.csv).name} at {args.pace:g} interval(s)/s "
        f"({per_row} messages per interval) on {args.topic}\n"
        f"  kill -HUP {os.getpid()} restarts the replicas one at a time; Ctrl-C stops everything.\n",
        flush=True,
    )


def stop_all(procs: Procs) -> None:
    """Stop the children in STOP_ORDER (each kind at once, then waited for)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for kind in STOP_ORDER:
        group = [(n, p) for n, p in procs if n.split()[0] == kind]
        for _name, proc in group:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in group:
            stop_process(proc, name)


def main(argv: list[str] | None = None) -> int:
    def body() -> int:
        install_rolling_restart()
        return run(parse_args(argv))

    return launch("scale", body)


if __name__ == "__main__":
    sys.exit(main())
