"""The alerter's second connection: it publishes the alerts and reads them back at start.

A clean MQTT 5 session of its own (client id ``<id>-out``): the broker acknowledges an alert
there at once, however long a backlog the stream's session is draining (on that session the
PUBACK would wait behind it: ten times slower in bench/alerts.py).
"""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags
from paho.mqtt.reasoncodes import ReasonCode

from nemlive.common.errors import BrokerError
from nemlive.common.events import ALERT_SYNC, QOS, build_alert_subscription
from nemlive.common.mqttclient import Handshake, attempt_connect, build_client
from nemlive.common.mqttconfig import MqttSettings

PUBACK_TIMEOUT_S = 30.0


class Outlet:
    """The alerter's second connection, which publishes the alerts and reads them back.

    Its own clean MQTT 5 session: the broker acknowledges an alert here at once, however
    long a backlog the stream's session is draining (its PUBACK would wait behind it).
    """

    def __init__(self, settings: MqttSettings, client_id: str) -> None:
        self.settings = settings
        self.base = settings.topic
        self._marker = f"{self.base}/alert/{ALERT_SYNC}/{client_id}"
        self._token = uuid.uuid4().hex.encode()
        self._found: dict[str, bytes] = {}
        self._subscribed, self._synced = threading.Event(), threading.Event()
        self._handshake = Handshake()
        self.client = build_client(settings, client_id, protocol="5")
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self._handshake.lost()
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message

    def _on_connect(
        self, c: mqtt.Client, u: object, f: ConnectFlags, rc: ReasonCode, p: object
    ) -> None:
        if rc.is_failure:
            self._handshake.refused(rc)
        else:
            self._handshake.accepted()

    def _on_message(self, c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self._marker:
            if msg.payload == self._token:
                self._synced.set()
        elif msg.retain and msg.payload:
            self._found[msg.topic] = bytes(msg.payload)

    def connect(self) -> None:
        answer = attempt_connect(self.client, self.settings, self._handshake)
        if answer.kind != "connected":
            detail = answer.reason or (str(answer.refusal) if answer.refusal else answer.kind)
            raise BrokerError(
                f"cannot open the alerts connection to {self.settings.address} ({detail})"
            )

    def retained_alerts(self, timeout: float) -> dict[str, bytes]:
        """topic -> payload of every retained alert under the base topic.

        All retained messages of a subscription arrive before a message published after its
        SUBACK: the marker ``<base>/alert/.sync/<client id>`` tells when they are all in.
        """
        subscription = build_alert_subscription(self.base)
        self.client.subscribe(subscription, qos=QOS)
        if self._subscribed.wait(timeout):
            self.client.publish(self._marker, self._token, qos=QOS)
        if not self._synced.wait(timeout):
            raise BrokerError(
                f"the broker at {self.settings.address} did not send back the alerter's marker "
                f"within {timeout:g} s: check that it lets this client publish and subscribe "
                f"to {subscription}"
            )
        self.client.unsubscribe(subscription)
        return dict(self._found)

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish retained at QoS 1 and wait for the broker's acknowledgement."""
        info = self.client.publish(topic, payload, qos=QOS, retain=True)
        info.wait_for_publish(PUBACK_TIMEOUT_S)
        if not info.is_published():
            raise BrokerError(
                f"the broker at {self.settings.address} did not acknowledge an alert within "
                f"{PUBACK_TIMEOUT_S:g} s; the alerter stops and resumes from its state file"
            )

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
