"""nemlive.publish.broker: the port probe and the embedded amqtt broker (real sockets, real paho)."""

from __future__ import annotations

import socket
import time

import paho.mqtt.client as mqtt
import psutil
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from nemlive.common.errors import BrokerError
from nemlive.publish.broker import EmbeddedBroker, build_amqtt_config, is_listening
from tests.conftest import Mosquitto, free_port
from tests.support_mqtt import Collector

pytestmark = pytest.mark.integration


def test_is_listening_tells_a_broker_from_a_free_port(mosquitto: Mosquitto) -> None:
    assert is_listening("127.0.0.1", mosquitto.port)
    assert not is_listening("127.0.0.1", free_port())


def test_config_binds_loopback_only() -> None:
    assert build_amqtt_config(5555)["listeners"]["default"]["bind"] == "127.0.0.1:5555"


def test_embedded_broker_delivers_qos1_retained_and_stops() -> None:
    port = free_port()
    with EmbeddedBroker(port) as broker:
        listening = {
            c.laddr
            for c in psutil.Process().net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        }
        assert {addr.ip for addr in listening} == {"127.0.0.1"}

        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t-pub", protocol=mqtt.MQTTv311)
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        try:
            with Collector(port) as live:
                info = pub.publish("nem/stream/market/SA1", b'{"x":1}', qos=1, retain=True)
                info.wait_for_publish(5)
                assert info.is_published()
                assert live.wait_until(lambda c: len(c.snapshot()) == 1, timeout=5)
                assert live.snapshot()[0].qos == 1
            with Collector(port) as late:
                assert late.wait_until(lambda c: len(c.snapshot()) >= 1, timeout=5)
                # amqtt may send it twice: on connect it replays retained messages for
                # every subscription it still holds (the first collector's, for ~1 s).
                assert {(m.topic, m.payload, m.retain) for m in late.snapshot()} == {
                    ("nem/stream/market/SA1", b'{"x":1}', True)
                }
        finally:
            pub.disconnect()
            pub.loop_stop()
        started = time.monotonic()
        assert broker.stop(timeout=5.0) is True
        assert time.monotonic() - started < 6
    assert not is_listening("127.0.0.1", port)
    assert broker.stop() is True  # idempotent


def test_embedded_broker_on_a_busy_port_is_a_broker_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        broker = EmbeddedBroker(port)
        with pytest.raises(BrokerError, match=f"could not start on 127.0.0.1:{port}"):
            broker.start()
        broker.stop()
