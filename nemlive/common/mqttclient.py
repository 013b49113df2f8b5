"""The one place a paho client is made and connected, for every program.

* :func:`build_client`: a VERSION2-callback client for the settings: protocol (3.1.1 or 5),
  session, manual acknowledgement, last will, reconnect delays, login and TLS, paho's log.
* :class:`Handshake` and :func:`attempt_connect`: one CONNECT and its CONNACK, waited for
  with a timeout; what came back (connected, refused, closed, silence, unreachable).
* :func:`connect_with_retries`: attempts under the shared retry policy (``common.retry``),
  stopped by an Event.
* :func:`describe_certificate_failure`, :func:`describe_refusal`: one-line errors that say
  what to do; :func:`describe_rc`: paho's return codes, checked.

The publisher's connection, the recorder's subscriber and the dashboard's ingest keep their
own callbacks, acknowledgements and queues; they build and connect their client here.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from nemlive.common.errors import BrokerError, ConfigError
from nemlive.common.mqttconfig import MqttSettings, apply_auth_and_tls
from nemlive.common.retry import Backoff, Failure, RetryStopped, call_with_retries, wait_on

log = logging.getLogger(__name__)

CONNACK_TIMEOUT_S = 10.0
KEEPALIVE_S = 30
# Between our own connection attempts: 0.5 s, 1 s, 2 s ... at most 8 s.
CONNECT_BACKOFF = Backoff(minimum=0.5, maximum=8.0)
Protocol = Literal["3.1.1", "5"]
_PROTOCOLS = {"3.1.1": mqtt.MQTTv311, "5": mqtt.MQTTv5}


@dataclass(frozen=True)
class Will:
    """The message the broker publishes for us when we vanish without a DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def build_client(
    settings: MqttSettings,
    client_id: str,
    *,
    protocol: Protocol = "3.1.1",
    clean_session: bool = True,
    manual_ack: bool = False,
    will: Will | None = None,
    reconnect_delays: tuple[int, int] = (1, 8),
    logger: logging.Logger | None = None,
    on_config_error: Callable[[ConfigError], None] | None = None,
) -> mqtt.Client:
    """A paho client with VERSION2 callbacks, not yet connected.

    ``clean_session`` applies to MQTT 3.1.1 only (MQTT 5 says ``clean_start`` at connect).
    ``reconnect_delays``: paho's own reconnection backoff, (min, max) seconds. ``logger``: where
    paho logs (None: nowhere). Login and TLS come from ``settings``; a CA file that will not
    load raises ConfigError, or, with ``on_config_error``, is handed to it and the client is
    returned without TLS: the caller must then never connect it (the password would go out in
    clear).
    """
    options: dict[str, Any] = {"client_id": client_id, "protocol": _PROTOCOLS[protocol]}
    if protocol == "3.1.1":
        options["clean_session"] = clean_session
    if manual_ack:
        options["manual_ack"] = True
    client = mqtt.Client(CallbackAPIVersion.VERSION2, **options)
    client.reconnect_delay_set(*reconnect_delays)
    if will is not None:
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    if logger is not None:
        client.enable_logger(logger)
    try:
        apply_auth_and_tls(client, settings)
    except ConfigError as exc:
        if on_config_error is None:
            raise
        on_config_error(exc)
    return client


def describe_rc(rc: MQTTErrorCode | int) -> str | None:
    """None for paho's success code, else its one-line text."""
    return None if rc == MQTTErrorCode.MQTT_ERR_SUCCESS else mqtt.error_string(rc)


def connect_in_background(client: mqtt.Client, settings: MqttSettings) -> str | None:
    """``connect_async`` and paho's loop thread, which connects and reconnects by itself.

    None when started, else the one line that says why not.
    """
    try:
        client.connect_async(settings.host, settings.port, keepalive=KEEPALIVE_S)
    except (OSError, ValueError) as exc:
        return f"cannot connect to {settings.address}: {exc}"
    failure = describe_rc(client.loop_start())
    return None if failure is None else f"cannot start the MQTT loop: {failure}"


# --- one attempt ------------------------------------------------------------------------------


class Handshake:
    """What paho's callbacks saw of the current connection attempt, for the thread waiting.

    The owner's on_connect calls :meth:`refused` or :meth:`accepted`, its on_disconnect
    :meth:`lost`.
    """

    def __init__(self) -> None:
        self.connected = threading.Event()
        self.answered = threading.Event()  # a CONNACK came, or the socket was lost
        self.refusal: ReasonCode | None = None  # a failing CONNACK of the current attempt

    def begin(self) -> None:
        self.answered.clear()
        self.refusal = None

    def refused(self, reason_code: ReasonCode) -> None:
        self.refusal = reason_code
        self.answered.set()

    def accepted(self) -> None:
        self.connected.set()
        self.answered.set()

    def lost(self) -> bool:
        """Record a lost socket; True when it was connected."""
        was = self.connected.is_set()
        self.connected.clear()
        self.answered.set()
        return was


