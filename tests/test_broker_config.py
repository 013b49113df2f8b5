"""The shipped broker configs (mosquitto.conf, docs/mosquitto/) on a real mosquitto.

The settings that matter for hostile traffic are read out of the shipped files and run on a
broker of the test's own, so a change to a file is what the test checks.
"""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from conftest import ROOT, Mosquitto
from paho.mqtt.enums import CallbackAPIVersion
from support_mqtt import Collector
from support_tls import write_password_file

ACL = ROOT / "docs" / "mosquitto" / "acl"
SECURE_CONF = ROOT / "docs" / "mosquitto" / "secure.conf"
PUBLISHER, PASSWORD = "nem-publisher", "pw-for-the-acl-test-1"


def _directives(conf: Path, *names: str) -> dict[str, str]:
    """``name -> value`` of the given directives in a mosquitto config file."""
    found = {}
    for line in conf.read_text().splitlines():
        key, _, value = line.strip().partition(" ")
        if key in names:
            found[key] = value.strip()
    return found


def _client(port: int, username: str | None = None) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    if username:
        client.username_pw_set(username, PASSWORD)
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    return client


def _publish(client: mqtt.Client, topic: str, payload: bytes) -> None:
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(timeout=5)


def _settle(collector: Collector, want: int, timeout: float = 3.0) -> list[bytes]:
    deadline = time.monotonic() + timeout
    while len(collector.snapshot()) < want and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # anything that should not arrive has had its chance
    return [m.payload for m in collector.snapshot()]


def test_the_shipped_config_drops_payloads_over_1_kb(tmp_path: Path) -> None:
    limit = _directives(ROOT / "mosquitto.conf", "message_size_limit")
    assert limit == {"message_size_limit": "1024"}
    broker = Mosquitto(
        workdir=tmp_path,
        persistence=False,
        settings=[f"message_size_limit {limit['message_size_limit']}"],
    ).start()
    try:
        with_sub = Collector(broker.port).start()
        pub = _client(broker.port)
        try:
            _publish(pub, "nem/stream/facility/A", b"x" * 1024)
            _publish(pub, "nem/stream/facility/B", b"y" * 1025)
            _publish(pub, "nem/stream/facility/C", b"z" * (4 * 1024 * 1024))
            _publish(pub, "nem/stream/facility/D", b"ok")
            got = _settle(with_sub, 2)
        finally:
            pub.loop_stop()
            with_sub.stop()
    finally:
        broker.stop()
    assert got == [b"x" * 1024, b"ok"]


def test_the_acl_example_lets_only_the_publisher_write(tmp_path: Path) -> None:
    shipped = _directives(SECURE_CONF, "acl_file", "password_file", "allow_anonymous")
    assert shipped["acl_file"] == "docs/mosquitto/acl" and shipped["allow_anonymous"] == "true"
    passwd = write_password_file(tmp_path / "passwd", PUBLISHER, PASSWORD)
    broker = Mosquitto(
        workdir=tmp_path,
        persistence=False,
        settings=[
            f"allow_anonymous {shipped['allow_anonymous']}",
            f"password_file {passwd}",
            f"acl_file {ROOT / shipped['acl_file']}",
        ],
    ).start()
    try:
        reader = Collector(broker.port).start()  # a dashboard: anonymous, read-only
        publisher = _client(broker.port, PUBLISHER)
        anyone = _client(broker.port)
        try:
            _publish(anyone, "nem/stream/facility/FAKE", b"forged")
            _publish(anyone, "nem/stream/status", b"forged status")
            _publish(publisher, "nem/stream/facility/REAL", b"real")
            _publish(anyone, "elsewhere/topic", b"not ours")
            got = _settle(reader, 1)
        finally:
            for client in (publisher, anyone):
                client.loop_stop()
            reader.stop()
    finally:
        broker.stop()
    assert got == [b"real"]


@pytest.mark.parametrize("conf", [ROOT / "mosquitto.conf", SECURE_CONF])
def test_the_shipped_configs_parse(conf: Path, tmp_path: Path) -> None:
    # mosquitto -t is not in 2.0; starting it on the file (with the listener moved) is the check.
    text = conf.read_text().replace("listener 1883 127.0.0.1", "").replace("listener 1883", "")
    text = text.replace("docs/mosquitto/", f"{ROOT}/docs/mosquitto/")
    passwd = ROOT / "docs" / "mosquitto" / "passwd"
    settings = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    settings = [
        ln
        for ln in settings
        if not ln.startswith(("persistence", "max_queued", "max_inflight", "log_", "password_file"))
    ]
    assert not passwd.exists()  # never shipped: each operator makes their own
    broker = Mosquitto(workdir=tmp_path, persistence=False, settings=settings).start()
    broker.stop()
