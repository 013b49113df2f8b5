"""``make scale``'s driver (nemlive/devtools/scale.py): its settings, its store, its errors.

What the topology does with browsers is tests/test_scale_browser.py; the replicas'
supervision is tests/test_replicas.py.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from nemlive.common.errors import NemLiveError
from nemlive.devtools import scale
from nemlive.store.url import parse_store_url
from tests.conftest import POSTGRES_ADMIN_URL, PYTHON, ROOT, Postgres, clean_subprocess_env
from tests.conftest import free_port as closed_port  # nothing listens there once closed


def test_the_default_store_is_a_database_of_its_own_that_make_scale_creates() -> None:
    url, create = scale.resolve_store({})
    assert (url.display, create) == ("postgresql://127.0.0.1:5432/nemlive_scale", True)
    url, create = scale.resolve_store({"NEMLIVE_STORE": "postgresql://u@db:5433/nem"})
    assert (url.display, create) == ("postgresql://u@db:5433/nem", False)


def test_the_children_get_the_broker_topic_and_store_in_their_environment() -> None:
    store = parse_store_url("postgresql://nem:pw-Env-9@127.0.0.1:5432/nem")
    env = scale.child_env(18830, "nem/scale", store)
    assert env["MQTT_HOST"] == "127.0.0.1" and env["MQTT_PORT"] == "18830"
    assert env["MQTT_TOPIC"] == "nem/scale"
    # The URL, password and all, goes in the environment: never on a command line.
    assert env["NEMLIVE_STORE"] == store.target


def test_two_recorders_share_the_stream_and_cover_for_each_other() -> None:
    store = parse_store_url("postgresql://nem@127.0.0.1:5432/nem")
    first, second = (scale.recorder_args(i, 2, store) for i in (1, 2))
    for argv, own, other in ((first, 1, 2), (second, 2, 1)):
        assert argv[argv.index("--client-id") + 1] == scale.recorder_id(own)
        assert argv[argv.index("--share-group") + 1] == scale.SHARE_GROUP
        assert argv[argv.index("--cover") + 1] == scale.recorder_id(other)
    # The leases that tell who is down live in PostgreSQL: no cover with SQLite.
    assert "--cover" not in scale.recorder_args(1, 2, parse_store_url("sqlite:///x.db"))
    assert "--cover" not in scale.recorder_args(1, 1, store)


def test_replicas_are_named_as_haproxys_servers_on_the_ports_after_its_own() -> None:
    replicas = scale.plan_replicas(3, 20000)
    assert [r.name for r in replicas] == ["dash1", "dash2", "dash3"]
    ports = [r.port for r in replicas]
    assert ports == sorted(ports) and ports[0] > 20000 and len(set(ports)) == 3
    settings = scale.haproxy_settings(20000, replicas, Path("/tmp/x.sock"))
    assert settings.bind_host == "127.0.0.1" and settings.bind_port == 20000
    assert [(s.name, s.port) for s in settings.servers] == [(r.name, r.port) for r in replicas]


@pytest.mark.parametrize(
    "argv",
    [["--replicas", "0"], ["--recorders", "0"], ["--pace", "0"], ["--replicas", "17"]],
    ids=["no-replica", "no-recorder", "no-pace", "too-many"],
)
def test_bad_counts_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        scale.parse_args(argv)
    assert exit_info.value.code == 2
    assert "use 1 to 16 --replicas" in capsys.readouterr().err


def test_stop_order_puts_the_publisher_first_and_the_broker_last() -> None:
    assert scale.STOP_ORDER[0] == "publisher" and scale.STOP_ORDER[-1] == "broker"
    assert scale.STOP_ORDER.index("haproxy") < scale.STOP_ORDER.index("dashboard")


# --- as a program ---------------------------------------------------------------------------


def _scale(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "nemlive.devtools.scale", *args],
        cwd=ROOT,
        env=clean_subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.integration
def test_without_a_cache_it_says_make_data(tmp_path: Path) -> None:
    run = _scale("--csv", str(tmp_path / "none.csv"))
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'none.csv'} not found: run `make data` first, or pass --csv"
    ]


@pytest.mark.integration
def test_a_store_that_cannot_be_reached_is_one_line_without_its_password() -> None:
    secret = "pw-Unreach-41"
    url = f"postgresql://nem:{secret}@127.0.0.1:{closed_port()}/nem"
    run = _scale(NEMLIVE_STORE=url)
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    assert "make scale records into NEMLIVE_STORE" in lines[0]
    assert secret not in run.stderr + run.stdout and "Traceback" not in run.stderr


@pytest.mark.integration
def test_the_default_database_cannot_be_created_without_a_server_says_so() -> None:
    port = closed_port()
    url = parse_store_url(f"postgresql://root@127.0.0.1:{port}/nemlive_scale")
    with pytest.raises(NemLiveError) as failure:
        scale.create_postgres_database(url)
    assert str(failure.value).startswith(f"PostgreSQL is not reachable at 127.0.0.1:{port} (")
    assert str(failure.value).endswith(
        "start it, or set NEMLIVE_STORE=postgresql://USER@HOST:PORT/DB"
    )


@pytest.mark.integration
def test_the_database_is_created_once_then_used(postgres_server: Postgres) -> None:
    import psycopg

    name = f"nemlive_scale_test_{uuid.uuid4().hex[:8]}"
    url = parse_store_url(f"postgresql://root@127.0.0.1:5432/{name}")
    try:
        scale.create_postgres_database(url)
        scale.create_postgres_database(url)  # there already: nothing to do
        scale.prepare_store(url, create_database=False)  # the tables, as the recorder's
        with psycopg.connect(url.target) as conn:
            tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables")}
        assert {"facility_readings", "market_readings", "schema_version"} <= tables
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
