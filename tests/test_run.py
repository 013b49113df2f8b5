"""``make run``'s driver, ``python -m nemlive.devtools.run``, as a subprocess (issue 6).

It starts (or reuses) the broker, the publisher and the dashboard, prints the URL, and one
SIGINT (Ctrl-C) stops everything: exit 0, no child process left, both ports free again.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

import psutil
import pytest

from nemlive.devtools.run import SIM_KEY, _Stop, _StopSignals
from tests import test_publisher_secure
from tests.conftest import PYTHON, ROOT, clean_subprocess_env, free_port
from tests.support_dashboard import wait_until, write_consolidate_csv, write_facilities_csv
from tests.support_mqtt import Collector

pytestmark = pytest.mark.integration

auth_broker = test_publisher_secure.auth_broker  # the login broker, for getfixturevalue

TOPIC = "nem/run"
URL_LINE = re.compile(r"open (http://localhost:(\d+))")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


def _run(
    *args: str, stdout: Path, stderr: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        return subprocess.Popen(
            [PYTHON, "-m", "nemlive.devtools.run", *args],
            cwd=ROOT,
            env=clean_subprocess_env(**(env or {})),
            stdout=out,
            stderr=err,
        )


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _bindable(port: int) -> bool:
    """A new server could listen on ``port`` (SO_REUSEADDR, as brokers and web servers do)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
        return True


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["embedded", "mosquitto"])
def test_make_run_starts_everything_and_one_sigint_stops_it(
    broker: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    mosquitto = request.getfixturevalue("mosquitto") if broker == "mosquitto" else None
    csv_path = write_consolidate_csv(tmp_path / "consolidate.csv", intervals=12)
    broker_port = mosquitto.port if mosquitto else free_port()
    dash_port = free_port()
    out, err = tmp_path / "run.out", tmp_path / "run.err"
    store = tmp_path / "history.db"
    proc = _run(
        "--csv",
        str(csv_path),
        "--broker-port",
        str(broker_port),
        "--dashboard-port",
        str(dash_port),
        "--topic",
        TOPIC,
        "--store",
        f"sqlite:///{store}",
        stdout=out,
        stderr=err,
        # The CSV's facilities are the tests' own: the recorder records only those it knows.
        env={"NEMLIVE_FACILITIES": str(write_facilities_csv(tmp_path / "facilities.csv"))},
    )
    children: dict[int, str] = {}
    try:
        assert wait_until(
            lambda: URL_LINE.search(out.read_text()) or proc.poll() is not None,
            timeout=START_TIMEOUT_S,
            interval=0.2,
        )
        match = URL_LINE.search(out.read_text())
        assert match, f"no URL line (exit {proc.poll()}):\n{out.read_text()}\n{err.read_text()}"
        assert int(match.group(2)) == dash_port
        with urllib.request.urlopen(
            f"http://127.0.0.1:{dash_port}/_stcore/health", timeout=10
        ) as r:
            assert r.status == 200 and r.read().strip() == b"ok"
        with urllib.request.urlopen(f"http://127.0.0.1:{dash_port}/", timeout=10) as r:
            assert r.status == 200 and b"<html" in r.read().lower()

        with Collector(broker_port, TOPIC) as sub:
            assert sub.wait_until(lambda c: any(s["state"] == "online" for s in c.statuses()))
            assert sub.wait_until(lambda c: len(c.events()) > 0)
            for child in psutil.Process(proc.pid).children(recursive=True):
                children[child.pid] = " ".join(child.cmdline())
            assert any("publisher.py" in c for c in children.values()), children
            assert any("streamlit" in c for c in children.values()), children
            # A recorder keeps history on mosquitto; the embedded broker has no MQTT 5 for it.
            assert any("recorder.py" in c for c in children.values()) == bool(mosquitto)
            # The alerter too, with the example rules and make run's own session and state.
            alerter = [c for c in children.values() if "alerts.py" in c]
            assert len(alerter) == bool(mosquitto), children
            if mosquitto:
                assert "alerts.example.toml" in alerter[0], alerter
                assert "--client-id nemlive-alerts-run" in alerter[0], alerter
                assert f"--state {tmp_path}/consolidate.alerts-run.state.json" in alerter[0]
                # It runs: it follows the stream and keeps its state file up to date.
                state_file = tmp_path / "consolidate.alerts-run.state.json"
                assert wait_until(state_file.is_file, timeout=30), err.read_text()

            proc.send_signal(signal.SIGINT)
            rc = proc.wait(timeout=STOP_TIMEOUT_S)
            # The publisher is stopped first, so its goodbye reaches the broker.
            assert sub.wait_until(
                lambda c: any(s["state"] == "offline" for s in c.statuses()), timeout=5
            ), sub.statuses()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for pid in children:
            if not _gone(pid):
                psutil.Process(pid).kill()

    stderr = err.read_text()
    assert rc == 0, stderr
    assert "Traceback" not in stderr, stderr
    expected_log = (
        "using the MQTT broker already listening" if mosquitto else "starting the embedded broker"
    )
    assert expected_log in stderr
    assert wait_until(lambda: all(_gone(pid) for pid in children), timeout=10), children
    assert wait_until(lambda: not _listening(dash_port), timeout=10)
    assert _bindable(dash_port)
    if mosquitto:
        from nemlive.store import open_store

        with open_store(f"sqlite:///{store}", create=False) as history:
            span = history.span()
        assert span is not None and span.facility_readings > 0  # it recorded the stream
        # Not ours: make run must leave a broker it did not start running.
        assert mosquitto.proc is not None and mosquitto.proc.poll() is None
        assert _listening(broker_port)
    else:
        assert "no recorder" in stderr and not store.exists()
        assert "no alerter: the embedded broker speaks MQTT 3.1.1 only" in stderr
        assert wait_until(lambda: not _listening(broker_port), timeout=10)
        assert _bindable(broker_port)


@pytest.mark.parametrize(
    ("content", "why"),
    [(None, "not found"), (b"hello,world\n", "not a consolidate.csv")],
)
def test_make_run_without_a_cache_says_make_data(
    content: bytes | None, why: str, tmp_path: Path
) -> None:
    csv_path = tmp_path / "consolidate.csv"
    if content is not None:
        csv_path.write_bytes(content)
    run, line = _run_to_one_error_line(csv_path, free_port())
    assert run.returncode == 2, run.stderr
    assert "make data" in line and why in line and str(csv_path) in line
    assert run.stdout == ""


def _run_to_one_error_line(
    csv_path: Path, port: int, **env: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    """``python -m nemlive.devtools.run`` that stops at once, and the one line it printed."""
    run = subprocess.run(
        [PYTHON, "-m", "nemlive.devtools.run", "--csv", str(csv_path), "--broker-port", str(port)],
        cwd=ROOT,
        env=clean_subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, run.stderr
    return run, lines[0]


@pytest.mark.parametrize(
    "env", [{"MQTT_USERNAME": "nem", "MQTT_PASSWORD": "pw-Zq81xPLm"}, {"MQTT_TLS": "1"}]
)
def test_make_run_never_swaps_a_secured_broker_for_the_embedded_one(
    env: dict[str, str], tmp_path: Path
) -> None:
    csv_path = write_consolidate_csv(tmp_path / "consolidate.csv", intervals=2)
    port = free_port()
    run, line = _run_to_one_error_line(csv_path, port, **env)
    assert run.returncode == 1, run.stderr
    assert "embedded broker cannot stand in" in line and "pw-Zq81xPLm" not in run.stderr
    assert _bindable(port)  # nothing was started


def test_a_stop_signal_inside_held_waits_for_its_end() -> None:
    # A Ctrl-C between starting a child and recording it would leave the child running.
    signals = _StopSignals()
    reached_end_of_block = False
    with pytest.raises(_Stop), signals.held():
        signals.handle(signal.SIGINT, None)
        reached_end_of_block = True
    assert reached_end_of_block
    with pytest.raises(_Stop):
        signals.handle(signal.SIGTERM, None)  # outside held(): at once
    with signals.held():
        pass  # nothing pending: nothing raised


def test_a_restarted_make_run_resumes_where_the_checkpoint_says(tmp_path: Path) -> None:
    from nemlive.devtools.run import resume_args
    from nemlive.publish.checkpoint import Checkpoint, default_checkpoint_path, write_checkpoint
    from nemlive.publish.replaytable import read_replay_table, shift_timestamp

    csv_path = write_consolidate_csv(tmp_path / "consolidate.csv", intervals=12)
    assert resume_args(csv_path, TOPIC) == []  # no checkpoint: from the first row
    table = read_replay_table(csv_path)
    mid = Checkpoint(
        pass_number=2,
        row=5,
        timestamp=shift_timestamp(table, 5, 2),
        first_timestamp=table.timestamps[0],
        rows=table.rows,
        topic=TOPIC,
    )
    write_checkpoint(default_checkpoint_path(csv_path), mid)
    assert resume_args(csv_path, TOPIC) == ["--resume"]  # the history goes on from there
    assert resume_args(csv_path, "another/topic") == []  # another stream's checkpoint


@pytest.mark.slow
def test_make_live_without_a_key_follows_the_simulators_nemweb_face_and_one_sigint_stops_it(
    tmp_path: Path, mosquitto
) -> None:  # type: ignore[no-untyped-def]
    dash_port = free_port()
    out, err = tmp_path / "live.out", tmp_path / "live.err"
    live_dir = tmp_path / "live"
    proc = _run(
        "--live",
        "--live-dir",
        str(live_dir),
        "--broker-port",
        str(mosquitto.port),
        "--dashboard-port",
        str(dash_port),
        "--topic",
        TOPIC,
        stdout=out,
        stderr=err,
    )
    children: dict[int, str] = {}
    try:
        with Collector(mosquitto.port, TOPIC) as sub:
            assert wait_until(
                lambda: URL_LINE.search(out.read_text()) or proc.poll() is not None,
                timeout=2 * START_TIMEOUT_S,
                interval=0.2,
            ), err.read_text()
            assert URL_LINE.search(out.read_text()), err.read_text()
            assert "following the simulated NEM" in out.read_text()
            with urllib.request.urlopen(
                f"http://127.0.0.1:{dash_port}/_stcore/health", timeout=10
            ) as r:
                assert r.status == 200
            assert sub.wait_until(
                lambda c: any(
                    s["state"] == "live" and s.get("source") == "nemweb" and s.get("simulated")
                    for s in c.statuses()
                ),
                timeout=30,
            ), sub.statuses()
            assert sub.wait_until(lambda c: any("/market/" in m.topic for m in c.events()))
            for child in psutil.Process(proc.pid).children(recursive=True):
                children[child.pid] = " ".join(child.cmdline())
            commands = " | ".join(children.values())
            for part in (
                "oesim",
                "extractor.py --follow --source nemweb",
                "publisher.py --follow",
                "streamlit",
                "alerts.py",
                "--client-id nemlive-alerts-live",
                f"--state {live_dir}/nemweb-simulator/alerts-live.state.json",
                "recorder.py --progress-every 60 --client-id nemlive-recorder-live",
            ):
                assert part in commands, commands
            proc.send_signal(signal.SIGINT)
            rc = proc.wait(timeout=2 * STOP_TIMEOUT_S)
            assert sub.wait_until(lambda c: any(s["state"] == "offline" for s in c.statuses()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for pid in children:
            if not _gone(pid):
                psutil.Process(pid).kill()
    stderr = err.read_text()
    assert rc == 0, stderr
    assert "Traceback" not in stderr, stderr
    folder = live_dir / "nemweb-simulator"
    assert (folder / "consolidate.csv").is_file() and (folder / "facilities.csv").is_file()
    assert (folder / "oe-facilities.json").is_file()  # the facility list, from the OE face
    assert SIM_KEY not in (folder / "oe-facilities.json").read_text()
    from nemlive.store import open_store

    with open_store(f"sqlite:///{folder / 'history.db'}", create=False) as history:
        span = history.span()  # make live's own store, never make run's nemlive.db
    assert span is not None and span.market_readings > 0
    assert wait_until(lambda: all(_gone(pid) for pid in children), timeout=10), children
    assert not _listening(dash_port)


# --- no secret on a child's command line ----------------------------------------------------

STORE_SECRET = "pw-Kd27-store-secret"


def _command_lines(pid: int) -> dict[int, str]:
    """Every descendant of ``pid`` and its command line, as ``ps`` shows it to any user."""
    lines = {}
    for child in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            lines[child.pid] = " ".join(child.cmdline())
    return lines


def _run_until_open(
    proc: subprocess.Popen[bytes], out: Path, err: Path, timeout: float
) -> dict[int, str]:
    """Wait for the URL line; then the command lines of every child."""
    assert wait_until(
        lambda: URL_LINE.search(out.read_text()) or proc.poll() is not None,
        timeout=timeout,
        interval=0.2,
    )
    assert URL_LINE.search(out.read_text()), f"{out.read_text()}\n{err.read_text()}"
    return _command_lines(proc.pid)


def _stop(proc: subprocess.Popen[bytes], children: dict[int, str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=2 * STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for pid in children:
        if not _gone(pid):
            psutil.Process(pid).kill()


@pytest.mark.slow
def test_make_run_puts_no_password_on_a_command_line(
    tmp_path: Path, request: pytest.FixtureRequest, postgres
) -> None:  # type: ignore[no-untyped-def]
    from tests.support_recorder import count_store
    from tests.test_publisher_secure import PASSWORD, USER

    broker = request.getfixturevalue("auth_broker")  # wants the login: the children need it
    csv_path = write_consolidate_csv(tmp_path / "consolidate.csv", intervals=12)
    # PostgreSQL trusts local connections: the store's password is sent and ignored.
    store = f"{postgres.url(password=STORE_SECRET)}?sslpassword={STORE_SECRET}x"
    env = {"NEMLIVE_STORE": store, "MQTT_USERNAME": USER, "MQTT_PASSWORD": PASSWORD}
    env["NEMLIVE_FACILITIES"] = str(write_facilities_csv(tmp_path / "facilities.csv"))
    out, err = tmp_path / "run.out", tmp_path / "run.err"
    proc = _run(
        *("--csv", str(csv_path), "--broker-port", str(broker.port)),
        *("--dashboard-port", str(free_port()), "--topic", TOPIC),
        stdout=out,
        stderr=err,
        env=env,
    )
    children: dict[int, str] = {}
    try:
        children = _run_until_open(proc, out, err, START_TIMEOUT_S)
        # The recorder got the store and the login (from its environment): it records.
        assert wait_until(lambda: count_store(postgres.url()) > 0, timeout=30), err.read_text()
        children |= _command_lines(proc.pid)
    finally:
        _stop(proc, children)
    assert any("recorder.py" in c for c in children.values()), children
    for command in children.values():
        assert STORE_SECRET not in command and PASSWORD not in command, command
    assert STORE_SECRET not in out.read_text() + err.read_text()


@pytest.mark.slow
def test_make_live_puts_no_api_key_on_a_command_line(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from tests.support_follow import LiveSim
    from tests.test_publisher_secure import PASSWORD, USER

    key = "nemlive-run-key-Tq58Lw"
    broker = request.getfixturevalue("auth_broker")
    out, err = tmp_path / "live.out", tmp_path / "live.err"
    live_dir = tmp_path / "live"
    with LiveSim(speed=1.0, extra=("--key", key)) as sim:
        env = {"OPENELECTRICITY_API_URL": sim.url, "OPENELECTRICITY_API_KEY": key}
        proc = _run(
            *("--live", "--live-dir", str(live_dir), "--broker-port", str(broker.port)),
            *("--dashboard-port", str(free_port()), "--topic", TOPIC),
            stdout=out,
            stderr=err,
            env=env | {"MQTT_USERNAME": USER, "MQTT_PASSWORD": PASSWORD},
        )
        children: dict[int, str] = {}
        try:
            children = _run_until_open(proc, out, err, 2 * START_TIMEOUT_S)
        finally:
            _stop(proc, children)
    commands = " | ".join(children.values())
    for part in ("extractor.py --follow --source auto", "publisher.py --follow", "streamlit"):
        assert part in commands, commands
    assert key not in commands and PASSWORD not in commands, commands
    # Nor in what the followers logged or wrote (the live cache, its meta and checkpoints).
    assert key not in out.read_text() + err.read_text()
    for path in live_dir.rglob("*"):
        assert not path.is_file() or key.encode() not in path.read_bytes(), path
