"""A local MQTT broker when none is running: probe ports, run amqtt in its own thread.

The publisher starts the embedded broker when the host is local and nothing listens on the
port, so that ``python publisher.py`` works on a machine without mosquitto. ``make run`` can
use it the same way. It binds to 127.0.0.1 only: it allows anonymous clients, so it must
never be reachable from the network.

amqtt 0.12 behaviours worth knowing (read from its broker.py):

* Nothing is persisted; ``shutdown()`` clears every retained message.
* Its AnonymousAuthPlugin marks every session anonymous, and amqtt never queues messages for
  an anonymous session while it is disconnected: a persistent (clean_session=False)
  subscriber gets no backlog after a reconnect. Use mosquitto when that matters.
* Retained messages reach a new subscription with QoS min(subscription, publish) and the
  retain flag set; live messages go out at the publisher's QoS whatever the subscription's.
* On every connect, it replays the retained messages matching *any* client's subscriptions
  at QoS 0, so a client may receive retained messages it never subscribed to.
* ``shutdown()`` can hang on a stuck client task; :meth:`EmbeddedBroker.stop` gives up after
  a timeout and leaves the daemon thread behind.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Coroutine
from typing import Any

from nemlive.common.errors import BrokerError
from nemlive.common.mqttconfig import MqttSettings

log = logging.getLogger(__name__)

EMBEDDED_HOST = "127.0.0.1"


def check_embedded_can_serve(settings: MqttSettings) -> None:
    """Raise BrokerError when the embedded broker must not stand in for ``settings``' broker.

    It has no logins and no TLS: starting it for a configured login or TLS would drop the
    security that was asked for without a word (the password would even go to it in clear).
    """
    asked = [name for name, on in (("a login", settings.username), ("TLS", settings.tls)) if on]
    if asked:
        raise BrokerError(
            f"nothing listens on {settings.address}, and the embedded broker cannot stand in: "
            f"{' and '.join(asked)} is configured and it has neither. Start your broker there, "
            "or unset MQTT_USERNAME, MQTT_PASSWORD and MQTT_TLS for a local demo"
        )


def is_listening(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if a TCP connection to ``host:port`` succeeds within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def is_port_free(host: str, port: int) -> bool:
    """True if ``port`` can be bound on ``host`` now (nothing else holds it)."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def build_amqtt_config(port: int) -> dict[str, Any]:
    """amqtt's config dict: one TCP listener on 127.0.0.1:port, anonymous, no $SYS, no packet log."""
    return {
        "listeners": {
            "default": {"type": "tcp", "bind": f"{EMBEDDED_HOST}:{port}", "max_connections": 100}
        },
        # Only the auth plugin: the default set also logs every packet and publishes $SYS.
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


class EmbeddedBroker:
    """amqtt on 127.0.0.1:port, running an asyncio loop in a daemon thread.

    ``start()`` returns once the listener is bound (or raises BrokerError); ``stop()``
    returns within ``timeout`` seconds even if amqtt's shutdown hangs.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None

    @property
    def address(self) -> str:
        return f"{EMBEDDED_HOST}:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        """Bind and serve; raise BrokerError if amqtt cannot start within ``timeout`` seconds."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        async def _start() -> None:
            from amqtt.broker import Broker  # imported here: only needed when embedding

            # Broker() binds to the running loop, so it must be built inside it.
            self._broker = Broker(build_amqtt_config(self.port))
            await self._broker.start()

        def _run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(_start())
            except BaseException as exc:  # reported to start() through `failure`
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=_run, name=f"amqtt-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise BrokerError(f"embedded broker did not start on {self.address} in {timeout:g}s")
        if failure:
            self._thread.join(timeout)
            loop.close()
            self._loop = self._thread = self._broker = None
            raise BrokerError(
                f"embedded broker could not start on {self.address}: {failure[0]}"
            ) from failure[0]
        log.info("started an embedded amqtt broker on %s (local use only)", self.address)
        return self

    def _call(self, coro: Coroutine[Any, Any, None], timeout: float) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self, timeout: float = 5.0) -> bool:
        """Shut amqtt down; True if it finished within ``timeout`` seconds.

        On a timeout the loop is stopped anyway and the daemon thread is abandoned: it
        cannot keep the process alive.
        """
        if self._loop is None or self._thread is None:
            return True
        clean = True
        if self._broker is not None:
            try:
                self._call(self._broker.shutdown(), timeout)
            except TimeoutError:
                log.warning("embedded broker on %s did not shut down in %gs", self.address, timeout)
                clean = False
            except Exception as exc:  # amqtt's own errors on shutdown: log and move on
                log.warning("embedded broker on %s: shutdown failed: %s", self.address, exc)
                clean = False
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()
        self._loop = None
        self._thread = None
        self._broker = None
        log.info("stopped the embedded broker on %s", self.address)
        return clean

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
