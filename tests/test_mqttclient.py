"""nemlive.common.mqttclient without a broker: building, the retry outcomes, one-line errors.

Connecting for real is covered by the publisher's, the recorder's and the ingest's tests.
"""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from nemlive.common.errors import ConfigError
from nemlive.common.mqttclient import (
    Will,
    build_client,
    connect_with_retries,
    describe_rc,
    describe_refusal,
)
from nemlive.common.mqttconfig import MqttSettings


def test_a_v5_client_has_manual_acks_and_no_clean_session() -> None:
    client = build_client(MqttSettings(), "t-v5", protocol="5", manual_ack=True)
    assert client.protocol == mqtt.MQTTv5
    assert client._manual_ack is True  # paho keeps no public view of it


def test_a_311_client_carries_its_will_and_login() -> None:
    settings = MqttSettings(username="u", password="p")
    will = Will("nem/status", b"offline")
    client = build_client(settings, "t-311", will=will, reconnect_delays=(1, 4))
    assert client.protocol == mqtt.MQTTv311
    assert client.username == "u"
    assert client._will_topic == b"nem/status"  # paho keeps no public view of the will


def test_a_ca_file_that_will_not_load_raises_or_is_handed_over(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    settings = MqttSettings(tls=True, ca_file=bad)
    with pytest.raises(ConfigError, match="cannot load the CA file"):
        build_client(settings, "t-tls")
    seen: list[ConfigError] = []
    client = build_client(settings, "t-tls", on_config_error=seen.append)
    assert isinstance(client, mqtt.Client)
    assert len(seen) == 1 and "cannot load the CA file" in str(seen[0])


def test_return_codes_are_described_unless_success() -> None:
    assert describe_rc(mqtt.MQTT_ERR_SUCCESS) is None
    assert describe_rc(mqtt.MQTT_ERR_NO_CONN) == mqtt.error_string(mqtt.MQTT_ERR_NO_CONN)


@pytest.mark.parametrize(
    ("code", "hints", "hint"),
    [
        pytest.param(134, None, "check MQTT_USERNAME/MQTT_PASSWORD", id="login"),
        pytest.param(133, {133: "choose another --client-id"}, "another --client-id", id="caller"),
        pytest.param(128, None, "check the broker", id="other"),
    ],
)
def test_a_refusal_is_one_line_with_a_hint(code: int, hints: dict | None, hint: str) -> None:
    refusal = ReasonCode(PacketTypes.CONNACK, identifier=code)
    text = describe_refusal("h:1883", refusal, hints)
    assert text.startswith(f"MQTT broker at h:1883 refused the connection ({refusal}): ")
    assert text.endswith(hint)


def test_connect_with_retries_outcomes_without_waiting() -> None:
    stop = threading.Event()
    calls: list[int] = []

    def fails() -> str:
        calls.append(1)
        return "refused by the socket"

    assert connect_with_retries(fails, address="h:1", retries=1, stop=stop) == (
        "failed",
        "refused by the socket",
    )
    assert connect_with_retries(lambda: None, address="h:1", retries=3, stop=stop) == (
        "connected",
        "",
    )
    assert connect_with_retries(fails, address="h:1", retries=0, stop=stop) == (
        "failed",
        "no attempt",
    )
    stop.set()
    assert connect_with_retries(fails, address="h:1", retries=5, stop=stop) == ("stopped", "")
    assert len(calls) == 1  # no attempt once stopped, none with 0 retries
