"""The recorder's MQTT side: a persistent MQTT 5 session whose messages wait for the store.

* :class:`Inbox` is where paho's callback puts each message; the recorder takes batches from
  it (at most ``max_items``, or whatever arrived within ``max_wait`` seconds of the oldest).
* :class:`Subscriber` connects with a fixed client id, ``clean_start=False`` and a session
  that outlives the connection (``SESSION_EXPIRY_S``), subscribes to ``<base>/#`` at QoS 1,
  and acknowledges nothing by itself (paho's ``manual_ack``): :meth:`Subscriber.ack` is
  called once a batch is committed. So whatever the store has not committed, the broker
  still holds, and sends again after a crash or a reconnect.
* With a ``share_group``, it subscribes to ``$share/<group>/<base>/#`` instead: the broker
  gives each message to one member of the group, and keeps a member's share in that
  member's session (docs/recording.md, "Recorders that share the stream").

Why MQTT 5: a broker sends a client only so many unacknowledged QoS 1 messages at once.
For MQTT 3.1.1 that is the broker's setting (mosquitto: 20 by default), far below one
batch, so the stream would stall until each commit. MQTT 5 lets the client raise it
(Receive Maximum). The broker must speak MQTT 5 (mosquitto 1.6 and later, EMQX, HiveMQ).

**The inbox is bounded** (``Inbox.bound``), whatever the publishers send and however long the
store is away:

* a payload over ``MAX_PAYLOAD_BYTES`` is counted (``oversize``) and dropped in the callback,
  before it is queued;
* QoS 1: nothing is acknowledged before it is committed, so ``RECEIVE_MAXIMUM`` (two batches)
  caps the QoS 1 messages of one connection, and the broker holds the rest. On a resumed
  session the broker sends again every message the last connection left unacknowledged, so
  the inbox's copies of those are dropped then: the inbox never holds more QoS 1 messages than
  that cap, and none is lost (only a session the broker lost leaves the copies, the only ones);
* QoS 0 has no flow control: past ``QOS0_MAX_WAITING`` waiting, further QoS 0 messages are
  dropped and counted (``inbox_full``). Their publisher loses them; QoS 1 loses nothing.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Container, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags, DisconnectFlags
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from nemlive.common.errors import BrokerError
from nemlive.common.events import (
    MAX_PAYLOAD_BYTES,
    QOS,
    build_shared_subscription,
    build_subscription,
)
from nemlive.common.mqttclient import (
    CONNACK_TIMEOUT_S,
    Handshake,
    attempt_connect,
    build_client,
    connect_with_retries,
    describe_refusal,
)
from nemlive.common.mqttconfig import MqttSettings
from nemlive.record.recording import Inbound

log = logging.getLogger(__name__)

# QoS 1 messages the broker may send before we acknowledge any: two batches (MAX_BATCH in
# writer.py), so one arrives while the other commits. With 1 KB payloads at most ~10 MB.
RECEIVE_MAXIMUM = 10_000
QOS0_MAX_WAITING = 10_000  # QoS 0 messages waiting for the store; more are dropped
SESSION_EXPIRY_S = 7 * 86_400  # the broker keeps our messages for a recorder down a week
OVERSIZE = "oversize"
_REFUSAL_HINTS = {
    1: "the recorder needs a broker that speaks MQTT 5, such as mosquitto",
    132: "the recorder needs a broker that speaks MQTT 5, such as mosquitto",
    133: "choose another --client-id",
}
INBOX_FULL = "inbox_full"
# Connection numbers, unique across the subscribers of one process (a recorder that covers
# for another runs two, on one inbox), so an acknowledgement never goes to the wrong one.
_GENERATIONS = itertools.count(1)


class Inbox:
    """Messages from paho's thread to the recorder's, in arrival order; bounded (module docstring).

    ``drops`` counts what was never queued, by reason (``oversize``, ``inbox_full``); ``peak``
    is the most messages ever waiting at once.
    """

    def __init__(self, qos1_max: int = RECEIVE_MAXIMUM, qos0_max: int = QOS0_MAX_WAITING) -> None:
        self._items: deque[Inbound] = deque()
        self._cond = threading.Condition()
        self._wake_at = 1  # notify when this many are waiting (the batch size)
        self._qos0 = 0  # QoS 0 messages waiting
        self.qos0_max = qos0_max
        self.bound = qos1_max + qos0_max
        self.drops: Counter[str] = Counter()
        self.peak = 0

    def put(self, item: Inbound) -> bool:
        """Queue ``item``; False (counted ``inbox_full``) for a QoS 0 message past its cap."""
        with self._cond:
            if not item.qos:
                if self._qos0 >= self.qos0_max:
                    self.drops[INBOX_FULL] += 1
                    return False
                self._qos0 += 1
            self._items.append(item)
            self.peak = max(self.peak, len(self._items))
            if len(self._items) >= self._wake_at:
                self._cond.notify()
        return True

    def count_drop(self, reason: str) -> None:
        """Count a message dropped before it was queued."""
        with self._cond:
            self.drops[reason] += 1

    def dropped(self) -> Counter[str]:
        """A copy of ``drops``, safe to read from any thread."""
        with self._cond:
            return Counter(self.drops)

    def forget_resent(self, generation: int, earlier: Container[int] | None = None) -> int:
        """Drop the QoS 1 messages of connections before ``generation`` (or of the
        connections ``earlier``, one subscriber's among several); return how many.

        Call on a resumed session only: the broker then sends each of them again (MQTT 5
        resends every unacknowledged message), and an acknowledgement can only go out on the
        connection that delivered the copy, so the old copy is a duplicate.
        """
        with self._cond:
            kept = deque(
                m
                for m in self._items
                if not (
                    m.qos
                    and (m.generation < generation if earlier is None else m.generation in earlier)
                )
            )
            dropped = len(self._items) - len(kept)
            self._items = kept
            return dropped

    def __len__(self) -> int:
        return len(self._items)

    @property
    def qos0_waiting(self) -> int:
        """QoS 0 messages waiting (no broker sends those again)."""
        return self._qos0

    def take(self, max_items: int, max_wait: float, stop: threading.Event) -> list[Inbound]:
        """Up to ``max_items`` messages, oldest first.

        Returns when ``max_items`` are waiting, when the oldest has waited ``max_wait``
        seconds, or when ``stop`` is set (then with whatever is there, maybe nothing).
        """
        with self._cond:
            self._wake_at = max_items
            while not stop.is_set():
                if len(self._items) >= max_items:
                    break
                if self._items:
                    left = self._items[0].arrived + max_wait - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                else:
                    self._cond.wait(0.25)  # an empty inbox: look at `stop` now and then
            n = min(len(self._items), max_items)
            batch = [self._items.popleft() for _ in range(n)]
            self._qos0 -= sum(1 for m in batch if not m.qos)
            return batch


class Subscriber:
    """One paho client on a persistent MQTT 5 session; see the module docstring."""

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        inbox: Inbox,
        verbose: bool = False,
        share_group: str | None = None,
        adopted: bool = False,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.inbox = inbox
        self.generation = 0  # this connection's number (_GENERATIONS)
        self._earlier: set[int] = set()  # the numbers of our earlier connections
        self._connections = 0
        # adopted: another recorder's session, held while it is down (cover.py). When that
        # recorder connects again, the broker hands it the session and drops our connection
        # (mosquitto 2.0 just closes it, without a reason); cover.py then decides.
        self.adopted = adopted
        self.lost = threading.Event()
        # Held while acknowledging and while a new connection bumps the generation, so that
        # no acknowledgement of one connection's messages goes out on the next one.
        self._ack_lock = threading.Lock()
        self._subscription = (
            build_shared_subscription(settings.topic, share_group)
            if share_group
            else build_subscription(settings.topic)
        )
        # The stream's unshared subscription, which a session of this client id may hold
        # from runs before it joined the group; see _resubscribe.
        self._unshared = build_subscription(settings.topic) if share_group else None
        self._handshake = Handshake()
        self._connected = self._handshake.connected
        # Set once the broker holds our subscription (a SUBACK, or a resumed session): only
        # then does a publisher started after us reach us from its first message.
        self.subscribed = threading.Event()
        self._closing = False
        client = build_client(
            settings,
            client_id,
            protocol="5",
            manual_ack=True,
            logger=logging.getLogger("paho") if verbose else None,
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
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
        with self._ack_lock:
            if self.generation:
                self._earlier.add(self.generation)
            self.generation = next(_GENERATIONS)
        self._connections += 1
        if flags.session_present:
            self.subscribed.set()  # a resumed session holds its subscription already
            resent = self.inbox.forget_resent(self.generation, self._earlier)
            if resent:
                log.debug("%d unacknowledged messages will come again on this session", resent)
            self._resubscribe(client)
        else:
            # A new session (first start, or the broker lost it): subscribe. A resumed
            # session keeps its subscription, and the broker resends what we did not ack.
            self.subscribed.clear()
            result, _mid = client.subscribe(self._subscription, qos=QOS)
            if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
                log.error(
                    "cannot subscribe to %s: %s", self._subscription, mqtt.error_string(result)
                )
        if self._connections > 1:
            log.warning(
                "reconnected to %s (session %s)",
                self.settings.address,
                "resumed" if flags.session_present else "new",
            )
        self._handshake.accepted()

    def _resubscribe(self, client: mqtt.Client) -> None:
        """On a resumed session: make its subscription the one asked for now.

        The session keeps the subscriptions of the last run, which may have had another
        (or no) --share-group. Subscribing again is harmless (retain handling 1: no retained
        copies for a subscription the session holds), and leaving the group-less one would
        keep this recorder on the whole stream.
        """
        options = SubscribeOptions(qos=QOS, retainHandling=1)
        result, _mid = client.subscribe(self._subscription, options=options)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.error("cannot subscribe to %s: %s", self._subscription, mqtt.error_string(result))
        if self._unshared is not None:
            client.unsubscribe(self._unshared)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        failures = [code for code in reason_codes if code.is_failure]
        for code in failures:
            log.error("the broker refused the subscription to %s: %s", self._subscription, code)
        if not failures:
            self.subscribed.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        was_connected = self._handshake.lost()
        if self.adopted and not self._closing:
            # Maybe its recorder is back: reconnecting would take the session from it again,
            # so paho's loop stops here (loop_stop from its own thread only flags it), and
            # cover.py reconnects only if that recorder is still down.
            self.lost.set()
            client.loop_stop()
            return
        if was_connected and not self._closing:
            log.warning(
                "lost the connection to %s (%s); reconnecting", self.settings.address, reason_code
            )

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if len(msg.payload) > MAX_PAYLOAD_BYTES:
            self.inbox.count_drop(OVERSIZE)
            if msg.qos:
                # Acknowledged although never stored: the validation would reject it anyway,
                # and unacknowledged it would hold one of the RECEIVE_MAXIMUM slots until we
                # stop and come back on every reconnect, so a few thousand of them would
                # stall the stream for good. This runs on the connection that delivered it.
                client.ack(msg.mid, msg.qos)
            return
        self.inbox.put(
            Inbound(self.generation, msg.mid, msg.qos, msg.topic, msg.payload, time.monotonic())
        )

    # --- control ----------------------------------------------------------------------------

    def connect(self, retries: int, stop: threading.Event) -> bool:
        """Connect and start paho's thread, retrying with backoff (0.5 s doubling to 8 s).

        True once connected (paho then reconnects by itself); False if ``stop`` was set first.
        BrokerError naming host:port when every attempt fails, the broker refuses us (e.g. it
        speaks only MQTT 3.1.1, or the login is wrong), or its certificate is not trusted.
        """
        address = self.settings.address
        outcome, last = connect_with_retries(
            self._attempt_connect, address=address, retries=retries, stop=stop
        )
        if outcome == "connected":
            # "subscribed to" only once the broker says so: make live starts the publisher
            # on this line (nemlive/devtools/liverecord.py).
            if self.subscribed.wait(CONNACK_TIMEOUT_S):
                log.info(
                    "connected to %s as %s, subscribed to %s",
                    address,
                    self.client_id,
                    self._subscription,
                )
            else:
                log.warning(
                    "connected to %s as %s; the broker has not confirmed the subscription to %s",
                    address,
                    self.client_id,
                    self._subscription,
                )
            return True
        if outcome == "stopped":
            return False
        raise BrokerError(
            f"cannot reach the MQTT broker at {address} ({last}): start one "
            "(e.g. mosquitto -c mosquitto.conf) or check --host/--port"
        )

    def _attempt_connect(self) -> str | None:
        """One MQTT 5 connection attempt with a persistent session: None when connected."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        answer = attempt_connect(
            self.client, self.settings, self._handshake, clean_start=False, properties=props
        )
        if answer.kind == "connected":
            return None
        if answer.refusal is not None:
            raise BrokerError(
                describe_refusal(self.settings.address, answer.refusal, _REFUSAL_HINTS)
            )
        if answer.kind == "closed":
            return "it closed the connection without answering; it may not speak MQTT 5"
        if answer.kind == "silent":
            return (
                f"no answer to an MQTT 5 CONNECT within {CONNACK_TIMEOUT_S:g}s; "
                "it may speak only MQTT 3.1.1"
            )
        return answer.reason

    def ack(self, messages: Sequence[Inbound]) -> int:
        """Acknowledge ``messages`` (committed) in arrival order; return how many were sent.

        Messages of an earlier connection are skipped: a packet id is only meaningful on the
        connection that delivered it, and the broker sends those messages again anyway.
        """
        sent = 0
        ack = self.client.ack
        with self._ack_lock:
            generation = self.generation
            if not self._connected.is_set():
                return 0
            for msg in messages:
                if msg.qos and msg.generation == generation:
                    ack(msg.mid, msg.qos)
                    sent += 1
        return sent

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    def close(self) -> None:
        """Disconnect (the session stays on the broker) and stop paho's thread."""
        self._closing = True
        self.client.disconnect()
        self.client.loop_stop()
