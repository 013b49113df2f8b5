"""The dashboard's MQTT subscriber: one paho client feeding one LiveState.

The paho ``loop_start`` thread is the only background thread. Its callbacks hand each message
to ``LiveState.receive``, which validates it with ``nemlive.common.events.decode_event`` and stores
it under the LiveState's lock, in batches (see there); they never touch Streamlit. The client
is built and started by ``nemlive.common.mqttclient``: the connection is asynchronous
(``connect_async``) and paho reconnects with a backoff of 1 to ``MAX_RECONNECT_DELAY_S``
seconds, re-subscribing on every (re)connect because the session is clean.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from nemlive.common.errors import ConfigError
from nemlive.common.events import QOS, build_subscription
from nemlive.common.mqttclient import build_client, connect_in_background
from nemlive.common.mqttconfig import MqttSettings, new_client_id
from nemlive.dashboard.livestate import LiveState

log = logging.getLogger(__name__)

MIN_RECONNECT_DELAY_S = 1
# Small on purpose: after a broker restart the dashboard is back within this many seconds.
MAX_RECONNECT_DELAY_S = 4
CLIENT_ID_PREFIX = "nemlive-dash"


class Ingest:
    """One MQTT client subscribed to ``<topic>/#`` that writes into ``state``.

    ``start()`` returns at once; the status in the LiveState says connecting, connected,
    reconnecting or down. ``stop()`` disconnects and joins the loop thread (idempotent).
    ``client_id``/``clean_session`` exist for the ingest benchmark's persistent session.
    """

    def __init__(
        self,
        settings: MqttSettings,
        state: LiveState,
        *,
        client_id: str | None = None,
        clean_session: bool = True,
    ) -> None:
        self.settings = settings
        self.state = state
        self.client_id = client_id or new_client_id(CLIENT_ID_PREFIX)
        self._base_topic = settings.topic
        self._subscription = build_subscription(settings.topic)
        self._ever_connected = False
        self._stopped = threading.Event()
        self._started = False
        self.connects = 0
        # A CA file that will not load leaves the client unusable: connecting without the
        # TLS that was asked for would send the password in clear, so start() refuses to.
        self._config_error: str | None = None
        client = build_client(
            settings,
            self.client_id,
            protocol="3.1.1",
            clean_session=clean_session,
            reconnect_delays=(MIN_RECONNECT_DELAY_S, MAX_RECONNECT_DELAY_S),
            on_config_error=self._refuse_to_connect,
        )
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client
        state.set_status(
            "down" if self._config_error else "connecting",
            self._config_error or f"connecting to {settings.address}",
            broker=settings.address,
            topic=settings.topic,
        )

    def _refuse_to_connect(self, exc: ConfigError) -> None:
        self._config_error = str(exc)

    # --- callbacks (paho's loop thread) -------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if reason_code.is_failure:
            self.state.set_status("down", f"broker refused the connection: {reason_code}")
            return
        self._ever_connected = True
        self.connects += 1
        # Subscribe on every connect: a clean session forgets subscriptions on reconnect.
        result, _mid = client.subscribe(self._subscription, qos=QOS)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self.state.set_status("reconnecting", f"subscribe failed: {mqtt.error_string(result)}")
            return
        self.state.set_status("connected", f"subscribed to {self._subscription}")
        log.info("connected to %s, subscribed to %s", self.settings.address, self._subscription)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        if self._stopped.is_set():
            return
        status = "reconnecting" if self._ever_connected else "down"
        self.state.set_status(status, f"waiting for broker at {self.settings.address}")

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if self._stopped.is_set():
            self.state.set_status("stopped", "disconnected")
            return
        self.state.set_status(
            "reconnecting", f"connection lost ({reason_code}); retrying {self.settings.address}"
        )
        log.info("disconnected from %s: %s", self.settings.address, reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.state.receive(self._base_topic, msg.topic, msg.payload, msg.retain)

    # --- control (the page's thread) ----------------------------------------------------

    def start(self) -> Ingest:
        """Connect in the background and start paho's loop thread."""
        if self._started or self._config_error:
            return self
        self._started = True
        failure = connect_in_background(self.client, self.settings)
        if failure is not None:
            self.state.set_status("down", failure)
        return self

    def stop(self) -> None:
        """Disconnect and join the loop thread; safe to call twice.

        paho's ``loop_stop`` has no timeout, but its thread checks for the stop at least once
        a second while it waits to reconnect, and a TCP connect gives up after 5 s.
        """
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._started:
            self.client.disconnect()
            self.client.loop_stop()
        self.state.set_status("stopped", "stopped")
        log.info("stopped MQTT client %s", self.client_id)

    @property
    def is_connected(self) -> bool:
        return self.client.is_connected()


class Hub:
    """The process-wide pair the dashboard caches: a LiveState and the Ingest feeding it.

    ``connect`` replaces the client (stopping the old one). It keeps the state when the broker
    and topic are the same (a reconnect keeps the window) and starts from an empty one when they
    differ: data from one broker never mixes with another's, and a viewer who points the
    server at a broker of their own cannot leave fake data behind for everyone else.
    """

    def __init__(self, state: LiveState, settings: MqttSettings, *, autostart: bool = True) -> None:
        self.state = state
        self.settings = settings
        self.history_note = ""  # what the store gave when the windows were filled from it
        self._lock = threading.Lock()
        self.ingest: Ingest | None = None
        if autostart:
            self.connect(settings)
        else:
            state.set_status("down", "not connected", broker=settings.address, topic=settings.topic)

    def connect(self, settings: MqttSettings) -> Ingest:
        with self._lock:
            if self.ingest is not None:
                self.ingest.stop()
            same = (settings.address, settings.topic) == (
                self.settings.address,
                self.settings.topic,
            )
            if not same:
                self.state = self.state.fresh()
            self.settings = settings
            self.ingest = Ingest(settings, self.state).start()
            return self.ingest

    def stop(self) -> None:
        with self._lock:
            if self.ingest is not None:
                self.ingest.stop()
                self.ingest = None
