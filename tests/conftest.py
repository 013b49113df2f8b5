"""Shared test infrastructure: clean environment, ephemeral ports, a real mosquitto, shared/."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The real recorded OE responses live beside the repo. make mutate runs the tests from a copy
# in mutants/, so it names the folder in NEMLIVE_SHARED_OE.
SHARED_OE = Path(os.environ.get("NEMLIVE_SHARED_OE") or ROOT.parent / "shared" / "oe")
# Real AEMO NEMweb/MMSDM files, read at run time only (never copied into the project).
SHARED_AEMO = Path(os.environ.get("NEMLIVE_SHARED_AEMO") or ROOT.parent / "shared" / "aemo")
PYTHON = sys.executable

# Environment variables the programs read; a developer's shell must not leak into tests.
OUR_ENV = (
    "OPENELECTRICITY_API_KEY",
    "OPENELECTRICITY_API_URL",
    "MQTT_HOST",
    "MQTT_PORT",
    "MQTT_TOPIC",
    "MQTT_USERNAME",
    "MQTT_PASSWORD",
    "MQTT_TLS",
    "MQTT_CA_FILE",
    "NEMLIVE_STORE",
    "NEMLIVE_RECORDER_ID",
    "NEMLIVE_FACILITIES",
    "NEMLIVE_RECORD_ALL",
    "NEMLIVE_ALERTS_ID",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    live_key = os.environ.get("OPENELECTRICITY_API_KEY")
    for name in OUR_ENV:
        monkeypatch.delenv(name, raising=False)
    if live_key:
        # Only live tests may read it, through the `live_key` fixture.
        monkeypatch.setenv("NEMLIVE_TEST_LIVE_KEY", live_key)


# make check runs the unit tests only (-m "not integration ..."), with NEMLIVE_UNIT_ONLY=1: a
# test there that starts a program (broker, browser, simulator, publisher...) or connects to
# PostgreSQL fails, naming the marker it lacks, instead of slowing the check down unnoticed.
UNIT_ONLY = os.environ.get("NEMLIVE_UNIT_ONLY") == "1"
NOT_A_UNIT_TEST = (
    "{what} in a unit test: mark the test or its module "
    "(pytestmark = pytest.mark.integration) so that make check leaves it out"
)


@pytest.fixture(autouse=True, scope="session")
def _unit_tests_start_nothing() -> Iterator[None]:
    if not UNIT_ONLY:
        yield
        return

    def no_program(self: subprocess.Popen, args: object, *rest: object, **kw: object) -> None:
        pytest.fail(NOT_A_UNIT_TEST.format(what=f"a program started ({args!r})"))

    def no_database(*args: object, **kwargs: object) -> None:
        pytest.fail(NOT_A_UNIT_TEST.format(what="a PostgreSQL connection"))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", no_program)
        try:
            import psycopg
        except ImportError:
            pass
        else:
            patch.setattr(psycopg, "connect", no_database)
            patch.setattr(psycopg.Connection, "connect", no_database)
        yield


# Playwright's expect() gives a page 5 s by default to show what it waits for: a page that
# redraws its map or sidebar on a loaded machine can take longer, without being wrong.
BROWSER_EXPECT_TIMEOUT_MS = 30_000


@pytest.fixture(autouse=True, scope="session")
def _browser_waits() -> None:
    try:
        from playwright.sync_api import expect
    except ImportError:
        return
    expect.set_options(timeout=BROWSER_EXPECT_TIMEOUT_MS)


def clean_subprocess_env(**extra: str) -> dict[str, str]:
    """os.environ without our variables, plus ``extra``: for programs run as subprocesses."""
    env = {k: v for k, v in os.environ.items() if k not in OUR_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def free_port() -> int:
    """An ephemeral TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def _shared_dir(folder: Path, what: str) -> Path:
    """``folder`` of real data under shared/, or skip (fail under REQUIRE_SHARED=1)."""
    if folder.is_dir():
        return folder
    reason = f"{folder} is absent: {what} are not here"
    if os.environ.get("REQUIRE_SHARED") == "1":
        pytest.fail(reason + " (REQUIRE_SHARED=1)")
    pytest.skip(reason)


def shared_oe_dir() -> Path:
    """The folder of real recorded OE responses, or skip (fail under REQUIRE_SHARED=1)."""
    return _shared_dir(SHARED_OE, "the real recorded OE responses")


