"""The alerter's imperative shell: MQTT in and out, the state file, the sinks.

Messages are validated and evaluated on paho's thread as they arrive (a hand-over to
another thread costs more than the evaluation); ``run`` only ticks the clock. One paho
client on a persistent MQTT 5 session (fixed client id, ``clean_start=False``),
subscribed to ``<base>/#`` at QoS 1 with manual acknowledgement. A message is acknowledged
once its interval has been evaluated, the alerts it caused have been acknowledged by the
broker and the state file says so; so after a crash (even ``kill -9``) the broker sends the
rest again. Restart (docs/alerts.md#restarts):

1. the state file (``--state``): the evaluator's snapshot (last evaluated interval per
   stream, the runs, the publisher's identity), written atomically;
2. the broker's retained alerts: what is firing and since when. They win over the file,
   which can be one interval older: an alert announced (or resolved) after the file was
   written is not announced again.

Alerts go out on a second connection (:class:`Outlet`, a clean session, client id
``<id>-out``), whose acknowledgements never wait behind the stream's backlog. It also reads the
retained alerts at start: it subscribes to ``<base>/alert/#`` and publishes a marker on
``<base>/alert/.sync/<id>-out``, which the broker sends after that subscription's retained
messages.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags, DisconnectFlags
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from nemlive.alert.evaluate import Evaluator, Transition
from nemlive.alert.outlet import Outlet
from nemlive.alert.webhook import WebhookSink
from nemlive.common.atomicfile import write_files_atomically
from nemlive.common.errors import BrokerError, NemLiveError
from nemlive.common.events import (
    MAX_PAYLOAD_BYTES,
    QOS,
    AlertEvent,
    FacilityEvent,
    InvalidEvent,
    MarketEvent,
    build_alert_topic,
    build_subscription,
    decode_alert,
    decode_event_at,
    encode_alert,
)
from nemlive.common.mqttclient import (
    Handshake,
    attempt_connect,
    build_client,
    connect_with_retries,
    describe_refusal,
)
from nemlive.common.mqttconfig import MqttSettings
from nemlive.common.nemtime import NEM_TZ

log = logging.getLogger(__name__)

RECEIVE_MAXIMUM = 20_000  # unacknowledged QoS 1 messages: the open intervals and a batch
SESSION_EXPIRY_S = 7 * 86_400
HELD_QOS0_MAX = 10_000  # messages held while recovering, past which QoS 0 ones are dropped
PERSIST_EVERY_S = 0.25  # at most this long between state writes (and acknowledgements)
PERSIST_EVERY_MESSAGES = 5_000
TICK_S = 0.5


class Inbound(NamedTuple):
    """One message as paho delivered it (a tuple: one is made per message)."""

    generation: int
    mid: int
    qos: int
    topic: str
    payload: bytes
    retain: bool


def to_alert(t: Transition) -> AlertEvent:
    """A transition as the payload model (times in NEM time, +10:00)."""
    return AlertEvent(
        rule=t.rule,
        kind=t.kind,
        subject=t.subject,
        state=t.state,
        since=datetime.fromtimestamp(t.since, NEM_TZ),
        at=datetime.fromtimestamp(t.at, NEM_TZ),
        value=None if t.value is None else round(float(t.value), 3),
        threshold=t.threshold,
    )


def read_state(path: Path) -> dict | None:
    """The state file's snapshot, or None when there is none (a first start)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


