"""``make run`` and ``make live``: the whole demo from one command.

Uses the MQTT broker on localhost:1883 if one is listening, or else starts the embedded one;
replays the shipped consolidate.csv at about one 5-minute interval per second; starts the
dashboard and prints its URL. One Ctrl-C stops everything: the publisher first (so that it
publishes ``offline``), then the dashboard, then the broker.

``--live`` (``make live``) follows the present instead: ``extractor.py --follow`` keeps a cache
in ``live/<source>/`` current and ``publisher.py --follow`` publishes it, on the topic
``nem/live`` by default (a replay's is ``nem/stream``: the two never mix on a broker). With
``OPENELECTRICITY_API_KEY`` set the extractor's ``--source auto`` follows NEMweb or the real
API, as the key's plan allows (``live/openelectricity/``); without it, the simulator in live
mode (``python -m oesim --dataset nem --live``, at 1x) on a free port, followed through its
NEMweb face (``--source nemweb``, the facility list from its OE face with the demo key;
``live/nemweb-simulator/``), and the page says the data is simulated. The publisher and the
dashboard start once the first fill is written (the dashboard needs its facility table).

``make live`` records too, into a store and on a session of its own, and opens the page once
the fill is stored, so the charts hold the last ``--keep`` days from the first page
(nemlive/devtools/liverecord.py).

Both start the alerter (``alerts.py``, docs/alerts.md) on a broker that speaks MQTT 5 (not
the embedded one), with ``alerts.toml`` if there is one, else ``alerts.example.toml``
(``--alerts``; ``none``: no alerter). Its state file and client id are per mode
(:func:`alerter_command`), so ``make run`` and ``make live`` never share them.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nemlive.common.errors import InputError, NemLiveError
from nemlive.common.mqttconfig import resolve_mqtt_settings
from nemlive.devtools import liverecord
from nemlive.devtools.liverecord import LineTap
from nemlive.publish.broker import (
    EmbeddedBroker,
    check_embedded_can_serve,
    is_listening,
    is_port_free,
)
from nemlive.publish.checkpoint import default_checkpoint_path, default_live_checkpoint_path
from nemlive.publish.replayer import resolve_start
from nemlive.publish.replaytable import parse_header, read_replay_table

ROOT = Path(__file__).resolve().parents[2]  # the repository
log = logging.getLogger("nemlive.devtools.run")
# The page shows the live rate and position; the terminal needs a line only now and then.
PUBLISHER_PROGRESS_EVERY_S = 60
# make live without a key: the simulator's demo key, its NEM seed, and the first port tried.
SIM_KEY = "sim-demo-key-0000"
SIM_SEED = "2025"
SIM_START_TIMEOUT_S = 120.0  # the nem dataset is built before the server listens
RUN_TOPIC = "nem/stream"  # make run's default topic
LIVE_TOPIC = "nem/live"  # make live's: a replay and a live follow never mix on a broker
# make live's cache folders under --live-dir, one per source, so that no follower is handed a
# cache another source wrote.
SIM_FOLDER = "nemweb-simulator"
REAL_FOLDER = "openelectricity"
# make live opens the page once the store holds the fill, or after this long waiting for it.
FILL_RECORD_TIMEOUT_S = 300.0
ALERT_RULES = ROOT / "alerts.toml"  # the user's rules, when there are some
EXAMPLE_RULES = ROOT / "alerts.example.toml"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="make run", description="Start broker, publisher and dashboard on the shipped week."
    )
    p.add_argument("--csv", default=str(ROOT / "consolidate.csv"), help="cache to replay")
    p.add_argument("--broker-port", type=int, default=1883, help="MQTT port on localhost")
    p.add_argument("--dashboard-port", type=int, default=8501, help="first port to try")
    p.add_argument(
        "--topic",
        default=os.environ.get("MQTT_TOPIC") or None,
        help=f"base MQTT topic (MQTT_TOPIC; default {RUN_TOPIC}, with --live {LIVE_TOPIC})",
    )
    p.add_argument(
        "--pace", type=float, default=1.0, help="5-minute intervals replayed per second (1)"
    )
    p.add_argument(
        "--live",
        action="store_true",
        help="make live: follow the present (the real API with OPENELECTRICITY_API_KEY, else "
        "the simulator) instead of replaying --csv",
    )
    p.add_argument(
        "--keep", type=float, default=1.0, help="--live: days the live cache keeps (default 1)"
    )
    p.add_argument(
        "--live-dir",
        default=str(ROOT / "live"),
        help="--live: folder of the live caches, one per source (default live/)",
    )
    p.add_argument(
        "--store",
        default=None,
        help="where the recorder keeps history (NEMLIVE_STORE; default nemlive.db here; with "
        "--live its own store, live/<source>/history.db, whatever NEMLIVE_STORE says); "
        "'none' runs without a recorder. Prefer NEMLIVE_STORE for a URL with a password: a "
        "command line is visible to every local user",
    )
    p.add_argument(
        "--alerts",
        default=None,
        help="the alerter's rules file (default alerts.toml if present, else "
        "alerts.example.toml); 'none' runs without an alerter",
    )
    args = p.parse_args(argv)
    args.topic = args.topic or (LIVE_TOPIC if args.live else RUN_TOPIC)
    if args.store is None and not args.live:  # make live's default is per source (run_live)
        args.store = os.environ.get("NEMLIVE_STORE") or f"sqlite:///{ROOT / 'nemlive.db'}"
    if args.alerts is None:
        args.alerts = str(ALERT_RULES if ALERT_RULES.is_file() else EXAMPLE_RULES)
    return args


def live_folder(live_dir: Path, simulated: bool) -> Path:
    """make live's cache folder: one for the simulator's NEMweb face, one for a real key."""
    return live_dir / (SIM_FOLDER if simulated else REAL_FOLDER)


def count_messages_per_row(csv_path: Path) -> int:
    """Facility events plus market events in one row of the cache (from its header)."""
    try:
        with open(csv_path, encoding="utf-8") as fh:
            header = fh.readline().rstrip("\r\n").split(",")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{csv_path} is unreadable ({exc}): run `make data`") from None
    try:
        facilities, regions, *_ = parse_header(str(csv_path), header)
    except InputError as exc:
        raise InputError(f"not a consolidate.csv: {exc} (run `make data`)") from None
    return max(1, len(facilities) + len(regions))


def first_free_port(start: int) -> int:
    """The first port from ``start`` that can be bound on 127.0.0.1 (50 tries)."""
    for port in range(start, start + 50):
        if is_port_free("127.0.0.1", port):
            return port
    raise NemLiveError(f"no free port in {start}..{start + 49} for the dashboard")


def stop_process(proc: subprocess.Popen[bytes], name: str, timeout: float = 10.0) -> None:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL the whole process group."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop in %.0f s: killing it", name, timeout)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if is_listening("127.0.0.1", port):
            return True
        time.sleep(0.2)
    return False


class _Stop(BaseException):
    """Raised by the signal handler. A BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` on the way (socketserver's request error handler, for one) can
    swallow it."""


class _StopSignals:
    """SIGINT and SIGTERM raise :class:`_Stop`, except inside ``held()``.

    Starting a child and recording it must not be split by a Ctrl-C: the child would be left
    running. Blocking the signals with ``pthread_sigmask`` is no answer, because a child
    inherits the mask (it would ignore the SIGTERM that stops it), so the handler itself holds
    a signal that arrives inside ``held()`` and raises when the block ends.
    """

    def __init__(self) -> None:
        self._holding = False
        self._pending = False

    def handle(self, signum: int, frame: object) -> None:
        if self._holding:
            self._pending = True
            return
        raise _Stop

    @contextmanager
    def held(self) -> Iterator[None]:
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
            if self._pending:
                self._pending = False
                raise _Stop


SIGNALS = _StopSignals()


def dashboard_command(port: int, *extra: str, python: str = sys.executable) -> list[str]:
    """``streamlit run dashboard.py`` headless on 127.0.0.1:``port``; ``extra`` flags follow."""
    return [
        python,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "dashboard.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        *extra,
    ]


def spawn(
    procs: list[tuple[str, subprocess.Popen[bytes]]],
    name: str,
    argv: list[str],
    env: dict[str, str],
    stdout: int | None = None,
    stderr: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child in its own session and record it in ``procs``, with no Ctrl-C between."""
    # Own sessions: a terminal Ctrl-C reaches only this process, which stops the children in
    # order (publisher first, so that its `offline` status goes out).
    with SIGNALS.held():
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, start_new_session=True, stdout=stdout, stderr=stderr
        )
        procs.append((name, proc))
    return proc


def read_first_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The first line ``proc`` writes on its stdout (a pipe), "" if none comes in time."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().decode(errors="replace").strip() if ready else ""


def run(args: argparse.Namespace) -> int:
    if args.live:
        return run_live(args)
    csv_path = Path(args.csv)
    if not csv_path.is_file():
        raise InputError(f"{csv_path} not found: run `make data` first, or pass --csv")
    per_row = count_messages_per_row(csv_path)
    resume = resume_args(csv_path, args.topic)
    broker = start_broker_if_needed(args.broker_port)
    # The recorder keeps an MQTT 5 session; the embedded broker speaks MQTT 3.1.1 only.
    store = None if broker is not None or args.store == "none" else args.store
    if store is None and args.store != "none":
        log.info(
            "no recorder: the embedded broker speaks MQTT 3.1.1 only (mosquitto keeps history)"
        )
    alerts = wants_alerter(args.alerts, broker)
    dash_port = first_free_port(args.dashboard_port)
    env = dict(
        os.environ,
        MQTT_HOST="127.0.0.1",
        MQTT_PORT=str(args.broker_port),
        MQTT_TOPIC=args.topic,
        PYTHONUNBUFFERED="1",
    )
    if store is not None:
        env["NEMLIVE_STORE"] = store
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        if store is not None:
            spawn(procs, "recorder", recorder_command(), env)
        if alerts:
            spawn(procs, "alerter", alerter_command("run", csv_path, Path(args.alerts)), env)
        spawn(
            procs,
            "publisher",
            [*publisher_command(csv_path, 1.0 / (args.pace * per_row)), *resume],
            env,
        )
        dashboard = spawn(
            procs,
            "dashboard",
            dashboard_command(dash_port, "--browser.gatherUsageStats", "false"),
            env,
        )
        if not wait_for_port(dash_port, dashboard, timeout=60):
            raise NemLiveError("the dashboard did not start: see the lines above")
        print(
            f"\n  NEM Live is running: open http://localhost:{dash_port}\n"
            f"  replaying {csv_path.name} at {args.pace:g} interval(s)/s "
            f"({per_row} messages per interval); Ctrl-C stops everything.\n",
            flush=True,
        )
        watch(procs)
    except _Stop:
        print("\nstopping NEM Live ...", file=sys.stderr, flush=True)
        return 0
    finally:
        stop_all(procs, broker)


def stop_all(
    procs: list[tuple[str, subprocess.Popen[bytes]]], broker: EmbeddedBroker | None
) -> None:
    """Stop the children in STOP_ORDER, then the broker this process started."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for name, proc in sorted(procs, key=lambda p: STOP_ORDER.index(p[0])):
        stop_process(proc, name)
    if broker is not None:
        broker.stop()


def run_live(args: argparse.Namespace) -> int:
    """``make live`` (module doc): simulator if no key, extractor, recorder, publisher,
    dashboard, in the order nemlive/devtools/liverecord.py explains."""
    simulated = not os.environ.get("OPENELECTRICITY_API_KEY")
    folder = live_folder(Path(args.live_dir), simulated)
    csv_path, lookup = folder / "consolidate.csv", folder / "facilities.csv"
    broker = start_broker_if_needed(args.broker_port)
    store = live_store(args.store, folder, broker)
    env = live_env(args, lookup, store)
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    taps: list[LineTap] = []
    try:
        if simulated:
            env.update(start_live_simulator(procs, env))
        fill = start_live_extractor(procs, taps, env, (csv_path, lookup), args.keep, simulated)
        wait_for_files(procs, (csv_path, lookup))
        if store is not None:
            start_live_recorder(procs, taps, env, store)
            liverecord.forget_sent_if_unrecorded(store, default_live_checkpoint_path(csv_path))
        if wants_alerter(args.alerts, broker):  # after the fill: it reads the lookup once
            spawn(procs, "alerter", alerter_command("live", csv_path, Path(args.alerts)), env)
        spawn(procs, "publisher", publisher_follow_command(csv_path), env)
        if store is not None:
            wait_for_fill_recorded(procs, fill, store, csv_path)
        # Chosen now, not at the start: the fill takes a while, and a port free then may not
        # be free any more.
        dash_port = first_free_port(args.dashboard_port)
        dashboard = spawn(
            procs,
            "dashboard",
            dashboard_command(dash_port, "--browser.gatherUsageStats", "false"),
            env,
        )
        if not wait_for_port(dash_port, dashboard, timeout=60):
            raise NemLiveError("the dashboard did not start: see the lines above")
        print_live_banner(simulated, dash_port, csv_path)
        watch(procs)
    except _Stop:
        print("\nstopping NEM Live ...", file=sys.stderr, flush=True)
        return 0
    finally:
        stop_all(procs, broker)
        for tap in taps:  # the children's last lines
            tap.join(timeout=5)


def live_store(store: str | None, folder: Path, broker: EmbeddedBroker | None) -> str | None:
    """make live's store URL (its own, liverecord module doc), or None: no recorder."""
    if store == "none":
        return None
    if broker is not None:
        log.info(
            "no recorder: the embedded broker speaks MQTT 3.1.1 only (mosquitto keeps history)"
        )
        return None
    return liverecord.live_store_url(store, folder)


def live_env(args: argparse.Namespace, lookup: Path, store: str | None) -> dict[str, str]:
    """The children's environment: the broker, topic and lookup, and make live's own store
    (never make run's NEMLIVE_STORE; none without a recorder)."""
    env = dict(
        os.environ,
        MQTT_HOST="127.0.0.1",
        MQTT_PORT=str(args.broker_port),
        MQTT_TOPIC=args.topic,
        NEMLIVE_FACILITIES=str(lookup),
        PYTHONUNBUFFERED="1",
    )
    env.pop("NEMLIVE_STORE", None)
    if store is not None:
        env["NEMLIVE_STORE"] = store
    return env


def start_live_extractor(
    procs: list[tuple[str, subprocess.Popen[bytes]]],
    taps: list[LineTap],
    env: dict[str, str],
    files: tuple[Path, Path],
    keep: float,
    simulated: bool,
) -> LineTap:
    """``extractor.py --follow`` into ``files`` (the cache, the lookup); the tap on its log
    that says when its first poll, the fill, has ended."""
    csv_path, lookup = files
    command = extractor_follow_command(csv_path, lookup, keep, "nemweb" if simulated else "auto")
    proc = spawn(procs, "extractor", command, env, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    taps.append(LineTap(proc.stderr, liverecord.FILL_DONE))
    log.info("filling the last %g day(s) into %s", keep, csv_path)
    return taps[-1]


RECORDER_READY_S = 120.0  # a refused or lost subscription must not hold make live for ever


def start_live_recorder(
    procs: list[tuple[str, subprocess.Popen[bytes]]],
    taps: list[LineTap],
    env: dict[str, str],
    store: str,
) -> None:
    """The recorder on make live's own session; returns once the broker holds its
    subscription, so that the publisher's first message reaches it."""
    proc = spawn(
        procs,
        "recorder",
        recorder_command(liverecord.LIVE_RECORDER_ID),
        env,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    taps.append(LineTap(proc.stderr, liverecord.RECORDER_READY))
    if not wait_until(procs, taps[-1].seen.is_set, time.monotonic() + RECORDER_READY_S):
        raise NemLiveError(
            f"the recorder did not subscribe within {RECORDER_READY_S:g} s: check that the "
            "broker lets it subscribe (see its lines above), or run with --store none"
        )
    log.info("recording into %s", liverecord.describe_store(store))


def wait_for_fill_recorded(
    procs: list[tuple[str, subprocess.Popen[bytes]]], fill: LineTap, store: str, csv_path: Path
) -> None:
    """Return once the extractor's first poll has ended and the store holds the cache's
    newest interval (or after FILL_RECORD_TIMEOUT_S of waiting for the store: the page then
    opens with what is stored, and the rest comes live)."""
    wait_until(procs, fill.seen.is_set)
    newest = liverecord.newest_interval(csv_path)
    if newest is None:
        return
    log.info(
        "the fill is written; the page opens once %s holds it", liverecord.describe_store(store)
    )
    deadline = time.monotonic() + FILL_RECORD_TIMEOUT_S
    stored = wait_until(
        procs,
        lambda: (liverecord.read_store_last(store) or 0) >= newest,
        deadline=deadline,
    )
    if not stored:
        log.warning(
            "the store does not hold the fill after %.0f s: opening the page with what it holds",
            FILL_RECORD_TIMEOUT_S,
        )


def print_live_banner(simulated: bool, dash_port: int, csv_path: Path) -> None:
    what = (
        "the simulated NEM (the simulator's NEMweb face, 1x)"
        if simulated
        else "the real NEM (NEMweb or Open Electricity, as the key's plan allows)"
    )
    print(
        f"\n  NEM Live is following {what}: open http://localhost:{dash_port}\n"
        f"  cache {csv_path}; Ctrl-C stops everything.\n",
        flush=True,
    )


def start_live_simulator(
    procs: list[tuple[str, subprocess.Popen[bytes]]], env: dict[str, str]
) -> dict[str, str]:
    """``python -m oesim --dataset nem --live`` on a port of its own choosing, which its one
    line on stdout names (a port found free first could be taken before the simulator binds
    it); the extractor's environment."""
    argv = [sys.executable, "-m", "oesim", "--dataset", "nem", "--live", "--seed", SIM_SEED]
    sim = spawn(procs, "simulator", [*argv, "--port", "0"], env, stdout=subprocess.PIPE)
    line = read_first_line(sim, SIM_START_TIMEOUT_S)
    if "listening on http://" not in line:
        raise NemLiveError("the OE simulator did not start: see the lines above")
    url = line.rsplit(" ", 1)[-1]
    env = simulator_env(url)
    log.info(
        "no OPENELECTRICITY_API_KEY: following the simulator's NEMweb face at %s, its facility "
        "list from %s (set the key for the real NEM)",
        env["NEMWEB_URL"],
        url,
    )
    return env


def simulator_env(url: str) -> dict[str, str]:
    """The extractor's environment for the simulator at ``url`` (``http://HOST:PORT/v4``): its
    OE face with the demo key for the facility list, its NEMweb face beside it."""
    return {
        "OPENELECTRICITY_API_URL": url,
        "OPENELECTRICITY_API_KEY": SIM_KEY,
        "NEMWEB_URL": url.removesuffix("/v4"),
    }


def wait_for_files(
    procs: list[tuple[str, subprocess.Popen[bytes]]], paths: tuple[Path, ...]
) -> None:
    """Return once every path exists; NemLiveError when a child exits first."""
    wait_until(procs, lambda: all(p.is_file() for p in paths))


def wait_until(
    procs: list[tuple[str, subprocess.Popen[bytes]]],
    ready: Callable[[], bool],
    deadline: float | None = None,
) -> bool:
    """Poll ``ready`` every 0.5 s: True once it is, False at ``deadline`` (time.monotonic),
    NemLiveError when a child exits first."""
    while not ready():
        for name, proc in procs:
            if proc.poll() is not None:
                raise NemLiveError(f"the {name} stopped (exit {proc.returncode}): see above")
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
    return True


def extractor_follow_command(
    csv_path: Path, lookup: Path, keep: float, source: str = "auto"
) -> list[str]:
    """The live extractor: ``--source`` nemweb (the simulator's NEMweb face) or auto (a key)."""
    return [
        sys.executable,
        str(ROOT / "extractor.py"),
        "--follow",
        "--source",
        source,
        "--keep",
        f"{keep:g}",
        "--out",
        str(csv_path),
        "--facilities-out",
        str(lookup),
    ]


def publisher_follow_command(csv_path: Path) -> list[str]:
    """The live publisher: the cache as fast as the broker acknowledges, then its changes."""
    return [
        sys.executable,
        str(ROOT / "publisher.py"),
        "--follow",
        "--csv",
        str(csv_path),
        "--delay",
        "0",
        "--no-embedded-broker",
        "--progress-every",
        str(PUBLISHER_PROGRESS_EVERY_S),
    ]


def start_broker_if_needed(port: int) -> EmbeddedBroker | None:
    """The embedded broker on 127.0.0.1:``port`` unless one listens there already."""
    if is_listening("127.0.0.1", port):
        log.info("using the MQTT broker already listening on localhost:%d", port)
        return None
    check_embedded_can_serve(resolve_mqtt_settings(os.environ, host="127.0.0.1", port=port))
    log.info("nothing listens on localhost:%d: starting the embedded broker", port)
    broker = EmbeddedBroker(port)
    broker.start()
    return broker


# The publisher first (its `offline` goes out), the extractor (it writes what came), then the
# recorder (it commits what came), the alerter (it evaluates what came), the dashboard, and
# the simulator the extractor reads.
STOP_ORDER = ("publisher", "extractor", "recorder", "alerter", "dashboard", "simulator")


def wants_alerter(rules: str, broker: EmbeddedBroker | None) -> bool:
    """Whether to start the alerter: rules given, and a broker that speaks MQTT 5 (one that
    was listening already; the embedded one does not). Says why not."""
    if rules == "none":
        return False
    if broker is not None:
        log.info("no alerter: the embedded broker speaks MQTT 3.1.1 only (mosquitto has MQTT 5)")
        return False
    return True


def alerter_command(mode: str, csv_path: Path, rules: Path) -> list[str]:
    """The alerter of ``mode`` (``run`` or ``live``) with the rules file ``rules``: its state
    file beside the cache it follows (``consolidate.alerts-run.state.json``, or
    ``alerts-live.state.json`` in the live folder) and client id ``nemlive-alerts-<mode>``,
    so the two modes never share a session or a state."""
    state = csv_path.with_name(
        f"{csv_path.stem}.alerts-run.state.json" if mode == "run" else "alerts-live.state.json"
    )
    return [
        sys.executable,
        str(ROOT / "alerts.py"),
        "--rules",
        str(rules),
        "--state",
        str(state),
        "--client-id",
        f"nemlive-alerts-{mode}",
    ]


def recorder_command(client_id: str | None = None) -> list[str]:
    """The recorder, quiet but for one progress line a minute, on the session ``client_id``
    (None: the recorder's default, make run's). Its store comes in NEMLIVE_STORE: a URL may
    hold a password, and a command line is visible to every local user (``ps``), a process's
    environment only to its owner."""
    command = [sys.executable, str(ROOT / "recorder.py"), "--progress-every", "60"]
    return [*command, "--client-id", client_id] if client_id else command


def resume_args(csv_path: Path, topic: str, checkpoint: Path | None = None) -> list[str]:
    """``--resume`` when a checkpoint of this file and topic (the default one beside the file,
    or ``checkpoint``) says where the last run stopped, so that a restarted ``make run`` goes
    on from there (and the history continues)."""
    checkpoint = checkpoint or default_checkpoint_path(csv_path)
    if not checkpoint.is_file():
        return []
    try:
        start = resolve_start(True, checkpoint, read_replay_table(csv_path), topic, 0)
    except NemLiveError as exc:
        log.info("replaying from the first row (%s)", exc)
        return []
    return [] if start in (None, (0, 0)) else ["--resume"]


def publisher_command(csv_path: Path, delay: float) -> list[str]:
    """The publisher, looping over ``csv_path`` at ``delay`` seconds a message."""
    return [
        sys.executable,
        str(ROOT / "publisher.py"),
        "--csv",
        str(csv_path),
        "--delay",
        f"{delay:.6f}",
        "--cooldown",
        "5",
        "--cycles",
        "0",
        "--no-embedded-broker",
        "--progress-every",
        str(PUBLISHER_PROGRESS_EVERY_S),
    ]


def watch(procs: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """Return never: raise NemLiveError when a child exits (a stop signal raises _Stop)."""
    while True:
        for name, proc in procs:
            if proc.poll() is not None:
                raise NemLiveError(f"the {name} stopped (exit {proc.returncode}): see above")
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    # The embedded broker (amqtt) and its state machine library log every step at INFO.
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return launch("run", lambda: run(parse_args(argv)))


def launch(name: str, body: Callable[[], int]) -> int:
    """A launcher's shell (make run, make live, make scale): log lines prefixed ``name:``,
    SIGINT and SIGTERM stop every child, an expected failure is one line and its exit code."""
    logging.basicConfig(level=logging.INFO, format=f"{name}: %(message)s", stream=sys.stderr)
    signal.signal(signal.SIGINT, SIGNALS.handle)
    signal.signal(signal.SIGTERM, SIGNALS.handle)
    try:
        return body()
    except NemLiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except _Stop:
        return 0


if __name__ == "__main__":
    sys.exit(main())
