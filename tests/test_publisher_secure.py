"""publisher.py against a real mosquitto that wants a password, or TLS with a throwaway CA.

The brokers are Debian's mosquitto on an ephemeral loopback port (like the ``mosquitto``
fixture), configured with ``password_file`` + ``allow_anonymous false`` here, or with a TLS
listener whose certificate is signed by a CA made with the ``openssl`` CLI
(``tests/support_tls.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import publisher
from nemlive.common.errors import BrokerError, ConfigError
from nemlive.common.mqttconfig import resolve_mqtt_settings
from tests.conftest import Mosquitto, free_port
from tests.support_mqtt import Collector, SmallCsv, run_publisher, write_small_csv
from tests.support_tls import (
    TlsFiles,
    make_tls_files,
    start_tls_broker,
    write_password_file,
)

pytestmark = pytest.mark.integration

USER = "nemlive-user"
PASSWORD = "Pw-7f3a9c-zebra-quartz"  # distinctive: grep for it in the output
WRONG_PASSWORD = "Wrong-4d2e81-otter-basalt"


# --- brokers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_broker(tmp_path: Path, tls_files: TlsFiles) -> Iterator[Mosquitto]:
    broker = start_tls_broker(tmp_path / "mosquitto", tls_files.ca, tls_files.cert, tls_files.key)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def auth_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    passwd = write_password_file(workdir / "passwd", USER, PASSWORD)
    broker = Mosquitto(
        persistence=False,
        workdir=workdir,
        settings=["allow_anonymous false", f"password_file {passwd}"],
    ).start()
    try:
        yield broker
    finally:
        broker.stop()


# --- helpers --------------------------------------------------------------------------------


def _args(small: SmallCsv, port: int, *extra: str) -> list[str]:
    return [
        "--csv",
        str(small.path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--delay",
        "0",
        "--cooldown",
        "0",
        "--cycles",
        "1",
        "--connect-retries",
        "2",
        *extra,
    ]


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("publisher.py: error:")]


def _assert_delivered(live: Collector, small: SmallCsv) -> None:
    expected = small.expected_messages()
    assert live.wait_until(lambda c: len(c.events()) >= len(expected), timeout=20)
    assert [(m.topic, m.json()) for m in live.events()] == expected
    assert live.wait_until(lambda c: any(s["state"] == "offline" for s in c.statuses()))


# --- username and password ------------------------------------------------------------------


def test_username_password_from_env_delivers_every_event(
    tmp_path: Path, auth_broker: Mosquitto
) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=4)
    live = Collector(auth_broker.port)
    live.client.username_pw_set(USER, PASSWORD)
    with live:
        result = run_publisher(
            _args(small, auth_broker.port), MQTT_USERNAME=USER, MQTT_PASSWORD=PASSWORD
        )
        assert result.returncode == 0, result.stderr
        _assert_delivered(live, small)
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "credentials",
    [{"MQTT_USERNAME": USER, "MQTT_PASSWORD": WRONG_PASSWORD}, {}],
    ids=["wrong-password", "no-credentials"],
)
def test_refused_credentials_exit_1_with_one_line_and_no_secret(
    tmp_path: Path, auth_broker: Mosquitto, credentials: dict[str, str]
) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=2)
    # -v: paho's own debug log (CONNECT packets) must not leak the password either.
    result = run_publisher(_args(small, auth_broker.port, "-v"), timeout=30, **credentials)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == errors[0]
    assert f"127.0.0.1:{auth_broker.port}" in errors[0]
    assert "check MQTT_USERNAME/MQTT_PASSWORD" in errors[0]
    assert WRONG_PASSWORD not in result.stdout + result.stderr
    assert PASSWORD not in result.stdout + result.stderr


# --- TLS ------------------------------------------------------------------------------------


def test_tls_with_ca_file_delivers_every_event(
    tmp_path: Path, tls_broker: Mosquitto, tls_files: TlsFiles
) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=4)
    live = Collector(tls_broker.port)
    live.client.tls_set(ca_certs=str(tls_files.ca))
    with live:
        result = run_publisher(
            _args(small, tls_broker.port), MQTT_TLS="1", MQTT_CA_FILE=str(tls_files.ca)
        )
        assert result.returncode == 0, result.stderr
        _assert_delivered(live, small)
    assert "embedded" not in result.stderr


def test_tls_with_ca_file_flag_and_localhost_name(
    tmp_path: Path, tls_broker: Mosquitto, tls_files: TlsFiles
) -> None:
    """--ca-file beats a stale MQTT_CA_FILE; the server name is checked against DNS:localhost."""
    small = write_small_csv(tmp_path / "consolidate.csv", rows=2)
    live = Collector(tls_broker.port)
    live.client.tls_set(ca_certs=str(tls_files.ca))
    with live:
        args = _args(small, tls_broker.port, "--tls", "--ca-file", str(tls_files.ca))
        args[args.index("127.0.0.1")] = "localhost"
        result = run_publisher(args, MQTT_CA_FILE=str(tmp_path / "stale.pem"))
        assert result.returncode == 0, result.stderr
        _assert_delivered(live, small)


def test_tls_with_system_cas_fails_naming_host_port_and_ca_file(
    tmp_path: Path, tls_broker: Mosquitto
) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=2)
    result = run_publisher(_args(small, tls_broker.port), timeout=30, MQTT_TLS="1")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == errors[0]
    assert f"127.0.0.1:{tls_broker.port}" in errors[0]
    assert "certificate" in errors[0]
    assert "MQTT_CA_FILE" in errors[0]
    assert "retrying" not in result.stderr  # a certificate does not get better by retrying


def test_tls_with_the_wrong_ca_fails_with_one_line(
    tmp_path: Path, tls_broker: Mosquitto, tls_files: TlsFiles
) -> None:
    """The server certificate given as CA: a real file, but not the CA that signed it."""
    small = write_small_csv(tmp_path / "consolidate.csv", rows=2)
    result = run_publisher(
        _args(small, tls_broker.port, "--tls", "--ca-file", str(tls_files.cert)), timeout=30
    )
    assert result.returncode == 1, result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"127.0.0.1:{tls_broker.port}" in errors[0]
    assert "MQTT_CA_FILE" in errors[0]


def test_tls_certificate_for_another_name_fails_with_a_host_hint(
    tmp_path: Path, tls_files: TlsFiles
) -> None:
    f = tls_files
    broker = start_tls_broker(tmp_path / "mosquitto", f.ca, f.other_cert, f.other_key)
    try:
        small = write_small_csv(tmp_path / "consolidate.csv", rows=2)
        result = run_publisher(
            _args(small, broker.port, "--tls", "--ca-file", str(f.ca)), timeout=30
        )
    finally:
        broker.stop()
    assert result.returncode == 1, result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"127.0.0.1:{broker.port}" in errors[0]
    assert "--host/MQTT_HOST" in errors[0]


def test_plain_client_on_the_tls_port_fails_with_a_tls_hint(
    tmp_path: Path, tls_broker: Mosquitto
) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=2)
    result = run_publisher(
        _args(small, tls_broker.port, "--no-embedded-broker", "--connect-retries", "1"),
        timeout=30,
    )
    assert result.returncode == 1, result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"127.0.0.1:{tls_broker.port}" in errors[0]
    assert "MQTT_TLS" in errors[0]


# --- CA file configuration (no broker needed) -----------------------------------------------


def test_missing_ca_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope" / "ca.pem"
    monkeypatch.setenv("MQTT_TLS", "1")
    monkeypatch.setenv("MQTT_CA_FILE", str(missing))
    assert publisher.main(["--csv", str(tmp_path / "consolidate.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"publisher.py: error: MQTT_CA_FILE='{missing}' does not exist")


def test_ca_file_that_is_not_a_certificate_exits_2(tmp_path: Path) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=2)
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    result = run_publisher(_args(small, free_port(), "--tls", "--ca-file", str(junk)), timeout=30)
    assert result.returncode == 2, result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(junk) in errors[0]


@pytest.mark.parametrize(
    ("env", "kwargs", "want"),
    [
        ({}, {}, None),
        ({"MQTT_TLS": "1", "MQTT_CA_FILE": "{ca}"}, {}, "{ca}"),
        ({"MQTT_TLS": "1", "MQTT_CA_FILE": "{missing}"}, {"ca_file": "{ca}"}, "{ca}"),
        ({"MQTT_TLS": "1", "MQTT_CA_FILE": ""}, {}, None),
    ],
    ids=["default-system-cas", "env", "flag-beats-env", "empty-env"],
)
def test_resolve_ca_file(
    tmp_path: Path, env: dict[str, str], kwargs: dict[str, str], want: str | None
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    names = {"ca": str(ca), "missing": str(tmp_path / "missing.pem")}
    settings = resolve_mqtt_settings(
        {k: v.format(**names) for k, v in env.items()},
        **{k: v.format(**names) for k, v in kwargs.items()},
    )
    assert settings.ca_file == (Path(want.format(**names)) if want else None)


@pytest.mark.parametrize(
    ("env", "kwargs", "fragment"),
    [
        ({"MQTT_TLS": "1"}, {"ca_file": "{missing}"}, "--ca-file='{missing}' does not exist"),
        ({"MQTT_CA_FILE": "{ca}"}, {}, "MQTT_CA_FILE is set but TLS is off: set MQTT_TLS=1"),
        ({"MQTT_TLS": "0"}, {"ca_file": "{ca}"}, "--ca-file is set but TLS is off"),
    ],
    ids=["missing-flag", "env-without-tls", "flag-without-tls"],
)
def test_resolve_ca_file_errors(
    tmp_path: Path, env: dict[str, str], kwargs: dict[str, str], fragment: str
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    names = {"ca": str(ca), "missing": str(tmp_path / "missing.pem")}
    with pytest.raises(ConfigError) as info:
        resolve_mqtt_settings(
            {k: v.format(**names) for k, v in env.items()},
            **{k: v.format(**names) for k, v in kwargs.items()},
        )
    assert fragment.format(**names) in str(info.value)
    assert "\n" not in str(info.value)


# --- the embedded broker stays out of TLS and remote setups ---------------------------------


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--host", "127.0.0.1"], {"MQTT_TLS": "1"}),
        (["--host", "localhost", "--tls"], {}),
        (["--host", "mqtt.example.net"], {}),
    ],
    ids=["tls-env", "tls-flag", "remote-host"],
)
def test_embedded_broker_never_starts_with_tls_or_a_remote_host(
    tmp_path: Path, argv: list[str], env: dict[str, str]
) -> None:
    options = publisher.parse_options(
        ["--csv", str(tmp_path / "c.csv"), "--port", str(free_port()), *argv], env
    )
    assert options.embedded_broker  # the default: only TLS or the host keeps it off
    assert publisher._maybe_start_embedded(options) is None


def test_tls_with_nothing_listening_starts_no_embedded_broker(tmp_path: Path) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=2)
    port = free_port()
    result = run_publisher(_args(small, port, "--connect-retries", "1"), timeout=30, MQTT_TLS="1")
    assert result.returncode == 1, result.stderr
    assert "embedded" not in result.stderr
    assert f"cannot reach the MQTT broker at 127.0.0.1:{port}" in _error_lines(result.stderr)[0]


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--host", "localhost"], {"MQTT_USERNAME": "nem", "MQTT_PASSWORD": "pw-Zq81"}),
        (["--host", "127.0.0.1", "--username", "nem"], {}),
    ],
    ids=["login-env", "login-flag"],
)
def test_embedded_broker_never_stands_in_for_a_login(
    tmp_path: Path, argv: list[str], env: dict[str, str]
) -> None:
    options = publisher.parse_options(
        ["--csv", str(tmp_path / "c.csv"), "--port", str(free_port()), *argv], env
    )
    with pytest.raises(BrokerError, match="embedded broker cannot stand in") as err:
        publisher._maybe_start_embedded(options)
    assert "pw-Zq81" not in str(err.value)


def test_a_login_with_nothing_listening_is_one_line_and_exit_1(tmp_path: Path) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=2)
    port = free_port()
    result = run_publisher(
        _args(small, port, "--connect-retries", "1"),
        timeout=30,
        MQTT_USERNAME="nem",
        MQTT_PASSWORD="pw-Zq81xPLm",
    )
    assert result.returncode == 1, result.stderr
    (line,) = _error_lines(result.stderr)
    assert f"nothing listens on 127.0.0.1:{port}" in line and "cannot stand in" in line
    assert "Traceback" not in result.stderr and "pw-Zq81xPLm" not in result.stderr