@dataclass(frozen=True)
class Answer:
    """How one attempt ended: ``connected``; ``refused`` (a failing CONNACK, ``refusal``);
    ``closed`` (the socket closed without a CONNACK); ``silent`` (no CONNACK within
    CONNACK_TIMEOUT_S); ``unreachable`` (the socket failed, ``reason``)."""

    kind: Literal["connected", "refused", "closed", "silent", "unreachable"]
    reason: str = ""
    refusal: ReasonCode | None = None


def attempt_connect(
    client: mqtt.Client, settings: MqttSettings, handshake: Handshake, **connect_args: Any
) -> Answer:
    """CONNECT, start paho's thread and wait for the CONNACK; the thread runs on only when
    connected (a refused client is disconnected).

    ``connect_args`` go to ``client.connect`` (MQTT 5: ``clean_start``, ``properties``).
    Raises BrokerError for what no retry changes: an untrusted certificate, a network thread
    that will not start.
    """
    try:
        handshake.begin()
        rc = client.connect(settings.host, settings.port, keepalive=KEEPALIVE_S, **connect_args)
        if (failure := describe_rc(rc)) is not None:
            raise OSError(failure)
        if (failure := describe_rc(client.loop_start())) is not None:
            raise BrokerError(f"cannot start the MQTT network thread: {failure}")
        handshake.answered.wait(CONNACK_TIMEOUT_S)
    except ssl.SSLCertVerificationError as exc:
        raise BrokerError(
            describe_certificate_failure(settings.address, exc, settings.ca_file)
        ) from exc
    except OSError as exc:
        return Answer("unreachable", str(exc) or type(exc).__name__)
    if handshake.connected.is_set():
        return Answer("connected")
    client.loop_stop()
    if handshake.refusal is not None:
        client.disconnect()
        return Answer("refused", refusal=handshake.refusal)
    return Answer("closed" if handshake.answered.is_set() else "silent")


# --- retries ----------------------------------------------------------------------------------


class _Unreachable(Exception):
    """An attempt that failed for a reason a retry may mend."""


def connect_with_retries(
    attempt: Callable[[], str | None], *, address: str, retries: int, stop: threading.Event
) -> tuple[Literal["connected", "stopped", "failed"], str]:
    """Call ``attempt`` (None = connected, else why not) up to ``retries`` times, waiting
    CONNECT_BACKOFF between tries and logging each failure.

    Returns ("connected", ""), ("stopped", "") when ``stop`` was set first, or ("failed", the
    last reason). ``attempt`` raises for what no retry can change (a refusal, a certificate).
    """
    if retries < 1:
        return "failed", "no attempt"
    if stop.is_set():
        return "stopped", ""

    def once() -> None:
        why = attempt()
        if why is not None:
            raise _Unreachable(why)

    def on_retry(failure: Failure) -> None:
        log.warning(
            "cannot reach %s (%s); attempt %d/%d, retrying in %gs",
            address,
            failure.error,
            failure.number,
            retries,
            failure.delay,
        )

    try:
        call_with_retries(
            once,
            CONNECT_BACKOFF,
            retry_on=_Unreachable,
            wait=wait_on(stop),
            tries=retries,
            on_retry=on_retry,
        )
    except _Unreachable as exc:
        return "failed", str(exc)
    except RetryStopped:
        log.info("stopped before connecting to %s", address)
        return "stopped", ""
    return "connected", ""


# --- one-line errors --------------------------------------------------------------------------

# OpenSSL's X509_V_ERR_* codes that need a hint other than "trust the right CA".
_X509_EXPIRED = frozenset({9, 10})  # not yet valid, expired
_X509_NAME_MISMATCH = frozenset({62, 64})  # hostname, IP address
# CONNACK codes of a bad login: 3.1.1's 4 and 5, MQTT 5's 134 and 135.
_LOGIN_HINTS = dict.fromkeys((4, 5, 134, 135), "check MQTT_USERNAME/MQTT_PASSWORD")


def describe_certificate_failure(
    address: str, exc: ssl.SSLCertVerificationError, ca_file: Path | None
) -> str:
    """One line for a TLS certificate the client rejected: what failed and what to set."""
    reason = exc.verify_message or exc.reason or str(exc)
    head = f"the TLS certificate of the MQTT broker at {address} was rejected ({reason})"
    if exc.verify_code in _X509_NAME_MISMATCH:
        return f"{head}: connect with a host name the certificate lists (--host/MQTT_HOST)"
    if exc.verify_code in _X509_EXPIRED:
        return f"{head}: renew the broker's certificate or check this machine's clock"
    if ca_file is None:
        return (
            f"{head}: the system CAs do not trust it; if the broker uses its own CA, "
            "set MQTT_CA_FILE (or --ca-file) to that CA's certificate"
        )
    return f"{head}: set MQTT_CA_FILE (or --ca-file) to the CA that signed it, not {ca_file}"


def describe_refusal(
    address: str, refusal: ReasonCode, hints: Mapping[int, str] | None = None
) -> str:
    """One line for a refused connection; ``hints``: the caller's advice per CONNACK code,
    beside the login's."""
    hint = {**_LOGIN_HINTS, **(hints or {})}.get(refusal.value, "check the broker")
    return f"MQTT broker at {address} refused the connection ({refusal}): {hint}"