class AlertService:
    """Evaluate the stream and publish what fires; see the module docstring."""

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        evaluator: Evaluator,
        state_path: Path,
        sinks: Sequence[WebhookSink] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.base = settings.topic
        self.client_id = client_id
        self.evaluator = evaluator
        self.state_path = state_path
        self.sinks = tuple(sinks)
        self.clock = clock
        self.rejects: Counter[str] = Counter()
        self.published: Counter[str] = Counter()
        self.generation = 0
        self._alert_prefix = f"{self.base}/alert/"
        self._rule_names = {r.name for r in evaluator.rules}
        self._lock = threading.Lock()  # the evaluator, the unacknowledged list, the counts
        # The state file's writes and the acknowledgements after them, in snapshot order: taken
        # while holding _lock, so the clock's periodic write runs after _lock is released.
        self._write_lock = threading.Lock()
        self._held: list[Inbound] | None = []  # messages before recover() is done
        # Acknowledgement bookkeeping, QoS 1 and 2 messages only, as (generation, mid, qos):
        # those acknowledged at the next persist(), and per stream those of its open interval
        # (held until it is evaluated). _pending counts every message since the last persist.
        self._ackable: list[tuple[int, int, int]] = []
        self._open: dict[str, tuple[int, list[tuple[int, int, int]]]] = {}
        self._pending = 0
        self._handshake = Handshake()
        self._last_persist = 0.0
        self._closing = False
        self.client = build_client(settings, client_id, protocol="5", manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.outlet = Outlet(settings, f"{client_id}-out")

    # --- paho's thread ------------------------------------------------------------------

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
        self.generation += 1
        if not flags.session_present:
            client.subscribe(build_subscription(self.base), qos=QOS)
        self._handshake.accepted()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._handshake.lost() and not self._closing:
            log.warning(
                "lost the connection to %s (%s); reconnecting", self.settings.address, reason_code
            )

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        # Evaluated here, on paho's thread: a hand-over to another thread would cost more
        # than the evaluation (docs/alerts.md#figures). Until recover() is done, held.
        inbound = Inbound(self.generation, msg.mid, msg.qos, msg.topic, msg.payload, msg.retain)
        with self._lock:
            if len(msg.payload) > MAX_PAYLOAD_BYTES:
                self.rejects["oversize"] += 1
                self._ack(inbound)
            elif self._held is not None:
                if not inbound.qos and len(self._held) >= HELD_QOS0_MAX:
                    self.rejects["held_full"] += 1  # QoS 0 has no flow control: bounded here
                else:
                    self._held.append(inbound)
            else:
                self.handle(inbound)
                if self._pending >= PERSIST_EVERY_MESSAGES:
                    self.persist()

    # --- connecting and recovering ------------------------------------------------------

    def connect(self, retries: int, stop: threading.Event) -> bool:
        """Connect (retrying with the shared backoff); BrokerError when every attempt fails."""
        outcome, last = connect_with_retries(
            self._attempt, address=self.settings.address, retries=retries, stop=stop
        )
        if outcome == "failed":
            raise BrokerError(
                f"cannot reach the MQTT broker at {self.settings.address} ({last}): start one "
                "(e.g. mosquitto -c mosquitto.conf) or check --host/--port"
            )
        return outcome == "connected"

    def _attempt(self) -> str | None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        answer = attempt_connect(
            self.client, self.settings, self._handshake, clean_start=False, properties=props
        )
        if answer.kind == "connected":
            return None
        if answer.refusal is not None:
            raise BrokerError(describe_refusal(self.settings.address, answer.refusal))
        return answer.reason or answer.kind

    def recover(self, timeout: float = 30.0) -> None:
        """Load the state file, then adopt the broker's retained alerts (module docstring).

        Call after :meth:`connect`: the stream's messages are held meanwhile (at most
        ``RECEIVE_MAXIMUM``: none is acknowledged yet).
        """
        try:
            snapshot = read_state(self.state_path)
            if snapshot is not None:
                self.evaluator.restore(snapshot, self.clock())
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise NemLiveError(
                f"the state file {self.state_path} is unreadable ({type(exc).__name__}: {exc}): "
                "delete it to start afresh (alerts firing on the broker are kept)"
            ) from None
        self.outlet.connect()
        found = self.outlet.retained_alerts(timeout)
        with self._lock:
            self._adopt(
                {topic: self._read_alert(topic, payload) for topic, payload in found.items()}
            )
            held, self._held = self._held or [], None
            for msg in held:
                self.handle(msg)

    def _read_alert(self, topic: str, payload: bytes) -> AlertEvent | None:
        try:
            return decode_alert(self.base, topic, payload)
        except InvalidEvent:
            return None

    def _adopt(self, retained: dict[str, AlertEvent | None]) -> None:
        firing: dict[tuple[str, str], int] = {}
        for topic, alert in retained.items():
            if alert is None:  # not an alert of ours (a marker, a foreign payload)
                continue
            if alert.rule not in self._rule_names:
                log.info("clearing %s: its rule is no longer in the rules file", topic)
                self._publish(topic, b"")
            elif alert.state == "firing":
                firing[(alert.rule, alert.subject)] = int(alert.since.timestamp())
            else:  # resolved, announced, but killed before it was cleared
                self._publish(topic, b"")
        self.evaluator.adopt_firing(firing)
        log.info("recovered: %d alerts firing", len(self.evaluator.firing()))

    # --- the loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Tick the clock until ``stop`` (paho's thread evaluates the messages); then write
        the state and acknowledge what it covers."""
        while not stop.wait(TICK_S):
            self._tick()
        with self._lock:
            self.persist()

    def _tick(self) -> None:
        """Tick the evaluator; every ``PERSIST_EVERY_S``, write the state and acknowledge,
        paho's thread evaluating meanwhile (the write's fsync is not under the lock)."""
        with self._lock:
            self.emit(self.evaluator.tick(self.clock()))
            if not self._pending or time.monotonic() - self._last_persist < PERSIST_EVERY_S:
                return
            snapshot, ackable = self._checkpoint()
            self._write_lock.acquire()  # before _lock is released: no newer write goes first
        try:
            self._write_and_ack(snapshot, ackable)
        finally:
            self._write_lock.release()

    def handle(self, msg: Inbound) -> None:
        """One message: validate, evaluate, publish what it completes."""
        if msg.topic.startswith(self._alert_prefix):
            self._ack(msg)  # our own alerts (and the marker), echoed by <base>/#
            return
        try:
            event, ts = decode_event_at(self.base, msg.topic, msg.payload)
        except InvalidEvent as exc:
            self.rejects[exc.reason] += 1
            self._ack(msg)
            return
        kind = type(event)
        if msg.retain and (kind is FacilityEvent or kind is MarketEvent):
            # A snapshot of each id's latest value, not a stream: never an interval.
            self.evaluator.counts["retained"] += 1
            self._ack(msg)
            return
        counts = self.evaluator.counts
        late, accepted = counts["late"], counts["accepted"]
        transitions = self.evaluator.receive(event, self.clock(), ts)
        self._pending += 1
        if counts["accepted"] != accepted:
            # Held until its interval is evaluated (None: this event completed it).
            self._hold(msg, "facility" if kind is FacilityEvent else "market")
        else:
            if msg.qos:  # status, late, duplicate...: acknowledged at the next persist
                self._ackable.append((msg.generation, msg.mid, msg.qos))
            if counts["late"] != late and log.isEnabledFor(logging.DEBUG):
                log.debug("late: %s %s", msg.topic, msg.payload[:120])
        if transitions:
            self.emit(transitions)

    def _hold(self, msg: Inbound, stream: str) -> None:
        """Keep an accepted message's acknowledgement until its interval is evaluated."""
        if not msg.qos:
            return
        open_ts = self.evaluator.streams[stream].open_ts  # type: ignore[index]
        key = (msg.generation, msg.mid, msg.qos)
        if open_ts is None:
            self._ackable.append(key)
            return
        held = self._open.get(stream)
        if held is None or held[0] != open_ts:
            if held is not None:
                self._ackable += held[1]  # that interval is no longer open
            held = self._open[stream] = (open_ts, [])
        held[1].append(key)

    def emit(self, transitions: list[Transition]) -> None:
        """Publish transitions (retained, QoS 1, acknowledged), hand them to the sinks, and
        write the state before anything else happens."""
        if not transitions:
            return
        for t in transitions:
            alert = to_alert(t)
            topic = build_alert_topic(self.base, t.rule, t.subject)
            self._publish(topic, encode_alert(alert))
            if t.state == "resolved":
                self._publish(topic, b"")  # clear the retained message
            self.published[t.state] += 1
            log.info(
                "%s %s %s: %s (threshold %g) at %s",
                t.state.upper(),
                t.rule,
                t.subject,
                "no value" if alert.value is None else f"{alert.value:g}",
                t.threshold,
                alert.at.isoformat(),
            )
            for sink in self.sinks:
                sink.put(alert)
        self.persist()

    def _publish(self, topic: str, payload: bytes) -> None:
        self.outlet.publish(topic, payload)

    def persist(self) -> None:
        """Write the state file, then acknowledge every message it covers (the caller holds
        the lock)."""
        snapshot, ackable = self._checkpoint()
        with self._write_lock:
            self._write_and_ack(snapshot, ackable)

    def _checkpoint(self) -> tuple[dict[str, object], list[tuple[int, int, int]]]:
        """The evaluator's snapshot and the messages it covers (under the lock)."""
        self._last_persist = time.monotonic()
        streams = self.evaluator.streams
        for stream, (ts, keys) in list(self._open.items()):
            if streams[stream].open_ts != ts:  # type: ignore[index]
                self._ackable += keys  # its interval has been evaluated
                del self._open[stream]
        ackable, self._ackable = self._ackable, []
        self._pending = 0
        return self.evaluator.snapshot(), ackable

    def _write_and_ack(
        self, snapshot: dict[str, object], ackable: list[tuple[int, int, int]]
    ) -> None:
        """Write the state file, then acknowledge (under the write lock)."""
        data = json.dumps(snapshot, separators=(",", ":")).encode()
        write_files_atomically([(self.state_path, data)])
        generation, ack = self.generation, self.client.ack
        for gen, mid, qos in ackable:
            if gen == generation:
                ack(mid, qos)

    def _ack(self, msg: Inbound) -> None:
        if msg.qos and msg.generation == self.generation:
            self.client.ack(msg.mid, msg.qos)

    def close(self) -> None:
        self._closing = True
        self.client.disconnect()
        self.client.loop_stop()
        self.outlet.close()
        for sink in self.sinks:
            sink.stop()
