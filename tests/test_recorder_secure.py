"""recorder.py against a mosquitto that wants a password, or TLS with a throwaway CA.

The brokers are the publisher's secure-broker fixtures (tests/test_publisher_secure.py): the
recorder takes the same MQTT flags and environment, through nemlive/mqttconfig.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import test_publisher_secure as secure
from tests.conftest import Mosquitto
from tests.support_mqtt import run_publisher, write_small_csv
from tests.support_recorder import (
    RecorderProcess,
    expected_readings,
    read_store,
    run_recorder,
    wait_until,
    write_lookup,
)
from tests.support_tls import TlsFiles
from tests.test_publisher_secure import PASSWORD, USER, WRONG_PASSWORD

pytestmark = pytest.mark.integration

# The publisher's broker fixtures, visible here to getfixturevalue.
auth_broker = secure.auth_broker
tls_broker = secure.tls_broker
tls_files = secure.tls_files


def _record_once(
    tmp_path: Path, port: int, recorder_env: dict[str, str], publisher_env: dict[str, str]
) -> RecorderProcess:
    url = f"sqlite:///{tmp_path}/history.db"
    small = write_small_csv(tmp_path / "consolidate.csv", rows=3)
    rec = RecorderProcess(["--port", str(port), "--store", url, "-v"], tmp_path / "rec.log")
    rec.env["NEMLIVE_FACILITIES"] = str(write_lookup(tmp_path / "lookup.csv", ("ER01_X", "HPR1")))
    rec.env.update(recorder_env)
    rec.start()
    try:
        rec.wait_for_line("subscribed to")
        result = run_publisher(
            ["--csv", str(small.path), "--port", str(port), "--cycles", "1", "--delay", "0"],
            **publisher_env,
        )
        assert result.returncode == 0, result.stderr
        want = expected_readings(small.expected_messages())
        assert wait_until(lambda: len(read_store(url)) >= len(want)), rec.output()
        assert read_store(url) == want
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
    return rec


def test_login_from_the_environment_records_and_never_shows_the_password(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    broker: Mosquitto = request.getfixturevalue("auth_broker")
    login = {"MQTT_USERNAME": USER, "MQTT_PASSWORD": PASSWORD}
    rec = _record_once(tmp_path, broker.port, login, login)
    assert PASSWORD not in rec.output()


def test_refused_credentials_exit_1_with_one_line_and_no_secret(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    broker: Mosquitto = request.getfixturevalue("auth_broker")
    result = run_recorder(
        ["--port", str(broker.port), "--store", f"sqlite:///{tmp_path}/h.db", "-v"],
        **{"MQTT_USERNAME": USER, "MQTT_PASSWORD": WRONG_PASSWORD},
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"recorder.py: error: MQTT broker at localhost:{broker.port}")
    assert "check MQTT_USERNAME/MQTT_PASSWORD" in last
    assert WRONG_PASSWORD not in result.stderr + result.stdout


def test_tls_with_a_ca_file_records(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    broker: Mosquitto = request.getfixturevalue("tls_broker")
    files: TlsFiles = request.getfixturevalue("tls_files")
    tls = {"MQTT_TLS": "1", "MQTT_CA_FILE": str(files.ca)}
    _record_once(tmp_path, broker.port, tls, tls)