@pytest.fixture
def shared_oe() -> Path:
    return shared_oe_dir()


def shared_aemo_dir() -> Path:
    """The folder of real AEMO MMS CSV files, or skip (fail under REQUIRE_SHARED=1)."""
    return _shared_dir(SHARED_AEMO, "the real AEMO files")


@pytest.fixture
def shared_aemo() -> Path:
    return shared_aemo_dir()


@dataclass
class Mosquitto:
    """A real mosquitto broker on an ephemeral loopback port, owned by one test.

    ``settings``: options of its one listener (TLS files, ``allow_anonymous false`` with a
    ``password_file``); without an ``allow_anonymous`` among them, anyone may connect.
    """

    workdir: Path
    port: int = field(default_factory=free_port)
    persistence: bool = True
    autosave_interval: int = 1
    max_queued: int = 1_000_000
    settings: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None

    @property
    def conf(self) -> Path:
        return self.workdir / "mosquitto.conf"

    def start(self) -> Mosquitto:
        mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(mosquitto).exists():
            reason = "mosquitto is not installed (apt-get install mosquitto)"
            if os.environ.get("REQUIRE_BROKER") == "1":
                pytest.fail(reason)
            pytest.skip(reason)
        self.conf.write_text(
            "\n".join(
                [
                    # As root, mosquitto drops to its own user and then cannot read or
                    # write the test's tmp_path (persistence, TLS and password files).
                    *(["user root"] if os.geteuid() == 0 else []),
                    f"listener {self.port} 127.0.0.1",
                    *self.settings,
                    *(
                        []
                        if any(s.startswith("allow_anonymous") for s in self.settings)
                        else ["allow_anonymous true"]
                    ),
                    f"persistence {'true' if self.persistence else 'false'}",
                    f"persistence_location {self.workdir}/",
                    f"autosave_interval {self.autosave_interval}",
                    f"max_queued_messages {self.max_queued}",
                    "max_inflight_messages 100",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    "",
                ]
            )
        )
        log = self.workdir / "mosquitto.log"
        self.proc = subprocess.Popen(
            [mosquitto, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(log, "ab"),  # noqa: SIM115
        )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"mosquitto did not start: {log.read_text()}") from None
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    broker = Mosquitto(workdir=workdir).start()
    try:
        yield broker
    finally:
        broker.stop()


# --- PostgreSQL -------------------------------------------------------------------------------

POSTGRES_ADMIN_URL = "postgresql://root@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Postgres:
    """A fresh database on the PostgreSQL server at 127.0.0.1:5432, owned by one test run."""

    host: str
    port: int
    user: str
    dbname: str

    def url(self, *, password: str | None = None, port: int | None = None) -> str:
        auth = f"{self.user}:{password}" if password else self.user
        return f"postgresql://{auth}@{self.host}:{port or self.port}/{self.dbname}"

    def reset(self) -> None:
        """Drop the store's tables: the next open_store creates them afresh."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            # Partitions one by one (autocommit: a transaction each): hundreds of months in
            # one DROP would exceed the server's lock table.
            parts = conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE c.relkind IN ('r', 'p')"
            ).fetchall()
            for (name,) in parts:
                conn.execute(f'DROP TABLE IF EXISTS "{name}"')
            conn.execute(
                "DROP TABLE IF EXISTS facility_readings, market_readings, facility_rollups, "
                "market_rollups, interchange_readings, interchange_rollups, alert_events, "
                "schema_version"
            )


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(reason + " (REQUIRE_POSTGRES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """A database created for this test run (unique name) and dropped afterwards.

    Skips when the server on 127.0.0.1:5432 cannot be reached; fails under REQUIRE_POSTGRES=1.
    """
    try:
        import psycopg
    except ImportError:
        _postgres_unavailable("psycopg is not installed (pip install -r requirements.txt)")
    name = f"nemlive_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.Error as exc:
        _postgres_unavailable(f"PostgreSQL on 127.0.0.1:5432 is unavailable ({exc})".strip())
    try:
        yield Postgres("127.0.0.1", 5432, "root", name)
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def postgres(postgres_server: Postgres) -> Postgres:
    """The run's database with no NEM Live tables in it."""
    postgres_server.reset()
    return postgres_server
