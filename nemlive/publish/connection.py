"""The publisher's acknowledged connection: one paho client, backpressure and ack tracking.

* :class:`AckTracker` follows which rows are fully acknowledged (for the checkpoint) and
  keeps at most ``OUTSTANDING_LIMIT`` messages unacknowledged, so memory stays flat.
* :class:`Connection` builds and connects its client through ``nemlive.common.mqttclient``
  (retries and backoff, one-line errors), sets the retained ``offline`` last
  will, and closes cleanly. paho keeps every unacknowledged QoS 1 message and sends it again
  (DUP) after a reconnect, whatever the session; the session is clean, because a publisher
  subscribes to nothing and a persistent one would stay on the broker after every run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags, DisconnectFlags
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from nemlive.common.errors import BrokerError
from nemlive.common.events import QOS, StatusEvent, build_status_topic, encode_status
from nemlive.common.mqttclient import (
    CONNACK_TIMEOUT_S,
    Handshake,
    Will,
    attempt_connect,
    build_client,
    connect_with_retries,
    describe_refusal,
)
from nemlive.common.mqttconfig import MqttSettings, new_client_id

log = logging.getLogger(__name__)

MAX_INFLIGHT = 100  # paho's window of unacknowledged QoS 1 messages on the wire
OUTSTANDING_LIMIT = 1_000  # published but unacknowledged, incl. paho's queue: memory stays flat


# --- acknowledgement tracking -------------------------------------------------------------


class AckTracker:
    """Which rows are fully acknowledged, fed by paho's on_publish from its network thread.

    A row is identified by ``seq = pass_number × rows + row``. Its messages are registered
    by mid after ``publish()`` returns; a PUBACK can arrive before that (paho calls
    on_publish under its own lock, so we must not publish while holding ours), hence
    ``_early``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._pending: dict[int, list[int]] = {}  # mid -> row entry
        self._early: set[int] = set()
        self._rows: deque[list[int]] = deque()  # [seq, outstanding, closed]
        self._current: list[int] | None = None  # the row being published
        self._loose = [-1, 0, 1]  # messages outside any row (status between rows)
        self._waiting = False
        self.outstanding = 0
        self.acked_through = -1  # highest seq with it and every earlier row acknowledged
        self.acked = 0

    def begin_row(self, seq: int) -> None:
        with self._lock:
            self._current = [seq, 0, 0]
            self._rows.append(self._current)

    def end_row(self) -> None:
        """The current row is fully published. A row left open (stopped halfway) never
        counts as acknowledged, so --resume sends it again from its start."""
        with self._lock:
            if self._current is not None:
                self._current[2] = 1
                self._current = None
                self._advance()

    def register(self, mid: int) -> None:
        """Count ``mid`` against the current row (or no row, between rows)."""
        with self._lock:
            if mid in self._early:
                self._early.discard(mid)
                self.acked += 1
                return
            entry = self._current or self._loose
            entry[1] += 1
            self._pending[mid] = entry
            self.outstanding += 1

    def on_ack(self, mid: int) -> None:
        with self._lock:
            entry = self._pending.pop(mid, None)
            if entry is None:
                self._early.add(mid)
                return
            entry[1] -= 1
            self.outstanding -= 1
            self.acked += 1
            if entry[1] == 0:
                self._advance()
            if self._waiting:
                self._room.notify_all()

    def _advance(self) -> None:
        rows = self._rows
        while rows and rows[0][2] and rows[0][1] == 0:
            self.acked_through = rows.popleft()[0]

    def wait_for_room(self, limit: int, stop: threading.Event) -> None:
        """Block while ``limit`` or more messages are unacknowledged (or until ``stop``)."""
        with self._lock:
            while self.outstanding >= limit and not stop.is_set():
                self._waiting = True
                self._room.wait(0.25)
            self._waiting = False

    def wait_all(self, timeout: float) -> bool:
        """Wait until every registered message is acknowledged; False after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._lock:
            try:
                while self.outstanding > 0:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._waiting = True
                    self._room.wait(min(left, 0.25))
                return True
            finally:
                self._waiting = False


# --- the MQTT connection ------------------------------------------------------------------


class Connection:
    """One paho client: connect with retries, publish with backpressure, close cleanly."""

    def __init__(self, settings: MqttSettings, tracker: AckTracker, verbose: bool) -> None:
        self.settings = settings
        self.tracker = tracker
        self.client_id = new_client_id("nemlive-pub")
        self.status_topic = build_status_topic(settings.topic)
        self._handshake = Handshake()
        self._closing = False
        self._ever_connected = False
        self._closed_early = False

        # A clean session: paho re-sends unacknowledged QoS 1 messages after a reconnect either
        # way (its _messages_reconnect_reset_out), and a persistent session of a new client id
        # per run would be kept by the broker for ever.
        client = build_client(
            settings,
            self.client_id,
            protocol="3.1.1",  # amqtt (the embedded broker) speaks 3.1.1 only
            clean_session=True,
            will=Will(
                self.status_topic,
                encode_status(StatusEvent(state="offline", client_id=self.client_id)),
                qos=QOS,
                retain=True,
            ),
            logger=logging.getLogger("paho") if verbose else None,
        )
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.max_queued_messages_set(OUTSTANDING_LIMIT + 100)  # a hard bound behind ours
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self.client = client

    # Callbacks run on paho's thread: record and return.
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._handshake.refused(reason_code)
            return
        if self._ever_connected:
            log.warning(
                "reconnected to %s; resending unacknowledged messages", self.settings.address
            )
        self._ever_connected = True
        self._handshake.accepted()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._handshake.lost()
        if not self._closing and self._ever_connected:  # connect() reports its own failures
            log.warning(
                "lost the connection to %s (%s); reconnecting", self.settings.address, reason_code
            )

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.tracker.on_ack(mid)

    def connect(self, retries: int, stop: threading.Event) -> bool:
        """Connect, retrying with backoff (0.5 s, 1 s, 2 s, ... capped at 8 s).

        Returns True once connected, False when ``stop`` was set while waiting to retry
        (Ctrl-C or SIGTERM: not a failure). Raises BrokerError naming host:port if every
        attempt fails, the broker refuses us, or its TLS certificate is not trusted (not
        retried: it will not change).
        """
        address = self.settings.address
        self._closed_early = False
        outcome, last = connect_with_retries(
            self._attempt_connect, address=address, retries=retries, stop=stop
        )
        if outcome == "connected":
            log.info("connected to %s as %s", address, self.client_id)
            return True
        if outcome == "stopped":
            return False
        if self._closed_early and not self.settings.tls:
            raise BrokerError(
                f"the MQTT broker at {address} closed the connection without answering: "
                "if it expects TLS, set MQTT_TLS=1 (and MQTT_CA_FILE for your own CA); "
                "otherwise check --host/--port and the broker's log"
            )
        tls_hint = " and MQTT_TLS" if self.settings.tls else ""
        raise BrokerError(
            f"cannot reach the MQTT broker at {address} ({last}): start one "
            f"(e.g. mosquitto -c mosquitto.conf) or check --host/--port{tls_hint}"
        )

    def _attempt_connect(self) -> str | None:
        """One connection attempt: None when connected, else why not (``_closed_early`` says
        whether the broker closed the socket without a CONNACK).

        Raises BrokerError for what a retry cannot change: a refusal, an untrusted certificate.
        """
        answer = attempt_connect(self.client, self.settings, self._handshake)
        self._closed_early = answer.kind == "closed"
        if answer.kind == "connected":
            return None
        if answer.refusal is not None:
            raise BrokerError(describe_refusal(self.settings.address, answer.refusal))
        if answer.kind == "closed":
            return "it closed the connection without answering"
        if answer.kind == "silent":
            return f"no CONNACK within {CONNACK_TIMEOUT_S:g}s"
        return answer.reason

    def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1, retained; registered with the tracker. BrokerError on a paho error code.

        MQTT_ERR_NO_CONN is fine: paho keeps the message and sends it after reconnecting.
        """
        info = self.client.publish(topic, payload, qos=QOS, retain=True)
        rc = info.rc
        if rc and rc != MQTTErrorCode.MQTT_ERR_NO_CONN:
            raise BrokerError(
                f"publishing to {self.settings.address} failed: {mqtt.error_string(rc)}"
            )
        self.tracker.register(info.mid)

    def publish_status(self, status: StatusEvent) -> mqtt.MQTTMessageInfo:
        info = self.client.publish(self.status_topic, encode_status(status), qos=QOS, retain=True)
        if info.rc and info.rc != MQTTErrorCode.MQTT_ERR_NO_CONN:
            raise BrokerError(
                f"publishing to {self.settings.address} failed: {mqtt.error_string(info.rc)}"
            )
        self.tracker.register(info.mid)
        return info

    def close(self, offline: StatusEvent, timeout: float) -> None:
        """Publish ``offline`` (bounded wait for its PUBACK), disconnect, stop the loop."""
        try:
            info = self.publish_status(offline)
            info.wait_for_publish(timeout)
        except (BrokerError, RuntimeError, ValueError) as exc:
            log.warning("could not publish the offline status: %s", exc)
        self._closing = True
        self.client.disconnect()
        self.client.loop_stop()
