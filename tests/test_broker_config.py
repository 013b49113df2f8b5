"""The shipped broker configs (mosquitto.conf, docs/mosquitto/) on a real mosquitto.

The settings that matter for hostile traffic are read out of the shipped files and run on a
broker of the test's own, so a change to a file is what the test checks.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.client import ConnectFlags
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from nemlive.record.subscriber import SESSION_EXPIRY_S
from tests.conftest import ROOT, Mosquitto
from tests.support_mqtt import Collector
from tests.support_tls import write_password_file

pytestmark = pytest.mark.integration

ACL = ROOT / "docs" / "mosquitto" / "acl"
SECURE_CONF = ROOT / "docs" / "mosquitto" / "secure.conf"
PUBLISHER, ALERTER, PASSWORD = "nem-publisher", "nem-alerts", "pw-for-the-acl-test-1"


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


@pytest.mark.parametrize("base", ["nem/stream", "nem/live"])  # make run's and make live's
def test_the_acl_example_lets_only_the_publisher_write_and_the_alerter_its_alerts(
    tmp_path: Path, base: str
) -> None:
    shipped = _directives(SECURE_CONF, "acl_file", "password_file", "allow_anonymous")
    assert shipped["acl_file"] == "docs/mosquitto/acl" and shipped["allow_anonymous"] == "true"
    passwd = write_password_file(tmp_path / "passwd", PUBLISHER, PASSWORD)
    write_password_file(passwd, ALERTER, PASSWORD, create=False)
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
        reader = Collector(broker.port, base).start()  # a dashboard: anonymous, read-only
        publisher = _client(broker.port, PUBLISHER)
        alerter = _client(broker.port, ALERTER)
        anyone = _client(broker.port)
        try:
            _publish(anyone, f"{base}/facility/FAKE", b"forged")
            _publish(anyone, f"{base}/status", b"forged status")
            _publish(anyone, f"{base}/alert/spike/SA1", b"forged alert")
            _publish(alerter, f"{base}/facility/FAKE", b"the alerter's forged data")
            _publish(publisher, f"{base}/facility/REAL", b"real")
            _publish(alerter, f"{base}/alert/spike/SA1", b"alert")
            _publish(anyone, "elsewhere/topic", b"not ours")
            got = _settle(reader, 2)
        finally:
            for client in (publisher, alerter, anyone):
                client.loop_stop()
            reader.stop()
    finally:
        broker.stop()
    assert got == [b"real", b"alert"]


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
        if not ln.startswith(
            ("persistence", "autosave", "max_queued", "max_inflight", "log_", "password_file")
        )
    ]
    assert not passwd.exists()  # never shipped: each operator makes their own
    broker = Mosquitto(workdir=tmp_path, persistence=False, settings=settings).start()
    broker.stop()


# --- persistence: what a broker restart keeps ----------------------------------------------


@pytest.mark.parametrize("conf", [ROOT / "mosquitto.conf", SECURE_CONF])
def test_the_shipped_configs_keep_state_in_the_repos_ignored_folder(conf: Path) -> None:
    shipped = _directives(conf, "persistence", "persistence_location", "autosave_interval")
    assert shipped == {
        "persistence": "true",
        "persistence_location": ".mosquitto/",
        "autosave_interval": "60",
    }
    # mosquitto does not create the folder: it ships with the repo, its contents ignored
    assert (ROOT / ".mosquitto").is_dir()
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".mosquitto/mosquitto.db"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0


class Session:
    """A recorder-style MQTT 5 client: fixed id, ``clean_start=False`` and a session that
    outlives the connection (the recorder's ``SESSION_EXPIRY_S``)."""

    def __init__(self, port: int, client_id: str) -> None:
        self.received: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.session_present: bool | None = None
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.on_message = lambda c, u, m: self.received.put((m.topic, m.payload))
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect("127.0.0.1", port, 10, clean_start=False, properties=props)
        self.client.loop_start()
        assert self._connected.wait(10), "no CONNACK"

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.session_present = flags.session_present
        self._connected.set()

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        assert self._subscribed.wait(10), "no SUBACK"

    def next(self, timeout: float = 10.0) -> tuple[str, bytes]:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _shipped_persistence(workdir: Path, settings: list[str] | None = None) -> Mosquitto:
    """A broker with mosquitto.conf's persistence and autosave, keeping its state in
    ``workdir`` (a temporary stand-in for the repo's .mosquitto/)."""
    shipped = _directives(ROOT / "mosquitto.conf", "persistence", "autosave_interval")
    return Mosquitto(
        workdir=workdir,
        persistence=shipped.get("persistence") == "true",
        autosave_interval=int(shipped.get("autosave_interval", "1800")),
        settings=settings or [],
    )


def test_a_broker_restart_keeps_the_session_its_queued_messages_and_retained(
    tmp_path: Path,
) -> None:
    broker = _shipped_persistence(tmp_path).start()
    try:
        recorder = Session(broker.port, "nemlive-recorder-restart-test")
        assert recorder.session_present is False
        recorder.subscribe("nem/stream/#")
        recorder.close()

        publisher = _client(broker.port)
        try:
            _publish(publisher, "nem/stream/facility/BAYSW", b"queued while away")
            info = publisher.publish("nem/stream/status", b"online", qos=1, retain=True)
            info.wait_for_publish(timeout=5)
        finally:
            publisher.disconnect()
            publisher.loop_stop()

        broker.restart()  # SIGTERM, then the same port and folder

        recorder = Session(broker.port, "nemlive-recorder-restart-test")
        try:
            assert recorder.session_present is True  # no SUBSCRIBE needed: it was kept
            got = {recorder.next(), recorder.next()}
        finally:
            recorder.close()
        assert got == {
            ("nem/stream/facility/BAYSW", b"queued while away"),
            ("nem/stream/status", b"online"),
        }

        newcomer = Session(broker.port, "a-dashboard-after-the-restart")
        try:
            newcomer.subscribe("nem/stream/status")
            assert newcomer.next() == ("nem/stream/status", b"online")  # retained
        finally:
            newcomer.close()
    finally:
        broker.stop()
